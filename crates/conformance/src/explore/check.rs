//! The invariant checker: after every step, judges what crossed the wire during it (the
//! mock's journal) and the client's outcome against every [`Property`], remembering what
//! earlier steps showed (codes redeemed, refresh tokens rotated out or refused, bearer
//! tokens retired).
//!
//! No I/O: the player hands each step's journal lines in; tests feed it by hand.

use std::collections::{BTreeMap, HashSet};

use handshake_profile::{OAuthError, PkceMethod, Profile, Rotation};
use url::Url;

use super::property::Property;
use crate::control::JournalLine;
use crate::scenario::{Action, EndpointName, Tamper};

/// A property that did not hold at a step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Violation {
    pub(crate) property: Property,
    /// What happened, in words (tags and parameter names, never a secret).
    pub(crate) detail: String,
}

/// What the checker is told about one step.
pub(crate) struct Observed<'a> {
    pub(crate) action: &'a Action,
    /// The step's outcome name (`ok`, `state_mismatch`, ...).
    pub(crate) outcome: &'a str,
    /// For several API calls in parallel, each call's outcome (else empty).
    pub(crate) calls: &'a [String],
    /// For a `callback` step: the URL delivered to the client (it carries the code; kept in
    /// memory only).
    pub(crate) delivered: Option<&'a str>,
    /// Journal entries recorded during the step, in arrival order.
    pub(crate) entries: &'a [JournalLine],
}

/// Remembers what the steps so far showed, and judges each new one.
pub(crate) struct Checker {
    checked: Vec<Property>,
    best_pkce: Option<PkceMethod>,
    rotation: Rotation,
    /// Callback URLs delivered so far.
    delivered: HashSet<String>,
    /// Codes that got an answer from the provider's grant logic.
    codes_answered: HashSet<String>,
    /// Refresh tokens a successful refresh rotated out.
    rotated_out: HashSet<String>,
    /// Set by an `invalid_grant` on refresh; cleared by a successful code exchange.
    reauthorization_required: bool,
    /// Whether the client's last authorization request carried a PKCE challenge.
    last_challenge: Option<bool>,
    /// Bearer tokens used before the last successful token response (or a logout).
    retired: HashSet<String>,
    /// Bearer tokens seen so far.
    bearers: HashSet<String>,
    /// After a logout, until the next successful code exchange.
    logged_out: bool,
}

/// Outcomes that ask the caller to authorize again.
const REAUTHORIZE: &[&str] = &["reauthorization_required", "invalid_grant", "not_connected"];

/// The most 429 answers one API call may collect (the reference client's default attempts).
const MAX_429_PER_CALL: usize = 3;

impl Checker {
    pub(crate) fn new(profile: &Profile) -> Self {
        Checker {
            checked: Property::ALL
                .iter()
                .copied()
                .filter(|p| p.skip_reason(profile).is_none())
                .collect(),
            best_pkce: profile.pkce.best_method(),
            rotation: profile.tokens.rotation,
            delivered: HashSet::new(),
            codes_answered: HashSet::new(),
            rotated_out: HashSet::new(),
            reauthorization_required: false,
            last_challenge: None,
            retired: HashSet::new(),
            bearers: HashSet::new(),
            logged_out: false,
        }
    }

    /// Judges one step, then remembers what it showed. The first property (in
    /// [`Property::ALL`] order) that did not hold is returned.
    pub(crate) fn observe(&mut self, step: &Observed<'_>) -> Option<Violation> {
        let mut found: Option<Violation> = None;
        for &p in &self.checked {
            if let Some(detail) = self.judge(p, step) {
                found = Some(Violation {
                    property: p,
                    detail,
                });
                break;
            }
        }
        self.remember(step);
        found
    }

    fn judge(&self, p: Property, step: &Observed<'_>) -> Option<String> {
        match p {
            Property::CallbackState => self.callback_state(step),
            Property::ErrorCallback => self.error_callback(step),
            Property::PkceChallenge => self.pkce_challenge(step),
            Property::PkceVerifier => self.pkce_verifier(step),
            Property::CodeSingleUse => self.code_single_use(step),
            Property::NoCredentialsInUrl => no_credentials_in_url(step),
            Property::SingleFlightRefresh => single_flight(step),
            Property::ReauthorizeAfterInvalidGrant => self.reauthorize(step),
            Property::RotatedRefreshToken => self.rotated(step),
            Property::RateLimitRespected => rate_limit(step),
            Property::TokensMatchLastResponse => self.tokens_match(step),
        }
    }

