//! Each memory bound of `handshake_mock::limits`, driven to the bound and one past it, in
//! process (`oneshot`): what the mock answers there, and that the oldest state goes first.

#[path = "common/contract.rs"]
mod contract;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use handshake_mock::limits::{
    JOURNAL_BYTES, JOURNAL_ENTRY_BYTES, JOURNAL_VALUE_BYTES, MAX_CODES, MAX_CONSENTS,
    MAX_GRANTS_PER_CLIENT, MAX_STATE_BYTES,
};
use handshake_mock::{JournalEntry, MockProvider};
use handshake_profile::Profile;
use serde_json::Value;
use tower::ServiceExt;

const BASIC: &str = "Basic aGFuZHNoYWtlLWNsaWVudDpoYW5kc2hha2Utc2VjcmV0";
const REDIRECT: &str = "http%3A%2F%2Flocalhost%3A3000%2Fcallback";

struct Answer {
    status: StatusCode,
    location: Option<url::Url>,
    body: Vec<u8>,
}

impl Answer {
    fn query(&self, key: &str) -> Option<String> {
        self.location
            .as_ref()?
            .query_pairs()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.into_owned())
    }
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap()
    }
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// Sends a request to the router; a control call's answer is checked against openapi.json.
async fn send(router: &axum::Router, req: Request<Body>) -> Answer {
    let (method, path) = (req.method().clone(), req.uri().path().to_owned());
    let resp = router.clone().oneshot(req).await.unwrap();
    let status = resp.status();
    let headers = resp.headers().clone();
    let location = headers
        .get("location")
        .map(|l| url::Url::parse(l.to_str().unwrap()).unwrap());
    let body = axum::body::to_bytes(resp.into_body(), 64 << 20)
        .await
        .unwrap()
        .to_vec();
    if path.starts_with("/__handshake") {
        if let Err(e) = contract::contract().check(
            method.as_str(),
            &path,
            status.as_u16(),
            &headers,
            Some(&body),
        ) {
            panic!("{e}");
        }
    }
    Answer {
        status,
        location,
        body,
    }
}

fn router(auto_approve: bool) -> axum::Router {
    MockProvider::builder(Profile::builtin("capsule").unwrap())
        .auto_approve(auto_approve)
        .into_router()
        .unwrap()
}

fn authorize(state: &str) -> Request<Body> {
    Request::get(format!(
        "/oauth/authorise?response_type=code&client_id=handshake-client&redirect_uri={REDIRECT}&state={state}"
    ))
    .body(Body::empty())
    .unwrap()
}

fn token(form: &str) -> Request<Body> {
    Request::post("/oauth/token")
        .header("authorization", BASIC)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(Body::from(form.to_owned()))
        .unwrap()
}

async fn code(r: &axum::Router) -> String {
    let a = send(r, authorize("s")).await;
    assert_eq!(a.status, 302);
    a.query("code").expect("a code")
}

async fn exchange(r: &axum::Router, code: &str) -> Answer {
    send(
        r,
        token(&format!(
            "grant_type=authorization_code&code={code}&redirect_uri={REDIRECT}"
        )),
    )
    .await
}

