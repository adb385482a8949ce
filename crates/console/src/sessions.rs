//! Login sessions, kept in the store so that every node of a fleet
//! sharing it knows them (a console behind a load balancer keeps working)
//! and so that logout, a password change or a removed account ends them
//! everywhere at once.
//!
//! - The session record (`console/session/SHA256(token)`, secret) holds
//!   the user, the CSRF token and the login time. The store never holds
//!   the token itself: reading the database gives no session.
//! - The cookie carries the token, the time of the last request and an
//!   HMAC of both under a key kept in the store (`console/cookie-key`).
//!   Every answer gives a fresh cookie; a request whose cookie is older
//!   than the idle timeout is refused. Activity therefore costs no write
//!   to the store, and an old cookie replayed after the idle timeout is
//!   refused even though the session record is still there.

use aws_lc_rs::digest;
use aws_lc_rs::hmac;
use mailcert_store::{encode_hex, Change, Op, Store};
use serde::{Deserialize, Serialize};

use crate::error::{ConsoleError, Result};

pub const SESSION_PREFIX: &str = "console/session/";
pub const COOKIE_KEY: &str = "console/cookie-key";
/// `__Host-`: browsers only accept it Secure, for the whole host, from
/// HTTPS, and never from a sibling domain.
pub const COOKIE_NAME: &str = "__Host-mailcert-session";

/// A session as the store keeps it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SessionRecord {
    pub user: String,
    pub csrf: String,
    /// Unix seconds of the login.
    pub created: i64,
    pub address: String,
}

/// A session a request proved it holds.
#[derive(Debug, Clone)]
pub struct Session {
    /// The store key of its record.
    pub key: String,
    pub token: String,
    pub record: SessionRecord,
}

/// Why a cookie does not open a session. Each is a 401 for the client;
/// the reason goes to the log and, worded, to the answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    NoCookie,
    Malformed,
    /// Not signed with the store's cookie key: forged or from elsewhere.
    BadSignature,
    /// Unused for longer than the idle timeout.
    Idle,
    /// Older than the session lifetime.
    Expired,
    /// Logged out, or ended by a password change or account removal.
    Ended,
}

impl Refusal {
    pub fn words(self) -> &'static str {
        match self {
            Refusal::NoCookie => "not logged in",
            Refusal::Malformed | Refusal::BadSignature => "the session cookie is not valid",
            Refusal::Idle => "the session ended after being idle too long",
            Refusal::Expired => "the session reached its maximum lifetime",
            Refusal::Ended => "the session was ended (logout, password change or account removal)",
        }
    }
}

/// How long sessions last, in seconds.
#[derive(Debug, Clone, Copy)]
pub struct Policy {
    pub idle: i64,
    pub lifetime: i64,
}

fn random_hex(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    aws_lc_rs::rand::fill(&mut buf).expect("system random generator");
    encode_hex(&buf).to_ascii_lowercase()
}

fn record_key(token: &str) -> String {
    let hash = digest::digest(&digest::SHA256, token.as_bytes());
    format!("{SESSION_PREFIX}{}", encode_hex(hash.as_ref()))
}

