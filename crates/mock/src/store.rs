//! Codes, grants and tokens, on a virtual clock, with bounded memory.
//!
//! Memory is bounded by construction (see [`crate::limits`]): at most
//! [`MAX_CODES`](crate::limits::MAX_CODES) codes and
//! [`MAX_CONSENTS`](crate::limits::MAX_CONSENTS) consents (the oldest forgotten first), at
//! most [`MAX_GRANTS_PER_CLIENT`](crate::limits::MAX_GRANTS_PER_CLIENT) grants per client
//! (the oldest evicted first), and per grant at most [`LIVE_ACCESS_TOKENS`] access tokens and
//! [`RETIRED_REFRESH_TOKENS`] retired refresh tokens; rotation replaces the refresh token in
//! place. Refresh-token rotation lives here whole, as the profile's [`Rotation`] says: whether
//! a refresh rotates, which tokens are retired, and what presenting a retired one costs. Expired codes and consents, and grants nothing can use any more, are forgotten a
//! little at a time on each operation that creates state (a consent, a code, a grant;
//! `bounds.rs`), never by a walk of everything under the store's lock.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use handshake_profile::{PkceMethod, Rotation};
use rand::RngCore;
use rustc_hash::FxHashMap;

use crate::bounds::{later, Expiring, GrantOrder, EXPIRED_GRACE};
pub(crate) use crate::limits::{LIVE_ACCESS_TOKENS, RETIRED_REFRESH_TOKENS};
use crate::limits::{MAX_CODES, MAX_CONSENTS, SWEEP_PER_OP};

/// 256 bits from the thread-local CSPRNG, base64url.
pub(crate) fn random_token() -> String {
    Tok::random().as_str().to_owned()
}

/// A grant's scopes, shared.
pub(crate) type Scope = std::sync::Arc<[String]>;

/// Length of a token: 32 bytes in base64url without padding.
const TOKEN_LEN: usize = 43;

/// An access or refresh token the mock issued: 256 bits from the thread-local CSPRNG,
/// base64url, kept inline. The token maps hold no allocation per token, and a lookup
/// compares in place instead of following a pointer to a string freed or allocated far
/// away (the store's largest cost on the refresh path when tokens were `String`s).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct Tok([u8; TOKEN_LEN]);

impl Tok {
    pub(crate) fn random() -> Tok {
        let mut bytes = [0u8; 32];
        rand::thread_rng().fill_bytes(&mut bytes);
        let mut out = [0u8; TOKEN_LEN];
        // 32 bytes encode to exactly TOKEN_LEN: the slice is always large enough.
        let _ = URL_SAFE_NO_PAD.encode_slice(bytes, &mut out);
        Tok(out)
    }

    /// The token a client presented, as a key; `None` when it cannot be one of ours.
    fn key(presented: &str) -> Option<Tok> {
        presented.as_bytes().try_into().ok().map(Tok)
    }

    pub(crate) fn as_str(&self) -> &str {
        // base64url is ASCII; `key` only makes keys for lookups, never tokens to answer.
        std::str::from_utf8(&self.0).unwrap_or_default()
    }
}

impl std::fmt::Debug for Tok {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Tok([redacted])")
    }
}

/// Real time plus an offset that tests can advance.
#[derive(Debug, Default)]
pub(crate) struct Clock {
    offset_ms: AtomicU64,
}

impl Clock {
    pub(crate) fn now(&self) -> Instant {
        Instant::now() + self.offset()
    }
    pub(crate) fn offset(&self) -> Duration {
        Duration::from_millis(self.offset_ms.load(Ordering::Relaxed))
    }
    pub(crate) fn advance(&self, by: Duration) {
        let ms = u64::try_from(by.as_millis()).unwrap_or(u64::MAX);
        let _ = self
            .offset_ms
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |o| {
                Some(o.saturating_add(ms))
            });
    }
    pub(crate) fn reset(&self) {
        self.offset_ms.store(0, Ordering::Relaxed);
    }
    /// Unix seconds on the virtual clock, for `X-RateLimit-Reset`.
    pub(crate) fn unix_secs(&self) -> u64 {
        self.unix_now().as_secs()
    }
    /// Time since the Unix epoch on the virtual clock.
    pub(crate) fn unix_now(&self) -> Duration {
        (SystemTime::now() + self.offset())
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
    }
}

