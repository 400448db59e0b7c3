//! The mock a black-box run drives: one started in-process ([`MockProvider`]), or a running
//! `handshake serve` reached through its control API (`/__handshake/*`, [`RemoteMock`]).
//!
//! The runner sees both through [`MockHandle`], whose methods match `MockProvider`'s; for a
//! local mock each is a direct call.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Mutex;
use std::time::Duration;

use handshake_mock::{JournalEntry, MockProvider, RegisteredClient, Relaxation};
use handshake_profile::Profile;
use serde::de::DeserializeOwned;
use serde_json::{json, Value};
use url::Url;

use super::ClientCheckError;

/// How long one control call may take: the control API answers at once, so this only bounds
/// a mock that hangs.
const CONTROL_TIMEOUT: Duration = Duration::from_secs(10);

/// A running `handshake serve` mock, driven through its control API.
///
/// [`ClientCheck::run_remote`](super::ClientCheck::run_remote) checks an app against it.
/// Connecting reads `GET /__handshake/metadata`: the provider it serves (its built-in
/// profile is loaded, or the one you give is checked against it), the registered client id
/// and redirect URIs, and the users. The client secret is never served: give the one the
/// mock was started with (it is only used to build an app's environment and to redact the
/// app's output).
///
/// Connecting changes nothing at the mock: its journal, tokens and faults stay.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// use handshake_conformance::RemoteMock;
/// use handshake_mock::MockProvider;
/// use handshake_profile::Profile;
///
/// // Stands in for `handshake serve capsule --redirect-uri http://127.0.0.1:3000/callback`.
/// let serve = MockProvider::builder(Profile::builtin("capsule").unwrap())
///     .redirect_uri("http://127.0.0.1:3000/callback")
///     .start()
///     .await
///     .unwrap();
/// let mock = RemoteMock::builder(serve.uri().parse().unwrap())
///     .client_secret("handshake-secret")
///     .connect()
///     .await
///     .unwrap();
/// assert_eq!(mock.profile().id, "capsule");
/// assert_eq!(mock.client().redirect_uris, ["http://127.0.0.1:3000/callback"]);
/// assert!(!format!("{mock:?}").contains("handshake-secret"));
/// // Then: ClientCheck::new(login_url).run_remote(&mock).await
///
/// // Nothing there, or no handshake mock: an error naming the URL.
/// let err = RemoteMock::connect("http://127.0.0.1:1".parse().unwrap()).await.unwrap_err();
/// assert!(err.to_string().starts_with("no handshake mock at http://127.0.0.1:1/"));
/// # }
/// ```
pub struct RemoteMock {
    url: Url,
    http: reqwest::Client,
    profile: Profile,
    client: RegisteredClient,
    users: Vec<String>,
    authorize_url: String,
    token_url: String,
    revoke_url: Option<String>,
    api_url: String,
    exchange_url: Option<String>,
    /// The native scheme's non-secret credentials (`GET /__handshake/native`).
    native: Vec<(String, String)>,
    /// Data sets do not change while a mock runs (`reset` keeps them): fetched once a user.
    records: Mutex<BTreeMap<String, Option<Vec<Value>>>>,
    /// The first control call that failed during a run: the run's verdicts cannot stand.
    failure: Mutex<Option<String>>,
    /// Every control answer, when [`RemoteMockBuilder::keep_control_answers`] asked.
    kept: Option<Kept>,
}

/// A control call and its answer: method, path (no query), status, headers, body.
type ControlAnswer = (
    reqwest::Method,
    String,
    u16,
    reqwest::header::HeaderMap,
    Vec<u8>,
);

/// The control answers a [`RemoteMock`] keeps for its test suite.
type Kept = Mutex<Vec<ControlAnswer>>;

/// Options of [`RemoteMock::connect`]; from [`RemoteMock::builder`].
pub struct RemoteMockBuilder {
    url: Url,
    profile: Option<Profile>,
    client_secret: String,
    keep: bool,
}

impl RemoteMock {
    /// Connects to the mock at `url` (its base, as `handshake serve` prints it), with the
    /// built-in profile of the provider it serves and the default client secret.
    pub async fn connect(url: Url) -> Result<RemoteMock, ClientCheckError> {
        RemoteMock::builder(url).connect().await
    }

    /// Options before connecting: the profile to judge by, the client secret.
    pub fn builder(url: Url) -> RemoteMockBuilder {
        RemoteMockBuilder {
            url,
            profile: None,
            client_secret: RegisteredClient::DEFAULT_SECRET.to_owned(),
            keep: false,
        }
    }

