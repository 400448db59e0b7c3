//! API responses, CRM error bodies, and the one request helper every authenticated API call
//! goes through, OAuth and native alike.

use std::fmt;
use std::future::Future;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use http::header::{HeaderValue, ACCEPT};
use http::HeaderMap;
use serde_json::Value;
use url::Url;

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

// Error messages are for people; a CRM that echoes a whole page back gets cut here.
const MAX_MESSAGE_CHARS: usize = 300;

/// What a CRM said about an error, read from the shapes the five CRMs use:
/// ConnectWise `{"code", "message", "errors": [{"code", "message", "field"}]}`, Redtail
/// `{"message"}`, Capsule `{"error": "rate limit reached"}`, RFC 6750 `{"error",
/// "error_description"}` or a `WWW-Authenticate` challenge.
///
/// Text that contains a credential the client sent is redacted before it gets here.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ApiErrorDetail {
    /// A machine-readable code (`Unauthorized`, `invalid_token`...).
    pub code: Option<String>,
    /// The human-readable message.
    pub message: Option<String>,
    /// Sub-errors (ConnectWise `errors[]`), each as `code: message (field)`.
    pub errors: Vec<String>,
}

impl ApiErrorDetail {
    pub(crate) fn parse(
        headers: &HeaderMap,
        body: &[u8],
        scrub: &dyn Fn(&str) -> String,
    ) -> ApiErrorDetail {
        let clean = |s: &str| truncate(&scrub(s.trim()));
        let mut detail = ApiErrorDetail::default();
        match serde_json::from_slice::<Value>(body) {
            Ok(Value::Object(obj)) => {
                let text = |k: &str| obj.get(k).and_then(Value::as_str).map(clean);
                let error = text("error");
                // `error` is a code in RFC 6749/6750 bodies but a sentence in Capsule's 429.
                let error_is_sentence = error.as_deref().is_some_and(|e| e.contains(' '));
                detail.code = text("code").or(if error_is_sentence {
                    None
                } else {
                    error.clone()
                });
                detail.message = text("message")
                    .or_else(|| text("Message"))
                    .or_else(|| text("error_description"))
                    .or(if error_is_sentence { error } else { None });
                if let Some(Value::Array(items)) = obj.get("errors") {
                    detail.errors = items.iter().filter_map(|i| error_item(i, &clean)).collect();
                }
            }
            _ => {
                let text = String::from_utf8_lossy(body);
                let text = text.trim();
                // Short plain-text bodies are messages; HTML/XML pages are not.
                if !text.is_empty() && !text.starts_with('<') {
                    detail.message = Some(clean(text));
                }
            }
        }
        if detail.code.is_none() && detail.message.is_none() {
            if let Some((code, message)) = headers
                .get(http::header::WWW_AUTHENTICATE)
                .and_then(|v| v.to_str().ok())
                .map(parse_challenge)
            {
                detail.code = code.as_deref().map(clean);
                detail.message = message.as_deref().map(clean);
            }
        }
        detail
    }

    fn is_empty(&self) -> bool {
        self.code.is_none() && self.message.is_none() && self.errors.is_empty()
    }
}

impl fmt::Display for ApiErrorDetail {
    /// `": code: message; sub-error; ..."`, or nothing when the CRM said nothing.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_empty() {
            return Ok(());
        }
        f.write_str(":")?;
        let parts: Vec<&str> = [self.code.as_deref(), self.message.as_deref()]
            .into_iter()
            .flatten()
            .collect();
        if !parts.is_empty() {
            write!(f, " {}", parts.join(": "))?;
        }
        for e in &self.errors {
            write!(f, "; {e}")?;
        }
        Ok(())
    }
}

fn error_item(item: &Value, clean: &dyn Fn(&str) -> String) -> Option<String> {
    let obj = item.as_object()?;
    let text = |k: &str| obj.get(k).and_then(Value::as_str).map(clean);
    let mut out = [text("code"), text("message")]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(": ");
    if let Some(field) = text("field") {
        out.push_str(&format!(" ({field})"));
    }
    (!out.is_empty()).then_some(out)
}

/// `Bearer error="invalid_token", error_description="expired"` → (code, description).
fn parse_challenge(value: &str) -> (Option<String>, Option<String>) {
    let param = |name: &str| {
        let start = value.find(&format!("{name}=\""))? + name.len() + 2;
        let end = value[start..].find('"')?;
        Some(value[start..start + end].to_owned())
    };
    (param("error"), param("error_description"))
}

fn truncate(s: &str) -> String {
    if s.chars().count() <= MAX_MESSAGE_CHARS {
        s.to_owned()
    } else {
        let cut: String = s.chars().take(MAX_MESSAGE_CHARS).collect();
        format!("{cut}…")
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
