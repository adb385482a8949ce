//! The checker as a sending MTA applying MTA-STS (RFC 8461 §3–5): the
//! `_mta-sts` TXT record, the policy fetched over HTTPS from
//! `mta-sts.<domain>` with the certificate validated as any HTTPS client
//! does (the system's roots and `--ca-file`), the MX records, and each MX
//! host on port 25 with STARTTLS: its name must match a line of the policy
//! and its certificate must validate for that name.
//!
//! Every DNS question goes to the resolver given (`--dns`, else the
//! system's), through the DNS client of the DANE checks. The HTTPS fetch
//! is written here: one GET with a bounded answer and a timeout, sent only
//! once the certificate has been validated, is all RFC 8461 asks of a
//! sender, and it reuses the checker's own capture and diagnosis.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::{RData, RecordType};
use mailcert_dane::resolver::{rcode_text, txt_text};
use mailcert_dane::Resolver;
use mailcert_mtasts::{
    policy_host, policy_url, sts_record_name, Mode, Policy, StsRecord, MAX_POLICY_BYTES,
    WELL_KNOWN_PATH,
};
use rustls::client::Resumption;
use rustls::crypto::CryptoProvider;
use rustls::ClientConfig;
use rustls_pki_types::ServerName;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::timeout;

use crate::capture::CaptureVerifier;
use crate::endpoint::{ConnectTo, Endpoint, Scheme};
use crate::error::CheckError;
use crate::finding::{Code, Finding, Severity, Source};
use crate::report::{EndpointReport, MtaStsReport, MxReport};
use crate::run::{check_one, Settings};
use crate::validate::{validate, Request};

/// `check --mta-sts`: each domain as a sending MTA sees it, asking
/// `resolver` for every record (see [`check_mta_sts`]).
pub fn check_mta_sts_domains(
    domains: &[String],
    resolver: SocketAddr,
    settings: &Settings,
) -> Result<Vec<MtaStsReport>, CheckError> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(CheckError::Runtime)?;
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let reports = runtime.block_on(async {
        let mut out = Vec::new();
        for domain in domains {
            out.push(check_mta_sts(domain, resolver, settings, &provider).await);
        }
        out
    });
    runtime.shutdown_background();
    Ok(reports)
}

