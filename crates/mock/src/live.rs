//! Journal entries as they happen: a broadcast channel that exists only once someone
//! subscribes ([`MockProvider::subscribe`](crate::MockProvider::subscribe)).
//!
//! The request path pays one atomic load while nobody ever subscribed, and nothing is
//! decoded for the channel while nobody listens: an entry is decoded and redacted for
//! subscribers (exactly as [`MockProvider::journal`](crate::MockProvider::journal) decodes
//! it) only when at least one receiver is alive.

use std::sync::OnceLock;

use tokio::sync::broadcast;

use crate::journal::{self, Captured};
use crate::types::JournalEntry;

/// Entries a subscriber may fall behind by before it misses some
/// ([`broadcast::error::RecvError::Lagged`] says how many). The channel holds this many
/// entries at most, each within the journal's per-entry bound
/// ([`JOURNAL_ENTRY_BYTES`](crate::limits::JOURNAL_ENTRY_BYTES)), so a subscription costs
/// a few MB at worst.
pub(crate) const LIVE_CAPACITY: usize = 256;

/// The live feed of one mock.
#[derive(Default)]
pub(crate) struct Live {
    tx: OnceLock<broadcast::Sender<JournalEntry>>,
}

impl Live {
    /// A new receiver of every entry recorded from now on.
    pub(crate) fn subscribe(&self) -> broadcast::Receiver<JournalEntry> {
        self.tx
            .get_or_init(|| broadcast::channel(LIVE_CAPACITY).0)
            .subscribe()
    }

    /// Sends the entry, decoded and redacted, to the subscribers, if there are any.
    pub(crate) fn publish(&self, entry: &JournalEntry, raw: &Captured, secrets: &[String]) {
        let Some(tx) = self.tx.get() else {
            return;
        };
        if tx.receiver_count() == 0 {
            return;
        }
        // An error means the last receiver went away meanwhile: nobody to tell.
        let _ = tx.send(journal::decoded(entry, raw, secrets));
    }
}
