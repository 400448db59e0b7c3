//! The API resource: who may call it (OAuth or the CRM's native scheme), how often (rate
//! limits), and what it answers (paged lists and single records in the CRM's shapes).

// Refusals are finished responses returned by value, as axum handlers return them; they are
// the rare path, so their size does not matter.
#![allow(clippy::result_large_err)]

use std::borrow::Cow;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, Request, State};
use axum::http::header::{
    ACCEPT, AUTHORIZATION, CONTENT_TYPE, LINK, RETRY_AFTER, WWW_AUTHENTICATE,
};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use handshake_profile::{
    Anchor, BodyFormat, FieldPath, NativeScheme, Paging, PagingStyle, RateLimitHeaders,
};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::dataset;
use crate::native::{self, NativeRequest, Verdict};
use crate::page_cache::{PageKey, Rendered};
use crate::params::{self, ct_eq, Params};
use crate::responses::{refused, UserUsed};
use crate::state::Shared;
use crate::store::{count_in_window, AccessLookup};
use crate::sync::lock;

/// Which authentication mode a request to the API used, for the journal (a response
/// extension the journal layer, `observe.rs`, reads).
#[derive(Debug, Clone, Copy)]
pub(crate) struct AuthModeUsed(pub(crate) &'static str);

/// Auth modes as named in the journal and metadata.
pub(crate) const MODE_OAUTH: &str = "oauth";

/// A caller the API resource accepted.
struct Caller {
    mode: &'static str,
    /// Whose rate window the request counts against.
    grant: Option<u64>,
    /// Whose data the request reads: the grant's user; the first user for native credentials.
    user: usize,
}

fn tagged(mut resp: Response, mode: Option<&'static str>) -> Response {
    if let Some(m) = mode {
        resp.extensions_mut().insert(AuthModeUsed(m));
    }
    resp
}

fn native_scheme(s: &Shared) -> Option<NativeScheme> {
    s.profile.native_auth.as_ref().map(|n| n.scheme)
}

/// The native scheme's verdict on a request's `Authorization` (`native/<scheme>.rs`);
/// `NotMine` without a native scheme.
fn native_verdict(
    s: &Shared,
    headers: &HeaderMap,
    auth_scheme: &str,
    credentials: &str,
) -> Verdict {
    let Some(native) = &s.profile.native_auth else {
        return Verdict::NotMine;
    };
    native::verifier(native.scheme).verify(&NativeRequest {
        auth_scheme,
        credentials,
        headers,
        native,
        accepted: &s.native,
    })
}

// ---------------------------------------------------------------- error bodies

fn json_body(status: StatusCode, body: String) -> Response {
    let mut resp = (status, body).into_response();
    resp.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    resp
}

fn bearer_challenge(s: &Shared, error: Option<(&str, &str)>, scope: Option<&str>) -> HeaderValue {
    // The OAuth auth-scheme: `Bearer` (RFC 6750), Zoho's `Zoho-oauthtoken`.
    let mut v = format!("{} realm=\"{}\"", s.profile.api.auth_scheme, s.profile.id);
    if let Some((e, d)) = error {
        let d = challenge_text(d);
        v.push_str(&format!(", error=\"{e}\", error_description=\"{d}\""));
    }
    if let Some(sc) = scope {
        v.push_str(&format!(", scope=\"{sc}\""));
    }
    HeaderValue::from_str(&v).unwrap_or_else(|_| HeaderValue::from_static("Bearer"))
}

/// A description as a challenge may carry it (RFC 6750 §3: `%x20-21 / %x23-5B / %x5D-7E`):
/// `§` spelled out, other characters outside the set dropped.
fn challenge_text(d: &str) -> String {
    let mut out = String::with_capacity(d.len());
    for c in d.chars() {
        match c {
            '§' => out.push_str("section "),
            ' '..='~' if c != '"' && c != '\\' => out.push(c),
            _ => {}
        }
    }
    out.replace("section  ", "section ")
}

/// The challenge of the native scheme, if it is not the OAuth one (and rides in
/// `Authorization` at all).
fn native_challenge(s: &Shared) -> Option<HeaderValue> {
    let scheme = native_scheme(s)?.auth_scheme();
    if scheme.is_empty() || scheme.eq_ignore_ascii_case(&s.profile.api.auth_scheme) {
        return None;
    }
    HeaderValue::from_str(&format!("{scheme} realm=\"{}\"", s.profile.id)).ok()
}

fn unauthorized(
    s: &Shared,
    error: &str,
    description: &str,
    challenges: &[HeaderValue],
) -> Response {
    let body = s
        .profile
        .errors
        .render(&s.profile.errors.unauthorized_body, error, description);
    let mut resp = json_body(StatusCode::UNAUTHORIZED, body);
    for c in challenges {
        resp.headers_mut().append(WWW_AUTHENTICATE, c.clone());
    }
    refused(resp, Some(error), description)
}

/// 401 for native credentials that do not match: the native scheme's challenge, or the
/// OAuth one for a scheme that has none (a key in a header of its own), since a 401 always
/// carries one (RFC 9110 §15.5.2).
fn bad_native(s: &Shared, description: &str) -> Response {
    let challenge = native_challenge(s).unwrap_or_else(|| bearer_challenge(s, None, None));
    let challenge = [challenge];
    unauthorized(s, "invalid_credentials", description, &challenge)
}

pub(crate) fn bad_request(s: &Shared, description: &str) -> Response {
    let body = s.profile.errors.render(
        &s.profile.errors.bad_request_body,
        "invalid_request",
        description,
    );
    refused(
        json_body(StatusCode::BAD_REQUEST, body),
        Some("invalid_request"),
        description,
    )
}

// ---------------------------------------------------------------- authentication

/// Where a request without an `Authorization` header put its credential instead, if it did:
/// an access token in the query string (RFC 6750 §2.3) or in a form body (§2.2), or one of
/// the native scheme's keys in the query string. The journal redacts the value either way.
fn misplaced_credential(s: &Shared, uri: &Uri, headers: &HeaderMap, body: &[u8]) -> Option<String> {
    const TOKEN_NAMES: [&str; 2] = ["access_token", "token"];
    const KEY_NAMES: [&str; 5] = [
        "api_key",
        "apikey",
        "api_token",
        "user_key",
        "personal_access_token",
    ];
    let query = params::parse_urlencoded(uri.query().unwrap_or("").as_bytes()).ok();
    let in_query = |names: &[&str]| {
        query
            .as_ref()
            .and_then(|q| q.0.iter().find(|(k, _)| names.contains(&k.as_str())))
            .map(|(k, _)| k.clone())
    };
    let fix = format!(
        "send it as Authorization: {} <token>",
        s.profile.api.auth_scheme
    );
    if let Some(k) = in_query(&TOKEN_NAMES) {
        return Some(format!(
            "the access token was sent in the query string (?{k}=), which this API does not read: {fix} (RFC 6750 §2.1); a token in a URL ends up in logs, history and Referer headers (RFC 6750 §2.3, §5.3)"
        ));
    }
    let form = headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| {
            ct.trim_start()
                .starts_with("application/x-www-form-urlencoded")
        });
    if form {
        if let Some((k, _)) = params::parse_urlencoded(body).ok().and_then(|p| {
            p.0.into_iter()
                .find(|(k, _)| TOKEN_NAMES.contains(&k.as_str()))
        }) {
            return Some(format!(
                "the access token was sent in the form body ({k}=), which this API does not read: {fix} (RFC 6750 §2.1, §2.2)"
            ));
        }
    }
    let native = s.profile.native_auth.as_ref()?;
    let k = in_query(&KEY_NAMES)?;
    let send = native::verifier(native.scheme).described(native);
    let send = if native.scheme.auth_scheme().is_empty() {
        send.into_owned()
    } else {
        format!("Authorization: {send}")
    };
    Some(format!(
        "a credential was sent in the query string (?{k}=), which this API does not read: send it as {send}; a key in a URL ends up in logs and history (RFC 6750 §5.3)"
    ))
}

