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
        crate::print_stdout(&format!("{}\n", serde_json::to_string_pretty(&items)?))?;
        return Ok(true);
    }
    crate::print_stdout(&render_table(&profiles))?;
    Ok(true)
}

/// Column headers for the behaviour groups of `Profile::origins`.
fn short(group: &str) -> &str {
    match group {
        "token_request" => "token",
        "rate_limit" => "rate",
        "native_auth" => "native",
        other => other,
    }
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
    // One letter per group keeps the table readable in an 80-column terminal.
    let letter = |p: handshake_profile::Provenance| match p {
        handshake_profile::Provenance::Vendor => "V",
        handshake_profile::Provenance::Catalog => "C",
        handshake_profile::Provenance::Seed => "S",
        handshake_profile::Provenance::Assumed => "A",
    };
    let mut out = String::new();
    out.push_str(
        "provenance of each behaviour group (V vendor, C catalog, S seed, A assumed):\n\n",
    );
    out.push_str(&format!("{:<12}", "PROVIDER"));
    for g in &groups {
        out.push_str(&format!(" {:<w$}", short(g), w = short(g).len().max(1)));
    }
    out.push_str("  AUTH MODES\n");
    for p in profiles {
        out.push_str(&format!("{:<12}", p.id));
        let origins = p.origins();
        for g in &groups {
            let cell = origins
                .iter()
                .find(|(name, _)| name == g)
                .map_or("-", |(_, o)| letter(o.provenance));
            out.push_str(&format!(" {cell:<w$}", w = short(g).len()));
        }
        out.push_str(&format!("  {}\n", p.auth_modes().join(", ")));
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
