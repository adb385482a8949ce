//! Certificate files as `complete`, `verify`, `trust add` and `import`
//! read them: PEM bundles, DER, PKCS#7 in PEM (the format is sniffed), and
//! then everything the commands read from each certificate.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mailcert_x509::{chain, pem, status, CertSummary};

fuzz_target!(|data: &[u8]| {
    let _ = pem::decode_certificates(data, "fuzz");
    let Ok(ders) = mailcert_x509::bundle::read_certificates(data, "fuzz") else {
        return;
    };
    assert!(!ders.is_empty(), "success means at least one certificate");
    for der in &ders {
        let summary = CertSummary::from_der(der).expect("read_certificates checked each one");
        let _ = summary.subject_cn();
        let _ = summary.issuer_cn();
        let _ = summary.renewal_names();
        let _ = summary.validity_days();
        let _ = status::certificate_warnings(&summary);
        let _ = mailcert_x509::cert::x509_version(der);
        let _ = mailcert_x509::cert::spki_description(&summary.spki_der);
        let _ = pem::certificate_pem(der);
    }
    let built = chain::build_chain(&ders[0], &ders);
    let _ = built.missing();
    if let Some(issuer) = ders.get(1) {
        let _ = chain::signed_by(&ders[0], issuer);
    }
});
