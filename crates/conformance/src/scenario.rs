//! Scenario files: the declarative format and its parser.
//!
//! A scenario is one TOML file in `scenarios/`. Its id is the file stem. It names no CRM: the
//! runner plays it against every profile, and skips it with a reason where the profile cannot
//! express it (see [`Requirement`]).

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;
use std::time::Duration;

use handshake_profile::OAuthError;
use serde::Deserialize;

use crate::error::{ScenarioError, ScenarioErrorKind};

mod embedded {
    include!(concat!(env!("OUT_DIR"), "/builtin_scenarios.rs"));
}

/// The text of the built-in `scenarios/expected-failures.toml`, if there is one.
pub(crate) fn builtin_expected_failures() -> Option<&'static str> {
    embedded::BUILTIN_FILES
        .iter()
        .find(|(name, _)| *name == crate::expected::DEFAULT_FILE_NAME)
        .map(|(_, text)| *text)
}

/// One parsed scenario file.
///
/// # Format
///
/// ```toml
/// # scenarios/state-mismatch.toml: the id is the file stem
/// title = "A callback whose state differs from the one issued is rejected"
/// rfc = "RFC 6749 §10.12"                # the clause checked (must mention an RFC)
/// fix = "compare state with the session's before exchanging the code"  # optional, one line
/// requires = ["pkce"]                     # optional: what a profile must support
///
/// [client]                                # optional
/// scopes = "default"                      # or "without_required" (drops api.required_scope)
/// timeout_ms = 200                        # the client's HTTP timeout
///
/// [[steps]]
/// action = "authorize"
/// present = ["state"]                     # parameters the client's URL must carry
/// equals = { response_type = "code" }     # ... with these values
///
/// [[steps]]
/// action = "callback"
/// tamper = "forge_state"                  # none | forge_state | drop_state | replay
/// expect = "state_mismatch"               # an outcome, or a list of accepted outcomes
/// journal = [{ endpoint = "token", count = 0 }]
/// ```
///
/// **Actions.** Client steps (the runner plays the browser in between): `authorize`,
/// `callback` (`tamper`, or `error = "access_denied"`), `api_call` (`parallel = N`: N calls
/// in flight at once; the outcome is `ok` when all succeed, else the first failure's),
/// `refresh`, `logout`. Mock control (skipped against an external server): `expire_tokens`,
/// `revoke_grant`, `advance_clock` (`seconds = N` or `past = "code_lifetime" |
/// "access_token_lifetime"`), `fault` (`endpoint`, exactly one of `error` / `status` /
/// `delay_ms` / `drop_connection` / `retry_after_secs` (the CRM's own 429 for that long,
/// `api` only), `times`). The runner's own requests, for server-side checks: `raw_authorize` (`pkce =
/// "best" | "s256" | "none"`, `redirect_uri = "registered" | "unregistered"`),
/// `raw_token_request` (`grant`, `code = "last" | "bogus"`, `refresh_token = "<label>"`,
/// `redirect_uri`, `code_verifier = "match" | "wrong" | "omit"`, `client_secret = "correct" |
/// "wrong"`, `save_as = "<label>"`), `raw_api_call` (`token = "<label>"`).
///
/// **Native schemes and paging.** `native_call` (the client calls the API with the CRM's own
/// scheme; `credentials = "valid" | "wrong_key" | "missing_client_id"`, `crm_error = true`
/// to require the CRM's code and message as the profile's error body promises),
/// `raw_native_call` (the runner's own native request; `crm_error = true` checks the error
/// body's shape), `list_all` (`auth = "oauth" | "native"`; by default every record of the
/// mock's data set must come back exactly once). Scenario tables `[client] page_size = N`
/// and `[mock] rate_limit = { limit = 2, window_secs = 60 }`, `[mock] dataset_size = N`.
/// A vendor citation goes in `source = "Insightly KB 1447"` (then `rfc` may be left out).
///
/// **Outcomes.** `ok` (the default expectation); for client steps the names of
/// [`ClientFailure`](crate::ClientFailure) (`state_mismatch`, `access_denied`, `invalid_grant`,
/// `reauthorization_required`, `timeout`, `http_403`, `api_unauthorized`, `api_forbidden`,
/// `rate_limited`, `paging_loop`, `invalid_configuration`, `incomplete`, ...); for raw
/// requests the OAuth `error`
/// code, `http_<status>`, or at the authorization endpoint `rejected` (refused without
/// redirecting) and `redirected_to_unregistered_uri`.
///
/// **Journal expectations** count the mock's journal entries recorded during the step:
/// `endpoint` (`authorize`, `token`, `revoke`, `api`), optional `grant_type`, one of `count` or
/// `min`/`max`, optional `client_auth` (`client_secret_basic`, `client_secret_post`, or
/// `profile`: a method the profile accepts) and `with_params` (parameter names each entry
/// carried), `auth_mode` (`oauth` or `native`, as the mock recorded it) and
/// `credentials_in_url = false` (no entry carried a credential in its query string).
/// `endpoint = "native_exchange"` counts the native key exchange (Redtail).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Scenario {
    /// Identifier: the file stem (`state-mismatch`).
    pub id: String,
    /// One line saying what is checked.
    pub title: String,
    /// The RFC clause the scenario enforces (`RFC 6749 §10.12`); empty when the scenario
    /// checks a vendor's documented behaviour only (see [`source`](Self::source)).
    pub rfc: String,
    /// The vendor document checked, for CRM-specific behaviour (`Insightly KB 1447`).
    pub source: Option<String>,
    /// One line on how a client fixes a failure, shown beside the failing arrow of the HTML
    /// report's diagram and in the JSON report.
    pub fix: Option<String>,
    /// What a profile must support for the scenario to apply.
    pub requires: Vec<Requirement>,
    /// How the client under test is configured for this scenario.
    pub client: ClientSetup,
    /// How the runner starts the mock for this scenario.
    pub mock: MockSetup,
    /// The steps, in order.
    pub steps: Vec<Step>,
    /// The file it came from, for messages.
    pub file: String,
}

/// Client settings a scenario can change.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Default)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct ClientSetup {
    /// Which scopes the client asks for.
    #[serde(default)]
    pub scopes: ScopeChoice,
    /// The client's HTTP timeout, in milliseconds (`None`: the client's default).
    #[serde(default)]
    pub timeout_ms: Option<u64>,
    /// Records per page the client asks for when walking a list (`None`: its choice).
    #[serde(default)]
    pub page_size: Option<u32>,
}

