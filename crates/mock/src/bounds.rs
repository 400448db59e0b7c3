//! The store's bookkeeping for its bounds: which codes and consents to forget (the oldest
//! beyond a cap, or expired), which grant a client must lose (its oldest beyond
//! [`MAX_GRANTS_PER_CLIENT`]), and which grants the expiry sweep looks at next.
//!
//! Every operation here is O(1) amortized: expiry pops from the front of queues kept in
//! creation order, and the sweep is a clock hand that looks at a few grants per store
//! operation instead of walking all of them under the store's lock.
//!
//! Also the one bound on time arithmetic ([`later`]), used by the store and the state alike.

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use crate::limits::MAX_GRANTS_PER_CLIENT;

/// Longest span the mock adds to an instant. Lifetimes, windows and rate-limit periods come
/// from profiles, builders and the control API; anything longer is "forever" and is capped
/// here so `Instant` arithmetic cannot overflow (which would panic on a request).
pub(crate) const FOREVER: Duration = Duration::from_secs(100 * 365 * 24 * 3600);

/// `at + d`, with `d` capped at [`FOREVER`].
pub(crate) fn later(at: Instant, d: Duration) -> Instant {
    let d = d.min(FOREVER);
    at.checked_add(d).unwrap_or(at)
}

/// How long an expired code, consent or grant is still recognised (and answered "expired"
/// rather than "unknown") before it is forgotten, on the mock's clock.
pub(crate) const EXPIRED_GRACE: Duration = Duration::from_secs(600);

/// Keys in creation order with their expiry, at most `CAP` of them. A mock's lifetimes are
/// fixed per kind, so creation order is expiry order and the front expires first.
pub(crate) struct Expiring<K, const CAP: usize> {
    queue: VecDeque<(Instant, K)>,
}

impl<K, const CAP: usize> Default for Expiring<K, CAP> {
    fn default() -> Self {
        Expiring {
            queue: VecDeque::new(),
        }
    }
}

impl<K, const CAP: usize> Expiring<K, CAP> {
    /// Records a new key expiring at `at`. Returns the oldest key when the cap pushes it
    /// out: the caller forgets it (a no-op when it is already gone).
    pub(crate) fn push(&mut self, at: Instant, key: K) -> Option<K> {
        self.queue.push_back((at, key));
        if self.queue.len() > CAP {
            self.queue.pop_front().map(|(_, k)| k)
        } else {
            None
        }
    }

    /// The oldest key whose expiry passed [`EXPIRED_GRACE`] ago, taken out of the queue.
    pub(crate) fn pop_expired(&mut self, now: Instant) -> Option<K> {
        match self.queue.front() {
            Some((at, _)) if later(*at, EXPIRED_GRACE) <= now => {
                self.queue.pop_front().map(|(_, k)| k)
            }
            _ => None,
        }
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.queue.len()
    }
}

/// Grants in creation order, globally (the sweep's clock hand) and per client (the cap).
#[derive(Default)]
pub(crate) struct GrantOrder {
    hand: VecDeque<u64>,
    clients: HashMap<String, ClientGrants>,
}

#[derive(Default)]
struct ClientGrants {
    /// Ids in creation order; ids of grants already gone are skipped and compacted away.
    ids: VecDeque<u64>,
    live: usize,
}

impl GrantOrder {
    /// Records a new grant of `client`.
    pub(crate) fn added(&mut self, client: &str, id: u64, exists: impl Fn(u64) -> bool) {
        self.hand.push_back(id);
        let c = match self.clients.get_mut(client) {
            Some(c) => c,
            None => self.clients.entry(client.to_owned()).or_default(),
        };
        c.ids.push_back(id);
        c.live += 1;
        if c.ids.len() > 2 * MAX_GRANTS_PER_CLIENT + 16 {
            // Revoked grants leave their ids behind; drop them (amortized O(1)).
            c.ids.retain(|id| exists(*id));
        }
    }

    /// The grant `client` must lose to stay within [`MAX_GRANTS_PER_CLIENT`], if any: its
    /// oldest grant that still exists.
    pub(crate) fn over_cap(&mut self, client: &str, exists: impl Fn(u64) -> bool) -> Option<u64> {
        let c = self.clients.get_mut(client)?;
        if c.live <= MAX_GRANTS_PER_CLIENT {
            return None;
        }
        while let Some(id) = c.ids.pop_front() {
            if exists(id) {
                return Some(id);
            }
        }
        None
    }

    /// Records that a grant of `client` is gone.
    pub(crate) fn removed(&mut self, client: &str) {
        if let Some(c) = self.clients.get_mut(client) {
            c.live = c.live.saturating_sub(1);
            if c.live == 0 {
                self.clients.remove(client);
            }
        }
    }

