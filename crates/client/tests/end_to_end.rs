//! The client against the real mock providers, with tracing captured: the whole flow works
//! for every built-in profile and no secret reaches the logs.

use std::io::Write;
use std::sync::{Arc, Mutex};

use handshake_client::{ClientConfig, ClientSecret, OAuthClient, Revocation, SessionId};
use handshake_mock::MockProvider;
use handshake_profile::Profile;

#[derive(Clone, Default)]
struct Buffer(Arc<Mutex<Vec<u8>>>);

impl Write for Buffer {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Buffer {
    type Writer = Buffer;
    fn make_writer(&'a self) -> Buffer {
        self.clone()
    }
}

/// Runs the flow and returns every secret value that crossed the wire.
async fn whole_flow(profile: &Profile) -> Vec<String> {
    let mock = MockProvider::builder(profile.clone())
        .auto_approve(true)
        .start()
        .await
        .unwrap();
    let registered = mock.client();
    let client_secret = registered.client_secret.secret().to_owned();
    let config = ClientConfig::new(
        mock.uri(),
        registered.client_id.clone(),
        ClientSecret::new(client_secret.clone()),
        registered.redirect_uris[0].clone(),
    );
    let client = OAuthClient::new(profile, config).unwrap();
    let session = SessionId::new("session-cookie-value-7f3a");
    let request = client.authorize(&session);
    let browser = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let resp = browser.get(request.url.clone()).send().await.unwrap();
    assert_eq!(resp.status(), 302, "{}", profile.id);
    let callback = resp.headers()["location"].to_str().unwrap().to_owned();
    let code = url::Url::parse(&callback)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == "code")
        .unwrap()
        .1
        .into_owned();

    let first = client.handle_callback(&session, &callback).await.unwrap();
    let api = client.api_get(&session, &profile.api.path).await.unwrap();
    assert_eq!(api.status, 200, "{}: {}", profile.id, api.text());

    // Reactive refresh: the provider expires the token, the client refreshes once and retries.
    mock.expire_access_tokens();
    let api = client.api_get(&session, &profile.api.path).await.unwrap();
    assert_eq!(api.status, 200, "{}: {}", profile.id, api.text());
    let second = client
        .connection(&session)
        .unwrap()
        .unwrap()
        .tokens
        .unwrap();
    assert_ne!(first.access_token.secret(), second.access_token.secret());

    let report = client.logout(&session).await.unwrap();
    // Dynamics (Entra ID) documents no revocation endpoint: logout is local only.
    let revoked = match profile.oauth.revoke_path() {
        Some(_) => Revocation::Revoked,
        None => Revocation::NotAttempted,
    };
    assert_eq!(report.access_token, revoked, "{}", profile.id);

    let journal: Vec<String> = mock
        .journal()
        .iter()
        .filter_map(|e| e.param("code_verifier").map(str::to_owned))
        .collect();
    let mut secrets = vec![
        client_secret,
        code,
        session.as_str().to_owned(),
        first.access_token.secret().clone(),
        second.access_token.secret().clone(),
    ];
    secrets.extend(journal);
    secrets.extend(first.refresh_token.map(|r| r.secret().clone()));
    secrets.extend(second.refresh_token.map(|r| r.secret().clone()));
    secrets
}

#[tokio::test]
async fn whole_flow_against_every_mock_leaks_no_secret_into_logs() {
    let buffer = Buffer::default();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(buffer.clone())
        .with_ansi(false)
        .finish();
    // current-thread runtime: the thread-local default sees every event of the flow.
    let _guard = tracing::subscriber::set_default(subscriber);
    let mut secrets = Vec::new();
    for profile in Profile::builtins() {
        secrets.extend(whole_flow(&profile).await);
    }
    let logs = String::from_utf8(buffer.0.lock().unwrap().clone()).unwrap();
    assert!(
        logs.contains("exchanging authorization code"),
        "tracing was not captured"
    );
    assert!(logs.contains("refreshing access token"));
    for secret in secrets.iter().filter(|s| s.len() >= 8) {
        assert!(
            !logs.contains(secret.as_str()),
            "a secret appeared in the logs"
        );
    }
}
