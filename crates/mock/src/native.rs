//! The credentials a mock accepts for its CRM's native (non-OAuth) scheme, and the checks.
//!
//! One module per scheme (`native/<scheme>.rs`), each behind [`NativeVerifier`]: how it
//! reads a request's credentials. What a scheme shares with clients (its credential fields,
//! `Authorization` auth-scheme, header names, where the key exchange puts the key) is
//! profile data; the answers (401, the exchange's body) are `resource.rs`'s.

use std::borrow::Cow;
use std::fmt;

use axum::http::HeaderMap;
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use handshake_profile::NativeScheme;
use sha2::{Digest, Sha256};

use crate::types::MockError;

mod basic_api_key;
mod basic_email_api_key;
mod bearer_token;
mod connectwise_member_key;
mod header_api_key;
pub(crate) mod redtail_user_key;

/// One API request's credentials, as a [`NativeVerifier`] reads them.
pub(crate) struct NativeRequest<'a> {
    /// The auth-scheme of `Authorization` (`Basic`, `Bearer`, `UserKeyAuth`), as sent.
    pub(crate) auth_scheme: &'a str,
    /// The rest of `Authorization`, trimmed.
    pub(crate) credentials: &'a str,
    /// Every request header (ConnectWise's client id rides in one).
    pub(crate) headers: &'a HeaderMap,
    /// The profile's `native_auth`.
    pub(crate) native: &'a handshake_profile::NativeAuth,
    /// What the mock accepts.
    pub(crate) accepted: &'a NativeCredentials,
}

/// What a scheme makes of a request's credentials.
#[derive(Debug)]
pub(crate) enum Verdict {
    /// Valid: the request reads the first user's data; `mode` names the scheme in the journal.
    Accepted { mode: &'static str },
    /// The scheme's credentials, but wrong: a 401 saying why (never the value).
    Refused {
        mode: &'static str,
        description: Cow<'static, str>,
    },
    /// Not this scheme's credentials (another auth-scheme, or a Bearer token that is no
    /// personal access token): OAuth, or the "unsupported scheme" refusal, decides.
    NotMine,
}

/// One native scheme as the mock checks it. Stateless: the request carries the profile and
/// the accepted credentials.
pub(crate) trait NativeVerifier: Sync {
    /// What `Authorization` holds, as the metadata's `native_auth.authorization` shows it.
    fn authorization(&self) -> &'static str;

    /// What a request carries, as the metadata shows it: [`authorization`](Self::authorization),
    /// or for a scheme whose key rides in a header of its own, that header.
    fn described(&self, _native: &handshake_profile::NativeAuth) -> Cow<'static, str> {
        Cow::Borrowed(self.authorization())
    }

    /// Checks one request's credentials.
    fn verify(&self, req: &NativeRequest<'_>) -> Verdict;

    /// Checks beyond the profile's field rules (empty, `:` in a Basic user-id).
    fn validate(&self, _accepted: &NativeCredentials) -> Result<(), MockError> {
        Ok(())
    }

    /// The CRM's own words for a request without credentials, when it documents them.
    fn missing(&self) -> Option<&'static str> {
        None
    }

    /// The key exchange's `Authorization`, for a scheme that has one (metadata).
    fn exchange_authorization(&self) -> Option<&'static str> {
        None
    }
}

/// The module of `scheme`.
pub(crate) fn verifier(scheme: NativeScheme) -> &'static dyn NativeVerifier {
    match scheme {
        NativeScheme::BearerToken => &bearer_token::PersonalAccessToken,
        NativeScheme::BasicApiKey => &basic_api_key::ApiKey,
        NativeScheme::BasicEmailApiKey => &basic_email_api_key::EmailApiKey,
        NativeScheme::RedtailUserKey => &redtail_user_key::UserKey,
        NativeScheme::ConnectwiseMemberKey => &connectwise_member_key::MemberKey,
        NativeScheme::HeaderApiKey => &header_api_key::KeyHeader,
    }
}

/// `user:password` of Basic credentials, split at the first `:` (RFC 7617 §2), or why not.
fn basic_pair(credentials: &str) -> Result<(String, String), &'static str> {
    let decoded = STANDARD
        .decode(credentials.trim())
        .ok()
        .and_then(|raw| String::from_utf8(raw).ok())
        .ok_or("malformed Basic credentials: expected base64 of user:password")?;
    let (user, pass) = decoded
        .split_once(':')
        .ok_or("malformed Basic credentials: no ':' between user and password")?;
    Ok((user.to_owned(), pass.to_owned()))
}

