//! What the mock says about itself: RFC 8414 authorization server metadata (at the
//! well-known path when the profile serves it) and the richer `/__handshake/metadata`.

use std::sync::Arc;

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use handshake_profile::{NativeScheme, PagingStyle, Profile};
use serde_json::{json, Value};

use crate::state::{exchange_path, Shared};
use crate::{dataset, resource};

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
    let authorization = resource::authorization_of(n.scheme);
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
        v["exchange_authorization"] = json!("Basic base64(api_key:username:password)");
    }
    if let Some(h) = &n.client_id_header {
        v["client_id_header"] = json!(h);
    }
    if n.scheme == NativeScheme::ConnectwiseMemberKey {
        v["api_current_version"] = json!(resource::CONNECTWISE_CURRENT_VERSION);
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
        for k in ["provenance", "sources", "note"] {
            m.remove(k);
        }
        if paging.forward_only {
            m.insert(
                "forward_only".into(),
                json!({ "header": "pagination-type: forward-only", "param": resource::PAGE_ID_PARAM }),
            );
        }
        if paging.style == PagingStyle::Cursor {
            m.insert("cursor_field".into(), json!("cursor"));
            m.insert("count_field".into(), json!("count"));
        }
    }
    v
}

/// `GET /.well-known/oauth-authorization-server`.
pub(crate) async fn well_known(State(s): State<Arc<Shared>>) -> Response {
    axum::Json(Value::Object(rfc8414(&s))).into_response()
}
