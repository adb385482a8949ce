//! `mailcert serve --check`: everything `serve` would refuse at start,
//! found without opening a socket or changing anything (like `nginx -t`):
//! the configuration, the `[process]` user and what it must be able to
//! use, privileged ports, the store, and for every listener a
//! certificate to serve.

use std::path::Path;

use mailcert_config::Config;
use mailcert_lifecycle::ListenerScope;
use mailcert_store::StoreLocation;

use mailcert_x509::names::best_match;
use mailcert_x509::Service;

use crate::certs::{load_snapshot, Snapshot};
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
    if !config.mta_sts.is_empty()
        && !config
            .listeners
            .iter()
            .any(|l| l.protocol == mailcert_config::Protocol::Https)
    {
        let domains: Vec<&str> = config.mta_sts.iter().map(|e| e.domain.as_str()).collect();
        checked.problems.push(format!(
            "[[mta_sts]] policies for {} but no https listener serves them: add a [[listener]] with protocol = \"https\" on port 443 (it may have no backend)",
            domains.join(", ")
        ));
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
    check_policy_hosts(config, &snapshot, checked);
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

/// Senders validate the policy host's certificate (RFC 8461 §3.3): an
/// HTTPS listener that would answer `mta-sts.<domain>` with a certificate
/// not carrying that name serves a policy no sender accepts.
fn check_policy_hosts(config: &Config, snapshot: &Snapshot, checked: &mut Checked) {
    let https = config
        .listeners
        .iter()
        .filter(|l| l.protocol == mailcert_config::Protocol::Https);
    for listener in https {
        for entry in &config.mta_sts {
            let host = entry.policy_host();
            let scope = ListenerScope {
                name: Some(&listener.name),
                pin: listener.certificate.as_deref(),
            };
            let (selection, _) = snapshot.select(Service::Https, scope, Some(&host));
            let Some(thumbprint) = selection.thumbprint() else {
                continue;
            };
            let names = snapshot.names_of(thumbprint);
            if best_match(names.iter().map(String::as_str), &host).is_none() {
                checked.warnings.push(format!(
                    "listener {}: the MTA-STS policy of {} would be served with certificate {thumbprint}, which does not carry {host}; senders validate it and ignore the policy: add {host} to an https certificate (mailcert plan with [policy] mta_sts = true lists it)",
                    listener.name, entry.domain
                ));
            }
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
