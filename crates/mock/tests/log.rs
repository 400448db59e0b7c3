//! The request log `handshake serve` prints, built on `MockProvider::subscribe`: one line per
//! refusal a developer typically meets, pinned by snapshots, with no secret in any line.

mod common;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use common::*;
use handshake_mock::{JournalEntry, LogStyle, MockProvider};
use handshake_profile::{ClientAuth, Profile, TokenEncoding};
use tokio::sync::broadcast::Receiver;

/// A fixed completion time, so the lines are stable.
fn at() -> SystemTime {
    UNIX_EPOCH + Duration::from_millis(1_700_000_000_123)
}

/// Every entry published so far, drained from the subscription.
fn drain(live: &mut Receiver<JournalEntry>) -> Vec<JournalEntry> {
    let mut out = Vec::new();
    while let Ok(e) = live.try_recv() {
        out.push(e);
    }
    out
}

/// The plain lines of the entries, after checking that no secret of the run is in any line
/// of any style.
fn lines(entries: &[JournalEntry], secrets: &[&str]) -> String {
    let mut secrets: Vec<&str> = secrets.to_vec();
    secrets.extend(["handshake-secret", VERIFIER, WRONG_VERIFIER]);
    for e in entries {
        for style in [LogStyle::Plain, LogStyle::Color, LogStyle::Json] {
            let line = style.line(e, at());
            for s in &secrets {
                assert!(!line.contains(s), "secret {s:?} in the log line {line}");
            }
        }
    }
    entries
        .iter()
        .map(|e| LogStyle::Plain.line(e, at()))
        .collect::<Vec<_>>()
        .join("\n")
}

fn snapshot(name: &str, text: &str) {
    insta::with_settings!({
        filters => vec![(r"\[redacted:[0-9a-f]{8}\]", "[redacted:TAG]")],
        prepend_module_to_snapshot => true,
    }, {
        insta::assert_snapshot!(name, text);
    });
}

const WRONG_VERIFIER: &str = "wrong-verifier-wrong-verifier-wrong-verifier-0123";

async fn mock(name: &str) -> MockProvider {
    MockProvider::start(Profile::builtin(name).unwrap()).await
}

#[tokio::test]
async fn a_wrong_verifier() {
    let mock = mock("capsule").await;
    let mut live = mock.subscribe();
    let code = code_via_consent(&mock, &auth_params(mock.profile())).await;
    let resp = post_as_profile(
        &mock,
        &mock.token_url(),
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", REDIRECT),
            ("code_verifier", WRONG_VERIFIER),
        ],
    )
    .await;
    assert_eq!(error_of(resp).await, (400, "invalid_grant".into()));
    let entries = drain(&mut live);
    assert_eq!(entries.len(), 3, "consent page, decision, token request");
    let text = lines(&entries, &[&code]);
    assert!(text.contains(
        "POST /oauth/token 400 invalid_grant: code_verifier does not match the code_challenge (RFC 7636 §4.6)"
    ));
    snapshot("wrong_verifier", &text);
}

#[tokio::test]
async fn a_wrong_redirect_uri() {
    let mock = mock("insightly").await;
    let mut live = mock.subscribe();
    let mut q = auth_params(mock.profile());
    set(
        &mut q,
        "redirect_uri",
        Some("http://localhost:3001/auth/callback"),
    );
    let resp = get_authorize(&mock, &q).await;
    assert_eq!(resp.status(), 400);
    let page = resp.text().await.unwrap();
    // The error page names the fix too.
    assert!(
        page.contains("registered: http://localhost:3000/callback"),
        "{page}"
    );
    assert!(page.contains("--redirect-uri http://localhost:3001/auth/callback"));
    let text = lines(&drain(&mut live), &[]);
    snapshot("wrong_redirect_uri", &text);
}

#[tokio::test]
async fn a_token_in_the_query_string_and_in_a_form_body() {
    for provider in ["capsule", "redtail"] {
        let mock = mock(provider).await;
        let t = tokens(&mock).await;
        let token = t["access_token"].as_str().unwrap().to_owned();
        let mut live = mock.subscribe();
        let resp = http()
            .get(format!("{}?access_token={token}", mock.api_url()))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 401);
        let body = resp.text().await.unwrap();
        assert!(body.contains("query string"), "{provider}: {body}");
        let resp = http()
            .get(mock.api_url())
            .form(&[("access_token", token.as_str())])
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 401);
        let text = lines(&drain(&mut live), &[&token]);
        snapshot(&format!("token_in_query_{provider}"), &text);
    }
}

#[tokio::test]
async fn a_json_body_where_the_crm_takes_form_and_the_reverse() {
    let mut form_only = Profile::builtin("connectwise").unwrap();
    form_only.token_request.encodings = vec![TokenEncoding::Form];
    let mut json_only = Profile::builtin("connectwise").unwrap();
    json_only.token_request.encodings = vec![TokenEncoding::Json];
    let mut text = Vec::new();
    for profile in [form_only, json_only] {
        let wrong = match profile.token_request.encodings[0] {
            TokenEncoding::Form => TokenEncoding::Json,
            TokenEncoding::Json => TokenEncoding::Form,
        };
        let mock = MockProvider::start(profile).await;
        let mut live = mock.subscribe();
        let resp = post_with(
            &mock,
            &mock.token_url(),
            &[("grant_type", "authorization_code"), ("code", "c0de")],
            wrong,
            ClientAuth::ClientSecretPost,
            "handshake-secret",
        )
        .await;
        assert_eq!(error_of(resp).await, (400, "invalid_request".into()));
        text.push(lines(&drain(&mut live), &[]));
    }
    snapshot("body_encoding", &text.join("\n"));
}

