use clap::Parser;
use mailcert_lifecycle::{chain_entries, find, CertView, ChainEntry, Found};
use mailcert_store::Store;
use mailcert_x509::pem::{chain_pem, to_pem};

use crate::exit::Exit;
use crate::{context, output, Cli, Result};

#[derive(Debug, Parser)]
pub struct Args {
    /// Thumbprint (any unique prefix) of a certificate or pending request.
    pub thumbprint: String,
    /// Print as JSON.
    #[arg(long)]
    pub json: bool,
    /// Print the certificate and its chain (or the request) as PEM.
    #[arg(long)]
    pub pem: bool,
}

pub fn run(cli: &Cli, args: &Args) -> Result {
    let manager = context::existing(cli, None)?;
    let store: &dyn Store = manager.store.as_ref();
    let found = find(store, &args.thumbprint)?;
    let view = mailcert_lifecycle::view::one(store, &found, manager.now())?;
    if args.json {
        output::json(&view)?;
        return Ok(Exit::Success);
    }
    if args.pem {
        match &found {
            Found::Certificate(c) => {
                let text = chain_pem(&c.der, &store.chain(&c.summary.thumbprint)?);
                output::line(text.trim_end())?;
            }
            Found::Pending(p) => {
                output::line(to_pem("CERTIFICATE REQUEST", &p.csr_der).trim_end())?
            }
        }
        return Ok(Exit::Success);
    }
    let chain = match &found {
        Found::Certificate(c) => chain_entries(store, &c.summary.thumbprint)?,
        Found::Pending(_) => Vec::new(),
    };
    print_details(&view, &chain)?;
    if let Found::Pending(p) = &found {
        output::line("")?;
        output::line(to_pem("CERTIFICATE REQUEST", &p.csr_der).trim_end())?;
    }
    output::expiry_warnings([&view]);
    Ok(Exit::Success)
}

/// Each binding with its scope: `smtp`, `https (listener owa)`,
/// `imap (node ex2)`.
fn bindings_words(v: &CertView) -> String {
    if v.bindings.is_empty() {
        return "-".into();
    }
    v.bindings
        .iter()
        .map(|b| {
            let scope: Vec<String> = [
                b.listener.as_ref().map(|l| format!("listener {l}")),
                b.node.as_ref().map(|n| format!("node {n}")),
            ]
            .into_iter()
            .flatten()
            .collect();
            if scope.is_empty() {
                b.service.clone()
            } else {
                format!("{} ({})", b.service, scope.join(", "))
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
}

fn print_details(v: &CertView, chain: &[ChainEntry]) -> anyhow::Result<()> {
    let opt = |o: &Option<String>| o.clone().unwrap_or_else(|| "-".into());
    let rows: Vec<(&str, String)> = vec![
        ("Thumbprint", v.thumbprint.clone()),
        ("SHA-256", opt(&v.sha256)),
        ("Subject", v.subject.clone()),
        ("Names", v.names.join(", ")),
        ("IP addresses", v.ip_addresses.join(", ")),
        ("Issuer", opt(&v.issuer)),
        ("Services", v.services.join(", ")),
        ("Bindings", bindings_words(v)),
        ("Status", v.status.as_str().to_string()),
        ("NotBefore", opt(&v.not_before)),
        ("NotAfter", opt(&v.not_after)),
        (
            "Days left",
            v.days_left
                .map(|d| d.to_string())
                .unwrap_or_else(|| "-".into()),
        ),
        ("IsSelfSigned", v.is_self_signed.to_string()),
        ("HasPrivateKey", v.has_private_key.to_string()),
        ("Exportable", v.exportable.to_string()),
        (
            "Key",
            format!(
                "{}{}",
                v.key_algorithm,
                v.key_size
                    .map(|s| format!(" ({s} bits)"))
                    .unwrap_or_default()
            ),
        ),
        ("Signature", opt(&v.signature_algorithm)),
        ("Serial", opt(&v.serial)),
        ("Friendly name", opt(&v.friendly_name)),
    ];
    for (label, value) in rows {
        output::line(format!("{label:<14} {value}"))?;
    }
    for (i, line) in chain_lines(v, chain).iter().enumerate() {
        let label = if i == 0 { "Chain" } else { "" };
        output::line(format!("{label:<14} {line}"))?;
    }
    for warning in &v.warnings {
        output::line(format!("{:<14} {warning}", "Warning"))?;
    }
    Ok(())
}

/// The chain as sent after the certificate, issuer first, each by its
/// subject (the thumbprint and end date after it), then where it ends.
fn chain_lines(v: &CertView, chain: &[ChainEntry]) -> Vec<String> {
    if v.status == mailcert_x509::Status::PendingRequest {
        return vec!["-".into()];
    }
    if chain.is_empty() {
        return vec![if v.is_self_signed {
            "- (self-signed: nothing is sent after it)".into()
        } else {
            format!(
                "- (none stored: clients must already have its issuer {})",
                v.issuer.as_deref().unwrap_or("?")
            )
        }];
    }
    let mut lines: Vec<String> = chain
        .iter()
        .map(|c| format!("{}  (until {}, {})", c.subject, c.not_after, c.thumbprint))
        .collect();
    if let Some(last) = chain.last().filter(|c| !c.issuer.is_empty()) {
        lines.push(format!(
            "issued by {} (not sent: clients must already have it)",
            last.issuer
        ));
    }
    lines
}
