//! The one place that turns a token-endpoint request into bytes on the wire.
//!
//! The `oauth2` crate builds token requests (grant parameters, client authentication, PKCE
//! verifier) and parses responses, but only speaks `application/x-www-form-urlencoded`.
//! Several CRM profiles want JSON bodies, so [`TokenTransport`] — an `oauth2`
//! `AsyncHttpClient` — rewrites the form body into a JSON object of the same pairs when the
//! profile says so, and sends everything through the client's `reqwest::Client` (which does
//! not follow redirects). It also records the HTTP status, which `oauth2`'s error type
//! drops and error reports need.

use std::future::Future;
use std::pin::Pin;
use std::sync::Mutex;
use std::time::Duration;

use base64::Engine as _;
use handshake_profile::{ClientAuth, TokenEncoding};
use http::header::{HeaderValue, AUTHORIZATION, CONTENT_TYPE};
use oauth2::{AsyncHttpClient, HttpRequest, HttpResponse};

const FORM: &str = "application/x-www-form-urlencoded";
const JSON: &str = "application/json";

/// Why a token-endpoint request could not be sent.
#[derive(Debug, thiserror::Error)]
pub(crate) enum TransportError {
    #[error(transparent)]
    Http(#[from] reqwest::Error),
    #[error("could not re-encode the request body: {0}")]
    Encode(String),
    #[error("could not rebuild the response: {0}")]
    Response(#[from] http::Error),
    /// Only an injected HTTP client can get here: the default one never follows redirects.
    #[error("the token endpoint redirected elsewhere; a redirected answer is never used (RFC 9700 §4.11)")]
    Redirected,
}

/// `oauth2` HTTP client for token requests (see the module docs).
pub(crate) struct TokenTransport {
    pub(crate) http: reqwest::Client,
    pub(crate) encoding: TokenEncoding,
    pub(crate) timeout: Duration,
    pub(crate) last_status: Mutex<Option<u16>>,
}

impl TokenTransport {
    pub(crate) fn new(http: reqwest::Client, encoding: TokenEncoding, timeout: Duration) -> Self {
        TokenTransport {
            http,
            encoding,
            timeout,
            last_status: Mutex::new(None),
        }
    }

    pub(crate) fn last_status(&self) -> Option<u16> {
        *self.last_status.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl<'c> AsyncHttpClient<'c> for TokenTransport {
    type Error = TransportError;
    type Future = Pin<Box<dyn Future<Output = Result<HttpResponse, TransportError>> + Send + 'c>>;

    fn call(&'c self, request: HttpRequest) -> Self::Future {
        Box::pin(async move {
            let (mut parts, body) = request.into_parts();
            let is_form = parts
                .headers
                .get(CONTENT_TYPE)
                .is_some_and(|v| v.as_bytes().starts_with(FORM.as_bytes()));
            let body = if is_form && self.encoding == TokenEncoding::Json {
                parts
                    .headers
                    .insert(CONTENT_TYPE, HeaderValue::from_static(JSON));
                form_to_json(&body)?
            } else {
                body
            };
            let target = parts.uri.to_string();
            let response = self
                .http
                .request(parts.method, target.as_str())
                .headers(parts.headers)
                .body(body)
                .timeout(self.timeout)
                .send()
                .await?;
            if redirected(&response, &target) {
                return Err(TransportError::Redirected);
            }
            *self.last_status.lock().unwrap_or_else(|e| e.into_inner()) =
                Some(response.status().as_u16());
            let mut builder = http::Response::builder().status(response.status());
            for (name, value) in response.headers() {
                builder = builder.header(name, value);
            }
            let bytes = response.bytes().await?;
            Ok(builder.body(bytes.to_vec())?)
        })
    }
}

/// `a=1&b=2` → `{"a":"1","b":"2"}`.
fn form_to_json(body: &[u8]) -> Result<Vec<u8>, TransportError> {
    let pairs: Vec<(String, String)> =
        serde_urlencoded::from_bytes(body).map_err(|e| TransportError::Encode(e.to_string()))?;
    let object: serde_json::Map<String, serde_json::Value> = pairs
        .into_iter()
        .map(|(k, v)| (k, serde_json::Value::String(v)))
        .collect();
    serde_json::to_vec(&object).map_err(|e| TransportError::Encode(e.to_string()))
}

/// A client-authenticated POST to a non-token endpoint (revocation), encoded and
/// authenticated exactly as token requests are.
pub(crate) struct AuthenticatedPost<'a> {
    pub(crate) http: &'a reqwest::Client,
    pub(crate) timeout: Duration,
    pub(crate) encoding: TokenEncoding,
    pub(crate) auth: ClientAuth,
    pub(crate) client_id: &'a str,
    pub(crate) client_secret: &'a str,
}

impl AuthenticatedPost<'_> {
    pub(crate) async fn send(
        &self,
        url: &str,
        mut params: Vec<(&str, &str)>,
    ) -> Result<reqwest::Response, reqwest::Error> {
        let mut req = self
            .http
            .post(url)
            .timeout(self.timeout)
            .header(http::header::ACCEPT, JSON);
        match self.auth {
            ClientAuth::ClientSecretBasic => {
                // RFC 6749 §2.3.1: id and secret are form-urlencoded before Base64.
                let enc = |s: &str| form_urlencode(s);
                let creds = format!("{}:{}", enc(self.client_id), enc(self.client_secret));
                let value = format!(
                    "Basic {}",
                    base64::engine::general_purpose::STANDARD.encode(creds)
                );
                let mut value = HeaderValue::from_str(&value)
                    .unwrap_or_else(|_| HeaderValue::from_static("Basic"));
                value.set_sensitive(true);
                req = req.header(AUTHORIZATION, value);
            }
            ClientAuth::ClientSecretPost => {
                params.push(("client_id", self.client_id));
                params.push(("client_secret", self.client_secret));
            }
        }
        req = match self.encoding {
            TokenEncoding::Form => req
                .header(CONTENT_TYPE, FORM)
                .body(serde_urlencoded::to_string(&params).unwrap_or_default()),
            TokenEncoding::Json => {
                let object: serde_json::Map<String, serde_json::Value> = params
                    .iter()
                    .map(|(k, v)| ((*k).to_owned(), serde_json::Value::String((*v).to_owned())))
                    .collect();
                req.header(CONTENT_TYPE, JSON)
                    .body(serde_json::Value::Object(object).to_string())
            }
        };
        req.send().await
    }
}

/// Whether `response` came from somewhere other than `requested`: an injected client that
/// follows redirects has already re-sent the request, but its answer must not be trusted.
pub(crate) fn redirected(response: &reqwest::Response, requested: &str) -> bool {
    url::Url::parse(requested).map_or(true, |u| &u != response.url())
}

fn form_urlencode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// The default HTTP client: no redirects (RFC 9700 §4.11: a token or revocation endpoint
/// that redirects must not receive our credentials again), connect and request timeouts.
pub(crate) fn default_http_client(timeout: Duration) -> Result<reqwest::Client, reqwest::Error> {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(Duration::from_secs(10).min(timeout))
        .timeout(timeout)
        .build()
}
