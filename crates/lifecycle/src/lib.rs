//! The lifecycle of certificates in a store: the operations behind the
//! everyday commands (init, new, enable, disable, remove, renew, which),
//! each validated before it touches the store and applied as one change.
//!
//! The CLI and the front end both go through here; [`ServingSet::select`]
//! is the single answer to "which certificate will be served?".
#![forbid(unsafe_code)]

pub mod anchors;
pub mod error;
pub mod find;
pub mod host;
pub mod manager;
pub mod preflight;
pub mod serving;
pub mod view;

pub use anchors::Anchors;
pub use error::{LifecycleError, Result};
pub use find::{find, find_certificate, Found};
pub use manager::{parse_names, Manager, Report};
pub use serving::{ListenerScope, ServedCert, ServingSet};
pub use view::CertView;
