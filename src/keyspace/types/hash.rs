//! A hash: field -> value, stored in a `PairMap` (see `compact_map.rs`).
//!
//! OBJECT ENCODING follows Redis's rules: `listpack` while the hash has at most
//! `hash-max-listpack-entries` fields and no field or value longer than
//! `hash-max-listpack-value` bytes, then `hashtable` for good. The storage follows the name:
//! packed (insertion order, linear lookups) while `listpack`, indexed after.
//!
//! Field expiration (Redis 7.4's HEXPIRE family): deadlines live in a `FieldTtls` side table
//! behind one optional pointer, so a hash that never had a field TTL pays nothing (the pointer
//! fits in the allocation class `HashValue` already had: see the `sizes` test). A field's
//! deadline is absolute unix milliseconds; a field is expired once `deadline < now`, as keys
//! are. Removing or replacing a field (HSET, HSETNX, HDEL ...) drops its deadline; changing its
//! value in place (HINCRBY, HINCRBYFLOAT: `set_keep_ttl`) keeps it, as redis.io's HEXPIRE page
//! says. A listpack hash that ever got a field TTL reports `listpackex`, as Redis 7.4 does, and
//! keeps Redis's listpackex order: fields with a deadline first, earliest first (a field whose
//! deadline changes moves behind those with the same deadline), then the others in insertion
//! order; a field losing its deadline moves to the end.

use super::super::value::alloc_size;
use super::compact_map::{PairMap, Slot};
use std::collections::BTreeSet;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Live `FieldTtls` tables in the process (copies included): while zero, no hash has a field
/// TTL and RDB files keep the version redis-server 7.0 reads (see rdb/format.rs).
/// Process-wide because a value does not know its keyspace, and the copies a snapshot holds
/// (which the file being written is made of) must count too; with two servers in one process
/// it can only say "maybe", which picks the newer file version, never a wrong one.
static FIELD_TTL_TABLES: AtomicUsize = AtomicUsize::new(0);

/// True when some hash may carry a field TTL (conservative: counts tables, empty ones too).
pub fn field_ttls_exist() -> bool {
    FIELD_TTL_TABLES.load(Ordering::Relaxed) > 0
}

/// Deadlines up to this many live in a plain vector (linear scans); more switch to a map plus
/// a time-ordered tree, for good.
const SMALL_TABLE_MAX: usize = 16;

/// Deadlines of a hash's fields.
#[derive(Debug, PartialEq)]
pub struct FieldTtls {
    table: Table,
}

#[derive(Debug, PartialEq, Clone)]
enum Table {
    /// Few deadlines: (field, deadline) pairs, unordered.
    Small(Vec<(Box<[u8]>, u64)>),
    /// Many (boxed, so the small form stays small).
    Large(Box<Large>),
}

/// Deadlines by field, and ordered by time for expiry; `name_bytes` counts the names (held
/// twice) for heap accounting.
#[derive(Debug, PartialEq, Clone)]
struct Large {
    by_field: hashbrown::HashMap<Box<[u8]>, u64>,
    by_time: BTreeSet<(u64, Box<[u8]>)>,
    name_bytes: usize,
}

impl FieldTtls {
    fn new() -> Self {
        FIELD_TTL_TABLES.fetch_add(1, Ordering::Relaxed);
        FieldTtls {
            table: Table::Small(Vec::new()),
        }
    }

    fn len(&self) -> usize {
        match &self.table {
            Table::Small(v) => v.len(),
            Table::Large(t) => t.by_field.len(),
        }
    }

    fn get(&self, field: &[u8]) -> Option<u64> {
        match &self.table {
            Table::Small(v) => v.iter().find(|(f, _)| &f[..] == field).map(|(_, at)| *at),
            Table::Large(t) => t.by_field.get(field).copied(),
        }
    }

    /// The earliest deadline.
    fn min(&self) -> Option<u64> {
        match &self.table {
            Table::Small(v) => v.iter().map(|(_, at)| *at).min(),
            Table::Large(t) => t.by_time.first().map(|(at, _)| *at),
        }
    }

