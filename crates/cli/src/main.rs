//! `mailcert`: the command line of the mailcert certificate system. A thin
//! layer: it parses arguments, opens the store, calls the libraries and
//! prints. Exit codes: 0 success, 1 a check found problems, 2 bad usage or
//! input (including a refused operation).

mod anchors;
mod cmd;
mod context;
mod exit;
mod files;
mod output;
mod render;

use std::path::PathBuf;

use clap::parser::ValueSource;
use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};

use crate::exit::Exit;

#[derive(Debug, Parser)]
#[command(
    name = "mailcert",
    version,
    about = "Certificates for HTTPS, SMTP, IMAP and POP: plan, request, import, assign, renew, serve, check",
    propagate_version = true
)]
pub struct Cli {
    /// The store database file (else MAILCERT_STORE, else [store] path of the front-end configuration,
    /// else /var/lib/mailcert/store.db as root, or the XDG data directory).
    #[arg(long, global = true, env = "MAILCERT_STORE", value_name = "PATH")]
    pub store: Option<PathBuf>,
    /// The store's key file (else MAILCERT_STORE_KEY_FILE, else [store] key_file of the configuration
    /// when the database comes from it, else the database path + ".key").
    #[arg(
        long,
        global = true,
        env = "MAILCERT_STORE_KEY_FILE",
        value_name = "PATH"
    )]
    pub store_key_file: Option<PathBuf>,
    /// `--store` was typed on the command line (not taken from
    /// `MAILCERT_STORE`): `check` and `verify` then insist on that store.
    #[arg(skip)]
    pub store_on_command_line: bool,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create the store and the secure-by-default self-signed certificate, bound to every service.
    Init(cmd::init::Args),
    /// List certificates and pending requests (like Get-ExchangeCertificate).
    List(cmd::list::Args),
    /// Show one certificate or pending request in full.
    Show(cmd::show::Args),
    /// Create a new self-signed certificate.
    New(cmd::new::Args),
    /// Bind a certificate to services (https, imap, pop, smtp).
    Enable(cmd::enable::Args),
    /// Unbind a certificate from services.
    Disable(cmd::disable::Args),
    /// Remove a certificate (refused while bound, unless --force) or cancel a pending request;
    /// asks first on a terminal when a private key would be deleted (not with --yes or --force).
    Remove(cmd::remove::Args),
    /// Renew a certificate: self-signed in place; CA-issued by a new pending request.
    Renew(cmd::renew::Args),
    /// Which certificate a client of a service gets, and the rule that chose it.
    Which(cmd::which::Args),
    /// Show the audit log of changes.
    Log(cmd::log::Args),
    /// Run the TLS front end: HTTPS, SMTP, IMAP and POP3 listeners in front of the mail servers.
    Serve(cmd::serve::Args),
    /// Connect to endpoints like a mail client and explain what clients will complain about.
    Check(cmd::check::Args),
    /// Validate a certificate and its chain from files, offline, with the same findings as check.
    Verify(cmd::verify::Args),
    /// Plan the certificates of an organisation: names with reasons, and findings.
    Plan(cmd::plan::Args),
    /// Generate a key and a certificate request for a CA; kept as a pending request.
    Request(cmd::request::Args),
    /// Complete a pending request with the CA's answer (.cer/.crt/.pem/.der/.p7b).
    Complete(cmd::complete::Args),
    /// Move every binding of one certificate to another in one step.
    Replace(cmd::replace::Args),
    /// Import a certificate: .pfx/.p12 (modern or legacy) or PEM certificate + key + chain.
    Import(cmd::import::Args),
    /// Export a certificate: .pfx with its key and chain (modern or --legacy), or --pem.
    Export(cmd::export::Args),
    /// The store's own trust anchors (enterprise roots, the private CA's root).
    Trust(cmd::trust::Args),
    /// The private CA: init, sign requests, distribute its root.
    Ca(cmd::ca::Args),
    /// Certificates from an ACME CA (Let's Encrypt and friends): register, order, renew, status.
    Acme(cmd::acme::Args),
    /// The nodes sharing this store: their heartbeats, and what each serves against what the store says.
    Fleet(cmd::fleet::Args),
    /// The store itself: copy it to another database (SQLite file or PostgreSQL).
    Store(cmd::store::Args),
    /// The web console's user accounts (the console runs in `serve` when [console] bind is set).
    Console(cmd::console::Args),
    /// DANE for SMTP: the TLSA records of the certificates bound to SMTP (current and next key); enable, disable.
    Dane(cmd::dane::Args),
    /// MTA-STS: the DNS records (_mta-sts TXT with the policy id, TLS-RPT) of the policies serve publishes.
    MtaSts(cmd::mta_sts::Args),
    /// Changes scheduled with `enable|disable|replace … --at TIME`: list, cancel.
    Schedule(cmd::schedule::Args),
}

fn main() -> std::process::ExitCode {
    reset_sigpipe();
    let matches = Cli::command().get_matches();
    let mut cli = Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
    cli.store_on_command_line = matches.value_source("store") == Some(ValueSource::CommandLine);
    let result = cmd::run(&cli);
    exit::finish(result)
}

/// A closed pipe (`mailcert list | head`) ends the program quietly
/// instead of panicking on the next write.
fn reset_sigpipe() {
    std::panic::set_hook(Box::new(|info| {
        let text = info.to_string();
        if text.contains("Broken pipe") || text.contains("failed printing to stdout") {
            std::process::exit(0);
        }
        eprintln!("mailcert: internal error: {info}");
    }));
}

pub type Result<T = Exit> = anyhow::Result<T>;

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    /// Every command, subcommand, argument and flag says what it is for:
    /// an empty line in `--help` leaves the administrator guessing.
    #[test]
    fn every_help_line_says_something() {
        fn walk(cmd: &clap::Command, path: &str, missing: &mut Vec<String>) {
            for arg in cmd.get_arguments() {
                let id = arg.get_id().as_str();
                if matches!(id, "help" | "version") {
                    continue;
                }
                let help = arg.get_help().map(|h| h.to_string()).unwrap_or_default();
                if help.trim().is_empty() {
                    missing.push(format!("{path} {id}"));
                }
            }
            for sub in cmd.get_subcommands() {
                let name = format!("{path} {}", sub.get_name());
                if sub
                    .get_about()
                    .is_none_or(|a| a.to_string().trim().is_empty())
                {
                    missing.push(name.clone());
                }
                walk(sub, &name, missing);
            }
        }
        let cli = super::Cli::command();
        cli.clone().debug_assert();
        let mut missing = Vec::new();
        walk(&cli, "mailcert", &mut missing);
        assert!(
            missing.is_empty(),
            "no help text for:\n{}",
            missing.join("\n")
        );
    }
}
