//! Shared by the dialect targets: the input is cut into the reads a socket
//! would deliver (the first byte of each piece says how long it is), and
//! what either side writes must be well-formed protocol lines.

use mailcert_dialect::Limits;

/// Splits `data` into socket reads: the first byte of each read gives its
/// length (1 to 64), and belongs to the read.
pub fn reads(data: &[u8]) -> Vec<&[u8]> {
    let mut out = Vec::new();
    let mut rest = data;
    while let Some(&first) = rest.first() {
        let take = (usize::from(first % 64) + 1).min(rest.len());
        let (read, tail) = rest.split_at(take);
        out.push(read);
        rest = tail;
    }
    out
}

/// Small limits, so that the fuzzer reaches them with short inputs.
pub fn limits(selector: u8) -> Limits {
    Limits {
        max_line: usize::from(selector % 128) + 1,
        max_commands: usize::from(selector / 128 * 8) + 4,
    }
}

/// Every line ends with CRLF, with no other CR or LF and no NUL in it:
/// nothing the peer sent can split or inject a line.
pub fn assert_lines(bytes: &[u8], who: &str) {
    assert!(
        bytes.ends_with(b"\r\n"),
        "{who} wrote an unterminated line: {bytes:?}"
    );
    for line in bytes[..bytes.len() - 2].split(|&b| b == b'\n') {
        let body = line.strip_suffix(b"\r").unwrap_or(line);
        assert!(
            !body.contains(&b'\r') && !body.contains(&0),
            "{who} wrote a bare CR or a NUL: {bytes:?}"
        );
    }
    for (i, &b) in bytes.iter().enumerate() {
        if b == b'\n' {
            assert!(
                i > 0 && bytes[i - 1] == b'\r',
                "{who} wrote a bare LF: {bytes:?}"
            );
        }
    }
}
