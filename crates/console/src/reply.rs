//! Answers: JSON bodies, errors as `{"error", "fix"}`, downloads, the
//! security headers every answer carries, and the session cookie.

use bytes::Bytes;
use http::header::{self, HeaderValue};
use http::{Response, StatusCode};
use http_body_util::Full;
use serde::Serialize;

use crate::sessions::COOKIE_NAME;

pub type Body = Full<Bytes>;

/// What a handler answers when it succeeds.
#[derive(Debug)]
pub enum Reply {
    Json(serde_json::Value),
    /// A file to save: bytes, content type, file name.
    Download {
        bytes: Vec<u8>,
        content_type: &'static str,
        file_name: String,
    },
    Text(String),
}

impl Reply {
    pub fn json(value: impl Serialize) -> Reply {
        Reply::Json(serde_json::to_value(value).unwrap_or(serde_json::Value::Null))
    }
}

/// An error as the API answers it: the sentence the command line prints,
/// and the fix on its own.
#[derive(Debug, Clone)]
pub struct ApiError {
    pub status: StatusCode,
    pub error: String,
    pub fix: String,
    /// Seconds for `Retry-After` (429).
    pub retry_after: Option<u64>,
}

impl ApiError {
    pub fn new(status: StatusCode, error: impl Into<String>, fix: impl Into<String>) -> ApiError {
        ApiError {
            status,
            error: error.into(),
            fix: fix.into(),
            retry_after: None,
        }
    }

    /// Bad input: the CLI's sentence, and the fix taken out of it.
    pub fn bad_input(sentence: impl Into<String>) -> ApiError {
        let error = sentence.into();
        let fix = fix_of(&error);
        ApiError::new(StatusCode::BAD_REQUEST, error, fix)
    }

    pub fn unauthorized(why: &str) -> ApiError {
        ApiError::new(
            StatusCode::UNAUTHORIZED,
            format!("{why}; this needs a console session"),
            "log in again: POST /api/v1/login with {\"user\", \"password\"} (the console's login page does it)",
        )
    }

    pub fn not_found(path: &str) -> ApiError {
        ApiError::new(
            StatusCode::NOT_FOUND,
            format!("there is no {path} in the console's API"),
            "see docs/console.md for the endpoints under /api/v1/",
        )
    }

    pub fn internal(error: impl std::fmt::Display) -> ApiError {
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            error.to_string(),
            "see the log of mailcert serve; the store was not changed",
        )
    }
}

/// The advice part of a sentence: after "Fix:"/"fix:", else after the
/// first "; ", else the last sentence after ". ".
pub fn fix_of(sentence: &str) -> String {
    for marker in ["Fix: ", "fix: "] {
        if let Some((_, fix)) = sentence.split_once(marker) {
            return fix.trim().to_string();
        }
    }
    if let Some((_, fix)) = sentence.split_once("; ") {
        return fix.trim().to_string();
    }
    if let Some((_, fix)) = sentence.trim_end_matches('.').rsplit_once(". ") {
        return fix.trim().to_string();
    }
    "correct the input and try again".to_string()
}

impl From<mailcert_lifecycle::LifecycleError> for ApiError {
    fn from(e: mailcert_lifecycle::LifecycleError) -> ApiError {
        use mailcert_lifecycle::LifecycleError as L;
        match e {
            L::Store(store) => store_error(store),
            other => ApiError::bad_input(other.to_string()),
        }
    }
}

impl From<mailcert_store::StoreError> for ApiError {
    fn from(e: mailcert_store::StoreError) -> ApiError {
        store_error(e)
    }
}

impl From<crate::ConsoleError> for ApiError {
    fn from(e: crate::ConsoleError) -> ApiError {
        match e {
            crate::ConsoleError::Store(store) => store_error(store),
            other => ApiError::bad_input(other.to_string()),
        }
    }
}

