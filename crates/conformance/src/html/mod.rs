//! The HTML report: one self-contained page, for people.
//!
//! Inline CSS, no script, no font, image or stylesheet fetched: it opens offline, from a CI
//! artifact as from disk. The matrix uses the text report's marks; every failure and warning
//! gets a sequence diagram of what crossed the wire ([`sequence`]), its failing arrow red, the
//! clause and the fix beside it. Every text from a report (which holds what the wire said) is
//! HTML-escaped here, once, by [`esc`].

mod sequence;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use crate::report::{mark, unexpected_pass_message, CaseReport, Report, Status};
use crate::trace::Trace;

/// `s` with `& < > " '` escaped: safe in element content and in quoted attribute values.
pub(crate) fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Which cases a section of the page holds.
type Keep = fn(&CaseReport) -> bool;

const STYLE: &str = r#"
:root { color-scheme: light; }
* { box-sizing: border-box; }
body { margin: 0; padding: 20px 20px 48px; font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #263238; background: #fafafa; }
h1 { font-size: 24px; margin: 0 0 4px; }
h2 { font-size: 19px; margin: 32px 0 12px; border-bottom: 1px solid #cfd8dc; padding-bottom: 4px; }
h3 { font-size: 16px; margin: 0 0 6px; }
code, pre, .mono { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: 13px; }
pre { white-space: pre-wrap; word-break: break-word; margin: 4px 0; }
.summary { font-size: 16px; margin: 0; }
.summary.ok b { color: #2e7d32; }
.summary.failed b { color: #c62828; }
table.matrix { border-collapse: collapse; background: #fff; margin: 8px 0; }
table.matrix th, table.matrix td { border: 1px solid #cfd8dc; padding: 4px 10px; }
table.matrix thead th { background: #eceff1; font-weight: 600; }
table.matrix th[scope=row] { text-align: left; font-weight: 500; font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: 13px; }
table.matrix td.cell { text-align: center; font-size: 16px; min-width: 3.5em; }
td.cell a { color: inherit; text-decoration: none; display: block; }
td.passed { color: #2e7d32; }
td.failed { color: #fff; background: #c62828; font-weight: 700; }
td.warning { color: #6d4c00; background: #ffe082; font-weight: 700; }
td.skipped { color: #78909c; }
td.expected-failure { color: #6a1b9a; background: #f3e5f5; }
td.unexpected-pass { color: #fff; background: #6a1b9a; }
td.outcomes-only { color: #2e7d32; background: #f1f8e9; }
.legend { color: #546e7a; font-size: 14px; }
.legend span { margin-right: 1.4em; white-space: nowrap; }
article.case { background: #fff; border: 1px solid #cfd8dc; border-left: 6px solid #c62828; border-radius: 4px; padding: 12px 14px; margin: 0 0 20px; }
article.case.warning { border-left-color: #f9a825; }
article.case.expected-failure { border-left-color: #8e24aa; }
.rfc { color: #546e7a; font-weight: 400; }
.title { margin: 0 0 8px; }
.known { color: #6a1b9a; }
.fix { background: #fff8e1; border-radius: 4px; padding: 6px 10px; margin: 8px 0; }
dl.failure { display: grid; grid-template-columns: max-content 1fr; gap: 2px 14px; margin: 8px 0; }
dl.failure dt { color: #546e7a; }
dl.failure dd { margin: 0; }
figure.diagram { margin: 12px 0 4px; overflow-x: auto; background: #fff; }
figure.diagram svg { display: block; }
figure.diagram figcaption { color: #546e7a; font-size: 13px; }
details summary { cursor: pointer; color: #37474f; }
ul.plain { padding-left: 20px; }
ul.plain li { margin: 2px 0; }
.note { white-space: pre-wrap; font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: 13px; background: #fff; border: 1px solid #cfd8dc; padding: 8px 12px; border-radius: 4px; }
footer { margin-top: 32px; color: #546e7a; }
"#;

/// The whole page.
pub(crate) fn render(report: &Report, title: &str) -> String {
    let mut out = String::new();
    let ok = report.is_success();
    let _ = write!(
        out,
        "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>{t}: {verdict}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n<header>\n<h1>{t}</h1>\n<p class=\"summary {class}\" id=\"summary\">{summary}</p>\n</header>\n",
        t = esc(title),
        verdict = if ok { "ok" } else { "FAILED" },
        class = if ok { "ok" } else { "failed" },
        summary = summary_html(report),
    );
    matrix(&mut out, report);

    let cases = |keep: Keep| -> Vec<(usize, &CaseReport)> {
        report
            .cases
            .iter()
            .enumerate()
            .filter(|(_, c)| keep(c))
            .collect()
    };
    let sections: [(&str, &str, Keep); 3] = [
        ("failures", "Failures", CaseReport::is_unexpected_failure),
        ("warnings", "Warnings", |c| c.status == Status::Warning),
        ("expected-failures", "Expected failures", |c| {
            c.status == Status::Failed && c.expected_failure.is_some()
        }),
    ];
    for (id, heading, keep) in sections {
        let these = cases(keep);
        if these.is_empty() {
            continue;
        }
        let _ = writeln!(out, "<section id=\"{id}\">\n<h2>{heading}</h2>");
        for (i, c) in these {
            case_article(&mut out, c, i);
        }
        out.push_str("</section>\n");
    }
    let unexpected = cases(CaseReport::is_unexpected_pass);
    if !unexpected.is_empty() {
        out.push_str("<section id=\"unexpected-passes\">\n<h2>Expected to fail, but passed (remove these expected-failures entries)</h2>\n<ul class=\"plain\">\n");
        for (i, c) in unexpected {
            let _ = writeln!(
                out,
                "<li id=\"case-{i}\">◆ {}</li>",
                esc(&unexpected_pass_message(c))
            );
        }
        out.push_str("</ul>\n</section>\n");
    }
    let outcomes_only = cases(|c| c.outcomes_only && c.status == Status::Passed);
    if !outcomes_only.is_empty() {
        out.push_str("<section id=\"outcomes-only\">\n<h2>Passed on outcomes only (journal expectations not checked)</h2>\n<p>◌ the server is not a mock, so what crossed the wire (the journal) was not checked.</p>\n<ul class=\"plain\">\n");
        for (i, c) in outcomes_only {
            let _ = writeln!(
                out,
                "<li id=\"case-{i}\">◌ {} / {}: {}</li>",
                esc(&c.provider),
                esc(&c.scenario),
                esc(c.reason.as_deref().unwrap_or(""))
            );
        }
        out.push_str("</ul>\n</section>\n");
    }
    skipped(&mut out, report);
    if !report.notes.is_empty() {
        out.push_str("<section id=\"notes\">\n<h2>Notes</h2>\n");
        for n in &report.notes {
            let _ = writeln!(out, "<p class=\"note\">{}</p>", esc(n));
        }
        out.push_str("</section>\n");
    }
    let _ = write!(
        out,
        "<footer>{}</footer>\n</body>\n</html>\n",
        esc(report.to_pretty().lines().last().unwrap_or_default().trim())
    );
    out
}

fn summary_html(report: &Report) -> String {
    let s = &report.summary;
    let mut parts = vec![format!("{} passed", s.passed)];
    parts.push(format!("{} failed", s.failed));
    parts.push(format!("{} skipped", s.skipped));
    if s.warnings > 0 {
        parts.push(format!("{} warnings", s.warnings));
    }
    if s.expected_failures > 0 {
        parts.push(format!("{} expected failures", s.expected_failures));
    }
    if s.unexpected_passes > 0 {
        parts.push(format!("{} unexpected passes", s.unexpected_passes));
    }
    format!(
        "<b>{}</b> · {} · {} cases in {:.2}s",
        if report.is_success() { "ok" } else { "FAILED" },
        esc(&parts.join(", ")),
        s.total,
        report.duration_ms as f64 / 1000.0
    )
}

/// The class of a matrix cell: the status, refined as the marks are.
fn cell_class(c: &CaseReport) -> &'static str {
    match (c.status, c.expected_failure.is_some()) {
        (Status::Passed, false) if c.outcomes_only => "outcomes-only",
        (Status::Passed, false) => "passed",
        (Status::Passed, true) => "unexpected-pass",
        (Status::Failed, false) => "failed",
        (Status::Failed, true) => "expected-failure",
        (Status::Skipped, _) => "skipped",
        (Status::Warning, _) => "warning",
    }
}

/// Whether the case gets an article with a diagram.
fn has_article(c: &CaseReport) -> bool {
    matches!(c.status, Status::Failed | Status::Warning)
}

fn matrix(out: &mut String, report: &Report) {
    let mut providers: Vec<&str> = Vec::new();
    let mut scenarios: Vec<&str> = Vec::new();
    let mut cells: BTreeMap<(&str, &str), (usize, &CaseReport)> = BTreeMap::new();
    for (i, c) in report.cases.iter().enumerate() {
        if !providers.contains(&c.provider.as_str()) {
            providers.push(&c.provider);
        }
        if !scenarios.contains(&c.scenario.as_str()) {
            scenarios.push(&c.scenario);
        }
        cells.insert((c.scenario.as_str(), c.provider.as_str()), (i, c));
    }
    out.push_str("<section id=\"matrix\">\n<h2>Matrix</h2>\n<table class=\"matrix\">\n<thead><tr><th>scenario</th>");
    for p in &providers {
        let _ = write!(out, "<th scope=\"col\">{}</th>", esc(p));
    }
    out.push_str("</tr></thead>\n<tbody>\n");
    for s in &scenarios {
        let _ = write!(out, "<tr><th scope=\"row\">{}</th>", esc(s));
        for p in &providers {
            match cells.get(&(*s, *p)) {
                None => out.push_str("<td class=\"cell none\"></td>"),
                Some((i, c)) => {
                    let mut tip = format!("{} / {}: {}", c.provider, c.scenario, c.status.as_str());
                    if let Some(r) = &c.reason {
                        tip.push_str(" — ");
                        tip.push_str(r);
                    }
                    if let Some(x) = &c.expected_failure {
                        tip.push_str(" (known: ");
                        tip.push_str(x);
                        tip.push(')');
                    }
                    let m = esc(mark(c));
                    let inner = if has_article(c) || c.is_unexpected_pass() || c.outcomes_only {
                        format!("<a href=\"#case-{i}\">{m}</a>")
                    } else {
                        m
                    };
                    let _ = write!(
                        out,
                        "<td class=\"cell {class}\" data-provider=\"{p}\" data-scenario=\"{s}\" data-status=\"{status}\" title=\"{tip}\">{inner}</td>",
                        class = cell_class(c),
                        p = esc(&c.provider),
                        s = esc(&c.scenario),
                        status = c.status.as_str(),
                        tip = esc(&tip),
                    );
                }
            }
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</tbody>\n</table>\n<p class=\"legend\"><span>✓ passed</span> <span>✗ failed</span> <span>– skipped</span> <span>! warning</span> <span>○ expected failure</span> <span>◆ expected to fail but passed</span> <span>◌ passed on outcomes only</span></p>\n</section>\n");
}

fn skipped(out: &mut String, report: &Report) {
    let mut skips: BTreeMap<(&str, &str), BTreeSet<&str>> = BTreeMap::new();
    let mut order: Vec<(&str, &str)> = Vec::new();
    for c in report.cases.iter().filter(|c| c.status == Status::Skipped) {
        let key = (c.scenario.as_str(), c.reason.as_deref().unwrap_or(""));
        if !skips.contains_key(&key) {
            order.push(key);
        }
        skips.entry(key).or_default().insert(&c.provider);
    }
    if order.is_empty() {
        return;
    }
    out.push_str("<section id=\"skipped\">\n<h2>Skipped</h2>\n<ul class=\"plain\">\n");
    for key in order {
        let ps: Vec<&str> = skips[&key].iter().copied().collect();
        let _ = writeln!(
            out,
            "<li class=\"skip\">– <code>{}</code> on {}: {}</li>",
            esc(key.0),
            esc(&ps.join(", ")),
            esc(key.1)
        );
    }
    out.push_str("</ul>\n</section>\n");
}

/// What the callout beside the failing arrow says: the clause, and the fix (or, without
/// one, what was expected).
fn callout(c: &CaseReport) -> sequence::Callout {
    let mut lines: sequence::Callout = Vec::new();
    if !c.rfc.is_empty() {
        lines.push(("clause", format!("✗ {}", c.rfc)));
    }
    match (&c.fix, &c.failure) {
        (Some(fix), _) => lines.push(("fix", format!("fix: {fix}"))),
        (None, Some(f)) => lines.push(("expected", format!("expected {}", f.expected))),
        (None, None) => {
            if let Some(r) = &c.reason {
                lines.push(("expected", r.clone()));
            }
        }
    }
    lines
}

fn case_article(out: &mut String, c: &CaseReport, i: usize) {
    let class = cell_class(c);
    let _ = write!(
        out,
        "<article class=\"case {class}\" id=\"case-{i}\" data-provider=\"{p}\" data-scenario=\"{s}\" data-status=\"{status}\">\n<h3><span class=\"mark\">{m}</span> {p} / {s} <span class=\"rfc\">({rfc})</span></h3>\n<p class=\"title\">{title}</p>\n",
        p = esc(&c.provider),
        s = esc(&c.scenario),
        status = c.status.as_str(),
        m = esc(mark(c)),
        rfc = esc(&c.rfc),
        title = esc(&c.title),
    );
    if let Some(x) = &c.expected_failure {
        let _ = writeln!(out, "<p class=\"known\">known: {}</p>", esc(x));
    }
    match &c.failure {
        Some(f) => {
            let at = match f.step {
                Some(n) => format!("step {n} ({})", f.action),
                None => f.action.clone(),
            };
            let _ = writeln!(
                out,
                "<dl class=\"failure\"><dt>at</dt><dd>{}</dd><dt>expected</dt><dd>{}</dd><dt>happened</dt><dd><pre>{}</pre></dd></dl>",
                esc(&at),
                esc(&f.expected),
                esc(&f.actual)
            );
        }
        None => {
            let _ = writeln!(
                out,
                "<p class=\"reason\">{}</p>",
                esc(c.reason.as_deref().unwrap_or(c.status.as_str()))
            );
        }
    }
    if let Some(fix) = &c.fix {
        let _ = writeln!(out, "<p class=\"fix\"><b>Fix:</b> {}</p>", esc(fix));
    }
    let empty;
    let trace = match &c.trace {
        Some(t) => t,
        None => {
            empty = Trace::new(Vec::new(), Vec::new());
            &empty
        }
    };
    let case_id = format!("{}/{}", c.provider, c.scenario);
    let _ = writeln!(
        out,
        "<figure class=\"diagram\">{}<figcaption>What crossed the wire, in order: requests solid, answers dashed, the failing ones red.</figcaption></figure>",
        sequence::svg(&case_id, trace, &callout(c))
    );
    if let Some(f) = c.failure.as_ref().filter(|f| !f.journal.is_empty()) {
        let _ = writeln!(
            out,
            "<details><summary>journal ({} line{})</summary><pre>{}</pre></details>",
            f.journal.len(),
            if f.journal.len() == 1 { "" } else { "s" },
            esc(&f.journal.join("\n"))
        );
    }
    out.push_str("</article>\n");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::Failure;
    use crate::trace::{Actor, EventKind, TraceEvent};

    fn report() -> Report {
        let trace = Trace::new(
            vec![Actor::Browser, Actor::App, Actor::Crm],
            vec![
                TraceEvent::new(
                    EventKind::Request,
                    Actor::Browser,
                    Actor::App,
                    "GET /callback?code=…&state=…",
                ),
                TraceEvent::new(
                    EventKind::Request,
                    Actor::App,
                    Actor::Crm,
                    "POST /oauth/token <script>",
                )
                .with_seq(4)
                .failing(),
                TraceEvent::new(EventKind::Answer, Actor::Crm, Actor::App, "200").with_status(200),
                TraceEvent::new(EventKind::Answer, Actor::App, Actor::Browser, "302")
                    .with_status(302),
            ],
        );
        let mut r = Report::new(vec![
            CaseReport::new(
                "capsule",
                "happy-path",
                "The happy path",
                "RFC 6749 §4.1",
                Status::Passed,
            ),
            CaseReport::new(
                "capsule",
                "csrf-forged-state",
                "Forged <b>state</b>",
                "RFC 6749 §10.12",
                Status::Passed,
            )
            .with_failure(Failure::at_step(
                2,
                "callback",
                "state_mismatch",
                "ok <img src=x onerror=alert(1)>",
            ))
            .with_fix("compare the state & stop")
            .with_trace(trace),
            CaseReport::new(
                "redtail",
                "pkce-s256",
                "PKCE",
                "RFC 7636 §4.2",
                Status::Skipped,
            )
            .with_reason("pkce.mode = \"unsupported\""),
            CaseReport::new(
                "redtail",
                "happy-path",
                "The happy path",
                "RFC 6749 §4.1",
                Status::Warning,
            )
            .with_reason("half right"),
        ]);
        r.notes.push("a <note>".to_owned());
        r
    }

    #[test]
    fn one_page_with_a_diagram_per_failure_and_warning() {
        let html = render(&report(), "handshake-conformance");
        assert!(html.starts_with("<!doctype html>"));
        assert_eq!(html.matches("<svg class=\"sequence\"").count(), 2);
        assert!(html.contains("data-case=\"capsule/csrf-forged-state\""));
        assert!(html.contains("class=\"arrow request failing\""));
        assert!(html.contains("<p class=\"fix\"><b>Fix:</b> compare the state &amp; stop</p>"));
        // The matrix has every mark and the skip reason.
        for m in ["✓", "✗", "–", "!"] {
            assert!(html.contains(&format!(">{m}<")), "{m}");
        }
        assert!(html.contains("pkce.mode = &quot;unsupported&quot;"));
        // Nothing fetched: no script, no external reference.
        assert!(!html.contains("<script"));
        assert!(!html.contains(" src=\""));
        assert!(!html.contains("href=\"http"));
        assert!(!html.contains("@import"));
        assert!(!html.contains("url("));
    }

    #[test]
    fn everything_from_the_wire_is_escaped() {
        let html = render(&report(), "t");
        assert!(!html.contains("<img"));
        assert!(!html.contains("<b>state</b>"));
        assert!(!html.contains("<note>"));
        assert!(html.contains("ok &lt;img src=x onerror=alert(1)&gt;"));
        assert!(html.contains("POST /oauth/token &lt;script&gt;"));
    }

    #[test]
    fn escapes_quotes_for_attributes() {
        assert_eq!(esc(r#"a"b'c<d>&"#), "a&quot;b&#39;c&lt;d&gt;&amp;");
    }
}
