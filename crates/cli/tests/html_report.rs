//! `--format html`: the report as one self-contained page, opened in a real headless
//! Chromium over chromedriver's WebDriver HTTP API (as `crates/mock/tests/browser.rs` does).
//! The Chromium tests skip loudly when Chromium or chromedriver is not installed (`.ci/run`
//! installs them); the others need nothing.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

const BIN: &str = env!("CARGO_BIN_EXE_handshake");
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
const CHROMIUM: &str = "/usr/bin/chromium";

/// The fix the deliberately wrong scenario names, as the diagram's callout must show it.
const FIX: &str =
    "this scenario is wrong on purpose: a client must redeem the code of a genuine callback";

/// A scenario the reference client fails: it expects no token request after a genuine
/// callback, which the client rightly redeems.
const WRONG_SCENARIO: &str = r#"
title = "Deliberately wrong: a genuine callback must lead to no token request"
rfc = "RFC 6749 §4.1.3"
fix = "this scenario is wrong on purpose: a client must redeem the code of a genuine callback"

[[steps]]
action = "authorize"

[[steps]]
action = "callback"
journal = [{ endpoint = "token", count = 0 }]
"#;

/// Runs `handshake conformance` on capsule and redtail with the wrong scenario (an expected
/// failure on redtail, so one of each) and two built-ins, writing an HTML report; returns
/// the report's path and the process output.
fn conformance_html(dir: &Path) -> (PathBuf, std::process::Output) {
    std::fs::write(dir.join("wrong-on-purpose.toml"), WRONG_SCENARIO).unwrap();
    std::fs::write(
        dir.join("expected-failures.toml"),
        "[[expected_failure]]\nprovider = \"redtail\"\nscenario = \"wrong-on-purpose\"\nwhy = \"kept to show an expected failure\"\n",
    )
    .unwrap();
    let report = dir.join("report.html");
    let out = Command::new(BIN)
        .args([
            "conformance",
            "--provider",
            "capsule",
            "--provider",
            "redtail",
        ])
        .args(["--scenario", "wrong-on-purpose", "--scenario", "happy-path"])
        .args(["--scenario", "pkce-s256", "--format", "html", "--output"])
        .arg(&report)
        .arg("--scenarios-dir")
        .arg(dir)
        .output()
        .unwrap();
    (report, out)
}

// ---- without a browser ----------------------------------------------------------------------

#[test]
fn conformance_html_is_one_self_contained_page_with_a_diagram_per_failure() {
    let dir = tempfile::tempdir().unwrap();
    let (report, out) = conformance_html(dir.path());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "capsule failed: {stderr}");
    assert!(stderr.contains("report written to"), "{stderr}");
    let html = std::fs::read_to_string(&report).unwrap();
    assert!(html.starts_with("<!doctype html>"));
    assert_eq!(html.matches("<svg class=\"sequence\"").count(), 2, "{html}");
    assert!(!html.contains("<script"));
    assert!(!html.contains(" src=\""));
    assert!(!html.contains("href=\"http"));
    assert!(!html.contains("handshake-secret"));
    assert!(!html.to_lowercase().contains("bearer "));
}

#[test]
fn html_without_output_goes_to_stdout() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("wrong-on-purpose.toml"), WRONG_SCENARIO).unwrap();
    let out = Command::new(BIN)
        .args([
            "conformance",
            "--provider",
            "capsule",
            "--scenario",
            "wrong-on-purpose",
        ])
        .args(["--format", "html", "--scenarios-dir"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let html = String::from_utf8(out.stdout).unwrap();
    assert!(html.starts_with("<!doctype html>"), "{html}");
    assert!(html.trim_end().ends_with("</html>"));
    assert_eq!(html.matches("<svg class=\"sequence\"").count(), 1);
}

#[test]
fn an_unwritable_output_is_a_clear_error_before_the_run() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("no-such-dir").join("report.html");
    for (output, says) in [
        (missing.clone(), "does not exist"),
        (dir.path().to_path_buf(), "is a directory"),
    ] {
        for command in [
            &["conformance", "--provider", "capsule"][..],
            &[
                "explore",
                "--client",
                "no-state-check",
                "--provider",
                "capsule",
            ][..],
            &[
                "check-client",
                "--provider",
                "capsule",
                "--mock-port",
                "9",
                "--login-url",
                "http://127.0.0.1:9/login",
            ][..],
        ] {
            let started = Instant::now();
            let out = Command::new(BIN)
                .args(command)
                .args(["--format", "html", "--output"])
                .arg(&output)
                .output()
                .unwrap();
            let err = String::from_utf8_lossy(&out.stderr);
            assert_eq!(out.status.code(), Some(2), "{command:?}: {err}");
            assert!(
                err.contains("--output") && err.contains(says),
                "{command:?}: {err}"
            );
            assert!(!err.contains("panicked"), "{err}");
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "{command:?} ran before saying so"
            );
        }
    }
    assert!(!missing.exists());
}

