//! [proptest](mod@proptest) strategies for the protocol values an OAuth client handles, for teams who
//! property-test their own code one function at a time: PKCE verifiers (valid and invalid
//! per RFC 7636 §4.1) and their challenges, `state` values, callback queries with every
//! tampering a client must survive, and token responses shaped as each CRM sends them.
//!
//! ```
//! use proptest::prelude::*;
//! use handshake_conformance::strategies;
//!
//! proptest!(|(v in strategies::verifier())| {
//!     // Your verifier check must accept every one of these.
//!     prop_assert!((43..=128).contains(&v.len()));
//! });
//! ```
//!
//! Values are drawn from proptest's RNG, so a failing case shrinks and replays like any
//! other proptest case. None of them is a real secret.

use std::fmt;

use base64::Engine as _;
use handshake_profile::{OAuthError, PkceMethod, Profile, Redacted, Rotation};
use proptest::prelude::*;
use proptest::sample::select;
use serde_json::{json, Map, Value};
use sha2::Digest as _;

/// The characters a PKCE verifier may use: RFC 7636 §4.1 `unreserved`.
pub const VERIFIER_CHARSET: &str =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~";

/// Valid PKCE verifiers (RFC 7636 §4.1): 43 to 128 characters of
/// [`VERIFIER_CHARSET`], lengths at the bounds included.
///
/// ```
/// use proptest::prelude::*;
/// use handshake_conformance::strategies::{verifier, VERIFIER_CHARSET};
///
/// proptest!(|(v in verifier())| {
///     prop_assert!((43..=128).contains(&v.len()));
///     prop_assert!(v.chars().all(|c| VERIFIER_CHARSET.contains(c)));
/// });
/// ```
pub fn verifier() -> impl Strategy<Value = String> {
    prop_oneof![
        1 => Just(43usize),
        1 => Just(128usize),
        6 => 43usize..=128,
    ]
    .prop_flat_map(|len| proptest::collection::vec(unreserved(), len))
    .prop_map(|chars| chars.into_iter().collect())
}

fn unreserved() -> impl Strategy<Value = char> {
    select(VERIFIER_CHARSET.chars().collect::<Vec<_>>())
}

/// What is wrong with an invalid verifier.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum VerifierFlaw {
    /// Fewer than 43 characters (empty included).
    TooShort,
    /// More than 128 characters.
    TooLong,
    /// A character outside `unreserved` (`+`, `/`, `=`, a space, non-ASCII, ...), at an
    /// otherwise valid length.
    BadCharacter,
}

/// A verifier that breaks RFC 7636 §4.1, and how.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct InvalidVerifier {
    /// The value.
    pub value: String,
    /// What is wrong with it.
    pub flaw: VerifierFlaw,
}

/// Verifiers a server must refuse and a client must never send: too short, too long, or with
/// a character outside `unreserved` (base64's `+`, `/` and `=` included).
///
/// ```
/// use proptest::prelude::*;
/// use handshake_conformance::strategies::{invalid_verifier, VERIFIER_CHARSET};
///
/// fn valid(v: &str) -> bool {
///     (43..=128).contains(&v.chars().count()) && v.chars().all(|c| VERIFIER_CHARSET.contains(c))
/// }
///
/// proptest!(|(bad in invalid_verifier())| {
///     prop_assert!(!valid(&bad.value), "{:?} passed", bad.flaw);
/// });
/// ```
pub fn invalid_verifier() -> impl Strategy<Value = InvalidVerifier> {
    let short = proptest::collection::vec(unreserved(), 0..43).prop_map(|c| InvalidVerifier {
        value: c.into_iter().collect(),
        flaw: VerifierFlaw::TooShort,
    });
    let long = proptest::collection::vec(unreserved(), 129..=200).prop_map(|c| InvalidVerifier {
        value: c.into_iter().collect(),
        flaw: VerifierFlaw::TooLong,
    });
    let bad_char = (
        proptest::collection::vec(unreserved(), 42..=127),
        select(vec!['+', '/', '=', ' ', '%', '!', '*', 'é', '\u{0}']),
        any::<prop::sample::Index>(),
    )
        .prop_map(|(mut chars, bad, at)| {
            let i = at.index(chars.len() + 1);
            chars.insert(i, bad);
            InvalidVerifier {
                value: chars.into_iter().collect(),
                flaw: VerifierFlaw::BadCharacter,
            }
        });
    prop_oneof![short, long, bad_char]
}

