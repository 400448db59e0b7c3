//! Black-box conformance of any client app: the harness plays the user's browser and a CRM
//! that turns hostile between runs.
//!
//! Point it at an app's login URL (and, optionally, its API and logout routes). The app must
//! be configured with a mock provider's URLs (what `handshake serve <crm>` prints); the
//! harness then:
//!
//! 1. opens the login URL with its own cookie jar, following redirects by hand, and checks the
//!    authorization request the app sends the user to;
//! 2. approves at the mock's consent page and delivers the callback to the app;
//! 3. calls the API route while the mock answers with the CRM's own 429 for one second
//!    (its body, `X-RateLimit-*` and `Retry-After` as the CRM sends them), expires the access
//!    token at the mock and calls the route again, then logs out;
//! 4. logs in again in a second browser, replays a used state, revokes the grant at the mock
//!    and calls the API route;
//! 5. in fresh browsers, delivers callbacks with a forged state, without state, and with
//!    `error=access_denied`.
//!
//! It judges the app only by what crosses the wire: the requests the app sends the mock (its
//! journal) and the app's answers to the browser. Each check cites the clause it enforces and
//! reports passed, failed, warning or skipped with a reason and a one-line fix; see
//! [`ClientCheckId`]. A run against an app that passes everything takes under five seconds:
//! negative checks wait only [`ClientCheck::negative_wait`] (300 ms) for a request that must
//! not come, and the rate limit holds for one second (an app that waits until a whole-second
//! `X-RateLimit-Reset` waits up to two).
//!
//! ```no_run
//! # async fn demo() -> Result<(), handshake_conformance::ClientCheckError> {
//! use handshake_conformance::{check_client, ClientCheckConfig};
//! use handshake_profile::Profile;
//!
//! let login = "http://127.0.0.1:3000/login".parse().unwrap();
//! let mut config = ClientCheckConfig::new(Profile::builtin("capsule").unwrap(), 4000, login);
//! config.api_url = Some("http://127.0.0.1:3000/api".parse().unwrap());
//! config.logout_url = Some("http://127.0.0.1:3000/logout".parse().unwrap());
//! let report = check_client(config).await?;
//! print!("{}", report.to_pretty());
//! # Ok(()) }
//! ```
//!
//! Against a mock you started yourself (tests), use [`ClientCheck::run`]; against a
//! `handshake serve` that is already running, [`ClientCheck::run_remote`] with a
//! [`RemoteMock`] (or [`ClientCheckConfig::mock_url`]). A running mock is not reset: its
//! journal keeps what came before, and the run judges only the requests that arrive after it
//! starts.

mod app;
mod checks;

mod leak;
mod mock;
mod run;
mod trace;

use std::fmt;
use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use handshake_mock::{MockError, MockProvider, RegisteredClient};
use handshake_profile::Profile;
use url::Url;

use crate::report::Report;

pub use app::{app_env, AppCommand};
pub use checks::ClientCheckId;
pub use mock::{RemoteMock, RemoteMockBuilder};

/// A black-box check of one client app, run against a mock you started.
///
/// ```no_run
/// # async fn demo() {
/// use handshake_conformance::ClientCheck;
/// use handshake_mock::MockProvider;
/// use handshake_profile::Profile;
///
/// let mock = MockProvider::builder(Profile::builtin("capsule").unwrap())
///     .redirect_uri("http://127.0.0.1:3000/callback")
///     .start()
///     .await
///     .unwrap();
/// // ... start the app with the mock's URLs, then:
/// let report = ClientCheck::new("http://127.0.0.1:3000/login".parse().unwrap())
///     .api_url("http://127.0.0.1:3000/api".parse().unwrap())
///     .run(&mock)
///     .await
///     .unwrap();
/// assert!(report.is_success(), "{}", report.to_pretty());
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct ClientCheck {
    login_url: Url,
    api_url: Option<Url>,
    logout_url: Option<Url>,
    list_url: Option<Url>,
    timeout: Duration,
    negative_wait: Duration,
    app: Option<AppCommand>,
}

