//! One key's record in a single allocation: `[header][key][value]`, behind a thin pointer.
//!
//! Per-key memory is a figure we compete on (Redis spends ~187 B for a 13-byte key and a
//! 100-byte value). A `Box<[u8]>` key, a boxed value and a deadline field cost two allocations
//! and a 56-byte slot. Here the slot is one 8-byte pointer and everything else lives in one
//! allocation whose header is 7 bytes for small keys:
//!
//! ```text
//! flags: u8 | access: u32 LE | key_len: varint | value_len: varint
//!     | [mc_flags: u32 LE, cas: u64 LE] | [deadline: 6 or 8 bytes LE] | key | value
//! ```
//!
//! `deadline` is present only when the HAS_DEADLINE flag is set, so persistent keys do not pay
//! for it; likewise the memcached metadata (HAS_META: client flags and CAS unique, see
//! `crate::memcache`), which any new value drops. An aggregate value (hash, list, sorted set, stream) is a `Box` whose raw pointer fills
//! the value part (8 bytes); the flags byte says which type it is, and the entry owns the box.
//! A set has no box: its `SetValue` is itself an 8-byte handle of alignment 1 (see
//! `types/set.rs`), kept in the value part and borrowed from there in place.
//! An entry of up to 512 bytes is an exact-size cell of `entry_arena` (7 + 13 + 100 = 120
//! bytes cost 120, where jemalloc's classes would make them 128); a longer one is a jemalloc
//! allocation. Changing the value or
//! adding a deadline rebuilds the allocation; reading never copies.
//!
//! A string that commands change in place (SETBIT, BITFIELD, PFADD, APPEND, SETRANGE) lives
//! instead in a boxed `Vec<u8>` behind the value pointer (kind `BUF`): it reads as an ordinary
//! string, and grows with spare room as Redis's sds does (double below 1 MiB, then 1 MiB more),
//! so setting bits at increasing offsets costs amortised O(1) per call rather than a copy of the
//! whole value.
//!
//! This is the one place in the keyspace with `unsafe` code: building the allocation, reading
//! its header, and freeing it with the same layout. The invariants are local: `ptr` always
//! points to a live allocation written by `Entry::build`, whose length `Header::total_len`
//! recomputes from the header alone.

use super::entry_arena::{self, Arena};
use super::types::{HashValue, ListValue, SetValue, StreamValue, ZSetValue};
use super::value::{alloc_size, Value, ValueMut, ValueRef};
use std::alloc::{alloc, dealloc, handle_alloc_error, Layout};
use std::ptr::NonNull;

const HAS_DEADLINE: u8 = 1;
/// The entry carries memcached metadata (client flags and CAS unique), 12 bytes before the
/// deadline. Only items stored or read with a CAS through the memcached listener have it.
const HAS_META: u8 = 1 << 4;
const META_BYTES: usize = 4 + 8;
/// The deadline takes 8 bytes (Unix milliseconds); without this flag it takes 5, milliseconds
/// since `NARROW_DEADLINE_BASE` (2020-01-01), enough until late 2054: a key with a TTL costs 5
/// bytes more than one without.
const DEADLINE_WIDE: u8 = 1 << 5;
const NARROW_DEADLINE_BYTES: usize = 5;
const NARROW_DEADLINE_BASE: u64 = 1_577_836_800_000;

/// Whether a deadline fits the narrow form.
fn narrow_deadline(at: u64) -> bool {
    at.wrapping_sub(NARROW_DEADLINE_BASE) < 1 << (8 * NARROW_DEADLINE_BYTES)
}
/// Bits 1..4 of the flags: which type the value part holds.
const KIND_SHIFT: u8 = 1;
const KIND_MASK: u8 = 0b1110;
const KIND_STR: u8 = 0;
const KIND_HASH: u8 = 1;
const KIND_LIST: u8 = 2;
const KIND_SET: u8 = 3;
const KIND_ZSET: u8 = 4;
/// A string in its own growable buffer (`Box<Vec<u8>>`) instead of inside the entry: what the
/// bit and HyperLogLog commands change in place, with spare room so growth is amortised.
const KIND_BUF: u8 = 5;
const KIND_STREAM: u8 = 6;
const POINTER_BYTES: usize = std::mem::size_of::<usize>();
/// flags + access + two varints of up to 10 bytes + memcached metadata + deadline.
const HEADER_BYTES_MAX: usize = 1 + 4 + 10 + 10 + META_BYTES + 8;

