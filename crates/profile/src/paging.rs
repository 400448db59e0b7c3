//! How an API pages its lists, as data both sides read: the mock to page, the client to walk.
//!
//! A paging style says how a request names the page it wants (a page number, an offset, a
//! cursor); everything else is a name or a place: the parameters and headers a request
//! carries, and where a response says what comes next ([`FieldPath`]: a field of the body or
//! of the first or last record, a header). A CRM whose lists page like one of the styles
//! below is a profile, not code.

use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::Origin;

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
    /// With `size_in_header`: the size is written after this prefix, as one comma-separated
    /// element of the header (Dynamics `Prefer: odata.maxpagesize=50`); none by default (the
    /// header's value is the size).
    #[serde(default)]
    pub size_value_prefix: Option<String>,
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
    /// The body carries the totals: the page count at `total_pages_at` and the record count
    /// at `total_records_at` (Redtail's `{"contacts": [...], "meta": {...}}`).
    #[serde(default)]
    pub meta: bool,
    /// Where the page count sits (`meta = true`): `/meta/total_pages` by default.
    #[serde(default = "default_total_pages_at")]
    pub total_pages_at: FieldPath,
    /// Where the record count sits (`meta = true`): `/meta/total_records` by default.
    #[serde(default = "default_total_records_at")]
    pub total_records_at: FieldPath,
    /// `cursor` style: where the next page's cursor sits; absent on the last page. Agile CRM:
    /// on the last record (`last_record/cursor`, the default).
    #[serde(default = "default_cursor_at")]
    pub cursor_at: FieldPath,
    /// `cursor` style: where the total record count sits. Agile CRM: on the first record
    /// (`first_record/count`, the default).
    #[serde(default = "default_count_at")]
    pub count_at: FieldPath,
    /// `cursor` style: whether the total count is sent at `count_at` (default `true`);
    /// HubSpot's lists carry none.
    #[serde(default = "default_true")]
    pub count: bool,
    /// `skip_top` style: where the body gives the next page's offset, absent on the last
    /// page (Pipedrive `/additional_data/pagination/next_start`); none by default. A client
    /// counts the offset itself.
    #[serde(default)]
    pub next_skip_at: Option<FieldPath>,
    /// Where the body says whether more pages follow (`true`/`false`), if it does
    /// (Zoho `/info/more_records`, Pipedrive
    /// `/additional_data/pagination/more_items_in_collection`).
    #[serde(default)]
    pub has_more_at: Option<FieldPath>,
    /// Where the body gives the next page's URL, absent on the last page, if it does
    /// (Salesforce `/nextRecordsUrl`, Dynamics `/@odata.nextLink`).
    #[serde(default)]
    pub next_url_at: Option<FieldPath>,
    /// Where the body says `true` on the last page and `false` before it, if it does
    /// (Salesforce `/done`): the inverse of `has_more_at`.
    #[serde(default)]
    pub done_at: Option<FieldPath>,
    /// Where the body gives the whole list's record count on every page, whatever `meta`
    /// says (Salesforce `/totalSize`).
    #[serde(default)]
    pub record_count_at: Option<FieldPath>,
    /// ConnectWise forward-only mode: asked for with the request header
    /// `forward_only_header: forward_only_value`; pages are then addressed by `page_id_param`
    /// (the last id of the page before), in `Link` `rel="next"` only.
    #[serde(default)]
    pub forward_only: bool,
    /// Forward-only: the request header asking for it (`pagination-type`).
    #[serde(default = "default_forward_only_header")]
    pub forward_only_header: String,
    /// Forward-only: that header's value (`forward-only`), compared case-insensitively.
    #[serde(default = "default_forward_only_value")]
    pub forward_only_value: String,
    /// Forward-only: the query parameter naming where the next page starts (`pageId`).
    #[serde(default = "default_page_id_param")]
    pub page_id_param: String,
}

/// Header names a client reads even when the profile names none: the common conventions for
/// "more pages follow" and "total count".
const CONVENTIONAL_HAS_MORE_HEADER: &str = "x-pagination-has-more";
const CONVENTIONAL_TOTAL_HEADER: &str = "x-total-count";

