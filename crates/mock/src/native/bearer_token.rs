//! `bearer_token` (Capsule): a personal access token, sent as OAuth access tokens are,
//! `Authorization: Bearer <token>`. Any other Bearer token is OAuth's to judge.

use super::{NativeCredentials, NativeRequest, NativeVerifier, Verdict};
use crate::params::ct_eq;
use crate::types::MockError;
use handshake_profile::NativeScheme;

pub(crate) struct PersonalAccessToken;

impl NativeVerifier for PersonalAccessToken {
    fn authorization(&self) -> &'static str {
        "Bearer <personal_access_token>"
    }

    fn verify(&self, req: &NativeRequest<'_>) -> Verdict {
        let ours = req.auth_scheme.eq_ignore_ascii_case("bearer")
            && ct_eq(req.credentials, req.accepted.personal_access_token());
        if ours {
            Verdict::Accepted {
                mode: NativeScheme::BearerToken.as_str(),
            }
        } else {
            Verdict::NotMine
        }
    }

    fn validate(&self, accepted: &NativeCredentials) -> Result<(), MockError> {
        if accepted
            .personal_access_token()
            .bytes()
            .any(|b| b <= b' ' || b >= 0x7f)
        {
            return Err(MockError::Config(
                "native credentials: personal_access_token must be printable ASCII without spaces"
                    .into(),
            ));
        }
        Ok(())
    }
}
