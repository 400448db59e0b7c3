//! `MockProvider`: a running mock, its builder, and the fault builders.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use axum_server::tls_rustls::RustlsConfig;
use handshake_profile::Profile;

use crate::conn::ConnSettings;
use crate::expect::{ExpectationBuilder, Expectations, VerifyError};
use crate::native::NativeCredentials;
use crate::observe::Observed;
use crate::state::{exchange_path, Settings, Shared};
use crate::sync::lock;
use crate::types::{
    Endpoint, Fault, FaultKind, JournalEntry, MockError, OAuthError, RegisteredClient, Relaxation,
};
use crate::{metadata, router};

/// A mock CRM: an OAuth 2.0 authorization server and API resource behaving as its
/// [`Profile`] says, served on a background task. Dropping it shuts the server down.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// use handshake_mock::MockProvider;
/// use handshake_profile::Profile;
///
/// let mock = MockProvider::start(Profile::builtin("capsule").unwrap()).await;
/// assert!(mock.uri().starts_with("http://127.0.0.1:"));
/// assert_eq!(mock.authorize_url(), format!("{}/oauth/authorise", mock.uri()));
/// assert_eq!(mock.client().client_id, "handshake-client");
/// # }
/// ```
pub struct MockProvider {
    shared: Arc<Shared>,
    addr: SocketAddr,
    handle: axum_server::Handle,
    ca_pem: Option<String>,
    ca_path: Option<std::path::PathBuf>,
    expectations: Expectations,
}

impl MockProvider {
    /// Starts a mock on `127.0.0.1` and a random port, with the default client
    /// ([`RegisteredClient::default`]) and the consent page on.
    ///
    /// # Panics
    /// If no loopback port can be bound or the profile cannot be served: this is the
    /// test-facing shortcut. Use [`MockProvider::builder`] to get a `Result`.
    pub async fn start(profile: Profile) -> MockProvider {
        match MockProvider::builder(profile).start().await {
            Ok(m) => m,
            Err(e) => panic!("handshake-mock could not start: {e}"),
        }
    }

    /// Configures a mock before starting it.
    pub fn builder(profile: Profile) -> MockProviderBuilder {
        MockProviderBuilder {
            profile,
            client: RegisteredClient::default(),
            redirect_overridden: false,
            auto_approve: false,
            host: IpAddr::V4(Ipv4Addr::LOCALHOST),
            port: 0,
            tls: false,
            tls_dir: None,
            native: NativeCredentials::default(),
            seed: MockProvider::DEFAULT_SEED,
            dataset_size: None,
            rate_limit: None,
            users: crate::users::DEFAULT_USERS.map(str::to_owned).to_vec(),
            conn: ConnSettings::default(),
        }
    }

