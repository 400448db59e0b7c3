//! [`ReferenceClient`]: the adapter that lets the runner drive `handshake-client`.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::future::BoxFuture;
use handshake_client::{
    ApiErrorDetail, ClientConfig, ClientError, ClientSecret, ListOptions, NativeClient,
    NativeCredentials, OAuthClient, SessionId, TokenStore,
};
use handshake_profile::Profile;

use crate::cut::{
    ApiReply, ClientFactory, ClientFailure, ClientSettings, ClientUnderTest, CrmError,
};
use crate::scenario::AuthChoice;

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
    profile: Profile,
    settings: ClientSettings,
    /// Native clients by credential set, so state such as Redtail's `user_key` lives as
    /// long as the session, as it would in an app.
    natives: Mutex<Vec<(String, Arc<NativeClient>)>>,
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
        Self::build(profile, settings, None)
    }

    /// The same, keeping its tokens in `store` (for adapters that read or change what the
    /// client stored, as the deliberately broken clients of [`crate::broken`] do).
    pub fn with_store(
        profile: &Profile,
        settings: &ClientSettings,
        store: Arc<dyn TokenStore>,
    ) -> Result<Self, ClientFailure> {
        Self::build(profile, settings, Some(store))
    }

    fn build(
        profile: &Profile,
        settings: &ClientSettings,
        store: Option<Arc<dyn TokenStore>>,
    ) -> Result<Self, ClientFailure> {
        let config = ClientConfig::new(
            settings.base_url.clone(),
            settings.client_id.clone(),
            ClientSecret::new(settings.client_secret.expose().to_owned()),
            settings.redirect_uri.clone(),
        )
        .with_scopes(settings.scopes.clone());
        let mut client = OAuthClient::new(profile, config)
            .map_err(|e| failure(&e))?
            .with_max_retry_wait(MAX_RETRY_WAIT)
            .with_list_options(list_options(settings));
        if let Some(t) = settings.timeout {
            client = client.with_timeout(t);
        }
        if let Some(store) = store {
            client = client.with_store(store);
        }
        Ok(ReferenceSession {
            client,
            session: SessionId::new("conformance-session"),
            api_path: profile.api.path.clone(),
            profile: profile.clone(),
            settings: settings.clone(),
            natives: Mutex::new(Vec::new()),
        })
    }

    /// The native client for these credentials, made on first use and kept.
    pub fn native_client(
        &self,
        credentials: &NativeCredentials,
    ) -> Result<Arc<NativeClient>, ClientFailure> {
        let key = fingerprint(credentials);
        let mut natives = self.natives.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((_, c)) = natives.iter().find(|(k, _)| *k == key) {
            return Ok(Arc::clone(c));
        }
        let mut client = NativeClient::new(
            &self.profile,
            self.settings.base_url.clone(),
            credentials.clone(),
        )
        .map_err(|e| failure(&e))?
        .with_max_retry_wait(MAX_RETRY_WAIT)
        .with_list_options(list_options(&self.settings));
        if let Some(t) = self.settings.timeout {
            client = client.with_timeout(t);
        }
        let client = Arc::new(client);
        natives.push((key, Arc::clone(&client)));
        Ok(client)
    }

    /// The valid native credentials the runner handed out.
    pub fn native_credentials(&self) -> Result<&NativeCredentials, ClientFailure> {
        self.settings.native.as_ref().ok_or_else(|| {
            ClientFailure::new(
                "invalid_configuration",
                "the runner gave no native credentials (the provider has no native scheme)",
            )
        })
    }

    /// The API resource's path.
    pub fn api_path(&self) -> &str {
        &self.api_path
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

    fn native_get(
        &self,
        credentials: NativeCredentials,
    ) -> BoxFuture<'_, Result<ApiReply, ClientFailure>> {
        Box::pin(async move {
            let client = self.native_client(&credentials)?;
            client
                .get(&self.api_path)
                .await
                .map(|r| ApiReply::new(r.status))
                .map_err(|e| failure(&e))
        })
    }

    fn list_all(
        &self,
        auth: AuthChoice,
    ) -> BoxFuture<'_, Result<Vec<serde_json::Value>, ClientFailure>> {
        Box::pin(async move {
            let result = match auth {
                AuthChoice::Oauth => self.client.list_all(&self.session, &self.api_path).await,
                AuthChoice::Native => {
                    let client = self.native_client(self.native_credentials()?)?;
                    client.list_all(&self.api_path).await
                }
            };
            result.map_err(|e| failure(&e))
        })
    }
}

/// Tells credential sets apart without keeping a secret in clear: a SHA-256 of every field.
fn fingerprint(c: &NativeCredentials) -> String {
    use sha2::Digest as _;
    // Debug redacts secrets, so hash the fields themselves.
    let mut h = sha2::Sha256::new();
    h.update(c.scheme().as_str());
    for (name, value) in c.fields() {
        for part in [name, value] {
            h.update(part);
            h.update([0]);
        }
    }
    format!("{:x}", h.finalize())
}

fn list_options(settings: &ClientSettings) -> ListOptions {
    match settings.page_size {
        Some(n) => ListOptions::default().page_size(n),
        None => ListOptions::default(),
    }
}

fn crm(detail: &ApiErrorDetail) -> CrmError {
    CrmError::new(detail.code.clone(), detail.message.clone())
}

