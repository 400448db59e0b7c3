//! The native (non-OAuth) schemes and paging against wiremock stubs: exact header bytes for
//! each CRM's scheme, paging walks in each CRM's style, loop guards, CRM error shapes and
//! rate limits, and redaction of native credentials in Debug and errors.

mod common;

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use common::*;
use handshake_client::*;
use handshake_profile::{NativeScheme, Profile};
use serde_json::{json, Value};
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

// ---------------------------------------------------------------------------------------
// Wire format of each scheme

#[tokio::test]
async fn each_scheme_sends_its_exact_headers_and_nothing_in_the_url() {
    for profile in Profile::builtins() {
        // Zoho has no native scheme.
        let Some(native) = profile.native_auth.clone() else {
            continue;
        };
        let s = setup(&profile.id).await;
        Mock::given(method("GET"))
            .and(path(s.profile.api.path.as_str()))
            .respond_with(ResponseTemplate::new(200).set_body_json(list_body(&s.profile, &[])))
            .expect(1)
            .mount(&s.server)
            .await;
        let resp = s.client.get(&s.profile.api.path).await.unwrap();
        assert_eq!(resp.status, 200, "{}", profile.id);

        let reqs = api_requests(&s).await;
        let req = &reqs[0];
        let id = profile.id.as_str();
        if let Some(name) = &native.key_header {
            // Pipedrive: the token alone in its header, no Authorization.
            assert_eq!(
                header_of(req, name).as_deref(),
                Some(PIPEDRIVE_TOKEN),
                "{id}"
            );
            assert_eq!(header_of(req, "authorization"), None, "{id}");
            assert_eq!(req.url.query(), None, "{id}");
            assert_no_credentials_in_urls(&s.server).await;
            continue;
        }
        assert_eq!(
            header_of(req, "authorization").as_deref(),
            Some(expected_authorization(id)),
            "{id}"
        );
        assert_eq!(
            req.headers.get_all("authorization").iter().count(),
            1,
            "{id}"
        );
        let accept = header_of(req, "accept");
        let client_id = header_of(req, "clientid");
        if id == "connectwise" {
            assert_eq!(client_id.as_deref(), Some(CW_CLIENT_ID));
            assert_eq!(accept.as_deref(), Some(CW_ACCEPT));
        } else {
            assert_eq!(client_id, None, "{id}");
            assert_eq!(accept.as_deref(), Some("application/json"), "{id}");
        }
        assert_eq!(req.url.query(), None, "{id}");
        assert_no_credentials_in_urls(&s.server).await;
    }
}

#[tokio::test]
async fn connectwise_version_is_configurable() {
    let s = setup("connectwise").await;
    let client = NativeClient::new(
        &s.profile,
        s.server.uri(),
        credentials(NativeScheme::ConnectwiseMemberKey),
    )
    .unwrap()
    .with_connectwise_version("2020.4");
    Mock::given(method("GET"))
        .and(header(
            "accept",
            "application/vnd.connectwise.com+json; version=2020.4",
        ))
        .and(header("clientId", CW_CLIENT_ID))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([])))
        .expect(1)
        .mount(&s.server)
        .await;
    assert_eq!(
        client
            .get("/v4_6_release/apis/3.0/system/info")
            .await
            .unwrap()
            .status,
        200
    );
}

#[tokio::test]
async fn agile_gets_json_because_the_client_asks_for_it() {
    let s = setup("agilecrm").await;
    // Agile answers XML unless Accept says JSON.
    Mock::given(method("GET"))
        .respond_with(|req: &Request| {
            if header_of(req, "accept").as_deref() == Some("application/json") {
                ResponseTemplate::new(200).set_body_json(json!([{"id": 1}]))
            } else {
                ResponseTemplate::new(200).set_body_raw(
                    "<contacts><contact><id>1</id></contact></contacts>",
                    "application/xml",
                )
            }
        })
        .mount(&s.server)
        .await;
    assert_eq!(
        ids(&s.client.list_all("/dev/api/contacts").await.unwrap()),
        [1]
    );

    // A server that answers XML anyway gives a typed error naming the content type.
    s.server.reset().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200).set_body_raw("<contacts/>", "application/xml"))
        .mount(&s.server)
        .await;
    match s.client.list_all("/dev/api/contacts").await.unwrap_err() {
        ClientError::UnexpectedApiResponse { status, reason } => {
            assert_eq!(status, 200);
            assert!(
                reason.contains("not JSON") && reason.contains("application/xml"),
                "{reason}"
            );
        }
        other => panic!("{other:?}"),
    }
}

// ---------------------------------------------------------------------------------------
// Redtail key exchange

