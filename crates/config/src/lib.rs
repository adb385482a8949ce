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
use std::time::Duration;

use mailcert_tomlplace::{dotted, locate, Segment, Unknown, UnknownKind};
use mailcert_x509::Service;
use serde::Deserialize;
use thiserror::Error;
use toml::Spanned;

mod dane;
mod mta_sts;
mod pins;
mod queries;
mod store;
mod watch;
pub use dane::{Dane, DaneDns};
pub use mta_sts::MtaSts;
pub use pins::{set_pins, stage_pin_changes, PinChange, StagedConfig};
pub use queries::default_config_path;
pub use store::{parse_store_table, read_store_table};
pub use watch::{Alerts, Metrics};

#[derive(Debug, Error)]
#[non_exhaustive]
pub enum ConfigError {
    #[error("{}: {source}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{}: {message}", path.display())]
    Syntax { path: PathBuf, message: String },
    #[error("{}: {}", path.display(), problems.join("; "))]
    Invalid {
        path: PathBuf,
        problems: Vec<String>,
    },
    #[error("{}: no listener named '{name}'; listeners there: {known}", path.display())]
    NoListener {
        path: PathBuf,
        name: String,
        known: String,
    },
    #[error("listener '{name}' serves {serves}, not {asked}: a binding for it would never be used; bind {asked} without --listener, or name a {asked} listener")]
    WrongService {
        name: String,
        serves: Service,
        asked: Service,
    },
    #[error("listener '{name}' serves {serves}, not {asked}")]
    NotServing {
        name: String,
        serves: Service,
        asked: Service,
    },
    #[error("no front-end configuration to check listener '{name}' against (there is no {}); pass --config FILE (or set MAILCERT_CONFIG) with the configuration `mailcert serve` uses", default.display())]
    NoConfiguration { name: String, default: PathBuf },
    #[error("{}: cannot write the file: {source}", path.display())]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
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
    store: Option<store::RawStore>,
    process: Option<RawProcess>,
    limits: Option<RawLimits>,
    console: Option<RawConsole>,
    dane: Option<dane::RawDane>,
    metrics: Option<watch::RawMetrics>,
    alerts: Option<watch::RawAlerts>,
    #[serde(default)]
    listener: Vec<RawListener>,
    #[serde(default)]
    redirect: Vec<RawRedirect>,
    #[serde(default)]
    mta_sts: Vec<mta_sts::RawMtaSts>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLimits {
    max_connections: Option<usize>,
    grace_period: Option<u64>,
    pre_tls_timeout: Option<u64>,
    handshake_timeout: Option<u64>,
    idle_timeout: Option<u64>,
    backend_timeout: Option<u64>,
    max_line: Option<Spanned<usize>>,
    max_commands: Option<usize>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRedirect {
    name: Spanned<String>,
    bind: Spanned<String>,
    https_port: Option<u16>,
    hostname: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawListener {
    name: Spanned<String>,
    protocol: Spanned<Protocol>,
    tls: Spanned<TlsMode>,
    bind: Spanned<String>,
    backend: Option<Spanned<String>>,
    #[serde(default)]
    proxy_protocol: bool,
    hostname: Option<Spanned<String>>,
    certificate: Option<Spanned<String>>,
    alpn: Option<Vec<String>>,
    pre_tls_timeout: Option<u64>,
    handshake_timeout: Option<u64>,
    idle_timeout: Option<u64>,
    backend_timeout: Option<u64>,
    max_line: Option<Spanned<usize>>,
    max_commands: Option<usize>,
}

/// One validated listener.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listener {
    pub name: String,
    pub protocol: Protocol,
    pub tls: TlsMode,
    pub bind: SocketAddr,
    /// The plaintext side; `None` only for an HTTPS listener that serves
    /// nothing but MTA-STS policies.
    pub backend: Option<String>,
    pub proxy_protocol: bool,
    /// Greeting FQDN; also what `enable` pre-flight checks names against.
    pub hostname: Option<String>,
    /// Explicit certificate: thumbprint prefix or subject.
    pub certificate: Option<String>,
    /// The line of `certificate = ...`, for errors found later (a pin that
    /// matches nothing in the store).
    pub certificate_line: Option<usize>,
    /// ALPN protocols offered (https: `["http/1.1"]` unless set); the
    /// negotiated one is passed to the backend in the PROXY v2 header.
    pub alpn: Vec<String>,
    pub limits: ListenerLimits,
}

/// Timeouts and limits of one listener.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ListenerLimits {
    /// Idle time allowed in the pre-TLS dialogue (STARTTLS listeners).
    pub pre_tls_timeout: Duration,
    pub handshake_timeout: Duration,
    /// Idle time while piping; longer than IMAP IDLE's 29 minutes.
    pub idle_timeout: Duration,
    /// Connecting to the backend and reading its greeting.
    pub backend_timeout: Duration,
    /// Longest line before TLS.
    pub max_line: usize,
    /// Commands accepted before TLS.
    pub max_commands: usize,
}

impl Default for ListenerLimits {
    fn default() -> Self {
        ListenerLimits {
            pre_tls_timeout: Duration::from_secs(60),
            handshake_timeout: Duration::from_secs(15),
            idle_timeout: Duration::from_secs(31 * 60),
            backend_timeout: Duration::from_secs(10),
            max_line: 4096,
            max_commands: 20,
        }
    }
}

/// Limits of the whole front end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GlobalLimits {
    pub max_connections: usize,
    /// How long SIGTERM waits for connections to finish.
    pub grace_period: Duration,
}