/// Mock settings a scenario can change (a scenario with any of them needs the mock).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Default)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct MockSetup {
    /// Replace the profile's API rate limit, so that a limit trips within a few requests.
    #[serde(default)]
    pub rate_limit: Option<RateLimitSetup>,
    /// Serve this many generated records instead of the profile's `api.dataset.count`
    /// (a few pages on every CRM keeps paging scenarios fast).
    #[serde(default)]
    pub dataset_size: Option<u32>,
}

impl MockSetup {
    /// Whether the scenario changes the mock at all.
    pub fn is_set(&self) -> bool {
        self.rate_limit.is_some() || self.dataset_size.is_some()
    }
}

/// An API rate limit: `limit` requests per `window_secs` of the mock's clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct RateLimitSetup {
    /// Requests allowed per window (at least 1).
    pub limit: u32,
    /// Window length in seconds (at least 1).
    pub window_secs: u64,
}

/// Scopes the client asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum ScopeChoice {
    /// The profile's `scopes.default`.
    #[default]
    Default,
    /// Every supported scope except `api.required_scope` (to provoke `insufficient_scope`).
    WithoutRequired,
}

/// A capability a profile must have for a scenario to apply.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Requirement {
    /// PKCE is supported (`pkce.mode` is not `unsupported`).
    Pkce,
    /// PKCE is optional: a code can be issued without a challenge.
    PkceOptional,
    /// PKCE is required.
    PkceRequired,
    /// Refresh tokens are issued.
    Refresh,
    /// Refresh tokens rotate.
    Rotation,
    /// Reusing a rotated refresh token revokes the whole grant (RFC 9700 §4.14.2).
    RotationFamily,
    /// A rotated-out refresh token is refused (`rotate` or `rotate_reuse_revokes_family`;
    /// not `rotate_old_stays_valid`, where the old one keeps working).
    RotationRetiresOld,
    /// A revocation endpoint exists (RFC 7009).
    Revocation,
    /// The API resource is rate limited.
    RateLimit,
    /// The API resource needs a scope the client can leave out.
    Scope,
    /// Codes are single use (`security.single_use_codes`).
    SingleUseCodes,
    /// A reused code revokes its tokens (`security.revoke_on_code_reuse`).
    RevokeOnCodeReuse,
    /// `redirect_uri` is matched exactly and bound to the code.
    ExactRedirectUri,
    /// PKCE verifiers are checked (`security.verify_pkce`).
    VerifyPkce,
    /// PKCE downgrades are rejected (`security.reject_pkce_downgrade`).
    RejectPkceDowngrade,
    /// The token endpoint authenticates the client.
    AuthenticateClient,
    /// The scenario drives the mock (faults, clock, expiry, grant revocation): not possible
    /// against an external server. Implied by control steps; it can also be written out.
    /// (Journal expectations do not need it: against an external server they are not
    /// checked, and the case's reason says so.)
    Control,
    /// The CRM has a native (non-OAuth) authentication scheme (`native_auth`). Implied by
    /// `native_call`, `raw_native_call` and `list_all` with `auth = "native"`.
    Native,
    /// The native scheme needs a client-id header (`native_auth.client_id_header`,
    /// ConnectWise `clientId`). Implied by `credentials = "missing_client_id"`.
    NativeClientIdHeader,
    /// The native scheme exchanges credentials for a key first
    /// (`native_auth.exchange_path`, Redtail's `user_key`).
    NativeKeyExchange,
    /// The API resource pages a generated data set (`api.paging` and `api.dataset`). Implied
    /// by `list_all`.
    Paging,
}

impl Requirement {
    /// The name used in scenario files.
    pub fn as_str(self) -> &'static str {
        match self {
            Requirement::Pkce => "pkce",
            Requirement::PkceOptional => "pkce_optional",
            Requirement::PkceRequired => "pkce_required",
            Requirement::Refresh => "refresh",
            Requirement::Rotation => "rotation",
            Requirement::RotationFamily => "rotation_family",
            Requirement::RotationRetiresOld => "rotation_retires_old",
            Requirement::Revocation => "revocation",
            Requirement::RateLimit => "rate_limit",
            Requirement::Scope => "scope",
            Requirement::SingleUseCodes => "single_use_codes",
            Requirement::RevokeOnCodeReuse => "revoke_on_code_reuse",
            Requirement::ExactRedirectUri => "exact_redirect_uri",
            Requirement::VerifyPkce => "verify_pkce",
            Requirement::RejectPkceDowngrade => "reject_pkce_downgrade",
            Requirement::AuthenticateClient => "authenticate_client",
            Requirement::Control => "control",
            Requirement::Native => "native",
            Requirement::NativeClientIdHeader => "native_client_id_header",
            Requirement::NativeKeyExchange => "native_key_exchange",
            Requirement::Paging => "paging",
        }
    }
}

impl fmt::Display for Requirement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One step of a scenario: an action, the outcome it must have, and what the mock's journal
/// must show for the requests the step caused.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Step {
    /// What the runner does.
    pub action: Action,
    /// Accepted outcomes (`ok`, `state_mismatch`, `invalid_grant`, `http_403`, ...). Empty for
    /// steps that have no outcome (control steps).
    pub expect: Vec<String>,
    /// Expectations on the journal entries recorded during this step.
    pub journal: Vec<JournalExpect>,
}

/// Tampering applied to the callback before the runner delivers it to the client.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Tamper {
    /// Deliver the callback as the provider sent it.
    #[default]
    None,
    /// Replace `state` with an attacker's value (RFC 6749 §10.12).
    ForgeState,
    /// Remove `state`.
    DropState,
    /// Deliver the previous callback again.
    Replay,
}

/// Which code a raw token request presents.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum CodeChoice {
    /// The code of the last `raw_authorize`.
    #[default]
    Last,
    /// A code the server never issued.
    Bogus,
}

/// Which `redirect_uri` a raw request sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum RedirectChoice {
    /// The registered one.
    #[default]
    Registered,
    /// One that was never registered (an attacker's).
    Unregistered,
}

/// PKCE in a raw authorization request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum RawPkce {
    /// The profile's best method (none when unsupported).
    #[default]
    Best,
    /// S256.
    S256,
    /// No challenge.
    None,
}

/// The `code_verifier` a raw token request sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum VerifierChoice {
    /// The verifier matching the challenge (none if there was no challenge).
    #[default]
    Match,
    /// A different, well-formed verifier.
    Wrong,
    /// No verifier.
    Omit,
}