/// Checks `domain` as a sending MTA would, asking `resolver`.
pub async fn check_mta_sts(
    domain: &str,
    resolver: SocketAddr,
    settings: &Settings,
    provider: &Arc<CryptoProvider>,
) -> MtaStsReport {
    let domain = domain.trim().trim_end_matches('.').to_ascii_lowercase();
    let mut report = MtaStsReport {
        domain: domain.clone(),
        resolver: resolver.to_string(),
        txt_name: sts_record_name(&domain),
        policy_url: policy_url(&domain),
        ..MtaStsReport::default()
    };
    let dns = Dns::new(resolver, settings.timeout);

    match dns.txt(&report.txt_name).await {
        Ok(records) => match StsRecord::find(&records) {
            Ok(record) => {
                report.txt = Some(record.text());
                report.id = Some(record.id);
            }
            Err(e) => report.findings.push(txt_missing(&domain, &e.to_string())),
        },
        Err(e) => report.findings.push(txt_missing(&domain, &e)),
    }

    let (fetched, host_report) = fetch_policy(&domain, &dns, settings, provider).await;
    report.policy_host = host_report;
    let policy = match fetched {
        Ok(text) => match Policy::parse(&text) {
            Ok(fetched) => {
                report.policy = Some(text);
                report.mode = Some(fetched.policy.mode);
                for note in fetched.notes {
                    report.findings.push(Finding::info(
                        Code::MtaStsPolicyUnreachable,
                        format!("{}: {note}", report.policy_url),
                        "Serve the policy exactly in RFC 8461's format (mailcert serve does, from [[mta_sts]]).",
                    ));
                }
                Some(fetched.policy)
            }
            Err(e) => {
                report.policy = Some(text);
                report.findings.push(unreachable(&domain, &e.to_string()));
                None
            }
        },
        Err(why) => {
            report.findings.push(unreachable(&domain, &why));
            None
        }
    };

    let mx = match dns.mx(&domain).await {
        Ok(mx) => mx,
        Err(e) => {
            report.findings.push(Finding::error(
                Code::MtaStsMxNotInPolicy,
                format!("the MX records of {domain} could not be read: {e}; senders cannot deliver at all"),
                "Make the domain's name servers answer MX queries.",
            ));
            Vec::new()
        }
    };
    let enforce = policy.as_ref().is_some_and(|p| p.mode == Mode::Enforce);
    let severity = if enforce {
        Severity::Error
    } else {
        Severity::Warning
    };
    let mode_text = match &policy {
        Some(p) if p.mode == Mode::Enforce => "in enforce mode senders refuse to deliver to it",
        Some(p) if p.mode == Mode::Testing => {
            "the policy is in testing mode, so senders deliver anyway and report it (TLS-RPT); in enforce mode they would refuse"
        }
        _ => "senders applying an MTA-STS policy would refuse to deliver to it",
    };
    for (preference, host) in mx {
        let mut mx_report = MxReport {
            host: host.clone(),
            preference,
            ..MxReport::default()
        };
        if let Some(policy) = policy.as_ref().filter(|p| p.mode != Mode::None) {
            match policy.matching(&host) {
                Some(pattern) => mx_report.pattern = Some(pattern.to_string()),
                None => report.findings.push(Finding::new(
                    severity,
                    Code::MtaStsMxNotInPolicy,
                    format!(
                        "MX host {host} of {domain} matches no mx line of the policy ({}): {mode_text}",
                        policy
                            .mx
                            .iter()
                            .map(|p| p.to_string())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                    format!(
                        "Add mx = \"{host}\" (or a *. line one label above it) to the [[mta_sts]] entry of {domain}, reload serve and publish the new id (mailcert mta-sts prints it); or point the MX record at a host the policy lists."
                    ),
                )),
            }
        }
        mx_report.endpoint = Some(check_mx(&host, &dns, settings, provider).await);
        if let Some(endpoint) = &mx_report.endpoint {
            if endpoint.trusted != Some(true) {
                let cause = endpoint
                    .findings
                    .iter()
                    .find(|f| f.severity == Severity::Error)
                    .map(|f| f.message.clone())
                    .unwrap_or_else(|| "no certificate was obtained".to_string());
                report.findings.push(Finding::new(
                    severity,
                    Code::MtaStsCertificateInvalid,
                    format!(
                        "MX host {host} does not present a certificate that validates for {host} on port 25 with STARTTLS ({cause}): {mode_text}"
                    ),
                    format!(
                        "Serve SMTP on {host}:25 with STARTTLS and a certificate from a public CA that carries {host} with its whole chain (mailcert plan lists it with [[mx]]; mailcert enable THUMB --services smtp binds it)."
                    ),
                ));
            }
        }
        report.mx.push(mx_report);
    }
    // Errors first; every finding kept (one per MX host matters).
    report.findings.sort_by_key(|f| f.severity);
    report
}

fn txt_missing(domain: &str, reason: &str) -> Finding {
    Finding::error(
        Code::MtaStsTxtMissing,
        format!(
            "no valid MTA-STS TXT record at {}: {reason}; senders never fetch the policy, so MTA-STS does not protect {domain}",
            sts_record_name(domain)
        ),
        format!(
            "Publish {}. IN TXT \"v=STSv1; id=…\" with the id `mailcert mta-sts` prints for the policy served at {}.",
            sts_record_name(domain),
            policy_url(domain)
        ),
    )
}

fn unreachable(domain: &str, why: &str) -> Finding {
    Finding::error(
        Code::MtaStsPolicyUnreachable,
        format!(
            "the MTA-STS policy of {domain} cannot be fetched from {}: {why}; senders then apply no policy (or keep a cached one until it expires)",
            policy_url(domain)
        ),
        format!(
            "Make {} resolve to the front end, put it on an https certificate from a public CA, and serve the policy with an [[mta_sts]] entry (docs/mta-sts.md).",
            policy_host(domain)
        ),
    )
}

/// The port-25 check of one MX host, dialled at the address the resolver
/// gives, validated for the MX name.
async fn check_mx(
    host: &str,
    dns: &Dns,
    settings: &Settings,
    provider: &Arc<CryptoProvider>,
) -> EndpointReport {
    let endpoint = Endpoint::new(Scheme::Smtp, host, Some(25));
    let address = match dns.address(host).await {
        Ok(ip) => ip,
        Err(e) => {
            return EndpointReport {
                endpoint: endpoint.url(),
                findings: vec![Finding::error(
                    Code::ConnectFailed,
                    format!("{host} has no address: {e}"),
                    format!("Publish an A (or AAAA) record for {host}."),
                )],
                ..EndpointReport::default()
            }
        }
    };
    let mut settings = settings.clone();
    settings.name = None;
    settings.connect = Some(ConnectTo {
        host: address.to_string(),
        port: Some(25),
    });
    settings.legacy_probe = false;
    check_one(&endpoint, &settings, provider).await
}

/// Fetches the policy text (or says why it cannot be), with the TLS
/// report of the policy host when a handshake was made.
async fn fetch_policy(
    domain: &str,
    dns: &Dns,
    settings: &Settings,
    provider: &Arc<CryptoProvider>,
) -> (Result<String, String>, Option<EndpointReport>) {
    let mut host_report = None;
    let fetched = fetch(domain, dns, settings, provider, &mut host_report).await;
    (fetched, host_report)
}

async fn fetch(
    domain: &str,
    dns: &Dns,
    settings: &Settings,
    provider: &Arc<CryptoProvider>,
    host_report: &mut Option<EndpointReport>,
) -> Result<String, String> {
    let host = policy_host(domain);
    let ip = dns
        .address(&host)
        .await
        .map_err(|e| format!("{host} has no address ({e})"))?;
    let address = SocketAddr::new(ip, 443);
    let limit = settings.timeout;
    let tcp = match timeout(limit, TcpStream::connect(address)).await {
        Ok(Ok(tcp)) => tcp,
        Ok(Err(e)) => return Err(format!("cannot connect to {address}: {e}")),
        Err(_) => return Err(format!("{address} did not answer within {limit:?}")),
    };
    let verifier = Arc::new(CaptureVerifier::new(provider.clone()));
    let mut config = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .dangerous()
        .with_custom_certificate_verifier(verifier.clone())
        .with_no_client_auth();
    config.resumption = Resumption::disabled();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    let name =
        ServerName::try_from(host.clone()).map_err(|_| format!("{host} is not a host name"))?;
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let mut tls = match timeout(limit, connector.connect(name, tcp)).await {
        Ok(Ok(tls)) => tls,
        Ok(Err(e)) => return Err(format!("the TLS handshake with {address} failed: {e}")),
        Err(_) => return Err(format!("the TLS handshake with {address} timed out")),
    };
    let captured = verifier.captured();
    let validation = validate(&Request {
        certificates: &captured.chain,
        name: Some(&host),
        at: settings.at,
        trust: &settings.trust,
        source: Source::Served,
    });
    let endpoint = format!("https://{host}{WELL_KNOWN_PATH}");
    let trusted = validation.trusted && captured.signature_ok != Some(false);
    let first_error = validation
        .findings
        .iter()
        .find(|f| f.severity == Severity::Error)
        .map(|f| f.message.clone());
    *host_report = Some(EndpointReport {
        endpoint,
        connected: true,
        address: Some(address.to_string()),
        name: Some(host.clone()),
        trusted: Some(trusted),
        publicly_trusted: Some(validation.publicly_trusted),
        chain: validation.chain,
        findings: validation.findings,
        ..EndpointReport::default()
    });
    if !trusted {
        // Nothing is sent over a connection whose certificate a sender
        // would refuse.
        return Err(format!(
            "the certificate of {host} is not valid for it ({}); senders refuse the policy then",
            first_error.unwrap_or_else(|| "the handshake signature did not verify".into())
        ));
    }
    let request = format!(
        "GET {WELL_KNOWN_PATH} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: mailcert-check\r\nAccept: text/plain\r\nConnection: close\r\n\r\n"
    );
    let exchange = async {
        tls.write_all(request.as_bytes()).await?;
        tls.flush().await?;
        let mut answer = Vec::new();
        // The head and a policy of the largest size senders read, and one
        // byte more to tell a larger one.
        let cap = MAX_POLICY_BYTES + 16 * 1024 + 1;
        let mut buf = [0u8; 8192];
        while answer.len() < cap {
            match tls.read(&mut buf).await {
                Ok(0) => break,
                Ok(n) => answer.extend_from_slice(&buf[..n]),
                // A server that closes without close_notify after its
                // answer is common: what was read is judged.
                Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => break,
                Err(e) => return Err(e),
            }
        }
        Ok::<Vec<u8>, std::io::Error>(answer)
    };
    let answer = match timeout(limit, exchange).await {
        Ok(Ok(answer)) => answer,
        Ok(Err(e)) => return Err(format!("the HTTPS exchange failed: {e}")),
        Err(_) => return Err(format!("no complete answer within {limit:?}")),
    };
    parse_http(&answer)
}

/// The body of a `200` answer served as `text/plain` (RFC 8461 §3.3:
/// redirects are not followed), with `Content-Length`, chunked, or read
/// to the close.
fn parse_http(answer: &[u8]) -> Result<String, String> {
    let Some(split) = answer.windows(4).position(|w| w == b"\r\n\r\n") else {
        return Err("the answer is not HTTP (no complete head)".into());
    };
    let head = String::from_utf8_lossy(&answer[..split]);
    let mut body = answer[split + 4..].to_vec();
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or("");
    let status: u16 = status_line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| {
            format!(
                "the answer starts with \"{}\", not an HTTP status",
                shorten(status_line)
            )
        })?;
    let header = |name: &str| {
        head.split("\r\n")
            .skip(1)
            .filter_map(|l| l.split_once(':'))
            .find(|(k, _)| k.trim().eq_ignore_ascii_case(name))
            .map(|(_, v)| v.trim().to_string())
    };
    if (300..400).contains(&status) {
        return Err(format!(
            "the server answers {status} (a redirect to {}); senders do not follow redirects for the policy",
            header("location").unwrap_or_else(|| "nowhere".into())
        ));
    }
    if status != 200 {
        return Err(format!("the server answers {}", shorten(status_line)));
    }
    let media = header("content-type").unwrap_or_default();
    let media_type = media
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    if media_type != "text/plain" {
        return Err(format!(
            "the policy is served as \"{}\", not text/plain, which RFC 8461 requires",
            shorten(&media)
        ));
    }
    if header("transfer-encoding").is_some_and(|t| t.eq_ignore_ascii_case("chunked")) {
        body = dechunk(&body)?;
    } else if let Some(length) = header("content-length").and_then(|l| l.parse::<usize>().ok()) {
        if body.len() < length {
            return Err(format!(
                "the answer ended after {} of {length} bytes",
                body.len()
            ));
        }
        body.truncate(length);
    }
    if body.len() > MAX_POLICY_BYTES {
        return Err(format!(
            "the policy is larger than {MAX_POLICY_BYTES} bytes"
        ));
    }
    String::from_utf8(body).map_err(|_| "the policy is not UTF-8 text".to_string())
}

