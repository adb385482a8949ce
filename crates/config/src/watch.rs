//! `[metrics]` and `[alerts]`: what `serve` tells monitoring.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use serde::Deserialize;
use toml::Spanned;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawMetrics {
    bind: Spanned<String>,
}

/// `[metrics]`: `GET /metrics` in the Prometheus text format; off unless
/// the table is there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Metrics {
    /// Plain HTTP: keep it on loopback or a management network.
    pub bind: SocketAddr,
}

impl Metrics {
    /// The port Prometheus's own registry of exporter ports gives
    /// OpenTelemetry-style exporters; what the examples use.
    pub const DEFAULT_PORT: u16 = 9464;
}

/// The program `[alerts] command` names, and its arguments: as a string
/// the whole string is the program (never split or given to a shell), as
/// an array the program then its arguments.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub(crate) enum RawCommand {
    Program(String),
    WithArguments(Vec<String>),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawAlerts {
    command: Option<Spanned<RawCommand>>,
    timeout: Option<Spanned<u64>>,
    warning_days: Option<Spanned<i64>>,
}

/// `[alerts]`: the expiry events `serve` logs, and the program it runs for
/// each new one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Alerts {
    /// The program, run directly with the event in its environment.
    pub command: Option<PathBuf>,
    pub arguments: Vec<String>,
    /// How long the program may run before it is killed.
    pub timeout: Duration,
    /// A bound certificate is "expiring" from this many days before its end.
    pub warning_days: i64,
}

impl Alerts {
    pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
    /// As `list` warns (`mailcert_x509::status::EXPIRY_WARNING_DAYS`).
    pub const DEFAULT_WARNING_DAYS: i64 = 30;
}

impl Default for Alerts {
    fn default() -> Self {
        Alerts {
            command: None,
            arguments: Vec::new(),
            timeout: Alerts::DEFAULT_TIMEOUT,
            warning_days: Alerts::DEFAULT_WARNING_DAYS,
        }
    }
}

pub(crate) fn parse_metrics(
    raw: RawMetrics,
    binds: &mut HashSet<SocketAddr>,
    at_line: &dyn Fn(std::ops::Range<usize>) -> usize,
    problems: &mut Vec<String>,
) -> Option<Metrics> {
    let at = format!("line {}: metrics.bind", at_line(raw.bind.span()));
    match SocketAddr::from_str(raw.bind.get_ref()) {
        Ok(addr) if addr.port() != 0 && !binds.insert(addr) => {
            problems.push(format!(
                "{at}: {addr} is already used by a listener or the console; give [metrics] a port of its own, such as 127.0.0.1:{}",
                Metrics::DEFAULT_PORT
            ));
            None
        }
        Ok(bind) => Some(Metrics { bind }),
        Err(_) => {
            problems.push(format!(
                "{at}: '{}' is not an address:port such as 127.0.0.1:{}",
                raw.bind.get_ref(),
                Metrics::DEFAULT_PORT
            ));
            None
        }
    }
}

pub(crate) fn parse_alerts(
    raw: RawAlerts,
    at_line: &dyn Fn(std::ops::Range<usize>) -> usize,
    problems: &mut Vec<String>,
) -> Alerts {
    let mut alerts = Alerts::default();
    if let Some(timeout) = &raw.timeout {
        let seconds = *timeout.get_ref();
        if seconds == 0 || seconds > 3600 {
            problems.push(format!(
                "line {}: alerts.timeout: {seconds} seconds; give 1 to 3600 (default {})",
                at_line(timeout.span()),
                Alerts::DEFAULT_TIMEOUT.as_secs()
            ));
        } else {
            alerts.timeout = Duration::from_secs(seconds);
        }
    }
    if let Some(days) = &raw.warning_days {
        let value = *days.get_ref();
        if !(1..=366).contains(&value) {
            problems.push(format!(
                "line {}: alerts.warning_days: {value}; give 1 to 366 days (default {})",
                at_line(days.span()),
                Alerts::DEFAULT_WARNING_DAYS
            ));
        } else {
            alerts.warning_days = value;
        }
    }
    if let Some(command) = raw.command {
        let at = format!("line {}: alerts.command", at_line(command.span()));
        let (program, arguments) = match command.into_inner() {
            RawCommand::Program(program) => (program, Vec::new()),
            RawCommand::WithArguments(mut all) if !all.is_empty() => {
                let program = all.remove(0);
                (program, all)
            }
            RawCommand::WithArguments(_) => (String::new(), Vec::new()),
        };
        match check_program(&program) {
            Ok(path) => {
                alerts.command = Some(path);
                alerts.arguments = arguments;
            }
            Err(problem) => problems.push(format!("{at}: {problem}")),
        }
    }
    alerts
}

