//! `CompactMap`: the storage of hashes and sets (and of any byte-keyed member map, such as a
//! sorted set's member → score): byte-string keys, with a byte-string value when `PAIRS`.
//!
//! Two layouts, switched one way (like Redis's listpack → hashtable conversion):
//! - **packed** (small values, as Redis's listpack and intset are): one byte buffer holding the
//!   elements back to back, each `[key_len varint][value_len varint, if PAIRS][key][value]`, in
//!   insertion order (or any order the owner keeps, such as an intset's ascending order through
//!   `insert_packed_at`). Its capacity is the allocator's size class of its length, nothing
//!   more: a hash of ten `f1 v1` pairs is one 64-byte buffer where Redis's listpack takes 80.
//!   Lookups walk it; a slot number is an element's ordinal; SCAN returns everything at once.
//! - **indexed** (`Table`, boxed): each element is one allocation with the same layout behind
//!   an 8-byte thin pointer, kept in a slab of slots; a `hashbrown::HashTable<u32>` of slot
//!   numbers indexes it by key. A field of 12 bytes with a 12-byte value costs one 32-byte
//!   allocation, its 8-byte slot and 5.7 to 11.4 bytes of index (5 bytes a bucket, 7/16 to 7/8
//!   of the buckets used): 46-51 bytes where Redis's dictEntry, two sds strings and the bucket
//!   pointer spend ~72. Slots never move while the element exists; removal leaves a hole that
//!   a later insertion reuses. The slab and the index are `TableAlloc` blocks: past 1 MiB they
//!   are mappings of their own, so the ones a growth replaces leave RSS at once.
//!
//! Positions are what make SCAN cursors and random picks work, as in the keyspace's own slab
//! (see `shard.rs`). A cursor is a *logical* position: `base` + slot number. When removals leave
//! the slab less than a quarter full, `compact` moves elements from low slots into holes at high
//! slots and drops the emptied prefix, raising `base`: an element only ever moves to a higher
//! logical position, so one present for a whole scan is still returned at least once (Redis's
//! SCAN guarantee), and random picks by slot stay cheap (at least a quarter of slots are live).

use crate::keyspace::index_alloc::TableAlloc;
use crate::keyspace::value::alloc_size;
use allocator_api2::vec::Vec as TableVec;
use hashbrown::HashTable;
use std::alloc::{alloc, dealloc, handle_alloc_error, Layout};
use std::hash::BuildHasher;
use std::ptr::NonNull;
use std::sync::OnceLock;

/// A map of byte-string keys to byte-string values.
pub type PairMap = CompactMap<true>;
/// A set of byte strings.
pub type MemberMap = CompactMap<false>;

/// Compaction is considered only past this many slots (below it a scan is one step anyway).
const COMPACT_SLOTS_MIN: usize = 16;
/// Random probes before falling back to a walk from a random slot.
const RANDOM_PROBES_MAX: usize = 64;
/// A SCAN step visits at most this many slots per requested element.
const SCAN_SLOTS_PER_COUNT: usize = 10;

/// One process-wide seed for every map (random per process, so keys cannot be chosen to
/// collide): process-wide because a map's hashes must stay valid when the map moves between
/// databases, servers' snapshots or RESTOREs, like Redis's one siphash seed.
fn hash_of(key: &[u8]) -> u64 {
    static HASHER: OnceLock<foldhash::fast::RandomState> = OnceLock::new();
    HASHER.get_or_init(Default::default).hash_one(key)
}

fn put_varint(buf: &mut Vec<u8>, mut n: usize) {
    while n >= 0x80 {
        buf.push((n as u8 & 0x7f) | 0x80);
        n >>= 7;
    }
    buf.push(n as u8);
}

/// One element: a thin pointer to `[key_len][value_len if PAIRS][key][value]`.
struct Elem<const PAIRS: bool> {
    ptr: NonNull<u8>,
}

// SAFETY: an Elem owns its allocation exclusively, like a Box<[u8]>.
unsafe impl<const PAIRS: bool> Send for Elem<PAIRS> {}
// SAFETY: shared references only read the allocation.
unsafe impl<const PAIRS: bool> Sync for Elem<PAIRS> {}

impl<const PAIRS: bool> Elem<PAIRS> {
    fn new(key: &[u8], value: &[u8]) -> Self {
        debug_assert!(PAIRS || value.is_empty(), "a member map holds no values");
        let mut header = Vec::with_capacity(20);
        put_varint(&mut header, key.len());
        if PAIRS {
            put_varint(&mut header, value.len());
        }
        let total = header.len() + key.len() + value.len();
        let layout = Layout::from_size_align(total, 1).expect("element size fits a layout");
        // SAFETY: `total >= 1` (the key length varint), so the layout is not zero-sized; the
        // three copies fill exactly `total` bytes of the fresh allocation.
        unsafe {
            let ptr = alloc(layout);
            if ptr.is_null() {
                handle_alloc_error(layout);
            }
            std::ptr::copy_nonoverlapping(header.as_ptr(), ptr, header.len());
            let at = ptr.add(header.len());
            std::ptr::copy_nonoverlapping(key.as_ptr(), at, key.len());
            std::ptr::copy_nonoverlapping(value.as_ptr(), at.add(key.len()), value.len());
            Elem {
                ptr: NonNull::new_unchecked(ptr),
            }
        }
    }

