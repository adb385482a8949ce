use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context as _;
use clap::Parser;
use mailcert_config::Config;
use mailcert_front::{ChallengeBoard, Front, FrontOptions, RunAs, Sockets, TryWithPlan};
use mailcert_lifecycle::{host::os_user, ConsoleCertificate, Manager};

use crate::exit::Exit;

/// How often `serve` looks for scheduled changes that came due: the
/// precision of `--at`.
const SCHEDULE_INTERVAL: std::time::Duration = std::time::Duration::from_secs(1);
use crate::{Cli, Result};

#[derive(Debug, Parser)]
pub struct Args {
    /// Front-end configuration (default: /etc/mailcert/mailcert.toml as root, else
    /// ~/.config/mailcert/mailcert.toml; written with the defaults when absent).
    #[arg(long, env = "MAILCERT_CONFIG")]
    pub config: Option<PathBuf>,
    /// Print the default configuration for this user and exit.
    #[arg(long)]
    pub print_default_config: bool,
    /// Check the configuration, the store and its certificates, and the
    /// [process] user, without opening a socket or changing anything (like
    /// nginx -t): exit 0 with one line when serve would start, 2 with the problems.
    #[arg(long)]
    pub check: bool,
    /// This node's name in a fleet sharing one store (default: MAILCERT_NODE, else the host's FQDN).
    #[arg(long, env = "MAILCERT_NODE", value_name = "NAME")]
    pub node: Option<String>,
    /// Seconds between the node's heartbeats in the store (`mailcert fleet` calls a node silent after 3 missed).
    #[arg(long, value_name = "SECONDS", default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub heartbeat: u64,
    /// The log on standard error: text lines, or one JSON object per line (journald, Loki…);
    /// events (certificate-expiring, certificate-expired, renewal-failed) carry their fields either way.
    #[arg(long, value_enum, default_value_t = LogFormatArg::Text, value_name = "FORMAT")]
    pub log_format: LogFormatArg,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormatArg {
    Text,
    Json,
}

pub fn run(cli: &Cli, args: &Args) -> Result {
    let root = mailcert_front::is_root();
    if args.print_default_config {
        print!("{}", mailcert_front::default_config(root));
        return Ok(Exit::Success);
    }
    if args.check {
        return check(cli, args);
    }
    init_logging(args.log_format);
    let (config, written) = mailcert_front::load_or_write_default(args.config.as_deref(), root)?;
    if let Some(path) = written {
        eprintln!(
            "mailcert: no configuration found: wrote the defaults to {}{}",
            path.display(),
            if root {
                ""
            } else {
                " (not root: ports above 1024)"
            }
        );
    }
    let location = crate::context::location(cli, Some(&config))?;
    let node =
        super::node_arg(args.node.as_deref()).unwrap_or_else(mailcert_lifecycle::host::node_name);
    let run_as = RunAs::resolve(&config.process)?.filter(|r| !r.is_current());
    // Bind first (ports below 1024 need root), or take systemd's sockets;
    // then become the [process] user before the store is opened.
    let mut sockets = Sockets::from_systemd()?;
    sockets.bind_missing(&config)?;
    let console_socket = config
        .console
        .as_ref()
        .map(|console| {
            std::net::TcpListener::bind(console.bind).with_context(|| {
                format!(
                    "[console] bind = \"{}\" in {}: cannot listen there; choose a free address:port",
                    console.bind,
                    config.path.display()
                )
            })
        })
        .transpose()?;
    let metrics_socket = config
        .metrics
        .as_ref()
        .map(|metrics| {
            mailcert_watch::http::bind(metrics.bind).with_context(|| {
                format!(
                    "[metrics] bind = \"{}\" in {}: cannot listen there; choose a free address:port",
                    metrics.bind,
                    config.path.display()
                )
            })
        })
        .transpose()?;
    if let Some(run_as) = &run_as {
        let problems = run_as.problems(&mailcert_front::privileges::paths_needed(
            &location.db,
            &location.key,
            &config.path,
        ));
        if !problems.is_empty() {
            anyhow::bail!(
                "serve runs as {} once its listeners are bound ([process] in {}), and then could not use its files: {}",
                run_as.describe(),
                config.path.display(),
                problems.join("; ")
            );
        }
        run_as.drop_privileges()?;
        tracing::info!(
            "listeners bound; running as {} from now on",
            run_as.describe()
        );
    }
    crate::context::open_for_node(&location, &node).map_err(|e| match &run_as {
        Some(run_as) => e.context(format!(
            "serve runs as {}: the store's directory must exist and be writable by it (install -d -o {} -g {} -m 700 DIR)",
            run_as.describe(),
            run_as.user,
            run_as.group
        )),
        None => e,
    })?;
    let challenges = ChallengeBoard::new();
    let options = FrontOptions {
        store: crate::context::explicit(cli),
        challenges: challenges.clone(),
        node: node.clone(),
        heartbeat: std::time::Duration::from_secs(args.heartbeat),
    };
    let mut front = Front::start_with(config.clone(), options, sockets)?;
    front.catch_signals()?;
    // ACME renewal beside the front end; its listeners answer the challenges.
    let _renewal = mailcert_acme::serve::start_renewal(
        location.clone(),
        node.clone(),
        Arc::new(challenges),
        mailcert_acme::serve::RENEWAL_INTERVAL,
    )
    .context("starting the ACME renewal engine")?;
    // Changes scheduled with --at, applied at their time.
    let _scheduler = mailcert_lifecycle::schedule::start_scheduler(
        location.clone(),
        node.clone(),
        SCHEDULE_INTERVAL,
    )
    .context("starting the scheduled changes")?;
    // DANE: the TLSA records published by RFC 2136, beside the renewal.
    let _publishing = match config.dane_dns() {
        Some((dane, dns)) => Some(
            mailcert_lifecycle::dane_publish::start_publishing(
                location.clone(),
                node.clone(),
                mailcert_lifecycle::dane_publish::Publisher::from_config(dns, dane.port)?,
                dns.interval,
            )
            .context("starting the DANE publisher")?,
        ),
        None => None,
    };
    println!(
        "mailcert: serving certificates from {} as node {node} (configuration {})",
        location.shown(),
        config.path.display()
    );
    let bound = front.bound();
    let store = mailcert_store::open(&location)
        .ok()
        .map(|store| Manager::new(store, os_user()).on_node(&node));
    let try_with = TryWithPlan::new(
        store.as_ref(),
        &config,
        &bound,
        &location.shown().to_string(),
    );
    for line in mailcert_front::describe(&bound, |b| try_with.for_listener(b), &try_with.hints) {
        println!("{line}");
    }
    if let (Some(console), Some(socket)) = (&config.console, console_socket) {
        let reopened;
        let manager = match &store {
            Some(manager) => manager,
            None => {
                reopened = Manager::new(mailcert_store::open(&location)?, os_user()).on_node(&node);
                &reopened
            }
        };
        ensure_console_certificate(manager, &config, console)?;
        let settings = mailcert_console::ConsoleSettings {
            console: console.clone(),
            config: config.clone(),
            store: location.clone(),
        };
        let resolver = front.https_resolver(
            mailcert_config::Console::LISTENER,
            console.certificate.clone(),
        );
        let addr = mailcert_console::start(&front.runtime_handle(), socket, resolver, settings)
            .context("starting the web console")?;
        println!(
            "console: https://{addr}/ (HTTPS, certificate chosen as for an HTTPS listener named console; accounts: mailcert console user add NAME)"
        );
    }
    // Not kept open while serving: the front end has its own.
    drop(store);
    let view = front.view();
    if let Some(socket) = metrics_socket {
        let metrics = Arc::new(mailcert_watch::ServeMetrics::new(
            view.clone(),
            location.clone(),
        ));
        let addr = mailcert_watch::start_metrics(&front.runtime_handle(), socket, metrics)
            .context("starting /metrics")?;
        println!("metrics: http://{addr}/metrics (Prometheus text format)");
    }
    let alerts = &config.alerts;
    let command = alerts
        .command
        .clone()
        .map(|program| mailcert_events::AlertCommand {
            program,
            arguments: alerts.arguments.clone(),
            timeout: alerts.timeout,
        });
    let events = mailcert_events::Events::new(Some(location.clone()), &node, command);
    let _expiry = mailcert_watch::expiry::start(
        view,
        location.clone(),
        events,
        mailcert_watch::expiry::INTERVAL,
    )
    .context("starting the expiry watch")?;
    println!(
        "SIGHUP rereads the configuration; SIGTERM or Ctrl-C stops after open connections finish."
    );
    front.run_until_signalled()?;
    Ok(Exit::Success)
}

/// The console takes its certificate as an HTTPS listener named
/// `console` would: a pin that matches nothing is refused at the start
/// (every handshake would fail), no HTTPS certificate at all is a warning.
fn ensure_console_certificate(
    manager: &Manager,
    config: &Config,
    console: &mailcert_config::Console,
) -> anyhow::Result<()> {
    match manager.console_certificate(console)? {
        ConsoleCertificate::Chosen(_) => Ok(()),
        ConsoleCertificate::PinMatchesNothing(pin) => anyhow::bail!(
            "[console] certificate = \"{pin}\" in {}: no certificate in the store matches it, so the console could complete no TLS handshake; give a thumbprint prefix or subject from `mailcert list`, or remove the line",
            config.path.display()
        ),
        ConsoleCertificate::NoneYet(why) => {
            tracing::warn!(
                "the console has no certificate to serve yet ({why}): bind one with `mailcert enable THUMB --services https` (or --listener console)"
            );
            Ok(())
        }
    }
}

fn init_logging(format: LogFormatArg) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("MAILCERT_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormatArg::Text => {
            let _ = builder
                .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
                .try_init();
        }
        LogFormatArg::Json => {
            mailcert_events::set_log_format(mailcert_events::LogFormat::Json);
            let _ = builder
                .json()
                .flatten_event(true)
                .with_current_span(false)
                .try_init();
        }
    }
}

/// `serve --check`: what serve would refuse, without starting.
fn check(cli: &Cli, args: &Args) -> Result {
    let path = args
        .config
        .clone()
        .unwrap_or_else(mailcert_config::default_config_path);
    let config = Config::load(&path)?;
    let location = crate::context::location(cli, Some(&config))?;
    let checked = mailcert_front::check::check(&config, &location);
    for warning in &checked.warnings {
        eprintln!("mailcert: warning: {warning}");
    }
    if !checked.problems.is_empty() {
        anyhow::bail!(
            "{}: serve would not start or not serve every listener:\n  {}",
            path.display(),
            checked.problems.join("\n  ")
        );
    }
    println!(
        "{}: configuration OK ({} listeners, {} redirects; store {})",
        path.display(),
        config.listeners.len(),
        config.redirects.len(),
        location.shown()
    );
    Ok(Exit::Success)
}