#[tokio::test]
async fn redtail_exchanges_once_then_sends_user_key_auth() {
    let s = setup("redtail").await;
    Mock::given(method("GET"))
        .and(path("/api/public/v1/contacts/101"))
        .and(header("authorization", expected_authorization("redtail")))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"contact": {"id": 101}})))
        .expect(3)
        .mount(&s.server)
        .await;
    for _ in 0..3 {
        s.client.get("/api/public/v1/contacts/101").await.unwrap();
    }
    let received = s.server.received_requests().await.unwrap();
    let paths: Vec<&str> = received.iter().map(|r| r.url.path()).collect();
    assert_eq!(
        paths,
        [
            "/api/public/v1/authentication",
            "/api/public/v1/contacts/101",
            "/api/public/v1/contacts/101",
            "/api/public/v1/contacts/101"
        ]
    );
    assert_no_credentials_in_urls(&s.server).await;
}

#[tokio::test]
async fn redtail_reads_user_key_from_authenticated_user_too() {
    let profile = Profile::builtin("redtail").unwrap();
    let server = MockServer::start().await;
    mount_exchange(
        &server,
        json!({"authenticated_user": {"user_key": USER_KEY, "first_name": "Ada"}}),
    )
    .await;
    Mock::given(method("GET"))
        .and(path("/api/public/v1/contacts"))
        .and(header("authorization", expected_authorization("redtail")))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"contacts": []})))
        .expect(1)
        .mount(&server)
        .await;
    let client = NativeClient::new(
        &profile,
        server.uri(),
        credentials(NativeScheme::RedtailUserKey),
    )
    .unwrap();
    client.get("/api/public/v1/contacts").await.unwrap();
}

#[tokio::test]
async fn redtail_exchange_without_user_key_is_a_typed_error_without_values() {
    let profile = Profile::builtin("redtail").unwrap();
    let server = MockServer::start().await;
    mount_exchange(&server, json!({"user_id": "not-a-key-value"})).await;
    let client = NativeClient::new(
        &profile,
        server.uri(),
        credentials(NativeScheme::RedtailUserKey),
    )
    .unwrap();
    match client.authenticate().await.unwrap_err() {
        ClientError::UnexpectedApiResponse { status, reason } => {
            assert_eq!(status, 200);
            assert!(
                reason.contains("user_key") && reason.contains("user_id"),
                "{reason}"
            );
            assert!(!reason.contains("not-a-key-value"), "{reason}");
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn redtail_reruns_the_exchange_once_after_a_401() {
    let profile = Profile::builtin("redtail").unwrap();
    let server = MockServer::start().await;
    // First exchange gives the key the API no longer accepts; the second a good one.
    Mock::given(method("GET"))
        .and(path("/api/public/v1/authentication"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"user_key": USER_KEY})))
        .up_to_n_times(1)
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/public/v1/authentication"))
        .and(header("authorization", REDTAIL_EXCHANGE_AUTH))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"user_key": USER_KEY_2})))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/public/v1/contacts"))
        .and(header("authorization", expected_authorization("redtail")))
        .respond_with(
            ResponseTemplate::new(401)
                .set_body_json(json!({"message": "Authorization header missing"})),
        )
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/public/v1/contacts"))
        .and(header("authorization", REDTAIL_RENEWED_AUTH))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"contacts": [{"id": 1}]})))
        .expect(2)
        .mount(&server)
        .await;
    let client = NativeClient::new(
        &profile,
        server.uri(),
        credentials(NativeScheme::RedtailUserKey),
    )
    .unwrap();
    assert_eq!(
        client.get("/api/public/v1/contacts").await.unwrap().status,
        200
    );
    // The renewed key is cached: no third exchange.
    assert_eq!(
        client.get("/api/public/v1/contacts").await.unwrap().status,
        200
    );
}

#[tokio::test]
async fn redtail_a_second_401_is_final_and_keeps_the_message() {
    let s = setup("redtail").await;
    Mock::given(method("GET"))
        .and(path("/api/public/v1/contacts"))
        .respond_with(
            ResponseTemplate::new(401)
                .set_body_json(json!({"message": "Authorization header missing"})),
        )
        .expect(2)
        .mount(&s.server)
        .await;
    match s.client.get("/api/public/v1/contacts").await.unwrap_err() {
        ClientError::ApiUnauthorized { detail } => {
            assert_eq!(
                detail.message.as_deref(),
                Some("Authorization header missing")
            );
            assert_eq!(detail.code, None);
        }
        other => panic!("{other:?}"),
    }
    let exchanges = s
        .server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .filter(|r| r.url.path().ends_with("/authentication"))
        .count();
    assert_eq!(exchanges, 2, "one exchange, one re-exchange after the 401");
}

