//! The axum application: OAuth endpoints, API resource, control API, journal and faults.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::header::{
    AUTHORIZATION, CACHE_CONTROL, CONTENT_TYPE, LOCATION, PRAGMA, WWW_AUTHENTICATE,
};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Router};
use handshake_profile::{
    ClientAuth, NativeScheme, PkceMethod, PkceMode, Profile, Rotation, TokenEncoding,
};
use serde_json::{json, Value};

use crate::journal::{self, Captured, Journal};
use crate::live::Live;
use crate::native::NativeCredentials;
use crate::params::{self, Params};
use crate::relax::Relaxed;
use crate::store::{AuthRequest, Clock, Issued, Redeem, RefreshLookup, Store};
use crate::types::{
    Endpoint, Fault, FaultKind, JournalEntry, OAuthError, RegisteredClient, Relaxation,
};
use crate::{control, dataset, page, resource, users};

/// Largest request body accepted; larger ones get 413.
pub(crate) const BODY_LIMIT: usize = crate::limits::BODY_LIMIT;
/// How long a consent page stays answerable.
const CONSENT_TTL: Duration = Duration::from_secs(600);

pub(crate) const WELL_KNOWN: &str = "/.well-known/oauth-authorization-server";

pub(crate) struct Shared {
    pub(crate) profile: Profile,
    pub(crate) client: RegisteredClient,
    pub(crate) auto_approve: bool,
    pub(crate) base_url: String,
    /// Credentials of the native scheme.
    pub(crate) native: NativeCredentials,
    /// Secret values scrubbed from journal entries wherever they appear.
    secrets: Vec<String>,
    /// The data set served by the API resource to the first user, in id order.
    pub(crate) records: Vec<Value>,
    pub(crate) seed: u64,
    /// User account names; index 0 is the first user (auto-approve, native credentials).
    pub(crate) users: Vec<String>,
    /// The data sets of users 1.. (the first user's is `records`).
    other_records: Vec<Vec<Value>>,
    /// Requirements relaxed at run time (`MockProvider::relax`).
    pub(crate) relaxed: Relaxed,
    /// The effective rate limit (builder override or profile).
    pub(crate) rate_limit: Option<(u32, Duration)>,
    /// The rate window of the native credentials (one identity per mock).
    pub(crate) native_rate: Mutex<Option<(Instant, u32)>>,
    pub(crate) store: Mutex<Store>,
    pub(crate) clock: Clock,
    pub(crate) faults: Mutex<Vec<Fault>>,
    /// The period of a tripped `rate_limited` fault, while it lasts.
    limited: Mutex<Option<LimitedPeriod>>,
    journal: Journal,
    /// Entries as they happen, for subscribers (`MockProvider::subscribe`).
    pub(crate) live: Live,
    pub(crate) seq: AtomicU64,
    /// Time a request's body has to arrive, in milliseconds (the connection's header-read
    /// timeout; see `conn.rs`).
    pub(crate) body_timeout_ms: AtomicU64,
}

/// A tripped `rate_limited` fault: refusals left until `until`.
struct LimitedPeriod {
    until: Instant,
    /// `X-RateLimit-Reset`: Unix seconds at or just after `until`.
    reset_at: u64,
    left: u32,
}

/// One refusal by a `rate_limited` fault.
pub(crate) struct Limited {
    /// Time left in the period.
    pub(crate) retry_after: Duration,
    /// Unix seconds when the period is over.
    pub(crate) reset_at: u64,
}

pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic elsewhere must not turn every later request into a 500.
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// What the builder hands to the server.
pub(crate) struct Settings {
    pub(crate) profile: Profile,
    pub(crate) client: RegisteredClient,
    pub(crate) auto_approve: bool,
    pub(crate) base_url: String,
    pub(crate) native: NativeCredentials,
    pub(crate) seed: u64,
    pub(crate) dataset_size: Option<u32>,
    pub(crate) rate_limit: Option<(u32, Duration)>,
    /// Validated user account names, at least one.
    pub(crate) users: Vec<String>,
}