/// The client secret a raw token request sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum SecretChoice {
    /// The registered secret.
    #[default]
    Correct,
    /// A wrong secret.
    Wrong,
}

/// Grant type of a raw token request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum RawGrant {
    /// `authorization_code`.
    #[default]
    AuthorizationCode,
    /// `refresh_token`.
    RefreshToken,
}

/// How far `advance_clock` moves the mock's clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClockAdvance {
    /// A fixed duration.
    By(Duration),
    /// One second past the profile's code lifetime.
    PastCodeLifetime,
    /// One second past the profile's access-token lifetime.
    PastAccessTokenLifetime,
}

/// The endpoint a fault or journal expectation is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EndpointName {
    /// Authorization endpoint.
    Authorize,
    /// Token endpoint.
    Token,
    /// Revocation endpoint.
    Revoke,
    /// API resource.
    Api,
    /// The native scheme's key exchange (`native_auth.exchange_path`, Redtail). Journal
    /// expectations only: faults cannot target it.
    NativeExchange,
}

impl EndpointName {
    /// The name used in scenario files and journal lines.
    pub fn as_str(self) -> &'static str {
        match self {
            EndpointName::Authorize => "authorize",
            EndpointName::Token => "token",
            EndpointName::Revoke => "revoke",
            EndpointName::Api => "api",
            EndpointName::NativeExchange => "native_exchange",
        }
    }
}

/// A fault to inject into the mock.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct FaultSpec {
    /// Which endpoint misbehaves.
    pub endpoint: EndpointName,
    /// Answer with this OAuth error (`invalid_grant`, `temporarily_unavailable`, ...).
    #[serde(default)]
    pub error: Option<OAuthError>,
    /// Answer with this HTTP status.
    #[serde(default)]
    pub status: Option<u16>,
    /// Delay the answer.
    #[serde(default)]
    pub delay_ms: Option<u64>,
    /// Close the connection without answering.
    #[serde(default)]
    pub drop_connection: bool,
    /// API only: the CRM's own rate limit trips, answering its 429 (body and headers as the
    /// profile describes) for this many seconds of the mock's clock.
    #[serde(default)]
    pub retry_after_secs: Option<u64>,
    /// How many requests the fault applies to.
    #[serde(default = "one")]
    pub times: u32,
}

impl FaultSpec {
    /// The fault in a few words: `HTTP 503`, `invalid_grant`, `a 2000 ms delay`, `a dropped
    /// connection`; `, 2 times` when it repeats.
    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        if let Some(e) = &self.error {
            parts.push(e.to_string());
        }
        if let Some(s) = self.status {
            parts.push(format!("HTTP {s}"));
        }
        if let Some(d) = self.delay_ms {
            parts.push(format!("a {d} ms delay"));
        }
        if self.drop_connection {
            parts.push("a dropped connection".to_owned());
        }
        if let Some(secs) = self.retry_after_secs {
            parts.push(format!("the CRM's 429 for {secs} s"));
        }
        let mut s = parts.join(", ");
        if self.times != 1 {
            s.push_str(&format!(", {} times", self.times));
        }
        s
    }
}

fn one() -> u32 {
    1
}

/// What the runner does in a step.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Action {
    /// The client builds an authorization request; the runner, as the browser, sends it to the
    /// provider and keeps the redirect back to the client.
    Authorize {
        /// Query parameters that must be present in the client's authorization URL.
        present: Vec<String>,
        /// Query parameters that must have these values.
        equals: BTreeMap<String, String>,
    },
    /// The runner delivers the callback to the client, which validates it and redeems the code.
    Callback {
        /// Tampering applied first.
        tamper: Tamper,
        /// Deliver an error callback (`access_denied`) instead of the provider's answer.
        error: Option<OAuthError>,
    },
    /// The client calls the API resource.
    ApiCall,
    /// The client makes several API calls at once (`api_call` with `parallel = N`, N ≥ 2).
    ParallelApiCalls {
        /// How many calls are in flight together.
        calls: u32,
    },
    /// The client refreshes its access token.
    Refresh,
    /// The client logs out (RFC 7009 revocation).
    Logout,
    /// The mock treats every issued access token as expired.
    ExpireTokens,
    /// The mock revokes every grant (as a user would in the CRM's settings).
    RevokeGrant,
    /// The mock's clock moves forward.
    AdvanceClock(ClockAdvance),
    /// The mock misbehaves on its next requests.
    Fault(FaultSpec),
    /// The runner itself sends an authorization request (server-side checks).
    RawAuthorize {
        /// PKCE challenge to send.
        pkce: RawPkce,
        /// `redirect_uri` to send.
        redirect_uri: RedirectChoice,
    },
    /// The runner itself sends a token request (server-side checks).
    RawTokenRequest {
        /// Grant type.
        grant: RawGrant,
        /// Code to present (authorization_code grant).
        code: CodeChoice,
        /// Label of saved tokens whose refresh token to present (refresh_token grant).
        refresh_token: Option<String>,
        /// `redirect_uri` to send.
        redirect_uri: RedirectChoice,
        /// `code_verifier` to send.
        code_verifier: VerifierChoice,
        /// Client secret to authenticate with.
        client_secret: SecretChoice,
        /// Save the tokens of a successful answer under this label.
        save_as: Option<String>,
    },
    /// The runner itself calls the API resource with saved tokens.
    RawApiCall {
        /// Label of the saved tokens.
        token: String,
    },
    /// The client calls the API resource with the CRM's native scheme.
    NativeCall {
        /// Which credentials the client is given.
        credentials: CredentialChoice,
        /// A failure must carry the CRM's error code and message as the profile's error body
        /// for that status promises (`errors.unauthorized_body`, `errors.forbidden_body`,
        /// `rate_limit.body`).
        crm_error: bool,
    },
    /// The runner itself calls the API resource with the CRM's native scheme (server-side
    /// checks of the CRM's answers).
    RawNativeCall {
        /// Which credentials the runner sends.
        credentials: CredentialChoice,
        /// An error answer must have the shape of the profile's error body for its status.
        crm_error: bool,
    },
    /// The client walks every page of the API resource.
    ListAll {
        /// OAuth tokens (after `authorize` and `callback`) or the native scheme.
        auth: AuthChoice,
        /// The walk must return every record of the mock's data set exactly once.
        complete: bool,
    },
}

