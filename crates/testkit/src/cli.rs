//! The `mailcert` binary as every test runs it: one directory per test,
//! one recipe for the environment, and the before/after snapshot that
//! proves a refused command changed nothing.
//!
//! The recipe: `MAILCERT_STORE` is the test's own `store.db` (or the
//! store the test names), every other `MAILCERT_*` variable the
//! developer's shell may hold is removed, `HOME` and the XDG folders are
//! inside the test's directory, which is also the working directory, and
//! standard input is empty. A test that wants something else says so on
//! the [`Command`] it gets from [`Cli::command`].
//!
//! The binary is the caller's (`env!("CARGO_BIN_EXE_mailcert")` is only
//! known to the binary's own tests), passed to [`Cli::new`].

use std::ffi::{OsStr, OsString};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::time::Duration;

use crate::{temp_dir, wait_until, TempDir};

/// The variables of mailcert and its PostgreSQL client that a developer's
/// shell may hold and that would change what a command does.
const SCRUBBED: &[&str] = &[
    "MAILCERT_STORE_KEY_FILE",
    "MAILCERT_CONFIG",
    "MAILCERT_PASSWORD",
    "MAILCERT_NODE",
    "PGPASSWORD",
    "PGPASSFILE",
];

/// A fresh directory with (by default) a store in it, and the binary to
/// run on it.
pub struct Cli {
    bin: PathBuf,
    dir: PathBuf,
    _temp: Option<TempDir>,
    /// `MAILCERT_STORE` (`None`: no store named at all).
    store: Option<OsString>,
    key_file: Option<PathBuf>,
    vars: Vec<(OsString, OsString)>,
}

/// What one command did.
#[derive(Debug, Clone)]
pub struct Run {
    /// The command line, for messages.
    pub args: Vec<String>,
    /// The exit code (-1 when a signal ended it).
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl From<Output> for Run {
    /// What a [`Command`] of the caller's making did.
    fn from(out: Output) -> Run {
        Run::from_output(&[], out)
    }
}

impl Run {
    pub fn from_output(args: &[&str], out: Output) -> Run {
        Run {
            args: args.iter().map(|a| a.to_string()).collect(),
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    /// Asserts exit 0.
    #[track_caller]
    pub fn ok(self) -> Run {
        self.fails_with(0)
    }

    /// Asserts the exit code.
    #[track_caller]
    pub fn fails_with(self, code: i32) -> Run {
        assert_eq!(
            self.code, code,
            "mailcert {:?}: expected exit {code}\n--- stdout\n{}\n--- stderr\n{}",
            self.args, self.stdout, self.stderr
        );
        self
    }

    /// Standard output parsed as JSON.
    #[track_caller]
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| {
            panic!(
                "mailcert {:?}: stdout is not JSON ({e}):\n{}\n--- stderr\n{}",
                self.args, self.stdout, self.stderr
            )
        })
    }

    /// Standard output, trimmed.
    pub fn out(&self) -> &str {
        self.stdout.trim()
    }

    /// Standard output then standard error.
    pub fn all(&self) -> String {
        format!("{}{}", self.stdout, self.stderr)
    }

    /// The first line of standard output, trimmed (what `new`, `request`
    /// and `import` print: a thumbprint or a request id).
    pub fn first_line(&self) -> String {
        self.stdout.lines().next().unwrap_or("").trim().to_string()
    }
}

/// What a command can change, as the command line shows it: `list
/// --json` (less what only the clock moves: `days_left`, the N of
/// "expires in N days"), `log --json` and `trust list --json`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snapshot {
    pub list: String,
    pub log: String,
    pub trust: String,
}

/// `list --json` (or `GET /api/v1/certificates`) less what only the
/// clock moves between two readings: `days_left` goes, and the N of
/// "expires in N days" becomes "N". Everything else stays to compare.
pub fn without_the_clock(mut list: serde_json::Value) -> serde_json::Value {
    for item in list.as_array_mut().expect("list --json is an array") {
        let Some(object) = item.as_object_mut() else {
            continue;
        };
        object.remove("days_left");
        if let Some(warnings) = object.get_mut("warnings").and_then(|w| w.as_array_mut()) {
            for warning in warnings.iter_mut() {
                if warning
                    .as_str()
                    .is_some_and(|t| t.starts_with("expires in "))
                {
                    *warning = serde_json::Value::from("expires in N days");
                }
            }
        }
    }
    list
}

