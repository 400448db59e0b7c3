//! API responses and rate-limit headers.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use http::HeaderMap;

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
}

/// How long a 429 or 503 asks us to wait: `Retry-After` in seconds (RFC 9110 §10.2.3), or
/// `X-RateLimit-Reset` as epoch seconds (small values are read as seconds from now, as
/// some APIs send them).
pub(crate) fn retry_wait(headers: &HeaderMap, now: SystemTime) -> Option<Duration> {
    let number = |name: &str| -> Option<u64> {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
    };
    if let Some(secs) = number("retry-after") {
        return Some(Duration::from_secs(secs));
    }
    let reset = number("x-ratelimit-reset")?;
    let now_secs = now.duration_since(UNIX_EPOCH).ok()?.as_secs();
    if reset < 1_000_000_000 {
        Some(Duration::from_secs(reset))
    } else {
        Some(Duration::from_secs(reset.saturating_sub(now_secs)))
    }
}
