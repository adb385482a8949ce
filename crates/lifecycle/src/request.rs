//! Pending requests: a key generated in the store and a PKCS#10 request
//! for the CA; renewals of CA-issued certificates make new ones.

use mailcert_store::{CertRecord, NewPending, Op, PendingRecord};
use mailcert_x509::build::{parse_subject, ServerCertSpec};
use mailcert_x509::csr::make_request;
use mailcert_x509::keys::{key_spki, load_key};
use mailcert_x509::{KeyType, SubjectName};

use crate::error::{LifecycleError, Result};
use crate::manager::{parse_names, Manager, Report};

/// What a new request asks for.
#[derive(Debug, Clone, Default)]
pub struct RequestSpec {
    pub names: Vec<String>,
    /// "CN=...,O=...,C=..": default CN = the first name.
    pub subject: Option<String>,
    pub key: KeyType,
    pub exportable: bool,
    pub friendly_name: Option<String>,
}

/// The names and subject of a new request, checked together.
#[derive(Debug, Clone)]
pub struct RequestNames {
    pub names: Vec<SubjectName>,
    pub subject: Option<Vec<(String, String)>>,
    /// Said to the administrator when the subject's CN was added to the names.
    pub note: Option<String>,
}

/// Validates `--name` and `--subject` together. Public CAs refuse a
/// request whose CN is not among its SANs, so the CN must be a host name;
/// when it is one that `--name` lacks, it is added to the names, first,
/// as certreq and Exchange put the subject name among the SANs.
pub fn request_names(names: &[String], subject: Option<&str>) -> Result<RequestNames> {
    let mut names = parse_names(names)?;
    let Some(text) = subject else {
        return Ok(RequestNames {
            names,
            subject: None,
            note: None,
        });
    };
    let mut subject = parse_subject(text)?;
    let mut added = Vec::new();
    for (attr, value) in subject.iter_mut().filter(|(a, _)| a == "CN") {
        let parsed = mailcert_x509::parse_name(value).map_err(|e| {
            LifecycleError::BadInput(format!(
                "--subject {attr}={value}: the CN must be one of the certificate's names, because CAs copy it into the names or refuse the request, and this one is not a host name ({e}); write --subject CN=<one of the --name values>,O=... or leave CN= out"
            ))
        })?;
        // Written as the name is: lower case, IDNs in punycode, so that
        // the CN equals one of the names exactly.
        *value = parsed.name.to_string();
        if !names.contains(&parsed.name) {
            added.push(value.clone());
            names.insert(0, parsed.name);
        }
    }
    let note = (!added.is_empty()).then(|| {
        format!(
            "the subject's CN {} was not among --name: added it to the names, because CAs require the CN among the names (SANs)",
            added.join(", ")
        )
    });
    Ok(RequestNames {
        names,
        subject: Some(subject),
        note,
    })
}

/// What `renew` made: a self-signed certificate renewed in place, or a
/// new pending request for the CA.
#[derive(Debug, Clone)]
pub enum Renewed {
    InPlace(Report),
    Request(Report, Box<PendingRecord>),
}

impl Manager {
    /// `renew`: a self-signed certificate of this store is renewed in
    /// place (a new key, bindings moved); any other becomes a new pending
    /// request with the same names (`reuse_key` keeps its key).
    pub fn renew(&mut self, prefix: &str, reuse_key: bool) -> Result<Renewed> {
        let record = crate::find::find_certificate(self.store.as_ref(), prefix)?;
        if record.origin != mailcert_store::Origin::SelfSigned || !record.summary.is_self_signed {
            let (report, pending) = self.renew_ca_issued(&record, reuse_key)?;
            return Ok(Renewed::Request(report, Box::new(pending)));
        }
        if reuse_key {
            return Err(crate::LifecycleError::BadInput(format!(
                "{} is self-signed: it is renewed in place with a new key, without a request (--reuse-key and --out are for CA-issued certificates)",
                record.summary.thumbprint
            )));
        }
        Ok(Renewed::InPlace(self.renew_self_signed(&record)?))
    }

    /// Generates a key in the store and a request for `spec`, stored as a
    /// pending request. Returns the report and the new pending request.
    pub fn request(&mut self, spec: &RequestSpec) -> Result<(Report, PendingRecord)> {
        let checked = request_names(&spec.names, spec.subject.as_deref())?;
        let pair = spec.key.generate()?;
        let (mut report, pending) = self.store_request(
            checked.names,
            checked.subject,
            spec.key,
            pair,
            spec.exportable,
            spec.friendly_name.clone(),
            None,
        )?;
        if let Some(note) = checked.note {
            report.lines.insert(0, note);
        }
        Ok((report, pending))
    }