impl Shared {
    pub(crate) fn new(c: Settings) -> Self {
        let records = dataset::records(&c.profile, c.seed, c.dataset_size);
        let other_records = c
            .users
            .iter()
            .enumerate()
            .skip(1)
            .map(|(i, name)| users::records_of_user(&c.profile, c.seed, c.dataset_size, i, name))
            .collect();
        let rate_limit = resource::effective_rate_limit(&c.profile, c.rate_limit);
        let mut secrets = c.native.secrets();
        secrets.push(c.client.client_secret.secret().to_owned());
        // Short values would scrub innocent text; they are never defaults.
        secrets.retain(|v| v.len() >= 6);
        Shared {
            profile: c.profile,
            client: c.client,
            auto_approve: c.auto_approve,
            base_url: c.base_url,
            native: c.native,
            secrets,
            records,
            seed: c.seed,
            users: c.users,
            other_records,
            relaxed: Relaxed::default(),
            rate_limit,
            native_rate: Mutex::new(None),
            store: Mutex::new(Store::default()),
            clock: Clock::default(),
            faults: Mutex::new(Vec::new()),
            limited: Mutex::new(None),
            journal: Journal::default(),
            live: Live::default(),
            seq: AtomicU64::new(0),
            body_timeout_ms: AtomicU64::new(crate::limits::HEADER_READ_TIMEOUT.as_millis() as u64),
        }
    }

    pub(crate) fn now(&self) -> Instant {
        self.clock.now()
    }

    /// The index of a user account by name.
    pub(crate) fn user_index(&self, name: &str) -> Option<usize> {
        self.users.iter().position(|u| u == name)
    }

    /// The data set the API serves to user `index` (the first user's when out of range).
    pub(crate) fn records_of(&self, index: usize) -> &[Value] {
        match index.checked_sub(1) {
            Some(i) => self.other_records.get(i).map_or(&self.records, |r| r),
            None => &self.records,
        }
    }

    fn endpoint_of(&self, path: &str) -> Option<Endpoint> {
        let o = &self.profile.oauth;
        if path == o.authorize_path {
            Some(Endpoint::Authorize)
        } else if path == o.token_path {
            Some(Endpoint::Token)
        } else if o.revoke_paths.iter().any(|p| p == path) {
            Some(Endpoint::Revoke)
        } else if path == self.profile.api.path || self.is_api_item(path) || self.is_exchange(path)
        {
            Some(Endpoint::Api)
        } else {
            None
        }
    }

    fn is_api_item(&self, path: &str) -> bool {
        path.strip_prefix(self.profile.api.path.as_str())
            .and_then(|rest| rest.strip_prefix('/'))
            .is_some_and(|id| !id.is_empty() && !id.contains('/'))
    }

    fn is_exchange(&self, path: &str) -> bool {
        exchange_path(&self.profile) == Some(path)
    }

    pub(crate) fn arm(&self, fault: Fault) {
        if fault.times > 0 {
            lock(&self.faults).push(fault);
        }
    }

    /// Forgets armed faults and ends a tripped rate limit.
    pub(crate) fn clear_faults(&self) {
        lock(&self.faults).clear();
        *lock(&self.limited) = None;
    }

    fn take_fault(&self, endpoint: Endpoint) -> Option<FaultKind> {
        let mut faults = lock(&self.faults);
        let i = faults.iter().position(|f| f.endpoint == endpoint)?;
        if matches!(faults[i].kind, FaultKind::RateLimited { .. }) {
            // Left to the API handler: only authenticated calls meet a rate limit.
            return None;
        }
        let kind = faults[i].kind.clone();
        faults[i].times -= 1;
        if faults[i].times == 0 {
            faults.remove(i);
        }
        Some(kind)
    }

    /// For an authenticated API call: `Some` when a `rate_limited` fault refuses it, either
    /// inside a period already tripped or by tripping the fault armed first on the API.
    pub(crate) fn take_rate_limited(&self) -> Option<Limited> {
        let now = self.now();
        let mut period = lock(&self.limited);
        if let Some(p) = period.as_mut() {
            if now < p.until {
                p.left -= 1;
                let limited = Limited {
                    retry_after: p.until.saturating_duration_since(now),
                    reset_at: p.reset_at,
                };
                if p.left == 0 {
                    *period = None;
                }
                return Some(limited);
            }
            *period = None;
        }
        let mut faults = lock(&self.faults);
        let i = faults.iter().position(|f| f.endpoint == Endpoint::Api)?;
        let FaultKind::RateLimited { retry_after_secs } = faults[i].kind else {
            return None;
        };
        let times = faults.remove(i).times;
        let hold = Duration::from_secs(retry_after_secs.max(1)).min(crate::store::FOREVER);
        let end = self.clock.unix_now().saturating_add(hold);
        let reset_at = end.as_secs() + u64::from(end.subsec_nanos() > 0);
        if times > 1 {
            *period = Some(LimitedPeriod {
                until: crate::store::later(now, hold),
                reset_at,
                left: times - 1,
            });
        }
        Some(Limited {
            retry_after: hold,
            reset_at,
        })
    }

