//! The hook for ACME issuers: HTTP-01 answers on the plain HTTP
//! listeners and TLS-ALPN-01 certificates on the HTTPS listeners, from
//! one [`ChallengeBoard`] (the component `mailcert acme` answers with too).
//!
//! An issuer in the same process publishes on the board given to the
//! front end. An issuer in another process (`mailcert acme ...`) writes
//! named values in the store instead: `acme.http-01.<token>` = key
//! authorization, and `acme.tls-alpn-01.<name>` = the acmeIdentifier
//! digest in hex (no key crosses processes: the board makes the challenge
//! certificate itself); the front end copies them to the board with its
//! next store poll (within a second).

pub use mailcert_challenge::{ChallengeBoard, ACME_TLS_ALPN};
/// Store named-value prefixes of HTTP-01 key authorizations and of
/// TLS-ALPN-01 digests (hex), as the ACME issuer writes them.
pub use mailcert_store::values::{
    ACME_HTTP01_PREFIX as HTTP01_PREFIX, ACME_TLS_ALPN01_PREFIX as TLS_ALPN01_PREFIX,
};
