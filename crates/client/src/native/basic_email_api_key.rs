//! `basic_email_api_key` (Agile CRM): the user's email and REST API key,
//! `Authorization: Basic base64(email:api_key)`. (Agile answers XML unless asked for JSON:
//! that is the profile's `api.format`, sent by `mod.rs` for any scheme.)

use super::{basic, Fixed, NativeSecret};
use crate::error::ClientError;

pub(super) fn new(email: &str, api_key: &NativeSecret) -> Result<Fixed, ClientError> {
    Ok(Fixed {
        authorization: basic(&format!("{email}:{}", api_key.secret()))?,
        extra: None,
    })
}
