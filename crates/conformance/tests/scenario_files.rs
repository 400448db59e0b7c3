//! The scenario format: every shipped file parses, the matrix is big enough, and malformed
//! files are reported with their file, step and reason.

use std::path::PathBuf;

use handshake_conformance::{plan, Requirement, Scenario, Target};
use handshake_profile::Profile;

fn scenarios_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../scenarios")
}

#[test]
fn shipped_scenarios_parse_and_cite_a_clause() {
    let scenarios = Scenario::load_dir(scenarios_dir()).unwrap();
    assert!(scenarios.len() >= 20, "only {} scenarios", scenarios.len());
    for s in &scenarios {
        assert!(s.rfc.starts_with("RFC "), "{}: rfc = {:?}", s.id, s.rfc);
    }
}

#[test]
fn the_matrix_has_at_least_100_cases_and_explains_every_skip() {
    let scenarios: Vec<_> = Scenario::load_dir(scenarios_dir())
        .unwrap()
        .into_iter()
        .map(std::sync::Arc::new)
        .collect();
    let targets: Vec<_> = Profile::builtins()
        .into_iter()
        .map(|p| std::sync::Arc::new(Target::mock(p)))
        .collect();
    let cases = plan(&scenarios, &targets);
    assert!(cases.len() >= 100, "{} cases", cases.len());
    let runnable = cases.iter().filter(|c| c.skip.is_none()).count();
    assert!(runnable >= 100, "only {runnable} runnable cases");
    for c in cases.iter().filter(|c| c.skip.is_some()) {
        assert!(!c.skip.as_ref().unwrap().is_empty());
    }
}

#[test]
fn pkce_scenarios_are_skipped_where_the_provider_has_no_pkce() {
    let s = Scenario::from_file(scenarios_dir().join("pkce-s256.toml")).unwrap();
    assert!(s.requires.contains(&Requirement::Pkce));
    let redtail = Target::mock(Profile::builtin("redtail").unwrap());
    let reason = handshake_conformance::skip_reason(&s, &redtail).unwrap();
    assert_eq!(
        reason,
        "pkce.mode = \"unsupported\": the provider has no PKCE"
    );
    let connectwise = Target::mock(Profile::builtin("connectwise").unwrap());
    assert_eq!(handshake_conformance::skip_reason(&s, &connectwise), None);
}

#[test]
fn control_steps_imply_the_control_requirement() {
    let s = Scenario::from_file(scenarios_dir().join("expired-access-token.toml")).unwrap();
    assert!(s.requires.contains(&Requirement::Control));
    let s = Scenario::from_file(scenarios_dir().join("unknown-code.toml")).unwrap();
    assert!(!s.requires.contains(&Requirement::Control));
}

/// Parses `body` as `scenarios/bad.toml` and checks the whole error message.
#[track_caller]
fn check_error(body: &str, expected: &str) {
    let err = Scenario::from_toml_str(body, "scenarios/bad.toml").unwrap_err();
    assert_eq!(err.to_string(), expected);
}

const HEAD: &str = "title = \"t\"\nrfc = \"RFC 6749 §4.1\"\n";

