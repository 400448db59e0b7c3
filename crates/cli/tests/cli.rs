//! The `handshake` binary as a user runs it.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_handshake");

/// Kills the server when the test ends, pass or fail.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `handshake serve ARGS` and returns the process with every stdout line up to the
/// "press Ctrl-C" line.
fn serve(args: &[&str]) -> (Server, Vec<String>) {
    let mut child = Command::new(BIN)
        .arg("serve")
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn handshake");
    let stdout = child.stdout.take().unwrap();
    let server = Server(child);
    let mut lines = Vec::new();
    for line in BufReader::new(stdout).lines() {
        let line = line.unwrap();
        let done = line.contains("press Ctrl-C");
        lines.push(line);
        if done {
            break;
        }
    }
    (server, lines)
}

fn env_value<'a>(lines: &'a [String], key: &str) -> &'a str {
    lines
        .iter()
        .find_map(|l| l.strip_prefix(&format!("{key}=")))
        .unwrap_or_else(|| panic!("no {key}= line in {lines:#?}"))
}

#[tokio::test]
async fn serve_prints_ready_line_and_env_and_answers() {
    let (_server, lines) = serve(&["capsule", "--port", "0", "--auto-approve"]);
    let ready = &lines[0];
    assert!(ready.starts_with("handshake: capsule mock"), "{ready}");
    let base = ready.rsplit(' ').next().unwrap();
    assert!(base.starts_with("http://127.0.0.1:"), "{ready}");

    assert_eq!(env_value(&lines, "OAUTH_CLIENT_ID"), "handshake-client");
    assert_eq!(
        env_value(&lines, "OAUTH_REDIRECT_URI"),
        "http://localhost:3000/callback"
    );
    assert_eq!(
        env_value(&lines, "OAUTH_AUTHORIZE_URL"),
        format!("{base}/oauth/authorise")
    );
    assert_eq!(
        env_value(&lines, "OAUTH_TOKEN_URL"),
        format!("{base}/oauth/token")
    );
    assert_eq!(
        env_value(&lines, "OAUTH_REVOKE_URL"),
        format!("{base}/oauth/revoke")
    );
    assert_eq!(env_value(&lines, "OAUTH_PKCE_METHOD"), "S256");
    assert_eq!(
        env_value(&lines, "CRM_API_URL"),
        format!("{base}/api/v2/parties")
    );

    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let health = http
        .get(format!("{base}/__handshake/healthz"))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), 200);

    // --auto-approve: the authorize endpoint redirects straight back with a code.
    let authorize = format!(
        "{}?response_type=code&client_id=handshake-client&redirect_uri=http%3A%2F%2Flocalhost%3A3000%2Fcallback&state=abc&scope=read",
        env_value(&lines, "OAUTH_AUTHORIZE_URL")
    );
    let res = http.get(authorize).send().await.unwrap();
    assert_eq!(res.status(), 302);
    let location = res.headers()["location"].to_str().unwrap();
    assert!(
        location.starts_with("http://localhost:3000/callback?"),
        "{location}"
    );
    assert!(location.contains("state=abc"), "{location}");
    assert!(location.contains("code="), "{location}");
}

#[tokio::test]
async fn serve_registers_the_given_client() {
    let (_server, lines) = serve(&[
        "redtail",
        "--client-id",
        "my-app",
        "--client-secret",
        "s3cret",
        "--redirect-uri",
        "http://localhost:4000/auth/cb",
        "--redirect-uri",
        "http://localhost:4000/other",
    ]);
    assert_eq!(env_value(&lines, "OAUTH_CLIENT_ID"), "my-app");
    assert_eq!(
        env_value(&lines, "OAUTH_REDIRECT_URI"),
        "http://localhost:4000/auth/cb"
    );
    assert_eq!(env_value(&lines, "OAUTH_PKCE_METHOD"), "none");
    assert_eq!(
        env_value(&lines, "OAUTH_TOKEN_AUTH_METHOD"),
        "client_secret_post"
    );
    assert!(
        lines[0].contains("seed OAuth flow, not documented by the vendor"),
        "{}",
        lines[0]
    );

    let base = lines[0].rsplit(' ').next().unwrap();
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    // The second registered URI is accepted (consent page), an unregistered one is not.
    let ok = http
        .get(format!("{base}/oauth/authorize?response_type=code&client_id=my-app&redirect_uri=http%3A%2F%2Flocalhost%3A4000%2Fother&state=s"))
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);
    let bad = http
        .get(format!("{base}/oauth/authorize?response_type=code&client_id=my-app&redirect_uri=http%3A%2F%2Flocalhost%3A3000%2Fcallback&state=s"))
        .send()
        .await
        .unwrap();
    assert!(bad.status().is_client_error(), "{}", bad.status());
    assert!(bad.headers().get("location").is_none());
}