    /// Renews a CA-issued certificate: a new pending request with the same
    /// subject, names and key type; a new key unless `reuse_key`.
    pub fn renew_ca_issued(
        &mut self,
        record: &CertRecord,
        reuse_key: bool,
    ) -> Result<(Report, PendingRecord)> {
        let s = &record.summary;
        let names = s.renewal_names();
        let key_type = KeyType::from_description(&s.key_algorithm).ok_or_else(|| {
            LifecycleError::BadInput(format!(
                "{} has a {} key, which mailcert cannot generate; request a new certificate with `mailcert request --name ... --key ec-p256`",
                s.thumbprint, s.key_algorithm
            ))
        })?;
        // DANE: the next key, whose TLSA record is already published,
        // becomes the request's key. It stays the next key of the old
        // certificate (so its record stays listed) until the answer
        // replaces it for SMTP; then it is retired and the new certificate
        // gets a next key of its own (`Manager::next_keys_for_binds`).
        let next = if reuse_key {
            None
        } else {
            self.next_key(&s.thumbprint)?
        };
        let pair = if let Some(next) = &next {
            load_key(next)?
        } else if reuse_key {
            let der = self.store.private_key(&s.thumbprint)?.ok_or_else(|| {
                LifecycleError::Refused(format!(
                    "{} has no private key in this store, so --reuse-key has nothing to reuse; renew without it to get a new key",
                    s.thumbprint
                ))
            })?;
            load_key(&der)?
        } else {
            key_type.generate()?
        };
        // Keep the subject when it only uses attributes we can write.
        let subject = parse_subject(&s.subject).ok();
        let (mut report, pending) = self.store_request(
            names,
            subject,
            key_type,
            pair,
            record.exportable,
            record.friendly_name.clone(),
            Some(s.thumbprint.clone()),
        )?;
        report.say(format!(
            "this request renews {}{}; when the CA answers, `mailcert complete` it, then move the services with `mailcert replace {} <new thumbprint>`",
            s.thumbprint,
            if reuse_key {
                " with the same key"
            } else if next.is_some() {
                " with the next key prepared for DANE (its TLSA record is already published)"
            } else {
                " with a new key"
            },
            s.thumbprint
        ));
        Ok((report, pending))
    }

    #[allow(clippy::too_many_arguments)]
    fn store_request(
        &mut self,
        names: Vec<SubjectName>,
        subject: Option<Vec<(String, String)>>,
        key_type: KeyType,
        pair: rcgen::KeyPair,
        exportable: bool,
        friendly_name: Option<String>,
        renews: Option<String>,
    ) -> Result<(Report, PendingRecord)> {
        let spec = ServerCertSpec {
            names: names.clone(),
            subject,
            not_before: self.now(),
            days: 1,
        };
        let (csr_der, id) = make_request(&spec, &pair)?;
        let info = mailcert_x509::csr::read_request(&csr_der, "the new request")?;
        if self.store.pending_requests()?.iter().any(|p| p.id == id) {
            return Err(LifecycleError::Refused(format!(
                "pending request {id} already exists"
            )));
        }
        let record = PendingRecord {
            id: id.clone(),
            csr_der,
            subject: info.subject,
            names: names.iter().map(|n| n.to_string()).collect(),
            key_type: key_type.as_str().to_string(),
            spki_der: key_spki(&pair),
            exportable,
            friendly_name,
            renews,
            created_at: self.now(),
        };
        let mut change = self.change("request");
        change.describe(format!(
            "pending request {id} for {} ({key_type}{})",
            record.names.join(", "),
            if exportable { "" } else { ", non-exportable" }
        ));
        change.push(Op::InsertPending(Box::new(NewPending {
            record: record.clone(),
            private_key: pair.serialize_der(),
        })));
        self.store.apply(change)?;
        let mut report = Report {
            thumbprint: Some(id.clone()),
            changed: true,
            ..Report::default()
        };
        report.say(format!(
            "pending request {id} created for {} ({key_type}); send the request to your CA, then run `mailcert complete ANSWER-FILE`",
            record.names.join(", ")
        ));
        Ok((report, record))
    }
}
