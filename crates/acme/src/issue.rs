//! Storing what an order obtained: certificate, key and chain in one
//! change, with the facts renewal needs (`acme.cert.<thumbprint>`), and
//! for a renewal the bindings moved from the old certificate in the same
//! transaction.

use mailcert_lifecycle::Manager;
use mailcert_store::{Change, NewCertificate, Op, Origin, Store};
use mailcert_x509::chain::without_roots;
use mailcert_x509::{KeyType, Service, Status};
use serde::{Deserialize, Serialize};

use crate::challenge::ChallengeKind;
use crate::error::{AcmeError, Result};
use crate::order::Obtained;

/// Prefix of the named values that say how a certificate was ordered.
pub const CERT_PREFIX: &str = "acme.cert.";

/// How a certificate was ordered, so that renewal can do it again.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderRecipe {
    pub directory: String,
    pub challenge: ChallengeKind,
    pub key: KeyType,
    pub names: Vec<String>,
    #[serde(default)]
    pub http_bind: Option<String>,
    #[serde(default)]
    pub tls_bind: Option<String>,
    #[serde(default)]
    pub dns_hook: Option<String>,
    /// DNS-01 by RFC 2136 instead of the hook.
    #[serde(default)]
    pub dns_update: Option<crate::dns_update::DnsUpdateRecipe>,
    /// Seconds to wait for validation and issuance.
    #[serde(default = "default_timeout")]
    pub timeout_secs: u64,
}

fn default_timeout() -> u64 {
    120
}

pub(crate) fn recipe_key(thumbprint: &str) -> String {
    format!("{CERT_PREFIX}{thumbprint}")
}

/// The recipe of a certificate obtained through ACME, if any.
pub fn recipe(store: &dyn Store, thumbprint: &str) -> Result<Option<OrderRecipe>> {
    let Some(bytes) = store.value(&recipe_key(thumbprint))? else {
        return Ok(None);
    };
    serde_json::from_slice(&bytes).map(Some).map_err(|e| {
        AcmeError::Store(mailcert_store::StoreError::Corrupt {
            what: format!("ACME recipe of {thumbprint}"),
            reason: e.to_string(),
        })
    })
}

/// Builds the change that stores an obtained certificate with its key,
/// chain and recipe. Returns it with the new thumbprint.
pub fn store_change(
    manager: &Manager,
    obtained: &Obtained,
    recipe: &OrderRecipe,
    action: &str,
) -> Result<(Change, String)> {
    let thumb = obtained.summary.thumbprint.clone();
    if manager.store.certificate(&thumb)?.is_some() {
        return Err(AcmeError::BadCertificate(format!(
            "certificate {thumb} is already in the store"
        )));
    }
    // Judged with everything the CA sent; stored without a root, which
    // the front end would otherwise send (some CAs offer chains with one).
    let trust = manager.trust_of(&obtained.summary, &obtained.der, &obtained.chain, false)?;
    let mut change = manager.change(action);
    change.describe(format!(
        "stored ACME certificate {thumb} for {} from {}",
        obtained.summary.names.join(", "),
        recipe.directory
    ));
    change.push(Op::InsertCertificate(Box::new(NewCertificate {
        summary: obtained.summary.clone(),
        der: obtained.der.clone(),
        chain: without_roots(&obtained.chain),
        private_key: Some(obtained.key_der.clone()),
        exportable: true,
        friendly_name: None,
        origin: Origin::Acme,
        trust,
    })));
    let json = serde_json::to_vec(recipe).map_err(|e| AcmeError::BadInput(e.to_string()))?;
    change.push(Op::SetValue {
        key: recipe_key(&thumb),
        value: Some(json),
        secret: false,
    });
    Ok((change, thumb))
}

/// Stores an obtained certificate (unbound). One transaction.
pub fn store_obtained(
    manager: &mut Manager,
    obtained: &Obtained,
    recipe: &OrderRecipe,
) -> Result<String> {
    let (change, thumb) = store_change(manager, obtained, recipe, "acme order")?;
    manager.store.apply(change)?;
    Ok(thumb)
}

/// What `acme order` did: the certificate it stored, and the sentences
/// that say so (and what enabling it did).
#[derive(Debug, Clone)]
pub struct Ordered {
    pub thumbprint: String,
    pub messages: Vec<String>,
}

/// Stores an obtained certificate as [`store_obtained`] does, then enables
/// it for `services` (none: it stays unbound) with the enable pre-flight
/// against `hostnames`, the names clients use for those services. A
/// refused enable leaves the certificate stored and says how to enable it.
pub fn store_and_enable(
    manager: &mut Manager,
    obtained: &Obtained,
    recipe: &OrderRecipe,
    services: &[Service],
    hostnames: &[String],
) -> Result<Ordered> {
    let thumbprint = store_obtained(manager, obtained, recipe)?;
    let mut messages = vec![format!(
        "stored {thumbprint} for {} (valid until {}), issued by {}",
        obtained.summary.names.join(", "),
        mailcert_x509::time::rfc3339(obtained.summary.not_after),
        obtained.summary.issuer
    )];
    if !services.is_empty() {
        let report = manager
            .enable(&thumbprint, services, None, hostnames, false)
            .map_err(|source| AcmeError::StoredNotEnabled {
                thumbprint: thumbprint.clone(),
                source,
            })?;
        messages.extend(report.lines);
    }
    Ok(Ordered {
        thumbprint,
        messages,
    })
}

