//! Relaxations: each requirement's refusal names it in the journal, and relaxing it turns
//! the refusal into success, and nothing else.

mod common;
#[path = "common/contract.rs"]
mod contract;

use common::*;
use handshake_mock::{Endpoint, JournalEntry, MockProvider, Relaxation};
use handshake_profile::{ClientAuth, Profile, TokenEncoding};
use serde_json::{json, Value};

async fn mock(id: &str) -> MockProvider {
    MockProvider::start(Profile::builtin(id).unwrap()).await
}

fn last(mock: &MockProvider) -> JournalEntry {
    mock.journal().pop().expect("a journal entry")
}

/// An authorization request through the consent page; `Ok(code)` or `Err(error)` from the
/// redirect.
async fn authorize(mock: &MockProvider, q: &[(String, String)]) -> Result<String, String> {
    let resp = get_authorize(mock, q).await;
    if resp.status() == 302 {
        let loc = location(&resp);
        return Err(query(&loc, "error").expect("an error redirect"));
    }
    let html = resp.text().await.unwrap();
    let resp = decide(mock, &consent_id(&html), "approve").await;
    Ok(query(&location(&resp), "code").expect("code"))
}

fn without_pkce(p: &Profile) -> Vec<(String, String)> {
    let mut q = auth_params(p);
    set(&mut q, "code_challenge", None);
    set(&mut q, "code_challenge_method", None);
    q
}

#[tokio::test]
async fn pkce_required_refusals_name_pkce_and_relaxing_lets_them_pass() {
    let mock = mock("connectwise").await;
    let p = mock.profile().clone();

    assert_eq!(
        authorize(&mock, &without_pkce(&p)).await.unwrap_err(),
        "invalid_request"
    );
    let e = last(&mock);
    assert_eq!(e.requirement, Some(Relaxation::Pkce));
    assert_eq!(e.error.as_deref(), Some("invalid_request"));
    assert!(e
        .error_description
        .unwrap()
        .contains("code_challenge is required"));

    // plain at an S256-only provider: a PKCE requirement too.
    let mut plain = auth_params(&p);
    set(&mut plain, "code_challenge", Some(VERIFIER));
    set(&mut plain, "code_challenge_method", Some("plain"));
    assert!(authorize(&mock, &plain).await.is_err());
    assert_eq!(last(&mock).requirement, Some(Relaxation::Pkce));

    // A malformed request is no requirement: relaxing would not help.
    let mut bogus = auth_params(&p);
    set(&mut bogus, "code_challenge_method", Some("S512"));
    assert!(authorize(&mock, &bogus).await.is_err());
    let e = last(&mock);
    assert_eq!(e.requirement, None);
    assert_eq!(e.error.as_deref(), Some("invalid_request"));

    mock.relax(Relaxation::Pkce);
    let code = authorize(&mock, &without_pkce(&p)).await.unwrap();
    let params = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", REDIRECT),
    ];
    let resp = post_as_profile(&mock, &mock.token_url(), &params).await;
    assert_eq!(resp.status(), 200, "no verifier needed once relaxed");
    assert_eq!(last(&mock).requirement, None);
    assert_eq!(last(&mock).error, None);

    // A challenge sent is still verified.
    let code = authorize(&mock, &auth_params(&p)).await.unwrap();
    let wrong = "x".repeat(43);
    let params = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", REDIRECT),
        ("code_verifier", wrong.as_str()),
    ];
    let resp = post_as_profile(&mock, &mock.token_url(), &params).await;
    assert_eq!(error_of(resp).await, (400, "invalid_grant".into()));
    assert_eq!(last(&mock).requirement, None);

    // plain is accepted, and verified.
    let code = authorize(&mock, &plain).await.unwrap();
    assert_eq!(exchange(&mock, &code).await.status(), 200);
}

