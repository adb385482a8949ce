//! `mailcert mta-sts [--config F] [--json]`: the DNS side of the MTA-STS
//! policies the front end serves: for each `[[mta_sts]]` domain, the
//! `_mta-sts` TXT record with the policy's id (derived from its content,
//! so it changes exactly when the policy does), the TLS-RPT record when
//! `rua` is set, and the policy itself. Needs no store. Exit 2 when the
//! configuration cannot be read or has no `[[mta_sts]]` entry.

use std::path::PathBuf;

use clap::Parser;
use mailcert_config::{Config, MtaSts};
use mailcert_mtasts::{policy_url, sts_record_name, tlsrpt_record_name, zone_quoted};
use serde_json::{json, Value};

use crate::exit::Exit;
use crate::{output, Cli, Result};

#[derive(Debug, Parser)]
#[command(
    after_help = "Publish the printed records in the domain's zone, make mta-sts.<domain> resolve to the front end and put it on an https certificate (`mailcert serve --check` says when none carries it). After a change of a policy, send `mailcert serve` SIGHUP and publish the new id."
)]
pub struct Args {
    /// Front-end configuration with the [[mta_sts]] entries (default: the one `mailcert serve` reads).
    #[arg(long, env = "MAILCERT_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Print {"domains": [{"domain", "txt_name", "txt", "policy", "tlsrpt", …}]} instead of zone-file lines.
    #[arg(long)]
    pub json: bool,
}

pub fn run(_cli: &Cli, args: &Args) -> Result {
    let path = args
        .config
        .clone()
        .unwrap_or_else(mailcert_config::default_config_path);
    let config = Config::load(&path)?;
    if config.mta_sts.is_empty() {
        anyhow::bail!(
            "{}: no [[mta_sts]] entry; add one per mail domain, e.g.\n[[mta_sts]]\ndomain = \"contoso.com\"\nmode = \"testing\"\nmx = [\"mail.contoso.com\"]\nmax_age = 604800\n(see docs/mta-sts.md)",
            path.display()
        );
    }
    if args.json {
        let domains: Vec<Value> = config.mta_sts.iter().map(domain_json).collect();
        output::json(&json!({ "domains": domains }))?;
    } else {
        for (index, entry) in config.mta_sts.iter().enumerate() {
            if index > 0 {
                output::line("")?;
            }
            print_zone(entry)?;
        }
    }
    Ok(Exit::Success)
}

fn domain_json(entry: &MtaSts) -> Value {
    let sts = entry.sts_record();
    json!({
        "domain": entry.domain,
        "txt_name": sts_record_name(&entry.domain),
        "txt": sts.text(),
        "policy": entry.policy.text(),
        // The record's text, like `txt`; its name beside it.
        "tlsrpt": entry.tlsrpt_record().map(|record| record.text()),
        "tlsrpt_name": entry
            .tlsrpt_record()
            .map(|_| tlsrpt_record_name(&entry.domain)),
        "id": sts.id,
        "policy_host": entry.policy_host(),
        "policy_url": policy_url(&entry.domain),
        "mode": entry.policy.mode,
        "mx": entry.policy.mx,
        "max_age": entry.policy.max_age,
    })
}

/// One domain as lines for its zone file, the policy as comments.
fn print_zone(entry: &MtaSts) -> anyhow::Result<()> {
    output::line(format!(
        "; {}: policy served at {} (mode {}, max_age {})",
        entry.domain,
        policy_url(&entry.domain),
        entry.policy.mode,
        entry.policy.max_age
    ))?;
    output::line(format!(
        "{}. IN TXT {}",
        sts_record_name(&entry.domain),
        zone_quoted(&entry.sts_record().text())
    ))?;
    if let Some(record) = entry.tlsrpt_record() {
        output::line(format!(
            "{}. IN TXT {}",
            tlsrpt_record_name(&entry.domain),
            zone_quoted(&record.text())
        ))?;
    }
    output::line(format!(
        "; {} must resolve to the front end and be on its https certificate",
        entry.policy_host()
    ))?;
    for line in entry.policy.text().lines() {
        output::line(format!(";   {line}"))?;
    }
    Ok(())
}
