//! What a client would trip over, checked before a certificate is bound.

use mailcert_x509::names::best_match;
use mailcert_x509::{CertSummary, Trust};
use time::OffsetDateTime;

/// One pre-flight finding, phrased as the client's complaint.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Preflight {
    pub code: &'static str,
    pub message: String,
}

/// Checks `cert` for binding; `hostnames` are the names clients will use
/// (the listeners' configured FQDNs).
pub fn preflight(
    cert: &CertSummary,
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
    if cert.key_algorithm.starts_with("rsa-") && cert.key_size < 2048 {
        out.push(Preflight {
            code: "weak-key",
            message: format!(
                "RSA key of {} bits: modern clients refuse keys under 2048 bits",
                cert.key_size
            ),
        });
    }
    if cert
        .signature_algorithm
        .to_ascii_lowercase()
        .contains("sha1")
    {
        out.push(Preflight {
            code: "sha1-signature",
            message: "signed with SHA-1: modern clients reject SHA-1 signatures".into(),
        });
    }
    let days_left = (cert.not_after - now).whole_days();
    if (0..30).contains(&days_left) {
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
