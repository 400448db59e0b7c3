//! The CRMs' own authentication schemes: what integrations with four of the five CRMs really
//! use instead of OAuth (see the profile's `native_auth`).

use std::fmt;
use std::sync::Mutex;
use std::time::Duration;

use base64::Engine as _;
use handshake_profile::{BodyFormat, NativeScheme, Profile};
use http::header::{HeaderName, HeaderValue, ACCEPT, AUTHORIZATION};
use http::HeaderMap;
use serde_json::Value;
use url::Url;

use crate::api::{api_url, ApiAuth, ApiResponse, Outgoing, Requester};
use crate::client::{DEFAULT_MAX_ATTEMPTS, DEFAULT_MAX_RETRY_WAIT, DEFAULT_TIMEOUT};
use crate::error::ClientError;
use crate::paging::{Caller, ListOptions, Pages, Walker};
use crate::token::field_names;
use crate::transport::default_http_client;

/// The ConnectWise API version asked for in `Accept` unless
/// [`NativeClient::with_connectwise_version`] says otherwise.
pub const DEFAULT_CONNECTWISE_VERSION: &str = "2022.1";

const REDACTED: &str = "[redacted]";

/// A native credential (API key, password, private key, personal access token). `Debug`
/// prints `NativeSecret([redacted])`; there is no `PartialEq`, so secrets are not compared
/// casually.
///
/// ```
/// use handshake_client::NativeSecret;
///
/// let key = NativeSecret::new("k-123");
/// assert_eq!(format!("{key:?}"), "NativeSecret([redacted])");
/// assert_eq!(key.secret(), "k-123");
/// ```
#[derive(Clone)]
pub struct NativeSecret(String);

impl NativeSecret {
    /// Wraps a secret value.
    pub fn new(secret: impl Into<String>) -> Self {
        NativeSecret(secret.into())
    }

    /// The secret itself. Never log it.
    pub fn secret(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for NativeSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("NativeSecret([redacted])")
    }
}

/// Credentials for a CRM's native authentication scheme, one variant per scheme of
/// [`NativeScheme`]. Secrets are [`NativeSecret`]s, redacted in `Debug`; identifiers (email,
/// user name, company id, public key, clientId) are not secret and do print.
///
/// ```
/// use handshake_client::NativeCredentials;
/// use handshake_profile::NativeScheme;
///
/// let creds = NativeCredentials::connectwise("acme", "pub-key", "priv-key", "6d1b4a6e-client-id");
/// assert_eq!(creds.scheme(), NativeScheme::ConnectwiseMemberKey);
/// assert!(!format!("{creds:?}").contains("priv-key"));
/// ```
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum NativeCredentials {
    /// Capsule personal access token, sent as `Authorization: Bearer <token>`.
    PersonalAccessToken {
        /// The token.
        token: NativeSecret,
    },
    /// Insightly API key, sent as `Authorization: Basic base64(api_key:)`.
    ApiKey {
        /// The key.
        api_key: NativeSecret,
    },
    /// Agile CRM user email and API key, sent as `Authorization: Basic base64(email:api_key)`.
    EmailApiKey {
        /// The user's email address.
        email: String,
        /// The user's REST API key.
        api_key: NativeSecret,
    },
    /// Redtail partner API key and user credentials, exchanged once for a `user_key`.
    Redtail {
        /// The partner API key.
        api_key: NativeSecret,
        /// The Redtail user name.
        username: String,
        /// The user's password.
        password: NativeSecret,
    },
    /// ConnectWise PSA API member keys and the integration's clientId.
    ConnectWise {
        /// The company id (login company).
        company_id: String,
        /// The API member's public key.
        public_key: String,
        /// The API member's private key.
        private_key: NativeSecret,
        /// The integration's clientId GUID (developer.connectwise.com/ClientID).
        client_id: String,
    },
}

impl NativeCredentials {
    /// A Capsule personal access token.
    pub fn personal_access_token(token: impl Into<String>) -> Self {
        NativeCredentials::PersonalAccessToken {
            token: NativeSecret::new(token),
        }
    }

    /// An Insightly API key.
    pub fn api_key(api_key: impl Into<String>) -> Self {
        NativeCredentials::ApiKey {
            api_key: NativeSecret::new(api_key),
        }
    }

