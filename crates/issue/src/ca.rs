//! The private CA: a root (and optionally an intermediate) whose keys live
//! in the store, encrypted; the root is a trust anchor of the store. It
//! signs requests as a careful CA does: the request's signature verified,
//! its SANs copied into fresh parameters (never its other extensions), the
//! request's public key certified, serverAuth EKU, key usage, SKI/AKI, a
//! random serial and an explicit validity.

use mailcert_lifecycle::{Anchors, LifecycleError, Manager, Report};
use mailcert_store::{Op, StoreError};
use mailcert_x509::build::{parse_subject, random_serial, server_params, ServerCertSpec};
use mailcert_x509::cert::spki_description;
use mailcert_x509::csr::read_request;
use mailcert_x509::keys::load_key;
use mailcert_x509::limits::APPLE_MAX_DAYS;
use mailcert_x509::{parse_name, CertError, CertSummary, KeyType, SubjectName};
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, SubjectPublicKeyInfo,
};
use thiserror::Error;
use time::Duration;

const ROOT_CERT: &str = "ca.root.cert";
const ROOT_KEY: &str = "ca.root.key";
const INTERMEDIATE_CERT: &str = "ca.intermediate.cert";
const INTERMEDIATE_KEY: &str = "ca.intermediate.key";

/// Validity of the root and the intermediate.
pub const ROOT_DAYS: i64 = 20 * 365;
pub const INTERMEDIATE_DAYS: i64 = 10 * 365;
/// Default validity of server certificates the CA signs.
pub const DEFAULT_DAYS: u32 = 365;

/// Why the private CA did not do what was asked. Nothing was changed.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum CaError {
    #[error("there is no private CA in this store yet; create it with `mailcert ca init`")]
    NotInitialised,
    #[error("the private CA already exists (root {root}); nothing changed. Its root: `mailcert ca root`")]
    AlreadyInitialised { root: String },
    #[error("{what}: {reason}")]
    Refused { what: String, reason: String },
    #[error(transparent)]
    Cert(#[from] CertError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Lifecycle(#[from] LifecycleError),
}

/// The CA as kept in the store: certificates (DER) and keys (PKCS#8).
pub struct PrivateCa {
    pub root: Vec<u8>,
    root_key: Vec<u8>,
    pub intermediate: Option<(Vec<u8>, Vec<u8>)>,
}

/// A certificate the CA signed, with the chain a server sends above it:
/// the intermediate when there is one, never the root (clients must have
/// it already: `mailcert ca root` distributes it).
pub struct Signed {
    pub certificate: Vec<u8>,
    pub chain: Vec<Vec<u8>>,
    pub summary: CertSummary,
    /// What clients will hold against the certificate, in their words
    /// (signed all the same: the administrator asked for it).
    pub warnings: Vec<String>,
}

fn generate_failed(what: &str, e: rcgen::Error) -> CaError {
    CaError::Cert(CertError::Generate {
        what: what.into(),
        reason: e.to_string(),
    })
}

fn ca_params(name: &str, days: i64, path_len: u8, manager: &Manager) -> CertificateParams {
    let mut params = CertificateParams::default();
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, name);
    params.distinguished_name = dn;
    params.is_ca = IsCa::Ca(BasicConstraints::Constrained(path_len));
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    params.not_before = manager.now() - Duration::hours(1);
    params.not_after = manager.now() + Duration::days(days);
    params.serial_number = Some(random_serial());
    params
}

impl PrivateCa {
    /// The CA of this store, if `ca init` was run.
    pub fn load(manager: &Manager) -> Result<Option<PrivateCa>, CaError> {
        let store = manager.store.as_ref();
        let (Some(root), Some(root_key)) = (store.value(ROOT_CERT)?, store.value(ROOT_KEY)?) else {
            return Ok(None);
        };
        let intermediate = match (
            store.value(INTERMEDIATE_CERT)?,
            store.value(INTERMEDIATE_KEY)?,
        ) {
            (Some(cert), Some(key)) => Some((cert, key)),
            _ => None,
        };
        Ok(Some(PrivateCa {
            root,
            root_key,
            intermediate,
        }))
    }

    /// The CA of this store, refused until `ca init` has run: what `ca sign`
    /// and `ca root` need.
    pub fn require(manager: &Manager) -> Result<PrivateCa, CaError> {
        PrivateCa::load(manager)?.ok_or(CaError::NotInitialised)
    }

