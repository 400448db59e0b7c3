//! `handshake explore`: a stateful property test of a client's whole OAuth life.
//!
//! The scenarios are hand-written paths; clients break on orders nobody wrote down. The
//! [`Explorer`] draws random sequences over the scenario vocabulary — logins, callbacks
//! (honest, forged, replayed, without `state`, `error=…`), API calls alone and several in
//! parallel, refreshes, logouts, and the mock turning hostile in between: expired tokens, a
//! revoked grant, a clock jump, faults on any endpoint (OAuth errors, 5xx, delays, dropped
//! connections, the CRM's own 429). Every step is played by the scenario runner's own step
//! executor against a fresh mock, and after every step each [`Property`] is checked from
//! the mock's journal and the client's outcome.
//!
//! A violation is shrunk (proptest-state-machine's shrinking: steps deleted, then each
//! step simplified, as long as the same property still fails) and written out as a
//! scenario file whose `title` and `rfc` name the property and its clause. That file
//! replays through `handshake conformance --scenarios-dir DIR --scenario ID`: before it is
//! reported, the runner replays it, and it must fail for the explored client and pass for
//! the reference client.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use handshake_conformance::broken::{Broken, Flaw};
//! use handshake_conformance::explore::Explorer;
//! use handshake_conformance::Target;
//! use handshake_profile::Profile;
//!
//! let report = Explorer::new(Broken(Flaw::NoStateCheck))
//!     .targets([Target::mock(Profile::builtin("capsule")?)])
//!     .cases(256)
//!     .seed(42)
//!     .out_dir("explore-findings")
//!     .run()
//!     .await?;
//! let finding = report.findings().next().expect("no state check is found");
//! assert_eq!(finding.property.id(), "callback-state");
//! println!("{}", report.to_pretty());
//! # Ok(()) }
//! ```
//!
//! # Why not `prop_state_machine!`
//!
//! Sequences are drawn and shrunk by proptest-state-machine's [`Sequential`] strategy
//! (the proptest authors' state-machine support), but not run by its `StateMachineTest`
//! runner: that runner plays one case at a time on the calling thread and reports a failure
//! by panicking, while each case here is an async conversation with its own mock, many
//! cases must be in flight at once to explore thousands of sequences in seconds, and a
//! failure is a value (a property, a clause, a scenario file). So the explorer drives the
//! value trees itself: each case's tree comes from its own seeded RNG (the same seed gives
//! the same sequences, on any machine, at any concurrency), cases run concurrently, and the
//! first failing case in order is shrunk with `simplify`/`complicate`, as proptest's own
//! runner would.
//!
//! [`Sequential`]: proptest_state_machine::Sequential

mod check;
mod model;
mod play;
mod property;
mod write;

pub(crate) use self::write::describe as describe_action;

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::StreamExt as _;
use proptest::strategy::{Strategy as _, ValueTree as _};
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
use sha2::Digest as _;

pub use property::{Property, UnknownProperty};
pub use write::Verification;

use self::model::{sequences, SequenceStrategy, Vocabulary};
use self::play::{play, Run};
use crate::control::JournalLine;
use crate::cut::ClientFactory;
use crate::error::ScenarioError;
use crate::report::{CaseReport, Failure, Report, ReportFormat, Status};
use crate::scenario::{Action, Scenario};
use crate::target::Target;
use crate::trace::{Blame, StepView, Trace};
use crate::ReportError;

/// Sequences explored per provider unless told otherwise.
pub const DEFAULT_CASES: u32 = 256;

/// The longest sequence drawn, in steps, unless told otherwise.
pub const DEFAULT_MAX_STEPS: usize = 16;

/// Runs of a candidate sequence while shrinking, at most.
const MAX_SHRINK_RUNS: u32 = 300;

/// Wall time spent shrinking one finding, at most.
const SHRINK_BUDGET: Duration = Duration::from_secs(30);

