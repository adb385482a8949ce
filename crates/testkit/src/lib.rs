//! Test support for mailcert: free loopback ports, a throwaway PKI made
//! with the OpenSSL command line, and launchers for the real peers the
//! tests talk to — Dovecot (IMAP, POP3), Postfix (SMTP), a small HTTP
//! backend and a throwaway PostgreSQL cluster — each in its own temporary
//! directory, on ports of its own, stopped when dropped — and `mailcert
//! serve` nodes of a fleet ([`fleet`]); the scanners auditors run
//! (testssl, sslscan), a socket-activation launcher in systemd's
//! manner ([`activation`]), and the DNS peers ([`dns`]): Knot DNS as a
//! DNSSEC-signing authoritative server taking TSIG-signed updates, Unbound
//! as the validating resolver.
//!
//! The peers are Debian's packages, installed by `scripts/install-peers.sh`.
//! Nothing here times anything: [`wait_until`] polls with a generous
//! deadline and fails with a message that says what never happened.

pub mod activation;
mod browser;
mod client;
mod curl;
pub mod dns;
pub mod fleet;
mod http;
mod mail;
mod pki;
mod postgres;
mod scanner;
mod terminal;

use std::net::TcpListener;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

pub use browser::{Browser, BrowserOptions, Element, CHROMEDRIVER, CHROMIUM, ENTER, TAB};
pub use client::{openssl_view, pem_blocks, served_chain, OpensslView};
pub use curl::{Curl, HttpReply};
pub use dns::{DnsOptions, DnsPeers, Resolved, ZoneOptions};
pub use http::HttpBackend;
pub use mail::{Dovecot, DovecotOptions, Postfix, PASSWORD, USER};
pub use pki::{Leaf, Pki};
pub use postgres::{PgDatabase, PgOptions, Postgres, PG_PASSWORD, PG_USER};
pub use scanner::{sslscan, testssl_preferences, ScannedCipher, SslScan, TestsslFinding};
pub use tempfile::TempDir;
pub use terminal::{on_terminal, TerminalRun};

/// A TCP port on 127.0.0.1 that is free now and that no other test in
/// this process has been given.
///
/// `bind(0)` would hand out ports from the kernel's ephemeral range, where
/// any outgoing connection (curl, a client, a backend hop) may take the
/// port as its source between this call and the peer binding it — and two
/// tests running in parallel may be handed the same released port. So the
/// ports come from below the ephemeral range, are checked by binding, and
/// are remembered for the life of the process.
pub fn free_port() -> u16 {
    use std::collections::HashSet;
    use std::sync::Mutex;
    static GIVEN: Mutex<Option<HashSet<u16>>> = Mutex::new(None);

    let (low, high) = port_range_below_ephemeral();
    let mut given = GIVEN
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let given = given.get_or_insert_with(HashSet::new);
    let span = u64::from(high - low);
    let mut seed = random_seed();
    for _ in 0..span {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let port = low + ((seed >> 33) % span) as u16;
        if !given.contains(&port) && TcpListener::bind(("127.0.0.1", port)).is_ok() {
            given.insert(port);
            return port;
        }
    }
    panic!("no free port on 127.0.0.1 between {low} and {high}")
}

/// Ports from 20000 up to the start of the kernel's ephemeral range, or
/// above its end when the range starts lower than that.
fn port_range_below_ephemeral() -> (u16, u16) {
    let range: Vec<u16> = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .unwrap_or_default()
        .split_whitespace()
        .filter_map(|n| n.parse().ok())
        .collect();
    let (start, end) = match range[..] {
        [start, end] => (start, end),
        _ => (32768, 60999),
    };
    if start > 21000 {
        (20000, start)
    } else if end < 64000 {
        (end + 1, 65535)
    } else {
        (20000, 65000)
    }
}

/// Differs between runs and between processes, so that test binaries run
/// side by side do not walk the same sequence of ports.
fn random_seed() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u32(std::process::id());
    hasher.finish()
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
