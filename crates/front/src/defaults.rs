//! The configuration `serve` uses when there is no file, and the lines it
//! prints about what it listens on and how to try it.

use std::path::{Path, PathBuf};

use crate::error::FrontError;
use crate::server::Bound;
use mailcert_config::{Config, Protocol, TlsMode};

pub use mailcert_config::is_root;

/// The default configuration: every usual mail and web port (as root), or
/// the same listeners moved above 1024 (`port + 10000` for mail, 8443 and
/// 8080 for the web) when not root. Backends are the usual local ports of
/// Dovecot, Postfix and a web server moved to 10000 + port.
pub fn default_config(root: bool) -> String {
    let port = |usual: u16, unprivileged: u16| if root { usual } else { unprivileged };
    let mut out = String::new();
    if !root {
        out.push_str(
            "# Not running as root: the usual ports (443, 25, 587, 465, 143, 993, 110, 995, 80)\n\
             # need privileges, so this configuration uses ports above 1024 instead.\n",
        );
    }
    out.push_str(
        "# Listening on loopback only; use 0.0.0.0 or [::] in `bind` to serve the network.\n\n",
    );
    let listeners: [(&str, &str, &str, u16, u16, u16); 8] = [
        ("https", "https", "implicit", port(443, 8443), 10080, 0),
        ("smtp", "smtp", "starttls", port(25, 2525), 10025, 0),
        (
            "submission",
            "smtp",
            "starttls-required",
            port(587, 5587),
            10587,
            0,
        ),
        ("smtps", "smtp", "implicit", port(465, 4465), 10465, 0),
        (
            "imap",
            "imap",
            "starttls-required",
            port(143, 10143),
            10143,
            1,
        ),
        ("imaps", "imap", "implicit", port(993, 10993), 10143, 0),
        (
            "pop3",
            "pop3",
            "starttls-required",
            port(110, 10110),
            10110,
            1,
        ),
        ("pop3s", "pop3", "implicit", port(995, 10995), 10110, 0),
    ];
    for (name, protocol, tls, bind, backend, _) in listeners {
        // Unprivileged IMAP/POP3 ports would collide with their backends.
        let backend = match (root, name) {
            (false, "imap" | "imaps") => 20143,
            (false, "pop3" | "pop3s") => 20110,
            _ => backend,
        };
        out.push_str(&format!(
            "[[listener]]\nname = \"{name}\"\nprotocol = \"{protocol}\"\ntls = \"{tls}\"\nbind = \"127.0.0.1:{bind}\"\nbackend = \"127.0.0.1:{backend}\"\nproxy_protocol = false\n\n"
        ));
    }
    out.push_str(&format!(
        "[[redirect]]\nname = \"http\"\nbind = \"127.0.0.1:{}\"\nhttps_port = {}\n",
        port(80, 8080),
        port(443, 8443)
    ));
    out
}

/// The configuration `serve` runs with: `path` (its `--config`), else
/// the default file, which is written with [`default_config`] when it is
/// missing, so that it can be edited and reloaded with SIGHUP. Also
/// returns the path of the file it wrote, if it wrote one.
pub fn load_or_write_default(
    path: Option<&Path>,
    root: bool,
) -> Result<(Config, Option<PathBuf>), FrontError> {
    if let Some(path) = path {
        return Ok((Config::load(path)?, None));
    }
    let path = mailcert_config::default_config_path();
    let written = write_default_if_missing(&path, root)?;
    Ok((Config::load(&path)?, written))
}

fn write_default_if_missing(path: &Path, root: bool) -> Result<Option<PathBuf>, FrontError> {
    if path.exists() {
        return Ok(None);
    }
    let failed = |action, path: &Path| {
        let path = path.to_path_buf();
        move |source| FrontError::DefaultConfig {
            action,
            path,
            source,
        }
    };
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(failed("creating", dir))?;
    }
    std::fs::write(path, default_config(root)).map_err(failed("writing", path))?;
    Ok(Some(path.to_path_buf()))
}