/// The `code_challenge` of a verifier (RFC 7636 §4.2): `BASE64URL(SHA256(verifier))`
/// without padding for S256, the verifier itself for `plain`.
///
/// ```
/// use handshake_conformance::strategies::challenge;
/// use handshake_profile::PkceMethod;
///
/// // The example of RFC 7636 Appendix B.
/// let v = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
/// assert_eq!(challenge(v, PkceMethod::S256), "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM");
/// assert_eq!(challenge(v, PkceMethod::Plain), v);
/// ```
pub fn challenge(verifier: &str, method: PkceMethod) -> String {
    match method {
        PkceMethod::S256 => base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(sha2::Sha256::digest(verifier.as_bytes())),
        PkceMethod::Plain => verifier.to_owned(),
    }
}

/// A valid verifier and its S256 challenge: always 43 characters of the base64url
/// alphabet, never equal to the verifier.
///
/// ```
/// use proptest::prelude::*;
/// use handshake_conformance::strategies::verifier_and_challenge;
///
/// proptest!(|((v, c) in verifier_and_challenge())| {
///     prop_assert_eq!(c.len(), 43);
///     prop_assert_ne!(c, v);
/// });
/// ```
pub fn verifier_and_challenge() -> impl Strategy<Value = (String, String)> {
    verifier().prop_map(|v| {
        let c = challenge(&v, PkceMethod::S256);
        (v, c)
    })
}

/// `state` values as a client may issue them (RFC 6749 §4.1.1: any `VSCHAR`, `%x20-7E`):
/// short and long, with spaces, `&`, `=`, `+`, `%` and quotes, so that a client which does
/// not encode or compare them exactly shows it.
///
/// ```
/// use proptest::prelude::*;
/// use handshake_conformance::strategies::state;
///
/// proptest!(|(s in state())| {
///     // The round trip every client depends on: into a URL and back, unchanged.
///     let mut u = url::Url::parse("http://localhost:3000/callback").unwrap();
///     u.query_pairs_mut().append_pair("state", &s);
///     let back = u.query_pairs().find(|(k, _)| k == "state").unwrap().1.into_owned();
///     prop_assert_eq!(back, s);
/// });
/// ```
pub fn state() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => unguessable_state(),
        1 => "[ -~]{1,64}",
        1 => select(vec!["a b", "a&b=c", "50%", "+/=", "\"'<>"]).prop_map(str::to_owned),
        1 => "[a-z]{200,300}",
    ]
}

/// Unguessable `state` values as a careful client issues them: at least 128 bits of
/// randomness (RFC 9700 §4.7.1), base64url, 22 to 64 characters.
///
/// ```
/// use proptest::prelude::*;
/// use handshake_conformance::strategies::unguessable_state;
///
/// proptest!(|(s in unguessable_state())| {
///     prop_assert!(s.len() >= 22);
///     prop_assert!(s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
/// });
/// ```
pub fn unguessable_state() -> impl Strategy<Value = String> {
    proptest::collection::vec(any::<u8>(), 16..=48)
        .prop_map(|b| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b))
}

/// What the provider really sent back: the callback before any tampering.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct IssuedCallback {
    /// The registered redirect URI.
    pub redirect_uri: String,
    /// The code issued.
    pub code: String,
    /// The `state` the client issued.
    pub state: String,
    /// The issuer (RFC 9207 `iss`), when the provider sends one.
    pub iss: Option<String>,
}

impl fmt::Debug for IssuedCallback {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IssuedCallback")
            .field("redirect_uri", &self.redirect_uri)
            .field("code", &Redacted)
            .field("state", &self.state)
            .field("iss", &self.iss)
            .finish()
    }
}

