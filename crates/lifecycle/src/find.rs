//! Selecting a certificate or pending request by thumbprint prefix.

use mailcert_store::{CertRecord, PendingRecord, Store};
use mailcert_x509::thumbprint::normalize_prefix;

use crate::error::{LifecycleError, Result};

/// What a thumbprint prefix selected.
#[derive(Debug, Clone)]
pub enum Found {
    Certificate(Box<CertRecord>),
    Pending(Box<PendingRecord>),
}

/// Finds the one certificate or pending request whose thumbprint starts
/// with `prefix`. Ambiguity is an error that lists the candidates.
pub fn find(store: &dyn Store, prefix: &str) -> Result<Found> {
    let wanted = normalize_prefix(prefix).ok_or_else(|| {
        LifecycleError::BadInput(format!(
            "'{prefix}' is not a thumbprint: use the hexadecimal thumbprint (or its start) shown by `mailcert list`"
        ))
    })?;
    let mut hits: Vec<Found> = store
        .certificates_with_prefix(&wanted)?
        .into_iter()
        .map(|c| Found::Certificate(Box::new(c)))
        .collect();
    hits.extend(
        store
            .pending_with_prefix(&wanted)?
            .into_iter()
            .map(|p| Found::Pending(Box::new(p))),
    );
    match hits.len() {
        0 => Err(LifecycleError::NotFound(prefix.to_string())),
        1 => Ok(hits.remove(0)),
        _ => Err(LifecycleError::Ambiguous {
            prefix: prefix.to_string(),
            candidates: hits.iter().map(describe).collect(),
        }),
    }
}

/// Like [`find`], but only certificates qualify.
pub fn find_certificate(store: &dyn Store, prefix: &str) -> Result<CertRecord> {
    match find(store, prefix)? {
        Found::Certificate(c) => Ok(*c),
        Found::Pending(p) => Err(LifecycleError::BadInput(format!(
            "{} is a pending request, not a certificate yet; complete it with `mailcert complete` first",
            p.id
        ))),
    }
}

fn describe(found: &Found) -> String {
    match found {
        Found::Certificate(c) => format!("  {}  {}", c.summary.thumbprint, c.summary.subject),
        Found::Pending(p) => format!("  {}  {} (pending request)", p.id, p.subject),
    }
}
