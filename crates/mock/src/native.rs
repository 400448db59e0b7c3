//! The credentials a mock accepts for its CRM's native (non-OAuth) scheme.

use std::fmt;

use handshake_profile::NativeScheme;
use sha2::{Digest, Sha256};

use crate::types::MockError;

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

    /// The non-secret parts a scheme uses, as `(name, value)`.
    pub(crate) fn public_parts(&self, scheme: NativeScheme) -> Vec<(&'static str, &str)> {
        match scheme {
            NativeScheme::BearerToken | NativeScheme::BasicApiKey => Vec::new(),
            NativeScheme::BasicEmailApiKey => vec![("email", &self.email)],
            NativeScheme::RedtailUserKey => vec![("username", &self.username)],
            NativeScheme::ConnectwiseMemberKey => vec![
                ("company_id", &self.company_id),
                ("public_key", &self.public_key),
                ("integration_client_id", &self.integration_client_id),
            ],
        }
    }

    /// Every field a scheme uses, secrets included, as `(name, value)`: what a user of the
    /// mock must configure in the app under test.
    pub fn fields_for(&self, scheme: NativeScheme) -> Vec<(&'static str, String)> {
        let mut v: Vec<(&'static str, String)> = match scheme {
            NativeScheme::BearerToken => {
                vec![("personal_access_token", self.personal_access_token.clone())]
            }
            NativeScheme::BasicApiKey => vec![("api_key", self.api_key.clone())],
            NativeScheme::BasicEmailApiKey => vec![
                ("email", self.email.clone()),
                ("api_key", self.api_key.clone()),
            ],
            NativeScheme::RedtailUserKey => vec![
                ("api_key", self.api_key.clone()),
                ("username", self.username.clone()),
                ("password", self.password.clone()),
            ],
            NativeScheme::ConnectwiseMemberKey => vec![
                ("company_id", self.company_id.clone()),
                ("public_key", self.public_key.clone()),
                ("private_key", self.private_key.clone()),
                ("integration_client_id", self.integration_client_id.clone()),
            ],
        };
        v.sort_by_key(|(k, _)| *k);
        v
    }

    /// Rejects values a scheme cannot carry: empty ones, and a `:` in an HTTP Basic user-id
    /// (RFC 7617 §2), naming the field, never its value.
    pub(crate) fn validate(&self, scheme: NativeScheme) -> Result<(), MockError> {
        let non_empty = |field: &str, v: &str| {
            if v.is_empty() {
                Err(MockError::Config(format!(
                    "native credentials: {field} must not be empty"
                )))
            } else {
                Ok(())
            }
        };
        let no_colon = |field: &str, v: &str| {
            if v.contains(':') {
                Err(MockError::Config(format!(
                    "native credentials: {field} must not contain ':' (it is part of an HTTP Basic user-id, RFC 7617 §2)"
                )))
            } else {
                Ok(())
            }
        };
        match scheme {
            NativeScheme::BearerToken => {
                non_empty("personal_access_token", &self.personal_access_token)?;
                if self
                    .personal_access_token
                    .bytes()
                    .any(|b| b <= b' ' || b >= 0x7f)
                {
                    return Err(MockError::Config(
                        "native credentials: personal_access_token must be printable ASCII without spaces".into(),
                    ));
                }
            }
            NativeScheme::BasicApiKey => {
                non_empty("api_key", &self.api_key)?;
                no_colon("api_key", &self.api_key)?;
            }
            NativeScheme::BasicEmailApiKey => {
                non_empty("email", &self.email)?;
                no_colon("email", &self.email)?;
                non_empty("api_key", &self.api_key)?;
            }
            NativeScheme::RedtailUserKey => {
                non_empty("api_key", &self.api_key)?;
                no_colon("api_key", &self.api_key)?;
                non_empty("username", &self.username)?;
                no_colon("username", &self.username)?;
                non_empty("password", &self.password)?;
                let key = self.user_key();
                non_empty("user_key", &key)?;
            }
            NativeScheme::ConnectwiseMemberKey => {
                non_empty("company_id", &self.company_id)?;
                no_colon("company_id", &self.company_id)?;
                non_empty("public_key", &self.public_key)?;
                no_colon("public_key", &self.public_key)?;
                non_empty("private_key", &self.private_key)?;
                non_empty("integration_client_id", &self.integration_client_id)?;
            }
        }
        Ok(())
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
        const R: &str = "[redacted]";
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
