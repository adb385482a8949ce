//! Test harness: every test gets a fresh directory and store, and runs the
//! real `mailcert` binary; OpenSSL is the outside judge.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

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
