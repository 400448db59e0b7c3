//! The runner end to end: the reference client passes the whole matrix, deliberately broken
//! clients fail exactly the scenarios matching their flaws with a useful message, reports are
//! pinned by snapshots and carry no secret.

use std::path::PathBuf;

use handshake_conformance::broken::{Broken, Flaw};
use handshake_conformance::{
    Actor, CaseReport, EventKind, ExpectedFailures, ReferenceClient, Registration, Report, Runner,
    Scenario, Secret, Status, Target,
};
use handshake_profile::Profile;

fn scenarios_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../scenarios")
}

fn scenarios(ids: &[&str]) -> Vec<Scenario> {
    ids.iter()
        .map(|id| Scenario::from_file(scenarios_dir().join(format!("{id}.toml"))).unwrap())
        .collect()
}

fn mocks(ids: &[&str]) -> Vec<Target> {
    ids.iter()
        .map(|id| Target::mock(Profile::builtin(id).unwrap()))
        .collect()
}

fn case<'a>(report: &'a Report, provider: &str, scenario: &str) -> &'a CaseReport {
    report
        .cases
        .iter()
        .find(|c| c.provider == provider && c.scenario == scenario)
        .unwrap_or_else(|| panic!("no case {provider} / {scenario}"))
}

fn failed(report: &Report) -> Vec<(String, String)> {
    let mut v: Vec<_> = report
        .cases
        .iter()
        .filter(|c| c.status == Status::Failed)
        .map(|c| (c.provider.clone(), c.scenario.clone()))
        .collect();
    v.sort();
    v
}

// ---- broken clients: handshake_conformance::broken ------------------------------------------

const ALL: &[&str] = &["capsule", "connectwise", "agilecrm", "redtail", "insightly"];

