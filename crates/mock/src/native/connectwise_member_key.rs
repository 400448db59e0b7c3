//! `connectwise_member_key` (ConnectWise PSA): `Basic base64(company_id+public_key:private_key)`
//! and the integration's client id in the profile's `native_auth.client_id_header`, which
//! is checked first: ConnectWise rejects a request without it before looking at the keys.

use super::{basic_verdict, refused, NativeRequest, NativeVerifier, Verdict};
use crate::params::ct_eq;
use handshake_profile::NativeScheme;

pub(crate) struct MemberKey;

impl NativeVerifier for MemberKey {
    fn authorization(&self) -> &'static str {
        "Basic base64(company_id+public_key:private_key)"
    }

    fn verify(&self, req: &NativeRequest<'_>) -> Verdict {
        let mode = NativeScheme::ConnectwiseMemberKey.as_str();
        if !req.auth_scheme.eq_ignore_ascii_case("basic") {
            return Verdict::NotMine;
        }
        // The profile is validated to name the header for this scheme.
        let name = req.native.client_id_header.as_deref().unwrap_or_default();
        match req.headers.get(name).map(|v| v.as_bytes()) {
            None => {
                return refused(
                    mode,
                    format!(
                        "the {name} header is required on every request (https://developer.connectwise.com/ClientID)"
                    ),
                )
            }
            Some(v) if v != req.accepted.integration_client_id().as_bytes() => {
                return refused(
                    mode,
                    format!("the {name} header does not name a registered integration"),
                )
            }
            Some(_) => {}
        }
        let accepted = req.accepted;
        basic_verdict(
            req,
            mode,
            "the company id, public key or private key is invalid (Basic base64(company_id+public_key:private_key))",
            |user, pass| {
                let expected = format!("{}+{}", accepted.company_id(), accepted.public_key());
                ct_eq(user, &expected) & ct_eq(pass, accepted.private_key())
            },
        )
    }
}
