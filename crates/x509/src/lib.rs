//! The certificate model of mailcert: pure functions over certificates,
//! keys and names, with no I/O and no clock (the time is always passed in).
//!
//! - [`names`]: validating names administrators type, and the wildcard
//!   rules clients apply.
//! - [`CertSummary`]: what a certificate says, read once from its DER.
//! - [`thumbprint`]: SHA-1 thumbprints as Windows shows them.
//! - [`build`] and [`KeyType`]: new keys and self-signed certificates.
//! - [`status`]: `Valid` / `DateInvalid` / `Untrusted` / `Invalid` and the
//!   warnings; [`validate`]: the trust verdict from rustls-webpki, every
//!   failure in words.
//! - [`sigalg`]: signature algorithms by name, and a verifier that tells an
//!   old algorithm (SHA-1, PSS, RSA-1024) from a signature that does not
//!   match.
//! - [`pem`]: reading PEM and DER, with truncation reported.
//! - [`bundle`], [`chain`], [`ber`]: what CAs send back (PEM bundles,
//!   PKCS#7 in DER, BER or PEM) and chains built by issuer, never by order.
//! - [`csr`]: PKCS#10 requests made and read (signature verified).
//! - [`limits`]: the validity public CAs may give, by date.
//! - [`pkcs12`]: PFX files read (modern, legacy, BER) and written.
//! - [`profile`]: the RFC 5280 rules one certificate must keep (a CA bit
//!   and its key usage, critical extensions, empty names).
//! - [`sniff`]: what a file that is none of those looks like, for errors.
//!
//! Not here: storage (mailcert-store), networking, the system's root store
//! (callers load anchors and pass them in).
#![forbid(unsafe_code)]

pub mod ber;
pub mod build;
pub mod bundle;
pub mod cert;
pub mod chain;
pub mod csr;
pub mod error;
pub mod keys;
pub mod limits;
pub mod names;
pub mod pem;
pub mod pkcs12;
pub mod profile;
pub mod service;
pub mod sigalg;
pub mod sniff;
mod spki;
pub mod status;
pub mod thumbprint;
pub mod time;
mod tlv;
pub mod validate;

pub use cert::CertSummary;
pub use error::{CertError, NameError};
pub use keys::KeyType;
pub use names::{parse_name, ParsedName, SubjectName};
pub use service::{Candidate, Selection, Service};
pub use status::{Evaluation, Status, Trust};
pub use thumbprint::thumbprint;

/// Re-exported so callers build trust anchors with the same types.
pub use rustls_pki_types;
pub use webpki;
