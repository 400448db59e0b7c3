//! What a CRM said about an error: its code, message and sub-errors, read from the shapes
//! the five CRMs use. A leaf: [`ClientError`](crate::ClientError) carries it, the request
//! helper (`api.rs`) reads it.

use std::fmt;

use http::HeaderMap;
use serde_json::Value;

// Error messages are for people; a CRM that echoes a whole page back gets cut here.
const MAX_MESSAGE_CHARS: usize = 300;

/// What a CRM said about an error, read from the shapes the CRMs use:
/// ConnectWise `{"code", "message", "errors": [{"code", "message", "field"}]}`, Redtail
/// `{"message"}`, Capsule `{"error": "rate limit reached"}`, Salesforce `[{"message",
/// "errorCode"}]` (the first), OData (Dynamics) `{"error": {"code", "message"}}`, RFC 6750
/// `{"error", "error_description"}` or a `WWW-Authenticate` challenge.
///
/// Text that contains a credential the client sent is redacted before it gets here.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ApiErrorDetail {
    /// A machine-readable code (`Unauthorized`, `invalid_token`...).
    pub code: Option<String>,
    /// The human-readable message.
    pub message: Option<String>,
    /// Sub-errors (ConnectWise `errors[]`), each as `code: message (field)`.
    pub errors: Vec<String>,
}

impl ApiErrorDetail {
    pub(crate) fn parse(
        headers: &HeaderMap,
        body: &[u8],
        scrub: &dyn Fn(&str) -> String,
    ) -> ApiErrorDetail {
        let clean = |s: &str| truncate(&scrub(s.trim()));
        let mut detail = ApiErrorDetail::default();
        let parsed = match serde_json::from_slice::<Value>(body) {
            // Salesforce: `[{"message": "...", "errorCode": "INVALID_SESSION_ID"}]`.
            Ok(Value::Array(items)) if items.first().is_some_and(Value::is_object) => {
                let mut first = items.into_iter().next().unwrap_or_default();
                if let Some(obj) = first.as_object_mut() {
                    if let Some(code) = obj.remove("errorCode") {
                        obj.entry("code").or_insert(code);
                    }
                }
                Ok(first)
            }
            // OData (Dynamics): `{"error": {"code": "...", "message": "..."}}`.
            Ok(Value::Object(mut obj)) if obj.get("error").is_some_and(Value::is_object) => {
                Ok(obj.remove("error").unwrap_or_default())
            }
            other => other,
        };
        match parsed {
            Ok(Value::Object(obj)) => {
                let text = |k: &str| obj.get(k).and_then(Value::as_str).map(clean);
                let error = text("error");
                // `error` is a code in RFC 6749/6750 bodies but a sentence in Capsule's 429.
                let error_is_sentence = error.as_deref().is_some_and(|e| e.contains(' '));
                detail.code = text("code").or(if error_is_sentence {
                    None
                } else {
                    error.clone()
                });
                detail.message = text("message")
                    .or_else(|| text("Message"))
                    .or_else(|| text("error_description"))
                    .or(if error_is_sentence { error } else { None });
                if let Some(Value::Array(items)) = obj.get("errors") {
                    detail.errors = items.iter().filter_map(|i| error_item(i, &clean)).collect();
                }
            }
            _ => {
                let text = String::from_utf8_lossy(body);
                let text = text.trim();
                // Short plain-text bodies are messages; HTML/XML pages are not.
                if !text.is_empty() && !text.starts_with('<') {
                    detail.message = Some(clean(text));
                }
            }
        }
        if detail.code.is_none() && detail.message.is_none() {
            if let Some((code, message)) = headers
                .get(http::header::WWW_AUTHENTICATE)
                .and_then(|v| v.to_str().ok())
                .map(parse_challenge)
            {
                detail.code = code.as_deref().map(clean);
                detail.message = message.as_deref().map(clean);
            }
        }
        detail
    }

    fn is_empty(&self) -> bool {
        self.code.is_none() && self.message.is_none() && self.errors.is_empty()
    }
}

impl fmt::Display for ApiErrorDetail {
    /// `": code: message; sub-error; ..."`, or nothing when the CRM said nothing.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_empty() {
            return Ok(());
        }
        f.write_str(":")?;
        let parts: Vec<&str> = [self.code.as_deref(), self.message.as_deref()]
            .into_iter()
            .flatten()
            .collect();
        if !parts.is_empty() {
            write!(f, " {}", parts.join(": "))?;
        }
        for e in &self.errors {
            write!(f, "; {e}")?;
        }
        Ok(())
    }
}

fn error_item(item: &Value, clean: &dyn Fn(&str) -> String) -> Option<String> {
    let obj = item.as_object()?;
    let text = |k: &str| obj.get(k).and_then(Value::as_str).map(clean);
    let mut out = [text("code"), text("message")]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(": ");
    if let Some(field) = text("field") {
        out.push_str(&format!(" ({field})"));
    }
    (!out.is_empty()).then_some(out)
}

/// `Bearer error="invalid_token", error_description="expired"` → (code, description).
fn parse_challenge(value: &str) -> (Option<String>, Option<String>) {
    let param = |name: &str| {
        let start = value.find(&format!("{name}=\""))? + name.len() + 2;
        let end = value[start..].find('"')?;
        Some(value[start..start + end].to_owned())
    };
    (param("error"), param("error_description"))
}

fn truncate(s: &str) -> String {
    if s.chars().count() <= MAX_MESSAGE_CHARS {
        s.to_owned()
    } else {
        let cut: String = s.chars().take(MAX_MESSAGE_CHARS).collect();
        format!("{cut}…")
    }
}
