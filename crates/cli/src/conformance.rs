//! `handshake conformance`: every scenario against every built-in mock CRM with the reference
//! client, or against an external authorization server (provider mode).

use std::path::PathBuf;

use anyhow::{bail, Context as _, Result};
use clap::Args;
use handshake_conformance::{
    ExpectedFailures, Partition, ReferenceClient, Registration, Report, ReportFormat, Runner,
    Scenario, Secret, Target, DEFAULT_FILE_NAME,
};
use handshake_profile::Profile;

/// Run the conformance matrix: scenarios × providers, each case with its own mock.
#[derive(Debug, Args)]
pub(crate) struct ConformanceArgs {
    /// Only these providers (built-in profile ids); repeatable.
    #[arg(long = "provider", value_name = "ID")]
    providers: Vec<String>,
    /// Only these scenarios (file stems); repeatable.
    #[arg(long = "scenario", value_name = "ID")]
    scenarios: Vec<String>,
    /// Report format: pretty, json, junit, or html (one self-contained page with a
    /// sequence diagram of every failure and warning).
    #[arg(long, default_value = "pretty")]
    format: ReportFormat,
    /// Write the report here instead of stdout (a pretty summary still goes to stderr).
    #[arg(long, value_name = "FILE")]
    output: Option<PathBuf>,
    /// Known deviations (default: expected-failures.toml in --scenarios-dir, else the
    /// built-in one).
    #[arg(long, value_name = "FILE")]
    expected_failures: Option<PathBuf>,
    /// A directory of scenario files, added to the built-in scenarios; a file named like a
    /// built-in (`happy-path.toml`) replaces it.
    #[arg(long, value_name = "DIR")]
    scenarios_dir: Option<PathBuf>,
    /// A profile file. With --base-url, provider mode: the server there serves its paths, and
    /// scenarios that need mock control are skipped with the reason. Without, the matrix runs
    /// against a mock built from it (a CRM added as a profile alone).
    #[arg(long, value_name = "FILE")]
    profile: Option<PathBuf>,
    /// Base URL of the external server (with --profile).
    #[arg(long, value_name = "URL", requires = "profile")]
    base_url: Option<String>,
    /// Client id registered at the external server.
    #[arg(long, value_name = "ID", default_value = "handshake-client")]
    client_id: String,
    /// Client secret registered at the external server (or HANDSHAKE_CLIENT_SECRET, which
    /// keeps it out of `ps`).
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
    /// A value the browser types into the external server's login or consent forms, e.g.
    /// `--form-field login=alice` (repeatable; over the profile's `[browser] form_fields`).
    #[arg(long = "form-field", value_name = "NAME=VALUE", value_parser = parse_form_field)]
    form_fields: Vec<(String, String)>,
    /// Cases run at once.
    #[arg(long, default_value_t = 32)]
    jobs: usize,
    /// Run only share K of N of the matrix, for one of N CI jobs (e.g. `--partition 2/3`):
    /// cases are dealt round-robin in plan order, skipped ones included, so the N reports
    /// together hold every case exactly once.
    #[arg(long, value_name = "K/N", value_parser = parse_partition)]
    partition: Option<Partition>,
}

fn parse_partition(s: &str) -> Result<Partition, String> {
    s.parse::<Partition>().map_err(|e| e.reason)
}

fn parse_form_field(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((name, value)) if !name.is_empty() => Ok((name.to_owned(), value.to_owned())),
        _ => Err("expected NAME=VALUE (a form field's name, `=`, the value to type)".to_owned()),
    }
}

pub(crate) async fn run(args: ConformanceArgs) -> Result<bool> {
    if let Some(path) = &args.output {
        crate::check_output(path)?;
    }
    let mut scenarios = match &args.scenarios_dir {
        Some(dir) => Scenario::builtins_and_dir(dir)?,
        None => Scenario::builtins(),
    };
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
            if !args.providers.is_empty() {
                bail!("--provider picks built-in mocks; with --profile and --base-url the profile is the provider");
            }
            let profile = Profile::from_file(path)?;
            let parsed = url::Url::parse(base).with_context(|| format!("--base-url {base:?}"))?;
            if !matches!(parsed.scheme(), "http" | "https") {
                bail!("--base-url {base:?}: must be an http or https URL");
            }
            let target = Target::external(
                profile,
                base.clone(),
                Registration::new(
                    args.client_id.clone(),
                    Secret::new(args.client_secret.clone()),
                    args.redirect_uri.clone(),
                ),
            );
            vec![args
                .form_fields
                .iter()
                .fold(target, |t, (k, v)| t.with_form_field(k, v))]
        }
        (Some(path), None) => {
            // A CRM added as a profile file alone: its mock, beside any --provider built-ins.
            let mut targets = vec![Target::mock(Profile::from_file(path)?)];
            let all = Profile::builtins();
            for wanted in &args.providers {
                match all.iter().find(|p| &p.id == wanted) {
                    Some(p) => targets.push(Target::mock(p.clone())),
                    None => bail!("unknown provider {wanted:?}"),
                }
            }
            targets
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

    let expected = match (&args.expected_failures, &args.scenarios_dir) {
        (Some(path), _) => ExpectedFailures::from_file(path)?,
        (None, Some(dir)) if dir.join(DEFAULT_FILE_NAME).exists() => {
            ExpectedFailures::from_file(dir.join(DEFAULT_FILE_NAME))?
        }
        (None, _) => ExpectedFailures::builtin(),
    };

    let report = Runner::new(ReferenceClient)
        .scenarios(scenarios)
        .targets(targets)
        .expected_failures(expected)
        .concurrency(args.jobs)
        .partition(args.partition.unwrap_or_default())
        .run()
        .await;
    write_report(&report, args.format, args.output.as_ref())?;
    Ok(report.is_success())
}

fn write_report(report: &Report, format: ReportFormat, output: Option<&PathBuf>) -> Result<()> {
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
        None => crate::print_stdout(&text)?,
    }
    Ok(())
}
