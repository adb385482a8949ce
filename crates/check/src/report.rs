//! What `check --json` and `verify --json` print. The field names are a
//! fixed interface (see the design): add fields, never rename one.

use mailcert_mtasts::Mode;
use serde::Serialize;

use crate::finding::{has_errors, Finding};
use crate::validate::{ChainEntry, Validation};

/// The whole answer: one entry per endpoint (or per file for `verify`).
#[derive(Debug, Clone, Default, Serialize)]
pub struct Report {
    pub endpoints: Vec<EndpointReport>,
    /// `check --mta-sts DOMAIN`: each domain as a sending MTA sees it.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub mta_sts: Vec<MtaStsReport>,
}

impl Report {
    /// Any error-level finding anywhere: the run exits 1.
    pub fn has_errors(&self) -> bool {
        self.endpoints.iter().any(|e| has_errors(&e.findings))
            || self.mta_sts.iter().any(|d| d.has_errors())
    }
}

/// One endpoint: what was negotiated, what was served, what is wrong.
#[derive(Debug, Clone, Default, Serialize)]
pub struct EndpointReport {
    /// `imaps://mail.contoso.com:993`, or the file for `verify`.
    pub endpoint: String,
    /// A TCP connection was made (always false for `verify`).
    pub connected: bool,
    /// `TLSv1.3`, `TLSv1.2`; null when no handshake completed.
    pub tls_version: Option<String>,
    /// The negotiated cipher suite, as IANA names it.
    pub cipher: Option<String>,
    /// The certificates as served (or read), server certificate first.
    pub chain: Vec<ChainEntry>,
    pub findings: Vec<Finding>,
    /// The ALPN protocol the server chose, if any.
    pub alpn: Option<String>,
    /// The address actually dialled (differs with `--connect`).
    pub address: Option<String>,
    /// The name the certificate was checked against.
    pub name: Option<String>,
    /// rustls-webpki's verdict on chain, dates, usage and name; null when
    /// no certificate was obtained.
    pub trusted: Option<bool>,
    /// The chain reaches a root of the system's store.
    pub publicly_trusted: Option<bool>,
    /// Legacy protocol versions the server still accepts (`TLSv1.0`,
    /// `TLSv1.1`); null when not probed.
    pub legacy_versions: Option<Vec<String>>,
    /// The plaintext exchange before STARTTLS, for STARTTLS endpoints.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub starttls: Option<StartTlsReport>,
    /// The TLSA look-up of an SMTP endpoint (DANE), when one was made.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dane: Option<crate::dane::DaneReport>,
}

/// What the server said before TLS.
#[derive(Debug, Clone, Default, Serialize)]
pub struct StartTlsReport {
    pub greeting: String,
    pub capabilities: Vec<String>,
}

impl EndpointReport {
    /// A report for files checked offline.
    pub fn offline(label: &str, name: Option<&str>, validation: Validation) -> EndpointReport {
        EndpointReport {
            endpoint: label.to_string(),
            connected: false,
            chain: validation.chain,
            findings: validation.findings,
            name: name.map(str::to_string),
            trusted: Some(validation.trusted),
            publicly_trusted: Some(validation.publicly_trusted),
            ..EndpointReport::default()
        }
    }

    pub fn has_errors(&self) -> bool {
        has_errors(&self.findings)
    }
}

/// What `check --mta-sts DOMAIN --json` prints for the domain.
#[derive(Debug, Clone, Default, Serialize)]
pub struct MtaStsReport {
    pub domain: String,
    /// The resolver asked.
    pub resolver: String,
    /// `_mta-sts.<domain>`.
    pub txt_name: String,
    /// The valid `v=STSv1` record found, if any.
    pub txt: Option<String>,
    /// The policy's id from the record.
    pub id: Option<String>,
    pub policy_url: String,
    /// The policy as fetched (text), when it could be.
    pub policy: Option<String>,
    pub mode: Option<Mode>,
    /// The TLS side of the policy fetch: chain, validation findings.
    pub policy_host: Option<EndpointReport>,
    /// The MX hosts, in preference order.
    pub mx: Vec<MxReport>,
    pub findings: Vec<Finding>,
}

impl MtaStsReport {
    pub fn has_errors(&self) -> bool {
        has_errors(&self.findings) || self.policy_host.as_ref().is_some_and(|h| h.has_errors())
    }
}

/// One MX host as a sender sees it.
#[derive(Debug, Clone, Default, Serialize)]
pub struct MxReport {
    pub host: String,
    pub preference: u16,
    /// The policy line it matches, if any.
    pub pattern: Option<String>,
    /// The port-25 STARTTLS check of the host.
    pub endpoint: Option<EndpointReport>,
}
