//! The probe service of `check --listen`: Prometheus scrapes
//! `GET /probe?target=imaps://mail.contoso.com:993[&connect=HOST:PORT]
//! [&timeout=5s]` and gets the checker's verdict on that endpoint in the
//! names ssl_exporter and blackbox_exporter use, so that their dashboards
//! and rules work unchanged:
//!
//! - `probe_success`, `ssl_probe_success`: 1 when the endpoint answered,
//!   the handshake completed and no finding is an error;
//! - `probe_ssl_earliest_cert_expiry`: the earliest end in the chain sent;
//! - `ssl_cert_not_after`, `ssl_cert_not_before` `{cn, issuer_cn,
//!   serial_no, dnsnames}` for each certificate sent (`dnsnames` written
//!   `,a,b,` as ssl_exporter does);
//! - `probe_tls_version_info`, `ssl_tls_version_info` `{version="TLS 1.3"}`;
//! - `mailcert_check_findings{code, severity}`: the findings, by code;
//! - `probe_duration_seconds`.
//!
//! Targets whose host (or `connect` host) is not on the allow-list get
//! HTTP 400 with a message, as do malformed requests. Probes run at most
//! `concurrency` at a time; the others wait their turn within their
//! timeout, then get 503.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use http::StatusCode;
use mailcert_check::{check_all, ConnectTo, Endpoint, EndpointReport, Settings};
use time::OffsetDateTime;
use tokio::sync::Semaphore;

use crate::allow::AllowList;
use crate::exposition::{common_name, serial_decimal, Exposition, Kind};
use crate::http::{Answer, Asked, Handler};

/// The longest probe, whatever is asked.
pub const MAX_TIMEOUT: Duration = Duration::from_secs(120);
/// What is kept back from Prometheus's scrape timeout, so that the answer
/// arrives before Prometheus gives up (blackbox_exporter's offset).
const SCRAPE_MARGIN: f64 = 0.5;

/// What the service needs.
#[derive(Clone)]
pub struct ProbeService {
    /// Trust anchors, `--name` never (the target's host is the name).
    pub settings: Settings,
    pub allow: AllowList,
    /// Probes at once.
    pub concurrency: usize,
}

/// A probe request, read and checked.
#[derive(Debug, Clone, PartialEq, Eq)]
struct ProbeRequest {
    endpoint: Endpoint,
    connect: Option<ConnectTo>,
    timeout: Duration,
}

fn bad(message: impl Into<String>) -> Answer {
    Answer::text(StatusCode::BAD_REQUEST, message)
}

fn parse_timeout(text: &str) -> Option<Duration> {
    let text = text.trim();
    let (number, scale) = if let Some(ms) = text.strip_suffix("ms") {
        (ms, 0.001)
    } else if let Some(s) = text.strip_suffix('s') {
        (s, 1.0)
    } else {
        (text, 1.0)
    };
    let seconds = number.parse::<f64>().ok()? * scale;
    (seconds.is_finite() && seconds > 0.0).then(|| Duration::from_secs_f64(seconds))
}

impl ProbeService {
    fn read(&self, asked: &Asked) -> Result<ProbeRequest, Answer> {
        let mut target = None;
        let mut connect = None;
        let mut timeout = None;
        for (key, value) in url::form_urlencoded::parse(asked.query.as_bytes()) {
            match key.as_ref() {
                "target" => target = Some(value.into_owned()),
                "connect" => connect = Some(value.into_owned()),
                "timeout" => timeout = Some(value.into_owned()),
                // Prometheus adds what a job's params say; other
                // parameters are not ours to refuse.
                _ => {}
            }
        }
        let Some(target) = target.filter(|t| !t.trim().is_empty()) else {
            return Err(bad(
                "no target: ask /probe?target=imaps://mail.contoso.com:993 (any endpoint `mailcert check` takes, with its scheme)",
            ));
        };
        if !target.contains("://") {
            return Err(bad(format!(
                "target {target}: give one endpoint with its scheme, such as imaps://{target}; a bare host would check every port"
            )));
        }
        let endpoint = match Endpoint::parse_all(&target) {
            Ok(mut endpoints) if endpoints.len() == 1 => endpoints.remove(0),
            Ok(_) => return Err(bad(format!("target {target}: give exactly one endpoint"))),
            Err(e) => return Err(bad(format!("target {target}: {e}"))),
        };
        if !self.allow.allows(&endpoint.host) {
            return Err(bad(format!(
                "target {target}: host {} is not on this probe's allow-list ({}); the probe only connects to the hosts its --allow patterns name",
                endpoint.host,
                self.allow.describe()
            )));
        }
        let connect = match connect.filter(|c| !c.trim().is_empty()) {
            Some(text) => {
                let parsed =
                    ConnectTo::parse(&text).map_err(|e| bad(format!("connect={text}: {e}")))?;
                if !self.allow.allows(&parsed.host) {
                    return Err(bad(format!(
                        "connect={text}: host {} is not on this probe's allow-list ({})",
                        parsed.host,
                        self.allow.describe()
                    )));
                }
                Some(parsed)
            }
            None => None,
        };
        let asked_timeout = match timeout {
            Some(text) => Some(parse_timeout(&text).ok_or_else(|| {
                bad(format!(
                    "timeout={text}: give seconds, such as 5, 5s or 500ms"
                ))
            })?),
            None => None,
        };
        let scrape = asked
            .scrape_timeout
            .map(|s| Duration::from_secs_f64((s - SCRAPE_MARGIN).max(0.1)));
        let timeout = [asked_timeout, scrape]
            .into_iter()
            .flatten()
            .min()
            .unwrap_or(self.settings.timeout)
            .min(MAX_TIMEOUT);
        Ok(ProbeRequest {
            endpoint,
            connect,
            timeout,
        })
    }

