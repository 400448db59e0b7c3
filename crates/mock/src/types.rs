//! Protocol values and public data shapes of the mock.

use std::fmt;

use handshake_profile::ClientAuth;
use serde::{Deserialize, Serialize};

/// An endpoint of a mock provider, as named in faults and journal entries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Endpoint {
    /// The authorization endpoint (RFC 6749 §3.1), GET and the consent form POST.
    Authorize,
    /// The token endpoint (RFC 6749 §3.2).
    Token,
    /// Every revocation path of the profile (RFC 7009).
    Revoke,
    /// The API resource (`profile.api.path`).
    Api,
}

impl Endpoint {
    /// The snake_case name used on the wire (`token`).
    pub fn as_str(self) -> &'static str {
        match self {
            Endpoint::Authorize => "authorize",
            Endpoint::Token => "token",
            Endpoint::Revoke => "revoke",
            Endpoint::Api => "api",
        }
    }
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// OAuth 2.0 error codes, shared with the client: defined in `handshake-profile`.
pub use handshake_profile::OAuthError;

/// A requirement of the provider that [`MockProvider::relax`](crate::MockProvider::relax)
/// can lift at run time, so that a client blocked by it can be tested on everything else.
/// The journal names the one that refused a request ([`JournalEntry::requirement`]).
///
/// On the wire (`POST /__handshake/relax`, the journal) it is snake_case:
///
/// ```
/// use handshake_mock::Relaxation;
///
/// assert_eq!(serde_json::to_string(&Relaxation::BodyEncoding).unwrap(), "\"body_encoding\"");
/// assert_eq!(Relaxation::parse("client_auth"), Some(Relaxation::ClientAuth));
/// assert_eq!(Relaxation::ALL.len(), 4);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Relaxation {
    /// PKCE is no longer required: an authorization request without `code_challenge` is
    /// accepted, a challenge sent is still verified at the token endpoint, and either RFC
    /// 7636 method (`S256`, `plain`) is accepted.
    Pkce,
    /// Token and revocation requests are accepted form-encoded and as JSON, whatever the
    /// profile lists.
    BodyEncoding,
    /// `client_secret_basic` and `client_secret_post` are both accepted, whatever the
    /// profile lists; a wrong secret is still refused.
    ClientAuth,
    /// Unsupported scopes in a request are ignored instead of refused with
    /// `invalid_scope`: the supported ones are granted, or the profile's default scopes when
    /// none is left; at refresh, scopes beyond the original grant are dropped.
    Scope,
}

impl Relaxation {
    /// Every relaxation, in declaration order.
    pub const ALL: [Relaxation; 4] = [
        Relaxation::Pkce,
        Relaxation::BodyEncoding,
        Relaxation::ClientAuth,
        Relaxation::Scope,
    ];

    /// The snake_case wire name (`body_encoding`).
    pub fn as_str(self) -> &'static str {
        match self {
            Relaxation::Pkce => "pkce",
            Relaxation::BodyEncoding => "body_encoding",
            Relaxation::ClientAuth => "client_auth",
            Relaxation::Scope => "scope",
        }
    }

    /// Parses a wire name (`pkce`, `body_encoding`, `client_auth`, `scope`).
    pub fn parse(name: &str) -> Option<Relaxation> {
        Relaxation::ALL.into_iter().find(|r| r.as_str() == name)
    }
}

impl fmt::Display for Relaxation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

handshake_profile::secret_type! {
    /// A client secret. Prints `ClientSecret([redacted])` in `Debug`; read it with
    /// [`ClientSecret::secret`].
    ///
    /// ```
    /// let s = handshake_mock::ClientSecret::new("s3cret");
    /// assert_eq!(format!("{s:?}"), "ClientSecret([redacted])");
    /// assert_eq!(s.secret(), "s3cret");
    /// ```
    #[derive(Clone)]
    pub struct ClientSecret(String);
}

/// The OAuth client registered with a mock (a confidential web application).
#[derive(Debug, Clone)]
pub struct RegisteredClient {
    /// `client_id`.
    pub client_id: String,
    /// `client_secret`.
    pub client_secret: ClientSecret,
    /// Registered redirect URIs; the authorization endpoint matches them exactly.
    pub redirect_uris: Vec<String>,
}

impl RegisteredClient {
    /// The default `client_id`.
    pub const DEFAULT_ID: &'static str = "handshake-client";
    /// The default `client_secret`.
    pub const DEFAULT_SECRET: &'static str = "handshake-secret";
    /// The default redirect URI (an Express app on port 3000).
    pub const DEFAULT_REDIRECT_URI: &'static str = "http://localhost:3000/callback";

    /// A client with one redirect URI.
    pub fn new(
        client_id: impl Into<String>,
        client_secret: impl Into<String>,
        redirect_uri: impl Into<String>,
    ) -> Self {
        RegisteredClient {
            client_id: client_id.into(),
            client_secret: ClientSecret::new(client_secret),
            redirect_uris: vec![redirect_uri.into()],
        }
    }
}