    fn varint(&self, mut at: usize) -> (usize, usize) {
        let mut n = 0usize;
        let mut shift = 0;
        loop {
            // SAFETY: header bytes, written by `new` within the allocation.
            let byte = unsafe { *self.ptr.as_ptr().add(at) };
            n |= usize::from(byte & 0x7f) << shift;
            at += 1;
            if byte & 0x80 == 0 {
                return (n, at);
            }
            shift += 7;
        }
    }

    /// (key offset, key length, value length).
    fn header(&self) -> (usize, usize, usize) {
        let (key_len, at) = self.varint(0);
        if PAIRS {
            let (value_len, at) = self.varint(at);
            (at, key_len, value_len)
        } else {
            (at, key_len, 0)
        }
    }

    fn total_len(&self) -> usize {
        let (at, key_len, value_len) = self.header();
        at + key_len + value_len
    }

    fn key(&self) -> &[u8] {
        self.parts().0
    }

    fn parts(&self) -> (&[u8], &[u8]) {
        let (at, key_len, value_len) = self.header();
        // SAFETY: the ranges come from the header `new` wrote; the allocation is exactly
        // `at + key_len + value_len` bytes and lives as long as `self`.
        unsafe {
            let base = self.ptr.as_ptr().add(at);
            (
                std::slice::from_raw_parts(base, key_len),
                std::slice::from_raw_parts(base.add(key_len), value_len),
            )
        }
    }

    /// Bytes the allocator hands out for this element.
    fn alloc_bytes(&self) -> usize {
        alloc_size(self.total_len())
    }
}

impl<const PAIRS: bool> Drop for Elem<PAIRS> {
    fn drop(&mut self) {
        let layout = Layout::from_size_align(self.total_len(), 1).expect("layout of new");
        // SAFETY: allocated by `new` with this same layout (recomputed from its header).
        unsafe { dealloc(self.ptr.as_ptr(), layout) }
    }
}

impl<const PAIRS: bool> Clone for Elem<PAIRS> {
    fn clone(&self) -> Self {
        let (key, value) = self.parts();
        Elem::new(key, value)
    }
}

/// A compact byte-keyed map with stable positions; see the module documentation.
///
/// 24 bytes: one pointer serves both layouts (the packed buffer, or the boxed table once
/// indexed), so a hash's struct (this map and its field-TTL pointer) fits jemalloc's 32-byte
/// class.
pub struct CompactMap<const PAIRS: bool> {
    /// Packed: the buffer of every element back to back, `[key_len][value_len if PAIRS][key]
    /// [value]`, exactly `packed_bytes` long (a boxed slice's allocation: no capacity field, no
    /// slack beyond the allocator's size class; dangling while empty). Indexed: the
    /// `Box<Table>`.
    ptr: NonNull<u8>,
    /// Length of the packed buffer (0 once indexed).
    packed_bytes: u32,
    /// Elements in the packed buffer (the packed layout's count).
    packed_len: u32,
    /// One byte for the owner (a set keeps its encoding here), in what would otherwise be
    /// padding.
    pub(super) owner_byte: u8,
    /// True once switched to the indexed layout (`ptr` is then the table).
    indexed: bool,
    _owns: std::marker::PhantomData<Box<Table<PAIRS>>>,
}

// SAFETY: the map owns its buffer or table exclusively, like a Box.
unsafe impl<const PAIRS: bool> Send for CompactMap<PAIRS> {}
// SAFETY: shared references only read it.
unsafe impl<const PAIRS: bool> Sync for CompactMap<PAIRS> {}

impl<const PAIRS: bool> Default for CompactMap<PAIRS> {
    fn default() -> Self {
        CompactMap {
            ptr: NonNull::dangling(),
            packed_bytes: 0,
            packed_len: 0,
            owner_byte: 0,
            indexed: false,
            _owns: std::marker::PhantomData,
        }
    }
}

impl<const PAIRS: bool> Drop for CompactMap<PAIRS> {
    fn drop(&mut self) {
        if self.indexed {
            // SAFETY: an indexed map's pointer is the `Box<Table>` `make_indexed` leaked.
            drop(unsafe { Box::from_raw(self.ptr.as_ptr().cast::<Table<PAIRS>>()) });
        } else {
            drop(self.take_packed());
        }
    }
}

impl<const PAIRS: bool> Clone for CompactMap<PAIRS> {
    fn clone(&self) -> Self {
        let mut copy = CompactMap {
            packed_len: self.packed_len,
            owner_byte: self.owner_byte,
            ..CompactMap::default()
        };
        match self.table() {
            Some(table) => copy.set_table(Box::new(table.clone())),
            None => copy.put_packed(self.packed().to_vec()),
        }
        copy
    }
}

/// A slot number: a position in the current layout, valid until the next change. In the packed
/// layout it is the element's ordinal.
pub type Slot = u32;

