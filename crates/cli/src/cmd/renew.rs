use std::path::PathBuf;

use clap::Parser;
use mailcert_lifecycle::Renewed;
use mailcert_store::Origin;

use crate::exit::Exit;
use crate::{context, output, Cli, Result};

#[derive(Debug, Parser)]
pub struct Args {
    /// Thumbprint (any unique prefix).
    pub thumbprint: String,
    /// CA-issued: keep the current key in the new request (default: a new key).
    #[arg(long)]
    pub reuse_key: bool,
    /// CA-issued: write the new request (PEM) to this file instead of standard output.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Print the outcome as JSON.
    #[arg(long)]
    pub json: bool,
}

pub fn run(cli: &Cli, args: &Args) -> Result {
    let mut manager = context::existing(cli, None)?;
    let record = mailcert_lifecycle::find_certificate(manager.store.as_ref(), &args.thumbprint)?;
    let self_signed = record.origin == Origin::SelfSigned && record.summary.is_self_signed;
    if self_signed && args.out.is_some() {
        anyhow::bail!("{} is self-signed: it is renewed in place with a new key, without a request (--reuse-key and --out are for CA-issued certificates)",
            record.summary.thumbprint);
    }
    // Opened before the store changes: a bad path fails with nothing done.
    let out = if self_signed {
        None
    } else {
        crate::files::open_out(args.out.as_deref())?
    };
    let report = match manager.renew(&record.summary.thumbprint, args.reuse_key)? {
        Renewed::Request(report, pending) => {
            return super::print_request(&report, &pending, out, args.json)
        }
        Renewed::InPlace(report) => report,
    };
    if args.json {
        super::report_json(&report)?;
        return Ok(Exit::Success);
    }
    if let Some(thumb) = &report.thumbprint {
        output::line(thumb)?;
    }
    for line in report.lines.iter().skip(1) {
        output::note(line);
    }
    Ok(Exit::Success)
}
