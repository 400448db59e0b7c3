//! `cargo xtask explore`: a thin alias of `handshake explore`, run from the workspace root.
//! It builds in release: the exploration is CPU-bound (thousands of sequences, each with its
//! own mock), and a debug build is several times slower.

use std::path::Path;
use std::process::{Command, ExitCode};

use anyhow::Context as _;

pub(crate) fn run(args: Vec<String>) -> anyhow::Result<ExitCode> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let status = Command::new(cargo)
        .current_dir(&root)
        .args([
            "run",
            "--quiet",
            "--release",
            "-p",
            "handshake",
            "--",
            "explore",
        ])
        .args(&args)
        .status()
        .context("running `cargo run --release -p handshake -- explore`")?;
    // Keep the exit code: 0 no property violated, 1 a finding, 2 usage or setup error.
    Ok(ExitCode::from(
        status
            .code()
            .and_then(|c| u8::try_from(c).ok())
            .unwrap_or(2),
    ))
}
