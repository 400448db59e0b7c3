//! The client against wiremock stubs: exact wire format for each built-in profile, and every
//! branch of callback, exchange, refresh, API and logout handling.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use base64::Engine as _;
use handshake_client::*;
use handshake_profile::{ClientAuth, PkceMethod, Profile, TokenEncoding};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

const CLIENT_ID: &str = "client-123";
const CLIENT_SECRET: &str = "s3cr3t:with&odd=chars";
const REDIRECT: &str = "http://127.0.0.1:7777/callback";

struct Setup {
    server: MockServer,
    profile: Profile,
    client: OAuthClient,
    session: SessionId,
}

async fn setup(id: &str) -> Setup {
    setup_profile(Profile::builtin(id).unwrap()).await
}

async fn setup_profile(profile: Profile) -> Setup {
    let server = MockServer::start().await;
    let config = ClientConfig::new(
        server.uri(),
        CLIENT_ID,
        ClientSecret::new(CLIENT_SECRET.into()),
        REDIRECT,
    );
    let client = OAuthClient::new(&profile, config)
        .unwrap()
        .with_max_retry_wait(Duration::from_millis(20));
    Setup {
        server,
        profile,
        client,
        session: SessionId::new("session-1"),
    }
}

fn token_body(profile: &Profile, access: &str, refresh: Option<&str>) -> Value {
    let mut body = json!({
        "access_token": access,
        "token_type": profile.tokens.token_type,
        "expires_in": profile.tokens.access_token_lifetime_secs,
    });
    if let Some(r) = refresh {
        body["refresh_token"] = json!(r);
    }
    for (k, v) in &profile.tokens.extra_fields {
        body[k] = v.clone();
    }
    body
}

fn ok_json(body: Value) -> ResponseTemplate {
    ResponseTemplate::new(200)
        .insert_header("content-type", "application/json")
        .insert_header("cache-control", "no-store")
        .set_body_json(body)
}

fn oauth_error(status: u16, error: &str, description: &str) -> ResponseTemplate {
    ResponseTemplate::new(status)
        .insert_header("content-type", "application/json")
        .set_body_json(json!({"error": error, "error_description": description}))
}

fn param(url: &url::Url, name: &str) -> Option<String> {
    url.query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

/// The parameters of a token or revocation request, whatever its encoding.
fn body_params(req: &Request) -> Vec<(String, String)> {
    let ct = req
        .headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if ct.starts_with("application/json") {
        let v: serde_json::Map<String, Value> = serde_json::from_slice(&req.body).unwrap();
        v.into_iter()
            .map(|(k, v)| (k, v.as_str().unwrap().to_owned()))
            .collect()
    } else {
        serde_urlencoded::from_bytes(&req.body).unwrap()
    }
}

fn get<'a>(params: &'a [(String, String)], name: &str) -> Option<&'a str> {
    params
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// Asserts encoding and client authentication of a token-endpoint-style request as the
/// profile prescribes, and returns its parameters.
fn assert_wire_format(profile: &Profile, req: &Request) -> Vec<(String, String)> {
    let id = &profile.id;
    let ct = req.headers.get("content-type").unwrap().to_str().unwrap();
    match profile.token_request.preferred_encoding() {
        TokenEncoding::Form => assert!(
            ct.starts_with("application/x-www-form-urlencoded"),
            "{id}: {ct}"
        ),
        TokenEncoding::Json => assert!(ct.starts_with("application/json"), "{id}: {ct}"),
    }
    let params = body_params(req);
    let auth = req
        .headers
        .get("authorization")
        .map(|v| v.to_str().unwrap().to_owned());
    match profile.token_request.preferred_client_auth() {
        ClientAuth::ClientSecretBasic => {
            // RFC 6749 §2.3.1: form-urlencode id and secret, then Base64.
            let enc =
                |s: &str| url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
            let expected = format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(format!(
                    "{}:{}",
                    enc(CLIENT_ID),
                    enc(CLIENT_SECRET)
                ))
            );
            assert_eq!(auth.as_deref(), Some(expected.as_str()), "{id}");
            assert_eq!(
                get(&params, "client_secret"),
                None,
                "{id}: secret in body too"
            );
        }
        ClientAuth::ClientSecretPost => {
            assert_eq!(auth, None, "{id}: unexpected Authorization header");
            assert_eq!(get(&params, "client_id"), Some(CLIENT_ID), "{id}");
            assert_eq!(get(&params, "client_secret"), Some(CLIENT_SECRET), "{id}");
        }
    }
    params
}

fn requests_to<'a>(all: &'a [Request], p: &str) -> Vec<&'a Request> {
    all.iter().filter(|r| r.url.path() == p).collect()
}

