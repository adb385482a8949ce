//! Moving certificates between servers: import (PFX/P12, PEM certificate +
//! key + chain) and export (PFX modern or legacy, PEM certificate + chain).

use mailcert_store::{CertRecord, NewCertificate, Op, Origin};
use mailcert_x509::bundle::read_certificates;
use mailcert_x509::cert::ensure_version_3;
use mailcert_x509::keys::{key_matches_spki, read_key};
use mailcert_x509::pem::{chain_pem, decode_private_key, decrypt_private_key};
use mailcert_x509::pkcs12::{read_pfx, write_pfx, PfxForm};
use mailcert_x509::sniff::FileKind;
use mailcert_x509::{CertError, CertSummary};

use crate::anchors::Anchors;
use crate::complete::InputFile;
use crate::error::{LifecycleError, Result};
use crate::find::find_certificate;
use crate::manager::{Manager, Report};
use crate::trust::{outcome_warnings, verdict_words};

/// A certificate read from a file, ready to import.
#[derive(Debug, Clone)]
pub struct Importable {
    pub leaf: Vec<u8>,
    /// PKCS#8 DER, checked to match the leaf.
    pub key: Option<Vec<u8>>,
    /// Every other certificate of the file (chain candidates).
    pub others: Vec<Vec<u8>>,
    pub friendly_name: Option<String>,
}

/// Does the file look like a PKCS#12 (SEQUENCE { INTEGER 3, ... })?
pub fn looks_like_pfx(bytes: &[u8]) -> bool {
    let start = match bytes.get(1) {
        Some(0x80) => 2,
        Some(b) if *b < 0x80 => 2,
        Some(b) => 2 + usize::from(b & 0x7f),
        None => return false,
    };
    bytes.first() == Some(&0x30) && bytes.get(start..start + 3) == Some(&[0x02, 0x01, 0x03][..])
}

/// How `import` reads a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImportFormat {
    /// PKCS#12 (.pfx/.p12): certificate, key and chain, with a password.
    Pfx,
    /// PEM (certificates, maybe the key) or DER/PKCS#7 certificates.
    Pem,
}

/// Which of the two a file is, by its content (never its name); anything
/// else is refused with what it looks like.
pub fn import_format(file: &InputFile) -> Result<ImportFormat> {
    if looks_like_pfx(&file.bytes) {
        return Ok(ImportFormat::Pfx);
    }
    let kind = FileKind::of(&file.bytes);
    let pem = String::from_utf8_lossy(&file.bytes).contains("-----BEGIN ");
    match kind {
        // PEM of any kind: reading it says what is missing (a request, a
        // key alone) in the same words.
        _ if pem => Ok(ImportFormat::Pem),
        FileKind::Certificate | FileKind::Pkcs7 => Ok(ImportFormat::Pem),
        other => Err(LifecycleError::BadInput(format!(
            "{} is not a PKCS#12 (.pfx/.p12) file, nor PEM or DER certificates: {other}",
            file.name
        ))),
    }
}

/// Reads a PFX with its password.
pub fn read_pfx_file(file: &InputFile, password: &str) -> Result<Importable> {
    let contents = read_pfx(&file.bytes, password, &file.name)?;
    let key = contents
        .key
        .map(|k| normalize_key(&k, &file.name))
        .transpose()?;
    Ok(Importable {
        leaf: contents.leaf,
        key,
        others: contents.chain,
        friendly_name: contents.friendly_name,
    })
}

/// Reads PEM certificates and a PEM key (from the same file or `key_file`);
/// `key_password` opens an encrypted key.
pub fn read_pem_files(
    file: &InputFile,
    key_file: Option<&InputFile>,
    key_password: Option<&str>,
) -> Result<Importable> {
    let certs = read_certificates(&file.bytes, &file.name)?;
    let key_source = key_file.unwrap_or(file);
    let has_key = String::from_utf8_lossy(&key_source.bytes).contains("PRIVATE KEY-----");
    let key = if has_key || key_file.is_some() {
        let raw = match key_password {
            Some(password) => decrypt_private_key(&key_source.bytes, &key_source.name, password)?,
            None => decode_private_key(&key_source.bytes, &key_source.name)?,
        };
        Some(normalize_key(&raw, &key_source.name)?)
    } else {
        None
    };
    let summaries: Vec<CertSummary> = certs
        .iter()
        .map(|d| CertSummary::from_der(d))
        .collect::<std::result::Result<_, _>>()?;
    let leaf_index = match &key {
        Some(key) => summaries
            .iter()
            .position(|s| key_matches_spki(key, &s.spki_der))
            .ok_or_else(|| CertError::KeyMismatch {
                what: key_source.name.clone(),
                thumbprint: summaries[0].thumbprint.clone(),
            })?,
        None => summaries
            .iter()
            .position(|s| !summaries.iter().any(|o| o != s && o.issued_by(s)))
            .unwrap_or(0),
    };
    let leaf = certs[leaf_index].clone();
    let others = certs
        .into_iter()
        .enumerate()
        .filter(|(i, _)| *i != leaf_index)
        .map(|(_, d)| d)
        .collect();
    Ok(Importable {
        leaf,
        key,
        others,
        friendly_name: None,
    })
}

