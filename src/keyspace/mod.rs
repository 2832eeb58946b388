//! The keyspace: databases split into shards, each behind its own lock.
//!
//! A key's hash is computed once; its high bits pick the shard and the shard's table reuses it.
//! Single-key commands lock one shard. Multi-key commands lock every shard they touch in
//! ascending (db, shard) order, which makes them atomic and deadlock-free. This module knows
//! nothing of sockets, RESP or the AOF.

pub mod access;
pub mod entry;
pub mod entry_arena;
pub mod evict;
pub mod evict_tiers;
pub mod expiry;
pub mod index_alloc;
pub mod lock_rules;
pub mod prefix_stats;
pub mod shard;
pub mod slot_index;
pub mod snapshot;
pub mod table_addr;
pub mod types;
pub mod value;
pub mod watch;

pub use entry::Entry;
pub use shard::{KeyHasher, Shard, ShardStats};
pub use value::{Value, ValueMut, ValueRef};

use parking_lot::{Mutex, MutexGuard};
use std::hash::BuildHasher;

/// Identifies one shard: database index and shard index within it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ShardId {
    pub db: usize,
    pub shard: usize,
}

/// Shard guards held by one command; most commands hold one or two.
pub type HeldShards<'a> = smallvec::SmallVec<[(ShardId, MutexGuard<'a, Shard>); 2]>;

/// Where the shard index is taken from in a key's hash (see `Keyspace::shard_of`).
const SHARD_HASH_SHIFT: u32 = 40;

pub struct Db {
    shards: Box<[ShardSlot]>,
}

/// A shard's lock, alone on its cache lines: workers on neighbouring shards then never write
/// the same line (a shard is about 500 bytes, so unpadded shards shared a line with the next
/// one's lock word, and which hot fields shared it moved with every field added).
#[repr(align(128))]
struct ShardSlot(Mutex<Shard>);

impl std::ops::Deref for ShardSlot {
    type Target = Mutex<Shard>;
    fn deref(&self) -> &Mutex<Shard> {
        &self.0
    }
}

/// What the keyspace's owners set (from the config, the AOF, tracking, replication, CLIENT
/// PAUSE) and every shard of one keyspace reads: one per keyspace, so two servers in one
/// process (the library's tests) never share a switch.
#[derive(Debug, Default)]
pub struct Tunables {
    pub lfu: access::LfuParams,
    pub expiry: expiry::ExpirySwitches,
    pub tiers: evict_tiers::TierConfig,
    pub prefixes: prefix_stats::PrefixConfig,
}

pub struct Keyspace {
    dbs: Box<[Db]>,
    pub tunables: std::sync::Arc<Tunables>,
    hasher: KeyHasher,
    shard_bits: u32,
    /// Eviction candidates kept between evictions (see `evict`).
    pub(crate) evict_pool: Mutex<evict::Pool>,
    /// Which point-in-time snapshots are running (see `snapshot`; their state is in the shards).
    pub(crate) snapshots: snapshot::Snapshots,
    /// Keys per hash slot of database 0 (cluster mode only, see `index_slots`).
    slot_counts: std::sync::OnceLock<std::sync::Arc<slot_index::SlotCounts>>,
}

impl Keyspace {
    /// `shards_per_db` is rounded up to a power of two.
    pub fn new(databases: usize, shards_per_db: usize) -> Keyspace {
        let shards_per_db = shards_per_db.max(1).next_power_of_two();
        let hasher = KeyHasher::default();
        let tunables = std::sync::Arc::new(Tunables::default());
        let dbs = (0..databases)
            .map(|_| Db {
                shards: (0..shards_per_db)
                    .map(|_| ShardSlot(Mutex::new(Shard::new(hasher.clone(), tunables.clone()))))
                    .collect(),
            })
            .collect();
        Keyspace {
            dbs,
            tunables,
            hasher,
            shard_bits: shards_per_db.trailing_zeros(),
            evict_pool: Mutex::new(evict::Pool::new()),
            snapshots: snapshot::Snapshots::default(),
            slot_counts: Default::default(),
        }
    }

    pub fn databases(&self) -> usize {
        self.dbs.len()
    }

    pub fn shards_per_db(&self) -> usize {
        1 << self.shard_bits
    }

    pub fn hash(&self, key: &[u8]) -> u64 {
        self.hasher.hash_one(key)
    }

    /// The shard a hash belongs to. The shard's table uses the low bits for the bucket and the
    /// top 7 bits for its control-byte tag, so the shard is picked from bits in between:
    /// taking the top bits would leave every key of a shard with nearly the same tag.
    pub fn shard_of(&self, hash: u64) -> usize {
        ((hash >> SHARD_HASH_SHIFT) as usize) & ((1 << self.shard_bits) - 1)
    }

