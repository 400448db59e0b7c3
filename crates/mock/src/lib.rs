//! Mock CRM OAuth 2.0 providers for tests: one strict authorization server and API resource
//! per [`Profile`], with faults on demand and a journal of what crossed the wire.
//!
//! # Getting started
//!
//! Start a mock of a built-in CRM on a random loopback port, then point your client at it:
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! use handshake_mock::MockProvider;
//! use handshake_profile::Profile;
//!
//! let mock = MockProvider::start(Profile::builtin("capsule").unwrap()).await;
//!
//! // Everything a client needs to know:
//! println!("authorize: {}", mock.authorize_url());   // http://127.0.0.1:PORT/oauth/authorise
//! println!("token:     {}", mock.token_url());
//! println!("revoke:    {:?}", mock.revoke_url());
//! println!("api:       {}", mock.api_url());
//! let client = mock.client();                       // handshake-client / handshake-secret
//! assert_eq!(client.redirect_uris, ["http://localhost:3000/callback"]);
//! // The secret redacts itself in Debug output:
//! assert!(!format!("{client:?}").contains("handshake-secret"));
//! # }
//! ```
//!
//! The server runs on a background task of the current tokio runtime and stops when the
//! `MockProvider` is dropped. Each test gets its own mock, so tests are isolated and can run
//! in parallel.
//!
//! # The flow
//!
//! The authorization endpoint shows a consent page (a real HTML form with Approve and Deny
//! buttons) unless the mock was built with [`MockProviderBuilder::auto_approve`]; a test that
//! acts as the browser can approve without parsing HTML:
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! use handshake_mock::MockProvider;
//! use handshake_profile::Profile;
//!
//! let mock = MockProvider::builder(Profile::builtin("redtail").unwrap())
//!     .auto_approve(true)
//!     .start()
//!     .await
//!     .unwrap();
//! let http = reqwest::Client::builder()
//!     .redirect(reqwest::redirect::Policy::none())
//!     .build()
//!     .unwrap();
//! let resp = http
//!     .get(mock.authorize_url())
//!     .query(&[
//!         ("response_type", "code"),
//!         ("client_id", "handshake-client"),
//!         ("redirect_uri", "http://localhost:3000/callback"),
//!         ("state", "xyz"),
//!     ])
//!     .send()
//!     .await
//!     .unwrap();
//! assert_eq!(resp.status(), 302);
//! let location = resp.headers()["location"].to_str().unwrap();
//! assert!(location.starts_with("http://localhost:3000/callback?code="));
//! assert!(location.ends_with("&state=xyz"));
//! # }
//! ```
//!
//! What the mock enforces, all strict by default (every check has a switch in the profile's
//! `[security]` table, to emulate a sloppy provider on purpose):
//!
//! - **authorize** (RFC 6749 §4.1.1, RFC 9700): `client_id` registered and `redirect_uri`
//!   matching a registered URI exactly, else an HTML error page and never a redirect;
//!   `response_type=code` only (`unsupported_response_type`); scopes from the profile
//!   (`invalid_scope`); PKCE as the profile says (required, optional, unsupported; methods
//!   `S256`/`plain`); `state` echoed; deny ⇒ `error=access_denied`; `iss` on every
//!   redirect back, success or error, when the profile says `oauth.iss_parameter` or the
//!   builder [`MockProviderBuilder::iss_parameter`] (RFC 9207). The consent page sends
//!   `X-Frame-Options: DENY`, `Referrer-Policy: no-referrer` and `Cache-Control: no-store`,
//!   and its form carries a single-use random consent id, so a forged POST cannot approve
//!   another request.
//! - **token** (RFC 6749 §4.1.3, §6, RFC 7636 §4.6): body encodings and client
//!   authentication exactly as the profile lists (`invalid_request`, 401 `invalid_client`
//!   with `WWW-Authenticate: Basic` when Basic was tried); codes single-use, short-lived and
//!   bound to client and redirect URI; a reused code revokes what it issued; PKCE verified
//!   in constant time and a verifier for a code issued without a challenge refused
//!   (downgrade); refresh tokens bound to their client and rotated per profile, with reuse
//!   of a rotated-out token revoking the whole grant under `rotate_reuse_revokes_family`.
//!   Responses carry `Cache-Control: no-store` and `Pragma: no-cache`.
//! - **revoke** (RFC 7009): client authenticated, unknown tokens ⇒ 200, revoking a refresh
//!   token ends the grant and its access tokens; every path in `oauth.revoke_paths` is served.
//! - **API** (RFC 6750): `Authorization: Bearer` access tokens, or the CRM's own scheme
//!   (below); 401 with `WWW-Authenticate: Bearer error="invalid_token"` (no error attribute
//!   when no credentials were sent) in the profile's body shape; 403 `insufficient_scope`;
//!   rate limits with the profile's headers and 429 body; lists paged as the CRM pages them.
//! - Bad input never panics and never gets a 500: malformed or duplicate parameters, a wrong
//!   content type or invalid UTF-8 get an RFC 6749 error JSON, bodies over 64 KiB get 413.
//! - Codes and tokens are 256 bits from a CSPRNG. Memory is bounded by construction, whatever
//!   arrives ([`limits`]): codes, consents, grants per client, tokens per grant, the journal
//!   (in entries and in bytes, long values cut) and connections all have a ceiling, the
//!   oldest going first; a `state` over 2048 bytes is `invalid_request`. Slow and idle
//!   connections are closed by the header-read timeout.
//!
//! # The CRMs' own schemes
//!
//! Four of the five CRMs document no OAuth flow for third-party apps; integrations use the
//! CRM's own scheme. Every mock serves it on the same API path, beside OAuth, with the
//! credentials of [`MockProviderBuilder::native_credentials`] (defaults in
//! [`NativeCredentials`]):
//!
//! | Profile | Scheme | The client sends |
//! |---|---|---|
//! | `capsule` | `bearer_token` | `Authorization: Bearer <personal_access_token>` |
//! | `insightly` | `basic_api_key` | `Authorization: Basic base64(api_key:)` |
//! | `agilecrm` | `basic_email_api_key` | `Authorization: Basic base64(email:api_key)` |
//! | `redtail` | `redtail_user_key` | once `GET /api/public/v1/authentication` with `Basic base64(api_key:username:password)` → `{"user_key", "authenticated_user": {"user_key"}, ...}`; then `Authorization: UserKeyAuth base64(api_key:user_key)` (Basic `api_key:username:password` on a call works too, as Redtail documents) |
//! | `connectwise` | `connectwise_member_key` | `Authorization: Basic base64(company_id+public_key:private_key)` and `clientId: <integration_client_id>` |
//! | `hubspot` | `bearer_token` | `Authorization: Bearer <personal_access_token>` (a private-app token) |
//! | `pipedrive` | `header_api_key` | `x-api-token: <api_key>` (the profile's `native_auth.key_header`) |
//!
//! Wrong credentials get 401 in the CRM's body shape (`errors.unauthorized_body`) with a
//! `WWW-Authenticate` challenge for the scheme. ConnectWise checks `clientId` first: missing
//! or unknown ⇒ 401 `{"code":"Unauthorized","message":...,"errors":[...]}` (the status is
//! not documented; 401 is assumed), and every ConnectWise answer carries
//! `api-current-version`. Redtail's `user_key` never expires. The journal records each API
//! request's [`JournalEntry::auth_mode`] and never a credential: configured secrets are
//! scrubbed wherever they appear, even in a URL.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! use base64::Engine;
//! use handshake_mock::MockProvider;
//! # let b64 = |s: String| base64::engine::general_purpose::STANDARD.encode(s);
//!
//! let mock = MockProvider::start(handshake_profile::Profile::builtin("redtail").unwrap()).await;
//! let c = mock.native_credentials();
//! let http = reqwest::Client::new();
//! let auth: serde_json::Value = http
//!     .get(mock.exchange_url().unwrap())
//!     .basic_auth(c.api_key(), Some(format!("{}:{}", c.username(), c.password())))
//!     .send().await.unwrap()
//!     .json().await.unwrap();
//! let user_key = auth["user_key"].as_str().unwrap();
//! assert_eq!(auth["authenticated_user"]["user_key"], user_key);
//!
//! let page: serde_json::Value = http
//!     .get(mock.api_url())
//!     .header("authorization", format!("UserKeyAuth {}", b64(format!("{}:{user_key}", c.api_key()))))
//!     .header("pagesize", "10")
//!     .send().await.unwrap()
//!     .json().await.unwrap();
//! assert_eq!(page["contacts"].as_array().unwrap().len(), 10);
//! assert_eq!(page["meta"], serde_json::json!({"total_records": 120, "total_pages": 12}));
//! assert_eq!(mock.journal()[1].auth_mode.as_deref(), Some("redtail_user_key"));
//! # }
//! ```
//!
//! # Paging and the data set
//!
//! The API serves a data set generated from the profile's `api.dataset` template with a
//! seeded PRNG ([`MockProviderBuilder::seed`]; the same seed gives the same records on every
//! version of handshake, see [`MockProvider::dataset`]), paged exactly as the CRM pages it,
//! whichever way the client authenticated:
//!
//! | Profile | Request | Answer |
//! |---|---|---|
//! | `capsule` | `?page=N&perPage=M` (≤ 100, default 50) | `{"parties": [...]}`, `Link` `first`/`prev`/`next`/`last` (absolute), `X-Pagination-Has-More` |
//! | `insightly` | `?skip=N&top=M` (≤ 500 assumed) | top-level array; `X-Total-Count` when `count_total=true` |
//! | `agilecrm` | `?page_size=M&cursor=C` | array; `count` on the first record, `cursor` on the last when more follow; XML unless `Accept: application/json`; 204 when empty |
//! | `redtail` | `?page=N`, request header `pagesize: M` | `{"contacts": [...], "meta": {"total_records", "total_pages"}}` |
//! | `connectwise` | `?page=N&pageSize=M` (≤ 1000) | array, `Link` (absolute); with header `pagination-type: forward-only`: `?pageId=<last id>` in `Link` `rel="next"` only |
//!
//! Page sizes over the maximum are clamped. Bad paging parameters (`page=0`, negatives,
//! non-numbers, a cursor or `pageId` the mock never issued, duplicates) get 400 in the CRM's
//! shape (`errors.bad_request_body`), never a 5xx. `GET {api.path}/{id}` answers one record
//! (Capsule `{"party": {...}}`, others the bare object), 404 in the CRM's shape when there is
//! none (Agile: 204, as documented). [`MockProviderBuilder::dataset_size`] changes the count.
//!
//! # Rate limits
//!
//! Each OAuth grant and the native credentials have their own window of the profile's
//! `rate_limit` (Capsule 4000/h, Insightly 1000/day, ConnectWise 1000/min assumed), or of
//! [`MockProviderBuilder::rate_limit`]. Over the limit: 429 with the CRM's body and headers
//! (Capsule `X-RateLimit-*` and `{"error":"rate limit reached"}` without `Retry-After`;
//! ConnectWise numeric `Retry-After`). Windows follow the virtual clock, so
//! [`MockProvider::advance_clock`] ends them.
//!
//! To trip the limit on demand, without making thousands of calls, arm
//! [`FaultBuilder::rate_limited`]: for the given time, authenticated API calls get the same
//! 429 a used-up window gives (the profile's body; `X-RateLimit-Remaining: 0` and
//! `X-RateLimit-Reset` at the end of the period where the profile sends `X-RateLimit-*`;
//! `Retry-After` with the seconds left where the profile sends it, and none on Capsule). A
//! retry before the time is up is refused again, as the CRM would; one after it passes.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! use std::time::Duration;
//! use handshake_mock::{Endpoint, MockProvider};
//!
//! let mock = MockProvider::start(handshake_profile::Profile::builtin("capsule").unwrap()).await;
//! mock.fail_next(Endpoint::Api).rate_limited(Duration::from_secs(2)).times(10).mount();
//! let pat = mock.native_credentials().personal_access_token().to_owned();
//! let limited = reqwest::Client::new().get(mock.api_url()).bearer_auth(&pat).send().await.unwrap();
//! assert_eq!(limited.status(), 429);
//! assert_eq!(limited.headers()["x-ratelimit-remaining"], "0");
//! assert!(limited.headers().get("retry-after").is_none()); // Capsule sends none
//! // Unix seconds at the end of the period, rounded up.
//! let reset: u64 = limited.headers()["x-ratelimit-reset"].to_str().unwrap().parse().unwrap();
//! let now = std::time::UNIX_EPOCH.elapsed().unwrap().as_secs();
//! assert!((now + 1..=now + 3).contains(&reset));
//! assert_eq!(limited.text().await.unwrap(), r#"{"error":"rate limit reached"}"#);
//! # }
//! ```
//!
//! # Faults
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! use std::time::Duration;
//! use handshake_mock::{Endpoint, MockProvider, OAuthError};
//! # let mock = MockProvider::start(handshake_profile::Profile::builtin("capsule").unwrap()).await;
//!
//! mock.fail_next(Endpoint::Token).with(OAuthError::TemporarilyUnavailable).mount();
//! mock.fail_next(Endpoint::Api).with_status(503).times(3).mount();
//! mock.fail_next(Endpoint::Revoke).with_delay(Duration::from_millis(50)).mount();
//! mock.fail_next(Endpoint::Token).drop_connection().mount();
//! mock.fail_next(Endpoint::Api).rate_limited(Duration::from_secs(1)).times(4).mount();
//!
//! let resp = reqwest::Client::new()
//!     .post(mock.token_url())
//!     .form(&[("grant_type", "refresh_token")])
//!     .send()
//!     .await
//!     .unwrap();
//! assert_eq!(resp.status(), 503);
//! # }
//! ```
//!
//! `mount()` is synchronous: the very next matching request sees the fault. Faults on one
//! endpoint apply in mounting order. [`MockProvider::clear_faults`] disarms them all.
//!
//! A status fault answers with an RFC 6749 error JSON and nothing else: `with_status(429)` is
//! a generic 429, not what the CRM sends. For the CRM's own 429 (its body, `X-RateLimit-*`,
//! `Retry-After` as it does them), use `rate_limited` (see [Rate limits](#rate-limits)).
//!
//! # Spying: the journal
//!
//! [`MockProvider::journal`] lists every request received (control calls excepted), with
//! secret values replaced: client secrets, verifiers and credentials read `[redacted]`; codes
//! and tokens read `[redacted:xxxxxxxx]`, a short hash tag so you can tell whether the same
//! value was sent twice without the journal holding it.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! use handshake_mock::{Endpoint, MockProvider};
//! use handshake_profile::ClientAuth;
//! # let mock = MockProvider::start(handshake_profile::Profile::builtin("capsule").unwrap()).await;
//!
//! reqwest::Client::new()
//!     .post(mock.token_url())
//!     .basic_auth("handshake-client", Some("handshake-secret"))
//!     .form(&[("grant_type", "refresh_token"), ("refresh_token", "not-a-real-one")])
//!     .send()
//!     .await
//!     .unwrap();
//!
//! let journal = mock.journal();
//! let last = journal.last().unwrap();
//! assert_eq!(last.endpoint, Some(Endpoint::Token));
//! assert_eq!(last.grant_type.as_deref(), Some("refresh_token"));
//! assert_eq!(last.client_auth, Some(ClientAuth::ClientSecretBasic));
//! assert_eq!(last.status, 400);
//! assert_eq!(last.header("authorization"), Some("Basic [redacted]"));
//! assert!(last.param("refresh_token").unwrap().starts_with("[redacted:"));
//! # }
//! ```
//!
//! # Expectations
//!
//! As in wiremock-rs, say how many requests an endpoint must receive; the mock checks when
//! it is dropped and panics with what was expected and what arrived (method, path, status
//! and error code of each request, never a secret). [`MockProvider::verify`] checks earlier
//! and returns a [`VerifyError`] instead. Counts come from the journal, from the moment the
//! expectation is set.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! use handshake_mock::{Endpoint, MockProvider};
//! # let mock = MockProvider::start(handshake_profile::Profile::builtin("capsule").unwrap()).await;
//!
//! mock.expect(Endpoint::Token).times(1).named("refresh");
//! mock.expect(Endpoint::Api).times(0..=3);
//! mock.expect(Endpoint::Revoke).at_most(0);
//!
//! reqwest::Client::new()
//!     .post(mock.token_url())
//!     .basic_auth("handshake-client", Some("handshake-secret"))
//!     .form(&[("grant_type", "refresh_token"), ("refresh_token", "not-a-real-one")])
//!     .send()
//!     .await
//!     .unwrap();
//! assert_eq!(mock.verify(), Ok(()));
//! # }
//! ```
//!
//! # Watching it run: the live feed, the log line, the page
//!
//! [`MockProvider::subscribe`] hands over each journal entry as its request completes, decoded
//! and redacted exactly as the journal gives it (nothing is decoded for it while nobody
//! listens). [`LogStyle`] turns an entry into the line `handshake serve` prints: text (plain
//! or coloured), or a JSON object. Every refusal's `error_description` says what to change:
//! the registered redirect URIs, where a misplaced token was seen, the encoding or PKCE method
//! the CRM takes, how long ago a token expired.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! use std::time::SystemTime;
//! use handshake_mock::{LogStyle, MockProvider};
//!
//! let mock = MockProvider::start(handshake_profile::Profile::builtin("capsule").unwrap()).await;
//! let mut live = mock.subscribe();
//! let token = "an-access-token-in-the-url";
//! reqwest::get(format!("{}?access_token={token}", mock.api_url())).await.unwrap();
//! let line = LogStyle::Plain.line(&live.recv().await.unwrap(), SystemTime::now());
//! assert!(line.contains("GET /api/v2/parties?access_token=[redacted:"));
//! assert!(line.contains("401 invalid_token: no Authorization header: the access token was sent in the query string"));
//! assert!(!line.contains(token));
//! # }
//! ```
//!
//! `GET /__handshake/` is a page for a browser that shows the same, live (its feed is
//! `GET /__handshake/events`, Server-Sent Events), with the faults armed, the grants alive and
//! buttons for the common control calls.
//!
//! # Time
//!
//! [`MockProvider::advance_clock`] moves a virtual clock, so code and token expiry are tested
//! without sleeping; [`MockProvider::expire_access_tokens`] expires access tokens at once and
//! [`MockProvider::revoke_grants`] acts like a user disconnecting the app in the CRM.
//!
//! # Users
//!
//! A mock holds user accounts, `alice` and `bob` unless [`MockProviderBuilder::users`] names
//! others. The consent page's form has a "Signed in as" text field (`name="user"`),
//! prefilled with the first user: a browser approving as `bob` posts `user=bob`, an unknown
//! name gets a 400 page and leaves the consent usable. Auto-approve signs in as the first
//! user, and the CRM's own credentials belong to it. The user is kept on the code and the
//! grant (refreshed tokens too), and the API serves each grant its user's data set
//! ([`MockProvider::records_for`]; other names, no shared id), so a test can tell whose data
//! an app shows. [`MockProvider::grants_of`] counts a user's live grants and
//! [`MockProvider::revoke_grants_of`] ends them; an RFC 7009 revocation only ever ends the
//! grant its token belongs to. [`JournalEntry::user`] names the user a request acted for.
//!
//! # Relaxations
//!
//! [`MockProvider::relax`] lifts one requirement of the provider for the rest of the run
//! ([`Relaxation`]: PKCE, the body encoding, the client authentication method, the scopes),
//! so a client blocked by one flaw can still be tested for the others. A refusal caused by
//! one of them names it in [`JournalEntry::requirement`]; every refusal carries
//! [`JournalEntry::error`] and [`JournalEntry::error_description`].
//!
//! # Control over HTTP: `/__handshake/*`
//!
//! The same controls, for tests written in any language. Errors come back as
//! `400 {"error":"invalid_request","error_description":"..."}`.
//!
//! | Request | Body | Answer |
//! |---|---|---|
//! | `GET /__handshake/healthz` | | `200 {"status":"ok"}` |
//! | `GET /__handshake/metadata` | | `200` RFC 8414 metadata (below) |
//! | `GET /__handshake/native` | | `200` the native scheme and its non-secret credentials (below), or `null` |
//! | `GET /__handshake/` | | `200` the live page (HTML) |
//! | `GET /__handshake/journal` | | `200 [JournalEntry, ...]`; `?since=N`: those with `seq` > N |
//! | `GET /__handshake/events` | | `200 text/event-stream`: `event: entry`, `data: JournalEntry` per completed request; `event: lagged`, `data: N` |
//! | `GET /__handshake/faults` | | `200 {"faults": [Fault, ...], "rate_limited": null or {"secs_left", "refusals_left"}}` |
//! | `POST /__handshake/faults` | a fault (below) | `201` the fault as armed |
//! | `DELETE /__handshake/faults` | | `204`: armed faults forgotten, a tripped rate limit ended |
//! | `POST /__handshake/expire` | | `204`: access tokens expire now |
//! | `POST /__handshake/revoke` | none, or `{"user": "bob"}` | `204`: every grant (that user's) revoked, as by the user |
//! | `POST /__handshake/reset` | | `204`: codes, tokens, faults, relaxations, journal, clock reset |
//! | `GET /__handshake/users` | | `200 {"users": ["alice", "bob"]}` |
//! | `GET /__handshake/records?user=bob` | | `200 [record, ...]`: what that user's API lists (no `user`: the first user's) |
//! | `GET /__handshake/grants?user=bob` | | `200 {"live": N}`: that user's live grants (no `user`: everyone's, and `"by_user": {"alice": N, ...}`) |
//! | `POST /__handshake/relax` | `{"requirement": "pkce"}` (`body_encoding`, `client_auth`, `scope`) | `200 {"relaxed": ["pkce"]}` |
//! | `GET /__handshake/relax` | | `200 {"relaxed": [...]}` |
//! | `POST /__handshake/clock` | `{"advance_secs": 120}` | `200 {"offset_secs": 120}` |
//! | `GET /__handshake/openapi.json` | | `200` this table as an OpenAPI 3.1 document ([`OPENAPI_JSON`]): every request, answer and error, with JSON Schemas |
//!
//! Fault bodies (`times` defaults to 1; `endpoint` is `authorize`, `token`, `revoke` or `api`):
//!
//! ```json
//! {"endpoint": "token", "kind": "oauth_error", "error": "invalid_grant", "times": 2}
//! {"endpoint": "api",   "kind": "status", "status": 503}
//! {"endpoint": "token", "kind": "delay", "delay_ms": 3000}
//! {"endpoint": "revoke", "kind": "drop"}
//! {"endpoint": "api",   "kind": "rate_limited", "retry_after_secs": 1, "times": 4}
//! ```
//!
//! `rate_limited` (API only, `retry_after_secs` ≥ 1) answers authenticated API calls with the
//! CRM's own 429 for `retry_after_secs` from the first one, at most `times` of them; see
//! [Rate limits](#rate-limits).
//!
//! Metadata carries the RFC 8414 fields (`issuer`, `authorization_endpoint`,
//! `token_endpoint`, `revocation_endpoint`, `token_endpoint_auth_methods_supported`,
//! `revocation_endpoint_auth_methods_supported`, `code_challenge_methods_supported`,
//! `scopes_supported`, `response_types_supported`, `response_modes_supported`,
//! `grant_types_supported`) plus `provider`, `name`, `oauth_documented`, `api_resource`
//! (absolute URL), `token_request_encodings`, `pkce_mode`, `refresh_token_rotation`,
//! `client` (`{"client_id", "redirect_uris"}`, never the secret), `users` and
//! `provenance` (`{"oauth": {"provenance": "vendor", "sources": [...], "note": ...}, ...}`
//! for each behaviour group), and for the API:
//!
//! - `auth_modes`: `["oauth", "<native scheme>"]`;
//! - `native_auth`: `{"scheme", "authorization" (what to send, e.g. `"Basic
//!   base64(api_key:)"`), "credentials" (non-secret parts only: `email`, `username`,
//!   `company_id`, `public_key`, `integration_client_id`), "provenance"}`, plus
//!   `exchange_endpoint` (Redtail), `client_id_header` and `api_current_version`
//!   (ConnectWise); this object is also `GET /__handshake/native`;
//! - `api`: `{"list", "item" (URL template with `{id}`), "envelope", "item_envelope",
//!   "format", "empty_status", "not_found_status"}`;
//! - `paging`: the profile's `api.paging` (`style`, parameter names, sizes, headers), plus
//!   `forward_only: {"header", "param": "pageId"}` (ConnectWise), `cursor_field`/`count_field`
//!   (Agile: the record fields; a body path where the profile puts them in the body) and
//!   `has_more_field`/`next_url_field`/`done_field`/`record_count_field` (body paths, when
//!   the profile has them);
//! - `dataset`: `{"count", "seed", "id_field", "first_id", "last_id"}`;
//! - `rate_limit`: the effective `{"limit", "window_secs", "per", "headers", "retry_after",
//!   "body", "status"}` (`status`: 429, or 403 for Salesforce), or `null`.
//!
//! Profiles with `oauth.well_known = true` (Capsule) also serve the RFC 8414 fields at
//! `/.well-known/oauth-authorization-server`.
//!
//! A journal entry:
//!
//! ```json
//! {"seq": 3, "endpoint": "token", "method": "POST", "path": "/oauth/token", "query": [],
//!  "headers": [["authorization", "Basic [redacted]"], ...],
//!  "params": [["grant_type", "authorization_code"], ["code", "[redacted:1f2e3d4c]"], ...],
//!  "grant_type": "authorization_code", "client_auth": "client_secret_basic", "status": 200,
//!  "auth_mode": null}
//! {"seq": 4, "endpoint": "api", "method": "GET", "path": "/v3.1/Contacts",
//!  "query": [["skip", "100"], ["top", "100"]], "headers": [["authorization", "Basic [redacted]"], ...],
//!  "params": [], "grant_type": null, "client_auth": null, "status": 200, "auth_mode": "basic_api_key"}
//! {"seq": 5, "endpoint": "authorize", "method": "GET", "path": "/oauth/authorize", ...,
//!  "status": 302, "error": "invalid_request",
//!  "error_description": "code_challenge is required: ConnectWise Manage (PSA) requires PKCE (RFC 7636); send code_challenge with code_challenge_method=S256 ...",
//!  "requirement": "pkce", "user": null}
//! ```
//!
//! Entries also carry `error`, `error_description`, `requirement` and `user` (all `null` on
//! the first two): see [`JournalEntry`].
//!
//! The API endpoint covers `{api.path}`, `{api.path}/{id}` and Redtail's key exchange, for
//! faults and the journal alike.
//!
//! # HTTPS
//!
//! Real CRMs are HTTPS-only, and some clients refuse plain HTTP for revocation.
//! [`MockProviderBuilder::tls`] generates a CA and a certificate for `localhost` and the bound
//! IP at start; trust [`MockProvider::ca_cert_pem`] in the client. With
//! [`MockProviderBuilder::tls_dir`] the CA is kept in a directory and reused at the next
//! start ([`MockProvider::ca_cert_path`]), so a client that trusts it survives a restart.
//!
//! # In-process tests
//!
//! [`MockProviderBuilder::into_router`] returns the [`axum::Router`] without binding a socket,
//! for `tower::ServiceExt::oneshot`.
//!
//! # Prior art
//!
//! The API follows [wiremock](https://docs.rs/wiremock): `start()`, `uri()`, staged builders,
//! a journal of received requests, expectations verified on drop.

mod answers;
mod authorize;
mod bounds;
mod client_auth;
mod conn;
mod control;
mod dataset;
mod expect;
mod journal;
pub mod limits;
mod live;
mod log;
mod metadata;
mod native;
mod observe;
mod openapi;
mod page;
mod page_cache;
mod params;
mod pkce;
mod provider;
mod relax;
mod resource;
mod responses;
mod revoke;
mod router;
mod state;
mod store;
mod sync;
mod tls;
mod token;
mod types;
mod users;

pub use expect::{ExpectationBuilder, Times, UnmetExpectation, VerifyError};
pub use handshake_profile::{ClientAuth, NativeScheme, Profile};
pub use log::LogStyle;
pub use native::{NativeCredentials, NativeSetting};
pub use openapi::OPENAPI_JSON;
pub use provider::{ArmedFault, FaultBuilder, MockProvider, MockProviderBuilder};
pub use types::{
    ClientSecret, Endpoint, Fault, FaultKind, JournalEntry, MockError, OAuthError,
    RegisteredClient, Relaxation,
};