/// The program must be an absolute path to an executable file: `serve`
/// may run with another PATH (systemd's), and nothing is ever given to a
/// shell, so `notify --to ops` as one string is a mistake said here.
fn check_program(program: &str) -> Result<PathBuf, String> {
    use std::os::unix::fs::PermissionsExt;
    if program.trim().is_empty() {
        return Err("names no program; give its absolute path, such as \"/usr/local/bin/notify\", or an array [\"/usr/local/bin/notify\", \"--to\", \"ops\"]".into());
    }
    let path = PathBuf::from(program);
    if !path.is_absolute() {
        return Err(format!(
            "'{program}' is not an absolute path; serve does not search PATH for it: give the full path, such as \"/usr/local/bin/{program}\""
        ));
    }
    match std::fs::metadata(&path) {
        Ok(meta) if meta.is_file() && meta.permissions().mode() & 0o111 != 0 => Ok(path),
        Ok(_) => Err(format!(
            "{program} is not an executable file (chmod +x, or name the program itself)"
        )),
        Err(_) if program.contains(char::is_whitespace) => Err(format!(
            "no program '{program}': the whole string is the program's path, never split or given to a shell; to pass arguments write an array: command = [\"{}\", …]",
            program.split_whitespace().next().unwrap_or_default()
        )),
        Err(e) => Err(format!("{program}: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::Config;

    #[test]
    fn metrics_and_alerts_are_off_or_default_unless_configured() {
        let config = Config::parse("", Path::new("m.toml")).unwrap();
        assert_eq!(config.metrics, None);
        assert_eq!(config.alerts, Alerts::default());
        let text = "[metrics]\nbind = \"127.0.0.1:9464\"\n\n[alerts]\ncommand = [\"/bin/true\", \"--to\", \"ops\"]\ntimeout = 5\nwarning_days = 14\n";
        let config = Config::parse(text, Path::new("m.toml")).unwrap();
        assert_eq!(config.metrics.unwrap().bind.port(), 9464);
        assert_eq!(
            config.alerts.command.as_deref(),
            Some(Path::new("/bin/true"))
        );
        assert_eq!(config.alerts.arguments, ["--to", "ops"]);
        assert_eq!(config.alerts.timeout, Duration::from_secs(5));
        assert_eq!(config.alerts.warning_days, 14);
    }

    #[test]
    fn bad_metrics_and_alerts_name_their_line_and_the_fix() {
        let text = "[[listener]]\nname = \"a\"\nprotocol = \"imap\"\ntls = \"implicit\"\nbind = \"127.0.0.1:9464\"\nbackend = \"127.0.0.1:1\"\n\n[metrics]\nbind = \"127.0.0.1:9464\"\n\n[alerts]\ncommand = \"/bin/notify --to ops\"\ntimeout = 0\nwarning_days = 0\n";
        let err = Config::parse(text, Path::new("m.toml"))
            .unwrap_err()
            .to_string();
        for part in [
            "line 9: metrics.bind: 127.0.0.1:9464 is already used by a listener or the console",
            "line 12: alerts.command: no program '/bin/notify --to ops': the whole string is the program's path, never split or given to a shell; to pass arguments write an array: command = [\"/bin/notify\", …]",
            "line 13: alerts.timeout: 0 seconds; give 1 to 3600",
            "line 14: alerts.warning_days: 0; give 1 to 366 days",
        ] {
            assert!(err.contains(part), "{part}\nnot in: {err}");
        }
        let err = Config::parse("[alerts]\ncommand = \"notify\"\n", Path::new("m.toml"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("'notify' is not an absolute path"), "{err}");
        let err = Config::parse("[alerts]\ncommand = \"/etc\"\n", Path::new("m.toml"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("/etc is not an executable file"), "{err}");
        let err = Config::parse("[metrics]\nbnd = 1\n", Path::new("m.toml"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("did you mean `bind`?"), "{err}");
    }
}