    /// How a callback step's delivery should be judged.
    fn callback_kind(&self, step: &Observed<'_>) -> Option<CallbackKind> {
        let Action::Callback { tamper, error } = step.action else {
            return None;
        };
        let url = step.delivered?;
        let has = |name: &str| {
            Url::parse(url)
                .ok()
                .is_some_and(|u| u.query_pairs().any(|(k, _)| k == name))
        };
        Some(match (tamper, error) {
            (_, Some(_)) => CallbackKind::Error,
            (Tamper::ForgeState, None) => CallbackKind::BadState("a forged state"),
            (Tamper::DropState, None) => CallbackKind::BadState("no state"),
            (Tamper::Replay, None) => CallbackKind::BadState("a replayed callback"),
            (Tamper::None, None) if self.delivered.contains(url) => {
                CallbackKind::BadState("a callback delivered before")
            }
            (Tamper::None, None) if has("error") => CallbackKind::Error,
            (Tamper::None, None) if !has("code") => CallbackKind::BadState("no code"),
            (Tamper::None, None) => CallbackKind::Honest,
        })
    }

    fn callback_state(&self, step: &Observed<'_>) -> Option<String> {
        let CallbackKind::BadState(what) = self.callback_kind(step)? else {
            return None;
        };
        let tokens = token_requests(step.entries);
        (!tokens.is_empty()).then(|| {
            format!(
                "{} token request(s) after a callback with {what}: {}",
                tokens.len(),
                seqs(&tokens)
            )
        })
    }

    fn error_callback(&self, step: &Observed<'_>) -> Option<String> {
        if self.callback_kind(step)? != CallbackKind::Error {
            return None;
        }
        let tokens = token_requests(step.entries);
        if !tokens.is_empty() {
            return Some(format!(
                "{} token request(s) after an error callback: {}",
                tokens.len(),
                seqs(&tokens)
            ));
        }
        (step.outcome == "ok")
            .then(|| "the client reported success for an error callback".to_owned())
    }

    fn pkce_challenge(&self, step: &Observed<'_>) -> Option<String> {
        if !matches!(step.action, Action::Authorize { .. }) {
            return None;
        }
        let want = self.best_pkce?;
        for e in client_authorization_requests(step.entries) {
            if !e.param_names.iter().any(|n| n == "code_challenge") {
                return Some(format!(
                    "authorization request #{} has no code_challenge",
                    e.seq
                ));
            }
            let method = e.plain("code_challenge_method").unwrap_or("plain");
            if method != want.as_str() {
                return Some(format!(
                    "authorization request #{} uses code_challenge_method {method}, not {}",
                    e.seq,
                    want.as_str()
                ));
            }
        }
        None
    }

    fn pkce_verifier(&self, step: &Observed<'_>) -> Option<String> {
        if !matches!(step.action, Action::Callback { .. }) {
            return None;
        }
        for e in step
            .entries
            .iter()
            .filter(|e| is_grant(e, "authorization_code"))
        {
            if self.last_challenge == Some(true)
                && !e.param_names.iter().any(|n| n == "code_verifier")
            {
                return Some(format!(
                    "code exchange #{} has no code_verifier, though the authorization request had a challenge",
                    e.seq
                ));
            }
            if !injected(e) && refused_with(e, OAuthError::InvalidGrant) {
                if let Some(d) = e.error_description.as_deref() {
                    let l = d.to_ascii_lowercase();
                    if l.contains("pkce") || l.contains("code_verifier") {
                        return Some(format!(
                            "code exchange #{} refused by the provider: {d}",
                            e.seq
                        ));
                    }
                }
            }
        }
        None
    }