#[tokio::test]
async fn serve_tls_prints_a_certificate_that_reqwest_trusts() {
    let dir = tempfile::tempdir().unwrap();
    let (_server, lines) = serve(&[
        "insightly",
        "--tls",
        "--tls-dir",
        dir.path().to_str().unwrap(),
    ]);
    let base = lines[0].rsplit(' ').next().unwrap().to_owned();
    assert!(base.starts_with("https://"), "{}", lines[0]);
    let pem_path = env_value(&lines, "NODE_EXTRA_CA_CERTS");
    let pem = std::fs::read(pem_path).unwrap();
    let http = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(&pem).unwrap())
        .build()
        .unwrap();
    let res = http
        .get(format!("{base}/__handshake/healthz"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
}

#[tokio::test]
async fn serve_prints_native_credentials_that_the_api_accepts_and_limits() {
    let (_server, lines) = serve(&[
        "insightly",
        "--api-key",
        "k-from-cli",
        "--seed",
        "9",
        "--rate-limit",
        "2",
    ]);
    assert_eq!(env_value(&lines, "CRM_AUTH_SCHEME"), "basic_api_key");
    assert_eq!(env_value(&lines, "CRM_API_KEY"), "k-from-cli");
    // Only the credentials Insightly's scheme uses are printed.
    for other in [
        "CRM_EMAIL=",
        "CRM_PASSWORD=",
        "CRM_PRIVATE_KEY=",
        "CRM_USERNAME=",
    ] {
        assert!(
            !lines.iter().any(|l| l.starts_with(other)),
            "{other} in {lines:#?}"
        );
    }
    assert!(
        lines
            .iter()
            .any(|l| l == "# API data: 260 records (seed 9); rate limit: 2 requests per 86400 s"),
        "{lines:#?}"
    );
    let api = env_value(&lines, "CRM_API_URL").to_owned();
    let http = reqwest::Client::new();
    let call = || http.get(&api).basic_auth("k-from-cli", Some("")).send();
    let first = call().await.unwrap();
    assert_eq!(first.status(), 200);
    assert_eq!(first.headers()["x-ratelimit-limit"], "2");
    assert_eq!(call().await.unwrap().status(), 200);
    assert_eq!(call().await.unwrap().status(), 429);
    let wrong = http
        .get(&api)
        .basic_auth("handshake-api-key", Some(""))
        .send();
    assert_eq!(wrong.await.unwrap().status(), 401);

    let (_server, lines) = serve(&[
        "connectwise",
        "--integration-client-id",
        "6d1b4a6e-0000-4c1e-9a0b-000000000001",
    ]);
    assert_eq!(
        env_value(&lines, "CRM_AUTH_SCHEME"),
        "connectwise_member_key"
    );
    assert_eq!(env_value(&lines, "CRM_COMPANY_ID"), "handshake");
    assert_eq!(
        env_value(&lines, "CRM_INTEGRATION_CLIENT_ID"),
        "6d1b4a6e-0000-4c1e-9a0b-000000000001"
    );
    assert_eq!(env_value(&lines, "CRM_CLIENT_ID_HEADER"), "clientId");
    let (_server, lines) = serve(&["redtail"]);
    let base = lines[0].rsplit(' ').next().unwrap();
    assert_eq!(
        env_value(&lines, "CRM_AUTHENTICATION_URL"),
        format!("{base}/api/public/v1/authentication")
    );
    assert_eq!(env_value(&lines, "CRM_USERNAME"), "handshake-user");
}

#[test]
fn providers_lists_every_profile_with_provenance() {
    let out = Command::new(BIN).arg("providers").output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    for id in ["capsule", "connectwise", "agilecrm", "redtail", "insightly"] {
        assert!(text.contains(id), "{id} missing from:\n{text}");
    }
    // The CRMs added since, each with its real native scheme.
    for (id, scheme) in [
        ("hubspot", "bearer_token"),
        ("pipedrive", "header_api_key"),
        ("zoho", "oauth"),
        ("salesforce", "oauth"),
        ("dynamics", "oauth"),
    ] {
        let line = text.lines().find(|l| l.starts_with(id));
        assert!(line.is_some_and(|l| l.contains(scheme)), "{id}:\n{text}");
    }
    assert!(text.contains("vendor") && text.contains("seed"), "{text}");

    let out = Command::new(BIN)
        .args(["providers", "--json"])
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let capsule = &v.as_array().unwrap()[0];
    assert_eq!(capsule["id"], "capsule");
    assert_eq!(capsule["oauth_documented"], true);
    assert_eq!(capsule["provenance"]["oauth"]["provenance"], "vendor");
    assert_eq!(v[1]["provenance"]["oauth"]["provenance"], "seed");
}

#[test]
fn unknown_provider_is_a_clear_error() {
    let out = Command::new(BIN)
        .args(["serve", "no-such-crm"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(
        err.contains("no built-in profile named \"no-such-crm\""),
        "{err}"
    );
    assert!(err.contains("capsule"), "{err}");
}

#[test]
fn malformed_profile_names_file_key_and_reason() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("my-crm.toml");
    let capsule = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../fixtures/providers/capsule.toml"
    ))
    .unwrap();
    std::fs::write(
        &path,
        capsule.replace("mode = \"optional\"", "mode = \"sometimes\""),
    )
    .unwrap();
    let out = Command::new(BIN)
        .args(["serve", "--profile"])
        .arg(&path)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains("my-crm.toml"), "{err}");
    assert!(err.contains("pkce.mode"), "{err}");
    assert!(err.contains("sometimes"), "{err}");
}

