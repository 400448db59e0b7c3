//! [`OAuthClient`]: the authorization-code flow for one provider profile.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use base64::Engine as _;
use handshake_profile::{ClientAuth, OAuthError, PkceMethod, Profile, REDACTED};
use oauth2::basic::{
    BasicErrorResponse, BasicRevocationErrorResponse, BasicTokenIntrospectionResponse,
};
use oauth2::{
    AccessToken, AuthType, AuthUrl, ClientId, CsrfToken, EndpointNotSet, EndpointSet,
    PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, RequestTokenError, StandardRevocableToken,
    TokenUrl,
};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use url::Url;

use crate::api::{api_url, retry_wait, ApiAuth, ApiResponse, Outgoing, Requester};
use crate::callback::Callback;
use crate::config::{
    ClientConfig, SessionId, DEFAULT_MAX_ATTEMPTS, DEFAULT_MAX_RETRY_WAIT, DEFAULT_TIMEOUT,
};
use crate::error::ClientError;
use crate::logout::{LogoutReport, Revocation};
use crate::paging::{ListOptions, PageSource, Pages, Sending, Walker};
use crate::store::{Connection, ConnectionStatus, MemoryStore, TokenStore};
use crate::token::{field_names, ProviderTokenResponse, TokenSet};
use crate::transport::{
    default_http_client, redirected, AuthenticatedPost, TokenTransport, TransportError,
};

type OAuth2Client = oauth2::Client<
    BasicErrorResponse,
    ProviderTokenResponse,
    BasicTokenIntrospectionResponse,
    StandardRevocableToken,
    BasicRevocationErrorResponse,
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointSet,
>;

/// Default lifetime of a pending authorization.
pub const DEFAULT_AUTHORIZATION_TTL: Duration = Duration::from_secs(600);
/// Default margin before expiry at which access tokens are refreshed proactively.
pub const DEFAULT_REFRESH_SKEW: Duration = Duration::from_secs(60);
// 32 random bytes give a 43-character verifier, 256 bits of entropy (RFC 7636 §7.1).
const PKCE_VERIFIER_BYTES: u32 = 32;
// Consumed states remembered per session, to tell a replay from a stranger's state.
const CONSUMED_REMEMBERED: usize = 16;

/// An authorization request to send the user's browser to.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct AuthorizationRequest {
    /// The provider's authorization URL with every parameter set.
    pub url: Url,
    /// The `state` bound to the session; the callback must echo it.
    pub state: String,
    /// The PKCE method used, if the provider supports PKCE.
    pub pkce_method: Option<PkceMethod>,
}

pub(crate) struct Pending {
    state: CsrfToken,
    verifier: Option<PkceCodeVerifier>,
    issued: Instant,
}

struct PendingSlot {
    pending: Option<Pending>,
    consumed: Vec<[u8; 32]>,
    // Last authorize or callback: slots idle for longer than the authorization TTL hold
    // nothing redeemable and are purged, so sessions that never come back cost no memory.
    touched: Instant,
}

impl PendingSlot {
    fn new() -> Self {
        PendingSlot {
            pending: None,
            consumed: Vec::new(),
            touched: Instant::now(),
        }
    }
}