    fn code_single_use(&self, step: &Observed<'_>) -> Option<String> {
        let mut answered = self.codes_answered.clone();
        for e in step
            .entries
            .iter()
            .filter(|e| is_grant(e, "authorization_code"))
        {
            let Some(code) = e.tag("code") else { continue };
            if answered.contains(code) {
                return Some(format!(
                    "code exchange #{} presents code {code}, which the provider had already answered",
                    e.seq
                ));
            }
            if verdict(e) {
                answered.insert(code.to_owned());
            }
        }
        None
    }

    fn reauthorize(&self, step: &Observed<'_>) -> Option<String> {
        let mut required = self.reauthorization_required;
        let mut refused_here = None;
        for e in step.entries {
            if required && is_grant(e, "refresh_token") {
                return Some(format!(
                    "refresh request #{} after the provider answered invalid_grant",
                    e.seq
                ));
            }
            if self.reauthorization_required && e.endpoint == Some(EndpointName::Api) {
                return Some(format!(
                    "API request #{} after the provider answered invalid_grant to a refresh",
                    e.seq
                ));
            }
            if is_grant(e, "refresh_token") && refused_with(e, OAuthError::InvalidGrant) {
                required = true;
                refused_here.get_or_insert(e.seq);
            }
            if is_grant(e, "authorization_code") && e.status == 200 && !injected(e) {
                required = false;
            }
        }
        let asks = matches!(
            step.action,
            Action::ApiCall | Action::ParallelApiCalls { .. } | Action::Refresh
        );
        let had_code = step
            .entries
            .iter()
            .any(|e| is_grant(e, "authorization_code"));
        if !asks || had_code {
            return None;
        }
        let outcomes: Vec<&str> = if step.calls.is_empty() {
            vec![step.outcome]
        } else {
            step.calls.iter().map(String::as_str).collect()
        };
        let shown = outcomes.join(", ");
        if self.reauthorization_required {
            // The grant was gone before the step: every call must say so.
            if let Some(o) = outcomes.iter().find(|o| !REAUTHORIZE.contains(o)) {
                return Some(format!(
                    "the grant is gone (invalid_grant earlier), but a call's outcome is {o} (outcomes: {shown})"
                ));
            }
        } else if let Some(seq) = refused_here {
            // The call whose refresh was refused must say so; others may have failed for
            // their own reasons (a fault) or finished before.
            if !outcomes.iter().any(|o| REAUTHORIZE.contains(o)) {
                return Some(format!(
                    "refresh #{seq} was answered invalid_grant, but no call asks for re-authorization (outcomes: {shown})"
                ));
            }
        }
        None
    }

    fn rotated(&self, step: &Observed<'_>) -> Option<String> {
        if self.rotation == Rotation::Off {
            return None;
        }
        for e in step.entries {
            let tag = if is_grant(e, "refresh_token") {
                e.tag("refresh_token")
            } else if e.endpoint == Some(EndpointName::Revoke) {
                e.tag("token")
            } else {
                None
            };
            if let Some(t) = tag.filter(|t| self.rotated_out.contains(*t)) {
                return Some(format!(
                    "request #{} ({}) presents refresh token {t}, rotated out by an earlier refresh",
                    e.seq,
                    e.path
                ));
            }
        }
        None
    }

    fn tokens_match(&self, step: &Observed<'_>) -> Option<String> {
        for e in step.entries {
            if self.logged_out
                && (e.endpoint == Some(EndpointName::Api) && e.tag("bearer").is_some()
                    || is_grant(e, "refresh_token"))
            {
                return Some(format!(
                    "request #{} ({}) uses a token after logout",
                    e.seq, e.path
                ));
            }
            if e.endpoint == Some(EndpointName::Api) {
                if let Some(b) = e.tag("bearer").filter(|b| self.retired.contains(*b)) {
                    return Some(format!(
                        "API request #{} presents access token {b}, replaced by a later token response",
                        e.seq
                    ));
                }
            }
        }
        None
    }

