//! The black-box checks: what each one requires, the clause it cites, how to fix a failure,
//! and the judgements themselves as plain functions of what crossed the wire.

use handshake_mock::{Endpoint, JournalEntry};
use handshake_profile::{ClientAuth, PkceMethod, PkceMode, Profile, TokenEncoding};

use crate::browser::Exchange;
use crate::mockctl::is_credential_param;
use crate::report::Status;

/// One black-box check of a client app.
///
/// The report names each case by [`ClientCheckId::id`] and cites [`ClientCheckId::rfc`];
/// failures and warnings end with [`ClientCheckId::hint`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum ClientCheckId {
    /// The authorization request: endpoint, `response_type`, `client_id`, `redirect_uri`.
    AuthzRequest,
    /// `state`: present, unguessable, fresh per login.
    AuthzState,
    /// PKCE S256 when the provider supports it.
    AuthzPkce,
    /// A callback with a state the browser was never given leads to no token request.
    CsrfForgedState,
    /// A callback without state leads to no token request.
    CsrfMissingState,
    /// A callback replaying a used state leads to no token request.
    CsrfReplayedState,
    /// An `error=access_denied` callback is handled: no token request, no 5xx.
    AccessDenied,
    /// The code is exchanged once, with the client authentication and encoding expected.
    CodeExchange,
    /// Tokens never reach the browser.
    TokenLeak,
    /// The callback answer carries no code onward.
    CodeRefererLeak,
    /// An expired access token is refreshed once and the call retried.
    ExpiryRefresh,
    /// A revoked grant makes the app ask for re-authorization, without looping.
    RevokedGrant,
    /// Logout revokes the tokens (RFC 7009).
    LogoutRevocation,
    /// No request the app sends to the CRM carries a credential in its URL.
    CredentialsInHeaders,
    /// The app's list route returns every record of the CRM's data set exactly once.
    PagingComplete,
    /// When the CRM answers 429, the API route waits as told and retries, or tells the user
    /// to try later; it neither hammers the CRM nor answers with a server error.
    ///
    /// RFC 6585 §4 and RFC 9110 §10.2.3 (`Retry-After`); Capsule's "Handling API responses"
    /// (wait until `X-RateLimit-Reset`), ConnectWise's "PSA API Requests" (429 with
    /// `Retry-After`).
    RateLimitHonoured,
    /// No request of the run killed the app or left it without an answer.
    AppSurvives,
    /// Two users logged in from two browsers each see only their own CRM data, and one
    /// logging out does not log out the other.
    SessionIsolation,
}

impl ClientCheckId {
    /// Every check, in report order.
    pub const ALL: [ClientCheckId; 18] = [
        ClientCheckId::AuthzRequest,
        ClientCheckId::AuthzState,
        ClientCheckId::AuthzPkce,
        ClientCheckId::CsrfForgedState,
        ClientCheckId::CsrfMissingState,
        ClientCheckId::CsrfReplayedState,
        ClientCheckId::AccessDenied,
        ClientCheckId::CodeExchange,
        ClientCheckId::TokenLeak,
        ClientCheckId::CodeRefererLeak,
        ClientCheckId::ExpiryRefresh,
        ClientCheckId::RevokedGrant,
        ClientCheckId::LogoutRevocation,
        ClientCheckId::CredentialsInHeaders,
        ClientCheckId::PagingComplete,
        ClientCheckId::RateLimitHonoured,
        ClientCheckId::AppSurvives,
        ClientCheckId::SessionIsolation,
    ];

