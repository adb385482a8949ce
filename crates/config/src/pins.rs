//! Rewriting listener pins (`certificate = "..."`) in the configuration
//! file, for `mailcert replace`. The file is the administrator's: only the
//! values of the named listeners change, every comment and the layout stay
//! (toml_edit keeps them; a line edit would have to re-implement TOML's
//! quoting and its inline-table and array forms). The new text is written
//! beside the file first and renamed over it only on [`StagedConfig::commit`],
//! so a reader never sees half a file, and the caller can commit its own
//! change in between.

use std::io::Write as _;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use toml_edit::{DocumentMut, Item, Value};

use crate::{Config, ConfigError};

/// One listener's new pin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PinChange {
    pub listener: String,
    pub pin: String,
}

/// The rewritten configuration, written beside the original and not yet
/// in its place. Dropped without [`commit`](StagedConfig::commit), it is
/// removed and the original stays as it was.
#[derive(Debug)]
pub struct StagedConfig {
    target: PathBuf,
    temp: PathBuf,
    committed: bool,
}

impl StagedConfig {
    /// The file that will be replaced (symbolic links resolved).
    pub fn target(&self) -> &Path {
        &self.target
    }

    /// Puts the new file in place (an atomic rename in the same directory).
    pub fn commit(mut self) -> Result<(), ConfigError> {
        std::fs::rename(&self.temp, &self.target).map_err(|source| ConfigError::Write {
            path: self.target.clone(),
            source,
        })?;
        self.committed = true;
        // The rename itself reaches the disk with the directory.
        if let Some(dir) = self.target.parent() {
            if let Ok(dir) = std::fs::File::open(dir) {
                let _ = dir.sync_all();
            }
        }
        Ok(())
    }
}

impl Drop for StagedConfig {
    fn drop(&mut self) {
        if !self.committed {
            let _ = std::fs::remove_file(&self.temp);
        }
    }
}

/// Prepares `path` with the pins of `changes` set, keeping everything
/// else byte for byte. The result must still be a valid configuration.
pub fn stage_pin_changes(path: &Path, changes: &[PinChange]) -> Result<StagedConfig, ConfigError> {
    let read = |source| ConfigError::Read {
        path: path.to_path_buf(),
        source,
    };
    let target = std::fs::canonicalize(path).map_err(read)?;
    let text = std::fs::read_to_string(&target).map_err(read)?;
    let new_text = set_pins(&text, changes).map_err(|message| ConfigError::Syntax {
        path: path.to_path_buf(),
        message,
    })?;
    // Never write a configuration that `serve` would refuse.
    Config::parse(&new_text, path)?;

    let name = target
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "mailcert.toml".into());
    let temp = target.with_file_name(format!(".{name}.{}.new", std::process::id()));
    let meta = std::fs::metadata(&target).map_err(read)?;
    let staged = StagedConfig {
        target: target.clone(),
        temp: temp.clone(),
        committed: false,
    };
    let write = |source| ConfigError::Write {
        path: temp.clone(),
        source,
    };
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&temp)
        .map_err(write)?;
    file.write_all(new_text.as_bytes()).map_err(write)?;
    // Same owner and mode as the file it replaces (ownership only when
    // allowed: root may hand it back, others keep their own).
    let _ = std::os::unix::fs::chown(&temp, Some(meta.uid()), Some(meta.gid()));
    file.set_permissions(std::fs::Permissions::from_mode(meta.mode() & 0o7777))
        .map_err(write)?;
    file.sync_all().map_err(write)?;
    Ok(staged)
}

/// The configuration text with the pins of `changes` set; an error names
/// a listener that is not there.
pub fn set_pins(text: &str, changes: &[PinChange]) -> Result<String, String> {
    let mut doc: DocumentMut = text.parse().map_err(|e| format!("{e}"))?;
    for change in changes {
        let found = match doc.get_mut("listener") {
            Some(Item::ArrayOfTables(tables)) => tables
                .iter_mut()
                .find(|t| t.get("name").and_then(Item::as_str) == Some(&change.listener))
                .map(|t| set_value(t.entry("certificate").or_insert(Item::None), &change.pin))
                .is_some(),
            Some(Item::Value(Value::Array(array))) => array
                .iter_mut()
                .filter_map(Value::as_inline_table_mut)
                .find(|t| t.get("name").and_then(Value::as_str) == Some(&change.listener))
                .map(|t| {
                    let mut item = t
                        .remove("certificate")
                        .map(Item::Value)
                        .unwrap_or(Item::None);
                    set_value(&mut item, &change.pin);
                    if let Item::Value(v) = item {
                        t.insert("certificate", v);
                    }
                })
                .is_some(),
            _ => false,
        };
        if !found {
            return Err(format!("no [[listener]] named '{}'", change.listener));
        }
    }
    Ok(doc.to_string())
}

/// Sets a string value, keeping the comments and spacing around the old one.
fn set_value(item: &mut Item, pin: &str) {
    let mut value = Value::from(pin);
    if let Some(old) = item.as_value() {
        *value.decor_mut() = old.decor().clone();
    }
    *item = Item::Value(value);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn change(listener: &str, pin: &str) -> PinChange {
        PinChange {
            listener: listener.into(),
            pin: pin.into(),
        }
    }

    #[test]
    fn only_the_pins_change() {
        let text = "# front end\n[[listener]]\nname = \"imaps\"   # IMAP\ncertificate = \"9F1C\"  # pinned by hand\nbind = \"0.0.0.0:993\"\n\n[[listener]]\nname = \"smtp\"\ncertificate = 'CN=mail.contoso.com'\n";
        let out = set_pins(text, &[change("imaps", "ABCDEF0123")]).unwrap();
        assert_eq!(
            out,
            text.replace("\"9F1C\"", "\"ABCDEF0123\""),
            "comments, spacing and the other listener stay"
        );
        let out = set_pins(text, &[change("imaps", "A1"), change("smtp", "B2")]).unwrap();
        assert!(
            out.contains("certificate = \"A1\"  # pinned by hand"),
            "{out}"
        );
        assert!(out.contains("certificate = \"B2\"\n"), "{out}");
        let err = set_pins(text, &[change("pop3s", "A1")]).unwrap_err();
        assert!(err.contains("pop3s"), "{err}");
    }

    #[test]
    fn inline_listener_arrays_too() {
        let text = "listener = [ { name = \"imaps\", certificate = \"9F1C\" } ]\n";
        let out = set_pins(text, &[change("imaps", "ABCD")]).unwrap();
        assert!(out.contains("certificate = \"ABCD\""), "{out}");
        assert!(!out.contains("9F1C"), "{out}");
    }
}