    /// The base URL connected to.
    pub fn url(&self) -> &Url {
        &self.url
    }

    /// The profile the run judges by.
    pub fn profile(&self) -> &Profile {
        &self.profile
    }

    /// The registered client: id and redirect URIs from the mock, the secret as given.
    pub fn client(&self) -> &RegisteredClient {
        &self.client
    }

    fn control(&self, path: &str) -> Url {
        control_url(&self.url, path)
    }

    /// Keeps the first failure; later ones are consequences.
    fn lost(&self, why: String) {
        let mut f = self.failure.lock().unwrap_or_else(|e| e.into_inner());
        f.get_or_insert(why);
    }

    fn failure(&self) -> Option<String> {
        self.failure
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    async fn get<T: DeserializeOwned>(
        &self,
        path: &str,
        query: &[(&str, &str)],
    ) -> Result<T, Call> {
        get(&self.http, &self.url, path, query, self.kept.as_ref()).await
    }

    /// Every control call made through this handle and its answer (method, path, status,
    /// headers, body), oldest first, when [`RemoteMockBuilder::keep_control_answers`] asked:
    /// the test suite checks them against the control API's OpenAPI document.
    #[doc(hidden)]
    pub fn control_answers(&self) -> Vec<ControlAnswer> {
        self.kept
            .as_ref()
            .map(|k| k.lock().unwrap_or_else(|e| e.into_inner()).clone())
            .unwrap_or_default()
    }

    /// A control call that changes the mock; a failure is kept for the end of the run.
    async fn post(&self, method: reqwest::Method, path: &str, body: Option<Value>) {
        let mut req = self.http.request(method.clone(), self.control(path));
        if let Some(b) = &body {
            req = req.json(b);
        }
        let what = format!("{method} /__handshake/{path}");
        let answer = match req.send().await {
            Ok(r) => read(&method, r, self.kept.as_ref()).await,
            Err(e) => Err(e),
        };
        match answer {
            Ok((status, _)) if status.is_success() => {}
            Ok((status, _)) => self.lost(format!("{what} answered {}", status.as_u16())),
            Err(e) => self.lost(format!("{what}: {}", describe(&e))),
        }
    }

    /// A read the run cannot do without: a failure is kept, and `default` stands in.
    async fn read<T: DeserializeOwned>(&self, path: &str, query: &[(&str, &str)], default: T) -> T {
        match self.get(path, query).await {
            Ok(v) => v,
            Err(Call(why)) => {
                self.lost(why);
                default
            }
        }
    }

    async fn records_for(&self, user: &str) -> Option<Vec<Value>> {
        if let Some(r) = self
            .records
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(user)
        {
            return r.clone();
        }
        // 400 for a name that is no user of the mock: `None`, as `MockProvider::records_for`.
        let records = match self.get::<Vec<Value>>("records", &[("user", user)]).await {
            Ok(r) => Some(r),
            Err(_) if !self.users.iter().any(|u| u == user) => None,
            Err(Call(why)) => {
                self.lost(why);
                return None;
            }
        };
        self.records
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(user.to_owned(), records.clone());
        records
    }
}

impl RemoteMockBuilder {
    /// Judge by this profile instead of the built-in one of the provider the mock serves
    /// (needed when `handshake serve --profile FILE` runs it). Its id and endpoint paths
    /// must be the mock's.
    pub fn profile(mut self, profile: Profile) -> Self {
        self.profile = Some(profile);
        self
    }

    /// Keep every control answer, for [`RemoteMock::control_answers`] (the test suite checks
    /// them against the control API's OpenAPI document). Off by default: they are kept for
    /// as long as the handle lives.
    #[doc(hidden)]
    pub fn keep_control_answers(mut self) -> Self {
        self.keep = true;
        self
    }

    /// The client secret the mock was started with (`--client-secret`, default
    /// `handshake-secret`). Redacted in `Debug`.
    pub fn client_secret(mut self, secret: impl Into<String>) -> Self {
        self.client_secret = secret.into();
        self
    }

