//! `mailcert check`: connect like a client, show what is served, explain
//! what clients will complain about.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use clap::Parser;
use mailcert_check::{check_endpoints, BoundLookup, ConnectTo, Endpoint, Progress, Settings};
use mailcert_config::Config;
use mailcert_lifecycle::AddressServing;
use mailcert_store::BoxedStore;

use crate::exit::Exit;
use crate::{output, render, Cli, Result};

#[derive(Debug, Parser)]
pub struct Args {
    /// imaps://host[:993], imap://host[:143] (STARTTLS), pop3s://, pop3:// (STLS),
    /// smtps://, smtp:// and submission:// (STARTTLS), https://, or a bare host for all that answer.
    #[arg(value_name = "ENDPOINT", required_unless_present_any = ["plan", "mta_sts", "listen"])]
    pub endpoints: Vec<String>,
    /// Check every namespace of this organisation plan on every protocol that answers
    /// (autodiscover names on HTTPS only).
    #[arg(long, value_name = "ORG.TOML")]
    pub plan: Option<PathBuf>,
    /// Check DOMAIN as a sending MTA applying MTA-STS (RFC 8461): the _mta-sts TXT record, the
    /// policy over HTTPS (certificate validated), and every MX host on port 25 with STARTTLS
    /// (matched against the policy, certificate validated for its name); repeatable. DNS from --dns.
    #[arg(long = "mta-sts", value_name = "DOMAIN")]
    pub mta_sts: Vec<String>,
    /// Also look up CAA for each endpoint's name (RFC 8659, climbing to the parent domains) and
    /// say whether the CA with this issuer domain may issue for it (letsencrypt.org, digicert.com):
    /// caa-forbids, caa-none. With --plan, the plan's CA by default. DNS from --dns.
    #[arg(long, value_name = "DOMAIN")]
    pub caa_issuer: Option<String>,
    /// Check the certificate against this name instead of each endpoint's host (also sent as SNI).
    #[arg(long)]
    pub name: Option<String>,
    /// Dial HOST[:PORT] instead of the endpoint's host and port, still validating the endpoint's name.
    #[arg(long, value_name = "HOST[:PORT]")]
    pub connect: Option<String>,
    /// Evaluate dates at this date or time instead of now (2027-06-01 or RFC 3339).
    #[arg(long, value_name = "TIME")]
    pub at: Option<String>,
    #[command(flatten)]
    pub trust: crate::anchors::TrustArgs,
    /// Seconds allowed for each phase (connect, plaintext dialogue, handshake).
    #[arg(long, default_value_t = 10.0, value_name = "SECONDS")]
    pub timeout: f64,
    /// Endpoints checked at the same time at most.
    #[arg(long, default_value_t = 256, value_name = "N")]
    pub jobs: usize,
    /// Skip the extra connections that ask whether SSL 3.0 and TLS 1.0/1.1 are still accepted.
    #[arg(long)]
    pub no_legacy_probe: bool,
    /// Front-end configuration whose listeners (their own bindings and pins) count for
    /// not-bound-certificate with a store, and whose [store] path names that store; by default
    /// the one `mailcert serve` reads, if it exists.
    #[arg(long, env = "MAILCERT_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// The validating resolver that smtp:// endpoints' TLSA records (DANE) are looked up at:
    /// IP[:PORT] (default: the first nameserver of /etc/resolv.conf). Its AD bit is trusted, as
    /// Postfix does: name a validating resolver reached over a trusted path.
    #[arg(long, value_name = "SERVER[:PORT]")]
    pub dns: Option<String>,
    /// Print as JSON.
    #[arg(long)]
    pub json: bool,
    /// Serve probes for Prometheus on ADDR instead (GET /probe?target=URL[&connect=H:P][&timeout=5s]),
    /// in ssl_exporter's and blackbox_exporter's names; --timeout is the default, --jobs the
    /// probes run at once.
    #[arg(long, value_name = "ADDR", conflicts_with_all = ["endpoints", "plan", "json", "at", "name", "connect", "mta_sts"])]
    pub listen: Option<std::net::SocketAddr>,
    /// With --listen: the hosts a probe may connect to (mail.contoso.com, *.contoso.com,
    /// 192.0.2.0/24, or * for any); repeatable. Others get HTTP 400.
    #[arg(long = "allow", value_name = "PATTERN", requires = "listen")]
    pub allow: Vec<String>,
}

