//! When to renew, as a pure function of a certificate, its renewal state
//! and the time (always an input), plus the records the engine keeps in
//! the store:
//!
//! - `acme.state.<thumbprint>`: failures, last error, next attempt, and
//!   which certificate replaced it;
//! - `acme.lease.<thumbprint>`: who is renewing it and until when.
//!
//! The lease is taken with a compare-and-set ([`mailcert_store::Op::ExpectValue`]
//! then `SetValue` in one transaction), so of several front ends sharing
//! one store exactly one places the order; the others see it held and
//! skip. It is released in the same transaction that stores the result.

use std::time::Duration;

use mailcert_store::{CertRecord, Op, Store};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::error::{AcmeError, Result};

pub const STATE_PREFIX: &str = "acme.state.";
pub const LEASE_PREFIX: &str = "acme.lease.";

/// When to renew and how to back off.
#[derive(Debug, Clone, Copy)]
pub struct RenewalPolicy {
    /// Renew when this fraction of the lifetime is left (1/3).
    pub remaining_fraction: f64,
    /// Warn when this fraction of the lifetime is left and no renewal
    /// has succeeded (1/6), or at any failure.
    pub warn_fraction: f64,
    /// Wait after the first failure; doubled at each further one.
    pub backoff_first: Duration,
    /// The longest wait between attempts.
    pub backoff_max: Duration,
    /// While the certificate is still valid, the next attempt comes
    /// before this fraction of the time left has passed (1/4), so that
    /// retries keep happening before it expires.
    pub retry_fraction: f64,
    /// ... but not sooner than this after a failure (1 min), so that a
    /// certificate in its last minutes does not hammer the CA.
    pub retry_min: Duration,
    /// How long a renewal lease holds if its owner dies.
    pub lease: Duration,
}

impl Default for RenewalPolicy {
    fn default() -> Self {
        RenewalPolicy {
            remaining_fraction: 1.0 / 3.0,
            warn_fraction: 1.0 / 6.0,
            backoff_first: Duration::from_secs(10 * 60),
            backoff_max: Duration::from_secs(24 * 3600),
            retry_fraction: 0.25,
            retry_min: Duration::from_secs(60),
            lease: Duration::from_secs(30 * 60),
        }
    }
}

impl RenewalPolicy {
    /// The wait after `failures` consecutive failures (≥ 1).
    pub fn backoff(&self, failures: u32) -> Duration {
        let doublings = failures.saturating_sub(1).min(30);
        let wait = self.backoff_first.saturating_mul(1u32 << doublings);
        wait.min(self.backoff_max)
    }

    /// When to try again after `failures` consecutive failures (≥ 1), the
    /// last at `now`, for a certificate ending at `not_after`: the
    /// backoff, but never later than [`RenewalPolicy::retry_fraction`] of
    /// the time left (at least [`RenewalPolicy::retry_min`]). Once
    /// expired, the plain backoff.
    pub fn next_attempt(
        &self,
        failures: u32,
        now: OffsetDateTime,
        not_after: OffsetDateTime,
    ) -> OffsetDateTime {
        let wait = self.backoff(failures);
        let left = (not_after - now).as_seconds_f64();
        let wait = if left > 0.0 {
            let cap = Duration::from_secs_f64(left * self.retry_fraction).max(self.retry_min);
            wait.min(cap)
        } else {
            wait
        };
        now + time::Duration::seconds(wait.as_secs() as i64)
    }

    /// When a certificate is due by the lifetime rule.
    pub fn renew_at(&self, record: &CertRecord) -> OffsetDateTime {
        let s = &record.summary;
        let lifetime = (s.not_after - s.not_before).as_seconds_f64().max(0.0);
        s.not_after - time::Duration::seconds_f64(lifetime * self.remaining_fraction)
    }

    /// When the expiry warnings start.
    pub fn warn_at(&self, record: &CertRecord) -> OffsetDateTime {
        let s = &record.summary;
        let lifetime = (s.not_after - s.not_before).as_seconds_f64().max(0.0);
        s.not_after - time::Duration::seconds_f64(lifetime * self.warn_fraction)
    }
}

/// What the engine remembers about a certificate between attempts.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RenewalState {
    #[serde(default)]
    pub failures: u32,
    #[serde(default)]
    pub last_attempt: Option<i64>,
    #[serde(default)]
    pub next_attempt: Option<i64>,
    #[serde(default)]
    pub last_error: Option<String>,
    #[serde(default)]
    pub replaced_by: Option<String>,
}

/// The renewal window a CA suggested (ARI, RFC 9773).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SuggestedWindow {
    pub start: OffsetDateTime,
    pub end: OffsetDateTime,
}

