//! One CRM at a time: each built-in CRM's token response, error bodies and a paging walk,
//! pinned as insta snapshots (values that change per run redacted).

mod common;

use std::time::Duration;

use base64::Engine;
use common::*;
use handshake_mock::MockProvider;
use handshake_profile::Profile;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

async fn start(id: &str) -> MockProvider {
    MockProvider::start(Profile::builtin(id).unwrap()).await
}

/// Tokens for `scope` instead of the profile's default scopes.
async fn tokens_for(mock: &MockProvider, scope: &str) -> Value {
    let mut q = auth_params(mock.profile());
    set(&mut q, "scope", Some(scope));
    let code = code_via_consent(mock, &q).await;
    let resp = exchange(mock, &code).await;
    assert_eq!(resp.status(), 200, "{}", resp.text().await.unwrap());
    resp.json().await.unwrap()
}

/// An API list request with `headers`, at `url`.
async fn get(url: &str, token: &str, headers: &[(&str, &str)]) -> reqwest::Response {
    let mut req = http()
        .get(url)
        .bearer_auth(token)
        .header("accept", "application/json");
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    req.send().await.unwrap()
}

/// Walks a list by the URL at `next` in each body, with the same headers on every page;
/// returns each page's body with the records replaced by their count and ids, the mock's
/// address by `[base]`.
async fn walk(
    mock: &MockProvider,
    token: &str,
    envelope: &str,
    id_field: &str,
    next: &str,
    headers: &[(&str, &str)],
) -> Vec<Value> {
    let mut url = mock.api_url();
    let mut pages = Vec::new();
    for _ in 0..20 {
        let resp = get(&url, token, headers).await;
        assert_eq!(resp.status(), 200, "{url}");
        let mut body: Value = resp.json().await.unwrap();
        let records = body[envelope].as_array().unwrap().clone();
        let ids: Vec<&Value> = records.iter().map(|r| &r[id_field]).collect();
        body[envelope] = json!({
            "count": records.len(),
            "first": ids.first(),
            "last": ids.last(),
        });
        let following = body[next].as_str().map(str::to_owned);
        let shown = serde_json::to_string(&body)
            .unwrap()
            .replace(&mock.uri(), "[base]");
        pages.push(serde_json::from_str(&shown).unwrap());
        match following {
            Some(u) => url = u,
            None => return pages,
        }
    }
    panic!("the walk did not end in 20 pages");
}

fn hmac_sha256(key: &[u8], message: &[u8]) -> Vec<u8> {
    let mut block = [0u8; 64];
    block[..key.len()].copy_from_slice(key);
    let inner = Sha256::new()
        .chain_update(block.map(|b| b ^ 0x36))
        .chain_update(message)
        .finalize();
    Sha256::new()
        .chain_update(block.map(|b| b ^ 0x5c))
        .chain_update(inner)
        .finalize()
        .to_vec()
}

// ---------------------------------------------------------------- Salesforce

#[tokio::test]
async fn salesforce_token_response() {
    let mock = start("salesforce").await;
    let tok = tokens(&mock).await;
    // Session-based: no expires_in; the API is at instance_url.
    assert!(tok.get("expires_in").is_none(), "{tok}");
    assert_eq!(tok["instance_url"], mock.uri());
    let issued_at = tok["issued_at"].as_str().unwrap();
    let ms: u128 = issued_at.parse().unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis();
    assert!(
        now.abs_diff(ms) < 60_000,
        "issued_at {ms} is milliseconds now"
    );
    let id = tok["id"].as_str().unwrap();
    let want = base64::engine::general_purpose::STANDARD.encode(hmac_sha256(
        b"handshake-secret",
        format!("{id}{issued_at}").as_bytes(),
    ));
    assert_eq!(
        tok["signature"], want,
        "HMAC-SHA256(id + issued_at, secret)"
    );
    insta::assert_json_snapshot!("salesforce_token_response", tok, {
        ".access_token" => "[access_token]",
        ".refresh_token" => "[refresh_token]",
        ".instance_url" => "[base_url]",
        ".issued_at" => "[issued_at_ms]",
        ".signature" => "[signature]",
    });

    // Refresh: a new refresh token (rotation on); reusing the old one revokes the family.
    let rt = tok["refresh_token"].as_str().unwrap();
    let resp = refresh(&mock, rt).await;
    assert_eq!(resp.status(), 200);
    let rotated: Value = resp.json().await.unwrap();
    let rt2 = rotated["refresh_token"].as_str().unwrap();
    assert_ne!(rt2, rt);
    assert_eq!(
        error_of(refresh(&mock, rt).await).await,
        (400, "invalid_grant".into())
    );
    assert_eq!(
        error_of(refresh(&mock, rt2).await).await,
        (400, "invalid_grant".into())
    );
}