fn authorize(
    s: &Shared,
    headers: &HeaderMap,
    misplaced: impl FnOnce() -> Option<String>,
) -> Result<Caller, Response> {
    let mut all = headers.get_all(AUTHORIZATION).iter();
    let first = all.next();
    if all.next().is_some() {
        let d = "more than one Authorization header";
        let body =
            s.profile
                .errors
                .render(&s.profile.errors.unauthorized_body, "invalid_request", d);
        let mut resp = json_body(StatusCode::BAD_REQUEST, body);
        resp.headers_mut().insert(
            WWW_AUTHENTICATE,
            bearer_challenge(s, Some(("invalid_request", d)), None),
        );
        return Err(refused(resp, Some("invalid_request"), d));
    }
    let verifier = native_scheme(s).map(native::verifier);
    let word = s.profile.api.auth_scheme.as_str();
    if first.is_none() {
        // A scheme whose key rides in a header of its own (Pipedrive `x-api-token`).
        match native_verdict(s, headers, "", "") {
            Verdict::Accepted { mode } => {
                return Ok(Caller {
                    mode,
                    grant: None,
                    user: 0,
                })
            }
            Verdict::Refused { mode, description } => {
                return Err(tagged(bad_native(s, &description), Some(mode)))
            }
            Verdict::NotMine => {}
        }
    }
    let Some(value) = first else {
        // RFC 6750 §3.1: no credentials ⇒ no error attribute in the challenge.
        let mut challenges = vec![bearer_challenge(s, None, None)];
        challenges.extend(native_challenge(s));
        let d = match (misplaced(), verifier.and_then(|v| v.missing())) {
            // The CRM's documented words first (Redtail), then what the mock saw.
            (Some(m), Some(words)) => format!("{words}: {m}"),
            (Some(m), None) => format!("no Authorization header: {m}"),
            (None, Some(words)) => words.to_owned(),
            (None, None) => format!("an access token is required (Authorization: {word})"),
        };
        return Err(unauthorized(s, "invalid_token", &d, &challenges));
    };
    let text = String::from_utf8_lossy(value.as_bytes());
    let (scheme, cred) = text.split_once(' ').unwrap_or((&text, ""));
    let cred = cred.trim();
    if scheme.eq_ignore_ascii_case(word) {
        return bearer(s, headers, cred);
    }
    match native_verdict(s, headers, scheme, cred) {
        Verdict::Accepted { mode } => Ok(Caller {
            mode,
            grant: None,
            user: 0,
        }),
        Verdict::Refused { mode, description } => {
            Err(tagged(bad_native(s, &description), Some(mode)))
        }
        Verdict::NotMine if scheme.eq_ignore_ascii_case("basic") => {
            let d = format!("Basic credentials are not accepted here; use Authorization: {word}");
            Err(unauthorized(
                s,
                "invalid_token",
                &d,
                &[bearer_challenge(s, Some(("invalid_token", &d)), None)],
            ))
        }
        Verdict::NotMine => {
            let expected = match native_scheme(s).map(NativeScheme::auth_scheme) {
                None | Some("") => word.to_owned(),
                Some(native) if native.eq_ignore_ascii_case(word) => word.to_owned(),
                Some(native) => format!("{native} or {word}"),
            };
            let d = format!("unsupported authorization scheme; use {expected}");
            let mut challenges = vec![bearer_challenge(s, Some(("invalid_token", &d)), None)];
            challenges.extend(native_challenge(s));
            Err(unauthorized(s, "invalid_token", &d, &challenges))
        }
    }
}

