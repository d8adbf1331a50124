//! Positions in a stream: shards and the sequence numbers of their records.

use std::cmp::Ordering;
use std::fmt;

/// A shard of a table's stream.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ShardId(pub String);

impl fmt::Display for ShardId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A record's sequence number: decimal digits (up to 40), ordered by value.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SequenceNumber(String);

impl SequenceNumber {
    /// A sequence number from its decimal text; `None` unless it is all ASCII digits.
    pub fn new(text: &str) -> Option<Self> {
        let valid = !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit());
        valid.then(|| SequenceNumber(text.to_owned()))
    }

    /// The text as the stream gave it.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    fn digits(&self) -> &str {
        let trimmed = self.0.trim_start_matches('0');
        if trimmed.is_empty() {
            "0"
        } else {
            trimmed
        }
    }
}

impl Ord for SequenceNumber {
    fn cmp(&self, other: &Self) -> Ordering {
        let (a, b) = (self.digits(), other.digits());
        a.len().cmp(&b.len()).then_with(|| a.cmp(b))
    }
}

impl PartialOrd for SequenceNumber {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl fmt::Display for SequenceNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sequence_numbers_order_by_value() {
        let n = |s: &str| SequenceNumber::new(s).unwrap();
        assert!(n("9") < n("10"));
        assert!(n("000000000000000000054") > n("53"));
        assert_eq!(n("007").cmp(&n("7")), Ordering::Equal);
        assert!(
            n("100000000000000000000000000000000000000")
                > n("99999999999999999999999999999999999999")
        );
        assert!(SequenceNumber::new("12a").is_none());
        assert!(SequenceNumber::new("").is_none());
    }
}
