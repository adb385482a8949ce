//! One endpoint on the wire: connect, speak the plaintext dialect up to
//! STARTTLS when the port expects it, run a TLS handshake that records what
//! is served, and probe for SSL 3.0 and TLS 1.0/1.1. Every read and write has a
//! timeout; every pre-TLS line has a length limit (the dialect's).

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use mailcert_dialect::{
    ClientConfig as DialectConfig, ClientStep, DialectError, PlainClient, PreTlsReport,
    StartTlsResult,
};
use rustls::client::Resumption;
use rustls::crypto::CryptoProvider;
use rustls::ClientConfig;
use rustls_pki_types::ServerName;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::TcpStream;
use tokio::time::{timeout, Instant};

use crate::capture::{CaptureVerifier, Captured};
use crate::endpoint::{host_port, Endpoint, Protocol, Scheme, TlsMode};
use crate::finding::{Code, Finding};
use crate::legacy::{self, LegacyAnswer};
use crate::report::StartTlsReport;

/// What the wire told us about one endpoint, before any judgement of the
/// certificates.
#[derive(Debug, Default)]
pub(crate) struct Observation {
    pub address: Option<SocketAddr>,
    pub connected: bool,
    pub handshake: Option<Handshake>,
    pub starttls: Option<StartTlsReport>,
    /// Old versions the server accepted (`None`: not probed or unknown).
    pub legacy: Option<Vec<u16>>,
    /// Problems found on the wire (connect, dialect, handshake).
    pub findings: Vec<Finding>,
    /// The TLS handshake failed in a way an old-version-only server causes.
    pub handshake_refused: bool,
}

#[derive(Debug)]
pub(crate) struct Handshake {
    pub version: String,
    pub cipher: String,
    pub alpn: Option<String>,
    pub captured: Captured,
}

/// How to reach and greet one endpoint.
#[derive(Debug, Clone)]
pub(crate) struct Target {
    pub endpoint: Endpoint,
    pub dial_host: String,
    pub dial_port: u16,
    /// The name sent as SNI and checked on the certificate.
    pub name: String,
    pub timeout: Duration,
    pub legacy_probe: bool,
}

/// A failure that ends the exchange with one finding.
struct Stop(Finding);

type Step<T> = Result<T, Stop>;

pub(crate) async fn observe(target: &Target, provider: &Arc<CryptoProvider>) -> Observation {
    let mut obs = Observation::default();
    let stream = match connect(target).await {
        Ok(s) => s,
        Err(Stop(f)) => {
            obs.findings.push(f);
            return obs;
        }
    };
    obs.connected = true;
    obs.address = stream.peer_addr().ok();

    let (stream, injected) = match target.endpoint.scheme.tls_mode() {
        TlsMode::Implicit => (stream, false),
        TlsMode::StartTls => match starttls(stream, target, &mut obs).await {
            Some(pair) => pair,
            None => return obs,
        },
    };

    match handshake(stream, target, provider, injected).await {
        Ok(h) => obs.handshake = Some(h),
        Err((Stop(f), refused)) => {
            obs.handshake_refused = refused;
            obs.findings.push(f);
        }
    }
    if target.legacy_probe && (obs.handshake.is_some() || obs.handshake_refused) {
        obs.legacy = legacy_probe(target, provider).await;
    }
    obs
}

async fn connect(target: &Target) -> Step<TcpStream> {
    let address = host_port(&target.dial_host, target.dial_port);
    let host = target.dial_host.clone();
    match timeout(
        target.timeout,
        TcpStream::connect((host.as_str(), target.dial_port)),
    )
    .await
    {
        Ok(Ok(stream)) => {
            let _ = stream.set_nodelay(true);
            Ok(stream)
        }
        Ok(Err(e)) => Err(Stop(Finding::error(
            Code::ConnectFailed,
            format!(
                "Could not connect to {address} ({e}); clients say the server cannot be reached (Outlook: \"cannot connect to the server\")"
            ),
            "Check that the service listens on this port, that a firewall lets it through, and that the name resolves to this server.",
        ))),
        Err(_) => Err(Stop(timeout_finding(
            &format!("connecting to {address}"),
            target.timeout,
        ))),
    }
}

