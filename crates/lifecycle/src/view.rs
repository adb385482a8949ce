//! The shape `list --json` and `show --json` print, which scripts and the
//! console's `GET /api/v1/certificates` (docs/console.md) rely on: fields
//! may be added, never renamed.

use mailcert_store::{Binding, CertRecord, PendingRecord, Store};
use mailcert_x509::status::{evaluate, EXPIRY_WARNING_DAYS};
use mailcert_x509::time::{rfc3339, Validity};
use mailcert_x509::Status;
use serde::Serialize;
use time::OffsetDateTime;

/// Every pending request, then every certificate: the objects `list
/// --json` prints (and the console's `GET /api/v1/certificates`).
pub fn list(store: &dyn Store, now: OffsetDateTime) -> crate::Result<Vec<CertView>> {
    let bindings = store.bindings()?;
    let mut views: Vec<CertView> = store
        .pending_requests()?
        .iter()
        .map(CertView::of_pending)
        .collect();
    let scheduled = crate::schedule::scheduled(store)?;
    let certificates = store.certificates()?;
    let dane = crate::dane_publish::next_key_warnings(store, &certificates, &bindings, now)?;
    views.extend(certificates.iter().map(|c| {
        let mut view = CertView::of_certificate(c, &bindings, now);
        view.warnings
            .extend(crate::schedule::warnings_for(&scheduled, &view.thumbprint));
        view.warnings.extend(
            dane.iter()
                .filter(|(thumbprint, _)| thumbprint == &view.thumbprint)
                .map(|(_, warning)| warning.clone()),
        );
        view
    }));
    Ok(views)
}

/// What `show` and `show --json` say of one certificate or pending
/// request: a certificate's view carries what is scheduled for it, as
/// `list` has it.
pub fn one(
    store: &dyn Store,
    found: &crate::Found,
    now: OffsetDateTime,
) -> crate::Result<CertView> {
    Ok(match found {
        crate::Found::Certificate(c) => {
            let mut view = CertView::of_certificate(c, &store.bindings()?, now);
            view.warnings.extend(crate::schedule::warnings_for(
                &crate::schedule::scheduled(store)?,
                &view.thumbprint,
            ));
            view
        }
        crate::Found::Pending(p) => CertView::of_pending(p),
    })
}

/// One certificate or pending request as scripts see it.
#[derive(Debug, Clone, Serialize)]
pub struct CertView {
    pub thumbprint: String,
    pub sha256: Option<String>,
    pub subject: String,
    pub names: Vec<String>,
    pub ip_addresses: Vec<String>,
    pub issuer: Option<String>,
    pub services: Vec<String>,
    pub status: Status,
    pub warnings: Vec<String>,
    pub not_before: Option<String>,
    pub not_after: Option<String>,
    pub days_left: Option<i64>,
    pub is_self_signed: bool,
    pub has_private_key: bool,
    pub exportable: bool,
    pub key_algorithm: String,
    pub key_size: Option<u32>,
    pub signature_algorithm: Option<String>,
    pub chain: Vec<String>,
    pub friendly_name: Option<String>,
    pub serial: Option<String>,
    pub origin: String,
    pub bindings: Vec<BindingView>,
    /// The listeners this certificate is bound to by name (a listener
    /// with certificates of its own serves only those, not the ones bound
    /// to the whole service).
    pub listeners: Vec<String>,
    pub trust: String,
    /// Set when a bound certificate expires within the warning window or
    /// has expired (not printed in JSON: `warnings` says it there).
    #[serde(skip)]
    pub expiry: Option<Expiry>,
}

/// How close a bound certificate is to its end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expiry {
    /// Whole days left, within the warning window.
    Expiring { days: i64 },
    /// Whole days since it expired.
    Expired { days_ago: i64 },
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct BindingView {
    pub service: String,
    pub listener: Option<String>,
    /// The node of a fleet the binding is for; `None`: every node.
    pub node: Option<String>,
}

