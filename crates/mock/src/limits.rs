//! Every bound that keeps a mock's memory and connections finite, whatever arrives.
//!
//! A mock keeps state only in the structures below, and each has a fixed ceiling: a client
//! that floods it with huge headers, endless authorization requests or new grants gets
//! answers (or evictions), never unbounded growth. The README's "Bounds" table lists the
//! same values.
//!
//! ```
//! use handshake_mock::limits;
//!
//! assert_eq!(limits::MAX_STATE_BYTES, 2048);
//! assert!(limits::JOURNAL_BYTES >= limits::JOURNAL_ENTRY_BYTES * 64);
//! ```

use std::time::Duration;

/// Largest request body accepted; a larger one is answered 413 (an RFC 6749 error JSON on
/// the OAuth endpoints, the CRM's error shape on the API).
pub const BODY_LIMIT: usize = 64 * 1024;

/// Journal entries kept; the oldest is evicted first.
pub const JOURNAL_ENTRIES: usize = 4096;
/// Bytes the journal may hold in all (entries are evicted, oldest first, to stay under it).
pub const JOURNAL_BYTES: usize = 4 * 1024 * 1024;
/// Bytes one journal entry may hold for its query, headers and body fields together; what
/// does not fit is summarised by a marker entry (`…`, `N more`).
pub const JOURNAL_ENTRY_BYTES: usize = 16 * 1024;
/// Longest query, body or header value kept whole in the journal, in bytes as received;
/// a longer one is cut and ends with `…[cut: N bytes]`, N its full length.
pub const JOURNAL_VALUE_BYTES: usize = 1024;
/// Bytes of a request body the journal decodes its `params` from.
pub const JOURNAL_BODY_BYTES: usize = 8 * 1024;
/// Headers, query parameters and body parameters kept per journal entry, each.
pub const JOURNAL_FIELDS: usize = 64;
/// Longest path kept whole in a journal entry.
pub const JOURNAL_PATH_BYTES: usize = 1024;

/// Longest `state` accepted by the authorization endpoint, in bytes (decoded); a longer one
/// is refused with `invalid_request`, as providers refuse a `state` they consider invalid.
/// (The value is handshake's choice; no CRM documents one.)
pub const MAX_STATE_BYTES: usize = 2048;
/// Authorization codes kept at once (issued and not yet expired, redeemed ones included for
/// reuse detection). Issuing one more forgets the oldest, which then answers
/// `invalid_grant`.
pub const MAX_CODES: usize = 4096;
/// Consent pages pending at once. Showing one more forgets the oldest, whose form then
/// answers "unknown, used or expired consent request".
pub const MAX_CONSENTS: usize = 4096;
/// Live grants per client. A new grant beyond it evicts the client's oldest grant with all
/// its tokens; the token response's journal entry records the eviction in `notes`.
pub const MAX_GRANTS_PER_CLIENT: usize = 1024;
/// Access tokens a grant keeps alive at once; issuing more forgets the oldest.
pub const LIVE_ACCESS_TOKENS: usize = 8;
/// Rotated-out refresh tokens a grant remembers for reuse detection (under
/// `rotation = "rotate_old_stays_valid"`, the old tokens that keep working; an older one is
/// forgotten).
pub const RETIRED_REFRESH_TOKENS: usize = 8;
/// Grants the expiry sweep examines per store operation (a clock hand over the grants in
/// creation order, never a walk of all of them under the lock).
pub const SWEEP_PER_OP: usize = 2;

/// Connections served at once (default of `MockProviderBuilder::max_connections`); one
/// more is answered `503` with an RFC 6749 `temporarily_unavailable` JSON body,
/// `Retry-After: 1`, and closed (over TLS: closed).
pub const MAX_CONNECTIONS: usize = 512;
/// Time a connection has to send a request's complete headers, counted from its opening or
/// from the end of the previous response (default of
/// `MockProviderBuilder::header_read_timeout`): a slow client (slowloris) and an idle
/// keep-alive connection are both closed when it passes.
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);
/// HTTP/1.1 read buffer per connection: a request line and headers larger than this are
/// refused by hyper with `431` before the mock sees them. With [`MAX_CONNECTIONS`], this and
/// [`BODY_LIMIT`] bound what open connections can hold.
pub const H1_MAX_BUF_BYTES: usize = 80 * 1024;
/// Concurrent streams per HTTP/2 connection.
pub const H2_MAX_STREAMS: u32 = 64;
/// HTTP/2 keep-alive: a ping after this much silence; no pong within the same time closes
/// the connection.
pub const H2_KEEP_ALIVE: Duration = Duration::from_secs(10);
