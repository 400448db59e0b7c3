//! A [`Trace`] as a sequence diagram: one inline SVG, no script, no font or file fetched.
//!
//! Lifelines left to right in the trace's actor order; each request a solid arrow, each
//! answer a dashed one back, each step a shaded divider. The failing events are drawn red
//! (class `failing`), and a callout beside the first one gives the clause and the fix. Every
//! element a test may look for has a stable class: `svg.sequence[data-case]`,
//! `g.lifeline[data-actor]`, `g.arrow[data-from][data-to][data-kind]`, `g.step`,
//! `g.callout` (with `.clause` and `.fix` texts). Colours are presentation attributes, so
//! the SVG stands on its own outside the page too.

use std::fmt::Write as _;

use super::esc;
use crate::trace::{Actor, EventKind, Trace, TraceEvent};

/// Width of one lifeline's lane.
const LANE: f64 = 260.0;
/// Left margin.
const LEFT: f64 = 12.0;
/// Where the first row starts, below the lifeline headings.
const TOP: f64 = 56.0;
/// Width of a monospace character at the arrows' font size (12px), rounded up.
const MONO_CHAR: f64 = 7.3;
/// Width of an average proportional character at 12px, rounded up.
const SANS_CHAR: f64 = 6.6;
/// The callout's width, and the characters of a line in it.
const CALLOUT_W: f64 = 340.0;
const CALLOUT_CHARS: usize = 46;
/// Lines of detail under an arrow, at most.
const DETAIL_LINES: usize = 3;

const INK: &str = "#263238";
const MUTED: &str = "#546e7a";
const RED: &str = "#c62828";
const STEP_FILL: &str = "#eceff1";