    /// Locks a shard, waiting for its holder. A connection task may wait only inside a gate
    /// section, where every holder is a running command (checked in debug builds; see
    /// `lock_rules`).
    pub fn lock(&self, id: ShardId) -> MutexGuard<'_, Shard> {
        debug_assert!(
            lock_rules::may_wait_for_shard(),
            "a connection task waits for shard {id:?} outside a gate section"
        );
        self.dbs[id.db].shards[id.shard].lock()
    }

    /// Locks a shard if it is free right now.
    pub fn try_lock(&self, id: ShardId) -> Option<MutexGuard<'_, Shard>> {
        self.dbs[id.db].shards[id.shard].try_lock()
    }

    /// Every shard of every database, in lock order.
    pub fn all_shards(&self) -> impl Iterator<Item = ShardId> + '_ {
        (0..self.dbs.len())
            .flat_map(move |db| (0..self.shards_per_db()).map(move |shard| ShardId { db, shard }))
    }

    /// Locks the given shards in ascending order. `ids` must be sorted and free of duplicates.
    pub fn lock_sorted(&self, ids: &[ShardId]) -> HeldShards<'_> {
        debug_assert!(
            ids.windows(2).all(|w| w[0] < w[1]),
            "shard ids must be sorted and unique"
        );
        ids.iter().map(|&id| (id, self.lock(id))).collect()
    }

    /// Starts loading into the cache what looking up the keys of these hashes in database `db`
    /// will read, for a batch of requests about to run one after the other (pipelining): the
    /// lookups' cache misses then overlap (see `Shard::prefetch_stage`). Only shards free right
    /// now are visited; the caller is inside a shared gate section, and every lock is taken
    /// with `try_lock` and held for the few loads this takes.
    pub fn prefetch_keys(&self, db: usize, hashes: &[u64]) {
        let Some(db) = self.dbs.get(db) else {
            return;
        };
        let mut held: smallvec::SmallVec<[(usize, MutexGuard<'_, Shard>); 16]> =
            smallvec::SmallVec::new();
        let mut keys: smallvec::SmallVec<[(usize, u64); 16]> = smallvec::SmallVec::new();
        for &hash in hashes {
            let shard = self.shard_of(hash);
            let at = match held.iter().position(|(s, _)| *s == shard) {
                Some(at) => at,
                None => match db.shards[shard].try_lock() {
                    Some(guard) => {
                        held.push((shard, guard));
                        held.len() - 1
                    }
                    None => continue,
                },
            };
            keys.push((at, hash));
        }
        for stage in 0..3 {
            for &(at, hash) in &keys {
                held[at].1.prefetch_stage(hash, stage);
            }
        }
    }

    /// Keys in a database, summed shard by shard (each shard locked briefly, one at a time).
    pub fn db_len(&self, db: usize) -> usize {
        (0..self.shards_per_db())
            .map(|shard| self.lock(ShardId { db, shard }).len())
            .sum()
    }

    /// Keys with a deadline in a database.
    pub fn db_volatile_len(&self, db: usize) -> usize {
        (0..self.shards_per_db())
            .map(|shard| self.lock(ShardId { db, shard }).volatile_len())
            .sum()
    }

    /// Bytes the deadlines of a database's volatile keys take (inside their entries).
    pub fn db_deadline_bytes(&self, db: usize) -> usize {
        (0..self.shards_per_db())
            .map(|shard| self.lock(ShardId { db, shard }).deadline_bytes())
            .sum()
    }

    /// Statistics summed over all shards.
    pub fn stats(&self) -> ShardStats {
        let mut total = ShardStats::default();
        for id in self.all_shards() {
            let s = self.lock(id).stats;
            total.hits += s.hits;
            total.misses += s.misses;
            total.expired += s.expired;
            total.evicted += s.evicted;
        }
        total
    }

    pub fn reset_stats(&self) {
        for id in self.all_shards() {
            let mut shard = self.lock(id);
            shard.stats = ShardStats::default();
            shard.prefix_stats.reset();
        }
        self.tunables.tiers.reset_stats();
    }

    /// Hits and misses per key-prefix group, summed over every shard, busiest group first.
    pub fn prefix_stats(&self) -> Vec<(Box<[u8]>, u64, u64)> {
        let mut total = Vec::new();
        for id in self.all_shards() {
            self.lock(id)
                .prefix_stats
                .merge_into(&self.tunables.prefixes, &mut total);
        }
        total.sort_by(|a, b| (b.1 + b.2).cmp(&(a.1 + a.2)).then_with(|| a.0.cmp(&b.0)));
        total
    }

    /// Starts counting database 0's keys per hash slot (cluster mode); returns the counters.
    pub fn index_slots(&self) -> std::sync::Arc<slot_index::SlotCounts> {
        let counts = self.slot_counts.get_or_init(Default::default).clone();
        for shard in 0..self.shards_per_db() {
            self.lock(ShardId { db: 0, shard })
                .index_slots(counts.clone());
        }
        counts
    }

    /// The per-slot key counts, when cluster mode keeps them.
    pub fn slot_counts(&self) -> Option<&slot_index::SlotCounts> {
        self.slot_counts.get().map(|c| &**c)
    }

    /// Bytes accounted to keys and values across the keyspace.
    pub fn used_bytes(&self) -> usize {
        self.all_shards().map(|id| self.lock(id).used_bytes()).sum()
    }
}
