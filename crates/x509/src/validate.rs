//! The trust verdict: path validation by rustls-webpki (never home-made),
//! judged independently of what a certificate is for and of today's date,
//! and every way it can fail said as a plain sentence with the fix.
//!
//! - Purpose: trust is judged for any extended key usage; a certificate
//!   without `serverAuth` gets its own warning (see [`crate::status`]).
//! - Dates: judged at the moment nearest to now when the certificate and
//!   its chain are all valid, so that an expired certificate is called
//!   expired (status `DateInvalid`), not "untrusted".
//! - Algorithms: webpki also gets SHA-1, RSA keys from 1024 bits and
//!   RSASSA-PSS with any salt ([`crate::sigalg`]): weak algorithms are
//!   warnings; only a signature that does not match is `Invalid`.

use std::time::Duration as StdDuration;

use rustls_pki_types::{CertificateDer, TrustAnchor, UnixTime};
use time::OffsetDateTime;
use webpki::{EndEntityCert, ExtendedKeyUsageValidator, KeyPurposeIdIter};

use crate::cert::CertSummary;
use crate::sigalg::{self, Check};
use crate::status::Trust;
use crate::time::{nearest_within, rfc3339};
use crate::tlv;

/// Start of the reason when the chain as given goes past the leaf and the
/// certificate at its top is issued by nobody trusted here: a root that is
/// not trusted (sent or not), rather than an intermediate the leaf lacks.
pub const UNTRUSTED_ROOT: &str = "the chain ends at";

/// Validates `leaf` with `intermediates` (its chain, issuer first) against
/// `anchors`. The verdict does not depend on `now` beyond choosing the
/// moment to judge at: the dates are judged on every read by
/// [`crate::status::evaluate`].
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
    // The time webpki is given is whole seconds: judge everything at it.
    let now = crate::time::whole_second(now);
    let path = Path {
        leaf,
        leaf_der,
        chain: intermediates
            .iter()
            .filter_map(|der| CertSummary::from_der(der).ok().map(|s| (s, der.as_slice())))
            .collect(),
        anchors,
        now,
    };
    let leaf_cert = CertificateDer::from(leaf_der);
    let ee = match EndEntityCert::try_from(&leaf_cert) {
        Ok(ee) => ee,
        Err(e) => return explain(&e, &path),
    };
    let inter: Vec<CertificateDer<'_>> = intermediates
        .iter()
        .map(|d| CertificateDer::from(d.as_slice()))
        .collect();
    let mut signed: Vec<&[u8]> = vec![leaf_der];
    signed.extend(intermediates.iter().map(Vec::as_slice));
    let algorithms = sigalg::webpki_algorithms(&signed);
    let at = path.judging_time();
    let time =
        UnixTime::since_unix_epoch(StdDuration::from_secs(at.unix_timestamp().max(0) as u64));
    match ee.verify_for_usage(&algorithms, anchors, &inter, time, AnyPurpose, None, None) {
        Ok(_) => Trust::Trusted,
        Err(e) => explain(&e, &path),
    }
}

/// Trust is judged whatever the certificate is for: a client-only
/// certificate is trusted or not like any other; that it will not serve
/// TLS is a warning of its own.
struct AnyPurpose;

impl ExtendedKeyUsageValidator for AnyPurpose {
    fn validate(&self, iter: KeyPurposeIdIter<'_, '_>) -> Result<(), webpki::Error> {
        for purpose in iter {
            purpose?;
        }
        Ok(())
    }
}

/// What the explanations need: the leaf, the chain as given and the anchors.
pub(crate) struct Path<'a> {
    pub leaf: &'a CertSummary,
    pub leaf_der: &'a [u8],
    pub chain: Vec<(CertSummary, &'a [u8])>,
    pub anchors: &'a [TrustAnchor<'a>],
    pub now: OffsetDateTime,
}

