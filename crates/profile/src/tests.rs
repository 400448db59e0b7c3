use super::*;

fn capsule_text() -> &'static str {
    BUILTIN.iter().find(|(id, _)| *id == "capsule").unwrap().1
}

#[test]
fn every_builtin_parses_and_is_labelled() {
    let all = Profile::builtins();
    assert_eq!(all.len(), BUILTIN.len());
    let ids: Vec<_> = all.iter().map(|p| p.id.as_str()).collect();
    for id in [
        "capsule",
        "connectwise",
        "agilecrm",
        "redtail",
        "insightly",
        "salesforce",
        "dynamics",
        "hubspot",
        "pipedrive",
        "zoho",
    ] {
        assert!(ids.contains(&id), "{id} is not a built-in: {ids:?}");
    }
    for p in &all {
        assert!(!p.summary.is_empty(), "{} has no summary", p.id);
        if !p.oauth_documented() {
            assert!(
                p.summary.starts_with("SEED-ONLY"),
                "{}: an undocumented OAuth flow must say so in its summary",
                p.id
            );
        }
    }
    let documented: Vec<_> = all
        .iter()
        .filter(|p| p.oauth_documented())
        .map(|p| p.id.as_str())
        .collect();
    // The five seed-era CRMs: only Capsule documents its flow; every CRM added since does.
    for id in [
        "capsule",
        "salesforce",
        "dynamics",
        "hubspot",
        "pipedrive",
        "zoho",
    ] {
        assert!(documented.contains(&id), "{id}: {documented:?}");
    }
    for id in ["connectwise", "agilecrm", "redtail", "insightly"] {
        assert!(!documented.contains(&id), "{id}: {documented:?}");
    }
}

#[test]
fn unknown_key_names_file_key_and_line() {
    let text = capsule_text().replace("well_known = true", "well_known = true\nwel_known = 1");
    let err = Profile::from_toml_str(&text, "my.toml").unwrap_err();
    assert_eq!(err.kind, ProfileErrorKind::Parse);
    let msg = err.to_string();
    assert!(msg.starts_with("my.toml:"), "{msg}");
    assert!(msg.contains("wel_known"), "{msg}");
    assert!(err.line.is_some(), "{msg}");
}

#[test]
fn wrong_type_names_the_key() {
    let text = capsule_text().replace(
        "access_token_lifetime_secs = 604799",
        "access_token_lifetime_secs = \"week\"",
    );
    let err = Profile::from_toml_str(&text, "c.toml").unwrap_err();
    assert_eq!(
        err.key.as_deref(),
        Some("tokens.access_token_lifetime_secs"),
        "{err}"
    );
}

#[test]
fn invalid_values_are_rejected_with_key_and_reason() {
    let cases = [
        (
            "authorize_path = \"/oauth/authorise\"",
            "authorize_path = \"oauth/authorise\"",
            "oauth.authorize_path",
        ),
        (
            "mode = \"optional\"",
            "mode = \"unsupported\"",
            "pkce.methods",
        ),
        (
            "encodings = [\"form\"]",
            "encodings = []",
            "token_request.encodings",
        ),
        (
            "default = [\"read\", \"write\"]",
            "default = [\"admin\"]",
            "scopes.default",
        ),
        ("limit = 4000", "limit = 0", "rate_limit.limit"),
        (
            "extra_fields = { subdomain = \"demo\" }",
            "extra_fields = { scope = \"x\" }",
            "tokens.extra_fields",
        ),
        (
            "body = '{\"error\":\"rate limit reached\"}'",
            "body = 'not json'",
            "rate_limit.body",
        ),
    ];
    for (from, to, key) in cases {
        let text = capsule_text().replace(from, to);
        assert_ne!(text, capsule_text(), "replacement {from:?} did not apply");
        let err = Profile::from_toml_str(&text, "c.toml").unwrap_err();
        assert_eq!(err.kind, ProfileErrorKind::Invalid, "{err}");
        assert_eq!(err.key.as_deref(), Some(key), "{err}");
    }
}

