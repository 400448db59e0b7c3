//! The report: what ran, what passed, and why anything failed or was skipped.
//!
//! The same model serves the conformance matrix (`cargo xtask conformance`) and the black-box
//! checks of a client app (`handshake check-client`): a case is one check (a scenario or a
//! check id) against one provider.
//!
//! # JSON schema (stable)
//!
//! ```text
//! {
//!   "schema_version": 1,
//!   "cases": [
//!     {
//!       "provider": "capsule",               // profile id
//!       "scenario": "state-mismatch",        // scenario (or check) id
//!       "title": "...",                      // one line
//!       "rfc": "RFC 6749 §10.12",            // the clause checked
//!       "status": "passed" | "failed" | "skipped" | "warning",
//!       "reason": null | "...",              // why it failed, was skipped or warned
//!       "duration_ms": 12,
//!       "expected_failure": null | "...",    // the `why` of a matching expected-failures entry
//!       "failure": null | {                  // details of a failure
//!         "step": 3, "action": "callback",
//!         "expected": "...", "actual": "...",
//!         "journal": ["#2 POST /oauth/token grant_type=authorization_code ... -> 200"]
//!       },
//!       "fix": "...",                        // optional: one line on how to fix it
//!       "trace": {                           // optional, failed and warned cases only
//!         "actors": ["browser", "client", "crm"],   // the lifelines (app for check-client)
//!         "events": [{"kind": "request", "from": "client", "to": "crm",
//!                     "label": "POST /oauth/token grant_type=authorization_code", "seq": 3},
//!                    {"kind": "answer", "from": "crm", "to": "client", "label": "200",
//!                     "status": 200, "seq": 3, "failing": true}],
//!         "omitted_before": 0, "omitted_after": 0
//!       }
//!     }
//!   ],
//!   "summary": {
//!     "passed": 0, "failed": 0, "skipped": 0, "warnings": 0, "total": 0,
//!     "expected_failures": 0,    // failed cases listed in the expected-failures file
//!     "unexpected_passes": 0     // listed cases that passed: remove their entries
//!   },
//!   "notes": ["..."],            // run-level remarks (stale expected-failure entries)
//!   "duration_ms": 0             // wall time of the whole run
//! }
//! ```
//!
//! Fields are only ever added. `status` is the case's own outcome: an expected failure is
//! still `failed`, with `expected_failure` set, and does not fail the run. A trace (see
//! [`Trace`]) holds no secret: method, path, parameter names, status and the mock's reasons.
//!
//! # HTML
//!
//! [`ReportFormat::Html`] is one self-contained page (inline CSS, no script, nothing fetched):
//! the matrix with the text report's marks, then every failure and warning with its
//! sequence diagram, an inline SVG drawn from its [`Trace`], the failing arrow in red with
//! the clause and the fix beside it.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::error::ReportError;
use crate::trace::Trace;

/// Version of the JSON schema. Bumped only on a breaking change (never, we hope).
pub const SCHEMA_VERSION: u32 = 1;

/// Outcome of one case.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// The check held.
    Passed,
    /// The check did not hold.
    Failed,
    /// The check does not apply; `reason` says why.
    Skipped,
    /// The check held only partly (black-box checks: e.g. PKCE absent where optional).
    Warning,
}

impl Status {
    /// Lower-case name, as in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Passed => "passed",
            Status::Failed => "failed",
            Status::Skipped => "skipped",
            Status::Warning => "warning",
        }
    }
}

/// Where and how a case failed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Failure {
    /// 1-based step index, when the failure is at a step.
    pub step: Option<usize>,
    /// The step's action (`callback`), or the check's name.
    pub action: String,
    /// What the scenario expected.
    pub expected: String,
    /// What happened.
    pub actual: String,
    /// Journal lines relevant to the failure, secrets redacted.
    #[serde(default)]
    pub journal: Vec<String>,
}

