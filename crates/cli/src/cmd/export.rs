use std::path::PathBuf;

use clap::Parser;
use mailcert_x509::pkcs12::PfxForm;

use crate::exit::Exit;
use crate::{context, files, output, Cli, Result};

#[derive(Debug, Parser)]
pub struct Args {
    /// Thumbprint (any unique prefix).
    pub thumbprint: String,
    /// The file to write (created readable by its owner only).
    #[arg(long)]
    pub out: PathBuf,
    /// Overwrite --out if it already exists.
    #[arg(long)]
    pub force: bool,
    /// The legacy PFX form for Windows Server 2012 R2 and older, as `openssl pkcs12 -export -legacy`
    /// writes it: certificates with RC2-40, the key with 3DES, a SHA-1 MAC.
    #[arg(long, conflicts_with = "pem")]
    pub legacy: bool,
    /// Write the certificate and its chain as PEM (no private key).
    #[arg(long)]
    pub pem: bool,
    /// A file whose first line is the PFX password (else MAILCERT_PASSWORD, else a prompt).
    #[arg(long)]
    pub password_file: Option<PathBuf>,
    /// Print the outcome as JSON.
    #[arg(long)]
    pub json: bool,
}

pub fn run(cli: &Cli, args: &Args) -> Result {
    files::ensure_new(&args.out, args.force)?;
    let mut manager = context::existing(cli, None)?;
    let (form, record) = if args.pem {
        let (text, record) = manager.export_pem(&args.thumbprint)?;
        files::write_private(&args.out, text.as_bytes())?;
        ("PEM certificate and chain", record)
    } else {
        // Fail early (non-exportable, no key) before asking for a password.
        manager.ensure_exportable(&args.thumbprint)?;
        let password = files::password(args.password_file.as_deref(), "for the .pfx", true)?;
        let form = if args.legacy {
            PfxForm::Legacy
        } else {
            PfxForm::Modern
        };
        let (pfx, record) = manager.export_pfx(&args.thumbprint, &password, form)?;
        files::write_private(&args.out, &pfx)?;
        let words = if args.legacy {
            "legacy PFX (RC2-40 certificates, 3DES key, SHA-1 MAC)"
        } else {
            "PFX (AES-256, PBKDF2, HMAC-SHA256)"
        };
        manager.record_export(&record, words, &args.out.display().to_string())?;
        (words, record)
    };
    let message = format!(
        "exported {} ({}) as {form} to {}{}",
        record.summary.thumbprint,
        record.summary.subject,
        args.out.display(),
        if args.pem {
            ""
        } else {
            ", with its private key and chain"
        }
    );
    if args.json {
        output::json(&serde_json::json!({
            "thumbprint": record.summary.thumbprint,
            "out": args.out,
            "form": if args.pem { "pem" } else if args.legacy { "pfx-legacy" } else { "pfx" },
            "messages": [message],
        }))?;
    } else {
        output::note(message);
    }
    Ok(Exit::Success)
}
