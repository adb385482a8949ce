//! `mailcert fleet`: the nodes sharing this store, and whether each
//! serves what the store says it should.

use clap::Parser;
use mailcert_lifecycle::fleet::MISSED_HEARTBEATS;

use crate::exit::Exit;
use crate::{context, output, Cli, Result};

#[derive(Debug, Parser)]
pub struct Args {
    /// Print as JSON: {"nodes": [{"node", "last_seen", "version", "listeners": [{"listener", "serving", "expected", "in_sync"}]}]}.
    #[arg(long)]
    pub json: bool,
}

pub fn run(cli: &Cli, args: &Args) -> Result {
    let manager = context::existing_manager(cli, None)?.ok_or_else(|| {
        anyhow::anyhow!(
            "no store yet, so no node has reported; start `mailcert serve` on each node"
        )
    })?;
    let report = mailcert_lifecycle::fleet_report(manager.store.as_ref(), manager.now())?;
    let verdict = if report.has_problems() {
        Exit::Findings
    } else {
        Exit::Success
    };
    if args.json {
        output::json(&report)?;
        return Ok(verdict);
    }
    if report.nodes.is_empty() {
        output::line("no node has reported yet: each `mailcert serve` on this store records what it serves every few seconds")?;
        return Ok(verdict);
    }
    let short = |t: &Option<String>| {
        t.as_deref()
            .map(|t| t[..t.len().min(12)].to_string())
            .unwrap_or_else(|| "(none)".into())
    };
    let mut rows = Vec::new();
    for node in &report.nodes {
        let seen = if node.silent {
            format!(
                "{} (silent: no heartbeat for {} s, {MISSED_HEARTBEATS}+ missed)",
                node.last_seen, node.seconds_since
            )
        } else {
            node.last_seen.clone()
        };
        if node.listeners.is_empty() {
            rows.push(vec![
                node.node.clone(),
                seen.clone(),
                node.version.clone(),
                "-".into(),
                "-".into(),
                "-".into(),
                "-".into(),
            ]);
        }
        for l in &node.listeners {
            let mut sync = if l.in_sync { "yes" } else { "NO" }.to_string();
            let off: Vec<&str> = l
                .names
                .iter()
                .filter(|n| !n.in_sync)
                .map(|n| n.name.as_str())
                .collect();
            if !off.is_empty() {
                sync.push_str(&format!(" (differs for {})", off.join(", ")));
            }
            if let Some(pin) = l.pin.as_deref().filter(|_| !l.in_sync) {
                sync.push_str(&format!(" (pinned to {pin})"));
            }
            rows.push(vec![
                node.node.clone(),
                seen.clone(),
                node.version.clone(),
                l.listener.clone(),
                short(&l.serving),
                short(&l.expected),
                sync,
            ]);
        }
    }
    let table = output::table(
        &[
            "Node", "LastSeen", "Version", "Listener", "Serving", "Expected", "InSync",
        ],
        rows,
    );
    output::line(table.trim_end())?;
    for node in &report.nodes {
        for l in node.listeners.iter().filter(|l| !l.in_sync) {
            if let Some(pin) = &l.pin {
                eprintln!(
                    "mailcert: node {}: listener {} is pinned to {pin} by `certificate =` in that node's configuration, and so serves what the store's bindings do not say; remove the pin (or point it at {}) and send that node's serve a SIGHUP",
                    node.node,
                    l.listener,
                    l.expected.as_deref().unwrap_or("the certificate the store binds")
                );
            }
        }
    }
    if report.has_problems() {
        eprintln!("mailcert: a node serves something other than the store says, or has gone silent; a node catches up within seconds of a change while it can reach the store: look at its log (`mailcert serve` says when the store is unreachable)");
    }
    Ok(verdict)
}