impl Failure {
    /// A failure at a step.
    pub fn at_step(
        step: usize,
        action: impl Into<String>,
        expected: impl Into<String>,
        actual: impl Into<String>,
    ) -> Self {
        Failure {
            step: Some(step),
            action: action.into(),
            expected: expected.into(),
            actual: actual.into(),
            journal: Vec::new(),
        }
    }

    /// Attaches journal lines.
    pub fn with_journal(mut self, journal: Vec<String>) -> Self {
        self.journal = journal;
        self
    }

    /// One line: `step 3 (callback): expected state_mismatch, got ok`.
    pub fn summary(&self) -> String {
        let at = match self.step {
            Some(i) => format!("step {i} ({})", self.action),
            None => self.action.clone(),
        };
        format!("{at}: expected {}, got {}", self.expected, self.actual)
    }
}

/// One case: one scenario (or check) against one provider.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct CaseReport {
    /// Provider (profile) id.
    pub provider: String,
    /// Scenario or check id.
    pub scenario: String,
    /// One-line title.
    pub title: String,
    /// The clause checked.
    pub rfc: String,
    /// Outcome.
    pub status: Status,
    /// Why it failed, was skipped or warned.
    pub reason: Option<String>,
    /// Wall time of the case.
    pub duration_ms: u64,
    /// The `why` of a matching expected-failures entry.
    #[serde(default)]
    pub expected_failure: Option<String>,
    /// Details of a failure.
    #[serde(default)]
    pub failure: Option<Failure>,
    /// Passed, but judged by the client's outcomes alone: the scenario's journal expectations
    /// were not checked (an external server has no journal). `reason` lists them.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub outcomes_only: bool,
    /// One line on how to fix a failure or warning (a check's hint, a scenario's `fix`, a
    /// property's fix).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fix: Option<String>,
    /// What crossed the wire, for a failed or warned case: the sequence diagram's data.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trace: Option<Trace>,
}

impl CaseReport {
    /// A case with an outcome; `reason` and `failure` empty.
    pub fn new(
        provider: impl Into<String>,
        scenario: impl Into<String>,
        title: impl Into<String>,
        rfc: impl Into<String>,
        status: Status,
    ) -> Self {
        CaseReport {
            provider: provider.into(),
            scenario: scenario.into(),
            title: title.into(),
            rfc: rfc.into(),
            status,
            reason: None,
            duration_ms: 0,
            expected_failure: None,
            failure: None,
            outcomes_only: false,
            fix: None,
            trace: None,
        }
    }

    /// Sets the one-line fix.
    pub fn with_fix(mut self, fix: impl Into<String>) -> Self {
        self.fix = Some(fix.into());
        self
    }

    /// Attaches what crossed the wire.
    pub fn with_trace(mut self, trace: Trace) -> Self {
        self.trace = Some(trace);
        self
    }

    /// Marks a pass as judged on outcomes only, saying which expectations went unchecked.
    pub fn with_outcomes_only(mut self, unchecked: impl Into<String>) -> Self {
        self.outcomes_only = true;
        self.reason = Some(unchecked.into());
        self
    }

    /// Sets the status.
    pub fn with_status(mut self, status: Status) -> Self {
        self.status = status;
        self
    }

    /// Sets the reason.
    pub fn with_reason(mut self, reason: impl Into<String>) -> Self {
        self.reason = Some(reason.into());
        self
    }

    /// Marks the case failed with these details; the reason becomes the failure's summary.
    pub fn with_failure(mut self, failure: Failure) -> Self {
        self.status = Status::Failed;
        self.reason = Some(failure.summary());
        self.failure = Some(failure);
        self
    }

    /// Sets the duration.
    pub fn with_duration(mut self, d: Duration) -> Self {
        self.duration_ms = u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
        self
    }

    /// Failed and not listed as an expected failure.
    pub fn is_unexpected_failure(&self) -> bool {
        self.status == Status::Failed && self.expected_failure.is_none()
    }