    /// The journal, oldest first, decoded and redacted.
    pub(crate) fn journal(&self) -> Vec<JournalEntry> {
        self.journal.entries(&self.secrets)
    }

    /// The journal entries whose `seq` is greater than `since`, oldest first.
    pub(crate) fn journal_since(&self, since: u64) -> Vec<JournalEntry> {
        self.journal.entries_since(since, &self.secrets)
    }

    /// The faults armed, in the order they apply, and the tripped rate-limit period, if one
    /// is running: (time left, refusals left).
    pub(crate) fn armed(&self) -> (Vec<Fault>, Option<(Duration, u32)>) {
        let faults = lock(&self.faults).clone();
        let now = self.now();
        let period = lock(&self.limited)
            .as_ref()
            .filter(|p| now < p.until)
            .map(|p| (p.until.saturating_duration_since(now), p.left));
        (faults, period)
    }

    fn record(&self, entry: JournalEntry, raw: Captured) {
        self.live.publish(&entry, &raw, &self.secrets);
        self.journal.record(entry, raw);
    }

    pub(crate) fn reset(&self) {
        *lock(&self.store) = Store::default();
        self.clear_faults();
        self.journal.clear();
        *lock(&self.native_rate) = None;
        self.clock.reset();
        self.relaxed.clear();
    }

    /// The issuer identifier: `oauth.issuer`, else the base URL (RFC 8414 §2).
    pub(crate) fn issuer(&self) -> String {
        self.profile.oauth.issuer_for(&self.base_url)
    }

    fn url(&self, path: &str) -> String {
        format!("{}{}", self.base_url, path)
    }

    fn redirect_allowed(&self, uri: &str) -> bool {
        let registered = &self.client.redirect_uris;
        if self.profile.security.exact_redirect_uri {
            registered.iter().any(|r| r == uri)
        } else {
            // The classic sloppy check: prefix match, which lets attackers append paths.
            registered.iter().any(|r| uri.starts_with(r.as_str()))
        }
    }
}

/// Builds the application for a profile, as an axum [`Router`] (for in-process tests).
pub(crate) fn app(shared: Arc<Shared>) -> Router {
    Router::new().fallback_service(service(shared))
}

/// The application as the server runs it: the journal layer around the router.
pub(crate) fn service(shared: Arc<Shared>) -> Observed {
    let p = &shared.profile;
    let mut r = Router::new()
        .route(&p.oauth.authorize_path, get(authorize).post(consent))
        .route(&p.oauth.token_path, post(token))
        .route(&p.api.path, get(resource::list))
        .route(&format!("{}/{{id}}", p.api.path), get(resource::item));
    if let Some(path) = exchange_path(p) {
        r = r.route(path, get(resource::exchange));
    }
    let mut seen = Vec::new();
    for path in &p.oauth.revoke_paths {
        if !seen.contains(path) {
            r = r.route(path, post(revoke));
            seen.push(path.clone());
        }
    }
    if p.oauth.well_known {
        r = r.route(WELL_KNOWN, get(well_known));
    }
    let r = r
        .route("/__handshake/metadata", get(control_metadata))
        .route("/__handshake/", get(page::page))
        .route("/__handshake", get(page::redirect))
        .route("/__handshake/events", get(page::events))
        .route("/__handshake/journal", get(control::journal))
        .route(
            "/__handshake/faults",
            get(control::faults)
                .post(control_faults)
                .delete(control_clear_faults),
        )
        .route("/__handshake/expire", post(control_expire))
        .route("/__handshake/revoke", post(control::revoke))
        .route("/__handshake/users", get(control::users))
        .route("/__handshake/records", get(control::records))
        .route("/__handshake/grants", get(control::grants))
        .route(
            "/__handshake/relax",
            get(control::relaxed).post(control::relax),
        )
        .route("/__handshake/reset", post(control_reset))
        .route("/__handshake/clock", post(control_clock))
        .route("/__handshake/native", get(control_native))
        .route("/__handshake/healthz", get(healthz))
        .fallback(not_found);
    // The journal layer wraps the whole router, so it sees its finished answers (a 405 gets
    // its `Allow` header inside the router).
    let routes = r.with_state(shared.clone());
    Observed { shared, routes }
}