impl CertView {
    pub fn of_certificate(
        record: &CertRecord,
        bindings: &[Binding],
        now: OffsetDateTime,
    ) -> CertView {
        let s = &record.summary;
        let eval = evaluate(s, &record.trust, now, EXPIRY_WARNING_DAYS);
        let mine: Vec<&Binding> = bindings
            .iter()
            .filter(|b| b.thumbprint == s.thumbprint)
            .collect();
        let mut services: Vec<String> = mine
            .iter()
            .map(|b| b.service.as_str().to_string())
            .collect();
        services.sort();
        services.dedup();
        let expiry = if services.is_empty() {
            None
        } else if s.validity_at(now) == Validity::Expired {
            Some(Expiry::Expired {
                days_ago: (now - s.not_after).whole_days(),
            })
        } else if s.validity_at(now) == Validity::Valid && eval.days_left <= EXPIRY_WARNING_DAYS {
            Some(Expiry::Expiring {
                days: eval.days_left,
            })
        } else {
            None
        };
        let mut warnings = eval.warnings;
        if !record.has_private_key {
            warnings.push("no private key: it cannot be bound to a service".into());
        }
        CertView {
            thumbprint: s.thumbprint.clone(),
            sha256: Some(s.sha256.clone()),
            subject: s.subject.clone(),
            names: s.names.clone(),
            ip_addresses: s.ip_addresses.iter().map(|ip| ip.to_string()).collect(),
            issuer: Some(s.issuer.clone()),
            services,
            status: eval.status,
            warnings,
            not_before: Some(rfc3339(s.not_before)),
            not_after: Some(rfc3339(s.not_after)),
            days_left: Some(eval.days_left),
            is_self_signed: s.is_self_signed,
            has_private_key: record.has_private_key,
            exportable: record.exportable && record.has_private_key,
            key_algorithm: s.key_algorithm.clone(),
            key_size: Some(s.key_size),
            signature_algorithm: Some(s.signature_algorithm.clone()),
            chain: record.chain.clone(),
            friendly_name: record.friendly_name.clone(),
            serial: Some(s.serial.clone()),
            origin: record.origin.as_str().to_string(),
            bindings: mine
                .iter()
                .map(|b| BindingView {
                    service: b.service.as_str().into(),
                    listener: b.listener.clone(),
                    node: b.node.clone(),
                })
                .collect(),
            listeners: {
                let mut names: Vec<String> =
                    mine.iter().filter_map(|b| b.listener.clone()).collect();
                names.sort();
                names.dedup();
                names
            },
            trust: record.trust.encode(),
            expiry,
        }
    }

    /// The expiry warning administrators know from Exchange ("thumbprint
    /// XXXXX is going to expire"): thumbprint, subject, services, days
    /// left, and what to do. `None` unless the certificate is bound and
    /// expiring or expired.
    pub fn expiry_warning(&self) -> Option<String> {
        let services = self.services.join(", ");
        let date = self
            .not_after
            .as_deref()
            .map(|d| d.get(..10).unwrap_or(d))
            .unwrap_or("?");
        let thumb = &self.thumbprint;
        let fix = if self.is_self_signed {
            format!("renew it with `mailcert renew {thumb}`")
        } else {
            format!(
                "renew it with `mailcert renew {thumb}` (a new request for the CA), then `mailcert replace {thumb} NEW`"
            )
        };
        Some(match self.expiry? {
            Expiry::Expiring { days } => format!(
                "certificate {thumb} ({}) used by {services} {} ({date}); {fix}",
                self.subject,
                match days {
                    0 => "expires today".to_string(),
                    1 => "expires in 1 day".to_string(),
                    n => format!("expires in {n} days"),
                }
            ),
            Expiry::Expired { days_ago } => format!(
                "certificate {thumb} ({}) expired {} ({date}) and is still bound to {services}: clients refuse it; {fix}, or bind another with `mailcert enable`",
                self.subject,
                match days_ago {
                    0 => "today".to_string(),
                    1 => "1 day ago".to_string(),
                    n => format!("{n} days ago"),
                }
            ),
        })
    }

