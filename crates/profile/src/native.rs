//! The CRMs' own (non-OAuth) authentication schemes, what integrations with four of the five
//! CRMs really use today, and the shapes of their API data.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::{FieldPath, Origin};

/// A CRM's native authentication scheme, served beside the OAuth flow on the same API path.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NativeAuth {
    /// Provenance of the scheme.
    #[serde(flatten)]
    pub origin: Origin,
    /// How credentials are presented.
    pub scheme: NativeScheme,
    /// Redtail: path of the key exchange (`GET`, Basic `api_key:username:password`).
    #[serde(default)]
    pub exchange_path: Option<String>,
    /// ConnectWise: header that must carry the integration's client id on every request.
    #[serde(default)]
    pub client_id_header: Option<String>,
    /// Redtail: where the key exchange's answer holds the `user_key`, JSON Pointers tried in
    /// order (sources disagree: `/user_key`, `/authenticated_user/user_key`); the mock writes
    /// it at every one.
    #[serde(default = "default_user_key_at")]
    pub user_key_at: Vec<FieldPath>,
    /// Request header naming the API version a client wants (ConnectWise `Accept`); none by
    /// default.
    #[serde(default)]
    pub version_header: Option<String>,
    /// That header's value, `{version}` replaced by the version asked for.
    #[serde(default = "default_version_value")]
    pub version_value: String,
    /// The version a client asks for unless told otherwise (ConnectWise `2022.1`).
    #[serde(default)]
    pub version: Option<String>,
    /// `header_api_key`: the request header carrying the API key (Pipedrive `x-api-token`).
    #[serde(default)]
    pub key_header: Option<String>,
}

fn default_user_key_at() -> Vec<FieldPath> {
    ["/user_key", "/authenticated_user/user_key"]
        .into_iter()
        .map(|p| FieldPath::parse(p).expect("the default paths parse"))
        .collect()
}

fn default_version_value() -> String {
    "{version}".to_owned()
}

impl NativeAuth {
    /// The version header of an API request, `(name, value)`, asking for `version` (else
    /// the profile's `version`); `None` when the scheme names no version header.
    ///
    /// ```
    /// let cw = handshake_profile::Profile::builtin("connectwise").unwrap();
    /// let native = cw.native_auth.unwrap();
    /// let (name, value) = native.version_header(None).unwrap();
    /// assert_eq!(name, "Accept");
    /// assert_eq!(value, "application/vnd.connectwise.com+json; version=2022.1");
    /// assert!(native.version_header(Some("2020.4")).unwrap().1.ends_with("version=2020.4"));
    /// ```
    pub fn version_header(&self, version: Option<&str>) -> Option<(&str, String)> {
        let name = self.version_header.as_deref()?;
        let version = version.or(self.version.as_deref()).unwrap_or_default();
        Some((name, self.version_value.replace("{version}", version)))
    }

    /// The `user_key` of a key-exchange answer: the first non-empty string found at
    /// `user_key_at`.
    pub fn user_key<'a>(&self, answer: &'a Value) -> Option<&'a str> {
        self.user_key_at
            .iter()
            .filter_map(|p| p.get_in(answer).and_then(Value::as_str))
            .find(|k| !k.is_empty())
    }
}

/// One credential a native scheme is configured with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct CredentialField {
    /// Its name: how `handshake serve` prints it (`CRM_<NAME>`) and the mock's and the
    /// client's `from_fields`/`field` call it (`api_key`, `company_id`, ...).
    pub name: &'static str,
    /// A secret (key, password, token): redacted wherever it could show.
    pub secret: bool,
    /// Part of an HTTP Basic user-id, so it cannot hold a `:` (RFC 7617 §2).
    pub in_user_id: bool,
    /// Sent in the profile's `native_auth.client_id_header`, not in `Authorization`.
    pub in_client_id_header: bool,
}

const fn field(name: &'static str, secret: bool, in_user_id: bool) -> CredentialField {
    CredentialField {
        name,
        secret,
        in_user_id,
        in_client_id_header: false,
    }
}

/// Native authentication schemes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NativeScheme {
    /// `Authorization: Bearer <personal access token>` (Capsule).
    BearerToken,
    /// `Authorization: Basic base64(api_key:)`, empty password (Insightly).
    BasicApiKey,
    /// `Authorization: Basic base64(email:api_key)` (Agile CRM).
    BasicEmailApiKey,
    /// `GET exchange_path` with `Basic base64(api_key:username:password)` returns a
    /// non-expiring `user_key`; API calls send `Authorization: UserKeyAuth
    /// base64(api_key:user_key)` (Redtail).
    RedtailUserKey,
    /// `Authorization: Basic base64(company+public_key:private_key)` plus a mandatory
    /// client-id header (ConnectWise PSA).
    ConnectwiseMemberKey,
    /// The API key alone in a header of its own, `native_auth.key_header: <api_key>`
    /// (Pipedrive `x-api-token`); no `Authorization`.
    HeaderApiKey,
}

