//! Full OAuth flows and each failure, over real HTTP, against the five built-in mocks.

mod common;
#[path = "common/contract.rs"]
mod contract;

use std::time::Duration;

use common::*;
use handshake_mock::MockProvider;
use handshake_profile::{ClientAuth, PkceMode, Profile, Rotation, TokenEncoding};
use serde_json::Value;

async fn mock(id: &str) -> MockProvider {
    MockProvider::start(Profile::builtin(id).unwrap()).await
}

#[tokio::test]
async fn full_flow_through_the_consent_page_for_every_builtin() {
    for profile in Profile::builtins() {
        let id = profile.id.clone();
        let mock = MockProvider::start(profile).await;

        let page = get_authorize(&mock, &auth_params(mock.profile())).await;
        assert_eq!(page.status(), 200, "{id}");
        let h = page.headers().clone();
        assert_eq!(h["x-frame-options"], "DENY", "{id}");
        assert_eq!(h["referrer-policy"], "no-referrer", "{id}");
        assert_eq!(h["cache-control"], "no-store", "{id}");
        let html = page.text().await.unwrap();
        assert!(html.contains("<form method=\"post\""), "{id}");
        assert!(
            html.contains("id=\"approve\"") && html.contains("id=\"deny\""),
            "{id}"
        );

        let resp = decide(&mock, &consent_id(&html), "approve").await;
        assert_eq!(resp.status(), 303, "{id}");
        let loc = location(&resp);
        assert!(loc.as_str().starts_with(REDIRECT), "{id}");
        assert_eq!(query(&loc, "state").as_deref(), Some("st-123"), "{id}");
        let code = query(&loc, "code").unwrap();

        let resp = exchange(&mock, &code).await;
        assert_eq!(resp.status(), 200, "{id}");
        assert_eq!(resp.headers()["cache-control"], "no-store", "{id}");
        assert_eq!(resp.headers()["pragma"], "no-cache", "{id}");
        let tok: Value = resp.json().await.unwrap();
        let p = mock.profile();
        assert_eq!(tok["token_type"], p.tokens.token_type, "{id}");
        if p.tokens.expires_in {
            assert_eq!(
                tok["expires_in"], p.tokens.access_token_lifetime_secs,
                "{id}"
            );
        } else {
            // Salesforce: session-based, no expires_in.
            assert!(tok.get("expires_in").is_none(), "{id}: {tok}");
        }
        match &p.tokens.granted_scopes_field {
            // HubSpot: an array of the granted scopes, no `scope` string.
            Some(f) => {
                assert_eq!(tok[f], serde_json::json!(p.scopes.default), "{id}");
                assert!(tok.get("scope").is_none(), "{id}: {tok}");
            }
            None => assert_eq!(
                tok["scope"],
                p.scopes.join_response(&p.scopes.default),
                "{id}"
            ),
        }
        for (k, v) in &p.tokens.extra_fields {
            assert_eq!(&tok[k], v, "{id}");
        }
        let at = tok["access_token"].as_str().unwrap().to_owned();
        let rt = tok["refresh_token"].as_str().unwrap().to_owned();

        let resp = api(&mock, Some(&at)).await;
        assert_eq!(resp.status(), 200, "{id}");
        let body: Value = resp.json().await.unwrap();
        let mut records = match &p.api.envelope {
            Some(k) => body[k].clone(),
            None => body.clone(),
        };
        // The first page of the generated data set, as the profile pages it (Agile's paging
        // fields stripped).
        for r in records.as_array_mut().unwrap() {
            let r = r.as_object_mut().unwrap();
            r.remove("count");
            r.remove("cursor");
        }
        let size = p.api.paging.as_ref().unwrap().default_size as usize;
        let expected = &mock.dataset()[..size.min(mock.dataset().len())];
        assert_eq!(records, Value::Array(expected.to_vec()), "{id}");

        let resp = refresh(&mock, &rt).await;
        assert_eq!(resp.status(), 200, "{id}");
        let tok2: Value = resp.json().await.unwrap();
        let at2 = tok2["access_token"].as_str().unwrap().to_owned();
        // Zoho sends no refresh token back: the client keeps its own.
        let rt2 = match tok2["refresh_token"].as_str() {
            Some(rt2) => rt2.to_owned(),
            None => {
                assert!(!p.tokens.refresh_response_refresh_token, "{id}: {tok2}");
                rt.clone()
            }
        };
        assert_ne!(at, at2, "{id}");
        match p.tokens.rotation {
            Rotation::Off => assert_eq!(rt, rt2, "{id}"),
            _ => assert_ne!(rt, rt2, "{id}"),
        }
        assert_eq!(api(&mock, Some(&at2)).await.status(), 200, "{id}");

        // Revoking the refresh token ends the grant: its access tokens die too (Pipedrive
        // documents no revocation endpoint).
        let Some(revoke) = mock.revoke_url() else {
            assert!(p.oauth.revoke_paths.is_empty(), "{id}");
            continue;
        };
        let resp = post_as_profile(
            &mock,
            &revoke,
            &[("token", &rt2), ("token_type_hint", "refresh_token")],
        )
        .await;
        assert_eq!(resp.status(), 200, "{id}");
        assert_eq!(api(&mock, Some(&at2)).await.status(), 401, "{id}");
        let (status, err) = error_of(refresh(&mock, &rt2).await).await;
        assert_eq!((status, err.as_str()), (400, "invalid_grant"), "{id}");
    }
}