pub struct Entry {
    ptr: NonNull<u8>,
}

// SAFETY: an Entry owns its allocation exclusively, like a Box<[u8]>.
unsafe impl Send for Entry {}
// SAFETY: shared references only read the allocation.
unsafe impl Sync for Entry {}

/// The decoded header of an entry.
#[derive(Clone, Copy, Debug)]
struct Header {
    flags: u8,
    key_len: usize,
    value_len: usize,
    /// Offset of the key: the header's own length.
    key_at: usize,
}

impl Header {
    fn total_len(&self) -> usize {
        self.key_at + self.key_len + self.value_len
    }

    fn has_deadline(&self) -> bool {
        self.flags & HAS_DEADLINE != 0
    }

    /// Bytes the deadline takes in the header: 0, 5 or 8.
    fn deadline_bytes(&self) -> usize {
        deadline_bytes(self.flags)
    }

    fn kind(&self) -> u8 {
        (self.flags & KIND_MASK) >> KIND_SHIFT
    }

    fn has_meta(&self) -> bool {
        self.flags & HAS_META != 0
    }

    /// Offset of the memcached metadata (valid when `has_meta`).
    fn meta_at(&self) -> usize {
        self.key_at - META_BYTES - self.deadline_bytes()
    }
}

/// memcached's per-item metadata: the client's 32-bit flags and the CAS unique.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ItemMeta {
    pub flags: u32,
    pub cas: u64,
}

/// Fixed per-entry overhead counted besides the entry's allocation: its 8-byte slab slot. The
/// shard's hash index is counted by the shard from its capacity (`Shard::used_bytes`).
pub const ENTRY_OVERHEAD_BYTES: usize = std::mem::size_of::<Option<Entry>>();

/// A hint to start loading the cache line at `addr`; it has no other effect.
#[inline]
pub fn prefetch<T>(addr: *const T) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: a prefetch reads nothing the program sees and never faults, whatever the address.
    unsafe {
        use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
        _mm_prefetch::<_MM_HINT_T0>(addr.cast::<i8>());
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = addr;
}

fn deadline_bytes(flags: u8) -> usize {
    match (flags & HAS_DEADLINE != 0, flags & DEADLINE_WIDE != 0) {
        (false, _) => 0,
        (true, false) => NARROW_DEADLINE_BYTES,
        (true, true) => 8,
    }
}

fn put_varint(buf: &mut [u8], mut at: usize, mut n: u64) -> usize {
    loop {
        let byte = (n & 0x7f) as u8;
        n >>= 7;
        if n == 0 {
            buf[at] = byte;
            return at + 1;
        }
        buf[at] = byte | 0x80;
        at += 1;
    }
}

impl Entry {
    /// Builds an entry holding a string value.
    pub fn new_str(key: &[u8], value: &[u8], deadline: Option<u64>, arena: &Arena) -> Entry {
        Entry::build(arena, key, KIND_STR, value, deadline, 0, None)
    }

    /// A string entry carrying memcached metadata (flags, CAS unique).
    pub fn new_item(
        key: &[u8],
        value: &[u8],
        deadline: Option<u64>,
        meta: ItemMeta,
        arena: &Arena,
    ) -> Entry {
        Entry::build(arena, key, KIND_STR, value, deadline, 0, Some(meta))
    }

    /// Builds an entry from an owned value.
    pub fn new(key: &[u8], value: Value, deadline: Option<u64>, arena: &Arena) -> Entry {
        Entry::from_value(arena, key, value, deadline, 0)
    }

    fn from_value(
        arena: &Arena,
        key: &[u8],
        value: Value,
        deadline: Option<u64>,
        access: u32,
    ) -> Entry {
        let (kind, ptr) = match value {
            Value::Str(bytes) => {
                return Entry::build(arena, key, KIND_STR, &bytes, deadline, access, None)
            }
            Value::Hash(v) => (KIND_HASH, Box::into_raw(v) as usize),
            Value::List(v) => (KIND_LIST, Box::into_raw(v) as usize),
            // A set's 8-byte handle is stored in the value part itself (no box).
            Value::Set(v) => (KIND_SET, usize::from_le_bytes((*v).into_handle())),
            Value::ZSet(v) => (KIND_ZSET, Box::into_raw(v) as usize),
            Value::Stream(v) => (KIND_STREAM, Box::into_raw(v) as usize),
        };
        Entry::build(arena, key, kind, &ptr.to_le_bytes(), deadline, access, None)
    }

