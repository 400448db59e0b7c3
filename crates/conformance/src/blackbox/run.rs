//! One black-box run: the browsers, the order of events, and the verdicts.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use handshake_mock::{Endpoint, JournalEntry, Relaxation};
use handshake_profile::{OAuthError, PkceMethod, Profile, TokenEncoding};
use rand::RngCore;
use sha2::{Digest, Sha256};
use url::Url;

use super::app::{AppProcess, Redactor};
use super::checks::{self, AuthzSeen, ClientCheckId as Id, Outcome};
use super::leak;
use super::mock::MockHandle;
use super::trace::{of_check, Evidence};
use super::{ClientCheck, ClientCheckError};
use crate::browser::{
    AuthorizeError, Browser, Choice, Exchange, FormValues, Hit, HitLog, JournalClock, NoAnswer,
};
use crate::report::{CaseReport, Failure, Report, Status};
use crate::trace::Trace;

/// How long the `rate-limit-honoured` check keeps the CRM's rate limit on: short, so a run
/// that passes everything stays within five seconds.
const RATE_LIMIT_HOLD: Duration = Duration::from_secs(1);
/// At most this many calls are refused while it holds: enough to tell hammering
/// ([`checks::MAX_CALLS_WHILE_LIMITED`]) from a careful retry, and a bound on a retry loop.
const RATE_LIMIT_REFUSALS: u32 = 8;

/// A login the app started: where it sent the browser.
struct Pending {
    authz: Url,
    seen: AuthzSeen,
}

/// A login that did not reach the app's callback, and what was seen of it.
struct LoginFailed {
    seen: Option<AuthzSeen>,
    authz: Option<Url>,
    why: String,
}

/// A login carried through to the app's callback.
struct Completed {
    pending: Pending,
    /// The code the mock issued (kept only to recognise it in URLs and the journal).
    code: String,
    /// The app's answers to the callback: the first, then redirects within the app.
    chain: Vec<Exchange>,
    /// Journal entries from the callback delivery on.
    entries: Vec<JournalEntry>,
    /// The app accepted the callback and the mock issued tokens.
    logged_in: bool,
}

pub(super) struct Runner<'a> {
    check: &'a ClientCheck,
    mock: MockHandle<'a>,
    profile: &'a Profile,
    /// The journal's last entry when the run started: a running mock's journal may hold
    /// requests from before, which are not the app's doing in this run.
    start_mark: u64,
    client_id: String,
    redirect_uri: Url,
    authorize_endpoint: Url,
    /// Every answer the app gave the browser, for the token-leak scan.
    seen: Vec<Exchange>,
    outcomes: BTreeMap<Id, (Outcome, Duration)>,
    notes: Vec<String>,
    /// The app, when check-client started it (`--app-cmd`).
    app: Option<AppProcess>,
    /// Every request of every browser, in order; `hits_seen` of them already judged.
    hits: HitLog,
    hits_seen: usize,
    /// Requests that killed or hung the app, described for `app-survives`.
    incidents: Vec<String>,
    /// The check after which the app stopped answering (without `--app-cmd`): later checks
    /// are not run.
    down_after: Option<Id>,
    /// Bumped at every restart of the app: sessions from before are gone.
    epoch: u32,
    /// Requirements the app's first login failed on, with the mock's reason; the rest of
    /// the run had the mock relaxed on them.
    blocked: Vec<(Relaxation, String)>,
    /// When each check ran, for its trace.
    spans: BTreeMap<Id, (Instant, Instant)>,
    /// When each login ran: the trace of a verdict over logins.
    logins: Vec<(Instant, Instant)>,
    /// Stamps each browser request with the journal's progress.
    clock: Option<std::sync::Arc<JournalClock>>,
}

fn random_b64(bytes: usize) -> String {
    let mut b = vec![0u8; bytes];
    rand::thread_rng().fill_bytes(&mut b);
    URL_SAFE_NO_PAD.encode(b)
}

/// Every string and number leaf of a JSON value, as text.
fn leaves(v: &serde_json::Value, out: &mut std::collections::BTreeSet<String>) {
    match v {
        serde_json::Value::String(s) => {
            out.insert(s.clone());
        }
        serde_json::Value::Number(n) => {
            out.insert(n.to_string());
        }
        serde_json::Value::Array(a) => a.iter().for_each(|x| leaves(x, out)),
        serde_json::Value::Object(o) => o.values().for_each(|x| leaves(x, out)),
        _ => {}
    }
}

