//! The running front end: listeners and their accept loops, the
//! connection limit, reloads (store changes by polling, configuration on
//! SIGHUP) and the graceful stop on SIGTERM.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;

use arc_swap::ArcSwap;
use mailcert_config::{Config, Listener, Protocol, TlsMode};
use mailcert_store::StoreLocation;
use rustls::server::ServerSessionMemoryCache;
use tokio::net::TcpListener;
use tokio::sync::{mpsc, oneshot, watch};
use tokio_rustls::TlsAcceptor;

use crate::accept::{self, Role};
use crate::certs::{ListenerInfo, NodeIdentity, Reloader, Snapshot};
use crate::error::FrontError;
use crate::fdlimit::{self, FdLimit};
use crate::metrics::FrontMetrics;
use crate::mta_sts::PolicyHosts;
use crate::options::FrontOptions;
use crate::reload_notes::{notes, ReloadNote, ReloadNotes};
use crate::session::ListenerRuntime;
use crate::sockets::Sockets;
use crate::tls::{self, TlsShared};

fn listener_infos(config: &Config) -> Vec<ListenerInfo> {
    config
        .listeners
        .iter()
        .map(|l| ListenerInfo {
            name: l.name.clone(),
            service: l.protocol.service(),
            pin: l.certificate.clone(),
        })
        .collect()
}

fn identity(options: &FrontOptions, listeners: &Arc<ArcSwap<Vec<ListenerInfo>>>) -> NodeIdentity {
    NodeIdentity {
        node: options.node.clone(),
        heartbeat: options.heartbeat,
        listeners: listeners.clone(),
    }
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
    Reload(oneshot::Sender<Result<ReloadNotes, String>>),
    Shutdown(oneshot::Sender<()>),
}

/// The front end, running on its own async runtime.
pub struct Front {
    runtime: tokio::runtime::Runtime,
    commands: mpsc::UnboundedSender<Command>,
    bound: Arc<ArcSwap<Vec<Bound>>>,
    generations: Arc<ArcSwap<watch::Receiver<i64>>>,
    active: Arc<AtomicUsize>,
    limit: Arc<AtomicUsize>,
    signals: Option<Signals>,
    /// The live certificates at the start, for HTTPS served beside the
    /// listeners ([`Front::https_resolver`]).
    first_tls: TlsShared,
    view: FrontView,
}

/// What the front end serves and has counted, for those who report on it
/// (`/metrics`, events): cheap to clone, usable from any thread, and
/// following reloads.
#[derive(Clone)]
pub struct FrontView {
    /// The handshake, connection and backend counters.
    pub metrics: Arc<FrontMetrics>,
    /// This node's name in the fleet.
    pub node: String,
    listeners: Arc<ArcSwap<Vec<ListenerInfo>>>,
    snapshots: Arc<ArcSwap<Arc<ArcSwap<Snapshot>>>>,
    config: Arc<ArcSwap<Config>>,
}

impl FrontView {
    /// For each listener, the certificate a client that sends no SNI gets
    /// now (its thumbprint; `None` when there is none to serve).
    pub fn default_certificates(&self) -> Vec<(String, Option<String>)> {
        let snapshot = self.snapshots.load().load_full();
        self.listeners
            .load()
            .iter()
            .map(|listener| {
                let scope = mailcert_lifecycle::ListenerScope {
                    name: Some(&listener.name),
                    pin: listener.pin.as_deref(),
                };
                let (selection, _) = snapshot.select(listener.service, scope, None);
                (
                    listener.name.clone(),
                    selection.thumbprint().map(str::to_string),
                )
            })
            .collect()
    }

    /// The configuration in force (the last one SIGHUP loaded).
    pub fn config(&self) -> Arc<Config> {
        self.config.load_full()
    }
}

/// SIGHUP, SIGTERM and SIGINT, caught from the start: a SIGHUP that came
/// between the start and [`Front::run_until_signalled`] (say, right after
/// `serve` printed that it serves) would otherwise end the process, the
/// default action of SIGHUP.
struct Signals {
    hup: tokio::signal::unix::Signal,
    term: tokio::signal::unix::Signal,
    int: tokio::signal::unix::Signal,
}

