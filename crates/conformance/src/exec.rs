//! Plays the steps of one scenario against one provider.

use std::collections::HashMap;
use std::time::Duration;

use base64::Engine as _;
use handshake_client::NativeCredentials;
use handshake_profile::{ClientAuth, Profile, TokenEncoding};
use rand::RngCore as _;
use sha2::Digest as _;
use url::Url;

use crate::browser::{AuthorizeError, Browser, Choice, FormValues};
use crate::control::{Control, JournalLine};
use crate::cut::{ClientFailure, ClientUnderTest};
use crate::report::Failure;
use crate::scenario::{
    Action, ClockAdvance, CodeChoice, CredentialChoice, JournalExpect, RawGrant, RawPkce,
    RedirectChoice, Scenario, SecretChoice, Step, Tamper, VerifierChoice,
};
use crate::target::Secret;
use crate::trace::{Blame, StepView, Trace};

/// A step that does not finish within this is reported as `step_timeout`: a client stuck in a
/// refresh loop must not hang the run.
const STEP_TIMEOUT: Duration = Duration::from_secs(5);

/// An `redirect_uri` nobody registered, used by the runner's own requests.
const ATTACKER_REDIRECT: &str = "https://attacker.example/callback";

/// Where the case's provider is and how the runner's own requests authenticate.
pub(crate) struct Env<'a> {
    pub(crate) profile: &'a Profile,
    pub(crate) base_url: String,
    pub(crate) client_id: String,
    pub(crate) client_secret: Secret,
    pub(crate) redirect_uri: String,
    pub(crate) control: Option<&'a dyn Control>,
    pub(crate) http: reqwest::Client,
    /// The user's browser for this case (its own cookie jar).
    pub(crate) browser: Browser,
    /// What the user types into the provider's login forms.
    pub(crate) form_values: FormValues,
    /// Valid native credentials, when the provider has a native scheme and they are known.
    pub(crate) native: Option<NativeCredentials>,
}

/// What the executor remembers between the steps of one case (callbacks received and
/// delivered, raw codes, saved tokens). One per case; `run_steps` and the explorer keep it
/// across [`play_step`] calls.
#[derive(Default)]
pub(crate) struct State {
    /// Callback URLs the browser received from the provider, in order.
    callbacks: Vec<String>,
    /// The callback delivered last (for `replay`).
    delivered: Vec<String>,
    /// Code and PKCE verifier of the last `raw_authorize`.
    raw_code: Option<(String, Option<String>, String)>,
    /// Tokens saved by raw token requests: label -> (access, refresh).
    saved: HashMap<String, (String, Option<String>)>,
}

/// What a step came to: an outcome name a scenario can expect (`ok`, `state_mismatch`,
/// `http_503`, ...) and what the client or provider said.
pub(crate) struct Outcome {
    pub(crate) name: String,
    pub(crate) detail: Option<String>,
    /// For several calls in parallel: each call's outcome, in order.
    pub(crate) calls: Vec<String>,
}

impl State {
    /// The callback URL the last `callback` step delivered to the client (it carries a code:
    /// keep it in memory, never print it).
    pub(crate) fn last_delivered(&self) -> Option<&str> {
        self.delivered.last().map(String::as_str)
    }
}

impl Outcome {
    fn ok() -> Self {
        Outcome {
            name: "ok".to_owned(),
            detail: None,
            calls: Vec::new(),
        }
    }
    fn named(name: impl Into<String>, detail: impl Into<String>) -> Self {
        Outcome {
            name: name.into(),
            detail: Some(detail.into()),
            calls: Vec::new(),
        }
    }
    fn describe(&self) -> String {
        match &self.detail {
            Some(d) => format!("{} ({d})", self.name),
            None => self.name.clone(),
        }
    }
}

/// A failed case: the failure, and what crossed the wire up to it.
pub(crate) struct Failed {
    pub(crate) failure: Failure,
    pub(crate) trace: Option<Trace>,
}

impl From<Failure> for Failed {
    fn from(failure: Failure) -> Self {
        Failed {
            failure,
            trace: None,
        }
    }
}

/// A step as it played, for the trace: where its journal and browser requests begin.
struct Played<'s> {
    action: &'s Action,
    outcome: String,
    journal_from: u64,
    hits_from: usize,
}

