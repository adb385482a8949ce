use std::path::PathBuf;

use clap::Parser;
use mailcert_x509::Service;

use crate::{context, Cli, Result};

#[derive(Debug, Parser)]
#[command(
    after_help = "HTTPS: the certificate replaces those bound in the same scope (the service, or --listener) whose names it all carries, exactly or by wildcard (a renewal, a bigger SAN certificate), and is added beside the others: each client gets the certificate that carries the name it asks for (SNI), clients without SNI the listener's one default. SMTP, IMAP, POP: the previous certificates stay bound. The output names what was replaced, which names moved, which certificate clients without SNI now get, and the listeners whose own certificates keep this one away."
)]
pub struct Args {
    /// Thumbprint (any unique prefix).
    pub thumbprint: String,
    /// Services, comma-separated: imap,pop,https,smtp (iis = https).
    #[arg(long, value_parser = super::services, required = true)]
    pub services: Vec<Vec<Service>>,
    /// Bind for one listener of the front end only.
    #[arg(long)]
    pub listener: Option<String>,
    /// Refuse instead of warning when clients would complain (pre-flight).
    #[arg(long)]
    pub strict: bool,
    /// Bind on one node of a fleet only (default: every node sharing the store).
    #[arg(long, value_name = "NAME")]
    pub node: Option<String>,
    /// Front-end configuration: its [store], and its listeners' host names for the pre-flight
    /// (default: the one `mailcert serve` reads, if it exists).
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
    let services = super::flatten(&args.services);
    let config =
        mailcert_config::Config::load_optional(args.config.as_deref(), args.listener.as_deref())?;
    let hostnames = match &config {
        Some(config) => config.hostnames_for(&services, args.listener.as_deref())?,
        None => Vec::new(),
    };
    let mut manager = context::existing(cli, config.as_ref())?;
    let node = super::node_arg(args.node.as_deref());
    if let Some(at) = args.at {
        let report = manager.schedule(
            mailcert_lifecycle::schedule::ScheduledChange::Enable {
                thumbprint: args.thumbprint.clone(),
                services: services.iter().map(|s| s.as_str().to_string()).collect(),
                listener: args.listener.clone(),
                node,
                hostnames,
                strict: args.strict,
            },
            at,
        )?;
        return super::print_report(&report, args.json);
    }
    let report = manager.enable_scoped(
        &args.thumbprint,
        &services,
        args.listener.as_deref(),
        node.as_deref(),
        &hostnames,
        args.strict,
    )?;
    super::print_report(&report, args.json)
}
