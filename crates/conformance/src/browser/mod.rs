//! The harness's one browser, shared by the scenario runner and `check-client`: a cookie jar,
//! no automatic redirects, a record of every answer, and HTML forms filled and submitted.
//!
//! Redirects are followed by hand so each hop can be judged (where does the app send the
//! user, with what in the URL?), and so the browser never wanders off to a host the check did
//! not mean to visit. At the provider, [`Browser::authorize`] plays the user through whatever
//! pages stand between the authorization request and the redirect back: a login form, a
//! consent page, or none.

mod form;

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::redirect::Policy;
use url::Url;

pub(crate) use form::{Choice, FillError, FormValues, Submission};

/// Pages and redirects walked at the provider before giving up (a loop, most likely).
const MAX_PROVIDER_STEPS: usize = 20;

/// Redirect hops followed within one origin before giving up (a loop, most likely).
const MAX_HOPS: usize = 10;

/// Bodies are kept up to this size for scanning; an app page is far smaller.
const MAX_BODY: usize = 1 << 20;

/// The browser's `User-Agent`: how the mock's journal tells the browser's requests from the
/// client's ([`is_browser_request`]).
const USER_AGENT: &str = concat!("handshake-browser/", env!("CARGO_PKG_VERSION"));

/// Whether the harness's browser sent this request (its `User-Agent`), not the client.
pub(crate) fn is_browser_request(e: &handshake_mock::JournalEntry) -> bool {
    e.header("user-agent")
        .is_some_and(|ua| ua.starts_with("handshake-browser/"))
}

/// One request and its answer.
#[derive(Clone)]
pub(crate) struct Exchange {
    pub(crate) method: &'static str,
    pub(crate) url: Url,
    pub(crate) status: u16,
    /// Header names lower case, values lossily decoded.
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) body: String,
}

// Bodies and URLs can hold codes and tokens: never print them.
impl std::fmt::Debug for Exchange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {} -> {}", self.method, self.url.path(), self.status)
    }
}

impl Exchange {
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    pub(crate) fn is_redirect(&self) -> bool {
        matches!(self.status, 301 | 302 | 303 | 307 | 308)
    }

    /// The redirect target, resolved against the request URL.
    pub(crate) fn location(&self) -> Option<Url> {
        if !self.is_redirect() {
            return None;
        }
        self.url.join(self.header("location")?).ok()
    }

    /// `GET /login -> 302`, without query or secrets.
    pub(crate) fn describe(&self) -> String {
        format!("{} {} -> {}", self.method, self.url.path(), self.status)
    }

    /// Everything the browser got, as text to scan for secrets.
    pub(crate) fn visible_text(&self) -> String {
        let mut s = String::new();
        for (k, v) in &self.headers {
            s.push_str(k);
            s.push_str(": ");
            s.push_str(v);
            s.push('\n');
        }
        s.push('\n');
        s.push_str(&self.body);
        s
    }
}

/// Why a request got no answer. Never carries the URL (it may hold a code or state).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct NoAnswer(pub(crate) String);

impl NoAnswer {
    /// The request waited out the browser's timeout: the peer is there but silent.
    pub(crate) fn is_timeout(&self) -> bool {
        self.0.starts_with("timed out")
    }
}

impl std::fmt::Display for NoAnswer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

fn no_answer(e: &reqwest::Error) -> NoAnswer {
    let what = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "connection refused or failed"
    } else if e.is_body() || e.is_decode() {
        "the answer broke off"
    } else {
        "the request failed"
    };
    // `without_url` keeps query strings (codes, state) out of the message.
    let mut detail = String::new();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        detail = s.to_string();
        source = s.source();
    }
    if detail.is_empty() || detail.contains("http") {
        NoAnswer(what.to_owned())
    } else {
        NoAnswer(format!("{what}: {detail}"))
    }
}