#[tokio::test]
async fn redtail_wrong_password_stops_at_the_exchange() {
    let profile = Profile::builtin("redtail").unwrap();
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/api/public/v1/authentication"))
        .respond_with(
            ResponseTemplate::new(401)
                .set_body_json(json!({"message": "Invalid username or password"})),
        )
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/public/v1/contacts"))
        .respond_with(ResponseTemplate::new(200))
        .expect(0)
        .mount(&server)
        .await;
    let client = NativeClient::new(
        &profile,
        server.uri(),
        credentials(NativeScheme::RedtailUserKey),
    )
    .unwrap();
    let err = client
        .list_all("/api/public/v1/contacts")
        .await
        .unwrap_err();
    assert!(
        matches!(&err, ClientError::ApiUnauthorized { detail } if detail.message.as_deref() == Some("Invalid username or password")),
        "{err:?}"
    );
}

#[tokio::test]
async fn concurrent_first_calls_share_one_redtail_exchange() {
    let s = setup("redtail").await;
    Mock::given(method("GET"))
        .and(path("/api/public/v1/contacts"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"contacts": []})))
        .expect(6)
        .mount(&s.server)
        .await;
    let client = Arc::new(s.client);
    let tasks: Vec<_> = (0..6)
        .map(|_| {
            let client = client.clone();
            // Spawned: the futures of the public API are Send.
            tokio::spawn(async move { client.list_all("/api/public/v1/contacts").await })
        })
        .collect();
    for t in tasks {
        t.await.unwrap().unwrap();
    }
    let exchanges = s
        .server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .filter(|r| r.url.path().ends_with("/authentication"))
        .count();
    assert_eq!(exchanges, 1);
}

// ---------------------------------------------------------------------------------------
// CRM error shapes

#[tokio::test]
async fn connectwise_errors_keep_code_message_and_errors() {
    let s = setup("connectwise").await;
    Mock::given(method("GET"))
        .and(path("/v4_6_release/apis/3.0/company/companies"))
        .respond_with(ResponseTemplate::new(401).set_body_json(json!({
            "code": "Unauthorized",
            "message": "The supplied authentication is incorrect",
            "errors": [{"code": "ConnectWiseApi", "message": "UserNotAuthenticated", "field": "Authorization"}]
        })))
        .up_to_n_times(1)
        .expect(1)
        .mount(&s.server)
        .await;
    let err = s
        .client
        .get("/v4_6_release/apis/3.0/company/companies")
        .await
        .unwrap_err();
    let ClientError::ApiUnauthorized { detail } = &err else {
        panic!("{err:?}")
    };
    assert_eq!(detail.code.as_deref(), Some("Unauthorized"));
    assert_eq!(
        detail.message.as_deref(),
        Some("The supplied authentication is incorrect")
    );
    assert_eq!(
        detail.errors,
        ["ConnectWiseApi: UserNotAuthenticated (Authorization)"]
    );
    assert_eq!(
        err.to_string(),
        "API rejected the credentials (HTTP 401): Unauthorized: The supplied authentication is \
         incorrect; ConnectWiseApi: UserNotAuthenticated (Authorization)"
    );

    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(403).set_body_json(json!({
            "code": "Security",
            "message": "You do not have security permission to perform this action.",
            "errors": []
        })))
        .mount(&s.server)
        .await;
    let err = s
        .client
        .list_all("/v4_6_release/apis/3.0/company/companies")
        .await
        .unwrap_err();
    assert!(
        matches!(&err, ClientError::ApiForbidden { detail } if detail.code.as_deref() == Some("Security")),
        "{err:?}"
    );
}

#[tokio::test]
async fn a_401_without_a_renewal_is_not_retried() {
    for id in ["insightly", "agilecrm", "capsule", "connectwise"] {
        let s = setup(id).await;
        Mock::given(method("GET"))
            .respond_with(ResponseTemplate::new(401))
            .expect(1)
            .mount(&s.server)
            .await;
        let err = s.client.get(&s.profile.api.path).await.unwrap_err();
        match err {
            ClientError::ApiUnauthorized { detail } => {
                assert_eq!(detail, ApiErrorDetail::default(), "{id}")
            }
            other => panic!("{id}: {other:?}"),
        }
    }
}

#[tokio::test]
async fn credentials_echoed_by_a_server_are_redacted_from_errors() {
    let s = setup("agilecrm").await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(401).set_body_json(json!({
            "message": format!("key {AGILE_KEY} is not valid for {AGILE_EMAIL} (header Basic YWRhQGV4YW1wbGUuY29tOmFnaWxlLWtleS03N2Fh)")
        })))
        .mount(&s.server)
        .await;
    let err = s.client.get("/dev/api/contacts").await.unwrap_err();
    let text = format!("{err} {err:?}");
    for secret in SECRETS {
        assert!(!text.contains(secret), "{text}");
    }
    assert!(
        text.contains("key [redacted] is not valid for ada@example.com"),
        "{text}"
    );
}