    /// The id used in reports (`csrf-forged-state`).
    pub fn id(self) -> &'static str {
        self.info().0
    }
    /// One-line title.
    pub fn title(self) -> &'static str {
        self.info().1
    }
    /// The clause enforced.
    pub fn rfc(self) -> &'static str {
        self.info().2
    }
    /// One line on how to fix a failure.
    pub fn hint(self) -> &'static str {
        self.info().3
    }

    fn info(self) -> (&'static str, &'static str, &'static str, &'static str) {
        match self {
            ClientCheckId::AuthzRequest => (
                "authz-request",
                "The login redirects to the provider's authorization endpoint with response_type=code, the client_id and the registered redirect_uri",
                "RFC 6749 §4.1.1, §3.1.2",
                "build the URL from the provider's authorization endpoint with response_type=code, your client_id and the exact registered redirect_uri",
            ),
            ClientCheckId::AuthzState => (
                "authz-state",
                "Each login carries a fresh, unguessable state",
                "RFC 6749 §10.12, §10.10",
                "generate state per login from a CSPRNG (32 random bytes, base64url) and keep it in the user's session",
            ),
            ClientCheckId::AuthzPkce => (
                "authz-pkce",
                "The authorization request uses PKCE with S256 when the provider supports it",
                "RFC 7636 §4.2, RFC 9700 §2.1.1",
                "send code_challenge=BASE64URL(SHA256(verifier)) with code_challenge_method=S256, a new verifier per login, and the verifier in the token request",
            ),
            ClientCheckId::CsrfForgedState => (
                "csrf-forged-state",
                "A callback with a state this browser was never given is rejected before any token request",
                "RFC 6749 §10.12",
                "compare the callback's state with the one stored in this user's session (constant time) and stop before exchanging the code when they differ",
            ),
            ClientCheckId::CsrfMissingState => (
                "csrf-missing-state",
                "A callback without state is rejected before any token request",
                "RFC 6749 §10.12",
                "treat a missing state as a mismatch: reject the callback without calling the token endpoint",
            ),
            ClientCheckId::CsrfReplayedState => (
                "csrf-replayed-state",
                "A state that already completed a login is not accepted again",
                "RFC 6749 §10.12, RFC 9700 §4.7.1",
                "delete the stored state as soon as a callback uses it, whatever the outcome",
            ),
            ClientCheckId::AccessDenied => (
                "access-denied",
                "A callback with error=access_denied is handled: no token request, no 5xx",
                "RFC 6749 §4.1.2.1",
                "check the callback for an error parameter first and answer with a page (4xx) that lets the user try again",
            ),
            ClientCheckId::CodeExchange => (
                "code-exchange",
                "The code is exchanged exactly once, with the client authentication and body encoding the provider expects",
                "RFC 6749 §4.1.3, §2.3.1",
                "POST grant_type=authorization_code with code, redirect_uri (and code_verifier) once per callback, authenticated and encoded as the provider documents",
            ),
            ClientCheckId::TokenLeak => (
                "token-leak",
                "Access and refresh tokens never reach the browser (bodies, headers, redirect URLs)",
                "RFC 6749 §10.3, §10.4",
                "keep tokens in the server-side session or token store; give the browser only an opaque session cookie",
            ),
            ClientCheckId::CodeRefererLeak => (
                "code-referer-leak",
                "The callback answer moves on without the code in the URL",
                "RFC 9700 §4.2.4, §4.3.2",
                "answer the callback with a redirect to a URL without code and state (at least send Referrer-Policy: no-referrer)",
            ),
            ClientCheckId::ExpiryRefresh => (
                "expiry-refresh",
                "After the access token expires, the API route refreshes once and retries the call",
                "RFC 6749 §6, RFC 6750 §3.1",
                "on a 401 invalid_token, refresh once (grant_type=refresh_token), store the new tokens, and retry the call once",
            ),
            ClientCheckId::RevokedGrant => (
                "revoked-grant",
                "After the user revokes the grant, the API route asks to re-authorize, with at most one refresh attempt and no 5xx",
                "RFC 6749 §5.2, §6",
                "when the refresh answers invalid_grant, drop the tokens and send the user to re-authorize; never retry the refresh",
            ),
            ClientCheckId::LogoutRevocation => (
                "logout-revocation",
                "Logout revokes the tokens at the provider's revocation endpoint",
                "RFC 7009 §2.1",
                "on logout POST the refresh token (then the access token) to the revocation endpoint, authenticated like token requests, before clearing the session",
            ),
            ClientCheckId::CredentialsInHeaders => (
                "credentials-in-headers",
                "No request to the CRM carries a token, key or secret in its URL",
                "RFC 6750 §2.3, §5.3, RFC 9700 §4.3.2",
                "send the access token (or API key) in the Authorization header and client secrets in the body or Basic header, never as query parameters: URLs end up in logs",
            ),
            ClientCheckId::PagingComplete => (
                "paging-complete",
                "The app's list route returns every record of the CRM's data set exactly once",
                "RFC 8288 §3",
                "follow the CRM's paging to the end (Link rel=\"next\", page/perPage, skip/top or cursor) and stop only when it says there is no next page",
            ),
            ClientCheckId::RateLimitHonoured => (
                "rate-limit-honoured",
                "When the CRM answers 429, the API route waits as told (Retry-After, or until X-RateLimit-Reset) and retries, or tells the user to try later; no hammering, no 5xx",
                "RFC 6585 §4, RFC 9110 §10.2.3",
                "on a 429, wait Retry-After seconds (or until X-RateLimit-Reset) and retry once when that is short; otherwise answer 503 or 429 with Retry-After; never retry at once or pass it on as a 502",
            ),
            ClientCheckId::AppSurvives => (
                "app-survives",
                "No request kills the app or leaves it hanging: provider errors, forged callbacks and revoked grants are answered with a page",
                "RFC 6749 §4.1.2.1, §5.2, RFC 6750 §3.1",
                "catch every error of the token and API calls (in Express: try/catch in async handlers, or an error middleware) and answer 4xx/5xx; an unhandled rejection ends a Node process",
            ),
            ClientCheckId::SessionIsolation => (
                "session-isolation",
                "Two users in two browsers each see only their own CRM data; one logging out leaves the other logged in",
                "RFC 6749 §10.3, §10.12, RFC 9700 §4.7",
                "keep tokens per user session (a session id cookie keying a server-side store), never in a process-wide variable; revoke and clear only the session that logs out",
            ),
        }
    }
}

