//! `mailcert dane`: the TLSA records to publish for the certificates
//! bound to SMTP (current and next key), and `dane enable|disable`.

use clap::{Parser, Subcommand};
use mailcert_dane::Usage;
use mailcert_lifecycle::dane::RecordsRequest;
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
        None => records(cli, &args.records),
    }
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
    if args.usage == 3
        && manager.dane_enabled()?
        && !records
            .iter()
            .any(|r| r.key == mailcert_lifecycle::dane::KeyRole::Next)
    {
        output::note("no next key yet: run `mailcert dane enable` to make one for each certificate bound to SMTP");
    } else if args.usage == 3 && !manager.dane_enabled()? {
        output::note("DANE is off: the next renewal makes a fresh key, and only the current key's record is shown. `mailcert dane enable` keeps a next key whose record you publish in advance");
    }
    Ok(Exit::Success)
}