fn timeout_finding(during: &str, limit: Duration) -> Finding {
    Finding::error(
        Code::Timeout,
        format!(
            "No answer within {} s while {during}; clients hang and then report that the server does not respond",
            limit.as_secs_f64()
        ),
        "Check that the service is running and not overloaded, and that no firewall silently drops the traffic.",
    )
}

fn dialect_protocol(scheme: Scheme) -> Option<mailcert_dialect::Protocol> {
    match scheme.protocol() {
        Protocol::Imap => Some(mailcert_dialect::Protocol::Imap),
        Protocol::Pop3 => Some(mailcert_dialect::Protocol::Pop3),
        Protocol::Smtp => Some(mailcert_dialect::Protocol::Smtp),
        Protocol::Http => None,
    }
}

/// The plaintext phase, driven by the shared dialect. Returns the stream
/// ready for the handshake and whether plaintext was injected after the
/// server's STARTTLS answer; `None` when the exchange ended here.
async fn starttls(
    stream: TcpStream,
    target: &Target,
    obs: &mut Observation,
) -> Option<(TcpStream, bool)> {
    let scheme = target.endpoint.scheme;
    let command = dialect_protocol(scheme)
        .map(|p| p.starttls_command())
        .unwrap_or("STARTTLS");
    let (stream, result) = match negotiate(stream, target).await {
        Ok(pair) => pair,
        Err((Stop(f), report)) => {
            if let Some(report) = report {
                obs.starttls = Some(starttls_report(&report));
            }
            obs.findings.push(f);
            return None;
        }
    };
    let report = match &result {
        StartTlsResult::Success(ready) => &ready.report,
        StartTlsResult::Unavailable(report)
        | StartTlsResult::Refused { report, .. }
        | StartTlsResult::Rejected { report, .. } => report,
    };
    obs.starttls = Some(starttls_report(report));
    if report.plaintext_auth_offered && !matches!(result, StartTlsResult::Rejected { .. }) {
        obs.findings.push(plaintext_auth_finding(scheme, report));
    }
    match result {
        StartTlsResult::Success(ready) => {
            let injected = !ready.injected.is_empty();
            if injected {
                obs.findings
                    .push(injection_finding(command, &ready.injected));
            }
            Some((stream, injected))
        }
        StartTlsResult::Unavailable(report) if report.preauth => {
            obs.findings.push(Finding::error(
                Code::Preauth,
                format!(
                    "The server greets with PREAUTH (\"{}\"): the session is already logged in before TLS, so STARTTLS is impossible; clients set to STARTTLS fail, and the others read mail in the clear",
                    report.greeting
                ),
                "Turn off pre-authentication for network clients (it is meant for local, already-authenticated connections), and require STARTTLS or use imaps:// on 993.",
            ));
            None
        }
        StartTlsResult::Unavailable(_) => {
            obs.findings.push(Finding::error(
                Code::StarttlsNotOffered,
                format!(
                    "The server does not offer {command} on {}: a client set to STARTTLS stops with \"the server does not support encrypted connections\" (Thunderbird) or cannot connect (Outlook), and a client set to no encryption sends passwords and mail in the clear",
                    target.endpoint.url()
                ),
                format!(
                    "Enable TLS for {} on this port with a certificate for the name clients use (mailcert enable THUMBPRINT --services {}), and restart or reload the service.",
                    scheme.protocol_name(),
                    scheme.service()
                ),
            ));
            None
        }
        StartTlsResult::Refused { reply, .. } => {
            obs.findings.push(Finding::error(
                Code::StarttlsRefused,
                format!(
                    "The server offers {command} but refuses it (\"{reply}\"): clients set to STARTTLS fail to connect; the server usually has no usable certificate or key"
                ),
                format!(
                    "Check the server's TLS configuration and logs; bind a certificate with its private key to the service (mailcert enable THUMBPRINT --services {}).",
                    scheme.service()
                ),
            ));
            None
        }
        StartTlsResult::Rejected { reply, .. } => {
            obs.findings.push(Finding::error(
                Code::ConnectFailed,
                format!("The server refuses the session before TLS (\"{reply}\")"),
                "Check the server's access rules and logs for this client address.",
            ));
            None
        }
    }
}

