//! Interoperability: OAuth clients nobody on this project wrote (simple-oauth2, openid-client and
//! passport-oauth2 from npm, Authlib and requests-oauthlib from PyPI) run the whole flow against
//! `handshake serve <crm>`, configured only by the `.env` lines it prints. Each script is in
//! `interop/clients/`; this test starts the mock, runs the script, and then judges the mock's
//! journal: what the library really sent.
//!
//! The packages are installed by `interop/setup.sh` (CI runs it). When they are missing the
//! tests print a loud SKIPPED and pass, unless `HANDSHAKE_INTEROP_REQUIRED=1` (set by
//! `interop/run.sh` after a successful install), which turns a missing package into a failure.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_handshake");
/// The built-in CRMs the third-party clients run against at their default settings: all but
/// two whose documented behaviour those defaults cannot meet. Salesforce sends no
/// `expires_in` (the scripts assert one) and Zoho issues a refresh token only when the
/// authorization request carries `access_type=offline` (the libraries send no extra
/// parameter by default). Both are covered by the scenario matrix with the reference client.
const NEEDS_CRM_SETTINGS: [&str; 2] = ["salesforce", "zoho"];

fn crms() -> Vec<&'static str> {
    handshake_profile::builtin_ids()
        .into_iter()
        .filter(|id| !NEEDS_CRM_SETTINGS.contains(id))
        .collect()
}

fn interop_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../interop")
}

/// The interpreter and script of one third-party client, or `None` (after a loud SKIPPED)
/// when its packages are not installed and the run does not require them.
fn client(kind: &str) -> Option<(PathBuf, PathBuf)> {
    let dir = interop_dir();
    let (interp, script, marker) = match kind {
        "simple-oauth2" | "openid-client" | "passport-oauth2" => (
            PathBuf::from("node"),
            dir.join(format!("clients/{kind}.mjs")),
            dir.join(format!("node_modules/{kind}/package.json")),
        ),
        "authlib" | "requests-oauthlib" => (
            dir.join(".venv/bin/python"),
            dir.join(format!("clients/{}_flow.py", kind.replace('-', "_"))),
            dir.join(".venv/bin/python"),
        ),
        other => panic!("unknown client {other}"),
    };
    // A Python venv can exist without this client's packages: import them, not just run.
    let probe: &[&str] = match kind {
        "authlib" => &["-c", "import authlib, requests"],
        "requests-oauthlib" => &["-c", "import requests_oauthlib, oauthlib"],
        _ => &["--version"],
    };
    let works = marker.exists()
        && Command::new(&interp)
            .args(probe)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
    if works {
        return Some((interp, script));
    }
    if std::env::var("HANDSHAKE_INTEROP_REQUIRED").as_deref() == Ok("1") {
        panic!(
            "{kind} is not installed ({} missing) but HANDSHAKE_INTEROP_REQUIRED=1",
            marker.display()
        );
    }
    eprintln!("!!! SKIPPED: {kind} interop test: run `bash interop/setup.sh` to install it");
    None
}

/// Kills the mock when the case ends, pass or fail.
struct Serve {
    child: Child,
    base: String,
    env: Vec<(String, String)>,
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn serve(crm: &str) -> Serve {
    let mut child = Command::new(BIN)
        .args(["serve", crm, "--auto-approve", "--port", "0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn handshake serve");
    let stdout = child.stdout.take().expect("stdout");
    let mut serve = Serve {
        child,
        base: String::new(),
        env: Vec::new(),
    };
    for line in BufReader::new(stdout).lines() {
        let line = line.expect("read serve output");
        if line.starts_with("handshake: ") && line.contains(" ready at ") {
            serve.base = line.rsplit(' ').next().unwrap_or_default().to_owned();
        } else if let Some((k, v)) = line.split_once('=') {
            if !k.starts_with('#') && k.chars().all(|c| c.is_ascii_uppercase() || c == '_') {
                serve.env.push((k.to_owned(), v.to_owned()));
            }
        }
        if line.contains("press Ctrl-C") {
            break;
        }
    }
    assert!(
        serve.base.starts_with("http://127.0.0.1:"),
        "no ready line from serve {crm}"
    );
    serve
}

impl Serve {
    fn var(&self, key: &str) -> &str {
        self.env
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
            .unwrap_or_else(|| panic!("serve printed no {key}= line"))
    }

    fn journal(&self) -> Vec<Value> {
        let url = format!("{}/__handshake/journal", self.base);
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        rt.block_on(async {
            let http = reqwest::Client::builder()
                .no_proxy()
                .build()
                .expect("client");
            let resp = http.get(&url).send().await.expect("GET journal");
            assert!(
                resp.status().is_success(),
                "journal answered {}",
                resp.status()
            );
            resp.json().await.expect("journal is JSON")
        })
    }
}

struct Run {
    code: i32,
    stdout: String,
}

fn run_client(interp: &Path, script: &Path, serve: &Serve, extra_env: &[(&str, &str)]) -> Run {
    let out = Command::new(interp)
        .arg(script)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .envs(serve.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .envs(extra_env.iter().copied())
        .output()
        .expect("run the interop client");
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned()
            + &String::from_utf8_lossy(&out.stderr),
    }
}

fn param<'a>(entry: &'a Value, list: &str, key: &str) -> Option<&'a str> {
    entry[list]
        .as_array()?
        .iter()
        .find(|kv| kv[0] == key)
        .and_then(|kv| kv[1].as_str())
}

