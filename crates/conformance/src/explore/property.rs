//! The properties `handshake explore` checks after every step, each with the clause it
//! comes from.

use std::fmt;
use std::str::FromStr;

use handshake_profile::{Profile, Rotation};

/// A property of a client's whole OAuth life, checked after every step of every explored
/// sequence from the mock's journal and the client's outcomes.
///
/// ```
/// use handshake_conformance::explore::Property;
///
/// let p: Property = "single-flight-refresh".parse().unwrap();
/// assert_eq!(p, Property::SingleFlightRefresh);
/// assert_eq!(p.clause(), "RFC 6749 §6, RFC 9700 §4.14.2");
/// assert!(Property::ALL.iter().all(|p| p.clause().starts_with("RFC ")));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Property {
    /// No token request after a callback whose `state` is forged, missing or replayed.
    CallbackState,
    /// An error callback (`error=access_denied`, ...) is reported, without a token request.
    ErrorCallback,
    /// Every authorization request carries a PKCE challenge, with S256 where offered.
    PkceChallenge,
    /// The code exchange sends the verifier of the challenge, and the provider accepts it.
    PkceVerifier,
    /// An authorization code is redeemed at most once.
    CodeSingleUse,
    /// No token, code or secret in any URL the client sends.
    NoCredentialsInUrl,
    /// At most one refresh in flight per grant.
    SingleFlightRefresh,
    /// After `invalid_grant` on refresh, the client asks for re-authorization and stops
    /// calling.
    ReauthorizeAfterInvalidGrant,
    /// A rotated-out refresh token is never sent again.
    RotatedRefreshToken,
    /// A 429 is waited out or reported, never hammered.
    RateLimitRespected,
    /// The tokens the client uses always match the last successful token response.
    TokensMatchLastResponse,
}