#[tokio::test]
async fn auto_approve_redirects_at_once_for_every_builtin() {
    for profile in Profile::builtins() {
        let id = profile.id.clone();
        let mock = MockProvider::builder(profile)
            .auto_approve(true)
            .start()
            .await
            .unwrap();
        let resp = get_authorize(&mock, &auth_params(mock.profile())).await;
        assert_eq!(resp.status(), 302, "{id}");
        let loc = location(&resp);
        assert_eq!(query(&loc, "state").as_deref(), Some("st-123"));
        let code = query(&loc, "code").unwrap();
        assert_eq!(exchange(&mock, &code).await.status(), 200, "{id}");
    }
}

#[tokio::test]
async fn deny_redirects_with_access_denied_and_state() {
    let mock = mock("capsule").await;
    let html = get_authorize(&mock, &auth_params(mock.profile()))
        .await
        .text()
        .await
        .unwrap();
    let id = consent_id(&html);
    let resp = decide(&mock, &id, "deny").await;
    let loc = location(&resp);
    assert_eq!(query(&loc, "error").as_deref(), Some("access_denied"));
    assert_eq!(query(&loc, "state").as_deref(), Some("st-123"));
    assert!(query(&loc, "code").is_none());
    // The consent id is single-use: replaying the POST gets an error page, not a code.
    let replay = decide(&mock, &id, "approve").await;
    assert_eq!(replay.status(), 400);
    assert!(replay.headers().get("location").is_none());
    // A made-up consent id cannot approve anything.
    assert_eq!(decide(&mock, "forged", "approve").await.status(), 400);
}

#[tokio::test]
async fn redirect_uri_mismatch_and_unknown_client_show_an_error_page_never_a_redirect() {
    let mock = mock("insightly").await;
    let base = auth_params(mock.profile());
    let cases = [
        ("redirect_uri", Some("http://localhost:3000/callback/evil")),
        ("redirect_uri", Some("http://localhost:3000/callback?x=1")),
        ("redirect_uri", Some("https://attacker.example/callback")),
        ("client_id", Some("someone-else")),
        ("client_id", None),
    ];
    for (k, v) in cases {
        let mut q = base.clone();
        set(&mut q, k, v);
        let resp = get_authorize(&mock, &q).await;
        assert_eq!(resp.status(), 400, "{k}={v:?}");
        assert!(resp.headers().get("location").is_none(), "{k}={v:?}");
        assert!(resp.text().await.unwrap().contains("Authorization error"));
    }
}