impl Path<'_> {
    fn leaf_in_dates(&self) -> bool {
        self.leaf.validity_at(self.now) == crate::time::Validity::Valid
    }

    /// Now, when the leaf is valid now: what the chain's dates say today is
    /// what clients see. Otherwise the leaf's own dates are the problem
    /// (status DateInvalid), and the chain is judged at the moment nearest
    /// to now when the leaf and every certificate of the chain are valid.
    fn judging_time(&self) -> OffsetDateTime {
        if self.leaf_in_dates() {
            return self.now;
        }
        let (lo, hi) = self.common_window();
        if lo <= hi {
            self.now.clamp(lo, hi)
        } else {
            nearest_within(self.now, self.leaf.not_before, self.leaf.not_after)
        }
    }

    fn common_window(&self) -> (OffsetDateTime, OffsetDateTime) {
        let lo = self
            .chain
            .iter()
            .map(|(s, _)| s.not_before)
            .fold(self.leaf.not_before, OffsetDateTime::max);
        let hi = self
            .chain
            .iter()
            .map(|(s, _)| s.not_after)
            .fold(self.leaf.not_after, OffsetDateTime::min);
        (lo, hi)
    }

    /// The chain certificate whose date webpki refused.
    fn dated(&self, unix: u64, pick: fn(&CertSummary) -> OffsetDateTime) -> Option<&CertSummary> {
        self.chain
            .iter()
            .map(|(s, _)| s)
            .find(|s| pick(s).unix_timestamp() == unix as i64)
    }

    fn date_problem(&self, error: &webpki::Error) -> String {
        let (unix, expired) = match error {
            webpki::Error::CertExpired { not_after, .. } => (not_after.as_secs(), true),
            webpki::Error::CertNotValidYet { not_before, .. } => (not_before.as_secs(), false),
            _ => (0, true),
        };
        let pick = if expired {
            |s: &CertSummary| s.not_after
        } else {
            |s: &CertSummary| s.not_before
        };
        let Some(cert) = self.dated(unix, pick) else {
            let date = OffsetDateTime::from_unix_timestamp(unix as i64)
                .map(rfc3339)
                .unwrap_or_default();
            return if expired {
                format!("a certificate of its chain expired on {date}: clients reject the chain; get the CA's current intermediate and add it with `mailcert complete FILE --chain INTERMEDIATE.pem`")
            } else {
                format!("a certificate of its chain is not valid until {date}: clients reject the chain until then; ask the CA for the intermediate that is valid now")
            };
        };
        let cn = cert.subject_cn();
        if !self.leaf_in_dates() {
            return format!(
                "its issuer '{cn}' is valid from {} to {}, never at the same time as this certificate ({} to {}): no client ever accepted this chain; ask the CA for a new certificate",
                rfc3339(cert.not_before),
                rfc3339(cert.not_after),
                rfc3339(self.leaf.not_before),
                rfc3339(self.leaf.not_after)
            );
        }
        if expired {
            format!(
                "the intermediate '{cn}' expired on {}: clients reject the chain although this certificate is within its dates; get the CA's current intermediate and add it with `mailcert complete FILE --chain INTERMEDIATE.pem`",
                rfc3339(cert.not_after)
            )
        } else {
            format!(
                "the intermediate '{cn}' is not valid until {}: clients reject the chain until then; ask the CA for the intermediate that is valid now and add it with `mailcert complete FILE --chain INTERMEDIATE.pem`",
                rfc3339(cert.not_before)
            )
        }
    }

    /// The first link leaf → chain → anchor whose signature does not
    /// verify, checked with [`sigalg`]: a mismatch (altered or damaged) or
    /// an algorithm nobody can check any more.
    fn signature_problem(&self) -> Option<Trust> {
        let mut subject: (&CertSummary, &[u8]) = (self.leaf, self.leaf_der);
        let mut used: Vec<&[u8]> = Vec::new();
        loop {
            let issuer = self.chain.iter().find(|(s, der)| {
                subject.0.issued_by(s) && !used.contains(der) && *der != subject.1
            });
            let (issuer_cn, check) = match issuer {
                Some((s, der)) => {
                    used.push(der);
                    (s.subject_cn(), crate::chain::signed_by(subject.1, der))
                }
                None => {
                    let inner = tlv::split(&subject.0.issuer_raw)
                        .map(|(e, _)| e.content)
                        .unwrap_or(&subject.0.issuer_raw);
                    let anchor = self.anchors.iter().find(|a| a.subject.as_ref() == inner)?;
                    let spki = tlv::encode(0x30, anchor.subject_public_key_info.as_ref());
                    (
                        subject.0.issuer_cn(),
                        sigalg::check_certificate(subject.1, &spki),
                    )
                }
            };
            let cn = subject.0.subject_cn();
            match check {
                Check::Verified => {}
                Check::Mismatch => return Some(Trust::Invalid(bad_signature(&cn, &issuer_cn))),
                Check::Unsupported(why) => {
                    return Some(Trust::Untrusted(format!(
                        "the signature on '{cn}' by '{issuer_cn}' cannot be checked: {why} is accepted neither by clients nor here; ask the CA to reissue it with SHA-256 and a key of 2048 bits or more"
                    )))
                }
            }
            match issuer {
                Some((s, der)) if !s.is_self_signed => subject = (s, der),
                _ => return None,
            }
        }
    }
}