impl Cli {
    /// A fresh directory; the store is `store.db` in it (not created).
    pub fn new(bin: impl AsRef<Path>) -> Cli {
        let temp = temp_dir();
        let mut cli = Cli::in_dir(bin, temp.path());
        cli._temp = Some(temp);
        cli
    }

    /// In `dir` (which the caller keeps), with the store `store.db` in it.
    pub fn in_dir(bin: impl AsRef<Path>, dir: &Path) -> Cli {
        Cli {
            store: Some(dir.join("store.db").into_os_string()),
            bin: bin.as_ref().to_path_buf(),
            dir: dir.to_path_buf(),
            _temp: None,
            key_file: None,
            vars: Vec::new(),
        }
    }

    /// Another store instead of `store.db`: a file, or a `postgres://`
    /// URL with its key file.
    pub fn with_store(mut self, store: impl AsRef<OsStr>, key_file: Option<&Path>) -> Cli {
        self.store = Some(store.as_ref().to_os_string());
        self.key_file = key_file.map(Path::to_path_buf);
        self
    }

    /// No store named: no `MAILCERT_STORE`, for the commands that need
    /// none (`check`, `verify`) and for the rules of where the store is.
    pub fn without_store(mut self) -> Cli {
        self.store = None;
        self
    }

    /// A variable every command of this Cli gets (`MAILCERT_NODE`, …).
    pub fn with_env(mut self, name: &str, value: impl AsRef<OsStr>) -> Cli {
        self.vars
            .push((OsString::from(name), value.as_ref().to_os_string()));
        self
    }

    /// The binary.
    pub fn bin(&self) -> &Path {
        &self.bin
    }

    /// The test's directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    /// [`Cli::path`] as a string, for argument lists.
    pub fn p(&self, name: &str) -> String {
        self.path(name).display().to_string()
    }

    /// The store's file (meaningful for the default SQLite store).
    pub fn store(&self) -> PathBuf {
        PathBuf::from(self.store.clone().unwrap_or_default())
    }

