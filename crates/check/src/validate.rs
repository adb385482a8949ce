//! The validation core, shared by `check` (what a server sent) and `verify`
//! (files): rustls-webpki gives the verdict; the diagnosis on top explains
//! it the way a client would show it, and adds what webpki does not judge
//! (chain hygiene, key strength, public CA limits, expiry warnings).
//!
//! webpki reports one error and a missing intermediate is `UnknownIssuer`
//! like an untrusted root, so the diagnosis builds the path shape itself
//! (issuer names and key identifiers against what was sent and the anchors)
//! to say which certificate is missing, and asks webpki again with a time
//! inside the validity windows to separate "expired" from "untrusted".

use std::time::Duration as StdDuration;

use mailcert_x509::names::name_matches;
use mailcert_x509::time::Validity;
use mailcert_x509::CertSummary;
use rustls_pki_types::{CertificateDer, ServerName, TrustAnchor, UnixTime};
use serde::Serialize;
use time::OffsetDateTime;
use webpki::{EndEntityCert, KeyUsage};
use x509_parser::prelude::{FromDer, ParsedExtension, X509Certificate};

use crate::finding::{has_errors, tidy, Code, Finding, Source};
use crate::limits;
use crate::profile::{self, is_profile_code, Role};
use crate::trust::{Origin, TrustStore};

/// Expiry warnings start this many days before `not_after`, as in `list`.
pub use mailcert_x509::status::EXPIRY_WARNING_DAYS;

/// What to validate.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    /// DER certificates, the server certificate first, as sent or as read.
    pub certificates: &'a [Vec<u8>],
    /// The name the client asks for (DNS name or IP address); `None` skips
    /// the name check.
    pub name: Option<&'a str>,
    /// "Now" for every date comparison.
    pub at: OffsetDateTime,
    pub trust: &'a TrustStore,
    pub source: Source,
}

/// One certificate as shown in reports.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChainEntry {
    pub subject: String,
    pub issuer: String,
    pub names: Vec<String>,
    pub not_after: String,
    pub not_before: String,
    pub ip_addresses: Vec<String>,
    pub thumbprint: String,
    pub key_algorithm: String,
    pub key_size: u32,
    pub signature_algorithm: String,
    pub self_signed: bool,
    /// The serial number, upper-case hex.
    pub serial: String,
}

impl ChainEntry {
    pub fn from_summary(s: &CertSummary) -> ChainEntry {
        ChainEntry {
            subject: s.subject.clone(),
            issuer: s.issuer.clone(),
            names: s.names.clone(),
            not_after: mailcert_x509::time::rfc3339(s.not_after),
            not_before: mailcert_x509::time::rfc3339(s.not_before),
            ip_addresses: s.ip_addresses.iter().map(|ip| ip.to_string()).collect(),
            thumbprint: s.thumbprint.clone(),
            key_algorithm: s.key_algorithm.clone(),
            key_size: s.key_size,
            signature_algorithm: s.signature_algorithm.clone(),
            self_signed: s.is_self_signed,
            serial: s.serial.clone(),
        }
    }
}

/// The outcome: webpki's verdict, the chain, and the findings.
#[derive(Debug, Clone)]
pub struct Validation {
    /// rustls-webpki accepted the chain for server authentication at `at`,
    /// and the name (when one was given). Never decided here.
    pub trusted: bool,
    /// The chain (dates aside) reaches a root of the system store.
    pub publicly_trusted: bool,
    /// The certificates as given, in their order.
    pub chain: Vec<ChainEntry>,
    /// The server certificate, when it could be read.
    pub leaf: Option<CertSummary>,
    pub findings: Vec<Finding>,
}

impl Validation {
    pub fn has_errors(&self) -> bool {
        has_errors(&self.findings)
    }
}

/// Validates and diagnoses one chain.
pub fn validate(request: &Request<'_>) -> Validation {
    // webpki, which gives the verdict, reads time in whole seconds; every
    // date of the diagnosis is judged at that same second.
    let request = &Request {
        at: mailcert_x509::time::whole_second(request.at),
        ..*request
    };
    let mut findings = Vec::new();
    let mut summaries: Vec<Option<CertSummary>> = Vec::new();
    for (i, der) in request.certificates.iter().enumerate() {
        match CertSummary::from_der(der) {
            Ok(s) => summaries.push(Some(s)),
            Err(e) => {
                findings.push(Finding::error(
                    Code::InvalidCertificate,
                    format!(
                        "{} cannot be read as an X.509 certificate ({e}); every client rejects it",
                        position(i, request.source)
                    ),
                    fix_replace_files(request.source),
                ));
                summaries.push(None);
            }
        }
    }
    let chain: Vec<ChainEntry> = summaries
        .iter()
        .flatten()
        .map(ChainEntry::from_summary)
        .collect();
    let Some(Some(leaf)) = summaries.first().cloned() else {
        if request.certificates.is_empty() {
            findings.push(Finding::error(
                Code::InvalidCertificate,
                "no certificate was presented",
                fix_replace_files(request.source),
            ));
        }
        tidy(&mut findings);
        return Validation {
            trusted: false,
            publicly_trusted: false,
            chain,
            leaf: None,
            findings,
        };
    };
    let ctx = Context::new(request, &summaries, &leaf);
    let (trusted, publicly_trusted) = ctx.diagnose(&mut findings);
    tidy(&mut findings);
    Validation {
        trusted,
        publicly_trusted,
        chain,
        leaf: Some(leaf),
        findings,
    }
}

struct Context<'a> {
    req: &'a Request<'a>,
    summaries: &'a [Option<CertSummary>],
    leaf: &'a CertSummary,
    intermediates: Vec<CertificateDer<'a>>,
    /// A time inside every sent certificate's validity (when there is one),
    /// to ask webpki about trust with the dates out of the way.
    calm_time: UnixTime,
}