impl Default for RegisteredClient {
    /// `handshake-client` / `handshake-secret` / `http://localhost:3000/callback`.
    fn default() -> Self {
        RegisteredClient::new(
            Self::DEFAULT_ID,
            Self::DEFAULT_SECRET,
            Self::DEFAULT_REDIRECT_URI,
        )
    }
}

/// What an injected fault does to a request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum FaultKind {
    /// Answer with an RFC 6749 error JSON (at the authorization endpoint: an error redirect).
    OauthError {
        /// The error code: one the RFCs define ([`OAuthError::KNOWN`]); the control API
        /// refuses any other.
        #[serde(deserialize_with = "known_oauth_error")]
        error: OAuthError,
    },
    /// Answer with this HTTP status and an RFC 6749 error JSON body.
    Status {
        /// HTTP status, 100–599.
        status: u16,
    },
    /// Wait this long, then handle the request normally.
    Delay {
        /// Milliseconds.
        delay_ms: u64,
    },
    /// Close the connection without answering.
    Drop,
    /// API only: the CRM's own rate limit trips. The answer is exactly the 429 the CRM sends
    /// when a caller's window is used up (the profile's `rate_limit` body; `X-RateLimit-*`
    /// with `Remaining: 0` and a `Reset` when the profile sends them; `Retry-After` when the
    /// profile does, else none, as on Capsule).
    ///
    /// The limit holds for `retry_after_secs` from the first request that meets it, as a
    /// real window would: a retry before then is refused again (with the time left), one
    /// after it passes. The fault's `times` caps the refusals in that period. Requests the
    /// API refuses for their credentials (401) do not trip it.
    RateLimited {
        /// How long the limit holds, in seconds (at least 1): the `Retry-After` value, and
        /// `X-RateLimit-Reset` is the end of the period, rounded up to a whole second.
        retry_after_secs: u64,
    },
}

/// An [`OAuthError`] the RFCs define: a fault cannot inject a made-up code.
fn known_oauth_error<'de, D: serde::Deserializer<'de>>(d: D) -> Result<OAuthError, D::Error> {
    match OAuthError::deserialize(d)? {
        OAuthError::Other(code) => {
            let known: Vec<&str> = OAuthError::KNOWN.iter().map(OAuthError::as_str).collect();
            Err(serde::de::Error::custom(format!(
                "unknown OAuth error code `{code}`, expected one of {}",
                known.join(", ")
            )))
        }
        known => Ok(known),
    }
}

/// A fault armed on an endpoint: the next `times` requests to it misbehave.
///
/// This is also the JSON accepted by `POST /__handshake/faults`:
///
/// ```
/// let f: handshake_mock::Fault = serde_json::from_str(
///     r#"{"endpoint":"token","kind":"oauth_error","error":"invalid_grant","times":2}"#,
/// ).unwrap();
/// assert_eq!(f.times, 2);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fault {
    /// Which endpoint fails.
    pub endpoint: Endpoint,
    /// How it fails.
    #[serde(flatten)]
    pub kind: FaultKind,
    /// How many requests fail (default 1).
    #[serde(default = "one")]
    pub times: u32,
}

fn one() -> u32 {
    1
}