#[tokio::test]
async fn salesforce_refresh_token_only_with_its_scope() {
    let mock = start("salesforce").await;
    let without = tokens_for(&mock, "api").await;
    assert!(without.get("refresh_token").is_none(), "{without}");
    for scope in ["api refresh_token", "api offline_access"] {
        let with = tokens_for(&mock, scope).await;
        assert!(with["refresh_token"].is_string(), "{scope}: {with}");
    }
}

#[tokio::test]
async fn salesforce_error_bodies() {
    let mock = MockProvider::builder(Profile::builtin("salesforce").unwrap())
        .rate_limit(2, Duration::from_secs(60))
        .start()
        .await
        .unwrap();
    let bad = get(&mock.api_url(), "not-a-token", &[]).await;
    assert_eq!(bad.status(), 401);
    let unauthorized: Value = bad.json().await.unwrap();

    let no_api = tokens_for(&mock, "id refresh_token").await;
    let resp = get(
        &mock.api_url(),
        no_api["access_token"].as_str().unwrap(),
        &[],
    )
    .await;
    assert_eq!(resp.status(), 403);
    let forbidden: Value = resp.json().await.unwrap();

    let tok = tokens(&mock).await;
    let at = tok["access_token"].as_str().unwrap();
    let missing = get(&format!("{}/999999", mock.api_url()), at, &[]).await;
    assert_eq!(missing.status(), 404);
    let not_found: Value = missing.json().await.unwrap();
    assert_eq!(get(&mock.api_url(), at, &[]).await.status(), 200);
    // The daily cap: 403 REQUEST_LIMIT_EXCEEDED, no Retry-After.
    let limited = get(&mock.api_url(), at, &[]).await;
    assert_eq!(limited.status(), 403);
    assert!(limited.headers().get("retry-after").is_none());
    let rate_limited: Value = limited.json().await.unwrap();
    insta::assert_json_snapshot!(
        "salesforce_error_bodies",
        json!({
            "401": unauthorized,
            "403_scope": forbidden,
            "404": not_found,
            "403_rate_limit": rate_limited,
        })
    );
}

#[tokio::test]
async fn salesforce_paging_walk() {
    let mock = start("salesforce").await;
    let tok = tokens(&mock).await;
    let at = tok["access_token"].as_str().unwrap();
    let pages = walk(
        &mock,
        at,
        "records",
        "Id",
        "nextRecordsUrl",
        &[("Sforce-Query-Options", "batchSize=100")],
    )
    .await;
    assert_eq!(pages.len(), 3);
    assert_eq!(pages[2]["done"], true);
    insta::assert_json_snapshot!("salesforce_paging_walk", pages);
}

// ---------------------------------------------------------------- Dynamics 365 (Entra ID v2)

const DATAVERSE: &str = "https://handshake.crm.dynamics.com/user_impersonation";

