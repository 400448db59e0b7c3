//! Expectations on a [`MockProvider`](crate::MockProvider) (wiremock-rs style): how many
//! requests an endpoint must receive, counted from the journal, checked on drop or by
//! [`MockProvider::verify`](crate::MockProvider::verify).

use std::fmt;
use std::ops::{Range, RangeFrom, RangeFull, RangeInclusive, RangeTo, RangeToInclusive};
use std::sync::atomic::Ordering;

use crate::state::Shared;
use crate::sync::lock;
use crate::types::{Endpoint, JournalEntry};

/// At most this many received requests are listed in a verification failure.
const LISTED: usize = 50;

/// How many requests an expectation accepts: a number or a range, as in wiremock-rs
/// (`1`, `1..=2`, `1..`, `..=3`, `..`).
///
/// ```
/// use handshake_mock::Times;
///
/// assert!(Times::from(1..=2).contains(2));
/// assert!(!Times::from(1..).contains(0));
/// assert_eq!(Times::from(2).to_string(), "exactly 2");
/// assert_eq!(Times::from(..3).to_string(), "at most 2");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Times {
    min: u64,
    max: Option<u64>,
}

impl Times {
    /// At least `n` (`n..`).
    pub fn at_least(n: u64) -> Times {
        Times { min: n, max: None }
    }

    /// At most `n` (`..=n`).
    pub fn at_most(n: u64) -> Times {
        Times {
            min: 0,
            max: Some(n),
        }
    }

    /// Whether `n` requests meet it.
    pub fn contains(&self, n: u64) -> bool {
        n >= self.min && self.max.is_none_or(|max| n <= max)
    }

    /// The least accepted.
    pub fn min(&self) -> u64 {
        self.min
    }

    /// The most accepted (`None`: no limit).
    pub fn max(&self) -> Option<u64> {
        self.max
    }
}

impl fmt::Display for Times {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.min, self.max) {
            (a, Some(b)) if a == b => write!(f, "exactly {a}"),
            (0, None) => f.write_str("any number of"),
            (0, Some(b)) => write!(f, "at most {b}"),
            (a, None) => write!(f, "at least {a}"),
            (a, Some(b)) => write!(f, "between {a} and {b}"),
        }
    }
}

impl From<u64> for Times {
    fn from(n: u64) -> Times {
        Times {
            min: n,
            max: Some(n),
        }
    }
}

impl From<RangeInclusive<u64>> for Times {
    /// # Panics
    /// If the range is empty.
    fn from(r: RangeInclusive<u64>) -> Times {
        assert!(
            !r.is_empty(),
            "an expectation's range must not be empty: {r:?}"
        );
        Times {
            min: *r.start(),
            max: Some(*r.end()),
        }
    }
}

impl From<Range<u64>> for Times {
    /// # Panics
    /// If the range is empty.
    fn from(r: Range<u64>) -> Times {
        assert!(
            !r.is_empty(),
            "an expectation's range must not be empty: {r:?}"
        );
        Times {
            min: r.start,
            max: Some(r.end - 1),
        }
    }
}

impl From<RangeFrom<u64>> for Times {
    fn from(r: RangeFrom<u64>) -> Times {
        Times::at_least(r.start)
    }
}

impl From<RangeTo<u64>> for Times {
    /// # Panics
    /// For `..0`, which no count meets.
    fn from(r: RangeTo<u64>) -> Times {
        assert!(r.end > 0, "an expectation's range must not be empty: {r:?}");
        Times::at_most(r.end - 1)
    }
}

impl From<RangeToInclusive<u64>> for Times {
    fn from(r: RangeToInclusive<u64>) -> Times {
        Times::at_most(r.end)
    }
}

impl From<RangeFull> for Times {
    fn from(_: RangeFull) -> Times {
        Times::at_least(0)
    }
}

/// One expectation, as the mock keeps it.
#[derive(Debug, Clone)]
struct Expectation {
    endpoint: Endpoint,
    times: Times,
    name: Option<String>,
    /// Requests with a journal `seq` above this one count (those that arrived after it was set).
    since: u64,
}

/// The expectations of one mock. Verified ones are retired.
#[derive(Debug, Default)]
pub(crate) struct Expectations(std::sync::Mutex<Vec<Expectation>>);

impl Expectations {
    /// A new expectation of at least one request to `endpoint`, counting from now.
    pub(crate) fn add(&self, endpoint: Endpoint, shared: &Shared) -> ExpectationBuilder<'_> {
        let since = shared.seq.load(Ordering::Relaxed);
        let mut all = lock(&self.0);
        all.push(Expectation {
            endpoint,
            times: Times::at_least(1),
            name: None,
            since,
        });
        ExpectationBuilder {
            expectations: self,
            index: all.len() - 1,
        }
    }

    fn update(&self, index: usize, f: impl FnOnce(&mut Expectation)) {
        if let Some(e) = lock(&self.0).get_mut(index) {
            f(e);
        }
    }

    /// Checks every expectation against the journal, and retires them.
    pub(crate) fn verify(&self, shared: &Shared) -> Result<(), VerifyError> {
        let all = std::mem::take(&mut *lock(&self.0));
        let Some(since) = all.iter().map(|e| e.since).min() else {
            return Ok(());
        };
        let arrived = shared.seq.load(Ordering::Relaxed) - since;
        let journal = shared.journal_since(since);
        let unmet: Vec<UnmetExpectation> = all
            .into_iter()
            .filter_map(|e| {
                let received = journal
                    .iter()
                    .filter(|j| j.seq > e.since && j.endpoint == Some(e.endpoint))
                    .count() as u64;
                (!e.times.contains(received)).then_some(UnmetExpectation {
                    name: e.name,
                    endpoint: e.endpoint,
                    expected: e.times,
                    received,
                })
            })
            .collect();
        if unmet.is_empty() {
            return Ok(());
        }
        // Entries the journal no longer holds (evicted, or forgotten by a reset) are not
        // counted; requests still in flight are not in it yet either.
        let missing = arrived.saturating_sub(journal.len() as u64);
        Err(VerifyError {
            provider: shared.profile.id.clone(),
            unmet,
            received: journal,
            missing,
        })
    }
}

