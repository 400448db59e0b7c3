//! `basic_api_key` (Insightly): the API key is the HTTP Basic user name; the password is
//! documented as ignored.

use super::{basic_verdict, NativeRequest, NativeVerifier, Verdict};
use crate::params::ct_eq;
use handshake_profile::NativeScheme;

pub(crate) struct ApiKey;

impl NativeVerifier for ApiKey {
    fn authorization(&self) -> &'static str {
        "Basic base64(api_key:)"
    }

    fn verify(&self, req: &NativeRequest<'_>) -> Verdict {
        basic_verdict(
            req,
            NativeScheme::BasicApiKey.as_str(),
            "the API key is invalid (Basic base64(api_key:))",
            |user, _| ct_eq(user, req.accepted.api_key()),
        )
    }
}
