//! Errors of the front end.

use std::net::SocketAddr;
use std::path::PathBuf;

use thiserror::Error;

/// Why the front end could not start or reload.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum FrontError {
    #[error(transparent)]
    Config(#[from] mailcert_config::ConfigError),
    #[error("store {db}: {source}")]
    Store {
        db: String,
        #[source]
        source: mailcert_store::StoreError,
    },
    #[error("reading certificates from the store: {0}")]
    Lifecycle(#[from] mailcert_lifecycle::LifecycleError),
    #[error("listener '{name}': cannot listen on {addr}: {source}{hint}")]
    Bind {
        name: String,
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
        hint: &'static str,
    },
    #[error("listener '{name}': TLS setup failed: {source}")]
    Tls {
        name: String,
        #[source]
        source: rustls::Error,
    },
    #[error("{}: {at}certificate = \"{pin}\" matches no usable certificate in the store (a thumbprint prefix of at least 4 digits, or a subject); see `mailcert list`", .path.display())]
    UnknownPin {
        path: PathBuf,
        /// `line N: listener[i] (name).`, counted from 1.
        at: String,
        pin: String,
    },
    #[error("{0}")]
    Privileges(String),
    #[error("sockets from systemd (LISTEN_FDS): {0}")]
    Activation(String),
    #[error("starting the async runtime: {0}")]
    Runtime(std::io::Error),
    #[error("no listeners configured: add [[listener]] sections to {}", .0.display())]
    NoListeners(PathBuf),
    /// Writing the default configuration file failed: `action` is
    /// "creating" (its directory) or "writing" (the file).
    #[error("{action} {}", .path.display())]
    DefaultConfig {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl FrontError {
    pub(crate) fn bind(name: &str, addr: SocketAddr, source: std::io::Error) -> FrontError {
        let hint = match source.kind() {
            std::io::ErrorKind::PermissionDenied => {
                " (ports below 1024 need root or CAP_NET_BIND_SERVICE; use a port above 1024)"
            }
            std::io::ErrorKind::AddrInUse => {
                " (another program listens there; stop it or choose another port)"
            }
            _ => "",
        };
        FrontError::Bind {
            name: name.to_string(),
            addr,
            source,
            hint,
        }
    }
}
