//! The IMAP relay after the dialogue, between a client and a backend that
//! send anything (literals, AUTHENTICATE, IDLE included).
#![no_main]

#[path = "common/relay.rs"]
mod common;

use libfuzzer_sys::fuzz_target;
use mailcert_dialect::relay::ImapRelay;

fuzz_target!(|data: &[u8]| {
    let Some((&selector, script)) = data.split_first() else {
        return;
    };
    let mut relay = ImapRelay::new(common::phase(selector), common::max_line(selector));
    let session = common::run(&mut relay, script);
    // Without literals, AUTHENTICATE or IDLE every line is a command: no
    // STARTTLS reaches the backend.
    if !common::mentions(&session.from_client, &["{", "AUTHENTICATE", "IDLE"]) {
        for words in common::words(&session.to_backend) {
            assert!(
                !(words.len() == 2 && words[1] == "STARTTLS"),
                "STARTTLS relayed: {words:?}"
            );
        }
    }
});