#[tokio::test]
async fn dynamics_token_response() {
    let mock = start("dynamics").await;
    assert!(
        mock.authorize_url()
            .ends_with("/organizations/oauth2/v2.0/authorize"),
        "the tenant is in the path"
    );
    let tok = tokens(&mock).await;
    assert_eq!(tok["expires_in"], 3599);
    insta::assert_json_snapshot!("dynamics_token_response", tok, {
        ".access_token" => "[access_token]",
        ".refresh_token" => "[refresh_token]",
    });

    // Each refresh brings a new refresh token, and the old ones keep working.
    let rt1 = tok["refresh_token"].as_str().unwrap().to_owned();
    let second: Value = refresh(&mock, &rt1).await.json().await.unwrap();
    let rt2 = second["refresh_token"].as_str().unwrap().to_owned();
    assert_ne!(rt1, rt2);
    let again = refresh(&mock, &rt1).await;
    assert_eq!(again.status(), 200, "the old refresh token still works");
    let third: Value = again.json().await.unwrap();
    assert_ne!(third["refresh_token"], rt1.as_str());
    assert_eq!(refresh(&mock, &rt2).await.status(), 200);
    let at = third["access_token"].as_str().unwrap();
    assert_eq!(get(&mock.api_url(), at, &[]).await.status(), 200);
}

#[tokio::test]
async fn dynamics_refresh_token_only_with_offline_access() {
    let mock = start("dynamics").await;
    let without = tokens_for(&mock, DATAVERSE).await;
    assert!(without.get("refresh_token").is_none(), "{without}");
    let with = tokens_for(&mock, &format!("{DATAVERSE} offline_access")).await;
    assert!(with["refresh_token"].is_string(), "{with}");
}

#[tokio::test]
async fn dynamics_error_bodies() {
    let mock = MockProvider::builder(Profile::builtin("dynamics").unwrap())
        .rate_limit(2, Duration::from_secs(300))
        .start()
        .await
        .unwrap();
    let bad = get(&mock.api_url(), "not-a-token", &[]).await;
    assert_eq!(bad.status(), 401);
    let unauthorized: Value = bad.json().await.unwrap();

    let no_api = tokens_for(&mock, "offline_access openid").await;
    let resp = get(
        &mock.api_url(),
        no_api["access_token"].as_str().unwrap(),
        &[],
    )
    .await;
    assert_eq!(resp.status(), 403);
    let forbidden: Value = resp.json().await.unwrap();

    let tok = tokens(&mock).await;
    let at = tok["access_token"].as_str().unwrap();
    assert_eq!(get(&mock.api_url(), at, &[]).await.status(), 200);
    assert_eq!(get(&mock.api_url(), at, &[]).await.status(), 200);
    let limited = get(&mock.api_url(), at, &[]).await;
    assert_eq!(limited.status(), 429);
    let retry_after: u64 = limited.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=300).contains(&retry_after));
    let rate_limited: Value = limited.json().await.unwrap();
    insta::assert_json_snapshot!(
        "dynamics_error_bodies",
        json!({
            "401": unauthorized,
            "403_scope": forbidden,
            "429": rate_limited,
        })
    );
}

#[tokio::test]
async fn dynamics_paging_walk() {
    let mock = start("dynamics").await;
    let tok = tokens(&mock).await;
    let at = tok["access_token"].as_str().unwrap();
    // The size is one preference among others in `Prefer`.
    let prefer = [(
        "Prefer",
        "odata.include-annotations=\"*\",odata.maxpagesize=100",
    )];
    let pages = walk(&mock, at, "value", "contactid", "@odata.nextLink", &prefer).await;
    assert_eq!(pages.len(), 3);
    assert!(pages[2].get("@odata.nextLink").is_none());
    insta::assert_json_snapshot!("dynamics_paging_walk", pages);
    // Without the preference, one page of up to 5000.
    let whole: Value = get(&mock.api_url(), at, &[]).await.json().await.unwrap();
    assert_eq!(whole["value"].as_array().unwrap().len(), 260);
}

// ---------------------------------------------------------------- HubSpot, Pipedrive, Zoho

/// A GET at `url` with the profile's own OAuth auth-scheme (Zoho `Zoho-oauthtoken`), or
/// with `headers` alone when `token` is `None`.
async fn call(
    mock: &MockProvider,
    url: &str,
    token: Option<&str>,
    headers: &[(&str, &str)],
) -> reqwest::Response {
    let mut req = http().get(url).header("accept", "application/json");
    if let Some(t) = token {
        let scheme = &mock.profile().api.auth_scheme;
        req = req.header("authorization", format!("{scheme} {t}"));
    }
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    req.send().await.unwrap()
}

