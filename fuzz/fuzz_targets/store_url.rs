//! Store locations as `--store`, `MAILCERT_STORE` and `[store] path` give
//! them: a file path or a PostgreSQL URL. A password never stays in what
//! is kept or shown: a URL that carries one is refused, and neither the
//! error nor a parsed target repeats it.
#![no_main]

use std::ffi::OsStr;

use libfuzzer_sys::fuzz_target;
use mailcert_store::StoreDb;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    check(&text, None);
    // The same text with a password put in, as a careless administrator
    // would write it.
    let (before, after) = text.split_once('\n').unwrap_or((&text, "s3cr3t-pw"));
    // A marker no message of mailcert's own contains, so that finding the
    // secret in an error means it came from the URL.
    let tail: String = after
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .take(12)
        .collect();
    let secret = format!("Qz7x{tail}");
    // URL parsers drop tabs and line ends: the secret must not be in
    // the rest of the URL once they are gone.
    let rest: String = before
        .chars()
        .filter(|c| !matches!(c, '\t' | '\n' | '\r'))
        .collect();
    if !rest.contains(&secret) {
        let host = before.trim_start_matches("postgres://");
        check(&format!("postgres://user:{secret}@{host}"), Some(&secret));
        check(
            &format!("postgresql://h/db?password={secret}"),
            Some(&secret),
        );
    }
});

fn check(text: &str, secret: Option<&str>) {
    match StoreDb::parse(OsStr::new(text)) {
        Ok(StoreDb::Postgres(target)) => {
            if let Some(secret) = secret {
                assert!(
                    !target.url.contains(secret),
                    "the password kept in {}",
                    target.url
                );
            }
        }
        Ok(StoreDb::Sqlite(_)) => {}
        Err(error) => {
            if let Some(secret) = secret {
                let shown = error.to_string();
                assert!(!shown.contains(secret), "the password shown: {shown}");
            }
        }
    }
}
