//! `bench-baseline PAGE.json`: a bare axum server in its own process, on the same
//! runtime the CLI uses (`#[tokio::main]`, one worker per core): `POST /oauth/token`
//! answers a token-shaped JSON body built per request, `GET /api/v2/parties` the mock's
//! one-record page from the file. Prints its URL, then serves until killed.
//!
//! Built with the `handshake` binary's allocator (mimalloc), so the ratio compares the mock's
//! code with axum's, not two allocators.

use std::io::Write;
use std::net::Ipv4Addr;
use std::process::ExitCode;

use anyhow::Context;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> anyhow::Result<ExitCode> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    use axum::response::IntoResponse;
    use axum::routing::{get, post};

    let page: &'static [u8] = Vec::leak(std::fs::read(
        args.first()
            .context("usage: xtask bench-baseline PAGE.json")?,
    )?);
    let app = axum::Router::new()
        .route(
            "/oauth/token",
            post(|body: axum::body::Bytes| async move {
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
                resp.headers_mut().insert(
                    "cache-control",
                    axum::http::HeaderValue::from_static("no-store"),
                );
                resp
            }),
        )
        .route(
            "/api/v2/parties",
            get(move || async move {
                (
                    [(axum::http::header::CONTENT_TYPE, "application/json")],
                    page,
                )
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