/// The decoded text of base64 credentials (`UserKeyAuth`), if it is UTF-8.
fn decode(credentials: &str) -> Option<String> {
    String::from_utf8(STANDARD.decode(credentials.trim()).ok()?).ok()
}

/// The verdict of a Basic scheme: `check` compares the pair; `wrong` says what was invalid.
fn basic_verdict(
    req: &NativeRequest<'_>,
    mode: &'static str,
    wrong: &'static str,
    check: impl FnOnce(&str, &str) -> bool,
) -> Verdict {
    if !req.auth_scheme.eq_ignore_ascii_case("basic") {
        return Verdict::NotMine;
    }
    match basic_pair(req.credentials) {
        Ok((user, pass)) if check(&user, &pass) => Verdict::Accepted { mode },
        Ok(_) => refused(mode, wrong),
        Err(why) => refused(mode, why),
    }
}

fn refused(mode: &'static str, description: impl Into<Cow<'static, str>>) -> Verdict {
    Verdict::Refused {
        mode,
        description: description.into(),
    }
}

/// Credentials for the CRM's native authentication scheme (the profile's `native_auth`),
/// accepted on the API resource beside OAuth access tokens. Each scheme reads only its own
/// fields:
///
/// | Scheme | Fields | What the client sends |
/// |---|---|---|
/// | `bearer_token` (Capsule) | `personal_access_token` | `Authorization: Bearer <token>` |
/// | `basic_api_key` (Insightly) | `api_key` | `Authorization: Basic base64(api_key:)` |
/// | `basic_email_api_key` (Agile CRM) | `email`, `api_key` | `Authorization: Basic base64(email:api_key)` |
/// | `redtail_user_key` (Redtail) | `api_key`, `username`, `password` (then `user_key`) | `GET <exchange_path>` with `Basic base64(api_key:username:password)`, then `Authorization: UserKeyAuth base64(api_key:user_key)` |
/// | `connectwise_member_key` (ConnectWise) | `company_id`, `public_key`, `private_key`, `integration_client_id` | `Authorization: Basic base64(company_id+public_key:private_key)` and `clientId: <integration_client_id>` |
/// | `header_api_key` (Pipedrive) | `api_key` | `<native_auth.key_header>: <api_key>` (`x-api-token`) |
///
/// Secrets (`api_key`, `password`, `private_key`, `personal_access_token`, `user_key`) print
/// `[redacted]` in `Debug`; identifiers print.
///
/// ```
/// use handshake_mock::NativeCredentials;
///
/// let creds = NativeCredentials::default().with_api_key("k-123").with_email("ada@example.com");
/// assert_eq!(creds.api_key(), "k-123");
/// assert_eq!(creds.email(), "ada@example.com");
/// let shown = format!("{creds:?}");
/// assert!(shown.contains("ada@example.com") && !shown.contains("k-123"));
/// ```
#[derive(Clone)]
pub struct NativeCredentials {
    api_key: String,
    email: String,
    username: String,
    password: String,
    company_id: String,
    public_key: String,
    private_key: String,
    integration_client_id: String,
    personal_access_token: String,
    user_key: Option<String>,
}

impl NativeCredentials {
    /// Default API key (Insightly, Agile CRM, Redtail).
    pub const DEFAULT_API_KEY: &'static str = "handshake-api-key";
    /// Default user email (Agile CRM).
    pub const DEFAULT_EMAIL: &'static str = "user@example.com";
    /// Default user name (Redtail).
    pub const DEFAULT_USERNAME: &'static str = "handshake-user";
    /// Default password (Redtail).
    pub const DEFAULT_PASSWORD: &'static str = "handshake-password";
    /// Default company id (ConnectWise).
    pub const DEFAULT_COMPANY_ID: &'static str = "handshake";
    /// Default API member public key (ConnectWise).
    pub const DEFAULT_PUBLIC_KEY: &'static str = "handshake-public-key";
    /// Default API member private key (ConnectWise).
    pub const DEFAULT_PRIVATE_KEY: &'static str = "handshake-private-key";
    /// Default integration `clientId` GUID (ConnectWise).
    pub const DEFAULT_INTEGRATION_CLIENT_ID: &'static str = "3f2504e0-4f89-41d3-9a0c-0305e82c3301";
    /// Default personal access token (Capsule).
    pub const DEFAULT_PERSONAL_ACCESS_TOKEN: &'static str = "handshake-personal-access-token";