/// Authorization URL, code exchange, API call, refresh and logout for every profile, with
/// the exact wire format checked at each step.
#[tokio::test]
async fn whole_flow_wire_format_for_every_profile() {
    let mut profiles = Profile::builtins();
    // No built-in prefers JSON bodies (ConnectWise and Agile CRM accept both); keep the
    // seed's JSON path covered with a variant that does.
    let mut json = Profile::builtin("connectwise").unwrap();
    json.id = "connectwise-json".into();
    json.token_request.encodings = vec![TokenEncoding::Json, TokenEncoding::Form];
    profiles.push(json);
    for profile in profiles {
        let s = setup_profile(profile).await;
        let p = &s.profile;
        let token_path = p.oauth.token_path.as_str();
        // Dynamics (Entra ID) documents no revocation endpoint: logout is then local only.
        let revoke_path = p.oauth.revoke_path();
        Mock::given(method("POST"))
            .and(path(token_path))
            .and(|r: &Request| {
                body_params(r)
                    .iter()
                    .any(|(k, v)| k == "grant_type" && v == "authorization_code")
            })
            .respond_with(ok_json(token_body(p, "at-1", Some("rt-1"))))
            .expect(1)
            .mount(&s.server)
            .await;
        Mock::given(method("POST"))
            .and(path(token_path))
            .and(|r: &Request| {
                body_params(r)
                    .iter()
                    .any(|(k, v)| k == "grant_type" && v == "refresh_token")
            })
            .respond_with(ok_json(token_body(p, "at-2", Some("rt-2"))))
            .expect(1)
            .mount(&s.server)
            .await;
        Mock::given(method("GET"))
            .and(path(p.api.path.as_str()))
            .and(header(
                "authorization",
                format!("{} at-1", p.api.auth_scheme).as_str(),
            ))
            .respond_with(ok_json(json!({"records": []})))
            .expect(1)
            .mount(&s.server)
            .await;
        if let Some(revoke_path) = revoke_path {
            Mock::given(method("POST"))
                .and(path(revoke_path))
                .respond_with(ResponseTemplate::new(200))
                .expect(2)
                .mount(&s.server)
                .await;
        }

        // Authorization request.
        let auth = s.client.authorize(&s.session);
        let url = &auth.url;
        assert_eq!(url.path(), p.oauth.authorize_path, "{}", p.id);
        assert_eq!(param(url, "response_type").as_deref(), Some("code"));
        assert_eq!(param(url, "client_id").as_deref(), Some(CLIENT_ID));
        assert_eq!(param(url, "redirect_uri").as_deref(), Some(REDIRECT));
        // Pipedrive: scopes are fixed at registration, the request names none.
        let scope = p
            .scopes
            .requestable
            .then(|| p.scopes.join(&p.scopes.default));
        assert_eq!(param(url, "scope"), scope, "{}", p.id);
        // Zoho: what a refresh token needs, `access_type=offline` and `prompt=consent`.
        for (k, v) in p
            .tokens
            .refresh_token_requires
            .iter()
            .chain(&p.tokens.refresh_token_reissue_requires)
        {
            assert_eq!(param(url, k).as_deref(), Some(v.as_str()), "{}", p.id);
        }
        assert_eq!(param(url, "state").as_deref(), Some(auth.state.as_str()));
        assert_eq!(auth.pkce_method, p.pkce.best_method());
        let challenge = param(url, "code_challenge");

        // Callback and exchange.
        let callback = format!("{REDIRECT}?code=the-code&state={}", auth.state);
        let tokens = s
            .client
            .handle_callback(&s.session, &callback)
            .await
            .unwrap();
        assert_eq!(tokens.access_token.secret(), "at-1");
        for (k, v) in &p.tokens.extra_fields {
            assert_eq!(&tokens.extra[k], v, "{}: extra field {k} kept", p.id);
        }
        let received = s.server.received_requests().await.unwrap();
        let exchange = requests_to(&received, token_path)[0];
        assert!(exchange
            .headers
            .get("accept")
            .unwrap()
            .to_str()
            .unwrap()
            .contains("application/json"));
        let params = assert_wire_format(p, exchange);
        assert_eq!(get(&params, "code"), Some("the-code"));
        assert_eq!(get(&params, "redirect_uri"), Some(REDIRECT));
        let verifier = get(&params, "code_verifier");
        match p.pkce.best_method() {
            Some(PkceMethod::S256) => {
                let expected = base64::engine::general_purpose::URL_SAFE_NO_PAD
                    .encode(Sha256::digest(verifier.unwrap().as_bytes()));
                assert_eq!(challenge.as_deref(), Some(expected.as_str()), "{}", p.id);
            }
            Some(PkceMethod::Plain) => assert_eq!(challenge.as_deref(), verifier),
            None => assert_eq!((challenge, verifier), (None, None), "{}", p.id),
        }

        // API call: bearer header, nothing in the query.
        let resp = s.client.api_get(&s.session, &p.api.path).await.unwrap();
        assert_eq!(resp.status, 200);
        let received = s.server.received_requests().await.unwrap();
        let api = requests_to(&received, &p.api.path)[0];
        assert_eq!(api.url.query(), None);

        // Refresh, with rotation stored.
        let refreshed = s.client.refresh(&s.session).await.unwrap();
        assert_eq!(refreshed.access_token.secret(), "at-2");
        let received = s.server.received_requests().await.unwrap();
        let refresh = requests_to(&received, token_path)[1];
        let params = assert_wire_format(p, refresh);
        assert_eq!(get(&params, "grant_type"), Some("refresh_token"));
        assert_eq!(get(&params, "refresh_token"), Some("rt-1"));
        let stored = s
            .client
            .connection(&s.session)
            .unwrap()
            .unwrap()
            .tokens
            .unwrap();
        assert_eq!(stored.refresh_token.unwrap().secret(), "rt-2");

        // Logout: refresh token first, then the access token, each with its hint.
        let report = s.client.logout(&s.session).await.unwrap();
        if let Some(revoke_path) = revoke_path {
            assert_eq!(report.refresh_token, Revocation::Revoked);
            assert_eq!(report.access_token, Revocation::Revoked);
            let received = s.server.received_requests().await.unwrap();
            let revokes = requests_to(&received, revoke_path);
            let first = assert_wire_format(p, revokes[0]);
            assert_eq!(get(&first, "token"), Some("rt-2"));
            assert_eq!(get(&first, "token_type_hint"), Some("refresh_token"));
            let second = assert_wire_format(p, revokes[1]);
            assert_eq!(get(&second, "token"), Some("at-2"));
            assert_eq!(get(&second, "token_type_hint"), Some("access_token"));
        } else {
            assert_eq!(report.access_token, Revocation::NotAttempted, "{}", p.id);
        }
        assert!(s.client.connection(&s.session).unwrap().is_none());
        s.server.verify().await;
    }
}