fn dechunk(mut data: &[u8]) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    loop {
        let end = data
            .windows(2)
            .position(|w| w == b"\r\n")
            .ok_or("a chunk size line is cut")?;
        let size_text = String::from_utf8_lossy(&data[..end]);
        let size = usize::from_str_radix(size_text.split(';').next().unwrap_or("").trim(), 16)
            .map_err(|_| format!("bad chunk size \"{}\"", shorten(&size_text)))?;
        data = &data[end + 2..];
        if size == 0 {
            return Ok(out);
        }
        if data.len() < size + 2 || out.len() + size > MAX_POLICY_BYTES + 1 {
            return Err("a chunk is cut or the policy is too large".into());
        }
        out.extend_from_slice(&data[..size]);
        data = &data[size + 2..];
    }
}

fn shorten(text: &str) -> String {
    let mut out: String = text.chars().filter(|c| !c.is_control()).take(60).collect();
    if text.chars().count() > 60 {
        out.push('…');
    }
    out
}

/// DNS questions on blocking threads, through the DANE checks' client.
struct Dns {
    resolver: Resolver,
}

impl Dns {
    fn new(server: SocketAddr, limit: Duration) -> Dns {
        let mut resolver = Resolver::new(server);
        resolver.timeout = limit.min(Duration::from_secs(5));
        Dns { resolver }
    }