/// The reference OAuth 2.0 client for one provider profile.
///
/// ```no_run
/// # async fn demo() -> Result<(), handshake_client::ClientError> {
/// use handshake_client::{ClientConfig, ClientSecret, OAuthClient, SessionId};
/// use handshake_profile::Profile;
///
/// let profile = Profile::builtin("capsule").unwrap();
/// let config = ClientConfig::new(
///     "https://api.capsulecrm.com",
///     "client-id",
///     ClientSecret::new("client-secret".into()),
///     "https://app.example.com/callback",
/// );
/// let client = OAuthClient::new(&profile, config)?;
/// let session = SessionId::new("cookie-session-key");
///
/// let request = client.authorize(&session);
/// // ... redirect the browser to request.url; the provider redirects back ...
/// let tokens = client.handle_callback(&session, "https://app.example.com/callback?code=..&state=..").await?;
/// let parties = client.api_get(&session, "/api/v2/parties").await?;
/// client.logout(&session).await?;
/// # Ok(()) }
/// ```
///
/// # Security
/// The default HTTP client never follows redirects and has timeouts. If you inject your
/// own with [`with_http_client`](Self::with_http_client), build it with
/// `redirect(reqwest::redirect::Policy::none())`: a redirecting token endpoint would
/// otherwise receive credentials again at a URL it chose. Whatever the client, an answer
/// that came from another URL than the token or revocation endpoint is refused.
pub struct OAuthClient {
    profile: Profile,
    config: ClientConfig,
    oauth: OAuth2Client,
    base: Url,
    revoke_url: Option<String>,
    http: reqwest::Client,
    store: Arc<dyn TokenStore>,
    timeout: Duration,
    authorization_ttl: Duration,
    refresh_skew: Duration,
    max_retry_wait: Duration,
    max_attempts: u32,
    list_options: ListOptions,
    pending: Mutex<HashMap<SessionId, PendingSlot>>,
    refresh_locks: Mutex<HashMap<SessionId, Arc<tokio::sync::Mutex<()>>>>,
}

