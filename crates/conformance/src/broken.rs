//! Deliberately broken clients: the reference client with one flaw each, to prove that a
//! scenario or a property can fail, and to show what a finding looks like
//! (`handshake explore --client no-state-check`).
//!
//! Each flaw is a mistake real integrations make. A broken client is the reference client
//! ([`ReferenceSession`]) with that one behaviour changed, so that whatever fails, fails
//! because of the flaw.
//!
//! ```
//! use handshake_conformance::broken::{Broken, Flaw};
//! use handshake_conformance::ClientFactory as _;
//!
//! let flaw: Flaw = "parallel-refresh".parse().unwrap();
//! assert_eq!(flaw, Flaw::ParallelRefresh);
//! assert_eq!(Broken(flaw).name(), "parallel-refresh");
//! assert!("no-such-flaw".parse::<Flaw>().unwrap_err().to_string().contains("no-state-check"));
//! ```

use std::fmt;
use std::str::FromStr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use futures::future::BoxFuture;
use handshake_client::{
    AccessToken, ClientError, Connection, ConnectionStatus, MemoryStore, NativeClient,
    NativeCredentials, RefreshToken, TokenSet, TokenStore,
};
use handshake_profile::{ClientAuth, OAuthError, Profile, TokenEncoding};
use url::Url;

use crate::cut::{ApiReply, ClientFactory, ClientFailure, ClientSettings, ClientUnderTest};
use crate::reference::{failure as reference_failure, ReferenceSession};
use crate::scenario::AuthChoice;

/// Which flaw a [`Broken`] client has.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Flaw {
    /// Accepts any callback: puts back the `state` it issued before handing the callback on
    /// (RFC 6749 §10.12 CSRF).
    NoStateCheck,
    /// Strips the PKCE challenge from its authorization requests (RFC 7636).
    NoPkce,
    /// When the grant is gone, keeps hammering the token endpoint with its refresh token.
    RefreshLoop,
    /// Keeps the refresh token it got at login and refreshes with it every time, never the
    /// rotated one the provider returned (RFC 9700 §4.14.2).
    ReuseRotatedRefresh,
    /// No single-flight refresh: every API call reads the tokens when it starts and, on a
    /// 401, refreshes with the refresh token it read, whatever other calls are doing (an
    /// app whose request handlers each refresh on their own over a shared token table).
    ParallelRefresh,
    /// Logs out locally only, never revoking.
    NoRevocation,
    /// Also sends the native credential in the query string (`?api_key=...`).
    CredentialsInUrl,
    /// Returns the first page of a list as if it were the whole list.
    FirstPageOnly,
    /// Retries a 429 at once, again and again, ignoring Retry-After / X-RateLimit-Reset
    /// (native calls).
    Ignores429,
}

impl Flaw {
    /// Every flaw, in a stable order.
    pub const ALL: &'static [Flaw] = &[
        Flaw::NoStateCheck,
        Flaw::NoPkce,
        Flaw::RefreshLoop,
        Flaw::ReuseRotatedRefresh,
        Flaw::ParallelRefresh,
        Flaw::NoRevocation,
        Flaw::CredentialsInUrl,
        Flaw::FirstPageOnly,
        Flaw::Ignores429,
    ];

    /// The flaw's name on the command line (`no-state-check`).
    pub fn as_str(self) -> &'static str {
        match self {
            Flaw::NoStateCheck => "no-state-check",
            Flaw::NoPkce => "no-pkce",
            Flaw::RefreshLoop => "refresh-loop",
            Flaw::ReuseRotatedRefresh => "reuse-rotated-refresh",
            Flaw::ParallelRefresh => "parallel-refresh",
            Flaw::NoRevocation => "no-revocation",
            Flaw::CredentialsInUrl => "credentials-in-url",
            Flaw::FirstPageOnly => "first-page-only",
            Flaw::Ignores429 => "ignores-429",
        }
    }
}

impl fmt::Display for Flaw {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A name that is no [`Flaw`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown flaw {name:?} (one of {})", Flaw::ALL.iter().map(|f| f.as_str()).collect::<Vec<_>>().join(", "))]
#[non_exhaustive]
pub struct UnknownFlaw {
    /// The name given.
    pub name: String,
}

impl FromStr for Flaw {
    type Err = UnknownFlaw;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Flaw::ALL
            .iter()
            .copied()
            .find(|f| f.as_str() == s)
            .ok_or_else(|| UnknownFlaw { name: s.to_owned() })
    }
}

/// Makes reference clients with one [`Flaw`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Broken(pub Flaw);

impl ClientFactory for Broken {
    fn name(&self) -> &str {
        self.0.as_str()
    }