fn store_error(e: mailcert_store::StoreError) -> ApiError {
    use mailcert_store::StoreError as S;
    match e {
        S::Refused(_) | S::Conflict { .. } => {
            let text = e.to_string();
            ApiError::new(StatusCode::CONFLICT, text.clone(), fix_of(&text))
        }
        other => ApiError::internal(other),
    }
}

/// Headers on every answer: the pages load only their own script and
/// style, are never framed, and nothing is cached or sniffed.
fn secure(builder: http::response::Builder) -> http::response::Builder {
    builder
        .header(
            header::STRICT_TRANSPORT_SECURITY,
            "max-age=31536000",
        )
        .header(
            header::CONTENT_SECURITY_POLICY,
            "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        )
        .header(header::X_CONTENT_TYPE_OPTIONS, "nosniff")
        .header(header::X_FRAME_OPTIONS, "DENY")
        .header(header::REFERRER_POLICY, "no-referrer")
        .header("Cross-Origin-Opener-Policy", "same-origin")
        .header("Cross-Origin-Resource-Policy", "same-origin")
        .header(header::CACHE_CONTROL, "no-store")
}

pub fn respond(status: StatusCode, content_type: &str, body: Vec<u8>) -> Response<Body> {
    secure(Response::builder())
        .status(status)
        .header(header::CONTENT_TYPE, content_type)
        .body(Full::new(Bytes::from(body)))
        .unwrap_or_else(|_| Response::new(Full::new(Bytes::new())))
}

pub fn json_response(status: StatusCode, value: &serde_json::Value) -> Response<Body> {
    let mut body = serde_json::to_vec_pretty(value).unwrap_or_default();
    body.push(b'\n');
    respond(status, "application/json", body)
}

pub fn error_response(error: &ApiError) -> Response<Body> {
    let mut response = json_response(
        error.status,
        &serde_json::json!({"error": error.error, "fix": error.fix}),
    );
    if let Some(seconds) = error.retry_after {
        if let Ok(value) = HeaderValue::from_str(&seconds.to_string()) {
            response.headers_mut().insert(header::RETRY_AFTER, value);
        }
    }
    response
}

pub fn reply_response(reply: Reply) -> Response<Body> {
    match reply {
        Reply::Json(value) => json_response(StatusCode::OK, &value),
        Reply::Text(text) => respond(
            StatusCode::OK,
            "text/plain; charset=utf-8",
            text.into_bytes(),
        ),
        Reply::Download {
            bytes,
            content_type,
            file_name,
        } => {
            let mut response = respond(StatusCode::OK, content_type, bytes);
            // The name was checked to be a plain file name (see
            // `api::download_name`): no quote, separator or control character.
            if let Ok(value) =
                HeaderValue::from_str(&format!("attachment; filename=\"{file_name}\""))
            {
                response
                    .headers_mut()
                    .insert(header::CONTENT_DISPOSITION, value);
            }
            response
        }
    }
}

/// The session cookie: Secure, HttpOnly, SameSite=Strict, for the whole
/// host; a session cookie (no expiry: the server enforces the idle time).
pub fn set_cookie(response: &mut Response<Body>, value: &str) {
    let cookie = format!("{COOKIE_NAME}={value}; Path=/; Secure; HttpOnly; SameSite=Strict");
    if let Ok(value) = HeaderValue::from_str(&cookie) {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
}

/// Tells the browser to forget the session cookie.
pub fn clear_cookie(response: &mut Response<Body>) {
    let cookie = format!("{COOKIE_NAME}=; Path=/; Secure; HttpOnly; SameSite=Strict; Max-Age=0");
    if let Ok(value) = HeaderValue::from_str(&cookie) {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
}

#[cfg(test)]
mod tests {
    use super::fix_of;

    #[test]
    fn fixes_are_taken_out_of_the_sentences() {
        assert_eq!(
            fix_of("x is in use: imap; disable it first, or use --force"),
            "disable it first, or use --force"
        );
        assert_eq!(fix_of("bad thing. Fix: do this"), "do this");
        assert_eq!(
            fix_of("the key is non-exportable. Export the certificate alone with --pem"),
            "Export the certificate alone with --pem"
        );
    }
}