    /// The user accounts a mock holds when the builder names none.
    pub const DEFAULT_USERS: [&'static str; 2] = crate::users::DEFAULT_USERS;

    /// Seed of the generated data set when the builder is given none.
    pub const DEFAULT_SEED: u64 = crate::dataset::DEFAULT_SEED;

    /// The credentials the native scheme accepts (see [`NativeCredentials`]).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// use handshake_mock::MockProvider;
    ///
    /// let mock = MockProvider::start(handshake_profile::Profile::builtin("insightly").unwrap()).await;
    /// let resp = reqwest::Client::new()
    ///     .get(mock.api_url())
    ///     .basic_auth(mock.native_credentials().api_key(), Some(""))
    ///     .send()
    ///     .await
    ///     .unwrap();
    /// assert_eq!(resp.status(), 200);
    /// assert_eq!(mock.journal()[0].auth_mode.as_deref(), Some("basic_api_key"));
    /// # }
    /// ```
    pub fn native_credentials(&self) -> &NativeCredentials {
        &self.shared.native
    }

    /// Every record the API resource serves to the first user (and to the native scheme), in
    /// id order: what a complete paging walk must return. See [`MockProvider::records_for`]
    /// for the other users.
    pub fn dataset(&self) -> &[serde_json::Value] {
        &self.shared.records
    }

    /// The user accounts, in order; the first is the one auto-approve signs in as and the one
    /// the native credentials belong to.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// use handshake_mock::MockProvider;
    ///
    /// let mock = MockProvider::start(handshake_profile::Profile::builtin("capsule").unwrap()).await;
    /// assert_eq!(mock.users(), ["alice", "bob"]);
    /// # }
    /// ```
    pub fn users(&self) -> Vec<String> {
        self.shared.users.clone()
    }

    /// Every record the API lists for `user`'s grants, in order (`None` for a name that is no
    /// user of this mock). The first user's are [`MockProvider::dataset`]; every other user
    /// has a data set of its own, generated from `seed + i` for the `i`-th user, with numeric
    /// ids moved up by `i * 1_000_000` (string ids suffixed `-<user>`), so no name list or id
    /// is shared. A profile's fixed `api.records` get the same id change; their other fields
    /// stay as written.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// use handshake_mock::MockProvider;
    ///
    /// let mock = MockProvider::start(handshake_profile::Profile::builtin("capsule").unwrap()).await;
    /// let alice = mock.records_for("alice").unwrap();
    /// let bob = mock.records_for("bob").unwrap();
    /// assert_eq!(alice, mock.dataset());
    /// assert_eq!(alice[0]["id"], 11); // Capsule ids start at 11
    /// assert_eq!(bob[0]["id"], 1_000_011);
    /// assert_ne!(alice[0]["firstName"], bob[0]["firstName"]);
    /// assert!(mock.records_for("mallory").is_none());
    /// # }
    /// ```
    pub fn records_for(&self, user: &str) -> Option<Vec<serde_json::Value>> {
        let i = self.shared.user_index(user)?;
        Some(self.shared.records_of(i).to_vec())
    }

    /// The seed the data set was generated from.
    pub fn seed(&self) -> u64 {
        self.shared.seed
    }

    /// Absolute URL of Redtail's key exchange (`native_auth.exchange_path`), if the profile
    /// has one.
    pub fn exchange_url(&self) -> Option<String> {
        exchange_path(self.profile()).map(|p| format!("{}{p}", self.uri()))
    }

    /// Base URL, `http://127.0.0.1:PORT` (`https` with TLS), without a trailing slash.
    pub fn uri(&self) -> String {
        self.shared.base_url.clone()
    }

    /// The bound socket address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The profile this mock follows.
    pub fn profile(&self) -> &Profile {
        &self.shared.profile
    }

    /// The registered client.
    pub fn client(&self) -> &RegisteredClient {
        &self.shared.client
    }

    /// Absolute URL of the authorization endpoint.
    pub fn authorize_url(&self) -> String {
        format!("{}{}", self.uri(), self.profile().oauth.authorize_path)
    }

    /// Absolute URL of the token endpoint.
    pub fn token_url(&self) -> String {
        format!("{}{}", self.uri(), self.profile().oauth.token_path)
    }

    /// Absolute URL of the advertised revocation endpoint, if the provider has one.
    pub fn revoke_url(&self) -> Option<String> {
        self.profile()
            .oauth
            .revoke_path()
            .map(|p| format!("{}{p}", self.uri()))
    }

    /// Absolute URL of the API resource.
    pub fn api_url(&self) -> String {
        format!("{}{}", self.uri(), self.profile().api.path)
    }

    /// The document served at `GET /__handshake/metadata`.
    pub fn metadata(&self) -> serde_json::Value {
        metadata::metadata(&self.shared)
    }

    /// Makes the next request(s) to `endpoint` fail. Nothing happens until
    /// [`ArmedFault::mount`]:
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// use handshake_mock::{Endpoint, MockProvider, OAuthError};
    /// # let mock = MockProvider::start(handshake_profile::Profile::builtin("redtail").unwrap()).await;
    /// mock.fail_next(Endpoint::Token).with(OAuthError::TemporarilyUnavailable).times(2).mount();
    /// mock.fail_next(Endpoint::Api).with_status(502).mount();
    /// # }
    /// ```
    ///
    /// Faults on one endpoint apply in the order they were mounted.
    pub fn fail_next(&self, endpoint: Endpoint) -> FaultBuilder<'_> {
        FaultBuilder {
            mock: self,
            endpoint,
        }
    }

    /// Forgets every armed fault, and ends a tripped [`FaultBuilder::rate_limited`] period
    /// at once (`DELETE /__handshake/faults`). Tokens, the journal and the clock stay.
    pub fn clear_faults(&self) {
        self.shared.clear_faults();
    }

    /// Every request received (except `/__handshake/*` control calls), oldest first, with
    /// secrets redacted. The most recent are kept, at most
    /// [`JOURNAL_ENTRIES`](crate::limits::JOURNAL_ENTRIES) and
    /// [`JOURNAL_BYTES`](crate::limits::JOURNAL_BYTES) of them; long values are cut (see
    /// [`JournalEntry::notes`]).
    pub fn journal(&self) -> Vec<JournalEntry> {
        self.shared.journal()
    }

    /// Every journal entry from now on, as each request completes: decoded and redacted
    /// exactly as [`MockProvider::journal`] gives it, in the order the requests completed
    /// (so `seq` can go backwards after a slow request). `handshake serve` prints its
    /// request log from this, and `GET /__handshake/events` streams it.
    ///
    /// While no receiver is alive, requests pay nothing for it. A receiver that falls more
    /// than 256 entries behind misses the oldest ones
    /// ([`RecvError::Lagged`](tokio::sync::broadcast::error::RecvError::Lagged) says how
    /// many; [`MockProvider::journal`] still has them).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// use handshake_mock::{Endpoint, MockProvider};
    ///
    /// let mock = MockProvider::start(handshake_profile::Profile::builtin("capsule").unwrap()).await;
    /// let mut live = mock.subscribe();
    /// let resp = reqwest::Client::new()
    ///     .post(mock.token_url())
    ///     .basic_auth("handshake-client", Some("handshake-secret"))
    ///     .form(&[("grant_type", "authorization_code"), ("code", "made-up")])
    ///     .send()
    ///     .await
    ///     .unwrap();
    /// assert_eq!(resp.status(), 400);
    /// let entry = live.recv().await.unwrap();
    /// assert_eq!(entry.endpoint, Some(Endpoint::Token));
    /// assert_eq!(entry.error.as_deref(), Some("invalid_grant"));
    /// assert_eq!(entry.header("authorization"), Some("Basic [redacted]"));
    /// assert_eq!(entry, mock.journal()[0]);
    /// # }
    /// ```
    pub fn subscribe(&self) -> tokio::sync::broadcast::Receiver<JournalEntry> {
        self.shared.live.subscribe()
    }

