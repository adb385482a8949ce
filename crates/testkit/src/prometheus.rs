//! Prometheus as a peer: `promtool` to check exposition text and test
//! alert rules, a real Prometheus server scraping targets and answering
//! queries over its HTTP API, and a small HTTP GET for the endpoints
//! under test (Debian's `prometheus` package).

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::{free_port, run, wait_until};

/// The answer to a GET: status and body.
#[derive(Debug, Clone)]
pub struct HttpAnswer {
    pub status: u16,
    pub content_type: String,
    pub body: String,
}

/// `GET path` from 127.0.0.1:`port` over plain HTTP/1.1 (connection
/// closed after), with extra headers.
pub fn http_get(port: u16, path: &str, headers: &[(&str, &str)]) -> std::io::Result<HttpAnswer> {
    let mut stream = TcpStream::connect(("127.0.0.1", port))?;
    stream.set_read_timeout(Some(Duration::from_secs(120)))?;
    let mut request =
        format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n");
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("\r\n");
    stream.write_all(request.as_bytes())?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw)?;
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let content_type = head
        .lines()
        .find_map(|l| {
            let (name, value) = l.split_once(':')?;
            name.eq_ignore_ascii_case("content-type")
                .then(|| value.trim().to_string())
        })
        .unwrap_or_default();
    Ok(HttpAnswer {
        status,
        content_type,
        body: body.to_string(),
    })
}

/// `promtool check metrics` on exposition text: `Err` with what it said
/// when it finds a problem.
pub fn promtool_check_metrics(text: &str) -> Result<(), String> {
    let out = run("promtool", &["check", "metrics"], text.as_bytes());
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    if out.status.success() && said.trim().is_empty() {
        Ok(())
    } else {
        Err(format!("promtool check metrics ({}): {said}", out.status))
    }
}

/// `promtool check rules FILE` and `promtool test rules FILE…`: their
/// output, `Err` when they fail.
pub fn promtool(args: &[&str]) -> Result<String, String> {
    let out = run("promtool", args, b"");
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    if out.status.success() {
        Ok(said)
    } else {
        Err(format!(
            "promtool {} ({}): {said}",
            args.join(" "),
            out.status
        ))
    }
}

/// The value of the sample `name{labels…}` in exposition text: the first
/// whose labels include all of `labels`.
pub fn sample(text: &str, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .find_map(|line| {
            let (series, value) = line.rsplit_once(' ')?;
            let (metric, rest) = match series.split_once('{') {
                Some((metric, rest)) => (metric, rest.trim_end_matches('}')),
                None => (series, ""),
            };
            if metric != name {
                return None;
            }
            let all = labels
                .iter()
                .all(|(k, v)| rest.contains(&format!("{k}=\"{v}\"")));
            all.then(|| value.parse().ok()).flatten()
        })
}

/// Every sample line of `name` (for messages).
pub fn samples_of(text: &str, name: &str) -> Vec<String> {
    text.lines()
        .filter(|l| l.starts_with(&format!("{name}{{")) || l.starts_with(&format!("{name} ")))
        .map(str::to_string)
        .collect()
}

/// A Prometheus server scraping `targets` (job name, `host:port`, path,
/// extra params) every second, in a folder of its own; stopped when dropped.
pub struct Prometheus {
    pub port: u16,
    pub dir: PathBuf,
    child: Option<Child>,
}

/// One scrape job.
#[derive(Debug, Clone)]
pub struct ScrapeJob {
    pub job: String,
    pub target: String,
    pub path: String,
    /// Query parameters (`target` for a probe).
    pub params: Vec<(String, String)>,
}

impl Prometheus {
    pub fn start(dir: &Path, jobs: &[ScrapeJob]) -> Prometheus {
        let dir = dir.join("prometheus");
        std::fs::create_dir_all(dir.join("data")).expect("Prometheus's folder");
        let mut config = String::from(
            "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n  evaluation_interval: 1s\nscrape_configs:\n",
        );
        for job in jobs {
            config.push_str(&format!(
                "  - job_name: \"{}\"\n    metrics_path: \"{}\"\n    static_configs:\n      - targets: [\"{}\"]\n",
                job.job, job.path, job.target
            ));
            if !job.params.is_empty() {
                config.push_str("    params:\n");
                for (key, value) in &job.params {
                    config.push_str(&format!("      {key}: [\"{value}\"]\n"));
                }
            }
        }
        let config_path = dir.join("prometheus.yml");
        std::fs::write(&config_path, config).expect("Prometheus's configuration");
        let port = free_port();
        let log = std::fs::File::create(dir.join("prometheus.log")).expect("Prometheus's log");
        let child = Command::new("prometheus")
            .arg(format!("--config.file={}", config_path.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.join("data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| {
                panic!("cannot start prometheus: {e} (run scripts/install-peers.sh)")
            });
        let prometheus = Prometheus {
            port,
            dir,
            child: Some(child),
        };
        wait_until(
            "Prometheus ready (/-/ready)",
            Duration::from_secs(60),
            || http_get(port, "/-/ready", &[]).is_ok_and(|a| a.status == 200),
        );
        prometheus
    }

    /// The result of an instant query (`data.result`), as JSON.
    pub fn query(&self, promql: &str) -> serde_json::Value {
        let path = format!("/api/v1/query?query={}", url_encode(promql));
        let answer = http_get(self.port, &path, &[]).expect("Prometheus's API");
        let json: serde_json::Value = serde_json::from_str(&answer.body).unwrap_or_else(|e| {
            panic!(
                "Prometheus answered {}: {e}: {}",
                answer.status, answer.body
            )
        });
        json["data"]["result"].clone()
    }

    /// Waits until `promql` returns at least one series; returns them.
    pub fn wait_for(&self, promql: &str) -> Vec<serde_json::Value> {
        let mut found = Vec::new();
        let what = format!("Prometheus to return {promql}\n--- its log\n{}", self.log());
        wait_until(&what, Duration::from_secs(60), || {
            found = self.query(promql).as_array().cloned().unwrap_or_default();
            !found.is_empty()
        });
        found
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("prometheus.log")).unwrap_or_default()
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            crate::stop_child(&mut child);
        }
    }
}

fn url_encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}
