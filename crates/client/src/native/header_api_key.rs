//! `header_api_key` (Pipedrive): the API key alone, in a request header of its own (the
//! profile's `native_auth.key_header`, Pipedrive's `x-api-token`); no `Authorization`.

use http::header::{HeaderName, HeaderValue};
use http::HeaderMap;

use super::{sensitive, NativeAuth, NativeSecret};
use crate::error::ClientError;

pub(super) struct KeyHeader {
    name: HeaderName,
    value: HeaderValue,
    key: String,
}

pub(super) fn new(
    native: &handshake_profile::NativeAuth,
    api_key: &NativeSecret,
) -> Result<KeyHeader, ClientError> {
    let name = native
        .key_header
        .as_deref()
        .ok_or_else(|| ClientError::Config("the profile has no native_auth.key_header".into()))?;
    let name = HeaderName::from_bytes(name.as_bytes())
        .map_err(|_| ClientError::Config(format!("profile header name `{name}` is invalid")))?;
    Ok(KeyHeader {
        name,
        value: sensitive(api_key.secret())?,
        key: api_key.secret().to_owned(),
    })
}

impl NativeAuth for KeyHeader {
    fn apply(&self, headers: &mut HeaderMap, _: Option<&str>) -> Result<(), ClientError> {
        headers.insert(self.name.clone(), self.value.clone());
        Ok(())
    }

    fn encoded(&self) -> Vec<String> {
        vec![self.key.clone()]
    }
}