    /// An Agile CRM email and API key.
    pub fn email_api_key(email: impl Into<String>, api_key: impl Into<String>) -> Self {
        NativeCredentials::EmailApiKey {
            email: email.into(),
            api_key: NativeSecret::new(api_key),
        }
    }

    /// Redtail partner API key, user name and password.
    pub fn redtail(
        api_key: impl Into<String>,
        username: impl Into<String>,
        password: impl Into<String>,
    ) -> Self {
        NativeCredentials::Redtail {
            api_key: NativeSecret::new(api_key),
            username: username.into(),
            password: NativeSecret::new(password),
        }
    }

    /// ConnectWise company id, API member keys and integration clientId.
    pub fn connectwise(
        company_id: impl Into<String>,
        public_key: impl Into<String>,
        private_key: impl Into<String>,
        client_id: impl Into<String>,
    ) -> Self {
        NativeCredentials::ConnectWise {
            company_id: company_id.into(),
            public_key: public_key.into(),
            private_key: NativeSecret::new(private_key),
            client_id: client_id.into(),
        }
    }

    /// The scheme these credentials are for.
    pub fn scheme(&self) -> NativeScheme {
        match self {
            NativeCredentials::PersonalAccessToken { .. } => NativeScheme::BearerToken,
            NativeCredentials::ApiKey { .. } => NativeScheme::BasicApiKey,
            NativeCredentials::EmailApiKey { .. } => NativeScheme::BasicEmailApiKey,
            NativeCredentials::Redtail { .. } => NativeScheme::RedtailUserKey,
            NativeCredentials::ConnectWise { .. } => NativeScheme::ConnectwiseMemberKey,
        }
    }

    fn secrets(&self) -> Vec<&str> {
        match self {
            NativeCredentials::PersonalAccessToken { token } => vec![token.secret()],
            NativeCredentials::ApiKey { api_key }
            | NativeCredentials::EmailApiKey { api_key, .. } => {
                vec![api_key.secret()]
            }
            NativeCredentials::Redtail {
                api_key, password, ..
            } => vec![api_key.secret(), password.secret()],
            NativeCredentials::ConnectWise { private_key, .. } => vec![private_key.secret()],
        }
    }

    /// Rejects values HTTP Basic cannot carry (RFC 7617 §2: no `:` in the user-id) and
    /// empty ones, naming the field, never its value.
    fn validate(&self) -> Result<(), ClientError> {
        let check = |field: &str, value: &str, colon_ok: bool| {
            if value.is_empty() {
                return Err(ClientError::Config(format!(
                    "native credentials: `{field}` is empty"
                )));
            }
            if !colon_ok && value.contains(':') {
                return Err(ClientError::Config(format!(
                    "native credentials: `{field}` contains ':', which HTTP Basic cannot carry there"
                )));
            }
            Ok(())
        };
        match self {
            NativeCredentials::PersonalAccessToken { token } => {
                check("token", token.secret(), true)
            }
            NativeCredentials::ApiKey { api_key } => check("api_key", api_key.secret(), false),
            NativeCredentials::EmailApiKey { email, api_key } => {
                check("email", email, false)?;
                check("api_key", api_key.secret(), true)
            }
            NativeCredentials::Redtail {
                api_key,
                username,
                password,
            } => {
                check("api_key", api_key.secret(), false)?;
                check("username", username, false)?;
                check("password", password.secret(), true)
            }
            NativeCredentials::ConnectWise {
                company_id,
                public_key,
                private_key,
                client_id,
            } => {
                check("company_id", company_id, false)?;
                check("public_key", public_key, false)?;
                check("private_key", private_key.secret(), true)?;
                check("client_id", client_id, true)
            }
        }
    }
}

fn basic(user_pass: &str) -> String {
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(user_pass)
    )
}

fn sensitive(value: &str) -> Result<HeaderValue, ClientError> {
    let mut v = HeaderValue::from_str(value).map_err(|_| {
        ClientError::Config("native credentials contain characters not allowed in a header".into())
    })?;
    v.set_sensitive(true);
    Ok(v)
}

#[derive(Default)]
struct UserKeyCache {
    key: Option<NativeSecret>,
    generation: u64,
}

