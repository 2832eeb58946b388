//! One key's record: key bytes, value, absolute expiry deadline and access metadata.

use super::value::{alloc_size, Value};

/// Deadline value meaning "no expiry".
pub const NO_EXPIRY: u64 = 0;

#[derive(Debug)]
pub struct Entry {
    key: Box<[u8]>,
    pub value: Value,
    /// Absolute unix milliseconds, or `NO_EXPIRY`.
    expire_at_ms: u64,
    /// Last access in seconds of the LRU clock (low 24 bits) and an LFU counter (high 8 bits).
    pub access: u32,
}

/// Fixed per-entry overhead counted in `used_memory` besides the key and value allocations:
/// the slot in the shard's slab and the index word in its hash table.
pub const ENTRY_OVERHEAD_BYTES: usize = std::mem::size_of::<Option<Entry>>() + 8;

impl Entry {
    pub fn new(key: &[u8], value: Value, expire_at_ms: u64) -> Entry {
        Entry {
            key: key.into(),
            value,
            expire_at_ms,
            access: 0,
        }
    }

    pub fn key(&self) -> &[u8] {
        &self.key
    }

    pub fn expire_at_ms(&self) -> Option<u64> {
        (self.expire_at_ms != NO_EXPIRY).then_some(self.expire_at_ms)
    }

    pub fn set_expire_at_ms(&mut self, deadline: Option<u64>) {
        self.expire_at_ms = deadline.unwrap_or(NO_EXPIRY);
    }

    pub fn is_expired(&self, now_ms: u64) -> bool {
        self.expire_at_ms != NO_EXPIRY && self.expire_at_ms < now_ms
    }

    /// Bytes this entry accounts for in `used_memory`.
    pub fn memory_bytes(&self) -> usize {
        ENTRY_OVERHEAD_BYTES + alloc_size(self.key.len()) + self.value.heap_bytes()
    }
}