    /// Reads the mock's metadata (and its native scheme's public credentials). Nothing
    /// answering, an answer that is not a handshake mock's, or a profile that does not match
    /// the mock, is an error naming the URL tried.
    pub async fn connect(self) -> Result<RemoteMock, ClientCheckError> {
        let url = self.url;
        let unreachable = |why: String| ClientCheckError::MockUnreachable {
            url: url.to_string(),
            why,
        };
        let mismatch = |why: String| ClientCheckError::MockProfile {
            url: url.to_string(),
            why,
        };
        if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
            return Err(unreachable("not an http:// or https:// URL".to_owned()));
        }
        let http = reqwest::Client::builder()
            .timeout(CONTROL_TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(ClientCheckError::Http)?;
        let kept: Option<Kept> = self.keep.then(Mutex::default);
        let meta: Value = get(&http, &url, "metadata", &[], kept.as_ref())
            .await
            .map_err(|Call(why)| {
                unreachable(format!("{why} (is `handshake serve` running there?)"))
            })?;
        let text = |v: &Value| v.as_str().map(str::to_owned);
        let strings = |v: &Value| -> Vec<String> {
            v.as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|s| s.as_str().map(str::to_owned))
                        .collect()
                })
                .unwrap_or_default()
        };
        let (Some(provider), Some(client_id), Some(authorize_url), Some(token_url), Some(api_url)) = (
            text(&meta["provider"]),
            text(&meta["client"]["client_id"]),
            text(&meta["authorization_endpoint"]),
            text(&meta["token_endpoint"]),
            text(&meta["api_resource"]),
        ) else {
            return Err(unreachable(
                "GET /__handshake/metadata answered JSON without provider, client and endpoints: not a handshake mock".to_owned(),
            ));
        };
        let profile = match self.profile {
            Some(p) if p.id != provider => {
                return Err(mismatch(format!(
                    "it serves provider {provider:?}, but the profile given is {:?}",
                    p.id
                )))
            }
            Some(p) => p,
            None => Profile::builtin(&provider).map_err(|_| {
                mismatch(format!(
                    "it serves provider {provider:?}, which is not built in: pass its profile (--profile FILE)"
                ))
            })?,
        };
        for (name, served, path) in [
            (
                "authorization endpoint",
                &authorize_url,
                &profile.oauth.authorize_path,
            ),
            ("token endpoint", &token_url, &profile.oauth.token_path),
        ] {
            let served_path = Url::parse(served)
                .map(|u| u.path().to_owned())
                .unwrap_or_default();
            if &served_path != path {
                return Err(mismatch(format!(
                    "its {name} is {served_path}, but profile {:?} says {path}: judge by the profile the mock was started with",
                    profile.id
                )));
            }
        }
        let (mut exchange_url, mut native) = (None, Vec::new());
        if profile.native_auth.is_some() {
            let info: Value = get(&http, &url, "native", &[], kept.as_ref())
                .await
                .map_err(|Call(why)| unreachable(why))?;
            exchange_url = text(&info["exchange_endpoint"]);
            native = info["credentials"]
                .as_object()
                .map(|o| {
                    o.iter()
                        .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_owned())))
                        .collect()
                })
                .unwrap_or_default();
        }
        Ok(RemoteMock {
            client: RegisteredClient {
                client_id,
                client_secret: handshake_mock::ClientSecret::new(self.client_secret),
                redirect_uris: strings(&meta["client"]["redirect_uris"]),
            },
            users: strings(&meta["users"]),
            revoke_url: text(&meta["revocation_endpoint"]),
            authorize_url,
            token_url,
            api_url,
            exchange_url,
            native,
            profile,
            url,
            http,
            records: Mutex::default(),
            failure: Mutex::default(),
            kept,
        })
    }
}

impl fmt::Debug for RemoteMock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RemoteMock")
            .field("url", &self.url.as_str())
            .field("provider", &self.profile.id)
            .field("client", &self.client)
            .field("users", &self.users)
            .finish_non_exhaustive()
    }
}

impl fmt::Debug for RemoteMockBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RemoteMockBuilder")
            .field("url", &self.url.as_str())
            .field("profile", &self.profile.as_ref().map(|p| &p.id))
            .field("client_secret", &handshake_profile::Redacted)
            .finish()
    }
}

/// Why a control call failed, in words.
struct Call(String);

fn control_url(base: &Url, path: &str) -> Url {
    let mut u = base.clone();
    u.set_path(&format!("/__handshake/{path}"));
    u.set_query(None);
    u.set_fragment(None);
    u
}

