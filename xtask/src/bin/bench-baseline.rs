//! `bench-baseline PAGE.json PAGE.headers TOKEN.headers`: a bare axum server in its own
//! process, on the same runtime the CLI uses (multi-threaded, one worker per core):
//! `POST /oauth/token` answers a token-shaped JSON body built per request, `GET
//! /api/v2/parties` the mock's one-record page from the file. Each answers with the header
//! lines of the mock's own answer (the `.headers` files, `name: value` per line, captured by
//! `cargo xtask bench`), so that both servers send the same bytes. Prints its URL, then
//! serves until killed.
//!
//! Built with the `handshake` binary's allocator (mimalloc), so the ratio compares the mock's
//! code with axum's, not two allocators.

use std::io::Write;
use std::net::Ipv4Addr;
use std::process::ExitCode;

use anyhow::Context;
use axum::http::{HeaderMap, HeaderName, HeaderValue};

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// `name: value` lines, as the bench writes them.
fn headers(path: &str) -> anyhow::Result<&'static HeaderMap> {
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {path}"))?;
    let mut map = HeaderMap::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let (name, value) = line
            .split_once(':')
            .with_context(|| format!("{path}: not a header line: {line:?}"))?;
        map.append(
            HeaderName::from_bytes(name.trim().as_bytes())?,
            HeaderValue::from_str(value.trim())?,
        );
    }
    Ok(Box::leak(Box::new(map)))
}

/// Sets the captured headers on an answer: the values are shared bytes, so this copies no
/// header and allocates no second map (cheaper than answering with a cloned `HeaderMap`).
fn with_headers(resp: &mut axum::response::Response, headers: &HeaderMap) {
    let h = resp.headers_mut();
    h.reserve(headers.len());
    for name in headers.keys() {
        let mut values = headers.get_all(name).iter();
        if let Some(first) = values.next() {
            h.insert(name.clone(), first.clone());
        }
        for v in values {
            h.append(name.clone(), v.clone());
        }
    }
}

fn main() -> anyhow::Result<ExitCode> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    use axum::response::IntoResponse;
    use axum::routing::{get, post};

    let usage = "usage: bench-baseline PAGE.json PAGE.headers TOKEN.headers";
    let page: &'static [u8] = Vec::leak(std::fs::read(args.first().context(usage)?)?);
    let page_headers = headers(args.get(1).context(usage)?)?;
    let token_headers = headers(args.get(2).context(usage)?)?;
    let app = axum::Router::new()
        .route(
            "/oauth/token",
            post(move |body: axum::body::Bytes| async move {
                let _ = body.len();
                let mut resp = axum::Json(serde_json::json!({
                    "access_token": "q1T3PZgZ5oV9nMkzJ4cX0bq7WbYwV2eH3dLrA8sKfNu",
                    "token_type": "bearer",
                    "expires_in": 604_799,
                    "refresh_token": "Hk2mN8pQ4rS6tU0vW1xY3zA5bC7dE9fG2hJ4kL6mN8p",
                    "scope": "read write",
                    "subdomain": "demo",
                }))
                .into_response();
                with_headers(&mut resp, token_headers);
                resp
            }),
        )
        .route(
            "/api/v2/parties",
            get(move || async move {
                let mut resp = page.into_response();
                with_headers(&mut resp, page_headers);
                resp
            }),
        );
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(async move {
        use axum::serve::ListenerExt;
        let listener = tokio::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await?;
        let addr = listener.local_addr()?;
        let listener = listener.tap_io(|tcp| {
            let _ = tcp.set_nodelay(true);
        });
        println!("bare axum baseline ready at http://{addr}");
        std::io::stdout().flush()?;
        axum::serve(listener, app).await?;
        anyhow::Ok(())
    })?;
    Ok(ExitCode::SUCCESS)
}
