//! Records the store keeps, and the changes it applies atomically.

use mailcert_x509::{CertSummary, Service, Trust};
use time::OffsetDateTime;

/// Where a certificate came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// Made and self-signed by this store (`init`, `new --self-signed`).
    SelfSigned,
    /// A completed pending request.
    Issued,
    Imported,
    Acme,
}

impl Origin {
    pub fn as_str(self) -> &'static str {
        match self {
            Origin::SelfSigned => "self-signed",
            Origin::Issued => "issued",
            Origin::Imported => "imported",
            Origin::Acme => "acme",
        }
    }

    pub fn parse(text: &str) -> Option<Origin> {
        Some(match text {
            "self-signed" => Origin::SelfSigned,
            "issued" => Origin::Issued,
            "imported" => Origin::Imported,
            "acme" => Origin::Acme,
            _ => return None,
        })
    }
}

/// A certificate in the store (its private key stays encrypted until
/// asked for with `Store::private_key`).
#[derive(Debug, Clone)]
pub struct CertRecord {
    pub summary: CertSummary,
    pub der: Vec<u8>,
    /// Thumbprints of the chain above the leaf, issuer first.
    pub chain: Vec<String>,
    pub has_private_key: bool,
    pub exportable: bool,
    pub friendly_name: Option<String>,
    pub origin: Origin,
    pub trust: Trust,
    pub created_at: OffsetDateTime,
    /// Insertion order in the store: breaks ties between certificates
    /// made in the same second.
    pub seq: i64,
}

/// A key and CSR waiting for the CA's answer.
#[derive(Debug, Clone)]
pub struct PendingRecord {
    /// SHA-1 of the CSR DER, upper-case hex: selects it like a thumbprint.
    pub id: String,
    pub csr_der: Vec<u8>,
    pub subject: String,
    pub names: Vec<String>,
    pub key_type: String,
    /// DER of the SubjectPublicKeyInfo, to match the CA's answer.
    pub spki_der: Vec<u8>,
    pub exportable: bool,
    pub friendly_name: Option<String>,
    /// The certificate this request renews, if any.
    pub renews: Option<String>,
    pub created_at: OffsetDateTime,
}

/// A certificate bound to a service, for every listener of that service
/// (`listener: None`) or one listener, on every node of the fleet
/// (`node: None`) or one node.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Binding {
    pub thumbprint: String,
    pub service: Service,
    pub listener: Option<String>,
    pub node: Option<String>,
}

impl Binding {
    /// A fleet-wide binding to every listener of `service`.
    pub fn new(thumbprint: impl Into<String>, service: Service) -> Binding {
        Binding {
            thumbprint: thumbprint.into(),
            service,
            listener: None,
            node: None,
        }
    }

    /// Whether this binding applies on `node` (fleet-wide ones apply
    /// everywhere; with no node given, only fleet-wide ones do).
    pub fn applies_to_node(&self, node: Option<&str>) -> bool {
        match &self.node {
            None => true,
            Some(own) => node.is_some_and(|n| n.eq_ignore_ascii_case(own)),
        }
    }
}

/// An extra trust anchor of the store (enterprise root, private CA root).
#[derive(Debug, Clone)]
pub struct AnchorRecord {
    pub thumbprint: String,
    pub subject: String,
    pub der: Vec<u8>,
    pub source: String,
    pub added_at: OffsetDateTime,
}

/// One line of the audit log.
#[derive(Debug, Clone)]
pub struct AuditEntry {
    pub id: i64,
    pub at: OffsetDateTime,
    pub user: String,
    pub action: String,
    pub detail: String,
    /// The node (server) that made the change; empty when unknown.
    pub node: String,
}

/// What one node of the fleet serves, as it last reported it (its
/// heartbeat). Written by `serve`, read by `mailcert fleet`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct NodeRecord {
    pub node: String,
    /// Unix time of the heartbeat.
    pub last_seen: i64,
    /// The mailcert version the node runs.
    pub version: String,
    /// Seconds between heartbeats: three missed ones make the node silent.
    pub heartbeat_secs: u32,
    /// The store generation of the certificates the node serves.
    pub generation: i64,
    pub listeners: Vec<NodeListener>,
}

/// One listener of a node, and what it serves.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct NodeListener {
    pub listener: String,
    /// `https`, `imap`, `pop` or `smtp`.
    pub service: String,
    /// The listener's `certificate = ...` pin, if any.
    pub pin: Option<String>,
    /// What a client gets: `name: None` is the no-SNI default, then each
    /// name a bound certificate carries.
    pub serving: Vec<ServedName>,
}

/// The thumbprint served for one SNI name (`None`: no SNI).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ServedName {
    pub name: Option<String>,
    pub thumbprint: Option<String>,
}

