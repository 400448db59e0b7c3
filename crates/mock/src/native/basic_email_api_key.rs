//! `basic_email_api_key` (Agile CRM): `Basic base64(email:api_key)`; the email compared
//! without regard to case.

use super::{basic_verdict, NativeRequest, NativeVerifier, Verdict};
use crate::params::ct_eq;
use handshake_profile::NativeScheme;

pub(crate) struct EmailApiKey;

impl NativeVerifier for EmailApiKey {
    fn authorization(&self) -> &'static str {
        "Basic base64(email:api_key)"
    }

    fn verify(&self, req: &NativeRequest<'_>) -> Verdict {
        let accepted = req.accepted;
        basic_verdict(
            req,
            NativeScheme::BasicEmailApiKey.as_str(),
            "the email or API key is invalid (Basic base64(email:api_key))",
            // Both compared, whatever the first says, so timing tells nothing.
            |user, pass| {
                user.eq_ignore_ascii_case(accepted.email()) & ct_eq(pass, accepted.api_key())
            },
        )
    }
}