/// The words for a signature that does not match (also used when the
/// chain is built).
pub fn bad_signature(subject_cn: &str, issuer_cn: &str) -> String {
    format!(
        "the signature on '{subject_cn}' does not verify with the key of its issuer '{issuer_cn}': the certificate was altered or damaged; get it again from the CA"
    )
}

/// Every webpki error as a verdict with a plain sentence and the fix.
/// `Invalid` is kept for what is broken (a signature that does not match,
/// a malformed certificate); everything else is `Untrusted`.
pub(crate) fn explain(error: &webpki::Error, path: &Path<'_>) -> Trust {
    use webpki::Error as E;
    let reissue = "ask the CA to reissue the certificate";
    let untrusted = |s: String| Trust::Untrusted(s);
    let malformed = |what: &str| {
        Trust::Invalid(format!(
            "{what}: clients reject it; get the certificate and its chain again from the CA, and if it is the same, {reissue}"
        ))
    };
    #[allow(deprecated)]
    match error {
        E::UnknownIssuer => unknown_issuer(path),
        E::CertExpired { .. } | E::CertNotValidYet { .. } => untrusted(path.date_problem(error)),
        E::InvalidSignatureForPublicKey
        | E::UnsupportedSignatureAlgorithm
        | E::UnsupportedSignatureAlgorithmContext(_)
        | E::UnsupportedSignatureAlgorithmForPublicKey
        | E::UnsupportedSignatureAlgorithmForPublicKeyContext(_) => path
            .signature_problem()
            .unwrap_or_else(|| signature_fallback(error)),
        E::SignatureAlgorithmMismatch => Trust::Invalid(
            "a certificate of the chain names one signature algorithm inside and another outside: it was altered or damaged; get it again from the CA".into(),
        ),
        E::CaUsedAsEndEntity => untrusted(
            "it is a CA certificate (basicConstraints CA:TRUE): clients reject it as a server certificate; get a server certificate (CA:FALSE) from the CA or make one with `mailcert new --self-signed`; to trust this CA instead, use `mailcert trust add FILE`".into(),
        ),
        E::EndEntityUsedAsCa => untrusted(
            "a certificate in its chain is not a CA (no basicConstraints CA:TRUE) yet stands where the issuer should be: the chain given is wrong; add the CA's real intermediate with `mailcert complete FILE --chain INTERMEDIATE.pem`".into(),
        ),
        E::PathLenConstraintViolated => untrusted(format!(
            "the chain has more intermediates than a CA in it allows (pathLenConstraint): clients reject it; {reissue} from an intermediate that may issue it"
        )),
        E::NameConstraintViolation => untrusted(format!(
            "a CA of the chain may not issue certificates for these names (name constraints): clients reject it; {reissue} from a CA allowed to certify these names"
        )),
        E::UnsupportedNameType => untrusted(format!(
            "a CA of the chain restricts names with a kind of constraint clients cannot evaluate, so they reject it; {reissue} from another intermediate"
        )),
        E::CertDistrusted => untrusted(
            "a certificate of the chain is distrusted by clients (its CA was removed from the trust stores): get a certificate from another CA".into(),
        ),
        E::UnsupportedCertVersion => untrusted(format!(
            "{} an X.509 version 1 or 2 certificate: clients accept only version 3 below the root; {reissue} as version 3",
            if crate::cert::x509_version(path.leaf_der).is_some_and(|v| v < 3) {
                "it is"
            } else {
                "a certificate of its chain is"
            }
        )),
        E::UnsupportedCriticalExtension => untrusted(format!(
            "a certificate of the chain has a critical extension clients do not understand, so they must reject it; {reissue} without it"
        )),
        E::RequiredEkuNotFound | E::RequiredEkuNotFoundContext(_) => untrusted(
            "a certificate of the chain is restricted (extended key usage) to uses that exclude this one: clients reject it; ask the CA for a certificate and chain meant for TLS servers".into(),
        ),
        E::EmptyEkuExtension => malformed("a certificate of the chain has an empty extended key usage extension"),
        E::BadDer => malformed("a certificate of the chain is not correctly encoded (DER)"),
        E::BadDerTime => malformed("a date in a certificate of the chain is not correctly encoded"),
        E::TrailingData(_) => malformed("a certificate of the chain has unexpected bytes after its end"),
        E::MalformedExtensions => malformed("a certificate of the chain has malformed extensions"),
        E::ExtensionValueInvalid => malformed("an extension of a certificate of the chain holds an invalid value"),
        E::MalformedDnsIdentifier => malformed("a DNS name in a certificate of the chain is malformed"),
        E::MalformedNameConstraint | E::InvalidNetworkMaskConstraint => {
            malformed("the name constraints of a CA of the chain are malformed")
        }
        E::InvalidSerialNumber => malformed(
            "a certificate of the chain has an invalid serial number (zero, negative or longer than 20 bytes)",
        ),
        E::InvalidCertValidity => malformed("a certificate of the chain ends before it begins (notAfter is earlier than notBefore)"),
        E::MaximumPathDepthExceeded
        | E::MaximumSignatureChecksExceeded
        | E::MaximumPathBuildCallsExceeded
        | E::MaximumNameConstraintComparisonsExceeded => untrusted(
            "the chain is longer or more tangled than clients will follow: keep only the intermediates of this certificate's own path (`mailcert export --pem` shows them) and add them again with `mailcert complete FILE --chain`".into(),
        ),
        E::CertNotValidForName(_) => untrusted(
            "the certificate does not carry the name it was checked for; get one with the names clients use".into(),
        ),
        // Revocation is not checked when judging trust; these cannot occur
        // here, but each still gets a sentence rather than a code.
        E::CertRevoked => untrusted("the certificate was revoked by its CA: get a new one".into()),
        E::UnknownRevocationStatus
        | E::CrlExpired { .. }
        | E::InvalidCrlNumber
        | E::InvalidCrlSignatureForPublicKey
        | E::IssuerNotCrlSigner
        | E::UnsupportedCrlVersion
        | E::UnsupportedDeltaCrl
        | E::UnsupportedIndirectCrl
        | E::UnsupportedRevocationReason
        | E::UnsupportedRevocationReasonsPartitioning
        | E::UnsupportedCrlIssuingDistributionPoint
        | E::UnsupportedCrlSignatureAlgorithm
        | E::UnsupportedCrlSignatureAlgorithmContext(_)
        | E::UnsupportedCrlSignatureAlgorithmForPublicKey
        | E::UnsupportedCrlSignatureAlgorithmForPublicKeyContext(_) => untrusted(
            "its revocation status cannot be established from the CA's revocation list: ask the CA whether it is still valid".into(),
        ),
        _ => untrusted(
            "path validation rejected the chain for a reason this version does not describe; check it with `openssl verify -untrusted CHAIN.pem CERT.pem` and ask the CA".into(),
        ),
    }
}