#[test]
fn load_rejects_unknown_names_listing_builtins() {
    let err = Profile::load("no-such-crm").unwrap_err();
    assert_eq!(err.kind, ProfileErrorKind::UnknownBuiltin);
    assert!(err.to_string().contains("capsule, connectwise"), "{err}");
    let err = Profile::load("/nonexistent/x.toml").unwrap_err();
    assert_eq!(err.kind, ProfileErrorKind::Io);
}

#[test]
fn best_pkce_method_prefers_s256() {
    let p = Profile::builtin("capsule").unwrap();
    assert_eq!(p.pkce.best_method(), Some(PkceMethod::S256));
    let mut plain_only = p.pkce.clone();
    plain_only.methods = vec![PkceMethod::Plain];
    assert_eq!(plain_only.best_method(), Some(PkceMethod::Plain));
    assert_eq!(
        Profile::builtin("agilecrm").unwrap().pkce.best_method(),
        None
    );
}

#[test]
fn scope_split_accepts_spaces_and_separator() {
    let mut s = Profile::builtin("capsule").unwrap().scopes;
    assert_eq!(s.split("read  write"), ["read", "write"]);
    s.separator = ",".into();
    assert_eq!(
        s.split("read,write user_preference"),
        ["read", "write", "user_preference"]
    );
    assert_eq!(s.join(["a", "b"]), "a,b");
}

#[test]
fn render_escapes_json() {
    let e = Errors::default();
    let body = e.render(
        &e.unauthorized_body,
        "invalid_token",
        "bad \"quote\" \\ here",
    );
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["error_description"], "bad \"quote\" \\ here");
}

proptest::proptest! {
    #[test]
    fn render_always_yields_json(err in ".*", desc in ".*") {
        let e = Errors::default();
        let body = e.render(&e.unauthorized_body, &err, &desc);
        let v: serde_json::Value = serde_json::from_str(&body).unwrap();
        proptest::prop_assert_eq!(v["error"].as_str().unwrap(), err.as_str());
    }

    #[test]
    fn arbitrary_text_never_panics_the_parser(text in ".{0,200}") {
        let _ = Profile::from_toml_str(&text, "fuzz.toml");
    }
}

#[test]
fn every_builtin_has_its_native_scheme_and_paging() {
    let expect = [
        ("capsule", NativeScheme::BearerToken, PagingStyle::Page),
        (
            "connectwise",
            NativeScheme::ConnectwiseMemberKey,
            PagingStyle::Page,
        ),
        (
            "agilecrm",
            NativeScheme::BasicEmailApiKey,
            PagingStyle::Cursor,
        ),
        ("redtail", NativeScheme::RedtailUserKey, PagingStyle::Page),
        ("insightly", NativeScheme::BasicApiKey, PagingStyle::SkipTop),
        ("hubspot", NativeScheme::BearerToken, PagingStyle::Cursor),
        (
            "pipedrive",
            NativeScheme::HeaderApiKey,
            PagingStyle::SkipTop,
        ),
    ];
    for (id, scheme, style) in expect {
        let p = Profile::builtin(id).unwrap();
        assert_eq!(p.native_auth.as_ref().unwrap().scheme, scheme, "{id}");
        assert_eq!(p.api.paging.as_ref().unwrap().style, style, "{id}");
        assert!(
            p.api.dataset.as_ref().unwrap().count > p.api.paging.as_ref().unwrap().default_size,
            "{id}: data must span pages"
        );
        assert_eq!(p.auth_modes(), ["oauth", scheme.as_str()]);
    }
    let agile = Profile::builtin("agilecrm").unwrap();
    assert_eq!(agile.api.format, BodyFormat::XmlUnlessAcceptJson);
    assert_eq!(agile.api.empty_status, 204);
}

