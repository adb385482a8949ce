//! A throwaway PostgreSQL cluster: Debian's `initdb` and `pg_ctl` in a
//! temporary folder, on a port of its own, listening on 127.0.0.1 with
//! password (SCRAM) authentication, run as `nobody` when the tests run as
//! root (PostgreSQL refuses to run as root).
//!
//! [`Postgres::shared`] starts one cluster per test binary; each test
//! takes a database of its own with [`Postgres::database`]. A watchdog
//! stops a cluster and removes its folder when the test process is gone,
//! since a `static` is never dropped. [`Postgres::start`] makes a private
//! cluster for tests that stop and restart it.

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;

use crate::free_port;

/// The cluster's superuser and its password.
pub const PG_USER: &str = "mailcert";
pub const PG_PASSWORD: &str = "fleet-test-password";

/// Where the server's TLS certificate and key are, to start with TLS on.
#[derive(Debug, Clone, Default)]
pub struct PgOptions {
    /// PEM certificate (chain) and PEM key for `ssl = on`.
    pub tls: Option<(PathBuf, PathBuf)>,
}

/// A running cluster.
pub struct Postgres {
    dir: PathBuf,
    bin: PathBuf,
    pub port: u16,
    /// A password file (0600) with the superuser's password, for URLs'
    /// `passfile=`.
    pub passfile: PathBuf,
    run_as: Option<(u32, u32)>,
    options: PgOptions,
    /// Kept only to remove the folder when the cluster is dropped.
    owned: bool,
}

/// A database of the cluster, with the URL mailcert opens it by.
#[derive(Debug, Clone)]
pub struct PgDatabase {
    pub name: String,
    /// `postgres://mailcert@127.0.0.1:PORT/NAME?passfile=…&sslmode=disable`
    pub url: String,
    pub port: u16,
    pub passfile: PathBuf,
}

impl PgDatabase {
    /// The URL with other parameters (`sslmode=…` replaces the default).
    pub fn url_with(&self, params: &str) -> String {
        let base = self.url.replace("&sslmode=disable", "");
        format!("{base}&{params}")
    }
}