/// Runs every step; the first step whose outcome or journal is not as expected fails the case.
pub(crate) async fn run_steps(
    scenario: &Scenario,
    env: &Env<'_>,
    client: &dyn ClientUnderTest,
) -> Result<(), Failed> {
    let mut state = State::default();
    let mut played: Vec<Played<'_>> = Vec::new();
    for (i, step) in scenario.steps.iter().enumerate() {
        let index = i + 1;
        let before = env
            .control
            .map(|c| c.journal().last().map_or(0, |e| e.seq))
            .unwrap_or(0);
        let hits_from = env.browser.recorded().len();
        let outcome = match play_step(step, env, client, &mut state).await {
            Ok(o) => o,
            Err(failure) => {
                played.push(Played {
                    action: &step.action,
                    outcome: format!("could not be played: {failure}"),
                    journal_from: before,
                    hits_from,
                });
                let f = Failure::at_step(index, step.action.name(), "the step to run", failure);
                let entries = entries_since(env, before);
                let f = f.with_journal(entries.iter().map(JournalLine::render).collect());
                return Err(failed(env, &played, f, Blame::default()));
            }
        };
        played.push(Played {
            action: &step.action,
            outcome: outcome.describe(),
            journal_from: before,
            hits_from,
        });
        if !step.expect.is_empty() && !step.expect.contains(&outcome.name) {
            let expected = step.expect.join(" or ");
            let entries = entries_since(env, before);
            let f = Failure::at_step(index, step.action.name(), expected, outcome.describe())
                .with_journal(entries.iter().map(JournalLine::render).collect());
            // The step's journal expectations that fail too point at the requests to blame
            // (the token request a forged callback led to).
            let mut blame = Blame::outcome();
            for je in &step.journal {
                if let Err(actual) = check_journal(je, &entries, env.profile) {
                    blame = blame.and(journal_blame(je, &entries, &actual));
                }
            }
            return Err(failed(env, &played, f, blame));
        }
        if env.control.is_some() {
            let entries = entries_since(env, before);
            for je in &step.journal {
                if let Err(actual) = check_journal(je, &entries, env.profile) {
                    let blame = journal_blame(je, &entries, &actual);
                    let f = Failure::at_step(
                        index,
                        step.action.name(),
                        format!("journal: {je}"),
                        actual,
                    )
                    .with_journal(entries.iter().map(JournalLine::render).collect());
                    return Err(failed(env, &played, f, blame));
                }
            }
        }
    }
    Ok(())
}

/// The journal lines a journal expectation counts: its endpoint, and its grant type if any.
fn matching_lines<'a>(je: &JournalExpect, entries: &'a [JournalLine]) -> Vec<&'a JournalLine> {
    entries
        .iter()
        .filter(|e| e.endpoint == Some(je.endpoint))
        .filter(|e| match &je.grant_type {
            Some(g) => e.grant_type.as_deref() == Some(g.as_str()),
            None => true,
        })
        .collect()
}

/// What a journal expectation that did not hold is blamed on: the requests its verdict
/// names, the requests beyond its maximum, or the request it wanted and never saw.
fn journal_blame(je: &JournalExpect, entries: &[JournalLine], actual: &str) -> Blame {
    let named = Blame::from_text(actual);
    if !named.seqs.is_empty() {
        return named;
    }
    let matching = matching_lines(je, entries);
    let (min, max) = je.bounds();
    match max {
        Some(m) if matching.len() > m => Blame {
            seqs: matching[m..].iter().map(|e| e.seq).collect(),
            ..Blame::default()
        },
        _ if matching.len() < min => Blame {
            missing: vec![(
                format!("{} request", je.endpoint.as_str()),
                format!("expected: {je}"),
            )],
            ..Blame::default()
        },
        _ => Blame::outcome(),
    }
}

/// The failure with the trace of the steps played so far.
fn failed(env: &Env<'_>, played: &[Played<'_>], failure: Failure, blame: Blame) -> Failed {
    let mut journal = env.control.map(|c| c.journal()).unwrap_or_default();
    // Entries are recorded as requests complete: a slow one can come after a later one.
    journal.sort_by_key(|e| e.seq);
    let hits = env.browser.recorded();
    let mut views = Vec::with_capacity(played.len());
    for (i, p) in played.iter().enumerate() {
        let next = played.get(i + 1);
        let (from, to) = (
            journal
                .iter()
                .position(|e| e.seq > p.journal_from)
                .unwrap_or(journal.len()),
            next.map_or(journal.len(), |n| {
                journal
                    .iter()
                    .position(|e| e.seq > n.journal_from)
                    .unwrap_or(journal.len())
            }),
        );
        let hits_to = next.map_or(hits.len(), |n| n.hits_from);
        views.push(StepView {
            index: i + 1,
            action: p.action,
            outcome: Some(p.outcome.clone()),
            entries: &journal[from.min(to)..to],
            hits: &hits[p.hits_from.min(hits_to)..hits_to],
        });
    }
    let trace = crate::trace::of_steps(&views, Some((played.len(), &blame)));
    Failed {
        failure,
        trace: Some(trace),
    }
}

/// Plays one step as every case does (the scenario runner and `handshake explore`): its
/// outcome, `step_timeout` when it does not finish within the step limit, or why the step
/// could not be played at all (no callback to deliver, no mock to control, ...). Checks
/// nothing: expectations are the caller's business.
pub(crate) async fn play_step(
    step: &Step,
    env: &Env<'_>,
    client: &dyn ClientUnderTest,
    state: &mut State,
) -> Result<Outcome, String> {
    match tokio::time::timeout(STEP_TIMEOUT, run_step(step, env, client, state)).await {
        Ok(result) => result,
        Err(_) => Ok(Outcome::named(
            "step_timeout",
            format!("did not finish within {}s", STEP_TIMEOUT.as_secs()),
        )),
    }
}