/// `count` distinct random slots of `0..len` (all of them, in order, when `count >= len`): a
/// partial Fisher-Yates shuffle. `below(n)` is a random number below `n`.
pub(super) fn distinct_slots(
    len: Slot,
    count: usize,
    below: &mut impl FnMut(usize) -> usize,
) -> Vec<Slot> {
    let mut all: Vec<Slot> = (0..len).collect();
    if count >= all.len() {
        return all;
    }
    for i in 0..count {
        let j = i + below(all.len() - i);
        all.swap(i, j);
    }
    all.truncate(count);
    all
}

/// Reads a varint at `at` of `buf`: (value, offset after it).
fn get_varint(buf: &[u8], mut at: usize) -> (usize, usize) {
    let mut n = 0usize;
    let mut shift = 0;
    loop {
        let byte = buf[at];
        n |= usize::from(byte & 0x7f) << shift;
        at += 1;
        if byte & 0x80 == 0 {
            return (n, at);
        }
        shift += 7;
    }
}

/// The packed element starting at `at`: (key, value, offset of the next element).
fn packed_elem<const PAIRS: bool>(buf: &[u8], at: usize) -> (&[u8], &[u8], usize) {
    let (key_len, at) = get_varint(buf, at);
    let (value_len, at) = if PAIRS { get_varint(buf, at) } else { (0, at) };
    let end = at + key_len + value_len;
    (&buf[at..at + key_len], &buf[at + key_len..end], end)
}

/// The packed encoding of one element.
fn packed_bytes<const PAIRS: bool>(key: &[u8], value: &[u8]) -> Vec<u8> {
    debug_assert!(PAIRS || value.is_empty(), "a member map holds no values");
    let mut out = Vec::with_capacity(key.len() + value.len() + 4);
    put_varint(&mut out, key.len());
    if PAIRS {
        put_varint(&mut out, value.len());
    }
    out.extend_from_slice(key);
    out.extend_from_slice(value);
    out
}

/// Replaces `range` of a boxed buffer with `with`, reallocating to the exact new length (within
/// a size class jemalloc resizes in place).
pub(super) fn splice_boxed(buf: &mut Box<[u8]>, range: std::ops::Range<usize>, with: &[u8]) {
    let mut v = std::mem::take(buf).into_vec();
    v.reserve_exact(with.len().saturating_sub(range.len()));
    v.splice(range, with.iter().copied());
    *buf = v.into_boxed_slice();
}

/// Elements of a packed buffer, in order.
struct PackedIter<'a, const PAIRS: bool> {
    buf: &'a [u8],
    at: usize,
}

impl<'a, const PAIRS: bool> Iterator for PackedIter<'a, PAIRS> {
    type Item = (&'a [u8], &'a [u8]);

    fn next(&mut self) -> Option<Self::Item> {
        if self.at >= self.buf.len() {
            return None;
        }
        let (key, value, next) = packed_elem::<PAIRS>(self.buf, self.at);
        self.at = next;
        Some((key, value))
    }
}

impl<const PAIRS: bool> CompactMap<PAIRS> {
    pub fn new() -> Self {
        Self::default()
    }

    /// The indexed layout, once switched to.
    fn table(&self) -> Option<&Table<PAIRS>> {
        // SAFETY: an indexed map's pointer is its live `Box<Table>`.
        self.indexed
            .then(|| unsafe { &*self.ptr.as_ptr().cast::<Table<PAIRS>>() })
    }

    fn table_mut(&mut self) -> Option<&mut Table<PAIRS>> {
        // SAFETY: as in `table`; `&mut self` makes this the only reference.
        self.indexed
            .then(|| unsafe { &mut *self.ptr.as_ptr().cast::<Table<PAIRS>>() })
    }

    /// Makes `table` the map's storage (the packed buffer must be empty).
    fn set_table(&mut self, table: Box<Table<PAIRS>>) {
        debug_assert!(!self.indexed && self.packed_bytes == 0);
        self.ptr = NonNull::from(Box::leak(table)).cast();
        self.indexed = true;
    }

    /// The packed buffer (empty once indexed).
    fn packed(&self) -> &[u8] {
        if self.indexed {
            return &[];
        }
        // SAFETY: a packed map's pointer is its buffer of `packed_bytes` bytes (dangling and
        // valid for an empty slice when 0).
        unsafe { std::slice::from_raw_parts(self.ptr.as_ptr(), self.packed_bytes as usize) }
    }

    /// Takes the packed buffer out, leaving it empty.
    fn take_packed(&mut self) -> Vec<u8> {
        if self.indexed {
            return Vec::new();
        }
        let len = self.packed_bytes as usize;
        let ptr = std::mem::replace(&mut self.ptr, NonNull::dangling());
        self.packed_bytes = 0;
        // SAFETY: the buffer came from `Box::<[u8]>::into_raw` in `put_packed` with this
        // length (or is the dangling empty slice, which a Box of length 0 also uses).
        unsafe { Box::from_raw(std::ptr::slice_from_raw_parts_mut(ptr.as_ptr(), len)) }.into_vec()
    }

    /// Makes `buf` the packed buffer, shrunk to its length (the old one must have been taken).
    fn put_packed(&mut self, buf: Vec<u8>) {
        debug_assert!(!self.indexed && self.packed_bytes == 0);
        let buf = buf.into_boxed_slice();
        self.packed_bytes = u32::try_from(buf.len()).expect("a packed map below 4 GiB");
        self.ptr = NonNull::new(Box::into_raw(buf).cast::<u8>()).expect("a box is not null");
    }

