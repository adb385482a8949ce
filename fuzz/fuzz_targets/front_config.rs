//! The front end's configuration (TOML) as `serve`, `which`, `enable` and
//! `replace` read it, and the pin rewriting of `replace`: on a valid file,
//! setting a listener's pin keeps the file valid and changes only that.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use mailcert_config::{set_pins, Config, PinChange};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let config = match Config::parse(text, Path::new("fuzz.toml")) {
        Ok(config) => config,
        Err(error) => {
            let _ = error.to_string();
            return;
        }
    };
    let Some(listener) = config.listeners.first() else {
        return;
    };
    let change = PinChange {
        listener: listener.name.clone(),
        pin: "ABCDEF0123".into(),
    };
    let rewritten = set_pins(text, &[change]).expect("a listener of a valid file can be pinned");
    let again = Config::parse(&rewritten, Path::new("fuzz.toml"))
        .expect("pinning keeps a valid configuration valid");
    let pinned = again
        .listener(&listener.name)
        .expect("the pinned listener is still there");
    assert_eq!(pinned.certificate.as_deref(), Some("ABCDEF0123"));
    assert_eq!(again.listeners.len(), config.listeners.len());
});