/// The journal entries after `before` (none without a control API), read once per use.
fn entries_since(env: &Env<'_>, before: u64) -> Vec<JournalLine> {
    env.control
        .map(|c| c.journal().into_iter().filter(|e| e.seq > before).collect())
        .unwrap_or_default()
}

fn check_journal(
    je: &JournalExpect,
    entries: &[JournalLine],
    profile: &Profile,
) -> Result<(), String> {
    let matching = matching_lines(je, entries);
    let (min, max) = je.bounds();
    let n = matching.len();
    if n < min || max.is_some_and(|m| n > m) {
        return Err(format!("{n} matching request(s)"));
    }
    for e in &matching {
        for name in &je.with_params {
            if !e.param_names.contains(name) {
                return Err(format!("request #{} has no `{name}` parameter", e.seq));
            }
        }
    }
    if let Some(want) = je.auth_mode {
        for e in &matching {
            let got = e.auth_mode.as_deref().unwrap_or("none");
            // The mock names the native scheme (`basic_api_key`, ...); `native` is any of them.
            let mode = match got {
                "oauth" | "none" => got,
                _ => "native",
            };
            if mode != want.as_str() {
                return Err(format!(
                    "request #{} was authenticated with {got}, not {}",
                    e.seq,
                    want.as_str()
                ));
            }
        }
    }
    if je.credentials_in_url == Some(false) {
        if let Some((e, p)) = matching
            .iter()
            .find_map(|e| e.url_credential.as_ref().map(|p| (e, p)))
        {
            return Err(format!(
                "request #{} carried a credential in its URL (query parameter `{p}`)",
                e.seq
            ));
        }
    }
    if let Some(want) = &je.client_auth {
        let accepted: Vec<&str> = if want == "profile" {
            profile
                .token_request
                .client_auth
                .iter()
                .map(|a| a.as_str())
                .collect()
        } else {
            vec![want.as_str()]
        };
        for e in &matching {
            let got = e.client_auth.as_deref().unwrap_or("none");
            if !accepted.contains(&got) {
                return Err(format!(
                    "request #{} authenticated the client with {got} (the provider accepts {})",
                    e.seq,
                    accepted.join(" or ")
                ));
            }
        }
    }
    Ok(())
}

