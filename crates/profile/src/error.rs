use std::fmt;

/// A profile could not be loaded. The message names the file, the key and the reason.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub struct ProfileError {
    /// File (or built-in name) the profile came from.
    pub file: String,
    /// Dotted key path, when the problem is at a key (`pkce.methods`).
    pub key: Option<String>,
    /// 1-based line, when known.
    pub line: Option<usize>,
    /// What kind of problem.
    pub kind: ProfileErrorKind,
    /// Why, in words.
    pub reason: String,
    #[source]
    source: Option<Box<dyn std::error::Error + Send + Sync>>,
}

/// Kinds of [`ProfileError`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ProfileErrorKind {
    /// The file could not be read.
    Io,
    /// Not valid TOML, or a key has the wrong type or is unknown.
    Parse,
    /// Parsed, but a value breaks a rule.
    Invalid,
    /// No built-in profile has that name and no such file exists.
    UnknownBuiltin,
}

impl fmt::Display for ProfileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file)?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
        }
        if let Some(key) = &self.key {
            write!(f, ": key `{key}`")?;
        }
        write!(f, ": {}", self.reason)
    }
}

impl ProfileError {
    pub(crate) fn io(file: &str, e: std::io::Error) -> Self {
        ProfileError {
            file: file.to_owned(),
            key: None,
            line: None,
            kind: ProfileErrorKind::Io,
            reason: format!("cannot read profile: {e}"),
            source: Some(Box::new(e)),
        }
    }

    pub(crate) fn parse(
        file: &str,
        text: &str,
        e: serde_path_to_error::Error<toml::de::Error>,
    ) -> Self {
        let mut path = e.path().to_string();
        let inner = e.into_inner();
        let mut line = inner
            .span()
            .map(|span| text[..span.start.min(text.len())].matches('\n').count() + 1);
        // serde reports an unknown key at its table (the `[oauth]` header line): point at the
        // key's own line instead, where the typo is.
        if let (Some(name), Some(table_line)) = (unknown_field(inner.message()), line) {
            if let Some(own) = key_line(text, table_line, name) {
                line = Some(own);
                path = if path == "." || path.is_empty() {
                    name.to_owned()
                } else {
                    format!("{path}.{name}")
                };
            }
        }
        ProfileError {
            file: file.to_owned(),
            key: (path != "." && !path.is_empty()).then_some(path),
            line,
            kind: ProfileErrorKind::Parse,
            reason: inner.message().trim().to_owned(),
            source: Some(Box::new(inner)),
        }
    }

    pub(crate) fn invalid(file: &str, key: &str, reason: &str) -> Self {
        ProfileError {
            file: file.to_owned(),
            key: Some(key.to_owned()),
            line: None,
            kind: ProfileErrorKind::Invalid,
            reason: reason.to_owned(),
            source: None,
        }
    }

    pub(crate) fn unknown_builtin(name: &str) -> Self {
        ProfileError {
            file: name.to_owned(),
            key: None,
            line: None,
            kind: ProfileErrorKind::UnknownBuiltin,
            reason: format!(
                "no built-in profile named {name:?} and no such .toml file (built-ins: {})",
                crate::builtin_ids().join(", ")
            ),
            source: None,
        }
    }
}

/// The key of a serde "unknown field `name`, expected ..." message.
fn unknown_field(message: &str) -> Option<&str> {
    let rest = message.strip_prefix("unknown field `")?;
    rest.split('`').next()
}

/// The 1-based line, at or after `from` and before the next table header, where `name` is
/// assigned (`name = ...`, or `name = ` inside an inline table on that line).
fn key_line(text: &str, from: usize, name: &str) -> Option<usize> {
    let assigns = |l: &str| {
        l.split([',', '{']).map(str::trim_start).any(|part| {
            part.strip_prefix(name)
                .is_some_and(|r| r.trim_start().starts_with('='))
        })
    };
    for (i, l) in text.lines().enumerate().skip(from.saturating_sub(1)) {
        let t = l.trim_start();
        if i + 1 > from && t.starts_with('[') {
            return None;
        }
        if assigns(t) {
            return Some(i + 1);
        }
    }
    None
}