/// Counts one call in a fixed window `(start, count)`. Returns (allowed, remaining,
/// reset_in). A refused call is not counted, so the window still ends on time.
pub(crate) fn count_in_window(
    slot: &mut Option<(Instant, u32)>,
    limit: u32,
    window: Duration,
    now: Instant,
) -> (bool, u32, Duration) {
    let (start, count) = match *slot {
        Some((start, count)) if now < later(start, window) => (start, count),
        _ => (now, 0),
    };
    let allowed = count < limit;
    let count = if allowed { count + 1 } else { count };
    *slot = Some((start, count));
    (
        allowed,
        limit.saturating_sub(count),
        later(start, window).saturating_duration_since(now),
    )
}

/// A validated authorization request, waiting for consent or turned into a code.
#[derive(Debug, Clone)]
pub(crate) struct AuthRequest {
    pub(crate) client_id: String,
    pub(crate) redirect_uri: String,
    /// Whether the request named `redirect_uri` (then the token request must repeat it).
    pub(crate) redirect_explicit: bool,
    pub(crate) scope: Vec<String>,
    pub(crate) state: Option<String>,
    pub(crate) challenge: Option<(PkceMethod, String)>,
    /// Index of the user account that approves (0 until the consent form names one).
    pub(crate) user: usize,
    /// Whether the request carried the profile's `tokens.refresh_token_requires` (Zoho
    /// `access_type=offline`); true when it names none.
    pub(crate) refresh_allowed: bool,
    /// Whether it carried `tokens.refresh_token_reissue_requires` (Zoho `prompt=consent`).
    pub(crate) reissue_allowed: bool,
}

pub(crate) struct CodeEntry {
    pub(crate) req: AuthRequest,
    expires_at: Instant,
    /// The grant issued when the code was redeemed.
    pub(crate) redeemed: Option<u64>,
}

struct Consent {
    req: AuthRequest,
    expires_at: Instant,
}

pub(crate) struct Grant {
    pub(crate) client_id: String,
    /// Shared with every token response and API lookup of the grant (no copy per request).
    pub(crate) scope: Scope,
    /// Index of the user account the grant acts for; its tokens inherit it.
    pub(crate) user: usize,
    /// Live access tokens, oldest first, with their expiry (as in `Store::access`), so the
    /// sweep can tell a dead grant without a lookup per token.
    access_tokens: VecDeque<(Tok, Instant)>,
    refresh_token: Option<Tok>,
    refresh_expires_at: Option<Instant>,
    /// When the current refresh token's own lifetime ends, whatever its idle expiry says
    /// (kept by [`Store::slide_refresh`]).
    refresh_deadline: Option<Instant>,
    retired: VecDeque<Tok>,
    rate_window: Option<(Instant, u32)>,
}

struct AccessEntry {
    grant: u64,
    expires_at: Instant,
}

struct RefreshEntry {
    grant: u64,
    current: bool,
}

/// What a code redemption found.
pub(crate) enum Redeem {
    Fresh(AuthRequest),
    Unknown,
    Expired,
    /// Already redeemed; carries the grant it issued.
    Reused(Option<u64>),
}

/// What a refresh-token lookup found.
pub(crate) enum RefreshLookup {
    Current {
        grant: u64,
    },
    /// A rotated-out token, presented again; under [`Rotation::RotateReuseRevokesFamily`]
    /// the lookup has revoked its whole grant (reuse detection, RFC 9700 §4.14.2).
    Retired {
        family_revoked: bool,
    },
    Expired,
    Unknown,
}

/// What the API resource learns about a bearer token.
pub(crate) enum AccessLookup {
    Valid {
        grant: u64,
        scope: Scope,
        user: usize,
    },
    Expired {
        grant: u64,
        scope: Scope,
        user: usize,
        /// How long ago the token expired.
        ago: Duration,
    },
    Unknown,
}

