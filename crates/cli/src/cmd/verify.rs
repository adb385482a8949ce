//! `mailcert verify`: the checker's validation and findings on files,
//! without a network.

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use clap::Parser;
use mailcert_check::{validate, EndpointReport, Report, Request, Source};
use mailcert_x509::bundle::read_certificates;
use mailcert_x509::chain::{issuer_order, leaf_first};
use mailcert_x509::CertError;

use crate::anchors::{load_trust, parse_time, TrustArgs};
use crate::exit::Exit;
use crate::{output, render, Cli, Result};

#[derive(Debug, Parser)]
pub struct Args {
    /// The server certificate: PEM (may carry its chain after it), DER, or PKCS#7 (.p7b, PEM or DER)
    /// holding it and its chain.
    pub cert: PathBuf,
    /// Intermediate certificates, as the server would send them after its own (PEM, DER or .p7b).
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
    let (trust, _) = load_trust(cli, &args.trust, None)?;
    let mut certificates = match read_file(&args.cert)? {
        Read::Ordered(ders) => ders,
        Read::Set(set) => leaf_first(set, &args.cert.display().to_string())?,
    };
    if let Some(chain) = &args.chain {
        match read_file(chain)? {
            Read::Ordered(ders) => certificates.extend(ders),
            Read::Set(set) => {
                let ordered = issuer_order(&certificates, set);
                certificates.extend(ordered);
            }
        }
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
        mta_sts: Vec::new(),
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

/// What a file held: certificates in the order written (PEM, DER), or a
/// PKCS#7 set, whose order means nothing.
enum Read {
    Ordered(Vec<Vec<u8>>),
    Set(Vec<Vec<u8>>),
}

/// Reads a certificate file the way `complete` reads a CA's answer: PEM,
/// DER, or PKCS#7 in PEM, DER or BER. A certificate that does not parse
/// is kept as it is, so that the report calls it malformed
/// (`invalid-certificate`) as it would if a server sent it.
fn read_file(path: &Path) -> anyhow::Result<Read> {
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    let what = path.display().to_string();
    let text = String::from_utf8_lossy(&bytes);
    let pem = text.contains("-----BEGIN ");
    let pkcs7_pem = text.contains("-----BEGIN PKCS7-----") || text.contains("-----BEGIN CMS-----");
    match read_certificates(&bytes, &what) {
        // A DER file holds one certificate; more can only come from PKCS#7.
        Ok(ders) if pkcs7_pem || (!pem && ders.len() > 1) => Ok(Read::Set(ders)),
        Ok(ders) => Ok(Read::Ordered(ders)),
        Err(CertError::BadCertificate { .. }) if !pkcs7_pem => Ok(Read::Ordered(
            mailcert_x509::pem::decode_certificates(&bytes, &what)?,
        )),
        Err(e) => Err(e.into()),
    }
}
