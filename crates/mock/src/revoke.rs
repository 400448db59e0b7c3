//! The revocation endpoint (RFC 7009): a refresh token ends its grant, an access token only
//! itself, and a token the mock does not know is answered 200 all the same.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use crate::client_auth::Authenticated;
use crate::responses::{no_store, oauth_error};
use crate::state::Shared;
use crate::sync::lock;
use crate::types::OAuthError;

/// `POST` on each of `oauth.revoke_paths`.
pub(crate) async fn revoke(
    State(s): State<Arc<Shared>>,
    Authenticated(p, client_id): Authenticated,
) -> Response {
    let Some(token) = p.get("token") else {
        return oauth_error(OAuthError::InvalidRequest, "token is missing");
    };
    // RFC 7009 §2.1: the hint only orders the lookup; unknown hints are ignored.
    let refresh_first = p.get("token_type_hint") == Some("refresh_token");
    let mut store = lock(&s.store);
    if let Some((grant, is_refresh)) = store.token_owner(token, refresh_first) {
        let owner_ok = store.grant(grant).is_some_and(|g| g.client_id == client_id);
        if !owner_ok && s.profile.security.bind_refresh_token {
            return oauth_error(
                OAuthError::InvalidGrant,
                "the token was not issued to this client",
            );
        }
        if is_refresh {
            // Revoking a refresh token ends the grant and its access tokens (RFC 7009 §2.1).
            store.revoke_grant(grant);
        } else {
            store.revoke_access_token(token);
        }
    }
    drop(store);
    let mut resp = StatusCode::OK.into_response();
    no_store(resp.headers_mut());
    resp
}