/// An API client for a CRM's native authentication scheme (the profile's `native_auth`),
/// sharing [`OAuthClient`](crate::OAuthClient)'s request helper: the same 429 backoff, error
/// mapping and paging.
///
/// What goes on the wire, per scheme (credentials in headers only, never in URLs):
///
/// | Scheme | Headers |
/// |---|---|
/// | Capsule personal access token | `Authorization: Bearer <token>` |
/// | Insightly API key | `Authorization: Basic base64(api_key:)` |
/// | Agile CRM | `Authorization: Basic base64(email:api_key)`, `Accept: application/json` (Agile answers XML otherwise) |
/// | Redtail | once: `GET <exchange_path>` with `Basic base64(api_key:username:password)`; then `Authorization: UserKeyAuth base64(api_key:user_key)` |
/// | ConnectWise PSA | `Authorization: Basic base64(company_id+public_key:private_key)`, `clientId: <guid>`, `Accept: application/vnd.connectwise.com+json; version=2022.1` |
///
/// Redtail's `user_key` does not expire; it is fetched lazily once and cached, read from
/// `user_key` or `authenticated_user.user_key` (sources disagree). A 401 re-runs the
/// exchange once, the only reaction Redtail documents. No other scheme has anything to
/// renew, so a 401 is final.
///
/// ```no_run
/// # async fn demo() -> Result<(), handshake_client::ClientError> {
/// use handshake_client::{NativeClient, NativeCredentials};
/// use handshake_profile::Profile;
///
/// let profile = Profile::builtin("redtail").unwrap();
/// let creds = NativeCredentials::redtail("partner-api-key", "advisor", "password");
/// let client = NativeClient::new(&profile, "https://review.crm.redtailtechnology.com", creds)?;
/// let contacts = client.list_all("/api/public/v1/contacts").await?;
/// println!("{} contacts", contacts.len());
/// # Ok(()) }
/// ```
///
/// # Security
/// Basic credentials are reusable secrets: use `https` base URLs outside loopback tests. The
/// default HTTP client never follows redirects; an injected one
/// ([`with_http_client`](Self::with_http_client)) should not either.
pub struct NativeClient {
    profile: Profile,
    scheme: NativeScheme,
    credentials: NativeCredentials,
    base_url: String,
    base: Url,
    /// `Authorization` for every scheme but Redtail's; Redtail's exchange request otherwise.
    authorization: HeaderValue,
    client_id_header: Option<(HeaderName, HeaderValue)>,
    exchange_url: Option<Url>,
    connectwise_version: String,
    http: reqwest::Client,
    timeout: Duration,
    max_retry_wait: Duration,
    max_attempts: u32,
    list_options: ListOptions,
    user_key: Mutex<UserKeyCache>,
    exchange_gate: tokio::sync::Mutex<()>,
}

impl fmt::Debug for NativeClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NativeClient")
            .field("profile", &self.profile.id)
            .field("scheme", &self.scheme)
            .field("base_url", &self.base_url)
            .field("credentials", &self.credentials)
            .finish_non_exhaustive()
    }
}