#[test]
fn native_scheme_needs_its_settings() {
    let text = BUILTIN.iter().find(|(id, _)| *id == "redtail").unwrap().1;
    let broken = text.replace("exchange_path = \"/api/public/v1/authentication\"\n", "");
    let err = Profile::from_toml_str(&broken, "r.toml").unwrap_err();
    assert_eq!(
        err.key.as_deref(),
        Some("native_auth.exchange_path"),
        "{err}"
    );
    let text = BUILTIN.iter().find(|(id, _)| *id == "insightly").unwrap().1;
    let broken = text.replace("skip_param = \"skip\"\n", "");
    let err = Profile::from_toml_str(&broken, "i.toml").unwrap_err();
    assert_eq!(err.key.as_deref(), Some("api.paging.skip_param"), "{err}");
}

#[test]
fn profiles_that_would_make_the_mock_misbehave_are_rejected_at_load() {
    let cases = [
        // Lifetimes and windows a client cannot hold (and `Instant` arithmetic cannot add).
        (
            "access_token_lifetime_secs = 604799",
            "access_token_lifetime_secs = 9223372036854775807",
            "tokens.access_token_lifetime_secs",
        ),
        (
            "code_lifetime_secs = 60",
            "code_lifetime_secs = 99999999999",
            "tokens.code_lifetime_secs",
        ),
        (
            "rotation = \"rotate\"",
            "rotation = \"rotate\"\nrefresh_token_lifetime_secs = 0",
            "tokens.refresh_token_lifetime_secs",
        ),
        (
            "window_secs = 3600",
            "window_secs = 9223372036854775807",
            "rate_limit.window_secs",
        ),
        // Four billion generated records would exhaust memory at start.
        ("count = 137", "count = 4000000000", "api.dataset.count"),
        // Scope tokens are RFC 6749 §3.3 `scope-token`s: no spaces, quotes or backslashes
        // (they go into WWW-Authenticate quoted strings, RFC 6750 §3).
        (
            "supported = [\"read\", \"write\",",
            "supported = [\"read\", \"write\", \"a b\",",
            "scopes.supported",
        ),
        (
            "supported = [\"read\", \"write\",",
            "supported = [\"read\", \"write\", \"x\\\"y\",",
            "scopes.supported",
        ),
        (
            "token_type = \"bearer\"",
            "token_type = \"\"",
            "tokens.token_type",
        ),
        // Paths the router cannot serve as written, or that hide the control API.
        (
            "revoke_paths = [\"/oauth/revoke\", \"/oauth/token/revoke\"]",
            "revoke_paths = [\"/__handshake/reset\"]",
            "oauth.revoke_paths[0]",
        ),
        (
            "revoke_paths = [\"/oauth/revoke\", \"/oauth/token/revoke\"]",
            "revoke_paths = [\"/oauth/token\"]",
            "oauth.revoke_paths[0]",
        ),
        (
            "path = \"/api/v2/parties\"",
            "path = \"/api/v2/parties?x=1\"",
            "api.path",
        ),
        (
            "path = \"/api/v2/parties\"",
            "path = \"/api/{v}/parties\"",
            "api.path",
        ),
        (
            "has_more_header = \"X-Pagination-Has-More\"",
            "has_more_header = \"X Pagination\"",
            "api.paging.has_more_header",
        ),
    ];
    for (from, to, key) in cases {
        let text = capsule_text().replacen(from, to, 1);
        assert_ne!(text, capsule_text(), "replacement {from:?} did not apply");
        let err = Profile::from_toml_str(&text, "c.toml").unwrap_err();
        assert_eq!(err.kind, ProfileErrorKind::Invalid, "{to}: {err}");
        assert_eq!(err.key.as_deref(), Some(key), "{to}: {err}");
        assert!(err.to_string().starts_with("c.toml: key `"), "{err}");
    }
}