/// insta pins each profile's authorization URL and token-request body, random parts redacted.
#[tokio::test]
async fn snapshots_of_authorization_url_and_token_request() {
    for profile in Profile::builtins() {
        let s = setup(&profile.id).await;
        Mock::given(method("POST"))
            .and(path(s.profile.oauth.token_path.as_str()))
            .respond_with(ok_json(token_body(&s.profile, "at", Some("rt"))))
            .mount(&s.server)
            .await;
        let auth = s.client.authorize(&s.session);
        let origin = s.server.uri();
        let redact = |text: &str| {
            let mut out = text.replace(&origin, "http://[mock]");
            for (name, value) in auth.url.query_pairs() {
                if name == "state" || name == "code_challenge" {
                    out = out.replace(&*value, &format!("[{name}]"));
                }
            }
            out
        };
        let url_lines: Vec<String> = auth
            .url
            .query_pairs()
            .map(|(k, v)| format!("{k}={}", redact(&v)))
            .collect();
        insta::assert_snapshot!(
            format!("{}_authorize_url", profile.id),
            format!(
                "{}\n{}",
                redact(&format!("{}{}", origin, auth.url.path())),
                url_lines.join("\n")
            )
        );

        let cb = format!("{REDIRECT}?code=the-code&state={}", auth.state);
        s.client.handle_callback(&s.session, &cb).await.unwrap();
        let received = s.server.received_requests().await.unwrap();
        let req = &received[0];
        let mut lines = vec![format!("{} {}", req.method, req.url.path())];
        for h in ["content-type", "accept", "authorization"] {
            if let Some(v) = req.headers.get(h) {
                lines.push(format!("{h}: {}", v.to_str().unwrap()));
            }
        }
        let mut body = String::from_utf8(req.body.clone()).unwrap();
        for (k, v) in body_params(req) {
            if k == "code_verifier" {
                body = body.replace(&v, "[code_verifier]");
            }
        }
        lines.push(body);
        insta::assert_snapshot!(format!("{}_token_request", profile.id), lines.join("\n"));
    }
}

async fn connected(s: &Setup) -> TokenSet {
    Mock::given(method("POST"))
        .and(path(s.profile.oauth.token_path.as_str()))
        .respond_with(ok_json(token_body(&s.profile, "at-1", Some("rt-1"))))
        .up_to_n_times(1)
        .expect(1)
        .named("code exchange")
        .mount(&s.server)
        .await;
    let auth = s.client.authorize(&s.session);
    s.client
        .handle_callback(
            &s.session,
            &format!("{REDIRECT}?code=c&state={}", auth.state),
        )
        .await
        .unwrap()
}

#[tokio::test]
async fn bad_state_is_rejected_before_any_network_call() {
    let s = setup("capsule").await;
    Mock::given(method("POST"))
        .respond_with(ok_json(token_body(&s.profile, "at", None)))
        .expect(0)
        .mount(&s.server)
        .await;
    let c = &s.client;
    let sess = &s.session;

    // No pending authorization at all.
    let err = c
        .handle_callback(sess, "?code=x&state=y")
        .await
        .unwrap_err();
    assert!(matches!(err, ClientError::StateUnknown), "{err:?}");

    let auth = c.authorize(sess);
    let err = c.handle_callback(sess, "?code=x").await.unwrap_err();
    assert!(matches!(err, ClientError::StateMissing), "{err:?}");
    let err = c
        .handle_callback(sess, "?code=x&state=forged")
        .await
        .unwrap_err();
    assert!(matches!(err, ClientError::StateMismatch), "{err:?}");
    // A mismatch consumed the pending authorization: the real state is now a replay.
    let err = c
        .handle_callback(sess, &format!("?code=x&state={}", auth.state))
        .await
        .unwrap_err();
    assert!(
        matches!(err, ClientError::StateUnknown | ClientError::StateReplayed),
        "{err:?}"
    );

    // Another session's state is not valid here.
    let other = c.authorize(&SessionId::new("other"));
    c.authorize(sess);
    let err = c
        .handle_callback(sess, &format!("?code=x&state={}", other.state))
        .await
        .unwrap_err();
    assert!(matches!(err, ClientError::StateMismatch), "{err:?}");

    let err = c
        .handle_callback(sess, "?state=a&state=b")
        .await
        .unwrap_err();
    assert!(matches!(err, ClientError::MalformedCallback(_)), "{err:?}");
}