#[test]
fn html_is_a_format_of_every_report() {
    for command in ["conformance", "check-client", "explore"] {
        let out = Command::new(BIN)
            .args([command, "--help"])
            .output()
            .unwrap();
        let help = String::from_utf8_lossy(&out.stdout);
        assert!(help.contains("html"), "{command} --help: {help}");
    }
    let out = Command::new(BIN)
        .args(["conformance", "--format", "yaml"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("pretty, json, junit or html"));
}

/// `explore --format html`: the shrunk finding's diagram.
#[test]
fn explore_writes_an_html_report() {
    let dir = tempfile::tempdir().unwrap();
    let report = dir.path().join("explore.html");
    let out = Command::new(BIN)
        .args([
            "explore",
            "--client",
            "no-state-check",
            "--provider",
            "insightly",
        ])
        .args(["--seed", "77", "--format", "html", "--output"])
        .arg(&report)
        .arg("--out-dir")
        .arg(dir.path().join("findings"))
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let html = std::fs::read_to_string(&report).unwrap();
    assert_eq!(html.matches("<svg class=\"sequence\"").count(), 1, "{html}");
    assert!(html.contains("data-case=\"insightly/callback-state\""));
    assert!(html.contains("class=\"arrow request failing\""));
}

// ---- in headless Chromium -------------------------------------------------------------------

struct Driver {
    child: Child,
    base: String,
    http: reqwest::Client,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Driver {
    async fn start() -> Driver {
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let child = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver starts");
        let driver = Driver {
            child,
            base: format!("http://127.0.0.1:{port}"),
            http: reqwest::Client::new(),
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Ok(r) = driver
                .http
                .get(format!("{}/status", driver.base))
                .send()
                .await
            {
                let v: Value = r.json().await.unwrap_or_default();
                if v["value"]["ready"] == true {
                    break;
                }
            }
            assert!(
                Instant::now() < deadline,
                "chromedriver did not become ready"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        driver
    }

    async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let mut req = self.http.request(method, format!("{}{path}", self.base));
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status();
        let v: Value = resp.json().await.unwrap();
        assert!(status.is_success(), "WebDriver {path}: {status} {v}");
        v["value"].clone()
    }

    /// A session whose browser fetches nothing from the network: the page must not need to.
    async fn new_session(&self) -> String {
        let caps = json!({
            "capabilities": { "alwaysMatch": {
                "goog:chromeOptions": {
                    "binary": CHROMIUM,
                    "args": [
                        "--headless", "--no-sandbox", "--disable-gpu", "--window-size=1280,900",
                        "--disable-background-networking", "--disable-component-update",
                        "--disable-sync", "--no-first-run", "--disable-dev-shm-usage",
                        "--hide-scrollbars",
                    ]
                }
            }}
        });
        let v = self
            .call(reqwest::Method::POST, "/session", Some(caps))
            .await;
        v["sessionId"].as_str().unwrap().to_owned()
    }

    async fn goto(&self, s: &str, url: &str) {
        self.call(
            reqwest::Method::POST,
            &format!("/session/{s}/url"),
            Some(json!({ "url": url })),
        )
        .await;
    }

    /// Runs `script` (a function body) in the page and returns its value.
    async fn script(&self, s: &str, script: &str) -> Value {
        self.call(
            reqwest::Method::POST,
            &format!("/session/{s}/execute/sync"),
            Some(json!({ "script": script, "args": [] })),
        )
        .await
    }

    /// The PNG of the viewport.
    async fn screenshot(&self, s: &str) -> Vec<u8> {
        use base64::Engine;
        let v = self
            .call(
                reqwest::Method::GET,
                &format!("/session/{s}/screenshot"),
                None,
            )
            .await;
        base64::engine::general_purpose::STANDARD
            .decode(v.as_str().unwrap())
            .unwrap()
    }

    async fn end(&self, s: &str) {
        self.call(reqwest::Method::DELETE, &format!("/session/{s}"), None)
            .await;
    }
}

/// Whether Chromium and chromedriver are here; says loudly when they are not.
fn browser_installed() -> bool {
    if Path::new(CHROMEDRIVER).exists() && Path::new(CHROMIUM).exists() {
        return true;
    }
    eprintln!(
        "\n==================================================================\n\
         SKIPPED: chromium not installed ({CHROMIUM}, {CHROMEDRIVER}).\n\
         Install with: apt-get install -y chromium chromium-driver\n\
         ==================================================================\n"
    );
    false
}

fn file_url(path: &Path) -> String {
    url::Url::from_file_path(path).unwrap().to_string()
}

/// The acceptance line: `conformance --format html --output report.html` on a run with a
/// failure renders in Chromium with a diagram per failure, each with its lifelines, a red
/// failing arrow and the fix beside it; the matrix has the text report's marks.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conformance_html_report_in_headless_chromium() {
    if !browser_installed() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (report, out) = conformance_html(dir.path());
    assert_eq!(out.status.code(), Some(1));
    let driver = Driver::start().await;
    let s = driver.new_session().await;
    driver.goto(&s, &file_url(&report)).await;

    let title = driver.script(&s, "return document.title;").await;
    assert_eq!(title, "handshake-conformance: FAILED");
    // One diagram per failure (the unexpected one on capsule, the expected one on redtail).
    let diagrams = driver
        .script(
            &s,
            "return [...document.querySelectorAll('svg.sequence')].map(svg => ({
                case: svg.dataset.case,
                actors: [...svg.querySelectorAll('g.lifeline')].map(g => g.dataset.actor),
                failing: svg.querySelectorAll('g.arrow.failing').length,
                failingColour: getComputedStyle(svg.querySelector('g.arrow.failing line')).stroke,
                tokenFailing: [...svg.querySelectorAll('g.arrow.request.failing')]
                    .some(g => g.dataset.from === 'client' && g.dataset.to === 'crm'
                        && g.querySelector('text.label').textContent.includes('/token')),
                clause: svg.querySelector('g.callout text.clause')?.textContent,
                fix: svg.querySelector('g.callout text.fix')?.textContent,
                width: svg.getBoundingClientRect().width,
            }));",
        )
        .await;
    let diagrams = diagrams.as_array().unwrap();
    let cases: Vec<&str> = diagrams
        .iter()
        .map(|d| d["case"].as_str().unwrap())
        .collect();
    assert_eq!(
        cases,
        ["capsule/wrong-on-purpose", "redtail/wrong-on-purpose"]
    );
    for d in diagrams {
        assert_eq!(d["actors"], json!(["browser", "client", "crm"]), "{d}");
        assert!(d["failing"].as_u64().unwrap() >= 2, "{d}");
        assert_eq!(d["failingColour"], "rgb(198, 40, 40)", "red: {d}");
        assert_eq!(d["tokenFailing"], true, "the token request is marked: {d}");
        assert_eq!(d["clause"], "✗ RFC 6749 §4.1.3", "{d}");
        assert_eq!(d["fix"], format!("fix: {FIX}"), "{d}");
        assert!(d["width"].as_f64().unwrap() > 600.0, "{d}");
    }
    // The matrix: the text report's marks, skip reasons on the cells.
    let cells = driver
        .script(
            &s,
            "return Object.fromEntries([...document.querySelectorAll('td.cell')].map(td =>
                [td.dataset.provider + '/' + td.dataset.scenario, [td.textContent, td.className, td.title]]));",
        )
        .await;
    assert_eq!(cells["capsule/wrong-on-purpose"][0], "✗");
    assert_eq!(cells["redtail/wrong-on-purpose"][0], "○");
    assert_eq!(cells["capsule/happy-path"][0], "✓");
    assert_eq!(cells["redtail/pkce-s256"][0], "–");
    assert!(
        cells["redtail/pkce-s256"][2]
            .as_str()
            .unwrap()
            .contains("unsupported"),
        "{cells}"
    );
    // Self-contained: the page loaded nothing besides itself.
    let fetched = driver
        .script(
            &s,
            "return performance.getEntriesByType('resource').length;",
        )
        .await;
    assert_eq!(fetched, 0);
    let html = driver
        .script(&s, "return document.documentElement.outerHTML;")
        .await;
    assert!(!html.as_str().unwrap().contains("handshake-secret"));
    driver.end(&s).await;
}

