//! A PostgreSQL store URL, read the way libpq reads it where mailcert
//! uses the same words (`sslmode`, `sslrootcert`, `passfile`,
//! `connect_timeout`, `application_name`, `host`, `port`, `user`,
//! `dbname`), and its password from where libpq looks for it:
//! `PGPASSWORD`, then the password file (`passfile=`, `PGPASSFILE`,
//! `~/.pgpass`).
//!
//! A password in the URL itself is refused: the URL is printed in
//! messages, shown by `ps`, kept in shell history and in the front end's
//! configuration.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::error::{Result, StoreError};

/// How TLS to the server is used, as libpq's `sslmode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SslMode {
    /// Plain TCP.
    Disable,
    /// TLS when the server offers it, without checking its certificate
    /// (libpq's default; `allow` reads as this too).
    Prefer,
    /// TLS or nothing; the certificate is checked against `sslrootcert`
    /// when one is given (as libpq does), otherwise not.
    Require,
    /// TLS, and the server's certificate chains to a trusted root.
    VerifyCa,
    /// TLS, the chain, and the host name on the certificate.
    VerifyFull,
}

impl SslMode {
    fn parse(text: &str) -> Option<SslMode> {
        Some(match text {
            "disable" => SslMode::Disable,
            "allow" | "prefer" => SslMode::Prefer,
            "require" => SslMode::Require,
            "verify-ca" => SslMode::VerifyCa,
            "verify-full" => SslMode::VerifyFull,
            _ => return None,
        })
    }
}

/// Where the trusted roots for `verify-ca`/`verify-full` come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RootCerts {
    /// `sslrootcert=system`: the system's trust store.
    System,
    /// A PEM file.
    File(PathBuf),
}

/// The server to connect to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PgHost {
    Tcp(String),
    /// A Unix socket directory.
    Socket(PathBuf),
}

/// A parsed `postgres://` URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PgTarget {
    /// The URL as given (it never holds a password).
    pub url: String,
    pub host: PgHost,
    pub port: u16,
    pub user: String,
    pub dbname: String,
    pub sslmode: SslMode,
    pub sslrootcert: Option<RootCerts>,
    pub passfile: Option<PathBuf>,
    pub connect_timeout: Duration,
    pub application_name: String,
}

/// The parameters mailcert reads, for the error on any other.
const KNOWN_PARAMETERS: &str =
    "sslmode, sslrootcert, passfile, connect_timeout, application_name, host, port, user, dbname";

/// Debian's socket directory, libpq's default when no host is given.
const DEFAULT_SOCKET_DIR: &str = "/var/run/postgresql";

