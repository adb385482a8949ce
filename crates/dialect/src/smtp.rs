//! SMTP (RFC 5321) before TLS: the `220` banner, `EHLO`/`HELO` with their
//! (multi-line) replies and extensions, `STARTTLS` (RFC 3207), `NOOP`,
//! `RSET`, `QUIT`, and reply codes with enhanced status codes (RFC 3463).

use crate::error::DialectError;
use crate::line::split_word;
use crate::setup::{Action, ServerConfig, ServerMode};

/// Extensions a front end offers when it does not know the backend's.
pub const DEFAULT_EXTENSIONS: [&str; 4] = ["PIPELINING", "SIZE", "8BITMIME", "ENHANCEDSTATUSCODES"];

/// [`DEFAULT_EXTENSIONS`] as owned strings, as a server configuration holds them.
pub fn default_extensions() -> Vec<String> {
    DEFAULT_EXTENSIONS.iter().map(|s| s.to_string()).collect()
}

/// Server side: the banner.
pub fn greeting(hostname: &str) -> Vec<u8> {
    format!("220 {hostname} ESMTP ready\r\n").into_bytes()
}

/// Server side: the `EHLO` reply: the backend's extensions that are safe
/// before TLS (never `AUTH`: credentials wait for TLS), then `STARTTLS`.
pub fn ehlo_reply(hostname: &str, extensions: &[String]) -> Vec<u8> {
    let mut lines = vec![hostname.to_string()];
    for ext in extensions {
        let keyword = split_word(ext.trim()).0.to_ascii_uppercase();
        if keyword.is_empty()
            || keyword == "STARTTLS"
            || keyword == "AUTH"
            || keyword.starts_with("AUTH=")
        {
            continue;
        }
        if !lines
            .iter()
            .any(|l| split_word(l).0.eq_ignore_ascii_case(&keyword))
        {
            lines.push(ext.trim().to_string());
        }
    }
    lines.push("STARTTLS".into());
    Reply::new(250, lines).to_bytes()
}

/// Server side: the answer to one command line before TLS.
pub(crate) fn serve(config: &ServerConfig, line: &str) -> Action {
    let (verb, args) = split_word(line);
    let verb = verb.to_ascii_uppercase();
    let reply = |s: &str| Action::Reply(format!("{s}\r\n").into_bytes());
    match verb.as_str() {
        "EHLO" | "HELO" if args.trim().is_empty() => {
            reply(&format!("501 5.5.4 Syntax: {verb} hostname"))
        }
        "EHLO" => Action::Helo(ehlo_reply(&config.hostname, &config.smtp_extensions)),
        "HELO" => Action::Helo(format!("250 {}\r\n", config.hostname).into_bytes()),
        "STARTTLS" if !args.trim().is_empty() => reply("501 5.5.4 Syntax: STARTTLS"),
        "STARTTLS" => Action::StartTls(b"220 2.0.0 Ready to start TLS\r\n".to_vec()),
        "NOOP" => reply("250 2.0.0 OK"),
        "RSET" => reply("250 2.0.0 OK"),
        // Credentials never cross in plaintext, also where TLS is only
        // offered (port 25): the backend, often the one behind submission
        // too, would take them.
        "AUTH" => reply("530 5.7.0 Must issue a STARTTLS command first"),
        "QUIT" => Action::Close(
            format!("221 2.0.0 {} closing connection\r\n", config.hostname).into_bytes(),
        ),
        "" => reply("500 5.5.2 Error: bad syntax"),
        _ => match config.mode {
            ServerMode::Offer => Action::Plaintext,
            ServerMode::Require => reply("530 5.7.0 Must issue a STARTTLS command first"),
        },
    }
}

/// One SMTP reply: a code and its text lines (without `NNN-` prefixes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub code: u16,
    pub lines: Vec<String>,
}

impl Reply {
    pub fn new(code: u16, lines: Vec<String>) -> Reply {
        Reply { code, lines }
    }

    /// 2xx.
    pub fn is_positive(&self) -> bool {
        (200..300).contains(&self.code)
    }