    pub fn len(&self) -> usize {
        match self.table() {
            Some(table) => table.len,
            None => self.packed_len as usize,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// True once the map has switched to the indexed layout (it never switches back).
    pub fn is_indexed(&self) -> bool {
        self.indexed
    }

    /// Heap bytes owned by the map: the packed buffer, or the table's box, elements, slab,
    /// free list and index (O(1)).
    pub fn heap_bytes(&self) -> usize {
        match self.table() {
            Some(table) => alloc_size(std::mem::size_of::<Table<PAIRS>>()) + table.heap_bytes(),
            None => alloc_size(self.packed().len()),
        }
    }

    /// Switches to the indexed layout (Redis's conversion to a hashtable), reserving room for
    /// `expected` elements.
    pub fn make_indexed(&mut self, expected: usize) {
        if self.indexed {
            return;
        }
        let mut table = Table::default();
        table.slots.reserve(expected.max(self.packed_len as usize));
        for (key, value) in self.packed_iter() {
            let elem = Elem::new(key, value);
            table.elem_bytes += elem.alloc_bytes();
            table.slots.push(Some(elem));
        }
        table.len = self.packed_len as usize;
        table.rebuild_index();
        drop(self.take_packed());
        self.packed_len = 0;
        self.set_table(Box::new(table));
    }

    fn packed_iter(&self) -> PackedIter<'_, PAIRS> {
        PackedIter {
            buf: self.packed(),
            at: 0,
        }
    }

    /// Byte range of the packed element with ordinal `id`.
    fn packed_range(&self, id: Slot) -> Option<std::ops::Range<usize>> {
        let mut at = 0;
        for _ in 0..id {
            if at >= self.packed().len() {
                return None;
            }
            at = packed_elem::<PAIRS>(self.packed(), at).2;
        }
        if at >= self.packed().len() {
            return None;
        }
        Some(at..packed_elem::<PAIRS>(self.packed(), at).2)
    }

    /// Replaces `range` of the packed buffer with `with`.
    fn packed_splice(&mut self, range: std::ops::Range<usize>, with: &[u8]) {
        let mut v = self.take_packed();
        v.reserve_exact(with.len().saturating_sub(range.len()));
        v.splice(range, with.iter().copied());
        self.put_packed(v);
    }

    /// The slot holding `key`.
    pub fn find(&self, key: &[u8]) -> Option<Slot> {
        match self.table() {
            Some(table) => table.find(key),
            None => self
                .packed_iter()
                .position(|(k, _)| k == key)
                .map(|p| p as Slot),
        }
    }

    pub fn contains(&self, key: &[u8]) -> bool {
        self.find(key).is_some()
    }

    /// The value stored under `key` (empty for a member map).
    pub fn get(&self, key: &[u8]) -> Option<&[u8]> {
        match self.table() {
            Some(table) => table.find(key).and_then(|id| table.at(id)).map(|(_, v)| v),
            None => self.packed_iter().find(|(k, _)| *k == key).map(|(_, v)| v),
        }
    }

    /// The element in slot `id`, if any.
    pub fn at(&self, id: Slot) -> Option<(&[u8], &[u8])> {
        match self.table() {
            Some(table) => table.at(id),
            None => self.packed_iter().nth(id as usize),
        }
    }

    /// Number of slots (holes included): slot numbers are `0..slot_count()`.
    pub fn slot_count(&self) -> usize {
        match self.table() {
            Some(table) => table.slots.len(),
            None => self.packed_len as usize,
        }
    }

    /// Inserts or replaces; true when `key` is new. A replaced element keeps its position.
    pub fn insert(&mut self, key: &[u8], value: &[u8]) -> bool {
        if let Some(table) = self.table_mut() {
            if let Some(id) = table.find(key) {
                table.replace_at(id, key, value);
                return false;
            }
            table.insert_new(key, value);
            return true;
        }
        match self.find(key) {
            Some(id) => {
                let range = self.packed_range(id).expect("found element");
                self.packed_splice(range, &packed_bytes::<PAIRS>(key, value));
                false
            }
            None => {
                self.insert_new(key, value);
                true
            }
        }
    }

    /// Inserts a key known to be absent.
    pub fn insert_new(&mut self, key: &[u8], value: &[u8]) {
        match self.table_mut() {
            Some(table) => table.insert_new(key, value),
            None => {
                let end = self.packed().len();
                self.packed_splice(end..end, &packed_bytes::<PAIRS>(key, value));
                self.packed_len += 1;
            }
        }
    }

    /// Inserts a key known to be absent at position `at` of a packed map (later elements shift),
    /// for owners that keep their own order (an intset's ascending integers).
    pub fn insert_packed_at(&mut self, at: usize, key: &[u8]) {
        debug_assert!(!self.indexed, "positions move only in a packed map");
        let offset = match self.packed_range(at as Slot) {
            Some(range) => range.start,
            None => self.packed().len(),
        };
        self.packed_splice(offset..offset, &packed_bytes::<PAIRS>(key, &[]));
        self.packed_len += 1;
    }

    /// Moves the element at position `from` of a packed map to position `to` (counted after
    /// its removal); the elements between shift by one. For owners that keep their own order
    /// (a listpackex hash's fields by deadline).
    pub fn move_packed(&mut self, from: usize, to: usize) {
        debug_assert!(!self.indexed, "positions move only in a packed map");
        let Some(range) = self.packed_range(from as Slot) else {
            return;
        };
        let elem = self.packed()[range.clone()].to_vec();
        self.packed_splice(range, &[]);
        let offset = match self.packed_range(to as Slot) {
            Some(range) => range.start,
            None => self.packed().len(),
        };
        self.packed_splice(offset..offset, &elem);
    }

    /// Removes `key`; true if it was present.
    pub fn remove(&mut self, key: &[u8]) -> bool {
        match self.find(key) {
            Some(id) => {
                self.remove_at(id);
                true
            }
            None => false,
        }
    }

    /// Removes the element in slot `id` (a packed map closes the gap; an indexed one leaves a
    /// hole and may compact). Slot numbers taken before are invalid afterwards.
    pub fn remove_at(&mut self, id: Slot) {
        match self.table_mut() {
            Some(table) => table.remove_at(id),
            None => {
                if let Some(range) = self.packed_range(id) {
                    self.packed_splice(range, &[]);
                    self.packed_len -= 1;
                }
            }
        }
    }

    /// Elements in slot order.
    pub fn iter(&self) -> impl Iterator<Item = (&[u8], &[u8])> + '_ {
        let table = self.table();
        let packed = table.is_none().then(|| self.packed_iter());
        packed.into_iter().flatten().chain(
            table
                .into_iter()
                .flat_map(|t| t.slots.iter().flatten().map(Elem::parts)),
        )
    }