/// One request a browser sent, and whether it got an answer: the record `check-client`
/// reads to tell which request killed or hung the app, and draws its diagrams from.
#[derive(Clone)]
pub(crate) struct Hit {
    pub(crate) method: &'static str,
    pub(crate) url: Url,
    /// The status, or why there was none.
    pub(crate) answer: Result<u16, NoAnswer>,
    /// When it was sent.
    pub(crate) at: Instant,
    /// The mock journal's last `seq` when it was sent and when it was answered, with a
    /// [`JournalClock`]: the app's requests to the mock with a `seq` in between were sent
    /// while the app was answering this one.
    pub(crate) journal: Option<(u64, u64)>,
}

impl Hit {
    /// `GET /callback?code=<redacted>&state=<redacted>`: every query value hidden.
    pub(crate) fn describe(&self) -> String {
        let names: Vec<String> = self
            .url
            .query_pairs()
            .map(|(k, _)| format!("{k}=<redacted>"))
            .collect();
        if names.is_empty() {
            format!("{} {}", self.method, self.url.path())
        } else {
            format!("{} {}?{}", self.method, self.url.path(), names.join("&"))
        }
    }
}

/// Requests of every browser of a run, in order.
pub(crate) type HitLog = Arc<std::sync::Mutex<Vec<Hit>>>;

/// How far a mock's journal has got, read over its control API (`GET
/// /__handshake/journal?since=N`, the same for a mock in this process and a running `handshake
/// serve`): each request a browser sends is stamped with it before and after, which places
/// it among the requests the app sent to the mock meanwhile.
pub(crate) struct JournalClock {
    url: Url,
    last: AtomicU64,
}

impl JournalClock {
    /// The clock of the mock at `base` (its base URL).
    pub(crate) fn new(base: &Url) -> Self {
        let mut url = base.clone();
        url.set_path("/__handshake/journal");
        url.set_query(None);
        url.set_fragment(None);
        JournalClock {
            url,
            last: AtomicU64::new(0),
        }
    }

    /// The journal's last `seq` now; `None` when the mock did not answer.
    async fn now(&self, http: &reqwest::Client) -> Option<u64> {
        let since = self.last.load(Ordering::SeqCst);
        let resp = http
            .get(self.url.clone())
            .query(&[("since", since)])
            .timeout(Duration::from_secs(2))
            .send()
            .await
            .ok()?;
        if !resp.status().is_success() {
            return None;
        }
        let body = resp.bytes().await.ok()?;
        let entries: Vec<serde_json::Value> = serde_json::from_slice(&body).ok()?;
        let max = entries
            .iter()
            .filter_map(|e| e["seq"].as_u64())
            .max()
            .unwrap_or(since);
        self.last.fetch_max(max, Ordering::SeqCst);
        Some(self.last.load(Ordering::SeqCst))
    }
}

/// A browser with its own cookie jar.
pub(crate) struct Browser {
    client: reqwest::Client,
    log: Option<HitLog>,
    clock: Option<Arc<JournalClock>>,
}

impl Browser {
    /// A browser with an empty cookie jar; the environment's proxy settings apply.
    pub(crate) fn new(timeout: Duration) -> Result<Self, reqwest::Error> {
        Self::build(timeout, false)
    }

    /// A browser that never uses a proxy: loopback mock traffic must stay on loopback.
    pub(crate) fn hermetic(timeout: Duration) -> Result<Self, reqwest::Error> {
        Self::build(timeout, true)
    }

    /// A browser that also trusts the CA certificate `ca_pem` (a mock serving HTTPS).
    pub(crate) fn trusting(
        timeout: Duration,
        ca_pem: Option<&str>,
    ) -> Result<Self, reqwest::Error> {
        let mut builder = Self::builder(timeout);
        if let Some(pem) = ca_pem {
            builder = builder.add_root_certificate(reqwest::Certificate::from_pem(pem.as_bytes())?);
        }
        Ok(Browser {
            client: builder.build()?,
            log: None,
            clock: None,
        })
    }

    fn builder(timeout: Duration) -> reqwest::ClientBuilder {
        reqwest::Client::builder()
            .cookie_provider(Arc::new(reqwest::cookie::Jar::default()))
            .redirect(Policy::none())
            .timeout(timeout)
            .user_agent(USER_AGENT)
    }