/// The journal and fault layer around the router: a plain service rather than an axum
/// middleware, which would box and clone the inner service on every request.
#[derive(Clone)]
pub(crate) struct Observed {
    shared: Arc<Shared>,
    routes: Router,
}

impl<B> tower::Service<axum::http::Request<B>> for Observed
where
    B: axum::body::HttpBody<Data = Bytes> + Send + 'static,
    B::Error: Into<axum::BoxError>,
{
    type Response = Response;
    type Error = std::convert::Infallible;
    type Future = futures::future::BoxFuture<'static, Result<Response, Self::Error>>;

    fn poll_ready(
        &mut self,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), Self::Error>> {
        std::task::Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: axum::http::Request<B>) -> Self::Future {
        let s = self.shared.clone();
        let routes = self.routes.clone();
        let req = req.map(Body::new);
        Box::pin(async move { Ok(observe(s, req, routes).await) })
    }
}

/// Runs the router, then completes a bodiless refusal (`answers.rs`).
async fn route(s: &Shared, routes: Router, req: Request) -> Response {
    use tower::ServiceExt;
    let method = req.method().clone();
    let uri = req.uri().clone();
    let resp = match routes.oneshot(req).await {
        Ok(r) => r,
        Err(never) => match never {},
    };
    crate::answers::complete(s, &method, &uri, resp)
}

/// Redtail's key-exchange path, when the profile's native scheme has one.
pub(crate) fn exchange_path(p: &Profile) -> Option<&str> {
    p.native_auth
        .as_ref()
        .filter(|n| n.scheme == NativeScheme::RedtailUserKey)
        .and_then(|n| n.exchange_path.as_deref())
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
    let mut revoke: Vec<String> = Vec::new();
    for r in &p.oauth.revoke_paths {
        if !revoke.contains(r) {
            revoke.push(r.clone());
        }
    }
    v.extend(revoke.into_iter().map(|r| ("oauth.revoke_paths", r)));
    if p.oauth.well_known {
        v.push(("oauth.well_known", WELL_KNOWN.to_owned()));
    }
    v
}

// ---------------------------------------------------------------- middleware: journal + faults

#[derive(Clone, Copy)]
struct Injected(OAuthError);

