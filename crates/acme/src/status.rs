//! Where each ACME certificate in use stands (`mailcert acme status`):
//! when a pass will renew it, whether it waits for DANE, and the failures
//! so far. The same rule as the renewal passes: [`decide`] over the
//! persisted state, at a time passed in.

use std::fmt;

use mailcert_lifecycle::Manager;
use mailcert_store::{Binding, CertRecord};
use time::OffsetDateTime;

use crate::engine::{dane_wait, Engine};
use crate::issue::OrderRecipe;
use crate::renewal::{decide, load_state, Decision, RenewalPolicy, RenewalState};
use crate::Result;

/// One ACME certificate in use, as a renewal pass at `now` would see it.
#[derive(Debug, Clone)]
pub struct RenewalStatus {
    pub record: CertRecord,
    /// How it was ordered (directory, challenge), so renewal can do it again.
    pub recipe: OrderRecipe,
    /// Its bindings: only certificates in use are renewed.
    pub bound: Vec<Binding>,
    /// Failures so far and the last error.
    pub state: RenewalState,
    pub next: NextRenewal,
    /// Why a due renewal waits for DANE: the certificate serves SMTP and
    /// the record of its next key may not be published yet.
    pub dane_waiting: Option<String>,
}

/// When the next renewal happens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NextRenewal {
    At(OffsetDateTime),
    DueWaitingForDane,
    DueNow,
    /// After failures: not before this time.
    BackingOffUntil(OffsetDateTime),
    /// Already renewed: this certificate replaced it.
    ReplacedBy(String),
}

impl fmt::Display for NextRenewal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NextRenewal::At(at) | NextRenewal::BackingOffUntil(at) => {
                f.write_str(&mailcert_x509::time::rfc3339(*at))
            }
            NextRenewal::DueWaitingForDane => f.write_str("due, waiting for DANE"),
            NextRenewal::DueNow => f.write_str("due now"),
            NextRenewal::ReplacedBy(by) => write!(f, "replaced by {by}"),
        }
    }
}

impl RenewalStatus {
    /// The services it is bound to as `list --json` has them: names,
    /// sorted, once each.
    pub fn service_names(&self) -> Vec<&'static str> {
        let mut names: Vec<&'static str> = self.bound.iter().map(|b| b.service.as_str()).collect();
        names.sort_unstable();
        names.dedup();
        names
    }
}

/// Every ACME certificate a renewal pass looks at ([`Engine::candidates`]),
/// with when it will be renewed as of `now`.
pub fn renewal_status(manager: &Manager, now: OffsetDateTime) -> Result<Vec<RenewalStatus>> {
    let policy = RenewalPolicy::default();
    let mut out = Vec::new();
    for (record, recipe, bound) in Engine::candidates(manager)? {
        let state = load_state(manager.store.as_ref(), &record.summary.thumbprint)?;
        let decision = decide(&policy, &record, &state, None, now, false);
        // DANE: a due renewal of a certificate serving SMTP waits for its
        // next key's record.
        let dane_waiting = dane_wait(manager, &record, &bound)?;
        let next = match decision {
            Decision::NotDue { renew_at } => NextRenewal::At(renew_at),
            Decision::Due(_) if dane_waiting.is_some() => NextRenewal::DueWaitingForDane,
            Decision::Due(_) => NextRenewal::DueNow,
            Decision::BackingOff { until, .. } => NextRenewal::BackingOffUntil(until),
            Decision::Replaced { by } => NextRenewal::ReplacedBy(by),
        };
        out.push(RenewalStatus {
            record,
            recipe,
            bound,
            state,
            next,
            dane_waiting,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use mailcert_x509::Service;

    use super::*;
    use crate::issue::store_and_enable;
    use crate::issue::tests::{manager, obtained, START};

    /// A store holding one certificate "obtained through ACME" (90 days
    /// from START), bound to `services`; and its thumbprint.
    fn store_with_acme_certificate(
        dir: &std::path::Path,
        services: &[Service],
    ) -> (Manager, String) {
        let mut manager = manager(dir);
        let (obtained, recipe) = obtained();
        let ordered =
            store_and_enable(&mut manager, &obtained, &recipe, services, &[]).expect("stored");
        (manager, ordered.thumbprint)
    }

    #[test]
    fn only_certificates_in_use_have_a_status() {
        let dir = tempfile::tempdir().expect("dir");
        let (manager, thumb) = store_with_acme_certificate(dir.path(), &[]);
        assert!(renewal_status(&manager, START).expect("status").is_empty());
        // Nor can one be renewed by thumbprint.
        assert!(Engine::candidate(&manager, &thumb[..8]).is_err());
    }

    #[test]
    fn a_certificate_in_use_is_renewed_with_a_third_of_its_life_left() {
        let dir = tempfile::tempdir().expect("dir");
        let (manager, thumb) =
            store_with_acme_certificate(dir.path(), &[Service::Pop, Service::Imap]);
        assert_eq!(
            Engine::candidate(&manager, &thumb[..8]).expect("a candidate"),
            thumb
        );
        let status = renewal_status(&manager, START).expect("status");
        assert_eq!(status.len(), 1);
        assert_eq!(status[0].service_names(), ["imap", "pop"]);
        assert_eq!(
            status[0].next,
            NextRenewal::At(START + time::Duration::days(60))
        );
        assert_eq!(status[0].next.to_string(), "2026-03-02T00:00:00Z");
        assert_eq!(status[0].dane_waiting, None);
        let later = renewal_status(&manager, START + time::Duration::days(61)).expect("status");
        assert_eq!(later[0].next, NextRenewal::DueNow);
        assert_eq!(later[0].next.to_string(), "due now");
    }
}
