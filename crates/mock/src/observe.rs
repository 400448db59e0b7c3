//! The journal and fault layer around the router: every request's entry (copied on arrival,
//! its outcome read from the response's marks), the faults armed on its endpoint, and the
//! bodiless refusals completed (`answers.rs`).

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::Request;
use axum::http::header::AUTHORIZATION;
use axum::http::StatusCode;
use axum::response::Response;
use axum::Router;

use crate::client_auth::{body_encoding, invalid_client};
use crate::journal::{self, Captured};
use crate::limits::BODY_LIMIT;
use crate::params;
use crate::resource::AuthModeUsed;
use crate::responses::{oauth_error, oauth_json, Refusal, UserUsed};
use crate::state::Shared;
use crate::types::{Endpoint, FaultKind, JournalEntry, OAuthError};

/// The journal and fault layer around the router: a plain service rather than an axum
/// middleware, which would box and clone the inner service on every request.
#[derive(Clone)]
pub(crate) struct Observed {
    shared: Arc<Shared>,
    routes: Router,
}

impl Observed {
    pub(crate) fn new(shared: Arc<Shared>, routes: Router) -> Self {
        Observed { shared, routes }
    }
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
///
/// The two routes a client hits most, `POST` on the token path and `GET` on the API list
/// path, go straight to their handlers: the handler the router would pick, without its
/// path matching, request extensions and boxed futures per request (a tenth of the refresh
/// grant's cost; README, "Benchmarks").
async fn route(s: &Arc<Shared>, routes: Router, req: Request) -> Response {
    use axum::handler::Handler;
    use axum::http::Method;
    use tower::ServiceExt;
    let method = req.method().clone();
    let uri = req.uri().clone();
    let p = &s.profile;
    let resp = if method == Method::POST && uri.path() == p.oauth.token_path {
        Handler::call(crate::token::token, req, s.clone()).await
    } else if method == Method::GET && uri.path() == p.api.path {
        Handler::call(crate::resource::list, req, s.clone()).await
    } else {
        match routes.oneshot(req).await {
            Ok(r) => r,
            Err(never) => match never {},
        }
    };
    crate::answers::complete(s, &method, &uri, resp)
}

/// An `oauth_error` fault for the authorization endpoint, which must answer it by redirect:
/// a request extension the endpoint's handlers read.
#[derive(Clone)]
pub(crate) struct Injected(pub(crate) OAuthError);

/// Journals the request, fires the fault armed on its endpoint, and runs the router.
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
    let key_header = s
        .profile
        .native_auth
        .as_ref()
        .and_then(|n| n.key_header.as_deref());
    let mut raw = Captured::request_with_key(&parts.uri, &parts.headers, &s.secrets, key_header);
    // A body that trickles in is bounded like headers that do (slowloris on the body).
    let body_timeout = Duration::from_millis(s.body_timeout_ms.load(Ordering::Relaxed));
    // A GET has no body to read (hyper knows from the head); nearly every other body has
    // arrived with its head: arm the timer only for one that hasn't.
    let read = if axum::body::HttpBody::is_end_stream(&body) {
        Ok(Ok(Bytes::new()))
    } else {
        let mut reading = std::pin::pin!(axum::body::to_bytes(body, BODY_LIMIT));
        match futures::poll!(reading.as_mut()) {
            std::task::Poll::Ready(r) => Ok(r),
            std::task::Poll::Pending => tokio::time::timeout(body_timeout, reading).await,
        }
    };
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
            oauth_error(error, "injected fault")
        }
        other => {
            if let Some(FaultKind::OauthError { error }) = &other {
                parts.extensions.insert(Injected(error.clone()));
            }
            if let Some(FaultKind::Delay { delay_ms }) = other {
                tokio::time::sleep(Duration::from_millis(delay_ms)).await;
            }
            {
                // An empty body needs no allocation (`Body::empty` boxes a zero-sized type).
                let body = if bytes.is_empty() {
                    Body::empty()
                } else {
                    Body::from(bytes)
                };
                route(&s, next, Request::from_parts(parts, body)).await
            }
        }
    };
    entry.status = resp.status().as_u16();
    entry.auth_mode = resp
        .extensions()
        .get::<AuthModeUsed>()
        .map(|m| m.0.to_owned());
    note_outcome(&s, &mut entry, &resp);
    if let Some(journal::Note(n)) = resp.extensions().get::<journal::Note>() {
        entry.notes.push(n.clone());
    }
    s.record(entry, raw);
    resp
}

/// The journal note of a fault that fired on the request (`fault fired: status 429`).
fn fault_note(kind: &FaultKind) -> String {
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

/// Longest `error_description` the journal keeps, in characters; a longer one ends with `…`.
const JOURNAL_DESCRIPTION_LEN: usize = 600;

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
            *v = handshake_profile::REDACTED.to_owned();
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
