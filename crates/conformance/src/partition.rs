//! Splitting the matrix across CI jobs: `--partition K/N`, as nextest's `count:K/N`.

use std::fmt;
use std::str::FromStr;

/// One share of the matrix for one of `N` CI jobs.
///
/// The cases are dealt round-robin in the stable plan order (scenario-major, then target):
/// the case at 0-based position `i` belongs to partition `i % N + 1`. Skipped cases are dealt
/// too, so each job's report (and JUnit file) is complete for its share, and the `N` shares of
/// one matrix are disjoint and cover it. The same scenarios, targets and `N` give every job
/// the same deal on every machine.
///
/// ```
/// use handshake_conformance::Partition;
///
/// let p: Partition = "2/3".parse().unwrap();
/// assert_eq!((p.index(), p.count()), (2, 3));
/// assert!(p.contains(1) && p.contains(4) && !p.contains(0));
/// assert!("0/3".parse::<Partition>().is_err());
/// assert!("4/3".parse::<Partition>().is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Partition {
    index: usize,
    count: usize,
}

impl Partition {
    /// Partition `index` of `count`, both 1-based: `1 <= index <= count`.
    pub fn new(index: usize, count: usize) -> Result<Self, PartitionError> {
        if count == 0 {
            return Err(PartitionError::new(
                format!("{index}/{count}"),
                "N must be at least 1",
            ));
        }
        if index == 0 || index > count {
            return Err(PartitionError::new(
                format!("{index}/{count}"),
                format!("K must be between 1 and N ({count})"),
            ));
        }
        Ok(Partition { index, count })
    }

    /// The whole matrix: `1/1`.
    pub fn whole() -> Self {
        Partition { index: 1, count: 1 }
    }

    /// `K`, 1-based.
    pub fn index(self) -> usize {
        self.index
    }

    /// `N`.
    pub fn count(self) -> usize {
        self.count
    }

    /// Whether the case at 0-based `position` in plan order belongs to this partition.
    pub fn contains(self, position: usize) -> bool {
        position % self.count == self.index - 1
    }
}

impl Default for Partition {
    /// [`Partition::whole`].
    fn default() -> Self {
        Partition::whole()
    }
}

impl fmt::Display for Partition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

impl FromStr for Partition {
    type Err = PartitionError;

    /// Parses `K/N` (`2/3`); whitespace around either number is not accepted.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let Some((k, n)) = s.split_once('/') else {
            return Err(PartitionError::new(
                s,
                "expected K/N, e.g. 2/3 (this job's share K of N jobs)",
            ));
        };
        let number = |what: &str, v: &str| {
            // `usize::from_str` takes a leading `+`; a partition is plain digits.
            if v.is_empty() || !v.bytes().all(|b| b.is_ascii_digit()) {
                return Err(PartitionError::new(
                    s,
                    format!("{what} ({v:?}) is not a whole number"),
                ));
            }
            v.parse::<usize>()
                .map_err(|_| PartitionError::new(s, format!("{what} ({v:?}) is too large")))
        };
        Partition::new(number("K", k)?, number("N", n)?).map_err(|e| PartitionError {
            value: s.to_owned(),
            ..e
        })
    }
}

/// A `K/N` partition that cannot be used; the message names the value and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("partition {value:?}: {reason}")]
#[non_exhaustive]
pub struct PartitionError {
    /// The value as given.
    pub value: String,
    /// What is wrong with it.
    pub reason: String,
}

impl PartitionError {
    fn new(value: impl Into<String>, reason: impl Into<String>) -> Self {
        PartitionError {
            value: value.into(),
            reason: reason.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_rejects() {
        assert_eq!("1/1".parse::<Partition>().unwrap(), Partition::whole());
        assert_eq!(
            "3/5".parse::<Partition>().unwrap(),
            Partition::new(3, 5).unwrap()
        );
        for bad in [
            "",
            "3",
            "/",
            "1/",
            "/3",
            "0/3",
            "4/3",
            "1/0",
            "0/0",
            "a/3",
            "1/b",
            "-1/3",
            "+1/3",
            " 1/3",
            "1/3 ",
            "1/3/5",
            "1.0/3",
            "99999999999999999999999/3",
        ] {
            let e = bad.parse::<Partition>().unwrap_err();
            assert_eq!(e.value, bad, "{bad:?}");
            assert!(e.to_string().starts_with("partition "), "{e}");
        }
        assert!("4/3"
            .parse::<Partition>()
            .unwrap_err()
            .to_string()
            .contains("between 1 and N (3)"));
        assert!("x/3"
            .parse::<Partition>()
            .unwrap_err()
            .to_string()
            .contains("not a whole number"));
    }

    #[test]
    fn every_position_belongs_to_exactly_one_partition() {
        for n in 1..=7 {
            for pos in 0..50 {
                let owners: Vec<usize> = (1..=n)
                    .filter(|&k| Partition::new(k, n).unwrap().contains(pos))
                    .collect();
                assert_eq!(owners, [pos % n + 1], "n={n} pos={pos}");
            }
        }
    }
}
