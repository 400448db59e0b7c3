//! Token responses (RFC 6749 §5.1) and the token set kept per session.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use oauth2::basic::BasicTokenType;
use oauth2::{AccessToken, RefreshToken, Scope};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// Tokens held for one session.
///
/// `Debug` shows the token types and expiry but never the token values.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct TokenSet {
    /// The access token (redacted in `Debug`).
    pub access_token: AccessToken,
    /// `token_type` as the provider sent it; the client only accepts `bearer` in any case.
    pub token_type: String,
    /// The refresh token, if the provider issued one (redacted in `Debug`).
    pub refresh_token: Option<RefreshToken>,
    /// When the access token expires, computed from `expires_in` at receipt.
    pub expires_at: Option<SystemTime>,
    /// The `scope` granted, if the provider said (RFC 6749 §5.1).
    pub scope: Option<String>,
    /// Provider-specific fields of the token response, e.g. Capsule's `subdomain`.
    pub extra: BTreeMap<String, Value>,
}

impl TokenSet {
    /// Whether the access token is expired, or will be within `skew`. Tokens without an
    /// expiry are never considered expired (a 401 then triggers a refresh).
    pub fn expires_within(&self, skew: Duration, now: SystemTime) -> bool {
        match self.expires_at {
            // An instant past what SystemTime can hold is past any expiry.
            Some(at) => now.checked_add(skew).is_none_or(|t| t >= at),
            None => false,
        }
    }

    pub(crate) fn from_response(
        resp: ProviderTokenResponse,
        previous_refresh: Option<&RefreshToken>,
        now: SystemTime,
    ) -> TokenSet {
        TokenSet {
            access_token: resp.access_token,
            token_type: resp.token_type_raw,
            // RFC 6749 §6: a refresh response without refresh_token keeps the old one.
            refresh_token: resp
                .refresh_token
                .or_else(|| previous_refresh.map(|r| RefreshToken::new(r.secret().clone()))),
            // `expires_in` is whatever the provider sent; one too large for SystemTime
            // means "does not expire" rather than a panic.
            expires_at: resp
                .expires_in
                .and_then(|s| now.checked_add(Duration::from_secs(s))),
            scope: resp.scope_raw,
            extra: resp.extra,
        }
    }
}

/// A token response as providers really send it: validated strictly where RFC 6749 §5.1
/// says REQUIRED, leniently where CRMs differ (`expires_in` as a string, `token_type`
/// in any case, extra fields).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(try_from = "Map<String, Value>")]
pub(crate) struct ProviderTokenResponse {
    access_token: AccessToken,
    #[serde(skip)]
    token_type: BasicTokenType,
    #[serde(rename = "token_type")]
    token_type_raw: String,
    expires_in: Option<u64>,
    refresh_token: Option<RefreshToken>,
    #[serde(skip)]
    scopes: Option<Vec<Scope>>,
    #[serde(rename = "scope")]
    scope_raw: Option<String>,
    #[serde(flatten)]
    extra: BTreeMap<String, Value>,
}

/// Why a token response was rejected. Messages name fields, never their values.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub(crate) struct TokenResponseError(String);

impl TryFrom<Map<String, Value>> for ProviderTokenResponse {
    type Error = TokenResponseError;

    fn try_from(mut m: Map<String, Value>) -> Result<Self, Self::Error> {
        let bad = |s: &str| Err(TokenResponseError(s.to_owned()));
        let access_token = match m.remove("access_token") {
            Some(Value::String(s)) if !s.is_empty() => AccessToken::new(s),
            Some(_) => return bad("`access_token` is not a non-empty string"),
            None => return bad("missing `access_token`"),
        };
        let token_type_raw = match m.remove("token_type") {
            Some(Value::String(s)) => s,
            Some(_) => return bad("`token_type` is not a string"),
            None => return bad("missing `token_type` (RFC 6749 §5.1)"),
        };
        // RFC 6749 §7.1: a client must not use a token whose type it does not understand;
        // RFC 6749 §5.1: the value is case-insensitive.
        if !token_type_raw.eq_ignore_ascii_case("bearer") {
            return Err(TokenResponseError(format!(
                "unsupported `token_type` {token_type_raw:?} (only bearer is understood)"
            )));
        }
        let expires_in = match m.remove("expires_in") {
            None | Some(Value::Null) => None,
            Some(Value::Number(n)) => match n.as_u64() {
                Some(n) => Some(n),
                None => return bad("`expires_in` is not a non-negative integer"),
            },
            Some(Value::String(s)) => match s.trim().parse::<u64>() {
                Ok(n) => Some(n),
                Err(_) => return bad("`expires_in` is a string but not a non-negative integer"),
            },
            Some(_) => return bad("`expires_in` is neither a number nor a string"),
        };
        let refresh_token = match m.remove("refresh_token") {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) if !s.is_empty() => Some(RefreshToken::new(s)),
            Some(_) => return bad("`refresh_token` is not a non-empty string"),
        };
        let scope_raw = match m.remove("scope") {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => Some(s),
            Some(_) => return bad("`scope` is not a string"),
        };
        let scopes = scope_raw.as_ref().map(|s| {
            s.split(' ')
                .filter(|s| !s.is_empty())
                .map(|s| Scope::new(s.to_owned()))
                .collect()
        });
        Ok(ProviderTokenResponse {
            access_token,
            token_type: BasicTokenType::Bearer,
            token_type_raw,
            expires_in,
            refresh_token,
            scopes,
            scope_raw,
            extra: m.into_iter().collect(),
        })
    }
}

impl oauth2::TokenResponse for ProviderTokenResponse {
    type TokenType = BasicTokenType;

    fn access_token(&self) -> &AccessToken {
        &self.access_token
    }
    fn token_type(&self) -> &BasicTokenType {
        &self.token_type
    }
    fn expires_in(&self) -> Option<Duration> {
        self.expires_in.map(Duration::from_secs)
    }
    fn refresh_token(&self) -> Option<&RefreshToken> {
        self.refresh_token.as_ref()
    }
    fn scopes(&self) -> Option<&Vec<Scope>> {
        self.scopes.as_ref()
    }
}

/// Names of the top-level fields of a JSON body, as non-secret evidence for errors.
pub(crate) fn field_names(body: &[u8]) -> String {
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(m)) => {
            let names: Vec<&str> = m.keys().map(String::as_str).collect();
            format!("fields received: [{}]", names.join(", "))
        }
        Ok(_) => "body is JSON but not an object".to_owned(),
        Err(_) => format!("body is not JSON ({} bytes)", body.len()),
    }
}