/// Why an exploration could not run.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ExploreError {
    /// There was no provider to explore.
    #[error("no provider to explore")]
    NoTargets,
    /// The target is an external server: explore needs a mock's faults, clock and journal.
    #[error("{provider}: explore needs a handshake mock (faults, clock, journal); an external server has none")]
    External {
        /// The provider.
        provider: String,
    },
    /// A case could not be set up (the mock or the client did not start).
    #[error("{provider}: {reason}")]
    Setup {
        /// The provider.
        provider: String,
        /// Why.
        reason: String,
    },
    /// A finding's scenario file could not be written.
    #[error("cannot write {}: {source}", path.display())]
    Write {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The runner's HTTP client could not be built.
    #[error("cannot build an HTTP client")]
    Http(#[source] reqwest::Error),
    /// A written scenario does not parse (a bug in explore: please report it).
    #[error("the scenario written for a finding does not parse")]
    Scenario(#[source] ScenarioError),
}

/// Explores clients made by one factory against mock providers.
///
/// Defaults: [`DEFAULT_CASES`] sequences per provider, up to [`DEFAULT_MAX_STEPS`] steps
/// each, a random seed (see [`ExploreReport::seed`]), 16 sequences in flight, nothing
/// written to disk.
pub struct Explorer {
    factory: Arc<dyn ClientFactory>,
    targets: Vec<Target>,
    cases: u32,
    seed: Option<u64>,
    max_steps: usize,
    jobs: usize,
    out_dir: Option<PathBuf>,
    verify_runs: u32,
}

impl Explorer {
    /// An explorer of the clients `factory` makes (one per sequence).
    pub fn new(factory: impl ClientFactory + 'static) -> Self {
        Self::shared(Arc::new(factory))
    }

    /// The same, for a factory already shared.
    pub fn shared(factory: Arc<dyn ClientFactory>) -> Self {
        Explorer {
            factory,
            targets: Vec::new(),
            cases: DEFAULT_CASES,
            seed: None,
            max_steps: DEFAULT_MAX_STEPS,
            jobs: 16,
            out_dir: None,
            verify_runs: 3,
        }
    }

    /// Adds providers to explore (mocks: [`Target::mock`]).
    pub fn targets(mut self, targets: impl IntoIterator<Item = Target>) -> Self {
        self.targets.extend(targets);
        self
    }

    /// Sequences per provider (at least 1).
    pub fn cases(mut self, n: u32) -> Self {
        self.cases = n.max(1);
        self
    }

    /// The seed: the same seed draws the same sequences.
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = Some(seed);
        self
    }

    /// The longest sequence drawn, in steps (at least 1).
    pub fn max_steps(mut self, n: usize) -> Self {
        self.max_steps = n.max(1);
        self
    }

    /// How many sequences are in flight at once, over all providers (at least 1).
    pub fn concurrency(mut self, n: usize) -> Self {
        self.jobs = n.max(1);
        self
    }

    /// Writes each finding's scenario file into this directory (created if missing).
    pub fn out_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.out_dir = Some(dir.into());
        self
    }

    /// How many times a written scenario is replayed per client to check that it is a
    /// reproduction (default 3; 0 skips the check).
    pub fn verify_runs(mut self, n: u32) -> Self {
        self.verify_runs = n;
        self
    }

    /// Explores every provider (concurrently) and returns what was found: at most one
    /// finding per provider, the first failing sequence in draw order, shrunk.
    pub async fn run(&self) -> Result<ExploreReport, ExploreError> {
        if self.targets.is_empty() {
            return Err(ExploreError::NoTargets);
        }
        if let Some(t) = self.targets.iter().find(|t| !t.is_controllable()) {
            return Err(ExploreError::External {
                provider: t.id().to_owned(),
            });
        }
        let started = Instant::now();
        let seed = self.seed.unwrap_or_else(rand::random);
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(5))
            .no_proxy()
            .build()
            .map_err(ExploreError::Http)?;
        let permits = Arc::new(tokio::sync::Semaphore::new(self.jobs));
        let runs = self
            .targets
            .iter()
            .map(|t| self.explore(Arc::new(t.clone()), seed, &http, &permits));
        let providers = futures::future::try_join_all(runs).await?;
        Ok(ExploreReport {
            client: self.factory.name().to_owned(),
            seed,
            cases: self.cases,
            providers,
            duration: started.elapsed(),
        })
    }

    async fn explore(
        &self,
        target: Arc<Target>,
        seed: u64,
        http: &reqwest::Client,
        permits: &Arc<tokio::sync::Semaphore>,
    ) -> Result<ProviderReport, ExploreError> {
        let started = Instant::now();
        let provider = target.id().to_owned();
        let vocabulary = Vocabulary::of(target.profile());
        let strategy = sequences(vocabulary, self.max_steps);
        let setup = |reason: String| ExploreError::Setup {
            provider: provider.clone(),
            reason,
        };
        // Cases run in any order, `jobs` at a time; the finding is the first failing case in
        // draw order, so no case before it may be left unplayed, and none after it is
        // started once it is known.
        let mut in_flight = futures::stream::FuturesUnordered::new();
        let mut next = 0u32;
        // (case, steps played) of every case played.
        let mut completed: Vec<(u32, usize)> = Vec::new();
        let mut failing: Option<(u32, Vec<Action>, Run)> = None;
        loop {
            while in_flight.len() < self.jobs
                && next < self.cases
                && failing.as_ref().is_none_or(|(f, _, _)| next < *f)
            {
                let case = next;
                next += 1;
                let actions = case_actions(&strategy, seed, &provider, case);
                let (target, factory, http) =
                    (Arc::clone(&target), Arc::clone(&self.factory), http.clone());
                let permits = Arc::clone(permits);
                in_flight.push(AbortOnDrop(tokio::spawn(async move {
                    let _permit = permits.acquire_owned().await;
                    let run = play(&target, factory.as_ref(), &http, &actions, None).await;
                    (case, actions, run)
                })));
            }
            let Some(joined) = in_flight.next().await else {
                break;
            };
            let (case, actions, run) =
                joined.map_err(|e| setup(format!("a case panicked: {e}")))?;
            let run = run.map_err(setup)?;
            if failing.as_ref().is_some_and(|(f, _, _)| case > *f) {
                continue;
            }
            completed.push((case, run.steps.len()));
            if run.violation.is_some() {
                failing = Some((case, actions, run));
            }
        }
        drop(in_flight);
        let last = failing.as_ref().map_or(u32::MAX, |(f, _, _)| *f);
        let counted = completed.iter().filter(|(c, _)| *c <= last);
        let sequences = counted.clone().count() as u32;
        let steps = counted.map(|(_, n)| *n as u64).sum();
        let finding = match failing {
            None => None,
            Some((case, actions, run)) => Some(
                self.shrink_and_write(&target, seed, case, actions, run, http)
                    .await?,
            ),
        };
        let skipped = Property::ALL
            .iter()
            .filter_map(|p| p.skip_reason(target.profile()).map(|r| (*p, r)))
            .collect();
        Ok(ProviderReport {
            provider,
            sequences,
            steps,
            finding,
            skipped,
            duration: started.elapsed(),
        })
    }

    async fn shrink_and_write(
        &self,
        target: &Arc<Target>,
        seed: u64,
        case: u32,
        actions: Vec<Action>,
        run: Run,
        http: &reqwest::Client,
    ) -> Result<Finding, ExploreError> {
        let provider = target.id().to_owned();
        let original_len = actions.len();
        let handle = tokio::runtime::Handle::current();
        let (t, f, h, max_steps) = (
            Arc::clone(target),
            Arc::clone(&self.factory),
            http.clone(),
            self.max_steps,
        );
        // The value tree is not `Send`: shrink on a blocking thread, playing each
        // candidate on the runtime.
        let shrunk = tokio::task::spawn_blocking(move || {
            shrink(
                &handle,
                &t,
                f.as_ref(),
                &h,
                seed,
                case,
                max_steps,
                actions,
                run,
            )
        })
        .await
        .map_err(|e| ExploreError::Setup {
            provider: provider.clone(),
            reason: format!("shrinking panicked: {e}"),
        })?;
        let Shrunk {
            actions,
            run,
            runs: shrink_runs,
        } = shrunk;
        let (index, violation) = run
            .violation
            .clone()
            .expect("a shrunk run keeps its violation");
        let steps: Vec<FindingStep> = run
            .steps
            .iter()
            .map(|s| FindingStep {
                action: write::describe(&s.action),
                outcome: s.outcome.clone(),
                detail: s.detail.clone(),
                calls: s.calls.clone(),
            })
            .collect();
        let journal = run.steps[index].entries.iter().map(render_line).collect();
        let views: Vec<StepView<'_>> = run
            .steps
            .iter()
            .enumerate()
            .map(|(i, s)| StepView {
                index: i + 1,
                action: &s.action,
                outcome: Some(match &s.detail {
                    Some(d) => format!("{} ({d})", s.outcome),
                    None => s.outcome.clone(),
                }),
                entries: &s.entries,
                hits: &[],
            })
            .collect();
        let blame = Blame::from_text(&violation.detail);
        let trace = crate::trace::of_steps(&views, Some((index + 1, &blame)));
        let scenario = self
            .write_scenario(
                target,
                &violation.property,
                index,
                &actions,
                run,
                http,
                seed,
                case,
                original_len,
            )
            .await?;
        Ok(Finding {
            property: violation.property,
            provider,
            case: case + 1,
            original_len,
            shrink_runs,
            steps,
            step: index + 1,
            detail: violation.detail,
            journal,
            trace,
            scenario,
        })
    }

    #[allow(clippy::too_many_arguments)]
    async fn write_scenario(
        &self,
        target: &Arc<Target>,
        property: &Property,
        index: usize,
        actions: &[Action],
        failing: Run,
        http: &reqwest::Client,
        seed: u64,
        case: u32,
        original_len: usize,
    ) -> Result<Option<WrittenScenario>, ExploreError> {
        let property = *property;
        let with_reference = self.factory.name() != crate::ReferenceClient.name();
        let replays = self.verify_runs.max(1);
        // More plays of the shrunk sequence, by both clients, to write down every outcome
        // each step can have.
        let again = (1..replays).map(|_| play(target, self.factory.as_ref(), http, actions, None));
        let reference = (0..if with_reference { replays } else { 0 })
            .map(|_| play(target, &crate::ReferenceClient, http, actions, None));
        let (again, reference) = futures::join!(
            futures::future::join_all(again),
            futures::future::join_all(reference)
        );
        let mut flawed = vec![failing];
        flawed.extend(again.into_iter().filter_map(Result::ok));
        let reference: Vec<Run> = reference.into_iter().filter_map(Result::ok).collect();
        let steps = write::encode(
            property,
            index,
            actions,
            &flawed,
            &reference,
            target.profile(),
        );
        let id = format!("explore-{}-{}", property.id(), target.id());
        let dir_shown = self
            .out_dir
            .as_deref()
            .map_or_else(|| "DIR".to_owned(), |d| d.display().to_string());
        let replay = format!(
            "handshake conformance --scenarios-dir {dir_shown} --scenario {id} --provider {}",
            target.id()
        );
        let header = format!(
            "Found by handshake explore: client {}, provider {}, seed {seed}, sequence {} of {};\n\
             shrunk from {original_len} steps to {}. Property `{}`: {}.\n\
             Replay: {replay}",
            self.factory.name(),
            target.id(),
            case + 1,
            self.cases,
            actions.len(),
            property.id(),
            property.statement(),
        );
        let title = format!(
            "{} (property {}, found by handshake explore)",
            property.statement(),
            property.id()
        );
        let text = write::scenario_text(
            &title,
            property.clause(),
            write::requirements(property),
            &steps,
            &header,
        )
        .map_err(|reason| ExploreError::Setup {
            provider: target.id().to_owned(),
            reason,
        })?;
        let scenario = Scenario::from_toml_str(&text, &format!("{id}.toml"))
            .map_err(ExploreError::Scenario)?;
        let path = match &self.out_dir {
            Some(dir) => {
                let path = dir.join(format!("{id}.toml"));
                std::fs::create_dir_all(dir)
                    .and_then(|()| std::fs::write(&path, &text))
                    .map_err(|source| ExploreError::Write {
                        path: path.clone(),
                        source,
                    })?;
                Some(path)
            }
            None => None,
        };
        let verification = if self.verify_runs == 0 {
            None
        } else {
            Some(
                write::verify(
                    &scenario,
                    target,
                    Arc::clone(&self.factory),
                    with_reference,
                    self.verify_runs,
                )
                .await,
            )
        };
        Ok(Some(WrittenScenario {
            id,
            path,
            text,
            replay,
            verification,
        }))
    }
}