impl PgTarget {
    pub fn parse(text: &str) -> Result<PgTarget> {
        let bad = |reason: String| StoreError::BadUrl {
            url: redact_text(text),
            reason,
        };
        let url = url::Url::parse(text).map_err(|e| bad(e.to_string()))?;
        if url.cannot_be_a_base() {
            return Err(bad(format!("'{}:' must be followed by //", url.scheme())));
        }
        if url.password().is_some() {
            return Err(StoreError::PasswordInUrl { url: redact(&url) });
        }
        let decode = |part: &str| {
            percent_decode(part)
                .ok_or_else(|| bad(format!("'{part}' is not valid percent-encoding")))
        };
        let mut user = (!url.username().is_empty())
            .then(|| decode(url.username()))
            .transpose()?;
        let mut host = match url.host_str().filter(|h| !h.is_empty()) {
            Some(h) => {
                let h = decode(h)?;
                Some(if h.starts_with('/') {
                    PgHost::Socket(PathBuf::from(h))
                } else {
                    PgHost::Tcp(h.trim_start_matches('[').trim_end_matches(']').to_string())
                })
            }
            None => None,
        };
        let mut port = url.port();
        let path = url.path().trim_start_matches('/');
        if path.contains('/') {
            return Err(bad(format!(
                "the path '/{path}' names more than a database"
            )));
        }
        let mut dbname = (!path.is_empty()).then(|| decode(path)).transpose()?;
        let mut sslmode = SslMode::Prefer;
        let mut sslrootcert = None;
        let mut passfile = None;
        let mut connect_timeout = Duration::from_secs(10);
        let mut application_name = "mailcert".to_string();
        for (name, value) in url.query_pairs() {
            let value = value.into_owned();
            match name.as_ref() {
                "password" => {
                    return Err(StoreError::PasswordInUrl {
                        url: redact(&url),
                    })
                }
                "sslmode" => {
                    sslmode = SslMode::parse(&value).ok_or_else(|| {
                        bad(format!("sslmode '{value}' is not one of disable, allow, prefer, require, verify-ca, verify-full"))
                    })?
                }
                "sslrootcert" => {
                    sslrootcert = Some(if value == "system" {
                        RootCerts::System
                    } else {
                        RootCerts::File(PathBuf::from(value))
                    })
                }
                "passfile" => passfile = Some(PathBuf::from(value)),
                "connect_timeout" => {
                    let secs: u64 = value.parse().map_err(|_| {
                        bad(format!("connect_timeout '{value}' is not a number of seconds"))
                    })?;
                    connect_timeout = Duration::from_secs(secs.max(1));
                }
                "application_name" => application_name = value,
                "host" => {
                    host = Some(if value.starts_with('/') {
                        PgHost::Socket(PathBuf::from(value))
                    } else {
                        PgHost::Tcp(value)
                    })
                }
                "port" => {
                    port = Some(value.parse().map_err(|_| {
                        bad(format!("port '{value}' is not a port number"))
                    })?)
                }
                "user" => user = Some(value),
                "dbname" => dbname = Some(value),
                other => {
                    return Err(bad(format!(
                        "the parameter '{other}' is not one mailcert reads ({KNOWN_PARAMETERS})"
                    )))
                }
            }
        }
        let user = match user {
            Some(u) => u,
            None => ["PGUSER", "USER", "LOGNAME"]
                .iter()
                .find_map(|v| std::env::var(v).ok().filter(|s| !s.is_empty()))
                .ok_or_else(|| bad("it names no user (postgres://USER@HOST/DATABASE)".into()))?,
        };
        let dbname = dbname.unwrap_or_else(|| user.clone());
        Ok(PgTarget {
            url: text.to_string(),
            host: host.unwrap_or_else(|| PgHost::Socket(PathBuf::from(DEFAULT_SOCKET_DIR))),
            port: port.unwrap_or(5432),
            user,
            dbname,
            sslmode,
            sslrootcert,
            passfile,
            connect_timeout,
            application_name,
        })
    }

    /// The host name as TLS checks it, and as the password file matches it.
    pub fn host_name(&self) -> String {
        match &self.host {
            PgHost::Tcp(h) => h.clone(),
            PgHost::Socket(_) => "localhost".into(),
        }
    }

    /// The password for this connection: `PGPASSWORD`, else the first
    /// matching line of the password file. `None` when there is none
    /// (the server may not ask for one).
    pub fn password(&self) -> Result<Option<String>> {
        if let Some(p) = std::env::var_os("PGPASSWORD").filter(|p| !p.is_empty()) {
            return Ok(Some(p.to_string_lossy().into_owned()));
        }
        let (path, named) = match (&self.passfile, std::env::var_os("PGPASSFILE")) {
            (Some(p), _) => (p.clone(), true),
            (None, Some(p)) if !p.is_empty() => (PathBuf::from(p), true),
            _ => match std::env::var_os("HOME") {
                Some(home) => (PathBuf::from(home).join(".pgpass"), false),
                None => return Ok(None),
            },
        };
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && !named => return Ok(None),
            Err(e) => {
                return Err(StoreError::PasswordFile {
                    path,
                    problem: format!("cannot be read: {e}"),
                })
            }
        };
        ensure_private(&path)?;
        let socket = match &self.host {
            PgHost::Socket(dir) => Some(dir.to_string_lossy().into_owned()),
            PgHost::Tcp(_) => None,
        };
        let hosts: Vec<String> = std::iter::once(self.host_name()).chain(socket).collect();
        Ok(lookup_password(
            &text,
            &hosts,
            self.port,
            &self.dbname,
            &self.user,
        ))
    }
}

