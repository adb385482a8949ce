//! ACME for mailcert: certificates from Let's Encrypt and any RFC 8555 CA,
//! obtained and renewed without anyone.
//!
//! - [`account`]: accounts per directory, keys encrypted in the store.
//! - [`order::obtain`]: one order, challenges answered by a
//!   [`ChallengeResponder`] — temporary listeners ([`Standalone`]), the
//!   front end in process through a [`ChallengeSink`] ([`serve`]), a
//!   running front end from another process through the store
//!   ([`served`]), or a [`DnsHook`].
//! - [`issue`]: certificate, key and chain stored in one change.
//! - [`engine::Engine`]: renewal passes (cron or `serve`), with leases so
//!   that front ends sharing a store never order twice, persisted backoff
//!   and expiry warnings; [`renewal::decide`] is the pure rule, and
//!   [`status::renewal_status`] what it says of each certificate in use.
//!
//! Not here: the front end's listeners (they only read what a
//! [`ChallengeSink`] receives), and any clock — time is passed in.
#![forbid(unsafe_code)]

pub mod account;
pub mod challenge;
pub mod directory;
pub mod dns_update;
pub mod engine;
pub mod error;
pub mod hook;
pub mod issue;
pub mod order;
pub mod renewal;
pub mod serve;
pub mod served;
pub mod standalone;
pub mod status;

pub use account::{load_account, register, register_with, AcmeAccount, Registered};
pub use challenge::{
    ChallengeAnswer, ChallengeBoard, ChallengeKind, ChallengeResponder, ChallengeSink,
    SinkResponder, ACME_TLS_ALPN,
};
pub use directory::{resolve_directory, LETSENCRYPT, LETSENCRYPT_STAGING};
pub use dns_update::{DnsUpdateRecipe, DnsUpdateResponder};
pub use engine::{spawn_periodic, Engine, Outcome, OutcomeKind, Responders};
pub use error::{AcmeError, Result};
pub use hook::DnsHook;
pub use issue::{store_and_enable, store_obtained, OrderRecipe, Ordered};
pub use order::{obtain, obtain_until, Logged, Obtained, OrderSpec, Progress, Quiet};
pub use renewal::{decide, Decision, DueReason, RenewalPolicy, RenewalState};
pub use standalone::Standalone;
pub use status::{renewal_status, NextRenewal, RenewalStatus};
