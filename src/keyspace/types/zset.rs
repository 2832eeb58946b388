//! A sorted set: member -> score, ordered by (score, member).

/// A sorted set: member -> score, ordered by (score, member).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ZSetValue {
    len: usize,
}

impl ZSetValue {
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Heap bytes owned by the value (kept as a running count: O(1)).
    pub fn heap_bytes(&self) -> usize {
        0
    }

    /// The name OBJECT ENCODING reports.
    pub fn encoding_name(&self) -> &'static str {
        "hashtable"
    }
}
