//! The token endpoint (RFC 6749 §3.2): the authorization-code grant (codes bound to their
//! client, redirect URI and PKCE challenge), the refresh grant (rotation as the store keeps
//! it), and the token response written in the profile's shape.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use handshake_profile::{ComputedField, Tokens};
use serde_json::Value;

use crate::client_auth::Authenticated;
use crate::journal;
use crate::params::Params;
use crate::pkce;
use crate::responses::{blocked_by, no_store, oauth_error, with_user};
use crate::state::Shared;
use crate::store::{Issued, Redeem, RefreshLookup};
use crate::sync::lock;
use crate::types::{OAuthError, Relaxation};

/// `POST {oauth.token_path}`.
pub(crate) async fn token(
    State(s): State<Arc<Shared>>,
    Authenticated(p, client_id): Authenticated,
) -> Response {
    let result = match p.get("grant_type") {
        None => Err(OAuthErr::new(
            OAuthError::InvalidRequest,
            "grant_type is missing",
        )),
        Some("authorization_code") => code_grant(&s, &client_id, &p),
        Some("refresh_token") if s.profile.tokens.refresh_tokens => {
            refresh_grant(&s, &client_id, &p)
        }
        Some(_) => Err(OAuthErr::new(
            OAuthError::UnsupportedGrantType,
            if s.profile.tokens.refresh_tokens {
                "supported grant types: authorization_code, refresh_token"
            } else {
                "supported grant types: authorization_code"
            },
        )),
    };
    match result {
        Ok((issued, user)) => with_user(token_response(&s, issued), user),
        Err(e) => {
            let resp = oauth_error(e.error, &e.description);
            match e.requirement {
                Some(r) => blocked_by(resp, r),
                None => resp,
            }
        }
    }
}

/// A token-endpoint refusal, before it becomes a response.
struct OAuthErr {
    error: OAuthError,
    description: String,
    /// The relaxable requirement that refused the request, if that is why.
    requirement: Option<Relaxation>,
}

impl OAuthErr {
    fn new(error: OAuthError, description: impl Into<String>) -> Self {
        OAuthErr {
            error,
            description: description.into(),
            requirement: None,
        }
    }
}

fn grant_err(description: &str) -> OAuthErr {
    OAuthErr::new(OAuthError::InvalidGrant, description)
}

