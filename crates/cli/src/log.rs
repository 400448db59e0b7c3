//! What `handshake serve` prints on stdout: the ready lines, then the request log, one line
//! per completed request, from the mock's journal as it happens
//! ([`MockProvider::subscribe`]). As text (coloured on a terminal unless `NO_COLOR` is set),
//! or as JSON lines for programs (`--log-format json`): a first `{"event":"ready",...}` line,
//! then one `{"event":"request",...}` per request. Both are stable; README "The request log
//! and the live page" documents the fields.

use std::io::IsTerminal as _;
use std::time::SystemTime;

use clap::ValueEnum;
use handshake_mock::{JournalEntry, LogStyle, MockProvider};
use serde::Serialize;
use serde_json::json;
use tokio::sync::broadcast::error::RecvError;
use tokio::sync::broadcast::Receiver;

/// Version of the JSON lines' shape; fields are only ever added within a version.
pub(crate) const SCHEMA_VERSION: u32 = 1;

/// `--log-format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum LogFormat {
    /// The `.env` header, then one text line per request (coloured on a terminal).
    Text,
    /// One JSON object per line: `{"event":"ready",...}`, then `{"event":"request",...}`.
    Json,
}

/// One line of the `.env` header: a comment or a variable.
pub(crate) enum EnvLine {
    Comment(String),
    Var(String, String),
}

impl EnvLine {
    pub(crate) fn var(key: impl Into<String>, value: impl Into<String>) -> Self {
        EnvLine::Var(key.into(), value.into())
    }
}

/// The header as text: comments as they are, `KEY=value` (quoted when it holds a space).
pub(crate) fn text_header(first: &str, lines: &[EnvLine]) -> String {
    let mut out = format!("{first}\n");
    for line in lines {
        match line {
            EnvLine::Comment(c) => out.push_str(&format!("# {c}\n")),
            EnvLine::Var(k, v) if v.contains(' ') => out.push_str(&format!("{k}=\"{v}\"\n")),
            EnvLine::Var(k, v) => out.push_str(&format!("{k}={v}\n")),
        }
    }
    out
}

/// The JSON ready line: `event`, `schema_version`, `provider`, `name`, `url` (no trailing
/// slash), `page` (the live page), `ca_cert` (the CA file with `--tls`, else `null`) and
/// `env` (every `.env` variable the text header prints, as strings, unquoted).
pub(crate) fn ready_line(mock: &MockProvider, lines: &[EnvLine]) -> String {
    let ready = Ready {
        event: "ready",
        schema_version: SCHEMA_VERSION,
        provider: &mock.profile().id,
        name: &mock.profile().name,
        url: mock.uri(),
        page: format!("{}/__handshake/", mock.uri()),
        ca_cert: mock.ca_cert_path().map(|p| p.display().to_string()),
        env: Env(lines),
    };
    serde_json::to_string(&ready).unwrap_or_else(|_| "{}".to_owned())
}

/// The ready line, its fields in this order.
#[derive(Serialize)]
struct Ready<'a> {
    event: &'static str,
    schema_version: u32,
    provider: &'a str,
    name: &'a str,
    url: String,
    page: String,
    ca_cert: Option<String>,
    env: Env<'a>,
}

/// The `.env` variables as one JSON object, in the header's order.
struct Env<'a>(&'a [EnvLine]);

impl Serialize for Env<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap as _;
        let mut map = s.serialize_map(None)?;
        for line in self.0 {
            if let EnvLine::Var(k, v) = line {
                map.serialize_entry(k, v)?;
            }
        }
        map.end()
    }
}

/// Whether text lines get colours: stdout is a terminal and `NO_COLOR` is unset or empty
/// (<https://no-color.org>).
fn colour() -> bool {
    std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

/// Prints one line per request `live` receives (from [`MockProvider::subscribe`], taken
/// before the ready lines are printed, so no request after them is missed), on a thread of
/// its own, so a slow terminal never holds up the server. A reader that went away ends the
/// log, not the mock.
pub(crate) fn start(mut live: Receiver<JournalEntry>, format: LogFormat) -> anyhow::Result<()> {
    let style = match format {
        LogFormat::Json => LogStyle::Json,
        LogFormat::Text if colour() => LogStyle::Color,
        LogFormat::Text => LogStyle::Plain,
    };
    std::thread::Builder::new()
        .name("handshake-request-log".to_owned())
        .spawn(move || loop {
            let line = match live.blocking_recv() {
                Ok(entry) => style.line(&entry, SystemTime::now()),
                Err(RecvError::Lagged(n)) => lagged_line(style, n),
                Err(RecvError::Closed) => return,
            };
            if crate::print_stdout(&format!("{line}\n")).is_err() {
                return;
            }
        })?;
    Ok(())
}

/// Said when the log fell behind and skipped entries (the journal still has them).
fn lagged_line(style: LogStyle, n: u64) -> String {
    if style == LogStyle::Json {
        json!({ "event": "lagged", "skipped": n }).to_string()
    } else {
        format!("# {n} requests went by too fast to print; GET /__handshake/journal has them")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_text_header_quotes_values_with_spaces() {
        let text = text_header(
            "handshake: ready",
            &[
                EnvLine::Comment("a comment".into()),
                EnvLine::var("OAUTH_SCOPES", "read write"),
                EnvLine::var("OAUTH_CLIENT_ID", "c"),
            ],
        );
        assert_eq!(
            text,
            "handshake: ready\n# a comment\nOAUTH_SCOPES=\"read write\"\nOAUTH_CLIENT_ID=c\n"
        );
    }

    #[test]
    fn a_lagged_log_says_so() {
        assert_eq!(
            lagged_line(LogStyle::Json, 3),
            r#"{"event":"lagged","skipped":3}"#
        );
        assert!(lagged_line(LogStyle::Plain, 3).starts_with("# 3 requests"));
    }
}