impl NativeScheme {
    /// Every scheme, in listing order.
    pub const ALL: [NativeScheme; 6] = [
        NativeScheme::BearerToken,
        NativeScheme::BasicApiKey,
        NativeScheme::BasicEmailApiKey,
        NativeScheme::RedtailUserKey,
        NativeScheme::ConnectwiseMemberKey,
        NativeScheme::HeaderApiKey,
    ];

    /// The credentials the scheme is configured with, in the order its `Authorization`
    /// header uses them.
    ///
    /// ```
    /// use handshake_profile::NativeScheme;
    ///
    /// let names: Vec<_> = NativeScheme::RedtailUserKey.credential_fields().iter().map(|f| f.name).collect();
    /// assert_eq!(names, ["api_key", "username", "password"]);
    /// ```
    pub fn credential_fields(self) -> &'static [CredentialField] {
        const PAT: &[CredentialField] = &[field("personal_access_token", true, false)];
        const API_KEY: &[CredentialField] = &[field("api_key", true, true)];
        const HEADER_KEY: &[CredentialField] = &[field("api_key", true, false)];
        const EMAIL_API_KEY: &[CredentialField] =
            &[field("email", false, true), field("api_key", true, false)];
        const REDTAIL: &[CredentialField] = &[
            field("api_key", true, true),
            field("username", false, true),
            field("password", true, false),
        ];
        const CONNECTWISE: &[CredentialField] = &[
            field("company_id", false, true),
            field("public_key", false, true),
            field("private_key", true, false),
            CredentialField {
                in_client_id_header: true,
                ..field("integration_client_id", false, false)
            },
        ];
        match self {
            NativeScheme::BearerToken => PAT,
            NativeScheme::BasicApiKey => API_KEY,
            NativeScheme::BasicEmailApiKey => EMAIL_API_KEY,
            NativeScheme::RedtailUserKey => REDTAIL,
            NativeScheme::ConnectwiseMemberKey => CONNECTWISE,
            NativeScheme::HeaderApiKey => HEADER_KEY,
        }
    }

    /// The auth-scheme of `Authorization` on API requests (RFC 9110 §11.4): `Bearer`,
    /// `Basic`, or Redtail's `UserKeyAuth` (its key exchange takes `Basic`); empty for
    /// `header_api_key`, which sends no `Authorization`.
    pub fn auth_scheme(self) -> &'static str {
        match self {
            NativeScheme::BearerToken => "Bearer",
            NativeScheme::RedtailUserKey => "UserKeyAuth",
            NativeScheme::HeaderApiKey => "",
            _ => "Basic",
        }
    }

    /// The scheme's name in listings.
    pub fn as_str(self) -> &'static str {
        match self {
            NativeScheme::BearerToken => "bearer_token",
            NativeScheme::BasicApiKey => "basic_api_key",
            NativeScheme::BasicEmailApiKey => "basic_email_api_key",
            NativeScheme::RedtailUserKey => "redtail_user_key",
            NativeScheme::ConnectwiseMemberKey => "connectwise_member_key",
            NativeScheme::HeaderApiKey => "header_api_key",
        }
    }
}

/// A generated, deterministic data set served by the API resource.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Dataset {
    /// How many records to generate.
    pub count: u32,
    /// Field holding the numeric record id.
    pub id_field: String,
    /// Whether ids are written as JSON strings (`"1234"`: HubSpot, Zoho) rather than
    /// numbers (the default).
    #[serde(default)]
    pub id_as_string: bool,
    /// First id; records are numbered consecutively from it.
    #[serde(default = "default_first_id")]
    pub first_id: u64,
    /// A JSON object; string values may use `{first_name}`, `{last_name}`, `{email}`,
    /// `{company}`, `{n}` (1-based index) and `{date}` placeholders.
    pub template: serde_json::Value,
    /// How `{date}` is written.
    #[serde(default = "default_date_format")]
    pub date_format: DateFormat,
}

fn default_date_format() -> DateFormat {
    DateFormat::Rfc3339
}

/// How the `{date}` placeholder of a [`Dataset`] template is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DateFormat {
    /// `2024-01-02T03:04:05Z` (Capsule, ConnectWise).
    Rfc3339,
    /// `2024-01-02 03:04:05`, UTC (Insightly's `DATE_CREATED_UTC`).
    Sql,
}

fn default_first_id() -> u64 {
    1
}

/// Response body format of the API resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BodyFormat {
    /// JSON always.
    Json,
    /// XML unless the request says `Accept: application/json` (Agile CRM).
    XmlUnlessAcceptJson,
}
