//! The request journal: bounded in entries and in bytes, and cheap on the request path.
//!
//! On the request path the journal layer copies what an entry needs into one [`Captured`]
//! record (one byte buffer and one small index), each value cut to
//! [`JOURNAL_VALUE_BYTES`](crate::limits::JOURNAL_VALUE_BYTES): no percent-decoding, no
//! redaction, no hashing, and nothing kept that points into hyper's read buffers. Decoding,
//! redaction and the SHA-256 tags are done when the journal is read, and give exactly what
//! redacting on arrival would have given. Values that must be cut are the exception: their
//! redaction is decided on arrival, from the whole value, so a cut can never leave part of a
//! secret behind nor change a token's tag.

use std::collections::VecDeque;
use std::sync::Mutex;

use axum::http::{HeaderMap, Uri};
use handshake_profile::{ClientAuth, TokenEncoding, REDACTED};

use crate::limits::{
    JOURNAL_BODY_BYTES, JOURNAL_BYTES, JOURNAL_ENTRIES, JOURNAL_ENTRY_BYTES, JOURNAL_FIELDS,
    JOURNAL_PATH_BYTES, JOURNAL_VALUE_BYTES,
};
use crate::params;
use crate::sync::lock;
use crate::types::{Endpoint, JournalEntry, Relaxation};

/// Parameter names whose values are secrets: journaled as `[redacted]`.
const SECRET_KEYS: &[&str] = &[
    "client_secret",
    "code_verifier",
    "password",
    "client_assertion",
    "api_key",
    "apikey",
    "private_key",
    "user_key",
    "personal_access_token",
];
/// Parameter names whose values are codes or tokens: journaled as a short tag.
const TOKEN_KEYS: &[&str] = &[
    "code",
    "access_token",
    "refresh_token",
    "token",
    "id_token",
    "code_challenge",
    "consent_id",
];

/// A note the handler leaves for the request's journal entry (a response extension), e.g.
/// that issuing a grant evicted an older one.
#[derive(Debug, Clone)]
pub(crate) struct Note(pub(crate) String);

/// The journal: the most recent entries, at most [`JOURNAL_ENTRIES`] of them and at most
/// [`JOURNAL_BYTES`] in all.
///
/// Entries are kept serialized, back to back, in one circular byte buffer allocated once:
/// recording copies a few hundred bytes to the end and evicting moves the start, so the
/// request path neither keeps allocations alive for thousands of requests nor frees cold
/// ones (which is what made an owned-struct journal the mock's largest per-request cost).
#[derive(Default)]
pub(crate) struct Journal {
    ring: Mutex<Ring>,
}

#[derive(Default)]
struct Ring {
    /// [`JOURNAL_BYTES`] once the first entry arrives.
    data: Vec<u8>,
    /// Offset of the oldest record.
    head: usize,
    /// Bytes of `data` the records take, from `head` on (wrapping).
    used: usize,
    /// Per record, oldest first: its `seq` and serialized length.
    index: VecDeque<(u64, u32)>,
}

impl Ring {
    fn push(&mut self, seq: u64, bytes: &[u8]) {
        if self.data.is_empty() {
            self.data = vec![0; JOURNAL_BYTES];
        }
        let cap = self.data.len();
        if bytes.len() > cap {
            return; // cannot happen: an entry is bounded far below the journal
        }
        while self.index.len() >= JOURNAL_ENTRIES || self.used + bytes.len() > cap {
            let Some((_, len)) = self.index.pop_front() else {
                break;
            };
            self.head = (self.head + len as usize) % cap;
            self.used -= len as usize;
        }
        let at = (self.head + self.used) % cap;
        let first = bytes.len().min(cap - at);
        self.data[at..at + first].copy_from_slice(&bytes[..first]);
        self.data[..bytes.len() - first].copy_from_slice(&bytes[first..]);
        self.used += bytes.len();
        self.index.push_back((seq, bytes.len() as u32));
    }

    /// Copies out the records whose seq `keep` picks, oldest first.
    fn copy(&self, keep: impl Fn(u64) -> bool) -> Vec<Vec<u8>> {
        let cap = self.data.len();
        let mut at = self.head;
        let mut out = Vec::new();
        for &(seq, len) in &self.index {
            let len = len as usize;
            if keep(seq) {
                let mut r = Vec::with_capacity(len);
                let first = len.min(cap - at);
                r.extend_from_slice(&self.data[at..at + first]);
                r.extend_from_slice(&self.data[..len - first]);
                out.push(r);
            }
            at = (at + len) % cap;
        }
        out
    }
}

impl Journal {
    /// Adds an entry, evicting the oldest ones beyond the bounds. The entry is serialized
    /// before the lock is taken; under it, only its bytes are copied.
    pub(crate) fn record(&self, entry: JournalEntry, raw: Captured) {
        let bytes = encode(&entry, &raw);
        lock(&self.ring).push(entry.seq, &bytes);
    }

    /// Every entry kept, oldest first, decoded and redacted.
    pub(crate) fn entries(&self, secrets: &[String]) -> Vec<JournalEntry> {
        self.decoded(|_| true, secrets)
    }