impl NativeClient {
    /// A client for `profile`'s native scheme at `base_url` (the CRM's origin; API paths
    /// are joined to it).
    ///
    /// Fails with [`ClientError::Config`] when the profile has no native scheme, the
    /// credentials are for another scheme, or a credential cannot travel in a header.
    pub fn new(
        profile: &Profile,
        base_url: impl Into<String>,
        credentials: NativeCredentials,
    ) -> Result<NativeClient, ClientError> {
        let native = profile.native_auth.as_ref().ok_or_else(|| {
            ClientError::Config(format!(
                "profile `{}` documents no native authentication scheme",
                profile.id
            ))
        })?;
        if credentials.scheme() != native.scheme {
            return Err(ClientError::Config(format!(
                "profile `{}` uses the {} scheme, but the credentials are for {}",
                profile.id,
                native.scheme.as_str(),
                credentials.scheme().as_str()
            )));
        }
        credentials.validate()?;
        let base_url = base_url.into();
        let base =
            Url::parse(&base_url).map_err(|e| ClientError::Config(format!("base_url: {e}")))?;
        if !matches!(base.scheme(), "http" | "https") {
            return Err(ClientError::Config("base_url must be http or https".into()));
        }
        let mut exchange_url = None;
        let mut client_id_header = None;
        let authorization = match &credentials {
            NativeCredentials::PersonalAccessToken { token } => {
                sensitive(&format!("Bearer {}", token.secret()))?
            }
            NativeCredentials::ApiKey { api_key } => {
                // Insightly: the key is the user name and the password is empty.
                sensitive(&basic(&format!("{}:", api_key.secret())))?
            }
            NativeCredentials::EmailApiKey { email, api_key } => {
                sensitive(&basic(&format!("{email}:{}", api_key.secret())))?
            }
            NativeCredentials::Redtail {
                api_key,
                username,
                password,
            } => {
                let path = native.exchange_path.as_deref().ok_or_else(|| {
                    ClientError::Config(format!(
                        "profile `{}` has no native_auth.exchange_path for the Redtail key exchange",
                        profile.id
                    ))
                })?;
                exchange_url = Some(api_url(&base_url, &base, path)?);
                sensitive(&basic(&format!(
                    "{}:{username}:{}",
                    api_key.secret(),
                    password.secret()
                )))?
            }
            NativeCredentials::ConnectWise {
                company_id,
                public_key,
                private_key,
                client_id,
            } => {
                let name = native.client_id_header.as_deref().unwrap_or("clientId");
                let name = HeaderName::from_bytes(name.as_bytes()).map_err(|_| {
                    ClientError::Config(format!("profile header name `{name}` is invalid"))
                })?;
                let value = HeaderValue::from_str(client_id).map_err(|_| {
                    ClientError::Config("client_id is not a valid header value".into())
                })?;
                client_id_header = Some((name, value));
                sensitive(&basic(&format!(
                    "{company_id}+{public_key}:{}",
                    private_key.secret()
                )))?
            }
        };
        Ok(NativeClient {
            profile: profile.clone(),
            scheme: native.scheme,
            credentials,
            base_url,
            base,
            authorization,
            client_id_header,
            exchange_url,
            connectwise_version: DEFAULT_CONNECTWISE_VERSION.to_owned(),
            http: default_http_client(DEFAULT_TIMEOUT)?,
            timeout: DEFAULT_TIMEOUT,
            max_retry_wait: DEFAULT_MAX_RETRY_WAIT,
            max_attempts: DEFAULT_MAX_ATTEMPTS,
            list_options: ListOptions::default(),
            user_key: Mutex::new(UserKeyCache::default()),
            exchange_gate: tokio::sync::Mutex::new(()),
        })
    }

    /// Uses this HTTP client. It should not follow redirects (see the security note).
    pub fn with_http_client(mut self, http: reqwest::Client) -> Self {
        self.http = http;
        self
    }

    /// Per-request timeout (default 30 s).
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Longest single wait after a 429 (default 30 s).
    pub fn with_max_retry_wait(mut self, cap: Duration) -> Self {
        self.max_retry_wait = cap;
        self
    }

    /// API attempts when rate limited, the first included (default 3, minimum 1).
    pub fn with_max_attempts(mut self, attempts: u32) -> Self {
        self.max_attempts = attempts.max(1);
        self
    }

    /// Paging options for [`list_all`](Self::list_all) and [`pages`](Self::pages).
    pub fn with_list_options(mut self, options: ListOptions) -> Self {
        self.list_options = options;
        self
    }

    /// The ConnectWise API version sent in `Accept: application/vnd.connectwise.com+json;
    /// version=<v>` (default [`DEFAULT_CONNECTWISE_VERSION`]). Ignored by other schemes.
    pub fn with_connectwise_version(mut self, version: impl Into<String>) -> Self {
        self.connectwise_version = version.into();
        self
    }

    /// The profile this client follows.
    pub fn profile(&self) -> &Profile {
        &self.profile
    }

    /// The native scheme in use.
    pub fn scheme(&self) -> NativeScheme {
        self.scheme
    }

    /// Redtail: runs the key exchange now if no `user_key` is cached (it otherwise runs
    /// before the first API call). A wrong key, user name or password gives
    /// [`ClientError::ApiUnauthorized`]. The other schemes have nothing to exchange and
    /// return `Ok` without a request.
    pub async fn authenticate(&self) -> Result<(), ClientError> {
        if self.scheme == NativeScheme::RedtailUserKey {
            self.user_key().await?;
        }
        Ok(())
    }