    /// Builds the allocation; a small one is a cell of `arena` (the shard's that will hold it).
    fn build(
        arena: &Arena,
        key: &[u8],
        kind: u8,
        value: &[u8],
        deadline: Option<u64>,
        access: u32,
        meta: Option<ItemMeta>,
    ) -> Entry {
        let mut header = [0u8; HEADER_BYTES_MAX];
        header[0] = kind << KIND_SHIFT
            | if deadline.is_some() { HAS_DEADLINE } else { 0 }
            | if meta.is_some() { HAS_META } else { 0 };
        header[1..5].copy_from_slice(&access.to_le_bytes());
        let mut len = put_varint(&mut header, 5, key.len() as u64);
        len = put_varint(&mut header, len, value.len() as u64);
        if let Some(meta) = meta {
            header[len..len + 4].copy_from_slice(&meta.flags.to_le_bytes());
            header[len + 4..len + META_BYTES].copy_from_slice(&meta.cas.to_le_bytes());
            len += META_BYTES;
        }
        if let Some(at) = deadline {
            let (stored, width) = if narrow_deadline(at) {
                (at - NARROW_DEADLINE_BASE, NARROW_DEADLINE_BYTES)
            } else {
                header[0] |= DEADLINE_WIDE;
                (at, 8)
            };
            header[len..len + width].copy_from_slice(&stored.to_le_bytes()[..width]);
            len += width;
        }
        let total = len + key.len() + value.len();
        let ptr = Entry::allocate(arena, total);
        // SAFETY: the three copies fill exactly `total` bytes of the fresh allocation and their
        // sources do not overlap it.
        unsafe {
            std::ptr::copy_nonoverlapping(header.as_ptr(), ptr, len);
            std::ptr::copy_nonoverlapping(key.as_ptr(), ptr.add(len), key.len());
            std::ptr::copy_nonoverlapping(value.as_ptr(), ptr.add(len + key.len()), value.len());
            Entry {
                ptr: NonNull::new_unchecked(ptr),
            }
        }
    }

    /// `total` fresh bytes: an exact-size cell of `arena` for small entries, else a jemalloc
    /// allocation (see `entry_arena`).
    fn allocate(arena: &Arena, total: usize) -> *mut u8 {
        if total <= entry_arena::MAX_CELL {
            return arena.alloc(total).as_ptr();
        }
        let layout = Layout::from_size_align(total, 1).expect("entry size fits a layout");
        // SAFETY: `total > MAX_CELL`, so the layout is not zero-sized.
        let ptr = unsafe { alloc(layout) };
        if ptr.is_null() {
            handle_alloc_error(layout);
        }
        ptr
    }

    /// Frees an allocation `allocate(total)` returned.
    ///
    /// SAFETY: `ptr` came from `allocate(total)` with this `total` and is freed once.
    unsafe fn release(ptr: NonNull<u8>, total: usize) {
        if total <= entry_arena::MAX_CELL {
            // SAFETY: the caller's contract.
            unsafe { entry_arena::free(ptr, total) }
        } else {
            // SAFETY: the caller's contract; `allocate` used this layout.
            unsafe { dealloc(ptr.as_ptr(), Layout::from_size_align_unchecked(total, 1)) }
        }
    }

    fn byte(&self, at: usize) -> u8 {
        // SAFETY: only called for header offsets, which `build` wrote within the allocation.
        unsafe { *self.ptr.as_ptr().add(at) }
    }

    fn varint(&self, mut at: usize) -> (usize, usize) {
        let mut n: u64 = 0;
        let mut shift = 0;
        loop {
            let byte = self.byte(at);
            n |= u64::from(byte & 0x7f) << shift;
            at += 1;
            if byte & 0x80 == 0 {
                return (n as usize, at);
            }
            shift += 7;
        }
    }

    fn header(&self) -> Header {
        let flags = self.byte(0);
        let (key_len, at) = self.varint(5);
        let (value_len, mut key_at) = self.varint(at);
        key_at += deadline_bytes(flags);
        if flags & HAS_META != 0 {
            key_at += META_BYTES;
        }
        Header {
            flags,
            key_len,
            value_len,
            key_at,
        }
    }

