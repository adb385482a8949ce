//! `mailcert check`: connect like a client, show what is served, explain
//! what clients will complain about.

use std::io::IsTerminal;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use clap::Parser;
use mailcert_check::{
    check_endpoints, BoundCertificate, BoundLookup, ConnectTo, Endpoint, Origin, Progress, Scheme,
    Settings, TrustStore,
};
use mailcert_config::{Config, Listener};
use mailcert_lifecycle::{ListenerScope, ServingSet};
use mailcert_store::{BoxedStore, StoreLocation, StoreSource};
use mailcert_x509::Service;
use time::OffsetDateTime;

use crate::cmd::which::load_config;
use crate::exit::Exit;
use crate::{context, output, render, Cli, Result};

/// Trust anchors for `check` and `verify`.
#[derive(Debug, Clone, clap::Args)]
pub struct TrustArgs {
    /// Also trust the CA certificates in this file (PEM, DER or .p7b; a private CA); repeatable.
    #[arg(long = "ca-file", value_name = "FILE")]
    pub ca_files: Vec<PathBuf>,
    /// Do not trust the system's roots (only --ca-file and the store's anchors).
    #[arg(long)]
    pub no_system_roots: bool,
}

#[derive(Debug, Parser)]
pub struct Args {
    /// imaps://host[:993], imap://host[:143] (STARTTLS), pop3s://, pop3:// (STLS),
    /// smtps://, smtp:// and submission:// (STARTTLS), https://, or a bare host for all that answer.
    #[arg(value_name = "ENDPOINT", required_unless_present = "plan")]
    pub endpoints: Vec<String>,
    /// Check every namespace of this organisation plan on every protocol that answers
    /// (autodiscover names on HTTPS only).
    #[arg(long, value_name = "ORG.TOML")]
    pub plan: Option<PathBuf>,
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
    pub trust: TrustArgs,
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
}

pub fn run(cli: &Cli, args: &Args) -> Result {
    let at = parse_time(args.at.as_deref())?;
    if !(args.timeout > 0.0 && args.timeout <= 3600.0) {
        anyhow::bail!(
            "--timeout {}: give a number of seconds between 0 and 3600",
            args.timeout
        );
    }
    if let Some(name) = &args.name {
        mailcert_check::check_name(name)?;
    }
    let mut endpoints = Vec::new();
    for input in &args.endpoints {
        endpoints.extend(Endpoint::parse_all(input)?);
    }
    if let Some(path) = &args.plan {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("reading --plan {}", path.display()))?;
        let plan = mailcert_plan::plan_toml(&text, &path.display().to_string(), at)?;
        endpoints.extend(plan_endpoints(&plan));
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
    let (trust, store) = load_trust(cli, &args.trust, args.config.as_deref())?;
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
    let report = check_endpoints(&endpoints, &settings, progress)?;
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    if args.json {
        output::json(&report)?;
    } else {
        print!("{}", render::report_text(&report));
    }
    Ok(if report.has_errors() {
        Exit::Findings
    } else {
        Exit::Success
    })
}

/// Every name of the planned certificates, on every scheme (HTTPS only for
/// autodiscover names); wildcards are skipped. Like a bare host, ports that
/// do not answer are left out of the report.
pub fn plan_endpoints(plan: &mailcert_plan::Plan) -> Vec<Endpoint> {
    let mut seen = std::collections::BTreeSet::new();
    let mut out = Vec::new();
    for cert in &plan.certificates {
        for planned in &cert.names {
            let name = planned.name.as_str();
            if name.contains('*') || !seen.insert(name.to_string()) {
                continue;
            }
            let schemes: &[Scheme] = if name.starts_with("autodiscover.") {
                &[Scheme::Https]
            } else {
                &Scheme::ALL
            };
            for &scheme in schemes {
                out.push(Endpoint {
                    expanded: true,
                    ..Endpoint::new(scheme, name, None)
                });
            }
        }
    }
    out
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

/// `--at`, or now.
pub fn parse_time(at: Option<&str>) -> anyhow::Result<OffsetDateTime> {
    match at {
        Some(text) => Ok(mailcert_x509::time::parse_at(text)?),
        None => Ok(OffsetDateTime::now_utc()),
    }
}

/// System roots (unless refused), `--ca-file`s, and the store's anchors
/// when a store is named (see [`named_store`]); with the store opened for
/// them, for the caller to read on.
pub fn load_trust(
    cli: &Cli,
    args: &TrustArgs,
    config: Option<&Path>,
) -> anyhow::Result<(TrustStore, Option<BoxedStore>)> {
    let mut trust = if args.no_system_roots {
        TrustStore::empty()
    } else {
        TrustStore::system()
    };
    for path in &args.ca_files {
        let bytes =
            std::fs::read(path).with_context(|| format!("reading --ca-file {}", path.display()))?;
        trust.add_pem(&bytes, Origin::Private, &path.display().to_string())?;
    }
    let store = named_store(cli, config)?;
    if let Some(store) = &store {
        for anchor in store.anchors()? {
            let _ = trust.add(&anchor.der, Origin::Private, "the store's trust anchors");
        }
    }
    Ok((trust, store))
}

/// The store `check` and `verify` compare with and take anchors from:
/// only one that is named (`--store`, `MAILCERT_STORE`, a configuration's
/// `[store] path`), never the default, and never created. They work on
/// machines without a store: a named store that does not exist is an
/// error only when `--store` was typed; otherwise they say so and go on
/// without it.
fn named_store(cli: &Cli, config: Option<&Path>) -> anyhow::Result<Option<BoxedStore>> {
    let explicit = context::explicit(cli);
    let configured = match explicit.path {
        Some(_) => None,
        None => context::configuration_store(config)?,
    };
    let chosen = StoreLocation::choose(&explicit, configured.as_ref());
    if chosen.source == StoreSource::Default {
        return Ok(None);
    }
    if !context::store_present(&chosen.location)? {
        let words = context::missing_words(cli, &chosen);
        if cli.store_on_command_line {
            anyhow::bail!("{words}");
        }
        output::note(format!(
            "note: there is no store at {} ({}): going on without a store, so nothing is compared with its bindings and its trust anchors are not used",
            chosen.location.shown(),
            context::source_words(cli, &chosen.source)
        ));
        return Ok(None);
    }
    let location = chosen.location;
    let store = mailcert_store::open(&location)
        .with_context(|| format!("opening the store {}", location.shown()))?;
    Ok(Some(store))
}

/// What the store would serve, per service and listener, as `serve` and
/// `which` choose it.
struct StoreBindings {
    serving: ServingSet,
    /// Listener names of the store's listener-specific bindings, per service.
    bound_listeners: Vec<(Service, String)>,
    config: Option<Config>,
}

/// One way a port of a service may be chosen for.
struct Scope<'a> {
    service: Service,
    listener: Option<&'a str>,
    pin: Option<&'a str>,
}

