//! What the mock says about itself: RFC 8414 authorization server metadata (at the
//! well-known path when the profile serves it) and the richer `/__handshake/metadata`.

use std::sync::Arc;

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use handshake_profile::{Anchor, FieldPath, PagingStyle, Profile};
use serde_json::{json, Value};

use crate::state::{exchange_path, Shared};
use crate::{dataset, native};

/// RFC 8414 authorization server metadata.
fn rfc8414(s: &Shared) -> serde_json::Map<String, Value> {
    let p = &s.profile;
    let mut m = serde_json::Map::new();
    m.insert("issuer".into(), Value::String(s.issuer()));
    m.insert(
        "authorization_endpoint".into(),
        Value::String(s.url(&p.oauth.authorize_path)),
    );
    m.insert(
        "token_endpoint".into(),
        Value::String(s.url(&p.oauth.token_path)),
    );
    if let Some(r) = p.oauth.revoke_path() {
        m.insert("revocation_endpoint".into(), Value::String(s.url(r)));
    }
    let auth: Vec<&str> = p
        .token_request
        .client_auth
        .iter()
        .map(|a| a.as_str())
        .collect();
    m.insert("token_endpoint_auth_methods_supported".into(), json!(auth));
    if p.oauth.revoke_path().is_some() {
        m.insert(
            "revocation_endpoint_auth_methods_supported".into(),
            json!(auth),
        );
    }
    let pkce: Vec<&str> = if p.pkce.supported() {
        p.pkce.methods.iter().map(|m| m.as_str()).collect()
    } else {
        Vec::new()
    };
    m.insert("code_challenge_methods_supported".into(), json!(pkce));
    m.insert("scopes_supported".into(), json!(p.scopes.supported));
    m.insert("response_types_supported".into(), json!(["code"]));
    m.insert("response_modes_supported".into(), json!(["query"]));
    let grants: &[&str] = if p.tokens.refresh_tokens {
        &["authorization_code", "refresh_token"]
    } else {
        &["authorization_code"]
    };
    m.insert("grant_types_supported".into(), json!(grants));
    if p.oauth.iss_parameter {
        // RFC 9207 §3; omitted means false, so the built-ins' metadata is unchanged.
        m.insert(
            "authorization_response_iss_parameter_supported".into(),
            Value::Bool(true),
        );
    }
    m
}

/// RFC 8414 metadata plus what handshake knows about the provider.
pub(crate) fn metadata(s: &Shared) -> Value {
    let p = &s.profile;
    let mut m = rfc8414(s);
    m.insert("provider".into(), Value::String(p.id.clone()));
    m.insert("name".into(), Value::String(p.name.clone()));
    m.insert("oauth_documented".into(), Value::Bool(p.oauth_documented()));
    m.insert("api_resource".into(), Value::String(s.url(&p.api.path)));
    // The registered client, never its secret.
    m.insert(
        "client".into(),
        json!({
            "client_id": s.client.client_id,
            "redirect_uris": s.client.redirect_uris,
        }),
    );
    m.insert("users".into(), json!(s.users));
    m.insert(
        "token_request_encodings".into(),
        json!(p.token_request.encodings),
    );
    m.insert("pkce_mode".into(), json!(p.pkce.mode));
    m.insert("refresh_token_rotation".into(), json!(p.tokens.rotation));
    let provenance: serde_json::Map<String, Value> = p
        .origins()
        .into_iter()
        .map(|(k, o)| (k.to_owned(), json!(o)))
        .collect();
    m.insert("provenance".into(), Value::Object(provenance));
    m.insert("auth_modes".into(), json!(p.auth_modes()));
    m.insert("native_auth".into(), native_info(s));
    m.insert(
        "api".into(),
        json!({
            "list": s.url(&p.api.path),
            "item": format!("{}/{{id}}", s.url(&p.api.path)),
            "envelope": p.api.envelope,
            "item_envelope": p.api.item_envelope,
            "format": p.api.format,
            "empty_status": p.api.empty_status,
            "not_found_status": p.api.not_found_status,
        }),
    );
    m.insert("paging".into(), paging_info(p));
    m.insert(
        "dataset".into(),
        json!({
            "count": s.records.len(),
            "seed": s.seed,
            "id_field": dataset::id_field(p),
            "first_id": s.records.first().and_then(|r| r.get(dataset::id_field(p))),
            "last_id": s.records.last().and_then(|r| r.get(dataset::id_field(p))),
        }),
    );
    let rl = &p.rate_limit;
    m.insert(
        "rate_limit".into(),
        match s.rate_limit {
            Some((limit, window)) => json!({
                "limit": limit,
                "window_secs": window.as_secs(),
                "per": "each OAuth grant, and the native credentials, separately",
                "headers": rl.headers,
                "retry_after": rl.retry_after,
                "body": serde_json::from_str::<Value>(&rl.body).unwrap_or(Value::Null),
                "status": rl.status,
            }),
            None => Value::Null,
        },
    );
    Value::Object(m)
}