    /// The faults armed and not yet used up, in the order they apply, each with the `times`
    /// it has left (`GET /__handshake/faults`).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// use handshake_mock::{Endpoint, MockProvider, OAuthError};
    ///
    /// let mock = MockProvider::start(handshake_profile::Profile::builtin("capsule").unwrap()).await;
    /// mock.fail_next(Endpoint::Token).with(OAuthError::InvalidGrant).times(2).mount();
    /// assert_eq!(mock.faults().len(), 1);
    /// assert_eq!(mock.faults()[0].times, 2);
    /// mock.clear_faults();
    /// assert!(mock.faults().is_empty());
    /// # }
    /// ```
    pub fn faults(&self) -> Vec<Fault> {
        self.shared.armed().0
    }

    /// Expires every access token now, as if its lifetime had passed.
    pub fn expire_access_tokens(&self) {
        let now = self.shared.now();
        lock(&self.shared.store).expire_access_tokens(now);
    }

    /// Revokes every grant, as a user removing the app in the CRM's settings would: access
    /// and refresh tokens stop working.
    pub fn revoke_grants(&self) {
        lock(&self.shared.store).revoke_all();
    }

    /// Revokes every grant of one user, as that user removing the app in the CRM's settings
    /// would; other users' grants stay. Returns how many grants ended (0 as well for a name
    /// that is no user of this mock: see [`MockProvider::users`]).
    pub fn revoke_grants_of(&self, user: &str) -> usize {
        match self.shared.user_index(user) {
            Some(i) => lock(&self.shared.store).revoke_user(i),
            None => 0,
        }
    }

    /// How many of `user`'s grants are live: not revoked, with a refresh token or an access
    /// token still usable. 0 for a name that is no user of this mock. A client that logs one
    /// user out (RFC 7009) must leave the others' count alone.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// use handshake_mock::MockProvider;
    ///
    /// let mock = MockProvider::start(handshake_profile::Profile::builtin("capsule").unwrap()).await;
    /// assert_eq!(mock.grants_of("alice"), 0);
    /// assert_eq!(mock.revoke_grants_of("bob"), 0);
    /// # }
    /// ```
    pub fn grants_of(&self, user: &str) -> usize {
        match self.shared.user_index(user) {
            Some(i) => lock(&self.shared.store).live_grants(Some(i), self.shared.now()),
            None => 0,
        }
    }

    /// Lifts one of the provider's requirements from now on (until [`MockProvider::reset`]),
    /// so a client that fails on it can be tested on everything else: see [`Relaxation`] for
    /// what each one accepts. Refusals the requirement caused name it in
    /// [`JournalEntry::requirement`]. Also `POST /__handshake/relax`.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// use handshake_mock::{MockProvider, Relaxation};
    ///
    /// // ConnectWise requires PKCE: without a code_challenge the login is refused ...
    /// let mock = MockProvider::builder(handshake_profile::Profile::builtin("connectwise").unwrap())
    ///     .auto_approve(true)
    ///     .start()
    ///     .await
    ///     .unwrap();
    /// let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    /// let login = || {
    ///     http.get(mock.authorize_url())
    ///         .query(&[("response_type", "code"), ("client_id", "handshake-client"), ("state", "s")])
    ///         .send()
    /// };
    /// let refused = login().await.unwrap();
    /// assert!(refused.headers()["location"].to_str().unwrap().contains("error=invalid_request"));
    /// assert_eq!(mock.journal()[0].requirement, Some(Relaxation::Pkce));
    ///
    /// // ... and passes once PKCE is relaxed.
    /// mock.relax(Relaxation::Pkce);
    /// assert_eq!(mock.relaxed(), [Relaxation::Pkce]);
    /// let ok = login().await.unwrap();
    /// assert!(ok.headers()["location"].to_str().unwrap().contains("code="));
    /// mock.reset();
    /// assert!(mock.relaxed().is_empty());
    /// # }
    /// ```
    pub fn relax(&self, requirement: Relaxation) {
        self.shared.relaxed.add(requirement);
    }

    /// The requirements relaxed so far, in [`Relaxation::ALL`] order.
    pub fn relaxed(&self) -> Vec<Relaxation> {
        self.shared.relaxed.list()
    }

    /// Forgets codes, consents, grants, tokens, faults, rate windows, relaxations and the
    /// journal, and sets the virtual clock back to real time. Credentials, users and the data
    /// sets stay.
    pub fn reset(&self) {
        self.shared.reset();
    }

    /// Moves the mock's virtual clock forward: codes and tokens expire, and rate-limit
    /// windows end, as if `by` had passed.
    pub fn advance_clock(&self, by: Duration) {
        self.shared.clock.advance(by);
    }

