//! The `[store]` table: where the store `serve` serves from is, and so
//! where every command that reads the same configuration looks. Relative
//! paths are taken from the configuration file's directory, so that the
//! file means the same store whatever directory a command runs in.

use std::path::{Path, PathBuf};

use mailcert_store::{ConfiguredStore, StoreDb};
use serde::Deserialize;

use crate::ConfigError;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawStore {
    path: Option<PathBuf>,
    key_file: Option<PathBuf>,
}

impl RawStore {
    pub(crate) fn resolve(self, config: &Path) -> ConfiguredStore {
        ConfiguredStore {
            file: config.to_path_buf(),
            path: self.path.map(|p| match StoreDb::parse(p.as_os_str()) {
                Ok(StoreDb::Sqlite(_)) => beside(config, p),
                // A URL (or what the store will refuse as one) is never
                // a file beside the configuration.
                _ => p,
            }),
            key_file: self.key_file.map(|p| beside(config, p)),
        }
    }
}

/// `path` as seen from the configuration file's directory.
pub(crate) fn beside(config: &Path, path: PathBuf) -> PathBuf {
    if path.is_absolute() {
        return path;
    }
    match config.parent().filter(|d| !d.as_os_str().is_empty()) {
        Some(dir) => dir.join(path),
        None => path,
    }
}

/// Reads only the `[store]` table of a configuration: what commands that
/// need nothing else of the file (`list`, `show`, …) read, so that a
/// problem in a listener does not stop them. The TOML must still parse.
pub fn read_store_table(path: &Path) -> Result<ConfiguredStore, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    parse_store_table(&text, path)
}

/// [`read_store_table`] of a file already read.
pub fn parse_store_table(text: &str, path: &Path) -> Result<ConfiguredStore, ConfigError> {
    #[derive(Deserialize)]
    struct OnlyStore {
        #[serde(default)]
        store: RawStore,
    }
    let only: OnlyStore = toml::from_str(text).map_err(|e| ConfigError::Syntax {
        path: path.to_path_buf(),
        message: crate::describe_syntax_error(text, &e),
    })?;
    Ok(only.store.resolve(path))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn store_urls_are_not_paths() {
        let file = Path::new("/etc/mailcert/serve.toml");
        for url in [
            "postgres://mailcert@db.contoso.com/mailcert?sslmode=verify-full",
            "postgresql://mailcert@db/m",
            "mysql://db/x",
        ] {
            let text = format!("[store]\npath = \"{url}\"\nkey_file = \"store.key\"\n");
            let got = parse_store_table(&text, file).unwrap();
            assert_eq!(got.path, Some(PathBuf::from(url)));
            assert_eq!(got.key_file, Some(PathBuf::from("/etc/mailcert/store.key")));
        }
    }

    #[test]
    fn relative_paths_are_beside_the_configuration() {
        let file = Path::new("/etc/mailcert/serve.toml");
        let text = "[store]\npath = \"data/store.db\"\nkey_file = \"/keys/store.key\"\n\n[[listener]]\nname = 1\n";
        assert_eq!(
            parse_store_table(text, file).unwrap(),
            ConfiguredStore {
                file: file.to_path_buf(),
                path: Some(PathBuf::from("/etc/mailcert/data/store.db")),
                key_file: Some(PathBuf::from("/keys/store.key")),
            }
        );
        assert_eq!(parse_store_table("", file).unwrap().path, None);
    }

    #[test]
    fn unknown_store_keys_and_broken_toml_are_errors() {
        let file = Path::new("serve.toml");
        let err = parse_store_table("[store]\npaht = \"x.db\"\n", file)
            .unwrap_err()
            .to_string();
        assert!(err.contains("paht"), "{err}");
        assert!(parse_store_table("[store\npath = 1\n", file).is_err());
    }
}