impl ClientCheck {
    /// Default time the app gets to answer one request.
    pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);
    /// Default time a negative check waits for a request that must not come.
    pub const DEFAULT_NEGATIVE_WAIT: Duration = Duration::from_millis(300);

    /// Checks the app whose login starts at `login_url`.
    pub fn new(login_url: Url) -> Self {
        ClientCheck {
            login_url,
            api_url: None,
            logout_url: None,
            list_url: None,
            timeout: Self::DEFAULT_TIMEOUT,
            negative_wait: Self::DEFAULT_NEGATIVE_WAIT,
            app: None,
        }
    }

    /// Starts the app itself with the mock's settings in its environment ([`app_env`]),
    /// waits until it listens on the login URL's port, restarts it whenever a request kills
    /// or hangs it (the `app-survives` check says which), and stops it (its whole process
    /// group) when the run ends.
    pub fn app(mut self, app: AppCommand) -> Self {
        self.app = Some(app);
        self
    }

    /// The app's route that returns every record of the CRM's list resource as JSON (an
    /// array, or an object holding one), for the `paging-complete` check; skipped without.
    pub fn list_url(mut self, url: Url) -> Self {
        self.list_url = Some(url);
        self
    }

    /// The app's route that calls the CRM API with the user's token. Without it, the expiry,
    /// revocation and rate-limit checks are skipped.
    pub fn api_url(mut self, url: Url) -> Self {
        self.api_url = Some(url);
        self
    }

    /// The app's logout route (GET, or POST when GET answers 404/405). Without it, the
    /// logout check is skipped.
    pub fn logout_url(mut self, url: Url) -> Self {
        self.logout_url = Some(url);
        self
    }

    /// How long the app may take to answer one request (default 5 s).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// How long a negative check waits for a token or refresh request that must not come
    /// (default 300 ms). Raise it for apps that call the provider in the background.
    pub fn negative_wait(mut self, wait: Duration) -> Self {
        self.negative_wait = wait;
        self
    }

    /// Runs every check against the app, using `mock` as the provider. The mock must have
    /// the app's callback registered as its (first) redirect URI, and should serve no one
    /// else meanwhile: its journal is read as the app's. Keep its consent page on: with
    /// auto-approve there is no way to deny, and the access-denied check is skipped.
    ///
    /// Failures of the app are cases in the report, not errors.
    pub async fn run(&self, mock: &MockProvider) -> Result<Report, ClientCheckError> {
        run::Runner::new(self, mock::MockHandle::Local(mock))?
            .run()
            .await
    }

    /// Runs every check against the app, using a running `handshake serve` mock, driven
    /// through its control API (`/__handshake/*`). The app's callback must be the mock's
    /// first registered redirect URI (the `OAUTH_REDIRECT_URI` that `serve` prints).
    ///
    /// The mock is not reset first: its journal may hold requests from before (you may be
    /// reading it), and only those that arrive after this run starts are judged. The run
    /// changes the mock as a local run does: it expires and revokes every grant, arms and
    /// then clears faults (yours too), and may relax a requirement the app is blocked on,
    /// which lasts until `POST /__handshake/reset` (the report's notes say so). Nothing else
    /// should use the mock meanwhile.
    ///
    /// A mock that stops answering its control API mid-run is an error
    /// ([`ClientCheckError::MockUnreachable`]), not a report: the verdicts could not stand.
    ///
    /// ```no_run
    /// # async fn demo() -> Result<(), handshake_conformance::ClientCheckError> {
    /// use handshake_conformance::{ClientCheck, RemoteMock};
    ///
    /// let mock = RemoteMock::connect("http://127.0.0.1:8080".parse().unwrap()).await?;
    /// let report = ClientCheck::new("http://127.0.0.1:3000/login".parse().unwrap())
    ///     .api_url("http://127.0.0.1:3000/api".parse().unwrap())
    ///     .run_remote(&mock)
    ///     .await?;
    /// assert!(report.is_success(), "{}", report.to_pretty());
    /// # Ok(()) }
    /// ```
    pub async fn run_remote(&self, mock: &RemoteMock) -> Result<Report, ClientCheckError> {
        run::Runner::new(self, mock::MockHandle::Remote(mock))?
            .run()
            .await
    }
}

