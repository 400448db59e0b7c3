//! The authorization endpoint (RFC 6749 §4.1.1): the request checked (client, redirect URI,
//! scope, PKCE), then approved at once or on the consent page, and answered by redirect, or
//! by an error page when the redirect URI cannot be trusted.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::header::LOCATION;
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Extension;
use handshake_profile::{Profile, TokenEncoding};

use crate::client_auth::body_encoding;
use crate::observe::Injected;
use crate::params;
use crate::pkce;
use crate::responses::{
    blocked_by, html_escape, html_headers, no_store, oauth_error, refused, with_user,
};
use crate::state::Shared;
use crate::store::AuthRequest;
use crate::sync::lock;
use crate::types::{OAuthError, Relaxation};

/// How long a consent page stays answerable.
const CONSENT_TTL: Duration = Duration::from_secs(600);

/// `GET {oauth.authorize_path}`.
pub(crate) async fn authorize(
    State(s): State<Arc<Shared>>,
    uri: Uri,
    injected: Option<Extension<Injected>>,
) -> Response {
    let q = match params::parse_urlencoded(uri.query().unwrap_or("").as_bytes()) {
        Ok(q) => q,
        Err(e) => return error_page(&s, &format!("malformed authorization request: {e}")),
    };
    for key in ["client_id", "redirect_uri"] {
        if q.0.iter().filter(|(k, _)| k == key).count() > 1 {
            return error_page(&s, &format!("{key} is included more than once"));
        }
    }
    let Some(client_id) = q.get("client_id") else {
        return error_page(&s, "client_id is missing");
    };
    if client_id != s.client.client_id {
        return error_page(&s, "client_id is not registered with this provider");
    }
    let redirect_uri = match q.get("redirect_uri") {
        Some(r) if s.redirect_allowed(r) => r.to_owned(),
        Some(r) => return error_page(&s, &redirect_mismatch(&s, r)),
        None if s.client.redirect_uris.len() == 1 => s.client.redirect_uris[0].clone(),
        None => {
            return error_page(
                &s,
                &format!(
                    "redirect_uri is missing and the client has several registered ({}): name one (RFC 6749 §3.1.2.3)",
                    s.client.redirect_uris.join(", ")
                ),
            )
        }
    };
    let state = q.get("state");
    if state.is_some_and(|st| st.len() > crate::limits::MAX_STATE_BYTES) {
        // Refused without echoing it: the redirect would carry the oversized value back.
        return error_redirect(
            &s,
            StatusCode::FOUND,
            &redirect_uri,
            None,
            "invalid_request",
            &format!(
                "state is longer than {} bytes",
                crate::limits::MAX_STATE_BYTES
            ),
        );
    }
    let fail = |error: &str, description: &str| {
        error_redirect(
            &s,
            StatusCode::FOUND,
            &redirect_uri,
            state,
            error,
            description,
        )
    };
    if let Some(Extension(Injected(e))) = injected {
        return fail(e.as_str(), "injected fault");
    }
    if let Err(e) = q.reject_duplicates() {
        return fail("invalid_request", &e.to_string());
    }
    match q.get("response_type") {
        Some("code") => {}
        Some(_) => {
            return fail(
                "unsupported_response_type",
                "only response_type=code is supported",
            )
        }
        None => return fail("invalid_request", "response_type is missing"),
    }
    let relax_scope = s.relaxed.has(Relaxation::Scope);
    let scope = match validate_scope(&s.profile, q.get("scope"), relax_scope) {
        Ok(scope) => scope,
        Err(desc) => return blocked_by(fail("invalid_scope", &desc), Relaxation::Scope),
    };
    let scope = match required_scopes(&s.profile, scope, relax_scope) {
        Ok(scope) => scope,
        // HubSpot: "the authorization page will display an error", no redirect.
        Err(desc) => return blocked_by(error_page(&s, &desc), Relaxation::Scope),
    };
    let challenge = match pkce::challenge(&s.profile, &q, s.relaxed.has(Relaxation::Pkce)) {
        Ok(c) => c,
        Err((desc, None)) => return fail("invalid_request", &desc),
        Err((desc, Some(r))) => return blocked_by(fail("invalid_request", &desc), r),
    };
    let req = AuthRequest {
        client_id: client_id.to_owned(),
        redirect_uri: redirect_uri.clone(),
        redirect_explicit: q.get("redirect_uri").is_some(),
        scope,
        state: state.map(str::to_owned),
        challenge,
        user: 0,
        refresh_allowed: carries(&q, &s.profile.tokens.refresh_token_requires),
        reissue_allowed: carries(&q, &s.profile.tokens.refresh_token_reissue_requires),
    };
    let now = s.now();
    if s.auto_approve {
        return approve(&s, req, now, StatusCode::FOUND);
    }
    let consent_id = lock(&s.store).add_consent(req.clone(), now, CONSENT_TTL);
    consent_page(&s, &req, &consent_id)
}

