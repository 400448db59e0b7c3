//! Every refusal has a body in the endpoint's language: RFC 6749 error JSON on the OAuth
//! endpoints (405 with `Allow`, 404 below them, 413), the CRM's own shape on the API.

#[path = "common/contract.rs"]
mod contract;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use handshake_mock::MockProvider;
use handshake_profile::Profile;
use serde_json::Value;
use tower::ServiceExt;

struct Answer {
    status: StatusCode,
    headers: axum::http::HeaderMap,
    body: Vec<u8>,
}

/// Sends a request to the router; a control call's answer is checked against openapi.json.
async fn send(router: &axum::Router, req: Request<Body>) -> Answer {
    let (method, path) = (req.method().clone(), req.uri().path().to_owned());
    let resp = router.clone().oneshot(req).await.unwrap();
    let status = resp.status();
    let headers = resp.headers().clone();
    let body = axum::body::to_bytes(resp.into_body(), 1 << 20)
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
        headers,
        body,
    }
}

fn request(method: &Method, path: &str, body: Vec<u8>) -> Request<Body> {
    Request::builder()
        .method(method)
        .uri(path)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(Body::from(body))
        .unwrap()
}

/// An RFC 6749 error JSON with `error` and `error_description`, not cached.
#[track_caller]
fn assert_oauth_error(a: &Answer, what: &str) -> Value {
    let v: Value = serde_json::from_slice(&a.body).unwrap_or_else(|_| {
        panic!(
            "{what}: body is not JSON: {:?}",
            String::from_utf8_lossy(&a.body)
        )
    });
    assert!(v["error"].is_string(), "{what}: {v}");
    assert!(v["error_description"].is_string(), "{what}: {v}");
    assert_eq!(a.headers["content-type"], "application/json", "{what}");
    assert_eq!(a.headers["cache-control"], "no-store", "{what}");
    v
}

#[tokio::test]
async fn wrong_methods_on_oauth_endpoints_get_405_with_allow_and_an_error_json() {
    for p in Profile::builtins() {
        let id = p.id.clone();
        let router = MockProvider::builder(p.clone()).into_router().unwrap();
        let mut post_only = vec![p.oauth.token_path.clone()];
        post_only.extend(p.oauth.revoke_paths.clone());
        for path in &post_only {
            for m in [
                Method::GET,
                Method::PUT,
                Method::DELETE,
                Method::PATCH,
                Method::OPTIONS,
            ] {
                let a = send(&router, request(&m, path, Vec::new())).await;
                let what = format!("{id} {m} {path}");
                assert_eq!(a.status, 405, "{what}");
                assert_eq!(a.headers["allow"], "POST", "{what}");
                let v = assert_oauth_error(&a, &what);
                assert_eq!(v["error"], "invalid_request", "{what}");
                assert!(
                    v["error_description"]
                        .as_str()
                        .unwrap()
                        .contains("use POST"),
                    "{what}: {v}"
                );
            }
        }
        for m in [Method::PUT, Method::DELETE, Method::PATCH] {
            let a = send(&router, request(&m, &p.oauth.authorize_path, Vec::new())).await;
            let what = format!("{id} {m} authorize");
            assert_eq!(a.status, 405, "{what}");
            let allow = a.headers["allow"].to_str().unwrap();
            assert!(
                allow.contains("GET") && allow.contains("POST"),
                "{what}: {allow}"
            );
            assert_oauth_error(&a, &what);
        }
    }
}

#[tokio::test]
async fn unknown_paths_below_the_oauth_endpoints_get_404_with_an_error_json() {
    let p = Profile::builtin("insightly").unwrap();
    let router = MockProvider::builder(p.clone()).into_router().unwrap();
    for path in [
        format!("{}/extra", p.oauth.token_path),
        format!("{}x", p.oauth.authorize_path),
        "/v3.1/oauth2/nothing".to_owned(),
        "/".to_owned(),
        "/__handshake/nothing".to_owned(),
    ] {
        let a = send(
            &router,
            request(&Method::POST, &path, b"grant_type=x".to_vec()),
        )
        .await;
        assert_eq!(a.status, 404, "{path}");
        let v = assert_oauth_error(&a, &path);
        assert_eq!(v["error"], "invalid_request", "{path}");
        assert!(
            v["error_description"].as_str().unwrap().contains(&path),
            "{v}"
        );
    }
}

#[tokio::test]
async fn api_refusals_from_the_router_speak_the_crm_shape() {
    for p in Profile::builtins() {
        let id = p.id.clone();
        let router = MockProvider::builder(p.clone()).into_router().unwrap();
        let e = &p.errors;

        let path = format!("{}/1/nested", p.api.path);
        let a = send(&router, request(&Method::GET, &path, Vec::new())).await;
        assert_eq!(a.status, 404, "{id}");
        let want = e.render(
            &e.not_found_body,
            "not_found",
            &format!("no endpoint at {path}"),
        );
        assert_eq!(String::from_utf8_lossy(&a.body), want, "{id}");

        let a = send(&router, request(&Method::DELETE, &p.api.path, Vec::new())).await;
        assert_eq!(a.status, 405, "{id}");
        assert_eq!(a.headers["allow"], "GET,HEAD", "{id}");
        let want = e.render(
            &e.bad_request_body,
            "invalid_request",
            &format!(
                "method DELETE is not allowed at {}; use GET,HEAD",
                p.api.path
            ),
        );
        assert_eq!(String::from_utf8_lossy(&a.body), want, "{id}");

        let big = vec![b'a'; handshake_mock::limits::BODY_LIMIT + 1];
        let a = send(&router, request(&Method::POST, &p.api.path, big)).await;
        assert_eq!(a.status, 413, "{id}");
        let want = e.render(
            &e.bad_request_body,
            "invalid_request",
            &format!(
                "request body exceeds {} bytes",
                handshake_mock::limits::BODY_LIMIT
            ),
        );
        assert_eq!(String::from_utf8_lossy(&a.body), want, "{id}");
    }
}