impl Postgres {
    /// One cluster for the whole test binary, started on first use.
    pub fn shared() -> &'static Postgres {
        static SHARED: OnceLock<Postgres> = OnceLock::new();
        SHARED.get_or_init(|| Postgres::start_with(PgOptions::default()))
    }

    /// A cluster of its own (stopped and removed when dropped).
    pub fn start() -> Postgres {
        Postgres::start_with(PgOptions::default())
    }

    pub fn start_with(options: PgOptions) -> Postgres {
        let bin = bin_dir();
        let dir = tempfile::Builder::new()
            .prefix("mailcert-pg-")
            .tempdir()
            .expect("creating a temporary directory")
            .keep();
        crate::set_mode(&dir, 0o755);
        let run_as = if is_root() {
            Some((65534, 65534))
        } else {
            None
        };
        let passfile = dir.join("pgpass");
        let pwfile = dir.join("pwfile");
        std::fs::write(&pwfile, PG_PASSWORD).expect("writing the password file");
        std::fs::write(&passfile, format!("*:*:*:{PG_USER}:{PG_PASSWORD}\n"))
            .expect("writing the pgpass file");
        crate::set_mode(&passfile, 0o600);
        let data = dir.join("data");
        let sockets = dir.join("sockets");
        for d in [&data, &sockets] {
            std::fs::create_dir(d).expect("creating the cluster folders");
        }
        if let Some((uid, gid)) = run_as {
            for p in [&dir, &data, &sockets, &pwfile] {
                std::os::unix::fs::chown(p, Some(uid), Some(gid)).expect("chown to nobody");
            }
        }
        let pg = Postgres {
            dir,
            bin,
            port: free_port(),
            passfile,
            run_as,
            options,
            owned: true,
        };
        let out = pg.tool(
            "initdb",
            &[
                "-D",
                &data.to_string_lossy(),
                "-U",
                PG_USER,
                "--pwfile",
                &pwfile.to_string_lossy(),
                "--auth-local=trust",
                "--auth-host=scram-sha-256",
                "-E",
                "UTF8",
                "--locale=C",
                "--no-sync",
            ],
        );
        assert_ok("initdb", &out);
        if let Some((cert, key)) = pg.options.tls.clone() {
            for (from, to) in [(cert, "server.crt"), (key, "server.key")] {
                let target = data.join(to);
                std::fs::copy(&from, &target).expect("copying the TLS files");
                crate::set_mode(&target, 0o600);
                if let Some((uid, gid)) = run_as {
                    std::os::unix::fs::chown(&target, Some(uid), Some(gid)).expect("chown");
                }
            }
        }
        pg.start_server();
        pg.watch_parent();
        pg
    }

    fn data(&self) -> PathBuf {
        self.dir.join("data")
    }

    /// Starts (again) the server of this cluster and waits until it
    /// accepts connections.
    pub fn start_server(&self) {
        self.start_listening_on("127.0.0.1");
    }

    /// Starts the server with TCP off: only clients on its Unix socket
    /// ([`Postgres::socket_url`]) get in, while everyone connecting over
    /// TCP is refused, as when the database is down for them.
    pub fn start_server_socket_only(&self) {
        self.start_listening_on("''");
    }

    /// The URL of `db` through the cluster's Unix socket (local clients
    /// are trusted there: no password).
    pub fn socket_url(&self, db: &PgDatabase) -> String {
        format!(
            "postgres:///{}?user={PG_USER}&host={}&port={}&sslmode=disable",
            db.name,
            self.dir.join("sockets").display(),
            self.port
        )
    }

    fn start_listening_on(&self, addresses: &str) {
        let mut settings = format!(
            "-p {} -k {} -c listen_addresses={addresses} -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200",
            self.port,
            self.dir.join("sockets").display()
        );
        if self.options.tls.is_some() {
            settings.push_str(" -c ssl=on -c ssl_cert_file=server.crt -c ssl_key_file=server.key");
        }
        let log = self.dir.join("postgres.log");
        let out = self.tool(
            "pg_ctl",
            &[
                "-D",
                &self.data().to_string_lossy(),
                "-l",
                &log.to_string_lossy(),
                "-o",
                &settings,
                "-w",
                "-t",
                "60",
                "start",
            ],
        );
        if !out.status.success() {
            panic!(
                "pg_ctl start failed: {}\n{}",
                String::from_utf8_lossy(&out.stderr),
                std::fs::read_to_string(&log).unwrap_or_default()
            );
        }
    }

    /// Stops the server (fast: open connections are closed).
    pub fn stop_server(&self) {
        let out = self.tool(
            "pg_ctl",
            &[
                "-D",
                &self.data().to_string_lossy(),
                "-m",
                "fast",
                "-w",
                "stop",
            ],
        );
        assert_ok("pg_ctl stop", &out);
    }

    /// Stops the cluster and removes its folder when this process ends,
    /// however it ends.
    fn watch_parent(&self) {
        let script = format!(
            "while [ -d /proc/{pid} ]; do sleep 1; done; {pg_ctl} -D {data} -m immediate stop >/dev/null 2>&1; rm -rf {dir}",
            pid = std::process::id(),
            pg_ctl = self.bin.join("pg_ctl").display(),
            data = self.data().display(),
            dir = self.dir.display()
        );
        let mut command = Command::new("sh");
        command
            .args(["-c", &script])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0);
        if let Some((uid, gid)) = self.run_as {
            command.uid(uid).gid(gid);
        }
        let mut watchdog = command.spawn().expect("starting the cluster's watchdog");
        // Reaped if it ends first (it outlives the cluster otherwise).
        std::thread::spawn(move || watchdog.wait());
    }

    /// A new, empty database for one test.
    pub fn database(&self, label: &str) -> PgDatabase {
        static COUNT: AtomicUsize = AtomicUsize::new(0);
        let clean: String = label
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() {
                    c.to_ascii_lowercase()
                } else {
                    '_'
                }
            })
            .take(40)
            .collect();
        let name = format!("t{}_{clean}", COUNT.fetch_add(1, Ordering::Relaxed));
        let out = self.psql("postgres", &format!("CREATE DATABASE \"{name}\""));
        assert_ok("CREATE DATABASE", &out);
        PgDatabase {
            url: format!(
                "postgres://{PG_USER}@127.0.0.1:{}/{name}?passfile={}&sslmode=disable",
                self.port,
                self.passfile.display()
            ),
            name,
            port: self.port,
            passfile: self.passfile.clone(),
        }
    }

    /// Runs SQL with psql on `db`, over TCP with the password.
    pub fn psql(&self, db: &str, sql: &str) -> Output {
        Command::new(self.bin.join("psql"))
            .args([
                "-X",
                "-q",
                "-v",
                "ON_ERROR_STOP=1",
                "-h",
                "127.0.0.1",
                "-p",
                &self.port.to_string(),
                "-U",
                PG_USER,
                "-d",
                db,
                "-At",
                "-c",
                sql,
            ])
            .env("PGPASSWORD", PG_PASSWORD)
            .env("PGSSLMODE", "disable")
            .stdin(Stdio::null())
            .output()
            .expect("running psql")
    }

    /// Runs SQL and returns its output; panics when it fails.
    pub fn sql(&self, db: &str, sql: &str) -> String {
        let out = self.psql(db, sql);
        assert_ok(sql, &out);
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    /// Everything `db` holds (schema and rows), as pg_dump writes it: two
    /// dumps are equal when nothing was changed in between.
    pub fn dump(&self, db: &str) -> String {
        let out = Command::new(self.bin.join("pg_dump"))
            .args(["-h", "127.0.0.1", "-p", &self.port.to_string()])
            .args(["-U", PG_USER, "-d", db, "--no-comments"])
            .env("PGPASSWORD", PG_PASSWORD)
            .env("PGSSLMODE", "disable")
            .stdin(Stdio::null())
            .output()
            .expect("running pg_dump");
        assert_ok("pg_dump", &out);
        // Newer pg_dump wraps its output in \restrict KEY … \unrestrict
        // KEY with a random key each time: not part of what the database holds.
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter(|l| !l.starts_with("\\restrict") && !l.starts_with("\\unrestrict"))
            .map(|l| format!("{l}\n"))
            .collect()
    }

    /// The folder of the server's binaries (pg_dump, psql, …).
    pub fn bin(&self) -> &Path {
        &self.bin
    }

    fn tool(&self, name: &str, args: &[&str]) -> Output {
        let mut command = Command::new(self.bin.join(name));
        command
            .args(args)
            .current_dir(&self.dir)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        if let Some((uid, gid)) = self.run_as {
            command.uid(uid).gid(gid).env("HOME", &self.dir);
        }
        command
            .output()
            .unwrap_or_else(|e| panic!("cannot run {name}: {e} (run scripts/install-peers.sh)"))
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        if self.owned {
            let _ = self.tool(
                "pg_ctl",
                &[
                    "-D",
                    &self.data().to_string_lossy(),
                    "-m",
                    "immediate",
                    "stop",
                ],
            );
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

fn assert_ok(what: &str, out: &Output) {
    if !out.status.success() {
        panic!(
            "{what} failed ({}):\n{}\n{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// Debian's server binaries: /usr/lib/postgresql/<highest version>/bin.
fn bin_dir() -> PathBuf {
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .map(|entries| {
            entries
                .filter_map(|e| e.ok())
                .filter_map(|e| {
                    let version = e.file_name().to_string_lossy().parse().ok()?;
                    let bin = e.path().join("bin");
                    bin.join("initdb").exists().then_some((version, bin))
                })
                .collect()
        })
        .unwrap_or_default();
    versions.sort();
    versions
        .pop()
        .map(|(_, bin)| bin)
        .expect("no PostgreSQL server under /usr/lib/postgresql (run scripts/install-peers.sh)")
}

fn is_root() -> bool {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata("/proc/self")
        .map(|m| m.uid() == 0)
        .unwrap_or(false)
}
