//! Locking that survives a panic elsewhere: a leaf, so the journal and the state can both
//! use it without depending on each other.

use std::sync::{Mutex, MutexGuard, PoisonError};

pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic elsewhere must not turn every later request into a 500.
    m.lock().unwrap_or_else(PoisonError::into_inner)
}