#[tokio::test]
async fn unsupported_body_encoding_names_body_encoding_and_relaxing_accepts_json() {
    let mock = mock("capsule").await; // form only
    let code = code_via_consent(&mock, &auth_params(mock.profile())).await;
    let params = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", REDIRECT),
        ("code_verifier", VERIFIER),
    ];
    let token_url = mock.token_url();
    let json_exchange = || {
        post_with(
            &mock,
            &token_url,
            &params,
            TokenEncoding::Json,
            ClientAuth::ClientSecretBasic,
            "handshake-secret",
        )
    };
    assert_eq!(
        error_of(json_exchange().await).await,
        (400, "invalid_request".into())
    );
    let e = last(&mock);
    assert_eq!(e.requirement, Some(Relaxation::BodyEncoding));
    assert!(e
        .error_description
        .unwrap()
        .contains("x-www-form-urlencoded"));

    // Neither form nor JSON: no relaxation accepts it.
    let resp = http()
        .post(mock.token_url())
        .basic_auth("handshake-client", Some("handshake-secret"))
        .header("content-type", "text/plain")
        .body("grant_type=authorization_code")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    assert_eq!(last(&mock).requirement, None);

    mock.relax(Relaxation::BodyEncoding);
    let resp = json_exchange().await;
    assert_eq!(
        resp.status(),
        200,
        "the refused request did not spend the code"
    );
    let tok: Value = resp.json().await.unwrap();
    // Revocation takes JSON too now; form still works.
    let rt = tok["refresh_token"].as_str().unwrap();
    let resp = post_with(
        &mock,
        &mock.revoke_url().unwrap(),
        &[("token", rt)],
        TokenEncoding::Json,
        ClientAuth::ClientSecretBasic,
        "handshake-secret",
    )
    .await;
    assert_eq!(resp.status(), 200);
    assert_eq!(mock.grants_of("alice"), 0);
    let resp = post_as_profile(&mock, &mock.revoke_url().unwrap(), &[("token", "x")]).await;
    assert_eq!(resp.status(), 200);
}

#[tokio::test]
async fn a_json_revocation_is_refused_with_body_encoding_until_relaxed() {
    let mock = mock("redtail").await;
    let revoke_url = mock.revoke_url().unwrap();
    let revoke = |enc| {
        post_with(
            &mock,
            &revoke_url,
            &[("token", "x")],
            enc,
            ClientAuth::ClientSecretPost,
            "handshake-secret",
        )
    };
    assert_eq!(revoke(TokenEncoding::Json).await.status(), 400);
    let e = last(&mock);
    assert_eq!(e.endpoint, Some(Endpoint::Revoke));
    assert_eq!(e.requirement, Some(Relaxation::BodyEncoding));
    mock.relax(Relaxation::BodyEncoding);
    assert_eq!(revoke(TokenEncoding::Json).await.status(), 200);
}

#[tokio::test]
async fn a_client_auth_method_the_provider_refuses_names_client_auth_and_relaxing_accepts_it() {
    let mock = mock("redtail").await; // client_secret_post only
    let code = code_via_consent(&mock, &auth_params(mock.profile())).await;
    let params = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", REDIRECT),
    ];
    let token_url = mock.token_url();
    let basic = |secret: &'static str| {
        post_with(
            &mock,
            &token_url,
            &params,
            TokenEncoding::Form,
            ClientAuth::ClientSecretBasic,
            secret,
        )
    };
    let resp = basic("handshake-secret").await;
    assert_eq!(resp.status(), 401);
    assert!(resp.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .starts_with("Basic"));
    let e = last(&mock);
    assert_eq!(e.requirement, Some(Relaxation::ClientAuth));
    assert_eq!(e.error.as_deref(), Some("invalid_client"));
    assert!(e
        .error_description
        .unwrap()
        .contains("client_secret_basic is not accepted"));

    mock.relax(Relaxation::ClientAuth);
    // A wrong secret is still refused, and that is no requirement.
    let resp = basic("wrong-secret").await;
    assert_eq!(error_of(resp).await, (401, "invalid_client".into()));
    let e = last(&mock);
    assert_eq!(e.requirement, None);
    assert_eq!(
        e.error_description.as_deref(),
        Some("client authentication failed")
    );
    assert_eq!(basic("handshake-secret").await.status(), 200);
    assert_eq!(mock.relaxed(), [Relaxation::ClientAuth]);
}

