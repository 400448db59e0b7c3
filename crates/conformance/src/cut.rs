//! The client under test: the small trait the runner drives, so any client can be plugged in
//! (the reference client through [`ReferenceClient`](crate::ReferenceClient), or a
//! deliberately broken one in tests).

use std::fmt;
use std::time::Duration;

use futures::future::BoxFuture;
use handshake_client::NativeCredentials;
use handshake_profile::Profile;

use crate::scenario::AuthChoice;
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
    /// Records per page to ask for when walking a list, when the scenario sets it.
    pub page_size: Option<u32>,
    /// Valid credentials for the CRM's native scheme, when the provider has one (the mock's
    /// own; redacted in `Debug`).
    pub native: Option<NativeCredentials>,
}

/// How a client step went wrong, as an outcome name the scenario can expect, plus a message.
///
/// Outcome names: `state_mismatch`, `missing_state`, `replayed_state`, `unknown_state`,
/// `state_expired`, an OAuth error code (`access_denied`, `invalid_grant`, `invalid_client`,
/// `temporarily_unavailable`, ...), `reauthorization_required`, `rate_limited`, `timeout`,
/// `not_connected`, `api_unauthorized`, `api_forbidden`, `paging_loop`, `revocation_failed`
/// (the revocation endpoint did not answer 200), `iss_missing`, `iss_mismatch` (RFC 9207),
/// `invalid_configuration`, `unexpected_api_response`, `http_<status>`, `http_error`,
/// `unsupported` (the client does not implement the step), `client_error`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ClientFailure {
    /// The outcome name.
    pub outcome: String,
    /// What the client said (must carry no secret).
    pub message: String,
    /// What the CRM said, as the client surfaced it to its caller.
    pub crm: Option<CrmError>,
}

/// A CRM's error as a client surfaced it: its machine-readable code and its human message
/// (ConnectWise `{code, message}`, Redtail `{message}`, RFC 6750 `{error,
/// error_description}`, Capsule `{"error": "rate limit reached"}`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct CrmError {
    /// The code (`Unauthorized`, `invalid_token`, `TooManyRequests`).
    pub code: Option<String>,
    /// The message.
    pub message: Option<String>,
}

impl CrmError {
    /// A CRM error with this code and message.
    pub fn new(code: Option<String>, message: Option<String>) -> Self {
        CrmError { code, message }
    }
}

impl ClientFailure {
    /// A failure with this outcome and message.
    pub fn new(outcome: impl Into<String>, message: impl Into<String>) -> Self {
        ClientFailure {
            outcome: outcome.into(),
            message: message.into(),
            crm: None,
        }
    }

    /// The same failure, carrying what the CRM said.
    pub fn with_crm(mut self, crm: CrmError) -> Self {
        self.crm = Some(crm);
        self
    }

    /// The failure of a step this client does not implement.
    pub fn unsupported(what: &str) -> Self {
        ClientFailure::new(
            "unsupported",
            format!("this client does not implement {what}"),
        )
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

    /// Calls the API resource with the CRM's native scheme and these credentials (which
    /// may be deliberately wrong). Credentials travel in headers only. A client that keeps
    /// state per credential set (Redtail's `user_key`) keeps it across calls.
    ///
    /// The default fails with `unsupported`: an OAuth-only client fails native scenarios.
    fn native_get(
        &self,
        credentials: NativeCredentials,
    ) -> BoxFuture<'_, Result<ApiReply, ClientFailure>> {
        let _ = credentials;
        Box::pin(async { Err(ClientFailure::unsupported("native API calls")) })
    }

    /// Walks every page of the API resource and returns the records, authenticated with
    /// the session's OAuth tokens or the native credentials of [`ClientSettings::native`].
    ///
    /// The default fails with `unsupported`.
    fn list_all(
        &self,
        auth: AuthChoice,
    ) -> BoxFuture<'_, Result<Vec<serde_json::Value>, ClientFailure>> {
        let _ = auth;
        Box::pin(async { Err(ClientFailure::unsupported("list walks")) })
    }
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
