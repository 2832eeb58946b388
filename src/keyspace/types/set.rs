//! A set of byte strings, stored in a `MemberMap` (see `compact_map.rs`).
//!
//! OBJECT ENCODING follows Redis 7.2's rules, and the storage follows the name:
//! - `intset` (members are all canonical 64-bit integers, at most `set-max-intset-entries`):
//!   packed, kept in ascending numeric order (SMEMBERS answers in that order, as Redis does),
//!   found by binary search;
//! - `listpack` (at most `set-max-listpack-entries` members of at most `set-max-listpack-value`
//!   bytes): packed in insertion order, linear lookups;
//! - `hashtable`: indexed. Conversions are one way (intset → listpack → hashtable), as in Redis.

use super::compact_map::{MemberMap, Slot};
use crate::strconv::parse_i64_strict;

/// Redis caps the intset size setting at 2^30 entries (`intsetMaxEntries`).
const INTSET_ENTRIES_CAP: usize = 1 << 30;

/// The encoding thresholds in force when a set is changed (from the live configuration).
#[derive(Clone, Copy, Debug)]
pub struct SetLimits {
    /// `set-max-intset-entries`
    pub intset_entries: usize,
    /// `set-max-listpack-entries`
    pub listpack_entries: usize,
    /// `set-max-listpack-value`
    pub listpack_value: usize,
}

impl SetLimits {
    fn intset_max(&self) -> usize {
        self.intset_entries.min(INTSET_ENTRIES_CAP)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Encoding {
    IntSet,
    Listpack,
    Hashtable,
}

/// A set of byte strings.
#[derive(Clone, Debug, Default)]
pub struct SetValue {
    /// The members; the map's owner byte holds the encoding (0 intset, 1 listpack,
    /// 2 hashtable), keeping the value in 32 bytes.
    map: MemberMap,
}

impl PartialEq for SetValue {
    fn eq(&self, other: &Self) -> bool {
        self.map == other.map
    }
}

impl SetValue {
    fn encoding(&self) -> Encoding {
        match self.map.owner_byte {
            0 => Encoding::IntSet,
            1 => Encoding::Listpack,
            _ => Encoding::Hashtable,
        }
    }

    fn set_encoding(&mut self, encoding: Encoding) {
        self.map.owner_byte = match encoding {
            Encoding::IntSet => 0,
            Encoding::Listpack => 1,
            Encoding::Hashtable => 2,
        };
    }

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
        match self.encoding() {
            Encoding::IntSet => "intset",
            Encoding::Listpack => "listpack",
            Encoding::Hashtable => "hashtable",
        }
    }

    /// Chooses the encoding of a set about to receive `size_hint` members, the first being
    /// `first` (Redis's `setTypeCreate`). For a set just created empty.
    pub fn start(&mut self, first: &[u8], size_hint: usize, limits: SetLimits) {
        debug_assert!(self.is_empty());
        let encoding = if parse_i64_strict(first).is_some() && size_hint <= limits.intset_max() {
            Encoding::IntSet
        } else if size_hint <= limits.listpack_entries {
            Encoding::Listpack
        } else {
            self.map.make_indexed(size_hint);
            Encoding::Hashtable
        };
        self.set_encoding(encoding);
    }

    /// Converts to `hashtable` before adding `size_hint` members that cannot fit the current
    /// encoding (Redis's `setTypeMaybeConvert`).
    pub fn prepare(&mut self, size_hint: usize, limits: SetLimits) {
        let too_many = match self.encoding() {
            Encoding::IntSet => size_hint > limits.intset_max(),
            Encoding::Listpack => size_hint > limits.listpack_entries,
            Encoding::Hashtable => false,
        };
        if too_many {
            self.convert_to_hashtable(self.len() + size_hint);
        }
    }

    fn convert_to_hashtable(&mut self, expected: usize) {
        self.set_encoding(Encoding::Hashtable);
        self.map.make_indexed(expected);
    }

    /// Walk of an intset's ascending members (packed: positions are found by walking anyway):
    /// Ok(slot) if present, Err(insert at).
    fn intset_search(&self, value: i64) -> Result<usize, usize> {
        for (i, member) in self.map.keys().enumerate() {
            let at = parse_i64_strict(member).expect("intset members are integers");
            match at.cmp(&value) {
                std::cmp::Ordering::Less => {}
                std::cmp::Ordering::Greater => return Err(i),
                std::cmp::Ordering::Equal => return Ok(i),
            }
        }
        Err(self.len())
    }

    fn find(&self, member: &[u8]) -> Option<Slot> {
        match self.encoding() {
            Encoding::IntSet => {
                let value = parse_i64_strict(member)?;
                self.intset_search(value).ok().map(|s| s as Slot)
            }
            _ => self.map.find(member),
        }
    }

    pub fn contains(&self, member: &[u8]) -> bool {
        self.find(member).is_some()
    }

    /// Adds a member; true when it is new. Converts encodings as Redis's `setTypeAddAux` does.
    pub fn add(&mut self, member: &[u8], limits: SetLimits) -> bool {
        match self.encoding() {
            Encoding::IntSet => match parse_i64_strict(member) {
                Some(value) => match self.intset_search(value) {
                    Ok(_) => false,
                    Err(at) => {
                        self.map.insert_packed_at(at, member);
                        if self.len() > limits.intset_max() {
                            self.convert_to_hashtable(self.len());
                        }
                        true
                    }
                },
                None => {
                    if self.len() < limits.listpack_entries
                        && member.len() <= limits.listpack_value
                        && self.longest_integer() <= limits.listpack_value
                    {
                        self.set_encoding(Encoding::Listpack);
                    } else {
                        self.convert_to_hashtable(self.len() + 1);
                    }
                    self.map.insert_new(member, b"");
                    true
                }
            },
            Encoding::Listpack => {
                if self.map.contains(member) {
                    return false;
                }
                if self.len() >= limits.listpack_entries || member.len() > limits.listpack_value {
                    self.convert_to_hashtable(self.len() + 1);
                }
                self.map.insert_new(member, b"");
                true
            }
            Encoding::Hashtable => self.map.insert(member, b""),
        }
    }

    /// Text length of the intset's widest member (its smallest or its largest).
    fn longest_integer(&self) -> usize {
        let keys = || self.map.keys();
        let first = keys().next().map_or(0, <[u8]>::len);
        let last = keys().last().map_or(0, <[u8]>::len);
        first.max(last)
    }

    /// Removes a member; true if it was there.
    pub fn remove(&mut self, member: &[u8]) -> bool {
        match self.find(member) {
            Some(slot) => {
                self.map.remove_at(slot);
                true
            }
            None => false,
        }
    }

    /// Removes the member in `slot` (from a random pick).
    pub fn remove_at(&mut self, slot: Slot) {
        self.map.remove_at(slot);
    }

    /// Members in storage order (ascending for an intset, insertion order for a listpack).
    pub fn iter(&self) -> impl Iterator<Item = &[u8]> + '_ {
        self.map.keys()
    }