#[test]
fn native_header_names_must_be_header_names() {
    let text = BUILTIN
        .iter()
        .find(|(id, _)| *id == "connectwise")
        .unwrap()
        .1
        .replace(
            "client_id_header = \"clientId\"",
            "client_id_header = \"client id\"",
        );
    let err = Profile::from_toml_str(&text, "cw.toml").unwrap_err();
    assert_eq!(
        err.key.as_deref(),
        Some("native_auth.client_id_header"),
        "{err}"
    );
    let text = BUILTIN
        .iter()
        .find(|(id, _)| *id == "redtail")
        .unwrap()
        .1
        .replace(
            "exchange_path = \"/api/public/v1/authentication\"",
            "exchange_path = \"/__handshake/x\"",
        );
    let err = Profile::from_toml_str(&text, "rt.toml").unwrap_err();
    assert_eq!(
        err.key.as_deref(),
        Some("native_auth.exchange_path"),
        "{err}"
    );
}

// ------------------------------------------------ profiles of external servers and built-ins

/// The smallest profile of an external server: no provenance, summary, records or dataset.
const MINIMAL: &str = r#"
id = "my-server"
name = "My authorization server"

[oauth]
authorize_path = "/authorize"
token_path = "/token"

[token_request]
encodings = ["form"]
client_auth = ["client_secret_basic"]

[scopes]
default = ["openid"]

[pkce]
mode = "required"
methods = ["S256"]

[tokens]
refresh_tokens = true

[api]
path = "/userinfo"
"#;

#[test]
fn an_external_server_profile_needs_none_of_the_mock_only_fields() {
    let p = Profile::from_toml_str(MINIMAL, "my-server.toml").unwrap();
    assert_eq!(p.summary, "");
    assert_eq!(p.real_base_url, None);
    for (table, origin) in p.origins() {
        assert_eq!(origin.provenance, Provenance::Assumed, "{table}");
    }
    assert!(p.api.records.is_empty());
    assert!(p.api.dataset.is_none());
    assert_eq!(
        p.scopes.supported, p.scopes.default,
        "omitted supported = default"
    );
    assert_eq!(p.tokens.access_token_lifetime_secs, 3600);
    assert!(p.browser.form_fields.is_empty());
    assert!(!p.oauth.iss_parameter);
    assert_eq!(p.oauth.issuer, None);
    assert_eq!(p.security, Security::default());
}

#[test]
fn mock_only_fields_are_still_checked_when_present() {
    let with = |extra_top: &str, table: &str, line: &str| {
        let text = MINIMAL
            .replacen("id = ", &format!("{extra_top}id = "), 1)
            .replacen(&format!("[{table}]\n"), &format!("[{table}]\n{line}\n"), 1);
        Profile::from_toml_str(&text, "x.toml")
    };
    // A provenance that is not one of the four.
    let err = with("", "oauth", "provenance = \"folklore\"").unwrap_err();
    assert_eq!(err.kind, ProfileErrorKind::Parse, "{err}");
    assert!(err.to_string().contains("folklore"), "{err}");
    // Sources must be strings, summary a string.
    let err = with("", "api", "sources = [1]").unwrap_err();
    assert_eq!(err.kind, ProfileErrorKind::Parse, "{err}");
    let err = with("summary = 3\n", "api", "").unwrap_err();
    assert_eq!(err.key.as_deref(), Some("summary"), "{err}");
    // Records must be tables.
    let err = with("", "api", "records = [{ id = 1 }, 2]").unwrap_err();
    assert_eq!(err.kind, ProfileErrorKind::Invalid, "{err}");
    assert_eq!(err.key.as_deref(), Some("api.records[1]"), "{err}");
    // An explicit `supported` must still contain the defaults.
    let err = with("", "scopes", "supported = [\"email\"]").unwrap_err();
    assert_eq!(err.key.as_deref(), Some("scopes.default"), "{err}");
    // A lifetime that is given is still bounded.
    let err = with("", "tokens", "access_token_lifetime_secs = 0").unwrap_err();
    assert_eq!(
        err.key.as_deref(),
        Some("tokens.access_token_lifetime_secs"),
        "{err}"
    );
    // And each accepted one parses.
    let p = with(
        "summary = \"Mine.\"\n",
        "oauth",
        "provenance = \"vendor\"\nsources = [\"https://auth.example/docs\"]",
    )
    .unwrap();
    assert_eq!(p.summary, "Mine.");
    assert_eq!(p.oauth.origin.provenance, Provenance::Vendor);
    assert!(p.oauth_documented());
}

