//! The whole authorization-code flow against a mock CRM, nothing else to set up:
//!
//! ```text
//! cargo run -p handshake-client --example full_flow            # Capsule CRM
//! cargo run -p handshake-client --example full_flow -- redtail # or any built-in profile
//! ```
//!
//! authorize → the browser's visit to the authorization URL (redirect not followed) →
//! callback → code exchange → API call → refresh → logout. No secret is printed.

use std::error::Error;

use handshake_client::{ClientConfig, ClientSecret, OAuthClient, SessionId};
use handshake_mock::MockProvider;
use handshake_profile::Profile;

#[tokio::main]
async fn main() -> Result<(), Box<dyn Error>> {
    let id = std::env::args().nth(1).unwrap_or_else(|| "capsule".into());
    let profile = Profile::load(&id)?;

    let mock = MockProvider::builder(profile.clone())
        .auto_approve(true)
        .start()
        .await?;
    println!("1. mock {} listening at {}", profile.name, mock.uri());

    let registered = mock.client();
    let config = ClientConfig::new(
        mock.uri(),
        registered.client_id.clone(),
        ClientSecret::new(registered.client_secret.secret().to_owned()),
        registered.redirect_uris[0].clone(),
    );
    let client = OAuthClient::new(&profile, config)?;
    let session = SessionId::new("demo-session");

    let request = client.authorize(&session);
    println!(
        "2. authorization request: {}{} (PKCE: {})",
        request.url.origin().ascii_serialization(),
        request.url.path(),
        request
            .pkce_method
            .map_or("not supported by provider", |m| m.as_str())
    );

    // Play the user's browser: visit the URL, read the redirect, do not follow it.
    let browser = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()?;
    let resp = browser.get(request.url.clone()).send().await?;
    let callback = resp
        .headers()
        .get("location")
        .ok_or_else(|| format!("authorize answered {} without a redirect", resp.status()))?
        .to_str()?
        .to_owned();
    println!(
        "3. provider redirected back ({}) to the callback",
        resp.status()
    );

    let tokens = client.handle_callback(&session, &callback).await?;
    println!(
        "4. code exchanged: token_type={}, expires_in≈{}s, refresh token: {}, extra fields: {:?}",
        tokens.token_type,
        tokens
            .expires_at
            .and_then(|t| t.duration_since(std::time::SystemTime::now()).ok())
            .map_or(0, |d| d.as_secs()),
        tokens.refresh_token.is_some(),
        tokens.extra.keys().collect::<Vec<_>>()
    );

    let api = client.api_get(&session, &profile.api.path).await?;
    println!(
        "5. GET {} → {} ({} bytes)",
        profile.api.path,
        api.status,
        api.body.len()
    );

    if profile.tokens.refresh_tokens {
        let refreshed = client.refresh(&session).await?;
        println!(
            "6. refreshed: new access token issued, refresh token {}",
            if profile.tokens.rotation == handshake_profile::Rotation::Off {
                "kept"
            } else {
                "rotated"
            }
        );
        let api = client.api_get(&session, &profile.api.path).await?;
        println!(
            "   GET {} with the new token → {}",
            profile.api.path, api.status
        );
        drop(refreshed);
    }

    let report = client.logout(&session).await?;
    println!(
        "7. logged out: refresh token {:?}, access token {:?}; local tokens deleted: {}",
        report.refresh_token,
        report.access_token,
        client.connection(&session)?.is_none()
    );
    Ok(())
}
