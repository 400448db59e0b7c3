//! `handshake`: start a mock CRM OAuth provider for your own app, list the provider profiles,
//! or check a client app black-box.

use std::net::IpAddr;
use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::{Args, Parser, Subcommand};
use handshake_mock::{MockProvider, NativeCredentials, RegisteredClient};
use handshake_profile::Profile;
use log::{EnvLine, LogFormat};

// The mock allocates a few dozen small objects per request, and glibc's malloc/free were a
// quarter of its instructions under callgrind (README, "Benchmarks"); mimalloc is the
// well-kept allocator built for that pattern.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

mod check;
mod conformance;
mod explore;
mod log;
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
    Serve(Box<ServeArgs>),
    /// Check your own client app black-box: handshake plays the user's browser and a hostile CRM.
    CheckClient(Box<check::CheckClientArgs>),
    /// Run the conformance scenarios against every mock CRM, or against your own
    /// authorization server (`--profile FILE --base-url URL`).
    Conformance(Box<conformance::ConformanceArgs>),
    /// Property-test a client: random OAuth lives against hostile mocks, every property
    /// checked after every step, a violation shrunk to a scenario file.
    Explore(Box<explore::ExploreArgs>),
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
    /// Address to listen on: an IP address, or a name that resolves to loopback (localhost).
    #[arg(long, default_value = "127.0.0.1", value_parser = listen_host)]
    host: IpAddr,
    /// Registered client id.
    #[arg(long, default_value = RegisteredClient::DEFAULT_ID)]
    client_id: String,
    /// Registered client secret (or HANDSHAKE_CLIENT_SECRET, which keeps it out of `ps`).
    #[arg(long, env = "HANDSHAKE_CLIENT_SECRET", hide_env_values = true, default_value = RegisteredClient::DEFAULT_SECRET)]
    client_secret: String,
    /// Registered redirect URI (repeatable); matched exactly.
    #[arg(long = "redirect-uri", value_name = "URI")]
    redirect_uris: Vec<String>,
    /// Approve authorization requests without showing the consent page.
    #[arg(long)]
    auto_approve: bool,
    /// Add `iss` to every authorization response (RFC 9207), as the profile's
    /// `oauth.iss_parameter = true` does.
    #[arg(long)]
    iss_parameter: bool,
    /// Serve HTTPS, with a certificate signed by a CA kept in --tls-dir (its PEM path is
    /// printed: trust it once, it stays the same across restarts).
    #[arg(long)]
    tls: bool,
    /// Where --tls keeps its CA (ca.pem, ca-key.pem); default: $XDG_CACHE_HOME/handshake/tls,
    /// else ~/.cache/handshake/tls.
    #[arg(long, value_name = "DIR", requires = "tls")]
    tls_dir: Option<PathBuf>,
    /// How the request log is printed: text (coloured on a terminal unless NO_COLOR is set)
    /// or json (one JSON object per line, the first `{"event":"ready",...}` with the URL and
    /// the .env values).
    #[arg(long, value_enum, default_value = "text", value_name = "FORMAT")]
    log_format: log::LogFormat,
    /// Print no request log (the ready lines still are).
    #[arg(long, short = 'q')]
    quiet: bool,
    #[command(flatten)]
    native: NativeArgs,
    /// Seed of the generated data set the API serves: the same seed gives the same records.
    #[arg(long, default_value_t = MockProvider::DEFAULT_SEED)]
    seed: u64,
    /// Allow N API requests per rate-limit window (per OAuth grant and for the native
    /// credentials) instead of the profile's limit, e.g. to make 429s easy to reach.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    rate_limit: Option<u32>,
    /// Length of the rate-limit window in seconds, with --rate-limit (default: the
    /// profile's window).
    #[arg(long, value_name = "SECS", requires = "rate_limit", value_parser = clap::value_parser!(u64).range(1..))]
    rate_window: Option<u64>,
}

/// Credentials of the CRM's native scheme; only those the chosen provider uses matter.
/// Secrets are better given through the environment than on the command line, where `ps`
/// shows them. One flag per field of `handshake_mock::NativeCredentials::SETTINGS` (name,
/// environment variable, default and help are the mock's).
struct NativeArgs(NativeCredentials);

impl NativeArgs {
    fn credentials(&self) -> NativeCredentials {
        self.0.clone()
    }
}

impl clap::FromArgMatches for NativeArgs {
    fn from_arg_matches(matches: &clap::ArgMatches) -> Result<Self, clap::Error> {
        let mut creds = NativeCredentials::default();
        for s in NativeCredentials::SETTINGS {
            if let Some(v) = matches.get_one::<String>(s.name) {
                creds = creds
                    .with_field(s.name, v.as_str())
                    .unwrap_or_else(|| unreachable!("every setting names a field"));
            }
        }
        Ok(NativeArgs(creds))
    }

