//! The token and revocation endpoints' common start ([`Authenticated`]): the request body
//! decoded in an encoding the profile accepts, then the client authenticated as the profile
//! allows (RFC 6749 §2.3.1), with `invalid_client` answered as RFC 6749 §5.2 says.

use std::sync::Arc;

use axum::extract::{FromRequest, Request};
use axum::http::header::{AUTHORIZATION, CONTENT_TYPE, WWW_AUTHENTICATE};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::Response;
use handshake_profile::{ClientAuth, TokenEncoding};

use crate::params::{self, Params};
use crate::responses::{blocked_by, oauth_error, oauth_json};
use crate::state::Shared;
use crate::types::{OAuthError, Relaxation};

/// The body's encoding by its `Content-Type`, `None` for any other.
pub(crate) fn body_encoding(headers: &HeaderMap) -> Option<TokenEncoding> {
    let ct = headers.get(CONTENT_TYPE)?.to_str().ok()?;
    let essence = ct.split(';').next().unwrap_or("").trim();
    if essence.eq_ignore_ascii_case("application/x-www-form-urlencoded") {
        Some(TokenEncoding::Form)
    } else if essence.eq_ignore_ascii_case("application/json") {
        Some(TokenEncoding::Json)
    } else {
        None
    }
}

/// Decodes a token or revocation request body in an encoding the profile accepts.
fn read_body(s: &Shared, headers: &HeaderMap, body: &[u8]) -> Result<Params, Box<Response>> {
    let relaxed = s.relaxed.has(Relaxation::BodyEncoding);
    let accepted = &s.profile.token_request.encodings;
    let enc = match body_encoding(headers) {
        Some(e) if relaxed || accepted.contains(&e) => e,
        found => {
            let names = accepted
                .iter()
                .map(|e| match e {
                    TokenEncoding::Form => "application/x-www-form-urlencoded",
                    TokenEncoding::Json => "application/json",
                })
                .collect::<Vec<_>>()
                .join(" or ");
            let sent = match found {
                Some(TokenEncoding::Json) => "the body was sent as application/json".to_owned(),
                Some(TokenEncoding::Form) => {
                    "the body was sent form-encoded (application/x-www-form-urlencoded)".to_owned()
                }
                None => match headers.get(CONTENT_TYPE) {
                    Some(ct) => format!(
                        "the body was sent as {:?}",
                        String::from_utf8_lossy(ct.as_bytes())
                            .chars()
                            .take(60)
                            .collect::<String>()
                    ),
                    None => "the request has no Content-Type".to_owned(),
                },
            };
            let fix = if accepted.contains(&TokenEncoding::Form) {
                "send the parameters as form fields (RFC 6749 §4.1.3; most OAuth libraries' default)"
            } else {
                "send the parameters as one JSON object"
            };
            let resp = oauth_error(
                OAuthError::InvalidRequest,
                &format!(
                    "{sent}, but {} accepts request bodies as {names} only: {fix}",
                    s.profile.name
                ),
            );
            // Form or JSON would pass once relaxed; another content type would not.
            return Err(Box::new(match found {
                Some(_) => blocked_by(resp, Relaxation::BodyEncoding),
                None => resp,
            }));
        }
    };
    let parsed = match enc {
        TokenEncoding::Form => params::parse_urlencoded(body),
        TokenEncoding::Json => params::parse_json_object(body),
    };
    let p = parsed
        .and_then(|p| p.reject_duplicates().map(|()| p))
        .map_err(|e| Box::new(oauth_error(OAuthError::InvalidRequest, &e.to_string())))?;
    Ok(p)
}

/// `invalid_client` (RFC 6749 §5.2): 401 with a `Basic` challenge when the client tried the
/// Authorization header, else 400, since a 401 must carry a challenge (RFC 9110 §15.5.2).
pub(crate) fn invalid_client(s: &Shared, description: &str, tried_basic: bool) -> Response {
    if !tried_basic {
        return oauth_json(
            StatusCode::BAD_REQUEST,
            OAuthError::InvalidClient.as_str(),
            description,
        );
    }
    let mut resp = oauth_json(
        StatusCode::UNAUTHORIZED,
        OAuthError::InvalidClient.as_str(),
        description,
    );
    let v = format!("Basic realm=\"{}\"", s.profile.id);
    if let Ok(v) = HeaderValue::from_str(&v) {
        resp.headers_mut().insert(WWW_AUTHENTICATE, v);
    }
    resp
}