impl std::fmt::Debug for OAuthClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OAuthClient")
            .field("profile", &self.profile.id)
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl OAuthClient {
    /// A client for `profile` with an in-memory store and the default HTTP client.
    pub fn new(profile: &Profile, config: ClientConfig) -> Result<OAuthClient, ClientError> {
        let base = Url::parse(&config.base_url)
            .map_err(|e| ClientError::Config(format!("base_url: {e}")))?;
        if !matches!(base.scheme(), "http" | "https") {
            return Err(ClientError::Config("base_url must be http or https".into()));
        }
        let root = config.base_url.trim_end_matches('/');
        let endpoint = |path: &str| format!("{root}{path}");
        let auth_url = AuthUrl::new(endpoint(&profile.oauth.authorize_path))
            .map_err(|e| ClientError::Config(format!("authorize URL: {e}")))?;
        let token_url = TokenUrl::new(endpoint(&profile.oauth.token_path))
            .map_err(|e| ClientError::Config(format!("token URL: {e}")))?;
        let redirect = RedirectUrl::new(config.redirect_uri.clone())
            .map_err(|e| ClientError::Config(format!("redirect_uri: {e}")))?;
        let auth_type = match profile.token_request.preferred_client_auth() {
            ClientAuth::ClientSecretBasic => AuthType::BasicAuth,
            ClientAuth::ClientSecretPost => AuthType::RequestBody,
        };
        let oauth = oauth2::Client::new(ClientId::new(config.client_id.clone()))
            .set_client_secret(config.client_secret.clone())
            .set_auth_uri(auth_url)
            .set_token_uri(token_url)
            .set_redirect_uri(redirect)
            .set_auth_type(auth_type);
        let http = default_http_client(DEFAULT_TIMEOUT)?;
        Ok(OAuthClient {
            revoke_url: profile.oauth.revoke_path().map(endpoint),
            profile: profile.clone(),
            config,
            oauth,
            base,
            http,
            store: Arc::new(MemoryStore::new()),
            timeout: DEFAULT_TIMEOUT,
            authorization_ttl: DEFAULT_AUTHORIZATION_TTL,
            refresh_skew: DEFAULT_REFRESH_SKEW,
            max_retry_wait: DEFAULT_MAX_RETRY_WAIT,
            max_attempts: DEFAULT_MAX_ATTEMPTS,
            list_options: ListOptions::default(),
            pending: Mutex::new(HashMap::new()),
            refresh_locks: Mutex::new(HashMap::new()),
        })
    }

    /// Uses this HTTP client (custom roots for HTTPS mocks, proxies...). See the security
    /// note on [`OAuthClient`]: it should not follow redirects.
    pub fn with_http_client(mut self, http: reqwest::Client) -> Self {
        self.http = http;
        self
    }

    /// Keeps tokens in this store instead of memory.
    pub fn with_store(mut self, store: Arc<dyn TokenStore>) -> Self {
        self.store = store;
        self
    }

    /// Per-request timeout (applied to every request, injected HTTP clients included).
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        // Set per request, so it also holds for an injected client and in either call order.
        self.timeout = timeout;
        self
    }

    /// How long a pending authorization stays redeemable (default 10 minutes).
    pub fn with_authorization_ttl(mut self, ttl: Duration) -> Self {
        self.authorization_ttl = ttl;
        self
    }

    /// Refresh access tokens this long before they expire (default 60 s).
    pub fn with_refresh_skew(mut self, skew: Duration) -> Self {
        self.refresh_skew = skew;
        self
    }

    /// Longest single wait after a 429 (default 30 s). Waits the provider asks for are cut
    /// to this.
    pub fn with_max_retry_wait(mut self, cap: Duration) -> Self {
        self.max_retry_wait = cap;
        self
    }

    /// API attempts when rate limited, the first included (default 3, minimum 1).
    pub fn with_max_attempts(mut self, attempts: u32) -> Self {
        self.max_attempts = attempts.max(1);
        self
    }

    /// The profile this client follows.
    pub fn profile(&self) -> &Profile {
        &self.profile
    }

    /// Starts an authorization for `session`: a fresh `state` (256 bits from the OS-seeded
    /// CSPRNG) and, when the provider supports PKCE, a verifier with an S256 challenge
    /// (`plain` only when that is all the provider offers). A previous pending
    /// authorization of the session is replaced.
    pub fn authorize(&self, session: &SessionId) -> AuthorizationRequest {
        let scopes = self
            .config
            .scopes
            .clone()
            .unwrap_or_else(|| self.profile.scopes.default.clone());
        let mut req = self.oauth.authorize_url(|| CsrfToken::new_random_len(32));
        // Pipedrive: scopes are fixed when the app is registered; the request names none.
        if !scopes.is_empty() && self.profile.scopes.requestable {
            // Joined here rather than with oauth2's add_scope, which always uses a space.
            req = req.add_extra_param("scope", self.profile.scopes.join(&scopes));
        }
        // What a refresh token needs (Zoho `access_type=offline`, and `prompt=consent` for a
        // new one when the user already has one): this client always wants one.
        let tokens = &self.profile.tokens;
        if tokens.refresh_tokens {
            for (k, v) in tokens
                .refresh_token_requires
                .iter()
                .chain(&tokens.refresh_token_reissue_requires)
            {
                req = req.add_extra_param(k.as_str(), v.as_str());
            }
        }
        let method = self.profile.pkce.best_method();
        let mut verifier = None;
        if let Some(m) = method {
            let (challenge, v) = new_pkce(m, PKCE_VERIFIER_BYTES);
            req = req.set_pkce_challenge(challenge);
            verifier = Some(v);
        }
        let (url, state) = req.url();
        tracing::info!(provider = %self.profile.id, pkce = ?method.map(PkceMethod::as_str), "authorization request issued");
        let request = AuthorizationRequest {
            url,
            state: state.secret().clone(),
            pkce_method: method,
        };
        let mut map = lock(&self.pending);
        let ttl = self.authorization_ttl;
        map.retain(|_, slot| slot.touched.elapsed() <= ttl);
        let slot = map.entry(session.clone()).or_insert_with(PendingSlot::new);
        slot.touched = Instant::now();
        slot.pending = Some(Pending {
            state,
            verifier,
            issued: slot.touched,
        });
        request
    }

    /// Validates the provider's redirect back to `redirect_uri` and exchanges the code.
    ///
    /// `state` is checked first, in constant time, before any network call: missing,
    /// mismatched, replayed, unknown or expired states are rejected. Any callback carrying
    /// a `state` consumes the pending authorization, so a code is never exchanged twice.
    /// `error=` callbacks become [`ClientError::AuthorizationDenied`].
    pub async fn handle_callback(
        &self,
        session: &SessionId,
        callback_url: &str,
    ) -> Result<TokenSet, ClientError> {
        let cb = Callback::parse(callback_url)?;
        let pending = self.take_pending(session, cb.state.as_deref())?;
        self.check_issuer(cb.iss.as_deref())?;
        if let Some(error) = cb.error {
            tracing::warn!(provider = %self.profile.id, %error, "authorization denied");
            return Err(ClientError::AuthorizationDenied {
                error,
                description: cb.error_description,
            });
        }
        let code = cb.code.ok_or(ClientError::MissingCode)?;
        let transport = self.transport();
        let mut req = self.oauth.exchange_code(code);
        if let Some(verifier) = pending.verifier {
            req = req.set_pkce_verifier(verifier);
        }
        tracing::info!(provider = %self.profile.id, "exchanging authorization code");
        let resp = req
            .request_async(&transport)
            .await
            .map_err(|e| token_error(e, transport.last_status()))?;
        let tokens = TokenSet::from_response(resp, None, SystemTime::now());
        self.store_tokens(session, &tokens)?;
        tracing::info!(provider = %self.profile.id, refresh_token = tokens.refresh_token.is_some(), "connected");
        Ok(tokens)
    }

    /// RFC 9207 §2.4: an `iss` that arrives must be the expected issuer, whatever the profile
    /// says; one that is missing is refused when the provider always sends it. Checked after
    /// `state` (so the pending authorization is consumed) and before the error or code is
    /// looked at: a response from the wrong server is neither exchanged nor believed.
    fn check_issuer(&self, iss: Option<&str>) -> Result<(), ClientError> {
        let expected = self.profile.oauth.issuer_for(&self.config.base_url);
        match iss {
            Some(received) if received == expected => Ok(()),
            Some(received) => {
                tracing::warn!(provider = %self.profile.id, "callback iss is not the expected issuer");
                Err(ClientError::IssuerMismatch {
                    expected,
                    received: received.chars().take(200).collect(),
                })
            }
            None if self.profile.oauth.iss_parameter => {
                tracing::warn!(provider = %self.profile.id, "callback has no iss");
                Err(ClientError::IssuerMissing)
            }
            None => Ok(()),
        }
    }

    pub(crate) fn take_pending(
        &self,
        session: &SessionId,
        state: Option<&str>,
    ) -> Result<Pending, ClientError> {
        let state = state.ok_or(ClientError::StateMissing)?;
        let digest: [u8; 32] = Sha256::digest(state.as_bytes()).into();
        let mut map = lock(&self.pending);
        let slot = map.get_mut(session).ok_or(ClientError::StateUnknown)?;
        if slot.consumed.iter().any(|d| bool::from(d.ct_eq(&digest))) {
            return Err(ClientError::StateReplayed);
        }
        let pending = slot.pending.take().ok_or(ClientError::StateUnknown)?;
        slot.touched = Instant::now();
        slot.consumed.push(digest);
        if slot.consumed.len() > CONSUMED_REMEMBERED {
            slot.consumed.remove(0);
        }
        let expected = pending.state.secret().as_bytes();
        if !bool::from(expected.ct_eq(state.as_bytes())) {
            tracing::warn!(provider = %self.profile.id, "callback state mismatch");
            return Err(ClientError::StateMismatch);
        }
        if pending.issued.elapsed() > self.authorization_ttl {
            return Err(ClientError::StateExpired);
        }
        Ok(pending)
    }

    /// Sessions with a pending authorization or replay memory (for tests of the purge).
    #[cfg(test)]
    pub(crate) fn pending_sessions(&self) -> usize {
        lock(&self.pending).len()
    }

    fn transport(&self) -> TokenTransport {
        TokenTransport::new(
            self.http.clone(),
            self.profile.token_request.preferred_encoding(),
            self.timeout,
        )
    }

    /// The session's stored connection, if any.
    pub fn connection(&self, session: &SessionId) -> Result<Option<Connection>, ClientError> {
        Ok(self.store.get(session)?)
    }

    fn active_tokens(&self, session: &SessionId) -> Result<TokenSet, ClientError> {
        let conn = self.store.get(session)?.ok_or(ClientError::NotConnected)?;
        if conn.status == ConnectionStatus::ReauthorizationRequired {
            return Err(ClientError::ReauthorizationRequired);
        }
        conn.tokens.ok_or(ClientError::NotConnected)
    }

    /// Tokens good for at least the refresh skew, refreshing first if needed.
    pub async fn tokens(&self, session: &SessionId) -> Result<TokenSet, ClientError> {
        let tokens = self.active_tokens(session)?;
        let now = SystemTime::now();
        if !tokens.expires_within(self.refresh_skew, now) {
            return Ok(tokens);
        }
        if tokens.refresh_token.is_none() && !tokens.expires_within(Duration::ZERO, now) {
            // Nothing to refresh with yet; use the token while it lasts.
            return Ok(tokens);
        }
        tracing::debug!(provider = %self.profile.id, "access token near expiry; refreshing");
        self.refresh_replacing(session, &tokens.access_token).await
    }

    /// Refreshes now (RFC 6749 §6), whatever the expiry says.
    pub async fn refresh(&self, session: &SessionId) -> Result<TokenSet, ClientError> {
        let tokens = self.active_tokens(session)?;
        self.refresh_replacing(session, &tokens.access_token).await
    }

    /// Single-flight refresh: concurrent callers queue on one per-session lock; whoever
    /// gets it second finds `stale` already replaced and uses the new tokens.
    async fn refresh_replacing(
        &self,
        session: &SessionId,
        stale: &AccessToken,
    ) -> Result<TokenSet, ClientError> {
        let gate = lock(&self.refresh_locks)
            .entry(session.clone())
            .or_default()
            .clone();
        let _guard = gate.lock().await;
        let current = self.active_tokens(session)?;
        if current.access_token.secret() != stale.secret() {
            return Ok(current);
        }
        let Some(refresh_token) = current.refresh_token.clone() else {
            self.mark_reauthorization_required(session)?;
            return Err(ClientError::ReauthorizationRequired);
        };
        let transport = self.transport();
        tracing::info!(provider = %self.profile.id, "refreshing access token");
        let result = self
            .oauth
            .exchange_refresh_token(&refresh_token)
            .request_async(&transport)
            .await
            .map_err(|e| token_error(e, transport.last_status()));
        match result {
            Ok(resp) => {
                let tokens = TokenSet::from_response(resp, Some(&refresh_token), SystemTime::now());
                // Stored before the lock is released: nobody can use the old refresh token.
                self.store_tokens(session, &tokens)?;
                Ok(tokens)
            }
            Err(ClientError::TokenEndpoint {
                error: OAuthError::InvalidGrant,
                ..
            }) => {
                tracing::warn!(provider = %self.profile.id, "refresh token rejected; re-authorization required");
                self.mark_reauthorization_required(session)?;
                Err(ClientError::ReauthorizationRequired)
            }
            Err(e) => Err(e),
        }
    }

    fn store_tokens(&self, session: &SessionId, tokens: &TokenSet) -> Result<(), ClientError> {
        self.store.put(
            session,
            &Connection {
                status: ConnectionStatus::Active,
                tokens: Some(tokens.clone()),
            },
        )?;
        Ok(())
    }

    fn mark_reauthorization_required(&self, session: &SessionId) -> Result<(), ClientError> {
        self.store.put(
            session,
            &Connection {
                status: ConnectionStatus::ReauthorizationRequired,
                tokens: None,
            },
        )?;
        Ok(())
    }

    /// `GET` an API path (joined to the base URL) or an absolute URL on the provider's
    /// origin. See [`api_request`](Self::api_request).
    pub async fn api_get(
        &self,
        session: &SessionId,
        path_or_url: &str,
    ) -> Result<ApiResponse, ClientError> {
        self.api_request(session, reqwest::Method::GET, path_or_url, None)
            .await
    }

    /// Sends an authenticated API request.
    ///
    /// The bearer token goes in the `Authorization` header only (RFC 6750 §2.1), and only to
    /// the provider's origin. A 401 triggers one refresh and exactly one retry. A 429 is
    /// retried after `Retry-After` (seconds or HTTP-date) or `X-RateLimit-Reset` (epoch seconds), each
    /// wait capped by [`with_max_retry_wait`](Self::with_max_retry_wait), up to
    /// [`with_max_attempts`](Self::with_max_attempts) requests; then
    /// [`ClientError::RateLimited`]. Every other status is returned as an [`ApiResponse`]
    /// (see [`ApiResponse::error_for_status`] for a typed error instead).
    pub async fn api_request(
        &self,
        session: &SessionId,
        method: reqwest::Method,
        path_or_url: &str,
        json_body: Option<&serde_json::Value>,
    ) -> Result<ApiResponse, ClientError> {
        let url = api_url(&self.config.base_url, &self.base, path_or_url)?;
        let out = Outgoing {
            method,
            url,
            headers: http::HeaderMap::new(),
            json: json_body,
        };
        self.send(session, &out).await
    }

    /// Every record of a list resource, walking its pages as the profile says (see
    /// [`Pages`]); non-2xx answers become typed errors.
    ///
    /// ```no_run
    /// # async fn demo(client: handshake_client::OAuthClient, session: handshake_client::SessionId)
    /// # -> Result<(), handshake_client::ClientError> {
    /// let parties = client.list_all(&session, "/api/v2/parties").await?;
    /// println!("{} parties", parties.len());
    /// # Ok(()) }
    /// ```
    pub async fn list_all(
        &self,
        session: &SessionId,
        path: &str,
    ) -> Result<Vec<serde_json::Value>, ClientError> {
        self.pages(session, path)?.collect_all().await
    }

    /// A page-by-page walk of a list resource (see [`Pages`]).
    pub fn pages<'a>(
        &'a self,
        session: &'a SessionId,
        path: &str,
    ) -> Result<Pages<'a>, ClientError> {
        let start = api_url(&self.config.base_url, &self.base, path)?;
        Ok(Pages::new(
            OAuthPages {
                client: self,
                session,
            },
            Walker::new(
                &self.profile.api,
                &self.list_options,
                start,
                self.base.clone(),
            ),
        ))
    }

    /// Paging options for [`list_all`](Self::list_all) and [`pages`](Self::pages).
    pub fn with_list_options(mut self, options: ListOptions) -> Self {
        self.list_options = options;
        self
    }

    pub(crate) async fn send(
        &self,
        session: &SessionId,
        out: &Outgoing<'_>,
    ) -> Result<ApiResponse, ClientError> {
        let tokens = self.tokens(session).await?;
        let mut auth = BearerAuth {
            client: self,
            session,
            tokens,
        };
        self.requester().send(&mut auth, out).await
    }

    fn requester(&self) -> Requester<'_> {
        Requester {
            http: &self.http,
            provider: &self.profile.id,
            timeout: self.timeout,
            max_retry_wait: self.max_retry_wait,
            max_attempts: self.max_attempts,
        }
    }

    /// Logs the session out: deletes local tokens first (so they are gone whatever the
    /// provider says), then revokes the refresh token and the access token at the
    /// provider's RFC 7009 endpoint, retrying a 503 once.
    ///
    /// Only a 200 confirms a revocation (RFC 7009 §2.2). When the provider answers anything
    /// else for either token (404, 400 `unsupported_token_type`, 5xx), or cannot be reached,
    /// the result is [`ClientError::RevocationFailed`] with the [`LogoutReport`] inside: the
    /// session is logged out locally all the same, but the tokens may still be valid at the
    /// provider. `Ok` means every revocation attempted was confirmed (or there was nothing
    /// to revoke, or no revocation endpoint).
    ///
    /// Revocation is sent with reqwest rather than `oauth2`'s `revoke_token`, which refuses
    /// non-HTTPS endpoints; local mocks are plain HTTP on loopback. Encoding and client
    /// authentication follow the profile exactly as token requests do.
    pub async fn logout(&self, session: &SessionId) -> Result<LogoutReport, ClientError> {
        lock(&self.pending).remove(session);
        lock(&self.refresh_locks).remove(session);
        let conn = self.store.get(session);
        let deleted = self.store.delete(session);
        let tokens = conn.ok().flatten().and_then(|c| c.tokens);
        let mut report = LogoutReport {
            refresh_token: Revocation::NotAttempted,
            access_token: Revocation::NotAttempted,
        };
        if let (Some(tokens), Some(url)) = (tokens, self.revoke_url.as_deref()) {
            if let Some(rt) = &tokens.refresh_token {
                report.refresh_token = self
                    .revoke(url, rt.secret(), "refresh_token", &tokens)
                    .await;
            }
            report.access_token = self
                .revoke(url, tokens.access_token.secret(), "access_token", &tokens)
                .await;
        }
        tracing::info!(provider = %self.profile.id, refresh = ?report.refresh_token, access = ?report.access_token, "logged out");
        deleted?;
        if report.confirmed() {
            return Ok(report);
        }
        let (status, error) = [&report.refresh_token, &report.access_token]
            .into_iter()
            .find_map(|r| match r {
                Revocation::Failed { status, error } => Some((Some(*status), error.clone())),
                Revocation::TransportError(_) => Some((None, None)),
                _ => None,
            })
            .unwrap_or((None, None));
        tracing::warn!(provider = %self.profile.id, ?status, "the provider did not confirm revocation");
        Err(ClientError::RevocationFailed {
            status,
            error,
            report,
        })
    }

    async fn revoke(&self, url: &str, token: &str, hint: &str, all: &TokenSet) -> Revocation {
        let post = AuthenticatedPost {
            http: &self.http,
            timeout: self.timeout,
            encoding: self.profile.token_request.preferred_encoding(),
            auth: self.profile.token_request.preferred_client_auth(),
            client_id: &self.config.client_id,
            client_secret: self.config.client_secret.secret(),
        };
        let mut retried = false;
        loop {
            let params = vec![("token", token), ("token_type_hint", hint)];
            match post.send(url, params).await {
                Ok(resp) if redirected(&resp, url) => {
                    return Revocation::TransportError(
                        "the revocation endpoint redirected elsewhere; not trusted".into(),
                    )
                }
                Ok(resp) if resp.status().as_u16() == 200 => return Revocation::Revoked,
                // RFC 7009 §2.2.1: 503 means try again later; once is enough for logout.
                Ok(resp) if resp.status().as_u16() == 503 && !retried => {
                    retried = true;
                    let wait = retry_wait(resp.headers(), SystemTime::now())
                        .unwrap_or(Duration::from_secs(1))
                        .min(self.max_retry_wait);
                    tokio::time::sleep(wait).await;
                }
                Ok(resp) => {
                    let status = resp.status().as_u16();
                    return Revocation::Failed {
                        status,
                        error: revocation_error_code(resp, &self.secrets_of(all)).await,
                    };
                }
                Err(e) => return Revocation::TransportError(e.without_url().to_string()),
            }
        }
    }
}