impl IssuedCallback {
    /// A callback for this redirect URI, code and state.
    pub fn new(
        redirect_uri: impl Into<String>,
        code: impl Into<String>,
        state: impl Into<String>,
    ) -> Self {
        IssuedCallback {
            redirect_uri: redirect_uri.into(),
            code: code.into(),
            state: state.into(),
            iss: None,
        }
    }

    /// The same, from a provider that sends `iss` (RFC 9207).
    pub fn with_iss(mut self, iss: impl Into<String>) -> Self {
        self.iss = Some(iss.into());
        self
    }
}

/// How a delivered callback differs from what the provider sent.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum CallbackTamper {
    /// As sent.
    Honest,
    /// As sent, plus parameters nobody defined (a client must ignore them, RFC 6749 §3.1).
    ExtraParameters,
    /// Parameters in another order.
    Reordered,
    /// `state` replaced by an attacker's value (RFC 6749 §10.12).
    ForgedState,
    /// `state` changed in one character, or its case.
    AlteredState,
    /// No `state`.
    MissingState,
    /// `state=` with an empty value.
    EmptyState,
    /// `state` twice (RFC 6749 §3.1: parameters must not repeat).
    RepeatedState,
    /// `code` twice.
    RepeatedCode,
    /// No `code` (and no `error`).
    MissingCode,
    /// An error callback (`access_denied`, ...) with the right `state`: the user said no,
    /// or the provider failed (RFC 6749 §4.1.2.1).
    Error(String),
    /// An error callback without `state`.
    ErrorWithoutState(String),
    /// No `iss` from a provider that sends one (RFC 9207 §2.4).
    MissingIss,
    /// Another issuer's `iss` (mix-up, RFC 9207).
    WrongIss,
}

impl CallbackTamper {
    /// Whether a correct client redeems the code of such a callback. Every tampering but
    /// [`Honest`](Self::Honest), [`ExtraParameters`](Self::ExtraParameters) and
    /// [`Reordered`](Self::Reordered) must be refused before any token request.
    pub fn must_accept(&self) -> bool {
        matches!(
            self,
            CallbackTamper::Honest | CallbackTamper::ExtraParameters | CallbackTamper::Reordered
        )
    }
}

/// A callback URL as delivered to the client, and how it was tampered with.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct TamperedCallback {
    /// The full callback URL.
    pub url: String,
    /// The tampering.
    pub tamper: CallbackTamper,
}

impl fmt::Debug for TamperedCallback {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The URL carries the code.
        f.debug_struct("TamperedCallback")
            .field("tamper", &self.tamper)
            .finish_non_exhaustive()
    }
}

/// Every callback a client may receive for `issued`: the honest one and each tampering of
/// [`CallbackTamper`]. `iss` tamperings only for a provider that sends `iss`.
///
/// ```
/// use proptest::prelude::*;
/// use handshake_client::Callback;
/// use handshake_conformance::strategies::{callback, IssuedCallback};
///
/// /// The check under test: the app's own callback validation, before any token request.
/// fn accept(url: &str, issued_state: &str) -> bool {
///     match Callback::parse(url) {
///         Ok(cb) => cb.error.is_none() && cb.code.is_some() && cb.state.as_deref() == Some(issued_state),
///         Err(_) => false, // repeated parameters
///     }
/// }
///
/// let issued = IssuedCallback::new("http://localhost:3000/callback", "code-1", "state-1");
/// proptest!(|(cb in callback(&issued))| {
///     prop_assert_eq!(accept(&cb.url, "state-1"), cb.tamper.must_accept(), "{:?}", cb.tamper);
/// });
/// ```
pub fn callback(issued: &IssuedCallback) -> impl Strategy<Value = TamperedCallback> {
    let issued = issued.clone();
    let mut kinds: Vec<BoxedStrategy<CallbackTamper>> = vec![
        Just(CallbackTamper::Honest).boxed(),
        Just(CallbackTamper::ExtraParameters).boxed(),
        Just(CallbackTamper::Reordered).boxed(),
        Just(CallbackTamper::ForgedState).boxed(),
        Just(CallbackTamper::AlteredState).boxed(),
        Just(CallbackTamper::MissingState).boxed(),
        Just(CallbackTamper::EmptyState).boxed(),
        Just(CallbackTamper::RepeatedState).boxed(),
        Just(CallbackTamper::RepeatedCode).boxed(),
        Just(CallbackTamper::MissingCode).boxed(),
        error_code().prop_map(CallbackTamper::Error).boxed(),
        error_code()
            .prop_map(CallbackTamper::ErrorWithoutState)
            .boxed(),
    ];
    if issued.iss.is_some() {
        kinds.push(Just(CallbackTamper::MissingIss).boxed());
        kinds.push(Just(CallbackTamper::WrongIss).boxed());
    }
    (
        proptest::strategy::Union::new(kinds),
        unguessable_state(),
        any::<prop::sample::Index>(),
    )
        .prop_map(move |(tamper, forged, at)| TamperedCallback {
            url: tampered_url(&issued, &tamper, &forged, at),
            tamper,
        })
}

