//! POP3 (RFC 1939) before TLS: the greeting, `CAPA` (RFC 2449) with `STLS`
//! (RFC 2595), `STLS`, `QUIT`.

use crate::line::split_word;
use crate::setup::{Action, ServerConfig};

/// Capabilities a front end lists before TLS: no `USER`, no `SASL`.
pub const PRE_TLS_CAPABILITIES: [&str; 3] = ["STLS", "RESP-CODES", "AUTH-RESP-CODE"];

/// Server side: the greeting.
pub fn greeting(hostname: &str) -> Vec<u8> {
    format!("+OK {hostname} POP3 ready, STLS first\r\n").into_bytes()
}

/// Server side: the answer to one command line before TLS.
pub(crate) fn serve(_config: &ServerConfig, line: &str) -> Action {
    let (command, _args) = split_word(line);
    match command.to_ascii_uppercase().as_str() {
        "CAPA" => {
            let mut out = String::from("+OK Capability list follows\r\n");
            for cap in PRE_TLS_CAPABILITIES {
                out.push_str(cap);
                out.push_str("\r\n");
            }
            out.push_str(".\r\n");
            Action::Reply(out.into_bytes())
        }
        "STLS" => Action::StartTls(b"+OK Begin TLS negotiation\r\n".to_vec()),
        "QUIT" => Action::Close(b"+OK Logging out\r\n".to_vec()),
        "NOOP" => Action::Reply(b"+OK\r\n".to_vec()),
        "USER" | "PASS" | "APOP" | "AUTH" => Action::Reply(
            b"-ERR [AUTH] Plaintext authentication is disabled: use STLS first\r\n".to_vec(),
        ),
        _ => Action::Reply(b"-ERR Only CAPA, STLS and QUIT are accepted before STLS\r\n".to_vec()),
    }
}

/// A status line: `+OK text` or `-ERR text`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusLine {
    pub ok: bool,
    pub text: String,
}

/// Client side: parses a status line (greeting or single-line reply).
pub fn parse_status(line: &str) -> Option<StatusLine> {
    let (word, text) = split_word(line);
    let ok = match word.to_ascii_uppercase().as_str() {
        "+OK" => true,
        "-ERR" => false,
        _ => return None,
    };
    Some(StatusLine {
        ok,
        text: text.to_string(),
    })
}

/// Client side: one line of a multi-line answer; `None` at the final
/// `.`, with dot-stuffing removed otherwise.
pub fn multiline_item(line: &str) -> Option<&str> {
    if line == "." {
        return None;
    }
    Some(line.strip_prefix('.').unwrap_or(line))
}

/// Client side: a command line.
pub fn command(command: &str) -> Vec<u8> {
    format!("{command}\r\n").into_bytes()
}

/// Server side: said when a client waits too long before TLS.
pub fn timeout_reply() -> Vec<u8> {
    b"-ERR Disconnected for inactivity\r\n".to_vec()
}

/// Server side: said when the backend cannot be reached.
pub fn unavailable_reply() -> Vec<u8> {
    b"-ERR [SYS/TEMP] The mail server is not available, try again later\r\n".to_vec()
}

/// Server side: said when a line is over the limit.
pub fn line_too_long_reply() -> Vec<u8> {
    b"-ERR Line too long\r\n".to_vec()
}

/// Server side: said when the client sent too many commands before TLS.
pub fn too_many_commands_reply() -> Vec<u8> {
    b"-ERR Too many commands before STLS\r\n".to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_lines() {
        assert_eq!(
            parse_status("+OK Dovecot ready."),
            Some(StatusLine {
                ok: true,
                text: "Dovecot ready.".into()
            })
        );
        assert!(!parse_status("-ERR no").unwrap().ok);
        assert_eq!(parse_status("* OK imap"), None);
        assert_eq!(multiline_item(".."), Some("."));
        assert_eq!(multiline_item("."), None);
    }
}
