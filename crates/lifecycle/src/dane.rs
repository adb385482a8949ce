//! DANE for SMTP, on the store's side: whether it is on, the next key
//! each certificate bound to SMTP keeps ready (encrypted like any key),
//! and the TLSA records of the current and next keys.
//!
//! Next keys are named values (`dane.next-key.THUMBPRINT`, secret), so
//! both store backends keep them without a schema change and a fleet sees
//! them at once. A renewal of any kind takes the next key of the
//! certificate it renews ([`Manager::take_next_key`]) and leaves a fresh
//! one for the new certificate.

use mailcert_dane::tlsa::{owner_name, Tlsa, Usage};
use mailcert_store::{CertRecord, Change, Op};
use mailcert_x509::keys::{key_spki, read_key};
use mailcert_x509::{KeyType, Service};
use serde::Serialize;

use crate::error::{NoTlsaRecords, Result};
use crate::find::find_certificate;
use crate::manager::{Manager, Report};

/// Named value: DANE is on (`"1"`).
pub const DANE_ENABLED: &str = "dane.enabled";
/// Named values: the next key of a certificate, by thumbprint (PKCS#8, secret).
pub const NEXT_KEY_PREFIX: &str = "dane.next-key.";

/// The next key's value name for a certificate.
pub fn next_key_name(thumbprint: &str) -> String {
    format!("{NEXT_KEY_PREFIX}{thumbprint}")
}

/// Which key a record is for.
/// What `mailcert dane` says below the records of the server's own key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecordsAdvice {
    /// DANE is on, and no certificate has a next key yet: `dane enable`
    /// makes one for each certificate bound to SMTP.
    NoNextKey,
    /// DANE is off: the next renewal makes a fresh key, so only the
    /// current key's record can be shown.
    DaneOff,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum KeyRole {
    /// The key the certificate has now.
    Current,
    /// The key its next renewal will use.
    Next,
}

/// One TLSA record for `mailcert dane`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DaneRecord {
    /// `_25._tcp.mx1.contoso.com.`
    pub name: String,
    pub usage: u8,
    pub selector: u8,
    pub matching: u8,
    /// Upper-case hex.
    pub data: String,
    pub key: KeyRole,
    /// The certificate the record is for.
    pub thumbprint: String,
    #[serde(skip)]
    pub tlsa: Tlsa,
}

impl DaneRecord {
    /// `_25._tcp.mx1.contoso.com. IN TLSA 3 1 1 ABCD…`
    pub fn zone_line(&self) -> String {
        mailcert_dane::tlsa::zone_line(&self.name, &self.tlsa)
    }
}

/// What `mailcert dane` prints records for.
#[derive(Debug, Clone)]
pub struct RecordsRequest<'a> {
    /// One certificate (thumbprint prefix); else every one bound to `service`.
    pub thumbprint: Option<&'a str>,
    pub service: Service,
    pub port: u16,
    pub usage: Usage,
}

impl Manager {
    /// Whether DANE is on for this store.
    pub fn dane_enabled(&self) -> Result<bool> {
        Ok(self.store.value(DANE_ENABLED)?.as_deref() == Some(b"1"))
    }

    /// What to say below `records` (the answer to a request for `usage`):
    /// for the server's own key (DANE-EE), that DANE is off and only the
    /// current key is shown, or that it is on and no certificate has a
    /// next key yet. Nothing for DANE-TA.
    pub fn dane_records_advice(
        &self,
        usage: Usage,
        records: &[DaneRecord],
    ) -> Result<Option<RecordsAdvice>> {
        if usage != Usage::DaneEe {
            return Ok(None);
        }
        if !self.dane_enabled()? {
            return Ok(Some(RecordsAdvice::DaneOff));
        }
        Ok((!records.iter().any(|r| r.key == KeyRole::Next)).then_some(RecordsAdvice::NoNextKey))
    }