/// A spawned case that is stopped when nobody waits for it any more.
struct AbortOnDrop<T>(tokio::task::JoinHandle<T>);

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

impl<T> std::future::Future for AbortOnDrop<T> {
    type Output = Result<T, tokio::task::JoinError>;

    fn poll(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Self::Output> {
        std::pin::Pin::new(&mut self.0).poll(cx)
    }
}

/// Each case draws from its own RNG, seeded from the run's seed, the provider and the
/// case's index: the same sequences whatever the concurrency, and case `i` is the same
/// whatever `--cases` says.
fn case_runner(seed: u64, provider: &str, case: u32) -> TestRunner {
    let mut h = sha2::Sha256::new();
    h.update(seed.to_le_bytes());
    h.update(provider.as_bytes());
    h.update(case.to_le_bytes());
    let bytes: [u8; 32] = h.finalize().into();
    TestRunner::new_with_rng(
        Config::default(),
        TestRng::from_seed(RngAlgorithm::ChaCha, &bytes),
    )
}

fn case_actions(strategy: &SequenceStrategy, seed: u64, provider: &str, case: u32) -> Vec<Action> {
    let mut runner = case_runner(seed, provider, case);
    match strategy.new_tree(&mut runner) {
        Ok(tree) => tree.current().1,
        // The model's transitions always meet their preconditions: nothing is rejected.
        Err(_) => Vec::new(),
    }
}

struct Shrunk {
    actions: Vec<Action>,
    run: Run,
    runs: u32,
}

/// Shrinks a failing case: proptest's loop over the case's value tree (simplify while the
/// candidate still violates the same property, complicate when it does not).
#[allow(clippy::too_many_arguments)]
fn shrink(
    handle: &tokio::runtime::Handle,
    target: &Target,
    factory: &dyn ClientFactory,
    http: &reqwest::Client,
    seed: u64,
    case: u32,
    max_steps: usize,
    actions: Vec<Action>,
    run: Run,
) -> Shrunk {
    let property = run.violation.as_ref().map(|(_, v)| v.property);
    let mut best = Shrunk {
        actions,
        run,
        runs: 0,
    };
    let strategy = sequences(Vocabulary::of(target.profile()), max_steps);
    let mut runner = case_runner(seed, target.id(), case);
    let Ok(mut tree) = strategy.new_tree(&mut runner) else {
        return best;
    };
    let (_, drawn, seen) = tree.current();
    if drawn != best.actions {
        return best;
    }
    // Steps after the violation were never played: the first simplification drops them.
    if let Some(seen) = seen {
        seen.store(best.run.steps.len(), Ordering::SeqCst);
    }
    let started = Instant::now();
    if !tree.simplify() {
        return best;
    }
    while best.runs < MAX_SHRINK_RUNS && started.elapsed() < SHRINK_BUDGET {
        let (_, candidate, _) = tree.current();
        // Parallel calls race: a candidate with them gets a few tries before it counts as
        // passing, or a race lost once would stop the shrinking.
        let tries = if candidate
            .iter()
            .any(|a| matches!(a, Action::ParallelApiCalls { .. }))
        {
            3
        } else {
            1
        };
        let mut failed = None;
        for _ in 0..tries {
            best.runs += 1;
            let counted = AtomicUsize::new(0);
            let outcome = handle.block_on(play(target, factory, http, &candidate, Some(&counted)));
            if let Ok(r) = outcome {
                if r.violation.as_ref().map(|(_, v)| v.property) == property {
                    failed = Some(r);
                    break;
                }
            }
        }
        if let Some(r) = failed {
            best.actions = candidate;
            best.run = r;
            if !tree.simplify() {
                break;
            }
        } else if !tree.complicate() {
            break;
        }
    }
    // Only the steps up to the violation matter.
    if let Some((i, _)) = &best.run.violation {
        best.actions.truncate(i + 1);
    }
    best
}

/// A journal line as a finding shows it: the runner's line, plus the tags of the codes
/// and tokens presented (never their values).
fn render_line(e: &JournalLine) -> String {
    let mut s = e.render();
    let tags: Vec<String> = e
        .tags
        .iter()
        .filter(|(k, _)| k != "code_challenge")
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    if !tags.is_empty() {
        let _ = write!(s, " ({})", tags.join(" "));
    }
    if let Some(err) = &e.error {
        let _ = write!(s, " error={err}");
    }
    s
}

/// What an exploration found.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ExploreReport {
    /// The client explored (its factory's name).
    pub client: String,
    /// The seed the sequences were drawn from: rerun with it to draw them again.
    pub seed: u64,
    /// Sequences per provider asked for.
    pub cases: u32,
    /// One entry per provider, in the order given.
    pub providers: Vec<ProviderReport>,
    /// Wall time of the whole exploration.
    pub duration: Duration,
}

