//! API responses and the one request helper every authenticated API call goes through,
//! OAuth and native alike.

use std::future::Future;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use http::header::{HeaderValue, ACCEPT};
use http::HeaderMap;
use serde_json::Value;
use url::Url;

use crate::detail::ApiErrorDetail;
use crate::error::ClientError;

/// A response from the provider's API resource.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ApiResponse {
    /// HTTP status.
    pub status: u16,
    /// Response headers.
    pub headers: HeaderMap,
    /// Response body.
    pub body: Vec<u8>,
}

impl ApiResponse {
    pub(crate) async fn read(resp: reqwest::Response) -> Result<ApiResponse, ClientError> {
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let body = resp.bytes().await?.to_vec();
        Ok(ApiResponse {
            status,
            headers,
            body,
        })
    }

    /// Whether the status is 2xx.
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// The body parsed as JSON.
    pub fn json<T: serde::de::DeserializeOwned>(&self) -> Result<T, serde_json::Error> {
        serde_json::from_slice(&self.body)
    }

    /// The body as text (lossy UTF-8).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The response itself if its status is 2xx; otherwise a typed error carrying the CRM's
    /// error code and message: [`ClientError::ApiUnauthorized`] for 401,
    /// [`ClientError::ApiForbidden`] for 403, [`ClientError::ApiStatus`] for anything else.
    ///
    /// ```
    /// # use handshake_client::{ApiResponse, ClientError};
    /// # fn demo(resp: ApiResponse) {
    /// match resp.error_for_status() {
    ///     Ok(resp) => println!("{} bytes", resp.body.len()),
    ///     Err(ClientError::ApiUnauthorized { detail }) => println!("bad key: {detail:?}"),
    ///     Err(other) => println!("{other}"),
    /// }
    /// # }
    /// ```
    pub fn error_for_status(self) -> Result<ApiResponse, ClientError> {
        if self.is_success() {
            Ok(self)
        } else {
            Err(self.to_error(&|s| s.to_owned()))
        }
    }

    /// The typed error for this (non-2xx) response; `scrub` removes known secrets from any
    /// text the CRM echoed back.
    pub(crate) fn to_error(&self, scrub: &dyn Fn(&str) -> String) -> ClientError {
        let detail = ApiErrorDetail::parse(&self.headers, &self.body, scrub);
        match self.status {
            401 => ClientError::ApiUnauthorized { detail },
            403 => ClientError::ApiForbidden { detail },
            status => ClientError::ApiStatus { status, detail },
        }
    }
}

/// How long a 429 or 503 asks us to wait: `Retry-After` as seconds or as an HTTP-date
/// (RFC 9110 §10.2.3), or `X-RateLimit-Reset` as epoch seconds (small values are read as
/// seconds from now, as some APIs send them).
pub(crate) fn retry_wait(headers: &HeaderMap, now: SystemTime) -> Option<Duration> {
    let text = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
    };
    let number = |name: &str| text(name).and_then(|v| v.parse::<u64>().ok());
    if let Some(secs) = number("retry-after") {
        return Some(Duration::from_secs(secs));
    }
    if let Some(at) = text("retry-after").and_then(|v| httpdate::parse_http_date(v).ok()) {
        // A date already past means "now".
        return Some(at.duration_since(now).unwrap_or(Duration::ZERO));
    }
    let reset = number("x-ratelimit-reset")?;
    let now_secs = now.duration_since(UNIX_EPOCH).ok()?.as_secs();
    if reset < 1_000_000_000 {
        Some(Duration::from_secs(reset))
    } else {
        Some(Duration::from_secs(reset.saturating_sub(now_secs)))
    }
}

/// How a request is authenticated: the one thing that differs between OAuth bearer calls and
/// each CRM's native scheme. Everything else (429 backoff, the single retry after a renewal,
/// error mapping) lives in [`Requester::send`].
pub(crate) trait ApiAuth: Send {
    /// Sets `Authorization` and any header the scheme makes mandatory (ConnectWise
    /// `clientId`, a versioned `Accept`). Credentials go in headers only, never in the URL.
    fn apply(
        &mut self,
        headers: &mut HeaderMap,
    ) -> impl Future<Output = Result<(), ClientError>> + Send;

    /// Called after a 401. Renews the credentials if the scheme documents a way to (OAuth
    /// refresh, Redtail key exchange) and says whether to retry. Called at most once per
    /// request.
    fn renew_after_401(&mut self) -> impl Future<Output = Result<bool, ClientError>> + Send;