    /// `GET` an API path (joined to the base URL) or an absolute URL on the base URL's
    /// origin. See [`request`](Self::request).
    pub async fn get(&self, path_or_url: &str) -> Result<ApiResponse, ClientError> {
        self.request(reqwest::Method::GET, path_or_url, None).await
    }

    /// Sends an API request with the native credentials.
    ///
    /// 401 (after Redtail's one re-exchange) and 403 become [`ClientError::ApiUnauthorized`]
    /// and [`ClientError::ApiForbidden`] with the CRM's own code and message; 429 is retried
    /// as [`OAuthClient::api_request`](crate::OAuthClient::api_request) does. Other statuses
    /// are returned as they are.
    pub async fn request(
        &self,
        method: reqwest::Method,
        path_or_url: &str,
        json_body: Option<&Value>,
    ) -> Result<ApiResponse, ClientError> {
        let out = Outgoing {
            method,
            url: api_url(&self.base_url, &self.base, path_or_url)?,
            headers: HeaderMap::new(),
            json: json_body,
        };
        let resp = self.send(&out).await?;
        if matches!(resp.status, 401 | 403) {
            return Err(resp.to_error(&|s| self.scrub(s)));
        }
        Ok(resp)
    }

    /// Every record of a list resource, walking its pages as the profile says (see
    /// [`Pages`]).
    pub async fn list_all(&self, path: &str) -> Result<Vec<Value>, ClientError> {
        self.pages(path)?.collect_all().await
    }

