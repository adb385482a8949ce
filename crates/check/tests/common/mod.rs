//! What the checker's tests share over the harness: `openssl s_server`
//! endpoints, trust stores of test roots, and a runner for checks.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use mailcert_testkit::OpensslServer;

use mailcert_check::{
    check_endpoints, Code, ConnectTo, Endpoint, EndpointReport, Origin, Settings, TrustStore,
};
use time::OffsetDateTime;

pub use mailcert_testkit::pki::{Cert, Key, Spec};
pub use mailcert_testkit::{eqnice, free_port, openssl, OpensslPki as Pki};

/// `openssl s_server` serving `cert` with the chain file `chain` (sent
/// after the certificate) and no session tickets, plus `extra` options.
pub fn s_server(cert: &Cert, chain: Option<&Path>, extra: &[&str]) -> OpensslServer {
    let mut options = vec!["-no_ticket"];
    options.extend_from_slice(extra);
    OpensslServer::start(&cert.pem, &cert.key, chain, &options)
}

/// Trust: no system roots, the given roots as private anchors.
pub fn trust(roots: &[&Cert]) -> TrustStore {
    let mut t = TrustStore::empty();
    for r in roots {
        t.add(&r.der, Origin::Private, "test root").expect("anchor");
    }
    t
}

/// Checks `endpoint` dialling the loopback `port`, validating `name`.
pub fn check(endpoint: &str, port: u16, trust: TrustStore) -> EndpointReport {
    check_with(endpoint, port, trust, |_| {})
}

pub fn check_with(
    endpoint: &str,
    port: u16,
    trust: TrustStore,
    adjust: impl FnOnce(&mut Settings),
) -> EndpointReport {
    let endpoints = Endpoint::parse_all(endpoint).expect("endpoint");
    let mut settings = Settings::new(trust, OffsetDateTime::now_utc());
    settings.connect = Some(ConnectTo {
        host: "127.0.0.1".into(),
        port: Some(port),
    });
    settings.timeout = Duration::from_secs(5);
    adjust(&mut settings);
    let mut report = check_endpoints(&endpoints, &settings, None).expect("check runs");
    assert_eq!(report.endpoints.len(), 1);
    report.endpoints.remove(0)
}

/// The finding codes of a report, in order.
pub fn codes(report: &EndpointReport) -> Vec<Code> {
    let mut c: Vec<Code> = report.findings.iter().map(|f| f.code).collect();
    c.sort();
    c
}

pub fn sorted(mut c: Vec<Code>) -> Vec<Code> {
    c.sort();
    c
}

pub fn describe(report: &EndpointReport) -> String {
    serde_json::to_string_pretty(report).unwrap_or_default()
}

pub fn shared<T>(t: T) -> Arc<T> {
    Arc::new(t)
}
