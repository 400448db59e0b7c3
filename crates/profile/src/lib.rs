//! Provider profiles: everything handshake knows about one CRM's authorization flow.
//!
//! A profile is a TOML file (`fixtures/providers/<crm>.toml`). The mock servers read it to
//! decide how to behave, the reference client reads it to decide how to talk, and the
//! conformance runner reads it to decide which scenarios apply. This crate sits at the bottom
//! of the workspace and depends on no other handshake crate.
//!
//! Every group of behaviour carries a [`Provenance`]: was it documented by the vendor, seen in
//! integration catalogs, only described by the seed posts, or assumed by us?
//!
//! ```
//! use handshake_profile::{Profile, PkceMode, TokenEncoding};
//!
//! let capsule = Profile::builtin("capsule").unwrap();
//! assert_eq!(capsule.oauth.authorize_path, "/oauth/authorise");
//! assert_eq!(capsule.pkce.mode, PkceMode::Optional);
//! assert!(capsule.token_request.encodings.contains(&TokenEncoding::Form));
//! assert_eq!(capsule.tokens.access_token_lifetime_secs, 604_799);
//! ```
//!
//! Loading a profile of your own reports the file, key and reason when it is malformed:
//!
//! ```
//! let err = handshake_profile::Profile::from_toml_str("id = 3", "my-crm.toml").unwrap_err();
//! assert!(err.to_string().contains("my-crm.toml"));
//! ```

#![warn(missing_docs)]

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;

use serde::{Deserialize, Serialize};

mod builtin;
mod error;
mod native;
mod oauth_error;
mod paging;
mod secret;

pub use builtin::{builtin_ids, BUILTIN};
pub use error::{ProfileError, ProfileErrorKind};
pub use native::{BodyFormat, CredentialField, Dataset, DateFormat, NativeAuth, NativeScheme};
pub use oauth_error::OAuthError;
pub use paging::{Anchor, FieldPath, Paging, PagingStyle};
pub use secret::{Redacted, REDACTED};

/// Where a behaviour comes from.
///
/// A table that does not say (`provenance` omitted, as in a profile describing your own
/// server) is [`Provenance::Assumed`]: nothing backs it but the profile's author.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Provenance {
    /// Documented by the CRM vendor.
    Vendor,
    /// Seen in integration catalogs (Nango, Airbyte, n8n, ...) but not in vendor text.
    Catalog,
    /// Described only by the seed posts ("How to build a public X integration").
    Seed,
    /// Not found in any source; a setting we chose, labelled so. The default.
    #[default]
    Assumed,
}

impl fmt::Display for Provenance {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Provenance::Vendor => "vendor",
            Provenance::Catalog => "catalog",
            Provenance::Seed => "seed",
            Provenance::Assumed => "assumed",
        })
    }
}

/// A profile: one CRM's OAuth 2.0 behaviour, quirks and failure shapes.
///
/// The same file describes a mock (`handshake serve --profile`) or an external server the
/// conformance runner is pointed at (provider mode, `--profile x.toml --base-url URL`). Fields
/// only a mock needs (`summary`, `provenance`, `api.records`, `api.dataset`, ...) are optional;
/// `fixtures/providers/README.md` lists every field with its default.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Profile {
    /// Short identifier used on the command line (`capsule`, `connectwise`, ...).
    pub id: String,
    /// Human name (`Capsule CRM`).
    pub name: String,
    /// One paragraph: what this profile emulates and how faithful it is. Empty when omitted;
    /// every built-in profile has one.
    #[serde(default)]
    pub summary: String,
    /// The real provider's base URL, for display (`https://api.capsulecrm.com`).
    #[serde(default)]
    pub real_base_url: Option<String>,
    /// Endpoint paths of the OAuth flow.
    pub oauth: OAuthEndpoints,
    /// How the token endpoint wants requests encoded and clients authenticated.
    pub token_request: TokenRequest,
    /// Scopes and how they are joined.
    pub scopes: Scopes,
    /// PKCE support (RFC 7636).
    pub pkce: Pkce,
    /// Lifetimes, refresh and rotation.
    pub tokens: Tokens,
    /// The API resource a client calls once authorized.
    pub api: Api,
    /// Shapes of error responses.
    #[serde(default)]
    pub errors: Errors,
    /// Rate limiting of the API resource.
    #[serde(default)]
    pub rate_limit: RateLimit,
    /// Security checks, all on by default; turn one off to emulate a sloppy provider.
    #[serde(default)]
    pub security: Security,
    /// The CRM's own, non-OAuth authentication scheme, served beside the OAuth flow.
    #[serde(default)]
    pub native_auth: Option<NativeAuth>,
    /// What the conformance runner's browser types into an external server's login forms.
    #[serde(default)]
    pub browser: Browser,
}

/// Sources for a group of behaviour.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Origin {
    /// Where the behaviour comes from; [`Provenance::Assumed`] when omitted.
    #[serde(default)]
    pub provenance: Provenance,
    /// URLs or repository paths backing it. Empty for `assumed`.
    #[serde(default)]
    pub sources: Vec<String>,
    /// A note for humans: caveats, discrepancies between sources.
    #[serde(default)]
    pub note: Option<String>,
}

/// Endpoint paths of the OAuth flow, relative to the provider's base URL.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OAuthEndpoints {
    /// Provenance of the OAuth flow as a whole.
    #[serde(flatten)]
    pub origin: Origin,
    /// Authorization endpoint (RFC 6749 §3.1), e.g. `/oauth/authorise`.
    pub authorize_path: String,
    /// Token endpoint (RFC 6749 §3.2).
    pub token_path: String,
    /// Revocation endpoints (RFC 7009). The first is advertised; all are served.
    #[serde(default)]
    pub revoke_paths: Vec<String>,
    /// Serve RFC 8414 metadata at `/.well-known/oauth-authorization-server`.
    #[serde(default)]
    pub well_known: bool,
    /// The server adds `iss` to every authorization response (RFC 9207): the mock does, and
    /// advertises `authorization_response_iss_parameter_supported`; the reference client
    /// then refuses a callback without the expected `iss`.
    #[serde(default)]
    pub iss_parameter: bool,
    /// The issuer identifier (RFC 8414 §2, RFC 9207 §2), when it is not the base URL: an
    /// `http(s)` URL without query or fragment.
    #[serde(default)]
    pub issuer: Option<String>,
    /// Parameters added to every successful authorization response beside `code` and
    /// `state`; `{base_url}` in a value is replaced by the server's base URL (Zoho's
    /// `location` and `accounts-server`). Empty by default.
    #[serde(default)]
    pub callback_params: BTreeMap<String, String>,
}

impl OAuthEndpoints {
    /// The revocation path clients should use, if the provider has one.
    pub fn revoke_path(&self) -> Option<&str> {
        self.revoke_paths.first().map(String::as_str)
    }