/// Tokens issued by one token response.
pub(crate) struct Issued {
    pub(crate) access_token: Tok,
    pub(crate) refresh_token: Option<Tok>,
    pub(crate) scope: Scope,
    /// A new grant only: the client's oldest grant, evicted to make room for it.
    pub(crate) evicted: Option<u64>,
    /// A new grant only: the user's oldest grants, deleted by the profile's
    /// `tokens.max_refresh_tokens_per_user` (Zoho).
    pub(crate) capped: Vec<u64>,
}

#[derive(Default)]
pub(crate) struct Store {
    // Keyed by 256-bit random values the mock generated (or grant numbers), so a fast
    // non-keyed hash is safe: a client chooses what it looks up, never what is stored, and
    // cannot crowd a bucket.
    codes: FxHashMap<String, CodeEntry>,
    consents: FxHashMap<String, Consent>,
    grants: FxHashMap<u64, Grant>,
    access: FxHashMap<Tok, AccessEntry>,
    refresh: FxHashMap<Tok, RefreshEntry>,
    next_grant: u64,
    code_order: Expiring<String, MAX_CODES>,
    consent_order: Expiring<String, MAX_CONSENTS>,
    grant_order: GrantOrder,
}

impl Store {
    /// A little expiry on each operation: codes and consents expired for
    /// [`EXPIRED_GRACE`], and [`SWEEP_PER_OP`] grants looked at by the sweep's clock hand
    /// (a grant is forgotten when its last token expired that long ago).
    fn tick(&mut self, now: Instant) {
        for _ in 0..2 * SWEEP_PER_OP {
            let Some(code) = self.code_order.pop_expired(now) else {
                break;
            };
            self.codes.remove(&code);
        }
        for _ in 0..2 * SWEEP_PER_OP {
            let Some(id) = self.consent_order.pop_expired(now) else {
                break;
            };
            self.consents.remove(&id);
        }
        for _ in 0..SWEEP_PER_OP {
            let Some(id) = self.grant_order.next_for_sweep() else {
                break;
            };
            match self.grants.get(&id) {
                None => {}
                Some(g) if self.unusable(g, now) => self.revoke_grant(id),
                Some(_) => self.grant_order.keep(id),
            }
        }
    }

    /// Whether nothing can use the grant any more: its refresh token (if any) and every
    /// access token expired at least [`EXPIRED_GRACE`] ago.
    fn unusable(&self, g: &Grant, now: Instant) -> bool {
        let gone = |at: Instant| later(at, EXPIRED_GRACE) <= now;
        let refresh_alive =
            g.refresh_token.is_some() && g.refresh_expires_at.is_none_or(|exp| !gone(exp));
        let access_alive = g.access_tokens.iter().any(|&(_, exp)| !gone(exp));
        !refresh_alive && !access_alive
    }

    /// Forgets expired codes and consents, expired access tokens, and grants nothing can use
    /// any more (no live refresh token and no live access token), walking everything: for
    /// tests only; the request path expires a little at a time (`tick`).
    #[cfg(test)]
    pub(crate) fn purge(&mut self, now: Instant) {
        self.codes.retain(|_, c| c.expires_at > now);
        self.consents.retain(|_, c| c.expires_at > now);
        let access = &mut self.access;
        access.retain(|_, a| a.expires_at > now);
        let mut dead = Vec::new();
        for (id, g) in self.grants.iter_mut() {
            g.access_tokens.retain(|(t, _)| access.contains_key(t));
            let refresh_alive =
                g.refresh_token.is_some() && g.refresh_expires_at.is_none_or(|exp| exp > now);
            if !refresh_alive && g.access_tokens.is_empty() {
                dead.push(*id);
            }
        }
        for id in dead {
            self.revoke_grant(id);
        }
    }