async fn run_step(
    step: &Step,
    env: &Env<'_>,
    client: &dyn ClientUnderTest,
    state: &mut State,
) -> Result<Outcome, String> {
    let control = || {
        env.control
            .ok_or_else(|| "this step needs a mock (planner bug: not skipped)".to_owned())
    };
    Ok(match &step.action {
        Action::Authorize { present, equals } => {
            let url = match client.authorize().await {
                Ok(u) => u,
                Err(f) => return Ok(Outcome::named(f.outcome, f.message)),
            };
            let parsed = Url::parse(&url)
                .map_err(|e| format!("the client's authorization URL is not a URL: {e}"))?;
            let query: HashMap<String, String> = parsed.query_pairs().into_owned().collect();
            for p in present {
                if !query.contains_key(p) {
                    return Ok(Outcome::named(
                        format!("missing_{p}"),
                        format!("the authorization request has no `{p}` parameter"),
                    ));
                }
            }
            for (k, v) in equals {
                match query.get(k) {
                    Some(got) if got == v => {}
                    Some(got) => {
                        return Ok(Outcome::named(
                            format!("wrong_{k}"),
                            format!("`{k}` is {got:?}, not {v:?}"),
                        ))
                    }
                    None => {
                        return Ok(Outcome::named(
                            format!("missing_{k}"),
                            format!("the authorization request has no `{k}` parameter"),
                        ))
                    }
                }
            }
            match browse(env, &url, &env.redirect_uri).await? {
                Browse::Redirected(cb) => {
                    let cb_url = Url::parse(&cb).map_err(|e| format!("bad callback URL: {e}"))?;
                    let err = cb_url
                        .query_pairs()
                        .find(|(k, _)| k == "error")
                        .map(|(_, v)| v.into_owned());
                    state.callbacks.push(cb);
                    match err {
                        Some(e) => Outcome::named(
                            e,
                            "the provider redirected back with an error".to_owned(),
                        ),
                        None => Outcome::ok(),
                    }
                }
                Browse::Other(o) => o,
            }
        }
        Action::Callback { tamper, error } => {
            let url = match (tamper, error) {
                (_, Some(e)) => {
                    // The user denied consent: the provider sends the error with the same state.
                    let last = state
                        .callbacks
                        .last()
                        .ok_or("no authorization redirect to answer")?;
                    let mut u = Url::parse(last).map_err(|e| e.to_string())?;
                    let kept: Vec<(String, String)> = u
                        .query_pairs()
                        .filter(|(k, _)| k == "state" || k == "iss")
                        .map(|(k, v)| (k.into_owned(), v.into_owned()))
                        .collect();
                    u.set_query(None);
                    {
                        let mut q = u.query_pairs_mut();
                        q.append_pair("error", e.as_str());
                        // The same state, and the issuer where the provider identifies
                        // itself (RFC 9207 §2 puts `iss` in error responses too).
                        q.extend_pairs(&kept);
                    }
                    u.to_string()
                }
                (Tamper::Replay, None) => state
                    .delivered
                    .last()
                    .cloned()
                    .ok_or("no earlier callback to replay")?,
                (t, None) => {
                    let last = state
                        .callbacks
                        .last()
                        .ok_or("no authorization redirect to deliver")?;
                    tamper_url(last, *t)?
                }
            };
            state.delivered.push(url.clone());
            client_outcome(client.callback(url).await.map(|_| ()))
        }
        Action::ApiCall => api_outcome(client.api_get().await),
        Action::ParallelApiCalls { calls } => {
            // All at once on this task: the client sees them in flight together, as an app
            // serving several requests of one user does.
            let results = futures::future::join_all((0..*calls).map(|_| client.api_get())).await;
            let outcomes: Vec<Outcome> = results.into_iter().map(api_outcome).collect();
            let all: Vec<String> = outcomes.iter().map(|o| o.name.clone()).collect();
            let mut outcome = match outcomes.iter().find(|o| o.name != "ok") {
                None => Outcome::ok(),
                Some(first) => Outcome::named(
                    first.name.clone(),
                    format!("{} parallel calls: {}", calls, all.join(", ")),
                ),
            };
            outcome.calls = all;
            outcome
        }
        Action::Refresh => client_outcome(client.refresh().await),
        Action::Logout => client_outcome(client.logout().await),
        Action::ExpireTokens => {
            control()?.expire_access_tokens();
            Outcome::ok()
        }
        Action::RevokeGrant => {
            control()?.revoke_grants();
            Outcome::ok()
        }
        Action::AdvanceClock(adv) => {
            let by = match adv {
                ClockAdvance::By(d) => *d,
                ClockAdvance::PastCodeLifetime => {
                    Duration::from_secs(env.profile.tokens.code_lifetime_secs.saturating_add(1))
                }
                ClockAdvance::PastAccessTokenLifetime => Duration::from_secs(
                    env.profile
                        .tokens
                        .access_token_lifetime_secs
                        .saturating_add(1),
                ),
            };
            control()?.advance_clock(by);
            Outcome::ok()
        }
        Action::Fault(spec) => {
            control()?.arm_fault(spec).await?;
            Outcome::ok()
        }
        Action::RawAuthorize { pkce, redirect_uri } => {
            raw_authorize(env, state, *pkce, *redirect_uri).await?
        }
        Action::RawTokenRequest {
            grant,
            code,
            refresh_token,
            redirect_uri,
            code_verifier,
            client_secret,
            save_as,
        } => {
            let mut params: Vec<(String, String)> = Vec::new();
            match grant {
                RawGrant::AuthorizationCode => {
                    params.push(("grant_type".into(), "authorization_code".into()));
                    let (code_value, verifier, used_redirect) = match code {
                        CodeChoice::Last => state
                            .raw_code
                            .clone()
                            .ok_or("no code: the last raw_authorize issued none")?,
                        CodeChoice::Bogus => (random_token(), None, env.redirect_uri.clone()),
                    };
                    params.push(("code".into(), code_value));
                    let ru = match redirect_uri {
                        RedirectChoice::Registered => used_redirect,
                        RedirectChoice::Unregistered => ATTACKER_REDIRECT.to_owned(),
                    };
                    params.push(("redirect_uri".into(), ru));
                    match code_verifier {
                        VerifierChoice::Match => {
                            if let Some(v) = verifier {
                                params.push(("code_verifier".into(), v));
                            }
                        }
                        VerifierChoice::Wrong => {
                            params.push(("code_verifier".into(), pkce_verifier()))
                        }
                        VerifierChoice::Omit => {}
                    }
                }
                RawGrant::RefreshToken => {
                    let label = refresh_token.as_deref().unwrap_or_default();
                    let rt = state
                        .saved
                        .get(label)
                        .and_then(|(_, r)| r.clone())
                        .ok_or_else(|| {
                            format!("tokens saved as {label:?} have no refresh token")
                        })?;
                    params.push(("grant_type".into(), "refresh_token".into()));
                    params.push(("refresh_token".into(), rt));
                }
            }
            let secret = match client_secret {
                SecretChoice::Correct => env.client_secret.expose().to_owned(),
                SecretChoice::Wrong => "wrong-secret-handshake".to_owned(),
            };
            let (outcome, tokens) = raw_token(env, params, &secret).await?;
            if let (Some(label), Some(t)) = (save_as, tokens) {
                state.saved.insert(label.clone(), t);
            }
            outcome
        }
        Action::NativeCall {
            credentials,
            crm_error,
        } => {
            let creds = native_credentials(env, *credentials)?;
            match client.native_get(creds).await {
                Ok(r) if (200..300).contains(&r.status) => Outcome::ok(),
                Ok(r) => Outcome::named(format!("http_{}", r.status), "the API answered"),
                Err(f) => {
                    if *crm_error {
                        if let Err(why) = check_surfaced(&f, env.profile) {
                            return Ok(Outcome::named(
                                format!("{}_without_crm_error", f.outcome),
                                why,
                            ));
                        }
                    }
                    Outcome::named(f.outcome, f.message)
                }
            }
        }
        Action::RawNativeCall {
            credentials,
            crm_error,
        } => {
            let creds = native_credentials(env, *credentials)?;
            raw_native(env, &creds, *crm_error).await?
        }
        Action::ListAll { auth, complete } => match client.list_all(*auth).await {
            Err(f) => Outcome::named(f.outcome, f.message),
            Ok(records) if *complete => match check_complete(env, &records) {
                Ok(()) => Outcome::ok(),
                Err(why) => Outcome::named("incomplete", why),
            },
            Ok(_) => Outcome::ok(),
        },
        Action::RawApiCall { token } => {
            let (access, _) = state
                .saved
                .get(token)
                .ok_or_else(|| format!("no tokens saved as {token:?}"))?;
            let url = format!("{}{}", env.base_url, env.profile.api.path);
            let resp = env
                .http
                .get(&url)
                .header(
                    "authorization",
                    format!("{} {access}", env.profile.api.auth_scheme),
                )
                .send()
                .await
                .map_err(|e| format!("GET {url}: {}", e.without_url()))?;
            let status = resp.status().as_u16();
            if (200..300).contains(&status) {
                Outcome::ok()
            } else {
                Outcome::named(format!("http_{status}"), "the API answered")
            }
        }
    })
}

