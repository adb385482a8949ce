//! `mailcert acme`: accounts, orders and renewals with an ACME CA (Let's
//! Encrypt and friends). The work is in mailcert-acme; this parses
//! arguments, shows progress on a terminal and prints.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use clap::{Parser, Subcommand};
use mailcert_acme::engine::{Engine, OutcomeKind, Responders};
use mailcert_acme::issue::OrderRecipe;
use mailcert_acme::order::interrupted;
use mailcert_acme::{
    load_account, obtain_until, register_with, resolve_directory, ChallengeKind, OrderSpec,
    Progress,
};
use mailcert_x509::{KeyType, Service};

use crate::exit::Exit;
use crate::{context, output, Cli, Result};

#[derive(Debug, Parser)]
pub struct Args {
    #[command(subcommand)]
    pub command: AcmeCommand,
}

#[derive(Debug, Subcommand)]
pub enum AcmeCommand {
    /// Create an ACME account (or reuse the stored one); its key is kept encrypted in the store.
    Register(RegisterArgs),
    /// Order a certificate: answer the challenges, finalize with a new key, store it, optionally enable it.
    Order(OrderArgs),
    /// Renew the ACME certificates in use that are due (run it from cron; `serve` does it by itself).
    Renew(RenewArgs),
    /// When each ACME certificate in use will be renewed, and past failures.
    Status(StatusArgs),
}

#[derive(Debug, Parser)]
pub struct RegisterArgs {
    /// Directory: letsencrypt, letsencrypt-staging, or an https:// URL.
    #[arg(long)]
    pub directory: String,
    /// Contact address the CA writes to about expiring certificates and policy changes.
    #[arg(long)]
    pub email: Option<String>,
    /// Extra CA certificates (PEM) to trust for the directory's HTTPS, e.g. a test or private ACME server.
    #[arg(long, value_name = "FILE")]
    pub ca_file: Option<PathBuf>,
}

