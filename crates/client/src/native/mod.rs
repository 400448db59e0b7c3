//! The CRMs' own authentication schemes: what integrations with four of the five CRMs really
//! use instead of OAuth (see the profile's `native_auth`).
//!
//! One module per scheme, each behind [`NativeAuth`]: the headers its credentials put on a
//! request. What a scheme shares with the mock (its credential fields, header names, the
//! version header, where the key exchange answers the key) is profile data; this module is
//! the client around them: the exchange, its cache and the request helper.

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
use crate::config::{DEFAULT_MAX_ATTEMPTS, DEFAULT_MAX_RETRY_WAIT, DEFAULT_TIMEOUT};
use crate::error::ClientError;
use crate::paging::{ListOptions, PageSource, Pages, Sending, Walker};
use crate::token::field_names;
use crate::transport::default_http_client;

mod basic_api_key;
mod basic_email_api_key;
mod bearer_token;
mod connectwise_member_key;
mod credentials;
mod header_api_key;
mod redtail_user_key;

use credentials::REDACTED;
pub use credentials::{NativeCredentials, NativeSecret};

/// One native scheme as the client speaks it, made once per client from the credentials
/// and the profile (`<scheme>.rs`).
pub(crate) trait NativeAuth: Send + Sync {
    /// Sets `Authorization` and the headers the scheme makes mandatory (ConnectWise's
    /// client id). `user_key` is the key a key exchange gave (Redtail), `None` before one
    /// or for schemes without one.
    fn apply(&self, headers: &mut HeaderMap, user_key: Option<&str>) -> Result<(), ClientError>;

    /// The key exchange's `Authorization`, for a scheme that exchanges its credentials for
    /// a key first (Redtail); `None` for the others.
    fn exchange(&self) -> Option<&HeaderValue> {
        None
    }

    /// The encoded forms of the credentials it sends, to scrub from text a server echoes.
    fn encoded(&self) -> Vec<String>;
}

/// The scheme module for these credentials.
fn scheme_auth(
    credentials: &NativeCredentials,
    native: &handshake_profile::NativeAuth,
) -> Result<Box<dyn NativeAuth>, ClientError> {
    Ok(match credentials {
        NativeCredentials::PersonalAccessToken { token } => Box::new(bearer_token::new(token)?),
        NativeCredentials::ApiKey { api_key } => Box::new(basic_api_key::new(api_key)?),
        NativeCredentials::EmailApiKey { email, api_key } => {
            Box::new(basic_email_api_key::new(email, api_key)?)
        }
        NativeCredentials::Redtail {
            api_key,
            username,
            password,
        } => Box::new(redtail_user_key::new(api_key, username, password)?),
        NativeCredentials::ConnectWise {
            company_id,
            public_key,
            private_key,
            client_id,
        } => Box::new(connectwise_member_key::new(
            native,
            company_id,
            public_key,
            private_key,
            client_id,
        )?),
        NativeCredentials::HeaderApiKey { api_key } => {
            Box::new(header_api_key::new(native, api_key)?)
        }
    })
}

/// The profile's native scheme, when these credentials are for it.
fn native_auth_of<'p>(
    profile: &'p Profile,
    credentials: &NativeCredentials,
) -> Result<&'p handshake_profile::NativeAuth, ClientError> {
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
    Ok(native)
}

/// The headers the profile asks of every native request, whatever the scheme: its version
/// header (ConnectWise's versioned `Accept`), else `Accept: application/json` where the API
/// answers XML without it (Agile CRM).
fn profile_headers(
    profile: &Profile,
    native: &handshake_profile::NativeAuth,
    version: Option<&str>,
    headers: &mut HeaderMap,
) -> Result<(), ClientError> {
    if let Some((name, value)) = native.version_header(version) {
        let bad =
            || ClientError::Config(format!("the {name} version header is not a valid header"));
        let name = HeaderName::from_bytes(name.as_bytes()).map_err(|_| bad())?;
        let value = HeaderValue::from_str(&value).map_err(|_| bad())?;
        headers.insert(name, value);
    } else if profile.api.format == BodyFormat::XmlUnlessAcceptJson {
        headers.insert(ACCEPT, HeaderValue::from_static("application/json"));
    }
    Ok(())
}

