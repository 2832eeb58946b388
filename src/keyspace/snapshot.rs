//! A consistent point-in-time view of every database, produced shard by shard while clients
//! keep being served (AOF rewrite uses it; an RDB save can too).
//!
//! `Keyspace::begin_snapshot` is called with every shard held: that instant is the snapshot's.
//! Each shard is then marked pending. Whoever next locks a pending shard — the snapshot reader
//! walking the shards in order, or a client command about to touch it — first copies its
//! entries out and clears the mark, all under that shard's lock. So no shard is changed before
//! its copy is taken, and every copy shows the data as it was at the instant. Clients pay at
//! most one shard copy each (the shard they touch first); nobody waits for the whole dataset.
//! Memory: copies live until the reader consumes them (at worst one extra copy of the data,
//! like fork's copy-on-write), and only one snapshot runs at a time.

use super::{Keyspace, Shard, ShardId, Value};
use parking_lot::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

/// One key as it was at the snapshot instant.
pub struct SnapshotEntry {
    pub key: Box<[u8]>,
    pub value: Value,
    pub expire_at_ms: Option<u64>,
}

/// One shard's entries at the snapshot instant.
pub struct ShardCopy {
    pub id: ShardId,
    pub entries: Vec<SnapshotEntry>,
}

/// Snapshot bookkeeping kept by the keyspace.
#[derive(Default)]
pub struct Snapshots {
    active: AtomicBool,
    /// Per shard (in `all_shards` order): not copied yet.
    pending: Box<[AtomicBool]>,
    copies: Mutex<Vec<Option<ShardCopy>>>,
}

impl Snapshots {
    pub fn new(shards: usize) -> Snapshots {
        Snapshots {
            active: AtomicBool::new(false),
            pending: (0..shards).map(|_| AtomicBool::new(false)).collect(),
            copies: Mutex::new((0..shards).map(|_| None).collect()),
        }
    }

    /// Called with `shard` locked, before anyone uses it: copies it if it is still pending.
    #[inline]
    pub fn before_use(&self, index: usize, id: ShardId, shard: &Shard) {
        if self.active.load(Ordering::Acquire) && self.pending[index].swap(false, Ordering::AcqRel)
        {
            let copy = copy_shard(id, shard);
            self.copies.lock()[index] = Some(copy);
        }
    }
}

fn copy_shard(id: ShardId, shard: &Shard) -> ShardCopy {
    let mut entries = Vec::with_capacity(shard.len());
    for pos in 0..shard.slot_count() {
        if let Some(entry) = shard.entry_at(pos) {
            entries.push(SnapshotEntry {
                key: entry.key().into(),
                value: entry.to_value(),
                expire_at_ms: entry.expire_at_ms(),
            });
        }
    }
    ShardCopy { id, entries }
}

/// Walks the snapshot shard by shard, in (db, shard) order. Dropping it ends the snapshot.
pub struct SnapshotReader<'a> {
    ks: &'a Keyspace,
    ids: Vec<ShardId>,
    next: usize,
}

impl Keyspace {
    /// Starts a snapshot. `held` must be every shard of every database, locked by the caller:
    /// the data as it is now is what the reader returns. None if a snapshot is running.
    pub fn begin_snapshot(&self, held: &super::HeldShards<'_>) -> Option<SnapshotReader<'_>> {
        assert_eq!(
            held.len(),
            self.databases() * self.shards_per_db(),
            "a snapshot starts with every shard held"
        );
        let snapshots = &self.snapshots;
        if snapshots.active.load(Ordering::Acquire) {
            return None;
        }
        for flag in snapshots.pending.iter() {
            flag.store(true, Ordering::Release);
        }
        snapshots.active.store(true, Ordering::Release);
        Some(SnapshotReader {
            ks: self,
            ids: self.all_shards().collect(),
            next: 0,
        })
    }

    pub fn snapshot_running(&self) -> bool {
        self.snapshots.active.load(Ordering::Acquire)
    }

    pub(crate) fn shard_index(&self, id: ShardId) -> usize {
        id.db * self.shards_per_db() + id.shard
    }
}

impl Iterator for SnapshotReader<'_> {
    type Item = ShardCopy;

    fn next(&mut self) -> Option<ShardCopy> {
        let id = *self.ids.get(self.next)?;
        self.next += 1;
        // Locking runs `before_use`, which copies the shard if no client has yet.
        drop(self.ks.lock(id));
        let index = self.ks.shard_index(id);
        let copy = self.ks.snapshots.copies.lock()[index].take();
        Some(copy.unwrap_or(ShardCopy {
            id,
            entries: Vec::new(),
        }))
    }
}

impl Drop for SnapshotReader<'_> {
    fn drop(&mut self) {
        let snapshots = &self.ks.snapshots;
        snapshots.active.store(false, Ordering::Release);
        for flag in snapshots.pending.iter() {
            flag.store(false, Ordering::Release);
        }
        for copy in snapshots.copies.lock().iter_mut() {
            *copy = None;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reader_sees_the_instant_not_later_writes() {
        let ks = Keyspace::new(2, 4);
        let put = |db: usize, key: &[u8], value: &[u8]| {
            let hash = ks.hash(key);
            let id = ShardId {
                db,
                shard: ks.shard_of(hash),
            };
            ks.lock(id).insert_str(hash, key, value, None, 0);
        };
        for i in 0..100u32 {
            put(i as usize % 2, format!("k{i}").as_bytes(), b"old");
        }
        let ids: Vec<ShardId> = ks.all_shards().collect();
        let held = ks.lock_sorted(&ids);
        let reader = ks.begin_snapshot(&held).expect("no snapshot running");
        drop(held);
        // Writes after the instant: overwrite and add keys in every shard.
        for i in 0..200u32 {
            put(i as usize % 2, format!("k{i}").as_bytes(), b"new");
        }
        let mut seen = 0;
        for copy in reader {
            for e in copy.entries {
                assert_eq!(e.value, Value::string(b"old"));
                seen += 1;
            }
        }
        assert_eq!(seen, 100);
        assert!(!ks.snapshot_running());
    }
}
