//! The app under test as a process `check-client` starts, watches and restarts.
//!
//! The app runs in its own process group, so stopping it stops whatever it spawned (`npm
//! start` runs `node` as a child). Its output is kept in a bounded ring of lines and is only
//! ever shown through [`Redactor`], which removes the codes, tokens and secrets of the run.

use std::collections::VecDeque;
use std::fmt;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use handshake_profile::REDACTED;
use tokio::io::{AsyncBufReadExt as _, AsyncRead, BufReader};
use tokio::process::{Child, Command};
use url::Url;

use super::leak;
use super::mock::MockHandle;

/// Lines of the app's output kept (stdout and stderr together, in arrival order).
const OUTPUT_LINES: usize = 200;
/// Longest line kept; the rest is cut (an app that dumps a whole HTTP response on one line).
const LINE_CHARS: usize = 400;
/// How long a stopping app gets between SIGTERM and SIGKILL.
const GRACE: Duration = Duration::from_secs(2);

/// How `check-client` starts the app: a shell command, where, and with what environment.
///
/// The app gets the mock's settings in its environment under the names `handshake serve`
/// prints (`OAUTH_CLIENT_ID`, `OAUTH_TOKEN_URL`, `CRM_API_URL`, ...), `PORT` from the login
/// URL, then the variables given here, which win.
///
/// ```
/// use handshake_conformance::AppCommand;
///
/// let app = AppCommand::new("node app.js")
///     .dir("examples/my-app")
///     .env("CAPSULE_CLIENT_ID", "handshake-client");
/// assert!(format!("{app:?}").contains("node app.js"));
/// ```
#[derive(Clone)]
pub struct AppCommand {
    command: String,
    dir: Option<PathBuf>,
    env: Vec<(String, String)>,
    ready_timeout: Duration,
}

impl AppCommand {
    /// Default time the app gets to listen on its port after it is started.
    pub const DEFAULT_READY_TIMEOUT: Duration = Duration::from_secs(15);

    /// The app is started with `sh -c command`.
    pub fn new(command: impl Into<String>) -> Self {
        AppCommand {
            command: command.into(),
            dir: None,
            env: Vec::new(),
            ready_timeout: Self::DEFAULT_READY_TIMEOUT,
        }
    }

    /// The working directory of the app (default: the current one).
    pub fn dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.dir = Some(dir.into());
        self
    }

    /// One more environment variable for the app (its own names for the mock's settings).
    pub fn env(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.env.push((name.into(), value.into()));
        self
    }

    /// How long the app may take to listen on the login URL's port.
    pub fn ready_timeout(mut self, timeout: Duration) -> Self {
        self.ready_timeout = timeout;
        self
    }

    /// The command line.
    pub fn command(&self) -> &str {
        &self.command
    }
}

// The environment may hold secrets (`--app-env CLIENT_SECRET=...`): names only.
impl fmt::Debug for AppCommand {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AppCommand")
            .field("command", &self.command)
            .field("dir", &self.dir)
            .field(
                "env",
                &self.env.iter().map(|(k, _)| k.as_str()).collect::<Vec<_>>(),
            )
            .field("ready_timeout", &self.ready_timeout)
            .finish()
    }
}

/// The settings an app needs to use `mock`, under the names `handshake serve` prints:
/// `OAUTH_*` for the OAuth flow, `CRM_API_URL`, and `CRM_*` for the CRM's own scheme.
///
/// ```no_run
/// # async fn demo() {
/// use handshake_mock::MockProvider;
/// use handshake_profile::Profile;
///
/// let mock = MockProvider::start(Profile::builtin("capsule").unwrap()).await;
/// let env = handshake_conformance::app_env(&mock);
/// assert!(env.iter().any(|(k, _)| k == "OAUTH_TOKEN_URL"));
/// # }
/// ```
pub fn app_env(mock: &handshake_mock::MockProvider) -> Vec<(String, String)> {
    env_for(MockHandle::Local(mock))
}