    pub(crate) fn add_consent(&mut self, req: AuthRequest, now: Instant, ttl: Duration) -> String {
        self.tick(now);
        let id = random_token();
        let expires_at = later(now, ttl);
        if let Some(oldest) = self.consent_order.push(expires_at, id.clone()) {
            self.consents.remove(&oldest);
        }
        self.consents
            .insert(id.clone(), Consent { req, expires_at });
        id
    }

    /// Takes a pending consent: each consent id is usable once.
    pub(crate) fn take_consent(&mut self, id: &str, now: Instant) -> Option<AuthRequest> {
        let c = self.consents.remove(id)?;
        (c.expires_at > now).then_some(c.req)
    }

    pub(crate) fn add_code(&mut self, req: AuthRequest, now: Instant, ttl: Duration) -> String {
        self.tick(now);
        let code = random_token();
        let expires_at = later(now, ttl);
        if let Some(oldest) = self.code_order.push(expires_at, code.clone()) {
            self.codes.remove(&oldest);
        }
        self.codes.insert(
            code.clone(),
            CodeEntry {
                req,
                expires_at,
                redeemed: None,
            },
        );
        code
    }

    /// Looks a code up and marks it redeemed when `single_use`.
    pub(crate) fn redeem_code(&mut self, code: &str, now: Instant, single_use: bool) -> Redeem {
        self.tick(now);
        let Some(entry) = self.codes.get_mut(code) else {
            return Redeem::Unknown;
        };
        if entry.expires_at <= now {
            self.codes.remove(code);
            return Redeem::Expired;
        }
        if single_use && entry.redeemed.is_some() {
            return Redeem::Reused(entry.redeemed);
        }
        Redeem::Fresh(entry.req.clone())
    }

    /// Records which grant a code produced, for revocation on reuse.
    pub(crate) fn mark_redeemed(&mut self, code: &str, grant: u64) {
        if let Some(entry) = self.codes.get_mut(code) {
            entry.redeemed = Some(grant);
        }
    }

    /// Creates a grant and its first tokens.
    pub(crate) fn new_grant(
        &mut self,
        client_id: &str,
        scope: Vec<String>,
        now: Instant,
        access_ttl: Duration,
        refresh: Option<Option<Duration>>,
    ) -> (u64, Issued) {
        let scope = Scope::from(scope);
        self.next_grant += 1;
        let id = self.next_grant;
        self.grants.insert(
            id,
            Grant {
                client_id: client_id.to_owned(),
                scope: scope.clone(),
                user: 0,
                // One more than kept: a token is pushed before the oldest goes.
                access_tokens: VecDeque::with_capacity(LIVE_ACCESS_TOKENS + 1),
                refresh_token: None,
                refresh_expires_at: None,
                refresh_deadline: None,
                retired: VecDeque::with_capacity(RETIRED_REFRESH_TOKENS + 1),
                rate_window: None,
            },
        );
        let grants = &self.grants;
        self.grant_order
            .added(client_id, id, |g| grants.contains_key(&g));
        let grants = &self.grants;
        let evicted = self
            .grant_order
            .over_cap(client_id, |g| g != id && grants.contains_key(&g));
        if let Some(old) = evicted {
            self.revoke_grant(old);
        }
        let access_token = self.issue_access(id, now, access_ttl);
        let refresh_token = refresh.map(|ttl| self.set_refresh(id, now, ttl, false));
        (
            id,
            Issued {
                access_token,
                refresh_token,
                scope,
                evicted,
                capped: Vec::new(),
            },
        )
    }

    fn issue_access(&mut self, grant: u64, now: Instant, ttl: Duration) -> Tok {
        let token = Tok::random();
        let expires_at = later(now, ttl);
        self.access.insert(token, AccessEntry { grant, expires_at });
        if let Some(g) = self.grants.get_mut(&grant) {
            g.access_tokens.push_back((token, expires_at));
            if g.access_tokens.len() > LIVE_ACCESS_TOKENS {
                if let Some((old, _)) = g.access_tokens.pop_front() {
                    self.access.remove(&old);
                }
            }
        }
        token
    }

