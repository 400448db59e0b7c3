//! The control API as a contract: `crates/mock/openapi.json`, an OpenAPI 3.1 document of
//! every `/__handshake/*` endpoint (requests, answers, errors; schemas in JSON Schema
//! 2020-12), embedded here and served at `GET /__handshake/openapi.json`. The mock's tests
//! check every control answer they see against it (`tests/openapi.rs`).

use axum::http::header::CONTENT_TYPE;
use axum::http::HeaderValue;
use axum::response::{IntoResponse, Response};

/// The OpenAPI 3.1 document of the control API (`/__handshake/*`), as served at
/// `GET /__handshake/openapi.json`.
///
/// ```
/// let doc: serde_json::Value = serde_json::from_str(handshake_mock::OPENAPI_JSON).unwrap();
/// assert!(doc["openapi"].as_str().unwrap().starts_with("3.1."));
/// assert!(doc["paths"]["/__handshake/faults"]["post"].is_object());
/// ```
pub const OPENAPI_JSON: &str = include_str!("../openapi.json");

/// `GET /__handshake/openapi.json`.
pub(crate) async fn document() -> Response {
    let mut resp = OPENAPI_JSON.into_response();
    resp.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    resp
}