/// Any supported private key DER, as PKCS#8 (what the store and PFX hold).
/// A weak RSA key is read too: the certificate is imported and warned
/// about, and `enable` says it cannot serve.
fn normalize_key(der: &[u8], what: &str) -> Result<Vec<u8>> {
    let key = read_key(der).map_err(|e| match e {
        CertError::BadKey { reason, .. } => CertError::BadKey {
            what: what.into(),
            reason,
        },
        other => other,
    })?;
    Ok(key.pkcs8)
}

impl Manager {
    /// Imports a certificate (with its key and chain when present). One
    /// already in the store is not duplicated: a missing key or a longer
    /// chain is added, otherwise nothing changes and the report says so.
    pub fn import(&mut self, what: &str, item: Importable, exportable: bool) -> Result<Report> {
        let summary = CertSummary::from_der(&item.leaf)?;
        let thumb = summary.thumbprint.clone();
        ensure_version_3(&item.leaf, what)?;
        if let Some(key) = &item.key {
            if !key_matches_spki(key, &summary.spki_der) {
                return Err(CertError::KeyMismatch {
                    what: what.into(),
                    thumbprint: thumb,
                }
                .into());
            }
        }
        // The CA's answer to a request made here completes it, as
        // Import-ExchangeCertificate does: stored without the key it
        // could not serve, and the request would still hold that key.
        if item.key.is_none() {
            let pending = self.store.pending_requests()?;
            let matched = self.match_requests(&[(summary.clone(), item.leaf.clone())], &pending)?;
            if let Some((_, _, request)) = matched.first() {
                let id = request.id.clone();
                let mut pool = vec![item.leaf.clone()];
                pool.extend(item.others.iter().cloned());
                let mut report = self.complete_requests(what, matched, &pool, exportable)?;
                report.lines.insert(
                    0,
                    format!(
                        "{what} is the answer to pending request {id}: completed it (as `mailcert complete` does), so the certificate is stored with that request's private key"
                    ),
                );
                return Ok(report);
            }
        }
        if let Some(existing) = self.store.certificate(&thumb)? {
            return self.import_existing(what, existing, item, exportable);
        }
        let mut candidates = item.others.clone();
        candidates.extend(self.chain_pool()?);
        let anchors = Anchors::load(self.store.as_ref())?;
        let judged = self.judge(&summary, &item.leaf, &candidates, &anchors);
        let has_key = item.key.is_some();
        let mut change = self.change("import");
        change.describe(format!(
            "imported {thumb} ({}) from {what}{}, chain of {}",
            summary.subject,
            if has_key {
                " with its private key"
            } else {
                " without a private key"
            },
            judged.chain.len()
        ));
        change.push(Op::InsertCertificate(Box::new(NewCertificate {
            summary: summary.clone(),
            der: item.leaf.clone(),
            chain: judged.chain.clone(),
            private_key: item.key,
            exportable,
            friendly_name: item.friendly_name,
            origin: Origin::Imported,
            trust: judged.trust.clone(),
        })));
        let (ops, lines) =
            self.refresh_ops(&anchors, &judged.chain, std::slice::from_ref(&thumb))?;
        change.ops.extend(ops);
        self.store.apply(change)?;
        let mut report = Report {
            thumbprint: Some(thumb.clone()),
            changed: true,
            ..Report::default()
        };
        report.say(format!(
            "imported {thumb} ({}){}; chain of {} certificate(s); {}",
            summary.subject,
            if has_key {
                " with its private key"
            } else {
                " without a private key: it cannot be bound until its key is imported"
            },
            judged.chain.len(),
            verdict_words(&judged.trust, &summary, self.now())
        ));
        report
            .lines
            .extend(outcome_warnings(&judged.trust, &summary));
        report.lines.extend(lines);
        Ok(report)
    }

