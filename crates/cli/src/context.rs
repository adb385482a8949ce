//! Opening the store for a command.
//!
//! Where: [`StoreLocation::choose`], the one precedence rule (`--store`,
//! then `MAILCERT_STORE`, then the configuration's `[store]`, then the
//! default). The configuration is the one the command read (`--config`
//! of `which`, `enable`, …), else the one `serve` would read
//! (`MAILCERT_CONFIG`, else the default file, when it exists).
//!
//! Whether it may be created: commands that add something to a store
//! (`init`, `new`, `request`, `import`, `trust add`, `ca init`, `acme
//! register`, `serve`) create it on first use with the secure-by-default
//! certificate, as `init` would; a store that was initialised before is
//! never initialised again. Every other command opens it with
//! [`existing`] and never creates one: a mistyped `--store` is an error
//! that names the path, not a new store.

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use mailcert_config::Config;
use mailcert_lifecycle::{host::os_user, Manager};
use mailcert_store::{
    ChosenStore, ConfiguredStore, ExplicitStore, Opened, StoreLocation, StoreSource,
};

use crate::Cli;

/// What the command line and the environment named.
pub fn explicit(cli: &Cli) -> ExplicitStore {
    ExplicitStore {
        path: cli.store.clone(),
        key_file: cli.store_key_file.clone(),
    }
}

/// The store of this command. `config` is the configuration the command
/// read, if it reads one; otherwise the `[store]` table of the file
/// `serve` would read counts.
pub fn chosen(cli: &Cli, config: Option<&Config>) -> anyhow::Result<ChosenStore> {
    let explicit = explicit(cli);
    // A database named outright takes nothing from a configuration.
    if explicit.path.is_some() {
        return Ok(StoreLocation::choose(&explicit, None));
    }
    let configured = match config {
        Some(config) => Some(config.store.clone()),
        None => configuration_store(None)?,
    };
    Ok(StoreLocation::choose(&explicit, configured.as_ref()))
}

pub fn location(cli: &Cli, config: Option<&Config>) -> anyhow::Result<StoreLocation> {
    Ok(chosen(cli, config)?.location)
}

/// The `[store]` table of `path`, else of `MAILCERT_CONFIG`, else of the
/// default configuration file if there is one. Only that table is read:
/// a problem elsewhere in the file is for `serve` and `--config` to report.
pub fn configuration_store(path: Option<&Path>) -> anyhow::Result<Option<ConfiguredStore>> {
    let from_env = std::env::var_os("MAILCERT_CONFIG").filter(|v| !v.is_empty());
    let path = match (path, from_env) {
        (Some(path), _) => path.to_path_buf(),
        (None, Some(path)) => PathBuf::from(path),
        (None, None) => {
            let default = mailcert_config::default_config_path();
            if !default.exists() {
                return Ok(None);
            }
            default
        }
    };
    let table = mailcert_config::read_store_table(&path).with_context(|| {
        format!(
            "reading [store] of the front-end configuration {} (to find the store); fix the file, or name the store with --store",
            path.display()
        )
    })?;
    Ok(Some(table))
}

/// Why the store is at that path, for messages: "named by --store", …
pub fn source_words(cli: &Cli, source: &StoreSource) -> String {
    match source {
        StoreSource::Explicit if cli.store_on_command_line => "named by --store".into(),
        StoreSource::Explicit => "named by MAILCERT_STORE".into(),
        other => other.to_string(),
    }
}

/// Opens the store, creating and initialising it on first use (on a
/// fleet's shared store, without a certificate for this machine).
pub fn manager(cli: &Cli, config: Option<&Config>) -> anyhow::Result<Manager> {
    let location = location(cli, config)?;
    let (mut manager, opened) = open(&location)?;
    manager.first_use(&location, opened, &mut |line| eprintln!("mailcert: {line}"))?;
    Ok(manager)
}