fn query(url: &Url, name: &str) -> Option<String> {
    url.query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

fn origin_and_path(url: &Url) -> String {
    format!("{}{}", url.origin().ascii_serialization(), url.path())
}

/// Does this URL carry the code onward: a `code` parameter, or the code's value anywhere?
fn carries_code(url: &Url, code: &str) -> bool {
    url.query_pairs().any(|(k, _)| k == "code")
        || url
            .fragment()
            .is_some_and(|f| f.split('&').any(|p| p.starts_with("code=")))
        || url.as_str().contains(code)
}

impl<'a> Runner<'a> {
    pub(super) fn new(
        check: &'a ClientCheck,
        mock: MockHandle<'a>,
    ) -> Result<Self, ClientCheckError> {
        let client = mock.client();
        let redirect = client.redirect_uris.first().ok_or_else(|| {
            ClientCheckError::Config("the mock has no redirect URI registered".to_owned())
        })?;
        let redirect_uri = Url::parse(redirect).map_err(|e| {
            ClientCheckError::Config(format!("registered redirect URI {redirect:?}: {e}"))
        })?;
        let authorize_endpoint = Url::parse(&mock.authorize_url())
            .map_err(|e| ClientCheckError::Config(format!("mock authorization endpoint: {e}")))?;
        Ok(Runner {
            check,
            mock,
            profile: mock.profile(),
            start_mark: 0,
            client_id: client.client_id.clone(),
            redirect_uri,
            authorize_endpoint,
            seen: Vec::new(),
            outcomes: BTreeMap::new(),
            notes: Vec::new(),
            app: None,
            hits: HitLog::default(),
            hits_seen: 0,
            incidents: Vec::new(),
            down_after: None,
            epoch: 0,
            blocked: Vec::new(),
            spans: BTreeMap::new(),
            logins: Vec::new(),
            clock: mock
                .base_url()
                .map(|u| std::sync::Arc::new(JournalClock::new(&u))),
        })
    }

    fn browser(&self) -> Result<Browser, ClientCheckError> {
        let b = Browser::trusting(self.check.timeout, self.mock.ca().0)
            .map_err(ClientCheckError::Http)?
            .recording(std::sync::Arc::clone(&self.hits));
        Ok(match &self.clock {
            Some(c) => b.clocked(std::sync::Arc::clone(c)),
            None => b,
        })
    }

    /// Records a check's verdict, then looks at what its requests did to the app: a crash or
    /// a hang is an incident of `app-survives`, and the app is restarted (with `--app-cmd`)
    /// or the rest of the run is skipped (without).
    async fn record(&mut self, id: Id, outcome: Outcome, since: Instant) {
        let outcome = match self.down_after {
            Some(prev) => Outcome::skip(format!(
                "the app stopped answering after {}; later checks not run",
                prev.id()
            )),
            None => outcome,
        };
        // A check the first login was blocked on fails, whatever the relaxed run showed.
        let outcome = match self.blocked.iter().find(|(r, _)| Self::blocked_check(*r) == id) {
            Some((r, why)) => Outcome::fail(format!(
                "{} requires {} and refused the app's login: {why}; the other checks ran with the mock relaxed on it",
                self.profile.name,
                self.requirement_name(*r)
            ))
            .worst(outcome),
            None => outcome,
        };
        self.outcomes.insert(id, (outcome, since.elapsed()));
        self.spans.insert(id, (since, Instant::now()));
        if self.down_after.is_none() {
            self.watch_app(id).await;
        }
    }

    /// The requests to the app since the last look, oldest first.
    fn new_app_hits(&mut self) -> Vec<Hit> {
        let hits = self.hits.lock().unwrap_or_else(|e| e.into_inner());
        let app = self.check.login_url.origin();
        let new: Vec<Hit> = hits[self.hits_seen..]
            .iter()
            .filter(|h| h.url.origin() == app)
            .cloned()
            .collect();
        self.hits_seen = hits.len();
        new
    }

    async fn redactor(&self) -> Redactor {
        let tags = self.mock.journal().await.into_iter().flat_map(|e| {
            e.params
                .iter()
                .chain(e.query.iter())
                .chain(e.headers.iter())
                .map(|(_, v)| v.clone())
                .filter_map(|v| leak::tag_in(&v))
                .collect::<Vec<_>>()
        });
        let client = self.mock.client();
        let mut literals = vec![client.client_secret.secret().to_owned()];
        literals.extend(self.mock.native_fields().into_iter().map(|(_, v)| v));
        Redactor::new(tags, literals)
    }

    async fn watch_app(&mut self, id: Id) {
        let hits = self.new_app_hits();
        let hung = hits
            .iter()
            .find(|h| h.answer.as_ref().is_err_and(NoAnswer::is_timeout))
            .cloned();
        let redactor = self.redactor().await;
        let Some(app) = self.app.as_mut() else {
            // Not ours to restart: if the app no longer answers at all, say so once.
            let failed = hits.iter().rev().find(|h| h.answer.is_err()).cloned();
            if let Some(h) = failed {
                let alive = match Browser::new(Duration::from_secs(2)) {
                    Ok(b) => b.get(&self.check.login_url).await.is_ok(),
                    Err(_) => true,
                };
                if !alive {
                    self.incidents.push(format!(
                        "{} (during {}) got no answer, and the app no longer answers at all: it crashed or hangs",
                        h.describe(),
                        id.id()
                    ));
                    self.down_after = Some(id);
                } else if hung.is_some() {
                    self.incidents.push(format!(
                        "{} (during {}) got no answer within {} s: the app hangs on it",
                        h.describe(),
                        id.id(),
                        self.check.timeout.as_secs()
                    ));
                }
            }
            return;
        };
        // A request cut off mid-answer often comes just before the process is gone: give it
        // a moment to finish dying before deciding it did not.
        let mut exited = app.exit_status();
        if exited.is_none()
            && hits
                .iter()
                .any(|h| h.answer.as_ref().is_err_and(|e| !e.is_timeout()))
        {
            for _ in 0..50 {
                tokio::time::sleep(Duration::from_millis(10)).await;
                exited = app.exit_status();
                if exited.is_some() {
                    break;
                }
            }
        }
        let what = if let Some(status) = exited {
            let killer = hits
                .iter()
                .rev()
                .find(|h| h.answer.is_err())
                .or(hits.last())
                .map_or_else(|| "a request".to_owned(), Hit::describe);
            format!("{killer} (during {}) killed the app ({status})", id.id())
        } else if let Some(h) = hung {
            format!(
                "{} (during {}) got no answer within {} s: the app hangs on it",
                h.describe(),
                id.id(),
                self.check.timeout.as_secs()
            )
        } else {
            return;
        };
        let tail = app.tail(8, &redactor);
        let mut text = what;
        if !tail.is_empty() {
            text.push_str(&format!(
                "; its last output:\n      {}",
                tail.join("\n      ")
            ));
        }
        self.incidents.push(text);
        match app.restart().await {
            Ok(()) => self.epoch += 1,
            Err(why) => {
                self.notes
                    .push(format!("the app could not be restarted: {why}"));
                self.down_after = Some(id);
            }
        }
    }

    /// The first refusal since `mark` caused by a requirement the mock can relax.
    async fn blocker_since(&self, mark: u64) -> Option<(Relaxation, String)> {
        self.since(mark).await.into_iter().find_map(|e| {
            let r = e.requirement?;
            let why = e
                .error_description
                .clone()
                .or(e.error.clone())
                .unwrap_or_else(|| format!("HTTP {}", e.status));
            Some((r, why))
        })
    }

    /// The check that fails when the app is blocked on `r`.
    fn blocked_check(r: Relaxation) -> Id {
        match r {
            Relaxation::Pkce => Id::AuthzPkce,
            Relaxation::Scope => Id::AuthzRequest,
            _ => Id::CodeExchange,
        }
    }

    fn requirement_name(&self, r: Relaxation) -> String {
        let p = self.profile;
        match r {
            Relaxation::Pkce => "PKCE (a code_challenge on every authorization request)".to_owned(),
            Relaxation::BodyEncoding => format!(
                "token requests encoded as {}",
                p.token_request
                    .encodings
                    .iter()
                    .map(|e| match e {
                        handshake_profile::TokenEncoding::Form =>
                            "application/x-www-form-urlencoded",
                        handshake_profile::TokenEncoding::Json => "application/json",
                    })
                    .collect::<Vec<_>>()
                    .join(" or ")
            ),
            Relaxation::ClientAuth => format!(
                "client authentication by {}",
                p.token_request
                    .client_auth
                    .iter()
                    .map(|a| a.as_str())
                    .collect::<Vec<_>>()
                    .join(" or ")
            ),
            _ => format!("scopes among {}", p.scopes.supported.join(", ")),
        }
    }

    /// Whether browser `b` is (still) logged in: after the app was restarted, its session
    /// went with it, so it logs in again.
    async fn again(&mut self, b: &Browser, epoch: &mut u32, logged_in: bool) -> bool {
        if !logged_in || self.down_after.is_some() {
            return false;
        }
        if *epoch == self.epoch {
            return true;
        }
        *epoch = self.epoch;
        matches!(self.login(b).await, Ok(c) if c.logged_in)
    }

    /// Starts the app (with `--app-cmd`) and makes sure something answers at the login URL:
    /// a run against nothing is a setup error, not sixteen failed checks.
    async fn start_app(&mut self) -> Result<(), ClientCheckError> {
        if let Some(spec) = &self.check.app {
            let app =
                AppProcess::start(spec, super::app::env_for(self.mock), &self.check.login_url)
                    .await
                    .map_err(ClientCheckError::App)?;
            self.app = Some(app);
        }
        let probe = Browser::new(self.check.timeout).map_err(ClientCheckError::Http)?;
        match probe.get(&self.check.login_url).await {
            Ok(_) => Ok(()),
            Err(e) => {
                let tail = match self.app.as_ref() {
                    Some(app) => app.tail(8, &self.redactor().await).join("\n"),
                    None => String::new(),
                };
                Err(ClientCheckError::AppUnreachable {
                    url: self.check.login_url.to_string(),
                    why: if tail.is_empty() {
                        e.to_string()
                    } else {
                        format!("{e}; the app's last output:\n{tail}")
                    },
                })
            }
        }
    }

    // --- journal ---------------------------------------------------------------------------

    async fn mark(&self) -> u64 {
        self.mock.journal().await.last().map_or(0, |e| e.seq)
    }

    async fn since(&self, mark: u64) -> Vec<JournalEntry> {
        self.mock
            .journal()
            .await
            .into_iter()
            .filter(|e| e.seq > mark)
            .collect()
    }

    /// Entries since `mark` once `done` holds, or when `max` has passed.
    async fn wait_for(
        &self,
        mark: u64,
        max: Duration,
        done: impl Fn(&[JournalEntry]) -> bool,
    ) -> Vec<JournalEntry> {
        let deadline = Instant::now() + max;
        loop {
            let entries = self.since(mark).await;
            if done(&entries) || Instant::now() >= deadline {
                return entries;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// Entries since `mark` after the negative wait: for requests that must not come.
    async fn settle(&self, mark: u64) -> Vec<JournalEntry> {
        tokio::time::sleep(self.check.negative_wait).await;
        self.since(mark).await
    }

    // --- browser steps ---------------------------------------------------------------------

    /// GET `url` in `b` and follow redirects within its origin, recording the app's answers.
    async fn visit(&mut self, b: &Browser, url: &Url) -> Result<Vec<Exchange>, NoAnswer> {
        let first = b.get(url).await?;
        self.seen.push(first.clone());
        let chain = b.follow_within(first, &url.origin()).await?;
        self.seen.extend(chain.iter().skip(1).cloned());
        Ok(chain)
    }

    /// Opens the app's login URL and returns where the app sends the browser.
    async fn open_login(&mut self, b: &Browser) -> Result<Pending, String> {
        let login = self.check.login_url.clone();
        let chain = self
            .visit(b, &login)
            .await
            .map_err(|e| format!("GET {} got no answer: {e}", login.path()))?;
        let last = chain.last().expect("non-empty chain");
        let Some(authz) = last.location() else {
            let hops: Vec<String> = chain.iter().map(Exchange::describe).collect();
            return Err(format!(
                "the login route did not redirect to the provider ({})",
                hops.join(", then ")
            ));
        };
        let seen = AuthzSeen {
            state: query(&authz, "state"),
            code_challenge: query(&authz, "code_challenge"),
            code_challenge_method: query(&authz, "code_challenge_method"),
        };
        Ok(Pending { authz, seen })
    }

    /// At the mock: opens the authorization URL and approves or denies on the consent page.
    /// Returns the URL the mock redirects the browser to (the app's callback).
    async fn consent(&self, b: &Browser, authz: &Url, choice: Choice) -> Result<Url, String> {
        self.consent_as(b, authz, choice, None).await
    }

    /// [`Self::consent`], signed in at the mock as `user` (its consent page's `user` field).
    async fn consent_as(
        &self,
        b: &Browser,
        authz: &Url,
        choice: Choice,
        user: Option<&str>,
    ) -> Result<Url, String> {
        let values = FormValues::new(
            user.map(|u| ("user".to_owned(), u.to_owned()))
                .into_iter()
                .collect(),
        );
        let target = match b
            .authorize(authz, &self.redirect_uri, choice, &values)
            .await
        {
            Ok(done) => done.callback,
            Err(AuthorizeError::NoAnswer(_, e)) => {
                return Err(format!(
                    "the provider's authorization endpoint got no answer: {e}"
                ))
            }
            Err(AuthorizeError::Refused { status, snippet }) => {
                return Err(format!(
                    "the provider refused the authorization request ({status}): {snippet}"
                ))
            }
            Err(e) => return Err(format!("the provider's pages: {e}")),
        };
        if let Some(error) = query(&target, "error").filter(|_| choice == Choice::Approve) {
            return Err(format!(
                "the provider redirected back with error={error}: {}",
                query(&target, "error_description").unwrap_or_default()
            ));
        }
        Ok(target)
    }

    /// A code issued to the app's client, but from an authorization the attacker started
    /// in their own browser (the login-CSRF setup of RFC 6749 §10.12).
    async fn attacker_code(&self) -> Result<String, String> {
        let attacker =
            Browser::trusting(self.check.timeout, self.mock.ca().0).map_err(|e| e.to_string())?;
        let mut url = self.authorize_endpoint.clone();
        {
            let mut q = url.query_pairs_mut();
            q.append_pair("response_type", "code")
                .append_pair("client_id", &self.client_id)
                .append_pair("redirect_uri", self.redirect_uri.as_str())
                .append_pair("state", &random_b64(32));
            if !self.profile.scopes.default.is_empty() {
                q.append_pair(
                    "scope",
                    &self.profile.scopes.join(&self.profile.scopes.default),
                );
            }
            if let Some(method) = self.profile.pkce.best_method() {
                let verifier = random_b64(32);
                let challenge = match method {
                    PkceMethod::S256 => URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes())),
                    PkceMethod::Plain => verifier,
                };
                q.append_pair("code_challenge", &challenge)
                    .append_pair("code_challenge_method", method.as_str());
            }
        }
        let callback = self.consent(&attacker, &url, Choice::Approve).await?;
        query(&callback, "code").ok_or_else(|| "the provider's redirect carried no code".to_owned())
    }

    /// The app's callback URL with these query parameters.
    fn callback_url(&self, params: &[(&str, &str)]) -> Url {
        let mut url = self.redirect_uri.clone();
        url.query_pairs_mut().extend_pairs(params);
        url
    }

    /// A full login: open the login URL, approve at the mock, deliver the callback.
    async fn login(&mut self, b: &Browser) -> Result<Completed, LoginFailed> {
        self.login_as(b, None).await
    }

    /// A full login, approving at the mock as `user` (the first account when `None`).
    async fn login_as(
        &mut self,
        b: &Browser,
        user: Option<&str>,
    ) -> Result<Completed, LoginFailed> {
        let started = Instant::now();
        let done = self.login_steps(b, user).await;
        self.logins.push((started, Instant::now()));
        done
    }

    async fn login_steps(
        &mut self,
        b: &Browser,
        user: Option<&str>,
    ) -> Result<Completed, LoginFailed> {
        let pending = self.open_login(b).await.map_err(|why| LoginFailed {
            seen: None,
            authz: None,
            why,
        })?;
        let failed = |why: String| LoginFailed {
            seen: Some(pending.seen.clone()),
            authz: Some(pending.authz.clone()),
            why,
        };
        let callback = self
            .consent_as(b, &pending.authz, Choice::Approve, user)
            .await
            .map_err(failed)?;
        let Some(code) = query(&callback, "code") else {
            return Err(failed("the provider's redirect carried no code".to_owned()));
        };
        let mark = self.mark().await;
        let chain = match self.visit(b, &callback).await {
            Ok(chain) => chain,
            Err(e) => return Err(failed(format!("the app's callback got no answer: {e}"))),
        };
        let code_tag = leak::tag(&code);
        // Apps usually exchange the code before answering; one that does it in the background
        // gets the negative wait to show up in the journal.
        let entries = self
            .wait_for(mark, self.check.negative_wait, |es| {
                es.iter().any(|e| {
                    checks::is_token_grant(e, "authorization_code")
                        && e.param("code") == Some(code_tag.as_str())
                })
            })
            .await;
        let exchanged = entries.iter().any(|e| {
            checks::is_token_grant(e, "authorization_code")
                && e.param("code") == Some(code_tag.as_str())
                && e.status == 200
        });
        let logged_in = exchanged && chain[0].status < 400;
        Ok(Completed {
            pending,
            code,
            chain,
            entries,
            logged_in,
        })
    }

    // --- the run ----------------------------------------------------------------------------

    pub(super) async fn run(mut self) -> Result<Report, ClientCheckError> {
        let started = Instant::now();
        self.start_mark = self.mark().await;
        if let Some(url) = self.mock.remote_url() {
            self.adopt_running_mock(url).await;
            self.mock_lost()?;
        }
        self.start_app().await?;
        let result = self.checks(started).await;
        if let Some(app) = self.app.as_mut() {
            app.stop().await;
        }
        self.mock_lost()?;
        if let Some(url) = self.mock.remote_url() {
            if !self.blocked.is_empty() {
                let names: Vec<&str> = self.blocked.iter().map(|(r, _)| r.as_str()).collect();
                self.notes.push(format!(
                    "the mock at {url} stays relaxed on {} after this run (POST /__handshake/reset ends it)",
                    names.join(", ")
                ));
            }
        }
        result?;
        let mut journal = self.since(self.start_mark).await;
        journal.sort_by_key(|e| e.seq);
        let redactor = self.redactor().await;
        Ok(self.report(started.elapsed(), &journal, &redactor))
    }

    /// A remote mock whose control API failed: the run's verdicts cannot stand.
    fn mock_lost(&self) -> Result<(), ClientCheckError> {
        match (self.mock.remote_url(), self.mock.failure()) {
            (Some(url), Some(why)) => Err(ClientCheckError::MockUnreachable {
                url: url.to_string(),
                why: format!(
                    "its control API failed during the run, so no verdict can stand: {why}"
                ),
            }),
            _ => Ok(()),
        }
    }

    /// A mock that was running before the run (`--mock-url`) is not reset: its journal
    /// stays (only entries after `start_mark` are judged). Faults armed before would fail
    /// the app for reasons of their own, so they are disarmed; relaxations cannot be undone
    /// without a reset, so the report says which were already on.
    async fn adopt_running_mock(&mut self, url: &Url) {
        self.mock.clear_faults().await;
        let relaxed = self.mock.relaxed().await;
        if !relaxed.is_empty() {
            let names: Vec<&str> = relaxed.iter().map(|r| r.as_str()).collect();
            self.notes.push(format!(
                "the mock at {url} was already relaxed on {} before this run: the app was not held to {} (POST /__handshake/reset to judge it strictly)",
                names.join(", "),
                if relaxed.len() == 1 { "it" } else { "them" }
            ));
        }
    }

    async fn checks(&mut self, started: Instant) -> Result<(), ClientCheckError> {
        let _ = started;
        if self.check.login_url.host_str() != self.redirect_uri.host_str() {
            self.notes.push(format!(
                "the login URL's host ({}) differs from the redirect URI's ({}): cookies set at login do not reach the callback in a browser, nor here",
                self.check.login_url.host_str().unwrap_or("?"),
                self.redirect_uri.host_str().unwrap_or("?")
            ));
        }

        // 1. First login, in browser A. When the CRM refuses it on one requirement it can be
        //    relaxed on (PKCE, body encoding, client authentication, scope), that check
        //    fails, and the run goes on against the mock relaxed on exactly that.
        let t = Instant::now();
        let mut a = self.browser()?;
        let mut mark = self.mark().await;
        let mut first = self.login(&a).await;
        while !matches!(&first, Ok(c) if c.logged_in) {
            let Some((requirement, why)) = self.blocker_since(mark).await else {
                break;
            };
            if self.mock.relaxed().await.contains(&requirement) {
                break;
            }
            self.blocked.push((requirement, why));
            self.mock.relax(requirement).await;
            a = self.browser()?;
            mark = self.mark().await;
            first = self.login(&a).await;
        }
        let mut logins: Vec<AuthzSeen> = Vec::new();
        let mut completed: Vec<&Completed> = Vec::new();
        let authz_outcome = match &first {
            Ok(c) => self.judge_authz_request(&c.pending.authz),
            Err(LoginFailed {
                authz: Some(authz),
                why,
                ..
            }) => {
                let o = self.judge_authz_request(authz);
                if o.status == Status::Passed {
                    Outcome::fail(format!("the login did not complete: {why}"))
                } else {
                    o
                }
            }
            Err(LoginFailed { why, .. }) => Outcome::fail(why.clone()),
        };
        self.record(Id::AuthzRequest, authz_outcome, t).await;
        let login1_ok = matches!(&first, Ok(c) if c.logged_in);
        let mut a_epoch = self.epoch;
        let referer = match &first {
            Ok(c) => self.judge_referer(c),
            Err(f) => Outcome::skip(format!("no login reached the callback: {}", f.why)),
        };
        self.record(Id::CodeRefererLeak, referer, t).await;

        // 2. API (rate limit, then expiry), paging, logout, in browser A.
        let t = Instant::now();
        let a_ok = self.again(&a, &mut a_epoch, login1_ok).await;
        let rate_limit = match (&self.check.api_url.clone(), a_ok) {
            (None, _) => Outcome::skip("no API URL given (--api-url)"),
            (Some(_), false) => Outcome::skip("the first login did not complete"),
            (Some(api), true) => self.rate_limited(&a, api).await,
        };
        self.record(Id::RateLimitHonoured, rate_limit, t).await;
        let t = Instant::now();
        let a_ok = self.again(&a, &mut a_epoch, login1_ok).await;
        let expiry = match (&self.check.api_url.clone(), a_ok) {
            (None, _) => Outcome::skip("no API URL given (--api-url)"),
            (Some(_), false) => Outcome::skip("the first login did not complete"),
            (Some(api), true) => self.expiry(&a, api).await,
        };
        self.record(Id::ExpiryRefresh, expiry, t).await;
        let t = Instant::now();
        let a_ok = self.again(&a, &mut a_epoch, login1_ok).await;
        let paging = match (&self.check.list_url.clone(), a_ok) {
            (None, _) => Outcome::skip("no list URL given (--list-url)"),
            (Some(_), false) => Outcome::skip("the first login did not complete"),
            (Some(list), true) => self.paging(&a, list).await,
        };
        self.record(Id::PagingComplete, paging, t).await;
        let t = Instant::now();
        let a_ok = self.again(&a, &mut a_epoch, login1_ok).await;
        let logout = match (&self.check.logout_url.clone(), a_ok) {
            (None, _) => Outcome::skip("no logout URL given (--logout-url)"),
            (Some(_), false) => Outcome::skip("the first login did not complete"),
            (Some(_), true) if self.profile.oauth.revoke_path().is_none() => {
                Outcome::skip(format!("{} has no revocation endpoint", self.profile.name))
            }
            (Some(url), true) => self.logout(&a, url).await,
        };
        self.record(Id::LogoutRevocation, logout, t).await;

        // 3. Second login in browser B: freshness, revoked grant, then a replayed state (last:
        //    an app may end the session on a bad callback, which would hide the revocation check).
        let t = Instant::now();
        let b = self.browser()?;
        let second = if first.is_ok() {
            Some(self.login(&b).await)
        } else {
            None
        };
        let login2_ok = matches!(&second, Some(Ok(c)) if c.logged_in);
        let mut b_epoch = self.epoch;
        let b_ok = self.again(&b, &mut b_epoch, login2_ok).await;
        let revoked = match (&self.check.api_url.clone(), b_ok) {
            (None, _) => Outcome::skip("no API URL given (--api-url)"),
            (Some(_), false) => Outcome::skip("the second login did not complete"),
            (Some(api), true) => self.revoked(&b, api).await,
        };
        self.record(Id::RevokedGrant, revoked, t).await;
        let t = Instant::now();
        let replay = match &second {
            None => Outcome::skip("the first login did not reach the callback"),
            Some(Err(f)) => Outcome::skip(format!("the second login failed: {}", f.why)),
            Some(Ok(c)) => match c.pending.seen.state.clone() {
                // Without a state there is nothing to replay: the forged-state check covers it.
                None => self.replay_without_state(&b).await,
                Some(state) => {
                    self.negative_callback(
                        &b,
                        "a state that was already used",
                        &[("state", &state)],
                        false,
                        None,
                    )
                    .await
                }
            },
        };
        self.record(Id::CsrfReplayedState, replay, t).await;

        // Judgements over both logins.
        for login in [Some(&first), second.as_ref()].into_iter().flatten() {
            match login {
                Ok(c) => {
                    logins.push(c.pending.seen.clone());
                    completed.push(c);
                }
                Err(f) => logins.extend(f.seen.clone()),
            }
        }
        let t = Instant::now();
        let state = checks::judge_state(&logins);
        self.record(Id::AuthzState, state, t).await;
        let pkce = checks::judge_pkce(self.profile, &logins);
        self.record(Id::AuthzPkce, pkce, t).await;
        let exchange = match &first {
            Err(f) => Outcome::skip(format!("no login reached the callback: {}", f.why)),
            Ok(_) => completed
                .iter()
                .map(|c| self.judge_exchange(c))
                .reduce(Outcome::worst)
                .unwrap_or_else(|| Outcome::skip("no login reached the callback")),
        };
        self.record(Id::CodeExchange, exchange, t).await;

        // 4. Fresh browsers: forged state, missing state, access denied.
        let t = Instant::now();
        let c = self.browser()?;
        let forged_state = random_b64(32);
        let forged = self
            .negative_callback(
                &c,
                "a forged state",
                &[("state", &forged_state)],
                true,
                None,
            )
            .await;
        self.record(Id::CsrfForgedState, forged, t).await;
        let t = Instant::now();
        let d = self.browser()?;
        let missing = self
            .negative_callback(&d, "no state", &[], true, None)
            .await;
        self.record(Id::CsrfMissingState, missing, t).await;
        let t = Instant::now();
        let e = self.browser()?;
        let denied = self.access_denied(&e).await;
        self.record(Id::AccessDenied, denied, t).await;

        // 5. Two users in two fresh browsers: each sees only their own data, and one logging
        //    out leaves the other logged in.
        let t = Instant::now();
        let isolation = match self.check.api_url.clone() {
            None => Outcome::skip("no API URL given (--api-url)"),
            Some(api) => self.isolation(&api).await,
        };
        self.record(Id::SessionIsolation, isolation, t).await;

        // 6. Credentials in any URL the app sent to the CRM, over the whole run.
        let t = Instant::now();
        let in_urls = checks::judge_credentials_in_urls(&self.since(self.start_mark).await);
        self.record(Id::CredentialsInHeaders, in_urls, t).await;

        // 6. Tokens anywhere in what the browser got.
        let t = Instant::now();
        let leak = self.judge_leaks().await;
        self.record(Id::TokenLeak, leak, t).await;

        // 7. A callback with this browser's own state and a code the provider never issued:
        //    the token endpoint refuses it, and the app must say so, not die ("anyone can
        //    kill it with GET /callback?code=x").
        let t = Instant::now();
        let f = self.browser()?;
        let bogus = if self.down_after.is_none() {
            let o = self.bogus_code(&f).await;
            self.watch_app(Id::AppSurvives).await;
            Some(o)
        } else {
            None
        };
        let survived = match (self.judge_survival(), bogus) {
            (o, Some(b)) if o.status == Status::Passed && b.status == Status::Failed => b,
            (o, _) => o,
        };
        // Not through `record`: this verdict is about the app stopping, so it is never
        // replaced by "stopped answering".
        self.outcomes
            .insert(Id::AppSurvives, (survived, t.elapsed()));
        self.spans.insert(Id::AppSurvives, (t, Instant::now()));
        Ok(())
    }

    /// A login whose callback carries the right state but a made-up code: the app must
    /// answer it at all (`app-survives`).
    async fn bogus_code(&mut self, b: &Browser) -> Outcome {
        let pending = match self.open_login(b).await {
            Ok(p) => p,
            Err(why) => return Outcome::skip(why),
        };
        let mut params: Vec<(&str, String)> = vec![("code", random_b64(24))];
        if let Some(state) = &pending.seen.state {
            params.push(("state", state.clone()));
        }
        let pairs: Vec<(&str, &str)> = params.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let url = self.callback_url(&pairs);
        // Any answer will do (a 400, or a 502 for the provider's refusal): surviving is what
        // is judged here.
        match self.visit(b, &url).await {
            Ok(_) => Outcome::pass("a refused code is answered with a page"),
            Err(e) => Outcome::fail(format!(
                "a callback with a code the provider refused got no answer: {e}"
            )),
        }
    }

    fn judge_survival(&self) -> Outcome {
        if self.incidents.is_empty() {
            let n = self.hits_seen;
            return Outcome::pass(format!(
                "the app answered every one of the run's {n} requests"
            ));
        }
        let mut text = self.incidents.join("\n    ");
        if self.app.is_none() && self.down_after.is_some() {
            text.push_str(
                "\n    (run with --app-cmd and check-client restarts the app and goes on)",
            );
        }
        Outcome::fail(text)
    }

    /// The trace of a failed or warned check.
    fn trace(&self, id: Id, o: &Outcome, journal: &[JournalEntry], redactor: &Redactor) -> Trace {
        let hits = self.hits.lock().unwrap_or_else(|e| e.into_inner()).clone();
        let evidence = Evidence {
            span: self.spans.get(&id).copied(),
            fallback: &self.logins,
            seqs: &o.seqs,
            hit: o.hit.as_ref().map(|(m, u)| (*m, u)),
        };
        of_check(
            &hits,
            journal,
            &self.check.login_url.origin(),
            redactor,
            &evidence,
        )
    }

    fn report(
        mut self,
        elapsed: Duration,
        journal: &[JournalEntry],
        redactor: &Redactor,
    ) -> Report {
        let provider = self.profile.id.clone();
        let cases = Id::ALL
            .iter()
            .map(|&id| {
                let (o, d) = self
                    .outcomes
                    .remove(&id)
                    .unwrap_or_else(|| (Outcome::skip("not run"), Duration::ZERO));
                let trace = matches!(o.status, Status::Failed | Status::Warning)
                    .then(|| self.trace(id, &o, journal, redactor));
                let c = case(&provider, id, o, d);
                match trace {
                    Some(t) => c.with_trace(t),
                    None => c,
                }
            })
            .collect();
        let mut report = Report::new(cases);
        if !self.blocked.is_empty() {
            let names: Vec<String> = self
                .blocked
                .iter()
                .map(|(r, _)| self.requirement_name(*r))
                .collect();
            let relaxed = names.join("; ");
            for c in &mut report.cases {
                let own = self
                    .blocked
                    .iter()
                    .any(|(r, _)| Self::blocked_check(*r).id() == c.scenario);
                if !own {
                    let note = format!("[mock relaxed on: {relaxed}]");
                    c.reason = Some(match c.reason.take() {
                        Some(r) => format!("{r} {note}"),
                        None => note,
                    });
                }
            }
            self.notes.push(format!(
                "the app's first login was refused on {relaxed}: that check fails, and every other check ran against the mock relaxed on exactly that, so one run shows every flaw"
            ));
        }
        report.notes = self.notes;
        report.duration_ms = u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX);
        report
    }

    // --- checks ------------------------------------------------------------------------------

    fn judge_authz_request(&self, authz: &Url) -> Outcome {
        let expected = &self.authorize_endpoint;
        if authz.origin() != expected.origin() || authz.path() != expected.path() {
            return Outcome::fail(format!(
                "the login redirected to {}, not the provider's authorization endpoint {}",
                origin_and_path(authz),
                origin_and_path(expected)
            ));
        }
        let mut names: Vec<String> = authz.query_pairs().map(|(k, _)| k.into_owned()).collect();
        names.sort();
        let before = names.len();
        names.dedup();
        if names.len() != before {
            return Outcome::fail("the authorization request repeats a parameter (RFC 6749 §3.1: parameters must not be included more than once)");
        }
        let response_type = query(authz, "response_type");
        if response_type.as_deref() != Some("code") {
            return Outcome::fail(format!(
                "response_type is {:?}, not \"code\"",
                response_type.unwrap_or_default()
            ));
        }
        let client_id = query(authz, "client_id").unwrap_or_default();
        if client_id != self.client_id {
            return Outcome::fail(format!(
                "client_id is {client_id:?}, not the registered {:?}",
                self.client_id
            ));
        }
        let registered = &self.mock.client().redirect_uris;
        match query(authz, "redirect_uri") {
            Some(r) if registered.contains(&r) => {}
            Some(r) => {
                return Outcome::fail(format!(
                    "redirect_uri {r:?} is not registered (registered: {}); providers match it exactly",
                    registered.join(", ")
                ))
            }
            None => {
                return Outcome::warn(format!(
                    "no redirect_uri: the provider falls back to the registered one, but {} needs it in the token request too",
                    self.profile.name
                ))
            }
        }
        if let Some(scope) = query(authz, "scope") {
            let unknown: Vec<&str> = self
                .profile
                .scopes
                .split(&scope)
                .into_iter()
                .filter(|s| !self.profile.scopes.supported.iter().any(|k| k == s))
                .collect();
            if !unknown.is_empty() {
                return Outcome::warn(format!(
                    "scope asks for {} unknown to {}",
                    unknown.join(", "),
                    self.profile.name
                ));
            }
        }
        Outcome::pass(
            "authorization endpoint, response_type=code, registered client_id and redirect_uri",
        )
    }

    fn judge_referer(&self, c: &Completed) -> Outcome {
        let first = &c.chain[0];
        if first.status >= 400 {
            return Outcome::skip(format!(
                "the callback did not complete the login (it answered {})",
                first.status
            ));
        }
        for hop in &c.chain {
            if let Some(next) = hop.location() {
                if carries_code(&next, &c.code) {
                    return Outcome::fail(format!(
                        "{} redirects to {} with the authorization code in the URL: it lands in browser history and in Referer headers",
                        hop.describe(),
                        origin_and_path(&next)
                    ))
                    .with_hit(hop);
                }
            }
        }
        if first.is_redirect() {
            return Outcome::pass("the callback redirects to a URL without the code");
        }
        let policy = first
            .header("referrer-policy")
            .unwrap_or("")
            .to_ascii_lowercase();
        if policy
            .split(',')
            .map(str::trim)
            .any(|p| p == "no-referrer" || p == "same-origin")
        {
            Outcome::pass(format!(
                "the callback page keeps ?code= in the address bar but sends Referrer-Policy: {policy}"
            ))
        } else {
            Outcome::warn(format!(
                "the callback answers {} with a page: ?code= stays in the address bar and history, and goes out in Referer headers under a lax policy",
                first.status
            ))
        }
    }

    fn judge_exchange(&self, c: &Completed) -> Outcome {
        let code_tag = leak::tag(&c.code);
        let grants: Vec<&JournalEntry> = c
            .entries
            .iter()
            .filter(|e| checks::is_token_grant(e, "authorization_code"))
            .collect();
        let answer = c.chain[0].status;
        if grants.is_empty() {
            return Outcome::fail(format!(
                "no token request followed the callback (the app answered {answer})"
            ));
        }
        let same: Vec<&JournalEntry> = grants
            .iter()
            .copied()
            .filter(|e| e.param("code") == Some(code_tag.as_str()))
            .collect();
        if same.is_empty() {
            return Outcome::fail("the token request did not carry the code from the callback")
                .with_journal(&grants);
        }
        if same.len() > 1 {
            return Outcome::fail(format!(
                "the code was redeemed {} times: redeem it once",
                same.len()
            ))
            .with_journal(&same);
        }
        let r = same[0];
        if let Some(problem) = checks::request_conventions(self.profile, r) {
            return Outcome::fail(format!("the token request {problem}")).with_journal(&[r]);
        }
        let registered = &self.mock.client().redirect_uris;
        if c.pending.seen.state.is_some() || query(&c.pending.authz, "redirect_uri").is_some() {
            match r.param("redirect_uri") {
                Some(u) if registered.iter().any(|x| x == u) => {}
                Some(u) => {
                    return Outcome::fail(format!(
                        "the token request's redirect_uri {u:?} differs from the authorization request's"
                    ))
                    .with_journal(&[r])
                }
                None => {
                    return Outcome::fail(
                        "the token request has no redirect_uri, though the authorization request had one (RFC 6749 §4.1.3)",
                    )
                    .with_journal(&[r])
                }
            }
        }
        if c.pending.seen.code_challenge.is_some() && r.param("code_verifier").is_none() {
            return Outcome::fail("the token request has no code_verifier, though the authorization request sent a code_challenge")
                .with_journal(&[r]);
        }
        if r.status != 200 {
            return Outcome::fail(format!(
                "the provider refused the code exchange ({})",
                r.status
            ))
            .with_journal(&[r]);
        }
        let extra: Vec<&JournalEntry> = grants
            .iter()
            .copied()
            .filter(|e| e.param("code") != Some(code_tag.as_str()))
            .collect();
        if !extra.is_empty() {
            return Outcome::fail("the callback led to token requests for other codes too")
                .with_journal(&grants);
        }
        if answer >= 400 {
            return Outcome::fail(format!(
                "the code exchange succeeded, yet the callback answered {answer}"
            ))
            .with_journal(&[r]);
        }
        if checks::encoding_of(r) == Some(TokenEncoding::Json) {
            return Outcome::warn(format!(
                "the token request has a JSON body: RFC 6749 §4.1.3 defines \
                 application/x-www-form-urlencoded, and most real providers refuse JSON \
                 (this mock accepts it because {}'s seed posts send it)",
                self.profile.name
            ))
            .with_journal(&[r]);
        }
        Outcome::pass(format!(
            "one token request per login, {}, answered 200",
            r.client_auth.map_or("", |a| a.as_str())
        ))
    }

    /// A callback the app must reject: delivered in `b` after `b` started a login of its own
    /// (so the app has a pending state to compare with), carrying an attacker's code.
    async fn negative_callback(
        &mut self,
        b: &Browser,
        what: &str,
        extra: &[(&str, &str)],
        fresh_login: bool,
        code: Option<String>,
    ) -> Outcome {
        if fresh_login {
            if let Err(why) = self.open_login(b).await {
                return Outcome::skip(format!("could not start a login: {why}"));
            }
        }
        let code = match code {
            Some(c) => c,
            None => match self.attacker_code().await {
                Ok(c) => c,
                Err(why) => {
                    return Outcome::skip(format!("could not obtain a code at the provider: {why}"))
                }
            },
        };
        let mut params: Vec<(&str, &str)> = vec![("code", code.as_str())];
        params.extend_from_slice(extra);
        let url = self.callback_url(&params);
        let mark = self.mark().await;
        let answer = self.deliver_once(b, &url).await;
        let entries = self.settle(mark).await;
        let tokens: Vec<&JournalEntry> = entries
            .iter()
            .filter(|e| checks::is_token_grant(e, "authorization_code"))
            .collect();
        checks::judge_rejected_callback(
            what,
            answer.as_ref().map_err(|e| e.0.as_str()),
            &tokens,
            self.check.negative_wait.as_millis(),
            false,
        )
    }

    /// The app sent no state at all: replaying "the" state means sending none again.
    async fn replay_without_state(&mut self, b: &Browser) -> Outcome {
        self.negative_callback(
            b,
            "a replayed callback (the app issues no state to compare)",
            &[],
            false,
            None,
        )
        .await
    }

    /// One GET of the callback, recorded; redirects are not followed (the first answer is
    /// what the check judges; a redirect is recorded for the leak scan).
    async fn deliver_once(&mut self, b: &Browser, url: &Url) -> Result<Exchange, NoAnswer> {
        let ex = b.get(url).await?;
        self.seen.push(ex.clone());
        Ok(ex)
    }

    async fn access_denied(&mut self, b: &Browser) -> Outcome {
        let pending = match self.open_login(b).await {
            Ok(p) => p,
            Err(why) => return Outcome::skip(format!("could not start a login: {why}")),
        };
        let callback = match self.consent(b, &pending.authz, Choice::Deny).await {
            Ok(u) => u,
            Err(why) => return Outcome::skip(format!("could not deny at the provider: {why}")),
        };
        if query(&callback, "error").map(OAuthError::from) != Some(OAuthError::AccessDenied) {
            return Outcome::skip("the provider did not redirect with error=access_denied");
        }
        let mark = self.mark().await;
        let answer = self.deliver_once(b, &callback).await;
        let entries = self.settle(mark).await;
        let tokens: Vec<&JournalEntry> = entries
            .iter()
            .filter(|e| e.endpoint == Some(Endpoint::Token))
            .collect();
        checks::judge_rejected_callback(
            "error=access_denied",
            answer.as_ref().map_err(|e| e.0.as_str()),
            &tokens,
            self.check.negative_wait.as_millis(),
            true,
        )
    }

    /// `session-isolation`: users A and B log in from two browsers. Whose token the app
    /// sends for each browser is read from the mock's journal (every API call names the
    /// grant's user), whose data it shows from its answer; then A logs out and B must stay
    /// logged in, at the app and at the CRM.
    async fn isolation(&mut self, api: &Url) -> Outcome {
        let users = self.mock.users();
        let (Some(user_a), Some(user_b)) = (users.first().cloned(), users.get(1).cloned()) else {
            return Outcome::skip("the mock has a single user account");
        };
        let (pa, pb) = match (self.browser(), self.browser()) {
            (Ok(a), Ok(b)) => (a, b),
            _ => return Outcome::skip("could not build two browsers"),
        };
        for (b, user) in [(&pa, &user_a), (&pb, &user_b)] {
            match self.login_as(b, Some(user)).await {
                Ok(c) if c.logged_in => {}
                Ok(_) => return Outcome::skip(format!("{user}'s login did not complete")),
                Err(f) => return Outcome::skip(format!("{user}'s login failed: {}", f.why)),
            }
        }
        // Each browser calls the API; the journal says whose token the app used.
        for (b, me, other) in [(&pa, &user_a, &user_b), (&pb, &user_b, &user_a)] {
            let mark = self.mark().await;
            let answer = match self.api_call(b, api).await {
                Ok(x) => x,
                Err(e) => return Outcome::fail(format!("{me}'s API route got no answer: {e}")),
            };
            let entries = self.since(mark).await;
            let calls: Vec<&JournalEntry> = entries
                .iter()
                .filter(|e| e.endpoint == Some(Endpoint::Api))
                .collect();
            if let Some(e) = calls
                .iter()
                .find(|e| e.user.as_deref() == Some(other.as_str()))
            {
                return Outcome::fail(format!(
                    "{me}'s browser got the CRM data of {other}: the app called the API with {other}'s token (tokens are shared between sessions, e.g. kept in a process-wide variable)"
                ))
                .with_journal(&[e]);
            }
            if !(200..300).contains(&answer.status) {
                return Outcome::fail(format!(
                    "{me}'s API route answered {} while both users were logged in",
                    answer.status
                ))
                .with_journal(&calls);
            }
            if self.shows_data_of(&answer.body, other).await
                && !self.shows_data_of(&answer.body, me).await
            {
                return Outcome::fail(format!("{me}'s API route shows {other}'s CRM records"))
                    .with_journal(&calls);
            }
        }
        let Some(logout) = self.check.logout_url.clone() else {
            return Outcome::pass(format!(
                "{user_a} and {user_b} each got their own data (no --logout-url: logout isolation not checked)"
            ));
        };
        // A logs out: B stays logged in at the app and at the CRM.
        let _ = self.get_or_post(&pa, &logout).await;
        let mark = self.mark().await;
        let answer = self.api_call(&pb, api).await;
        let entries = self.since(mark).await;
        let calls: Vec<&JournalEntry> = entries
            .iter()
            .filter(|e| e.endpoint == Some(Endpoint::Api))
            .collect();
        match answer {
            Ok(x) if (200..300).contains(&x.status) => {}
            Ok(x) => {
                return Outcome::fail(format!(
                    "after {user_a} logged out, {user_b}'s API route answered {}: logging out one user logged out the other",
                    x.status
                ))
                .with_journal(&calls)
            }
            Err(e) => {
                return Outcome::fail(format!(
                    "after {user_a} logged out, {user_b}'s API route got no answer: {e}"
                ))
            }
        }
        if self.mock.grants_of(&user_b).await == 0 {
            return Outcome::fail(format!(
                "after {user_a} logged out, {user_b}'s grant at the CRM was revoked too: revoke only the tokens of the session that logs out"
            ));
        }
        Outcome::pass(format!(
            "{user_a} and {user_b} each got their own data; {user_a}'s logout left {user_b} logged in"
        ))
    }

    /// Whether an answer of the app shows records of `user` (their ids or names), and of no
    /// one else's data set only.
    async fn shows_data_of(&self, body: &str, user: &str) -> bool {
        let Some(records) = self.mock.records_for(user).await else {
            return false;
        };
        let mut others: Vec<serde_json::Value> = Vec::new();
        for u in self.mock.users().iter().filter(|u| u.as_str() != user) {
            others.extend(self.mock.records_for(u).await.unwrap_or_default());
        }
        let mut theirs = std::collections::BTreeSet::new();
        for r in &others {
            leaves(r, &mut theirs);
        }
        let mut mine = std::collections::BTreeSet::new();
        for r in records.iter().take(50) {
            leaves(r, &mut mine);
        }
        mine.iter()
            .filter(|v| !theirs.contains(*v) && v.len() >= 5)
            .any(|v| {
                body.contains(&format!("\"{v}\""))
                    || body.contains(&format!(":{v},"))
                    || body.contains(&format!(":{v}}}"))
            })
    }

    /// GET a route, or POST it when GET answers 404/405 (logout routes are either).
    async fn get_or_post(&mut self, b: &Browser, url: &Url) -> Result<Exchange, NoAnswer> {
        let answer = b.get(url).await?;
        if matches!(answer.status, 404 | 405) {
            return b.post_form(url, url, &[]).await;
        }
        Ok(answer)
    }

    async fn api_call(&mut self, b: &Browser, api: &Url) -> Result<Exchange, NoAnswer> {
        let ex = b.get(api).await?;
        self.seen.push(ex.clone());
        Ok(ex)
    }

    /// The app's list route must answer every record of the mock's data set, once each.
    async fn paging(&mut self, b: &Browser, list: &Url) -> Outcome {
        let mark = self.mark().await;
        let ex = match self.api_call(b, list).await {
            Ok(ex) => ex,
            Err(e) => return Outcome::fail(format!("GET {} got no answer: {e}", list.path())),
        };
        let entries = self.since(mark).await;
        let api: Vec<&JournalEntry> = entries
            .iter()
            .filter(|e| e.endpoint == Some(Endpoint::Api))
            .collect();
        if !(200..300).contains(&ex.status) {
            return Outcome::fail(format!("the list route answered {}", ex.describe()))
                .with_journal(&api);
        }
        let field = self
            .profile
            .api
            .dataset
            .as_ref()
            .map_or("id", |d| d.id_field.as_str());
        let expected: Vec<String> = self
            .mock
            .dataset()
            .await
            .iter()
            .filter_map(|r| crate::mockctl::record_id(r, field))
            .collect();
        let Some(records) = serde_json::from_str::<serde_json::Value>(&ex.body)
            .ok()
            .as_ref()
            .and_then(records_in)
            .cloned()
        else {
            return Outcome::fail(
                "the list route's answer is not JSON holding an array of records".to_owned(),
            )
            .with_journal(&api);
        };
        let mut seen = std::collections::BTreeMap::<String, u32>::new();
        for r in &records {
            if let Some(id) = crate::mockctl::record_id(r, field) {
                *seen.entry(id).or_default() += 1;
            }
        }
        let missing = expected.iter().filter(|id| !seen.contains_key(*id)).count();
        let repeated = seen.values().filter(|n| **n > 1).count();
        let verdict = if missing == 0 && repeated == 0 && records.len() == expected.len() {
            Outcome::pass(format!(
                "{} records in {} API request(s), each once",
                records.len(),
                api.len()
            ))
        } else {
            Outcome::fail(format!(
                "{} record(s) for a data set of {} ({missing} missing, {repeated} more than once) after {} API request(s)",
                records.len(),
                expected.len(),
                api.len()
            ))
        };
        verdict.with_journal(&api)
    }

    async fn expiry(&mut self, b: &Browser, api: &Url) -> Outcome {
        let mark = self.mark().await;
        match self.api_call(b, api).await {
            Err(e) => return Outcome::fail(format!("the API route got no answer: {e}")),
            Ok(x) if !(200..300).contains(&x.status) => {
                let entries = self.since(mark).await;
                let refs: Vec<&JournalEntry> = entries.iter().collect();
                return Outcome::fail(format!(
                    "the API route answered {} even before the token expired",
                    x.status
                ))
                .with_journal(&refs);
            }
            Ok(_) => {}
        }
        self.mock.expire_access_tokens().await;
        let mark = self.mark().await;
        let answer = self.api_call(b, api).await;
        let entries = self.since(mark).await;
        let relevant: Vec<&JournalEntry> = entries
            .iter()
            .filter(|e| matches!(e.endpoint, Some(Endpoint::Api | Endpoint::Token)))
            .collect();
        let refreshes: Vec<&JournalEntry> = relevant
            .iter()
            .copied()
            .filter(|e| checks::is_token_grant(e, "refresh_token"))
            .collect();
        let answer = match answer {
            Err(e) => {
                return Outcome::fail(format!(
                    "after the access token expired, the API route got no answer: {e}"
                ))
                .with_journal(&relevant)
            }
            Ok(a) => a,
        };
        if !self.profile.tokens.refresh_tokens {
            return Outcome::skip(format!("{} issues no refresh tokens", self.profile.name));
        }
        if refreshes.is_empty() {
            return Outcome::fail(format!(
                "after the access token expired, the API route answered {} without trying a refresh",
                answer.status
            ))
            .with_journal(&relevant);
        }
        if refreshes.len() > 1 {
            return Outcome::fail(format!(
                "{} refresh requests for one expired token",
                refreshes.len()
            ))
            .with_journal(&relevant);
        }
        let refresh = refreshes[0];
        if let Some(problem) = checks::request_conventions(self.profile, refresh) {
            return Outcome::fail(format!("the refresh request {problem}")).with_journal(&relevant);
        }
        if refresh.status != 200 {
            return Outcome::fail(format!(
                "the provider refused the refresh ({})",
                refresh.status
            ))
            .with_journal(&relevant);
        }
        let retried = relevant.iter().any(|e| {
            e.endpoint == Some(Endpoint::Api)
                && e.seq > refresh.seq
                && (200..300).contains(&e.status)
        });
        if !retried {
            return Outcome::fail(
                "the app refreshed but did not retry the API call with the new token",
            )
            .with_journal(&relevant);
        }
        if !(200..300).contains(&answer.status) {
            return Outcome::fail(format!(
                "the app refreshed and retried, yet answered {}",
                answer.status
            ))
            .with_journal(&relevant);
        }
        Outcome::pass("one refresh, then the retried call succeeded")
    }

    /// Trips the CRM's own rate limit (its 429, with its headers) for [`RATE_LIMIT_HOLD`] and
    /// calls the API route once.
    async fn rate_limited(&mut self, b: &Browser, api: &Url) -> Outcome {
        // The route must work first, or a refusal below would prove nothing.
        match self.api_call(b, api).await {
            Ok(x) if (200..300).contains(&x.status) => {}
            Ok(x) => {
                return Outcome::skip(format!(
                    "the API route answered {} before any rate limit",
                    x.status
                ))
            }
            Err(e) => return Outcome::skip(format!("the API route got no answer: {e}")),
        }
        let mark = self.mark().await;
        self.mock
            .rate_limit(RATE_LIMIT_HOLD, RATE_LIMIT_REFUSALS)
            .await;
        let started = Instant::now();
        let answer = self.api_call(b, api).await;
        let elapsed = started.elapsed();
        // Whatever the app did, the CRM is friendly again for the checks that follow.
        self.mock.clear_faults().await;
        let entries = self.since(mark).await;
        let calls: Vec<&JournalEntry> = entries
            .iter()
            .filter(|e| e.endpoint == Some(Endpoint::Api))
            .collect();
        let outcome = checks::judge_rate_limited(
            answer.as_ref().map_err(|e| e.0.as_str()),
            &calls,
            RATE_LIMIT_HOLD.as_secs(),
            elapsed.as_millis(),
        );
        if outcome.status == Status::Failed {
            // Point at what the CRM documents, when it does.
            let rl = &self.profile.rate_limit.origin;
            if rl.provenance == handshake_profile::Provenance::Vendor {
                if let Some(source) = rl.sources.first() {
                    let mut o = outcome;
                    o.text = format!("{} ({} documents it: {source})", o.text, self.profile.name);
                    return o;
                }
            }
        }
        outcome
    }

    async fn revoked(&mut self, b: &Browser, api: &Url) -> Outcome {
        // The route must work first, or a "please log in" answer below would prove nothing.
        match self.api_call(b, api).await {
            Ok(x) if (200..300).contains(&x.status) => {}
            Ok(x) => {
                return Outcome::skip(format!(
                    "the API route answered {} after the second login, before any revocation",
                    x.status
                ))
            }
            Err(e) => return Outcome::skip(format!("the API route got no answer: {e}")),
        }
        self.mock.revoke_grants().await;
        let mark = self.mark().await;
        let answer = self.api_call(b, api).await;
        let entries = self.settle(mark).await;
        let relevant: Vec<&JournalEntry> = entries
            .iter()
            .filter(|e| matches!(e.endpoint, Some(Endpoint::Api | Endpoint::Token)))
            .collect();
        let refreshes = relevant
            .iter()
            .filter(|e| checks::is_token_grant(e, "refresh_token"))
            .count();
        if refreshes > 1 {
            return Outcome::fail(format!(
                "{refreshes} refresh requests after the grant was revoked: the app retries a refresh the provider refused"
            ))
            .with_journal(&relevant);
        }
        match answer {
            Err(e) => Outcome::fail(format!(
                "after the grant was revoked, the API route got no answer: {e}"
            ))
            .with_journal(&relevant),
            Ok(a) if a.status >= 500 => Outcome::fail(format!(
                "after the grant was revoked, the API route answered {} instead of asking the user to re-authorize",
                a.status
            ))
            .with_journal(&relevant),
            Ok(a) if checks::asks_to_reauthorize(&a) => Outcome::pass(format!(
                "{refreshes} refresh attempt(s), then {} asking to re-authorize",
                a.status
            )),
            Ok(a) => Outcome::fail(format!(
                "after the grant was revoked, the API route answered {} without asking the user to re-authorize",
                a.status
            ))
            .with_journal(&relevant),
        }
    }

    async fn logout(&mut self, b: &Browser, url: &Url) -> Outcome {
        let mark = self.mark().await;
        let answer = match self.get_or_post(b, url).await {
            Ok(a) => a,
            Err(e) => return Outcome::fail(format!("the logout route got no answer: {e}")),
        };
        self.seen.push(answer.clone());
        let status = answer.status;
        if let Ok(chain) = b.follow_within(answer, &url.origin()).await {
            self.seen.extend(chain.into_iter().skip(1));
        }
        let entries = self
            .wait_for(mark, self.check.negative_wait, |es| {
                es.iter().any(|e| e.endpoint == Some(Endpoint::Revoke))
            })
            .await;
        let revocations: Vec<&JournalEntry> = entries
            .iter()
            .filter(|e| e.endpoint == Some(Endpoint::Revoke))
            .collect();
        if revocations.is_empty() {
            return Outcome::fail(format!(
                "logout answered {status} but sent no revocation request: the tokens stay valid at the provider"
            ));
        }
        if let Some(problem) = revocations
            .iter()
            .find_map(|e| checks::request_conventions(self.profile, e))
        {
            return Outcome::fail(format!("the revocation request {problem}"))
                .with_journal(&revocations);
        }
        if let Some(bad) = revocations.iter().find(|e| e.status != 200) {
            return Outcome::fail(format!(
                "the provider refused the revocation ({})",
                bad.status
            ))
            .with_journal(&revocations);
        }
        if status >= 500 {
            return Outcome::fail(format!("logout revoked the tokens but answered {status}"))
                .with_journal(&revocations);
        }
        // Access tokens are the ones the app presented as Bearer; anything else revoked is
        // (as far as the journal can tell) the refresh token.
        let access: Vec<String> = self
            .since(self.start_mark)
            .await
            .iter()
            .filter(|e| e.endpoint == Some(Endpoint::Api))
            .filter_map(|e| e.header("authorization").and_then(leak::tag_in))
            .collect();
        let refresh_revoked = revocations.iter().any(|e| {
            e.param("token")
                .and_then(leak::tag_in)
                .is_some_and(|t| !access.contains(&t))
        });
        if self.profile.tokens.refresh_tokens && !refresh_revoked {
            return Outcome::warn(
                "logout revoked only the access token: the refresh token can still mint new ones",
            )
            .with_journal(&revocations);
        }
        Outcome::pass(format!(
            "{} revocation request(s), answered 200",
            revocations.len()
        ))
    }

    async fn judge_leaks(&self) -> Outcome {
        let mut known: BTreeMap<String, &'static str> = BTreeMap::new();
        for e in self.since(self.start_mark).await {
            match e.endpoint {
                Some(Endpoint::Api) => {
                    if let Some(t) = e.header("authorization").and_then(leak::tag_in) {
                        known.insert(t, "access token");
                    }
                }
                Some(Endpoint::Token) => {
                    if let Some(t) = e.param("refresh_token").and_then(leak::tag_in) {
                        known.insert(t, "refresh token");
                    }
                }
                Some(Endpoint::Revoke) => {
                    if let Some(t) = e.param("token").and_then(leak::tag_in) {
                        known.entry(t).or_insert("token");
                    }
                }
                _ => {}
            }
        }
        if known.is_empty() {
            return Outcome::skip(
                "the app never used a token where the harness could see it: give --api-url or --logout-url",
            );
        }
        for ex in &self.seen {
            let found = leak::tags_in_text(&ex.visible_text());
            if let Some((_, kind)) = known.iter().find(|(t, _)| found.contains(*t)) {
                let place = if ex
                    .headers
                    .iter()
                    .any(|(_, v)| leak::tags_in_text(v).iter().any(|t| known.contains_key(t)))
                {
                    "headers"
                } else {
                    "body"
                };
                return Outcome::fail(format!(
                    "the answer to {} shows the browser an {kind} (in its {place})",
                    ex.describe()
                ))
                .with_hit(ex);
            }
        }
        Outcome::pass(format!(
            "none of the {} tokens the app used appears in its {} answers",
            known.len(),
            self.seen.len()
        ))
    }
}

/// The records in an app's JSON answer: a top-level array, or the first array of objects
/// in an object (`{"data": [...]}`, `{"contacts": [...]}`), one level of nesting deep.
fn records_in(v: &serde_json::Value) -> Option<&Vec<serde_json::Value>> {
    match v {
        serde_json::Value::Array(a) => Some(a),
        serde_json::Value::Object(o) => o
            .values()
            .find_map(|v| v.as_array().filter(|a| a.iter().all(|r| r.is_object())))
            .or_else(|| o.values().filter(|v| v.is_object()).find_map(records_in)),
        _ => None,
    }
}

fn case(provider: &str, id: Id, o: Outcome, d: Duration) -> CaseReport {
    let c = CaseReport::new(provider, id.id(), id.title(), id.rfc(), o.status).with_duration(d);
    match o.status {
        Status::Failed => {
            let failure = Failure {
                step: None,
                action: id.id().to_owned(),
                expected: id.title().to_owned(),
                actual: format!("{}\nfix: {}", o.text, id.hint()),
                journal: o.journal,
            };
            let mut c = c.with_failure(failure).with_fix(id.hint());
            c.reason = Some(format!("{}. Fix: {}", o.text, id.hint()));
            c
        }
        Status::Warning => c
            .with_reason(format!("{}. Fix: {}", o.text, id.hint()))
            .with_fix(id.hint()),
        Status::Skipped => c.with_reason(o.text),
        Status::Passed => c,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn code_in_urls() {
        let code = "Zm9vYmFyYmF6cXV4cXV1eGNvcmdlZ3JhdWx0Z2FycGx5";
        let u = |s: &str| Url::parse(s).unwrap();
        assert!(carries_code(&u("http://a/?code=x&state=y"), code));
        assert!(carries_code(&u("http://a/done#code=x"), code));
        assert!(carries_code(&u(&format!("http://a/welcome/{code}")), code));
        assert!(!carries_code(&u("http://a/?codec=h264"), code));
        assert!(!carries_code(&u("http://a/"), code));
    }

    #[test]
    fn snippets_are_short_text() {
        use crate::browser::snippet;
        assert_eq!(
            snippet("<h1>Error</h1>\n<p>unknown  client</p>"),
            "Error unknown client"
        );
        assert!(snippet(&"x ".repeat(200)).chars().count() <= 161);
    }
}