/// Redeems a code. Returns the tokens and the index of the user the grant acts for.
fn code_grant(s: &Shared, client_id: &str, p: &Params) -> Result<(Issued, usize), OAuthErr> {
    let sec = &s.profile.security;
    let Some(code) = p.get("code") else {
        return Err(OAuthErr::new(OAuthError::InvalidRequest, "code is missing"));
    };
    let now = s.now();
    // One lock for lookup, checks and issue: two concurrent redemptions cannot both win.
    let mut store = lock(&s.store);
    let req = match store.redeem_code(code, now, sec.single_use_codes) {
        Redeem::Fresh(req) => req,
        Redeem::Unknown => {
            return Err(grant_err(
                "authorization code is invalid: this mock never issued it, or no longer knows it (a restart or a reset forgets every code); exchange the code of this login's callback, once",
            ))
        }
        Redeem::Expired => {
            return Err(grant_err(&format!(
                "authorization code expired: codes are valid for {} s (RFC 6749 §4.1.2); exchange it as soon as the callback arrives",
                s.profile.tokens.code_lifetime_secs
            )))
        }
        Redeem::Reused(grant) => {
            if sec.revoke_on_code_reuse {
                if let Some(g) = grant {
                    store.revoke_grant(g);
                }
                return Err(grant_err(
                    "authorization code was already used; the tokens issued from it are revoked",
                ));
            }
            return Err(grant_err("authorization code was already used"));
        }
    };
    if sec.bind_code {
        if req.client_id != client_id {
            return Err(grant_err("authorization code was issued to another client"));
        }
        match p.get("redirect_uri") {
            Some(r) if r == req.redirect_uri => {}
            Some(_) => {
                return Err(grant_err(
                    "redirect_uri differs from the one in the authorization request",
                ))
            }
            None if req.redirect_explicit => {
                return Err(OAuthErr::new(
                    OAuthError::InvalidRequest,
                    "redirect_uri is required: the authorization request included it",
                ))
            }
            None => {}
        }
    }
    if let Err(d) = pkce::verify(&s.profile, req.challenge.as_ref(), p.get("code_verifier")) {
        return Err(grant_err(&d));
    }
    let t = &s.profile.tokens;
    // Salesforce and Entra: a refresh token only for a grant with one of these scopes.
    let wanted = t.refresh_token_scopes.is_empty()
        || req.scope.iter().any(|g| t.refresh_token_scopes.contains(g));
    // Zoho: only with `access_type=offline`, and again only with `prompt=consent`.
    let gated = req.refresh_allowed
        && (req.reissue_allowed || !holds_refresh(s, &store, client_id, req.user, now));
    let refresh = (t.refresh_tokens && wanted && gated).then(|| refresh_ttl(t));
    let (grant, mut issued) = store.new_grant(
        client_id,
        req.scope,
        now,
        Duration::from_secs(t.access_token_lifetime_secs),
        refresh,
    );
    store.set_user(grant, req.user);
    if let Some(idle) = t.refresh_token_idle_secs {
        store.slide_refresh(grant, now, Duration::from_secs(idle), true);
    }
    if let (Some(cap), true) = (
        t.max_refresh_tokens_per_user,
        issued.refresh_token.is_some(),
    ) {
        // Zoho: the 21st refresh token deletes the oldest, whether in use or not.
        let held = store.user_refresh_grants(client_id, req.user, now);
        let over = held.len().saturating_sub(cap as usize);
        for old in held.into_iter().take(over) {
            store.revoke_grant(old);
            issued.capped.push(old);
        }
    }
    if sec.single_use_codes {
        store.mark_redeemed(code, grant);
    }
    Ok((issued, req.user))
}

/// Whether `user` already holds a live refresh token from `client_id`, for a profile that
/// asks more of a second one (`tokens.refresh_token_reissue_requires`); `false` otherwise,
/// without looking.
fn holds_refresh(
    s: &Shared,
    store: &crate::store::Store,
    client_id: &str,
    user: usize,
    now: std::time::Instant,
) -> bool {
    !s.profile.tokens.refresh_token_reissue_requires.is_empty()
        && !store.user_refresh_grants(client_id, user, now).is_empty()
}

