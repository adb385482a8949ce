//! A fleet on one machine: `mailcert serve` processes as nodes of one
//! store, each with TLS listeners on ports of its own, and the outside
//! clients that look at what each node serves.
//!
//! The binary is passed in (`env!("CARGO_BIN_EXE_mailcert")` of the test
//! crate), so that any crate's tests can start nodes.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::{free_port, run, wait_until};

/// How to start one node.
#[derive(Debug, Clone)]
pub struct NodeSpec {
    /// `serve --node NAME`.
    pub name: String,
    /// `MAILCERT_STORE` (a `postgres://` URL or a SQLite file).
    pub store: String,
    /// `MAILCERT_STORE_KEY_FILE`.
    pub key_file: PathBuf,
    /// `serve --heartbeat SECONDS`.
    pub heartbeat_secs: u64,
    /// More configuration appended after the listeners (a `[[redirect]]`,
    /// a pin…).
    pub extra_config: String,
    /// `certificate = "…"` pin of the node's IMAP listener.
    pub pin: Option<String>,
}

impl NodeSpec {
    pub fn new(name: &str, store: &str, key_file: &Path) -> NodeSpec {
        NodeSpec {
            name: name.to_string(),
            store: store.to_string(),
            key_file: key_file.to_path_buf(),
            heartbeat_secs: 2,
            extra_config: String::new(),
            pin: None,
        }
    }
}

/// A running `mailcert serve` node with an implicit-TLS IMAP listener
/// (`imaps`) and an HTTPS listener (`https`); SIGTERM when dropped.
pub struct Node {
    pub name: String,
    pub imaps: u16,
    pub https: u16,
    /// Where the node's configuration and log are.
    pub dir: PathBuf,
    child: Option<Child>,
}

impl Node {
    /// Starts the node and returns once it says it serves; panics with
    /// its log when it ends before that.
    pub fn start(bin: &Path, dir: &Path, spec: &NodeSpec) -> Node {
        let dir = dir.join(&spec.name);
        std::fs::create_dir_all(&dir).expect("the node's folder");
        let (imaps, https) = (free_port(), free_port());
        let pin = spec
            .pin
            .as_deref()
            .map(|p| format!("certificate = \"{p}\"\n"))
            .unwrap_or_default();
        let config = format!(
            "[[listener]]\nname = \"imaps\"\nprotocol = \"imap\"\ntls = \"implicit\"\nbind = \"127.0.0.1:{imaps}\"\nbackend = \"127.0.0.1:1\"\nhostname = \"mail.contoso.com\"\n{pin}\n\
             [[listener]]\nname = \"https\"\nprotocol = \"https\"\ntls = \"implicit\"\nbind = \"127.0.0.1:{https}\"\nbackend = \"127.0.0.1:1\"\nhostname = \"mail.contoso.com\"\n\n{}",
            spec.extra_config
        );
        let config_path = dir.join("mailcert.toml");
        std::fs::write(&config_path, config).expect("the node's configuration");
        let log = dir.join("serve.log");
        let mut child = Command::new(bin)
            .args(["serve", "--config"])
            .arg(&config_path)
            .args(["--node", &spec.name])
            .args(["--heartbeat", &spec.heartbeat_secs.to_string()])
            .env("MAILCERT_STORE", &spec.store)
            .env("MAILCERT_STORE_KEY_FILE", &spec.key_file)
            .env_remove("MAILCERT_CONFIG")
            .env_remove("MAILCERT_NODE")
            .env("HOME", &dir)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&log).expect("the node's log"))
            .spawn()
            .expect("starting mailcert serve");
        let mut stdout = BufReader::new(child.stdout.take().expect("stdout"));
        let mut said = String::new();
        while !said.contains("SIGHUP") {
            let mut line = String::new();
            if stdout.read_line(&mut line).unwrap_or(0) == 0 {
                let _ = child.wait();
                panic!(
                    "node {} ended before serving: {said}\n--- its log\n{}",
                    spec.name,
                    std::fs::read_to_string(&log).unwrap_or_default()
                );
            }
            said.push_str(&line);
        }
        // Keep reading, so that the node never blocks on a full pipe.
        std::thread::spawn(move || for _ in stdout.lines() {});
        Node {
            name: spec.name.clone(),
            imaps,
            https,
            dir,
            child: Some(child),
        }
    }

    /// What the node has logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("serve.log")).unwrap_or_default()
    }

    /// Ends the node with SIGKILL: it says nothing more, as a crashed
    /// server or a pulled cable.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// The thumbprint an IMAPS client asking for `sni` (none: `None`)
    /// gets from this node.
    pub fn serves(&self, sni: Option<&str>) -> Result<String, String> {
        served_thumbprint(self.imaps, sni)
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            crate::stop_child(&mut child);
        }
    }
}

