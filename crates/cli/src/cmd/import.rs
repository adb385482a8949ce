use std::path::PathBuf;

use clap::Parser;
use mailcert_lifecycle::transfer::{read_pem_files, read_pfx_file};
use mailcert_lifecycle::{import_format, ImportFormat};
use mailcert_x509::pem::is_encrypted_key;

use crate::exit::Exit;
use crate::{context, files, Cli, Result};

#[derive(Debug, Parser)]
pub struct Args {
    /// A .pfx/.p12 (modern or legacy), or PEM with the certificate (and its key and chain).
    pub file: PathBuf,
    /// PEM: the private key, when it is in a file of its own.
    #[arg(long)]
    pub key: Option<PathBuf>,
    /// The password of a .pfx or of an encrypted PEM key: a file whose first line is it
    /// (else MAILCERT_PASSWORD, else a prompt).
    #[arg(long)]
    pub password_file: Option<PathBuf>,
    /// Never allow the imported private key to be exported again.
    #[arg(long)]
    pub non_exportable: bool,
    /// Print the outcome as JSON.
    #[arg(long)]
    pub json: bool,
}

pub fn run(cli: &Cli, args: &Args) -> Result {
    let file = files::input(&args.file)?;
    let item = if import_format(&file)? == ImportFormat::Pfx {
        if args.key.is_some() {
            anyhow::bail!(
                "{}: --key is for PEM files; a .pfx carries its own key",
                file.name
            );
        }
        // A PFX exported without a password (Windows allows it, as does
        // `openssl pkcs12 -export -passout pass:`) opens with the empty one:
        // try that before asking for a password nobody set.
        let unprotected = (args.password_file.is_none()
            && std::env::var_os("MAILCERT_PASSWORD").is_none())
        .then(|| read_pfx_file(&file, "").ok())
        .flatten();
        match unprotected {
            Some(item) => item,
            None => {
                let password = files::password(
                    args.password_file.as_deref(),
                    &format!("for {}", file.name),
                    false,
                )?;
                read_pfx_file(&file, &password)?
            }
        }
    } else {
        let key = args.key.as_deref().map(files::input).transpose()?;
        let key_source = key.as_ref().unwrap_or(&file);
        let password = if is_encrypted_key(&key_source.bytes) {
            Some(files::password(
                args.password_file.as_deref(),
                &format!("for the key in {}", key_source.name),
                false,
            )?)
        } else {
            None
        };
        read_pem_files(&file, key.as_ref(), password.as_deref())?
    };
    let mut manager = context::manager(cli, None)?;
    let report = manager.import(&file.name, item, !args.non_exportable)?;
    super::print_outcome(&report, args.json)?;
    Ok(Exit::Success)
}
