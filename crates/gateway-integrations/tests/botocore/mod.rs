//! The botocore reference signer: runs `tests/aws_botocore_sign.py` on a request
//! description and returns botocore's answer (`{"authorization": ...}`). python3
//! and botocore are required (`scripts/test.sh` installs botocore); a test that
//! cannot run it fails.
//!
//! Shared by the signer's unit tests (through `#[path]`) and the integration tests
//! (`mod botocore;`).

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::io::Write as _;
use std::process::{Command, Stdio};

/// Signs the request `spec` describes with botocore.
pub(crate) fn run_botocore(spec: &serde_json::Value) -> serde_json::Value {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/aws_botocore_sign.py");
    let mut child = Command::new("python3")
        .arg(script)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python3 is required to check signatures against botocore");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(spec.to_string().as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "botocore signing failed (is botocore installed? scripts/test.sh installs it): {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap()
}