pub fn run(cli: &Cli, args: &Args) -> Result {
    let at = crate::anchors::parse_time(args.at.as_deref())?;
    if !(args.timeout > 0.0 && args.timeout <= 3600.0) {
        anyhow::bail!(
            "--timeout {}: give a number of seconds between 0 and 3600",
            args.timeout
        );
    }
    if let Some(addr) = args.listen {
        return listen(cli, args, addr);
    }
    if let Some(name) = &args.name {
        mailcert_check::check_name(name)?;
    }
    let mut endpoints = Vec::new();
    let mut caa_issuer = args.caa_issuer.clone();
    if let Some(issuer) = &caa_issuer {
        let domain = issuer.trim().trim_end_matches('.');
        if mailcert_x509::parse_name(domain).is_err()
            || !domain.contains('.')
            || domain.contains('*')
        {
            anyhow::bail!(
                "--caa-issuer {issuer}: not an issuer domain; give the domain the CA documents for CAA records, e.g. letsencrypt.org or digicert.com"
            );
        }
    }
    for input in &args.endpoints {
        endpoints.extend(Endpoint::parse_all(input)?);
    }
    if let Some(path) = &args.plan {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("reading --plan {}", path.display()))?;
        let org = mailcert_plan::Organization::from_toml(&text, &path.display().to_string())?;
        if caa_issuer.is_none() {
            caa_issuer = org.caa_issuer();
        }
        let plan = mailcert_plan::plan(&org, at);
        endpoints.extend(mailcert_check::plan_endpoints(&plan));
        if endpoints.is_empty() {
            anyhow::bail!(
                "{}: the plan names no host to check (only wildcards?)",
                path.display()
            );
        }
    }
    let connect = args.connect.as_deref().map(ConnectTo::parse).transpose()?;
    if let Some(c) = &connect {
        if c.port.is_some() && endpoints.len() > 1 {
            anyhow::bail!(
                "--connect {}: a port applies to one endpoint, but {} are checked; give one endpoint with a scheme, or --connect without a port",
                args.connect.as_deref().unwrap_or_default(),
                endpoints.len()
            );
        }
    }
    let (trust, store) = crate::anchors::load_trust(cli, &args.trust, args.config.as_deref())?;
    let mut settings = Settings::new(trust, at);
    settings.name = args.name.clone();
    settings.connect = connect;
    settings.timeout = Duration::from_secs_f64(args.timeout);
    settings.concurrency = args.jobs.max(1);
    settings.legacy_probe = !args.no_legacy_probe;
    settings.bound = bound_lookup(store, args.config.as_deref())?;
    settings.dane_resolver = dane_resolver(args.dns.as_deref(), &endpoints)?;

    let bar = progress_bar(endpoints.len());
    let progress: Option<Progress> = bar.clone().map(|bar| {
        Arc::new(move |done: usize, _total: usize| bar.set_position(done as u64)) as Progress
    });
    let mut report = check_endpoints(&endpoints, &settings, progress)?;
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    if let Some(issuer) = &caa_issuer {
        let resolver = match args.dns.as_deref() {
            Some(server) => mailcert_dane::Resolver::new(
                mailcert_dane::Resolver::parse_server(server).context("--dns")?,
            ),
            None => mailcert_dane::Resolver::system().context("--caa-issuer")?,
        };
        mailcert_check::add_caa_findings(&resolver, &mut report, issuer);
    }
    if !args.mta_sts.is_empty() {
        let resolver = match args.dns.as_deref() {
            Some(server) => mailcert_dane::Resolver::parse_server(server).context("--dns")?,
            None => {
                mailcert_dane::Resolver::system()
                    .context("--mta-sts")?
                    .server
            }
        };
        for domain in &args.mta_sts {
            mailcert_mtasts::policy_domain(domain)
                .with_context(|| format!("--mta-sts {domain}"))?;
        }
        let mut mta_settings = settings.clone();
        mta_settings.connect = None;
        mta_settings.name = None;
        report.mta_sts =
            mailcert_check::check_mta_sts_domains(&args.mta_sts, resolver, &mta_settings)?;
    }
    if args.json {
        output::json(&report)?;
    } else {
        print!("{}", render::report_text(&report));
        for domain in &report.mta_sts {
            print!("{}", render::mta_sts_text(domain));
        }
    }
    Ok(if report.has_errors() {
        Exit::Findings
    } else {
        Exit::Success
    })
}