#[tokio::test]
async fn authorization_request_errors_redirect_with_state() {
    let mock = mock("connectwise").await;
    let base = auth_params(mock.profile());
    let cases: Vec<(&str, Option<&str>, &str)> = vec![
        ("response_type", Some("token"), "unsupported_response_type"),
        ("response_type", None, "invalid_request"),
        ("scope", Some("read admin"), "invalid_scope"),
        // ConnectWise requires PKCE.
        ("code_challenge", None, "invalid_request"),
        ("code_challenge_method", Some("plain"), "invalid_request"),
        ("code_challenge_method", Some("S512"), "invalid_request"),
        ("code_challenge", Some("too-short"), "invalid_request"),
    ];
    for (k, v, want) in cases {
        let mut q = base.clone();
        set(&mut q, k, v);
        let resp = get_authorize(&mock, &q).await;
        assert_eq!(resp.status(), 302, "{k}={v:?}");
        let loc = location(&resp);
        assert_eq!(query(&loc, "error").as_deref(), Some(want), "{k}={v:?}");
        assert_eq!(query(&loc, "state").as_deref(), Some("st-123"));
    }
    // Duplicate parameters (RFC 6749 §3.1).
    let mut q = base.clone();
    q.push(("state".into(), "other".into()));
    let loc = location(&get_authorize(&mock, &q).await);
    assert_eq!(query(&loc, "error").as_deref(), Some("invalid_request"));
}

#[tokio::test]
async fn pkce_unsupported_provider_ignores_pkce_parameters() {
    let mock = mock("redtail").await;
    assert_eq!(mock.profile().pkce.mode, PkceMode::Unsupported);
    let mut q = auth_params(mock.profile());
    q.push(("code_challenge".into(), s256(VERIFIER)));
    q.push(("code_challenge_method".into(), "S256".into()));
    let code = code_via_consent(&mock, &q).await;
    let resp = post_as_profile(
        &mock,
        &mock.token_url(),
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", REDIRECT),
            (
                "code_verifier",
                "whatever-the-client-sends-is-ignored-by-this-provider",
            ),
        ],
    )
    .await;
    assert_eq!(resp.status(), 200);
}

#[tokio::test]
async fn code_reuse_fails_and_revokes_the_tokens_it_issued() {
    let mock = mock("capsule").await;
    let code = code_via_consent(&mock, &auth_params(mock.profile())).await;
    let tok: Value = exchange(&mock, &code).await.json().await.unwrap();
    let at = tok["access_token"].as_str().unwrap();
    let rt = tok["refresh_token"].as_str().unwrap();
    assert_eq!(api(&mock, Some(at)).await.status(), 200);

    let (status, err) = error_of(exchange(&mock, &code).await).await;
    assert_eq!((status, err.as_str()), (400, "invalid_grant"));
    assert_eq!(api(&mock, Some(at)).await.status(), 401);
    assert_eq!(error_of(refresh(&mock, rt).await).await.1, "invalid_grant");
}

#[tokio::test]
async fn expired_code_is_refused() {
    let mock = mock("capsule").await;
    let code = code_via_consent(&mock, &auth_params(mock.profile())).await;
    mock.advance_clock(Duration::from_secs(
        mock.profile().tokens.code_lifetime_secs + 1,
    ));
    let (status, err) = error_of(exchange(&mock, &code).await).await;
    assert_eq!((status, err.as_str()), (400, "invalid_grant"));
}

#[tokio::test]
async fn code_is_bound_to_the_redirect_uri() {
    let mock = MockProvider::builder(Profile::builtin("redtail").unwrap())
        .redirect_uri(REDIRECT)
        .redirect_uri("http://localhost:3000/other")
        .start()
        .await
        .unwrap();
    let code = code_via_consent(&mock, &auth_params(mock.profile())).await;
    let resp = post_as_profile(
        &mock,
        &mock.token_url(),
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", "http://localhost:3000/other"),
        ],
    )
    .await;
    assert_eq!(error_of(resp).await, (400, "invalid_grant".into()));
    let resp = post_as_profile(
        &mock,
        &mock.token_url(),
        &[("grant_type", "authorization_code"), ("code", &code)],
    )
    .await;
    assert_eq!(error_of(resp).await, (400, "invalid_request".into()));
    // Still redeemable with the right one: failed attempts do not burn the code.
    assert_eq!(exchange(&mock, &code).await.status(), 200);
}