/// Runs the dialect's client state machine over the socket, with a
/// deadline for the whole plaintext phase: a server that trickles bytes
/// cannot hold the check longer than the timeout.
async fn negotiate(
    mut stream: TcpStream,
    target: &Target,
) -> Result<(TcpStream, StartTlsResult), (Stop, Option<PreTlsReport>)> {
    let Some(protocol) = dialect_protocol(target.endpoint.scheme) else {
        return Err((
            Stop(Finding::error(
                Code::ProtocolError,
                "STARTTLS is not defined for this scheme",
                "Use an implicit-TLS scheme.",
            )),
            None,
        ));
    };
    let deadline = Instant::now() + target.timeout;
    let mut client = PlainClient::new(DialectConfig::new(protocol));
    let mut buf = vec![0u8; 4096];
    loop {
        let step = match client.step() {
            Ok(step) => step,
            Err(e) => {
                let report = client.report().clone();
                return Err((Stop(dialect_finding(protocol, &e)), Some(report)));
            }
        };
        match step {
            ClientStep::Send(bytes) => {
                match tokio::time::timeout_at(deadline, stream.write_all(&bytes)).await {
                    Ok(Ok(())) => {}
                    Ok(Err(e)) => {
                        return Err((
                            Stop(closed_finding(protocol, &e.to_string())),
                            Some(client.report().clone()),
                        ))
                    }
                    Err(_) => {
                        return Err((
                            Stop(timeout_finding("sending to the server", target.timeout)),
                            Some(client.report().clone()),
                        ))
                    }
                }
            }
            ClientStep::NeedInput => {
                match tokio::time::timeout_at(deadline, stream.read(&mut buf)).await {
                    Ok(Ok(0)) => {
                        return Err((
                            Stop(closed_finding(protocol, "end of stream")),
                            Some(client.report().clone()),
                        ))
                    }
                    Ok(Ok(n)) => client.receive(&buf[..n]),
                    Ok(Err(e)) => {
                        return Err((
                            Stop(closed_finding(protocol, &e.to_string())),
                            Some(client.report().clone()),
                        ))
                    }
                    Err(_) => {
                        let report = client.report().clone();
                        let during = if report.greeting.is_empty() {
                            format!("waiting for the {} greeting", protocol.name())
                        } else {
                            format!("waiting for the {} server's answer", protocol.name())
                        };
                        return Err((Stop(timeout_finding(&during, target.timeout)), Some(report)));
                    }
                }
            }
            ClientStep::Finished => break,
        }
    }
    match client.finish() {
        Ok(result) => Ok((stream, result)),
        Err(e) => Err((Stop(dialect_finding(protocol, &e)), None)),
    }
}

fn dialect_finding(protocol: mailcert_dialect::Protocol, error: &DialectError) -> Finding {
    Finding::error(
        Code::ProtocolError,
        format!(
            "The server does not speak {} as clients expect before TLS: {error}; clients give up with a connection or protocol error",
            protocol.name()
        ),
        "Check that this port runs the expected mail service (and not another protocol or a proxy that mangles it).",
    )
}

fn closed_finding(protocol: mailcert_dialect::Protocol, detail: &str) -> Finding {
    Finding::error(
        Code::ProtocolError,
        format!(
            "The server closed the connection before TLS could start ({} dialogue, {detail}); clients report a connection error",
            protocol.name()
        ),
        "Check the service's logs: it may refuse this client address, or crash on connect.",
    )
}

