//! The credentials of the CRMs' native schemes, and the one secret type that holds them.

use handshake_profile::NativeScheme;

use crate::error::ClientError;

pub(super) use handshake_profile::REDACTED;

handshake_profile::secret_type! {
    /// A native credential (API key, password, private key, personal access token). `Debug`
    /// prints `NativeSecret([redacted])`; there is no `PartialEq`, so secrets are not compared
    /// casually.
    ///
    /// ```
    /// use handshake_client::NativeSecret;
    ///
    /// let key = NativeSecret::new("k-123");
    /// assert_eq!(format!("{key:?}"), "NativeSecret([redacted])");
    /// assert_eq!(key.secret(), "k-123");
    /// ```
    #[derive(Clone)]
    pub struct NativeSecret(String);
}

/// Credentials for a CRM's native authentication scheme, one variant per scheme of
/// [`NativeScheme`]. Secrets are [`NativeSecret`]s, redacted in `Debug`; identifiers (email,
/// user name, company id, public key, clientId) are not secret and do print.
///
/// ```
/// use handshake_client::NativeCredentials;
/// use handshake_profile::NativeScheme;
///
/// let creds = NativeCredentials::connectwise("acme", "pub-key", "priv-key", "6d1b4a6e-client-id");
/// assert_eq!(creds.scheme(), NativeScheme::ConnectwiseMemberKey);
/// assert!(!format!("{creds:?}").contains("priv-key"));
/// ```
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum NativeCredentials {
    /// Capsule personal access token, sent as `Authorization: Bearer <token>`.
    PersonalAccessToken {
        /// The token.
        token: NativeSecret,
    },
    /// Insightly API key, sent as `Authorization: Basic base64(api_key:)`.
    ApiKey {
        /// The key.
        api_key: NativeSecret,
    },
    /// Agile CRM user email and API key, sent as `Authorization: Basic base64(email:api_key)`.
    EmailApiKey {
        /// The user's email address.
        email: String,
        /// The user's REST API key.
        api_key: NativeSecret,
    },
    /// Redtail partner API key and user credentials, exchanged once for a `user_key`.
    Redtail {
        /// The partner API key.
        api_key: NativeSecret,
        /// The Redtail user name.
        username: String,
        /// The user's password.
        password: NativeSecret,
    },
    /// ConnectWise PSA API member keys and the integration's clientId.
    ConnectWise {
        /// The company id (login company).
        company_id: String,
        /// The API member's public key.
        public_key: String,
        /// The API member's private key.
        private_key: NativeSecret,
        /// The integration's clientId GUID (developer.connectwise.com/ClientID).
        client_id: String,
    },
    /// Pipedrive API token, sent alone in the profile's `native_auth.key_header`
    /// (`x-api-token: <token>`).
    HeaderApiKey {
        /// The key.
        api_key: NativeSecret,
    },
}

impl NativeCredentials {
    /// A Capsule personal access token.
    pub fn personal_access_token(token: impl Into<String>) -> Self {
        NativeCredentials::PersonalAccessToken {
            token: NativeSecret::new(token),
        }
    }

    /// An Insightly API key.
    pub fn api_key(api_key: impl Into<String>) -> Self {
        NativeCredentials::ApiKey {
            api_key: NativeSecret::new(api_key),
        }
    }

    /// A Pipedrive API token (or any key sent alone in a header of its own).
    pub fn header_api_key(api_key: impl Into<String>) -> Self {
        NativeCredentials::HeaderApiKey {
            api_key: NativeSecret::new(api_key),
        }
    }

    /// An Agile CRM email and API key.
    pub fn email_api_key(email: impl Into<String>, api_key: impl Into<String>) -> Self {
        NativeCredentials::EmailApiKey {
            email: email.into(),
            api_key: NativeSecret::new(api_key),
        }
    }