    /// Expects requests to `endpoint` from now on: at least one unless
    /// [`ExpectationBuilder::times`] (or `at_least`, `at_most`) says otherwise. Expectations
    /// are counted from the [journal](MockProvider::journal) and checked when the mock is
    /// dropped, which panics with what was expected and what arrived (unless the thread is
    /// already panicking); [`MockProvider::verify`] checks them earlier and returns the
    /// result instead.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// use handshake_mock::{Endpoint, MockProvider};
    ///
    /// let mock = MockProvider::start(handshake_profile::Profile::builtin("capsule").unwrap()).await;
    /// mock.expect(Endpoint::Token).times(1).named("code exchange");
    /// mock.expect(Endpoint::Api).times(0);
    ///
    /// reqwest::Client::new()
    ///     .post(mock.token_url())
    ///     .form(&[("grant_type", "authorization_code"), ("code", "made-up")])
    ///     .send()
    ///     .await
    ///     .unwrap();
    /// // Dropping `mock` here checks both; `verify` does it now.
    /// assert_eq!(mock.verify(), Ok(()));
    /// # }
    /// ```
    ///
    /// Only requests that arrive after `expect` count, and only those the journal still
    /// holds: [`MockProvider::reset`] forgets the journal, and it keeps the most recent
    /// [`JOURNAL_ENTRIES`](crate::limits::JOURNAL_ENTRIES) only.
    pub fn expect(&self, endpoint: Endpoint) -> ExpectationBuilder<'_> {
        self.expectations.add(endpoint, &self.shared)
    }

    /// Checks every expectation set with [`MockProvider::expect`] now, and retires them: the
    /// drop checks only those set afterwards. For async tests that want a `Result` rather
    /// than a panic on drop.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// use handshake_mock::{Endpoint, MockProvider};
    ///
    /// let mock = MockProvider::start(handshake_profile::Profile::builtin("capsule").unwrap()).await;
    /// mock.expect(Endpoint::Token).times(1);
    /// let err = mock.verify().unwrap_err();
    /// assert_eq!(err.unmet[0].received, 0);
    /// assert!(err.to_string().contains("expected exactly 1 token request(s), received 0"));
    /// assert_eq!(mock.verify(), Ok(())); // retired
    /// # }
    /// ```
    pub fn verify(&self) -> Result<(), VerifyError> {
        self.expectations.verify(&self.shared)
    }

    /// The CA certificate (PEM) to trust when the mock serves HTTPS.
    pub fn ca_cert_pem(&self) -> Option<&str> {
        self.ca_pem.as_deref()
    }

    /// Where the CA certificate is kept, when the mock serves HTTPS with a
    /// [`MockProviderBuilder::tls_dir`]: the file to give an app to trust
    /// (`NODE_EXTRA_CA_CERTS`, `SSL_CERT_FILE`, `REQUESTS_CA_BUNDLE`).
    pub fn ca_cert_path(&self) -> Option<&std::path::Path> {
        self.ca_path.as_deref()
    }
}

impl Drop for MockProvider {
    /// Shuts the server down, then checks the expectations ([`MockProvider::expect`]) not yet
    /// verified, panicking with what was expected and what arrived, unless the thread is
    /// already panicking (a failed assertion is not hidden behind a second panic).
    fn drop(&mut self) {
        self.handle.shutdown();
        if std::thread::panicking() {
            return;
        }
        if let Err(e) = self.expectations.verify(&self.shared) {
            panic!("{e}");
        }
    }
}

impl fmt::Debug for MockProvider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MockProvider")
            .field("provider", &self.shared.profile.id)
            .field("uri", &self.shared.base_url)
            .field("client", &self.shared.client)
            .field("auto_approve", &self.shared.auto_approve)
            .finish_non_exhaustive()
    }
}

/// Configuration of a [`MockProvider`] before it starts.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// use handshake_mock::MockProvider;
///
/// let mock = MockProvider::builder(handshake_profile::Profile::builtin("insightly").unwrap())
///     .client_id("my-app")
///     .client_secret("s3cret")
///     .redirect_uri("http://localhost:8080/oauth/callback")
///     .redirect_uri("http://127.0.0.1:8080/oauth/callback")
///     .auto_approve(true)
///     .start()
///     .await
///     .unwrap();
/// assert_eq!(mock.client().redirect_uris.len(), 2);
/// # }
/// ```
#[must_use]
pub struct MockProviderBuilder {
    profile: Profile,
    client: RegisteredClient,
    redirect_overridden: bool,
    auto_approve: bool,
    host: IpAddr,
    port: u16,
    tls: bool,
    tls_dir: Option<std::path::PathBuf>,
    native: NativeCredentials,
    seed: u64,
    dataset_size: Option<u32>,
    rate_limit: Option<(u32, Duration)>,
    users: Vec<String>,
    conn: ConnSettings,
}

impl fmt::Debug for MockProviderBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MockProviderBuilder")
            .field("provider", &self.profile.id)
            .field("client", &self.client)
            .field("auto_approve", &self.auto_approve)
            .field("host", &self.host)
            .field("port", &self.port)
            .field("tls", &self.tls)
            .field("tls_dir", &self.tls_dir)
            .field("native", &self.native)
            .field("seed", &self.seed)
            .field("dataset_size", &self.dataset_size)
            .field("rate_limit", &self.rate_limit)
            .field("users", &self.users)
            .field("conn", &self.conn)
            .finish()
    }
}