#[tokio::test]
async fn error_for_status_maps_oauth_style_bodies_and_challenges() {
    let s = setup("capsule").await;
    Mock::given(method("GET"))
        .respond_with(
            ResponseTemplate::new(404)
                .set_body_json(json!({"error": "not_found", "error_description": "no such party"})),
        )
        .mount(&s.server)
        .await;
    let resp = s.client.get("/api/v2/parties/999").await.unwrap();
    match resp.error_for_status().unwrap_err() {
        ClientError::ApiStatus { status, detail } => {
            assert_eq!(status, 404);
            assert_eq!(detail.code.as_deref(), Some("not_found"));
            assert_eq!(detail.message.as_deref(), Some("no such party"));
        }
        other => panic!("{other:?}"),
    }
    s.server.reset().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(403).insert_header(
            "www-authenticate",
            r#"Bearer error="insufficient_scope", error_description="needs write""#,
        ))
        .mount(&s.server)
        .await;
    match s.client.get("/api/v2/parties").await.unwrap_err() {
        ClientError::ApiForbidden { detail } => {
            assert_eq!(detail.code.as_deref(), Some("insufficient_scope"));
            assert_eq!(detail.message.as_deref(), Some("needs write"));
        }
        other => panic!("{other:?}"),
    }
}

// ---------------------------------------------------------------------------------------
// Rate limits

fn epoch_in(secs: u64) -> String {
    (SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + secs)
        .to_string()
}

fn capsule_429() -> ResponseTemplate {
    ResponseTemplate::new(429)
        .insert_header("x-ratelimit-limit", "4000")
        .insert_header("x-ratelimit-remaining", "0")
        .insert_header("x-ratelimit-reset", epoch_in(60).as_str())
        .set_body_json(json!({"error": "rate limit reached"}))
}

