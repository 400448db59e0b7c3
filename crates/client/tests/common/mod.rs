//! Credentials, stubs and request helpers shared by the native-scheme tests.
#![allow(dead_code)]

use std::time::Duration;

use handshake_client::*;
use handshake_profile::{NativeScheme, Profile};
use serde_json::{json, Value};
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

pub(crate) const PAT: &str = "pat-capsule-9f8e7d";
pub(crate) const INSIGHTLY_KEY: &str = "ins-key-4b3a2c";
pub(crate) const AGILE_EMAIL: &str = "ada@example.com";
pub(crate) const AGILE_KEY: &str = "agile-key-77aa";
pub(crate) const REDTAIL_KEY: &str = "rt-api-key-1111";
pub(crate) const REDTAIL_USER: &str = "advisor";
pub(crate) const REDTAIL_PASSWORD: &str = "pw:with:colons";
pub(crate) const USER_KEY: &str = "uk-first-2222";
pub(crate) const USER_KEY_2: &str = "uk-second-3333";
pub(crate) const CW_COMPANY: &str = "acme";
pub(crate) const CW_PUBLIC: &str = "pubKEY";
pub(crate) const CW_PRIVATE: &str = "privKEY-0000";
pub(crate) const CW_CLIENT_ID: &str = "6d1b4a6e-0000-4c1e-9a0b-000000000001";
pub(crate) const PIPEDRIVE_TOKEN: &str = "pd-api-token-5e6f";

/// Every secret the tests hand the client, and their encoded forms.
pub(crate) const SECRETS: &[&str] = &[
    PAT,
    INSIGHTLY_KEY,
    AGILE_KEY,
    REDTAIL_KEY,
    REDTAIL_PASSWORD,
    USER_KEY,
    USER_KEY_2,
    CW_PRIVATE,
    PIPEDRIVE_TOKEN,
    "aW5zLWtleS00YjNhMmM6",
    "YWRhQGV4YW1wbGUuY29tOmFnaWxlLWtleS03N2Fh",
    "cnQtYXBpLWtleS0xMTExOmFkdmlzb3I6cHc6d2l0aDpjb2xvbnM=",
    "cnQtYXBpLWtleS0xMTExOnVrLWZpcnN0LTIyMjI=",
    "cnQtYXBpLWtleS0xMTExOnVrLXNlY29uZC0zMzMz",
    "YWNtZStwdWJLRVk6cHJpdktFWS0wMDAw",
];

pub(crate) fn credentials(scheme: NativeScheme) -> NativeCredentials {
    match scheme {
        NativeScheme::BearerToken => NativeCredentials::personal_access_token(PAT),
        NativeScheme::BasicApiKey => NativeCredentials::api_key(INSIGHTLY_KEY),
        NativeScheme::HeaderApiKey => NativeCredentials::header_api_key(PIPEDRIVE_TOKEN),
        NativeScheme::BasicEmailApiKey => NativeCredentials::email_api_key(AGILE_EMAIL, AGILE_KEY),
        NativeScheme::RedtailUserKey => {
            NativeCredentials::redtail(REDTAIL_KEY, REDTAIL_USER, REDTAIL_PASSWORD)
        }
        NativeScheme::ConnectwiseMemberKey => {
            NativeCredentials::connectwise(CW_COMPANY, CW_PUBLIC, CW_PRIVATE, CW_CLIENT_ID)
        }
    }
}

/// The `Authorization` value each scheme must send on API calls, spelled out byte for byte
/// (Base64 computed outside Rust).
pub(crate) fn expected_authorization(id: &str) -> &'static str {
    match id {
        // Capsule's personal access token and HubSpot's private-app token alike.
        "capsule" | "hubspot" => "Bearer pat-capsule-9f8e7d",
        // base64("ins-key-4b3a2c:"): key as user name, empty password.
        "insightly" => "Basic aW5zLWtleS00YjNhMmM6",
        // base64("ada@example.com:agile-key-77aa")
        "agilecrm" => "Basic YWRhQGV4YW1wbGUuY29tOmFnaWxlLWtleS03N2Fh",
        // base64("rt-api-key-1111:uk-first-2222")
        "redtail" => "UserKeyAuth cnQtYXBpLWtleS0xMTExOnVrLWZpcnN0LTIyMjI=",
        // base64("acme+pubKEY:privKEY-0000")
        "connectwise" => "Basic YWNtZStwdWJLRVk6cHJpdktFWS0wMDAw",
        other => panic!("no expectation for {other}"),
    }
}

