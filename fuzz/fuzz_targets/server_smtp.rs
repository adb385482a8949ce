//! The front end's side of SMTP before TLS: what a client sends, in any
//! pieces, against the server dialect. Replies are well-formed lines,
//! nothing follows the end of the dialogue, and STARTTLS discards every
//! byte sent after its line.
#![no_main]

#[path = "common/dialect.rs"]
mod common;

use libfuzzer_sys::fuzz_target;
use mailcert_dialect::Protocol;

fuzz_target!(|data: &[u8]| {
    common::server_dialogue(Protocol::Smtp, data);
});
