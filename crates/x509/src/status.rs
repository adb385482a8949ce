//! Status as Exchange shows it, evaluated when read: the time-dependent
//! part from the dates, the trust part from a path validation done by
//! rustls-webpki (never home-made, see [`crate::validate`]), and warnings
//! for what clients will trip over even in a trusted certificate.
//!
//! A certificate signed with SHA-1, or with an RSA key under 2048 bits,
//! keeps the status its chain and dates give (`Valid` when its chain
//! reaches a trust anchor): those are not bad signatures nor broken
//! chains, and the warnings say that clients refuse them. `Invalid` is
//! only for a signature that does not match or a malformed certificate.

use serde::Serialize;
use time::OffsetDateTime;

use crate::cert::CertSummary;
use crate::sigalg::weak_hash;
use crate::time::{rfc3339, Validity};

/// The status column of `list`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Status {
    Valid,
    PendingRequest,
    DateInvalid,
    Untrusted,
    Invalid,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Valid => "Valid",
            Status::PendingRequest => "PendingRequest",
            Status::DateInvalid => "DateInvalid",
            Status::Untrusted => "Untrusted",
            Status::Invalid => "Invalid",
        }
    }
}

/// What path validation concluded, independent of the current date.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "verdict", content = "reason", rename_all = "kebab-case")]
pub enum Trust {
    /// The chain reaches a trust anchor.
    Trusted,
    /// Self-signed by this store: trusted here, as Exchange trusts its own.
    OwnSelfSigned,
    /// The chain does not reach a trust anchor; the reason says where it stops.
    Untrusted(String),
    /// A signature does not verify, or the certificate is malformed.
    Invalid(String),
}

impl Trust {
    /// Stable text form for storage.
    pub fn encode(&self) -> String {
        match self {
            Trust::Trusted => "trusted".into(),
            Trust::OwnSelfSigned => "own-self-signed".into(),
            Trust::Untrusted(r) => format!("untrusted:{r}"),
            Trust::Invalid(r) => format!("invalid:{r}"),
        }
    }

    /// The verdict as a sentence for people (never the stored form).
    pub fn words(&self) -> String {
        match self {
            Trust::Trusted => "trusted".into(),
            Trust::OwnSelfSigned => "self-signed by this store".into(),
            Trust::Untrusted(reason) => format!("untrusted: {reason}"),
            Trust::Invalid(reason) => format!("invalid: {reason}"),
        }
    }

    pub fn decode(text: &str) -> Trust {
        match text.split_once(':') {
            Some(("untrusted", r)) => Trust::Untrusted(r.into()),
            Some(("invalid", r)) => Trust::Invalid(r.into()),
            _ if text == "trusted" => Trust::Trusted,
            _ if text == "own-self-signed" => Trust::OwnSelfSigned,
            _ => Trust::Untrusted(format!("unknown trust record '{text}'")),
        }
    }
}

/// The default window for "expires in N days" warnings.
pub const EXPIRY_WARNING_DAYS: i64 = 30;

/// Status and warnings of a stored certificate at `now`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Evaluation {
    pub status: Status,
    pub warnings: Vec<String>,
    pub days_left: i64,
}

/// Combines the stored trust verdict with the dates at `now`.
pub fn evaluate(
    cert: &CertSummary,
    trust: &Trust,
    now: OffsetDateTime,
    window_days: i64,
) -> Evaluation {
    let days_left = (cert.not_after - now).whole_days();
    let mut warnings = Vec::new();
    let validity = cert.validity_at(now);
    let dated = validity != Validity::Valid;
    let status = match trust {
        Trust::Invalid(_) => Status::Invalid,
        _ if dated => Status::DateInvalid,
        Trust::Untrusted(_) => Status::Untrusted,
        Trust::Trusted | Trust::OwnSelfSigned => Status::Valid,
    };
    if validity == Validity::Expired {
        warnings.push(format!(
            "expired on {} ({} days ago): clients reject it; renew it",
            rfc3339(cert.not_after),
            (now - cert.not_after).whole_days()
        ));
    } else if validity == Validity::NotYetValid {
        warnings.push(format!("not valid until {}", rfc3339(cert.not_before)));
    } else if days_left <= window_days {
        warnings.push(format!("expires in {days_left} days"));
    }
    match trust {
        Trust::Untrusted(reason) | Trust::Invalid(reason) => warnings.push(reason.clone()),
        _ => {}
    }
    if cert.is_self_signed {
        warnings.push("self-signed: clients will not trust this certificate".into());
    }
    warnings.extend(certificate_warnings(cert));
    Evaluation {
        status,
        warnings,
        days_left,
    }
}

/// What clients will refuse in the certificate itself, whatever its
/// chain: in their words, with the fix.
pub fn certificate_warnings(cert: &CertSummary) -> Vec<String> {
    let mut out = Vec::new();
    if !cert.server_auth {
        out.push("no serverAuth extended key usage: it will not work as a TLS server certificate (clients refuse it for that); ask the CA for a certificate with serverAuth".into());
    }
    if cert.names.is_empty() && cert.ip_addresses.is_empty() {
        out.push("no subjectAltName: clients match the server name only there (the CN alone is ignored) and will reject it; get it reissued with the names in subjectAltName".into());
    }
    if let Some(weak) = weak_rsa_words(cert) {
        out.push(weak);
    }
    if let Some(hash) = weak_hash(&cert.signature_algorithm) {
        out.push(format!(
            "signed with {}: modern clients reject it; get it reissued with SHA-256",
            hash.words()
        ));
    }
    out
}

/// "RSA-1024 key: too weak …" for RSA keys under 2048 bits.
pub fn weak_rsa_words(cert: &CertSummary) -> Option<String> {
    if !cert.has_weak_rsa_key() {
        return None;
    }
    Some(format!(
        "RSA-{} key: too weak; modern clients refuse keys under 2048 bits and this server cannot sign with it; get a new certificate with a key of 2048 bits or more",
        cert.key_size
    ))
}