    fn import_existing(
        &mut self,
        what: &str,
        existing: CertRecord,
        item: Importable,
        exportable: bool,
    ) -> Result<Report> {
        let thumb = existing.summary.thumbprint.clone();
        let stored_chain = self.store.chain(&thumb)?;
        let mut candidates = stored_chain.clone();
        candidates.extend(item.others.iter().cloned());
        candidates.extend(self.chain_pool()?);
        let anchors = Anchors::load(self.store.as_ref())?;
        let judged = self.judge(&existing.summary, &existing.der, &candidates, &anchors);
        let mut change = self.change("import");
        let mut report = Report {
            thumbprint: Some(thumb.clone()),
            ..Report::default()
        };
        let mut added = Vec::new();
        if let (Some(key), false) = (&item.key, existing.has_private_key) {
            change.push(Op::SetPrivateKey {
                thumbprint: thumb.clone(),
                private_key: key.clone(),
                exportable,
            });
            added.push("its private key");
        }
        if judged.chain.len() > stored_chain.len() {
            change.push(Op::SetChain {
                thumbprint: thumb.clone(),
                chain: judged.chain.clone(),
                trust: judged.trust.clone(),
            });
            added.push("the missing part of its chain");
            let (ops, _) =
                self.refresh_ops(&anchors, &judged.chain, std::slice::from_ref(&thumb))?;
            change.ops.extend(ops);
        }
        if change.ops.is_empty() {
            report.say(format!(
                "{what}: {thumb} ({}) is already in the store; nothing changed",
                existing.summary.subject
            ));
            return Ok(report);
        }
        change.describe(format!(
            "{thumb} was already in the store; added {} from {what}",
            added.join(" and ")
        ));
        self.store.apply(change)?;
        report.changed = true;
        report.say(format!(
            "{thumb} ({}) is already in the store; added {} from {what}",
            existing.summary.subject,
            added.join(" and ")
        ));
        Ok(report)
    }

    /// A PFX of a stored certificate with its key and chain. Refused for
    /// keys marked non-exportable, for certificates without a key, and for
    /// an empty password. The export is recorded in the audit log.
    pub fn export_pfx(
        &mut self,
        prefix: &str,
        password: &str,
        form: PfxForm,
    ) -> Result<(Vec<u8>, CertRecord)> {
        let record = self.ensure_exportable(prefix)?;
        let thumb = &record.summary.thumbprint;
        if password.is_empty() {
            return Err(LifecycleError::BadInput(
                "the PFX password is empty: a .pfx holds the private key, so give it a password (--password-file, MAILCERT_PASSWORD, or type it at the prompt)".into(),
            ));
        }
        let key = self.store.private_key(thumb)?.ok_or_else(|| {
            LifecycleError::Refused(format!("{thumb} has no private key in this store"))
        })?;
        let chain = self.store.chain(thumb)?;
        let friendly = record
            .friendly_name
            .clone()
            .unwrap_or_else(|| record.summary.subject_cn());
        let pfx = write_pfx(&record.der, &key, &chain, password, form, &friendly)?;
        Ok((pfx, record))
    }

    /// The certificate, if its private key may leave the store.
    pub fn ensure_exportable(&self, prefix: &str) -> Result<CertRecord> {
        let record = find_certificate(self.store.as_ref(), prefix)?;
        let thumb = &record.summary.thumbprint;
        if !record.has_private_key {
            return Err(LifecycleError::Refused(format!(
                "{thumb} has no private key in this store, so a .pfx would be useless; export the certificate alone with --pem"
            )));
        }
        if !record.exportable {
            return Err(LifecycleError::Refused(format!(
                "the private key of {thumb} ({}) is marked non-exportable; it never leaves this store. Export the certificate alone with --pem, or request a new certificate on the other server",
                record.summary.subject
            )));
        }
        Ok(record)
    }

    /// Records in the audit log that a private key left the store.
    pub fn record_export(&mut self, record: &CertRecord, form: &str, to: &str) -> Result<()> {
        let mut change = self.change("export");
        change.describe(format!(
            "exported {} ({}) with its private key as {form} to {to}",
            record.summary.thumbprint, record.summary.subject
        ));
        self.store.apply(change)?;
        Ok(())
    }

    /// The certificate and its chain as PEM (never the key).
    pub fn export_pem(&self, prefix: &str) -> Result<(String, CertRecord)> {
        let record = find_certificate(self.store.as_ref(), prefix)?;
        let chain = self.store.chain(&record.summary.thumbprint)?;
        Ok((chain_pem(&record.der, &chain), record))
    }
}
