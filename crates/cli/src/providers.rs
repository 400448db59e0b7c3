//! `handshake providers`: the built-in profiles and the provenance of each behaviour.

use anyhow::Result;
use handshake_profile::Profile;

pub(crate) fn list(json: bool) -> Result<bool> {
    let profiles = Profile::builtins();
    if json {
        let items: Vec<_> = profiles
            .iter()
            .map(|p| {
                let origins: serde_json::Map<_, _> = p
                    .origins()
                    .into_iter()
                    .map(|(group, o)| {
                        (
                            group.to_owned(),
                            serde_json::json!({
                                "provenance": o.provenance,
                                "sources": o.sources,
                                "note": o.note,
                            }),
                        )
                    })
                    .collect();
                serde_json::json!({
                    "id": p.id,
                    "name": p.name,
                    "summary": p.summary,
                    "oauth_documented": p.oauth_documented(),
                    "auth_modes": p.auth_modes(),
                    "provenance": origins,
                })
            })
            .collect();
        println!("{}", serde_json::to_string_pretty(&items)?);
        return Ok(true);
    }
    print!("{}", render_table(&profiles));
    Ok(true)
}

fn render_table(profiles: &[Profile]) -> String {
    let mut groups: Vec<&str> = Vec::new();
    for p in profiles {
        for (g, _) in p.origins() {
            if !groups.contains(&g) {
                groups.push(g);
            }
        }
    }
    let mut out = String::new();
    out.push_str(&format!("{:<12} {:<32}", "PROVIDER", "AUTH MODES"));
    for g in &groups {
        out.push_str(&format!(" {:<13}", g));
    }
    out.push('\n');
    for p in profiles {
        out.push_str(&format!("{:<12} {:<32}", p.id, p.auth_modes().join(", ")));
        let origins = p.origins();
        for g in &groups {
            let cell = origins
                .iter()
                .find(|(name, _)| name == g)
                .map_or("-".to_owned(), |(_, o)| o.provenance.to_string());
            out.push_str(&format!(" {cell:<13}"));
        }
        out.push('\n');
    }
    out.push_str(
        "\nprovenance: vendor = documented by the CRM; catalog = seen in integration catalogs;\n",
    );
    out.push_str(
        "seed = described only by the seed posts; assumed = our choice, no source found.\n\n",
    );
    for p in profiles {
        out.push_str(&format!("{} ({}): {}\n", p.id, p.name, p.summary));
        if let Some(note) = &p.oauth.origin.note {
            out.push_str(&format!("  note: {note}\n"));
        }
        for src in &p.oauth.origin.sources {
            out.push_str(&format!("  oauth source: {src}\n"));
        }
        if let Some(native) = &p.native_auth {
            out.push_str(&format!(
                "  native auth: {} ({})\n",
                native.scheme.as_str(),
                native.origin.provenance
            ));
            for src in &native.origin.sources {
                out.push_str(&format!("  native auth source: {src}\n"));
            }
        }
    }
    out
}
