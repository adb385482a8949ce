//! Completing a pending request with whatever the CA sent back, and
//! supplying a missing intermediate later.

use mailcert_store::{NewCertificate, Op, Origin, PendingRecord};
use mailcert_x509::bundle::read_certificates;
use mailcert_x509::cert::ensure_version_3;
use mailcert_x509::keys::key_matches_spki;
use mailcert_x509::{CertSummary, Trust};

use crate::anchors::Anchors;
use crate::error::{LifecycleError, Result};
use crate::manager::{describe_bindings, Manager, Report};
use crate::trust::{outcome_warnings, verdict_words};

/// A file as read by the CLI: its name (for messages) and its bytes.
#[derive(Debug, Clone)]
pub struct InputFile {
    pub name: String,
    pub bytes: Vec<u8>,
}

impl Manager {
    /// `complete FILE [--chain FILE...]`: finds the pending request whose
    /// key matches a certificate of the answer, builds the chain by issuer
    /// from everything given (and what the store already holds), and stores
    /// certificate + key + chain in one change that also removes the
    /// pending request. An answer for a certificate already in the store
    /// supplies its missing chain. Anything else is refused; nothing stored.
    pub fn complete(&mut self, answer: &InputFile, chain_files: &[InputFile]) -> Result<Report> {
        let answer_certs = read_certificates(&answer.bytes, &answer.name)?;
        let mut pool = answer_certs.clone();
        for file in chain_files {
            for der in read_certificates(&file.bytes, &file.name)? {
                if !pool.contains(&der) {
                    pool.push(der);
                }
            }
        }
        let summaries: Vec<(CertSummary, Vec<u8>)> = answer_certs
            .iter()
            .map(|der| CertSummary::from_der(der).map(|s| (s, der.clone())))
            .collect::<std::result::Result<_, _>>()?;
        let pending = self.store.pending_requests()?;
        let matched = self.match_requests(&summaries, &pending)?;
        if !matched.is_empty() {
            return self.complete_requests(&answer.name, matched, &pool, true);
        }
        // Already stored: this supplies the chain.
        let leaves_first = summaries
            .iter()
            .filter(|(s, _)| !s.is_ca)
            .chain(summaries.iter().filter(|(s, _)| s.is_ca));
        for (summary, _) in leaves_first {
            if let Some(record) = self.store.certificate(&summary.thumbprint)? {
                return self.supply_chain(&answer.name, &record.summary, &record.der, &pool);
            }
        }
        Err(LifecycleError::BadInput(no_match_message(
            &answer.name,
            &summaries,
            &pending,
        )))
    }

    /// Pairs each pending request with the certificate of the answer that
    /// carries its public key, in the order of the file. When several do
    /// (a renewal with the same key next to the old certificate), the one
    /// not yet stored and then the newest wins.
    pub(crate) fn match_requests(
        &self,
        summaries: &[(CertSummary, Vec<u8>)],
        pending: &[PendingRecord],
    ) -> Result<Vec<(CertSummary, Vec<u8>, PendingRecord)>> {
        let mut picked: Vec<(usize, PendingRecord)> = Vec::new();
        for request in pending {
            let mut best: Option<(usize, bool)> = None;
            for (i, (s, _)) in summaries.iter().enumerate() {
                if s.spki_der != request.spki_der {
                    continue;
                }
                let fresh = self.store.certificate(&s.thumbprint)?.is_none();
                let better = match best {
                    None => true,
                    Some((j, best_fresh)) => {
                        (fresh, s.not_before) > (best_fresh, summaries[j].0.not_before)
                    }
                };
                if better {
                    best = Some((i, fresh));
                }
            }
            // One certificate completes one request; a second request
            // with the same key stays pending.
            if let Some((i, _)) = best.filter(|(i, _)| !picked.iter().any(|(j, _)| j == i)) {
                picked.push((i, request.clone()));
            }
        }
        picked.sort_by_key(|(i, _)| *i);
        Ok(picked
            .into_iter()
            .map(|(i, request)| (summaries[i].0.clone(), summaries[i].1.clone(), request))
            .collect())
    }