#[tokio::test]
async fn expired_state_is_rejected_before_any_network_call() {
    let mut s = setup("capsule").await;
    s.client = s.client.with_authorization_ttl(Duration::from_millis(1));
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(500))
        .expect(0)
        .mount(&s.server)
        .await;
    let auth = s.client.authorize(&s.session);
    tokio::time::sleep(Duration::from_millis(10)).await;
    let err = s
        .client
        .handle_callback(&s.session, &format!("?code=x&state={}", auth.state))
        .await
        .unwrap_err();
    assert!(matches!(err, ClientError::StateExpired), "{err:?}");
}

#[tokio::test]
async fn error_callbacks_become_typed_errors() {
    let s = setup("insightly").await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(500))
        .expect(0)
        .mount(&s.server)
        .await;
    for (code, desc) in [
        ("access_denied", Some("The user said no")),
        ("invalid_scope", None),
        ("temporarily_unavailable", Some("later")),
    ] {
        let auth = s.client.authorize(&s.session);
        let mut cb = format!("{REDIRECT}?error={code}&state={}", auth.state);
        if let Some(d) = desc {
            cb.push_str(&format!("&error_description={}", d.replace(' ', "+")));
        }
        match s.client.handle_callback(&s.session, &cb).await.unwrap_err() {
            ClientError::AuthorizationDenied { error, description } => {
                assert_eq!(error, code);
                assert_eq!(description.as_deref(), desc);
            }
            other => panic!("{other:?}"),
        }
    }
    let auth = s.client.authorize(&s.session);
    let err = s
        .client
        .handle_callback(&s.session, &format!("?state={}", auth.state))
        .await
        .unwrap_err();
    assert!(matches!(err, ClientError::MissingCode), "{err:?}");
}

#[tokio::test]
async fn a_code_is_never_exchanged_twice() {
    let s = setup("connectwise").await;
    Mock::given(method("POST"))
        .and(path("/oauth/token"))
        .respond_with(ok_json(token_body(&s.profile, "at", Some("rt"))))
        .expect(1)
        .mount(&s.server)
        .await;
    let auth = s.client.authorize(&s.session);
    let cb = format!("{REDIRECT}?code=c&state={}", auth.state);
    s.client.handle_callback(&s.session, &cb).await.unwrap();
    let err = s.client.handle_callback(&s.session, &cb).await.unwrap_err();
    assert!(matches!(err, ClientError::StateReplayed), "{err:?}");
}

#[tokio::test]
async fn token_endpoint_errors_and_bad_responses_are_typed() {
    let s = setup("redtail").await;
    let cases: Vec<(ResponseTemplate, &str)> = vec![
        (
            oauth_error(400, "invalid_grant", "code expired"),
            "invalid_grant",
        ),
        (
            oauth_error(401, "invalid_client", "bad secret"),
            "invalid_client",
        ),
        (
            ok_json(json!({"token_type": "bearer", "refresh_token": "RT-LEAK"})),
            "missing `access_token`",
        ),
        (
            ok_json(json!({"access_token": "AT-LEAK", "token_type": "mac"})),
            "token_type",
        ),
        (
            ResponseTemplate::new(200)
                .insert_header("content-type", "text/html")
                .set_body_string("<html>"),
            "Content-Type",
        ),
        (
            ResponseTemplate::new(502).set_body_string("Bad gateway AT-LEAK"),
            "unparseable",
        ),
    ];
    for (template, expect) in cases {
        s.server.reset().await;
        Mock::given(method("POST"))
            .respond_with(template)
            .expect(1)
            .mount(&s.server)
            .await;
        let auth = s.client.authorize(&s.session);
        let err = s
            .client
            .handle_callback(&s.session, &format!("?code=c&state={}", auth.state))
            .await
            .unwrap_err();
        let text = format!("{err} {err:?}");
        assert!(text.contains(expect), "{text}");
        assert!(!text.contains("LEAK"), "secret in error: {text}");
        if let ClientError::TokenEndpoint {
            status,
            description,
            ..
        } = &err
        {
            assert!(*status >= 400, "{err:?}");
            if expect == "invalid_grant" {
                assert_eq!(description.as_deref(), Some("code expired"));
            }
        }
    }
    // Lenient where CRMs differ: string expires_in, upper-case token_type, extra fields.
    s.server.reset().await;
    Mock::given(method("POST"))
        .respond_with(ok_json(json!({"access_token": "a", "token_type": "BEARER", "expires_in": "120", "subdomain": "x"})))
        .mount(&s.server)
        .await;
    let auth = s.client.authorize(&s.session);
    let t = s
        .client
        .handle_callback(&s.session, &format!("?code=c&state={}", auth.state))
        .await
        .unwrap();
    let left = t
        .expires_at
        .unwrap()
        .duration_since(SystemTime::now())
        .unwrap();
    assert!(left > Duration::from_secs(100) && left <= Duration::from_secs(120));
    assert_eq!(t.extra["subdomain"], "x");
}

#[tokio::test]
async fn token_endpoint_redirects_are_not_followed() {
    let s = setup("capsule").await;
    let elsewhere = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ok_json(json!({})))
        .expect(0)
        .mount(&elsewhere)
        .await;
    Mock::given(method("POST"))
        .respond_with(
            ResponseTemplate::new(307)
                .insert_header("location", format!("{}/steal", elsewhere.uri())),
        )
        .mount(&s.server)
        .await;
    let auth = s.client.authorize(&s.session);
    let err = s
        .client
        .handle_callback(&s.session, &format!("?code=c&state={}", auth.state))
        .await
        .unwrap_err();
    assert!(
        matches!(err, ClientError::TokenEndpoint { status: 307, .. }),
        "{err:?}"
    );
}

