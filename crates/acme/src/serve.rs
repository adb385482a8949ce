//! The glue for `mailcert serve`: the renewal engine running beside the
//! front end, answering HTTP-01 and TLS-ALPN-01 through the front end's
//! own listeners (the [`ChallengeBoard`](crate::ChallengeBoard) they serve).
//!
//! ```ignore
//! // in serve, with the board the front end's listeners serve:
//! let challenges = ChallengeBoard::new();
//! let renewal = mailcert_acme::serve::start_renewal(
//!     location.clone(), node, Arc::new(challenges.clone()), RENEWAL_INTERVAL)?;
//! // keep `renewal` alive while serving; dropping it stops the engine.
//! ```

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use mailcert_lifecycle::{host::os_user, Manager};
use mailcert_store::StoreLocation;

use crate::challenge::ChallengeSink;
use crate::engine::{spawn_periodic, Engine, Responders};
use crate::order::Logged;

/// How often `serve` runs a renewal pass by default.
pub const RENEWAL_INTERVAL: Duration = Duration::from_secs(3600);

/// The running engine; dropping it stops the engine after its current pass.
pub struct RenewalHandle {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Drop for RenewalHandle {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Starts renewal passes every `interval` on the store at `location`
/// (its own connection), answering challenges through `sink`, as `node`
/// of the fleet. Nodes sharing a store take turns through the renewal
/// lease: one places the order, all serve the result.
pub fn start_renewal(
    location: StoreLocation,
    node: String,
    sink: Arc<dyn ChallengeSink>,
    interval: Duration,
) -> std::io::Result<RenewalHandle> {
    let stop = Arc::new(AtomicBool::new(false));
    let mut engine = Engine::new(Responders::Sink(sink), Arc::new(Logged));
    engine.owner = format!("{node}:{}", std::process::id());
    let open = move || -> crate::error::Result<Manager> {
        let store = mailcert_store::open(&location)?;
        Ok(Manager::new(store, format!("{} (serve)", os_user())).on_node(node.clone()))
    };
    let thread = spawn_periodic(open, engine, interval, stop.clone())?;
    Ok(RenewalHandle {
        stop,
        thread: Some(thread),
    })
}