    /// `ca init`: creates the root (and an intermediate), stores their keys
    /// encrypted and makes the root a trust anchor, in one change.
    pub fn init(manager: &mut Manager, name: &str, intermediate: bool) -> Result<Report, CaError> {
        if let Some(existing) = PrivateCa::load(manager)? {
            return Err(CaError::AlreadyInitialised {
                root: CertSummary::from_der(&existing.root)?.thumbprint,
            });
        }
        let name = name.trim();
        if name.is_empty() {
            return Err(CaError::Refused {
                what: "--name".into(),
                reason: "the CA's name is empty; give it a name clients will show, such as \"Contoso Root CA\"".into(),
            });
        }
        let root_key = KeyType::EcP384.generate()?;
        let root_params = ca_params(name, ROOT_DAYS, 1, manager);
        let root = root_params
            .self_signed(&root_key)
            .map_err(|e| generate_failed("the root certificate", e))?;
        let root_der = root.der().to_vec();
        let root_summary = CertSummary::from_der(&root_der)?;
        let mut ops = vec![
            Op::SetValue {
                key: ROOT_CERT.into(),
                value: Some(root_der.clone()),
                secret: false,
            },
            Op::SetValue {
                key: ROOT_KEY.into(),
                value: Some(root_key.serialize_der()),
                secret: true,
            },
            Op::AddAnchor {
                der: root_der.clone(),
                subject: root_summary.subject.clone(),
                source: "private CA (ca init)".into(),
            },
        ];
        let mut report = Report {
            thumbprint: Some(root_summary.thumbprint.clone()),
            ..Report::default()
        };
        report.say(format!(
            "created the private CA root {} ({}), valid until {}; it is now a trust anchor of this store",
            root_summary.thumbprint,
            root_summary.subject,
            mailcert_x509::time::rfc3339(root_summary.not_after)
        ));
        if intermediate {
            let key = KeyType::EcP384.generate()?;
            let mut params = ca_params(
                &format!("{name} Intermediate"),
                INTERMEDIATE_DAYS,
                0,
                manager,
            );
            params.use_authority_key_identifier_extension = true;
            let issuer = Issuer::from_ca_cert_der(&root_der.as_slice().into(), &root_key)
                .map_err(|e| generate_failed("the intermediate certificate", e))?;
            let cert = params
                .signed_by(&key, &issuer)
                .map_err(|e| generate_failed("the intermediate certificate", e))?;
            let summary = CertSummary::from_der(cert.der())?;
            report.say(format!(
                "created the intermediate {} ({}); it signs server certificates",
                summary.thumbprint, summary.subject
            ));
            ops.push(Op::SetValue {
                key: INTERMEDIATE_CERT.into(),
                value: Some(cert.der().to_vec()),
                secret: false,
            });
            ops.push(Op::SetValue {
                key: INTERMEDIATE_KEY.into(),
                value: Some(key.serialize_der()),
                secret: true,
            });
        }
        let anchors =
            Anchors::load_changed(manager.store.as_ref(), std::slice::from_ref(&root_der), &[])?;
        let (refresh, lines) = manager.refresh_ops(&anchors, &[], &[])?;
        ops.extend(refresh);
        let mut change = manager.change("ca init");
        change.describe(format!(
            "private CA created: root {} ({}){}",
            root_summary.thumbprint,
            root_summary.subject,
            if intermediate {
                " with an intermediate"
            } else {
                ""
            }
        ));
        for line in &lines {
            change.describe(line);
        }
        change.ops = ops;
        manager.store.apply(change)?;
        report.changed = true;
        report.lines.extend(lines);
        Ok(report)
    }

    /// The root certificate (DER).
    pub fn root(&self) -> &[u8] {
        &self.root
    }