async fn observe(s: Arc<Shared>, req: Request, next: Router) -> Response {
    let uri = req.uri().clone(); // shared bytes, no copy
    let path = uri.path();
    if path.starts_with("/__handshake/") {
        // Control calls are not part of the conversation under test.
        return route(&s, next, req).await;
    }
    let seq = s.seq.fetch_add(1, Ordering::Relaxed) + 1;
    let endpoint = s.endpoint_of(path);
    let (mut parts, body) = req.into_parts();
    // Copied and cut now, decoded and redacted when the journal is read (journal.rs).
    let mut entry = journal::entry(seq, endpoint, parts.method.as_str(), path);
    let mut raw = Captured::request(&parts.uri, &parts.headers, &s.secrets);
    // A body that trickles in is bounded like headers that do (slowloris on the body).
    let body_timeout = Duration::from_millis(s.body_timeout_ms.load(Ordering::Relaxed));
    let read = tokio::time::timeout(body_timeout, axum::body::to_bytes(body, BODY_LIMIT)).await;
    let bytes = match read {
        Ok(Ok(b)) => b,
        Ok(Err(_)) | Err(_) => {
            let resp = match read {
                Err(_) => crate::answers::body_timed_out(&s, path, body_timeout),
                _ => crate::answers::payload_too_large(&s, path),
            };
            entry.status = resp.status().as_u16();
            note_outcome(&s, &mut entry, &resp);
            s.record(entry, raw);
            return resp;
        }
    };
    raw.body(body_encoding(&parts.headers), &bytes, &s.secrets);
    if endpoint == Some(Endpoint::Api) {
        // Basic on the API is a native credential, not OAuth client authentication.
        raw.no_client_auth();
    }

    let fault = endpoint.and_then(|e| s.take_fault(e));
    if let Some(kind) = &fault {
        entry.notes.push(fault_note(kind));
    }
    let resp = match fault {
        Some(FaultKind::Drop) => {
            entry.status = 0;
            s.record(entry, raw);
            return dropped_connection();
        }
        Some(FaultKind::Status { status }) => {
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
            let error = if status.is_server_error() {
                OAuthError::TemporarilyUnavailable
            } else {
                OAuthError::InvalidRequest
            };
            oauth_json(status, error.as_str(), "injected fault")
        }
        Some(FaultKind::OauthError {
            error: OAuthError::InvalidClient,
        }) if matches!(endpoint, Some(Endpoint::Token | Endpoint::Revoke)) => {
            let tried_basic = parts
                .headers
                .get(AUTHORIZATION)
                .and_then(|h| params::parse_basic(h.as_bytes()))
                .is_some();
            invalid_client(&s, "injected fault", tried_basic)
        }
        Some(FaultKind::OauthError { error }) if endpoint != Some(Endpoint::Authorize) => {
            let status = StatusCode::from_u16(error.status()).unwrap_or(StatusCode::BAD_REQUEST);
            oauth_json(status, error.as_str(), "injected fault")
        }
        other => {
            if let Some(FaultKind::OauthError { error }) = other {
                parts.extensions.insert(Injected(error));
            }
            if let Some(FaultKind::Delay { delay_ms }) = other {
                tokio::time::sleep(Duration::from_millis(delay_ms)).await;
            }
            route(&s, next, Request::from_parts(parts, Body::from(bytes))).await
        }
    };
    entry.status = resp.status().as_u16();
    entry.auth_mode = resp
        .extensions()
        .get::<resource::AuthModeUsed>()
        .map(|m| m.0.to_owned());
    note_outcome(&s, &mut entry, &resp);
    if let Some(journal::Note(n)) = resp.extensions().get::<journal::Note>() {
        entry.notes.push(n.clone());
    }
    s.record(entry, raw);
    resp
}

/// The journal note of a fault that fired on the request (`fault fired: status 429`).
pub(crate) fn fault_note(kind: &FaultKind) -> String {
    let what = match kind {
        FaultKind::OauthError { error } => format!("oauth_error {error}"),
        FaultKind::Status { status } => format!("status {status}"),
        FaultKind::Delay { delay_ms } => format!("delay {delay_ms} ms"),
        FaultKind::Drop => "drop (connection closed without an answer)".to_owned(),
        FaultKind::RateLimited { retry_after_secs } => {
            format!("rate_limited for {retry_after_secs} s")
        }
    };
    format!("fault fired: {what}")
}

/// Why a request was refused, for the journal: a response extension set where the refusal
/// is made, read by the journal middleware. Never holds a secret.
#[derive(Debug, Clone)]
pub(crate) struct Refusal {
    error: Option<String>,
    description: String,
    requirement: Option<Relaxation>,
}

/// The user account (index) a response acted for, for the journal.
#[derive(Debug, Clone, Copy)]
pub(crate) struct UserUsed(pub(crate) usize);

/// Longest `error_description` the journal keeps, in characters; a longer one ends with `…`.
const JOURNAL_DESCRIPTION_LEN: usize = 600;

/// Marks `resp` as a refusal with this error code (`None` for an HTML page) and reason.
pub(crate) fn refused(mut resp: Response, error: Option<&str>, description: &str) -> Response {
    resp.extensions_mut().insert(Refusal {
        error: error.map(str::to_owned),
        description: description.to_owned(),
        requirement: None,
    });
    resp
}

/// Says that `resp` refused the request because of requirement `r`, which
/// `MockProvider::relax(r)` lifts.
fn blocked_by(mut resp: Response, r: Relaxation) -> Response {
    if let Some(refusal) = resp.extensions_mut().get_mut::<Refusal>() {
        refusal.requirement = Some(r);
    }
    resp
}

fn with_user(mut resp: Response, user: usize) -> Response {
    resp.extensions_mut().insert(UserUsed(user));
    resp
}

/// Copies the refusal and the user of a response into its journal entry.
fn note_outcome(s: &Shared, entry: &mut JournalEntry, resp: &Response) {
    if let Some(r) = resp.extensions().get::<Refusal>() {
        entry.error = r.error.clone();
        let mut kept: String = r
            .description
            .chars()
            .take(JOURNAL_DESCRIPTION_LEN)
            .collect();
        if kept.len() < r.description.len() {
            kept.push('…');
        }
        let mut d = [(String::new(), kept)];
        scrub(&mut d, &s.secrets);
        let [(_, d)] = d;
        entry.error_description = Some(d);
        entry.requirement = r.requirement;
    }
    entry.user = resp
        .extensions()
        .get::<UserUsed>()
        .and_then(|u| s.users.get(u.0))
        .cloned();
}

