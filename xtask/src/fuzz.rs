//! `cargo xtask fuzz`: a bounded fuzz of every endpoint of every built-in mock, over raw
//! TCP, so that requests no HTTP client library would send get through.
//!
//! ```text
//! cargo xtask fuzz [--count 100000] [--seed 1] [--conns 8]
//! ```
//!
//! Each generated request is a bad one of some kind: wrong methods, duplicate and huge
//! parameters, bad UTF-8 and percent-encoding, bad JSON, NUL bytes, header floods, bad
//! `Authorization` values, oversized and chunked bodies; a few valid requests are mixed in.
//! The run fails when any answer is a 5xx, when a well-formed request gets no answer, when an
//! OAuth endpoint's 4xx has no RFC 6749 error JSON (the authorization endpoint's HTML error
//! pages excepted: they are for the user's browser), when an API 4xx is not the CRM's JSON,
//! or when the process's peak RSS ends above 64 MB.
//!
//! Requests that break HTTP itself (a broken chunk size, a header over hyper's limits) are
//! answered by hyper before the mock sees them; for those only "no 5xx" is checked.

use std::process::ExitCode;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Parser;
use handshake_mock::MockProvider;
use handshake_profile::Profile;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

#[derive(Debug, Parser)]
#[command(
    name = "cargo xtask fuzz",
    about = "Bad requests to every endpoint of every mock"
)]
struct Opts {
    /// Requests to send in all.
    #[arg(long, default_value_t = 100_000)]
    count: usize,
    /// Seed of the generator (the same seed sends the same requests).
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Concurrent connections.
    #[arg(long, default_value_t = 8)]
    conns: usize,
}

const PEAK_RSS_MB: f64 = 64.0;
/// Longest wait for an answer: far above anything the mock does.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(20);

pub(crate) fn run(args: Vec<String>) -> anyhow::Result<ExitCode> {
    let o = Opts::try_parse_from(std::iter::once("fuzz".to_owned()).chain(args))?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(fuzz(o))
}

/// xorshift64*: deterministic, no dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
    fn pick<'a, T>(&mut self, v: &'a [T]) -> &'a T {
        &v[self.below(v.len())]
    }
    fn chance(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }
}

/// What an endpoint's refusals must look like.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// Token and revocation: RFC 6749 error JSON, always.
    Oauth,
    /// The authorization endpoint: error JSON, or its HTML page for the browser.
    Authorize,
    /// The API resource: the CRM's JSON error shape.
    Api,
    /// Anything else (unknown paths, the control API): error JSON.
    Other,
}

/// One generated request.
struct Case {
    mock: usize,
    bytes: Vec<u8>,
    kind: Kind,
    /// Valid HTTP within hyper's limits: the mock itself must answer it.
    well_formed: bool,
    /// A valid request: it must succeed (2xx/3xx, or the CRM's 429).
    valid: bool,
    what: &'static str,
}

struct Target {
    id: String,
    host: String,
    authorize: String,
    token: String,
    revoke: Vec<String>,
    api: String,
    /// Header lines of a valid native-scheme call to the API, if the profile has one.
    valid_api_auth: Option<Vec<String>>,
}