    /// The next grant for the sweep to look at; the caller hands it back with
    /// [`GrantOrder::keep`] when it lives on.
    pub(crate) fn next_for_sweep(&mut self) -> Option<u64> {
        self.hand.pop_front()
    }

    /// Puts a swept grant back, behind every other.
    pub(crate) fn keep(&mut self, id: u64) {
        self.hand.push_back(id);
    }

    pub(crate) fn clear(&mut self) {
        self.hand.clear();
        self.clients.clear();
    }

    #[cfg(test)]
    pub(crate) fn hand_len(&self) -> usize {
        self.hand.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::limits::SWEEP_PER_OP;

    #[test]
    fn the_cap_pushes_out_the_oldest_key() {
        let mut q: Expiring<u32, 3> = Expiring::default();
        let now = Instant::now();
        assert_eq!(q.push(now, 1), None);
        assert_eq!(q.push(now, 2), None);
        assert_eq!(q.push(now, 3), None);
        assert_eq!(q.push(now, 4), Some(1));
        assert_eq!(q.len(), 3);
    }

    #[test]
    fn expired_keys_go_after_the_grace() {
        let mut q: Expiring<u32, 10> = Expiring::default();
        let now = Instant::now();
        q.push(now, 1);
        q.push(now + Duration::from_secs(5), 2);
        assert_eq!(q.pop_expired(now + Duration::from_secs(1)), None);
        assert_eq!(q.pop_expired(now + EXPIRED_GRACE), Some(1));
        assert_eq!(q.pop_expired(now + EXPIRED_GRACE), None);
        assert_eq!(
            q.pop_expired(now + EXPIRED_GRACE + Duration::from_secs(5)),
            Some(2)
        );
    }

    #[test]
    fn a_client_over_the_cap_loses_its_oldest_existing_grant() {
        let mut o = GrantOrder::default();
        let gone = [1u64, 2];
        let exists = |id: u64| !gone.contains(&id);
        for id in 1..=(MAX_GRANTS_PER_CLIENT as u64) {
            o.added("c", id, exists);
        }
        // Grants 1 and 2 were revoked: the client has two fewer live ones.
        o.removed("c");
        o.removed("c");
        o.added("c", 5000, exists);
        assert_eq!(o.over_cap("c", exists), None);
        o.added("c", 5001, exists);
        o.added("c", 5002, exists);
        assert_eq!(
            o.over_cap("c", exists),
            Some(3),
            "ids of revoked grants are skipped"
        );
        assert_eq!(o.over_cap("other", exists), None);
    }

    #[test]
    fn the_sweep_forgets_unusable_grants_a_few_per_operation() {
        use crate::store::Store;
        let mut s = Store::default();
        let now = Instant::now();
        let ttl = Duration::from_secs(10);
        for _ in 0..100 {
            s.new_grant("c", vec![], now, ttl, None);
        }
        let (kept, _) = s.new_grant("c", vec![], now, ttl, Some(None));
        // Expired, but within the grace: still known (answered "expired", not "unknown").
        let soon = now + ttl + Duration::from_secs(1);
        for _ in 0..200 {
            s.redeem_code("none", soon, true);
        }
        assert_eq!(s.sizes()[2], 101);
        let later = now + ttl + EXPIRED_GRACE;
        s.redeem_code("none", later, true);
        assert_eq!(
            s.sizes()[2],
            101 - SWEEP_PER_OP,
            "one operation sweeps a few grants"
        );
        for _ in 0..100 {
            s.redeem_code("none", later, true);
        }
        assert_eq!(
            s.sizes()[2],
            1,
            "only the grant with a refresh token is left"
        );
        assert!(s.grant(kept).is_some());
        // A refresh creates nothing and sweeps nothing (the hot path stays off cold grants).
        for _ in 0..10 {
            s.new_grant("c", vec![], later, Duration::ZERO, None);
        }
        let before = s.sizes()[2];
        s.lookup_refresh(
            "none",
            later + EXPIRED_GRACE,
            handshake_profile::Rotation::Rotate,
        );
        assert_eq!(s.sizes()[2], before);
    }

    #[test]
    fn revoked_grant_ids_do_not_accumulate() {
        let mut o = GrantOrder::default();
        for id in 0..100_000u64 {
            o.added("c", id, |_| false);
            o.removed("c");
            assert!(o.next_for_sweep().is_some());
        }
        assert!(o.clients.is_empty());
        assert_eq!(o.hand_len(), 0);
    }
}
