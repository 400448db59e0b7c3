//! `cargo xtask bench`: the mock measured from outside, by an external load generator.
//!
//! ```text
//! cargo xtask bench [--secs 5] [--rounds 2] [--conns 64] [--threads 2]
//!                   [--tokens 1000000] [--grant-secs 60] [--starts 20]
//! ```
//!
//! Every server runs in its own process and [wrk](https://github.com/wg/wrk) drives it over
//! loopback, so the load generator is neither the server's code nor its bottleneck:
//!
//! - **refresh grant / bare axum**: `handshake serve capsule --quiet` (no request log)
//!   answering Capsule refresh-grant
//!   requests (form body, Basic auth, rotation: each connection follows its own refresh-token
//!   chain, by a wrk Lua script that reads each answer's `refresh_token`), against a bare axum
//!   process (`xtask bench-baseline`) answering the same requests with a token-shaped JSON
//!   body, through the same script;
//! - **API resource / bare axum**: `GET /api/v2/parties?perPage=1` with a Bearer token
//!   against the same bare process answering the mock's exact one-record page;
//! - each ratio alternates the two servers (mock, bare, bare, mock, per round) to even out
//!   drift in machine load, and beside the throughput ratio the benchmark reports the ratio of
//!   server CPU time per request (from `/proc/<pid>/task/*/schedstat`), which other load on
//!   the machine hardly moves;
//! - **start to first 200**: a spawned `handshake serve capsule` process, from `spawn` to the
//!   first `200` on `/__handshake/healthz` (median and max of `--starts`);
//! - **peak RSS** (`VmHWM` of the mock process) after `--tokens` tokens issued on one grant
//!   (refresh after refresh, one connection), and after `--grant-secs` seconds of new grants
//!   (authorize, then code exchange, on every connection).
//!
//! Setup: wrk must be on `PATH`; the benchmark installs it with `apt-get install -y wrk`
//! when it can (root and apt), and says what to do when it cannot.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Context};
use clap::Parser;

#[derive(Debug, Parser)]
#[command(
    name = "cargo xtask bench",
    about = "Benchmark the mock against a bare axum process with wrk"
)]
struct Opts {
    /// Seconds per measured wrk run.
    #[arg(long, default_value_t = 5)]
    secs: u64,
    /// Rounds per ratio; each round runs the mock twice and the baseline twice (A-B-B-A).
    #[arg(long, default_value_t = 2)]
    rounds: usize,
    /// Concurrent connections.
    #[arg(long, default_value_t = 64)]
    conns: usize,
    /// wrk threads.
    #[arg(long, default_value_t = 2)]
    threads: usize,
    /// Tokens to issue on one grant before reading the peak RSS (each refresh issues two).
    #[arg(long, default_value_t = 1_000_000)]
    tokens: u64,
    /// Seconds of new grants before reading the peak RSS.
    #[arg(long, default_value_t = 60)]
    grant_secs: u64,
    /// Start-up samples.
    #[arg(long, default_value_t = 20)]
    starts: usize,
}

const BASIC: &str = "Basic aGFuZHNoYWtlLWNsaWVudDpoYW5kc2hha2Utc2VjcmV0";
const REDIRECT: &str = "http%3A%2F%2Flocalhost%3A3000%2Fcallback";
const API_PATH: &str = "/api/v2/parties?perPage=1";

const TARGET_RATIO: f64 = 0.7;
const TARGET_RSS_MB: f64 = 64.0;
const TARGET_START_MS: f64 = 50.0;