/// Every built-in profile documents itself: a summary, a real base URL, sample records, and
/// an explicit provenance on every table that has one, even where the default would do.
#[test]
fn every_builtin_declares_the_mock_only_fields_explicitly() {
    for (id, text) in BUILTIN {
        let raw: toml::Table = toml::from_str(text).unwrap();
        let summary = raw.get("summary").and_then(toml::Value::as_str);
        assert!(
            summary.is_some_and(|s| !s.trim().is_empty()),
            "{id}: no summary"
        );
        assert!(raw.contains_key("real_base_url"), "{id}: no real_base_url");
        let api = raw["api"].as_table().unwrap();
        assert!(
            api.get("records")
                .and_then(toml::Value::as_array)
                .is_some_and(|r| !r.is_empty()),
            "{id}: no api.records"
        );
        let profile = Profile::builtin(id).unwrap();
        for (group, _) in profile.origins() {
            let path: &[&str] = match group {
                "paging" => &["api", "paging"],
                other => &[other],
            };
            let table = path
                .iter()
                .try_fold(&raw, |t, key| t.get(*key).and_then(toml::Value::as_table))
                .unwrap_or_else(|| panic!("{id}: no [{}] table", path.join(".")));
            assert!(
                table.contains_key("provenance"),
                "{id}: [{}] does not say its provenance",
                path.join(".")
            );
        }
        // Every group with an origin was found above: the list is not silently short.
        // Eight tables always, plus paging and the native scheme when the CRM has them
        // (Salesforce and Dynamics have no native scheme).
        let expected = 8
            + usize::from(profile.api.paging.is_some())
            + usize::from(profile.native_auth.is_some());
        assert_eq!(profile.origins().len(), expected, "{id}");
    }
}

#[test]
fn browser_form_fields_are_read_and_redacted() {
    let text = MINIMAL.to_owned()
        + "\n[browser]\nform_fields = { login = \"alice\", password = \"correct horse\" }\n";
    let p = Profile::from_toml_str(&text, "b.toml").unwrap();
    assert_eq!(
        p.browser.form_fields,
        BTreeMap::from([
            ("login".to_owned(), "alice".to_owned()),
            ("password".to_owned(), "correct horse".to_owned()),
        ])
    );
    for debug in [format!("{p:?}"), format!("{:?}", p.browser)] {
        assert!(!debug.contains("correct horse"), "{debug}");
        assert!(!debug.contains("alice"), "{debug}");
        assert!(debug.contains("password"), "names stay visible: {debug}");
    }
    let err = Profile::from_toml_str(
        &(MINIMAL.to_owned() + "\n[browser]\nfields = {}\n"),
        "b.toml",
    )
    .unwrap_err();
    assert_eq!(err.kind, ProfileErrorKind::Parse, "{err}");
    assert!(err.to_string().contains("fields"), "{err}");
    let err = Profile::from_toml_str(
        &(MINIMAL.to_owned() + "\n[browser]\nform_fields = { \"\" = \"x\" }\n"),
        "b.toml",
    )
    .unwrap_err();
    assert_eq!(err.key.as_deref(), Some("browser.form_fields"), "{err}");
    let err = Profile::from_toml_str(
        &(MINIMAL.to_owned() + "\n[browser]\nform_fields = { login = 3 }\n"),
        "b.toml",
    )
    .unwrap_err();
    assert_eq!(err.kind, ProfileErrorKind::Parse, "{err}");
}

