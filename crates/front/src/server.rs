//! The running front end: listeners and their accept loops, the
//! connection limit, reloads (store changes by polling, configuration on
//! SIGHUP) and the graceful stop on SIGTERM.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;

use arc_swap::ArcSwap;
use mailcert_config::{Config, Listener, Protocol, Redirect, TlsMode};
use mailcert_store::{ExplicitStore, StoreLocation};
use rustls::server::ServerSessionMemoryCache;
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, oneshot, watch};
use tokio_rustls::TlsAcceptor;

use crate::certs::{Reloader, Snapshot};
use crate::challenges::ChallengeMap;
use crate::error::FrontError;
use crate::session::{self, dialect_protocol, ListenerRuntime};
use crate::tls::{self, TlsShared};

/// How the front end finds its store and its challenge answers.
#[derive(Debug, Clone)]
pub struct FrontOptions {
    /// What the command line and environment named; the configuration's
    /// `[store]` fills the rest, at start and at every reload
    /// ([`StoreLocation::choose`]).
    pub store: ExplicitStore,
    pub challenges: Arc<ChallengeMap>,
}

/// A socket the front end listens on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bound {
    pub name: String,
    /// `None` for a plain HTTP redirect listener.
    pub protocol: Option<Protocol>,
    pub tls: Option<TlsMode>,
    pub addr: SocketAddr,
    pub backend: Option<String>,
}

enum Command {
    Reload(oneshot::Sender<Result<(), String>>),
    Shutdown(oneshot::Sender<()>),
}

/// The front end, running on its own async runtime.
pub struct Front {
    runtime: tokio::runtime::Runtime,
    commands: mpsc::UnboundedSender<Command>,
    bound: Arc<ArcSwap<Vec<Bound>>>,
    generations: Arc<ArcSwap<watch::Receiver<i64>>>,
    active: Arc<AtomicUsize>,
}

struct Running {
    config: Config,
    options: FrontOptions,
    store: StoreLocation,
    reloader: Reloader,
    tls: TlsShared,
    sockets: HashMap<SocketAddr, Socket>,
}

struct Socket {
    bound: Bound,
    runtime: Option<watch::Sender<Arc<ListenerRuntime>>>,
    redirect: Option<watch::Sender<Arc<Redirect>>>,
    stop: watch::Sender<bool>,
}

/// Counts connections; the guard gives the slot back.
struct Slot(Arc<AtomicUsize>);