    /// Gives the grant a new current refresh token, retiring the previous one (which stays
    /// valid when `keep_old`, Entra's rotation, until [`RETIRED_REFRESH_TOKENS`] newer ones
    /// push it out).
    fn set_refresh(
        &mut self,
        grant: u64,
        now: Instant,
        ttl: Option<Duration>,
        keep_old: bool,
    ) -> Tok {
        let token = Tok::random();
        self.refresh.insert(
            token,
            RefreshEntry {
                grant,
                current: true,
            },
        );
        if let Some(g) = self.grants.get_mut(&grant) {
            g.refresh_expires_at = ttl.map(|t| later(now, t));
            if let Some(old) = g.refresh_token.replace(token) {
                if let Some(e) = self.refresh.get_mut(&old).filter(|_| !keep_old) {
                    e.current = false;
                }
                g.retired.push_back(old);
                if g.retired.len() > RETIRED_REFRESH_TOKENS {
                    if let Some(forgotten) = g.retired.pop_front() {
                        self.refresh.remove(&forgotten);
                    }
                }
            }
        }
        token
    }

    /// Looks a refresh token up; a retired one revokes its grant when `rotation` says so.
    pub(crate) fn lookup_refresh(
        &mut self,
        token: &str,
        now: Instant,
        rotation: Rotation,
    ) -> RefreshLookup {
        // No sweep here: refreshing creates no grant, and the operations that create state
        // (consents, codes, grants) sweep ahead of it; the hot path stays off cold grants.
        let Some(e) = Tok::key(token).and_then(|t| self.refresh.get(&t)) else {
            return RefreshLookup::Unknown;
        };
        let grant = e.grant;
        let Some(g) = self.grants.get(&grant) else {
            return RefreshLookup::Unknown;
        };
        if !e.current {
            let family_revoked = rotation == Rotation::RotateReuseRevokesFamily;
            if family_revoked {
                self.revoke_grant(grant);
            }
            return RefreshLookup::Retired { family_revoked };
        }
        if g.refresh_expires_at.is_some_and(|exp| exp <= now) {
            return RefreshLookup::Expired;
        }
        RefreshLookup::Current { grant }
    }

    pub(crate) fn grant(&self, id: u64) -> Option<&Grant> {
        self.grants.get(&id)
    }

    /// Says which user account a grant acts for.
    pub(crate) fn set_user(&mut self, grant: u64, user: usize) {
        if let Some(g) = self.grants.get_mut(&grant) {
            g.user = user;
        }
    }

    /// Grants that can still be used (a live refresh token or a live access token), of one
    /// user or of all.
    pub(crate) fn live_grants(&self, user: Option<usize>, now: Instant) -> usize {
        self.grants
            .values()
            .filter(|g| user.is_none_or(|u| g.user == u))
            .filter(|g| {
                let refresh_alive =
                    g.refresh_token.is_some() && g.refresh_expires_at.is_none_or(|exp| exp > now);
                refresh_alive || g.access_tokens.iter().any(|&(_, exp)| exp > now)
            })
            .count()
    }

    /// A refresh token's idle expiry (Pipedrive: 60 days unused): it now expires `idle` from
    /// `now`, or at the end of its own lifetime if that comes first. `fresh`: the grant's
    /// refresh token was just issued, so its lifetime starts over.
    pub(crate) fn slide_refresh(&mut self, grant: u64, now: Instant, idle: Duration, fresh: bool) {
        if let Some(g) = self.grants.get_mut(&grant) {
            if g.refresh_token.is_none() {
                return;
            }
            if fresh {
                g.refresh_deadline = g.refresh_expires_at;
            }
            let idle_end = later(now, idle);
            g.refresh_expires_at = Some(g.refresh_deadline.map_or(idle_end, |d| d.min(idle_end)));
        }
    }