fn pairs(providers: &[&str], scenarios: &[&str]) -> Vec<(String, String)> {
    let mut v: Vec<_> = providers
        .iter()
        .flat_map(|p| {
            scenarios
                .iter()
                .map(move |s| (p.to_string(), s.to_string()))
        })
        .collect();
    v.sort();
    v
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_puts_credentials_in_the_url_fails_the_header_scenarios() {
    let ids = [
        "native-happy-path",
        "native-credentials-in-headers-only",
        "native-paging-complete",
    ];
    let report = Runner::new(Broken(Flaw::CredentialsInUrl))
        .scenarios(scenarios(&ids))
        .targets(mocks(ALL))
        .run()
        .await;
    // Paging goes through the (correct) list walk: only single calls leak.
    assert_eq!(
        failed(&report),
        pairs(
            ALL,
            &["native-credentials-in-headers-only", "native-happy-path"]
        ),
        "{}",
        report.to_pretty()
    );
    let c = case(&report, "insightly", "native-happy-path");
    let f = c.failure.as_ref().unwrap();
    assert_eq!(f.expected, "journal: 1 api request(s), each authenticated with native, none with a credential in its URL");
    assert!(
        f.actual
            .contains("carried a credential in its URL (query parameter `api_key`)"),
        "{f:?}"
    );
    // The report names the parameter, never the key itself.
    let json = report.to_json().unwrap();
    assert!(
        !json.contains(handshake_mock::NativeCredentials::DEFAULT_API_KEY),
        "{json}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_reads_only_the_first_page_fails_the_paging_scenarios() {
    let ids = [
        "native-paging-complete",
        "oauth-paging-complete",
        "native-happy-path",
    ];
    let report = Runner::new(Broken(Flaw::FirstPageOnly))
        .scenarios(scenarios(&ids))
        .targets(mocks(ALL))
        .run()
        .await;
    assert_eq!(
        failed(&report),
        pairs(ALL, &["native-paging-complete", "oauth-paging-complete"]),
        "{}",
        report.to_pretty()
    );
    let f = case(&report, "connectwise", "native-paging-complete")
        .failure
        .as_ref()
        .unwrap();
    assert_eq!(f.expected, "ok");
    assert!(
        f.actual.starts_with("incomplete (50 record(s) for a data set of 120; missing 70 (300, 301, 302, 303, 304, ...)"),
        "{f:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_ignores_429_fails_the_rate_limit_scenario() {
    let ids = ["native-rate-limit-trips-and-recovers", "native-happy-path"];
    let report = Runner::new(Broken(Flaw::Ignores429))
        .scenarios(scenarios(&ids))
        .targets(mocks(ALL))
        .run()
        .await;
    assert_eq!(
        failed(&report),
        pairs(ALL, &["native-rate-limit-trips-and-recovers"]),
        "{}",
        report.to_pretty()
    );
    let f = case(&report, "capsule", "native-rate-limit-trips-and-recovers")
        .failure
        .as_ref()
        .unwrap();
    assert_eq!(f.step, Some(3));
    assert_eq!(f.expected, "journal: 1 to 3 api request(s)");
    assert_eq!(f.actual, "8 matching request(s)");
}

// ---- the reference client -----------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reference_client_passes_the_whole_matrix() {
    let report = Runner::new(ReferenceClient)
        .scenarios(Scenario::load_dir(scenarios_dir()).unwrap())
        .targets(Profile::builtins().into_iter().map(Target::mock))
        .run()
        .await;
    assert!(report.is_success(), "{}", report.to_pretty());
    assert!(report.summary.total >= 100);
    assert!(report.summary.passed >= 100, "{}", report.to_pretty());
    for c in report.cases.iter().filter(|c| c.status == Status::Skipped) {
        assert!(
            c.reason.is_some(),
            "{} / {} skipped without reason",
            c.provider,
            c.scenario
        );
    }
}

// ---- broken clients fail the matching scenarios --------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_without_a_state_check_fails_the_csrf_scenarios() {
    let report = Runner::new(Broken(Flaw::NoStateCheck))
        .scenarios(scenarios(&[
            "happy-path",
            "state-mismatch",
            "missing-state",
        ]))
        .targets(mocks(&["capsule", "redtail"]))
        .run()
        .await;
    assert!(!report.is_success());
    assert_eq!(
        failed(&report),
        [
            ("capsule".into(), "missing-state".into()),
            ("capsule".into(), "state-mismatch".into()),
            ("redtail".into(), "missing-state".into()),
            ("redtail".into(), "state-mismatch".into()),
        ]
    );
    let c = case(&report, "capsule", "state-mismatch");
    assert_eq!(
        c.reason.as_deref(),
        Some("step 2 (callback): expected state_mismatch, got ok")
    );
    let f = c.failure.as_ref().unwrap();
    assert!(
        f.journal
            .iter()
            .any(|l| l.contains("grant_type=authorization_code")),
        "the journal shows the token request the client should not have made: {:?}",
        f.journal
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_without_pkce_fails_the_pkce_scenarios() {
    let report = Runner::new(Broken(Flaw::NoPkce))
        .scenarios(scenarios(&["happy-path", "pkce-s256"]))
        .targets(mocks(&["capsule", "connectwise", "redtail"]))
        .run()
        .await;
    // Capsule: the request lacks a challenge (and the mock then refuses the verifier the
    // client still sends, as a downgrade); ConnectWise requires PKCE outright. Redtail has no
    // PKCE: nothing to fail.
    assert_eq!(
        failed(&report),
        [
            ("capsule".into(), "happy-path".into()),
            ("capsule".into(), "pkce-s256".into()),
            ("connectwise".into(), "happy-path".into()),
            ("connectwise".into(), "pkce-s256".into()),
        ]
    );
    assert_eq!(
        case(&report, "capsule", "pkce-s256").reason.as_deref(),
        Some("step 1 (authorize): expected ok, got missing_code_challenge (the authorization request has no `code_challenge` parameter)")
    );
    // ConnectWise refuses the authorization request itself.
    let cw = case(&report, "connectwise", "happy-path")
        .reason
        .clone()
        .unwrap();
    assert!(
        cw.starts_with("step 1 (authorize): expected ok, got invalid_request"),
        "{cw}"
    );
    assert_eq!(
        case(&report, "redtail", "happy-path").status,
        Status::Passed
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_loops_on_refresh_fails_the_revoked_grant_scenario() {
    let report = Runner::new(Broken(Flaw::RefreshLoop))
        .scenarios(scenarios(&["revoked-grant", "expired-access-token"]))
        .targets(mocks(&["capsule"]))
        .run()
        .await;
    assert_eq!(
        failed(&report),
        [("capsule".into(), "revoked-grant".into())]
    );
    let c = case(&report, "capsule", "revoked-grant");
    assert_eq!(
        c.reason.as_deref(),
        Some("step 4 (api_call): expected journal: at most 1 token request(s) with grant_type=refresh_token, got 6 matching request(s)")
    );
    let f = c.failure.as_ref().unwrap();
    assert_eq!(
        f.journal
            .iter()
            .filter(|l| l.contains("grant_type=refresh_token"))
            .count(),
        6,
        "{:?}",
        f.journal
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_does_not_revoke_fails_the_logout_scenario() {
    let report = Runner::new(Broken(Flaw::NoRevocation))
        .scenarios(scenarios(&["logout-revokes"]))
        .targets(mocks(&["insightly"]))
        .run()
        .await;
    assert_eq!(
        case(&report, "insightly", "logout-revokes").reason.as_deref(),
        Some("step 3 (logout): expected journal: at least 1 revoke request(s), client authenticated with profile, got 0 matching request(s)")
    );
}

// ---- expected failures ------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expected_failures_turn_known_failures_green_and_stale_entries_red() {
    let listed = ExpectedFailures::from_toml_str(
        r#"
        [[expected_failure]]
        provider = "capsule"
        scenario = "state-mismatch"
        why = "state check lands in #7"

        [[expected_failure]]
        provider = "*"
        scenario = "missing-state"
        why = "same"
        "#,
        "expected-failures.toml",
    )
    .unwrap();
    let report = Runner::new(Broken(Flaw::NoStateCheck))
        .scenarios(scenarios(&["state-mismatch", "missing-state"]))
        .targets(mocks(&["capsule"]))
        .expected_failures(listed.clone())
        .run()
        .await;
    assert!(report.is_success(), "{}", report.to_pretty());
    assert_eq!(report.summary.expected_failures, 2);
    let c = case(&report, "capsule", "state-mismatch");
    assert_eq!(c.status, Status::Failed);
    assert_eq!(
        c.expected_failure.as_deref(),
        Some("state check lands in #7")
    );

    // The fixed client passes: the entries are stale, and that fails the run.
    let report = Runner::new(ReferenceClient)
        .scenarios(scenarios(&["state-mismatch", "missing-state"]))
        .targets(mocks(&["capsule"]))
        .expected_failures(listed)
        .run()
        .await;
    assert!(!report.is_success());
    assert_eq!(report.summary.unexpected_passes, 2);
    assert!(report
        .to_pretty()
        .contains("capsule / state-mismatch passed but is listed as an expected failure (state check lands in #7)"));
}

// ---- external provider mode ---------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn external_mode_runs_what_needs_no_control_and_skips_the_rest() {
    let profile = Profile::builtin("capsule").unwrap();
    // Stands in for a team's staging server: reachable only by URL, no control.
    let server = handshake_mock::MockProvider::builder(profile.clone())
        .auto_approve(true)
        .start()
        .await
        .unwrap();
    let reg = server.client();
    let target = Target::external(
        profile,
        server.uri(),
        Registration::new(
            reg.client_id.clone(),
            Secret::new(reg.client_secret.secret()),
            reg.redirect_uris[0].clone(),
        ),
    );
    let report = Runner::new(ReferenceClient)
        .scenarios(scenarios(&[
            "happy-path",
            "state-mismatch",
            "code-reuse",
            "expired-code",
        ]))
        .targets([target])
        .run()
        .await;
    assert!(report.is_success(), "{}", report.to_pretty());
    assert_eq!(
        case(&report, "capsule", "code-reuse").status,
        Status::Passed
    );
    let skipped = case(&report, "capsule", "expired-code");
    assert_eq!(skipped.status, Status::Skipped);
    assert_eq!(
        skipped.reason.as_deref(),
        Some("step 2 (advance_clock) needs the provider's clock to move forward: only a handshake mock can do that")
    );
    // Journal expectations need the mock: checked on outcomes only, and the reason says which.
    let happy = case(&report, "capsule", "happy-path");
    assert_eq!(happy.status, Status::Passed, "{:?}", happy.reason);
    assert!(happy.outcomes_only);
    assert!(
        happy
            .reason
            .as_deref()
            .unwrap()
            .starts_with("not checked: step 2 (callback): 1 token request(s)"),
        "{:?}",
        happy.reason
    );
}

/// An external server with its consent page on (no auto-approve): the runner's browser
/// approves on it, as it does on Authlib's or node-oidc-provider's pages.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn external_mode_passes_a_consent_page() {
    let profile = Profile::builtin("insightly").unwrap();
    let server = handshake_mock::MockProvider::start(profile.clone()).await;
    let reg = server.client();
    let target = Target::external(
        profile,
        server.uri(),
        Registration::new(
            reg.client_id.clone(),
            Secret::new(reg.client_secret.secret()),
            reg.redirect_uris[0].clone(),
        ),
    );
    let report = Runner::new(ReferenceClient)
        .scenarios(scenarios(&["happy-path", "logout-revokes", "code-reuse"]))
        .targets([target])
        .run()
        .await;
    assert!(report.is_success(), "{}", report.to_pretty());
    assert_eq!(report.summary.passed, 3, "{}", report.to_pretty());
    let consents = server
        .journal()
        .iter()
        .filter(|e| e.method == "POST" && e.endpoint == Some(handshake_mock::Endpoint::Authorize))
        .count();
    assert!(
        consents >= 3,
        "the consent form was posted once per login, saw {consents}"
    );
}

/// `logout-revokes` fails in provider mode when the revocation endpoint answers 404: the
/// client reports the refusal as an outcome, with no journal to fall back on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn external_mode_fails_logout_revokes_on_a_404_revocation_endpoint() {
    let real = Profile::builtin("capsule").unwrap();
    let server = handshake_mock::MockProvider::builder(real.clone())
        .auto_approve(true)
        .start()
        .await
        .unwrap();
    // The profile points the client at a revocation path the server does not serve.
    let mut described = real;
    described.oauth.revoke_paths = vec!["/oauth/revoke-missing".to_owned()];
    let reg = server.client();
    let target = Target::external(
        described,
        server.uri(),
        Registration::new(
            reg.client_id.clone(),
            Secret::new(reg.client_secret.secret()),
            reg.redirect_uris[0].clone(),
        ),
    );
    let report = Runner::new(ReferenceClient)
        .scenarios(scenarios(&["logout-revokes"]))
        .targets([target])
        .run()
        .await;
    let c = case(&report, "capsule", "logout-revokes");
    assert_eq!(c.status, Status::Failed, "{}", report.to_pretty());
    let reason = c.reason.as_deref().unwrap();
    assert!(
        reason.contains("step 3 (logout)")
            && reason.contains("revocation_failed")
            && reason.contains("404"),
        "{reason}"
    );
}

/// The pretty report marks outcome-only passes and says what the mark means.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outcome_only_legend_snapshot() {
    let profile = Profile::builtin("redtail").unwrap();
    let server = handshake_mock::MockProvider::start(profile.clone()).await;
    let reg = server.client();
    let target = Target::external(
        profile,
        server.uri(),
        Registration::new(
            reg.client_id.clone(),
            Secret::new(reg.client_secret.secret()),
            reg.redirect_uris[0].clone(),
        ),
    );
    let mut report = Runner::new(ReferenceClient)
        .scenarios(scenarios(&["happy-path", "state-mismatch", "expired-code"]))
        .targets([target])
        .run()
        .await;
    report.duration_ms = 0;
    insta::assert_snapshot!(report.to_pretty());
}

// ---- reports ------------------------------------------------------------------------------------

async fn small_fixed_run() -> Report {
    let mut report = Runner::new(Broken(Flaw::NoStateCheck))
        .scenarios(scenarios(&["happy-path", "pkce-s256", "state-mismatch"]))
        .targets(mocks(&["capsule", "redtail"]))
        .run()
        .await;
    // Durations vary from run to run.
    report.duration_ms = 0;
    for c in &mut report.cases {
        c.duration_ms = 0;
    }
    report
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pretty_report_snapshot() {
    insta::assert_snapshot!(small_fixed_run().await.to_pretty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_report_snapshot() {
    let report = small_fixed_run().await;
    let value: serde_json::Value = serde_json::from_str(&report.to_json().unwrap()).unwrap();
    insta::assert_json_snapshot!(value, { ".cases[].duration_ms" => "[duration]" });
    // The schema is a contract: it parses back into the same report.
    let back: Report = serde_json::from_str(&report.to_json().unwrap()).unwrap();
    assert_eq!(back, report);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn junit_report_has_a_suite_per_provider_and_the_failure_text() {
    let report = small_fixed_run().await;
    let xml = report.to_junit("handshake-conformance").unwrap();
    let parsed = quick_junit::Report::deserialize_from_str(&xml).unwrap();
    let names: Vec<&str> = parsed.test_suites.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["capsule", "redtail"]);
    assert_eq!(parsed.tests, 6);
    assert_eq!(parsed.failures, 2);
    assert!(xml.contains("expected: state_mismatch"), "{xml}");
    assert!(xml.contains("pkce.mode = &quot;unsupported&quot;"), "{xml}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reports_never_contain_secrets() {
    // Failures carry journal lines and client messages: the riskiest content.
    let report = Runner::new(Broken(Flaw::RefreshLoop))
        .scenarios(Scenario::load_dir(scenarios_dir()).unwrap())
        .targets(mocks(&["capsule", "agilecrm"]))
        .run()
        .await;
    assert!(
        !report.is_success(),
        "the run must include failures to be a test"
    );
    let secret = handshake_mock::RegisteredClient::DEFAULT_SECRET;
    for text in [
        report.to_pretty(),
        report.to_json().unwrap(),
        report.to_junit("x").unwrap(),
    ] {
        assert!(!text.contains(secret));
        assert!(!text.to_lowercase().contains("bearer "));
    }
}

// ---- the HTML report and its traces -------------------------------------------------------------

/// A client that writes down every secret it is handed (the client secret, and each
/// callback's code and state) before passing the call on to `F`'s client.
struct Recording<F> {
    inner: F,
    seen: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

struct RecordingClient {
    inner: Box<dyn handshake_conformance::ClientUnderTest>,
    seen: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

impl<F: handshake_conformance::ClientFactory> handshake_conformance::ClientFactory
    for Recording<F>
{
    fn name(&self) -> &str {
        self.inner.name()
    }

    fn create(
        &self,
        profile: &Profile,
        settings: &handshake_conformance::ClientSettings,
    ) -> Result<Box<dyn handshake_conformance::ClientUnderTest>, handshake_conformance::ClientFailure>
    {
        self.seen
            .lock()
            .unwrap()
            .push(settings.client_secret.expose().to_owned());
        Ok(Box::new(RecordingClient {
            inner: self.inner.create(profile, settings)?,
            seen: std::sync::Arc::clone(&self.seen),
        }))
    }
}

type Fut<'a, T> = futures::future::BoxFuture<'a, Result<T, handshake_conformance::ClientFailure>>;

impl handshake_conformance::ClientUnderTest for RecordingClient {
    fn authorize(&self) -> Fut<'_, String> {
        self.inner.authorize()
    }
    fn callback(&self, url: String) -> Fut<'_, ()> {
        if let Ok(u) = url::Url::parse(&url) {
            let mut seen = self.seen.lock().unwrap();
            for (k, v) in u.query_pairs() {
                if k == "code" || k == "state" {
                    seen.push(v.into_owned());
                }
            }
        }
        self.inner.callback(url)
    }
    fn api_get(&self) -> Fut<'_, handshake_conformance::ApiReply> {
        self.inner.api_get()
    }
    fn refresh(&self) -> Fut<'_, ()> {
        self.inner.refresh()
    }
    fn logout(&self) -> Fut<'_, ()> {
        self.inner.logout()
    }
}

/// Counts of what an HTML report must hold: a diagram per failure and warning.
fn diagrams(html: &str) -> usize {
    html.matches("<svg class=\"sequence\"").count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn html_report_has_a_diagram_per_failure_and_carries_no_secret() {
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let report = Runner::new(Recording {
        inner: Broken(Flaw::NoStateCheck),
        seen: std::sync::Arc::clone(&seen),
    })
    .scenarios(scenarios(&[
        "happy-path",
        "state-mismatch",
        "missing-state",
        "replayed-callback",
        "pkce-s256",
    ]))
    .targets(mocks(&["capsule", "redtail"]))
    .run()
    .await;
    let failures = report
        .cases
        .iter()
        .filter(|c| matches!(c.status, Status::Failed | Status::Warning))
        .count();
    assert!(failures >= 4, "{}", report.to_pretty());
    let html = report.to_html("handshake-conformance");
    assert_eq!(diagrams(&html), failures, "{html}");
    // Every failure's trace marks where it went wrong, and says which step that was.
    for c in report.cases.iter().filter(|c| c.status == Status::Failed) {
        let t = c
            .trace
            .as_ref()
            .unwrap_or_else(|| panic!("{} has no trace", c.scenario));
        assert!(t.first_failing().is_some(), "{t:?}");
        assert!(
            t.events.iter().any(|e| e.kind == EventKind::Request
                && e.from == Actor::Client
                && e.to == Actor::Crm),
            "the client's token request is drawn: {t:?}"
        );
    }
    assert!(html.contains("class=\"arrow answer failing\""), "{html}");
    assert!(html.contains("data-case=\"capsule/state-mismatch\""));
    for actor in ["browser", "client", "crm"] {
        assert!(html.contains(&format!("data-actor=\"{actor}\"")), "{actor}");
    }
    // No secret in any format: not the client secret, no code, no state the client saw.
    let seen = seen.lock().unwrap().clone();
    assert!(seen.len() > 10, "the recorder saw the codes: {seen:?}");
    for text in [html, report.to_json().unwrap()] {
        for s in seen.iter().filter(|s| s.len() >= 8) {
            assert!(!text.contains(s.as_str()), "{s:?} in a report");
        }
        assert!(!text.to_lowercase().contains("bearer "));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn traces_blame_the_request_too_many_and_the_request_never_sent() {
    // Too many: a refresh loop's extra refreshes are the failing arrows.
    let report = Runner::new(Broken(Flaw::RefreshLoop))
        .scenarios(scenarios(&["revoked-grant"]))
        .targets(mocks(&["capsule"]))
        .run()
        .await;
    let t = case(&report, "capsule", "revoked-grant")
        .trace
        .clone()
        .unwrap();
    let failing: Vec<&handshake_conformance::TraceEvent> = t
        .events
        .iter()
        .filter(|e| e.failing && e.kind == EventKind::Request)
        .collect();
    assert!(failing.len() >= 2, "{t:?}");
    assert!(
        failing.iter().all(|e| e.label == "POST /oauth/token"),
        "{failing:?}"
    );
    assert!(failing[0]
        .detail
        .as_deref()
        .unwrap()
        .starts_with("refresh_token"));
    // Never sent: a logout without revocation draws the revocation it owed.
    let report = Runner::new(Broken(Flaw::NoRevocation))
        .scenarios(scenarios(&["logout-revokes"]))
        .targets(mocks(&["capsule"]))
        .run()
        .await;
    let c = case(&report, "capsule", "logout-revokes");
    let t = c.trace.clone().unwrap();
    let missing = t
        .events
        .iter()
        .find(|e| e.kind == EventKind::Missing)
        .unwrap_or_else(|| panic!("{t:?}"));
    assert!(missing.failing);
    assert_eq!(missing.label, "revoke request");
    assert!(
        missing
            .detail
            .as_deref()
            .unwrap()
            .starts_with("expected: at least 1 revoke request(s)"),
        "{missing:?}"
    );
    let html = report.to_html("t");
    assert!(html.contains("class=\"arrow missing failing\""), "{html}");
    assert!(html.contains("✗ never sent: revoke request"), "{html}");
}

// ---- a CRM added from a profile file alone --------------------------------------------------

/// A CRM that is only a TOML file (no code): Capsule's schemes and paging under another id,
/// name, paths and paging names, read from a temporary directory, passes the whole matrix
/// through the public runner API; every case runs or is skipped with a reason.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crm_added_from_a_profile_file_alone_passes_the_whole_matrix() {
    let capsule = std::fs::read_to_string(
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/providers/capsule.toml"),
    )
    .unwrap();
    let mut text = capsule.clone();
    for (from, to) in [
        ("id = \"capsule\"", "id = \"acme-crm\""),
        ("name = \"Capsule CRM\"", "name = \"Acme CRM\""),
        (
            "revoke_paths = [\"/oauth/revoke\", \"/oauth/token/revoke\"]",
            "revoke_paths = [\"/login/oauth/revoke\"]",
        ),
        (
            "authorize_path = \"/oauth/authorise\"",
            "authorize_path = \"/login/oauth/authorize\"",
        ),
        (
            "token_path = \"/oauth/token\"",
            "token_path = \"/login/oauth/access_token\"",
        ),
        ("path = \"/api/v2/parties\"", "path = \"/v1/people\""),
        ("envelope = \"parties\"", "envelope = \"people\""),
        ("item_envelope = \"party\"", "item_envelope = \"person\""),
        (
            "size_param = \"perPage\"",
            "size_param = \"limit\"\npage_param = \"p\"",
        ),
        (
            "has_more_header = \"X-Pagination-Has-More\"",
            "has_more_header = \"X-More-Pages\"",
        ),
    ] {
        assert!(text.contains(from), "capsule.toml no longer has {from:?}");
        text = text.replace(from, to);
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("acme-crm.toml");
    std::fs::write(&path, &text).unwrap();
    let profile = Profile::from_file(&path).unwrap();
    assert_eq!(profile.id, "acme-crm");
    assert_eq!(profile.api.paging.as_ref().unwrap().page_param, "p");

    let scenarios = Scenario::load_dir(scenarios_dir()).unwrap();
    let report = Runner::new(ReferenceClient)
        .scenarios(scenarios.clone())
        .targets([Target::mock(profile)])
        .run()
        .await;
    assert!(report.is_success(), "{}", report.to_pretty());
    assert_eq!(report.cases.len(), scenarios.len(), "one case per scenario");
    assert!(report.cases.iter().all(|c| c.provider == "acme-crm"));
    for c in &report.cases {
        match c.status {
            Status::Passed => {}
            Status::Skipped => assert!(
                c.reason.as_deref().is_some_and(|r| !r.is_empty()),
                "{} skipped without a reason",
                c.scenario
            ),
            other => panic!("{}: {other:?}: {:?}", c.scenario, c.reason),
        }
    }
    assert!(
        report
            .cases
            .iter()
            .filter(|c| c.status == Status::Passed)
            .count()
            >= 20,
        "{}",
        report.to_pretty()
    );
}
