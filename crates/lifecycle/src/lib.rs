//! The lifecycle of certificates in a store: the operations behind the
//! everyday commands (init, new, enable, disable, remove, renew, which),
//! working with CAs (request, complete, replace), moving certificates
//! (import, export) and trust anchors, each validated before it touches
//! the store and applied as one change.
//!
//! The CLI and the front end both go through here; [`ServingSet::select`]
//! is the single answer to "which certificate will be served?". What a
//! start decides about the store (the first start's initialisation, the
//! console's certificate, the name to try a listener with) is in
//! [`startup`].
#![forbid(unsafe_code)]

pub mod anchors;
pub mod complete;
pub mod dane;
pub mod dane_publish;
pub mod error;
pub mod find;
pub mod fleet;
pub mod host;
pub mod init;
pub mod manager;
pub mod preflight;
pub mod remove;
pub mod replace;
pub mod report;
pub mod request;
mod rounds;
pub mod schedule;
mod served;
pub mod serving;
pub mod startup;
pub mod transfer;
pub mod trust;
pub mod view;

pub use anchors::Anchors;
pub use complete::InputFile;
pub use error::{DaneWaiting, LifecycleError, NoTlsaRecords, Result, Unservable};
pub use find::{find, find_certificate, Found};
pub use fleet::{fleet_report, FleetReport};
pub use manager::{parse_names, Manager};
pub use remove::Removal;
pub use replace::PinnedListener;
pub use report::Report;
pub use request::{request_names, Renewed, RequestNames, RequestSpec};
pub use rounds::Rounds;
pub use serving::{
    listener_notes, nothing_fix, AddressServing, ListenerBindings, ListenerNotes, ListenerScope,
    ServedCert, ServingSet,
};
pub use startup::{opened_words, ConsoleCertificate};
pub use transfer::{import_format, ImportFormat, Importable};
pub use view::{chain_entries, CertView, ChainEntry, Expiry};
