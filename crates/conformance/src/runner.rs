//! The runner: every planned case in parallel, each with its own mock, into a [`Report`].

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::StreamExt as _;

use crate::browser::{Browser, HitLog};
use crate::cut::{ClientFactory, ClientSettings};
use crate::exec::{run_steps, Env, Failed};
use crate::expected::ExpectedFailures;
use crate::partition::Partition;
use crate::plan::{plan, PlannedCase};
use crate::report::{CaseReport, Failure, Report, Status};
use crate::scenario::{Scenario, ScopeChoice};
use crate::target::Target;

/// A whole case must finish within this (each step has its own, shorter, limit).
const CASE_TIMEOUT: Duration = Duration::from_secs(20);

/// Runs scenarios against targets with a client.
///
/// ```no_run
/// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
/// use handshake_conformance::{ReferenceClient, Runner, Scenario, Target};
/// use handshake_profile::Profile;
///
/// let report = Runner::new(ReferenceClient)
///     .scenarios(Scenario::load_dir("scenarios")?)
///     .targets(Profile::builtins().into_iter().map(Target::mock))
///     .run()
///     .await;
/// println!("{}", report.to_pretty());
/// assert!(report.is_success());
/// # Ok(()) }
/// ```
pub struct Runner {
    factory: Arc<dyn ClientFactory>,
    scenarios: Vec<Arc<Scenario>>,
    targets: Vec<Arc<Target>>,
    expected: ExpectedFailures,
    concurrency: usize,
    partition: Partition,
}

impl Runner {
    /// A runner driving clients made by `factory`.
    pub fn new(factory: impl ClientFactory + 'static) -> Self {
        Runner {
            factory: Arc::new(factory),
            scenarios: Vec::new(),
            targets: Vec::new(),
            expected: ExpectedFailures::none(),
            concurrency: 32,
            partition: Partition::whole(),
        }
    }

    /// Adds scenarios.
    pub fn scenarios(mut self, scenarios: impl IntoIterator<Item = Scenario>) -> Self {
        self.scenarios.extend(scenarios.into_iter().map(Arc::new));
        self
    }

    /// Adds targets (providers).
    pub fn targets(mut self, targets: impl IntoIterator<Item = Target>) -> Self {
        self.targets.extend(targets.into_iter().map(Arc::new));
        self
    }

    /// Known deviations.
    pub fn expected_failures(mut self, expected: ExpectedFailures) -> Self {
        self.expected = expected;
        self
    }

    /// How many cases run at once (at least 1). Each case is I/O-bound on loopback.
    pub fn concurrency(mut self, n: usize) -> Self {
        self.concurrency = n.max(1);
        self
    }

    /// Runs only this share of the matrix, for one of several CI jobs (`--partition K/N`):
    /// the cases are dealt round-robin in plan order, skipped ones included, so the `N`
    /// partitions' reports together hold every case exactly once. Default: the whole matrix.
    ///
    /// ```
    /// use handshake_conformance::{Partition, ReferenceClient, Runner, Scenario, Target};
    /// use handshake_profile::Profile;
    ///
    /// let runner = |p: Partition| {
    ///     Runner::new(ReferenceClient)
    ///         .scenarios(Scenario::builtins())
    ///         .targets(Profile::builtins().into_iter().map(Target::mock))
    ///         .partition(p)
    /// };
    /// let whole = runner(Partition::whole()).plan().len();
    /// let shares: usize = (1..=3)
    ///     .map(|k| runner(Partition::new(k, 3).unwrap()).plan().len())
    ///     .sum();
    /// assert_eq!(shares, whole);
    /// ```
    pub fn partition(mut self, partition: Partition) -> Self {
        self.partition = partition;
        self
    }

    /// The planned cases of this runner's partition (every case by default), in plan order,
    /// without running them.
    pub fn plan(&self) -> Vec<PlannedCase> {
        let partition = self.partition;
        plan(&self.scenarios, &self.targets)
            .into_iter()
            .enumerate()
            .filter(|(i, _)| partition.contains(*i))
            .map(|(_, case)| case)
            .collect()
    }

    /// Runs every case of the partition and returns the report, cases in plan order.
    pub async fn run(&self) -> Report {
        let started = Instant::now();
        let cases = self.plan();
        let factory = Arc::clone(&self.factory);
        let results: Vec<CaseReport> = futures::stream::iter(cases.into_iter().map(|case| {
            let factory = Arc::clone(&factory);
            let (provider, scenario) = (case.target.id().to_owned(), Arc::clone(&case.scenario));
            // Each case on its own task: the mock's server tasks and the client's requests
            // spread over the runtime's threads.
            let handle = tokio::spawn(async move { run_case(case, factory).await });
            async move {
                handle.await.unwrap_or_else(|e| {
                    CaseReport::new(
                        provider,
                        &scenario.id,
                        &scenario.title,
                        scenario.citation(),
                        Status::Failed,
                    )
                    .with_reason(format!("the case panicked: {e}"))
                })
            }
        }))
        .buffered(self.concurrency)
        .collect()
        .await;
        let mut report = Report::new(results);
        if self.partition == Partition::whole() {
            self.expected.apply(&mut report);
        } else {
            // An entry for a case another partition runs is not stale.
            let all: Vec<(String, String)> = plan(&self.scenarios, &self.targets)
                .iter()
                .map(|c| (c.target.id().to_owned(), c.scenario.id.clone()))
                .collect();
            self.expected.apply_within(&mut report, &all);
            report.notes.insert(
                0,
                format!(
                    "partition {}: {} of the matrix's {} cases (the others run in the other partitions)",
                    self.partition,
                    report.cases.len(),
                    all.len()
                ),
            );
        }
        report.duration_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        report
    }
}

