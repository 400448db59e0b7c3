//! Inputs at the edges: huge numbers from the control API, from a profile built in code, and
//! client authentication failures that must follow RFC 6749 §5.2 and RFC 9110 §15.5.2.

mod common;
#[path = "common/contract.rs"]
mod contract;

use std::time::Duration;

use common::*;
use handshake_mock::MockProvider;
use handshake_profile::{ClientAuth, Profile, TokenEncoding};
use serde_json::{json, Value};

async fn start(profile: Profile) -> MockProvider {
    MockProvider::builder(profile)
        .auto_approve(true)
        .start()
        .await
        .unwrap()
}

/// A control call, its answer checked against openapi.json.
async fn control(mock: &MockProvider, path: &str, body: Value) -> reqwest::Response {
    contract::send(
        http()
            .post(format!("{}/__handshake/{path}", mock.uri()))
            .json(&body),
    )
    .await
}

async fn code(mock: &MockProvider) -> String {
    let resp = get_authorize(mock, &auth_params(mock.profile())).await;
    assert_eq!(resp.status(), 302, "{}", resp.text().await.unwrap());
    query(&location(&resp), "code").expect("code")
}

#[tokio::test]
async fn a_huge_rate_limited_period_does_not_break_the_mock() {
    let mock = start(Profile::builtin("connectwise").unwrap()).await;
    let resp = control(
        &mock,
        "faults",
        json!({ "endpoint": "api", "kind": "rate_limited", "retry_after_secs": u64::MAX, "times": 2 }),
    )
    .await;
    assert!(
        resp.status() == 201 || resp.status() == 400,
        "{}",
        resp.status()
    );
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
        .expect("the mock answers");
    assert!(
        resp.status() == 429 || resp.status() == 200,
        "{}",
        resp.status()
    );
}

#[tokio::test]
async fn huge_lifetimes_from_a_profile_built_in_code_do_not_panic() {
    let mut p = Profile::builtin("capsule").unwrap();
    p.tokens.access_token_lifetime_secs = u64::MAX;
    p.tokens.code_lifetime_secs = u64::MAX;
    p.tokens.refresh_token_lifetime_secs = Some(u64::MAX);
    let mock = MockProvider::builder(p)
        .auto_approve(true)
        .rate_limit(5, Duration::MAX)
        .start()
        .await
        .unwrap();
    let c = code(&mock).await;
    let resp = exchange(&mock, &c).await;
    assert_eq!(resp.status(), 200, "{}", resp.text().await.unwrap());
    let t: Value = resp.json().await.unwrap();
    assert_eq!(api(&mock, t["access_token"].as_str()).await.status(), 200);
    let resp = refresh(&mock, t["refresh_token"].as_str().unwrap()).await;
    assert_eq!(resp.status(), 200);
}

#[tokio::test]
async fn invalid_client_without_basic_is_400_and_with_basic_is_401_with_a_challenge() {
    // RFC 6749 §5.2: 401 (with WWW-Authenticate) when the client used the Authorization
    // header; a 401 without a challenge is not valid HTTP (RFC 9110 §15.5.2), so body
    // authentication failures get 400.
    let mock = start(Profile::builtin("capsule").unwrap()).await;
    let params = [("grant_type", "refresh_token"), ("refresh_token", "x")];
    let resp = post_with(
        &mock,
        &mock.token_url(),
        &params,
        TokenEncoding::Form,
        ClientAuth::ClientSecretPost,
        "wrong",
    )
    .await;
    assert!(resp.headers().get("www-authenticate").is_none());
    assert_eq!(error_of(resp).await, (400, "invalid_client".to_owned()));
    let resp = post_with(
        &mock,
        &mock.token_url(),
        &params,
        TokenEncoding::Form,
        ClientAuth::ClientSecretBasic,
        "wrong",
    )
    .await;
    assert!(resp.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .starts_with("Basic "));
    assert_eq!(error_of(resp).await, (401, "invalid_client".to_owned()));
    // No client authentication at all: 400 too.
    let resp = http()
        .post(mock.token_url())
        .form(&params)
        .send()
        .await
        .unwrap();
    assert!(resp.headers().get("www-authenticate").is_none());
    assert_eq!(error_of(resp).await, (400, "invalid_client".to_owned()));
}

#[tokio::test]
async fn an_injected_invalid_client_follows_the_same_rule() {
    let mock = start(Profile::builtin("capsule").unwrap()).await;
    mock.fail_next(handshake_mock::Endpoint::Token)
        .with(handshake_mock::OAuthError::InvalidClient)
        .times(2)
        .mount();
    let c = code(&mock).await;
    let params = [
        ("grant_type", "authorization_code"),
        ("code", c.as_str()),
        ("redirect_uri", REDIRECT),
    ];
    let resp = post_with(
        &mock,
        &mock.token_url(),
        &params,
        TokenEncoding::Form,
        ClientAuth::ClientSecretBasic,
        "handshake-secret",
    )
    .await;
    assert!(resp.headers().get("www-authenticate").is_some());
    assert_eq!(error_of(resp).await, (401, "invalid_client".to_owned()));
    let resp = post_with(
        &mock,
        &mock.token_url(),
        &params,
        TokenEncoding::Form,
        ClientAuth::ClientSecretPost,
        "handshake-secret",
    )
    .await;
    assert!(resp.headers().get("www-authenticate").is_none());
    assert_eq!(error_of(resp).await, (400, "invalid_client".to_owned()));
}

#[tokio::test]
async fn a_huge_dataset_size_is_a_configuration_error_not_an_allocation() {
    let err = MockProvider::builder(Profile::builtin("capsule").unwrap())
        .dataset_size(u32::MAX)
        .start()
        .await
        .unwrap_err();
    assert!(err.to_string().contains("dataset_size"), "{err}");
}

#[tokio::test]
async fn no_empty_scope_in_a_token_response() {
    // A profile without default scopes, and a request without `scope`: nothing is granted,
    // and "" is not a scope (RFC 6749 §3.3), so the response leaves `scope` out.
    let mut p = Profile::builtin("redtail").unwrap();
    p.scopes.default.clear();
    let mock = start(p).await;
    let mut q = auth_params(mock.profile());
    set(&mut q, "scope", None);
    let resp = get_authorize(&mock, &q).await;
    let c = query(&location(&resp), "code").unwrap();
    let resp = exchange(&mock, &c).await;
    assert_eq!(resp.status(), 200);
    let t: Value = resp.json().await.unwrap();
    assert!(t.get("scope").is_none(), "{t}");
}

#[tokio::test]
async fn a_consent_decision_posted_from_another_site_is_refused() {
    let mock = MockProvider::builder(Profile::builtin("capsule").unwrap())
        .start()
        .await
        .unwrap();
    let page = get_authorize(&mock, &auth_params(mock.profile())).await;
    let id = consent_id(&page.text().await.unwrap());
    let forged = http()
        .post(mock.authorize_url())
        .header("sec-fetch-site", "cross-site")
        .form(&[("consent_id", id.as_str()), ("decision", "approve")])
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), 400);
    assert!(forged.headers().get("location").is_none());
    // The page's own form (same-origin) still works.
    let resp = http()
        .post(mock.authorize_url())
        .header("sec-fetch-site", "same-origin")
        .form(&[("consent_id", id.as_str()), ("decision", "approve")])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 303);
    assert!(query(&location(&resp), "code").is_some());
}
