//! Staged rotation: `enable`, `disable` and `replace` at a time the
//! administrator chooses (`--at`), kept in the store until then.
//!
//! A scheduled change is a named value (`schedule.ID`, JSON), so SQLite
//! and PostgreSQL stores keep it alike, every node of a fleet sees it,
//! and it survives a restart of `serve`. Its pre-flight runs when it is
//! scheduled and again when it takes effect: `serve` applies due changes
//! ([`Manager::apply_due_schedules`]) through the very operations the
//! commands use, so the front end switches as it does for any change of
//! the bindings, without a reload. A change that fails then is not
//! applied; it stays listed with the reason (`schedule list`) until it is
//! cancelled.

use mailcert_store::{Op, Store};
use mailcert_x509::Service;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::error::{LifecycleError, Result};
use crate::find::find_certificate;
use crate::manager::{Manager, Report};

/// Prefix of the named values that hold scheduled changes.
pub const SCHEDULE_PREFIX: &str = "schedule.";

/// What is to change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "lowercase")]
pub enum ScheduledChange {
    Enable {
        thumbprint: String,
        services: Vec<String>,
        #[serde(default)]
        listener: Option<String>,
        #[serde(default)]
        node: Option<String>,
        /// Host names the pre-flight checks against (the configuration's
        /// listeners' when it was scheduled).
        #[serde(default)]
        hostnames: Vec<String>,
        #[serde(default)]
        strict: bool,
    },
    Disable {
        thumbprint: String,
        services: Vec<String>,
        #[serde(default)]
        listener: Option<String>,
        #[serde(default)]
        node: Option<String>,
    },
    Replace {
        old: String,
        new: String,
        #[serde(default)]
        hostnames: Vec<String>,
        #[serde(default)]
        strict: bool,
    },
}

impl ScheduledChange {
    /// The certificates the change is about.
    pub fn thumbprints(&self) -> Vec<&str> {
        match self {
            ScheduledChange::Enable { thumbprint, .. }
            | ScheduledChange::Disable { thumbprint, .. } => vec![thumbprint],
            ScheduledChange::Replace { old, new, .. } => vec![old, new],
        }
    }

    /// Whether the change would alter what `service` serves (`which`):
    /// an enable or disable for that service, or a replacement of
    /// `serving`, the certificate it serves now.
    pub fn concerns(&self, service: Service, serving: Option<&str>) -> bool {
        match self {
            ScheduledChange::Enable { services, .. }
            | ScheduledChange::Disable { services, .. } => {
                services.iter().any(|s| s == service.as_str())
            }
            ScheduledChange::Replace { old, .. } => serving == Some(old.as_str()),
        }
    }

    /// `enable 9F1C… for imap, smtp`
    pub fn describe(&self) -> String {
        let scope = |listener: &Option<String>, node: &Option<String>| {
            let mut words = String::new();
            if let Some(l) = listener {
                words.push_str(&format!(" on listener {l}"));
            }
            if let Some(n) = node {
                words.push_str(&format!(" on node {n}"));
            }
            words
        };
        match self {
            ScheduledChange::Enable {
                thumbprint,
                services,
                listener,
                node,
                ..
            } => format!(
                "enable {thumbprint} for {}{}",
                services.join(", "),
                scope(listener, node)
            ),
            ScheduledChange::Disable {
                thumbprint,
                services,
                listener,
                node,
            } => format!(
                "disable {thumbprint} for {}{}",
                services.join(", "),
                scope(listener, node)
            ),
            ScheduledChange::Replace { old, new, .. } => format!("replace {old} by {new}"),
        }
    }
}

/// A change waiting for its time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Scheduled {
    pub id: String,
    /// When it takes effect (RFC 3339).
    pub at: String,
    #[serde(flatten)]
    pub change: ScheduledChange,
    pub scheduled_by: String,
    pub scheduled_at: String,
    /// Why it was not applied at its time, if it failed.
    #[serde(default)]
    pub failed: Option<String>,
    /// The node applying it: the one whose claim won, so that a fleet
    /// applies it once.
    #[serde(default)]
    pub claimed_by: Option<String>,
}

impl Scheduled {
    fn at_time(&self) -> Result<OffsetDateTime> {
        mailcert_x509::time::parse_at(&self.at).map_err(|e| {
            LifecycleError::Store(mailcert_store::StoreError::Corrupt {
                what: format!("scheduled change {}", self.id),
                reason: e.to_string(),
            })
        })
    }
}