fn bearer(s: &Shared, headers: &HeaderMap, token: &str) -> Result<Caller, Response> {
    let invalid = |d: &str| {
        unauthorized(
            s,
            "invalid_token",
            d,
            &[bearer_challenge(s, Some(("invalid_token", d)), None)],
        )
    };
    if token.is_empty() {
        return Err(tagged(
            invalid(&format!("the {} token is empty", s.profile.api.auth_scheme)),
            Some(MODE_OAUTH),
        ));
    }
    if let Verdict::Accepted { mode } = native_verdict(s, headers, "Bearer", token) {
        return Ok(Caller {
            mode,
            grant: None,
            user: 0,
        });
    }
    let sec = &s.profile.security;
    let now = s.now();
    let lookup = lock(&s.store).lookup_access(token, now);
    let (grant, scope, user) = match lookup {
        AccessLookup::Valid { grant, scope, user } => (grant, scope, user),
        AccessLookup::Expired {
            grant, scope, user, ..
        } if !sec.check_expiry => (grant, scope, user),
        AccessLookup::Expired { ago, .. } => {
            let fix = if s.profile.tokens.refresh_tokens {
                "refresh it (grant_type=refresh_token, RFC 6749 §6) and retry"
            } else {
                "this provider issues no refresh tokens: send the user through the login again"
            };
            let d = format!(
                "The access token expired {} ago (access tokens live {} s); {fix}",
                ago_text(ago),
                s.profile.tokens.access_token_lifetime_secs
            );
            return Err(tagged(invalid(&d), Some(MODE_OAUTH)));
        }
        AccessLookup::Unknown => {
            return Err(tagged(
                invalid("The access token is invalid or revoked"),
                Some(MODE_OAUTH),
            ))
        }
    };
    if let Some(required) = &s.profile.api.required_scope {
        if sec.enforce_scope && !scope.iter().any(|sc| sc == required) {
            let d = format!("the {required} scope is required");
            let body =
                s.profile
                    .errors
                    .render(&s.profile.errors.forbidden_body, "insufficient_scope", &d);
            let mut resp = json_body(StatusCode::FORBIDDEN, body);
            resp.headers_mut().insert(
                WWW_AUTHENTICATE,
                bearer_challenge(s, Some(("insufficient_scope", &d)), Some(required)),
            );
            let resp = refused(resp, Some("insufficient_scope"), &d);
            return Err(tagged(resp, Some(MODE_OAUTH)));
        }
    }
    Ok(Caller {
        mode: MODE_OAUTH,
        grant: Some(grant),
        user,
    })
}

/// `0 s`, `42 s`, `3 min 5 s`, `2 h 10 min`, `3 d 4 h`: how long ago, for a refusal.
fn ago_text(d: Duration) -> String {
    let s = d.as_secs();
    match s {
        0..=59 => format!("{s} s"),
        60..=3599 => format!("{} min {} s", s / 60, s % 60),
        3600..=86_399 => format!("{} h {} min", s / 3600, s % 3600 / 60),
        _ => format!("{} d {} h", s / 86_400, s % 86_400 / 3600),
    }
}

// ---------------------------------------------------------------- rate limits

/// Counts the request against its caller's window. `Ok` carries the rate-limit headers for
/// the answer; `Err` is the 429.
fn rate(s: &Shared, caller: &Caller) -> Result<RateHeaders, Response> {
    let configured = s.rate_limit.map(|(limit, _)| limit);
    if let Some(l) = s.take_rate_limited() {
        // An injected trip answers exactly like a used-up window.
        let headers = rate_headers(s, configured, 0, l.reset_at);
        let headers = headers.map_or_else(HeaderMap::new, XRateLimit::into_map);
        let left = ceil_secs(l.retry_after);
        let why = format!(
            "the rate limit is tripped (an armed rate_limited fault); retry in {left} s (RFC 6585 §4)"
        );
        let mut resp = too_many_requests(s, left, headers, &why);
        resp.extensions_mut().insert(crate::journal::Note(format!(
            "fault fired: rate_limited ({left} s left)"
        )));
        return Err(resp);
    }
    let Some((limit, window)) = s.rate_limit else {
        return Ok(None);
    };
    let now = s.now();
    let (allowed, remaining, reset_in) = match caller.grant {
        Some(g) => lock(&s.store).rate(g, limit, window, now),
        None => count_in_window(&mut lock(&s.native_rate), limit, window, now),
    };
    let reset_secs = ceil_secs(reset_in);
    let headers = rate_headers(
        s,
        Some(limit),
        remaining,
        s.clock.unix_secs().saturating_add(reset_secs),
    );
    if allowed {
        Ok(headers)
    } else {
        let why = format!(
            "the rate limit of {limit} requests per {} s is used up; the window resets in {reset_secs} s (RFC 6585 §4)",
            ceil_secs(window)
        );
        let headers = headers.map_or_else(HeaderMap::new, XRateLimit::into_map);
        Err(too_many_requests(s, reset_secs, headers, &why))
    }
}

fn ceil_secs(d: Duration) -> u64 {
    d.as_secs() + u64::from(d.subsec_nanos() > 0)
}

/// The `X-RateLimit-*` values of one answer, written straight into its headers (a map of
/// its own per request, then merged, was a tenth of the API's instructions).
type RateHeaders = Option<XRateLimit>;

#[derive(Clone, Copy)]
struct XRateLimit {
    limit: Option<u32>,
    remaining: u32,
    reset_at: u64,
    /// HubSpot's names instead (`X-HubSpot-RateLimit-*`), with the window in milliseconds.
    hubspot: Option<u64>,
}

impl XRateLimit {
    fn write(self, headers: &mut HeaderMap) {
        if let Some(window_ms) = self.hubspot {
            if let Some(l) = self.limit {
                headers.insert(
                    HeaderName::from_static("x-hubspot-ratelimit-max"),
                    HeaderValue::from(l),
                );
            }
            headers.insert(
                HeaderName::from_static("x-hubspot-ratelimit-remaining"),
                HeaderValue::from(self.remaining),
            );
            headers.insert(
                HeaderName::from_static("x-hubspot-ratelimit-interval-milliseconds"),
                HeaderValue::from(window_ms),
            );
            return;
        }
        if let Some(l) = self.limit {
            headers.insert(
                HeaderName::from_static("x-ratelimit-limit"),
                HeaderValue::from(l),
            );
        }
        headers.insert(
            HeaderName::from_static("x-ratelimit-remaining"),
            HeaderValue::from(self.remaining),
        );
        headers.insert(
            HeaderName::from_static("x-ratelimit-reset"),
            HeaderValue::from(self.reset_at),
        );
    }

    fn into_map(self) -> HeaderMap {
        let mut h = HeaderMap::with_capacity(3);
        self.write(&mut h);
        h
    }
}

