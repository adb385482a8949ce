//! The JSON API under `/api/v1/`, behind the session and CSRF checks of
//! `server`. Each endpoint parses its input, calls the lifecycle library
//! (the one behind the command line) and answers what the matching
//! command prints with `--json`; errors are the command's sentences.

use std::sync::Arc;

use base64::Engine as _;
use bytes::Bytes;
use http::Method;
use mailcert_lifecycle::transfer::{looks_like_pfx, read_pem_files, read_pfx_file};
use mailcert_lifecycle::{find, CertView, Found, InputFile, Manager, Renewed, RequestSpec};
use mailcert_x509::pem::{chain_pem, to_pem};
use mailcert_x509::pkcs12::PfxForm;
use mailcert_x509::{KeyType, Service};
use serde::de::DeserializeOwned;
use serde::Deserialize;

use crate::app::{actor, blocking, App};
use crate::reply::{ApiError, Reply};

/// One authenticated call.
pub(crate) struct Call {
    pub method: Method,
    pub path: String,
    pub query: String,
    pub body: Bytes,
    pub user: String,
    pub csrf: String,
    pub address: String,
}

impl Call {
    fn input<T: DeserializeOwned>(&self) -> Result<T, ApiError> {
        let body: &[u8] = if self.body.is_empty() {
            b"{}"
        } else {
            &self.body
        };
        serde_json::from_slice(body).map_err(|e| {
            ApiError::bad_input(format!(
                "the request body is not what {} {} takes: {e}; fix: send the JSON fields of docs/console.md",
                self.method, self.path
            ))
        })
    }

    fn query(&self, key: &str) -> Option<String> {
        self.query.split('&').find_map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (k == key).then(|| v.to_string())
        })
    }
}

/// Routes a call. Store work runs on the blocking pool, with a store
/// opened for the call: it sees what other processes committed.
pub(crate) async fn dispatch(app: Arc<App>, call: Call) -> Result<Reply, ApiError> {
    let segments: Vec<String> = call
        .path
        .trim_start_matches("/api/v1/")
        .split('/')
        .map(str::to_string)
        .collect();
    let parts: Vec<&str> = segments.iter().map(String::as_str).collect();
    let get = call.method == Method::GET || call.method == Method::HEAD;
    let post = call.method == Method::POST;
    match (parts.as_slice(), get, post) {
        (["session"], true, _) => Ok(Reply::json(serde_json::json!({
            "user": call.user,
            "csrf_token": call.csrf,
            "idle_timeout": app.settings.console.idle_timeout.as_secs(),
        }))),
        (["listeners"], true, _) => Ok(listeners(&app)),
        (["check"], _, true) => check(&app, &call).await,
        _ => {
            let route = parts.iter().map(|s| s.to_string()).collect::<Vec<_>>();
            blocking(move || with_manager(&app, &call, &route)).await
        }
    }
}

fn with_manager(app: &App, call: &Call, route: &[String]) -> Result<Reply, ApiError> {
    let store = mailcert_store::open(&app.settings.store)?;
    let mut manager = Manager::new(store, actor(&call.user, &call.address));
    let parts: Vec<&str> = route.iter().map(String::as_str).collect();
    let get = call.method == Method::GET || call.method == Method::HEAD;
    let post = call.method == Method::POST;
    match (parts.as_slice(), get, post) {
        (["certificates"], true, _) => Ok(Reply::json(mailcert_lifecycle::view::list(
            manager.store.as_ref(),
            manager.now(),
        )?)),
        (["certificates"], _, true) => create(&mut manager, call),
        (["certificates", thumb], true, _) => show(&manager, thumb),
        (["certificates", thumb, "pem"], true, _) => pem(&manager, thumb),
        (["certificates", thumb, "preflight"], _, true) => preflight(app, &manager, call, thumb),
        (["certificates", thumb, "enable"], _, true) => enable(app, &mut manager, call, thumb),
        (["certificates", thumb, "disable"], _, true) => disable(&mut manager, call, thumb),
        (["certificates", thumb, "renew"], _, true) => renew(&mut manager, call, thumb),
        (["certificates", thumb, "remove"], _, true) => remove(&mut manager, call, thumb),
        (["certificates", thumb, "export"], _, true) => export(&mut manager, call, thumb),
        (["complete"], _, true) => complete(&mut manager, call),
        (["import"], _, true) => import(&mut manager, call),
        (["plan"], _, true) => plan(call),
        (["audit"], true, _) => audit(&manager, call),
        _ => Err(ApiError::not_found(&format!(
            "{} {}",
            call.method, call.path
        ))),
    }
}