#[test]
fn bad_redirect_uri_is_rejected_before_start() {
    let out = Command::new(BIN)
        .args([
            "serve",
            "capsule",
            "--redirect-uri",
            "http://localhost/cb#frag",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains("fragment"), "{err}");
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Starts the Python fixture app with the `.env` lines `serve` printed, waits for its
/// "listening" line.
fn start_python_app(env_lines: &[String], port: u16, flaw: &str) -> Server {
    let app = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../fixtures/apps/python/app.py"
    );
    let mut cmd = Command::new("python3");
    cmd.arg(app).env("PORT", port.to_string()).env("FLAW", flaw);
    for line in env_lines
        .iter()
        .filter(|l| !l.starts_with('#') && l.contains('='))
    {
        let (k, v) = line.split_once('=').unwrap();
        cmd.env(k, v.trim_matches('"'));
    }
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("python3");
    let stdout = child.stdout.take().unwrap();
    let server = Server(child);
    // Flawed builds announce themselves first; wait for the listening line.
    let ready = BufReader::new(stdout)
        .lines()
        .map(Result::unwrap)
        .find(|l| l.starts_with("listening on"));
    assert!(ready.is_some(), "the app exited before listening");
    server
}

/// The README's workflow: `serve` prints the app's settings, the app starts with them, then
/// `check-client` takes the mock's port and judges the app.
fn check_python_app(flaw: &str) -> (std::process::Output, serde_json::Value) {
    let mock_port = free_port();
    let app_port = free_port();
    let redirect = format!("http://127.0.0.1:{app_port}/callback");
    let (serve, lines) = serve(&[
        "capsule",
        "--port",
        &mock_port.to_string(),
        "--redirect-uri",
        &redirect,
    ]);
    drop(serve);
    let _app = start_python_app(&lines[1..], app_port, flaw);
    let dir = tempfile::tempdir().unwrap();
    let report = dir.path().join("report.json");
    let out = Command::new(BIN)
        .args([
            "check-client",
            "--provider",
            "capsule",
            "--mock-port",
            &mock_port.to_string(),
        ])
        .args(["--login-url", &format!("http://127.0.0.1:{app_port}/login")])
        .args(["--api-url", &format!("http://127.0.0.1:{app_port}/api")])
        .args([
            "--list-url",
            &format!("http://127.0.0.1:{app_port}/contacts"),
        ])
        .args([
            "--logout-url",
            &format!("http://127.0.0.1:{app_port}/logout"),
        ])
        .args(["--redirect-uri", &redirect, "--format", "json", "--output"])
        .arg(&report)
        .output()
        .unwrap();
    let json = serde_json::from_str(&std::fs::read_to_string(&report).unwrap_or_else(|_| {
        panic!(
            "no report; stderr: {}",
            String::from_utf8_lossy(&out.stderr)
        )
    }))
    .unwrap();
    (out, json)
}

#[test]
fn check_client_passes_a_correct_app() {
    let (out, report) = check_python_app("");
    let failed: Vec<_> = report["cases"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["status"] != "passed")
        .collect();
    assert!(failed.is_empty(), "{failed:#?}");
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stderr).contains("0 failed"));
}