/// Why a certificate is due.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DueReason {
    /// A third (the policy's fraction) of its lifetime is left.
    LifetimeLeft,
    /// The CA's renewal window has started.
    Ari { window: SuggestedWindow },
    /// Asked for (`acme renew --force`).
    Forced,
    /// The backoff after earlier failures is over.
    Retry { failures: u32 },
}

/// The engine's verdict for one certificate at one time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    NotDue {
        renew_at: OffsetDateTime,
    },
    Due(DueReason),
    BackingOff {
        until: OffsetDateTime,
        failures: u32,
        last_error: Option<String>,
    },
    Replaced {
        by: String,
    },
}

/// Decides whether to renew now. Pure: the time and the CA's window are
/// inputs.
pub fn decide(
    policy: &RenewalPolicy,
    record: &CertRecord,
    state: &RenewalState,
    window: Option<SuggestedWindow>,
    now: OffsetDateTime,
    force: bool,
) -> Decision {
    if let Some(by) = &state.replaced_by {
        return Decision::Replaced { by: by.clone() };
    }
    if state.failures > 0 {
        if let Some(next) = state
            .next_attempt
            .and_then(|t| OffsetDateTime::from_unix_timestamp(t).ok())
        {
            if now < next && !force {
                return Decision::BackingOff {
                    until: next,
                    failures: state.failures,
                    last_error: state.last_error.clone(),
                };
            }
            return Decision::Due(DueReason::Retry {
                failures: state.failures,
            });
        }
    }
    if force {
        return Decision::Due(DueReason::Forced);
    }
    if let Some(window) = window {
        if now >= window.start {
            return Decision::Due(DueReason::Ari { window });
        }
    }
    let renew_at = policy.renew_at(record);
    let renew_at = match window {
        Some(w) if w.start < renew_at => w.start,
        _ => renew_at,
    };
    if now >= renew_at {
        Decision::Due(DueReason::LifetimeLeft)
    } else {
        Decision::NotDue { renew_at }
    }
}

pub(crate) fn state_key(thumbprint: &str) -> String {
    format!("{STATE_PREFIX}{thumbprint}")
}

pub(crate) fn lease_key(thumbprint: &str) -> String {
    format!("{LEASE_PREFIX}{thumbprint}")
}

/// The renewal state of a certificate (default when none was recorded).
pub fn load_state(store: &dyn Store, thumbprint: &str) -> Result<RenewalState> {
    match store.value(&state_key(thumbprint))? {
        Some(bytes) => {
            serde_json::from_slice(&bytes).map_err(|e| corrupt(thumbprint, "renewal state", e))
        }
        None => Ok(RenewalState::default()),
    }
}

fn corrupt(thumbprint: &str, what: &str, e: serde_json::Error) -> AcmeError {
    AcmeError::Store(mailcert_store::StoreError::Corrupt {
        what: format!("ACME {what} of {thumbprint}"),
        reason: e.to_string(),
    })
}

pub(crate) fn state_op(thumbprint: &str, state: &RenewalState) -> Op {
    Op::SetValue {
        key: state_key(thumbprint),
        value: serde_json::to_vec(state).ok(),
        secret: false,
    }
}

/// A renewal lease in the store.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lease {
    pub owner: String,
    /// Unix time when the lease lapses if not released.
    pub expires: i64,
}

/// A lease this process holds; its exact bytes guard the release.
#[derive(Debug, Clone)]
pub struct HeldLease {
    pub thumbprint: String,
    pub bytes: Vec<u8>,
}

impl HeldLease {
    /// Gives the lease back in a change of its own (when nothing else is
    /// stored with it).
    pub fn release(&self, manager: &mut mailcert_lifecycle::Manager, line: String) -> Result<()> {
        let mut change = manager.change("acme renew");
        change.describe(line);
        for op in self.release_ops() {
            change.push(op);
        }
        manager.store.apply(change)?;
        Ok(())
    }

    /// Ops that release the lease, refused if it is no longer ours.
    pub fn release_ops(&self) -> [Op; 2] {
        [
            Op::ExpectValue {
                key: lease_key(&self.thumbprint),
                value: Some(self.bytes.clone()),
            },
            Op::SetValue {
                key: lease_key(&self.thumbprint),
                value: None,
                secret: false,
            },
        ]
    }
}