    /// Answers one request to `/probe`.
    pub async fn answer(&self, asked: Asked, permits: Arc<Semaphore>) -> Answer {
        let request = match self.read(&asked) {
            Ok(request) => request,
            Err(answer) => return answer,
        };
        let started = Instant::now();
        let permit = tokio::time::timeout(request.timeout, permits.acquire_owned()).await;
        let Ok(Ok(_permit)) = permit else {
            return Answer::text(
                StatusCode::SERVICE_UNAVAILABLE,
                format!(
                    "{} probes already run and none finished within {:?}: try again, or raise --jobs",
                    self.concurrency, request.timeout
                ),
            );
        };
        let mut settings = self.settings.clone();
        settings.connect = request.connect.clone();
        // Each phase (connect, plaintext dialogue, handshake) has its own
        // limit in the checker, and the whole probe has `request.timeout`.
        // Most of the time goes to whichever phase is slow, and a phase
        // that stalls ends a little before the whole, so that the page
        // names the checker's own finding (a silent server, a handshake
        // that never ends) rather than only that time ran out.
        settings.timeout = (request.timeout.mul_f64(0.8)).max(Duration::from_millis(100));
        settings.at = mailcert_x509::build::now_utc();
        settings.legacy_probe = false;
        let endpoints = [request.endpoint.clone()];
        let reports =
            tokio::time::timeout(request.timeout, check_all(&endpoints, &settings, None)).await;
        let report = match reports {
            Ok(mut reports) if !reports.is_empty() => Some(reports.remove(0)),
            _ => None,
        };
        Answer::metrics(render(report.as_ref(), started.elapsed()))
    }
}