    /// The entries kept whose `seq` is greater than `since`, oldest first, decoded and
    /// redacted; only those are decoded.
    pub(crate) fn entries_since(&self, since: u64, secrets: &[String]) -> Vec<JournalEntry> {
        self.decoded(|seq| seq > since, secrets)
    }

    /// The entries kept that `keep` picks, oldest first: copied under the lock, decoded
    /// after it.
    fn decoded(&self, keep: impl Fn(u64) -> bool, secrets: &[String]) -> Vec<JournalEntry> {
        let copied = lock(&self.ring).copy(keep);
        let mut out: Vec<JournalEntry> = copied
            .iter()
            .filter_map(|bytes| {
                let (mut e, raw) = decode_record(bytes)?;
                raw.fill(&mut e, secrets);
                Some(e)
            })
            .collect();
        out.sort_by_key(|e| e.seq);
        out
    }

    /// Bytes held (for tests of the bound).
    #[cfg(test)]
    fn bytes(&self) -> usize {
        lock(&self.ring).used
    }

    pub(crate) fn clear(&self) {
        let mut ring = lock(&self.ring);
        ring.head = 0;
        ring.used = 0;
        ring.index.clear();
    }
}

// ------------------------------------------------------------------ record encoding
//
// A record: fixed fields, then length-prefixed strings (u32::MAX for `None`), the notes,
// the captured items and the captured bytes. Little-endian throughout; written and read
// only by this module.

const NONE: u32 = u32::MAX;

fn endpoint_code(e: Option<Endpoint>) -> u8 {
    match e {
        None => 0,
        Some(Endpoint::Authorize) => 1,
        Some(Endpoint::Token) => 2,
        Some(Endpoint::Revoke) => 3,
        Some(Endpoint::Api) => 4,
    }
}

fn relaxation_code(r: Option<Relaxation>) -> u8 {
    r.map_or(0, |r| {
        Relaxation::ALL
            .iter()
            .position(|x| *x == r)
            .map_or(0, |i| i as u8 + 1)
    })
}

fn encode(e: &JournalEntry, raw: &Captured) -> Vec<u8> {
    let strings = e.method.len()
        + e.path.len()
        + [&e.auth_mode, &e.error, &e.error_description, &e.user]
            .iter()
            .map(|s| s.as_ref().map_or(0, String::len))
            .sum::<usize>()
        + e.notes.iter().map(String::len).sum::<usize>();
    let mut out = Vec::with_capacity(
        64 + strings + 4 * (8 + e.notes.len()) + raw.items.len() * 18 + raw.buf.len(),
    );
    out.extend_from_slice(&e.seq.to_le_bytes());
    out.push(endpoint_code(e.endpoint));
    out.extend_from_slice(&e.status.to_le_bytes());
    out.push(relaxation_code(e.requirement));
    out.push(match raw.basic {
        None => 0,
        Some(false) => 1,
        Some(true) => 2,
    });
    out.push(u8::from(raw.no_client_auth));
    for n in raw.kept.iter().chain(&raw.dropped) {
        out.extend_from_slice(&n.to_le_bytes());
    }
    let body_unkept = u32::try_from(raw.body_unkept).unwrap_or(u32::MAX);
    out.extend_from_slice(&body_unkept.to_le_bytes());
    let put = |out: &mut Vec<u8>, s: Option<&[u8]>| match s {
        Some(s) => {
            out.extend_from_slice(&(s.len() as u32).to_le_bytes());
            out.extend_from_slice(s);
        }
        None => out.extend_from_slice(&NONE.to_le_bytes()),
    };
    put(&mut out, Some(e.method.as_bytes()));
    put(&mut out, Some(e.path.as_bytes()));
    for s in [&e.auth_mode, &e.error, &e.error_description, &e.user] {
        put(&mut out, s.as_deref().map(str::as_bytes));
    }
    out.extend_from_slice(&(e.notes.len() as u32).to_le_bytes());
    for n in &e.notes {
        put(&mut out, Some(n.as_bytes()));
    }
    out.extend_from_slice(&(raw.items.len() as u32).to_le_bytes());
    for it in &raw.items {
        out.push(it.part as u8);
        out.push(it.form as u8);
        for n in [it.key.0, it.key.1, it.val.0, it.val.1] {
            out.extend_from_slice(&n.to_le_bytes());
        }
    }
    put(&mut out, Some(&raw.buf));
    out
}

