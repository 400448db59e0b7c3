//! Black-box checks against the real client apps in `fixtures/apps/`: the correct builds pass
//! every check, and each deliberately flawed build fails exactly the checks for its flaw.
//!
//! Each test starts an in-process mock and the app as a child process on loopback. The Node
//! apps (`node-express`, and `passport`: passport + passport-oauth2, as most Node teams write
//! it) run only when `node` is on PATH and their packages are installed (`npm ci --prefix
//! fixtures/apps/<app>`); otherwise their tests print a loud SKIPPED line. Python 3 is assumed
//! present.

// The control API's contract (crates/mock/openapi.json), shared with the mock's tests.
#[path = "../../mock/tests/common/contract.rs"]
mod contract;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use handshake_conformance::{
    check_client, AppCommand, ClientCheck, ClientCheckConfig, ClientCheckError, ClientCheckId,
    RemoteMock, Report, Status,
};
use handshake_mock::{MockProvider, RegisteredClient};
use handshake_profile::{PkceMethod, Profile, TokenEncoding};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

fn apps_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/apps")
}

#[derive(Clone, Copy, Debug)]
enum Lang {
    Node,
    /// The passport + passport-oauth2 app.
    Passport,
    /// The blog-post-style Express app (axios, async handlers without try/catch).
    Blog,
    Python,
}

/// Why this app cannot run here, if it cannot.
fn unavailable(lang: Lang) -> Option<String> {
    let (program, extra) = match lang {
        Lang::Node => ("node", Some(("node-express", "express"))),
        Lang::Passport => ("node", Some(("passport", "passport-oauth2"))),
        Lang::Blog => ("node", Some(("blog-express", "axios"))),
        Lang::Python => ("python3", None),
    };
    let found = std::process::Command::new(program)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !found {
        return Some(format!("`{program}` is not on PATH"));
    }
    if let Some((app, package)) = extra {
        if !apps_dir()
            .join(app)
            .join("node_modules")
            .join(package)
            .exists()
        {
            return Some(format!(
                "its npm packages are not installed (run `npm ci --prefix fixtures/apps/{app}`)"
            ));
        }
    }
    None
}