#[tokio::test]
async fn an_expired_token() {
    let mock = mock("capsule").await;
    let t = tokens(&mock).await;
    let token = t["access_token"].as_str().unwrap().to_owned();
    let lifetime = mock.profile().tokens.access_token_lifetime_secs;
    mock.advance_clock(Duration::from_secs(lifetime + 42));
    let mut live = mock.subscribe();
    let resp = api(&mock, Some(&token)).await;
    assert_eq!(resp.status(), 401);
    let challenge = resp.headers()["www-authenticate"].to_str().unwrap();
    assert!(challenge.contains("error=\"invalid_token\""), "{challenge}");
    assert!(challenge.contains("expired 42 s ago"), "{challenge}");
    let text = lines(&drain(&mut live), &[&token]);
    assert!(text.contains("expired 42 s ago"), "{text}");
    snapshot("expired_token", &text);
}

#[tokio::test]
async fn an_unknown_code_and_secrets_in_a_query_string() {
    let mock = mock("redtail").await;
    let mut live = mock.subscribe();
    let resp = exchange(&mock, "a-code-this-mock-never-issued").await;
    assert_eq!(error_of(resp).await, (400, "invalid_grant".into()));
    // A client that puts its secret and a verifier in the URL: redacted as in the journal.
    let resp = http()
        .post(format!(
            "{}?client_secret=handshake-secret&code_verifier={VERIFIER}&code=in-the-url",
            mock.token_url()
        ))
        .form(&[("grant_type", "authorization_code")])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    let entries = drain(&mut live);
    let text = lines(&entries, &["a-code-this-mock-never-issued", "in-the-url"]);
    assert!(text.contains("client_secret=[redacted]"), "{text}");
    snapshot("unknown_code", &text);
}

#[tokio::test]
async fn json_lines_carry_the_entry_and_nothing_secret() {
    let mock = mock("capsule").await;
    let mut live = mock.subscribe();
    let resp = exchange(&mock, "not-a-code").await;
    assert_eq!(resp.status(), 400);
    let mut entry = drain(&mut live).remove(0);
    let line = LogStyle::Json.line(&entry, at());
    assert!(!line.contains('\n'));
    let v: serde_json::Value = serde_json::from_str(&line).unwrap();
    assert!(v["error_description"]
        .as_str()
        .unwrap()
        .starts_with("authorization code is invalid"));
    assert_eq!(v, LogStyle::json(&entry, at()));
    // The line as a binding reads it, fields in order (the description is pinned above).
    entry.error_description = Some("…".into());
    insta::assert_snapshot!("json_line", LogStyle::Json.line(&entry, at()));
}

#[tokio::test]
async fn with_no_subscriber_nothing_is_sent_and_a_late_one_sees_only_later_entries() {
    let mock = mock("capsule").await;
    assert_eq!(exchange(&mock, "x").await.status(), 400);
    let mut live = mock.subscribe();
    assert!(drain(&mut live).is_empty(), "entries before subscribing");
    drop(live);
    assert_eq!(exchange(&mock, "y").await.status(), 400);
    let mut live = mock.subscribe();
    assert_eq!(exchange(&mock, "z").await.status(), 400);
    let got = drain(&mut live);
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].seq, 3);
    assert_eq!(mock.journal().len(), 3);
}

#[tokio::test]
async fn a_missing_pkce_parameter_names_the_crms_method() {
    let mock = mock("connectwise").await;
    let mut live = mock.subscribe();
    let mut q = auth_params(mock.profile());
    set(&mut q, "code_challenge", None);
    set(&mut q, "code_challenge_method", None);
    let resp = get_authorize(&mock, &q).await;
    assert_eq!(resp.status(), 302);
    // And a verifier left out at the token endpoint, for a code issued with a challenge.
    let code = code_via_consent(&mock, &auth_params(mock.profile())).await;
    let resp = post_as_profile(
        &mock,
        &mock.token_url(),
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", REDIRECT),
        ],
    )
    .await;
    assert_eq!(error_of(resp).await, (400, "invalid_grant".into()));
    let entries = drain(&mut live);
    let text = lines(&entries, &[&code]);
    assert!(text.contains("code_challenge_method=S256"), "{text}");
    assert!(text.contains("had a code_challenge (S256)"), "{text}");
    snapshot("missing_pkce", &text);
}

#[tokio::test]
async fn a_subscriber_that_falls_behind_is_told_how_many_it_missed() {
    use tokio::sync::broadcast::error::RecvError;
    let mock = mock("insightly").await;
    let mut live = mock.subscribe();
    let http = http();
    for _ in 0..300 {
        let resp = http.get(mock.api_url()).send().await.unwrap();
        assert_eq!(resp.status(), 401);
    }
    match live.recv().await {
        Err(RecvError::Lagged(n)) => assert_eq!(n, 300 - 256),
        other => panic!("expected a lag, got {other:?}"),
    }
    // The rest arrive, newest last, and the journal still has every one.
    let rest = drain(&mut live);
    assert_eq!(rest.len(), 256);
    assert_eq!(rest.last().unwrap().seq, 300);
    assert_eq!(mock.journal().len(), 300);
}
