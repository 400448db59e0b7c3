//! Requirements relaxed at run time ([`Relaxation`]), as one atomic bit set: read on every
//! authorization, token and revocation request without a lock.

use std::sync::atomic::{AtomicU8, Ordering};

use crate::types::Relaxation;

fn bit(r: Relaxation) -> u8 {
    match r {
        Relaxation::Pkce => 1,
        Relaxation::BodyEncoding => 2,
        Relaxation::ClientAuth => 4,
        Relaxation::Scope => 8,
    }
}

/// The set of relaxed requirements; empty at start and after a reset.
#[derive(Debug, Default)]
pub(crate) struct Relaxed(AtomicU8);

impl Relaxed {
    pub(crate) fn has(&self, r: Relaxation) -> bool {
        self.0.load(Ordering::Relaxed) & bit(r) != 0
    }

    pub(crate) fn add(&self, r: Relaxation) {
        self.0.fetch_or(bit(r), Ordering::Relaxed);
    }

    /// The relaxed requirements, in [`Relaxation::ALL`] order.
    pub(crate) fn list(&self) -> Vec<Relaxation> {
        Relaxation::ALL
            .into_iter()
            .filter(|r| self.has(*r))
            .collect()
    }

    pub(crate) fn clear(&self) {
        self.0.store(0, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_relaxation_is_its_own_bit() {
        let set = Relaxed::default();
        assert!(set.list().is_empty());
        for (i, r) in Relaxation::ALL.into_iter().enumerate() {
            set.add(r);
            assert!(set.has(r));
            assert_eq!(set.list(), Relaxation::ALL[..=i]);
        }
        set.add(Relaxation::Pkce);
        assert_eq!(set.list().len(), 4, "adding twice changes nothing");
        set.clear();
        assert!(Relaxation::ALL.iter().all(|r| !set.has(*r)));
    }
}