/// How the chain is put together, as the diagnosis reads it.
#[derive(Debug)]
struct Shape {
    /// Indices into the sent certificates, from the server certificate up.
    path: Vec<usize>,
    end: PathEnd,
}

#[derive(Debug)]
enum PathEnd {
    /// The last certificate of `path` was issued by this anchor.
    Anchor(usize),
    /// The last certificate of `path` is self-signed and not an anchor.
    SelfSigned,
    /// The issuer of the last certificate of `path` is nowhere to be found.
    Missing,
    /// The path loops or is malformed.
    Broken,
}

impl<'a> Context<'a> {
    fn new(
        req: &'a Request<'a>,
        summaries: &'a [Option<CertSummary>],
        leaf: &'a CertSummary,
    ) -> Context<'a> {
        let intermediates = req
            .certificates
            .iter()
            .skip(1)
            .map(|d| CertificateDer::from(d.as_slice()))
            .collect();
        let mut from = leaf.not_before;
        let mut until = leaf.not_after;
        for s in summaries.iter().flatten() {
            from = from.max(s.not_before);
            until = until.min(s.not_after);
        }
        let calm = if from <= until {
            req.at.clamp(from, until)
        } else {
            // An empty window (notAfter before notBefore) leaves `at`.
            mailcert_x509::time::nearest_within(req.at, leaf.not_before, leaf.not_after)
        };
        Context {
            req,
            summaries,
            leaf,
            intermediates,
            calm_time: unix_time(calm),
        }
    }

    fn webpki(
        &self,
        anchors: &[TrustAnchor<'_>],
        time: UnixTime,
    ) -> Result<Option<Vec<u8>>, webpki::Error> {
        let der = CertificateDer::from(self.req.certificates[0].as_slice());
        let ee = EndEntityCert::try_from(&der)?;
        let path = ee.verify_for_usage(
            webpki::ALL_VERIFICATION_ALGS,
            anchors,
            &self.intermediates,
            time,
            KeyUsage::server_auth(),
            None,
            None,
        );
        match path {
            // The anchor the path reached, by subject, to tell which one it was.
            Ok(path) => Ok(Some(path.anchor().subject.as_ref().to_vec())),
            Err(webpki::Error::CaUsedAsEndEntity) if self.directly_trusted() => {
                self.direct_trust(time)
            }
            Err(e) => Err(e),
        }
    }

    /// The server certificate is itself one of the trust anchors given, as
    /// a home-made self-signed certificate (`openssl req -x509` marks it
    /// CA:TRUE) is when a client trusts it. OpenSSL, Windows and Chrome
    /// accept such a certificate as what it is; webpki refuses any CA:TRUE
    /// certificate as a server certificate.
    fn directly_trusted(&self) -> bool {
        self.req.trust.contains(&self.req.certificates[0])
    }

    /// Direct trust, as those clients give it: only the dates count.
    fn direct_trust(&self, time: UnixTime) -> Result<Option<Vec<u8>>, webpki::Error> {
        let not_before = unix_time(self.leaf.not_before);
        let not_after = unix_time(self.leaf.not_after);
        if time.as_secs() < not_before.as_secs() {
            return Err(webpki::Error::CertNotValidYet { time, not_before });
        }
        if time.as_secs() > not_after.as_secs() {
            return Err(webpki::Error::CertExpired { time, not_after });
        }
        let leaf = &self.req.certificates[0];
        let anchor = self.req.trust.anchors().iter().find(|a| &a.der == leaf);
        Ok(anchor.map(|a| a.anchor.subject.as_ref().to_vec()))
    }

    fn all_anchors(&self) -> Vec<TrustAnchor<'_>> {
        self.req.trust.webpki_anchors(|_| true)
    }

    fn publicly_trusted(&self) -> bool {
        let public = self
            .req
            .trust
            .webpki_anchors(|a| a.origin == Origin::Public);
        !public.is_empty() && self.webpki(&public, self.calm_time).is_ok()
    }

    /// Runs the verdict and the diagnosis; returns the verdict and whether
    /// the chain reaches a public root.
    fn diagnose(&self, findings: &mut Vec<Finding>) -> (bool, bool) {
        let anchors = self.all_anchors();
        let verdict = self.webpki(&anchors, unix_time(self.req.at));
        let name_verdict = self.check_name(findings);
        let shape = self.shape();

        // The path with the dates out of the way, built once: the
        // diagnosis and the EKU check both read it.
        let calm = self.webpki(&anchors, self.calm_time);
        let calm_anchor = calm.as_ref().ok().and_then(|subject| subject.as_deref());
        self.check_profile(&shape, calm_anchor, findings);
        match &calm {
            Ok(anchor_subject) => {
                self.check_anchor_needed(anchor_subject.as_deref(), findings);
                self.check_direct_trust_of_a_ca(findings);
            }
            Err(e) => self.explain_untrusted(e.clone(), &shape, findings),
        }
        self.check_order(&shape, findings);
        self.check_dates(&shape, findings);
        self.check_keys_and_signatures(&shape, findings);
        self.check_eku(&calm, findings);
        self.check_key_usage(findings);
        let publicly_trusted = self.publicly_trusted();
        if publicly_trusted {
            self.check_public_validity(findings);
        }

        let trusted = verdict.is_ok() && name_verdict;
        if !trusted && !has_errors(findings) {
            // The verdict is webpki's; never let it pass silently.
            let reason = match verdict {
                Err(e) => error_name(&e),
                Ok(_) => "the name does not match".into(),
            };
            findings.push(Finding::error(
                Code::InvalidCertificate,
                format!("the certificate chain is rejected by path validation ({reason})"),
                fix_replace_files(self.req.source),
            ));
        }
        (trusted, publicly_trusted)
    }

    // ----- names ------------------------------------------------------

    fn check_name(&self, findings: &mut Vec<Finding>) -> bool {
        let Some(name) = self.req.name else {
            return true;
        };
        let Ok(server_name) = ServerName::try_from(name.to_string()) else {
            findings.push(Finding::error(
                Code::NameMismatch,
                format!("'{name}' is not a DNS name or IP address, so no certificate can match it"),
                "Check the name clients use (--name).",
            ));
            return false;
        };
        let der = CertificateDer::from(self.req.certificates[0].as_slice());
        let Ok(ee) = EndEntityCert::try_from(&der) else {
            return false;
        };
        match ee.verify_is_valid_for_subject_name(&server_name) {
            Ok(()) => true,
            Err(_) => {
                findings.push(self.name_mismatch(name));
                false
            }
        }
    }

    fn name_mismatch(&self, name: &str) -> Finding {
        let leaf = self.leaf;
        let mut on_cert: Vec<String> = leaf.names.clone();
        on_cert.extend(leaf.ip_addresses.iter().map(|ip| ip.to_string()));
        let listed = if on_cert.is_empty() {
            format!(
                "the certificate carries no name in its Subject Alternative Name extension (only the subject {}), and clients no longer read names from the subject",
                leaf.subject
            )
        } else {
            format!("the certificate is for {}", quote_list(&on_cert))
        };
        let mut notes = Vec::new();
        let host = name.trim_end_matches('.').to_ascii_lowercase();
        for pattern in &leaf.names {
            let p = pattern.to_ascii_lowercase();
            if let Some(suffix) = p.strip_prefix("*.") {
                if host == suffix {
                    notes.push(format!(
                        "'{pattern}' does not cover the bare domain '{host}': a wildcard needs exactly one label in its place"
                    ));
                } else if host.ends_with(&format!(".{suffix}"))
                    && name_matches(pattern, &host).is_none()
                {
                    notes.push(format!(
                        "'{pattern}' covers one label only ('x.{suffix}'), not '{host}'"
                    ));
                }
            } else if p.contains('*') {
                notes.push(format!(
                    "'{pattern}' is a partial-label wildcard, which clients do not honour"
                ));
            }
        }
        let mut message = format!(
            "Outlook says \"The name on the security certificate is invalid or does not match the name of the site\" and Thunderbird warns that the certificate belongs to a different site: the client asked for '{name}', but {listed}"
        );
        if !notes.is_empty() {
            message.push_str(&format!(" ({})", notes.join("; ")));
        }
        message.push('.');
        Finding::error(
            Code::NameMismatch,
            message,
            format!(
                "Get a certificate that includes '{name}' as a Subject Alternative Name (mailcert request --name {name} ...), or configure clients to use a name the certificate has. If the right certificate exists, bind it to this service (mailcert enable)."
            ),
        )
    }

    // ----- trust ------------------------------------------------------

    /// Builds the path the way clients do, from issuer names and key
    /// identifiers, to locate where it stops. The signature checks are
    /// webpki's; this only explains.
    fn shape(&self) -> Shape {
        let mut path = vec![0usize];
        let anchors = self.req.trust.anchors();
        loop {
            let Some(current_index) = path.last().copied() else {
                return Shape {
                    path,
                    end: PathEnd::Broken,
                };
            };
            let Some(Some(current)) = self.summaries.get(current_index) else {
                return Shape {
                    path,
                    end: PathEnd::Broken,
                };
            };
            if let Some(a) = anchors.iter().position(|a| {
                current.issued_by(&a.summary)
                    && (a.summary.subject_raw != current.subject_raw
                        || a.der == self.req.certificates[current_index])
            }) {
                return Shape {
                    path,
                    end: PathEnd::Anchor(a),
                };
            }
            if current.is_self_signed {
                return Shape {
                    path,
                    end: PathEnd::SelfSigned,
                };
            }
            let next = self.summaries.iter().enumerate().position(|(i, s)| {
                !path.contains(&i) && s.as_ref().is_some_and(|s| current.issued_by(s) && s.is_ca)
            });
            let next = next.or_else(|| {
                self.summaries.iter().enumerate().position(|(i, s)| {
                    !path.contains(&i) && s.as_ref().is_some_and(|s| current.issued_by(s))
                })
            });
            match next {
                Some(i) => path.push(i),
                None => {
                    return Shape {
                        path,
                        end: PathEnd::Missing,
                    }
                }
            }
            if path.len() > 16 {
                return Shape {
                    path,
                    end: PathEnd::Broken,
                };
            }
        }
    }

    /// The RFC 5280 rules of every certificate the chain is made of: the
    /// path, what is sent above it, and the anchor it reaches (the one
    /// webpki's path ended at, by subject, else the one the shape found).
    fn check_profile(
        &self,
        shape: &Shape,
        anchor_subject: Option<&[u8]>,
        findings: &mut Vec<Finding>,
    ) {
        let role = |s: &CertSummary| {
            if s.is_self_signed {
                Role::Root
            } else {
                Role::Intermediate
            }
        };
        let mut judged: Vec<(Role, &CertSummary, &[u8])> = Vec::new();
        for &i in shape.path.iter().chain(&self.above_path(shape)) {
            if let Some(Some(s)) = self.summaries.get(i) {
                let role = if i == 0 { Role::Server } else { role(s) };
                judged.push((role, s, &self.req.certificates[i]));
            }
        }
        let anchors = self.req.trust.anchors();
        let anchor = match (anchor_subject, &shape.end) {
            (Some(subject), _) => anchors
                .iter()
                .find(|a| a.anchor.subject.as_ref() == subject),
            (None, PathEnd::Anchor(a)) => anchors.get(*a),
            (None, _) => None,
        };
        if let Some(anchor) = anchor.filter(|a| !self.req.certificates.contains(&a.der)) {
            judged.push((role(&anchor.summary), &anchor.summary, &anchor.der));
        }
        profile::check(&judged, self.req.source, findings);
    }

    /// The chain validates; but does it only because an intermediate sits
    /// among the anchors? Clients that only have the roots would fail.
    fn check_anchor_needed(&self, anchor_subject: Option<&[u8]>, findings: &mut Vec<Finding>) {
        let Some(subject) = anchor_subject else {
            return;
        };
        let used = self
            .req
            .trust
            .anchors()
            .iter()
            .find(|a| a.anchor.subject.as_ref() == subject);
        let Some(used) = used else {
            return;
        };
        if used.summary.is_self_signed || self.req.certificates.contains(&used.der) {
            return;
        }
        // Only when its own issuer is trusted too (a bundle of root and
        // intermediate): then clients with the root alone are the question.
        // A cross-signed certificate trusted on its own is a legitimate anchor.
        let issuer_trusted = self
            .req
            .trust
            .anchors()
            .iter()
            .any(|a| !std::ptr::eq(a, used) && used.summary.issued_by(&a.summary));
        if !issuer_trusted {
            return;
        }
        let roots = self.req.trust.webpki_anchors(|a| a.summary.is_self_signed);
        if self.webpki(&roots, self.calm_time).is_ok() {
            return;
        }
        let name = used.summary.subject_cn();
        findings.push(Finding::error(
            Code::IncompleteChain,
            format!(
                "{} the intermediate certificate \"{name}\": the chain validates here only because \"{name}\" is among the trusted certificates given to this check. Clients that only have the root (Outlook on a machine that never saw \"{name}\", Thunderbird, phones, other mail servers) will say the certificate is not from a trusted certifying authority",
                self.not_sent_phrase()
            ),
            self.fix_send_intermediate(&name),
        ));
    }

    /// Trusted only because the client trusts this very certificate, which
    /// says CA:TRUE: most clients accept it, Firefox does not.
    fn check_direct_trust_of_a_ca(&self, findings: &mut Vec<Finding>) {
        if !(self.leaf.is_ca && self.directly_trusted()) {
            return;
        }
        findings.push(Finding::warning(
            Code::InvalidCertificate,
            format!(
                "The server certificate \"{}\" is trusted here as a CA certificate (basicConstraints CA:TRUE) of its own. OpenSSL-based clients, Outlook and Chrome accept it once it is trusted; Firefox and Thunderbird refuse a CA certificate as a server certificate (MOZILLA_PKIX_ERROR_CA_CERT_USED_AS_END_ENTITY)",
                self.leaf.subject_cn()
            ),
            "Make the certificate without CA:TRUE: mailcert new --self-signed does, and openssl req -x509 does with -addext basicConstraints=critical,CA:FALSE.",
        ));
    }

    /// Were private roots given for this run (`--ca-file`, the store's anchors)?
    fn private_roots_given(&self) -> bool {
        self.req
            .trust
            .anchors()
            .iter()
            .any(|a| a.origin == Origin::Private && a.summary.is_self_signed)
    }

    fn not_sent_phrase(&self) -> &'static str {
        match self.req.source {
            Source::Served => "The server does not send",
            Source::Files => "The chain given does not include",
        }
    }

    fn fix_send_intermediate(&self, name: &str) -> String {
        match self.req.source {
            Source::Served => format!(
                "Install the CA's intermediate certificate \"{name}\" with the server certificate so that the server sends it: complete the request with the CA's full chain (.p7b or the \"fullchain\" PEM), or add the intermediate to the server's certificate file after the server certificate."
            ),
            Source::Files => format!(
                "Add the intermediate certificate \"{name}\" to the chain file (--chain), as the server must send it."
            ),
        }
    }

    fn explain_untrusted(&self, error: webpki::Error, shape: &Shape, findings: &mut Vec<Finding>) {
        use webpki::Error as E;
        let leaf = self.leaf;
        if leaf.is_self_signed && !self.directly_trusted() {
            findings.push(Finding::error(
                Code::SelfSigned,
                format!(
                    "The certificate \"{}\" is self-signed: Outlook says \"The security certificate was issued by a company you have not chosen to trust\", Thunderbird asks for a security exception, phones say they cannot verify the server's identity, and other mail servers refuse to deliver or fall back to unauthenticated TLS",
                    leaf.subject_cn()
                ),
                "Replace it with a certificate from a CA the clients trust (mailcert request, then complete it with the CA's answer, or use ACME), and bind it to the service (mailcert enable THUMBPRINT --services ...). A self-signed certificate is only a secure default until then.",
            ));
            return;
        }
        match error {
            E::UnknownIssuer => self.explain_unknown_issuer(shape, findings),
            E::CaUsedAsEndEntity => findings.push(Finding::error(
                Code::InvalidCertificate,
                format!(
                    "The server certificate \"{}\" is a CA certificate (basicConstraints CA:TRUE) used as a server certificate; clients built on modern TLS libraries refuse it",
                    leaf.subject_cn()
                ),
                "Issue a server certificate without CA:TRUE (an end-entity certificate) for the names the clients use.",
            )),
            E::EndEntityUsedAsCa => findings.push(Finding::error(
                Code::InvalidCertificate,
                "A certificate that is not a CA (no basicConstraints CA:TRUE) signed the next one down the chain; clients refuse the chain",
                "Have the certificate issued by a real CA certificate, and send the CA's own intermediates.",
            )),
            E::InvalidSignatureForPublicKey | E::SignatureAlgorithmMismatch => {
                findings.push(Finding::error(
                    Code::BadSignature,
                    "A signature in the chain does not verify: a certificate was not issued by the one presented as its issuer (a wrong or stale intermediate?), or it was altered",
                    "Send the intermediate that really issued the certificate (download the chain again from the CA).",
                ))
            }
            #[allow(deprecated)]
            E::UnsupportedSignatureAlgorithm
            | E::UnsupportedSignatureAlgorithmContext(_)
            | E::UnsupportedSignatureAlgorithmForPublicKey
            | E::UnsupportedSignatureAlgorithmForPublicKeyContext(_) => {
                if !self.any_weak_signature(shape) {
                    findings.push(Finding::error(
                        Code::InvalidCertificate,
                        "A certificate in the chain is signed with an algorithm clients no longer accept",
                        "Reissue the certificate with SHA-256 or better (RSA 2048+ or ECDSA P-256/P-384).",
                    ));
                }
            }
            #[allow(deprecated)]
            E::RequiredEkuNotFound | E::RequiredEkuNotFoundContext(_) => {
                // Reported by check_eku with the certificate that lacks it.
            }
            E::NameConstraintViolation => findings.push(Finding::error(
                Code::NameConstraintViolation,
                "A CA in the chain is restricted to other names (name constraints), and this certificate carries a name outside them; clients reject it",
                "Get the certificate from a CA allowed to issue for these names, or drop the names outside the CA's constraints.",
            )),
            E::PathLenConstraintViolated | E::MaximumPathDepthExceeded => {
                findings.push(Finding::error(
                    Code::PathLengthExceeded,
                    "The chain is longer than a CA in it allows (basicConstraints pathLenConstraint), or too long for clients",
                    "Have the certificate issued from a CA position that allows it, or send the shorter chain the CA provides.",
                ))
            }
            E::CertExpired { .. } | E::CertNotValidYet { .. } => {
                // Dates are reported by check_dates.
            }
            // Named, with the certificate and the extension, by check_profile.
            E::UnsupportedCriticalExtension
                if findings.iter().any(|f| {
                    matches!(
                        f.code,
                        Code::UnknownCriticalExtension | Code::CriticalNotAllowed
                    )
                }) => {}
            E::UnsupportedCriticalExtension => findings.push(Finding::error(
                Code::InvalidCertificate,
                "A certificate in the chain has a critical extension that clients do not understand, so they must reject it",
                "Reissue the certificate without the unknown critical extension.",
            )),
            // A malformed certificate the profile rules already name
            // (a duplicate extension webpki calls an invalid value).
            _ if findings.iter().any(|f| is_profile_code(f.code)) => {}
            other => findings.push(Finding::error(
                Code::InvalidCertificate,
                format!(
                    "Clients reject the chain: path validation refuses it ({})",
                    error_name(&other)
                ),
                fix_replace_files(self.req.source),
            )),
        }
    }

    fn explain_unknown_issuer(&self, shape: &Shape, findings: &mut Vec<Finding>) {
        let Some(&top_index) = shape.path.last() else {
            return;
        };
        let Some(Some(top)) = self.summaries.get(top_index) else {
            return;
        };
        let untrusted_fix = |root: &str| {
            format!(
                "Use a certificate from a CA your clients trust (a public CA or ACME), or distribute the root \"{root}\" to every client (group policy, MDM profile, Thunderbird's certificate manager). To check against a private CA, pass its root with --ca-file."
            )
        };
        let untrusted_symptom = "Outlook says \"The security certificate was issued by a company you have not chosen to trust\", Thunderbird asks for a security exception, and phones cannot verify the server's identity";
        match shape.end {
            PathEnd::SelfSigned => {
                let root = top.subject_cn();
                findings.push(Finding::error(
                    Code::UntrustedIssuer,
                    format!("{untrusted_symptom}: the chain ends at the root \"{root}\", which this client does not trust"),
                    untrusted_fix(&root),
                ));
            }
            PathEnd::Missing => {
                let issuer = top.issuer_cn();
                if let Some(url) = ca_issuers_url(&self.req.certificates[top_index]) {
                    findings.push(Finding::error(
                        Code::IncompleteChain,
                        format!(
                            "{} the intermediate certificate \"{issuer}\" that issued \"{}\". Browsers often fetch it themselves ({url}), so web pages may look fine, but Outlook on a machine that never saw \"{issuer}\", Thunderbird, phones and other mail servers say the certificate is not from a trusted certifying authority",
                            self.not_sent_phrase(),
                            top.subject_cn()
                        ),
                        self.fix_send_intermediate(&issuer),
                    ));
                } else if top_index == 0 && self.private_roots_given() {
                    // The admin gave the private root(s) the clients have, and
                    // the certificate's issuer is none of them: the usual cause
                    // is an issuing CA the server does not send.
                    findings.push(Finding::error(
                        Code::IncompleteChain,
                        format!(
                            "{} the certificate \"{issuer}\" that issued \"{}\", and \"{issuer}\" is not one of the trusted roots: clients that only have the root say the certificate is not from a trusted certifying authority (Outlook), or ask for an exception (Thunderbird)",
                            self.not_sent_phrase(),
                            top.subject_cn()
                        ),
                        format!(
                            "{} If \"{issuer}\" is itself a root, give it with --ca-file or distribute it to the clients.",
                            self.fix_send_intermediate(&issuer)
                        ),
                    ));
                } else if top_index == 0 {
                    findings.push(Finding::error(
                        Code::UntrustedIssuer,
                        format!(
                            "{untrusted_symptom}: the certificate was issued by \"{issuer}\", which is neither sent with it nor a CA this client trusts (a private CA, or an intermediate the server should send)"
                        ),
                        format!(
                            "If \"{issuer}\" is an intermediate CA, {}. Otherwise: {}",
                            lowercase_first(self.fix_send_intermediate(&issuer).trim_end_matches('.')),
                            lowercase_first(&untrusted_fix(&issuer))
                        ),
                    ));
                } else {
                    findings.push(Finding::error(
                        Code::UntrustedIssuer,
                        format!(
                            "{untrusted_symptom}: the chain ends at \"{}\", issued by \"{issuer}\", which this client does not trust",
                            top.subject_cn()
                        ),
                        untrusted_fix(&issuer),
                    ));
                }
            }
            PathEnd::Anchor(_) | PathEnd::Broken => findings.push(Finding::error(
                Code::UntrustedIssuer,
                format!(
                    "{untrusted_symptom}: no chain from \"{}\" to a trusted root could be built",
                    self.leaf.subject_cn()
                ),
                untrusted_fix(&top.issuer_cn()),
            )),
        }
    }

    // ----- hygiene ----------------------------------------------------

    fn check_order(&self, shape: &Shape, findings: &mut Vec<Finding>) {
        let sent = self.summaries.len();
        let above = self.above_path(shape);
        let chain: Vec<usize> = shape.path.iter().chain(&above).copied().collect();
        // Roots sent along: never used from the wire.
        for i in self.roots_sent(shape, &above) {
            let Some(Some(s)) = self.summaries.get(i) else {
                continue;
            };
            findings.push(Finding::warning(
                    Code::UnneededRoot,
                    format!(
                        "{} the root certificate \"{}\" too; clients only use roots they already trust, so it is dead weight in every handshake{}",
                        match self.req.source {
                            Source::Served => "The server sends",
                            Source::Files => "The chain includes",
                        },
                        s.subject_cn(),
                        if self.req.trust.contains(&self.req.certificates[i]) {
                            ""
                        } else {
                            ", and it does not make an untrusted root trusted"
                        }
                    ),
                    "Remove the root from the chain the server sends: send the server certificate and its intermediates only.",
            ));
        }
        let in_order = chain.iter().enumerate().all(|(pos, &i)| pos == i);
        // Anything else is unrelated, self-signed or not.
        let unrelated: Vec<usize> = (1..sent)
            .filter(|i| !chain.contains(i))
            .filter(|&i| self.summaries[i].is_some())
            .collect();
        if !in_order {
            findings.push(Finding::warning(
                Code::ChainOrder,
                "The certificates are sent out of order (each certificate should be followed by its issuer). TLS 1.2 requires the order; older clients (Java, old Android, some appliances) reject the chain",
                "Order the chain file as: server certificate, then the intermediate that issued it, then the next one up.",
            ));
        }
        if !unrelated.is_empty() {
            let names: Vec<String> = unrelated
                .iter()
                .filter_map(|&i| self.summaries[i].as_ref().map(|s| s.subject_cn()))
                .collect();
            findings.push(Finding::warning(
                Code::ChainOrder,
                format!(
                    "Certificates that are not part of this chain are sent as well ({}); strict clients reject a chain with extra certificates",
                    quote_list(&names)
                ),
                "Send only the server certificate and the intermediates that lead to its root.",
            ));
        }
    }

    /// The sent certificates above the path's top, following issuers: a
    /// copy of the anchor the path reaches (usually the root), and when the
    /// anchor given to this check is an intermediate, what leads from it
    /// to its root.
    fn above_path(&self, shape: &Shape) -> Vec<usize> {
        let mut above = Vec::new();
        let Some(mut current) = shape
            .path
            .last()
            .and_then(|&i| self.summaries.get(i))
            .and_then(|s| s.as_ref())
        else {
            return above;
        };
        while !current.is_self_signed && above.len() < 16 {
            let next = (1..self.summaries.len()).find(|i| {
                !shape.path.contains(i)
                    && !above.contains(i)
                    && self.summaries[*i]
                        .as_ref()
                        .is_some_and(|s| current.issued_by(s))
            });
            let Some(Some(s)) = next.map(|i| &self.summaries[i]) else {
                break;
            };
            above.extend(next);
            current = s;
        }
        above
    }

    /// The sent certificates that are the root of this chain: self-signed,
    /// on the path (an untrusted root the path ends at) or above it. A
    /// self-signed certificate that issued nothing of the chain is no root
    /// of it, only an unrelated certificate.
    fn roots_sent(&self, shape: &Shape, above: &[usize]) -> Vec<usize> {
        shape
            .path
            .iter()
            .chain(above)
            .copied()
            .filter(|&i| i > 0)
            .filter(|&i| {
                self.summaries
                    .get(i)
                    .and_then(|s| s.as_ref())
                    .is_some_and(|s| s.is_self_signed)
            })
            .collect()
    }

    // ----- dates ------------------------------------------------------

    fn check_dates(&self, shape: &Shape, findings: &mut Vec<Finding>) {
        let at = self.req.at;
        let date = |t: OffsetDateTime| mailcert_x509::time::rfc3339(t);
        if let PathEnd::Anchor(a) = shape.end {
            if let Some(root) = self.req.trust.anchors().get(a) {
                let r = &root.summary;
                // Whether or not the server also sends it: a client uses its
                // own copy, and that copy has expired. Only a server
                // certificate trusted as itself is left to the loop below.
                if r.validity_at(at) == Validity::Expired && root.der != self.req.certificates[0] {
                    findings.push(Finding::error(
                        Code::Expired,
                        format!(
                            "The root \"{}\" that the chain leads to expired on {}: clients that check the root's dates (OpenSSL-based ones, many appliances and older phones) refuse the chain",
                            r.subject_cn(),
                            date(r.not_after)
                        ),
                        "Send the CA's current chain, which leads to a root that is still valid (a cross-signed intermediate may be needed for old clients).",
                    ));
                }
            }
        }
        for (pos, &i) in shape.path.iter().enumerate() {
            let Some(Some(s)) = self.summaries.get(i) else {
                continue;
            };
            let what = if pos == 0 {
                format!("the certificate \"{}\"", s.subject_cn())
            } else if s.is_self_signed {
                format!("the root \"{}\"", s.subject_cn())
            } else {
                format!("the intermediate \"{}\"", s.subject_cn())
            };
            let renew = if pos == 0 {
                "Renew it (mailcert renew THUMBPRINT, or a new request to the CA), complete it and bind the new certificate to the services (mailcert enable)."
                    .to_string()
            } else {
                format!("Download the current intermediate from the CA and send it instead of the old \"{}\".", s.subject_cn())
            };
            let validity = s.validity_at(at);
            if validity == Validity::Expired {
                findings.push(Finding::error(
                    Code::Expired,
                    format!(
                        "Outlook says \"The security certificate has expired or is not yet valid\" and other clients refuse to connect: {what} expired on {} ({} days before the time of this check)",
                        date(s.not_after),
                        (at - s.not_after).whole_days()
                    ),
                    renew,
                ));
            } else if validity == Validity::NotYetValid {
                findings.push(Finding::error(
                    Code::NotYetValid,
                    format!(
                        "Outlook says \"The security certificate has expired or is not yet valid\": {what} is valid only from {} (check the server's clock, or a certificate enabled too early)",
                        date(s.not_before)
                    ),
                    "Keep the previous certificate bound until the new one is valid, and check the server's clock (NTP).",
                ));
            } else if (s.not_after - at).whole_days() <= EXPIRY_WARNING_DAYS {
                findings.push(Finding::warning(
                    Code::ExpiringSoon,
                    format!(
                        "{} expires on {} ({} days from now); clients will refuse it from then on",
                        capitalize(&what),
                        date(s.not_after),
                        (s.not_after - at).whole_days()
                    ),
                    renew,
                ));
            }
        }
    }

    fn check_public_validity(&self, findings: &mut Vec<Finding>) {
        let leaf = self.leaf;
        let days = leaf.validity_days();
        let now_limit = limits::public_max_validity_days(self.req.at);
        if days <= now_limit {
            return;
        }
        let issued_limit = limits::public_max_validity_days(leaf.not_before);
        if days > issued_limit {
            findings.push(Finding::error(
                Code::ValidityTooLong,
                format!(
                    "The certificate is valid for {days} days, longer than public CAs could issue on {} ({issued_limit} days); browsers and Apple devices reject such certificates from a public root",
                    mailcert_x509::time::rfc3339(leaf.not_before)
                ),
                format!("Get a new certificate from the CA (at most {now_limit} days today) and automate its renewal (ACME)."),
            ));
        } else {
            findings.push(Finding::warning(
                Code::ValidityTooLong,
                format!(
                    "The certificate is valid for {days} days: allowed when it was issued, but public CAs issue at most {now_limit} days at the time of this check, so its renewal will be shorter"
                ),
                "Plan for shorter renewals: automate them (ACME) rather than renewing by hand once a year.",
            ));
        }
    }

    // ----- keys, signatures, usage -----------------------------------

    fn check_keys_and_signatures(&self, shape: &Shape, findings: &mut Vec<Finding>) {
        for (pos, &i) in shape.path.iter().enumerate() {
            let Some(Some(s)) = self.summaries.get(i) else {
                continue;
            };
            let who = if pos == 0 {
                format!("The certificate \"{}\"", s.subject_cn())
            } else {
                format!("The intermediate \"{}\"", s.subject_cn())
            };
            let weak_rsa = s.has_weak_rsa_key();
            // P-192 and P-224: below what any current client accepts.
            let weak_curve = matches!(
                s.key_algorithm.as_str(),
                "ec-1.2.840.10045.3.1.1" | "ec-1.3.132.0.33"
            );
            if weak_rsa || weak_curve || s.key_algorithm == "dsa" {
                findings.push(Finding::error(
                    Code::WeakKey,
                    format!(
                        "{who} has a {} key; current clients (Windows since 2012, Apple, browsers, OpenSSL at its default level) refuse keys this weak, and connections fail",
                        if weak_rsa {
                            format!("{}-bit RSA", s.key_size)
                        } else if weak_curve {
                            "small elliptic-curve (P-192/P-224)".into()
                        } else {
                            "DSA".into()
                        }
                    ),
                    "Request a new certificate with an RSA 2048+ or ECDSA P-256 key (mailcert request --key rsa-2048 or ec-p256).",
                ));
            }
            if !(s.is_self_signed && pos > 0) && weak_digest(&s.signature_algorithm) {
                findings.push(Finding::error(
                    Code::Sha1Signature,
                    format!(
                        "{who} is signed with {}; clients stopped accepting SHA-1 signatures on certificates (Windows, Apple, browsers, current OpenSSL)",
                        s.signature_algorithm
                    ),
                    "Have the certificate reissued with a SHA-256 signature (any current CA does it by default).",
                ));
            }
        }
    }

    fn any_weak_signature(&self, shape: &Shape) -> bool {
        shape.path.iter().any(|&i| {
            self.summaries
                .get(i)
                .and_then(|s| s.as_ref())
                .is_some_and(|s| weak_digest(&s.signature_algorithm) || s.has_weak_rsa_key())
        })
    }

    /// webpki does not judge an end-entity keyUsage; clients do. In TLS 1.3
    /// and in every ECDHE handshake of TLS 1.2 (all that rustls, browsers
    /// and current mail clients negotiate) the server proves itself by
    /// signing with the certificate's key, so the key usage must allow
    /// digitalSignature. keyEncipherment alone serves only the RSA key
    /// exchange of TLS 1.2, which TLS 1.3 removed and clients no longer
    /// choose; BoringSSL (Chrome) and Java refuse such a certificate in a
    /// signing handshake, OpenSSL refuses a leaf with none of the TLS bits.
    fn check_key_usage(&self, findings: &mut Vec<Finding>) {
        let Some(bits) = key_usage(&self.req.certificates[0]) else {
            return;
        };
        if bits.contains(&"digitalSignature") {
            return;
        }
        let leaf = self.leaf;
        let allowed = if bits.is_empty() {
            "nothing".to_string()
        } else {
            bits.join(", ")
        };
        let rsa_encipherment =
            leaf.key_algorithm.starts_with("rsa-") && bits.contains(&"keyEncipherment");
        // OpenSSL's TLS server purpose and Firefox accept any of these
        // three at validation; a certificate with none is refused by all.
        let any_tls_bit = bits.contains(&"keyEncipherment") || bits.contains(&"keyAgreement");
        let enforcing = "clients that enforce key usage (Chrome and other BoringSSL-based clients, Java) refuse the certificate";
        let message = if rsa_encipherment {
            format!(
                "The certificate \"{}\" lets its RSA key encrypt but not sign (key usage {allowed}, without digitalSignature): only the old RSA key exchange of TLS 1.2 could use it, which TLS 1.3 removed and current clients no longer choose. In the TLS 1.3 and ECDHE handshakes used today the server signs with this key, and {enforcing}",
                leaf.subject_cn()
            )
        } else if any_tls_bit {
            format!(
                "The certificate \"{}\" may not sign (key usage {allowed}, without digitalSignature), yet in every handshake current clients negotiate the server signs with its key; {enforcing}",
                leaf.subject_cn()
            )
        } else {
            format!(
                "The certificate \"{}\" may not be used by a TLS server: its key usage allows {allowed}, not digitalSignature, so the server may not sign the handshake with its key. Clients refuse it: OpenSSL-based clients report \"unsuitable certificate purpose\", Firefox and Thunderbird \"Certificate key usage inadequate for attempted operation\"",
                leaf.subject_cn()
            )
        };
        findings.push(Finding::error(
            Code::InvalidCertificate,
            message,
            "Have the certificate reissued with the digitalSignature key usage (keyEncipherment may stay beside it for RSA keys), as a CA's TLS server or web server template does, then bind the new certificate (mailcert enable).",
        ));
    }

    /// `calm`: the path [`Self::diagnose`] built with the dates out of the way.
    fn check_eku(
        &self,
        calm: &Result<Option<Vec<u8>>, webpki::Error>,
        findings: &mut Vec<Finding>,
    ) {
        let leaf = self.leaf;
        if leaf.has_eku && !leaf.server_auth {
            findings.push(Finding::error(
                Code::NoServerAuthEku,
                format!(
                    "The certificate \"{}\" is not meant for servers: its Extended Key Usage lacks Server Authentication, so clients refuse it for TLS (Outlook: \"the certificate is not valid for the requested usage\")",
                    leaf.subject_cn()
                ),
                "Request a certificate with the Server Authentication (serverAuth) extended key usage; a web-server template at the CA does this.",
            ));
            return;
        }
        #[allow(deprecated)]
        let eku_refused = matches!(
            calm,
            Err(webpki::Error::RequiredEkuNotFound | webpki::Error::RequiredEkuNotFoundContext(_))
        );
        if eku_refused {
            findings.push(Finding::error(
                Code::NoServerAuthEku,
                "An intermediate CA in the chain restricts its Extended Key Usage to purposes other than Server Authentication, so clients refuse the chain for TLS",
                "Get the certificate from a CA (intermediate) allowed to issue server certificates.",
            ));
        }
    }
}

