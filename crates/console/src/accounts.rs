//! Console accounts, kept in the store as named values (so that every
//! store backend has them, and a fleet sharing a store shares its
//! accounts): `console/user/NAME` holds the Argon2id hash of the password
//! (PHC string) and a few dates, encrypted at rest with the store key like
//! every secret value.

use argon2::password_hash::{rand_core::OsRng, PasswordHash, PasswordHasher, SaltString};
use argon2::{Argon2, PasswordVerifier};
use mailcert_store::{Change, Op, Store};
use serde::{Deserialize, Serialize};

use crate::error::{ConsoleError, Result};
use crate::sessions;
pub use crate::user_keys::{user_key, USER_PREFIX};

/// NIST SP 800-63B asks for 8 at least; an account that can export
/// private keys gets more.
pub const MIN_PASSWORD_CHARS: usize = 12;
/// Bounds the work one login can ask of Argon2.
pub const MAX_PASSWORD_CHARS: usize = 1024;

/// One account as the store keeps it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct UserRecord {
    /// Argon2id, PHC string format (`$argon2id$v=19$m=…`).
    pub hash: String,
    /// Unix seconds.
    pub created: i64,
    pub password_changed: i64,
    #[serde(default)]
    pub last_login: Option<i64>,
    #[serde(default)]
    pub last_login_address: Option<String>,
}

/// An account as `console user list` shows it.
#[derive(Debug, Clone, Serialize)]
pub struct UserInfo {
    pub name: String,
    pub created: i64,
    pub password_changed: i64,
    pub last_login: Option<i64>,
    pub last_login_address: Option<String>,
    /// Sessions not yet ended by logout or by their lifetime.
    pub sessions: usize,
}

/// Checks a user name and gives its canonical form (lower case: `Alice`
/// and `alice` are one account, as mail addresses are).
pub fn canonical_name(name: &str) -> Result<String> {
    let bad = |reason| ConsoleError::BadUserName {
        name: name.chars().take(80).collect(),
        reason,
    };
    if name.is_empty() {
        return Err(bad("it is empty"));
    }
    if name.chars().count() > 64 {
        return Err(bad("it is longer than 64 characters"));
    }
    if !name
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphanumeric())
    {
        return Err(bad("it does not start with a letter or digit"));
    }
    if let Some(c) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '@')))
    {
        return Err(if c.is_control() || c.is_whitespace() {
            bad("it contains a space or a control character")
        } else {
            bad("it contains a character other than letters, digits, '.', '_', '-' and '@'")
        });
    }
    Ok(name.to_ascii_lowercase())
}

/// Refuses a password too short or too long for an account.
pub fn ensure_password(password: &str) -> Result<()> {
    let length = password.chars().count();
    if length < MIN_PASSWORD_CHARS {
        return Err(ConsoleError::PasswordTooShort {
            length,
            min: MIN_PASSWORD_CHARS,
        });
    }
    if length > MAX_PASSWORD_CHARS {
        return Err(ConsoleError::PasswordTooLong {
            max: MAX_PASSWORD_CHARS,
        });
    }
    Ok(())
}

/// Argon2id with the crate's defaults (OWASP's recommendation: 19 MiB,
/// two passes, one lane) and a random salt.
fn hash_password(password: &str) -> Result<String> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| ConsoleError::Hash(e.to_string()))
}

/// A hash of a password nobody knows, made once: checked against when the
/// user does not exist, so that a wrong name takes as long as a wrong
/// password and names cannot be probed by timing.
fn decoy_hash() -> &'static str {
    static DECOY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DECOY.get_or_init(|| {
        let mut random = [0u8; 32];
        let _ = aws_lc_rs::rand::fill(&mut random);
        let unguessable: String = random.iter().map(|b| format!("{b:02x}")).collect();
        hash_password(&unguessable).unwrap_or_default()
    })
}

/// Reads one account.
pub fn user(store: &dyn Store, name: &str) -> Result<Option<UserRecord>> {
    let Some(bytes) = store.value(&user_key(name))? else {
        return Ok(None);
    };
    serde_json::from_slice(&bytes)
        .map(Some)
        .map_err(|e| ConsoleError::Corrupt {
            what: user_key(name),
            reason: e.to_string(),
        })
}

/// Whether `password` is the password of `name`. An unknown name is a
/// `false` that took as long as a wrong password.
pub fn verify_password(store: &dyn Store, name: &str, password: &str) -> Result<bool> {
    let record = match canonical_name(name) {
        Ok(name) => user(store, &name)?,
        Err(_) => None,
    };
    let hash = record
        .as_ref()
        .map_or_else(|| decoy_hash(), |r| r.hash.as_str());
    let parsed = PasswordHash::new(hash).map_err(|e| ConsoleError::Corrupt {
        what: user_key(name),
        reason: e.to_string(),
    })?;
    let matches = Argon2::default()
        .verify_password(password.as_bytes(), &parsed)
        .is_ok();
    Ok(matches && record.is_some())
}

