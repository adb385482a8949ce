use std::path::PathBuf;

use clap::Parser;
use mailcert_x509::Service;

use crate::{context, Cli, Result};

#[derive(Debug, Parser)]
pub struct Args {
    /// Thumbprint (any unique prefix).
    pub thumbprint: String,
    /// Services, comma-separated: imap,pop,https,smtp (iis = https).
    #[arg(long, value_parser = super::services, required = true)]
    pub services: Vec<Vec<Service>>,
    /// Only the binding for this listener.
    #[arg(long)]
    pub listener: Option<String>,
    /// Front-end configuration: its [store], and --listener checked against it. Without one, any
    /// listener binding may be removed (also one whose listener is gone).
    #[arg(long, env = "MAILCERT_CONFIG")]
    pub config: Option<PathBuf>,
    /// Make the change at this time instead of now (2027-01-10 or RFC 3339): `serve` applies it then; see `mailcert schedule list`.
    #[arg(long, value_parser = super::parse_at)]
    pub at: Option<time::OffsetDateTime>,
    /// Print the outcome as JSON.
    #[arg(long)]
    pub json: bool,
    /// Only the binding made for this node of a fleet (default: the fleet-wide binding).
    #[arg(long, value_name = "NAME")]
    pub node: Option<String>,
}

pub fn run(cli: &Cli, args: &Args) -> Result {
    let services = super::flatten(&args.services);
    // The configuration names the store; it checks --listener only when
    // given outright (a listener that is gone may still be unbound).
    let config = mailcert_config::Config::load_optional(args.config.as_deref(), None)?;
    if let (Some(config), Some(_), Some(_)) = (&config, &args.config, &args.listener) {
        config.hostnames_for(&services, args.listener.as_deref())?;
    }
    let mut manager = context::existing(cli, config.as_ref())?;
    let node = super::node_arg(args.node.as_deref());
    if let Some(at) = args.at {
        let report = manager.schedule(
            mailcert_lifecycle::schedule::ScheduledChange::Disable {
                thumbprint: args.thumbprint.clone(),
                services: services.iter().map(|s| s.as_str().to_string()).collect(),
                listener: args.listener.clone(),
                node,
            },
            at,
        )?;
        return super::print_report(&report, args.json);
    }
    let report = manager.disable_scoped(
        &args.thumbprint,
        &services,
        args.listener.as_deref(),
        node.as_deref(),
    )?;
    super::print_report(&report, args.json)
}