#[derive(Debug, Parser)]
pub struct OrderArgs {
    /// Names for the certificate (repeat, or separate with commas); the first is the subject.
    #[arg(long = "name", required_unless_present = "plan")]
    pub names: Vec<String>,
    /// Take the names from an organisation description (it must plan exactly one certificate).
    #[arg(long, value_name = "ORG.toml", conflicts_with = "names")]
    pub plan: Option<PathBuf>,
    /// Directory of the account to use (default: the one registered last).
    #[arg(long)]
    pub directory: Option<String>,
    /// How to prove control of the names.
    #[arg(long, default_value = "http-01", value_parser = parse_challenge)]
    pub challenge: ChallengeKind,
    /// Key type of the new certificate.
    #[arg(long, default_value = "ec-p256", value_parser = super::key_type)]
    pub key: KeyType,
    /// Enable the new certificate for these services once stored (imap,pop,https,smtp).
    #[arg(long, value_parser = super::services)]
    pub enable: Vec<Vec<Service>>,
    /// Where the temporary HTTP-01 listener binds (the CA connects to port 80 of each name).
    #[arg(long, default_value = mailcert_acme::standalone::DEFAULT_HTTP_BIND, value_name = "ADDR")]
    pub http_bind: String,
    /// Where the temporary TLS-ALPN-01 listener binds (the CA connects to port 443 of each name).
    #[arg(long, default_value = mailcert_acme::standalone::DEFAULT_TLS_BIND, value_name = "ADDR")]
    pub tls_bind: String,
    /// Command that sets and clears DNS-01 TXT records: `CMD set|clear FQDN VALUE` (see docs/acme.md).
    #[arg(long, value_name = "CMD", conflicts_with = "dns_update")]
    pub dns_hook: Option<String>,
    /// DNS-01 by RFC 2136 dynamic update (TSIG) to the zone of [dane.dns] in the configuration (--config), instead of a hook; renewals publish the same way.
    #[arg(long)]
    pub dns_update: bool,
    /// Seconds to wait for validation, and again for issuance.
    #[arg(long, default_value_t = 120)]
    pub timeout: u64,
    /// Front-end configuration: its [store], and its listeners' host names for the enable pre-flight.
    #[arg(long, env = "MAILCERT_CONFIG")]
    pub config: Option<PathBuf>,
    /// Print the outcome as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Parser)]
pub struct RenewArgs {
    /// Decide what is due as of this time instead of now (2027-06-01 or RFC 3339).
    #[arg(long, value_parser = super::parse_at)]
    pub at: Option<time::OffsetDateTime>,
    /// Renew now whatever the dates (all certificates in use, or --thumbprint).
    #[arg(long)]
    pub force: bool,
    /// Only this certificate (thumbprint or unique prefix).
    #[arg(long)]
    pub thumbprint: Option<String>,
    /// Print the outcome as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Parser)]
pub struct StatusArgs {
    /// Evaluate as of this time instead of now.
    #[arg(long, value_parser = super::parse_at)]
    pub at: Option<time::OffsetDateTime>,
    /// Print as JSON.
    #[arg(long)]
    pub json: bool,
}

fn parse_challenge(text: &str) -> std::result::Result<ChallengeKind, String> {
    text.parse()
}

pub fn run(cli: &Cli, args: &Args) -> Result {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    match &args.command {
        AcmeCommand::Register(a) => runtime.block_on(run_register(cli, a)),
        AcmeCommand::Order(a) => runtime.block_on(run_order(cli, a)),
        AcmeCommand::Renew(a) => runtime.block_on(run_renew(cli, a)),
        AcmeCommand::Status(a) => run_status(cli, a),
    }
}

async fn run_register(cli: &Cli, args: &RegisterArgs) -> Result {
    let directory = resolve_directory(&args.directory)?;
    let ca_pem = match &args.ca_file {
        Some(path) => Some(
            std::fs::read_to_string(path)
                .with_context(|| format!("reading --ca-file {}", path.display()))?,
        ),
        None => None,
    };
    if let Some(pem) = &ca_pem {
        mailcert_x509::pem::decode_certificates(
            pem.as_bytes(),
            &args
                .ca_file
                .as_ref()
                .map(|p| p.display().to_string())
                .unwrap_or_default(),
        )?;
    }
    // The store is created only once the CA has answered: a wrong URL or
    // an unreachable server leaves no store behind.
    let existing = context::existing_manager(cli, None)?;
    let record = match &existing {
        Some(m) => mailcert_acme::account::account_record(m.store.as_ref(), &directory)?,
        None => None,
    };
    let user = existing
        .as_ref()
        .map(|m| m.user.clone())
        .unwrap_or_else(mailcert_lifecycle::host::os_user);
    let spinner = Spinner::start();
    spinner.step(&format!("contacting {directory}"));
    let registered = register_with(record, &directory, args.email.as_deref(), ca_pem, &user).await;
    spinner.finish();
    let registered = registered?;
    let mut manager = match existing {
        Some(m) => m,
        None => context::manager(cli, None)?,
    };
    if let Some(change) = registered.change {
        manager.store.apply(change)?;
    }
    output::line(&registered.account.id)?;
    output::note(if registered.created {
        format!("created an ACME account on {directory}; its key is stored encrypted in the store")
    } else {
        format!("reusing the stored ACME account on {directory}")
    });
    Ok(Exit::Success)
}

async fn run_order(cli: &Cli, args: &OrderArgs) -> Result {
    let names = match &args.plan {
        Some(org) => {
            let mut planned = crate::files::planned_names(org)?;
            if planned.len() != 1 {
                anyhow::bail!(
                    "{}: the plan has {} certificates; order each with --name (see `mailcert plan {}`)",
                    org.display(),
                    planned.len(),
                    org.display()
                );
            }
            mailcert_lifecycle::parse_names(&planned.remove(0).names)?
        }
        None => mailcert_lifecycle::parse_names(&args.names)?,
    };
    let services = super::flatten(&args.enable);
    if args.challenge == ChallengeKind::Dns01 && args.dns_hook.is_none() && !args.dns_update {
        anyhow::bail!("--challenge dns-01 needs --dns-hook CMD, the command that sets and clears TXT records, or --dns-update to publish them by RFC 2136 to the zone of [dane.dns] (see docs/acme.md)");
    }
    if args.dns_update && args.challenge != ChallengeKind::Dns01 {
        anyhow::bail!("--dns-update publishes DNS-01 answers: add --challenge dns-01");
    }
    if args.timeout == 0 {
        anyhow::bail!("--timeout must be at least 1 second");
    }
    let config = mailcert_config::Config::load_optional(args.config.as_deref(), None)?;
    let hostnames = match &config {
        Some(config) => config.hostnames_for(&services, None)?,
        None => Vec::new(),
    };
    let dns_update = if args.dns_update {
        let dns = config
            .as_ref()
            .and_then(|c| c.dane_dns())
            .map(|(_, dns)| dns);
        let Some(dns) = dns else {
            anyhow::bail!(
                "--dns-update publishes by RFC 2136 to the zone of [dane.dns], and {} has none. Fix: add [dane.dns] with server, zone and tsig_key_file (see docs/dane.md), or pass --config FILE",
                config
                    .as_ref()
                    .map(|c| c.path.display().to_string())
                    .unwrap_or_else(|| "no configuration was found, so there".to_string())
            );
        };
        Some(mailcert_acme::DnsUpdateRecipe::from_config(dns))
    } else {
        None
    };
    let directory = match &args.directory {
        Some(d) => Some(resolve_directory(d)?),
        None => None,
    };
    let location = context::location(cli, config.as_ref())?;
    let Some(mut manager) = context::existing_manager(cli, config.as_ref())? else {
        anyhow::bail!(
            "no ACME account yet (there is no store at {}); create one with `mailcert acme register --directory letsencrypt --email you@example.com`, which creates the store",
            location.shown()
        );
    };
    let account = load_account(manager.store.as_ref(), directory.as_deref()).await?;
    let recipe = OrderRecipe {
        directory: account.directory.clone(),
        challenge: args.challenge,
        key: args.key,
        names: names.iter().map(|n| n.to_string()).collect(),
        http_bind: Some(args.http_bind.clone()),
        tls_bind: Some(args.tls_bind.clone()),
        dns_hook: args.dns_hook.clone(),
        dns_update: dns_update.clone(),
        timeout_secs: args.timeout,
    };
    // The answers go where a renewal of this order will send them.
    let responder = Responders::StandaloneOrServe(location.clone())
        .for_recipe(&recipe, &manager.user)
        .await?;
    let spec = OrderSpec {
        names: names.clone(),
        key: args.key,
        timeout: Duration::from_secs(args.timeout),
        prepared_key: None,
    };
    let spinner = Spinner::start();
    let obtained = obtain_until(
        &account,
        &spec,
        responder.as_ref(),
        &spinner,
        interrupted(interrupt_flag()),
    )
    .await;
    spinner.finish();
    drop(responder);
    let obtained = obtained?;
    let ordered =
        mailcert_acme::store_and_enable(&mut manager, &obtained, &recipe, &services, &hostnames)?;
    let (thumb, messages) = (ordered.thumbprint, ordered.messages);
    if args.json {
        output::json(&serde_json::json!({
            "thumbprint": thumb,
            "names": obtained.summary.names,
            "not_after": mailcert_x509::time::rfc3339(obtained.summary.not_after),
            "issuer": obtained.summary.issuer,
            "services": services.iter().map(|s| s.as_str()).collect::<Vec<_>>(),
            "messages": messages,
        }))?;
    } else {
        output::line(&thumb)?;
        for m in &messages {
            output::note(m);
        }
    }
    Ok(Exit::Success)
}

async fn run_renew(cli: &Cli, args: &RenewArgs) -> Result {
    let chosen = context::chosen(cli, None)?;
    let Some(mut manager) = context::existing_manager(cli, None)? else {
        anyhow::bail!(
            "{}: nothing was ordered through ACME there; order a certificate first with `mailcert acme order`",
            context::missing_words(cli, &chosen)
        );
    };
    let only = match &args.thumbprint {
        Some(prefix) => Some(Engine::candidate(&manager, prefix)?),
        None => None,
    };
    let now = args.at.unwrap_or_else(mailcert_x509::build::now_utc);
    let spinner = Arc::new(Spinner::start());
    let mut engine = Engine::new(
        Responders::StandaloneOrServe(chosen.location.clone()),
        spinner.clone(),
    );
    engine.interrupt = interrupt_flag();
    let outcomes = engine
        .run_once(&mut manager, now, args.force, only.as_deref())
        .await;
    spinner.finish();
    let outcomes = outcomes?;
    // Cron must see it: a renewal that failed now, or a certificate in use
    // that is running out without a successful renewal.
    let attention = outcomes.iter().any(|o| o.needs_attention());
    if args.json {
        let items: Vec<serde_json::Value> = outcomes
            .iter()
            .map(|o| {
                let (result, extra) = match &o.result {
                    OutcomeKind::NotDue { renew_at } => (
                        "not-due",
                        serde_json::json!({"renew_at": mailcert_x509::time::rfc3339(*renew_at)}),
                    ),
                    OutcomeKind::BackingOff { until, failures, last_error } => (
                        "backing-off",
                        serde_json::json!({"next_attempt": mailcert_x509::time::rfc3339(*until), "failures": failures, "error": last_error}),
                    ),
                    OutcomeKind::Busy { owner } => ("busy", serde_json::json!({"owner": owner})),
                    OutcomeKind::Renewed { new_thumbprint, .. } => (
                        "renewed",
                        serde_json::json!({"new_thumbprint": new_thumbprint}),
                    ),
                    OutcomeKind::Failed { error, failures, next_attempt } => (
                        "failed",
                        serde_json::json!({"error": error, "failures": failures, "next_attempt": mailcert_x509::time::rfc3339(*next_attempt)}),
                    ),
                    OutcomeKind::WaitingForDane { reason } => (
                        "waiting-for-dane",
                        serde_json::json!({"reason": reason}),
                    ),
                };
                let mut value = serde_json::json!({
                    "thumbprint": o.thumbprint,
                    "names": o.names,
                    "not_after": mailcert_x509::time::rfc3339(o.not_after),
                    "result": result,
                    "warning": o.warning,
                });
                if let (Some(map), serde_json::Value::Object(more)) = (value.as_object_mut(), extra) {
                    map.extend(more);
                }
                value
            })
            .collect();
        output::json(&items)?;
    } else {
        if outcomes.is_empty() {
            output::note("no ACME certificate is in use; nothing to renew");
        }
        for o in &outcomes {
            output::line(o.describe())?;
            if let Some(w) = &o.warning {
                output::note(format!("warning: {w}"));
            }
        }
    }
    Ok(if attention {
        Exit::Findings
    } else {
        Exit::Success
    })
}

fn run_status(cli: &Cli, args: &StatusArgs) -> Result {
    let manager = context::existing(cli, None)?;
    let now = args.at.unwrap_or_else(mailcert_x509::build::now_utc);
    let mut rows = Vec::new();
    let mut items = Vec::new();
    for status in mailcert_acme::renewal_status(&manager, now)? {
        let record = &status.record;
        let thumb = &record.summary.thumbprint;
        let next = status.next.to_string();
        items.push(serde_json::json!({
            "thumbprint": thumb,
            "names": record.summary.names,
            "services": status.service_names(),
            "directory": status.recipe.directory,
            "challenge": status.recipe.challenge.as_str(),
            "not_after": mailcert_x509::time::rfc3339(record.summary.not_after),
            "next_renewal": next,
            "failures": status.state.failures,
            "last_error": status.state.last_error,
            "dane_waiting": status.dane_waiting,
        }));
        rows.push(vec![
            thumb.clone(),
            record.summary.names.join(","),
            mailcert_lifecycle::manager::describe_bindings(&status.bound),
            mailcert_x509::time::rfc3339(record.summary.not_after),
            next,
            status.state.failures.to_string(),
        ]);
    }
    if args.json {
        output::json(&items)?;
    } else {
        for reason in items.iter().filter_map(|i| i["dane_waiting"].as_str()) {
            output::note(reason);
        }
        output::line(
            output::table(
                &[
                    "Thumbprint",
                    "Names",
                    "Services",
                    "NotAfter",
                    "NextRenewal",
                    "Failures",
                ],
                rows,
            )
            .trim_end(),
        )?;
    }
    Ok(Exit::Success)
}

/// A flag set by the first Ctrl-C or SIGTERM, so that an order in
/// progress is given up cleanly: its challenge answers withdrawn (a DNS
/// hook's `clear`, the store values a running `serve` reads), nothing
/// stored. A second signal stops at once.
fn interrupt_flag() -> Option<tokio::sync::watch::Receiver<bool>> {
    use tokio::signal::unix::{signal, SignalKind};
    let (set, flag) = tokio::sync::watch::channel(false);
    let mut terminate = signal(SignalKind::terminate()).ok()?;
    tokio::spawn(async move {
        let mut signals = 0;
        loop {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = terminate.recv() => {}
            }
            signals += 1;
            if signals == 1 {
                output::note("mailcert: interrupted; withdrawing the challenge answers (again to stop at once)");
                let _ = set.send(true);
            } else {
                output::note("mailcert: stopped; challenge answers may be left behind");
                std::process::exit(i32::from(crate::exit::BAD_INPUT));
            }
        }
    });
    Some(flag)
}

/// A spinner on stderr while waiting for the CA, only on a terminal.
struct Spinner {
    bar: Option<indicatif::ProgressBar>,
}

impl Spinner {
    fn start() -> Spinner {
        if !std::io::stderr().is_terminal() {
            return Spinner { bar: None };
        }
        let bar = indicatif::ProgressBar::new_spinner();
        bar.enable_steady_tick(Duration::from_millis(120));
        Spinner { bar: Some(bar) }
    }

    fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

impl Progress for Spinner {
    fn step(&self, message: &str) {
        if let Some(bar) = &self.bar {
            bar.set_message(message.to_string());
        }
    }
}
