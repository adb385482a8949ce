//! The web console of mailcert: what the Exchange Admin Center did for
//! certificates — list, details, the new-certificate wizard with the
//! planner's advice, completing requests, import and export of PFX files,
//! assigning services with the pre-flight warnings, renewing, removing,
//! checking an endpoint, the audit log — as pages served by `mailcert
//! serve` over HTTPS, and the JSON API under `/api/v1/` that the pages and
//! scripts use.
//!
//! - [`accounts`]: console users with Argon2id password hashes, in the store.
//! - [`sessions`]: login sessions in the store, HMAC-signed cookies with an
//!   idle timeout, CSRF tokens.
//! - [`throttle`]: failed logins counted per account and per address.
//!
//! Every operation goes through `mailcert-lifecycle`, the library behind
//! the command line: the console adds no rule of its own about
//! certificates. Everything lives in the store (accounts, sessions,
//! counters), so a fleet of servers sharing a store shares its console.
//!
//! Not here: TLS certificate selection (the front end's resolver, the
//! console is listener `console` of service https), the store backends.
#![forbid(unsafe_code)]

pub mod accounts;
mod api;
mod app;
mod assets;
mod error;
mod reply;
mod server;
pub mod sessions;
pub mod throttle;
mod user_keys;

pub use api::download_name;
pub use app::ConsoleSettings;
pub use error::{ConsoleError, Result};
pub use reply::fix_of;
pub use server::start;
