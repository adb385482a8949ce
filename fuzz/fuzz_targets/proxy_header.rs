//! The PROXY protocol v2 header the front end writes to backends, for any
//! addresses and any TLS details: read back with the specification's
//! rules, it says exactly what was given, and its length field covers
//! exactly what follows (a backend reads the rest as the client's bytes).
#![no_main]

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use libfuzzer_sys::arbitrary::{self, Arbitrary};
use libfuzzer_sys::fuzz_target;
use mailcert_front::proxy::{header, TlsInfo, PP2_TYPE_ALPN, PP2_TYPE_AUTHORITY, PP2_TYPE_SSL};

#[derive(Debug, Arbitrary)]
struct Tls {
    version: String,
    cipher: String,
    alpn: Option<Vec<u8>>,
    sni: Option<String>,
}

#[derive(Debug, Arbitrary)]
struct Input {
    client: (bool, [u8; 16], u16),
    local: (bool, [u8; 16], u16),
    tls: Option<Tls>,
}

fn address((v4, bytes, port): (bool, [u8; 16], u16)) -> SocketAddr {
    let ip = if v4 {
        IpAddr::V4(Ipv4Addr::new(bytes[0], bytes[1], bytes[2], bytes[3]))
    } else {
        IpAddr::V6(Ipv6Addr::from(bytes))
    };
    SocketAddr::new(ip, port)
}

/// The TLVs of a header body after the addresses: (type, value).
fn tlvs(mut data: &[u8]) -> Vec<(u8, Vec<u8>)> {
    let mut out = Vec::new();
    while !data.is_empty() {
        assert!(data.len() >= 3, "a truncated TLV header");
        let len = usize::from(u16::from_be_bytes([data[1], data[2]]));
        assert!(data.len() >= 3 + len, "a TLV longer than the header");
        out.push((data[0], data[3..3 + len].to_vec()));
        data = &data[3 + len..];
    }
    out
}

fuzz_target!(|input: Input| {
    let client = address(input.client);
    let local = address(input.local);
    let tls = input.tls.map(|t| TlsInfo {
        version: t.version,
        cipher: t.cipher,
        alpn: t.alpn,
        sni: t.sni,
    });
    let bytes = header(client, local, tls.as_ref());
    assert_eq!(&bytes[..12], b"\r\n\r\n\0\r\nQUIT\n");
    assert_eq!(bytes[12], 0x21, "version 2, PROXY command");
    let len = usize::from(u16::from_be_bytes([bytes[14], bytes[15]]));
    assert_eq!(
        bytes.len(),
        16 + len,
        "the length field covers the body exactly"
    );
    let address_len = match bytes[13] {
        0x11 => 12,
        0x21 => 36,
        other => panic!("family {other:#x}"),
    };
    let body = &bytes[16..];
    let found = tlvs(&body[address_len..]);
    match &tls {
        None => assert!(found.is_empty()),
        Some(tls) => {
            let get = |kind| {
                found
                    .iter()
                    .find(|(k, _)| *k == kind)
                    .map(|(_, v)| v.clone())
            };
            let ssl = get(PP2_TYPE_SSL).expect("the SSL TLV");
            assert_eq!(ssl[0] & 1, 1, "PP2_CLIENT_SSL");
            let _ = tlvs(&ssl[5..]);
            if let Some(sni) = &tls.sni {
                let written = get(PP2_TYPE_AUTHORITY).expect("the authority TLV");
                assert!(sni.as_bytes().starts_with(&written));
            }
            if let Some(alpn) = &tls.alpn {
                let written = get(PP2_TYPE_ALPN).expect("the ALPN TLV");
                assert!(alpn.starts_with(&written));
            }
        }
    }
});