pub(crate) fn run(args: Vec<String>) -> anyhow::Result<ExitCode> {
    let opts = Opts::try_parse_from(std::iter::once("bench".to_owned()).chain(args.clone()))?;
    if cfg!(debug_assertions) {
        // Figures from a debug build mean nothing: build the CLI and ourselves in release and
        // hand over (once: `--release` has no debug assertions).
        eprintln!("bench: building in release (handshake and xtask), then re-running");
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let status = Command::new(&cargo)
            .args([
                "build",
                "--release",
                "--quiet",
                "-p",
                "handshake",
                "-p",
                "xtask",
            ])
            .status()
            .context("cannot run cargo for the release build")?;
        ensure!(status.success(), "release build failed");
        let status = Command::new(cargo)
            .args(["run", "--release", "--quiet", "-p", "xtask", "--", "bench"])
            .args(&args)
            .status()
            .context("cannot run the release build")?;
        return Ok(ExitCode::from(
            status.code().unwrap_or(1).clamp(0, 255) as u8
        ));
    }
    bench(opts)
}

// ---------------------------------------------------------------- setup

/// wrk on `PATH`, installed with apt when possible.
fn ensure_wrk() -> anyhow::Result<()> {
    let has_wrk = || {
        Command::new("wrk")
            .arg("--version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok()
    };
    if has_wrk() {
        return Ok(());
    }
    eprintln!("bench: wrk not found; trying `apt-get install -y wrk`");
    let installed = Command::new("apt-get")
        .args(["install", "-y", "-qq", "wrk"])
        .env("DEBIAN_FRONTEND", "noninteractive")
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if installed && has_wrk() {
        return Ok(());
    }
    bail!(
        "the benchmark needs wrk (the external load generator) and could not install it.\n\
         Install it and re-run: `apt-get install wrk` (Debian/Ubuntu), `brew install wrk` (macOS),\n\
         or build it from https://github.com/wg/wrk"
    )
}

/// The release `handshake` binary next to this one.
fn handshake_bin() -> anyhow::Result<PathBuf> {
    sibling("handshake")
}

/// A binary built beside this one (`cargo build --release -p handshake -p xtask`).
fn sibling(name: &str) -> anyhow::Result<PathBuf> {
    let me = std::env::current_exe()?;
    let bin = me
        .parent()
        .context("no directory for the current executable")?
        .join(format!("{name}{}", std::env::consts::EXE_SUFFIX));
    ensure!(
        bin.exists(),
        "{} is missing: run `cargo build --release -p handshake` (cargo xtask bench does)",
        bin.display()
    );
    Ok(bin)
}

/// A server process this benchmark started; killed when dropped.
struct Server {
    child: Child,
    url: String,
}

impl Server {
    /// Starts `cmd` and waits for the `http://...` URL it prints on its first line.
    fn spawn(mut cmd: Command, what: &str) -> anyhow::Result<Server> {
        let mut child = cmd
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .with_context(|| format!("cannot start {what}"))?;
        let stdout = child.stdout.take().context("no stdout")?;
        let mut first = String::new();
        let mut reader = BufReader::new(stdout);
        reader
            .read_line(&mut first)
            .with_context(|| format!("reading {what}'s first line"))?;
        // Keep reading: a server whose stdout is closed fails on its next print.
        std::thread::spawn(move || std::io::copy(&mut reader, &mut std::io::sink()));
        let url = first
            .split_whitespace()
            .find(|w| w.starts_with("http://"))
            .with_context(|| format!("{what} printed no URL: {first:?}"))?
            .to_owned();
        Ok(Server { child, url })
    }

    fn mock(bin: &Path) -> anyhow::Result<Server> {
        let mut cmd = Command::new(bin);
        // The benchmark measures the token and API paths: no rate limit, and no request log
        // (`--quiet`; the log's cost is the terminal's, one line per request).
        cmd.args([
            "serve",
            "capsule",
            "--quiet",
            "--auto-approve",
            "--port",
            "0",
            "--rate-limit",
            "4000000000",
            "--rate-window",
            "3600",
        ]);
        Server::spawn(cmd, "handshake serve")
    }

    fn baseline(api_body: &Path, api_head: &Path, token_head: &Path) -> anyhow::Result<Server> {
        // Its own binary (`xtask/src/bin/bench-baseline.rs`), so that it can have the
        // handshake binary's allocator while xtask's fuzz keeps the system's.
        let mut cmd = Command::new(sibling("bench-baseline")?);
        cmd.arg(api_body).arg(api_head).arg(token_head);
        Server::spawn(cmd, "the bare axum baseline")
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    fn addr(&self) -> anyhow::Result<SocketAddr> {
        Ok(self.url.trim_start_matches("http://").parse()?)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `VmHWM` (peak RSS) and `VmRSS` of a process, in MB.
fn memory_mb(pid: u32) -> anyhow::Result<(f64, f64)> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .context("reading /proc/<pid>/status (the RSS figures need Linux)")?;
    let field = |name: &str| -> anyhow::Result<f64> {
        let line = status
            .lines()
            .find(|l| l.starts_with(name))
            .with_context(|| format!("no {name} in /proc/{pid}/status"))?;
        let kb: f64 = line
            .split_whitespace()
            .nth(1)
            .context("malformed /proc status line")?
            .parse()?;
        Ok(kb / 1024.0)
    };
    Ok((field("VmHWM:")?, field("VmRSS:")?))
}

// ---------------------------------------------------------------- a tiny HTTP client

/// One HTTP/1.1 request on a fresh connection; returns status, headers and body. Enough for
/// setting up the runs (codes, tokens); the load itself is wrk's.
fn http(addr: SocketAddr, request: &str) -> anyhow::Result<(u16, String, String)> {
    let mut s = TcpStream::connect(addr)?;
    s.set_read_timeout(Some(Duration::from_secs(10)))?;
    s.write_all(request.as_bytes())?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw)?;
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .context("no HTTP status")?;
    Ok((status, head.to_owned(), body.to_owned()))
}

/// The header lines of an answer's head that the baseline repeats: all but the status line
/// and what hyper writes itself (`date`, `content-length`, `connection`).
fn answer_headers(head: &str) -> String {
    head.lines()
        .skip(1)
        .filter(|l| {
            let name = l
                .split(':')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase();
            !matches!(
                name.as_str(),
                "date" | "content-length" | "connection" | "transfer-encoding" | ""
            )
        })
        .map(|l| format!("{l}\n"))
        .collect()
}

fn header<'a>(head: &'a str, name: &str) -> Option<&'a str> {
    head.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.eq_ignore_ascii_case(name).then_some(v.trim())
    })
}