/// The credentials a native step hands out: the valid ones, or a deliberately broken copy.
fn native_credentials(
    env: &Env<'_>,
    choice: CredentialChoice,
) -> Result<NativeCredentials, String> {
    let valid = env
        .native
        .clone()
        .ok_or("no native credentials for this provider (planner bug: `native` not required?)")?;
    const WRONG: &str = "wrong-key-handshake";
    let fields = valid.scheme().credential_fields();
    let field = match choice {
        CredentialChoice::Valid => return Ok(valid),
        // The scheme's first secret: its key.
        CredentialChoice::WrongKey => fields.iter().find(|f| f.secret).map(|f| (f.name, WRONG)),
        CredentialChoice::MissingClientId => fields
            .iter()
            .find(|f| f.in_client_id_header)
            .map(|f| (f.name, "")),
    };
    let Some((name, value)) = field else {
        return Err(match choice {
            CredentialChoice::MissingClientId => "this scheme has no client-id header (planner bug: `native_client_id_header` not required?)".to_owned(),
            _ => format!("cannot make a wrong key for the {} scheme", valid.scheme().as_str()),
        });
    };
    valid.with_field(name, value).map_err(|e| e.to_string())
}

/// The profile's error body for an outcome or status: what the CRM answers with.
fn error_template<'p>(profile: &'p Profile, outcome_or_status: &str) -> Option<&'p str> {
    match outcome_or_status {
        "api_unauthorized" | "401" => Some(&profile.errors.unauthorized_body),
        "api_forbidden" | "403" => Some(&profile.errors.forbidden_body),
        "rate_limited" | "429" => Some(&profile.rate_limit.body),
        _ => None,
    }
}

/// A template field's promise: a fixed value, or just some text (a placeholder).
enum Promise {
    Fixed(String),
    Some,
}

/// The code and message a rendered error template promises, read as the client reads CRM
/// bodies: `code` or a one-word `error`; `message`, `error_description` or a sentence
/// `error`.
fn promises(template: &str) -> (Option<Promise>, Option<Promise>) {
    let Ok(serde_json::Value::Object(obj)) = serde_json::from_str::<serde_json::Value>(template)
    else {
        return (None, None);
    };
    let field = |k: &str| {
        obj.get(k).and_then(|v| v.as_str()).map(|v| {
            if v.contains('{') {
                Promise::Some
            } else {
                Promise::Fixed(v.to_owned())
            }
        })
    };
    let error = obj.get("error").and_then(|v| v.as_str());
    let sentence = error.is_some_and(|e| e.contains(' '));
    let code = field("code").or(if sentence { None } else { field("error") });
    let message = field("message")
        .or_else(|| field("error_description"))
        .or(if sentence { field("error") } else { None });
    (code, message)
}

/// The client's failure carries what the CRM said, in the shape the profile promises.
fn check_surfaced(f: &ClientFailure, profile: &Profile) -> Result<(), String> {
    let template = error_template(profile, &f.outcome)
        .ok_or_else(|| format!("no CRM error body is defined for outcome `{}`", f.outcome))?;
    let crm = f
        .crm
        .as_ref()
        .ok_or("the client surfaced nothing of what the CRM said")?;
    let (code, message) = promises(template);
    // A 429 surfaces its message only (the client keeps no code for it).
    let pairs = [
        (
            "code",
            if f.outcome == "rate_limited" {
                None
            } else {
                code
            },
            &crm.code,
        ),
        ("message", message, &crm.message),
    ];
    for (name, promise, got) in pairs {
        match (promise, got.as_deref()) {
            (None, _) => {}
            (Some(_), None | Some("")) => {
                return Err(format!("the CRM's {name} was not surfaced"));
            }
            (Some(Promise::Fixed(want)), Some(got)) if got != want => {
                return Err(format!(
                    "surfaced {name} {got:?}, but the CRM says {want:?}"
                ));
            }
            _ => {}
        }
    }
    Ok(())
}

