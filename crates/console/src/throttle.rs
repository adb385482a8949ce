//! Failed logins, counted per account and per client address in the
//! store (so every node of a fleet counts the same), and the wait they
//! impose: none for the first few mistakes, then 1 s, 2 s, 4 s, … up to
//! `[console] max_login_delay`. While a wait runs, attempts are refused
//! with 429 without looking at the password, so a flood gets one guess
//! per wait however many connections it opens; it does not lengthen the
//! wait either (only checked failures count), so the administrator with
//! the right password gets in once the wait is over. Counters are
//! forgotten after a quiet quarter of an hour, and reset by a success.

use mailcert_store::{Change, Op, Store};
use serde::{Deserialize, Serialize};

use crate::error::Result;

pub const ACCOUNT_PREFIX: &str = "console/failures/account/";
pub const ADDRESS_PREFIX: &str = "console/failures/address/";
/// Failures allowed without any wait: typos happen.
pub const FREE_FAILURES: u32 = 3;
/// A counter with no failure for this long starts again from zero.
pub const FORGET_AFTER_MS: i64 = 15 * 60 * 1000;

/// One counter as the store keeps it.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct Failures {
    pub count: u32,
    /// Unix milliseconds of the last failure.
    pub last_ms: i64,
}

impl Failures {
    /// The count as of `now_ms` (zero once forgotten).
    pub fn current(self, now_ms: i64) -> Failures {
        if now_ms - self.last_ms > FORGET_AFTER_MS {
            Failures::default()
        } else {
            self
        }
    }

    /// How long after the last failure the next attempt is looked at.
    pub fn delay_ms(self, max_ms: i64) -> i64 {
        if self.count < FREE_FAILURES {
            return 0;
        }
        let doublings = (self.count - FREE_FAILURES).min(30);
        (1000i64 << doublings).min(max_ms)
    }

    /// Milliseconds still to wait at `now_ms`; 0 when an attempt may be made.
    pub fn wait_ms(self, now_ms: i64, max_ms: i64) -> i64 {
        let current = self.current(now_ms);
        (current.last_ms + current.delay_ms(max_ms) - now_ms).max(0)
    }
}

/// Which counter made a client wait.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Throttled {
    Account,
    Address,
}

fn read(store: &dyn Store, key: &str) -> Result<Failures> {
    Ok(store
        .value(key)?
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
        .unwrap_or_default())
}

pub fn account_key(user: &str) -> String {
    format!("{ACCOUNT_PREFIX}{user}")
}

pub fn address_key(address: &str) -> String {
    format!("{ADDRESS_PREFIX}{address}")
}

/// Whether an attempt for `account` (an existing account's name, or
/// `None`) from `address` must wait, and how long.
pub fn must_wait(
    store: &dyn Store,
    account: Option<&str>,
    address: &str,
    now_ms: i64,
    max_ms: i64,
) -> Result<Option<(Throttled, i64)>> {
    let by_address = read(store, &address_key(address))?.wait_ms(now_ms, max_ms);
    let by_account = match account {
        Some(user) => read(store, &account_key(user))?.wait_ms(now_ms, max_ms),
        None => 0,
    };
    Ok(if by_account > 0 && by_account >= by_address {
        Some((Throttled::Account, by_account))
    } else if by_address > 0 {
        Some((Throttled::Address, by_address))
    } else {
        None
    })
}

/// Adds to `change` one more failure for the account (if it exists) and
/// the address, and forgets counters that went quiet. Returns the
/// account's count (or the address's, for an unknown account).
pub fn record_failure(
    store: &dyn Store,
    account: Option<&str>,
    address: &str,
    now_ms: i64,
    change: &mut Change,
) -> Result<u32> {
    let mut keys = vec![address_key(address)];
    if let Some(user) = account {
        keys.push(account_key(user));
    }
    let mut counted = 0;
    for key in &keys {
        let next = Failures {
            count: read(store, key)?.current(now_ms).count.saturating_add(1),
            last_ms: now_ms,
        };
        counted = next.count;
        change.push(Op::SetValue {
            key: key.clone(),
            value: Some(serde_json::to_vec(&next).unwrap_or_default()),
            secret: false,
        });
    }
    forget_quiet(store, now_ms, &keys, change)?;
    Ok(counted)
}

/// Adds to `change` the reset of both counters after a success.
pub fn record_success(account: &str, address: &str, change: &mut Change) {
    for key in [account_key(account), address_key(address)] {
        change.push(Op::SetValue {
            key,
            value: None,
            secret: false,
        });
    }
}

fn forget_quiet(
    store: &dyn Store,
    now_ms: i64,
    keep: &[String],
    change: &mut Change,
) -> Result<()> {
    for prefix in [ACCOUNT_PREFIX, ADDRESS_PREFIX] {
        for key in store.value_keys(prefix)? {
            if keep.contains(&key) {
                continue;
            }
            if read(store, &key)?.current(now_ms) == Failures::default() {
                change.push(Op::SetValue {
                    key,
                    value: None,
                    secret: false,
                });
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_grow_then_stop_at_the_maximum_and_are_forgotten() {
        let max = 60_000;
        let at = |count| Failures { count, last_ms: 0 };
        assert_eq!(at(2).delay_ms(max), 0);
        assert_eq!(at(3).delay_ms(max), 1000);
        assert_eq!(at(4).delay_ms(max), 2000);
        assert_eq!(at(6).delay_ms(max), 8000);
        assert_eq!(at(40).delay_ms(max), max);
        assert_eq!(at(5).wait_ms(1500, max), 2500);
        assert_eq!(at(5).wait_ms(5000, max), 0);
        assert_eq!(at(99).wait_ms(FORGET_AFTER_MS + 1, max), 0);
    }
}