    /// Keys in slot order.
    pub fn keys(&self) -> impl Iterator<Item = &[u8]> + '_ {
        self.iter().map(|(k, _)| k)
    }

    /// A uniformly random live slot; `below(n)` returns a random number in `0..n`.
    pub fn random_slot(&self, below: &mut impl FnMut(usize) -> usize) -> Option<Slot> {
        match self.table() {
            Some(table) => table.random_slot(below),
            None if self.packed_len == 0 => None,
            None => Some(below(self.packed_len as usize) as Slot),
        }
    }

    /// `count` distinct random slots (all of them, in slot order, when `count >= len`).
    pub fn random_distinct(
        &self,
        count: usize,
        below: &mut impl FnMut(usize) -> usize,
    ) -> Vec<Slot> {
        match self.table() {
            Some(table) => table.random_distinct(count, below),
            None => distinct_slots(self.packed_len, count, below),
        }
    }

    /// One SCAN step from logical position `cursor`: calls `f` for each element met, visiting
    /// until `count` elements were seen or `count * 10` slots were visited. Returns the next
    /// cursor, 0 when the end was reached. A packed map returns every element in one step with
    /// cursor 0, as Redis's listpack and intset do.
    pub fn scan(&self, cursor: u64, count: usize, mut f: impl FnMut(&[u8], &[u8])) -> u64 {
        match self.table() {
            Some(table) => table.scan(cursor, count, f),
            None => {
                for (k, v) in self.packed_iter() {
                    f(k, v);
                }
                0
            }
        }
    }
}

/// The indexed layout: a slab of elements and a hash index of slot numbers. The slab, the free
/// list and the index come from `TableAlloc`: once 1 MiB or more they are mappings of their own,
/// so the tables a growth replaces leave RSS at once (see `keyspace::index_alloc`).
#[derive(Clone)]
struct Table<const PAIRS: bool> {
    slots: TableVec<Option<Elem<PAIRS>>, TableAlloc>,
    /// Holes in `slots`.
    free: TableVec<u32, TableAlloc>,
    /// Slot numbers by key hash.
    index: HashTable<u32, TableAlloc>,
    /// Logical position of `slots[0]` (raised by `compact`).
    base: u64,
    len: usize,
    /// Running total of the elements' allocation sizes.
    elem_bytes: usize,
}

impl<const PAIRS: bool> Default for Table<PAIRS> {
    fn default() -> Self {
        Table {
            slots: TableVec::new_in(TableAlloc),
            free: TableVec::new_in(TableAlloc),
            index: HashTable::new_in(TableAlloc),
            base: 0,
            len: 0,
            elem_bytes: 0,
        }
    }
}

impl<const PAIRS: bool> Table<PAIRS> {
    /// Heap bytes owned by the table: elements, slab, free list and index (O(1)).
    fn heap_bytes(&self) -> usize {
        let slots = alloc_size(self.slots.capacity() * std::mem::size_of::<Option<Elem<PAIRS>>>());
        let free = alloc_size(self.free.capacity() * 4);
        let index = match self.index.capacity() {
            0 => 0,
            cap => {
                // hashbrown keeps 7/8 of its power-of-two buckets usable: 4 bytes + 1 control
                // byte per bucket, plus a group of trailing control bytes.
                let buckets = (cap * 8 / 7).next_power_of_two();
                alloc_size(buckets * 5 + 16)
            }
        };
        self.elem_bytes + slots + free + index
    }

