//! `handshake explore`: random OAuth lives of a client against hostile mocks, every property
//! checked after every step; a violation is shrunk and written out as a scenario file.

use std::path::PathBuf;

use anyhow::{bail, Context as _, Result};
use clap::Args;
use handshake_conformance::broken::{Broken, Flaw};
use handshake_conformance::explore::{Explorer, DEFAULT_CASES};
use handshake_conformance::{ClientFactory, ReferenceClient, ReportFormat, Target};
use handshake_profile::Profile;

/// Explore a client: random sequences of logins, callbacks, API calls, refreshes, logouts
/// and mock faults, with every property checked after every step.
#[derive(Debug, Args)]
pub(crate) struct ExploreArgs {
    /// The client to explore: `reference` (handshake's own), or one of the deliberately
    /// broken ones, to see what a finding looks like: no-state-check, no-pkce,
    /// refresh-loop, reuse-rotated-refresh, parallel-refresh.
    #[arg(long, default_value = "reference", value_name = "NAME")]
    client: String,
    /// Sequences per provider.
    #[arg(long, default_value_t = DEFAULT_CASES, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    cases: u32,
    /// Seed of the draw: the same seed draws the same sequences (default: a random one,
    /// printed with the report).
    #[arg(long, value_name = "S")]
    seed: Option<u64>,
    /// Only these providers (built-in profile ids); repeatable.
    #[arg(long = "provider", value_name = "ID")]
    providers: Vec<String>,
    /// Longest sequence drawn, in steps.
    #[arg(long, default_value_t = handshake_conformance::explore::DEFAULT_MAX_STEPS as u32, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=64))]
    max_steps: u32,
    /// Report format: pretty, json, junit, or html (one self-contained page with a
    /// sequence diagram of every failure and warning).
    #[arg(long, default_value = "pretty")]
    format: ReportFormat,
    /// Write the report here instead of stdout (a pretty summary still goes to stderr).
    #[arg(long, value_name = "FILE")]
    output: Option<PathBuf>,
    /// Where each finding's scenario file is written.
    #[arg(long, value_name = "DIR", default_value = "explore-findings")]
    out_dir: PathBuf,
    /// Sequences in flight at once.
    #[arg(long, default_value_t = 16, value_name = "N")]
    jobs: usize,
}

fn factory(name: &str) -> Result<Box<dyn ClientFactory>> {
    if name == "reference" {
        return Ok(Box::new(ReferenceClient));
    }
    match name.parse::<Flaw>() {
        Ok(flaw) => Ok(Box::new(Broken(flaw))),
        Err(e) => bail!("--client {name:?}: {e}, or reference"),
    }
}

pub(crate) async fn run(args: ExploreArgs) -> Result<bool> {
    if let Some(path) = &args.output {
        crate::check_output(path)?;
    }
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
    let targets: Vec<Target> = all
        .into_iter()
        .filter(|p| args.providers.is_empty() || args.providers.contains(&p.id))
        .map(Target::mock)
        .collect();
    let mut explorer = Explorer::shared(factory(&args.client)?.into())
        .targets(targets)
        .cases(args.cases)
        .max_steps(args.max_steps as usize)
        .concurrency(args.jobs)
        .out_dir(&args.out_dir);
    if let Some(seed) = args.seed {
        explorer = explorer.seed(seed);
    }
    let report = explorer.run().await?;
    let text = report.render(args.format, "handshake-explore")?;
    match &args.output {
        Some(path) => {
            std::fs::write(path, &text).with_context(|| format!("writing {}", path.display()))?;
            if args.format != ReportFormat::Pretty {
                eprint!("{}", report.to_pretty());
            }
            eprintln!("report written to {}", path.display());
        }
        None => crate::print_stdout(&text)?,
    }
    let again = format!(
        "handshake explore --client {} --cases {} --seed {}{}",
        args.client,
        args.cases,
        report.seed,
        args.providers
            .iter()
            .map(|p| format!(" --provider {p}"))
            .collect::<String>()
    );
    eprintln!(
        "{} sequences ({} steps) in {:.1}s; seed {} (rerun: {again})",
        report.sequences(),
        report.steps(),
        report.duration.as_secs_f64(),
        report.seed
    );
    Ok(report.is_success())
}