/// Opens the store if there is one; `None` when there is none yet (no
/// database file, or an empty one, which is what `manager` would create
/// a store in). Never creates anything.
pub fn existing_manager(cli: &Cli, config: Option<&Config>) -> anyhow::Result<Option<Manager>> {
    let location = location(cli, config)?;
    if !store_present(&location)? {
        return Ok(None);
    }
    open_existing(&location).map(Some)
}

/// Opens the store, which must exist: a command that reads or changes
/// what a store holds has nothing to do in a new one, so a missing store
/// is an error naming the path and how to make one.
pub fn existing(cli: &Cli, config: Option<&Config>) -> anyhow::Result<Manager> {
    let chosen = chosen(cli, config)?;
    if !store_present(&chosen.location)? {
        anyhow::bail!("{}", missing_words(cli, &chosen));
    }
    open_existing(&chosen.location)
}

/// "There is no store at …": the path, why that path, and the fix.
pub fn missing_words(cli: &Cli, chosen: &ChosenStore) -> String {
    format!(
        "there is no store at {} ({}); create it with `{}`, or name the store you meant with --store",
        chosen.location.shown(),
        source_words(cli, &chosen.source),
        init_command(chosen)
    )
}

/// The `init` that creates exactly this store, whatever the environment
/// and configuration of the next command say.
fn init_command(chosen: &ChosenStore) -> String {
    let location = &chosen.location;
    let mut words = vec!["mailcert".to_string()];
    if chosen.source != StoreSource::Default {
        words.push(format!(
            "--store {}",
            shell_word(&location.shown().to_string())
        ));
    }
    if location.key != mailcert_store::key_path_for(&location.db) {
        words.push(format!(
            "--store-key-file {}",
            shell_word(&location.key.display().to_string())
        ));
    }
    words.push("init".into());
    words.join(" ")
}

/// `text` as one shell word, so that a printed command can be pasted: a
/// store URL carries `?` and `&`.
fn shell_word(text: &str) -> String {
    let plain = !text.is_empty()
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "@%+=:,./_-".contains(c));
    if plain {
        text.to_string()
    } else {
        format!("'{}'", text.replace('\'', "'\\''"))
    }
}

/// A database file with something in it (an empty file is what a
/// creating command would initialise), or a PostgreSQL database holding
/// mailcert's schema (an empty database is what a creating command
/// would set up). A database that cannot be reached, or that is not
/// mailcert's, is an error naming it.
pub fn store_present(location: &StoreLocation) -> anyhow::Result<bool> {
    // A URL of a scheme mailcert does not read is an error, not a file
    // that is not there.
    location.database()?;
    mailcert_store::exists(location)
        .with_context(|| format!("opening the store {}", location.shown()))
}

fn open_existing(location: &StoreLocation) -> anyhow::Result<Manager> {
    let store = mailcert_store::open(location)
        .with_context(|| format!("opening the store {}", location.shown()))?;
    for warning in store.warnings() {
        eprintln!("mailcert: warning: {warning}");
    }
    Ok(Manager::new(store, os_user()))
}

/// Opens the store for `init`, which does its own initialisation.
pub fn manager_uninitialised(cli: &Cli) -> anyhow::Result<(Manager, Opened, StoreLocation)> {
    let location = location(cli, None)?;
    let (manager, opened) = open(&location)?;
    Ok((manager, opened, location))
}

/// Opens (or creates) the store and says what should be fixed about its
/// files.
pub fn open(location: &StoreLocation) -> anyhow::Result<(Manager, Opened)> {
    let (store, opened) = mailcert_store::open_or_create(location)
        .with_context(|| format!("opening the store {}", location.shown()))?;
    for warning in store.warnings() {
        eprintln!("mailcert: warning: {warning}");
    }
    Ok((Manager::new(store, os_user()), opened))
}

/// Opens (or creates) the store for a node and initialises it on its
/// first start, telling what was done.
pub fn open_for_node(location: &StoreLocation, node: &str) -> anyhow::Result<Manager> {
    let (manager, opened) = open(location)?;
    let mut manager = manager.on_node(node);
    manager.first_start(location, opened, &mut |line| eprintln!("mailcert: {line}"))?;
    Ok(manager)
}
