//! What crossed the wire in a case, in order: the data behind a report's sequence diagrams.
//!
//! A [`Trace`] is kept for every failed or warned case. Its events come from the mock's
//! journal (requests to the CRM, with the mock's status, error and reason) and from the
//! harness's browser (its requests to the app, for `check-client`), and from the steps the
//! runner played. Nothing in it is a secret: requests show their method, path and parameter
//! *names* (and `grant_type`), never a value; answers show the status and the mock's own
//! words, which never hold one either. A trace is bounded ([`MAX_EVENTS`] events, each text
//! at most [`MAX_TEXT`] characters).

use serde::{Deserialize, Serialize};

/// At most this many events are kept per trace: those around the first failing one.
pub const MAX_EVENTS: usize = 160;

/// Each text of an event is cut to this many characters.
pub const MAX_TEXT: usize = 400;

/// A lifeline of a sequence diagram: who sent or received a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Actor {
    /// The user's browser, as the harness plays it.
    Browser,
    /// The client under test, driven in-process by the scenario runner or the explorer.
    Client,
    /// The app under test, reached over HTTP (`check-client`).
    App,
    /// The CRM: the mock (or, in provider mode, the external server).
    Crm,
}

impl Actor {
    /// Lower-case name, as in JSON and in the diagrams' `data-actor`.
    pub fn as_str(self) -> &'static str {
        match self {
            Actor::Browser => "browser",
            Actor::Client => "client",
            Actor::App => "app",
            Actor::Crm => "crm",
        }
    }

    /// The lifeline's heading.
    pub fn label(self) -> &'static str {
        match self {
            Actor::Browser => "browser",
            Actor::Client => "client under test",
            Actor::App => "app",
            Actor::Crm => "CRM (mock)",
        }
    }
}

/// What an event of a trace is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum EventKind {
    /// A step of the case began: a divider across the lifelines, `label` says which.
    Step,
    /// A request from `from` to `to`.
    Request,
    /// The answer to a request, from `from` (who answered) to `to` (who asked).
    Answer,
    /// A request the check expected from `from` to `to` that was never sent.
    Missing,
}

impl EventKind {
    /// Lower-case name, as in JSON and in the diagrams' classes.
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::Step => "step",
            EventKind::Request => "request",
            EventKind::Answer => "answer",
            EventKind::Missing => "missing",
        }
    }
}

/// One event of a [`Trace`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct TraceEvent {
    /// A step, a request, its answer, or a request that never came.
    pub kind: EventKind,
    /// Who sent it (for a step: the actor that plays it).
    pub from: Actor,
    /// Who received it.
    pub to: Actor,
    /// What the arrow says: `POST /oauth/token`, `400 invalid_grant`, `step 2 · callback`.
    pub label: String,
    /// What else a request said, under its arrow: `grant_type`, client authentication and
    /// parameter names (`authorization_code · client_secret_basic · code, redirect_uri`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// The HTTP status of an answer; `None` for an answer that never came (`label` says why)
    /// and for the other kinds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// The mock's RFC 6749 error code of a refusal.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Why the mock refused it, in the mock's words (never a secret).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_description: Option<String>,
    /// The relaxable requirement that caused a refusal (`pkce`, `body_encoding`, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requirement: Option<String>,
    /// The user account the request acted for, as the mock journaled it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// The mock's journal `seq` of the request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seq: Option<u64>,
    /// This event is where the case went wrong.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub failing: bool,
}

impl TraceEvent {
    /// An event of `kind` from `from` to `to` saying `label`, everything else empty.
    pub fn new(kind: EventKind, from: Actor, to: Actor, label: impl Into<String>) -> Self {
        TraceEvent {
            kind,
            from,
            to,
            label: cut(label.into()),
            detail: None,
            status: None,
            error: None,
            error_description: None,
            requirement: None,
            user: None,
            seq: None,
            failing: false,
        }
    }

    /// A step divider, played by `actor`.
    pub fn step(actor: Actor, label: impl Into<String>) -> Self {
        TraceEvent::new(EventKind::Step, actor, actor, label)
    }

    /// Marks the event as where the case went wrong.
    pub fn failing(mut self) -> Self {
        self.failing = true;
        self
    }

    /// Sets what else a request said (empty: nothing).
    pub fn with_detail(mut self, detail: impl Into<String>) -> Self {
        let d = detail.into();
        self.detail = (!d.is_empty()).then(|| cut(d));
        self
    }