    fn build(timeout: Duration, hermetic: bool) -> Result<Self, reqwest::Error> {
        let mut builder = Self::builder(timeout);
        if hermetic {
            builder = builder.no_proxy();
        }
        Ok(Browser {
            client: builder.build()?,
            log: None,
            clock: None,
        })
    }

    /// The same browser, recording every request and whether it was answered into `log`.
    pub(crate) fn recording(mut self, log: HitLog) -> Self {
        self.log = Some(log);
        self
    }

    /// The same browser, stamping each recorded request with the mock journal's progress.
    pub(crate) fn clocked(mut self, clock: Arc<JournalClock>) -> Self {
        self.clock = Some(clock);
        self
    }

    /// Every request recorded so far (of every browser sharing the log).
    pub(crate) fn recorded(&self) -> Vec<Hit> {
        self.log
            .as_ref()
            .map(|l| l.lock().unwrap_or_else(|e| e.into_inner()).clone())
            .unwrap_or_default()
    }

    /// The journal's progress, when recording with a clock.
    async fn tick(&self) -> Option<u64> {
        match (&self.log, &self.clock) {
            (Some(_), Some(clock)) => clock.now(&self.client).await,
            _ => None,
        }
    }

    fn note(
        &self,
        method: &'static str,
        url: &Url,
        answer: &Result<Exchange, NoAnswer>,
        at: Instant,
        journal: Option<(u64, u64)>,
    ) {
        if let Some(log) = &self.log {
            let hit = Hit {
                method,
                url: url.clone(),
                answer: answer.as_ref().map(|e| e.status).map_err(Clone::clone),
                at,
                journal,
            };
            log.lock().unwrap_or_else(|e| e.into_inner()).push(hit);
        }
    }

    pub(crate) async fn get(&self, url: &Url) -> Result<Exchange, NoAnswer> {
        let at = Instant::now();
        let before = self.tick().await;
        let answer = async {
            let res = self
                .client
                .get(url.clone())
                .header("accept", "text/html,application/json;q=0.9,*/*;q=0.8")
                .send()
                .await
                .map_err(|e| no_answer(&e.without_url()))?;
            read("GET", url, res).await
        }
        .await;
        let after = self.tick().await;
        self.note("GET", url, &answer, at, before.zip(after));
        answer
    }

    /// Submits a form found on `page` to `url`, with the headers a browser sends for a
    /// same-origin form post (`Origin`, `Sec-Fetch-Site`), which consent pages check for CSRF.
    pub(crate) async fn post_form(
        &self,
        url: &Url,
        page: &Url,
        fields: &[(String, String)],
    ) -> Result<Exchange, NoAnswer> {
        let body = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(fields)
            .finish();
        let site = if url.origin() == page.origin() {
            "same-origin"
        } else {
            "cross-site"
        };
        let at = Instant::now();
        let before = self.tick().await;
        let answer = async {
            let res = self
                .client
                .post(url.clone())
                .header("content-type", "application/x-www-form-urlencoded")
                .header("accept", "text/html")
                .header("origin", page.origin().ascii_serialization())
                .header("sec-fetch-site", site)
                .body(body)
                .send()
                .await
                .map_err(|e| no_answer(&e.without_url()))?;
            read("POST", url, res).await
        }
        .await;
        let after = self.tick().await;
        self.note("POST", url, &answer, at, before.zip(after));
        answer
    }

