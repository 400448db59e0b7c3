//! Errors of the conformance crate.

use std::fmt;

/// A scenario file could not be used. The message names the file, the step (1-based index and
/// action) when the problem is in a step, and the reason.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub struct ScenarioError {
    /// The scenario file.
    pub file: String,
    /// 1-based line, when the TOML parser knows it.
    pub line: Option<usize>,
    /// 1-based step index and its action name, when the problem is in a step.
    pub step: Option<(usize, String)>,
    /// What kind of problem.
    pub kind: ScenarioErrorKind,
    /// Why, in words.
    pub reason: String,
}

/// Kinds of [`ScenarioError`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ScenarioErrorKind {
    /// The file could not be read.
    Io,
    /// Not valid TOML, or a key is unknown or has the wrong type.
    Parse,
    /// Parsed, but breaks a rule of the format.
    Invalid,
}

impl ScenarioError {
    pub(crate) fn new(
        file: &str,
        step: Option<(usize, &str)>,
        kind: ScenarioErrorKind,
        reason: &str,
    ) -> Self {
        ScenarioError {
            file: file.to_owned(),
            line: None,
            step: step.map(|(i, a)| (i, a.to_owned())),
            kind,
            reason: reason.to_owned(),
        }
    }

    pub(crate) fn with_line(mut self, line: Option<usize>) -> Self {
        self.line = line;
        self
    }
}

impl fmt::Display for ScenarioError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.file)?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
        }
        if let Some((i, action)) = &self.step {
            write!(f, ": step {i} ({action})")?;
        }
        write!(f, ": {}", self.reason)
    }
}

/// The expected-failures file could not be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}: {reason}")]
#[non_exhaustive]
pub struct ExpectedFailuresError {
    /// The file.
    pub file: String,
    /// Why, in words.
    pub reason: String,
}

/// A report could not be written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReportError {
    /// JSON serialization failed.
    #[error("cannot serialize the JSON report")]
    Json(#[source] serde_json::Error),
    /// JUnit serialization failed.
    #[error("cannot serialize the JUnit report")]
    Junit(#[source] quick_junit::SerializeError),
}