fn error_code() -> impl Strategy<Value = String> {
    select(vec![
        OAuthError::AccessDenied,
        OAuthError::InvalidScope,
        OAuthError::ServerError,
        OAuthError::TemporarilyUnavailable,
        OAuthError::UnauthorizedClient,
    ])
    .prop_map(|e| e.to_string())
}

fn tampered_url(
    issued: &IssuedCallback,
    tamper: &CallbackTamper,
    forged: &str,
    at: prop::sample::Index,
) -> String {
    let code = ("code".to_owned(), issued.code.clone());
    let state = ("state".to_owned(), issued.state.clone());
    let iss = issued.iss.clone().map(|i| ("iss".to_owned(), i));
    let mut pairs: Vec<(String, String)> = match tamper {
        CallbackTamper::Honest | CallbackTamper::MissingIss | CallbackTamper::WrongIss => {
            vec![code, state]
        }
        CallbackTamper::ExtraParameters => vec![
            code,
            state,
            ("session_state".to_owned(), "x".to_owned()),
            ("utm_source".to_owned(), "mail".to_owned()),
        ],
        CallbackTamper::Reordered => vec![state, code],
        CallbackTamper::ForgedState => vec![code, ("state".to_owned(), forged.to_owned())],
        CallbackTamper::AlteredState => {
            let mut chars: Vec<char> = issued.state.chars().collect();
            let s = if chars.is_empty() {
                "x".to_owned()
            } else {
                let i = at.index(chars.len());
                chars[i] = if chars[i] == 'A' { 'B' } else { 'A' };
                chars.into_iter().collect()
            };
            vec![code, ("state".to_owned(), s)]
        }
        CallbackTamper::MissingState => vec![code],
        CallbackTamper::EmptyState => vec![code, ("state".to_owned(), String::new())],
        CallbackTamper::RepeatedState => vec![code, state, ("state".to_owned(), forged.to_owned())],
        CallbackTamper::RepeatedCode => vec![
            code.clone(),
            ("code".to_owned(), format!("{}x", code.1)),
            state,
        ],
        CallbackTamper::MissingCode => vec![state],
        CallbackTamper::Error(e) => vec![("error".to_owned(), e.clone()), state],
        CallbackTamper::ErrorWithoutState(e) => vec![("error".to_owned(), e.clone())],
    };
    match (tamper, iss) {
        (CallbackTamper::MissingIss, _) | (_, None) => {}
        (CallbackTamper::WrongIss, Some(_)) => {
            pairs.push(("iss".to_owned(), "https://attacker.example".to_owned()))
        }
        (_, Some(i)) => pairs.push(i),
    }
    let mut url = match url::Url::parse(&issued.redirect_uri) {
        Ok(u) => u,
        Err(_) => return format!("{}?invalid", issued.redirect_uri),
    };
    url.set_query(None);
    url.query_pairs_mut().extend_pairs(pairs);
    url.to_string()
}