#[tokio::test]
async fn capsule_429_with_reset_header_recovers_and_reports_its_message() {
    let s = setup("capsule").await;
    Mock::given(method("GET"))
        .respond_with(capsule_429())
        .up_to_n_times(1)
        .expect(1)
        .mount(&s.server)
        .await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"parties": [{"id": 1}]})))
        .expect(1)
        .mount(&s.server)
        .await;
    assert_eq!(
        ids(&s.client.list_all("/api/v2/parties").await.unwrap()),
        [1]
    );

    s.server.reset().await;
    Mock::given(method("GET"))
        .respond_with(capsule_429())
        .expect(3)
        .mount(&s.server)
        .await;
    match s.client.get("/api/v2/parties").await.unwrap_err() {
        ClientError::RateLimited {
            attempts,
            retry_after,
            message,
        } => {
            assert_eq!(attempts, 3);
            assert!(
                retry_after.unwrap() > Duration::from_secs(50),
                "{retry_after:?}"
            );
            assert_eq!(message.as_deref(), Some("rate limit reached"));
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn connectwise_429_retry_after_recovers_mid_walk() {
    let s = setup_with("connectwise", ListOptions::default().page_size(2)).await;
    let data = records(5);
    let served = data.clone();
    // Page 2 is rate limited once.
    Mock::given(method("GET"))
        .and(wiremock::matchers::query_param("page", "2"))
        .respond_with(
            ResponseTemplate::new(429)
                .insert_header("retry-after", "1")
                .set_body_json(json!({"code": "TooManyRequests", "message": "Request volume exceeds capacity limits", "errors": []})),
        )
        .up_to_n_times(1)
        .expect(1)
        .mount(&s.server)
        .await;
    Mock::given(method("GET"))
        .respond_with(move |req: &Request| {
            let page: usize = query(req, "page").unwrap().parse().unwrap();
            ResponseTemplate::new(200).set_body_json(Value::Array(page_slice(&served, page, 2)))
        })
        .mount(&s.server)
        .await;
    let all = s.client.list_all(&s.profile.api.path).await.unwrap();
    assert_eq!(ids(&all), ids(&data));
    let pages: Vec<String> = api_requests(&s)
        .await
        .iter()
        .map(|r| query(r, "page").unwrap())
        .collect();
    assert_eq!(pages, ["1", "2", "2", "3"]);
}

// ---------------------------------------------------------------------------------------
// Paging walks, one per CRM style

/// Capsule: page/perPage, Link rel="next" (relative here) and X-Pagination-Has-More.
#[tokio::test]
async fn capsule_walk_follows_link_headers() {
    let s = setup_with("capsule", ListOptions::default().page_size(3)).await;
    let data = records(7);
    let served = data.clone();
    Mock::given(method("GET"))
        .and(path("/api/v2/parties"))
        .respond_with(move |req: &Request| {
            let page: usize = query(req, "page").unwrap().parse().unwrap();
            let size: usize = query(req, "perPage").unwrap().parse().unwrap();
            let items = page_slice(&served, page, size);
            let more = page * size < served.len();
            let mut link = format!(
                r#"</api/v2/parties?page={}&perPage={size}>; rel="prev""#,
                page.max(2) - 1
            );
            if more {
                link = format!(
                    r#"</api/v2/parties?page={}&perPage={size}>; rel="next", {link}"#,
                    page + 1
                );
            }
            ResponseTemplate::new(200)
                .insert_header("link", link.as_str())
                .insert_header("x-pagination-has-more", if more { "true" } else { "false" })
                .set_body_json(json!({"parties": items}))
        })
        .expect(3)
        .mount(&s.server)
        .await;
    let all = s.client.list_all("/api/v2/parties").await.unwrap();
    assert_eq!(ids(&all), ids(&data));
    insta::assert_snapshot!("capsule_walk", shapes(&s.server).await);
    assert_no_credentials_in_urls(&s.server).await;
}

/// Capsule without Link: X-Pagination-Has-More alone ends the walk, even on a full page.
#[tokio::test]
async fn has_more_false_ends_the_walk_on_a_full_page() {
    let s = setup_with("capsule", ListOptions::default().page_size(3)).await;
    let data = records(6);
    let served = data.clone();
    Mock::given(method("GET"))
        .respond_with(move |req: &Request| {
            let page: usize = query(req, "page").unwrap().parse().unwrap();
            ResponseTemplate::new(200)
                .insert_header(
                    "x-pagination-has-more",
                    if page < 2 { "true" } else { "false" },
                )
                .set_body_json(json!({"parties": page_slice(&served, page, 3)}))
        })
        .expect(2)
        .mount(&s.server)
        .await;
    assert_eq!(
        ids(&s.client.list_all("/api/v2/parties").await.unwrap()),
        ids(&data)
    );
}

/// ConnectWise: page/pageSize, top-level arrays, absolute Link URLs; query kept.
#[tokio::test]
async fn connectwise_walk_follows_absolute_links_and_keeps_conditions() {
    let s = setup_with("connectwise", ListOptions::default().page_size(3)).await;
    let data = records(7);
    let served = data.clone();
    let origin = s.server.uri();
    let p = s.profile.api.path.clone();
    Mock::given(method("GET"))
        .and(path(p.as_str()))
        .respond_with(move |req: &Request| {
            let page: usize = query(req, "page").unwrap().parse().unwrap();
            let size: usize = query(req, "pageSize").unwrap().parse().unwrap();
            assert_eq!(query(req, "conditions").as_deref(), Some("status/name=\"Active\""));
            let mut links = vec![format!(r#"<{origin}{p}?conditions=status%2Fname%3D%22Active%22&page=1&pageSize={size}>; rel="first""#)];
            if page * size < served.len() {
                links.push(format!(r#"<{origin}{p}?conditions=status%2Fname%3D%22Active%22&page={}&pageSize={size}>; rel="next""#, page + 1));
            }
            ResponseTemplate::new(200)
                .insert_header("link", links.join(", ").as_str())
                .set_body_json(Value::Array(page_slice(&served, page, size)))
        })
        .expect(3)
        .mount(&s.server)
        .await;
    let start = format!(
        "{}?conditions=status%2Fname%3D%22Active%22",
        s.profile.api.path
    );
    let all = s.client.list_all(&start).await.unwrap();
    assert_eq!(ids(&all), ids(&data));
    insta::assert_snapshot!("connectwise_walk", shapes(&s.server).await);
}

/// ConnectWise forward-only: `pagination-type: forward-only`, then Link rel="next" with pageId.
#[tokio::test]
async fn connectwise_forward_only_walk() {
    let s = setup_with(
        "connectwise",
        ListOptions::default().page_size(3).forward_only(true),
    )
    .await;
    let data = records(7);
    let served = data.clone();
    let origin = s.server.uri();
    let p = s.profile.api.path.clone();
    Mock::given(method("GET"))
        .and(header("pagination-type", "forward-only"))
        .respond_with(move |req: &Request| {
            assert_eq!(query(req, "page"), None);
            let after: u64 = query(req, "pageId").map_or(0, |v| v.parse().unwrap());
            let items: Vec<Value> = served
                .iter()
                .filter(|r| r["id"].as_u64().unwrap() > after)
                .take(3)
                .cloned()
                .collect();
            let mut resp = ResponseTemplate::new(200);
            if let Some(last) = items.last().filter(|_| items.len() == 3) {
                let link = format!(
                    r#"<{origin}{p}?pageSize=3&pageId={}>; rel="next""#,
                    last["id"]
                );
                resp = resp.insert_header("link", link.as_str());
            }
            resp.set_body_json(Value::Array(items))
        })
        .expect(3)
        .mount(&s.server)
        .await;
    let all = s.client.list_all(&s.profile.api.path).await.unwrap();
    assert_eq!(ids(&all), ids(&data));
    insta::assert_snapshot!("connectwise_forward_only_walk", shapes(&s.server).await);
}

/// Insightly: skip/top with count_total → X-Total-Count; a full last page needs no extra
/// request because the total says it was the last.
#[tokio::test]
async fn insightly_walk_uses_skip_top_and_the_total_count() {
    for (n, expected_requests) in [(7usize, 3usize), (6, 2)] {
        let s = setup_with("insightly", ListOptions::default().page_size(3)).await;
        let data = records(n);
        let served = data.clone();
        Mock::given(method("GET"))
            .and(path("/v3.1/Contacts"))
            .respond_with(move |req: &Request| {
                let skip: usize = query(req, "skip").unwrap().parse().unwrap();
                let top: usize = query(req, "top").unwrap().parse().unwrap();
                let items: Vec<Value> = served.iter().skip(skip).take(top).cloned().collect();
                let mut resp = ResponseTemplate::new(200)
                    .insert_header("x-ratelimit-limit", "1000")
                    .insert_header("x-ratelimit-remaining", "998");
                if query(req, "count_total").as_deref() == Some("true") {
                    resp = resp.insert_header("x-total-count", served.len().to_string().as_str());
                }
                resp.set_body_json(Value::Array(items))
            })
            .expect(expected_requests as u64)
            .mount(&s.server)
            .await;
        let all = s.client.list_all("/v3.1/Contacts").await.unwrap();
        assert_eq!(ids(&all), ids(&data), "{n} records");
        if n == 7 {
            insta::assert_snapshot!("insightly_walk", shapes(&s.server).await);
        }
    }
}

/// Agile: page_size + cursor from the last record; no cursor ends it; a 204 is an empty list.
#[tokio::test]
async fn agile_walk_follows_cursors_and_treats_204_as_empty() {
    for n in [7usize, 6, 0] {
        let s = setup_with("agilecrm", ListOptions::default().page_size(3)).await;
        let data = records(n);
        let served = data.clone();
        Mock::given(method("GET"))
            .and(path("/dev/api/contacts"))
            .respond_with(move |req: &Request| {
                let size: usize = query(req, "page_size").unwrap().parse().unwrap();
                let start: usize = query(req, "cursor")
                    .map_or(0, |c| c.strip_prefix("cur-").unwrap().parse().unwrap());
                let mut items: Vec<Value> = served.iter().skip(start).take(size).cloned().collect();
                if items.is_empty() {
                    return ResponseTemplate::new(204);
                }
                if let Some(first) = items.first_mut() {
                    first["count"] = json!(served.len());
                }
                // Agile puts a cursor on the last record of every full page, even the final one.
                if items.len() == size {
                    let last = items.last_mut().unwrap();
                    last["cursor"] = json!(format!("cur-{}", start + size));
                }
                ResponseTemplate::new(200).set_body_json(Value::Array(items))
            })
            .mount(&s.server)
            .await;
        let all = s.client.list_all("/dev/api/contacts").await.unwrap();
        assert_eq!(ids(&all), ids(&data), "{n} records");
        let expected_requests = match n {
            7 => 3, // 3 + 3 (cursor) + 1 (no cursor)
            6 => 3, // 3 + 3 (cursor) + 204
            _ => 1, // 204
        };
        assert_eq!(
            api_requests(&s).await.len(),
            expected_requests,
            "{n} records"
        );
        if n == 7 {
            insta::assert_snapshot!("agilecrm_walk", shapes(&s.server).await);
        }
    }
}

/// Redtail: `?page=N`, page size in the `pagesize` header, `{contacts, meta}` envelope; one
/// key exchange for the whole walk.
#[tokio::test]
async fn redtail_walk_uses_pagesize_header_and_meta() {
    let s = setup_with("redtail", ListOptions::default().page_size(3)).await;
    let data = records(9);
    let served = data.clone();
    Mock::given(method("GET"))
        .and(path("/api/public/v1/contacts"))
        .respond_with(move |req: &Request| {
            assert_eq!(query(req, "pagesize"), None, "pagesize is a header");
            let page: usize = query(req, "page").unwrap().parse().unwrap();
            let size: usize = header_of(req, "pagesize").unwrap().parse().unwrap();
            let total_pages = served.len().div_ceil(size);
            ResponseTemplate::new(200).set_body_json(json!({
                "contacts": page_slice(&served, page, size),
                "meta": {"total_records": served.len(), "total_pages": total_pages}
            }))
        })
        .expect(3)
        .mount(&s.server)
        .await;
    let all = s.client.list_all("/api/public/v1/contacts").await.unwrap();
    assert_eq!(ids(&all), ids(&data));
    insta::assert_snapshot!("redtail_walk", shapes(&s.server).await);
    assert_no_credentials_in_urls(&s.server).await;
}

/// Without any signal, a short page ends a walk; pages() yields page by page.
#[tokio::test]
async fn pages_yield_one_page_at_a_time_and_stop_on_a_short_page() {
    let s = setup_with("connectwise", ListOptions::default().page_size(4)).await;
    let data = records(10);
    let served = data.clone();
    Mock::given(method("GET"))
        .respond_with(move |req: &Request| {
            let page: usize = query(req, "page").unwrap().parse().unwrap();
            ResponseTemplate::new(200).set_body_json(Value::Array(page_slice(&served, page, 4)))
        })
        .expect(3)
        .mount(&s.server)
        .await;
    let mut pages = s.client.pages(&s.profile.api.path).unwrap();
    let mut sizes = Vec::new();
    while let Some(page) = pages.next_page().await.unwrap() {
        sizes.push(page.len());
    }
    assert_eq!(sizes, [4, 4, 2]);
    assert_eq!(pages.pages_fetched(), 3);
    assert_eq!(
        pages.next_page().await.unwrap(),
        None,
        "a finished walk stays finished"
    );
}

#[tokio::test]
async fn oauth_clients_walk_pages_with_the_bearer_token() {
    let profile = Profile::builtin("capsule").unwrap();
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/oauth/token"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "access_token": "oauth-at-1", "token_type": "bearer", "expires_in": 604799,
            "refresh_token": "oauth-rt-1"
        })))
        .mount(&server)
        .await;
    let data = records(5);
    let served = data.clone();
    Mock::given(method("GET"))
        .and(path("/api/v2/parties"))
        .and(header("authorization", "Bearer oauth-at-1"))
        .respond_with(move |req: &Request| {
            let page: usize = query(req, "page").unwrap().parse().unwrap();
            ResponseTemplate::new(200)
                .set_body_json(json!({"parties": page_slice(&served, page, 2)}))
        })
        .expect(3)
        .mount(&server)
        .await;
    let client = OAuthClient::new(
        &profile,
        ClientConfig::new(
            server.uri(),
            "cid",
            ClientSecret::new("cs".into()),
            "http://127.0.0.1:1/cb",
        ),
    )
    .unwrap()
    .with_list_options(ListOptions::default().page_size(2));
    let session = SessionId::new("s");
    let auth = client.authorize(&session);
    client
        .handle_callback(
            &session,
            &format!("http://127.0.0.1:1/cb?code=c&state={}", auth.state),
        )
        .await
        .unwrap();
    // Spawned: OAuth walks are Send too.
    let client = Arc::new(client);
    let walk = tokio::spawn(async move { client.list_all(&session, "/api/v2/parties").await });
    assert_eq!(ids(&walk.await.unwrap().unwrap()), ids(&data));
}

// ---------------------------------------------------------------------------------------
// Loop guards

async fn expect_paging_error(s: &Setup, path: &str, needle: &str) {
    match s.client.list_all(path).await.unwrap_err() {
        ClientError::Paging { reason, .. } => assert!(reason.contains(needle), "{reason}"),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn a_link_back_to_a_fetched_page_is_a_loop() {
    let s = setup_with("capsule", ListOptions::default().page_size(2)).await;
    Mock::given(method("GET"))
        .respond_with(move |req: &Request| {
            let page: usize = query(req, "page").unwrap().parse().unwrap();
            ResponseTemplate::new(200)
                .insert_header("link", r#"</api/v2/parties?page=1&perPage=2>; rel="next""#)
                .set_body_json(json!({"parties": page_slice(&records(10), page, 2)}))
        })
        .expect(1)
        .mount(&s.server)
        .await;
    expect_paging_error(&s, "/api/v2/parties", "already fetched").await;
}

#[tokio::test]
async fn a_server_ignoring_the_page_parameter_is_a_loop() {
    let s = setup_with("redtail", ListOptions::default().page_size(2)).await;
    Mock::given(method("GET"))
        .and(path("/api/public/v1/contacts"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"contacts": records(2)})))
        .expect(2)
        .mount(&s.server)
        .await;
    expect_paging_error(&s, "/api/public/v1/contacts", "repeated an earlier page").await;
}

#[tokio::test]
async fn a_repeated_cursor_is_a_loop() {
    let s = setup_with("agilecrm", ListOptions::default().page_size(2)).await;
    Mock::given(method("GET"))
        .respond_with(move |req: &Request| {
            // New records each time, but always the same cursor.
            let n = if query(req, "cursor").is_some() { 3 } else { 1 };
            ResponseTemplate::new(200).set_body_json(json!([
                {"id": n}, {"id": n + 1, "cursor": "same"}
            ]))
        })
        .expect(2)
        .mount(&s.server)
        .await;
    expect_paging_error(&s, "/dev/api/contacts", "repeated a cursor").await;
}

#[tokio::test]
async fn an_endless_list_stops_at_max_pages() {
    let s = setup_with(
        "insightly",
        ListOptions::default().page_size(2).max_pages(5),
    )
    .await;
    Mock::given(method("GET"))
        .respond_with(move |req: &Request| {
            let skip: u64 = query(req, "skip").unwrap().parse().unwrap();
            ResponseTemplate::new(200).set_body_json(json!([{"id": skip}, {"id": skip + 1}]))
        })
        .expect(5)
        .mount(&s.server)
        .await;
    match s.client.list_all("/v3.1/Contacts").await.unwrap_err() {
        ClientError::Paging { pages, reason } => {
            assert_eq!(pages, 5);
            assert!(reason.contains("max_pages"), "{reason}");
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn a_next_link_to_another_origin_is_not_followed() {
    let s = setup_with("connectwise", ListOptions::default().page_size(2)).await;
    let elsewhere = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([])))
        .expect(0)
        .mount(&elsewhere)
        .await;
    let next = format!(r#"<{}/steal?page=2>; rel="next""#, elsewhere.uri());
    Mock::given(method("GET"))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("link", next.as_str())
                .set_body_json(json!(records(2))),
        )
        .expect(1)
        .mount(&s.server)
        .await;
    expect_paging_error(
        &s,
        &s.profile.api.path,
        "not the configured base URL's origin",
    )
    .await;
}

#[tokio::test]
async fn absolute_urls_on_another_origin_are_refused_before_sending() {
    let s = setup("insightly").await;
    let err = s
        .client
        .get("http://203.0.113.9/v3.1/Contacts")
        .await
        .unwrap_err();
    assert!(matches!(err, ClientError::Config(_)), "{err:?}");
    assert!(s.server.received_requests().await.unwrap().is_empty());
}

// ---------------------------------------------------------------------------------------
// Configuration

#[tokio::test]
async fn mismatched_or_unusable_credentials_are_config_errors() {
    let insightly = Profile::builtin("insightly").unwrap();
    let err = NativeClient::new(
        &insightly,
        "http://127.0.0.1:1",
        NativeCredentials::email_api_key(AGILE_EMAIL, AGILE_KEY),
    )
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "invalid configuration: profile `insightly` uses the basic_api_key scheme, but the \
         credentials are for basic_email_api_key"
    );

    let mut no_native = insightly.clone();
    no_native.native_auth = None;
    let err = NativeClient::new(
        &no_native,
        "http://127.0.0.1:1",
        credentials(NativeScheme::BasicApiKey),
    )
    .unwrap_err();
    assert!(
        err.to_string().contains("no native authentication scheme"),
        "{err}"
    );

    let err = NativeClient::new(
        &insightly,
        "http://127.0.0.1:1",
        NativeCredentials::api_key("abc:def-secret"),
    )
    .unwrap_err();
    assert!(err.to_string().contains("`api_key` contains ':'"), "{err}");
    assert!(!err.to_string().contains("def-secret"), "{err}");

    let err = NativeClient::new(
        &insightly,
        "ftp://127.0.0.1",
        credentials(NativeScheme::BasicApiKey),
    )
    .unwrap_err();
    assert!(matches!(err, ClientError::Config(_)), "{err:?}");

    let cw = Profile::builtin("connectwise").unwrap();
    let err = NativeClient::new(
        &cw,
        "http://127.0.0.1:1",
        NativeCredentials::connectwise(CW_COMPANY, CW_PUBLIC, CW_PRIVATE, "bad\nclient"),
    )
    .unwrap_err();
    assert!(err.to_string().contains("client_id"), "{err}");
}

// ---------------------------------------------------------------------------------------
// Redaction

#[test]
fn native_credentials_are_redacted_in_debug() {
    for scheme in [
        NativeScheme::BearerToken,
        NativeScheme::BasicApiKey,
        NativeScheme::BasicEmailApiKey,
        NativeScheme::RedtailUserKey,
        NativeScheme::ConnectwiseMemberKey,
    ] {
        let creds = credentials(scheme);
        assert_eq!(creds.scheme(), scheme);
        let debug = format!("{creds:?} {creds:#?}");
        for secret in SECRETS {
            assert!(!debug.contains(secret), "{debug}");
        }
        assert!(debug.contains("[redacted]"), "{debug}");
    }
    let profile = Profile::builtin("connectwise").unwrap();
    let client = NativeClient::new(
        &profile,
        "http://127.0.0.1:1",
        credentials(NativeScheme::ConnectwiseMemberKey),
    )
    .unwrap();
    let debug = format!("{client:?}");
    assert!(
        !debug.contains(CW_PRIVATE) && !debug.contains("YWNtZStwdWJLRVk6cHJpdktFWS0wMDAw"),
        "{debug}"
    );
    assert!(
        debug.contains(CW_CLIENT_ID),
        "identifiers still print: {debug}"
    );
}