/// One provider's exploration.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ProviderReport {
    /// The provider (profile id).
    pub provider: String,
    /// Sequences played (the failing one included).
    pub sequences: u32,
    /// Steps played in those sequences.
    pub steps: u64,
    /// The first violation found, shrunk.
    pub finding: Option<Finding>,
    /// Properties this provider cannot show, with the reason.
    pub skipped: Vec<(Property, String)>,
    /// Wall time, shrinking and verification included.
    pub duration: Duration,
}

/// A property violated by a sequence, shrunk.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Finding {
    /// The property violated.
    pub property: Property,
    /// The provider.
    pub provider: String,
    /// Which sequence (1-based, in draw order) failed first.
    pub case: u32,
    /// Its length before shrinking.
    pub original_len: usize,
    /// Candidate sequences played while shrinking.
    pub shrink_runs: u32,
    /// The shrunk sequence as it played.
    pub steps: Vec<FindingStep>,
    /// The violating step (1-based).
    pub step: usize,
    /// What happened at that step.
    pub detail: String,
    /// What crossed the wire during that step (secrets redacted, tokens as tags).
    pub journal: Vec<String>,
    /// The shrunk sequence as it played, step by step: the report's sequence diagram.
    pub trace: Trace,
    /// The scenario file that reproduces it.
    pub scenario: Option<WrittenScenario>,
}

