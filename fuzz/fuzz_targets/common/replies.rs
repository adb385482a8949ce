//! The reply parsers used after TLS (the checker's greeting checks, the
//! front end's filtering of the backend's EHLO reply), line by line.

use mailcert_dialect::{imap, pop3, smtp};

pub fn parse_all(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let mut parser = smtp::ReplyParser::new();
    for line in text.split("\r\n") {
        let _ = imap::parse_greeting(line);
        let _ = imap::parse_response(line);
        let _ = pop3::parse_status(line);
        let _ = pop3::multiline_item(line);
        match parser.push_line(line) {
            Ok(Some(reply)) => {
                let ehlo = smtp::Ehlo::from_reply(&reply);
                let _ = ehlo.has("STARTTLS");
                let _ = ehlo.auth_mechanisms();
                let _ = reply.is_positive();
                let _ = reply.text();
                let filtered = reply.without_starttls();
                assert!(filtered.lines.len() <= reply.lines.len());
                let bytes = filtered.to_bytes();
                assert!(bytes.is_empty() || bytes.ends_with(b"\r\n"));
            }
            Ok(None) => {}
            Err(_) => parser = smtp::ReplyParser::new(),
        }
    }
}
