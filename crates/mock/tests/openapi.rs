//! The control API as a contract: `crates/mock/openapi.json` is a well-formed OpenAPI 3.1
//! document, lists exactly the routes the router serves under `/__handshake`, and every
//! documented answer (status, headers, media type, body) is one the mock really gives and
//! that conforms to it. The other control-API tests check their answers through the same
//! contract (`common/contract.rs`).

mod common;
#[path = "common/contract.rs"]
mod contract;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::Duration;

use common::*;
use contract::{contract, escape, Contract, Seen, METHODS};
use handshake_mock::{MockProvider, OPENAPI_JSON};
use handshake_profile::Profile;
use reqwest::Method;
use serde_json::{json, Value};

// ---------------------------------------------------------------- (a) the document itself

/// Every `$ref` string anywhere in `v`, with where it is.
fn refs(v: &Value, at: &str, out: &mut Vec<(String, String)>) {
    match v {
        Value::Object(m) => {
            for (k, v) in m {
                if k == "$ref" {
                    if let Value::String(r) = v {
                        out.push((at.to_owned(), r.clone()));
                    }
                } else {
                    refs(v, &format!("{at}/{}", escape(k)), out);
                }
            }
        }
        Value::Array(a) => {
            for (i, v) in a.iter().enumerate() {
                refs(v, &format!("{at}/{i}"), out);
            }
        }
        _ => {}
    }
}

#[test]
fn the_document_is_openapi_3_1_and_every_ref_resolves() {
    let c = contract();
    let doc = c.doc();
    let version = doc["openapi"].as_str().expect("openapi");
    assert!(version.starts_with("3.1."), "{version}");
    assert_eq!(
        doc["jsonSchemaDialect"],
        "https://json-schema.org/draft/2020-12/schema"
    );
    assert!(doc["info"]["title"].is_string() && doc["info"]["version"].is_string());

    let mut ids = BTreeSet::new();
    let paths = doc["paths"].as_object().expect("paths");
    assert!(!paths.is_empty());
    for (path, item) in paths {
        assert!(path.starts_with("/__handshake"), "{path}");
        let item = item.as_object().expect("a Path Item object");
        let ops: Vec<&str> = METHODS
            .into_iter()
            .filter(|m| item.contains_key(*m))
            .collect();
        assert!(!ops.is_empty(), "{path} has no operation");
        for key in item.keys() {
            assert!(
                METHODS.contains(&key.as_str())
                    || ["summary", "description", "parameters"].contains(&key.as_str()),
                "{path}: unexpected member {key}"
            );
        }
        for m in ops {
            let op = &item[m];
            let id = op["operationId"].as_str().expect("operationId");
            assert!(ids.insert(id.to_owned()), "operationId {id} twice");
            let responses = op["responses"].as_object().expect("responses");
            assert!(!responses.is_empty(), "{m} {path}: no responses");
            for (status, r) in responses {
                assert!(
                    status == "default"
                        || (status.len() == 3
                            && (status.parse::<u16>().is_ok_and(|s| (100..600).contains(&s))
                                || status.ends_with("XX"))),
                    "{m} {path}: {status} is not a status"
                );
                let r = match r.get("$ref").and_then(Value::as_str) {
                    Some(reference) => c.resolve_ref(reference).unwrap().0,
                    None => r,
                };
                assert!(
                    r["description"].is_string(),
                    "{m} {path} {status}: no description"
                );
            }
            if let Some(body) = op.get("requestBody") {
                assert!(body["content"]["application/json"]["schema"].is_object());
            }
            for p in op["parameters"].as_array().into_iter().flatten() {
                assert!(
                    p["name"].is_string() && p["in"] == "query",
                    "{m} {path}: {p}"
                );
            }
        }
    }

    let mut all = Vec::new();
    refs(doc, "", &mut all);
    assert!(all.len() > 50, "{} refs", all.len());
    for (at, r) in &all {
        c.resolve_ref(r).unwrap_or_else(|e| panic!("{at}: {e}"));
    }
    for (name, schema) in doc["components"]["schemas"].as_object().unwrap() {
        // Compiles (so it is valid JSON Schema 2020-12), and names nothing in vain.
        let ptr = format!("/components/schemas/{name}");
        if let Err(e) = c.validate(&ptr, &Value::Null) {
            assert!(!e.contains("does not compile"), "{e}");
        }
        jsonschema::draft202012::meta::validate(schema)
            .unwrap_or_else(|e| panic!("{ptr} is not JSON Schema 2020-12: {e}"));
        assert!(
            all.iter().any(|(_, r)| r == &format!("#{ptr}")),
            "{ptr} is never used"
        );
    }
    for example in doc["components"]["schemas"]["FaultRequest"]["examples"]
        .as_array()
        .unwrap()
    {
        let f: handshake_mock::Fault = serde_json::from_value(example.clone()).unwrap();
        c.validate("/components/schemas/FaultRequest", example)
            .unwrap();
        c.validate(
            "/components/schemas/Fault",
            &serde_json::to_value(f).unwrap(),
        )
        .unwrap();
    }
}

