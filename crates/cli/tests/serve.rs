//! `handshake serve`'s request log (text and JSON lines), `--quiet`, and `--tls` with a CA
//! kept across restarts, as a user (or a Node/Python binding) runs them.

use std::io::{BufRead, BufReader, Lines};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

const BIN: &str = env!("CARGO_BIN_EXE_handshake");

/// A running `serve`, killed when the test ends; its stdout is read on a thread.
struct Serve {
    child: Child,
    lines: mpsc::Receiver<String>,
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn read_lines(out: Lines<BufReader<ChildStdout>>, tx: mpsc::Sender<String>) {
    for line in out {
        let Ok(line) = line else { return };
        if tx.send(line).is_err() {
            return;
        }
    }
}

impl Serve {
    fn start(args: &[&str]) -> Serve {
        let mut child = Command::new(BIN)
            .arg("serve")
            .args(args)
            .env("NO_COLOR", "1")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn handshake");
        let out = BufReader::new(child.stdout.take().unwrap()).lines();
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || read_lines(out, tx));
        Serve { child, lines }
    }

    /// The next stdout line, within 10 s.
    fn line(&self) -> String {
        self.lines
            .recv_timeout(Duration::from_secs(10))
            .expect("a line on stdout within 10 s")
    }

    /// Lines up to and including the one `until` matches.
    fn lines_until(&self, until: impl Fn(&str) -> bool) -> Vec<String> {
        let mut out = Vec::new();
        loop {
            let l = self.line();
            let done = until(&l);
            out.push(l);
            if done {
                return out;
            }
        }
    }

    /// Stops the server and returns what it printed that was not read yet.
    fn stop(mut self) -> Vec<String> {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let mut rest = Vec::new();
        while let Ok(l) = self.lines.recv_timeout(Duration::from_secs(5)) {
            rest.push(l);
        }
        rest
    }
}

const SECRETS: [&str; 3] = [
    "handshake-secret",
    "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk",
    "a-code-nobody-issued",
];

/// A token request with an unknown code (and the verifier), and an API call with a token in
/// the query string.
async fn refusals(base: &str) {
    let http = reqwest::Client::new();
    let resp = http
        .post(format!("{base}/oauth/token"))
        .basic_auth("handshake-client", Some("handshake-secret"))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", SECRETS[2]),
            ("code_verifier", SECRETS[1]),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    let resp = http
        .get(format!("{base}/api/v2/parties?access_token={}", SECRETS[2]))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
}

#[tokio::test]
async fn the_text_log_has_one_line_per_request_with_the_reason_and_no_secret() {
    let serve = Serve::start(&["capsule", "--port", "0"]);
    let header = serve.lines_until(|l| l.contains("press Ctrl-C"));
    let base = header[0].rsplit(' ').next().unwrap().to_owned();
    assert!(header
        .iter()
        .any(|l| l.starts_with("# live page: ") && l.contains(&format!("{base}/__handshake/"))));
    refusals(&base).await;
    let token = serve.line();
    let api = serve.line();
    for line in [&token, &api] {
        assert!(!line.contains('\u{1b}'), "colour into a pipe: {line:?}");
        for s in SECRETS {
            assert!(!line.contains(s), "{s} in {line}");
        }
    }
    assert!(
        token.contains(
            " token     POST /oauth/token 400 invalid_grant: authorization code is invalid"
        ),
        "{token}"
    );
    assert!(
        api.contains("GET /api/v2/parties?access_token=[redacted:")
            && api.contains("401 invalid_token: no Authorization header: the access token was sent in the query string"),
        "{api}"
    );
    // HH:MM:SS.mmmZ first.
    let time = token.split(' ').next().unwrap();
    assert_eq!(time.len(), 13, "{token}");
    assert!(time.ends_with('Z') && time.as_bytes()[2] == b':', "{token}");
}