/// [`app_env`] for either kind of mock. A remote mock serves only the non-secret parts of
/// its native credentials: the app gets those (the secret ones come with `--app-env`).
pub(super) fn env_for(mock: MockHandle<'_>) -> Vec<(String, String)> {
    use handshake_profile::{PkceMethod, TokenEncoding};
    let profile = mock.profile();
    let client = mock.client();
    let pkce = match profile.pkce.best_method() {
        Some(PkceMethod::S256) => "S256",
        Some(PkceMethod::Plain) => "plain",
        None => "none",
    };
    let encoding = match profile.token_request.preferred_encoding() {
        TokenEncoding::Form => "form",
        TokenEncoding::Json => "json",
    };
    let mut env: Vec<(String, String)> = [
        ("OAUTH_CLIENT_ID", client.client_id.clone()),
        (
            "OAUTH_CLIENT_SECRET",
            client.client_secret.secret().to_owned(),
        ),
        (
            "OAUTH_REDIRECT_URI",
            client.redirect_uris.first().cloned().unwrap_or_default(),
        ),
        ("OAUTH_AUTHORIZE_URL", mock.authorize_url()),
        ("OAUTH_TOKEN_URL", mock.token_url()),
        ("OAUTH_REVOKE_URL", mock.revoke_url().unwrap_or_default()),
        ("OAUTH_SCOPES", profile.scopes.join(&profile.scopes.default)),
        (
            "OAUTH_TOKEN_AUTH_METHOD",
            profile
                .token_request
                .preferred_client_auth()
                .as_str()
                .to_owned(),
        ),
        ("OAUTH_TOKEN_ENCODING", encoding.to_owned()),
        ("OAUTH_PKCE_METHOD", pkce.to_owned()),
        ("CRM_API_URL", mock.api_url()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    if let Some(native) = &profile.native_auth {
        env.push((
            "CRM_AUTH_SCHEME".to_owned(),
            native.scheme.as_str().to_owned(),
        ));
        if let Some(url) = mock.exchange_url() {
            env.push(("CRM_AUTHENTICATION_URL".to_owned(), url));
        }
        for (field, value) in mock.native_fields() {
            env.push((format!("CRM_{}", field.to_ascii_uppercase()), value));
        }
        if let Some(header) = &native.client_id_header {
            env.push(("CRM_CLIENT_ID_HEADER".to_owned(), header.clone()));
        }
    }
    // A mock serving HTTPS: its CA, under the names Node, OpenSSL (Python, curl, PHP) and
    // Python's requests read.
    if let (_, Some(ca)) = mock.ca() {
        for name in ["NODE_EXTRA_CA_CERTS", "SSL_CERT_FILE", "REQUESTS_CA_BUNDLE"] {
            env.push((name.to_owned(), ca.display().to_string()));
        }
    }
    env
}

/// Removes the run's secrets from text before it is shown: every value the mock issued (by
/// its journal tag), and the literal secrets of the run (client secret, API keys).
#[derive(Default, Clone)]
pub(crate) struct Redactor {
    tags: std::collections::BTreeSet<String>,
    literals: Vec<String>,
}

impl Redactor {
    pub(crate) fn new(
        tags: impl IntoIterator<Item = String>,
        literals: impl IntoIterator<Item = String>,
    ) -> Self {
        Redactor {
            tags: tags.into_iter().collect(),
            literals: literals
                .into_iter()
                .filter(|s| s.len() >= 4) // never blank out every "a" of a line
                .collect(),
        }
    }

    pub(crate) fn apply(&self, line: &str) -> String {
        let mut out = line.to_owned();
        for lit in &self.literals {
            out = out.replace(lit.as_str(), REDACTED);
        }
        // Token-shaped runs whose tag the mock issued; and whatever follows "Bearer ".
        let mut result = String::with_capacity(out.len());
        let mut run = String::new();
        let token_char = |c: char| c.is_ascii_alphanumeric() || "-._~+/=".contains(c);
        let flush = |run: &mut String, result: &mut String| {
            if run.len() >= 16 && self.is_secret(run) {
                result.push_str(REDACTED);
            } else {
                result.push_str(run);
            }
            run.clear();
        };
        for c in out.chars() {
            if token_char(c) {
                run.push(c);
            } else {
                flush(&mut run, &mut result);
                result.push(c);
            }
        }
        flush(&mut run, &mut result);
        mask_after(&mask_after(&result, "Bearer "), "Basic ")
    }

    fn is_secret(&self, run: &str) -> bool {
        let trimmed = run.trim_end_matches(['.', '=']);
        [run, trimmed]
            .iter()
            .chain(run.split('=').collect::<Vec<_>>().iter())
            .any(|piece| piece.len() >= 16 && self.tags.contains(&leak::tag(piece)))
    }
}

/// Masks the word after each `marker` (case-insensitive).
fn mask_after(text: &str, marker: &str) -> String {
    let lower = text.to_ascii_lowercase();
    let m = marker.to_ascii_lowercase();
    let mut out = String::new();
    let mut at = 0;
    while let Some(i) = lower[at..].find(&m).map(|i| i + at) {
        let start = i + m.len();
        out.push_str(&text[at..start]);
        let end = text[start..]
            .find(|c: char| c.is_whitespace() || "\"',;)}]".contains(c))
            .map_or(text.len(), |e| e + start);
        if end > start {
            out.push_str(REDACTED);
        }
        at = end;
    }
    out.push_str(&text[at..]);
    out
}

/// A started app.
pub(crate) struct AppProcess {
    spec: AppCommand,
    env: Vec<(String, String)>,
    host: String,
    port: u16,
    child: Option<Child>,
    output: Arc<Mutex<VecDeque<String>>>,
    /// Hides the secrets the app was given, in what it printed before a run knows more.
    redactor: Redactor,
    /// How often it was started.
    pub(crate) starts: u32,
}

impl AppProcess {
    /// Starts the app with `base_env` plus its own variables and waits until it listens on
    /// `login_url`'s port.
    pub(crate) async fn start(
        spec: &AppCommand,
        base_env: Vec<(String, String)>,
        login_url: &Url,
    ) -> Result<AppProcess, String> {
        let host = login_url.host_str().unwrap_or("127.0.0.1").to_owned();
        let port = login_url
            .port_or_known_default()
            .ok_or("the login URL has no port")?;
        let mut env = base_env;
        if !env.iter().any(|(k, _)| k == "PORT") {
            env.push(("PORT".to_owned(), port.to_string()));
        }
        env.extend(spec.env.iter().cloned());
        // Values of variables whose names say they are secret.
        let secret_name = |k: &str| {
            let k = k.to_ascii_uppercase();
            ["SECRET", "TOKEN", "KEY", "PASSWORD"]
                .iter()
                .any(|w| k.contains(w))
        };
        let redactor = Redactor::new(
            std::iter::empty(),
            env.iter()
                .filter(|(k, _)| secret_name(k))
                .map(|(_, v)| v.clone()),
        );
        let mut app = AppProcess {
            spec: spec.clone(),
            env,
            host,
            port,
            child: None,
            output: Arc::new(Mutex::new(VecDeque::new())),
            redactor,
            starts: 0,
        };
        app.spawn().await?;
        Ok(app)
    }

    async fn spawn(&mut self) -> Result<(), String> {
        let mut cmd = Command::new("sh");
        cmd.arg("-c")
            .arg(&self.spec.command)
            .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        #[cfg(unix)]
        cmd.process_group(0);
        if let Some(dir) = &self.spec.dir {
            cmd.current_dir(dir);
        }
        let mut child = cmd.spawn().map_err(|e| {
            format!(
                "cannot start the app ({:?} in {}): {e}",
                self.spec.command,
                self.spec
                    .dir
                    .as_ref()
                    .map_or_else(|| ".".to_owned(), |d| d.display().to_string())
            )
        })?;
        self.starts += 1;
        if let Some(out) = child.stdout.take() {
            tokio::spawn(collect(out, Arc::clone(&self.output)));
        }
        if let Some(err) = child.stderr.take() {
            tokio::spawn(collect(err, Arc::clone(&self.output)));
        }
        self.child = Some(child);
        let deadline = Instant::now() + self.spec.ready_timeout;
        loop {
            if let Some(status) = self.exit_status() {
                // Let the output readers catch up with what it said before dying.
                tokio::time::sleep(Duration::from_millis(50)).await;
                let tail = self.tail(8, &self.redactor);
                let said = if tail.is_empty() {
                    String::new()
                } else {
                    format!("; its last output:\n  {}", tail.join("\n  "))
                };
                return Err(format!(
                    "the app exited ({status}) before it listened on port {}{said}",
                    self.port
                ));
            }
            if tokio::net::TcpStream::connect((self.host.as_str(), self.port))
                .await
                .is_ok()
            {
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(format!(
                    "the app did not listen on {}:{} within {} s",
                    self.host,
                    self.port,
                    self.spec.ready_timeout.as_secs()
                ));
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    /// How the app ended, if it has.
    pub(crate) fn exit_status(&mut self) -> Option<String> {
        let child = self.child.as_mut()?;
        match child.try_wait() {
            Ok(Some(status)) => Some(match status.code() {
                Some(c) => format!("exit status {c}"),
                None => describe_signal(&status),
            }),
            _ => None,
        }
    }

    /// Stops the app (and everything in its process group) and starts it again.
    pub(crate) async fn restart(&mut self) -> Result<(), String> {
        self.stop().await;
        self.push_line("--- handshake: the app was restarted ---".to_owned());
        self.spawn().await
    }

    /// SIGTERM to the process group, SIGKILL after a grace period; nothing is left running.
    pub(crate) async fn stop(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        let pgid = child.id();
        signal_group(pgid, Signal::Term);
        if tokio::time::timeout(GRACE, child.wait()).await.is_err() {
            let _ = child.start_kill();
            let _ = child.wait().await;
        }
        // The group leader is gone; its children may not be.
        signal_group(pgid, Signal::Kill);
        // A killed process lets go of its port only once it is really gone: until then a
        // new start would fail to bind, and a readiness probe would reach the dying one.
        let deadline = Instant::now() + GRACE;
        // (A zombie left in the group is harmless and may never be reaped here: the port is
        // what matters.)
        while Instant::now() < deadline
            && tokio::net::TcpStream::connect((self.host.as_str(), self.port))
                .await
                .is_ok()
        {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// The last `n` lines of the app's output, redacted.
    pub(crate) fn tail(&self, n: usize, redactor: &Redactor) -> Vec<String> {
        let lines = self.output.lock().unwrap_or_else(|e| e.into_inner());
        let skip = lines.len().saturating_sub(n);
        lines.iter().skip(skip).map(|l| redactor.apply(l)).collect()
    }

    fn push_line(&self, line: String) {
        push(&self.output, line);
    }
}

impl Drop for AppProcess {
    fn drop(&mut self) {
        if let Some(child) = &self.child {
            signal_group(child.id(), Signal::Kill);
        }
    }
}

async fn collect(stream: impl AsyncRead + Unpin, output: Arc<Mutex<VecDeque<String>>>) {
    let mut lines = BufReader::new(stream).lines();
    while let Ok(Some(line)) = lines.next_line().await {
        push(&output, line);
    }
}

fn push(output: &Mutex<VecDeque<String>>, mut line: String) {
    if let Some((i, _)) = line.char_indices().nth(LINE_CHARS) {
        line.truncate(i);
        line.push('…');
    }
    let mut lines = output.lock().unwrap_or_else(|e| e.into_inner());
    if lines.len() == OUTPUT_LINES {
        lines.pop_front();
    }
    lines.push_back(line);
}

enum Signal {
    Term,
    Kill,
}

#[cfg(unix)]
fn signal_group(pgid: Option<u32>, signal: Signal) {
    use nix::sys::signal::{killpg, Signal as S};
    use nix::unistd::Pid;
    let Some(pgid) = pgid.and_then(|p| i32::try_from(p).ok()) else {
        return;
    };
    let sig = match signal {
        Signal::Term => S::SIGTERM,
        Signal::Kill => S::SIGKILL,
    };
    // ESRCH (nothing left in the group) is the good outcome.
    let _ = killpg(Pid::from_raw(pgid), sig);
}

#[cfg(not(unix))]
fn signal_group(_pgid: Option<u32>, _signal: Signal) {}

#[cfg(unix)]
fn describe_signal(status: &std::process::ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt as _;
    match status.signal() {
        Some(s) => format!("killed by signal {s}"),
        None => status.to_string(),
    }
}

#[cfg(not(unix))]
fn describe_signal(status: &std::process::ExitStatus) -> String {
    status.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redactor_removes_issued_values_literals_and_bearer_tokens() {
        let token = "tok_4f9d2c7e1b8a6053e2d1";
        let r = Redactor::new([leak::tag(token)], ["s3cret-value".to_owned()]);
        let line = format!(
            "got {{\"access_token\":\"{token}\"}} secret=s3cret-value auth: Bearer abcdefghijklmnopqrstu ok"
        );
        let shown = r.apply(&line);
        assert!(!shown.contains(token), "{shown}");
        assert!(!shown.contains("s3cret-value"), "{shown}");
        assert!(!shown.contains("abcdefghijklmnopqrstu"), "{shown}");
        assert!(
            shown.contains("got {\"access_token\":\"[redacted]\"}"),
            "{shown}"
        );
        assert!(shown.ends_with("Bearer [redacted] ok"), "{shown}");
        // Words that are not secrets stay.
        assert_eq!(r.apply("listening on port 3000"), "listening on port 3000");
    }

    #[tokio::test]
    async fn start_watch_restart_and_stop_a_process_group() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        drop(listener);
        // A shell that starts a child listener (python3 is on every CI machine here) and
        // prints its environment's OAUTH_CLIENT_ID.
        let cmd = format!(
            "echo id=$OAUTH_CLIENT_ID port=$PORT; exec python3 -c 'import socket,time; s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind((\"127.0.0.1\", {port})); s.listen(); time.sleep(60)'"
        );
        let spec = AppCommand::new(cmd).ready_timeout(Duration::from_secs(10));
        let login = Url::parse(&format!("http://127.0.0.1:{port}/login")).unwrap();
        let mut app = AppProcess::start(
            &spec,
            vec![("OAUTH_CLIENT_ID".to_owned(), "abc".to_owned())],
            &login,
        )
        .await
        .unwrap();
        assert!(app.exit_status().is_none());
        let tail = app.tail(10, &Redactor::default());
        assert!(
            tail.iter().any(|l| l == &format!("id=abc port={port}")),
            "{tail:?}"
        );
        app.restart().await.unwrap();
        assert_eq!(app.starts, 2);
        app.stop().await;
        // Nothing listens any more: the group was stopped.
        assert!(tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_err());
    }

    #[tokio::test]
    async fn an_app_that_exits_before_listening_is_a_clear_error() {
        let spec = AppCommand::new("echo boom $OAUTH_CLIENT_SECRET >&2; exit 3");
        let login = Url::parse("http://127.0.0.1:9/login").unwrap();
        let env = vec![("OAUTH_CLIENT_SECRET".to_owned(), "s3cret-xyz".to_owned())];
        let err = AppProcess::start(&spec, env, &login).await.err().unwrap();
        assert!(err.contains("exited (exit status 3)"), "{err}");
        assert!(
            err.contains("boom [redacted]"),
            "its output, redacted: {err}"
        );
    }
}