    /// Certificates bound to `service` (any listener, any node), oldest first.
    pub fn bound_to_service(&self, service: Service) -> Result<Vec<CertRecord>> {
        let bindings = self.store.bindings()?;
        let mut out: Vec<CertRecord> = self
            .store
            .certificates()?
            .into_iter()
            .filter(|c| {
                bindings
                    .iter()
                    .any(|b| b.service == service && b.thumbprint == c.summary.thumbprint)
            })
            .collect();
        out.sort_by_key(|c| c.seq);
        Ok(out)
    }

    /// The SubjectPublicKeyInfo of a certificate's next key, if it has one.
    pub fn next_key_spki(&self, thumbprint: &str) -> Result<Option<Vec<u8>>> {
        match self.store.value(&next_key_name(thumbprint))? {
            Some(pkcs8) => Ok(Some(read_key(&pkcs8)?.spki)),
            None => Ok(None),
        }
    }

    /// The TLSA records of the certificates asked for.
    pub fn dane_records(&self, request: &RecordsRequest<'_>) -> Result<Vec<DaneRecord>> {
        let certificates = match request.thumbprint {
            Some(prefix) => vec![find_certificate(self.store.as_ref(), prefix)?],
            None => self.bound_to_service(request.service)?,
        };
        if certificates.is_empty() {
            return Err(NoTlsaRecords::NothingBound {
                service: request.service,
            }
            .into());
        }
        let mut records = Vec::new();
        for cert in &certificates {
            let names: Vec<&String> = cert
                .summary
                .names
                .iter()
                // No record for a wildcard (it names no host) or a name
                // of one label (no zone to publish it in).
                .filter(|n| !n.starts_with("*.") && n.contains('.'))
                .collect();
            if names.is_empty() && request.thumbprint.is_none() {
                // Among all the certificates bound to the service, one
                // without a host name (the secure-by-default certificate
                // of a one-label host name) has no record to publish.
                continue;
            }
            if names.is_empty() {
                return Err(NoTlsaRecords::NoHostName {
                    thumbprint: cert.summary.thumbprint.clone(),
                }
                .into());
            }
            let mut keys: Vec<(KeyRole, Tlsa)> = Vec::new();
            match request.usage {
                Usage::DaneTa => {
                    let issuer = self.store.chain(&cert.summary.thumbprint)?;
                    let Some(issuer) = issuer.first() else {
                        return Err(NoTlsaRecords::NoIssuer {
                            thumbprint: cert.summary.thumbprint.clone(),
                            self_signed: cert.summary.is_self_signed,
                        }
                        .into());
                    };
                    let issuer = mailcert_x509::CertSummary::from_der(issuer)?;
                    // The next certificate comes from the same CA: its
                    // record stays, and there is no "next" CA key to know.
                    keys.push((
                        KeyRole::Current,
                        Tlsa::for_spki(Usage::DaneTa, &issuer.spki_der),
                    ));
                }
                _ => {
                    keys.push((
                        KeyRole::Current,
                        Tlsa::for_spki(Usage::DaneEe, &cert.summary.spki_der),
                    ));
                    if let Some(next) = self.next_key_spki(&cert.summary.thumbprint)? {
                        keys.push((KeyRole::Next, Tlsa::for_spki(Usage::DaneEe, &next)));
                    }
                }
            }
            for name in names {
                let owner = owner_name(request.port, name);
                for (role, tlsa) in &keys {
                    records.push(DaneRecord {
                        name: owner.clone(),
                        usage: tlsa.usage.number(),
                        selector: tlsa.selector.number(),
                        matching: tlsa.matching.number(),
                        data: tlsa.data_hex(),
                        key: *role,
                        thumbprint: cert.summary.thumbprint.clone(),
                        tlsa: tlsa.clone(),
                    });
                }
            }
        }
        if records.is_empty() {
            return Err(NoTlsaRecords::NoBoundHostName {
                service: request.service,
            }
            .into());
        }
        Ok(records)
    }