/// Walks a list from `first` (a path and query on the mock), asking `next(body)` for the
/// following page's URL; returns each page's body with the records replaced by their count
/// and first and last ids, the mock's address by `[base]`.
async fn walk_by(
    mock: &MockProvider,
    token: &str,
    first: &str,
    next: impl Fn(&Value) -> Option<String>,
) -> Vec<Value> {
    let p = mock.profile().clone();
    let envelope = p.api.envelope.clone().unwrap();
    let id_field = p.api.dataset.as_ref().unwrap().id_field.clone();
    let mut url = format!("{}{first}", mock.uri());
    let mut pages = Vec::new();
    for _ in 0..20 {
        let resp = call(mock, &url, Some(token), &[]).await;
        assert_eq!(resp.status(), 200, "{url}");
        let mut body: Value = resp.json().await.unwrap();
        let following = next(&body);
        let records = body[&envelope].as_array().unwrap().clone();
        let ids: Vec<&Value> = records.iter().map(|r| &r[&id_field]).collect();
        body[&envelope] = json!({
            "count": records.len(),
            "first": ids.first(),
            "last": ids.last(),
        });
        let shown = serde_json::to_string(&body)
            .unwrap()
            .replace(&mock.uri(), "[base]");
        pages.push(serde_json::from_str(&shown).unwrap());
        match following {
            Some(u) => url = u,
            None => return pages,
        }
    }
    panic!("the walk did not end in 20 pages");
}

/// The status, the named headers (present or not) and the JSON body of an answer.
async fn answer(resp: reqwest::Response, headers: &[&str]) -> Value {
    let status = resp.status().as_u16();
    let shown: serde_json::Map<String, Value> = headers
        .iter()
        .map(|h| {
            let v = resp
                .headers()
                .get(*h)
                .map(|v| v.to_str().unwrap().to_owned());
            (h.to_string(), json!(v))
        })
        .collect();
    let body: Value = resp.json().await.unwrap();
    json!({ "status": status, "headers": shown, "body": body })
}

#[tokio::test]
async fn hubspot_token_response() {
    let mock = start("hubspot").await;
    let tok = tokens(&mock).await;
    // A scopes array and hub_id instead of RFC 6749's scope string; 30-minute tokens.
    assert_eq!(tok["expires_in"], 1800);
    assert!(tok.get("scope").is_none(), "{tok}");
    insta::assert_json_snapshot!("hubspot_token_response", tok, {
        ".access_token" => "[access_token]",
        ".refresh_token" => "[refresh_token]",
    });
    // The same refresh token comes back (assumed stable), and keeps working.
    let rt = tok["refresh_token"].as_str().unwrap();
    let again: Value = refresh(&mock, rt).await.json().await.unwrap();
    assert_eq!(again["refresh_token"], rt);
    assert_eq!(again["scopes"], tok["scopes"]);
    assert_eq!(refresh(&mock, rt).await.status(), 200);
    // A form body only: JSON is refused.
    let json_body = http()
        .post(mock.token_url())
        .json(&json!({"grant_type": "refresh_token", "refresh_token": rt,
            "client_id": "handshake-client", "client_secret": "handshake-secret"}))
        .send()
        .await
        .unwrap();
    assert_eq!(error_of(json_body).await, (400, "invalid_request".into()));
}

#[tokio::test]
async fn hubspot_refuses_an_authorization_without_the_apps_required_scopes() {
    let mock = start("hubspot").await;
    let mut q = auth_params(mock.profile());
    set(&mut q, "scope", Some("crm.objects.contacts.read"));
    let page = get_authorize(&mock, &q).await;
    // "The authorization page will display an error": no redirect.
    assert_eq!(page.status(), 400);
    assert!(page.headers().get("location").is_none());
    let html = page.text().await.unwrap();
    assert!(html.contains("oauth"), "{html}");
    // With them, the consent page.
    set(&mut q, "scope", Some("oauth crm.objects.contacts.read"));
    assert_eq!(get_authorize(&mock, &q).await.status(), 200);
}