    /// `mailcert ARGS` with the recipe.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(&self.bin);
        command.args(args);
        self.isolate(&mut command);
        command
    }

    /// `PROGRAM PRE... mailcert ARGS` with the recipe: the binary run
    /// through another (`prlimit`, `faketime`, a socket launcher).
    pub fn wrapped(&self, program: &str, pre: &[&str], args: &[&str]) -> Command {
        let mut command = Command::new(program);
        command.args(pre).arg(&self.bin).args(args);
        self.isolate(&mut command);
        command
    }

    fn isolate(&self, command: &mut Command) {
        for name in SCRUBBED {
            command.env_remove(name);
        }
        match &self.store {
            Some(store) => command.env("MAILCERT_STORE", store),
            None => command.env_remove("MAILCERT_STORE"),
        };
        command
            .env("HOME", self.dir())
            .env("XDG_CONFIG_HOME", self.path("config"))
            .env("XDG_DATA_HOME", self.path(".local/share"))
            .current_dir(self.dir())
            .stdin(Stdio::null());
        if let Some(key) = &self.key_file {
            command.env("MAILCERT_STORE_KEY_FILE", key);
        }
        for (name, value) in &self.vars {
            command.env(name, value);
        }
    }

    /// Runs `mailcert ARGS`.
    pub fn run(&self, args: &[&str]) -> Run {
        Run::from_output(args, self.command(args).output().expect("running mailcert"))
    }

    /// Runs `mailcert ARGS`; what the process did, as it did it.
    pub fn output(&self, args: &[&str]) -> Output {
        self.command(args).output().expect("running mailcert")
    }

    /// Runs `mailcert ARGS` with more variables.
    pub fn run_with(&self, args: &[&str], vars: &[(&str, &str)]) -> Run {
        let mut command = self.command(args);
        for (name, value) in vars {
            command.env(name, value);
        }
        Run::from_output(args, command.output().expect("running mailcert"))
    }

    /// Runs `mailcert ARGS` and asserts exit 0.
    #[track_caller]
    pub fn ok(&self, args: &[&str]) -> Run {
        self.run(args).ok()
    }

    /// Runs `mailcert ARGS`, asserts exit 2 (bad input, refused) and that
    /// the store is as it was ([`Cli::snapshot`] before and after).
    #[track_caller]
    pub fn refused(&self, args: &[&str]) -> Run {
        self.refused_with(args, &[])
    }

    /// [`Cli::refused`] with more variables.
    #[track_caller]
    pub fn refused_with(&self, args: &[&str], vars: &[(&str, &str)]) -> Run {
        let before = self.snapshot();
        let run = self.run_with(args, vars).fails_with(2);
        let after = self.snapshot();
        assert_eq!(
            before.list, after.list,
            "list --json changed after refused {args:?}"
        );
        assert_eq!(
            before.log, after.log,
            "log --json changed after refused {args:?}"
        );
        assert_eq!(
            before.trust, after.trust,
            "trust list --json changed after refused {args:?}"
        );
        run
    }

    /// The store as the command line shows it (see [`Snapshot`]).
    #[track_caller]
    pub fn snapshot(&self) -> Snapshot {
        let list = without_the_clock(self.ok(&["list", "--json"]).json());
        Snapshot {
            list: list.to_string(),
            log: self.ok(&["log", "--json", "--limit", "100000"]).stdout,
            trust: self.ok(&["trust", "list", "--json"]).stdout,
        }
    }

    /// `mailcert init --hostname HOST`; returns the thumbprint of the
    /// certificate it made.
    #[track_caller]
    pub fn init(&self, host: &str) -> String {
        self.ok(&["init", "--hostname", host]);
        self.list()[0]["thumbprint"]
            .as_str()
            .expect("a thumbprint")
            .to_string()
    }

    /// `new --self-signed EXTRA…`; returns what it prints (the
    /// thumbprint), trimmed.
    #[track_caller]
    pub fn new_self_signed(&self, extra: &[&str]) -> String {
        let mut args = vec!["new", "--self-signed"];
        args.extend_from_slice(extra);
        self.ok(&args).out().to_string()
    }

    /// `list --json`, as an array.
    #[track_caller]
    pub fn list(&self) -> Vec<serde_json::Value> {
        self.ok(&["list", "--json"])
            .json()
            .as_array()
            .expect("list --json is an array")
            .clone()
    }

    /// `show THUMBPRINT --json`.
    #[track_caller]
    pub fn show(&self, thumbprint: &str) -> serde_json::Value {
        self.ok(&["show", thumbprint, "--json"]).json()
    }

    /// Imports `leaf` — its certificate and chain as one file
    /// (`NAME-bundle.pem`), and `--key` — and returns its thumbprint.
    #[track_caller]
    pub fn import_leaf(&self, leaf: &crate::Leaf) -> String {
        let name = leaf
            .cert
            .file_stem()
            .and_then(OsStr::to_str)
            .unwrap_or("leaf");
        let bundle = self.write(&format!("{name}-bundle.pem"), leaf.with_chain());
        self.ok(&[
            "import",
            &bundle.display().to_string(),
            "--key",
            &leaf.key.display().to_string(),
        ])
        .first_line()
    }

    /// The services a certificate is bound to, as `show --json` says.
    #[track_caller]
    pub fn services(&self, thumbprint: &str) -> Vec<String> {
        services_of(&self.show(thumbprint))
    }

    /// Writes a file into the test's directory.
    pub fn write(&self, name: &str, content: impl AsRef<[u8]>) -> PathBuf {
        let path = self.path(name);
        std::fs::write(&path, content).expect("writing a test file");
        path
    }

    /// Reads a file of the test's directory.
    pub fn read(&self, name: &str) -> Vec<u8> {
        std::fs::read(self.path(name)).expect("reading a test file")
    }

    /// `mailcert serve ARGS`, once it says it serves; its standard error
    /// goes to `serve.log` in the test's directory.
    #[track_caller]
    pub fn serve(&self, args: &[&str]) -> Serve {
        let mut all = vec!["serve"];
        all.extend_from_slice(args);
        Serve::start(self.command(&all), &self.path("serve.log"))
    }
}

