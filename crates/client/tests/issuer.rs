//! The client against a mock that identifies itself in authorization responses (RFC 9207):
//! its `iss` is accepted, another server's or none is refused before any token request.
//! (Apart from `end_to_end.rs`, whose log capture wants a test binary of its own.)

use handshake_client::{ClientConfig, ClientError, ClientSecret, OAuthClient, SessionId};
use handshake_mock::MockProvider;
use handshake_profile::Profile;

/// Authorizes through a mock that sends RFC 9207 `iss` and returns the callback URL.
async fn iss_callback(client: &OAuthClient, session: &SessionId) -> String {
    let request = client.authorize(session);
    let browser = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let resp = browser.get(request.url.clone()).send().await.unwrap();
    assert_eq!(resp.status(), 302);
    let callback = resp.headers()["location"].to_str().unwrap().to_owned();
    assert!(callback.contains("iss="), "{callback}");
    callback
}

fn client_for(mock: &MockProvider, profile: &Profile, base_url: String) -> OAuthClient {
    let registered = mock.client();
    let config = ClientConfig::new(
        base_url,
        registered.client_id.clone(),
        ClientSecret::new(registered.client_secret.secret().to_owned()),
        registered.redirect_uris[0].clone(),
    );
    OAuthClient::new(profile, config).unwrap()
}

#[tokio::test]
async fn the_mocks_iss_is_accepted_and_another_servers_is_refused() {
    let mock = MockProvider::builder(Profile::builtin("insightly").unwrap())
        .iss_parameter(true)
        .auto_approve(true)
        .start()
        .await
        .unwrap();
    let session = SessionId::new("s");
    let token_requests = || {
        mock.journal()
            .iter()
            .filter(|e| e.endpoint == Some(handshake_mock::Endpoint::Token))
            .count()
    };

    // The profile as the mock serves it says `iss_parameter = true`: the flow completes.
    let client = client_for(&mock, mock.profile(), mock.uri());
    let callback = iss_callback(&client, &session).await;
    client.handle_callback(&session, &callback).await.unwrap();
    assert_eq!(token_requests(), 1);

    // The same server reached under another name is, by RFC 9207, another issuer: a mix-up.
    let elsewhere = mock.uri().replace("127.0.0.1", "localhost");
    let client = client_for(&mock, mock.profile(), elsewhere.clone());
    let callback = iss_callback(&client, &session).await;
    match client
        .handle_callback(&session, &callback)
        .await
        .unwrap_err()
    {
        ClientError::IssuerMismatch { expected, received } => {
            assert_eq!(expected, elsewhere);
            assert_eq!(received, mock.uri());
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(token_requests(), 1, "no exchange after a mismatch");

    // The callback without its `iss` (a response the attacker rewrote) is refused too.
    let client = client_for(&mock, mock.profile(), mock.uri());
    let callback = iss_callback(&client, &session).await;
    let mut url = url::Url::parse(&callback).unwrap();
    let kept: Vec<(String, String)> = url
        .query_pairs()
        .filter(|(k, _)| k != "iss")
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    url.query_pairs_mut().clear().extend_pairs(kept);
    let err = client
        .handle_callback(&session, url.as_str())
        .await
        .unwrap_err();
    assert!(matches!(err, ClientError::IssuerMissing), "{err:?}");
    assert_eq!(token_requests(), 1, "no exchange without iss");
}
