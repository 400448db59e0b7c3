//! The CRMs' own (non-OAuth) authentication schemes and the way their APIs page: what
//! integrations with four of the five CRMs really use today.

use serde::{Deserialize, Serialize};

use crate::Origin;

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
}

impl NativeScheme {
    /// The scheme's name in listings.
    pub fn as_str(self) -> &'static str {
        match self {
            NativeScheme::BearerToken => "bearer_token",
            NativeScheme::BasicApiKey => "basic_api_key",
            NativeScheme::BasicEmailApiKey => "basic_email_api_key",
            NativeScheme::RedtailUserKey => "redtail_user_key",
            NativeScheme::ConnectwiseMemberKey => "connectwise_member_key",
        }
    }
}

/// How the API resource pages its records.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Paging {
    /// Provenance of the paging behaviour.
    #[serde(flatten)]
    pub origin: Origin,
    /// Page numbers, offsets or cursors.
    pub style: PagingStyle,
    /// `page` style: the page-number query parameter (1-based).
    #[serde(default = "default_page_param")]
    pub page_param: String,
    /// `skip_top` style: the offset query parameter.
    #[serde(default)]
    pub skip_param: Option<String>,
    /// `cursor` style: the cursor query parameter.
    #[serde(default)]
    pub cursor_param: Option<String>,
    /// The page-size parameter (`perPage`, `pageSize`, `top`, `page_size`, `pagesize`).
    pub size_param: String,
    /// The page size is a request header, not a query parameter (Redtail `pagesize`).
    #[serde(default)]
    pub size_in_header: bool,
    /// Page size when none is asked for.
    pub default_size: u32,
    /// Largest page size; larger requests are clamped (or rejected, see `reject_oversize`).
    pub max_size: u32,
    /// Answer 400 to a page size over `max_size` instead of clamping it.
    #[serde(default)]
    pub reject_oversize: bool,
    /// Send an RFC 8288 `Link` header with `rel="next"`/`"prev"`/`"first"`/`"last"`.
    #[serde(default)]
    pub link_header: bool,
    /// Header telling whether more pages follow (`X-Pagination-Has-More`).
    #[serde(default)]
    pub has_more_header: Option<String>,
    /// Header with the total record count (`X-Total-Count`).
    #[serde(default)]
    pub total_header: Option<String>,
    /// Query flag that asks for `total_header` (`count_total=true`); without it the header is
    /// always sent.
    #[serde(default)]
    pub total_param: Option<String>,
    /// Wrap lists as `{envelope: [...], "meta": {"total_records", "total_pages"}}` (Redtail).
    #[serde(default)]
    pub meta: bool,
    /// ConnectWise forward-only mode: request header `pagination-type: forward-only` and
    /// `pageId` query parameter.
    #[serde(default)]
    pub forward_only: bool,
}

fn default_page_param() -> String {
    "page".to_owned()
}

/// Paging styles.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PagingStyle {
    /// `?page=N&<size>=M`, 1-based.
    Page,
    /// `?skip=N&top=M` offsets (Insightly).
    SkipTop,
    /// `?page_size=M&cursor=C`; the cursor for the next page rides on the last record and the
    /// total count on the first (Agile CRM).
    Cursor,
}

/// A generated, deterministic data set served by the API resource.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Dataset {
    /// How many records to generate.
    pub count: u32,
    /// Field holding the numeric record id.
    pub id_field: String,
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