/// The verdict of one check, before it becomes a report case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Outcome {
    pub(crate) status: Status,
    /// What was observed; for passes a short confirmation.
    pub(crate) text: String,
    /// Journal lines backing the verdict.
    pub(crate) journal: Vec<String>,
    /// The `seq`s of those entries: the requests a diagram marks as failing.
    pub(crate) seqs: Vec<u64>,
    /// The browser's request whose answer the verdict is about (method and URL, kept in
    /// memory only to find it among the recorded requests; never shown).
    pub(crate) hit: Option<(&'static str, url::Url)>,
}

impl Outcome {
    pub(crate) fn pass(text: impl Into<String>) -> Self {
        Self::new(Status::Passed, text)
    }
    pub(crate) fn fail(text: impl Into<String>) -> Self {
        Self::new(Status::Failed, text)
    }
    pub(crate) fn warn(text: impl Into<String>) -> Self {
        Self::new(Status::Warning, text)
    }
    pub(crate) fn skip(text: impl Into<String>) -> Self {
        Self::new(Status::Skipped, text)
    }
    fn new(status: Status, text: impl Into<String>) -> Self {
        Outcome {
            status,
            text: text.into(),
            journal: Vec::new(),
            seqs: Vec::new(),
            hit: None,
        }
    }
    pub(crate) fn with_journal(mut self, entries: &[&JournalEntry]) -> Self {
        self.journal = entries.iter().map(|e| journal_line(e)).collect();
        self.seqs = entries.iter().map(|e| e.seq).collect();
        self
    }
    /// The browser's request whose answer the verdict is about.
    pub(crate) fn with_hit(mut self, ex: &Exchange) -> Self {
        self.hit = Some((ex.method, ex.url.clone()));
        self
    }
    /// Keeps the worst of two outcomes (failed > warning > passed > skipped).
    pub(crate) fn worst(self, other: Outcome) -> Outcome {
        let rank = |s: Status| match s {
            Status::Failed => 3,
            Status::Warning => 2,
            Status::Passed => 1,
            Status::Skipped => 0,
        };
        if rank(other.status) > rank(self.status) {
            other
        } else {
            self
        }
    }
}

/// The requests to the token, revocation and API endpoints that carry a credential in the
/// query string, with the offending parameter's name. The authorization endpoint is left
/// out: its query is the protocol (and holds no credential).
pub(crate) fn judge_credentials_in_urls(journal: &[JournalEntry]) -> Outcome {
    let sent: Vec<&JournalEntry> = journal
        .iter()
        .filter(|e| {
            matches!(
                e.endpoint,
                Some(Endpoint::Token | Endpoint::Revoke | Endpoint::Api)
            )
        })
        .collect();
    if sent.is_empty() {
        return Outcome::skip("the app sent no token, revocation or API request");
    }
    let bad: Vec<(&JournalEntry, &str)> = sent
        .iter()
        .filter_map(|e| {
            e.query
                .iter()
                // The mock tags token values it recognises as `[redacted:...]`.
                .find(|(k, v)| is_credential_param(k) || v.starts_with("[redacted"))
                .map(|(k, _)| (*e, k.as_str()))
        })
        .collect();
    match bad.first() {
        None => Outcome::pass(format!(
            "{} request(s) to the CRM, none with a credential in the URL",
            sent.len()
        )),
        Some((e, name)) => Outcome::fail(format!(
            "{} request(s) carried a credential in the URL, first {} {} with query parameter `{name}`",
            bad.len(),
            e.method,
            e.path
        ))
        .with_journal(&bad.iter().map(|(e, _)| *e).collect::<Vec<_>>()),
    }
}

/// `#12 POST /oauth/token grant_type=refresh_token auth=client_secret_basic [refresh_token] -> 200`:
/// parameter names only, so no value (secret or not) reaches a report.
pub(crate) fn journal_line(e: &JournalEntry) -> String {
    let mut s = format!("#{} {} {}", e.seq, e.method, e.path);
    if let Some(g) = &e.grant_type {
        s.push_str(&format!(" grant_type={g}"));
    }
    if let Some(a) = e.client_auth {
        s.push_str(&format!(" auth={}", a.as_str()));
    }
    let names: Vec<&str> = e
        .query
        .iter()
        .chain(&e.params)
        .map(|(k, _)| k.as_str())
        .filter(|k| !matches!(*k, "grant_type" | "client_secret"))
        .collect();
    if !names.is_empty() {
        s.push_str(&format!(" [{}]", names.join(",")));
    }
    if e.status == 0 {
        s.push_str(" -> dropped");
    } else {
        s.push_str(&format!(" -> {}", e.status));
    }
    s
}

pub(crate) fn is_token_grant(e: &JournalEntry, grant: &str) -> bool {
    e.endpoint == Some(Endpoint::Token) && e.grant_type.as_deref() == Some(grant)
}

/// The body encoding of a token or revocation request, from its `Content-Type`.
pub(crate) fn encoding_of(e: &JournalEntry) -> Option<TokenEncoding> {
    let ct = e.header("content-type")?.to_ascii_lowercase();
    if ct.starts_with("application/x-www-form-urlencoded") {
        Some(TokenEncoding::Form)
    } else if ct.starts_with("application/json") {
        Some(TokenEncoding::Json)
    } else {
        None
    }
}