    /// Signs a request (DER) for `days`: the CSR's signature verified, its
    /// SANs copied into fresh parameters, its public key certified.
    pub fn sign(
        &self,
        manager: &Manager,
        csr_der: &[u8],
        what: &str,
        days: u32,
    ) -> Result<Signed, CaError> {
        if days == 0 {
            return Err(CaError::Refused {
                what: "--days".into(),
                reason: "must be at least 1".into(),
            });
        }
        let request = read_request(csr_der, what)?;
        // A certificate for a key clients refuse would only fail later, on
        // every connection: refuse it now with the reason.
        if let Some((key, bits)) = spki_description(&request.spki_der) {
            if mailcert_x509::keys::is_weak_rsa(&key, bits) {
                return Err(CaError::Refused {
                    what: what.into(),
                    reason: format!(
                        "its key is RSA-{bits}, which is too weak: clients refuse RSA keys under 2048 bits, so this CA does not certify them; make a new request with 2048 bits or more (`openssl req -newkey rsa:2048 ...` or `mailcert request --name NAME --key rsa-2048`)"
                    ),
                });
            }
        }
        let mut names: Vec<SubjectName> = Vec::new();
        for name in &request.names {
            let parsed = parse_name(name).map_err(|e| CaError::Refused {
                what: what.into(),
                reason: format!("the request asks for a name the CA will not sign: {e}"),
            })?;
            names.push(parsed.name);
        }
        names.extend(request.ip_addresses.iter().map(|ip| SubjectName::Ip(*ip)));
        let subject = parse_subject(&request.subject).ok();
        if names.is_empty() {
            // A CN-only request: clients ignore the CN, so it becomes the SAN.
            let cn = subject
                .as_ref()
                .and_then(|parts| parts.iter().find(|(a, _)| a == "CN").map(|(_, v)| v.clone()))
                .ok_or_else(|| CaError::Refused {
                    what: what.into(),
                    reason: "the request names no host (no subjectAltName and no CN); make it with `mailcert request --name HOST`".into(),
                })?;
            names.push(
                parse_name(&cn)
                    .map_err(|e| CaError::Refused {
                        what: what.into(),
                        reason: format!(
                            "the request has no subjectAltName and its CN is not a host name: {e}"
                        ),
                    })?
                    .name,
            );
        }
        let (issuer_der, issuer_key_der) = match &self.intermediate {
            Some((cert, key)) => (cert.clone(), key.clone()),
            None => (self.root.clone(), self.root_key.clone()),
        };
        let issuer_summary = CertSummary::from_der(&issuer_der)?;
        let now = manager.now();
        let end = now + Duration::days(i64::from(days));
        if end > issuer_summary.not_after {
            return Err(CaError::Refused {
                what: "--days".into(),
                reason: format!(
                    "{days} days would outlive the issuing CA certificate ({} expires {}); choose fewer days",
                    issuer_summary.subject,
                    mailcert_x509::time::rfc3339(issuer_summary.not_after)
                ),
            });
        }
        let spec = ServerCertSpec {
            names,
            subject,
            not_before: now,
            days,
        };
        let public_key =
            SubjectPublicKeyInfo::from_der(&request.spki_der).map_err(|e| CaError::Refused {
                what: what.into(),
                reason: format!("its public key is of a kind the CA cannot certify ({e})"),
            })?;
        // The key usages follow the request's key, never its own
        // extensions (a request may ask keyEncipherment for an EC key).
        let mut params = server_params(&spec, &public_key)?;
        params.use_authority_key_identifier_extension = true;
        // basicConstraints CA:FALSE, which also makes rcgen write the SKI.
        params.is_ca = IsCa::ExplicitNoCa;
        params.serial_number = Some(random_serial());
        let issuer_key: KeyPair = load_key(&issuer_key_der)?;
        let issuer = Issuer::from_ca_cert_der(&issuer_der.as_slice().into(), issuer_key)
            .map_err(|e| generate_failed("the issuer", e))?;
        let cert = params
            .signed_by(&public_key, &issuer)
            .map_err(|e| generate_failed("the certificate", e))?;
        let certificate = cert.der().to_vec();
        let summary = CertSummary::from_der(&certificate)?;
        let chain = match &self.intermediate {
            Some((inter, _)) => vec![inter.clone()],
            None => Vec::new(),
        };
        Ok(Signed {
            certificate,
            chain,
            summary,
            warnings: validity_warnings(days),
        })
    }

    /// Records a signature in the audit log (a CA keeps a record of what
    /// it issued).
    pub fn record(manager: &mut Manager, signed: &Signed, what: &str) -> Result<(), CaError> {
        let mut change = manager.change("ca sign");
        change.describe(format!(
            "signed {} for {} (serial {}, request {what}, until {})",
            signed.summary.thumbprint,
            signed.summary.names.join(", "),
            signed.summary.serial,
            mailcert_x509::time::rfc3339(signed.summary.not_after)
        ));
        manager.store.apply(change)?;
        Ok(())
    }
}

/// What clients think of a server certificate valid for `days`, as the
/// planner says it of private-CA certificates.
fn validity_warnings(days: u32) -> Vec<String> {
    let max = APPLE_MAX_DAYS;
    if days <= max {
        return Vec::new();
    }
    vec![format!(
        "{days} days is longer than Apple devices accept: iOS 13, macOS 10.15 and later refuse TLS server certificates valid for more than {max} days, even from a root they trust, so iPhones, iPads and Macs will not connect with it; sign it again with --days {max} or less"
    )]
}

#[cfg(test)]
mod tests {
    use super::{CaError, PrivateCa};
    use mailcert_lifecycle::Manager;
    use mailcert_store::{SqliteStore, StoreLocation};

    #[test]
    fn a_store_has_a_ca_only_after_ca_init() {
        let dir = tempfile::tempdir().expect("a temporary folder");
        let location = StoreLocation::resolve(Some(&dir.path().join("store.db")), None);
        let (store, _) = SqliteStore::open_or_create(&location).expect("a store");
        let mut manager = Manager::new(Box::new(store), "test");
        assert!(matches!(
            PrivateCa::require(&manager),
            Err(CaError::NotInitialised)
        ));
        PrivateCa::init(&mut manager, "Contoso Mail CA", true).expect("ca init");
        let ca = PrivateCa::require(&manager).expect("the CA after ca init");
        assert!(!ca.root().is_empty());
    }

    #[test]
    fn longer_than_apple_accepts_is_warned() {
        assert!(super::validity_warnings(825).is_empty());
        let w = super::validity_warnings(826);
        assert!(w.len() == 1 && w[0].contains("825"), "{w:?}");
    }
}
