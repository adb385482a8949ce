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
    /// Make the change at this time instead of now (2027-01-10 or RFC 3339): `serve` applies it then, pre-flight again first; see `mailcert schedule list`.
    #[arg(long, value_parser = super::parse_at)]
    pub at: Option<time::OffsetDateTime>,
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
    if let Some(at) = args.at {
        if let Some(pin) = pins.iter().find(|p| {
            old.summary
                .thumbprint
                .starts_with(&p.pin.to_ascii_uppercase())
                || old.summary.subject.contains(&p.pin)
        }) {
            anyhow::bail!(
                "listener '{}' pins {} in the configuration, which a scheduled change cannot rewrite at its time. Fix: pin the listener to the new certificate when it should take over, or replace now (without --at)",
                pin.name,
                old.summary.thumbprint
            );
        }
        let report = manager.schedule(
            mailcert_lifecycle::schedule::ScheduledChange::Replace {
                old: args.old.clone(),
                new: args.new.clone(),
                hostnames,
                strict: args.strict,
            },
            at,
        )?;
        return super::print_report(&report, args.json);
    }
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