/// Refreshes a grant. Returns the tokens and the index of the user the grant acts for.
fn refresh_grant(s: &Shared, client_id: &str, p: &Params) -> Result<(Issued, usize), OAuthErr> {
    let Some(rt) = p.get("refresh_token") else {
        return Err(OAuthErr::new(
            OAuthError::InvalidRequest,
            "refresh_token is missing",
        ));
    };
    let t = &s.profile.tokens;
    let now = s.now();
    let mut store = lock(&s.store);
    let grant = match store.lookup_refresh(rt, now, t.rotation) {
        RefreshLookup::Current { grant } => grant,
        RefreshLookup::Unknown => return Err(grant_err("refresh token is invalid or revoked")),
        RefreshLookup::Expired => return Err(grant_err("refresh token expired")),
        RefreshLookup::Retired {
            family_revoked: true,
        } => {
            return Err(grant_err(
                "refresh token was already used; the whole grant is revoked (reuse detection, RFC 9700 §4.14.2)",
            ))
        }
        RefreshLookup::Retired {
            family_revoked: false,
        } => {
            return Err(grant_err(
                "refresh token was rotated out; use the latest one",
            ))
        }
    };
    let Some(g) = store.grant(grant) else {
        return Err(grant_err("refresh token is invalid or revoked"));
    };
    if s.profile.security.bind_refresh_token && g.client_id != client_id {
        return Err(grant_err("refresh token was issued to another client"));
    }
    let user = g.user;
    let scope = match p.get("scope") {
        None => g.scope.clone(),
        Some(requested) => {
            let mut requested = s.profile.scopes.split(requested);
            let relaxed = s.relaxed.has(Relaxation::Scope);
            if relaxed {
                requested.retain(|r| g.scope.iter().any(|x| x == r));
            }
            if let Some(extra) = requested.iter().find(|r| !g.scope.iter().any(|x| x == *r)) {
                let mut e = OAuthErr::new(
                    OAuthError::InvalidScope,
                    format!(
                        "scope {:?} was not granted originally",
                        extra.chars().take(40).collect::<String>()
                    ),
                );
                e.requirement = Some(Relaxation::Scope);
                return Err(e);
            }
            if relaxed && requested.is_empty() {
                g.scope.clone()
            } else {
                requested.into_iter().map(str::to_owned).collect()
            }
        }
    };
    let issued = store.refresh_grant(
        grant,
        scope,
        now,
        Duration::from_secs(t.access_token_lifetime_secs),
        t.rotation,
        refresh_ttl(t),
    );
    let mut issued = issued;
    if let Some(idle) = t.refresh_token_idle_secs {
        // Pipedrive: each refresh extends the same refresh token's life by the idle window.
        store.slide_refresh(grant, now, Duration::from_secs(idle), t.rotation.rotates());
    }
    if !t.refresh_response_refresh_token {
        // Zoho: the refresh response carries no refresh token; the client keeps its own.
        issued.refresh_token = None;
    }
    Ok((issued, user))
}

/// How long a refresh token lives once issued; `None` for ever.
fn refresh_ttl(t: &Tokens) -> Option<Duration> {
    t.refresh_token_lifetime_secs.map(Duration::from_secs)
}

