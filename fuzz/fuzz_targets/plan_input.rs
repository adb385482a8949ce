//! The planner's organisation description (TOML), read and planned: the
//! errors locate themselves in the text, and a plan is always printable.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let at = time::macros::datetime!(2027-06-01 12:00 UTC);
    match mailcert_plan::plan_toml(text, "fuzz.toml", at) {
        Ok(plan) => {
            let _ = plan.to_json();
            let _ = plan.request_names();
            let _ = plan.worst();
        }
        Err(error) => {
            let _ = error.to_string();
            if let Some(line) = error.line() {
                assert!(
                    line >= 1 && line <= text.lines().count().max(1) + 1,
                    "line {line} is outside the file"
                );
            }
        }
    }
});
