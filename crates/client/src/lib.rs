//! The reference OAuth 2.0 client of handshake: the authorization-code flow done right, for
//! any provider described by a [`handshake_profile::Profile`].
//!
//! Built on the [`oauth2`] crate (typed protocol values, token requests) and `reqwest`.
//! It does, per RFC 6749, 6750, 7009, 7636 and 9700:
//!
//! - **Authorization request** ([`OAuthClient::authorize`]): `response_type=code`, the
//!   profile's scope separator, a 256-bit `state`, PKCE S256 whenever offered. The pending
//!   authorization is bound to a [`SessionId`], single-use, and expires.
//! - **Callback** ([`OAuthClient::handle_callback`]): `state` checked in constant time before
//!   any network call; then `iss` (RFC 9207): an `iss` that is not the expected issuer is
//!   [`ClientError::IssuerMismatch`], and a missing one [`ClientError::IssuerMissing`] when
//!   the profile says the provider sends it (`oauth.iss_parameter`); `error=` callbacks
//!   become [`ClientError::AuthorizationDenied`].
//! - **Token requests**: form or JSON bodies and Basic or body client authentication, as the
//!   profile says; lenient where CRMs differ (`expires_in` as a string, `token_type` case),
//!   strict where the RFC is (`access_token` required, bearer only).
//! - **Refresh**: proactive before expiry and reactive on 401, single-flight per session;
//!   `invalid_grant` marks the connection [`ConnectionStatus::ReauthorizationRequired`].
//! - **API calls** ([`OAuthClient::api_get`]): bearer header only, one retry after 401,
//!   bounded backoff on 429.
//! - **Logout** ([`OAuthClient::logout`]): local tokens deleted, then RFC 7009 revocation;
//!   anything but a 200 is [`ClientError::RevocationFailed`] (logged out locally, not at the
//!   provider).
//! - **Native schemes** ([`NativeClient`]): what integrations with four of the five CRMs
//!   really use instead of OAuth — Capsule personal access tokens, Insightly and Agile CRM
//!   HTTP Basic, Redtail's `user_key` exchange, ConnectWise member keys with the mandatory
//!   `clientId` header — through the same request helper (429 backoff, typed errors that
//!   keep the CRM's own message).
//! - **Paging** ([`OAuthClient::list_all`], [`NativeClient::list_all`], [`Pages`]): every
//!   record exactly once, the way each CRM pages (page numbers and `Link` headers,
//!   `skip`/`top`, cursors on the last record), with a guard against servers that loop.
//! - **Token stores** ([`TokenStore`]): [`MemoryStore`], [`EncryptedFileStore`], or yours.
//!
//! Secrets (client secret, codes, verifiers, tokens, API keys, passwords) never appear in `Debug` output, logs or
//! error messages.
//!
//! See `examples/full_flow.rs` for the whole flow against a mock CRM:
//! `cargo run -p handshake-client --example full_flow -- capsule`.
//!
//! A native-scheme client in a few lines:
//!
//! ```no_run
//! # async fn demo() -> Result<(), handshake_client::ClientError> {
//! use handshake_client::{NativeClient, NativeCredentials};
//! use handshake_profile::Profile;
//!
//! let profile = Profile::builtin("connectwise").unwrap();
//! let creds = NativeCredentials::connectwise("acme", "public-key", "private-key", "client-id-guid");
//! let client = NativeClient::new(&profile, "https://api-na.myconnectwise.net", creds)?;
//! let companies = client.list_all("/v4_6_release/apis/3.0/company/companies").await?;
//! # Ok(()) }
//! ```

#![warn(missing_docs)]

mod api;
mod callback;
mod client;
mod config;
mod detail;
mod error;
mod logout;
mod native;
mod paging;
mod store;
mod token;
mod transport;

pub use api::ApiResponse;
pub use callback::Callback;
pub use client::{
    AuthorizationRequest, OAuthClient, DEFAULT_AUTHORIZATION_TTL, DEFAULT_REFRESH_SKEW,
};
pub use config::{
    ClientConfig, ClientSecret, SessionId, DEFAULT_MAX_ATTEMPTS, DEFAULT_MAX_RETRY_WAIT,
    DEFAULT_TIMEOUT,
};
pub use detail::ApiErrorDetail;
pub use error::ClientError;
/// OAuth 2.0 error codes, as [`ClientError`] and [`Callback`] carry them (shared with the mock).
pub use handshake_profile::OAuthError;
pub use logout::{LogoutReport, Revocation};
pub use native::{NativeClient, NativeCredentials, NativeSecret};
pub use oauth2::{AccessToken, AuthorizationCode, RefreshToken};
pub use paging::{ListOptions, Pages, DEFAULT_MAX_PAGES};
pub use store::{
    Connection, ConnectionStatus, EncryptedFileStore, MemoryStore, StoreError, StoreKey,
    TokenStore, STORE_KEY_ENV,
};
pub use token::TokenSet;

#[cfg(test)]
mod tests;
