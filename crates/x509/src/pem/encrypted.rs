//! Password-protected private keys: encrypted PKCS#8 (PBES2 with PBKDF2
//! or scrypt and AES), with the cost of the key derivation bounded before
//! it runs.

use super::{decode_private_key, first_block, is_encrypted_key, looks_like_pem, Malformed};
use crate::error::CertError;

/// The private key in `bytes`, decrypted with `password` when it is an
/// encrypted PKCS#8 key (PBES2 with PBKDF2 or scrypt and AES, what
/// `openssl pkey -aes256` and OpenSSL 3 write); a key that is not
/// encrypted is returned as [`decode_private_key`] reads it.
pub fn decrypt_private_key(bytes: &[u8], what: &str, password: &str) -> Result<Vec<u8>, CertError> {
    if !is_encrypted_key(bytes) {
        return decode_private_key(bytes, what);
    }
    let bad = |reason: &str| CertError::BadKey {
        what: what.into(),
        reason: reason.into(),
    };
    let der = if looks_like_pem(bytes) {
        if String::from_utf8_lossy(bytes).contains("Proc-Type: 4,ENCRYPTED") {
            return Err(bad(
                "it is in OpenSSL's traditional encrypted form (Proc-Type: 4,ENCRYPTED), which is not read; convert it with: openssl pkcs8 -topk8 -v2 aes-256-cbc -in KEY -out key.p8",
            ));
        }
        match first_block(bytes, "ENCRYPTED PRIVATE KEY") {
            Some(Ok(der)) => der,
            None | Some(Err(Malformed::Truncated)) => return Err(bad(
                "the ENCRYPTED PRIVATE KEY block has no END line (truncated); copy the whole file again",
            )),
            Some(Err(_)) => return Err(bad(
                "the ENCRYPTED PRIVATE KEY block is damaged; copy the whole file again",
            )),
        }
    } else {
        bytes.to_vec()
    };
    let info = pkcs8::EncryptedPrivateKeyInfoRef::try_from(der.as_slice())
        .map_err(|_| bad("the encrypted key is damaged"))?;
    ensure_bounded_kdf(&info.encryption_algorithm).map_err(|reason| bad(&reason))?;
    let plain = info.decrypt(password).map_err(|e| match e {
        pkcs8::Error::EncryptedPrivateKey(pkcs8::pkcs5::Error::UnsupportedAlgorithm { .. })
        | pkcs8::Error::EncryptedPrivateKey(pkcs8::pkcs5::Error::NoPbes1CryptSupport) => bad(
            "its encryption scheme is not supported (PBES2 with AES is; OpenSSL 3 writes that by default); re-encrypt it with: openssl pkcs8 -topk8 -v2 aes-256-cbc -in KEY -out key.p8",
        ),
        // Parameters the key derivation or the cipher refuses (a salt or
        // key length out of range, scrypt r or p of 0 that slipped past the
        // checks above): the file is at fault, not the password.
        pkcs8::Error::EncryptedPrivateKey(pkcs8::pkcs5::Error::AlgorithmParametersInvalid {
            oid,
        }) => bad(&format!(
            "its encryption parameters (algorithm {oid}) are invalid: the file is damaged; re-encrypt it with: openssl pkcs8 -topk8 -v2 aes-256-cbc -in KEY -out key.p8"
        )),
        _ => bad("the password does not decrypt it; check --password-file or MAILCERT_PASSWORD"),
    })?;
    let der = plain.as_bytes().to_vec();
    // A wrong password passes the padding check about once in 256 tries:
    // what comes out must still be a private key.
    if pkcs8::PrivateKeyInfoRef::try_from(der.as_slice()).is_err() {
        return Err(bad(
            "the password does not decrypt it; check --password-file or MAILCERT_PASSWORD",
        ));
    }
    Ok(der)
}

/// The most PBKDF2 iterations an encrypted key may ask for: OpenSSL writes
/// 2048 by default, the heaviest settings in use a few hundred thousand;
/// the same bound p12-keystore puts on PFX files.
pub const MAX_KDF_ITERATIONS: u32 = 1_000_000;

/// The most memory scrypt may ask for (128 · N · r bytes): OpenSSL's own
/// limit when it reads such a key (`openssl pkcs8 -scrypt` writes 16 MiB).
pub const MAX_SCRYPT_MEMORY: u64 = 32 * 1024 * 1024;