    /// The whole text, lines joined by spaces.
    pub fn text(&self) -> String {
        self.lines.join(" ")
    }

    /// An `EHLO` reply as a server inside TLS must give it: without
    /// `STARTTLS`, which RFC 3207 (section 4.2) forbids offering once TLS
    /// is on. The first line (the server's name) is never an extension.
    pub fn without_starttls(&self) -> Reply {
        let lines = self
            .lines
            .iter()
            .enumerate()
            .filter(|(i, line)| *i == 0 || !line.trim().eq_ignore_ascii_case("STARTTLS"))
            .map(|(_, line)| line.clone())
            .collect();
        Reply::new(self.code, lines)
    }

    /// Writes the reply with `NNN-` continuation lines.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = String::new();
        let last = self.lines.len().saturating_sub(1);
        for (i, line) in self.lines.iter().enumerate() {
            let sep = if i == last { ' ' } else { '-' };
            out.push_str(&format!("{}{sep}{line}\r\n", self.code));
        }
        if self.lines.is_empty() {
            out.push_str(&format!("{}\r\n", self.code));
        }
        out.into_bytes()
    }
}

/// Collects the lines of a multi-line reply.
#[derive(Debug, Clone, Default)]
pub struct ReplyParser {
    code: Option<u16>,
    lines: Vec<String>,
}

/// At most this many lines in one reply (a real EHLO reply has ~15).
pub const MAX_REPLY_LINES: usize = 100;

impl ReplyParser {
    pub fn new() -> ReplyParser {
        ReplyParser::default()
    }

    /// Feeds one line; returns the reply once its last line arrived.
    pub fn push_line(&mut self, line: &str) -> Result<Option<Reply>, DialectError> {
        let bad = || DialectError::Unexpected {
            protocol: "SMTP",
            expected: "a reply line such as \"250 text\" or \"250-text\"",
            got: line.chars().take(120).collect(),
        };
        let bytes = line.as_bytes();
        if bytes.len() < 3 || !bytes[..3].iter().all(u8::is_ascii_digit) {
            return Err(bad());
        }
        let code: u16 = line[..3].parse().map_err(|_| bad())?;
        if self.code.is_some_and(|c| c != code) {
            return Err(bad());
        }
        let (more, text) = match bytes.get(3) {
            None => (false, ""),
            Some(b' ') => (false, &line[4..]),
            Some(b'-') => (true, &line[4..]),
            Some(_) => return Err(bad()),
        };
        self.code = Some(code);
        self.lines.push(text.to_string());
        if self.lines.len() > MAX_REPLY_LINES {
            return Err(DialectError::TooManyLines {
                protocol: "SMTP",
                limit: MAX_REPLY_LINES,
            });
        }
        if more {
            return Ok(None);
        }
        let reply = Reply::new(code, std::mem::take(&mut self.lines));
        self.code = None;
        Ok(Some(reply))
    }
}

/// What an `EHLO` reply says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ehlo {
    /// The server's name (first word of the first line).
    pub domain: String,
    /// One entry per extension line, as sent (`SIZE 10240000`, `AUTH PLAIN LOGIN`).
    pub extensions: Vec<String>,
}

impl Ehlo {
    /// Reads a positive `EHLO` reply.
    pub fn from_reply(reply: &Reply) -> Ehlo {
        let mut lines = reply.lines.iter();
        let domain = lines
            .next()
            .map(|l| split_word(l).0.to_string())
            .unwrap_or_default();
        Ehlo {
            domain,
            extensions: lines.cloned().collect(),
        }
    }

    /// Whether an extension keyword is offered (case-insensitive).
    pub fn has(&self, keyword: &str) -> bool {
        self.extensions
            .iter()
            .any(|e| split_word(e).0.eq_ignore_ascii_case(keyword))
    }