    /// The issuer identifier of a server at `base_url`: [`issuer`](Self::issuer) when set,
    /// else the base URL without a trailing `/`. What the mock sends as `iss` and the
    /// reference client compares it with (RFC 9207 §2.4: simple string comparison).
    ///
    /// ```
    /// let mut oauth = handshake_profile::Profile::builtin("capsule").unwrap().oauth;
    /// assert_eq!(oauth.issuer_for("http://127.0.0.1:8080/"), "http://127.0.0.1:8080");
    /// oauth.issuer = Some("https://login.example.com/tenant".into());
    /// assert_eq!(oauth.issuer_for("http://127.0.0.1:8080"), "https://login.example.com/tenant");
    /// ```
    pub fn issuer_for(&self, base_url: &str) -> String {
        match &self.issuer {
            Some(issuer) => issuer.clone(),
            None => base_url.trim_end_matches('/').to_owned(),
        }
    }
}

/// What a form-filling browser (the conformance runner's) types into the login forms of an
/// external server: field name → value, e.g. `form_fields = { login = "alice", password =
/// "x" }`. A mock needs none (its consent page has no login).
///
/// Values may be passwords: `Debug` prints the field names only. `Serialize` writes the
/// values, so that a profile written back is the same profile.
///
/// ```
/// let p = handshake_profile::Profile::from_toml_str(
///     &handshake_profile::BUILTIN[0].1.replace(
///         "[oauth]",
///         "[browser]\nform_fields = { login = \"alice\", password = \"hunter2\" }\n\n[oauth]",
///     ),
///     "with-browser.toml",
/// )
/// .unwrap();
/// assert_eq!(p.browser.form_fields["login"], "alice");
/// assert!(!format!("{p:?}").contains("hunter2"));
/// ```
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Browser {
    /// Form field `name` → the value typed into it, for every login form the browser fills.
    #[serde(default)]
    pub form_fields: BTreeMap<String, String>,
}

impl fmt::Debug for Browser {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        struct Fields<'a>(&'a BTreeMap<String, String>);
        impl fmt::Debug for Fields<'_> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.debug_map()
                    .entries(self.0.keys().map(|k| (k, Redacted)))
                    .finish()
            }
        }
        f.debug_struct("Browser")
            .field("form_fields", &Fields(&self.form_fields))
            .finish()
    }
}

/// Body encoding of token and revocation requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TokenEncoding {
    /// `application/x-www-form-urlencoded` (RFC 6749 §4.1.3).
    Form,
    /// `application/json` (a common non-standard quirk).
    Json,
}

/// How a client authenticates at the token endpoint (RFC 6749 §2.3.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClientAuth {
    /// `Authorization: Basic base64(client_id:client_secret)`.
    ClientSecretBasic,
    /// `client_id` and `client_secret` in the request body.
    ClientSecretPost,
}

impl ClientAuth {
    /// The RFC 8414 name of this method.
    pub fn as_str(self) -> &'static str {
        match self {
            ClientAuth::ClientSecretBasic => "client_secret_basic",
            ClientAuth::ClientSecretPost => "client_secret_post",
        }
    }
}

/// Token endpoint request conventions.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenRequest {
    /// Provenance of these conventions.
    #[serde(flatten)]
    pub origin: Origin,
    /// Encodings the server accepts; the first is what clients should send.
    pub encodings: Vec<TokenEncoding>,
    /// Client authentication methods accepted; the first is what clients should use.
    pub client_auth: Vec<ClientAuth>,
}

impl TokenRequest {
    /// The encoding a client should send.
    pub fn preferred_encoding(&self) -> TokenEncoding {
        self.encodings[0]
    }
    /// The client authentication a client should use.
    pub fn preferred_client_auth(&self) -> ClientAuth {
        self.client_auth[0]
    }
}

/// Scopes and their separator.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scopes {
    /// Provenance of the scope values.
    #[serde(flatten)]
    pub origin: Origin,
    /// Every scope the provider knows. When omitted, the `default` scopes.
    #[serde(default)]
    pub supported: Vec<String>,
    /// Scopes a client asks for by default.
    pub default: Vec<String>,
    /// Separator used in the `scope` parameter (RFC 6749 §3.3 says space).
    #[serde(default = "default_separator")]
    pub separator: String,
    /// Separator of the `scope` in token responses, when it is not `separator` (Zoho takes
    /// commas and answers spaces).
    #[serde(default)]
    pub response_separator: Option<String>,
    /// Scopes every authorization request must name (HubSpot: the app's required scopes, or
    /// "the authorization page will display an error"); each is in `default`. Empty by
    /// default.
    #[serde(default)]
    pub required: Vec<String>,
    /// Whether an authorization request names its scopes (default `true`). `false`: scopes
    /// are fixed when the app is registered (Pipedrive): a client sends no `scope`, and the
    /// server grants `default` whatever is asked.
    #[serde(default = "default_true")]
    pub requestable: bool,
}

fn default_separator() -> String {
    " ".to_owned()
}

impl Scopes {
    /// Joins scopes with this provider's separator.
    ///
    /// ```
    /// let p = handshake_profile::Profile::builtin("capsule").unwrap();
    /// assert_eq!(p.scopes.join(["read", "write"]), "read write");
    /// ```
    pub fn join<I, S>(&self, scopes: I) -> String
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        scopes
            .into_iter()
            .map(|s| s.as_ref().to_owned())
            .collect::<Vec<_>>()
            .join(&self.separator)
    }

    /// Joins granted scopes as a token response carries them: with `response_separator`,
    /// else `separator`.
    ///
    /// ```
    /// let p = handshake_profile::Profile::builtin("zoho").unwrap();
    /// assert_eq!(p.scopes.join(["a", "b"]), "a,b");
    /// assert_eq!(p.scopes.join_response(["a", "b"]), "a b");
    /// ```
    pub fn join_response<I, S>(&self, scopes: I) -> String
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let sep = self
            .response_separator
            .as_deref()
            .unwrap_or(&self.separator);
        // One string, no copy per scope: this runs on every token response.
        let mut out = String::new();
        for (i, s) in scopes.into_iter().enumerate() {
            if i > 0 {
                out.push_str(sep);
            }
            out.push_str(s.as_ref());
        }
        out
    }

    /// Splits a `scope` parameter. Accepts the profile's separator and plain spaces, since
    /// RFC 6749 §3.3 clients send spaces whatever the provider documents.
    pub fn split<'a>(&self, value: &'a str) -> Vec<&'a str> {
        let sep = self.separator.as_str();
        value
            .split(|c: char| c == ' ' || (sep.len() == c.len_utf8() && sep.starts_with(c)))
            .filter(|s| !s.is_empty())
            .collect()
    }
}

