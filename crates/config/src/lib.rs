//! The front end's configuration (`mailcert.toml`): read into raw structs
//! that refuse unknown keys, then validated into a typed [`Config`] that
//! reports every error with its place (`listener[2].backend: ...`), before
//! any socket is opened. Shared by `serve` and by the commands that look
//! at listeners (`which --listener`, `enable` pre-flight).
#![forbid(unsafe_code)]

use std::collections::HashSet;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use mailcert_x509::Service;
use serde::Deserialize;
use thiserror::Error;

#[derive(Debug, Error)]
#[non_exhaustive]
pub enum ConfigError {
    #[error("{path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: {message}")]
    Syntax { path: PathBuf, message: String },
    #[error("{path}: {}", problems.join("; "))]
    Invalid {
        path: PathBuf,
        problems: Vec<String>,
    },
}

/// The protocol a listener speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    Https,
    Imap,
    Pop3,
    Smtp,
}

impl Protocol {
    pub fn service(self) -> Service {
        match self {
            Protocol::Https => Service::Https,
            Protocol::Imap => Service::Imap,
            Protocol::Pop3 => Service::Pop,
            Protocol::Smtp => Service::Smtp,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Protocol::Https => "https",
            Protocol::Imap => "imap",
            Protocol::Pop3 => "pop3",
            Protocol::Smtp => "smtp",
        }
    }
}

/// How TLS starts on a listener.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TlsMode {
    Implicit,
    Starttls,
    StarttlsRequired,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    store: Option<RawStore>,
    #[serde(default)]
    listener: Vec<RawListener>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStore {
    path: Option<PathBuf>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawListener {
    name: String,
    protocol: Protocol,
    tls: TlsMode,
    bind: String,
    backend: String,
    #[serde(default)]
    proxy_protocol: bool,
    hostname: Option<String>,
    certificate: Option<String>,
}

/// One validated listener.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listener {
    pub name: String,
    pub protocol: Protocol,
    pub tls: TlsMode,
    pub bind: SocketAddr,
    pub backend: String,
    pub proxy_protocol: bool,
    /// Greeting FQDN; also what `enable` pre-flight checks names against.
    pub hostname: Option<String>,
    /// Explicit certificate: thumbprint prefix or subject.
    pub certificate: Option<String>,
}

/// The validated configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    pub path: PathBuf,
    pub store_path: Option<PathBuf>,
    pub listeners: Vec<Listener>,
}

impl Config {
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Config::parse(&text, path)
    }

    pub fn parse(text: &str, path: &Path) -> Result<Config, ConfigError> {
        let raw: RawConfig = toml::from_str(text).map_err(|e| ConfigError::Syntax {
            path: path.to_path_buf(),
            message: e.to_string().trim_end().replace('\n', " | "),
        })?;
        let mut problems = Vec::new();
        let mut names = HashSet::new();
        let mut listeners = Vec::new();
        for (index, raw) in raw.listener.into_iter().enumerate() {
            let at = format!("listener[{index}] ({})", raw.name);
            if raw.name.trim().is_empty() {
                problems.push(format!("listener[{index}].name: must not be empty"));
            }
            if !names.insert(raw.name.clone()) {
                problems.push(format!(
                    "{at}.name: another listener already uses the name '{}'",
                    raw.name
                ));
            }
            if raw.protocol == Protocol::Https && raw.tls != TlsMode::Implicit {
                problems.push(format!("{at}.tls: https listeners use tls = \"implicit\""));
            }
            let bind = match SocketAddr::from_str(&raw.bind) {
                Ok(addr) => Some(addr),
                Err(_) => {
                    problems.push(format!(
                        "{at}.bind: '{}' is not an address:port such as 0.0.0.0:993 or [::]:993",
                        raw.bind
                    ));
                    None
                }
            };
            if !raw.backend.contains(':') {
                problems.push(format!(
                    "{at}.backend: '{}' needs a host and a port, such as 127.0.0.1:10143",
                    raw.backend
                ));
            }
            if let Some(host) = &raw.hostname {
                if let Err(e) = mailcert_x509::parse_name(host) {
                    problems.push(format!("{at}.hostname: {e}"));
                }
            }
            if let Some(bind) = bind {
                listeners.push(Listener {
                    name: raw.name,
                    protocol: raw.protocol,
                    tls: raw.tls,
                    bind,
                    backend: raw.backend,
                    proxy_protocol: raw.proxy_protocol,
                    hostname: raw.hostname,
                    certificate: raw.certificate,
                });
            }
        }
        if !problems.is_empty() {
            return Err(ConfigError::Invalid {
                path: path.to_path_buf(),
                problems,
            });
        }
        Ok(Config {
            path: path.to_path_buf(),
            store_path: raw.store.and_then(|s| s.path),
            listeners,
        })
    }

    pub fn listener(&self, name: &str) -> Option<&Listener> {
        self.listeners.iter().find(|l| l.name == name)
    }
}

/// Where `serve` and the listener-aware commands look for the
/// configuration when `--config` is not given.
pub fn default_config_path() -> PathBuf {
    use std::os::unix::fs::MetadataExt;
    let root = std::fs::metadata("/proc/self")
        .map(|m| m.uid() == 0)
        .unwrap_or(false);
    if root {
        return PathBuf::from("/etc/mailcert/mailcert.toml");
    }
    std::env::var_os("XDG_CONFIG_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".config")))
        .unwrap_or_else(|| PathBuf::from("."))
        .join("mailcert/mailcert.toml")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn design_example_parses() {
        let text = r#"
[store]
path = "/var/lib/mailcert/store.db"

[[listener]]
name = "imaps"
protocol = "imap"
tls = "implicit"
bind = "0.0.0.0:993"
backend = "127.0.0.1:10143"
proxy_protocol = true
hostname = "mail.contoso.com"
certificate = "9F1C"
"#;
        let config = Config::parse(text, Path::new("mailcert.toml")).unwrap();
        assert_eq!(config.listeners[0].protocol.service(), Service::Imap);
        assert_eq!(config.listeners[0].certificate.as_deref(), Some("9F1C"));
    }

    #[test]
    fn errors_name_the_field() {
        let text = "[[listener]]\nname = \"a\"\nprotocol = \"imap\"\ntls = \"implicit\"\nbind = \"nowhere\"\nbackend = \"x\"\n";
        let err = Config::parse(text, Path::new("m.toml"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("listener[0] (a).bind"), "{err}");
        assert!(err.contains("listener[0] (a).backend"), "{err}");
        let err = Config::parse("[[listener]]\nnmae = 1\n", Path::new("m.toml"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("nmae") && err.contains("line"), "{err}");
    }
}
