//! Test support for mailcert: free loopback ports, a throwaway PKI made
//! with the OpenSSL command line, and launchers for the real peers the
//! tests talk to — Dovecot (IMAP, POP3), Postfix (SMTP) and a small HTTP
//! backend — each in its own temporary directory, on ports of its own,
//! stopped when dropped.
//!
//! The peers are Debian's packages, installed by `scripts/install-peers.sh`.
//! Nothing here times anything: [`wait_until`] polls with a generous
//! deadline and fails with a message that says what never happened.

mod http;
mod mail;
mod pki;

use std::net::TcpListener;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

pub use http::HttpBackend;
pub use mail::{Dovecot, DovecotOptions, Postfix, PASSWORD, USER};
pub use pki::{Leaf, Pki};
pub use tempfile::TempDir;

/// A TCP port on 127.0.0.1 that was free a moment ago.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("no free port on 127.0.0.1")
}

/// Polls `check` until it is true; panics after `deadline` naming `what`.
pub fn wait_until(what: &str, deadline: Duration, mut check: impl FnMut() -> bool) {
    let start = Instant::now();
    while !check() {
        if start.elapsed() > deadline {
            panic!("gave up waiting after {deadline:?}: {what}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Waits until something accepts TCP connections on 127.0.0.1:`port`.
pub fn wait_for_port(port: u16) {
    wait_until(
        &format!("something listening on 127.0.0.1:{port}"),
        Duration::from_secs(20),
        || std::net::TcpStream::connect(("127.0.0.1", port)).is_ok(),
    );
}

/// A temporary directory that other users (the peers' unprivileged
/// processes) may traverse.
pub fn temp_dir() -> TempDir {
    let dir = tempfile::Builder::new()
        .prefix("mailcert-test-")
        .tempdir()
        .expect("creating a temporary directory");
    set_mode(dir.path(), 0o755);
    dir
}

pub(crate) fn set_mode(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    let _ = std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode));
}

/// Runs a program, feeding `stdin`, and returns its output.
pub fn run(program: &str, args: &[&str], stdin: &[u8]) -> Output {
    use std::io::Write;
    let mut child = Command::new(program)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {program}: {e} (run scripts/install-peers.sh)"));
    if let Some(mut input) = child.stdin.take() {
        let _ = input.write_all(stdin);
    }
    child
        .wait_with_output()
        .expect("waiting for a child process")
}

/// Runs Debian's Python (`/usr/bin/python3`) on a script with arguments;
/// panics with both outputs when it fails.
pub fn python(script: &str, args: &[&str]) -> String {
    let mut all = vec!["-c", script];
    all.extend_from_slice(args);
    let out = run("/usr/bin/python3", &all, b"");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    if !out.status.success() {
        panic!(
            "python failed ({}):\n--- stdout\n{stdout}\n--- stderr\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
    }
    stdout
}

/// Sends SIGTERM to a process, then SIGKILL if it is still there after a
/// few seconds, and reaps it.
pub fn stop_child(child: &mut std::process::Child) {
    let pid = child.id().to_string();
    let _ = Command::new("kill").args(["-TERM", &pid]).status();
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(5) {
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
}
