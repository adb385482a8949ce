use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context as _;
use clap::Parser;
use mailcert_config::Config;
use mailcert_front::{ChallengeMap, Front, FrontOptions};
use mailcert_lifecycle::{host::os_user, Manager};
use mailcert_store::{SqliteStore, StoreLocation};

use crate::exit::Exit;
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
}

pub fn run(cli: &Cli, args: &Args) -> Result {
    let root = mailcert_front::is_root();
    if args.print_default_config {
        print!("{}", mailcert_front::default_config(root));
        return Ok(Exit::Success);
    }
    init_logging();
    let config = load_or_write_default(args.config.clone(), root)?;
    let store_fixed = cli.store.is_some();
    let location = match (&cli.store, &config.store_path) {
        (Some(_), _) | (None, None) => crate::context::location(cli),
        (None, Some(path)) => StoreLocation::resolve(Some(path), cli.store_key_file.as_deref()),
    };
    ensure_store(&location)?;
    let challenges = ChallengeMap::new();
    let options = FrontOptions {
        store: location.clone(),
        store_fixed,
        challenges: challenges.clone(),
    };
    let front = Front::start(config.clone(), options)?;
    // ACME renewal beside the front end; its listeners answer the challenges.
    let _renewal = mailcert_acme::serve::start_renewal(
        location.clone(),
        Arc::new(FrontChallenges(challenges)),
        mailcert_acme::serve::RENEWAL_INTERVAL,
    )
    .context("starting the ACME renewal engine")?;
    let hostname = config
        .listeners
        .iter()
        .find_map(|l| l.hostname.clone())
        .unwrap_or_else(|| mailcert_lifecycle::host::host_names().0);
    println!(
        "mailcert: serving certificates from {} (configuration {})",
        location.db.display(),
        config.path.display()
    );
    let hint = pem_hint(&location);
    for line in mailcert_front::describe(&front.bound(), &hostname, &hint) {
        println!("{line}");
    }
    println!(
        "SIGHUP rereads the configuration; SIGTERM or Ctrl-C stops after open connections finish."
    );
    front.run_until_signalled()?;
    Ok(Exit::Success)
}

/// The front end's challenge map as the ACME engine's sink.
struct FrontChallenges(Arc<ChallengeMap>);

impl mailcert_acme::ChallengeSink for FrontChallenges {
    fn set_http01(&self, token: &str, key_authorization: Option<String>) {
        self.0.set_http01(token, key_authorization);
    }

    fn set_tls_alpn01(
        &self,
        server_name: &str,
        certificate: Option<Arc<rustls::sign::CertifiedKey>>,
    ) {
        self.0.set_tls_alpn01(server_name, certificate);
    }
}

/// How to save the certificate a client without SNI gets, to trust it.
fn pem_hint(location: &StoreLocation) -> String {
    let thumb = SqliteStore::open(location).ok().and_then(|store| {
        let manager = Manager::new(Box::new(store), os_user());
        let scope = mailcert_lifecycle::ListenerScope::default();
        let (selection, _) = manager
            .which(mailcert_x509::Service::Imap, scope, None)
            .ok()?;
        selection.thumbprint().map(str::to_string)
    });
    let store = format!("--store {}", location.db.display());
    match thumb {
        Some(t) => format!("mailcert {store} show {t} --pem > server.pem"),
        None => format!(
            "mailcert {store} list, then: mailcert {store} show THUMBPRINT --pem > server.pem"
        ),
    }
}

fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("MAILCERT_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr)
        .try_init();
}

/// `--config`, else the default file; a missing default file is written
/// with the defaults so that it can be edited and reloaded with SIGHUP.
fn load_or_write_default(path: Option<PathBuf>, root: bool) -> anyhow::Result<Config> {
    if let Some(path) = path {
        return Ok(Config::load(&path)?);
    }
    let path = mailcert_config::default_config_path();
    if !path.exists() {
        let text = mailcert_front::default_config(root);
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        }
        std::fs::write(&path, &text).with_context(|| format!("writing {}", path.display()))?;
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
    Ok(Config::load(&path)?)
}

/// Creates and initialises the store on first use (secure by default),
/// by the same rule as every other command: only a store that was never
/// initialised gets the self-signed certificate.
fn ensure_store(location: &StoreLocation) -> anyhow::Result<()> {
    let (mut manager, opened) = crate::context::open(location)?;
    crate::context::first_start(&mut manager, location, opened, "mailcert: ")
}