    fn rebuild_index(&mut self) {
        self.index = HashTable::with_capacity_in(self.len, TableAlloc);
        let slots = &self.slots;
        for (id, slot) in slots.iter().enumerate() {
            if let Some(elem) = slot {
                self.index
                    .insert_unique(hash_of(elem.key()), id as u32, |&other| {
                        hash_of(slots[other as usize].as_ref().expect("indexed").key())
                    });
            }
        }
    }

    fn find(&self, key: &[u8]) -> Option<Slot> {
        let slots = &self.slots;
        self.index
            .find(hash_of(key), |&id| {
                slots[id as usize].as_ref().is_some_and(|e| e.key() == key)
            })
            .copied()
    }

    fn at(&self, id: Slot) -> Option<(&[u8], &[u8])> {
        self.slots.get(id as usize)?.as_ref().map(Elem::parts)
    }

    fn replace_at(&mut self, id: Slot, key: &[u8], value: &[u8]) {
        let elem = Elem::new(key, value);
        self.elem_bytes += elem.alloc_bytes();
        if let Some(old) = self.slots[id as usize].replace(elem) {
            self.elem_bytes -= old.alloc_bytes();
        }
    }

    fn insert_new(&mut self, key: &[u8], value: &[u8]) {
        let elem = Elem::new(key, value);
        self.elem_bytes += elem.alloc_bytes();
        self.len += 1;
        let id = match self.free.pop() {
            Some(id) => {
                self.slots[id as usize] = Some(elem);
                id
            }
            None => {
                assert!(self.slots.len() < u32::MAX as usize, "map of 2^32 slots");
                self.slots.push(Some(elem));
                (self.slots.len() - 1) as Slot
            }
        };
        let slots = &self.slots;
        self.index.insert_unique(hash_of(key), id, |&other| {
            hash_of(slots[other as usize].as_ref().expect("indexed").key())
        });
    }

    fn remove_at(&mut self, id: Slot) {
        let Some(elem) = self.slots.get_mut(id as usize).and_then(Option::take) else {
            return;
        };
        self.elem_bytes -= elem.alloc_bytes();
        self.len -= 1;
        if let Ok(found) = self
            .index
            .find_entry(hash_of(elem.key()), |&other| other == id)
        {
            found.remove();
        }
        self.free.push(id);
        if self.len == 0 {
            self.slots.clear();
            self.free.clear();
        } else if self.slots.len() >= COMPACT_SLOTS_MIN && self.len * 4 < self.slots.len() {
            self.compact();
        }
    }

    /// Moves elements from low slots into holes at high slots, then drops the emptied prefix
    /// (see the module documentation: elements only move to higher logical positions).
    fn compact(&mut self) {
        let (mut lo, mut hi) = (0usize, self.slots.len() - 1);
        loop {
            while lo < hi && self.slots[lo].is_none() {
                lo += 1;
            }
            while lo < hi && self.slots[hi].is_some() {
                hi -= 1;
            }
            if lo >= hi {
                break;
            }
            self.slots[hi] = self.slots[lo].take();
        }
        let first_live = self
            .slots
            .iter()
            .position(Option::is_some)
            .unwrap_or(self.slots.len());
        self.slots.drain(..first_live);
        self.slots.shrink_to(self.len * 2);
        self.base += first_live as u64;
        self.free.clear();
        let holes = (0..self.slots.len()).filter(|&i| self.slots[i].is_none());
        self.free.extend(holes.map(|i| i as Slot));
        self.free.shrink_to_fit();
        self.rebuild_index();
    }

    /// A uniformly random live slot; `below(n)` returns a random number in `0..n`.
    fn random_slot(&self, below: &mut impl FnMut(usize) -> usize) -> Option<Slot> {
        let n = self.slots.len();
        if self.len == 0 {
            return None;
        }
        for _ in 0..RANDOM_PROBES_MAX {
            let id = below(n);
            if self.slots[id].is_some() {
                return Some(id as Slot);
            }
        }
        let start = below(n);
        (0..n)
            .map(|i| (start + i) % n)
            .find(|&id| self.slots[id].is_some())
            .map(|id| id as Slot)
    }

    /// `count` distinct random slots (all of them, in slot order, when `count >= len`).
    fn random_distinct(&self, count: usize, below: &mut impl FnMut(usize) -> usize) -> Vec<Slot> {
        let live = || {
            (0..self.slots.len())
                .filter(|&i| self.slots[i].is_some())
                .map(|i| i as Slot)
        };
        if count >= self.len {
            return live().collect();
        }
        if count * 3 > self.len {
            // Many of them: a partial shuffle of every live slot.
            let mut all: Vec<Slot> = live().collect();
            for i in 0..count {
                let j = i + below(all.len() - i);
                all.swap(i, j);
            }
            all.truncate(count);
            return all;
        }
        let mut seen = hashbrown::HashSet::with_capacity(count);
        let mut out = Vec::with_capacity(count);
        while out.len() < count {
            let id = self.random_slot(below).expect("map is not empty");
            if seen.insert(id) {
                out.push(id);
            }
        }
        out
    }