impl OAuthClient {
    /// Every secret a revocation answer could echo: the session's tokens and the client secret.
    fn secrets_of<'a>(&'a self, tokens: &'a TokenSet) -> Vec<&'a str> {
        let mut secrets = vec![
            tokens.access_token.secret().as_str(),
            self.config.client_secret.secret().as_str(),
        ];
        if let Some(rt) = &tokens.refresh_token {
            secrets.push(rt.secret());
        }
        secrets
    }
}

/// Largest revocation error body read, to find its `error` code.
const MAX_REVOCATION_ERROR_BODY: usize = 8 * 1024;

/// The `error` code of a revocation refusal (RFC 7009 §2.2.1, RFC 6749 §5.2), when the body
/// is JSON with one. Only a code-like value is kept (letters, digits, `_`, `-`, `.`, at most
/// 64, containing none of `secrets`), so a body that echoes a token never reaches an error.
async fn revocation_error_code(mut resp: reqwest::Response, secrets: &[&str]) -> Option<String> {
    let mut body = Vec::new();
    while let Ok(Some(chunk)) = resp.chunk().await {
        body.extend_from_slice(&chunk);
        if body.len() > MAX_REVOCATION_ERROR_BODY {
            return None;
        }
    }
    let value: serde_json::Value = serde_json::from_slice(&body).ok()?;
    let code = value.get("error")?.as_str()?;
    let plausible = !code.is_empty()
        && code.len() <= 64
        && code
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
        && !secrets.iter().any(|s| !s.is_empty() && code.contains(s));
    plausible.then(|| code.to_owned())
}