/// The dialect's verdict, except for POP3: a `SASL` capability with no
/// mechanism after it (Dovecot's answer when plaintext login is disabled)
/// offers nothing, so only `USER` or a non-empty `SASL` list count.
fn plaintext_auth_finding(scheme: Scheme, report: &PreTlsReport) -> Finding {
    let offered = match scheme.protocol() {
        Protocol::Imap if !report.login_disabled => {
            "IMAP LOGIN is allowed (no LOGINDISABLED)".to_string()
        }
        Protocol::Pop3 => "POP3 USER/PASS or SASL is offered".to_string(),
        _ => format!("AUTH {} is offered", report.auth_mechanisms.join(" ")),
    };
    Finding::warning(
        Code::PlaintextAuthBeforeTls,
        format!(
            "Before TLS, {offered}: a client set to no encryption (or an attacker stripping STARTTLS) gets passwords sent in the clear"
        ),
        "Refuse authentication before TLS (Dovecot: disable_plaintext_auth = yes; Postfix: smtpd_tls_auth_only = yes; the mailcert front end: tls = \"starttls-required\").",
    )
}

fn injection_finding(command: &str, injected: &[u8]) -> Finding {
    let shown: String = String::from_utf8_lossy(injected)
        .chars()
        .take(80)
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    Finding::error(
        Code::StarttlsInjection,
        format!(
            "After its positive answer to {command}, the server sent plaintext before the TLS handshake (\"{}\"): a client that kept it would treat it as protected data (the STARTTLS injection flaw); someone between client and server may be injecting commands",
            shown.trim()
        ),
        "Make the server stop writing after its STARTTLS answer (update it), and check for a device in the path that rewrites the plaintext phase.",
    )
}

fn starttls_report(report: &PreTlsReport) -> StartTlsReport {
    StartTlsReport {
        greeting: report.greeting.clone(),
        capabilities: report.capabilities.clone(),
    }
}

/// A rustls client that records instead of judging.
fn client_config(
    provider: &Arc<CryptoProvider>,
    scheme: Scheme,
) -> Result<(ClientConfig, Arc<CaptureVerifier>), rustls::Error> {
    let verifier = Arc::new(CaptureVerifier::new(provider.clone()));
    let mut config = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()?
        .dangerous()
        .with_custom_certificate_verifier(verifier.clone())
        .with_no_client_auth();
    config.resumption = Resumption::disabled();
    if scheme.protocol() == Protocol::Http {
        config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    }
    Ok((config, verifier))
}

fn server_name(name: &str) -> Option<ServerName<'static>> {
    ServerName::try_from(name.to_string()).ok()
}

