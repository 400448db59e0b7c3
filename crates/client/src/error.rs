//! Typed errors of the client. No variant carries a secret: token-endpoint bodies are
//! reduced to their OAuth error code and description, and parse failures keep the
//! parser's message and the names of the fields present, never their values.

use std::time::Duration;

use handshake_profile::OAuthError;

use crate::detail::ApiErrorDetail;
use crate::logout::{LogoutReport, Revocation};
use crate::store::StoreError;

/// Everything that can go wrong while driving an authorization flow.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    /// The configuration or profile cannot produce valid endpoint URLs.
    #[error("invalid configuration: {0}")]
    Config(String),

    /// The callback URL or its query string could not be parsed.
    #[error("malformed callback: {0}")]
    MalformedCallback(String),

    /// The callback carried no `state` parameter (RFC 6749 §4.1.2, RFC 9700 §4.7).
    #[error("callback has no `state` parameter")]
    StateMissing,

    /// The callback's `state` differs from the one issued for this session (possible CSRF).
    #[error("callback `state` does not match the authorization request issued for this session")]
    StateMismatch,

    /// The pending authorization for this session expired before the callback arrived.
    #[error("the authorization request for this session expired; start again")]
    StateExpired,

    /// The callback's `state` was already used once; a code is never exchanged twice.
    #[error("callback `state` was already used (replayed callback)")]
    StateReplayed,

    /// No authorization request is pending for this session.
    #[error("no authorization request is pending for this session")]
    StateUnknown,

    /// The callback carried no `iss` parameter, but the provider identifies itself in every
    /// authorization response (the profile's `oauth.iss_parameter`; RFC 9207 §2.4). The
    /// response is refused: it may come from another server (mix-up attack).
    #[error("callback has no `iss` parameter, but this provider sends one in every authorization response (RFC 9207)")]
    IssuerMissing,

    /// The callback's `iss` is not the issuer the authorization request was sent to
    /// (RFC 9207 §2.4): the response came from another server (mix-up attack) and is refused,
    /// code or error alike.
    #[error("callback `iss` is {received:?}, not the expected issuer {expected:?} (RFC 9207)")]
    IssuerMismatch {
        /// The issuer identifier expected: the profile's `oauth.issuer`, else the base URL.
        expected: String,
        /// The `iss` received (at most 200 characters).
        received: String,
    },

    /// The provider redirected back with `error=` (RFC 6749 §4.1.2.1).
    #[error("authorization failed: {error}{}", fmt_description(.description))]
    AuthorizationDenied {
        /// The OAuth error code, e.g. `access_denied`, `invalid_scope`.
        error: OAuthError,
        /// The provider's `error_description`, if any.
        description: Option<String>,
    },

    /// The callback had a valid `state` but neither `code` nor `error`.
    #[error("callback has neither `code` nor `error`")]
    MissingCode,

    /// The token endpoint answered with an error (RFC 6749 §5.2).
    #[error("token endpoint returned HTTP {status}: {error}{}", fmt_description(.description))]
    TokenEndpoint {
        /// HTTP status of the response.
        status: u16,
        /// The OAuth error code (`invalid_grant`, ...), or
        /// `Other(`[`ClientError::UNPARSEABLE_ERROR_BODY`]`)` when the body named none.
        error: OAuthError,
        /// The provider's `error_description`, if any.
        description: Option<String>,
    },

    /// A token response could not be used: not JSON, no `access_token`, unknown
    /// `token_type`, unexpected content type...
    #[error("invalid token response: {reason}")]
    InvalidTokenResponse {
        /// What was wrong, with the names (never the values) of the fields received.
        reason: String,
    },

    /// The grant is gone (refresh answered `invalid_grant`); the user must authorize again.
    /// Later calls fail with this error without contacting the provider.
    #[error("re-authorization required: the provider rejected the refresh token")]
    ReauthorizationRequired,

    /// There are no tokens for this session.
    #[error("not connected: no tokens stored for this session")]
    NotConnected,

    /// The API kept answering 429 after the bounded number of attempts.
    #[error("rate limited by the provider after {attempts} attempt(s){}{}", fmt_retry(.retry_after), fmt_message(.message))]
    RateLimited {
        /// How many requests were sent.
        attempts: u32,
        /// The wait the provider asked for on the last response, if it said.
        retry_after: Option<Duration>,
        /// The message of the last 429 body, if it had one (Capsule: `rate limit reached`).
        message: Option<String>,
    },

    /// The API rejected the credentials: HTTP 401 (after the one renewal the scheme allows,
    /// if any). Keeps the CRM's own error code and message, never a credential.
    #[error("API rejected the credentials (HTTP 401){}", .detail)]
    ApiUnauthorized {
        /// What the CRM said.
        detail: ApiErrorDetail,
    },

    /// The credentials are valid but not allowed to do this: HTTP 403.
    #[error("API refused the request (HTTP 403){}", .detail)]
    ApiForbidden {
        /// What the CRM said.
        detail: ApiErrorDetail,
    },

    /// The API answered with another error status where a success was needed.
    #[error("API answered HTTP {status}{}", .detail)]
    ApiStatus {
        /// HTTP status.
        status: u16,
        /// What the CRM said.
        detail: ApiErrorDetail,
    },

    /// An API answer could not be read as the profile describes it: not JSON (Agile CRM
    /// answers XML without `Accept: application/json`), no records array, no `user_key` in a
    /// Redtail key exchange...
    #[error("unexpected API response (HTTP {status}): {reason}")]
    UnexpectedApiResponse {
        /// HTTP status.
        status: u16,
        /// What was wrong, with field names but never values.
        reason: String,
    },

    /// A list walk did not end: the server repeated a page, a cursor or a `next` link, or the
    /// walk passed its page bound ([`ListOptions::max_pages`](crate::ListOptions)).
    #[error("paging stopped after {pages} page(s): {reason}")]
    Paging {
        /// Pages fetched before stopping.
        pages: u32,
        /// Why the walk was stopped.
        reason: String,
    },

    /// Logout deleted the local tokens, but the provider did not confirm revocation: only
    /// HTTP 200 does (RFC 7009 §2.2). `status` and `error` are those of the first token the
    /// provider refused (`None` when no answer arrived); `report` has both tokens' outcomes.
    /// The tokens may still be valid at the provider.
    #[error("logged out locally, but the provider did not confirm revocation: {}", fmt_revocation(*.status, .error, .report))]
    RevocationFailed {
        /// HTTP status of the refusal (404, 400, 503 after one retry...); `None` when the
        /// request failed or was redirected elsewhere.
        status: Option<u16>,
        /// The OAuth error code of the refusal body (`unsupported_token_type`), if any.
        error: Option<String>,
        /// What happened to each token.
        report: LogoutReport,
    },

    /// The request could not be sent or its response not read (connect error, timeout...).
    #[error("HTTP request failed: {0}")]
    Http(#[source] reqwest::Error),

    /// The token store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl ClientError {
    /// The code of a [`ClientError::TokenEndpoint`] whose error body could not be read
    /// (not JSON, no `error`): `OAuthError::Other("unparseable_error_body")`.
    pub const UNPARSEABLE_ERROR_BODY: &'static str = "unparseable_error_body";
}