fn value_name(id: &str) -> String {
    format!("{SCHEDULE_PREFIX}{id}")
}

/// Every scheduled change in the store, earliest first.
pub fn scheduled(store: &dyn Store) -> Result<Vec<Scheduled>> {
    let mut out = Vec::new();
    for key in store.value_keys(SCHEDULE_PREFIX)? {
        let Some(bytes) = store.value(&key)? else {
            continue;
        };
        let item: Scheduled = serde_json::from_slice(&bytes).map_err(|e| {
            LifecycleError::Store(mailcert_store::StoreError::Corrupt {
                what: format!("scheduled change {key}"),
                reason: e.to_string(),
            })
        })?;
        out.push(item);
    }
    out.sort_by(|a, b| (&a.at, &a.id).cmp(&(&b.at, &b.id)));
    Ok(out)
}

/// The warning `list` and `show` give a certificate a change is
/// scheduled for.
pub fn warnings_for(items: &[Scheduled], thumbprint: &str) -> Vec<String> {
    items
        .iter()
        .filter(|s| s.change.thumbprints().contains(&thumbprint))
        .map(|s| match &s.failed {
            None => format!(
                "scheduled: {} at {} (schedule {})",
                s.change.describe(),
                s.at,
                s.id
            ),
            Some(reason) => format!(
                "scheduled change {} ({}) was not applied at {}: {reason}",
                s.id,
                s.change.describe(),
                s.at
            ),
        })
        .collect()
}

fn services_of(names: &[String]) -> Result<Vec<Service>> {
    names
        .iter()
        .map(|n| {
            n.parse::<Service>()
                .map_err(|e| LifecycleError::BadInput(e.to_string()))
        })
        .collect()
}

impl Manager {
    /// Schedules `change` at `at` (in the future). The certificates are
    /// resolved to full thumbprints now, and the pre-flight runs now; it
    /// runs again when the change takes effect.
    pub fn schedule(&mut self, change: ScheduledChange, at: OffsetDateTime) -> Result<Report> {
        let now = self.now();
        if at <= now {
            return Err(LifecycleError::BadInput(format!(
                "--at {} is not in the future (it is {} now); leave --at out to make the change now",
                mailcert_x509::time::rfc3339(at),
                mailcert_x509::time::rfc3339(now)
            )));
        }
        let mut report = Report::default();
        let resolve = |prefix: &str| -> Result<mailcert_store::CertRecord> {
            find_certificate(self.store.as_ref(), prefix)
        };
        let change = match change {
            ScheduledChange::Enable {
                thumbprint,
                services,
                listener,
                node,
                hostnames,
                strict,
            } => {
                let record = resolve(&thumbprint)?;
                services_of(&services)?;
                if !record.has_private_key {
                    return Err(LifecycleError::Refused(format!(
                        "{} has no private key in this store, so it cannot serve; import it with its key first",
                        record.summary.thumbprint
                    )));
                }
                let findings = self.preflight(&record, &hostnames)?;
                if strict && !findings.is_empty() {
                    return Err(LifecycleError::Refused(format!(
                        "not scheduled (--strict) because clients would complain:\n{}",
                        findings
                            .iter()
                            .map(|f| format!("  - {}", f.message))
                            .collect::<Vec<_>>()
                            .join("\n")
                    )));
                }
                for f in &findings {
                    report.say(format!("warning: {}", f.message));
                }
                ScheduledChange::Enable {
                    thumbprint: record.summary.thumbprint.clone(),
                    services,
                    listener,
                    node,
                    hostnames,
                    strict,
                }
            }
            ScheduledChange::Disable {
                thumbprint,
                services,
                listener,
                node,
            } => {
                let record = resolve(&thumbprint)?;
                services_of(&services)?;
                ScheduledChange::Disable {
                    thumbprint: record.summary.thumbprint.clone(),
                    services,
                    listener,
                    node,
                }
            }
            ScheduledChange::Replace {
                old,
                new,
                hostnames,
                strict,
            } => {
                let old = resolve(&old)?;
                let new = resolve(&new)?;
                if old.summary.thumbprint == new.summary.thumbprint {
                    return Err(LifecycleError::BadInput(
                        "OLD and NEW are the same certificate".into(),
                    ));
                }
                let findings = self.preflight(&new, &hostnames)?;
                for f in &findings {
                    report.say(format!("warning: {}", f.message));
                }
                ScheduledChange::Replace {
                    old: old.summary.thumbprint.clone(),
                    new: new.summary.thumbprint.clone(),
                    hostnames,
                    strict,
                }
            }
        };
        let existing = scheduled(self.store.as_ref())?;
        let id = new_id(&existing, now);
        let item = Scheduled {
            id: id.clone(),
            at: mailcert_x509::time::rfc3339(at),
            change,
            scheduled_by: self.user.clone(),
            scheduled_at: mailcert_x509::time::rfc3339(now),
            failed: None,
            claimed_by: None,
        };
        let json =
            serde_json::to_vec(&item).map_err(|e| LifecycleError::BadInput(e.to_string()))?;
        let mut store_change = self.change("schedule");
        store_change.describe(format!(
            "scheduled {id}: {} at {}",
            item.change.describe(),
            item.at
        ));
        store_change.push(Op::SetValue {
            key: value_name(&id),
            value: Some(json),
            secret: false,
        });
        self.store.apply(store_change)?;
        report.changed = true;
        report.say(format!(
            "scheduled {id}: {} at {}; `mailcert serve` makes the change then (pre-flight again first); `mailcert schedule cancel {id}` withdraws it",
            item.change.describe(),
            item.at
        ));
        Ok(report)
    }

