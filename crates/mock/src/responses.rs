//! Answers more than one endpoint gives: RFC 6749 error JSON, the journal's marks on a
//! response (why it refused, for which user), and the headers of HTML pages.

use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE, PRAGMA};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::types::{OAuthError, Relaxation};

/// Why a request was refused, for the journal: a response extension set where the refusal
/// is made, read by the journal layer (`observe.rs`). Never holds a secret.
#[derive(Debug, Clone)]
pub(crate) struct Refusal {
    pub(crate) error: Option<String>,
    pub(crate) description: String,
    pub(crate) requirement: Option<Relaxation>,
}

/// The user account (index) a response acted for, for the journal.
#[derive(Debug, Clone, Copy)]
pub(crate) struct UserUsed(pub(crate) usize);

/// Marks `resp` as a refusal with this error code (`None` for an HTML page) and reason.
pub(crate) fn refused(mut resp: Response, error: Option<&str>, description: &str) -> Response {
    resp.extensions_mut().insert(Refusal {
        error: error.map(str::to_owned),
        description: description.to_owned(),
        requirement: None,
    });
    resp
}

/// Says that `resp` refused the request because of requirement `r`, which
/// `MockProvider::relax(r)` lifts.
pub(crate) fn blocked_by(mut resp: Response, r: Relaxation) -> Response {
    if let Some(refusal) = resp.extensions_mut().get_mut::<Refusal>() {
        refusal.requirement = Some(r);
    }
    resp
}

/// Says that `resp` acted for user `user`.
pub(crate) fn with_user(mut resp: Response, user: usize) -> Response {
    resp.extensions_mut().insert(UserUsed(user));
    resp
}

/// An RFC 6749 §5.2 error body with `status`, never cached.
pub(crate) fn oauth_json(status: StatusCode, error: &str, description: &str) -> Response {
    let body = json!({ "error": error, "error_description": description });
    let mut resp = (status, axum::Json(body)).into_response();
    no_store(resp.headers_mut());
    refused(resp, Some(error), description)
}

/// An RFC 6749 error with the status the error code calls for.
pub(crate) fn oauth_error(error: OAuthError, description: &str) -> Response {
    let status = StatusCode::from_u16(error.status()).unwrap_or(StatusCode::BAD_REQUEST);
    oauth_json(status, error.as_str(), description)
}

/// `Cache-Control: no-store` and `Pragma: no-cache` (RFC 6749 §5.1).
pub(crate) fn no_store(h: &mut HeaderMap) {
    h.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(PRAGMA, HeaderValue::from_static("no-cache"));
}

/// Escapes text for HTML content and attribute values.
pub(crate) fn html_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// The headers of the mock's HTML pages: not framed, not cached, no referrer, nothing
/// loaded from elsewhere.
pub(crate) fn html_headers(h: &mut HeaderMap) {
    h.insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    h.insert(
        HeaderName::from_static("x-frame-options"),
        HeaderValue::from_static("DENY"),
    );
    h.insert(
        HeaderName::from_static("referrer-policy"),
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(
        HeaderName::from_static("content-security-policy"),
        HeaderValue::from_static(
            "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'",
        ),
    );
    h.insert(
        HeaderName::from_static("x-content-type-options"),
        HeaderValue::from_static("nosniff"),
    );
    no_store(h);
}