impl MockProviderBuilder {
    /// Registers this client instead of the default one.
    pub fn client(mut self, client: RegisteredClient) -> Self {
        self.client = client;
        self.redirect_overridden = true;
        self
    }

    /// Sets the client id.
    pub fn client_id(mut self, id: impl Into<String>) -> Self {
        self.client.client_id = id.into();
        self
    }

    /// Sets the client secret.
    pub fn client_secret(mut self, secret: impl Into<String>) -> Self {
        self.client.client_secret = crate::ClientSecret::new(secret);
        self
    }

    /// Registers a redirect URI. The first call replaces the default; later calls add more.
    pub fn redirect_uri(mut self, uri: impl Into<String>) -> Self {
        if !self.redirect_overridden {
            self.client.redirect_uris.clear();
            self.redirect_overridden = true;
        }
        self.client.redirect_uris.push(uri.into());
        self
    }

    /// Skip the consent page: the authorization endpoint redirects with a code at once.
    pub fn auto_approve(mut self, yes: bool) -> Self {
        self.auto_approve = yes;
        self
    }

    /// Identify the mock in authorization responses (RFC 9207), whatever the profile's
    /// `oauth.iss_parameter` says: every redirect back to the client, success or error,
    /// carries `iss` (the profile's `oauth.issuer`, else [`MockProvider::uri`]), and the
    /// metadata says `"authorization_response_iss_parameter_supported": true`. The change is
    /// made to the mock's [`profile`](MockProvider::profile), so a client configured from it
    /// expects `iss`.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// use handshake_mock::MockProvider;
    ///
    /// let mock = MockProvider::builder(handshake_profile::Profile::builtin("redtail").unwrap())
    ///     .iss_parameter(true)
    ///     .auto_approve(true)
    ///     .start()
    ///     .await
    ///     .unwrap();
    /// assert!(mock.profile().oauth.iss_parameter);
    /// assert_eq!(mock.metadata()["authorization_response_iss_parameter_supported"], true);
    /// let resp = reqwest::Client::builder()
    ///     .redirect(reqwest::redirect::Policy::none())
    ///     .build()
    ///     .unwrap()
    ///     .get(mock.authorize_url())
    ///     .query(&[("response_type", "code"), ("client_id", "handshake-client"), ("state", "s")])
    ///     .send()
    ///     .await
    ///     .unwrap();
    /// let location = url::Url::parse(resp.headers()["location"].to_str().unwrap()).unwrap();
    /// let iss = location.query_pairs().find(|(k, _)| k == "iss").unwrap().1.into_owned();
    /// assert_eq!(iss, mock.uri());
    /// # }
    /// ```
    pub fn iss_parameter(mut self, yes: bool) -> Self {
        self.profile.oauth.iss_parameter = yes;
        self
    }

    /// Address to listen on (default `127.0.0.1`).
    pub fn host(mut self, host: IpAddr) -> Self {
        self.host = host;
        self
    }

    /// Port to listen on (default 0: any free port).
    pub fn port(mut self, port: u16) -> Self {
        self.port = port;
        self
    }

    /// Serve HTTPS with a certificate generated at start, signed by a CA the client must
    /// trust ([`MockProvider::ca_cert_pem`]). The CA is made at start too, unless
    /// [`MockProviderBuilder::tls_dir`] keeps it.
    pub fn tls(mut self, yes: bool) -> Self {
        self.tls = yes;
        self
    }

    /// With [`tls`](MockProviderBuilder::tls): keep the CA in `dir` (`ca.pem`, and
    /// `ca-key.pem` readable by its owner only; the directory is created) and reuse it at
    /// every start, so a client that trusts `ca.pem` keeps working when the mock restarts.
    /// Only the server's leaf certificate is new at each start.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// use handshake_mock::MockProvider;
    ///
    /// let dir = tempfile::tempdir().unwrap();
    /// let start = || {
    ///     MockProvider::builder(handshake_profile::Profile::builtin("capsule").unwrap())
    ///         .tls(true)
    ///         .tls_dir(dir.path())
    ///         .start()
    /// };
    /// let first = start().await.unwrap();
    /// let trusted = first.ca_cert_pem().unwrap().to_owned();
    /// assert_eq!(first.ca_cert_path().unwrap(), dir.path().join("ca.pem"));
    /// drop(first);
    /// let second = start().await.unwrap();
    /// assert_eq!(second.ca_cert_pem().unwrap(), trusted);
    /// # }
    /// ```
    pub fn tls_dir(mut self, dir: impl Into<std::path::PathBuf>) -> Self {
        self.tls_dir = Some(dir.into());
        self
    }

