//! `handshake explore` end to end: the reference client holds every property, each broken
//! client's flaw is found within the default case count, and the scenario file written for
//! it fails for that client and passes for the reference client when the runner replays it.
//! Case counts stay small: the benchmark of thousands of sequences is in the README, not here.

use std::path::Path;

use handshake_conformance::broken::{Broken, Flaw};
use handshake_conformance::explore::{Explorer, Finding, Property, DEFAULT_CASES};
use handshake_conformance::{ReferenceClient, Runner, Scenario, Status, Target};
use handshake_profile::Profile;

fn mock(id: &str) -> Target {
    Target::mock(Profile::builtin(id).unwrap())
}

/// Explores `flaw` on `provider` with the default case count and returns its finding.
async fn find(flaw: Flaw, provider: &str, seed: u64, dir: &Path) -> Finding {
    let report = Explorer::new(Broken(flaw))
        .targets([mock(provider)])
        .cases(DEFAULT_CASES)
        .seed(seed)
        .out_dir(dir)
        .run()
        .await
        .unwrap();
    assert!(
        !report.is_success(),
        "{flaw} not found:\n{}",
        report.to_pretty()
    );
    let finding = report.findings().next().unwrap().clone();
    assert!(finding.case <= DEFAULT_CASES);
    finding
}