#[tokio::test]
async fn hubspot_error_bodies() {
    let mock = MockProvider::builder(Profile::builtin("hubspot").unwrap())
        .rate_limit(2, Duration::from_secs(60))
        .start()
        .await
        .unwrap();
    let unauthorized = answer(
        call(&mock, &mock.api_url(), Some("not-a-token"), &[]).await,
        &["www-authenticate"],
    )
    .await;
    let oauth_only = tokens_for(&mock, "oauth").await;
    let forbidden = answer(
        call(
            &mock,
            &mock.api_url(),
            oauth_only["access_token"].as_str(),
            &[],
        )
        .await,
        &[],
    )
    .await;
    let tok = tokens(&mock).await;
    let at = tok["access_token"].as_str();
    let missing = format!("{}/999999", mock.api_url());
    let not_found = answer(call(&mock, &missing, at, &[]).await, &[]).await;
    let rl = [
        "x-hubspot-ratelimit-max",
        "x-hubspot-ratelimit-remaining",
        "x-hubspot-ratelimit-interval-milliseconds",
        "retry-after",
        "x-ratelimit-reset",
    ];
    let first = answer(call(&mock, &mock.api_url(), at, &[]).await, &rl).await;
    let limited = answer(call(&mock, &mock.api_url(), at, &[]).await, &rl).await;
    insta::assert_json_snapshot!(
        "hubspot_error_bodies",
        json!({
            "401": unauthorized,
            "403_scope": forbidden,
            "404": not_found,
            "200_rate_limit_headers": first["headers"],
            "429": limited,
        })
    );
}

#[tokio::test]
async fn hubspot_paging_walk() {
    let mock = start("hubspot").await;
    let tok = tokens(&mock).await;
    let at = tok["access_token"].as_str().unwrap();
    let path = format!("{}?limit=50", mock.profile().api.path);
    // paging.next.link is the next page's URL; no paging key on the last page.
    let pages = walk_by(&mock, at, &path, |b| {
        b.pointer("/paging/next/link")
            .and_then(Value::as_str)
            .map(str::to_owned)
    })
    .await;
    assert_eq!(pages.len(), 3);
    assert!(pages[2].get("paging").is_none(), "{}", pages[2]);
    // The cursor alone names the page too.
    let after = pages[0]["paging"]["next"]["after"].as_str().unwrap();
    let url = format!("{}?limit=50&after={after}", mock.api_url());
    let second: Value = call(&mock, &url, Some(at), &[]).await.json().await.unwrap();
    assert_eq!(second["results"][0]["id"], "1051");
    insta::assert_json_snapshot!("hubspot_paging_walk", pages);
}

#[tokio::test]
async fn hubspot_private_app_token_is_a_bearer() {
    let mock = start("hubspot").await;
    let pat = mock.native_credentials().personal_access_token().to_owned();
    let resp = call(&mock, &mock.api_url(), Some(&pat), &[]).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(
        mock.journal().last().unwrap().auth_mode.as_deref(),
        Some("bearer_token")
    );
}

#[tokio::test]
async fn pipedrive_token_response() {
    let mock = start("pipedrive").await;
    // No scope on the authorization request: the app's scopes are granted, whatever is asked.
    let tok = tokens_for(&mock, "admin").await;
    assert_eq!(tok["scope"], "base,contacts:read");
    assert_eq!(tok["api_domain"], mock.uri());
    // The client authenticated with Basic (the profile's first method).
    let exchange_entry = mock
        .journal()
        .into_iter()
        .rev()
        .find(|e| e.grant_type.is_some());
    assert_eq!(
        exchange_entry.unwrap().client_auth,
        Some(handshake_profile::ClientAuth::ClientSecretBasic)
    );
    insta::assert_json_snapshot!("pipedrive_token_response", tok, {
        ".access_token" => "[access_token]",
        ".refresh_token" => "[refresh_token]",
        ".api_domain" => "[base_url]",
    });
}