    /// Listed as an expected failure, yet passed.
    pub fn is_unexpected_pass(&self) -> bool {
        self.status == Status::Passed && self.expected_failure.is_some()
    }
}

/// Counts of a report.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Summary {
    /// Cases passed.
    pub passed: usize,
    /// Cases failed (expected failures included).
    pub failed: usize,
    /// Cases skipped.
    pub skipped: usize,
    /// Cases that warned.
    #[serde(default)]
    pub warnings: usize,
    /// All cases.
    pub total: usize,
    /// Failed cases listed in the expected-failures file.
    #[serde(default)]
    pub expected_failures: usize,
    /// Listed cases that passed.
    #[serde(default)]
    pub unexpected_passes: usize,
}

/// How a [`Report`] is written: `pretty` (for people), `json` (the stable schema above),
/// `junit` (JUnit XML for CI systems) or `html` (one self-contained page with a sequence
/// diagram per failure). Parses from those names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ReportFormat {
    /// The matrix and failure details.
    #[default]
    Pretty,
    /// The stable JSON schema.
    Json,
    /// JUnit XML, one test case per case.
    Junit,
    /// One self-contained HTML page: the matrix, and a sequence diagram per failure.
    Html,
}

impl std::str::FromStr for ReportFormat {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "pretty" => Ok(ReportFormat::Pretty),
            "json" => Ok(ReportFormat::Json),
            "junit" => Ok(ReportFormat::Junit),
            "html" => Ok(ReportFormat::Html),
            other => Err(format!(
                "unknown report format {other:?} (use pretty, json, junit or html)"
            )),
        }
    }
}

/// A whole run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Report {
    /// [`SCHEMA_VERSION`].
    pub schema_version: u32,
    /// Every case, in plan order.
    pub cases: Vec<CaseReport>,
    /// Counts.
    pub summary: Summary,
    /// Run-level remarks.
    #[serde(default)]
    pub notes: Vec<String>,
    /// Wall time of the whole run.
    #[serde(default)]
    pub duration_ms: u64,
}

impl Report {
    /// A report of these cases; the summary is computed.
    ///
    /// ```
    /// use handshake_conformance::{CaseReport, Report, Status};
    ///
    /// let report = Report::new(vec![
    ///     CaseReport::new("capsule", "happy-path", "The happy path", "RFC 6749 §4.1", Status::Passed),
    ///     CaseReport::new("redtail", "pkce-s256", "PKCE S256", "RFC 7636 §4.2", Status::Skipped)
    ///         .with_reason("pkce.mode = \"unsupported\""),
    /// ]);
    /// assert_eq!(report.summary.total, 2);
    /// assert!(report.is_success());
    /// ```
    pub fn new(cases: Vec<CaseReport>) -> Self {
        let mut report = Report {
            schema_version: SCHEMA_VERSION,
            cases,
            summary: Summary::default(),
            notes: Vec::new(),
            duration_ms: 0,
        };
        report.recount();
        report
    }

    /// Recomputes the summary from the cases.
    pub fn recount(&mut self) {
        let mut s = Summary {
            total: self.cases.len(),
            ..Summary::default()
        };
        for c in &self.cases {
            match c.status {
                Status::Passed => s.passed += 1,
                Status::Failed => s.failed += 1,
                Status::Skipped => s.skipped += 1,
                Status::Warning => s.warnings += 1,
            }
            if c.status == Status::Failed && c.expected_failure.is_some() {
                s.expected_failures += 1;
            }
            if c.is_unexpected_pass() {
                s.unexpected_passes += 1;
            }
        }
        self.summary = s;
    }

    /// No unexpected failure and no unexpected pass. Warnings do not fail a run.
    pub fn is_success(&self) -> bool {
        !self
            .cases
            .iter()
            .any(|c| c.is_unexpected_failure() || c.is_unexpected_pass())
    }

    /// The JSON report (pretty-printed).
    pub fn to_json(&self) -> Result<String, ReportError> {
        serde_json::to_string_pretty(self).map_err(ReportError::Json)
    }