/// An error body has the top-level fields, and the fixed values, of the profile's template.
fn check_shape(template: &str, body: &[u8]) -> Result<(), String> {
    let want: serde_json::Value =
        serde_json::from_str(template).map_err(|e| format!("the profile's template: {e}"))?;
    let got: serde_json::Value = serde_json::from_slice(body)
        .map_err(|_| format!("the body is not JSON ({} bytes)", body.len()))?;
    // Salesforce answers an array of error objects: compare the first of each.
    let first = |v: &serde_json::Value| match v {
        serde_json::Value::Array(items) => items.first().cloned().unwrap_or_default(),
        other => other.clone(),
    };
    if want.is_array() != got.is_array() {
        return Err(format!(
            "the body is {}, but the CRM's error body is {}",
            if got.is_array() {
                "an array"
            } else {
                "not an array"
            },
            if want.is_array() {
                "an array"
            } else {
                "not an array"
            }
        ));
    }
    let (want, got) = (first(&want), first(&got));
    let (Some(want), Some(got)) = (want.as_object(), got.as_object()) else {
        return Err("the body is not a JSON object".to_owned());
    };
    let mut want_keys: Vec<&String> = want.keys().collect();
    let mut got_keys: Vec<&String> = got.keys().collect();
    want_keys.sort();
    got_keys.sort();
    if want_keys != got_keys {
        return Err(format!(
            "body fields {got_keys:?}, but the CRM's error body has {want_keys:?}"
        ));
    }
    for (k, v) in want {
        if let Some(fixed) = v.as_str().filter(|v| !v.contains('{')) {
            if got[k].as_str() != Some(fixed) {
                return Err(format!("`{k}` is {}, not {fixed:?}", got[k]));
            }
        }
    }
    Ok(())
}

/// Every record of the data set, each exactly once: the ids the mock serves, or for an
/// external server the ids the profile's `api.dataset` describes.
fn check_complete(env: &Env<'_>, records: &[serde_json::Value]) -> Result<(), String> {
    let dataset = env
        .profile
        .api
        .dataset
        .as_ref()
        .ok_or("the profile has no api.dataset to compare with")?;
    let expected: Vec<String> = match env.control.and_then(|c| c.dataset_ids()) {
        Some(ids) => ids,
        None => (0..u64::from(dataset.count))
            .map(|i| (dataset.first_id + i).to_string())
            .collect(),
    };
    let mut seen = std::collections::BTreeMap::<String, u32>::new();
    let mut without_id = 0usize;
    for r in records {
        match crate::mockctl::record_id(r, &dataset.id_field) {
            Some(id) => *seen.entry(id).or_default() += 1,
            None => without_id += 1,
        }
    }
    let wanted: std::collections::HashSet<&str> = expected.iter().map(String::as_str).collect();
    let missing: Vec<&str> = expected
        .iter()
        .map(String::as_str)
        .filter(|id| !seen.contains_key(*id))
        .collect();
    let duplicated: Vec<&str> = seen
        .iter()
        .filter(|(_, n)| **n > 1)
        .map(|(id, _)| id.as_str())
        .collect();
    let unknown: Vec<&str> = seen
        .keys()
        .map(String::as_str)
        .filter(|id| !wanted.contains(id))
        .collect();
    if missing.is_empty() && duplicated.is_empty() && unknown.is_empty() && without_id == 0 {
        return Ok(());
    }
    let few = |v: &[&str]| {
        let more = if v.len() > 5 { ", ..." } else { "" };
        format!("{} ({}{more})", v.len(), v[..v.len().min(5)].join(", "))
    };
    let mut why = format!(
        "{} record(s) for a data set of {}",
        records.len(),
        expected.len()
    );
    if !missing.is_empty() {
        why.push_str(&format!("; missing {}", few(&missing)));
    }
    if !duplicated.is_empty() {
        why.push_str(&format!("; more than once {}", few(&duplicated)));
    }
    if !unknown.is_empty() {
        why.push_str(&format!("; not in the data set {}", few(&unknown)));
    }
    if without_id > 0 {
        why.push_str(&format!("; {without_id} without `{}`", dataset.id_field));
    }
    Err(why)
}