/// One step of a finding's sequence.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct FindingStep {
    /// The step as a scenario file writes it (`callback tamper = "forge_state"`).
    pub action: String,
    /// Its outcome.
    pub outcome: String,
    /// What the client said about it (never a secret).
    pub detail: Option<String>,
    /// For several API calls in parallel, each call's outcome.
    pub calls: Vec<String>,
}

/// The scenario file written for a finding.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct WrittenScenario {
    /// The scenario id (file stem): `explore-<property>-<provider>`.
    pub id: String,
    /// Where it was written, when an output directory was set.
    pub path: Option<PathBuf>,
    /// The file's text.
    pub text: String,
    /// The command that replays it.
    pub replay: String,
    /// How replays through the runner went.
    pub verification: Option<Verification>,
}

impl ExploreReport {
    /// Every finding, provider by provider.
    pub fn findings(&self) -> impl Iterator<Item = &Finding> {
        self.providers.iter().filter_map(|p| p.finding.as_ref())
    }

    /// No property was violated.
    pub fn is_success(&self) -> bool {
        self.findings().next().is_none()
    }

    /// Sequences played in all.
    pub fn sequences(&self) -> u64 {
        self.providers.iter().map(|p| u64::from(p.sequences)).sum()
    }

    /// Steps played in all.
    pub fn steps(&self) -> u64 {
        self.providers.iter().map(|p| p.steps).sum()
    }

