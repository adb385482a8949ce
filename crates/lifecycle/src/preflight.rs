//! What a client would trip over, checked before a certificate is bound.

use mailcert_x509::names::best_match;
use mailcert_x509::sigalg::{weak_hash, Hash};
use mailcert_x509::status::EXPIRY_WARNING_DAYS;
use mailcert_x509::{CertSummary, Trust};
use time::OffsetDateTime;

/// One pre-flight finding, phrased as the client's complaint.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Preflight {
    pub code: &'static str,
    pub message: String,
}

/// Checks `cert` (with `chain`, the certificates above it) for binding;
/// `hostnames` are the names clients will use (the listeners' configured
/// FQDNs).
pub fn preflight(
    cert: &CertSummary,
    chain: &[CertSummary],
    trust: &Trust,
    hostnames: &[String],
    now: OffsetDateTime,
) -> Vec<Preflight> {
    let mut out = Vec::new();
    for host in hostnames {
        let covered = best_match(cert.names.iter().map(String::as_str), host).is_some()
            || cert.ip_addresses.iter().any(|ip| ip.to_string() == *host);
        if !covered {
            out.push(Preflight {
                code: "name-mismatch",
                message: format!(
                    "clients connecting to '{host}' will say the name on the certificate does not match: it carries {}",
                    if cert.names.is_empty() { "no DNS names".to_string() } else { cert.names.join(", ") }
                ),
            });
        }
    }
    if let Trust::Untrusted(reason) = trust {
        if !cert.is_self_signed {
            let root = reason.starts_with(mailcert_x509::status::UNTRUSTED_ROOT);
            // The reason may already say what to do (the chain explanation
            // of `complete`); otherwise the hint fits where the chain stops.
            let hint = if reason.contains("`mailcert ") {
                ""
            } else if root {
                "; if that is your organisation's root, distribute it to clients and trust it here with `mailcert trust add ROOT.pem`; if it is an intermediate, add it with `mailcert complete --chain`"
            } else {
                "; add the intermediate with `mailcert complete --chain` or `mailcert import`"
            };
            out.push(Preflight {
                code: if root {
                    "untrusted-issuer"
                } else {
                    "incomplete-chain"
                },
                message: format!(
                    "clients may say the certificate is not from a trusted certifying authority: {reason}{hint}"
                ),
            });
        }
    }
    if !cert.server_auth {
        out.push(Preflight {
            code: "no-server-auth-eku",
            message: "the certificate is not meant for servers (no serverAuth extended key usage): clients will refuse it".into(),
        });
    }
    if cert.has_weak_rsa_key() {
        out.push(Preflight {
            code: "weak-key",
            message: format!(
                "clients will refuse to connect: the certificate's RSA key has {} bits and they require 2048 or more; get a new certificate with a stronger key",
                cert.key_size
            ),
        });
    }
    // A weak key above the leaf signs what clients check: they refuse it.
    for c in chain.iter().filter(|c| c.has_weak_rsa_key()) {
        out.push(Preflight {
            code: "weak-key",
            message: format!(
                "clients will refuse to connect: {} '{}' in the chain has an RSA key of {} bits and they require 2048 or more; ask the CA for its current chain",
                if c.is_self_signed { "the root" } else { "the intermediate" },
                c.subject_cn(),
                c.key_size
            ),
        });
    }
    // The root's own signature is never checked by clients; every other
    // signature in the path is.
    let signed = std::iter::once(("the certificate", cert)).chain(
        chain
            .iter()
            .filter(|c| !c.is_self_signed)
            .map(|c| ("its intermediate", c)),
    );
    for (which, c) in signed {
        if let Some(hash) = weak_hash(&c.signature_algorithm) {
            let whose = if std::ptr::eq(c, cert) {
                which.to_string()
            } else {
                format!("{which} '{}'", c.subject_cn())
            };
            out.push(Preflight {
                code: if hash == Hash::Sha1 {
                    "sha1-signature"
                } else {
                    "weak-signature"
                },
                message: format!(
                    "clients will say the connection is not secure: {whose} is signed with {} ({}), which modern clients reject; get it reissued with SHA-256",
                    hash.words(),
                    c.signature_algorithm
                ),
            });
        }
    }
    let days_left = (cert.not_after - now).whole_days();
    if (0..EXPIRY_WARNING_DAYS).contains(&days_left) {
        out.push(Preflight {
            code: "expiring-soon",
            message: format!(
                "it expires in {days_left} days: clients will refuse it after {}",
                mailcert_x509::time::rfc3339(cert.not_after)
            ),
        });
    }
    out
}