/// The SHA-1 thumbprint (mailcert's form) of the leaf an OpenSSL client
/// gets from the implicit-TLS port, asking for `sni` (or no name), with
/// a fresh session each time (s_client never resumes unless told).
pub fn served_thumbprint(port: u16, sni: Option<&str>) -> Result<String, String> {
    let address = format!("127.0.0.1:{port}");
    let mut args = vec!["s_client", "-connect", &address];
    match sni {
        Some(name) => args.extend(["-servername", name]),
        None => args.push("-noservername"),
    }
    let out = run("openssl", &args, b"");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let Some(leaf) = crate::pem_blocks(&text).into_iter().next() else {
        return Err(format!(
            "openssl s_client {address}: no certificate\n{}",
            String::from_utf8_lossy(&out.stderr)
        ));
    };
    Ok(crate::openssl_view(&leaf).thumbprint)
}

/// Waits (generously: tests never time things) until `node` serves
/// `thumbprint` to a client asking for `sni`.
pub fn wait_until_served(node: &Node, sni: Option<&str>, thumbprint: &str) {
    let what = format!(
        "node {} serving {thumbprint} to a client asking for {sni:?}",
        node.name
    );
    let deadline = Duration::from_secs(30);
    let start = std::time::Instant::now();
    loop {
        let last = node.serves(sni);
        if last.as_deref() == Ok(thumbprint) {
            return;
        }
        if start.elapsed() > deadline {
            panic!(
                "gave up waiting after {deadline:?}: {what}; it serves {last:?}\n--- its log\n{}",
                node.log()
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The client that keeps connecting while something else happens:
/// Python's ssl module handshaking with each port in turn, no session
/// reused, counting handshakes that worked and that failed.
pub struct Handshaker {
    child: Child,
    stop: PathBuf,
    _dir: crate::TempDir,
}

/// What the [`Handshaker`] saw.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Handshakes {
    pub ok: u64,
    pub failed: u64,
    /// The first failures, for the message.
    pub errors: Vec<String>,
}

const HANDSHAKER: &str = r#"
import os, socket, ssl, sys
stop, ports = sys.argv[1], [int(p) for p in sys.argv[2:]]
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
ctx.minimum_version = ssl.TLSVersion.TLSv1_2
ok = failed = 0
errors = []
while not os.path.exists(stop):
    for port in ports:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
                with ctx.wrap_socket(raw, server_hostname="mail.contoso.com") as tls:
                    if not tls.getpeercert(binary_form=True):
                        raise ValueError("no certificate")
            ok += 1
        except Exception as e:
            failed += 1
            if len(errors) < 5:
                errors.append(f"{port}: {e!r}")
print(ok, failed)
for e in errors:
    print(e)
"#;

impl Handshaker {
    pub fn start(ports: &[u16]) -> Handshaker {
        let dir = crate::temp_dir();
        let stop = dir.path().join("stop");
        let mut command = Command::new("/usr/bin/python3");
        command.args(["-c", HANDSHAKER]).arg(&stop);
        for port in ports {
            command.arg(port.to_string());
        }
        let child = command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("starting Python (run scripts/install-peers.sh)");
        Handshaker {
            child,
            stop,
            _dir: dir,
        }
    }

    /// Stops the client and says what it saw.
    pub fn finish(self) -> Handshakes {
        std::fs::write(&self.stop, b"").expect("the stop file");
        let out = self
            .child
            .wait_with_output()
            .expect("the handshaking client");
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        let mut lines = text.lines();
        let counts: Vec<u64> = lines
            .next()
            .unwrap_or_default()
            .split_whitespace()
            .filter_map(|n| n.parse().ok())
            .collect();
        let [ok, failed] = counts[..] else {
            panic!(
                "the handshaking client said {text:?}\n{}",
                String::from_utf8_lossy(&out.stderr)
            );
        };
        Handshakes {
            ok,
            failed,
            errors: lines.map(str::to_string).collect(),
        }
    }
}

/// Waits until `check` holds (up to 30 s; tests never time things).
pub fn eventually(what: &str, check: impl FnMut() -> bool) {
    wait_until(what, Duration::from_secs(30), check);
}
