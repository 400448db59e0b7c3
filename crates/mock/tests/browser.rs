//! The consent page in a real headless Chromium, driven over chromedriver's WebDriver HTTP
//! API. Skips loudly when Chromium or chromedriver is not installed (`.ci/run` installs them).

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use handshake_mock::MockProvider;
use handshake_profile::Profile;
use serde_json::{json, Value};

const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
const CHROMIUM: &str = "/usr/bin/chromium";
const ELEMENT_KEY: &str = "element-6066-11e4-a52e-4f735466cecf";

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

    async fn new_session(&self) -> String {
        let caps = json!({
            "capabilities": { "alwaysMatch": {
                "goog:chromeOptions": {
                    "binary": CHROMIUM,
                    "args": [
                        "--headless", "--no-sandbox", "--disable-gpu", "--window-size=1280,900",
                        "--disable-background-networking", "--disable-component-update",
                        "--disable-sync", "--no-first-run", "--disable-dev-shm-usage",
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

    async fn click(&self, s: &str, css: &str) {
        let el = self
            .call(
                reqwest::Method::POST,
                &format!("/session/{s}/element"),
                Some(json!({ "using": "css selector", "value": css })),
            )
            .await;
        let id = el[ELEMENT_KEY].as_str().unwrap().to_owned();
        self.call(
            reqwest::Method::POST,
            &format!("/session/{s}/element/{id}/click"),
            Some(json!({})),
        )
        .await;
    }

    async fn current_url(&self, s: &str) -> url::Url {
        let v = self
            .call(reqwest::Method::GET, &format!("/session/{s}/url"), None)
            .await;
        url::Url::parse(v.as_str().unwrap()).unwrap()
    }

    /// The URL once the browser has navigated to one starting with `prefix`: a click on a
    /// form button may return before the navigation it starts has finished.
    async fn wait_for_url(&self, s: &str, prefix: &str) -> url::Url {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let url = self.current_url(s).await;
            if url.as_str().starts_with(prefix) || Instant::now() >= deadline {
                return url;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
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

    /// The script's value once `done` says it is what the test waits for.
    async fn wait_for(&self, s: &str, script: &str, done: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let v = self.script(s, script).await;
            if done(&v) || Instant::now() >= deadline {
                return v;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
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

    async fn title(&self, s: &str) -> String {
        let v = self
            .call(reqwest::Method::GET, &format!("/session/{s}/title"), None)
            .await;
        v.as_str().unwrap_or_default().to_owned()
    }
}

/// A stand-in for the client app's callback route, so the browser lands on a real page.
async fn callback_server() -> (String, tokio::task::JoinHandle<()>) {
    let app = axum::Router::new().route(
        "/callback",
        axum::routing::get(|| async { "callback reached" }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (format!("http://127.0.0.1:{}/callback", addr.port()), task)
}

fn query(url: &url::Url, key: &str) -> Option<String> {
    url.query_pairs()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.into_owned())
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn consent_page_approve_and_deny_in_headless_chromium() {
    if !browser_installed() {
        return;
    }
    let (redirect, _server) = callback_server().await;
    let mock = MockProvider::builder(Profile::builtin("capsule").unwrap())
        .redirect_uri(redirect.clone())
        .start()
        .await
        .unwrap();
    let driver = Driver::start().await;
    let s = driver.new_session().await;

    let authorize = |state: &str| {
        let mut u = url::Url::parse(&mock.authorize_url()).unwrap();
        u.query_pairs_mut()
            .append_pair("response_type", "code")
            .append_pair("client_id", "handshake-client")
            .append_pair("redirect_uri", &redirect)
            .append_pair("scope", "read write")
            .append_pair("state", state)
            .append_pair(
                "code_challenge",
                "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
            )
            .append_pair("code_challenge_method", "S256");
        u.to_string()
    };

    driver.goto(&s, &authorize("approve-state")).await;
    assert!(driver.title(&s).await.contains("Capsule CRM"));
    driver.click(&s, "#approve").await;
    let landed = driver.wait_for_url(&s, &redirect).await;
    assert!(landed.as_str().starts_with(&redirect), "{landed}");
    assert_eq!(query(&landed, "state").as_deref(), Some("approve-state"));
    let code = query(&landed, "code").expect("code in the callback URL");

    // The code the browser carried is a real one: it redeems.
    let resp = reqwest::Client::new()
        .post(mock.token_url())
        .basic_auth("handshake-client", Some("handshake-secret"))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", &redirect),
            (
                "code_verifier",
                "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk",
            ),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);

    driver.goto(&s, &authorize("deny-state")).await;
    driver.click(&s, "#deny").await;
    let landed = driver.wait_for_url(&s, &redirect).await;
    assert_eq!(query(&landed, "error").as_deref(), Some("access_denied"));
    assert_eq!(query(&landed, "state").as_deref(), Some("deny-state"));

    driver
        .call(reqwest::Method::DELETE, &format!("/session/{s}"), None)
        .await;
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

/// The live page in headless Chromium: a request's entry and its reason appear without a
/// reload, a button arms a fault that the next token call meets, nothing secret is in the
/// page, and a screenshot shows a legible page of the expected size.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_page_shows_refusals_as_they_happen_in_headless_chromium() {
    if !browser_installed() {
        return;
    }
    let mock = MockProvider::builder(Profile::builtin("capsule").unwrap())
        .auto_approve(true)
        .start()
        .await
        .unwrap();
    let driver = Driver::start().await;
    let s = driver.new_session().await;

    // A blank page first, to compare the screenshot with.
    driver
        .goto(&s, "data:text/html,<html><body></body></html>")
        .await;
    let blank = driver.screenshot(&s).await;

    driver
        .goto(&s, &format!("{}/__handshake/", mock.uri()))
        .await;
    assert!(driver.title(&s).await.contains("Capsule CRM"));
    let feed = driver
        .wait_for(
            &s,
            "return document.getElementById('feed').textContent;",
            |v| v == "live",
        )
        .await;
    assert_eq!(feed, "live", "the page's feed did not connect");
    let empty = driver
        .script(&s, "return document.getElementById('empty') !== null;")
        .await;
    assert_eq!(empty, true, "a fresh mock shows the empty journal row");

    // A request the mock refuses: its row and its reason appear on the page by themselves.
    let http = reqwest::Client::new();
    let refused = http
        .post(mock.token_url())
        .basic_auth("handshake-client", Some("handshake-secret"))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", "a-code-nobody-issued"),
            (
                "code_verifier",
                "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk",
            ),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 400);
    let reason = driver
        .wait_for(
            &s,
            "const r = document.querySelector('#entries tr.refused td.reason'); return r ? r.textContent : null;",
            |v| v.is_string(),
        )
        .await;
    let reason = reason.as_str().expect("the refusal's row appeared");
    assert!(
        reason.starts_with("invalid_grant: authorization code is invalid"),
        "{reason}"
    );

    // The button arms a fault; the page lists it; the next token call meets it.
    driver.click(&s, "#arm-invalid-grant").await;
    let faults = driver
        .wait_for(
            &s,
            "return document.getElementById('faults').textContent;",
            |v| v.as_str().is_some_and(|t| t.contains("invalid_grant")),
        )
        .await;
    assert_eq!(faults, "token: error invalid_grant (next 1)");
    assert_eq!(
        mock.faults().len(),
        1,
        "the button armed a fault on the mock"
    );
    let resp = http
        .post(mock.token_url())
        .basic_auth("handshake-client", Some("handshake-secret"))
        .form(&[("grant_type", "refresh_token"), ("refresh_token", "r")])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    let note = driver
        .wait_for(
            &s,
            "const n = document.querySelector('#entries tr .note'); return n ? n.textContent : null;",
            |v| v.is_string(),
        )
        .await;
    assert_eq!(note, "fault fired: oauth_error invalid_grant");
    let faults = driver
        .wait_for(
            &s,
            "return document.getElementById('faults').textContent;",
            |v| v == "none",
        )
        .await;
    assert_eq!(faults, "none", "the fired fault left the list");

    // Nothing secret reached the page.
    let html = driver
        .script(&s, "return document.documentElement.outerHTML;")
        .await;
    let html = html.as_str().unwrap();
    for secret in [
        "handshake-secret",
        "a-code-nobody-issued",
        "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk",
    ] {
        assert!(!html.contains(secret), "the page shows {secret:?}");
    }
    assert!(
        html.contains("code=[redacted:"),
        "redacted as in the journal"
    );

    // Legible: text at a readable size, the reason not hidden, and a screenshot that is
    // the viewport's size and far from blank.
    let size = driver
        .script(
            &s,
            "return parseFloat(getComputedStyle(document.querySelector('#entries td.reason')).fontSize);",
        )
        .await;
    assert!(size.as_f64().unwrap() >= 12.0, "font size {size}");
    let viewport = driver
        .script(
            &s,
            "return [Math.round(innerWidth * devicePixelRatio), Math.round(innerHeight * devicePixelRatio)];",
        )
        .await;
    let png = driver.screenshot(&s).await;
    let path = Path::new(env!("CARGO_TARGET_TMPDIR")).join("handshake-live-page.png");
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

    // Reset from the page empties its journal and the mock's.
    driver.click(&s, "#reset").await;
    let rows = driver
        .wait_for(
            &s,
            "return document.querySelectorAll('#entries tr').length;",
            |v| v == 0,
        )
        .await;
    assert_eq!(rows, 0);
    assert!(mock.journal().is_empty());

    driver
        .call(reqwest::Method::DELETE, &format!("/session/{s}"), None)
        .await;
}
