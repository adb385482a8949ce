//! `mailcert serve --check`: everything `serve` would refuse at start,
//! found without opening a socket or changing anything (like `nginx -t`):
//! the configuration, the `[process]` user and what it must be able to
//! use, privileged ports, the store, and for every listener a
//! certificate to serve.

use std::path::Path;

use mailcert_config::Config;
use mailcert_lifecycle::ListenerScope;
use mailcert_store::StoreLocation;

use crate::certs::load_snapshot;
use crate::fdlimit::FdLimit;
use crate::privileges::{paths_needed, RunAs};

/// What the check found.
#[derive(Debug, Default)]
pub struct Checked {
    /// What would stop `serve` or fail every handshake of a listener.
    pub problems: Vec<String>,
    /// What `serve` would warn about.
    pub warnings: Vec<String>,
}

/// Checks a configuration and the store it serves from.
pub fn check(config: &Config, location: &StoreLocation) -> Checked {
    let mut checked = Checked::default();
    if config.listeners.is_empty() && config.redirects.is_empty() {
        checked.problems.push(format!(
            "no listeners configured: add [[listener]] sections to {}",
            config.path.display()
        ));
    }
    let run_as = match RunAs::resolve(&config.process) {
        Ok(run_as) => run_as,
        Err(e) => {
            checked.problems.push(e.to_string());
            None
        }
    };
    let root = nix::unistd::geteuid().is_root();
    if let Some(run_as) = run_as.as_ref().filter(|r| !r.is_current()) {
        if !root {
            checked.problems.push(format!(
                "[process] user = \"{}\": serve can only become another user when started as root",
                run_as.user
            ));
        }
        checked.problems.extend(run_as.problems(&paths_needed(
            &location.db,
            &location.key,
            &config.path,
        )));
    }
    if !root && !can_bind_privileged() {
        let addresses = config
            .listeners
            .iter()
            .map(|l| (&l.name, l.bind))
            .chain(config.redirects.iter().map(|r| (&r.name, r.bind)));
        for (name, addr) in addresses {
            if addr.port() != 0 && addr.port() < 1024 {
                checked.problems.push(format!(
                    "listener {name}: {addr} is below port 1024, which needs root or CAP_NET_BIND_SERVICE (or a socket from systemd); start serve as root with a [process] user, or use a port above 1024"
                ));
            }
        }
    }
    check_store(config, location, &mut checked);
    let fd = current_fd_limit();
    let sockets = config.listeners.len() + config.redirects.len();
    if let (_, Some(warning)) = fd.connections(config.limits.max_connections, sockets) {
        checked.warnings.push(warning);
    }
    checked
}

fn check_store(config: &Config, location: &StoreLocation, checked: &mut Checked) {
    if !location.is_postgres() && !location.db.exists() {
        checked.warnings.push(format!(
            "no store at {} yet: serve creates it with a self-signed certificate on its first start",
            location.shown()
        ));
        return;
    }
    let store = match mailcert_store::open(location) {
        Ok(store) => store,
        Err(e) => {
            checked.problems.push(e.to_string());
            return;
        }
    };
    let provider = crate::tls::provider();
    let node = mailcert_lifecycle::host::node_name();
    let snapshot = match load_snapshot(store.as_ref(), &provider, Some(&node)) {
        Ok(snapshot) => snapshot,
        Err(e) => {
            checked.problems.push(e.to_string());
            return;
        }
    };
    checked.warnings.extend(snapshot.problems.iter().cloned());
    if let Err(e) = crate::server::ensure_pins_resolve(config, &snapshot) {
        checked.problems.push(e.to_string());
    }
    for listener in config.listeners.iter().filter(|l| l.certificate.is_none()) {
        let service = listener.protocol.service();
        let scope = ListenerScope {
            name: Some(&listener.name),
            pin: None,
        };
        let (selection, key) = snapshot.select(service, scope, listener.hostname.as_deref());
        if key.is_none() {
            checked.problems.push(format!(
                "listener {} ({service}): no certificate to serve, every handshake would fail: {}",
                listener.name,
                selection.explain()
            ));
        }
    }
}

/// The descriptor limit as it will be after `serve` raises it.
fn current_fd_limit() -> FdLimit {
    use nix::sys::resource::{getrlimit, Resource, RLIM_INFINITY};
    match getrlimit(Resource::RLIMIT_NOFILE) {
        Ok((_, hard)) if hard != RLIM_INFINITY => FdLimit {
            soft: hard,
            hard,
            raised_from: None,
        },
        _ => FdLimit {
            soft: 1 << 20,
            hard: RLIM_INFINITY,
            raised_from: None,
        },
    }
}

/// Whether this process holds CAP_NET_BIND_SERVICE, or the system lets
/// anyone bind low ports (`net.ipv4.ip_unprivileged_port_start`).
fn can_bind_privileged() -> bool {
    let capability = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find_map(|l| l.strip_prefix("CapEff:"))
                .and_then(|hex| u64::from_str_radix(hex.trim(), 16).ok())
        })
        .is_some_and(|caps| caps & (1 << 10) != 0);
    let unprivileged_start =
        std::fs::read_to_string(Path::new("/proc/sys/net/ipv4/ip_unprivileged_port_start"))
            .ok()
            .and_then(|s| s.trim().parse::<u16>().ok())
            .unwrap_or(1024);
    capability || unprivileged_start == 0
}