/// The `.rs` files under `dir`.
fn rs_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            rs_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// The router's `/__handshake` routes as the source declares them: `.route("/__handshake/…",
/// get(…).post(…))` → path → methods (upper case).
fn routes_in_source() -> BTreeMap<String, BTreeSet<String>> {
    let mut files = Vec::new();
    rs_files(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("src"),
        &mut files,
    );
    let mut routes: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        let mut rest = text.as_str();
        while let Some(at) = rest.find(".route(") {
            rest = &rest[at + ".route(".len()..];
            let args = rest.trim_start();
            let Some(lit) = args.strip_prefix('"') else {
                continue; // a path from the profile
            };
            let path = &lit[..lit.find('"').unwrap()];
            if !path.starts_with("/__handshake") {
                continue;
            }
            // The arguments, up to the parenthesis that closes `.route(`.
            let mut depth = 1;
            let end = args
                .char_indices()
                .find(|&(_, ch)| {
                    match ch {
                        '(' => depth += 1,
                        ')' => depth -= 1,
                        _ => {}
                    }
                    depth == 0
                })
                .map(|(i, _)| i)
                .unwrap();
            let args = &args[..end];
            assert!(
                !["any(", "on(", "MethodFilter", "route_service("]
                    .iter()
                    .any(|t| args.contains(t)),
                "{}: cannot read the methods of {path}: {args}",
                file.display()
            );
            let methods: BTreeSet<String> = METHODS
                .iter()
                .filter(|m| {
                    args.match_indices(&format!("{m}(")).any(|(i, _)| {
                        i == 0
                            || !args[..i]
                                .chars()
                                .next_back()
                                .is_some_and(|c| c.is_alphanumeric() || c == '_' || c == ':')
                    })
                })
                .map(|m| m.to_ascii_uppercase())
                .collect();
            assert!(!methods.is_empty(), "{path}: no method in {args}");
            assert!(
                routes.insert(path.to_owned(), methods).is_none(),
                "{path} routed twice"
            );
        }
    }
    routes
}

#[test]
fn the_router_and_the_document_list_the_same_routes() {
    let routed = routes_in_source();
    assert!(
        routed.len() >= 15,
        "found only {routed:?}: has the route table moved out of `.route(\"/__handshake…\", …)`? Update routes_in_source"
    );
    let documented: BTreeMap<String, BTreeSet<String>> = contract().doc()["paths"]
        .as_object()
        .unwrap()
        .keys()
        .map(|p| (p.clone(), contract().methods_of(p).unwrap()))
        .collect();
    for (path, methods) in &routed {
        assert_eq!(
            documented.get(path),
            Some(methods),
            "{path}: routed for {methods:?}; openapi.json must document exactly these"
        );
    }
    for path in documented.keys() {
        assert!(
            routed.contains_key(path),
            "{path} is documented but not routed"
        );
    }
}

// ---------------------------------------------------------------- (b) every answer, served

/// Calls the control API, checks the answer against the contract and the expected status,
/// and keeps which documented answer it was. A JSON `body` is also checked against the
/// operation's request schema: `request_ok` says whether it should conform.
struct Caller {
    base: String,
    seen: BTreeSet<Seen>,
}

enum Body {
    None,
    Json(Value, bool),
    Raw(String),
}