impl Paging {
    /// The page size a request header carries: the whole value, or with
    /// `size_value_prefix` the comma-separated element after it (`odata.maxpagesize=50`);
    /// `None` when the header has no such element.
    pub fn size_from_header<'a>(&self, value: &'a str) -> Option<&'a str> {
        match &self.size_value_prefix {
            None => Some(value.trim()),
            Some(prefix) => value
                .split(',')
                .map(str::trim)
                .find_map(|e| e.strip_prefix(prefix.as_str()))
                .map(str::trim),
        }
    }

    /// The header value asking for `size` records a page.
    pub fn size_header_value(&self, size: u32) -> String {
        match &self.size_value_prefix {
            None => size.to_string(),
            Some(prefix) => format!("{prefix}{size}"),
        }
    }

    /// The offset parameter of `skip_top` style (validated to be set for that style).
    pub fn skip_param(&self) -> &str {
        self.skip_param.as_deref().unwrap_or("skip")
    }

    /// The cursor parameter of `cursor` style (validated to be set for that style).
    pub fn cursor_param(&self) -> &str {
        self.cursor_param.as_deref().unwrap_or("cursor")
    }

    /// The header a client reads for "more pages follow": `has_more_header`, else the
    /// conventional `X-Pagination-Has-More`.
    pub fn has_more_header_read(&self) -> &str {
        self.has_more_header
            .as_deref()
            .unwrap_or(CONVENTIONAL_HAS_MORE_HEADER)
    }

    /// The header a client reads for the total count: `total_header`, else the conventional
    /// `X-Total-Count`.
    pub fn total_header_read(&self) -> &str {
        self.total_header
            .as_deref()
            .unwrap_or(CONVENTIONAL_TOTAL_HEADER)
    }

    /// Every query parameter this paging reads, in a fixed order (to refuse duplicates).
    pub fn query_params(&self) -> Vec<&str> {
        [
            Some(self.page_param.as_str()),
            self.skip_param.as_deref(),
            self.cursor_param.as_deref(),
            (!self.size_in_header).then_some(self.size_param.as_str()),
            self.total_param.as_deref(),
            self.forward_only.then_some(self.page_id_param.as_str()),
        ]
        .into_iter()
        .flatten()
        .collect()
    }

    /// The response fields the mock writes into the body, outside the records: each must
    /// have a place, so a list with them needs `api.envelope`.
    pub(crate) fn body_fields(&self) -> Vec<(&'static str, &FieldPath)> {
        let mut out = Vec::new();
        if self.meta {
            out.push(("api.paging.total_pages_at", &self.total_pages_at));
            out.push(("api.paging.total_records_at", &self.total_records_at));
        }
        if self.style == PagingStyle::Cursor {
            out.push(("api.paging.cursor_at", &self.cursor_at));
            if self.count {
                out.push(("api.paging.count_at", &self.count_at));
            }
        }
        if let (PagingStyle::SkipTop, Some(f)) = (self.style, &self.next_skip_at) {
            out.push(("api.paging.next_skip_at", f));
        }
        if let Some(f) = &self.has_more_at {
            out.push(("api.paging.has_more_at", f));
        }
        if let Some(f) = &self.next_url_at {
            out.push(("api.paging.next_url_at", f));
        }
        if let Some(f) = &self.done_at {
            out.push(("api.paging.done_at", f));
        }
        if let Some(f) = &self.record_count_at {
            out.push(("api.paging.record_count_at", f));
        }
        out.retain(|(_, f)| f.anchor() == Anchor::Body);
        out
    }
}

