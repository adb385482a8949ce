//! Certificate requests as `ca sign` reads them (PEM, Windows' NEW
//! CERTIFICATE REQUEST, DER), signature checked.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(der) = mailcert_x509::csr::decode_request(data, "fuzz") {
        let _ = mailcert_x509::csr::read_request(&der, "fuzz");
    }
});