/// Refuses a renewal result that would make clients worse off than the
/// certificate it replaces: outside its dates, invalid, or untrusted where
/// the old one was trusted.
pub fn ensure_replaceable(
    manager: &Manager,
    old: &mailcert_store::CertRecord,
    obtained: &Obtained,
) -> Result<()> {
    // Judged with everything the CA sent; stored without a root, which
    // the front end would otherwise send (some CAs offer chains with one).
    let trust = manager.trust_of(&obtained.summary, &obtained.der, &obtained.chain, false)?;
    let status = mailcert_x509::status::evaluate(
        &obtained.summary,
        &trust,
        manager.now(),
        mailcert_x509::status::EXPIRY_WARNING_DAYS,
    )
    .status;
    let old_status = manager.status(old);
    let worse = match status {
        Status::DateInvalid | Status::Invalid => true,
        Status::Untrusted => old_status == Status::Valid,
        _ => false,
    };
    if worse {
        return Err(AcmeError::BadCertificate(format!(
            "the renewed certificate {} is {} ({}) while {} is {}; bindings were not moved",
            obtained.summary.thumbprint,
            status.as_str(),
            trust.words(),
            old.summary.thumbprint,
            old_status.as_str()
        )));
    }
    for name in &old.summary.names {
        if !obtained
            .summary
            .names
            .iter()
            .any(|n| n.eq_ignore_ascii_case(name))
        {
            return Err(AcmeError::BadCertificate(format!(
                "the renewed certificate {} lacks {name}, which {} has; bindings were not moved",
                obtained.summary.thumbprint, old.summary.thumbprint
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
pub(crate) mod tests {
    use mailcert_store::{SqliteStore, StoreLocation};
    use mailcert_x509::build::{self_signed, ServerCertSpec};
    use mailcert_x509::{CertSummary, SubjectName};
    use time::macros::datetime;
    use time::OffsetDateTime;

    use super::*;

    /// When the certificates of these tests begin; they last 90 days.
    pub(crate) const START: OffsetDateTime = datetime!(2026-01-01 0:00 UTC);

    /// A store whose clock stands a day after [`START`].
    pub(crate) fn manager(dir: &std::path::Path) -> Manager {
        let location = StoreLocation::resolve(Some(&dir.join("store.db")), None);
        let (store, _) = SqliteStore::open_or_create(&location).expect("store");
        Manager::new(Box::new(store), "test").at(START + time::Duration::days(1))
    }

    /// What a CA's answer for mail.example.test would be (self-signed, 90
    /// days from [`START`]) and the recipe of its order.
    pub(crate) fn obtained() -> (Obtained, OrderRecipe) {
        let key = KeyType::EcP256.generate().expect("key");
        let spec = ServerCertSpec {
            names: vec![SubjectName::Dns("mail.example.test".into())],
            subject: None,
            not_before: START,
            days: 90,
        };
        let issued = self_signed(&spec, &key).expect("certificate");
        let obtained = Obtained {
            summary: CertSummary::from_der(&issued.cert_der).expect("summary"),
            der: issued.cert_der,
            chain: Vec::new(),
            key_der: issued.key_der,
        };
        let recipe = OrderRecipe {
            directory: "https://acme.example.test/directory".into(),
            challenge: ChallengeKind::Http01,
            key: KeyType::EcP256,
            names: vec!["mail.example.test".into()],
            http_bind: None,
            tls_bind: None,
            dns_hook: None,
            dns_update: None,
            timeout_secs: 120,
        };
        (obtained, recipe)
    }

    #[test]
    fn an_order_is_stored_with_its_recipe_and_enabled_as_asked() {
        let dir = tempfile::tempdir().expect("dir");
        let mut manager = manager(dir.path());
        let (obtained, order) = obtained();
        let ordered = store_and_enable(&mut manager, &obtained, &order, &[Service::Imap], &[])
            .expect("ordered");
        assert_eq!(ordered.thumbprint, obtained.summary.thumbprint);
        assert!(
            ordered.messages[0].starts_with(&format!(
                "stored {} for mail.example.test (valid until 2026-04-01T00:00:00Z)",
                ordered.thumbprint
            )),
            "{:?}",
            ordered.messages
        );
        assert!(ordered.messages.len() > 1, "{:?}", ordered.messages);
        assert_eq!(
            recipe(manager.store.as_ref(), &ordered.thumbprint).expect("recipe"),
            Some(order.clone())
        );
        let bound = manager.store.bindings().expect("bindings");
        assert!(bound
            .iter()
            .any(|b| b.thumbprint == ordered.thumbprint && b.service == Service::Imap));
        // The same answer twice is refused: it is already in the store.
        assert!(matches!(
            store_and_enable(&mut manager, &obtained, &order, &[], &[]),
            Err(AcmeError::BadCertificate(_))
        ));
    }
}
