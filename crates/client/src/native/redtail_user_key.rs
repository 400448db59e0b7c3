//! `redtail_user_key` (Redtail): the partner API key and the user's name and password are
//! exchanged once (`GET <native_auth.exchange_path>`, `Basic
//! base64(api_key:username:password)`) for a non-expiring `user_key`, found in the answer
//! where the profile's `native_auth.user_key_at` says; API calls then send
//! `Authorization: UserKeyAuth base64(api_key:user_key)`. The exchange itself, its cache and
//! its one retry after a 401 are `NativeClient`'s (`mod.rs`).

use base64::Engine as _;
use handshake_profile::NativeScheme;
use http::header::{HeaderValue, AUTHORIZATION};
use http::HeaderMap;

use super::{basic, encoded_part, sensitive, NativeAuth, NativeSecret};
use crate::error::ClientError;

pub(super) struct UserKey {
    api_key: NativeSecret,
    exchange: HeaderValue,
}

pub(super) fn new(
    api_key: &NativeSecret,
    username: &str,
    password: &NativeSecret,
) -> Result<UserKey, ClientError> {
    Ok(UserKey {
        api_key: api_key.clone(),
        exchange: basic(&format!(
            "{}:{username}:{}",
            api_key.secret(),
            password.secret()
        ))?,
    })
}

impl NativeAuth for UserKey {
    fn apply(&self, headers: &mut HeaderMap, user_key: Option<&str>) -> Result<(), ClientError> {
        let key = user_key.ok_or_else(|| {
            ClientError::Config("no user_key yet: run the key exchange first".into())
        })?;
        let pair = format!("{}:{key}", self.api_key.secret());
        let value = format!(
            "{} {}",
            NativeScheme::RedtailUserKey.auth_scheme(),
            base64::engine::general_purpose::STANDARD.encode(pair)
        );
        headers.insert(AUTHORIZATION, sensitive(&value)?);
        Ok(())
    }

    fn exchange(&self) -> Option<&HeaderValue> {
        Some(&self.exchange)
    }

    fn encoded(&self) -> Vec<String> {
        encoded_part(&self.exchange).into_iter().collect()
    }
}
