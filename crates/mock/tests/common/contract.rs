//! The control API's contract, `crates/mock/openapi.json` (OpenAPI 3.1, JSON Schema
//! 2020-12), checked against the answers tests see: status code, documented headers, media
//! type and body, for `/__handshake/*` paths. A path the document does not list must answer
//! 404 and a method it does not list for a path 405 with an `Allow` that names exactly the
//! documented methods, so the router and the document cannot drift apart unseen.
//!
//! Used by the mock's tests (`#[path = "common/contract.rs"] mod contract;`) and by
//! handshake-conformance's (`RemoteMock`'s kept answers).
#![allow(dead_code, unreachable_pub)]

use std::collections::{BTreeSet, HashMap};
use std::sync::{LazyLock, Mutex};

use jsonschema::{Draft, Registry, Validator};
use reqwest::header::HeaderMap;
use serde_json::{json, Value};

/// Where the document is registered for `$ref` resolution (never fetched).
pub const BASE: &str = "http://handshake.invalid/__handshake/openapi.json";

/// The operations an OpenAPI 3.1 Path Item may hold.
pub const METHODS: [&str; 8] = [
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

/// One documented answer a check matched: (path, method, status key), e.g.
/// `("/__handshake/faults", "post", "201")`.
pub type Seen = (String, String, String);

/// The parsed document, its registry, and the validators compiled so far.
pub struct Contract {
    doc: Value,
    registry: Registry<'static>,
    validators: Mutex<HashMap<String, Validator>>,
}

static CONTRACT: LazyLock<Contract> = LazyLock::new(|| {
    Contract::new(handshake_mock::OPENAPI_JSON).unwrap_or_else(|e| panic!("openapi.json: {e}"))
});

/// The document the mock embeds and serves (`handshake_mock::OPENAPI_JSON`).
pub fn contract() -> &'static Contract {
    &CONTRACT
}

/// `s` as one JSON Pointer token (RFC 6901).
pub fn escape(s: &str) -> String {
    s.replace('~', "~0").replace('/', "~1")
}

/// The media type of a `Content-Type` value, without parameters, in lower case.
pub fn media_type(headers: &HeaderMap) -> Option<String> {
    let v = headers.get(reqwest::header::CONTENT_TYPE)?.to_str().ok()?;
    Some(
        v.split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase(),
    )
}

fn excerpt(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let cut: String = text.chars().take(600).collect();
    if cut.len() < text.len() {
        format!("{cut}…")
    } else {
        cut
    }
}

impl Contract {
    /// Parses a document and registers it for `$ref` resolution.
    pub fn new(text: &str) -> Result<Contract, String> {
        let doc: Value = serde_json::from_str(text).map_err(|e| format!("not JSON: {e}"))?;
        let registry = Registry::new()
            .draft(Draft::Draft202012)
            .add(BASE, doc.clone())
            .and_then(|b| b.prepare())
            .map_err(|e| format!("cannot register the document: {e}"))?;
        Ok(Contract {
            doc,
            registry,
            validators: Mutex::default(),
        })
    }

    /// The document.
    pub fn doc(&self) -> &Value {
        &self.doc
    }