/// The probe's page for one report (`None`: the probe ran out of time).
fn render(report: Option<&EndpointReport>, took: Duration) -> String {
    let handshake = report.is_some_and(|r| r.tls_version.is_some());
    let success = report.is_some_and(|r| r.connected && handshake && !r.has_errors());
    let flag = |b: bool| if b { 1.0 } else { 0.0 };
    let mut page = Exposition::new();
    page.family(
        "probe_success",
        Kind::Gauge,
        "1 when the endpoint answered, completed the TLS handshake, and no finding is an error.",
    )
    .sample("probe_success", &[], flag(success));
    page.family(
        "ssl_probe_success",
        Kind::Gauge,
        "As probe_success (ssl_exporter's name).",
    )
    .sample("ssl_probe_success", &[], flag(success));
    page.family(
        "probe_duration_seconds",
        Kind::Gauge,
        "How long the probe took, in seconds.",
    )
    .sample("probe_duration_seconds", &[], took.as_secs_f64());
    let chain = report.map(|r| r.chain.as_slice()).unwrap_or_default();
    let dated: Vec<(i64, i64)> = chain
        .iter()
        .map(|entry| (unix(&entry.not_before), unix(&entry.not_after)))
        .collect();
    page.family(
        "probe_ssl_earliest_cert_expiry",
        Kind::Gauge,
        "The earliest end of validity in the chain the endpoint sent, in Unix seconds.",
    );
    if let Some(earliest) = dated.iter().map(|(_, end)| *end).min() {
        page.sample("probe_ssl_earliest_cert_expiry", &[], earliest as f64);
    }
    let labelled: Vec<[(&str, String); 4]> = chain
        .iter()
        .map(|entry| {
            [
                ("cn", common_name(&entry.subject)),
                ("issuer_cn", common_name(&entry.issuer)),
                ("serial_no", serial_decimal(&entry.serial)),
                ("dnsnames", dns_names(&entry.names)),
            ]
        })
        .collect();
    for (name, help, pick) in [
        (
            "ssl_cert_not_after",
            "The end of validity of each certificate the endpoint sent, in Unix seconds.",
            1,
        ),
        (
            "ssl_cert_not_before",
            "The start of validity of each certificate the endpoint sent, in Unix seconds.",
            0,
        ),
    ] {
        page.family(name, Kind::Gauge, help);
        for (labels, (start, end)) in labelled.iter().zip(&dated) {
            let labels: Vec<(&str, &str)> = labels.iter().map(|(k, v)| (*k, v.as_str())).collect();
            let value = if pick == 1 { *end } else { *start };
            page.sample(name, &labels, value as f64);
        }
    }
    let version = report
        .and_then(|r| r.tls_version.as_deref())
        .map(|v| v.replace("TLSv", "TLS "));
    for name in ["probe_tls_version_info", "ssl_tls_version_info"] {
        page.family(
            name,
            Kind::Gauge,
            "The TLS version negotiated (\"TLS 1.3\"), always 1.",
        );
        if let Some(version) = &version {
            page.sample(name, &[("version", version)], 1.0);
        }
    }
    let mut findings: BTreeMap<(String, &'static str), usize> = BTreeMap::new();
    match report {
        Some(report) => {
            for finding in &report.findings {
                *findings
                    .entry((finding.code.as_str().to_string(), finding.severity.as_str()))
                    .or_default() += 1;
            }
        }
        None => {
            findings.insert(("probe-timeout".into(), "error"), 1);
        }
    }
    page.family(
        "mailcert_check_findings",
        Kind::Gauge,
        "What a client would complain about: the checker's findings by code (docs/check.md) and severity.",
    );
    for ((code, severity), count) in &findings {
        page.sample(
            "mailcert_check_findings",
            &[("code", code), ("severity", severity)],
            *count as f64,
        );
    }
    page.finish()
}

fn unix(rfc3339: &str) -> i64 {
    OffsetDateTime::parse(rfc3339, &time::format_description::well_known::Rfc3339)
        .map(|t| t.unix_timestamp())
        .unwrap_or(0)
}

/// As ssl_exporter writes them: `,a,b,` (so that `=~".*,a,.*"` matches one name).
fn dns_names(names: &[String]) -> String {
    format!(",{},", names.join(","))
}

/// Starts the probe service on `listener` (bound by the caller) on the
/// runtime of `handle`; returns the address it serves.
pub fn start(
    handle: &tokio::runtime::Handle,
    listener: std::net::TcpListener,
    service: ProbeService,
) -> std::io::Result<SocketAddr> {
    let addr = listener.local_addr()?;
    listener.set_nonblocking(true)?;
    let _guard = handle.enter();
    let listener = tokio::net::TcpListener::from_std(listener)?;
    let permits = Arc::new(Semaphore::new(service.concurrency.max(1)));
    let service = Arc::new(service);
    let handler: Handler = Arc::new(move |asked: Asked| {
        let service = service.clone();
        let permits = permits.clone();
        Box::pin(async move {
            match asked.path.as_str() {
                "/probe" => service.answer(asked, permits).await,
                "/" => Answer::text(
                    StatusCode::OK,
                    format!(
                        "mailcert probe: GET /probe?target=imaps://mail.contoso.com:993 (allowed hosts: {})",
                        service.allow.describe()
                    ),
                ),
                other => Answer::text(
                    StatusCode::NOT_FOUND,
                    format!("nothing at {other}: probes are at /probe?target=URL"),
                ),
            }
        })
    });
    handle.spawn(crate::http::serve(listener, "probe", handler));
    Ok(addr)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn service() -> ProbeService {
        ProbeService {
            settings: Settings::new(
                mailcert_check::TrustStore::empty(),
                mailcert_x509::build::now_utc(),
            ),
            allow: AllowList::parse(&["*.contoso.com".to_string()]).unwrap(),
            concurrency: 2,
        }
    }

    fn asked(query: &str, scrape: Option<f64>) -> Asked {
        Asked {
            path: "/probe".into(),
            query: query.into(),
            scrape_timeout: scrape,
        }
    }

    #[test]
    fn requests_are_read_and_refused_with_a_reason() {
        let s = service();
        let ok = s
            .read(&asked(
                "target=imaps%3A%2F%2Fmail.contoso.com&connect=imap.contoso.com:10993&timeout=2s",
                Some(10.0),
            ))
            .unwrap();
        assert_eq!(ok.endpoint.url(), "imaps://mail.contoso.com:993");
        assert_eq!(ok.connect.unwrap().port, Some(10993));
        assert_eq!(ok.timeout, Duration::from_secs(2));
        let scraped = s
            .read(&asked("target=smtp://mx.contoso.com", Some(3.0)))
            .unwrap();
        assert_eq!(scraped.timeout, Duration::from_millis(2500));
        for (query, says) in [
            ("", "no target"),
            ("target=mail.contoso.com", "with its scheme"),
            (
                "target=imaps://mail.fabrikam.com",
                "not on this probe's allow-list",
            ),
            (
                "target=imaps://mail.contoso.com&connect=10.0.0.1:993",
                "connect=10.0.0.1:993: host 10.0.0.1 is not on",
            ),
            ("target=gopher://mail.contoso.com", "unknown scheme"),
            (
                "target=imaps://mail.contoso.com&timeout=soon",
                "timeout=soon",
            ),
        ] {
            let answer = s.read(&asked(query, None)).unwrap_err();
            assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{query}");
            assert!(answer.body.contains(says), "{query}: {}", answer.body);
        }
    }
}