/// The profile's rate-limit headers (none unless it sends `X-RateLimit-*` or HubSpot's).
fn rate_headers(s: &Shared, limit: Option<u32>, remaining: u32, reset_at: u64) -> RateHeaders {
    let hubspot = match s.profile.rate_limit.headers {
        RateLimitHeaders::None => return None,
        RateLimitHeaders::XRateLimit => None,
        RateLimitHeaders::XHubspotRateLimit => Some(s.rate_limit.map_or(
            s.profile.rate_limit.window_secs.saturating_mul(1000),
            |(_, w)| u64::try_from(w.as_millis()).unwrap_or(u64::MAX),
        )),
    };
    Some(XRateLimit {
        limit,
        remaining,
        reset_at,
        hubspot,
    })
}

/// The CRM's 429: its body, `Retry-After` when it sends one, and the rate-limit headers.
fn too_many_requests(s: &Shared, retry_after_secs: u64, headers: HeaderMap, why: &str) -> Response {
    let rl = &s.profile.rate_limit;
    // 429 (RFC 6585 §4), or what the CRM sends instead (Salesforce: 403).
    let status = StatusCode::from_u16(rl.status).unwrap_or(StatusCode::TOO_MANY_REQUESTS);
    let mut resp = json_body(status, rl.body.clone());
    if rl.retry_after {
        resp.headers_mut()
            .insert(RETRY_AFTER, HeaderValue::from(retry_after_secs.max(1)));
    }
    resp.headers_mut().extend(headers);
    // The CRM's 429 body names no OAuth error code; the journal says why.
    refused(resp, None, why)
}

// ---------------------------------------------------------------- handlers

/// Headers every answer of the API carries, whatever its status.
fn finish(s: &Shared, mut resp: Response, mode: Option<&'static str>) -> Response {
    let api = &s.profile.api;
    if let (Some(name), Some(version)) = (&api.current_version_header, &api.current_version) {
        // ConnectWise `api-current-version`; the profile is validated to make a header of it.
        if let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(version),
        ) {
            resp.headers_mut().insert(name, value);
        }
    }
    tagged(resp, mode)
}

/// Authenticates and rate-limits; `Err` is the finished refusal.
fn admit(
    s: &Shared,
    headers: &HeaderMap,
    uri: &Uri,
    body: &[u8],
) -> Result<(Caller, RateHeaders), Response> {
    let caller = match authorize(s, headers, || misplaced_credential(s, uri, headers, body)) {
        Ok(c) => c,
        Err(r) => return Err(finish(s, r, None)),
    };
    match rate(s, &caller) {
        Ok(h) => Ok((caller, h)),
        Err(r) => Err(finish(s, r, Some(caller.mode))),
    }
}

/// `GET {api.path}`: a page of records.
pub(crate) async fn list(State(s): State<Arc<Shared>>, req: Request) -> Response {
    // Taken apart rather than extracted piecemeal: axum's `HeaderMap` extractor clones.
    let (parts, body) = req.into_parts();
    let (headers, uri) = (parts.headers, parts.uri);
    // The journal layer has already read the body within its limit (`observe.rs`).
    let body = axum::body::to_bytes(body, crate::limits::BODY_LIMIT)
        .await
        .unwrap_or_default();
    let (caller, rate_headers) = match admit(&s, &headers, &uri, &body) {
        Ok(x) => x,
        Err(r) => return r,
    };
    let key = page_key(&s, caller.user, &headers, &uri);
    let cached = key.as_ref().and_then(|k| s.pages.get(k));
    let mut resp = match cached {
        Some(resp) => resp,
        None => match page(&s, s.records_of(caller.user), &headers, &uri) {
            Ok(p) => {
                let resp = render_list(&s, &headers, p);
                match key {
                    Some(key) if resp.status().is_success() => {
                        let (resp, kept) = Rendered::split(resp).await;
                        if let Some(kept) = kept {
                            s.pages.put(key, kept);
                        }
                        resp
                    }
                    _ => resp,
                }
            }
            Err(d) => bad_request(&s, &d),
        },
    };
    if let Some(r) = rate_headers {
        r.write(resp.headers_mut());
    }
    resp.extensions_mut().insert(UserUsed(caller.user));
    finish(&s, resp, Some(caller.mode))
}

/// What decides a list page besides the records (`page_cache.rs`): the user, the query and
/// the headers paging and format read. `None` (render every time) when one of those headers
/// comes more than once.
fn page_key(s: &Shared, user: usize, headers: &HeaderMap, uri: &Uri) -> Option<PageKey> {
    let paging = s.profile.api.paging.as_ref();
    let size_header = paging
        .filter(|p| p.size_in_header)
        .map(|p| p.size_param.as_str());
    let forward_only = paging
        .filter(|p| p.forward_only)
        .map(|p| p.forward_only_header.as_str());
    let names = [forward_only, Some(ACCEPT.as_str()), size_header];
    let mut values = Vec::with_capacity(names.len());
    for name in names.into_iter().flatten() {
        let mut all = headers.get_all(name).iter();
        let first = all.next().cloned();
        if all.next().is_some() {
            return None;
        }
        values.push(first);
    }
    Some(PageKey {
        user,
        query: uri.query().unwrap_or("").to_owned(),
        headers: values,
    })
}

/// `GET {api.path}/{id}`: one record.
pub(crate) async fn item(
    State(s): State<Arc<Shared>>,
    id: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
    uri: Uri,
    body: Bytes,
) -> Response {
    let (caller, rate_headers) = match admit(&s, &headers, &uri, &body) {
        Ok(x) => x,
        Err(r) => return r,
    };
    // An id that does not even decode (`%aA`) names no record.
    let id = id.map(|Path(id)| id).unwrap_or_default();
    let field = dataset::id_field(&s.profile);
    let found = s
        .records_of(caller.user)
        .iter()
        .find(|r| dataset::id_of(r, field).as_deref() == Some(id.as_str()));
    let mut resp = match found {
        Some(record) => render_item(&s, &headers, record),
        None if s.profile.api.not_found_status == 204 => StatusCode::NO_CONTENT.into_response(),
        None => {
            let shown: String = id.chars().take(40).collect();
            let d = format!("no record with id {shown}");
            let body = s
                .profile
                .errors
                .render(&s.profile.errors.not_found_body, "not_found", &d);
            refused(
                json_body(StatusCode::NOT_FOUND, body),
                Some("not_found"),
                &d,
            )
        }
    };
    if let Some(r) = rate_headers {
        r.write(resp.headers_mut());
    }
    resp.extensions_mut().insert(UserUsed(caller.user));
    finish(&s, resp, Some(caller.mode))
}