impl NativeCredentials {
    /// The headers these credentials put on an API request to a provider described by
    /// `profile`, as [`NativeClient`] sends them: `Authorization` (marked sensitive), the
    /// scheme's mandatory headers and the profile's version header. Redtail's need the
    /// `user_key` of its exchange (see [`exchange_authorization`](Self::exchange_authorization)).
    /// For a runner that sends its own requests; credentials are not validated here, and an
    /// empty ConnectWise client id leaves its header out.
    ///
    /// ```
    /// use handshake_client::NativeCredentials;
    /// use handshake_profile::Profile;
    ///
    /// let profile = Profile::builtin("connectwise").unwrap();
    /// let creds = NativeCredentials::connectwise("acme", "pub", "priv", "client-guid");
    /// let headers = creds.api_headers(&profile, None).unwrap();
    /// assert_eq!(headers["clientId"], "client-guid");
    /// assert!(headers["accept"].to_str().unwrap().ends_with("version=2022.1"));
    /// assert!(headers["authorization"].is_sensitive());
    /// ```
    pub fn api_headers(
        &self,
        profile: &Profile,
        user_key: Option<&str>,
    ) -> Result<HeaderMap, ClientError> {
        let native = native_auth_of(profile, self)?;
        let auth = scheme_auth(self, native)?;
        let mut headers = HeaderMap::new();
        auth.apply(&mut headers, user_key)?;
        profile_headers(profile, native, None, &mut headers)?;
        Ok(headers)
    }