fn target(mock: &MockProvider) -> Target {
    let p = mock.profile();
    let n = mock.native_credentials();
    let b64 = |s: String| {
        use base64_lite::encode;
        encode(s.as_bytes())
    };
    use handshake_mock::NativeScheme;
    let valid_api_auth = p.native_auth.as_ref().and_then(|na| {
        let auth = match na.scheme {
            NativeScheme::BearerToken => format!("Bearer {}", n.personal_access_token()),
            NativeScheme::BasicApiKey => format!("Basic {}", b64(format!("{}:", n.api_key()))),
            NativeScheme::BasicEmailApiKey => {
                format!("Basic {}", b64(format!("{}:{}", n.email(), n.api_key())))
            }
            NativeScheme::RedtailUserKey => format!(
                "UserKeyAuth {}",
                b64(format!("{}:{}", n.api_key(), n.user_key()))
            ),
            NativeScheme::ConnectwiseMemberKey => format!(
                "Basic {}",
                b64(format!(
                    "{}+{}:{}",
                    n.company_id(),
                    n.public_key(),
                    n.private_key()
                ))
            ),
            #[allow(unreachable_patterns)]
            _ => return None,
        };
        let mut lines = vec![
            format!("authorization: {auth}"),
            "accept: application/json".to_owned(),
        ];
        if na.scheme == NativeScheme::ConnectwiseMemberKey {
            lines.push(format!("clientId: {}", n.integration_client_id()));
        }
        Some(lines)
    });
    Target {
        id: p.id.clone(),
        host: mock.addr().to_string(),
        authorize: p.oauth.authorize_path.clone(),
        token: p.oauth.token_path.clone(),
        revoke: p.oauth.revoke_paths.clone(),
        api: p.api.path.clone(),
        valid_api_auth,
    }
}

/// Base64 without a dependency (only for building valid credentials).
mod base64_lite {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    pub(super) fn encode(input: &[u8]) -> String {
        let mut out = String::new();
        for chunk in input.chunks(3) {
            let b = [
                chunk[0],
                chunk.get(1).copied().unwrap_or(0),
                chunk.get(2).copied().unwrap_or(0),
            ];
            let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
            for i in 0..4 {
                if i <= chunk.len() {
                    out.push(T[((n >> (18 - 6 * i)) & 63) as usize] as char);
                } else {
                    out.push('=');
                }
            }
        }
        out
    }
}

const METHODS: &[&str] = &[
    "GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "HEAD", "TRACE", "FOO", "get",
];
const NAMES: &[&str] = &[
    "grant_type",
    "code",
    "refresh_token",
    "redirect_uri",
    "client_id",
    "client_secret",
    "code_verifier",
    "token",
    "token_type_hint",
    "scope",
    "state",
    "response_type",
    "code_challenge",
    "code_challenge_method",
    "consent_id",
    "decision",
    "page",
    "perPage",
    "pageSize",
    "skip",
    "top",
    "cursor",
    "page_size",
    "pageId",
    "count_total",
    "x",
];
const VALUES: &[&str] = &[
    "",
    "authorization_code",
    "refresh_token",
    "handshake-client",
    "handshake-secret",
    "http%3A%2F%2Flocalhost%3A3000%2Fcallback",
    "code",
    "S256",
    "plain",
    "approve",
    "%ff%fe",
    "%",
    "%zz",
    "%00",
    "%E2%82",
    "0",
    "-1",
    "99999999999999999999999",
    "true",
    "read+write",
    "%F0%9F%92%A9",
];
const AUTHORIZATIONS: &[&str] = &[
    "Basic",
    "Basic ",
    "Basic !!!",
    "Basic aGFuZHNoYWtlLWNsaWVudA==",
    "Basic aGFuZHNoYWtlLWNsaWVudDpoYW5kc2hha2Utc2VjcmV0",
    "Basic aGFuZHNoYWtlLWNsaWVudDp3cm9uZw==",
    "Basic JWZmOiVmZg==",
    "Bearer",
    "Bearer ",
    "Bearer x",
    "bearer abc def",
    "UserKeyAuth !!",
    "Digest username=x",
    "Negotiate",
    "\u{7f}",
];

fn value(r: &mut Rng) -> String {
    match r.below(10) {
        0 => "v".repeat(1 + r.below(30_000)),
        1 => {
            // Random printable bytes, percent-escaped where they must be.
            (0..r.below(40))
                .map(|_| match r.below(4) {
                    0 => format!("%{:02x}", r.below(256)),
                    1 => "+".to_owned(),
                    _ => ((b'a' + r.below(26) as u8) as char).to_string(),
                })
                .collect()
        }
        _ => r.pick(VALUES).to_string(),
    }
}