impl Property {
    /// Every property, in the order they are checked after a step.
    pub const ALL: &'static [Property] = &[
        Property::CallbackState,
        Property::ErrorCallback,
        Property::PkceChallenge,
        Property::PkceVerifier,
        Property::CodeSingleUse,
        Property::NoCredentialsInUrl,
        Property::SingleFlightRefresh,
        Property::ReauthorizeAfterInvalidGrant,
        Property::RotatedRefreshToken,
        Property::RateLimitRespected,
        Property::TokensMatchLastResponse,
    ];

    /// The property's id (`callback-state`), as in reports and written scenario names.
    pub fn id(self) -> &'static str {
        match self {
            Property::CallbackState => "callback-state",
            Property::ErrorCallback => "error-callback",
            Property::PkceChallenge => "pkce-challenge",
            Property::PkceVerifier => "pkce-verifier",
            Property::CodeSingleUse => "code-single-use",
            Property::NoCredentialsInUrl => "no-credentials-in-url",
            Property::SingleFlightRefresh => "single-flight-refresh",
            Property::ReauthorizeAfterInvalidGrant => "reauthorize-after-invalid-grant",
            Property::RotatedRefreshToken => "rotated-refresh-token",
            Property::RateLimitRespected => "rate-limit-respected",
            Property::TokensMatchLastResponse => "tokens-match-last-response",
        }
    }

    /// What must hold, in one sentence.
    pub fn statement(self) -> &'static str {
        match self {
            Property::CallbackState => {
                "No token request after a callback whose state is forged, missing or replayed"
            }
            Property::ErrorCallback => {
                "An error callback is reported to the caller, with no token request"
            }
            Property::PkceChallenge => {
                "Every authorization request carries a PKCE challenge, S256 where the provider offers it"
            }
            Property::PkceVerifier => {
                "The code exchange sends the verifier matching the challenge, and the provider accepts it"
            }
            Property::CodeSingleUse => "An authorization code is redeemed at most once",
            Property::NoCredentialsInUrl => {
                "No token, code or secret in any URL the client sends to the provider"
            }
            Property::SingleFlightRefresh => "At most one refresh in flight per grant",
            Property::ReauthorizeAfterInvalidGrant => {
                "After invalid_grant on refresh the client asks for re-authorization and stops calling"
            }
            Property::RotatedRefreshToken => "A rotated-out refresh token is never sent again",
            Property::RateLimitRespected => "A 429 is waited out or reported, never hammered",
            Property::TokensMatchLastResponse => {
                "The tokens the client uses always match the last successful token response"
            }
        }
    }

    /// The clause the property comes from.
    pub fn clause(self) -> &'static str {
        match self {
            Property::CallbackState => "RFC 6749 §10.12, RFC 9700 §4.7.1",
            Property::ErrorCallback => "RFC 6749 §4.1.2.1",
            Property::PkceChallenge => "RFC 7636 §4.2, §4.3, RFC 9700 §2.1.1",
            Property::PkceVerifier => "RFC 7636 §4.5, §4.6",
            Property::CodeSingleUse => "RFC 6749 §4.1.2, §10.5",
            Property::NoCredentialsInUrl => "RFC 6750 §2.3, §5.3, RFC 9700 §4.3.2",
            Property::SingleFlightRefresh => "RFC 6749 §6, RFC 9700 §4.14.2",
            Property::ReauthorizeAfterInvalidGrant => "RFC 6749 §5.2, §6",
            Property::RotatedRefreshToken => "RFC 9700 §4.14.2, RFC 6749 §10.4",
            Property::RateLimitRespected => "RFC 6585 §4, RFC 9110 §10.2.3",
            Property::TokensMatchLastResponse => "RFC 6749 §5.1, §6",
        }
    }

    /// One line on how a client fixes a violation.
    ///
    /// ```
    /// use handshake_conformance::explore::Property;
    ///
    /// assert!(Property::ALL.iter().all(|p| !p.fix().is_empty()));
    /// ```
    pub fn fix(self) -> &'static str {
        match self {
            Property::CallbackState => {
                "compare the callback's state with the one kept for this login (constant time), delete it once used, and stop before the token request when it differs or is missing"
            }
            Property::ErrorCallback => {
                "check the callback for an error parameter first: report it to the user and never call the token endpoint"
            }
            Property::PkceChallenge => {
                "send code_challenge=BASE64URL(SHA256(verifier)) with code_challenge_method=S256 on every authorization request, a new verifier each time"
            }
            Property::PkceVerifier => {
                "keep the verifier with the login's state and send that same verifier as code_verifier in the code exchange"
            }
            Property::CodeSingleUse => {
                "redeem each code once: drop the callback (and its state) as soon as the exchange starts, whatever its outcome"
            }
            Property::NoCredentialsInUrl => {
                "send tokens in the Authorization header and client secrets in the body or Basic header, never in a query string"
            }
            Property::SingleFlightRefresh => {
                "let one refresh run per grant at a time: concurrent callers wait for it and use the tokens it stores"
            }
            Property::ReauthorizeAfterInvalidGrant => {
                "on invalid_grant at refresh, drop the tokens and ask the user to authorize again; do not call the API or refresh again"
            }
            Property::RotatedRefreshToken => {
                "store the refresh token of every token response, replacing the old one, and refresh only with the newest"
            }
            Property::RateLimitRespected => {
                "on a 429, wait Retry-After (or until X-RateLimit-Reset) before one retry, or report it; never retry at once"
            }
            Property::TokensMatchLastResponse => {
                "after every token response, use its access token (and refresh token) from then on, never an older one"
            }
        }
    }

    /// Why the property cannot be observed against this provider, or `None` when it can.
    ///
    /// ```
    /// use handshake_conformance::explore::Property;
    /// use handshake_profile::Profile;
    ///
    /// let redtail = Profile::builtin("redtail").unwrap();
    /// assert!(Property::PkceChallenge.skip_reason(&redtail).unwrap().contains("no PKCE"));
    /// assert!(Property::RotatedRefreshToken.skip_reason(&redtail).is_some());
    /// assert_eq!(Property::CallbackState.skip_reason(&redtail), None);
    /// ```
    pub fn skip_reason(self, profile: &Profile) -> Option<String> {
        match self {
            Property::PkceChallenge | Property::PkceVerifier if !profile.pkce.supported() => {
                Some("pkce.mode = \"unsupported\": the provider has no PKCE".to_owned())
            }
            Property::SingleFlightRefresh
            | Property::ReauthorizeAfterInvalidGrant
            | Property::RotatedRefreshToken
                if !profile.tokens.refresh_tokens =>
            {
                Some("the provider issues no refresh tokens".to_owned())
            }
            Property::RotatedRefreshToken if profile.tokens.rotation == Rotation::Off => Some(
                "tokens.rotation = \"off\": refresh tokens do not rotate, reusing one is right"
                    .to_owned(),
            ),
            _ => None,
        }
    }
}

impl fmt::Display for Property {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.id())
    }
}

/// A name that is no [`Property`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown property {name:?} (one of {})", Property::ALL.iter().map(|p| p.id()).collect::<Vec<_>>().join(", "))]
#[non_exhaustive]
pub struct UnknownProperty {
    /// The name given.
    pub name: String,
}

impl FromStr for Property {
    type Err = UnknownProperty;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Property::ALL
            .iter()
            .copied()
            .find(|p| p.id() == s)
            .ok_or_else(|| UnknownProperty { name: s.to_owned() })
    }
}