fn encoding_name(e: Option<TokenEncoding>) -> &'static str {
    match e {
        Some(TokenEncoding::Form) => "form",
        Some(TokenEncoding::Json) => "json",
        None => "an unknown content type",
    }
}

fn list<T, F: Fn(&T) -> &str>(items: &[T], f: F) -> String {
    items.iter().map(f).collect::<Vec<_>>().join(" or ")
}

/// Client authentication and encoding of a token or revocation request, against the profile.
/// `None` when both are acceptable.
pub(crate) fn request_conventions(profile: &Profile, e: &JournalEntry) -> Option<String> {
    let tr = &profile.token_request;
    let mut problems = Vec::new();
    match e.client_auth {
        Some(a) if tr.client_auth.contains(&a) => {}
        Some(a) => problems.push(format!(
            "authenticated with {} where {} expects {}",
            a.as_str(),
            profile.name,
            list(&tr.client_auth, |a: &ClientAuth| a.as_str())
        )),
        None => problems.push(format!(
            "sent no client credentials ({} expects {})",
            profile.name,
            list(&tr.client_auth, |a: &ClientAuth| a.as_str())
        )),
    }
    let enc = encoding_of(e);
    if !enc.is_some_and(|x| tr.encodings.contains(&x)) {
        problems.push(format!(
            "sent {} where {} expects {}",
            encoding_name(enc),
            profile.name,
            list(&tr.encodings, |x: &TokenEncoding| encoding_name(Some(*x)))
        ));
    }
    (!problems.is_empty()).then(|| problems.join("; "))
}

/// Bits of entropy a random string of this shape can hold at most: a generous upper bound,
/// since a random-looking value is not shown to be random.
pub(crate) fn entropy_bits(s: &str) -> f64 {
    let is_uuid = s.len() == 36
        && s.char_indices().all(|(i, c)| {
            if matches!(i, 8 | 13 | 18 | 23) {
                c == '-'
            } else {
                c.is_ascii_hexdigit()
            }
        });
    if is_uuid {
        return 122.0; // a v4 UUID: 128 bits less the version and variant
    }
    if s.chars().all(|c| c.is_ascii_digit()) {
        return s.len() as f64 * 10f64.log2();
    }
    if s.chars().all(|c| c.is_ascii_hexdigit() || c == '-') {
        return s.chars().filter(|c| *c != '-').count() as f64 * 4.0;
    }
    let mut alphabet = 0u32;
    if s.chars().any(|c| c.is_ascii_lowercase()) {
        alphabet += 26;
    }
    if s.chars().any(|c| c.is_ascii_uppercase()) {
        alphabet += 26;
    }
    if s.chars().any(|c| c.is_ascii_digit()) {
        alphabet += 10;
    }
    let mut others: Vec<char> = s.chars().filter(|c| !c.is_ascii_alphanumeric()).collect();
    others.sort_unstable();
    others.dedup();
    // base64 and base64url use two symbols; anything else is counted as found.
    alphabet += u32::try_from(others.len())
        .unwrap_or(u32::MAX)
        .max(if others.is_empty() { 0 } else { 2 });
    s.chars().count() as f64 * f64::from(alphabet.max(1)).log2()
}

/// What the app put in one authorization request.
#[derive(Debug, Clone)]
pub(crate) struct AuthzSeen {
    pub(crate) state: Option<String>,
    pub(crate) code_challenge: Option<String>,
    pub(crate) code_challenge_method: Option<String>,
}

/// `state` over every login seen.
pub(crate) fn judge_state(logins: &[AuthzSeen]) -> Outcome {
    let Some(first) = logins.first() else {
        return Outcome::skip("no authorization request was seen");
    };
    let Some(state) = &first.state else {
        return Outcome::fail(
            "the authorization request has no state parameter: any site can log the user into an attacker's CRM account (login CSRF)",
        );
    };
    let bits = entropy_bits(state);
    let mut states: Vec<&str> = Vec::new();
    for (i, l) in logins.iter().enumerate() {
        match &l.state {
            None => return Outcome::fail(format!("login {} sent no state", i + 1)),
            Some(s) if states.contains(&s.as_str()) => {
                return Outcome::fail(format!(
                    "login {} reused the state of an earlier login: state must be fresh per login",
                    i + 1
                ))
            }
            Some(s) => states.push(s),
        }
    }
    let fresh = if logins.len() > 1 {
        format!(", fresh in each of {} logins", logins.len())
    } else {
        " (only one login completed: freshness not checked)".to_owned()
    };
    if bits < 64.0 {
        Outcome::fail(format!(
            "state {:?}... holds at most {bits:.0} bits: guessable",
            state.chars().take(6).collect::<String>()
        ))
    } else if bits < 128.0 {
        Outcome::warn(format!(
            "state holds at most {bits:.0} bits; RFC 6749 §10.10 asks for at least 128"
        ))
    } else {
        Outcome::pass(format!(
            "{} characters, up to {bits:.0} bits{fresh}",
            state.chars().count()
        ))
    }
}