fn default_true() -> bool {
    true
}
fn default_page_param() -> String {
    "page".to_owned()
}
fn default_forward_only_header() -> String {
    "pagination-type".to_owned()
}
fn default_forward_only_value() -> String {
    "forward-only".to_owned()
}
fn default_page_id_param() -> String {
    "pageId".to_owned()
}
fn default_path(text: &str) -> FieldPath {
    FieldPath::parse(text).expect("the default paths parse")
}
fn default_total_pages_at() -> FieldPath {
    default_path("/meta/total_pages")
}
fn default_total_records_at() -> FieldPath {
    default_path("/meta/total_records")
}
fn default_cursor_at() -> FieldPath {
    default_path("last_record/cursor")
}
fn default_count_at() -> FieldPath {
    default_path("first_record/count")
}

/// Paging styles: how a request names the page it wants.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PagingStyle {
    /// `?page=N&<size>=M`, 1-based.
    Page,
    /// `?skip=N&top=M` offsets (Insightly).
    SkipTop,
    /// `?page_size=M&cursor=C`; the cursor for the next page sits at `cursor_at` (Agile CRM:
    /// on the last record, the total count on the first).
    Cursor,
}

/// What a [`FieldPath`] starts from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Anchor {
    /// The response body (`/meta/total_pages`).
    Body,
    /// The first record of the page (`first_record/count`).
    FirstRecord,
    /// The last record of the page (`last_record/cursor`).
    LastRecord,
}

/// Where a value sits in a JSON response: a JSON Pointer (RFC 6901) into the body
/// (`/meta/total_pages`, `/paging/next/after`, `/@odata.nextLink`), or into the first or
/// last record of a page (`first_record/count`, `last_record/cursor`). Written in a profile
/// as that string.
///
/// ```
/// use handshake_profile::{Anchor, FieldPath};
/// use serde_json::json;
///
/// let after = FieldPath::parse("/paging/next/after").unwrap();
/// let body = json!({"results": [], "paging": {"next": {"after": "2"}}});
/// assert_eq!(after.get(&body, &[]), Some(&json!("2")));
///
/// let cursor = FieldPath::parse("last_record/cursor").unwrap();
/// assert_eq!(cursor.anchor(), Anchor::LastRecord);
/// let records = [json!({"id": 1}), json!({"id": 2, "cursor": "c2"})];
/// assert_eq!(cursor.get(&json!(records), &records), Some(&json!("c2")));
///
/// let mut written = json!({});
/// after.set_in(&mut written, json!("3"));
/// assert_eq!(written, json!({"paging": {"next": {"after": "3"}}}));
/// ```
#[derive(Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct FieldPath {
    anchor: Anchor,
    /// The pointer's reference tokens, unescaped (`~1` → `/`, `~0` → `~`).
    tokens: Vec<String>,
    text: String,
}

impl FieldPath {
    /// Parses `/a/b`, `first_record/a` or `last_record/a`: at least one reference token, each
    /// non-empty.
    pub fn parse(text: &str) -> Result<FieldPath, String> {
        let (anchor, pointer) = if let Some(rest) = text.strip_prefix("first_record") {
            (Anchor::FirstRecord, rest)
        } else if let Some(rest) = text.strip_prefix("last_record") {
            (Anchor::LastRecord, rest)
        } else {
            (Anchor::Body, text)
        };
        let Some(pointer) = pointer.strip_prefix('/') else {
            return Err(format!(
                "{text:?} is not a field path: a JSON Pointer such as \"/meta/total_pages\", or \"first_record/<pointer>\" or \"last_record/<pointer>\""
            ));
        };
        let mut tokens = Vec::new();
        for raw in pointer.split('/') {
            if raw.is_empty() {
                return Err(format!("{text:?} has an empty segment"));
            }
            let mut token = String::with_capacity(raw.len());
            let mut chars = raw.chars();
            while let Some(c) = chars.next() {
                match (c, c == '~') {
                    (_, false) => token.push(c),
                    (_, true) => match chars.next() {
                        Some('0') => token.push('~'),
                        Some('1') => token.push('/'),
                        _ => {
                            return Err(format!(
                                "{text:?}: '~' must be followed by 0 or 1 (RFC 6901 §3)"
                            ))
                        }
                    },
                }
            }
            tokens.push(token);
        }
        Ok(FieldPath {
            anchor,
            tokens,
            text: text.to_owned(),
        })
    }