    fn update_from_arg_matches(&mut self, matches: &clap::ArgMatches) -> Result<(), clap::Error> {
        *self = Self::from_arg_matches(matches)?;
        Ok(())
    }
}

impl clap::Args for NativeArgs {
    fn augment_args(mut cmd: clap::Command) -> clap::Command {
        for s in NativeCredentials::SETTINGS {
            cmd = cmd.arg(
                clap::Arg::new(s.name)
                    .long(s.flag)
                    // `API_KEY` for `HANDSHAKE_API_KEY`, as a derived flag would name it.
                    .value_name(s.env.strip_prefix("HANDSHAKE_").unwrap_or(s.env))
                    .value_parser(clap::value_parser!(String))
                    .action(clap::ArgAction::Set)
                    .env(s.env)
                    .hide_env_values(s.secret())
                    .default_value(s.default)
                    .help(s.help),
            );
        }
        cmd
    }

    fn augment_args_for_update(cmd: clap::Command) -> clap::Command {
        Self::augment_args(cmd)
    }
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    // The conformance scenarios provoke the reference client's warnings on purpose (forged
    // state, denied consent); they are the report's business, not the terminal's.
    let default_filter = match cli.command {
        Command::Conformance(_) | Command::Explore(_) => "error",
        _ => "warn",
    };
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("HANDSHAKE_LOG")
                .unwrap_or_else(|_| default_filter.into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let result = match cli.command {
        Command::Serve(args) => serve(*args).await,
        Command::Providers { json } => providers::list(json),
        Command::CheckClient(args) => check::run(*args).await,
        Command::Conformance(args) => conformance::run(*args).await,
        Command::Explore(args) => explore::run(*args).await,
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

/// `--host`: an IP address, or a host name that resolves to loopback (`localhost`), which
/// then listens on the first loopback address it resolves to.
fn listen_host(value: &str) -> Result<IpAddr, String> {
    if let Ok(ip) = value.parse::<IpAddr>() {
        return Ok(ip);
    }
    let addrs: Vec<IpAddr> = std::net::ToSocketAddrs::to_socket_addrs(&(value, 0))
        .map_err(|e| {
            format!("{value:?} is neither an IP address nor a host name that resolves ({e})")
        })?
        .map(|a| a.ip())
        .collect();
    // Prefer IPv4: `localhost` URLs in apps most often mean 127.0.0.1.
    addrs
        .iter()
        .copied()
        .filter(IpAddr::is_loopback)
        .min_by_key(|a| !a.is_ipv4())
        .ok_or_else(|| {
            format!(
                "{value:?} resolves to {}, not to a loopback address: give an IP address to listen elsewhere",
                addrs.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ")
            )
        })
}

/// Fails early, before a run of minutes, when `--output` cannot be written: a directory, a
/// missing directory, or no permission. An existing file is left as it is; a new one is
/// created and removed again.
pub(crate) fn check_output(path: &std::path::Path) -> Result<()> {
    let shown = path.display();
    if path.is_dir() {
        anyhow::bail!("--output {shown}: is a directory; give a file name");
    }
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => std::path::Path::new("."),
    };
    if !parent.is_dir() {
        anyhow::bail!(
            "--output {shown}: the directory {} does not exist",
            parent.display()
        );
    }
    if path.exists() {
        std::fs::OpenOptions::new()
            .append(true)
            .open(path)
            .with_context(|| format!("--output {shown}: cannot write it"))?;
    } else {
        std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(path)
            .with_context(|| format!("--output {shown}: cannot create it"))?;
        let _ = std::fs::remove_file(path);
    }
    Ok(())
}

/// Prints to stdout; a reader that went away (`handshake providers --json | head -1`) ends
/// the output quietly instead of a panic.
pub(crate) fn print_stdout(text: &str) -> Result<()> {
    use std::io::Write as _;
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(e).context("writing to stdout"),
        _ => Ok(()),
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
        .tls(args.tls)
        .native_credentials(args.native.credentials())
        .seed(args.seed);
    if args.tls {
        let dir = match &args.tls_dir {
            Some(dir) => dir.clone(),
            None => default_tls_dir(),
        };
        builder = builder.tls_dir(dir);
    }
    if args.iss_parameter {
        builder = builder.iss_parameter(true);
    }
    if let Some(limit) = args.rate_limit {
        let window = args
            .rate_window
            .or(profile
                .rate_limit
                .limit
                .map(|_| profile.rate_limit.window_secs))
            .unwrap_or(60);
        builder = builder.rate_limit(limit, std::time::Duration::from_secs(window));
    }
    for uri in &redirect_uris {
        builder = builder.redirect_uri(uri.clone());
    }
    let mock = builder.start().await.with_context(|| {
        format!(
            "cannot start the {} mock on {}:{}",
            profile.id, args.host, args.port
        )
    })?;

    // Subscribed before the ready lines: every request after them is logged.
    let live = (!args.quiet).then(|| mock.subscribe());
    let flow = if profile.oauth_documented() {
        "vendor-documented OAuth flow".to_owned()
    } else {
        format!(
            "{} OAuth flow, not documented by the vendor",
            profile.oauth.origin.provenance
        )
    };
    let mut lines = Vec::new();
    if let Some(path) = mock.ca_cert_path() {
        let dir = path.parent().unwrap_or(path);
        lines.push(EnvLine::Comment(format!(
            "TLS: the mock's CA, kept in {} so it stays the same across restarts (--tls-dir); trust it in your app:",
            dir.display()
        )));
        lines.push(EnvLine::var(
            "NODE_EXTRA_CA_CERTS",
            path.display().to_string(),
        ));
    }
    lines.push(EnvLine::Comment(format!(
        ".env for your app (handshake serve {} --help for options)",
        profile.id
    )));
    // The OAuth part of what check-client gives an app it starts: one list, one order.
    for (key, value) in handshake_conformance::app_env(&mock)
        .into_iter()
        .take_while(|(k, _)| k.starts_with("OAUTH_") || k == "CRM_API_URL")
    {
        lines.push(EnvLine::var(key, value));
    }
    lines.extend(native_lines(&mock));
    let base = mock.uri();
    lines.push(EnvLine::Comment(format!(
        "control API: {base}/__handshake/metadata, native, journal, faults, expire, revoke, reset, clock, healthz"
    )));
    lines.push(EnvLine::Comment(format!(
        "live page: {base}/__handshake/ (every request and refusal as it happens, with control buttons)"
    )));
    if !args.quiet {
        lines.push(EnvLine::Comment(
            "request log below, one line per request (--quiet: none; --log-format json: JSON lines)"
                .to_owned(),
        ));
    }
    lines.push(EnvLine::Comment("press Ctrl-C to stop".to_owned()));
    match args.log_format {
        LogFormat::Text => print_stdout(&log::text_header(
            &format!(
                "handshake: {} mock ({}; {flow}) ready at {base}",
                profile.id, profile.name
            ),
            &lines,
        ))?,
        LogFormat::Json => print_stdout(&format!("{}\n", log::ready_line(&mock, &lines)))?,
    }
    if let Some(live) = live {
        log::start(live, args.log_format)?;
    }

    tokio::signal::ctrl_c()
        .await
        .context("cannot wait for Ctrl-C")?;
    Ok(true)
}

/// Where `--tls` keeps its CA without `--tls-dir`: the user's cache directory
/// (`$XDG_CACHE_HOME`, else `~/.cache`), `handshake/tls` in it.
pub(crate) fn default_tls_dir() -> PathBuf {
    let absolute = |v: std::ffi::OsString| Some(PathBuf::from(v)).filter(|p| p.is_absolute());
    let cache = std::env::var_os("XDG_CACHE_HOME")
        .and_then(absolute)
        .or_else(|| {
            std::env::var_os("HOME")
                .and_then(absolute)
                .map(|h| h.join(".cache"))
        })
        .unwrap_or_else(std::env::temp_dir);
    cache.join("handshake").join("tls")
}

/// The CRM's native scheme as `.env` lines (`CRM_AUTH_SCHEME`, then each credential it uses),
/// after a comment saying where the scheme comes from and how the data and limits are set.
fn native_lines(mock: &MockProvider) -> Vec<EnvLine> {
    let profile = mock.profile();
    let meta = mock.metadata();
    let mut lines = Vec::new();
    let limit = match (
        &meta["rate_limit"]["limit"],
        &meta["rate_limit"]["window_secs"],
    ) {
        (serde_json::Value::Number(l), serde_json::Value::Number(w)) => {
            format!("{l} requests per {w} s")
        }
        _ => "none".to_owned(),
    };
    lines.push(EnvLine::Comment(format!(
        "API data: {} records (seed {}); rate limit: {limit}",
        mock.dataset().len(),
        mock.seed()
    )));
    let Some(native) = &profile.native_auth else {
        return lines;
    };
    lines.push(EnvLine::Comment(format!(
        "{}'s own scheme (provenance: {}), beside OAuth on CRM_API_URL: {}",
        profile.name,
        native.origin.provenance,
        meta["native_auth"]["authorization"]
            .as_str()
            .unwrap_or_default()
    )));
    lines.push(EnvLine::var("CRM_AUTH_SCHEME", native.scheme.as_str()));
    if let Some(url) = mock.exchange_url() {
        lines.push(EnvLine::var("CRM_AUTHENTICATION_URL", url));
    }
    for (field, value) in mock.native_credentials().fields_for(native.scheme) {
        lines.push(EnvLine::var(
            format!("CRM_{}", field.to_ascii_uppercase()),
            value,
        ));
    }
    if let Some(header) = &native.client_id_header {
        lines.push(EnvLine::var("CRM_CLIENT_ID_HEADER", header.clone()));
    }
    lines
}
