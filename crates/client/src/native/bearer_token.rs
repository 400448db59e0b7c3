//! `bearer_token` (Capsule): a personal access token, sent as OAuth access tokens are,
//! `Authorization: Bearer <token>`.

use super::{sensitive, Fixed, NativeSecret};
use crate::error::ClientError;

pub(super) fn new(token: &NativeSecret) -> Result<Fixed, ClientError> {
    Ok(Fixed {
        authorization: sensitive(&format!("Bearer {}", token.secret()))?,
        extra: None,
    })
}
