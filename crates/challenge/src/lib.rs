//! The answers to ACME challenges that mailcert's listeners serve: one
//! component for the front end (`mailcert serve`: its plain HTTP listener
//! and its HTTPS listeners) and for the temporary listeners of `mailcert
//! acme order`.
//!
//! - [`ChallengeBoard`]: the HTTP-01 bodies by token and TLS-ALPN-01
//!   certificates by name currently offered, published in this process
//!   or read from the store (an issuer in another process).
//! - [`alpn`]: the TLS-ALPN-01 certificate (RFC 8737); [`resolver`]
//!   presents it to a client offering only `acme-tls/1`.
//! - [`http`]: the HTTP request head, read with a size limit and a
//!   deadline and parsed with `httparse`, and the HTTP-01 answer to it.
#![forbid(unsafe_code)]

pub mod alpn;
pub mod board;
pub mod error;
pub mod http;
pub mod resolver;

pub use alpn::{alpn_certificate, offers_acme_tls};
pub use board::ChallengeBoard;
pub use error::ChallengeError;
pub use http::{read_head, HeadRead, RequestHead};
pub use resolver::{acme_only_server_config, AlpnResolver};

/// The ALPN protocol of TLS-ALPN-01 (RFC 8737).
pub const ACME_TLS_ALPN: &[u8] = b"acme-tls/1";
/// Path prefix of HTTP-01 (RFC 8555 §8.3).
pub const HTTP01_PATH: &str = "/.well-known/acme-challenge/";