    /// `len` bytes at `at`, which must lie inside the allocation.
    fn part(&self, at: usize, len: usize) -> &[u8] {
        // SAFETY: callers pass ranges computed from the header, inside the allocation.
        unsafe { std::slice::from_raw_parts(self.ptr.as_ptr().add(at), len) }
    }

    /// Starts loading the entry's header into the cache, for a caller about to read several
    /// entries (eviction's batches): their memory reads then overlap.
    pub fn prefetch(&self) {
        prefetch(self.ptr.as_ptr());
    }

    /// `prefetch`, and the lines up to 128 bytes on: for a lookup about to read the value. A
    /// 13-byte key and a 100-byte value make a 120-byte entry; packed exactly in the arena, it
    /// is not line-aligned and may touch three lines.
    pub fn prefetch_two_lines(&self) {
        prefetch(self.ptr.as_ptr());
        prefetch(self.ptr.as_ptr().wrapping_add(64));
        prefetch(self.ptr.as_ptr().wrapping_add(119));
    }

    pub fn key(&self) -> &[u8] {
        let h = self.header();
        self.part(h.key_at, h.key_len)
    }

    /// The raw value part: string bytes, or an aggregate's pointer.
    fn value_part(&self, h: &Header) -> &[u8] {
        self.part(h.key_at + h.key_len, h.value_len)
    }

    /// The aggregate's pointer stored in the value part.
    fn collection_ptr(&self, h: &Header) -> usize {
        let raw: [u8; POINTER_BYTES] = self.value_part(h).try_into().expect("pointer bytes");
        usize::from_le_bytes(raw)
    }