/// Maps `oauth2`'s error to ours, keeping the status and OAuth error code but no body.
fn token_error(
    e: RequestTokenError<TransportError, BasicErrorResponse>,
    status: Option<u16>,
) -> ClientError {
    let status_code = status.unwrap_or(0);
    match e {
        RequestTokenError::ServerResponse(err) => ClientError::TokenEndpoint {
            status: status_code,
            error: OAuthError::from(err.error().as_ref()),
            description: err.error_description().cloned(),
        },
        RequestTokenError::Request(TransportError::Http(e)) => ClientError::Http(e),
        RequestTokenError::Request(other) => ClientError::Config(other.to_string()),
        RequestTokenError::Parse(err, body) if status == Some(200) => {
            ClientError::InvalidTokenResponse {
                reason: format!("{}; {}", err.inner(), field_names(&body)),
            }
        }
        RequestTokenError::Parse(_, body) => ClientError::TokenEndpoint {
            status: status_code,
            error: OAuthError::Other(ClientError::UNPARSEABLE_ERROR_BODY.to_owned()),
            description: Some(field_names(&body)),
        },
        RequestTokenError::Other(reason) if status == Some(200) => {
            ClientError::InvalidTokenResponse { reason }
        }
        RequestTokenError::Other(reason) => ClientError::TokenEndpoint {
            status: status_code,
            error: OAuthError::Other(ClientError::UNPARSEABLE_ERROR_BODY.to_owned()),
            description: Some(reason),
        },
    }
}