    /// Stores every matched answer in one change: each certificate with
    /// its key and chain, each pending request removed. A copy of the
    /// certificate stored without its key (imported before the request
    /// was completed) is replaced by the complete one. `exportable: false`
    /// makes the keys non-exportable even if the requests allowed it.
    pub(crate) fn complete_requests(
        &mut self,
        what: &str,
        matched: Vec<(CertSummary, Vec<u8>, PendingRecord)>,
        pool: &[Vec<u8>],
        exportable: bool,
    ) -> Result<Report> {
        let mut candidates = pool.to_vec();
        candidates.extend(self.chain_pool()?);
        let anchors = Anchors::load(self.store.as_ref())?;
        let mut change = self.change("complete");
        let mut report = Report::default();
        let mut after = Vec::new();
        let mut thumbs = Vec::new();
        let mut extra: Vec<Vec<u8>> = Vec::new();
        for (summary, der, request) in matched {
            let thumb = summary.thumbprint.clone();
            let keyless_copy = match self.store.certificate(&thumb)? {
                None => false,
                Some(stored) if !stored.has_private_key => true,
                // Stored with this very key: the pending request (often a
                // renewal that reuses the key) waits for a newer answer.
                Some(stored) => {
                    return Err(LifecycleError::Refused(format!(
                        "{what}: certificate {thumb} ({}) is already in the store with its private key, so it is not the CA's answer to pending request {} ({}), which stays pending for the certificate the CA issues for it; complete that one when it comes. Nothing was stored.",
                        stored.summary.subject, request.id, request.subject
                    )));
                }
            };
            let key = self.store.pending_key(&request.id)?.ok_or_else(|| {
                LifecycleError::Refused(format!(
                    "pending request {} has no key (changed meanwhile?)",
                    request.id
                ))
            })?;
            if !key_matches_spki(&key, &summary.spki_der) {
                return Err(mailcert_x509::CertError::KeyMismatch {
                    what: what.into(),
                    thumbprint: thumb,
                }
                .into());
            }
            // An answer that cannot serve is refused before any request is
            // consumed: the admin asks the CA again with the same request.
            let kept = format!(
                "nothing was stored and pending request {} is kept, so the CA can answer it again",
                request.id
            );
            if let Err(e) = ensure_version_3(&der, what) {
                return Err(LifecycleError::BadInput(format!("{e}; {kept}")));
            }
            let judged = self.judge(&summary, &der, &candidates, &anchors);
            if let Trust::Invalid(reason) = &judged.trust {
                return Err(LifecycleError::BadInput(format!(
                    "{what}: certificate {thumb} is unusable: {reason}; {kept}"
                )));
            }
            let asked: Vec<&str> = request
                .names
                .iter()
                .filter(|n| {
                    !summary.names.contains(n)
                        && !summary.ip_addresses.iter().any(|ip| ip.to_string() == **n)
                })
                .map(String::as_str)
                .collect();
            if !asked.is_empty() {
                report.say(format!(
                    "warning: {thumb}: the CA left out names the request asked for: {}",
                    asked.join(", ")
                ));
            }
            if keyless_copy {
                // Nothing is bound to a certificate without a key, so the
                // copy goes and the complete record takes its place.
                change.push(Op::DeleteCertificate(thumb.clone()));
                after.push(format!(
                    "{thumb} was in the store without its private key (imported before its request was completed); it is replaced by the completed certificate with the key of pending request {}",
                    request.id
                ));
            }
            change.describe(format!(
                "completed pending request {} with {thumb} ({}), chain of {}{}",
                request.id,
                summary.subject,
                judged.chain.len(),
                if keyless_copy {
                    ", replacing the copy stored without its key"
                } else {
                    ""
                }
            ));
            for der in &judged.chain {
                if !extra.contains(der) {
                    extra.push(der.clone());
                }
            }
            change.push(Op::InsertCertificate(Box::new(NewCertificate {
                summary: summary.clone(),
                der,
                chain: judged.chain.clone(),
                private_key: Some(key),
                exportable: request.exportable && exportable,
                friendly_name: request.friendly_name.clone(),
                origin: Origin::Issued,
                trust: judged.trust.clone(),
            })));
            change.push(Op::DeletePending(request.id.clone()));
            after.push(format!(
                "completed pending request {}: certificate {thumb} ({}) stored with its key and a chain of {} certificate(s); {}",
                request.id,
                summary.subject,
                judged.chain.len(),
                verdict_words(&judged.trust, &summary, self.now())
            ));
            after.extend(outcome_warnings(&judged.trust, &summary));
            if let Some(old) = &request.renews {
                let bound = self.bindings_of(old)?;
                if !bound.is_empty() {
                    after.push(format!(
                        "this renews {old}, still bound to {}: move them with `mailcert replace {old} {thumb}`",
                        describe_bindings(&bound)
                    ));
                }
            }
            thumbs.push(thumb);
        }
        let (ops, lines) = self.refresh_ops(&anchors, &extra, &thumbs)?;
        change.ops.extend(ops);
        for line in &lines {
            change.describe(line);
        }
        self.store.apply(change)?;
        report.changed = true;
        report.lines.extend(after);
        report.lines.extend(lines);
        if thumbs.len() > 1 {
            report.say(format!(
                "{what} answered {} pending requests; all were completed together",
                thumbs.len()
            ));
        }
        let mut thumbs = thumbs.into_iter();
        report.thumbprint = thumbs.next();
        report.also = thumbs.collect();
        Ok(report)
    }