    /// The value, borrowed from the entry.
    pub fn value(&self) -> ValueRef<'_> {
        let h = self.header();
        if h.kind() == KIND_STR {
            return ValueRef::Str(self.value_part(&h));
        }
        if h.kind() == KIND_SET {
            // SAFETY: a set's value part is its `SetValue` handle (8 bytes, alignment 1),
            // owned by the entry; `&self` keeps it alive and unaliased by any `&mut`.
            return ValueRef::Set(unsafe { &*(self.value_part(&h).as_ptr() as *const SetValue) });
        }
        let ptr = self.collection_ptr(&h);
        if h.kind() == KIND_BUF {
            // SAFETY: as below; the pointer came from `Box::into_raw` of a `Vec<u8>`.
            return ValueRef::Str(unsafe { &*(ptr as *const Vec<u8>) });
        }
        // SAFETY: the pointer came from `Box::into_raw` of the type the kind names (see
        // `from_value`); the entry owns the box, and `&self` keeps it alive and unaliased by
        // any `&mut`.
        unsafe {
            match h.kind() {
                KIND_HASH => ValueRef::Hash(&*(ptr as *const HashValue)),
                KIND_LIST => ValueRef::List(&*(ptr as *const ListValue)),
                KIND_STREAM => ValueRef::Stream(&*(ptr as *const StreamValue)),
                _ => ValueRef::ZSet(&*(ptr as *const ZSetValue)),
            }
        }
    }

    /// The value for change in place. Only the shard hands this out (`Shard::modify`), so the
    /// size change is always accounted.
    pub(super) fn value_mut(&mut self) -> ValueMut<'_> {
        let h = self.header();
        if h.kind() == KIND_STR {
            return ValueMut::Str(self.part(h.key_at + h.key_len, h.value_len));
        }
        if h.kind() == KIND_SET {
            let at = h.key_at + h.key_len;
            // SAFETY: as in `value`; `&mut self` makes this the only reference to the handle,
            // which lies inside the allocation.
            return ValueMut::Set(unsafe { &mut *(self.ptr.as_ptr().add(at) as *mut SetValue) });
        }
        let ptr = self.collection_ptr(&h);
        if h.kind() == KIND_BUF {
            // SAFETY: as in `value`.
            return ValueMut::Str(unsafe { &*(ptr as *const Vec<u8>) });
        }
        // SAFETY: as in `value`; `&mut self` makes this the only reference to the box.
        unsafe {
            match h.kind() {
                KIND_HASH => ValueMut::Hash(&mut *(ptr as *mut HashValue)),
                KIND_LIST => ValueMut::List(&mut *(ptr as *mut ListValue)),
                KIND_STREAM => ValueMut::Stream(&mut *(ptr as *mut StreamValue)),
                _ => ValueMut::ZSet(&mut *(ptr as *mut ZSetValue)),
            }
        }
    }

    /// An owned copy of the value (aggregates are deep-copied).
    pub fn to_value(&self) -> Value {
        match self.value() {
            ValueRef::Str(bytes) => Value::string(bytes),
            ValueRef::Hash(v) => Value::Hash(Box::new(v.clone())),
            ValueRef::List(v) => Value::List(Box::new(v.clone())),
            ValueRef::Set(v) => Value::Set(Box::new(v.clone())),
            ValueRef::ZSet(v) => Value::ZSet(Box::new(v.clone())),
            ValueRef::Stream(v) => Value::Stream(Box::new(v.clone())),
        }
    }

    /// Rebuilds the allocation with another key and/or deadline, moving the value part as is
    /// (an aggregate's box changes owner, it is neither copied nor freed).
    fn rebuilt(self, key: Option<&[u8]>, deadline: Option<u64>, arena: &Arena) -> Entry {
        let h = self.header();
        let key = key.unwrap_or_else(|| self.key());
        let fresh = Entry::build(
            arena,
            key,
            h.kind(),
            self.value_part(&h),
            deadline,
            self.access(),
            self.meta(),
        );
        self.free_shell();
        fresh
    }

    /// Frees the allocation without dropping an aggregate value (its box has a new owner).
    fn free_shell(self) {
        let total = self.header().total_len();
        let ptr = self.ptr;
        std::mem::forget(self);
        // SAFETY: as in `Drop`: the size `build` used, freed once (the forgotten `self` will
        // not run `Drop`).
        unsafe { Entry::release(ptr, total) }
    }

    /// Bytes the deadline takes in the entry: 0 without one, 5 (narrow) or 8.
    pub fn deadline_bytes(&self) -> usize {
        self.header().deadline_bytes()
    }

    pub fn expire_at_ms(&self) -> Option<u64> {
        let h = self.header();
        if !h.has_deadline() {
            return None;
        }
        let width = h.deadline_bytes();
        let mut raw = [0u8; 8];
        raw[..width].copy_from_slice(self.part(h.key_at - width, width));
        let stored = u64::from_le_bytes(raw);
        Some(if width == 8 {
            stored
        } else {
            stored + NARROW_DEADLINE_BASE
        })
    }

    /// Writes `at` over the deadline the entry has, of the same width.
    fn write_deadline(&mut self, h: &Header, at: u64) {
        let width = h.deadline_bytes();
        let offset = h.key_at - width;
        let at = if width == 8 {
            at
        } else {
            at - NARROW_DEADLINE_BASE
        };
        // SAFETY: the deadline's `width` bytes lie inside the allocation, before the key.
        unsafe {
            std::ptr::copy_nonoverlapping(
                at.to_le_bytes().as_ptr(),
                self.ptr.as_ptr().add(offset),
                width,
            );
        }
    }

    /// Sets or clears the deadline. Overwrites it in place when the entry already has one;
    /// otherwise rebuilds the allocation (in `arena`).
    pub fn set_expire_at_ms(&mut self, deadline: Option<u64>, arena: &Arena) {
        let h = self.header();
        let same_width =
            |at: u64| narrow_deadline(at) == (h.deadline_bytes() == NARROW_DEADLINE_BYTES);
        match (h.has_deadline(), deadline) {
            (true, Some(at)) if same_width(at) => self.write_deadline(&h, at),
            (false, None) => {}
            _ => {
                // Swap in a placeholder so the old entry can be consumed by value.
                let old = std::mem::replace(self, Entry::new_str(b"", b"", None, arena));
                *self = old.rebuilt(None, deadline, arena);
            }
        }
    }

    pub fn is_expired(&self, now_ms: u64) -> bool {
        self.expire_at_ms().is_some_and(|at| at < now_ms)
    }

    /// Access bits: last access in seconds of the LRU clock (low 24 bits) and an LFU counter
    /// (high 8 bits).
    pub fn access(&self) -> u32 {
        u32::from_le_bytes([self.byte(1), self.byte(2), self.byte(3), self.byte(4)])
    }

    pub fn set_access(&mut self, access: u32) {
        // SAFETY: bytes 1..5 of the header hold the access word.
        unsafe {
            std::ptr::copy_nonoverlapping(
                access.to_le_bytes().as_ptr(),
                self.ptr.as_ptr().add(1),
                4,
            );
        }
    }

    /// The same key, deadline and access bits with a new string value. The memcached
    /// metadata is dropped: a new value has flags 0 and a new CAS unique.
    /// True when a string of `len` bytes with `deadline` would have exactly this entry's layout:
    /// a string kept inside the entry, without memcached metadata (which a new value drops),
    /// of the same length, and a deadline of the same width or none, as now.
    pub fn fits_str(&self, len: usize, deadline: Option<u64>) -> bool {
        let h = self.header();
        h.kind() == KIND_STR
            && !h.has_meta()
            && h.value_len == len
            && match deadline {
                None => !h.has_deadline(),
                Some(at) => {
                    h.has_deadline()
                        && narrow_deadline(at) == (h.deadline_bytes() == NARROW_DEADLINE_BYTES)
                }
            }
    }

    /// Writes a new string value and deadline over the old ones, in the same allocation.
    /// Panics unless `fits_str(value.len(), deadline)`.
    pub fn overwrite_str(&mut self, value: &[u8], deadline: Option<u64>) {
        assert!(self.fits_str(value.len(), deadline), "same layout");
        let h = self.header();
        if let Some(at) = deadline {
            self.write_deadline(&h, at);
        }
        // SAFETY: the value part is `value.len()` bytes inside the allocation (`fits_str`), and
        // `value` is an argument of the request, not part of this entry.
        unsafe {
            std::ptr::copy_nonoverlapping(
                value.as_ptr(),
                self.ptr.as_ptr().add(h.key_at + h.key_len),
                value.len(),
            );
        }
    }

    pub fn with_str(&self, value: &[u8], arena: &Arena) -> Entry {
        Entry::build(
            arena,
            self.key(),
            KIND_STR,
            value,
            self.expire_at_ms(),
            self.access(),
            None,
        )
    }

    /// memcached metadata, when the entry carries it (see `ItemMeta`).
    pub fn meta(&self) -> Option<ItemMeta> {
        let h = self.header();
        if !h.has_meta() {
            return None;
        }
        let at = h.meta_at();
        let raw = self.part(at, META_BYTES);
        Some(ItemMeta {
            flags: u32::from_le_bytes(raw[..4].try_into().expect("4 bytes")),
            cas: u64::from_le_bytes(raw[4..].try_into().expect("8 bytes")),
        })
    }

    /// The same key, value, deadline and access bits with other memcached metadata (written in
    /// place when the entry already carries some). Only the shard calls this, to account the
    /// size change.
    pub(super) fn set_meta(&mut self, meta: ItemMeta, arena: &Arena) {
        let h = self.header();
        if h.has_meta() {
            let mut raw = [0u8; META_BYTES];
            raw[..4].copy_from_slice(&meta.flags.to_le_bytes());
            raw[4..].copy_from_slice(&meta.cas.to_le_bytes());
            // SAFETY: the metadata's 12 bytes lie inside the allocation, before the deadline.
            unsafe {
                std::ptr::copy_nonoverlapping(
                    raw.as_ptr(),
                    self.ptr.as_ptr().add(h.meta_at()),
                    META_BYTES,
                );
            }
            return;
        }
        let fresh = Entry::build(
            arena,
            self.key(),
            h.kind(),
            self.value_part(&h),
            self.expire_at_ms(),
            self.access(),
            Some(meta),
        );
        let old = std::mem::replace(self, fresh);
        old.free_shell();
    }

    /// The same key, deadline and access bits with a new value.
    pub fn with_value(&self, value: Value, arena: &Arena) -> Entry {
        Entry::from_value(arena, self.key(), value, self.expire_at_ms(), self.access())
    }

    /// The same value, deadline and access bits under another key (RENAME, MOVE), in `arena`
    /// (the destination shard's).
    pub fn with_key(self, key: &[u8], arena: &Arena) -> Entry {
        let deadline = self.expire_at_ms();
        self.rebuilt(Some(key), deadline, arena)
    }

    /// Builds an entry whose string lives in its own growable buffer (see `KIND_BUF`).
    pub fn new_buf(key: &[u8], value: Vec<u8>, deadline: Option<u64>, arena: &Arena) -> Entry {
        let ptr = Box::into_raw(Box::new(value)) as usize;
        Entry::build(arena, key, KIND_BUF, &ptr.to_le_bytes(), deadline, 0, None)
    }

    /// The string value for change in place, moved into a growable buffer first if it lives
    /// inside the entry; `None` for other types.
    pub(super) fn str_buf_mut(&mut self, arena: &Arena) -> Option<&mut Vec<u8>> {
        let h = self.header();
        match h.kind() {
            KIND_BUF => {}
            KIND_STR => {
                let bytes = self.value_part(&h).to_vec();
                let moved = Entry::new_buf(self.key(), bytes, self.expire_at_ms(), arena);
                let old = std::mem::replace(self, moved);
                self.set_access(old.access());
                drop(old);
            }
            _ => return None,
        }
        let h = self.header();
        let ptr = self.collection_ptr(&h);
        // SAFETY: as in `value_mut`: the entry owns the box and `&mut self` is unique.
        Some(unsafe { &mut *(ptr as *mut Vec<u8>) })
    }

    /// OBJECT ENCODING: a string changed in place is `raw`, as Redis's unshared sds strings.
    pub fn encoding_name(&self) -> &'static str {
        if self.header().kind() == KIND_BUF {
            "raw"
        } else {
            self.value().encoding_name()
        }
    }

    /// Bytes this entry accounts for in `used_memory`: overhead, its allocation, and an
    /// aggregate's own heap bytes.
    pub fn memory_bytes(&self) -> usize {
        let h = self.header();
        let own = ENTRY_OVERHEAD_BYTES + entry_arena::cell_bytes(h.total_len());
        if h.kind() == KIND_STR {
            own
        } else if h.kind() == KIND_BUF {
            // SAFETY: as in `value`.
            let buf = unsafe { &*(self.collection_ptr(&h) as *const Vec<u8>) };
            own + alloc_size(std::mem::size_of::<Vec<u8>>()) + alloc_size(buf.capacity())
        } else {
            own + self.value().collection_bytes()
        }
    }
}