/// The token response (RFC 6749 §5.1), with the profile's token type and extra fields.
fn token_response(s: &Shared, issued: Issued) -> Response {
    let t = &s.profile.tokens;
    // Written straight into one buffer, keys in sorted order: byte for byte the JSON object
    // a `serde_json::Map` of the same fields gives, without building one per response.
    enum Field<'a> {
        Str(&'a str),
        Num(u64),
        Json(&'a Value),
    }
    let scope = (!issued.scope.is_empty() && t.granted_scopes_field.is_none())
        .then(|| s.profile.scopes.join_response(issued.scope.iter()));
    // HubSpot: the granted scopes as an array, `scopes`, instead of the `scope` string.
    let granted = t
        .granted_scopes_field
        .as_deref()
        .map(|name| (name, Value::from(issued.scope.to_vec())));
    let mut fields: Vec<(&str, Field<'_>)> = Vec::with_capacity(5 + t.extra_fields.len());
    fields.push(("access_token", Field::Str(issued.access_token.as_str())));
    fields.push(("token_type", Field::Str(&t.token_type)));
    if t.expires_in {
        fields.push(("expires_in", Field::Num(t.access_token_lifetime_secs)));
    }
    if let Some(rt) = &issued.refresh_token {
        fields.push(("refresh_token", Field::Str(rt.as_str())));
    }
    // An empty string is not a scope (RFC 6749 §3.3): with nothing granted, say nothing.
    if let Some(scope) = &scope {
        fields.push(("scope", Field::Str(scope)));
    }
    for (k, v) in &t.extra_fields {
        // A profile's extra field replaces a standard one of the same name.
        fields.retain(|(f, _)| f != k);
        fields.push((k, Field::Json(v)));
    }
    let computed = computed_fields(s, t);
    for (k, v) in &computed {
        fields.push((k, Field::Str(v)));
    }
    if let Some((name, v)) = &granted {
        fields.push((name, Field::Json(v)));
    }
    fields.sort_by(|a, b| a.0.cmp(b.0));
    let mut body = Vec::with_capacity(256);
    body.push(b'{');
    for (i, (k, v)) in fields.iter().enumerate() {
        if i > 0 {
            body.push(b',');
        }
        json_str(&mut body, k);
        body.push(b':');
        match v {
            Field::Str(v) => json_str(&mut body, v),
            // Writing JSON into a Vec cannot fail.
            Field::Num(n) => {
                use std::io::Write;
                let _ = write!(body, "{n}");
            }
            Field::Json(v) => {
                let _ = serde_json::to_writer(&mut body, v);
            }
        }
    }
    body.push(b'}');
    let mut resp = (StatusCode::OK, body).into_response();
    resp.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    if s.profile.security.no_store {
        no_store(resp.headers_mut());
    }
    if let Some(old) = issued.evicted {
        resp.extensions_mut().insert(journal::Note(format!(
            "grant {old} evicted: the client reached {} live grants (limits::MAX_GRANTS_PER_CLIENT); its tokens no longer work",
            crate::limits::MAX_GRANTS_PER_CLIENT
        )));
    } else if !issued.capped.is_empty() {
        let ids: Vec<String> = issued.capped.iter().map(u64::to_string).collect();
        resp.extensions_mut().insert(journal::Note(format!(
            "grant {} deleted: the user reached tokens.max_refresh_tokens_per_user = {} refresh tokens; the oldest goes, with its access tokens",
            ids.join(", "),
            t.max_refresh_tokens_per_user.unwrap_or_default()
        )));
    }
    resp
}

/// The values of `tokens.computed_fields` for one response (Salesforce `instance_url`,
/// `issued_at`, `signature`).
fn computed_fields<'a>(s: &Shared, t: &'a Tokens) -> Vec<(&'a str, String)> {
    if t.computed_fields.is_empty() {
        return Vec::new();
    }
    let issued_at = s.clock.unix_now().as_millis().to_string();
    let mut out = Vec::with_capacity(t.computed_fields.len());
    for (k, f) in &t.computed_fields {
        let v = match f {
            ComputedField::BaseUrl => s.base_url.clone(),
            ComputedField::IssuedAtMs => issued_at.clone(),
            ComputedField::SignatureIdIssuedAt => {
                // Validated: `id` is in extra_fields.
                let id = match t.extra_fields.get("id") {
                    Some(Value::String(id)) => id.clone(),
                    Some(other) => other.to_string(),
                    None => String::new(),
                };
                let key = s.client.client_secret.secret().as_bytes();
                let mac = hmac_sha256(key, format!("{id}{issued_at}").as_bytes());
                base64::engine::general_purpose::STANDARD.encode(mac)
            }
        };
        out.push((k.as_str(), v));
    }
    out
}

/// HMAC-SHA256 (RFC 2104).
fn hmac_sha256(key: &[u8], message: &[u8]) -> [u8; 32] {
    use sha2::{Digest, Sha256};
    let mut block = [0u8; 64];
    if key.len() > 64 {
        block[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        block[..key.len()].copy_from_slice(key);
    }
    let pad = |b: u8| block.map(|k| k ^ b);
    let inner = Sha256::new()
        .chain_update(pad(0x36))
        .chain_update(message)
        .finalize();
    Sha256::new()
        .chain_update(pad(0x5c))
        .chain_update(inner)
        .finalize()
        .into()
}

/// Appends `s` as a JSON string: as it is when nothing needs escaping (tokens, names),
/// else escaped by serde_json.
fn json_str(out: &mut Vec<u8>, s: &str) {
    if s.bytes()
        .all(|b| (b.is_ascii_graphic() && b != b'"' && b != b'\\') || b == b' ')
    {
        out.push(b'"');
        out.extend_from_slice(s.as_bytes());
        out.push(b'"');
    } else {
        let _ = serde_json::to_writer(out, s);
    }
}