#[test]
fn check_client_fails_an_app_that_leaks_the_code() {
    let (out, report) = check_python_app("code_in_url");
    assert_eq!(out.status.code(), Some(1), "{report:#}");
    let failed: Vec<_> = report["cases"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["status"] == "failed")
        .map(|c| c["scenario"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(failed, ["code-referer-leak"], "{report:#}");
}

#[test]
fn check_client_rejects_a_login_url_that_is_not_a_url() {
    let out = Command::new(BIN)
        .args([
            "check-client",
            "--provider",
            "capsule",
            "--mock-port",
            "1",
            "--login-url",
            "localhost:3000/login",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--login-url"));
}

#[test]
fn check_client_rejects_mock_port_zero() {
    // Port 0 would start the mock on a port the app was never told about: every check
    // would fail for a reason that has nothing to do with the app.
    let out = Command::new(BIN)
        .args([
            "check-client",
            "--provider",
            "capsule",
            "--mock-port",
            "0",
            "--login-url",
            "http://127.0.0.1:3000/login",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--mock-port"));
}

// ---- handshake conformance ----------------------------------------------------------------------

/// The installed binary runs the matrix from an empty directory: scenarios and profiles are
/// embedded.
#[test]
fn conformance_runs_from_an_empty_directory() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(BIN)
        .current_dir(dir.path())
        .args(["conformance", "--provider", "redtail", "--format", "json"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let cases = report["cases"].as_array().unwrap();
    assert!(
        cases.len() >= 35,
        "every built-in scenario, got {}",
        cases.len()
    );
    assert!(cases.iter().all(|c| c["provider"] == "redtail"));
    assert_eq!(report["summary"]["failed"], 0);
}

/// `--scenarios-dir` adds scenarios and replaces built-ins of the same name.
#[test]
fn conformance_scenarios_dir_adds_and_replaces() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("happy-path.toml"),
        "title = \"replaced\"\nrfc = \"RFC 6749 §4.1\"\n[[steps]]\naction = \"authorize\"\nexpect = \"ok\"\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("my-own.toml"),
        "title = \"mine\"\nrfc = \"RFC 6749 §4.1\"\n[[steps]]\naction = \"authorize\"\nexpect = \"ok\"\n",
    )
    .unwrap();
    let out = Command::new(BIN)
        .args(["conformance", "--provider", "capsule", "--format", "json"])
        .args(["--scenario", "happy-path", "--scenario", "my-own"])
        .arg("--scenarios-dir")
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let titles: Vec<&str> = report["cases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["title"].as_str().unwrap())
        .collect();
    assert_eq!(titles, ["replaced", "mine"]);
}

#[test]
fn conformance_runs_the_matrix_against_a_crm_added_as_a_profile_file() {
    // A new CRM that reuses Capsule's schemes and paging: only its id and name differ.
    let capsule = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/providers/capsule.toml"),
    )
    .unwrap();
    let acme = capsule
        .replacen("id = \"capsule\"", "id = \"acme\"", 1)
        .replacen("name = \"Capsule CRM\"", "name = \"Acme CRM\"", 1);
    assert!(
        acme.contains("id = \"acme\""),
        "capsule.toml's id line moved"
    );
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("acme.toml");
    std::fs::write(&file, acme).unwrap();
    let out = Command::new(BIN)
        .args(["conformance", "--format", "json", "--profile"])
        .arg(&file)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: serde_json::Value = serde_json::from_str(&text).unwrap();
    let cases = report["cases"].as_array().unwrap();
    assert!(!cases.is_empty());
    assert!(cases.iter().all(|c| c["provider"] == "acme"), "{text}");
    assert!(cases.iter().any(|c| c["status"] == "passed"), "{text}");
    assert!(cases.iter().all(|c| c["status"] != "failed"), "{text}");
}

#[test]
fn conformance_bad_input_is_a_usage_error() {
    for args in [
        &["conformance", "--form-field", "no-equals-sign"][..],
        &["conformance", "--provider", "nope"][..],
        &["conformance", "--scenario", "nope"][..],
        &["conformance", "--profile", "x.toml"][..],
    ] {
        let out = Command::new(BIN).args(args).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!err.contains("panicked"), "{args:?}: {err}");
    }
    for (value, why) in [
        ("0/3", "K must be between 1 and N (3)"),
        ("4/3", "K must be between 1 and N (3)"),
        ("1/0", "N must be at least 1"),
        ("x/3", "is not a whole number"),
        ("2", "expected K/N"),
    ] {
        let out = Command::new(BIN)
            .args(["conformance", "--partition", value])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "--partition {value}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains(why) && err.contains(value),
            "--partition {value}: {err}"
        );
        assert!(out.stdout.is_empty(), "nothing ran for --partition {value}");
    }
}

/// `--partition K/N`: each job's JUnit file holds its share, skipped cases included, and the
/// N files together hold every case of the matrix exactly once.
#[test]
fn conformance_partitions_write_junit_files_that_together_cover_the_matrix() {
    let dir = tempfile::tempdir().unwrap();
    let run = |args: &[&str], file: &str| {
        let path = dir.path().join(file);
        let out = Command::new(BIN)
            .args([
                "conformance",
                "--provider",
                "redtail",
                "--provider",
                "capsule",
            ])
            .args(["--scenario", "happy-path", "--scenario", "pkce-s256"])
            .args([
                "--scenario",
                "logout-revokes",
                "--format",
                "junit",
                "--output",
            ])
            .arg(&path)
            .args(args)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let xml = std::fs::read_to_string(&path).unwrap();
        let mut cases: Vec<String> = xml
            .split("<testcase ")
            .skip(1)
            .map(|tc| {
                let attr = |name: &str| {
                    // " name=" with its space, not the end of " classname=".
                    let start = tc.find(&format!(" {name}=\"")).unwrap() + name.len() + 3;
                    tc[start..][..tc[start..].find('"').unwrap()].to_owned()
                };
                format!("{} {}", attr("classname"), attr("name"))
            })
            .collect();
        cases.sort();
        (cases, xml.matches("<skipped").count())
    };
    let (whole, whole_skipped) = run(&[], "whole.xml");
    assert_eq!(whole.len(), 6, "{whole:?}");
    assert!(whole_skipped > 0, "pkce-s256 is skipped on redtail");
    let mut union = Vec::new();
    let mut skipped = 0;
    for k in 1..=3 {
        let (share, s) = run(&["--partition", &format!("{k}/3")], &format!("{k}.xml"));
        assert_eq!(share.len(), 2, "{k}/3: {share:?}");
        union.extend(share);
        skipped += s;
    }
    union.sort();
    assert_eq!(union, whole);
    assert_eq!(skipped, whole_skipped);
}

#[test]
fn providers_json_into_a_closed_pipe_is_not_a_panic() {
    // A pipe whose reader is gone before the first write, as with `| true`: every write
    // fails with EPIPE, deterministically.
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let out = Command::new(BIN)
        .args(["providers", "--json"])
        .stdout(writer)
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!err.contains("panicked"), "{err}");
    assert!(out.status.success(), "{err}");
}

// ---- check-client --app-cmd: exit codes and expected failures -----------------------------------

/// `check-client --app-cmd` on the Python fixture app: the exit code and the JSON report.
fn check_with_app_cmd(flaw: &str, extra: &[&str]) -> (Option<i32>, String, String) {
    let app_port = free_port();
    let base = format!("http://127.0.0.1:{app_port}");
    let apps = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/apps/python");
    let out = Command::new(BIN)
        .args(["check-client", "--provider", "capsule"])
        .args(["--app-cmd", "python3 app.py"])
        .arg("--app-dir")
        .arg(&apps)
        .args(["--app-env", &format!("FLAW={flaw}")])
        .args(["--login-url", &format!("{base}/login")])
        .args(["--api-url", &format!("{base}/api")])
        .args(["--logout-url", &format!("{base}/logout")])
        .args(["--format", "json"])
        .args(extra)
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn check_client_app_cmd_exit_codes() {
    // A correct app: 0, with no port to agree on (the app gets the mock's URLs).
    let (code, stdout, stderr) = check_with_app_cmd("", &[]);
    assert_eq!(code, Some(0), "{stdout}\n{stderr}");
    let report: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    let survives = report["cases"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["scenario"] == "app-survives")
        .unwrap();
    assert_eq!(survives["status"], "passed");
    // A flawed app: 1.
    let (code, stdout, _) = check_with_app_cmd("code_in_url", &[]);
    assert_eq!(code, Some(1), "{stdout}");
    // The same, with its flaw accepted as a known deviation: 0.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("expected.toml");
    std::fs::write(
        &file,
        "[[expected_failure]]\nprovider = \"capsule\"\nscenario = \"code-referer-leak\"\nwhy = \"fixed in #42\"\n",
    )
    .unwrap();
    let (code, stdout, _) = check_with_app_cmd(
        "code_in_url",
        &["--expected-failures", file.to_str().unwrap()],
    );
    assert_eq!(code, Some(0), "{stdout}");
    assert!(stdout.contains("fixed in #42"), "{stdout}");
}

#[test]
fn check_client_on_an_app_that_is_not_running_is_a_setup_error() {
    let port = free_port();
    let out = Command::new(BIN)
        .args(["check-client", "--provider", "capsule"])
        .args(["--mock-port", &free_port().to_string()])
        .args(["--login-url", &format!("http://127.0.0.1:{port}/login")])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!(
            "the app is not reachable at http://127.0.0.1:{port}/login"
        )),
        "{err}"
    );
    // An --app-cmd that exits at once is a setup error too, with its output.
    let out = Command::new(BIN)
        .args(["check-client", "--provider", "capsule"])
        .args(["--app-cmd", "echo no config here >&2; exit 3"])
        .args(["--login-url", &format!("http://127.0.0.1:{port}/login")])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("exited (exit status 3)"), "{err}");
}

