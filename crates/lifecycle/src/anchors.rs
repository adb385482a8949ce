//! Trust anchors: the system's roots plus the store's own (enterprise
//! roots added with `trust add`, the private CA's root).

use mailcert_store::Store;
use mailcert_x509::webpki;
use rustls_pki_types::{CertificateDer, TrustAnchor};

use crate::error::Result;

/// Owned trust anchors, ready for rustls-webpki.
pub struct Anchors {
    pub anchors: Vec<TrustAnchor<'static>>,
}

impl Anchors {
    /// System roots (from the OS store; unreadable entries are skipped,
    /// as every TLS client does) plus the store's anchors.
    pub fn load(store: &dyn Store) -> Result<Anchors> {
        let mut anchors = Vec::new();
        let native = rustls_native_certs::load_native_certs();
        for cert in native.certs {
            if let Ok(anchor) = webpki::anchor_from_trusted_cert(&cert) {
                anchors.push(anchor.to_owned());
            }
        }
        let mut out = Anchors { anchors };
        out.extend(store.anchors()?.iter().map(|a| a.der.as_slice()));
        Ok(out)
    }

    /// Only the given certificates (tests, `--ca-file`).
    pub fn from_ders<'a>(ders: impl IntoIterator<Item = &'a [u8]>) -> Anchors {
        let mut out = Anchors {
            anchors: Vec::new(),
        };
        out.extend(ders);
        out
    }

    pub fn extend<'a>(&mut self, ders: impl IntoIterator<Item = &'a [u8]>) {
        for der in ders {
            let cert = CertificateDer::from(der);
            if let Ok(anchor) = webpki::anchor_from_trusted_cert(&cert) {
                self.anchors.push(anchor.to_owned());
            }
        }
    }
}