/// Whether PKCE is required, optional or unsupported.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PkceMode {
    /// Authorization requests without a code challenge are rejected.
    Required,
    /// A challenge is verified when sent.
    Optional,
    /// The provider ignores PKCE parameters.
    Unsupported,
}

/// PKCE code challenge method (RFC 7636 §4.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum PkceMethod {
    /// `code_challenge = BASE64URL(SHA256(code_verifier))`.
    S256,
    /// `code_challenge = code_verifier`.
    #[serde(rename = "plain")]
    Plain,
}

impl PkceMethod {
    /// The wire name (`S256`, `plain`).
    pub fn as_str(self) -> &'static str {
        match self {
            PkceMethod::S256 => "S256",
            PkceMethod::Plain => "plain",
        }
    }

    /// Parses a wire name; case-sensitive as RFC 7636 §4.3 requires.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "S256" => Some(PkceMethod::S256),
            "plain" => Some(PkceMethod::Plain),
            _ => None,
        }
    }
}

/// PKCE support.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Pkce {
    /// Provenance of the PKCE behaviour.
    #[serde(flatten)]
    pub origin: Origin,
    /// Required, optional or unsupported.
    pub mode: PkceMode,
    /// Methods accepted, e.g. `["S256", "plain"]`. Empty when unsupported.
    #[serde(default)]
    pub methods: Vec<PkceMethod>,
}

impl Pkce {
    /// Whether clients should send a challenge at all.
    pub fn supported(&self) -> bool {
        self.mode != PkceMode::Unsupported && !self.methods.is_empty()
    }

    /// The method a careful client should use: S256 whenever offered, `plain` only if it is
    /// all the provider has (RFC 7636 §4.2, RFC 9700 §2.1.1).
    pub fn best_method(&self) -> Option<PkceMethod> {
        if !self.supported() {
            None
        } else if self.methods.contains(&PkceMethod::S256) {
            Some(PkceMethod::S256)
        } else {
            self.methods.first().copied()
        }
    }
}

/// Refresh-token rotation policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Rotation {
    /// The same refresh token is returned (or none) and stays valid.
    Off,
    /// Each refresh returns a new refresh token and invalidates the old one.
    Rotate,
    /// As `rotate`, and presenting an old refresh token revokes the whole grant
    /// (RFC 9700 §4.14.2 refresh-token reuse detection).
    RotateReuseRevokesFamily,
    /// Each refresh returns a new refresh token, and the old one keeps working (Microsoft
    /// Entra ID: "doesn't revoke old refresh tokens"). Clients should still keep the newest.
    RotateOldStaysValid,
}

impl Rotation {
    /// Whether a refresh returns a new refresh token.
    pub fn rotates(self) -> bool {
        self != Rotation::Off
    }

    /// Whether a refresh token, once rotated out, is refused.
    pub fn retires_old(self) -> bool {
        matches!(self, Rotation::Rotate | Rotation::RotateReuseRevokesFamily)
    }
}

/// A token-response field the mock computes for each response (Salesforce's `instance_url`,
/// `issued_at` and `signature`), named in `tokens.computed_fields`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ComputedField {
    /// The mock's base URL (where the API is): Salesforce `instance_url`.
    BaseUrl,
    /// When the token was issued, milliseconds since the Unix epoch, as a string
    /// (Salesforce `issued_at`).
    IssuedAtMs,
    /// Base64 HMAC-SHA256 of the response's `id` field followed by its `issued_at` field,
    /// keyed with the client secret (Salesforce `signature`).
    SignatureIdIssuedAt,
}

/// Token lifetimes, refresh and extra response fields.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Tokens {
    /// Provenance of lifetimes and token-response shape.
    #[serde(flatten)]
    pub origin: Origin,
    /// `token_type` sent in token responses (`bearer`, `Bearer`).
    #[serde(default = "default_token_type")]
    pub token_type: String,
    /// `expires_in` of access tokens, seconds (default 3600). Only a mock uses it: a client
    /// reads `expires_in` from the token response.
    #[serde(default = "default_access_token_lifetime")]
    pub access_token_lifetime_secs: u64,
    /// How long an authorization code stays redeemable (RFC 6749 §4.1.2 recommends ≤ 10 min).
    #[serde(default = "default_code_lifetime")]
    pub code_lifetime_secs: u64,
    /// Whether refresh tokens are issued.
    pub refresh_tokens: bool,
    /// Refresh-token lifetime, seconds; `None` means no expiry.
    #[serde(default)]
    pub refresh_token_lifetime_secs: Option<u64>,
    /// Rotation policy.
    #[serde(default = "default_rotation")]
    pub rotation: Rotation,
    /// Extra fields added to every token response (Capsule's `subdomain`).
    #[serde(default)]
    pub extra_fields: BTreeMap<String, serde_json::Value>,
    /// Whether token responses carry `expires_in` (default `true`). Salesforce sends none:
    /// a client then holds the token until a 401.
    #[serde(default = "default_true")]
    pub expires_in: bool,
    /// When not empty, a refresh token is issued only to a grant whose scope has one of
    /// these (Salesforce `refresh_token`/`offline_access`, Entra `offline_access`). Empty
    /// (the default): every grant gets one when `refresh_tokens = true`.
    #[serde(default)]
    pub refresh_token_scopes: Vec<String>,
    /// Fields computed for each token response: name → what goes in
    /// (Salesforce `{ instance_url = "base_url", issued_at = "issued_at_ms" }`).
    #[serde(default)]
    pub computed_fields: BTreeMap<String, ComputedField>,
    /// A refresh token dies after this many seconds unused; each refresh extends it
    /// (Pipedrive: 60 days). `None` (the default): no idle expiry.
    #[serde(default)]
    pub refresh_token_idle_secs: Option<u64>,
    /// Authorization-request parameters without which the code exchange returns no refresh
    /// token (Zoho `{ access_type = "offline" }`); a client sends them. Empty by default.
    #[serde(default)]
    pub refresh_token_requires: BTreeMap<String, String>,
    /// Parameters also needed for a new refresh token when the user already holds a live one
    /// for the client (Zoho `{ prompt = "consent" }`); a client sends them. Empty by default.
    #[serde(default)]
    pub refresh_token_reissue_requires: BTreeMap<String, String>,
    /// Refresh tokens a user may hold per client; one more deletes the oldest, with its
    /// access tokens (Zoho: 20). `None` (the default): no cap but the mock's own bounds.
    #[serde(default)]
    pub max_refresh_tokens_per_user: Option<u32>,
    /// Whether a refresh response carries the refresh token (default `true`; with
    /// `rotation = "off"` the same one again). Zoho: `false`, the client keeps its own.
    #[serde(default = "default_true")]
    pub refresh_response_refresh_token: bool,
    /// The granted scopes as a JSON array under this name, instead of the `scope` string
    /// (HubSpot `scopes`). `None` (the default): `scope`.
    #[serde(default)]
    pub granted_scopes_field: Option<String>,
}

