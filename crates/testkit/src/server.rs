//! `openssl s_server` as the server a checker connects to: any
//! certificate, any chain, any option OpenSSL has.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, ChildStdin, Command, Stdio};

use crate::free_port;

/// `openssl s_server` on a loopback port; killed when dropped.
pub struct OpensslServer {
    child: Child,
    pub port: u16,
    /// Held open: `s_server` shuts down when its standard input ends.
    _stdin: Option<ChildStdin>,
}

impl Drop for OpensslServer {
    fn drop(&mut self) {
        crate::kill_child(&mut self.child);
    }
}

impl OpensslServer {
    /// Serves `cert` with `key` on a free port (up to 1000 connections),
    /// the chain file `chain` sent after the certificate, plus `extra`
    /// options; returns once it accepts.
    pub fn start(cert: &Path, key: &Path, chain: Option<&Path>, extra: &[&str]) -> OpensslServer {
        for _attempt in 0..5 {
            let port = free_port();
            let accept = format!("127.0.0.1:{port}");
            let mut cmd = Command::new("openssl");
            cmd.args(["s_server", "-accept", &accept, "-cert"])
                .arg(cert)
                .arg("-key")
                .arg(key)
                .args(["-naccept", "1000"]);
            if let Some(chain) = chain {
                cmd.arg("-cert_chain").arg(chain);
            }
            cmd.args(extra)
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::null());
            let mut child = cmd
                .spawn()
                .expect("openssl s_server starts (scripts/install-peers.sh installs it)");
            let stdout = child.stdout.take().expect("stdout");
            let mut lines = BufReader::new(stdout).lines();
            if lines
                .by_ref()
                .map_while(Result::ok)
                .any(|l| l.contains("ACCEPT"))
            {
                // Keep draining its output so that it never blocks on a full pipe.
                std::thread::spawn(move || for _ in lines {});
                let stdin = child.stdin.take();
                return OpensslServer {
                    child,
                    port,
                    _stdin: stdin,
                };
            }
            crate::kill_child(&mut child);
        }
        panic!("openssl s_server did not start");
    }
}
