//! Where the store lives. One precedence rule, used by every command and
//! by `serve` (also on reload):
//!
//! 1. `--store` (or `MAILCERT_STORE`, which fills it),
//! 2. the `[store] path` of the front end's configuration,
//! 3. the default (root: /var/lib/mailcert; others: the XDG data directory).
//!
//! The key file: `--store-key-file` / `MAILCERT_STORE_KEY_FILE`, else the
//! configuration's `[store] key_file` (unless `--store` named another
//! database: a key file belongs to its database), else beside the
//! database (`store.db.key`).

use std::ffi::OsStr;
use std::fmt;
use std::path::{Path, PathBuf};

use crate::error::{Result, StoreError};
use crate::postgres::target::{redact_text, PgTarget};

/// The database file and its key file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreLocation {
    pub db: PathBuf,
    pub key: PathBuf,
}

/// What the command line and the environment say about the store
/// (`--store`/`MAILCERT_STORE`, `--store-key-file`/`MAILCERT_STORE_KEY_FILE`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExplicitStore {
    pub path: Option<PathBuf>,
    pub key_file: Option<PathBuf>,
}

impl ExplicitStore {
    /// Both files named: nothing a configuration says moves them.
    pub fn fixed(location: &StoreLocation) -> ExplicitStore {
        ExplicitStore {
            path: Some(location.db.clone()),
            key_file: Some(location.key.clone()),
        }
    }
}

/// The `[store]` table of a configuration file, its paths already
/// resolved against the file's directory.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConfiguredStore {
    /// The configuration file, for messages.
    pub file: PathBuf,
    pub path: Option<PathBuf>,
    pub key_file: Option<PathBuf>,
}

/// Where the database path of a [`ChosenStore`] came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreSource {
    /// `--store` or `MAILCERT_STORE`.
    Explicit,
    /// `[store] path` of this configuration file.
    Configuration(PathBuf),
    /// Nothing named one: the default for this user.
    Default,
}

/// A store location and why it is that one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChosenStore {
    pub location: StoreLocation,
    pub source: StoreSource,
}

impl StoreLocation {
    /// Resolves the location from an explicit path (the `--store` flag,
    /// which clap also fills from `MAILCERT_STORE`) and an explicit key
    /// file (from `MAILCERT_STORE_KEY_FILE`), with no configuration.
    pub fn resolve(store: Option<&Path>, key_file: Option<&Path>) -> StoreLocation {
        Self::choose(
            &ExplicitStore {
                path: store.map(Path::to_path_buf),
                key_file: key_file.map(Path::to_path_buf),
            },
            None,
        )
        .location
    }

    /// The precedence rule of this module: the command line and the
    /// environment, then the configuration, then the default.
    pub fn choose(explicit: &ExplicitStore, configured: Option<&ConfiguredStore>) -> ChosenStore {
        let (db, source) = match (&explicit.path, configured) {
            (Some(path), _) => (path.clone(), StoreSource::Explicit),
            (
                None,
                Some(ConfiguredStore {
                    file,
                    path: Some(path),
                    ..
                }),
            ) => (path.clone(), StoreSource::Configuration(file.clone())),
            (None, _) => (default_store_path(), StoreSource::Default),
        };
        let configured_key = configured
            .filter(|_| source != StoreSource::Explicit)
            .and_then(|c| c.key_file.clone());
        let key = explicit
            .key_file
            .clone()
            .or(configured_key)
            .unwrap_or_else(|| key_path_for(&db));
        ChosenStore {
            location: StoreLocation { db, key },
            source,
        }
    }
}

impl std::fmt::Display for StoreSource {
    /// Why this path, in the words of a message: "named by …".
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StoreSource::Explicit => f.write_str("named by --store or MAILCERT_STORE"),
            StoreSource::Configuration(file) => {
                write!(f, "named by [store] path in {}", file.display())
            }
            StoreSource::Default => f.write_str("the default location"),
        }
    }
}

/// The database a store lives in, read from [`StoreLocation::db`]: a
/// SQLite file (a path), or a PostgreSQL database shared by a fleet (a
/// `postgres://` or `postgresql://` URL). Any other URL scheme is an
/// error, never a local file of that name: `MAILCERT_STORE=mysql://db/x`
/// must not quietly create a folder called `mysql:`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreDb {
    Sqlite(PathBuf),
    Postgres(Box<PgTarget>),
}