    /// The JUnit XML report: one test suite per provider, one test case per scenario.
    pub fn to_junit(&self, name: &str) -> Result<String, ReportError> {
        use quick_junit::{NonSuccessKind, TestCase, TestCaseStatus, TestSuite};

        let mut junit = quick_junit::Report::new(name);
        junit.set_time(Duration::from_millis(self.duration_ms));
        let mut suites: BTreeMap<&str, Vec<&CaseReport>> = BTreeMap::new();
        let mut order: Vec<&str> = Vec::new();
        for c in &self.cases {
            if !suites.contains_key(c.provider.as_str()) {
                order.push(&c.provider);
            }
            suites.entry(&c.provider).or_default().push(c);
        }
        for provider in order {
            let mut suite = TestSuite::new(provider);
            for c in &suites[provider] {
                let status = match c.status {
                    Status::Passed if c.expected_failure.is_some() => {
                        let mut s = TestCaseStatus::non_success(NonSuccessKind::Failure);
                        s.set_message(unexpected_pass_message(c));
                        s.set_type("unexpected_pass");
                        s
                    }
                    Status::Passed | Status::Warning => {
                        // JUnit has no warning: a warning is a pass with the reason on stdout.
                        TestCaseStatus::success()
                    }
                    Status::Skipped => {
                        let mut s = TestCaseStatus::skipped();
                        if let Some(r) = &c.reason {
                            s.set_message(r.as_str());
                        }
                        s
                    }
                    Status::Failed if c.expected_failure.is_some() => {
                        let mut s = TestCaseStatus::skipped();
                        s.set_message(format!(
                            "expected failure: {}",
                            c.expected_failure.as_deref().unwrap_or_default()
                        ));
                        s.set_type("expected_failure");
                        s
                    }
                    Status::Failed => {
                        let mut s = TestCaseStatus::non_success(NonSuccessKind::Failure);
                        s.set_message(c.reason.as_deref().unwrap_or("failed"));
                        s.set_type("conformance");
                        if let Some(f) = &c.failure {
                            s.set_description(failure_text(f));
                        }
                        s
                    }
                };
                let mut tc = TestCase::new(c.scenario.as_str(), status);
                tc.set_classname(format!("{name}.{provider}"));
                tc.set_time(Duration::from_millis(c.duration_ms));
                tc.add_property(("rfc", c.rfc.as_str()));
                if c.status == Status::Warning {
                    if let Some(r) = &c.reason {
                        tc.set_system_out(format!("warning: {r}"));
                    }
                }
                suite.add_test_case(tc);
            }
            junit.add_test_suite(suite);
        }
        junit.to_string().map_err(ReportError::Junit)
    }

    /// The report in `format`; `suite` names the JUnit test suite (and the HTML page).
    ///
    /// ```
    /// use handshake_conformance::{Report, ReportFormat};
    ///
    /// let report = Report::new(vec![]);
    /// let format: ReportFormat = "json".parse().unwrap();
    /// assert!(report.render(format, "demo").unwrap().contains("\"cases\""));
    /// let html = report.render(ReportFormat::Html, "demo").unwrap();
    /// assert!(html.starts_with("<!doctype html>"));
    /// assert!("yaml".parse::<ReportFormat>().is_err());
    /// ```
    pub fn render(&self, format: ReportFormat, suite: &str) -> Result<String, ReportError> {
        let mut text = match format {
            ReportFormat::Pretty => self.to_pretty(),
            ReportFormat::Json => self.to_json()?,
            ReportFormat::Junit => self.to_junit(suite)?,
            ReportFormat::Html => self.to_html(suite),
        };
        if !text.ends_with('\n') {
            text.push('\n');
        }
        Ok(text)
    }

    /// The HTML report: one self-contained page titled `title`, the matrix with the text
    /// report's marks, then each failure and warning with its sequence diagram (an inline
    /// SVG of its [`Trace`]), expected failures, unexpected passes, skips and notes.
    /// Everything from the wire is HTML-escaped.
    pub fn to_html(&self, title: &str) -> String {
        crate::html::render(self, title)
    }