/// PKCE over every login seen.
pub(crate) fn judge_pkce(profile: &Profile, logins: &[AuthzSeen]) -> Outcome {
    let Some(first) = logins.first() else {
        return Outcome::skip("no authorization request was seen");
    };
    let offered = &profile.pkce.methods;
    let s256 = offered.contains(&PkceMethod::S256);
    if !profile.pkce.supported() {
        return match &first.code_challenge {
            None => Outcome::skip(format!("{} does not support PKCE", profile.name)),
            Some(_) => Outcome::pass(format!(
                "sends a code_challenge, which {} ignores",
                profile.name
            )),
        };
    }
    let Some(_) = &first.code_challenge else {
        let text = "the authorization request has no code_challenge: a stolen code can be redeemed by anyone";
        return if profile.pkce.mode == PkceMode::Required {
            Outcome::fail(format!("{text} ({} requires PKCE)", profile.name))
        } else {
            Outcome::warn(text)
        };
    };
    let method = first.code_challenge_method.as_deref().unwrap_or("plain");
    if method == "plain" && s256 {
        return Outcome::fail(format!(
            "uses code_challenge_method=plain although {} offers S256",
            profile.name
        ));
    }
    if PkceMethod::parse(method).is_none_or(|m| !offered.contains(&m)) {
        return Outcome::fail(format!(
            "uses code_challenge_method={method:?}, which {} does not offer",
            profile.name
        ));
    }
    let mut seen: Vec<&str> = Vec::new();
    for l in logins {
        if let Some(c) = &l.code_challenge {
            if seen.contains(&c.as_str()) {
                return Outcome::fail(
                    "the same code_challenge was sent for two logins: use a new verifier per login",
                );
            }
            seen.push(c);
        }
    }
    Outcome::pass(format!(
        "code_challenge_method={method}, a new challenge per login"
    ))
}

/// The answer of a callback that must not log anyone in, and the token requests since it.
pub(crate) fn judge_rejected_callback(
    what: &str,
    answer: Result<&Exchange, &str>,
    token_requests: &[&JournalEntry],
    waited_ms: u128,
    five_xx_fails: bool,
) -> Outcome {
    if !token_requests.is_empty() {
        return Outcome::fail(format!(
            "the app sent {} token request(s) for a callback with {what}",
            token_requests.len()
        ))
        .with_journal(token_requests);
    }
    match answer {
        Err(why) => Outcome::warn(format!(
            "no token request, but the callback with {what} got no answer ({why})"
        )),
        Ok(a) if a.status >= 500 => {
            let text = format!(
                "no token request, but the callback with {what} answered {}: handle it with a 4xx page",
                a.status
            );
            if five_xx_fails {
                Outcome::fail(text).with_hit(a)
            } else {
                Outcome::warn(text).with_hit(a)
            }
        }
        Ok(a) => Outcome::pass(format!(
            "answered {} and sent no token request within {waited_ms} ms",
            a.status
        )),
    }
}

/// More API requests than this while the CRM's rate limit holds is hammering.
pub(crate) const MAX_CALLS_WHILE_LIMITED: usize = 3;

