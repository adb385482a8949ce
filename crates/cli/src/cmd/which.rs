use std::path::PathBuf;

use clap::Parser;
use mailcert_config::Config;
use mailcert_lifecycle::{listener_notes, nothing_fix, ListenerScope};
use mailcert_x509::Service;

use crate::exit::Exit;
use crate::{context, output, Cli, Result};

#[derive(Debug, Parser)]
pub struct Args {
    /// The service: https (or iis), imap, pop, smtp.
    #[arg(value_parser = |s: &str| s.parse::<Service>())]
    pub service: Service,
    /// The name the client asks for (SNI). Without it: what a client sending no SNI gets.
    #[arg(long)]
    pub name: Option<String>,
    /// A listener of the front end (its explicit certificate and own bindings count).
    #[arg(long)]
    pub listener: Option<String>,
    /// Front-end configuration: its [store], and the listener
    /// (default: the one `mailcert serve` reads, if it exists).
    #[arg(long, env = "MAILCERT_CONFIG")]
    pub config: Option<PathBuf>,
    /// Print as JSON.
    #[arg(long)]
    pub json: bool,
    /// On this node of a fleet: its own bindings count beside the fleet-wide ones (default: MAILCERT_NODE, else this host's FQDN).
    #[arg(long, value_name = "NAME")]
    pub node: Option<String>,
}

pub fn run(cli: &Cli, args: &Args) -> Result {
    let config = Config::load_optional(args.config.as_deref(), args.listener.as_deref())?;
    let listener = match (&args.listener, &config) {
        (Some(name), Some(config)) => Some(config.listener_serving(name, args.service)?),
        _ => None,
    };
    let scope = ListenerScope {
        name: args.listener.as_deref(),
        pin: listener.and_then(|l| l.certificate.as_deref()),
    };
    let manager = context::existing(cli, config.as_ref())?;
    let node = super::node_arg(args.node.as_deref()).unwrap_or_else(|| manager.node.clone());
    let (selection, record) =
        manager.which_on(args.service, scope, args.name.as_deref(), Some(&node))?;
    let listeners = manager.listener_bindings(Some(&node))?;
    let notes = listener_notes(&listeners, args.service, args.listener.as_deref());
    // Changes scheduled for this service, or for the certificate it serves.
    let scheduled: Vec<mailcert_lifecycle::schedule::Scheduled> = manager
        .schedules()?
        .into_iter()
        .filter(|s| s.change.concerns(args.service, selection.thumbprint()))
        .collect();
    let fix = nothing_fix(
        &selection,
        args.service,
        args.listener.as_deref(),
        scope.pin,
    );
    if args.json {
        output::json(&serde_json::json!({
            "service": args.service,
            "name": args.name,
            "listener": args.listener,
            "node": node,
            "selection": selection,
            "thumbprint": selection.thumbprint(),
            "subject": record.as_ref().map(|r| r.summary.subject.clone()),
            "names": record.as_ref().map(|r| r.summary.names.clone()),
            "explanation": selection.explain(),
            "fix": fix,
            "hidden_by_listener": notes.hidden,
            "listeners_with_own": notes.listeners_with_own,
            "notes": notes.sentences,
            "scheduled": scheduled,
        }))?;
    } else {
        match &record {
            Some(r) => {
                output::line(format!("{}  {}", r.summary.thumbprint, r.summary.subject))?;
                output::line(format!("rule: {}", selection.explain()))?;
            }
            None => {
                output::line(format!(
                    "(none): no certificate would be served for {}{}, so clients will fail the TLS handshake",
                    args.service,
                    args.listener
                        .as_deref()
                        .map(|l| format!(" on listener {l}"))
                        .unwrap_or_default()
                ))?;
                output::line(format!("why: {}", selection.explain()))?;
            }
        }
        for note in &notes.sentences {
            output::line(format!("note: {note}"))?;
        }
        if let Some(fix) = &fix {
            output::line(format!("fix: {fix}"))?;
        }
        for s in &scheduled {
            output::line(format!(
                "scheduled: {} at {} (schedule {}){}",
                s.change.describe(),
                s.at,
                s.id,
                s.failed
                    .as_ref()
                    .map(|r| format!("; NOT APPLIED: {r}"))
                    .unwrap_or_default()
            ))?;
        }
    }
    // An empty answer is still an answer: exit 1 is for the findings of
    // check, verify and plan.
    Ok(Exit::Success)
}
