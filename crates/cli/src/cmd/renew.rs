use clap::Parser;
use mailcert_store::Origin;

use crate::exit::Exit;
use crate::{context, output, Cli, Result};

#[derive(Debug, Parser)]
pub struct Args {
    /// Thumbprint (any unique prefix).
    pub thumbprint: String,
}

pub fn run(cli: &Cli, args: &Args) -> Result {
    let mut manager = context::manager(cli)?;
    let record = mailcert_lifecycle::find_certificate(manager.store.as_ref(), &args.thumbprint)?;
    if record.origin != Origin::SelfSigned {
        anyhow::bail!(
            "{} was issued by a CA ({}); renew it by requesting a new certificate with the same names: mailcert request --name {}",
            record.summary.thumbprint,
            record.summary.issuer,
            record.summary.names.join(" --name ")
        );
    }
    let report = manager.renew_self_signed(&record)?;
    if let Some(thumb) = &report.thumbprint {
        output::line(thumb)?;
    }
    for line in report.lines.iter().skip(1) {
        output::note(line);
    }
    Ok(Exit::Success)
}
