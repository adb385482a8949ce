//! A fresh store in a fresh directory per test, the mailcert binary, and
//! OpenSSL (the real one, through its command line) as CA and client.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub struct Env {
    pub dir: tempfile::TempDir,
}

pub const OPENSSL: &str = "/usr/bin/openssl";

impl Env {
    /// A new directory and a store initialised for ex1.contoso.com.
    pub fn new() -> Env {
        let env = Env {
            dir: tempfile::tempdir().expect("temp dir"),
        };
        env.ok(&["init", "--hostname", "ex1.contoso.com"]);
        env
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    pub fn p(&self, name: &str) -> String {
        self.path(name).display().to_string()
    }

    pub fn command(&self) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_mailcert"));
        cmd.env("MAILCERT_STORE", self.path("store.db"))
            .env("HOME", self.dir.path())
            .env("XDG_CONFIG_HOME", self.dir.path())
            .env("XDG_DATA_HOME", self.dir.path())
            .env_remove("MAILCERT_PASSWORD")
            .env_remove("MAILCERT_CONFIG")
            .env_remove("MAILCERT_STORE_KEY_FILE")
            .current_dir(self.dir.path());
        cmd
    }

    pub fn run(&self, args: &[&str]) -> Output {
        self.command().args(args).output().expect("run mailcert")
    }

