//! Lines with a length limit: the only way bytes from a peer become
//! commands or replies before TLS.

use crate::error::DialectError;

/// Accumulates bytes and hands out complete lines (`\r\n` or a bare
/// `\n`), refusing any line longer than the limit, so a peer that never
/// finishes a line cannot make the buffer grow.
#[derive(Debug, Clone)]
pub struct LineReader {
    buf: Vec<u8>,
    max: usize,
}

impl LineReader {
    /// `max` counts the line's bytes without its line ending.
    pub fn new(max: usize) -> LineReader {
        LineReader {
            buf: Vec::new(),
            max: max.max(1),
        }
    }

    /// Adds bytes received from the peer.
    pub fn push(&mut self, data: &[u8]) {
        self.buf.extend_from_slice(data);
    }

    /// The next complete line without its line ending, `Ok(None)` when
    /// more bytes are needed, or [`DialectError::LineTooLong`].
    pub fn next_line(&mut self) -> Result<Option<Vec<u8>>, DialectError> {
        match self.buf.iter().position(|&b| b == b'\n') {
            Some(end) => {
                let mut line: Vec<u8> = self.buf.drain(..=end).collect();
                line.pop();
                if line.last() == Some(&b'\r') {
                    line.pop();
                }
                if line.len() > self.max {
                    return Err(DialectError::LineTooLong { limit: self.max });
                }
                Ok(Some(line))
            }
            None if self.buf.len() > self.max + 1 => {
                Err(DialectError::LineTooLong { limit: self.max })
            }
            None => Ok(None),
        }
    }

    /// Bytes received but not yet handed out as lines.
    pub fn buffered(&self) -> &[u8] {
        &self.buf
    }

    /// Gives up the reader, returning what was still buffered.
    pub fn into_rest(self) -> Vec<u8> {
        self.buf
    }
}

/// A line as text for messages and parsing (invalid UTF-8 replaced).
pub(crate) fn text(line: &[u8]) -> String {
    String::from_utf8_lossy(line).into_owned()
}

/// Splits `word rest` at the first space; `rest` is empty without one.
pub(crate) fn split_word(line: &str) -> (&str, &str) {
    match line.split_once(' ') {
        Some((w, rest)) => (w, rest),
        None => (line, ""),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_and_limits() {
        let mut r = LineReader::new(8);
        r.push(b"a1 NOOP\r\nb");
        assert_eq!(r.next_line().unwrap().unwrap(), b"a1 NOOP");
        assert_eq!(r.next_line().unwrap(), None);
        r.push(b"\n");
        assert_eq!(r.next_line().unwrap().unwrap(), b"b");
        r.push(b"0123456789");
        assert!(matches!(
            r.next_line(),
            Err(DialectError::LineTooLong { limit: 8 })
        ));
        let mut r = LineReader::new(4);
        r.push(b"12345\r\n");
        assert!(r.next_line().is_err());
        let mut r = LineReader::new(4);
        r.push(b"1234\r");
        assert_eq!(
            r.next_line().unwrap(),
            None,
            "CR may still be followed by LF"
        );
        r.push(b"\nrest");
        assert_eq!(r.next_line().unwrap().unwrap(), b"1234");
        assert_eq!(r.into_rest(), b"rest");
    }
}