    /// The grants of `client_id` for `user` holding a live refresh token, oldest first
    /// (Zoho's refresh tokens per user). A walk of the grants, bounded by
    /// [`MAX_GRANTS_PER_CLIENT`](crate::limits::MAX_GRANTS_PER_CLIENT) per client; only
    /// profiles that cap or gate refresh tokens per user call it, once per code exchange.
    pub(crate) fn user_refresh_grants(
        &self,
        client_id: &str,
        user: usize,
        now: Instant,
    ) -> Vec<u64> {
        let mut ids: Vec<u64> = self
            .grants
            .iter()
            .filter(|(_, g)| g.user == user && g.client_id == client_id)
            .filter(|(_, g)| {
                g.refresh_token.is_some() && g.refresh_expires_at.is_none_or(|exp| exp > now)
            })
            .map(|(id, _)| *id)
            .collect();
        // Grant numbers grow: the oldest first.
        ids.sort_unstable();
        ids
    }

    /// Revokes every grant of one user, with every token they issued. Returns how many.
    pub(crate) fn revoke_user(&mut self, user: usize) -> usize {
        let ids: Vec<u64> = self
            .grants
            .iter()
            .filter(|(_, g)| g.user == user)
            .map(|(id, _)| *id)
            .collect();
        for id in &ids {
            self.revoke_grant(*id);
        }
        ids.len()
    }

    /// Issues tokens for a refresh: always a new access token; a new refresh token (living
    /// `refresh_ttl`, `None` for ever) unless `rotation` is off, else the current one again.
    pub(crate) fn refresh_grant(
        &mut self,
        grant: u64,
        scope: Scope,
        now: Instant,
        access_ttl: Duration,
        rotation: Rotation,
        refresh_ttl: Option<Duration>,
    ) -> Issued {
        let access_token = self.issue_access(grant, now, access_ttl);
        let refresh_token = match rotation {
            Rotation::Rotate | Rotation::RotateReuseRevokesFamily => {
                Some(self.set_refresh(grant, now, refresh_ttl, false))
            }
            Rotation::RotateOldStaysValid => Some(self.set_refresh(grant, now, refresh_ttl, true)),
            Rotation::Off => self.grants.get(&grant).and_then(|g| g.refresh_token),
        };
        Issued {
            access_token,
            refresh_token,
            scope,
            evicted: None,
            capped: Vec::new(),
        }
    }

    pub(crate) fn lookup_access(&self, token: &str, now: Instant) -> AccessLookup {
        let Some(a) = Tok::key(token).and_then(|t| self.access.get(&t)) else {
            return AccessLookup::Unknown;
        };
        let Some(g) = self.grants.get(&a.grant) else {
            return AccessLookup::Unknown;
        };
        let scope = g.scope.clone();
        if a.expires_at <= now {
            AccessLookup::Expired {
                grant: a.grant,
                scope,
                user: g.user,
                ago: now.saturating_duration_since(a.expires_at),
            }
        } else {
            AccessLookup::Valid {
                grant: a.grant,
                scope,
                user: g.user,
            }
        }
    }

    /// Which grant and client a token (access or refresh) belongs to.
    pub(crate) fn token_owner(&self, token: &str, refresh_first: bool) -> Option<(u64, bool)> {
        let token = Tok::key(token)?;
        let as_refresh = || self.refresh.get(&token).map(|e| (e.grant, true));
        let as_access = || self.access.get(&token).map(|e| (e.grant, false));
        if refresh_first {
            as_refresh().or_else(as_access)
        } else {
            as_access().or_else(as_refresh)
        }
    }

    pub(crate) fn revoke_access_token(&mut self, token: &str) {
        let Some(token) = Tok::key(token) else {
            return;
        };
        if let Some(a) = self.access.remove(&token) {
            if let Some(g) = self.grants.get_mut(&a.grant) {
                g.access_tokens.retain(|(t, _)| *t != token);
            }
        }
    }

    /// Removes a grant with every token it issued.
    pub(crate) fn revoke_grant(&mut self, id: u64) {
        if let Some(g) = self.grants.remove(&id) {
            self.grant_order.removed(&g.client_id);
            for (t, _) in g.access_tokens {
                self.access.remove(&t);
            }
            for t in g.refresh_token.into_iter().chain(g.retired) {
                self.refresh.remove(&t);
            }
        }
    }

