//! The control API, `/__handshake/*`: user accounts and relaxations (`users`, `records`,
//! `grants`, `relax`, and `revoke`, all grants or one user's); the journal
//! (`journal?since=N`) and the faults (`faults`: list, arm, clear); the clock (`clock`,
//! `expire`), `reset`, `metadata`, `native` and `healthz`. The live page and its feed are in
//! `page.rs`. Bad input gets 400 with an RFC 6749-shaped error JSON, never a 5xx.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;

use crate::params;
use crate::responses::oauth_json;
use crate::state::Shared;
use crate::sync::lock;
use crate::types::{Endpoint, Fault, FaultKind, Relaxation};

/// A control call's 400, in the RFC 6749 error shape.
fn control_error(description: String) -> Response {
    oauth_json(StatusCode::BAD_REQUEST, "invalid_request", &description)
}

/// The user named by `?user=NAME`: `Ok(None)` when the query names none; `Err` (the reason
/// for a 400) for a malformed query, another parameter, or an unknown user.
fn user_query(s: &Shared, uri: &Uri) -> Result<Option<usize>, String> {
    let q = params::parse_urlencoded(uri.query().unwrap_or("").as_bytes())
        .map_err(|e| format!("query string: {e}"))?;
    q.reject_duplicates().map_err(|e| e.to_string())?;
    if let Some((k, _)) = q.0.iter().find(|(k, _)| k != "user") {
        let k: String = k.chars().take(40).collect();
        return Err(format!("unknown parameter {k:?}; the only one is user"));
    }
    // `?user=` names the empty user, which does not exist: not the same as no `user`.
    match q
        .0
        .iter()
        .find(|(k, _)| k == "user")
        .map(|(_, v)| v.as_str())
    {
        None => Ok(None),
        Some(name) => s
            .user_index(name)
            .map(Some)
            .ok_or_else(|| unknown_user(s, name)),
    }
}

fn unknown_user(s: &Shared, name: &str) -> String {
    let name: String = name.chars().take(40).collect();
    format!(
        "unknown user {name:?}; the users are {}",
        s.users.join(", ")
    )
}

/// `GET /__handshake/users`: `{"users": ["alice", "bob"]}`.
pub(crate) async fn users(State(s): State<Arc<Shared>>) -> Response {
    axum::Json(json!({ "users": s.users })).into_response()
}

/// `GET /__handshake/records?user=bob`: every record the API lists for that user's grants
/// (the first user's without `user`).
pub(crate) async fn records(State(s): State<Arc<Shared>>, uri: Uri) -> Response {
    match user_query(&s, &uri) {
        Ok(user) => axum::Json(s.records_of(user.unwrap_or(0))).into_response(),
        Err(reason) => control_error(reason),
    }
}

/// `GET /__handshake/grants?user=bob`: `{"live": N}`, that user's live grants; without
/// `user`, every user's, plus `"by_user": {"alice": N, ...}`.
pub(crate) async fn grants(State(s): State<Arc<Shared>>, uri: Uri) -> Response {
    match user_query(&s, &uri) {
        Ok(Some(user)) => {
            let live = lock(&s.store).live_grants(Some(user), s.now());
            axum::Json(json!({ "live": live })).into_response()
        }
        Ok(None) => {
            let now = s.now();
            let store = lock(&s.store);
            let live = store.live_grants(None, now);
            let by_user: serde_json::Map<String, serde_json::Value> = s
                .users
                .iter()
                .enumerate()
                .map(|(i, name)| (name.clone(), json!(store.live_grants(Some(i), now))))
                .collect();
            drop(store);
            axum::Json(json!({ "live": live, "by_user": by_user })).into_response()
        }
        Err(reason) => control_error(reason),
    }
}

/// `GET /__handshake/journal`: every entry kept; `?since=N`: those whose `seq` is greater
/// than N (entries are recorded when they complete, so a slow request can appear after a
/// later one: the live feed, `events`, has them in completion order).
pub(crate) async fn journal(State(s): State<Arc<Shared>>, uri: Uri) -> Response {
    let q = match params::parse_urlencoded(uri.query().unwrap_or("").as_bytes()) {
        Ok(q) => q,
        Err(e) => return control_error(format!("query string: {e}")),
    };
    if let Err(e) = q.reject_duplicates() {
        return control_error(e.to_string());
    }
    if let Some((k, _)) = q.0.iter().find(|(k, _)| k != "since") {
        let k: String = k.chars().take(40).collect();
        return control_error(format!("unknown parameter {k:?}; the only one is since"));
    }
    let since = match q.get("since").map(str::parse::<u64>) {
        None => 0,
        Some(Ok(n)) => n,
        Some(Err(_)) => {
            return control_error("since must be a journal seq: a whole number ≥ 0".to_owned())
        }
    };
    axum::Json(s.journal_since(since)).into_response()
}

