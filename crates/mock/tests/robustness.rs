//! Bad input never panics and never gets a 500: in-process (`oneshot`) property tests plus
//! a few explicit cases over real HTTP.

mod common;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use common::*;
use handshake_mock::MockProvider;
use handshake_profile::Profile;
use proptest::prelude::*;
use serde_json::Value;
use tower::ServiceExt;

fn routers() -> Vec<(String, axum::Router)> {
    Profile::builtins()
        .into_iter()
        .map(|p| {
            let id = p.id.clone();
            (id, MockProvider::builder(p).into_router().unwrap())
        })
        .collect()
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

async fn send(router: &axum::Router, req: Request<Body>) -> (StatusCode, Vec<u8>) {
    let resp = router.clone().oneshot(req).await.unwrap();
    let status = resp.status();
    let body = axum::body::to_bytes(resp.into_body(), 1 << 20)
        .await
        .unwrap();
    (status, body.to_vec())
}

fn query_strategy() -> impl Strategy<Value = String> {
    let key = prop_oneof![
        Just("client_id".to_owned()),
        Just("redirect_uri".to_owned()),
        Just("response_type".to_owned()),
        Just("state".to_owned()),
        Just("scope".to_owned()),
        Just("code_challenge".to_owned()),
        Just("code_challenge_method".to_owned()),
        "[a-z_%+=&]{0,12}",
    ];
    let value = prop_oneof![
        Just("handshake-client".to_owned()),
        Just("http%3A%2F%2Flocalhost%3A3000%2Fcallback".to_owned()),
        Just("code".to_owned()),
        Just("S256".to_owned()),
        "[ -~]{0,50}",
        "%[0-9a-fA-F]{0,2}[%]{0,2}",
    ];
    proptest::collection::vec((key, value), 0..8).prop_map(|pairs| {
        pairs
            .into_iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("&")
            .replace([' ', '#'], "+")
    })
}

/// The native credentials of a profile with the default settings, as request headers; `None`
/// for a profile without a native scheme (Zoho).
fn native_headers(p: &Profile) -> Option<Vec<(String, String)>> {
    use base64::Engine;
    let c = handshake_mock::NativeCredentials::default();
    let b64 = |s: String| base64::engine::general_purpose::STANDARD.encode(s);
    let native = p.native_auth.as_ref()?;
    let auth = match native.scheme {
        handshake_mock::NativeScheme::HeaderApiKey => {
            let name = native.key_header.clone().unwrap();
            return Some(vec![
                (name, c.api_key().to_owned()),
                ("accept".to_owned(), "application/json".to_owned()),
            ]);
        }
        handshake_mock::NativeScheme::BearerToken => {
            format!("Bearer {}", c.personal_access_token())
        }
        handshake_mock::NativeScheme::BasicApiKey => {
            format!("Basic {}", b64(format!("{}:", c.api_key())))
        }
        handshake_mock::NativeScheme::BasicEmailApiKey => {
            format!("Basic {}", b64(format!("{}:{}", c.email(), c.api_key())))
        }
        handshake_mock::NativeScheme::RedtailUserKey => {
            format!(
                "UserKeyAuth {}",
                b64(format!("{}:{}", c.api_key(), c.user_key()))
            )
        }
        handshake_mock::NativeScheme::ConnectwiseMemberKey => format!(
            "Basic {}",
            b64(format!(
                "{}+{}:{}",
                c.company_id(),
                c.public_key(),
                c.private_key()
            ))
        ),
    };
    Some(vec![
        ("authorization".to_owned(), auth),
        ("clientid".to_owned(), c.integration_client_id().to_owned()),
        ("accept".to_owned(), "application/json".to_owned()),
    ])
}

fn paging_query_strategy() -> impl Strategy<Value = String> {
    let key = prop_oneof![
        Just("page"),
        Just("perPage"),
        Just("pageSize"),
        Just("pageId"),
        Just("skip"),
        Just("top"),
        Just("count_total"),
        Just("cursor"),
        Just("page_size"),
        Just("x"),
    ];
    let value = prop_oneof![
        (0u64..2000).prop_map(|n| n.to_string()),
        any::<i64>().prop_map(|n| n.to_string()),
        Just("99999999999999999999999999".to_owned()),
        Just("MTA6YWJjZGVm".to_owned()),
        Just("true".to_owned()),
        "[ -~]{0,12}",
        "%[0-9a-fA-F]{0,2}",
    ];
    proptest::collection::vec((key, value), 0..6).prop_map(|pairs| {
        pairs
            .into_iter()
            .map(|(k, v)| format!("{k}={}", v.replace(['&', '#', ' '], "+")))
            .collect::<Vec<_>>()
            .join("&")
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_paging_parameters_never_5xx(
        q in paging_query_strategy(),
        pagesize in proptest::option::of("[ -~]{0,8}|[0-9]{1,6}"),
        forward_only in any::<bool>(),
        item in proptest::option::of("[A-Za-z0-9%._~-]{1,24}"),
    ) {
        let rt = runtime();
        for (id, router) in routers() {
            let p = Profile::builtin(&id).unwrap();
            let path = match &item {
                Some(i) => format!("{}/{i}", p.api.path),
                None => p.api.path.clone(),
            };
            let uri = format!("{path}?{q}");
            let mut req = Request::get(&uri);
            // Paging is the same code whoever calls; a profile without a native scheme
            // would need an OAuth grant first.
            let Some(headers) = native_headers(&p) else { continue };
            for (k, v) in headers {
                req = req.header(k, v);
            }
            if let Some(size) = &pagesize {
                req = req.header("pagesize", size.as_str());
            }
            if forward_only {
                req = req.header("pagination-type", "forward-only");
            }
            let Ok(req) = req.body(Body::empty()) else { continue };
            let (status, body) = rt.block_on(send(&router, req));
            prop_assert!(matches!(status.as_u16(), 200 | 204 | 400 | 404), "{id} {uri} -> {status}");
            if status.as_u16() == 400 || status.as_u16() == 404 {
                prop_assert!(serde_json::from_slice::<Value>(&body).is_ok(), "{id} {uri}: error body is not JSON");
            }
        }
    }

    #[test]
    fn arbitrary_authorize_queries_never_panic_or_500(q in query_strategy()) {
        let rt = runtime();
        for (id, router) in routers() {
            let p = Profile::builtin(&id).unwrap();
            let uri = format!("{}?{q}", p.oauth.authorize_path);
            let Ok(req) = Request::get(&uri).body(Body::empty()) else { continue };
            let (status, _) = rt.block_on(send(&router, req));
            prop_assert!(!status.is_server_error(), "{id} {uri} -> {status}");
            prop_assert!(matches!(status.as_u16(), 200 | 302 | 400), "{id} {uri} -> {status}");
        }
    }

    #[test]
    fn arbitrary_form_and_json_bodies_never_panic_or_500(
        body in proptest::collection::vec(any::<u8>(), 0..300),
        form_like in "([a-z_]{1,14}=[ -~]{0,20}&?){0,6}",
        json in any::<bool>(),
    ) {
        let rt = runtime();
        for (id, router) in routers() {
            let p = Profile::builtin(&id).unwrap();
            let ct = if json { "application/json" } else { "application/x-www-form-urlencoded" };
            let mut paths = vec![p.oauth.token_path.clone(), p.oauth.authorize_path.clone()];
            paths.extend(p.oauth.revoke_paths.clone());
            for path in paths {
                for b in [body.clone(), form_like.clone().into_bytes()] {
                    let req = Request::post(&path)
                        .header("content-type", ct)
                        .header("authorization", "Basic aGFuZHNoYWtlLWNsaWVudDpoYW5kc2hha2Utc2VjcmV0")
                        .body(Body::from(b))
                        .unwrap();
                    let (status, resp) = rt.block_on(send(&router, req));
                    prop_assert!(!status.is_server_error(), "{id} {path} -> {status}");
                    if path != p.oauth.authorize_path && status != StatusCode::OK {
                        let v: Value = serde_json::from_slice(&resp).unwrap();
                        prop_assert!(v["error"].is_string());
                    }
                }
            }
        }
    }

    #[test]
    fn arbitrary_authorization_headers_never_panic(h in "[ -~]{0,80}") {
        let rt = runtime();
        for (id, router) in routers() {
            let p = Profile::builtin(&id).unwrap();
            for (method, path) in [("GET", p.api.path.clone()), ("POST", p.oauth.token_path.clone())] {
                let req = Request::builder()
                    .method(method)
                    .uri(&path)
                    .header("authorization", h.as_str())
                    .header("content-type", "application/x-www-form-urlencoded")
                    .body(Body::from("grant_type=refresh_token&refresh_token=x"))
                    .unwrap();
                let (status, _) = rt.block_on(send(&router, req));
                prop_assert!(!status.is_server_error(), "{id} {path} {h:?} -> {status}");
            }
        }
    }
}

#[tokio::test]
async fn oversized_bodies_get_413_with_oauth_json() {
    let mock = MockProvider::start(Profile::builtin("capsule").unwrap()).await;
    let big = "a=".to_owned() + &"x".repeat(100 * 1024);
    let resp = http()
        .post(mock.token_url())
        .header("content-type", "application/x-www-form-urlencoded")
        .body(big)
        .send()
        .await
        .unwrap();
    assert_eq!(error_of(resp).await, (413, "invalid_request".into()));
    assert_eq!(mock.journal().last().unwrap().status, 413);
}

#[tokio::test]
async fn invalid_utf8_wrong_content_type_and_duplicates_are_invalid_request() {
    let mock = MockProvider::start(Profile::builtin("redtail").unwrap()).await;
    let cases: Vec<(&str, Vec<u8>)> = vec![
        (
            "application/x-www-form-urlencoded",
            b"grant_type=refresh_token&refresh_token=%ff%fe&client_id=handshake-client&client_secret=handshake-secret".to_vec(),
        ),
        (
            "application/x-www-form-urlencoded",
            b"grant_type=refresh_token&refresh_token=\xff\xfe&client_id=handshake-client&client_secret=handshake-secret".to_vec(),
        ),
        (
            "application/x-www-form-urlencoded",
            b"grant_type=refresh_token&grant_type=authorization_code&client_id=handshake-client&client_secret=handshake-secret".to_vec(),
        ),
        ("text/plain", b"grant_type=refresh_token".to_vec()),
        ("application/json", b"{\"grant_type\":\"refresh_token\"}".to_vec()),
    ];
    for (ct, body) in cases {
        let resp = http()
            .post(mock.token_url())
            .header("content-type", ct)
            .body(body.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(resp.headers()["cache-control"], "no-store");
        assert_eq!(
            error_of(resp).await,
            (400, "invalid_request".into()),
            "{ct} {}",
            String::from_utf8_lossy(&body)
        );
    }
    let resp = http()
        .get(format!("{}/nowhere", mock.uri()))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 404);
    let resp = http()
        .get(format!("{}?client_id=%ff", mock.authorize_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
}
