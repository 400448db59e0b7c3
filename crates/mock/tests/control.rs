//! The control API, faults, TLS, redaction, and snapshots of the wire shapes.

mod common;
#[path = "common/contract.rs"]
mod contract;

use std::time::{Duration, Instant};

use common::*;
use handshake_mock::{Endpoint, Fault, FaultKind, MockProvider, OAuthError};
use handshake_profile::Profile;
use serde_json::{json, Value};

async fn mock(id: &str) -> MockProvider {
    MockProvider::start(Profile::builtin(id).unwrap()).await
}

async fn control(mock: &MockProvider, path: &str, body: Option<Value>) -> reqwest::Response {
    let url = format!("{}/__handshake/{path}", mock.uri());
    let req = match body {
        Some(b) => http().post(url).json(&b),
        None if ["expire", "revoke", "reset"].contains(&path) => http().post(url),
        None => http().get(url),
    };
    // Every answer is checked against openapi.json.
    contract::send(req).await
}

#[tokio::test]
async fn metadata_snapshot_for_every_builtin() {
    for profile in Profile::builtins() {
        let id = profile.id.clone();
        let mock = MockProvider::start(profile).await;
        let v: Value = control(&mock, "metadata", None).await.json().await.unwrap();
        assert_eq!(v["issuer"], mock.uri());
        assert_eq!(v["token_endpoint"], mock.token_url());
        assert_eq!(v["api_resource"], mock.api_url());
        assert_eq!(v, mock.metadata());
        let port = mock.addr().port().to_string();
        let text = serde_json::to_string_pretty(&v)
            .unwrap()
            .replace(&port, "[port]");
        insta::assert_snapshot!(format!("metadata_{id}"), text);
    }
}

#[tokio::test]
async fn token_response_shapes_are_pinned() {
    for profile in Profile::builtins() {
        let id = profile.id.clone();
        let mock = MockProvider::start(profile).await;
        let tok = tokens(&mock).await;
        insta::assert_json_snapshot!(format!("token_response_{id}"), tok, {
            ".access_token" => "[access_token]",
            ".refresh_token" => "[refresh_token]",
            // Computed per response (Salesforce).
            ".instance_url" => "[base_url]",
            // The mock's own base URL (Pipedrive, Zoho).
            ".api_domain" => "[base_url]",
            ".issued_at" => "[issued_at_ms]",
            ".signature" => "[signature]",
        });
    }
}

#[tokio::test]
async fn healthz_clock_expire_revoke_reset_over_http() {
    let mock = mock("capsule").await;
    let resp = control(&mock, "healthz", None).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.json::<Value>().await.unwrap(), json!({"status": "ok"}));

    let tok = tokens(&mock).await;
    let at = tok["access_token"].as_str().unwrap().to_owned();
    assert_eq!(control(&mock, "expire", None).await.status(), 204);
    assert_eq!(api(&mock, Some(&at)).await.status(), 401);

    let rt = tok["refresh_token"].as_str().unwrap();
    let tok2: Value = refresh(&mock, rt).await.json().await.unwrap();
    assert_eq!(control(&mock, "revoke", None).await.status(), 204);
    assert_eq!(
        api(&mock, tok2["access_token"].as_str()).await.status(),
        401
    );

    // Clock: a code dies after code_lifetime_secs.
    let code = code_via_consent(&mock, &auth_params(mock.profile())).await;
    let resp = control(&mock, "clock", Some(json!({"advance_secs": 61}))).await;
    assert_eq!(resp.json::<Value>().await.unwrap()["offset_secs"], 61);
    assert_eq!(
        error_of(exchange(&mock, &code).await).await.1,
        "invalid_grant"
    );
    let resp = control(&mock, "clock", Some(json!({"advance": 1}))).await;
    assert_eq!(error_of(resp).await, (400, "invalid_request".into()));

    assert!(!mock.journal().is_empty());
    assert_eq!(control(&mock, "reset", None).await.status(), 204);
    assert!(mock.journal().is_empty());
    let journal: Value = control(&mock, "journal", None).await.json().await.unwrap();
    assert_eq!(journal, json!([]));
}