/// PNG width and height, from the IHDR chunk, and the bytes of all IDAT chunks (how much
/// the image compresses: a blank page is a few hundred bytes).
fn png_facts(png: &[u8]) -> (u32, u32, usize) {
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n", "not a PNG");
    let be = |b: &[u8]| u32::from_be_bytes([b[0], b[1], b[2], b[3]]);
    assert_eq!(&png[12..16], b"IHDR");
    let (w, h) = (be(&png[16..20]), be(&png[20..24]));
    let mut idat = 0;
    let mut at = 8;
    while at + 8 <= png.len() {
        let len = be(&png[at..at + 4]) as usize;
        if &png[at + 4..at + 8] == b"IDAT" {
            idat += len;
        }
        at += 12 + len;
    }
    (w, h, idat)
}

/// Legible: the diagram's text at a readable size, the whole diagram (callout included) on
/// a 1280-pixel-wide screen without scrolling sideways, and a screenshot of it that is the
/// viewport's size and far from blank (kept in target/tmp/handshake-html-report.png).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn html_report_screenshot_is_legible() {
    if !browser_installed() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (report, _) = conformance_html(dir.path());
    let driver = Driver::start().await;
    let s = driver.new_session().await;
    driver
        .goto(&s, "data:text/html,<html><body></body></html>")
        .await;
    let blank = driver.screenshot(&s).await;
    driver.goto(&s, &file_url(&report)).await;

    let sizes = driver
        .script(
            &s,
            "const svg = document.querySelector('svg.sequence');
             svg.scrollIntoView({block: 'start'});
             const px = sel => [...svg.querySelectorAll(sel)].map(t => parseFloat(getComputedStyle(t).fontSize));
             const callout = svg.querySelector('g.callout rect').getBoundingClientRect();
             return {
               labels: Math.min(...px('text.label')),
               details: Math.min(...px('text.detail')),
               callout: Math.min(...px('g.callout text')),
               calloutRight: callout.right,
               svgRight: svg.getBoundingClientRect().right,
               width: innerWidth,
               scrollWidth: document.documentElement.scrollWidth,
             };",
        )
        .await;
    for key in ["labels", "details", "callout"] {
        assert!(sizes[key].as_f64().unwrap() >= 12.0, "{key}: {sizes}");
    }
    let width = sizes["width"].as_f64().unwrap();
    assert!(
        sizes["svgRight"].as_f64().unwrap() <= width
            && sizes["calloutRight"].as_f64().unwrap() <= width,
        "the diagram fits the screen: {sizes}"
    );
    assert!(
        sizes["scrollWidth"].as_f64().unwrap() <= width,
        "no sideways scrolling: {sizes}"
    );
    let viewport = driver
        .script(
            &s,
            "return [Math.round(innerWidth * devicePixelRatio), Math.round(innerHeight * devicePixelRatio)];",
        )
        .await;
    let png = driver.screenshot(&s).await;
    let path = Path::new(env!("CARGO_TARGET_TMPDIR")).join("handshake-html-report.png");
    std::fs::write(&path, &png).unwrap();
    let (w, h, idat) = png_facts(&png);
    assert_eq!(
        json!([w, h]),
        viewport,
        "screenshot size ({})",
        path.display()
    );
    assert!(w >= 1000 && h >= 600, "{w}x{h}");
    let (bw, bh, blank_idat) = png_facts(&blank);
    assert_eq!((bw, bh), (w, h));
    assert!(
        idat > 10 * blank_idat.max(1000),
        "the screenshot looks blank: {idat} bytes of image data, a blank page has {blank_idat} ({})",
        path.display()
    );
    driver.end(&s).await;
}

