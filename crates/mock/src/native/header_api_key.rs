//! `header_api_key` (Pipedrive): the API key alone, in a request header of its own (the
//! profile's `native_auth.key_header`, Pipedrive's `x-api-token`); no `Authorization`.

use std::borrow::Cow;

use super::{refused, NativeRequest, NativeVerifier, Verdict};
use crate::params::ct_eq;
use handshake_profile::{NativeAuth, NativeScheme};

pub(crate) struct KeyHeader;

impl NativeVerifier for KeyHeader {
    fn authorization(&self) -> &'static str {
        "<api_key> in the native_auth.key_header header"
    }

    fn described(&self, native: &NativeAuth) -> Cow<'static, str> {
        let name = native.key_header.as_deref().unwrap_or_default();
        Cow::Owned(format!("{name}: <api_key>"))
    }

    fn verify(&self, req: &NativeRequest<'_>) -> Verdict {
        if !req.auth_scheme.is_empty() {
            // A request with `Authorization` is that header's to judge (OAuth first).
            return Verdict::NotMine;
        }
        let mode = NativeScheme::HeaderApiKey.as_str();
        // The profile is validated to name the header for this scheme.
        let name = req.native.key_header.as_deref().unwrap_or_default();
        let mut all = req.headers.get_all(name).iter();
        let Some(value) = all.next() else {
            return Verdict::NotMine;
        };
        if all.next().is_some() {
            return refused(mode, format!("the {name} header is given more than once"));
        }
        let key = String::from_utf8_lossy(value.as_bytes());
        if ct_eq(key.trim(), req.accepted.api_key()) {
            Verdict::Accepted { mode }
        } else {
            refused(
                mode,
                format!("the API token in the {name} header is invalid"),
            )
        }
    }
}