#[tokio::test]
async fn pipedrive_refresh_token_is_the_same_with_a_sliding_60_day_idle_expiry() {
    let mock = start("pipedrive").await;
    let tok = tokens(&mock).await;
    let rt = tok["refresh_token"].as_str().unwrap().to_owned();
    let day = Duration::from_secs(86_400);
    // Used every 59 days, it lives on: each refresh extends it by 60 days.
    for _ in 0..3 {
        mock.advance_clock(day * 59);
        let resp = refresh(&mock, &rt).await;
        assert_eq!(resp.status(), 200);
        let again: Value = resp.json().await.unwrap();
        assert_eq!(again["refresh_token"], rt.as_str(), "the same one back");
    }
    // Unused for 61 days, it is gone.
    mock.advance_clock(day * 61);
    assert_eq!(
        error_of(refresh(&mock, &rt).await).await,
        (400, "invalid_grant".into())
    );
}

#[tokio::test]
async fn pipedrive_codes_live_five_minutes() {
    let mock = start("pipedrive").await;
    let code = code_via_consent(&mock, &auth_params(mock.profile())).await;
    mock.advance_clock(Duration::from_secs(299));
    assert_eq!(exchange(&mock, &code).await.status(), 200);
    let code = code_via_consent(&mock, &auth_params(mock.profile())).await;
    mock.advance_clock(Duration::from_secs(301));
    assert_eq!(
        error_of(exchange(&mock, &code).await).await,
        (400, "invalid_grant".into())
    );
}

#[tokio::test]
async fn pipedrive_api_token_rides_in_x_api_token() {
    let mock = start("pipedrive").await;
    let key = mock.native_credentials().api_key().to_owned();
    let resp = call(&mock, &mock.api_url(), None, &[("x-api-token", &key)]).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(
        mock.journal().last().unwrap().auth_mode.as_deref(),
        Some("header_api_key")
    );
    let wrong = call(&mock, &mock.api_url(), None, &[("x-api-token", "nope")]).await;
    let wrong = answer(wrong, &["www-authenticate"]).await;
    // Even a wrong key is kept in the journal as a tag only (it may be someone's real key).
    let shown = mock
        .journal()
        .last()
        .unwrap()
        .header("x-api-token")
        .unwrap()
        .to_owned();
    assert!(shown.starts_with("[redacted:"), "{shown}");
    // The query parameter of older docs is not read; the refusal names the header.
    let url = format!("{}?api_token={key}", mock.api_url());
    let in_url = call(&mock, &url, None, &[]).await;
    assert_eq!(in_url.status(), 401);
    let in_url: Value = in_url.json().await.unwrap();
    let said = in_url["error_description"].as_str().unwrap();
    assert!(said.contains("x-api-token: <api_key>"), "{said}");
    assert!(!said.contains(&key), "{said}");
    let journal = mock.journal();
    let last = journal.last().unwrap();
    assert_eq!(last.query_param("api_token"), Some("[redacted]"));
    insta::assert_json_snapshot!("pipedrive_wrong_api_token", wrong);
}

#[tokio::test]
async fn pipedrive_error_bodies() {
    let mock = MockProvider::builder(Profile::builtin("pipedrive").unwrap())
        .rate_limit(2, Duration::from_secs(60))
        .start()
        .await
        .unwrap();
    let unauthorized = answer(
        call(&mock, &mock.api_url(), Some("not-a-token"), &[]).await,
        &["www-authenticate"],
    )
    .await;
    let tok = tokens(&mock).await;
    let at = tok["access_token"].as_str();
    let missing = format!("{}/999999", mock.api_url());
    let not_found = answer(call(&mock, &missing, at, &[]).await, &[]).await;
    let bad = format!("{}?limit=0", mock.api_url());
    let bad_request = answer(call(&mock, &bad, at, &[]).await, &[]).await;
    let rl = ["x-ratelimit-limit", "x-ratelimit-remaining", "retry-after"];
    let limited = answer(call(&mock, &mock.api_url(), at, &[]).await, &rl).await;
    assert_eq!(limited["status"], 429);
    let mut limited = limited;
    let wait: u64 = limited["headers"]["retry-after"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&wait), "{wait}");
    limited["headers"]["retry-after"] = json!("[seconds]");
    insta::assert_json_snapshot!(
        "pipedrive_error_bodies",
        json!({
            "401": unauthorized,
            "404": not_found,
            "400": bad_request,
            "429": limited,
        })
    );
}