    /// A fresh next key of the certificate's own key type, as a change step.
    pub(crate) fn new_next_key_op(&self, thumbprint: &str, key_algorithm: &str) -> Result<Op> {
        let key = KeyType::from_description(key_algorithm).unwrap_or_default();
        let pair = key.generate()?;
        debug_assert!(!key_spki(&pair).is_empty());
        Ok(Op::SetValue {
            key: next_key_name(thumbprint),
            value: Some(pair.serialize_der()),
            secret: true,
        })
    }

    /// Adds to `change` a next key for each certificate bound to SMTP
    /// that has none. Returns their thumbprints.
    pub fn ensure_next_keys(&self, change: &mut Change) -> Result<Vec<String>> {
        let mut made = Vec::new();
        for cert in self.bound_to_service(Service::Smtp)? {
            if !cert.has_private_key {
                continue;
            }
            if self
                .store
                .value(&next_key_name(&cert.summary.thumbprint))?
                .is_none()
            {
                change.push(
                    self.new_next_key_op(&cert.summary.thumbprint, &cert.summary.key_algorithm)?,
                );
                made.push(cert.summary.thumbprint.clone());
            }
        }
        Ok(made)
    }

    /// `mailcert dane enable`: DANE on, a next key for every certificate
    /// bound to SMTP.
    pub fn dane_enable(&mut self) -> Result<Report> {
        let mut change = self.change("dane enable");
        change.push(Op::SetValue {
            key: DANE_ENABLED.into(),
            value: Some(b"1".to_vec()),
            secret: false,
        });
        let made = self.ensure_next_keys(&mut change)?;
        let was = self.dane_enabled()?;
        change.describe(format!(
            "DANE on; next keys made for {}",
            if made.is_empty() {
                "none".to_string()
            } else {
                made.join(", ")
            }
        ));
        self.store.apply(change)?;
        let mut report = Report {
            changed: true,
            ..Report::default()
        };
        if was {
            report.say("DANE was already on");
        }
        for thumb in &made {
            report.say(format!(
                "made the next key of {thumb}: its next renewal will use it; publish its TLSA record now (`mailcert dane`)"
            ));
        }
        Ok(report)
    }

    /// `mailcert dane disable`: DANE off; the next keys are deleted.
    pub fn dane_disable(&mut self) -> Result<Report> {
        let mut change = self.change("dane disable");
        change.push(Op::SetValue {
            key: DANE_ENABLED.into(),
            value: None,
            secret: false,
        });
        let keys = self.store.value_keys(NEXT_KEY_PREFIX)?;
        for key in &keys {
            change.push(Op::SetValue {
                key: key.clone(),
                value: None,
                secret: true,
            });
        }
        change.describe(format!("DANE off; {} next key(s) deleted", keys.len()));
        self.store.apply(change)?;
        let mut report = Report {
            changed: true,
            ..Report::default()
        };
        report.say(format!(
            "DANE is off: renewals make fresh keys again; {} next key(s) deleted. Withdraw the TLSA records from DNS before the next renewal, or validating senders will defer mail",
            keys.len()
        ));
        Ok(report)
    }

    /// For a renewal of `old`: its next key (PKCS#8) if DANE keeps one,
    /// with the steps that retire it; `None` makes a fresh key as before.
    pub fn take_next_key(&self, old: &str, change: &mut Change) -> Result<Option<Vec<u8>>> {
        let name = next_key_name(old);
        let Some(pkcs8) = self.store.value(&name)? else {
            return Ok(None);
        };
        change.push(Op::SetValue {
            key: name,
            value: None,
            secret: true,
        });
        Ok(Some(pkcs8))
    }

    /// The next key of a certificate (PKCS#8), if DANE keeps one, for a
    /// renewal that certifies it later (an ACME order, a request to a
    /// CA). It is retired only when the renewal's certificate takes over
    /// SMTP ([`Manager::dane_after_renewal`], [`Manager::next_keys_for_binds`]),
    /// so that its record stays published until then.
    pub fn next_key(&self, thumbprint: &str) -> Result<Option<Vec<u8>>> {
        Ok(self.store.value(&next_key_name(thumbprint))?)
    }