#[tokio::test]
async fn pkce_mismatch_missing_verifier_and_downgrade_are_refused() {
    let mock = mock("capsule").await;
    let code = code_via_consent(&mock, &auth_params(mock.profile())).await;
    for verifier in [Some("x".repeat(43)), Some(VERIFIER.to_uppercase()), None] {
        let mut params = vec![
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", REDIRECT),
        ];
        if let Some(v) = &verifier {
            params.push(("code_verifier", v));
        }
        let resp = post_as_profile(&mock, &mock.token_url(), &params).await;
        assert_eq!(
            error_of(resp).await,
            (400, "invalid_grant".into()),
            "{verifier:?}"
        );
    }

    // Downgrade: the code was issued without a challenge, but a verifier is sent.
    let mut q = auth_params(mock.profile());
    set(&mut q, "code_challenge", None);
    set(&mut q, "code_challenge_method", None);
    let code = code_via_consent(&mock, &q).await;
    let resp = exchange(&mock, &code).await;
    let (status, err) = error_of(resp).await;
    assert_eq!((status, err.as_str()), (400, "invalid_grant"));

    // plain (RFC 7636 §4.2) works where offered.
    let mut q = auth_params(mock.profile());
    set(&mut q, "code_challenge", Some(VERIFIER));
    set(&mut q, "code_challenge_method", Some("plain"));
    let code = code_via_consent(&mock, &q).await;
    assert_eq!(exchange(&mock, &code).await.status(), 200);
}

#[tokio::test]
async fn wrong_secret_and_disallowed_auth_method_get_invalid_client() {
    // Capsule accepts Basic: a failed Basic attempt gets WWW-Authenticate: Basic.
    let mock = mock("capsule").await;
    let code = code_via_consent(&mock, &auth_params(mock.profile())).await;
    let params = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", REDIRECT),
        ("code_verifier", VERIFIER),
    ];
    let resp = post_with(
        &mock,
        &mock.token_url(),
        &params,
        TokenEncoding::Form,
        ClientAuth::ClientSecretBasic,
        "wrong",
    )
    .await;
    assert_eq!(resp.status(), 401);
    assert!(resp.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .starts_with("Basic"));
    assert_eq!(error_of(resp).await.1, "invalid_client");
    let resp = post_with(
        &mock,
        &mock.token_url(),
        &params,
        TokenEncoding::Form,
        ClientAuth::ClientSecretPost,
        "wrong",
    )
    .await;
    // Body authentication: 400, since a 401 must carry a challenge (RFC 9110 §15.5.2).
    assert_eq!(resp.status(), 400);
    assert!(resp.headers().get("www-authenticate").is_none());

    // Redtail takes client_secret_post only: Basic is refused even with the right secret.
    let mock = mock_redtail().await;
    let code = code_via_consent(&mock, &auth_params(mock.profile())).await;
    let resp = post_with(
        &mock,
        &mock.token_url(),
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", REDIRECT),
        ],
        TokenEncoding::Form,
        ClientAuth::ClientSecretBasic,
        "handshake-secret",
    )
    .await;
    assert_eq!(resp.status(), 401);
    assert_eq!(error_of(resp).await.1, "invalid_client");
}

#[tokio::test]
async fn wrong_body_encoding_is_invalid_request() {
    // Each built-in refuses the encoding its profile does not list (Capsule and Redtail
    // take form only); a profile that lists both has no wrong one.
    let mut checked = 0;
    for profile in Profile::builtins() {
        let id = profile.id.clone();
        let Some(wrong) = [TokenEncoding::Form, TokenEncoding::Json]
            .into_iter()
            .find(|e| !profile.token_request.encodings.contains(e))
        else {
            continue;
        };
        checked += 1;
        let mock = MockProvider::start(profile).await;
        let code = code_via_consent(&mock, &auth_params(mock.profile())).await;
        let auth = mock.profile().token_request.preferred_client_auth();
        let resp = post_with(
            &mock,
            &mock.token_url(),
            &[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", REDIRECT),
                ("code_verifier", VERIFIER),
            ],
            wrong,
            auth,
            "handshake-secret",
        )
        .await;
        assert_eq!(
            error_of(resp).await,
            (400, "invalid_request".into()),
            "{id}"
        );
    }
    assert!(checked >= 2, "capsule and redtail take one encoding only");
}

#[tokio::test]
async fn unknown_grant_type_is_unsupported_grant_type() {
    let mock = mock("insightly").await;
    let resp = post_as_profile(
        &mock,
        &mock.token_url(),
        &[
            ("grant_type", "password"),
            ("username", "u"),
            ("password", "p"),
        ],
    )
    .await;
    assert_eq!(error_of(resp).await, (400, "unsupported_grant_type".into()));
}