/// The `services` of a certificate as `list --json` and `show --json`
/// give it.
#[track_caller]
pub fn services_of(certificate: &serde_json::Value) -> Vec<String> {
    certificate["services"]
        .as_array()
        .expect("services is an array")
        .iter()
        .map(|s| s.as_str().expect("a service is a string").to_string())
        .collect()
}

/// A `[[listener]]` table of `mailcert serve`'s configuration on the
/// loopback: `name`, `protocol`, `tls` mode, the `bind` port (0: any) and
/// the `backend` port, then `extra` (`key = value` lines, or nothing) and
/// a blank line.
pub fn listener_toml(
    name: &str,
    protocol: &str,
    tls: &str,
    bind: u16,
    backend: u16,
    extra: &str,
) -> String {
    format!(
        "[[listener]]\nname = \"{name}\"\nprotocol = \"{protocol}\"\ntls = \"{tls}\"\nbind = \"127.0.0.1:{bind}\"\nbackend = \"127.0.0.1:{backend}\"\n{extra}\n"
    )
}

/// A running `mailcert serve`; stopped with SIGTERM when dropped.
pub struct Serve {
    child: Option<Child>,
    said: String,
    log: PathBuf,
}

impl Serve {
    /// Starts `command` (a `serve`, however wrapped) with standard error
    /// to `log`, and returns once it has said how to reload it (the last
    /// thing it says when every listener is up). Panics with what it said
    /// and its log when it ends before that.
    #[track_caller]
    pub fn start(mut command: Command, log: &Path) -> Serve {
        let mut child = command
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(log).expect("the log of serve"))
            .spawn()
            .expect("starting mailcert serve");
        let mut stdout = BufReader::new(child.stdout.take().expect("piped stdout"));
        let mut said = String::new();
        while !said.contains("SIGHUP") {
            let mut line = String::new();
            if stdout.read_line(&mut line).unwrap_or(0) == 0 {
                let _ = child.wait();
                panic!(
                    "mailcert serve ended before serving: {said}\n--- its log\n{}",
                    std::fs::read_to_string(log).unwrap_or_default()
                );
            }
            said.push_str(&line);
        }
        // Keep reading, so that serve never blocks on a full pipe.
        std::thread::spawn(move || for _ in stdout.lines() {});
        Serve {
            child: Some(child),
            said,
            log: log.to_path_buf(),
        }
    }

    /// What it printed up to the moment it served.
    pub fn said(&self) -> &str {
        &self.said
    }

    /// Its standard error so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().map(Child::id).unwrap_or_default()
    }

    /// Sends a signal (`HUP`, `TERM`, …) by name.
    pub fn signal(&self, name: &str) {
        let sent = Command::new("kill")
            .args([&format!("-{name}"), &self.pid().to_string()])
            .status()
            .expect("running kill");
        assert!(sent.success(), "kill -{name} {}", self.pid());
    }

    /// How it ended, if it has (it is not waited for).
    pub fn exited(&mut self) -> Option<ExitStatus> {
        self.child.as_mut()?.try_wait().ok().flatten()
    }

    /// SIGTERM, then waits (generously) until it has exited.
    pub fn stop(mut self) -> ExitStatus {
        self.terminate().expect("serve was running")
    }

    /// SIGKILL: it says nothing more, as a crashed server.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            crate::kill_child(&mut child);
        }
    }

    fn terminate(&mut self) -> Option<ExitStatus> {
        let mut child = self.child.take()?;
        let _ = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status();
        let mut status = None;
        wait_until(
            "mailcert serve exits after SIGTERM",
            Duration::from_secs(30),
            || {
                status = child.try_wait().ok().flatten();
                status.is_some()
            },
        );
        status
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        if std::thread::panicking() {
            // A test that failed must not hang on a server that does not stop.
            self.kill();
        } else {
            self.terminate();
        }
    }
}
