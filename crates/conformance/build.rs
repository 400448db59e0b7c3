//! Embeds the built-in scenarios (`scenarios/*.toml` at the workspace root) so an installed
//! `handshake conformance` runs from any directory. A new or edited scenario file reruns this.

use std::fmt::Write as _;
use std::path::Path;

fn main() {
    // Read at run time: a build-script binary can be reused for a checkout at another path.
    let manifest = std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR");
    let dir = Path::new(&manifest).join("../../scenarios");
    println!("cargo:rerun-if-changed={}", dir.display());
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .expect("the scenarios/ directory at the workspace root")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    files.sort();
    let mut out = String::from("/// `(file name, TOML text)` of every file in `scenarios/`.\n");
    out.push_str("pub(crate) const BUILTIN_FILES: &[(&str, &str)] = &[\n");
    for f in &files {
        let name = f
            .file_name()
            .and_then(|n| n.to_str())
            .expect("UTF-8 file name");
        let abs = f.canonicalize().expect("scenario file path");
        writeln!(
            out,
            "    ({name:?}, include_str!({:?})),",
            abs.display().to_string()
        )
        .expect("write to a String");
    }
    out.push_str("];\n");
    let dest = Path::new(&std::env::var("OUT_DIR").expect("OUT_DIR")).join("builtin_scenarios.rs");
    std::fs::write(dest, out).expect("write builtin_scenarios.rs");
}
