//! Client configuration and session identifiers.

use std::time::Duration;

pub use oauth2::ClientSecret;

/// Default cap on one wait after a 429.
pub const DEFAULT_MAX_RETRY_WAIT: Duration = Duration::from_secs(30);
/// Default number of API attempts (first try included) when rate limited.
pub const DEFAULT_MAX_ATTEMPTS: u32 = 3;
/// Default request timeout.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// What a team registers with a provider, plus where the provider lives.
///
/// ```
/// use handshake_client::{ClientConfig, ClientSecret};
///
/// let config = ClientConfig::new(
///     "https://api.capsulecrm.com",
///     "my-client-id",
///     ClientSecret::new("my-secret".into()),
///     "https://app.example.com/callback",
/// );
/// // The secret never shows in Debug output.
/// assert!(!format!("{config:?}").contains("my-secret"));
/// ```
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// The provider's base URL; endpoint URLs are this plus the profile's paths.
    pub base_url: String,
    /// The registered client identifier.
    pub client_id: String,
    /// The registered client secret (redacted in `Debug`).
    pub client_secret: ClientSecret,
    /// The registered redirect URI, sent verbatim (RFC 9700 §4.1.3: exact match).
    pub redirect_uri: String,
    /// Scopes to request; `None` asks for the profile's default scopes.
    pub scopes: Option<Vec<String>>,
}

impl ClientConfig {
    /// A configuration asking for the profile's default scopes.
    pub fn new(
        base_url: impl Into<String>,
        client_id: impl Into<String>,
        client_secret: ClientSecret,
        redirect_uri: impl Into<String>,
    ) -> Self {
        ClientConfig {
            base_url: base_url.into(),
            client_id: client_id.into(),
            client_secret,
            redirect_uri: redirect_uri.into(),
            scopes: None,
        }
    }

    /// Asks for these scopes instead of the profile's defaults.
    pub fn with_scopes<I, S>(mut self, scopes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.scopes = Some(scopes.into_iter().map(Into::into).collect());
        self
    }
}

handshake_profile::secret_type! {
    /// The application's identifier for one user session (typically a session-cookie key).
    ///
    /// Pending authorizations and tokens are bound to it. It is a credential in most web apps,
    /// so `Debug` prints `SessionId([redacted])`. It is compared and hashed (stores look
    /// sessions up by it).
    ///
    /// ```
    /// let id = handshake_client::SessionId::new("cookie-123");
    /// assert_eq!(format!("{id:?}"), "SessionId([redacted])");
    /// assert_eq!(id.as_str(), "cookie-123");
    /// ```
    #[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
    pub struct SessionId(String);
}

impl SessionId {
    /// The key, for storage lookups (the same as [`SessionId::secret`]).
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl From<&str> for SessionId {
    fn from(s: &str) -> Self {
        SessionId::new(s)
    }
}

impl From<String> for SessionId {
    fn from(s: String) -> Self {
        SessionId(s)
    }
}