impl Drop for Slot {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

fn take_slot(active: &Arc<AtomicUsize>, max: usize) -> Option<Slot> {
    let mut current = active.load(Ordering::Acquire);
    loop {
        if current >= max {
            return None;
        }
        match active.compare_exchange(current, current + 1, Ordering::AcqRel, Ordering::Acquire) {
            Ok(_) => return Some(Slot(active.clone())),
            Err(now) => current = now,
        }
    }
}

fn store_for(config: &Config, options: &FrontOptions) -> StoreLocation {
    StoreLocation::choose(&options.store, Some(&config.store)).location
}

fn hostname_of(listener: &Listener) -> String {
    listener
        .hostname
        .clone()
        .unwrap_or_else(|| mailcert_lifecycle::host::host_names().0)
}

/// Everything a reload must build before it may replace the running state.
struct Prepared {
    runtimes: HashMap<SocketAddr, Arc<ListenerRuntime>>,
    redirects: HashMap<SocketAddr, Arc<Redirect>>,
    new_sockets: HashMap<SocketAddr, TcpListener>,
}

/// A pin that matches nothing would fail every handshake of its listener:
/// refuse the configuration (at start, and on SIGHUP the old one stays).
fn ensure_pins_resolve(config: &Config, shared: &TlsShared) -> Result<(), FrontError> {
    let snapshot = shared.snapshot.load();
    for (index, listener) in config.listeners.iter().enumerate() {
        let Some(pin) = listener.certificate.as_deref() else {
            continue;
        };
        let scope = mailcert_lifecycle::ListenerScope {
            name: Some(&listener.name),
            pin: Some(pin),
        };
        let (selection, _) = snapshot.select(listener.protocol.service(), scope, None);
        if selection.thumbprint().is_none() {
            let line = listener
                .certificate_line
                .map(|n| format!("line {n}: "))
                .unwrap_or_default();
            return Err(FrontError::UnknownPin {
                path: config.path.clone(),
                at: format!("{line}listener[{}] ({}).", index + 1, listener.name),
                pin: pin.to_string(),
            });
        }
    }
    Ok(())
}

fn prepare(
    config: &Config,
    shared: &TlsShared,
    existing: &HashMap<SocketAddr, Socket>,
) -> Result<Prepared, FrontError> {
    let mut runtimes = HashMap::new();
    let mut new_sockets = HashMap::new();
    let bind = |addr: SocketAddr, name: &str| -> Result<TcpListener, FrontError> {
        let std = std::net::TcpListener::bind(addr).map_err(|e| FrontError::bind(name, addr, e))?;
        std.set_nonblocking(true)
            .map_err(|e| FrontError::bind(name, addr, e))?;
        TcpListener::from_std(std).map_err(|e| FrontError::bind(name, addr, e))
    };
    ensure_pins_resolve(config, shared)?;
    for listener in &config.listeners {
        let server_config = tls::server_config(listener, shared)?;
        let runtime = Arc::new(ListenerRuntime {
            listener: listener.clone(),
            acceptor: TlsAcceptor::from(server_config),
            hostname: hostname_of(listener),
            smtp_extensions: Arc::new(ArcSwap::from_pointee(
                mailcert_dialect::smtp::default_extensions(),
            )),
        });
        let addr = if existing.contains_key(&listener.bind) && listener.bind.port() != 0 {
            listener.bind
        } else {
            let socket = bind(listener.bind, &listener.name)?;
            let addr = socket
                .local_addr()
                .map_err(|e| FrontError::bind(&listener.name, listener.bind, e))?;
            new_sockets.insert(addr, socket);
            addr
        };
        runtimes.insert(addr, runtime);
    }
    let mut redirects = HashMap::new();
    for redirect in &config.redirects {
        let addr = if existing.contains_key(&redirect.bind) && redirect.bind.port() != 0 {
            redirect.bind
        } else {
            let socket = bind(redirect.bind, &redirect.name)?;
            let addr = socket
                .local_addr()
                .map_err(|e| FrontError::bind(&redirect.name, redirect.bind, e))?;
            new_sockets.insert(addr, socket);
            addr
        };
        redirects.insert(addr, Arc::new(redirect.clone()));
    }
    Ok(Prepared {
        runtimes,
        redirects,
        new_sockets,
    })
}

impl Front {
    /// Opens the store, loads the certificates, binds every listener, and
    /// starts serving. Nothing is served unless everything succeeded.
    pub fn start(config: Config, options: FrontOptions) -> Result<Front, FrontError> {
        if config.listeners.is_empty() && config.redirects.is_empty() {
            return Err(FrontError::NoListeners(config.path.clone()));
        }
        let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(threads)
            .thread_name("mailcert-front")
            .enable_all()
            .build()
            .map_err(FrontError::Runtime)?;
        let active = Arc::new(AtomicUsize::new(0));
        let (commands, rx) = mpsc::unbounded_channel();
        let bound = Arc::new(ArcSwap::from_pointee(Vec::new()));
        let store = store_for(&config, &options);
        let provider = tls::provider();
        let snapshot = Arc::new(ArcSwap::from_pointee(Snapshot::default()));
        let reloader = Reloader::start(
            &store,
            snapshot.clone(),
            options.challenges.clone(),
            provider.clone(),
        )?;
        let generations = Arc::new(ArcSwap::from_pointee(reloader.generations.clone()));
        let shared = TlsShared {
            provider,
            ticketer: tls::ticketer()?,
            sessions: ServerSessionMemoryCache::new(4096),
            snapshot,
            challenges: options.challenges.clone(),
        };
        let mut running = Running {
            config,
            options,
            store,
            reloader,
            tls: shared,
            sockets: HashMap::new(),
        };
        {
            let _guard = runtime.enter();
            let prepared = prepare(&running.config, &running.tls, &running.sockets)?;
            commit(&mut running, prepared, &active);
        }
        bound.store(Arc::new(
            running.sockets.values().map(|s| s.bound.clone()).collect(),
        ));
        runtime.spawn(control(
            running,
            rx,
            active.clone(),
            bound.clone(),
            generations.clone(),
        ));
        Ok(Front {
            runtime,
            commands,
            bound,
            generations,
            active,
        })
    }

