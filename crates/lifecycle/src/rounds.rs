//! Work `serve` repeats on a thread of its own (DANE publishing, staged
//! changes), with a store of its own: opened at the first round and kept
//! (a round each second must not cost a database connection), opened
//! afresh after a round that failed. Stopped when the handle is dropped.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use mailcert_store::StoreLocation;

use crate::error::{LifecycleError, Result};
use crate::manager::Manager;

/// A thread running rounds; stopped (and joined) when dropped.
pub struct Rounds {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Drop for Rounds {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(thread) = self.thread.take() {
            thread.thread().unpark();
            let _ = thread.join();
        }
    }
}

/// Runs `round` now and then every `interval` with a manager on the
/// store at `location` (user "mailcert serve", on `node`). A round's
/// error goes to `failed`; the next round runs all the same, on a store
/// opened afresh.
pub fn start_rounds(
    name: &str,
    location: StoreLocation,
    node: String,
    interval: Duration,
    mut round: impl FnMut(&mut Manager) -> Result<()> + Send + 'static,
    failed: impl Fn(&LifecycleError) + Send + 'static,
) -> std::io::Result<Rounds> {
    let stop = Arc::new(AtomicBool::new(false));
    let stopped = stop.clone();
    let thread = std::thread::Builder::new()
        .name(name.to_string())
        .spawn(move || {
            // The store is kept; the manager is made afresh each round,
            // so that nothing it caches (trust anchors) goes stale.
            let mut kept: Option<Box<dyn mailcert_store::Store>> = None;
            while !stopped.load(Ordering::SeqCst) {
                let store = match kept.take() {
                    Some(store) => Ok(store),
                    None => mailcert_store::open(&location)
                        .map(|s| s as Box<dyn mailcert_store::Store>)
                        .map_err(LifecycleError::from),
                };
                match store {
                    Ok(store) => {
                        let mut manager =
                            Manager::new(store, "mailcert serve".to_string()).on_node(node.clone());
                        match round(&mut manager) {
                            Ok(()) => kept = Some(manager.store),
                            Err(e) => failed(&e),
                        }
                    }
                    Err(e) => failed(&e),
                }
                std::thread::park_timeout(interval);
            }
        })?;
    Ok(Rounds {
        stop,
        thread: Some(thread),
    })
}
