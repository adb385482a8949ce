//! `mailcert schedule list|cancel ID`: the changes `enable`, `disable` and
//! `replace` were given `--at` for.

use clap::{Parser, Subcommand};

use crate::exit::Exit;
use crate::{context, output, Cli, Result};

#[derive(Debug, Parser)]
pub struct Args {
    #[command(subcommand)]
    pub action: Action,
}

#[derive(Debug, Subcommand)]
pub enum Action {
    /// The scheduled changes, earliest first, with those that failed at their time and why.
    List {
        /// Print as JSON: {"scheduled": [{"id", "at", "action", ..., "scheduled_by", "scheduled_at", "failed"}]}.
        #[arg(long)]
        json: bool,
    },
    /// Withdraw a scheduled change (its id, or a unique prefix of it).
    Cancel {
        /// The scheduled change's id (`schedule list` shows it), or a unique prefix of it.
        id: String,
        /// Print the outcome as JSON.
        #[arg(long)]
        json: bool,
    },
}

pub fn run(cli: &Cli, args: &Args) -> Result {
    match &args.action {
        Action::List { json } => {
            let manager = context::existing(cli, None)?;
            let items = manager.schedules()?;
            if *json {
                output::json(&serde_json::json!({ "scheduled": items }))?;
                return Ok(Exit::Success);
            }
            if items.is_empty() {
                output::note("no scheduled changes");
            }
            for item in &items {
                output::line(format!(
                    "{}  {}  {}{}",
                    item.id,
                    item.at,
                    item.change.describe(),
                    item.failed
                        .as_ref()
                        .map(|r| format!("  NOT APPLIED: {r}"))
                        .unwrap_or_default()
                ))?;
            }
            Ok(Exit::Success)
        }
        Action::Cancel { id, json } => {
            let mut manager = context::existing(cli, None)?;
            let report = manager.cancel_schedule(id)?;
            super::print_report(&report, *json)
        }
    }
}