    /// Every scheduled change, earliest first.
    pub fn schedules(&self) -> Result<Vec<Scheduled>> {
        scheduled(self.store.as_ref())
    }

    /// Withdraws a scheduled change (its id, or a unique prefix of it).
    pub fn cancel_schedule(&mut self, id: &str) -> Result<Report> {
        let wanted = id.trim().to_ascii_uppercase();
        let items = scheduled(self.store.as_ref())?;
        let matching: Vec<&Scheduled> = items
            .iter()
            .filter(|s| !wanted.is_empty() && s.id.starts_with(&wanted))
            .collect();
        let item = match matching.as_slice() {
            [one] => *one,
            [] => {
                return Err(LifecycleError::BadInput(format!(
                    "no scheduled change has the id '{id}'; `mailcert schedule list` shows them"
                )))
            }
            _ => {
                return Err(LifecycleError::Ambiguous {
                    prefix: id.to_string(),
                    candidates: matching.iter().map(|s| s.id.clone()).collect(),
                })
            }
        };
        let mut change = self.change("schedule cancel");
        change.describe(format!(
            "cancelled {}: {} at {}",
            item.id,
            item.change.describe(),
            item.at
        ));
        change.push(Op::SetValue {
            key: value_name(&item.id),
            value: None,
            secret: false,
        });
        self.store.apply(change)?;
        let mut report = Report {
            changed: true,
            ..Report::default()
        };
        report.say(format!(
            "cancelled {}: {} at {} will not happen",
            item.id,
            item.change.describe(),
            item.at
        ));
        Ok(report)
    }

    /// Applies the changes whose time has come, each through the
    /// operation its command uses (its pre-flight and checks included).
    /// One that fails is kept with the reason and not tried again.
    /// Returns each change tried with its outcome.
    pub fn apply_due_schedules(
        &mut self,
    ) -> Result<Vec<(Scheduled, std::result::Result<Report, String>)>> {
        let now = self.now();
        let mut done = Vec::new();
        for item in scheduled(self.store.as_ref())? {
            if item.failed.is_some() || item.claimed_by.is_some() || item.at_time()? > now {
                continue;
            }
            // Claimed by compare-and-set: of the nodes that see it due at
            // once, one applies it.
            let Some(original) = self.store.value(&value_name(&item.id))? else {
                continue;
            };
            let claimed = Scheduled {
                claimed_by: Some(self.node.clone()),
                ..item.clone()
            };
            let mut claim = self.change("schedule");
            claim.describe(format!("{} claims scheduled change {}", self.node, item.id));
            claim.push(Op::ExpectValue {
                key: value_name(&item.id),
                value: Some(original),
            });
            claim.push(Op::SetValue {
                key: value_name(&item.id),
                value: Some(
                    serde_json::to_vec(&claimed)
                        .map_err(|e| LifecycleError::BadInput(e.to_string()))?,
                ),
                secret: false,
            });
            match self.store.apply(claim) {
                Ok(()) => {}
                Err(mailcert_store::StoreError::Conflict { .. }) => continue,
                Err(e) => return Err(e.into()),
            }
            let outcome = self
                .apply_scheduled(&item.change)
                .map_err(|e| e.to_string());
            let mut change = self.change("schedule");
            match &outcome {
                Ok(_) => {
                    change.describe(format!(
                        "applied {} at its time ({}): {}",
                        item.id,
                        item.at,
                        item.change.describe()
                    ));
                    change.push(Op::SetValue {
                        key: value_name(&item.id),
                        value: None,
                        secret: false,
                    });
                }
                Err(reason) => {
                    change.describe(format!(
                        "not applied {} ({}) at {}: {reason}",
                        item.id,
                        item.change.describe(),
                        item.at
                    ));
                    let failed = Scheduled {
                        failed: Some(reason.clone()),
                        claimed_by: None,
                        ..item.clone()
                    };
                    let json = serde_json::to_vec(&failed)
                        .map_err(|e| LifecycleError::BadInput(e.to_string()))?;
                    change.push(Op::SetValue {
                        key: value_name(&item.id),
                        value: Some(json),
                        secret: false,
                    });
                }
            }
            self.store.apply(change)?;
            done.push((item, outcome));
        }
        Ok(done)
    }

