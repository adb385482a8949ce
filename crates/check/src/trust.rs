//! Trust anchors as the checker sees them: which roots a client trusts, and
//! whether each is a public one (the system's store) or one added for this
//! run (`--ca-file`, the store's own anchors). Public CA rules such as the
//! maximum validity only apply to chains that reach a public root.

use mailcert_x509::CertSummary;
use rustls_pki_types::{CertificateDer, TrustAnchor};

use crate::error::CheckError;

/// Where a trust anchor comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// A root every client has: the operating system's store.
    Public,
    /// A root given for this run (`--ca-file`, the store's anchors): a
    /// private CA, trusted only by clients that were given it too.
    Private,
}

/// One trusted certificate.
#[derive(Debug, Clone)]
pub struct Anchor {
    pub der: Vec<u8>,
    pub summary: CertSummary,
    pub origin: Origin,
    pub(crate) anchor: TrustAnchor<'static>,
}

/// The set of anchors one run trusts.
#[derive(Debug, Clone, Default)]
pub struct TrustStore {
    anchors: Vec<Anchor>,
}

impl TrustStore {
    /// No anchors at all (tests; `--no-system-roots`).
    pub fn empty() -> TrustStore {
        TrustStore::default()
    }

    /// The operating system's roots, as public anchors. Unreadable entries
    /// are skipped, as every TLS client does.
    pub fn system() -> TrustStore {
        let mut store = TrustStore::empty();
        let native = rustls_native_certs::load_native_certs();
        for cert in native.certs {
            let _ = store.add(cert.as_ref(), Origin::Public, "the system trust store");
        }
        store
    }

    /// Adds one certificate as a trust anchor. `what` names its source in
    /// errors (a file name).
    pub fn add(&mut self, der: &[u8], origin: Origin, what: &str) -> Result<(), CheckError> {
        if self.contains(der) {
            return Ok(());
        }
        let summary = CertSummary::from_der(der).map_err(|e| CheckError::BadAnchor {
            what: what.to_string(),
            reason: e.to_string(),
        })?;
        let cert = CertificateDer::from(der);
        let anchor = webpki::anchor_from_trusted_cert(&cert)
            .map_err(|e| CheckError::BadAnchor {
                what: what.to_string(),
                reason: format!("{e:?}"),
            })?
            .to_owned();
        self.anchors.push(Anchor {
            der: der.to_vec(),
            summary,
            origin,
            anchor,
        });
        Ok(())
    }

    /// Adds every certificate of a file's contents: PEM, DER, or PKCS#7
    /// (`.p7b` in PEM, DER or BER), as `mailcert trust` and `complete`
    /// read them.
    pub fn add_pem(&mut self, bytes: &[u8], origin: Origin, what: &str) -> Result<(), CheckError> {
        let ders = mailcert_x509::bundle::read_certificates(bytes, what).map_err(|e| {
            CheckError::BadAnchor {
                what: what.to_string(),
                reason: e.to_string(),
            }
        })?;
        for der in ders {
            self.add(&der, origin, what)?;
        }
        Ok(())
    }

    pub fn anchors(&self) -> &[Anchor] {
        &self.anchors
    }

    pub fn is_empty(&self) -> bool {
        self.anchors.is_empty()
    }

    pub fn len(&self) -> usize {
        self.anchors.len()
    }

    /// webpki anchors of the entries `keep` selects.
    pub(crate) fn webpki_anchors(&self, keep: impl Fn(&Anchor) -> bool) -> Vec<TrustAnchor<'_>> {
        self.anchors
            .iter()
            .filter(|a| keep(a))
            .map(|a| a.anchor.clone())
            .collect()
    }

    /// Is this exact certificate an anchor?
    pub(crate) fn contains(&self, der: &[u8]) -> bool {
        self.anchors.iter().any(|a| a.der == der)
    }
}
