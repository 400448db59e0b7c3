//! Tidy checks that run under `cargo test`: the architecture invariants of ARCHITECTURE.md,
//! enforced rather than hoped for.

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::process::Command;

    /// `cargo metadata` of the workspace's own packages.
    fn metadata() -> serde_json::Value {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let out = Command::new(cargo)
            .args([
                "metadata",
                "--format-version",
                "1",
                "--no-deps",
                "--offline",
            ])
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .output()
            .expect("cargo metadata runs");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap()
    }

    /// Each workspace package's handshake dependencies, by kind (`normal`, `dev`, `build`).
    fn workspace_deps() -> BTreeMap<String, Vec<(String, String)>> {
        let meta = metadata();
        let mut map = BTreeMap::new();
        for pkg in meta["packages"].as_array().unwrap() {
            let deps = pkg["dependencies"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|d| d["name"].as_str().unwrap().starts_with("handshake"))
                .map(|d| {
                    let kind = d["kind"].as_str().unwrap_or("normal").to_owned();
                    (d["name"].as_str().unwrap().to_owned(), kind)
                })
                .collect();
            map.insert(pkg["name"].as_str().unwrap().to_owned(), deps);
        }
        map
    }

    fn normal_deps<'a>(
        deps: &'a BTreeMap<String, Vec<(String, String)>>,
        pkg: &str,
    ) -> Vec<&'a str> {
        deps[pkg]
            .iter()
            .filter(|(_, kind)| kind == "normal")
            .map(|(name, _)| name.as_str())
            .collect()
    }

    #[test]
    fn dependencies_point_one_way() {
        let deps = workspace_deps();
        assert!(
            normal_deps(&deps, "handshake-profile").is_empty(),
            "the profile crate sits at the bottom: {:?}",
            deps["handshake-profile"]
        );
        assert_eq!(normal_deps(&deps, "handshake-mock"), ["handshake-profile"]);
        assert_eq!(
            normal_deps(&deps, "handshake-client"),
            ["handshake-profile"]
        );
        // The client may use the mock in its examples and tests, never the other way round.
        assert!(
            !deps["handshake-mock"].iter().any(|(n, _)| n == "handshake-client"),
            "the mock must not know the reference client, even in tests: it is judged against the RFCs"
        );
        for top in ["handshake", "xtask"] {
            for (name, _) in &deps[top] {
                assert_ne!(name, top);
            }
        }
        for lower in [
            "handshake-profile",
            "handshake-mock",
            "handshake-client",
            "handshake-conformance",
        ] {
            for (name, kind) in &deps[lower] {
                assert!(
                    name != "handshake" && name != "xtask",
                    "{lower} depends on the top layer ({name}, {kind})"
                );
            }
        }
    }

    #[test]
    fn libraries_do_not_use_anyhow() {
        let meta = metadata();
        for pkg in meta["packages"].as_array().unwrap() {
            let name = pkg["name"].as_str().unwrap();
            if name == "handshake" || name == "xtask" {
                continue;
            }
            let uses_anyhow = pkg["dependencies"]
                .as_array()
                .unwrap()
                .iter()
                .any(|d| d["name"] == "anyhow" && d["kind"].is_null());
            assert!(
                !uses_anyhow,
                "{name} is a library: typed errors (thiserror), not anyhow"
            );
        }
    }
    /// The client's modules, lowest first: a module imports only from layers below its own
    /// (ARCHITECTURE.md, `crates/client`). `native/` counts as one module.
    const CLIENT_LAYERS: &[&[&str]] = &[
        &["config", "token", "detail", "logout", "transport"],
        &["store"],
        &["error"],
        &["api", "callback"],
        &["paging"],
        &["native", "client"],
    ];

    #[test]
    fn client_modules_import_one_way() {
        let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../crates/client/src");
        let layer = |module: &str| CLIENT_LAYERS.iter().position(|l| l.contains(&module));
        let mut files = Vec::new();
        for entry in std::fs::read_dir(&src).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                for sub in std::fs::read_dir(&path).unwrap() {
                    files.push(sub.unwrap().path());
                }
            } else {
                files.push(path);
            }
        }
        for path in files {
            let rel = path.strip_prefix(&src).unwrap();
            let module = rel
                .components()
                .next()
                .and_then(|c| c.as_os_str().to_str())
                .unwrap()
                .trim_end_matches(".rs")
                .to_owned();
            if module == "lib" || module == "tests" {
                continue;
            }
            let own = layer(&module).unwrap_or_else(|| {
                panic!(
                    "crates/client/src/{}: add it to CLIENT_LAYERS",
                    rel.display()
                )
            });
            let text = std::fs::read_to_string(&path).unwrap();
            for line in text
                .lines()
                .map(str::trim_start)
                .filter(|l| l.starts_with("use crate::"))
            {
                let used = line["use crate::".len()..]
                    .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                    .next()
                    .unwrap();
                let theirs = layer(used).unwrap_or_else(|| panic!("{line}: unknown module"));
                assert!(
                    theirs < own,
                    "crates/client/src/{}: `{line}` imports upward or sideways (see CLIENT_LAYERS)",
                    rel.display()
                );
            }
        }
    }
}
