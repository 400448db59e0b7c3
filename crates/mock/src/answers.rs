//! Complete error answers. Whatever refuses a request (the router's `405` with its `Allow`
//! header and no body, its `404`, an extractor's plain-text rejection, the `413` of an
//! oversized body), the answer speaks the endpoint's language: an RFC 6749 error JSON
//! (`{"error":"invalid_request","error_description":...}`, `Cache-Control: no-store`) on
//! the OAuth endpoints, the control API and any other path, and the CRM's own error shape
//! (the profile's `errors` templates) on the API resource.
//!
//! Answers that already have a body of their own (JSON, the HTML pages of the
//! authorization endpoint, the CRM's bodies) pass unchanged.

use axum::body::Body;
use axum::http::header::{ALLOW, CACHE_CONTROL, CONTENT_LENGTH, CONTENT_TYPE, PRAGMA};
use axum::http::{HeaderValue, Method, StatusCode, Uri};
use axum::response::Response;

use crate::responses::refused;
use crate::state::{exchange_path, Shared};

/// Completes a bodiless or plain-text error answer to `method uri` (see the module doc);
/// any other answer passes unchanged.
pub(crate) fn complete(s: &Shared, method: &Method, uri: &Uri, resp: Response) -> Response {
    let status = resp.status();
    if !(status.is_client_error() || status.is_server_error()) || has_own_body(&resp) {
        return resp;
    }
    let api = is_api_path(s, uri.path());
    let path: String = uri.path().chars().take(200).collect();
    let description = match status {
        StatusCode::METHOD_NOT_ALLOWED => {
            let allow = resp
                .headers()
                .get(ALLOW)
                .and_then(|v| v.to_str().ok())
                .filter(|v| !v.is_empty())
                .unwrap_or("another method");
            format!("method {method} is not allowed at {path}; use {allow}")
        }
        StatusCode::NOT_FOUND => format!("no endpoint at {path}"),
        StatusCode::UNSUPPORTED_MEDIA_TYPE => {
            "the request body's Content-Type is not accepted here".to_owned()
        }
        other => other
            .canonical_reason()
            .unwrap_or("the request was refused")
            .to_owned(),
    };
    rebuild(s, resp, api, &description)
}

/// The `413` for a body over [`BODY_LIMIT`](crate::limits::BODY_LIMIT) at `path`.
pub(crate) fn payload_too_large(s: &Shared, path: &str) -> Response {
    let mut resp = Response::new(Body::empty());
    *resp.status_mut() = StatusCode::PAYLOAD_TOO_LARGE;
    let d = format!("request body exceeds {} bytes", crate::limits::BODY_LIMIT);
    rebuild(s, resp, is_api_path(s, path), &d)
}

/// The `408` for a body that did not arrive within `timeout` at `path`.
pub(crate) fn body_timed_out(s: &Shared, path: &str, timeout: std::time::Duration) -> Response {
    let mut resp = Response::new(Body::empty());
    *resp.status_mut() = StatusCode::REQUEST_TIMEOUT;
    resp.headers_mut().insert(
        axum::http::header::CONNECTION,
        HeaderValue::from_static("close"),
    );
    let d = format!(
        "the request body did not arrive within {} ms",
        timeout.as_millis()
    );
    rebuild(s, resp, is_api_path(s, path), &d)
}

/// Whether `path` belongs to the API resource (its list, items, anything below it, and
/// Redtail's key exchange).
fn is_api_path(s: &Shared, path: &str) -> bool {
    let api = s.profile.api.path.as_str();
    path == api
        || path
            .strip_prefix(api)
            .is_some_and(|rest| rest.starts_with('/'))
        || exchange_path(&s.profile) == Some(path)
}

fn has_own_body(resp: &Response) -> bool {
    resp.headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| {
            let ct = ct.to_ascii_lowercase();
            ct.starts_with("application/json")
                || ct.starts_with("text/html")
                || ct.starts_with("application/xml")
        })
}

/// `resp` with its status and headers (`Allow`, `WWW-Authenticate`, ...) and an error body
/// in the endpoint's shape.
fn rebuild(s: &Shared, resp: Response, api: bool, description: &str) -> Response {
    let (mut parts, _) = resp.into_parts();
    let status = parts.status;
    let (error, body) = if api {
        let (template, error) = if status == StatusCode::NOT_FOUND {
            (&s.profile.errors.not_found_body, "not_found")
        } else {
            (&s.profile.errors.bad_request_body, "invalid_request")
        };
        (error, s.profile.errors.render(template, error, description))
    } else {
        let error = if status.is_server_error() {
            "temporarily_unavailable"
        } else {
            "invalid_request"
        };
        let body = serde_json::json!({ "error": error, "error_description": description });
        (error, body.to_string())
    };
    parts.headers.remove(CONTENT_LENGTH);
    parts
        .headers
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    if !api {
        parts
            .headers
            .insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
        parts
            .headers
            .insert(PRAGMA, HeaderValue::from_static("no-cache"));
    }
    let resp = Response::from_parts(parts, Body::from(body));
    refused(resp, Some(error), description)
}