#[tokio::test]
async fn faults_over_http_each_kind() {
    let mock = mock("redtail").await;
    let arm = |body: Value| control(&mock, "faults", Some(body));

    let resp =
        arm(json!({"endpoint":"token","kind":"oauth_error","error":"invalid_grant","times":2}))
            .await;
    assert_eq!(resp.status(), 201);
    for _ in 0..2 {
        let r = refresh(&mock, "anything").await;
        assert_eq!(error_of(r).await, (400, "invalid_grant".into()));
    }
    // Faulted requests are journaled like any other.
    assert_eq!(mock.journal().len(), 2);
    assert!(mock.journal().iter().all(|e| e.status == 400));

    arm(json!({"endpoint":"api","kind":"status","status":503})).await;
    let r = api(&mock, None).await;
    assert_eq!(r.status(), 503);
    assert_eq!(api(&mock, None).await.status(), 401);

    arm(json!({"endpoint":"token","kind":"delay","delay_ms":300})).await;
    let t = Instant::now();
    let r = refresh(&mock, "anything").await;
    assert!(t.elapsed() >= Duration::from_millis(300));
    assert_eq!(r.status(), 400);

    arm(json!({"endpoint":"revoke","kind":"drop"})).await;
    let sent = http()
        .post(mock.revoke_url().unwrap())
        .form(&[
            ("token", "x"),
            ("client_id", "handshake-client"),
            ("client_secret", "handshake-secret"),
        ])
        .send()
        .await;
    assert!(sent.is_err(), "dropped connection should fail the request");
    assert_eq!(mock.journal().last().unwrap().status, 0);

    for bad in [
        json!({"endpoint":"token","kind":"status","status":42}),
        json!({"endpoint":"nowhere","kind":"drop"}),
        json!({"kind":"drop"}),
    ] {
        let resp = arm(bad.clone()).await;
        assert_eq!(resp.status(), 400, "{bad}");
    }
}

#[tokio::test]
async fn faults_from_rust() {
    let mock = mock("capsule").await;
    mock.fail_next(Endpoint::Token)
        .with(OAuthError::TemporarilyUnavailable)
        .mount();
    let r = refresh(&mock, "x").await;
    assert_eq!(error_of(r).await, (503, "temporarily_unavailable".into()));

    // An OAuth error at the authorization endpoint is an error redirect.
    mock.fail_next(Endpoint::Authorize)
        .with(OAuthError::ServerError)
        .mount();
    let resp = get_authorize(&mock, &auth_params(mock.profile())).await;
    assert_eq!(resp.status(), 302);
    let loc = location(&resp);
    assert_eq!(query(&loc, "error").as_deref(), Some("server_error"));
    assert_eq!(query(&loc, "state").as_deref(), Some("st-123"));

    let tok = tokens(&mock).await;
    let at = tok["access_token"].as_str().unwrap();
    mock.fail_next(Endpoint::Api)
        .drop_connection()
        .times(2)
        .mount();
    for _ in 0..2 {
        let r = http().get(mock.api_url()).bearer_auth(at).send().await;
        assert!(r.is_err(), "connection should be dropped");
    }
    assert_eq!(api(&mock, Some(at)).await.status(), 200);

    let armed = mock.fail_next(Endpoint::Revoke).with_status(500).times(3);
    assert_eq!(
        armed.fault(),
        &Fault {
            endpoint: Endpoint::Revoke,
            kind: FaultKind::Status { status: 500 },
            times: 3
        }
    );
    armed.mount();
    let r = post_as_profile(&mock, &mock.revoke_url().unwrap(), &[("token", "x")]).await;
    assert_eq!(r.status(), 500);

    mock.reset();
    let r = post_as_profile(&mock, &mock.revoke_url().unwrap(), &[("token", "x")]).await;
    assert_eq!(r.status(), 200, "reset forgets faults");
}

#[tokio::test]
async fn journal_and_debug_never_contain_secrets() {
    for profile in Profile::builtins() {
        let id = profile.id.clone();
        let mock = MockProvider::builder(profile)
            .client_secret("sup3r-s3cret-value")
            .start()
            .await
            .unwrap();
        let q = auth_params(mock.profile());
        let code = code_via_consent(&mock, &q).await;
        let mut params = vec![
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", REDIRECT),
        ];
        if mock.profile().pkce.supported() {
            params.push(("code_verifier", VERIFIER));
        }
        let p = mock.profile().token_request.clone();
        let resp = post_with(
            &mock,
            &mock.token_url(),
            &params,
            p.preferred_encoding(),
            p.preferred_client_auth(),
            "sup3r-s3cret-value",
        )
        .await;
        assert_eq!(resp.status(), 200, "{id}");
        let tok: Value = resp.json().await.unwrap();
        let at = tok["access_token"].as_str().unwrap().to_owned();
        let rt = tok["refresh_token"].as_str().unwrap().to_owned();
        api(&mock, Some(&at)).await;
        let resp = post_with(
            &mock,
            &mock.token_url(),
            &[("grant_type", "refresh_token"), ("refresh_token", &rt)],
            p.preferred_encoding(),
            p.preferred_client_auth(),
            "sup3r-s3cret-value",
        )
        .await;
        assert_eq!(resp.status(), 200);

        let journal = mock.journal();
        assert!(journal.len() >= 5, "{id}");
        let json_text = control(&mock, "journal", None).await.text().await.unwrap();
        let debug_text = format!("{journal:?} {mock:?}");
        for secret in ["sup3r-s3cret-value", &code, &at, &rt, VERIFIER] {
            assert!(
                !json_text.contains(secret),
                "{id}: journal JSON leaks a secret"
            );
            assert!(!debug_text.contains(secret), "{id}: Debug leaks a secret");
        }
        // Basic credentials are base64: make sure that form is not there either.
        let basic = base64::Engine::encode(
            &base64::engine::general_purpose::STANDARD,
            "handshake-client:sup3r-s3cret-value",
        );
        assert!(!json_text.contains(&basic), "{id}");
        let token_entry = journal
            .iter()
            .find(|e| e.endpoint == Some(Endpoint::Token))
            .unwrap();
        assert_eq!(
            token_entry.grant_type.as_deref(),
            Some("authorization_code")
        );
        assert_eq!(
            token_entry.client_auth,
            Some(p.preferred_client_auth()),
            "{id}"
        );
        assert!(token_entry.param("code").unwrap().starts_with("[redacted:"));
    }
}