/// What a client's token requests must look like where that is not what the `.env` lines say
/// (`None`: as they say).
#[derive(Clone, Copy, Default)]
struct Wire {
    /// Client authentication of every token request (`OAUTH_TOKEN_AUTH_METHOD` otherwise).
    client_auth: Option<&'static str>,
    /// Content type of every token request (from `OAUTH_TOKEN_ENCODING` otherwise).
    content_type: Option<&'static str>,
}

/// What the library sent, judged from the mock's journal. Returns the first problem.
fn judge_wire(serve: &Serve, journal: &[Value], wire: Wire) -> Result<(), String> {
    let of = |ep: &'static str| journal.iter().filter(move |e| e["endpoint"] == ep);
    let authz = of("authorize").next().ok_or("no authorization request")?;
    if param(authz, "query", "state").is_none_or(|s| s.len() < 16) {
        return Err("authorization request without a strong state".into());
    }
    let pkce = serve.var("OAUTH_PKCE_METHOD");
    if pkce != "none" && param(authz, "query", "code_challenge_method") != Some(pkce) {
        return Err(format!("authorization request without PKCE {pkce}"));
    }
    let auth = wire
        .client_auth
        .unwrap_or_else(|| serve.var("OAUTH_TOKEN_AUTH_METHOD"));
    let ctype = wire
        .content_type
        .unwrap_or(match serve.var("OAUTH_TOKEN_ENCODING") {
            "json" => "application/json",
            _ => "application/x-www-form-urlencoded",
        });
    for e in of("token") {
        if e["client_auth"] != auth {
            return Err(format!(
                "token request with client auth {}, want {auth}",
                e["client_auth"]
            ));
        }
        if !param(e, "headers", "content-type").is_some_and(|c| c.starts_with(ctype)) {
            return Err(format!("token request not sent as {ctype}"));
        }
    }
    let ok = |grant: &str| of("token").any(|e| e["grant_type"] == grant && e["status"] == 200);
    if !ok("authorization_code") {
        return Err("no successful code exchange".into());
    }
    if pkce != "none"
        && !of("token").any(|e| {
            e["grant_type"] == "authorization_code" && param(e, "params", "code_verifier").is_some()
        })
    {
        return Err("code exchange without code_verifier".into());
    }
    if !ok("refresh_token") {
        return Err("no successful refresh".into());
    }
    if !of("api").any(|e| e["status"] == 200) {
        return Err("no successful API call".into());
    }
    if !serve.var("OAUTH_REVOKE_URL").is_empty() {
        if of("revoke").filter(|e| e["status"] == 200).count() < 2 {
            return Err("access and refresh tokens not both revoked".into());
        }
        if !of("api").any(|e| e["status"] == 401) {
            return Err("no API call with the revoked token".into());
        }
    }
    Ok(())
}

/// Runs one client against every CRM, all at once, and reports every failure together.
fn run_matrix(kind: &str, applies: impl Fn(&Serve) -> bool + Sync) {
    run_matrix_judged(kind, applies, |_, _| Ok(()));
}

/// As `run_matrix`, with `judge_more` run on the journal after `judge_wire` passes.
fn run_matrix_judged(
    kind: &str,
    applies: impl Fn(&Serve) -> bool + Sync,
    judge_more: impl Fn(&Serve, &[Value]) -> Result<(), String> + Sync,
) {
    run_cases(kind, &crms(), &[], Wire::default(), applies, judge_more);
}

