//! A hash: field -> value.

/// A hash: field -> value.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct HashValue {
    len: usize,
}

impl HashValue {
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
