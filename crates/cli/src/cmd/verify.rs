//! `mailcert verify`: the checker's validation and findings on files,
//! without a network.

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use clap::Parser;
use mailcert_check::{validate, EndpointReport, Report, Request, Source};

use crate::cmd::check::{load_trust, parse_time, TrustArgs};
use crate::exit::Exit;
use crate::{output, render, Cli, Result};

#[derive(Debug, Parser)]
pub struct Args {
    /// The server certificate (PEM or DER; a PEM file may carry its chain after it).
    pub cert: PathBuf,
    /// Intermediate certificates, as the server would send them after its own.
    #[arg(long, value_name = "FILE")]
    pub chain: Option<PathBuf>,
    /// The name clients use (DNS name or IP address); without it names are not checked.
    #[arg(long)]
    pub name: Option<String>,
    /// Evaluate at this date or time instead of now (2027-06-01 or RFC 3339).
    #[arg(long, value_name = "TIME")]
    pub at: Option<String>,
    #[command(flatten)]
    pub trust: TrustArgs,
    /// Print as JSON.
    #[arg(long)]
    pub json: bool,
}

pub fn run(cli: &Cli, args: &Args) -> Result {
    let at = parse_time(args.at.as_deref())?;
    let trust = load_trust(cli, &args.trust)?;
    let mut certificates = read_certificates(&args.cert)?;
    if let Some(chain) = &args.chain {
        certificates.extend(read_certificates(chain)?);
    }
    if let Some(name) = &args.name {
        mailcert_check::check_name(name)?;
    }
    let validation = validate(&Request {
        certificates: &certificates,
        name: args.name.as_deref(),
        at,
        trust: &trust,
        source: Source::Files,
    });
    let report = Report {
        endpoints: vec![EndpointReport::offline(
            &args.cert.display().to_string(),
            args.name.as_deref(),
            validation,
        )],
    };
    if args.json {
        output::json(&report)?;
    } else {
        print!("{}", render::report_text(&report));
    }
    Ok(if report.has_errors() {
        Exit::Findings
    } else {
        Exit::Success
    })
}

fn read_certificates(path: &Path) -> anyhow::Result<Vec<Vec<u8>>> {
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    Ok(mailcert_x509::pem::decode_certificates(
        &bytes,
        &path.display().to_string(),
    )?)
}