#[test]
fn malformed_scenarios_name_file_step_and_reason() {
    check_error(
        &format!("{HEAD}[[steps]]\naction = \"dance\"\n"),
        "scenarios/bad.toml: step 1 (dance): unknown action \"dance\" (one of authorize, callback, api_call, refresh, logout, expire_tokens, revoke_grant, advance_clock, fault, raw_authorize, raw_token_request, raw_api_call, native_call, raw_native_call, list_all)",
    );
    check_error(
        &format!("{HEAD}[[steps]]\naction = \"authorize\"\n[[steps]]\nexpect = \"ok\"\n"),
        "scenarios/bad.toml: step 2 (?): missing `action` (one of authorize, callback, api_call, refresh, logout, expire_tokens, revoke_grant, advance_clock, fault, raw_authorize, raw_token_request, raw_api_call, native_call, raw_native_call, list_all)",
    );
    check_error(
        &format!("{HEAD}[[steps]]\naction = \"authorize\"\n[[steps]]\naction = \"callback\"\ntamper = \"sideways\"\n"),
        "scenarios/bad.toml: step 2 (callback): unknown variant `sideways`, expected one of `none`, `forge_state`, `drop_state`, `replay`",
    );
    check_error(
        &format!("{HEAD}[[steps]]\naction = \"callback\"\n"),
        "scenarios/bad.toml: step 1 (callback): `callback` needs an `authorize` step before it",
    );
    check_error(
        &format!("{HEAD}[[steps]]\naction = \"expire_tokens\"\nexpect = \"ok\"\n"),
        "scenarios/bad.toml: step 1 (expire_tokens): this step has no outcome: `expect` does not apply",
    );
    check_error(
        &format!("{HEAD}[[steps]]\naction = \"fault\"\nendpoint = \"token\"\n"),
        "scenarios/bad.toml: step 1 (fault): a fault needs exactly one of `error`, `status`, `delay_ms`, `drop_connection` or `retry_after_secs`",
    );
    check_error(
        &format!(
            "{HEAD}[[steps]]\naction = \"api_call\"\njournal = [{{ endpoint = \"token\" }}]\n"
        ),
        "scenarios/bad.toml: step 1 (api_call): journal[0]: needs `count`, `min` or `max`",
    );
    check_error(
        &format!("{HEAD}[[steps]]\naction = \"api_call\"\njournal = [{{ endpoint = \"tokn\", count = 1 }}]\n"),
        "scenarios/bad.toml: step 1 (api_call): journal[0]: unknown variant `tokn`, expected one of `authorize`, `token`, `revoke`, `api`, `native_exchange`",
    );
    check_error(
        &format!("{HEAD}[[steps]]\naction = \"raw_api_call\"\ntoken = \"first\"\n"),
        "scenarios/bad.toml: step 1 (raw_api_call): no earlier step saved tokens as \"first\"",
    );
    check_error(
        &format!("{HEAD}[[steps]]\naction = \"advance_clock\"\npast = \"lunch\"\n"),
        "scenarios/bad.toml: step 1 (advance_clock): `past` must be \"code_lifetime\" or \"access_token_lifetime\", not \"lunch\"",
    );
    check_error(
        &format!("{HEAD}[[steps]]\naction = \"api_call\"\ncolour = \"red\"\n"),
        "scenarios/bad.toml: step 1 (api_call): unknown field `colour`, expected `parallel`",
    );
    check_error(
        "title = \"t\"\nrfc = \"see the docs\"\n[[steps]]\naction = \"api_call\"\n",
        "scenarios/bad.toml: `rfc` must cite the clause checked, e.g. \"RFC 6749 §10.12\" (or give `source`, the vendor document checked)",
    );
    check_error(
        "title = \"t\"\nrfc = \"RFC 6749\"\nrequires = [\"telepathy\"]\n[[steps]]\naction = \"api_call\"\n",
        "scenarios/bad.toml:3: unknown variant `telepathy`, expected one of `pkce`, `pkce_optional`, `pkce_required`, `refresh`, `rotation`, `rotation_family`, `rotation_retires_old`, `revocation`, `rate_limit`, `scope`, `single_use_codes`, `revoke_on_code_reuse`, `exact_redirect_uri`, `verify_pkce`, `reject_pkce_downgrade`, `authenticate_client`, `control`, `native`, `native_client_id_header`, `native_key_exchange`, `paging`",
    );
    check_error(
        "title = \"t\"\nrfc = \"RFC 6749\"\n",
        "scenarios/bad.toml:1: missing field `steps`",
    );
}

#[test]
fn malformed_native_steps_name_file_step_and_reason() {
    check_error(
        &format!("{HEAD}[[steps]]\naction = \"native_call\"\ncredentials = \"stolen\"\n"),
        "scenarios/bad.toml: step 1 (native_call): unknown variant `stolen`, expected one of `valid`, `wrong_key`, `missing_client_id`",
    );
    check_error(
        &format!("{HEAD}[[steps]]\naction = \"list_all\"\n"),
        "scenarios/bad.toml: step 1 (list_all): missing field `auth`",
    );
    check_error(
        &format!("{HEAD}[[steps]]\naction = \"list_all\"\nauth = \"cookie\"\n"),
        "scenarios/bad.toml: step 1 (list_all): unknown variant `cookie`, expected `oauth` or `native`",
    );
    check_error(
        &format!("{HEAD}[[steps]]\naction = \"raw_native_call\"\npage = 2\n"),
        "scenarios/bad.toml: step 1 (raw_native_call): unknown field `page`, expected `credentials` or `crm_error`",
    );
    check_error(
        &format!("{HEAD}[[steps]]\naction = \"fault\"\nendpoint = \"native_exchange\"\nstatus = 401\n"),
        "scenarios/bad.toml: step 1 (fault): faults target `authorize`, `token`, `revoke` or `api`; `native_exchange` is for journal expectations",
    );
    check_error(
        &format!("{HEAD}[[steps]]\naction = \"native_call\"\njournal = [{{ endpoint = \"api\", count = 1, auth_mode = \"magic\" }}]\n"),
        "scenarios/bad.toml: step 1 (native_call): journal[0]: unknown variant `magic`, expected `oauth` or `native`",
    );
    check_error(
        &format!("{HEAD}[mock]\nrate_limit = {{ limit = 0, window_secs = 60 }}\n[[steps]]\naction = \"native_call\"\n"),
        "scenarios/bad.toml: `mock.rate_limit` needs `limit` and `window_secs` of at least 1",
    );
    check_error(
        &format!(
            "{HEAD}[client]\npage_size = 0\n[[steps]]\naction = \"list_all\"\nauth = \"native\"\n"
        ),
        "scenarios/bad.toml: `client.page_size` must be at least 1",
    );
}

