use std::path::PathBuf;

use clap::Parser;

use crate::exit::Exit;
use crate::{context, files, Cli, Result};

#[derive(Debug, Parser)]
pub struct Args {
    /// The CA's answer: .cer/.crt/.pem/.der (one certificate or a bundle in any order) or .p7b/.p7c.
    pub file: PathBuf,
    /// More certificates of the chain (intermediates, root), in any order; repeat as needed.
    #[arg(long = "chain")]
    pub chain: Vec<PathBuf>,
    /// Print the outcome as JSON.
    #[arg(long)]
    pub json: bool,
}

pub fn run(cli: &Cli, args: &Args) -> Result {
    let answer = files::input(&args.file)?;
    let chain = args
        .chain
        .iter()
        .map(|p| files::input(p))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let mut manager = context::existing(cli, None)?;
    let report = manager.complete(&answer, &chain)?;
    super::print_outcome(&report, args.json)?;
    Ok(Exit::Success)
}
