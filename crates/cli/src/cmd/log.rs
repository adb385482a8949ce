use clap::Parser;
use mailcert_x509::time::rfc3339;

use crate::exit::Exit;
use crate::{context, output, Cli, Result};

#[derive(Debug, Parser)]
pub struct Args {
    /// How many of the latest entries to show.
    #[arg(long, default_value_t = 50)]
    pub limit: usize,
    /// Print as JSON.
    #[arg(long)]
    pub json: bool,
}

pub fn run(cli: &Cli, args: &Args) -> Result {
    let manager = context::existing(cli, None)?;
    let entries = manager.store.audit_log(args.limit)?;
    if args.json {
        let rows: Vec<_> = entries
            .iter()
            .map(|e| serde_json::json!({"id": e.id, "at": rfc3339(e.at), "user": e.user, "action": e.action, "detail": e.detail, "node": e.node}))
            .collect();
        output::json(&rows)?;
        return Ok(Exit::Success);
    }
    for e in entries {
        let on = if e.node.is_empty() {
            String::new()
        } else {
            format!(" on {}", e.node)
        };
        output::line(format!(
            "{}  {:<8} {}{on}  {}",
            rfc3339(e.at),
            e.action,
            e.user,
            e.detail
        ))?;
    }
    Ok(Exit::Success)
}
