//! Trust: the verdict stored with each certificate, recomputed whenever
//! its chain or the store's trust anchors change (in the same change), and
//! the store's own anchors (`trust add`, `trust list`, `trust remove`).

use mailcert_store::{AnchorRecord, CertRecord, Op, Origin};
use mailcert_x509::bundle::read_certificates;
use mailcert_x509::chain::{build_chain, is_root, without_roots, BuiltChain, ChainEnd};
use mailcert_x509::status::{certificate_warnings, evaluate, EXPIRY_WARNING_DAYS};
use mailcert_x509::time::rfc3339;
use mailcert_x509::validate::{bad_signature, validate_chain};
use mailcert_x509::{CertSummary, Status, Trust};
use time::OffsetDateTime;

use crate::anchors::Anchors;
use crate::error::{LifecycleError, Result};
use crate::manager::{Manager, Report};

/// A certificate's chain and verdict, as they would be stored.
#[derive(Debug, Clone)]
pub struct Judged {
    /// The chain to store and send: without the self-signed root, which
    /// the verdict still took into account when it was at hand.
    pub chain: Vec<Vec<u8>>,
    pub trust: Trust,
    /// A plain sentence when the chain stops short of a trusted root.
    pub problem: Option<String>,
}

/// The chain pool of [`Manager::chain_pool`] from certificates already read.
fn pool_of(stored: &[(CertRecord, Vec<Vec<u8>>)]) -> Vec<Vec<u8>> {
    let mut pool = Vec::new();
    for (record, chain) in stored {
        if record.summary.is_ca {
            pool.push(record.der.clone());
        }
        for der in chain {
            if !pool.contains(der) {
                pool.push(der.clone());
            }
        }
    }
    pool
}

impl Manager {
    /// Every certificate the store knows that may serve in a chain: the
    /// chain certificates of stored certificates and stored CA certificates.
    pub fn chain_pool(&self) -> Result<Vec<Vec<u8>>> {
        Ok(pool_of(&self.stored_chains()?))
    }

    /// Every stored certificate with its stored chain, read once.
    fn stored_chains(&self) -> Result<Vec<(CertRecord, Vec<Vec<u8>>)>> {
        let mut out = Vec::new();
        for record in self.store.certificates()? {
            let chain = self.store.chain(&record.summary.thumbprint)?;
            out.push((record, chain));
        }
        Ok(out)
    }

    /// Builds the chain of `der` from `pool` and judges it against `anchors`.
    /// The verdict sees the root when the pool has it (its words then name
    /// an untrusted root as such); the chain kept leaves it out.
    pub fn judge(
        &self,
        summary: &CertSummary,
        der: &[u8],
        pool: &[Vec<u8>],
        anchors: &Anchors,
    ) -> Judged {
        let built = build_chain(der, pool);
        let trust = validate_chain(
            summary,
            der,
            &built.chain,
            &anchors.anchors,
            false,
            self.now(),
        );
        let problem = explain(summary, &trust, &built, anchors);
        let trust = match (&trust, &problem, &built.end) {
            (
                _,
                _,
                ChainEnd::BadSignature {
                    subject_cn,
                    issuer_cn,
                },
            ) => Trust::Invalid(bad_signature(subject_cn, issuer_cn)),
            (Trust::Untrusted(_), Some(problem), _) => Trust::Untrusted(problem.clone()),
            _ => trust,
        };
        Judged {
            chain: without_roots(&built.chain),
            trust,
            problem,
        }
    }

    /// Ops that bring the stored chain and verdict of every certificate up
    /// to date with `anchors` and the certificates in `extra` (new
    /// intermediates). Certificates in `skip` are left alone (they are being
    /// written by the same change). Returns the ops and one line per change.
    pub fn refresh_ops(
        &self,
        anchors: &Anchors,
        extra: &[Vec<u8>],
        skip: &[String],
    ) -> Result<(Vec<Op>, Vec<String>)> {
        let stored = self.stored_chains()?;
        let mut pool = pool_of(&stored);
        for der in extra {
            if !pool.contains(der) {
                pool.push(der.clone());
            }
        }
        let mut ops = Vec::new();
        let mut lines = Vec::new();
        for (record, stored_chain) in stored {
            let thumb = record.summary.thumbprint.clone();
            if skip.contains(&thumb) || keeps_own_trust(&record) {
                continue;
            }
            let mut candidates = stored_chain.clone();
            candidates.extend(pool.iter().cloned());
            let judged = self.judge(&record.summary, &record.der, &candidates, anchors);
            // A longer chain replaces the stored one; a shorter one never does.
            if judged.chain.len() > stored_chain.len() {
                lines.push(format!(
                    "{thumb}: chain completed with {} certificate(s); now {}",
                    judged.chain.len() - stored_chain.len(),
                    judged.trust.words()
                ));
                ops.push(Op::SetChain {
                    thumbprint: thumb,
                    chain: judged.chain,
                    trust: judged.trust,
                });
            } else if judged.trust != record.trust {
                // The stored chain, with the roots the pool knows.
                let mut known = stored_chain.clone();
                known.extend(pool.iter().filter(|der| is_root(der)).cloned());
                let trust = self
                    .judge(&record.summary, &record.der, &known, anchors)
                    .trust;
                // Still not trusted: the stored words stay. They were found
                // with every certificate the CA sent, including a root that
                // chains do not keep, so they may say more than these.
                let both_untrusted = matches!(
                    (&trust, &record.trust),
                    (Trust::Untrusted(_), Trust::Untrusted(_))
                );
                if trust != record.trust && !both_untrusted {
                    lines.push(format!("{thumb}: now {}", trust.words()));
                    ops.push(Op::SetTrust {
                        thumbprint: thumb,
                        trust,
                    });
                }
            }
        }
        Ok((ops, lines))
    }