impl StoreBindings {
    /// The configuration's listener on `address`, when there is one.
    fn listener_on(&self, address: SocketAddr) -> Option<&Listener> {
        self.config.as_ref()?.listeners.iter().find(|l| {
            l.bind.port() == address.port()
                && (l.bind.ip().is_unspecified() || l.bind.ip() == address.ip())
        })
    }

    fn scopes(&self, service: Service, address: SocketAddr) -> Vec<Scope<'_>> {
        if let Some(l) = self.listener_on(address) {
            return vec![Scope {
                service: l.protocol.service(),
                listener: Some(&l.name),
                pin: l.certificate.as_deref(),
            }];
        }
        let mut scopes = vec![Scope {
            service,
            listener: None,
            pin: None,
        }];
        let configured = self.config.iter().flat_map(|c| &c.listeners);
        for l in configured.filter(|l| l.protocol.service() == service) {
            scopes.push(Scope {
                service,
                listener: Some(&l.name),
                pin: l.certificate.as_deref(),
            });
        }
        for (s, name) in &self.bound_listeners {
            if *s == service && !scopes.iter().any(|sc| sc.listener == Some(name.as_str())) {
                scopes.push(Scope {
                    service,
                    listener: Some(name),
                    pin: None,
                });
            }
        }
        scopes
    }
}

impl BoundLookup for StoreBindings {
    fn expected(
        &self,
        service: Service,
        name: Option<&str>,
        address: SocketAddr,
    ) -> Vec<BoundCertificate> {
        // What the server chooses now, whatever --at says; a client asking
        // for an IP address sends no SNI.
        let now = OffsetDateTime::now_utc();
        let sni = name.filter(|n| n.parse::<std::net::IpAddr>().is_err());
        let mut out: Vec<BoundCertificate> = Vec::new();
        for scope in self.scopes(service, address) {
            let listener = ListenerScope {
                name: scope.listener,
                pin: scope.pin,
            };
            let selection = self.serving.select(scope.service, listener, sni, now);
            let Some(thumbprint) = selection.thumbprint() else {
                continue;
            };
            if out.iter().any(|b| b.thumbprint == thumbprint) {
                continue;
            }
            let subject = self
                .serving
                .get(thumbprint)
                .map(|c| c.record.summary.subject_cn())
                .unwrap_or_default();
            out.push(BoundCertificate {
                thumbprint: thumbprint.to_string(),
                subject,
                rule: selection.explain(),
                listener: scope.listener.map(str::to_string),
            });
        }
        out
    }
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
    let config = load_config(config, None)?;
    // On a fleet's store, what this node would serve.
    let node = mailcert_lifecycle::host::node_name();
    let serving = ServingSet::load(store.as_ref(), false)?.on_node(Some(&node));
    let bound_listeners = store
        .bindings()?
        .into_iter()
        .filter_map(|b| b.listener.map(|l| (b.service, l)))
        .collect();
    Ok(Some(Arc::new(StoreBindings {
        serving,
        bound_listeners,
        config,
    })))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plan_namespaces_on_every_protocol() {
        let text = r#"
[organization]
accepted_domains = ["contoso.com"]
issuer = "public"
[namespaces]
client_access = ["mail.contoso.com"]
autodiscover = "names"
"#;
        let at = mailcert_x509::time::parse_at("2026-06-01").expect("date");
        let plan = mailcert_plan::plan_toml(text, "org.toml", at).expect("plan");
        let urls: Vec<String> = plan_endpoints(&plan).iter().map(Endpoint::url).collect();
        assert!(urls.contains(&"https://autodiscover.contoso.com:443".to_string()));
        assert!(!urls.iter().any(|u| u.starts_with("imaps://autodiscover.")));
        for scheme in Scheme::ALL {
            let url = format!("{scheme}://mail.contoso.com:{}", scheme.default_port());
            assert!(urls.contains(&url), "{url} in {urls:?}");
        }
        assert!(plan_endpoints(&plan).iter().all(|e| e.expanded));
    }
}