/// Which token request a response answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Grant {
    /// The code exchange (RFC 6749 §4.1.4).
    AuthorizationCode,
    /// A refresh (RFC 6749 §6).
    RefreshToken,
}

/// Successful token responses (RFC 6749 §5.1) as this CRM sends them, with the variations
/// a client must take: the profile's `token_type` in any case (§5.1 says it is
/// case-insensitive), `expires_in` as the profile's lifetime, as a string, or absent,
/// `scope` present or absent, the CRM's extra fields (Capsule's `subdomain`) and fields
/// nobody defined, and a refresh token as the profile issues it: on a refresh, a new one
/// where tokens rotate, and where they do not, the same one or none (§6: keep the old).
///
/// ```
/// use proptest::prelude::*;
/// use handshake_conformance::strategies::{token_response, Grant};
/// use handshake_profile::Profile;
///
/// let capsule = Profile::builtin("capsule").unwrap();
/// proptest!(|(body in token_response(&capsule, Grant::RefreshToken))| {
///     prop_assert!(body["access_token"].is_string());
///     prop_assert!(body["token_type"].as_str().unwrap().eq_ignore_ascii_case("bearer"));
///     // Capsule rotates refresh tokens and says which subdomain the account is on.
///     prop_assert!(body["refresh_token"].is_string());
///     prop_assert!(body.get("subdomain").is_some());
/// });
///
/// let agile = Profile::builtin("agilecrm").unwrap();
/// let mut runner = proptest::test_runner::TestRunner::deterministic();
/// let omitted = (0..200).any(|_| {
///     let body = proptest::strategy::ValueTree::current(
///         &token_response(&agile, Grant::RefreshToken).new_tree(&mut runner).unwrap(),
///     );
///     body.get("refresh_token").is_none()
/// });
/// assert!(omitted, "a non-rotating CRM may leave the refresh token out of a refresh");
/// ```
pub fn token_response(profile: &Profile, grant: Grant) -> impl Strategy<Value = Value> {
    let tokens = profile.tokens.clone();
    let scope = profile.scopes.join(&profile.scopes.default);
    let token_type = tokens.token_type.clone();
    (
        token_value(),
        token_value(),
        0u8..3,
        0u8..3,
        any::<bool>(),
        any::<bool>(),
        0u8..3,
    )
        .prop_map(
            move |(access, refresh, case, expires, with_scope, unknown, refresh_kind)| {
                let mut body = Map::new();
                body.insert("access_token".into(), json!(access));
                let tt = match case {
                    0 => token_type.clone(),
                    1 => token_type.to_ascii_lowercase(),
                    _ => token_type.to_ascii_uppercase(),
                };
                body.insert("token_type".into(), json!(tt));
                match expires {
                    0 => {
                        body.insert(
                            "expires_in".into(),
                            json!(tokens.access_token_lifetime_secs),
                        );
                    }
                    1 => {
                        body.insert(
                            "expires_in".into(),
                            json!(tokens.access_token_lifetime_secs.to_string()),
                        );
                    }
                    _ => {}
                }
                if tokens.refresh_tokens {
                    let issue = match (grant, tokens.rotation) {
                        (Grant::AuthorizationCode, _) => Some(refresh.clone()),
                        (Grant::RefreshToken, Rotation::Off) => match refresh_kind {
                            0 => None,
                            _ => Some("the-same-refresh-token".to_owned()),
                        },
                        (Grant::RefreshToken, _) => Some(refresh.clone()),
                    };
                    if let Some(r) = issue {
                        body.insert("refresh_token".into(), json!(r));
                    }
                }
                if with_scope && !scope.is_empty() {
                    body.insert("scope".into(), json!(scope));
                }
                for (k, v) in &tokens.extra_fields {
                    body.insert(k.clone(), v.clone());
                }
                if unknown {
                    body.insert("x_unknown_member".into(), json!({"nested": [1, 2]}));
                }
                Value::Object(body)
            },
        )
}

fn token_value() -> impl Strategy<Value = String> {
    proptest::collection::vec(any::<u8>(), 16..=40)
        .prop_map(|b| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b))
}