/// Takes the renewal lease of a certificate for `owner`, unless another
/// owner holds one that has not lapsed at `wall_now`.
pub fn take_lease(
    store: &mut dyn Store,
    user: &str,
    thumbprint: &str,
    owner: &str,
    wall_now: OffsetDateTime,
    ttl: Duration,
) -> Result<HeldLease> {
    let key = lease_key(thumbprint);
    let current = store.value(&key)?;
    if let Some(bytes) = &current {
        if let Ok(lease) = serde_json::from_slice::<Lease>(bytes) {
            if lease.owner != owner && lease.expires > wall_now.unix_timestamp() {
                return Err(busy(thumbprint, &lease));
            }
        }
    }
    let lease = Lease {
        owner: owner.to_string(),
        expires: wall_now.unix_timestamp() + ttl.as_secs() as i64,
    };
    let bytes = serde_json::to_vec(&lease).map_err(|e| corrupt(thumbprint, "lease", e))?;
    let mut change = mailcert_store::Change::new("acme lease", user);
    change.describe(format!("{owner} takes the renewal lease of {thumbprint}"));
    change.push(Op::ExpectValue {
        key: key.clone(),
        value: current,
    });
    change.push(Op::SetValue {
        key,
        value: Some(bytes.clone()),
        secret: false,
    });
    match store.apply(change) {
        Ok(()) => Ok(HeldLease {
            thumbprint: thumbprint.to_string(),
            bytes,
        }),
        Err(mailcert_store::StoreError::Conflict { .. }) => {
            let holder = store
                .value(&lease_key(thumbprint))?
                .and_then(|b| serde_json::from_slice::<Lease>(&b).ok())
                .unwrap_or(Lease {
                    owner: "another process".into(),
                    expires: lease.expires,
                });
            Err(busy(thumbprint, &holder))
        }
        Err(e) => Err(e.into()),
    }
}

fn busy(thumbprint: &str, lease: &Lease) -> AcmeError {
    AcmeError::Busy {
        thumbprint: thumbprint.to_string(),
        owner: lease.owner.clone(),
        until: OffsetDateTime::from_unix_timestamp(lease.expires)
            .map(mailcert_x509::time::rfc3339)
            .unwrap_or_else(|_| lease.expires.to_string()),
    }
}

