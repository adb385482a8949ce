//! The line reader every pre-TLS byte goes through, on both sides: no line
//! longer than the limit is ever handed out, the buffer never holds more
//! than a line's worth without a line end, and no byte is lost or invented.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mailcert_dialect::{DialectError, LineReader};

fuzz_target!(|data: &[u8]| {
    let Some((&limit, rest)) = data.split_first() else {
        return;
    };
    let max = usize::from(limit % 64) + 1;
    let mut reader = LineReader::new(max);
    let mut handed_out = 0usize;
    // Feed in chunks whose sizes come from the input itself.
    let mut input = rest;
    while !input.is_empty() {
        let take = usize::from(input[0] % 17) + 1;
        let (chunk, tail) = input.split_at(take.min(input.len()));
        input = tail;
        reader.push(chunk);
        loop {
            match reader.next_line() {
                Ok(Some(line)) => {
                    assert!(line.len() <= max, "a line longer than the limit");
                    assert!(!line.contains(&b'\n'), "a line with a line feed in it");
                    handed_out += line.len();
                }
                Ok(None) => {
                    assert!(
                        reader.buffered().len() <= max + 1,
                        "more buffered than a line can hold"
                    );
                    break;
                }
                Err(DialectError::LineTooLong { limit }) => {
                    assert_eq!(limit, max);
                    return;
                }
                Err(other) => panic!("unexpected error {other:?}"),
            }
        }
    }
    let line_ends = rest.iter().filter(|&&b| b == b'\n').count();
    assert!(handed_out + reader.buffered().len() + line_ends <= rest.len());
    assert!(handed_out + reader.buffered().len() + 2 * line_ends >= rest.len());
});
