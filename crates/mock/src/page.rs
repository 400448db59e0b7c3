//! The live page at `GET /__handshake/`: the journal as it happens (refusals with their
//! reasons, faults fired), the faults armed, the grants alive, the relaxations, and buttons
//! for the common control calls. Server-rendered HTML plus one small inline script (no
//! framework, nothing fetched from elsewhere: it works offline), allowed by its hash in the
//! page's `Content-Security-Policy`.
//!
//! Everything shown comes from the redacted journal and the control API, so secrets are
//! redacted exactly as in `GET /__handshake/journal`. The script inserts request text only
//! with `textContent`, and the server escapes it, so a request cannot inject markup.
//!
//! `GET /__handshake/events` is the page's feed, and anyone's: Server-Sent Events, one
//! `event: entry` per completed request (`data`: the [`JournalEntry`] JSON), and `event:
//! lagged` (`data`: how many entries a slow reader missed).

use std::convert::Infallible;
use std::fmt::Write as _;
use std::sync::Arc;
use std::sync::LazyLock;

use axum::extract::State;
use axum::http::header::{CONTENT_SECURITY_POLICY, LOCATION};
use axum::http::{HeaderValue, StatusCode};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use sha2::{Digest, Sha256};
use tokio::sync::broadcast::error::RecvError;

use crate::responses::{html_escape, html_headers, no_store};
use crate::state::Shared;
use crate::sync::lock;
use crate::types::{Fault, FaultKind, JournalEntry};

/// Journal entries rendered with the page; older ones stay in `GET /__handshake/journal`.
const RENDERED_ENTRIES: usize = 200;

