use super::*;

fn capsule_text() -> &'static str {
    BUILTIN.iter().find(|(id, _)| *id == "capsule").unwrap().1
}

#[test]
fn every_builtin_parses_and_is_labelled() {
    let all = Profile::builtins();
    assert_eq!(all.len(), 5);
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
    assert_eq!(documented, ["capsule"]);
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
    let err = Profile::load("salesforce").unwrap_err();
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