    fn create(
        &self,
        profile: &Profile,
        settings: &ClientSettings,
    ) -> Result<Box<dyn ClientUnderTest>, ClientFailure> {
        let store: Arc<MemoryStore> = Arc::new(MemoryStore::new());
        Ok(Box::new(BrokenSession {
            flaw: self.0,
            inner: ReferenceSession::with_store(profile, settings, store.clone())?,
            store,
            profile: profile.clone(),
            settings: settings.clone(),
            issued_state: Mutex::new(None),
            refresh_token: Mutex::new(None),
            http: reqwest::Client::builder()
                .no_proxy()
                .redirect(reqwest::redirect::Policy::none())
                .timeout(Duration::from_secs(5))
                .build()
                .map_err(|e| ClientFailure::new("invalid_configuration", e.to_string()))?,
        }))
    }
}

/// One session of a [`Broken`] client.
struct BrokenSession {
    flaw: Flaw,
    inner: ReferenceSession,
    /// Where the inner client keeps its tokens (the flaws read and write it).
    store: Arc<MemoryStore>,
    profile: Profile,
    settings: ClientSettings,
    issued_state: Mutex<Option<String>>,
    /// The refresh token received at the last login.
    refresh_token: Mutex<Option<String>>,
    /// For the requests a flaw makes itself.
    http: reqwest::Client,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

fn param(url: &str, name: &str) -> Option<String> {
    Url::parse(url)
        .ok()?
        .query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

fn with_params(url: &str, f: impl Fn(Vec<(String, String)>) -> Vec<(String, String)>) -> String {
    let Ok(mut u) = Url::parse(url) else {
        return url.to_owned();
    };
    let pairs = f(u.query_pairs().into_owned().collect());
    u.set_query(None);
    u.query_pairs_mut().extend_pairs(pairs);
    u.to_string()
}

impl BrokenSession {
    fn connection(&self) -> Option<Connection> {
        self.store.get(self.inner.session()).ok().flatten()
    }

    /// [`Flaw::ReuseRotatedRefresh`]: puts the login's refresh token back in the store, as
    /// an app that saves the refresh token only when the user logs in.
    fn restore_login_refresh_token(&self) {
        let Some(login) = lock(&self.refresh_token).clone() else {
            return;
        };
        let Some(mut conn) = self.connection() else {
            return;
        };
        if conn.status != ConnectionStatus::Active {
            return;
        }
        if let Some(tokens) = conn.tokens.as_mut() {
            tokens.refresh_token = Some(RefreshToken::new(login));
            let _ = self.store.put(self.inner.session(), &conn);
        }
    }

    /// [`Flaw::ParallelRefresh`]: reads the tokens, calls the API, and on a 401 refreshes
    /// with the refresh token it read, without asking whether another call already did.
    async fn api_get_without_single_flight(&self) -> Result<ApiReply, ClientFailure> {
        let conn = self
            .connection()
            .ok_or_else(|| ClientFailure::new("not_connected", "not connected"))?;
        if conn.status != ConnectionStatus::Active {
            return Err(reauthorization_required());
        }
        let tokens = conn
            .tokens
            .ok_or_else(|| ClientFailure::new("not_connected", "not connected"))?;
        let status = self.api_status(tokens.access_token.secret()).await?;
        if status != 401 {
            return Ok(ApiReply::new(status));
        }
        let Some(refresh) = tokens.refresh_token else {
            return Err(reauthorization_required());
        };
        let (status, body) = self
            .token_request(vec![
                ("grant_type", "refresh_token".to_owned()),
                ("refresh_token", refresh.secret().clone()),
            ])
            .await?;
        let error = OAuthError::from(body.get("error").and_then(|e| e.as_str()).unwrap_or(""));
        if status != 200 {
            if error == OAuthError::InvalidGrant {
                let _ = self.store.put(
                    self.inner.session(),
                    &Connection {
                        status: ConnectionStatus::ReauthorizationRequired,
                        tokens: None,
                    },
                );
                return Err(reauthorization_required());
            }
            let outcome = if error.as_str().is_empty() {
                format!("http_{status}")
            } else {
                error.to_string()
            };
            return Err(ClientFailure::new(
                outcome,
                format!("the refresh was answered HTTP {status}"),
            ));
        }
        let access = body
            .get("access_token")
            .and_then(|a| a.as_str())
            .ok_or_else(|| ClientFailure::new("invalid_token_response", "no access_token"))?;
        let renewed = TokenSet {
            access_token: AccessToken::new(access.to_owned()),
            token_type: "Bearer".to_owned(),
            refresh_token: Some(
                body.get("refresh_token")
                    .and_then(|r| r.as_str())
                    .map_or(refresh, |r| RefreshToken::new(r.to_owned())),
            ),
            expires_at: body
                .get("expires_in")
                .and_then(|e| e.as_u64())
                .and_then(|s| SystemTime::now().checked_add(Duration::from_secs(s))),
            scope: None,
            extra: Default::default(),
        };
        let _ = self.store.put(
            self.inner.session(),
            &Connection {
                status: ConnectionStatus::Active,
                tokens: Some(renewed),
            },
        );
        Ok(ApiReply::new(self.api_status(access).await?))
    }

    /// One API request with this access token: its status.
    async fn api_status(&self, access: &str) -> Result<u16, ClientFailure> {
        let url = format!("{}{}", self.settings.base_url, self.inner.api_path());
        let resp = self
            .http
            .get(&url)
            .header(
                "authorization",
                format!("{} {access}", self.profile.api.auth_scheme),
            )
            .header("accept", "application/json")
            .send()
            .await
            .map_err(|e| ClientFailure::new("http_error", e.without_url().to_string()))?;
        Ok(resp.status().as_u16())
    }

    /// A token request encoded and authenticated as the profile says: status and body.
    async fn token_request(
        &self,
        mut params: Vec<(&'static str, String)>,
    ) -> Result<(u16, serde_json::Value), ClientFailure> {
        let url = format!(
            "{}{}",
            self.settings.base_url, self.profile.oauth.token_path
        );
        let secret = self.settings.client_secret.expose();
        let mut req = self.http.post(&url).header("accept", "application/json");
        match self.profile.token_request.preferred_client_auth() {
            ClientAuth::ClientSecretBasic => {
                let enc = |s: &str| {
                    url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>()
                };
                req = req.basic_auth(enc(&self.settings.client_id), Some(enc(secret)));
            }
            ClientAuth::ClientSecretPost => {
                params.push(("client_id", self.settings.client_id.clone()));
                params.push(("client_secret", secret.to_owned()));
            }
        }
        req = match self.profile.token_request.preferred_encoding() {
            TokenEncoding::Form => req.form(&params),
            TokenEncoding::Json => {
                let obj: serde_json::Map<String, serde_json::Value> = params
                    .into_iter()
                    .map(|(k, v)| (k.to_owned(), serde_json::Value::String(v)))
                    .collect();
                req.json(&obj)
            }
        };
        let resp = req
            .send()
            .await
            .map_err(|e| ClientFailure::new("http_error", e.without_url().to_string()))?;
        let status = resp.status().as_u16();
        Ok((status, resp.json().await.unwrap_or_default()))
    }

    /// [`Flaw::RefreshLoop`]: retries the refresh "in case it was transient", five times.
    async fn hammer_refresh(&self) {
        let rt = lock(&self.refresh_token).clone().unwrap_or_default();
        let url = format!(
            "{}{}",
            self.settings.base_url, self.profile.oauth.token_path
        );
        for _ in 0..5 {
            let _ = self
                .http
                .post(&url)
                .basic_auth(
                    &self.settings.client_id,
                    Some(self.settings.client_secret.expose()),
                )
                .form(&[
                    ("grant_type", "refresh_token"),
                    ("refresh_token", rt.as_str()),
                ])
                .send()
                .await;
        }
    }
}

impl ClientUnderTest for BrokenSession {
    fn authorize(&self) -> BoxFuture<'_, Result<String, ClientFailure>> {
        Box::pin(async move {
            let url = self.inner.authorize().await?;
            *lock(&self.issued_state) = param(&url, "state");
            if self.flaw == Flaw::NoPkce {
                return Ok(with_params(&url, |p| {
                    p.into_iter()
                        .filter(|(k, _)| !k.starts_with("code_challenge"))
                        .collect()
                }));
            }
            Ok(url)
        })
    }

    fn callback(&self, url: String) -> BoxFuture<'_, Result<(), ClientFailure>> {
        Box::pin(async move {
            let url = if self.flaw == Flaw::NoStateCheck {
                let issued = lock(&self.issued_state).clone().unwrap_or_default();
                with_params(&url, |p| {
                    let mut p: Vec<_> = p.into_iter().filter(|(k, _)| k != "state").collect();
                    p.push(("state".into(), issued.clone()));
                    p
                })
            } else {
                url
            };
            self.inner.callback(url).await?;
            if let Some(tokens) = self.connection().and_then(|c| c.tokens) {
                *lock(&self.refresh_token) = tokens.refresh_token.map(|r| r.secret().clone());
            }
            Ok(())
        })
    }

    fn api_get(&self) -> BoxFuture<'_, Result<ApiReply, ClientFailure>> {
        Box::pin(async move {
            match self.flaw {
                Flaw::ParallelRefresh => return self.api_get_without_single_flight().await,
                Flaw::ReuseRotatedRefresh => self.restore_login_refresh_token(),
                _ => {}
            }
            let result = self.inner.api_get().await;
            if self.flaw == Flaw::RefreshLoop {
                if let Err(f) = &result {
                    if f.outcome == "reauthorization_required" {
                        self.hammer_refresh().await;
                    }
                }
            }
            result
        })
    }

