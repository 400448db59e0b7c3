//! `cargo xtask`: project automation in plain Rust (see ARCHITECTURE.md).

use std::process::ExitCode;

mod bench;
mod conformance;
mod explore;
mod fuzz;
mod tidy;

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let task = args.next();
    let rest: Vec<String> = args.collect();
    let result = match task.as_deref() {
        Some("conformance") => conformance::run(rest),
        Some("explore") => explore::run(rest),
        Some("bench") => bench::run(rest),
        Some("fuzz") => fuzz::run(rest),
        _ => {
            eprintln!("usage: cargo xtask <conformance|explore|bench|fuzz> [options]\n\n  conformance  run every scenario against every mock CRM\n  explore      property-test a client with random sequences (release build)\n  bench        measure the mock against a bare axum process, with wrk\n  fuzz         bad requests to every endpoint of every mock");
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}