/// How to try one listener: the name to ask for and the file holding the
/// certificate a client asking for it gets.
#[derive(Debug, Clone)]
pub struct TryWith {
    pub hostname: String,
    pub pem_file: String,
}

/// What the front end listens on, and a command to try each listener;
/// `try_with` gives each listener's name and certificate file, `pem_hints`
/// say how to write those files.
pub fn describe(
    bound: &[Bound],
    try_with: impl Fn(&Bound) -> TryWith,
    pem_hints: &[String],
) -> Vec<String> {
    let mut lines = Vec::new();
    for b in bound {
        let what = match (b.protocol, b.tls) {
            (Some(p), Some(t)) => format!("{:<5} {:<17}", p.as_str(), tls_word(t)),
            _ => format!("{:<5} {:<17}", "http", "redirect to https"),
        };
        let backend = b
            .backend
            .as_deref()
            .map(|x| format!(" -> {x}"))
            .unwrap_or_default();
        lines.push(format!("  {:<11} {what} {}{backend}", b.name, b.addr));
    }
    lines.push(String::new());
    lines.push("try it:".into());
    for b in bound {
        let addr = b.addr;
        let TryWith { hostname, pem_file } = try_with(b);
        let line = match (b.protocol, b.tls) {
            (Some(Protocol::Https), _) => format!(
                "curl -v --cacert {pem_file} --connect-to {hostname}:{port}:{addr} https://{hostname}:{port}/",
                port = addr.port()
            ),
            (Some(_), Some(TlsMode::Implicit)) => format!(
                "openssl s_client -connect {addr} -servername {hostname} -CAfile {pem_file}"
            ),
            (Some(p), Some(_)) => format!(
                "openssl s_client -connect {addr} -starttls {} -servername {hostname} -CAfile {pem_file}",
                match p {
                    Protocol::Imap => "imap",
                    Protocol::Pop3 => "pop3",
                    _ => "smtp",
                }
            ),
            _ => format!("curl -i http://{addr}/"),
        };
        lines.push(format!("  {line}"));
    }
    for hint in pem_hints {
        lines.push(format!("  ({hint})"));
    }
    lines
}

fn tls_word(t: TlsMode) -> &'static str {
    match t {
        TlsMode::Implicit => "implicit TLS",
        TlsMode::Starttls => "STARTTLS offered",
        TlsMode::StarttlsRequired => "STARTTLS required",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_configs_are_valid() {
        for root in [true, false] {
            let text = default_config(root);
            let config =
                mailcert_config::Config::parse(&text, std::path::Path::new("default.toml"))
                    .unwrap_or_else(|e| panic!("{e}\n{text}"));
            assert_eq!(config.listeners.len(), 8);
            assert!(config
                .listeners
                .iter()
                .all(|l| root || l.bind.port() > 1024));
        }
    }

    #[test]
    fn a_missing_default_file_is_written_once_and_loads() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("etc/mailcert/mailcert.toml");
        assert_eq!(
            write_default_if_missing(&path, false).expect("written"),
            Some(path.clone())
        );
        let config = Config::load(&path).expect("the defaults load");
        assert_eq!(config.listeners.len(), 8);
        std::fs::write(&path, "# edited\n").expect("edit");
        assert_eq!(write_default_if_missing(&path, false).expect("kept"), None);
        assert_eq!(std::fs::read_to_string(&path).expect("read"), "# edited\n");
    }

    #[test]
    fn a_default_file_that_cannot_be_written_names_the_path() {
        let dir = tempfile::tempdir().expect("dir");
        let blocker = dir.path().join("file");
        std::fs::write(&blocker, "").expect("file");
        let path = blocker.join("mailcert.toml");
        let error = write_default_if_missing(&path, false).expect_err("a file is no directory");
        assert_eq!(error.to_string(), format!("creating {}", blocker.display()));
    }

    #[test]
    fn an_explicit_file_is_only_read() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("missing.toml");
        assert!(load_or_write_default(Some(&path), false).is_err());
        assert!(!path.exists());
    }
}