    async fn ask(&self, name: &str, rtype: RecordType) -> Result<Vec<RData>, String> {
        let resolver = self.resolver.clone();
        let owned = name.to_string();
        let answer = tokio::task::spawn_blocking(move || resolver.query(&owned, rtype, true))
            .await
            .map_err(|e| e.to_string())?
            .map_err(|e| e.to_string())?;
        match answer.rcode {
            ResponseCode::NoError => Ok(answer.records.into_iter().map(|(_, _, d)| d).collect()),
            ResponseCode::NXDomain => Ok(Vec::new()),
            other => Err(format!("{name} {rtype}: {}", rcode_text(other))),
        }
    }

    /// Each TXT record's strings joined, as RFC 8461 §3.1 reads them.
    async fn txt(&self, name: &str) -> Result<Vec<String>, String> {
        Ok(self
            .ask(name, RecordType::TXT)
            .await?
            .iter()
            .filter_map(txt_text)
            .collect())
    }

    /// The MX hosts by preference; the domain itself when it has none
    /// (RFC 5321 §5.1, the implicit MX).
    async fn mx(&self, domain: &str) -> Result<Vec<(u16, String)>, String> {
        let mut hosts: Vec<(u16, String)> = self
            .ask(domain, RecordType::MX)
            .await?
            .into_iter()
            .filter_map(|data| match data {
                RData::MX(mx) => Some((
                    mx.preference,
                    mx.exchange
                        .to_ascii()
                        .trim_end_matches('.')
                        .to_ascii_lowercase(),
                )),
                _ => None,
            })
            .collect();
        hosts.sort();
        if hosts.is_empty() {
            hosts.push((0, domain.to_string()));
        }
        Ok(hosts)
    }

