//! TLSA records (RFC 6698) as DANE for SMTP uses them (RFC 7672): the
//! owner name `_PORT._tcp.HOST.`, and the association data computed from
//! a certificate or a bare public key.

use serde::Serialize;
use sha2::{Digest, Sha256, Sha512};
use x509_parser::prelude::{FromDer, X509Certificate};

/// Certificate usage.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Usage {
    /// 0, PKIX-TA: ignored by SMTP senders (RFC 7672 §3.1.3).
    PkixTa,
    /// 1, PKIX-EE: ignored by SMTP senders.
    PkixEe,
    /// 2, DANE-TA: the issuing CA's key (or certificate).
    DaneTa,
    /// 3, DANE-EE: the server's own key (or certificate), dates and names not checked.
    DaneEe,
    Other(u8),
}

impl Usage {
    pub fn number(self) -> u8 {
        match self {
            Usage::PkixTa => 0,
            Usage::PkixEe => 1,
            Usage::DaneTa => 2,
            Usage::DaneEe => 3,
            Usage::Other(n) => n,
        }
    }

    pub fn from_number(n: u8) -> Usage {
        match n {
            0 => Usage::PkixTa,
            1 => Usage::PkixEe,
            2 => Usage::DaneTa,
            3 => Usage::DaneEe,
            n => Usage::Other(n),
        }
    }

    /// What SMTP senders act on (RFC 7672 §3.1.3): DANE-TA and DANE-EE.
    pub fn usable_for_smtp(self) -> bool {
        matches!(self, Usage::DaneTa | Usage::DaneEe)
    }
}

/// Which part of the certificate is matched.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Selector {
    /// 0: the whole certificate.
    Certificate,
    /// 1: the SubjectPublicKeyInfo.
    Spki,
    Other(u8),
}

impl Selector {
    pub fn number(self) -> u8 {
        match self {
            Selector::Certificate => 0,
            Selector::Spki => 1,
            Selector::Other(n) => n,
        }
    }

    pub fn from_number(n: u8) -> Selector {
        match n {
            0 => Selector::Certificate,
            1 => Selector::Spki,
            n => Selector::Other(n),
        }
    }
}

/// How the selected data is presented.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Matching {
    /// 0: in full.
    Full,
    /// 1: SHA-256.
    Sha256,
    /// 2: SHA-512.
    Sha512,
    Other(u8),
}

impl Matching {
    pub fn number(self) -> u8 {
        match self {
            Matching::Full => 0,
            Matching::Sha256 => 1,
            Matching::Sha512 => 2,
            Matching::Other(n) => n,
        }
    }

    pub fn from_number(n: u8) -> Matching {
        match n {
            0 => Matching::Full,
            1 => Matching::Sha256,
            2 => Matching::Sha512,
            n => Matching::Other(n),
        }
    }

    fn digest(self, data: &[u8]) -> Option<Vec<u8>> {
        match self {
            Matching::Full => Some(data.to_vec()),
            Matching::Sha256 => Some(Sha256::digest(data).to_vec()),
            Matching::Sha512 => Some(Sha512::digest(data).to_vec()),
            Matching::Other(_) => None,
        }
    }
}

/// One TLSA record's data.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Tlsa {
    pub usage: Usage,
    pub selector: Selector,
    pub matching: Matching,
    pub data: Vec<u8>,
}

impl Tlsa {
    /// `USAGE 1 1`: SHA-256 of a SubjectPublicKeyInfo (DER) — the record
    /// that survives a renewal with the same key, and that a key made in
    /// advance can be published for.
    pub fn for_spki(usage: Usage, spki_der: &[u8]) -> Tlsa {
        Tlsa {
            usage,
            selector: Selector::Spki,
            matching: Matching::Sha256,
            data: Sha256::digest(spki_der).to_vec(),
        }
    }

    /// The data in upper-case hex, as zone files and `dane --json` show it.
    pub fn data_hex(&self) -> String {
        self.data.iter().map(|b| format!("{b:02X}")).collect()
    }

    /// `3 1 1 ABCD…`.
    pub fn rdata_text(&self) -> String {
        format!(
            "{} {} {} {}",
            self.usage.number(),
            self.selector.number(),
            self.matching.number(),
            self.data_hex()
        )
    }