    /// Sets the journal `seq`.
    pub fn with_seq(mut self, seq: u64) -> Self {
        self.seq = Some(seq);
        self
    }

    /// Sets the status of an answer.
    pub fn with_status(mut self, status: u16) -> Self {
        self.status = Some(status);
        self
    }

    /// Sets the mock's error code and reason.
    pub fn with_error(mut self, error: Option<String>, description: Option<String>) -> Self {
        self.error = error.map(cut);
        self.error_description = description.map(cut);
        self
    }

    /// Sets the requirement and user.
    pub fn with_context(mut self, requirement: Option<String>, user: Option<String>) -> Self {
        self.requirement = requirement.map(cut);
        self.user = user.map(cut);
        self
    }

    /// A refused answer over HTTP: none at all, a status of 400 or more, or an error code.
    /// (The client's own answers in a scenario are outcomes, never refusals.)
    pub fn is_refusal(&self) -> bool {
        self.kind == EventKind::Answer
            && self.from != Actor::Client
            && (self.error.is_some() || self.status.is_none_or(|s| s == 0 || s >= 400))
    }
}

/// What crossed the wire in one case, in order, with the failing events marked.
///
/// ```
/// use handshake_conformance::{Actor, EventKind, Trace, TraceEvent};
///
/// let trace = Trace::new(
///     vec![Actor::Browser, Actor::Client, Actor::Crm],
///     vec![
///         TraceEvent::new(EventKind::Request, Actor::Client, Actor::Crm, "POST /oauth/token"),
///         TraceEvent::new(EventKind::Answer, Actor::Crm, Actor::Client, "400 invalid_grant")
///             .with_status(400)
///             .failing(),
///     ],
/// );
/// assert_eq!(trace.first_failing(), Some(1));
/// assert_eq!(trace.omitted_before + trace.omitted_after, 0);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Trace {
    /// The lifelines, left to right.
    pub actors: Vec<Actor>,
    /// The events, in order.
    pub events: Vec<TraceEvent>,
    /// Events left out before the first one kept ([`MAX_EVENTS`]).
    #[serde(default)]
    pub omitted_before: usize,
    /// Events left out after the last one kept.
    #[serde(default)]
    pub omitted_after: usize,
}

impl Trace {
    /// A trace of these events, cut to the [`MAX_EVENTS`] around the first failing one.
    pub fn new(actors: Vec<Actor>, events: Vec<TraceEvent>) -> Self {
        let mut events = events;
        let mut omitted_before = 0;
        let mut omitted_after = 0;
        if events.len() > MAX_EVENTS {
            // Most of what is kept leads up to the failure; a little follows it.
            let at = events
                .iter()
                .position(|e| e.failing)
                .unwrap_or(events.len() - 1);
            let start = (at + MAX_EVENTS / 4)
                .saturating_sub(MAX_EVENTS - 1)
                .min(events.len() - MAX_EVENTS);
            omitted_after = events.len() - start - MAX_EVENTS;
            events.truncate(start + MAX_EVENTS);
            events.drain(..start);
            omitted_before = start;
        }
        Trace {
            actors,
            events,
            omitted_before,
            omitted_after,
        }
    }

    /// The index of the first failing event.
    pub fn first_failing(&self) -> Option<usize> {
        self.events.iter().position(|e| e.failing)
    }
}

// ---- building traces (crate-internal) -----------------------------------------------------

/// What a case's failure is blamed on, to mark its events. Empty: the step as a whole (it
/// could not be played), its last answer marked.
#[derive(Debug, Clone, Default)]
pub(crate) struct Blame {
    /// The step's outcome was not the one expected: the client's answer is marked.
    pub(crate) outcome: bool,
    /// These requests (journal `seq`s) are at fault.
    pub(crate) seqs: Vec<u64>,
    /// Requests that should have been sent and never were: which (`revoke request`), and
    /// what was expected.
    pub(crate) missing: Vec<(String, String)>,
}

impl Blame {
    /// The step's outcome.
    pub(crate) fn outcome() -> Blame {
        Blame {
            outcome: true,
            ..Blame::default()
        }
    }

    /// The requests a verdict names (`#12`), else its outcome.
    pub(crate) fn from_text(text: &str) -> Blame {
        let seqs = seqs_named(text);
        if seqs.is_empty() {
            Blame::outcome()
        } else {
            Blame {
                seqs,
                ..Blame::default()
            }
        }
    }

