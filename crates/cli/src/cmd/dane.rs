//! `mailcert dane`: the TLSA records to publish for the certificates
//! bound to SMTP (current and next key), and `dane enable|disable`.

use clap::{Parser, Subcommand};
use mailcert_dane::Usage;
use mailcert_lifecycle::dane::{RecordsAdvice, RecordsRequest};
use mailcert_x509::Service;

use crate::exit::Exit;
use crate::{context, output, Cli, Result};

#[derive(Debug, Parser)]
#[command(args_conflicts_with_subcommands = true)]
pub struct Args {
    #[command(subcommand)]
    pub action: Option<Action>,
    #[command(flatten)]
    pub records: RecordsArgs,
}

#[derive(Debug, Subcommand)]
pub enum Action {
    /// Turn DANE on: every certificate bound to SMTP gets a next key, whose record is published beside the current one.
    Enable(SwitchArgs),
    /// Turn DANE off: renewals make fresh keys again; the next keys are deleted.
    Disable(SwitchArgs),
    /// Publish the records of [dane.dns] by RFC 2136 (current and next keys), ask every authoritative server of the zone whether it answers them, and withdraw records no longer wanted twice their TTL later. `serve` does this every [dane.dns] interval.
    Publish(PublishArgs),
}

#[derive(Debug, Parser)]
pub struct PublishArgs {
    /// Front-end configuration with [dane.dns] (default: the one `serve` reads).
    #[arg(long, env = "MAILCERT_CONFIG")]
    pub config: Option<std::path::PathBuf>,
    /// Print as JSON: {"records": [{"name", "rdata", "key", "thumbprint", "seen_everywhere_at", "ready_at", "withdraw_at"}], "withdrawn": [...]}.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Parser)]
pub struct SwitchArgs {
    /// Print the outcome as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Parser)]
pub struct RecordsArgs {
    /// One certificate (any unique thumbprint prefix); default: every certificate bound to the service.
    pub thumbprint: Option<String>,
    /// The service whose certificates to publish for.
    #[arg(long, default_value = "smtp", value_parser = |s: &str| s.parse::<Service>())]
    pub service: Service,
    /// The port senders connect to (the records go at _PORT._tcp.HOST).
    #[arg(long, default_value_t = 25)]
    pub port: u16,
    /// 3: DANE-EE, the server's own key (default); 2: DANE-TA, the issuing CA's key.
    #[arg(long, default_value_t = 3, value_parser = usage)]
    pub usage: u8,
    /// Print as JSON: {"records": [{"name", "usage", "selector", "matching", "data", "key", "thumbprint"}]}.
    #[arg(long)]
    pub json: bool,
}

fn usage(text: &str) -> std::result::Result<u8, String> {
    match text.trim() {
        "3" => Ok(3),
        "2" => Ok(2),
        "0" | "1" => Err(format!(
            "usage {text} (PKIX) is ignored by SMTP senders (RFC 7672 §3.1.3): use 3 (the server's key) or 2 (the issuing CA's key)"
        )),
        _ => Err(format!("'{text}' is not a TLSA usage: use 3 (DANE-EE) or 2 (DANE-TA)")),
    }
}

pub fn run(cli: &Cli, args: &Args) -> Result {
    match &args.action {
        Some(Action::Enable(switch)) => {
            let mut manager = context::existing(cli, None)?;
            let report = manager.dane_enable()?;
            super::print_report(&report, switch.json)
        }
        Some(Action::Disable(switch)) => {
            let mut manager = context::existing(cli, None)?;
            let report = manager.dane_disable()?;
            super::print_report(&report, switch.json)
        }
        Some(Action::Publish(publish_args)) => publish(cli, publish_args),
        None => records(cli, &args.records),
    }
}

fn publish(cli: &Cli, args: &PublishArgs) -> Result {
    let config = mailcert_config::Config::load_optional(args.config.as_deref(), None)?;
    let Some(config) = config else {
        anyhow::bail!(
            "no front-end configuration to read [dane.dns] from (there is no {}); pass --config FILE (or set MAILCERT_CONFIG)",
            mailcert_config::default_config_path().display()
        );
    };
    let Some((dane, dns)) = config.dane_dns() else {
        anyhow::bail!(
            "{}: no [dane.dns] table, so there is nowhere to publish. Fix: add [dane.dns] with server, zone and tsig_key_file (see docs/dane.md)",
            config.path.display()
        );
    };
    let publisher = mailcert_lifecycle::dane_publish::Publisher::from_config(dns, dane.port)?;
    let mut manager = context::existing(cli, Some(&config))?;
    let report = manager.dane_publish(&publisher)?;
    if args.json {
        output::json(&report)?;
        return Ok(Exit::Success);
    }
    for record in &report.records {
        let state = match (&record.withdraw_at, &record.ready_at) {
            (Some(at), _) => format!("withdrawn at {at}"),
            (None, Some(at)) => format!("seen at every authoritative server; ready at {at}"),
            (None, None) => "not yet answered by every authoritative server".to_string(),
        };
        output::line(format!(
            "{} IN TLSA {}    ; {} key{}: {state}",
            record.name,
            record.rdata,
            record.key,
            record
                .thumbprint
                .as_ref()
                .map(|t| format!(" of {t}"))
                .unwrap_or_default()
        ))?;
    }
    for withdrawn in &report.withdrawn {
        output::note(format!("withdrew {withdrawn}"));
    }
    Ok(Exit::Success)
}

fn records(cli: &Cli, args: &RecordsArgs) -> Result {
    let manager = context::existing(cli, None)?;
    let records = manager.dane_records(&RecordsRequest {
        thumbprint: args.thumbprint.as_deref(),
        service: args.service,
        port: args.port,
        usage: Usage::from_number(args.usage),
    })?;
    if args.json {
        output::json(&serde_json::json!({ "records": records }))?;
        return Ok(Exit::Success);
    }
    for record in &records {
        output::line(format!(
            "{}    ; {} key of {}",
            record.zone_line(),
            match record.key {
                mailcert_lifecycle::dane::KeyRole::Current => "current",
                mailcert_lifecycle::dane::KeyRole::Next => "next",
            },
            record.thumbprint
        ))?;
    }
    match manager.dane_records_advice(Usage::from_number(args.usage), &records)? {
        Some(RecordsAdvice::NoNextKey) => output::note("no next key yet: run `mailcert dane enable` to make one for each certificate bound to SMTP"),
        Some(RecordsAdvice::DaneOff) => output::note("DANE is off: the next renewal makes a fresh key, and only the current key's record is shown. `mailcert dane enable` keeps a next key whose record you publish in advance"),
        None => {}
    }
    Ok(Exit::Success)
}
