//! The `handshake` binary as a user runs it.

use std::io::{BufRead, BufReader};
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
    let (_server, lines) = serve(&["insightly", "--tls"]);
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

#[test]
fn providers_lists_every_profile_with_provenance() {
    let out = Command::new(BIN).arg("providers").output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    for id in ["capsule", "connectwise", "agilecrm", "redtail", "insightly"] {
        assert!(text.contains(id), "{id} missing from:\n{text}");
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
        .args(["serve", "salesforce"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(
        err.contains("no built-in profile named \"salesforce\""),
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
