//! The SMTP relay after the dialogue (front end, port 25 in plaintext or
//! any SMTP listener inside TLS), between a client and a backend that send
//! anything.
#![no_main]

#[path = "common/relay.rs"]
mod common;

use libfuzzer_sys::fuzz_target;
use mailcert_dialect::relay::{Phase, SmtpRelay};

fuzz_target!(|data: &[u8]| {
    let Some((&selector, script)) = data.split_first() else {
        return;
    };
    let phase = common::phase(selector);
    let mut relay = SmtpRelay::new(phase, common::max_line(selector));
    let session = common::run(&mut relay, script);
    // Without DATA, BDAT or AUTH (whose content and SASL lines are not
    // commands), every line is a command: STARTTLS never reaches the
    // backend, nor AUTH without TLS.
    if !common::mentions(&session.from_client, &["DATA", "BDAT", "AUTH"]) {
        let sent = common::verbs(&session.to_backend);
        assert!(!sent.iter().any(|v| v == "STARTTLS"), "STARTTLS relayed");
    }
    if phase == Phase::Plaintext && !common::mentions(&session.from_client, &["DATA", "BDAT"]) {
        let sent = common::verbs(&session.to_backend);
        assert!(
            !sent.iter().any(|v| v == "AUTH"),
            "AUTH relayed without TLS"
        );
    }
});
