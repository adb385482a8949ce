//! What every request handler shares: the settings the console serves
//! from, who made a change, and running store work off the async
//! threads. Apart from the server so that the handlers (`api`) need not
//! depend on the server that routes to them.

use aws_lc_rs::hmac;
use mailcert_store::StoreLocation;

use crate::reply::ApiError;

/// What the console serves from, fixed at the start of `serve`.
#[derive(Debug, Clone)]
pub struct ConsoleSettings {
    pub console: mailcert_config::Console,
    /// The front end's configuration: its listeners' host names are what
    /// the pre-flight of an assignment checks against.
    pub config: mailcert_config::Config,
    pub store: StoreLocation,
}

pub(crate) struct App {
    pub settings: ConsoleSettings,
    pub cookie_key: hmac::Key,
    /// Login attempts are looked at one at a time, so that a flood of
    /// parallel attempts cannot all pass the failure counters before the
    /// first failure is written.
    pub login_lock: tokio::sync::Mutex<()>,
}

/// Who made a change, for the audit log.
pub(crate) fn actor(user: &str, address: &str) -> String {
    format!("{user} (console from {address})")
}

/// Runs store work off the async threads.
pub(crate) async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(work)
        .await
        .unwrap_or_else(|e| Err(ApiError::internal(format!("the request failed: {e}"))))
}
