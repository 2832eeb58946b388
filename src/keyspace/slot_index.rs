//! Keys per hash slot in database 0, kept only in cluster mode (CLUSTER COUNTKEYSINSLOT in
//! O(1), and GETKEYSINSLOT skips the scan of an empty slot).
//!
//! One counter per slot shared by every shard of database 0 (16384 × 4 bytes = 64 KiB per
//! server, nothing per key): a shard adds one when it stores a new key and takes one away when a
//! key leaves it (delete, expiry, eviction, flush), while it holds its own lock. The counters are
//! relaxed atomics: a reader sees every change made by commands that finished before it.

use crate::cluster::slot::{key_slot, SLOTS};
use std::sync::atomic::{AtomicU32, Ordering};

pub struct SlotCounts {
    counts: Box<[AtomicU32]>,
}

impl Default for SlotCounts {
    fn default() -> Self {
        SlotCounts {
            counts: (0..SLOTS).map(|_| AtomicU32::new(0)).collect(),
        }
    }
}

impl SlotCounts {
    pub fn added(&self, key: &[u8]) {
        self.counts[usize::from(key_slot(key))].fetch_add(1, Ordering::Relaxed);
    }

    pub fn removed(&self, key: &[u8]) {
        self.counts[usize::from(key_slot(key))].fetch_sub(1, Ordering::Relaxed);
    }

    /// Keys stored in `slot` (expired keys count until they are reclaimed, as in Redis).
    pub fn count(&self, slot: u16) -> u32 {
        self.counts[usize::from(slot)].load(Ordering::Relaxed)
    }

    /// Bytes this index takes.
    pub fn memory_bytes(&self) -> usize {
        std::mem::size_of_val(&*self.counts)
    }
}

#[cfg(test)]
mod tests {
    use crate::keyspace::{Keyspace, ShardId};

    #[test]
    fn counts_follow_inserts_removals_and_flushes() {
        let ks = Keyspace::new(2, 4);
        let index = ks.index_slots();
        assert_eq!(index.memory_bytes(), 65536);
        let slot = crate::cluster::slot::key_slot(b"a");
        let put = |db: usize, key: &[u8]| {
            let h = ks.hash(key);
            let id = ShardId {
                db,
                shard: ks.shard_of(h),
            };
            ks.lock(id).insert_str(h, key, b"v", None, 0);
        };
        put(0, b"a");
        put(0, b"{a}x");
        put(0, b"{a}x"); // replaced: still two keys
        put(1, b"{a}y"); // other databases are not indexed
        assert_eq!(index.count(slot), 2);
        let h = ks.hash(b"a");
        let id = ShardId {
            db: 0,
            shard: ks.shard_of(h),
        };
        ks.lock(id).remove(h, b"a", 0);
        assert_eq!(index.count(slot), 1);
        // A swap with an unindexed shard (SWAPDB's way) moves the counts out and back.
        let mut carrier = crate::keyspace::Shard::new(Default::default(), Default::default());
        let h = ks.hash(b"{a}x");
        let id = ShardId {
            db: 0,
            shard: ks.shard_of(h),
        };
        ks.lock(id).swap_contents(&mut carrier);
        assert_eq!(index.count(slot), 0);
        ks.lock(id).swap_contents(&mut carrier);
        assert_eq!(index.count(slot), 1);
        for id in ks.all_shards().collect::<Vec<_>>() {
            ks.lock(id).clear(0);
        }
        assert_eq!(index.count(slot), 0);
    }
}