fn params(r: &mut Rng) -> String {
    let n = match r.below(10) {
        0 => 50 + r.below(300),
        _ => r.below(8),
    };
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        let name = if r.chance(10) {
            value(r)
        } else {
            r.pick(NAMES).to_string()
        };
        out.push(format!("{name}={}", value(r)));
        if r.chance(15) {
            // A duplicate.
            out.push(out[out.len() - 1].clone());
        }
    }
    out.join("&")
}

fn json_body(r: &mut Rng) -> Vec<u8> {
    match r.below(8) {
        0 => b"{".to_vec(),
        1 => "[".repeat(1 + r.below(5000)).into_bytes(),
        2 => br#"{"grant_type":"refresh_token","grant_type":"authorization_code"}"#.to_vec(),
        3 => br#"{"grant_type":{"nested":true},"code":[1,2]}"#.to_vec(),
        4 => b"{\"code\":\"\\u0000\",\"client_id\":\"handshake-client\"}".to_vec(),
        5 => vec![0xff, 0xfe, b'{', b'}'],
        6 => b"null".to_vec(),
        _ => {
            let p: Vec<String> = (0..r.below(6))
                .map(|_| format!("\"{}\":\"{}\"", r.pick(NAMES), r.pick(VALUES)))
                .collect();
            format!("{{{}}}", p.join(",")).into_bytes()
        }
    }
}

