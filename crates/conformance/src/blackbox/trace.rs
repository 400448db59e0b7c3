//! A check's trace: the browser's requests to the app and the app's requests to the mock,
//! merged in the order they happened.
//!
//! Every recorded browser request carries the mock journal's progress when it was sent and
//! when it was answered (see `browser::JournalClock`), so an app's request to the mock with a
//! `seq` in between is drawn inside the browser's request that caused it. The browser's own
//! requests to the mock are drawn from the journal (its `User-Agent` tells them apart),
//! with the mock's words. Paths are shown through the run's redactor and queries by
//! parameter names only.

use std::time::Instant;

use handshake_mock::JournalEntry;
use url::{Origin, Url};

use super::app::Redactor;
use crate::browser::{is_browser_request, Hit};
use crate::trace::{hit_events, Actor, EventKind, Trace, TraceEvent};

/// What a check's verdict rests on, to pick and mark its events.
pub(super) struct Evidence<'a> {
    /// When the check ran.
    pub(super) span: Option<(Instant, Instant)>,
    /// Where to look when nothing was recorded while it ran (judgements over earlier
    /// logins): the logins' spans.
    pub(super) fallback: &'a [(Instant, Instant)],
    /// The journal entries the verdict names.
    pub(super) seqs: &'a [u64],
    /// The browser request whose answer the verdict is about.
    pub(super) hit: Option<(&'static str, &'a Url)>,
}

/// One event and where it sorts: journal `seq` (or the mark a browser request was stamped
/// with), then journal entries before browser requests at the same mark, then arrival.
type Keyed = ((u64, u8, usize), TraceEvent);

/// The trace of one check, from every recorded request of the run and the journal since the
/// run started (sorted by `seq`).
pub(super) fn of_check(
    hits: &[Hit],
    journal: &[JournalEntry],
    app: &Origin,
    redactor: &Redactor,
    ev: &Evidence<'_>,
) -> Trace {
    let within = |spans: &[(Instant, Instant)]| -> Vec<usize> {
        hits.iter()
            .enumerate()
            .filter(|(_, h)| spans.iter().any(|(a, b)| h.at >= *a && h.at <= *b))
            .map(|(i, _)| i)
            .collect()
    };
    let mut picked: Vec<usize> = ev.span.map(|s| within(&[s])).unwrap_or_default();
    if picked.is_empty() && !ev.seqs.is_empty() {
        picked = hits
            .iter()
            .enumerate()
            .filter(|(_, h)| {
                h.journal
                    .is_some_and(|(a, b)| ev.seqs.iter().any(|s| *s > a && *s <= b))
            })
            .map(|(i, _)| i)
            .collect();
    }
    if picked.is_empty() && ev.seqs.is_empty() {
        picked = within(ev.fallback);
    }
    let stamped = picked.iter().all(|&i| hits[i].journal.is_some());
    let (lo, hi) = picked
        .iter()
        .filter_map(|&i| hits[i].journal)
        .fold((u64::MAX, 0), |(lo, hi), (a, b)| (lo.min(a), hi.max(b)));
    let entries: Vec<&JournalEntry> = journal
        .iter()
        .filter(|e| (e.seq > lo && e.seq <= hi) || ev.seqs.contains(&e.seq))
        .collect();

    let mut keyed: Vec<Keyed> = Vec::new();
    for (n, e) in entries.iter().enumerate() {
        if !stamped && is_browser_request(e) {
            // Drawn from the browser's own record below.
            continue;
        }
        let (mut req, mut ans) = entry_events(e, redactor);
        if ev.seqs.contains(&e.seq) {
            req.failing = true;
            ans.failing = true;
        }
        keyed.push(((e.seq, 0, 2 * n), req));
        keyed.push(((e.seq, 0, 2 * n + 1), ans));
    }
    // The verdict's request may have been sent more than once: its last answer is the one.
    let evidence = ev.hit.and_then(|(m, u)| {
        picked
            .iter()
            .rposition(|&i| hits[i].method == m && hits[i].url.as_str() == u.as_str())
    });
    for (order, &i) in picked.iter().enumerate() {
        let h = &hits[i];
        let to_app = &h.url.origin() == app;
        if stamped && !to_app {
            // A request to the mock: the journal has it, with the mock's words.
            continue;
        }
        let to = if to_app { Actor::App } else { Actor::Crm };
        let (mut req, mut ans) = hit_events(h, to, &redactor.apply(h.url.path()));
        req.detail = req.detail.map(|d| redactor.apply(&d));
        let (before, after) = match h.journal {
            Some(j) if stamped => j,
            // Without the journal's progress: the browser's requests first, in order, then
            // the app's (their order among them is not known).
            _ => (0, 0),
        };
        if evidence == Some(order) {
            ans.failing = true;
        }
        keyed.push(((before, 1, 2 * order), req));
        keyed.push(((after, 1, 2 * order + 1), ans));
    }
    if !stamped {
        for ((k, _, _), _) in keyed.iter_mut().filter(|((_, p, _), _)| *p == 0) {
            *k = u64::MAX;
        }
    }
    keyed.sort_by_key(|(k, _)| *k);
    let mut events: Vec<TraceEvent> = keyed.into_iter().map(|(_, e)| e).collect();
    if !events.iter().any(|e| e.failing) {
        // Nothing named: the app's first answer that is no answer or a server error, else
        // its last answer.
        let app_answers = || {
            events
                .iter()
                .enumerate()
                .filter(|(_, e)| e.kind == EventKind::Answer && e.from == Actor::App)
                .map(|(i, _)| i)
        };
        let bad = app_answers().find(|&i| events[i].status.is_none_or(|s| s >= 500));
        let pick = bad
            .or_else(|| app_answers().next_back())
            .or_else(|| events.iter().rposition(|e| e.kind == EventKind::Answer));
        if let Some(i) = pick {
            events[i].failing = true;
        }
    }
    if !stamped && !events.is_empty() {
        events.insert(
            0,
            TraceEvent::step(
                Actor::App,
                "the mock's journal could not be read while the browser's requests ran: its entries follow them",
            ),
        );
    }
    Trace::new(vec![Actor::Browser, Actor::App, Actor::Crm], events)
}

