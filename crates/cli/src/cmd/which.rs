use std::path::{Path, PathBuf};

use anyhow::Context as _;
use clap::Parser;
use mailcert_config::Config;
use mailcert_lifecycle::ListenerScope;
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
    /// Front-end configuration to read the listener from.
    #[arg(long, env = "MAILCERT_CONFIG")]
    pub config: Option<PathBuf>,
    /// Print as JSON.
    #[arg(long)]
    pub json: bool,
}

pub fn run(cli: &Cli, args: &Args) -> Result {
    let config = load_config(args.config.as_deref(), args.listener.is_some())?;
    let listener =
        match (&args.listener, &config) {
            (Some(name), Some(config)) => Some(config.listener(name).with_context(|| {
                format!("{}: no listener named '{name}'", config.path.display())
            })?),
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
    let manager = context::manager(cli)?;
    let (selection, record) = manager.which(args.service, scope, args.name.as_deref())?;
    if args.json {
        output::json(&serde_json::json!({
            "service": args.service,
            "name": args.name,
            "listener": args.listener,
            "selection": selection,
            "thumbprint": selection.thumbprint(),
            "subject": record.as_ref().map(|r| r.summary.subject.clone()),
            "names": record.as_ref().map(|r| r.summary.names.clone()),
            "explanation": selection.explain(),
        }))?;
    } else {
        match &record {
            Some(r) => output::line(format!("{}  {}", r.summary.thumbprint, r.summary.subject))?,
            None => output::line("(none)")?,
        }
        output::line(format!("rule: {}", selection.explain()))?;
    }
    Ok(if matches!(selection, Selection::Nothing { .. }) {
        Exit::Findings
    } else {
        Exit::Success
    })
}

/// The front-end configuration: `--config`, else the default file if it
/// exists. `required` makes a missing file an error.
pub fn load_config(path: Option<&Path>, required: bool) -> anyhow::Result<Option<Config>> {
    let path = match path {
        Some(p) => p.to_path_buf(),
        None => {
            let default = mailcert_config::default_config_path();
            if !default.exists() {
                if required {
                    anyhow::bail!(
                        "--listener needs the front-end configuration: pass --config (no {} found)",
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

/// Host names clients use for `services`: the configured listeners' FQDNs.
pub fn listener_hostnames(
    config: Option<&Path>,
    services: &[Service],
    listener: Option<&str>,
) -> anyhow::Result<Vec<String>> {
    let Some(config) = load_config(config, false)? else {
        return Ok(Vec::new());
    };
    if let Some(name) = listener {
        if config.listener(name).is_none() {
            anyhow::bail!("{}: no listener named '{name}'", config.path.display());
        }
    }
    let mut names: Vec<String> = config
        .listeners
        .iter()
        .filter(|l| services.contains(&l.protocol.service()))
        .filter(|l| listener.is_none_or(|n| n == l.name))
        .filter_map(|l| l.hostname.clone())
        .collect();
    names.sort();
    names.dedup();
    Ok(names)
}