/// One request as the mock received it, with secrets redacted.
///
/// Secret values (client secret, PKCE verifier, `Authorization` credentials, cookies) read
/// `[redacted]`. Codes and tokens read `[redacted:xxxxxxxx]`, where `xxxxxxxx` is a short
/// SHA-256 tag: equal tags mean the same value was sent twice, yet the value cannot be
/// recovered from the journal.
///
/// `GET /__handshake/journal` serves `Vec<JournalEntry>` as JSON, and that JSON
/// deserializes back into it; fields added later default when absent, so build test
/// entries with `..JournalEntry::default()`:
///
/// ```
/// use handshake_mock::{Endpoint, JournalEntry, Relaxation};
///
/// let entry = JournalEntry {
///     seq: 1,
///     endpoint: Some(Endpoint::Authorize),
///     status: 302,
///     error: Some("invalid_request".into()),
///     requirement: Some(Relaxation::Pkce),
///     ..JournalEntry::default()
/// };
/// let json = serde_json::to_string(&entry).unwrap();
/// assert_eq!(serde_json::from_str::<JournalEntry>(&json).unwrap(), entry);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct JournalEntry {
    /// Order of arrival, from 1; gaps mean older entries were evicted (the journal keeps the
    /// most recent entries only).
    pub seq: u64,
    /// Which endpoint the path belongs to, if any.
    pub endpoint: Option<Endpoint>,
    /// HTTP method.
    pub method: String,
    /// Path, without the query.
    pub path: String,
    /// Decoded query parameters, in order.
    pub query: Vec<(String, String)>,
    /// Request headers, lower-case names, in order.
    pub headers: Vec<(String, String)>,
    /// Decoded form or JSON body fields, in order.
    pub params: Vec<(String, String)>,
    /// The `grant_type` body parameter, if any.
    pub grant_type: Option<String>,
    /// How the client authenticated: `Authorization: Basic` or `client_secret` in the body.
    pub client_auth: Option<ClientAuth>,
    /// HTTP status answered; `0` when the connection was dropped by a fault.
    pub status: u16,
    /// API resource and key exchange only: the authentication mode the request presented,
    /// accepted or not: `oauth` (a Bearer access token), a native scheme name
    /// (`bearer_token`, `basic_api_key`, `basic_email_api_key`, `redtail_user_key`,
    /// `connectwise_member_key`), or `redtail_basic` (Redtail's `api_key:username:password`,
    /// as the key exchange takes it). `None` for other endpoints and for requests without
    /// recognisable credentials.
    #[serde(default)]
    pub auth_mode: Option<String>,
    /// A refusal's RFC 6749 error code, as answered in the JSON body or on the error
    /// redirect (`invalid_request`, `invalid_client`, ...; the API's `invalid_token` and
    /// `insufficient_scope`). `None` when the request succeeded, and on HTML error pages
    /// (which name no code; see `error_description`).
    #[serde(default)]
    pub error: Option<String>,
    /// Why the request was refused: the `error_description` answered, or the reason shown
    /// on an HTML error page. Written by the mock, never a secret.
    #[serde(default)]
    pub error_description: Option<String>,
    /// When the refusal came from one of the provider's requirements that
    /// [`MockProvider::relax`](crate::MockProvider::relax) can lift, which one: a missing
    /// `code_challenge` ([`Relaxation::Pkce`]), a body encoding the profile does not accept
    /// ([`Relaxation::BodyEncoding`]), a client authentication method it does not accept
    /// ([`Relaxation::ClientAuth`]), an unsupported scope ([`Relaxation::Scope`]). Set exactly
    /// when relaxing that requirement would have let this check pass.
    #[serde(default)]
    pub requirement: Option<Relaxation>,
    /// The user account the request acted for: who approved on the consent page (or the
    /// first user, with auto-approve), whose grant a token response or a Bearer API call
    /// belongs to, the first user for the native scheme. `None` when no user was involved.
    #[serde(default)]
    pub user: Option<String>,
    /// What else the request caused that a test may need to know, in the mock's words: a
    /// grant evicted because the client reached
    /// [`MAX_GRANTS_PER_CLIENT`](crate::limits::MAX_GRANTS_PER_CLIENT), for one. Values cut
    /// for the journal's bounds end with `…[cut: N bytes]`; fields left out are summarised by
    /// a last `("…", "N more not kept")` pair in `query`, `headers` or `params`.
    #[serde(default)]
    pub notes: Vec<String>,
}

impl JournalEntry {
    /// The value of a body parameter.
    pub fn param(&self, name: &str) -> Option<&str> {
        lookup(&self.params, name)
    }
    /// The value of a query parameter.
    pub fn query_param(&self, name: &str) -> Option<&str> {
        lookup(&self.query, name)
    }
    /// The value of a header (name in lower case).
    pub fn header(&self, name: &str) -> Option<&str> {
        lookup(&self.headers, &name.to_ascii_lowercase())
    }
    /// [`error`](Self::error) as a typed code.
    ///
    /// ```
    /// use handshake_mock::{JournalEntry, OAuthError};
    ///
    /// let e = JournalEntry { error: Some("invalid_grant".into()), ..JournalEntry::default() };
    /// assert_eq!(e.oauth_error(), Some(OAuthError::InvalidGrant));
    /// ```
    pub fn oauth_error(&self) -> Option<OAuthError> {
        self.error.as_deref().map(OAuthError::from)
    }
}

fn lookup<'a>(pairs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// Starting a mock failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MockError {
    /// The listening socket could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// Address asked for.
        addr: std::net::SocketAddr,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// The profile cannot be served (two endpoints share a path, or a path has characters
    /// the router reserves).
    #[error("profile {profile}: {reason}")]
    Profile {
        /// Profile id.
        profile: String,
        /// Why.
        reason: String,
    },
    /// The client registration is unusable.
    #[error("client registration: {0}")]
    Client(String),
    /// A builder setting is unusable (native credentials, rate limit).
    #[error("configuration: {0}")]
    Config(String),
    /// The TLS certificate could not be generated or loaded.
    #[error("TLS setup failed: {0}")]
    Tls(String),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fault_injects_only_codes_the_rfcs_define() {
        let fault = |code: &str| {
            serde_json::from_str::<Fault>(&format!(
                r#"{{"endpoint":"api","kind":"oauth_error","error":"{code}"}}"#
            ))
        };
        let f = fault("insufficient_scope").unwrap();
        assert_eq!(
            f.kind,
            FaultKind::OauthError {
                error: OAuthError::InsufficientScope
            }
        );
        let err = fault("made_up").unwrap_err().to_string();
        assert!(
            err.starts_with("unknown OAuth error code `made_up`, expected one of invalid_request,"),
            "{err}"
        );
    }
}