    fn remember(&mut self, step: &Observed<'_>) {
        if let Some(url) = step.delivered {
            if matches!(step.action, Action::Callback { .. }) {
                self.delivered.insert(url.to_owned());
            }
        }
        if matches!(step.action, Action::Authorize { .. }) {
            if let Some(e) = client_authorization_requests(step.entries).last() {
                self.last_challenge = Some(e.param_names.iter().any(|n| n == "code_challenge"));
            }
        }
        for e in step.entries {
            if e.endpoint == Some(EndpointName::Api) {
                if let Some(b) = e.tag("bearer") {
                    self.bearers.insert(b.to_owned());
                }
            }
            if is_grant(e, "authorization_code") {
                if let Some(code) = e.tag("code").filter(|_| verdict(e)) {
                    self.codes_answered.insert(code.to_owned());
                }
                if e.status == 200 && !injected(e) {
                    self.reauthorization_required = false;
                    self.logged_out = false;
                    self.retired.extend(self.bearers.iter().cloned());
                }
            }
            if is_grant(e, "refresh_token") {
                if refused_with(e, OAuthError::InvalidGrant) {
                    self.reauthorization_required = true;
                }
                if e.status == 200 && !injected(e) {
                    if let Some(t) = e.tag("refresh_token") {
                        if self.rotation != Rotation::Off {
                            self.rotated_out.insert(t.to_owned());
                        }
                    }
                    self.retired.extend(self.bearers.iter().cloned());
                }
            }
        }
        if matches!(step.action, Action::Logout)
            && matches!(step.outcome, "ok" | "revocation_failed")
        {
            self.logged_out = true;
            self.retired.extend(self.bearers.iter().cloned());
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CallbackKind {
    /// The provider's redirect, delivered for the first time.
    Honest,
    /// An error callback (denied consent, or the provider's error redirect).
    Error,
    /// Anything the client must refuse before a token request.
    BadState(&'static str),
}

fn no_credentials_in_url(step: &Observed<'_>) -> Option<String> {
    step.entries.iter().find_map(|e| {
        let leaked: Vec<&str> = e
            .url_credentials
            .iter()
            .map(String::as_str)
            // A PKCE challenge is public by design (RFC 7636 §4.3).
            .filter(|n| !(e.endpoint == Some(EndpointName::Authorize) && *n == "code_challenge"))
            .collect();
        (!leaked.is_empty()).then(|| {
            format!(
                "request #{} ({} {}) carries a credential in its URL (query parameter {})",
                e.seq,
                e.method,
                e.path,
                leaked.join(", ")
            )
        })
    })
}

fn single_flight(step: &Observed<'_>) -> Option<String> {
    let mut by_token: BTreeMap<&str, Vec<&JournalLine>> = BTreeMap::new();
    for e in step.entries.iter().filter(|e| is_grant(e, "refresh_token")) {
        if let Some(t) = e.tag("refresh_token") {
            by_token.entry(t).or_default().push(e);
        }
    }
    // Several calls in flight at once can each refresh once: as many answered refreshes
    // with one token as there are calls is concurrency. More is a loop (judged by the
    // re-authorization property when the provider said invalid_grant).
    let calls = match step.action {
        Action::ParallelApiCalls { calls } => *calls as usize,
        _ => 1,
    };
    by_token.into_iter().find_map(|(t, es)| {
        let answered: Vec<&JournalLine> = es.into_iter().filter(|e| verdict(e)).collect();
        let concurrent = calls >= 2 && answered.len() <= calls;
        (answered.len() >= 2 && (answered.iter().any(|e| e.status == 200) || concurrent)).then(
            || {
                format!(
                    "{} refresh requests with refresh token {t} in one step: {}",
                    answered.len(),
                    seqs(&answered)
                )
            },
        )
    })
}

fn rate_limit(step: &Observed<'_>) -> Option<String> {
    let calls = match step.action {
        Action::ParallelApiCalls { calls } => *calls as usize,
        _ => 1,
    };
    let limited: Vec<&JournalLine> = step
        .entries
        .iter()
        .filter(|e| e.endpoint == Some(EndpointName::Api) && e.status == 429)
        .collect();
    (limited.len() > MAX_429_PER_CALL * calls).then(|| {
        format!(
            "{} API requests answered 429 for {calls} call(s) in one step (at most {} each): {}",
            limited.len(),
            MAX_429_PER_CALL,
            seqs(&limited)
        )
    })
}

/// Token requests (any grant) of a step.
fn token_requests(entries: &[JournalLine]) -> Vec<&JournalLine> {
    entries
        .iter()
        .filter(|e| e.endpoint == Some(EndpointName::Token))
        .collect()
}

/// The authorization requests the client built, as the browser sent them (not the consent
/// form's POST).
fn client_authorization_requests(entries: &[JournalLine]) -> Vec<&JournalLine> {
    entries
        .iter()
        .filter(|e| e.endpoint == Some(EndpointName::Authorize) && e.method == "GET")
        .collect()
}

fn is_grant(e: &JournalLine, grant: &str) -> bool {
    e.endpoint == Some(EndpointName::Token) && e.grant_type.as_deref() == Some(grant)
}

/// Whether the provider refused the request with this OAuth error code.
fn refused_with(e: &JournalLine, code: OAuthError) -> bool {
    e.error.as_deref() == Some(code.as_str())
}

/// An answer made by an injected fault, not by the provider's logic.
fn injected(e: &JournalLine) -> bool {
    e.error_description.as_deref() == Some("injected fault")
}

/// The provider's grant logic judged the request: a success or a refusal, not a fault, a
/// dropped connection, a 5xx or a 429.
fn verdict(e: &JournalLine) -> bool {
    !injected(e) && (e.status == 200 || ((400..500).contains(&e.status) && e.status != 429))
}

fn seqs(entries: &[&JournalLine]) -> String {
    entries
        .iter()
        .map(|e| format!("#{}", e.seq))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(seq: u64, endpoint: EndpointName, grant: Option<&str>, status: u16) -> JournalLine {
        JournalLine {
            seq,
            endpoint: Some(endpoint),
            method: if endpoint == EndpointName::Authorize {
                "GET".into()
            } else {
                "POST".into()
            },
            path: format!("/{}", endpoint.as_str()),
            grant_type: grant.map(str::to_owned),
            client_auth: None,
            param_names: Vec::new(),
            status,
            auth_mode: None,
            url_credential: None,
            url_credentials: Vec::new(),
            tags: Vec::new(),
            plain: Vec::new(),
            error: None,
            error_description: None,
            requirement: None,
            user: None,
            from_browser: false,
        }
    }

    fn refresh(seq: u64, token: &str, status: u16) -> JournalLine {
        let mut l = line(seq, EndpointName::Token, Some("refresh_token"), status);
        l.tags.push(("refresh_token".into(), token.into()));
        if status == 400 {
            l.error = Some("invalid_grant".into());
        }
        l
    }

    fn observe(
        c: &mut Checker,
        action: Action,
        outcome: &str,
        entries: &[JournalLine],
    ) -> Option<Property> {
        c.observe(&Observed {
            action: &action,
            outcome,
            calls: &[],
            delivered: None,
            entries,
        })
        .map(|v| v.property)
    }

    #[test]
    fn two_answered_refreshes_with_one_token_in_a_step_break_single_flight() {
        let agile = Profile::builtin("agilecrm").unwrap();
        let mut c = Checker::new(&agile);
        let both = [
            refresh(1, "[redacted:aa]", 200),
            refresh(2, "[redacted:aa]", 200),
        ];
        assert_eq!(
            observe(&mut c, Action::ParallelApiCalls { calls: 2 }, "ok", &both),
            Some(Property::SingleFlightRefresh)
        );
        // A 503 then a retry is one answer, not two refreshes in flight.
        let mut c = Checker::new(&agile);
        let mut retry = [
            refresh(1, "[redacted:aa]", 503),
            refresh(2, "[redacted:aa]", 200),
        ];
        retry[0].error_description = Some("injected fault".into());
        assert_eq!(observe(&mut c, Action::ApiCall, "ok", &retry), None);
    }

    #[test]
    fn a_rotated_out_token_sent_in_a_later_step_is_found_on_rotating_providers_only() {
        for (provider, expected) in [
            ("capsule", Some(Property::RotatedRefreshToken)),
            ("agilecrm", None),
        ] {
            let mut c = Checker::new(&Profile::builtin(provider).unwrap());
            assert_eq!(
                observe(
                    &mut c,
                    Action::Refresh,
                    "ok",
                    &[refresh(1, "[redacted:r1]", 200)]
                ),
                None
            );
            let again = [refresh(
                2,
                "[redacted:r1]",
                if expected.is_some() { 400 } else { 200 },
            )];
            let outcome = if expected.is_some() {
                "reauthorization_required"
            } else {
                "ok"
            };
            assert_eq!(
                observe(&mut c, Action::Refresh, outcome, &again),
                expected,
                "{provider}"
            );
        }
    }

    #[test]
    fn calling_on_after_invalid_grant_breaks_reauthorization() {
        let mut c = Checker::new(&Profile::builtin("capsule").unwrap());
        let api = line(1, EndpointName::Api, None, 401);
        let looped = [
            api,
            refresh(2, "[redacted:r1]", 400),
            refresh(3, "[redacted:r1]", 400),
        ];
        assert_eq!(
            observe(&mut c, Action::ApiCall, "reauthorization_required", &looped),
            Some(Property::ReauthorizeAfterInvalidGrant)
        );
        // One refusal, reported as such, is right; so is silence afterwards.
        let mut c = Checker::new(&Profile::builtin("capsule").unwrap());
        let once = [
            line(1, EndpointName::Api, None, 401),
            refresh(2, "[redacted:r1]", 400),
        ];
        assert_eq!(
            observe(&mut c, Action::ApiCall, "reauthorization_required", &once),
            None
        );
        assert_eq!(
            observe(&mut c, Action::ApiCall, "reauthorization_required", &[]),
            None
        );
        // Reporting success, or calling the API again, is not.
        assert_eq!(
            observe(&mut c, Action::ApiCall, "ok", &[]),
            Some(Property::ReauthorizeAfterInvalidGrant)
        );
        let mut c = Checker::new(&Profile::builtin("capsule").unwrap());
        observe(&mut c, Action::ApiCall, "reauthorization_required", &once);
        assert_eq!(
            observe(
                &mut c,
                Action::ApiCall,
                "api_unauthorized",
                &[line(3, EndpointName::Api, None, 401)]
            ),
            Some(Property::ReauthorizeAfterInvalidGrant)
        );
    }

    #[test]
    fn a_forged_callback_followed_by_a_token_request_breaks_the_state_property() {
        let mut c = Checker::new(&Profile::builtin("redtail").unwrap());
        let action = Action::Callback {
            tamper: Tamper::ForgeState,
            error: None,
        };
        let token = [line(
            1,
            EndpointName::Token,
            Some("authorization_code"),
            200,
        )];
        let v = c
            .observe(&Observed {
                action: &action,
                outcome: "ok",
                calls: &[],
                delivered: Some("http://localhost:3000/callback?code=c&state=forged"),
                entries: &token,
            })
            .unwrap();
        assert_eq!(v.property, Property::CallbackState);
        assert_eq!(
            v.detail,
            "1 token request(s) after a callback with a forged state: #1"
        );
        // The honest callback, delivered once, may redeem its code; delivered again, not.
        let honest = Action::Callback {
            tamper: Tamper::None,
            error: None,
        };
        let url = "http://localhost:3000/callback?code=c2&state=s2";
        for (entries, expected) in [
            (&token[..], None),
            (&token[..], Some(Property::CallbackState)),
        ] {
            let got = c.observe(&Observed {
                action: &honest,
                outcome: "ok",
                calls: &[],
                delivered: Some(url),
                entries,
            });
            assert_eq!(got.map(|v| v.property), expected);
        }
    }

    #[test]
    fn too_many_429s_in_a_step_are_hammering() {
        let mut c = Checker::new(&Profile::builtin("connectwise").unwrap());
        let limited: Vec<JournalLine> = (1..=4)
            .map(|i| line(i, EndpointName::Api, None, 429))
            .collect();
        assert_eq!(
            observe(&mut c, Action::ApiCall, "rate_limited", &limited),
            Some(Property::RateLimitRespected)
        );
        assert_eq!(
            observe(
                &mut c,
                Action::ParallelApiCalls { calls: 2 },
                "rate_limited",
                &limited
            ),
            None
        );
    }
}
