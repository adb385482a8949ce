//! PROXY protocol version 2 headers (the haproxy specification), with the
//! TLVs that tell the backend what the front end saw: the SSL TLV
//! (`PP2_TYPE_SSL` with `PP2_CLIENT_SSL`, TLS version and cipher) so that
//! Dovecot with `disable_plaintext_auth = yes` counts the session as
//! secured, the ALPN and the SNI (`PP2_TYPE_AUTHORITY`).

use std::net::{IpAddr, SocketAddr};

const SIGNATURE: [u8; 12] = *b"\r\n\r\n\0\r\nQUIT\n";
const VERSION_PROXY: u8 = 0x21;
const TCP4: u8 = 0x11;
const TCP6: u8 = 0x21;
/// Negotiated ALPN protocol.
pub const PP2_TYPE_ALPN: u8 = 0x01;
/// Host name the client asked for (SNI).
pub const PP2_TYPE_AUTHORITY: u8 = 0x02;
/// TLS details.
pub const PP2_TYPE_SSL: u8 = 0x20;
/// Sub-TLV of `PP2_TYPE_SSL`: protocol version, such as `TLSv1.3`.
pub const PP2_SUBTYPE_SSL_VERSION: u8 = 0x21;
/// Sub-TLV of `PP2_TYPE_SSL`: cipher suite name.
pub const PP2_SUBTYPE_SSL_CIPHER: u8 = 0x23;
/// Flag of `PP2_TYPE_SSL`: the client connected over TLS.
pub const PP2_CLIENT_SSL: u8 = 0x01;

/// What the front end knows about the TLS session, for the SSL TLV.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TlsInfo {
    /// `TLSv1.2` or `TLSv1.3`.
    pub version: String,
    /// IANA name of the cipher suite (`TLS13_AES_256_GCM_SHA384`).
    pub cipher: String,
    pub alpn: Option<Vec<u8>>,
    pub sni: Option<String>,
}

/// Encodes a PROXY v2 header for a connection from `client` to `local`,
/// with the SSL TLV when `tls` is given.
pub fn header(client: SocketAddr, local: SocketAddr, tls: Option<&TlsInfo>) -> Vec<u8> {
    let (src, dst) = same_family(client, local);
    let mut body = Vec::with_capacity(64);
    let family = match (src.ip(), dst.ip()) {
        (IpAddr::V4(s), IpAddr::V4(d)) => {
            body.extend_from_slice(&s.octets());
            body.extend_from_slice(&d.octets());
            TCP4
        }
        (s, d) => {
            body.extend_from_slice(&to_v6(s).octets());
            body.extend_from_slice(&to_v6(d).octets());
            TCP6
        }
    };
    body.extend_from_slice(&src.port().to_be_bytes());
    body.extend_from_slice(&dst.port().to_be_bytes());
    if let Some(tls) = tls {
        if let Some(alpn) = &tls.alpn {
            tlv(&mut body, PP2_TYPE_ALPN, capped(alpn));
        }
        if let Some(sni) = &tls.sni {
            tlv(&mut body, PP2_TYPE_AUTHORITY, capped(sni.as_bytes()));
        }
        let mut ssl = vec![PP2_CLIENT_SSL];
        // verify: 0 — no client certificate was asked for, so none failed.
        ssl.extend_from_slice(&0u32.to_be_bytes());
        tlv(
            &mut ssl,
            PP2_SUBTYPE_SSL_VERSION,
            capped(tls.version.as_bytes()),
        );
        tlv(
            &mut ssl,
            PP2_SUBTYPE_SSL_CIPHER,
            capped(tls.cipher.as_bytes()),
        );
        tlv(&mut body, PP2_TYPE_SSL, &ssl);
    }
    let mut out = Vec::with_capacity(16 + body.len());
    out.extend_from_slice(&SIGNATURE);
    out.push(VERSION_PROXY);
    out.push(family);
    // At most 36 + 258 + 258 + 524 bytes: always fits.
    let len = u16::try_from(body.len()).unwrap_or(u16::MAX);
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(&body);
    out
}

/// Longest value of a simple TLV (ALPN, authority, TLS version, cipher).
/// Every real one fits (a DNS name is at most 253 bytes, an ALPN protocol
/// 255, a TLS version or cipher name a few dozen), and with it the whole
/// header always fits the 16-bit length field (36 bytes of addresses, two
/// TLVs of at most 258 bytes and the SSL TLV of at most 524): a header
/// whose length field fell short of its body would make the backend read
/// the rest of it as the client's bytes. The SSL TLV holds two of them
/// and is never cut (cutting it would break its sub-TLVs).
const MAX_VALUE: usize = 255;

fn capped(value: &[u8]) -> &[u8] {
    &value[..value.len().min(MAX_VALUE)]
}