    /// One SCAN step from logical position `cursor`: calls `f` for each element met, visiting
    /// until `count` elements were seen or `count * 10` slots were visited. Returns the next
    /// cursor, 0 when the end was reached.
    fn scan(&self, cursor: u64, count: usize, mut f: impl FnMut(&[u8], &[u8])) -> u64 {
        let start = usize::try_from(cursor.saturating_sub(self.base)).unwrap_or(usize::MAX);
        let visits_max = count.saturating_mul(SCAN_SLOTS_PER_COUNT);
        let (mut pos, mut seen) = (start, 0);
        while pos < self.slots.len() && seen < count && pos - start < visits_max {
            if let Some(elem) = &self.slots[pos] {
                let (k, v) = elem.parts();
                f(k, v);
                seen += 1;
            }
            pos += 1;
        }
        if pos >= self.slots.len() {
            0
        } else {
            self.base + pos as u64
        }
    }
}

impl<const PAIRS: bool> PartialEq for CompactMap<PAIRS> {
    /// Equal when they hold the same keys with the same values (layout and order aside).
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len() && self.iter().all(|(k, v)| other.get(k) == Some(v))
    }
}

impl<const PAIRS: bool> std::fmt::Debug for CompactMap<PAIRS> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut map = f.debug_map();
        for (k, v) in self.iter() {
            map.entry(&String::from_utf8_lossy(k), &String::from_utf8_lossy(v));
        }
        map.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rng(seed: u64) -> impl FnMut(usize) -> usize {
        let mut s = seed | 1;
        move |n| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            (s % n as u64) as usize
        }
    }

    fn key(i: usize) -> Vec<u8> {
        format!("field:{i}").into_bytes()
    }

    #[test]
    fn packed_keeps_insertion_order_and_closes_gaps() {
        let mut m = PairMap::new();
        assert!(m.insert(b"a", b"1"));
        assert!(m.insert(b"b", b"2"));
        assert!(m.insert(b"c", b"3"));
        assert!(!m.insert(b"a", b"one"));
        assert!(m.remove(b"b"));
        assert!(m.insert(b"d", b"4"));
        let items: Vec<_> = m.iter().collect();
        assert_eq!(
            items,
            vec![(&b"a"[..], &b"one"[..]), (b"c", b"3"), (b"d", b"4")]
        );
        assert_eq!(m.get(b"c"), Some(&b"3"[..]));
        assert_eq!(m.get(b"b"), None);
    }

    #[test]
    fn indexed_lookups_and_binary_keys() {
        let mut m = PairMap::new();
        m.make_indexed(0);
        for i in 0..1000 {
            assert!(m.insert(&key(i), &key(i * 2)));
        }
        assert!(m.insert(b"\x00\xff", b""));
        assert_eq!(m.len(), 1001);
        for i in 0..1000 {
            assert_eq!(m.get(&key(i)), Some(&key(i * 2)[..]));
        }
        assert_eq!(m.get(b"\x00\xff"), Some(&b""[..]));
        for i in (0..1000).step_by(2) {
            assert!(m.remove(&key(i)));
        }
        assert!(!m.remove(&key(0)));
        assert_eq!(m.len(), 501);
        assert!(m.contains(&key(999)) && !m.contains(&key(998)));
    }

    #[test]
    fn memory_accounting_follows_changes() {
        let mut m = MemberMap::new();
        let empty = m.heap_bytes();
        m.insert(&[b'x'; 100], b"");
        assert!(m.heap_bytes() >= empty + 101);
        m.remove(&[b'x'; 100]);
        assert_eq!(m.heap_bytes(), 0);
    }

    /// Redis's SCAN guarantee: elements present during the whole scan come back at least once,
    /// while other elements are added and removed (which compacts the slab) in between.
    #[test]
    fn scan_returns_every_stable_element_despite_growth_and_compaction() {
        let mut m = MemberMap::new();
        m.make_indexed(0);
        for i in 0..2000 {
            m.insert(&key(i), b"");
        }
        let stable: Vec<Vec<u8>> = (0..2000).step_by(50).map(key).collect();
        let mut seen = hashbrown::HashSet::new();
        let mut cursor = 0;
        let mut step = 0;
        loop {
            cursor = m.scan(cursor, 10, |k, _| {
                seen.insert(k.to_vec());
            });
            // Churn: remove most unstable elements (forcing compactions), add new ones.
            for i in (step * 40)..(step * 40 + 40) {
                if i < 2000 && i % 50 != 0 {
                    m.remove(&key(i));
                }
            }
            m.insert(&key(10_000 + step), b"");
            step += 1;
            if cursor == 0 {
                break;
            }
        }
        for k in &stable {
            assert!(seen.contains(k), "missed {:?}", String::from_utf8_lossy(k));
        }
        assert!(m.slot_count() < 2000, "the slab was compacted");
    }

    #[test]
    fn compaction_keeps_random_picks_cheap_and_lookups_right() {
        let mut m = MemberMap::new();
        m.make_indexed(0);
        for i in 0..10_000 {
            m.insert(&key(i), b"");
        }
        for i in 0..9_990 {
            m.remove(&key(i));
        }
        assert!(m.slot_count() <= 40);
        let mut below = rng(7);
        for _ in 0..100 {
            let id = m.random_slot(&mut below).unwrap();
            assert!(m.at(id).is_some());
        }
        for i in 9_990..10_000 {
            assert!(m.contains(&key(i)));
        }
    }

    #[test]
    fn tables_past_the_mapping_threshold_grow_shrink_and_clone() {
        // 300k slots: a 4 MiB slab and a 2.5 MiB index, both mapped (`TableAlloc`), grown
        // through the smaller jemalloc tables and remapped slabs; then compaction shrinks the
        // slab back below the threshold and rebuilds the index from jemalloc.
        const N: usize = 300_000;
        let mut m = PairMap::new();
        m.make_indexed(0);
        for i in 0..N {
            assert!(m.insert(&key(i), &key(i + 1)));
        }
        let copy = m.clone();
        assert_eq!(m.len(), N);
        assert!(m.heap_bytes() >= N * 32 + N * 8, "{}", m.heap_bytes());
        for i in (0..N).step_by(997) {
            assert_eq!(m.get(&key(i)), Some(&key(i + 1)[..]));
        }
        for i in 0..N - 1000 {
            assert!(m.remove(&key(i)));
        }
        assert!(m.slot_count() <= 4 * 1000, "{}", m.slot_count());
        for i in N - 1000..N {
            assert_eq!(m.get(&key(i)), Some(&key(i + 1)[..]));
        }
        assert_eq!(copy.len(), N);
        assert_eq!(copy.get(&key(12_345)), Some(&key(12_346)[..]));
        drop(copy);
        for i in 0..N {
            m.insert(&key(i), b"v");
        }
        assert_eq!(m.len(), N);
        assert_eq!(m.get(&key(N - 1)), Some(&b"v"[..]));
    }

    #[test]
    fn random_picks_are_roughly_uniform() {
        let mut m = MemberMap::new();
        m.make_indexed(0);
        for i in 0..10 {
            m.insert(&key(i), b"");
        }
        let mut below = rng(42);
        let mut hits = [0usize; 10];
        for _ in 0..10_000 {
            let id = m.random_slot(&mut below).unwrap();
            let (k, _) = m.at(id).unwrap();
            let i: usize = std::str::from_utf8(&k[6..]).unwrap().parse().unwrap();
            hits[i] += 1;
        }
        assert!(hits.iter().all(|&h| (800..1200).contains(&h)), "{hits:?}");
    }

    #[test]
    fn distinct_picks_are_distinct() {
        let mut m = MemberMap::new();
        for i in 0..100 {
            m.insert(&key(i), b"");
        }
        let mut below = rng(3);
        for count in [1, 10, 40, 99, 100, 500] {
            let picks = m.random_distinct(count, &mut below);
            assert_eq!(picks.len(), count.min(100));
            let unique: hashbrown::HashSet<_> = picks.iter().collect();
            assert_eq!(unique.len(), picks.len());
        }
    }

    #[test]
    fn packed_costs_one_buffer_in_its_size_class() {
        let mut m = PairMap::new();
        for i in 1..=10 {
            m.insert(format!("f{i}").as_bytes(), format!("v{i}").as_bytes());
        }
        // 9 elements of 1+1+2+2 bytes and one of 1+1+3+3: 62 bytes in the 64-byte class.
        assert_eq!(m.heap_bytes(), 64);
        for i in 1..=10 {
            m.remove(format!("f{i}").as_bytes());
        }
        assert_eq!(m.heap_bytes(), 0);
    }

    #[test]
    fn packed_matches_a_model_under_mixed_edits() {
        let mut m = PairMap::new();
        let mut model: Vec<(Vec<u8>, Vec<u8>)> = Vec::new();
        let mut below = rng(11);
        for step in 0..4000 {
            let k = key(below(40));
            let v = vec![b'v'; below(200)];
            match below(3) {
                0 | 1 => {
                    let new = m.insert(&k, &v);
                    match model.iter_mut().find(|(mk, _)| *mk == k) {
                        Some(e) => {
                            assert!(!new);
                            e.1 = v;
                        }
                        None => {
                            assert!(new);
                            model.push((k, v));
                        }
                    }
                }
                _ => {
                    let was = model.iter().position(|(mk, _)| *mk == k);
                    assert_eq!(m.remove(&k), was.is_some());
                    if let Some(p) = was {
                        model.remove(p);
                    }
                }
            }
            let items: Vec<(Vec<u8>, Vec<u8>)> =
                m.iter().map(|(k, v)| (k.to_vec(), v.to_vec())).collect();
            assert_eq!(items, model, "step {step}");
            assert_eq!(m.len(), model.len());
            assert_eq!(m.heap_bytes(), alloc_size(m.packed().len()));
        }
        let len = m.len();
        m.make_indexed(0);
        assert_eq!(m.len(), len);
        for (k, v) in &model {
            assert_eq!(m.get(k), Some(&v[..]));
        }
    }

    #[test]
    fn equality_ignores_layout() {
        let mut a = PairMap::new();
        let mut b = PairMap::new();
        b.make_indexed(0);
        a.insert(b"x", b"1");
        a.insert(b"y", b"2");
        b.insert(b"y", b"2");
        b.insert(b"x", b"1");
        assert_eq!(a, b);
        b.insert(b"x", b"3");
        assert_ne!(a, b);
        assert_eq!(a.clone(), a);
    }
}