impl Default for GlobalLimits {
    fn default() -> Self {
        GlobalLimits {
            max_connections: 10_000,
            grace_period: Duration::from_secs(30),
        }
    }
}

/// A plain HTTP listener that redirects to HTTPS (and answers ACME
/// HTTP-01 challenges when an issuer registers them).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Redirect {
    pub name: String,
    pub bind: SocketAddr,
    /// Port in the `Location` (443 leaves it out).
    pub https_port: u16,
    /// Host in the `Location`; the request's `Host` header when unset.
    pub hostname: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConsole {
    bind: Spanned<String>,
    certificate: Option<String>,
    idle_timeout: Option<Spanned<u64>>,
    session_lifetime: Option<Spanned<u64>>,
    max_upload: Option<Spanned<usize>>,
    max_login_delay: Option<Spanned<u64>>,
}

/// The web console (`[console]`): off unless the table is there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Console {
    /// HTTPS only; the certificate is chosen like any HTTPS listener's,
    /// as listener `console`.
    pub bind: SocketAddr,
    /// Explicit certificate: thumbprint prefix or subject.
    pub certificate: Option<String>,
    /// A session unused this long is over.
    pub idle_timeout: Duration,
    /// A session ends this long after the login, however active.
    pub session_lifetime: Duration,
    /// The largest request body (an uploaded file, base64 in JSON, counts
    /// with its encoding).
    pub max_upload: usize,
    /// The longest wait failed logins impose before the next attempt.
    pub max_login_delay: Duration,
}

impl Console {
    /// The listener name bindings and selection use for the console.
    pub const LISTENER: &'static str = "console";
    pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(15 * 60);
    pub const DEFAULT_SESSION_LIFETIME: Duration = Duration::from_secs(12 * 3600);
    pub const DEFAULT_MAX_UPLOAD: usize = 1024 * 1024;
    pub const DEFAULT_MAX_LOGIN_DELAY: Duration = Duration::from_secs(60);
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawProcess {
    user: Option<Spanned<String>>,
    group: Option<Spanned<String>>,
}

/// Who `serve` runs as once its listeners are bound (`[process]`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Process {
    /// A user name or numeric uid; `None`: stay who started it.
    pub user: Option<String>,
    /// A group name or numeric gid; `None`: the user's primary group.
    pub group: Option<String>,
}