fn signature_fallback(error: &webpki::Error) -> Trust {
    match error {
        webpki::Error::InvalidSignatureForPublicKey => Trust::Invalid(
            "a signature in the chain does not verify with its issuer's key: the certificate or its chain was altered or damaged; get them again from the CA".into(),
        ),
        _ => Trust::Untrusted(
            "a certificate of the chain is signed with an algorithm clients no longer accept; ask the CA to reissue it with SHA-256 and a key of 2048 bits or more".into(),
        ),
    }
}

fn unknown_issuer(path: &Path<'_>) -> Trust {
    let leaf = path.leaf;
    if leaf.is_self_signed {
        return Trust::Untrusted(
            "self-signed by another machine; its issuer is not a trusted root".into(),
        );
    }
    // Follow the chain as given: the missing piece is the issuer of the
    // last certificate found, not necessarily the leaf's.
    let given: Vec<&CertSummary> = path.chain.iter().map(|(s, _)| s).collect();
    let mut top = leaf;
    for _ in 0..given.len() {
        match given
            .iter()
            .find(|c| !std::ptr::eq(**c, top) && top.issued_by(c))
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chain::tests::pki;
    use webpki::Error as E;

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

    /// Every error webpki can return, with the verdict kind expected.
    fn table() -> Vec<(E, bool)> {
        #[allow(deprecated)]
        let errors = vec![
            (E::BadDer, true),
            (E::BadDerTime, true),
            (E::CaUsedAsEndEntity, false),
            (E::CertDistrusted, false),
            (
                E::CertExpired {
                    time: UnixTime::since_unix_epoch(StdDuration::from_secs(2_000_000_000)),
                    not_after: UnixTime::since_unix_epoch(StdDuration::from_secs(1_900_000_000)),
                },
                false,
            ),
            (
                E::CertNotValidYet {
                    time: UnixTime::since_unix_epoch(StdDuration::from_secs(1_000_000_000)),
                    not_before: UnixTime::since_unix_epoch(StdDuration::from_secs(1_100_000_000)),
                },
                false,
            ),
            (E::CertRevoked, false),
            (
                E::CrlExpired {
                    time: UnixTime::since_unix_epoch(StdDuration::from_secs(2)),
                    next_update: UnixTime::since_unix_epoch(StdDuration::from_secs(1)),
                },
                false,
            ),
            (E::EmptyEkuExtension, true),
            (E::EndEntityUsedAsCa, false),
            (E::ExtensionValueInvalid, true),
            (E::InvalidCertValidity, true),
            (E::InvalidCrlNumber, false),
            (E::InvalidNetworkMaskConstraint, true),
            (E::InvalidSerialNumber, true),
            (E::InvalidCrlSignatureForPublicKey, false),
            (E::InvalidSignatureForPublicKey, true),
            (E::IssuerNotCrlSigner, false),
            (E::MalformedDnsIdentifier, true),
            (E::MalformedExtensions, true),
            (E::MalformedNameConstraint, true),
            (E::MaximumNameConstraintComparisonsExceeded, false),
            (E::MaximumPathBuildCallsExceeded, false),
            (E::MaximumPathDepthExceeded, false),
            (E::MaximumSignatureChecksExceeded, false),
            (E::NameConstraintViolation, false),
            (E::PathLenConstraintViolated, false),
            (E::RequiredEkuNotFound, false),
            (
                E::RequiredEkuNotFoundContext(webpki::RequiredEkuNotFoundContext {
                    required: webpki::KeyUsage::server_auth(),
                    present: vec![vec![1, 3, 6, 1, 5, 5, 7, 3, 2]],
                }),
                false,
            ),
            (E::SignatureAlgorithmMismatch, true),
            (E::TrailingData(webpki::DerTypeId::Certificate), true),
            (E::UnknownIssuer, false),
            (E::UnknownRevocationStatus, false),
            (E::UnsupportedCertVersion, false),
            (E::UnsupportedCriticalExtension, false),
            (E::UnsupportedCrlIssuingDistributionPoint, false),
            (E::UnsupportedCrlVersion, false),
            (E::UnsupportedDeltaCrl, false),
            (E::UnsupportedIndirectCrl, false),
            (E::UnsupportedNameType, false),
            (E::UnsupportedRevocationReason, false),
            (E::UnsupportedRevocationReasonsPartitioning, false),
            (E::UnsupportedCrlSignatureAlgorithm, false),
            (
                E::UnsupportedCrlSignatureAlgorithmContext(
                    webpki::UnsupportedSignatureAlgorithmContext {
                        signature_algorithm_id: vec![6, 1, 1],
                        supported_algorithms: Vec::new(),
                    },
                ),
                false,
            ),
            (E::UnsupportedSignatureAlgorithm, false),
            (
                E::UnsupportedSignatureAlgorithmContext(
                    webpki::UnsupportedSignatureAlgorithmContext {
                        signature_algorithm_id: vec![6, 1, 1],
                        supported_algorithms: Vec::new(),
                    },
                ),
                false,
            ),
            (E::UnsupportedCrlSignatureAlgorithmForPublicKey, false),
            (
                E::UnsupportedCrlSignatureAlgorithmForPublicKeyContext(
                    webpki::UnsupportedSignatureAlgorithmForPublicKeyContext {
                        signature_algorithm_id: vec![6, 1, 1],
                        public_key_algorithm_id: vec![6, 1, 2],
                    },
                ),
                false,
            ),
            (E::UnsupportedSignatureAlgorithmForPublicKey, false),
            (
                E::UnsupportedSignatureAlgorithmForPublicKeyContext(
                    webpki::UnsupportedSignatureAlgorithmForPublicKeyContext {
                        signature_algorithm_id: vec![6, 1, 1],
                        public_key_algorithm_id: vec![6, 1, 2],
                    },
                ),
                false,
            ),
        ];
        errors
    }

    #[test]
    fn every_webpki_error_is_a_sentence_with_a_fix() {
        let pki = pki();
        let leaf = CertSummary::from_der(&pki[0].0).unwrap();
        let path = Path {
            leaf: &leaf,
            leaf_der: &pki[0].0,
            chain: Vec::new(),
            anchors: &[],
            now: leaf.not_before,
        };
        let fixes = [
            "ask ", "get ", "add ", "use ", "make ", "check ", "keep ", "trust",
        ];
        for (error, invalid) in table() {
            let (text, is_invalid) = match explain(&error, &path) {
                Trust::Invalid(text) => (text, true),
                Trust::Untrusted(text) => (text, false),
                other => panic!("{error:?} gave {other:?}"),
            };
            assert_eq!(is_invalid, invalid, "{error:?}: {text}");
            // No Rust names, debug dumps or byte lists.
            assert!(
                !text.contains('{') && !text.contains('[') && !text.contains("Context"),
                "{error:?}: {text}"
            );
            let camel = text.split(|c: char| !c.is_alphanumeric()).any(|word| {
                word.len() > 3
                    && word.chars().next().is_some_and(char::is_uppercase)
                    && word.chars().skip(1).any(char::is_uppercase)
                    && word.chars().any(char::is_lowercase)
            });
            assert!(!camel, "{error:?}: a code name in {text}");
            assert!(
                fixes.iter().any(|f| text.contains(f)),
                "{error:?} says no fix: {text}"
            );
        }
    }

    /// Found by the validate_chain fuzz target (the same rule in the
    /// checker): a certificate that ends before it begins panicked while
    /// the verdict looked for a moment inside its dates.
    #[test]
    fn a_certificate_that_ends_before_it_begins_gets_a_verdict() {
        let mut params = rcgen::CertificateParams::new(vec!["mail.example.com".into()]).unwrap();
        let now = crate::build::now_utc();
        params.not_before = now + time::Duration::days(10);
        params.not_after = now - time::Duration::days(10);
        let key = crate::KeyType::EcP256.generate().unwrap();
        let der = params.self_signed(&key).unwrap().der().to_vec();
        let summary = CertSummary::from_der(&der).unwrap();
        match validate_chain(&summary, &der, &[], &[], false, now) {
            Trust::Untrusted(_) | Trust::Invalid(_) => {}
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_ca_certificate_is_named_as_such() {
        let pki = pki();
        let root = CertSummary::from_der(&pki[2].0).unwrap();
        let now = root.not_before;
        match validate_chain(&root, &pki[2].0, &[], &[], false, now) {
            Trust::Untrusted(reason) => {
                assert!(reason.starts_with("it is a CA certificate (basicConstraints CA:TRUE): clients reject it as a server certificate"), "{reason}")
            }
            other => panic!("{other:?}"),
        }
    }
}
