//! The words of these tests over the shared harness: a store initialised
//! for ex1.contoso.com in a fresh directory, the commands run there, and
//! OpenSSL (the real one, through its command line) as the outside CA and
//! client, with its files named as these tests name them.

use std::process::{Command, Output};

use mailcert_testkit::pki::{intermediate_extensions, server_extensions, Key, OpensslPki};
use mailcert_testkit::{openssl_all, openssl_at, Cli, SignRequest, Snapshot};

use crate::cli;

pub struct Env {
    cli: Cli,
}

pub const OPENSSL: &str = "/usr/bin/openssl";

impl Env {
    /// A new directory and a store initialised for ex1.contoso.com.
    pub fn new() -> Env {
        let env = Env { cli: cli() };
        env.ok(&["init", "--hostname", "ex1.contoso.com"]);
        env
    }

    pub fn dir(&self) -> &std::path::Path {
        self.cli.dir()
    }

    pub fn path(&self, name: &str) -> std::path::PathBuf {
        self.cli.path(name)
    }

    pub fn p(&self, name: &str) -> String {
        self.cli.p(name)
    }

    /// `mailcert` (arguments to add) with the harness's environment.
    pub fn command(&self) -> Command {
        self.cli.command(&[])
    }

    pub fn run(&self, args: &[&str]) -> Output {
        self.cli.output(args)
    }

    /// Runs mailcert and expects success; returns stdout, trimmed.
    #[track_caller]
    pub fn ok(&self, args: &[&str]) -> String {
        self.cli.ok(args).out().to_string()
    }

    /// Runs mailcert, expects success; returns stdout and stderr together.
    #[track_caller]
    pub fn ok_all(&self, args: &[&str]) -> String {
        self.ok_all_with(args, &[])
    }

    #[track_caller]
    pub fn ok_all_with(&self, args: &[&str], envs: &[(&str, &str)]) -> String {
        self.cli.run_with(args, envs).ok().all()
    }

    /// Runs mailcert and expects exit 2 with the store unchanged; returns stderr.
    #[track_caller]
    pub fn refused(&self, args: &[&str]) -> String {
        self.refused_with(args, &[])
    }

    #[track_caller]
    pub fn refused_with(&self, args: &[&str], envs: &[(&str, &str)]) -> String {
        self.cli.refused_with(args, envs).stderr
    }

    pub fn snapshot(&self) -> Snapshot {
        self.cli.snapshot()
    }

    #[track_caller]
    pub fn json(&self, args: &[&str]) -> serde_json::Value {
        self.cli.ok(args).json()
    }

    /// The `list --json` object of one thumbprint.
    pub fn view(&self, thumbprint: &str) -> serde_json::Value {
        self.cli.show(thumbprint)
    }

    pub fn status(&self, thumbprint: &str) -> String {
        self.view(thumbprint)["status"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    /// Runs OpenSSL in the test directory and expects success; returns
    /// stdout and stderr together.
    #[track_caller]
    pub fn openssl(&self, args: &[&str]) -> String {
        openssl_all(self.cli.dir(), args)
    }

    /// Runs OpenSSL at another time (libfaketime), to make certificates
    /// whose dates are off.
    #[track_caller]
    pub fn openssl_at(&self, when: &str, args: &[&str]) {
        openssl_at(self.cli.dir(), when, args);
    }

    /// Signs the request `csr` with `issuer` (`ISSUER.pem`, `ISSUER.key`)
    /// for `days` with the extension file `ext`, as OpenSSL would at
    /// another time (`when`, as [`Env::openssl_at`]); writes `out`.
    pub fn openssl_sign_at(
        &self,
        when: &str,
        issuer: &str,
        csr: &str,
        days: u32,
        ext: &str,
        out: &str,
    ) {
        let sign = SignRequest::by(issuer, csr, days, out).with(&["-extfile", ext]);
        self.openssl_at(when, &sign.args());
    }

    pub fn write(&self, name: &str, bytes: impl AsRef<[u8]>) -> String {
        self.cli.write(name, bytes);
        self.p(name)
    }

    pub fn read(&self, name: &str) -> Vec<u8> {
        self.cli.read(name)
    }

    fn pki(&self) -> OpensslPki {
        OpensslPki::in_dir(self.cli.dir())
    }

    /// An outside CA made with OpenSSL: testroot.pem/key and
    /// testint.pem/key ("Test Root", "Test Intermediate"), and int.ext
    /// (the intermediate's extensions, to issue it again at other times).
    pub fn openssl_ca(&self) {
        self.openssl_ca_named("Test");
    }

    pub fn openssl_ca_named(&self, prefix: &str) {
        let lower = prefix.to_lowercase();
        let (root, int) = (format!("{lower}root"), format!("{lower}int"));
        let pki = self.pki();
        let root = pki.root_for(&root, &format!("{prefix} Root"), Key::EcP256, 3650);
        let int_cn = format!("{prefix} Intermediate");
        let csr = pki.request(&int, &int_cn, Key::EcP256);
        let extensions = intermediate_extensions(Some(0));
        self.write("int.ext", &extensions);
        pki.sign_request(
            &root,
            &csr,
            &extensions,
            1800,
            &self.path(&format!("{int}.pem")),
        );
    }

    /// Signs `csr` with the OpenSSL intermediate, copying its SANs the way
    /// a CA does (through an extension file, leaf.ext); writes `out`.
    pub fn openssl_sign(&self, csr: &str, sans: &str, out: &str) {
        self.openssl_sign_with("testint", csr, sans, out);
    }

    pub fn openssl_sign_with(&self, issuer: &str, csr: &str, sans: &str, out: &str) {
        let extensions = server_extensions(sans);
        self.write("leaf.ext", &extensions);
        let pki = self.pki();
        let issuer = pki.load(issuer, issuer);
        pki.sign_request(&issuer, &self.path(csr), &extensions, 200, &self.path(out));
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