/// The validated configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    pub path: PathBuf,
    /// `[process]`: the user and group `serve` drops to after binding.
    pub process: Process,
    /// `[store]`: the store `serve` serves from (paths made absolute
    /// against the file's directory).
    pub store: mailcert_store::ConfiguredStore,
    pub listeners: Vec<Listener>,
    pub redirects: Vec<Redirect>,
    pub limits: GlobalLimits,
    /// `[console]`: the web console, when configured.
    pub console: Option<Console>,
    /// `[dane]`: where DANE's TLSA records are published, when configured.
    pub dane: Option<Dane>,
    /// `[[mta_sts]]`: the MTA-STS policies every HTTPS listener serves.
    pub mta_sts: Vec<MtaSts>,
    /// `[metrics]`: `GET /metrics`, when configured.
    pub metrics: Option<Metrics>,
    /// `[alerts]`: the expiry events and the program run for each new one
    /// (the defaults when the table is absent: events are logged, nothing run).
    pub alerts: Alerts,
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
            message: describe_syntax_error(text, &e),
        })?;
        let at_line = |span: std::ops::Range<usize>| line_of(text, span.start);
        let mut problems = Vec::new();
        let raw_limits = raw.limits.unwrap_or_default();
        let defaults = ListenerLimits::default();
        let base = ListenerLimits {
            pre_tls_timeout: secs(raw_limits.pre_tls_timeout, defaults.pre_tls_timeout),
            handshake_timeout: secs(raw_limits.handshake_timeout, defaults.handshake_timeout),
            idle_timeout: secs(raw_limits.idle_timeout, defaults.idle_timeout),
            backend_timeout: secs(raw_limits.backend_timeout, defaults.backend_timeout),
            max_line: raw_limits
                .max_line
                .as_ref()
                .map_or(defaults.max_line, |m| *m.get_ref()),
            max_commands: raw_limits.max_commands.unwrap_or(defaults.max_commands),
        };
        let global_defaults = GlobalLimits::default();
        let limits = GlobalLimits {
            max_connections: raw_limits
                .max_connections
                .unwrap_or(global_defaults.max_connections),
            grace_period: secs(raw_limits.grace_period, global_defaults.grace_period),
        };
        if let Some(max_line) = raw_limits.max_line.as_ref().filter(|m| *m.get_ref() < 512) {
            problems.push(format!(
                "line {}: limits.max_line: {}",
                at_line(max_line.span()),
                max_line_too_small(*max_line.get_ref())
            ));
        }
        if limits.max_connections == 0 {
            problems.push("limits.max_connections: must be at least 1".to_string());
        }
        let mut names = HashSet::new();
        let mut binds = HashSet::new();
        let mut listeners = Vec::new();
        // HTTPS listeners without a backend: a problem only when there is
        // no policy for them to serve.
        let mut no_backend = Vec::new();
        for (index, raw) in raw.listener.into_iter().enumerate() {
            let name = raw.name.get_ref().clone();
            let at = format!("listener[{}] ({name})", index + 1);
            let line = |span| format!("line {}: {at}", at_line(span));
            if name.trim().is_empty() {
                problems.push(format!("{}.name: must not be empty", line(raw.name.span())));
            }
            if !names.insert(name.clone()) {
                problems.push(format!(
                    "{}.name: another listener already uses the name '{name}'",
                    line(raw.name.span())
                ));
            }
            let protocol = *raw.protocol.get_ref();
            let tls = *raw.tls.get_ref();
            if protocol == Protocol::Https && tls != TlsMode::Implicit {
                problems.push(format!(
                    "{}.tls: https listeners use tls = \"implicit\"",
                    line(raw.tls.span())
                ));
            }
            let bind = match SocketAddr::from_str(raw.bind.get_ref()) {
                Ok(addr) => {
                    if addr.port() != 0 && !binds.insert(addr) {
                        problems.push(format!(
                            "{}.bind: {addr} is already used by another listener",
                            line(raw.bind.span())
                        ));
                    }
                    Some(addr)
                }
                Err(_) => {
                    problems.push(format!(
                        "{}.bind: '{}' is not an address:port such as 0.0.0.0:993 or [::]:993",
                        line(raw.bind.span()),
                        raw.bind.get_ref()
                    ));
                    None
                }
            };
            match &raw.backend {
                Some(backend) => {
                    let port_ok = backend.get_ref().rsplit_once(':').is_some_and(|(host, port)| {
                        !host.is_empty() && port.parse::<u16>().is_ok_and(|p| p > 0)
                    });
                    if !port_ok {
                        problems.push(format!(
                            "{}.backend: '{}' needs a host and a port, such as 127.0.0.1:10143",
                            line(backend.span()),
                            backend.get_ref()
                        ));
                    }
                }
                None if protocol == Protocol::Https => no_backend.push(format!(
                    "{}.backend: missing; an https listener without a backend serves only MTA-STS policies, and the file has no [[mta_sts]] entry: add backend = \"127.0.0.1:8080\" (the web server), or an [[mta_sts]] entry",
                    line(raw.name.span())
                )),
                None => problems.push(format!(
                    "{}.backend: missing; {} listeners pass the plaintext to a backend: add backend = \"127.0.0.1:{}\" (the mail server's plaintext port)",
                    line(raw.name.span()),
                    protocol.as_str(),
                    match protocol {
                        Protocol::Imap => 10143,
                        Protocol::Pop3 => 10110,
                        _ => 10025,
                    }
                )),
            }
            if let Some(host) = &raw.hostname {
                if let Err(e) = mailcert_x509::parse_name(host.get_ref()) {
                    problems.push(format!("{}.hostname: {e}", line(host.span())));
                }
            }
            let limits = ListenerLimits {
                pre_tls_timeout: secs(raw.pre_tls_timeout, base.pre_tls_timeout),
                handshake_timeout: secs(raw.handshake_timeout, base.handshake_timeout),
                idle_timeout: secs(raw.idle_timeout, base.idle_timeout),
                backend_timeout: secs(raw.backend_timeout, base.backend_timeout),
                max_line: raw
                    .max_line
                    .as_ref()
                    .map_or(base.max_line, |m| *m.get_ref()),
                max_commands: raw.max_commands.unwrap_or(base.max_commands),
            };
            if let Some(max_line) = raw.max_line.as_ref().filter(|m| *m.get_ref() < 512) {
                problems.push(format!(
                    "{}.max_line: {}",
                    line(max_line.span()),
                    max_line_too_small(*max_line.get_ref())
                ));
            }
            let alpn = raw.alpn.unwrap_or_else(|| match protocol {
                Protocol::Https => vec!["http/1.1".to_string()],
                _ => Vec::new(),
            });
            if let Some(bind) = bind {
                listeners.push(Listener {
                    name,
                    protocol,
                    tls,
                    bind,
                    backend: raw.backend.map(Spanned::into_inner),
                    proxy_protocol: raw.proxy_protocol,
                    hostname: raw.hostname.map(|h| h.into_inner().to_ascii_lowercase()),
                    certificate_line: raw.certificate.as_ref().map(|c| at_line(c.span())),
                    certificate: raw.certificate.map(Spanned::into_inner),
                    alpn,
                    limits,
                });
            }
        }
        let mut redirects = Vec::new();
        for (index, raw) in raw.redirect.into_iter().enumerate() {
            let name = raw.name.get_ref().clone();
            let at = format!(
                "line {}: redirect[{}] ({name})",
                at_line(raw.bind.span()),
                index + 1
            );
            if !names.insert(name.clone()) {
                problems.push(format!(
                    "{at}.name: another listener already uses the name '{name}'"
                ));
            }
            if let Some(host) = &raw.hostname {
                if let Err(e) = mailcert_x509::parse_name(host.get_ref()) {
                    problems.push(format!("{at}.hostname: {e}"));
                }
            }
            match SocketAddr::from_str(raw.bind.get_ref()) {
                Ok(bind) if bind.port() == 0 || binds.insert(bind) => redirects.push(Redirect {
                    name,
                    bind,
                    https_port: raw.https_port.unwrap_or(443),
                    hostname: raw.hostname.map(|h| h.into_inner().to_ascii_lowercase()),
                }),
                Ok(bind) => problems.push(format!(
                    "{at}.bind: {bind} is already used by another listener"
                )),
                Err(_) => problems.push(format!(
                    "{at}.bind: '{}' is not an address:port such as 0.0.0.0:80",
                    raw.bind.get_ref()
                )),
            }
        }
        let mta_sts = mta_sts::parse_mta_sts(raw.mta_sts, &at_line, &mut problems);
        if raw_has_no_policy(&mta_sts, &problems) {
            problems.extend(no_backend);
        }
        let console = raw
            .console
            .and_then(|raw| parse_console(raw, &mut binds, &at_line, &mut problems));
        let dane = raw
            .dane
            .map(|raw| dane::parse_dane(raw, path, &at_line, &mut problems));
        let metrics = raw
            .metrics
            .and_then(|raw| watch::parse_metrics(raw, &mut binds, &at_line, &mut problems));
        let alerts = raw
            .alerts
            .map(|raw| watch::parse_alerts(raw, &at_line, &mut problems))
            .unwrap_or_default();
        let raw_process = raw.process.unwrap_or_default();
        for (key, value) in [("user", &raw_process.user), ("group", &raw_process.group)] {
            if let Some(value) = value.as_ref().filter(|v| v.get_ref().trim().is_empty()) {
                problems.push(format!(
                    "line {}: process.{key}: must not be empty; remove the key to keep the user that starts mailcert",
                    at_line(value.span())
                ));
            }
        }
        if raw_process.user.is_none() && raw_process.group.is_some() {
            problems.push(
                "process.group: needs process.user too (the group alone would keep root's user)"
                    .to_string(),
            );
        }
        if !problems.is_empty() {
            return Err(ConfigError::Invalid {
                path: path.to_path_buf(),
                problems,
            });
        }
        Ok(Config {
            path: path.to_path_buf(),
            store: raw.store.unwrap_or_default().resolve(path),
            process: Process {
                user: raw_process.user.map(|u| u.into_inner().trim().to_string()),
                group: raw_process.group.map(|g| g.into_inner().trim().to_string()),
            },
            listeners,
            redirects,
            limits,
            console,
            dane,
            mta_sts,
            metrics,
            alerts,
        })
    }
}

