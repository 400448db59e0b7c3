//! `redtail_user_key` (Redtail): `GET <native_auth.exchange_path>` with `Basic
//! base64(api_key:username:password)` answers a non-expiring `user_key` (at every place the
//! profile's `native_auth.user_key_at` names); API calls then send `Authorization:
//! UserKeyAuth base64(api_key:user_key)`. The three-part Basic is accepted on the API too.

use serde_json::{json, Value};

use super::{
    basic_verdict, decode, refused, NativeCredentials, NativeRequest, NativeVerifier, Verdict,
};
use crate::params::ct_eq;
use crate::types::MockError;
use handshake_profile::NativeScheme;

/// The journal's name for the three-part Basic (the exchange's credential).
pub(crate) const MODE_REDTAIL_BASIC: &str = "redtail_basic";
/// Ids in the exchange answer (values assumed).
const REDTAIL_DATABASE_ID: u64 = 12_345;
const REDTAIL_USER_ID: u64 = 1;

pub(crate) struct UserKey;

impl NativeVerifier for UserKey {
    fn authorization(&self) -> &'static str {
        "UserKeyAuth base64(api_key:user_key)"
    }

    fn verify(&self, req: &NativeRequest<'_>) -> Verdict {
        let accepted = req.accepted;
        let user_key_auth = NativeScheme::RedtailUserKey.auth_scheme();
        if req.auth_scheme.eq_ignore_ascii_case(user_key_auth) {
            let mode = NativeScheme::RedtailUserKey.as_str();
            let ok = decode(req.credentials)
                .and_then(|t| t.split_once(':').map(|(k, u)| (k.to_owned(), u.to_owned())))
                .is_some_and(|(key, user_key)| {
                    // Both compared, whatever the first says, so timing tells nothing.
                    ct_eq(&key, accepted.api_key()) & ct_eq(&user_key, &accepted.user_key())
                });
            return if ok {
                Verdict::Accepted { mode }
            } else {
                refused(
                    mode,
                    "UserKeyAuth credentials are invalid: send base64(api_key:user_key) from the authentication exchange",
                )
            };
        }
        basic_verdict(
            req,
            MODE_REDTAIL_BASIC,
            "the API key, username or password is invalid (Basic base64(api_key:username:password))",
            |user, pass| match pass.split_once(':') {
                Some((username, password)) => {
                    ct_eq(user, accepted.api_key())
                        & (username == accepted.username())
                        & ct_eq(password, accepted.password())
                }
                None => false,
            },
        )
    }

    fn validate(&self, accepted: &NativeCredentials) -> Result<(), MockError> {
        if accepted.user_key().is_empty() {
            return Err(MockError::Config(
                "native credentials: user_key must not be empty".into(),
            ));
        }
        Ok(())
    }

    fn missing(&self) -> Option<&'static str> {
        // Redtail's documented answer to a request without credentials.
        Some("Authorization header missing")
    }

    fn exchange_authorization(&self) -> Option<&'static str> {
        Some("Basic base64(api_key:username:password)")
    }
}

/// The exchange's answer: the ids, and the `user_key` at every place the profile names
/// (sources disagree on where it sits).
pub(crate) fn exchange_answer(
    accepted: &NativeCredentials,
    native: &handshake_profile::NativeAuth,
) -> Value {
    let mut body = json!({
        "redtail_database_id": REDTAIL_DATABASE_ID,
        "redtail_user_id": REDTAIL_USER_ID,
        "authenticated_user": {
            "redtail_database_id": REDTAIL_DATABASE_ID,
            "redtail_user_id": REDTAIL_USER_ID,
            "username": accepted.username(),
        },
    });
    let user_key = accepted.user_key();
    for at in &native.user_key_at {
        at.set_in(&mut body, Value::String(user_key.clone()));
    }
    body
}
