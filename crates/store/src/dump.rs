//! Everything a store holds, in the clear, for `mailcert store copy`:
//! read from one store with [`crate::Store::dump`], written to another
//! with [`crate::Store::restore`] in one transaction (private keys are
//! sealed again with the target's key), then compared.

use crate::model::{AnchorRecord, AuditEntry, Binding, CertRecord, PendingRecord};

/// The whole content of a store. Node heartbeats are not part of it: each
/// running node writes its own again.
#[derive(Debug, Clone, Default)]
pub struct StoreDump {
    pub certificates: Vec<DumpedCertificate>,
    /// Certificates of chains (intermediates, roots), by thumbprint.
    pub chain_certs: Vec<(String, Vec<u8>)>,
    pub pending: Vec<DumpedPending>,
    pub bindings: Vec<DumpedBinding>,
    pub anchors: Vec<AnchorRecord>,
    pub values: Vec<DumpedValue>,
    pub audit: Vec<AuditEntry>,
    pub generation: i64,
}

#[derive(Debug, Clone)]
pub struct DumpedCertificate {
    pub record: CertRecord,
    /// PKCS#8 DER, decrypted.
    pub private_key: Option<Vec<u8>>,
}

#[derive(Debug, Clone)]
pub struct DumpedPending {
    pub record: PendingRecord,
    /// PKCS#8 DER, decrypted.
    pub private_key: Vec<u8>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DumpedBinding {
    pub binding: Binding,
    pub created_at: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DumpedValue {
    pub key: String,
    /// Decrypted when it was secret.
    pub value: Vec<u8>,
    pub secret: bool,
}

impl StoreDump {
    /// Nothing in it (a fresh store's bookkeeping aside).
    pub fn is_empty(&self) -> bool {
        self.certificates.is_empty()
            && self.chain_certs.is_empty()
            && self.pending.is_empty()
            && self.bindings.is_empty()
            && self.anchors.is_empty()
            && self.values.is_empty()
            && self.audit.is_empty()
    }

    /// "3 certificates, 1 pending request, …" for messages.
    pub fn counts(&self) -> String {
        let part =
            |n: usize, one: &str, many: &str| format!("{n} {}", if n == 1 { one } else { many });
        [
            part(self.certificates.len(), "certificate", "certificates"),
            part(self.pending.len(), "pending request", "pending requests"),
            part(self.bindings.len(), "binding", "bindings"),
            part(self.anchors.len(), "trust anchor", "trust anchors"),
            part(self.values.len(), "named value", "named values"),
            part(self.audit.len(), "audit entry", "audit entries"),
        ]
        .join(", ")
    }

    /// What differs between two dumps (empty: the same content), naming
    /// the records.
    pub fn differences(&self, other: &StoreDump) -> Vec<String> {
        let mut out = Vec::new();
        let certs = |d: &StoreDump| {
            let mut v: Vec<_> = d
                .certificates
                .iter()
                .map(|c| {
                    (
                        c.record.summary.thumbprint.clone(),
                        c.record.der.clone(),
                        c.record.chain.clone(),
                        c.private_key.clone(),
                        c.record.exportable,
                        c.record.friendly_name.clone(),
                        c.record.origin,
                        c.record.trust.encode(),
                        c.record.created_at,
                    )
                })
                .collect();
            v.sort_by(|a, b| a.0.cmp(&b.0));
            v
        };
        compare(&mut out, "certificates", certs(self), certs(other), |c| {
            c.0.clone()
        });
        let mut chains = (self.chain_certs.clone(), other.chain_certs.clone());
        chains.0.sort();
        chains.1.sort();
        compare(&mut out, "chain certificates", chains.0, chains.1, |c| {
            c.0.clone()
        });
        let pending = |d: &StoreDump| {
            let mut v: Vec<_> = d
                .pending
                .iter()
                .map(|p| {
                    (
                        p.record.id.clone(),
                        p.record.csr_der.clone(),
                        p.private_key.clone(),
                        p.record.renews.clone(),
                        p.record.created_at,
                    )
                })
                .collect();
            v.sort_by(|a, b| a.0.cmp(&b.0));
            v
        };
        compare(
            &mut out,
            "pending requests",
            pending(self),
            pending(other),
            |p| p.0.clone(),
        );
        let bindings = |d: &StoreDump| {
            let mut v = d.bindings.clone();
            v.sort_by(|a, b| a.binding.cmp(&b.binding));
            v
        };
        compare(&mut out, "bindings", bindings(self), bindings(other), |b| {
            format!("{} {}", b.binding.thumbprint, b.binding.service)
        });
        let anchors = |d: &StoreDump| {
            let mut v: Vec<_> = d
                .anchors
                .iter()
                .map(|a| (a.thumbprint.clone(), a.der.clone(), a.source.clone()))
                .collect();
            v.sort();
            v
        };
        compare(
            &mut out,
            "trust anchors",
            anchors(self),
            anchors(other),
            |a| a.0.clone(),
        );
        let values = |d: &StoreDump| {
            let mut v = d.values.clone();
            v.sort_by(|a, b| a.key.cmp(&b.key));
            v
        };
        compare(&mut out, "named values", values(self), values(other), |v| {
            v.key.clone()
        });
        let audit = |d: &StoreDump| {
            d.audit
                .iter()
                .map(|a| {
                    (
                        a.id,
                        a.at,
                        a.user.clone(),
                        a.action.clone(),
                        a.detail.clone(),
                        a.node.clone(),
                    )
                })
                .collect::<Vec<_>>()
        };
        compare(&mut out, "audit entries", audit(self), audit(other), |a| {
            format!("#{}", a.0)
        });
        out
    }
}

fn compare<T: PartialEq>(
    out: &mut Vec<String>,
    what: &str,
    left: Vec<T>,
    right: Vec<T>,
    name: impl Fn(&T) -> String,
) {
    if left.len() != right.len() {
        out.push(format!(
            "{what}: {} in the source, {} in the copy",
            left.len(),
            right.len()
        ));
        return;
    }
    if let Some((l, _)) = left.iter().zip(&right).find(|(l, r)| l != r) {
        out.push(format!("{what}: {} differs", name(l)));
    }
}
