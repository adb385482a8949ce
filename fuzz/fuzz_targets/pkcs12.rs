//! PKCS#12 files (`.pfx`, `.p12`) as `import` reads them, with the
//! password the seeds were written with ("fuzz"), so that the fuzzer
//! reaches what lies behind the MAC and the encryption; the seeds include
//! files without a MAC and without encryption for the same reason.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(contents) = mailcert_x509::pkcs12::read_pfx(data, "fuzz", "fuzz") {
        mailcert_x509::CertSummary::from_der(&contents.leaf)
            .expect("the leaf of a PFX that was read parses");
        if let Some(key) = &contents.key {
            let _ = mailcert_x509::keys::read_key(key);
        }
    }
});
