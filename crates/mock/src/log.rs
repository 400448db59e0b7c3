//! The request log `handshake serve` prints: one line per journal entry, as text (plain or
//! coloured) or as a JSON object. Everything in a line comes from the [`JournalEntry`], which
//! is already redacted: the log never sees a secret the journal does not show.
//!
//! Text that came from the request (the path, query values, and the parts of an
//! `error_description` that quote the request) is printed with control and bidirectional
//! formatting characters escaped (`\u{1b}`), so a request cannot write escape sequences to
//! the developer's terminal.

use std::fmt::Write as _;
use std::time::SystemTime;

use handshake_profile::ClientAuth;
use serde::Serialize;
use serde_json::Value;

use crate::types::{Endpoint, JournalEntry, Relaxation};

/// Longest query value shown in a text line; the journal has the whole (redacted) value.
const SHOWN_VALUE_CHARS: usize = 64;

/// How a [`JournalEntry`] is printed as a line of the request log.
///
/// ```
/// use std::time::{Duration, UNIX_EPOCH};
/// use handshake_mock::{Endpoint, JournalEntry, LogStyle};
///
/// let entry = JournalEntry {
///     seq: 7,
///     endpoint: Some(Endpoint::Token),
///     method: "POST".into(),
///     path: "/oauth/token".into(),
///     status: 400,
///     error: Some("invalid_grant".into()),
///     error_description: Some("authorization code expired".into()),
///     ..JournalEntry::default()
/// };
/// let at = UNIX_EPOCH + Duration::from_millis(1_700_000_000_123);
/// assert_eq!(
///     LogStyle::Plain.line(&entry, at),
///     "22:13:20.123Z token     POST /oauth/token 400 invalid_grant: authorization code expired"
/// );
/// let json: serde_json::Value = serde_json::from_str(&LogStyle::Json.line(&entry, at)).unwrap();
/// assert_eq!(json["event"], "request");
/// assert_eq!(json["time"], "2023-11-14T22:13:20.123Z");
/// assert_eq!(json["error"], "invalid_grant");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum LogStyle {
    /// `HH:MM:SS.mmmZ endpoint METHOD /path?query STATUS error: description`, UTC time.
    Plain,
    /// [`LogStyle::Plain`] with ANSI colours: status by class, the error code in bold red.
    Color,
    /// One JSON object (see [`LogStyle::json`]).
    Json,
}

impl LogStyle {
    /// The line for `entry`, completed at `at`, without a trailing newline.
    pub fn line(self, entry: &JournalEntry, at: SystemTime) -> String {
        match self {
            LogStyle::Plain => text_line(entry, at, false),
            LogStyle::Color => text_line(entry, at, true),
            LogStyle::Json => serde_json::to_string(&RequestLine::new(entry, at))
                .unwrap_or_else(|_| "{}".to_owned()),
        }
    }

    /// The JSON object of a request line. Its fields are a stable contract (fields are only
    /// ever added): `event` (`"request"`), `time` (RFC 3339, UTC, milliseconds), `seq`,
    /// `endpoint` (`authorize`, `token`, `revoke`, `api` or `null`), `method`, `path`,
    /// `query` (`[[name, value], ...]`, redacted as in the journal), `status` (`0`: the
    /// connection was dropped by a fault), `error`, `error_description`, `requirement`,
    /// `user`, `auth_mode`, `grant_type`, `client_auth` and `notes`, each as in
    /// [`JournalEntry`].
    pub fn json(entry: &JournalEntry, at: SystemTime) -> Value {
        serde_json::to_value(RequestLine::new(entry, at)).unwrap_or(Value::Null)
    }
}

/// The JSON request line, its fields in this order.
#[derive(Serialize)]
struct RequestLine<'a> {
    event: &'static str,
    time: String,
    seq: u64,
    endpoint: Option<Endpoint>,
    method: &'a str,
    path: &'a str,
    query: &'a [(String, String)],
    status: u16,
    error: Option<&'a str>,
    error_description: Option<&'a str>,
    requirement: Option<Relaxation>,
    user: Option<&'a str>,
    auth_mode: Option<&'a str>,
    grant_type: Option<&'a str>,
    client_auth: Option<ClientAuth>,
    notes: &'a [String],
}

impl<'a> RequestLine<'a> {
    fn new(e: &'a JournalEntry, at: SystemTime) -> Self {
        RequestLine {
            event: "request",
            time: rfc3339(at),
            seq: e.seq,
            endpoint: e.endpoint,
            method: &e.method,
            path: &e.path,
            query: &e.query,
            status: e.status,
            error: e.error.as_deref(),
            error_description: e.error_description.as_deref(),
            requirement: e.requirement,
            user: e.user.as_deref(),
            auth_mode: e.auth_mode.as_deref(),
            grant_type: e.grant_type.as_deref(),
            client_auth: e.client_auth,
            notes: &e.notes,
        }
    }
}

/// ANSI SGR sequences, used only by [`LogStyle::Color`].
struct Paint(bool);

impl Paint {
    fn wrap(&self, out: &mut String, sgr: &str, text: &str) {
        if self.0 {
            let _ = write!(out, "\x1b[{sgr}m{text}\x1b[0m");
        } else {
            out.push_str(text);
        }
    }
}

