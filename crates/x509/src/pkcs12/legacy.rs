//! The legacy PFX layout, as `openssl pkcs12 -export -legacy` writes it and
//! Windows Server 2012 R2 and older expect: the certificates in an
//! EncryptedData with pbeWithSHAAnd40BitRC2-CBC, the key in a shrouded key
//! bag with pbeWithSHAAnd3-KeyTripleDES-CBC, an HMAC-SHA1 MAC, 2048
//! iterations each (OpenSSL's figures).
//!
//! p12-keystore encrypts both with one algorithm. So the file is written
//! twice, once with RC2-40 and once with 3DES, and the certificate safe of
//! the first and the key safe of the second go into one AuthenticatedSafe.
//! Each safe carries its own salt and parameters, so both stay readable
//! with the password; only the MAC, which covers the whole
//! AuthenticatedSafe, is computed again: the PKCS#12 KDF of the pkcs12
//! crate (RFC 7292 appendix B, ID 3) and HMAC-SHA1.

use cms::content_info::ContentInfo;
use der::asn1::{ObjectIdentifier, OctetString};
use der::{Any, Decode, Encode};
use hmac::{Hmac, KeyInit, Mac};
use p12_keystore::{EncryptionAlgorithm, KeyStore, MacAlgorithm};
use pkcs12::kdf::{derive_key_utf8, Pkcs12KeyType};
use pkcs12::Pfx;
use sha1::Sha1;

use crate::error::CertError;

const ITERATIONS: u32 = 2048;
const MAC_SALT_LEN: usize = 8;
const SHA1_LEN: usize = 20;
const ID_DATA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.7.1");
const ID_ENCRYPTED_DATA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.7.6");

fn failed(reason: impl std::fmt::Display) -> CertError {
    CertError::Generate {
        what: "the legacy PKCS#12 file".into(),
        reason: reason.to_string(),
    }
}

/// Writes `store` in the legacy layout.
pub(super) fn write(store: &KeyStore, password: &str) -> Result<Vec<u8>, CertError> {
    let written = |algorithm| {
        store
            .writer(password)
            .encryption_algorithm(algorithm)
            .encryption_iterations(ITERATIONS)
            .mac_algorithm(MacAlgorithm::HmacSha1)
            .mac_iterations(ITERATIONS)
            .write()
            .map_err(failed)
    };
    // Named "Rc4" in p12-keystore, but written with the RC2-40 OID
    // (1.2.840.113549.1.12.1.6); the tests check what OpenSSL reads.
    let rc2 = written(EncryptionAlgorithm::PbeWithShaAnd40BitRc4Cbc)?;
    let des = written(EncryptionAlgorithm::PbeWithShaAnd3KeyTripleDesCbc)?;

    let mut pfx = Pfx::from_der(&rc2).map_err(failed)?;
    let certificates = safe(&pfx, ID_ENCRYPTED_DATA)?;
    let key = safe(&Pfx::from_der(&des).map_err(failed)?, ID_DATA)?;
    let content = vec![certificates, key].to_der().map_err(failed)?;

    let mut salt = [0u8; MAC_SALT_LEN];
    aws_lc_rs::rand::fill(&mut salt).map_err(|_| failed("no random bytes for the MAC salt"))?;
    let mac_key = derive_key_utf8::<Sha1>(
        password,
        &salt,
        Pkcs12KeyType::Mac,
        ITERATIONS as i32,
        SHA1_LEN,
    )
    .map_err(failed)?;
    let mut mac = Hmac::<Sha1>::new_from_slice(&mac_key).map_err(failed)?;
    mac.update(&content);
    let digest = mac.finalize().into_bytes();

    // The RC2 file's MacData already names SHA-1: only its values change.
    let mac_data = pfx
        .mac_data
        .as_mut()
        .ok_or_else(|| failed("the file was written without a MAC"))?;
    mac_data.mac.digest = OctetString::new(digest.to_vec()).map_err(failed)?;
    mac_data.mac_salt = OctetString::new(salt.to_vec()).map_err(failed)?;
    mac_data.iterations = ITERATIONS as i32;
    pfx.auth_safe.content =
        Any::encode_from(&OctetString::new(content).map_err(failed)?).map_err(failed)?;
    pfx.to_der().map_err(failed)
}