    /// In the change that stores the renewal of `old` as `new` and moves
    /// its bindings (`moved`): the old certificate's next key is retired
    /// (the new certificate holds it, or no certificate needs it any
    /// more), and while DANE is on the new certificate gets a next key of
    /// its own if it takes over SMTP. Returns whether one was made.
    pub fn dane_after_renewal(
        &self,
        old: &str,
        new: &str,
        key_algorithm: &str,
        moved: &[mailcert_store::Binding],
        change: &mut Change,
    ) -> Result<bool> {
        let had = self.take_next_key(old, change)?.is_some();
        if !(had || moved.iter().any(|b| b.service == Service::Smtp)) {
            return Ok(false);
        }
        self.next_key_for_new(new, key_algorithm, change)
    }

    /// After a renewal while DANE is on: the new certificate's next key.
    pub fn next_key_for_new(
        &self,
        thumbprint: &str,
        key_algorithm: &str,
        change: &mut Change,
    ) -> Result<bool> {
        if !self.dane_enabled()? {
            return Ok(false);
        }
        change.push(self.new_next_key_op(thumbprint, key_algorithm)?);
        Ok(true)
    }
}

impl Manager {
    /// While DANE is on: a next key for each certificate `change` binds to
    /// SMTP that has none yet, in the same change. Returns their
    /// thumbprints.
    /// Certificates that `change` leaves with no SMTP binding lose their
    /// next key in the same change: a renewal's certificate took over
    /// with it (or another certificate did, and nothing needs it).
    pub fn next_keys_for_binds(&self, change: &mut Change) -> Result<Vec<String>> {
        self.ensure_binds_dane_ready(change)?;
        self.retire_next_keys_of_unbound(change)?;
        if !self.dane_enabled()? {
            return Ok(Vec::new());
        }
        let mut thumbs: Vec<String> = change
            .ops
            .iter()
            .filter_map(|op| match op {
                Op::Bind(b) if b.service == Service::Smtp => Some(b.thumbprint.clone()),
                _ => None,
            })
            .collect();
        thumbs.sort();
        thumbs.dedup();
        let mut made = Vec::new();
        for thumb in thumbs {
            let Some(cert) = self.store.certificate(&thumb)? else {
                continue;
            };
            let name = next_key_name(&thumb);
            let inherited = change
                .ops
                .iter()
                .any(|op| matches!(op, Op::SetValue { key, value: Some(_), .. } if key == &name));
            if !cert.has_private_key || inherited || self.store.value(&name)?.is_some() {
                continue;
            }
            change.push(self.new_next_key_op(&thumb, &cert.summary.key_algorithm)?);
            made.push(thumb);
        }
        Ok(made)
    }

    /// Deletes, within `change`, the next keys of certificates that no
    /// longer serve SMTP once `change` is applied.
    fn retire_next_keys_of_unbound(&self, change: &mut Change) -> Result<()> {
        let mut after: Vec<mailcert_store::Binding> = self.store.bindings()?;
        for op in &change.ops {
            match op {
                Op::Unbind(b) => after.retain(|a| a != b),
                Op::Bind(b) => after.push(b.clone()),
                _ => {}
            }
        }
        let unbound: Vec<String> = change
            .ops
            .iter()
            .filter_map(|op| match op {
                Op::Unbind(b) if b.service == Service::Smtp => Some(b.thumbprint.clone()),
                _ => None,
            })
            .filter(|t| {
                !after
                    .iter()
                    .any(|a| a.service == Service::Smtp && &a.thumbprint == t)
            })
            .collect();
        let bound: Vec<String> = change
            .ops
            .iter()
            .filter_map(|op| match op {
                Op::Bind(b) if b.service == Service::Smtp => Some(b.thumbprint.clone()),
                _ => None,
            })
            .collect();
        for thumb in unbound {
            let name = next_key_name(&thumb);
            let retired = change
                .ops
                .iter()
                .any(|op| matches!(op, Op::SetValue { key, .. } if key == &name));
            let Some(pkcs8) = self.store.value(&name)?.filter(|_| !retired) else {
                continue;
            };
            change.push(Op::SetValue {
                key: name,
                value: None,
                secret: true,
            });
            // A renewal that kept the key (--reuse-key) takes over with
            // the same key: the next key, whose record is published,
            // stays the next one.
            let old_spki = self.store.certificate(&thumb)?.map(|c| c.summary.spki_der);
            for heir in &bound {
                let same_key = match self.store.certificate(heir)? {
                    Some(c) => Some(&c.summary.spki_der) == old_spki.as_ref(),
                    None => false,
                };
                if same_key && self.store.value(&next_key_name(heir))?.is_none() {
                    change.push(Op::SetValue {
                        key: next_key_name(heir),
                        value: Some(pkcs8),
                        secret: true,
                    });
                    break;
                }
            }
        }
        Ok(())
    }