/// The refusal of a `redirect_uri` that is not registered: which URIs are, and how to
/// register this one.
fn redirect_mismatch(s: &Shared, got: &str) -> String {
    let shown: String = got.chars().take(200).collect();
    let rule = if s.profile.security.exact_redirect_uri {
        "exact match required, RFC 6749 §3.1.2.3"
    } else {
        "it must start with a registered URI"
    };
    format!(
        "redirect_uri {shown:?} is not registered for this client ({rule}); registered: {}. To accept it, start the mock with --redirect-uri {shown} (repeatable)",
        s.client.redirect_uris.join(", ")
    )
}

/// Whether the authorization request carried every one of `wanted` (the parameters a
/// refresh token needs: Zoho's `access_type=offline`, `prompt=consent`).
fn carries(q: &params::Params, wanted: &std::collections::BTreeMap<String, String>) -> bool {
    wanted.iter().all(|(k, v)| q.get(k) == Some(v.as_str()))
}

/// `scope` with the profile's `scopes.required` checked (HubSpot's app-required scopes):
/// one missing is refused, or added when `relaxed`.
fn required_scopes(
    p: &Profile,
    mut scope: Vec<String>,
    relaxed: bool,
) -> Result<Vec<String>, String> {
    let missing: Vec<&String> = p
        .scopes
        .required
        .iter()
        .filter(|r| !scope.contains(r))
        .collect();
    if missing.is_empty() {
        return Ok(scope);
    }
    if relaxed {
        scope.extend(missing.into_iter().cloned());
        return Ok(scope);
    }
    let names: Vec<&str> = missing.iter().map(|s| s.as_str()).collect();
    Err(format!(
        "the app requires the scopes {} and the request's scope leaves out {}: add them to scope",
        p.scopes.required.join(" "),
        names.join(" ")
    ))
}

/// The scopes to grant. `relaxed` ([`Relaxation::Scope`]): unsupported ones are dropped
/// instead of refused, and the defaults granted when none is left.
fn validate_scope(p: &Profile, scope: Option<&str>, relaxed: bool) -> Result<Vec<String>, String> {
    if !p.scopes.requestable {
        // Pipedrive: the app's scopes are fixed at registration; a `scope` sent is ignored.
        return Ok(p.scopes.default.clone());
    }
    let mut requested = scope.map(|s| p.scopes.split(s)).unwrap_or_default();
    if relaxed {
        requested.retain(|s| p.scopes.supported.iter().any(|k| k == s));
    }
    if requested.is_empty() {
        return Ok(p.scopes.default.clone());
    }
    let mut out: Vec<String> = Vec::new();
    for s in requested {
        if !p.scopes.supported.iter().any(|k| k == s) {
            return Err(format!(
                "scope {:?} is not supported (supported: {})",
                s.chars().take(40).collect::<String>(),
                p.scopes.supported.join(" ")
            ));
        }
        if !out.iter().any(|o| o == s) {
            out.push(s.to_owned());
        }
    }
    Ok(out)
}

