//! What `check` and `verify` share: the trust anchors they judge with
//! (system roots, `--ca-file`, a named store's anchors) and the time they
//! judge at (`--at`).

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use mailcert_check::{Origin, TrustStore};
use mailcert_store::{BoxedStore, StoreLocation, StoreSource};
use time::OffsetDateTime;

use crate::{context, output, Cli};

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