/// The written file, replayed by the runner: fails for the flawed client, passes for the
/// reference client.
async fn replays(finding: &Finding, flaw: Flaw, provider: &str) -> String {
    let written = finding.scenario.as_ref().expect("a scenario was written");
    let path = written.path.as_ref().expect("written to the out dir");
    let scenario = Scenario::from_file(path).unwrap();
    assert_eq!(scenario.rfc, finding.property.clause());
    assert!(
        scenario.title.contains(finding.property.id()),
        "{}",
        scenario.title
    );
    let flawed = Runner::new(Broken(flaw))
        .scenarios([scenario.clone()])
        .targets([mock(provider)])
        .run()
        .await;
    assert_eq!(flawed.cases[0].status, Status::Failed, "{}", written.text);
    let reference = Runner::new(ReferenceClient)
        .scenarios([scenario])
        .targets([mock(provider)])
        .run()
        .await;
    assert_eq!(
        reference.cases[0].status,
        Status::Passed,
        "{}\n{}",
        reference.to_pretty(),
        written.text
    );
    let v = written.verification.as_ref().unwrap();
    assert!(v.is_reproduction(), "{v:?}");
    flawed.cases[0].reason.clone().unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_reference_client_holds_every_property_on_every_crm() {
    let report = Explorer::new(ReferenceClient)
        .targets(Profile::builtins().into_iter().map(Target::mock))
        .cases(24)
        .seed(2024)
        .run()
        .await
        .unwrap();
    assert!(report.is_success(), "{}", report.to_pretty());
    let crms = Profile::builtins();
    assert_eq!(report.sequences(), crms.len() as u64 * 24);
    let matrix = report.to_report();
    assert_eq!(matrix.summary.total, crms.len() * Property::ALL.len());
    assert_eq!(matrix.summary.failed, 0);
    // PKCE on the CRMs without it, rotation on those whose tokens do not rotate.
    let skips = crms
        .iter()
        .flat_map(|p| Property::ALL.iter().filter_map(|q| q.skip_reason(p)))
        .count();
    assert!(skips >= 6, "the five seed-era CRMs alone skip 6");
    assert_eq!(matrix.summary.skipped, skips, "{}", report.to_pretty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_state_check_is_found_and_written_as_a_replayable_scenario() {
    let dir = tempfile::tempdir().unwrap();
    let f = find(Flaw::NoStateCheck, "capsule", 1, dir.path()).await;
    assert_eq!(f.property, Property::CallbackState);
    // Shrunk to a login and the tampered callback.
    assert_eq!(f.steps.len(), 2, "{f:?}");
    assert!(f.steps[1].action.starts_with("callback tamper = "), "{f:?}");
    assert!(
        f.detail.contains("token request(s) after a callback"),
        "{}",
        f.detail
    );
    let reason = replays(&f, Flaw::NoStateCheck, "capsule").await;
    assert!(reason.starts_with("step 2 (callback)"), "{reason}");
    let text = &f.scenario.as_ref().unwrap().text;
    assert!(
        text.contains("journal = [{ endpoint = \"token\", count = 0 }]"),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_without_pkce_is_found_on_a_crm_that_requires_it() {
    let dir = tempfile::tempdir().unwrap();
    let f = find(Flaw::NoPkce, "connectwise", 3, dir.path()).await;
    assert_eq!(f.property, Property::PkceChallenge);
    assert_eq!(f.steps.len(), 1);
    let reason = replays(&f, Flaw::NoPkce, "connectwise").await;
    assert!(reason.contains("missing_code_challenge"), "{reason}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refresh_loop_is_found_after_a_revoked_grant() {
    let dir = tempfile::tempdir().unwrap();
    let f = find(Flaw::RefreshLoop, "redtail", 5, dir.path()).await;
    assert_eq!(f.property, Property::ReauthorizeAfterInvalidGrant);
    let reason = replays(&f, Flaw::RefreshLoop, "redtail").await;
    assert!(reason.contains("grant_type=refresh_token"), "{reason}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reuse_of_a_rotated_refresh_token_is_found_where_tokens_rotate() {
    let dir = tempfile::tempdir().unwrap();
    let f = find(Flaw::ReuseRotatedRefresh, "capsule", 5, dir.path()).await;
    assert_eq!(f.property, Property::RotatedRefreshToken);
    assert!(
        f.detail.contains("rotated out by an earlier refresh"),
        "{}",
        f.detail
    );
    replays(&f, Flaw::ReuseRotatedRefresh, "capsule").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parallel_refreshes_are_found_with_parallel_api_calls() {
    let dir = tempfile::tempdir().unwrap();
    let f = find(Flaw::ParallelRefresh, "agilecrm", 5, dir.path()).await;
    assert_eq!(f.property, Property::SingleFlightRefresh);
    assert!(
        f.steps[f.step - 1]
            .action
            .starts_with("api_call parallel = "),
        "{f:?}"
    );
    let reason = replays(&f, Flaw::ParallelRefresh, "agilecrm").await;
    assert!(reason.contains("refresh_token"), "{reason}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_seed_finds_the_same_sequence_and_reports_carry_no_secret() {
    let run = || async {
        Explorer::new(Broken(Flaw::NoStateCheck))
            .targets([mock("insightly")])
            .seed(77)
            .verify_runs(0)
            .run()
            .await
            .unwrap()
    };
    let (a, b) = (run().await, run().await);
    let (fa, fb) = (a.findings().next().unwrap(), b.findings().next().unwrap());
    assert_eq!((fa.case, fa.original_len), (fb.case, fb.original_len));
    assert_eq!(fa.steps, fb.steps);
    let secret = handshake_mock::RegisteredClient::DEFAULT_SECRET;
    let pretty = a.to_pretty();
    assert!(pretty.contains("seed 77"), "{pretty}");
    for text in [
        pretty,
        a.to_report().to_json().unwrap(),
        a.to_report().to_junit("explore").unwrap(),
        fa.scenario.as_ref().unwrap().text.clone(),
    ] {
        assert!(!text.contains(secret), "{text}");
        assert!(!text.to_lowercase().contains("bearer "), "{text}");
    }
}

#[tokio::test]
async fn an_external_server_cannot_be_explored() {
    let reg = handshake_conformance::Registration::new(
        "id",
        handshake_conformance::Secret::new("s"),
        "http://localhost:3000/callback",
    );
    let target = Target::external(
        Profile::builtin("capsule").unwrap(),
        "http://127.0.0.1:9",
        reg,
    );
    let err = Explorer::new(ReferenceClient)
        .targets([target])
        .run()
        .await
        .unwrap_err();
    assert!(err.to_string().contains("needs a handshake mock"), "{err}");
}

#[test]
fn parallel_calls_and_the_crms_429_are_scenario_steps() {
    let text = r#"
        title = "t"
        rfc = "RFC 6585 §4"
        [[steps]]
        action = "fault"
        endpoint = "api"
        retry_after_secs = 1
        times = 2
        [[steps]]
        action = "api_call"
        parallel = 3
        expect = ["ok", "rate_limited"]
    "#;
    let s = Scenario::from_toml_str(text, "t.toml").unwrap();
    assert_eq!(s.steps.len(), 2);
    assert_eq!(s.steps[1].action.name(), "api_call");
    for (bad, reason) in [
        (
            "action = \"fault\"\nendpoint = \"token\"\nretry_after_secs = 1\n",
            "`retry_after_secs` (the CRM's own 429) applies to `endpoint = \"api\"` only",
        ),
        (
            "action = \"api_call\"\nparallel = 0\n",
            "`parallel` must be at least 1",
        ),
    ] {
        let err = Scenario::from_toml_str(
            &format!("title = \"t\"\nrfc = \"RFC 6749\"\n[[steps]]\n{bad}"),
            "bad.toml",
        )
        .unwrap_err();
        assert!(err.to_string().ends_with(reason), "{err}");
    }
}

/// The HTML report of an exploration draws the shrunk sequence as it played: one diagram
/// for the finding, the violating request marked, the property's clause and fix beside it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_html_report_draws_the_shrunk_sequence() {
    let report = Explorer::new(Broken(Flaw::NoStateCheck))
        .targets([mock("insightly")])
        .seed(77)
        .verify_runs(0)
        .run()
        .await
        .unwrap();
    let f = report.findings().next().unwrap();
    assert_eq!(f.property, Property::CallbackState);
    use handshake_conformance::{Actor, EventKind};
    let steps = f
        .trace
        .events
        .iter()
        .filter(|e| e.kind == EventKind::Step)
        .count();
    assert_eq!(steps, f.steps.len(), "{:#?}", f.trace);
    let failing = &f.trace.events[f.trace.first_failing().unwrap()];
    assert_eq!(
        failing.kind,
        EventKind::Step,
        "the violating step is marked"
    );
    assert!(
        f.trace.events.iter().any(|e| e.failing
            && e.kind == EventKind::Request
            && e.from == Actor::Client
            && e.label.starts_with("POST ")
            && e.label.ends_with("/token")),
        "the token request after the forged callback is marked: {:#?}",
        f.trace
    );
    let html = report
        .render(
            handshake_conformance::ReportFormat::Html,
            "handshake-explore",
        )
        .unwrap();
    std::fs::write(
        Path::new(env!("CARGO_TARGET_TMPDIR")).join("explore-report.html"),
        &html,
    )
    .unwrap();
    assert_eq!(html.matches("<svg class=\"sequence\"").count(), 1, "{html}");
    assert!(html.contains("data-case=\"insightly/callback-state\""));
    assert!(html.contains("class=\"arrow request failing\" data-from=\"client\" data-to=\"crm\""));
    assert!(html.contains("RFC 6749 §10.12, RFC 9700 §4.7.1"));
    let fix = Property::CallbackState.fix().replace('\'', "&#39;");
    assert!(html.contains(&fix), "{html}");
    assert!(!html.contains(handshake_mock::RegisteredClient::DEFAULT_SECRET));
}