/// A span of time in words: "3 days", "5 h", "7 min", "40 s".
pub fn human(span: time::Duration) -> String {
    let secs = span.whole_seconds();
    let (value, unit) = if secs.abs() >= 2 * 86400 {
        (secs / 86400, "days")
    } else if secs.abs() >= 2 * 3600 {
        (secs / 3600, "h")
    } else if secs.abs() >= 120 {
        (secs / 60, "min")
    } else {
        (secs, "s")
    };
    format!("{value} {unit}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use mailcert_store::Origin;
    use mailcert_x509::{CertSummary, Trust};
    use time::macros::datetime;

    fn record(not_before: OffsetDateTime, days: i64) -> CertRecord {
        let key = mailcert_x509::KeyType::EcP256.generate().unwrap();
        let spec = mailcert_x509::build::ServerCertSpec {
            names: vec![mailcert_x509::SubjectName::Dns("mail.example.test".into())],
            subject: None,
            not_before,
            days: days as u32,
        };
        let issued = mailcert_x509::build::self_signed(&spec, &key).unwrap();
        CertRecord {
            summary: CertSummary::from_der(&issued.cert_der).unwrap(),
            der: issued.cert_der,
            chain: Vec::new(),
            has_private_key: true,
            exportable: true,
            friendly_name: None,
            origin: Origin::Acme,
            trust: Trust::OwnSelfSigned,
            created_at: not_before,
            seq: 1,
        }
    }

    #[test]
    fn due_when_a_third_of_the_lifetime_is_left() {
        let policy = RenewalPolicy::default();
        let start = datetime!(2026-01-01 0:00 UTC);
        let cert = record(start, 90);
        let state = RenewalState::default();
        let renew_at = start + time::Duration::days(60);
        assert_eq!(
            decide(
                &policy,
                &cert,
                &state,
                None,
                start + time::Duration::days(59),
                false
            ),
            Decision::NotDue { renew_at }
        );
        assert_eq!(
            decide(&policy, &cert, &state, None, renew_at, false),
            Decision::Due(DueReason::LifetimeLeft)
        );
        assert_eq!(
            decide(&policy, &cert, &state, None, start, true),
            Decision::Due(DueReason::Forced)
        );
        // 47-day certificates (2029): renewal 15-16 days before the end.
        let short = record(start, 47);
        let Decision::NotDue { renew_at } = decide(&policy, &short, &state, None, start, false)
        else {
            panic!("not due at issuance");
        };
        assert_eq!((short.summary.not_after - renew_at).whole_days(), 15);
    }

    #[test]
    fn the_cas_window_wins_when_it_is_earlier() {
        let policy = RenewalPolicy::default();
        let start = datetime!(2026-01-01 0:00 UTC);
        let cert = record(start, 90);
        let state = RenewalState::default();
        let window = SuggestedWindow {
            start: start + time::Duration::days(10),
            end: start + time::Duration::days(11),
        };
        assert_eq!(
            decide(
                &policy,
                &cert,
                &state,
                Some(window),
                start + time::Duration::days(10),
                false
            ),
            Decision::Due(DueReason::Ari { window })
        );
        assert_eq!(
            decide(&policy, &cert, &state, Some(window), start, false),
            Decision::NotDue {
                renew_at: window.start
            }
        );
    }

    #[test]
    fn failures_back_off_exponentially_up_to_a_cap() {
        let policy = RenewalPolicy::default();
        assert_eq!(policy.backoff(1), Duration::from_secs(600));
        assert_eq!(policy.backoff(2), Duration::from_secs(1200));
        assert_eq!(policy.backoff(4), Duration::from_secs(4800));
        assert_eq!(policy.backoff(40), Duration::from_secs(86400));
        let start = datetime!(2026-01-01 0:00 UTC);
        let cert = record(start, 90);
        let next = start + time::Duration::days(61);
        let state = RenewalState {
            failures: 2,
            next_attempt: Some(next.unix_timestamp()),
            last_error: Some("boom".into()),
            ..RenewalState::default()
        };
        assert!(matches!(
            decide(
                &policy,
                &cert,
                &state,
                None,
                next - time::Duration::seconds(1),
                false
            ),
            Decision::BackingOff { failures: 2, .. }
        ));
        assert_eq!(
            decide(&policy, &cert, &state, None, next, false),
            Decision::Due(DueReason::Retry { failures: 2 })
        );
        let replaced = RenewalState {
            replaced_by: Some("ABC".into()),
            ..RenewalState::default()
        };
        assert_eq!(
            decide(&policy, &cert, &replaced, None, next, true),
            Decision::Replaced { by: "ABC".into() }
        );
    }

    #[test]
    fn retries_stay_before_the_end_of_the_certificate() {
        let policy = RenewalPolicy::default();
        let start = datetime!(2026-01-01 0:00 UTC);
        let end = start + time::Duration::days(90);
        // Far from the end: the plain backoff.
        assert_eq!(
            policy.next_attempt(3, start, end),
            start + time::Duration::minutes(40)
        );
        assert_eq!(
            policy.next_attempt(20, start, end),
            start + time::Duration::hours(24)
        );
        // Two days left: at most half a day, whatever the failures.
        let late = end - time::Duration::days(2);
        assert_eq!(
            policy.next_attempt(20, late, end),
            late + time::Duration::hours(12)
        );
        // 69 s left: a minute, still before the end.
        let last = end - time::Duration::seconds(69);
        let next = policy.next_attempt(1, last, end);
        assert_eq!(next, last + time::Duration::seconds(60));
        assert!(next < end);
        // Expired: the plain backoff.
        let after = end + time::Duration::hours(1);
        assert_eq!(
            policy.next_attempt(2, after, end),
            after + time::Duration::minutes(20)
        );
    }

    #[test]
    fn a_lease_excludes_other_owners_until_it_lapses() {
        let dir = tempfile::tempdir().unwrap();
        let location = mailcert_store::StoreLocation {
            db: dir.path().join("s.db"),
            key: dir.path().join("s.key"),
        };
        let (mut a, _) = mailcert_store::SqliteStore::open_or_create(&location).unwrap();
        let mut b = mailcert_store::SqliteStore::open(&location).unwrap();
        let now = datetime!(2026-01-01 0:00 UTC);
        let ttl = Duration::from_secs(60);
        let held = take_lease(&mut a, "t", "T1", "host-a:1", now, ttl).unwrap();
        let err = take_lease(&mut b, "t", "T1", "host-b:2", now, ttl).unwrap_err();
        assert!(
            matches!(&err, AcmeError::Busy { owner, .. } if owner == "host-a:1"),
            "{err}"
        );
        // Another certificate is independent.
        take_lease(&mut b, "t", "T2", "host-b:2", now, ttl).unwrap();
        // Lapsed: taken over; the first owner's release is then refused.
        let later = now + time::Duration::seconds(61);
        take_lease(&mut b, "t", "T1", "host-b:2", later, ttl).unwrap();
        let mut release = mailcert_store::Change::new("t", "t");
        for op in held.release_ops() {
            release.push(op);
        }
        let refused = a.apply(release).unwrap_err();
        assert!(matches!(
            refused,
            mailcert_store::StoreError::Conflict { .. }
        ));
        let lease: Lease =
            serde_json::from_slice(&b.value("acme.lease.T1").unwrap().unwrap()).unwrap();
        assert_eq!(lease.owner, "host-b:2");
    }
}
