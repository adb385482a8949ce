//! Issuers: the ways a certificate gets signed besides self-signing.
//!
//! - [`ca`]: the private CA that mailcert runs itself (root and optional
//!   intermediate, keys encrypted in the store, root made a trust anchor),
//!   signing PKCS#10 requests from this or other servers.
//!
//! Each issuer has its own module and error type; they all work through
//! `mailcert_lifecycle::Manager`, so what they store is one change with an
//! audit entry, like every other command. Not here: parsing of requests and
//! answers (mailcert-x509) and storage (mailcert-store).
#![forbid(unsafe_code)]

pub mod ca;

pub use ca::{CaError, PrivateCa};