async fn get<T: DeserializeOwned>(
    http: &reqwest::Client,
    base: &Url,
    path: &str,
    query: &[(&str, &str)],
    kept: Option<&Kept>,
) -> Result<T, Call> {
    let what = format!("GET /__handshake/{path}");
    let resp = http
        .get(control_url(base, path))
        .query(query)
        .send()
        .await
        .map_err(|e| Call(format!("{what}: {}", describe(&e))))?;
    let (status, body) = read(&reqwest::Method::GET, resp, kept)
        .await
        .map_err(|e| Call(format!("{what}: {}", describe(&e))))?;
    if !status.is_success() {
        return Err(Call(format!(
            "{what} answered {}: not a handshake mock, or not this version",
            status.as_u16()
        )));
    }
    serde_json::from_slice(&body).map_err(|e| {
        Call(format!(
            "{what} answered something that is not a handshake mock's JSON ({e})"
        ))
    })
}

/// An answer's status and body, kept in `kept` when asked.
async fn read(
    method: &reqwest::Method,
    resp: reqwest::Response,
    kept: Option<&Kept>,
) -> Result<(reqwest::StatusCode, Vec<u8>), reqwest::Error> {
    let status = resp.status();
    let (path, headers) = (resp.url().path().to_owned(), resp.headers().clone());
    let body = resp.bytes().await?.to_vec();
    if let Some(k) = kept {
        k.lock().unwrap_or_else(|e| e.into_inner()).push((
            method.clone(),
            path,
            status.as_u16(),
            headers,
            body.clone(),
        ));
    }
    Ok((status, body))
}

/// A reqwest error with its innermost cause (`connection refused`), which its `Display`
/// leaves out.
fn describe(e: &reqwest::Error) -> String {
    let what = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "no connection"
    } else {
        "the request failed"
    };
    let mut detail = None;
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        detail = Some(s.to_string());
        source = s.source();
    }
    match detail {
        Some(d) => format!("{what} ({d})"),
        None => what.to_owned(),
    }
}