    /// What the front end listens on (actual ports, also for port 0).
    pub fn bound(&self) -> Vec<Bound> {
        let mut out = self.bound.load().as_ref().clone();
        out.sort_by_key(|b| b.addr);
        out
    }

    /// The address a listener got.
    pub fn addr(&self, name: &str) -> Option<SocketAddr> {
        self.bound
            .load()
            .iter()
            .find(|b| b.name == name)
            .map(|b| b.addr)
    }

    /// The store generation of the certificates in use.
    pub fn generation(&self) -> i64 {
        *self.generations.load().borrow()
    }

    /// Connections being served now.
    pub fn active_connections(&self) -> usize {
        self.active.load(Ordering::Acquire)
    }

    /// Rereads the configuration file, as SIGHUP does.
    pub fn reload(&self) -> Result<(), String> {
        let (tx, rx) = oneshot::channel();
        self.commands
            .send(Command::Reload(tx))
            .map_err(|_| "the front end has stopped".to_string())?;
        self.runtime
            .block_on(rx)
            .unwrap_or_else(|_| Err("the front end has stopped".into()))
    }

    /// Stops accepting and waits up to the grace period for connections
    /// to finish, as SIGTERM does.
    pub fn shutdown(self) {
        let (tx, rx) = oneshot::channel();
        if self.commands.send(Command::Shutdown(tx)).is_ok() {
            let _ = self.runtime.block_on(rx);
        }
        self.runtime.shutdown_timeout(Duration::from_millis(100));
    }

