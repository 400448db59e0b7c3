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
}