/// The mock a run drives. `Copy`: it only borrows.
#[derive(Clone, Copy)]
pub(super) enum MockHandle<'a> {
    Local(&'a MockProvider),
    Remote(&'a RemoteMock),
}

impl<'a> MockHandle<'a> {
    pub(super) fn profile(self) -> &'a Profile {
        match self {
            MockHandle::Local(m) => m.profile(),
            MockHandle::Remote(r) => &r.profile,
        }
    }

    pub(super) fn client(self) -> &'a RegisteredClient {
        match self {
            MockHandle::Local(m) => m.client(),
            MockHandle::Remote(r) => &r.client,
        }
    }

    pub(super) fn authorize_url(self) -> String {
        match self {
            MockHandle::Local(m) => m.authorize_url(),
            MockHandle::Remote(r) => r.authorize_url.clone(),
        }
    }

    pub(super) fn token_url(self) -> String {
        match self {
            MockHandle::Local(m) => m.token_url(),
            MockHandle::Remote(r) => r.token_url.clone(),
        }
    }

    pub(super) fn revoke_url(self) -> Option<String> {
        match self {
            MockHandle::Local(m) => m.revoke_url(),
            MockHandle::Remote(r) => r.revoke_url.clone(),
        }
    }

    pub(super) fn api_url(self) -> String {
        match self {
            MockHandle::Local(m) => m.api_url(),
            MockHandle::Remote(r) => r.api_url.clone(),
        }
    }

    pub(super) fn exchange_url(self) -> Option<String> {
        match self {
            MockHandle::Local(m) => m.exchange_url(),
            MockHandle::Remote(r) => r.exchange_url.clone(),
        }
    }

    /// The CA certificate (PEM) of a local mock serving HTTPS, and the file it is kept in.
    pub(super) fn ca(self) -> (Option<&'a str>, Option<&'a std::path::Path>) {
        match self {
            MockHandle::Local(m) => (m.ca_cert_pem(), m.ca_cert_path()),
            MockHandle::Remote(_) => (None, None),
        }
    }

    /// The native scheme's credentials an app is configured with: every field of a local
    /// mock; a remote mock serves the non-secret ones only.
    pub(super) fn native_fields(self) -> Vec<(String, String)> {
        match self {
            MockHandle::Local(m) => match &m.profile().native_auth {
                Some(n) => m
                    .native_credentials()
                    .fields_for(n.scheme)
                    .into_iter()
                    .map(|(k, v)| (k.to_owned(), v))
                    .collect(),
                None => Vec::new(),
            },
            MockHandle::Remote(r) => r.native.clone(),
        }
    }

    pub(super) fn users(self) -> Vec<String> {
        match self {
            MockHandle::Local(m) => m.users(),
            MockHandle::Remote(r) => r.users.clone(),
        }
    }

    /// For a remote mock: the first control call that failed, if one did.
    pub(super) fn failure(self) -> Option<String> {
        match self {
            MockHandle::Local(_) => None,
            MockHandle::Remote(r) => r.failure(),
        }
    }

    /// The mock's base URL (its control API is under `/__handshake/`).
    pub(super) fn base_url(self) -> Option<Url> {
        match self {
            MockHandle::Local(m) => Url::parse(&m.uri()).ok(),
            MockHandle::Remote(r) => Some(r.url.clone()),
        }
    }

    /// A remote mock's base URL.
    pub(super) fn remote_url(self) -> Option<&'a Url> {
        match self {
            MockHandle::Local(_) => None,
            MockHandle::Remote(r) => Some(&r.url),
        }
    }

    pub(super) async fn journal(self) -> Vec<JournalEntry> {
        match self {
            MockHandle::Local(m) => m.journal(),
            MockHandle::Remote(r) => r.read("journal", &[], Vec::new()).await,
        }
    }

    pub(super) async fn expire_access_tokens(self) {
        match self {
            MockHandle::Local(m) => m.expire_access_tokens(),
            MockHandle::Remote(r) => r.post(reqwest::Method::POST, "expire", None).await,
        }
    }

    pub(super) async fn revoke_grants(self) {
        match self {
            MockHandle::Local(m) => m.revoke_grants(),
            MockHandle::Remote(r) => r.post(reqwest::Method::POST, "revoke", None).await,
        }
    }

    /// Arms the CRM's own 429 on the API for `hold`, refusing at most `times` calls.
    pub(super) async fn rate_limit(self, hold: Duration, times: u32) {
        match self {
            MockHandle::Local(m) => m
                .fail_next(handshake_mock::Endpoint::Api)
                .rate_limited(hold)
                .times(times)
                .mount(),
            MockHandle::Remote(r) => {
                // Whole seconds, rounded up, as `FaultBuilder::rate_limited` does.
                let secs = (hold.as_secs() + u64::from(hold.subsec_nanos() > 0)).max(1);
                let fault = json!({
                    "endpoint": "api",
                    "kind": "rate_limited",
                    "retry_after_secs": secs,
                    "times": times,
                });
                r.post(reqwest::Method::POST, "faults", Some(fault)).await
            }
        }
    }

    pub(super) async fn clear_faults(self) {
        match self {
            MockHandle::Local(m) => m.clear_faults(),
            MockHandle::Remote(r) => r.post(reqwest::Method::DELETE, "faults", None).await,
        }
    }

    /// Every record the API lists for the first user: what a complete paging walk returns.
    pub(super) async fn dataset(self) -> Vec<Value> {
        match self {
            MockHandle::Local(m) => m.dataset().to_vec(),
            MockHandle::Remote(r) => match r.users.first() {
                Some(first) => r.records_for(first).await.unwrap_or_default(),
                None => r.read("records", &[], Vec::new()).await,
            },
        }
    }

    pub(super) async fn records_for(self, user: &str) -> Option<Vec<Value>> {
        match self {
            MockHandle::Local(m) => m.records_for(user),
            MockHandle::Remote(r) => r.records_for(user).await,
        }
    }

    pub(super) async fn grants_of(self, user: &str) -> usize {
        match self {
            MockHandle::Local(m) => m.grants_of(user),
            MockHandle::Remote(r) if !r.users.iter().any(|u| u == user) => 0,
            MockHandle::Remote(r) => {
                let live: Value = r.read("grants", &[("user", user)], json!({})).await;
                live["live"]
                    .as_u64()
                    .and_then(|n| usize::try_from(n).ok())
                    .unwrap_or(0)
            }
        }
    }

    pub(super) async fn relax(self, requirement: Relaxation) {
        match self {
            MockHandle::Local(m) => m.relax(requirement),
            MockHandle::Remote(r) => {
                let body = json!({ "requirement": requirement });
                r.post(reqwest::Method::POST, "relax", Some(body)).await
            }
        }
    }

    pub(super) async fn relaxed(self) -> Vec<Relaxation> {
        match self {
            MockHandle::Local(m) => m.relaxed(),
            MockHandle::Remote(r) => {
                #[derive(serde::Deserialize, Default)]
                struct Relaxed {
                    relaxed: Vec<Relaxation>,
                }
                r.read::<Relaxed>("relax", &[], Relaxed::default())
                    .await
                    .relaxed
            }
        }
    }
}