    /// Serves until SIGTERM or SIGINT; SIGHUP reloads the configuration.
    pub fn run_until_signalled(self) -> Result<(), FrontError> {
        use tokio::signal::unix::{signal, SignalKind};
        let commands = self.commands.clone();
        let stopped = self.runtime.block_on(async move {
            let mut hup = signal(SignalKind::hangup())?;
            let mut term = signal(SignalKind::terminate())?;
            let mut int = signal(SignalKind::interrupt())?;
            loop {
                tokio::select! {
                    _ = hup.recv() => {
                        let (tx, rx) = oneshot::channel();
                        if commands.send(Command::Reload(tx)).is_err() { break; }
                        match rx.await {
                            Ok(Ok(())) => tracing::info!("SIGHUP: configuration reloaded"),
                            Ok(Err(e)) => tracing::error!("SIGHUP: configuration not reloaded, the previous one stays in use: {e}"),
                            Err(_) => break,
                        }
                    }
                    _ = term.recv() => break,
                    _ = int.recv() => break,
                }
            }
            Ok::<(), std::io::Error>(())
        });
        stopped.map_err(FrontError::Runtime)?;
        tracing::info!("stopping: no new connections; waiting for open ones to finish");
        self.shutdown();
        Ok(())
    }
}

fn commit(running: &mut Running, mut prepared: Prepared, active: &Arc<AtomicUsize>) {
    let max = running.config.limits.max_connections;
    let mut keep = HashMap::new();
    for (addr, runtime) in prepared.runtimes {
        let l = &runtime.listener;
        let bound = Bound {
            name: l.name.clone(),
            protocol: Some(l.protocol),
            tls: Some(l.tls),
            addr,
            backend: Some(l.backend.clone()),
        };
        if l.protocol == Protocol::Smtp && l.tls != TlsMode::Implicit {
            tokio::spawn(probe_extensions(Arc::downgrade(&runtime)));
        }
        if let Some(mut socket) = running
            .sockets
            .remove(&addr)
            .filter(|s| s.runtime.is_some())
        {
            if let Some(tx) = &socket.runtime {
                let _ = tx.send(runtime);
            }
            socket.bound = bound;
            keep.insert(addr, socket);
        } else if let Some(tcp) = prepared.new_sockets.remove(&addr) {
            let (rt_tx, rt_rx) = watch::channel(runtime);
            let (stop_tx, stop_rx) = watch::channel(false);
            tokio::spawn(accept_mail(tcp, rt_rx, stop_rx, active.clone(), max));
            keep.insert(
                addr,
                Socket {
                    bound,
                    runtime: Some(rt_tx),
                    redirect: None,
                    stop: stop_tx,
                },
            );
        }
    }
    for (addr, redirect) in prepared.redirects {
        let bound = Bound {
            name: redirect.name.clone(),
            protocol: None,
            tls: None,
            addr,
            backend: None,
        };
        if let Some(mut socket) = running
            .sockets
            .remove(&addr)
            .filter(|s| s.redirect.is_some())
        {
            if let Some(tx) = &socket.redirect {
                let _ = tx.send(redirect);
            }
            socket.bound = bound;
            keep.insert(addr, socket);
        } else if let Some(tcp) = prepared.new_sockets.remove(&addr) {
            let (r_tx, r_rx) = watch::channel(redirect);
            let (stop_tx, stop_rx) = watch::channel(false);
            let challenges: Arc<dyn crate::challenges::Challenges> =
                running.options.challenges.clone();
            tokio::spawn(accept_http(
                tcp,
                r_rx,
                challenges,
                stop_rx,
                active.clone(),
                max,
            ));
            keep.insert(
                addr,
                Socket {
                    bound,
                    runtime: None,
                    redirect: Some(r_tx),
                    stop: stop_tx,
                },
            );
        }
    }
    for (_, old) in running.sockets.drain() {
        let _ = old.stop.send(true);
    }
    running.sockets = keep;
}

async fn control(
    mut running: Running,
    mut rx: mpsc::UnboundedReceiver<Command>,
    active: Arc<AtomicUsize>,
    bound: Arc<ArcSwap<Vec<Bound>>>,
    generations: Arc<ArcSwap<watch::Receiver<i64>>>,
) {
    while let Some(command) = rx.recv().await {
        match command {
            Command::Reload(reply) => {
                let result = reload(&mut running, &active, &generations);
                bound.store(Arc::new(
                    running.sockets.values().map(|s| s.bound.clone()).collect(),
                ));
                let _ = reply.send(result.map_err(|e| e.to_string()));
            }
            Command::Shutdown(done) => {
                for socket in running.sockets.values() {
                    let _ = socket.stop.send(true);
                }
                let grace = running.config.limits.grace_period;
                let deadline = tokio::time::Instant::now() + grace;
                while active.load(Ordering::Acquire) > 0 && tokio::time::Instant::now() < deadline {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                let left = active.load(Ordering::Acquire);
                if left > 0 {
                    tracing::warn!("grace period of {grace:?} over: closing {left} connections");
                }
                let _ = done.send(());
                return;
            }
        }
    }
}

fn reload(
    running: &mut Running,
    active: &Arc<AtomicUsize>,
    generations: &Arc<ArcSwap<watch::Receiver<i64>>>,
) -> Result<(), FrontError> {
    let config = Config::load(&running.config.path)?;
    if config.listeners.is_empty() && config.redirects.is_empty() {
        return Err(FrontError::NoListeners(config.path.clone()));
    }
    let store = store_for(&config, &running.options);
    let mut tls = running.tls.clone();
    let mut new_reloader = None;
    if store != running.store {
        let snapshot = Arc::new(ArcSwap::from_pointee(Snapshot::default()));
        let reloader = Reloader::start(
            &store,
            snapshot.clone(),
            running.options.challenges.clone(),
            tls.provider.clone(),
        )?;
        tls.snapshot = snapshot;
        new_reloader = Some(reloader);
    }
    let prepared = prepare(&config, &tls, &running.sockets)?;
    // Everything is built: swap.
    running.config = config;
    running.tls = tls;
    if let Some(reloader) = new_reloader {
        generations.store(Arc::new(reloader.generations.clone()));
        running.reloader = reloader;
        running.store = store;
    }
    commit(running, prepared, active);
    Ok(())
}

async fn accept_mail(
    tcp: TcpListener,
    runtime: watch::Receiver<Arc<ListenerRuntime>>,
    mut stop: watch::Receiver<bool>,
    active: Arc<AtomicUsize>,
    max: usize,
) {
    loop {
        let accepted = tokio::select! {
            _ = stop.changed() => return,
            a = tcp.accept() => a,
        };
        let (stream, client) = match accepted {
            Ok(a) => a,
            Err(e) => {
                tracing::warn!("accept failed: {e}");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let rt = runtime.borrow().clone();
        match take_slot(&active, max) {
            Some(slot) => {
                tokio::spawn(async move {
                    session::handle(stream, client, rt).await;
                    drop(slot);
                });
            }
            None => {
                tracing::warn!(listener = %rt.listener.name, %client, "connection refused: {max} connections already open (limits.max_connections)");
                tokio::spawn(busy(stream, rt));
            }
        }
    }
}

/// Over the connection limit: STARTTLS listeners can say so in the
/// protocol; implicit TLS ones just close.
async fn busy(mut stream: TcpStream, rt: Arc<ListenerRuntime>) {
    if rt.listener.tls != TlsMode::Implicit {
        if let Some(p) = dialect_protocol(rt.listener.protocol) {
            let _ = stream
                .write_all(&mailcert_dialect::unavailable_reply(p, &rt.hostname))
                .await;
        }
    }
    let _ = stream.shutdown().await;
}

async fn accept_http(
    tcp: TcpListener,
    redirect: watch::Receiver<Arc<Redirect>>,
    challenges: Arc<dyn crate::challenges::Challenges>,
    mut stop: watch::Receiver<bool>,
    active: Arc<AtomicUsize>,
    max: usize,
) {
    loop {
        let accepted = tokio::select! {
            _ = stop.changed() => return,
            a = tcp.accept() => a,
        };
        let Ok((stream, _)) = accepted else {
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        };
        let Some(slot) = take_slot(&active, max) else {
            continue;
        };
        let (r, c) = (redirect.borrow().clone(), challenges.clone());
        tokio::spawn(async move {
            crate::http::handle(stream, r, c).await;
            drop(slot);
        });
    }
}

/// Learns the SMTP backend's EHLO extensions now and every few minutes,
/// while the listener runtime lives.
async fn probe_extensions(runtime: Weak<ListenerRuntime>) {
    loop {
        let Some(rt) = runtime.upgrade() else { return };
        let learnt = crate::backend::probe_smtp_extensions(&rt.listener, &rt.hostname).await;
        let learnt = learnt.is_some_and(|ext| {
            rt.smtp_extensions.store(Arc::new(ext));
            true
        });
        drop(rt);
        // Until the backend has answered once, the generic list stands in
        // for its own: ask again soon rather than in five minutes.
        let again = if learnt { 300 } else { 5 };
        tokio::time::sleep(Duration::from_secs(again)).await;
    }
}
