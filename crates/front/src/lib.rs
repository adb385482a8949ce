//! The TLS front end of mailcert: listeners for HTTPS, SMTP, IMAP and
//! POP3 that terminate TLS with the certificate bound to each service and
//! pass the plaintext to the backends (Dovecot, Postfix, a web server).
//!
//! - Certificates come from the store's live bindings: every handshake
//!   asks [`mailcert_lifecycle::ServingSet::select`] (the function behind
//!   `mailcert which`) over a snapshot of ready `CertifiedKey`s that is
//!   rebuilt and swapped within a second of any store change (told by
//!   PostgreSQL's LISTEN/NOTIFY on a fleet's shared store). Each `serve`
//!   is a node: its own bindings apply beside the fleet-wide ones, and it
//!   records what it serves in the store (its heartbeat).
//! - Implicit TLS on any protocol; STARTTLS spoken by the front end itself
//!   with the shared dialect crate (`mailcert-dialect`), including SMTP's
//!   plaintext passthrough on port 25 and the discarding of injected
//!   commands; after it, mail sessions go through the dialect's relays,
//!   which answer a second STARTTLS inside TLS and SMTP `AUTH` without
//!   TLS themselves, never passing them to the backend.
//! - PROXY protocol v2 to the backends, with the SSL TLV after TLS.
//! - Plain HTTP listeners that redirect to HTTPS and answer ACME
//!   challenges published on a [`ChallengeBoard`] (the hook for issuers).
//! - MTA-STS policies (`[[mta_sts]]`) answered on the HTTPS listeners for
//!   `mta-sts.<domain>`, by SNI, without the backend ([`mta_sts`]); an
//!   HTTPS listener may have no backend and serve only them.
//! - SIGHUP rebuilds the whole configuration before swapping it in;
//!   SIGTERM stops accepting and drains up to a grace period.
//! - At the start: the default configuration written when there is none
//!   ([`load_or_write_default`]), and what to try each listener with
//!   ([`TryWithPlan`], [`describe`]).
//!
//! Not here: HTTP routing (the HTTPS listener works at layer 4, apart
//! from the policy hosts), client
//! certificates, the certificate lifecycle itself.
//!
//! ```no_run
//! use mailcert_front::{ChallengeBoard, Front, FrontOptions};
//! let config = mailcert_config::Config::load("mailcert.toml".as_ref()).unwrap();
//! let options = FrontOptions {
//!     store: mailcert_store::ExplicitStore::default(),
//!     challenges: ChallengeBoard::new(),
//!     node: "ex1.contoso.com".into(),
//!     heartbeat: mailcert_front::HEARTBEAT_INTERVAL,
//! };
//! let front = Front::start(config, options).unwrap();
//! let try_with = |_: &mailcert_front::Bound| mailcert_front::TryWith {
//!     hostname: "mail.example.com".into(),
//!     pem_file: "server.pem".into(),
//! };
//! for line in mailcert_front::describe(&front.bound(), try_with, &[]) {
//!     println!("{line}");
//! }
//! front.run_until_signalled().unwrap();
//! ```
#![forbid(unsafe_code)]

mod accept;
mod backend;
pub mod certs;
pub mod challenges;
pub mod check;
mod closing;
mod defaults;
mod error;
pub mod fdlimit;
mod http;
pub mod metrics;
pub mod mta_sts;
mod options;
pub mod pipe;
pub mod privileges;
pub mod proxy;
mod relay;
mod reload_notes;
mod server;
mod session;
mod sockets;
mod throttle;
mod tls;
mod try_with;

pub use challenges::ChallengeBoard;
pub use defaults::{default_config, describe, is_root, load_or_write_default, TryWith};
pub use error::FrontError;
pub use metrics::{FrontMetrics, HandshakeFailure};
pub use options::{FrontOptions, HEARTBEAT_INTERVAL};
pub use privileges::RunAs;
pub use reload_notes::{ReloadNote, ReloadNotes};
pub use server::{Bound, Front, FrontView};
pub use sockets::Sockets;
pub use try_with::TryWithPlan;

/// The plain HTTP listener's answer to one request head, as read from the
/// socket (at most 8 KiB up to the blank line). Public only for the fuzz
/// target of that parser: the listener itself is private to `serve`.
#[doc(hidden)]
pub fn fuzz_http_head(
    head: &[u8],
    redirect: &mailcert_config::Redirect,
    challenges: &ChallengeBoard,
) -> String {
    http::respond(head, redirect, challenges)
}
