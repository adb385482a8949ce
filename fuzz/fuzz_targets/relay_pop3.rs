//! The POP3 relay after the dialogue, between a client and a backend that
//! send anything (multi-line answers and SASL included).
#![no_main]

#[path = "common/relay.rs"]
mod common;

use libfuzzer_sys::fuzz_target;
use mailcert_dialect::relay::Pop3Relay;

fuzz_target!(|data: &[u8]| {
    let Some((&selector, script)) = data.split_first() else {
        return;
    };
    let mut relay = Pop3Relay::new(common::phase(selector), common::max_line(selector));
    let session = common::run(&mut relay, script);
    // Without AUTH (whose SASL lines are not commands), STLS never reaches
    // the backend.
    if !common::mentions(&session.from_client, &["AUTH"]) {
        let sent = common::verbs(&session.to_backend);
        assert!(!sent.iter().any(|v| v == "STLS"), "STLS relayed");
    }
});
