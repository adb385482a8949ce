//! Status as Exchange shows it, evaluated when read: the time-dependent
//! part from the dates, the trust part from a path validation done by
//! rustls-webpki (never home-made).

use std::time::Duration as StdDuration;

use rustls_pki_types::{CertificateDer, TrustAnchor, UnixTime};
use serde::Serialize;
use time::OffsetDateTime;
use webpki::{EndEntityCert, KeyUsage};

use crate::cert::CertSummary;

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

/// Validates `leaf` with `intermediates` against `anchors` at a time inside
/// the leaf's validity, so that the verdict does not go stale by itself:
/// the dates are judged on every read by [`evaluate`].
pub fn validate_chain(
    leaf: &CertSummary,
    leaf_der: &[u8],
    intermediates: &[Vec<u8>],
    anchors: &[TrustAnchor<'_>],
    own_self_signed: bool,
    now: OffsetDateTime,
) -> Trust {
    if leaf.is_self_signed && own_self_signed {
        return Trust::OwnSelfSigned;
    }
    let leaf_der = CertificateDer::from(leaf_der);
    let ee = match EndEntityCert::try_from(&leaf_der) {
        Ok(ee) => ee,
        Err(e) => return Trust::Invalid(format!("the certificate cannot be parsed ({e})")),
    };
    let inter: Vec<CertificateDer<'_>> = intermediates
        .iter()
        .map(|d| CertificateDer::from(d.as_slice()))
        .collect();
    let at = now.clamp(leaf.not_before, leaf.not_after);
    let time =
        UnixTime::since_unix_epoch(StdDuration::from_secs(at.unix_timestamp().max(0) as u64));
    let result = ee.verify_for_usage(
        webpki::ALL_VERIFICATION_ALGS,
        anchors,
        &inter,
        time,
        KeyUsage::server_auth(),
        None,
        None,
    );
    match result {
        Ok(_) => Trust::Trusted,
        Err(e) => classify(e, leaf, intermediates),
    }
}

/// Start of the reason when the chain as given goes past the leaf and the
/// certificate at its top is issued by nobody trusted here: a root that is
/// not trusted (sent or not), rather than an intermediate the leaf lacks.
pub const UNTRUSTED_ROOT: &str = "the chain ends at";

fn classify(error: webpki::Error, leaf: &CertSummary, intermediates: &[Vec<u8>]) -> Trust {
    use webpki::Error as E;
    match error {
        E::UnknownIssuer if leaf.is_self_signed => Trust::Untrusted(
            "self-signed by another machine; its issuer is not a trusted root".into(),
        ),
        E::UnknownIssuer => {
            // Follow the chain as given: the missing piece is the issuer of
            // the last certificate found, not necessarily the leaf's.
            let given: Vec<CertSummary> = intermediates
                .iter()
                .filter_map(|d| CertSummary::from_der(d).ok())
                .collect();
            let mut top = leaf;
            for _ in 0..given.len() {
                match given
                    .iter()
                    .find(|c| !std::ptr::eq(*c, top) && top.issued_by(c))
                {
                    Some(root) if root.is_self_signed => {
                        return Trust::Untrusted(format!(
                            "{UNTRUSTED_ROOT} the root '{}', which is not a trusted root here",
                            root.subject_cn()
                        ))
                    }
                    Some(next) => top = next,
                    None => break,
                }
            }
            if std::ptr::eq(top, leaf) {
                return Trust::Untrusted(format!(
                    "the issuer '{}' is not in the chain and not a trusted root",
                    leaf.issuer_cn()
                ));
            }
            Trust::Untrusted(format!(
                "{UNTRUSTED_ROOT} '{}', whose issuer '{}' is not a trusted root here",
                top.subject_cn(),
                top.issuer_cn()
            ))
        }
        E::RequiredEkuNotFoundContext(_) => Trust::Trusted,
        E::CertExpired { .. } => Trust::Untrusted("a certificate of the chain has expired".into()),
        E::CertNotValidYet { .. } => {
            Trust::Untrusted("a certificate of the chain is not valid yet".into())
        }
        E::InvalidSignatureForPublicKey => Trust::Invalid("a signature does not verify".into()),
        E::BadDer | E::BadDerTime | E::TrailingData(_) => {
            Trust::Invalid(format!("malformed certificate ({error:?})"))
        }
        other => Trust::Untrusted(format!("{other:?}")),
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
    let dated = now < cert.not_before || now > cert.not_after;
    let status = match trust {
        Trust::Invalid(_) => Status::Invalid,
        _ if dated => Status::DateInvalid,
        Trust::Untrusted(_) => Status::Untrusted,
        Trust::Trusted | Trust::OwnSelfSigned => Status::Valid,
    };
    if now > cert.not_after {
        warnings.push(format!(
            "expired {} days ago",
            (now - cert.not_after).whole_days()
        ));
    } else if now < cert.not_before {
        warnings.push(format!(
            "not valid until {}",
            crate::time::rfc3339(cert.not_before)
        ));
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
    if !cert.server_auth {
        warnings.push("no serverAuth extended key usage: clients will refuse it for TLS".into());
    }
    Evaluation {
        status,
        warnings,
        days_left,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chain::tests::pki;

    #[test]
    fn an_untrusted_root_is_named_rather_than_a_missing_intermediate() {
        let pki = pki();
        let (leaf, int, root) = (&pki[0].0, &pki[1].0, &pki[2].0);
        let summary = CertSummary::from_der(leaf).unwrap();
        let now = summary.not_before;
        let reason =
            |chain: &[Vec<u8>]| match validate_chain(&summary, leaf, chain, &[], false, now) {
                Trust::Untrusted(reason) => reason,
                other => panic!("{other:?}"),
            };
        // Only the leaf: its issuer is what is missing.
        assert_eq!(
            reason(&[]),
            "the issuer 'Unit Intermediate' is not in the chain and not a trusted root"
        );
        // With the intermediate (as a CA or ACME sends it): the root it needs.
        let r = reason(std::slice::from_ref(int));
        assert!(
            r.starts_with(UNTRUSTED_ROOT) && r.contains("'Unit Root'"),
            "{r}"
        );
        // With the root too: that root is not trusted.
        let r = reason(&[root.clone(), int.clone()]);
        assert_eq!(
            r,
            "the chain ends at the root 'Unit Root', which is not a trusted root here"
        );
    }
}