/// `{"thumbprint", "thumbprints", "changed", "messages"}`, as `enable
/// --json` and the other changing commands print a report.
fn report(report: &mailcert_lifecycle::Report) -> Reply {
    let all: Vec<&String> = report.thumbprint.iter().chain(&report.also).collect();
    Reply::json(serde_json::json!({
        "thumbprint": report.thumbprint,
        "thumbprints": all,
        "changed": report.changed,
        "messages": report.lines,
    }))
}

/// A pending request as `request --json` prints it.
fn pending_reply(
    report: &mailcert_lifecycle::Report,
    pending: &mailcert_store::PendingRecord,
) -> Reply {
    let mut value = serde_json::to_value(CertView::of_pending(pending)).unwrap_or_default();
    value["csr_pem"] = to_pem("CERTIFICATE REQUEST", &pending.csr_der).into();
    value["messages"] = serde_json::json!(report.lines);
    Reply::Json(value)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewCertificate {
    #[serde(default)]
    self_signed: bool,
    #[serde(default)]
    request: bool,
    names: Vec<String>,
    key: Option<String>,
    days: Option<u32>,
    subject: Option<String>,
    friendly_name: Option<String>,
    #[serde(default)]
    non_exportable: bool,
}

fn create(manager: &mut Manager, call: &Call) -> Result<Reply, ApiError> {
    let input: NewCertificate = call.input()?;
    let key = match &input.key {
        Some(text) => text.parse::<KeyType>().map_err(ApiError::bad_input)?,
        None => KeyType::default(),
    };
    match (input.self_signed, input.request) {
        (true, false) => {
            if input.subject.is_some() {
                return Err(ApiError::bad_input(
                    "a self-signed certificate takes its subject from its first name; fix: leave out \"subject\", or make a request",
                ));
            }
            let days = input
                .days
                .unwrap_or(mailcert_x509::build::SELF_SIGNED_DAYS);
            let report = manager.new_self_signed(
                &input.names,
                key,
                days,
                input.friendly_name,
                !input.non_exportable,
            )?;
            let thumb = report.thumbprint.clone().unwrap_or_default();
            let record = mailcert_lifecycle::find_certificate(manager.store.as_ref(), &thumb)?;
            let mut value =
                serde_json::to_value(CertView::of_certificate(&record, &[], manager.now()))
                    .unwrap_or_default();
            value["messages"] = serde_json::json!(report.lines);
            Ok(Reply::Json(value))
        }
        (false, true) => {
            if input.days.is_some() {
                return Err(ApiError::bad_input(
                    "the CA decides how long a certificate it issues is valid; fix: leave out \"days\" for a request",
                ));
            }
            let (report, pending) = manager.request(&RequestSpec {
                names: input.names,
                subject: input.subject,
                key,
                exportable: !input.non_exportable,
                friendly_name: input.friendly_name,
            })?;
            Ok(pending_reply(&report, &pending))
        }
        _ => Err(ApiError::bad_input(
            "say what to make: {\"self_signed\": true} for a self-signed certificate, or {\"request\": true} for a request to a CA; fix: set exactly one of them",
        )),
    }
}

fn show(manager: &Manager, thumb: &str) -> Result<Reply, ApiError> {
    let store = manager.store.as_ref();
    Ok(Reply::json(match find(store, thumb)? {
        Found::Certificate(c) => CertView::of_certificate(&c, &store.bindings()?, manager.now()),
        Found::Pending(p) => CertView::of_pending(&p),
    }))
}

fn pem(manager: &Manager, thumb: &str) -> Result<Reply, ApiError> {
    let store = manager.store.as_ref();
    Ok(Reply::Text(match find(store, thumb)? {
        Found::Certificate(c) => chain_pem(&c.der, &store.chain(&c.summary.thumbprint)?),
        Found::Pending(p) => to_pem("CERTIFICATE REQUEST", &p.csr_der),
    }))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Services {
    services: Vec<String>,
    listener: Option<String>,
    #[serde(default)]
    strict: bool,
}

impl Services {
    fn parse(&self) -> Result<Vec<Service>, ApiError> {
        let mut out = Vec::new();
        for text in &self.services {
            for service in Service::parse_list(text).map_err(ApiError::bad_input)? {
                if !out.contains(&service) {
                    out.push(service);
                }
            }
        }
        if out.is_empty() {
            return Err(ApiError::bad_input(
                "no service chosen; fix: choose one or more of imap, pop, https, smtp",
            ));
        }
        out.sort();
        Ok(out)
    }

    fn listener(&self) -> Option<&str> {
        self.listener.as_deref().filter(|l| !l.is_empty())
    }
}

fn preflight(app: &App, manager: &Manager, call: &Call, thumb: &str) -> Result<Reply, ApiError> {
    let input: Services = call.input()?;
    let services = input.parse()?;
    let hostnames = app
        .settings
        .config
        .hostnames_for(&services, input.listener())
        .map_err(|e| ApiError::bad_input(e.to_string()))?;
    let record = mailcert_lifecycle::find_certificate(manager.store.as_ref(), thumb)?;
    let refused = manager
        .ensure_bindable(&record)
        .err()
        .map(|e| e.to_string());
    let warnings = manager.preflight(&record, &hostnames)?;
    Ok(Reply::json(serde_json::json!({
        "thumbprint": record.summary.thumbprint,
        "hostnames": hostnames,
        "refused": refused,
        "warnings": warnings,
    })))
}

fn enable(app: &App, manager: &mut Manager, call: &Call, thumb: &str) -> Result<Reply, ApiError> {
    let input: Services = call.input()?;
    let services = input.parse()?;
    let hostnames = app
        .settings
        .config
        .hostnames_for(&services, input.listener())
        .map_err(|e| ApiError::bad_input(e.to_string()))?;
    let done = manager.enable(thumb, &services, input.listener(), &hostnames, input.strict)?;
    Ok(report(&done))
}

fn disable(manager: &mut Manager, call: &Call, thumb: &str) -> Result<Reply, ApiError> {
    let input: Services = call.input()?;
    let services = input.parse()?;
    Ok(report(&manager.disable(
        thumb,
        &services,
        input.listener(),
    )?))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RenewInput {
    #[serde(default)]
    reuse_key: bool,
}

fn renew(manager: &mut Manager, call: &Call, thumb: &str) -> Result<Reply, ApiError> {
    let input: RenewInput = call.input()?;
    Ok(match manager.renew(thumb, input.reuse_key)? {
        Renewed::InPlace(done) => report(&done),
        Renewed::Request(done, pending) => pending_reply(&done, &pending),
    })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RemoveInput {
    #[serde(default)]
    force: bool,
}

fn remove(manager: &mut Manager, call: &Call, thumb: &str) -> Result<Reply, ApiError> {
    let input: RemoveInput = call.input()?;
    Ok(report(&manager.remove(thumb, input.force)?))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ExportInput {
    password: String,
    #[serde(default)]
    legacy: bool,
    file_name: Option<String>,
}

/// A name for a downloaded file: a plain file name, never a path (the
/// browser saves it in its download folder; a proxy or a script might
/// not be so careful), and nothing that could break out of the header.
pub fn download_name(name: &str) -> Result<String, ApiError> {
    let refuse = |why: &str| {
        ApiError::bad_input(format!(
            "the export name '{}' {why}; fix: give a plain file name such as mail.pfx",
            name.chars()
                .filter(|c| !c.is_control())
                .take(80)
                .collect::<String>()
        ))
    };
    if name.is_empty() || name.len() > 128 {
        return Err(refuse("must have 1 to 128 characters"));
    }
    if name.contains('/') || name.contains('\\') || name.contains("..") {
        return Err(refuse(
            "is a path (it has '/', '\\' or '..'): an export has a file name, not a place to go",
        ));
    }
    if name.starts_with('.') {
        return Err(refuse("starts with '.' (a hidden file)"));
    }
    if let Some(c) = name.chars().find(|c| {
        c.is_control()
            || matches!(c, '"' | ';' | '<' | '>' | ':' | '*' | '?' | '|')
            || !c.is_ascii()
    }) {
        return Err(refuse(&format!(
            "has the character {c:?}, which is not allowed in a download's name"
        )));
    }
    Ok(name.to_string())
}

fn export(manager: &mut Manager, call: &Call, thumb: &str) -> Result<Reply, ApiError> {
    let input: ExportInput = call.input()?;
    let record = manager.ensure_exportable(thumb)?;
    let file_name = match &input.file_name {
        Some(name) => download_name(name)?,
        None => {
            let cn = record.summary.subject_cn();
            let safe: String = cn
                .chars()
                .map(|c| {
                    if c.is_ascii_alphanumeric() || c == '-' {
                        c
                    } else {
                        '_'
                    }
                })
                .collect();
            format!("{}.pfx", safe.trim_matches('_').replace("__", "_"))
        }
    };
    let form = if input.legacy {
        PfxForm::Legacy
    } else {
        PfxForm::Modern
    };
    let (pfx, record) = manager.export_pfx(thumb, &input.password, form)?;
    let words = if input.legacy {
        "legacy PFX (RC2-40 certificates, 3DES key, SHA-1 MAC)"
    } else {
        "PFX (AES-256, PBKDF2, HMAC-SHA256)"
    };
    manager.record_export(
        &record,
        words,
        &format!("the console download '{file_name}'"),
    )?;
    Ok(Reply::Download {
        bytes: pfx,
        content_type: "application/x-pkcs12",
        file_name,
    })
}

/// An uploaded file: its name (for messages) and base64 content.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Upload {
    file_name: String,
    file: String,
}

impl Upload {
    fn read(&self) -> Result<InputFile, ApiError> {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(self.file.trim())
            .map_err(|e| {
                ApiError::bad_input(format!(
                    "{}: the upload is not base64 ({e}); fix: send the file's bytes base64-encoded in \"file\"",
                    self.file_name
                ))
            })?;
        if bytes.is_empty() {
            return Err(ApiError::bad_input(format!(
                "{}: the file is empty; fix: choose the file the CA sent",
                self.file_name
            )));
        }
        Ok(InputFile {
            name: self.file_name.chars().filter(|c| !c.is_control()).collect(),
            bytes,
        })
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CompleteInput {
    #[serde(flatten)]
    answer: Upload,
    #[serde(default)]
    chain: Vec<Upload>,
}

fn complete(manager: &mut Manager, call: &Call) -> Result<Reply, ApiError> {
    let input: CompleteInput = call.input()?;
    let answer = input.answer.read()?;
    let chain = input
        .chain
        .iter()
        .map(Upload::read)
        .collect::<Result<Vec<_>, _>>()?;
    Ok(report(&manager.complete(&answer, &chain)?))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ImportInput {
    #[serde(flatten)]
    file: Upload,
    /// The PFX password, or the password of an encrypted PEM key.
    password: Option<String>,
    key_file: Option<Upload>,
    #[serde(default)]
    non_exportable: bool,
}

fn import(manager: &mut Manager, call: &Call) -> Result<Reply, ApiError> {
    let input: ImportInput = call.input()?;
    let file = input.file.read()?;
    let item = if looks_like_pfx(&file.bytes) {
        if input.key_file.is_some() {
            return Err(ApiError::bad_input(format!(
                "{}: a key file is for PEM files; a .pfx carries its own key",
                file.name
            )));
        }
        // As the command line does: a PFX without a password opens with
        // the empty one.
        read_pfx_file(&file, input.password.as_deref().unwrap_or(""))?
    } else {
        let key = input.key_file.as_ref().map(Upload::read).transpose()?;
        read_pem_files(&file, key.as_ref(), input.password.as_deref())?
    };
    Ok(report(&manager.import(
        &file.name,
        item,
        !input.non_exportable,
    )?))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PlanInput {
    plan: String,
    file_name: Option<String>,
    at: Option<String>,
}

fn plan(call: &Call) -> Result<Reply, ApiError> {
    let input: PlanInput = call.input()?;
    let at = match &input.at {
        Some(text) => mailcert_x509::time::parse_at(text)
            .map_err(|e| ApiError::bad_input(format!("at: {e}")))?,
        None => time::OffsetDateTime::now_utc(),
    };
    let name = input.file_name.as_deref().unwrap_or("org.toml");
    let plan = mailcert_plan::plan_toml(&input.plan, name, at)
        .map_err(|e| ApiError::bad_input(e.to_string()))?;
    Ok(Reply::json(plan))
}

fn audit(manager: &Manager, call: &Call) -> Result<Reply, ApiError> {
    let limit = call
        .query("limit")
        .and_then(|l| l.parse::<usize>().ok())
        .unwrap_or(100)
        .clamp(1, 10_000);
    let entries = manager.store.audit_log(limit)?;
    let rows: Vec<_> = entries
        .iter()
        .rev()
        .map(|e| {
            serde_json::json!({
                "id": e.id,
                "at": mailcert_x509::time::rfc3339(e.at),
                "user": e.user,
                "action": e.action,
                "detail": e.detail,
            })
        })
        .collect();
    Ok(Reply::json(rows))
}

fn listeners(app: &App) -> Reply {
    let rows: Vec<_> = app
        .settings
        .config
        .listeners
        .iter()
        .map(|l| {
            serde_json::json!({
                "name": l.name,
                "service": l.protocol.service().as_str(),
                "bind": l.bind.to_string(),
                "hostname": l.hostname,
            })
        })
        .collect();
    Reply::json(rows)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CheckInput {
    endpoint: String,
    connect: Option<String>,
    name: Option<String>,
}

/// `check ENDPOINT` with the system's roots and the store's anchors.
async fn check(app: &Arc<App>, call: &Call) -> Result<Reply, ApiError> {
    let input: CheckInput = call.input()?;
    let location = app.settings.store.clone();
    let bad = |e: mailcert_check::CheckError| ApiError::bad_input(e.to_string());
    let endpoints = mailcert_check::Endpoint::parse_all(input.endpoint.trim()).map_err(bad)?;
    let connect = input
        .connect
        .as_deref()
        .filter(|c| !c.trim().is_empty())
        .map(|c| mailcert_check::ConnectTo::parse(c.trim()))
        .transpose()
        .map_err(bad)?;
    if let Some(name) = input.name.as_deref().filter(|n| !n.is_empty()) {
        mailcert_check::check_name(name).map_err(bad)?;
    }
    let (tx, rx) = tokio::sync::oneshot::channel();
    // The checker runs its own runtime: a thread of its own, not one of
    // the server's.
    std::thread::spawn(move || {
        let run = || -> Result<mailcert_check::Report, ApiError> {
            let mut trust = mailcert_check::TrustStore::system();
            let store = mailcert_store::open(&location)?;
            for anchor in store.anchors()? {
                let _ = trust.add(
                    &anchor.der,
                    mailcert_check::Origin::Private,
                    "the store's trust anchors",
                );
            }
            let mut settings =
                mailcert_check::Settings::new(trust, time::OffsetDateTime::now_utc());
            settings.connect = connect;
            settings.name = input.name.filter(|n| !n.is_empty());
            mailcert_check::check_endpoints(&endpoints, &settings, None)
                .map_err(|e| ApiError::bad_input(e.to_string()))
        };
        let _ = tx.send(run());
    });
    let report = rx
        .await
        .map_err(|_| ApiError::internal("the check stopped unexpectedly"))??;
    let mut value = serde_json::to_value(&report).unwrap_or_default();
    value["has_errors"] = report.has_errors().into();
    Ok(Reply::Json(value))
}

#[cfg(test)]
mod tests {
    use super::download_name;

    #[test]
    fn export_names_are_plain_file_names() {
        assert_eq!(download_name("mail.pfx").unwrap(), "mail.pfx");
        for bad in [
            "../../etc/passwd",
            "a/b.pfx",
            "..\\x.pfx",
            ".hidden",
            "a\"b.pfx",
            "a\r\nSet-Cookie: x",
            "",
        ] {
            assert!(download_name(bad).is_err(), "{bad:?}");
        }
    }
}