impl Caller {
    fn new(mock: &MockProvider) -> Caller {
        Caller {
            base: mock.uri(),
            seen: BTreeSet::new(),
        }
    }

    async fn call(&mut self, method: Method, target: &str, body: Body, expect: u16) -> Value {
        let path = target.split('?').next().unwrap();
        let mut req = http().request(method.clone(), format!("{}{target}", self.base));
        match &body {
            Body::None => {}
            Body::Json(v, request_ok) => {
                let ptr = format!(
                    "/paths/{}/{}/requestBody/content/application~1json/schema",
                    escape(path),
                    method.as_str().to_ascii_lowercase()
                );
                let valid = contract().validate(&ptr, v);
                assert_eq!(
                    valid.is_ok(),
                    *request_ok,
                    "{method} {target} {v}: the request schema says {valid:?}"
                );
                req = req.json(v);
            }
            Body::Raw(s) => {
                req = req
                    .header("content-type", "application/json")
                    .body(s.clone());
            }
        }
        let resp = req.send().await.unwrap();
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let bytes = resp.bytes().await.unwrap();
        let seen = contract()
            .check(method.as_str(), path, status, &headers, Some(&bytes))
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            status,
            expect,
            "{method} {target}: {}",
            String::from_utf8_lossy(&bytes)
        );
        self.seen.insert(seen);
        serde_json::from_slice(&bytes).unwrap_or(Value::Null)
    }
}

/// Every (path, method, status) the document lists.
fn documented_answers(c: &Contract) -> BTreeSet<Seen> {
    let mut all = BTreeSet::new();
    for (path, item) in c.doc()["paths"].as_object().unwrap() {
        for m in METHODS {
            if let Some(op) = item.get(m) {
                for status in op["responses"].as_object().unwrap().keys() {
                    all.insert((path.clone(), m.to_owned(), status.clone()));
                }
            }
        }
    }
    all
}

