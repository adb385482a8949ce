//! Test harness: every test gets a fresh directory and store, and runs the
//! real `mailcert` binary; OpenSSL is the outside judge.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

pub struct Env {
    pub dir: tempfile::TempDir,
}

pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| {
            panic!(
                "stdout is not JSON ({e}):\n{}\nstderr:\n{}",
                self.stdout, self.stderr
            )
        })
    }

    #[track_caller]
    pub fn ok(self) -> Run {
        assert_eq!(
            self.code, 0,
            "expected success\nstdout:\n{}\nstderr:\n{}",
            self.stdout, self.stderr
        );
        self
    }

    #[track_caller]
    pub fn fails_with(self, code: i32) -> Run {
        assert_eq!(
            self.code, code,
            "expected exit {code}\nstdout:\n{}\nstderr:\n{}",
            self.stdout, self.stderr
        );
        self
    }
}

impl Env {
    pub fn new() -> Env {
        Env {
            dir: tempfile::tempdir().expect("temp dir"),
        }
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    pub fn store(&self) -> PathBuf {
        self.path("store.db")
    }

    pub fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_mailcert"));
        cmd.args(args)
            .env("MAILCERT_STORE", self.store())
            .env_remove("MAILCERT_STORE_KEY_FILE")
            .env_remove("MAILCERT_CONFIG")
            .env("HOME", self.dir.path())
            .env("XDG_CONFIG_HOME", self.path("config"))
            .stdin(Stdio::null());
        cmd
    }

    pub fn run(&self, args: &[&str]) -> Run {
        let out = self.command(args).output().expect("run mailcert");
        to_run(out)
    }

    pub fn init(&self) -> String {
        self.run(&["init", "--hostname", "mail.contoso.com"]).ok();
        self.list()[0]["thumbprint"].as_str().unwrap().to_string()
    }

    pub fn list(&self) -> Vec<serde_json::Value> {
        self.run(&["list", "--json"])
            .ok()
            .json()
            .as_array()
            .unwrap()
            .clone()
    }

    pub fn cert(&self, thumb: &str) -> serde_json::Value {
        self.run(&["show", thumb, "--json"]).ok().json()
    }

    pub fn new_cert(&self, extra: &[&str]) -> String {
        let mut args = vec!["new", "--self-signed"];
        args.extend_from_slice(extra);
        self.run(&args).ok().stdout.trim().to_string()
    }

    /// Everything a command could have changed, to compare before/after.
    /// The store's state as `list --json` and `log --json` show it, less
    /// what only the clock changes (days_left drops by one a second after a
    /// certificate is made), as the any-CA harness does.
    pub fn snapshot(&self) -> (String, String) {
        let mut list: serde_json::Value =
            serde_json::from_str(&self.run(&["list", "--json"]).ok().stdout).expect("list --json");
        for item in list.as_array_mut().expect("an array") {
            if let Some(object) = item.as_object_mut() {
                object.remove("days_left");
                if let Some(warnings) = object.get_mut("warnings").and_then(|w| w.as_array_mut()) {
                    for w in warnings.iter_mut() {
                        if w.as_str().is_some_and(|t| t.starts_with("expires in ")) {
                            *w = serde_json::Value::from("expires in N days");
                        }
                    }
                }
            }
        }
        let list = list.to_string();
        let log = self
            .run(&["log", "--json", "--limit", "100000"])
            .ok()
            .stdout;
        (list, log)
    }

    pub fn write(&self, name: &str, content: impl AsRef<[u8]>) -> PathBuf {
        let p = self.path(name);
        std::fs::write(&p, content).expect("write file");
        p
    }
}

pub fn to_run(out: Output) -> Run {
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Runs openssl and returns stdout; panics with stderr on failure.
pub fn openssl(args: &[&str], dir: &Path) -> String {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("run openssl");
    assert!(
        out.status.success(),
        "openssl {args:?} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `mailcert serve`, stopped (SIGTERM) when dropped.
pub struct Serve(Child);

impl Serve {
    pub fn pid(&self) -> u32 {
        self.0.id()
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.0.id().to_string()])
            .status();
        let child = &mut self.0;
        mailcert_testkit::wait_until("mailcert serve exits", Duration::from_secs(30), || {
            child.try_wait().ok().flatten().is_some()
        });
    }
}

/// Starts `serve` (a command made by [`Env::command`], with its
/// arguments) and returns once it says it serves.
pub fn serve(mut command: Command) -> Serve {
    let mut child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("mailcert serve");
    let mut stdout = BufReader::new(child.stdout.take().expect("stdout"));
    let mut said = String::new();
    while !said.contains("SIGHUP") {
        let mut line = String::new();
        if stdout.read_line(&mut line).unwrap_or(0) == 0 {
            panic!("mailcert serve ended before serving: {said}");
        }
        said.push_str(&line);
    }
    std::thread::spawn(move || for _ in stdout.lines() {});
    Serve(child)
}
