//! MTA-STS (RFC 8461) and TLS-RPT (RFC 8460) for mailcert: the policy a
//! domain publishes to tell sending MTAs which MX hosts must present valid
//! certificates, the DNS records that announce it, and the same read back
//! from the sender's side.
//!
//! - [`Policy`]: built from validated parts ([`Mode`], [`MxPattern`], a
//!   `max_age` of at most a year), served as [`Policy::text`] (exact
//!   format, CRLF), announced with [`Policy::id`] (derived from the text,
//!   so it changes exactly when the content does); [`Policy::parse`]
//!   reads a fetched one as a sender does.
//! - [`StsRecord`], [`TlsRptRecord`]: the `_mta-sts` and `_smtp._tls` TXT
//!   records.
//!
//! ```
//! use mailcert_mtasts::{Mode, MxPattern, Policy};
//! let policy = Policy::new(Mode::Enforce, vec![MxPattern::parse("*.contoso.com").unwrap()], 604800).unwrap();
//! assert!(policy.text().starts_with("version: STSv1\r\nmode: enforce\r\n"));
//! assert!(policy.matching("mx1.contoso.com").is_some());
//! ```
//!
//! Pure: no DNS, no HTTPS. The front end serves the text, the checker
//! fetches and connects, the configuration and the planner validate.
#![forbid(unsafe_code)]

mod error;
mod mode;
mod policy;
mod record;

pub use error::StsError;
pub use mode::Mode;
pub use policy::{
    ensure_max_age, policy_domain, policy_host, policy_url, FetchedPolicy, MxPattern, Policy,
    DEFAULT_MAX_AGE, MAX_AGE_LIMIT, MAX_POLICY_BYTES, WELL_KNOWN_PATH,
};
pub use record::{sts_record_name, tlsrpt_record_name, zone_quoted, Rua, StsRecord, TlsRptRecord};