impl Signals {
    fn install() -> std::io::Result<Signals> {
        use tokio::signal::unix::{signal, SignalKind};
        Ok(Signals {
            hup: signal(SignalKind::hangup())?,
            term: signal(SignalKind::terminate())?,
            int: signal(SignalKind::interrupt())?,
        })
    }
}

struct Running {
    config: Config,
    options: FrontOptions,
    store: StoreLocation,
    reloader: Reloader,
    /// What the heartbeat reports, kept in step with the configuration.
    listeners: Arc<ArcSwap<Vec<ListenerInfo>>>,
    tls: TlsShared,
    sockets: HashMap<SocketAddr, Socket>,
    /// Sockets handed over before the start that no listener took yet.
    pool: Sockets,
    fd: FdLimit,
    accept: Arc<accept::Shared>,
    /// `[console]` as serve started the console with it: what it keeps
    /// serving until a restart, whatever later reloads say.
    console_at_start: Option<mailcert_config::Console>,
    metrics: Arc<FrontMetrics>,
    /// What [`FrontView`] follows.
    view_snapshots: Arc<ArcSwap<Arc<ArcSwap<Snapshot>>>>,
    view_config: Arc<ArcSwap<Config>>,
}

struct Socket {
    bound: Bound,
    role: watch::Sender<Role>,
    stop: watch::Sender<bool>,
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
    roles: Vec<(SocketAddr, Role)>,
    new_sockets: HashMap<SocketAddr, TcpListener>,
}