#[tokio::test]
async fn every_documented_answer_is_served_and_conforms() {
    use Body::{Json, Raw};
    let (get, post, delete) = (Method::GET, Method::POST, Method::DELETE);
    // The consent page on: `tokens` logs alice in through it.
    let mock = MockProvider::start(Profile::builtin("capsule").unwrap()).await;
    let mut c = Caller::new(&mock);

    // The page, its redirect, its feed (an entry on it conforms too).
    c.call(get.clone(), "/__handshake", Body::None, 308).await;
    c.call(get.clone(), "/__handshake/", Body::None, 200).await;
    let mut feed = contract::send(http().get(format!("{}/__handshake/events", mock.uri()))).await;
    assert_eq!(feed.status(), 200);
    c.seen
        .insert(("/__handshake/events".into(), "get".into(), "200".into()));
    assert_eq!(api(&mock, None).await.status(), 401);
    let entry = tokio::time::timeout(Duration::from_secs(10), async {
        let mut text = String::new();
        loop {
            let chunk = feed.chunk().await.unwrap().expect("the feed stays open");
            text.push_str(std::str::from_utf8(&chunk).unwrap());
            if let Some(at) = text.find("event: entry\ndata: ") {
                let data = &text[at + "event: entry\ndata: ".len()..];
                if let Some(end) = data.find('\n') {
                    return serde_json::from_str::<Value>(&data[..end]).unwrap();
                }
            }
        }
    })
    .await
    .expect("an entry on the feed");
    contract()
        .validate(
            "/paths/~1__handshake~1events/get/responses/200/x-handshake-events/entry",
            &entry,
        )
        .unwrap();
    drop(feed);

    // Reads.
    c.call(get.clone(), "/__handshake/healthz", Body::None, 200)
        .await;
    c.call(get.clone(), "/__handshake/users", Body::None, 200)
        .await;
    c.call(get.clone(), "/__handshake/native", Body::None, 200)
        .await;
    c.call(get.clone(), "/__handshake/metadata", Body::None, 200)
        .await;

    // Journal.
    let journal = c
        .call(get.clone(), "/__handshake/journal", Body::None, 200)
        .await;
    assert!(!journal.as_array().unwrap().is_empty());
    c.call(get.clone(), "/__handshake/journal?since=1", Body::None, 200)
        .await;
    for bad in ["since=x", "since=-1", "since=1&since=2", "after=1"] {
        c.call(
            get.clone(),
            &format!("/__handshake/journal?{bad}"),
            Body::None,
            400,
        )
        .await;
    }

    // Users' data and grants, with a live grant for alice.
    tokens(&mock).await;
    let grants = c
        .call(get.clone(), "/__handshake/grants", Body::None, 200)
        .await;
    assert_eq!(
        grants,
        json!({"live": 1, "by_user": {"alice": 1, "bob": 0}})
    );
    c.call(get.clone(), "/__handshake/grants?user=bob", Body::None, 200)
        .await;
    c.call(get.clone(), "/__handshake/records", Body::None, 200)
        .await;
    c.call(
        get.clone(),
        "/__handshake/records?user=bob",
        Body::None,
        200,
    )
    .await;
    for target in [
        "/__handshake/grants?user=nobody",
        "/__handshake/grants?who=bob",
        "/__handshake/records?user=",
        "/__handshake/records?user=bob&user=alice",
    ] {
        c.call(get.clone(), target, Body::None, 400).await;
    }

    // Faults: every kind, the refusals, the list with a tripped rate limit, disarming.
    let faults = "/__handshake/faults";
    c.call(get.clone(), faults, Body::None, 200).await;
    for fault in [
        json!({"endpoint": "token", "kind": "oauth_error", "error": "invalid_grant", "times": 2}),
        json!({"endpoint": "api", "kind": "status", "status": 503}),
        json!({"endpoint": "token", "kind": "delay", "delay_ms": 1}),
        json!({"endpoint": "revoke", "kind": "drop", "note": "other fields are ignored"}),
        json!({"endpoint": "authorize", "kind": "oauth_error", "error": "access_denied"}),
    ] {
        let armed = c
            .call(post.clone(), faults, Json(fault.clone(), true), 201)
            .await;
        assert_eq!(armed["kind"], fault["kind"]);
    }
    for fault in [
        json!({"endpoint": "api", "kind": "status", "status": 700}),
        json!({"endpoint": "token", "kind": "rate_limited", "retry_after_secs": 1}),
        json!({"endpoint": "api", "kind": "rate_limited", "retry_after_secs": 0}),
        json!({"endpoint": "nowhere", "kind": "drop"}),
        json!({"endpoint": "token", "kind": "explode"}),
        json!({"endpoint": "token", "kind": "oauth_error"}),
    ] {
        c.call(post.clone(), faults, Json(fault, false), 400).await;
    }
    c.call(post.clone(), faults, Raw("{not json".into()), 400)
        .await;
    let listed = c.call(get.clone(), faults, Body::None, 200).await;
    assert_eq!(listed["faults"].as_array().unwrap().len(), 5);
    c.call(delete.clone(), faults, Body::None, 204).await;
    let limited =
        json!({"endpoint": "api", "kind": "rate_limited", "retry_after_secs": 60, "times": 3});
    c.call(post.clone(), faults, Json(limited, true), 201).await;
    let t = tokens(&mock).await;
    let access = t["access_token"].as_str().unwrap();
    assert_eq!(api(&mock, Some(access)).await.status(), 429);
    let listed = c.call(get.clone(), faults, Body::None, 200).await;
    assert_eq!(listed["rate_limited"]["refusals_left"], 2, "{listed}");
    c.call(delete.clone(), faults, Body::None, 204).await;

    // Relaxations, the clock, expiry, revocation, reset.
    c.call(get.clone(), "/__handshake/relax", Body::None, 200)
        .await;
    let relaxed = c
        .call(
            post.clone(),
            "/__handshake/relax",
            Json(json!({"requirement": "scope"}), true),
            200,
        )
        .await;
    assert_eq!(relaxed, json!({"relaxed": ["scope"]}));
    for bad in [
        json!({"requirement": "tls"}),
        json!({}),
        json!({"requirement": "pkce", "x": 1}),
    ] {
        c.call(post.clone(), "/__handshake/relax", Json(bad, false), 400)
            .await;
    }
    let clock = "/__handshake/clock";
    let moved = c
        .call(
            post.clone(),
            clock,
            Json(json!({"advance_secs": 120}), true),
            200,
        )
        .await;
    assert_eq!(moved, json!({"offset_secs": 120}));
    for bad in [
        json!({"advance_secs": -1}),
        json!({"advance": 1}),
        json!([]),
    ] {
        c.call(post.clone(), clock, Json(bad, false), 400).await;
    }
    c.call(post.clone(), "/__handshake/expire", Body::None, 204)
        .await;
    let revoke = "/__handshake/revoke";
    c.call(
        post.clone(),
        revoke,
        Json(json!({"user": "bob"}), true),
        204,
    )
    .await;
    c.call(post.clone(), revoke, Json(json!({"user": null}), true), 204)
        .await;
    c.call(post.clone(), revoke, Body::None, 204).await;
    // Well-formed, but nobody: the schema cannot know the users.
    c.call(
        post.clone(),
        revoke,
        Json(json!({"user": "nobody"}), true),
        400,
    )
    .await;
    c.call(
        post.clone(),
        revoke,
        Json(json!({"users": ["bob"]}), false),
        400,
    )
    .await;
    c.call(post.clone(), "/__handshake/reset", Body::None, 204)
        .await;

    // Bodies over the control API's limit, on every operation that reads one.
    let huge = format!("{{\"pad\":\"{}\"}}", "x".repeat(2 * 1024 * 1024));
    for path in [faults, revoke, "/__handshake/relax", clock] {
        c.call(post.clone(), path, Raw(huge.clone()), 413).await;
    }

    // Methods a path does not take, paths that are not there: the contract's fallbacks.
    for (method, path) in [
        (get.clone(), "/__handshake/expire"),
        (delete.clone(), "/__handshake/users"),
        (Method::PUT, faults),
        (post.clone(), "/__handshake"),
    ] {
        c.call(method, path, Body::None, 405).await;
    }
    c.call(get.clone(), "/__handshake/nothing", Body::None, 404)
        .await;
    c.call(post.clone(), "/__handshake/faults/1", Body::None, 404)
        .await;

    // The connection cap's 503, as any operation may answer it.
    let capped = MockProvider::builder(Profile::builtin("capsule").unwrap())
        .max_connections(1)
        .start()
        .await
        .unwrap();
    let held = tokio::net::TcpStream::connect(capped.addr()).await.unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    let mut busy = Caller::new(&capped);
    busy.call(get.clone(), "/__handshake/healthz", Body::None, 503)
        .await;
    drop(held);
    c.seen.extend(busy.seen);

    // This document, as served.
    let served = c
        .call(get.clone(), "/__handshake/openapi.json", Body::None, 200)
        .await;
    assert_eq!(served, serde_json::from_str::<Value>(OPENAPI_JSON).unwrap());

    // Every documented answer was seen; the 503 of one operation stands for all.
    let missing: Vec<Seen> = documented_answers(contract())
        .into_iter()
        .filter(|s| !c.seen.contains(s))
        .filter(|(p, m, s)| {
            s != "503" || (p, m.as_str()) == (&"/__handshake/healthz".to_owned(), "get")
        })
        .collect();
    assert!(missing.is_empty(), "never exercised: {missing:?}");
}

