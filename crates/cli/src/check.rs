//! `handshake check-client`: black-box conformance of a client app in any language.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, Result};
use clap::Args;
use handshake_conformance::{
    check_client, AppCommand, ClientCheckConfig, ExpectedFailures, ReportFormat,
};
use handshake_mock::RegisteredClient;

/// Arguments of `handshake check-client`.
#[derive(Args)]
pub(crate) struct CheckClientArgs {
    /// Built-in provider the app is configured for (with --mock-url: optional, the running
    /// mock says which; if given, it must be the mock's).
    #[arg(
        long = "provider",
        value_name = "PROVIDER",
        required_unless_present_any = ["profile", "mock_url"],
        conflicts_with = "profile"
    )]
    provider: Option<String>,
    /// A provider profile TOML file instead of a built-in provider.
    #[arg(long, value_name = "FILE")]
    profile: Option<PathBuf>,
    /// Port the mock CRM listens on: the one in your app's .env (from `handshake serve
    /// --port`). With --app-cmd it is optional: the app gets the mock's URLs in its
    /// environment, so any free port does.
    #[arg(long, value_name = "PORT", value_parser = clap::value_parser!(u16).range(1..), required_unless_present_any = ["app_cmd", "mock_url"])]
    mock_port: Option<u16>,
    /// Use the `handshake serve` mock already running at this URL (its control API,
    /// /__handshake/*) instead of starting one: the provider, client id and redirect URI
    /// are the mock's. It is not reset; only requests after the run starts are judged.
    #[arg(long, value_name = "URL", value_parser = http_url, conflicts_with_all = ["mock_port", "client_id", "redirect_uri"])]
    mock_url: Option<url::Url>,
    /// Start the app yourself: check-client runs this shell command with the mock's settings
    /// in its environment (the names `handshake serve` prints, e.g. OAUTH_TOKEN_URL), waits
    /// until it listens on the login URL's port, restarts it when a request kills it, and
    /// stops it (its whole process group) at the end.
    #[arg(long, value_name = "COMMAND")]
    app_cmd: Option<String>,
    /// Working directory for --app-cmd.
    #[arg(long, value_name = "DIR", requires = "app_cmd")]
    app_dir: Option<PathBuf>,
    /// An extra environment variable for --app-cmd, e.g. your app's own name for a setting:
    /// `--app-env CAPSULE_CLIENT_ID=handshake-client` (repeatable).
    #[arg(long = "app-env", value_name = "NAME=VALUE", requires = "app_cmd", value_parser = name_value)]
    app_env: Vec<(String, String)>,
    /// Known deviations to accept: a TOML file of `[[expected_failure]]` entries (provider,
    /// scenario = the check id, why), as for `handshake conformance`.
    #[arg(long, value_name = "FILE")]
    expected_failures: Option<PathBuf>,
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
    /// Client secret your app is configured with (with --mock-url: the one the mock was
    /// started with; it is not served).
    #[arg(long, env = "HANDSHAKE_CLIENT_SECRET", hide_env_values = true, default_value = RegisteredClient::DEFAULT_SECRET)]
    client_secret: String,
    /// Redirect URI your app is configured with (default: the login URL's origin +
    /// /callback with --app-cmd, else http://localhost:3000/callback).
    #[arg(long)]
    redirect_uri: Option<String>,
    /// How long each answer of your app may take, in seconds; a request left without an
    /// answer longer fails app-survives.
    #[arg(long = "app-timeout", alias = "timeout-secs", value_name = "SECS", default_value_t = 5, value_parser = clap::value_parser!(u64).range(1..=300))]
    app_timeout: u64,
    /// Serve the mock over HTTPS, with the CA `handshake serve --tls` keeps (in --tls-dir);
    /// an app started with --app-cmd gets its file as NODE_EXTRA_CA_CERTS, SSL_CERT_FILE
    /// and REQUESTS_CA_BUNDLE.
    #[arg(long, conflicts_with = "mock_url")]
    tls: bool,
    /// Where --tls keeps its CA (default: as `handshake serve --tls`, in the user's cache
    /// directory).
    #[arg(long, value_name = "DIR", requires = "tls")]
    tls_dir: Option<PathBuf>,
    /// Report format: pretty, json, junit, or html (one self-contained page with a
    /// sequence diagram of every failure and warning).
    #[arg(long, default_value = "pretty")]
    format: ReportFormat,
    /// Write the report to this file instead of standard output.
    #[arg(long, value_name = "FILE")]
    output: Option<PathBuf>,
}

fn name_value(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((name, value)) if !name.is_empty() && !name.contains(char::is_whitespace) => {
            Ok((name.to_owned(), value.to_owned()))
        }
        _ => Err("expected NAME=VALUE, e.g. CAPSULE_CLIENT_ID=handshake-client".to_owned()),
    }
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
    if let Some(path) = &args.output {
        crate::check_output(path)?;
    }
    let profile = match (&args.provider, &args.profile) {
        (None, None) => None,
        _ => Some(
            crate::ProviderArg {
                provider: args.provider,
                profile: args.profile,
            }
            .load()?,
        ),
    };
    let expected = match &args.expected_failures {
        Some(path) => Some(ExpectedFailures::from_file(path)?),
        None => None,
    };
    let redirect_uri = match (&args.redirect_uri, &args.app_cmd) {
        (Some(r), _) => r.clone(),
        (None, Some(_)) => format!("{}/callback", args.login_url.origin().ascii_serialization()),
        (None, None) => RegisteredClient::DEFAULT_REDIRECT_URI.to_owned(),
    };
    let mut cfg = match (args.mock_url, profile) {
        (Some(url), profile) => {
            let mut cfg = ClientCheckConfig::remote(url, args.login_url);
            cfg.profile = profile;
            cfg
        }
        (None, Some(profile)) => {
            ClientCheckConfig::new(profile, args.mock_port.unwrap_or(0), args.login_url)
        }
        (None, None) => anyhow::bail!("name a provider (--provider NAME) or pass --profile FILE"),
    };
    if let Some(cmd) = &args.app_cmd {
        let mut app = AppCommand::new(cmd.clone());
        if let Some(dir) = &args.app_dir {
            anyhow::ensure!(dir.is_dir(), "--app-dir {}: not a directory", dir.display());
            app = app.dir(dir.clone());
        }
        for (k, v) in &args.app_env {
            app = app.env(k.clone(), v.clone());
        }
        cfg.app = Some(app);
    }
    cfg.api_url = args.api_url;
    cfg.logout_url = args.logout_url;
    cfg.list_url = args.list_url;
    cfg.client_id = args.client_id;
    cfg.client_secret = args.client_secret;
    cfg.redirect_uri = redirect_uri;
    cfg.timeout = Duration::from_secs(args.app_timeout);
    cfg.tls = args.tls;
    if args.tls {
        cfg.tls_dir = Some(args.tls_dir.unwrap_or_else(crate::default_tls_dir));
    }
    let mut report = check_client(cfg).await?;
    if let Some(expected) = &expected {
        expected.apply(&mut report);
    }
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