fn default_true() -> bool {
    true
}

fn default_token_type() -> String {
    "Bearer".to_owned()
}
fn default_code_lifetime() -> u64 {
    60
}
fn default_access_token_lifetime() -> u64 {
    3600
}
fn default_rotation() -> Rotation {
    Rotation::Off
}

/// The API resource a client can call after authorization.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Api {
    /// Provenance of the resource path and shape.
    #[serde(flatten)]
    pub origin: Origin,
    /// Path of the resource, e.g. `/api/v2/parties`.
    pub path: String,
    /// Key wrapping the records (`{"parties": [...]}`); `None` for a top-level array.
    #[serde(default)]
    pub envelope: Option<String>,
    /// Scope needed to read the resource; a token without it gets 403.
    #[serde(default)]
    pub required_scope: Option<String>,
    /// Sample records served by the mock when there is no `dataset`: tables (JSON objects).
    /// None by default: a mock with neither serves an empty list.
    #[serde(default)]
    pub records: Vec<serde_json::Value>,
    /// How lists are paged; `None` serves every record in one response.
    #[serde(default)]
    pub paging: Option<Paging>,
    /// A generated, deterministic data set that replaces `records`.
    #[serde(default)]
    pub dataset: Option<Dataset>,
    /// Body format of responses.
    #[serde(default = "default_body_format")]
    pub format: BodyFormat,
    /// Status of an empty list: 200 with an empty list, or 204 (Agile CRM).
    #[serde(default = "default_empty_status")]
    pub empty_status: u16,
    /// Key wrapping a single record at `{path}/{id}` (Capsule `{"party": {...}}`); `None`
    /// for the bare object.
    #[serde(default)]
    pub item_envelope: Option<String>,
    /// Status for `{path}/{id}` when no such record exists: 404 with
    /// `errors.not_found_body`, or 204 with no body (Agile CRM documents 204).
    #[serde(default = "default_not_found_status")]
    pub not_found_status: u16,
    /// Response header announcing the API's current version on every answer (ConnectWise
    /// `api-current-version`); none by default.
    #[serde(default)]
    pub current_version_header: Option<String>,
    /// That header's value (ConnectWise: `2025.1`, assumed).
    #[serde(default)]
    pub current_version: Option<String>,
    /// The auth-scheme of `Authorization` carrying an OAuth access token on API requests
    /// (RFC 9110 §11.4): `Bearer` (RFC 6750, the default), Zoho's `Zoho-oauthtoken`.
    #[serde(default = "default_auth_scheme")]
    pub auth_scheme: String,
}

fn default_auth_scheme() -> String {
    "Bearer".to_owned()
}

fn default_body_format() -> BodyFormat {
    BodyFormat::Json
}
fn default_empty_status() -> u16 {
    200
}
fn default_not_found_status() -> u16 {
    404
}

/// Shapes of error bodies. Bodies are JSON templates; `{error}` and `{description}` are
/// replaced with the OAuth error code and its description.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Errors {
    /// Provenance of the error shapes.
    #[serde(flatten)]
    pub origin: Origin,
    /// Body of 401 responses from the API resource.
    #[serde(default = "default_api_error_body")]
    pub unauthorized_body: String,
    /// Body of 403 responses from the API resource.
    #[serde(default = "default_api_error_body")]
    pub forbidden_body: String,
    /// Body of 400 responses from the API resource (bad paging parameters).
    #[serde(default = "default_api_error_body")]
    pub bad_request_body: String,
    /// Body of 404 responses from the API resource (no such record).
    #[serde(default = "default_api_error_body")]
    pub not_found_body: String,
}

fn default_api_error_body() -> String {
    r#"{"error":"{error}","error_description":"{description}"}"#.to_owned()
}

impl Default for Errors {
    fn default() -> Self {
        Errors {
            origin: Origin {
                provenance: Provenance::Assumed,
                sources: vec!["RFC 6750 §3.1".to_owned()],
                note: None,
            },
            unauthorized_body: default_api_error_body(),
            forbidden_body: default_api_error_body(),
            bad_request_body: default_api_error_body(),
            not_found_body: default_api_error_body(),
        }
    }
}

impl Errors {
    /// Renders an error body template.
    ///
    /// ```
    /// let e = handshake_profile::Errors::default();
    /// let body = e.render(&e.unauthorized_body, "invalid_token", "The access token expired");
    /// let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    /// assert_eq!(v["error"], "invalid_token");
    /// ```
    pub fn render(&self, template: &str, error: &str, description: &str) -> String {
        let esc = |s: &str| {
            let quoted = serde_json::to_string(s).unwrap_or_default();
            quoted[1..quoted.len().saturating_sub(1).max(1)].to_owned()
        };
        template
            .replace("{error}", &esc(error))
            .replace("{description}", &esc(description))
    }
}

/// Style of rate-limit headers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RateLimitHeaders {
    /// No rate-limit headers.
    None,
    /// `X-RateLimit-Limit`, `X-RateLimit-Remaining`, `X-RateLimit-Reset` (epoch seconds).
    XRateLimit,
    /// HubSpot: `X-HubSpot-RateLimit-Max`, `X-HubSpot-RateLimit-Remaining`,
    /// `X-HubSpot-RateLimit-Interval-Milliseconds` (the window).
    XHubspotRateLimit,
}

/// Rate limiting of the API resource, per access-token grant.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateLimit {
    /// Provenance of the limit and its shape.
    #[serde(flatten)]
    pub origin: Origin,
    /// Requests allowed per window; `None` means unlimited.
    #[serde(default)]
    pub limit: Option<u32>,
    /// Window length in seconds.
    #[serde(default = "default_window")]
    pub window_secs: u64,
    /// Header style on every API response.
    #[serde(default = "default_rl_headers")]
    pub headers: RateLimitHeaders,
    /// Whether a 429 carries `Retry-After` (seconds).
    #[serde(default)]
    pub retry_after: bool,
    /// Body of a 429 response.
    #[serde(default = "default_429_body")]
    pub body: String,
    /// Status of the rate limit's refusal: 429 (the default, RFC 6585) or 403 (Salesforce
    /// `REQUEST_LIMIT_EXCEEDED`).
    #[serde(default = "default_rl_status")]
    pub status: u16,
}

fn default_rl_status() -> u16 {
    429
}

fn default_window() -> u64 {
    3600
}
fn default_rl_headers() -> RateLimitHeaders {
    RateLimitHeaders::None
}
fn default_429_body() -> String {
    r#"{"error":"rate_limited"}"#.to_owned()
}

