//! Storing what an order obtained: certificate, key and chain in one
//! change, with the facts renewal needs (`acme.cert.<thumbprint>`), and
//! for a renewal the bindings moved from the old certificate in the same
//! transaction.

use mailcert_lifecycle::Manager;
use mailcert_store::{Change, NewCertificate, Op, Origin, Store};
use mailcert_x509::chain::without_roots;
use mailcert_x509::{KeyType, Status};
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
