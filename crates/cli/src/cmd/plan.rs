//! `mailcert plan ORG.toml [--json] [--at DATE] [--resolve [--dns S]]`:
//! the certificates an organisation needs, each name with its reason, and
//! the findings; with `--resolve`, also what the names' CAA records say of
//! the chosen CA. Needs no store. Exit 1 when a finding is an error, 2
//! when the file cannot be read or described wrongly.

use std::path::PathBuf;

use anyhow::Context as _;
use clap::Parser;
use mailcert_plan::{IssuerKind, Organization, Plan, Severity};

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
    /// Look up CAA for every planned name (RFC 8659: the name, then its parent domains) and report what forbids the CA (caa-forbids) or protects nothing (caa-none). The CA: policy.caa_issuer, or Let's Encrypt with acme = true.
    #[arg(long)]
    pub resolve: bool,
    /// The DNS resolver --resolve asks: SERVER[:PORT] (default: the first nameserver of /etc/resolv.conf).
    #[arg(long, value_name = "SERVER[:PORT]", requires = "resolve")]
    pub dns: Option<String>,
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
    let org = Organization::from_toml(&text, &shown)?;
    let mut plan = mailcert_plan::plan(&org, at);
    if args.resolve {
        resolve_caa(&org, &mut plan, args.dns.as_deref())?;
    }
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

/// `--resolve`: the CAA records of every planned name, judged for the
/// plan's CA, as findings of the plan.
fn resolve_caa(org: &Organization, plan: &mut Plan, dns: Option<&str>) -> anyhow::Result<()> {
    let Some(issuer) = org.caa_issuer() else {
        if org.issuer == IssuerKind::Public {
            anyhow::bail!(
                "{}: --resolve checks the CAA records for the CA's issuer domain, and the description does not say which public CA: add caa_issuer = \"digicert.com\" (the domain the CA documents for CAA) to [policy], or acme = true for Let's Encrypt (letsencrypt.org)",
                org.source
            );
        }
        output::note(format!(
            "CAA not looked up: it binds public CAs only, and the issuer is {}",
            org.issuer
        ));
        return Ok(());
    };
    let resolver = match dns {
        Some(server) => mailcert_dane::Resolver::new(
            mailcert_dane::Resolver::parse_server(server).context("--dns")?,
        ),
        None => mailcert_dane::Resolver::system().context("--resolve")?,
    };
    mailcert_check::resolve_plan_caa(&resolver, plan, &issuer);
    Ok(())
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
