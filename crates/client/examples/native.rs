//! Lists every record of a CRM's API resource with the CRM's native scheme, against any
//! server that speaks it (`handshake serve`, or the real CRM):
//!
//! ```text
//! HANDSHAKE_API_KEY=... cargo run -p handshake-client --example native -- insightly http://127.0.0.1:4010
//! HANDSHAKE_EMAIL=... HANDSHAKE_API_KEY=... cargo run -p handshake-client --example native -- agilecrm <base-url>
//! HANDSHAKE_API_KEY=... HANDSHAKE_USERNAME=... HANDSHAKE_PASSWORD=... cargo run ... -- redtail <base-url>
//! HANDSHAKE_COMPANY_ID=... HANDSHAKE_PUBLIC_KEY=... HANDSHAKE_PRIVATE_KEY=... HANDSHAKE_INTEGRATION_CLIENT_ID=... \
//!     cargo run ... -- connectwise <base-url>
//! HANDSHAKE_PERSONAL_ACCESS_TOKEN=... cargo run ... -- capsule <base-url>
//! ```
//!
//! Credentials come from the environment (never the command line, where `ps` shows them)
//! and are never printed.

use std::error::Error;

use handshake_client::{ListOptions, NativeClient, NativeCredentials};
use handshake_profile::{NativeScheme, Profile};

fn env(name: &str) -> Result<String, Box<dyn Error>> {
    std::env::var(name).map_err(|_| format!("set {name}").into())
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn Error>> {
    let mut args = std::env::args().skip(1);
    let (Some(id), Some(base_url)) = (args.next(), args.next()) else {
        return Err(
            "usage: native <profile> <base-url> (credentials in HANDSHAKE_* variables)".into(),
        );
    };
    let profile = Profile::load(&id)?;
    let scheme = profile
        .native_auth
        .as_ref()
        .ok_or_else(|| format!("{} has no native scheme", profile.name))?
        .scheme;
    let credentials = match scheme {
        NativeScheme::BearerToken => {
            NativeCredentials::personal_access_token(env("HANDSHAKE_PERSONAL_ACCESS_TOKEN")?)
        }
        NativeScheme::BasicApiKey => NativeCredentials::api_key(env("HANDSHAKE_API_KEY")?),
        NativeScheme::HeaderApiKey => NativeCredentials::header_api_key(env("HANDSHAKE_API_KEY")?),
        NativeScheme::BasicEmailApiKey => {
            NativeCredentials::email_api_key(env("HANDSHAKE_EMAIL")?, env("HANDSHAKE_API_KEY")?)
        }
        NativeScheme::RedtailUserKey => NativeCredentials::redtail(
            env("HANDSHAKE_API_KEY")?,
            env("HANDSHAKE_USERNAME")?,
            env("HANDSHAKE_PASSWORD")?,
        ),
        NativeScheme::ConnectwiseMemberKey => NativeCredentials::connectwise(
            env("HANDSHAKE_COMPANY_ID")?,
            env("HANDSHAKE_PUBLIC_KEY")?,
            env("HANDSHAKE_PRIVATE_KEY")?,
            env("HANDSHAKE_INTEGRATION_CLIENT_ID")?,
        ),
    };
    let client = NativeClient::new(&profile, base_url, credentials)?
        .with_list_options(ListOptions::default().max_pages(500));
    println!(
        "{} via {} at {}",
        profile.name,
        scheme.as_str(),
        profile.api.path
    );

    let mut pages = client.pages(&profile.api.path)?;
    let mut total = 0;
    while let Some(page) = pages.next_page().await? {
        total += page.len();
        println!("  page {}: {} records", pages.pages_fetched(), page.len());
    }
    println!("{total} records in {} requests", pages.pages_fetched());
    Ok(())
}