/// Reads a record back; `None` only for bytes `encode` did not write.
fn decode_record(bytes: &[u8]) -> Option<(JournalEntry, Captured)> {
    struct Reader<'a>(&'a [u8]);
    impl<'a> Reader<'a> {
        fn take(&mut self, n: usize) -> Option<&'a [u8]> {
            if self.0.len() < n {
                return None;
            }
            let (a, b) = self.0.split_at(n);
            self.0 = b;
            Some(a)
        }
        fn u8(&mut self) -> Option<u8> {
            Some(self.take(1)?[0])
        }
        fn u16(&mut self) -> Option<u16> {
            Some(u16::from_le_bytes(self.take(2)?.try_into().ok()?))
        }
        fn u32(&mut self) -> Option<u32> {
            Some(u32::from_le_bytes(self.take(4)?.try_into().ok()?))
        }
        fn u64(&mut self) -> Option<u64> {
            Some(u64::from_le_bytes(self.take(8)?.try_into().ok()?))
        }
        fn bytes(&mut self) -> Option<Option<&'a [u8]>> {
            match self.u32()? {
                NONE => Some(None),
                n => Some(Some(self.take(n as usize)?)),
            }
        }
        fn string(&mut self) -> Option<Option<String>> {
            Some(self.bytes()?.map(lossy))
        }
    }
    let mut r = Reader(bytes);
    let seq = r.u64()?;
    let endpoint = match r.u8()? {
        1 => Some(Endpoint::Authorize),
        2 => Some(Endpoint::Token),
        3 => Some(Endpoint::Revoke),
        4 => Some(Endpoint::Api),
        _ => None,
    };
    let status = r.u16()?;
    let requirement = match r.u8()? {
        0 => None,
        i => Relaxation::ALL.get(usize::from(i) - 1).copied(),
    };
    let basic = match r.u8()? {
        1 => Some(false),
        2 => Some(true),
        _ => None,
    };
    let no_client_auth = r.u8()? == 1;
    let mut counts = [0u32; 6];
    for c in &mut counts {
        *c = r.u32()?;
    }
    let body_unkept = r.u32()? as usize;
    let method = r.string()?.unwrap_or_default();
    let path = r.string()?.unwrap_or_default();
    let auth_mode = r.string()?;
    let error = r.string()?;
    let error_description = r.string()?;
    let user = r.string()?;
    let notes = (0..r.u32()?)
        .map(|_| r.string().map(Option::unwrap_or_default))
        .collect::<Option<Vec<_>>>()?;
    let items = (0..r.u32()?)
        .map(|_| {
            let part = match r.u8()? {
                0 => Part::Query,
                1 => Part::Header,
                2 => Part::Param,
                _ => Part::JsonBody,
            };
            let form = match r.u8()? {
                0 => Form::Encoded,
                1 => Form::Text,
                _ => Form::Final,
            };
            Some(Item {
                part,
                form,
                key: (r.u32()?, r.u32()?),
                val: (r.u32()?, r.u32()?),
            })
        })
        .collect::<Option<Vec<_>>>()?;
    let buf = r.bytes()?.unwrap_or_default().to_vec();
    let entry = JournalEntry {
        seq,
        endpoint,
        method,
        path,
        status,
        auth_mode,
        error,
        error_description,
        requirement,
        user,
        notes,
        ..JournalEntry::default()
    };
    let raw = Captured {
        buf,
        items,
        kept: [counts[0], counts[1], counts[2]],
        dropped: [counts[3], counts[4], counts[5]],
        body_unkept,
        basic,
        no_client_auth,
    };
    Some((entry, raw))
}

/// One entry decoded and redacted exactly as [`Journal::entries`] gives it, for the live
/// feed (`live.rs`), which gets it before the journal keeps it.
pub(crate) fn decoded(entry: &JournalEntry, raw: &Captured, secrets: &[String]) -> JournalEntry {
    let mut e = entry.clone();
    raw.fill(&mut e, secrets);
    e
}

/// The entry of a request before its query, headers and body are decoded.
pub(crate) fn entry(
    seq: u64,
    endpoint: Option<Endpoint>,
    method: &str,
    path: &str,
) -> JournalEntry {
    JournalEntry {
        seq,
        endpoint,
        method: method.to_owned(),
        path: cut_text(path, JOURNAL_PATH_BYTES),
        ..JournalEntry::default()
    }
}

/// Where a captured field goes.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Part {
    Query = 0,
    Header = 1,
    Param = 2,
    /// A JSON body kept whole, decoded into `params` when read.
    JsonBody = 3,
}

/// How a captured field's bytes are stored.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Form {
    /// As received in a query string or form body: still percent-encoded.
    Encoded,
    /// Plain text (header values, decoded JSON fields).
    Text,
    /// The value is already redacted (decided on arrival, from the whole value).
    Final,
}

#[derive(Clone, Copy)]
struct Item {
    part: Part,
    form: Form,
    key: (u32, u32),
    val: (u32, u32),
}

/// A request's query, headers and body, copied and cut on arrival, decoded when read.
#[derive(Clone, Default)]
pub(crate) struct Captured {
    buf: Vec<u8>,
    items: Vec<Item>,
    /// Fields kept (query, headers, params) and left out for the per-entry bounds.
    kept: [u32; 3],
    dropped: [u32; 3],
    /// Body bytes when the body was not kept (a JSON body longer than
    /// [`JOURNAL_BODY_BYTES`] that does not parse).
    body_unkept: usize,
    /// Whether `Authorization` held a Basic attempt, when its value had to be cut.
    basic: Option<bool>,
    /// API requests: Basic is a native credential, not OAuth client authentication.
    no_client_auth: bool,
}

impl Captured {
    /// Captures the query string and the headers (tests; the journal layer names the key
    /// header, `request_with_key`).
    #[cfg(test)]
    pub(crate) fn request(uri: &Uri, headers: &HeaderMap, secrets: &[String]) -> Captured {
        Captured::request_with_key(uri, headers, secrets, None)
    }

