//! Drift in a fleet: what each node reported it serves (its heartbeat)
//! against what the store says it should serve now, by the same choice
//! the front end makes ([`ServingSet::select`]) without the node's own
//! configuration pins (a pin that serves something else is drift). `mailcert fleet` prints
//! this; its JSON shape is fixed (DESIGN.md): fields may be added, never
//! renamed.

use mailcert_store::{NodeRecord, Store};
use mailcert_x509::Service;
use serde::Serialize;
use time::OffsetDateTime;

use crate::error::Result;
use crate::serving::{ListenerScope, ServingSet};

/// Heartbeats a node may miss before it counts as silent.
pub const MISSED_HEARTBEATS: i64 = 3;

#[derive(Debug, Clone, Serialize)]
pub struct FleetReport {
    pub nodes: Vec<NodeReport>,
}

#[derive(Debug, Clone, Serialize)]
pub struct NodeReport {
    pub node: String,
    /// RFC 3339 time of the last heartbeat.
    pub last_seen: String,
    pub version: String,
    pub listeners: Vec<ListenerReport>,
    pub heartbeat_secs: u32,
    /// Seconds since the last heartbeat.
    pub seconds_since: i64,
    /// Missed [`MISSED_HEARTBEATS`] heartbeats or more.
    pub silent: bool,
    /// The store generation of what the node serves.
    pub generation: i64,
}

#[derive(Debug, Clone, Serialize)]
pub struct ListenerReport {
    pub listener: String,
    /// What a client without SNI gets from the node, by its heartbeat.
    pub serving: Option<String>,
    /// What the store says it should get now.
    pub expected: Option<String>,
    /// The default and every name agree.
    pub in_sync: bool,
    pub service: String,
    /// Each name a bound certificate carries (SNI), the same comparison.
    pub names: Vec<NameReport>,
    /// The listener's `certificate = "…"` pin in the node's
    /// configuration, if any: it overrides the store's bindings there.
    pub pin: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct NameReport {
    pub name: String,
    pub serving: Option<String>,
    pub expected: Option<String>,
    pub in_sync: bool,
}

impl FleetReport {
    /// A node serves something else, or went silent.
    pub fn has_problems(&self) -> bool {
        self.nodes
            .iter()
            .any(|n| n.silent || n.listeners.iter().any(|l| !l.in_sync))
    }
}

/// The report at `now`.
pub fn fleet_report(store: &dyn Store, now: OffsetDateTime) -> Result<FleetReport> {
    let serving = ServingSet::load(store, false)?;
    Ok(fleet_report_from(&serving, store.nodes()?, now))
}

/// The report at `now` from a serving set already loaded (without keys)
/// and the nodes' heartbeats: what `serve` exports at each scrape, with
/// the set kept between store changes.
pub fn fleet_report_from(
    serving: &ServingSet,
    nodes: Vec<NodeRecord>,
    now: OffsetDateTime,
) -> FleetReport {
    let nodes = nodes
        .into_iter()
        .map(|n| node_report(serving, n, now))
        .collect();
    FleetReport { nodes }
}

fn node_report(serving: &ServingSet, node: NodeRecord, now: OffsetDateTime) -> NodeReport {
    let set = serving.clone().on_node(Some(&node.node));
    let since = now.unix_timestamp() - node.last_seen;
    let listeners = node
        .listeners
        .iter()
        .map(|l| {
            let service: Option<Service> = l.service.parse().ok();
            // What the store says, whatever the node's configuration
            // pins: a pin that holds a listener to another certificate
            // is how one server goes on serving the old one after the
            // fleet moved on, which is what this report is for.
            let scope = ListenerScope {
                name: Some(&l.listener),
                pin: None,
            };
            let expect = |name: Option<&str>| {
                service.and_then(|s| {
                    set.select(s, scope, name, now)
                        .thumbprint()
                        .map(str::to_string)
                })
            };
            let reported = |name: Option<&str>| {
                l.serving
                    .iter()
                    .find(|s| s.name.as_deref() == name)
                    .and_then(|s| s.thumbprint.clone())
            };
            let mut names: Vec<String> = l.serving.iter().filter_map(|s| s.name.clone()).collect();
            if let Some(s) = service {
                names.extend(set.bound_names(s, Some(&l.listener)));
            }
            names.sort();
            names.dedup();
            let names: Vec<NameReport> = names
                .into_iter()
                .map(|name| {
                    let serving = reported(Some(&name));
                    let expected = expect(Some(&name));
                    NameReport {
                        in_sync: serving == expected,
                        name,
                        serving,
                        expected,
                    }
                })
                .collect();
            let serving = reported(None);
            let expected = expect(None);
            ListenerReport {
                listener: l.listener.clone(),
                in_sync: serving == expected && names.iter().all(|n| n.in_sync),
                serving,
                expected,
                service: l.service.clone(),
                names,
                pin: l.pin.clone(),
            }
        })
        .collect();
    let silent = since > MISSED_HEARTBEATS * i64::from(node.heartbeat_secs.max(1));
    NodeReport {
        last_seen: OffsetDateTime::from_unix_timestamp(node.last_seen)
            .map(mailcert_x509::time::rfc3339)
            .unwrap_or_else(|_| node.last_seen.to_string()),
        node: node.node,
        version: node.version,
        listeners,
        heartbeat_secs: node.heartbeat_secs,
        seconds_since: since,
        silent,
        generation: node.generation,
    }
}