/// A running fixture app; killed when dropped.
struct App {
    _child: Child,
    base: String,
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

/// The `.env` an app gets from `handshake serve` for a mock of `p` at `base`, with the default
/// client.
fn app_env(base: &str, p: &Profile, redirect_uri: &str) -> Vec<(&'static str, String)> {
    vec![
        ("OAUTH_CLIENT_ID", RegisteredClient::DEFAULT_ID.to_owned()),
        (
            "OAUTH_CLIENT_SECRET",
            RegisteredClient::DEFAULT_SECRET.to_owned(),
        ),
        ("OAUTH_REDIRECT_URI", redirect_uri.to_owned()),
        (
            "OAUTH_AUTHORIZE_URL",
            format!("{base}{}", p.oauth.authorize_path),
        ),
        ("OAUTH_TOKEN_URL", format!("{base}{}", p.oauth.token_path)),
        (
            "OAUTH_REVOKE_URL",
            p.oauth
                .revoke_path()
                .map(|r| format!("{base}{r}"))
                .unwrap_or_default(),
        ),
        // Quoted, as in the printed .env line.
        (
            "OAUTH_SCOPES",
            format!("\"{}\"", p.scopes.join(&p.scopes.default)),
        ),
        (
            "OAUTH_TOKEN_AUTH_METHOD",
            p.token_request.preferred_client_auth().as_str().to_owned(),
        ),
        (
            "OAUTH_TOKEN_ENCODING",
            match p.token_request.preferred_encoding() {
                TokenEncoding::Form => "form".to_owned(),
                TokenEncoding::Json => "json".to_owned(),
            },
        ),
        (
            "OAUTH_PKCE_METHOD",
            p.pkce
                .best_method()
                .map_or("none", PkceMethod::as_str)
                .to_owned(),
        ),
        ("CRM_API_URL", format!("{base}{}", p.api.path)),
    ]
}

async fn start_app(lang: Lang, flaw: &str, env: Vec<(&'static str, String)>, port: u16) -> App {
    let dir = apps_dir();
    let mut cmd = match lang {
        Lang::Node => {
            let mut c = Command::new("node");
            c.arg(dir.join("node-express/src/server.js"));
            c
        }
        Lang::Passport => {
            let mut c = Command::new("node");
            c.arg(dir.join("passport/src/server.js"));
            c
        }
        Lang::Blog => {
            let mut c = Command::new("node");
            c.arg(dir.join("blog-express/src/server.js"));
            c
        }
        Lang::Python => {
            let mut c = Command::new("python3");
            c.arg(dir.join("python/app.py"));
            c
        }
    };
    cmd.envs(env)
        .env("PORT", port.to_string())
        .env("FLAW", flaw)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true);
    let mut child = cmd.spawn().expect("the fixture app starts");
    let stdout = child.stdout.take().expect("piped stdout");
    let mut lines = BufReader::new(stdout).lines();
    let ready = tokio::time::timeout(Duration::from_secs(20), async {
        while let Some(line) = lines.next_line().await.expect("app stdout") {
            if let Some(url) = line.strip_prefix("listening on ") {
                return Some(url.trim().to_owned());
            }
        }
        None
    })
    .await;
    let base = match ready {
        Ok(Some(url)) => url,
        Ok(None) => panic!("{lang:?} app (FLAW={flaw:?}) exited before listening"),
        Err(_) => panic!("{lang:?} app (FLAW={flaw:?}) did not print its listening line in 20 s"),
    };
    // Keep draining stdout so the app never blocks on a full pipe.
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    App {
        _child: child,
        base,
    }
}

/// Which routes the harness is told about.
#[derive(Clone, Copy)]
enum Routes {
    All,
    LoginOnly,
}

/// Starts a mock of `provider` and the app, runs the black-box check, returns the report.
async fn check(lang: Lang, flaw: &str, provider: &str, routes: Routes) -> Option<Report> {
    check_with_env(lang, flaw, provider, routes, &[]).await
}

/// [`check`], with some of the app's environment overridden.
async fn check_with_env(
    lang: Lang,
    flaw: &str,
    provider: &str,
    routes: Routes,
    overrides: &[(&'static str, &str)],
) -> Option<Report> {
    if let Some(why) = unavailable(lang) {
        eprintln!("\n!!! SKIPPED: {lang:?} fixture app (FLAW={flaw:?}) not run: {why}\n");
        return None;
    }
    let port = free_port();
    let mock = MockProvider::builder(Profile::builtin(provider).unwrap())
        .redirect_uri(format!("http://127.0.0.1:{port}/callback"))
        .start()
        .await
        .expect("mock starts");
    let mut env = app_env(
        &mock.uri(),
        mock.profile(),
        &format!("http://127.0.0.1:{port}/callback"),
    );
    for (k, v) in overrides {
        env.retain(|(name, _)| name != k);
        env.push((k, (*v).to_owned()));
    }
    let app = start_app(lang, flaw, env, port).await;
    let mut check = ClientCheck::new(format!("{}/login", app.base).parse().unwrap());
    if let Routes::All = routes {
        check = check
            .api_url(format!("{}/api", app.base).parse().unwrap())
            .logout_url(format!("{}/logout", app.base).parse().unwrap());
        // Only the Python app has a list route, and it follows Link rel="next": a complete
        // walk where the CRM sends Link headers (Capsule, ConnectWise).
        let link_paging = mock
            .profile()
            .api
            .paging
            .as_ref()
            .is_some_and(|p| p.link_header);
        if matches!(lang, Lang::Python) && link_paging {
            check = check.list_url(format!("{}/contacts", app.base).parse().unwrap());
        }
    }
    let report = check.run(&mock).await.expect("the check runs");
    println!(
        "--- {lang:?} app, FLAW={flaw:?}, {provider} ---\n{}",
        report.to_pretty()
    );
    Some(report)
}

fn ids(report: &Report, status: Status) -> BTreeSet<String> {
    report
        .cases
        .iter()
        .filter(|c| c.status == status)
        .map(|c| c.scenario.clone())
        .collect()
}

fn set(items: &[ClientCheckId]) -> BTreeSet<String> {
    items.iter().map(|c| c.id().to_owned()).collect()
}

/// Asserts exactly these checks failed and exactly these warned; everything else passed.
fn assert_outcome(report: &Report, failed: &[ClientCheckId], warned: &[ClientCheckId]) {
    let pretty = report.to_pretty();
    assert_eq!(
        ids(report, Status::Failed),
        set(failed),
        "failed checks\n{pretty}"
    );
    assert_eq!(
        ids(report, Status::Warning),
        set(warned),
        "warned checks\n{pretty}"
    );
    assert_eq!(
        report.cases.len(),
        ClientCheckId::ALL.len(),
        "one case per check\n{pretty}"
    );
    let skipped = ids(report, Status::Skipped);
    assert!(
        skipped.is_empty() || skipped == set(&[ClientCheckId::PagingComplete]),
        "no check skipped with every route given (the Node app has no list route)\n{pretty}"
    );
}

use ClientCheckId as C;

#[tokio::test]
async fn python_app_passes_every_check_on_capsule() {
    let report = check(Lang::Python, "", "capsule", Routes::All)
        .await
        .unwrap();
    assert_outcome(&report, &[], &[]);
    assert!(report.is_success());
}

#[tokio::test]
async fn python_app_that_reads_one_page_fails_only_the_paging_check() {
    let Some(report) = check(Lang::Python, "first_page", "connectwise", Routes::All).await else {
        return;
    };
    assert_outcome(&report, &[C::PagingComplete], &[]);
    let paging = report
        .cases
        .iter()
        .find(|c| c.scenario == "paging-complete")
        .unwrap();
    let why = &paging.failure.as_ref().unwrap().actual;
    assert!(
        why.starts_with("25 record(s) for a data set of 1210 (1185 missing, 0 more than once) after 1 API request(s)"),
        "{why}"
    );
}

#[tokio::test]
async fn python_app_passes_every_check_on_connectwise_post_and_required_pkce() {
    let report = check(Lang::Python, "", "connectwise", Routes::All)
        .await
        .unwrap();
    assert_outcome(&report, &[], &[]);
}

/// ConnectWise's seed posts send JSON token bodies and the mock accepts them, but RFC 6749
/// §4.1.3 defines form bodies and most real providers refuse JSON: a warning, not a pass.
#[tokio::test]
async fn python_app_sending_json_token_bodies_gets_a_warning() {
    let report = check_with_env(
        Lang::Python,
        "",
        "connectwise",
        Routes::All,
        &[("OAUTH_TOKEN_ENCODING", "json")],
    )
    .await
    .unwrap();
    assert_outcome(&report, &[], &[C::CodeExchange]);
    let why = case(&report, C::CodeExchange).reason.clone().unwrap();
    assert!(
        why.contains("RFC 6749 §4.1.3") && why.contains("JSON"),
        "{why}"
    );
}

#[tokio::test]
async fn python_app_on_a_provider_without_pkce_skips_only_the_pkce_check() {
    let report = check(Lang::Python, "", "agilecrm", Routes::All)
        .await
        .unwrap();
    assert!(
        ids(&report, Status::Failed).is_empty(),
        "{}",
        report.to_pretty()
    );
    // Agile CRM pages by cursor, which the app's list route does not follow: not given.
    assert_eq!(
        ids(&report, Status::Skipped),
        set(&[C::AuthzPkce, C::PagingComplete])
    );
}

#[tokio::test]
async fn python_app_without_pkce_only_warns() {
    let report = check(Lang::Python, "no_pkce", "capsule", Routes::All)
        .await
        .unwrap();
    assert_outcome(&report, &[], &[C::AuthzPkce]);
    assert!(report.is_success(), "warnings do not fail a run");
}

#[tokio::test]
async fn python_app_that_forwards_the_code_fails_the_referer_check() {
    let report = check(Lang::Python, "code_in_url", "capsule", Routes::All)
        .await
        .unwrap();
    assert_outcome(&report, &[C::CodeRefererLeak], &[]);
    let case = report
        .cases
        .iter()
        .find(|c| c.scenario == "code-referer-leak")
        .unwrap();
    assert_eq!(case.rfc, "RFC 9700 §4.2.4, §4.3.2");
    let reason = case.reason.as_deref().unwrap();
    assert!(
        reason.contains("Fix: answer the callback with a redirect"),
        "{reason}"
    );
}

/// The path `handshake check-client` takes: the app is configured for a mock port, and
/// `check_client` starts the mock there itself.
#[tokio::test]
async fn check_client_starts_the_mock_on_the_given_port() {
    let (mock_port, app_port) = (free_port(), free_port());
    let profile = Profile::builtin("redtail").unwrap();
    let redirect = format!("http://127.0.0.1:{app_port}/callback");
    let env = app_env(
        &format!("http://127.0.0.1:{mock_port}"),
        &profile,
        &redirect,
    );
    let app = start_app(Lang::Python, "", env, app_port).await;
    let mut config = ClientCheckConfig::new(
        profile,
        mock_port,
        format!("{}/login", app.base).parse().unwrap(),
    );
    config.redirect_uri = redirect;
    config.api_url = Some(format!("{}/api", app.base).parse().unwrap());
    config.logout_url = Some(format!("{}/logout", app.base).parse().unwrap());
    let debug = format!("{config:?}");
    assert!(debug.contains("[redacted]") && !debug.contains(RegisteredClient::DEFAULT_SECRET));
    let report = check_client(config)
        .await
        .expect("the mock starts and the check runs");
    assert!(
        ids(&report, Status::Failed).is_empty(),
        "{}",
        report.to_pretty()
    );
    // Redtail has no PKCE; no list URL was given.
    assert_eq!(
        ids(&report, Status::Skipped),
        set(&[C::AuthzPkce, C::PagingComplete])
    );
    let junit = report.to_junit("handshake-check-client").unwrap();
    assert!(junit.contains("csrf-forged-state") && junit.contains("RFC 6749 §10.12"));
}

#[tokio::test]
async fn optional_checks_are_skipped_without_api_and_logout_urls() {
    let report = check(Lang::Python, "", "capsule", Routes::LoginOnly)
        .await
        .unwrap();
    assert!(
        ids(&report, Status::Failed).is_empty(),
        "{}",
        report.to_pretty()
    );
    assert_eq!(
        ids(&report, Status::Skipped),
        set(&[
            C::ExpiryRefresh,
            C::RevokedGrant,
            C::LogoutRevocation,
            C::TokenLeak,
            C::PagingComplete,
            C::SessionIsolation,
            C::RateLimitHonoured,
        ])
    );
    let rate_limit = report
        .cases
        .iter()
        .find(|c| c.scenario == "rate-limit-honoured")
        .unwrap();
    assert_eq!(
        rate_limit.reason.as_deref(),
        Some("no API URL given (--api-url)")
    );
    let expiry = report
        .cases
        .iter()
        .find(|c| c.scenario == "expiry-refresh")
        .unwrap();
    assert!(expiry.reason.as_deref().unwrap().contains("--api-url"));
}

#[tokio::test]
async fn node_app_passes_every_check_on_capsule() {
    let Some(report) = check(Lang::Node, "", "capsule", Routes::All).await else {
        return;
    };
    assert_outcome(&report, &[], &[]);
}

#[tokio::test]
async fn node_app_passes_every_check_on_insightly() {
    let Some(report) = check(Lang::Node, "", "insightly", Routes::All).await else {
        return;
    };
    assert_outcome(&report, &[], &[]);
}

#[tokio::test]
async fn node_app_without_state_fails_the_state_and_csrf_checks() {
    let Some(report) = check(Lang::Node, "no_state", "capsule", Routes::All).await else {
        return;
    };
    assert_outcome(
        &report,
        &[
            C::AuthzState,
            C::CsrfForgedState,
            C::CsrfMissingState,
            C::CsrfReplayedState,
        ],
        &[],
    );
}

#[tokio::test]
async fn node_app_that_shows_the_token_fails_the_leak_check() {
    let Some(report) = check(Lang::Node, "tokens_to_browser", "capsule", Routes::All).await else {
        return;
    };
    // The page that shows the token is also a callback page that keeps ?code= in the URL.
    assert_outcome(&report, &[C::TokenLeak], &[C::CodeRefererLeak]);
    let json = report.to_json().unwrap();
    let words = token_shaped_words(&json);
    assert!(
        words.is_empty(),
        "the report must not contain secrets: {words:?}"
    );
}

#[tokio::test]
async fn node_app_that_never_refreshes_fails_expiry_and_revocation() {
    let Some(report) = check(Lang::Node, "no_refresh", "capsule", Routes::All).await else {
        return;
    };
    assert_outcome(&report, &[C::ExpiryRefresh, C::RevokedGrant], &[]);
}

#[tokio::test]
async fn node_app_that_loops_on_refresh_fails_the_revocation_check() {
    let Some(report) = check(Lang::Node, "refresh_loop", "capsule", Routes::All).await else {
        return;
    };
    assert_outcome(&report, &[C::RevokedGrant], &[]);
    let case = report
        .cases
        .iter()
        .find(|c| c.scenario == "revoked-grant")
        .unwrap();
    let failure = case.failure.as_ref().unwrap();
    assert!(
        failure
            .journal
            .iter()
            .filter(|l| l.contains("grant_type=refresh_token"))
            .count()
            > 1,
        "the failure shows the repeated refreshes: {failure:?}"
    );
}

fn case(report: &Report, id: ClientCheckId) -> &handshake_conformance::CaseReport {
    report
        .cases
        .iter()
        .find(|c| c.scenario == id.id())
        .unwrap_or_else(|| panic!("no case {}", id.id()))
}

#[tokio::test]
async fn correct_apps_wait_out_the_crms_429_and_retry() {
    // ConnectWise sends Retry-After; Capsule only X-RateLimit-Reset (the app waits until it).
    for provider in ["connectwise", "capsule"] {
        let report = check(Lang::Python, "", provider, Routes::All)
            .await
            .unwrap();
        let c = case(&report, C::RateLimitHonoured);
        assert_eq!(
            c.status,
            Status::Passed,
            "{provider}\n{}",
            report.to_pretty()
        );
        assert_eq!(c.rfc, "RFC 6585 §4, RFC 9110 §10.2.3");
    }
}

#[tokio::test]
async fn python_app_that_retries_a_429_at_once_fails_only_the_rate_limit_check() {
    let report = check(Lang::Python, "retry_429_now", "connectwise", Routes::All)
        .await
        .unwrap();
    assert_outcome(&report, &[C::RateLimitHonoured], &[]);
    let failure = case(&report, C::RateLimitHonoured)
        .failure
        .as_ref()
        .unwrap();
    assert!(
        failure
            .actual
            .starts_with("6 API requests within the 1 s the CRM asked to wait: the app hammers"),
        "{}",
        failure.actual
    );
    assert!(
        failure.actual.contains("ConnectWise") && failure.actual.contains("PSA API Requests"),
        "cites the CRM's documentation: {}",
        failure.actual
    );
    assert_eq!(
        failure
            .journal
            .iter()
            .filter(|l| l.ends_with("-> 429"))
            .count(),
        6,
        "{:?}",
        failure.journal
    );
}

#[tokio::test]
async fn node_app_that_passes_a_429_on_as_502_only_warns_on_the_rate_limit_check() {
    let Some(report) = check(Lang::Node, "ignore_429", "capsule", Routes::All).await else {
        return;
    };
    // One upstream call and a 502: a poor answer, not hammering.
    assert_outcome(&report, &[], &[C::RateLimitHonoured]);
    let reason = case(&report, C::RateLimitHonoured)
        .reason
        .as_deref()
        .unwrap();
    assert!(
        reason.starts_with("answered 502 after one refused API call: the CRM's 429 reached the user as a server error"),
        "{reason}"
    );
}

// passport + passport-oauth2 (state in the session, PKCE S256, passport-oauth2-refresh, a
// hand-written RFC 7009 logout): the way most Node teams write it, judged like our own apps.
// passport-oauth2 sends client_secret_post form bodies, so only CRMs that accept those.

#[tokio::test]
async fn passport_app_passes_every_check_on_capsule() {
    let Some(report) = check(Lang::Passport, "", "capsule", Routes::All).await else {
        return;
    };
    assert_outcome(&report, &[], &[]);
    // Capsule's .env says client_secret_basic; passport-oauth2 posts the secret, which
    // Capsule also accepts.
    assert_eq!(case(&report, C::CodeExchange).status, Status::Passed);
}

#[tokio::test]
async fn passport_app_passes_every_check_on_insightly() {
    let Some(report) = check(Lang::Passport, "", "insightly", Routes::All).await else {
        return;
    };
    assert_outcome(&report, &[], &[]);
}

#[tokio::test]
async fn passport_app_passes_every_check_on_redtail_without_pkce() {
    let Some(report) = check(Lang::Passport, "", "redtail", Routes::All).await else {
        return;
    };
    let pretty = report.to_pretty();
    assert!(ids(&report, Status::Failed).is_empty(), "{pretty}");
    assert!(ids(&report, Status::Warning).is_empty(), "{pretty}");
    // Redtail has no PKCE; the passport app has no list route.
    assert_eq!(
        ids(&report, Status::Skipped),
        set(&[C::AuthzPkce, C::PagingComplete]),
        "{pretty}"
    );
}

/// passport-oauth2's default (`state` off) is the most common mistake in passport apps; it
/// also rules out PKCE, which passport-oauth2 only does with its state store.
#[tokio::test]
async fn passport_app_with_passports_default_no_state_fails_the_csrf_checks() {
    let Some(report) = check(Lang::Passport, "no_state", "capsule", Routes::All).await else {
        return;
    };
    assert_outcome(
        &report,
        &[
            C::AuthzState,
            C::CsrfForgedState,
            C::CsrfMissingState,
            C::CsrfReplayedState,
        ],
        &[C::AuthzPkce],
    );
}

/// Token-shaped strings (43 characters of base64url, what the mock issues) in a report.
fn token_shaped_words(json: &str) -> Vec<String> {
    json.split(|c: char| !(c.is_ascii_alphanumeric() || c == '-' || c == '_'))
        .filter(|w| w.len() >= 40 && w.chars().any(|c| c.is_ascii_digit()))
        .map(str::to_owned)
        .collect()
}

// ---- --app-cmd: check-client runs the app, survives its crashes, sees past a blocker -------------

/// check-client starts the blog-style Express app itself (`--app-cmd`), with the mock's
/// settings in its environment, and judges it.
async fn check_blog(flaw: &str, provider: &str) -> Option<Report> {
    if let Some(why) = unavailable(Lang::Blog) {
        eprintln!("\n!!! SKIPPED: blog-express app (FLAW={flaw:?}) not run: {why}\n");
        return None;
    }
    let port = free_port();
    let mock = MockProvider::builder(Profile::builtin(provider).unwrap())
        .redirect_uri(format!("http://127.0.0.1:{port}/callback"))
        .start()
        .await
        .expect("mock starts");
    let app = AppCommand::new("node src/server.js")
        .dir(apps_dir().join("blog-express"))
        .env("FLAW", flaw);
    let base = format!("http://127.0.0.1:{port}");
    let report = ClientCheck::new(format!("{base}/login").parse().unwrap())
        .api_url(format!("{base}/api").parse().unwrap())
        .logout_url(format!("{base}/logout").parse().unwrap())
        .app(app)
        .run(&mock)
        .await
        .expect("the check runs");
    println!(
        "--- blog-express app, FLAW={flaw:?}, {provider} ---\n{}",
        report.to_pretty()
    );
    // Nothing is left listening once the run is over: the process group was stopped.
    assert!(
        std::net::TcpStream::connect(("127.0.0.1", port)).is_err(),
        "the app was left running"
    );
    Some(report)
}

fn reason(report: &Report, id: ClientCheckId) -> &str {
    case(report, id).reason.as_deref().unwrap_or("")
}

#[tokio::test]
async fn blog_app_passes_everything_including_survival_and_isolation() {
    for provider in ["capsule", "connectwise"] {
        let Some(report) = check_blog("", provider).await else {
            return;
        };
        assert_outcome(&report, &[], &[]);
        assert_eq!(case(&report, C::AppSurvives).status, Status::Passed);
        assert_eq!(case(&report, C::SessionIsolation).status, Status::Passed);
        assert!(report.is_success());
    }
}

/// `GET /callback?code=x` with a valid state kills this app: the run says so, names the
/// request, restarts the app, and every other check still runs (and passes).
#[tokio::test]
async fn blog_app_that_crashes_on_a_token_error_is_restarted_and_reported() {
    let Some(report) = check_blog("crash_on_token_error", "capsule").await else {
        return;
    };
    assert_outcome(&report, &[C::AppSurvives], &[]);
    let why = reason(&report, C::AppSurvives);
    assert!(
        why.contains("GET /callback?code=<redacted>&state=<redacted>")
            && why.contains("killed the app"),
        "{why}"
    );
    // Its stderr dump holds the Basic credentials and the verifier: shown redacted only.
    let secret = RegisteredClient::DEFAULT_SECRET;
    for text in [report.to_pretty(), report.to_json().unwrap()] {
        assert!(!text.contains(secret), "the client secret leaked:\n{text}");
        assert!(
            !text.contains("aGFuZHNoYWtl"),
            "base64 client credentials leaked"
        );
    }
}

/// A crash on the API's 401 in the middle of the run: the app is restarted, its users log
/// in again, and the checks after it still run.
#[tokio::test]
async fn blog_app_that_crashes_on_an_api_401_fails_only_the_401_checks() {
    let Some(report) = check_blog("crash_on_api_401", "capsule").await else {
        return;
    };
    assert_outcome(
        &report,
        &[C::ExpiryRefresh, C::RevokedGrant, C::AppSurvives],
        &[],
    );
    let why = reason(&report, C::AppSurvives);
    assert!(
        why.contains("GET /api (during expiry-refresh) killed the app"),
        "{why}"
    );
    // Checks after the crash ran against the restarted app, in a new session.
    assert_eq!(case(&report, C::LogoutRevocation).status, Status::Passed);
    assert_eq!(case(&report, C::RateLimitHonoured).status, Status::Passed);
}

#[tokio::test]
async fn blog_app_with_process_wide_tokens_fails_session_isolation() {
    let Some(report) = check_blog("process_wide_tokens", "capsule").await else {
        return;
    };
    assert_outcome(&report, &[C::SessionIsolation], &[]);
    let why = reason(&report, C::SessionIsolation);
    assert!(
        why.contains("alice's browser got the CRM data of bob"),
        "{why}"
    );
}

/// ConnectWise requires PKCE: an app without it never completes a login. The PKCE check
/// fails, and everything else is judged against the mock relaxed on PKCE alone.
#[tokio::test]
async fn blog_app_without_pkce_on_a_crm_that_requires_it_is_judged_past_the_blocker() {
    let Some(report) = check_blog("no_pkce", "connectwise").await else {
        return;
    };
    assert_outcome(&report, &[C::AuthzPkce], &[]);
    assert!(reason(&report, C::AuthzPkce).contains("requires PKCE"));
    assert!(
        reason(&report, C::ExpiryRefresh).contains("[mock relaxed on: PKCE"),
        "{}",
        reason(&report, C::ExpiryRefresh)
    );
    assert!(report.notes.iter().any(|n| n.contains("relaxed")));
}

#[tokio::test]
async fn blog_app_that_hangs_on_the_callback_fails_app_survives_with_a_timeout() {
    let Some(report) = check_blog("hang_on_callback", "capsule").await else {
        return;
    };
    assert_eq!(case(&report, C::AppSurvives).status, Status::Failed);
    let why = reason(&report, C::AppSurvives);
    assert!(
        why.contains("GET /callback?code=<redacted>&state=<redacted>")
            && why.contains("the app hangs on it"),
        "{why}"
    );
}

/// Without --app-cmd, an app that dies is reported once, and the checks after it are
/// skipped with the reason instead of failing one by one.
#[tokio::test]
async fn an_app_that_dies_without_app_cmd_is_reported_once() {
    let Some(report) =
        check_with_env(Lang::Blog, "crash_on_api_401", "capsule", Routes::All, &[]).await
    else {
        return;
    };
    assert_eq!(case(&report, C::AppSurvives).status, Status::Failed);
    let after = reason(&report, C::LogoutRevocation);
    assert!(
        after.starts_with("the app stopped answering after expiry-refresh; later checks not run"),
        "{after}"
    );
    assert_eq!(case(&report, C::LogoutRevocation).status, Status::Skipped);
    assert!(reason(&report, C::AppSurvives).contains("--app-cmd"));
}

#[tokio::test]
async fn an_app_that_is_not_running_is_a_setup_error() {
    let port = free_port();
    let mock = MockProvider::builder(Profile::builtin("capsule").unwrap())
        .redirect_uri(format!("http://127.0.0.1:{port}/callback"))
        .start()
        .await
        .unwrap();
    let err = ClientCheck::new(format!("http://127.0.0.1:{port}/login").parse().unwrap())
        .run(&mock)
        .await
        .unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.starts_with(&format!(
            "the app is not reachable at http://127.0.0.1:{port}/login"
        )),
        "{msg}"
    );
}

// ---- --mock-url: a running mock, driven through its control API ---------------------------------

/// Stands in for `handshake serve PROVIDER --redirect-uri http://127.0.0.1:PORT/callback`: a
/// mock the check reaches only by URL. A request with a credential in its URL is in the
/// journal before the run: a run that judged it would fail `credentials-in-headers`.
async fn running_mock(provider: &str, app_port: u16) -> MockProvider {
    let mock = MockProvider::builder(Profile::builtin(provider).unwrap())
        .redirect_uri(format!("http://127.0.0.1:{app_port}/callback"))
        .start()
        .await
        .expect("mock starts");
    let before = reqwest::get(format!(
        "{}?access_token=from-before-the-run",
        mock.api_url()
    ))
    .await
    .unwrap();
    assert_eq!(before.status(), 401);
    mock
}

fn remote_url(mock: &MockProvider) -> url::Url {
    mock.uri().parse().unwrap()
}

/// Every control answer a run got (`RemoteMock::keep_control_answers`) is one that
/// crates/mock/openapi.json allows.
fn assert_control_answers_conform(remote: &RemoteMock) {
    let answers = remote.control_answers();
    assert!(
        answers.len() > 3,
        "only {} control answers kept",
        answers.len()
    );
    for (method, path, status, headers, body) in &answers {
        if let Err(e) =
            contract::contract().check(method.as_str(), path, *status, headers, Some(body))
        {
            panic!("{e}");
        }
    }
}

/// The Python app against a running mock, checked by URL (`ClientCheck::run_remote`).
async fn check_python_remote(flaw: &str) -> Report {
    let port = free_port();
    let mock = running_mock("capsule", port).await;
    let redirect = format!("http://127.0.0.1:{port}/callback");
    let app = start_app(
        Lang::Python,
        flaw,
        app_env(&mock.uri(), mock.profile(), &redirect),
        port,
    )
    .await;
    let remote = RemoteMock::builder(remote_url(&mock))
        .keep_control_answers()
        .connect()
        .await
        .expect("the running mock answers its control API");
    assert_eq!(remote.profile().id, "capsule");
    assert_eq!(remote.client().redirect_uris, [redirect]);
    let report = ClientCheck::new(format!("{}/login", app.base).parse().unwrap())
        .api_url(format!("{}/api", app.base).parse().unwrap())
        .logout_url(format!("{}/logout", app.base).parse().unwrap())
        .list_url(format!("{}/contacts", app.base).parse().unwrap())
        .run_remote(&remote)
        .await
        .expect("the check runs");
    println!(
        "--- Python app, FLAW={flaw:?}, remote capsule ---\n{}",
        report.to_pretty()
    );
    assert_control_answers_conform(&remote);
    // Not reset: what came before the run is still in the journal.
    let journal = mock.journal();
    assert_eq!(journal[0].seq, 1, "the journal was reset");
    assert!(journal[0].query_param("access_token").is_some());
    report
}

#[tokio::test]
async fn a_running_mock_driven_by_url_gives_the_local_verdicts() {
    let report = check_python_remote("").await;
    assert_outcome(&report, &[], &[]);
    assert_eq!(case(&report, C::SessionIsolation).status, Status::Passed);
    assert_eq!(case(&report, C::PagingComplete).status, Status::Passed);
    // A flawed build fails its own check, and the same checks as with a mock of its own.
    let remote = check_python_remote("code_in_url").await;
    assert_outcome(&remote, &[C::CodeRefererLeak], &[]);
    let local = check(Lang::Python, "code_in_url", "capsule", Routes::All)
        .await
        .unwrap();
    let statuses = |r: &Report| -> Vec<(String, Status)> {
        r.cases
            .iter()
            .map(|c| (c.scenario.clone(), c.status))
            .collect()
    };
    assert_eq!(statuses(&remote), statuses(&local));
}

/// `--app-cmd` against a running mock: the app's environment comes from the mock's metadata
/// (and the client secret given), and the blocker is relaxed over the control API.
async fn check_blog_remote(flaw: &str, provider: &str) -> Option<(Report, MockProvider)> {
    if let Some(why) = unavailable(Lang::Blog) {
        eprintln!("\n!!! SKIPPED: blog-express app (FLAW={flaw:?}) not run: {why}\n");
        return None;
    }
    let port = free_port();
    let mock = running_mock(provider, port).await;
    let remote = RemoteMock::builder(remote_url(&mock))
        .client_secret(RegisteredClient::DEFAULT_SECRET)
        .profile(Profile::builtin(provider).unwrap())
        .keep_control_answers()
        .connect()
        .await
        .expect("the running mock answers");
    let debug = format!("{remote:?}");
    assert!(!debug.contains(RegisteredClient::DEFAULT_SECRET), "{debug}");
    let base = format!("http://127.0.0.1:{port}");
    let report = ClientCheck::new(format!("{base}/login").parse().unwrap())
        .api_url(format!("{base}/api").parse().unwrap())
        .logout_url(format!("{base}/logout").parse().unwrap())
        .app(
            AppCommand::new("node src/server.js")
                .dir(apps_dir().join("blog-express"))
                .env("FLAW", flaw),
        )
        .run_remote(&remote)
        .await
        .expect("the check runs");
    println!(
        "--- blog-express app, FLAW={flaw:?}, remote {provider} ---\n{}",
        report.to_pretty()
    );
    assert_control_answers_conform(&remote);
    Some((report, mock))
}

#[tokio::test]
async fn app_cmd_on_a_running_mock_is_judged_past_the_blocker_and_for_isolation() {
    let Some((report, mock)) = check_blog_remote("no_pkce", "connectwise").await else {
        return;
    };
    assert_outcome(&report, &[C::AuthzPkce], &[]);
    assert!(reason(&report, C::ExpiryRefresh).contains("[mock relaxed on: PKCE"));
    // The relaxation outlives the run at a running mock, and the report says so.
    assert_eq!(mock.relaxed(), [handshake_mock::Relaxation::Pkce]);
    assert!(
        report
            .notes
            .iter()
            .any(|n| n.contains("stays relaxed on pkce")),
        "{:?}",
        report.notes
    );
    // Whose data each browser got is read through the control API too.
    let Some((report, _mock)) = check_blog_remote("process_wide_tokens", "capsule").await else {
        return;
    };
    assert_outcome(&report, &[C::SessionIsolation], &[]);
}

#[tokio::test]
async fn a_running_mock_already_relaxed_is_named_in_the_notes() {
    let port = free_port();
    let mock = running_mock("connectwise", port).await;
    mock.relax(handshake_mock::Relaxation::BodyEncoding);
    let redirect = format!("http://127.0.0.1:{port}/callback");
    let app = start_app(
        Lang::Python,
        "",
        app_env(&mock.uri(), mock.profile(), &redirect),
        port,
    )
    .await;
    let remote = RemoteMock::builder(remote_url(&mock))
        .keep_control_answers()
        .connect()
        .await
        .unwrap();
    let report = ClientCheck::new(format!("{}/login", app.base).parse().unwrap())
        .run_remote(&remote)
        .await
        .unwrap();
    assert_control_answers_conform(&remote);
    assert!(
        report
            .notes
            .iter()
            .any(|n| n.contains("already relaxed on body_encoding")),
        "{:?}",
        report.notes
    );
}

#[tokio::test]
async fn a_mock_url_where_no_handshake_mock_answers_is_a_setup_error() {
    // Nothing listens.
    let port = free_port();
    let url: url::Url = format!("http://127.0.0.1:{port}").parse().unwrap();
    let err = RemoteMock::connect(url.clone()).await.unwrap_err();
    assert!(
        matches!(err, ClientCheckError::MockUnreachable { .. }),
        "{err:?}"
    );
    let msg = err.to_string();
    assert!(
        msg.starts_with(&format!("no handshake mock at http://127.0.0.1:{port}/")),
        "{msg}"
    );
    // Something else listens: the Python app is no mock.
    let mock = running_mock("capsule", port).await;
    let redirect = format!("http://127.0.0.1:{port}/callback");
    let app = start_app(
        Lang::Python,
        "",
        app_env(&mock.uri(), mock.profile(), &redirect),
        port,
    )
    .await;
    let msg = RemoteMock::connect(app.base.parse().unwrap())
        .await
        .unwrap_err()
        .to_string();
    assert!(
        msg.contains("GET /__handshake/metadata answered 404")
            && msg.contains("not a handshake mock"),
        "{msg}"
    );
    // A mock of another provider than the profile given.
    let err = RemoteMock::builder(remote_url(&mock))
        .profile(Profile::builtin("redtail").unwrap())
        .connect()
        .await
        .unwrap_err();
    assert!(
        matches!(err, ClientCheckError::MockProfile { .. }),
        "{err:?}"
    );
    assert!(
        err.to_string()
            .contains("it serves provider \"capsule\", but the profile given is \"redtail\""),
        "{err}"
    );
    // check_client with mock_url goes the same way.
    let config = ClientCheckConfig::remote(url, format!("{}/login", app.base).parse().unwrap());
    let err = check_client(config).await.unwrap_err();
    assert!(
        matches!(err, ClientCheckError::MockUnreachable { .. }),
        "{err:?}"
    );
}

/// A mock that goes away mid-run: no report (its verdicts would be about the mock), an
/// error naming the URL.
#[tokio::test]
async fn a_running_mock_that_stops_mid_run_is_an_error_not_a_report() {
    let port = free_port();
    let mock = running_mock("capsule", port).await;
    let redirect = format!("http://127.0.0.1:{port}/callback");
    let app = start_app(
        Lang::Python,
        "",
        app_env(&mock.uri(), mock.profile(), &redirect),
        port,
    )
    .await;
    let url = remote_url(&mock);
    let remote = RemoteMock::connect(url.clone()).await.unwrap();
    let check = ClientCheck::new(format!("{}/login", app.base).parse().unwrap())
        .api_url(format!("{}/api", app.base).parse().unwrap());
    let run = check.run_remote(&remote);
    let stop = async {
        tokio::time::sleep(Duration::from_millis(300)).await;
        drop(mock);
    };
    let (result, ()) = tokio::join!(run, stop);
    let err = result.expect_err("no report once the mock is gone");
    let msg = err.to_string();
    assert!(
        msg.starts_with(&format!("no handshake mock at {url}")) && msg.contains("during the run"),
        "{msg}"
    );
}

/// The HTML report of a check-client run: a diagram per failed or warned check, with the
/// browser, app and CRM lifelines, the app's request to the CRM inside the callback that
/// caused it, the failing arrow marked, the check's fix beside it, and no secret.
#[tokio::test]
async fn python_app_html_report_draws_browser_app_and_crm() {
    let Some(report) = check(Lang::Python, "code_in_url", "capsule", Routes::All).await else {
        return;
    };
    let html = report.to_html("handshake-check-client");
    // Kept to look at: target/tmp/check-client-report.html.
    std::fs::write(
        Path::new(env!("CARGO_TARGET_TMPDIR")).join("check-client-report.html"),
        &html,
    )
    .unwrap();
    let flagged: Vec<_> = report
        .cases
        .iter()
        .filter(|c| matches!(c.status, Status::Failed | Status::Warning))
        .collect();
    assert!(!flagged.is_empty());
    assert_eq!(
        html.matches("<svg class=\"sequence\"").count(),
        flagged.len(),
        "{html}"
    );
    let case = flagged
        .iter()
        .find(|c| c.scenario == "code-referer-leak")
        .unwrap();
    let trace = case.trace.as_ref().unwrap();
    use handshake_conformance::{Actor, EventKind};
    assert_eq!(trace.actors, [Actor::Browser, Actor::App, Actor::Crm]);
    // The callback (browser -> app), and inside it the code exchange (app -> CRM).
    let callback = trace
        .events
        .iter()
        .position(|e| {
            e.kind == EventKind::Request && e.to == Actor::App && e.label.contains("/callback")
        })
        .unwrap_or_else(|| panic!("{trace:#?}"));
    let exchange = trace
        .events
        .iter()
        .position(|e| {
            e.kind == EventKind::Request
                && e.from == Actor::App
                && e.to == Actor::Crm
                && e.detail
                    .as_deref()
                    .is_some_and(|d| d.starts_with("authorization_code"))
        })
        .unwrap_or_else(|| panic!("{trace:#?}"));
    let answered = trace
        .events
        .iter()
        .enumerate()
        .position(|(i, e)| i > callback && e.kind == EventKind::Answer && e.from == Actor::App)
        .unwrap();
    assert!(callback < exchange && exchange < answered, "{trace:#?}");
    // The failing arrow is the app's answer that carries the code onward.
    let failing = &trace.events[trace.first_failing().unwrap()];
    assert_eq!(
        (failing.kind, failing.from, failing.to),
        (EventKind::Answer, Actor::App, Actor::Browser),
        "{trace:#?}"
    );
    let svg = html
        .split("data-case=\"capsule/code-referer-leak\"")
        .nth(1)
        .and_then(|s| s.split("</svg>").next())
        .unwrap();
    for actor in ["browser", "app", "crm"] {
        assert!(svg.contains(&format!("data-actor=\"{actor}\"")), "{actor}");
    }
    assert!(svg.contains("class=\"arrow answer failing\" data-from=\"app\" data-to=\"browser\""));
    assert!(svg.contains("class=\"callout\""));
    assert!(svg.contains("RFC 9700 §4.2.4"));
    assert!(html.contains("answer the callback with a redirect to a URL without code and state"));
    assert!(!html.contains(RegisteredClient::DEFAULT_SECRET));
    assert!(!html.to_lowercase().contains("bearer "));
}
