//! One key's record in a single allocation: `[header][key][value]`, behind a thin pointer.
//!
//! Per-key memory is a figure we compete on (Redis spends ~187 B for a 13-byte key and a
//! 100-byte value). A `Box<[u8]>` key, a boxed value and a deadline field cost two allocations
//! and a 56-byte slot. Here the slot is one 8-byte pointer and everything else lives in one
//! allocation whose header is 7 bytes for small keys:
//!
//! ```text
//! flags: u8 | access: u32 LE | key_len: varint | value_len: varint | [deadline: u64 LE] | key | value
//! ```
//!
//! `deadline` is present only when the HAS_DEADLINE flag is set, so persistent keys do not pay
//! for it. 7 + 13 + 100 = 120 bytes land in jemalloc's 128-byte class. Changing the value or
//! adding a deadline rebuilds the allocation; reading never copies.
//!
//! This is the one place in the keyspace with `unsafe` code: building the allocation, reading
//! its header, and freeing it with the same layout. The invariants are local: `ptr` always
//! points to a live allocation written by `Entry::build`, whose length `Header::total_len`
//! recomputes from the header alone.

use super::value::{alloc_size, Value, ValueRef};
use std::alloc::{alloc, dealloc, handle_alloc_error, Layout};
use std::ptr::NonNull;

const HAS_DEADLINE: u8 = 1;
/// flags + access + two varints of up to 10 bytes + deadline.
const HEADER_BYTES_MAX: usize = 1 + 4 + 10 + 10 + 8;

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
}

