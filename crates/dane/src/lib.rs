//! DANE for SMTP (RFC 7672): the TLSA records of certificates and keys,
//! and the DNS work around them.
//!
//! - [`tlsa`]: records from a certificate or a public key (`3 1 1`
//!   DANE-EE, `2 1 1` DANE-TA), their zone-file form, and whether a record
//!   matches a served chain.
//! - [`resolver`]: look-ups over blocking sockets with messages made by
//!   hickory-proto: TLSA through a validating resolver whose AD bit is
//!   trusted (as Postfix does), the zone's authoritative servers and what
//!   each of them answers directly.
//! - [`tsig`]: TSIG keys read from the files BIND's `tsig-keygen`, Knot's
//!   `keymgr -t` and `nsupdate -y`-style one-liners write.
//! - [`update`]: RFC 2136 dynamic updates signed with TSIG, used for TLSA
//!   records and for ACME DNS-01 TXT records alike.
//!
//! Not here: the store, the rollover decisions (mailcert-lifecycle), any
//! DNSSEC validation of our own (the resolver's AD bit is the verdict).
#![forbid(unsafe_code)]

mod error;
pub mod resolver;
pub mod tlsa;
pub mod tsig;
pub mod update;

pub use error::DaneError;
pub use resolver::{Answer, Resolver, TlsaAnswer};
pub use tlsa::{Matching, Selector, Tlsa, Usage};
pub use tsig::TsigKey;
pub use update::{DnsRecord, RecordValue, Rfc2136};