/// `check --listen`: the probe service, until SIGTERM or Ctrl-C.
fn listen(cli: &Cli, args: &Args, addr: std::net::SocketAddr) -> Result {
    if args.allow.is_empty() {
        anyhow::bail!(
            "--listen {addr}: say which hosts probes may connect to with --allow (mail.contoso.com, *.contoso.com, 192.0.2.0/24; --allow '*' for any host), so that the probe cannot be used to scan other machines"
        );
    }
    let allow = mailcert_watch::AllowList::parse(&args.allow).map_err(anyhow::Error::msg)?;
    let (trust, _store) = crate::anchors::load_trust(cli, &args.trust, args.config.as_deref())?;
    // Each probe sets its own "now"; this one is replaced.
    let mut settings = Settings::new(trust, mailcert_x509::build::now_utc());
    settings.timeout = Duration::from_secs_f64(args.timeout);
    settings.legacy_probe = false;
    let listener = mailcert_watch::http::bind(addr).with_context(|| {
        format!("--listen {addr}: cannot listen there; choose a free address:port")
    })?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the probe service")?;
    let service = mailcert_watch::ProbeService {
        settings,
        allow,
        concurrency: args.jobs.max(1),
    };
    let bound = mailcert_watch::probe::start(runtime.handle(), listener, service)
        .context("starting the probe service")?;
    println!(
        "mailcert: probes at http://{bound}/probe?target=URL for {} (Ctrl-C or SIGTERM stops)",
        args.allow.join(", ")
    );
    runtime.block_on(async {
        use tokio::signal::unix::{signal, SignalKind};
        let mut term = signal(SignalKind::terminate())?;
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
        Ok::<(), std::io::Error>(())
    })?;
    runtime.shutdown_timeout(Duration::from_millis(200));
    Ok(Exit::Success)
}

/// A progress bar on stderr, only when it is a terminal and there is more
/// than one endpoint.
fn progress_bar(total: usize) -> Option<indicatif::ProgressBar> {
    if total < 2 || !std::io::stderr().is_terminal() {
        return None;
    }
    let bar = indicatif::ProgressBar::new(total as u64);
    if let Ok(style) =
        indicatif::ProgressStyle::with_template("checking {bar:30} {pos}/{len} endpoints")
    {
        bar.set_style(style);
    }
    Some(bar)
}

/// With a store: what it binds, and the front-end configuration (`--config`,
/// MAILCERT_CONFIG, or the default file if it exists) for the listeners'
/// own bindings and pins, read as `which` and `serve` read it.
fn bound_lookup(
    store: Option<BoxedStore>,
    config: Option<&Path>,
) -> anyhow::Result<Option<Arc<dyn BoundLookup>>> {
    let Some(store) = store else {
        return Ok(None);
    };
    let config = Config::load_optional(config, None)?;
    // On a fleet's store, what this node would serve.
    let node = mailcert_lifecycle::host::node_name();
    let serving = AddressServing::load(store.as_ref(), config, &node)?;
    Ok(Some(Arc::new(serving)))
}

/// The resolver for TLSA look-ups: `--dns`, else the system's when an
/// smtp:// endpoint is checked (none found: no DANE check, said once).
fn dane_resolver(
    dns: Option<&str>,
    endpoints: &[Endpoint],
) -> anyhow::Result<Option<std::net::SocketAddr>> {
    if let Some(server) = dns {
        return Ok(Some(
            mailcert_dane::Resolver::parse_server(server).context("--dns")?,
        ));
    }
    if !endpoints
        .iter()
        .any(|e| e.scheme == mailcert_check::Scheme::Smtp)
    {
        return Ok(None);
    }
    match mailcert_dane::Resolver::system() {
        Ok(resolver) => Ok(Some(resolver.server)),
        Err(e) => {
            output::note(format!("TLSA records (DANE) not checked: {e}"));
            Ok(None)
        }
    }
}