fn tlv(out: &mut Vec<u8>, kind: u8, value: &[u8]) {
    out.push(kind);
    out.extend_from_slice(&(value.len() as u16).to_be_bytes());
    out.extend_from_slice(value);
}

fn to_v6(ip: IpAddr) -> std::net::Ipv6Addr {
    match ip {
        IpAddr::V4(v4) => v4.to_ipv6_mapped(),
        IpAddr::V6(v6) => v6,
    }
}

/// Both addresses in one family: IPv4-mapped IPv6 addresses become IPv4
/// when the other side is IPv4.
fn same_family(a: SocketAddr, b: SocketAddr) -> (SocketAddr, SocketAddr) {
    let canon = |s: SocketAddr| match s.ip() {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => SocketAddr::new(IpAddr::V4(v4), s.port()),
            None => s,
        },
        IpAddr::V4(_) => s,
    };
    (canon(a), canon(b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv4_with_ssl_tlv() {
        let tls = TlsInfo {
            version: "TLSv1.3".into(),
            cipher: "TLS13_AES_256_GCM_SHA384".into(),
            alpn: None,
            sni: Some("mail.example.com".into()),
        };
        let h = header(
            "203.0.113.7:50000".parse().unwrap(),
            "127.0.0.1:993".parse().unwrap(),
            Some(&tls),
        );
        assert_eq!(&h[..12], &SIGNATURE);
        assert_eq!(h[12], 0x21);
        assert_eq!(h[13], TCP4);
        let len = u16::from_be_bytes([h[14], h[15]]) as usize;
        assert_eq!(h.len(), 16 + len);
        assert_eq!(&h[16..20], &[203, 0, 113, 7]);
        assert_eq!(u16::from_be_bytes([h[24], h[25]]), 50000);
        assert_eq!(u16::from_be_bytes([h[26], h[27]]), 993);
        // AUTHORITY, then SSL with client flag and sub-TLVs.
        assert_eq!(h[28], PP2_TYPE_AUTHORITY);
        let ssl_at = 28 + 3 + "mail.example.com".len();
        assert_eq!(h[ssl_at], PP2_TYPE_SSL);
        assert_eq!(h[ssl_at + 3], PP2_CLIENT_SSL);
        assert_eq!(h[ssl_at + 8], PP2_SUBTYPE_SSL_VERSION);
        let text = String::from_utf8_lossy(&h);
        assert!(text.contains("TLSv1.3") && text.contains("TLS13_AES_256_GCM_SHA384"));
    }

    #[test]
    fn the_length_field_covers_the_body_whatever_the_tls_details() {
        let huge = "x".repeat(70_000);
        let tls = TlsInfo {
            version: huge.clone(),
            cipher: huge.clone(),
            alpn: Some(huge.clone().into_bytes()),
            sni: Some(huge),
        };
        let h = header(
            "[2001:db8::1]:1".parse().unwrap(),
            "[2001:db8::2]:2".parse().unwrap(),
            Some(&tls),
        );
        let len = u16::from_be_bytes([h[14], h[15]]) as usize;
        assert_eq!(h.len(), 16 + len);
        assert!(len < 2048, "{len}");
        // Found by the proxy_header fuzz target: the SSL TLV, which holds
        // the version and cipher sub-TLVs, was cut like a simple value and
        // its sub-TLVs ran past its end. Walk them.
        let mut at = 16 + 36;
        while at < h.len() {
            let kind = h[at];
            let value = u16::from_be_bytes([h[at + 1], h[at + 2]]) as usize;
            assert!(
                at + 3 + value <= h.len(),
                "TLV {kind:#x} runs past the header"
            );
            if kind == PP2_TYPE_SSL {
                let ssl = &h[at + 3..at + 3 + value];
                let mut sub = 5;
                while sub < ssl.len() {
                    let n = u16::from_be_bytes([ssl[sub + 1], ssl[sub + 2]]) as usize;
                    assert!(sub + 3 + n <= ssl.len(), "sub-TLV runs past the SSL TLV");
                    sub += 3 + n;
                }
                assert_eq!(sub, ssl.len());
            }
            at += 3 + value;
        }
        assert_eq!(at, h.len());
    }

    #[test]
    fn mixed_families() {
        let h = header(
            "[::ffff:10.0.0.1]:1".parse().unwrap(),
            "127.0.0.1:2".parse().unwrap(),
            None,
        );
        assert_eq!(h[13], TCP4);
        assert_eq!(h.len(), 16 + 12);
        let h = header(
            "[2001:db8::1]:1".parse().unwrap(),
            "127.0.0.1:2".parse().unwrap(),
            None,
        );
        assert_eq!(h[13], TCP6);
        assert_eq!(h.len(), 16 + 36);
    }
}
