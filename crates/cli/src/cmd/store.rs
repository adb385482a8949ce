//! `mailcert store copy`: a whole store from one database to another
//! (SQLite → PostgreSQL to start a fleet, PostgreSQL → SQLite for a
//! backup or to leave one), verified after the copy.

use std::path::PathBuf;

use anyhow::Context as _;
use clap::{Parser, Subcommand};
use mailcert_store::StoreLocation;

use crate::exit::Exit;
use crate::{output, Cli, Result};

#[derive(Debug, Parser)]
pub struct Args {
    #[command(subcommand)]
    pub command: StoreCommand,
}

#[derive(Debug, Subcommand)]
pub enum StoreCommand {
    /// Copy everything (certificates, keys, pending requests, bindings, anchors, ACME accounts and leases, the audit log), then verify the copy.
    Copy(CopyArgs),
}

#[derive(Debug, Parser)]
pub struct CopyArgs {
    /// The store to copy: a SQLite file or a postgres:// URL.
    #[arg(long, value_name = "STORE")]
    pub from: PathBuf,
    /// The store to copy into (created when it does not exist).
    #[arg(long, value_name = "STORE")]
    pub to: PathBuf,
    /// The key file of --from (default: --store-key-file / MAILCERT_STORE_KEY_FILE, else beside a SQLite file).
    #[arg(long, value_name = "PATH")]
    pub from_key_file: Option<PathBuf>,
    /// The key file of --to (default: the key file of --from, so both stores open with the same key; made when missing).
    #[arg(long, value_name = "PATH")]
    pub to_key_file: Option<PathBuf>,
    /// Replace what --to holds (otherwise a store that holds anything is refused).
    #[arg(long)]
    pub force: bool,
    /// Print the outcome as JSON.
    #[arg(long)]
    pub json: bool,
}

pub fn run(cli: &Cli, args: &Args) -> Result {
    match &args.command {
        StoreCommand::Copy(copy) => run_copy(cli, copy),
    }
}

fn run_copy(cli: &Cli, args: &CopyArgs) -> Result {
    let from_key = args
        .from_key_file
        .as_deref()
        .or(cli.store_key_file.as_deref());
    let from = StoreLocation::resolve(Some(&args.from), from_key);
    from.database().context("--from")?;
    let to_key = args.to_key_file.clone().unwrap_or_else(|| from.key.clone());
    let to = StoreLocation::resolve(Some(&args.to), Some(&to_key));
    to.database().context("--to")?;
    if from.db == to.db {
        anyhow::bail!("--from and --to name the same store {}", from.shown());
    }
    let source = mailcert_store::open(&from)
        .with_context(|| format!("opening the store to copy, {}", from.shown()))?;
    let dump = source
        .dump()
        .with_context(|| format!("reading the store {}", from.shown()))?;
    // Refuse before creating anything when the target holds something.
    if mailcert_store::exists(&to).with_context(|| format!("opening {}", to.shown()))?
        && !args.force
    {
        let target =
            mailcert_store::open(&to).with_context(|| format!("opening {}", to.shown()))?;
        let held = target.dump()?;
        if !held.is_empty() {
            anyhow::bail!(
                "{} already holds a store ({}); nothing was copied. Copy into an empty database or file, or pass --force to replace what it holds",
                to.shown(),
                held.counts()
            );
        }
    }
    let (mut target, _) = mailcert_store::open_or_create(&to)
        .with_context(|| format!("opening the store to copy into, {}", to.shown()))?;
    target
        .restore(&dump, args.force)
        .with_context(|| format!("copying into {}", to.shown()))?;
    let copied = target
        .dump()
        .with_context(|| format!("reading back {}", to.shown()))?;
    let differences = dump.differences(&copied);
    if !differences.is_empty() {
        anyhow::bail!(
            "the copy in {} differs from {}: {}; do not use it",
            to.shown(),
            from.shown(),
            differences.join("; ")
        );
    }
    if args.json {
        output::json(&serde_json::json!({
            "from": from.db,
            "to": to.db,
            "key_file": to.key,
            "certificates": dump.certificates.len(),
            "pending_requests": dump.pending.len(),
            "bindings": dump.bindings.len(),
            "trust_anchors": dump.anchors.len(),
            "named_values": dump.values.len(),
            "audit_entries": dump.audit.len(),
            "verified": true,
        }))?;
    } else {
        eprintln!(
            "mailcert: copied {} from {} to {} and verified the copy; its key file is {} (every node needs a copy of it)",
            dump.counts(),
            from.shown(),
            to.shown(),
            to.key.display()
        );
    }
    Ok(Exit::Success)
}