impl Default for RateLimit {
    fn default() -> Self {
        RateLimit {
            origin: Origin {
                provenance: Provenance::Assumed,
                sources: vec![],
                note: None,
            },
            limit: None,
            window_secs: default_window(),
            headers: default_rl_headers(),
            retry_after: true,
            body: default_429_body(),
            status: default_rl_status(),
        }
    }
}

/// Security checks of the mock server. All default to on (strict, RFC 6749 / 9700); each can
/// be turned off to emulate a sloppy provider on purpose.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Security {
    /// `redirect_uri` must match a registered URI exactly (RFC 9700 §4.1.3).
    pub exact_redirect_uri: bool,
    /// Codes are single-use (RFC 6749 §4.1.2).
    pub single_use_codes: bool,
    /// A reused code revokes the tokens issued from it (RFC 6749 §4.1.2).
    pub revoke_on_code_reuse: bool,
    /// Codes are bound to the client and `redirect_uri` they were issued for (§4.1.3).
    pub bind_code: bool,
    /// PKCE verifiers are checked (RFC 7636 §4.6).
    pub verify_pkce: bool,
    /// A verifier sent for a code issued without a challenge is rejected (RFC 9700 §4.8.2).
    pub reject_pkce_downgrade: bool,
    /// The token and revocation endpoints authenticate the client (RFC 6749 §3.2.1).
    pub authenticate_client: bool,
    /// Refresh tokens are bound to their client (RFC 6749 §6).
    pub bind_refresh_token: bool,
    /// Token responses carry `Cache-Control: no-store` (RFC 6749 §5.1).
    pub no_store: bool,
    /// The API resource checks token expiry.
    pub check_expiry: bool,
    /// The API resource enforces `api.required_scope` (RFC 6750 §3.1 insufficient_scope).
    pub enforce_scope: bool,
}

impl Default for Security {
    fn default() -> Self {
        Security {
            exact_redirect_uri: true,
            single_use_codes: true,
            revoke_on_code_reuse: true,
            bind_code: true,
            verify_pkce: true,
            reject_pkce_downgrade: true,
            authenticate_client: true,
            bind_refresh_token: true,
            no_store: true,
            check_expiry: true,
            enforce_scope: true,
        }
    }
}

impl Profile {
    /// Parses a profile from TOML text. `origin` names the file in error messages.
    pub fn from_toml_str(text: &str, origin: &str) -> Result<Profile, ProfileError> {
        let de = toml::Deserializer::new(text);
        let mut profile: Profile = serde_path_to_error::deserialize(de)
            .map_err(|e| ProfileError::parse(origin, text, e))?;
        if profile.scopes.supported.is_empty() {
            // Omitted: the server knows at least the scopes clients ask for.
            profile.scopes.supported = profile.scopes.default.clone();
        }
        profile.validate(origin)?;
        Ok(profile)
    }

