//! The `gateway` binary: flags, the printed address, SIGHUP reload, graceful
//! shutdown on SIGTERM, and config errors.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use http::StatusCode;
use support::{HttpClient, TempDir, mock_api};

struct Running {
    child: Child,
    addr: String,
    admin: String,
}

fn spawn(config: &std::path::Path) -> Running {
    let mut child = Command::new(env!("CARGO_BIN_EXE_gateway"))
        .args(["serve", "--config"])
        .arg(config)
        .args(["--listen", "127.0.0.1:0", "--admin-listen", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let first = lines.next().unwrap().unwrap();
    let addr = first
        .strip_prefix("gateway listening on http://")
        .unwrap_or_else(|| panic!("{first}"))
        .to_owned();
    let second = lines.next().unwrap().unwrap();
    let admin = second
        .strip_prefix("admin listening on http://")
        .unwrap_or_else(|| panic!("{second}"))
        .to_owned();
    Running { child, addr, admin }
}

fn signal(child: &Child, name: &str) {
    let status = Command::new("kill")
        .arg(format!("-{name}"))
        .arg(child.id().to_string())
        .status()
        .unwrap();
    assert!(status.success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serves_reloads_on_sighup_and_exits_cleanly_on_sigterm() {
    let dir = TempDir::new();
    dir.write("api.yaml", &mock_api("Cli", r#"{"version": "v1"}"#, ""));
    let config = dir.write(
        "gateway.yaml",
        "apis:\n  - name: cli\n    openapi: api.yaml\n    stages:\n      - name: prod\n",
    );
    let mut running = spawn(&config);
    let client = HttpClient::new();
    let url = format!("http://{}/prod/version", running.addr);
    let reply = client.get(&url).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.json()["version"], "v1");
    let health = client
        .get(&format!("http://{}/health", running.admin))
        .await;
    assert_eq!(health.status, StatusCode::OK);

    dir.write("api.yaml", &mock_api("Cli", r#"{"version": "v2"}"#, ""));
    signal(&running.child, "HUP");
    let mut version = String::new();
    for _ in 0..20_000 {
        version = client.get(&url).await.json()["version"]
            .as_str()
            .unwrap()
            .to_owned();
        if version == "v2" {
            break;
        }
        tokio::task::yield_now().await;
    }
    assert_eq!(version, "v2");

    signal(&running.child, "TERM");
    let status = tokio::task::spawn_blocking(move || running.child.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(status.success(), "{status:?}");
}

#[test]
fn check_reports_config_errors_with_file_line_and_field() {
    let dir = TempDir::new();
    let config = dir.write("bad.yaml", "apis:\n  - name: x\n    openapi: api.yaml\n    stages:\n      - name: prod\n        canary: {percent: many}\n");
    let output = Command::new(env!("CARGO_BIN_EXE_gateway"))
        .args(["check", "--config"])
        .arg(&config)
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("bad.yaml:6:"), "{stderr}");
    assert!(
        stderr.contains("apis[0].stages[0].canary.percent"),
        "{stderr}"
    );

    dir.write("api.yaml", &mock_api("Ok", r#"{"v": 1}"#, ""));
    let good = dir.write(
        "good.yaml",
        "apis:\n  - name: x\n    openapi: api.yaml\n    stages:\n      - name: prod\n",
    );
    let output = Command::new(env!("CARGO_BIN_EXE_gateway"))
        .args(["check", "--config"])
        .arg(&good)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(String::from_utf8_lossy(&output.stdout).ends_with(": ok\n"));
}