/// Redtail: `GET {native_auth.exchange_path}` with `Basic base64(api_key:username:password)`
/// answers the non-expiring `user_key`, wherever the profile's `native_auth.user_key_at`
/// says (sources disagree on where it sits).
pub(crate) async fn exchange(State(s): State<Arc<Shared>>, headers: HeaderMap) -> Response {
    let Some(native) = &s.profile.native_auth else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let verifier = native::verifier(native.scheme);
    let Some(value) = headers.get(AUTHORIZATION) else {
        let challenge: Vec<_> = native_challenge(&s).into_iter().collect();
        let d = verifier
            .missing()
            .unwrap_or("an Authorization header is required");
        return unauthorized(&s, "invalid_credentials", d, &challenge);
    };
    let text = String::from_utf8_lossy(value.as_bytes());
    let (scheme, cred) = text.split_once(' ').unwrap_or((&text, ""));
    let exchange_authorization = verifier.exchange_authorization().unwrap_or("Basic");
    let mode = match native_verdict(&s, &headers, scheme, cred) {
        _ if !scheme.eq_ignore_ascii_case("basic") => {
            let d = format!("the authentication exchange takes {exchange_authorization}");
            return tagged(bad_native(&s, &d), None);
        }
        Verdict::Accepted { mode } => mode,
        Verdict::Refused { mode, description } => {
            return tagged(bad_native(&s, &description), Some(mode))
        }
        Verdict::NotMine => {
            let d = format!("the authentication exchange takes {exchange_authorization}");
            return tagged(bad_native(&s, &d), None);
        }
    };
    let body = native::redtail_user_key::exchange_answer(&s.native, native);
    let mut resp = axum::Json(body).into_response();
    // The answer carries a credential.
    resp.headers_mut().insert(
        axum::http::header::CACHE_CONTROL,
        HeaderValue::from_static("no-store"),
    );
    tagged(resp, Some(mode))
}

// ---------------------------------------------------------------- paging

/// One page, ready to render. Its records are borrowed from the data set unless the page
/// had to change them (Agile's `count` and `cursor` fields on its records).
#[derive(Debug, Default)]
struct Page<'a> {
    records: Cow<'a, [Value]>,
    /// The `Link` header's value (RFC 8288), empty for none.
    links: String,
    has_more: Option<bool>,
    total_header: Option<u64>,
    /// Fields of the body beside the records (Redtail's `meta` totals), each at its path.
    body: Vec<(&'a FieldPath, Value)>,
}

impl<'a> Page<'a> {
    /// Writes `value` where `at` says: into the body, or into the page's first or last
    /// record (nothing on an empty page).
    fn put(&mut self, at: &'a FieldPath, value: Value) {
        let record = match at.anchor() {
            Anchor::Body => return self.body.push((at, value)),
            Anchor::FirstRecord => self.records.to_mut().first_mut(),
            Anchor::LastRecord => self.records.to_mut().last_mut(),
        };
        if let Some(record) = record {
            at.set_in(record, value);
        }
    }
}

fn trunc(v: &str) -> String {
    v.chars().take(40).collect()
}

/// A whole number ≥ `min`, digits only.
fn number(name: &str, v: &str, min: u64) -> Result<u64, String> {
    if v.is_empty() || !v.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("{name} must be a whole number, got {:?}", trunc(v)));
    }
    let n: u64 = v.parse().map_err(|_| format!("{name} is too large"))?;
    if n < min {
        return Err(format!("{name} must be at least {min}, got {n}"));
    }
    Ok(n)
}

/// A query parameter's raw value (an empty value is a value, not an omission).
fn raw<'a>(q: &'a Params, name: &str) -> Option<&'a str> {
    q.0.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
}