#[test]
fn issuer_knobs_parse_and_the_issuer_must_be_a_url() {
    let with = |lines: &str| {
        Profile::from_toml_str(
            &MINIMAL.replacen("[oauth]\n", &format!("[oauth]\n{lines}\n"), 1),
            "i.toml",
        )
    };
    let p = with("iss_parameter = true\nissuer = \"https://login.example.com/tenant-1\"").unwrap();
    assert!(p.oauth.iss_parameter);
    assert_eq!(
        p.oauth.issuer_for("http://127.0.0.1:9"),
        "https://login.example.com/tenant-1"
    );
    let p = with("iss_parameter = true").unwrap();
    assert_eq!(
        p.oauth.issuer_for("http://127.0.0.1:9/"),
        "http://127.0.0.1:9"
    );
    for bad in [
        "login.example.com",
        "https://",
        "https:///path",
        "https://a.example/?x=1",
        "https://a.example/#f",
        "https://a example",
        "ftp://a.example",
    ] {
        let err = with(&format!("issuer = {bad:?}")).unwrap_err();
        assert_eq!(err.kind, ProfileErrorKind::Invalid, "{bad}: {err}");
        assert_eq!(err.key.as_deref(), Some("oauth.issuer"), "{bad}: {err}");
    }
}

// ------------------------------------------------ the reference document

const REFERENCE: &str = include_str!("../../../fixtures/providers/README.md");

/// Keys whose values are free-form tables: their keys are data, not fields.
const FREE_FORM: &[&str] = &[
    "tokens.extra_fields",
    "tokens.computed_fields",
    "api.dataset.template",
    "browser.form_fields",
    "oauth.callback_params",
    "tokens.refresh_token_requires",
    "tokens.refresh_token_reissue_requires",
];
const ORIGIN_FIELDS: &[&str] = &["provenance", "sources", "note"];

/// Every table (`""` for the top level) and its keys, as serde accepts them.
///
/// Found by serialising a profile in which every optional table is present: `derive(Serialize)`
/// writes every field under the name `derive(Deserialize)` accepts (flattened fields inline,
/// `None` as `null`), as long as no field is skipped, renamed or aliased, which
/// `no_field_is_renamed_skipped_or_aliased` checks. Deserialising that output again proves each
/// key is accepted.
fn accepted_keys() -> BTreeMap<String, std::collections::BTreeSet<String>> {
    let mut p = Profile::builtin("capsule").unwrap();
    assert!(p.native_auth.is_some() && p.api.paging.is_some() && p.api.dataset.is_some());
    p.browser.form_fields.insert("login".into(), "x".into());
    let value = serde_json::to_value(&p).unwrap();
    let back: Profile = serde_json::from_value(value.clone()).unwrap();
    assert_eq!(back, p, "the serialised form round-trips");
    let mut out = BTreeMap::new();
    fn walk(
        table: &str,
        v: &serde_json::Value,
        out: &mut BTreeMap<String, std::collections::BTreeSet<String>>,
    ) {
        let map = v.as_object().unwrap();
        let keys = out.entry(table.to_owned()).or_default();
        let mut nested = Vec::new();
        for (k, v) in map {
            let path = if table.is_empty() {
                k.clone()
            } else {
                format!("{table}.{k}")
            };
            if v.is_object() && !FREE_FORM.contains(&path.as_str()) {
                if !table.is_empty() {
                    // A nested table is also a key of its parent (`api.paging`).
                    keys.insert(k.clone());
                }
                nested.push((path, v));
            } else {
                keys.insert(k.clone());
            }
        }
        for (path, v) in nested {
            walk(&path, v, out);
        }
    }
    walk("", &value, &mut out);
    out
}