    /// The human report: a matrix (scenario rows × provider columns), then each failure with
    /// what was expected, what happened and the journal, then skip reasons and the summary.
    pub fn to_pretty(&self) -> String {
        let mut out = String::new();
        let mut providers: Vec<&str> = Vec::new();
        let mut scenarios: Vec<&str> = Vec::new();
        let mut cells: BTreeMap<(&str, &str), &CaseReport> = BTreeMap::new();
        for c in &self.cases {
            if !providers.contains(&c.provider.as_str()) {
                providers.push(&c.provider);
            }
            if !scenarios.contains(&c.scenario.as_str()) {
                scenarios.push(&c.scenario);
            }
            cells.insert((c.scenario.as_str(), c.provider.as_str()), c);
        }
        let first = scenarios
            .iter()
            .map(|s| s.chars().count())
            .max()
            .unwrap_or(0)
            .max("scenario".len());
        let _ = write!(out, "{:first$}", "scenario");
        for p in &providers {
            let _ = write!(out, "  {p}");
        }
        out.push('\n');
        for s in &scenarios {
            let mut line = format!("{s:first$}");
            for p in &providers {
                let width = p.chars().count();
                let mark = cells.get(&(*s, *p)).map_or(" ", |c| mark(c));
                let left = (width.saturating_sub(1)) / 2;
                let _ = write!(
                    line,
                    "  {}{mark}{}",
                    " ".repeat(left),
                    " ".repeat(width.saturating_sub(1) - left)
                );
            }
            out.push_str(line.trim_end());
            out.push('\n');
        }
        out.push_str("\n✓ passed  ✗ failed  – skipped  ! warning  ○ expected failure  ◆ expected to fail but passed\n");
        let outcomes_only: Vec<&CaseReport> = self
            .cases
            .iter()
            .filter(|c| c.outcomes_only && c.status == Status::Passed)
            .collect();
        if !outcomes_only.is_empty() {
            out.push_str(
                "◌ passed on outcomes only: the server is not a mock, so what crossed the wire (the journal) was not checked\n",
            );
        }

        let failed: Vec<&CaseReport> = self
            .cases
            .iter()
            .filter(|c| c.is_unexpected_failure())
            .collect();
        if !failed.is_empty() {
            out.push_str("\nFailures\n");
            for c in failed {
                let _ = writeln!(out, "\n✗ {} / {} ({})", c.provider, c.scenario, c.rfc);
                let _ = writeln!(out, "  {}", c.title);
                match &c.failure {
                    Some(f) => {
                        for line in failure_text(f).lines() {
                            let _ = writeln!(out, "  {line}");
                        }
                    }
                    None => {
                        let _ = writeln!(out, "  {}", c.reason.as_deref().unwrap_or("failed"));
                    }
                }
            }
        }
        let unexpected: Vec<&CaseReport> = self
            .cases
            .iter()
            .filter(|c| c.is_unexpected_pass())
            .collect();
        if !unexpected.is_empty() {
            out.push_str(
                "\nExpected to fail, but passed (remove these expected-failures entries)\n",
            );
            for c in unexpected {
                let _ = writeln!(out, "  ◆ {}", unexpected_pass_message(c));
            }
        }
        let xfail: Vec<&CaseReport> = self
            .cases
            .iter()
            .filter(|c| c.status == Status::Failed && c.expected_failure.is_some())
            .collect();
        if !xfail.is_empty() {
            out.push_str("\nExpected failures\n");
            for c in xfail {
                let _ = writeln!(
                    out,
                    "  ○ {} / {}: {} (known: {})",
                    c.provider,
                    c.scenario,
                    c.reason.as_deref().unwrap_or("failed"),
                    c.expected_failure.as_deref().unwrap_or_default()
                );
            }
        }
        if !outcomes_only.is_empty() {
            out.push_str("\nPassed on outcomes only (journal expectations not checked)\n");
            for c in &outcomes_only {
                let _ = writeln!(
                    out,
                    "  ◌ {} / {}: {}",
                    c.provider,
                    c.scenario,
                    c.reason.as_deref().unwrap_or("")
                );
            }
        }
        let warned: Vec<&CaseReport> = self
            .cases
            .iter()
            .filter(|c| c.status == Status::Warning)
            .collect();
        if !warned.is_empty() {
            out.push_str("\nWarnings\n");
            for c in warned {
                let _ = writeln!(
                    out,
                    "  ! {} / {} ({}): {}",
                    c.provider,
                    c.scenario,
                    c.rfc,
                    c.reason.as_deref().unwrap_or("")
                );
            }
        }
        // Skips are grouped by scenario and reason: the same reason usually covers several
        // providers, and a wall of identical lines hides the ones that matter.
        let mut skips: BTreeMap<(&str, &str), BTreeSet<&str>> = BTreeMap::new();
        let mut skip_order: Vec<(&str, &str)> = Vec::new();
        for c in self.cases.iter().filter(|c| c.status == Status::Skipped) {
            let key = (c.scenario.as_str(), c.reason.as_deref().unwrap_or(""));
            if !skips.contains_key(&key) {
                skip_order.push(key);
            }
            skips.entry(key).or_default().insert(&c.provider);
        }
        if !skip_order.is_empty() {
            out.push_str("\nSkipped\n");
            for key in skip_order {
                let ps: Vec<&str> = skips[&key].iter().copied().collect();
                let _ = writeln!(out, "  – {} on {}: {}", key.0, ps.join(", "), key.1);
            }
        }
        for n in &self.notes {
            let _ = writeln!(out, "\nnote: {n}");
        }
        let s = &self.summary;
        let _ = write!(out, "\n{} passed", s.passed);
        if !outcomes_only.is_empty() {
            let _ = write!(out, " ({} on outcomes only)", outcomes_only.len());
        }
        let _ = write!(out, ", {} failed, {} skipped", s.failed, s.skipped);
        if s.warnings > 0 {
            let _ = write!(out, ", {} warnings", s.warnings);
        }
        if s.expected_failures > 0 {
            let _ = write!(out, " ({} expected)", s.expected_failures);
        }
        if s.unexpected_passes > 0 {
            let _ = write!(out, ", {} unexpected passes", s.unexpected_passes);
        }
        let _ = writeln!(
            out,
            "; {} cases in {:.2}s: {}",
            s.total,
            self.duration_ms as f64 / 1000.0,
            if self.is_success() { "ok" } else { "FAILED" }
        );
        out
    }
}

