//! The pages: one HTML shell, its script and its style sheet, compiled
//! into the binary (no toolchain beyond cargo builds or serves them).
//! They carry no data: everything comes from the API after the login,
//! and every text from the store is put in the page as text (the script
//! never builds HTML from data), so a subject or a file name holding
//! markup shows as what it is.

use http::Response;
use http::{Method, StatusCode};

use crate::reply::{self, ApiError, Body};

const INDEX: &str = include_str!("../assets/index.html");
const SCRIPT: &str = include_str!("../assets/app.js");
const STYLE: &str = include_str!("../assets/app.css");

pub(crate) fn serve(method: &Method, path: &str) -> Response<Body> {
    if method != Method::GET && method != Method::HEAD {
        return reply::error_response(&ApiError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "the pages are only read (GET)",
            "use GET",
        ));
    }
    let (content_type, body) = match path {
        "/" | "/index.html" => ("text/html; charset=utf-8", INDEX),
        "/app.js" => ("text/javascript; charset=utf-8", SCRIPT),
        "/app.css" => ("text/css; charset=utf-8", STYLE),
        _ => return reply::error_response(&ApiError::not_found(path)),
    };
    reply::respond(StatusCode::OK, content_type, body.as_bytes().to_vec())
}