    /// Parses `3 1 1 abcd…` (hex may be split by spaces, as dig prints it).
    pub fn parse(text: &str) -> Option<Tlsa> {
        let mut fields = text.split_whitespace();
        let usage = fields.next()?.parse().ok()?;
        let selector = fields.next()?.parse().ok()?;
        let matching = fields.next()?.parse().ok()?;
        let hex: String = fields.collect();
        if !hex.len().is_multiple_of(2) || hex.is_empty() {
            return None;
        }
        let data = (0..hex.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(hex.get(i..i + 2)?, 16).ok())
            .collect::<Option<Vec<u8>>>()?;
        Some(Tlsa {
            usage: Usage::from_number(usage),
            selector: Selector::from_number(selector),
            matching: Matching::from_number(matching),
            data,
        })
    }

    /// Whether this record matches one certificate (DER) by its selector
    /// and matching type.
    pub fn matches_certificate(&self, der: &[u8]) -> bool {
        let selected = match self.selector {
            Selector::Certificate => der.to_vec(),
            Selector::Spki => match X509Certificate::from_der(der) {
                Ok((_, cert)) => cert.public_key().raw.to_vec(),
                Err(_) => return false,
            },
            Selector::Other(_) => return false,
        };
        self.matching
            .digest(&selected)
            .is_some_and(|digest| digest == self.data)
    }

    /// Whether an SMTP sender would accept `chain` (leaf first, as served)
    /// by this record: DANE-EE against the leaf, DANE-TA against a
    /// certificate above it. Names and dates are the sender's other checks
    /// (none for DANE-EE, RFC 7672 §3.1.1).
    pub fn matches_chain(&self, chain: &[Vec<u8>]) -> bool {
        match self.usage {
            Usage::DaneEe => chain
                .first()
                .is_some_and(|leaf| self.matches_certificate(leaf)),
            Usage::DaneTa => chain.iter().skip(1).any(|ca| self.matches_certificate(ca)),
            _ => false,
        }
    }
}

/// The owner name of a service's TLSA records: `_25._tcp.mx1.contoso.com.`
pub fn owner_name(port: u16, host: &str) -> String {
    format!(
        "_{port}._tcp.{}.",
        host.trim_end_matches('.').to_ascii_lowercase()
    )
}

/// One line of a zone file.
pub fn zone_line(owner: &str, tlsa: &Tlsa) -> String {
    format!("{owner} IN TLSA {}", tlsa.rdata_text())
}

/// A record with its owner, for printing and JSON.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NamedTlsa {
    pub name: String,
    pub usage: u8,
    pub selector: u8,
    pub matching: u8,
    pub data: String,
}

impl NamedTlsa {
    pub fn new(name: &str, tlsa: &Tlsa) -> NamedTlsa {
        NamedTlsa {
            name: name.to_string(),
            usage: tlsa.usage.number(),
            selector: tlsa.selector.number(),
            matching: tlsa.matching.number(),
            data: tlsa.data_hex(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_and_print_round_trip() {
        let text = "3 1 1 ab cd EF01";
        let tlsa = Tlsa::parse(text).unwrap();
        assert_eq!(tlsa.usage, Usage::DaneEe);
        assert_eq!(tlsa.rdata_text(), "3 1 1 ABCDEF01");
        assert_eq!(Tlsa::parse("3 1 1 abc"), None);
        assert_eq!(Tlsa::parse("3 1"), None);
        assert_eq!(Tlsa::parse("3 1 1 zz"), None);
    }

    #[test]
    fn owner_names_are_absolute_and_lower_case() {
        assert_eq!(
            owner_name(25, "MX1.Contoso.com."),
            "_25._tcp.mx1.contoso.com."
        );
    }

    #[test]
    fn usages_0_and_1_are_not_for_smtp() {
        assert!(!Usage::PkixTa.usable_for_smtp());
        assert!(!Usage::PkixEe.usable_for_smtp());
        assert!(Usage::DaneTa.usable_for_smtp());
        assert!(Usage::DaneEe.usable_for_smtp());
    }
}