pub(crate) fn mark(c: &CaseReport) -> &'static str {
    match (c.status, c.expected_failure.is_some()) {
        (Status::Passed, false) if c.outcomes_only => "◌",
        (Status::Passed, false) => "✓",
        (Status::Passed, true) => "◆",
        (Status::Failed, false) => "✗",
        (Status::Failed, true) => "○",
        (Status::Skipped, _) => "–",
        (Status::Warning, _) => "!",
    }
}

pub(crate) fn unexpected_pass_message(c: &CaseReport) -> String {
    format!(
        "{} / {} passed but is listed as an expected failure ({})",
        c.provider,
        c.scenario,
        c.expected_failure.as_deref().unwrap_or_default()
    )
}

fn failure_text(f: &Failure) -> String {
    let mut out = String::new();
    match f.step {
        Some(i) => {
            let _ = writeln!(out, "at step {i} ({})", f.action);
        }
        None => {
            let _ = writeln!(out, "at {}", f.action);
        }
    }
    let _ = writeln!(out, "expected: {}", f.expected);
    let _ = writeln!(out, "happened: {}", f.actual);
    if !f.journal.is_empty() {
        out.push_str("journal:\n");
        for j in &f.journal {
            let _ = writeln!(out, "  {j}");
        }
    }
    out
}