/// Credentials given to the client (or sent by the runner) for a native call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum CredentialChoice {
    /// The credentials the mock was started with.
    #[default]
    Valid,
    /// The secret part (API key, token, private key) replaced by a wrong one.
    WrongKey,
    /// Valid keys but no client-id header value (ConnectWise `clientId`).
    MissingClientId,
}

/// How a `list_all` walk authenticates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuthChoice {
    /// The session's OAuth access token.
    Oauth,
    /// The CRM's native scheme with valid credentials.
    Native,
}

impl AuthChoice {
    /// The name used in scenario files and journal lines.
    pub fn as_str(self) -> &'static str {
        match self {
            AuthChoice::Oauth => "oauth",
            AuthChoice::Native => "native",
        }
    }
}

impl Action {
    /// The `action` name used in scenario files.
    pub fn name(&self) -> &'static str {
        match self {
            Action::Authorize { .. } => "authorize",
            Action::Callback { .. } => "callback",
            Action::ApiCall | Action::ParallelApiCalls { .. } => "api_call",
            Action::Refresh => "refresh",
            Action::Logout => "logout",
            Action::ExpireTokens => "expire_tokens",
            Action::RevokeGrant => "revoke_grant",
            Action::AdvanceClock(_) => "advance_clock",
            Action::Fault(_) => "fault",
            Action::RawAuthorize { .. } => "raw_authorize",
            Action::RawTokenRequest { .. } => "raw_token_request",
            Action::RawApiCall { .. } => "raw_api_call",
            Action::NativeCall { .. } => "native_call",
            Action::RawNativeCall { .. } => "raw_native_call",
            Action::ListAll { .. } => "list_all",
        }
    }

    /// What a profile must support for this step, beyond what the scenario lists.
    fn implied(&self) -> Vec<Requirement> {
        let native = |c: &CredentialChoice| {
            let mut v = vec![Requirement::Native];
            if *c == CredentialChoice::MissingClientId {
                v.push(Requirement::NativeClientIdHeader);
            }
            v
        };
        match self {
            Action::NativeCall { credentials, .. } | Action::RawNativeCall { credentials, .. } => {
                native(credentials)
            }
            Action::ListAll { auth, .. } => {
                let mut v = vec![Requirement::Paging];
                if *auth == AuthChoice::Native {
                    v.push(Requirement::Native);
                }
                v
            }
            _ if self.needs_control() => vec![Requirement::Control],
            _ => Vec::new(),
        }
    }

    /// Whether the step drives the mock rather than a protocol party.
    pub fn needs_control(&self) -> bool {
        matches!(
            self,
            Action::ExpireTokens | Action::RevokeGrant | Action::AdvanceClock(_) | Action::Fault(_)
        )
    }

    /// Whether the step has an outcome to check.
    fn has_outcome(&self) -> bool {
        !self.needs_control()
    }
}

/// What the journal must show for the requests of one step.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct JournalExpect {
    /// Endpoint of the entries counted.
    pub endpoint: EndpointName,
    /// Only entries with this `grant_type`.
    #[serde(default)]
    pub grant_type: Option<String>,
    /// Exactly this many matching entries.
    #[serde(default)]
    pub count: Option<usize>,
    /// At least this many.
    #[serde(default)]
    pub min: Option<usize>,
    /// At most this many.
    #[serde(default)]
    pub max: Option<usize>,
    /// Every matching entry authenticated the client so: `client_secret_basic`,
    /// `client_secret_post`, or `profile` (the profile's preferred method).
    #[serde(default)]
    pub client_auth: Option<String>,
    /// Every matching entry carried these query or body parameters (names only).
    #[serde(default)]
    pub with_params: Vec<String>,
    /// Every matching entry was authenticated with this mode: `oauth` (a bearer access
    /// token) or `native` (the CRM's own scheme), as the mock's journal records it.
    #[serde(default)]
    pub auth_mode: Option<AuthChoice>,
    /// `false`: no matching entry carried a credential in its query string (RFC 6750 §5.3,
    /// RFC 9700 §4.3.2): no parameter named like one (`access_token`, `api_key`, ...) and no
    /// value equal to a credential the runner handed out. Credentials belong in headers.
    #[serde(default)]
    pub credentials_in_url: Option<bool>,
}

impl JournalExpect {
    /// The count bounds, `(min, max)`.
    pub fn bounds(&self) -> (usize, Option<usize>) {
        match self.count {
            Some(n) => (n, Some(n)),
            None => (self.min.unwrap_or(0), self.max),
        }
    }
}

impl fmt::Display for JournalExpect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (min, max) = self.bounds();
        match (min, max) {
            (a, Some(b)) if a == b => write!(f, "{a}")?,
            (0, Some(b)) => write!(f, "at most {b}")?,
            (a, None) => write!(f, "at least {a}")?,
            (a, Some(b)) => write!(f, "{a} to {b}")?,
        }
        write!(f, " {} request(s)", self.endpoint.as_str())?;
        if let Some(g) = &self.grant_type {
            write!(f, " with grant_type={g}")?;
        }
        if let Some(a) = &self.client_auth {
            write!(f, ", client authenticated with {a}")?;
        }
        if !self.with_params.is_empty() {
            write!(f, ", each with {}", self.with_params.join(", "))?;
        }
        if let Some(m) = self.auth_mode {
            write!(f, ", each authenticated with {}", m.as_str())?;
        }
        if self.credentials_in_url == Some(false) {
            f.write_str(", none with a credential in its URL")?;
        }
        Ok(())
    }
}

// ---- parsing ---------------------------------------------------------------------------

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawScenario {
    title: String,
    #[serde(default)]
    rfc: Option<String>,
    #[serde(default)]
    source: Option<String>,
    #[serde(default)]
    fix: Option<String>,
    #[serde(default)]
    requires: Vec<Requirement>,
    #[serde(default)]
    client: ClientSetup,
    #[serde(default)]
    mock: MockSetup,
    steps: Vec<toml::Table>,
}

/// One `[[steps]]` table as written, decoded by serde: the action (tagged by `action`) with
/// its arguments, the outcomes expected and the journal expectations. Rules that span fields
/// are checked after decoding ([`ActionDoc::into_action`], [`check_journal`]).
#[derive(Deserialize)]
struct StepDoc {
    #[serde(flatten)]
    action: ActionDoc,
    #[serde(default)]
    expect: Option<Outcomes>,
    #[serde(default, deserialize_with = "journal_list")]
    journal: Vec<JournalExpect>,
}

