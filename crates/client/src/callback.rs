//! Parsing the redirect back from the authorization endpoint (RFC 6749 §4.1.2).

use handshake_profile::OAuthError;
use oauth2::AuthorizationCode;
use url::Url;

use crate::error::ClientError;

/// The parameters of an authorization callback. Parsing never panics: any input yields a
/// `Callback` or a [`ClientError::MalformedCallback`].
///
/// ```
/// use handshake_client::Callback;
///
/// let cb = Callback::parse("https://app.example/cb?code=abc&state=xyz").unwrap();
/// assert_eq!(cb.state.as_deref(), Some("xyz"));
/// assert!(!format!("{cb:?}").contains("abc")); // codes are redacted
/// assert!(Callback::parse("?state=a&state=b").is_err()); // RFC 6749 §3.1: no repeats
/// let cb = Callback::parse("?code=abc&state=xyz&iss=https%3A%2F%2Fas.example").unwrap();
/// assert_eq!(cb.iss.as_deref(), Some("https://as.example")); // RFC 9207
/// let cb = Callback::parse("?error=access_denied&state=xyz").unwrap();
/// assert_eq!(cb.error, Some(handshake_profile::OAuthError::AccessDenied));
/// ```
#[derive(Debug, Default)]
#[non_exhaustive]
pub struct Callback {
    /// `state`, echoed by the provider.
    pub state: Option<String>,
    /// `code` on success (redacted in `Debug`).
    pub code: Option<AuthorizationCode>,
    /// `error` on failure (`access_denied`, `invalid_scope`, ...).
    pub error: Option<OAuthError>,
    /// `error_description` on failure.
    pub error_description: Option<String>,
    /// `iss`, the issuer identifier of the server that answered (RFC 9207 §2), on success
    /// and error alike.
    pub iss: Option<String>,
}

impl Callback {
    /// Parses a full callback URL, or just its query string (with or without `?`).
    pub fn parse(input: &str) -> Result<Callback, ClientError> {
        let query = if input.contains("://") {
            let url = Url::parse(input)
                .map_err(|e| ClientError::MalformedCallback(format!("not a URL: {e}")))?;
            url.query().unwrap_or_default().to_owned()
        } else {
            input.strip_prefix('?').unwrap_or(input).to_owned()
        };
        let mut cb = Callback::default();
        for (name, value) in url::form_urlencoded::parse(query.as_bytes()) {
            let slot = match name.as_ref() {
                "state" => &mut cb.state,
                "error" => {
                    if cb.error.is_some() {
                        return Err(repeated("error"));
                    }
                    cb.error = Some(OAuthError::from(value.into_owned()));
                    continue;
                }
                "error_description" => &mut cb.error_description,
                "iss" => &mut cb.iss,
                "code" => {
                    if cb.code.is_some() {
                        return Err(repeated("code"));
                    }
                    cb.code = Some(AuthorizationCode::new(value.into_owned()));
                    continue;
                }
                _ => continue,
            };
            if slot.is_some() {
                return Err(repeated(&name));
            }
            *slot = Some(value.into_owned());
        }
        if cb.code.as_ref().is_some_and(|c| c.secret().is_empty()) {
            cb.code = None;
        }
        Ok(cb)
    }
}

fn repeated(name: &str) -> ClientError {
    ClientError::MalformedCallback(format!(
        "parameter `{name}` appears more than once (RFC 6749 §3.1)"
    ))
}
