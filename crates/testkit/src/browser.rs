//! Debian's Chromium, headless, driven through chromedriver's W3C
//! WebDriver protocol. The client is a few requests of JSON over plain
//! HTTP/1.1 to chromedriver on 127.0.0.1: hand-written because a WebDriver
//! crate would bring a second HTTP and TLS stack for what is here a dozen
//! calls, and nothing is downloaded (no browser fetched by a tool).

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine as _;
use serde_json::{json, Value};

use crate::{free_port, stop_child, temp_dir, wait_for_port, TempDir};

pub const CHROMIUM: &str = "/usr/bin/chromium";
pub const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
/// The W3C key for Enter and Tab, for `send_keys`.
pub const ENTER: &str = "\u{E007}";
pub const TAB: &str = "\u{E004}";

/// What the browser is told beyond the usual headless flags.
#[derive(Debug, Clone, Default)]
pub struct BrowserOptions {
    /// Base64 SHA-256 hashes of public keys whose certificates Chromium
    /// accepts though no root it knows signed them (a self-signed one).
    pub trusted_spki: Vec<String>,
    /// Host names resolved to 127.0.0.1.
    pub hosts: Vec<String>,
    pub width: u32,
    pub height: u32,
}

/// A headless Chromium and its chromedriver, stopped when dropped.
pub struct Browser {
    driver: Child,
    port: u16,
    session: String,
    _profile: TempDir,
    pub downloads: PathBuf,
}

/// An element found on the page.
#[derive(Debug, Clone)]
pub struct Element(String);

const ELEMENT_KEY: &str = "element-6066-11e4-a52e-4f735466cecf";

