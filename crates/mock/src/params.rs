//! Strict decoding of query strings, form and JSON bodies and Basic credentials, and the
//! constant-time comparison and journal tags of secret values.

use std::fmt;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde::de::{Deserializer, MapAccess, Visitor};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// Why parameters could not be decoded; the message is safe to show (it never echoes values).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ParamError {
    InvalidUtf8,
    BadEscape,
    Duplicate(String),
    NotAnObject,
    NotAString(String),
    BadJson,
}

impl fmt::Display for ParamError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ParamError::InvalidUtf8 => f.write_str("parameters are not valid UTF-8"),
            ParamError::BadEscape => f.write_str("malformed percent-encoding"),
            ParamError::Duplicate(k) => write!(
                f,
                "parameter {:?} is included more than once (RFC 6749 §3.1)",
                truncate(k)
            ),
            ParamError::NotAnObject => f.write_str("JSON body must be an object"),
            ParamError::NotAString(k) => {
                write!(f, "JSON field {:?} must be a string", truncate(k))
            }
            ParamError::BadJson => f.write_str("body is not valid JSON"),
        }
    }
}

fn truncate(s: &str) -> String {
    s.chars().take(40).collect()
}

/// Decoded parameters in arrival order.
#[derive(Debug, Clone, Default)]
pub(crate) struct Params(pub(crate) Vec<(String, String)>);

impl Params {
    /// A parameter's value; empty values count as omitted (RFC 6749 §3.1).
    pub(crate) fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, v)| k == name && !v.is_empty())
            .map(|(_, v)| v.as_str())
    }

    /// Fails on the first parameter present twice (RFC 6749 §3.1).
    pub(crate) fn reject_duplicates(&self) -> Result<(), ParamError> {
        for (i, (k, _)) in self.0.iter().enumerate() {
            if self.0[..i].iter().any(|(k2, _)| k2 == k) {
                return Err(ParamError::Duplicate(k.clone()));
            }
        }
        Ok(())
    }
}

/// Decodes `application/x-www-form-urlencoded` (also query strings), rejecting invalid UTF-8
/// and broken escapes instead of replacing them as lenient decoders do.
pub(crate) fn parse_urlencoded(input: &[u8]) -> Result<Params, ParamError> {
    let mut out = Vec::new();
    for (k, v) in encoded_pairs(input) {
        out.push((form_decode(k)?, form_decode(v)?));
    }
    Ok(Params(out))
}

/// The `key=value` pairs of a form or query string, still encoded; empty pairs are skipped
/// and a pair without `=` has an empty value.
pub(crate) fn encoded_pairs(input: &[u8]) -> impl Iterator<Item = (&[u8], &[u8])> {
    input
        .split(|&b| b == b'&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| match pair.iter().position(|&b| b == b'=') {
            Some(i) => (&pair[..i], &pair[i + 1..]),
            None => (pair, &[][..]),
        })
}

/// Decodes one form component: `+` is a space, `%XX` a byte, and the result must be UTF-8.
pub(crate) fn form_decode(input: &[u8]) -> Result<String, ParamError> {
    if !input.iter().any(|&b| b == b'%' || b == b'+') {
        // Nothing to decode (tokens, codes, most values): a copy once valid UTF-8.
        return String::from_utf8(input.to_vec()).map_err(|_| ParamError::InvalidUtf8);
    }
    let mut bytes = Vec::with_capacity(input.len());
    let mut i = 0;
    while i < input.len() {
        match input[i] {
            b'+' => bytes.push(b' '),
            b'%' => {
                let hex = input.get(i + 1..i + 3).ok_or(ParamError::BadEscape)?;
                let hi = (hex[0] as char).to_digit(16).ok_or(ParamError::BadEscape)?;
                let lo = (hex[1] as char).to_digit(16).ok_or(ParamError::BadEscape)?;
                bytes.push((hi * 16 + lo) as u8);
                i += 2;
            }
            b => bytes.push(b),
        }
        i += 1;
    }
    String::from_utf8(bytes).map_err(|_| ParamError::InvalidUtf8)
}

/// Decodes a JSON object whose values are strings (numbers and booleans are accepted as their
/// text; `null` counts as omitted). Duplicate keys are reported, which `serde_json::Map`
/// would silently collapse.
pub(crate) fn parse_json_object(input: &[u8]) -> Result<Params, ParamError> {
    if std::str::from_utf8(input).is_err() {
        return Err(ParamError::InvalidUtf8);
    }
    let mut de = serde_json::Deserializer::from_slice(input);
    let pairs = match de.deserialize_map(PairsVisitor) {
        Ok(p) => p,
        Err(e) if e.classify() == serde_json::error::Category::Data => {
            return Err(ParamError::NotAnObject)
        }
        Err(_) => return Err(ParamError::BadJson),
    };
    if de.end().is_err() {
        return Err(ParamError::BadJson);
    }
    let mut out = Vec::with_capacity(pairs.len());
    for (k, v) in pairs {
        let v = match v {
            serde_json::Value::String(s) => s,
            serde_json::Value::Null => String::new(),
            serde_json::Value::Number(n) => n.to_string(),
            serde_json::Value::Bool(b) => b.to_string(),
            _ => return Err(ParamError::NotAString(k)),
        };
        out.push((k, v));
    }
    Ok(Params(out))
}