/// A page of `all` (the caller's data set), as the profile pages.
fn page<'a>(
    s: &'a Shared,
    all: &'a [Value],
    headers: &HeaderMap,
    uri: &Uri,
) -> Result<Page<'a>, String> {
    let Some(p) = &s.profile.api.paging else {
        return Ok(Page {
            records: Cow::Borrowed(all),
            ..Page::default()
        });
    };
    let q = params::parse_urlencoded(uri.query().unwrap_or("").as_bytes())
        .map_err(|e| format!("query string: {e}"))?;
    let ours = p.query_params();
    for (i, (k, _)) in q.0.iter().enumerate() {
        if ours.contains(&k.as_str()) && q.0[..i].iter().any(|(k2, _)| k2 == k) {
            return Err(format!("{k} is given more than once"));
        }
    }
    let size = page_size(p, headers, &q)?;
    let size_text = size.to_string();
    // The size goes in a page's URL unless the CRM takes it as a header.
    let size_pair = (!p.size_in_header).then_some((p.size_param.as_str(), size_text.as_str()));
    let total = all.len() as u64;
    let slice = |start: u64| -> Cow<'a, [Value]> {
        let start = usize::try_from(start).unwrap_or(usize::MAX).min(all.len());
        let end = start.saturating_add(size as usize).min(all.len());
        Cow::Borrowed(&all[start..end])
    };
    // The list's URL with `set` replacing those parameters: what `next_url_at` carries.
    let url_with = |set: &[(&str, &str)]| link_onto(String::new(), s, uri, &q, set);
    let mut out = Page::default();
    // The next page, named by its parameter, when there is one.
    let mut next: Option<(&str, String)> = None;
    match p.style {
        PagingStyle::Page if p.forward_only && forward_only_asked(p, headers) => {
            let id_param = p.page_id_param.as_str();
            if raw(&q, &p.page_param).is_some() {
                return Err(format!(
                    "{} cannot be combined with {}: {}; follow the Link rel=\"next\" ({id_param})",
                    p.page_param, p.forward_only_header, p.forward_only_value
                ));
            }
            let start = match raw(&q, id_param) {
                None => 0,
                Some(v) => {
                    let id = number(id_param, v, 0)?.to_string();
                    let field = dataset::id_field(&s.profile);
                    let at = all
                        .iter()
                        .position(|r| dataset::id_of(r, field).as_deref() == Some(id.as_str()))
                        .ok_or_else(|| {
                            format!("{id_param} {id} is not the id of a record in this list")
                        })?;
                    at as u64 + 1
                }
            };
            out.records = slice(start);
            if start + size < total {
                if let Some(last) = out
                    .records
                    .last()
                    .and_then(|r| dataset::id_of(r, dataset::id_field(&s.profile)))
                {
                    // Forward-only pages are named in Link only, the size always in the URL.
                    push_link(
                        &mut out.links,
                        "next",
                        s,
                        uri,
                        &q,
                        &[(id_param, &last), (&p.size_param, &size_text)],
                    );
                    next = Some((id_param, last));
                }
            }
        }
        PagingStyle::Page => {
            let page = match raw(&q, &p.page_param) {
                None => 1,
                Some(v) => number(&p.page_param, v, 1)?,
            };
            let start = (page - 1).saturating_mul(size);
            out.records = slice(start);
            let pages = total.div_ceil(size);
            let more = start.saturating_add(size) < total;
            if p.link_header {
                let mut at = |rel: &str, n: u64| {
                    let n = n.to_string();
                    let set = [(p.page_param.as_str(), n.as_str())];
                    let set: Vec<_> = set.into_iter().chain(size_pair).collect();
                    push_link(&mut out.links, rel, s, uri, &q, &set);
                };
                at("first", 1);
                if page > 1 {
                    at("prev", (page - 1).min(pages.max(1)));
                }
                if more {
                    at("next", page + 1);
                }
                at("last", pages.max(1));
            }
            out.has_more = Some(more);
            if p.meta {
                out.put(&p.total_pages_at, pages.into());
                out.put(&p.total_records_at, total.into());
            }
            if more {
                next = Some((p.page_param.as_str(), (page + 1).to_string()));
            }
        }
        PagingStyle::SkipTop => {
            let name = p.skip_param();
            let skip = match raw(&q, name) {
                None => 0,
                Some(v) => number(name, v, 0)?,
            };
            out.records = slice(skip);
            let more = skip.saturating_add(size) < total;
            out.has_more = Some(more);
            if more {
                let at = skip + size;
                if let Some(f) = &p.next_skip_at {
                    // Pipedrive `additional_data.pagination.next_start`.
                    out.put(f, at.into());
                }
                next = Some((name, at.to_string()));
            }
        }
        PagingStyle::Cursor => {
            let name = p.cursor_param();
            let start = match raw(&q, name) {
                None => 0,
                Some(v) => decode_cursor(s, v, total)
                    .ok_or_else(|| format!("unknown {name} {:?}", trunc(v)))?,
            };
            out.records = slice(start);
            let after = start + out.records.len() as u64;
            // Agile CRM: "Count of the contacts will be in the first contact".
            if p.count {
                out.put(&p.count_at, total.into());
            }
            if after < total {
                let cursor = encode_cursor(s, after);
                out.put(&p.cursor_at, Value::String(cursor.clone()));
                next = Some((name, cursor));
            }
        }
    }
    if let Some(at) = &p.has_more_at {
        out.put(at, next.is_some().into());
    }
    if let Some(at) = &p.done_at {
        out.put(at, next.is_none().into());
    }
    if let Some(at) = &p.record_count_at {
        out.put(at, total.into());
    }
    if let (Some(at), Some((name, value))) = (&p.next_url_at, &next) {
        let set: Vec<_> = [(*name, value.as_str())]
            .into_iter()
            .chain(size_pair)
            .collect();
        out.put(at, Value::String(url_with(&set)));
    }
    if let Some(h) = &p.total_header {
        let asked = match (
            &p.total_param,
            p.total_param.as_deref().and_then(|t| raw(&q, t)),
        ) {
            (None, _) => true,
            (Some(_), None) => false,
            (Some(t), Some(v)) => match v.to_ascii_lowercase().as_str() {
                "true" => true,
                "false" => false,
                _ => return Err(format!("{t} must be true or false, got {:?}", trunc(v))),
            },
        };
        if asked && !h.is_empty() {
            out.total_header = Some(total);
        }
    }
    Ok(out)
}

fn forward_only_asked(p: &Paging, headers: &HeaderMap) -> bool {
    headers
        .get(p.forward_only_header.as_str())
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case(&p.forward_only_value))
}

fn page_size(p: &Paging, headers: &HeaderMap, q: &Params) -> Result<u64, String> {
    let given = if p.size_in_header {
        match headers.get(p.size_param.as_str()) {
            None => None,
            Some(v) => {
                let text = v
                    .to_str()
                    .map_err(|_| format!("the {} header must be a whole number", p.size_param))?;
                // Dynamics: `Prefer: odata.maxpagesize=50` among other preferences; a header
                // without the size element asks for no particular size.
                p.size_from_header(text).map(str::to_owned)
            }
        }
    } else {
        raw(q, &p.size_param).map(str::to_owned)
    };
    let size = match given {
        None => u64::from(p.default_size),
        Some(v) => number(&p.size_param, &v, 1)?,
    };
    let max = u64::from(p.max_size);
    if size > max {
        if p.reject_oversize {
            return Err(format!(
                "{} must be at most {max}, got {size}",
                p.size_param
            ));
        }
        return Ok(max);
    }
    Ok(size)
}

/// Appends `<url>; rel="rel"` to a `Link` header value (comma-separated, RFC 8288 §3),
/// where `url` is the list with `set` replacing those query parameters; other parameters
/// (filters) are kept.
fn push_link(
    header: &mut String,
    rel: &str,
    s: &Shared,
    uri: &Uri,
    q: &Params,
    set: &[(&str, &str)],
) {
    if !header.is_empty() {
        header.push_str(", ");
    }
    header.push('<');
    let mut url = link_onto(std::mem::take(header), s, uri, q, set);
    url.push_str(">; rel=\"");
    url.push_str(rel);
    url.push('"');
    *header = url;
}