async fn handshake(
    stream: TcpStream,
    target: &Target,
    provider: &Arc<CryptoProvider>,
    already_injected: bool,
) -> Result<Handshake, (Stop, bool)> {
    let scheme = target.endpoint.scheme;
    let (config, verifier) = client_config(provider, scheme).map_err(|e| {
        (
            Stop(Finding::error(
                Code::ProtocolError,
                format!("could not set up TLS ({e})"),
                "This is a bug in mailcert; please report it.",
            )),
            false,
        )
    })?;
    let Some(name) = server_name(&target.name) else {
        return Err((
            Stop(Finding::error(
                Code::NameMismatch,
                format!("'{}' is not a name a TLS client can ask for", target.name),
                "Use a DNS name or an IP address.",
            )),
            false,
        ));
    };
    let first_bytes = Arc::new(Mutex::new(Vec::new()));
    let recorder = Recorder {
        inner: stream,
        first: first_bytes.clone(),
    };
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let result = timeout(target.timeout, connector.connect(name, recorder)).await;
    let mut tls = match result {
        Ok(Ok(tls)) => tls,
        Ok(Err(e)) => {
            let first = first_bytes.lock().map(|b| b.clone()).unwrap_or_default();
            return Err(handshake_failure(&e, &first, target, already_injected));
        }
        Err(_) => {
            return Err((
                Stop(timeout_finding(
                    "waiting for the TLS handshake",
                    target.timeout,
                )),
                false,
            ))
        }
    };
    let (_, connection) = tls.get_ref();
    let version = match connection.protocol_version() {
        Some(rustls::ProtocolVersion::TLSv1_3) => "TLSv1.3".to_string(),
        Some(rustls::ProtocolVersion::TLSv1_2) => "TLSv1.2".to_string(),
        Some(other) => format!("{other:?}"),
        None => "unknown".to_string(),
    };
    let cipher = connection
        .negotiated_cipher_suite()
        .map(|s| {
            s.suite()
                .as_str()
                .map(str::to_string)
                .unwrap_or_else(|| format!("{:?}", s.suite()))
        })
        .unwrap_or_default();
    let alpn = connection
        .alpn_protocol()
        .map(|p| String::from_utf8_lossy(p).into_owned());
    let _ = timeout(Duration::from_millis(200), tls.shutdown()).await;
    Ok(Handshake {
        version,
        cipher,
        alpn,
        captured: verifier.captured(),
    })
}

/// Explains a failed handshake; the flag says the server refused TLS 1.2
/// and 1.3 (worth probing for old versions).
fn handshake_failure(
    error: &io::Error,
    first: &[u8],
    target: &Target,
    already_injected: bool,
) -> (Stop, bool) {
    let scheme = target.endpoint.scheme;
    let plaintext = first
        .first()
        .is_some_and(|b| !(0x14..=0x18).contains(b) && *b != 0x80);
    if plaintext {
        let shown: String = String::from_utf8_lossy(first)
            .chars()
            .take(60)
            .map(|c| if c.is_control() { ' ' } else { c })
            .collect();
        let shown = shown.trim().to_string();
        if scheme.tls_mode() == TlsMode::StartTls && !already_injected {
            return (Stop(injection_finding("STARTTLS", first)), false);
        }
        let finding = match scheme.tls_mode() {
            TlsMode::Implicit => Finding::error(
                Code::ProtocolError,
                format!(
                    "The server answers in plaintext (\"{shown}\") where clients expect TLS from the first byte: clients set to SSL/TLS on this port fail with a protocol error"
                ),
                format!(
                    "This port speaks plaintext or STARTTLS: either enable implicit TLS here, or check it with the STARTTLS form of the endpoint ({}).",
                    scheme.starttls_twin().map(Scheme::as_str).unwrap_or("imap://, pop3://, smtp://")
                ),
            ),
            TlsMode::StartTls => Finding::error(
                Code::ProtocolError,
                format!("The server sent plaintext (\"{shown}\") instead of a TLS handshake after STARTTLS"),
                "Update or fix the server's STARTTLS implementation.",
            ),
        };
        return (Stop(finding), false);
    }
    let rustls_error = error
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<rustls::Error>());
    match rustls_error {
        Some(rustls::Error::AlertReceived(alert)) => (
            Stop(Finding::error(
                Code::ProtocolError,
                format!(
                    "The server refuses the TLS handshake (alert {alert:?}): it shares no protocol version or cipher suite with current clients (TLS 1.2 or 1.3 with modern ciphers), or it has no certificate for the name asked ('{}')",
                    target.name
                ),
                "Enable TLS 1.2 and 1.3 with current cipher suites on the server, and make sure a certificate is configured for this service.",
            )),
            true,
        ),
        Some(rustls::Error::PeerIncompatible(_)) => (
            Stop(Finding::error(
                Code::ProtocolError,
                format!("The server's TLS is incompatible with current clients ({error})"),
                "Enable TLS 1.2 and 1.3 with current cipher suites on the server.",
            )),
            true,
        ),
        Some(other) => (
            Stop(Finding::error(
                Code::ProtocolError,
                format!("The TLS handshake failed: {other}; clients report a secure-connection error"),
                "Check the server's TLS configuration and logs.",
            )),
            false,
        ),
        None => (
            Stop(Finding::error(
                Code::ProtocolError,
                format!(
                    "The server closed the connection during the TLS handshake ({error}); clients report a secure-connection error"
                ),
                "Check the server's TLS configuration and logs: it may have no certificate or key for this service, or only speak old TLS versions.",
            )),
            true,
        ),
    }
}