fn fmt_description(d: &Option<String>) -> String {
    d.as_deref().map(|d| format!(" ({d})")).unwrap_or_default()
}

fn fmt_revocation(status: Option<u16>, error: &Option<String>, report: &LogoutReport) -> String {
    let code = error
        .as_deref()
        .map(|e| format!(" ({e})"))
        .unwrap_or_default();
    if let Some(s) = status {
        return format!("the revocation endpoint answered HTTP {s}{code}");
    }
    let reason = [&report.refresh_token, &report.access_token]
        .into_iter()
        .find_map(|r| match r {
            Revocation::TransportError(reason) => Some(reason.as_str()),
            _ => None,
        });
    match reason {
        Some(r) => format!("no answer from the revocation endpoint: {r}"),
        None => "no answer from the revocation endpoint".to_owned(),
    }
}

fn fmt_message(m: &Option<String>) -> String {
    m.as_deref().map(|m| format!(" ({m})")).unwrap_or_default()
}

fn fmt_retry(d: &Option<Duration>) -> String {
    d.map(|d| format!("; provider asked to wait {}s", d.as_secs()))
        .unwrap_or_default()
}

impl From<reqwest::Error> for ClientError {
    fn from(e: reqwest::Error) -> Self {
        // The URL stays in the message: tokens travel in headers and bodies, never in URLs.
        ClientError::Http(e)
    }
}