/// As `run_matrix_judged`, against `crms` only, with `extra_env` beside the `.env` lines and
/// token requests judged by `wire`.
fn run_cases(
    kind: &str,
    crms: &[&str],
    extra_env: &[(&str, &str)],
    wire: Wire,
    applies: impl Fn(&Serve) -> bool + Sync,
    judge_more: impl Fn(&Serve, &[Value]) -> Result<(), String> + Sync,
) {
    let Some((interp, script)) = client(kind) else {
        return;
    };
    let failures: Vec<String> = std::thread::scope(|s| {
        let handles: Vec<_> = crms
            .iter()
            .map(|crm| {
                let (interp, script, applies, judge_more) =
                    (&interp, &script, &applies, &judge_more);
                s.spawn(move || {
                    let serve = serve(crm);
                    let run = run_client(interp, script, &serve, extra_env);
                    if !applies(&serve) {
                        // The library cannot express this CRM's quirks: the script must say so.
                        return (run.code != 3).then(|| {
                            format!(
                                "{kind} × {crm}: expected `unsupported` (exit 3), got {}:\n{}",
                                run.code, run.stdout
                            )
                        });
                    }
                    if run.code != 0 || !run.stdout.trim_end().ends_with("ok") {
                        return Some(format!(
                            "{kind} × {crm}: exit {}:\n{}",
                            run.code, run.stdout
                        ));
                    }
                    let journal = serve.journal();
                    judge_wire(&serve, &journal, wire)
                        .and_then(|()| judge_more(&serve, &journal))
                        .err()
                        .map(|why| format!("{kind} × {crm}: {why}"))
                })
            })
            .collect();
        handles
            .into_iter()
            .filter_map(|h| h.join().expect("case thread"))
            .collect()
    });
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn simple_oauth2_runs_the_full_flow_against_every_crm() {
    // simple-oauth2's defaults: form bodies, Basic (authorizationMethod 'header'), or 'body'
    // where the profile says client_secret_post.
    run_matrix("simple-oauth2", |_| true);
}

#[test]
fn simple_oauth2_json_bodies_where_the_mock_also_accepts_them() {
    // An extra case: bodyFormat 'json' against the two mocks that also take the seed posts'
    // JSON token and revocation bodies.
    let wire = Wire {
        content_type: Some("application/json"),
        ..Wire::default()
    };
    let env = [("SIMPLE_OAUTH2_BODY_FORMAT", "json")];
    run_cases(
        "simple-oauth2",
        &["connectwise", "agilecrm"],
        &env,
        wire,
        |_| true,
        |_, _| Ok(()),
    );
}

#[test]
fn openid_client_runs_the_full_flow_against_every_crm() {
    // openid-client's defaults: form bodies, ClientSecretBasic or ClientSecretPost per the
    // profile; RFC 8414 discovery on Capsule, /__handshake/metadata elsewhere.
    run_matrix("openid-client", |_| true);
}

/// passport-oauth2 refuses the forged-state and replayed callbacks itself: exactly one code
/// exchange reaches the token endpoint, and every revocation is authenticated as its token
/// requests are (client_secret_post).
fn judge_passport(_serve: &Serve, journal: &[Value]) -> Result<(), String> {
    let exchanges = journal
        .iter()
        .filter(|e| e["endpoint"] == "token" && e["grant_type"] == "authorization_code")
        .count();
    if exchanges != 1 {
        return Err(format!(
            "{exchanges} code exchanges, want 1: a forged or replayed callback reached the token endpoint"
        ));
    }
    if let Some(e) = journal
        .iter()
        .find(|e| e["endpoint"] == "revoke" && e["client_auth"] != "client_secret_post")
    {
        return Err(format!("revocation with client auth {}", e["client_auth"]));
    }
    Ok(())
}

#[test]
fn passport_oauth2_runs_the_full_flow_against_every_crm() {
    // passport-oauth2's defaults (plus state: true, and PKCE where the profile has it): form
    // bodies with the secret in the body on every CRM, whatever OAUTH_TOKEN_AUTH_METHOD prefers.
    let wire = Wire {
        client_auth: Some("client_secret_post"),
        ..Wire::default()
    };
    run_cases(
        "passport-oauth2",
        &crms(),
        &[],
        wire,
        |_| true,
        judge_passport,
    );
}

/// The Python clients run with their defaults, so every token and revocation request must be an
/// RFC 6749 form body (whatever `OAUTH_TOKEN_ENCODING` says) authenticated the profile's way,
/// and the replayed code must have been refused.
fn judge_python_defaults(serve: &Serve, journal: &[Value]) -> Result<(), String> {
    let auth = serve.var("OAUTH_TOKEN_AUTH_METHOD");
    for e in journal
        .iter()
        .filter(|e| e["endpoint"] == "token" || e["endpoint"] == "revoke")
    {
        let what = format!(
            "{} request #{}",
            e["endpoint"].as_str().unwrap_or("?"),
            e["seq"]
        );
        if !param(e, "headers", "content-type")
            .is_some_and(|c| c.starts_with("application/x-www-form-urlencoded"))
        {
            return Err(format!("{what} is not a form body"));
        }
        if e["client_auth"] != auth {
            return Err(format!(
                "{what} authenticated with {}, want {auth}",
                e["client_auth"]
            ));
        }
        if auth == "client_secret_basic" && param(e, "params", "client_secret").is_some() {
            return Err(format!(
                "{what} sent the secret in the body as well as in Basic"
            ));
        }
    }
    let codes = |status: u64| {
        journal
            .iter()
            .filter(|e| e["grant_type"] == "authorization_code" && e["status"] == status)
            .count()
    };
    if codes(400) == 0 || codes(200) < 2 {
        return Err("no refused replay of a code between two successful exchanges".into());
    }
    Ok(())
}

#[test]
fn authlib_runs_the_full_flow_against_every_crm() {
    // Authlib's defaults: form bodies, client_secret_basic or _post per the profile.
    run_matrix_judged("authlib", |_| true, judge_python_defaults);
}

#[test]
fn requests_oauthlib_runs_the_full_flow_against_every_crm() {
    // requests-oauthlib's defaults: form bodies, Basic or include_client_id per the profile.
    run_matrix_judged("requests-oauthlib", |_| true, judge_python_defaults);
}