/// Tables and key rows of the document: `### Top level` / ``### `[table]` `` headings, then
/// rows that start with `` | `key` |``. A table that links to the provenance fields documents
/// those three keys.
fn documented_keys() -> BTreeMap<String, std::collections::BTreeSet<String>> {
    let mut out: BTreeMap<String, std::collections::BTreeSet<String>> = BTreeMap::new();
    let mut current: Option<String> = None;
    for line in REFERENCE.lines() {
        if let Some(heading) = line.strip_prefix("### ") {
            current = if heading == "Top level" {
                Some(String::new())
            } else {
                heading
                    .strip_prefix("`[")
                    .and_then(|h| h.strip_suffix("]`"))
                    .map(str::to_owned)
            };
            if let Some(t) = &current {
                assert!(!out.contains_key(t), "table [{t}] is documented twice");
                out.insert(t.clone(), Default::default());
            }
            continue;
        }
        let Some(table) = &current else { continue };
        let keys = out.get_mut(table).unwrap();
        if line.contains("[provenance fields](#provenance-fields)") {
            keys.extend(ORIGIN_FIELDS.iter().map(|k| (*k).to_owned()));
        }
        if let Some(key) = line
            .strip_prefix("| `")
            .and_then(|rest| rest.split_once("` |"))
            .map(|(key, _)| key)
        {
            assert!(
                keys.insert(key.to_owned()),
                "[{table}] `{key}` documented twice"
            );
        }
    }
    out
}

#[test]
fn the_reference_document_lists_every_key() {
    let accepted = accepted_keys();
    let documented = documented_keys();
    // Sanity: the walk found what we know is there.
    assert!(accepted["oauth"].contains("iss_parameter"));
    assert!(accepted["api.paging"].contains("provenance"));
    assert!(accepted[""].contains("summary") && !accepted[""].contains("oauth"));
    assert!(accepted["browser"].contains("form_fields"));
    assert!(documented["security"].contains("enforce_scope"));

    let tables = |m: &BTreeMap<String, _>| m.keys().cloned().collect::<Vec<_>>();
    assert_eq!(
        tables(&documented),
        tables(&accepted),
        "tables of fixtures/providers/README.md vs the parser"
    );
    for (table, keys) in &accepted {
        let doc = &documented[table];
        let missing: Vec<_> = keys.difference(doc).collect();
        let stale: Vec<_> = doc.difference(keys).collect();
        assert!(
            missing.is_empty() && stale.is_empty(),
            "[{table}] in fixtures/providers/README.md: undocumented {missing:?}, not accepted {stale:?}"
        );
    }
}

#[test]
fn no_field_is_renamed_skipped_or_aliased() {
    // What `accepted_keys` relies on: the serialised names are the accepted names.
    for (file, src) in [
        ("lib.rs", include_str!("lib.rs")),
        ("native.rs", include_str!("native.rs")),
        ("paging.rs", include_str!("paging.rs")),
    ] {
        for attr in [
            "skip",
            "alias",
            "rename =",
            "rename(",
            "rename_all_fields",
            "untagged",
        ] {
            for line in src
                .lines()
                .filter(|l| l.trim_start().starts_with("#[serde("))
            {
                // Enum variants may be renamed (`plain`): they are values, not keys.
                let allowed = line.contains("rename = \"plain\"")
                    || line.contains("rename_all = \"snake_case\"");
                assert!(
                    allowed || !line.contains(attr),
                    "{file}: `{line}` changes a key name; update accepted_keys"
                );
            }
        }
    }
}

#[test]
fn the_reference_documents_minimal_example_parses() {
    let start = REFERENCE.find("```toml\n").expect("a toml example") + "```toml\n".len();
    let len = REFERENCE[start..].find("```").unwrap();
    let p = Profile::from_toml_str(&REFERENCE[start..start + len], "README example").unwrap();
    assert!(p.oauth.iss_parameter);
    assert_eq!(p.browser.form_fields.len(), 2);
    assert_eq!(p.oauth.origin.provenance, Provenance::Assumed);
}