    /// Plays the user at the provider: sends the authorization request, follows the
    /// provider's redirects hop by hop, and fills its pages (login with `values`, consent with
    /// `choice`) until the provider sends the browser to `redirect_uri`. Returns that URL
    /// (the callback, with `code` or `error`), without visiting it: it belongs to the app.
    pub(crate) async fn authorize(
        &self,
        start: &Url,
        redirect_uri: &Url,
        choice: Choice,
        values: &FormValues,
    ) -> Result<Authorized, AuthorizeError> {
        let provider = start.origin();
        let mut submitted: Vec<(Url, Vec<String>)> = Vec::new();
        let mut answer = self
            .get(start)
            .await
            .map_err(|e| AuthorizeError::NoAnswer("the authorization endpoint".to_owned(), e))?;
        for _ in 0..MAX_PROVIDER_STEPS {
            if answer.is_redirect() {
                let Some(next) = answer.location() else {
                    return Err(AuthorizeError::Refused {
                        status: answer.status,
                        snippet: "a redirect without a usable Location".to_owned(),
                    });
                };
                if same_endpoint(&next, redirect_uri) {
                    return Ok(Authorized { callback: next });
                }
                if next.origin() != provider {
                    return Err(AuthorizeError::LeftProvider(without_query(&next)));
                }
                answer = self
                    .get(&next)
                    .await
                    .map_err(|e| AuthorizeError::NoAnswer(format!("GET {}", next.path()), e))?;
                continue;
            }
            if !(200..300).contains(&answer.status) {
                return Err(AuthorizeError::Refused {
                    status: answer.status,
                    snippet: snippet(&answer.body),
                });
            }
            let page = answer.url.clone();
            let submission = form::fill(&answer.body, choice, values).map_err(|e| match e {
                FillError::NoForm => AuthorizeError::NoForm {
                    status: answer.status,
                    path: page.path().to_owned(),
                    snippet: snippet(&answer.body),
                },
                other => AuthorizeError::Form {
                    path: page.path().to_owned(),
                    error: other,
                },
            })?;
            let (target, method, fields) = match submission {
                Submission::Link(href) => (href, "get".to_owned(), Vec::new()),
                Submission::Form {
                    action,
                    method,
                    fields,
                } => (action, method, fields),
            };
            let target = page.join(&target).map_err(|_| AuthorizeError::Form {
                path: page.path().to_owned(),
                error: FillError::NoButton(choice),
            })?;
            if target.origin() != provider && !same_endpoint(&target, redirect_uri) {
                return Err(AuthorizeError::LeftProvider(without_query(&target)));
            }
            let names: Vec<String> = fields.iter().map(|(k, _)| k.clone()).collect();
            if submitted.contains(&(target.clone(), names.clone())) {
                // The same form again after it was sent: wrong login, most likely.
                return Err(AuthorizeError::SameFormAgain(target.path().to_owned()));
            }
            submitted.push((target.clone(), names));
            answer = if method == "post" {
                self.post_form(&target, &page, &fields).await
            } else {
                let mut url = target.clone();
                if !fields.is_empty() {
                    url.query_pairs_mut().clear().extend_pairs(&fields);
                }
                self.get(&url).await
            }
            .map_err(|e| AuthorizeError::NoAnswer(format!("the form at {}", page.path()), e))?;
        }
        Err(AuthorizeError::TooManySteps)
    }

    /// Follows redirects while they stay on `origin`, returning every hop (the first
    /// exchange included). The last one is a non-redirect, or a redirect elsewhere.
    pub(crate) async fn follow_within(
        &self,
        first: Exchange,
        origin: &url::Origin,
    ) -> Result<Vec<Exchange>, NoAnswer> {
        let mut chain = vec![first];
        for _ in 0..MAX_HOPS {
            let last = chain.last().expect("chain starts non-empty");
            match last.location() {
                Some(next) if &next.origin() == origin => {
                    let ex = self.get(&next).await?;
                    chain.push(ex);
                }
                _ => return Ok(chain),
            }
        }
        Err(NoAnswer(format!(
            "more than {MAX_HOPS} redirects within the app (a redirect loop?)"
        )))
    }
}

/// Where the provider finally sent the browser.
#[derive(Debug)]
pub(crate) struct Authorized {
    /// The redirect to the app's `redirect_uri` (with `code` or `error`; not visited).
    pub(crate) callback: Url,
}

/// Why the browser did not get back to the `redirect_uri`. Never carries a query string.
#[derive(Debug)]
pub(crate) enum AuthorizeError {
    /// A request got no answer.
    NoAnswer(String, NoAnswer),
    /// An answer that is neither a redirect nor a page (4xx, 5xx).
    Refused { status: u16, snippet: String },
    /// A page without any form: an error page, most likely.
    NoForm {
        status: u16,
        path: String,
        snippet: String,
    },
    /// A form the browser could not complete.
    Form { path: String, error: FillError },
    /// A redirect or form leading away from the provider, not to the `redirect_uri`.
    LeftProvider(Url),
    /// The provider showed a form again after it was submitted.
    SameFormAgain(String),
    /// More than [`MAX_PROVIDER_STEPS`] redirects and pages.
    TooManySteps,
}