    /// Captures the query string and the headers, with the header a native key rides in (Pipedrive's
    /// `x-api-token`): its value is kept as a tag only, whatever key it holds.
    pub(crate) fn request_with_key(
        uri: &Uri,
        headers: &HeaderMap,
        secrets: &[String],
        key_header: Option<&str>,
    ) -> Captured {
        let query = uri.query().unwrap_or("").as_bytes();
        let header_bytes: usize = headers
            .iter()
            .map(|(k, v)| k.as_str().len() + v.len().min(JOURNAL_VALUE_BYTES + 32))
            .sum();
        let mut c = Captured {
            buf: Vec::with_capacity((query.len() + header_bytes + 64).min(JOURNAL_ENTRY_BYTES)),
            items: Vec::with_capacity(
                headers.len().min(JOURNAL_FIELDS)
                    + query
                        .iter()
                        .filter(|&&b| b == b'&')
                        .count()
                        .min(JOURNAL_FIELDS)
                    + 1,
            ),
            ..Captured::default()
        };
        c.encoded_pairs(Part::Query, query, secrets);
        for (name, value) in headers {
            if key_header.is_some_and(|k| name.as_str().eq_ignore_ascii_case(k)) {
                let tag = params::tag(&String::from_utf8_lossy(value.as_bytes()));
                if c.admit(Part::Header, name.as_str().len() + tag.len()) {
                    c.push(
                        Part::Header,
                        Form::Final,
                        name.as_str().as_bytes(),
                        tag.as_bytes(),
                    );
                }
                continue;
            }
            c.header(name.as_str(), value.as_bytes(), secrets);
        }
        c
    }

    /// Captures the body's fields, for a form or JSON body.
    pub(crate) fn body(
        &mut self,
        encoding: Option<TokenEncoding>,
        body: &[u8],
        secrets: &[String],
    ) {
        match encoding {
            Some(TokenEncoding::Form) => self.encoded_pairs(Part::Param, body, secrets),
            Some(TokenEncoding::Json) if body.len() <= JOURNAL_BODY_BYTES => {
                if self.room(body.len()) {
                    let val = self.put(body);
                    self.items.push(Item {
                        part: Part::JsonBody,
                        form: Form::Text,
                        key: (0, 0),
                        val,
                    });
                } else {
                    self.body_unkept = body.len();
                }
            }
            Some(TokenEncoding::Json) => {
                // Rare (a hostile or broken client): decoded now, each field cut on arrival.
                match params::parse_json_object(body) {
                    Ok(p) => {
                        for (k, v) in p.0 {
                            self.text_pair(Part::Param, k.as_bytes(), v.as_bytes(), secrets);
                        }
                    }
                    Err(_) => self.body_unkept = body.len(),
                }
            }
            None => {}
        }
    }

    /// Marks the request as an API call: `client_auth` stays `None`.
    pub(crate) fn no_client_auth(&mut self) {
        self.no_client_auth = true;
    }

    fn room(&self, more: usize) -> bool {
        self.buf.len() + more <= JOURNAL_ENTRY_BYTES
    }

    fn put(&mut self, bytes: &[u8]) -> (u32, u32) {
        let start = self.buf.len();
        self.buf.extend_from_slice(bytes);
        // The buffer never exceeds JOURNAL_ENTRY_BYTES (plus one marker), far below u32::MAX.
        (start as u32, self.buf.len() as u32)
    }

    fn push(&mut self, part: Part, form: Form, key: &[u8], val: &[u8]) {
        let key = self.put(key);
        let val = self.put(val);
        self.items.push(Item {
            part,
            form,
            key,
            val,
        });
    }

    /// Whether a field fits the per-entry bounds; counts it as dropped when not.
    fn admit(&mut self, part: Part, bytes: usize) -> bool {
        let i = part as usize;
        if (self.kept[i] as usize) < JOURNAL_FIELDS && self.room(bytes) {
            self.kept[i] += 1;
            return true;
        }
        self.dropped[i] += 1;
        false
    }

    fn encoded_pairs(&mut self, part: Part, input: &[u8], secrets: &[String]) {
        for (k, v) in params::encoded_pairs(input) {
            let key = cut_encoded(k);
            let key = key.as_ref();
            if v.len() <= JOURNAL_VALUE_BYTES {
                if self.admit(part, key.len() + v.len()) {
                    self.push(part, Form::Encoded, key, v);
                }
                continue;
            }
            // Cut: decide the redaction now, from the whole value.
            let name = decode_lossy(k);
            let full = decode_lossy(v);
            let (form, val) = match redact_whole(&name, &full, secrets) {
                Some(r) => (Form::Final, r.into_bytes()),
                None => (Form::Encoded, cut_encoded(v).into_owned()),
            };
            if self.admit(part, key.len() + val.len()) {
                self.push(part, form, key, &val);
            }
        }
    }