#[tokio::test]
async fn tls_mock_is_trusted_with_its_ca() {
    let mock = MockProvider::builder(Profile::builtin("capsule").unwrap())
        .tls(true)
        .auto_approve(true)
        .start()
        .await
        .unwrap();
    assert!(mock.uri().starts_with("https://127.0.0.1:"));
    let pem = mock.ca_cert_pem().unwrap();
    assert!(pem.starts_with("-----BEGIN CERTIFICATE-----"));
    let ca = reqwest::Certificate::from_pem(pem.as_bytes()).unwrap();
    let client = reqwest::Client::builder()
        .add_root_certificate(ca)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    for base in [mock.uri(), mock.uri().replace("127.0.0.1", "localhost")] {
        let resp = client
            .get(format!("{base}/__handshake/healthz"))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
    }
    // Without the CA, the certificate is not trusted.
    assert!(http()
        .get(format!("{}/__handshake/healthz", mock.uri()))
        .send()
        .await
        .is_err());
    assert!(MockProvider::start(Profile::builtin("capsule").unwrap())
        .await
        .ca_cert_pem()
        .is_none());
}

#[tokio::test]
async fn a_client_that_trusts_the_kept_ca_keeps_working_after_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let start = |port: u16| {
        MockProvider::builder(Profile::builtin("redtail").unwrap())
            .tls(true)
            .tls_dir(dir.path().join("tls"))
            .port(port)
            .start()
    };
    let first = start(0).await.unwrap();
    let port = first.addr().port();
    // The app trusts the file, as NODE_EXTRA_CA_CERTS would make it.
    let path = first.ca_cert_path().unwrap().to_owned();
    let pem = std::fs::read(&path).unwrap();
    let app = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(&pem).unwrap())
        .pool_max_idle_per_host(0)
        .build()
        .unwrap();
    let healthz = format!("{}/__handshake/healthz", first.uri());
    assert_eq!(app.get(&healthz).send().await.unwrap().status(), 200);
    drop(first);
    tokio::time::sleep(Duration::from_millis(50)).await;

    let second = start(port).await.unwrap();
    assert_eq!(second.ca_cert_path(), Some(path.as_path()));
    assert_eq!(second.ca_cert_pem().unwrap().as_bytes(), pem.as_slice());
    assert_eq!(app.get(&healthz).send().await.unwrap().status(), 200);

    // A throwaway CA (no directory) is another CA at every start: the app would fail.
    let other = MockProvider::builder(Profile::builtin("redtail").unwrap())
        .tls(true)
        .start()
        .await
        .unwrap();
    assert!(other.ca_cert_path().is_none());
    assert!(app
        .get(format!("{}/__handshake/healthz", other.uri()))
        .send()
        .await
        .is_err());
}

#[tokio::test]
async fn drop_shuts_the_server_down() {
    let mock = mock("agilecrm").await;
    let url = format!("{}/__handshake/healthz", mock.uri());
    assert_eq!(http().get(&url).send().await.unwrap().status(), 200);
    drop(mock);
    tokio::time::sleep(Duration::from_millis(50)).await;
    let fresh = reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .build()
        .unwrap();
    assert!(fresh.get(&url).send().await.is_err());
}

#[tokio::test]
async fn builder_rejects_bad_registrations_and_conflicting_paths() {
    let p = Profile::builtin("capsule").unwrap();
    let err = MockProvider::builder(p.clone())
        .redirect_uri("not a url")
        .start()
        .await
        .unwrap_err();
    assert!(err.to_string().contains("not a URL"), "{err}");
    let err = MockProvider::builder(p.clone())
        .redirect_uri("http://localhost/cb#frag")
        .start()
        .await
        .unwrap_err();
    assert!(err.to_string().contains("fragment"), "{err}");
    let mut clash = p.clone();
    clash.api.path = clash.oauth.token_path.clone();
    let err = MockProvider::builder(clash).start().await.unwrap_err();
    assert!(err.to_string().contains("both"), "{err}");
    let mut braces = p;
    braces.api.path = "/api/{id}".into();
    assert!(MockProvider::builder(braces).start().await.is_err());
    // A taken port is a typed error, not a panic.
    let first = mock("capsule").await;
    let err = MockProvider::builder(Profile::builtin("capsule").unwrap())
        .port(first.addr().port())
        .start()
        .await
        .unwrap_err();
    assert!(
        matches!(err, handshake_mock::MockError::Bind { .. }),
        "{err}"
    );
}
