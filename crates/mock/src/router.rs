//! The route table: every endpoint's path as the profile names it, its handler, and the
//! journal layer around the whole router. Handlers never import this module.

use std::sync::Arc;

use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::Router;
use handshake_profile::Profile;

use crate::observe::Observed;
use crate::state::{exchange_path, Shared};
use crate::{authorize, control, metadata, openapi, page, resource, revoke, token};

/// RFC 8414 §3: where the authorization server metadata is served.
pub(crate) const WELL_KNOWN: &str = "/.well-known/oauth-authorization-server";

/// Builds the application for a profile, as an axum [`Router`] (for in-process tests).
pub(crate) fn app(shared: Arc<Shared>) -> Router {
    Router::new().fallback_service(service(shared))
}

/// The application as the server runs it: the journal layer around the router.
pub(crate) fn service(shared: Arc<Shared>) -> Observed {
    let p = &shared.profile;
    let mut r = Router::new()
        .route(
            &p.oauth.authorize_path,
            get(authorize::authorize).post(authorize::consent),
        )
        .route(&p.oauth.token_path, post(token::token))
        .route(&p.api.path, get(resource::list))
        .route(&format!("{}/{{id}}", p.api.path), get(resource::item));
    if let Some(path) = exchange_path(p) {
        r = r.route(path, get(resource::exchange));
    }
    for path in revoke_paths(p) {
        r = r.route(path, post(revoke::revoke));
    }
    if p.oauth.well_known {
        r = r.route(WELL_KNOWN, get(metadata::well_known));
    }
    let r = r
        .route("/__handshake/metadata", get(control::metadata))
        .route("/__handshake/openapi.json", get(openapi::document))
        .route("/__handshake/", get(page::page))
        .route("/__handshake", get(page::redirect))
        .route("/__handshake/events", get(page::events))
        .route("/__handshake/journal", get(control::journal))
        .route(
            "/__handshake/faults",
            get(control::faults)
                .post(control::arm_fault)
                .delete(control::clear_faults),
        )
        .route("/__handshake/expire", post(control::expire))
        .route("/__handshake/revoke", post(control::revoke))
        .route("/__handshake/users", get(control::users))
        .route("/__handshake/records", get(control::records))
        .route("/__handshake/grants", get(control::grants))
        .route(
            "/__handshake/relax",
            get(control::relaxed).post(control::relax),
        )
        .route("/__handshake/reset", post(control::reset))
        .route("/__handshake/clock", post(control::clock))
        .route("/__handshake/native", get(control::native))
        .route("/__handshake/healthz", get(control::healthz))
        .fallback(not_found);
    // The journal layer wraps the whole router, so it sees its finished answers (a 405 gets
    // its `Allow` header inside the router).
    let routes = r.with_state(shared.clone());
    Observed::new(shared, routes)
}

/// Every path the router will serve, for conflict checks before building it.
pub(crate) fn served_paths(p: &Profile) -> Vec<(&'static str, String)> {
    let mut v = vec![
        ("oauth.authorize_path", p.oauth.authorize_path.clone()),
        ("oauth.token_path", p.oauth.token_path.clone()),
        ("api.path", p.api.path.clone()),
    ];
    if let Some(path) = exchange_path(p) {
        v.push(("native_auth.exchange_path", path.to_owned()));
    }
    v.extend(
        revoke_paths(p)
            .into_iter()
            .map(|r| ("oauth.revoke_paths", r.to_owned())),
    );
    if p.oauth.well_known {
        v.push(("oauth.well_known", WELL_KNOWN.to_owned()));
    }
    v
}

/// The profile's revocation paths, each once: a path routed twice would panic.
fn revoke_paths(p: &Profile) -> Vec<&str> {
    let mut paths: Vec<&str> = Vec::new();
    for path in &p.oauth.revoke_paths {
        if !paths.contains(&path.as_str()) {
            paths.push(path);
        }
    }
    paths
}

/// A bare 404: `answers::complete` gives it the body the path's endpoint speaks.
async fn not_found() -> StatusCode {
    StatusCode::NOT_FOUND
}