/// Everything `handshake check-client` needs: the provider to mock, where to serve it (or
/// the running mock to use), the registered client, and the app's routes.
#[derive(Clone)]
#[non_exhaustive]
pub struct ClientCheckConfig {
    /// Provider to emulate. With [`mock_url`](Self::mock_url) it is optional: the running
    /// mock's provider is judged by its built-in profile, or by this one (whose id must be
    /// the mock's).
    pub profile: Option<Profile>,
    /// Use the `handshake serve` mock already running at this URL, through its control API,
    /// instead of starting one ([`ClientCheck::run_remote`]). `mock_host`, `mock_port`,
    /// `client_id` and `redirect_uri` are then the mock's own, and ignored here; give
    /// `client_secret` as the mock was started with.
    pub mock_url: Option<Url>,
    /// Address the mock listens on (default 127.0.0.1).
    pub mock_host: IpAddr,
    /// Port the mock listens on: the one in the app's `.env`.
    pub mock_port: u16,
    /// Registered `client_id` (default `handshake-client`).
    pub client_id: String,
    /// Registered `client_secret` (default `handshake-secret`). Redacted in `Debug`. With
    /// `mock_url`, it only goes into the app's environment (`--app-cmd`) and is redacted
    /// from the app's output: the mock has its own.
    pub client_secret: String,
    /// Registered redirect URI: the app's callback (default `http://localhost:3000/callback`).
    pub redirect_uri: String,
    /// The app's login route.
    pub login_url: Url,
    /// The app's API route, if any.
    pub api_url: Option<Url>,
    /// The app's logout route, if any.
    pub logout_url: Option<Url>,
    /// The app's route that returns every record of the list resource (`--list-url`).
    pub list_url: Option<Url>,
    /// How long the app may take to answer one request.
    pub timeout: Duration,
    /// How long negative checks wait for a request that must not come.
    pub negative_wait: Duration,
    /// Start (and restart) the app with this command (`--app-cmd`).
    pub app: Option<AppCommand>,
    /// Serve the mock over HTTPS (`--tls`). The runner's browser trusts its CA, and an app
    /// started with `app` gets the CA file as `NODE_EXTRA_CA_CERTS`, `SSL_CERT_FILE` and
    /// `REQUESTS_CA_BUNDLE`.
    pub tls: bool,
    /// With `tls`: the directory the mock's CA is kept in across runs
    /// ([`MockProviderBuilder::tls_dir`](handshake_mock::MockProviderBuilder::tls_dir)), so
    /// an app started by hand that trusts it once keeps trusting it, and an app started
    /// with `app` is told its file; `None`: a CA made for the run, which only the runner's
    /// browser trusts.
    pub tls_dir: Option<std::path::PathBuf>,
}

impl ClientCheckConfig {
    /// A configuration with the defaults `handshake serve` uses for the client.
    pub fn new(profile: Profile, mock_port: u16, login_url: Url) -> Self {
        Self::with(Some(profile), None, mock_port, login_url)
    }

    /// A configuration that drives the `handshake serve` mock running at `mock_url`, with
    /// the provider it serves and the default client secret.
    ///
    /// ```
    /// use handshake_conformance::ClientCheckConfig;
    ///
    /// let config = ClientCheckConfig::remote(
    ///     "http://127.0.0.1:8080".parse().unwrap(),
    ///     "http://127.0.0.1:3000/login".parse().unwrap(),
    /// );
    /// assert!(config.profile.is_none());
    /// assert!(!format!("{config:?}").contains("handshake-secret"));
    /// ```
    pub fn remote(mock_url: Url, login_url: Url) -> Self {
        Self::with(None, Some(mock_url), 0, login_url)
    }

    fn with(
        profile: Option<Profile>,
        mock_url: Option<Url>,
        mock_port: u16,
        login_url: Url,
    ) -> Self {
        ClientCheckConfig {
            profile,
            mock_url,
            mock_host: IpAddr::V4(Ipv4Addr::LOCALHOST),
            mock_port,
            client_id: RegisteredClient::DEFAULT_ID.to_owned(),
            client_secret: RegisteredClient::DEFAULT_SECRET.to_owned(),
            redirect_uri: RegisteredClient::DEFAULT_REDIRECT_URI.to_owned(),
            login_url,
            api_url: None,
            logout_url: None,
            list_url: None,
            timeout: ClientCheck::DEFAULT_TIMEOUT,
            negative_wait: ClientCheck::DEFAULT_NEGATIVE_WAIT,
            app: None,
            tls: false,
            tls_dir: None,
        }
    }
}