impl StoreDb {
    /// Reads `--store`, `MAILCERT_STORE` or `[store] path`. Refuses every
    /// other URL scheme, and URLs with a password in them.
    pub fn parse(given: &OsStr) -> Result<StoreDb> {
        let text = given.to_string_lossy();
        match url_scheme(&text) {
            None => Ok(StoreDb::Sqlite(PathBuf::from(given))),
            Some(scheme) if matches!(scheme.as_str(), "postgres" | "postgresql") => {
                Ok(StoreDb::Postgres(Box::new(PgTarget::parse(&text)?)))
            }
            Some(scheme) => Err(StoreError::UnsupportedScheme {
                given: redact_text(&text),
                scheme,
            }),
        }
    }
}

impl fmt::Display for StoreDb {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StoreDb::Sqlite(path) => write!(f, "{}", path.display()),
            StoreDb::Postgres(target) => write!(f, "{}", target.url),
        }
    }
}

/// `scheme` when `text` starts like a URL (`scheme://`), or is a
/// PostgreSQL URL missing its slashes (`postgres:db`), lower-case.
fn url_scheme(text: &str) -> Option<String> {
    let (scheme, rest) = text.split_once(':')?;
    let looks_like_scheme = scheme.len() >= 2
        && scheme.starts_with(|c: char| c.is_ascii_alphabetic())
        && scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
    if !looks_like_scheme {
        return None;
    }
    let scheme = scheme.to_ascii_lowercase();
    if rest.starts_with("//") || matches!(scheme.as_str(), "postgres" | "postgresql") {
        Some(scheme)
    } else {
        None
    }
}

impl StoreLocation {
    /// A SQLite store with its key file.
    pub fn sqlite(db: impl Into<PathBuf>, key: impl Into<PathBuf>) -> StoreLocation {
        StoreLocation {
            db: db.into(),
            key: key.into(),
        }
    }

    /// The database `db` names: a SQLite file or a PostgreSQL URL. Fails
    /// on an unsupported URL scheme, a malformed URL, and a PostgreSQL
    /// store whose key file is not named (there is no folder to keep it
    /// beside the database).
    pub fn database(&self) -> Result<StoreDb> {
        let db = StoreDb::parse(self.db.as_os_str())?;
        if let StoreDb::Postgres(target) = &db {
            if self.key == key_path_for(&self.db) {
                return Err(StoreError::KeyFileNeeded {
                    db: target.url.clone(),
                });
            }
        }
        Ok(db)
    }

    /// The database for messages: the path, or the URL without any
    /// password someone put in it (such a URL is refused, and the
    /// refusal must not repeat the password).
    pub fn shown(&self) -> String {
        redact_text(&self.db.to_string_lossy())
    }

    /// Whether `db` is a PostgreSQL URL (well-formed or not).
    pub fn is_postgres(&self) -> bool {
        matches!(
            url_scheme(&self.db.to_string_lossy()).as_deref(),
            Some("postgres" | "postgresql")
        )
    }
}

/// `store.db` → `store.db.key`.
pub fn key_path_for(db: &Path) -> PathBuf {
    let mut name = db.file_name().map(|n| n.to_os_string()).unwrap_or_default();
    name.push(".key");
    db.with_file_name(name)
}

/// The default database path for the current user.
pub fn default_store_path() -> PathBuf {
    if is_root() {
        return PathBuf::from("/var/lib/mailcert/store.db");
    }
    let data = std::env::var_os("XDG_DATA_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/share")))
        .unwrap_or_else(|| PathBuf::from("."));
    data.join("mailcert/store.db")
}

