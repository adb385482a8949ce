//! PKCS#12 (`.pfx`, `.p12`) read and written with p12-keystore: OpenSSL 3's
//! default (AES-256-CBC, PBKDF2, HMAC-SHA256), the legacy form of older
//! Windows and `openssl pkcs12 -legacy` (3DES keys, RC2-40 certificates,
//! SHA-1 MAC; written by [`legacy`]), and BER-encoded files (converted to
//! DER first).

mod legacy;

use p12_keystore::{
    Certificate, EncryptionAlgorithm, KeyStore, KeyStoreEntry, MacAlgorithm, Pkcs12Archive,
    PrivateKey, PrivateKeyChain,
};

use crate::ber::ber_to_der;
use crate::cert::CertSummary;
use crate::chain::build_chain;
use crate::error::CertError;
use crate::keys::key_matches_spki;

/// What a PFX holds: the certificate that owns the key (or the only one),
/// its key, and every other certificate (chain candidates).
#[derive(Debug, Clone)]
pub struct PfxContents {
    pub leaf: Vec<u8>,
    /// PKCS#8 DER.
    pub key: Option<Vec<u8>>,
    /// The chain above the leaf, issuer first, built by issuer.
    pub chain: Vec<Vec<u8>>,
    pub missing_issuer: Option<String>,
    pub friendly_name: Option<String>,
}

/// Reads a PFX. Distinct errors: wrong password, truncated file, a key
/// that matches no certificate in it.
pub fn read_pfx(bytes: &[u8], password: &str, what: &str) -> Result<PfxContents, CertError> {
    let der = ber_to_der(bytes, what)?;
    let archive = Pkcs12Archive::from_pkcs12(&der, password).map_err(|e| classify(e, what))?;
    let certs: Vec<Vec<u8>> = archive
        .certs
        .iter()
        .map(|bag| bag.cert.as_der().to_vec())
        .collect();
    if certs.is_empty() {
        return Err(CertError::NoCertificate {
            what: what.into(),
            found: crate::sniff::FileKind::Pkcs12,
        });
    }
    let key_bag = archive.keys.first();
    let (leaf, key) = match key_bag {
        Some(bag) => {
            let key = bag.key.as_der().to_vec();
            let owner = certs.iter().find(|der| {
                CertSummary::from_der(der).is_ok_and(|s| key_matches_spki(&key, &s.spki_der))
            });
            match owner {
                Some(leaf) => (leaf.clone(), Some(key)),
                None => {
                    let first = CertSummary::from_der(&certs[0])?;
                    return Err(CertError::KeyMismatch {
                        what: what.into(),
                        thumbprint: first.thumbprint,
                    });
                }
            }
        }
        None => (leaf_of(&certs), None),
    };
    let built = build_chain(&leaf, &certs);
    Ok(PfxContents {
        friendly_name: key_bag.and_then(|b| b.friendly_name.clone()),
        missing_issuer: built.missing().map(str::to_string),
        chain: built.chain,
        leaf,
        key,
    })
}

/// Without a key: the certificate that issued none of the others.
fn leaf_of(certs: &[Vec<u8>]) -> Vec<u8> {
    let summaries: Vec<CertSummary> = certs
        .iter()
        .filter_map(|d| CertSummary::from_der(d).ok())
        .collect();
    summaries
        .iter()
        .zip(certs)
        .find(|(s, _)| {
            !summaries
                .iter()
                .any(|other| other != *s && other.issued_by(s))
        })
        .map(|(_, der)| der.clone())
        .unwrap_or_else(|| certs[0].clone())
}