/// Whether this process may bind ports below 1024.
pub fn is_root() -> bool {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata("/proc/self")
        .map(|m| m.uid() == 0)
        .unwrap_or(false)
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
        assert!(err.contains("listener[1] (a).bind"), "{err}");
        assert!(err.contains("listener[1] (a).backend"), "{err}");
        let err = Config::parse("[[listener]]\nnmae = 1\n", Path::new("m.toml"))
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("m.toml: line 2: listener[1].nmae: unknown field `nmae`"),
            "{err}"
        );
        assert!(err.ends_with("; did you mean `name`?"), "{err}");
        let err = Config::parse("[limits]\nmax_conections = 5\n", Path::new("m.toml"))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("line 2: limits.max_conections: unknown field")
                && err.ends_with("did you mean `max_connections`?"),
            "{err}"
        );
    }

    #[test]
    fn syntax_errors_name_the_line_and_field_on_one_line() {
        let text = "[limits]\nmax_line = 100\n\n[[listener]]\nname = \"a\"\nprotocol = \"imap\"\ntls = \"implicit\"\nbind = \"127.0.0.1:1\"\nbackend = \"127.0.0.1:2\"\n\n[[listener]]\nname = \"b\"\nprotocol = \"imap\"\ntls = \"implict\"\nbind = \"127.0.0.1:3\"\nbackend = \"127.0.0.1:2\"\n";
        let err = Config::parse(text, Path::new("m.toml"))
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("m.toml: line 14: listener[2] (b).tls: unknown variant `implict`"),
            "{err}"
        );
        assert!(err.ends_with("; did you mean \"implicit\"?"), "{err}");
        assert!(!err.contains('\n') && !err.contains('^'), "{err}");
        let missing = text
            .replace("bind = \"127.0.0.1:3\"\n", "")
            .replace("implict", "implicit");
        let err = Config::parse(&missing, Path::new("m.toml"))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("listener[2] (b).bind: missing field `bind`"),
            "{err}"
        );
        let err = Config::parse("[limits]\nmax_line = -1\n", Path::new("m.toml"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("line 2: limits.max_line:"), "{err}");
        // Values that parse but are refused still name their line.
        let small = "[limits]\nmax_line = 100\n\n[[listener]]\nname = \"imaps\"\nprotocol = \"imap\"\nalpn = [\"imap\"]\ntls = \"implicit\"\nbind = \"127.0.0.1:1\"\nbackend = \"127.0.0.1:2\"\nmax_line = 0\n";
        let err = Config::parse(small, Path::new("m.toml"))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("line 2: limits.max_line: 100 is below"),
            "{err}"
        );
        assert!(
            err.contains("line 11: listener[1] (imaps).max_line: 0 is below"),
            "{err}"
        );
    }

    #[test]
    fn console_is_off_unless_configured_and_checked() {
        let config = Config::parse("", Path::new("m.toml")).unwrap();
        assert_eq!(config.console, None);
        let config = Config::parse(
            "[console]\nbind = \"127.0.0.1:8443\"\nidle_timeout = 60\n",
            Path::new("m.toml"),
        )
        .unwrap();
        let console = config.console.unwrap();
        assert_eq!(console.bind.port(), 8443);
        assert_eq!(console.idle_timeout, Duration::from_secs(60));
        assert_eq!(console.max_upload, Console::DEFAULT_MAX_UPLOAD);
        let text = "[console]\nbind = \"localhost\"\nmax_upload = 10\nidle_timeout = 0\n";
        let err = Config::parse(text, Path::new("m.toml"))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("line 2: console.bind: 'localhost' is not an address:port"),
            "{err}"
        );
        assert!(
            err.contains("line 3: console.max_upload: 10 bytes is too small"),
            "{err}"
        );
        assert!(
            err.contains("line 4: console.idle_timeout: must be at least 1"),
            "{err}"
        );
        let err = Config::parse("[console]\nbnd = 1\n", Path::new("m.toml"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("did you mean `bind`?"), "{err}");
    }

    /// Broken TOML is reported where the broken construct starts, with its
    /// field, not at the next line where the parser noticed.
    #[test]
    fn broken_toml_names_the_construct_that_is_broken() {
        const GOOD: &str = "[limits]\nmax_line = 1000\n\n[[listener]]\nname = \"imaps\"\nprotocol = \"imap\"\nalpn = [\"imap\"]\ntls = \"implicit\"\nbind = \"127.0.0.1:1\"\nbackend = \"127.0.0.1:2\"\n";
        // (change, into, expected start of the message)
        let cases: &[(&str, &str, &str)] = &[
            (
                "alpn = [\"imap\"]",
                "alpn = [\"imap\"",
                "line 7: listener[1] (imaps).alpn: invalid array expected `]` (noticed on line 8, column 1)",
            ),
            (
                "protocol = \"imap\"",
                "protocol = \"imap",
                "line 6: listener[1] (imaps).protocol: invalid basic string",
            ),
            (
                "tls = \"implicit\"",
                "tls \"implicit\"",
                "line 8: listener[1] (imaps).tls: expected `.`, `=`",
            ),
            (
                "max_line = 1000",
                "max_line = 1000\nmax_line = 2000",
                "line 3: limits.max_line: duplicate key `max_line`",
            ),
            (
                "[limits]",
                "[limits",
                "line 1: limits: invalid table header",
            ),
            (
                "[[listener]]",
                "[[listener]",
                "line 4: listener[1] (imaps): invalid table header",
            ),
        ];
        for (from, to, expected) in cases {
            assert!(GOOD.contains(from), "{from}");
            let text = GOOD.replacen(from, to, 1);
            let err = Config::parse(&text, Path::new("m.toml"))
                .unwrap_err()
                .to_string();
            assert!(
                err.starts_with(&format!("m.toml: {expected}")),
                "{from:?} -> {to:?}: {err}"
            );
            assert!(!err.contains('\n'), "{err}");
        }
        assert!(Config::parse(GOOD, Path::new("m.toml")).is_ok());
    }
}

