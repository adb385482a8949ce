//! Opening the store for a command. The first command that needs a store
//! creates it with the secure-by-default certificate, as `init` would;
//! commands that only read it, or that cannot do anything without what
//! an existing store holds, open it with [`existing_manager`] and never
//! create one.

use anyhow::Context as _;
use mailcert_lifecycle::{host::os_user, Manager};
use mailcert_store::{SqliteStore, StoreLocation};
use mailcert_x509::KeyType;

use crate::Cli;

pub fn location(cli: &Cli) -> StoreLocation {
    StoreLocation::resolve(cli.store.as_deref(), cli.store_key_file.as_deref())
}

/// Opens the store, creating and initialising it on first use.
pub fn manager(cli: &Cli) -> anyhow::Result<Manager> {
    let location = location(cli);
    let (store, created) = SqliteStore::open_or_create(&location)
        .with_context(|| format!("opening the store {}", location.db.display()))?;
    let mut manager = Manager::new(Box::new(store), os_user());
    if created {
        let report = manager.init(None, KeyType::EcP256)?;
        eprintln!("mailcert: created the store {}", location.db.display());
        for line in report.lines {
            eprintln!("mailcert: {line}");
        }
    }
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
pub fn manager_uninitialised(cli: &Cli) -> anyhow::Result<(Manager, bool)> {
    let location = location(cli);
    let (store, created) = SqliteStore::open_or_create(&location)
        .with_context(|| format!("opening the store {}", location.db.display()))?;
    Ok((Manager::new(Box::new(store), os_user()), created))
}