    /// Runs mailcert and expects success; returns stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "mailcert {args:?} failed ({:?})\nstdout: {}\nstderr: {}",
            out.status.code(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    /// Runs mailcert, expects success; returns stdout and stderr together.
    pub fn ok_all(&self, args: &[&str]) -> String {
        self.ok_all_with(args, &[])
    }

    pub fn ok_all_with(&self, args: &[&str], envs: &[(&str, &str)]) -> String {
        let mut cmd = self.command();
        for (k, v) in envs {
            cmd.env(k, v);
        }
        let out = cmd.args(args).output().expect("run mailcert");
        assert!(
            out.status.success(),
            "mailcert {args:?} failed\nstderr: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    }

    /// Runs mailcert and expects exit 2 with the store unchanged; returns stderr.
    pub fn refused(&self, args: &[&str]) -> String {
        self.refused_with(args, &[])
    }

    pub fn refused_with(&self, args: &[&str], envs: &[(&str, &str)]) -> String {
        let before = self.snapshot();
        let mut cmd = self.command();
        for (k, v) in envs {
            cmd.env(k, v);
        }
        let out = cmd.args(args).output().expect("run mailcert");
        let stderr = String::from_utf8_lossy(&out.stderr).to_string();
        assert_eq!(
            out.status.code(),
            Some(2),
            "mailcert {args:?} should exit 2\nstdout: {}\nstderr: {stderr}",
            String::from_utf8_lossy(&out.stdout)
        );
        let after = self.snapshot();
        assert_eq!(
            before.0, after.0,
            "list --json changed after refused {args:?}"
        );
        assert_eq!(
            before.1, after.1,
            "log --json changed after refused {args:?}"
        );
        assert_eq!(
            before.2, after.2,
            "trust list --json changed after refused {args:?}"
        );
        stderr
    }

    /// `list --json` (without `days_left` and the days of "expires in",
    /// which move with the clock),
    /// `log --json` and `trust list --json`.
    pub fn snapshot(&self) -> (String, String, String) {
        let mut list: serde_json::Value =
            serde_json::from_str(&self.ok(&["list", "--json"])).expect("list --json");
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
        (
            list.to_string(),
            self.ok(&["log", "--json", "--limit", "1000"]),
            self.ok(&["trust", "list", "--json"]),
        )
    }

    pub fn json(&self, args: &[&str]) -> serde_json::Value {
        let text = self.ok(args);
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{args:?}: not JSON ({e}): {text}"))
    }

    /// The `list --json` object of one thumbprint.
    pub fn view(&self, thumbprint: &str) -> serde_json::Value {
        self.json(&["show", thumbprint, "--json"])
    }

    pub fn status(&self, thumbprint: &str) -> String {
        self.view(thumbprint)["status"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    /// Runs OpenSSL in the test directory and expects success; returns
    /// stdout and stderr together.
    pub fn openssl(&self, args: &[&str]) -> String {
        let out = Command::new(OPENSSL)
            .args(args)
            .current_dir(self.dir.path())
            .output()
            .expect("run openssl (scripts/install-peers.sh installs it)");
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(out.status.success(), "openssl {args:?} failed:\n{text}");
        text
    }

    /// Runs OpenSSL at another time (libfaketime), to make certificates
    /// whose dates are off.
    pub fn openssl_at(&self, when: &str, args: &[&str]) {
        let out = Command::new("faketime")
            .arg("-f")
            .arg(when)
            .arg(OPENSSL)
            .args(args)
            .current_dir(self.dir.path())
            .output()
            .expect("faketime (installed by scripts/install-peers.sh)");
        assert!(
            out.status.success(),
            "faketime openssl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    pub fn write(&self, name: &str, bytes: impl AsRef<[u8]>) -> String {
        std::fs::write(self.path(name), bytes).expect("write test file");
        self.p(name)
    }

    pub fn read(&self, name: &str) -> Vec<u8> {
        std::fs::read(self.path(name)).expect("read test file")
    }

    /// An outside CA made with OpenSSL: root.pem/key and int.pem/key
    /// ("Test Root", "Test Intermediate").
    pub fn openssl_ca(&self) {
        self.openssl_ca_named("Test");
    }

    pub fn openssl_ca_named(&self, prefix: &str) {
        let lower = prefix.to_lowercase();
        let (root, int) = (format!("{lower}root"), format!("{lower}int"));
        self.openssl(&[
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-keyout",
            &format!("{root}.key"),
            "-out",
            &format!("{root}.pem"),
            "-days",
            "3650",
            "-subj",
            &format!("/CN={prefix} Root"),
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign,cRLSign",
        ]);
        self.openssl(&[
            "req",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-keyout",
            &format!("{int}.key"),
            "-out",
            &format!("{int}.csr"),
            "-subj",
            &format!("/CN={prefix} Intermediate"),
        ]);
        self.write(
            "int.ext",
            "basicConstraints=critical,CA:TRUE,pathlen:0\nkeyUsage=critical,keyCertSign,cRLSign\nsubjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\n",
        );
        self.openssl(&[
            "x509",
            "-req",
            "-in",
            &format!("{int}.csr"),
            "-CA",
            &format!("{root}.pem"),
            "-CAkey",
            &format!("{root}.key"),
            "-CAcreateserial",
            "-out",
            &format!("{int}.pem"),
            "-days",
            "1800",
            "-extfile",
            "int.ext",
        ]);
    }

    /// Signs `csr` with the OpenSSL intermediate, copying its SANs the way
    /// a CA does (through an extension file); writes `out`.
    pub fn openssl_sign(&self, csr: &str, sans: &str, out: &str) {
        self.openssl_sign_with("testint", csr, sans, out);
    }

    pub fn openssl_sign_with(&self, issuer: &str, csr: &str, sans: &str, out: &str) {
        self.write(
            "leaf.ext",
            format!(
                "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\nsubjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\nsubjectAltName={sans}\n"
            ),
        );
        self.openssl(&[
            "x509",
            "-req",
            "-in",
            csr,
            "-CA",
            &format!("{issuer}.pem"),
            "-CAkey",
            &format!("{issuer}.key"),
            "-CAcreateserial",
            "-out",
            out,
            "-days",
            "200",
            "-extfile",
            "leaf.ext",
        ]);
    }

    /// A pending request for `names`, written to `out`; returns its id.
    pub fn request(&self, names: &[&str], out: &str) -> String {
        let mut args = vec!["request"];
        for n in names {
            args.push("--name");
            args.push(n);
        }
        let out_path = self.p(out);
        args.push("--out");
        args.push(&out_path);
        self.ok(&args)
    }
}

/// Concatenates files of the test directory into one.
pub fn concat(env: &Env, parts: &[&str], out: &str) -> String {
    let mut bytes = Vec::new();
    for p in parts {
        bytes.extend(env.read(p));
    }
    env.write(out, bytes)
}

pub fn exists(path: &Path) -> bool {
    path.exists()
}
