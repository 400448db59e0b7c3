//! Native schemes with every crate's TRACE logs captured: no credential, in any form,
//! reaches the logs, the errors or `Debug` output. Alone in its test binary so that no other
//! test's thread shares tracing's callsite cache.

mod common;

use std::collections::HashSet;
use std::io::Write;
use std::sync::{Arc, Mutex};

use common::*;
use handshake_client::*;
use handshake_profile::Profile;
use serde_json::json;
use wiremock::matchers::{method, path};
use wiremock::{Mock, ResponseTemplate};

#[derive(Clone, Default)]
struct Buffer(Arc<Mutex<Vec<u8>>>);

impl Write for Buffer {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Buffer {
    type Writer = Buffer;
    fn make_writer(&'a self) -> Buffer {
        self.clone()
    }
}

/// Every scheme, a walk, a renewal and an error, with TRACE logs of every crate captured:
/// no credential in any form reaches the logs or the errors.
#[tokio::test]
async fn no_native_credential_reaches_logs_or_errors() {
    let buffer = Buffer::default();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(buffer.clone())
        .with_ansi(false)
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);
    let mut errors = Vec::new();
    for profile in Profile::builtins() {
        if profile.native_auth.is_none() {
            // Zoho has no native scheme.
            continue;
        }
        let s = setup_with(&profile.id, ListOptions::default().page_size(2)).await;
        let body = list_body(&s.profile, &records(1));
        Mock::given(method("GET"))
            .and(path(s.profile.api.path.as_str()))
            .respond_with(ResponseTemplate::new(401).set_body_json(json!({"message": "expired"})))
            .up_to_n_times(1)
            .mount(&s.server)
            .await;
        Mock::given(method("GET"))
            .and(path(s.profile.api.path.as_str()))
            .respond_with(ResponseTemplate::new(200).set_body_json(body))
            .up_to_n_times(1)
            .mount(&s.server)
            .await;
        Mock::given(method("GET"))
            .respond_with(ResponseTemplate::new(403).set_body_json(json!({"message": "no"})))
            .mount(&s.server)
            .await;
        match s.client.list_all(&s.profile.api.path).await {
            Ok(all) => assert_eq!(profile.id, "redtail", "only Redtail renews: {all:?}"),
            Err(e) => errors.push(format!("{e} {e:?}")),
        }
        if let Err(e) = s.client.get(&s.profile.api.path).await {
            errors.push(format!("{e} {e:?}"));
        }
        errors.push(format!("{:?}", s.client));
    }
    let logs = String::from_utf8(buffer.0.lock().unwrap().clone()).unwrap();
    assert!(
        logs.contains("Redtail key exchange"),
        "tracing was captured"
    );
    let everything = format!("{logs}\n{}", errors.join("\n"));
    for secret in SECRETS {
        assert!(
            !everything.contains(secret),
            "secret {secret} leaked:\n{everything}"
        );
    }
    let unique: HashSet<&String> = errors.iter().collect();
    assert!(unique.len() > 5, "errors were produced: {errors:?}");
}