async fn journal(r: &axum::Router) -> Vec<JournalEntry> {
    let a = send(
        r,
        Request::get("/__handshake/journal")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    serde_json::from_slice(&a.body).unwrap()
}

#[tokio::test]
async fn a_state_over_the_limit_is_refused_with_invalid_request() {
    let r = router(true);
    let at_limit = "s".repeat(MAX_STATE_BYTES);
    let a = send(&r, authorize(&at_limit)).await;
    assert_eq!(a.status, 302);
    assert_eq!(a.query("state").as_deref(), Some(at_limit.as_str()));
    assert!(a.query("code").is_some());

    let a = send(&r, authorize(&"s".repeat(MAX_STATE_BYTES + 1))).await;
    assert_eq!(
        a.status, 302,
        "an error redirect: client and redirect URI are valid"
    );
    assert_eq!(a.query("error").as_deref(), Some("invalid_request"));
    assert!(a.query("error_description").unwrap().contains("2048"));
    assert_eq!(a.query("code"), None);
    assert_eq!(
        a.query("state"),
        None,
        "the oversized state is not echoed back"
    );

    // 60 KB of state, the size that used to grow memory without end.
    let a = send(&r, authorize(&"s".repeat(60_000))).await;
    assert_eq!(a.query("error").as_deref(), Some("invalid_request"));
}

#[tokio::test]
async fn one_code_past_the_cap_forgets_the_oldest() {
    let r = router(true);
    let first = code(&r).await;
    let second = code(&r).await;
    for _ in 2..MAX_CODES {
        code(&r).await;
    }
    let one_more = code(&r).await;
    let a = exchange(&r, &first).await;
    assert_eq!(a.status, 400, "{}", a.text());
    assert_eq!(a.json()["error"], "invalid_grant");
    assert_eq!(
        exchange(&r, &second).await.status,
        200,
        "the next oldest is kept"
    );
    assert_eq!(exchange(&r, &one_more).await.status, 200);
}

#[tokio::test]
async fn at_the_code_cap_nothing_is_forgotten() {
    let r = router(true);
    let first = code(&r).await;
    for _ in 1..MAX_CODES {
        code(&r).await;
    }
    assert_eq!(exchange(&r, &first).await.status, 200);
}

fn consent_id(html: &str) -> String {
    let marker = "name=\"consent_id\" value=\"";
    let start = html.find(marker).unwrap() + marker.len();
    let end = html[start..].find('"').unwrap();
    html[start..start + end].to_owned()
}

fn decide(id: &str) -> Request<Body> {
    Request::post("/oauth/authorise")
        .header("content-type", "application/x-www-form-urlencoded")
        .body(Body::from(format!("consent_id={id}&decision=approve")))
        .unwrap()
}

#[tokio::test]
async fn one_consent_past_the_cap_forgets_the_oldest() {
    let r = router(false);
    let mut ids = Vec::new();
    for _ in 0..=MAX_CONSENTS {
        let a = send(&r, authorize("s")).await;
        assert_eq!(a.status, 200);
        ids.push(consent_id(&a.text()));
    }
    let a = send(&r, decide(&ids[0])).await;
    assert_eq!(a.status, 400);
    assert!(
        a.text()
            .contains("unknown, used or expired consent request"),
        "{}",
        a.text()
    );
    assert_eq!(send(&r, decide(&ids[1])).await.status, 303);
    assert_eq!(send(&r, decide(&ids[MAX_CONSENTS])).await.status, 303);
}

#[tokio::test]
async fn one_grant_past_the_cap_evicts_the_oldest_and_the_journal_says_so() {
    let r = router(true);
    let mut refresh_tokens = Vec::new();
    for _ in 0..=MAX_GRANTS_PER_CLIENT {
        let c = code(&r).await;
        let a = exchange(&r, &c).await;
        assert_eq!(a.status, 200, "{}", a.text());
        refresh_tokens.push(a.json()["refresh_token"].as_str().unwrap().to_owned());
    }
    let j = journal(&r).await;
    let notes: Vec<&JournalEntry> = j.iter().filter(|e| !e.notes.is_empty()).collect();
    assert_eq!(notes.len(), 1, "exactly one grant was evicted");
    assert!(
        notes[0].notes[0].contains("evicted"),
        "{:?}",
        notes[0].notes
    );
    assert_eq!(
        notes[0].seq,
        j.last().unwrap().seq,
        "on the token response that caused it"
    );

    let refresh = |rt: &str| token(&format!("grant_type=refresh_token&refresh_token={rt}"));
    let a = send(&r, refresh(&refresh_tokens[0])).await;
    assert_eq!(a.status, 400);
    assert_eq!(a.json()["error"], "invalid_grant");
    assert_eq!(send(&r, refresh(&refresh_tokens[1])).await.status, 200);
    assert_eq!(
        send(&r, refresh(&refresh_tokens[MAX_GRANTS_PER_CLIENT]))
            .await
            .status,
        200
    );
}

#[tokio::test]
async fn huge_requests_are_journaled_cut_and_the_journal_stays_within_its_bytes() {
    let r = router(true);
    let big = "h".repeat(2 * JOURNAL_VALUE_BYTES);
    let sent = 600;
    for i in 0..sent {
        let mut req = Request::get(format!("/api/v2/parties?q={}&i={i}", "q".repeat(30_000)));
        for h in 0..20 {
            req = req.header(format!("x-h{h}"), big.as_str());
        }
        let a = send(&r, req.body(Body::empty()).unwrap()).await;
        assert_eq!(a.status, 401);
    }
    let j = journal(&r).await;
    let per_entry = JOURNAL_ENTRY_BYTES;
    assert!(
        j.len() < sent && j.len() >= JOURNAL_BYTES / (4 * per_entry),
        "{} entries kept",
        j.len()
    );
    let last = j.last().unwrap();
    assert_eq!(
        last.query_param("i"),
        Some("599"),
        "the newest entries are kept"
    );
    let q = last.query_param("q").unwrap();
    assert!(q.ends_with("…[cut: 30000 bytes]"), "{}", &q[q.len() - 40..]);
    assert!(last.header("x-h0").unwrap().ends_with("…[cut: 2048 bytes]"));
    assert_eq!(
        last.headers.last().unwrap().0,
        "…",
        "headers beyond the entry's bytes are summarised"
    );
    let json_len = serde_json::to_vec(&j).unwrap().len();
    assert!(
        json_len < 2 * JOURNAL_BYTES,
        "journal JSON is {json_len} bytes"
    );
}