    /// A certificate already in the store, given again with (more of) its
    /// chain: the stored chain grows, never shrinks.
    pub(crate) fn supply_chain(
        &mut self,
        what: &str,
        summary: &CertSummary,
        der: &[u8],
        pool: &[Vec<u8>],
    ) -> Result<Report> {
        let thumb = summary.thumbprint.clone();
        let stored = self.store.chain(&thumb)?;
        let mut candidates = stored.clone();
        candidates.extend(pool.iter().cloned());
        candidates.extend(self.chain_pool()?);
        let anchors = Anchors::load(self.store.as_ref())?;
        let judged = self.judge(summary, der, &candidates, &anchors);
        let mut report = Report {
            thumbprint: Some(thumb.clone()),
            ..Report::default()
        };
        if judged.chain.len() <= stored.len() {
            report.say(format!(
                "{what}: certificate {thumb} ({}) is already in the store with this chain; nothing changed",
                summary.subject
            ));
            if let Trust::Untrusted(reason) = &judged.trust {
                report.say(format!("warning: {reason}"));
            }
            return Ok(report);
        }
        let mut change = self.change("complete");
        change.describe(format!(
            "chain of {thumb} completed: {} certificate(s)",
            judged.chain.len()
        ));
        change.push(Op::SetChain {
            thumbprint: thumb.clone(),
            chain: judged.chain.clone(),
            trust: judged.trust.clone(),
        });
        let (ops, lines) =
            self.refresh_ops(&anchors, &judged.chain, std::slice::from_ref(&thumb))?;
        change.ops.extend(ops);
        self.store.apply(change)?;
        report.changed = true;
        report.say(format!(
            "certificate {thumb} ({}) was already in the store; its chain now has {} certificate(s); {}",
            summary.subject,
            judged.chain.len(),
            verdict_words(&judged.trust, summary, self.now())
        ));
        if let Trust::Untrusted(reason) = &judged.trust {
            report.say(format!("warning: {reason}"));
        }
        report.lines.extend(lines);
        Ok(report)
    }
}

fn no_match_message(
    what: &str,
    summaries: &[(CertSummary, Vec<u8>)],
    pending: &[PendingRecord],
) -> String {
    let leaves: Vec<&CertSummary> = summaries
        .iter()
        .map(|(s, _)| s)
        .filter(|s| !s.is_ca)
        .collect();
    let described = if leaves.is_empty() {
        format!(
            "it holds only CA certificates ({}), no server certificate",
            summaries
                .iter()
                .map(|(s, _)| s.subject_cn())
                .collect::<Vec<_>>()
                .join(", ")
        )
    } else {
        format!(
            "its certificate {} ({}) matches no pending request of this store (no pending key has its public key)",
            leaves[0].thumbprint, leaves[0].subject
        )
    };
    let hint = if pending.is_empty() {
        "there are no pending requests here: the request was made on another server (complete it there, or import a .pfx exported from it) or it was cancelled".to_string()
    } else {
        format!(
            "pending requests here: {}; check that the CA answered the request made on this server",
            pending
                .iter()
                .map(|p| format!("{} ({})", p.id, p.subject))
                .collect::<Vec<_>>()
                .join(", ")
        )
    };
    format!("{what}: {described}; {hint}. Nothing was stored.")
}
