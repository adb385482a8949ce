//! Opening the store for a command. The first command that needs a store
//! creates it with the secure-by-default certificate, as `init` would;
//! a store that was initialised before is never initialised again;
//! commands that only read it, or that cannot do anything without what
//! an existing store holds, open it with [`existing_manager`] and never
//! create one.

use anyhow::Context as _;
use mailcert_lifecycle::{host::os_user, Manager};
use mailcert_store::{Opened, SqliteStore, StoreLocation};

use crate::Cli;

pub fn location(cli: &Cli) -> StoreLocation {
    StoreLocation::resolve(cli.store.as_deref(), cli.store_key_file.as_deref())
}

/// Opens the store, creating and initialising it on first use.
pub fn manager(cli: &Cli) -> anyhow::Result<Manager> {
    let location = location(cli);
    let (mut manager, opened) = open(&location)?;
    first_start(&mut manager, &location, opened, "mailcert: ")?;
    Ok(manager)
}

/// Opens the store if there is one; `None` when there is none yet (no
/// database file, or an empty one, which is what `manager` would create
/// a store in). Never creates anything.
pub fn existing_manager(cli: &Cli) -> anyhow::Result<Option<Manager>> {
    let location = location(cli);
    let present = std::fs::metadata(&location.db)
        .map(|m| m.len() > 0)
        .unwrap_or(false);
    if !present {
        return Ok(None);
    }
    let store = SqliteStore::open(&location)
        .with_context(|| format!("opening the store {}", location.db.display()))?;
    Ok(Some(Manager::new(Box::new(store), os_user())))
}

/// Opens the store for `init`, which does its own initialisation.
pub fn manager_uninitialised(cli: &Cli) -> anyhow::Result<(Manager, Opened)> {
    open(&location(cli))
}

/// Opens (or creates) the store and says what should be fixed about its
/// files.
pub fn open(location: &StoreLocation) -> anyhow::Result<(Manager, Opened)> {
    let (store, opened) = SqliteStore::open_or_create(location)
        .with_context(|| format!("opening the store {}", location.db.display()))?;
    for warning in store.warnings() {
        eprintln!("mailcert: warning: {warning}");
    }
    Ok((Manager::new(Box::new(store), os_user()), opened))
}

/// What happened to the store file, for the administrator.
pub fn opened_words(location: &StoreLocation, opened: Opened) -> Option<String> {
    match opened {
        Opened::Existing => None,
        Opened::Created => Some(format!("created the store {}", location.db.display())),
        Opened::EmptyFileInitialised => Some(format!(
            "{} was an empty file: initialised it as a new store",
            location.db.display()
        )),
        Opened::Finished => Some(format!(
            "the store {} was left unfinished by an interrupted start (its key file {} was missing or empty, and nothing was encrypted yet): gave it a new key",
            location.db.display(),
            location.key.display()
        )),
    }
}

/// The rule of every first start (any command, `serve`): `init` runs when
/// the store was never initialised, and only then.
pub fn first_start(
    manager: &mut Manager,
    location: &StoreLocation,
    opened: Opened,
    prefix: &str,
) -> anyhow::Result<()> {
    if let Some(words) = opened_words(location, opened) {
        eprintln!("{prefix}{words}");
    }
    if let Some(report) = manager.ensure_initialised()? {
        if !opened.is_new() {
            eprintln!(
                "{prefix}the store {} was never initialised: initialising it now",
                location.db.display()
            );
        }
        for line in report.lines {
            eprintln!("{prefix}{line}");
        }
    }
    Ok(())
}