impl fmt::Debug for ClientCheckConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientCheckConfig")
            .field("profile", &self.profile.as_ref().map(|p| &p.id))
            .field("mock_url", &self.mock_url.as_ref().map(Url::as_str))
            .field("mock_host", &self.mock_host)
            .field("mock_port", &self.mock_port)
            .field("client_id", &self.client_id)
            .field("client_secret", &handshake_profile::Redacted)
            .field("redirect_uri", &self.redirect_uri)
            .field("login_url", &self.login_url.as_str())
            .field("api_url", &self.api_url.as_ref().map(Url::as_str))
            .field("logout_url", &self.logout_url.as_ref().map(Url::as_str))
            .field("list_url", &self.list_url.as_ref().map(Url::as_str))
            .field("timeout", &self.timeout)
            .field("negative_wait", &self.negative_wait)
            .field("app", &self.app)
            .field("tls", &self.tls)
            .field("tls_dir", &self.tls_dir)
            .finish()
    }
}

/// Starts a mock of `config.profile` on `config.mock_host:config.mock_port` (consent page on)
/// and checks the app against it; the mock stops when the run ends. With
/// `config.mock_url`, drives the mock running there instead ([`ClientCheck::run_remote`]).
pub async fn check_client(config: ClientCheckConfig) -> Result<Report, ClientCheckError> {
    let mut check = ClientCheck::new(config.login_url)
        .timeout(config.timeout)
        .negative_wait(config.negative_wait);
    check.api_url = config.api_url;
    check.logout_url = config.logout_url;
    check.list_url = config.list_url;
    check.app = config.app;
    if let Some(url) = config.mock_url {
        let mut remote = RemoteMock::builder(url).client_secret(config.client_secret);
        if let Some(profile) = config.profile {
            remote = remote.profile(profile);
        }
        return check.run_remote(&remote.connect().await?).await;
    }
    let profile = config.profile.ok_or_else(|| {
        ClientCheckError::Config(
            "no provider profile to mock: set `profile`, or `mock_url` for a running mock"
                .to_owned(),
        )
    })?;
    let mut builder = MockProvider::builder(profile)
        .host(config.mock_host)
        .port(config.mock_port)
        .client_id(config.client_id)
        .client_secret(config.client_secret)
        .redirect_uri(config.redirect_uri)
        .auto_approve(false)
        .tls(config.tls);
    if let (true, Some(dir)) = (config.tls, config.tls_dir) {
        builder = builder.tls_dir(dir);
    }
    let mock = builder.start().await.map_err(ClientCheckError::Mock)?;
    check.run(&mock).await
}

/// A black-box check could not run at all. (What the app does wrong is in the report.)
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClientCheckError {
    /// The mock provider could not start (port taken, unusable profile).
    #[error("cannot start the mock provider: {0}")]
    Mock(#[source] MockError),
    /// The harness's HTTP client could not be built.
    #[error("cannot build the harness's HTTP client")]
    Http(#[source] reqwest::Error),
    /// The configuration cannot work.
    #[error("{0}")]
    Config(String),
    /// Nothing answers at the app's login URL when the run starts: a setup error, not a
    /// finding (start the app, or pass `--app-cmd`).
    #[error("the app is not reachable at {url}: {why} (is it running? or let check-client start it with --app-cmd)")]
    AppUnreachable {
        /// The login URL tried.
        url: String,
        /// What happened.
        why: String,
    },
    /// The app given with `--app-cmd` could not be started.
    #[error("cannot start the app: {0}")]
    App(String),
    /// No handshake mock answers at the URL given (`--mock-url`): nothing listens there, or
    /// something that is not a handshake mock; or the mock stopped answering its control
    /// API during the run. A setup error, not a finding.
    #[error("no handshake mock at {url}: {why}")]
    MockUnreachable {
        /// The mock URL tried.
        url: String,
        /// What happened.
        why: String,
    },
    /// The running mock cannot be judged by the profile given, or by any built-in one.
    #[error("the mock at {url} does not match: {why}")]
    MockProfile {
        /// The mock URL.
        url: String,
        /// The mismatch.
        why: String,
    },
}