fn classify(error: p12_keystore::error::Error, what: &str) -> CertError {
    use p12_keystore::error::Error as E;
    match error {
        E::MacError(_) => CertError::WrongPassword { what: what.into() },
        // Without a MAC, a wrong password shows as bad padding.
        E::UnpadError => CertError::WrongPassword { what: what.into() },
        E::DerError(e) => {
            let text = e.to_string();
            if text.contains("incomplete") || text.contains("length") || text.contains("truncat") {
                CertError::Truncated {
                    what: what.into(),
                    reason: text,
                }
            } else {
                CertError::BadInput {
                    what: what.into(),
                    reason: format!("not a readable PKCS#12 file ({text})"),
                }
            }
        }
        E::UnsupportedEncryptionScheme | E::UnsupportedMacAlgorithm => CertError::BadInput {
            what: what.into(),
            reason: format!("{error}: re-export it with AES-256 (openssl pkcs12 -export) or 3DES"),
        },
        other => CertError::BadInput {
            what: what.into(),
            reason: format!("not a readable PKCS#12 file ({other})"),
        },
    }
}

/// The form of a written PFX.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PfxForm {
    /// AES-256-CBC, PBKDF2, HMAC-SHA256 (OpenSSL 3's default).
    Modern,
    /// What `openssl pkcs12 -export -legacy` writes, for Windows Server
    /// 2012 R2 and older: certificates with pbeWithSHAAnd40BitRC2-CBC, the
    /// key with pbeWithSHAAnd3-KeyTripleDES-CBC, a SHA-1 MAC.
    Legacy,
}

/// Writes a PFX holding the key, the certificate and its chain.
pub fn write_pfx(
    leaf: &[u8],
    key: &[u8],
    chain: &[Vec<u8>],
    password: &str,
    form: PfxForm,
    friendly_name: &str,
) -> Result<Vec<u8>, CertError> {
    let failed = |e: p12_keystore::error::Error| CertError::Generate {
        what: "the PKCS#12 file".into(),
        reason: e.to_string(),
    };
    let mut certs = vec![Certificate::from_der(leaf).map_err(failed)?];
    for der in chain {
        certs.push(Certificate::from_der(der).map_err(failed)?);
    }
    let key = PrivateKey::from_der(key).map_err(failed)?;
    let local_key_id = crate::thumbprint::thumbprint(leaf).into_bytes();
    let mut store = KeyStore::new();
    store.add_entry(
        friendly_name,
        KeyStoreEntry::PrivateKeyChain(PrivateKeyChain::new(local_key_id, key, certs)),
    );
    match form {
        PfxForm::Modern => store
            .writer(password)
            .encryption_algorithm(EncryptionAlgorithm::PbeWithHmacSha256AndAes256)
            .mac_algorithm(MacAlgorithm::HmacSha256)
            .encryption_iterations(100_000)
            .mac_iterations(100_000)
            .write()
            .map_err(failed),
        PfxForm::Legacy => legacy::write(&store, password),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chain::tests::pki;

    #[test]
    fn round_trip_modern_and_legacy() {
        let pki = pki();
        let (leaf, key) = (&pki[0].0, pki[0].1.serialize_der());
        let chain = vec![pki[1].0.clone(), pki[2].0.clone()];
        for form in [PfxForm::Modern, PfxForm::Legacy] {
            let pfx = write_pfx(leaf, &key, &chain, "pw", form, "mail").unwrap();
            let read = read_pfx(&pfx, "pw", "test.pfx").unwrap();
            assert_eq!(&read.leaf, leaf);
            assert_eq!(read.key.as_deref(), Some(key.as_slice()));
            assert_eq!(read.chain, chain);
            assert!(matches!(
                read_pfx(&pfx, "wrong", "test.pfx"),
                Err(CertError::WrongPassword { .. })
            ));
            assert!(matches!(
                read_pfx(&pfx[..pfx.len() / 2], "pw", "test.pfx"),
                Err(CertError::Truncated { .. })
            ));
        }
    }

    #[test]
    fn a_key_of_another_certificate_is_named_as_such() {
        let pki = pki();
        let other_key = pki[1].1.serialize_der();
        let pfx = write_pfx(&pki[0].0, &other_key, &[], "pw", PfxForm::Modern, "x").unwrap();
        // The intermediate's key matches no certificate in this file.
        let err = read_pfx(&pfx, "pw", "mixed.pfx").unwrap_err();
        assert!(matches!(err, CertError::KeyMismatch { .. }), "{err}");
        assert!(err.to_string().contains("mixed.pfx"));
    }
}