/// Maps the client's typed error to an outcome name scenarios can expect.
pub fn failure(e: &ClientError) -> ClientFailure {
    let outcome = match e {
        ClientError::StateMissing => "missing_state".to_owned(),
        ClientError::StateMismatch => "state_mismatch".to_owned(),
        ClientError::StateReplayed => "replayed_state".to_owned(),
        ClientError::StateUnknown => "unknown_state".to_owned(),
        ClientError::StateExpired => "state_expired".to_owned(),
        ClientError::IssuerMissing => "iss_missing".to_owned(),
        ClientError::IssuerMismatch { .. } => "iss_mismatch".to_owned(),
        // Logged out locally, but the provider did not confirm revocation (RFC 7009 §2.2);
        // the message says the status, e.g. "... answered HTTP 404".
        ClientError::RevocationFailed { .. } => "revocation_failed".to_owned(),
        ClientError::AuthorizationDenied { error, .. } => error.to_string(),
        ClientError::TokenEndpoint { error, status, .. } => {
            if *error == ClientError::UNPARSEABLE_ERROR_BODY {
                format!("http_{status}")
            } else {
                error.to_string()
            }
        }
        ClientError::ReauthorizationRequired => "reauthorization_required".to_owned(),
        ClientError::NotConnected => "not_connected".to_owned(),
        ClientError::RateLimited { message, .. } => {
            return ClientFailure::new("rate_limited", e.to_string())
                .with_crm(CrmError::new(None, message.clone()))
        }
        ClientError::ApiUnauthorized { detail } => {
            return ClientFailure::new("api_unauthorized", e.to_string()).with_crm(crm(detail))
        }
        ClientError::ApiForbidden { detail } => {
            return ClientFailure::new("api_forbidden", e.to_string()).with_crm(crm(detail))
        }
        ClientError::ApiStatus { status, detail } => {
            return ClientFailure::new(format!("http_{status}"), e.to_string())
                .with_crm(crm(detail))
        }
        ClientError::Paging { .. } => "paging_loop".to_owned(),
        ClientError::UnexpectedApiResponse { .. } => "unexpected_api_response".to_owned(),
        ClientError::Config(_) => "invalid_configuration".to_owned(),
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

#[cfg(test)]
mod tests {
    use handshake_mock::{Endpoint, MockProvider};

    use super::*;
    use crate::target::Secret;

    async fn connected(mock: &MockProvider) -> ReferenceSession {
        let registered = mock.client();
        let settings = ClientSettings {
            base_url: mock.uri(),
            client_id: registered.client_id.clone(),
            client_secret: Secret::new(registered.client_secret.secret()),
            redirect_uri: registered.redirect_uris[0].clone(),
            scopes: mock.profile().scopes.default.clone(),
            timeout: None,
            page_size: None,
            native: None,
        };
        let session = ReferenceSession::new(mock.profile(), &settings).unwrap();
        let url = session.authorize().await.unwrap();
        let browser = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        let resp = browser.get(url).send().await.unwrap();
        let callback = resp.headers()["location"].to_str().unwrap().to_owned();
        session.callback(callback).await.unwrap();
        session
    }

    #[tokio::test]
    async fn a_refused_revocation_is_the_revocation_failed_outcome() {
        let mock = MockProvider::builder(Profile::builtin("capsule").unwrap())
            .auto_approve(true)
            .start()
            .await
            .unwrap();
        let session = connected(&mock).await;
        // Both revocations (refresh token, then access token) answered 404.
        mock.fail_next(Endpoint::Revoke)
            .with_status(404)
            .times(2)
            .mount();
        let failure = session.logout().await.unwrap_err();
        assert_eq!(failure.outcome, "revocation_failed", "{failure}");
        assert!(failure.message.contains("HTTP 404"), "{failure}");
        // Logged out locally all the same.
        assert_eq!(
            session.api_get().await.unwrap_err().outcome,
            "not_connected"
        );

        // A confirmed revocation is a plain success.
        let session = connected(&mock).await;
        session.logout().await.unwrap();
    }

    #[tokio::test]
    async fn a_callback_without_the_expected_iss_is_an_iss_outcome() {
        let mock = MockProvider::builder(Profile::builtin("redtail").unwrap())
            .iss_parameter(true)
            .auto_approve(true)
            .start()
            .await
            .unwrap();
        let registered = mock.client();
        let settings = ClientSettings {
            base_url: mock.uri(),
            client_id: registered.client_id.clone(),
            client_secret: Secret::new(registered.client_secret.secret()),
            redirect_uri: registered.redirect_uris[0].clone(),
            scopes: Vec::new(),
            timeout: None,
            page_size: None,
            native: None,
        };
        let session = ReferenceSession::new(mock.profile(), &settings).unwrap();
        let url = url::Url::parse(&session.authorize().await.unwrap()).unwrap();
        let state = url
            .query_pairs()
            .find(|(k, _)| k == "state")
            .unwrap()
            .1
            .into_owned();
        let cb = format!("{}?code=c&state={state}", registered.redirect_uris[0]);
        assert_eq!(
            session.callback(cb.clone()).await.unwrap_err().outcome,
            "iss_missing"
        );
        let url = url::Url::parse(&session.authorize().await.unwrap()).unwrap();
        let state = url
            .query_pairs()
            .find(|(k, _)| k == "state")
            .unwrap()
            .1
            .into_owned();
        let cb = format!(
            "{}?code=c&state={state}&iss=https%3A%2F%2Fother.example",
            registered.redirect_uris[0]
        );
        assert_eq!(
            session.callback(cb).await.unwrap_err().outcome,
            "iss_mismatch"
        );
    }
}