    /// The `Authorization` of the key exchange, for a scheme that has one (Redtail:
    /// `Basic base64(api_key:username:password)`); `None` for the others.
    pub fn exchange_authorization(
        &self,
        profile: &Profile,
    ) -> Result<Option<HeaderValue>, ClientError> {
        let native = native_auth_of(profile, self)?;
        Ok(scheme_auth(self, native)?.exchange().cloned())
    }
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
/// | Pipedrive API token | `x-api-token: <api_token>` (the profile's `native_auth.key_header`) |
///
/// Redtail's `user_key` does not expire; it is fetched lazily once and cached, read where
/// the profile's `native_auth.user_key_at` says (`user_key` or `authenticated_user.user_key`:
/// sources disagree). The versioned `Accept` is the profile's `native_auth.version_header`
/// ([`with_api_version`](Self::with_api_version) changes the version). A 401 re-runs the
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
    /// The scheme's headers (`<scheme>.rs`).
    auth: Box<dyn NativeAuth>,
    exchange_url: Option<Url>,
    /// The API version asked for in the profile's `native_auth.version_header`.
    version: Option<String>,
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
        let native = native_auth_of(profile, &credentials)?;
        credentials.validate()?;
        let base_url = base_url.into();
        let base =
            Url::parse(&base_url).map_err(|e| ClientError::Config(format!("base_url: {e}")))?;
        if !matches!(base.scheme(), "http" | "https") {
            return Err(ClientError::Config("base_url must be http or https".into()));
        }
        let auth = scheme_auth(&credentials, native)?;
        let exchange_url = match auth.exchange() {
            None => None,
            Some(_) => {
                let path = native.exchange_path.as_deref().ok_or_else(|| {
                    ClientError::Config(format!(
                        "profile `{}` has no native_auth.exchange_path for the key exchange",
                        profile.id
                    ))
                })?;
                Some(api_url(&base_url, &base, path)?)
            }
        };
        Ok(NativeClient {
            profile: profile.clone(),
            scheme: native.scheme,
            credentials,
            base_url,
            base,
            auth,
            exchange_url,
            version: None,
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

    /// The API version asked for in the profile's `native_auth.version_header` (ConnectWise:
    /// `Accept: application/vnd.connectwise.com+json; version=<v>`), instead of the
    /// profile's `native_auth.version`. Ignored when the profile names no version header.
    pub fn with_api_version(mut self, version: impl Into<String>) -> Self {
        self.version = Some(version.into());
        self
    }

    /// [`with_api_version`](Self::with_api_version), by its older name.
    pub fn with_connectwise_version(self, version: impl Into<String>) -> Self {
        self.with_api_version(version)
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
        if self.auth.exchange().is_some() {
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
            NativePages(self),
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
        secrets.extend(self.auth.encoded());
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
        // w6w-apps reads `user_key` at the top level, Nango `authenticated_user.user_key`:
        // the profile lists both.
        let native = self.profile.native_auth.as_ref();
        let key = native.and_then(|n| n.user_key(&body)).ok_or_else(|| {
            let places: Vec<&str> = native
                .map(|n| n.user_key_at.iter().map(|p| p.as_str()).collect())
                .unwrap_or_default();
            ClientError::UnexpectedApiResponse {
                status: resp.status,
                reason: format!(
                    "no `user_key` (at {}) in the key exchange answer; {}",
                    places.join(" or "),
                    field_names(&resp.body)
                ),
            }
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
        let key = match client.auth.exchange() {
            Some(_) => {
                let (key, generation) = client.user_key().await?;
                self.generation = Some(generation);
                Some(key)
            }
            None => None,
        };
        client
            .auth
            .apply(headers, key.as_ref().map(NativeSecret::secret))?;
        match &client.profile.native_auth {
            Some(native) => {
                profile_headers(&client.profile, native, client.version.as_deref(), headers)
            }
            None => Ok(()),
        }
    }

    async fn renew_after_401(&mut self) -> Result<bool, ClientError> {
        if self.client.auth.exchange().is_none() {
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
        let authorization = self
            .client
            .auth
            .exchange()
            .ok_or_else(|| ClientError::Config("this scheme has no key exchange".into()))?;
        headers.insert(AUTHORIZATION, authorization.clone());
        Ok(())
    }

    async fn renew_after_401(&mut self) -> Result<bool, ClientError> {
        Ok(false)
    }

    fn scrub(&self, text: &str) -> String {
        self.client.scrub(text)
    }
}

/// A native client's page requests.
struct NativePages<'a>(&'a NativeClient);

impl PageSource for NativePages<'_> {
    fn send_page<'a>(&'a self, out: &'a Outgoing<'a>) -> Sending<'a> {
        Box::pin(self.0.send(out))
    }

    fn page_error(&self, resp: &ApiResponse) -> ClientError {
        resp.to_error(&|s| self.0.scrub(s))
    }
}

/// `Basic base64(user_pass)`, marked sensitive.
fn basic(user_pass: &str) -> Result<HeaderValue, ClientError> {
    sensitive(&format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(user_pass)
    ))
}

/// A header value holding a credential: never logged by the HTTP stack.
fn sensitive(value: &str) -> Result<HeaderValue, ClientError> {
    let mut v = HeaderValue::from_str(value).map_err(|_| {
        ClientError::Config("native credentials contain characters not allowed in a header".into())
    })?;
    v.set_sensitive(true);
    Ok(v)
}

/// The credential part of an `Authorization` value (after the scheme), for scrubbing.
fn encoded_part(value: &HeaderValue) -> Option<String> {
    let text = value.to_str().ok()?;
    text.split_once(' ').map(|(_, e)| e.to_owned())
}

/// A scheme whose `Authorization` never changes (Bearer token, Basic keys), with its
/// mandatory extra header if any.
struct Fixed {
    authorization: HeaderValue,
    extra: Option<(HeaderName, HeaderValue)>,
}

impl NativeAuth for Fixed {
    fn apply(&self, headers: &mut HeaderMap, _: Option<&str>) -> Result<(), ClientError> {
        headers.insert(AUTHORIZATION, self.authorization.clone());
        if let Some((name, value)) = &self.extra {
            headers.insert(name.clone(), value.clone());
        }
        Ok(())
    }

    fn encoded(&self) -> Vec<String> {
        encoded_part(&self.authorization).into_iter().collect()
    }
}