    /// Credentials the CRM's native scheme accepts (default [`NativeCredentials::default`]).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// use handshake_mock::{MockProvider, NativeCredentials};
    ///
    /// let mock = MockProvider::builder(handshake_profile::Profile::builtin("agilecrm").unwrap())
    ///     .native_credentials(NativeCredentials::default().with_email("ada@example.com").with_api_key("k1"))
    ///     .start()
    ///     .await
    ///     .unwrap();
    /// let resp = reqwest::Client::new()
    ///     .get(mock.api_url())
    ///     .basic_auth("ada@example.com", Some("k1"))
    ///     .header("accept", "application/json")
    ///     .send()
    ///     .await
    ///     .unwrap();
    /// assert_eq!(resp.status(), 200);
    /// # }
    /// ```
    pub fn native_credentials(mut self, credentials: NativeCredentials) -> Self {
        self.native = credentials;
        self
    }

    /// Seed of the generated data set (default [`MockProvider::DEFAULT_SEED`]): the same seed
    /// gives the same records.
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// Number of records in the data set instead of the profile's `api.dataset.count` (0 for
    /// an empty list).
    pub fn dataset_size(mut self, count: u32) -> Self {
        self.dataset_size = Some(count);
        self
    }

    /// Allow `limit` API requests per `window` for each OAuth grant and for the native
    /// credentials, instead of the profile's `rate_limit` (headers and 429 body still follow
    /// the profile). Windows follow the virtual clock:
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// use std::time::Duration;
    /// use handshake_mock::MockProvider;
    ///
    /// let mock = MockProvider::builder(handshake_profile::Profile::builtin("connectwise").unwrap())
    ///     .rate_limit(1, Duration::from_secs(60))
    ///     .start()
    ///     .await
    ///     .unwrap();
    /// let c = mock.native_credentials();
    /// let call = || {
    ///     reqwest::Client::new()
    ///         .get(mock.api_url())
    ///         .basic_auth(format!("{}+{}", c.company_id(), c.public_key()), Some(c.private_key()))
    ///         .header("clientId", c.integration_client_id())
    ///         .send()
    /// };
    /// assert_eq!(call().await.unwrap().status(), 200);
    /// let limited = call().await.unwrap();
    /// assert_eq!(limited.status(), 429);
    /// assert_eq!(limited.headers()["retry-after"], "60");
    /// mock.advance_clock(Duration::from_secs(60));
    /// assert_eq!(call().await.unwrap().status(), 200);
    /// # }
    /// ```
    pub fn rate_limit(mut self, limit: u32, window: Duration) -> Self {
        self.rate_limit = Some((limit, window));
        self
    }

    /// The user accounts (default [`MockProvider::DEFAULT_USERS`], `alice` and `bob`): at
    /// least one and at most 16, distinct, each 1 to 64 characters of `[A-Za-z0-9._-]`
    /// (checked at start: [`MockError::Config`]). The first is the one auto-approve signs in
    /// as and the one the native credentials belong to; the consent page's "Signed in as"
    /// field starts with it, and a browser approves as another by changing the field (a
    /// form post with `user=bob`). Each user's grants read that user's data
    /// ([`MockProvider::records_for`]).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// use handshake_mock::MockProvider;
    ///
    /// let profile = handshake_profile::Profile::builtin("insightly").unwrap();
    /// let mock = MockProvider::builder(profile.clone())
    ///     .users(["ada", "grace", "edsger"])
    ///     .start()
    ///     .await
    ///     .unwrap();
    /// assert_eq!(mock.users(), ["ada", "grace", "edsger"]);
    /// let err = MockProvider::builder(profile).users(["no spaces"]).start().await.unwrap_err();
    /// assert!(err.to_string().contains("may contain only"));
    /// # }
    /// ```
    pub fn users(mut self, users: impl IntoIterator<Item = impl Into<String>>) -> Self {
        self.users = users.into_iter().map(Into::into).collect();
        self
    }

    /// Connections served at once (default
    /// [`limits::MAX_CONNECTIONS`](crate::limits::MAX_CONNECTIONS), at least 1). One more is
    /// answered `503 Service Unavailable` with `{"error":"temporarily_unavailable",...}` and
    /// `Retry-After: 1`, then closed (over TLS, closed without an answer). A connection
    /// counts until it closes, so the header-read timeout frees the slots of slow clients.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// use handshake_mock::MockProvider;
    ///
    /// let mock = MockProvider::builder(handshake_profile::Profile::builtin("capsule").unwrap())
    ///     .max_connections(1)
    ///     .start()
    ///     .await
    ///     .unwrap();
    /// let held = std::net::TcpStream::connect(mock.addr()).unwrap();
    /// # tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    /// let resp = reqwest::get(format!("{}/__handshake/healthz", mock.uri())).await.unwrap();
    /// assert_eq!(resp.status(), 503);
    /// assert_eq!(resp.headers()["retry-after"], "1");
    /// # drop(held);
    /// # }
    /// ```
    pub fn max_connections(mut self, n: usize) -> Self {
        self.conn.max_connections = n.max(1);
        self
    }

    /// Time a connection has to send a request's complete headers, from its opening or from
    /// the end of the previous response (default
    /// [`limits::HEADER_READ_TIMEOUT`](crate::limits::HEADER_READ_TIMEOUT), at least 1 ms).
    /// When it passes the connection is closed: a client sending its headers a byte at a
    /// time (slowloris) and an idle keep-alive connection alike.
    pub fn header_read_timeout(mut self, timeout: Duration) -> Self {
        self.conn.header_read_timeout = timeout.max(Duration::from_millis(1));
        self
    }