#[tokio::test]
async fn rotation_invalidates_old_refresh_tokens() {
    // Capsule rotates: the old token stops working, but the grant survives.
    let mock = mock("capsule").await;
    let tok = tokens(&mock).await;
    let rt1 = tok["refresh_token"].as_str().unwrap();
    let tok2: Value = refresh(&mock, rt1).await.json().await.unwrap();
    let rt2 = tok2["refresh_token"].as_str().unwrap();
    assert_eq!(error_of(refresh(&mock, rt1).await).await.1, "invalid_grant");
    assert_eq!(refresh(&mock, rt2).await.status(), 200);
}

#[tokio::test]
async fn refresh_token_reuse_revokes_the_family() {
    let mock = mock("connectwise").await;
    assert_eq!(
        mock.profile().tokens.rotation,
        Rotation::RotateReuseRevokesFamily
    );
    let tok = tokens(&mock).await;
    let rt1 = tok["refresh_token"].as_str().unwrap();
    let tok2: Value = refresh(&mock, rt1).await.json().await.unwrap();
    let rt2 = tok2["refresh_token"].as_str().unwrap();
    let at2 = tok2["access_token"].as_str().unwrap();
    assert_eq!(api(&mock, Some(at2)).await.status(), 200);
    // An attacker replays the old token: the whole grant dies.
    assert_eq!(error_of(refresh(&mock, rt1).await).await.1, "invalid_grant");
    assert_eq!(error_of(refresh(&mock, rt2).await).await.1, "invalid_grant");
    assert_eq!(api(&mock, Some(at2)).await.status(), 401);
}

#[tokio::test]
async fn revoked_grant_and_expired_tokens_get_401_invalid_token() {
    let mock = mock("insightly").await;
    let tok = tokens(&mock).await;
    let at = tok["access_token"].as_str().unwrap();
    let rt = tok["refresh_token"].as_str().unwrap();

    mock.expire_access_tokens();
    let resp = api(&mock, Some(at)).await;
    assert_eq!(resp.status(), 401);
    let challenge = resp.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(challenge.starts_with("Bearer "), "{challenge}");
    assert!(challenge.contains("error=\"invalid_token\""), "{challenge}");
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["error"], "invalid_token");

    // Refresh still works after access-token expiry...
    let tok2: Value = refresh(&mock, rt).await.json().await.unwrap();
    let at2 = tok2["access_token"].as_str().unwrap();
    assert_eq!(api(&mock, Some(at2)).await.status(), 200);
    // ...until the user revokes the app.
    mock.revoke_grants();
    assert_eq!(api(&mock, Some(at2)).await.status(), 401);
    let rt2 = tok2["refresh_token"].as_str().unwrap();
    assert_eq!(error_of(refresh(&mock, rt2).await).await.1, "invalid_grant");

    // Token lifetime passes on the virtual clock.
    let tok3 = tokens(&mock).await;
    let at3 = tok3["access_token"].as_str().unwrap();
    mock.advance_clock(Duration::from_secs(3601));
    assert_eq!(api(&mock, Some(at3)).await.status(), 401);
}

#[tokio::test]
async fn unauthorized_shapes_follow_rfc6750_and_the_profile() {
    // Missing token: a challenge without an error attribute (RFC 6750 §3.1).
    for profile in Profile::builtins() {
        let id = profile.id.clone();
        let mock = MockProvider::start(profile).await;
        let resp = api(&mock, None).await;
        assert_eq!(resp.status(), 401, "{id}");
        let ch = resp.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .to_owned();
        // `Bearer`, or the profile's own word (Zoho `Zoho-oauthtoken`).
        assert!(
            ch.starts_with(&mock.profile().api.auth_scheme),
            "{id}: {ch}"
        );
        assert!(!ch.contains("error="), "{id}: {ch}");
        let resp = api(&mock, Some("made-up")).await;
        assert_eq!(resp.status(), 401, "{id}");
        let body = resp.text().await.unwrap();
        let expected = mock.profile().errors.render(
            &mock.profile().errors.unauthorized_body,
            "invalid_token",
            "The access token is invalid or revoked",
        );
        assert_eq!(body, expected, "{id}");
        // A query-string token is not accepted (header only).
        let resp = http()
            .get(format!("{}?access_token=x", mock.api_url()))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 401, "{id}");
    }
    // ConnectWise has its own 401 body shape.
    let mock = mock("connectwise").await;
    let v: Value = api(&mock, Some("made-up")).await.json().await.unwrap();
    assert_eq!(v["code"], "Unauthorized");
    assert_eq!(v["errors"][0]["code"], "invalid_token");
}

