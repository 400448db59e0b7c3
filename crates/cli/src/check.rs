//! `handshake check-client`: black-box conformance of a client app in any language.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, Result};
use clap::Args;
use handshake_conformance::{check_client, ClientCheckConfig, ReportFormat};
use handshake_mock::RegisteredClient;

/// Arguments of `handshake check-client`.
#[derive(Args)]
pub(crate) struct CheckClientArgs {
    /// Built-in provider the app is configured for.
    #[arg(
        long = "provider",
        value_name = "PROVIDER",
        required_unless_present = "profile",
        conflicts_with = "profile"
    )]
    provider: Option<String>,
    /// A provider profile TOML file instead of a built-in provider.
    #[arg(long, value_name = "FILE")]
    profile: Option<PathBuf>,
    /// Port the mock CRM listens on: the one in your app's .env (from `handshake serve --port`).
    #[arg(long, value_name = "PORT", value_parser = clap::value_parser!(u16).range(1..))]
    mock_port: u16,
    /// Your app's route that starts the login (redirects to the CRM's authorize URL).
    #[arg(long, value_name = "URL", value_parser = http_url)]
    login_url: url::Url,
    /// Your app's route that calls the CRM API with the stored token (enables the expiry,
    /// revocation and rate-limit checks).
    #[arg(long, value_name = "URL", value_parser = http_url)]
    api_url: Option<url::Url>,
    /// Your app's logout route (enables the revocation-on-logout check).
    #[arg(long, value_name = "URL", value_parser = http_url)]
    logout_url: Option<url::Url>,
    /// Your app's route that returns every record of the CRM's list resource as JSON (an
    /// array, or an object holding one; enables the paging-complete check).
    #[arg(long, value_name = "URL", value_parser = http_url)]
    list_url: Option<url::Url>,
    /// Client id your app is configured with.
    #[arg(long, default_value = RegisteredClient::DEFAULT_ID)]
    client_id: String,
    /// Client secret your app is configured with.
    #[arg(long, env = "HANDSHAKE_CLIENT_SECRET", hide_env_values = true, default_value = RegisteredClient::DEFAULT_SECRET)]
    client_secret: String,
    /// Redirect URI your app is configured with.
    #[arg(long, default_value = RegisteredClient::DEFAULT_REDIRECT_URI)]
    redirect_uri: String,
    /// How long to wait for each answer of your app, in seconds.
    #[arg(long, default_value_t = 5)]
    timeout_secs: u64,
    /// Report format: pretty, json or junit.
    #[arg(long, default_value = "pretty")]
    format: ReportFormat,
    /// Write the report to this file instead of standard output.
    #[arg(long, value_name = "FILE")]
    output: Option<PathBuf>,
}

/// An absolute `http`/`https` URL: `localhost:3000/login` parses as a URL with scheme
/// `localhost`, which is never what the user meant.
fn http_url(value: &str) -> Result<url::Url, String> {
    let url = url::Url::parse(value).map_err(|e| format!("not an absolute URL ({e})"))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(format!(
            "must be an http:// or https:// URL, like http://localhost:3000/login (got {value:?})"
        ));
    }
    Ok(url)
}

/// Runs the checks; `Ok(false)` when a check failed.
pub(crate) async fn run(args: CheckClientArgs) -> Result<bool> {
    let profile = crate::ProviderArg {
        provider: args.provider,
        profile: args.profile,
    }
    .load()?;
    let mut cfg = ClientCheckConfig::new(profile, args.mock_port, args.login_url);
    cfg.api_url = args.api_url;
    cfg.logout_url = args.logout_url;
    cfg.list_url = args.list_url;
    cfg.client_id = args.client_id;
    cfg.client_secret = args.client_secret;
    cfg.redirect_uri = args.redirect_uri;
    cfg.timeout = Duration::from_secs(args.timeout_secs.max(1));
    let report = check_client(cfg).await?;
    let text = report.render(args.format, "handshake-check-client")?;
    match &args.output {
        Some(path) => {
            std::fs::write(path, &text)
                .with_context(|| format!("cannot write {}", path.display()))?;
            let s = &report.summary;
            eprintln!(
                "check-client: {} passed, {} failed, {} warnings, {} skipped (report: {})",
                s.passed,
                s.failed,
                s.warnings,
                s.skipped,
                path.display()
            );
        }
        None => crate::print_stdout(&text)?,
    }
    Ok(report.is_success())
}