fn generate(r: &mut Rng, targets: &[Target]) -> Case {
    let mock = r.below(targets.len());
    let t = &targets[mock];
    let paths: Vec<(String, Kind)> = {
        let mut v = vec![
            (t.authorize.clone(), Kind::Authorize),
            (t.token.clone(), Kind::Oauth),
            (t.api.clone(), Kind::Api),
            (format!("{}/{}", t.api, r.below(300)), Kind::Api),
            (format!("{}/x/y", t.api), Kind::Api),
            (format!("{}/extra", t.token), Kind::Other),
            (
                "/.well-known/oauth-authorization-server".to_owned(),
                Kind::Other,
            ),
            ("/__handshake/faults".to_owned(), Kind::Other),
            ("/nowhere".to_owned(), Kind::Other),
        ];
        for rp in &t.revoke {
            v.push((rp.clone(), Kind::Oauth));
        }
        v
    };
    let (path, kind) = r.pick(&paths).clone();
    let mut method = if r.chance(60) {
        if matches!(kind, Kind::Api) {
            "GET"
        } else {
            "POST"
        }
    } else {
        *r.pick(METHODS)
    };
    let mut headers: Vec<String> = vec![format!("host: {}", t.host)];
    let mut body: Vec<u8> = Vec::new();
    let mut well_formed = true;
    let mut valid = false;
    let mut chunked = false;
    let query = if r.chance(40) {
        format!("?{}", params(r))
    } else {
        String::new()
    };
    let what: &'static str;
    match r.below(10) {
        0 => {
            what = "valid request";
            valid = true;
            method = "GET";
            let (p, auth) = match (r.below(2), &t.valid_api_auth) {
                (0, Some(a)) => (t.api.clone(), Some(a.clone())),
                _ => ("/__handshake/healthz".to_owned(), None),
            };
            headers.extend(auth.into_iter().flatten());
            return finish(
                mock,
                method,
                &p,
                "",
                headers,
                Vec::new(),
                false,
                if p.starts_with("/__") {
                    Kind::Other
                } else {
                    Kind::Api
                },
                true,
                valid,
                what,
            );
        }
        1 => {
            what = "form body, bad parameters";
            headers.push("content-type: application/x-www-form-urlencoded".to_owned());
            body = params(r).into_bytes();
        }
        2 => {
            what = "bad JSON";
            headers.push("content-type: application/json".to_owned());
            body = json_body(r);
        }
        3 => {
            what = "raw bytes and NULs in the body";
            headers.push("content-type: application/x-www-form-urlencoded".to_owned());
            body = (0..r.below(200)).map(|_| r.next() as u8).collect();
            if r.chance(50) {
                body.extend_from_slice(b"grant_type=refresh_token\0&code=\0\0");
            }
        }
        4 => {
            what = "header flood";
            let n = if r.chance(20) {
                100 + r.below(50)
            } else {
                r.below(90)
            };
            if n + 4 >= 100 {
                well_formed = false; // over hyper's header count: hyper answers 431
            }
            for i in 0..n {
                headers.push(format!("x-flood-{i}: {}", "f".repeat(r.below(200))));
            }
            if r.chance(30) {
                headers.push(format!("x-huge: {}", "h".repeat(20_000 + r.below(40_000))));
            }
            if r.chance(30) {
                headers.push("content-type: application/json".to_owned());
                headers.push("content-type: application/x-www-form-urlencoded".to_owned());
                body = b"grant_type=refresh_token".to_vec();
            }
        }
        5 => {
            what = "bad Authorization";
            for _ in 0..1 + r.below(3) {
                let a = r.pick(AUTHORIZATIONS);
                if a.bytes().any(|b| b < 0x20 || b == 0x7f) {
                    well_formed = false;
                }
                headers.push(format!("authorization: {a}"));
            }
            if r.chance(20) {
                headers.push(format!("authorization: Bearer {}", "t".repeat(5000)));
            }
            headers.push("content-type: application/x-www-form-urlencoded".to_owned());
            body = format!("grant_type=refresh_token&refresh_token={}", value(r)).into_bytes();
        }
        6 => {
            what = "oversized body";
            headers.push("content-type: application/x-www-form-urlencoded".to_owned());
            let n = 60_000 + r.below(30_000);
            body = format!("a={}", "x".repeat(n)).into_bytes();
        }
        7 => {
            what = "chunked body";
            chunked = true;
            headers.push("content-type: application/x-www-form-urlencoded".to_owned());
            headers.push("transfer-encoding: chunked".to_owned());
            let payload = if r.chance(20) {
                "x".repeat(70_000)
            } else {
                params(r)
            };
            for piece in payload.as_bytes().chunks(1 + r.below(4000)) {
                body.extend_from_slice(format!("{:x}\r\n", piece.len()).as_bytes());
                body.extend_from_slice(piece);
                body.extend_from_slice(b"\r\n");
            }
            if r.chance(15) {
                body.extend_from_slice(b"zz\r\nbroken\r\n");
                well_formed = false; // a broken chunk size: hyper refuses it
            }
            body.extend_from_slice(b"0\r\n\r\n");
        }
        8 => {
            what = "bad UTF-8 and escapes in the query";
            let q = format!("?client_id=%ff&state=%&redirect_uri=%zz&{}", params(r));
            return finish(
                mock,
                method,
                &path,
                &q,
                headers,
                Vec::new(),
                false,
                kind,
                true,
                false,
                what,
            );
        }
        _ => {
            what = "wrong method";
            method = *r.pick(METHODS);
        }
    }
    if method == "HEAD" && !body.is_empty() {
        // A body on HEAD is legal but hyper may not read it; keep the request clean.
        body.clear();
        chunked = false;
        headers.retain(|h| !h.starts_with("transfer-encoding"));
    }
    finish(
        mock,
        method,
        &path,
        &query,
        headers,
        body,
        chunked,
        kind,
        well_formed,
        valid,
        what,
    )
}

#[allow(clippy::too_many_arguments)]
fn finish(
    mock: usize,
    method: &str,
    path: &str,
    query: &str,
    mut headers: Vec<String>,
    body: Vec<u8>,
    chunked: bool,
    kind: Kind,
    well_formed: bool,
    valid: bool,
    what: &'static str,
) -> Case {
    if !chunked {
        headers.push(format!("content-length: {}", body.len()));
    }
    // Within hyper's limits (100 headers, an 80 KB read buffer) the mock itself answers;
    // beyond them hyper refuses the request first.
    let head_len = method.len()
        + path.len()
        + query.len()
        + headers.iter().map(|h| h.len() + 2).sum::<usize>();
    let well_formed = well_formed && headers.len() < 95 && head_len < 64 * 1024;
    let mut bytes = format!("{method} {path}{query} HTTP/1.1\r\n").into_bytes();
    for h in &headers {
        bytes.extend_from_slice(h.as_bytes());
        bytes.extend_from_slice(b"\r\n");
    }
    bytes.extend_from_slice(b"\r\n");
    bytes.extend_from_slice(&body);
    Case {
        mock,
        bytes,
        kind,
        well_formed,
        valid,
        what,
    }
}