/// Validates `[console]`; problems are pushed with their line.
fn parse_console(
    raw: RawConsole,
    binds: &mut HashSet<SocketAddr>,
    at_line: &dyn Fn(std::ops::Range<usize>) -> usize,
    problems: &mut Vec<String>,
) -> Option<Console> {
    let at = |span| format!("line {}: console", at_line(span));
    let bind = match SocketAddr::from_str(raw.bind.get_ref()) {
        Ok(addr) if addr.port() != 0 && !binds.insert(addr) => {
            problems.push(format!(
                "{}.bind: {addr} is already used by a listener",
                at(raw.bind.span())
            ));
            None
        }
        Ok(addr) => Some(addr),
        Err(_) => {
            problems.push(format!(
                "{}.bind: '{}' is not an address:port such as 127.0.0.1:8443",
                at(raw.bind.span()),
                raw.bind.get_ref()
            ));
            None
        }
    };
    let mut seconds = |value: Option<Spanned<u64>>, key: &str, default: Duration| match value {
        Some(v) if *v.get_ref() == 0 => {
            problems.push(format!(
                "{}.{key}: must be at least 1 (seconds)",
                at(v.span())
            ));
            default
        }
        Some(v) => Duration::from_secs(*v.get_ref()),
        None => default,
    };
    let idle_timeout = seconds(
        raw.idle_timeout,
        "idle_timeout",
        Console::DEFAULT_IDLE_TIMEOUT,
    );
    let session_lifetime = seconds(
        raw.session_lifetime,
        "session_lifetime",
        Console::DEFAULT_SESSION_LIFETIME,
    );
    let max_login_delay = seconds(
        raw.max_login_delay,
        "max_login_delay",
        Console::DEFAULT_MAX_LOGIN_DELAY,
    );
    let max_upload = match raw.max_upload {
        Some(v) if *v.get_ref() < 16 * 1024 => {
            problems.push(format!(
                "{}.max_upload: {} bytes is too small for a certificate file; use 16384 or more (default {})",
                at(v.span()),
                v.get_ref(),
                Console::DEFAULT_MAX_UPLOAD
            ));
            Console::DEFAULT_MAX_UPLOAD
        }
        Some(v) => *v.get_ref(),
        None => Console::DEFAULT_MAX_UPLOAD,
    };
    Some(Console {
        bind: bind?,
        certificate: raw.certificate,
        idle_timeout,
        session_lifetime,
        max_upload,
        max_login_delay,
    })
}