impl fmt::Display for AuthorizeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AuthorizeError::NoAnswer(what, why) => write!(f, "{what} got no answer: {why}"),
            AuthorizeError::Refused { status, snippet } => {
                write!(f, "the provider answered HTTP {status}: {snippet}")
            }
            AuthorizeError::NoForm {
                status,
                path,
                snippet,
            } => write!(
                f,
                "the provider showed a page with no form (HTTP {status} at {path}): {snippet}"
            ),
            AuthorizeError::Form { path, error } => write!(f, "on the page at {path}: {error}"),
            AuthorizeError::LeftProvider(url) => write!(
                f,
                "the provider sent the browser to {url}, which is not the redirect_uri"
            ),
            AuthorizeError::SameFormAgain(path) => write!(
                f,
                "the provider showed the form posting to {path} again after it was submitted \
                 (wrong --form-field values?)"
            ),
            AuthorizeError::TooManySteps => write!(
                f,
                "more than {MAX_PROVIDER_STEPS} redirects and pages at the provider (a loop?)"
            ),
        }
    }
}

/// Same scheme, host, port and path: where a redirect lands, whatever its query.
fn same_endpoint(a: &Url, b: &Url) -> bool {
    a.scheme() == b.scheme()
        && a.host_str() == b.host_str()
        && a.port_or_known_default() == b.port_or_known_default()
        && a.path() == b.path()
}

fn without_query(u: &Url) -> Url {
    let mut u = u.clone();
    u.set_query(None);
    u.set_fragment(None);
    u
}

/// Visible text of an HTML page, shortened: for reasons, never for secrets.
pub(crate) fn snippet(html: &str) -> String {
    let mut out = String::new();
    let mut in_tag = false;
    for c in html.chars() {
        match c {
            '<' => in_tag = true,
            '>' => {
                in_tag = false;
                out.push(' ');
            }
            c if !in_tag => out.push(c),
            _ => {}
        }
    }
    let words: Vec<&str> = out.split_whitespace().collect();
    let mut s = words.join(" ");
    if s.chars().count() > 160 {
        s = s.chars().take(160).collect::<String>() + "…";
    }
    s
}

