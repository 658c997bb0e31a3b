//! A moto server (a local AWS emulator) for the tests, on a free port of 127.0.0.1,
//! killed when dropped. python3 and `moto[server]` are required (`scripts/test.sh`
//! installs moto); a test that cannot start it fails.
//!
//! Use it from a test file with `mod moto;`.

// Each test crate uses a subset of these helpers, and a helper that fails should fail
// the test that called it.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader, Read};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// moto's default account.
pub(crate) const ACCOUNT: &str = "123456789012";
/// The region the tests use.
pub(crate) const REGION: &str = "us-east-1";

/// How long moto may take to start: importing it takes seconds on a busy machine.
const STARTUP: Duration = Duration::from_secs(60);
/// How many of moto's last output lines are kept for failure messages.
const LOG_LINES: usize = 200;

/// A running moto server.
pub(crate) struct Moto {
    child: Child,
    addr: SocketAddr,
    log: Arc<Mutex<Vec<String>>>,
}

impl Moto {
    /// Starts `python3 -m moto.server` on port 0 of 127.0.0.1 and waits for the
    /// address it reports (werkzeug's ` * Running on http://127.0.0.1:PORT` line),
    /// which it prints once its socket is listening: no port is guessed and no
    /// connection polled for.
    pub(crate) fn start() -> Self {
        Self::start_with_env(&[])
    }

    /// [`Moto::start`] with extra environment variables for the server, such as
    /// `INITIAL_NO_AUTH_ACTION_COUNT=0`, which makes moto authenticate every request
    /// against its IAM users (so unknown access keys are refused).
    pub(crate) fn start_with_env(env: &[(&str, &str)]) -> Self {
        let mut child = Command::new("python3")
            .args(["-m", "moto.server", "-H", "127.0.0.1", "-p", "0"])
            .env("PYTHONUNBUFFERED", "1")
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("python3 is required to run moto");
        let log = Arc::new(Mutex::new(Vec::new()));
        let (found, port) = mpsc::channel();
        // Both pipes are drained for the server's whole life, or it would block on a
        // full pipe once its request log fills it.
        drain(
            child.stdout.take().unwrap(),
            Arc::clone(&log),
            found.clone(),
        );
        drain(child.stderr.take().unwrap(), Arc::clone(&log), found);

        let addr = match port.recv_timeout(STARTUP) {
            Ok(addr) => addr,
            Err(err) => {
                let _ = child.kill();
                let _ = child.wait();
                let why = match err {
                    mpsc::RecvTimeoutError::Timeout => format!("within {STARTUP:?}"),
                    mpsc::RecvTimeoutError::Disconnected => "before it exited".to_owned(),
                };
                panic!(
                    "moto did not report its address {why} (is moto[server] installed? \
                     scripts/test.sh installs it); its output:\n{}",
                    log.lock().unwrap().join("\n")
                );
            }
        };
        Self { child, addr, log }
    }

    /// `http://127.0.0.1:PORT`.
    pub(crate) fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The server's address.
    pub(crate) fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// moto's recent output, for failure messages.
    pub(crate) fn output(&self) -> String {
        self.log.lock().unwrap().join("\n")
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Reads `pipe` line by line into `log` on a thread, sending the address of the first
/// ` * Running on http://...` line.
fn drain(
    pipe: impl Read + Send + 'static,
    log: Arc<Mutex<Vec<String>>>,
    found: mpsc::Sender<SocketAddr>,
) {
    std::thread::spawn(move || {
        let mut found = Some(found);
        for line in BufReader::new(pipe).lines() {
            let Ok(line) = line else {
                return;
            };
            if let Some(addr) = line
                .split("Running on http://")
                .nth(1)
                .and_then(|rest| rest.split_whitespace().next())
                .and_then(|addr| addr.trim_end_matches('/').parse().ok())
                && let Some(sender) = found.take()
            {
                let _ = sender.send(addr);
            }
            let mut log = log.lock().unwrap();
            if log.len() == LOG_LINES {
                log.remove(0);
            }
            log.push(line);
        }
    });
}
