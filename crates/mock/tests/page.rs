//! The live page (`GET /__handshake/`), its feed (`GET /__handshake/events`), the armed
//! faults (`GET /__handshake/faults`) and `journal?since=N`, over real HTTP. The page in a
//! real browser is tested in `browser.rs`.

mod common;
#[path = "common/contract.rs"]
mod contract;

use base64::Engine;
use common::*;
use handshake_mock::{Endpoint, JournalEntry, MockProvider, OAuthError};
use handshake_profile::Profile;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

/// A control call (every path here is one), its answer checked against openapi.json.
async fn get(mock: &MockProvider, path: &str) -> reqwest::Response {
    contract::send(http().get(format!("{}{path}", mock.uri()))).await
}

async fn get_json(mock: &MockProvider, path: &str) -> Value {
    let resp = get(mock, path).await;
    assert_eq!(resp.status(), 200, "{path}");
    resp.json().await.unwrap()
}

/// A login, an exchange, an API call, and refusals, leaving secrets in every place a client
/// can put them. Returns the values that must never be shown.
async fn traffic(mock: &MockProvider) -> Vec<String> {
    let t = tokens(mock).await;
    let access = t["access_token"].as_str().unwrap().to_owned();
    let refresh = t["refresh_token"].as_str().unwrap().to_owned();
    assert_eq!(api(mock, Some(&access)).await.status(), 200);
    let resp = http()
        .get(format!("{}?access_token={access}", mock.api_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
    let resp = exchange(mock, "never-issued-code-value").await;
    assert_eq!(resp.status(), 400);
    vec![
        access,
        refresh,
        "handshake-secret".to_owned(),
        VERIFIER.to_owned(),
        "never-issued-code-value".to_owned(),
        mock.native_credentials().personal_access_token().to_owned(),
    ]
}

fn assert_no_secret(text: &str, secrets: &[String], what: &str) {
    for s in secrets {
        assert!(!text.contains(s.as_str()), "{what} shows the secret {s:?}");
    }
}

#[tokio::test]
async fn the_page_shows_requests_and_refusals_with_secrets_redacted() {
    let mock = MockProvider::start(Profile::builtin("capsule").unwrap()).await;
    let secrets = traffic(&mock).await;
    mock.fail_next(Endpoint::Token)
        .with(OAuthError::InvalidGrant)
        .mount();
    let resp = get(&mock, "/__handshake/").await;
    assert_eq!(resp.status(), 200);
    let headers = resp.headers().clone();
    assert!(headers["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    assert_eq!(headers["x-frame-options"], "DENY");
    assert_eq!(headers["cache-control"], "no-store");
    let html = resp.text().await.unwrap();
    assert_no_secret(&html, &secrets, "the page");

    // The one inline script runs because the CSP names its hash, and nothing else may run.
    let csp = headers["content-security-policy"].to_str().unwrap();
    let start = html.find("<script>").unwrap() + "<script>".len();
    let end = html.find("</script>").unwrap();
    assert_eq!(html.matches("<script").count(), 1);
    let hash = base64::engine::general_purpose::STANDARD.encode(Sha256::digest(&html[start..end]));
    assert!(
        csp.contains(&format!("script-src 'sha256-{hash}'")),
        "{csp}"
    );
    assert!(csp.contains("default-src 'none'") && csp.contains("connect-src 'self'"));
    assert!(!html.contains("<script src") && !html.contains("src=\"http"));

    // Every request, newest first, with the refusals' reasons and the redacted values.
    let journal = mock.journal();
    for e in &journal {
        assert!(
            html.contains(&format!("id=\"e{}\"", e.seq)),
            "entry {}",
            e.seq
        );
    }
    let first = html.find(&format!("id=\"e{}\"", journal.last().unwrap().seq));
    assert!(first < html.find("id=\"e1\""), "newest first");
    assert!(html.contains("the access token was sent in the query string"));
    assert!(html.contains("authorization code is invalid"));
    assert!(html.contains("access_token=[redacted:"));
    assert!(html.contains("class=\"refused\""));
    // State: the grant alive, the fault armed, the buttons.
    assert!(html.contains("alice: 1 live"), "{html}");
    assert!(html.contains("token: error invalid_grant (next 1)"));
    for id in [
        "expire",
        "revoke",
        "arm-invalid-grant",
        "arm-429",
        "disarm",
        "reset",
    ] {
        assert!(html.contains(&format!("id=\"{id}\"")), "button {id}");
    }

    // `/__handshake` leads to the page; control calls (the page included) stay out of the
    // journal.
    let resp = get(&mock, "/__handshake").await;
    assert_eq!(resp.status(), 308);
    assert_eq!(resp.headers()["location"], "/__handshake/");
    let before = mock.journal().len();
    get(&mock, "/__handshake/").await;
    get(&mock, "/__handshake/faults").await;
    assert_eq!(mock.journal().len(), before);
}

#[tokio::test]
async fn request_text_is_escaped_on_the_page() {
    let mock = MockProvider::start(Profile::builtin("redtail").unwrap()).await;
    let resp = http()
        .get(format!(
            "{}/%3Cimg%20src=x%3E?q=%3Cscript%3Ealert(1)%3C/script%3E",
            mock.api_url()
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
    let html = get(&mock, "/__handshake/").await.text().await.unwrap();
    assert!(!html.contains("<script>alert"), "{html}");
    assert!(
        html.contains("q=&lt;script&gt;alert(1)&lt;/script&gt;"),
        "{html}"
    );
}

#[tokio::test]
async fn armed_faults_are_listed_in_order_with_the_times_left() {
    let mock = MockProvider::start(Profile::builtin("connectwise").unwrap()).await;
    assert_eq!(
        get_json(&mock, "/__handshake/faults").await,
        json!({"faults": [], "rate_limited": null})
    );
    let arm = |body: &'static str| {
        contract::send(
            http()
                .post(format!("{}/__handshake/faults", mock.uri()))
                .header("content-type", "application/json")
                .body(body),
        )
    };
    assert_eq!(
        arm(r#"{"endpoint":"token","kind":"status","status":429,"times":2}"#)
            .await
            .status(),
        201
    );
    mock.fail_next(Endpoint::Api)
        .rate_limited(std::time::Duration::from_secs(30))
        .times(3)
        .mount();
    let listed = get_json(&mock, "/__handshake/faults").await;
    assert_eq!(
        listed["faults"],
        json!([
            {"endpoint": "token", "kind": "status", "status": 429, "times": 2},
            {"endpoint": "api", "kind": "rate_limited", "retry_after_secs": 30, "times": 3},
        ])
    );
    // Each shape is the one POST takes.
    let faults: Vec<handshake_mock::Fault> =
        serde_json::from_value(listed["faults"].clone()).unwrap();
    assert_eq!(faults, mock.faults());

    // One fires: the list counts down, and the journal entry says a fault fired.
    let resp = exchange(&mock, "x").await;
    assert_eq!(resp.status(), 429);
    let e: JournalEntry = mock.journal().pop().unwrap();
    assert_eq!(e.notes, ["fault fired: status 429"]);
    assert_eq!(
        get_json(&mock, "/__handshake/faults").await["faults"][0]["times"],
        1
    );

    // The rate limit trips: a running period is listed until it ends.
    let c = mock.native_credentials();
    let resp = http()
        .get(mock.api_url())
        .basic_auth(
            format!("{}+{}", c.company_id(), c.public_key()),
            Some(c.private_key()),
        )
        .header("clientId", c.integration_client_id())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 429);
    let e = mock.journal().pop().unwrap();
    assert_eq!(e.notes, ["fault fired: rate_limited (30 s left)"]);
    assert!(e
        .error_description
        .unwrap()
        .contains("rate limit is tripped"));
    let listed = get_json(&mock, "/__handshake/faults").await;
    assert_eq!(listed["faults"].as_array().unwrap().len(), 1);
    assert_eq!(
        listed["rate_limited"],
        json!({"secs_left": 30, "refusals_left": 2})
    );
    mock.clear_faults();
    assert_eq!(
        get_json(&mock, "/__handshake/faults").await,
        json!({"faults": [], "rate_limited": null})
    );
}

#[tokio::test]
async fn the_journal_since_a_seq() {
    let mock = MockProvider::start(Profile::builtin("agilecrm").unwrap()).await;
    for _ in 0..3 {
        assert_eq!(api(&mock, None).await.status(), 401);
    }
    let all: Vec<JournalEntry> =
        serde_json::from_value(get_json(&mock, "/__handshake/journal").await).unwrap();
    assert_eq!(all, mock.journal());
    let later: Vec<JournalEntry> =
        serde_json::from_value(get_json(&mock, "/__handshake/journal?since=1").await).unwrap();
    assert_eq!(later.iter().map(|e| e.seq).collect::<Vec<_>>(), [2, 3]);
    assert_eq!(
        get_json(&mock, "/__handshake/journal?since=3").await,
        json!([])
    );
    for bad in ["since=-1", "since=x", "since=1&since=2", "after=1"] {
        let resp = get(&mock, &format!("/__handshake/journal?{bad}")).await;
        assert_eq!(
            error_of(resp).await,
            (400, "invalid_request".into()),
            "{bad}"
        );
    }
}

#[tokio::test]
async fn the_feed_streams_each_entry_as_it_completes() {
    let mock = MockProvider::start(Profile::builtin("capsule").unwrap()).await;
    let mut feed = get(&mock, "/__handshake/events").await;
    assert_eq!(feed.status(), 200);
    assert!(feed.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/event-stream"));
    let resp = exchange(&mock, "code-sent-to-the-feed").await;
    assert_eq!(resp.status(), 400);
    let mut text = String::new();
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    while !text.contains("\n\n") {
        let chunk = tokio::time::timeout_at(deadline, feed.chunk())
            .await
            .expect("an event within 10 s")
            .unwrap()
            .expect("the feed stays open");
        text.push_str(&String::from_utf8_lossy(&chunk));
    }
    assert!(!text.contains("code-sent-to-the-feed") && !text.contains("handshake-secret"));
    let data = text
        .lines()
        .skip_while(|l| *l != "event: entry")
        .nth(1)
        .and_then(|l| l.strip_prefix("data: "))
        .unwrap_or_else(|| panic!("an entry event: {text:?}"));
    let entry: JournalEntry = serde_json::from_str(data).unwrap();
    assert_eq!(entry, mock.journal()[0]);
    assert_eq!(entry.error.as_deref(), Some("invalid_grant"));

    // Stopping the mock ends the feed: an open page holds no server alive.
    drop(mock);
    let end = tokio::time::timeout(std::time::Duration::from_secs(10), async {
        loop {
            match feed.chunk().await {
                Ok(Some(_)) => continue,
                other => return other.map(|_| ()),
            }
        }
    })
    .await;
    assert!(end.is_ok(), "the feed outlived the mock");
}

#[tokio::test]
async fn grants_are_counted_per_user() {
    let mock = MockProvider::start(Profile::builtin("insightly").unwrap()).await;
    tokens(&mock).await;
    assert_eq!(
        get_json(&mock, "/__handshake/grants").await,
        json!({"live": 1, "by_user": {"alice": 1, "bob": 0}})
    );
    assert_eq!(
        get_json(&mock, "/__handshake/grants?user=alice").await,
        json!({"live": 1})
    );
}