/// What the callout beside the first failing event says: paragraphs, each with the class
/// of its `<text>` (`clause`, `fix`, `expected`).
pub(crate) type Callout = Vec<(&'static str, String)>;

/// The trace as an `<svg class="sequence" data-case="{case}">`.
pub(crate) fn svg(case: &str, trace: &Trace, callout: &Callout) -> String {
    let actors: Vec<Actor> = if trace.actors.is_empty() {
        vec![Actor::Browser, Actor::Client, Actor::Crm]
    } else {
        trace.actors.clone()
    };
    let lane_x = |a: Actor| {
        let i = actors.iter().position(|x| *x == a).unwrap_or(0);
        LEFT + LANE / 2.0 + i as f64 * LANE
    };
    let lanes_right = LEFT + actors.len() as f64 * LANE;

    let mut body = String::new();
    let mut y = TOP;
    let mut failing_at: Option<(f64, f64)> = None;
    if trace.omitted_before > 0 {
        y = note_row(
            &mut body,
            y,
            lanes_right,
            &format!(
                "… {} earlier event{} not shown",
                trace.omitted_before,
                plural(trace.omitted_before)
            ),
        );
    }
    if trace.events.is_empty() {
        y = note_row(&mut body, y, lanes_right, "no request crossed the wire");
    }
    for e in &trace.events {
        match e.kind {
            EventKind::Step => {
                y = step_row(&mut body, y, lanes_right, e);
            }
            EventKind::Request | EventKind::Answer | EventKind::Missing => {
                let (x1, x2) = (lane_x(e.from), lane_x(e.to));
                let arrow_y = y + 22.0;
                if e.failing && failing_at.is_none() {
                    failing_at = Some((x1.max(x2), arrow_y));
                }
                y = arrow_row(&mut body, arrow_y, x1, x2, e);
            }
        }
    }
    if trace.omitted_after > 0 {
        y = note_row(
            &mut body,
            y,
            lanes_right,
            &format!(
                "… {} later event{} not shown",
                trace.omitted_after,
                plural(trace.omitted_after)
            ),
        );
    }
    let rows_end = y + 12.0;

    let mut callout_svg = String::new();
    let mut height = rows_end;
    let width = if callout.is_empty() {
        lanes_right + LEFT
    } else {
        lanes_right + 28.0 + CALLOUT_W + LEFT
    };
    if !callout.is_empty() {
        // Beside the failing arrow; at the top when nothing is marked.
        let (from_x, at_y) = failing_at.unwrap_or((lanes_right - LANE / 2.0, TOP + 22.0));
        let bottom = callout_box(&mut callout_svg, lanes_right + 28.0, at_y, from_x, callout);
        height = height.max(bottom + 12.0);
    }

    let mut out = String::new();
    let _ = write!(
        out,
        r#"<svg class="sequence" data-case="{case}" xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" viewBox="0 0 {w} {h}" role="img" aria-label="sequence diagram of {case}" font-family="ui-monospace, SFMono-Regular, Menlo, Consolas, monospace" font-size="12">"#,
        case = esc(case),
        w = px(width),
        h = px(height),
    );
    let _ = write!(out, "<title>{}</title>", esc(case));
    for a in &actors {
        let x = lane_x(*a);
        let _ = write!(
            out,
            r##"<g class="lifeline" data-actor="{id}"><line x1="{x}" y1="44" x2="{x}" y2="{end}" stroke="{MUTED}" stroke-dasharray="4 4"/><rect x="{bx}" y="10" width="170" height="32" rx="4" fill="#ffffff" stroke="{INK}"/><text x="{x}" y="31" text-anchor="middle" font-family="system-ui, sans-serif" font-size="13" font-weight="600" fill="{INK}">{label}</text></g>"##,
            id = a.as_str(),
            x = px(x),
            end = px(rows_end),
            bx = px(x - 85.0),
            label = esc(a.label()),
        );
    }
    out.push_str(&body);
    out.push_str(&callout_svg);
    out.push_str("</svg>");
    out
}

fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

/// A coordinate as SVG text: whole pixels where it is one, else one decimal.
fn px(v: f64) -> String {
    if (v - v.round()).abs() < 0.05 {
        format!("{}", v.round() as i64)
    } else {
        format!("{v:.1}")
    }
}

/// `s` cut to `max` characters, with `…`.
fn fit(s: &str, max: usize) -> String {
    let max = max.max(4);
    if s.chars().count() <= max {
        s.to_owned()
    } else {
        let mut out: String = s.chars().take(max - 1).collect();
        out.push('…');
        out
    }
}

fn note_row(out: &mut String, y: f64, right: f64, text: &str) -> f64 {
    let _ = write!(
        out,
        r#"<g class="note"><text x="{x}" y="{ty}" font-family="system-ui, sans-serif" font-style="italic" fill="{MUTED}">{t}</text></g>"#,
        x = px(LEFT + 6.0),
        ty = px(y + 16.0),
        t = esc(&fit(text, ((right - LEFT) / SANS_CHAR) as usize)),
    );
    y + 26.0
}

fn step_row(out: &mut String, y: f64, right: f64, e: &TraceEvent) -> f64 {
    let (fill, ink, class) = if e.failing {
        ("#ffebee", RED, "step failing")
    } else {
        (STEP_FILL, INK, "step")
    };
    let _ = write!(
        out,
        r#"<g class="{class}"><title>{full}</title><rect x="{x}" y="{ry}" width="{w}" height="22" fill="{fill}"/><text x="{tx}" y="{ty}" font-family="system-ui, sans-serif" font-weight="600" fill="{ink}">{t}</text></g>"#,
        full = esc(&e.label),
        x = px(LEFT),
        ry = px(y + 4.0),
        w = px(right - LEFT),
        tx = px(LEFT + 6.0),
        ty = px(y + 19.0),
        t = esc(&fit(&e.label, ((right - LEFT - 12.0) / SANS_CHAR) as usize)),
    );
    y + 30.0
}

/// One arrow at `y`, its label above and the mock's reason below; returns the next row's top.
fn arrow_row(out: &mut String, y: f64, x1: f64, x2: f64, e: &TraceEvent) -> f64 {
    let colour = if e.failing { RED } else { INK };
    let width = if e.failing { 2.5 } else { 1.4 };
    let dashed = matches!(e.kind, EventKind::Answer | EventKind::Missing);
    let dir = if x2 >= x1 { 1.0 } else { -1.0 };
    let tip = x2 - dir * 2.0;
    let base = tip - dir * 10.0;
    let span = (x2 - x1).abs().max(LANE);
    let mut class = format!("arrow {}", e.kind.as_str());
    if e.failing {
        class.push_str(" failing");
    }
    if e.is_refusal() {
        class.push_str(" refused");
    }
    let mut title = e.label.clone();
    let detail = detail_line(e);
    if let Some(d) = &detail {
        title.push_str(" — ");
        title.push_str(d);
    }
    let _ = write!(
        out,
        r#"<g class="{class}" data-from="{from}" data-to="{to}" data-kind="{kind}""#,
        from = e.from.as_str(),
        to = e.to.as_str(),
        kind = e.kind.as_str(),
    );
    if let Some(seq) = e.seq {
        let _ = write!(out, r#" data-seq="{seq}""#);
    }
    if let Some(s) = e.status {
        let _ = write!(out, r#" data-status="{s}""#);
    }
    let _ = write!(
        out,
        r#"><title>{title}</title><line x1="{x1}" y1="{y}" x2="{base}" y2="{y}" stroke="{colour}" stroke-width="{width}"{dash}/><polygon points="{tip},{y} {base},{up} {base},{down}" fill="{colour}"/>"#,
        title = esc(&title),
        x1 = px(x1),
        y = px(y),
        base = px(base),
        tip = px(tip),
        up = px(y - 5.0),
        down = px(y + 5.0),
        dash = if dashed {
            r#" stroke-dasharray="6 4""#
        } else {
            ""
        },
    );
    let label = match e.kind {
        EventKind::Missing => format!("✗ never sent: {}", e.label),
        _ if e.failing => format!("✗ {}", e.label),
        _ => e.label.clone(),
    };
    let mid = (x1 + x2) / 2.0;
    let _ = write!(
        out,
        r##"<text class="label" x="{x}" y="{ty}" text-anchor="middle" fill="{colour}" stroke="#ffffff" stroke-width="3" stroke-linejoin="round" paint-order="stroke"{bold}>{t}</text>"##,
        x = px(mid),
        ty = px(y - 7.0),
        bold = if e.failing {
            r#" font-weight="700""#
        } else {
            ""
        },
        t = esc(&fit(&label, (span / MONO_CHAR) as usize - 1)),
    );
    let mut next = y + 12.0;
    if let Some(d) = &detail {
        let mut lines = wrap(d, (span / SANS_CHAR) as usize - 1);
        if lines.len() > DETAIL_LINES {
            lines.truncate(DETAIL_LINES);
            let last = lines.pop().unwrap_or_default();
            lines.push(format!("{}…", last.trim_end_matches('…')));
        }
        let _ = write!(
            out,
            r##"<text class="detail" x="{x}" y="{ty}" text-anchor="middle" font-family="system-ui, sans-serif" fill="{fill}" stroke="#ffffff" stroke-width="3" stroke-linejoin="round" paint-order="stroke">"##,
            x = px(mid),
            ty = px(y + 16.0),
            fill = if e.failing { RED } else { MUTED },
        );
        let n = lines.len();
        for (i, l) in lines.iter().enumerate() {
            let sep = if i + 1 < n { " " } else { "" };
            let _ = write!(
                out,
                r#"<tspan x="{x}" dy="{dy}">{t}{sep}</tspan>"#,
                x = px(mid),
                dy = if i == 0 { "0" } else { "15" },
                t = esc(&fit(l, (span / SANS_CHAR) as usize - 1)),
            );
        }
        out.push_str("</text>");
        next = y + 12.0 + 15.0 * n as f64;
    }
    out.push_str("</g>");
    next
}

/// The text under an arrow: what else a request said; for an answer the mock's reason, the
/// relaxable requirement, the user.
fn detail_line(e: &TraceEvent) -> Option<String> {
    let mut parts = Vec::new();
    if let Some(d) = &e.detail {
        parts.push(d.clone());
    }
    if let Some(d) = &e.error_description {
        parts.push(d.clone());
    }
    if let Some(r) = &e.requirement {
        parts.push(format!("requirement: {r}"));
    }
    if let Some(u) = &e.user {
        parts.push(format!("user: {u}"));
    }
    (!parts.is_empty()).then(|| parts.join(" · "))
}

/// Words of `text` in lines of at most `width` characters (a longer word stands alone).
fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut lines = Vec::new();
    let mut line = String::new();
    for word in text.split_whitespace() {
        if !line.is_empty() && line.chars().count() + 1 + word.chars().count() > width {
            lines.push(std::mem::take(&mut line));
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
    }
    if !line.is_empty() {
        lines.push(line);
    }
    lines
}

/// The callout at `x`, its first line level with the failing arrow at `at_y`, joined to the
/// arrow's end at `from_x`; returns its bottom.
fn callout_box(out: &mut String, x: f64, at_y: f64, from_x: f64, callout: &Callout) -> f64 {
    let top = (at_y - 18.0).max(10.0);
    let mut texts = String::new();
    let mut line_y = top + 20.0;
    for (class, para) in callout {
        let lines = wrap(para, CALLOUT_CHARS);
        if lines.is_empty() {
            continue;
        }
        let weight = if *class == "clause" {
            r#" font-weight="700""#
        } else {
            ""
        };
        let _ = write!(
            texts,
            r#"<text class="{class}" x="{x}" y="{y}" font-family="system-ui, sans-serif" font-size="12.5" fill="{fill}"{weight}>"#,
            x = px(x + 12.0),
            y = px(line_y),
            fill = if *class == "clause" { RED } else { INK },
        );
        let n = lines.len();
        for (i, l) in lines.iter().enumerate() {
            // A trailing space keeps the paragraph's words apart in its textContent.
            let sep = if i + 1 < n { " " } else { "" };
            let _ = write!(
                texts,
                r#"<tspan x="{x}" dy="{dy}">{t}{sep}</tspan>"#,
                x = px(x + 12.0),
                dy = if i == 0 { "0" } else { "17" },
                t = esc(l),
            );
        }
        texts.push_str("</text>");
        line_y += 17.0 * n as f64 + 6.0;
    }
    let bottom = line_y - 6.0;
    let _ = write!(
        out,
        r##"<g class="callout"><line x1="{fx}" y1="{ay}" x2="{x}" y2="{ay}" stroke="{RED}" stroke-width="1" stroke-dasharray="2 3"/><rect x="{x}" y="{top}" width="{w}" height="{h}" rx="6" fill="#fff8f8" stroke="{RED}"/>{texts}</g>"##,
        fx = px(from_x + 4.0),
        ay = px(at_y),
        x = px(x),
        top = px(top),
        w = px(CALLOUT_W),
        h = px(bottom - top),
    );
    bottom
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A small fixed trace: a forged callback the client accepted, then the token request
    /// it should never have sent, and a refusal with the mock's reason.
    fn fixed() -> Trace {
        let ev = TraceEvent::new;
        Trace::new(
            vec![Actor::Browser, Actor::Client, Actor::Crm],
            vec![
                TraceEvent::step(Actor::Client, "step 1 · authorize"),
                ev(
                    EventKind::Request,
                    Actor::Browser,
                    Actor::Client,
                    "authorize",
                ),
                ev(
                    EventKind::Request,
                    Actor::Browser,
                    Actor::Crm,
                    "GET /oauth/authorise",
                )
                .with_detail("response_type, client_id, state")
                .with_seq(1),
                ev(EventKind::Answer, Actor::Crm, Actor::Browser, "302")
                    .with_seq(1)
                    .with_status(302)
                    .with_context(None, Some("alice".into())),
                ev(EventKind::Answer, Actor::Client, Actor::Browser, "ok"),
                TraceEvent::step(Actor::Client, "step 2 · callback tamper = \"forge_state\"")
                    .failing(),
                ev(
                    EventKind::Request,
                    Actor::Browser,
                    Actor::Client,
                    "callback",
                ),
                ev(
                    EventKind::Request,
                    Actor::Client,
                    Actor::Crm,
                    "POST /oauth/token",
                )
                .with_detail("authorization_code · client_secret_basic · code, redirect_uri")
                .with_seq(2)
                .failing(),
                ev(
                    EventKind::Answer,
                    Actor::Crm,
                    Actor::Client,
                    "400 invalid_grant",
                )
                .with_seq(2)
                .with_status(400)
                .with_error(
                    Some("invalid_grant".into()),
                    Some("code_verifier does not match <the> \"challenge\" & more".into()),
                )
                .failing(),
                ev(EventKind::Answer, Actor::Client, Actor::Browser, "ok").failing(),
                ev(
                    EventKind::Missing,
                    Actor::Client,
                    Actor::Crm,
                    "POST /oauth/revoke",
                )
                .failing(),
            ],
        )
    }

    fn callout() -> Callout {
        vec![
            ("clause", "RFC 6749 §10.12".to_owned()),
            (
                "fix",
                "compare the callback's state with the one stored in this user's session and stop before exchanging the code".to_owned(),
            ),
        ]
    }

    #[test]
    fn sequence_diagram_snapshot() {
        let svg = svg("capsule/state-mismatch", &fixed(), &callout());
        // One element per line, so a change shows as a readable diff.
        insta::assert_snapshot!(svg.replace("><", ">\n<"));
    }

    #[test]
    fn elements_have_stable_classes() {
        let s = svg("capsule/state-mismatch", &fixed(), &callout());
        assert!(s.starts_with(r#"<svg class="sequence" data-case="capsule/state-mismatch""#));
        for actor in ["browser", "client", "crm"] {
            assert_eq!(
                s.matches(&format!(r#"<g class="lifeline" data-actor="{actor}">"#))
                    .count(),
                1,
                "{actor}"
            );
        }
        assert_eq!(s.matches(r#"<g class="arrow "#).count(), 9);
        assert_eq!(
            s.matches(r#"class="arrow request failing" data-from="client" data-to="crm""#)
                .count(),
            1
        );
        assert_eq!(s.matches(r#"class="arrow missing failing"#).count(), 1);
        assert_eq!(s.matches(r#"<g class="step"#).count(), 2);
        assert!(s.contains(r#"<g class="callout">"#));
        assert!(s.contains("RFC 6749 §10.12"));
        // Escaped, never raw.
        assert!(
            s.contains("&lt;the&gt; &quot;challenge&quot; &amp; more"),
            "{s}"
        );
        assert!(!s.contains("<the>"));
    }

    #[test]
    fn long_labels_fit_their_lane() {
        let long = "x".repeat(300);
        let t = Trace::new(
            vec![Actor::Client, Actor::Crm],
            vec![TraceEvent::new(
                EventKind::Request,
                Actor::Client,
                Actor::Crm,
                long.clone(),
            )],
        );
        let s = svg("c", &t, &Vec::new());
        let label = s
            .split(r#"<text class="label""#)
            .nth(1)
            .and_then(|r| r.split('>').nth(1))
            .and_then(|r| r.split('<').next())
            .unwrap();
        assert!(label.chars().count() as f64 * MONO_CHAR <= LANE, "{label}");
        assert!(label.ends_with('…'));
        // The full label is in the tooltip.
        assert!(s.contains(&format!("<title>{long}</title>")));
    }

    #[test]
    fn an_empty_trace_says_so() {
        let t = Trace::new(vec![Actor::Browser, Actor::App, Actor::Crm], Vec::new());
        let s = svg("c", &t, &callout());
        assert!(s.contains("no request crossed the wire"));
        assert!(s.contains(r#"data-actor="app""#));
        assert!(s.contains(r#"<g class="callout">"#));
    }

    #[test]
    fn wrapping_keeps_every_word() {
        let text = "one two three four five six seven eight nine ten eleven twelve";
        let lines = wrap(text, 14);
        assert!(lines.iter().all(|l| l.chars().count() <= 14), "{lines:?}");
        assert_eq!(lines.join(" "), text);
        assert_eq!(wrap(&"y".repeat(30), 10), ["y".repeat(30)]);
    }
}
