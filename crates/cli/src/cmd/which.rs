use std::path::{Path, PathBuf};

use anyhow::Context as _;
use clap::Parser;
use mailcert_config::Config;
use mailcert_lifecycle::{ListenerBindings, ListenerScope};
use mailcert_x509::{Selection, Service};

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
    let config = load_config(args.config.as_deref(), args.listener.as_deref())?;
    let listener = match (&args.listener, &config) {
        (Some(name), Some(config)) => Some(find_listener(config, name)?),
        _ => None,
    };
    if let Some(l) = listener {
        if l.protocol.service() != args.service {
            anyhow::bail!(
                "listener '{}' serves {}, not {}",
                l.name,
                l.protocol.service(),
                args.service
            );
        }
    }
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
    }
    // An empty answer is still an answer: exit 1 is for the findings of
    // check, verify and plan.
    Ok(Exit::Success)
}

/// What the answer does not show by itself: bindings to named listeners.
#[derive(Debug, Default)]
struct ListenerNotes {
    /// With `--listener`: certificates bound to the whole service that
    /// this listener never serves, because it has certificates of its own.
    hidden: Vec<String>,
    /// Without `--listener`: the listeners of this service that serve
    /// certificates of their own, where this answer does not hold.
    listeners_with_own: Vec<String>,
    sentences: Vec<String>,
}

fn listener_notes(
    all: &[ListenerBindings],
    service: Service,
    listener: Option<&str>,
) -> ListenerNotes {
    let mut notes = ListenerNotes::default();
    let of_service = all.iter().filter(|l| l.service == service);
    match listener {
        Some(name) => {
            for l in of_service.filter(|l| l.listener == name && !l.hidden.is_empty()) {
                notes.hidden.extend(l.hidden.iter().cloned());
                notes.sentences.push(format!(
                    "listener '{name}' has certificates bound to it alone ({}), so it never serves {} (bound to {service} for every listener), whatever name a client asks for; to serve one here too: `mailcert enable THUMBPRINT --services {service} --listener {name}`",
                    l.own.join(", "),
                    l.hidden.join(", ")
                ));
            }
        }
        None => {
            for l in of_service {
                notes.listeners_with_own.push(l.listener.clone());
                notes.sentences.push(format!(
                    "this is the answer for {service} listeners without certificates of their own; listener '{}' serves only those bound to it ({}): see `mailcert which {service} --listener {}`",
                    l.listener,
                    l.own.join(", "),
                    l.listener
                ));
            }
        }
    }
    notes
}

/// What to do when nothing would be served.
fn nothing_fix(
    selection: &Selection,
    service: Service,
    listener: Option<&str>,
    pin: Option<&str>,
) -> Option<String> {
    let Selection::Nothing { .. } = selection else {
        return None;
    };
    if let (Some(l), Some(pin)) = (listener, pin) {
        return Some(format!(
            "import or complete the certificate that listener '{l}' names (certificate = \"{pin}\"), or change that line in the configuration and send `mailcert serve` SIGHUP"
        ));
    }
    let scope = listener
        .map(|l| format!(" --listener {l}"))
        .unwrap_or_default();
    Some(format!(
        "bind a certificate with `mailcert enable THUMBPRINT --services {service}{scope}` (thumbprints: `mailcert list`; none yet? `mailcert new --self-signed --name HOST` or `mailcert request`)"
    ))
}

/// The front-end configuration: `--config`, else the default file if it
/// exists. Naming a `listener` makes a missing file an error: a listener
/// name that cannot be checked is never taken on trust.
pub fn load_config(path: Option<&Path>, listener: Option<&str>) -> anyhow::Result<Option<Config>> {
    let path = match path {
        Some(p) => p.to_path_buf(),
        None => {
            let default = mailcert_config::default_config_path();
            if !default.exists() {
                if let Some(name) = listener {
                    anyhow::bail!(
                        "no front-end configuration to check listener '{name}' against (there is no {}); pass --config FILE (or set MAILCERT_CONFIG) with the configuration `mailcert serve` uses",
                        default.display()
                    );
                }
                return Ok(None);
            }
            default
        }
    };
    Ok(Some(Config::load(&path)?))
}

/// Host names clients use for `services`: the configured listeners' FQDNs
/// (checking that `listener`, if named, exists and serves them).
pub fn hostnames_in(
    config: &Config,
    services: &[Service],
    listener: Option<&str>,
) -> anyhow::Result<Vec<String>> {
    Ok(config.hostnames_for(services, listener)?)
}

/// The listener named `name`, or an error that lists the ones there are.
fn find_listener<'a>(
    config: &'a Config,
    name: &str,
) -> anyhow::Result<&'a mailcert_config::Listener> {
    config.listener(name).with_context(|| {
        format!(
            "{}: no listener named '{name}'; listeners there: {}",
            config.path.display(),
            listener_names(config)
        )
    })
}

fn listener_names(config: &Config) -> String {
    let names: Vec<&str> = config.listeners.iter().map(|l| l.name.as_str()).collect();
    if names.is_empty() {
        "none".into()
    } else {
        names.join(", ")
    }
}