const STYLE: &str = r#"
:root{color-scheme:light;--fg:#1d1f23;--muted:#5b616b;--line:#d8dbe0;--bad:#b3261e;--badbg:#fdf0ef;--ok:#1e7a35;--accent:#1f5fbf}
*{box-sizing:border-box}
body{font:15px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;color:var(--fg);margin:0;padding:1.25rem 1.5rem;background:#fff}
h1{font-size:1.35rem;margin:0 0 .25rem}h1 small{font-weight:400;color:var(--muted);font-size:.95rem}
h2{font-size:1rem;margin:0 0 .4rem}
header p{margin:.15rem 0;color:var(--muted)}
code{font:13.5px/1.4 ui-monospace,SFMono-Regular,Menlo,Consolas,monospace}
section{margin-top:1rem}
#controls button{font:inherit;font-size:.9rem;padding:.35rem .75rem;margin:0 .35rem .35rem 0;border:1px solid var(--line);border-radius:6px;background:#f6f7f9;cursor:pointer}
#controls button:hover{border-color:var(--accent)}
#action-status{color:var(--muted);margin-left:.25rem}
#state{display:grid;grid-template-columns:repeat(auto-fit,minmax(14rem,1fr));gap:1rem}
#state ul{margin:0;padding-left:1.1rem}#state li.none{color:var(--muted);list-style:none;margin-left:-1.1rem}
#journal-head{display:flex;gap:1rem;align-items:baseline}
#feed{font-size:.85rem;padding:0 .45rem;border-radius:9px;background:#eee;color:var(--muted)}#feed.on{background:#e3f4e6;color:var(--ok)}
table{border-collapse:collapse;width:100%;table-layout:fixed}
th,td{text-align:left;vertical-align:top;padding:.3rem .45rem;border-bottom:1px solid var(--line);overflow-wrap:anywhere}
th{font-size:.85rem;color:var(--muted);font-weight:600}
col.seq{width:3.5rem}col.endpoint{width:6.5rem}col.status{width:5rem}col.user{width:5.5rem}col.request{width:38%}
tr.refused td{background:var(--badbg)}tr.refused td.status{color:var(--bad);font-weight:600}
tr.ok td.status{color:var(--ok)}
td.reason b.error{color:var(--bad)}
.params,.note{font-size:.85rem;color:var(--muted)}.note{font-style:italic}
body.refusals-only tr.ok{display:none}
tr#empty td{color:var(--muted);text-align:center}
"#;

const SCRIPT: &str = r#"
(() => {
  "use strict";
  const base = "/__handshake/";
  const tbody = document.getElementById("entries");
  const MAX_ROWS = 500;
  const seen = new Set();
  for (const r of tbody.rows) if (r.dataset.seq) seen.add(Number(r.dataset.seq));
  const el = (tag, cls, text) => {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    return e;
  };
  const status = (text) => { document.getElementById("action-status").textContent = text; };
  const pairs = (list, sep) => list.map(([k, v]) => k + "=" + v).join(sep);
  const refused = (e) => e.status === 0 || e.status >= 400 || e.error !== null || e.error_description !== null;
  function row(e) {
    const tr = el("tr", refused(e) ? "refused" : "ok");
    tr.id = "e" + e.seq;
    tr.dataset.seq = String(e.seq);
    const req = el("td", "request");
    req.append(el("code", null, e.method + " " + e.path + (e.query.length ? "?" + pairs(e.query, "&") : "")));
    if (e.params.length) req.append(el("div", "params", pairs(e.params, " ")));
    const why = el("td", "reason");
    if (e.error) why.append(el("b", "error", e.error));
    if (e.error_description) why.append(document.createTextNode((e.error ? ": " : "") + e.error_description));
    for (const n of e.notes) why.append(el("div", "note", n));
    tr.append(el("td", "seq", String(e.seq)), el("td", "endpoint", e.endpoint || "-"), req,
      el("td", "status", e.status === 0 ? "dropped" : String(e.status)), why, el("td", "user", e.user || ""));
    return tr;
  }
  function add(e) {
    if (seen.has(e.seq)) return;
    seen.add(e.seq);
    document.getElementById("empty")?.remove();
    let before = null;
    for (const r of tbody.rows) if (Number(r.dataset.seq) < e.seq) { before = r; break; }
    tbody.insertBefore(row(e), before);
    while (tbody.rows.length > MAX_ROWS) {
      const last = tbody.rows[tbody.rows.length - 1];
      seen.delete(Number(last.dataset.seq));
      last.remove();
    }
    soon();
  }
  async function json(path) {
    const r = await fetch(base + path, { cache: "no-store" });
    if (!r.ok) throw new Error(path + ": HTTP " + r.status);
    return r.json();
  }
  function fill(id, items) {
    document.getElementById(id).replaceChildren(...(items.length ? items : [el("li", "none", "none")]));
  }
  function fault(f) {
    const how = { oauth_error: () => "error " + f.error, status: () => "status " + f.status,
      delay: () => "delay " + f.delay_ms + " ms", drop: () => "drop the connection",
      rate_limited: () => "rate limited for " + f.retry_after_secs + " s" }[f.kind];
    return f.endpoint + ": " + (how ? how() : f.kind) + " (next " + f.times + ")";
  }
  async function refresh() {
    try {
      const [g, f, x] = await Promise.all([json("grants"), json("faults"), json("relax")]);
      fill("grants", Object.entries(g.by_user).map(([u, n]) => el("li", null, u + ": " + n + " live")));
      const faults = f.faults.map((one) => el("li", null, fault(one)));
      if (f.rate_limited) faults.push(el("li", null, "api: rate limit tripped, " + f.rate_limited.secs_left + " s left"));
      fill("faults", faults);
      fill("relaxed", x.relaxed.map((r) => el("li", null, r)));
    } catch (err) {
      status("cannot reach the mock (" + err.message + ")");
    }
  }
  let pending = null;
  const soon = () => { if (!pending) pending = setTimeout(() => { pending = null; refresh(); }, 150); };
  for (const b of document.querySelectorAll("button[data-action]")) {
    b.addEventListener("click", async () => {
      const init = { method: b.dataset.method || "POST" };
      if (b.dataset.body) { init.headers = { "content-type": "application/json" }; init.body = b.dataset.body; }
      try {
        const r = await fetch(b.dataset.action, init);
        if (r.ok && b.dataset.clears) { tbody.replaceChildren(); seen.clear(); }
        status(r.ok ? b.dataset.done : b.textContent + " failed: HTTP " + r.status);
      } catch (err) {
        status(b.textContent + " failed: " + err.message);
      }
      refresh();
    });
  }
  document.getElementById("refusals-only").addEventListener("change", (ev) => {
    document.body.classList.toggle("refusals-only", ev.target.checked);
  });
  const feed = document.getElementById("feed");
  const events = new EventSource(base + "events");
  events.addEventListener("entry", (ev) => add(JSON.parse(ev.data)));
  events.addEventListener("lagged", (ev) => status(ev.data + " entries went by too fast: reload for the whole journal"));
  events.onopen = async () => {
    feed.textContent = "live";
    feed.className = "on";
    // Entries that completed between the page and the feed.
    try { for (const e of await json("journal?since=" + tbody.dataset.since)) add(e); } catch (err) { status(err.message); }
  };
  events.onerror = () => { feed.textContent = "reconnecting…"; feed.className = "off"; };
  setInterval(refresh, 2000);
})();
"#;

/// The page's `Content-Security-Policy`: nothing but this page's style, its one script (by
/// hash) and same-origin fetches.
static CSP: LazyLock<String> = LazyLock::new(|| {
    let hash = STANDARD.encode(Sha256::digest(SCRIPT.as_bytes()));
    format!(
        "default-src 'none'; style-src 'unsafe-inline'; script-src 'sha256-{hash}'; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    )
});

/// `GET /__handshake` → `/__handshake/`.
pub(crate) async fn redirect() -> Response {
    let mut resp = StatusCode::PERMANENT_REDIRECT.into_response();
    resp.headers_mut()
        .insert(LOCATION, HeaderValue::from_static("/__handshake/"));
    resp
}

/// `GET /__handshake/`: the live page.
pub(crate) async fn page(State(s): State<Arc<Shared>>) -> Response {
    let mut resp = (StatusCode::OK, render(&s)).into_response();
    html_headers(resp.headers_mut());
    if let Ok(v) = HeaderValue::from_str(&CSP) {
        resp.headers_mut().insert(CONTENT_SECURITY_POLICY, v);
    }
    resp
}

/// `GET /__handshake/events`: the live journal as Server-Sent Events.
pub(crate) async fn events(State(s): State<Arc<Shared>>) -> Response {
    let rx = s.live.subscribe();
    let stream = futures::stream::unfold(rx, |mut rx| async move {
        let event = match rx.recv().await {
            Ok(e) => Event::default()
                .event("entry")
                .data(serde_json::to_string(&e).unwrap_or_default()),
            Err(RecvError::Lagged(n)) => Event::default().event("lagged").data(n.to_string()),
            Err(RecvError::Closed) => return None,
        };
        Some((Ok::<_, Infallible>(event), rx))
    });
    let mut resp = Sse::new(stream)
        .keep_alive(KeepAlive::default())
        .into_response();
    no_store(resp.headers_mut());
    resp
}

fn render(s: &Shared) -> String {
    let p = &s.profile;
    let e = html_escape;
    let mut out = String::with_capacity(16 * 1024);
    let _ = write!(
        out,
        r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">
<title>{name} mock – handshake</title>
<style>{STYLE}</style>
</head><body>
<header><h1>{name} <small>handshake mock ({id})</small></h1>
<p>At <code id="base-url">{base}</code> · client <code>{client}</code> · redirect URIs: {redirects}</p>
<p>Users: {users} · JSON: <a href="/__handshake/journal">journal</a>, <a href="/__handshake/metadata">metadata</a>, <a href="/__handshake/faults">faults</a></p>
</header>
"#,
        name = e(&p.name),
        id = e(&p.id),
        base = e(&s.base_url),
        client = e(&s.client.client_id),
        redirects = s
            .client
            .redirect_uris
            .iter()
            .map(|r| format!("<code>{}</code>", e(r)))
            .collect::<Vec<_>>()
            .join(", "),
        users = e(&s.users.join(", ")),
    );
    out.push_str(&controls());
    out.push_str(&state(s));
    journal(s, &mut out);
    let _ = write!(out, "<script>{SCRIPT}</script>\n</body></html>\n");
    out
}

fn controls() -> String {
    let buttons = [
        (
            "expire",
            "/__handshake/expire",
            "POST",
            "",
            "Expire access tokens",
            "access tokens expired",
        ),
        (
            "revoke",
            "/__handshake/revoke",
            "POST",
            "",
            "Revoke every grant",
            "every grant revoked",
        ),
        (
            "arm-invalid-grant",
            "/__handshake/faults",
            "POST",
            r#"{"endpoint":"token","kind":"oauth_error","error":"invalid_grant","times":1}"#,
            "Next token call: invalid_grant",
            "armed: the next token call gets invalid_grant",
        ),
        (
            "arm-429",
            "/__handshake/faults",
            "POST",
            r#"{"endpoint":"token","kind":"status","status":429,"times":1}"#,
            "Next token call: 429",
            "armed: the next token call gets a 429",
        ),
        (
            "disarm",
            "/__handshake/faults",
            "DELETE",
            "",
            "Disarm faults",
            "faults disarmed",
        ),
        (
            "reset",
            "/__handshake/reset",
            "POST",
            "",
            "Reset",
            "reset: codes, tokens, faults, relaxations and the journal forgotten",
        ),
    ];
    let mut out = String::from("<section id=\"controls\"><h2>Control</h2>\n");
    for (id, action, method, body, label, done) in buttons {
        let _ = write!(
            out,
            r#"<button type="button" id="{id}" data-action="{action}" data-method="{method}"{body} data-done="{done}"{clears}>{label}</button>"#,
            body = if body.is_empty() {
                String::new()
            } else {
                format!(" data-body=\"{}\"", html_escape(body))
            },
            done = html_escape(done),
            clears = if id == "reset" {
                " data-clears=\"journal\""
            } else {
                ""
            },
        );
        out.push('\n');
    }
    out.push_str("<span id=\"action-status\" role=\"status\"></span></section>\n");
    out
}

fn list_items(items: Vec<String>) -> String {
    if items.is_empty() {
        return "<li class=\"none\">none</li>".to_owned();
    }
    items
        .into_iter()
        .map(|i| format!("<li>{}</li>", html_escape(&i)))
        .collect()
}

/// A fault as the page lists it: `token: error invalid_grant (next 1)`.
fn describe_fault(f: &Fault) -> String {
    let how = match &f.kind {
        FaultKind::OauthError { error } => format!("error {error}"),
        FaultKind::Status { status } => format!("status {status}"),
        FaultKind::Delay { delay_ms } => format!("delay {delay_ms} ms"),
        FaultKind::Drop => "drop the connection".to_owned(),
        FaultKind::RateLimited { retry_after_secs } => {
            format!("rate limited for {retry_after_secs} s")
        }
    };
    format!("{}: {how} (next {})", f.endpoint, f.times)
}

fn state(s: &Shared) -> String {
    let now = s.now();
    let grants: Vec<String> = {
        let store = lock(&s.store);
        s.users
            .iter()
            .enumerate()
            .map(|(i, u)| format!("{u}: {} live", store.live_grants(Some(i), now)))
            .collect()
    };
    let (faults, period) = s.armed();
    let mut faults: Vec<String> = faults.iter().map(describe_fault).collect();
    if let Some((left, _)) = period {
        let secs = left.as_secs() + u64::from(left.subsec_nanos() > 0);
        faults.push(format!("api: rate limit tripped, {secs} s left"));
    }
    let relaxed: Vec<String> = s
        .relaxed
        .list()
        .iter()
        .map(|r| r.as_str().to_owned())
        .collect();
    format!(
        "<section id=\"state\">\n<div><h2>Grants alive</h2><ul id=\"grants\">{}</ul></div>\n<div><h2>Faults armed</h2><ul id=\"faults\">{}</ul></div>\n<div><h2>Relaxed requirements</h2><ul id=\"relaxed\">{}</ul></div>\n</section>\n",
        list_items(grants),
        list_items(faults),
        list_items(relaxed),
    )
}

fn journal(s: &Shared, out: &mut String) {
    let mut entries = s.journal();
    let cut = entries.len().saturating_sub(RENDERED_ENTRIES);
    let entries = entries.split_off(cut);
    // Catching up after the feed opens starts below the oldest entry shown.
    let since = entries.first().map_or(0, |e| e.seq.saturating_sub(1));
    let _ = write!(
        out,
        r#"<section id="journal-section"><div id="journal-head"><h2>Requests, newest first</h2><span id="feed">connecting…</span><label><input type="checkbox" id="refusals-only"> refusals only</label></div>
<table id="journal"><colgroup><col class="seq"><col class="endpoint"><col class="request"><col class="status"><col class="reason"><col class="user"></colgroup>
<thead><tr><th>#</th><th>endpoint</th><th>request</th><th>status</th><th>reason</th><th>user</th></tr></thead>
<tbody id="entries" data-since="{since}">"#
    );
    if entries.is_empty() {
        out.push_str(
            "<tr id=\"empty\"><td colspan=\"6\">no requests yet: they appear here as they arrive</td></tr>",
        );
    }
    for entry in entries.iter().rev() {
        row(entry, out);
    }
    out.push_str("</tbody></table></section>\n");
}

fn refused(e: &JournalEntry) -> bool {
    e.status == 0 || e.status >= 400 || e.error.is_some() || e.error_description.is_some()
}

/// One journal row; the script builds the same markup for entries that arrive later.
fn row(e: &JournalEntry, out: &mut String) {
    let h = html_escape;
    let pairs = |list: &[(String, String)], sep: &str| {
        list.iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(sep)
    };
    let mut target = e.path.clone();
    if !e.query.is_empty() {
        target.push('?');
        target.push_str(&pairs(&e.query, "&"));
    }
    let params = if e.params.is_empty() {
        String::new()
    } else {
        format!("<div class=\"params\">{}</div>", h(&pairs(&e.params, " ")))
    };
    let mut reason = String::new();
    if let Some(code) = &e.error {
        let _ = write!(reason, "<b class=\"error\">{}</b>", h(code));
    }
    if let Some(d) = &e.error_description {
        if e.error.is_some() {
            reason.push_str(": ");
        }
        reason.push_str(&h(d));
    }
    for n in &e.notes {
        let _ = write!(reason, "<div class=\"note\">{}</div>", h(n));
    }
    let status = if e.status == 0 {
        "dropped".to_owned()
    } else {
        e.status.to_string()
    };
    let _ = writeln!(
        out,
        "<tr id=\"e{seq}\" class=\"{class}\" data-seq=\"{seq}\"><td class=\"seq\">{seq}</td><td class=\"endpoint\">{endpoint}</td><td class=\"request\"><code>{method} {target}</code>{params}</td><td class=\"status\">{status}</td><td class=\"reason\">{reason}</td><td class=\"user\">{user}</td></tr>",
        seq = e.seq,
        class = if refused(e) { "refused" } else { "ok" },
        endpoint = e.endpoint.map_or("-", |ep| ep.as_str()),
        method = h(&e.method),
        target = h(&target),
        user = h(e.user.as_deref().unwrap_or("")),
    );
}