/// A PKCE pair: `num_bytes` (32..=96) random bytes give a verifier of 43..=128 characters
/// of the unreserved set (RFC 7636 §4.1).
pub(crate) fn new_pkce(
    method: PkceMethod,
    num_bytes: u32,
) -> (PkceCodeChallenge, PkceCodeVerifier) {
    let bytes: Vec<u8> = (0..num_bytes).map(|_| rand::random::<u8>()).collect();
    let verifier =
        PkceCodeVerifier::new(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes));
    let challenge = match method {
        PkceMethod::S256 => PkceCodeChallenge::from_code_verifier_sha256(&verifier),
        PkceMethod::Plain => PkceCodeChallenge::from_code_verifier_plain(&verifier),
    };
    (challenge, verifier)
}

/// OAuth 2.0 bearer authentication (RFC 6750 §2.1; the auth-scheme is the profile's
/// `api.auth_scheme`) for one session; a 401 is answered with one refresh when there is a
/// refresh token.
struct BearerAuth<'a> {
    client: &'a OAuthClient,
    session: &'a SessionId,
    tokens: TokenSet,
}

impl ApiAuth for BearerAuth<'_> {
    async fn apply(&mut self, headers: &mut http::HeaderMap) -> Result<(), ClientError> {
        // `Bearer` (RFC 6750 §2.1), or the profile's own word (Zoho `Zoho-oauthtoken`).
        let scheme = &self.client.profile.api.auth_scheme;
        let value = format!("{scheme} {}", self.tokens.access_token.secret());
        let mut value =
            http::HeaderValue::from_str(&value).map_err(|_| ClientError::InvalidTokenResponse {
                reason: "access_token has characters not allowed in a header".into(),
            })?;
        value.set_sensitive(true);
        headers.insert(http::header::AUTHORIZATION, value);
        Ok(())
    }

    async fn renew_after_401(&mut self) -> Result<bool, ClientError> {
        if self.tokens.refresh_token.is_none() {
            return Ok(false);
        }
        self.tokens = self
            .client
            .refresh_replacing(self.session, &self.tokens.access_token)
            .await?;
        Ok(true)
    }

    fn scrub(&self, text: &str) -> String {
        let mut out = text.replace(self.tokens.access_token.secret(), REDACTED);
        if let Some(rt) = &self.tokens.refresh_token {
            out = out.replace(rt.secret(), REDACTED);
        }
        out
    }
}

/// An OAuth client's page requests, for one session.
struct OAuthPages<'a> {
    client: &'a OAuthClient,
    session: &'a SessionId,
}

impl PageSource for OAuthPages<'_> {
    fn send_page<'a>(&'a self, out: &'a Outgoing<'a>) -> Sending<'a> {
        Box::pin(self.client.send(self.session, out))
    }

    fn page_error(&self, resp: &ApiResponse) -> ClientError {
        resp.to_error(&|s| s.to_owned())
    }
}