    /// Sets the API key.
    pub fn with_api_key(mut self, v: impl Into<String>) -> Self {
        self.api_key = v.into();
        self
    }
    /// Sets the user email.
    pub fn with_email(mut self, v: impl Into<String>) -> Self {
        self.email = v.into();
        self
    }
    /// Sets the user name.
    pub fn with_username(mut self, v: impl Into<String>) -> Self {
        self.username = v.into();
        self
    }
    /// Sets the password.
    pub fn with_password(mut self, v: impl Into<String>) -> Self {
        self.password = v.into();
        self
    }
    /// Sets the company id.
    pub fn with_company_id(mut self, v: impl Into<String>) -> Self {
        self.company_id = v.into();
        self
    }
    /// Sets the API member public key.
    pub fn with_public_key(mut self, v: impl Into<String>) -> Self {
        self.public_key = v.into();
        self
    }
    /// Sets the API member private key.
    pub fn with_private_key(mut self, v: impl Into<String>) -> Self {
        self.private_key = v.into();
        self
    }
    /// Sets the integration `clientId`.
    pub fn with_integration_client_id(mut self, v: impl Into<String>) -> Self {
        self.integration_client_id = v.into();
        self
    }
    /// Sets the personal access token.
    pub fn with_personal_access_token(mut self, v: impl Into<String>) -> Self {
        self.personal_access_token = v.into();
        self
    }
    /// Sets the Redtail `user_key` the exchange hands out (default: derived from the API key
    /// and user name, so it is stable across restarts, like the real, non-expiring key).
    pub fn with_user_key(mut self, v: impl Into<String>) -> Self {
        self.user_key = Some(v.into());
        self
    }

    /// The API key. Secret.
    pub fn api_key(&self) -> &str {
        &self.api_key
    }
    /// The user email.
    pub fn email(&self) -> &str {
        &self.email
    }
    /// The user name.
    pub fn username(&self) -> &str {
        &self.username
    }
    /// The password. Secret.
    pub fn password(&self) -> &str {
        &self.password
    }
    /// The company id.
    pub fn company_id(&self) -> &str {
        &self.company_id
    }
    /// The API member public key.
    pub fn public_key(&self) -> &str {
        &self.public_key
    }
    /// The API member private key. Secret.
    pub fn private_key(&self) -> &str {
        &self.private_key
    }
    /// The integration `clientId`.
    pub fn integration_client_id(&self) -> &str {
        &self.integration_client_id
    }
    /// The personal access token. Secret.
    pub fn personal_access_token(&self) -> &str {
        &self.personal_access_token
    }

    /// The Redtail `user_key` handed out by the exchange. Secret.
    ///
    /// ```
    /// let creds = handshake_mock::NativeCredentials::default();
    /// assert_eq!(creds.user_key(), creds.clone().user_key()); // stable
    /// assert_eq!(creds.user_key().len(), 36);                 // GUID-shaped, like Redtail's
    /// ```
    pub fn user_key(&self) -> String {
        if let Some(k) = &self.user_key {
            return k.clone();
        }
        let digest = Sha256::new()
            .chain_update("handshake-redtail-user-key\0")
            .chain_update(&self.api_key)
            .chain_update("\0")
            .chain_update(&self.username)
            .finalize();
        let hex: String = digest[..16].iter().map(|b| format!("{b:02X}")).collect();
        format!(
            "{}-{}-{}-{}-{}",
            &hex[..8],
            &hex[8..12],
            &hex[12..16],
            &hex[16..20],
            &hex[20..32]
        )
    }

    /// Every secret value, for scrubbing the journal.
    pub(crate) fn secrets(&self) -> Vec<String> {
        vec![
            self.api_key.clone(),
            self.password.clone(),
            self.private_key.clone(),
            self.personal_access_token.clone(),
            self.user_key(),
        ]
    }

    /// A field by its profile name ([`NativeScheme::credential_fields`]), secrets included.
    pub fn field(&self, name: &str) -> Option<&str> {
        Some(match name {
            "api_key" => &self.api_key,
            "email" => &self.email,
            "username" => &self.username,
            "password" => &self.password,
            "company_id" => &self.company_id,
            "public_key" => &self.public_key,
            "private_key" => &self.private_key,
            "integration_client_id" => &self.integration_client_id,
            "personal_access_token" => &self.personal_access_token,
            _ => return None,
        })
    }

    /// The fields of a scheme, in its order, as `(name, value)`.
    fn of(&self, scheme: NativeScheme) -> impl Iterator<Item = (&'static str, &str, bool)> {
        scheme
            .credential_fields()
            .iter()
            .map(|f| (f.name, self.field(f.name).unwrap_or_default(), f.secret))
    }