#[tokio::test]
async fn invalid_grant_on_refresh_requires_reauthorization_and_stops() {
    let s = setup("capsule").await;
    connected(&s).await;
    Mock::given(method("POST"))
        .and(path("/oauth/token"))
        .respond_with(oauth_error(400, "invalid_grant", "refresh token revoked"))
        .expect(1)
        .mount(&s.server)
        .await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(401))
        .expect(1)
        .mount(&s.server)
        .await;
    // 401 → refresh → invalid_grant.
    let err = s
        .client
        .api_get(&s.session, "/api/v2/parties")
        .await
        .unwrap_err();
    assert!(
        matches!(err, ClientError::ReauthorizationRequired),
        "{err:?}"
    );
    let conn = s.client.connection(&s.session).unwrap().unwrap();
    assert_eq!(conn.status, ConnectionStatus::ReauthorizationRequired);
    assert!(conn.tokens.is_none());
    // Later calls fail fast without touching the network.
    for _ in 0..3 {
        let err = s
            .client
            .api_get(&s.session, "/api/v2/parties")
            .await
            .unwrap_err();
        assert!(matches!(err, ClientError::ReauthorizationRequired));
        assert!(matches!(
            s.client.refresh(&s.session).await,
            Err(ClientError::ReauthorizationRequired)
        ));
    }
}

#[tokio::test]
async fn a_401_refreshes_and_retries_exactly_once() {
    let s = setup("insightly").await;
    connected(&s).await;
    Mock::given(method("POST"))
        .and(path("/v3.1/oauth2/token"))
        .respond_with(ok_json(token_body(&s.profile, "at-2", Some("rt-2"))))
        .expect(1)
        .mount(&s.server)
        .await;
    Mock::given(method("GET"))
        .and(header("authorization", "Bearer at-1"))
        .respond_with(ResponseTemplate::new(401))
        .expect(1)
        .mount(&s.server)
        .await;
    Mock::given(method("GET"))
        .and(header("authorization", "Bearer at-2"))
        .respond_with(ok_json(json!([])))
        .expect(1)
        .mount(&s.server)
        .await;
    let resp = s
        .client
        .api_get(&s.session, "/v3.1/Contacts")
        .await
        .unwrap();
    assert_eq!(resp.status, 200);
}

#[tokio::test]
async fn a_second_401_is_returned_not_looped() {
    let s = setup("insightly").await;
    connected(&s).await;
    Mock::given(method("POST"))
        .respond_with(ok_json(token_body(&s.profile, "at-2", Some("rt-2"))))
        .expect(1)
        .mount(&s.server)
        .await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(401))
        .expect(2)
        .mount(&s.server)
        .await;
    let resp = s
        .client
        .api_get(&s.session, "/v3.1/Contacts")
        .await
        .unwrap();
    assert_eq!(resp.status, 401);
}

