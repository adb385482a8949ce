//! Named values one process leaves for another: the ACME issuer (another
//! `mailcert` process) hands challenge answers to a running front end
//! through the store.

/// HTTP-01 key authorizations, by token.
pub const ACME_HTTP01_PREFIX: &str = "acme.http-01.";
/// TLS-ALPN-01 acmeIdentifier digests (hex, see [`crate::encode_hex`]), by
/// server name.
pub const ACME_TLS_ALPN01_PREFIX: &str = "acme.tls-alpn-01.";