    /// Redtail partner API key, user name and password.
    pub fn redtail(
        api_key: impl Into<String>,
        username: impl Into<String>,
        password: impl Into<String>,
    ) -> Self {
        NativeCredentials::Redtail {
            api_key: NativeSecret::new(api_key),
            username: username.into(),
            password: NativeSecret::new(password),
        }
    }

    /// ConnectWise company id, API member keys and integration clientId.
    pub fn connectwise(
        company_id: impl Into<String>,
        public_key: impl Into<String>,
        private_key: impl Into<String>,
        client_id: impl Into<String>,
    ) -> Self {
        NativeCredentials::ConnectWise {
            company_id: company_id.into(),
            public_key: public_key.into(),
            private_key: NativeSecret::new(private_key),
            client_id: client_id.into(),
        }
    }

    /// The scheme these credentials are for.
    pub fn scheme(&self) -> NativeScheme {
        match self {
            NativeCredentials::PersonalAccessToken { .. } => NativeScheme::BearerToken,
            NativeCredentials::ApiKey { .. } => NativeScheme::BasicApiKey,
            NativeCredentials::EmailApiKey { .. } => NativeScheme::BasicEmailApiKey,
            NativeCredentials::Redtail { .. } => NativeScheme::RedtailUserKey,
            NativeCredentials::ConnectWise { .. } => NativeScheme::ConnectwiseMemberKey,
            NativeCredentials::HeaderApiKey { .. } => NativeScheme::HeaderApiKey,
        }
    }

    pub(crate) fn secrets(&self) -> Vec<&str> {
        match self {
            NativeCredentials::PersonalAccessToken { token } => vec![token.secret()],
            NativeCredentials::ApiKey { api_key }
            | NativeCredentials::HeaderApiKey { api_key }
            | NativeCredentials::EmailApiKey { api_key, .. } => {
                vec![api_key.secret()]
            }
            NativeCredentials::Redtail {
                api_key, password, ..
            } => vec![api_key.secret(), password.secret()],
            NativeCredentials::ConnectWise { private_key, .. } => vec![private_key.secret()],
        }
    }

    /// Rejects values HTTP Basic cannot carry (RFC 7617 §2: no `:` in the user-id) and
    /// empty ones, naming the field, never its value.
    pub(crate) fn validate(&self) -> Result<(), ClientError> {
        let check = |field: &str, value: &str, colon_ok: bool| {
            if value.is_empty() {
                return Err(ClientError::Config(format!(
                    "native credentials: `{field}` is empty"
                )));
            }
            if !colon_ok && value.contains(':') {
                return Err(ClientError::Config(format!(
                    "native credentials: `{field}` contains ':', which HTTP Basic cannot carry there"
                )));
            }
            Ok(())
        };
        match self {
            NativeCredentials::PersonalAccessToken { token } => {
                check("token", token.secret(), true)
            }
            NativeCredentials::ApiKey { api_key } => check("api_key", api_key.secret(), false),
            NativeCredentials::HeaderApiKey { api_key } => check("api_key", api_key.secret(), true),
            NativeCredentials::EmailApiKey { email, api_key } => {
                check("email", email, false)?;
                check("api_key", api_key.secret(), true)
            }
            NativeCredentials::Redtail {
                api_key,
                username,
                password,
            } => {
                check("api_key", api_key.secret(), false)?;
                check("username", username, false)?;
                check("password", password.secret(), true)
            }
            NativeCredentials::ConnectWise {
                company_id,
                public_key,
                private_key,
                client_id,
            } => {
                check("company_id", company_id, false)?;
                check("public_key", public_key, false)?;
                check("private_key", private_key.secret(), true)?;
                check("client_id", client_id, true)
            }
        }
    }
}

