//! `mailcert plan ORG.toml [--json] [--at DATE]`: the certificates an
//! organisation needs, each name with its reason, and the findings.
//! Needs no store. Exit 1 when a finding is an error, 2 when the file
//! cannot be read or described wrongly.

use std::path::PathBuf;

use anyhow::Context as _;
use clap::Parser;
use mailcert_plan::{Plan, Severity};

use crate::exit::Exit;
use crate::{output, Cli, Result};

#[derive(Debug, Parser)]
pub struct Args {
    /// The organisation description (TOML); see docs/plan.md and examples/plan/.
    #[arg(value_name = "ORG.toml")]
    pub org: PathBuf,
    /// Print the stable JSON shape instead of tables.
    #[arg(long)]
    pub json: bool,
    /// Plan as of this date (2027-06-01) or time (RFC 3339) instead of now: validity limits depend on it.
    #[arg(long, value_name = "DATE")]
    pub at: Option<String>,
}

pub fn run(_cli: &Cli, args: &Args) -> Result {
    let at = match &args.at {
        Some(text) => mailcert_x509::time::parse_at(text).context("--at")?,
        None => time::OffsetDateTime::now_utc(),
    };
    let shown = args.org.display().to_string();
    let text = std::fs::read_to_string(&args.org).map_err(|e| {
        anyhow::anyhow!(
            "{shown}: cannot read the organisation description: {e}. Fix: give the path of a TOML file (examples in examples/plan/)"
        )
    })?;
    let plan = mailcert_plan::plan_toml(&text, &shown, at)?;
    if args.json {
        output::json(&plan)?;
    } else {
        print_human(&shown, &plan)?;
    }
    Ok(if plan.has_errors() {
        Exit::Findings
    } else {
        Exit::Success
    })
}

fn print_human(source: &str, plan: &Plan) -> anyhow::Result<()> {
    output::line(format!("Plan for {source} as of {}", plan.at))?;
    if plan.certificates.is_empty() {
        output::line("")?;
        output::line("No certificate can be planned: see the errors below.")?;
    }
    for (i, cert) in plan.certificates.iter().enumerate() {
        output::line("")?;
        let servers = if cert.servers.is_empty() {
            String::new()
        } else {
            format!(", servers: {}", cert.servers.join(", "))
        };
        output::line(format!(
            "Certificate {}: {} (issuer: {}, at most {} days, {} names{servers})",
            i + 1,
            cert.subject,
            cert.issuer,
            cert.max_validity_days,
            cert.names.len()
        ))?;
        let rows = cert
            .names
            .iter()
            .map(|n| {
                let name = match &n.unicode {
                    Some(u) => format!("{} ({u})", n.name),
                    None => n.name.clone(),
                };
                vec![name, n.reason.clone()]
            })
            .collect();
        output::line(output::table(&["Name", "Reason"], rows).trim_end())?;
    }
    output::line("")?;
    let count = |s: Severity| plan.findings.iter().filter(|f| f.severity == s).count();
    output::line(format!(
        "Findings: {} error(s), {} warning(s), {} info",
        count(Severity::Error),
        count(Severity::Warning),
        count(Severity::Info)
    ))?;
    for f in &plan.findings {
        output::line("")?;
        let names = if f.names.is_empty() {
            String::new()
        } else {
            format!("  {}", f.names.join(", "))
        };
        output::line(format!("{:<8} {}{names}", f.severity.as_str(), f.code))?;
        output::line(format!("         {}", f.message))?;
        output::line(format!("         Fix: {}", f.fix))?;
    }
    Ok(())
}