    /// SASL mechanisms from `AUTH ...` (and the old `AUTH=...` form).
    pub fn auth_mechanisms(&self) -> Vec<String> {
        let mut out = Vec::new();
        for ext in &self.extensions {
            let (word, rest) = split_word(ext);
            let upper = word.to_ascii_uppercase();
            let mechs = if upper == "AUTH" {
                rest
            } else if let Some(m) = upper.strip_prefix("AUTH=") {
                if !out.iter().any(|o| o == m) {
                    out.push(m.to_string());
                }
                rest
            } else {
                continue;
            };
            for m in mechs.split_whitespace() {
                let m = m.to_ascii_uppercase();
                if !out.contains(&m) {
                    out.push(m);
                }
            }
        }
        out
    }
}

/// Client side: a command line.
pub fn command(command: &str) -> Vec<u8> {
    format!("{command}\r\n").into_bytes()
}

/// Server side: said when a client waits too long before TLS.
pub fn timeout_reply(hostname: &str) -> Vec<u8> {
    format!("421 4.4.2 {hostname} Error: timeout exceeded\r\n").into_bytes()
}

/// Server side: said when the backend cannot be reached.
pub fn unavailable_reply(hostname: &str) -> Vec<u8> {
    format!("421 4.3.2 {hostname} Service not available, closing transmission channel\r\n")
        .into_bytes()
}

/// Server side: said when a line is over the limit.
pub fn line_too_long_reply() -> Vec<u8> {
    b"500 5.5.6 Line too long\r\n".to_vec()
}

/// Server side: said when the client sent too many commands before TLS.
pub fn too_many_commands_reply(hostname: &str) -> Vec<u8> {
    format!("421 4.7.0 {hostname} Error: too many commands before STARTTLS\r\n").into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn multi_line_replies() {
        let mut p = ReplyParser::new();
        assert_eq!(p.push_line("250-mx.example.com").unwrap(), None);
        assert_eq!(p.push_line("250-AUTH PLAIN LOGIN").unwrap(), None);
        assert_eq!(p.push_line("250-AUTH=LOGIN").unwrap(), None);
        let r = p.push_line("250 STARTTLS").unwrap().unwrap();
        let e = Ehlo::from_reply(&r);
        assert_eq!(e.domain, "mx.example.com");
        assert!(e.has("starttls"));
        assert_eq!(e.auth_mechanisms(), vec!["PLAIN", "LOGIN"]);
        assert!(p.push_line("25").is_err());
        assert!(p.push_line("250+x").is_err());
        assert_eq!(p.push_line("220").unwrap().unwrap().code, 220);
    }

    #[test]
    fn starttls_is_not_offered_inside_tls() {
        let lines = [
            "mx.example.com",
            "PIPELINING",
            "STARTTLS",
            "starttls ",
            "8BITMIME",
        ];
        let reply = Reply::new(250, lines.map(String::from).to_vec());
        assert_eq!(
            String::from_utf8(reply.without_starttls().to_bytes()).unwrap(),
            "250-mx.example.com\r\n250-PIPELINING\r\n250 8BITMIME\r\n"
        );
        // STARTTLS last: the line before it becomes the last line.
        let reply = Reply::new(
            250,
            ["mx", "SIZE 10", "STARTTLS"].map(String::from).to_vec(),
        );
        assert_eq!(
            String::from_utf8(reply.without_starttls().to_bytes()).unwrap(),
            "250-mx\r\n250 SIZE 10\r\n"
        );
        // A server whose name is "STARTTLS" keeps its name.
        let reply = Reply::new(250, vec!["STARTTLS".into()]);
        assert_eq!(reply.without_starttls(), reply);
    }

    #[test]
    fn ehlo_reply_filters_auth() {
        let ext = vec![
            "SIZE 100".to_string(),
            "AUTH PLAIN".into(),
            "STARTTLS".into(),
            "8BITMIME".into(),
        ];
        let text = String::from_utf8(ehlo_reply("mx", &ext)).unwrap();
        assert_eq!(
            text,
            "250-mx\r\n250-SIZE 100\r\n250-8BITMIME\r\n250 STARTTLS\r\n"
        );
    }
}
