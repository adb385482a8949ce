use std::path::PathBuf;

use clap::{Parser, Subcommand};
use mailcert_issue::ca::{PrivateCa, DEFAULT_DAYS};
use mailcert_x509::csr::decode_request;
use mailcert_x509::pem::{certificate_pem, chain_pem};
use mailcert_x509::CertSummary;

use crate::exit::Exit;
use crate::{context, files, output, Cli, Result};

#[derive(Debug, Parser)]
pub struct Args {
    #[command(subcommand)]
    pub command: CaCommand,
}

#[derive(Debug, Subcommand)]
pub enum CaCommand {
    /// Create the private CA: a root (and an intermediate) whose keys stay in the store; the root becomes a trust anchor.
    Init {
        /// The root's name, as clients will show it.
        #[arg(long, default_value = "mailcert Private Root CA")]
        name: String,
        /// Also create an intermediate that signs server certificates (the root then stays unused).
        #[arg(long)]
        intermediate: bool,
        /// Print the outcome as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Sign a certificate request (PEM or DER) from this or another server.
    Sign {
        /// The request file (.csr, .req).
        request: PathBuf,
        /// Validity in days (more than 825 is signed with a warning: Apple clients refuse it).
        #[arg(long, default_value_t = DEFAULT_DAYS)]
        days: u32,
        /// Write the certificate and its intermediate (PEM; never the root) here instead of standard output.
        #[arg(long)]
        out: Option<PathBuf>,
        /// Print the certificate (PEM with its chain in "pem") and its details as JSON.
        #[arg(long)]
        json: bool,
    },
    /// The root certificate, to distribute to clients.
    Root {
        /// DER (.cer, what Windows' certificate import and group policy take) instead of PEM.
        #[arg(long)]
        der: bool,
        /// Write it here instead of standard output.
        #[arg(long)]
        out: Option<PathBuf>,
        /// Print the root (PEM in "pem") and the client instructions as JSON.
        #[arg(long)]
        json: bool,
    },
}

pub fn run(cli: &Cli, args: &Args) -> Result {
    match &args.command {
        CaCommand::Init {
            name,
            intermediate,
            json,
        } => {
            let mut manager = context::manager(cli, None)?;
            let report = PrivateCa::init(&mut manager, name, *intermediate)?;
            if *json {
                super::report_json(&report)?;
            } else {
                super::report(&report);
                output::note("distribute the root to clients: `mailcert ca root --out root.pem` (see its instructions)");
            }
            Ok(Exit::Success)
        }
        CaCommand::Sign {
            request,
            days,
            out,
            json,
        } => {
            let input = files::input(request)?;
            let csr = decode_request(&input.bytes, &input.name)?;
            let mut manager = context::existing(cli, None)?;
            let ca = PrivateCa::require(&manager)?;
            let signed = ca.sign(&manager, &csr, &input.name, *days)?;
            let pem = chain_pem(&signed.certificate, &signed.chain);
            if let Some(path) = out {
                files::write_public(path, pem.as_bytes())?;
            }
            PrivateCa::record(&mut manager, &signed, &input.name)?;
            let mut messages: Vec<String> = signed
                .warnings
                .iter()
                .map(|w| format!("warning: {w}"))
                .collect();
            messages.push(format!(
                "signed {} for {} until {}{}; complete it on the requesting server with `mailcert complete FILE`; the root is not in it (servers do not send it): clients, and that server if it should trust it, get it with `mailcert ca root`",
                signed.summary.thumbprint,
                signed.summary.names.join(", "),
                mailcert_x509::time::rfc3339(signed.summary.not_after),
                out.as_ref()
                    .map(|p| format!(
                        ", written{} to {}",
                        if signed.chain.is_empty() { "" } else { " with the intermediate" },
                        p.display()
                    ))
                    .unwrap_or_default()
            ));
            if *json {
                output::json(&serde_json::json!({
                    "thumbprint": signed.summary.thumbprint,
                    "subject": signed.summary.subject,
                    "names": signed.summary.names,
                    "serial": signed.summary.serial,
                    "not_after": mailcert_x509::time::rfc3339(signed.summary.not_after),
                    "pem": pem,
                    "out": out,
                    "messages": messages,
                }))?;
            } else {
                if out.is_none() {
                    output::line(pem.trim_end())?;
                }
                for message in &messages {
                    output::note(message);
                }
            }
            Ok(Exit::Success)
        }
        CaCommand::Root { der, out, json } => {
            let manager = context::existing(cli, None)?;
            let ca = PrivateCa::require(&manager)?;
            let summary = CertSummary::from_der(ca.root())?;
            let bytes = if *der {
                ca.root().to_vec()
            } else {
                certificate_pem(ca.root()).into_bytes()
            };
            let help = instructions(
                out.as_ref()
                    .map(|p| p.display().to_string())
                    .as_deref()
                    .unwrap_or("root.pem"),
                *der,
            );
            if let Some(path) = out {
                files::write_public(path, &bytes)?;
            }
            if *json {
                output::json(&serde_json::json!({
                    "thumbprint": summary.thumbprint,
                    "subject": summary.subject,
                    "not_after": mailcert_x509::time::rfc3339(summary.not_after),
                    "pem": certificate_pem(ca.root()),
                    "out": out,
                    "instructions": help,
                }))?;
                return Ok(Exit::Success);
            }
            if out.is_none() {
                if *der {
                    anyhow::bail!("--der writes binary: give --out FILE.cer");
                }
                output::line(String::from_utf8_lossy(&bytes).trim_end())?;
            }
            output::note(format!("root {} ({})", summary.thumbprint, summary.subject));
            for line in help {
                output::note(line);
            }
            Ok(Exit::Success)
        }
    }
}

fn instructions(file: &str, der: bool) -> Vec<String> {
    vec![
        "Clients trust certificates of this CA once they trust its root:".into(),
        format!("  Windows (one machine): certutil -addstore -f Root {file}"),
        "  Windows (domain): Group Policy > Computer Configuration > Policies > Windows Settings > Security Settings > Public Key Policies > Trusted Root Certification Authorities > Import".into(),
        // update-ca-certificates only reads PEM, whatever the file was written as.
        format!("  Debian/Ubuntu: openssl x509 -in {file} -inform {} -out /usr/local/share/ca-certificates/mailcert-root.crt && update-ca-certificates", if der { "der" } else { "pem" }),
        format!("  RHEL/Fedora: cp {file} /etc/pki/ca-trust/source/anchors/ && update-ca-trust"),
        format!("  macOS: security add-trusted-cert -d -r trustRoot -k /Library/Keychains/System.keychain {file}"),
        "  Thunderbird/Firefox: Settings > Privacy & Security > Certificates > View Certificates > Authorities > Import".into(),
        "  iOS/Android: send the file by mail or MDM profile, then enable full trust for it in the settings".into(),
    ]
}