    /// Removes credentials from text a server echoed back (error messages).
    fn scrub(&self, text: &str) -> String {
        text.to_owned()
    }
}

/// One API request: where, and the non-credential headers it needs (Redtail's `pagesize`,
/// ConnectWise's `pagination-type`).
pub(crate) struct Outgoing<'a> {
    pub(crate) method: reqwest::Method,
    pub(crate) url: Url,
    pub(crate) headers: HeaderMap,
    pub(crate) json: Option<&'a Value>,
}

impl Outgoing<'_> {
    pub(crate) fn get(url: Url, headers: HeaderMap) -> Outgoing<'static> {
        Outgoing {
            method: reqwest::Method::GET,
            url,
            headers,
            json: None,
        }
    }
}

/// The retry policy and HTTP client of one API client.
pub(crate) struct Requester<'a> {
    pub(crate) http: &'a reqwest::Client,
    pub(crate) provider: &'a str,
    pub(crate) timeout: Duration,
    pub(crate) max_retry_wait: Duration,
    pub(crate) max_attempts: u32,
}

impl Requester<'_> {
    /// Sends `out` with `auth`. A 401 gets one renewal and one retry when the scheme allows
    /// it; then the 401 is returned. A 429 is retried after `Retry-After` (seconds or date) or
    /// `X-RateLimit-Reset` (epoch seconds), each wait capped at `max_retry_wait`, up to
    /// `max_attempts` requests; then [`ClientError::RateLimited`]. Every other status is
    /// returned as is.
    pub(crate) async fn send<A: ApiAuth>(
        &self,
        auth: &mut A,
        out: &Outgoing<'_>,
    ) -> Result<ApiResponse, ClientError> {
        let provider = self.provider;
        let mut renewed = false;
        let mut attempts = 0u32;
        loop {
            attempts += 1;
            let mut headers = out.headers.clone();
            headers
                .entry(ACCEPT)
                .or_insert(HeaderValue::from_static("application/json"));
            auth.apply(&mut headers).await?;
            let mut req = self
                .http
                .request(out.method.clone(), out.url.clone())
                .headers(headers)
                .timeout(self.timeout);
            if let Some(body) = out.json {
                req = req.json(body);
            }
            let resp = req.send().await?;
            let status = resp.status().as_u16();
            tracing::debug!(
                provider,
                status,
                attempts,
                path = out.url.path(),
                "API response"
            );
            match status {
                401 if !renewed => {
                    renewed = true;
                    if !auth.renew_after_401().await? {
                        return ApiResponse::read(resp).await;
                    }
                    tracing::info!(
                        provider,
                        "API answered 401; retrying once with renewed credentials"
                    );
                }
                429 => {
                    let asked = retry_wait(resp.headers(), SystemTime::now());
                    if attempts >= self.max_attempts {
                        let resp = ApiResponse::read(resp).await?;
                        let detail =
                            ApiErrorDetail::parse(&resp.headers, &resp.body, &|s| auth.scrub(s));
                        return Err(ClientError::RateLimited {
                            attempts,
                            retry_after: asked,
                            message: detail.message.or(detail.code),
                        });
                    }
                    let backoff = Duration::from_secs(1 << (attempts - 1).min(6));
                    let wait = asked.unwrap_or(backoff).min(self.max_retry_wait);
                    tracing::info!(
                        provider,
                        wait_ms = wait.as_millis() as u64,
                        "rate limited; backing off"
                    );
                    tokio::time::sleep(wait).await;
                }
                _ => return ApiResponse::read(resp).await,
            }
        }
    }
}

/// Joins `path_or_url` to `base_url`, or checks that an absolute URL is on `base`'s origin:
/// credentials are only ever sent to the provider the client was configured for.
pub(crate) fn api_url(base_url: &str, base: &Url, path_or_url: &str) -> Result<Url, ClientError> {
    if path_or_url.starts_with('/') {
        let root = base_url.trim_end_matches('/');
        return Url::parse(&format!("{root}{path_or_url}"))
            .map_err(|e| ClientError::Config(format!("API path: {e}")));
    }
    let url = Url::parse(path_or_url).map_err(|e| ClientError::Config(format!("API URL: {e}")))?;
    if url.origin() != base.origin() {
        return Err(ClientError::Config(
            "refusing to send credentials to an origin other than base_url".into(),
        ));
    }
    Ok(url)
}
