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
    /// Bind for one listener of the front end only.
    #[arg(long)]
    pub listener: Option<String>,
    /// Refuse instead of warning when clients would complain (pre-flight).
    #[arg(long)]
    pub strict: bool,
    /// Front-end configuration whose listeners' host names the pre-flight checks.
    #[arg(long, env = "MAILCERT_CONFIG")]
    pub config: Option<PathBuf>,
    /// Print the outcome as JSON.
    #[arg(long)]
    pub json: bool,
}

pub fn run(cli: &Cli, args: &Args) -> Result {
    let services = super::flatten(&args.services);
    let hostnames = super::which::listener_hostnames(
        args.config.as_deref(),
        &services,
        args.listener.as_deref(),
    )?;
    let mut manager = context::manager(cli)?;
    let report = manager.enable(
        &args.thumbprint,
        &services,
        args.listener.as_deref(),
        &hostnames,
        args.strict,
    )?;
    super::print_report(&report, args.json)
}
