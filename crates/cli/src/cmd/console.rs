//! `mailcert console user add|list|remove|passwd`: the accounts of the web
//! console (which `serve` runs when `[console] bind` is set). Passwords are
//! read like PFX passwords: `--password-file`, `MAILCERT_PASSWORD`, or a
//! prompt; never from the command line.

use std::path::PathBuf;

use clap::{Parser, Subcommand};
use mailcert_console::accounts;
use mailcert_x509::time::rfc3339;

use crate::exit::Exit;
use crate::{context, files, output, Cli, Result};

#[derive(Debug, Parser)]
pub struct Args {
    #[command(subcommand)]
    pub command: ConsoleCommand,
}

#[derive(Debug, Subcommand)]
pub enum ConsoleCommand {
    /// The console's user accounts.
    User(UserArgs),
}

#[derive(Debug, Parser)]
pub struct UserArgs {
    #[command(subcommand)]
    pub command: UserCommand,
}

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Add an account (its password is stored as an Argon2id hash).
    Add {
        /// The user name: letters, digits, '.', '_', '-', '@' (case does not matter).
        name: String,
        /// A file whose first line is the password (else MAILCERT_PASSWORD, else a prompt).
        #[arg(long)]
        password_file: Option<PathBuf>,
    },
    /// List the accounts, with their last login and open sessions.
    List {
        /// Print a JSON array, one object per account.
        #[arg(long)]
        json: bool,
    },
    /// Remove an account; its sessions end at once.
    Remove {
        /// The user name.
        name: String,
    },
    /// Set a new password; every session of the account ends.
    Passwd {
        /// The user name.
        name: String,
        /// A file whose first line is the new password (else MAILCERT_PASSWORD, else a prompt).
        #[arg(long)]
        password_file: Option<PathBuf>,
    },
}

pub fn run(cli: &Cli, args: &Args) -> Result {
    let ConsoleCommand::User(user) = &args.command;
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    match &user.command {
        UserCommand::Add {
            name,
            password_file,
        } => {
            // Checked before a store is created or a password asked for.
            let name = accounts::canonical_name(name)?;
            let password = files::password(
                password_file.as_deref(),
                &format!("for console user {name}"),
                true,
            )?;
            accounts::ensure_password(&password)?;
            let mut manager = context::manager(cli, None)?;
            let actor = manager.user.clone();
            accounts::add_user(manager.store.as_mut(), &actor, &name, &password, now)?;
            output::note(format!("added console user {name}"));
        }
        UserCommand::Passwd {
            name,
            password_file,
        } => {
            let name = accounts::canonical_name(name)?;
            let mut manager = context::existing(cli, None)?;
            if accounts::user(manager.store.as_ref(), &name)?.is_none() {
                return Err(mailcert_console::ConsoleError::NoSuchUser(name).into());
            }
            let password = files::password(
                password_file.as_deref(),
                &format!("for console user {name}"),
                true,
            )?;
            let actor = manager.user.clone();
            let ended =
                accounts::set_password(manager.store.as_mut(), &actor, &name, &password, now)?;
            output::note(format!(
                "changed the password of console user {name}{}",
                ended_words(ended)
            ));
        }
        UserCommand::Remove { name } => {
            let mut manager = context::existing(cli, None)?;
            let actor = manager.user.clone();
            let ended = accounts::remove_user(manager.store.as_mut(), &actor, name)?;
            output::note(format!(
                "removed console user {}{}",
                accounts::canonical_name(name)?,
                ended_words(ended)
            ));
        }
        UserCommand::List { json } => {
            let manager = context::existing(cli, None)?;
            let users = accounts::list_users(manager.store.as_ref())?;
            let when = |t: Option<i64>| {
                t.and_then(|t| time::OffsetDateTime::from_unix_timestamp(t).ok())
                    .map(rfc3339)
            };
            if *json {
                let rows: Vec<_> = users
                    .iter()
                    .map(|u| {
                        serde_json::json!({
                            "name": u.name,
                            "created": when(Some(u.created)),
                            "password_changed": when(Some(u.password_changed)),
                            "last_login": when(u.last_login),
                            "last_login_address": u.last_login_address,
                            "sessions": u.sessions,
                        })
                    })
                    .collect();
                output::json(&rows)?;
                return Ok(Exit::Success);
            }
            if users.is_empty() {
                output::note("no console users; add one with `mailcert console user add NAME`");
                return Ok(Exit::Success);
            }
            let rows = users
                .iter()
                .map(|u| {
                    vec![
                        u.name.clone(),
                        when(Some(u.created)).unwrap_or_default(),
                        when(u.last_login).unwrap_or_else(|| "never".into()),
                        u.last_login_address.clone().unwrap_or_else(|| "-".into()),
                        u.sessions.to_string(),
                    ]
                })
                .collect();
            let table = output::table(&["Name", "Created", "LastLogin", "From", "Sessions"], rows);
            output::line(table.trim_end())?;
        }
    }
    Ok(Exit::Success)
}

fn ended_words(ended: usize) -> String {
    match ended {
        0 => String::new(),
        1 => "; its open session ended".into(),
        n => format!("; its {n} open sessions ended"),
    }
}
