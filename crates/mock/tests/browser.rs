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
                        "--headless", "--no-sandbox", "--disable-gpu",
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn consent_page_approve_and_deny_in_headless_chromium() {
    if !Path::new(CHROMEDRIVER).exists() || !Path::new(CHROMIUM).exists() {
        eprintln!(
            "\n==================================================================\n\
             SKIPPED: chromium not installed ({CHROMIUM}, {CHROMEDRIVER}).\n\
             Install with: apt-get install -y chromium chromium-driver\n\
             ==================================================================\n"
        );
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