/// Fixed per-entry overhead counted in `used_memory` besides the entry's allocation: its
/// 8-byte slab slot and its slot number plus control byte in the shard's hash index.
pub const ENTRY_OVERHEAD_BYTES: usize = std::mem::size_of::<Option<Entry>>() + 8;

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
    pub fn new_str(key: &[u8], value: &[u8], deadline: Option<u64>) -> Entry {
        Entry::build(key, value, deadline, 0)
    }

    /// Builds an entry from an owned value.
    pub fn new(key: &[u8], value: Value, deadline: Option<u64>) -> Entry {
        match value {
            Value::Str(bytes) => Entry::build(key, &bytes, deadline, 0),
        }
    }

    fn build(key: &[u8], value: &[u8], deadline: Option<u64>, access: u32) -> Entry {
        let mut header = [0u8; HEADER_BYTES_MAX];
        header[0] = if deadline.is_some() { HAS_DEADLINE } else { 0 };
        header[1..5].copy_from_slice(&access.to_le_bytes());
        let mut len = put_varint(&mut header, 5, key.len() as u64);
        len = put_varint(&mut header, len, value.len() as u64);
        if let Some(at) = deadline {
            header[len..len + 8].copy_from_slice(&at.to_le_bytes());
            len += 8;
        }
        let total = len + key.len() + value.len();
        let layout = Layout::from_size_align(total, 1).expect("entry size fits a layout");
        // SAFETY: `total >= 7` so the layout is not zero-sized; the three copies fill exactly
        // `total` bytes of the fresh allocation and their sources do not overlap it.
        unsafe {
            let ptr = alloc(layout);
            if ptr.is_null() {
                handle_alloc_error(layout);
            }
            std::ptr::copy_nonoverlapping(header.as_ptr(), ptr, len);
            std::ptr::copy_nonoverlapping(key.as_ptr(), ptr.add(len), key.len());
            std::ptr::copy_nonoverlapping(value.as_ptr(), ptr.add(len + key.len()), value.len());
            Entry {
                ptr: NonNull::new_unchecked(ptr),
            }
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
        if flags & HAS_DEADLINE != 0 {
            key_at += 8;
        }
        Header {
            flags,
            key_len,
            value_len,
            key_at,
        }
    }

    fn bytes(&self) -> &[u8] {
        let total = self.header().total_len();
        // SAFETY: the allocation is exactly `total` bytes long and lives as long as `self`.
        unsafe { std::slice::from_raw_parts(self.ptr.as_ptr(), total) }
    }

    /// `len` bytes at `at`, which must lie inside the allocation.
    fn part(&self, at: usize, len: usize) -> &[u8] {
        // SAFETY: callers pass ranges computed from the header, inside the allocation.
        unsafe { std::slice::from_raw_parts(self.ptr.as_ptr().add(at), len) }
    }

    pub fn key(&self) -> &[u8] {
        let h = self.header();
        self.part(h.key_at, h.key_len)
    }

    /// The value, borrowed from the entry.
    pub fn value(&self) -> ValueRef<'_> {
        let h = self.header();
        ValueRef::Str(self.part(h.key_at + h.key_len, h.value_len))
    }

    /// An owned copy of the value.
    pub fn to_value(&self) -> Value {
        match self.value() {
            ValueRef::Str(bytes) => Value::string(bytes),
        }
    }

    pub fn expire_at_ms(&self) -> Option<u64> {
        let h = self.header();
        if !h.has_deadline() {
            return None;
        }
        let at = h.key_at - 8;
        let raw: [u8; 8] = self.bytes()[at..at + 8].try_into().expect("8 bytes");
        Some(u64::from_le_bytes(raw))
    }

    /// Sets or clears the deadline. Overwrites it in place when the entry already has one;
    /// otherwise rebuilds the allocation.
    pub fn set_expire_at_ms(&mut self, deadline: Option<u64>) {
        let h = self.header();
        match (h.has_deadline(), deadline) {
            (true, Some(at)) => {
                let offset = h.key_at - 8;
                // SAFETY: the deadline's 8 bytes lie inside the allocation, before the key.
                unsafe {
                    std::ptr::copy_nonoverlapping(
                        at.to_le_bytes().as_ptr(),
                        self.ptr.as_ptr().add(offset),
                        8,
                    );
                }
            }
            (false, None) => {}
            _ => {
                let rebuilt = match self.value() {
                    ValueRef::Str(value) => {
                        Entry::build(self.key(), value, deadline, self.access())
                    }
                };
                *self = rebuilt;
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

    /// The same key, deadline and access bits with a new string value.
    pub fn with_str(&self, value: &[u8]) -> Entry {
        Entry::build(self.key(), value, self.expire_at_ms(), self.access())
    }

    /// The same key, deadline and access bits with a new value.
    pub fn with_value(&self, value: Value) -> Entry {
        match value {
            Value::Str(bytes) => self.with_str(&bytes),
        }
    }

    /// The same value, deadline and access bits under another key (RENAME, MOVE).
    pub fn with_key(&self, key: &[u8]) -> Entry {
        match self.value() {
            ValueRef::Str(value) => Entry::build(key, value, self.expire_at_ms(), self.access()),
        }
    }

    /// Bytes this entry accounts for in `used_memory`.
    pub fn memory_bytes(&self) -> usize {
        ENTRY_OVERHEAD_BYTES + alloc_size(self.header().total_len())
    }
}

impl Drop for Entry {
    fn drop(&mut self) {
        let total = self.header().total_len();
        // SAFETY: `ptr` came from `alloc` with this exact layout (size recomputed from the
        // header `build` wrote, alignment 1) and is freed once, here.
        unsafe {
            dealloc(
                self.ptr.as_ptr(),
                Layout::from_size_align_unchecked(total, 1),
            )
        }
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
        let mut e = Entry::new_str(b"key", b"value", None);
        assert_eq!(e.key(), b"key");
        assert_eq!(e.value(), ValueRef::Str(b"value"));
        assert_eq!(e.expire_at_ms(), None);
        e.set_access(0xdead_beef);
        e.set_expire_at_ms(Some(1234));
        assert_eq!(e.expire_at_ms(), Some(1234));
        assert_eq!(e.access(), 0xdead_beef);
        e.set_expire_at_ms(Some(99));
        assert_eq!(e.expire_at_ms(), Some(99));
        assert!(e.is_expired(100));
        assert!(!e.is_expired(99));
        e.set_expire_at_ms(None);
        assert_eq!(e.expire_at_ms(), None);
        assert_eq!(e.key(), b"key");
        assert_eq!(e.value(), ValueRef::Str(b"value"));
    }

    #[test]
    fn large_and_empty_parts() {
        let big = vec![7u8; 300_000];
        let e = Entry::new_str(b"", &big, Some(u64::MAX));
        assert_eq!(e.key(), b"");
        assert_eq!(e.value(), ValueRef::Str(&big[..]));
        assert_eq!(e.expire_at_ms(), Some(u64::MAX));
        let renamed = e.with_key(b"\x00binary\xff");
        assert_eq!(renamed.key(), b"\x00binary\xff");
        assert_eq!(renamed.expire_at_ms(), Some(u64::MAX));
    }

    #[test]
    fn small_entry_fits_the_128_byte_class() {
        let e = Entry::new_str(b"mk:0000000001", &[b'x'; 100], None);
        assert_eq!(e.memory_bytes(), ENTRY_OVERHEAD_BYTES + 128);
    }
}