    fn refresh(&self) -> BoxFuture<'_, Result<(), ClientFailure>> {
        Box::pin(async move {
            if self.flaw == Flaw::ReuseRotatedRefresh {
                self.restore_login_refresh_token();
            }
            self.inner.refresh().await
        })
    }

    fn logout(&self) -> BoxFuture<'_, Result<(), ClientFailure>> {
        if self.flaw == Flaw::NoRevocation {
            return Box::pin(async move {
                let _ = self.store.delete(self.inner.session());
                Ok(())
            });
        }
        self.inner.logout()
    }

    fn native_get(
        &self,
        credentials: NativeCredentials,
    ) -> BoxFuture<'_, Result<ApiReply, ClientFailure>> {
        Box::pin(async move {
            match self.flaw {
                Flaw::CredentialsInUrl => {
                    let client = self.inner.native_client(&credentials)?;
                    let url = format!(
                        "{}{}?api_key={}",
                        self.settings.base_url,
                        self.inner.api_path(),
                        first_secret(&credentials)
                    );
                    client
                        .get(&url)
                        .await
                        .map(|r| ApiReply::new(r.status))
                        .map_err(|e| reference_failure(&e))
                }
                Flaw::Ignores429 => {
                    // One attempt per call, and calls again at once while limited.
                    let client = NativeClient::new(
                        &self.profile,
                        self.settings.base_url.clone(),
                        credentials,
                    )
                    .map_err(|e| reference_failure(&e))?
                    .with_max_attempts(1);
                    let mut last = None;
                    for _ in 0..8 {
                        match client.get(self.inner.api_path()).await {
                            Err(e @ ClientError::RateLimited { .. }) => last = Some(e),
                            other => {
                                return other
                                    .map(|r| ApiReply::new(r.status))
                                    .map_err(|e| reference_failure(&e))
                            }
                        }
                    }
                    Err(last.map_or_else(
                        || ClientFailure::new("rate_limited", "rate limited"),
                        |e| reference_failure(&e),
                    ))
                }
                _ => self.inner.native_get(credentials).await,
            }
        })
    }

    fn list_all(
        &self,
        auth: AuthChoice,
    ) -> BoxFuture<'_, Result<Vec<serde_json::Value>, ClientFailure>> {
        Box::pin(async move {
            if self.flaw != Flaw::FirstPageOnly {
                return self.inner.list_all(auth).await;
            }
            let page = match auth {
                AuthChoice::Oauth => {
                    let mut pages = self
                        .inner
                        .client()
                        .pages(self.inner.session(), self.inner.api_path())
                        .map_err(|e| reference_failure(&e))?;
                    pages.next_page().await
                }
                AuthChoice::Native => {
                    let client = self.inner.native_client(self.inner.native_credentials()?)?;
                    let mut pages = client
                        .pages(self.inner.api_path())
                        .map_err(|e| reference_failure(&e))?;
                    pages.next_page().await
                }
            };
            page.map(Option::unwrap_or_default)
                .map_err(|e| reference_failure(&e))
        })
    }
}

fn reauthorization_required() -> ClientFailure {
    ClientFailure::new(
        "reauthorization_required",
        "re-authorization required: the provider rejected the refresh token",
    )
}

/// The scheme's first secret (its key), as a careless client would put it in a URL.
fn first_secret(c: &NativeCredentials) -> String {
    let secret = c.scheme().credential_fields().iter().find(|f| f.secret);
    let value = secret.and_then(|f| c.fields().into_iter().find(|(k, _)| *k == f.name));
    value.map(|(_, v)| v.to_owned()).unwrap_or_default()
}
