//! User accounts: two users through the consent page see their own data, one user's logout
//! leaves the other's grant, and the control API for users, records and grants.

mod common;
#[path = "common/contract.rs"]
mod contract;

use common::*;
use handshake_mock::{Endpoint, JournalEntry, MockProvider};
use handshake_profile::Profile;
use serde_json::{json, Value};

async fn mock(id: &str) -> MockProvider {
    MockProvider::start(Profile::builtin(id).unwrap()).await
}

/// Approves on the consent page as `user` (`None`: leaves the prefilled field as it is).
async fn code_as(mock: &MockProvider, user: Option<&str>) -> String {
    let q = auth_params(mock.profile());
    let page = get_authorize(mock, &q).await;
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    let id = consent_id(&html);
    let mut form = vec![("consent_id", id.as_str()), ("decision", "approve")];
    if let Some(u) = user {
        form.push(("user", u));
    }
    let resp = http()
        .post(mock.authorize_url())
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 303, "{}", resp.text().await.unwrap());
    query(&location(&resp), "code").expect("code in redirect")
}

async fn tokens_as(mock: &MockProvider, user: Option<&str>) -> Value {
    let code = code_as(mock, user).await;
    let resp = exchange(mock, &code).await;
    assert_eq!(resp.status(), 200);
    resp.json().await.unwrap()
}

fn id_field(mock: &MockProvider) -> String {
    mock.metadata()["dataset"]["id_field"]
        .as_str()
        .unwrap()
        .to_owned()
}

fn ids(records: &[Value], field: &str) -> Vec<String> {
    records.iter().map(|r| r[field].to_string()).collect()
}

/// The ids on the first page the API lists for this access token.
async fn listed_ids(mock: &MockProvider, token: &str) -> Vec<String> {
    let resp = api(mock, Some(token)).await;
    assert_eq!(resp.status(), 200);
    let body: Value = resp.json().await.unwrap();
    let list = match &mock.profile().api.envelope {
        Some(key) => body[key].clone(),
        None => body,
    };
    ids(list.as_array().unwrap(), &id_field(mock))
}

async fn control(
    mock: &MockProvider,
    method: &str,
    path: &str,
    body: Option<&str>,
) -> reqwest::Response {
    let url = format!("{}/__handshake/{path}", mock.uri());
    let req = match method {
        "GET" => http().get(url),
        _ => http().post(url),
    };
    let req = match body {
        Some(b) => req
            .header("content-type", "application/json")
            .body(b.to_owned()),
        None => req,
    };
    // Every answer is checked against openapi.json.
    contract::send(req).await
}

#[tokio::test]
async fn two_users_through_the_consent_page_see_their_own_data_on_every_builtin() {
    for profile in Profile::builtins() {
        let id = profile.id.clone();
        let mock = MockProvider::start(profile).await;
        assert_eq!(mock.users(), ["alice", "bob"]);
        let field = id_field(&mock);
        let alice_all = ids(&mock.records_for("alice").unwrap(), &field);
        let bob_all = ids(&mock.records_for("bob").unwrap(), &field);
        assert_eq!(mock.records_for("alice").unwrap(), mock.dataset(), "{id}");
        assert!(
            alice_all.iter().all(|i| !bob_all.contains(i)),
            "{id}: ids shared"
        );

        let alice = tokens_as(&mock, None).await; // the prefilled field: the first user
        let bob = tokens_as(&mock, Some("bob")).await;
        let seen_a = listed_ids(&mock, alice["access_token"].as_str().unwrap()).await;
        let seen_b = listed_ids(&mock, bob["access_token"].as_str().unwrap()).await;
        assert!(!seen_a.is_empty() && !seen_b.is_empty(), "{id}");
        assert_eq!(
            seen_a,
            alice_all[..seen_a.len()],
            "{id}: alice sees her data"
        );
        assert_eq!(seen_b, bob_all[..seen_b.len()], "{id}: bob sees his data");

        // The journal says whose grant each call used.
        let journal = mock.journal();
        let api_users: Vec<_> = journal
            .iter()
            .filter(|e| e.endpoint == Some(Endpoint::Api))
            .map(|e| e.user.as_deref())
            .collect();
        assert_eq!(api_users, [Some("alice"), Some("bob")], "{id}");
        let token_users: Vec<_> = journal
            .iter()
            .filter(|e| e.endpoint == Some(Endpoint::Token))
            .map(|e| e.user.as_deref())
            .collect();
        assert_eq!(token_users, [Some("alice"), Some("bob")], "{id}");

        // A refreshed token still acts for its user.
        let rt = bob["refresh_token"].as_str().unwrap();
        let refreshed: Value = refresh(&mock, rt).await.json().await.unwrap();
        let again = listed_ids(&mock, refreshed["access_token"].as_str().unwrap()).await;
        assert_eq!(again, seen_b, "{id}: refresh keeps the user");
        assert_eq!(mock.grants_of("alice"), 1, "{id}");
        assert_eq!(mock.grants_of("bob"), 1, "{id}");
    }
}

