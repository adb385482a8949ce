//! A fleet on one machine: `mailcert serve` processes as nodes of one
//! store, each with TLS listeners on ports of its own, and the outside
//! clients that look at what each node serves.
//!
//! The binary is passed in, as to [`Cli`], so that any crate's tests can
//! start nodes.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::{free_port, served_thumbprint, wait_until, Cli, Serve};

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
    serve: Serve,
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
        let heartbeat = spec.heartbeat_secs.to_string();
        let cli = Cli::in_dir(bin, &dir).with_store(&spec.store, Some(&spec.key_file));
        let command = cli.command(&[
            "serve",
            "--config",
            &config_path.display().to_string(),
            "--node",
            &spec.name,
            "--heartbeat",
            &heartbeat,
        ]);
        let serve = Serve::start(command, &dir.join("serve.log"));
        Node {
            name: spec.name.clone(),
            imaps,
            https,
            dir,
            serve,
        }
    }

    /// What the node has logged so far.
    pub fn log(&self) -> String {
        self.serve.log()
    }

    /// Ends the node with SIGKILL: it says nothing more, as a crashed
    /// server or a pulled cable.
    pub fn kill(&mut self) {
        self.serve.kill();
    }

    /// The thumbprint an IMAPS client asking for `sni` (none: `None`)
    /// gets from this node.
    pub fn serves(&self, sni: Option<&str>) -> Result<String, String> {
        served_thumbprint(self.imaps, sni)
    }
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