async fn run_case(case: PlannedCase, factory: Arc<dyn ClientFactory>) -> CaseReport {
    let s = &case.scenario;
    let base = CaseReport::new(
        case.target.id(),
        &s.id,
        &s.title,
        s.citation(),
        Status::Passed,
    );
    if let Some(reason) = &case.skip {
        return base
            .with_reason(reason.clone())
            .with_status(Status::Skipped);
    }
    let started = Instant::now();
    let result = tokio::time::timeout(CASE_TIMEOUT, play(&case, factory.as_ref())).await;
    let report = match result {
        Ok(Ok(()))
            if !case.target.is_controllable()
                && s.steps.iter().any(|st| !st.journal.is_empty()) =>
        {
            let unchecked: Vec<String> = s
                .steps
                .iter()
                .enumerate()
                .flat_map(|(i, st)| {
                    st.journal
                        .iter()
                        .map(move |j| format!("step {} ({}): {j}", i + 1, st.action.name()))
                })
                .collect();
            base.with_outcomes_only(format!("not checked: {}", unchecked.join("; ")))
        }
        Ok(Ok(())) => base,
        Ok(Err(Failed { failure, trace })) => {
            let mut c = base.with_failure(failure);
            c.trace = trace;
            c.fix = s.fix.clone();
            c
        }
        Err(_) => {
            let mut c = base.with_failure(Failure {
                step: None,
                action: "case".to_owned(),
                expected: format!("to finish within {}s", CASE_TIMEOUT.as_secs()),
                actual: "it did not".to_owned(),
                journal: Vec::new(),
            });
            c.fix = s.fix.clone();
            c
        }
    };
    report.with_duration(started.elapsed())
}

async fn play(case: &PlannedCase, factory: &dyn ClientFactory) -> Result<(), Failed> {
    let scenario = &case.scenario;
    let profile = case.target.profile();
    let setup = |what: &str, why: String| Failure {
        step: None,
        action: "setup".to_owned(),
        expected: what.to_owned(),
        actual: why,
        journal: Vec::new(),
    };
    let provider = crate::mockctl::Provider::start(&case.target, &scenario.mock)
        .await
        .map_err(|e| setup("the provider to start", e))?;
    let mut http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(5));
    if case.target.is_controllable() {
        // Hermetic: a proxy from the environment must never see loopback mock traffic.
        http = http.no_proxy();
    }
    let http = http
        .build()
        .map_err(|e| setup("an HTTP client", e.to_string()))?;
    // Recorded for the trace of a failure (an external server has no journal to draw from).
    let browser = if case.target.is_controllable() {
        Browser::hermetic(Duration::from_secs(5))
    } else {
        Browser::new(Duration::from_secs(5))
    }
    .map_err(|e| setup("a browser", e.to_string()))?
    .recording(HitLog::default());
    let scopes = match scenario.client.scopes {
        ScopeChoice::Default => profile.scopes.default.clone(),
        // The scopes the provider insists on (HubSpot's app-required ones) stay; one other
        // when there are none.
        ScopeChoice::WithoutRequired if !profile.scopes.required.is_empty() => {
            profile.scopes.required.clone()
        }
        ScopeChoice::WithoutRequired => profile
            .scopes
            .supported
            .iter()
            .filter(|s| Some(*s) != profile.api.required_scope.as_ref())
            .take(1)
            .cloned()
            .collect(),
    };
    let settings = ClientSettings {
        base_url: provider.base_url.clone(),
        client_id: provider.registration.client_id.clone(),
        client_secret: provider.registration.client_secret.clone(),
        redirect_uri: provider.registration.redirect_uri.clone(),
        scopes,
        timeout: scenario.client.timeout_ms.map(Duration::from_millis),
        page_size: scenario.client.page_size,
        native: provider.native.clone(),
    };
    let client = factory
        .create(profile, &settings)
        .map_err(|e| setup("the client to be created", e.to_string()))?;
    let env = Env {
        profile,
        base_url: provider.base_url.clone(),
        client_id: settings.client_id.clone(),
        client_secret: settings.client_secret.clone(),
        redirect_uri: settings.redirect_uri.clone(),
        control: provider.control(),
        http,
        browser,
        form_values: case.target.form_values(),
        native: provider.native.clone(),
    };
    run_steps(scenario, &env, client.as_ref()).await
}
