//! HTTPS requests through the curl command line: a real client that
//! validates the server's certificate against a CA file and the name it
//! asked for, and shows exactly what went over the wire (status, every
//! header, the body).

use std::path::{Path, PathBuf};
use std::process::Command;

/// Where requests go: `https://HOST:PORT`, with HOST resolved to 127.0.0.1
/// and the server's certificate checked against `ca_file`.
#[derive(Debug, Clone)]
pub struct Curl {
    pub host: String,
    pub port: u16,
    pub ca_file: PathBuf,
    /// Where request and answer bodies are kept for curl.
    pub dir: PathBuf,
}

/// One answer.
#[derive(Debug, Clone)]
pub struct HttpReply {
    pub status: u16,
    /// Names in lower case, in the order sent.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl HttpReply {
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The value a `Set-Cookie` gives the cookie `name` (empty when it
    /// is cleared).
    pub fn cookie(&self, name: &str) -> Option<String> {
        self.headers
            .iter()
            .filter(|(n, _)| n == "set-cookie")
            .find_map(|(_, v)| {
                let (pair, _) = v.split_once(';').unwrap_or((v, ""));
                let (n, value) = pair.split_once('=')?;
                (n.trim() == name).then(|| value.trim().to_string())
            })
    }

    /// Every `Set-Cookie` line.
    pub fn set_cookies(&self) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(n, _)| n == "set-cookie")
            .map(|(_, v)| v.as_str())
            .collect()
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "the answer ({}) is not JSON ({e}): {}",
                self.status,
                String::from_utf8_lossy(&self.body)
            )
        })
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

impl Curl {
    pub fn new(host: &str, port: u16, ca_file: &Path, dir: &Path) -> Curl {
        Curl {
            host: host.to_string(),
            port,
            ca_file: ca_file.to_path_buf(),
            dir: dir.to_path_buf(),
        }
    }

    pub fn base(&self) -> String {
        format!("https://{}:{}", self.host, self.port)
    }

    /// Sends one request; `body` goes as is (set its Content-Type in
    /// `headers`). Panics with curl's error when there is no answer.
    pub fn request(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<&[u8]>,
    ) -> HttpReply {
        self.try_request(method, path, headers, body)
            .unwrap_or_else(|error| panic!("curl {method} {path} failed: {error}"))
    }

    /// [`Curl::request`], with curl's error (a certificate it refused, a
    /// name mismatch, a refused connection) as `Err`.
    pub fn try_request(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<&[u8]>,
    ) -> Result<HttpReply, String> {
        use std::sync::atomic::{AtomicUsize, Ordering};
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let head_file = self.dir.join(format!("curl-{n}.head"));
        let body_file = self.dir.join(format!("curl-{n}.body"));
        let sent_file = self.dir.join(format!("curl-{n}.sent"));
        let mut cmd = Command::new("curl");
        cmd.args(["-sS", "--http1.1", "-X", method])
            .arg("--cacert")
            .arg(&self.ca_file)
            .arg("--resolve")
            .arg(format!("{}:{}:127.0.0.1", self.host, self.port))
            .arg("-D")
            .arg(&head_file)
            .arg("-o")
            .arg(&body_file);
        for (name, value) in headers {
            cmd.arg("-H").arg(format!("{name}: {value}"));
        }
        if let Some(body) = body {
            std::fs::write(&sent_file, body).expect("writing the request body");
            cmd.arg("--data-binary")
                .arg(format!("@{}", sent_file.display()));
        }
        cmd.arg(format!("{}{path}", self.base()));
        let out = cmd
            .output()
            .unwrap_or_else(|e| panic!("cannot run curl: {e} (run scripts/install-peers.sh)"));
        let head = std::fs::read_to_string(&head_file).unwrap_or_default();
        let body = std::fs::read(&body_file).unwrap_or_default();
        for file in [&head_file, &body_file, &sent_file] {
            let _ = std::fs::remove_file(file);
        }
        if !out.status.success() {
            return Err(String::from_utf8_lossy(&out.stderr).into_owned());
        }
        let mut lines = head.lines();
        let status = lines
            .next()
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("no HTTP status in {head:?}"));
        let headers = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_string()))
            .collect();
        Ok(HttpReply {
            status,
            headers,
            body,
        })
    }
}