#[tokio::test]
async fn rate_limits_are_honoured_with_bounded_backoff() {
    let s = setup("capsule").await;
    connected(&s).await;
    let reset = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + 60;
    Mock::given(method("GET"))
        .respond_with(
            ResponseTemplate::new(429)
                .insert_header("x-ratelimit-reset", reset.to_string().as_str()),
        )
        .up_to_n_times(1)
        .expect(1)
        .mount(&s.server)
        .await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(429).insert_header("retry-after", "1"))
        .up_to_n_times(1)
        .expect(1)
        .mount(&s.server)
        .await;
    Mock::given(method("GET"))
        .respond_with(ok_json(json!({"parties": []})))
        .expect(1)
        .mount(&s.server)
        .await;
    let resp = s
        .client
        .api_get(&s.session, "/api/v2/parties")
        .await
        .unwrap();
    assert_eq!(resp.status, 200);

    s.server.reset().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(429).insert_header("retry-after", "5"))
        .expect(3)
        .mount(&s.server)
        .await;
    match s
        .client
        .api_get(&s.session, "/api/v2/parties")
        .await
        .unwrap_err()
    {
        ClientError::RateLimited {
            attempts,
            retry_after,
            message,
        } => {
            assert_eq!(attempts, 3);
            assert_eq!(retry_after, Some(Duration::from_secs(5)));
            assert_eq!(message, None);
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn expired_tokens_are_refreshed_before_the_call() {
    let store = Arc::new(MemoryStore::new());
    let mut s = setup("agilecrm").await;
    s.client = s.client.with_store(store.clone());
    let mut tokens = connected(&s).await;
    tokens.expires_at = Some(SystemTime::now() + Duration::from_secs(5)); // inside the skew
    store
        .put(
            &s.session,
            &Connection {
                status: ConnectionStatus::Active,
                tokens: Some(tokens),
            },
        )
        .unwrap();
    Mock::given(method("POST"))
        .respond_with(ok_json(token_body(&s.profile, "at-2", None)))
        .expect(1)
        .mount(&s.server)
        .await;
    Mock::given(method("GET"))
        .and(header("authorization", "Bearer at-2"))
        .respond_with(ok_json(json!([])))
        .expect(1)
        .mount(&s.server)
        .await;
    assert_eq!(
        s.client
            .api_get(&s.session, "/dev/api/contacts")
            .await
            .unwrap()
            .status,
        200
    );
    // No rotation: the old refresh token is kept.
    let kept = store.get(&s.session).unwrap().unwrap().tokens.unwrap();
    assert_eq!(kept.refresh_token.unwrap().secret(), "rt-1");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_calls_on_an_expired_token_share_one_refresh() {
    let store = Arc::new(MemoryStore::new());
    let mut s = setup("connectwise").await;
    s.client = s.client.with_store(store.clone());
    let mut tokens = connected(&s).await;
    tokens.expires_at = Some(SystemTime::now() - Duration::from_secs(1));
    store
        .put(
            &s.session,
            &Connection {
                status: ConnectionStatus::Active,
                tokens: Some(tokens),
            },
        )
        .unwrap();
    Mock::given(method("POST"))
        .respond_with(
            ok_json(token_body(&s.profile, "at-2", Some("rt-2")))
                .set_delay(Duration::from_millis(100)),
        )
        .expect(1)
        .mount(&s.server)
        .await;
    Mock::given(method("GET"))
        .and(header("authorization", "Bearer at-2"))
        .respond_with(ok_json(json!([])))
        .expect(100)
        .mount(&s.server)
        .await;
    let client = Arc::new(s.client);
    let tasks: Vec<_> = (0..100)
        .map(|_| {
            let c = client.clone();
            let sess = s.session.clone();
            tokio::spawn(async move {
                c.api_get(&sess, "/v4_6_release/apis/3.0/company/companies")
                    .await
            })
        })
        .collect();
    for t in tasks {
        assert_eq!(t.await.unwrap().unwrap().status, 200);
    }
    s.server.verify().await;
}

#[tokio::test]
async fn logout_deletes_locally_whatever_the_provider_says() {
    // 503 is retried once.
    let s = setup("capsule").await;
    connected(&s).await;
    Mock::given(method("POST"))
        .and(path("/oauth/revoke"))
        .respond_with(ResponseTemplate::new(503).insert_header("retry-after", "0"))
        .up_to_n_times(1)
        .expect(1)
        .mount(&s.server)
        .await;
    Mock::given(method("POST"))
        .and(path("/oauth/revoke"))
        .respond_with(ResponseTemplate::new(200))
        .expect(2)
        .mount(&s.server)
        .await;
    let report = s.client.logout(&s.session).await.unwrap();
    assert_eq!(report.refresh_token, Revocation::Revoked);
    assert_eq!(report.access_token, Revocation::Revoked);
    assert!(s.client.connection(&s.session).unwrap().is_none());
    s.server.verify().await;

    // A failing provider still leaves nothing behind locally, and no retry storm.
    let s = setup("redtail").await;
    connected(&s).await;
    Mock::given(method("POST"))
        .and(path("/oauth/revoke"))
        .respond_with(ResponseTemplate::new(500))
        .expect(2)
        .mount(&s.server)
        .await;
    let err = s.client.logout(&s.session).await.unwrap_err();
    let ClientError::RevocationFailed { status, report, .. } = &err else {
        panic!("{err:?}");
    };
    assert_eq!(*status, Some(500));
    assert_eq!(
        report.refresh_token,
        Revocation::Failed {
            status: 500,
            error: None
        }
    );
    assert!(s.client.connection(&s.session).unwrap().is_none());
    assert!(matches!(
        s.client
            .api_get(&s.session, "/api/public/v1/contacts")
            .await,
        Err(ClientError::NotConnected)
    ));
    s.server.verify().await;

    // Unreachable provider: still logged out locally.
    let store = Arc::new(MemoryStore::new());
    let mut s = setup("redtail").await;
    s.client = s.client.with_store(store.clone());
    connected(&s).await;
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dead_base = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let config = ClientConfig::new(
        dead_base,
        CLIENT_ID,
        ClientSecret::new(CLIENT_SECRET.into()),
        REDIRECT,
    );
    let offline = OAuthClient::new(&s.profile, config)
        .unwrap()
        .with_store(store.clone());
    let err = offline.logout(&s.session).await.unwrap_err();
    let ClientError::RevocationFailed { status, report, .. } = &err else {
        panic!("{err:?}");
    };
    assert_eq!(*status, None);
    assert!(
        matches!(report.access_token, Revocation::TransportError(_)),
        "{report:?}"
    );
    assert!(
        err.to_string()
            .contains("no answer from the revocation endpoint"),
        "{err}"
    );
    assert!(store.get(&s.session).unwrap().is_none());
}

/// Connects, then logs out against a revocation endpoint answering `answer`.
async fn logout_against(
    id: &str,
    answer: ResponseTemplate,
) -> (Setup, Result<LogoutReport, ClientError>) {
    let s = setup(id).await;
    connected(&s).await;
    let revoke = s.profile.oauth.revoke_path().unwrap().to_owned();
    Mock::given(method("POST"))
        .and(path(revoke.as_str()))
        .respond_with(answer)
        .mount(&s.server)
        .await;
    let result = s.client.logout(&s.session).await;
    (s, result)
}

#[tokio::test]
async fn logout_reports_a_revocation_the_provider_refused() {
    // RFC 7009 §2.2: only 200 confirms. 404 (no such endpoint), 503 (after its one retry)
    // and 400 unsupported_token_type are refusals; the tokens are deleted locally anyway.
    let cases = [
        (ResponseTemplate::new(404), 404, None),
        (
            ResponseTemplate::new(503).insert_header("retry-after", "0"),
            503,
            None,
        ),
        (
            oauth_error(
                400,
                "unsupported_token_type",
                "no revocation of access tokens",
            ),
            400,
            Some("unsupported_token_type"),
        ),
    ];
    for (answer, want_status, want_error) in cases {
        let (s, result) = logout_against("capsule", answer).await;
        let err = result.unwrap_err();
        let ClientError::RevocationFailed {
            status,
            error,
            report,
        } = &err
        else {
            panic!("{want_status}: {err:?}");
        };
        assert_eq!(*status, Some(want_status));
        assert_eq!(error.as_deref(), want_error);
        let failed = Revocation::Failed {
            status: want_status,
            error: want_error.map(str::to_owned),
        };
        assert_eq!(report.refresh_token, failed);
        assert_eq!(report.access_token, failed);
        assert!(!report.confirmed());
        let msg = err.to_string();
        assert!(msg.contains(&format!("HTTP {want_status}")), "{msg}");
        assert!(msg.contains("did not confirm revocation"), "{msg}");
        // No secret in the error, its Debug or its message.
        for secret in ["at-1", "rt-1", CLIENT_SECRET] {
            assert!(
                !msg.contains(secret) && !format!("{err:?}").contains(secret),
                "{msg}"
            );
        }
        // Logged out locally all the same.
        assert!(s.client.connection(&s.session).unwrap().is_none());
        assert!(matches!(
            s.client.api_get(&s.session, "/api/v2/parties").await,
            Err(ClientError::NotConnected)
        ));
        let revokes = s.server.received_requests().await.unwrap();
        let retries = if want_status == 503 { 2 } else { 1 };
        assert_eq!(
            requests_to(&revokes, "/oauth/revoke").len(),
            2 * retries,
            "{want_status}: each token once (503: plus one retry)"
        );
    }
}

#[tokio::test]
async fn logout_is_ok_when_every_revocation_is_confirmed() {
    let (s, result) = logout_against("capsule", ResponseTemplate::new(200)).await;
    let report = result.unwrap();
    assert!(report.confirmed());
    assert_eq!(report.refresh_token, Revocation::Revoked);
    assert_eq!(report.access_token, Revocation::Revoked);
    assert!(s.client.connection(&s.session).unwrap().is_none());

    // One refusal is enough to report: refresh token revoked, access token 404.
    let s = setup("capsule").await;
    connected(&s).await;
    Mock::given(method("POST"))
        .and(path("/oauth/revoke"))
        .respond_with(ResponseTemplate::new(200))
        .up_to_n_times(1)
        .mount(&s.server)
        .await;
    Mock::given(method("POST"))
        .and(path("/oauth/revoke"))
        .respond_with(ResponseTemplate::new(404))
        .mount(&s.server)
        .await;
    let err = s.client.logout(&s.session).await.unwrap_err();
    let ClientError::RevocationFailed { status, report, .. } = &err else {
        panic!("{err:?}");
    };
    assert_eq!(*status, Some(404));
    assert_eq!(report.refresh_token, Revocation::Revoked);
    assert!(matches!(
        report.access_token,
        Revocation::Failed { status: 404, .. }
    ));
    assert!(s.client.connection(&s.session).unwrap().is_none());

    // Nothing to revoke is not a failure.
    let s = setup("capsule").await;
    let report = s.client.logout(&s.session).await.unwrap();
    assert_eq!(report.access_token, Revocation::NotAttempted);
}

#[tokio::test]
async fn a_refusal_body_that_echoes_the_token_keeps_it_out_of_the_error() {
    // Not code-like (a space), code-like but a token, code-like but the client secret.
    for echoed in ["bad token rt-1", "at-1", "rt-1", CLIENT_SECRET] {
        let (_s, result) = logout_against(
            "capsule",
            ResponseTemplate::new(400)
                .insert_header("content-type", "application/json")
                .set_body_json(json!({"error": echoed, "error_description": "at-1 rt-1"})),
        )
        .await;
        let err = result.unwrap_err();
        let ClientError::RevocationFailed { error, report, .. } = &err else {
            panic!("{err:?}");
        };
        assert_eq!(error, &None, "{echoed}");
        assert_eq!(
            report.access_token,
            Revocation::Failed {
                status: 400,
                error: None
            },
            "{echoed}"
        );
        let shown = format!("{err} {err:?}");
        for secret in ["rt-1", "at-1", CLIENT_SECRET] {
            assert!(!shown.contains(secret), "{echoed}: {shown}");
        }
    }
}

#[tokio::test]
async fn a_redirected_token_answer_is_never_used_even_with_an_injected_client() {
    // An injected client may follow redirects; the answer from wherever it was sent must
    // still not become the session's tokens, nor a revocation count as done.
    let s = setup("capsule").await;
    let client = s.client.with_http_client(reqwest::Client::new());
    let elsewhere = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ok_json(token_body(&s.profile, "at-evil", Some("rt-evil"))))
        .mount(&elsewhere)
        .await;
    Mock::given(method("POST"))
        .respond_with(
            ResponseTemplate::new(307)
                .insert_header("location", format!("{}/steal", elsewhere.uri())),
        )
        .mount(&s.server)
        .await;
    let auth = client.authorize(&s.session);
    let err = client
        .handle_callback(&s.session, &format!("?code=c&state={}", auth.state))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("redirected"), "{err}");
    assert!(client.connection(&s.session).unwrap().is_none());
}

/// A client for `profile` against a fresh wiremock server at `base` (the server's URI plus a
/// suffix such as `/`), with a code exchange stub that must be hit `exchanges` times.
async fn iss_setup(profile: Profile, base_suffix: &str, exchanges: u64) -> Setup {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(profile.oauth.token_path.as_str()))
        .respond_with(ok_json(token_body(&profile, "at-1", Some("rt-1"))))
        .expect(exchanges)
        .named("code exchange")
        .mount(&server)
        .await;
    let config = ClientConfig::new(
        format!("{}{base_suffix}", server.uri()),
        CLIENT_ID,
        ClientSecret::new(CLIENT_SECRET.into()),
        REDIRECT,
    );
    let client = OAuthClient::new(&profile, config).unwrap();
    Setup {
        server,
        profile,
        client,
        session: SessionId::new("session-1"),
    }
}