/// The key usage bits of a certificate's keyUsage extension, by name;
/// `None` when it has none (then every use is allowed).
fn key_usage(der: &[u8]) -> Option<Vec<&'static str>> {
    let (_, cert) = X509Certificate::from_der(der).ok()?;
    let ku = cert.key_usage().ok()??.value;
    let bits = [
        (ku.digital_signature(), "digitalSignature"),
        (ku.non_repudiation(), "nonRepudiation"),
        (ku.key_encipherment(), "keyEncipherment"),
        (ku.data_encipherment(), "dataEncipherment"),
        (ku.key_agreement(), "keyAgreement"),
        (ku.key_cert_sign(), "keyCertSign"),
        (ku.crl_sign(), "cRLSign"),
        (ku.encipher_only(), "encipherOnly"),
        (ku.decipher_only(), "decipherOnly"),
    ];
    Some(
        bits.iter()
            .filter(|(set, _)| *set)
            .map(|(_, name)| *name)
            .collect(),
    )
}

/// The name of a webpki error without its debugging payload, for the rare
/// errors that have no sentence of their own.
fn error_name(error: &webpki::Error) -> String {
    let debug = format!("{error:?}");
    let end = debug.find(['(', ' ', '{']).unwrap_or(debug.len());
    debug[..end].to_string()
}

