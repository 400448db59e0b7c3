//! The harness's browser: a cookie jar, no automatic redirects, and a record of every answer.
//!
//! Redirects are followed by hand so each hop can be judged (where does the app send the
//! user, with what in the URL?), and so the browser never wanders off to a host the check did
//! not mean to visit.

use std::sync::Arc;
use std::time::Duration;

use reqwest::redirect::Policy;
use url::Url;

/// Redirect hops followed within one origin before giving up (a loop, most likely).
const MAX_HOPS: usize = 10;

/// Bodies are kept up to this size for scanning; an app page is far smaller.
const MAX_BODY: usize = 1 << 20;

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

/// A browser with its own cookie jar.
pub(crate) struct Browser {
    client: reqwest::Client,
}

impl Browser {
    pub(crate) fn new(timeout: Duration) -> Result<Self, reqwest::Error> {
        let client = reqwest::Client::builder()
            .cookie_provider(Arc::new(reqwest::cookie::Jar::default()))
            .redirect(Policy::none())
            .timeout(timeout)
            .user_agent(concat!(
                "handshake-check-client/",
                env!("CARGO_PKG_VERSION")
            ))
            .build()?;
        Ok(Browser { client })
    }

    pub(crate) async fn get(&self, url: &Url) -> Result<Exchange, NoAnswer> {
        let res = self
            .client
            .get(url.clone())
            .header("accept", "text/html,application/json;q=0.9,*/*;q=0.8")
            .send()
            .await
            .map_err(|e| no_answer(&e.without_url()))?;
        read("GET", url, res).await
    }

    pub(crate) async fn post_form(
        &self,
        url: &Url,
        fields: &[(String, String)],
    ) -> Result<Exchange, NoAnswer> {
        let body = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(fields)
            .finish();
        let res = self
            .client
            .post(url.clone())
            .header("content-type", "application/x-www-form-urlencoded")
            .header("accept", "text/html")
            .body(body)
            .send()
            .await
            .map_err(|e| no_answer(&e.without_url()))?;
        read("POST", url, res).await
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