/// `url` followed by the absolute URL of the list with `set` replacing those parameters.
fn link_onto(mut url: String, s: &Shared, uri: &Uri, q: &Params, set: &[(&str, &str)]) -> String {
    url.reserve(s.base_url.len() + uri.path().len() + 48);
    url.push_str(&s.base_url);
    url.push_str(uri.path());
    url.push('?');
    let kept = q.0.iter().filter(|(k, _)| !set.iter().any(|(n, _)| n == k));
    let pairs = kept
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .chain(set.iter().copied());
    for (i, (k, v)) in pairs.enumerate() {
        if i > 0 {
            url.push('&');
        }
        push_form_encoded(&mut url, k);
        url.push('=');
        push_form_encoded(&mut url, v);
    }
    url
}

/// Appends `s` form-encoded, exactly as `url::form_urlencoded` (and so serde_urlencoded)
/// encodes it; as it is when it has nothing to encode (numbers, parameter names).
fn push_form_encoded(url: &mut String, s: &str) {
    if s.bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'*' | b'-' | b'.' | b'_'))
    {
        url.push_str(s);
    } else {
        url.extend(url::form_urlencoded::byte_serialize(s.as_bytes()));
    }
}

fn cursor_tag(s: &Shared, index: u64) -> String {
    let digest = Sha256::new()
        .chain_update(s.seed.to_be_bytes())
        .chain_update(s.profile.id.as_bytes())
        .chain_update(index.to_be_bytes())
        .finalize();
    digest[..6].iter().map(|b| format!("{b:02x}")).collect()
}

/// Opaque to clients; carries the next record's index and a tag so invented or stale
/// cursors (another seed) are refused.
fn encode_cursor(s: &Shared, index: u64) -> String {
    URL_SAFE_NO_PAD.encode(format!("{index}:{}", cursor_tag(s, index)))
}

fn decode_cursor(s: &Shared, cursor: &str, total: u64) -> Option<u64> {
    let raw = URL_SAFE_NO_PAD.decode(cursor).ok()?;
    let text = String::from_utf8(raw).ok()?;
    let (index, tag) = text.split_once(':')?;
    let index: u64 = index.parse().ok()?;
    (index > 0 && index < total && ct_eq(tag, &cursor_tag(s, index))).then_some(index)
}

// ---------------------------------------------------------------- rendering

/// Whether the request accepts JSON explicitly (Agile answers XML otherwise).
fn accepts_json(headers: &HeaderMap) -> bool {
    headers
        .get_all(ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|range| {
            let media = range.split(';').next().unwrap_or("").trim();
            media.eq_ignore_ascii_case("application/json")
        })
}

fn wants_xml(s: &Shared, headers: &HeaderMap) -> bool {
    s.profile.api.format == BodyFormat::XmlUnlessAcceptJson && !accepts_json(headers)
}

fn render_list(s: &Shared, headers: &HeaderMap, p: Page<'_>) -> Response {
    let api = &s.profile.api;
    let mut resp = if p.records.is_empty() && api.empty_status == 204 {
        StatusCode::NO_CONTENT.into_response()
    } else if wants_xml(s, headers) {
        let root = list_element(s);
        xml_response(xml_list(&root, &item_element(s, &root), &p.records))
    } else {
        let body = list_json(api.envelope.as_deref(), &p.records, &p.body);
        let mut resp = body.into_response();
        resp.headers_mut()
            .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        resp
    };
    let h = resp.headers_mut();
    // Link, paging and rate-limit headers follow: one growth instead of several.
    h.reserve(8);
    if !p.links.is_empty() {
        if let Ok(v) = HeaderValue::from_maybe_shared(Bytes::from(p.links)) {
            h.insert(LINK, v);
        }
    }
    if let Some(paging) = &api.paging {
        if let (Some(name), Some(more)) = (&paging.has_more_header, p.has_more) {
            if let Ok(name) = HeaderName::from_bytes(name.as_bytes()) {
                h.insert(
                    name,
                    HeaderValue::from_static(if more { "true" } else { "false" }),
                );
            }
        }
        if let (Some(name), Some(total)) = (&paging.total_header, p.total_header) {
            if let Ok(name) = HeaderName::from_bytes(name.as_bytes()) {
                h.insert(name, HeaderValue::from(total));
            }
        }
    }
    resp
}

/// A list's JSON body, written straight from the borrowed records: byte for byte what
/// `json!({envelope: records})` with each of `fields` set at its path gives (object keys in
/// sorted order). A field whose path starts at the envelope's key replaces the records.
fn list_json(envelope: Option<&str>, records: &[Value], fields: &[(&FieldPath, Value)]) -> Vec<u8> {
    // Writing JSON into a Vec cannot fail.
    let Some(key) = envelope else {
        let mut out = Vec::with_capacity(2 + records.len() * 256);
        let _ = serde_json::to_writer(&mut out, records);
        return out;
    };
    let mut extra = Value::Object(Default::default());
    for (at, value) in fields {
        at.set_in(&mut extra, value.clone());
    }
    let Value::Object(extra) = extra else {
        unreachable!("set_in keeps the root an object")
    };
    let mut out = Vec::with_capacity(16 + records.len() * 256);
    out.push(b'{');
    let mut first = true;
    let mut comma = |out: &mut Vec<u8>| {
        if !std::mem::take(&mut first) {
            out.push(b',');
        }
    };
    let mut list_written = extra.contains_key(key);
    // serde_json's map is sorted: the records go in at their key's place.
    for (k, v) in &extra {
        if !list_written && key < k.as_str() {
            comma(&mut out);
            let _ = serde_json::to_writer(&mut out, key);
            out.push(b':');
            let _ = serde_json::to_writer(&mut out, records);
            list_written = true;
        }
        comma(&mut out);
        let _ = serde_json::to_writer(&mut out, k);
        out.push(b':');
        let _ = serde_json::to_writer(&mut out, v);
    }
    if !list_written {
        comma(&mut out);
        let _ = serde_json::to_writer(&mut out, key);
        out.push(b':');
        let _ = serde_json::to_writer(&mut out, records);
    }
    out.push(b'}');
    out
}