// base64("rt-api-key-1111:advisor:pw:with:colons")
pub(crate) const REDTAIL_EXCHANGE_AUTH: &str =
    "Basic cnQtYXBpLWtleS0xMTExOmFkdmlzb3I6cHc6d2l0aDpjb2xvbnM=";
pub(crate) const REDTAIL_RENEWED_AUTH: &str =
    "UserKeyAuth cnQtYXBpLWtleS0xMTExOnVrLXNlY29uZC0zMzMz";
pub(crate) const CW_ACCEPT: &str = "application/vnd.connectwise.com+json; version=2022.1";

pub(crate) struct Setup {
    pub(crate) server: MockServer,
    pub(crate) profile: Profile,
    pub(crate) client: NativeClient,
}

pub(crate) async fn setup(id: &str) -> Setup {
    setup_with(id, ListOptions::default()).await
}

pub(crate) async fn setup_with(id: &str, options: ListOptions) -> Setup {
    let profile = Profile::builtin(id).unwrap();
    let server = MockServer::start().await;
    let scheme = profile.native_auth.as_ref().unwrap().scheme;
    let client = NativeClient::new(&profile, server.uri(), credentials(scheme))
        .unwrap()
        .with_max_retry_wait(Duration::from_millis(20))
        .with_list_options(options);
    if id == "redtail" {
        mount_exchange(&server, json!({"user_key": USER_KEY})).await;
    }
    Setup {
        server,
        profile,
        client,
    }
}

pub(crate) async fn mount_exchange(server: &MockServer, body: Value) {
    Mock::given(method("GET"))
        .and(path("/api/public/v1/authentication"))
        .and(header("authorization", REDTAIL_EXCHANGE_AUTH))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(
                json!({
                    "redtail_database_id": 1, "redtail_user_id": 2
                })
                .as_object()
                .map(|base| {
                    let mut merged = base.clone();
                    merged.extend(body.as_object().unwrap().clone());
                    Value::Object(merged)
                })
                .unwrap(),
            ),
        )
        .named("redtail key exchange")
        .mount(server)
        .await;
}

pub(crate) fn records(n: usize) -> Vec<Value> {
    (1..=n)
        .map(|i| json!({"id": i, "name": format!("record {i}")}))
        .collect()
}

pub(crate) fn ids(records: &[Value]) -> Vec<u64> {
    records.iter().map(|r| r["id"].as_u64().unwrap()).collect()
}

pub(crate) fn query(req: &Request, name: &str) -> Option<String> {
    req.url
        .query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

pub(crate) fn header_of(req: &Request, name: &str) -> Option<String> {
    req.headers
        .get(name)
        .map(|v| v.to_str().unwrap().to_owned())
}

pub(crate) async fn api_requests(s: &Setup) -> Vec<Request> {
    s.server
        .received_requests()
        .await
        .unwrap()
        .into_iter()
        .filter(|r| r.url.path() == s.profile.api.path)
        .collect()
}

/// No request carried a credential in its URL (RFC 6750 §2.3 spirit, issue 6 check).
pub(crate) async fn assert_no_credentials_in_urls(server: &MockServer) {
    for req in server.received_requests().await.unwrap() {
        let url = req.url.as_str();
        assert!(
            req.url.username().is_empty() && req.url.password().is_none(),
            "{url}"
        );
        for secret in SECRETS {
            assert!(!url.contains(secret), "credential in URL {url}");
        }
    }
}

/// A JSON 200 of `page` as the profile wraps lists.
pub(crate) fn list_body(profile: &Profile, page: &[Value]) -> Value {
    match &profile.api.envelope {
        Some(key) => json!({ key.as_str(): page }),
        None => Value::Array(page.to_vec()),
    }
}

pub(crate) fn page_slice(data: &[Value], page: usize, size: usize) -> Vec<Value> {
    data.iter()
        .skip((page - 1) * size)
        .take(size)
        .cloned()
        .collect()
}

/// The lines insta pins for a request: method, path and query, and the headers that carry
/// the scheme and paging.
pub(crate) fn shape(req: &Request, origin: &str) -> String {
    let mut out = format!(
        "{} {}{}",
        req.method,
        req.url.path(),
        req.url.query().map(|q| format!("?{q}")).unwrap_or_default()
    );
    for name in [
        "accept",
        "authorization",
        "clientid",
        "pagesize",
        "pagination-type",
    ] {
        if let Some(v) = header_of(req, name) {
            out.push_str(&format!("\n  {name}: {v}"));
        }
    }
    out.replace(origin, "http://[mock]")
}

pub(crate) async fn shapes(server: &MockServer) -> String {
    let origin = server.uri();
    server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .map(|r| shape(r, &origin))
        .collect::<Vec<_>>()
        .join("\n")
}
