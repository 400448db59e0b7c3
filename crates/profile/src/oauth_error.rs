//! OAuth 2.0 error codes: the `error` of an error redirect, an error response, a
//! `WWW-Authenticate: Bearer` challenge or a revocation refusal. One enum for the mock, which
//! answers them, and the client, which reads them.

use std::convert::Infallible;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// An OAuth 2.0 error code (RFC 6749 §4.1.2.1 and §5.2, RFC 6750 §3.1, RFC 7009 §2.2.1).
///
/// On the wire it is the snake_case code. A code the RFCs do not define (a CRM's own, or a
/// typo) parses as [`OAuthError::Other`], so a client reading an answer never fails on it:
///
/// ```
/// use handshake_profile::OAuthError;
///
/// let e: OAuthError = "invalid_grant".parse().unwrap();
/// assert_eq!(e, OAuthError::InvalidGrant);
/// assert_eq!(e.as_str(), "invalid_grant");
/// assert_eq!(e, "invalid_grant"); // compares with the wire code too
/// assert_eq!(serde_json::to_string(&OAuthError::AccessDenied).unwrap(), "\"access_denied\"");
///
/// let crm: OAuthError = serde_json::from_str("\"rate_limit_exceeded\"").unwrap();
/// assert_eq!(crm, OAuthError::Other("rate_limit_exceeded".into()));
/// assert!(!crm.is_known());
/// assert_eq!(crm.to_string(), "rate_limit_exceeded");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum OAuthError {
    /// `invalid_request`: a parameter is missing, repeated or malformed (RFC 6749 §4.1.2.1,
    /// §5.2; RFC 6750 §3.1).
    InvalidRequest,
    /// `invalid_client`: client authentication failed (RFC 6749 §5.2).
    InvalidClient,
    /// `invalid_grant`: the code or refresh token is invalid, expired, revoked or was issued
    /// to another client (RFC 6749 §5.2).
    InvalidGrant,
    /// `unauthorized_client`: the client may not use this grant or response type (RFC 6749
    /// §4.1.2.1, §5.2).
    UnauthorizedClient,
    /// `unsupported_grant_type` (RFC 6749 §5.2).
    UnsupportedGrantType,
    /// `invalid_scope` (RFC 6749 §4.1.2.1, §5.2).
    InvalidScope,
    /// `access_denied`: the user or the server refused (RFC 6749 §4.1.2.1).
    AccessDenied,
    /// `unsupported_response_type` (RFC 6749 §4.1.2.1).
    UnsupportedResponseType,
    /// `server_error` (RFC 6749 §4.1.2.1).
    ServerError,
    /// `temporarily_unavailable` (RFC 6749 §4.1.2.1).
    TemporarilyUnavailable,
    /// `invalid_token`: the access token is expired, revoked or malformed (RFC 6750 §3.1).
    InvalidToken,
    /// `insufficient_scope`: the token lacks a scope the resource needs (RFC 6750 §3.1).
    InsufficientScope,
    /// `unsupported_token_type`: the server cannot revoke this type of token (RFC 7009
    /// §2.2.1).
    UnsupportedTokenType,
    /// Any other code, as received.
    Other(String),
}

impl OAuthError {
    /// Every code the RFCs define, in declaration order (everything but
    /// [`OAuthError::Other`]).
    pub const KNOWN: [OAuthError; 13] = [
        OAuthError::InvalidRequest,
        OAuthError::InvalidClient,
        OAuthError::InvalidGrant,
        OAuthError::UnauthorizedClient,
        OAuthError::UnsupportedGrantType,
        OAuthError::InvalidScope,
        OAuthError::AccessDenied,
        OAuthError::UnsupportedResponseType,
        OAuthError::ServerError,
        OAuthError::TemporarilyUnavailable,
        OAuthError::InvalidToken,
        OAuthError::InsufficientScope,
        OAuthError::UnsupportedTokenType,
    ];

