//! `basic_api_key` (Insightly): the API key is the HTTP Basic user name and the password is
//! empty, `Authorization: Basic base64(api_key:)`.

use super::{basic, Fixed, NativeSecret};
use crate::error::ClientError;

pub(super) fn new(api_key: &NativeSecret) -> Result<Fixed, ClientError> {
    Ok(Fixed {
        authorization: basic(&format!("{}:", api_key.secret()))?,
        extra: None,
    })
}