    fn apply_scheduled(&mut self, change: &ScheduledChange) -> Result<Report> {
        match change {
            ScheduledChange::Enable {
                thumbprint,
                services,
                listener,
                node,
                hostnames,
                strict,
            } => self.enable_scoped(
                thumbprint,
                &services_of(services)?,
                listener.as_deref(),
                node.as_deref(),
                hostnames,
                *strict,
            ),
            ScheduledChange::Disable {
                thumbprint,
                services,
                listener,
                node,
            } => self.disable_scoped(
                thumbprint,
                &services_of(services)?,
                listener.as_deref(),
                node.as_deref(),
            ),
            ScheduledChange::Replace {
                old,
                new,
                hostnames,
                strict,
            } => self.replace(old, new, hostnames, &[], None, *strict),
        }
    }
}

/// Eight hex digits, unique among the scheduled changes.
fn new_id(existing: &[Scheduled], now: OffsetDateTime) -> String {
    use std::hash::{BuildHasher, Hasher};
    // Uniqueness is all an id needs; RandomState seeds differ per process.
    let mut attempt = 0u64;
    loop {
        let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
        hasher.write_i128(now.unix_timestamp_nanos());
        hasher.write_u64(attempt);
        let id = format!("{:08X}", hasher.finish() as u32);
        if !existing.iter().any(|s| s.id == id) {
            return id;
        }
        attempt += 1;
    }
}

/// The staged-change rounds `serve` runs: due changes are applied every
/// `interval` (and at start, so one that came due while no `serve` ran is
/// applied then).
pub fn start_scheduler(
    location: mailcert_store::StoreLocation,
    node: String,
    interval: std::time::Duration,
) -> std::io::Result<crate::rounds::Rounds> {
    crate::rounds::start_rounds(
        "schedule",
        location,
        node,
        interval,
        |manager| {
            for (item, outcome) in manager.apply_due_schedules()? {
                match outcome {
                    Ok(_) => tracing::info!(
                        "applied scheduled change {} at its time {}: {}",
                        item.id,
                        item.at,
                        item.change.describe()
                    ),
                    Err(reason) => tracing::error!(
                        "scheduled change {} ({}) not applied at {}: {reason}",
                        item.id,
                        item.change.describe(),
                        item.at
                    ),
                }
            }
            Ok(())
        },
        |e| tracing::error!("scheduled changes: {e}"),
    )
}

#[cfg(test)]
mod tests {
    use mailcert_x509::Service;

    use super::ScheduledChange;

    #[test]
    fn a_change_concerns_its_services_or_the_certificate_it_replaces() {
        let enable = ScheduledChange::Enable {
            thumbprint: "AAAA".into(),
            services: vec!["imap".into(), "smtp".into()],
            listener: None,
            node: None,
            hostnames: Vec::new(),
            strict: false,
        };
        assert!(enable.concerns(Service::Smtp, None));
        assert!(!enable.concerns(Service::Https, Some("AAAA")));
        let disable = ScheduledChange::Disable {
            thumbprint: "AAAA".into(),
            services: vec!["pop".into()],
            listener: None,
            node: None,
        };
        assert!(disable.concerns(Service::Pop, None));
        assert!(!disable.concerns(Service::Imap, None));
        let replace = ScheduledChange::Replace {
            old: "AAAA".into(),
            new: "BBBB".into(),
            hostnames: Vec::new(),
            strict: false,
        };
        assert!(replace.concerns(Service::Imap, Some("AAAA")));
        assert!(!replace.concerns(Service::Imap, Some("BBBB")));
        assert!(!replace.concerns(Service::Imap, None));
    }
}
