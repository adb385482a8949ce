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
    /// More arguments of `serve` (`--log-format json`…).
    pub extra_args: Vec<String>,
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
            extra_args: Vec::new(),
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
        let mut command = cli.command(&[
            "serve",
            "--config",
            &config_path.display().to_string(),
            "--node",
            &spec.name,
            "--heartbeat",
            &heartbeat,
        ]);
        command.args(&spec.extra_args);
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
///
/// It runs until its standard input ends: [`Handshaker::finish`] closes
/// it, and so does the kernel when the test process dies in any way, so
/// that a test that fails or is killed never leaves it connecting for
/// ever; a test that panics kills it on drop.
pub struct Handshaker {
    child: Option<Child>,
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
import socket, ssl, sys, threading
ports = [int(p) for p in sys.argv[1:]]
stop = threading.Event()
def until_stdin_ends():
    # EOF: the test called finish(), or the test process is gone.
    while sys.stdin.buffer.read(4096):
        pass
    stop.set()
threading.Thread(target=until_stdin_ends, daemon=True).start()
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
ctx.minimum_version = ssl.TLSVersion.TLSv1_2
ok = failed = 0
errors = []
while not stop.is_set():
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
    /// The client's command line: Python on its script and the ports.
    fn command(ports: &[u16]) -> Command {
        let mut command = Command::new("/usr/bin/python3");
        command.args(["-c", HANDSHAKER]);
        for port in ports {
            command.arg(port.to_string());
        }
        command
    }

    pub fn start(ports: &[u16]) -> Handshaker {
        let child = Handshaker::command(ports)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("starting Python (run scripts/install-peers.sh)");
        Handshaker { child: Some(child) }
    }

    /// The process id of the Python client.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Stops the client and says what it saw.
    pub fn finish(mut self) -> Handshakes {
        let mut child = self.child.take().expect("the client runs until finish");
        // Closing its standard input is what stops it.
        drop(child.stdin.take());
        let out = child.wait_with_output().expect("the handshaking client");
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

impl Drop for Handshaker {
    fn drop(&mut self) {
        // Not finished: the test failed before it could look.
        if let Some(mut child) = self.child.take() {
            crate::kill_child(&mut child);
        }
    }
}

/// Waits until `check` holds (up to 30 s; tests never time things).
pub fn eventually(what: &str, check: impl FnMut() -> bool) {
    wait_until(what, Duration::from_secs(30), check);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Stands for a test process: starts the client with a pipe on its
    /// standard input, prints the client's pid, and then waits for ever.
    const PARENT: &str = r#"
import subprocess, sys, time
client = subprocess.Popen(sys.argv[1:], stdin=subprocess.PIPE, stdout=subprocess.DEVNULL)
print(client.pid, flush=True)
time.sleep(600)
"#;

    fn running(pid: u32) -> bool {
        // A zombie has exited: only its parent has not looked yet.
        std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .map(|stat| !stat.rsplit(") ").next().unwrap_or("").starts_with('Z'))
            .unwrap_or(false)
    }

    #[test]
    fn the_client_ends_with_the_process_that_started_it() {
        // Nothing listens there: the client fails fast and keeps trying.
        let command = Handshaker::command(&[free_port()]);
        let mut parent = Command::new("/usr/bin/python3")
            .args(["-c", PARENT])
            .arg(command.get_program())
            .args(command.get_args())
            .stdout(Stdio::piped())
            .spawn()
            .expect("starting Python (run scripts/install-peers.sh)");
        let mut line = String::new();
        std::io::BufRead::read_line(
            &mut std::io::BufReader::new(parent.stdout.take().expect("piped stdout")),
            &mut line,
        )
        .expect("the client's pid");
        let client: u32 = line.trim().parse().expect("a pid");
        assert!(
            running(client),
            "the client should run while its parent does"
        );
        // SIGKILL: no clean-up runs in the parent, as when a test
        // binary is killed.
        parent.kill().expect("killing the parent");
        parent.wait().expect("the parent ends");
        wait_until(
            "the client exits once its parent is gone",
            Duration::from_secs(30),
            || !running(client),
        );
    }

    #[test]
    fn a_client_never_finished_is_killed_when_dropped() {
        let clients = Handshaker::start(&[free_port()]);
        let pid = clients.pid().expect("it runs");
        assert!(running(pid));
        drop(clients);
        assert!(!running(pid), "dropped, the client still runs");
    }
}