impl Drop for Entry {
    fn drop(&mut self) {
        let h = self.header();
        if h.kind() == KIND_SET {
            let at = h.key_at + h.key_len;
            // SAFETY: the entry owns the set's handle in its value part; dropped once, here.
            unsafe { std::ptr::drop_in_place(self.ptr.as_ptr().add(at) as *mut SetValue) }
        } else if h.kind() != KIND_STR {
            let ptr = self.collection_ptr(&h);
            // SAFETY: the entry owns the box (see `value`); it is dropped once, here, with the
            // type it was created with.
            unsafe {
                match h.kind() {
                    KIND_BUF => drop(Box::from_raw(ptr as *mut Vec<u8>)),
                    KIND_HASH => drop(Box::from_raw(ptr as *mut HashValue)),
                    KIND_LIST => drop(Box::from_raw(ptr as *mut ListValue)),
                    KIND_STREAM => drop(Box::from_raw(ptr as *mut StreamValue)),
                    _ => drop(Box::from_raw(ptr as *mut ZSetValue)),
                }
            }
        }
        let total = h.total_len();
        // SAFETY: `ptr` came from `allocate` with this exact size (recomputed from the header
        // `build` wrote) and is freed once, here.
        unsafe { Entry::release(self.ptr, total) }
    }
}