#[tokio::test]
async fn json_lines_start_with_a_ready_line_a_binding_can_configure_an_app_from() {
    let serve = Serve::start(&["redtail", "--port", "0", "--log-format", "json"]);
    let ready: serde_json::Value = serde_json::from_str(&serve.line()).unwrap();
    assert_eq!(ready["event"], "ready");
    assert_eq!(ready["schema_version"], 1);
    assert_eq!(ready["provider"], "redtail");
    let url = ready["url"].as_str().unwrap().to_owned();
    assert!(url.starts_with("http://127.0.0.1:") && !url.ends_with('/'));
    assert_eq!(ready["page"], format!("{url}/__handshake/"));
    assert_eq!(ready["ca_cert"], serde_json::Value::Null);
    let env = ready["env"].as_object().unwrap();
    assert_eq!(env["OAUTH_TOKEN_URL"], format!("{url}/oauth/token"));
    assert_eq!(env["OAUTH_SCOPES"], "read write", "unquoted in JSON");
    assert_eq!(env["CRM_AUTH_SCHEME"], "redtail_user_key");
    assert!(env.values().all(|v| v.is_string()));

    // Every later line is a JSON request line.
    let http = reqwest::Client::new();
    let resp = http
        .post(format!("{url}/oauth/token"))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", SECRETS[2]),
            ("client_id", "handshake-client"),
            ("client_secret", "handshake-secret"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    let line = serve.line();
    for s in SECRETS {
        assert!(!line.contains(s), "{s} in {line}");
    }
    let request: serde_json::Value = serde_json::from_str(&line).unwrap();
    assert_eq!(request["event"], "request");
    assert_eq!(request["endpoint"], "token");
    assert_eq!(request["status"], 400);
    assert_eq!(request["error"], "invalid_grant");
    assert_eq!(request["client_auth"], "client_secret_post");
    assert!(request["time"].as_str().unwrap().ends_with('Z'));
}

#[tokio::test]
async fn quiet_prints_the_ready_lines_and_no_request_log() {
    let serve = Serve::start(&["capsule", "--port", "0", "--quiet"]);
    let header = serve.lines_until(|l| l.contains("press Ctrl-C"));
    assert!(!header.iter().any(|l| l.contains("request log below")));
    let base = header[0].rsplit(' ').next().unwrap().to_owned();
    refusals(&base).await;
    // The page still shows them.
    let page = reqwest::get(format!("{base}/__handshake/"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("authorization code is invalid"));
    assert_eq!(serve.stop(), Vec::<String>::new());
}

#[tokio::test]
async fn tls_keeps_its_ca_so_an_app_that_trusts_it_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let tls_dir = dir.path().join("ca");
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port().to_string()
    };
    let args = [
        "insightly",
        "--port",
        &port,
        "--tls",
        "--tls-dir",
        tls_dir.to_str().unwrap(),
        "--log-format",
        "json",
    ];
    let first = Serve::start(&args);
    let ready: serde_json::Value = serde_json::from_str(&first.line()).unwrap();
    let ca = ready["ca_cert"].as_str().unwrap().to_owned();
    assert_eq!(ca, tls_dir.join("ca.pem").display().to_string());
    assert_eq!(ready["env"]["NODE_EXTRA_CA_CERTS"], ca.as_str());
    let pem = std::fs::read(&ca).unwrap();
    let app = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(&pem).unwrap())
        .pool_max_idle_per_host(0)
        .build()
        .unwrap();
    let healthz = format!("{}/__handshake/healthz", ready["url"].as_str().unwrap());
    assert_eq!(app.get(&healthz).send().await.unwrap().status(), 200);
    first.stop();

    let second = Serve::start(&args);
    let again: serde_json::Value = serde_json::from_str(&second.line()).unwrap();
    assert_eq!(again["ca_cert"], ca.as_str());
    assert_eq!(std::fs::read(&ca).unwrap(), pem, "the CA file is unchanged");
    assert_eq!(app.get(&healthz).send().await.unwrap().status(), 200);
}

/// `check-client --tls`: the mock serves HTTPS, the runner's browser trusts it, and the app
/// it starts is given the CA file; every check runs as over HTTP.
#[test]
fn check_client_tls_runs_the_checks_over_https() {
    let app_port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let base = format!("http://127.0.0.1:{app_port}");
    let dir = tempfile::tempdir().unwrap();
    let apps = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/apps/python");
    let out = Command::new(BIN)
        .args(["check-client", "--provider", "insightly", "--tls"])
        .arg("--tls-dir")
        .arg(dir.path())
        .args(["--app-cmd", "python3 app.py"])
        .arg("--app-dir")
        .arg(&apps)
        .args(["--login-url", &format!("{base}/login")])
        .args(["--api-url", &format!("{base}/api")])
        .args(["--logout-url", &format!("{base}/logout")])
        .args(["--format", "json"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let cases = report["cases"].as_array().unwrap();
    assert!(cases
        .iter()
        .any(|c| c["scenario"] == "code-exchange" && c["status"] == "passed"));
    assert!(cases.iter().all(|c| c["status"] != "failed"), "{report:#}");
    assert!(
        dir.path().join("ca.pem").exists(),
        "the CA is kept in --tls-dir"
    );
}
