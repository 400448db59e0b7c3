//! What logout reports (RFC 7009): a leaf, so that errors can carry it.

/// What happened to each token at logout (RFC 7009).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct LogoutReport {
    /// Revocation of the refresh token.
    pub refresh_token: Revocation,
    /// Revocation of the access token.
    pub access_token: Revocation,
}

impl LogoutReport {
    /// Whether the provider confirmed every revocation it was asked for: no token was
    /// [`Failed`](Revocation::Failed) or met a
    /// [`TransportError`](Revocation::TransportError).
    pub fn confirmed(&self) -> bool {
        [&self.refresh_token, &self.access_token]
            .iter()
            .all(|r| matches!(r, Revocation::Revoked | Revocation::NotAttempted))
    }
}

/// Outcome of revoking one token. Local tokens are deleted whatever this says.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Revocation {
    /// The provider answered 200 (which RFC 7009 §2.2 also uses for unknown tokens).
    Revoked,
    /// The provider answered with another status (after one retry for 503).
    Failed {
        /// The last status received.
        status: u16,
        /// The OAuth error code of its body (`unsupported_token_type`, RFC 7009 §2.2.1), if
        /// it had one.
        error: Option<String>,
    },
    /// The request could not be sent, or was answered from another URL (a redirect).
    TransportError(String),
    /// There was no such token, or the provider has no revocation endpoint.
    NotAttempted,
}