    /// The member in `slot`.
    pub fn at(&self, slot: Slot) -> Option<&[u8]> {
        self.map.at(slot).map(|(m, _)| m)
    }

    /// The underlying map, for random picks and SCAN.
    pub fn map(&self) -> &MemberMap {
        &self.map
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: SetLimits = SetLimits {
        intset_entries: 4,
        listpack_entries: 3,
        listpack_value: 5,
    };

    fn set_of(members: &[&str]) -> SetValue {
        let mut s = SetValue::default();
        s.start(members[0].as_bytes(), 1, LIMITS);
        for m in members {
            s.add(m.as_bytes(), LIMITS);
        }
        s
    }

    #[test]
    fn intset_keeps_numeric_order() {
        let s = set_of(&["10", "-3", "2", "10"]);
        assert_eq!(s.encoding_name(), "intset");
        let members: Vec<&[u8]> = s.iter().collect();
        assert_eq!(members, vec![&b"-3"[..], b"2", b"10"]);
        assert!(s.contains(b"2") && !s.contains(b"02") && !s.contains(b"x"));
    }

    #[test]
    fn intset_to_listpack_convert_to_hashtable() {
        let mut s = set_of(&["1", "2"]);
        s.add(b"abc", LIMITS);
        assert_eq!(s.encoding_name(), "listpack");
        s.add(b"d", LIMITS);
        assert_eq!(s.encoding_name(), "hashtable");
        assert_eq!(s.len(), 4);
        s.remove(b"abc");
        s.remove(b"d");
        assert_eq!(s.encoding_name(), "hashtable");
    }

    #[test]
    fn intset_past_its_limit_or_long_member_becomes_hashtable() {
        let mut s = set_of(&["1", "2", "3", "4"]);
        assert_eq!(s.encoding_name(), "intset");
        s.add(b"5", LIMITS);
        assert_eq!(s.encoding_name(), "hashtable");
        let mut s = set_of(&["1"]);
        s.add(b"toolong", LIMITS);
        assert_eq!(s.encoding_name(), "hashtable");
        let mut s = set_of(&["123456"]);
        s.add(b"a", LIMITS);
        assert_eq!(
            s.encoding_name(),
            "hashtable",
            "an integer wider than the listpack value"
        );
    }

    #[test]
    fn start_and_prepare_use_the_size_hint() {
        let mut s = SetValue::default();
        s.start(b"1", 5, LIMITS);
        assert_eq!(s.encoding_name(), "hashtable");
        let mut s = SetValue::default();
        s.start(b"a", 3, LIMITS);
        assert_eq!(s.encoding_name(), "listpack");
        s.add(b"a", LIMITS);
        s.prepare(4, LIMITS);
        assert_eq!(s.encoding_name(), "hashtable");
    }
}