#[tokio::test]
async fn pipedrive_paging_walk() {
    let mock = start("pipedrive").await;
    let tok = tokens(&mock).await;
    let at = tok["access_token"].as_str().unwrap();
    let base = format!("{}{}", mock.uri(), mock.profile().api.path);
    // start/limit, the next offset in additional_data.pagination.next_start.
    let pages = walk_by(
        &mock,
        at,
        &format!("{}?limit=100", mock.profile().api.path),
        |b| {
            let more = b.pointer("/additional_data/pagination/more_items_in_collection");
            let next = b.pointer("/additional_data/pagination/next_start")?;
            assert_eq!(more, Some(&json!(true)));
            Some(format!("{base}?start={next}&limit=100"))
        },
    )
    .await;
    assert_eq!(pages.len(), 3);
    insta::assert_json_snapshot!("pipedrive_paging_walk", pages);
}

/// The redirect back of an approved authorization request `q`.
async fn approved(mock: &MockProvider, q: &[(String, String)]) -> url::Url {
    let html = get_authorize(mock, q).await.text().await.unwrap();
    let resp = decide(mock, &consent_id(&html), "approve").await;
    assert_eq!(resp.status(), 303);
    location(&resp)
}

async fn zoho_tokens(mock: &MockProvider, q: &[(String, String)]) -> Value {
    let loc = approved(mock, q).await;
    let resp = exchange(mock, &query(&loc, "code").unwrap()).await;
    assert_eq!(resp.status(), 200);
    resp.json().await.unwrap()
}

#[tokio::test]
async fn zoho_token_response() {
    let mock = start("zoho").await;
    let loc = approved(&mock, &auth_params(mock.profile())).await;
    // One data centre: location=us, accounts-server is the mock itself.
    assert_eq!(query(&loc, "location").as_deref(), Some("us"));
    assert_eq!(query(&loc, "accounts-server"), Some(mock.uri()));
    let tok: Value = exchange(&mock, &query(&loc, "code").unwrap())
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(tok["api_domain"], mock.uri());
    // Comma-separated in, space-separated out.
    assert_eq!(
        tok["scope"],
        "ZohoCRM.modules.Contacts.READ ZohoCRM.settings.ALL"
    );
    let rt = tok["refresh_token"].as_str().unwrap();
    let refreshed: Value = refresh(&mock, rt).await.json().await.unwrap();
    // No rotation: the refresh response carries no refresh token; the old one keeps working.
    assert!(refreshed.get("refresh_token").is_none(), "{refreshed}");
    assert_eq!(refresh(&mock, rt).await.status(), 200);
    insta::assert_json_snapshot!(
        "zoho_token_response",
        json!({ "code": tok, "refresh": refreshed }),
        {
            ".*.access_token" => "[access_token]",
            ".*.refresh_token" => "[refresh_token]",
            ".*.api_domain" => "[base_url]",
        }
    );
}

#[tokio::test]
async fn zoho_refresh_token_needs_offline_access_and_consent_again() {
    let mock = start("zoho").await;
    let with_all = auth_params(mock.profile());
    let mut online = with_all.clone();
    set(&mut online, "access_type", None);
    set(&mut online, "prompt", None);
    let mut offline = with_all.clone();
    set(&mut offline, "prompt", None);
    // access_type defaults to online: no refresh token.
    assert!(zoho_tokens(&mock, &online)
        .await
        .get("refresh_token")
        .is_none());
    // The first offline authorization gets one...
    assert!(zoho_tokens(&mock, &offline).await["refresh_token"].is_string());
    // ...a second only with prompt=consent.
    assert!(zoho_tokens(&mock, &offline)
        .await
        .get("refresh_token")
        .is_none());
    assert!(zoho_tokens(&mock, &with_all).await["refresh_token"].is_string());
}

