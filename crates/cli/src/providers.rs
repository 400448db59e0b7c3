//! `handshake providers`: the built-in profiles and the provenance of each behaviour.

use anyhow::Result;
use handshake_profile::Profile;

pub(crate) fn list(json: bool) -> Result<()> {
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
                    "provenance": origins,
                })
            })
            .collect();
        println!("{}", serde_json::to_string_pretty(&items)?);
        return Ok(());
    }
    print!("{}", render_table(&profiles));
    Ok(())
}

fn render_table(profiles: &[Profile]) -> String {
    let groups: Vec<&str> = profiles[0].origins().iter().map(|(g, _)| *g).collect();
    let mut out = String::new();
    out.push_str(&format!("{:<12} {:<26}", "PROVIDER", "NAME"));
    for g in &groups {
        out.push_str(&format!(" {:<13}", g));
    }
    out.push('\n');
    for p in profiles {
        out.push_str(&format!("{:<12} {:<26}", p.id, p.name));
        for (_, o) in p.origins() {
            out.push_str(&format!(" {:<13}", o.provenance.to_string()));
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
        out.push_str(&format!("{}: {}\n", p.id, p.summary));
        if let Some(note) = &p.oauth.origin.note {
            out.push_str(&format!("  note: {note}\n"));
        }
        for src in &p.oauth.origin.sources {
            out.push_str(&format!("  source: {src}\n"));
        }
    }
    out
}