    /// The non-secret parts a scheme uses, as `(name, value)`.
    pub(crate) fn public_parts(&self, scheme: NativeScheme) -> Vec<(&'static str, &str)> {
        self.of(scheme)
            .filter(|(_, _, secret)| !secret)
            .map(|(k, v, _)| (k, v))
            .collect()
    }

    /// Every field a scheme uses, secrets included, as `(name, value)`: what a user of the
    /// mock must configure in the app under test.
    pub fn fields_for(&self, scheme: NativeScheme) -> Vec<(&'static str, String)> {
        let mut v: Vec<(&'static str, String)> =
            self.of(scheme).map(|(k, v, _)| (k, v.to_owned())).collect();
        v.sort_by_key(|(k, _)| *k);
        v
    }

    /// Rejects values a scheme cannot carry: empty ones, and a `:` in an HTTP Basic user-id
    /// (RFC 7617 §2), naming the field, never its value.
    pub(crate) fn validate(&self, scheme: NativeScheme) -> Result<(), MockError> {
        for f in scheme.credential_fields() {
            let v = self.field(f.name).unwrap_or_default();
            if v.is_empty() {
                return Err(MockError::Config(format!(
                    "native credentials: {} must not be empty",
                    f.name
                )));
            }
            if f.in_user_id && v.contains(':') {
                return Err(MockError::Config(format!(
                    "native credentials: {} must not contain ':' (it is part of an HTTP Basic user-id, RFC 7617 §2)",
                    f.name
                )));
            }
        }
        verifier(scheme).validate(self)
    }
}

/// One setting of [`NativeCredentials`], for a front end that offers them all
/// (`handshake serve` makes a flag and an environment variable of each).
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub struct NativeSetting {
    /// The field's name ([`NativeScheme::credential_fields`]), as
    /// [`NativeCredentials::field`] and [`NativeCredentials::with_field`] take it.
    pub name: &'static str,
    /// The command-line flag, without `--` (`api-key`).
    pub flag: &'static str,
    /// The environment variable (`HANDSHAKE_API_KEY`).
    pub env: &'static str,
    /// The default value (a `DEFAULT_*` constant of [`NativeCredentials`]).
    pub default: &'static str,
    /// What it is and which CRMs use it (a label: no final period).
    pub help: &'static str,
}

impl NativeSetting {
    /// Whether a scheme holds this field as a secret (its value is not shown).
    pub fn secret(&self) -> bool {
        NativeScheme::ALL
            .iter()
            .flat_map(|s| s.credential_fields())
            .any(|f| f.name == self.name && f.secret)
    }
}

const fn setting(
    name: &'static str,
    flag: &'static str,
    env: &'static str,
    default: &'static str,
    help: &'static str,
) -> NativeSetting {
    NativeSetting {
        name,
        flag,
        env,
        default,
        help,
    }
}

impl NativeCredentials {
    /// Every field, with its flag, environment variable, default and help.
    ///
    /// ```
    /// use handshake_mock::NativeCredentials;
    ///
    /// let s = NativeCredentials::SETTINGS.iter().find(|s| s.name == "api_key").unwrap();
    /// assert_eq!((s.flag, s.env, s.secret()), ("api-key", "HANDSHAKE_API_KEY", true));
    /// let creds = NativeCredentials::default().with_field("api_key", "k-9").unwrap();
    /// assert_eq!(creds.field("api_key"), Some("k-9"));
    /// ```
    pub const SETTINGS: &'static [NativeSetting] = &[
        setting(
            "api_key",
            "api-key",
            "HANDSHAKE_API_KEY",
            Self::DEFAULT_API_KEY,
            "API key (Insightly, Agile CRM, Redtail, Pipedrive)",
        ),
        setting(
            "email",
            "email",
            "HANDSHAKE_EMAIL",
            Self::DEFAULT_EMAIL,
            "User email (Agile CRM)",
        ),
        setting(
            "username",
            "username",
            "HANDSHAKE_USERNAME",
            Self::DEFAULT_USERNAME,
            "User name (Redtail)",
        ),
        setting(
            "password",
            "password",
            "HANDSHAKE_PASSWORD",
            Self::DEFAULT_PASSWORD,
            "Password (Redtail)",
        ),
        setting(
            "company_id",
            "company-id",
            "HANDSHAKE_COMPANY_ID",
            Self::DEFAULT_COMPANY_ID,
            "Company id (ConnectWise)",
        ),
        setting(
            "public_key",
            "public-key",
            "HANDSHAKE_PUBLIC_KEY",
            Self::DEFAULT_PUBLIC_KEY,
            "API member public key (ConnectWise)",
        ),
        setting(
            "private_key",
            "private-key",
            "HANDSHAKE_PRIVATE_KEY",
            Self::DEFAULT_PRIVATE_KEY,
            "API member private key (ConnectWise)",
        ),
        setting(
            "integration_client_id",
            "integration-client-id",
            "HANDSHAKE_INTEGRATION_CLIENT_ID",
            Self::DEFAULT_INTEGRATION_CLIENT_ID,
            "Integration clientId GUID, required in the clientId header (ConnectWise)",
        ),
        setting(
            "personal_access_token",
            "personal-access-token",
            "HANDSHAKE_PERSONAL_ACCESS_TOKEN",
            Self::DEFAULT_PERSONAL_ACCESS_TOKEN,
            "Personal access token (Capsule)",
        ),
    ];

