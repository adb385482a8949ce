//! Checking many endpoints at once (bounded concurrency), and turning what
//! the wire showed into a report with findings.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use mailcert_x509::Service;
use rustls::crypto::CryptoProvider;
use time::OffsetDateTime;
use tokio::sync::Semaphore;

use crate::endpoint::{ConnectTo, Endpoint, Scheme};
use crate::error::CheckError;
use crate::finding::{tidy, Code, Finding, Source};
use crate::legacy;
use crate::probe::{observe, Observation, Target};
use crate::report::{EndpointReport, Report};
use crate::trust::TrustStore;
use crate::validate::{validate, Request};

/// A certificate the store would serve on a service, as the front end
/// would choose it for a client asking for a name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BoundCertificate {
    pub thumbprint: String,
    pub subject: String,
    /// The selection rule in plain words (`mailcert which`).
    pub rule: String,
    /// The front-end listener whose choice this is; `None` for the
    /// service's own choice (no listener, no pin).
    pub listener: Option<String>,
}

/// Answers "which certificates may this port serve?" from the store. The
/// CLI implements it over the store's serving set and the front-end
/// configuration; the checker does not open stores itself.
pub trait BoundLookup: Send + Sync {
    /// The certificates the store would serve on `service` to a client
    /// asking for `name`, through this machine's port `address`: the choice
    /// of the listener bound to that address when the configuration has
    /// one; otherwise the service's own choice and that of each of its
    /// listeners (their own bindings and pins), since any of them may be
    /// on the port. Empty when the store binds nothing usable to the
    /// service.
    fn expected(
        &self,
        service: Service,
        name: Option<&str>,
        address: SocketAddr,
    ) -> Vec<BoundCertificate>;
}

/// Settings for a whole run.
#[derive(Clone)]
pub struct Settings {
    pub trust: Arc<TrustStore>,
    /// Check this name instead of each endpoint's host (`--name`).
    pub name: Option<String>,
    /// Dial here instead of each endpoint's host (`--connect`).
    pub connect: Option<ConnectTo>,
    /// "Now" for every date comparison (`--at`, or the time the run started).
    pub at: OffsetDateTime,
    /// Limit for each phase: connect, the plaintext dialogue, the handshake.
    pub timeout: Duration,
    /// Connections in flight at most.
    pub concurrency: usize,
    /// Probe for TLS 1.0/1.1 with a second connection.
    pub legacy_probe: bool,
    pub bound: Option<Arc<dyn BoundLookup>>,
    /// Look up the TLSA records of `smtp://` endpoints at this validating
    /// resolver (`--dns`, else the system's); `None`: no DANE check.
    pub dane_resolver: Option<SocketAddr>,
}

impl Settings {
    pub fn new(trust: TrustStore, at: OffsetDateTime) -> Settings {
        Settings {
            trust: Arc::new(trust),
            name: None,
            connect: None,
            at,
            timeout: Duration::from_secs(10),
            concurrency: 256,
            legacy_probe: true,
            bound: None,
            dane_resolver: None,
        }
    }
}

impl std::fmt::Debug for Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Settings")
            .field("anchors", &self.trust.len())
            .field("name", &self.name)
            .field("connect", &self.connect)
            .field("at", &self.at)
            .field("timeout", &self.timeout)
            .field("concurrency", &self.concurrency)
            .field("legacy_probe", &self.legacy_probe)
            .field("bound", &self.bound.is_some())
            .field("dane_resolver", &self.dane_resolver)
            .finish()
    }
}

/// Progress callback: `(done, total)` after each endpoint.
pub type Progress = Arc<dyn Fn(usize, usize) + Send + Sync>;

/// Checks every endpoint, at most `settings.concurrency` at a time, and
/// returns the reports in the order given. Endpoints from a bare host that
/// do not answer are left out (one `connect-failed` stands for a host where
/// nothing answers).
pub fn check_endpoints(
    endpoints: &[Endpoint],
    settings: &Settings,
    progress: Option<Progress>,
) -> Result<Report, CheckError> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(CheckError::Runtime)?;
    let reports = runtime.block_on(check_all(endpoints, settings, progress));
    // Name look-ups still running in blocking threads after a timeout must
    // not keep the process waiting.
    runtime.shutdown_background();
    Ok(Report {
        endpoints: keep_answering(endpoints, reports),
        mta_sts: Vec::new(),
    })
}

/// The async form of [`check_endpoints`], without the bare-host filtering.
pub async fn check_all(
    endpoints: &[Endpoint],
    settings: &Settings,
    progress: Option<Progress>,
) -> Vec<EndpointReport> {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let semaphore = Arc::new(Semaphore::new(settings.concurrency.max(1)));
    let total = endpoints.len();
    let done = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut tasks = Vec::with_capacity(total);
    for endpoint in endpoints {
        let endpoint = endpoint.clone();
        let settings = settings.clone();
        let provider = provider.clone();
        let semaphore = semaphore.clone();
        let progress = progress.clone();
        let done = done.clone();
        tasks.push(tokio::spawn(async move {
            let _permit = semaphore.acquire_owned().await.ok();
            let report = check_one(&endpoint, &settings, &provider).await;
            let n = done.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
            if let Some(progress) = &progress {
                progress(n, total);
            }
            report
        }));
    }
    let mut reports = Vec::with_capacity(total);
    for (task, endpoint) in tasks.into_iter().zip(endpoints) {
        match task.await {
            Ok(report) => reports.push(report),
            Err(e) => reports.push(EndpointReport {
                endpoint: endpoint.url(),
                findings: vec![Finding::error(
                    Code::ProtocolError,
                    format!("the check of this endpoint failed internally ({e})"),
                    "This is a bug in mailcert; please report it with the endpoint.",
                )],
                ..EndpointReport::default()
            }),
        }
    }
    reports
}

