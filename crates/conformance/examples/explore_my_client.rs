//! Plugging your own Rust client into `handshake explore`.
//!
//! Implement [`ClientUnderTest`] over your client (one method per user action: start a
//! login, receive the callback, call the API, refresh, log out) and [`ClientFactory`] to make
//! one per sequence, then hand the factory to an [`Explorer`]. Every property is checked after
//! every step; a violation comes back shrunk, with a scenario file that replays it through
//! `handshake conformance --scenarios-dir DIR --scenario ID`.
//!
//! Here "your client" is a small app session over `handshake_client::OAuthClient`; swap in
//! your own type. Run it (a release build is several times faster):
//!
//! ```sh
//! cargo run --release -p handshake-conformance --example explore_my_client -- capsule 200
//! ```

use futures::future::BoxFuture;
use handshake_client::{ClientConfig, ClientSecret, OAuthClient, SessionId};
use handshake_conformance::explore::Explorer;
use handshake_conformance::{
    reference_failure, ApiReply, ClientFactory, ClientFailure, ClientSettings, ClientUnderTest,
    Target,
};
use handshake_profile::Profile;

/// Your app's OAuth session: in a real app, one per logged-in user.
struct MyAppSession {
    oauth: OAuthClient,
    user: SessionId,
    api_path: String,
}

impl ClientUnderTest for MyAppSession {
    fn authorize(&self) -> BoxFuture<'_, Result<String, ClientFailure>> {
        // Your login route: build the authorization URL (state and PKCE kept server-side).
        Box::pin(async move { Ok(self.oauth.authorize(&self.user).url.to_string()) })
    }

    fn callback(&self, url: String) -> BoxFuture<'_, Result<(), ClientFailure>> {
        // Your callback route: validate `state` before redeeming the code.
        Box::pin(async move {
            self.oauth
                .handle_callback(&self.user, &url)
                .await
                .map(|_| ())
                // Errors become outcome names (`state_mismatch`, `invalid_grant`, ...); map
                // your own error type to the same names (see `ClientFailure`).
                .map_err(|e| reference_failure(&e))
        })
    }

    fn api_get(&self) -> BoxFuture<'_, Result<ApiReply, ClientFailure>> {
        Box::pin(async move {
            self.oauth
                .api_get(&self.user, &self.api_path)
                .await
                .map(|r| ApiReply::new(r.status))
                .map_err(|e| reference_failure(&e))
        })
    }

    fn refresh(&self) -> BoxFuture<'_, Result<(), ClientFailure>> {
        Box::pin(async move {
            self.oauth
                .refresh(&self.user)
                .await
                .map(|_| ())
                .map_err(|e| reference_failure(&e))
        })
    }

    fn logout(&self) -> BoxFuture<'_, Result<(), ClientFailure>> {
        Box::pin(async move {
            self.oauth
                .logout(&self.user)
                .await
                .map(|_| ())
                .map_err(|e| reference_failure(&e))
        })
    }
}

/// Makes a fresh session, configured for the mock of each sequence.
struct MyApp;

impl ClientFactory for MyApp {
    fn name(&self) -> &str {
        "my-app"
    }

    fn create(
        &self,
        profile: &Profile,
        settings: &ClientSettings,
    ) -> Result<Box<dyn ClientUnderTest>, ClientFailure> {
        let config = ClientConfig::new(
            settings.base_url.clone(),
            settings.client_id.clone(),
            ClientSecret::new(settings.client_secret.expose().to_owned()),
            settings.redirect_uri.clone(),
        )
        .with_scopes(settings.scopes.clone());
        let oauth = OAuthClient::new(profile, config)
            .map_err(|e| reference_failure(&e))?
            // Keep 429 back-off short: the mock's limits are seconds, the run is thousands
            // of sequences.
            .with_max_retry_wait(std::time::Duration::from_millis(50));
        Ok(Box::new(MyAppSession {
            oauth,
            user: SessionId::new("alice"),
            api_path: profile.api.path.clone(),
        }))
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let provider = args.next().unwrap_or_else(|| "capsule".to_owned());
    let cases: u32 = args.next().map_or(Ok(64), |n| n.parse())?;
    let report = Explorer::new(MyApp)
        .targets([Target::mock(Profile::builtin(&provider)?)])
        .cases(cases)
        .out_dir("explore-findings")
        .run()
        .await?;
    print!("{}", report.to_pretty());
    if !report.is_success() {
        std::process::exit(1);
    }
    Ok(())
}