    /// The exploration as a conformance [`Report`]: one case per property and provider
    /// (passed: held in every sequence played; failed: the finding; skipped: the provider
    /// cannot show it), with each finding's sequence and scenario file in the notes. The
    /// runner's formats follow (pretty, JSON, JUnit).
    pub fn to_report(&self) -> Report {
        let mut cases = Vec::new();
        for &p in Property::ALL {
            for pr in &self.providers {
                let base = CaseReport::new(
                    &pr.provider,
                    p.id(),
                    p.statement(),
                    p.clause(),
                    Status::Passed,
                )
                .with_duration(pr.duration);
                let case = if let Some((_, why)) = pr.skipped.iter().find(|(q, _)| *q == p) {
                    base.with_status(Status::Skipped).with_reason(why.clone())
                } else {
                    match &pr.finding {
                        Some(f) if f.property == p => {
                            let action = f
                                .steps
                                .get(f.step - 1)
                                .map(|s| s.action.split(' ').next().unwrap_or("").to_owned())
                                .unwrap_or_default();
                            base.with_failure(
                                Failure::at_step(f.step, action, p.statement(), &f.detail)
                                    .with_journal(f.journal.clone()),
                            )
                            .with_fix(p.fix())
                            .with_trace(f.trace.clone())
                        }
                        _ => base,
                    }
                };
                cases.push(case);
            }
        }
        let mut report = Report::new(cases);
        let n = self.sequences();
        report.notes.push(format!(
            "explored {n} sequence{} ({} per provider asked, up to the first finding) of client {}, seed {}: the same seed draws the same sequences",
            if n == 1 { "" } else { "s" },
            self.cases,
            self.client,
            self.seed
        ));
        for f in self.findings() {
            report.notes.push(finding_note(f, self.seed));
        }
        report.duration_ms = u64::try_from(self.duration.as_millis()).unwrap_or(u64::MAX);
        report
    }