/// Checks one endpoint.
pub async fn check_one(
    endpoint: &Endpoint,
    settings: &Settings,
    provider: &Arc<CryptoProvider>,
) -> EndpointReport {
    let (dial_host, dial_port) = match &settings.connect {
        Some(c) => c.target(endpoint),
        None => (endpoint.host.clone(), endpoint.port),
    };
    let name = settings
        .name
        .clone()
        .unwrap_or_else(|| endpoint.host.clone());
    let target = Target {
        endpoint: endpoint.clone(),
        dial_host,
        dial_port,
        name: name.clone(),
        timeout: settings.timeout,
        legacy_probe: settings.legacy_probe,
    };
    let obs = observe(&target, provider).await;
    let dane = match settings.dane_resolver {
        Some(resolver)
            if endpoint.scheme == Scheme::Smtp
                && obs.handshake.is_some()
                && crate::dane::dane_host(&endpoint.host) =>
        {
            let (host, port) = (endpoint.host.clone(), endpoint.port);
            tokio::task::spawn_blocking(move || crate::dane::look_up(resolver, &host, port))
                .await
                .ok()
        }
        _ => None,
    };
    let served: Vec<Vec<u8>> = obs
        .handshake
        .as_ref()
        .map(|h| h.captured.chain.clone())
        .unwrap_or_default();
    let mut report = judge(endpoint, &name, settings, obs);
    if let Some(mut dane) = dane {
        let findings = crate::dane::judge(&mut dane, &served);
        report.findings.extend(findings);
        tidy(&mut report.findings);
        report.dane = Some(dane);
    }
    report
}

fn judge(endpoint: &Endpoint, name: &str, settings: &Settings, obs: Observation) -> EndpointReport {
    let mut report = EndpointReport {
        endpoint: endpoint.url(),
        connected: obs.connected,
        address: obs.address.map(|a| a.to_string()),
        name: Some(name.to_string()),
        starttls: obs.starttls,
        legacy_versions: obs.legacy.as_ref().map(|v| {
            v.iter()
                .map(|&v| legacy::version_name(v).to_string())
                .collect()
        }),
        ..EndpointReport::default()
    };
    let mut findings = obs.findings;
    if let Some(versions) = obs.legacy.as_ref().filter(|v| !v.is_empty()) {
        let only_old = obs.handshake.is_none();
        if only_old {
            // The failed handshake is explained by the old versions.
            findings.retain(|f| f.code != Code::ProtocolError);
        }
        findings.push(old_version_finding(versions, only_old));
    }
    if let Some(handshake) = obs.handshake {
        report.tls_version = Some(handshake.version);
        report.cipher = Some(handshake.cipher);
        report.alpn = handshake.alpn;
        let validation = validate(&Request {
            certificates: &handshake.captured.chain,
            name: Some(name),
            at: settings.at,
            trust: &settings.trust,
            source: Source::Served,
        });
        report.trusted = Some(validation.trusted);
        report.publicly_trusted = Some(validation.publicly_trusted);
        let weak_key = validation.findings.iter().any(|f| f.code == Code::WeakKey);
        findings.extend(validation.findings);
        if handshake.captured.signature_ok == Some(false) && !weak_key {
            findings.push(Finding::error(
                Code::BadSignature,
                "The server's handshake signature does not verify with the key of the certificate it sends: it does not hold that certificate's private key (a certificate and key that do not belong together); clients abort the connection",
                "Install the certificate together with its own private key (import the .pfx, or complete the request on the server that made it), and bind that certificate.",
            ));
        }
        // The store only speaks for this machine's own ports (asked only
        // when there is a store to compare with: it binds a socket).
        let bound = settings
            .bound
            .as_ref()
            .filter(|_| obs.address.is_some_and(|a| is_local(a.ip())));
        if let (Some(bound), Some(leaf), Some(address)) = (bound, &validation.leaf, obs.address) {
            let service = endpoint.scheme.service();
            let expected = bound.expected(service, Some(name), address);
            if !expected.is_empty() && !expected.iter().any(|e| e.thumbprint == leaf.thumbprint) {
                findings.push(not_bound_finding(leaf, &expected, service, name));
            }
        }
        report.chain = validation.chain;
    }
    tidy(&mut findings);
    report.findings = findings;
    report
}