impl std::fmt::Debug for Entry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Entry")
            .field("key", &self.key().escape_ascii().to_string())
            .field("value", &self.value())
            .field("expire_at_ms", &self.expire_at_ms())
            .field("access", &self.access())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slot_is_one_pointer() {
        assert_eq!(std::mem::size_of::<Option<Entry>>(), 8);
    }

    #[test]
    fn round_trip_and_deadline_changes() {
        let arena = &Arena::new();
        let mut e = Entry::new_str(b"key", b"value", None, arena);
        assert_eq!(e.key(), b"key");
        assert_eq!(e.value(), ValueRef::Str(b"value"));
        assert_eq!(e.expire_at_ms(), None);
        e.set_access(0xdead_beef);
        e.set_expire_at_ms(Some(1234), arena);
        assert_eq!(e.expire_at_ms(), Some(1234));
        assert_eq!(e.access(), 0xdead_beef);
        e.set_expire_at_ms(Some(99), arena);
        assert_eq!(e.expire_at_ms(), Some(99));
        assert!(e.is_expired(100));
        assert!(!e.is_expired(99));
        // Outside 2020..2054 the deadline takes 8 bytes; back inside, 5 again.
        let base = NARROW_DEADLINE_BASE;
        for at in [
            base + (1 << 40),
            u64::MAX,
            base + (1 << 40) - 1,
            1_700_000_000_000,
            base - 1,
            base,
            1 << 50,
            0,
        ] {
            e.set_expire_at_ms(Some(at), arena);
            assert_eq!((e.expire_at_ms(), e.key()), (Some(at), &b"key"[..]));
            assert_eq!(e.value(), ValueRef::Str(b"value"));
            assert_eq!(e.access(), 0xdead_beef);
        }
        assert_eq!(
            Entry::new_str(b"k", b"v", Some(1_700_000_000_000), arena).memory_bytes(),
            Entry::new_str(b"k", b"v", None, arena).memory_bytes() + 5
        );
        e.set_expire_at_ms(None, arena);
        assert_eq!(e.expire_at_ms(), None);
        assert_eq!(e.key(), b"key");
        assert_eq!(e.value(), ValueRef::Str(b"value"));
    }

    #[test]
    fn memcached_metadata_survives_deadline_changes_not_new_values() {
        let arena = &Arena::new();
        let meta = ItemMeta {
            flags: 0xdead_beef,
            cas: u64::MAX - 1,
        };
        let mut e = Entry::new_item(b"k", b"v", Some(7), meta, arena);
        assert_eq!(e.meta(), Some(meta));
        assert_eq!(e.expire_at_ms(), Some(7));
        e.set_expire_at_ms(None, arena);
        assert_eq!(e.meta(), Some(meta));
        e.set_expire_at_ms(Some(9), arena);
        assert_eq!((e.meta(), e.expire_at_ms()), (Some(meta), Some(9)));
        let other = ItemMeta { flags: 1, cas: 2 };
        e.set_meta(other, arena);
        assert_eq!(
            (e.meta(), e.key(), e.value()),
            (Some(other), &b"k"[..], ValueRef::Str(b"v"))
        );
        let replaced = e.with_str(b"new", arena);
        assert_eq!((replaced.meta(), replaced.expire_at_ms()), (None, Some(9)));
        let mut plain = Entry::new_str(b"p", b"x", None, arena);
        plain.set_meta(meta, arena);
        assert_eq!(
            (plain.meta(), plain.value()),
            (Some(meta), ValueRef::Str(b"x"))
        );
        let renamed = plain.with_key(b"q", arena);
        assert_eq!(renamed.meta(), Some(meta));
    }

    #[test]
    fn large_and_empty_parts() {
        let arena = &Arena::new();
        let big = vec![7u8; 300_000];
        let e = Entry::new_str(b"", &big, Some(u64::MAX), arena);
        assert_eq!(e.key(), b"");
        assert_eq!(e.value(), ValueRef::Str(&big[..]));
        assert_eq!(e.expire_at_ms(), Some(u64::MAX));
        let renamed = e.with_key(b"\x00binary\xff", arena);
        assert_eq!(renamed.key(), b"\x00binary\xff");
        assert_eq!(renamed.expire_at_ms(), Some(u64::MAX));
    }

    #[test]
    fn small_entry_takes_its_exact_length() {
        let arena = &Arena::new();
        let e = Entry::new_str(b"mk:0000000001", &[b'x'; 100], None, arena);
        assert_eq!(e.memory_bytes(), ENTRY_OVERHEAD_BYTES + 120);
    }

    #[test]
    fn aggregate_moves_with_rekey_and_deadline_changes() {
        let arena = &Arena::new();
        let mut e = Entry::new(b"h", Value::Hash(Box::default()), None, arena);
        assert_eq!(e.value().type_name(), "hash");
        e.set_expire_at_ms(Some(5), arena);
        e.set_expire_at_ms(None, arena);
        let e = e.with_key(b"other", arena);
        assert_eq!(e.key(), b"other");
        assert_eq!(e.value().type_name(), "hash");
        let copy = e.to_value();
        drop(e);
        assert_eq!(copy.type_name(), "hash");
        let mut e = Entry::new(b"z", copy, Some(9), arena);
        assert!(matches!(e.value_mut(), ValueMut::Hash(_)));
        let replaced = e.with_value(Value::string(b"s"), arena);
        assert_eq!(replaced.value(), ValueRef::Str(b"s"));
    }
}