    pub(crate) fn revoke_all(&mut self) {
        self.grant_order.clear();
        self.grants.clear();
        self.access.clear();
        self.refresh.clear();
    }

    pub(crate) fn expire_access_tokens(&mut self, now: Instant) {
        for a in self.access.values_mut() {
            a.expires_at = a.expires_at.min(now);
        }
        for g in self.grants.values_mut() {
            for (_, exp) in &mut g.access_tokens {
                *exp = (*exp).min(now);
            }
        }
    }

    /// Counts one API call against the grant's window. Returns (allowed, remaining, reset_in).
    pub(crate) fn rate(
        &mut self,
        grant: u64,
        limit: u32,
        window: Duration,
        now: Instant,
    ) -> (bool, u32, Duration) {
        let Some(g) = self.grants.get_mut(&grant) else {
            return (true, limit, window);
        };
        count_in_window(&mut g.rate_window, limit, window, now)
    }

    /// Sizes, for tests of boundedness.
    #[cfg(test)]
    pub(crate) fn sizes(&self) -> [usize; 5] {
        [
            self.codes.len(),
            self.consents.len(),
            self.grants.len(),
            self.access.len(),
            self.refresh.len(),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req() -> AuthRequest {
        AuthRequest {
            client_id: "c".into(),
            redirect_uri: "http://x/cb".into(),
            redirect_explicit: true,
            scope: vec!["read".into()],
            state: None,
            challenge: None,
            user: 0,
            refresh_allowed: true,
            reissue_allowed: true,
        }
    }

    #[test]
    fn rotation_replaces_entries_instead_of_accumulating() {
        let mut s = Store::default();
        let now = Instant::now();
        let ttl = Duration::from_secs(3600);
        let (g, _) = s.new_grant("c", vec![], now, ttl, Some(None));
        for _ in 0..10_000 {
            s.refresh_grant(g, vec![].into(), now, ttl, Rotation::Rotate, None);
        }
        let [_, _, grants, access, refresh] = s.sizes();
        assert_eq!(grants, 1);
        assert_eq!(access, LIVE_ACCESS_TOKENS);
        assert_eq!(refresh, RETIRED_REFRESH_TOKENS + 1);
    }

    #[test]
    fn purge_forgets_dead_grants_and_expired_codes() {
        let mut s = Store::default();
        let now = Instant::now();
        for _ in 0..100 {
            s.add_code(req(), now, Duration::from_secs(60));
            s.new_grant("c", vec![], now, Duration::from_secs(10), None);
        }
        s.purge(now + Duration::from_secs(61));
        assert_eq!(s.sizes(), [0, 0, 0, 0, 0]);
    }

    #[test]
    fn grants_are_counted_and_revoked_per_user() {
        let mut s = Store::default();
        let now = Instant::now();
        let hour = Duration::from_secs(3600);
        let (a, _) = s.new_grant("c", vec![], now, hour, Some(None));
        let (b, _) = s.new_grant("c", vec![], now, hour, None);
        s.set_user(b, 1);
        assert_eq!(s.grant(a).unwrap().user, 0);
        assert_eq!(s.live_grants(Some(0), now), 1);
        assert_eq!(s.live_grants(Some(1), now), 1);
        assert_eq!(s.live_grants(None, now), 2);
        // Bob's grant has no refresh token: it dies with its access token.
        assert_eq!(s.live_grants(Some(1), now + hour), 0);
        assert_eq!(s.live_grants(Some(0), now + hour), 1);
        assert_eq!(s.revoke_user(0), 1);
        assert_eq!(s.live_grants(Some(0), now), 0);
        assert_eq!(s.live_grants(Some(1), now), 1);
        assert_eq!(s.revoke_user(5), 0);
    }

    #[test]
    fn tokens_have_256_bits() {
        let t = random_token();
        assert_eq!(URL_SAFE_NO_PAD.decode(&t).unwrap().len(), 32);
        assert_ne!(t, random_token());
    }
}
