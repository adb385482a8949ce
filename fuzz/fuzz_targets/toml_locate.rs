//! Where an offset of a TOML file is, for any text and any offset: the
//! error locator of the planner and the configuration.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if data.len() < 2 {
        return;
    }
    let offset = usize::from(u16::from_le_bytes([data[0], data[1]]));
    let text = String::from_utf8_lossy(&data[2..]);
    let place = mailcert_tomlplace::locate(&text, offset);
    assert!(place.at.offset <= text.len());
    assert!(place.at.offset <= offset);
    let lines = text.split('\n').count();
    assert!(place.at.line >= 1 && place.at.line <= lines);
    let (start, _) = place.syntax();
    assert!(
        start.offset <= place.at.offset,
        "a construct opens after the offset"
    );
    let _ = mailcert_tomlplace::dotted(&place.path, 1);
    let plain = mailcert_tomlplace::position(&text, offset);
    assert_eq!(plain, place.at);
});
