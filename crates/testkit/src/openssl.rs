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