    pub fn of_pending(pending: &PendingRecord) -> CertView {
        // The request keeps DNS names and IP addresses in one list; split
        // them as for a certificate, so scripts read the same fields.
        let (ips, names): (Vec<&String>, Vec<&String>) = pending
            .names
            .iter()
            .partition(|n| n.parse::<std::net::IpAddr>().is_ok());
        CertView {
            thumbprint: pending.id.clone(),
            sha256: None,
            subject: pending.subject.clone(),
            names: names.into_iter().cloned().collect(),
            ip_addresses: ips.into_iter().cloned().collect(),
            issuer: None,
            services: Vec::new(),
            status: Status::PendingRequest,
            warnings: vec![
                "waiting for the CA's answer: complete it with `mailcert complete FILE`".into(),
            ],
            not_before: None,
            not_after: None,
            days_left: None,
            is_self_signed: false,
            has_private_key: true,
            exportable: pending.exportable,
            key_algorithm: pending.key_type.clone(),
            key_size: key_size(&pending.key_type),
            signature_algorithm: None,
            chain: Vec::new(),
            friendly_name: pending.friendly_name.clone(),
            serial: None,
            origin: "request".into(),
            bindings: Vec::new(),
            listeners: Vec::new(),
            trust: String::new(),
            expiry: None,
        }
    }
}

/// The size in bits of a key type named as `--key` names it.
fn key_size(key_type: &str) -> Option<u32> {
    use mailcert_x509::keys::KeyType;
    Some(match key_type.parse::<KeyType>().ok()? {
        KeyType::EcP256 => 256,
        KeyType::EcP384 => 384,
        KeyType::Rsa2048 => 2048,
        KeyType::Rsa3072 => 3072,
        KeyType::Rsa4096 => 4096,
    })
}

/// One certificate of a stored chain, as a person reads it (`show`); the
/// JSON's `chain` stays the thumbprints.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainEntry {
    pub thumbprint: String,
    pub subject: String,
    pub issuer: String,
    pub not_after: String,
}

/// The stored chain of `thumbprint`, issuer first, each certificate read.
pub fn chain_entries(
    store: &dyn mailcert_store::Store,
    thumbprint: &str,
) -> crate::Result<Vec<ChainEntry>> {
    Ok(store
        .chain(thumbprint)?
        .iter()
        .map(|der| match mailcert_x509::CertSummary::from_der(der) {
            Ok(s) => ChainEntry {
                thumbprint: s.thumbprint.clone(),
                subject: s.subject.clone(),
                issuer: s.issuer.clone(),
                not_after: rfc3339(s.not_after),
            },
            Err(e) => ChainEntry {
                thumbprint: mailcert_x509::thumbprint(der),
                subject: format!("(unreadable: {e})"),
                issuer: String::new(),
                not_after: String::new(),
            },
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use mailcert_store::{SqliteStore, StoreLocation};
    use mailcert_x509::KeyType;

    use crate::schedule::ScheduledChange;
    use crate::{find, Manager};

    #[test]
    fn one_certificate_says_what_is_scheduled_for_it() {
        let dir = tempfile::tempdir().expect("dir");
        let location = StoreLocation::resolve(Some(&dir.path().join("store.db")), None);
        let (store, _) = SqliteStore::open_or_create(&location).expect("store");
        let mut manager = Manager::new(Box::new(store), "test");
        let thumb = manager
            .new_self_signed(
                &["mail.contoso.com".into()],
                KeyType::EcP256,
                30,
                None,
                true,
            )
            .expect("certificate")
            .thumbprint
            .expect("a thumbprint");
        let found = find(manager.store.as_ref(), &thumb[..8]).expect("found");
        let view = super::one(manager.store.as_ref(), &found, manager.now()).expect("view");
        assert_eq!(view.thumbprint, thumb);
        assert!(
            view.warnings.iter().all(|w| !w.starts_with("scheduled")),
            "{:?}",
            view.warnings
        );
        let at = manager.now() + time::Duration::days(1);
        manager
            .schedule(
                ScheduledChange::Enable {
                    thumbprint: thumb.clone(),
                    services: vec!["imap".into()],
                    listener: None,
                    node: None,
                    hostnames: Vec::new(),
                    strict: false,
                },
                at,
            )
            .expect("scheduled");
        let view = super::one(manager.store.as_ref(), &found, manager.now()).expect("view");
        assert!(
            view.warnings.iter().any(|w| w.starts_with("scheduled: ")),
            "{:?}",
            view.warnings
        );
    }
}