/// The runner's own native request to the API resource, with the headers the reference
/// client would send (its scheme modules make them), judged on the raw answer.
async fn raw_native(
    env: &Env<'_>,
    creds: &NativeCredentials,
    crm_error: bool,
) -> Result<Outcome, String> {
    let p = env.profile;
    let api = format!("{}{}", env.base_url, p.api.path);
    let mut user_key = None;
    if let Some(exchange) = creds.exchange_authorization(p).map_err(|e| e.to_string())? {
        // Redtail: the key exchange first, judged on its own answer.
        let native = p
            .native_auth
            .as_ref()
            .ok_or("the profile has no native_auth")?;
        let path = native
            .exchange_path
            .as_deref()
            .ok_or("the profile has no native_auth.exchange_path")?;
        let url = format!("{}{path}", env.base_url);
        let resp = env
            .http
            .get(&url)
            .header("authorization", exchange)
            .send()
            .await
            .map_err(|e| format!("GET {url}: {}", e.without_url()))?;
        let status = resp.status().as_u16();
        let body = resp
            .bytes()
            .await
            .map_err(|e| e.without_url().to_string())?;
        if !(200..300).contains(&status) {
            return Ok(judge_error(p, status, &body, crm_error));
        }
        let v: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
        let key = native
            .user_key(&v)
            .ok_or("the key exchange answered without a user_key")?;
        user_key = Some(key.to_owned());
    }
    let headers = creds
        .api_headers(p, user_key.as_deref())
        .map_err(|e| e.to_string())?;
    let resp = env
        .http
        .get(&api)
        .headers(headers)
        .send()
        .await
        .map_err(|e| format!("GET {api}: {}", e.without_url()))?;
    let status = resp.status().as_u16();
    let body = resp
        .bytes()
        .await
        .map_err(|e| e.without_url().to_string())?;
    if (200..300).contains(&status) {
        return Ok(Outcome::ok());
    }
    Ok(judge_error(p, status, &body, crm_error))
}

fn judge_error(profile: &Profile, status: u16, body: &[u8], crm_error: bool) -> Outcome {
    if crm_error {
        if let Some(template) = error_template(profile, &status.to_string()) {
            if let Err(why) = check_shape(template, body) {
                return Outcome::named(format!("http_{status}_not_in_the_crm_shape"), why);
            }
        }
    }
    Outcome::named(format!("http_{status}"), "the API answered")
}

fn api_outcome(r: Result<crate::cut::ApiReply, ClientFailure>) -> Outcome {
    match r {
        Ok(r) if (200..300).contains(&r.status) => Outcome::ok(),
        Ok(r) => Outcome::named(format!("http_{}", r.status), "the API answered"),
        Err(f) => Outcome::named(f.outcome, f.message),
    }
}

fn client_outcome(r: Result<(), crate::cut::ClientFailure>) -> Outcome {
    match r {
        Ok(()) => Outcome::ok(),
        Err(f) => Outcome::named(f.outcome, f.message),
    }
}

fn tamper_url(url: &str, tamper: Tamper) -> Result<String, String> {
    let mut u = Url::parse(url).map_err(|e| format!("bad callback URL: {e}"))?;
    let pairs: Vec<(String, String)> = u.query_pairs().into_owned().collect();
    let pairs: Vec<(String, String)> = match tamper {
        Tamper::None | Tamper::Replay => pairs,
        Tamper::DropState => pairs.into_iter().filter(|(k, _)| k != "state").collect(),
        Tamper::ForgeState => pairs
            .into_iter()
            .map(|(k, v)| {
                if k == "state" {
                    (k, random_token())
                } else {
                    (k, v)
                }
            })
            .collect(),
    };
    u.set_query(None);
    if !pairs.is_empty() {
        u.query_pairs_mut().extend_pairs(pairs);
    }
    Ok(u.to_string())
}

enum Browse {
    /// The provider redirected to the expected redirect URI.
    Redirected(String),
    /// Anything else, as an outcome.
    Other(Outcome),
}

/// The browser's part: send the authorization request, get through the provider's login and
/// consent pages as the approving user, and keep the redirect back without following it (the
/// redirect URI belongs to the app, not to a server the runner should contact).
async fn browse(env: &Env<'_>, url: &str, redirect_uri: &str) -> Result<Browse, String> {
    let start = Url::parse(url).map_err(|e| format!("the authorization URL: {e}"))?;
    let redirect = Url::parse(redirect_uri).map_err(|e| format!("redirect_uri: {e}"))?;
    match env
        .browser
        .authorize(&start, &redirect, Choice::Approve, &env.form_values)
        .await
    {
        Ok(done) => Ok(Browse::Redirected(done.callback.to_string())),
        Err(AuthorizeError::LeftProvider(target)) => {
            Ok(Browse::Other(if target.as_str() == ATTACKER_REDIRECT {
                Outcome::named(
                    "redirected_to_unregistered_uri",
                    "the provider sent the browser to a redirect_uri nobody registered",
                )
            } else {
                Outcome::named("unexpected_redirect", format!("to {target}"))
            }))
        }
        Err(e @ (AuthorizeError::Refused { .. } | AuthorizeError::NoForm { .. })) => {
            Ok(Browse::Other(Outcome::named("rejected", e.to_string())))
        }
        Err(AuthorizeError::NoAnswer(what, why)) => {
            Err(format!("browser: {what} got no answer: {why}"))
        }
        Err(e) => Ok(Browse::Other(Outcome::named(
            "provider_pages",
            e.to_string(),
        ))),
    }
}