fn render_item(s: &Shared, headers: &HeaderMap, record: &Value) -> Response {
    if wants_xml(s, headers) {
        let root = list_element(s);
        let mut out = String::from(XML_DECL);
        xml_value(&mut out, &item_element(s, &root), record);
        return xml_response(out);
    }
    let body = match &s.profile.api.item_envelope {
        Some(key) => json!({ key: record }),
        None => record.clone(),
    };
    axum::Json(body).into_response()
}

const XML_DECL: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?>\n";

fn xml_response(body: String) -> Response {
    let mut resp = body.into_response();
    resp.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("application/xml; charset=utf-8"),
    );
    resp
}

/// The list's element name: the envelope, else the path's last segment (`contacts`).
fn list_element(s: &Shared) -> String {
    let api = &s.profile.api;
    let name = api.envelope.clone().unwrap_or_else(|| {
        api.path
            .rsplit('/')
            .find(|seg| !seg.is_empty())
            .unwrap_or("records")
            .to_owned()
    });
    xml_name(&name)
}

/// A record's element name: the item envelope, else the singular of the list's name.
fn item_element(s: &Shared, list: &str) -> String {
    if let Some(item) = &s.profile.api.item_envelope {
        return xml_name(item);
    }
    let singular = if let Some(stem) = list.strip_suffix("ies") {
        format!("{stem}y")
    } else if let Some(stem) = list.strip_suffix('s') {
        stem.to_owned()
    } else {
        format!("{list}_item")
    };
    xml_name(&singular)
}

fn xml_list(root: &str, item: &str, records: &[Value]) -> String {
    let mut out = String::from(XML_DECL);
    out.push('<');
    out.push_str(root);
    out.push('>');
    for r in records {
        xml_value(&mut out, item, r);
    }
    out.push_str("</");
    out.push_str(root);
    out.push_str(">\n");
    out
}

/// JAXB-style: object fields become child elements, arrays repeat their field's element.
fn xml_value(out: &mut String, name: &str, v: &Value) {
    match v {
        Value::Array(items) => {
            for i in items {
                xml_value(out, name, i);
            }
        }
        Value::Null => {
            out.push('<');
            out.push_str(name);
            out.push_str("/>");
        }
        _ => {
            out.push('<');
            out.push_str(name);
            out.push('>');
            match v {
                Value::Object(map) => {
                    for (k, child) in map {
                        if let Value::Array(items) = child {
                            // Nested arrays keep one level of wrapping so they stay distinct.
                            if items.iter().any(Value::is_array) {
                                for i in items {
                                    xml_value(out, &xml_name(k), &Value::Array(vec![i.clone()]));
                                }
                                continue;
                            }
                        }
                        xml_value(out, &xml_name(k), child);
                    }
                }
                Value::String(t) => xml_escape(out, t),
                other => xml_escape(out, &other.to_string()),
            }
            out.push_str("</");
            out.push_str(name);
            out.push('>');
        }
    }
}

fn xml_escape(out: &mut String, text: &str) {
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            // Characters XML 1.0 cannot carry at all.
            c if (c as u32) < 0x20 && !matches!(c, '\t' | '\n' | '\r') => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
}

/// A valid XML element name for a JSON key.
fn xml_name(key: &str) -> String {
    let mut name: String = key
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.') {
                c
            } else {
                '_'
            }
        })
        .collect();
    let bad_start = name
        .chars()
        .next()
        .is_none_or(|c| !(c.is_ascii_alphabetic() || c == '_'));
    if bad_start || name.to_ascii_lowercase().starts_with("xml") {
        name.insert(0, '_');
    }
    name
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xml_names_are_valid() {
        assert_eq!(xml_name("first_name"), "first_name");
        assert_eq!(xml_name("1x"), "_1x");
        assert_eq!(xml_name("a b<c"), "a_b_c");
        assert_eq!(xml_name(""), "_");
        assert_eq!(xml_name("xmlThing"), "_xmlThing");
    }

    #[test]
    fn xml_escapes_text_and_repeats_arrays() {
        let mut out = String::new();
        xml_value(
            &mut out,
            "contact",
            &json!({"id": 1, "tags": ["a", "b"], "name": "A & <B>"}),
        );
        assert_eq!(
            out,
            "<contact><id>1</id><name>A &amp; &lt;B&gt;</name><tags>a</tags><tags>b</tags></contact>"
        );
    }

    #[test]
    fn list_json_is_what_json_gives() {
        let records = [json!({"id": 1}), json!({"id": 2})];
        let at = |p: &str| FieldPath::parse(p).unwrap();
        let (pages, total, more) = (
            at("/meta/total_pages"),
            at("/meta/total_records"),
            at("/info/more"),
        );
        type Fields<'a> = Vec<(&'a FieldPath, Value)>;
        let cases: Vec<(&str, Fields<'_>, Value)> = vec![
            ("contacts", vec![], json!({"contacts": records})),
            (
                "contacts",
                vec![(&pages, json!(3)), (&total, json!(5))],
                json!({"contacts": records, "meta": {"total_pages": 3, "total_records": 5}}),
            ),
            (
                "zz",
                vec![(&more, json!(true))],
                json!({"info": {"more": true}, "zz": records}),
            ),
            (
                "meta",
                vec![(&pages, json!(1))],
                json!({"meta": {"total_pages": 1}}),
            ),
        ];
        for (envelope, fields, expected) in cases {
            let out = list_json(Some(envelope), &records, &fields);
            assert_eq!(
                String::from_utf8(out).unwrap(),
                expected.to_string(),
                "{envelope}"
            );
        }
        assert_eq!(
            list_json(None, &records, &[]),
            json!(records).to_string().into_bytes()
        );
    }

    #[test]
    fn numbers_are_digits_only() {
        assert_eq!(number("page", "01", 1), Ok(1));
        assert!(number("page", "0", 1).is_err());
        assert!(number("page", "-1", 1).is_err());
        assert!(number("page", "+1", 1).is_err());
        assert!(number("page", "1.0", 1).is_err());
        assert!(number("page", "", 1).is_err());
        assert!(number("page", "99999999999999999999999", 1).is_err());
    }
}
