//! The checker's side of SMTP before TLS: whatever a server (or a man in
//! the middle) answers, in any pieces. The client writes only its own
//! well-formed commands, reads a bounded number of lines, and reports
//! what followed a positive STARTTLS answer instead of reading it.
#![no_main]

#[path = "common/dialect.rs"]
mod common;
#[path = "common/replies.rs"]
mod replies;

use libfuzzer_sys::fuzz_target;
use mailcert_dialect::Protocol;

fuzz_target!(|data: &[u8]| {
    common::client_dialogue(Protocol::Smtp, data);
    // The parsers the checker and the front end use after TLS, on the
    // same lines.
    if let Some((_, rest)) = data.split_first() {
        replies::parse_all(rest);
    }
});
