//! `handshake`: start a mock CRM OAuth provider for your own app, list the provider profiles,
//! or check a client app black-box.

use std::net::IpAddr;
use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::{Args, Parser, Subcommand};
use handshake_mock::{MockProvider, RegisteredClient};
use handshake_profile::{PkceMethod, Profile};

mod check;
mod providers;

#[derive(Parser)]
#[command(
    name = "handshake",
    version,
    about = "Offline OAuth 2.0 mock CRMs and conformance checks"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Start a mock CRM on 127.0.0.1 and print the settings your app needs.
    Serve(ServeArgs),
    /// Check your own client app black-box: handshake plays the user's browser and a hostile CRM.
    CheckClient(Box<check::CheckClientArgs>),
    /// List the built-in provider profiles, with where each behaviour comes from.
    Providers {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
}

/// Which provider to emulate: a built-in name or a profile file.
#[derive(Args)]
pub(crate) struct ProviderArg {
    /// Built-in provider: capsule, connectwise, agilecrm, redtail, insightly.
    #[arg(
        value_name = "PROVIDER",
        required_unless_present = "profile",
        conflicts_with = "profile"
    )]
    provider: Option<String>,
    /// A provider profile TOML file instead of a built-in provider.
    #[arg(long, value_name = "FILE")]
    pub(crate) profile: Option<PathBuf>,
}

impl ProviderArg {
    pub(crate) fn load(&self) -> Result<Profile> {
        match (&self.provider, &self.profile) {
            (_, Some(path)) => Ok(Profile::from_file(path)?),
            (Some(name), None) => Ok(Profile::load(name)?),
            (None, None) => anyhow::bail!("name a provider or pass --profile FILE"),
        }
    }
}

#[derive(Args)]
struct ServeArgs {
    #[command(flatten)]
    provider: ProviderArg,
    /// Port to listen on; 0 picks any free port.
    #[arg(long, default_value_t = 0)]
    port: u16,
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1")]
    host: IpAddr,
    /// Registered client id.
    #[arg(long, default_value = RegisteredClient::DEFAULT_ID)]
    client_id: String,
    /// Registered client secret.
    #[arg(long, default_value = RegisteredClient::DEFAULT_SECRET)]
    client_secret: String,
    /// Registered redirect URI (repeatable); matched exactly.
    #[arg(long = "redirect-uri", value_name = "URI")]
    redirect_uris: Vec<String>,
    /// Approve authorization requests without showing the consent page.
    #[arg(long)]
    auto_approve: bool,
    /// Serve HTTPS with a certificate generated at start (its PEM path is printed).
    #[arg(long)]
    tls: bool,
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("HANDSHAKE_LOG")
                .unwrap_or_else(|_| "warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Serve(args) => serve(args).await,
        Command::Providers { json } => providers::list(json),
        Command::CheckClient(args) => check::run(*args).await,
    };
    match result {
        Ok(true) => std::process::ExitCode::SUCCESS,
        Ok(false) => std::process::ExitCode::from(1),
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::from(2)
        }
    }
}

async fn serve(args: ServeArgs) -> Result<bool> {
    let profile = args.provider.load()?;
    let redirect_uris = if args.redirect_uris.is_empty() {
        vec![RegisteredClient::DEFAULT_REDIRECT_URI.to_owned()]
    } else {
        args.redirect_uris
    };
    for uri in &redirect_uris {
        let parsed = url::Url::parse(uri)
            .with_context(|| format!("--redirect-uri {uri:?} is not an absolute URL"))?;
        anyhow::ensure!(
            parsed.fragment().is_none(),
            "--redirect-uri {uri:?} must not contain a fragment (RFC 6749 §3.1.2)"
        );
    }
    let mut builder = MockProvider::builder(profile.clone())
        .host(args.host)
        .port(args.port)
        .client_id(args.client_id.clone())
        .client_secret(args.client_secret.clone())
        .auto_approve(args.auto_approve)
        .tls(args.tls);
    for uri in &redirect_uris {
        builder = builder.redirect_uri(uri.clone());
    }
    let mock = builder.start().await.with_context(|| {
        format!(
            "cannot start the {} mock on {}:{}",
            profile.id, args.host, args.port
        )
    })?;

    let flow = if profile.oauth_documented() {
        "vendor-documented OAuth flow".to_owned()
    } else {
        format!(
            "{} OAuth flow, not documented by the vendor",
            profile.oauth.origin.provenance
        )
    };
    println!(
        "handshake: {} mock ({}; {flow}) ready at {}",
        profile.id,
        profile.name,
        mock.uri()
    );
    if let Some(pem) = mock.ca_cert_pem() {
        let path = std::env::temp_dir().join(format!(
            "handshake-{}-{}.pem",
            profile.id,
            mock.addr().port()
        ));
        std::fs::write(&path, pem).with_context(|| format!("cannot write {}", path.display()))?;
        println!(
            "# TLS certificate (trust it in your app, e.g. NODE_EXTRA_CA_CERTS): {}",
            path.display()
        );
        println!("NODE_EXTRA_CA_CERTS={}", path.display());
    }
    println!(
        "# .env for your app (handshake serve {} --help for options)",
        profile.id
    );
    for (key, value) in env_lines(
        &mock,
        &profile,
        &args.client_id,
        &args.client_secret,
        &redirect_uris[0],
    ) {
        println!("{key}={value}");
    }
    println!(
        "# control API: {}/__handshake/metadata, journal, faults, expire, revoke, reset, healthz",
        mock.uri()
    );
    println!("# press Ctrl-C to stop");

    tokio::signal::ctrl_c()
        .await
        .context("cannot wait for Ctrl-C")?;
    Ok(true)
}

/// The `.env` lines a Node/Express (or any) app needs to talk to the mock.
fn env_lines(
    mock: &MockProvider,
    profile: &Profile,
    client_id: &str,
    client_secret: &str,
    redirect_uri: &str,
) -> Vec<(&'static str, String)> {
    let pkce = match profile.pkce.best_method() {
        Some(PkceMethod::S256) => "S256",
        Some(PkceMethod::Plain) => "plain",
        None => "none",
    };
    let encoding = match profile.token_request.preferred_encoding() {
        handshake_profile::TokenEncoding::Form => "form",
        handshake_profile::TokenEncoding::Json => "json",
    };
    vec![
        ("OAUTH_CLIENT_ID", client_id.to_owned()),
        ("OAUTH_CLIENT_SECRET", client_secret.to_owned()),
        ("OAUTH_REDIRECT_URI", redirect_uri.to_owned()),
        ("OAUTH_AUTHORIZE_URL", mock.authorize_url()),
        ("OAUTH_TOKEN_URL", mock.token_url()),
        ("OAUTH_REVOKE_URL", mock.revoke_url().unwrap_or_default()),
        (
            "OAUTH_SCOPES",
            format!("\"{}\"", profile.scopes.join(&profile.scopes.default)),
        ),
        (
            "OAUTH_TOKEN_AUTH_METHOD",
            profile
                .token_request
                .preferred_client_auth()
                .as_str()
                .to_owned(),
        ),
        ("OAUTH_TOKEN_ENCODING", encoding.to_owned()),
        ("OAUTH_PKCE_METHOD", pkce.to_owned()),
        ("CRM_API_URL", mock.api_url()),
    ]
}