/// A token or revocation request whose body decoded as the profile allows and whose client
/// authenticated: its parameters and the client id. A request that fails either is answered
/// before the handler runs.
pub(crate) struct Authenticated(pub(crate) Params, pub(crate) String);

impl FromRequest<Arc<Shared>> for Authenticated {
    type Rejection = Response;

    async fn from_request(req: Request, s: &Arc<Shared>) -> Result<Self, Response> {
        // Split rather than cloned (axum's `HeaderMap` extractor clones). The journal layer
        // has already read the body within its limit (`observe.rs`).
        let (parts, body) = req.into_parts();
        let body = axum::body::to_bytes(body, crate::limits::BODY_LIMIT)
            .await
            .map_err(|_| crate::answers::payload_too_large(s, parts.uri.path()))?;
        let headers = parts.headers;
        let params = read_body(s, &headers, &body).map_err(|r| *r)?;
        let client_id = authenticate(s, &headers, &params).map_err(|r| *r)?;
        Ok(Authenticated(params, client_id))
    }
}

/// Authenticates the client as the profile allows (RFC 6749 §2.3.1). Returns its id.
fn authenticate(s: &Shared, headers: &HeaderMap, p: &Params) -> Result<String, Box<Response>> {
    let allowed = &s.profile.token_request.client_auth;
    let strict = s.profile.security.authenticate_client;
    let basic = headers
        .get(AUTHORIZATION)
        .and_then(|h| params::parse_basic(h.as_bytes()));
    let tried_basic = basic.is_some();
    let fail = |d: &str| Err(Box::new(invalid_client(s, d, tried_basic)));
    let (id, secret, method) = match basic {
        Some(Err(())) => return fail("malformed Basic credentials"),
        Some(Ok(c)) => {
            if p.get("client_secret").is_some() {
                return Err(Box::new(oauth_error(
                    OAuthError::InvalidRequest,
                    "more than one client authentication method was used (RFC 6749 §2.3)",
                )));
            }
            if p.get("client_id").is_some_and(|id| id != c.client_id) {
                return Err(Box::new(oauth_error(
                    OAuthError::InvalidRequest,
                    "client_id in the body differs from the Basic credentials",
                )));
            }
            (
                c.client_id,
                Some(c.client_secret),
                ClientAuth::ClientSecretBasic,
            )
        }
        None => match p.get("client_id") {
            Some(id) => (
                id.to_owned(),
                p.get("client_secret").map(str::to_owned),
                ClientAuth::ClientSecretPost,
            ),
            None => {
                let how: Vec<&str> = allowed
                    .iter()
                    .map(|a| match a {
                        ClientAuth::ClientSecretBasic => {
                            "client_secret_basic (Authorization: Basic base64(client_id:client_secret))"
                        }
                        ClientAuth::ClientSecretPost => {
                            "client_secret_post (client_id and client_secret in the body)"
                        }
                    })
                    .collect();
                return fail(&format!(
                    "client authentication is required: {} accepts {} (RFC 6749 §2.3.1)",
                    s.profile.name,
                    how.join(" or ")
                ));
            }
        },
    };
    if !strict {
        // Sloppy provider: the client id alone identifies the client.
        return if id == s.client.client_id {
            Ok(id)
        } else {
            fail("unknown client")
        };
    }
    if !allowed.contains(&method) && !s.relaxed.has(Relaxation::ClientAuth) {
        let want = allowed
            .iter()
            .map(|a| a.as_str())
            .collect::<Vec<_>>()
            .join(" or ");
        let resp = invalid_client(
            s,
            &format!(
                "{} is not accepted by this provider; use {want}",
                method.as_str()
            ),
            tried_basic,
        );
        return Err(Box::new(blocked_by(resp, Relaxation::ClientAuth)));
    }
    let Some(secret) = secret else {
        return fail("client_secret is missing");
    };
    // Evaluate both comparisons so timing does not reveal which one failed.
    let id_ok = params::ct_eq(&id, &s.client.client_id);
    let secret_ok = params::ct_eq(&secret, s.client.client_secret.secret());
    if id_ok & secret_ok {
        Ok(id)
    } else {
        fail("client authentication failed")
    }
}
