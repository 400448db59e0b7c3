//! `handshake explore` from the command line: a finding exits 1 and writes a scenario file
//! that `handshake conformance --scenarios-dir` replays; bad input is a usage error.

use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_handshake");

#[test]
fn a_finding_is_written_where_conformance_replays_it() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(BIN)
        .current_dir(dir.path())
        .args([
            "explore",
            "--client",
            "no-state-check",
            "--provider",
            "redtail",
        ])
        .args(["--seed", "3", "--format", "json", "--out-dir", "found"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("seed 3 (rerun: handshake explore --client no-state-check"),
        "{stderr}"
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let failed: Vec<&str> = report["cases"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["status"] == "failed")
        .map(|c| c["scenario"].as_str().unwrap())
        .collect();
    assert_eq!(failed, ["callback-state"]);
    let notes = report["notes"].to_string();
    assert!(
        notes.contains("--scenario explore-callback-state-redtail"),
        "{notes}"
    );

    // The reference client passes the written scenario; the runner finds it by id.
    let replay = Command::new(BIN)
        .current_dir(dir.path())
        .args(["conformance", "--scenarios-dir", "found"])
        .args([
            "--scenario",
            "explore-callback-state-redtail",
            "--provider",
            "redtail",
        ])
        .args(["--format", "json"])
        .output()
        .unwrap();
    assert!(
        replay.status.success(),
        "{}",
        String::from_utf8_lossy(&replay.stdout)
    );
    let replayed: serde_json::Value = serde_json::from_slice(&replay.stdout).unwrap();
    assert_eq!(replayed["summary"]["passed"], 1);
}

#[test]
fn explore_bad_input_is_a_usage_error() {
    for args in [
        &["explore", "--client", "nope"][..],
        &["explore", "--provider", "nope"][..],
        &["explore", "--cases", "0"][..],
    ] {
        let out = Command::new(BIN).args(args).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!err.contains("panicked"), "{args:?}: {err}");
    }
    let out = Command::new(BIN)
        .args(["explore", "--client", "nope"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("no-state-check") && err.contains("parallel-refresh"),
        "{err}"
    );
}