fn text_line(e: &JournalEntry, at: SystemTime, color: bool) -> String {
    let paint = Paint(color);
    let mut out = String::with_capacity(96 + e.path.len());
    paint.wrap(&mut out, "2", &clock(at));
    out.push(' ');
    let endpoint = e.endpoint.map_or("-", |ep| ep.as_str());
    paint.wrap(&mut out, "36", &format!("{endpoint:<9}"));
    out.push(' ');
    paint.wrap(&mut out, "1", &clean(&e.method));
    out.push(' ');
    out.push_str(&target(e));
    out.push(' ');
    let status = if e.status == 0 {
        "dropped".to_owned()
    } else {
        e.status.to_string()
    };
    let sgr = match e.status {
        200..=299 => "32",
        300..=399 => "36",
        400..=499 => "33",
        _ => "31",
    };
    paint.wrap(&mut out, sgr, &status);
    match (&e.error, &e.error_description) {
        (Some(code), Some(d)) => {
            out.push(' ');
            paint.wrap(&mut out, "1;31", &clean(code));
            out.push_str(": ");
            out.push_str(&clean(d));
        }
        (Some(code), None) => {
            out.push(' ');
            paint.wrap(&mut out, "1;31", &clean(code));
        }
        (None, Some(d)) => {
            out.push(' ');
            out.push_str(&clean(d));
        }
        (None, None) => {}
    }
    if let Some(user) = &e.user {
        out.push(' ');
        paint.wrap(&mut out, "2", &format!("user={}", clean(user)));
    }
    for note in &e.notes {
        out.push(' ');
        paint.wrap(&mut out, "35", &format!("({})", clean(note)));
    }
    out
}

/// The request target as the log shows it: the path, then the query with the journal's
/// (redacted) values, each cut to a readable length.
pub(crate) fn target(e: &JournalEntry) -> String {
    let mut out = clean(&e.path);
    for (i, (k, v)) in e.query.iter().enumerate() {
        out.push(if i == 0 { '?' } else { '&' });
        out.push_str(&clean(k));
        out.push('=');
        let shown: String = v.chars().take(SHOWN_VALUE_CHARS).collect();
        out.push_str(&clean(&shown));
        if shown.len() < v.len() {
            out.push('…');
        }
    }
    out
}

/// `s` with control characters (C0, DEL, C1) and bidirectional formatting characters
/// escaped as `\u{..}`; everything else as it is.
pub(crate) fn clean(s: &str) -> String {
    let unsafe_char = |c: char| {
        c.is_control()
            || matches!(c, '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
    };
    if !s.chars().any(unsafe_char) {
        return s.to_owned();
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if unsafe_char(c) {
            let _ = write!(out, "\\u{{{:x}}}", c as u32);
        } else {
            out.push(c);
        }
    }
    out
}

fn utc(at: SystemTime) -> time::OffsetDateTime {
    time::OffsetDateTime::from(at)
}

/// `HH:MM:SS.mmmZ` (UTC).
fn clock(at: SystemTime) -> String {
    let t = utc(at);
    format!(
        "{:02}:{:02}:{:02}.{:03}Z",
        t.hour(),
        t.minute(),
        t.second(),
        t.millisecond()
    )
}

/// RFC 3339, UTC, with milliseconds: `2023-11-14T22:13:20.123Z`.
pub(crate) fn rfc3339(at: SystemTime) -> String {
    let t = utc(at);
    format!(
        "{:04}-{:02}-{:02}T{}",
        t.year(),
        u8::from(t.month()),
        t.day(),
        clock(at)
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, UNIX_EPOCH};

    fn at() -> SystemTime {
        UNIX_EPOCH + Duration::from_millis(1_700_000_000_123)
    }

    #[test]
    fn request_text_cannot_reach_the_terminal_as_escape_sequences() {
        let e = JournalEntry {
            endpoint: Some(Endpoint::Api),
            method: "GET".into(),
            path: "/api".into(),
            query: vec![("q".into(), "\u{1b}[2J\u{202e}x\n".into())],
            status: 404,
            error_description: Some("no record with id \u{1b}]0;pwned\u{7}".into()),
            ..JournalEntry::default()
        };
        let line = LogStyle::Color.line(&e, at());
        assert!(!line.contains("\u{1b}[2J"), "{line:?}");
        assert!(!line.contains("\u{1b}]0"), "{line:?}");
        assert!(
            !line.contains('\n') && !line.contains('\u{202e}'),
            "{line:?}"
        );
        assert!(line.contains("q=\\u{1b}[2J\\u{202e}x\\u{a}"), "{line:?}");
    }

    #[test]
    fn plain_has_no_colour_and_colour_has_it() {
        let e = JournalEntry {
            method: "GET".into(),
            path: "/x".into(),
            status: 200,
            ..JournalEntry::default()
        };
        assert!(!LogStyle::Plain.line(&e, at()).contains('\u{1b}'));
        assert!(LogStyle::Color
            .line(&e, at())
            .contains("\u{1b}[32m200\u{1b}[0m"));
        assert_eq!(
            LogStyle::Plain.line(&e, at()),
            "22:13:20.123Z -         GET /x 200"
        );
    }

    #[test]
    fn long_query_values_are_cut_for_the_terminal() {
        let e = JournalEntry {
            method: "GET".into(),
            path: "/x".into(),
            query: vec![("state".into(), "s".repeat(300))],
            ..JournalEntry::default()
        };
        let t = target(&e);
        assert_eq!(t, format!("/x?state={}…", "s".repeat(SHOWN_VALUE_CHARS)));
    }

    #[test]
    fn a_dropped_connection_says_so() {
        let e = JournalEntry {
            method: "POST".into(),
            path: "/t".into(),
            status: 0,
            notes: vec!["fault fired: drop (connection closed without an answer)".into()],
            ..JournalEntry::default()
        };
        assert_eq!(
            LogStyle::Plain.line(&e, at()),
            "22:13:20.123Z -         POST /t dropped (fault fired: drop (connection closed without an answer))"
        );
    }
}