    /// Sets a field by its name; `None` for a name it does not know.
    pub fn with_field(mut self, name: &str, value: impl Into<String>) -> Option<Self> {
        let slot = match name {
            "api_key" => &mut self.api_key,
            "email" => &mut self.email,
            "username" => &mut self.username,
            "password" => &mut self.password,
            "company_id" => &mut self.company_id,
            "public_key" => &mut self.public_key,
            "private_key" => &mut self.private_key,
            "integration_client_id" => &mut self.integration_client_id,
            "personal_access_token" => &mut self.personal_access_token,
            _ => return None,
        };
        *slot = value.into();
        Some(self)
    }
}

impl Default for NativeCredentials {
    /// The `DEFAULT_*` constants; `user_key` derived.
    fn default() -> Self {
        NativeCredentials {
            api_key: Self::DEFAULT_API_KEY.to_owned(),
            email: Self::DEFAULT_EMAIL.to_owned(),
            username: Self::DEFAULT_USERNAME.to_owned(),
            password: Self::DEFAULT_PASSWORD.to_owned(),
            company_id: Self::DEFAULT_COMPANY_ID.to_owned(),
            public_key: Self::DEFAULT_PUBLIC_KEY.to_owned(),
            private_key: Self::DEFAULT_PRIVATE_KEY.to_owned(),
            integration_client_id: Self::DEFAULT_INTEGRATION_CLIENT_ID.to_owned(),
            personal_access_token: Self::DEFAULT_PERSONAL_ACCESS_TOKEN.to_owned(),
            user_key: None,
        }
    }
}

impl fmt::Debug for NativeCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const R: handshake_profile::Redacted = handshake_profile::Redacted;
        f.debug_struct("NativeCredentials")
            .field("api_key", &R)
            .field("email", &self.email)
            .field("username", &self.username)
            .field("password", &R)
            .field("company_id", &self.company_id)
            .field("public_key", &self.public_key)
            .field("private_key", &R)
            .field("integration_client_id", &self.integration_client_id)
            .field("personal_access_token", &R)
            .field("user_key", &R)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_redacts_every_secret() {
        let c = NativeCredentials::default()
            .with_api_key("AK-1")
            .with_password("PW-2")
            .with_private_key("PK-3")
            .with_personal_access_token("PAT-4")
            .with_user_key("UK-5");
        let shown = format!("{c:?}");
        for secret in ["AK-1", "PW-2", "PK-3", "PAT-4", "UK-5"] {
            assert!(!shown.contains(secret), "{secret} in {shown}");
        }
        assert!(shown.contains(NativeCredentials::DEFAULT_EMAIL));
    }

    #[test]
    fn user_key_depends_on_api_key_and_username_only() {
        let a = NativeCredentials::default();
        let b = a.clone().with_password("changed");
        assert_eq!(a.user_key(), b.user_key());
        assert_ne!(a.user_key(), a.clone().with_username("other").user_key());
    }

    #[test]
    fn validation_names_the_field_not_the_value() {
        let c = NativeCredentials::default().with_api_key("has:colon-secret");
        let err = c
            .validate(NativeScheme::BasicApiKey)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("api_key") && !err.contains("colon-secret"),
            "{err}"
        );
        // The Agile password half may hold a colon.
        assert!(c.validate(NativeScheme::BasicEmailApiKey).is_ok());
        let empty = NativeCredentials::default().with_email("");
        assert!(empty.validate(NativeScheme::BasicEmailApiKey).is_err());
        assert!(empty.validate(NativeScheme::BasicApiKey).is_ok());
    }
}
