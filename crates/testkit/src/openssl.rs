//! The `openssl` command line, the outside judge of the tests: run in a
//! directory, at the real time or at another one (libfaketime).

use std::path::Path;
use std::process::{Command, Output};

use time::OffsetDateTime;

/// Runs `openssl ARGS` in `dir` and returns its standard output; panics
/// with its standard error when it fails.
#[track_caller]
pub fn openssl(dir: &Path, args: &[&str]) -> String {
    let out = run_openssl(dir, None, args);
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// [`openssl`], returning standard output then standard error (where
/// `verify`, `s_client` and `pkcs12` say much of what they have to say).
#[track_caller]
pub fn openssl_all(dir: &Path, args: &[&str]) -> String {
    let out = run_openssl(dir, None, args);
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Runs `openssl ARGS` in `dir` as if the clock said `when` (a
/// libfaketime offset or time: `-400d`, `@2020-01-01 00:00:00`), to make
/// certificates whose dates are off; panics when it fails.
#[track_caller]
pub fn openssl_at(dir: &Path, when: &str, args: &[&str]) {
    run_openssl(dir, Some(when), args);
}

/// The arguments of `openssl x509 -req` that sign the request `csr` as
/// a CA does — with the certificate `ca_pem` and its key `ca_key`, for
/// `days` days, writing `out` — to which a caller adds `-extfile`, a
/// digest or other options. Relative paths are the directory's openssl
/// runs in.
pub struct SignRequest {
    args: Vec<String>,
}

impl SignRequest {
    pub fn new(csr: &str, ca_pem: &str, ca_key: &str, days: u32, out: &str) -> SignRequest {
        let days = days.to_string();
        let args = [
            "x509",
            "-req",
            "-in",
            csr,
            "-CA",
            ca_pem,
            "-CAkey",
            ca_key,
            "-CAcreateserial",
            "-days",
            &days,
            "-out",
            out,
        ];
        SignRequest {
            args: args.iter().map(|a| a.to_string()).collect(),
        }
    }

    /// Signs with the CA `issuer`'s `ISSUER.pem` and `ISSUER.key`.
    pub fn by(issuer: &str, csr: &str, days: u32, out: &str) -> SignRequest {
        SignRequest::new(
            csr,
            &format!("{issuer}.pem"),
            &format!("{issuer}.key"),
            days,
            out,
        )
    }

    /// Adds options (`-extfile FILE`, `-sha1`, …).
    pub fn with(mut self, options: &[&str]) -> SignRequest {
        self.args.extend(options.iter().map(|a| a.to_string()));
        self
    }

    /// The whole argument list, for [`openssl`] and its kin.
    pub fn args(&self) -> Vec<&str> {
        self.args.iter().map(String::as_str).collect()
    }
}

#[track_caller]
fn run_openssl(dir: &Path, when: Option<&str>, args: &[&str]) -> Output {
    let mut command = match when {
        Some(when) => {
            let mut faked = Command::new("faketime");
            faked.args(["-f", when, "openssl"]);
            faked
        }
        None => Command::new("openssl"),
    };
    let out = command
        .args(args)
        .current_dir(dir)
        .output()
        .expect("running openssl (and faketime): scripts/install-peers.sh installs them");
    assert!(
        out.status.success(),
        "{}openssl {}: {}{}",
        when.map(|w| format!("faketime -f {w} "))
            .unwrap_or_default(),
        args.join(" "),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// `YYYYMMDDHHMMSSZ` (what `openssl ca -startdate` takes), `days` from
/// now (negative: in the past).
pub fn openssl_date(days: i64) -> String {
    let t = OffsetDateTime::now_utc() + time::Duration::days(days);
    format!(
        "{:04}{:02}{:02}{:02}{:02}{:02}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}