    /// Reads and parses a profile file.
    pub fn from_file(path: impl AsRef<Path>) -> Result<Profile, ProfileError> {
        let path = path.as_ref();
        let origin = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| ProfileError::io(&origin, e))?;
        Profile::from_toml_str(&text, &origin)
    }

    /// One of the profiles shipped with handshake ([`builtin_ids`]: `capsule`, `connectwise`,
    /// `agilecrm`, `redtail`, `insightly`, and the CRMs added since).
    pub fn builtin(id: &str) -> Result<Profile, ProfileError> {
        let (name, text) = BUILTIN
            .iter()
            .find(|(name, _)| *name == id)
            .ok_or_else(|| ProfileError::unknown_builtin(id))?;
        Profile::from_toml_str(text, &format!("fixtures/providers/{name}.toml"))
    }

    /// All built-in profiles, in a stable order.
    pub fn builtins() -> Vec<Profile> {
        BUILTIN
            .iter()
            .map(|(name, _)| Profile::builtin(name).expect("built-in profiles are tested to parse"))
            .collect()
    }

    /// A built-in id or a path to a TOML file.
    pub fn load(id_or_path: &str) -> Result<Profile, ProfileError> {
        if BUILTIN.iter().any(|(name, _)| *name == id_or_path) {
            Profile::builtin(id_or_path)
        } else if id_or_path.ends_with(".toml") || Path::new(id_or_path).exists() {
            Profile::from_file(id_or_path)
        } else {
            Err(ProfileError::unknown_builtin(id_or_path))
        }
    }

    /// Whether the OAuth flow itself is documented by the vendor (only Capsule among the
    /// built-ins); otherwise the mock emulates the seed's description.
    pub fn oauth_documented(&self) -> bool {
        self.oauth.origin.provenance == Provenance::Vendor
    }

    /// Every behaviour group with its origin, for listings.
    pub fn origins(&self) -> Vec<(&'static str, &Origin)> {
        let mut origins = vec![
            ("oauth", &self.oauth.origin),
            ("token_request", &self.token_request.origin),
            ("scopes", &self.scopes.origin),
            ("pkce", &self.pkce.origin),
            ("tokens", &self.tokens.origin),
            ("api", &self.api.origin),
            ("errors", &self.errors.origin),
            ("rate_limit", &self.rate_limit.origin),
        ];
        if let Some(paging) = &self.api.paging {
            origins.push(("paging", &paging.origin));
        }
        if let Some(native) = &self.native_auth {
            origins.push(("native_auth", &native.origin));
        }
        origins
    }

    /// The authentication modes this profile serves: `oauth` always, plus the native scheme.
    pub fn auth_modes(&self) -> Vec<&'static str> {
        let mut modes = vec!["oauth"];
        if let Some(native) = &self.native_auth {
            modes.push(native.scheme.as_str());
        }
        modes
    }

    fn validate(&self, origin: &str) -> Result<(), ProfileError> {
        let bad = |key: &str, reason: &str| Err(ProfileError::invalid(origin, key, reason));
        self.validate_paths(origin)?;
        self.validate_limits(origin)?;
        if self.id.is_empty()
            || !self
                .id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            return bad(
                "id",
                "must be non-empty and use only ASCII letters, digits, '-' and '_'",
            );
        }
        if self.token_request.encodings.is_empty() {
            return bad(
                "token_request.encodings",
                "needs at least one of \"form\", \"json\"",
            );
        }
        if self.token_request.client_auth.is_empty() {
            return bad(
                "token_request.client_auth",
                "needs at least one of \"client_secret_basic\", \"client_secret_post\"",
            );
        }
        if self.scopes.separator.is_empty() {
            return bad("scopes.separator", "must not be empty");
        }
        for s in &self.scopes.supported {
            // RFC 6749 §3.3 scope-token; they also go into quoted strings of
            // WWW-Authenticate (RFC 6750 §3).
            let token_char = |c: char| matches!(c, '\x21' | '\x23'..='\x5b' | '\x5d'..='\x7e');
            if s.is_empty() || !s.chars().all(token_char) {
                return bad(
                    "scopes.supported",
                    &format!(
                        "scope {s:?} is not an RFC 6749 §3.3 scope-token (printable ASCII, no space, '\"' or '\\')"
                    ),
                );
            }
            if s.contains(self.scopes.separator.as_str()) {
                return bad(
                    "scopes.supported",
                    &format!(
                        "scope {s:?} contains the separator {:?}",
                        self.scopes.separator
                    ),
                );
            }
        }
        if self.tokens.token_type.is_empty() || !self.tokens.token_type.chars().all(is_tchar) {
            return bad(
                "tokens.token_type",
                "must be a non-empty token such as \"Bearer\" (RFC 6749 §7.1)",
            );
        }
        for s in &self.scopes.default {
            if !self.scopes.supported.contains(s) {
                return bad(
                    "scopes.default",
                    &format!("scope {s:?} is not in scopes.supported"),
                );
            }
        }
        if let Some(s) = &self.api.required_scope {
            if !self.scopes.supported.contains(s) {
                return bad(
                    "api.required_scope",
                    &format!("scope {s:?} is not in scopes.supported"),
                );
            }
        }
        match self.pkce.mode {
            PkceMode::Unsupported if !self.pkce.methods.is_empty() => {
                return bad(
                    "pkce.methods",
                    "must be empty when pkce.mode = \"unsupported\"",
                )
            }
            PkceMode::Required | PkceMode::Optional if self.pkce.methods.is_empty() => {
                return bad("pkce.methods", "must list \"S256\" and/or \"plain\"")
            }
            _ => {}
        }
        if self.tokens.access_token_lifetime_secs == 0 {
            return bad(
                "tokens.access_token_lifetime_secs",
                "must be greater than 0",
            );
        }
        if self.tokens.code_lifetime_secs == 0 {
            return bad("tokens.code_lifetime_secs", "must be greater than 0");
        }
        if !self.tokens.refresh_tokens && self.tokens.rotation != Rotation::Off {
            return bad("tokens.rotation", "needs tokens.refresh_tokens = true");
        }
        for s in &self.tokens.refresh_token_scopes {
            if !self.scopes.supported.contains(s) {
                return bad(
                    "tokens.refresh_token_scopes",
                    &format!("scope {s:?} is not in scopes.supported"),
                );
            }
        }
        if !self.tokens.refresh_token_scopes.is_empty() && !self.tokens.refresh_tokens {
            return bad(
                "tokens.refresh_token_scopes",
                "needs tokens.refresh_tokens = true",
            );
        }
        for (k, f) in &self.tokens.computed_fields {
            if self.tokens.extra_fields.contains_key(k) {
                return bad(
                    "tokens.computed_fields",
                    &format!("{k:?} is also in tokens.extra_fields"),
                );
            }
            if *f == ComputedField::SignatureIdIssuedAt
                && !self.tokens.extra_fields.contains_key("id")
            {
                return bad(
                    "tokens.computed_fields",
                    &format!(
                        "{k:?} = \"signature_id_issued_at\" needs an `id` in tokens.extra_fields"
                    ),
                );
            }
        }
        if !(self.rate_limit.status == 429 || self.rate_limit.status == 403) {
            return bad("rate_limit.status", "must be 429 or 403");
        }
        for reserved in [
            "access_token",
            "refresh_token",
            "token_type",
            "expires_in",
            "scope",
        ] {
            if self.tokens.extra_fields.contains_key(reserved)
                || self.tokens.computed_fields.contains_key(reserved)
            {
                return bad(
                    "tokens.extra_fields",
                    &format!("{reserved:?} is a standard field and cannot be overridden"),
                );
            }
        }
        self.validate_native(origin)?;
        self.validate_external(origin)?;
        self.validate_quirks(origin)?;
        if self.rate_limit.limit == Some(0) {
            return bad(
                "rate_limit.limit",
                "must be at least 1 (omit it for no limit)",
            );
        }
        if self.rate_limit.window_secs == 0 {
            return bad("rate_limit.window_secs", "must be greater than 0");
        }
        for (key, body) in [
            ("errors.unauthorized_body", &self.errors.unauthorized_body),
            ("errors.forbidden_body", &self.errors.forbidden_body),
            ("errors.bad_request_body", &self.errors.bad_request_body),
            ("errors.not_found_body", &self.errors.not_found_body),
            ("rate_limit.body", &self.rate_limit.body),
        ] {
            let rendered = self.errors.render(body, "x", "y");
            if serde_json::from_str::<serde_json::Value>(&rendered).is_err() {
                return bad(
                    key,
                    "must be a JSON template (after replacing {error} and {description})",
                );
            }
        }
        Ok(())
    }
}

/// Longest lifetime or window a profile may set: ten years. Longer values are no use to a
/// test, overflow some clients' `expires_in` arithmetic, and cannot be added to an instant.
pub const MAX_LIFETIME_SECS: u64 = 10 * 365 * 24 * 3600;

/// Largest generated data set: enough for any paging test, small enough to build at start.
pub const MAX_DATASET_COUNT: u32 = 100_000;

/// RFC 9110 §5.6.2 `tchar`: what header names and auth-scheme tokens are made of.
fn is_tchar(c: char) -> bool {
    c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c)
}

impl Profile {
    /// Every path the mock serves for this profile must be usable by its router and distinct.
    fn validate_paths(&self, origin: &str) -> Result<(), ProfileError> {
        let bad = |key: &str, reason: &str| Err(ProfileError::invalid(origin, key, reason));
        let mut paths: Vec<(String, &str)> = vec![
            ("oauth.authorize_path".into(), &self.oauth.authorize_path),
            ("oauth.token_path".into(), &self.oauth.token_path),
            ("api.path".into(), &self.api.path),
        ];
        for (i, p) in self.oauth.revoke_paths.iter().enumerate() {
            // Listing one path twice is harmless (served once); sharing with another endpoint is not.
            if !self.oauth.revoke_paths[..i].contains(p) {
                paths.push((format!("oauth.revoke_paths[{i}]"), p));
            }
        }
        if let Some(p) = self
            .native_auth
            .as_ref()
            .and_then(|n| n.exchange_path.as_deref())
        {
            paths.push(("native_auth.exchange_path".into(), p));
        }
        if self.oauth.well_known {
            paths.push((
                "oauth.well_known".into(),
                "/.well-known/oauth-authorization-server",
            ));
        }
        for (i, (key, path)) in paths.iter().enumerate() {
            if !path.starts_with('/') {
                return bad(key, "must be an absolute path starting with '/'");
            }
            if path.starts_with("/__handshake") {
                return bad(
                    key,
                    "the /__handshake prefix is reserved for the control API",
                );
            }
            if path.contains(|c: char| {
                c.is_whitespace() || c.is_control() || matches!(c, '?' | '#' | '{' | '}' | '*')
            }) {
                return bad(
                    key,
                    "must be a plain path: no query, fragment, whitespace or router characters ({ } *)",
                );
            }
            if let Some((other, _)) = paths[..i].iter().find(|(_, p)| p == path) {
                return bad(
                    key,
                    &format!("{path:?} is already {other}; each endpoint needs its own path"),
                );
            }
        }
        Ok(())
    }

