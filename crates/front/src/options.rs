//! How the front end is started: where it finds its store and its
//! challenge answers, and who it is in the fleet. A module of its own so
//! that the parts of the server that read the options (reload notes) need
//! not depend on the server itself.

use std::time::Duration;

use mailcert_store::{ExplicitStore, StoreLocation};

use crate::challenges::ChallengeBoard;

/// How the front end finds its store and its challenge answers, and who
/// it is in the fleet.
#[derive(Debug, Clone)]
pub struct FrontOptions {
    /// What the command line and environment named; the configuration's
    /// `[store]` fills the rest, at start and at every reload
    /// ([`StoreLocation::choose`]).
    pub store: ExplicitStore,
    pub challenges: ChallengeBoard,
    /// This node's name (`serve --node`, `MAILCERT_NODE`, the FQDN): its
    /// own bindings apply beside the fleet-wide ones.
    pub node: String,
    /// How often the node records what it serves in the store.
    pub heartbeat: Duration,
}

/// The default time between heartbeats: a node that misses three (30 s)
/// is silent for `mailcert fleet`.
pub const HEARTBEAT_INTERVAL: Duration = Duration::from_secs(10);

impl FrontOptions {
    /// Options for the store at `store`, as this host's node.
    pub fn new(store: &StoreLocation, challenges: ChallengeBoard) -> FrontOptions {
        FrontOptions {
            store: ExplicitStore::fixed(store),
            challenges,
            node: mailcert_lifecycle::host::node_name(),
            heartbeat: HEARTBEAT_INTERVAL,
        }
    }
}