/// The key derivation's cost is the file's to choose: a file asking for
/// two billion iterations, or gigabytes of scrypt memory, would hold
/// `import` for hours or exhaust memory before the password is even
/// checked. Refused with the numbers and the fix (OpenSSL refuses such
/// scrypt settings too; it has no bound on PBKDF2 iterations).
fn ensure_bounded_kdf(scheme: &pkcs8::pkcs5::EncryptionScheme) -> Result<(), String> {
    use pkcs8::pkcs5::pbes2::Kdf;
    let Some(params) = scheme.pbes2() else {
        return Ok(());
    };
    let reencrypt = "re-encrypt it with: openssl pkcs8 -topk8 -v2 aes-256-cbc -in KEY -out key.p8";
    match &params.kdf {
        // RFC 8018 counts iterations from 1; 0 is a damaged file, which
        // would otherwise surface as a wrong password.
        Kdf::Pbkdf2(p) if p.iteration_count == 0 => Err(format!(
            "its key derivation (PBKDF2) has an iteration count of 0, which RFC 8018 does not allow: the file is damaged; {reencrypt}"
        )),
        Kdf::Pbkdf2(p) if p.iteration_count > MAX_KDF_ITERATIONS => Err(format!(
            "its key derivation asks for {} PBKDF2 iterations, more than the {MAX_KDF_ITERATIONS} accepted (it would take hours); {reencrypt}",
            p.iteration_count
        )),
        // pkcs5 panics on N = 0 (its log2 underflows), and RFC 7914 wants
        // a power of two above 1 anyway.
        Kdf::Scrypt(p) if p.cost_parameter < 2 || !p.cost_parameter.is_power_of_two() => {
            Err(format!(
                "its key derivation (scrypt) has the cost N={}, which is not a power of two above 1 (RFC 7914): the file is damaged; {reencrypt}",
                p.cost_parameter
            ))
        }
        Kdf::Scrypt(p) if p.block_size == 0 || p.parallelization == 0 => Err(format!(
            "its key derivation (scrypt) has r={} and p={}; RFC 7914 wants both above 0: the file is damaged; {reencrypt}",
            p.block_size, p.parallelization
        )),
        Kdf::Scrypt(p) => {
            let memory = 128u64
                .checked_mul(p.cost_parameter)
                .and_then(|m| m.checked_mul(u64::from(p.block_size)));
            if memory.is_none_or(|m| m > MAX_SCRYPT_MEMORY) || p.parallelization > 16 {
                Err(format!(
                    "its key derivation (scrypt N={}, r={}, p={}) asks for more memory or work than the {} MiB OpenSSL accepts; {reencrypt}",
                    p.cost_parameter,
                    p.block_size,
                    p.parallelization,
                    MAX_SCRYPT_MEMORY / 1024 / 1024
                ))
            } else {
                Ok(())
            }
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use der::Encode;
    use pkcs8::pkcs5::pbes2::{self, Kdf};
    use pkcs8::pkcs5::EncryptionScheme;

    /// An encrypted key whose derivation is set by `tune`; the encrypted
    /// data is never reached.
    fn encrypted_key(tune: impl FnOnce(&mut pbes2::Parameters)) -> Vec<u8> {
        let mut params = pbes2::Parameters::generate_pbkdf2_sha256_aes256cbc(1, &[7; 16], [9; 16])
            .expect("parameters");
        tune(&mut params);
        pkcs8::EncryptedPrivateKeyInfo {
            encryption_algorithm: EncryptionScheme::Pbes2(params),
            encrypted_data: der::asn1::OctetString::new(vec![0u8; 48]).expect("octets"),
        }
        .to_der()
        .expect("DER")
    }

    /// Found while writing the encrypted_key fuzz target: `import --key`
    /// of a file asking for 2^31 iterations ran for hours.
    #[test]
    fn a_key_derivation_the_file_makes_too_costly_is_refused_before_it_runs() {
        let huge = encrypted_key(|p| {
            if let Kdf::Pbkdf2(kdf) = &mut p.kdf {
                kdf.iteration_count = 0x7fff_ffff;
            }
        });
        let err = decrypt_private_key(&huge, "key.p8", "fuzz").unwrap_err();
        assert!(
            err.to_string().contains("2147483647 PBKDF2 iterations"),
            "{err}"
        );
        let scrypt = encrypted_key(|p| {
            p.kdf = Kdf::Scrypt(pbes2::ScryptParams {
                salt: (&[7u8; 16][..]).try_into().expect("salt"),
                cost_parameter: 1 << 20,
                block_size: 8,
                parallelization: 1,
                key_length: Some(32),
            });
        });
        let err = decrypt_private_key(&scrypt, "key.p8", "fuzz").unwrap_err();
        assert!(err.to_string().contains("N=1048576"), "{err}");
        // Found by the encrypted_key fuzz target: N = 0 made pkcs5 panic.
        for cost in [0, 1, 3, 1000] {
            let odd = encrypted_key(|p| {
                p.kdf = Kdf::Scrypt(pbes2::ScryptParams {
                    salt: (&[7u8; 16][..]).try_into().expect("salt"),
                    cost_parameter: cost,
                    block_size: 8,
                    parallelization: 1,
                    key_length: Some(32),
                });
            });
            let err = decrypt_private_key(&odd, "key.p8", "fuzz").unwrap_err();
            assert!(err.to_string().contains("not a power of two"), "{err}");
        }
        for (block_size, parallelization) in [(0, 1), (8, 0)] {
            let zero = encrypted_key(|p| {
                p.kdf = Kdf::Scrypt(pbes2::ScryptParams {
                    salt: (&[7u8; 16][..]).try_into().expect("salt"),
                    cost_parameter: 1 << 10,
                    block_size,
                    parallelization,
                    key_length: Some(32),
                });
            });
            let err = decrypt_private_key(&zero, "key.p8", "fuzz").unwrap_err();
            assert!(err.to_string().contains("damaged"), "{err}");
        }
        let no_iterations = encrypted_key(|p| {
            if let Kdf::Pbkdf2(kdf) = &mut p.kdf {
                kdf.iteration_count = 0;
            }
        });
        let err = decrypt_private_key(&no_iterations, "key.p8", "fuzz").unwrap_err();
        assert!(err.to_string().contains("iteration count of 0"), "{err}");
        // Within the bounds, the password is what decides.
        let fine = encrypted_key(|_| {});
        let err = decrypt_private_key(&fine, "key.p8", "fuzz").unwrap_err();
        assert!(err.to_string().contains("password"), "{err}");
    }

    #[test]
    fn an_encrypted_block_cut_or_damaged_says_so_and_any_wrapping_is_read() {
        let pem = crate::pem::to_pem("ENCRYPTED PRIVATE KEY", &encrypted_key(|_| {}));
        let refusal = |text: &str| {
            decrypt_private_key(text.as_bytes(), "key.pem", "fuzz")
                .unwrap_err()
                .to_string()
        };
        assert_eq!(
            refusal(&pem[..pem.len() - 30]),
            "key.pem is not a usable private key: the ENCRYPTED PRIVATE KEY block has no END line (truncated); copy the whole file again"
        );
        assert_eq!(
            refusal(&pem.replacen("MI", "M!", 1)),
            "key.pem is not a usable private key: the ENCRYPTED PRIVATE KEY block is damaged; copy the whole file again"
        );
        // CRLF, trailing spaces, another width: the password is what decides.
        let wrapped = ::pem::encode_config(
            &::pem::Pem::new("ENCRYPTED PRIVATE KEY", encrypted_key(|_| {})),
            ::pem::EncodeConfig::new().set_line_wrap(76),
        );
        for text in [pem.replace('\n', " \r\n"), wrapped] {
            assert!(
                refusal(&text).contains("the password does not decrypt it"),
                "{text}"
            );
        }
    }

    /// The input on which the encrypted_key fuzz target crashed after
    /// 4,137,250 executions, byte for byte: PBES2 with scrypt N = 0, on
    /// which pkcs5 0.8 panics ("should always fit") computing log2 N.
    const FUZZ_SCRYPT_COST_ZERO: &str = "-----BEGIN ENCRYPTED PRIVATE KEY-----
MIHjME4GCSqGSIb3DQEFDTBBMCAGCSsGAQQB2kcECzATBAi534gRz4PNRgIBAAIB
CAIBATAdBglghkgBZQMEASoEEAmjOouiJ5Xms9Y0lzEpPDEEgZAW2B+c8782N5uE
Zh9owmWwU7EHdYXHWUdWVEwO2y+geGDw3N5CR/hSg11FU5RLQGggJ8r/QRdBSa9n
Z86F7Uvyfs30yimYqdsD7fSc2QONm3GbMiBHCF76jneMiXyvAWAK8lnONgbgYMa2
PJ2jJ6CIWEq7CbdHc3seMCIoX8yQshyXs8/K8Wb671GBJxpX3OA=
-----END ENCRYPTED PRIVATE KEY-----
";

    #[test]
    fn the_fuzzed_key_with_scrypt_cost_zero_is_refused_as_damaged() {
        let err =
            decrypt_private_key(FUZZ_SCRYPT_COST_ZERO.as_bytes(), "key.p8", "fuzz").unwrap_err();
        let message = err.to_string();
        assert!(message.contains("key.p8"), "{message}");
        assert!(message.contains("N=0"), "{message}");
        assert!(message.contains("openssl pkcs8 -topk8"), "{message}");
    }
}