    /// Numbers the mock turns into instants, allocations or header names.
    fn validate_limits(&self, origin: &str) -> Result<(), ProfileError> {
        let bad = |key: &str, reason: &str| Err(ProfileError::invalid(origin, key, reason));
        let t = &self.tokens;
        for (key, secs) in [
            (
                "tokens.access_token_lifetime_secs",
                Some(t.access_token_lifetime_secs),
            ),
            ("tokens.code_lifetime_secs", Some(t.code_lifetime_secs)),
            (
                "tokens.refresh_token_lifetime_secs",
                t.refresh_token_lifetime_secs,
            ),
            ("rate_limit.window_secs", Some(self.rate_limit.window_secs)),
            ("tokens.refresh_token_idle_secs", t.refresh_token_idle_secs),
        ] {
            match secs {
                Some(0) => return bad(key, "must be greater than 0"),
                Some(s) if s > MAX_LIFETIME_SECS => {
                    return bad(
                        key,
                        &format!("must be at most {MAX_LIFETIME_SECS} (ten years)"),
                    )
                }
                _ => {}
            }
        }
        if let Some(d) = &self.api.dataset {
            if d.count > MAX_DATASET_COUNT {
                return bad(
                    "api.dataset.count",
                    &format!("must be at most {MAX_DATASET_COUNT}"),
                );
            }
        }
        let mut headers: Vec<(&str, &str)> = Vec::new();
        if let Some(h) = self
            .native_auth
            .as_ref()
            .and_then(|n| n.client_id_header.as_deref())
        {
            headers.push(("native_auth.client_id_header", h));
        }
        if let Some(h) = self
            .native_auth
            .as_ref()
            .and_then(|n| n.version_header.as_deref())
        {
            headers.push(("native_auth.version_header", h));
        }
        if let Some(h) = &self.api.current_version_header {
            headers.push(("api.current_version_header", h));
        }
        if let Some(p) = &self.api.paging {
            if p.size_in_header {
                headers.push(("api.paging.size_param", &p.size_param));
            }
            if let Some(h) = &p.has_more_header {
                headers.push(("api.paging.has_more_header", h));
            }
            if let Some(h) = &p.total_header {
                headers.push(("api.paging.total_header", h));
            }
            if p.forward_only {
                headers.push(("api.paging.forward_only_header", &p.forward_only_header));
            }
        }
        for (key, name) in headers {
            // An empty total_header means "never sent" to the mock; other names must be sendable.
            let optional = key == "api.paging.total_header";
            if (name.is_empty() && !optional) || !name.chars().all(is_tchar) {
                return bad(key, &format!("{name:?} is not an HTTP header name"));
            }
        }
        Ok(())
    }

    /// What describes a server rather than a mock: its issuer, the browser's form values,
    /// and static records when given.
    fn validate_external(&self, origin: &str) -> Result<(), ProfileError> {
        let bad = |key: &str, reason: &str| Err(ProfileError::invalid(origin, key, reason));
        if let Some(issuer) = &self.oauth.issuer {
            let rest = issuer
                .strip_prefix("https://")
                .or_else(|| issuer.strip_prefix("http://"));
            let host_ok = rest.is_some_and(|r| !r.is_empty() && !r.starts_with('/'));
            if !host_ok
                || issuer.contains(|c: char| {
                    c.is_whitespace() || c.is_control() || matches!(c, '?' | '#')
                })
            {
                return bad(
                    "oauth.issuer",
                    "must be an http(s) URL with a host and no query or fragment (RFC 8414 §2)",
                );
            }
        }
        for name in self.browser.form_fields.keys() {
            if name.is_empty() || name.contains(|c: char| c.is_control()) {
                return bad(
                    "browser.form_fields",
                    &format!(
                        "{name:?} is not a form field name (non-empty, no control characters)"
                    ),
                );
            }
        }
        if let Some(i) = self.api.records.iter().position(|r| !r.is_object()) {
            return bad(
                &format!("api.records[{i}]"),
                "must be a table (JSON object)",
            );
        }
        Ok(())
    }