/// Whether the file has no `[[mta_sts]]` entry at all, valid or not (an
/// invalid one is reported on its own; the listeners that would serve it
/// need not be reported too).
fn raw_has_no_policy(valid: &[MtaSts], problems: &[String]) -> bool {
    valid.is_empty() && !problems.iter().any(|p| p.contains(": mta_sts["))
}

fn secs(value: Option<u64>, default: Duration) -> Duration {
    value.map(Duration::from_secs).unwrap_or(default)
}

/// A TOML error as "line N: table[i] (name).field: what", like the
/// validation errors, instead of toml's multi-line source excerpt.
fn describe_syntax_error(text: &str, error: &toml::de::Error) -> String {
    let mut message = error.message().trim().replace('\n', " ");
    // Broken TOML is told apart by parsing again (only on this error path):
    // its span is where the parser gave up, often a line or more after the
    // construct that is broken, so it is placed at that construct. A shape
    // error's span points at the key, value or table itself.
    let broken = text.parse::<toml::Table>().err();
    let span = broken.as_ref().unwrap_or(error).span();
    if let Some(broken) = &broken {
        message = broken.message().trim().replace('\n', " ");
    }
    let Some(span) = span else {
        return message;
    };
    let place = locate(text, span.start);
    let (start, path) = if broken.is_some() {
        place.syntax()
    } else {
        (place.at, place.path.as_slice())
    };
    if start.line != place.at.line {
        message.push_str(&format!(
            " (noticed on line {}, column {})",
            place.at.line, place.at.column
        ));
    }
    let mut at = String::new();
    for segment in path {
        match segment {
            Segment::Key(_) => {
                if !at.is_empty() {
                    at.push('.');
                }
                at.push_str(&dotted(std::slice::from_ref(segment), 0));
            }
            Segment::Index(i) => {
                // Counted from 1, as people count tables and as plan does.
                at.push_str(&format!("[{}]", i + 1));
                // For an array entry, its `name = "..."` helps find it.
                if let Some(name) = place.table_header.and_then(|h| entry_name(text, h.line)) {
                    at.push_str(&format!(" ({name})"));
                }
            }
        }
    }
    if let Some(unknown) = Unknown::from_message(&message) {
        if let Some(guess) = unknown.closest() {
            message.push_str(&match unknown.kind {
                UnknownKind::Key => format!("; did you mean `{guess}`?"),
                UnknownKind::Value => format!("; did you mean \"{guess}\"?"),
            });
        }
    }
    if let Some(missing) = message
        .strip_prefix("missing field `")
        .and_then(|r| r.split('`').next())
    {
        if !at.is_empty() {
            at.push('.');
        }
        at.push_str(missing);
    }
    if at.is_empty() {
        format!("line {}: {message}", start.line)
    } else {
        format!("line {}: {at}: {message}", start.line)
    }
}

/// The `name = "..."` of the array entry whose header is on `header_line`.
fn entry_name(text: &str, header_line: usize) -> Option<String> {
    text.lines()
        .skip(header_line)
        .take_while(|l| !l.trim_start().starts_with('['))
        .find_map(|l| {
            let (key, value) = l.split_once('=')?;
            // `[[mta_sts]]` entries are known by their domain.
            matches!(key.trim(), "name" | "domain")
                .then(|| value.trim().trim_matches('"').to_string())
        })
}

fn max_line_too_small(max_line: usize) -> String {
    format!("{max_line} is below the 512 bytes SMTP and IMAP clients may send; use 512 or more")
}

fn line_of(text: &str, offset: usize) -> usize {
    mailcert_tomlplace::position(text, offset).line
}

#[cfg(test)]
mod example_tests {
    #[test]
    fn the_shipped_example_is_valid() {
        let path =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/mailcert.toml");
        let config = super::Config::load(&path).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(config.listeners.len(), 8);
        assert_eq!(config.redirects.len(), 1);
        assert_eq!(config.limits.grace_period.as_secs(), 30);
    }
}
