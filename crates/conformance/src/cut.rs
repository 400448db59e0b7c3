//! The client under test: the small trait the runner drives, so any client can be plugged in
//! (the reference client through [`ReferenceClient`](crate::ReferenceClient), or a
//! deliberately broken one in tests).

use std::fmt;
use std::time::Duration;

use futures::future::BoxFuture;
use handshake_profile::Profile;

use crate::target::Secret;

/// How the runner configures a client for one case.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ClientSettings {
    /// The provider's base URL (the profile's paths are appended).
    pub base_url: String,
    /// Registered `client_id`.
    pub client_id: String,
    /// Registered `client_secret`.
    pub client_secret: Secret,
    /// Registered redirect URI.
    pub redirect_uri: String,
    /// Scopes to ask for.
    pub scopes: Vec<String>,
    /// HTTP timeout the client must apply to each request, when the scenario sets one.
    pub timeout: Option<Duration>,
}

/// How a client step went wrong, as an outcome name the scenario can expect, plus a message.
///
/// Outcome names: `state_mismatch`, `missing_state`, `replayed_state`, `unknown_state`,
/// `state_expired`, an OAuth error code (`access_denied`, `invalid_grant`, `invalid_client`,
/// `temporarily_unavailable`, ...), `reauthorization_required`, `rate_limited`, `timeout`,
/// `not_connected`, `http_<status>`, `http_error`, `client_error`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ClientFailure {
    /// The outcome name.
    pub outcome: String,
    /// What the client said (must carry no secret).
    pub message: String,
}

impl ClientFailure {
    /// A failure with this outcome and message.
    pub fn new(outcome: impl Into<String>, message: impl Into<String>) -> Self {
        ClientFailure {
            outcome: outcome.into(),
            message: message.into(),
        }
    }
}

impl fmt::Display for ClientFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.outcome, self.message)
    }
}

impl std::error::Error for ClientFailure {}

/// The answer of the API resource as the client reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ApiReply {
    /// HTTP status of the final response.
    pub status: u16,
}

impl ApiReply {
    /// A reply with this status.
    pub fn new(status: u16) -> Self {
        ApiReply { status }
    }
}

/// A client session driven by the runner: one per case.
///
/// Every method is one user-visible action of an app: start login, receive the callback,
/// call the API, refresh, log out. The runner plays the browser in between.
pub trait ClientUnderTest: Send + Sync {
    /// Starts a login and returns the authorization URL the browser is sent to.
    fn authorize(&self) -> BoxFuture<'_, Result<String, ClientFailure>>;
    /// Receives the redirect back from the provider (the full callback URL): validate it and
    /// redeem the code.
    fn callback(&self, url: String) -> BoxFuture<'_, Result<(), ClientFailure>>;
    /// Calls the API resource (`profile.api.path`), refreshing as the client sees fit.
    fn api_get(&self) -> BoxFuture<'_, Result<ApiReply, ClientFailure>>;
    /// Refreshes the access token now.
    fn refresh(&self) -> BoxFuture<'_, Result<(), ClientFailure>>;
    /// Logs out, revoking the tokens (RFC 7009).
    fn logout(&self) -> BoxFuture<'_, Result<(), ClientFailure>>;
}

/// Makes a fresh [`ClientUnderTest`] for each case.
pub trait ClientFactory: Send + Sync {
    /// A short name for reports (`reference`).
    fn name(&self) -> &str;
    /// A client for this profile and settings.
    fn create(
        &self,
        profile: &Profile,
        settings: &ClientSettings,
    ) -> Result<Box<dyn ClientUnderTest>, ClientFailure>;
}
