//! `connectwise_member_key` (ConnectWise PSA): API member keys,
//! `Authorization: Basic base64(company_id+public_key:private_key)`, and the integration's
//! client id in the profile's `native_auth.client_id_header` on every request. (The
//! versioned `Accept` is the profile's `native_auth.version_header`, sent by `mod.rs`.)

use http::header::{HeaderName, HeaderValue};

use super::{basic, Fixed, NativeSecret};
use crate::error::ClientError;

pub(super) fn new(
    native: &handshake_profile::NativeAuth,
    company_id: &str,
    public_key: &str,
    private_key: &NativeSecret,
    client_id: &str,
) -> Result<Fixed, ClientError> {
    let name = native.client_id_header.as_deref().ok_or_else(|| {
        ClientError::Config("the profile has no native_auth.client_id_header".into())
    })?;
    let name = HeaderName::from_bytes(name.as_bytes())
        .map_err(|_| ClientError::Config(format!("profile header name `{name}` is invalid")))?;
    // An empty client id (a runner's deliberate omission) leaves the header out; a client
    // refuses one before it gets here.
    let extra = match client_id {
        "" => None,
        id => Some((
            name,
            HeaderValue::from_str(id)
                .map_err(|_| ClientError::Config("client_id is not a valid header value".into()))?,
        )),
    };
    Ok(Fixed {
        authorization: basic(&format!(
            "{company_id}+{public_key}:{}",
            private_key.secret()
        ))?,
        extra,
    })
}