/// Issues the code and redirects back with it.
fn approve(s: &Shared, req: AuthRequest, now: Instant, status: StatusCode) -> Response {
    let ttl = Duration::from_secs(s.profile.tokens.code_lifetime_secs);
    let redirect_uri = req.redirect_uri.clone();
    let state = req.state.clone();
    let user = req.user;
    let code = lock(&s.store).add_code(req, now, ttl);
    let mut pairs = vec![("code", code.as_str())];
    if let Some(st) = state.as_deref() {
        pairs.push(("state", st));
    }
    // Zoho's `location` and `accounts-server` (the mock's own base URL).
    let extra: Vec<(&str, String)> = s
        .profile
        .oauth
        .callback_params
        .iter()
        .map(|(k, v)| (k.as_str(), v.replace("{base_url}", &s.base_url)))
        .collect();
    pairs.extend(extra.iter().map(|(k, v)| (*k, v.as_str())));
    with_user(redirect(s, status, &redirect_uri, &pairs), user)
}

/// The consent page: who asks for what, who approves, and the single-use `consent_id`.
fn consent_page(s: &Shared, req: &AuthRequest, consent_id: &str) -> Response {
    let scopes: String = req
        .scope
        .iter()
        .map(|sc| format!("<li><code>{}</code></li>", html_escape(sc)))
        .collect();
    let name = html_escape(&s.profile.name);
    let body = format!(
        r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">
<title>Authorize {client} – {name}</title>
<style>body{{font-family:system-ui,sans-serif;max-width:32rem;margin:3rem auto;padding:0 1rem}}button{{font-size:1rem;padding:.5rem 1.25rem;margin-right:.5rem}}.note{{color:#666;font-size:.85rem}}</style>
</head><body><main>
<h1>{name}</h1>
<p><strong id="client">{client}</strong> would like to access your {name} account.</p>
<p>Requested permissions:</p><ul id="scopes">{scopes}</ul>
<p>You will be sent back to <code id="redirect">{redirect}</code>.</p>
<form method="post" action="{action}">
<input type="hidden" name="consent_id" value="{consent_id}">
<p><label for="user">Signed in as</label> <input type="text" id="user" name="user" value="{user}" autocomplete="username"></p>
<button type="submit" name="decision" value="approve" id="approve">Approve</button>
<button type="submit" name="decision" value="deny" id="deny">Deny</button>
</form>
<p class="note">handshake mock of {name}: no real account is involved. Accounts: <span id="users">{users}</span>.</p>
</main></body></html>
"#,
        client = html_escape(&req.client_id),
        redirect = html_escape(&req.redirect_uri),
        action = html_escape(&s.profile.oauth.authorize_path),
        consent_id = html_escape(consent_id),
        user = html_escape(&s.users[0]),
        users = html_escape(&s.users.join(", ")),
    );
    let mut resp = (StatusCode::OK, body).into_response();
    html_headers(resp.headers_mut());
    resp
}

/// The consent form's POST. The hidden `consent_id` is 256 random bits, single-use and tied to
/// one authorization request, so a forged POST cannot approve another request.
pub(crate) async fn consent(
    State(s): State<Arc<Shared>>,
    headers: HeaderMap,
    injected: Option<Extension<Injected>>,
    body: Bytes,
) -> Response {
    if body_encoding(&headers) != Some(TokenEncoding::Form) {
        return error_page(
            &s,
            "the consent form must be posted as application/x-www-form-urlencoded",
        );
    }
    // Browsers say where a POST comes from (Fetch Metadata). Only the mock's own page may
    // post the decision: a form on another site is cross-site request forgery. (`Origin` is
    // no help here: the page's `Referrer-Policy: no-referrer` makes it `null`.)
    if let Some(site) = headers.get("sec-fetch-site") {
        if !matches!(site.as_bytes(), b"same-origin" | b"none") {
            return error_page(
                &s,
                "the consent decision must be posted from the consent page itself",
            );
        }
    }
    let form = match params::parse_urlencoded(&body) {
        Ok(f) => f,
        Err(e) => return error_page(&s, &format!("malformed consent form: {e}")),
    };
    if let Err(e) = form.reject_duplicates() {
        return error_page(&s, &e.to_string());
    }
    // Who approves: the "Signed in as" field, the first user when a client leaves it out.
    // An unknown name (an emptied field too) is refused before the consent is spent, so the
    // user can go back.
    let named = form
        .0
        .iter()
        .find(|(k, _)| k == "user")
        .map(|(_, v)| v.as_str());
    let user = match named {
        None => 0,
        Some(name) => match s.user_index(name) {
            Some(i) => i,
            None if form.get("decision") == Some("approve") => {
                let shown: String = name.chars().take(40).collect();
                return error_page(
                    &s,
                    &format!(
                        "unknown user {shown:?}; the accounts on this mock are {}",
                        s.users.join(", ")
                    ),
                );
            }
            None => 0,
        },
    };
    let now = s.now();
    let Some(mut req) = form
        .get("consent_id")
        .and_then(|id| lock(&s.store).take_consent(id, now))
    else {
        return error_page(
            &s,
            "unknown, used or expired consent request; start again from the application",
        );
    };
    let deny = |error: &str, desc: &str| {
        error_redirect(
            &s,
            StatusCode::SEE_OTHER,
            &req.redirect_uri,
            req.state.as_deref(),
            error,
            desc,
        )
    };
    if let Some(Extension(Injected(e))) = injected {
        return deny(e.as_str(), "injected fault");
    }
    req.user = user;
    match form.get("decision") {
        Some("approve") => approve(&s, req, now, StatusCode::SEE_OTHER),
        Some("deny") => deny("access_denied", "the user denied the request"),
        _ => error_page(&s, "decision must be approve or deny"),
    }
}

/// The page shown instead of redirecting when the client or redirect URI cannot be trusted
/// (RFC 6749 §4.1.2.1: never redirect to an unverified URI).
fn error_page(s: &Shared, reason: &str) -> Response {
    let body = format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>Authorization error – {name}</title></head>\n<body><main><h1>Authorization error</h1>\n<p id=\"error\">{reason}</p>\n<p>{name} (handshake mock) did not redirect back to the application because the request could not be trusted.</p></main></body></html>\n",
        name = html_escape(&s.profile.name),
        reason = html_escape(reason),
    );
    let mut resp = (StatusCode::BAD_REQUEST, body).into_response();
    html_headers(resp.headers_mut());
    refused(resp, None, reason)
}

/// An authorization response (RFC 6749 §4.1.2): a redirect to `target` with `pairs`, plus
/// `iss` when the profile says so (RFC 9207 §2: on success and error responses alike).
fn redirect(s: &Shared, status: StatusCode, target: &str, pairs: &[(&str, &str)]) -> Response {
    let Ok(mut url) = url::Url::parse(target) else {
        // Registered URIs are validated at start; this is unreachable in practice.
        return oauth_error(OAuthError::InvalidRequest, "unusable redirect_uri");
    };
    {
        let mut q = url.query_pairs_mut();
        for (k, v) in pairs {
            q.append_pair(k, v);
        }
        if s.profile.oauth.iss_parameter {
            q.append_pair("iss", &s.issuer());
        }
    }
    let mut resp = Response::new(Body::empty());
    *resp.status_mut() = status;
    if let Ok(v) = HeaderValue::from_str(url.as_str()) {
        resp.headers_mut().insert(LOCATION, v);
    }
    no_store(resp.headers_mut());
    resp.headers_mut().insert(
        HeaderName::from_static("referrer-policy"),
        HeaderValue::from_static("no-referrer"),
    );
    resp
}

/// An error authorization response (RFC 6749 §4.1.2.1), marked as a refusal.
fn error_redirect(
    s: &Shared,
    status: StatusCode,
    redirect_uri: &str,
    state: Option<&str>,
    error: &str,
    description: &str,
) -> Response {
    let mut pairs = vec![("error", error), ("error_description", description)];
    if let Some(st) = state {
        pairs.push(("state", st));
    }
    refused(
        redirect(s, status, redirect_uri, &pairs),
        Some(error),
        description,
    )
}