    /// Both blames.
    pub(crate) fn and(mut self, other: Blame) -> Blame {
        self.outcome |= other.outcome;
        self.seqs.extend(other.seqs);
        self.missing.extend(other.missing);
        self
    }
}

/// One played step of a scenario (or an explored sequence), as a trace tells it.
pub(crate) struct StepView<'a> {
    /// 1-based.
    pub(crate) index: usize,
    pub(crate) action: &'a crate::scenario::Action,
    /// Its outcome, described; `None` when it has none to show.
    pub(crate) outcome: Option<String>,
    /// The mock's journal during the step.
    pub(crate) entries: &'a [crate::control::JournalLine],
    /// The browser's requests during the step, drawn only without a journal (an external
    /// server): with a mock, the journal has them, with the mock's words.
    pub(crate) hits: &'a [crate::browser::Hit],
}

/// Whether the client under test plays this step (the others are the harness's).
fn client_plays(a: &crate::scenario::Action) -> bool {
    use crate::scenario::Action as A;
    matches!(
        a,
        A::Authorize { .. }
            | A::Callback { .. }
            | A::ApiCall
            | A::ParallelApiCalls { .. }
            | A::Refresh
            | A::Logout
            | A::NativeCall { .. }
            | A::ListAll { .. }
    )
}

/// The answer to a journaled request as its arrow says it: `400 invalid_grant`, `dropped`.
fn answer_label(status: u16, error: Option<&str>) -> String {
    match (status, error) {
        (0, _) => "dropped: no answer".to_owned(),
        (s, Some(e)) => format!("{s} {e}"),
        (s, None) => s.to_string(),
    }
}

/// The request and answer events of one journal line, `from` the browser or the client.
pub(crate) fn journal_events(
    e: &crate::control::JournalLine,
    client: Actor,
) -> (TraceEvent, TraceEvent) {
    let from = if e.from_browser {
        Actor::Browser
    } else {
        client
    };
    let (label, detail) = e.request_label();
    let request = TraceEvent::new(EventKind::Request, from, Actor::Crm, label)
        .with_detail(detail)
        .with_seq(e.seq);
    let mut answer = TraceEvent::new(
        EventKind::Answer,
        Actor::Crm,
        from,
        answer_label(e.status, e.error.as_deref()),
    )
    .with_seq(e.seq)
    .with_error(e.error.clone(), e.error_description.clone())
    .with_context(e.requirement.clone(), e.user.clone());
    if e.status != 0 {
        answer = answer.with_status(e.status);
    }
    (request, answer)
}

/// A browser request without a journal (an external server): path and parameter names.
pub(crate) fn hit_events(
    h: &crate::browser::Hit,
    to: Actor,
    path: &str,
) -> (TraceEvent, TraceEvent) {
    let names: Vec<String> = h.url.query_pairs().map(|(k, _)| k.into_owned()).collect();
    let request = TraceEvent::new(
        EventKind::Request,
        Actor::Browser,
        to,
        format!("{} {path}", h.method),
    )
    .with_detail(names.join(", "));
    let answer = match &h.answer {
        Ok(status) => TraceEvent::new(EventKind::Answer, to, Actor::Browser, status.to_string())
            .with_status(*status),
        Err(why) => TraceEvent::new(
            EventKind::Answer,
            to,
            Actor::Browser,
            format!("no answer: {why}"),
        ),
    };
    (request, answer)
}