    /// The settings of HubSpot's, Pipedrive's and Zoho's quirks: required and fixed scopes,
    /// refresh tokens gated by authorization parameters, response shapes, the API's
    /// auth-scheme, callback parameters.
    fn validate_quirks(&self, origin: &str) -> Result<(), ProfileError> {
        let bad = |key: &str, reason: &str| Err(ProfileError::invalid(origin, key, reason));
        let sc = &self.scopes;
        if sc.response_separator.as_deref() == Some("") {
            return bad("scopes.response_separator", "must not be empty");
        }
        if let Some(s) = sc.required.iter().find(|s| !sc.default.contains(s)) {
            return bad(
                "scopes.required",
                &format!("scope {s:?} is not in scopes.default (a client asks for the defaults)"),
            );
        }
        if !sc.requestable && !sc.required.is_empty() {
            return bad(
                "scopes.required",
                "needs scopes.requestable = true (a request that names no scope cannot name these)",
            );
        }
        let t = &self.tokens;
        // What an authorization request or response already carries.
        const OAUTH_PARAMS: [&str; 11] = [
            "client_id",
            "redirect_uri",
            "response_type",
            "scope",
            "state",
            "code",
            "code_challenge",
            "code_challenge_method",
            "iss",
            "error",
            "error_description",
        ];
        for (key, params) in [
            ("tokens.refresh_token_requires", &t.refresh_token_requires),
            (
                "tokens.refresh_token_reissue_requires",
                &t.refresh_token_reissue_requires,
            ),
            ("oauth.callback_params", &self.oauth.callback_params),
        ] {
            for (name, value) in params {
                if name.is_empty() || OAUTH_PARAMS.contains(&name.as_str()) {
                    return bad(
                        key,
                        &format!(
                            "{name:?} is not a parameter of its own (empty, or an OAuth 2.0 one)"
                        ),
                    );
                }
                if value.is_empty() || value.chars().any(char::is_control) {
                    return bad(key, &format!("{name:?} needs a non-empty value"));
                }
            }
            if key != "oauth.callback_params" && !params.is_empty() && !t.refresh_tokens {
                return bad(key, "needs tokens.refresh_tokens = true");
            }
        }
        if let Some(n) = t.max_refresh_tokens_per_user {
            if n == 0 || !t.refresh_tokens {
                return bad(
                    "tokens.max_refresh_tokens_per_user",
                    "must be at least 1, with tokens.refresh_tokens = true",
                );
            }
        }
        if t.refresh_token_idle_secs.is_some() && !t.refresh_tokens {
            return bad(
                "tokens.refresh_token_idle_secs",
                "needs tokens.refresh_tokens = true",
            );
        }
        if !t.refresh_response_refresh_token && t.rotation.rotates() {
            return bad(
                "tokens.refresh_response_refresh_token",
                "a rotating refresh returns the new refresh token: needs rotation = \"off\"",
            );
        }
        if let Some(f) = &t.granted_scopes_field {
            let standard = [
                "access_token",
                "refresh_token",
                "token_type",
                "expires_in",
                "scope",
            ];
            if f.is_empty()
                || standard.contains(&f.as_str())
                || t.extra_fields.contains_key(f)
                || t.computed_fields.contains_key(f)
            {
                return bad(
                    "tokens.granted_scopes_field",
                    &format!("{f:?} must be a field of its own: not empty, standard, or in extra_fields or computed_fields"),
                );
            }
        }
        if let Some(native) = &self.native_auth {
            match (&native.key_header, native.scheme) {
                (None, NativeScheme::HeaderApiKey) => {
                    return bad(
                        "native_auth.key_header",
                        "header_api_key needs key_header (the header carrying the key)",
                    )
                }
                (Some(h), _) if h.is_empty() || !h.chars().all(is_tchar) => {
                    return bad(
                        "native_auth.key_header",
                        &format!("{h:?} is not an HTTP header name"),
                    )
                }
                (Some(h), _) if h.eq_ignore_ascii_case("authorization") => {
                    return bad(
                        "native_auth.key_header",
                        "must be a header of its own, not Authorization",
                    )
                }
                _ => {}
            }
        }
        let word = &self.api.auth_scheme;
        if word.is_empty() || !word.chars().all(is_tchar) {
            return bad(
                "api.auth_scheme",
                "must be an auth-scheme token such as \"Bearer\" (RFC 9110 §11.1)",
            );
        }
        Ok(())
    }

    /// Version headers: a header value each, and a version to put in.
    fn validate_versions(&self, origin: &str) -> Result<(), ProfileError> {
        let bad = |key: &str, reason: &str| Err(ProfileError::invalid(origin, key, reason));
        let header_value = |v: &str| !v.is_empty() && !v.chars().any(|c| c.is_control());
        if let Some(native) = &self.native_auth {
            if native.version_header.is_some() {
                if !header_value(&native.version_value) {
                    return bad(
                        "native_auth.version_value",
                        "must be a non-empty header value",
                    );
                }
                let version = native.version.as_deref().unwrap_or_default();
                if native.version_value.contains("{version}") && !header_value(version) {
                    return bad(
                        "native_auth.version",
                        "version_value has {version}: set the version clients ask for",
                    );
                }
            }
        }
        let api = &self.api;
        match (&api.current_version_header, &api.current_version) {
            (Some(_), Some(v)) if header_value(v) => Ok(()),
            (Some(_), _) => bad(
                "api.current_version",
                "current_version_header needs a current_version (a header value)",
            ),
            _ => Ok(()),
        }
    }

    fn validate_native(&self, origin: &str) -> Result<(), ProfileError> {
        let bad = |key: &str, reason: &str| Err(ProfileError::invalid(origin, key, reason));
        self.validate_versions(origin)?;
        if let Some(native) = &self.native_auth {
            if native.scheme == NativeScheme::RedtailUserKey && native.user_key_at.is_empty() {
                return bad(
                    "native_auth.user_key_at",
                    "redtail_user_key needs at least one place for the user_key",
                );
            }
            if native
                .user_key_at
                .iter()
                .any(|p| p.anchor() != Anchor::Body)
            {
                return bad(
                    "native_auth.user_key_at",
                    "must be JSON Pointers into the answer (\"/user_key\"), not record paths",
                );
            }
            match native.scheme {
                NativeScheme::RedtailUserKey => match &native.exchange_path {
                    Some(p) if p.starts_with('/') => {}
                    _ => {
                        return bad(
                            "native_auth.exchange_path",
                            "redtail_user_key needs an absolute exchange_path",
                        )
                    }
                },
                NativeScheme::ConnectwiseMemberKey if native.client_id_header.is_none() => {
                    return bad(
                        "native_auth.client_id_header",
                        "connectwise_member_key needs client_id_header",
                    )
                }
                _ => {}
            }
        }
        if let Some(paging) = &self.api.paging {
            if paging.default_size == 0 || paging.max_size < paging.default_size {
                return bad(
                    "api.paging.default_size",
                    "must be at least 1 and at most api.paging.max_size",
                );
            }
            match paging.style {
                PagingStyle::SkipTop if paging.skip_param.is_none() => {
                    return bad(
                        "api.paging.skip_param",
                        "style \"skip_top\" needs skip_param",
                    )
                }
                PagingStyle::Cursor if paging.cursor_param.is_none() => {
                    return bad(
                        "api.paging.cursor_param",
                        "style \"cursor\" needs cursor_param",
                    )
                }
                _ => {}
            }
            if paging.size_value_prefix.is_some() && !paging.size_in_header {
                return bad(
                    "api.paging.size_value_prefix",
                    "needs size_in_header = true (the prefix is of the header's value)",
                );
            }
            if paging.meta && self.api.envelope.is_none() {
                return bad("api.paging.meta", "needs api.envelope (the list's key)");
            }
            if self.api.envelope.is_none() {
                if let Some((key, _)) = paging.body_fields().first() {
                    return bad(
                        key,
                        "a field of the body needs api.envelope (a top-level array has no room for it)",
                    );
                }
            }
            for (key, value) in [
                ("api.paging.page_id_param", &paging.page_id_param),
                ("api.paging.forward_only_value", &paging.forward_only_value),
            ] {
                if paging.forward_only && value.trim().is_empty() {
                    return bad(key, "must not be empty when forward_only = true");
                }
            }
        }
        if let Some(data) = &self.api.dataset {
            if !data.template.is_object() {
                return bad("api.dataset.template", "must be a table (JSON object)");
            }
        }
        if !(self.api.empty_status == 200 || self.api.empty_status == 204) {
            return bad("api.empty_status", "must be 200 or 204");
        }
        if !(self.api.not_found_status == 404 || self.api.not_found_status == 204) {
            return bad("api.not_found_status", "must be 404 or 204");
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
