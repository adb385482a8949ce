//! Listening sockets that exist before the front end starts: the ones
//! systemd passes with socket activation (`LISTEN_FDS`, matched to
//! listeners by address), and the ones `serve` binds while it is still
//! root, before it drops to the `[process]` user. The front end takes a
//! listener's socket from here, and binds one itself only when there is
//! none (a reload that adds a listener, the tests' port 0).

use std::net::{SocketAddr, TcpListener};

use mailcert_config::Config;

use crate::error::FrontError;

struct Entry {
    /// The listener it was bound for; `None` for systemd's.
    name: Option<String>,
    socket: TcpListener,
}

/// Sockets waiting for their listener.
#[derive(Default)]
pub struct Sockets {
    entries: Vec<Entry>,
}

impl std::fmt::Debug for Sockets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.addresses()).finish()
    }
}

impl Sockets {
    /// The sockets systemd passed to this process; none without socket
    /// activation. They stay here until a listener with their address
    /// takes them, at start or at a later reload.
    pub fn from_systemd() -> Result<Sockets, FrontError> {
        let mut fds = listenfd::ListenFd::from_env();
        let mut entries = Vec::new();
        for index in 0..fds.len() {
            match fds.take_tcp_listener(index) {
                Ok(Some(socket)) => entries.push(Entry { name: None, socket }),
                Ok(None) => {}
                Err(e) => {
                    return Err(FrontError::Activation(format!(
                        "descriptor {} is not a listening TCP socket ({e}); use ListenStream= in the .socket unit",
                        index + 3
                    )))
                }
            }
        }
        Ok(Sockets { entries })
    }

    /// Binds every address of the configuration that has no socket yet.
    pub fn bind_missing(&mut self, config: &Config) -> Result<(), FrontError> {
        let wanted = config
            .listeners
            .iter()
            .map(|l| (&l.name, l.bind))
            .chain(config.redirects.iter().map(|r| (&r.name, r.bind)));
        for (name, addr) in wanted {
            if self.has(name, addr) {
                continue;
            }
            let socket = TcpListener::bind(addr).map_err(|e| FrontError::bind(name, addr, e))?;
            self.entries.push(Entry {
                name: Some(name.clone()),
                socket,
            });
        }
        Ok(())
    }

    fn position(&self, name: &str, addr: SocketAddr) -> Option<usize> {
        self.entries
            .iter()
            .position(|e| e.name.as_deref() == Some(name))
            .or_else(|| {
                (addr.port() != 0).then(|| {
                    self.entries
                        .iter()
                        .position(|e| e.socket.local_addr().ok() == Some(addr))
                })?
            })
    }

    fn has(&self, name: &str, addr: SocketAddr) -> bool {
        self.position(name, addr).is_some()
    }

    /// The socket for a listener: the one bound for it, else one with
    /// its address.
    pub(crate) fn take(&mut self, name: &str, addr: SocketAddr) -> Option<TcpListener> {
        let index = self.position(name, addr)?;
        Some(self.entries.swap_remove(index).socket)
    }

    /// A socket taken for a reload that did not happen.
    pub(crate) fn give_back(&mut self, socket: TcpListener) {
        self.entries.push(Entry { name: None, socket });
    }

    /// Addresses of the sockets no listener took.
    pub fn addresses(&self) -> Vec<SocketAddr> {
        self.entries
            .iter()
            .filter_map(|e| e.socket.local_addr().ok())
            .collect()
    }
}