    /// The store's own trust anchors.
    pub fn trust_list(&self) -> Result<Vec<AnchorRecord>> {
        Ok(self.store.anchors()?)
    }

    /// Adds the CA certificates in a file (PEM, DER, PKCS#7) as trust
    /// anchors and recomputes every certificate's verdict in the same change.
    pub fn trust_add(&mut self, what: &str, bytes: &[u8], source: &str) -> Result<Report> {
        let certs = read_certificates(bytes, what)?;
        let existing = self.store.anchors()?;
        let mut report = Report::default();
        let mut added = Vec::new();
        for der in certs {
            let summary = CertSummary::from_der(&der)?;
            if !summary.is_ca {
                return Err(LifecycleError::BadInput(format!(
                    "{what}: '{}' is not a CA certificate (no basicConstraints CA:TRUE); a trust anchor is the root certificate of the CA that issued your certificates, not a server certificate",
                    summary.subject
                )));
            }
            if existing.iter().any(|a| a.thumbprint == summary.thumbprint) || added.contains(&der) {
                report.say(format!(
                    "{} ({}) is already a trust anchor of this store; nothing changed",
                    summary.thumbprint, summary.subject
                ));
                continue;
            }
            if !summary.is_self_signed {
                report.say(format!(
                    "note: {} is not self-signed (an intermediate); it is trusted as given",
                    summary.subject
                ));
            }
            added.push(der);
        }
        if added.is_empty() {
            return Ok(report);
        }
        let anchors = Anchors::load_changed(self.store.as_ref(), &added, &[])?;
        let mut change = self.change("trust add");
        for der in &added {
            let summary = CertSummary::from_der(der)?;
            change.describe(format!(
                "trust anchor {} ({}) added",
                summary.thumbprint, summary.subject
            ));
            report.say(format!(
                "added trust anchor {} ({})",
                summary.thumbprint, summary.subject
            ));
            report.thumbprint.get_or_insert(summary.thumbprint.clone());
            change.push(Op::AddAnchor {
                der: der.clone(),
                subject: summary.subject.clone(),
                source: source.to_string(),
            });
        }
        let (ops, lines) = self.refresh_ops(&anchors, &[], &[])?;
        change.ops.extend(ops);
        for line in lines {
            change.describe(&line);
            report.say(line);
        }
        self.store.apply(change)?;
        report.changed = true;
        Ok(report)
    }

    /// Removes a store trust anchor (by thumbprint prefix) and recomputes
    /// every certificate's verdict in the same change.
    pub fn trust_remove(&mut self, prefix: &str) -> Result<Report> {
        let wanted = mailcert_x509::thumbprint::normalize_prefix(prefix).ok_or_else(|| {
            LifecycleError::BadInput(format!(
                "'{prefix}' is not a thumbprint: use the thumbprint shown by `mailcert trust list`"
            ))
        })?;
        let hits: Vec<AnchorRecord> = self
            .store
            .anchors()?
            .into_iter()
            .filter(|a| a.thumbprint.starts_with(&wanted))
            .collect();
        let anchor = match hits.len() {
            0 => {
                return Err(LifecycleError::BadInput(format!(
                    "no trust anchor of this store matches '{prefix}' (see `mailcert trust list`); the system's own roots are managed by the operating system, not here"
                )))
            }
            1 => &hits[0],
            _ => {
                return Err(LifecycleError::Ambiguous {
                    prefix: prefix.to_string(),
                    candidates: hits
                        .iter()
                        .map(|a| format!("  {}  {}", a.thumbprint, a.subject))
                        .collect(),
                })
            }
        };
        let anchors = Anchors::load_changed(
            self.store.as_ref(),
            &[],
            std::slice::from_ref(&anchor.thumbprint),
        )?;
        let mut change = self.change("trust remove");
        change.describe(format!(
            "trust anchor {} ({}) removed",
            anchor.thumbprint, anchor.subject
        ));
        change.push(Op::RemoveAnchor(anchor.thumbprint.clone()));
        let mut report = Report {
            thumbprint: Some(anchor.thumbprint.clone()),
            ..Report::default()
        };
        report.say(format!(
            "removed trust anchor {} ({})",
            anchor.thumbprint, anchor.subject
        ));
        // The removed root stays known for this judgement, so that what
        // it no longer vouches for says "untrusted root", not "missing
        // intermediate".
        let (ops, lines) = self.refresh_ops(&anchors, std::slice::from_ref(&anchor.der), &[])?;
        change.ops.extend(ops);
        for line in lines {
            change.describe(&line);
            report.say(line);
        }
        self.store.apply(change)?;
        report.changed = true;
        Ok(report)
    }
}

