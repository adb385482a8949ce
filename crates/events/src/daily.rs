//! "Once a day per event and thing": a record per (event, about) in the
//! store holding the day (UTC) it last fired and the node that fired it,
//! taken with a compare-and-set so that of several nodes exactly one
//! wins, written as bookkeeping so that no front end reloads for it. When
//! the store cannot be reached the record of this process stands in: an
//! alert may then come twice in a fleet, rather than never.

use std::collections::HashMap;
use std::sync::Mutex;

use mailcert_store::{BoxedStore, Change, Op, StoreError, StoreLocation};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::Event;

/// The store keys: `events.fired.<event>.<about>`.
pub const FIRED_PREFIX: &str = "events.fired.";
/// Records older than this many days are swept.
pub const KEEP_DAYS: i64 = 7;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Fired {
    /// `2026-12-07`, UTC.
    day: String,
    node: String,
}

pub(crate) struct Daily {
    location: Option<StoreLocation>,
    node: String,
    store: Mutex<Option<BoxedStore>>,
    /// This process's own record, for when the store cannot say.
    local: Mutex<HashMap<String, String>>,
}

fn day_of(now: OffsetDateTime) -> String {
    let date = now.to_offset(time::UtcOffset::UTC).date();
    format!(
        "{:04}-{:02}-{:02}",
        date.year(),
        u8::from(date.month()),
        date.day()
    )
}

fn key_of(event: &Event) -> String {
    format!("{FIRED_PREFIX}{}.{}", event.name, event.about)
}

impl Daily {
    pub(crate) fn new(location: Option<StoreLocation>, node: &str) -> Daily {
        Daily {
            location,
            node: node.to_string(),
            store: Mutex::new(None),
            local: Mutex::new(HashMap::new()),
        }
    }

    pub(crate) fn first_today(&self, event: &Event, now: OffsetDateTime) -> bool {
        let key = key_of(event);
        let today = day_of(now);
        let locally_new = self
            .local
            .lock()
            .map(|mut local| local.insert(key.clone(), today.clone()) != Some(today.clone()))
            .unwrap_or(true);
        if self.location.is_none() {
            return locally_new;
        }
        match self.take(&key, &today, event) {
            Ok(won) => won,
            Err(e) => {
                tracing::warn!(
                    "events: could not record {} of {} in the store ({e}); counted in this process only",
                    event.name,
                    event.about
                );
                locally_new
            }
        }
    }

    /// The compare-and-set: `true` when this node recorded today first.
    fn take(&self, key: &str, today: &str, event: &Event) -> mailcert_store::Result<bool> {
        let mut guard = self
            .store
            .lock()
            .map_err(|_| StoreError::Refused("the events' store handle is poisoned".into()))?;
        let result = self.take_with(&mut guard, key, today, event);
        if result.is_err() {
            *guard = None;
        }
        result
    }

    fn take_with(
        &self,
        guard: &mut Option<BoxedStore>,
        key: &str,
        today: &str,
        event: &Event,
    ) -> mailcert_store::Result<bool> {
        if guard.is_none() {
            if let Some(location) = &self.location {
                *guard = Some(mailcert_store::open(location)?);
            }
        }
        let Some(store) = guard.as_mut() else {
            return Ok(true);
        };
        for _ in 0..3 {
            let current = store.value(key)?;
            let fired: Option<Fired> = current
                .as_deref()
                .and_then(|bytes| serde_json::from_slice(bytes).ok());
            if fired.as_ref().is_some_and(|f| f.day == today) {
                return Ok(false);
            }
            let record = Fired {
                day: today.to_string(),
                node: self.node.clone(),
            };
            let mut change = Change::bookkeeping("event", "mailcert serve").on_node(&self.node);
            change.describe(format!(
                "{} ({}): {}",
                event.name,
                event.severity.as_str(),
                event.message
            ));
            change.push(Op::ExpectValue {
                key: key.to_string(),
                value: current,
            });
            change.push(Op::SetValue {
                key: key.to_string(),
                value: serde_json::to_vec(&record).ok(),
                secret: false,
            });
            match store.apply(change) {
                Ok(()) => return Ok(true),
                // Another node moved it first: look again (it is most
                // likely today's now).
                Err(StoreError::Conflict { .. }) => continue,
                Err(e) => return Err(e),
            }
        }
        Ok(false)
    }

    pub(crate) fn sweep(&self, now: OffsetDateTime) {
        let Some(location) = &self.location else {
            return;
        };
        let oldest = day_of(now - time::Duration::days(KEEP_DAYS));
        let Ok(mut guard) = self.store.lock() else {
            return;
        };
        let swept = (|| -> mailcert_store::Result<usize> {
            if guard.is_none() {
                *guard = Some(mailcert_store::open(location)?);
            }
            let Some(store) = guard.as_mut() else {
                return Ok(0);
            };
            let mut change =
                Change::bookkeeping("events-sweep", "mailcert serve").on_node(&self.node);
            let mut count = 0;
            for key in store.value_keys(FIRED_PREFIX)? {
                let Some(bytes) = store.value(&key)? else {
                    continue;
                };
                let old = serde_json::from_slice::<Fired>(&bytes)
                    .map(|f| f.day < oldest)
                    .unwrap_or(true);
                if old {
                    change.push(Op::ExpectValue {
                        key: key.clone(),
                        value: Some(bytes),
                    });
                    change.push(Op::SetValue {
                        key,
                        value: None,
                        secret: false,
                    });
                    count += 1;
                }
            }
            if count > 0 {
                change.describe(format!(
                    "forgot {count} event records older than {KEEP_DAYS} days"
                ));
                match store.apply(change) {
                    Ok(()) | Err(StoreError::Conflict { .. }) => {}
                    Err(e) => return Err(e),
                }
            }
            Ok(count)
        })();
        if let Err(e) = swept {
            *guard = None;
            tracing::debug!("events: sweeping old records: {e}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Severity;

    #[test]
    fn days_are_utc_dates() {
        let at = time::macros::datetime!(2026-12-31 23:30 -02:00);
        assert_eq!(day_of(at), "2027-01-01");
    }

    #[test]
    fn without_a_store_once_a_day_in_this_process() {
        let daily = Daily::new(None, "ex1");
        let event = Event::new("certificate-expiring", Severity::Warning, "9F1C", "x");
        let monday = time::macros::datetime!(2026-12-07 08:00 UTC);
        assert!(daily.first_today(&event, monday));
        assert!(!daily.first_today(&event, monday + time::Duration::hours(9)));
        assert!(daily.first_today(&event, monday + time::Duration::days(1)));
        let other = Event::new("certificate-expired", Severity::Error, "9F1C", "x");
        assert!(daily.first_today(&other, monday));
    }
}
