//! Shared by the relay targets: a session after the dialogue, scripted by
//! the input (each piece says which side sends it and how long it is), run
//! through a relay. What reaches the backend is always what the client
//! sent, in order, with whole commands left out and nothing added; after
//! the relay ends the session, nothing more; and a command the relay must
//! answer itself never reaches the backend when the client sent nothing
//! that could carry it as data.

use mailcert_dialect::relay::{Phase, Relay};

pub struct Session {
    pub from_client: Vec<u8>,
    pub to_backend: Vec<u8>,
    pub to_client: Vec<u8>,
}

/// Runs the script in `data` (after its first byte, which chose the phase)
/// through `relay`.
pub fn run(relay: &mut dyn Relay, data: &[u8]) -> Session {
    let mut session = Session {
        from_client: Vec::new(),
        to_backend: Vec::new(),
        to_client: Vec::new(),
    };
    let mut rest = data;
    while let Some((&header, tail)) = rest.split_first() {
        let len = usize::from(header >> 1).min(tail.len());
        let (piece, tail) = tail.split_at(len);
        rest = tail;
        let closed = relay.closing();
        // The front end does not read the client while the relay does not
        // want its bytes: neither does the script.
        if header & 1 == 0 && !relay.wants_client() {
            continue;
        }
        if header & 1 == 0 {
            session.from_client.extend_from_slice(piece);
            relay.receive_from_client(piece);
        } else {
            relay.receive_from_backend(piece);
        }
        let out = relay.take_to_backend();
        assert!(
            !closed || out.is_empty(),
            "bytes to the backend after the relay closed"
        );
        session.to_backend.extend_from_slice(&out);
        session.to_client.extend(relay.take_to_client());
    }
    assert!(
        is_subsequence(&session.to_backend, &session.from_client),
        "the backend got bytes the client never sent (or out of order)"
    );
    let lines = session.from_client.iter().filter(|&&b| b == b'\n').count();
    assert!(
        relay.answered().len() <= lines + 1,
        "more local answers than client lines"
    );
    session
}

pub fn phase(selector: u8) -> Phase {
    if selector & 1 == 0 {
        Phase::Tls
    } else {
        Phase::Plaintext
    }
}

pub fn max_line(selector: u8) -> usize {
    usize::from(selector >> 1) * 8
}

fn is_subsequence(needle: &[u8], haystack: &[u8]) -> bool {
    let mut it = haystack.iter();
    needle.iter().all(|b| it.any(|h| h == b))
}

/// The words of each line in `bytes`, upper case, as the most lenient
/// backend reads them: split on any whitespace (C's `isspace`, as Postfix
/// does), empty words dropped.
pub fn words(bytes: &[u8]) -> Vec<Vec<String>> {
    bytes
        .split(|&b| b == b'\n')
        .map(|line| {
            line.split(|b| matches!(b, b' ' | b'\t' | b'\r' | b'\x0b' | b'\x0c'))
                .filter(|w| !w.is_empty())
                .map(|w| String::from_utf8_lossy(w).to_ascii_uppercase())
                .collect()
        })
        .collect()
}

/// The command verb of each line in `bytes` (not every target reads them).
#[allow(dead_code)]
pub fn verbs(bytes: &[u8]) -> Vec<String> {
    words(bytes)
        .into_iter()
        .map(|w| w.into_iter().next().unwrap_or_default())
        .collect()
}

/// Does the client input mention any of these words (case-insensitive)?
pub fn mentions(bytes: &[u8], words: &[&str]) -> bool {
    let upper = String::from_utf8_lossy(bytes).to_ascii_uppercase();
    words.iter().any(|w| upper.contains(w))
}