    /// The wire code (`invalid_grant`).
    ///
    /// ```
    /// assert_eq!(handshake_profile::OAuthError::InvalidGrant.as_str(), "invalid_grant");
    /// ```
    pub fn as_str(&self) -> &str {
        match self {
            OAuthError::InvalidRequest => "invalid_request",
            OAuthError::InvalidClient => "invalid_client",
            OAuthError::InvalidGrant => "invalid_grant",
            OAuthError::UnauthorizedClient => "unauthorized_client",
            OAuthError::UnsupportedGrantType => "unsupported_grant_type",
            OAuthError::InvalidScope => "invalid_scope",
            OAuthError::AccessDenied => "access_denied",
            OAuthError::UnsupportedResponseType => "unsupported_response_type",
            OAuthError::ServerError => "server_error",
            OAuthError::TemporarilyUnavailable => "temporarily_unavailable",
            OAuthError::InvalidToken => "invalid_token",
            OAuthError::InsufficientScope => "insufficient_scope",
            OAuthError::UnsupportedTokenType => "unsupported_token_type",
            OAuthError::Other(code) => code,
        }
    }

    /// Whether the RFCs define this code (it is not [`OAuthError::Other`]).
    pub fn is_known(&self) -> bool {
        !matches!(self, OAuthError::Other(_))
    }

    /// The HTTP status an error response with this code carries: 400 (RFC 6749 §5.2), but
    /// `invalid_client` 401 (the answer to a failed `Authorization: Basic`; a server sends
    /// 400 when the client authenticated in the body, as a 401 must carry a challenge),
    /// `invalid_token` 401 and `insufficient_scope` 403 (RFC 6750 §3.1), `server_error` 500
    /// and `temporarily_unavailable` 503 (the statuses the redirect codes stand for).
    ///
    /// ```
    /// use handshake_profile::OAuthError;
    ///
    /// assert_eq!(OAuthError::InvalidGrant.status(), 400);
    /// assert_eq!(OAuthError::InsufficientScope.status(), 403);
    /// ```
    pub fn status(&self) -> u16 {
        match self {
            OAuthError::InvalidClient | OAuthError::InvalidToken => 401,
            OAuthError::InsufficientScope => 403,
            OAuthError::ServerError => 500,
            OAuthError::TemporarilyUnavailable => 503,
            _ => 400,
        }
    }
}

impl fmt::Display for OAuthError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for OAuthError {
    type Err = Infallible;

    /// Never fails: a code the RFCs do not define is [`OAuthError::Other`].
    fn from_str(s: &str) -> Result<Self, Infallible> {
        Ok(OAuthError::from(s))
    }
}

impl From<&str> for OAuthError {
    fn from(s: &str) -> Self {
        OAuthError::KNOWN
            .into_iter()
            .find(|e| e.as_str() == s)
            .unwrap_or_else(|| OAuthError::Other(s.to_owned()))
    }
}

impl From<String> for OAuthError {
    fn from(s: String) -> Self {
        match OAuthError::from(s.as_str()) {
            OAuthError::Other(_) => OAuthError::Other(s),
            known => known,
        }
    }
}

impl PartialEq<str> for OAuthError {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for OAuthError {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl PartialEq<OAuthError> for str {
    fn eq(&self, other: &OAuthError) -> bool {
        self == other.as_str()
    }
}

impl PartialEq<OAuthError> for &str {
    fn eq(&self, other: &OAuthError) -> bool {
        *self == other.as_str()
    }
}

impl Serialize for OAuthError {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for OAuthError {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d).map(OAuthError::from)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_known_code_round_trips() {
        for e in OAuthError::KNOWN {
            assert!(e.is_known());
            assert_eq!(e.as_str().parse::<OAuthError>().unwrap(), e);
            let json = serde_json::to_string(&e).unwrap();
            assert_eq!(json, format!("\"{}\"", e.as_str()));
            assert_eq!(serde_json::from_str::<OAuthError>(&json).unwrap(), e);
        }
    }

    #[test]
    fn unknown_codes_are_kept() {
        let e = OAuthError::from(String::from("Unauthorized"));
        assert_eq!(e, OAuthError::Other("Unauthorized".into()));
        assert_eq!(e.as_str(), "Unauthorized");
        assert_eq!(e.status(), 400);
        assert_eq!(serde_json::to_string(&e).unwrap(), "\"Unauthorized\"");
        // Codes are case-sensitive (RFC 6749 §5.2 gives them in lower case).
        assert!(!OAuthError::from("INVALID_GRANT").is_known());
    }

    #[test]
    fn compares_with_wire_codes() {
        assert!(OAuthError::AccessDenied == "access_denied");
        assert!("access_denied" == OAuthError::AccessDenied);
        assert!(*"invalid_token" == OAuthError::InvalidToken);
        assert!(OAuthError::InvalidGrant != "invalid_request");
    }
}