    fn set(&mut self, field: &[u8], deadline: u64) {
        if let Table::Small(v) = &mut self.table {
            if let Some(slot) = v.iter_mut().find(|(f, _)| &f[..] == field) {
                slot.1 = deadline;
                return;
            }
            if v.len() < SMALL_TABLE_MAX {
                // Exact growth: most hashes with deadlines have very few.
                v.reserve_exact(1);
                v.push((field.into(), deadline));
                return;
            }
            let mut by_field = hashbrown::HashMap::with_capacity(v.len() + 1);
            let mut by_time = BTreeSet::new();
            let mut name_bytes = 0;
            for (f, at) in v.drain(..) {
                name_bytes += 2 * alloc_size(f.len());
                by_time.insert((at, f.clone()));
                by_field.insert(f, at);
            }
            self.table = Table::Large(Box::new(Large {
                by_field,
                by_time,
                name_bytes,
            }));
        }
        let Table::Large(t) = &mut self.table else {
            unreachable!("converted above");
        };
        let Large {
            by_field,
            by_time,
            name_bytes,
        } = &mut **t;
        match by_field.get_mut(field) {
            Some(old) => {
                let previous = std::mem::replace(old, deadline);
                let name = by_time
                    .take(&(previous, Box::from(field)))
                    .expect("ordered copy of a deadline")
                    .1;
                by_time.insert((deadline, name));
            }
            None => {
                by_field.insert(field.into(), deadline);
                by_time.insert((deadline, field.into()));
                *name_bytes += 2 * alloc_size(field.len());
            }
        }
    }

    fn remove(&mut self, field: &[u8]) -> Option<u64> {
        match &mut self.table {
            Table::Small(v) => {
                let i = v.iter().position(|(f, _)| &f[..] == field)?;
                Some(v.swap_remove(i).1)
            }
            Table::Large(t) => {
                let Large {
                    by_field,
                    by_time,
                    name_bytes,
                } = &mut **t;
                let deadline = by_field.remove(field)?;
                by_time.remove(&(deadline, Box::from(field)));
                *name_bytes -= 2 * alloc_size(field.len());
                Some(deadline)
            }
        }
    }

    /// Removes and returns the field with the earliest deadline if it is before `now_ms`.
    fn pop_expired(&mut self, now_ms: u64) -> Option<Box<[u8]>> {
        match &mut self.table {
            Table::Small(v) => {
                let (i, _) = v
                    .iter()
                    .enumerate()
                    .filter(|(_, (_, at))| *at < now_ms)
                    .min_by_key(|(_, (_, at))| *at)?;
                Some(v.swap_remove(i).0)
            }
            Table::Large(t) => {
                let Large {
                    by_field,
                    by_time,
                    name_bytes,
                } = &mut **t;
                if by_time.first()?.0 >= now_ms {
                    return None;
                }
                let (_, field) = by_time.pop_first().expect("checked above");
                by_field.remove(&field);
                *name_bytes -= 2 * alloc_size(field.len());
                Some(field)
            }
        }
    }

    /// Every (field, deadline), earliest first.
    fn entries(&self) -> Vec<(&[u8], u64)> {
        let mut out: Vec<(&[u8], u64)> = match &self.table {
            Table::Small(v) => v.iter().map(|(f, at)| (&f[..], *at)).collect(),
            Table::Large(t) => t.by_time.iter().map(|(at, f)| (&f[..], *at)).collect(),
        };
        out.sort_by_key(|(_, at)| *at);
        out
    }

    fn heap_bytes(&self) -> usize {
        let own = alloc_size(std::mem::size_of::<FieldTtls>());
        match &self.table {
            Table::Small(v) => {
                own + alloc_size(v.capacity() * 24)
                    + v.iter().map(|(f, _)| alloc_size(f.len())).sum::<usize>()
            }
            Table::Large(t) => {
                let (by_field, name_bytes) = (&t.by_field, t.name_bytes);
                // The map's buckets (name pointer and length, deadline: 24 bytes, plus a
                // control byte; hashbrown keeps 7/8 of a power of two usable, at least 4, and
                // a group of trailing control bytes), B-tree leaves of 11 elements of 24 bytes
                // (about 7 used on average; internal nodes are few), the names held twice.
                // Checked against the allocator (docs/expiry.md has the figures).
                let map = match by_field.capacity() {
                    0 => 0,
                    cap => {
                        let buckets = (cap * 8 / 7).next_power_of_two().max(4);
                        alloc_size(buckets * 25 + 16)
                    }
                };
                own + alloc_size(std::mem::size_of::<Large>())
                    + map
                    + by_field.len().div_ceil(7) * alloc_size(11 * 24 + 24)
                    + name_bytes
            }
        }
    }
}

impl Clone for FieldTtls {
    fn clone(&self) -> Self {
        FIELD_TTL_TABLES.fetch_add(1, Ordering::Relaxed);
        FieldTtls {
            table: self.table.clone(),
        }
    }
}