/// Like libpq, a password file others can read is not used; unlike libpq
/// (which warns and goes on without it), this is an error: a fleet's
/// database password must not sit in a readable file unnoticed.
fn ensure_private(path: &Path) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(path)
        .map(|m| m.permissions().mode() & 0o777)
        .unwrap_or(0o600);
    if mode & 0o077 != 0 {
        return Err(StoreError::PasswordFile {
            path: path.to_path_buf(),
            problem: format!(
                "has mode {mode:04o}: others can read the database password; fix: chmod 600 {}",
                path.display()
            ),
        });
    }
    Ok(())
}

/// The password of the first `host:port:database:user:password` line that
/// matches (`*` matches anything; `\:` and `\\` escape), as libpq reads
/// ~/.pgpass. Hand-written: the format is five fields, and no maintained
/// crate reads it.
fn lookup_password(
    text: &str,
    hosts: &[String],
    port: u16,
    dbname: &str,
    user: &str,
) -> Option<String> {
    let port = port.to_string();
    for line in text.lines() {
        if line.starts_with('#') || line.trim().is_empty() {
            continue;
        }
        let fields = split_pgpass(line);
        let [host, p, db, u, password] = &fields[..] else {
            continue;
        };
        let matches = |field: &str, wanted: &str| field == "*" || field == wanted;
        if hosts.iter().any(|h| matches(host, h))
            && matches(p, &port)
            && matches(db, dbname)
            && matches(u, user)
        {
            return Some(password.clone());
        }
    }
    None
}

fn split_pgpass(line: &str) -> Vec<String> {
    let mut fields = vec![String::new()];
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                if let (Some(next), Some(f)) = (chars.next(), fields.last_mut()) {
                    f.push(next);
                }
            }
            ':' if fields.len() < 5 => fields.push(String::new()),
            _ => {
                if let Some(f) = fields.last_mut() {
                    f.push(c);
                }
            }
        }
    }
    fields
}

fn percent_decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = text.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// The URL with its password replaced, for the refusal message.
/// `text` with any password in it replaced, for an error about a URL that
/// may not even parse: the `user:password@` of its authority and the
/// value of a `password=` parameter. What a user typed is repeated in
/// errors and logs; a password must not be.
pub(crate) fn redact_text(text: &str) -> String {
    let mut out = text.to_string();
    if let Some(start) = out.find("://").map(|i| i + 3) {
        let end = out[start..]
            .find(['/', '?', '#'])
            .map_or(out.len(), |i| start + i);
        if let Some(at) = out[start..end].rfind('@').map(|i| start + i) {
            if let Some(colon) = out[start..at].find(':').map(|i| start + i) {
                out.replace_range(colon + 1..at, "PASSWORD");
            }
        }
    }
    let mut from = 0;
    while let Some(found) = out[from..].to_ascii_lowercase().find("password=") {
        let value = from + found + "password=".len();
        let end = out[value..]
            .find(['&', '#'])
            .map_or(out.len(), |i| value + i);
        out.replace_range(value..end, "PASSWORD");
        from = value + "PASSWORD".len();
    }
    out
}