    fn settings(self, base_url: String) -> Settings {
        Settings {
            profile: self.profile,
            client: self.client,
            auto_approve: self.auto_approve,
            base_url,
            native: self.native,
            seed: self.seed,
            dataset_size: self.dataset_size,
            rate_limit: self.rate_limit,
            users: self.users,
        }
    }

    fn validate(&self) -> Result<(), MockError> {
        crate::users::validate(&self.users)?;
        if let Some(n) = &self.profile.native_auth {
            self.native.validate(n.scheme)?;
        }
        if self
            .dataset_size
            .is_some_and(|n| n > handshake_profile::MAX_DATASET_COUNT)
        {
            return Err(MockError::Config(format!(
                "dataset_size must be at most {}",
                handshake_profile::MAX_DATASET_COUNT
            )));
        }
        if let Some((limit, window)) = self.rate_limit {
            if limit == 0 || window.is_zero() {
                return Err(MockError::Config(
                    "rate_limit needs a limit of at least 1 and a window longer than 0".into(),
                ));
            }
        }
        let bad_profile = |reason: String| MockError::Profile {
            profile: self.profile.id.clone(),
            reason,
        };
        let paths = router::served_paths(&self.profile);
        for (i, (key, path)) in paths.iter().enumerate() {
            if path.contains(['{', '}', '*']) {
                return Err(bad_profile(format!(
                    "{key} {path:?} contains a character reserved by the router ({{ }} *)"
                )));
            }
            if let Some((other, _)) = paths[..i].iter().find(|(_, p)| p == path) {
                return Err(bad_profile(format!(
                    "{key} and {other} are both {path:?}; each endpoint needs its own path"
                )));
            }
        }
        let c = &self.client;
        if c.client_id.is_empty() {
            return Err(MockError::Client("client_id must not be empty".into()));
        }
        if c.redirect_uris.is_empty() {
            return Err(MockError::Client(
                "at least one redirect URI is required".into(),
            ));
        }
        for uri in &c.redirect_uris {
            match url::Url::parse(uri) {
                Ok(u) if u.fragment().is_some() => {
                    return Err(MockError::Client(format!(
                        "redirect URI {uri:?} must not contain a fragment (RFC 6749 §3.1.2)"
                    )))
                }
                Ok(u) if u.cannot_be_a_base() => {
                    return Err(MockError::Client(format!(
                        "redirect URI {uri:?} must be an absolute URL"
                    )))
                }
                Ok(_) => {}
                Err(e) => {
                    return Err(MockError::Client(format!(
                        "redirect URI {uri:?} is not a URL: {e}"
                    )))
                }
            }
        }
        Ok(())
    }

    /// The mock as an in-process [`axum::Router`], without a socket, for `tower::ServiceExt::
    /// oneshot` tests. URLs in its metadata use `http://localhost`.
    pub fn into_router(self) -> Result<axum::Router, MockError> {
        self.validate()?;
        let shared = Shared::new(self.settings("http://localhost".to_owned()));
        Ok(router::app(Arc::new(shared)))
    }

    /// Binds the socket and starts serving on a background task.
    pub async fn start(self) -> Result<MockProvider, MockError> {
        self.validate()?;
        let addr = SocketAddr::new(self.host, self.port);
        let bind_err = |source| MockError::Bind { addr, source };
        let listener = std::net::TcpListener::bind(addr).map_err(bind_err)?;
        listener.set_nonblocking(true).map_err(bind_err)?;
        let local = listener.local_addr().map_err(bind_err)?;
        let shown = if local.ip().is_unspecified() {
            SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), local.port())
        } else {
            local
        };
        let scheme = if self.tls { "https" } else { "http" };
        let ca = match (self.tls, &self.tls_dir) {
            (false, _) => None,
            (true, None) => Some(crate::tls::Ca::throwaway()?),
            (true, Some(dir)) => Some(crate::tls::Ca::in_dir(dir)?),
        };
        let conn = self.conn;
        let shared = Arc::new(Shared::new(self.settings(format!("{scheme}://{shown}"))));
        let body_timeout = u64::try_from(conn.header_read_timeout.as_millis()).unwrap_or(u64::MAX);
        shared
            .body_timeout_ms
            .store(body_timeout, std::sync::atomic::Ordering::Relaxed);
        let app = router::service(shared.clone());
        let handle = axum_server::Handle::new();
        let ca_path = ca.as_ref().and_then(|ca| ca.path.clone());
        let ca_pem = if let Some(ca) = ca {
            let config = ca.server_config(local.ip())?;
            let mut server =
                axum_server::from_tcp_rustls(listener, RustlsConfig::from_config(config))
                    .map(|tls| tls.acceptor(conn.acceptor(false)))
                    .handle(handle.clone());
            conn.configure(server.http_builder());
            tokio::spawn(async move {
                if let Err(e) = server.serve(make_service(app)).await {
                    tracing::error!(error = %e, "handshake-mock server stopped");
                }
            });
            Some(ca.pem)
        } else {
            let mut server = axum_server::from_tcp(listener)
                .acceptor(conn.acceptor(true))
                .handle(handle.clone());
            conn.configure(server.http_builder());
            tokio::spawn(async move {
                if let Err(e) = server.serve(make_service(app)).await {
                    tracing::error!(error = %e, "handshake-mock server stopped");
                }
            });
            None
        };
        Ok(MockProvider {
            shared,
            addr: local,
            handle,
            ca_pem,
            ca_path,
            expectations: Expectations::default(),
        })
    }
}