/// The API route's answer while the CRM was rate-limiting, and the API requests the app sent
/// since the limit was armed (oldest first). Every request inside the limited period is
/// refused with 429 by the mock, so each 429 after the first is a retry that came too early.
pub(crate) fn judge_rate_limited(
    answer: Result<&Exchange, &str>,
    api: &[&JournalEntry],
    hold_secs: u64,
    elapsed_ms: u128,
) -> Outcome {
    let refused: Vec<&JournalEntry> = api.iter().copied().filter(|e| e.status == 429).collect();
    let Some(first) = refused.first() else {
        return if api.is_empty() {
            Outcome::skip(
                "the API route sent no request to the CRM's API, so no rate limit could trip",
            )
        } else {
            Outcome::skip(format!(
                "the app's API requests were answered {} before the rate limit could trip",
                api.iter()
                    .map(|e| e.status.to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            ))
            .with_journal(api)
        };
    };
    if refused.len() > MAX_CALLS_WHILE_LIMITED {
        return Outcome::fail(format!(
            "{} API requests within the {hold_secs} s the CRM asked to wait: the app hammers a rate-limited API",
            refused.len()
        ))
        .with_journal(api);
    }
    let answer = match answer {
        Ok(a) => a,
        Err(why) => {
            return Outcome::fail(format!(
                "while the CRM was rate-limiting, the API route got no answer ({why})"
            ))
            .with_journal(api)
        }
    };
    let early = refused.len() - 1;
    let status = answer.status;
    let retried_ok = api
        .iter()
        .any(|e| e.seq > first.seq && (200..300).contains(&e.status));
    let verdict = match status {
        // One upstream call, then an error page: the app did not hammer, it only told the
        // user badly. Repeated calls ending in a 5xx are a retry loop that gave up.
        500..=599 if status != 503 && refused.len() == 1 => {
            return Outcome::warn(format!(
                "answered {status} after one refused API call: the CRM's 429 reached the user as a server error; answer 429/503 with Retry-After, or wait and retry"
            ))
            .with_journal(api)
        }
        500..=599 if status != 503 => {
            return Outcome::fail(format!(
                "answered {status} after {} refused API calls: the CRM's 429 reached the user as a server error",
                refused.len()
            ))
            .with_journal(api)
        }
        200..=299 if retried_ok => Outcome::pass(format!(
            "answered {status} after {elapsed_ms} ms, having retried once the CRM's wait was over"
        )),
        200..=299 => Outcome::warn(format!(
            "answered {status} though the CRM refused every API call: the user sees stale or empty data without being told to try later"
        )),
        429 | 503 => match answer.header("retry-after") {
            Some(v) => Outcome::pass(format!(
                "answered {status} with Retry-After: {v}: the user is told when to try again"
            )),
            None => Outcome::warn(format!(
                "answered {status} without Retry-After: say when to try again"
            )),
        },
        300..=399 => Outcome::warn(format!(
            "answered {status} (a redirect): cannot tell whether the user was told to try later"
        )),
        _ => {
            return Outcome::fail(format!(
                "answered {status}: a rate limit is not the user's error nor a lost authorization; wait and retry, or answer 503/429 with Retry-After"
            ))
            .with_journal(api)
        }
    };
    if early > 0 {
        return Outcome::warn(format!(
            "retried {early} time(s) before the {hold_secs} s were over (each refused again); then {}",
            verdict.text
        ))
        .with_journal(api);
    }
    verdict
}

/// A 2xx page that tells the user to log in again counts as asking to re-authorize.
pub(crate) fn asks_to_reauthorize(answer: &Exchange) -> bool {
    if answer.is_redirect() || matches!(answer.status, 401 | 403) {
        return true;
    }
    let body = answer.body.to_ascii_lowercase();
    (200..300).contains(&answer.status)
        && [
            "authoriz", "authoris", "log in", "login", "sign in", "connect",
        ]
        .iter()
        .any(|w| body.contains(w))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn authz(state: Option<&str>, challenge: Option<&str>, method: Option<&str>) -> AuthzSeen {
        AuthzSeen {
            state: state.map(str::to_owned),
            code_challenge: challenge.map(str::to_owned),
            code_challenge_method: method.map(str::to_owned),
        }
    }

    #[test]
    fn entropy_estimates() {
        assert_eq!(entropy_bits("1700000000000").round(), 43.0);
        assert_eq!(entropy_bits(&"a1".repeat(16)), 128.0); // 32 hex characters
        assert_eq!(entropy_bits("0b5e3c7a-8d2f-4c1e-9a6b-3f2e1d0c9b8a"), 122.0);
        // 43 characters of base64url (32 random bytes)
        assert!(entropy_bits("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk") > 250.0);
        assert!(entropy_bits("xyz") < 20.0);
    }

    #[test]
    fn state_verdicts() {
        let good1 = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
        let good2 = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
        let v = judge_state(&[
            authz(Some(good1), None, None),
            authz(Some(good2), None, None),
        ]);
        assert_eq!(v.status, Status::Passed, "{v:?}");
        assert_eq!(
            judge_state(&[authz(None, None, None)]).status,
            Status::Failed
        );
        let reused = judge_state(&[
            authz(Some(good1), None, None),
            authz(Some(good1), None, None),
        ]);
        assert_eq!(reused.status, Status::Failed);
        assert!(reused.text.contains("reused"));
        assert_eq!(
            judge_state(&[authz(Some("12345"), None, None)]).status,
            Status::Failed
        );
        let uuid = judge_state(&[authz(
            Some("0b5e3c7a-8d2f-4c1e-9a6b-3f2e1d0c9b8a"),
            None,
            None,
        )]);
        assert_eq!(uuid.status, Status::Warning);
    }

    #[test]
    fn pkce_verdicts() {
        let capsule = Profile::builtin("capsule").unwrap(); // optional, S256 + plain
        let connectwise = Profile::builtin("connectwise").unwrap(); // required, S256
        let redtail = Profile::builtin("redtail").unwrap(); // unsupported
        let s256 = |c: &str| authz(Some("s"), Some(c), Some("S256"));
        let two = [s256("c1"), s256("c2")];
        assert_eq!(judge_pkce(&capsule, &two).status, Status::Passed);
        assert_eq!(
            judge_pkce(&capsule, &[s256("c1"), s256("c1")]).status,
            Status::Failed
        );
        let none = [authz(Some("s"), None, None)];
        assert_eq!(judge_pkce(&capsule, &none).status, Status::Warning);
        assert_eq!(judge_pkce(&connectwise, &none).status, Status::Failed);
        assert_eq!(judge_pkce(&redtail, &none).status, Status::Skipped);
        let plain = [authz(Some("s"), Some("c"), Some("plain"))];
        assert_eq!(judge_pkce(&capsule, &plain).status, Status::Failed);
        let implicit_plain = [authz(Some("s"), Some("c"), None)];
        assert_eq!(judge_pkce(&capsule, &implicit_plain).status, Status::Failed);
    }

    fn entry(seq: u64, endpoint: Endpoint, grant: Option<&str>, status: u16) -> JournalEntry {
        let mut params = vec![("code".to_owned(), "[redacted:0a1b2c3d]".to_owned())];
        if let Some(g) = grant {
            params.insert(0, ("grant_type".to_owned(), g.to_owned()));
        }
        params.push(("client_secret".to_owned(), "[redacted]".to_owned()));
        JournalEntry {
            seq,
            endpoint: Some(endpoint),
            method: "POST".to_owned(),
            path: "/oauth/token".to_owned(),
            query: Vec::new(),
            headers: vec![(
                "content-type".to_owned(),
                "application/x-www-form-urlencoded".to_owned(),
            )],
            params,
            grant_type: grant.map(str::to_owned),
            client_auth: Some(ClientAuth::ClientSecretPost),
            status,
            auth_mode: None,
            ..JournalEntry::default()
        }
    }

    #[test]
    fn credentials_in_urls_fail_and_name_the_parameter_only() {
        let mut api = entry(3, Endpoint::Api, None, 200);
        api.method = "GET".to_owned();
        api.path = "/api/v2/parties".to_owned();
        api.params.clear();
        assert_eq!(
            judge_credentials_in_urls(&[api.clone()]).status,
            Status::Passed
        );
        api.query = vec![
            ("page".to_owned(), "2".to_owned()),
            ("access_token".to_owned(), "[redacted:0a1b2c3d]".to_owned()),
        ];
        let o = judge_credentials_in_urls(&[entry(1, Endpoint::Token, None, 200), api.clone()]);
        assert_eq!(o.status, Status::Failed);
        assert_eq!(
            o.text,
            "1 request(s) carried a credential in the URL, first GET /api/v2/parties with query parameter `access_token`"
        );
        assert!(!o.journal.concat().contains("0a1b2c3d"), "{:?}", o.journal);
        // Every credential name the scenario runner knows, check-client knows too: a
        // personal access token in a query string is a leak even if the mock did not tag it.
        for name in ["personal_access_token", "userkey", "privatekey"] {
            api.query = vec![(name.to_owned(), "plain-value".to_owned())];
            let o = judge_credentials_in_urls(&[api.clone()]);
            assert_eq!(o.status, Status::Failed, "{name}: {}", o.text);
        }
        // An API key under another name is caught by the mock's redaction tag.
        api.query = vec![("k".to_owned(), "[redacted:ffff0000]".to_owned())];
        assert_eq!(judge_credentials_in_urls(&[api]).status, Status::Failed);
        assert_eq!(judge_credentials_in_urls(&[]).status, Status::Skipped);
    }

    fn exchange(status: u16, location: Option<&str>, body: &str) -> Exchange {
        let mut headers = vec![("content-type".to_owned(), "text/html".to_owned())];
        if let Some(l) = location {
            headers.push(("location".to_owned(), l.to_owned()));
        }
        Exchange {
            method: "GET",
            url: "http://127.0.0.1:3000/callback?code=c&state=s"
                .parse()
                .unwrap(),
            status,
            headers,
            body: body.to_owned(),
        }
    }

    #[test]
    fn journal_lines_show_names_never_values() {
        let line = journal_line(&entry(7, Endpoint::Token, Some("authorization_code"), 200));
        assert_eq!(
            line,
            "#7 POST /oauth/token grant_type=authorization_code auth=client_secret_post [code] -> 200"
        );
        assert!(!line.contains("redacted"));
    }

    #[test]
    fn conventions_follow_the_profile() {
        let capsule = Profile::builtin("capsule").unwrap(); // form; basic or post
        let connectwise = Profile::builtin("connectwise").unwrap(); // form or json; post only
        let mut json_only = Profile::builtin("connectwise").unwrap();
        json_only.token_request.encodings = vec![TokenEncoding::Json];
        let e = entry(1, Endpoint::Token, Some("authorization_code"), 200);
        assert_eq!(request_conventions(&capsule, &e), None);
        assert_eq!(request_conventions(&connectwise, &e), None);
        let problem = request_conventions(&json_only, &e).unwrap();
        assert!(problem.contains("sent form where"), "{problem}");
        let mut basic = e.clone();
        basic.client_auth = Some(ClientAuth::ClientSecretBasic);
        basic.headers[0].1 = "application/json".to_owned();
        let problem = request_conventions(&connectwise, &basic).unwrap();
        assert!(problem.contains("client_secret_basic"), "{problem}");
        assert!(!problem.contains("sent json"), "{problem}");
        let mut anonymous = e;
        anonymous.client_auth = None;
        assert!(request_conventions(&capsule, &anonymous)
            .unwrap()
            .contains("no client credentials"));
    }

    #[test]
    fn rejected_callback_verdicts() {
        let token = entry(3, Endpoint::Token, Some("authorization_code"), 400);
        let bad_request = exchange(400, None, "invalid state");
        let v = judge_rejected_callback("a forged state", Ok(&bad_request), &[&token], 300, false);
        assert_eq!(v.status, Status::Failed);
        assert_eq!(v.journal.len(), 1, "the token request is shown");
        let v = judge_rejected_callback("a forged state", Ok(&bad_request), &[], 300, false);
        assert_eq!(v.status, Status::Passed);
        let crash = exchange(500, None, "");
        let v = judge_rejected_callback("a forged state", Ok(&crash), &[], 300, false);
        assert_eq!(v.status, Status::Warning);
        let v = judge_rejected_callback("error=access_denied", Ok(&crash), &[], 300, true);
        assert_eq!(v.status, Status::Failed);
        let v = judge_rejected_callback("no state", Err("timed out"), &[], 300, false);
        assert_eq!(v.status, Status::Warning);
    }

    #[test]
    fn what_counts_as_asking_to_reauthorize() {
        assert!(asks_to_reauthorize(&exchange(302, Some("/login"), "")));
        assert!(asks_to_reauthorize(&exchange(401, None, "")));
        assert!(asks_to_reauthorize(&exchange(
            200,
            None,
            "Please <a href=/login>connect</a> again"
        )));
        assert!(!asks_to_reauthorize(&exchange(
            200,
            None,
            "{\"parties\":[]}"
        )));
        assert!(!asks_to_reauthorize(&exchange(502, None, "Please log in")));
    }

    fn api_call(seq: u64, status: u16) -> JournalEntry {
        let mut e = entry(seq, Endpoint::Api, None, status);
        e.method = "GET".to_owned();
        e.path = "/api/v2/parties".to_owned();
        e.params.clear();
        e.client_auth = None;
        e
    }

    fn judge_429(answer: Result<&Exchange, &str>, statuses: &[u16]) -> Outcome {
        let calls: Vec<JournalEntry> = statuses
            .iter()
            .enumerate()
            .map(|(i, s)| api_call(10 + i as u64, *s))
            .collect();
        let refs: Vec<&JournalEntry> = calls.iter().collect();
        judge_rate_limited(answer, &refs, 1, 1200)
    }

    #[test]
    fn rate_limit_verdicts() {
        let ok = exchange(200, None, "{\"data\":[]}");
        // Waited, retried once after the wait: pass.
        let v = judge_429(Ok(&ok), &[429, 200]);
        assert_eq!(v.status, Status::Passed, "{v:?}");
        assert!(v.text.contains("after 1200 ms"), "{}", v.text);
        // Told the user to come back later, with Retry-After: pass; without: warning.
        let mut later = exchange(503, None, "Try again in a minute");
        let v = judge_429(Ok(&later), &[429]);
        assert_eq!(v.status, Status::Warning, "{v:?}");
        assert!(v.text.contains("without Retry-After"));
        later
            .headers
            .push(("retry-after".to_owned(), "1".to_owned()));
        assert_eq!(judge_429(Ok(&later), &[429]).status, Status::Passed);
        let mut passed_on = exchange(429, None, "");
        passed_on
            .headers
            .push(("retry-after".to_owned(), "1".to_owned()));
        assert_eq!(judge_429(Ok(&passed_on), &[429]).status, Status::Passed);
        // A 502 after one upstream call warns (it did not hammer); after a retry loop, fails.
        let bad_gateway = exchange(502, None, "CRM error");
        let v = judge_429(Ok(&bad_gateway), &[429]);
        assert_eq!(v.status, Status::Warning);
        assert!(
            v.text
                .starts_with("answered 502 after one refused API call"),
            "{}",
            v.text
        );
        assert_eq!(v.journal, ["#10 GET /api/v2/parties -> 429"]);
        let v = judge_429(Ok(&exchange(500, None, "")), &[429, 429]);
        assert_eq!(v.status, Status::Failed);
        assert!(
            v.text.starts_with("answered 500 after 2 refused"),
            "{}",
            v.text
        );
        // Re-authorization is not the answer to a rate limit.
        assert_eq!(
            judge_429(Ok(&exchange(401, None, "log in")), &[429]).status,
            Status::Failed
        );
        // Early retries: up to three calls while limited warn, more is hammering.
        let v = judge_429(Ok(&ok), &[429, 429, 200]);
        assert_eq!(v.status, Status::Warning, "{v:?}");
        assert!(
            v.text.starts_with("retried 1 time(s) before the 1 s"),
            "{}",
            v.text
        );
        let v = judge_429(Ok(&ok), &[429, 429, 429, 429, 200]);
        assert_eq!(v.status, Status::Failed);
        assert!(
            v.text.starts_with("4 API requests within the 1 s"),
            "{}",
            v.text
        );
        assert_eq!(v.journal.len(), 5);
        // A 200 without any successful call hides the limit from the user.
        assert_eq!(judge_429(Ok(&ok), &[429]).status, Status::Warning);
        // No answer within the timeout fails; no API call at all cannot be judged.
        assert_eq!(judge_429(Err("timed out"), &[429]).status, Status::Failed);
        assert_eq!(judge_429(Ok(&ok), &[]).status, Status::Skipped);
        assert_eq!(judge_429(Ok(&ok), &[401]).status, Status::Skipped);
    }

    #[test]
    fn every_check_has_text() {
        let mut ids: Vec<&str> = ClientCheckId::ALL.iter().map(|c| c.id()).collect();
        for c in ClientCheckId::ALL {
            assert!(c.rfc().starts_with("RFC "), "{c:?}");
            assert!(!c.title().is_empty() && !c.hint().is_empty());
        }
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), ClientCheckId::ALL.len());
    }
}
