//! Interoperability: the reference client's whole flow against a server nobody on this project
//! wrote, axa-group's `oauth2-mock-server` (npm), described by
//! `interop/profiles/oauth2-mock-server.toml`. The server is started by
//! `interop/servers/oauth2-mock-server.mjs` on a random loopback port and reports each request
//! it handled as an `event {json}` line, so the test judges what our client really sent.
//!
//! Skipped with a loud message when Node or the npm package is missing (install with
//! `bash interop/setup.sh`), unless `HANDSHAKE_INTEROP_REQUIRED=1`.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use handshake_client::{ClientConfig, ClientSecret, OAuthClient, Revocation, SessionId};
use handshake_profile::Profile;
use serde_json::Value;

fn interop_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../interop")
}

/// Kills the server when the test ends, pass or fail.
struct Server {
    child: Child,
    base: String,
    events: mpsc::Receiver<Value>,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    fn start() -> Option<Server> {
        let dir = interop_dir();
        let installed = dir
            .join("node_modules/oauth2-mock-server/package.json")
            .exists();
        let spawned = installed
            .then(|| {
                Command::new("node")
                    .arg(dir.join("servers/oauth2-mock-server.mjs"))
                    .stdin(Stdio::null())
                    .stdout(Stdio::piped())
                    .stderr(Stdio::inherit())
                    .spawn()
                    .ok()
            })
            .flatten();
        let Some(mut child) = spawned else {
            assert!(
                std::env::var("HANDSHAKE_INTEROP_REQUIRED").as_deref() != Ok("1"),
                "oauth2-mock-server is not installed but HANDSHAKE_INTEROP_REQUIRED=1"
            );
            eprintln!(
                "!!! SKIPPED: oauth2-mock-server interop test: run `bash interop/setup.sh` (needs Node >= 20.19)"
            );
            return None;
        };
        let (ready_tx, ready_rx) = mpsc::channel();
        let (event_tx, events) = mpsc::channel();
        let stdout = child.stdout.take().expect("stdout");
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(url) = line.strip_prefix("oauth2-mock-server ready at ") {
                    let _ = ready_tx.send(url.to_owned());
                } else if let Some(json) = line.strip_prefix("event ") {
                    let _ = event_tx.send(serde_json::from_str(json).expect("event is JSON"));
                }
            }
        });
        let mut server = Server {
            child,
            base: String::new(),
            events,
        };
        server.base = ready_rx
            .recv_timeout(Duration::from_secs(20))
            .expect("oauth2-mock-server printed no ready line");
        Some(server)
    }

    /// Every event reported so far.
    fn drain(&self) -> Vec<Value> {
        // The event line is printed before the HTTP answer is sent, so it is already here.
        std::iter::from_fn(|| self.events.recv_timeout(Duration::from_millis(200)).ok()).collect()
    }
}

#[tokio::test]
async fn reference_client_runs_the_full_flow_against_oauth2_mock_server() {
    let Some(server) = Server::start() else {
        return;
    };
    let profile = Profile::from_file(interop_dir().join("profiles/oauth2-mock-server.toml"))
        .expect("the oauth2-mock-server profile parses");
    let config = ClientConfig::new(
        server.base.clone(),
        "handshake-client",
        ClientSecret::new("handshake-secret".to_owned()),
        "http://localhost:3000/callback",
    );
    let client = OAuthClient::new(&profile, config).expect("client");
    let session = SessionId::new("interop");

    let browser = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .build()
        .unwrap();
    // authorize → its auto-approving /authorize redirect → the callback URL, read by hand.
    let visit = |session: SessionId| {
        let (client, browser) = (&client, &browser);
        async move {
            let request = client.authorize(&session);
            let resp = browser.get(request.url.clone()).send().await.unwrap();
            assert!(
                resp.status().is_redirection(),
                "authorize answered {}",
                resp.status()
            );
            let callback = resp.headers()["location"].to_str().unwrap().to_owned();
            assert!(
                callback.starts_with("http://localhost:3000/callback?"),
                "{callback}"
            );
            callback
        }
    };

    // A callback with a forged state is refused before any token request.
    let csrf = SessionId::new("csrf");
    let forged = visit(csrf.clone()).await.replace("state=", "state=x");
    assert!(client.handle_callback(&csrf, &forged).await.is_err());

    let callback = visit(session.clone()).await;
    let tokens = client
        .handle_callback(&session, &callback)
        .await
        .expect("exchange");
    assert_eq!(tokens.token_type, "Bearer");
    assert!(tokens.refresh_token.is_some());
    assert!(tokens.expires_at.is_some(), "expires_in understood");

    let api = client
        .api_get(&session, &profile.api.path)
        .await
        .expect("userinfo");
    assert_eq!(api.status, 200);
    let body: Value = serde_json::from_slice(&api.body).unwrap();
    assert_eq!(body["sub"], "johndoe");

    client.refresh(&session).await.expect("refresh");
    assert_eq!(
        client
            .api_get(&session, &profile.api.path)
            .await
            .unwrap()
            .status,
        200
    );

    let report = client.logout(&session).await.expect("logout");
    assert_eq!(report.refresh_token, Revocation::Revoked);
    assert_eq!(report.access_token, Revocation::Revoked);
    assert!(
        client.connection(&session).unwrap().is_none(),
        "local tokens deleted"
    );

    // What crossed the wire, as the server saw it.
    let events = server.drain();
    let of = |ep: &str| {
        events
            .iter()
            .filter(|e| e["endpoint"] == ep)
            .collect::<Vec<_>>()
    };
    let authz = of("authorize");
    assert_eq!(authz.len(), 2, "{events:#?}");
    for a in &authz {
        assert_eq!(a["code_challenge_method"], "S256");
        assert!(a["params"].as_array().unwrap().contains(&"state".into()));
    }
    let token = of("token");
    let grants: Vec<&Value> = token.iter().map(|e| &e["grant_type"]).collect();
    assert_eq!(
        grants,
        ["authorization_code", "refresh_token"],
        "one exchange (the forged callback sent none), one refresh"
    );
    for e in &token {
        assert_eq!(e["client_auth"], "client_secret_basic");
        assert!(e["content_type"]
            .as_str()
            .unwrap()
            .starts_with("application/x-www-form-urlencoded"));
    }
    assert!(token[0]["params"]
        .as_array()
        .unwrap()
        .contains(&"code_verifier".into()));
    assert_eq!(of("revoke").len(), 2, "refresh and access token revoked");
    assert!(of("revoke")
        .iter()
        .all(|e| e["client_auth"] == "client_secret_basic"));
    assert!(of("userinfo").iter().all(|e| e["bearer"] == true));
}
