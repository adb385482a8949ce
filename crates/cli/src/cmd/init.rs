use clap::Parser;
use mailcert_x509::KeyType;

use crate::exit::Exit;
use crate::{context, output, Cli, Result};

#[derive(Debug, Parser)]
pub struct Args {
    /// The server's FQDN for the certificate (default: this host's name).
    #[arg(long)]
    pub hostname: Option<String>,
    /// Key type: ec-p256 (default), ec-p384, rsa-2048, rsa-3072, rsa-4096.
    #[arg(long, value_parser = super::key_type)]
    pub key: Option<KeyType>,
    /// Print the result as JSON.
    #[arg(long)]
    pub json: bool,
}

pub fn run(cli: &Cli, args: &Args) -> Result {
    if let Some(host) = &args.hostname {
        mailcert_x509::parse_name(host)?;
    }
    let (mut manager, opened, location) = context::manager_uninitialised(cli)?;
    let report = manager.init(args.hostname.as_deref(), args.key)?;
    if args.json {
        output::json(&serde_json::json!({
            "store": location.db,
            "created_store": opened.is_new(),
            "changed": report.changed,
            "thumbprint": report.thumbprint,
            "messages": report.lines,
        }))?;
    } else {
        if let Some(words) = mailcert_lifecycle::opened_words(&location, opened) {
            output::note(words);
        }
        super::report(&report);
    }
    Ok(Exit::Success)
}
