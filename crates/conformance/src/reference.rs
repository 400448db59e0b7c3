//! [`ReferenceClient`]: the adapter that lets the runner drive `handshake-client`.

use std::time::Duration;

use futures::future::BoxFuture;
use handshake_client::{ClientConfig, ClientError, ClientSecret, OAuthClient, SessionId};
use handshake_profile::Profile;

use crate::cut::{ApiReply, ClientFactory, ClientFailure, ClientSettings, ClientUnderTest};

/// Longest wait the reference client honours after a 429 during a run. Providers' real
/// `Retry-After` values are seconds; the matrix must stay fast, and the journal still shows
/// whether the client waited and retried instead of hammering.
const MAX_RETRY_WAIT: Duration = Duration::from_millis(50);

/// Makes [`handshake_client::OAuthClient`]s, one session each.
#[derive(Debug, Clone, Copy, Default)]
pub struct ReferenceClient;

impl ClientFactory for ReferenceClient {
    fn name(&self) -> &str {
        "reference"
    }

    fn create(
        &self,
        profile: &Profile,
        settings: &ClientSettings,
    ) -> Result<Box<dyn ClientUnderTest>, ClientFailure> {
        Ok(Box::new(ReferenceSession::new(profile, settings)?))
    }
}

/// One user session of the reference client.
pub struct ReferenceSession {
    client: OAuthClient,
    session: SessionId,
    api_path: String,
}

impl std::fmt::Debug for ReferenceSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReferenceSession")
            .field("client", &self.client)
            .finish_non_exhaustive()
    }
}

impl ReferenceSession {
    /// A reference client configured as the runner says, with one session.
    pub fn new(profile: &Profile, settings: &ClientSettings) -> Result<Self, ClientFailure> {
        let config = ClientConfig::new(
            settings.base_url.clone(),
            settings.client_id.clone(),
            ClientSecret::new(settings.client_secret.expose().to_owned()),
            settings.redirect_uri.clone(),
        )
        .with_scopes(settings.scopes.clone());
        let mut client = OAuthClient::new(profile, config)
            .map_err(|e| failure(&e))?
            .with_max_retry_wait(MAX_RETRY_WAIT);
        if let Some(t) = settings.timeout {
            client = client.with_timeout(t);
        }
        Ok(ReferenceSession {
            client,
            session: SessionId::new("conformance-session"),
            api_path: profile.api.path.clone(),
        })
    }

    /// The wrapped client, for adapters that change one behaviour.
    pub fn client(&self) -> &OAuthClient {
        &self.client
    }

    /// The session the adapter uses.
    pub fn session(&self) -> &SessionId {
        &self.session
    }
}

impl ClientUnderTest for ReferenceSession {
    fn authorize(&self) -> BoxFuture<'_, Result<String, ClientFailure>> {
        Box::pin(async move { Ok(self.client.authorize(&self.session).url.to_string()) })
    }

    fn callback(&self, url: String) -> BoxFuture<'_, Result<(), ClientFailure>> {
        Box::pin(async move {
            self.client
                .handle_callback(&self.session, &url)
                .await
                .map(|_| ())
                .map_err(|e| failure(&e))
        })
    }

    fn api_get(&self) -> BoxFuture<'_, Result<ApiReply, ClientFailure>> {
        Box::pin(async move {
            self.client
                .api_get(&self.session, &self.api_path)
                .await
                .map(|r| ApiReply::new(r.status))
                .map_err(|e| failure(&e))
        })
    }

    fn refresh(&self) -> BoxFuture<'_, Result<(), ClientFailure>> {
        Box::pin(async move {
            self.client
                .refresh(&self.session)
                .await
                .map(|_| ())
                .map_err(|e| failure(&e))
        })
    }

    fn logout(&self) -> BoxFuture<'_, Result<(), ClientFailure>> {
        Box::pin(async move {
            self.client
                .logout(&self.session)
                .await
                .map(|_| ())
                .map_err(|e| failure(&e))
        })
    }
}

/// Maps the client's typed error to an outcome name scenarios can expect.
pub fn failure(e: &ClientError) -> ClientFailure {
    let outcome = match e {
        ClientError::StateMissing => "missing_state".to_owned(),
        ClientError::StateMismatch => "state_mismatch".to_owned(),
        ClientError::StateReplayed => "replayed_state".to_owned(),
        ClientError::StateUnknown => "unknown_state".to_owned(),
        ClientError::StateExpired => "state_expired".to_owned(),
        ClientError::AuthorizationDenied { error, .. } => error.clone(),
        ClientError::TokenEndpoint { error, status, .. } => {
            if error == "unparseable_error_body" {
                format!("http_{status}")
            } else {
                error.clone()
            }
        }
        ClientError::ReauthorizationRequired => "reauthorization_required".to_owned(),
        ClientError::NotConnected => "not_connected".to_owned(),
        ClientError::RateLimited { .. } => "rate_limited".to_owned(),
        ClientError::Http(err) if is_timeout(err) => "timeout".to_owned(),
        ClientError::Http(_) => "http_error".to_owned(),
        ClientError::MissingCode => "missing_code".to_owned(),
        ClientError::MalformedCallback(_) => "malformed_callback".to_owned(),
        ClientError::InvalidTokenResponse { .. } => "invalid_token_response".to_owned(),
        _ => "client_error".to_owned(),
    };
    ClientFailure::new(outcome, e.to_string())
}

fn is_timeout(e: &reqwest::Error) -> bool {
    if e.is_timeout() {
        return true;
    }
    // oauth2 wraps reqwest errors; look down the chain too.
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        if let Some(r) = s.downcast_ref::<reqwest::Error>() {
            if r.is_timeout() {
                return true;
            }
        }
        source = s.source();
    }
    false
}
