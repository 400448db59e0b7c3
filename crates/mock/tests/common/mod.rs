//! Helpers that act as a browser and an OAuth client against a mock, over real HTTP.
#![allow(dead_code, unreachable_pub)]

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use handshake_mock::MockProvider;
use handshake_profile::{ClientAuth, PkceMethod, Profile, TokenEncoding};
use serde_json::Value;
use sha2::{Digest, Sha256};

pub const REDIRECT: &str = "http://localhost:3000/callback";
pub const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";

pub fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

pub fn s256(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

/// The authorization request a careful client sends: state, default scopes, PKCE S256 when
/// the provider supports it.
pub fn auth_params(p: &Profile) -> Vec<(String, String)> {
    let mut q = vec![
        ("response_type".to_owned(), "code".to_owned()),
        ("client_id".to_owned(), "handshake-client".to_owned()),
        ("redirect_uri".to_owned(), REDIRECT.to_owned()),
        ("state".to_owned(), "st-123".to_owned()),
        ("scope".to_owned(), p.scopes.join(&p.scopes.default)),
    ];
    // What a refresh token needs (Zoho `access_type=offline`, `prompt=consent`).
    for (k, v) in p
        .tokens
        .refresh_token_requires
        .iter()
        .chain(&p.tokens.refresh_token_reissue_requires)
    {
        q.push((k.clone(), v.clone()));
    }
    if let Some(m) = p.pkce.best_method() {
        let challenge = match m {
            PkceMethod::S256 => s256(VERIFIER),
            PkceMethod::Plain => VERIFIER.to_owned(),
        };
        q.push(("code_challenge".to_owned(), challenge));
        q.push(("code_challenge_method".to_owned(), m.as_str().to_owned()));
    }
    q
}

pub fn set(q: &mut Vec<(String, String)>, k: &str, v: Option<&str>) {
    q.retain(|(k2, _)| k2 != k);
    if let Some(v) = v {
        q.push((k.to_owned(), v.to_owned()));
    }
}

pub async fn get_authorize(mock: &MockProvider, q: &[(String, String)]) -> reqwest::Response {
    http()
        .get(mock.authorize_url())
        .query(q)
        .send()
        .await
        .unwrap()
}

pub fn location(resp: &reqwest::Response) -> url::Url {
    let loc = resp
        .headers()
        .get("location")
        .unwrap_or_else(|| panic!("no Location header; status {}", resp.status()))
        .to_str()
        .unwrap();
    url::Url::parse(loc).unwrap()
}

pub fn query(url: &url::Url, key: &str) -> Option<String> {
    url.query_pairs()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.into_owned())
}

pub fn consent_id(html: &str) -> String {
    let marker = "name=\"consent_id\" value=\"";
    let start = html.find(marker).expect("consent form has a consent_id") + marker.len();
    let end = html[start..].find('"').unwrap();
    html[start..start + end].to_owned()
}

/// Submits the consent form as a browser would.
pub async fn decide(mock: &MockProvider, consent_id: &str, decision: &str) -> reqwest::Response {
    http()
        .post(mock.authorize_url())
        .form(&[("consent_id", consent_id), ("decision", decision)])
        .send()
        .await
        .unwrap()
}

/// Authorizes through the consent page and returns the code.
pub async fn code_via_consent(mock: &MockProvider, q: &[(String, String)]) -> String {
    let page = get_authorize(mock, q).await;
    assert_eq!(page.status(), 200, "consent page expected");
    let html = page.text().await.unwrap();
    let resp = decide(mock, &consent_id(&html), "approve").await;
    assert_eq!(resp.status(), 303);
    let loc = location(&resp);
    assert_eq!(query(&loc, "state").as_deref(), Some("st-123"));
    query(&loc, "code").expect("code in redirect")
}

/// Sends a token-endpoint (or revocation) request the way the profile wants it.
pub async fn post_as_profile(
    mock: &MockProvider,
    url: &str,
    params: &[(&str, &str)],
) -> reqwest::Response {
    post_with(
        mock,
        url,
        params,
        mock.profile().token_request.preferred_encoding(),
        mock.profile().token_request.preferred_client_auth(),
        "handshake-secret",
    )
    .await
}

pub async fn post_with(
    mock: &MockProvider,
    url: &str,
    params: &[(&str, &str)],
    enc: TokenEncoding,
    auth: ClientAuth,
    secret: &str,
) -> reqwest::Response {
    let _ = mock;
    let mut params: Vec<(&str, &str)> = params.to_vec();
    let mut req = http().post(url);
    match auth {
        ClientAuth::ClientSecretBasic => {
            req = req.basic_auth("handshake-client", Some(secret));
        }
        ClientAuth::ClientSecretPost => {
            params.push(("client_id", "handshake-client"));
            params.push(("client_secret", secret));
        }
    }
    req = match enc {
        TokenEncoding::Form => req.form(&params),
        TokenEncoding::Json => {
            let obj: serde_json::Map<String, Value> = params
                .iter()
                .map(|(k, v)| (k.to_string(), Value::String(v.to_string())))
                .collect();
            req.json(&obj)
        }
    };
    req.send().await.unwrap()
}

pub async fn exchange(mock: &MockProvider, code: &str) -> reqwest::Response {
    let mut params = vec![
        ("grant_type", "authorization_code"),
        ("code", code),
        ("redirect_uri", REDIRECT),
    ];
    if mock.profile().pkce.supported() {
        params.push(("code_verifier", VERIFIER));
    }
    post_as_profile(mock, &mock.token_url(), &params).await
}

pub async fn refresh(mock: &MockProvider, rt: &str) -> reqwest::Response {
    post_as_profile(
        mock,
        &mock.token_url(),
        &[("grant_type", "refresh_token"), ("refresh_token", rt)],
    )
    .await
}

pub async fn api(mock: &MockProvider, token: Option<&str>) -> reqwest::Response {
    // JSON explicitly: Agile CRM answers XML otherwise.
    let mut req = http()
        .get(mock.api_url())
        .header("accept", "application/json");
    if let Some(t) = token {
        // `Bearer`, or the profile's own word (Zoho `Zoho-oauthtoken`).
        let scheme = &mock.profile().api.auth_scheme;
        req = req.header("authorization", format!("{scheme} {t}"));
    }
    req.send().await.unwrap()
}

/// Full authorization (auto-approve or consent, whichever the mock does) and exchange.
pub async fn tokens(mock: &MockProvider) -> Value {
    let q = auth_params(mock.profile());
    let code = code_via_consent(mock, &q).await;
    let resp = exchange(mock, &code).await;
    assert_eq!(resp.status(), 200, "{}", resp.text().await.unwrap());
    resp.json().await.unwrap()
}

pub async fn error_of(resp: reqwest::Response) -> (u16, String) {
    let status = resp.status().as_u16();
    let v: Value = resp.json().await.unwrap();
    (status, v["error"].as_str().unwrap_or_default().to_owned())
}