/// An action and its arguments, as a scenario file writes them.
#[derive(Deserialize)]
#[serde(tag = "action", rename_all = "snake_case", deny_unknown_fields)]
enum ActionDoc {
    Authorize {
        #[serde(default)]
        present: Vec<String>,
        #[serde(default)]
        equals: BTreeMap<String, String>,
    },
    Callback {
        #[serde(default)]
        tamper: Tamper,
        #[serde(default)]
        error: Option<OAuthError>,
    },
    ApiCall {
        #[serde(default)]
        parallel: Option<u32>,
    },
    Refresh {},
    Logout {},
    ExpireTokens {},
    RevokeGrant {},
    AdvanceClock {
        #[serde(default)]
        seconds: Option<u64>,
        #[serde(default)]
        past: Option<String>,
    },
    Fault(FaultSpec),
    RawAuthorize {
        #[serde(default)]
        pkce: RawPkce,
        #[serde(default)]
        redirect_uri: RedirectChoice,
    },
    RawTokenRequest {
        #[serde(default)]
        grant: RawGrant,
        #[serde(default)]
        code: CodeChoice,
        #[serde(default)]
        refresh_token: Option<String>,
        #[serde(default)]
        redirect_uri: RedirectChoice,
        #[serde(default)]
        code_verifier: VerifierChoice,
        #[serde(default)]
        client_secret: SecretChoice,
        #[serde(default)]
        save_as: Option<String>,
    },
    RawApiCall {
        token: String,
    },
    NativeCall {
        #[serde(default)]
        credentials: CredentialChoice,
        #[serde(default)]
        crm_error: bool,
    },
    RawNativeCall {
        #[serde(default)]
        credentials: CredentialChoice,
        #[serde(default)]
        crm_error: bool,
    },
    ListAll {
        auth: AuthChoice,
        #[serde(default = "yes")]
        complete: bool,
    },
}

fn yes() -> bool {
    true
}

/// The `action` names, in the order the format documents them (for messages; a test checks
/// that [`ActionDoc`] knows each one).
const ACTIONS: &[&str] = &[
    "authorize",
    "callback",
    "api_call",
    "refresh",
    "logout",
    "expire_tokens",
    "revoke_grant",
    "advance_clock",
    "fault",
    "raw_authorize",
    "raw_token_request",
    "raw_api_call",
    "native_call",
    "raw_native_call",
    "list_all",
];

/// `expect`: one outcome or a non-empty list of them.
struct Outcomes(Vec<String>);

impl<'de> Deserialize<'de> for Outcomes {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum OneOrMany {
            One(String),
            Many(Vec<String>),
        }
        match OneOrMany::deserialize(d) {
            Ok(OneOrMany::One(s)) => Ok(Outcomes(vec![s])),
            Ok(OneOrMany::Many(v)) if !v.is_empty() => Ok(Outcomes(v)),
            _ => Err(serde::de::Error::custom(
                "`expect` must be an outcome (\"ok\", \"invalid_grant\", \"http_403\", ...) or a non-empty list of them",
            )),
        }
    }
}

/// `journal`: a list of [`JournalExpect`] tables; an error names the entry (`journal[1]: ...`).
fn journal_list<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<JournalExpect>, D::Error> {
    struct Entries;
    impl<'de> serde::de::Visitor<'de> for Entries {
        type Value = Vec<JournalExpect>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a list of tables, e.g. [{ endpoint = \"token\", count = 1 }]")
        }
        fn visit_seq<A: serde::de::SeqAccess<'de>>(
            self,
            mut seq: A,
        ) -> Result<Self::Value, A::Error> {
            let mut out = Vec::new();
            loop {
                match seq.next_element::<JournalExpect>() {
                    Ok(Some(e)) => out.push(e),
                    Ok(None) => return Ok(out),
                    Err(e) => {
                        let j = out.len();
                        // The message only: a TOML error's `Display` may add the key on a
                        // line of its own.
                        let reason = e.to_string();
                        let reason = reason.trim().lines().next().unwrap_or_default();
                        return Err(serde::de::Error::custom(format!("journal[{j}]: {reason}")));
                    }
                }
            }
        }
    }
    d.deserialize_seq(Entries)
}

/// The rules of one journal expectation that serde cannot state.
fn check_journal(je: &JournalExpect) -> Result<(), String> {
    if je.count.is_some() && (je.min.is_some() || je.max.is_some()) {
        return Err("give `count` or `min`/`max`, not both".to_owned());
    }
    if je.count.is_none() && je.min.is_none() && je.max.is_none() {
        return Err("needs `count`, `min` or `max`".to_owned());
    }
    if let Some(a) = &je.client_auth {
        if !["profile", "client_secret_basic", "client_secret_post"].contains(&a.as_str()) {
            return Err(format!("`client_auth` must be \"profile\", \"client_secret_basic\" or \"client_secret_post\", not {a:?}"));
        }
    }
    Ok(())
}

impl ActionDoc {
    /// The action, once the rules that span its fields hold.
    fn into_action(self) -> Result<Action, String> {
        let bad = |reason: &str| Err(reason.to_owned());
        Ok(match self {
            ActionDoc::Authorize { present, equals } => Action::Authorize { present, equals },
            ActionDoc::Callback { tamper, error } => {
                if error.is_some() && tamper != Tamper::None {
                    return bad("give `error` or `tamper`, not both");
                }
                Action::Callback { tamper, error }
            }
            ActionDoc::ApiCall { parallel } => match parallel {
                None | Some(1) => Action::ApiCall,
                Some(0) => return bad("`parallel` must be at least 1"),
                Some(calls) => Action::ParallelApiCalls { calls },
            },
            ActionDoc::Refresh {} => Action::Refresh,
            ActionDoc::Logout {} => Action::Logout,
            ActionDoc::ExpireTokens {} => Action::ExpireTokens,
            ActionDoc::RevokeGrant {} => Action::RevokeGrant,
            ActionDoc::AdvanceClock { seconds, past } => {
                Action::AdvanceClock(match (seconds, past.as_deref()) {
                    (Some(s), None) => ClockAdvance::By(Duration::from_secs(s)),
                    (None, Some("code_lifetime")) => ClockAdvance::PastCodeLifetime,
                    (None, Some("access_token_lifetime")) => ClockAdvance::PastAccessTokenLifetime,
                    (None, Some(other)) => {
                        return Err(format!("`past` must be \"code_lifetime\" or \"access_token_lifetime\", not {other:?}"))
                    }
                    _ => return bad("give exactly one of `seconds = N` or `past = \"code_lifetime\"`"),
                })
            }
            ActionDoc::Fault(f) => {
                f.check()?;
                Action::Fault(f)
            }
            ActionDoc::RawAuthorize { pkce, redirect_uri } => {
                Action::RawAuthorize { pkce, redirect_uri }
            }
            ActionDoc::RawTokenRequest {
                grant,
                code,
                refresh_token,
                redirect_uri,
                code_verifier,
                client_secret,
                save_as,
            } => Action::RawTokenRequest {
                grant,
                code,
                refresh_token,
                redirect_uri,
                code_verifier,
                client_secret,
                save_as,
            },
            ActionDoc::RawApiCall { token } => Action::RawApiCall { token },
            ActionDoc::NativeCall {
                credentials,
                crm_error,
            } => Action::NativeCall {
                credentials,
                crm_error,
            },
            ActionDoc::RawNativeCall {
                credentials,
                crm_error,
            } => Action::RawNativeCall {
                credentials,
                crm_error,
            },
            ActionDoc::ListAll { auth, complete } => Action::ListAll { auth, complete },
        })
    }
}