fn json_field(body: &str, field: &str) -> anyhow::Result<String> {
    let v: serde_json::Value = serde_json::from_str(body).context("not JSON")?;
    Ok(v[field]
        .as_str()
        .with_context(|| format!("no {field} in {body}"))?
        .to_owned())
}

/// One grant on the mock: (access token, refresh token).
fn grant(addr: SocketAddr) -> anyhow::Result<(String, String)> {
    let (status, head, _) = http(
        addr,
        &format!(
            "GET /oauth/authorise?response_type=code&client_id=handshake-client&redirect_uri={REDIRECT}&state=bench HTTP/1.1\r\nhost: {addr}\r\nconnection: close\r\n\r\n"
        ),
    )?;
    ensure!(status == 302, "authorize answered {status}");
    let location = header(&head, "location").context("no Location")?;
    let code = url::Url::parse(location)?
        .query_pairs()
        .find(|(k, _)| k == "code")
        .map(|(_, v)| v.into_owned())
        .context("no code")?;
    let body = format!("grant_type=authorization_code&code={code}&redirect_uri={REDIRECT}");
    let (status, _, body) = http(
        addr,
        &format!(
            "POST /oauth/token HTTP/1.1\r\nhost: {addr}\r\nauthorization: {BASIC}\r\ncontent-type: application/x-www-form-urlencoded\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
            body.len()
        ),
    )?;
    ensure!(status == 200, "code exchange answered {status}: {body}");
    Ok((
        json_field(&body, "access_token")?,
        json_field(&body, "refresh_token")?,
    ))
}

// ---------------------------------------------------------------- wrk