fn enc(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

#[tokio::test]
async fn iss_is_checked_before_any_network_call() {
    // RFC 9207 §2.4, with a profile whose server sends `iss` in every authorization response.
    let mut profile = Profile::builtin("capsule").unwrap();
    profile.oauth.iss_parameter = true;
    let s = iss_setup(profile, "/", 1).await;
    let issuer = s.server.uri(); // the base URL, trailing slash dropped
    let cb = |rest: &str| {
        let auth = s.client.authorize(&s.session);
        format!("{REDIRECT}?state={}&{rest}", auth.state)
    };

    // Missing: refused, on success and error responses alike.
    for rest in ["code=c", "error=access_denied"] {
        let err = s
            .client
            .handle_callback(&s.session, &cb(rest))
            .await
            .unwrap_err();
        assert!(matches!(err, ClientError::IssuerMissing), "{rest}: {err:?}");
    }
    // Mismatched: refused, and the error names both issuers.
    for wrong in [
        "https://attacker.example",
        &format!("{issuer}/"),
        &issuer.replace("127.0.0.1", "localhost"),
    ] {
        for rest in ["code=c", "error=access_denied"] {
            let url = cb(&format!("{rest}&iss={}", enc(wrong)));
            match s
                .client
                .handle_callback(&s.session, &url)
                .await
                .unwrap_err()
            {
                ClientError::IssuerMismatch { expected, received } => {
                    assert_eq!(expected, issuer);
                    assert_eq!(received, wrong);
                }
                other => panic!("{wrong} {rest}: {other:?}"),
            }
        }
    }
    // Twice is malformed, not a choice.
    let url = cb(&format!("code=c&iss={}&iss={}", enc(&issuer), enc(&issuer)));
    let err = s
        .client
        .handle_callback(&s.session, &url)
        .await
        .unwrap_err();
    assert!(matches!(err, ClientError::MalformedCallback(_)), "{err:?}");
    // Nothing above reached the token endpoint (the stub expects exactly one exchange).
    assert!(s.server.received_requests().await.unwrap().is_empty());

    // The right issuer: an error response is believed, a code exchanged.
    let url = cb(&format!("error=access_denied&iss={}", enc(&issuer)));
    let err = s
        .client
        .handle_callback(&s.session, &url)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, ClientError::AuthorizationDenied { error, .. } if error == "access_denied"),
        "{err:?}"
    );
    let url = cb(&format!("code=c&iss={}", enc(&issuer)));
    let tokens = s.client.handle_callback(&s.session, &url).await.unwrap();
    assert_eq!(tokens.access_token.secret(), "at-1");
    s.server.verify().await;
}