impl FaultSpec {
    /// The rules of a fault that serde cannot state.
    fn check(&self) -> Result<(), String> {
        let kinds = [
            self.error.is_some(),
            self.status.is_some(),
            self.delay_ms.is_some(),
            self.drop_connection,
            self.retry_after_secs.is_some(),
        ];
        if kinds.iter().filter(|b| **b).count() != 1 {
            return Err("a fault needs exactly one of `error`, `status`, `delay_ms`, `drop_connection` or `retry_after_secs`".to_owned());
        }
        match self.retry_after_secs {
            Some(0) => return Err("`retry_after_secs` must be at least 1".to_owned()),
            Some(_) if self.endpoint != EndpointName::Api => {
                return Err(
                    "`retry_after_secs` (the CRM's own 429) applies to `endpoint = \"api\"` only"
                        .to_owned(),
                )
            }
            _ => {}
        }
        if let Some(s) = self.status {
            if !(100..=599).contains(&s) {
                return Err(format!("`status = {s}` is not an HTTP status"));
            }
        }
        if self.endpoint == EndpointName::NativeExchange {
            return Err("faults target `authorize`, `token`, `revoke` or `api`; `native_exchange` is for journal expectations".to_owned());
        }
        if self.times == 0 {
            return Err("`times` must be at least 1".to_owned());
        }
        Ok(())
    }
}

impl Scenario {
    /// What the scenario cites, for reports: the RFC clause, the vendor document, or both
    /// (`RFC 6585 §4; ConnectWise PSA API Requests`).
    pub fn citation(&self) -> String {
        match (&self.source, self.rfc.is_empty()) {
            (Some(src), true) => src.clone(),
            (Some(src), false) => format!("{}; {src}", self.rfc),
            (None, _) => self.rfc.clone(),
        }
    }