#[tokio::test]
async fn zoho_keeps_twenty_refresh_tokens_per_user() {
    let mock = start("zoho").await;
    let q = auth_params(mock.profile());
    let mut rts = Vec::new();
    for _ in 0..21 {
        let tok = zoho_tokens(&mock, &q).await;
        rts.push(tok["refresh_token"].as_str().unwrap().to_owned());
    }
    let note = mock.journal().last().unwrap().notes.join(" ");
    assert!(note.contains("max_refresh_tokens_per_user = 20"), "{note}");
    // The 21st deleted the oldest, whether in use or not.
    assert_eq!(
        error_of(refresh(&mock, &rts[0]).await).await,
        (400, "invalid_grant".into())
    );
    for rt in &rts[1..] {
        assert_eq!(refresh(&mock, rt).await.status(), 200);
    }
}

#[tokio::test]
async fn zoho_api_takes_zoho_oauthtoken_not_bearer() {
    let mock = start("zoho").await;
    let tok = tokens(&mock).await;
    let at = tok["access_token"].as_str().unwrap();
    assert_eq!(
        call(&mock, &mock.api_url(), Some(at), &[]).await.status(),
        200
    );
    let auth = format!("Bearer {at}");
    let bearer = call(&mock, &mock.api_url(), None, &[("authorization", &auth)]).await;
    let bearer = answer(bearer, &["www-authenticate"]).await;
    assert_eq!(bearer["status"], 401);
    // The journal keeps a tag of the token, never the token.
    let entry = mock.journal().into_iter().rev().nth(1).unwrap();
    let shown = entry.header("authorization").unwrap().to_owned();
    assert!(shown.starts_with("Zoho-oauthtoken [redacted:"), "{shown}");
    insta::assert_json_snapshot!("zoho_bearer_refused", bearer);
}

#[tokio::test]
async fn zoho_error_bodies() {
    let mock = MockProvider::builder(Profile::builtin("zoho").unwrap())
        .rate_limit(2, Duration::from_secs(60))
        .start()
        .await
        .unwrap();
    let unauthorized = answer(
        call(&mock, &mock.api_url(), Some("not-a-token"), &[]).await,
        &["www-authenticate"],
    )
    .await;
    let settings_only = tokens_for(&mock, "ZohoCRM.settings.ALL").await;
    let forbidden = answer(
        call(
            &mock,
            &mock.api_url(),
            settings_only["access_token"].as_str(),
            &[],
        )
        .await,
        &["www-authenticate"],
    )
    .await;
    let tok = tokens(&mock).await;
    let at = tok["access_token"].as_str();
    let missing = format!("{}/1", mock.api_url());
    let not_found = answer(call(&mock, &missing, at, &[]).await, &[]).await;
    assert_eq!(call(&mock, &mock.api_url(), at, &[]).await.status(), 200);
    // Credits used up: 429 with no Retry-After.
    let limited = answer(
        call(&mock, &mock.api_url(), at, &[]).await,
        &["retry-after"],
    )
    .await;
    insta::assert_json_snapshot!(
        "zoho_error_bodies",
        json!({
            "401": unauthorized,
            "403_scope": forbidden,
            "404": not_found,
            "429": limited,
        })
    );
}

#[tokio::test]
async fn zoho_paging_walk() {
    let mock = start("zoho").await;
    let tok = tokens(&mock).await;
    let at = tok["access_token"].as_str().unwrap();
    let base = format!("{}{}", mock.uri(), mock.profile().api.path);
    let page = std::sync::atomic::AtomicU32::new(1);
    // page/per_page while info.more_records is true.
    let pages = walk_by(
        &mock,
        at,
        &format!("{}?per_page=200", mock.profile().api.path),
        |b| {
            let more = b.pointer("/info/more_records")?.as_bool()?;
            let n = page.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
            more.then(|| format!("{base}?page={n}&per_page=200"))
        },
    )
    .await;
    assert_eq!(pages.len(), 3);
    assert_eq!(pages[2]["info"]["more_records"], false);
    insta::assert_json_snapshot!("zoho_paging_walk", pages);
}