    /// A field already decoded (a JSON body over the keep limit).
    fn text_pair(&mut self, part: Part, k: &[u8], v: &[u8], secrets: &[String]) {
        let mut key = cut_text_bytes(k);
        let (form, val) = if v.len() <= JOURNAL_VALUE_BYTES {
            (Form::Text, v.to_vec())
        } else {
            let name = String::from_utf8_lossy(k);
            let full = String::from_utf8_lossy(v);
            match redact_whole(&name, &full, secrets) {
                Some(r) => {
                    // Final values have encoded keys.
                    key = url::form_urlencoded::byte_serialize(&key)
                        .flat_map(str::bytes)
                        .collect();
                    (Form::Final, r.into_bytes())
                }
                None => (Form::Text, cut_text_bytes(v)),
            }
        };
        if self.admit(part, key.len() + val.len()) {
            self.push(part, form, &key, &val);
        }
    }

    fn header(&mut self, name: &str, value: &[u8], secrets: &[String]) {
        let (form, val) = if value.len() <= JOURNAL_VALUE_BYTES {
            (Form::Text, std::borrow::Cow::Borrowed(value))
        } else {
            let full = String::from_utf8_lossy(value);
            if name == "authorization" && self.basic.is_none() {
                self.basic = Some(params::parse_basic(value).is_some());
            }
            let redacted = redact_header(name, &full)
                .or_else(|| contains_secret(&full, secrets).then(|| REDACTED.to_owned()));
            match redacted {
                Some(r) => (Form::Final, std::borrow::Cow::Owned(r.into_bytes())),
                None => (Form::Text, std::borrow::Cow::Owned(cut_text_bytes(value))),
            }
        };
        if self.admit(Part::Header, name.len() + val.len()) {
            self.push(Part::Header, form, name.as_bytes(), &val);
        }
    }

    fn slice(&self, r: (u32, u32)) -> &[u8] {
        &self.buf[r.0 as usize..r.1 as usize]
    }

    /// Decodes and redacts the captured fields into `e`.
    fn fill(&self, e: &mut JournalEntry, secrets: &[String]) {
        let mut first_authorization: Option<&[u8]> = None;
        for item in &self.items {
            let key = self.slice(item.key);
            let val = self.slice(item.val);
            match item.part {
                Part::Query | Part::Param => {
                    let (k, v) = match item.form {
                        Form::Final => (decode(key, Form::Encoded), lossy(val)),
                        form => {
                            let k = decode(key, form);
                            let v = scrub(redact_pair(&k, decode(val, form)), secrets);
                            (k, v)
                        }
                    };
                    if item.part == Part::Query {
                        e.query.push((k, v));
                    } else {
                        e.params.push((k, v));
                    }
                }
                Part::Header => {
                    let name = lossy(key);
                    if name == "authorization" && first_authorization.is_none() {
                        first_authorization = Some(val);
                    }
                    let v = match item.form {
                        Form::Final => lossy(val),
                        _ => {
                            let text = lossy(val);
                            let v = redact_header(&name, &text).unwrap_or(text);
                            scrub(v, secrets)
                        }
                    };
                    e.headers.push((name, v));
                }
                Part::JsonBody => {
                    if let Ok(p) = params::parse_json_object(val) {
                        for (k, v) in p.0 {
                            let v = match redact_whole(&k, &v, secrets) {
                                Some(r) => r,
                                None => scrub(
                                    redact_pair(&k, cut_text(&v, JOURNAL_VALUE_BYTES)),
                                    secrets,
                                ),
                            };
                            e.params.push((cut_text(&k, JOURNAL_VALUE_BYTES), v));
                        }
                    }
                }
            }
        }
        for (part, list) in [
            (Part::Query, &mut e.query),
            (Part::Header, &mut e.headers),
            (Part::Param, &mut e.params),
        ] {
            let n = self.dropped[part as usize];
            if n > 0 {
                list.push(("…".to_owned(), format!("{n} more not kept")));
            }
        }
        if self.body_unkept > 0 {
            e.params.push((
                "…".to_owned(),
                format!("body of {} bytes not kept", self.body_unkept),
            ));
        }
        e.grant_type = e.param("grant_type").map(str::to_owned);
        if self.no_client_auth {
            e.client_auth = None;
            return;
        }
        let basic = self.basic.unwrap_or_else(|| {
            first_authorization.is_some_and(|v| params::parse_basic(v).is_some())
        });
        e.client_auth = if basic {
            Some(ClientAuth::ClientSecretBasic)
        } else if e.param("client_secret").is_some() {
            Some(ClientAuth::ClientSecretPost)
        } else {
            None
        };
    }
}

/// The marker that ends a cut value: `…[cut: N bytes]`, N the value's full length.
fn marker(full_len: usize) -> String {
    format!("…[cut: {full_len} bytes]")
}

/// A percent-encoded value cut to [`JOURNAL_VALUE_BYTES`] (never inside a `%XX` escape),
/// with the marker appended in encoded form.
fn cut_encoded(v: &[u8]) -> std::borrow::Cow<'_, [u8]> {
    if v.len() <= JOURNAL_VALUE_BYTES {
        return std::borrow::Cow::Borrowed(v);
    }
    let mut end = JOURNAL_VALUE_BYTES;
    if v[end - 1] == b'%' {
        end -= 1;
    } else if v[end - 2] == b'%' {
        end -= 2;
    }
    let mut out = v[..end].to_vec();
    out.extend(
        url::form_urlencoded::byte_serialize(marker(v.len()).as_bytes()).flat_map(str::bytes),
    );
    std::borrow::Cow::Owned(out)
}