    /// The rollover rule for the certificates `change` binds to SMTP: one
    /// whose key's record the publisher published must have been seen
    /// everywhere for twice its TTL ([`Manager::ensure_dane_ready`]).
    fn ensure_binds_dane_ready(&self, change: &Change) -> Result<()> {
        let mut checked = Vec::new();
        for op in &change.ops {
            let Op::Bind(b) = op else { continue };
            if b.service != Service::Smtp || checked.contains(&b.thumbprint) {
                continue;
            }
            checked.push(b.thumbprint.clone());
            let already = self
                .store
                .bindings()?
                .iter()
                .any(|a| a.service == Service::Smtp && a.thumbprint == b.thumbprint);
            if already {
                continue;
            }
            if let Some(cert) = self.store.certificate(&b.thumbprint)? {
                self.ensure_dane_ready(
                    &b.thumbprint,
                    &cert.summary.spki_der,
                    &cert.summary.names,
                    false,
                )?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use mailcert_store::{SqliteStore, StoreLocation};

    use super::*;

    #[test]
    fn the_advice_below_the_records_follows_dane_and_the_next_keys() {
        let dir = tempfile::tempdir().expect("dir");
        let location = StoreLocation::resolve(Some(&dir.path().join("store.db")), None);
        let (store, _) = SqliteStore::open_or_create(&location).expect("store");
        let mut manager = Manager::new(Box::new(store), "test");
        let thumb = manager
            .new_self_signed(&["mx.contoso.com".into()], KeyType::EcP256, 30, None, true)
            .expect("certificate")
            .thumbprint
            .expect("a thumbprint");
        manager
            .enable(&thumb, &[Service::Smtp], None, &[], false)
            .expect("enable");
        let request = RecordsRequest {
            thumbprint: None,
            service: Service::Smtp,
            port: 25,
            usage: Usage::DaneEe,
        };
        let records = manager.dane_records(&request).expect("records");
        let advice = |usage, records: &[DaneRecord]| {
            manager.dane_records_advice(usage, records).expect("advice")
        };
        assert_eq!(
            advice(Usage::DaneEe, &records),
            Some(RecordsAdvice::DaneOff)
        );
        assert_eq!(advice(Usage::DaneTa, &records), None);
        manager.dane_enable().expect("dane enable");
        let records = manager.dane_records(&request).expect("records");
        assert!(records.iter().any(|r| r.key == KeyRole::Next));
        let advice = |usage, records: &[DaneRecord]| {
            manager.dane_records_advice(usage, records).expect("advice")
        };
        assert_eq!(advice(Usage::DaneEe, &records), None);
        let current_only: Vec<DaneRecord> = records
            .into_iter()
            .filter(|r| r.key == KeyRole::Current)
            .collect();
        assert_eq!(
            advice(Usage::DaneEe, &current_only),
            Some(RecordsAdvice::NoNextKey)
        );
    }
}