/// An expectation set with [`MockProvider::expect`](crate::MockProvider::expect), to refine: how many requests, and a name
/// for the failure message. It is in force from `expect` on; the builder only changes it.
#[derive(Debug)]
pub struct ExpectationBuilder<'a> {
    expectations: &'a Expectations,
    index: usize,
}

impl ExpectationBuilder<'_> {
    /// Exactly this many requests (`1`), or a number in a range (`1..=2`, `2..`, `..=3`).
    ///
    /// # Panics
    /// If the range is empty (`2..1`).
    pub fn times(self, times: impl Into<Times>) -> Self {
        let times = times.into();
        self.expectations.update(self.index, |e| e.times = times);
        self
    }

    /// At least `n` requests.
    pub fn at_least(self, n: u64) -> Self {
        self.times(Times::at_least(n))
    }

    /// At most `n` requests (none is fine).
    pub fn at_most(self, n: u64) -> Self {
        self.times(Times::at_most(n))
    }

    /// Names the expectation in failure messages.
    pub fn named(self, name: impl Into<String>) -> Self {
        let name = name.into();
        self.expectations
            .update(self.index, |e| e.name = Some(name));
        self
    }
}

/// An expectation that was not met.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct UnmetExpectation {
    /// Its name ([`ExpectationBuilder::named`]).
    pub name: Option<String>,
    /// The endpoint counted.
    pub endpoint: Endpoint,
    /// How many requests it accepts.
    pub expected: Times,
    /// How many arrived (of those the journal holds).
    pub received: u64,
}

impl fmt::Display for UnmetExpectation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(name) = &self.name {
            write!(f, "{name:?}: ")?;
        }
        write!(
            f,
            "expected {} {} request(s), received {}",
            self.expected, self.endpoint, self.received
        )
    }
}

/// Expectations not met ([`MockProvider::verify`](crate::MockProvider::verify)), with the requests that did arrive.
///
/// Its message lists each unmet expectation, then every request received since the first
/// expectation was set: method, path (never a query), status and error code, from the
/// redacted journal, so it holds no secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub struct VerifyError {
    /// The profile id of the mock.
    pub provider: String,
    /// The expectations not met, in the order they were set.
    pub unmet: Vec<UnmetExpectation>,
    /// The journal entries counted from: every request since the earliest expectation.
    pub received: Vec<JournalEntry>,
    /// Requests in that period the journal no longer holds (a reset, or its bound).
    pub missing: u64,
}

impl fmt::Display for VerifyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "handshake-mock ({}): {} expectation(s) not met:",
            self.provider,
            self.unmet.len()
        )?;
        for u in &self.unmet {
            writeln!(f, "- {u}")?;
        }
        if self.received.is_empty() {
            write!(f, "No request arrived")?;
        } else {
            write!(f, "Requests received ({}):", self.received.len())?;
        }
        for e in self.received.iter().take(LISTED) {
            write!(f, "\n  #{} {} {} -> {}", e.seq, e.method, e.path, e.status)?;
            if let Some(err) = &e.error {
                write!(f, " {err}")?;
            }
            if let Some(endpoint) = e.endpoint {
                write!(f, " ({endpoint})")?;
            }
        }
        if self.received.len() > LISTED {
            write!(f, "\n  ... and {} more", self.received.len() - LISTED)?;
        }
        if self.missing > 0 {
            write!(
                f,
                "\n({} earlier request(s) are no longer in the journal and were not counted)",
                self.missing
            )?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_read_as_wiremock_ranges() {
        let cases: [(Times, &str, &[u64], &[u64]); 7] = [
            (1.into(), "exactly 1", &[1], &[0, 2]),
            ((1..=2).into(), "between 1 and 2", &[1, 2], &[0, 3]),
            ((1..3).into(), "between 1 and 2", &[1, 2], &[0, 3]),
            ((2..).into(), "at least 2", &[2, 9], &[0, 1]),
            ((..=1).into(), "at most 1", &[0, 1], &[2]),
            ((..2).into(), "at most 1", &[0, 1], &[2]),
            ((..).into(), "any number of", &[0, 5], &[]),
        ];
        for (t, shown, yes, no) in cases {
            assert_eq!(t.to_string(), shown);
            assert!(yes.iter().all(|n| t.contains(*n)), "{t}");
            assert!(!no.iter().any(|n| t.contains(*n)), "{t}");
        }
    }

    #[test]
    #[should_panic(expected = "must not be empty")]
    fn an_empty_range_is_refused() {
        let _ = Times::from(2..2);
    }
}