/// Plain bytes cut to [`JOURNAL_VALUE_BYTES`], marker appended.
fn cut_text_bytes(v: &[u8]) -> Vec<u8> {
    if v.len() <= JOURNAL_VALUE_BYTES {
        return v.to_vec();
    }
    let text = String::from_utf8_lossy(v);
    cut_text(&text, JOURNAL_VALUE_BYTES).into_bytes()
}

/// Text cut to `max` bytes at a character boundary, marker appended.
fn cut_text(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_owned();
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    let mut out = s[..end].to_owned();
    out.push_str(&marker(s.len()));
    out
}

fn lossy(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn decode(bytes: &[u8], form: Form) -> String {
    match form {
        Form::Encoded => decode_lossy(bytes),
        Form::Text | Form::Final => lossy(bytes),
    }
}

/// Lenient form decoding, as `url::form_urlencoded::parse` does it: `+` is a space, `%XX` a
/// byte, a broken escape stays as it is, invalid UTF-8 becomes U+FFFD.
fn decode_lossy(input: &[u8]) -> String {
    let mut out = Vec::with_capacity(input.len());
    let mut i = 0;
    while i < input.len() {
        match input[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = |b: u8| (b as char).to_digit(16);
                match (
                    input.get(i + 1).copied().and_then(hex),
                    input.get(i + 2).copied().and_then(hex),
                ) {
                    (Some(hi), Some(lo)) => {
                        out.push((hi * 16 + lo) as u8);
                        i += 2;
                    }
                    _ => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    match String::from_utf8(out) {
        Ok(s) => s,
        Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
    }
}

fn redact_pair(k: &str, v: String) -> String {
    if SECRET_KEYS.contains(&k) {
        REDACTED.to_owned()
    } else if TOKEN_KEYS.contains(&k) {
        params::tag(&v)
    } else {
        v
    }
}

/// The redaction of a value by its name or content, decided from the whole value (`None`:
/// the value is shown).
fn redact_whole(k: &str, full: &str, secrets: &[String]) -> Option<String> {
    if SECRET_KEYS.contains(&k) {
        Some(REDACTED.to_owned())
    } else if TOKEN_KEYS.contains(&k) {
        Some(params::tag(full))
    } else if contains_secret(full, secrets) {
        Some(REDACTED.to_owned())
    } else {
        None
    }
}

/// `Authorization` keeps its scheme and a tag of a token (Bearer, or another token scheme
/// such as Zoho's `Zoho-oauthtoken`); credentials that pair keys or passwords (`Basic`,
/// Redtail's `UserKeyAuth`) go entirely, as do cookies. `None`: the header is shown as it is.
fn redact_header(name: &str, v: &str) -> Option<String> {
    match name {
        "authorization" | "proxy-authorization" => {
            let (scheme, rest) = v.split_once(' ').unwrap_or((v, ""));
            let paired = ["basic", "userkeyauth"]
                .iter()
                .any(|p| scheme.eq_ignore_ascii_case(p));
            let token = scheme.eq_ignore_ascii_case("bearer") || !rest.trim().is_empty();
            Some(if !paired && token {
                format!("{scheme} {}", params::tag(rest.trim()))
            } else {
                format!("{scheme} {REDACTED}")
            })
        }
        "cookie" => Some(REDACTED.to_owned()),
        _ => None,
    }
}

fn contains_secret(v: &str, secrets: &[String]) -> bool {
    secrets.iter().any(|secret| v.contains(secret.as_str()))
}

/// Redacts any value that contains a configured secret (a client that puts an API key in
/// the URL must not put it in the journal too). The whole value goes, so the entry still
/// shows that a credential was there (`[redacted]`) without keeping any part of it.
fn scrub(v: String, secrets: &[String]) -> String {
    if contains_secret(&v, secrets) {
        REDACTED.to_owned()
    } else {
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    const SECRET: &str = "super-secret-value";

    fn secrets() -> Vec<String> {
        vec![SECRET.to_owned()]
    }

    fn captured(
        query: &str,
        headers: &[(&'static str, String)],
        body: Option<(&str, &[u8])>,
    ) -> JournalEntry {
        let uri: Uri = format!("/p?{query}").parse().unwrap();
        let mut map = HeaderMap::new();
        for (k, v) in headers {
            map.append(*k, HeaderValue::from_str(v).unwrap());
        }
        let mut c = Captured::request(&uri, &map, &secrets());
        if let Some((ct, b)) = body {
            let enc = match ct {
                "form" => Some(TokenEncoding::Form),
                "json" => Some(TokenEncoding::Json),
                _ => None,
            };
            c.body(enc, b, &secrets());
        }
        let journal = Journal::default();
        journal.record(entry(1, None, "POST", "/p"), c);
        journal.entries(&secrets()).remove(0)
    }

    #[test]
    fn short_values_are_decoded_and_redacted_when_read() {
        let e = captured(
            "a=b+c&code=xyz&s=%E2%82%AC&bad=%zz",
            &[
                (
                    "authorization",
                    "Basic aGFuZHNoYWtlLWNsaWVudDpoYW5kc2hha2Utc2VjcmV0".into(),
                ),
                ("cookie", "sid=1".into()),
                ("x-leak", format!("has {SECRET} inside")),
            ],
            Some((
                "form",
                b"grant_type=refresh_token&client_secret=s&refresh_token=r",
            )),
        );
        assert_eq!(e.query_param("a"), Some("b c"));
        assert_eq!(e.query_param("code"), Some(params::tag("xyz").as_str()));
        assert_eq!(e.query_param("s"), Some("€"));
        assert_eq!(e.query_param("bad"), Some("%zz"));
        assert_eq!(e.header("authorization"), Some("Basic [redacted]"));
        assert_eq!(e.header("cookie"), Some("[redacted]"));
        assert_eq!(e.header("x-leak"), Some("[redacted]"));
        assert_eq!(e.param("client_secret"), Some("[redacted]"));
        assert_eq!(e.param("refresh_token"), Some(params::tag("r").as_str()));
        assert_eq!(e.grant_type.as_deref(), Some("refresh_token"));
        assert_eq!(e.client_auth, Some(ClientAuth::ClientSecretBasic));
    }

    #[test]
    fn long_values_are_cut_with_a_marker_and_keep_their_tags() {
        let long = "x".repeat(30_000);
        let token = "t".repeat(5000);
        let leaky = format!("{}{SECRET}", "y".repeat(JOURNAL_VALUE_BYTES - 5));
        let e = captured(
            &format!("state={long}&code={token}&after=1&leak={leaky}"),
            &[
                ("x-big", long.clone()),
                ("authorization", format!("Bearer {token}")),
            ],
            Some((
                "form",
                format!("refresh_token={token}&note={long}").as_bytes(),
            )),
        );
        let state = e.query_param("state").unwrap();
        assert!(state.len() < JOURNAL_VALUE_BYTES + 40, "{}", state.len());
        assert!(state.ends_with("…[cut: 30000 bytes]"), "{state}");
        assert_eq!(
            e.query_param("after"),
            Some("1"),
            "fields after a long one are kept"
        );
        assert_eq!(e.query_param("code"), Some(params::tag(&token).as_str()));
        assert_eq!(
            e.query_param("leak"),
            Some("[redacted]"),
            "a cut must not keep part of a secret"
        );
        assert!(e.header("x-big").unwrap().ends_with("…[cut: 30000 bytes]"));
        assert_eq!(
            e.header("authorization").unwrap(),
            format!("Bearer {}", params::tag(&token))
        );
        assert_eq!(e.param("refresh_token"), Some(params::tag(&token).as_str()));
        assert!(e.param("note").unwrap().ends_with("…[cut: 30000 bytes]"));
        assert_eq!(e.client_auth, None);
    }

    #[test]
    fn json_bodies_are_kept_up_to_the_limit_and_decoded_when_read() {
        let small = br#"{"grant_type":"authorization_code","code":"c1","client_secret":"s"}"#;
        let e = captured("", &[], Some(("json", small)));
        assert_eq!(e.param("grant_type"), Some("authorization_code"));
        assert_eq!(e.param("code"), Some(params::tag("c1").as_str()));
        assert_eq!(e.param("client_secret"), Some("[redacted]"));
        assert_eq!(e.client_auth, Some(ClientAuth::ClientSecretPost));

        let big = format!(r#"{{"code":"c2","pad":"{}"}}"#, "p".repeat(20_000));
        let e = captured("", &[], Some(("json", big.as_bytes())));
        assert_eq!(e.param("code"), Some(params::tag("c2").as_str()));
        assert!(e.param("pad").unwrap().ends_with("…[cut: 20000 bytes]"));

        let broken = format!("{{\"pad\":\"{}", "p".repeat(20_000));
        let e = captured("", &[], Some(("json", broken.as_bytes())));
        assert_eq!(
            e.params,
            vec![("…".to_owned(), "body of 20008 bytes not kept".to_owned())]
        );
    }

    #[test]
    fn an_entry_keeps_at_most_the_field_and_byte_bounds() {
        let many: Vec<String> = (0..500).map(|i| format!("k{i}=v")).collect();
        let e = captured(&many.join("&"), &[], None);
        assert_eq!(e.query.len(), JOURNAL_FIELDS + 1);
        assert_eq!(
            e.query.last().unwrap(),
            &(
                "…".to_owned(),
                format!("{} more not kept", 500 - JOURNAL_FIELDS)
            )
        );

        let wide: Vec<String> = (0..30)
            .map(|i| format!("k{i}={}", "w".repeat(2000)))
            .collect();
        let uri: Uri = format!("/p?{}", wide.join("&")).parse().unwrap();
        let c = Captured::request(&uri, &HeaderMap::new(), &[]);
        assert!(c.buf.len() <= JOURNAL_ENTRY_BYTES, "{}", c.buf.len());
        assert!(c.dropped[0] > 0);
    }

    #[test]
    fn the_journal_is_bounded_in_entries_and_in_bytes() {
        let j = Journal::default();
        for i in 0..(JOURNAL_ENTRIES as u64 + 10) {
            j.record(entry(i + 1, None, "GET", "/"), Captured::default());
        }
        let all = j.entries(&[]);
        assert_eq!(all.len(), JOURNAL_ENTRIES);
        assert_eq!(all[0].seq, 11, "the oldest entries went first");

        // Entries as large as the per-entry bound: the byte bound decides.
        let j = Journal::default();
        let big: Vec<String> = (0..60)
            .map(|i| format!("k{i}={}", "b".repeat(JOURNAL_VALUE_BYTES)))
            .collect();
        let uri: Uri = format!("/p?{}", big.join("&")).parse().unwrap();
        for i in 0..2000u64 {
            j.record(
                entry(i + 1, None, "GET", "/p"),
                Captured::request(&uri, &HeaderMap::new(), &[]),
            );
        }
        assert!(j.bytes() <= JOURNAL_BYTES, "{}", j.bytes());
        let kept = j.entries(&[]);
        assert!(kept.len() < 2000 && kept.len() > 100, "{}", kept.len());
        assert_eq!(kept.last().unwrap().seq, 2000);
    }

    #[test]
    fn every_field_survives_the_ring_across_its_wrap() {
        let j = Journal::default();
        let uri: Uri = "/oauth/token?a=1&b=%20x".parse().unwrap();
        let mut headers = HeaderMap::new();
        headers.insert("authorization", HeaderValue::from_static("Basic YTpi"));
        let big = format!("k={}", "v".repeat(JOURNAL_VALUE_BYTES - 8));
        // Enough entries of ~16 KiB to go round the buffer more than once.
        let rounds = 3 * JOURNAL_BYTES / JOURNAL_ENTRY_BYTES;
        for i in 0..rounds as u64 {
            let mut e = entry(i + 1, Some(Endpoint::Token), "POST", "/oauth/token");
            e.status = 400;
            e.error = Some("invalid_grant".into());
            e.error_description = Some(format!("refused {i}"));
            e.requirement = Some(Relaxation::ClientAuth);
            e.auth_mode = Some("oauth".into());
            e.user = Some("ada@example.com".into());
            e.notes = vec![format!("note {i}"), String::new()];
            let mut c = Captured::request(&uri, &headers, &[]);
            let body = vec![big.as_str(); 15].join("&");
            c.body(Some(TokenEncoding::Form), body.as_bytes(), &[]);
            j.record(e, c);
        }
        assert!(j.bytes() <= JOURNAL_BYTES);
        let kept = j.entries(&[]);
        assert!(kept.len() > 100 && kept.len() < rounds, "{}", kept.len());
        let seqs: Vec<u64> = kept.iter().map(|e| e.seq).collect();
        let want: Vec<u64> = (rounds as u64 - kept.len() as u64 + 1..=rounds as u64).collect();
        assert_eq!(seqs, want, "the newest entries, in order, none lost");
        for e in &kept {
            assert_eq!(e.endpoint, Some(Endpoint::Token));
            assert_eq!(
                (e.method.as_str(), e.path.as_str()),
                ("POST", "/oauth/token")
            );
            assert_eq!(e.status, 400);
            assert_eq!(e.error.as_deref(), Some("invalid_grant"));
            assert_eq!(e.error_description, Some(format!("refused {}", e.seq - 1)));
            assert_eq!(e.requirement, Some(Relaxation::ClientAuth));
            assert_eq!(e.auth_mode.as_deref(), Some("oauth"));
            assert_eq!(e.user.as_deref(), Some("ada@example.com"));
            assert_eq!(e.notes, vec![format!("note {}", e.seq - 1), String::new()]);
            assert_eq!(
                e.query,
                vec![("a".into(), "1".into()), ("b".into(), " x".into())]
            );
            assert_eq!(
                e.headers,
                vec![("authorization".into(), format!("Basic {REDACTED}"))]
            );
            assert_eq!(e.client_auth, Some(ClientAuth::ClientSecretBasic));
            assert_eq!(e.params.len(), 15);
            assert!(e
                .params
                .iter()
                .all(|(k, v)| k == "k" && v.len() == JOURNAL_VALUE_BYTES - 8));
        }
        let since = j.entries_since(rounds as u64 - 3, &[]);
        assert_eq!(
            since.iter().map(|e| e.seq).collect::<Vec<_>>(),
            want[want.len() - 3..]
        );
        j.clear();
        assert!(j.entries(&[]).is_empty());
        j.record(entry(1, None, "GET", "/"), Captured::default());
        assert_eq!(j.entries(&[]).len(), 1);
    }

    #[test]
    fn long_paths_are_cut() {
        let e = entry(1, None, "GET", &"/a".repeat(5000));
        assert!(e.path.len() < JOURNAL_PATH_BYTES + 40);
        assert!(e.path.ends_with("…[cut: 10000 bytes]"));
    }
}
