//! The expected-failures file: known deviations a team accepts for now, so it can adopt the
//! harness before fixing everything (as CI users of the OpenID conformance suite do).
//!
//! ```toml
//! [[expected_failure]]
//! provider = "agilecrm"          # a profile id, or "*" for every provider
//! scenario = "logout-revokes"    # a scenario id
//! why = "our logout only clears the session; revocation tracked in #123"
//! ```
//!
//! A listed case that fails does not fail the run; a listed case that passes does (the entry is
//! stale and would hide a regression). An entry matching no case that ran is reported as a note.

use std::path::Path;

use serde::Deserialize;

use crate::error::ExpectedFailuresError;
use crate::report::Report;

/// The default file name, looked for in the scenarios directory.
pub const DEFAULT_FILE_NAME: &str = "expected-failures.toml";

/// One known deviation.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct ExpectedFailure {
    /// Profile id, or `*`.
    pub provider: String,
    /// Scenario id.
    pub scenario: String,
    /// Why it is accepted for now.
    pub why: String,
}

/// A parsed expected-failures file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExpectedFailures {
    entries: Vec<ExpectedFailure>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    expected_failure: Vec<ExpectedFailure>,
}

impl ExpectedFailures {
    /// No entries.
    pub fn none() -> Self {
        Self::default()
    }

    /// Parses the file's text; `file` names it in errors.
    ///
    /// ```
    /// use handshake_conformance::ExpectedFailures;
    ///
    /// let x = ExpectedFailures::from_toml_str(
    ///     "[[expected_failure]]\nprovider = \"redtail\"\nscenario = \"logout-revokes\"\nwhy = \"#12\"\n",
    ///     "expected-failures.toml",
    /// )
    /// .unwrap();
    /// assert_eq!(x.find("redtail", "logout-revokes").unwrap().why, "#12");
    /// assert!(x.find("capsule", "logout-revokes").is_none());
    /// ```
    pub fn from_toml_str(text: &str, file: &str) -> Result<Self, ExpectedFailuresError> {
        let parsed: File = toml::from_str(text).map_err(|e| ExpectedFailuresError {
            file: file.to_owned(),
            reason: e.message().trim().to_owned(),
        })?;
        for (i, e) in parsed.expected_failure.iter().enumerate() {
            if e.why.trim().is_empty() {
                return Err(ExpectedFailuresError {
                    file: file.to_owned(),
                    reason: format!(
                        "expected_failure[{i}] ({} / {}): `why` must say why the failure is accepted",
                        e.provider, e.scenario
                    ),
                });
            }
        }
        Ok(ExpectedFailures {
            entries: parsed.expected_failure,
        })
    }

    /// The built-in `scenarios/expected-failures.toml` (embedded), or none.
    pub fn builtin() -> Self {
        crate::scenario::builtin_expected_failures()
            .map(|text| {
                Self::from_toml_str(text, "scenarios/expected-failures.toml")
                    .expect("the built-in expected failures are tested to parse")
            })
            .unwrap_or_default()
    }

    /// Reads and parses a file.
    pub fn from_file(path: impl AsRef<Path>) -> Result<Self, ExpectedFailuresError> {
        let path = path.as_ref();
        let file = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| ExpectedFailuresError {
            file: file.clone(),
            reason: format!("cannot read: {e}"),
        })?;
        Self::from_toml_str(&text, &file)
    }

    /// The entry for a case, if any.
    pub fn find(&self, provider: &str, scenario: &str) -> Option<&ExpectedFailure> {
        self.entries
            .iter()
            .find(|e| e.scenario == scenario && (e.provider == provider || e.provider == "*"))
    }

    /// Every entry.
    pub fn entries(&self) -> &[ExpectedFailure] {
        &self.entries
    }

    /// Marks listed cases in a report, notes entries that match no case, and recounts.
    pub fn apply(&self, report: &mut Report) {
        self.apply_within(report, &[]);
    }

    /// [`apply`](Self::apply) for a report of one partition of a matrix: an entry matching
    /// none of the report's cases is noted only if it matches none of `matrix` either, the
    /// `(provider, scenario)` pairs of the whole matrix (the other partitions run the rest).
    pub(crate) fn apply_within(&self, report: &mut Report, matrix: &[(String, String)]) {
        for c in &mut report.cases {
            if let Some(e) = self.find(&c.provider, &c.scenario) {
                c.expected_failure = Some(e.why.clone());
            }
        }
        let matches = |e: &ExpectedFailure, provider: &str, scenario: &str| {
            scenario == e.scenario && (e.provider == "*" || provider == e.provider)
        };
        for e in &self.entries {
            let used = report
                .cases
                .iter()
                .any(|c| matches(e, &c.provider, &c.scenario))
                || matrix.iter().any(|(p, s)| matches(e, p, s));
            if !used {
                report.notes.push(format!(
                    "expected-failures entry {} / {} matches no case that ran",
                    e.provider, e.scenario
                ));
            }
        }
        report.recount();
    }
}