/// The key that signs cookies, made on first use. Two processes starting
/// at once agree on one (compare-and-set).
pub fn cookie_key(store: &mut dyn Store) -> Result<hmac::Key> {
    for _ in 0..3 {
        if let Some(bytes) = store.value(COOKIE_KEY)? {
            return Ok(hmac::Key::new(hmac::HMAC_SHA256, &bytes));
        }
        let mut fresh = vec![0u8; 32];
        aws_lc_rs::rand::fill(&mut fresh).expect("system random generator");
        let mut change = Change::bookkeeping("console-setup", "mailcert");
        change.describe("made the key that signs console session cookies");
        change.push(Op::ExpectValue {
            key: COOKIE_KEY.into(),
            value: None,
        });
        change.push(Op::SetValue {
            key: COOKIE_KEY.into(),
            value: Some(fresh),
            secret: true,
        });
        match store.apply(change) {
            Ok(()) => {}
            Err(mailcert_store::StoreError::Conflict { .. }) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    store
        .value(COOKIE_KEY)?
        .map(|bytes| hmac::Key::new(hmac::HMAC_SHA256, &bytes))
        .ok_or_else(|| ConsoleError::Corrupt {
            what: COOKIE_KEY.into(),
            reason: "it could not be created".into(),
        })
}

/// A new session for `user`: adds its record to `change` and returns the
/// token (for the cookie) and the CSRF token (for the page).
pub fn open(user: &str, address: &str, now: i64, change: &mut Change) -> (String, String) {
    let token = random_hex(32);
    let csrf = random_hex(32);
    let record = SessionRecord {
        user: user.to_string(),
        csrf: csrf.clone(),
        created: now,
        address: address.to_string(),
    };
    change.push(Op::SetValue {
        key: record_key(&token),
        value: Some(serde_json::to_vec(&record).unwrap_or_default()),
        secret: true,
    });
    (token, csrf)
}

/// The cookie's value: token, time of this request, signature.
pub fn cookie_value(key: &hmac::Key, token: &str, at: i64) -> String {
    let signed = format!("{token}.{at}");
    let tag = hmac::sign(key, signed.as_bytes());
    format!("{signed}.{}", encode_hex(tag.as_ref()).to_ascii_lowercase())
}

/// The session a cookie value opens now, or why it opens none.
pub fn check(
    store: &dyn Store,
    key: &hmac::Key,
    cookie: Option<&str>,
    now: i64,
    policy: Policy,
) -> Result<std::result::Result<Session, Refusal>> {
    let Some(cookie) = cookie else {
        return Ok(Err(Refusal::NoCookie));
    };
    let mut parts = cookie.split('.');
    let (Some(token), Some(at), Some(tag), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Ok(Err(Refusal::Malformed));
    };
    let (Ok(at), Some(tag)) = (at.parse::<i64>(), mailcert_store::decode_hex(tag)) else {
        return Ok(Err(Refusal::Malformed));
    };
    // hmac::verify compares in constant time.
    if hmac::verify(key, format!("{token}.{at}").as_bytes(), &tag).is_err() {
        return Ok(Err(Refusal::BadSignature));
    }
    if now - at > policy.idle {
        return Ok(Err(Refusal::Idle));
    }
    let record_key = record_key(token);
    let Some(bytes) = store.value(&record_key)? else {
        return Ok(Err(Refusal::Ended));
    };
    let record: SessionRecord =
        serde_json::from_slice(&bytes).map_err(|e| ConsoleError::Corrupt {
            what: record_key.clone(),
            reason: e.to_string(),
        })?;
    if now - record.created > policy.lifetime {
        return Ok(Err(Refusal::Expired));
    }
    if store
        .value(&crate::user_keys::user_key(&record.user))?
        .is_none()
    {
        return Ok(Err(Refusal::Ended));
    }
    Ok(Ok(Session {
        key: record_key,
        token: token.to_string(),
        record,
    }))
}

/// Adds to `change` the end of one session.
pub fn close(session_key: &str, change: &mut Change) {
    change.push(Op::SetValue {
        key: session_key.to_string(),
        value: None,
        secret: true,
    });
}

/// Every session record, with its store key.
pub fn all(store: &dyn Store) -> Result<Vec<(String, SessionRecord)>> {
    let mut out = Vec::new();
    for key in store.value_keys(SESSION_PREFIX)? {
        let Some(bytes) = store.value(&key)? else {
            continue;
        };
        if let Ok(record) = serde_json::from_slice::<SessionRecord>(&bytes) {
            out.push((key, record));
        }
    }
    Ok(out)
}

/// Adds to `change` the end of every session of `user`; how many.
pub fn end_all_of(store: &dyn Store, user: &str, change: &mut Change) -> Result<usize> {
    let mine: Vec<String> = all(store)?
        .into_iter()
        .filter(|(_, r)| r.user == user)
        .map(|(k, _)| k)
        .collect();
    for key in &mine {
        close(key, change);
    }
    Ok(mine.len())
}

/// Adds to `change` the end of sessions past their lifetime (their
/// cookies no longer open them anyway): the store does not grow with
/// every login.
pub fn sweep(store: &dyn Store, now: i64, lifetime: i64, change: &mut Change) -> Result<()> {
    for (key, record) in all(store)? {
        if now - record.created > lifetime {
            close(&key, change);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookies_are_signed_and_tamper_evident() {
        let key = hmac::Key::new(hmac::HMAC_SHA256, b"0123456789abcdef0123456789abcdef");
        let value = cookie_value(&key, "abc", 1000);
        let mut parts: Vec<&str> = value.split('.').collect();
        assert_eq!(parts[..2], ["abc", "1000"]);
        let tag = mailcert_store::decode_hex(parts[2]).unwrap();
        assert!(hmac::verify(&key, b"abc.1000", &tag).is_ok());
        // Moving the activity time forward breaks the signature.
        parts[1] = "2000";
        let forged = parts.join(".");
        let tag = mailcert_store::decode_hex(forged.split('.').nth(2).unwrap()).unwrap();
        assert!(hmac::verify(&key, b"abc.2000", &tag).is_err());
    }
}
