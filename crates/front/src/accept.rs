//! Accepting connections: one loop per listening socket, serving whatever
//! role the socket has now (a mail or HTTPS listener, or a plain HTTP
//! redirect; a reload may change it), under the connection limit in
//! force, which a reload may change too.
//!
//! Over the limit, clients of STARTTLS listeners get the protocol's
//! "unavailable" answer. When the process runs out of file descriptors
//! anyway (something else holds them), accepting fails and the client
//! would wait in the kernel's queue: one descriptor is kept in reserve
//! for that moment, given up to accept the client, answer it and close,
//! then taken back (the spare-descriptor technique of libev and nginx).
//! Repeated warnings are logged at most every few seconds.

use std::fs::File;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use mailcert_config::{Redirect, TlsMode};
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

use crate::challenges::ChallengeBoard;
use crate::session::{self, dialect_protocol, ListenerRuntime};
use crate::throttle::{more, Throttle};

/// What a listening socket serves.
#[derive(Clone)]
pub(crate) enum Role {
    Mail(Arc<ListenerRuntime>),
    Redirect(Arc<Redirect>),
}

impl Role {
    pub(crate) fn name(&self) -> &str {
        match self {
            Role::Mail(rt) => &rt.listener.name,
            Role::Redirect(r) => &r.name,
        }
    }
}

/// What every accept loop shares.
pub(crate) struct Shared {
    pub active: Arc<AtomicUsize>,
    /// The connection limit in force.
    pub limit: Arc<AtomicUsize>,
    pub challenges: ChallengeBoard,
    spare: Mutex<Option<File>>,
}

impl Shared {
    pub(crate) fn new(
        active: Arc<AtomicUsize>,
        limit: Arc<AtomicUsize>,
        challenges: ChallengeBoard,
    ) -> Shared {
        Shared {
            active,
            limit,
            challenges,
            spare: Mutex::new(open_spare()),
        }
    }
}

fn open_spare() -> Option<File> {
    File::open("/dev/null").ok()
}

/// Counts connections; the guard gives the slot back.
pub(crate) struct Slot(Arc<AtomicUsize>);

impl Drop for Slot {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

fn take_slot(shared: &Shared) -> Option<Slot> {
    let max = shared.limit.load(Ordering::Acquire);
    let mut current = shared.active.load(Ordering::Acquire);
    loop {
        if current >= max {
            return None;
        }
        match shared.active.compare_exchange(
            current,
            current + 1,
            Ordering::AcqRel,
            Ordering::Acquire,
        ) {
            Ok(_) => return Some(Slot(shared.active.clone())),
            Err(now) => current = now,
        }
    }
}

fn out_of_descriptors(e: &std::io::Error) -> bool {
    matches!(e.raw_os_error(), Some(24 | 23)) // EMFILE, ENFILE
}

pub(crate) async fn accept_loop(
    tcp: TcpListener,
    role: watch::Receiver<Role>,
    mut stop: watch::Receiver<bool>,
    shared: Arc<Shared>,
) {
    let mut failed = Throttle::default();
    let mut refused = Throttle::default();
    loop {
        let accepted = tokio::select! {
            _ = stop.changed() => return,
            a = tcp.accept() => a,
        };
        let current = role.borrow().clone();
        let (stream, client) = match accepted {
            Ok(a) => a,
            Err(e) => {
                let answered =
                    out_of_descriptors(&e) && refuse_with_spare(&tcp, &current, &shared).await;
                if let Some(left_out) = failed.allow(Instant::now()) {
                    tracing::warn!(
                        listener = %current.name(),
                        "accept failed: {e}{}{}",
                        if answered { "; the waiting client was told the server is busy" } else { "" },
                        more(left_out)
                    );
                }
                if !answered {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                continue;
            }
        };
        let Some(slot) = take_slot(&shared) else {
            if let Some(left_out) = refused.allow(Instant::now()) {
                tracing::warn!(
                    listener = %current.name(), %client,
                    "connection refused: {} connections already open (limits.max_connections, or what the file descriptors allow){}",
                    shared.limit.load(Ordering::Acquire),
                    more(left_out)
                );
            }
            if let Role::Mail(rt) = current {
                tokio::spawn(busy(stream, rt));
            }
            continue;
        };
        match current {
            Role::Mail(rt) => {
                tokio::spawn(async move {
                    session::handle(stream, client, rt).await;
                    drop(slot);
                });
            }
            Role::Redirect(redirect) => {
                let challenges = shared.challenges.clone();
                tokio::spawn(async move {
                    crate::http::handle(stream, redirect, challenges).await;
                    drop(slot);
                });
            }
        }
    }
}

/// Out of descriptors: gives up the spare one to accept the waiting
/// client, answers it at once and closes, then takes the spare back.
async fn refuse_with_spare(tcp: &TcpListener, role: &Role, shared: &Shared) -> bool {
    let spare = shared.spare.lock().ok().and_then(|mut s| s.take());
    let Some(spare) = spare else {
        return false;
    };
    drop(spare);
    let answered = match tokio::time::timeout(Duration::from_millis(100), tcp.accept()).await {
        Ok(Ok((stream, _))) => {
            if let Some(reply) = busy_reply(role) {
                // A fresh socket's send buffer takes the few bytes at once.
                let _ = stream.try_write(&reply);
            }
            true
        }
        _ => false,
    };
    if let Ok(mut slot) = shared.spare.lock() {
        *slot = open_spare();
    }
    answered
}

fn busy_reply(role: &Role) -> Option<Vec<u8>> {
    let Role::Mail(rt) = role else { return None };
    if rt.listener.tls == TlsMode::Implicit {
        return None;
    }
    dialect_protocol(rt.listener.protocol)
        .map(|p| mailcert_dialect::unavailable_reply(p, &rt.hostname))
}

/// Over the connection limit: STARTTLS listeners can say so in the
/// protocol; implicit TLS ones just close.
async fn busy(mut stream: TcpStream, rt: Arc<ListenerRuntime>) {
    if let Some(reply) = busy_reply(&Role::Mail(rt)) {
        let _ = stream.write_all(&reply).await;
    }
    let _ = stream.shutdown().await;
}