/// A pin that matches nothing would fail every handshake of its listener:
/// refuse the configuration (at start, and on SIGHUP the old one stays).
pub(crate) fn ensure_pins_resolve(config: &Config, snapshot: &Snapshot) -> Result<(), FrontError> {
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

/// The socket for a listener or redirect: the one it has (same address),
/// one handed over before the start, or a new one.
fn socket_for(
    name: &str,
    addr: SocketAddr,
    existing: &HashMap<SocketAddr, Socket>,
    pool: &mut Sockets,
    new_sockets: &mut HashMap<SocketAddr, TcpListener>,
) -> Result<SocketAddr, FrontError> {
    if addr.port() != 0 && existing.contains_key(&addr) {
        return Ok(addr);
    }
    let std = match pool.take(name, addr) {
        Some(socket) => socket,
        None => std::net::TcpListener::bind(addr).map_err(|e| FrontError::bind(name, addr, e))?,
    };
    let local = std
        .local_addr()
        .map_err(|e| FrontError::bind(name, addr, e))?;
    std.set_nonblocking(true)
        .map_err(|e| FrontError::bind(name, addr, e))?;
    let socket = TcpListener::from_std(std).map_err(|e| FrontError::bind(name, addr, e))?;
    new_sockets.insert(local, socket);
    Ok(local)
}

fn prepare(
    config: &Config,
    shared: &TlsShared,
    existing: &HashMap<SocketAddr, Socket>,
    pool: &mut Sockets,
    metrics: &FrontMetrics,
) -> Result<Prepared, FrontError> {
    let mut new_sockets = HashMap::new();
    let result = prepare_roles(config, shared, existing, pool, &mut new_sockets, metrics);
    match result {
        Ok(roles) => Ok(Prepared { roles, new_sockets }),
        Err(e) => {
            // Sockets handed over before the start are not lost to a
            // reload that failed: a later one may take them.
            for (_, socket) in new_sockets {
                if let Ok(std) = socket.into_std() {
                    pool.give_back(std);
                }
            }
            Err(e)
        }
    }
}

fn prepare_roles(
    config: &Config,
    shared: &TlsShared,
    existing: &HashMap<SocketAddr, Socket>,
    pool: &mut Sockets,
    new_sockets: &mut HashMap<SocketAddr, TcpListener>,
    metrics: &FrontMetrics,
) -> Result<Vec<(SocketAddr, Role)>, FrontError> {
    ensure_pins_resolve(config, &shared.snapshot.load())?;
    let policies = Arc::new(PolicyHosts::new(&config.mta_sts));
    let mut roles = Vec::new();
    for listener in &config.listeners {
        let server_config = tls::server_config(listener, shared)?;
        let runtime = Arc::new(ListenerRuntime {
            listener: listener.clone(),
            acceptor: TlsAcceptor::from(server_config),
            hostname: hostname_of(listener),
            smtp_extensions: Arc::new(ArcSwap::from_pointee(
                mailcert_dialect::smtp::default_extensions(),
            )),
            policies: policies.clone(),
            policy_acceptor: policy_acceptor(listener, &policies, shared)?,
            metrics: metrics.listener(&listener.name),
        });
        let addr = socket_for(&listener.name, listener.bind, existing, pool, new_sockets)?;
        roles.push((addr, Role::Mail(runtime)));
    }
    for redirect in &config.redirects {
        let addr = socket_for(&redirect.name, redirect.bind, existing, pool, new_sockets)?;
        roles.push((addr, Role::Redirect(Arc::new(redirect.clone()))));
    }
    Ok(roles)
}

/// The TLS settings for MTA-STS policy hosts on an HTTPS listener that
/// offers more than HTTP/1.1; `None` when the listener's own will do.
fn policy_acceptor(
    listener: &Listener,
    policies: &PolicyHosts,
    shared: &TlsShared,
) -> Result<Option<TlsAcceptor>, FrontError> {
    const HTTP1: &str = "http/1.1";
    if listener.protocol != Protocol::Https
        || policies.is_empty()
        || listener.alpn.iter().all(|p| p == HTTP1)
    {
        return Ok(None);
    }
    let http1_only = Listener {
        alpn: vec![HTTP1.to_string()],
        ..listener.clone()
    };
    Ok(Some(TlsAcceptor::from(tls::server_config(
        &http1_only,
        shared,
    )?)))
}

impl Front {
    /// Opens the store, loads the certificates, binds every listener, and
    /// starts serving. Nothing is served unless everything succeeded.
    pub fn start(config: Config, options: FrontOptions) -> Result<Front, FrontError> {
        Front::start_with(config, options, Sockets::default())
    }

    /// [`Front::start`] with sockets bound or inherited beforehand (before
    /// dropping privileges, or from systemd): a listener takes the one
    /// bound for it or with its address, and binds only when there is
    /// none. Raises the file-descriptor limit first.
    pub fn start_with(
        config: Config,
        options: FrontOptions,
        sockets: Sockets,
    ) -> Result<Front, FrontError> {
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
        let listeners = Arc::new(ArcSwap::from_pointee(listener_infos(&config)));
        let reloader = Reloader::start(
            &store,
            snapshot.clone(),
            options.challenges.clone(),
            provider.clone(),
            identity(&options, &listeners),
        )?;
        let generations = Arc::new(ArcSwap::from_pointee(reloader.generations.clone()));
        let shared = TlsShared {
            provider,
            ticketer: tls::ticketer()?,
            sessions: ServerSessionMemoryCache::new(4096),
            snapshot,
            challenges: options.challenges.clone(),
        };
        let fd = fdlimit::raise();
        if let Some(from) = fd.raised_from {
            tracing::info!(
                "file descriptors: raised the soft limit from {from} to {} (the hard limit)",
                fd.soft
            );
        }
        let first_tls = shared.clone();
        let metrics = Arc::new(FrontMetrics::new());
        let view = FrontView {
            metrics: metrics.clone(),
            node: options.node.clone(),
            listeners: listeners.clone(),
            snapshots: Arc::new(ArcSwap::from_pointee(shared.snapshot.clone())),
            config: Arc::new(ArcSwap::from_pointee(config.clone())),
        };
        let accept = Arc::new(accept::Shared::new(
            active.clone(),
            Arc::new(AtomicUsize::new(config.limits.max_connections)),
            options.challenges.clone(),
        ));
        let mut running = Running {
            console_at_start: config.console.clone(),
            config,
            options,
            store,
            reloader,
            listeners,
            tls: shared,
            sockets: HashMap::new(),
            pool: sockets,
            fd,
            accept,
            metrics,
            view_snapshots: view.snapshots.clone(),
            view_config: view.config.clone(),
        };
        {
            let _guard = runtime.enter();
            let prepared = prepare(
                &running.config,
                &running.tls,
                &running.sockets,
                &mut running.pool,
                &running.metrics,
            )?;
            if let Some(warning) = commit(&mut running, prepared) {
                tracing::warn!("{warning}");
            }
        }
        let unused = running.pool.addresses();
        if !unused.is_empty() {
            tracing::warn!(
                "sockets handed over that no listener uses (kept for a reload that adds them): {unused:?}"
            );
        }
        bound.store(Arc::new(
            running.sockets.values().map(|s| s.bound.clone()).collect(),
        ));
        let limit = running.accept.limit.clone();
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
            limit,
            signals: None,
            first_tls,
            view,
        })
    }

    /// What the front end serves and has counted, for `/metrics` and events.
    pub fn view(&self) -> FrontView {
        self.view.clone()
    }

    /// The certificate choice of an HTTPS listener called `listener`
    /// (with its `pin`), for HTTPS served beside the listeners (the web
    /// console): the same live bindings, SNI rule and pins as any HTTPS
    /// name. It follows the store serve started with; a `[store]` changed
    /// by SIGHUP applies to it after a restart.
    pub fn https_resolver(
        &self,
        listener: &str,
        pin: Option<String>,
    ) -> Arc<dyn rustls::server::ResolvesServerCert> {
        Arc::new(crate::certs::ListenerResolver {
            snapshot: self.first_tls.snapshot.clone(),
            service: mailcert_x509::Service::Https,
            listener: listener.to_string(),
            pin,
            challenges: self.first_tls.challenges.clone(),
        })
    }

    /// The front end's async runtime, for tasks that serve beside it.
    pub fn runtime_handle(&self) -> tokio::runtime::Handle {
        self.runtime.handle().clone()
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

    /// The connection limit in force: `limits.max_connections`, or less
    /// when the file descriptors allow less.
    pub fn connection_limit(&self) -> usize {
        self.limit.load(Ordering::Acquire)
    }

    /// Rereads the configuration file, as SIGHUP does; says what took
    /// effect and what needs a restart.
    pub fn reload(&self) -> Result<ReloadNotes, String> {
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

    /// Catches SIGHUP, SIGTERM and SIGINT from now on, for
    /// [`Front::run_until_signalled`]; call it before telling anyone the
    /// front end serves.
    pub fn catch_signals(&mut self) -> Result<(), FrontError> {
        if self.signals.is_none() {
            let _guard = self.runtime.enter();
            self.signals = Some(Signals::install().map_err(FrontError::Runtime)?);
        }
        Ok(())
    }

    /// Serves until SIGTERM or SIGINT; SIGHUP reloads the configuration.
    pub fn run_until_signalled(mut self) -> Result<(), FrontError> {
        self.catch_signals()?;
        let commands = self.commands.clone();
        let signals = self.signals.take();
        let stopped = self.runtime.block_on(async move {
            let Some(Signals {
                mut hup,
                mut term,
                mut int,
            }) = signals
            else {
                return Err(std::io::Error::other("signal handlers were not installed"));
            };
            loop {
                tokio::select! {
                    _ = hup.recv() => {
                        let (tx, rx) = oneshot::channel();
                        if commands.send(Command::Reload(tx)).is_err() { break; }
                        match rx.await {
                            Ok(Ok(notes)) => {
                                for note in notes {
                                    if note.needs_restart {
                                        tracing::warn!("SIGHUP: {}", note.text);
                                    } else {
                                        tracing::info!("SIGHUP: {}", note.text);
                                    }
                                }
                                tracing::info!("SIGHUP: configuration reloaded");
                            }
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

/// Puts prepared roles into service: kept sockets get their new role,
/// new sockets their accept loop, sockets no longer configured stop; the
/// connection limit in force is set. Returns a warning when the file
/// descriptors cannot carry `limits.max_connections`.
fn commit(running: &mut Running, mut prepared: Prepared) -> Option<String> {
    let (limit, warning) = running
        .fd
        .connections(running.config.limits.max_connections, prepared.roles.len());
    running.accept.limit.store(limit, Ordering::Release);
    let mut keep = HashMap::new();
    for (addr, role) in prepared.roles {
        let bound = match &role {
            Role::Mail(runtime) => {
                let l = &runtime.listener;
                if l.protocol == Protocol::Smtp && l.tls != TlsMode::Implicit {
                    tokio::spawn(probe_extensions(Arc::downgrade(runtime)));
                }
                Bound {
                    name: l.name.clone(),
                    protocol: Some(l.protocol),
                    tls: Some(l.tls),
                    addr,
                    backend: l.backend.clone(),
                }
            }
            Role::Redirect(redirect) => Bound {
                name: redirect.name.clone(),
                protocol: None,
                tls: None,
                addr,
                backend: None,
            },
        };
        if let Some(mut socket) = running.sockets.remove(&addr) {
            // A kept socket serves its new role from the next connection
            // on, whatever it was before (a redirect may become a listener).
            let _ = socket.role.send(role);
            socket.bound = bound;
            keep.insert(addr, socket);
        } else if let Some(tcp) = prepared.new_sockets.remove(&addr) {
            let (role_tx, role_rx) = watch::channel(role);
            let (stop_tx, stop_rx) = watch::channel(false);
            tokio::spawn(accept::accept_loop(
                tcp,
                role_rx,
                stop_rx,
                running.accept.clone(),
            ));
            keep.insert(
                addr,
                Socket {
                    bound,
                    role: role_tx,
                    stop: stop_tx,
                },
            );
        }
    }
    for (_, old) in running.sockets.drain() {
        let _ = old.stop.send(true);
    }
    running.sockets = keep;
    warning
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
                // A reload reads files and, when the configuration moved
                // the store, opens it: a PostgreSQL connect (up to its
                // connect_timeout) and the old watcher's thread joined.
                // None of that may stall a reactor thread that serves
                // handshakes, so it runs on the blocking pool.
                let generations = generations.clone();
                let joined = tokio::task::spawn_blocking(move || {
                    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                        reload(&mut running, &generations)
                    }));
                    (running, result)
                })
                .await;
                let Ok((back, result)) = joined else {
                    // Only a cancelled runtime gets here: it is shutting down.
                    return;
                };
                running = back;
                let result = match result {
                    Ok(result) => result.map_err(|e| e.to_string()),
                    Err(_) => Err(
                        "the reload failed unexpectedly; the previous configuration stays in use"
                            .to_string(),
                    ),
                };
                bound.store(Arc::new(
                    running.sockets.values().map(|s| s.bound.clone()).collect(),
                ));
                let _ = reply.send(result);
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
    generations: &Arc<ArcSwap<watch::Receiver<i64>>>,
) -> Result<ReloadNotes, FrontError> {
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
            identity(&running.options, &running.listeners),
        )?;
        tls.snapshot = snapshot;
        new_reloader = Some(reloader);
    }
    let prepared = prepare(
        &config,
        &tls,
        &running.sockets,
        &mut running.pool,
        &running.metrics,
    )?;
    // Everything is built: swap.
    let mut notes = notes(
        &running.config,
        &config,
        &running.options,
        running.console_at_start.as_ref(),
    );
    running.listeners.store(Arc::new(listener_infos(&config)));
    running.view_config.store(Arc::new(config.clone()));
    running.view_snapshots.store(Arc::new(tls.snapshot.clone()));
    running.config = config;
    running.tls = tls;
    if let Some(reloader) = new_reloader {
        generations.store(Arc::new(reloader.generations.clone()));
        running.reloader = reloader;
        running.store = store;
    }
    if let Some(warning) = commit(running, prepared) {
        notes.push(ReloadNote {
            needs_restart: false,
            text: warning,
        });
    }
    Ok(notes)
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
