use std::path::PathBuf;

use clap::Parser;
use mailcert_lifecycle::RequestSpec;
use mailcert_x509::KeyType;

use crate::exit::Exit;
use crate::{context, files, Cli, Result};

#[derive(Debug, Parser)]
pub struct Args {
    /// A name for the certificate (the first one is also the CN); repeat or separate with commas.
    #[arg(long = "name", required_unless_present = "plan")]
    pub names: Vec<String>,
    /// Take the names from an organisation description: one pending request per planned certificate.
    #[arg(long, value_name = "ORG.toml", conflicts_with_all = ["names", "subject"])]
    pub plan: Option<PathBuf>,
    /// The subject, as CN=mail.contoso.com,O=Contoso,C=US (default: CN = the first name).
    #[arg(long)]
    pub subject: Option<String>,
    /// Key type: ec-p256 (default), ec-p384, rsa-2048, rsa-3072, rsa-4096.
    #[arg(long, default_value = "ec-p256", value_parser = super::key_type)]
    pub key: KeyType,
    /// Write the request (PEM) to this file instead of standard output.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Never allow the private key to be exported.
    #[arg(long)]
    pub non_exportable: bool,
    /// A label to recognise it by.
    #[arg(long)]
    pub friendly_name: Option<String>,
    /// Print the pending request as JSON (with the request PEM in "csr_pem").
    #[arg(long)]
    pub json: bool,
}

pub fn run(cli: &Cli, args: &Args) -> Result {
    if let Some(org) = &args.plan {
        return from_plan(cli, args, org);
    }
    // Checked before --out is opened: bad input leaves no file behind.
    mailcert_lifecycle::request_names(&args.names, args.subject.as_deref())?;
    let out = files::open_out(args.out.as_deref())?;
    let mut manager = context::manager(cli, None)?;
    let (report, pending) = manager.request(&RequestSpec {
        names: args.names.clone(),
        subject: args.subject.clone(),
        key: args.key,
        exportable: !args.non_exportable,
        friendly_name: args.friendly_name.clone(),
    })?;
    super::print_request(&report, &pending, out, args.json)
}

/// `request --plan`: the planner decides the names; every planned
/// certificate becomes a pending request.
fn from_plan(cli: &Cli, args: &Args, org: &std::path::Path) -> Result {
    let wanted = crate::files::planned_names(org)?;
    let outs = args
        .out
        .as_deref()
        .map(|out| numbered_outputs(out, wanted.len()))
        .unwrap_or_default();
    let mut files = Vec::new();
    for out in &outs {
        files.push(crate::files::open_out(Some(out))?);
    }
    let mut manager = context::manager(cli, None)?;
    let mut files = files.into_iter();
    for request in &wanted {
        let (report, pending) = manager.request(&RequestSpec {
            names: request.names.clone(),
            subject: None,
            key: args.key,
            exportable: !args.non_exportable,
            friendly_name: args.friendly_name.clone(),
        })?;
        super::print_request(&report, &pending, files.next().flatten(), args.json)?;
    }
    Ok(Exit::Success)
}

/// `req.csr` for one request; `req-1.csr`, `req-2.csr`, … for several.
fn numbered_outputs(out: &std::path::Path, count: usize) -> Vec<PathBuf> {
    if count == 1 {
        return vec![out.to_path_buf()];
    }
    let stem = out
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let ext = out
        .extension()
        .map(|e| format!(".{}", e.to_string_lossy()))
        .unwrap_or_default();
    (1..=count)
        .map(|i| out.with_file_name(format!("{stem}-{i}{ext}")))
        .collect()
}