/// A new certificate to store.
#[derive(Debug, Clone)]
pub struct NewCertificate {
    pub summary: CertSummary,
    pub der: Vec<u8>,
    /// DER of the chain above the leaf, issuer first. A self-signed root
    /// is never kept in it (backends drop it: `x509::chain::without_roots`).
    pub chain: Vec<Vec<u8>>,
    /// PKCS#8 DER; encrypted before it touches the disk.
    pub private_key: Option<Vec<u8>>,
    pub exportable: bool,
    pub friendly_name: Option<String>,
    pub origin: Origin,
    pub trust: Trust,
}

/// A new pending request to store.
#[derive(Debug, Clone)]
pub struct NewPending {
    pub record: PendingRecord,
    /// PKCS#8 DER; encrypted before it touches the disk.
    pub private_key: Vec<u8>,
}

/// One step of a change. A [`Change`] applies all its steps or none.
#[derive(Debug, Clone)]
pub enum Op {
    InsertCertificate(Box<NewCertificate>),
    DeleteCertificate(String),
    /// Replaces the chain (issuer first; a self-signed root is dropped)
    /// and the trust verdict.
    SetChain {
        thumbprint: String,
        chain: Vec<Vec<u8>>,
        trust: Trust,
    },
    SetTrust {
        thumbprint: String,
        trust: Trust,
    },
    /// Gives a stored certificate the private key it lacked (an import
    /// that brings the key of a certificate already in the store).
    SetPrivateKey {
        thumbprint: String,
        /// PKCS#8 DER; encrypted before it touches the disk.
        private_key: Vec<u8>,
        exportable: bool,
    },
    Bind(Binding),
    Unbind(Binding),
    InsertPending(Box<NewPending>),
    DeletePending(String),
    AddAnchor {
        der: Vec<u8>,
        subject: String,
        source: String,
    },
    RemoveAnchor(String),
    /// A small named value (settings, CA and ACME state); `None` deletes.
    SetValue {
        key: String,
        value: Option<Vec<u8>>,
        /// Encrypted at rest with the store key (CA and account keys).
        secret: bool,
    },
    /// A guard: the whole change is refused (nothing applied) unless the
    /// named value currently equals `value` (`None`: absent). With
    /// `SetValue` in the same change this is a compare-and-set, which is
    /// how several processes sharing one store take a lease (ACME renewal).
    ExpectValue {
        key: String,
        value: Option<Vec<u8>>,
    },
}

/// Everything one command changes, applied in one transaction and
/// recorded in the audit log.
#[derive(Debug, Clone)]
pub struct Change {
    pub action: String,
    pub detail: String,
    pub user: String,
    /// The node (server) making the change, for the audit log.
    pub node: String,
    pub ops: Vec<Op>,
    /// Whether committing it raises the store generation, which makes
    /// every front end sharing the store reload its certificates. Only
    /// [`Change::bookkeeping`] clears it.
    pub reloads: bool,
}

impl Change {
    pub fn new(action: impl Into<String>, user: impl Into<String>) -> Self {
        Change {
            action: action.into(),
            detail: String::new(),
            user: user.into(),
            node: String::new(),
            ops: Vec::new(),
            reloads: true,
        }
    }

    /// A change of named values that nothing served depends on (console
    /// sessions and accounts, the record of which events already fired):
    /// committed and audited like any other, but it leaves the store
    /// generation alone, so no front end reloads its certificates for it.
    /// The store refuses one that holds anything but `SetValue` and
    /// `ExpectValue` steps.
    pub fn bookkeeping(action: impl Into<String>, user: impl Into<String>) -> Self {
        Change {
            reloads: false,
            ..Change::new(action, user)
        }
    }

    /// Why this change may not be committed as it is: a bookkeeping
    /// change that would alter what is served.
    pub fn ensure_consistent(&self) -> crate::Result<()> {
        if self.reloads {
            return Ok(());
        }
        let serving = self
            .ops
            .iter()
            .any(|op| !matches!(op, Op::SetValue { .. } | Op::ExpectValue { .. }));
        if serving {
            return Err(crate::StoreError::Refused(format!(
                "change '{}' is bookkeeping (it does not reload the front ends), yet changes certificates, bindings, requests or anchors; make it with Change::new",
                self.action
            )));
        }
        Ok(())
    }

    /// Records which node makes the change.
    pub fn on_node(mut self, node: impl Into<String>) -> Self {
        self.node = node.into();
        self
    }

    pub fn push(&mut self, op: Op) -> &mut Self {
        self.ops.push(op);
        self
    }

    pub fn describe(&mut self, line: impl AsRef<str>) -> &mut Self {
        if !self.detail.is_empty() {
            self.detail.push_str("; ");
        }
        self.detail.push_str(line.as_ref());
        self
    }
}