    /// The report for people: the property × provider matrix, each finding with its shrunk
    /// sequence, scenario file and replay command.
    pub fn to_pretty(&self) -> String {
        self.to_report().to_pretty()
    }

    /// The report in one of the runner's formats.
    pub fn render(&self, format: ReportFormat, suite: &str) -> Result<String, ReportError> {
        self.to_report().render(format, suite)
    }
}

fn finding_note(f: &Finding, seed: u64) -> String {
    let mut s = format!(
        "{}: {} ({}) violated by sequence {} (seed {seed}), shrunk from {} steps to {} in {} runs:",
        f.provider,
        f.property.id(),
        f.property.clause(),
        f.case,
        f.original_len,
        f.steps.len(),
        f.shrink_runs,
    );
    for (i, step) in f.steps.iter().enumerate() {
        let _ = write!(s, "\n    {}. {} -> {}", i + 1, step.action, step.outcome);
        if !step.calls.is_empty() {
            let _ = write!(s, " ({})", step.calls.join(", "));
        }
        if i + 1 == f.step {
            let _ = write!(s, "   ✗ {}", f.detail);
        }
    }
    if let Some(w) = &f.scenario {
        let at = w
            .path
            .as_deref()
            .map_or_else(|| format!("{}.toml (not written)", w.id), show);
        let _ = write!(s, "\n  scenario: {at}");
        if let Some(v) = &w.verification {
            let _ = write!(
                s,
                "\n  replayed through the runner: failed for this client {}/{}",
                v.failed_for_client, v.runs
            );
            if let Some(p) = v.passed_for_reference {
                let _ = write!(s, ", passed for the reference client {p}/{}", v.runs);
            }
            if let Some(r) = &v.client_reason {
                let _ = write!(s, "\n    ({r})");
            }
            if let Some(r) = &v.reference_reason {
                let _ = write!(s, "\n  the reference client failed a replay: {r}");
            }
            if !v.is_reproduction() {
                s.push_str("\n  not a reproduction: the scenario format cannot state this evidence (which token a request presented), or a race did not play out the same way again; the file is a starting point");
            }
        }
        let _ = write!(s, "\n  replay: {}", w.replay);
    }
    s
}

fn show(p: &Path) -> String {
    p.display().to_string()
}