/// A journal entry as a request from the browser or the app and the mock's answer: method,
/// path, `grant_type`, client authentication and parameter names, never a value.
fn entry_events(e: &JournalEntry, redactor: &Redactor) -> (TraceEvent, TraceEvent) {
    let from = if is_browser_request(e) {
        Actor::Browser
    } else {
        Actor::App
    };
    let label = format!("{} {}", e.method, redactor.apply(&e.path));
    let mut detail: Vec<String> = Vec::new();
    if let Some(g) = &e.grant_type {
        detail.push(g.clone());
    }
    if let Some(a) = e.client_auth {
        detail.push(a.as_str().to_owned());
    }
    let mut names: Vec<&str> = Vec::new();
    for (k, _) in e.query.iter().chain(&e.params) {
        if k != "grant_type" && k != "…" && !names.contains(&k.as_str()) {
            names.push(k);
        }
    }
    if !names.is_empty() {
        detail.push(redactor.apply(&names.join(", ")));
    }
    let request = TraceEvent::new(EventKind::Request, from, Actor::Crm, label)
        .with_detail(detail.join(" · "))
        .with_seq(e.seq);
    let said = match (e.status, &e.error) {
        (0, _) => "dropped: no answer".to_owned(),
        (s, Some(err)) => format!("{s} {err}"),
        (s, None) => s.to_string(),
    };
    let mut answer = TraceEvent::new(EventKind::Answer, Actor::Crm, from, said)
        .with_seq(e.seq)
        .with_error(e.error.clone(), e.error_description.clone())
        .with_context(e.requirement.map(|r| r.as_str().to_owned()), e.user.clone());
    if e.status != 0 {
        answer = answer.with_status(e.status);
    }
    (request, answer)
}