    /// Parses a scenario from TOML text. `file` names it in errors and gives the id (its stem).
    ///
    /// ```
    /// use handshake_conformance::Scenario;
    ///
    /// let text = r#"
    ///     title = "The happy path"
    ///     rfc = "RFC 6749 §4.1"
    ///     [[steps]]
    ///     action = "authorize"
    ///     [[steps]]
    ///     action = "callback"
    ///     journal = [{ endpoint = "token", grant_type = "authorization_code", count = 1 }]
    /// "#;
    /// let s = Scenario::from_toml_str(text, "scenarios/happy-path.toml").unwrap();
    /// assert_eq!(s.id, "happy-path");
    /// assert_eq!(s.steps.len(), 2);
    ///
    /// let err = Scenario::from_toml_str(
    ///     "title = 't'\nrfc = 'RFC 6749'\n[[steps]]\naction = 'dance'\n",
    ///     "scenarios/bad.toml",
    /// )
    /// .unwrap_err();
    /// assert!(err.to_string().starts_with("scenarios/bad.toml: step 1 (dance): unknown action"));
    /// ```
    pub fn from_toml_str(text: &str, file: &str) -> Result<Scenario, ScenarioError> {
        let id = Path::new(file)
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or(file)
            .to_owned();
        if id.is_empty()
            || !id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            return Err(ScenarioError::new(
                file,
                None,
                ScenarioErrorKind::Invalid,
                "the file name must use only ASCII letters, digits, '-' and '_'",
            ));
        }
        let raw: RawScenario = toml::from_str(text).map_err(|e| {
            let line = e
                .span()
                .map(|s| text[..s.start.min(text.len())].matches('\n').count() + 1);
            ScenarioError::new(file, None, ScenarioErrorKind::Parse, e.message().trim())
                .with_line(line)
        })?;
        if raw.title.trim().is_empty() {
            return Err(ScenarioError::new(
                file,
                None,
                ScenarioErrorKind::Invalid,
                "`title` must not be empty",
            ));
        }
        let source = raw.source.filter(|s| !s.trim().is_empty());
        let rfc = match (raw.rfc, &source) {
            (Some(r), _) if r.contains("RFC") => r,
            (None, Some(_)) => String::new(),
            _ => {
                return Err(ScenarioError::new(
                    file,
                    None,
                    ScenarioErrorKind::Invalid,
                    "`rfc` must cite the clause checked, e.g. \"RFC 6749 §10.12\" (or give `source`, the vendor document checked)",
                ))
            }
        };
        if raw.client.page_size == Some(0) {
            return Err(ScenarioError::new(
                file,
                None,
                ScenarioErrorKind::Invalid,
                "`client.page_size` must be at least 1",
            ));
        }
        if let Some(rl) = raw.mock.rate_limit {
            if rl.limit == 0 || rl.window_secs == 0 {
                return Err(ScenarioError::new(
                    file,
                    None,
                    ScenarioErrorKind::Invalid,
                    "`mock.rate_limit` needs `limit` and `window_secs` of at least 1",
                ));
            }
        }
        if raw.steps.is_empty() {
            return Err(ScenarioError::new(
                file,
                None,
                ScenarioErrorKind::Invalid,
                "a scenario needs at least one [[steps]]",
            ));
        }
        let mut steps = Vec::with_capacity(raw.steps.len());
        for (i, table) in raw.steps.into_iter().enumerate() {
            steps.push(parse_step(file, i + 1, table)?);
        }
        if steps
            .iter()
            .all(|s| s.expect.is_empty() && s.journal.is_empty())
        {
            // Such a scenario cannot fail: it would be a green cell that proves nothing.
            return Err(ScenarioError::new(
                file,
                None,
                ScenarioErrorKind::Invalid,
                "the scenario asserts nothing: give a step an outcome (a client or raw step, `expect`) or a `journal` expectation",
            ));
        }
        let mut requires = raw.requires;
        requires.extend(steps.iter().flat_map(|s| s.action.implied()));
        if raw.mock.is_set() {
            requires.push(Requirement::Control);
        }
        requires.sort();
        requires.dedup();
        let scenario = Scenario {
            id,
            title: raw.title,
            rfc,
            source,
            fix: raw
                .fix
                .map(|f| f.trim().to_owned())
                .filter(|f| !f.is_empty()),
            requires,
            client: raw.client,
            mock: raw.mock,
            steps,
            file: file.to_owned(),
        };
        scenario.check_order()?;
        Ok(scenario)
    }

    /// Reads and parses a scenario file.
    pub fn from_file(path: impl AsRef<Path>) -> Result<Scenario, ScenarioError> {
        let path = path.as_ref();
        let file = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| {
            ScenarioError::new(
                &file,
                None,
                ScenarioErrorKind::Io,
                &format!("cannot read: {e}"),
            )
        })?;
        Scenario::from_toml_str(&text, &file)
    }

    /// The scenarios shipped with handshake (`scenarios/*.toml`, embedded at build time, so an
    /// installed binary runs them from any directory), sorted by id.
    ///
    /// ```
    /// use handshake_conformance::Scenario;
    ///
    /// let all = Scenario::builtins();
    /// assert!(all.iter().any(|s| s.id == "happy-path"));
    /// ```
    pub fn builtins() -> Vec<Scenario> {
        let mut all: Vec<Scenario> = embedded::BUILTIN_FILES
            .iter()
            .filter(|(name, _)| *name != crate::expected::DEFAULT_FILE_NAME)
            .map(|(name, text)| {
                Scenario::from_toml_str(text, &format!("scenarios/{name}"))
                    .expect("built-in scenarios are tested to parse")
            })
            .collect();
        all.sort_by(|a, b| a.id.cmp(&b.id));
        all
    }

    /// The built-in scenarios plus those in `dir`: a file there with a built-in's id replaces
    /// it, any other is added. Sorted by id.
    pub fn builtins_and_dir(dir: impl AsRef<Path>) -> Result<Vec<Scenario>, ScenarioError> {
        let mut all = Scenario::builtins();
        for s in Scenario::load_dir(dir)? {
            all.retain(|b| b.id != s.id);
            all.push(s);
        }
        all.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(all)
    }

    /// Every `*.toml` scenario in a directory, sorted by id. `expected-failures.toml` is not a
    /// scenario and is left out.
    pub fn load_dir(dir: impl AsRef<Path>) -> Result<Vec<Scenario>, ScenarioError> {
        let dir = dir.as_ref();
        let shown = dir.display().to_string();
        let entries = std::fs::read_dir(dir).map_err(|e| {
            ScenarioError::new(
                &shown,
                None,
                ScenarioErrorKind::Io,
                &format!("cannot read the scenarios directory: {e}"),
            )
        })?;
        let paths: Vec<_> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| {
                p.extension().is_some_and(|e| e == "toml")
                    && p.file_name()
                        .is_some_and(|n| n != crate::expected::DEFAULT_FILE_NAME)
            })
            .collect();
        let mut scenarios = paths
            .iter()
            .map(Scenario::from_file)
            .collect::<Result<Vec<_>, _>>()?;
        scenarios.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(scenarios)
    }

    /// Steps that need state from earlier steps must come after them.
    fn check_order(&self) -> Result<(), ScenarioError> {
        let mut authorized = false;
        let mut called_back = false;
        let mut raw_authorized = false;
        let mut labels: Vec<&str> = Vec::new();
        for (i, step) in self.steps.iter().enumerate() {
            let bad = |reason: &str| {
                Err(ScenarioError::new(
                    &self.file,
                    Some((i + 1, step.action.name())),
                    ScenarioErrorKind::Invalid,
                    reason,
                ))
            };
            match &step.action {
                Action::Authorize { .. } => authorized = true,
                Action::Callback { tamper, .. } => {
                    if !authorized {
                        return bad("`callback` needs an `authorize` step before it");
                    }
                    if *tamper == Tamper::Replay && !called_back {
                        return bad("`tamper = \"replay\"` needs an earlier `callback` to replay");
                    }
                    called_back = true;
                }
                Action::RawAuthorize { .. } => raw_authorized = true,
                Action::RawTokenRequest {
                    grant,
                    code,
                    refresh_token,
                    save_as,
                    ..
                } => {
                    match grant {
                        RawGrant::AuthorizationCode => {
                            if *code == CodeChoice::Last && !raw_authorized {
                                return bad("`code = \"last\"` needs a `raw_authorize` step before it");
                            }
                            if refresh_token.is_some() {
                                return bad("`refresh_token` only goes with `grant = \"refresh_token\"`");
                            }
                        }
                        RawGrant::RefreshToken => match refresh_token {
                            None => {
                                return bad("`grant = \"refresh_token\"` needs `refresh_token = \"<label>\"` naming tokens saved earlier with `save_as`")
                            }
                            Some(l) if !labels.contains(&l.as_str()) => {
                                return bad(&format!("no earlier step saved tokens as {l:?}"))
                            }
                            Some(_) => {}
                        },
                    }
                    if let Some(l) = save_as {
                        labels.push(l);
                    }
                }
                Action::RawApiCall { token } if !labels.contains(&token.as_str()) => {
                    return bad(&format!("no earlier step saved tokens as {token:?}"));
                }
                _ => {}
            }
        }
        Ok(())
    }
}

