//! `cargo xtask bench` (being written).

pub(crate) fn run(_args: Vec<String>) -> anyhow::Result<std::process::ExitCode> {
    anyhow::bail!("`cargo xtask bench` is not available yet")
}