struct PairsVisitor;

impl<'de> Visitor<'de> for PairsVisitor {
    type Value = Vec<(String, serde_json::Value)>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut out = Vec::new();
        while let Some((k, v)) = map.next_entry::<String, serde_json::Value>()? {
            out.push((k, v));
        }
        Ok(out)
    }
}

/// Credentials from `Authorization: Basic` (RFC 6749 §2.3.1: both parts form-urlencoded).
pub(crate) struct BasicCredentials {
    pub(crate) client_id: String,
    pub(crate) client_secret: String,
}

/// `None` when the header is not Basic at all; `Some(Err)` when it is Basic but malformed.
pub(crate) fn parse_basic(header: &[u8]) -> Option<Result<BasicCredentials, ()>> {
    let text = std::str::from_utf8(header).ok()?;
    let (scheme, rest) = text.split_once(' ').unwrap_or((text, ""));
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    Some((|| {
        let raw = STANDARD.decode(rest.trim()).map_err(|_| ())?;
        let colon = raw.iter().position(|&b| b == b':').ok_or(())?;
        let client_id = form_decode(&raw[..colon]).map_err(|_| ())?;
        let client_secret = form_decode(&raw[colon + 1..]).map_err(|_| ())?;
        Ok(BasicCredentials {
            client_id,
            client_secret,
        })
    })())
}

/// Constant-time string comparison (the length is not secret).
pub(crate) fn ct_eq(a: &str, b: &str) -> bool {
    a.as_bytes().ct_eq(b.as_bytes()).into()
}

/// A short, non-reversible tag of a high-entropy value for the journal.
pub(crate) fn tag(value: &str) -> String {
    let digest = Sha256::digest(value.as_bytes());
    let hex: String = digest[..4].iter().map(|b| format!("{b:02x}")).collect();
    format!("[redacted:{hex}]")
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn urlencoded_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            let _ = parse_urlencoded(&bytes);
            let _ = parse_json_object(&bytes);
            let _ = parse_basic(&bytes);
        }

        #[test]
        fn urlencoded_roundtrips(pairs in proptest::collection::vec(("\\PC{1,12}", "\\PC{0,12}"), 0..6)) {
            let encoded = serde_urlencoded::to_string(&pairs).unwrap();
            let decoded = parse_urlencoded(encoded.as_bytes()).unwrap();
            prop_assert_eq!(decoded.0, pairs);
        }
    }

    #[test]
    fn rejects_invalid_utf8_and_bad_escapes() {
        assert!(matches!(
            parse_urlencoded(b"a=%ff"),
            Err(ParamError::InvalidUtf8)
        ));
        assert!(matches!(
            parse_urlencoded(b"a=%f"),
            Err(ParamError::BadEscape)
        ));
        assert!(matches!(
            parse_urlencoded(b"a=%zz"),
            Err(ParamError::BadEscape)
        ));
    }

    #[test]
    fn duplicates_are_found() {
        let p = parse_urlencoded(b"a=1&b=2&a=3").unwrap();
        assert_eq!(
            p.reject_duplicates(),
            Err(ParamError::Duplicate("a".into()))
        );
        let j = parse_json_object(br#"{"a":"1","a":"2"}"#).unwrap();
        assert!(j.reject_duplicates().is_err());
    }

    #[test]
    fn json_shapes() {
        assert!(matches!(
            parse_json_object(b"[1]"),
            Err(ParamError::NotAnObject)
        ));
        assert!(matches!(
            parse_json_object(b"{\"a\":{}}"),
            Err(ParamError::NotAString(_))
        ));
        assert!(matches!(
            parse_json_object(b"{\"a\":\"b\"} x"),
            Err(ParamError::BadJson)
        ));
        assert_eq!(parse_json_object(b"{\"a\":null}").unwrap().get("a"), None);
    }

    #[test]
    fn basic_credentials_are_form_decoded() {
        let h = format!("Basic {}", STANDARD.encode("my%20id:p%3Ass"));
        let c = parse_basic(h.as_bytes()).unwrap().unwrap();
        assert_eq!(c.client_id, "my id");
        assert_eq!(c.client_secret, "p:ss");
        assert!(parse_basic(b"Bearer x").is_none());
        assert!(parse_basic(b"Basic !!!").unwrap().is_err());
    }
}