#[test]
fn native_steps_imply_their_requirements() {
    let text = String::from(
        "title = \"t\"\nsource = \"Vendor doc\"\n[mock]\nrate_limit = { limit = 1, window_secs = 1 }\n[[steps]]\naction = \"native_call\"\ncredentials = \"missing_client_id\"\n[[steps]]\naction = \"list_all\"\nauth = \"oauth\"\n"
    );
    let s = Scenario::from_toml_str(&text, "scenarios/n.toml").unwrap();
    assert_eq!(
        s.requires,
        [
            Requirement::Control,
            Requirement::Native,
            Requirement::NativeClientIdHeader,
            Requirement::Paging
        ]
    );
    // A vendor source alone is a citation.
    assert_eq!(s.rfc, "");
    assert_eq!(s.citation(), "Vendor doc");
    let cw = Target::mock(Profile::builtin("connectwise").unwrap());
    assert_eq!(handshake_conformance::skip_reason(&s, &cw), None);
    let insightly = Target::mock(Profile::builtin("insightly").unwrap());
    assert_eq!(
        handshake_conformance::skip_reason(&s, &insightly).unwrap(),
        "native_auth.client_id_header is unset: the native scheme sends no client-id header"
    );
}

#[test]
fn every_crm_runs_both_auth_modes() {
    let scenarios: Vec<_> = Scenario::load_dir(scenarios_dir())
        .unwrap()
        .into_iter()
        .map(std::sync::Arc::new)
        .collect();
    for p in Profile::builtins() {
        let t = std::sync::Arc::new(Target::mock(p.clone()));
        let cases = plan(&scenarios, std::slice::from_ref(&t));
        let runs = |id: &str| {
            cases
                .iter()
                .any(|c| c.scenario.id == id && c.skip.is_none())
        };
        for id in ["happy-path", "oauth-paging-complete"] {
            assert!(runs(id), "{id} does not run on {}", p.id);
        }
        for id in [
            "native-happy-path",
            "native-wrong-key",
            "native-paging-complete",
            "native-rate-limit-trips-and-recovers",
        ] {
            if p.native_auth.is_some() {
                assert!(runs(id), "{id} does not run on {}", p.id);
            } else {
                // Salesforce, Dynamics: OAuth only (no API-key scheme); skipped, saying so.
                let case = cases.iter().find(|c| c.scenario.id == id).unwrap();
                let reason = case.skip.as_deref().unwrap_or_default();
                assert!(
                    reason.contains("no native_auth"),
                    "{id} on {}: {reason:?}",
                    p.id
                );
            }
        }
    }
}

#[test]
fn a_scenario_file_on_disk_reports_its_path() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("broken.toml");
    std::fs::write(&path, format!("{HEAD}[[steps]]\naction = \"callback\"\n")).unwrap();
    let err = Scenario::load_dir(dir.path()).unwrap_err();
    assert_eq!(err.file, path.display().to_string());
    assert_eq!(err.step, Some((1, "callback".to_owned())));
}

#[test]
fn a_scenario_that_asserts_nothing_is_refused() {
    // Control steps have no outcome; without a journal expectation such a scenario cannot
    // fail, so it would only ever add a green cell to the matrix.
    check_error(
        &format!(
            "{HEAD}[[steps]]\naction = \"advance_clock\"\nseconds = 5\n[[steps]]\naction = \"expire_tokens\"\n"
        ),
        "scenarios/bad.toml: the scenario asserts nothing: give a step an outcome (a client or raw step, `expect`) or a `journal` expectation",
    );
    // The same steps with a journal expectation are a real check.
    let ok = format!(
        "{HEAD}[[steps]]\naction = \"advance_clock\"\nseconds = 5\njournal = [{{ endpoint = \"token\", count = 0 }}]\n"
    );
    Scenario::from_toml_str(&ok, "scenarios/ok.toml").unwrap();
}