async fn read(
    method: &'static str,
    url: &Url,
    res: reqwest::Response,
) -> Result<Exchange, NoAnswer> {
    let status = res.status().as_u16();
    let headers = res
        .headers()
        .iter()
        .map(|(k, v)| {
            (
                k.as_str().to_owned(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect();
    let bytes = res.bytes().await.map_err(|e| no_answer(&e.without_url()))?;
    let body = String::from_utf8_lossy(&bytes[..bytes.len().min(MAX_BODY)]).into_owned();
    Ok(Exchange {
        method,
        url: url.clone(),
        status,
        headers,
        body,
    })
}

#[cfg(test)]
mod tests {
    //! The browser against a small provider with a login page (a session cookie, a CSRF
    //! field, a password) and then a consent page: the shape of node-oidc-provider's
    //! development interactions and of most real authorization servers.

    use std::collections::BTreeMap;

    use axum::extract::Form;
    use axum::http::{header, HeaderMap, StatusCode};
    use axum::response::{Html, IntoResponse, Redirect, Response};
    use axum::routing::get;
    use axum::Router;

    use super::*;

    const CALLBACK: &str = "http://localhost:3000/callback";

    fn has_session(h: &HeaderMap) -> bool {
        h.get(header::COOKIE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|c| c.contains("sid=s1"))
    }

    async fn authorize() -> Response {
        (
            [(header::SET_COOKIE, "sid=s1; Path=/")],
            Redirect::to("/login"),
        )
            .into_response()
    }

    async fn login_page() -> Html<&'static str> {
        Html(
            r#"<!doctype html><h1>Sign-in</h1><form method="post" action="/login">
            <input type="hidden" name="csrf" value="t0k"><input required name="login">
            <input type="password" name="password"><button type="submit">Sign-in</button></form>"#,
        )
    }

    async fn login(h: HeaderMap, Form(f): Form<BTreeMap<String, String>>) -> Response {
        let same_origin = h.get("sec-fetch-site").is_some_and(|v| v == "same-origin");
        if !has_session(&h) || !same_origin || f.get("csrf").map(String::as_str) != Some("t0k") {
            return (StatusCode::FORBIDDEN, "no session").into_response();
        }
        if f.get("password").map(String::as_str) != Some("pw") {
            return login_page().await.into_response();
        }
        Redirect::to("/consent").into_response()
    }

    async fn consent_page() -> Html<&'static str> {
        Html(
            r#"<form method="post"><input type="hidden" name="id" value="c1">
            <button name="d" value="yes">Allow</button><button name="d" value="no">Deny</button></form>"#,
        )
    }

    async fn consent(h: HeaderMap, Form(f): Form<BTreeMap<String, String>>) -> Response {
        if !has_session(&h) || f.get("id").map(String::as_str) != Some("c1") {
            return (StatusCode::BAD_REQUEST, "bad consent").into_response();
        }
        let to = match f.get("d").map(String::as_str) {
            Some("yes") => format!("{CALLBACK}?code=abc&state=st"),
            _ => format!("{CALLBACK}?error=access_denied&state=st"),
        };
        Redirect::to(&to).into_response()
    }

    async fn provider() -> Url {
        let app = Router::new()
            .route("/authorize", get(authorize))
            .route("/login", get(login_page).post(login))
            .route("/consent", get(consent_page).post(consent));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        Url::parse(&format!("http://{addr}/authorize?state=st")).unwrap()
    }

    fn values(pairs: &[(&str, &str)]) -> FormValues {
        FormValues::new(
            pairs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
        )
    }

    async fn run(choice: Choice, v: &FormValues) -> Result<Url, AuthorizeError> {
        let start = provider().await;
        let b = Browser::hermetic(Duration::from_secs(5)).unwrap();
        let redirect = Url::parse(CALLBACK).unwrap();
        b.authorize(&start, &redirect, choice, v)
            .await
            .map(|a| a.callback)
    }

    #[tokio::test]
    async fn logs_in_approves_and_stops_at_the_redirect_uri() {
        let cb = run(
            Choice::Approve,
            &values(&[("login", "alice"), ("password", "pw")]),
        )
        .await
        .unwrap();
        assert_eq!(cb.as_str(), format!("{CALLBACK}?code=abc&state=st"));
    }

    #[tokio::test]
    async fn denies_on_the_consent_page() {
        let cb = run(
            Choice::Deny,
            &values(&[("login", "alice"), ("password", "pw")]),
        )
        .await
        .unwrap();
        assert!(cb.as_str().contains("error=access_denied"), "{cb}");
    }

    #[tokio::test]
    async fn a_login_without_values_names_the_form_and_fields() {
        let err = run(Choice::Approve, &FormValues::default())
            .await
            .unwrap_err();
        let msg = err.to_string();
        assert!(matches!(err, AuthorizeError::Form { .. }), "{msg}");
        assert!(
            msg.contains("\"/login\"") && msg.contains("`login`") && msg.contains("`password`"),
            "{msg}"
        );
        assert!(
            !msg.contains("csrf"),
            "hidden fields are filled, not asked for: {msg}"
        );
    }

    #[tokio::test]
    async fn a_wrong_password_is_reported_not_looped() {
        let err = run(
            Choice::Approve,
            &values(&[("login", "alice"), ("password", "no")]),
        )
        .await
        .unwrap_err();
        assert!(matches!(err, AuthorizeError::SameFormAgain(_)), "{err}");
        assert!(err.to_string().contains("--form-field"), "{err}");
        assert!(
            !err.to_string().contains("no\""),
            "never echo typed values: {err}"
        );
    }
}