impl Browser {
    pub fn start(options: &BrowserOptions) -> Browser {
        let port = free_port();
        let driver = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!("cannot run {CHROMEDRIVER}: {e} (run scripts/install-peers.sh)")
            });
        wait_for_port(port);
        let profile = temp_dir();
        let downloads = profile.path().join("downloads");
        std::fs::create_dir_all(&downloads).expect("a download directory");
        let mut args = vec![
            "--headless".to_string(),
            "--no-sandbox".into(),
            "--disable-gpu".into(),
            "--disable-quic".into(),
            "--no-first-run".into(),
            "--disable-background-networking".into(),
            "--disable-component-update".into(),
            "--disable-sync".into(),
            "--disable-dev-shm-usage".into(),
            "--hide-scrollbars".into(),
            format!(
                "--user-data-dir={}",
                profile.path().join("profile").display()
            ),
            format!(
                "--window-size={},{}",
                options.width.max(400),
                options.height.max(300)
            ),
        ];
        if !options.trusted_spki.is_empty() {
            args.push(format!(
                "--ignore-certificate-errors-spki-list={}",
                options.trusted_spki.join(",")
            ));
        }
        if !options.hosts.is_empty() {
            let rules: Vec<String> = options
                .hosts
                .iter()
                .map(|h| format!("MAP {h} 127.0.0.1"))
                .collect();
            args.push(format!("--host-resolver-rules={}", rules.join(",")));
        }
        let capabilities = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": CHROMIUM,
                "args": args,
                "prefs": {
                    "download.default_directory": downloads.display().to_string(),
                    "download.prompt_for_download": false,
                },
            },
        }}});
        let mut browser = Browser {
            driver,
            port,
            session: String::new(),
            _profile: profile,
            downloads,
        };
        let answer = browser.call("POST", "/session", Some(capabilities));
        browser.session = answer["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("chromedriver gave no session: {answer}"))
            .to_string();
        browser
    }

    /// One WebDriver command; panics with the driver's error.
    fn call(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let body = body.map(|b| b.to_string()).unwrap_or_default();
        let mut stream = TcpStream::connect(("127.0.0.1", self.port)).expect("chromedriver");
        let request = format!(
            "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            self.port,
            body.len()
        );
        stream
            .write_all(request.as_bytes())
            .expect("writing to chromedriver");
        // A command that never answers fails the test instead of hanging it.
        stream
            .set_read_timeout(Some(Duration::from_secs(60)))
            .expect("a read timeout");
        let (head, body) = read_answer(&mut stream).unwrap_or_else(|e| {
            panic!("WebDriver {method} {path}: no answer from chromedriver: {e}")
        });
        let value: Value = serde_json::from_str(&body)
            .unwrap_or_else(|e| panic!("chromedriver answered {head:?} {body:?}: {e}"));
        if value["value"]["error"].is_string() {
            panic!(
                "WebDriver {method} {path}: {} — {}",
                value["value"]["error"], value["value"]["message"]
            );
        }
        value.get("value").cloned().unwrap_or(value)
    }

    fn session_path(&self, rest: &str) -> String {
        format!("/session/{}{rest}", self.session)
    }

    pub fn goto(&self, url: &str) {
        self.call(
            "POST",
            &self.session_path("/url"),
            Some(json!({"url": url})),
        );
    }

    pub fn url(&self) -> String {
        self.call("GET", &self.session_path("/url"), None)
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    /// The first element matching `css` now, if any.
    pub fn try_find(&self, css: &str) -> Option<Element> {
        let found = self.call(
            "POST",
            &self.session_path("/elements"),
            Some(json!({"using": "css selector", "value": css})),
        );
        found
            .as_array()
            .and_then(|a| a.first())
            .and_then(|e| e[ELEMENT_KEY].as_str())
            .map(|id| Element(id.to_string()))
    }

    /// Waits for an element matching `css`.
    pub fn find(&self, css: &str) -> Element {
        let start = Instant::now();
        loop {
            if let Some(element) = self.try_find(css) {
                return element;
            }
            if start.elapsed() > Duration::from_secs(20) {
                panic!(
                    "no element '{css}' on {} after 20 s; the page says: {}",
                    self.url(),
                    self.page_text()
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Waits until `script` (a function body) returns true.
    pub fn wait_for(&self, what: &str, script: &str) {
        let start = Instant::now();
        while self.execute(script, json!([])) != Value::Bool(true) {
            if start.elapsed() > Duration::from_secs(20) {
                panic!(
                    "gave up waiting for {what}; the page says: {}",
                    self.page_text()
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    pub fn click(&self, css: &str) {
        let element = self.find(css);
        self.call(
            "POST",
            &self.session_path(&format!("/element/{}/click", element.0)),
            Some(json!({})),
        );
    }

    /// Types into an element as a keyboard would (for a file input: the
    /// path of the file to upload).
    pub fn send_keys(&self, css: &str, text: &str) {
        let element = self.find(css);
        self.call(
            "POST",
            &self.session_path(&format!("/element/{}/value", element.0)),
            Some(json!({"text": text})),
        );
    }

    pub fn clear(&self, css: &str) {
        let element = self.find(css);
        self.call(
            "POST",
            &self.session_path(&format!("/element/{}/clear", element.0)),
            Some(json!({})),
        );
    }

    pub fn text(&self, css: &str) -> String {
        let element = self.find(css);
        self.call(
            "GET",
            &self.session_path(&format!("/element/{}/text", element.0)),
            None,
        )
        .as_str()
        .unwrap_or_default()
        .to_string()
    }

    /// Everything the page shows, as text.
    pub fn page_text(&self) -> String {
        self.execute(
            "return document.body ? document.body.innerText : ''",
            json!([]),
        )
        .as_str()
        .unwrap_or_default()
        .to_string()
    }

    /// Runs a function body in the page with `args`; its return value.
    pub fn execute(&self, script: &str, args: Value) -> Value {
        self.call(
            "POST",
            &self.session_path("/execute/sync"),
            Some(json!({"script": script, "args": args})),
        )
    }

    pub fn set_size(&self, width: u32, height: u32) {
        self.call(
            "POST",
            &self.session_path("/window/rect"),
            Some(json!({"width": width, "height": height})),
        );
    }

    /// A PNG of the viewport.
    pub fn screenshot(&self) -> Vec<u8> {
        let encoded = self.call("GET", &self.session_path("/screenshot"), None);
        base64::engine::general_purpose::STANDARD
            .decode(encoded.as_str().unwrap_or_default())
            .expect("a base64 screenshot")
    }

    /// Saves a PNG of the viewport at `path`.
    pub fn save_screenshot(&self, path: &Path) {
        let png = self.screenshot();
        assert!(png.starts_with(b"\x89PNG"), "not a PNG screenshot");
        std::fs::write(path, png).expect("writing the screenshot");
    }
}

/// Reads one HTTP answer: its head, then its Content-Length (or chunks,
/// or everything until the connection closes).
fn read_answer(stream: &mut TcpStream) -> std::io::Result<(String, String)> {
    let mut raw = Vec::new();
    let mut buf = [0u8; 16384];
    loop {
        // A signal delivered to the test process (a child ending, a
        // reload sent to a server under test) interrupts the read; it is
        // not an answer, so read again.
        let n = match stream.read(&mut buf) {
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        raw.extend_from_slice(&buf[..n]);
        let text = String::from_utf8_lossy(&raw).into_owned();
        let Some((head, rest)) = text.split_once("\r\n\r\n") else {
            if n == 0 {
                return Ok((text, String::new()));
            }
            continue;
        };
        let lower = head.to_ascii_lowercase();
        let length = lower
            .lines()
            .find_map(|l| l.strip_prefix("content-length:"))
            .and_then(|v| v.trim().parse::<usize>().ok());
        let chunked = lower.contains("transfer-encoding: chunked");
        match length {
            Some(length) if rest.len() >= length => {
                return Ok((head.to_string(), rest[..length].to_string()))
            }
            None if chunked && rest.ends_with("0\r\n\r\n") => {
                return Ok((head.to_string(), dechunk(rest)))
            }
            _ if n == 0 => return Ok((head.to_string(), rest.to_string())),
            _ => {}
        }
    }
}

fn dechunk(mut rest: &str) -> String {
    let mut out = String::new();
    while let Some((size, after)) = rest.split_once("\r\n") {
        let Ok(size) = usize::from_str_radix(size.trim(), 16) else {
            break;
        };
        if size == 0 || after.len() < size {
            break;
        }
        out.push_str(&after[..size]);
        rest = after[size..].trim_start_matches("\r\n");
    }
    out
}

impl Drop for Browser {
    fn drop(&mut self) {
        if !self.session.is_empty() {
            let path = format!("/session/{}", self.session);
            // Ends Chromium; a failure here must not hide the test's own.
            let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                self.call("DELETE", &path, None)
            }));
        }
        stop_child(&mut self.driver);
    }
}
