//! `cargo xtask`: project automation in plain Rust (see ARCHITECTURE.md).

use std::process::ExitCode;

mod bench;
mod conformance;
mod tidy;

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let task = args.next();
    let rest: Vec<String> = args.collect();
    let result = match task.as_deref() {
        Some("conformance") => conformance::run(rest),
        Some("bench") => bench::run(rest),
        // Internal: the bare axum process `bench` measures the mock against.
        Some("bench-baseline") => bench::baseline(rest),
        _ => {
            eprintln!("usage: cargo xtask <conformance|bench> [options]\n\n  conformance  run every scenario against every mock CRM\n  bench        measure the mock token endpoint against a bare axum baseline");
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
