//! DANE for SMTP endpoints (RFC 7672): the TLSA records at
//! `_PORT._tcp.HOST` through a validating resolver, compared with what
//! the server served. DNSSEC is the resolver's verdict (its AD bit), as
//! Postfix takes it: the resolver must validate and be reached over a
//! trusted path.

use std::net::SocketAddr;

use mailcert_dane::resolver::rcode_text;
use mailcert_dane::tlsa::{owner_name, Tlsa};
use mailcert_dane::Resolver;
use serde::Serialize;

use crate::finding::{Code, Finding};

/// What the TLSA look-up found, for `check --json`.
#[derive(Debug, Clone, Default, Serialize)]
pub struct DaneReport {
    /// `_25._tcp.mx1.contoso.com.`
    pub name: String,
    /// The resolver asked.
    pub resolver: String,
    /// `NOERROR`, `NXDOMAIN`, … (null when it did not answer).
    pub rcode: Option<String>,
    /// The AD bit: the resolver validated the records with DNSSEC.
    pub authenticated: bool,
    /// `3 1 1 ABCD…`, as published.
    pub records: Vec<String>,
    /// The records that match what the server served.
    pub matching: Vec<String>,
    /// Why there is no answer, if so.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// Whether `host` is a name DANE can be published for (not an address,
/// not `localhost`, at least two labels).
pub fn dane_host(host: &str) -> bool {
    let host = host.trim_end_matches('.');
    host.parse::<std::net::IpAddr>().is_err()
        && !host.trim_matches(|c| c == '[' || c == ']').contains(':')
        && !host.eq_ignore_ascii_case("localhost")
        && host.contains('.')
}

/// Looks the records up (blocking).
pub fn look_up(resolver: SocketAddr, host: &str, port: u16) -> DaneReport {
    let name = owner_name(port, host);
    let mut report = DaneReport {
        name: name.clone(),
        resolver: resolver.to_string(),
        ..DaneReport::default()
    };
    let mut asker = Resolver::new(resolver);
    asker.timeout = std::time::Duration::from_secs(4);
    match asker.tlsa(&name) {
        Ok(answer) => {
            report.rcode = Some(rcode_text(answer.rcode));
            report.authenticated = answer.authenticated;
            report.records = answer.records.iter().map(|(t, _)| t.rdata_text()).collect();
        }
        Err(e) => report.error = Some(e.to_string()),
    }
    report
}

/// The findings for the records in `report` against the served `chain`
/// (DER, leaf first); fills `report.matching`.
pub fn judge(report: &mut DaneReport, chain: &[Vec<u8>]) -> Vec<Finding> {
    let records: Vec<Tlsa> = report
        .records
        .iter()
        .filter_map(|r| Tlsa::parse(r))
        .collect();
    if records.is_empty() {
        return Vec::new();
    }
    let name = report.name.clone();
    let mut findings = Vec::new();
    let (usable, unusable): (Vec<&Tlsa>, Vec<&Tlsa>) =
        records.iter().partition(|t| t.usage.usable_for_smtp());
    let matching: Vec<&Tlsa> = usable
        .iter()
        .copied()
        .filter(|t| t.matches_chain(chain))
        .collect();
    report.matching = matching.iter().map(|t| t.rdata_text()).collect();
    let served_record = chain
        .first()
        .and_then(|leaf| mailcert_x509::CertSummary::from_der(leaf).ok())
        .map(|leaf| Tlsa::for_spki(mailcert_dane::Usage::DaneEe, &leaf.spki_der).rdata_text())
        .unwrap_or_default();

    if !report.authenticated {
        findings.push(Finding::info(
            Code::DaneInsecure,
            format!(
                "The TLSA records at {name} are not DNSSEC-signed (the resolver {} did not vouch for them with the AD bit), so sending servers ignore them and deliver with unauthenticated TLS: DANE protects nothing here{}",
                report.resolver,
                if matching.is_empty() && !usable.is_empty() {
                    "; they do not match the served certificate either, so signing the zone as it is would make validating senders defer mail"
                } else {
                    ""
                }
            ),
            "Sign the zone with DNSSEC and publish its DS record at the parent; if the zone is signed, make sure the resolver checked with (--dns) validates (Unbound, BIND with dnssec-validation auto, systemd-resolved is not enough).",
        ));
        return findings;
    }
    if !unusable.is_empty() {
        findings.push(Finding::warning(
            Code::DaneUnusableUsage,
            format!(
                "{name} has record(s) of usage 0 or 1 (PKIX-TA, PKIX-EE: {}), which SMTP senders ignore (RFC 7672 §3.1.3){}",
                unusable.iter().map(|t| t.rdata_text()).collect::<Vec<_>>().join(", "),
                if usable.is_empty() {
                    "; with no usable record left, validating senders still require TLS but authenticate nothing"
                } else {
                    ""
                }
            ),
            "Publish usage 3 (DANE-EE, the server's key: `mailcert dane`) or 2 (DANE-TA, the issuing CA's key: `mailcert dane --usage 2`) records instead, and remove the 0 and 1 records.",
        ));
    }
    if usable.is_empty() {
        return findings;
    }
    if matching.is_empty() {
        findings.push(Finding::error(
            Code::DaneMismatch,
            format!(
                "No TLSA record at {name} matches the certificate the server presents (its key's record would be `{served_record}`): sending servers that validate DANE (Postfix, Exim, Microsoft 365) refuse the connection and defer mail to this host until it matches"
            ),
            format!(
                "Publish `{name} IN TLSA {served_record}` beside the records there now (`mailcert dane` prints the records of the certificates bound to SMTP), or serve the certificate whose key the records name; keep the old record until the change has been seen everywhere (twice its TTL)."
            ),
        ));
    } else if usable.len() == 1 {
        findings.push(Finding::warning(
            Code::DaneSingleRecord,
            format!(
                "{name} has a single usable TLSA record: the next certificate change with a new key (every renewal, by default) serves a key no record names, and validating senders defer mail until the new record is published and seen"
            ),
            "Publish the next key's record beside the current one before the change: `mailcert dane enable`, then publish what `mailcert dane` prints (or add a usage 2 record for the issuing CA).",
        ));
    }
    findings
}
