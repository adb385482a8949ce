//! ACME accounts in the store: one per directory, its key encrypted with
//! the store key (`acme.account.<directory>`), and which directory is the
//! default (`acme.directory`).

use instant_acme::{Account, AccountCredentials, Key, NewAccount};
use mailcert_store::{Change, Op, Store};
use rustls_pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};
use serde::{Deserialize, Serialize};

use crate::directory::http_client;
use crate::error::{describe_problem, AcmeError, Result};

/// Prefix of the named values holding accounts (secret).
pub const ACCOUNT_PREFIX: &str = "acme.account.";
/// Named value with the directory `register` used last: the default.
pub const DEFAULT_DIRECTORY_KEY: &str = "acme.directory";

/// What the store keeps about an account (encrypted at rest).
#[derive(Serialize, Deserialize)]
pub struct AccountRecord {
    pub directory: String,
    pub email: Option<String>,
    /// PEM of extra trust anchors for the directory's HTTPS (`--ca-file`).
    pub ca_pem: Option<String>,
    pub credentials: AccountCredentials,
}

/// An account ready to place orders.
#[derive(Clone)]
pub struct AcmeAccount {
    pub directory: String,
    pub email: Option<String>,
    pub ca_pem: Option<String>,
    pub id: String,
    pub account: Account,
}

/// What `register` did.
pub struct Registered {
    pub account: AcmeAccount,
    /// False when an existing account was reused.
    pub created: bool,
    pub change: Option<Change>,
}

fn account_key(directory: &str) -> String {
    format!("{ACCOUNT_PREFIX}{directory}")
}

/// The stored account record for `directory`, if any.
pub fn account_record(store: &dyn Store, directory: &str) -> Result<Option<AccountRecord>> {
    let Some(bytes) = store.value(&account_key(directory))? else {
        return Ok(None);
    };
    serde_json::from_slice(&bytes).map(Some).map_err(|e| {
        AcmeError::Store(mailcert_store::StoreError::Corrupt {
            what: format!("ACME account for {directory}"),
            reason: e.to_string(),
        })
    })
}

/// The directory to use when `--directory` is not given: the one
/// registered last.
pub fn default_directory(store: &dyn Store) -> Result<Option<String>> {
    Ok(store
        .value(DEFAULT_DIRECTORY_KEY)?
        .map(|v| String::from_utf8_lossy(&v).into_owned()))
}

/// Creates an account on `directory`, or reuses the one the store holds
/// (checked with the CA; contacts updated when `email` changed). Returns
/// the change to apply; nothing is stored here.
pub async fn register(
    store: &dyn Store,
    directory: &str,
    email: Option<&str>,
    ca_pem: Option<String>,
    user: &str,
) -> Result<Registered> {
    let existing = account_record(store, directory)?;
    register_with(existing, directory, email, ca_pem, user).await
}