fn parse_step(file: &str, index: usize, table: toml::Table) -> Result<Step, ScenarioError> {
    // The action's name first, so every message can say which step it is about.
    let action_name = match table.get("action") {
        Some(toml::Value::String(s)) => s.clone(),
        Some(_) => {
            return Err(ScenarioError::new(
                file,
                Some((index, "?")),
                ScenarioErrorKind::Invalid,
                "`action` must be a string",
            ))
        }
        None => {
            return Err(ScenarioError::new(
                file,
                Some((index, "?")),
                ScenarioErrorKind::Invalid,
                &format!("missing `action` (one of {})", ACTIONS.join(", ")),
            ))
        }
    };
    let err = |kind, reason: &str| {
        ScenarioError::new(file, Some((index, action_name.as_str())), kind, reason)
    };
    if !ACTIONS.contains(&action_name.as_str()) {
        return Err(err(
            ScenarioErrorKind::Invalid,
            &format!(
                "unknown action {action_name:?} (one of {})",
                ACTIONS.join(", ")
            ),
        ));
    }
    let doc: StepDoc = toml::Value::Table(table)
        .try_into()
        .map_err(|e: toml::de::Error| err(ScenarioErrorKind::Parse, e.message().trim()))?;
    for (j, je) in doc.journal.iter().enumerate() {
        check_journal(je).map_err(|reason| {
            err(
                ScenarioErrorKind::Invalid,
                &format!("journal[{j}]: {reason}"),
            )
        })?;
    }
    let action = doc
        .action
        .into_action()
        .map_err(|reason| err(ScenarioErrorKind::Invalid, &reason))?;
    let expect = match doc.expect {
        Some(_) if !action.has_outcome() => {
            return Err(err(
                ScenarioErrorKind::Invalid,
                "this step has no outcome: `expect` does not apply",
            ))
        }
        Some(Outcomes(e)) => e,
        None if action.has_outcome() => vec!["ok".to_owned()],
        None => Vec::new(),
    };
    Ok(Step {
        action,
        expect,
        journal: doc.journal,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serde_knows_every_documented_action() {
        for name in ACTIONS {
            let err = toml::from_str::<ActionDoc>(&format!("action = {name:?}"))
                .err()
                .map(|e| e.message().to_owned())
                .unwrap_or_default();
            assert!(!err.contains("unknown variant"), "{name}: {err}");
        }
    }

    #[test]
    fn action_names_round_trip() {
        let text = ACTIONS
            .iter()
            .map(|a| match *a {
                "advance_clock" => format!("[[steps]]\naction = {a:?}\nseconds = 1\n"),
                "fault" => format!("[[steps]]\naction = {a:?}\nendpoint = \"api\"\nstatus = 503\n"),
                "raw_token_request" => format!("[[steps]]\naction = {a:?}\ncode = \"bogus\"\n"),
                "raw_api_call" => format!(
                    "[[steps]]\naction = \"raw_token_request\"\ncode = \"bogus\"\nsave_as = \"t\"\n[[steps]]\naction = {a:?}\ntoken = \"t\"\n"
                ),
                "list_all" => format!("[[steps]]\naction = {a:?}\nauth = \"native\"\n"),
                "callback" => format!("[[steps]]\naction = \"authorize\"\n[[steps]]\naction = {a:?}\n"),
                _ => format!("[[steps]]\naction = {a:?}\n"),
            })
            .collect::<String>();
        let s = Scenario::from_toml_str(
            &format!("title = \"t\"\nrfc = \"RFC 6749\"\n{text}"),
            "scenarios/all.toml",
        )
        .unwrap();
        let mut names: Vec<&str> = s.steps.iter().map(|s| s.action.name()).collect();
        names.dedup();
        let mut want: Vec<&str> = ACTIONS.to_vec();
        want.sort();
        names.sort();
        names.dedup();
        assert_eq!(names, want);
    }

    #[test]
    fn a_bad_step_names_file_step_and_reason() {
        let text = "title = \"t\"\nrfc = \"RFC 6749\"\n[[steps]]\naction = \"authorize\"\n[[steps]]\naction = \"callback\"\nerror = \"access_denied\"\ntamper = \"replay\"\n";
        let err = Scenario::from_toml_str(text, "scenarios/bad.toml").unwrap_err();
        assert_eq!(err.step, Some((2, "callback".to_owned())));
        assert_eq!(err.kind, ScenarioErrorKind::Invalid);
        assert_eq!(
            err.to_string(),
            "scenarios/bad.toml: step 2 (callback): give `error` or `tamper`, not both"
        );
        let text = "title = \"t\"\nrfc = \"RFC 6749\"\n[[steps]]\naction = \"api_call\"\nexpect = 3\njournal = [{ endpoint = \"api\", count = 1 }, { endpoint = \"api\", count = \"one\" }]\n";
        let err = Scenario::from_toml_str(text, "scenarios/bad.toml").unwrap_err();
        assert_eq!(err.kind, ScenarioErrorKind::Parse);
        assert!(
            err.to_string()
                .starts_with("scenarios/bad.toml: step 1 (api_call): "),
            "{err}"
        );
        let text = "title = \"t\"\nrfc = \"RFC 6749\"\n[[steps]]\naction = \"api_call\"\njournal = [{ endpoint = \"api\", count = 1 }, { endpoint = \"api\", count = \"one\" }]\n";
        let err = Scenario::from_toml_str(text, "scenarios/bad.toml").unwrap_err();
        assert_eq!(
            err.to_string(),
            "scenarios/bad.toml: step 1 (api_call): journal[1]: invalid type: string \"one\", expected usize"
        );
        let text =
            "title = \"t\"\nrfc = \"RFC 6749\"\n[[steps]]\naction = \"api_call\"\nexpect = []\n";
        let err = Scenario::from_toml_str(text, "scenarios/bad.toml").unwrap_err();
        assert_eq!(
            err.to_string(),
            "scenarios/bad.toml: step 1 (api_call): `expect` must be an outcome (\"ok\", \"invalid_grant\", \"http_403\", ...) or a non-empty list of them"
        );
        let text =
            "title = \"t\"\nrfc = \"RFC 6749\"\n[[steps]]\naction = \"refresh\"\nsince = 3\n";
        let err = Scenario::from_toml_str(text, "scenarios/bad.toml").unwrap_err();
        assert_eq!(
            err.to_string(),
            "scenarios/bad.toml: step 1 (refresh): unknown field `since`, there are no fields"
        );
    }

    #[test]
    fn an_error_callback_and_a_fault_code_are_typed() {
        let text = "title = \"t\"\nrfc = \"RFC 6749\"\n[[steps]]\naction = \"fault\"\nendpoint = \"token\"\nerror = \"invalid_grant\"\n[[steps]]\naction = \"authorize\"\n[[steps]]\naction = \"callback\"\nerror = \"access_denied\"\nexpect = \"access_denied\"\n";
        let s = Scenario::from_toml_str(text, "scenarios/t.toml").unwrap();
        let Action::Fault(f) = &s.steps[0].action else {
            panic!("{:?}", s.steps[0]);
        };
        assert_eq!(f.error, Some(OAuthError::InvalidGrant));
        assert_eq!(
            s.steps[2].action,
            Action::Callback {
                tamper: Tamper::None,
                error: Some(OAuthError::AccessDenied)
            }
        );
    }
}
