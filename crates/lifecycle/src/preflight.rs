//! What a client would trip over, checked before a certificate is bound:
//! the certificate itself ([`preflight`]), and what the new bindings take
//! away from clients ([`takeover`]).

use mailcert_store::CertRecord;
use mailcert_x509::names::best_match;
use mailcert_x509::sigalg::{weak_hash, Hash};
use mailcert_x509::status::{evaluate, EXPIRY_WARNING_DAYS};
use mailcert_x509::{CertSummary, Service, Status, Trust};
use time::OffsetDateTime;

use crate::serving::{ListenerScope, ServingSet};

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
            let root = reason.starts_with(mailcert_x509::validate::UNTRUSTED_ROOT);
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

/// What a change of bindings does to the clients of `services`: where
/// `cert` would now be served in place of a certificate they trust (a
/// valid, CA-issued one), a self-signed or untrusted `cert` is a problem,
/// and so is every name the replaced certificate served that `cert` does
/// not carry — the names clients use, known even when no listener sets a
/// `hostname`. `hostnames` (checked by [`preflight`]) are not repeated.
pub fn takeover(
    before: &ServingSet,
    after: &ServingSet,
    cert: &CertRecord,
    services: &[Service],
    listener: Option<&str>,
    hostnames: &[String],
    now: OffsetDateTime,
) -> Vec<Preflight> {
    let thumb = cert.summary.thumbprint.as_str();
    let cert_trusted = matches!(cert.trust, Trust::Trusted);
    let scope = ListenerScope {
        name: listener,
        pin: None,
    };
    let scope_words = listener
        .map(|l| format!(" on listener {l}"))
        .unwrap_or_default();
    let mut out = Vec::new();
    for &service in services {
        // The names clients use with this service today: those of the
        // trusted certificates it serves (and no SNI at all).
        let mut probes: Vec<Option<String>> = vec![None];
        for served in before.bound_to(service, listener) {
            if trusted_now(&served.record, now) {
                for name in served
                    .record
                    .summary
                    .names
                    .iter()
                    .filter(|n| !n.starts_with("*."))
                {
                    if !probes.iter().any(|p| p.as_deref() == Some(name)) {
                        probes.push(Some(name.clone()));
                    }
                }
            }
        }
        let mut replaced: Vec<&CertRecord> = Vec::new();
        let mut lost: Vec<(String, &CertRecord)> = Vec::new();
        for probe in &probes {
            let sni = probe.as_deref();
            let was = before.select(service, scope, sni, now);
            let will = after.select(service, scope, sni, now);
            if will.thumbprint() != Some(thumb) || was.thumbprint() == Some(thumb) {
                continue;
            }
            let Some(old) = was.thumbprint().and_then(|t| before.get(t)) else {
                continue;
            };
            let old = &old.record;
            if !trusted_now(old, now) {
                continue;
            }
            if !replaced
                .iter()
                .any(|r| r.summary.thumbprint == old.summary.thumbprint)
            {
                replaced.push(old);
            }
            let names: Vec<&str> = match sni {
                // A name the old certificate carried: lost if this one
                // does not (one it did not carry failed before already).
                Some(name) if covers(&old.summary, name) => vec![name],
                Some(_) => Vec::new(),
                // Clients without SNI connect by one of the old default's
                // names; its wildcards are only probed here.
                None => old
                    .summary
                    .names
                    .iter()
                    .filter(|n| n.starts_with("*."))
                    .map(String::as_str)
                    .collect(),
            };
            for name in names {
                if !covers(&cert.summary, name)
                    && !hostnames.iter().any(|h| h.eq_ignore_ascii_case(name))
                    && !lost.iter().any(|(n, _)| n == name)
                {
                    lost.push((name.to_string(), old));
                }
            }
        }
        for old in replaced.iter().filter(|_| !cert_trusted) {
            let what = match &cert.trust {
                Trust::OwnSelfSigned => "self-signed".to_string(),
                _ if cert.summary.is_self_signed => "self-signed".to_string(),
                Trust::Untrusted(reason) => format!("not trusted ({reason})"),
                other => other.words(),
            };
            out.push(Preflight {
                code: "untrusted-replaces-trusted",
                message: format!(
                    "{service}{scope_words}: clients would get this certificate instead of {} ({}), which they trust; this one is {what}, so Outlook, Thunderbird and phones will warn and other mail servers may refuse it; keep {} for {service}, or use a certificate from a CA clients trust",
                    old.summary.thumbprint, old.summary.subject, old.summary.thumbprint
                ),
            });
        }
        for (name, old) in lost {
            let whom = if name.starts_with("*.") {
                format!("names under '{name}'")
            } else {
                format!("'{name}'")
            };
            out.push(Preflight {
                code: "name-mismatch",
                message: format!(
                    "{service}{scope_words}: clients connecting to {whom} would get this certificate instead of {} ({}, which carries that name) and say the name on the certificate does not match: it carries {}",
                    old.summary.thumbprint,
                    old.summary.subject,
                    if cert.summary.names.is_empty() { "no DNS names".to_string() } else { cert.summary.names.join(", ") }
                ),
            });
        }
    }
    out
}

/// A certificate clients trust today: issued by a trusted CA and within
/// its dates.
fn trusted_now(record: &CertRecord, now: OffsetDateTime) -> bool {
    matches!(record.trust, Trust::Trusted)
        && evaluate(&record.summary, &record.trust, now, EXPIRY_WARNING_DAYS).status
            == Status::Valid
}

/// Does `cert` carry `name`? A wildcard name counts only as itself: the
/// certificate must carry the same wildcard to serve every name under it.
fn covers(cert: &CertSummary, name: &str) -> bool {
    if name.starts_with("*.") {
        return cert.names.iter().any(|n| n.eq_ignore_ascii_case(name));
    }
    best_match(cert.names.iter().map(String::as_str), name).is_some()
        || cert.ip_addresses.iter().any(|ip| ip.to_string() == name)
}