fn write_user(change: &mut Change, name: &str, record: &UserRecord) {
    change.push(Op::SetValue {
        key: user_key(name),
        value: Some(serde_json::to_vec(record).unwrap_or_default()),
        secret: true,
    });
}

/// `console user add`: refused when the account exists.
pub fn add_user(
    store: &mut dyn Store,
    actor: &str,
    name: &str,
    password: &str,
    now: i64,
) -> Result<String> {
    let name = canonical_name(name)?;
    ensure_password(password)?;
    if user(store, &name)?.is_some() {
        return Err(ConsoleError::UserExists(name));
    }
    let record = UserRecord {
        hash: hash_password(password)?,
        created: now,
        password_changed: now,
        last_login: None,
        last_login_address: None,
    };
    let mut change = Change::bookkeeping("console-user", actor);
    change.describe(format!("added console user {name}"));
    // Two processes adding the same name: only one wins.
    change.push(Op::ExpectValue {
        key: user_key(&name),
        value: None,
    });
    write_user(&mut change, &name, &record);
    store.apply(change)?;
    Ok(name)
}

/// `console user passwd`: a new password; every session of the account
/// ends (whoever knew the old password is logged out).
pub fn set_password(
    store: &mut dyn Store,
    actor: &str,
    name: &str,
    password: &str,
    now: i64,
) -> Result<usize> {
    let name = canonical_name(name)?;
    ensure_password(password)?;
    let mut record = user(store, &name)?.ok_or_else(|| ConsoleError::NoSuchUser(name.clone()))?;
    record.hash = hash_password(password)?;
    record.password_changed = now;
    let mut change = Change::bookkeeping("console-user", actor);
    write_user(&mut change, &name, &record);
    let ended = sessions::end_all_of(store, &name, &mut change)?;
    change.describe(format!(
        "changed the password of console user {name}; ended {ended} session(s)"
    ));
    store.apply(change)?;
    Ok(ended)
}

/// `console user remove`: the account and its sessions.
pub fn remove_user(store: &mut dyn Store, actor: &str, name: &str) -> Result<usize> {
    let name = canonical_name(name)?;
    if user(store, &name)?.is_none() {
        return Err(ConsoleError::NoSuchUser(name));
    }
    let mut change = Change::bookkeeping("console-user", actor);
    change.push(Op::SetValue {
        key: user_key(&name),
        value: None,
        secret: true,
    });
    let ended = sessions::end_all_of(store, &name, &mut change)?;
    change.describe(format!(
        "removed console user {name}; ended {ended} session(s)"
    ));
    store.apply(change)?;
    Ok(ended)
}

/// Every account, by name.
pub fn list_users(store: &dyn Store) -> Result<Vec<UserInfo>> {
    let live = sessions::all(store)?;
    let mut out = Vec::new();
    for key in store.value_keys(USER_PREFIX)? {
        let name = key[USER_PREFIX.len()..].to_string();
        let Some(record) = user(store, &name)? else {
            continue;
        };
        out.push(UserInfo {
            sessions: live.iter().filter(|(_, s)| s.user == name).count(),
            name,
            created: record.created,
            password_changed: record.password_changed,
            last_login: record.last_login,
            last_login_address: record.last_login_address,
        });
    }
    Ok(out)
}

/// Adds to `change` the op recording a successful login.
pub fn record_login(
    store: &dyn Store,
    name: &str,
    address: &str,
    now: i64,
    change: &mut Change,
) -> Result<()> {
    if let Some(mut record) = user(store, name)? {
        record.last_login = Some(now);
        record.last_login_address = Some(address.to_string());
        write_user(change, name, &record);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_checked_and_folded() {
        assert_eq!(canonical_name("Alice.Admin@x").unwrap(), "alice.admin@x");
        for bad in ["", ".x", "a b", "a/b", "<b>", "a\u{7}", &"a".repeat(65)] {
            assert!(canonical_name(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn hashes_are_argon2id_and_verify() {
        let hash = hash_password("correct horse battery").unwrap();
        assert!(hash.starts_with("$argon2id$v=19$"), "{hash}");
        let parsed = PasswordHash::new(&hash).unwrap();
        assert!(Argon2::default()
            .verify_password(b"correct horse battery", &parsed)
            .is_ok());
        assert!(Argon2::default()
            .verify_password(b"correct horse batterx", &parsed)
            .is_err());
    }
}
