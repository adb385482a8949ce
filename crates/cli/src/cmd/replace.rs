use std::path::PathBuf;

use clap::Parser;
use mailcert_lifecycle::PinnedListener;
use mailcert_x509::Service;

use crate::exit::Exit;
use crate::{context, Cli, Result};

#[derive(Debug, Parser)]
pub struct Args {
    /// The certificate in use now (thumbprint prefix).
    pub old: String,
    /// The certificate that takes over every binding of OLD.
    pub new: String,
    /// Refuse instead of warning when clients would complain (pre-flight).
    #[arg(long)]
    pub strict: bool,
    /// Front-end configuration: its [store], listeners' host names for the pre-flight; pins of OLD there
    /// are rewritten to NEW.
    #[arg(long, env = "MAILCERT_CONFIG")]
    pub config: Option<PathBuf>,
    /// Print the outcome as JSON.
    #[arg(long)]
    pub json: bool,
}

pub fn run(cli: &Cli, args: &Args) -> Result {
    let config = mailcert_config::Config::load_optional(args.config.as_deref(), None)?;
    let mut manager = context::existing(cli, config.as_ref())?;
    let old = mailcert_lifecycle::find_certificate(manager.store.as_ref(), &args.old)?;
    let services: Vec<Service> = manager
        .bindings_of(&old.summary.thumbprint)?
        .iter()
        .map(|b| b.service)
        .collect();
    let hostnames = match &config {
        Some(config) => config.hostnames_for(&services, None)?,
        None => Vec::new(),
    };
    let pins: Vec<PinnedListener> = config
        .as_ref()
        .map(|c| {
            c.listeners
                .iter()
                .filter_map(|l| {
                    l.certificate.as_ref().map(|pin| PinnedListener {
                        name: l.name.clone(),
                        pin: pin.clone(),
                    })
                })
                .collect()
        })
        .unwrap_or_default();
    let report = manager.replace(
        &args.old,
        &args.new,
        &hostnames,
        &pins,
        config.as_ref().map(|c| c.path.as_path()),
        args.strict,
    )?;
    super::print_outcome(&report, args.json)?;
    Ok(Exit::Success)
}