/// Metadata and native of every built-in, and of a profile with the members a built-in does
/// not have (RFC 9207 `iss`, no native scheme, no paging, no revocation).
#[tokio::test]
async fn metadata_native_and_records_of_every_profile_conform() {
    let mut profiles = Profile::builtins();
    let mut bare = Profile::builtin("insightly").unwrap();
    bare.id = "bare".into();
    bare.oauth.iss_parameter = true;
    bare.oauth.revoke_paths.clear();
    bare.native_auth = None;
    bare.api.paging = None;
    bare.rate_limit.limit = None;
    profiles.push(bare);
    for profile in profiles {
        let id = profile.id.clone();
        let mock = MockProvider::start(profile).await;
        let mut c = Caller::new(&mock);
        let meta = c
            .call(Method::GET, "/__handshake/metadata", Body::None, 200)
            .await;
        assert_eq!(meta, mock.metadata(), "{id}");
        let native = c
            .call(Method::GET, "/__handshake/native", Body::None, 200)
            .await;
        assert_eq!(
            native.is_null(),
            mock.profile().native_auth.is_none(),
            "{id}: {native}"
        );
        if id == "bare" {
            assert_eq!(meta["authorization_response_iss_parameter_supported"], true);
            assert!(meta.get("revocation_endpoint").is_none());
        }
        c.call(
            Method::GET,
            "/__handshake/records?user=bob",
            Body::None,
            200,
        )
        .await;
    }
}