/// Certificates this store made and signed itself keep their verdict.
fn keeps_own_trust(record: &CertRecord) -> bool {
    record.origin == Origin::SelfSigned && record.trust == Trust::OwnSelfSigned
}

/// Where the chain stops, in the administrator's words.
fn explain(
    leaf: &CertSummary,
    trust: &Trust,
    built: &BuiltChain,
    anchors: &Anchors,
) -> Option<String> {
    if !matches!(trust, Trust::Untrusted(_)) {
        return None;
    }
    match &built.end {
        ChainEnd::MissingIssuer { issuer_cn, .. } => {
            let last_issuer_raw = match built.chain.last() {
                Some(der) => CertSummary::from_der(der).ok()?.issuer_raw,
                None => leaf.issuer_raw.clone(),
            };
            if anchors.has_subject(&last_issuer_raw) {
                return None;
            }
            Some(format!(
                "intermediate '{issuer_cn}' is not in the chain; clients that don't have it will not trust this certificate; add it with `mailcert complete FILE --chain INTERMEDIATE.pem` (or, if '{issuer_cn}' is your organisation's root, trust it with `mailcert trust add ROOT.pem`)"
            ))
        }
        ChainEnd::BadSignature { .. } => None,
        // A self-signed certificate from elsewhere: webpki's words say it.
        ChainEnd::Root if built.chain.is_empty() => None,
        ChainEnd::Root => {
            let root = CertSummary::from_der(built.chain.last()?).ok()?;
            // The root is trusted: the chain failed for another reason (a
            // certificate of it expired or not yet valid), which webpki's
            // words say; blaming the root would send the admin astray.
            if anchors.has_subject(&root.subject_raw) {
                return None;
            }
            Some(format!(
                "{} the root '{}', which is not trusted on this machine; if it is your organisation's CA, add it with `mailcert trust add ROOT.pem`",
                mailcert_x509::validate::UNTRUSTED_ROOT,
                root.subject_cn()
            ))
        }
    }
}

/// The verdict in a few words, with the status `list` will show at `now`
/// (the dates count too). The reason of an untrusted verdict comes apart,
/// from [`outcome_warnings`].
pub fn verdict_words(trust: &Trust, cert: &CertSummary, now: OffsetDateTime) -> String {
    let status = evaluate(cert, trust, now, EXPIRY_WARNING_DAYS).status;
    let trusted = matches!(trust, Trust::Trusted | Trust::OwnSelfSigned);
    match status {
        Status::Invalid => match trust {
            Trust::Invalid(reason) => format!("invalid (status Invalid): {reason}"),
            _ => "invalid (status Invalid)".into(),
        },
        Status::DateInvalid => {
            let dates = if cert.validity_at(now) == mailcert_x509::time::Validity::Expired {
                format!("it expired on {}", rfc3339(cert.not_after))
            } else {
                format!("it is not valid until {}", rfc3339(cert.not_before))
            };
            // The dates come first; why the chain is not trusted follows
            // as a warning of its own.
            if trusted {
                format!("its chain is trusted, but {dates} (status DateInvalid)")
            } else {
                format!("{dates} (status DateInvalid)")
            }
        }
        _ => match trust {
            Trust::OwnSelfSigned => "self-signed by this store".into(),
            Trust::Trusted => format!("trusted (status {})", status.as_str()),
            _ => format!("not trusted (status {})", status.as_str()),
        },
    }
}

/// The warnings to print after a certificate was stored: why its chain is
/// not trusted, and what clients refuse in the certificate itself.
pub fn outcome_warnings(trust: &Trust, cert: &CertSummary) -> Vec<String> {
    let mut out = Vec::new();
    if let Trust::Untrusted(reason) = trust {
        out.push(format!("warning: {reason}"));
    }
    out.extend(
        certificate_warnings(cert)
            .into_iter()
            .map(|w| format!("warning: {w}")),
    );
    out
}
