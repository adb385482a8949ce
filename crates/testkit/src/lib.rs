//! Test support for mailcert, one of each: the `mailcert` binary run in
//! a fresh directory with one environment recipe ([`Cli`], [`Serve`]);
//! throwaway PKIs made with the OpenSSL command line ([`OpensslPki`],
//! [`Pki`]; [`openssl`] at the real time or another); launchers for the
//! real peers the tests talk to — Dovecot (IMAP, POP3), Postfix (SMTP),
//! pebble (ACME), a small HTTP backend, a throwaway PostgreSQL cluster and
//! a browser — each in its own temporary directory, on ports of its own,
//! stopped when dropped; `mailcert serve` nodes of a fleet ([`fleet`]);
//! the clients that judge what is served (OpenSSL's s_client, curl, a
//! rustls client that never resumes: [`tls`]); the scanners auditors run
//! (testssl, sslscan); a socket-activation launcher in systemd's manner
//! ([`activation`]); the DNS peers ([`dns`]): Knot DNS as a
//! DNSSEC-signing authoritative server taking TSIG-signed updates,
//! Unbound as the validating resolver; a terminal for the commands that
//! ask ([`on_terminal`]); Prometheus and promtool ([`prometheus`]);
//! free ports and waiting.
//!
//! The peers are Debian's packages, installed by `scripts/install-peers.sh`.
//! Nothing here times anything: [`wait_until`] polls with a generous
//! deadline and fails with a message that says what never happened.

pub mod activation;
mod browser;
mod cli;
mod client;
mod curl;
pub mod dns;
pub mod fleet;
mod http;
mod mail;
mod openssl;
mod pebble;
pub mod pki;
mod postgres;
pub mod prometheus;
mod pyfetch;
mod scanner;
mod server;
mod terminal;
pub mod tls;

use std::net::TcpListener;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

pub use browser::{Browser, BrowserOptions, Element, CHROMEDRIVER, CHROMIUM, ENTER, TAB};
pub use cli::{listener_toml, services_of, without_the_clock, Cli, Run, Serve, Snapshot};
pub use client::{openssl_view, pem_blocks, served_chain, served_thumbprint, OpensslView};
pub use curl::{Curl, HttpReply};
pub use dns::{DnsOptions, DnsPeers, Resolved, ZoneOptions};
pub use http::HttpBackend;
pub use mail::{Dovecot, DovecotOptions, Postfix, PostfixSender, PASSWORD, USER};
pub use openssl::{openssl, openssl_all, openssl_at, openssl_date, SignRequest};
pub use pebble::{Pebble, PebbleOptions};
pub use pki::{Cert, Key, Leaf, OpensslPki, Pki, Spec};
pub use postgres::{PgDatabase, PgOptions, Postgres, PG_PASSWORD, PG_USER};
pub use pyfetch::{python_https_get, PythonReply};
pub use scanner::{sslscan, testssl_preferences, ScannedCipher, SslScan, TestsslFinding};
pub use server::OpensslServer;
pub use tempfile::TempDir;
pub use terminal::{on_terminal, TerminalRun};

/// Asserts `expected == got`, and shows them one above the other (and
/// what the test was looking at) when they differ, as ripgrep's
/// `eqnice!` does.
#[macro_export]
macro_rules! eqnice {
    ($expected:expr, $got:expr, $context:expr) => {{
        let expected = $expected;
        let got = $got;
        if expected != got {
            panic!(
                "\n\n==== expected ====\n{:#?}\n==== got ====\n{:#?}\n==== context ====\n{}\n",
                expected, got, $context
            );
        }
    }};
}

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

/// Waits until something accepts TCP connections on 127.0.0.1:`port`,
/// or fails early when one of `children` has exited (a port taken after
/// all, a bad configuration); the failure names `what` and quotes `log`.
pub fn wait_for_port_of(
    port: u16,
    what: &str,
    log: &Path,
    children: &mut [std::process::Child],
) -> Result<(), String> {
    let start = Instant::now();
    let deadline = Duration::from_secs(20);
    while start.elapsed() < deadline {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return Ok(());
        }
        if let Some(status) = children
            .iter_mut()
            .find_map(|c| c.try_wait().ok().flatten())
        {
            return Err(format!(
                "{what}: a peer exited ({status}) before 127.0.0.1:{port} listened; its log:\n{}",
                std::fs::read_to_string(log).unwrap_or_default()
            ));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Err(format!(
        "{what} did not listen on 127.0.0.1:{port} within {deadline:?}; its log:\n{}",
        std::fs::read_to_string(log).unwrap_or_default()
    ))
}

/// What a server says first on 127.0.0.1:`port` within `wait` (empty
/// when nothing listens or nothing comes): the greeting of a mail
/// listener. Says goodbye in IMAP, POP3 and SMTP alike.
pub fn greeting(port: u16, wait: Duration) -> String {
    use std::io::{Read, Write};
    let Ok(mut stream) = std::net::TcpStream::connect(("127.0.0.1", port)) else {
        return String::new();
    };
    let _ = stream.set_read_timeout(Some(wait));
    let mut buf = [0u8; 512];
    let n = stream.read(&mut buf).unwrap_or(0);
    let _ = stream.write_all(b"a LOGOUT\r\nQUIT\r\n");
    String::from_utf8_lossy(&buf[..n]).into_owned()
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

/// The test every crate's test binary holds:
/// [`assert_every_test_file_is_a_module`] on its `tests/main.rs`. Written
/// once in `tests/main.rs` as `mailcert_testkit::every_test_file_is_a_module!();`.
#[macro_export]
macro_rules! every_test_file_is_a_module {
    () => {
        #[test]
        fn every_test_file_is_a_module_of_this_binary() {
            $crate::assert_every_test_file_is_a_module(
                env!("CARGO_MANIFEST_DIR"),
                include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/main.rs")),
            );
        }
    };
}

/// Asserts that every `.rs` file and folder right under the crate's
/// `tests/` is a module of its one test binary (`tests/main.rs`, given
/// as `main_source`): with `autotests = false`, Cargo would silently
/// never build a test file that nobody declared.
#[track_caller]
pub fn assert_every_test_file_is_a_module(manifest_dir: &str, main_source: &str) {
    let tests = Path::new(manifest_dir).join("tests");
    let declared: Vec<&str> = main_source
        .lines()
        .filter_map(|l| l.trim().strip_prefix("mod "))
        .filter_map(|l| l.strip_suffix(';'))
        .collect();
    let mut missing = Vec::new();
    for entry in std::fs::read_dir(&tests).expect("the tests folder") {
        let path = entry.expect("a tests entry").path();
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        let module = if path.is_dir() {
            // Folders of data (no Rust file in them) are not modules.
            let has_rust = std::fs::read_dir(&path)
                .map(|entries| {
                    entries
                        .flatten()
                        .any(|e| e.path().extension().is_some_and(|x| x == "rs"))
                })
                .unwrap_or(false);
            if !has_rust {
                continue;
            }
            name
        } else if let Some(stem) = name.strip_suffix(".rs") {
            stem
        } else {
            continue;
        };
        if module != "main" && !declared.contains(&module) {
            missing.push(module.to_string());
        }
    }
    missing.sort();
    assert!(
        missing.is_empty(),
        "tests/{{{}}} would never run: declare each with `mod NAME;` in tests/main.rs",
        missing.join(",")
    );
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
    kill_child(child);
}

/// SIGKILL, and reaps the process: for a child that must not linger
/// (a failed test, a server that did not start, a crash on purpose).
pub fn kill_child(child: &mut std::process::Child) {
    let _ = child.kill();
    let _ = child.wait();
}
