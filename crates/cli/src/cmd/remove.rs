use clap::Parser;

use crate::{context, Cli, Result};

#[derive(Debug, Parser)]
pub struct Args {
    /// Thumbprint (any unique prefix) of a certificate or pending request.
    pub thumbprint: String,
    /// Unbind it from every service first, then remove it.
    #[arg(long)]
    pub force: bool,
    /// Print the outcome as JSON.
    #[arg(long)]
    pub json: bool,
}

pub fn run(cli: &Cli, args: &Args) -> Result {
    let mut manager = context::existing(cli, None)?;
    let report = manager.remove(&args.thumbprint, args.force)?;
    super::print_report(&report, args.json)
}