/// Asks, one connection per version, which of SSL 3.0, TLS 1.0 and 1.1
/// the server accepts (oldest first). `None` when the first probe gets no
/// usable answer; a later probe that fails keeps what was learnt.
async fn legacy_probe(target: &Target, provider: &Arc<CryptoProvider>) -> Option<Vec<u16>> {
    let mut accepted = Vec::new();
    let (mut offered, mut answer) = (None, None);
    while let Some(max) = legacy::next_probe(offered, answer) {
        match probe_version(target, provider, max).await {
            Some(chosen) => {
                accepted.extend(chosen.filter(|&v| v <= max));
                (offered, answer) = (Some(max), chosen);
            }
            None if offered.is_none() => return None,
            None => break,
        }
    }
    accepted.sort_unstable();
    accepted.dedup();
    Some(accepted)
}

/// One probe: a connection, the plaintext phase when the port expects it,
/// and a ClientHello offering at most `max`. `Some(None)`: refused;
/// `Some(Some(v))`: the server chose `v`; `None`: no usable answer.
async fn probe_version(
    target: &Target,
    provider: &Arc<CryptoProvider>,
    max: u16,
) -> Option<Option<u16>> {
    let mut stream = connect(target).await.ok()?;
    if target.endpoint.scheme.tls_mode() == TlsMode::StartTls {
        let (s, result) = negotiate(stream, target).await.ok()?;
        if !matches!(result, StartTlsResult::Success(_)) {
            return None;
        }
        stream = s;
    }
    let mut random = [0u8; 32];
    provider.secure_random.fill(&mut random).ok()?;
    let sni = server_name(&target.name).and_then(|n| match n {
        ServerName::DnsName(d) => Some(d.as_ref().to_string()),
        _ => None,
    });
    let hello = legacy::client_hello(max, sni.as_deref(), random);
    timeout(target.timeout, stream.write_all(&hello))
        .await
        .ok()?
        .ok()?;
    let deadline = Instant::now() + target.timeout;
    let mut answer = Vec::new();
    let mut buf = [0u8; 512];
    loop {
        match legacy::parse_answer(&answer) {
            LegacyAnswer::Accepted(v) => return Some(Some(v)),
            LegacyAnswer::Refused => return Some(None),
            LegacyAnswer::NotTls => return None,
            LegacyAnswer::NeedMore => {}
        }
        match tokio::time::timeout_at(deadline, stream.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return Some(None),
            Ok(Ok(n)) => answer.extend_from_slice(&buf[..n]),
            Err(_) => return None,
        }
        if answer.len() > 4096 {
            return None;
        }
    }
}

/// Passes bytes through and keeps the first few the server sent, to tell
/// a TLS failure from a server that answered in plaintext.
struct Recorder {
    inner: TcpStream,
    first: Arc<Mutex<Vec<u8>>>,
}

const RECORDED: usize = 64;

impl AsyncRead for Recorder {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let poll = Pin::new(&mut self.inner).poll_read(cx, buf);
        if let Poll::Ready(Ok(())) = poll {
            let new = &buf.filled()[before..];
            if let Ok(mut first) = self.first.lock() {
                if first.len() < RECORDED {
                    let take = (RECORDED - first.len()).min(new.len());
                    first.extend_from_slice(&new[..take]);
                }
            }
        }
        poll
    }
}

impl AsyncWrite for Recorder {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}
