use std::path::PathBuf;

use clap::{Parser, Subcommand};
use mailcert_x509::time::rfc3339;

use crate::exit::Exit;
use crate::{context, files, output, Cli, Result};

#[derive(Debug, Parser)]
pub struct Args {
    #[command(subcommand)]
    pub command: TrustCommand,
}

#[derive(Debug, Subcommand)]
pub enum TrustCommand {
    /// Trust a CA's root (PEM, DER or .p7b) beside the system's roots, as a domain-joined server trusts its enterprise CA.
    Add {
        /// The CA certificate(s): PEM, DER or .p7b.
        file: PathBuf,
        /// Print the outcome as JSON.
        #[arg(long)]
        json: bool,
    },
    /// The store's own trust anchors.
    List {
        /// Print a JSON array, one object per anchor.
        #[arg(long)]
        json: bool,
    },
    /// Stop trusting one of the store's anchors.
    Remove {
        /// Thumbprint (any unique prefix) from `mailcert trust list`.
        thumbprint: String,
        /// Print the outcome as JSON.
        #[arg(long)]
        json: bool,
    },
}

pub fn run(cli: &Cli, args: &Args) -> Result {
    match &args.command {
        TrustCommand::Add { file, json } => {
            let input = files::input(file)?;
            let mut manager = context::manager(cli, None)?;
            let report = manager.trust_add(
                &input.name,
                &input.bytes,
                &format!("trust add {}", input.name),
            )?;
            super::print_report(&report, *json)
        }
        TrustCommand::Remove { thumbprint, json } => {
            let mut manager = context::existing(cli, None)?;
            let report = manager.trust_remove(thumbprint)?;
            super::print_report(&report, *json)
        }
        TrustCommand::List { json } => {
            let manager = context::existing(cli, None)?;
            let anchors = manager.trust_list()?;
            if *json {
                let rows: Vec<_> = anchors
                    .iter()
                    .map(|a| {
                        let summary = mailcert_x509::CertSummary::from_der(&a.der).ok();
                        serde_json::json!({
                            "thumbprint": a.thumbprint,
                            "subject": a.subject,
                            "not_after": summary.map(|s| rfc3339(s.not_after)),
                            "source": a.source,
                            "added_at": rfc3339(a.added_at),
                        })
                    })
                    .collect();
                output::json(&rows)?;
                return Ok(Exit::Success);
            }
            let rows = anchors
                .iter()
                .map(|a| vec![a.thumbprint.clone(), a.subject.clone(), a.source.clone()])
                .collect();
            output::line(output::table(&["Thumbprint", "Subject", "Source"], rows))?;
            Ok(Exit::Success)
        }
    }
}