#[tokio::test]
async fn an_unsupported_scope_names_scope_and_relaxing_grants_what_is_supported() {
    let mock = mock("capsule").await; // supported read write ...; default read write
    let mut q = auth_params(mock.profile());
    set(&mut q, "scope", Some("read contacts.read"));
    assert_eq!(authorize(&mock, &q).await.unwrap_err(), "invalid_scope");
    let e = last(&mock);
    assert_eq!(e.requirement, Some(Relaxation::Scope));
    assert_eq!(e.error.as_deref(), Some("invalid_scope"));

    mock.relax(Relaxation::Scope);
    let code = authorize(&mock, &q).await.unwrap();
    let tok: Value = exchange(&mock, &code).await.json().await.unwrap();
    assert_eq!(tok["scope"], "read", "the unsupported scope is dropped");

    set(&mut q, "scope", Some("contacts.read"));
    let code = authorize(&mock, &q).await.unwrap();
    let tok: Value = exchange(&mock, &code).await.json().await.unwrap();
    assert_eq!(
        tok["scope"], "read write",
        "nothing supported left: the defaults"
    );
    assert_eq!(api(&mock, tok["access_token"].as_str()).await.status(), 200);
}

#[tokio::test]
async fn a_refresh_beyond_the_grant_names_scope_and_relaxing_drops_the_extra() {
    let mock = mock("connectwise").await; // default read; supported read write
    let tok = tokens(&mock).await;
    assert_eq!(tok["scope"], "read");
    let rt = tok["refresh_token"].as_str().unwrap();
    let params = [
        ("grant_type", "refresh_token"),
        ("refresh_token", rt),
        ("scope", "read write"),
    ];
    let resp = post_as_profile(&mock, &mock.token_url(), &params).await;
    assert_eq!(error_of(resp).await, (400, "invalid_scope".into()));
    assert_eq!(last(&mock).requirement, Some(Relaxation::Scope));

    mock.relax(Relaxation::Scope);
    let resp = post_as_profile(&mock, &mock.token_url(), &params).await;
    assert_eq!(resp.status(), 200);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["scope"], "read");
}

#[tokio::test]
async fn refusals_no_relaxation_lifts_carry_an_error_and_no_requirement() {
    let mock = mock("capsule").await;
    for r in Relaxation::ALL {
        mock.relax(r);
    }
    let resp = exchange(&mock, "not-a-code").await;
    assert_eq!(error_of(resp).await, (400, "invalid_grant".into()));
    let e = last(&mock);
    assert_eq!(e.requirement, None);
    assert_eq!(e.error.as_deref(), Some("invalid_grant"));
    assert!(e
        .error_description
        .as_deref()
        .unwrap()
        .starts_with("authorization code is invalid"));
    let mut q = auth_params(mock.profile());
    set(&mut q, "response_type", Some("token"));
    assert_eq!(
        authorize(&mock, &q).await.unwrap_err(),
        "unsupported_response_type"
    );
    assert_eq!(last(&mock).requirement, None);
    // Successes carry neither.
    let tok = tokens(&mock).await;
    assert!(tok["access_token"].is_string());
    let e = last(&mock);
    assert_eq!(
        (e.error, e.error_description, e.requirement),
        (None, None, None)
    );
}

#[tokio::test]
async fn relaxations_over_http_and_reset() {
    let mock = mock("connectwise").await;
    let url = format!("{}/__handshake/relax", mock.uri());
    // Every answer is checked against openapi.json.
    let get = || async {
        contract::send(http().get(&url))
            .await
            .json::<Value>()
            .await
            .unwrap()
    };
    assert_eq!(get().await, json!({"relaxed": []}));
    for (name, expect) in [
        ("scope", json!(["scope"])),
        ("pkce", json!(["pkce", "scope"])),
        ("pkce", json!(["pkce", "scope"])),
        ("client_auth", json!(["pkce", "client_auth", "scope"])),
    ] {
        let resp = contract::send(http().post(&url).json(&json!({"requirement": name}))).await;
        assert_eq!(resp.status(), 200);
        assert_eq!(
            resp.json::<Value>().await.unwrap(),
            json!({"relaxed": expect})
        );
    }
    assert_eq!(
        get().await["relaxed"],
        json!(["pkce", "client_auth", "scope"])
    );
    assert_eq!(
        mock.relaxed(),
        [Relaxation::Pkce, Relaxation::ClientAuth, Relaxation::Scope]
    );
    // The relaxation is live for requests at once.
    let p = mock.profile().clone();
    assert!(authorize(&mock, &without_pkce(&p)).await.is_ok());

    let reset = format!("{}/__handshake/reset", mock.uri());
    assert_eq!(contract::send(http().post(reset)).await.status(), 204);
    assert_eq!(get().await, json!({"relaxed": []}));
    assert!(authorize(&mock, &without_pkce(&p)).await.is_err());
    assert_eq!(last(&mock).requirement, Some(Relaxation::Pkce));
}