#[tokio::test]
async fn token_without_required_scope_gets_403_insufficient_scope() {
    let mock = mock("capsule").await;
    let mut q = auth_params(mock.profile());
    set(&mut q, "scope", Some("write"));
    let code = code_via_consent(&mock, &q).await;
    let tok: Value = exchange(&mock, &code).await.json().await.unwrap();
    assert_eq!(tok["scope"], "write");
    let resp = api(&mock, tok["access_token"].as_str()).await;
    assert_eq!(resp.status(), 403);
    let ch = resp.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(ch.contains("error=\"insufficient_scope\""), "{ch}");
    assert!(ch.contains("scope=\"read\""), "{ch}");
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["error"], "insufficient_scope");

    // Refresh cannot widen the scope.
    let rt = tok["refresh_token"].as_str().unwrap();
    let resp = post_as_profile(
        &mock,
        &mock.token_url(),
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", rt),
            ("scope", "read write"),
        ],
    )
    .await;
    assert_eq!(error_of(resp).await, (400, "invalid_scope".into()));
}

#[tokio::test]
async fn rate_limit_gives_429_with_headers() {
    let mut profile = Profile::builtin("insightly").unwrap();
    profile.rate_limit.limit = Some(3);
    profile.rate_limit.window_secs = 60;
    let mock = MockProvider::start(profile).await;
    let tok = tokens(&mock).await;
    let at = tok["access_token"].as_str().unwrap();
    for remaining in (0..3).rev() {
        let resp = api(&mock, Some(at)).await;
        assert_eq!(resp.status(), 200);
        assert_eq!(resp.headers()["x-ratelimit-limit"], "3");
        assert_eq!(
            resp.headers()["x-ratelimit-remaining"],
            remaining.to_string().as_str()
        );
        assert!(resp.headers().contains_key("x-ratelimit-reset"));
    }
    let resp = api(&mock, Some(at)).await;
    assert_eq!(resp.status(), 429);
    let retry: u64 = resp.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(retry > 0 && retry <= 60, "{retry}");
    assert_eq!(resp.headers()["x-ratelimit-remaining"], "0");
    let body = resp.text().await.unwrap();
    assert_eq!(body, mock.profile().rate_limit.body);

    // A new window begins after window_secs.
    mock.advance_clock(Duration::from_secs(61));
    assert_eq!(api(&mock, Some(at)).await.status(), 200);

    // Capsule: no Retry-After, per its documentation.
    let mut profile = Profile::builtin("capsule").unwrap();
    profile.rate_limit.limit = Some(1);
    let mock = MockProvider::start(profile).await;
    let at = tokens(&mock).await["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(api(&mock, Some(&at)).await.status(), 200);
    let resp = api(&mock, Some(&at)).await;
    assert_eq!(resp.status(), 429);
    assert!(resp.headers().get("retry-after").is_none());
}

#[tokio::test]
async fn revoking_an_access_token_leaves_the_refresh_token() {
    let mock = mock("agilecrm").await;
    let tok = tokens(&mock).await;
    let at = tok["access_token"].as_str().unwrap();
    let rt = tok["refresh_token"].as_str().unwrap();
    let revoke = mock.revoke_url().unwrap();
    // No hint; RFC 7009 says the server finds the token anyway.
    assert_eq!(
        post_as_profile(&mock, &revoke, &[("token", at)])
            .await
            .status(),
        200
    );
    assert_eq!(api(&mock, Some(at)).await.status(), 401);
    assert_eq!(refresh(&mock, rt).await.status(), 200);
    // Unknown tokens: 200 (RFC 7009 §2.2).
    assert_eq!(
        post_as_profile(&mock, &revoke, &[("token", "nope")])
            .await
            .status(),
        200
    );
    // The client must authenticate.
    let resp = http()
        .post(&revoke)
        .json(&serde_json::json!({"token": rt}))
        .send()
        .await
        .unwrap();
    // No Authorization header: 400 invalid_client, no challenge (RFC 6749 §5.2).
    assert!(resp.headers().get("www-authenticate").is_none());
    assert_eq!(error_of(resp).await, (400, "invalid_client".to_owned()));
}

#[tokio::test]
async fn capsule_serves_both_revoke_paths_and_well_known() {
    let mock = mock("capsule").await;
    for path in ["/oauth/revoke", "/oauth/token/revoke"] {
        let tok = tokens(&mock).await;
        let rt = tok["refresh_token"].as_str().unwrap();
        let url = format!("{}{path}", mock.uri());
        assert_eq!(
            post_as_profile(&mock, &url, &[("token", rt)])
                .await
                .status(),
            200
        );
        assert_eq!(error_of(refresh(&mock, rt).await).await.1, "invalid_grant");
    }
    let wk: Value = http()
        .get(format!(
            "{}/.well-known/oauth-authorization-server",
            mock.uri()
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(wk["authorization_endpoint"], mock.authorize_url());
    assert_eq!(wk["issuer"], mock.uri());
    // Others do not have one.
    let other = mock_redtail().await;
    let resp = http()
        .get(format!(
            "{}/.well-known/oauth-authorization-server",
            other.uri()
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 404);
}

async fn mock_redtail() -> MockProvider {
    mock("redtail").await
}

#[tokio::test]
async fn sloppy_provider_knobs_turn_checks_off() {
    let mut profile = Profile::builtin("capsule").unwrap();
    profile.security.single_use_codes = false;
    profile.security.reject_pkce_downgrade = false;
    let mock = MockProvider::start(profile).await;
    let mut q = auth_params(mock.profile());
    set(&mut q, "code_challenge", None);
    set(&mut q, "code_challenge_method", None);
    let code = code_via_consent(&mock, &q).await;
    assert_eq!(exchange(&mock, &code).await.status(), 200);
    assert_eq!(exchange(&mock, &code).await.status(), 200);
}

#[tokio::test]
async fn iss_parameter_identifies_the_mock_in_every_authorization_response() {
    // RFC 9207 §2: `iss` on success and error responses alike, equal to the metadata's issuer.
    let mock = MockProvider::builder(Profile::builtin("capsule").unwrap())
        .iss_parameter(true)
        .start()
        .await
        .unwrap();
    let iss = |loc: &url::Url| query(loc, "iss");
    let q = auth_params(mock.profile());

    // Approved through the consent page.
    let html = get_authorize(&mock, &q).await.text().await.unwrap();
    let approved = location(&decide(&mock, &consent_id(&html), "approve").await);
    assert!(query(&approved, "code").is_some());
    assert_eq!(iss(&approved), Some(mock.uri()));
    // Denied.
    let html = get_authorize(&mock, &q).await.text().await.unwrap();
    let denied = location(&decide(&mock, &consent_id(&html), "deny").await);
    assert_eq!(query(&denied, "error").as_deref(), Some("access_denied"));
    assert_eq!(iss(&denied), Some(mock.uri()));
    // An error redirect straight from the authorization endpoint.
    let mut bad = q.clone();
    set(&mut bad, "scope", Some("admin"));
    let refused = location(&get_authorize(&mock, &bad).await);
    assert_eq!(query(&refused, "error").as_deref(), Some("invalid_scope"));
    assert_eq!(iss(&refused), Some(mock.uri()));
    // An injected fault.
    mock.fail_next(handshake_mock::Endpoint::Authorize)
        .with(handshake_mock::OAuthError::TemporarilyUnavailable)
        .mount();
    let faulted = location(&get_authorize(&mock, &q).await);
    assert_eq!(
        query(&faulted, "error").as_deref(),
        Some("temporarily_unavailable")
    );
    assert_eq!(iss(&faulted), Some(mock.uri()));

    // Both metadata documents advertise it, with the same issuer.
    for url in [
        format!("{}/__handshake/metadata", mock.uri()),
        format!("{}/.well-known/oauth-authorization-server", mock.uri()),
    ] {
        // The control answer is checked against openapi.json (the other is no control call).
        let meta: Value = contract::send(http().get(&url)).await.json().await.unwrap();
        assert_eq!(
            meta["authorization_response_iss_parameter_supported"], true,
            "{url}"
        );
        assert_eq!(meta["issuer"], mock.uri(), "{url}");
    }

    // Auto-approval too, and a profile's own issuer wins over the base URL.
    let mut profile = Profile::builtin("redtail").unwrap();
    profile.oauth.iss_parameter = true;
    profile.oauth.issuer = Some("https://login.example.com/tenant-1".into());
    let mock = MockProvider::builder(profile)
        .auto_approve(true)
        .start()
        .await
        .unwrap();
    let loc = location(&get_authorize(&mock, &auth_params(mock.profile())).await);
    assert!(query(&loc, "code").is_some());
    assert_eq!(
        iss(&loc).as_deref(),
        Some("https://login.example.com/tenant-1")
    );
    assert_eq!(
        mock.metadata()["issuer"],
        "https://login.example.com/tenant-1"
    );
}

#[tokio::test]
async fn without_iss_parameter_no_response_carries_iss() {
    let mock = MockProvider::builder(Profile::builtin("capsule").unwrap())
        .auto_approve(true)
        .start()
        .await
        .unwrap();
    let loc = location(&get_authorize(&mock, &auth_params(mock.profile())).await);
    assert!(query(&loc, "code").is_some());
    assert_eq!(query(&loc, "iss"), None);
    let meta = mock.metadata();
    assert!(
        meta.get("authorization_response_iss_parameter_supported")
            .is_none(),
        "{meta}"
    );
    // And the builder can turn a profile's setting off.
    let mut profile = Profile::builtin("capsule").unwrap();
    profile.oauth.iss_parameter = true;
    let mock = MockProvider::builder(profile)
        .iss_parameter(false)
        .auto_approve(true)
        .start()
        .await
        .unwrap();
    let loc = location(&get_authorize(&mock, &auth_params(mock.profile())).await);
    assert_eq!(query(&loc, "iss"), None);
}

/// A profile of an external server, served as a mock: no summary, provenance, records or
/// dataset. The mock serves an empty list and never a 500.
#[tokio::test]
async fn a_profile_without_mock_only_fields_is_served_with_an_empty_data_set() {
    let profile = Profile::from_toml_str(
        r#"
id = "bare"
name = "Bare server"
[oauth]
authorize_path = "/authorize"
token_path = "/token"
revoke_paths = ["/revoke"]
[token_request]
encodings = ["form"]
client_auth = ["client_secret_basic"]
[scopes]
default = ["openid"]
[pkce]
mode = "optional"
methods = ["S256"]
[tokens]
refresh_tokens = true
[api]
path = "/userinfo"
"#,
        "bare.toml",
    )
    .unwrap();
    let mock = MockProvider::start(profile).await;
    assert!(mock.dataset().is_empty());
    let meta = mock.metadata();
    assert_eq!(meta["dataset"]["count"], 0);
    assert_eq!(meta["provenance"]["oauth"]["provenance"], "assumed");
    assert_eq!(meta["scopes_supported"], serde_json::json!(["openid"]));

    let t = tokens(&mock).await;
    assert_eq!(t["expires_in"], 3600);
    let access = t["access_token"].as_str().unwrap();
    let list = api(&mock, Some(access)).await;
    assert_eq!(list.status(), 200);
    assert_eq!(list.json::<Value>().await.unwrap(), serde_json::json!([]));
    let item = http()
        .get(format!("{}/1", mock.api_url()))
        .bearer_auth(access)
        .send()
        .await
        .unwrap();
    assert_eq!(item.status(), 404);
    // Paging parameters on an unpaged resource are ignored, not a crash.
    let paged = http()
        .get(format!("{}?page=2&perPage=0&cursor=x", mock.api_url()))
        .bearer_auth(access)
        .send()
        .await
        .unwrap();
    assert!(paged.status().is_success(), "{}", paged.status());
    let refreshed = refresh(&mock, t["refresh_token"].as_str().unwrap()).await;
    assert_eq!(refreshed.status(), 200);
}