impl Drop for FieldTtls {
    fn drop(&mut self) {
        FIELD_TTL_TABLES.fetch_sub(1, Ordering::Relaxed);
    }
}

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
    /// Field deadlines; `None` until a field first gets one.
    ttls: Option<Box<FieldTtls>>,
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
        self.map.heap_bytes() + self.ttls.as_ref().map_or(0, |t| t.heap_bytes())
    }

    /// The name OBJECT ENCODING reports.
    pub fn encoding_name(&self) -> &'static str {
        match (self.map.is_indexed(), self.ttls.is_some()) {
            (true, _) => "hashtable",
            (false, true) => "listpackex",
            (false, false) => "listpack",
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
        if !added && self.clear_ttl(field).is_some() {
            self.reposition(field, None);
        }
        if !self.map.is_indexed() && self.len() > limits.entries {
            self.map.make_indexed(self.len());
        }
        added
    }

    /// Sets a field's value keeping its deadline (HINCRBY, HINCRBYFLOAT); true when it is new.
    pub fn set_keep_ttl(&mut self, field: &[u8], value: &[u8], limits: HashLimits) -> bool {
        self.prepare(0, field.len().max(value.len()), limits);
        let added = self.map.insert(field, value);
        if !self.map.is_indexed() && self.len() > limits.entries {
            self.map.make_indexed(self.len());
        }
        added
    }

    /// Keeps a packed hash in Redis's listpackex order after `field`'s deadline became
    /// `deadline`: behind every field whose deadline is not later (None counts as the latest).
    fn reposition(&mut self, field: &[u8], deadline: Option<u64>) {
        if self.map.is_indexed() {
            return;
        }
        let Some(from) = self.map.find(field) else {
            return;
        };
        let key = |at: Option<u64>| at.unwrap_or(u64::MAX);
        let mut to = 0;
        for (i, (f, _)) in self.map.iter().enumerate() {
            if i == from as usize {
                continue;
            }
            if key(self.ttl_of(f)) > key(deadline) {
                break;
            }
            to += 1;
        }
        self.map.move_packed(from as usize, to);
    }

    pub fn get(&self, field: &[u8]) -> Option<&[u8]> {
        self.map.get(field)
    }

    pub fn contains(&self, field: &[u8]) -> bool {
        self.map.contains(field)
    }

    /// Removes a field; true if it was there.
    pub fn remove(&mut self, field: &[u8]) -> bool {
        let removed = self.map.remove(field);
        if removed {
            self.clear_ttl(field);
        }
        removed
    }

    fn clear_ttl(&mut self, field: &[u8]) -> Option<u64> {
        self.ttls.as_mut()?.remove(field)
    }

    /// The deadline of `field` (unix ms), if it has one.
    pub fn ttl_of(&self, field: &[u8]) -> Option<u64> {
        self.ttls.as_ref()?.get(field)
    }

    /// Gives an existing field a deadline (unix ms).
    pub fn set_ttl(&mut self, field: &[u8], deadline: u64) {
        debug_assert!(self.contains(field));
        self.ttls
            .get_or_insert_with(|| Box::new(FieldTtls::new()))
            .set(field, deadline);
        self.reposition(field, Some(deadline));
    }

    /// Removes a field's deadline; true if it had one (HPERSIST).
    pub fn persist(&mut self, field: &[u8]) -> bool {
        let had = self.clear_ttl(field).is_some();
        if had {
            self.reposition(field, None);
        }
        had
    }

    /// True when some field has a deadline.
    pub fn has_field_ttls(&self) -> bool {
        self.ttls.as_ref().is_some_and(|t| t.len() > 0)
    }

    /// Number of fields with a deadline.
    pub fn field_ttl_count(&self) -> usize {
        self.ttls.as_ref().map_or(0, |t| t.len())
    }

    /// The earliest field deadline.
    pub fn min_field_deadline(&self) -> Option<u64> {
        self.ttls.as_ref()?.min()
    }

    /// True when some field's deadline has passed at `now_ms`.
    pub fn has_expired_fields(&self, now_ms: u64) -> bool {
        self.min_field_deadline().is_some_and(|at| at < now_ms)
    }

    /// True when `field` exists and its deadline has passed at `now_ms`.
    pub fn is_field_expired(&self, field: &[u8], now_ms: u64) -> bool {
        self.ttl_of(field).is_some_and(|at| at < now_ms)
    }

    /// Removes up to `max` fields whose deadline has passed at `now_ms`, earliest first, and
    /// returns their names.
    pub fn remove_expired(&mut self, now_ms: u64, max: usize) -> Vec<Box<[u8]>> {
        let mut gone = Vec::new();
        while gone.len() < max {
            let Some(field) = self.ttls.as_mut().and_then(|t| t.pop_expired(now_ms)) else {
                break;
            };
            self.map.remove(&field);
            gone.push(field);
        }
        gone
    }

    /// Fields with their deadlines, earliest first (AOF rewrite, RDB).
    pub fn field_deadlines(&self) -> Vec<(&[u8], u64)> {
        self.ttls.as_ref().map_or_else(Vec::new, |t| t.entries())
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
    fn tables_switch_from_small_to_large_and_keep_every_deadline() {
        let limits = HashLimits {
            entries: 1000,
            value_bytes: 64,
        };
        let mut h = HashValue::default();
        for i in 0..40u64 {
            h.set(format!("f{i}").as_bytes(), b"v", limits);
            h.set_ttl(format!("f{i}").as_bytes(), 1000 - i);
        }
        assert_eq!(h.field_ttl_count(), 40);
        assert_eq!(h.min_field_deadline(), Some(961));
        h.set_ttl(b"f39", 5000);
        assert!(h.persist(b"f38"));
        assert_eq!(h.min_field_deadline(), Some(963));
        let gone = h.remove_expired(970, 100);
        assert_eq!(gone.len(), 7);
        assert_eq!(&gone[0][..], b"f37");
        assert_eq!(h.len(), 33);
        let deadlines = h.field_deadlines();
        assert_eq!(deadlines.len(), 32);
        assert!(deadlines.windows(2).all(|w| w[0].1 <= w[1].1));
        let copy = h.clone();
        assert_eq!(copy, h);
        assert!(h.heap_bytes() > HashValue::default().heap_bytes());
    }

    #[test]
    fn sizes() {
        // The map is 24 bytes; with the field-TTL pointer beside it a hash's box is jemalloc's
        // 32-byte class, whether or not a field has a deadline.
        use crate::keyspace::value::alloc_size;
        assert_eq!(std::mem::size_of::<PairMap>(), 24);
        assert_eq!(std::mem::size_of::<HashValue>(), 32);
        assert_eq!(alloc_size(std::mem::size_of::<HashValue>()), 32);
    }

    #[test]
    fn field_ttls_expire_and_clear_on_write() {
        let mut h = HashValue::default();
        h.set(b"a", b"1", LIMITS);
        h.set(b"b", b"2", LIMITS);
        h.set(b"c", b"3", LIMITS);
        assert_eq!(h.encoding_name(), "listpack");
        h.set_ttl(b"a", 100);
        h.set_ttl(b"b", 50);
        assert_eq!(h.encoding_name(), "listpackex");
        assert_eq!(h.min_field_deadline(), Some(50));
        h.set_ttl(b"b", 200);
        assert_eq!(h.min_field_deadline(), Some(100));
        h.set(b"a", b"9", LIMITS);
        assert_eq!(h.ttl_of(b"a"), None);
        assert_eq!(h.min_field_deadline(), Some(200));
        assert_eq!(h.remove_expired(201, 10), vec![Box::from(&b"b"[..])]);
        assert_eq!(h.len(), 2);
        assert!(!h.has_field_ttls());
        h.set_ttl(b"c", 10);
        assert!(h.remove(b"c"));
        assert_eq!(h.field_ttl_count(), 0);
    }

    fn order(h: &HashValue) -> String {
        h.iter()
            .map(|(f, _)| String::from_utf8_lossy(f).into_owned())
            .collect()
    }

    #[test]
    fn listpackex_keeps_fields_ordered_by_deadline() {
        let mut h = HashValue::default();
        for f in ["a", "b", "c", "d"] {
            h.set(f.as_bytes(), b"1", LIMITS);
        }
        h.set_ttl(b"c", 100);
        assert_eq!(order(&h), "cabd");
        h.set_ttl(b"d", 50);
        assert_eq!(order(&h), "dcab");
        h.set_ttl(b"a", 100);
        assert_eq!(order(&h), "dcab");
        h.set_ttl(b"c", 100);
        assert_eq!(order(&h), "dacb");
        assert!(h.persist(b"d"));
        assert_eq!(order(&h), "acbd");
        // HINCRBY keeps the deadline and the place; HSET drops both.
        h.set_keep_ttl(b"a", b"2", LIMITS);
        assert_eq!((order(&h), h.ttl_of(b"a")), ("acbd".to_string(), Some(100)));
        h.set(b"a", b"3", LIMITS);
        assert_eq!((order(&h), h.ttl_of(b"a")), ("cbda".to_string(), None));
        h.set(b"e", b"1", LIMITS);
        assert_eq!(order(&h), "cbdae");
    }

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