impl NativeCredentials {
    /// Every field with its value, named and ordered as
    /// [`NativeScheme::credential_fields`] says (secrets included: handle with care).
    ///
    /// ```
    /// use handshake_client::NativeCredentials;
    ///
    /// let creds = NativeCredentials::email_api_key("ada@example.com", "k-1");
    /// assert_eq!(creds.fields(), [("email", "ada@example.com"), ("api_key", "k-1")]);
    /// ```
    pub fn fields(&self) -> Vec<(&'static str, &str)> {
        let values: Vec<&str> = match self {
            NativeCredentials::PersonalAccessToken { token } => vec![token.secret()],
            NativeCredentials::ApiKey { api_key } | NativeCredentials::HeaderApiKey { api_key } => {
                vec![api_key.secret()]
            }
            NativeCredentials::EmailApiKey { email, api_key } => vec![email, api_key.secret()],
            NativeCredentials::Redtail {
                api_key,
                username,
                password,
            } => vec![api_key.secret(), username, password.secret()],
            NativeCredentials::ConnectWise {
                company_id,
                public_key,
                private_key,
                client_id,
            } => vec![company_id, public_key, private_key.secret(), client_id],
        };
        self.scheme()
            .credential_fields()
            .iter()
            .map(|f| f.name)
            .zip(values)
            .collect()
    }

    /// Credentials for `scheme` from its fields by name (the names of
    /// [`NativeScheme::credential_fields`], which `handshake serve` prints as `CRM_<NAME>`
    /// and the mock's `NativeCredentials::fields_for` lists). A missing field is
    /// [`ClientError::Config`], named; fields the scheme does not use are ignored.
    ///
    /// ```
    /// use handshake_client::NativeCredentials;
    /// use handshake_profile::NativeScheme;
    ///
    /// let creds = NativeCredentials::from_fields(
    ///     NativeScheme::BasicApiKey,
    ///     [("api_key", "k-1"), ("email", "unused@example.com")],
    /// )
    /// .unwrap();
    /// assert_eq!(creds.scheme(), NativeScheme::BasicApiKey);
    /// ```
    pub fn from_fields<'a>(
        scheme: NativeScheme,
        fields: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Result<Self, ClientError> {
        let fields: Vec<(&str, &str)> = fields.into_iter().collect();
        let get = |name: &str| {
            fields
                .iter()
                .rev()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| *v)
                .ok_or_else(|| {
                    ClientError::Config(format!(
                        "native credentials: the {} scheme needs `{name}`",
                        scheme.as_str()
                    ))
                })
        };
        Ok(match scheme {
            NativeScheme::BearerToken => Self::personal_access_token(get("personal_access_token")?),
            NativeScheme::BasicApiKey => Self::api_key(get("api_key")?),
            NativeScheme::HeaderApiKey => Self::header_api_key(get("api_key")?),
            NativeScheme::BasicEmailApiKey => Self::email_api_key(get("email")?, get("api_key")?),
            NativeScheme::RedtailUserKey => {
                Self::redtail(get("api_key")?, get("username")?, get("password")?)
            }
            NativeScheme::ConnectwiseMemberKey => Self::connectwise(
                get("company_id")?,
                get("public_key")?,
                get("private_key")?,
                get("integration_client_id")?,
            ),
        })
    }

    /// The same credentials with one field replaced (a wrong key, an empty client id...).
    /// A field the scheme does not use is [`ClientError::Config`].
    ///
    /// ```
    /// use handshake_client::NativeCredentials;
    ///
    /// let creds = NativeCredentials::api_key("k-1").with_field("api_key", "k-2").unwrap();
    /// assert_eq!(creds.fields(), [("api_key", "k-2")]);
    /// assert!(NativeCredentials::api_key("k-1").with_field("email", "x").is_err());
    /// ```
    pub fn with_field(self, name: &str, value: &str) -> Result<Self, ClientError> {
        let scheme = self.scheme();
        if !scheme.credential_fields().iter().any(|f| f.name == name) {
            return Err(ClientError::Config(format!(
                "native credentials: the {} scheme has no `{name}`",
                scheme.as_str()
            )));
        }
        let mut fields: Vec<(&str, &str)> = self.fields();
        // The last of a name wins.
        fields.push((name, value));
        Self::from_fields(scheme, fields)
    }
}