/// A typo is reported at the line of the misspelt key, not at its table's header.
#[test]
fn unknown_key_is_reported_at_its_own_line() {
    let text = MINIMAL.replacen(
        "[oauth]\n",
        "[oauth]\n# a comment\nrevokepath = \"/r\"\n",
        1,
    );
    let header = text.lines().position(|l| l == "[oauth]").unwrap() + 1;
    let err = Profile::from_toml_str(&text, "typo.toml").unwrap_err();
    assert_eq!(err.line, Some(header + 2), "{err}");
    assert_eq!(err.key.as_deref(), Some("oauth.revokepath"), "{err}");
    // Inside an inline table too.
    let text = MINIMAL.replacen(
        "[oauth]\n",
        "[browser]\nform_fields = { login = \"a\" }\n\n[oauth]\n",
        1,
    );
    let text = text.replacen("form_fields = {", "form_fieldz = {", 1);
    let err = Profile::from_toml_str(&text, "typo.toml").unwrap_err();
    let line = text
        .lines()
        .position(|l| l.starts_with("form_fieldz"))
        .unwrap()
        + 1;
    assert_eq!(err.line, Some(line), "{err}");
}

// ------------------------------------------------ wire facts as data

fn builtin_text(id: &str) -> &'static str {
    BUILTIN.iter().find(|(i, _)| *i == id).unwrap().1
}

/// The paging, version and key-exchange facts both sides read are checked at load.
#[test]
fn wire_fact_keys_are_validated() {
    let cases = [
        (
            "agilecrm",
            "cursor_at = \"last_record/cursor\"",
            "cursor_at = \"cursor\"",
            "api.paging.cursor_at",
        ),
        (
            "agilecrm",
            "cursor_at = \"last_record/cursor\"",
            "cursor_at = \"/paging/next/after\"",
            "api.paging.cursor_at",
        ),
        (
            "redtail",
            "user_key_at = [\"/user_key\", \"/authenticated_user/user_key\"]",
            "user_key_at = []",
            "native_auth.user_key_at",
        ),
        (
            "redtail",
            "user_key_at = [\"/user_key\", \"/authenticated_user/user_key\"]",
            "user_key_at = [\"last_record/user_key\"]",
            "native_auth.user_key_at",
        ),
        (
            "connectwise",
            "version = \"2022.1\"\n",
            "",
            "native_auth.version",
        ),
        (
            "connectwise",
            "current_version = \"2025.1\"\n",
            "",
            "api.current_version",
        ),
        (
            "connectwise",
            "forward_only_header = \"pagination-type\"",
            "forward_only_header = \"pagination type\"",
            "api.paging.forward_only_header",
        ),
        (
            "connectwise",
            "page_id_param = \"pageId\"",
            "page_id_param = \"\"",
            "api.paging.page_id_param",
        ),
    ];
    for (id, from, to, key) in cases {
        let text = builtin_text(id).replace(from, to);
        assert_ne!(text, builtin_text(id), "replacement {from:?} did not apply");
        let err = Profile::from_toml_str(&text, "p.toml").unwrap_err();
        assert_eq!(err.key.as_deref(), Some(key), "{id}: {to:?}: {err}");
    }
}

#[test]
fn wire_fact_defaults_are_the_builtins_values() {
    // Each built-in sets its own wire facts; without them the defaults say the same.
    for id in ["agilecrm", "redtail", "connectwise"] {
        let set = Profile::builtin(id).unwrap();
        let mut text = builtin_text(id).to_owned();
        for key in [
            "cursor_at",
            "count_at",
            "total_pages_at",
            "total_records_at",
            "forward_only_header",
            "forward_only_value",
            "page_id_param",
            "user_key_at",
        ] {
            text = text
                .lines()
                .filter(|l| !l.starts_with(&format!("{key} =")))
                .collect::<Vec<_>>()
                .join("\n");
        }
        let defaulted = Profile::from_toml_str(&text, "p.toml").unwrap();
        assert_eq!(defaulted, set, "{id}");
    }
}