/// [`register`] given what the store holds for `directory` (`None` when
/// there is no account, or no store yet: the caller creates the store
/// only once the CA has answered).
pub async fn register_with(
    existing: Option<AccountRecord>,
    directory: &str,
    email: Option<&str>,
    ca_pem: Option<String>,
    user: &str,
) -> Result<Registered> {
    if let Some(email) = email {
        if !email.contains('@') || email.contains(char::is_whitespace) {
            return Err(AcmeError::BadInput(format!(
                "--email '{email}' is not an e-mail address"
            )));
        }
    }
    let contact = email.map(|e| format!("mailto:{e}"));
    let contacts: Vec<&str> = contact.iter().map(String::as_str).collect();
    let ca_pem = ca_pem.or_else(|| existing.as_ref().and_then(|r| r.ca_pem.clone()));
    let http = http_client(ca_pem.as_deref())?;
    if let Some(record) = existing {
        let pkcs8 = record.credentials.private_key().clone_key();
        let key = Key::from_pkcs8_der(PrivatePkcs8KeyDer::from(pkcs8.secret_pkcs8_der()))
            .map_err(|e| AcmeError::server(directory, e))?;
        let found = Account::builder_with_http(http)
            .from_key((key, PrivateKeyDer::Pkcs8(pkcs8)), directory.to_string())
            .await;
        match found {
            Ok((account, credentials)) => {
                if email.is_some() && email != record.email.as_deref() {
                    account
                        .update_contacts(&contacts)
                        .await
                        .map_err(|e| AcmeError::refused("the new contact address", e))?;
                }
                let id = account.id().to_string();
                let record = AccountRecord {
                    directory: directory.to_string(),
                    email: email.map(str::to_string).or(record.email),
                    ca_pem,
                    credentials,
                };
                let change = save(&record, user, &format!("reused ACME account {id}"))?;
                return Ok(Registered {
                    account: AcmeAccount {
                        directory: record.directory,
                        email: record.email,
                        ca_pem: record.ca_pem,
                        id,
                        account,
                    },
                    created: false,
                    change: Some(change),
                });
            }
            Err(instant_acme::Error::Api(problem))
                if problem
                    .r#type
                    .as_deref()
                    .is_some_and(|t| t.ends_with(":accountDoesNotExist")) =>
            {
                tracing::warn!(
                    "the stored ACME account is unknown to {directory} ({}); creating a new one",
                    describe_problem(&problem)
                );
            }
            Err(e) => return Err(unreachable_directory(directory, ca_pem.as_deref(), e).await),
        }
    }
    let http = http_client(ca_pem.as_deref())?;
    let created = Account::builder_with_http(http)
        .create(
            &NewAccount {
                contact: &contacts,
                terms_of_service_agreed: true,
                only_return_existing: false,
            },
            directory.to_string(),
            None,
        )
        .await;
    let (account, credentials) = match created {
        Ok(done) => done,
        Err(e) => return Err(unreachable_directory(directory, ca_pem.as_deref(), e).await),
    };
    let id = account.id().to_string();
    let record = AccountRecord {
        directory: directory.to_string(),
        email: email.map(str::to_string),
        ca_pem,
        credentials,
    };
    let change = save(&record, user, &format!("created ACME account {id}"))?;
    Ok(Registered {
        account: AcmeAccount {
            directory: record.directory,
            email: record.email,
            ca_pem: record.ca_pem,
            id,
            account,
        },
        created: true,
        change: Some(change),
    })
}

/// The client's error, or — when it could not read what the URL sent as
/// a directory — what the URL actually answered, in plain words.
async fn unreachable_directory(
    directory: &str,
    ca_pem: Option<&str>,
    error: instant_acme::Error,
) -> AcmeError {
    if matches!(error, instant_acme::Error::Json(_)) {
        if let Some(plain) = crate::directory::not_a_directory(directory, ca_pem).await {
            return plain;
        }
    }
    AcmeError::server(directory, error)
}

fn save(record: &AccountRecord, user: &str, line: &str) -> Result<Change> {
    let json = serde_json::to_vec(record).map_err(|e| AcmeError::BadInput(e.to_string()))?;
    let mut change = Change::new("acme register", user);
    change.describe(format!("{line} on {}", record.directory));
    change.push(Op::SetValue {
        key: account_key(&record.directory),
        value: Some(json),
        secret: true,
    });
    change.push(Op::SetValue {
        key: DEFAULT_DIRECTORY_KEY.into(),
        value: Some(record.directory.clone().into_bytes()),
        secret: false,
    });
    Ok(change)
}

/// Loads the stored account for `directory` (or the default directory).
pub async fn load_account(store: &dyn Store, directory: Option<&str>) -> Result<AcmeAccount> {
    let directory = match directory {
        Some(d) => d.to_string(),
        None => default_directory(store)?.ok_or_else(|| {
            AcmeError::BadInput(
                "no ACME account yet; create one with `mailcert acme register --directory letsencrypt --email you@example.com`".into(),
            )
        })?,
    };
    let record = account_record(store, &directory)?.ok_or_else(|| AcmeError::NoAccount {
        directory: directory.clone(),
    })?;
    let http = http_client(record.ca_pem.as_deref())?;
    let account = match Account::builder_with_http(http)
        .from_credentials(record.credentials)
        .await
    {
        Ok(account) => account,
        Err(e) => return Err(unreachable_directory(&directory, record.ca_pem.as_deref(), e).await),
    };
    Ok(AcmeAccount {
        id: account.id().to_string(),
        directory,
        email: record.email,
        ca_pem: record.ca_pem,
        account,
    })
}
