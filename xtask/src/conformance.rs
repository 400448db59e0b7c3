//! `cargo xtask conformance`: every scenario against every built-in mock CRM with the
//! reference client, or the scenarios that need no mock control against an external server.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Context as _};
use clap::Parser;
use handshake_conformance::{
    ExpectedFailures, ReferenceClient, Registration, Report, ReportFormat, Runner, Scenario,
    Secret, Target, DEFAULT_FILE_NAME,
};
use handshake_profile::Profile;

/// Run the conformance matrix: scenarios × providers, each case with its own mock.
#[derive(Debug, Parser)]
#[command(name = "cargo xtask conformance")]
struct Args {
    /// Only these providers (built-in profile ids); repeatable.
    #[arg(long = "provider", value_name = "ID")]
    providers: Vec<String>,
    /// Only these scenarios (file stems); repeatable.
    #[arg(long = "scenario", value_name = "ID")]
    scenarios: Vec<String>,
    /// Report format: pretty, json or junit.
    #[arg(long, default_value = "pretty")]
    format: ReportFormat,
    /// Write the report here instead of stdout (a pretty summary still goes to stderr).
    #[arg(long, value_name = "FILE")]
    output: Option<PathBuf>,
    /// Known deviations (default: expected-failures.toml in the scenarios directory, if present).
    #[arg(long, value_name = "FILE")]
    expected_failures: Option<PathBuf>,
    /// Directory of scenario files.
    #[arg(long, value_name = "DIR", default_value = "scenarios")]
    scenarios_dir: PathBuf,
    /// External provider mode: a profile whose paths are served by the server at --base-url.
    /// Only scenarios needing no mock control run; the rest are skipped with a reason.
    #[arg(long, value_name = "FILE", requires = "base_url")]
    profile: Option<PathBuf>,
    /// Base URL of the external server (with --profile).
    #[arg(long, value_name = "URL", requires = "profile")]
    base_url: Option<String>,
    /// Client id registered at the external server.
    #[arg(long, value_name = "ID", default_value = "handshake-client")]
    client_id: String,
    /// Client secret registered at the external server.
    #[arg(
        long,
        env = "HANDSHAKE_CLIENT_SECRET",
        hide_env_values = true,
        default_value = "handshake-secret"
    )]
    client_secret: String,
    /// Redirect URI registered at the external server.
    #[arg(
        long,
        value_name = "URL",
        default_value = "http://localhost:3000/callback"
    )]
    redirect_uri: String,
    /// Cases run at once.
    #[arg(long, default_value_t = 32)]
    jobs: usize,
}

pub(crate) fn run(args: Vec<String>) -> anyhow::Result<ExitCode> {
    let args = match Args::try_parse_from(
        std::iter::once("cargo xtask conformance".to_owned()).chain(args),
    ) {
        Ok(a) => a,
        Err(e) => {
            // --help and --version are not errors.
            let code = if e.use_stderr() { 2 } else { 0 };
            let _ = e.print();
            return Ok(ExitCode::from(code));
        }
    };
    let dir = resolve(&args.scenarios_dir);
    let mut scenarios = Scenario::load_dir(&dir)?;
    if !args.scenarios.is_empty() {
        for wanted in &args.scenarios {
            if !scenarios.iter().any(|s| &s.id == wanted) {
                let known: Vec<&str> = scenarios.iter().map(|s| s.id.as_str()).collect();
                bail!("unknown scenario {wanted:?} (known: {})", known.join(", "));
            }
        }
        scenarios.retain(|s| args.scenarios.contains(&s.id));
    }

    let targets: Vec<Target> = match (&args.profile, &args.base_url) {
        (Some(path), Some(base)) => {
            let profile = Profile::from_file(path)?;
            url::Url::parse(base).with_context(|| format!("--base-url {base:?}"))?;
            vec![Target::external(
                profile,
                base.clone(),
                Registration::new(
                    args.client_id.clone(),
                    Secret::new(args.client_secret.clone()),
                    args.redirect_uri.clone(),
                ),
            )]
        }
        _ => {
            let all = Profile::builtins();
            for wanted in &args.providers {
                if !all.iter().any(|p| &p.id == wanted) {
                    let known: Vec<&str> = all.iter().map(|p| p.id.as_str()).collect();
                    bail!(
                        "unknown provider {wanted:?} (built-ins: {})",
                        known.join(", ")
                    );
                }
            }
            all.into_iter()
                .filter(|p| args.providers.is_empty() || args.providers.contains(&p.id))
                .map(Target::mock)
                .collect()
        }
    };

    let expected = match &args.expected_failures {
        Some(path) => ExpectedFailures::from_file(path)?,
        None => {
            let default = dir.join(DEFAULT_FILE_NAME);
            if default.exists() {
                ExpectedFailures::from_file(&default)?
            } else {
                ExpectedFailures::none()
            }
        }
    };

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the tokio runtime")?;
    let report = runtime.block_on(
        Runner::new(ReferenceClient)
            .scenarios(scenarios)
            .targets(targets)
            .expected_failures(expected)
            .concurrency(args.jobs)
            .run(),
    );
    write_report(&report, args.format, args.output.as_ref())?;
    Ok(if report.is_success() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn write_report(
    report: &Report,
    format: ReportFormat,
    output: Option<&PathBuf>,
) -> anyhow::Result<()> {
    let text = report.render(format, "handshake-conformance")?;
    match output {
        Some(path) => {
            std::fs::write(path, &text).with_context(|| format!("writing {}", path.display()))?;
            // Whoever reads the file, the person at the terminal still wants the matrix.
            if format != ReportFormat::Pretty {
                eprint!("{}", report.to_pretty());
            }
            eprintln!("report written to {}", path.display());
        }
        None => print!("{text}"),
    }
    Ok(())
}

/// `cargo xtask` runs from the workspace root; a relative path given there means the same
/// from anywhere inside the workspace.
fn resolve(path: &std::path::Path) -> PathBuf {
    if path.is_absolute() || path.exists() {
        return path.to_path_buf();
    }
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    root.join(path)
}