    /// The first IPv4 address of `host`, else the first IPv6 one.
    async fn address(&self, host: &str) -> Result<IpAddr, String> {
        for rtype in [RecordType::A, RecordType::AAAA] {
            for data in self.ask(host, rtype).await? {
                match data {
                    RData::A(a) => return Ok(IpAddr::V4(a.0)),
                    RData::AAAA(aaaa) => return Ok(IpAddr::V6(aaaa.0)),
                    _ => {}
                }
            }
        }
        Err("no A or AAAA record".into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_answers_are_read_as_a_sender_reads_them() {
        let ok = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: 5\r\n\r\nhello and more";
        assert_eq!(parse_http(ok).unwrap(), "hello");
        let chunked = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2;x=y\r\nde\r\n0\r\n\r\n";
        assert_eq!(parse_http(chunked).unwrap(), "abcde");
        for (answer, why) in [
            (
                &b"HTTP/1.1 301 Moved\r\nLocation: https://x/\r\n\r\n"[..],
                "redirect",
            ),
            (
                b"HTTP/1.1 404 Not Found\r\nContent-Type: text/plain\r\n\r\n",
                "404",
            ),
            (
                b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n\r\nx",
                "not text/plain",
            ),
            (
                b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 9\r\n\r\nabc",
                "3 of 9",
            ),
            (b"garbage", "not HTTP"),
        ] {
            let err = parse_http(answer).unwrap_err();
            assert!(err.contains(why), "{err}");
        }
    }
}