/// Refresh-grant chains: each connection takes a refresh token from its thread's pool and
/// puts back the one the answer carries. Args: threads, tokens... Give each thread one token
/// more than its connections: wrk calls `request()` once to check the script, and that
/// token is spent.
const REFRESH_LUA: &str = r#"
local threads = {}
function setup(thread)
  thread:set("id", #threads)
  table.insert(threads, thread)
end
function init(args)
  local n = tonumber(args[1])
  pool = {}
  for i = 2, #args do
    if (i - 2) % n == id then pool[#pool + 1] = args[i] end
  end
end
local headers = {
  ["Authorization"] = "Basic aGFuZHNoYWtlLWNsaWVudDpoYW5kc2hha2Utc2VjcmV0",
  ["Content-Type"] = "application/x-www-form-urlencoded",
}
function request()
  local rt = table.remove(pool, 1) or "exhausted"
  return wrk.format("POST", "/oauth/token", headers, "grant_type=refresh_token&refresh_token=" .. rt)
end
function response(status, hdrs, body)
  local rt = body:match('"refresh_token":"([^"]+)"')
  if rt then pool[#pool + 1] = rt end
end
"#;

/// One refresh-token chain on one connection, `args[2]` refreshes, then stop and create the
/// file `args[3]` (wrk itself runs for its whole `-d`; the benchmark interrupts it then).
/// Args: token, refreshes, marker path.
const ONE_GRANT_LUA: &str = r#"
function init(args)
  current = args[1]
  stop_after = tonumber(args[2])
  marker = args[3]
  done_count = 0
end
local headers = {
  ["Authorization"] = "Basic aGFuZHNoYWtlLWNsaWVudDpoYW5kc2hha2Utc2VjcmV0",
  ["Content-Type"] = "application/x-www-form-urlencoded",
}
function request()
  return wrk.format("POST", "/oauth/token", headers, "grant_type=refresh_token&refresh_token=" .. current)
end
function response(status, hdrs, body)
  local rt = body:match('"refresh_token":"([^"]+)"')
  if rt then current = rt end
  done_count = done_count + 1
  if done_count == stop_after then
    io.open(marker, "w"):close()
    wrk.thread:stop()
  end
end
"#;

/// New grants back to back: authorize (auto-approve), then exchange the code.
const GRANTS_LUA: &str = r#"
local threads = {}
function setup(thread)
  table.insert(threads, thread)
end
local redirect = "http%3A%2F%2Flocalhost%3A3000%2Fcallback"
local authorize = "/oauth/authorise?response_type=code&client_id=handshake-client&redirect_uri=" .. redirect .. "&state=bench"
local headers = {
  ["Authorization"] = "Basic aGFuZHNoYWtlLWNsaWVudDpoYW5kc2hha2Utc2VjcmV0",
  ["Content-Type"] = "application/x-www-form-urlencoded",
}
function init(args)
  codes = {}
  grants = 0
end
function request()
  local c = table.remove(codes)
  if c then
    return wrk.format("POST", "/oauth/token", headers,
      "grant_type=authorization_code&code=" .. c .. "&redirect_uri=" .. redirect)
  end
  return wrk.format("GET", authorize)
end
function response(status, hdrs, body)
  if status == 200 then grants = grants + 1 end
  local loc = hdrs["location"] or hdrs["Location"]
  if loc then
    local c = loc:match("[?&]code=([^&]+)")
    if c then codes[#codes + 1] = c end
  end
end
function done(summary, latency, requests)
  local total = 0
  for _, t in ipairs(threads) do total = total + t:get("grants") end
  io.write(string.format("grants: %d\n", total))
end
"#;

struct WrkRun {
    rps: f64,
    requests: u64,
    non_2xx: u64,
    errors: u64,
    output: String,
}

fn wrk(args: &[String]) -> anyhow::Result<WrkRun> {
    wrk_until(args, None)
}

/// Runs wrk; with `marker`, interrupts it (SIGINT: wrk then reports) once the file exists.
fn wrk_until(args: &[String], marker: Option<&Path>) -> anyhow::Result<WrkRun> {
    let mut child = Command::new("wrk")
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .context("cannot run wrk")?;
    if let Some(marker) = marker {
        let pid = child.id().to_string();
        while !marker.exists() && child.try_wait()?.is_none() {
            std::thread::sleep(Duration::from_millis(50));
        }
        // Give the stopped thread a moment to record its last answer.
        std::thread::sleep(Duration::from_millis(100));
        let _ = Command::new("kill").args(["-INT", &pid]).status();
    }
    let out = child.wait_with_output().context("waiting for wrk")?;
    let output = String::from_utf8_lossy(&out.stdout).into_owned();
    ensure!(
        out.status.success(),
        "wrk failed: {}{}",
        output,
        String::from_utf8_lossy(&out.stderr)
    );
    let number_after = |label: &str| -> Option<f64> {
        output.lines().find_map(|l| {
            let rest = l.trim().strip_prefix(label)?;
            rest.split_whitespace().next()?.parse().ok()
        })
    };
    let rps = number_after("Requests/sec:").context("no Requests/sec in wrk output")?;
    let requests = output
        .lines()
        .find(|l| l.contains(" requests in "))
        .and_then(|l| l.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    let non_2xx = number_after("Non-2xx or 3xx responses:").unwrap_or(0.0) as u64;
    let errors = output
        .lines()
        .find_map(|l| l.trim().strip_prefix("Socket errors:"))
        .map(|rest| {
            rest.split(',')
                .filter_map(|p| p.split_whitespace().nth(1)?.parse::<u64>().ok())
                .sum()
        })
        .unwrap_or(0);
    Ok(WrkRun {
        rps,
        requests,
        non_2xx,
        errors,
        output,
    })
}

fn write_script(dir: &Path, name: &str, text: &str) -> anyhow::Result<String> {
    let path = dir.join(name);
    std::fs::write(&path, text)?;
    Ok(path.display().to_string())
}

/// Arguments of one wrk run.
struct Load<'a> {
    o: &'a Opts,
    secs: u64,
    script: Option<&'a str>,
    headers: &'a [String],
    url: String,
    script_args: Vec<String>,
}

impl Load<'_> {
    fn args(&self) -> Vec<String> {
        let mut a = vec![
            "-t".to_owned(),
            self.o.threads.to_string(),
            "-c".to_owned(),
            self.o.conns.to_string(),
            "-d".to_owned(),
            format!("{}s", self.secs),
        ];
        for h in self.headers {
            a.push("-H".to_owned());
            a.push(h.clone());
        }
        if let Some(s) = self.script {
            a.push("-s".to_owned());
            a.push(s.to_owned());
        }
        a.push(self.url.clone());
        if !self.script_args.is_empty() {
            a.push("--".to_owned());
            a.extend(self.script_args.iter().cloned());
        }
        a
    }
}

/// CPU time the process has used (all its threads), in nanoseconds, from
/// `/proc/<pid>/task/*/schedstat`: unlike throughput, it hardly depends on what else the
/// machine is doing.
fn cpu_ns(pid: u32) -> anyhow::Result<u64> {
    let mut total = 0;
    for task in std::fs::read_dir(format!("/proc/{pid}/task"))? {
        let stat = std::fs::read_to_string(task?.path().join("schedstat")).unwrap_or_default();
        total += stat
            .split_whitespace()
            .next()
            .and_then(|n| n.parse::<u64>().ok())
            .unwrap_or(0);
    }
    Ok(total)
}

/// One measured run: (requests per second, server CPU microseconds per request). Any
/// refused request makes the figures meaningless.
fn measured(load: &Load<'_>, pid: u32, what: &str) -> anyhow::Result<Run> {
    let cpu_before = cpu_ns(pid)?;
    let r = wrk(&load.args())?;
    let cpu = cpu_ns(pid)? - cpu_before;
    ensure!(
        r.non_2xx == 0 && r.errors == 0,
        "{what}: {} non-2xx answers and {} socket errors; the run does not count:\n{}",
        r.non_2xx,
        r.errors,
        r.output
    );
    Ok(Run {
        rps: r.rps,
        cpu_us: cpu as f64 / 1000.0 / r.requests.max(1) as f64,
    })
}

/// One wrk run's figures.
#[derive(Debug, Clone, Copy)]
struct Run {
    rps: f64,
    /// Server CPU time per request (user and system), microseconds.
    cpu_us: f64,
}

/// Mock and baseline alternated A-B-B-A per round; returns (mock runs, baseline runs).
fn ratio_runs(
    o: &Opts,
    mut mock_run: impl FnMut() -> anyhow::Result<Run>,
    mut base_run: impl FnMut() -> anyhow::Result<Run>,
) -> anyhow::Result<(Vec<Run>, Vec<Run>)> {
    let (mut m, mut b) = (Vec::new(), Vec::new());
    for _ in 0..o.rounds {
        m.push(mock_run()?);
        b.push(base_run()?);
        b.push(base_run()?);
        m.push(mock_run()?);
    }
    Ok((m, b))
}

/// The figures of a ratio: (throughput ratio, CPU ratio, report line).
fn compare(what: &str, m: &[Run], b: &[Run]) -> (f64, f64, String) {
    let rps = |v: &[Run]| v.iter().map(|r| r.rps).collect::<Vec<_>>();
    let cpu = |v: &[Run]| mean(&v.iter().map(|r| r.cpu_us).collect::<Vec<_>>());
    let (mr, br) = (rps(m), rps(b));
    let ratio = mean(&mr) / mean(&br);
    let cpu_ratio = cpu(b) / cpu(m);
    let line = format!(
        "  {what}: mock {:.0} req/s (runs {}), bare axum {:.0} req/s (runs {}): ratio {ratio:.2}; server CPU per request {:.1} vs {:.1} µs: ratio {cpu_ratio:.2}",
        mean(&mr),
        runs(&mr),
        mean(&br),
        runs(&br),
        cpu(m),
        cpu(b),
    );
    (ratio, cpu_ratio, line)
}

fn mean(v: &[f64]) -> f64 {
    v.iter().sum::<f64>() / v.len().max(1) as f64
}

fn runs(v: &[f64]) -> String {
    v.iter()
        .map(|r| format!("{:.0}", r))
        .collect::<Vec<_>>()
        .join(", ")
}

// ---------------------------------------------------------------- the benchmark

fn bench(o: Opts) -> anyhow::Result<ExitCode> {
    ensure_wrk()?;
    let bin = handshake_bin()?;
    let dir = std::env::temp_dir().join(format!("handshake-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let refresh_lua = write_script(&dir, "refresh.lua", REFRESH_LUA)?;
    let one_grant_lua = write_script(&dir, "one-grant.lua", ONE_GRANT_LUA)?;
    let grants_lua = write_script(&dir, "grants.lua", GRANTS_LUA)?;
    println!(
        "handshake bench: wrk -t{} -c{}, {} s per run, {} rounds (A-B-B-A); {} cores",
        o.threads,
        o.conns,
        o.secs,
        o.rounds,
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );

    // Start-up first, on a quiet machine.
    let (start_median, start_max) = start_times(&bin, o.starts)?;
    println!(
        "  start to first 200 (spawned `handshake serve capsule`): {start_median:.1} ms median, {start_max:.1} ms max of {}",
        o.starts
    );

    let mock = Server::mock(&bin)?;
    let mock_addr = mock.addr()?;
    let (rss_idle, _) = memory_mb(mock.pid())?;
    let (access, _) = grant(mock_addr)?;
    let (_, page_head, page) = http(
        mock_addr,
        &format!("GET {API_PATH} HTTP/1.1\r\nhost: {mock_addr}\r\nauthorization: Bearer {access}\r\nconnection: close\r\n\r\n"),
    )?;
    let api_body = dir.join("page.json");
    std::fs::write(&api_body, &page)?;
    // The baseline answers with the mock's own headers (captured here, served verbatim), so
    // both put the same bytes on the wire and the ratio compares the work behind them.
    let api_head = dir.join("page.headers");
    std::fs::write(&api_head, answer_headers(&page_head))?;
    let (_, refresh) = grant(mock_addr)?;
    let body = format!("grant_type=refresh_token&refresh_token={refresh}");
    let (status, token_head, _) = http(
        mock_addr,
        &format!(
            "POST /oauth/token HTTP/1.1\r\nhost: {mock_addr}\r\nauthorization: {BASIC}\r\ncontent-type: application/x-www-form-urlencoded\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
            body.len()
        ),
    )?;
    ensure!(status == 200, "refresh answered {status}");
    let token_headers = dir.join("token.headers");
    std::fs::write(&token_headers, answer_headers(&token_head))?;
    let base = Server::baseline(&api_body, &api_head, &token_headers)?;

    // Refresh grant: fresh chains for every mock run (rotation spends them).
    let refresh_load = |url: &str, tokens: Vec<String>| {
        let mut script_args = vec![o.threads.to_string()];
        script_args.extend(tokens);
        Load {
            o: &o,
            secs: o.secs,
            script: Some(&refresh_lua),
            headers: &[],
            url: url.to_owned(),
            script_args,
        }
    };
    let chains = || -> anyhow::Result<Vec<String>> {
        (0..o.conns + o.threads)
            .map(|_| Ok(grant(mock_addr)?.1))
            .collect()
    };
    // Warm-up runs, not counted.
    let (mock_pid, base_pid) = (mock.pid(), base.pid());
    measured(
        &refresh_load(&mock.url, chains()?),
        mock_pid,
        "mock warm-up",
    )?;
    let base_tokens = vec!["baseline".to_owned(); o.conns + o.threads];
    measured(
        &refresh_load(&base.url, base_tokens.clone()),
        base_pid,
        "baseline warm-up",
    )?;
    let (m, b) = ratio_runs(
        &o,
        || {
            measured(
                &refresh_load(&mock.url, chains()?),
                mock_pid,
                "mock refresh",
            )
        },
        || {
            measured(
                &refresh_load(&base.url, base_tokens.clone()),
                base_pid,
                "baseline refresh",
            )
        },
    )?;
    let (refresh_ratio, refresh_cpu, line) = compare("refresh grant", &m, &b);
    println!("{line}");

    // API resource: one-record page, Bearer token.
    let auth = [format!("Authorization: Bearer {access}")];
    let api_load = |url: &str| Load {
        o: &o,
        secs: o.secs,
        script: None,
        headers: &auth,
        url: format!("{url}{API_PATH}"),
        script_args: Vec::new(),
    };
    let (m, b) = ratio_runs(
        &o,
        || measured(&api_load(&mock.url), mock_pid, "mock API"),
        || measured(&api_load(&base.url), base_pid, "baseline API"),
    )?;
    let (api_ratio, api_cpu, line) = compare("API resource (one-record page)", &m, &b);
    println!("{line}");
    drop(base);
    drop(mock);

    // Peak RSS after `tokens` tokens on one grant: one chain, one connection.
    let mock = Server::mock(&bin)?;
    let (_, rt) = grant(mock.addr()?)?;
    let refreshes = o.tokens.div_ceil(2);
    let one = Opts {
        threads: 1,
        conns: 1,
        ..o
    };
    let marker = dir.join("one-grant.done");
    let t = Instant::now();
    let r = wrk_until(
        &Load {
            o: &one,
            secs: 3600,
            script: Some(&one_grant_lua),
            headers: &[],
            url: mock.url.clone(),
            script_args: vec![rt, refreshes.to_string(), marker.display().to_string()],
        }
        .args(),
        Some(&marker),
    )?;
    ensure!(
        r.non_2xx == 0 && r.errors == 0,
        "one-grant run: {} non-2xx, {} errors",
        r.non_2xx,
        r.errors
    );
    let (rss_one_grant, rss_one_grant_now) = memory_mb(mock.pid())?;
    println!(
        "  one grant: {} tokens in {:.1} s ({:.0} refreshes/s on one connection): peak RSS {rss_one_grant:.1} MB (now {rss_one_grant_now:.1}; idle at start {rss_idle:.1})",
        r.requests * 2,
        t.elapsed().as_secs_f64(),
        r.rps
    );
    drop(mock);

    // Peak RSS after `grant_secs` of new grants on every connection.
    let mock = Server::mock(&bin)?;
    let r = wrk(&Load {
        o: &o,
        secs: o.grant_secs,
        script: Some(&grants_lua),
        headers: &[],
        url: mock.url.clone(),
        script_args: Vec::new(),
    }
    .args())?;
    let grants: u64 = r
        .output
        .lines()
        .find_map(|l| l.strip_prefix("grants: "))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or(0);
    ensure!(
        r.non_2xx == 0 && r.errors == 0 && grants > 0,
        "new-grants run: {} non-2xx, {} errors, {grants} grants",
        r.non_2xx,
        r.errors
    );
    let (rss_grants, rss_grants_now) = memory_mb(mock.pid())?;
    println!(
        "  new grants: {grants} in {} s ({:.0}/s): peak RSS {rss_grants:.1} MB (now {rss_grants_now:.1})",
        o.grant_secs,
        grants as f64 / o.grant_secs as f64
    );
    drop(mock);
    let _ = std::fs::remove_dir_all(&dir);

    let verdict = |ok: bool| if ok { "ok" } else { "MISSED" };
    let checks = [
        (
            format!("refresh grant / bare axum      {refresh_ratio:>6.2}   target >= {TARGET_RATIO} (CPU per request: {refresh_cpu:.2})"),
            refresh_ratio >= TARGET_RATIO,
        ),
        (
            format!("API resource / bare axum       {api_ratio:>6.2}   target >= {TARGET_RATIO} (CPU per request: {api_cpu:.2})"),
            api_ratio >= TARGET_RATIO,
        ),
        (
            format!("start to first 200 (max)       {start_max:>6.1} ms   target <= {TARGET_START_MS} ms"),
            start_max <= TARGET_START_MS,
        ),
        (
            format!("peak RSS, {} tokens on one grant {rss_one_grant:>6.1} MB   target <= {TARGET_RSS_MB} MB", o.tokens),
            rss_one_grant <= TARGET_RSS_MB,
        ),
        (
            format!("peak RSS, {} s of new grants      {rss_grants:>6.1} MB   target <= {TARGET_RSS_MB} MB", o.grant_secs),
            rss_grants <= TARGET_RSS_MB,
        ),
    ];
    println!();
    let mut all_ok = true;
    for (line, ok) in &checks {
        println!("  {line}  {}", verdict(*ok));
        all_ok &= ok;
    }
    Ok(if all_ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// Spawns `handshake serve capsule` on a free port `n` times; milliseconds from spawn to the
/// first 200 on healthz: (median, max).
fn start_times(bin: &Path, n: usize) -> anyhow::Result<(f64, f64)> {
    let mut times = Vec::with_capacity(n);
    for _ in 0..n.max(1) {
        let port = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?
            .local_addr()?
            .port();
        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
        let request = format!(
            "GET /__handshake/healthz HTTP/1.1\r\nhost: {addr}\r\nconnection: close\r\n\r\n"
        );
        let t = Instant::now();
        let mut child = Command::new(bin)
            .args(["serve", "capsule", "--port", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()?;
        let result = loop {
            if let Ok((200, _, _)) = http(addr, &request) {
                break Ok(t.elapsed().as_secs_f64() * 1000.0);
            }
            if t.elapsed() > Duration::from_secs(10) {
                break Err(anyhow::anyhow!("no 200 on healthz within 10 s"));
            }
            std::thread::sleep(Duration::from_micros(200));
        };
        let _ = child.kill();
        let _ = child.wait();
        times.push(result?);
    }
    times.sort_by(f64::total_cmp);
    Ok((times[times.len() / 2], times[times.len() - 1]))
}