/// Redacts any journal value that contains a configured secret (a client that puts an API
/// key in the URL must not put it in the journal too). The whole value goes, so the entry
/// still shows that a credential was there (`[redacted]`) without keeping any part of it.
fn scrub(pairs: &mut [(String, String)], secrets: &[String]) {
    for (_, v) in pairs.iter_mut() {
        if secrets.iter().any(|secret| v.contains(secret.as_str())) {
            *v = "[redacted]".to_owned();
        }
    }
}

/// A response whose body fails before anything is written: hyper closes the connection
/// without sending the head, so the client sees a dropped connection.
fn dropped_connection() -> Response {
    let stream = futures::stream::once(async {
        Err::<Bytes, std::io::Error>(std::io::Error::other("fault: drop connection"))
    });
    Response::new(Body::from_stream(stream))
}

// ---------------------------------------------------------------- response helpers

pub(crate) fn oauth_json(status: StatusCode, error: &str, description: &str) -> Response {
    let body = json!({ "error": error, "error_description": description });
    let mut resp = (status, axum::Json(body)).into_response();
    no_store(resp.headers_mut());
    refused(resp, Some(error), description)
}

fn oauth_error(error: OAuthError, description: &str) -> Response {
    let status = StatusCode::from_u16(error.status()).unwrap_or(StatusCode::BAD_REQUEST);
    oauth_json(status, error.as_str(), description)
}

pub(crate) fn no_store(h: &mut HeaderMap) {
    h.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(PRAGMA, HeaderValue::from_static("no-cache"));
}

pub(crate) fn html_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