/// One answer as read off the wire.
struct Answer {
    status: u16,
    content_type: String,
    body: Vec<u8>,
    close: bool,
}

/// Reads one HTTP/1.1 answer. `None`: the connection closed or timed out first.
async fn read_answer(
    s: &mut TcpStream,
    buf: &mut Vec<u8>,
    head_request: bool,
) -> anyhow::Result<Option<Answer>> {
    let head_end = loop {
        if let Some(i) = find(buf, b"\r\n\r\n") {
            break i;
        }
        let mut chunk = [0u8; 8192];
        let n = match tokio::time::timeout(ANSWER_TIMEOUT, s.read(&mut chunk)).await {
            Ok(Ok(n)) => n,
            Ok(Err(_)) | Err(_) => return Ok(None),
        };
        if n == 0 {
            return Ok(None);
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    buf.drain(..head_end + 4);
    let status: u16 = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .context("no status in answer")?;
    let header = |name: &str| {
        head.lines().skip(1).find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.trim()
                .eq_ignore_ascii_case(name)
                .then(|| v.trim().to_owned())
        })
    };
    let close = header("connection").is_some_and(|v| v.eq_ignore_ascii_case("close"));
    let content_type = header("content-type").unwrap_or_default();
    let mut body = Vec::new();
    let no_body = head_request || status == 204 || status == 304 || (100..200).contains(&status);
    if no_body {
    } else if let Some(len) = header("content-length").and_then(|v| v.parse::<usize>().ok()) {
        while buf.len() < len {
            let mut chunk = [0u8; 8192];
            let n = match tokio::time::timeout(ANSWER_TIMEOUT, s.read(&mut chunk)).await {
                Ok(Ok(n)) if n > 0 => n,
                _ => return Ok(None),
            };
            buf.extend_from_slice(&chunk[..n]);
        }
        body = buf.drain(..len).collect();
    } else if header("transfer-encoding").is_some_and(|v| v.contains("chunked")) {
        loop {
            let line_end = loop {
                if let Some(i) = find(buf, b"\r\n") {
                    break i;
                }
                let mut chunk = [0u8; 8192];
                match tokio::time::timeout(ANSWER_TIMEOUT, s.read(&mut chunk)).await {
                    Ok(Ok(n)) if n > 0 => buf.extend_from_slice(&chunk[..n]),
                    _ => return Ok(None),
                }
            };
            let size = usize::from_str_radix(String::from_utf8_lossy(&buf[..line_end]).trim(), 16)
                .context("bad chunk size in answer")?;
            buf.drain(..line_end + 2);
            while buf.len() < size + 2 {
                let mut chunk = [0u8; 8192];
                match tokio::time::timeout(ANSWER_TIMEOUT, s.read(&mut chunk)).await {
                    Ok(Ok(n)) if n > 0 => buf.extend_from_slice(&chunk[..n]),
                    _ => return Ok(None),
                }
            }
            body.extend(buf.drain(..size));
            buf.drain(..2);
            if size == 0 {
                break;
            }
        }
    } else {
        // Until the connection closes.
        let mut rest = Vec::new();
        let _ = tokio::time::timeout(ANSWER_TIMEOUT, s.read_to_end(&mut rest)).await;
        body = std::mem::take(buf);
        body.extend(rest);
        return Ok(Some(Answer {
            status,
            content_type,
            body,
            close: true,
        }));
    }
    Ok(Some(Answer {
        status,
        content_type,
        body,
        close,
    }))
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// What was wrong with an answer, if anything.
fn judge(case: &Case, a: &Answer) -> Option<String> {
    if a.status >= 500 {
        return Some(format!("answered {}", a.status));
    }
    if case.valid && !(200..400).contains(&a.status) && a.status != 429 {
        return Some(format!("a valid request answered {}", a.status));
    }
    if !case.well_formed || !(400..500).contains(&a.status) || a.body.is_empty() && is_head(case) {
        return None;
    }
    let json: Option<serde_json::Value> = serde_json::from_slice(&a.body).ok();
    let has_error = json
        .as_ref()
        .is_some_and(|v| v.get("error").is_some_and(|e| e.is_string()));
    match case.kind {
        Kind::Oauth | Kind::Other if !has_error => Some(format!(
            "{} without an RFC 6749 error JSON: {:?}",
            a.status,
            snippet(&a.body)
        )),
        Kind::Authorize if !has_error && !a.content_type.starts_with("text/html") => Some(format!(
            "{} without an error JSON or an HTML error page: {:?}",
            a.status,
            snippet(&a.body)
        )),
        Kind::Api if json.is_none() => Some(format!(
            "{} without the CRM's JSON error: {:?}",
            a.status,
            snippet(&a.body)
        )),
        _ => None,
    }
}

fn is_head(case: &Case) -> bool {
    case.bytes.starts_with(b"HEAD ")
}

fn snippet(b: &[u8]) -> String {
    String::from_utf8_lossy(&b[..b.len().min(160)]).into_owned()
}

#[derive(Default)]
struct Tally {
    sent: usize,
    answered: usize,
    closed_malformed: usize,
    by_class: std::collections::BTreeMap<u16, usize>,
    by_kind: std::collections::BTreeMap<&'static str, usize>,
    failures: Vec<String>,
    failure_count: usize,
}

async fn fuzz(o: Opts) -> anyhow::Result<ExitCode> {
    let mut mocks = Vec::new();
    for (i, p) in Profile::builtins().into_iter().enumerate() {
        // Every other mock shows its consent page, so that both paths get fuzzed.
        mocks.push(
            MockProvider::builder(p)
                .auto_approve(i % 2 == 0)
                .start()
                .await?,
        );
    }
    let targets: Arc<Vec<Target>> = Arc::new(mocks.iter().map(target).collect());
    let addrs: Arc<Vec<std::net::SocketAddr>> = Arc::new(mocks.iter().map(|m| m.addr()).collect());
    println!(
        "handshake fuzz: {} requests over {} connections to {} mocks ({}), seed {}",
        o.count,
        o.conns,
        mocks.len(),
        targets
            .iter()
            .map(|t| t.id.as_str())
            .collect::<Vec<_>>()
            .join(", "),
        o.seed
    );
    let next = Arc::new(AtomicUsize::new(0));
    let tally = Arc::new(Mutex::new(Tally::default()));
    let t0 = Instant::now();
    let mut workers = Vec::new();
    for _ in 0..o.conns {
        let (targets, addrs, next, tally) =
            (targets.clone(), addrs.clone(), next.clone(), tally.clone());
        let count = o.count;
        let seed = o.seed;
        workers.push(tokio::spawn(async move {
            let mut conns: Vec<Option<(TcpStream, Vec<u8>)>> =
                (0..addrs.len()).map(|_| None).collect();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= count {
                    return anyhow::Ok(());
                }
                // Each request from its own seed: the same run whatever the interleaving.
                let mut r = Rng((seed ^ (i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15)) | 1);
                r.next();
                let case = generate(&mut r, &targets);
                let slot = &mut conns[case.mock];
                if slot.is_none() {
                    *slot = Some((TcpStream::connect(addrs[case.mock]).await?, Vec::new()));
                }
                let Some((stream, buf)) = slot.as_mut() else {
                    continue;
                };
                let wrote = stream.write_all(&case.bytes).await.is_ok();
                let mut answer = if wrote {
                    read_answer(stream, buf, is_head(&case)).await?
                } else {
                    None
                };
                if answer.is_none() && case.well_formed {
                    // The server may have closed this keep-alive connection after an
                    // earlier refusal: a client retries on a fresh one, and so do we.
                    let mut fresh = TcpStream::connect(addrs[case.mock]).await?;
                    let mut fresh_buf = Vec::new();
                    answer = if fresh.write_all(&case.bytes).await.is_ok() {
                        read_answer(&mut fresh, &mut fresh_buf, is_head(&case)).await?
                    } else {
                        None
                    };
                    *slot = Some((fresh, fresh_buf));
                }
                let mut t = tally.lock().unwrap_or_else(|e| e.into_inner());
                t.sent += 1;
                *t.by_kind.entry(case.what).or_default() += 1;
                match &answer {
                    Some(a) => {
                        t.answered += 1;
                        *t.by_class.entry(a.status / 100 * 100).or_default() += 1;
                        if let Some(why) = judge(&case, a) {
                            t.failure_count += 1;
                            if t.failures.len() < 20 {
                                t.failures.push(format!(
                                    "{} {} ({}): {why}\n    request: {:?}",
                                    targets[case.mock].id,
                                    String::from_utf8_lossy(
                                        &case.bytes[..case.bytes.len().min(120)]
                                    )
                                    .lines()
                                    .next()
                                    .unwrap_or(""),
                                    case.what,
                                    snippet(&case.bytes)
                                ));
                            }
                        }
                    }
                    None if case.well_formed => {
                        t.failure_count += 1;
                        if t.failures.len() < 20 {
                            t.failures.push(format!(
                                "{} ({}): a well-formed request got no answer\n    request: {:?}",
                                targets[case.mock].id,
                                case.what,
                                snippet(&case.bytes)
                            ));
                        }
                    }
                    None => t.closed_malformed += 1,
                }
                drop(t);
                if answer.as_ref().is_none_or(|a| a.close) {
                    *slot = None;
                }
            }
        }));
    }
    for w in workers {
        w.await??;
    }
    let secs = t0.elapsed().as_secs_f64();
    let peak = peak_rss_mb()?;
    let journal_max = mocks.iter().map(|m| m.journal().len()).max().unwrap_or(0);
    drop(mocks);
    let t = tally.lock().unwrap_or_else(|e| e.into_inner());
    println!(
        "  {} sent in {secs:.1} s ({:.0}/s), {} answered, {} malformed ones closed by hyper",
        t.sent,
        t.sent as f64 / secs,
        t.answered,
        t.closed_malformed
    );
    println!(
        "  answers by class: {}",
        t.by_class
            .iter()
            .map(|(c, n)| format!("{}xx {n}", c / 100))
            .collect::<Vec<_>>()
            .join(", ")
    );
    println!(
        "  requests by kind: {}",
        t.by_kind
            .iter()
            .map(|(k, n)| format!("{k} {n}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    println!(
        "  peak RSS of the process (5 mocks and the fuzzer): {peak:.1} MB (bound {PEAK_RSS_MB} MB); largest journal {journal_max} entries"
    );
    for f in &t.failures {
        println!("  FAIL {f}");
    }
    let rss_ok = peak <= PEAK_RSS_MB;
    if !rss_ok {
        println!("  FAIL peak RSS {peak:.1} MB is over {PEAK_RSS_MB} MB");
    }
    if t.failure_count == 0 && rss_ok && t.sent == o.count {
        println!("fuzz: ok");
        Ok(ExitCode::SUCCESS)
    } else {
        println!("fuzz: FAILED ({} bad answers)", t.failure_count);
        Ok(ExitCode::FAILURE)
    }
}

fn peak_rss_mb() -> anyhow::Result<f64> {
    let status =
        std::fs::read_to_string("/proc/self/status").context("reading /proc/self/status")?;
    let kb: f64 = status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .context("no VmHWM")?
        .parse()?;
    Ok(kb / 1024.0)
}
