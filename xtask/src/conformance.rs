//! `cargo xtask conformance` (being written).

pub(crate) fn run(_args: Vec<String>) -> anyhow::Result<std::process::ExitCode> {
    anyhow::bail!("`cargo xtask conformance` is not available yet")
}