pub(crate) fn html_headers(h: &mut HeaderMap) {
    h.insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    h.insert(
        HeaderName::from_static("x-frame-options"),
        HeaderValue::from_static("DENY"),
    );
    h.insert(
        HeaderName::from_static("referrer-policy"),
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(
        HeaderName::from_static("content-security-policy"),
        HeaderValue::from_static(
            "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'",
        ),
    );
    h.insert(
        HeaderName::from_static("x-content-type-options"),
        HeaderValue::from_static("nosniff"),
    );
    no_store(h);
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

// ---------------------------------------------------------------- authorization endpoint

async fn authorize(
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
    let challenge = match validate_pkce(&s.profile, &q, s.relaxed.has(Relaxation::Pkce)) {
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

/// The scopes to grant. `relaxed` ([`Relaxation::Scope`]): unsupported ones are dropped
/// instead of refused, and the defaults granted when none is left.
fn validate_scope(p: &Profile, scope: Option<&str>, relaxed: bool) -> Result<Vec<String>, String> {
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

/// Why an authorization request's PKCE parameters were refused, and the [`Relaxation`] that
/// would have let them pass, if any.
type PkceRefusal = (String, Option<Relaxation>);

/// The PKCE methods a profile accepts, `S256 or plain`.
fn pkce_methods(p: &Profile) -> String {
    p.pkce
        .methods
        .iter()
        .map(|m| m.as_str())
        .collect::<Vec<_>>()
        .join(" or ")
}

/// The request's PKCE challenge, if any. `relaxed` ([`Relaxation::Pkce`]) makes PKCE
/// optional with either method.
fn validate_pkce(
    p: &Profile,
    q: &Params,
    relaxed: bool,
) -> Result<Option<(PkceMethod, String)>, PkceRefusal> {
    if p.pkce.mode == PkceMode::Unsupported {
        // This provider ignores PKCE parameters, as real ones without PKCE do.
        return Ok(None);
    }
    let best = p.pkce.best_method().map_or("S256", |m| m.as_str());
    match (q.get("code_challenge"), q.get("code_challenge_method")) {
        (None, Some(_)) => Err((
            "code_challenge_method sent without code_challenge (RFC 7636 §4.3)".to_owned(),
            None,
        )),
        (None, None) if p.pkce.mode == PkceMode::Required && !relaxed => Err((
            format!(
                "code_challenge is required: {} requires PKCE (RFC 7636); send code_challenge with code_challenge_method={best} (accepted: {}), then the code_verifier at the token endpoint",
                p.name,
                pkce_methods(p)
            ),
            Some(Relaxation::Pkce),
        )),
        (None, None) => Ok(None),
        (Some(c), method) => {
            // RFC 7636 §4.3: the method defaults to plain.
            let m = PkceMethod::parse(method.unwrap_or("plain")).ok_or_else(|| {
                (
                    "code_challenge_method must be S256 or plain (RFC 7636 §4.3)".to_owned(),
                    None,
                )
            })?;
            if !p.pkce.methods.contains(&m) && !relaxed {
                let sent = if method.is_some() {
                    format!("code_challenge_method={}", m.as_str())
                } else {
                    "no code_challenge_method, which means plain,".to_owned()
                };
                return Err((
                    format!(
                        "transform algorithm not supported: the request sent {sent} and {} accepts {} (RFC 7636 §4.4.1)",
                        p.name,
                        pkce_methods(p)
                    ),
                    Some(Relaxation::Pkce),
                ));
            }
            if !params::valid_pkce_value(c) {
                return Err((
                    "code_challenge must be 43-128 characters of [A-Za-z0-9-._~] (RFC 7636 §4.2)"
                        .to_owned(),
                    None,
                ));
            }
            Ok(Some((m, c.to_owned())))
        }
    }
}

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
    with_user(redirect(s, status, &redirect_uri, &pairs), user)
}

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
async fn consent(
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

// ---------------------------------------------------------------- token endpoint

fn body_encoding(headers: &HeaderMap) -> Option<TokenEncoding> {
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
fn invalid_client(s: &Shared, description: &str, tried_basic: bool) -> Response {
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

/// Authenticates the client as the profile allows (RFC 6749 §2.3.1). Returns its id.
/// The token and revocation endpoints' common start: decode the body as the profile allows,
/// then authenticate the client. Returns the parameters and the client id.
fn authenticated_body(
    s: &Shared,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<(Params, String), Box<Response>> {
    let p = read_body(s, headers, body)?;
    let client_id = authenticate(s, headers, &p)?;
    Ok((p, client_id))
}

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

async fn token(State(s): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> Response {
    let (p, client_id) = match authenticated_body(&s, &headers, &body) {
        Ok(ok) => ok,
        Err(r) => return *r,
    };
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
    if s.profile.pkce.mode != PkceMode::Unsupported && sec.verify_pkce {
        match (&req.challenge, p.get("code_verifier")) {
            (Some((m, c)), Some(v)) if !params::verify_pkce(*m, v, c) => {
                let rule = match m {
                    PkceMethod::S256 => "BASE64URL(SHA256(code_verifier))",
                    PkceMethod::Plain => "the code_verifier itself",
                };
                return Err(grant_err(&format!(
                    "code_verifier does not match the code_challenge (RFC 7636 §4.6): send the verifier this login's challenge was made from; with {} the challenge is {rule}",
                    m.as_str()
                )));
            }
            (Some(_), Some(_)) => {}
            (Some((m, _)), None) => {
                return Err(grant_err(&format!(
                    "code_verifier is required: the authorization request had a code_challenge ({}); send the code_verifier it was made from (RFC 7636 §4.5)",
                    m.as_str()
                )))
            }
            (None, Some(_)) if sec.reject_pkce_downgrade => {
                return Err(grant_err(
                    "code_verifier sent for a code issued without code_challenge (PKCE downgrade, RFC 9700 §4.8.2)",
                ))
            }
            _ => {}
        }
    }
    let t = &s.profile.tokens;
    let refresh = t
        .refresh_tokens
        .then(|| t.refresh_token_lifetime_secs.map(Duration::from_secs));
    let (grant, issued) = store.new_grant(
        client_id,
        req.scope,
        now,
        Duration::from_secs(t.access_token_lifetime_secs),
        refresh,
    );
    store.set_user(grant, req.user);
    if sec.single_use_codes {
        store.mark_redeemed(code, grant);
    }
    Ok((issued, req.user))
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
    let grant = match store.lookup_refresh(rt, now) {
        RefreshLookup::Current { grant } => grant,
        RefreshLookup::Unknown => return Err(grant_err("refresh token is invalid or revoked")),
        RefreshLookup::Expired => return Err(grant_err("refresh token expired")),
        RefreshLookup::Retired { grant } => {
            if t.rotation == Rotation::RotateReuseRevokesFamily {
                store.revoke_grant(grant);
                return Err(grant_err(
                    "refresh token was already used; the whole grant is revoked (reuse detection, RFC 9700 §4.14.2)",
                ));
            }
            return Err(grant_err(
                "refresh token was rotated out; use the latest one",
            ));
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
    let rotate = (t.rotation != Rotation::Off)
        .then(|| t.refresh_token_lifetime_secs.map(Duration::from_secs));
    let issued = store.refresh_grant(
        grant,
        scope,
        now,
        Duration::from_secs(t.access_token_lifetime_secs),
        rotate,
    );
    Ok((issued, user))
}

fn token_response(s: &Shared, issued: Issued) -> Response {
    let t = &s.profile.tokens;
    // Written straight into one buffer, keys in sorted order: byte for byte the JSON object
    // a `serde_json::Map` of the same fields gives, without building one per response.
    enum Field<'a> {
        Str(&'a str),
        Num(u64),
        Json(&'a Value),
    }
    let scope = (!issued.scope.is_empty()).then(|| s.profile.scopes.join(&issued.scope));
    let mut fields: Vec<(&str, Field<'_>)> = Vec::with_capacity(5 + t.extra_fields.len());
    fields.push(("access_token", Field::Str(&issued.access_token)));
    fields.push(("token_type", Field::Str(&t.token_type)));
    fields.push(("expires_in", Field::Num(t.access_token_lifetime_secs)));
    if let Some(rt) = &issued.refresh_token {
        fields.push(("refresh_token", Field::Str(rt)));
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
            Field::Num(n) => body.extend_from_slice(n.to_string().as_bytes()),
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
    }
    resp
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

// ---------------------------------------------------------------- revocation endpoint

async fn revoke(State(s): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> Response {
    let (p, client_id) = match authenticated_body(&s, &headers, &body) {
        Ok(ok) => ok,
        Err(r) => return *r,
    };
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

// ---------------------------------------------------------------- metadata and control

/// RFC 8414 authorization server metadata.
pub(crate) fn rfc8414(s: &Shared) -> serde_json::Map<String, Value> {
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
        if paging.style == handshake_profile::PagingStyle::Cursor {
            m.insert("cursor_field".into(), json!("cursor"));
            m.insert("count_field".into(), json!("count"));
        }
    }
    v
}

async fn well_known(State(s): State<Arc<Shared>>) -> Response {
    axum::Json(Value::Object(rfc8414(&s))).into_response()
}

async fn control_metadata(State(s): State<Arc<Shared>>) -> Response {
    axum::Json(metadata(&s)).into_response()
}

async fn control_native(State(s): State<Arc<Shared>>) -> Response {
    axum::Json(native_info(&s)).into_response()
}

pub(crate) fn control_error(description: String) -> Response {
    oauth_json(StatusCode::BAD_REQUEST, "invalid_request", &description)
}

async fn control_faults(State(s): State<Arc<Shared>>, body: Bytes) -> Response {
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

async fn control_clear_faults(State(s): State<Arc<Shared>>) -> StatusCode {
    s.clear_faults();
    StatusCode::NO_CONTENT
}

async fn control_expire(State(s): State<Arc<Shared>>) -> StatusCode {
    let now = s.now();
    lock(&s.store).expire_access_tokens(now);
    StatusCode::NO_CONTENT
}

async fn control_reset(State(s): State<Arc<Shared>>) -> StatusCode {
    s.reset();
    StatusCode::NO_CONTENT
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct ClockBody {
    advance_secs: u64,
}

async fn control_clock(State(s): State<Arc<Shared>>, body: Bytes) -> Response {
    let b: ClockBody = match serde_json::from_slice(&body) {
        Ok(b) => b,
        Err(e) => return control_error(format!("expected {{\"advance_secs\": N}}: {e}")),
    };
    s.clock.advance(Duration::from_secs(b.advance_secs));
    axum::Json(json!({ "offset_secs": s.clock.offset().as_secs() })).into_response()
}

async fn healthz() -> Response {
    axum::Json(json!({ "status": "ok" })).into_response()
}

/// A bare 404: `answers::complete` gives it the body the path's endpoint speaks.
async fn not_found() -> StatusCode {
    StatusCode::NOT_FOUND
}