/// The native scheme and the non-secret parts of its credentials (`null` without one).
pub(crate) fn native_info(s: &Shared) -> Value {
    let Some(n) = &s.profile.native_auth else {
        return Value::Null;
    };
    let verifier = native::verifier(n.scheme);
    let authorization = verifier.described(n);
    let credentials: serde_json::Map<String, Value> = s
        .native
        .public_parts(n.scheme)
        .into_iter()
        .map(|(k, v)| (k.to_owned(), Value::String(v.to_owned())))
        .collect();
    let mut v = json!({
        "scheme": n.scheme.as_str(),
        "authorization": authorization,
        "credentials": credentials,
        "provenance": n.origin.provenance,
    });
    if let Some(path) = exchange_path(&s.profile) {
        v["exchange_endpoint"] = json!(s.url(path));
        v["exchange_authorization"] = json!(verifier.exchange_authorization());
    }
    if let Some(h) = &n.client_id_header {
        v["client_id_header"] = json!(h);
    }
    if let Some(h) = &n.key_header {
        v["key_header"] = json!(h);
    }
    if let Some(version) = &s.profile.api.current_version {
        v["api_current_version"] = json!(version);
    }
    v
}

/// How the API pages, without provenance (that is under `provenance.paging`).
fn paging_info(p: &Profile) -> Value {
    let Some(paging) = &p.api.paging else {
        return Value::Null;
    };
    let mut v = json!(paging);
    if let Value::Object(m) = &mut v {
        // Provenance is under `provenance.paging`; the paths and forward-only names are
        // shown in the shapes below, as the control API has always shown them.
        for k in [
            "provenance",
            "sources",
            "note",
            "total_pages_at",
            "total_records_at",
            "cursor_at",
            "count_at",
            "has_more_at",
            "next_url_at",
            "done_at",
            "record_count_at",
            "count",
            "next_skip_at",
            "forward_only_header",
            "forward_only_value",
            "page_id_param",
        ] {
            m.remove(k);
        }
        if paging.forward_only {
            let header = format!(
                "{}: {}",
                paging.forward_only_header, paging.forward_only_value
            );
            m.insert(
                "forward_only".into(),
                json!({ "header": header, "param": paging.page_id_param }),
            );
        }
        if paging.style == PagingStyle::Cursor {
            m.insert("cursor_field".into(), json!(field_name(&paging.cursor_at)));
            if paging.count {
                m.insert("count_field".into(), json!(field_name(&paging.count_at)));
            }
        }
        for (key, at) in [
            ("has_more_field", &paging.has_more_at),
            ("next_url_field", &paging.next_url_at),
            ("done_field", &paging.done_at),
            ("record_count_field", &paging.record_count_at),
            ("next_skip_field", &paging.next_skip_at),
        ] {
            if let Some(at) = at {
                m.insert(key.into(), json!(at.as_str()));
            }
        }
    }
    v
}

/// How the metadata names a field: a record's field by its name (`cursor`), a field of the
/// body by its path (`/paging/next/after`).
fn field_name(at: &FieldPath) -> &str {
    match (at.anchor(), at.tokens()) {
        (Anchor::FirstRecord | Anchor::LastRecord, [name]) => name,
        _ => at.as_str(),
    }
}

/// `GET /.well-known/oauth-authorization-server`.
pub(crate) async fn well_known(State(s): State<Arc<Shared>>) -> Response {
    axum::Json(Value::Object(rfc8414(&s))).into_response()
}