fn is_root() -> bool {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata("/proc/self")
        .map(|m| m.uid() == 0)
        .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<StoreDb> {
        StoreDb::parse(OsStr::new(text))
    }

    #[test]
    fn paths_are_sqlite_files() {
        for path in ["store.db", "/var/lib/mailcert/store.db", "./a:b.db", "C.db"] {
            assert_eq!(
                parse(path).unwrap(),
                StoreDb::Sqlite(PathBuf::from(path)),
                "{path}"
            );
        }
    }

    #[test]
    fn other_schemes_are_errors_not_files() {
        for url in [
            "mysql://db/x",
            "sqlite:///var/x.db",
            "HTTPS://x",
            "file:///tmp/x",
        ] {
            let err = parse(url).unwrap_err();
            assert!(
                matches!(err, StoreError::UnsupportedScheme { .. }),
                "{url}: {err}"
            );
            let text = err.to_string();
            assert!(text.contains("postgres://"), "{text}");
        }
    }

    #[test]
    fn postgres_urls_are_postgres() {
        for url in [
            "postgres://mailcert@db.contoso.com/mailcert",
            "postgresql://mailcert@db.contoso.com:5433/mailcert?sslmode=verify-full",
        ] {
            assert!(matches!(parse(url).unwrap(), StoreDb::Postgres(_)), "{url}");
        }
        assert!(matches!(
            parse("postgres:mailcert"),
            Err(StoreError::BadUrl { .. })
        ));
    }

    #[test]
    fn a_postgres_store_needs_its_key_file_named() {
        let url = "postgres://u@h/d";
        let err = StoreLocation::resolve(Some(Path::new(url)), None)
            .database()
            .unwrap_err();
        assert!(matches!(err, StoreError::KeyFileNeeded { .. }), "{err}");
        let named = StoreLocation::resolve(
            Some(Path::new(url)),
            Some(Path::new("/etc/mailcert/store.key")),
        );
        assert!(named.database().is_ok());
        assert!(named.is_postgres());
    }

    fn configured(path: Option<&str>, key_file: Option<&str>) -> ConfiguredStore {
        ConfiguredStore {
            file: PathBuf::from("/etc/mailcert/serve.toml"),
            path: path.map(PathBuf::from),
            key_file: key_file.map(PathBuf::from),
        }
    }

    fn explicit(path: Option<&str>, key_file: Option<&str>) -> ExplicitStore {
        ExplicitStore {
            path: path.map(PathBuf::from),
            key_file: key_file.map(PathBuf::from),
        }
    }

    fn chosen(db: &str, key: &str, source: StoreSource) -> ChosenStore {
        ChosenStore {
            location: StoreLocation {
                db: db.into(),
                key: key.into(),
            },
            source,
        }
    }

    #[test]
    fn the_command_line_wins_over_the_configuration() {
        let config = configured(Some("/srv/conf.db"), Some("/keys/conf.key"));
        assert_eq!(
            StoreLocation::choose(&explicit(Some("/srv/flag.db"), None), Some(&config)),
            chosen("/srv/flag.db", "/srv/flag.db.key", StoreSource::Explicit),
            "the configuration's key file belongs to its own database"
        );
        assert_eq!(
            StoreLocation::choose(
                &explicit(Some("/srv/flag.db"), Some("/keys/flag.key")),
                Some(&config)
            ),
            chosen("/srv/flag.db", "/keys/flag.key", StoreSource::Explicit)
        );
    }

    #[test]
    fn the_configuration_wins_over_the_default() {
        let file = PathBuf::from("/etc/mailcert/serve.toml");
        let config = configured(Some("/srv/conf.db"), None);
        assert_eq!(
            StoreLocation::choose(&ExplicitStore::default(), Some(&config)),
            chosen(
                "/srv/conf.db",
                "/srv/conf.db.key",
                StoreSource::Configuration(file.clone())
            )
        );
        let config = configured(Some("/srv/conf.db"), Some("/keys/conf.key"));
        assert_eq!(
            StoreLocation::choose(&ExplicitStore::default(), Some(&config)),
            chosen(
                "/srv/conf.db",
                "/keys/conf.key",
                StoreSource::Configuration(file)
            )
        );
        // An explicit key file still wins over the configuration's.
        assert_eq!(
            StoreLocation::choose(&explicit(None, Some("/keys/env.key")), Some(&config))
                .location
                .key,
            PathBuf::from("/keys/env.key")
        );
    }

    #[test]
    fn nothing_named_is_the_default() {
        let default = default_store_path();
        let got = StoreLocation::choose(&ExplicitStore::default(), Some(&configured(None, None)));
        assert_eq!(got.location.db, default);
        assert_eq!(got.location.key, key_path_for(&default));
        assert_eq!(got.source, StoreSource::Default);
        // A configured key file without a path goes with the default database.
        let got = StoreLocation::choose(
            &ExplicitStore::default(),
            Some(&configured(None, Some("/keys/k"))),
        );
        assert_eq!(got.location.key, PathBuf::from("/keys/k"));
    }
}
