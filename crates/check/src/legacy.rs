//! The probe for SSL 3.0, TLS 1.0 and 1.1, written by hand.
//!
//! Why by hand: rustls implements only TLS 1.2 and 1.3 on purpose, and the
//! project uses no other TLS library, so it cannot offer an old version. To
//! learn whether a server still *accepts* an old version one message is
//! enough: a ClientHello whose highest version is that version, with the
//! CBC cipher suites old clients offered. The server's first record answers
//! the question (a ServerHello with the highest version both sides have,
//! or an alert). The probe then hangs up: no key exchange, no
//! cryptography, nothing from the answer is trusted or used except those
//! two version bytes. A server answers with its highest version only, so
//! finding every accepted one takes a hello per version (see
//! [`next_probe`]).
//!
//! This module is sans-IO: it builds bytes and reads bytes.

/// SSL 3.0, TLS 1.0 and TLS 1.1 on the wire.
pub const SSL3_0: u16 = 0x0300;
pub const TLS1_0: u16 = 0x0301;
pub const TLS1_1: u16 = 0x0302;

/// The highest version to offer in the next probe, after the server chose
/// `accepted` for a hello offering at most `offered` (`None` for the first
/// probe); `None` when there is nothing older left to ask about. A server
/// that names a version above the one offered is broken, and ends the
/// probing like a refusal.
pub fn next_probe(offered: Option<u16>, accepted: Option<u16>) -> Option<u16> {
    match (offered, accepted) {
        (None, _) => Some(TLS1_1),
        (Some(_), None) => None,
        (Some(offered), Some(v)) if v <= offered && v > SSL3_0 => Some(v - 1),
        _ => None,
    }
}

/// What the server's first bytes say.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LegacyAnswer {
    /// A ServerHello choosing this (old) version.
    Accepted(u16),
    /// An alert, or a ServerHello for another version: it refuses.
    Refused,
    /// Not enough bytes yet.
    NeedMore,
    /// Not TLS at all.
    NotTls,
}

/// The name of a protocol version as reports write it.
pub fn version_name(version: u16) -> &'static str {
    match version {
        0x0300 => "SSLv3",
        0x0301 => "TLSv1.0",
        0x0302 => "TLSv1.1",
        0x0303 => "TLSv1.2",
        0x0304 => "TLSv1.3",
        _ => "unknown",
    }
}

/// A ClientHello whose highest version is `max` (SSL 3.0 to TLS 1.1), with
/// the server name when it is a DNS name.
pub fn client_hello(max: u16, server_name: Option<&str>, random: [u8; 32]) -> Vec<u8> {
    // The CBC suites TLS 1.0/1.1 clients offered, strongest first.
    const SUITES: [u16; 10] = [
        0xC00A, // ECDHE-ECDSA-AES256-SHA
        0xC009, // ECDHE-ECDSA-AES128-SHA
        0xC014, // ECDHE-RSA-AES256-SHA
        0xC013, // ECDHE-RSA-AES128-SHA
        0x0039, // DHE-RSA-AES256-SHA
        0x0033, // DHE-RSA-AES128-SHA
        0x0035, // AES256-SHA
        0x002F, // AES128-SHA
        0x000A, // DES-CBC3-SHA
        0x00FF, // TLS_EMPTY_RENEGOTIATION_INFO_SCSV
    ];
    let mut body = Vec::with_capacity(256);
    body.extend_from_slice(&max.to_be_bytes());
    body.extend_from_slice(&random);
    body.push(0); // no session id
    push_u16(&mut body, (SUITES.len() * 2) as u16);
    for s in SUITES {
        push_u16(&mut body, s);
    }
    body.extend_from_slice(&[1, 0]); // compression: null only

    let mut extensions = Vec::new();
    if let Some(name) = server_name.filter(|n| n.parse::<std::net::IpAddr>().is_err()) {
        let name = name.as_bytes();
        let mut ext = Vec::new();
        push_u16(&mut ext, (name.len() + 3) as u16);
        ext.push(0); // host_name
        push_u16(&mut ext, name.len() as u16);
        ext.extend_from_slice(name);
        push_extension(&mut extensions, 0x0000, &ext);
    }
    // supported_groups: x25519, secp256r1, secp384r1
    push_extension(&mut extensions, 0x000a, &[0, 6, 0, 0x1d, 0, 0x17, 0, 0x18]);
    // ec_point_formats: uncompressed
    push_extension(&mut extensions, 0x000b, &[1, 0]);
    // renegotiation_info: empty
    push_extension(&mut extensions, 0xff01, &[0]);
    push_u16(&mut body, extensions.len() as u16);
    body.extend_from_slice(&extensions);

    let mut handshake = Vec::with_capacity(body.len() + 4);
    handshake.push(1); // client_hello
    push_u24(&mut handshake, body.len());
    handshake.extend_from_slice(&body);

    let mut record = Vec::with_capacity(handshake.len() + 5);
    record.push(22); // handshake
                     // The record layer says 1.0 (what clients send for compatibility),
                     // except in a hello that offers SSL 3.0 alone.
    record.extend_from_slice(&max.min(TLS1_0).to_be_bytes());
    push_u16(&mut record, handshake.len() as u16);
    record.extend_from_slice(&handshake);
    record
}