    /// What the path starts from.
    pub fn anchor(&self) -> Anchor {
        self.anchor
    }

    /// The pointer's reference tokens, unescaped.
    pub fn tokens(&self) -> &[String] {
        &self.tokens
    }

    /// The path as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The value at this path in a response whose body is `body` and whose records (of this
    /// page) are `records`.
    pub fn get<'a>(&self, body: &'a Value, records: &'a [Value]) -> Option<&'a Value> {
        let start = match self.anchor {
            Anchor::Body => body,
            Anchor::FirstRecord => records.first()?,
            Anchor::LastRecord => records.last()?,
        };
        self.get_in(start)
    }

    /// The value at this path's pointer inside `target` (the anchor is the caller's choice).
    /// Array elements are addressed by index.
    pub fn get_in<'a>(&self, target: &'a Value) -> Option<&'a Value> {
        self.tokens.iter().try_fold(target, |v, t| match v {
            Value::Object(map) => map.get(t),
            Value::Array(items) => items.get(t.parse::<usize>().ok()?),
            _ => None,
        })
    }

    /// Writes `value` at this path's pointer inside `target` (the anchor is the caller's
    /// choice), making the objects on the way. Returns `false`, writing nothing, when a
    /// value that is not an object is in the way.
    pub fn set_in(&self, target: &mut Value, value: Value) -> bool {
        let Some((last, path)) = self.tokens.split_last() else {
            return false;
        };
        let mut at = target;
        for t in path {
            let Value::Object(map) = at else {
                return false;
            };
            at = map
                .entry(t.clone())
                .or_insert_with(|| Value::Object(Default::default()));
        }
        match at {
            Value::Object(map) => {
                map.insert(last.clone(), value);
                true
            }
            _ => false,
        }
    }
}

impl fmt::Debug for FieldPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "FieldPath({:?})", self.text)
    }
}

impl fmt::Display for FieldPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl TryFrom<String> for FieldPath {
    type Error = String;
    fn try_from(text: String) -> Result<Self, String> {
        FieldPath::parse(&text)
    }
}

impl From<FieldPath> for String {
    fn from(p: FieldPath) -> String {
        p.text
    }
}

impl std::str::FromStr for FieldPath {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        FieldPath::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn paths_parse_and_print_back() {
        for text in [
            "/meta/total_pages",
            "/@odata.nextLink",
            "/a~1b/c~0d",
            "first_record/count",
            "last_record/cursor",
        ] {
            let p = FieldPath::parse(text).unwrap();
            assert_eq!(p.as_str(), text);
            assert_eq!(String::from(p), text);
        }
        let p = FieldPath::parse("/a~1b/c~0d").unwrap();
        assert_eq!(p.tokens(), ["a/b", "c~d"]);
        for bad in [
            "",
            "/",
            "meta",
            "/a//b",
            "first_record",
            "last_recordx/a",
            "/a~2",
        ] {
            assert!(FieldPath::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn get_and_set_follow_the_pointer() {
        let p = FieldPath::parse("/info/more_records").unwrap();
        let mut body = json!({"data": [1], "info": {"count": 1}});
        assert!(p.set_in(&mut body, json!(false)));
        assert_eq!(
            body,
            json!({"data": [1], "info": {"count": 1, "more_records": false}})
        );
        assert_eq!(p.get(&body, &[]), Some(&json!(false)));
        let first = FieldPath::parse("/data/0").unwrap();
        assert_eq!(first.get(&body, &[]), Some(&json!(1)));
        // A value in the way is not overwritten.
        assert!(!FieldPath::parse("/data/x")
            .unwrap()
            .set_in(&mut body, json!(1)));
        let on_first = FieldPath::parse("first_record/count").unwrap();
        assert_eq!(on_first.get(&body, &[]), None);
        assert_eq!(
            on_first.get(&body, &[json!({"count": 3}), json!({})]),
            Some(&json!(3))
        );
    }
}