#[tokio::test]
async fn oversized_bodies_on_oauth_endpoints_get_413_with_an_error_json_and_a_journal_line() {
    let p = Profile::builtin("capsule").unwrap();
    let mock = MockProvider::start(p).await;
    let big = "a=".to_owned() + &"x".repeat(100 * 1024);
    let resp = reqwest::Client::new()
        .post(mock.token_url())
        .header("content-type", "application/x-www-form-urlencoded")
        .body(big)
        .send()
        .await
        .unwrap();
    let a = Answer {
        status: resp.status(),
        headers: resp.headers().clone(),
        body: resp.bytes().await.unwrap().to_vec(),
    };
    assert_eq!(a.status, 413);
    assert_oauth_error(&a, "413");
    let last = mock.journal().pop().unwrap();
    assert_eq!(last.status, 413);
    assert_eq!(last.error.as_deref(), Some("invalid_request"));
}

#[tokio::test]
async fn the_journal_records_completed_refusals() {
    let p = Profile::builtin("redtail").unwrap();
    let mock = MockProvider::start(p).await;
    let resp = reqwest::Client::new()
        .get(mock.token_url())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 405);
    let last = mock.journal().pop().unwrap();
    assert_eq!((last.method.as_str(), last.status), ("GET", 405));
    assert_eq!(last.error.as_deref(), Some("invalid_request"));
    assert!(last.error_description.unwrap().contains("use POST"));
}

/// The token response and API pages are written by hand for speed; they must stay exactly
/// the JSON `serde_json` writes for the same value (compact, keys in sorted order).
#[tokio::test]
async fn hand_written_bodies_are_canonical_json() {
    let mut checked = 0;
    for p in Profile::builtins() {
        let id = p.id.clone();
        let router = MockProvider::builder(p.clone())
            .auto_approve(true)
            .into_router()
            .unwrap();
        let mut q = format!(
            "{}?response_type=code&client_id=handshake-client&redirect_uri=http%3A%2F%2Flocalhost%3A3000%2Fcallback&state=s",
            p.oauth.authorize_path
        );
        let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
        if p.pkce.supported() {
            // RFC 7636 appendix B: this verifier's S256 challenge.
            q.push_str("&code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM");
            q.push_str("&code_challenge_method=S256");
        }
        let a = send(&router, request(&Method::GET, &q, Vec::new())).await;
        let loc = url::Url::parse(a.headers["location"].to_str().unwrap()).unwrap();
        let code = loc
            .query_pairs()
            .find(|(k, _)| k == "code")
            .map(|(_, v)| v.into_owned())
            .unwrap_or_else(|| panic!("{id}: no code in {loc}"));
        let basic = p.token_request.preferred_client_auth()
            == handshake_profile::ClientAuth::ClientSecretBasic;
        let mut body = format!(
            "grant_type=authorization_code&code={code}&redirect_uri=http%3A%2F%2Flocalhost%3A3000%2Fcallback"
        );
        if p.pkce.supported() {
            body.push_str("&code_verifier=");
            body.push_str(verifier);
        }
        if !basic {
            body.push_str("&client_id=handshake-client&client_secret=handshake-secret");
        }
        let mut req = request(&Method::POST, &p.oauth.token_path, body.into_bytes());
        if basic {
            req.headers_mut().insert(
                "authorization",
                "Basic aGFuZHNoYWtlLWNsaWVudDpoYW5kc2hha2Utc2VjcmV0"
                    .parse()
                    .unwrap(),
            );
        }
        let a = send(&router, req).await;
        let text = String::from_utf8(a.body.clone()).unwrap();
        assert_eq!(a.status, 200, "{id}: {text}");
        let v: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(serde_json::to_string(&v).unwrap(), text, "{id}");
        assert!(v["access_token"].is_string(), "{id}");
        checked += 1;
    }
    assert_eq!(
        checked,
        Profile::builtins().len(),
        "every built-in's token response is checked"
    );

    let p = Profile::builtin("capsule").unwrap();
    let router = MockProvider::builder(p.clone()).into_router().unwrap();
    for query in ["?perPage=2", "?page=3&perPage=1&q=a+b%26c", ""] {
        let mut req = request(&Method::GET, &format!("{}{query}", p.api.path), Vec::new());
        req.headers_mut().insert(
            "authorization",
            "Bearer handshake-personal-access-token".parse().unwrap(),
        );
        let a = send(&router, req).await;
        assert_eq!(a.status, 200, "{query}");
        let text = String::from_utf8(a.body.clone()).unwrap();
        let v: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(serde_json::to_string(&v).unwrap(), text, "{query}");
        let link = a.headers["link"].to_str().unwrap();
        if query.contains("q=") {
            assert!(
                link.contains("q=a+b%26c"),
                "filters are re-encoded as sent: {link}"
            );
        }
    }
}