fn unix_time(t: OffsetDateTime) -> UnixTime {
    UnixTime::since_unix_epoch(StdDuration::from_secs(t.unix_timestamp().max(0) as u64))
}

fn weak_digest(signature_algorithm: &str) -> bool {
    let s = signature_algorithm.to_ascii_lowercase();
    s.contains("sha1")
        || s.contains("md5")
        || s.contains("md2")
        || matches!(
            s.as_str(),
            "1.2.840.113549.1.1.5"
                | "1.2.840.10045.4.1"
                | "1.2.840.10040.4.3"
                | "1.2.840.113549.1.1.4"
        )
}

/// The caIssuers URL of the Authority Information Access extension: where
/// the issuer's certificate can be downloaded (public CAs always set it).
pub fn ca_issuers_url(der: &[u8]) -> Option<String> {
    let (_, cert) = X509Certificate::from_der(der).ok()?;
    for ext in cert.extensions() {
        if let ParsedExtension::AuthorityInfoAccess(aia) = ext.parsed_extension() {
            for desc in &aia.accessdescs {
                if desc.access_method.to_id_string() == "1.3.6.1.5.5.7.48.2" {
                    if let x509_parser::extensions::GeneralName::URI(uri) = &desc.access_location {
                        return Some(uri.to_string());
                    }
                }
            }
        }
    }
    None
}

fn position(i: usize, source: Source) -> String {
    match (i, source) {
        (0, Source::Served) => "The server certificate".into(),
        (0, Source::Files) => "The certificate".into(),
        (i, _) => format!("Certificate #{} of the chain", i + 1),
    }
}

fn fix_replace_files(source: Source) -> &'static str {
    match source {
        Source::Served => {
            "Install a well-formed certificate and chain from the CA on the server, and bind it (mailcert enable)."
        }
        Source::Files => "Check the file: it should hold the certificate as PEM or DER, as the CA sent it.",
    }
}

fn quote_list(items: &[String]) -> String {
    items
        .iter()
        .map(|n| format!("'{n}'"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn capitalize(s: &str) -> String {
    let mut chars = s.chars();
    match chars.next() {
        Some(c) => c.to_uppercase().collect::<String>() + chars.as_str(),
        None => String::new(),
    }
}

fn lowercase_first(s: &str) -> String {
    let mut chars = s.chars();
    match chars.next() {
        Some(c) => c.to_lowercase().collect::<String>() + chars.as_str(),
        None => String::new(),
    }
}
