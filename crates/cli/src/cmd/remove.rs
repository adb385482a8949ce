use std::io::{BufRead, IsTerminal, Write};

use clap::Parser;

use crate::{context, Cli, Result};

#[derive(Debug, Parser)]
pub struct Args {
    /// Thumbprint (any unique prefix) of a certificate or pending request.
    pub thumbprint: String,
    /// Unbind it from every service first, then remove it (and do not ask).
    #[arg(long)]
    pub force: bool,
    /// Do not ask for confirmation on a terminal before deleting a private key.
    #[arg(long, short = 'y')]
    pub yes: bool,
    /// Print the outcome as JSON.
    #[arg(long)]
    pub json: bool,
}

pub fn run(cli: &Cli, args: &Args) -> Result {
    let mut manager = context::existing(cli, None)?;
    let removal = manager.removal(&args.thumbprint, args.force)?;
    // Someone at a terminal is asked before a private key goes; scripts
    // (stdin not a terminal), --yes and --force are not.
    let ask = removal.deletes_key && !args.yes && !args.force && std::io::stdin().is_terminal();
    if ask && !confirmed(&removal.question())? {
        anyhow::bail!(
            "{} was not removed (not confirmed); nothing changed",
            removal.id
        );
    }
    let report = manager.remove(&args.thumbprint, args.force)?;
    super::print_report(&report, args.json)
}

/// Asks on stderr; only "y" or "yes" is yes.
fn confirmed(question: &str) -> anyhow::Result<bool> {
    let mut stderr = std::io::stderr();
    stderr.write_all(question.as_bytes())?;
    stderr.flush()?;
    let mut answer = String::new();
    std::io::stdin().lock().read_line(&mut answer)?;
    Ok(matches!(
        answer.trim().to_ascii_lowercase().as_str(),
        "y" | "yes"
    ))
}