    /// A page-by-page walk of a list resource (see [`Pages`]).
    pub fn pages(&self, path: &str) -> Result<Pages<'_>, ClientError> {
        let start = api_url(&self.base_url, &self.base, path)?;
        Ok(Pages::new(
            Caller::Native(self),
            Walker::new(
                &self.profile.api,
                &self.list_options,
                start,
                self.base.clone(),
            ),
        ))
    }

    pub(crate) async fn send(&self, out: &Outgoing<'_>) -> Result<ApiResponse, ClientError> {
        let mut auth = NativeAuthState {
            client: self,
            generation: None,
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

    /// Replaces every credential (and encoded credential) in `text` with `[redacted]`.
    pub(crate) fn scrub(&self, text: &str) -> String {
        let mut out = text.to_owned();
        let mut secrets: Vec<String> = self
            .credentials
            .secrets()
            .into_iter()
            .map(str::to_owned)
            .collect();
        if let Ok(auth) = self.authorization.to_str() {
            if let Some((_, encoded)) = auth.split_once(' ') {
                secrets.push(encoded.to_owned());
            }
        }
        if let Some(key) = &lock(&self.user_key).key {
            secrets.push(key.secret().to_owned());
        }
        // Longest first, so a secret containing another is removed whole.
        secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
        for secret in secrets.iter().filter(|s| !s.is_empty()) {
            out = out.replace(secret.as_str(), REDACTED);
        }
        out
    }

    /// The cached Redtail `user_key` and its generation, exchanging first if there is none.
    async fn user_key(&self) -> Result<(NativeSecret, u64), ClientError> {
        if let Some(cached) = self.cached_user_key() {
            return Ok(cached);
        }
        // Single flight: concurrent first calls wait for one exchange.
        let _gate = self.exchange_gate.lock().await;
        if let Some(cached) = self.cached_user_key() {
            return Ok(cached);
        }
        self.exchange_and_store().await
    }

    fn cached_user_key(&self) -> Option<(NativeSecret, u64)> {
        let cache = lock(&self.user_key);
        cache.key.clone().map(|k| (k, cache.generation))
    }

    /// After a 401 with the key of `stale` generation: exchange again, unless another
    /// request already did.
    async fn renew_user_key(&self, stale: Option<u64>) -> Result<(), ClientError> {
        let _gate = self.exchange_gate.lock().await;
        if let Some((_, generation)) = self.cached_user_key() {
            if Some(generation) != stale {
                return Ok(());
            }
        }
        lock(&self.user_key).key = None;
        self.exchange_and_store().await.map(|_| ())
    }

    async fn exchange_and_store(&self) -> Result<(NativeSecret, u64), ClientError> {
        let key = self.exchange().await?;
        let mut cache = lock(&self.user_key);
        cache.key = Some(key.clone());
        cache.generation += 1;
        Ok((key, cache.generation))
    }

    /// Redtail's `GET /authentication` with the three-part Basic credential.
    async fn exchange(&self) -> Result<NativeSecret, ClientError> {
        let url = self
            .exchange_url
            .clone()
            .ok_or_else(|| ClientError::Config("this scheme has no key exchange".into()))?;
        tracing::info!(provider = %self.profile.id, "Redtail key exchange");
        let mut auth = ExchangeAuth { client: self };
        let resp = self
            .requester()
            .send(&mut auth, &Outgoing::get(url, HeaderMap::new()))
            .await?;
        if !resp.is_success() {
            tracing::warn!(provider = %self.profile.id, status = resp.status, "Redtail key exchange refused");
            return Err(resp.to_error(&|s| self.scrub(s)));
        }
        let body: Value =
            serde_json::from_slice(&resp.body).map_err(|_| ClientError::UnexpectedApiResponse {
                status: resp.status,
                reason: format!(
                    "key exchange answer is not JSON ({} bytes)",
                    resp.body.len()
                ),
            })?;
        // w6w-apps reads `user_key` at the top level, Nango `authenticated_user.user_key`.
        let key = body
            .get("user_key")
            .or_else(|| body.get("authenticated_user").and_then(|u| u.get("user_key")))
            .and_then(Value::as_str)
            .filter(|k| !k.is_empty())
            .ok_or_else(|| ClientError::UnexpectedApiResponse {
                status: resp.status,
                reason: format!(
                    "no `user_key` (or `authenticated_user.user_key`) in the key exchange answer; {}",
                    field_names(&resp.body)
                ),
            })?;
        Ok(NativeSecret::new(key))
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// The native scheme for one API request.
struct NativeAuthState<'a> {
    client: &'a NativeClient,
    /// Generation of the Redtail `user_key` sent, to tell a stale key from a renewed one.
    generation: Option<u64>,
}

impl ApiAuth for NativeAuthState<'_> {
    async fn apply(&mut self, headers: &mut HeaderMap) -> Result<(), ClientError> {
        let client = self.client;
        let authorization = match &client.credentials {
            NativeCredentials::Redtail { api_key, .. } => {
                let (key, generation) = client.user_key().await?;
                self.generation = Some(generation);
                let pair = format!("{}:{}", api_key.secret(), key.secret());
                sensitive(&format!(
                    "UserKeyAuth {}",
                    base64::engine::general_purpose::STANDARD.encode(pair)
                ))?
            }
            _ => client.authorization.clone(),
        };
        headers.insert(AUTHORIZATION, authorization);
        if let Some((name, value)) = &client.client_id_header {
            headers.insert(name.clone(), value.clone());
        }
        match client.scheme {
            NativeScheme::ConnectwiseMemberKey => {
                let accept = format!(
                    "application/vnd.connectwise.com+json; version={}",
                    client.connectwise_version
                );
                let accept = HeaderValue::from_str(&accept).map_err(|_| {
                    ClientError::Config(
                        "the ConnectWise version is not a valid header value".into(),
                    )
                })?;
                headers.insert(ACCEPT, accept);
            }
            _ if client.profile.api.format == BodyFormat::XmlUnlessAcceptJson => {
                headers.insert(ACCEPT, HeaderValue::from_static("application/json"));
            }
            _ => {}
        }
        Ok(())
    }

    async fn renew_after_401(&mut self) -> Result<bool, ClientError> {
        if self.client.scheme != NativeScheme::RedtailUserKey {
            return Ok(false);
        }
        tracing::info!(provider = %self.client.profile.id, "API answered 401; re-running the Redtail key exchange once");
        self.client.renew_user_key(self.generation).await?;
        Ok(true)
    }

    fn scrub(&self, text: &str) -> String {
        self.client.scrub(text)
    }
}

/// Redtail's exchange request: three-part Basic, nothing to renew.
struct ExchangeAuth<'a> {
    client: &'a NativeClient,
}

impl ApiAuth for ExchangeAuth<'_> {
    async fn apply(&mut self, headers: &mut HeaderMap) -> Result<(), ClientError> {
        headers.insert(AUTHORIZATION, self.client.authorization.clone());
        Ok(())
    }

    async fn renew_after_401(&mut self) -> Result<bool, ClientError> {
        Ok(false)
    }

    fn scrub(&self, text: &str) -> String {
        self.client.scrub(text)
    }
}