/// `check-client --format html` on the flawed Python app: the diagram has the app's
/// lifeline between the browser and the CRM.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_client_html_report_in_headless_chromium() {
    if !browser_installed() {
        return;
    }
    let app_port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let base = format!("http://127.0.0.1:{app_port}");
    let apps = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/apps/python");
    let dir = tempfile::tempdir().unwrap();
    let report = dir.path().join("check.html");
    let out = Command::new(BIN)
        .args(["check-client", "--provider", "capsule"])
        .args(["--app-cmd", "python3 app.py"])
        .arg("--app-dir")
        .arg(&apps)
        .args(["--app-env", "FLAW=code_in_url"])
        .args(["--login-url", &format!("{base}/login")])
        .args(["--api-url", &format!("{base}/api")])
        .args(["--logout-url", &format!("{base}/logout")])
        .args(["--format", "html", "--output"])
        .arg(&report)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let driver = Driver::start().await;
    let s = driver.new_session().await;
    driver.goto(&s, &file_url(&report)).await;
    let d = driver
        .script(
            &s,
            "const svg = document.querySelector('svg.sequence[data-case=\"capsule/code-referer-leak\"]');
             return {
               diagrams: document.querySelectorAll('svg.sequence').length,
               articles: document.querySelectorAll('article.case').length,
               actors: [...svg.querySelectorAll('g.lifeline')].map(g => g.dataset.actor),
               failing: [...svg.querySelectorAll('g.arrow.failing')].map(g => g.dataset.from + '>' + g.dataset.to),
               appToCrm: svg.querySelectorAll('g.arrow.request[data-from=\"app\"][data-to=\"crm\"]').length,
               fix: svg.querySelector('g.callout text.fix').textContent,
             };",
        )
        .await;
    assert_eq!(d["diagrams"], d["articles"], "{d}");
    assert_eq!(d["actors"], json!(["browser", "app", "crm"]), "{d}");
    assert_eq!(d["failing"], json!(["app>browser"]), "{d}");
    assert!(d["appToCrm"].as_u64().unwrap() >= 1, "{d}");
    assert!(
        d["fix"]
            .as_str()
            .unwrap()
            .starts_with("fix: answer the callback with a redirect"),
        "{d}"
    );
    driver.end(&s).await;
}