/// The port serves a certificate the store would not serve there.
fn not_bound_finding(
    served: &mailcert_x509::CertSummary,
    expected: &[BoundCertificate],
    service: Service,
    name: &str,
) -> Finding {
    let by = |e: &BoundCertificate| match &e.listener {
        Some(l) => format!("listener '{l}'"),
        None => format!("{service} without a listener"),
    };
    let should = match expected {
        [one] => format!(
            "the store would serve {} (\"{}\") there, for {} ({})",
            one.thumbprint,
            one.subject,
            by(one),
            one.rule
        ),
        many => format!(
            "it is none of those the store would serve on {service} to a client asking for '{name}': {}",
            many.iter()
                .map(|e| format!("{} (\"{}\") for {}, because {}", e.thumbprint, e.subject, by(e), e.rule))
                .collect::<Vec<_>>()
                .join("; ")
        ),
    };
    Finding::error(
        Code::NotBoundCertificate,
        format!(
            "The port serves certificate {} (\"{}\"), but {should}. Clients still see an old or a foreign certificate",
            served.thumbprint,
            served.subject_cn()
        ),
        "Reload or restart the service so that it picks up the bound certificate (the mailcert front end follows the store by itself, and rereads its configuration on SIGHUP); if another program owns this port, configure the certificate there or move the service.",
    )
}

/// Is `ip` an address of this machine? Loopback, or one a socket can be
/// bound to (which only this machine's own addresses allow).
fn is_local(ip: std::net::IpAddr) -> bool {
    ip.is_loopback() || std::net::UdpSocket::bind((ip, 0)).is_ok()
}

/// "TLSv1.0 and TLSv1.1", "SSLv3, TLSv1.0 and TLSv1.1".
fn version_list(versions: &[u16]) -> String {
    let names: Vec<&str> = versions.iter().map(|&v| legacy::version_name(v)).collect();
    match names.split_last() {
        Some((last, rest)) if !rest.is_empty() => format!("{} and {last}", rest.join(", ")),
        Some((last, _)) => last.to_string(),
        None => String::new(),
    }
}

/// `versions`: every old version the server accepted, oldest first.
fn old_version_finding(versions: &[u16], only_old: bool) -> Finding {
    let names = version_list(versions);
    if only_old {
        Finding::error(
            Code::OldTlsVersion,
            format!(
                "The server only speaks {names}: current clients (Outlook and Windows with TLS 1.0/1.1 disabled, Thunderbird, iOS, Android, browsers) refuse to connect"
            ),
            "Enable TLS 1.2 and 1.3 on the server (update it if it cannot).",
        )
    } else {
        Finding::warning(
            Code::OldTlsVersion,
            format!(
                "The server still accepts {names}: clients that fall back to {} get weak protection, and audits (PCI DSS, BSI) flag it",
                if versions.len() > 1 { "them" } else { "it" }
            ),
            format!("Disable {names} on the server; allow TLS 1.2 and 1.3 only."),
        )
    }
}

/// Drops endpoints expanded from a bare host that did not answer, keeping
/// one `connect-failed` for a host where nothing answered at all.
fn keep_answering(endpoints: &[Endpoint], reports: Vec<EndpointReport>) -> Vec<EndpointReport> {
    let mut answered_hosts = HashSet::new();
    for (e, r) in endpoints.iter().zip(&reports) {
        if e.expanded && r.connected {
            answered_hosts.insert(e.host.clone());
        }
    }
    let mut reported_silent = HashSet::new();
    let mut out = Vec::new();
    for (e, r) in endpoints.iter().zip(reports) {
        if !e.expanded || r.connected {
            out.push(r);
            continue;
        }
        if answered_hosts.contains(&e.host) || !reported_silent.insert(e.host.clone()) {
            continue;
        }
        let ports: Vec<String> = Scheme::ALL
            .iter()
            .map(|s| format!("{} {}", s, s.default_port()))
            .collect();
        out.push(EndpointReport {
            endpoint: e.host.clone(),
            connected: false,
            findings: vec![Finding::error(
                Code::ConnectFailed,
                format!(
                    "Nothing answers on {} at any mail or web port ({})",
                    e.host,
                    ports.join(", ")
                ),
                "Check the name (does it resolve to the server?), that the services run, and the firewall.",
            )],
            ..EndpointReport::default()
        });
    }
    out
}

#[cfg(test)]
mod local_tests {
    #[test]
    fn old_versions_are_all_named() {
        use crate::legacy::{SSL3_0, TLS1_0, TLS1_1};
        assert_eq!(super::version_list(&[TLS1_1]), "TLSv1.1");
        assert_eq!(
            super::version_list(&[TLS1_0, TLS1_1]),
            "TLSv1.0 and TLSv1.1"
        );
        assert_eq!(
            super::version_list(&[SSL3_0, TLS1_0, TLS1_1]),
            "SSLv3, TLSv1.0 and TLSv1.1"
        );
    }

    #[test]
    fn only_this_machines_addresses_are_local() {
        assert!(super::is_local("127.0.0.1".parse().unwrap()));
        assert!(super::is_local("::1".parse().unwrap()));
        // TEST-NET-1 is never assigned to a machine.
        assert!(!super::is_local("192.0.2.77".parse().unwrap()));
    }
}
