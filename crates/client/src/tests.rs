//! Unit tests and properties of the pieces that need no network.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use handshake_profile::{PkceMethod, Profile};
use oauth2::{PkceCodeChallenge, PkceCodeVerifier};
use proptest::prelude::*;
use sha2::{Digest, Sha256};

use crate::api::retry_wait;
use crate::client::new_pkce;
use crate::token::ProviderTokenResponse;
use crate::*;

fn client(profile: &str) -> OAuthClient {
    let p = Profile::builtin(profile).unwrap();
    OAuthClient::new(
        &p,
        ClientConfig::new(
            "http://127.0.0.1:9",
            "cid",
            ClientSecret::new("csecret".into()),
            "http://127.0.0.1:3000/cb",
        ),
    )
    .unwrap()
}

fn param(url: &url::Url, name: &str) -> Option<String> {
    url.query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

fn is_unreserved(c: char) -> bool {
    c.is_ascii_alphanumeric() || "-._~".contains(c)
}

#[test]
fn rfc7636_appendix_b_challenge() {
    let verifier = PkceCodeVerifier::new("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk".into());
    let challenge = PkceCodeChallenge::from_code_verifier_sha256(&verifier);
    assert_eq!(
        challenge.as_str(),
        "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
    );
    assert_eq!(challenge.method().as_str(), "S256");
}

proptest! {
    #[test]
    fn pkce_verifiers_are_rfc7636_shaped(num_bytes in 32u32..=96) {
        let (challenge, verifier) = new_pkce(PkceMethod::S256, num_bytes);
        let v = verifier.secret();
        prop_assert!((43..=128).contains(&v.len()), "length {}", v.len());
        prop_assert!(v.chars().all(is_unreserved));
        let expected = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(Sha256::digest(v.as_bytes()));
        prop_assert_eq!(challenge.as_str(), expected.as_str());
        prop_assert!(!challenge.as_str().contains('='));
        let (plain, pv) = new_pkce(PkceMethod::Plain, num_bytes);
        prop_assert_eq!(plain.as_str(), pv.secret().as_str());
        prop_assert_eq!(plain.method().as_str(), "plain");
    }

    #[test]
    fn callback_parser_never_panics(input in ".*") {
        let _ = Callback::parse(&input);
    }

    #[test]
    fn callback_parser_handles_query_like_input(
        pairs in proptest::collection::vec(("(state|code|error|error_description|x|%[0-9a-fA-F]{0,2}|)", ".{0,12}"), 0..6),
        prefix in "(https://a.example/cb\\?|\\?|)",
    ) {
        let query: Vec<String> = pairs.iter().map(|(k, v)| format!("{k}={v}")).collect();
        let input = format!("{prefix}{}", query.join("&"));
        match Callback::parse(&input) {
            Ok(_) | Err(ClientError::MalformedCallback(_)) => {}
            Err(other) => prop_assert!(false, "unexpected error {other:?}"),
        }
    }

    #[test]
    fn state_comparison_accepts_exactly_the_issued_value(other in "[A-Za-z0-9_-]{0,60}") {
        let c = client("capsule");
        let s = SessionId::new("s");
        let issued = c.authorize(&s).state;
        prop_assume!(other != issued);
        prop_assert!(matches!(c.take_pending(&s, Some(&other)), Err(ClientError::StateMismatch)));
        let issued = c.authorize(&s).state;
        // A prefix or an extension of the issued value is not the issued value.
        let truncated = &issued[..issued.len() - 1];
        prop_assert!(matches!(c.take_pending(&s, Some(truncated)), Err(ClientError::StateMismatch)));
        let issued = c.authorize(&s).state;
        let extended = format!("{}x", issued);
        prop_assert!(c.take_pending(&s, Some(&extended)).is_err());
        let issued = c.authorize(&s).state;
        prop_assert!(c.take_pending(&s, Some(&issued)).is_ok());
    }

    #[test]
    fn states_are_unique_and_single_use(n in 1usize..40) {
        let c = client("redtail");
        let mut seen = std::collections::HashSet::new();
        for i in 0..n {
            let s = SessionId::new(format!("session-{i}"));
            let state = c.authorize(&s).state;
            // 32 random bytes, base64url: 43 characters, 256 bits.
            prop_assert_eq!(state.len(), 43);
            prop_assert!(seen.insert(state.clone()), "duplicate state");
            prop_assert!(c.take_pending(&s, Some(&state)).is_ok());
            prop_assert!(matches!(c.take_pending(&s, Some(&state)), Err(ClientError::StateReplayed)));
        }
    }
}

#[test]
fn pending_authorizations_are_bound_to_their_session() {
    let c = client("capsule");
    let alice = SessionId::new("alice");
    let state = c.authorize(&alice).state;
    assert!(matches!(
        c.take_pending(&SessionId::new("mallory"), Some(&state)),
        Err(ClientError::StateUnknown)
    ));
    assert!(matches!(
        c.take_pending(&alice, None),
        Err(ClientError::StateMissing)
    ));
    assert!(c.take_pending(&alice, Some(&state)).is_ok());
}

#[test]
fn pending_authorizations_expire() {
    let c = client("capsule").with_authorization_ttl(Duration::ZERO);
    let s = SessionId::new("s");
    let state = c.authorize(&s).state;
    std::thread::sleep(Duration::from_millis(5));
    assert!(matches!(
        c.take_pending(&s, Some(&state)),
        Err(ClientError::StateExpired)
    ));
}

#[test]
fn pkce_method_follows_the_profile() {
    for (id, method) in [
        ("capsule", Some("S256")),
        ("connectwise", Some("S256")),
        ("insightly", Some("S256")),
        ("agilecrm", None),
        ("redtail", None),
    ] {
        let req = client(id).authorize(&SessionId::new("s"));
        assert_eq!(
            param(&req.url, "code_challenge_method").as_deref(),
            method,
            "{id}"
        );
        assert_eq!(
            param(&req.url, "code_challenge").is_some(),
            method.is_some()
        );
    }
    // plain only when it is all the provider offers.
    let mut p = Profile::builtin("capsule").unwrap();
    p.pkce.methods = vec![PkceMethod::Plain];
    let c = OAuthClient::new(
        &p,
        ClientConfig::new(
            "http://h",
            "c",
            ClientSecret::new("s".into()),
            "http://r/cb",
        ),
    )
    .unwrap();
    let req = c.authorize(&SessionId::new("s"));
    assert_eq!(
        param(&req.url, "code_challenge_method").as_deref(),
        Some("plain")
    );
}

#[test]
fn scopes_use_the_profile_separator() {
    let mut p = Profile::builtin("capsule").unwrap();
    p.scopes.separator = ",".into();
    let c = OAuthClient::new(
        &p,
        ClientConfig::new(
            "http://h",
            "c",
            ClientSecret::new("s".into()),
            "http://r/cb",
        ),
    )
    .unwrap();
    let req = c.authorize(&SessionId::new("s"));
    assert_eq!(param(&req.url, "scope").as_deref(), Some("read,write"));
}

fn parse_token(json: &str) -> Result<ProviderTokenResponse, String> {
    serde_json::from_str(json).map_err(|e| e.to_string())
}

#[test]
fn token_responses_are_validated() {
    use oauth2::TokenResponse as _;
    let ok = parse_token(
        r#"{"access_token":"AT","token_type":"BEARER","expires_in":"3600","subdomain":"demo"}"#,
    )
    .unwrap();
    assert_eq!(ok.expires_in(), Some(Duration::from_secs(3600)));
    let set = TokenSet::from_response(ok, None, UNIX_EPOCH);
    assert_eq!(set.expires_at, Some(UNIX_EPOCH + Duration::from_secs(3600)));
    assert_eq!(set.extra["subdomain"], "demo");

    let no_expiry = parse_token(r#"{"access_token":"AT","token_type":"bearer"}"#).unwrap();
    assert_eq!(no_expiry.expires_in(), None);
    let numeric =
        parse_token(r#"{"access_token":"AT","token_type":"Bearer","expires_in":60}"#).unwrap();
    assert_eq!(numeric.expires_in(), Some(Duration::from_secs(60)));

    for (body, why) in [
        (
            r#"{"token_type":"bearer","refresh_token":"RT-SECRET"}"#,
            "missing `access_token`",
        ),
        (
            r#"{"access_token":"","token_type":"bearer"}"#,
            "access_token",
        ),
        (r#"{"access_token":"AT-SECRET"}"#, "token_type"),
        (
            r#"{"access_token":"AT-SECRET","token_type":"mac"}"#,
            "unsupported `token_type`",
        ),
        (
            r#"{"access_token":"AT-SECRET","token_type":"bearer","expires_in":"soon"}"#,
            "expires_in",
        ),
        (
            r#"{"access_token":"AT-SECRET","token_type":"bearer","expires_in":-5}"#,
            "expires_in",
        ),
    ] {
        let err = parse_token(body).unwrap_err();
        assert!(err.contains(why), "{body}: {err}");
        assert!(!err.contains("SECRET"), "secret leaked: {err}");
    }
}

#[test]
fn refresh_without_new_refresh_token_keeps_the_old_one() {
    let resp = parse_token(r#"{"access_token":"AT2","token_type":"bearer"}"#).unwrap();
    let old = RefreshToken::new("RT1".into());
    let set = TokenSet::from_response(resp, Some(&old), SystemTime::now());
    assert_eq!(set.refresh_token.unwrap().secret(), "RT1");
}

#[test]
fn retry_wait_reads_retry_after_and_reset_headers() {
    let now = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
    let mut h = http::HeaderMap::new();
    assert_eq!(retry_wait(&h, now), None);
    h.insert("x-ratelimit-reset", "1700000030".parse().unwrap());
    assert_eq!(retry_wait(&h, now), Some(Duration::from_secs(30)));
    h.insert("x-ratelimit-reset", "1600000000".parse().unwrap());
    assert_eq!(retry_wait(&h, now), Some(Duration::ZERO));
    h.insert("retry-after", "7".parse().unwrap());
    assert_eq!(retry_wait(&h, now), Some(Duration::from_secs(7)));
}

#[test]
fn api_calls_stay_on_the_provider_origin() {
    let c = client("capsule");
    let s = SessionId::new("s");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let err = rt
        .block_on(c.api_get(&s, "https://evil.example/steal"))
        .unwrap_err();
    assert!(matches!(err, ClientError::Config(_)), "{err:?}");
}

#[test]
fn secrets_do_not_show_in_debug() {
    let config = ClientConfig::new(
        "http://h",
        "cid",
        ClientSecret::new("TOP-SECRET".into()),
        "http://r",
    );
    let c = OAuthClient::new(&Profile::builtin("capsule").unwrap(), config.clone()).unwrap();
    let set = TokenSet {
        access_token: AccessToken::new("AT-SECRET".into()),
        token_type: "bearer".into(),
        refresh_token: Some(RefreshToken::new("RT-SECRET".into())),
        expires_at: None,
        scope: None,
        extra: Default::default(),
    };
    let conn = Connection {
        status: ConnectionStatus::Active,
        tokens: Some(set.clone()),
    };
    let text = format!(
        "{config:?} {c:?} {set:?} {conn:?} {:?} {:?}",
        SessionId::new("SESSION-SECRET"),
        StoreKey::generate()
    );
    for secret in ["TOP-SECRET", "AT-SECRET", "RT-SECRET", "SESSION-SECRET"] {
        assert!(!text.contains(secret), "{secret} in {text}");
    }
}

#[test]
fn every_secret_bearing_type_redacts_itself() {
    let creds = [
        NativeCredentials::personal_access_token("PAT-SECRET"),
        NativeCredentials::api_key("AK-SECRET"),
        NativeCredentials::email_api_key("ada@example.com", "AK-SECRET"),
        NativeCredentials::redtail("AK-SECRET", "ada", "PW-SECRET"),
        NativeCredentials::connectwise("acme", "pub", "PK-SECRET", "client-guid"),
    ];
    let mut shown = vec![
        format!("{:?}", NativeSecret::new("NS-SECRET")),
        format!("{}", NativeSecret::new("NS-SECRET")),
        format!("{}", SessionId::new("SESSION-SECRET")),
        format!(
            "{:?}",
            StoreKey::from_bytes(*b"KEY-SECRET-KEY-SECRET-KEY-SECRET")
        ),
        format!(
            "{:?}",
            Callback::parse("?code=CODE-SECRET&state=s").unwrap()
        ),
        format!(
            "{:?}",
            EncryptedFileStore::new("/nonexistent", StoreKey::generate())
        ),
    ];
    for c in &creds {
        shown.push(format!("{c:?}"));
        let p = Profile::builtins()
            .into_iter()
            .find(|p| {
                p.native_auth
                    .as_ref()
                    .is_some_and(|n| n.scheme == c.scheme())
            })
            .unwrap();
        let client = NativeClient::new(&p, "http://127.0.0.1:9", c.clone()).unwrap();
        shown.push(format!("{client:?}"));
    }
    for s in &shown {
        assert!(!s.contains("SECRET"), "{s}");
        assert!(
            s.contains("[redacted]") || s.starts_with("EncryptedFileStore"),
            "{s}"
        );
    }
    assert_eq!(shown[0], "NativeSecret([redacted])");
    assert_eq!(shown[2], "[redacted]");
}

#[test]
fn oauth_error_codes_are_typed() {
    let cb = Callback::parse("?error=access_denied&state=s").unwrap();
    assert_eq!(cb.error, Some(handshake_profile::OAuthError::AccessDenied));
    let cb = Callback::parse("?error=crm_says_no&state=s").unwrap();
    assert_eq!(
        cb.error,
        Some(handshake_profile::OAuthError::Other("crm_says_no".into()))
    );
    assert!(matches!(
        Callback::parse("?error=a&error=b"),
        Err(ClientError::MalformedCallback(_))
    ));
}

mod store {
    use super::*;

    fn conn(at: &str) -> Connection {
        Connection {
            status: ConnectionStatus::Active,
            tokens: Some(TokenSet {
                access_token: AccessToken::new(at.into()),
                token_type: "bearer".into(),
                refresh_token: Some(RefreshToken::new(format!("{at}-refresh"))),
                expires_at: Some(UNIX_EPOCH + Duration::from_secs(2_000_000_000)),
                scope: Some("read".into()),
                extra: [("subdomain".to_owned(), serde_json::json!("demo"))].into(),
            }),
        }
    }

    fn roundtrip(store: &dyn TokenStore) {
        let a = SessionId::new("a");
        let b = SessionId::new("b");
        assert!(store.get(&a).unwrap().is_none());
        store.put(&a, &conn("token-a")).unwrap();
        store.put(&b, &conn("token-b")).unwrap();
        let got = store.get(&a).unwrap().unwrap();
        let t = got.tokens.unwrap();
        assert_eq!(t.access_token.secret(), "token-a");
        assert_eq!(t.extra["subdomain"], "demo");
        store.delete(&a).unwrap();
        store.delete(&a).unwrap();
        assert!(store.get(&a).unwrap().is_none());
        assert!(store.get(&b).unwrap().is_some());
    }

    #[test]
    fn memory_store_roundtrips() {
        roundtrip(&MemoryStore::new());
    }

    #[test]
    fn file_store_roundtrips_encrypted_and_leaves_no_temp_files() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tokens.bin");
        let store = EncryptedFileStore::new(&path, StoreKey::generate());
        roundtrip(&store);
        let raw = std::fs::read(&path).unwrap();
        let text = String::from_utf8_lossy(&raw);
        assert!(!text.contains("token-b"), "plaintext token on disk");
        assert!(!text.contains("subdomain"), "plaintext JSON on disk");
        let entries: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(entries.len(), 1, "temporary files left behind");
    }

    #[test]
    fn file_store_detects_tampering_and_wrong_keys() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tokens.bin");
        let key = StoreKey::generate();
        let store = EncryptedFileStore::new(&path, key.clone());
        let s = SessionId::new("s");
        store.put(&s, &conn("tok")).unwrap();

        let other = EncryptedFileStore::new(&path, StoreKey::generate());
        assert!(matches!(other.get(&s), Err(StoreError::Tampered { .. })));

        let mut raw = std::fs::read(&path).unwrap();
        let last = raw.len() - 1;
        raw[last] ^= 1;
        std::fs::write(&path, &raw).unwrap();
        let err = store.get(&s).unwrap_err();
        assert!(matches!(err, StoreError::Tampered { .. }), "{err:?}");
        // Writing on top of a tampered file refuses rather than silently dropping sessions.
        assert!(store.put(&s, &conn("new")).is_err());

        std::fs::write(&path, b"HSK").unwrap();
        assert!(matches!(store.get(&s), Err(StoreError::Tampered { .. })));
    }

    #[test]
    fn store_keys_load_from_base64_and_files() {
        let key = StoreKey::generate();
        let b64 = key.to_base64();
        assert!(StoreKey::from_base64(&b64).is_ok());
        assert!(matches!(
            StoreKey::from_base64("c2hvcnQ="),
            Err(StoreError::Key(_))
        ));
        assert!(matches!(
            StoreKey::from_base64("%%%"),
            Err(StoreError::Key(_))
        ));
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("key");
        std::fs::write(&f, format!("{b64}\n")).unwrap();
        let from_file = StoreKey::from_file(&f).unwrap();
        // Same key: a store written with one reads with the other.
        let path = dir.path().join("t.bin");
        EncryptedFileStore::new(&path, key)
            .put(&SessionId::new("s"), &conn("x"))
            .unwrap();
        assert!(EncryptedFileStore::new(&path, from_file)
            .get(&SessionId::new("s"))
            .unwrap()
            .is_some());
    }
}

#[test]
fn absurd_expires_in_does_not_panic() {
    // A hostile or buggy provider can send any u64; `SystemTime + Duration` panics on
    // overflow, so the expiry must saturate instead of taking the client down.
    let resp = parse_token(
        r#"{"access_token":"AT","token_type":"bearer","expires_in":18446744073709551615}"#,
    )
    .unwrap();
    let set = TokenSet::from_response(resp, None, SystemTime::now());
    assert!(!set.expires_within(Duration::from_secs(60), SystemTime::now()));
    assert!(!set.expires_within(Duration::MAX, SystemTime::now()));
    let short =
        parse_token(r#"{"access_token":"AT","token_type":"bearer","expires_in":1}"#).unwrap();
    let set = TokenSet::from_response(short, None, SystemTime::now());
    assert!(set.expires_within(Duration::MAX, SystemTime::now()));
}

#[test]
fn retry_after_accepts_the_http_date_form() {
    // RFC 9110 §10.2.3: Retry-After = HTTP-date / delay-seconds.
    let now = UNIX_EPOCH + Duration::from_secs(1_700_000_000); // Tue, 14 Nov 2023 22:13:20 GMT
    let mut h = http::HeaderMap::new();
    h.insert(
        "retry-after",
        "Tue, 14 Nov 2023 22:13:32 GMT".parse().unwrap(),
    );
    assert_eq!(retry_wait(&h, now), Some(Duration::from_secs(12)));
    // A date in the past means "now".
    h.insert(
        "retry-after",
        "Tue, 14 Nov 2023 22:00:00 GMT".parse().unwrap(),
    );
    assert_eq!(retry_wait(&h, now), Some(Duration::ZERO));
    // Garbage falls through to the reset header, then to nothing.
    h.insert("retry-after", "soon".parse().unwrap());
    assert_eq!(retry_wait(&h, now), None);
    h.insert("x-ratelimit-reset", "5".parse().unwrap());
    assert_eq!(retry_wait(&h, now), Some(Duration::from_secs(5)));
}

#[test]
fn abandoned_authorizations_are_purged() {
    // Every visit to a login route calls `authorize` with a fresh session; sessions that
    // never come back must not pile up in memory for the life of the process.
    let c = client("capsule").with_authorization_ttl(Duration::from_millis(1));
    for i in 0..100 {
        c.authorize(&SessionId::new(format!("drive-by-{i}")));
    }
    std::thread::sleep(Duration::from_millis(5));
    let s = SessionId::new("live");
    let state = c.authorize(&s).state;
    assert_eq!(c.pending_sessions(), 1);
    // A live session's replay memory survives the purge while it is fresh.
    let c = c.with_authorization_ttl(Duration::from_secs(600));
    assert!(c.take_pending(&s, Some(&state)).is_ok());
    c.authorize(&SessionId::new("other"));
    assert!(matches!(
        c.take_pending(&s, Some(&state)),
        Err(ClientError::StateReplayed)
    ));
}
