//! `cargo xtask conformance`: a thin alias of `handshake conformance` for this repository's CI,
//! run from the workspace root so relative paths mean what they mean there.

use std::path::Path;
use std::process::{Command, ExitCode};

use anyhow::Context as _;

pub(crate) fn run(args: Vec<String>) -> anyhow::Result<ExitCode> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let status = Command::new(cargo)
        .current_dir(&root)
        .args(["run", "--quiet", "-p", "handshake", "--", "conformance"])
        .args(&args)
        .status()
        .context("running `cargo run -p handshake -- conformance`")?;
    // Keep the exit code: 0 all passed, 1 a case failed, 2 usage or setup error.
    Ok(ExitCode::from(
        status
            .code()
            .and_then(|c| u8::try_from(c).ok())
            .unwrap_or(2),
    ))
}