#[tokio::test]
async fn iss_follows_the_profiles_issuer_and_is_compared_even_when_not_announced() {
    // A profile naming its issuer: that, not the base URL, is expected.
    let mut profile = Profile::builtin("redtail").unwrap();
    profile.oauth.iss_parameter = true;
    profile.oauth.issuer = Some("https://login.example.com/tenant-1".into());
    let s = iss_setup(profile, "", 1).await;
    let auth = s.client.authorize(&s.session);
    let url = format!("?code=c&state={}&iss={}", auth.state, enc(&s.server.uri()));
    match s
        .client
        .handle_callback(&s.session, &url)
        .await
        .unwrap_err()
    {
        ClientError::IssuerMismatch { expected, .. } => {
            assert_eq!(expected, "https://login.example.com/tenant-1")
        }
        other => panic!("{other:?}"),
    }
    let auth = s.client.authorize(&s.session);
    let url = format!(
        "?code=c&state={}&iss={}",
        auth.state,
        enc("https://login.example.com/tenant-1")
    );
    s.client.handle_callback(&s.session, &url).await.unwrap();
    s.server.verify().await;

    // A profile that does not announce `iss`: its absence is fine, a wrong one is not.
    let s = iss_setup(Profile::builtin("redtail").unwrap(), "", 1).await;
    assert!(!s.profile.oauth.iss_parameter);
    let auth = s.client.authorize(&s.session);
    let url = format!(
        "?code=c&state={}&iss={}",
        auth.state,
        enc("https://other.example")
    );
    let err = s
        .client
        .handle_callback(&s.session, &url)
        .await
        .unwrap_err();
    assert!(matches!(err, ClientError::IssuerMismatch { .. }), "{err:?}");
    let auth = s.client.authorize(&s.session);
    s.client
        .handle_callback(&s.session, &format!("?code=c&state={}", auth.state))
        .await
        .unwrap();
    s.server.verify().await;
}