    /// A local reference (`#/components/...`) as a JSON Pointer into the document.
    pub fn resolve_ref<'a>(&'a self, reference: &str) -> Result<(&'a Value, String), String> {
        let ptr = reference
            .strip_prefix('#')
            .ok_or_else(|| format!("$ref {reference:?} is not local to the document"))?;
        self.doc
            .pointer(ptr)
            .map(|v| (v, ptr.to_owned()))
            .ok_or_else(|| format!("$ref {reference:?} resolves to nothing"))
    }

    /// The object at `ptr`, following a Reference Object there (OpenAPI's `$ref` outside
    /// schemas) to what it names; with the pointer of the object returned.
    fn object_at(&self, ptr: &str) -> Result<(&Value, String), String> {
        let v = self
            .doc
            .pointer(ptr)
            .ok_or_else(|| format!("{ptr} is not in the document"))?;
        match v.get("$ref").and_then(Value::as_str) {
            Some(r) => self.resolve_ref(r),
            None => Ok((v, ptr.to_owned())),
        }
    }

    /// Validates `instance` against the schema at `ptr` (a JSON Pointer into the document).
    pub fn validate(&self, ptr: &str, instance: &Value) -> Result<(), String> {
        let validator = {
            let mut cache = self.validators.lock().unwrap_or_else(|e| e.into_inner());
            match cache.get(ptr) {
                Some(v) => v.clone(),
                None => {
                    let fragment = ptr.replace('{', "%7B").replace('}', "%7D");
                    let schema = json!({ "$ref": format!("{BASE}#{fragment}") });
                    let v = jsonschema::options()
                        .with_draft(Draft::Draft202012)
                        .with_registry(&self.registry)
                        .offline()
                        .build(&schema)
                        .map_err(|e| format!("the schema at {ptr} does not compile: {e}"))?;
                    cache.insert(ptr.to_owned(), v.clone());
                    v
                }
            }
        };
        let errors: Vec<String> = validator
            .iter_errors(instance)
            .take(5)
            .map(|e| format!("at {:?}: {e}", e.instance_path().to_string()))
            .collect();
        if errors.is_empty() {
            Ok(())
        } else {
            Err(format!("violates {ptr}: {}", errors.join("; ")))
        }
    }

    /// The methods the document lists for `path`, in upper case.
    pub fn methods_of(&self, path: &str) -> Option<BTreeSet<String>> {
        let item = self.doc["paths"].get(path)?;
        Some(
            METHODS
                .iter()
                .filter(|m| item.get(**m).is_some())
                .map(|m| m.to_ascii_uppercase())
                .collect(),
        )
    }

    /// Checks one answer to `method path` (no query) against the document: `body` is `None`
    /// for a stream whose body was not read (Server-Sent Events). `Ok` names the documented
    /// answer it matched.
    pub fn check(
        &self,
        method: &str,
        path: &str,
        status: u16,
        headers: &HeaderMap,
        body: Option<&[u8]>,
    ) -> Result<Seen, String> {
        let what = format!("{method} {path} answered {status}");
        let fail = |why: String| {
            let body = body.map(excerpt).unwrap_or_else(|| "(not read)".into());
            format!("{what}, which openapi.json does not allow: {why}\nbody: {body}")
        };
        let m = method.to_ascii_lowercase();
        let path_ptr = format!("/paths/{}", escape(path));
        let (key, resp_ptr) = match self.methods_of(path) {
            None if status == 503 => ("503".to_owned(), "/components/responses/Busy".to_owned()),
            None => {
                if status != 404 {
                    return Err(fail(format!(
                        "{path} is not documented, so it must be 404 (document it, or remove the route)"
                    )));
                }
                (
                    "404".to_owned(),
                    "/components/responses/NotFound".to_owned(),
                )
            }
            Some(documented) => {
                // HEAD is answered as GET, without a body.
                let m = if m == "head" && !documented.contains("HEAD") {
                    "get".to_owned()
                } else {
                    m.clone()
                };
                if documented.contains(&m.to_ascii_uppercase()) {
                    let op_ptr = format!("{path_ptr}/{m}");
                    let responses = &self.doc.pointer(&op_ptr).unwrap()["responses"];
                    let s = status.to_string();
                    let class = format!("{}XX", status / 100);
                    let key = [s.as_str(), class.as_str(), "default"]
                        .into_iter()
                        .find(|k| responses.get(*k).is_some())
                        .ok_or_else(|| {
                            fail(format!(
                                "status {status} is not documented for this operation"
                            ))
                        })?
                        .to_owned();
                    (key.clone(), format!("{op_ptr}/responses/{key}"))
                } else if status == 503 {
                    ("503".to_owned(), "/components/responses/Busy".to_owned())
                } else {
                    if status != 405 {
                        return Err(fail(format!(
                            "{method} is not documented for {path} (it lists {documented:?}), so it must be 405"
                        )));
                    }
                    let mut expected = documented.clone();
                    if expected.contains("GET") {
                        expected.insert("HEAD".to_owned());
                    }
                    let allow: BTreeSet<String> = headers
                        .get(reqwest::header::ALLOW)
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or("")
                        .split(',')
                        .map(|s| s.trim().to_ascii_uppercase())
                        .filter(|s| !s.is_empty())
                        .collect();
                    if allow != expected {
                        return Err(fail(format!(
                            "Allow is {allow:?} but the document lists {expected:?}"
                        )));
                    }
                    (
                        "405".to_owned(),
                        "/components/responses/MethodNotAllowed".to_owned(),
                    )
                }
            }
        };
        let (resp, resp_ptr) = self.object_at(&resp_ptr).map_err(fail)?;
        if let Some(documented) = resp.get("headers").and_then(Value::as_object) {
            for name in documented.keys() {
                let (h, h_ptr) = self
                    .object_at(&format!("{resp_ptr}/headers/{}", escape(name)))
                    .map_err(fail)?;
                match headers.get(name.to_ascii_lowercase()) {
                    None if h["required"] == true => {
                        return Err(fail(format!("header {name} is missing")))
                    }
                    None => {}
                    Some(v) if h.get("schema").is_some() => {
                        let v = v
                            .to_str()
                            .map_err(|_| fail(format!("header {name} is not text")))?;
                        self.validate(&format!("{h_ptr}/schema"), &Value::String(v.to_owned()))
                            .map_err(|e| fail(format!("header {name}: {e}")))?;
                    }
                    Some(_) => {}
                }
            }
        }
        let seen = (path.to_owned(), m.clone(), key);
        let content = resp.get("content").and_then(Value::as_object);
        let Some(content) = content.filter(|c| !c.is_empty()) else {
            if body.is_some_and(|b| !b.is_empty()) {
                return Err(fail("the document says no body".into()));
            }
            return Ok(seen);
        };
        if m == "head" {
            return Ok(seen);
        }
        let mt = media_type(headers).ok_or_else(|| fail("no Content-Type".into()))?;
        if !content.contains_key(&mt) {
            let listed: Vec<&String> = content.keys().collect();
            return Err(fail(format!("Content-Type {mt} is not one of {listed:?}")));
        }
        let Some(body) = body else {
            return Ok(seen);
        };
        let schema_ptr = format!("{resp_ptr}/content/{}/schema", escape(&mt));
        let instance = if mt == "application/json" || mt.ends_with("+json") {
            serde_json::from_slice(body).map_err(|e| fail(format!("the body is not JSON: {e}")))?
        } else {
            let text =
                std::str::from_utf8(body).map_err(|_| fail("the body is not UTF-8 text".into()))?;
            Value::String(text.to_owned())
        };
        self.validate(&schema_ptr, &instance).map_err(fail)?;
        Ok(seen)
    }
}