async fn raw_authorize(
    env: &Env<'_>,
    state: &mut State,
    pkce: RawPkce,
    redirect: RedirectChoice,
) -> Result<Outcome, String> {
    let p = env.profile;
    let redirect_uri = match redirect {
        RedirectChoice::Registered => env.redirect_uri.clone(),
        RedirectChoice::Unregistered => ATTACKER_REDIRECT.to_owned(),
    };
    let mut url = Url::parse(&format!("{}{}", env.base_url, p.oauth.authorize_path))
        .map_err(|e| format!("authorization URL: {e}"))?;
    let verifier = match pkce {
        RawPkce::Best if p.pkce.supported() => Some(pkce_verifier()),
        RawPkce::S256 => Some(pkce_verifier()),
        _ => None,
    };
    // S256 unless the profile only offers plain.
    let method = p.pkce.best_method().map_or("S256", |m| m.as_str());
    {
        let mut q = url.query_pairs_mut();
        q.append_pair("response_type", "code");
        q.append_pair("client_id", &env.client_id);
        q.append_pair("redirect_uri", &redirect_uri);
        q.append_pair("scope", &p.scopes.join(&p.scopes.default));
        q.append_pair("state", &random_token());
        if let Some(v) = &verifier {
            let challenge = if method == "plain" {
                v.clone()
            } else {
                base64::engine::general_purpose::URL_SAFE_NO_PAD
                    .encode(sha2::Sha256::digest(v.as_bytes()))
            };
            q.append_pair("code_challenge", &challenge);
            q.append_pair("code_challenge_method", method);
        }
    }
    state.raw_code = None;
    Ok(match browse(env, url.as_str(), &redirect_uri).await? {
        Browse::Redirected(cb) => {
            let cb = Url::parse(&cb).map_err(|e| format!("bad redirect: {e}"))?;
            let q: HashMap<String, String> = cb.query_pairs().into_owned().collect();
            if let Some(e) = q.get("error") {
                Outcome::named(e.clone(), "the provider redirected back with an error")
            } else if let Some(code) = q.get("code") {
                state.raw_code = Some((code.clone(), verifier, redirect_uri));
                Outcome::ok()
            } else {
                Outcome::named("no_code", "the redirect carries neither code nor error")
            }
        }
        Browse::Other(o)
            if redirect == RedirectChoice::Unregistered && o.name == "unexpected_redirect" =>
        {
            Outcome::named(
                "redirected_to_unregistered_uri",
                o.detail.unwrap_or_default(),
            )
        }
        Browse::Other(o) => o,
    })
}

type Tokens = (String, Option<String>);

/// Sends a token request as the profile wants it encoded and authenticated.
async fn raw_token(
    env: &Env<'_>,
    mut params: Vec<(String, String)>,
    secret: &str,
) -> Result<(Outcome, Option<Tokens>), String> {
    let p = env.profile;
    let url = format!("{}{}", env.base_url, p.oauth.token_path);
    let mut req = env.http.post(&url).header("accept", "application/json");
    match p.token_request.preferred_client_auth() {
        ClientAuth::ClientSecretBasic => {
            // RFC 6749 §2.3.1: form-encode id and secret before Basic.
            let enc =
                |s: &str| url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
            req = req.basic_auth(enc(&env.client_id), Some(enc(secret)));
        }
        ClientAuth::ClientSecretPost => {
            params.push(("client_id".into(), env.client_id.clone()));
            params.push(("client_secret".into(), secret.to_owned()));
        }
    }
    req = match p.token_request.preferred_encoding() {
        TokenEncoding::Form => req.form(&params),
        TokenEncoding::Json => {
            let obj: serde_json::Map<String, serde_json::Value> = params
                .into_iter()
                .map(|(k, v)| (k, serde_json::Value::String(v)))
                .collect();
            req.json(&obj)
        }
    };
    let resp = req
        .send()
        .await
        .map_err(|e| format!("POST {url}: {}", e.without_url()))?;
    let status = resp.status().as_u16();
    let body: serde_json::Value = resp.json().await.unwrap_or(serde_json::Value::Null);
    if (200..300).contains(&status) {
        let access = body.get("access_token").and_then(|v| v.as_str());
        match access {
            Some(a) => {
                let refresh = body
                    .get("refresh_token")
                    .and_then(|v| v.as_str())
                    .map(str::to_owned);
                Ok((Outcome::ok(), Some((a.to_owned(), refresh))))
            }
            None => Ok((
                Outcome::named(
                    "invalid_token_response",
                    format!("HTTP {status} without access_token"),
                ),
                None,
            )),
        }
    } else {
        let err = body
            .get("error")
            .and_then(|v| v.as_str())
            .map(str::to_owned)
            .unwrap_or_else(|| format!("http_{status}"));
        Ok((Outcome::named(err, format!("HTTP {status}")), None))
    }
}

fn random_token() -> String {
    let mut b = [0u8; 16];
    rand::thread_rng().fill_bytes(&mut b);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b)
}

/// A 43-character verifier (RFC 7636 §4.1).
fn pkce_verifier() -> String {
    let mut b = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut b);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b)
}