/// The trace of played steps (browser, client, CRM), the failing step's events marked by
/// `blame`.
pub(crate) fn of_steps(steps: &[StepView<'_>], failing: Option<(usize, &Blame)>) -> Trace {
    let mut events: Vec<TraceEvent> = Vec::new();
    let blamed: &[u64] = failing.map_or(&[], |(_, b)| &b.seqs);
    for s in steps {
        let here = failing.filter(|(i, _)| *i == s.index).map(|(_, b)| b);
        let mut divider = TraceEvent::step(
            Actor::Client,
            format!(
                "step {} · {}",
                s.index,
                crate::explore::describe_action(s.action)
            ),
        );
        if here.is_some() {
            divider = divider.failing();
        }
        events.push(divider);
        let first_of_step = events.len();
        let by_client = client_plays(s.action);
        if by_client {
            events.push(TraceEvent::new(
                EventKind::Request,
                Actor::Browser,
                Actor::Client,
                s.action.name(),
            ));
        }
        for e in s.entries {
            let (mut req, mut ans) = journal_events(e, Actor::Client);
            if blamed.contains(&e.seq) {
                req.failing = true;
                ans.failing = true;
            }
            events.push(req);
            events.push(ans);
        }
        if s.entries.is_empty() {
            for h in s.hits {
                let (req, ans) = hit_events(h, Actor::Crm, h.url.path());
                events.push(req);
                events.push(ans);
            }
        }
        for (what, expected) in here.map_or(&[][..], |b| &b.missing) {
            events.push(
                TraceEvent::new(EventKind::Missing, Actor::Client, Actor::Crm, what.clone())
                    .with_detail(expected.clone())
                    .failing(),
            );
        }
        if by_client {
            let mut ans = TraceEvent::new(
                EventKind::Answer,
                Actor::Client,
                Actor::Browser,
                s.outcome.clone().unwrap_or_else(|| "no outcome".to_owned()),
            );
            if here.is_some_and(|b| b.outcome) {
                ans.failing = true;
            }
            events.push(ans);
        }
        if let Some(b) = here {
            let step = &mut events[first_of_step..];
            let marked = step.iter().any(|e| e.failing && e.kind != EventKind::Step);
            // An outcome gone wrong where the mock refused something: the refusal is the
            // evidence. Anything else with no arrow marked: the step's last answer.
            if (b.outcome && b.seqs.is_empty()) || !marked {
                if let Some(r) = step.iter_mut().find(|e| e.is_refusal()) {
                    r.failing = true;
                } else if !marked {
                    if let Some(last) = step.iter_mut().rev().find(|e| e.kind == EventKind::Answer)
                    {
                        last.failing = true;
                    }
                }
            }
        }
    }
    Trace::new(vec![Actor::Browser, Actor::Client, Actor::Crm], events)
}

/// `s` cut to [`MAX_TEXT`] characters, with `…` when cut.
pub(crate) fn cut(s: String) -> String {
    if s.chars().count() <= MAX_TEXT {
        return s;
    }
    let mut out: String = s.chars().take(MAX_TEXT - 1).collect();
    out.push('…');
    out
}

/// The journal `seq`s a text names as `#12`: how verdicts and journal lines point at the
/// requests they are about.
pub(crate) fn seqs_named(text: &str) -> Vec<u64> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(i) = rest.find('#') {
        rest = &rest[i + 1..];
        let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
        if let Ok(n) = digits.parse::<u64>() {
            if !out.contains(&n) {
                out.push(n);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(i: usize) -> TraceEvent {
        TraceEvent::new(
            EventKind::Request,
            Actor::Client,
            Actor::Crm,
            format!("#{i}"),
        )
    }

    #[test]
    fn a_long_trace_keeps_the_events_around_the_failure() {
        let mut events: Vec<TraceEvent> = (0..1000).map(ev).collect();
        events[600].failing = true;
        let t = Trace::new(vec![Actor::Client, Actor::Crm], events);
        assert_eq!(t.events.len(), MAX_EVENTS);
        assert_eq!(t.omitted_before + t.events.len() + t.omitted_after, 1000);
        let f = t.first_failing().unwrap();
        assert!(f > MAX_EVENTS / 2 && f < MAX_EVENTS - 10, "{f}");
        assert_eq!(t.events[f].label, "#600");

        // Failing near either end, or nowhere: still within bounds.
        for at in [0, 5, 995, 999] {
            let mut events: Vec<TraceEvent> = (0..1000).map(ev).collect();
            events[at].failing = true;
            let t = Trace::new(vec![Actor::Client, Actor::Crm], events);
            assert_eq!(t.events.len(), MAX_EVENTS);
            assert!(t.first_failing().is_some(), "{at}");
        }
        let t = Trace::new(vec![], (0..1000).map(ev).collect());
        assert_eq!(t.omitted_after, 0, "without a failure, the end is kept");
    }

    #[test]
    fn texts_are_cut() {
        let e = TraceEvent::new(EventKind::Step, Actor::App, Actor::App, "x".repeat(5000));
        assert_eq!(e.label.chars().count(), MAX_TEXT);
        assert!(e.label.ends_with('…'));
    }

    #[test]
    fn seqs_named_in_text() {
        assert_eq!(
            seqs_named("request #3 and #12, not #x or #, again #3"),
            [3, 12]
        );
        assert!(seqs_named("no numbers").is_empty());
    }
}