/// `GET /__handshake/faults`: `{"faults": [...], "rate_limited": ...}`: the faults armed,
/// in the order they apply, each in the shape `POST /__handshake/faults` takes (with the
/// `times` left), and the tripped `rate_limited` period while one runs
/// (`{"secs_left": N, "refusals_left": M}`, else `null`).
pub(crate) async fn faults(State(s): State<Arc<Shared>>) -> Response {
    let (faults, period) = s.armed();
    let period = period.map(|(left, refusals)| {
        json!({
            "secs_left": left.as_secs() + u64::from(left.subsec_nanos() > 0),
            "refusals_left": refusals,
        })
    });
    axum::Json(json!({ "faults": faults, "rate_limited": period })).into_response()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RevokeBody {
    #[serde(default)]
    user: Option<String>,
}

/// `POST /__handshake/revoke`: every grant, or with `{"user": "bob"}` that user's only.
pub(crate) async fn revoke(State(s): State<Arc<Shared>>, body: Bytes) -> Response {
    let blank = body.iter().all(u8::is_ascii_whitespace);
    let b: RevokeBody = if blank {
        RevokeBody { user: None }
    } else {
        match serde_json::from_slice(&body) {
            Ok(b) => b,
            Err(e) => {
                return control_error(format!("expected no body or {{\"user\": \"NAME\"}}: {e}"))
            }
        }
    };
    match b.user {
        None => lock(&s.store).revoke_all(),
        Some(name) => match s.user_index(&name) {
            Some(i) => {
                lock(&s.store).revoke_user(i);
            }
            None => return control_error(unknown_user(&s, &name)),
        },
    }
    StatusCode::NO_CONTENT.into_response()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RelaxBody {
    requirement: Relaxation,
}

fn relaxed_list(s: &Shared) -> Response {
    axum::Json(json!({ "relaxed": s.relaxed.list() })).into_response()
}

/// `GET /__handshake/relax`: `{"relaxed": ["pkce", ...]}`.
pub(crate) async fn relaxed(State(s): State<Arc<Shared>>) -> Response {
    relaxed_list(&s)
}

/// `POST /__handshake/relax` `{"requirement": "pkce"}`: lifts that requirement; answers the
/// relaxed list.
pub(crate) async fn relax(State(s): State<Arc<Shared>>, body: Bytes) -> Response {
    match serde_json::from_slice::<RelaxBody>(&body) {
        Ok(b) => {
            s.relaxed.add(b.requirement);
            relaxed_list(&s)
        }
        Err(e) => {
            let names: Vec<&str> = Relaxation::ALL.iter().map(|r| r.as_str()).collect();
            control_error(format!(
                "expected {{\"requirement\": \"{}\"}}: {e}",
                names.join("\" | \"")
            ))
        }
    }
}

/// `POST /__handshake/faults` with a [`Fault`]: arms it; answers it, `201`.
pub(crate) async fn arm_fault(State(s): State<Arc<Shared>>, body: Bytes) -> Response {
    let fault: Fault = match serde_json::from_slice(&body) {
        Ok(f) => f,
        Err(e) => return control_error(format!("invalid fault: {e}")),
    };
    match fault.kind {
        FaultKind::Status { status } if !(100..=599).contains(&status) => {
            return control_error(format!("status {status} is not an HTTP status (100-599)"));
        }
        FaultKind::RateLimited { .. } if fault.endpoint != Endpoint::Api => {
            return control_error(format!(
                "kind rate_limited applies to the api endpoint only, not {}",
                fault.endpoint
            ));
        }
        FaultKind::RateLimited {
            retry_after_secs: 0,
        } => {
            return control_error("retry_after_secs must be at least 1".to_owned());
        }
        _ => {}
    }
    s.arm(fault.clone());
    (StatusCode::CREATED, axum::Json(fault)).into_response()
}

/// `DELETE /__handshake/faults`: forgets the armed faults and ends a tripped rate limit.
pub(crate) async fn clear_faults(State(s): State<Arc<Shared>>) -> StatusCode {
    s.clear_faults();
    StatusCode::NO_CONTENT
}

/// `POST /__handshake/expire`: every access token expires now.
pub(crate) async fn expire(State(s): State<Arc<Shared>>) -> StatusCode {
    let now = s.now();
    lock(&s.store).expire_access_tokens(now);
    StatusCode::NO_CONTENT
}

/// `POST /__handshake/reset`: forgets codes, grants, faults, the journal, the clock's
/// offset and the relaxations.
pub(crate) async fn reset(State(s): State<Arc<Shared>>) -> StatusCode {
    s.reset();
    StatusCode::NO_CONTENT
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ClockBody {
    advance_secs: u64,
}

/// `POST /__handshake/clock` `{"advance_secs": N}`: moves the virtual clock forward;
/// answers the total offset.
pub(crate) async fn clock(State(s): State<Arc<Shared>>, body: Bytes) -> Response {
    let b: ClockBody = match serde_json::from_slice(&body) {
        Ok(b) => b,
        Err(e) => return control_error(format!("expected {{\"advance_secs\": N}}: {e}")),
    };
    s.clock.advance(Duration::from_secs(b.advance_secs));
    axum::Json(json!({ "offset_secs": s.clock.offset().as_secs() })).into_response()
}

/// `GET /__handshake/metadata`: RFC 8414 metadata plus what handshake knows of the provider.
pub(crate) async fn metadata(State(s): State<Arc<Shared>>) -> Response {
    axum::Json(crate::metadata::metadata(&s)).into_response()
}

/// `GET /__handshake/native`: the native scheme and its credentials' public parts.
pub(crate) async fn native(State(s): State<Arc<Shared>>) -> Response {
    axum::Json(crate::metadata::native_info(&s)).into_response()
}

/// `GET /__handshake/healthz`.
pub(crate) async fn healthz() -> Response {
    axum::Json(json!({ "status": "ok" })).into_response()
}