#[tokio::test]
async fn names_differ_between_users() {
    let mock = mock("capsule").await;
    let name = |r: &Value| format!("{} {}", r["firstName"], r["lastName"]);
    let alice: Vec<_> = mock
        .records_for("alice")
        .unwrap()
        .iter()
        .map(name)
        .collect();
    let bob: Vec<_> = mock.records_for("bob").unwrap().iter().map(name).collect();
    assert_eq!(alice.len(), bob.len());
    let same = alice.iter().zip(&bob).filter(|(a, b)| a == b).count();
    assert!(
        same * 10 < alice.len(),
        "{same} of {} names equal",
        alice.len()
    );
}

#[tokio::test]
async fn the_consent_page_asks_who_is_signed_in() {
    let mock = MockProvider::builder(Profile::builtin("redtail").unwrap())
        .users(["ada", "grace"])
        .start()
        .await
        .unwrap();
    let html = get_authorize(&mock, &auth_params(mock.profile()))
        .await
        .text()
        .await
        .unwrap();
    let form = &html[html.find("<form").unwrap()..html.find("</form>").unwrap()];
    assert!(
        form.contains(r#"<input type="text" id="user" name="user" value="ada""#),
        "{form}"
    );
    assert!(form.contains("Signed in as"), "{form}");
    assert!(
        html.contains("ada, grace"),
        "the page lists the accounts: {html}"
    );
    let tok = tokens_as(&mock, Some("grace")).await;
    assert_eq!(mock.grants_of("grace"), 1);
    assert_eq!(mock.grants_of("ada"), 0);
    let seen = listed_ids(&mock, tok["access_token"].as_str().unwrap()).await;
    let field = id_field(&mock);
    assert_eq!(seen[0], ids(&mock.records_for("grace").unwrap(), &field)[0]);
}

#[tokio::test]
async fn an_unknown_user_gets_400_and_the_consent_is_not_spent() {
    let mock = mock("capsule").await;
    let html = get_authorize(&mock, &auth_params(mock.profile()))
        .await
        .text()
        .await
        .unwrap();
    let id = consent_id(&html);
    let post = |user: &'static str| {
        let id = id.clone();
        let url = mock.authorize_url();
        async move {
            http()
                .post(url)
                .form(&[
                    ("consent_id", id.as_str()),
                    ("decision", "approve"),
                    ("user", user),
                ])
                .send()
                .await
                .unwrap()
        }
    };
    for bad in ["mallory", "", "handshake-secret"] {
        let resp = post(bad).await;
        assert_eq!(resp.status(), 400, "{bad:?}");
        assert!(resp.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html"));
        assert!(
            resp.text().await.unwrap().contains("unknown user"),
            "{bad:?}"
        );
    }
    let last = mock.journal().pop().unwrap();
    assert_eq!(last.error, None, "an HTML page names no error code");
    // A secret typed into the field is scrubbed from the journal, reason included.
    assert_eq!(last.error_description.as_deref(), Some("[redacted]"));
    assert_eq!(last.param("user"), Some("[redacted]"));
    let first = &mock.journal()[1];
    assert!(first
        .error_description
        .as_deref()
        .unwrap()
        .contains("\"mallory\"; the accounts on this mock are alice, bob"));

    // The same consent still works, for a real user.
    let resp = post("bob").await;
    assert_eq!(resp.status(), 303);
    let code = query(&location(&resp), "code").unwrap();
    assert_eq!(mock.journal().last().unwrap().user.as_deref(), Some("bob"));
    assert_eq!(exchange(&mock, &code).await.status(), 200);
    assert_eq!(mock.grants_of("bob"), 1);
    // ... once.
    assert_eq!(post("bob").await.status(), 400);
}

#[tokio::test]
async fn deny_needs_no_valid_user() {
    let mock = mock("capsule").await;
    let html = get_authorize(&mock, &auth_params(mock.profile()))
        .await
        .text()
        .await
        .unwrap();
    let resp = http()
        .post(mock.authorize_url())
        .form(&[
            ("consent_id", consent_id(&html).as_str()),
            ("decision", "deny"),
            ("user", "nobody"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 303);
    assert_eq!(
        query(&location(&resp), "error").as_deref(),
        Some("access_denied")
    );
    let last = mock.journal().pop().unwrap();
    assert_eq!(last.error.as_deref(), Some("access_denied"));
}

#[tokio::test]
async fn auto_approve_and_the_native_scheme_act_for_the_first_user() {
    let mock = MockProvider::builder(Profile::builtin("capsule").unwrap())
        .auto_approve(true)
        .start()
        .await
        .unwrap();
    let resp = get_authorize(&mock, &auth_params(mock.profile())).await;
    let code = query(&location(&resp), "code").unwrap();
    let tok: Value = exchange(&mock, &code).await.json().await.unwrap();
    assert_eq!(mock.grants_of("alice"), 1);
    assert_eq!(mock.grants_of("bob"), 0);
    let field = id_field(&mock);
    let first = ids(mock.dataset(), &field);
    let seen = listed_ids(&mock, tok["access_token"].as_str().unwrap()).await;
    assert_eq!(seen, first[..seen.len()]);

    let pat = mock.native_credentials().personal_access_token().to_owned();
    let seen = listed_ids(&mock, &pat).await;
    assert_eq!(
        seen,
        first[..seen.len()],
        "native keys belong to the first user"
    );
    let journal = mock.journal();
    assert_eq!(journal[0].user.as_deref(), Some("alice"), "auto-approve");
    assert_eq!(journal.last().unwrap().user.as_deref(), Some("alice"));
    assert_eq!(
        journal.last().unwrap().auth_mode.as_deref(),
        Some("bearer_token")
    );
}

#[tokio::test]
async fn one_users_item_is_not_found_for_the_other() {
    let mock = mock("insightly").await;
    let alice = tokens_as(&mock, None).await;
    let bob = tokens_as(&mock, Some("bob")).await;
    let field = id_field(&mock);
    let bobs_first = ids(&mock.records_for("bob").unwrap(), &field)[0].clone();
    let get = |token: String| {
        let url = format!("{}/{bobs_first}", mock.api_url());
        async move { http().get(url).bearer_auth(token).send().await.unwrap() }
    };
    let own = get(bob["access_token"].as_str().unwrap().to_owned()).await;
    assert_eq!(own.status(), 200);
    let other = get(alice["access_token"].as_str().unwrap().to_owned()).await;
    assert_eq!(other.status(), 404, "alice cannot read bob's record");
}

#[tokio::test]
async fn logging_one_user_out_leaves_the_other_logged_in() {
    for id in ["capsule", "connectwise", "redtail"] {
        let mock = mock(id).await;
        let alice = tokens_as(&mock, Some("alice")).await;
        let bob = tokens_as(&mock, Some("bob")).await;
        // RFC 7009: alice's app revokes her refresh token at logout.
        let revoke = mock.revoke_url().unwrap();
        let rt = alice["refresh_token"].as_str().unwrap();
        let resp = post_as_profile(
            &mock,
            &revoke,
            &[("token", rt), ("token_type_hint", "refresh_token")],
        )
        .await;
        assert_eq!(resp.status(), 200, "{id}");
        assert_eq!(mock.grants_of("alice"), 0, "{id}");
        assert_eq!(mock.grants_of("bob"), 1, "{id}");
        assert_eq!(
            api(&mock, alice["access_token"].as_str()).await.status(),
            401,
            "{id}"
        );
        assert_eq!(
            api(&mock, bob["access_token"].as_str()).await.status(),
            200,
            "{id}"
        );

        // Revoking only an access token leaves the grant live (its refresh token works).
        let resp = post_as_profile(
            &mock,
            &revoke,
            &[("token", bob["access_token"].as_str().unwrap())],
        )
        .await;
        assert_eq!(resp.status(), 200);
        assert_eq!(mock.grants_of("bob"), 1, "{id}");
    }
}

#[tokio::test]
async fn revoke_grants_of_ends_one_users_grants() {
    let mock = mock("capsule").await;
    let alice = tokens_as(&mock, None).await;
    let _a2 = tokens_as(&mock, None).await;
    let bob = tokens_as(&mock, Some("bob")).await;
    assert_eq!(mock.grants_of("alice"), 2);
    assert_eq!(mock.revoke_grants_of("alice"), 2);
    assert_eq!(mock.revoke_grants_of("mallory"), 0);
    assert_eq!(mock.grants_of("alice"), 0);
    assert_eq!(mock.grants_of("mallory"), 0);
    assert_eq!(
        api(&mock, alice["access_token"].as_str()).await.status(),
        401
    );
    assert_eq!(api(&mock, bob["access_token"].as_str()).await.status(), 200);
    let rt = alice["refresh_token"].as_str().unwrap();
    assert_eq!(error_of(refresh(&mock, rt).await).await.1, "invalid_grant");
    // Expired access tokens with a live refresh token still count as logged in.
    mock.expire_access_tokens();
    assert_eq!(mock.grants_of("bob"), 1);
    mock.revoke_grants();
    assert_eq!(mock.grants_of("bob"), 0);
}

#[tokio::test]
async fn builder_checks_user_names() {
    let p = || Profile::builtin("capsule").unwrap();
    let none: [&str; 0] = [];
    let err = MockProvider::builder(p())
        .users(none)
        .start()
        .await
        .unwrap_err();
    assert!(err.to_string().contains("at least one user"), "{err}");
    for bad in [vec!["ok", "ok"], vec!["a b"], vec![""], vec!["bob/../x"]] {
        let err = MockProvider::builder(p())
            .users(bad.clone())
            .start()
            .await
            .unwrap_err();
        assert!(
            matches!(err, handshake_mock::MockError::Config(_)),
            "{bad:?}: {err}"
        );
    }
    let one = MockProvider::builder(p())
        .users(["solo"])
        .start()
        .await
        .unwrap();
    assert_eq!(one.users(), ["solo"]);
    assert!(one.records_for("alice").is_none());
    assert_eq!(one.records_for("solo").unwrap(), one.dataset());
    let many: Vec<String> = (0..16).map(|i| format!("user{i}")).collect();
    let mock = MockProvider::builder(p())
        .users(many)
        .start()
        .await
        .unwrap();
    let last = mock.records_for("user15").unwrap();
    assert_eq!(last[0]["id"], 15_000_011);
}

// ---------------------------------------------------------------- control API over HTTP

#[tokio::test]
async fn control_users_records_grants_and_revoke_over_http() {
    let mock = mock("connectwise").await;
    let v: Value = control(&mock, "GET", "users", None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(v, json!({"users": ["alice", "bob"]}));

    let bob: Value = control(&mock, "GET", "records?user=bob", None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(bob, json!(mock.records_for("bob").unwrap()));
    let first: Value = control(&mock, "GET", "records", None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(first, json!(mock.dataset()));

    let live = |q: &'static str| {
        let m = &mock;
        async move {
            let v: Value = control(m, "GET", q, None).await.json().await.unwrap();
            v
        }
    };
    assert_eq!(live("grants?user=bob").await, json!({"live": 0}));
    tokens_as(&mock, Some("bob")).await;
    tokens_as(&mock, Some("alice")).await;
    assert_eq!(live("grants?user=bob").await, json!({"live": 1}));
    assert_eq!(
        live("grants").await,
        json!({"live": 2, "by_user": {"alice": 1, "bob": 1}})
    );

    let resp = control(&mock, "POST", "revoke", Some(r#"{"user":"bob"}"#)).await;
    assert_eq!(resp.status(), 204);
    assert_eq!(live("grants?user=bob").await, json!({"live": 0}));
    assert_eq!(live("grants?user=alice").await, json!({"live": 1}));
    let resp = control(&mock, "POST", "revoke", Some("{}")).await;
    assert_eq!(resp.status(), 204);
    assert_eq!(
        live("grants").await,
        json!({"live": 0, "by_user": {"alice": 0, "bob": 0}})
    );
    // Control calls stay out of the journal.
    assert!(mock
        .journal()
        .iter()
        .all(|e| !e.path.starts_with("/__handshake/")));
}

#[tokio::test]
async fn control_bad_input_is_400_json_never_5xx() {
    let mock = mock("capsule").await;
    let cases: [(&str, &str, Option<&str>, &str); 13] = [
        (
            "GET",
            "records?user=mallory",
            None,
            "unknown user \"mallory\"",
        ),
        ("GET", "records?user=alice&user=bob", None, "user"),
        ("GET", "records?page=2", None, "unknown parameter \"page\""),
        ("GET", "records?user=%FF", None, "query string"),
        ("GET", "grants?user=mallory", None, "unknown user"),
        ("GET", "grants?x=1", None, "unknown parameter"),
        ("GET", "grants?user=", None, "unknown user \"\""),
        (
            "POST",
            "revoke",
            Some(r#"{"user":"mallory"}"#),
            "unknown user",
        ),
        (
            "POST",
            "revoke",
            Some(r#"{"usr":"bob"}"#),
            "expected no body",
        ),
        ("POST", "revoke", Some("not json"), "expected no body"),
        ("POST", "revoke", Some(r#"{"user":7}"#), "expected no body"),
        (
            "POST",
            "relax",
            Some(r#"{"requirement":"everything"}"#),
            "\"pkce\" | \"body_encoding\"",
        ),
        ("POST", "relax", None, "expected {\"requirement\""),
    ];
    for (method, path, body, says) in cases {
        let resp = control(&mock, method, path, body).await;
        assert_eq!(resp.status(), 400, "{method} {path} {body:?}");
        let v: Value = resp.json().await.unwrap();
        assert_eq!(v["error"], "invalid_request", "{path}");
        let d = v["error_description"].as_str().unwrap();
        assert!(d.contains(says), "{method} {path}: {d}");
    }
    assert!(mock.relaxed().is_empty());
}

#[tokio::test]
async fn the_journal_over_http_deserializes_back() {
    let mock = mock("connectwise").await;
    tokens_as(&mock, Some("bob")).await;
    // A few refusals, so the new fields are filled in.
    let mut q = auth_params(mock.profile());
    set(&mut q, "code_challenge", None);
    set(&mut q, "code_challenge_method", None);
    get_authorize(&mock, &q).await;
    refresh(&mock, "not-a-token").await;
    api(&mock, Some("nope")).await;
    let text = control(&mock, "GET", "journal", None)
        .await
        .text()
        .await
        .unwrap();
    let entries: Vec<JournalEntry> = serde_json::from_str(&text).unwrap();
    assert_eq!(entries, mock.journal());
    assert!(entries.iter().any(|e| e.requirement.is_some()));
    assert!(entries.iter().any(|e| e.user.as_deref() == Some("bob")));
    assert!(entries
        .iter()
        .any(|e| e.error.as_deref() == Some("invalid_token")));
    assert!(!text.contains("handshake-secret"));
}

#[tokio::test]
async fn metadata_names_the_client_and_users_never_the_secret() {
    let mock = MockProvider::builder(Profile::builtin("insightly").unwrap())
        .client_id("my-app")
        .client_secret("very-secret-value")
        .redirect_uri("http://localhost:8080/cb")
        .redirect_uri("http://127.0.0.1:8080/cb")
        .start()
        .await
        .unwrap();
    let v: Value = control(&mock, "GET", "metadata", None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        v["client"],
        json!({"client_id": "my-app", "redirect_uris": ["http://localhost:8080/cb", "http://127.0.0.1:8080/cb"]})
    );
    assert_eq!(v["users"], json!(["alice", "bob"]));
    assert!(!v.to_string().contains("very-secret-value"));
}
