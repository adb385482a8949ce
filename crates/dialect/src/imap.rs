//! IMAP4 (RFC 3501 / 9051) before TLS: the greeting, `CAPABILITY`,
//! `NOOP`, `LOGOUT`, `STARTTLS` (RFC 2595), tagged responses, `PREAUTH`.

use crate::line::split_word;
use crate::setup::{Action, ServerConfig};

/// Capabilities a front end offers before TLS: login is disabled until
/// the session is encrypted.
pub const PRE_TLS_CAPABILITIES: &str = "IMAP4rev1 STARTTLS LOGINDISABLED";

/// Server side: the greeting, with the capabilities in a response code so
/// clients need no extra round trip.
pub fn greeting(hostname: &str) -> Vec<u8> {
    format!("* OK [CAPABILITY {PRE_TLS_CAPABILITIES}] {hostname} ready, STARTTLS first\r\n")
        .into_bytes()
}

/// Server side: the answer to one command line before TLS.
pub(crate) fn serve(config: &ServerConfig, line: &str) -> Action {
    let (tag, rest) = split_word(line);
    if tag.is_empty() || !valid_tag(tag) {
        return Action::Reply(b"* BAD Invalid tag\r\n".to_vec());
    }
    let (command, _args) = split_word(rest);
    let command = command.to_ascii_uppercase();
    let reply = |s: String| Action::Reply(s.into_bytes());
    match command.as_str() {
        "CAPABILITY" => reply(format!(
            "* CAPABILITY {PRE_TLS_CAPABILITIES}\r\n{tag} OK CAPABILITY completed\r\n"
        )),
        "NOOP" => reply(format!("{tag} OK NOOP completed\r\n")),
        "LOGOUT" => Action::Close(
            format!(
                "* BYE {} logging out\r\n{tag} OK LOGOUT completed\r\n",
                config.hostname
            )
            .into_bytes(),
        ),
        "STARTTLS" => {
            Action::StartTls(format!("{tag} OK Begin TLS negotiation now\r\n").into_bytes())
        }
        "LOGIN" | "AUTHENTICATE" => reply(format!(
            "{tag} NO [PRIVACYREQUIRED] Plaintext login is disabled: use STARTTLS first\r\n"
        )),
        "" => reply(format!("{tag} BAD Missing command\r\n")),
        _ => reply(format!(
            "{tag} BAD Only CAPABILITY, NOOP, LOGOUT and STARTTLS are accepted before STARTTLS\r\n"
        )),
    }
}

fn valid_tag(tag: &str) -> bool {
    tag.bytes().all(|b| {
        b.is_ascii_graphic() && !matches!(b, b'(' | b')' | b'{' | b'%' | b'*' | b'"' | b'\\' | b'+')
    })
}

/// The server's answer to a session opening.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GreetingKind {
    /// `* OK`: not authenticated, STARTTLS possible.
    Ok,
    /// `* PREAUTH`: already authenticated, over plaintext; STARTTLS is no
    /// longer allowed (RFC 3501 6.2.1), a downgrade risk.
    Preauth,
    /// `* BYE`: the server refuses the connection.
    Bye,
}

/// A parsed IMAP greeting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Greeting {
    pub kind: GreetingKind,
    /// Capabilities from a `[CAPABILITY ...]` response code, if present.
    pub capabilities: Option<Vec<String>>,
    pub text: String,
}

/// Client side: parses the greeting line (without its line ending).
pub fn parse_greeting(line: &str) -> Option<Greeting> {
    let rest = line.strip_prefix("* ")?;
    let (word, text) = split_word(rest);
    let kind = match word.to_ascii_uppercase().as_str() {
        "OK" => GreetingKind::Ok,
        "PREAUTH" => GreetingKind::Preauth,
        "BYE" => GreetingKind::Bye,
        _ => return None,
    };
    Some(Greeting {
        kind,
        capabilities: response_code_capabilities(text),
        text: text.to_string(),
    })
}

fn response_code_capabilities(text: &str) -> Option<Vec<String>> {
    let inner = text.strip_prefix('[')?;
    let end = inner.find(']')?;
    let (word, caps) = split_word(&inner[..end]);
    word.eq_ignore_ascii_case("CAPABILITY")
        .then(|| caps.split_whitespace().map(str::to_string).collect())
}

/// A server response line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Response {
    /// `* CAPABILITY ...`
    Capability(Vec<String>),
    /// Any other untagged line.
    Untagged(String),
    /// `tag OK|NO|BAD text`.
    Tagged {
        tag: String,
        status: Status,
        text: String,
    },
    /// `+ ...` continuation request.
    Continue(String),
}

/// The status of a tagged response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Ok,
    No,
    Bad,
}

/// Client side: parses one response line.
pub fn parse_response(line: &str) -> Option<Response> {
    if let Some(rest) = line.strip_prefix("* ") {
        let (word, args) = split_word(rest);
        if word.eq_ignore_ascii_case("CAPABILITY") {
            return Some(Response::Capability(
                args.split_whitespace().map(str::to_string).collect(),
            ));
        }
        return Some(Response::Untagged(rest.to_string()));
    }
    if let Some(rest) = line.strip_prefix('+') {
        return Some(Response::Continue(rest.trim_start().to_string()));
    }
    let (tag, rest) = split_word(line);
    let (status, text) = split_word(rest);
    let status = match status.to_ascii_uppercase().as_str() {
        "OK" => Status::Ok,
        "NO" => Status::No,
        "BAD" => Status::Bad,
        _ => return None,
    };
    (!tag.is_empty()).then(|| Response::Tagged {
        tag: tag.to_string(),
        status,
        text: text.to_string(),
    })
}

/// Client side: a command line with its tag.
pub fn command(tag: &str, command: &str) -> Vec<u8> {
    format!("{tag} {command}\r\n").into_bytes()
}

/// Server side: said when a client waits too long before TLS.
pub fn timeout_reply() -> Vec<u8> {
    b"* BYE Autologout; idle for too long\r\n".to_vec()
}

/// Server side: said when the backend cannot be reached.
pub fn unavailable_reply() -> Vec<u8> {
    b"* BYE [UNAVAILABLE] The mail server is not available, try again later\r\n".to_vec()
}

/// Server side: said when a line is over the limit.
pub fn line_too_long_reply() -> Vec<u8> {
    b"* BYE Line too long\r\n".to_vec()
}

/// Server side: said when the client sent too many commands before TLS.
pub fn too_many_commands_reply() -> Vec<u8> {
    b"* BYE Too many commands before STARTTLS\r\n".to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn greetings() {
        let g = parse_greeting("* OK [CAPABILITY IMAP4rev1 STARTTLS LOGINDISABLED] hi").unwrap();
        assert_eq!(g.kind, GreetingKind::Ok);
        assert_eq!(g.capabilities.unwrap()[1], "STARTTLS");
        let g = parse_greeting("* PREAUTH welcome back").unwrap();
        assert_eq!(g.kind, GreetingKind::Preauth);
        assert_eq!(g.capabilities, None);
        assert!(parse_greeting("+OK pop").is_none());
    }

    #[test]
    fn responses() {
        assert_eq!(
            parse_response("a1 NO [PRIVACYREQUIRED] no"),
            Some(Response::Tagged {
                tag: "a1".into(),
                status: Status::No,
                text: "[PRIVACYREQUIRED] no".into()
            })
        );
        assert!(matches!(
            parse_response("* CAPABILITY IMAP4rev1 STARTTLS"),
            Some(Response::Capability(c)) if c.len() == 2
        ));
        assert_eq!(parse_response("garbage"), None);
    }
}
