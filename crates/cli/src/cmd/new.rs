use clap::Parser;
use mailcert_x509::KeyType;

use crate::exit::Exit;
use crate::{context, output, Cli, Result};

#[derive(Debug, Parser)]
pub struct Args {
    /// Make a self-signed certificate (the only kind `new` makes; CA-issued ones come from `request`).
    #[arg(long, required = true)]
    pub self_signed: bool,
    /// A name for the certificate (DNS name, IDN, IP address or *.wildcard); repeat or separate with commas.
    #[arg(long = "name", required = true)]
    pub names: Vec<String>,
    /// Key type: ec-p256 (default), ec-p384, rsa-2048, rsa-3072, rsa-4096.
    #[arg(long, default_value = "ec-p256", value_parser = super::key_type)]
    pub key: KeyType,
    /// Validity in days.
    #[arg(long, default_value_t = mailcert_x509::build::SELF_SIGNED_DAYS, value_parser = clap::value_parser!(u32).range(1..=36525))]
    pub days: u32,
    /// A label to recognise it by.
    #[arg(long)]
    pub friendly_name: Option<String>,
    /// Never allow the private key to be exported.
    #[arg(long)]
    pub non_exportable: bool,
    /// Print the new certificate as JSON.
    #[arg(long)]
    pub json: bool,
}

pub fn run(cli: &Cli, args: &Args) -> Result {
    mailcert_lifecycle::parse_names(&args.names)?;
    let mut manager = context::manager(cli, None)?;
    let report = manager.new_self_signed(
        &args.names,
        args.key,
        args.days,
        args.friendly_name.clone(),
        !args.non_exportable,
    )?;
    let thumb = report.thumbprint.clone().unwrap_or_default();
    if args.json {
        let record = mailcert_lifecycle::find_certificate(manager.store.as_ref(), &thumb)?;
        let view = mailcert_lifecycle::CertView::of_certificate(&record, &[], manager.now());
        output::json(&view)?;
    } else {
        output::line(thumb)?;
    }
    Ok(Exit::Success)
}