/// The safe of one content type (the certificates are in the encrypted
/// one, the shrouded key in the plain one) from a PFX p12-keystore wrote.
fn safe(pfx: &Pfx, content_type: ObjectIdentifier) -> Result<ContentInfo, CertError> {
    let content = pfx
        .auth_safe
        .content
        .decode_as::<OctetString>()
        .map_err(failed)?;
    Vec::<ContentInfo>::from_der(content.as_bytes())
        .map_err(failed)?
        .into_iter()
        .find(|s| s.content_type == content_type)
        .ok_or_else(|| failed(format!("no safe of type {content_type}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chain::tests::pki;
    use crate::pkcs12::{read_pfx, write_pfx, PfxForm};
    use cms::encrypted_data::EncryptedData;
    use pkcs12::pbe_params::EncryptedPrivateKeyInfo;
    use pkcs12::safe_bag::SafeContents;

    const RC2_40: &str = "1.2.840.113549.1.12.1.6";
    const TRIPLE_DES: &str = "1.2.840.113549.1.12.1.3";
    const SHROUDED_KEY_BAG: &str = "1.2.840.113549.1.12.10.1.2";
    const SHA1: &str = "1.3.14.3.2.26";

    #[test]
    fn certificates_rc2_key_triple_des_mac_sha1() {
        let pki = pki();
        let (leaf, key) = (&pki[0].0, pki[0].1.serialize_der());
        let chain = vec![pki[1].0.clone(), pki[2].0.clone()];
        let pfx = write_pfx(leaf, &key, &chain, "pw", PfxForm::Legacy, "mail").unwrap();

        let parsed = Pfx::from_der(&pfx).unwrap();
        let mac = parsed.mac_data.as_ref().expect("a MAC");
        assert_eq!(mac.mac.algorithm.oid.to_string(), SHA1);
        assert_eq!(mac.iterations, 2048);
        let content = parsed.auth_safe.content.decode_as::<OctetString>().unwrap();
        let safes = Vec::<ContentInfo>::from_der(content.as_bytes()).unwrap();
        assert_eq!(safes.len(), 2, "one certificate safe, one key safe");

        assert_eq!(safes[0].content_type, ID_ENCRYPTED_DATA);
        let certificates = safes[0].content.decode_as::<EncryptedData>().unwrap();
        let algorithm = &certificates.enc_content_info.content_enc_alg;
        assert_eq!(algorithm.oid.to_string(), RC2_40);

        assert_eq!(safes[1].content_type, ID_DATA);
        let bags = safes[1].content.decode_as::<OctetString>().unwrap();
        let bags = SafeContents::from_der(bags.as_bytes()).unwrap();
        assert_eq!(bags.len(), 1);
        assert_eq!(bags[0].bag_id.to_string(), SHROUDED_KEY_BAG);
        // The bag value keeps its [0] EXPLICIT wrapper.
        let shrouded =
            der::asn1::ContextSpecific::<EncryptedPrivateKeyInfo>::from_der(&bags[0].bag_value)
                .unwrap()
                .value;
        assert_eq!(shrouded.encryption_algorithm.oid.to_string(), TRIPLE_DES);

        // Spliced from two files, it still reads back whole, and the MAC
        // still tells a wrong password.
        let read = read_pfx(&pfx, "pw", "legacy.pfx").unwrap();
        assert_eq!(&read.leaf, leaf);
        assert_eq!(read.key.as_deref(), Some(key.as_slice()));
        assert_eq!(read.chain, chain);
        assert!(matches!(
            read_pfx(&pfx, "wrong", "legacy.pfx"),
            Err(CertError::WrongPassword { .. })
        ));
    }
}