#[tokio::test]
async fn serve_host_takes_a_name_that_resolves_to_loopback() {
    let (_server, lines) = serve(&["capsule", "--host", "localhost", "--port", "0"]);
    let base = lines[0].rsplit(' ').next().unwrap().to_owned();
    assert!(
        base.starts_with("http://127.0.0.1:") || base.starts_with("http://[::1]:"),
        "{base}"
    );
    let health = reqwest::get(format!("{base}/__handshake/healthz"))
        .await
        .unwrap();
    assert_eq!(health.status(), 200);
    let out = Command::new(BIN)
        .args(["serve", "capsule", "--host", "no-such-host.invalid"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no-such-host.invalid"));
}

// ---- check-client --mock-url: a running `serve` ----------------------------------------------------

/// No "serve, read the .env, stop, start check-client on the same port": check-client drives
/// the running `serve` through its control API, and starts the app with its settings.
#[tokio::test]
async fn check_client_drives_a_running_serve_by_url() {
    let app_port = free_port();
    let app = format!("http://127.0.0.1:{app_port}");
    let (_serve, lines) = serve(&[
        "capsule",
        "--port",
        "0",
        "--redirect-uri",
        &format!("{app}/callback"),
    ]);
    let base = lines[0].rsplit(' ').next().unwrap().to_owned();
    let apps = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/apps/python");
    let out = Command::new(BIN)
        .args(["check-client", "--mock-url", &base])
        .args(["--app-cmd", "python3 app.py"])
        .arg("--app-dir")
        .arg(&apps)
        .args(["--login-url", &format!("{app}/login")])
        .args(["--api-url", &format!("{app}/api")])
        .args(["--logout-url", &format!("{app}/logout")])
        .args(["--list-url", &format!("{app}/contacts")])
        .args(["--format", "json"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let cases = report["cases"].as_array().unwrap();
    assert!(
        cases
            .iter()
            .all(|c| c["status"] == "passed" && c["provider"] == "capsule"),
        "{report:#}"
    );
    // The mock is still running, and kept its journal.
    let journal: Vec<serde_json::Value> = reqwest::get(format!("{base}/__handshake/journal"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(journal.len() > 20, "{journal:?}");
}

#[test]
fn check_client_mock_url_where_nothing_answers_is_a_setup_error() {
    let port = free_port();
    let out = Command::new(BIN)
        .args([
            "check-client",
            "--mock-url",
            &format!("http://127.0.0.1:{port}"),
        ])
        .args(["--login-url", "http://127.0.0.1:3000/login"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!("no handshake mock at http://127.0.0.1:{port}/")),
        "{err}"
    );
    // It names where a mock comes from, and --mock-port cannot be given with it.
    assert!(err.contains("handshake serve"), "{err}");
    let out = Command::new(BIN)
        .args([
            "check-client",
            "--mock-url",
            &format!("http://127.0.0.1:{port}"),
        ])
        .args([
            "--mock-port",
            "8080",
            "--login-url",
            "http://127.0.0.1:3000/login",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot be used with"));
}
