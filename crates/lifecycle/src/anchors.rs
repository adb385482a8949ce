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
        let mut out = Anchors::system();
        out.extend(store.anchors()?.iter().map(|a| a.der.as_slice()));
        Ok(out)
    }

    /// The anchors as they will be once `add` is added to the store's and
    /// the store anchors with thumbprints in `remove` are gone: to judge
    /// trust inside the change that modifies the anchors.
    pub fn load_changed(store: &dyn Store, add: &[Vec<u8>], remove: &[String]) -> Result<Anchors> {
        let mut out = Anchors::system();
        let kept: Vec<Vec<u8>> = store
            .anchors()?
            .into_iter()
            .filter(|a| !remove.contains(&a.thumbprint))
            .map(|a| a.der)
            .collect();
        out.extend(kept.iter().chain(add).map(Vec::as_slice));
        Ok(out)
    }

    /// The operating system's roots only.
    pub fn system() -> Anchors {
        let mut anchors = Vec::new();
        let native = rustls_native_certs::load_native_certs();
        for cert in native.certs {
            if let Ok(anchor) = webpki::anchor_from_trusted_cert(&cert) {
                anchors.push(anchor.to_owned());
            }
        }
        Anchors { anchors }
    }

    /// Only the given certificates (tests, `--ca-file`).
    pub fn from_ders<'a>(ders: impl IntoIterator<Item = &'a [u8]>) -> Anchors {
        let mut out = Anchors {
            anchors: Vec::new(),
        };
        out.extend(ders);
        out
    }

    /// Is `name_der` (a full Name, as in `CertSummary::issuer_raw`) the
    /// subject of one of these anchors?
    pub fn has_subject(&self, name_der: &[u8]) -> bool {
        let inner = strip_header(name_der);
        self.anchors.iter().any(|a| a.subject.as_ref() == inner)
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

/// The contents of a DER element (its tag and length removed).
fn strip_header(der: &[u8]) -> &[u8] {
    let Some(&first) = der.get(1) else {
        return der;
    };
    let start = if first < 0x80 {
        2
    } else {
        2 + usize::from(first & 0x7f)
    };
    der.get(start..).unwrap_or(der)
}