// ---------------------------------------------------------------- the check can fail

/// A document that says otherwise than the mock fails the check: a wrong schema, a status
/// or header the mock does not send, a body where there is none.
#[tokio::test]
async fn a_document_that_disagrees_with_the_mock_fails_the_check() {
    let mock = MockProvider::start(Profile::builtin("capsule").unwrap()).await;
    let answer = |path: &'static str, method: Method| {
        let url = format!("{}{path}", mock.uri());
        async move {
            let resp = http().request(method, url).send().await.unwrap();
            let status = resp.status().as_u16();
            let headers = resp.headers().clone();
            (status, headers, resp.bytes().await.unwrap())
        }
    };
    let tampered = |edit: &dyn Fn(&mut Value)| {
        let mut doc: Value = serde_json::from_str(OPENAPI_JSON).unwrap();
        edit(&mut doc);
        Contract::new(&doc.to_string()).unwrap()
    };

    let (status, headers, body) = answer("/__handshake/healthz", Method::GET).await;
    contract()
        .check("GET", "/__handshake/healthz", status, &headers, Some(&body))
        .unwrap();
    let wrong = tampered(&|d| {
        d["components"]["schemas"]["Health"]["properties"]["status"] = json!({"const": "up"})
    });
    let e = wrong
        .check("GET", "/__handshake/healthz", status, &headers, Some(&body))
        .unwrap_err();
    assert!(e.contains(r#""up" was expected"#), "{e}");

    let (status, headers, body) = answer("/__handshake/grants", Method::GET).await;
    let wrong = tampered(&|d| {
        d["components"]["schemas"]["Grants"]["properties"]
            .as_object_mut()
            .unwrap()
            .remove("by_user");
    });
    assert!(wrong
        .check("GET", "/__handshake/grants", status, &headers, Some(&body))
        .unwrap_err()
        .contains("by_user"));

    let (status, headers, body) = answer("/__handshake/faults", Method::DELETE).await;
    assert_eq!(status, 204);
    let wrong = tampered(&|d| {
        let ops = &mut d["paths"]["/__handshake/faults"]["delete"]["responses"];
        ops["200"] = ops["204"].take();
        ops.as_object_mut().unwrap().remove("204");
    });
    assert!(wrong
        .check(
            "DELETE",
            "/__handshake/faults",
            status,
            &headers,
            Some(&body)
        )
        .unwrap_err()
        .contains("status 204 is not documented"));

    let (status, headers, body) = answer("/__handshake/reset", Method::GET).await;
    assert_eq!(status, 405);
    contract()
        .check("GET", "/__handshake/reset", status, &headers, Some(&body))
        .unwrap();
    let wrong = tampered(&|d| {
        d["paths"]["/__handshake/reset"]["get"] = d["paths"]["/__handshake/healthz"]["get"].clone();
    });
    assert!(wrong
        .check("GET", "/__handshake/reset", status, &headers, Some(&body))
        .unwrap_err()
        .contains("status 405 is not documented"));
    let wrong = tampered(&|d| {
        d["paths"]["/__handshake/reset"]["delete"] =
            d["paths"]["/__handshake/reset"]["post"].clone();
    });
    assert!(wrong
        .check("GET", "/__handshake/reset", status, &headers, Some(&body))
        .unwrap_err()
        .contains("Allow is"));

    let (status, headers, body) = answer("/__handshake/users", Method::GET).await;
    let wrong = tampered(&|d| {
        d["paths"]
            .as_object_mut()
            .unwrap()
            .remove("/__handshake/users");
    });
    assert!(wrong
        .check("GET", "/__handshake/users", status, &headers, Some(&body))
        .unwrap_err()
        .contains("is not documented, so it must be 404"));
}
