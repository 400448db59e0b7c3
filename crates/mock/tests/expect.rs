//! Expectations (`MockProvider::expect`), wiremock-rs style: counted from the journal,
//! checked on drop and by `verify`, with failure messages that show what arrived and no
//! secret; and the Debug output of every secret-bearing public type.

mod common;

use std::panic::AssertUnwindSafe;

use common::*;
use handshake_mock::{
    ClientSecret, Endpoint, MockProvider, NativeCredentials, RegisteredClient, Times,
};
use handshake_profile::Profile;

async fn start(id: &str) -> MockProvider {
    MockProvider::start(Profile::builtin(id).unwrap()).await
}

#[tokio::test]
async fn met_expectations_pass_on_drop() {
    let mock = start("capsule").await;
    mock.expect(Endpoint::Authorize).at_least(1);
    mock.expect(Endpoint::Token).times(1).named("code exchange");
    mock.expect(Endpoint::Api).times(1..=2);
    mock.expect(Endpoint::Revoke).at_most(0);
    let t = tokens(&mock).await;
    let resp = api(&mock, t["access_token"].as_str()).await;
    assert_eq!(resp.status(), 200);
    // `expect` alone means at least one.
    mock.expect(Endpoint::Api);
    api(&mock, t["access_token"].as_str()).await;
    assert_eq!(mock.verify(), Ok(()));
}

#[tokio::test]
async fn only_requests_after_expect_count() {
    let mock = start("capsule").await;
    tokens(&mock).await;
    mock.expect(Endpoint::Token).times(0);
    mock.expect(Endpoint::Authorize).times(..1);
    assert_eq!(mock.verify(), Ok(()));
}

#[tokio::test]
#[should_panic(expected = "- \"code exchange\": expected exactly 1 token request(s), received 0")]
async fn an_unmet_expectation_panics_on_drop() {
    let mock = start("capsule").await;
    mock.expect(Endpoint::Token).times(1).named("code exchange");
    api(&mock, None).await;
}

#[tokio::test]
async fn verify_lists_what_was_expected_and_what_arrived_without_secrets() {
    let mock = start("capsule").await;
    mock.expect(Endpoint::Token).times(2).named("refresh twice");
    mock.expect(Endpoint::Api).times(0);
    mock.expect(Endpoint::Authorize).at_least(0);
    refresh(&mock, "rt-SECRET-VALUE").await;
    http()
        .get(format!("{}?access_token=at-SECRET-VALUE", mock.api_url()))
        .send()
        .await
        .unwrap();
    let err = mock.verify().unwrap_err();
    assert_eq!(err.provider, "capsule");
    assert_eq!(err.unmet.len(), 2);
    assert_eq!(err.unmet[0].name.as_deref(), Some("refresh twice"));
    assert_eq!(err.unmet[0].endpoint, Endpoint::Token);
    assert_eq!(err.unmet[0].expected, Times::from(2));
    assert_eq!(err.unmet[0].received, 1);
    assert_eq!(err.unmet[1].received, 1);
    assert_eq!(err.received.len(), 2);
    assert_eq!(err.missing, 0);
    let token_path = &mock.profile().oauth.token_path;
    let api_path = &mock.profile().api.path;
    assert_eq!(
        err.to_string(),
        format!(
            "handshake-mock (capsule): 2 expectation(s) not met:\n\
             - \"refresh twice\": expected exactly 2 token request(s), received 1\n\
             - expected exactly 0 api request(s), received 1\n\
             Requests received (2):\n  \
             #1 POST {token_path} -> 400 invalid_grant (token)\n  \
             #2 GET {api_path} -> 401 invalid_token (api)"
        )
    );
    let shown = format!("{err} {err:?}");
    assert!(!shown.contains("SECRET-VALUE"), "{shown}");
    assert!(!shown.contains(RegisteredClient::DEFAULT_SECRET), "{shown}");
    // Verified expectations are retired: the drop has nothing left to check.
    assert_eq!(mock.verify(), Ok(()));
}

#[tokio::test]
async fn requests_the_journal_forgot_are_reported_as_not_counted() {
    let mock = start("capsule").await;
    mock.expect(Endpoint::Api).times(2);
    api(&mock, None).await;
    mock.reset();
    api(&mock, None).await;
    let err = mock.verify().unwrap_err();
    assert_eq!((err.unmet[0].received, err.missing), (1, 1));
    assert!(
        err.to_string()
            .ends_with("(1 earlier request(s) are no longer in the journal and were not counted)"),
        "{err}"
    );
}

#[test]
fn a_drop_during_a_panic_does_not_panic_again() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let result = std::panic::catch_unwind(AssertUnwindSafe(|| {
        rt.block_on(async {
            let mock = start("capsule").await;
            mock.expect(Endpoint::Token).times(1);
            panic!("the test's own failure");
        })
    }));
    // A second panic while unwinding would have aborted the process; the payload is the
    // test's own.
    let payload = result.unwrap_err();
    assert_eq!(
        payload.downcast_ref::<&str>(),
        Some(&"the test's own failure")
    );
}

#[tokio::test]
async fn secret_bearing_types_redact_themselves_in_debug() {
    let creds = NativeCredentials::default()
        .with_api_key("AK-SECRET")
        .with_password("PW-SECRET")
        .with_private_key("PK-SECRET")
        .with_personal_access_token("PAT-SECRET")
        .with_user_key("UK-SECRET");
    let client = RegisteredClient::new("app", "CS-SECRET", REDIRECT);
    let builder = MockProvider::builder(Profile::builtin("redtail").unwrap())
        .client_secret("CS-SECRET")
        .native_credentials(creds.clone());
    let shown = [
        format!("{:?}", ClientSecret::new("CS-SECRET")),
        format!("{}", ClientSecret::new("CS-SECRET")),
        format!("{client:?}"),
        format!("{creds:?}"),
        format!("{builder:?}"),
        format!("{:?}", builder.start().await.unwrap()),
    ];
    for s in &shown {
        assert!(!s.contains("SECRET"), "{s}");
    }
    assert_eq!(shown[0], "ClientSecret([redacted])");
}