/// Reads the server's first record.
pub fn parse_answer(bytes: &[u8]) -> LegacyAnswer {
    let Some(header) = bytes.get(..5) else {
        return LegacyAnswer::NeedMore;
    };
    let content_type = header[0];
    let record_major = header[1];
    if record_major != 3 {
        return LegacyAnswer::NotTls;
    }
    match content_type {
        21 => LegacyAnswer::Refused, // alert
        22 => {
            // handshake: type(1) length(3) server_version(2)
            let Some(hs) = bytes.get(5..11) else {
                return LegacyAnswer::NeedMore;
            };
            if hs[0] != 2 {
                return LegacyAnswer::NotTls;
            }
            let version = u16::from_be_bytes([hs[4], hs[5]]);
            match version {
                SSL3_0..=TLS1_1 => LegacyAnswer::Accepted(version),
                _ => LegacyAnswer::Refused,
            }
        }
        _ => LegacyAnswer::NotTls,
    }
}

fn push_u16(out: &mut Vec<u8>, v: u16) {
    out.extend_from_slice(&v.to_be_bytes());
}

fn push_u24(out: &mut Vec<u8>, v: usize) {
    out.extend_from_slice(&[(v >> 16) as u8, (v >> 8) as u8, v as u8]);
}

fn push_extension(out: &mut Vec<u8>, kind: u16, data: &[u8]) {
    push_u16(out, kind);
    push_u16(out, data.len() as u16);
    out.extend_from_slice(data);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hello_is_well_formed() {
        let hello = client_hello(TLS1_1, Some("mail.contoso.com"), [7; 32]);
        assert_eq!(&hello[..3], &[22, 3, 1]);
        let record_len = u16::from_be_bytes([hello[3], hello[4]]) as usize;
        assert_eq!(record_len, hello.len() - 5);
        assert_eq!(hello[5], 1);
        let hs_len = ((hello[6] as usize) << 16) | ((hello[7] as usize) << 8) | hello[8] as usize;
        assert_eq!(hs_len, hello.len() - 9);
        assert_eq!(&hello[9..11], &[3, 2]);
        assert!(hello
            .windows(b"mail.contoso.com".len())
            .any(|w| w == b"mail.contoso.com"));
        // No SNI for IP addresses.
        let ip = client_hello(TLS1_1, Some("127.0.0.1"), [7; 32]);
        assert!(ip.len() < hello.len());
        // Older maxima: the client_version changes, the record layer says
        // 1.0 except for SSL 3.0 alone.
        let tls10 = client_hello(TLS1_0, None, [7; 32]);
        assert_eq!((&tls10[1..3], &tls10[9..11]), (&[3, 1][..], &[3, 1][..]));
        let ssl3 = client_hello(SSL3_0, None, [7; 32]);
        assert_eq!((&ssl3[1..3], &ssl3[9..11]), (&[3, 0][..], &[3, 0][..]));
    }

    #[test]
    fn probes_walk_down_the_accepted_versions() {
        assert_eq!(next_probe(None, None), Some(TLS1_1));
        // Refused at 1.1: nothing older is accepted either (a server
        // answers with the highest version it shares).
        assert_eq!(next_probe(Some(TLS1_1), None), None);
        assert_eq!(next_probe(Some(TLS1_1), Some(TLS1_1)), Some(TLS1_0));
        // Asked for at most 1.1, it chose 1.0: 1.1 is not accepted.
        assert_eq!(next_probe(Some(TLS1_1), Some(TLS1_0)), Some(SSL3_0));
        assert_eq!(next_probe(Some(SSL3_0), Some(SSL3_0)), None);
        assert_eq!(next_probe(Some(TLS1_0), Some(TLS1_1)), None);
    }

    #[test]
    fn answers() {
        assert_eq!(
            parse_answer(&[22, 3, 1, 0, 50, 2, 0, 0, 46, 3, 1]),
            LegacyAnswer::Accepted(TLS1_0)
        );
        assert_eq!(
            parse_answer(&[22, 3, 2, 0, 50, 2, 0, 0, 46, 3, 2]),
            LegacyAnswer::Accepted(TLS1_1)
        );
        assert_eq!(
            parse_answer(&[22, 3, 0, 0, 50, 2, 0, 0, 46, 3, 0]),
            LegacyAnswer::Accepted(SSL3_0)
        );
        assert_eq!(
            parse_answer(&[21, 3, 1, 0, 2, 2, 70]),
            LegacyAnswer::Refused
        );
        assert_eq!(
            parse_answer(&[22, 3, 3, 0, 50, 2, 0, 0, 46, 3, 3]),
            LegacyAnswer::Refused
        );
        assert_eq!(parse_answer(&[22, 3]), LegacyAnswer::NeedMore);
        assert_eq!(parse_answer(b"* OK IMAP ready\r\n"), LegacyAnswer::NotTls);
    }
}