/// Checks a control answer a test received and hands it back, its body read and kept (the
/// `url()` of the answer handed back is reqwest's placeholder). Panics on a violation. A
/// Server-Sent Events stream is checked without reading its body; an answer from a path
/// outside `/__handshake` is handed back as it is.
pub async fn checked(method: &reqwest::Method, resp: reqwest::Response) -> reqwest::Response {
    let path = resp.url().path().to_owned();
    if !path.starts_with("/__handshake") {
        return resp;
    }
    let status = resp.status();
    if media_type(resp.headers()).as_deref() == Some("text/event-stream") {
        if let Err(e) = contract().check(
            method.as_str(),
            &path,
            status.as_u16(),
            resp.headers(),
            None,
        ) {
            panic!("{e}");
        }
        return resp;
    }
    let version = resp.version();
    let headers = resp.headers().clone();
    let body = resp.bytes().await.expect("the control answer's body");
    if let Err(e) = contract().check(
        method.as_str(),
        &path,
        status.as_u16(),
        &headers,
        Some(&body),
    ) {
        panic!("{e}");
    }
    let mut rebuilt = http::Response::builder().status(status).version(version);
    if let Some(h) = rebuilt.headers_mut() {
        *h = headers;
    }
    reqwest::Response::from(rebuilt.body(body).expect("a response from valid parts"))
}

/// Sends a request (a control call) and checks its answer ([`checked`]).
pub async fn send(req: reqwest::RequestBuilder) -> reqwest::Response {
    let (client, req) = req.build_split();
    let req = req.expect("a well-formed request");
    let method = req.method().clone();
    let resp = client.execute(req).await.expect("the mock answers");
    checked(&method, resp).await
}