/// The server's service factory: every connection gets a clone of the application.
fn make_service(app: Observed) -> axum::routing::IntoMakeService<Observed> {
    axum::ServiceExt::<axum::http::Request<hyper::body::Incoming>>::into_make_service(app)
}

/// First stage of [`MockProvider::fail_next`]: choose how the endpoint fails.
#[must_use = "a fault does nothing until you choose how it fails and call .mount()"]
pub struct FaultBuilder<'a> {
    mock: &'a MockProvider,
    endpoint: Endpoint,
}

impl fmt::Debug for FaultBuilder<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FaultBuilder")
            .field("endpoint", &self.endpoint)
            .finish()
    }
}

impl<'a> FaultBuilder<'a> {
    fn kind(self, kind: FaultKind) -> ArmedFault<'a> {
        ArmedFault {
            mock: self.mock,
            fault: Fault {
                endpoint: self.endpoint,
                kind,
                times: 1,
            },
        }
    }

    /// Answer with this OAuth error (RFC 6749 JSON; at the authorization endpoint, an error
    /// redirect when the client and redirect URI are valid).
    pub fn with(self, error: OAuthError) -> ArmedFault<'a> {
        self.kind(FaultKind::OauthError { error })
    }

    /// Answer with this HTTP status and an RFC 6749 error body.
    ///
    /// # Panics
    /// If `status` is not in 100–599.
    pub fn with_status(self, status: u16) -> ArmedFault<'a> {
        assert!(
            (100..=599).contains(&status),
            "{status} is not an HTTP status"
        );
        self.kind(FaultKind::Status { status })
    }

    /// Wait before handling the request normally.
    pub fn with_delay(self, delay: Duration) -> ArmedFault<'a> {
        let delay_ms = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX);
        self.kind(FaultKind::Delay { delay_ms })
    }

    /// Close the connection without answering.
    pub fn drop_connection(self) -> ArmedFault<'a> {
        self.kind(FaultKind::Drop)
    }

    /// Trip the CRM's own rate limit ([`FaultKind::RateLimited`]): authenticated API calls
    /// get exactly the 429 the CRM sends when a window is used up, for `retry_after`
    /// (rounded up to whole seconds, at least 1) from the first one, at most
    /// [`ArmedFault::times`] of them; then calls pass again.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// use std::time::Duration;
    /// use handshake_mock::{Endpoint, MockProvider};
    ///
    /// let mock = MockProvider::start(handshake_profile::Profile::builtin("connectwise").unwrap()).await;
    /// mock.fail_next(Endpoint::Api).rate_limited(Duration::from_secs(1)).times(5).mount();
    /// let c = mock.native_credentials();
    /// let call = || {
    ///     reqwest::Client::new()
    ///         .get(mock.api_url())
    ///         .basic_auth(format!("{}+{}", c.company_id(), c.public_key()), Some(c.private_key()))
    ///         .header("clientId", c.integration_client_id())
    ///         .send()
    /// };
    /// let limited = call().await.unwrap();
    /// assert_eq!(limited.status(), 429);
    /// assert_eq!(limited.headers()["retry-after"], "1"); // ConnectWise sends Retry-After
    /// assert_eq!(call().await.unwrap().status(), 429, "too early: still limited");
    /// mock.advance_clock(Duration::from_secs(1)); // or wait a second
    /// assert_eq!(call().await.unwrap().status(), 200);
    /// # }
    /// ```
    ///
    /// # Panics
    /// If the endpoint is not [`Endpoint::Api`]: only the API has a rate limit.
    pub fn rate_limited(self, retry_after: Duration) -> ArmedFault<'a> {
        assert!(
            self.endpoint == Endpoint::Api,
            "rate_limited applies to Endpoint::Api only, not {}",
            self.endpoint
        );
        let secs = retry_after.as_secs() + u64::from(retry_after.subsec_nanos() > 0);
        self.kind(FaultKind::RateLimited {
            retry_after_secs: secs.max(1),
        })
    }
}

/// A fault ready to mount. Mounting is synchronous: the next matching request sees it.
#[must_use = "a fault does nothing until .mount()"]
#[derive(Debug)]
pub struct ArmedFault<'a> {
    mock: &'a MockProvider,
    fault: Fault,
}

impl ArmedFault<'_> {
    /// How many requests fail (default 1).
    pub fn times(mut self, n: u32) -> Self {
        self.fault.times = n;
        self
    }

    /// The fault as data (the JSON shape of `POST /__handshake/faults`).
    pub fn fault(&self) -> &Fault {
        &self.fault
    }

    /// Arms the fault.
    pub fn mount(self) {
        self.mock.shared.arm(self.fault);
    }
}