fn redact(url: &url::Url) -> String {
    let mut shown = url.clone();
    if shown.password().is_some() {
        let _ = shown.set_password(Some("PASSWORD"));
    }
    let pairs: Vec<(String, String)> = shown
        .query_pairs()
        .map(|(k, v)| {
            let v = if k == "password" {
                "PASSWORD".to_string()
            } else {
                v.into_owned()
            };
            (k.into_owned(), v)
        })
        .collect();
    if !pairs.is_empty() {
        shown.query_pairs_mut().clear().extend_pairs(pairs);
    }
    shown.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_parts_of_a_url() {
        let t = PgTarget::parse(
            "postgresql://mailcert@db.contoso.com:5433/certs?sslmode=verify-full&sslrootcert=/etc/ca.pem&connect_timeout=3",
        )
        .unwrap();
        assert_eq!(t.host, PgHost::Tcp("db.contoso.com".into()));
        assert_eq!(t.port, 5433);
        assert_eq!(t.user, "mailcert");
        assert_eq!(t.dbname, "certs");
        assert_eq!(t.sslmode, SslMode::VerifyFull);
        assert_eq!(t.sslrootcert, Some(RootCerts::File("/etc/ca.pem".into())));
        assert_eq!(t.connect_timeout, Duration::from_secs(3));
        let socket = PgTarget::parse("postgres://u@%2Frun%2Fpg/d").unwrap();
        assert_eq!(socket.host, PgHost::Socket("/run/pg".into()));
        let socket = PgTarget::parse("postgres:///d?host=/run/pg&user=u").unwrap();
        assert_eq!(socket.host, PgHost::Socket("/run/pg".into()));
    }

    #[test]
    fn refuses_passwords_and_nonsense() {
        for url in [
            "postgres://u:secret@h/d",
            "postgres://u@h/d?password=secret",
        ] {
            let err = PgTarget::parse(url).unwrap_err();
            assert!(matches!(err, StoreError::PasswordInUrl { .. }), "{url}");
            assert!(!err.to_string().contains("secret"), "{err}");
        }
        for (url, says) in [
            ("postgres://u@h:notaport/d", "port"),
            ("postgres://u@h/d/e", "more than a database"),
            ("postgres://u@h/d?sslmode=sometimes", "sslmode"),
            ("postgres://u@h/d?frobnicate=1", "frobnicate"),
        ] {
            let err = PgTarget::parse(url).unwrap_err().to_string();
            assert!(err.contains(says), "{url}: {err}");
        }
    }

    /// Found by the store_url fuzz target: a URL that did not parse was
    /// repeated in the error with its password.
    #[test]
    fn a_malformed_url_is_shown_without_its_password() {
        for url in [
            "postgres://user:s3cr3tpw@",
            "postgres://u:s3cr3tpw@h:notaport/d",
            "postgres://u:s3cr3tpw@[::1/d",
            "postgresql://h:99999/d?PassWord=s3cr3tpw&sslmode=x",
        ] {
            let err = PgTarget::parse(url).unwrap_err().to_string();
            assert!(!err.contains("s3cr3tpw"), "{url}: {err}");
            assert!(err.contains("PASSWORD"), "{url}: {err}");
        }
        assert_eq!(
            redact_text("postgres://u@h/d?sslmode=require"),
            "postgres://u@h/d?sslmode=require"
        );
        let err = crate::StoreDb::parse("mysql://root:s3cr3tpw@db/x".as_ref())
            .unwrap_err()
            .to_string();
        assert!(err.contains("mysql://root:PASSWORD@db/x"), "{err}");
    }

    #[test]
    fn finds_the_password_line_like_libpq() {
        let text = "# comment\nother:5432:*:u:no\ndb\\:x:*:certs:u:a\\:b\n*:5432:*:*:fallback\n";
        let hosts = ["db:x".to_string()];
        assert_eq!(
            lookup_password(text, &hosts, 5433, "certs", "u").as_deref(),
            Some("a:b")
        );
        let hosts = ["db2".to_string()];
        assert_eq!(
            lookup_password(text, &hosts, 5432, "certs", "v").as_deref(),
            Some("fallback")
        );
        assert_eq!(lookup_password(text, &hosts, 5433, "certs", "v"), None);
    }
}
