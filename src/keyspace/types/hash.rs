//! A hash: field -> value, stored in a `PairMap` (see `compact_map.rs`).
//!
//! OBJECT ENCODING follows Redis's rules: `listpack` while the hash has at most
//! `hash-max-listpack-entries` fields and no field or value longer than
//! `hash-max-listpack-value` bytes, then `hashtable` for good. The storage follows the name:
//! packed (insertion order, linear lookups) while `listpack`, indexed after.

use super::compact_map::{PairMap, Slot};

/// The listpack thresholds in force when a hash is changed (from the live configuration).
#[derive(Clone, Copy, Debug)]
pub struct HashLimits {
    /// `hash-max-listpack-entries`
    pub entries: usize,
    /// `hash-max-listpack-value`
    pub value_bytes: usize,
}

/// A hash: field -> value.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct HashValue {
    map: PairMap,
}

impl HashValue {
    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// Heap bytes owned by the value (kept as a running count: O(1)).
    pub fn heap_bytes(&self) -> usize {
        self.map.heap_bytes()
    }

    /// The name OBJECT ENCODING reports.
    pub fn encoding_name(&self) -> &'static str {
        if self.map.is_indexed() {
            "hashtable"
        } else {
            "listpack"
        }
    }

    /// Before writing `new_fields` field/value pairs whose longest string is `longest` bytes:
    /// converts to `hashtable` as Redis's `hashTypeTryConversion` does (more new fields than
    /// the listpack may hold, or a string too long for it).
    pub fn prepare(&mut self, new_fields: usize, longest: usize, limits: HashLimits) {
        if self.map.is_indexed() {
            return;
        }
        if new_fields > limits.entries {
            self.map.make_indexed(self.len() + new_fields);
        } else if longest > limits.value_bytes {
            self.map.make_indexed(self.len());
        }
    }

    /// Sets a field; true when it is new. Converts to `hashtable` past the listpack limits.
    pub fn set(&mut self, field: &[u8], value: &[u8], limits: HashLimits) -> bool {
        self.prepare(0, field.len().max(value.len()), limits);
        let added = self.map.insert(field, value);
        if !self.map.is_indexed() && self.len() > limits.entries {
            self.map.make_indexed(self.len());
        }
        added
    }

    pub fn get(&self, field: &[u8]) -> Option<&[u8]> {
        self.map.get(field)
    }

    pub fn contains(&self, field: &[u8]) -> bool {
        self.map.contains(field)
    }

    /// Removes a field; true if it was there.
    pub fn remove(&mut self, field: &[u8]) -> bool {
        self.map.remove(field)
    }

    /// Fields and values in storage order (insertion order while `listpack`).
    pub fn iter(&self) -> impl Iterator<Item = (&[u8], &[u8])> + '_ {
        self.map.iter()
    }

    /// The underlying map, for random picks and SCAN.
    pub fn map(&self) -> &PairMap {
        &self.map
    }

    /// The field and value in `slot`.
    pub fn at(&self, slot: Slot) -> Option<(&[u8], &[u8])> {
        self.map.at(slot)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: HashLimits = HashLimits {
        entries: 4,
        value_bytes: 8,
    };

    #[test]
    fn converts_past_the_entry_limit_and_never_back() {
        let mut h = HashValue::default();
        for i in 0..4 {
            h.set(format!("f{i}").as_bytes(), b"v", LIMITS);
        }
        assert_eq!(h.encoding_name(), "listpack");
        h.set(b"f4", b"v", LIMITS);
        assert_eq!(h.encoding_name(), "hashtable");
        for i in 0..5 {
            h.remove(format!("f{i}").as_bytes());
        }
        h.set(b"x", b"v", LIMITS);
        assert_eq!(h.encoding_name(), "hashtable");
    }

    #[test]
    fn converts_for_a_long_string_or_many_new_fields() {
        let mut h = HashValue::default();
        h.set(b"f", b"123456789", LIMITS);
        assert_eq!(h.encoding_name(), "hashtable");
        let mut h = HashValue::default();
        h.prepare(5, 1, LIMITS);
        assert_eq!(h.encoding_name(), "hashtable");
        let mut h = HashValue::default();
        h.prepare(4, 8, LIMITS);
        assert_eq!(h.encoding_name(), "listpack");
    }
}
