//! A consistent point-in-time view of every database, read while clients keep being served
//! (AOF rewrite and BGSAVE use it), by per-key copy-on-write.
//!
//! `Keyspace::begin_snapshot` is called with every shard held: that instant is the snapshot's.
//! Each non-empty shard gets a `View`: a `cursor` (slot positions below it were handed to the
//! reader), the shard's slot count at the instant (`end`), a bitset `skip` of positions at or
//! above the cursor the reader must not read, and `saved`, old versions of entries.
//!
//! Entries never move within their shard's slab (shard.rs), so a position names one entry.
//! Invariant: at a position `p` with `cursor <= p < end` not in `skip`, the slot holds exactly
//! what it held at the instant (an entry, or nothing). Every change to a slot goes through one
//! hook first (`Shard::before_slot_write`): if the position is unread, the entry there (if
//! any) is copied into `saved` and the position goes into `skip`. So an entry changed, removed
//! or replaced before the reader reached it is saved once, as it was; a key born after the
//! instant into an unread position is skipped. Flushes and SWAPDB save every unread entry and
//! close the view (`save_all`).
//!
//! The reader walks each shard in chunks of `CHUNK_SLOTS` positions: under the shard's lock it
//! copies the chunk's unread entries, takes `saved`, advances the cursor, and releases the lock
//! before the consumer serializes anything. Lock holds stay short, and memory beyond the data
//! is the copies of keys written ahead of the reader, freed at the reader's next chunk.
//!
//! Up to `SNAPSHOTS_MAX` snapshots run at once (an AOF rewrite and a BGSAVE): each shard keeps
//! one view per running snapshot, and a write copies the old entry once for each view that has
//! not read it. Beyond that, `begin_snapshot` returns None (the RDB save then copies under
//! every lock instead, see rdb::snapshot).

use super::entry::Entry;
use super::{Keyspace, ShardId, Value};
use parking_lot::Mutex;

/// Slot positions read per lock hold: short enough for a client to wait on, long enough that
/// locking does not dominate the walk. Small in unit tests, so shards take several chunks.
pub const CHUNK_SLOTS: usize = if cfg!(test) { 8 } else { 512 };
/// Snapshots that may run at once (each one a bit of `Snapshots::in_use`).
pub const SNAPSHOTS_MAX: usize = 4;

/// One key as it was at the snapshot instant.
pub struct SnapshotEntry {
    pub key: Box<[u8]>,
    pub value: Value,
    pub expire_at_ms: Option<u64>,
}

impl SnapshotEntry {
    fn of(entry: &Entry) -> SnapshotEntry {
        SnapshotEntry {
            key: entry.key().into(),
            value: entry.to_value(),
            expire_at_ms: entry.expire_at_ms(),
        }
    }
}

/// Entries of one shard at the snapshot instant; a shard arrives as several chunks.
pub struct ShardCopy {
    pub id: ShardId,
    pub entries: Vec<SnapshotEntry>,
}

/// Which snapshot slots are taken, kept by the keyspace.
#[derive(Default)]
pub struct Snapshots {
    in_use: Mutex<u32>,
}

/// One running snapshot's state in one shard.
struct View {
    snapshot: usize,
    cursor: usize,
    /// Slot count at the instant: later positions hold only keys born after it.
    end: usize,
    /// One bit per position in `0..end`.
    skip: Vec<u64>,
    saved: Vec<SnapshotEntry>,
}

impl View {
    fn unread(&self, pos: usize) -> bool {
        pos >= self.cursor && pos < self.end && self.skip[pos / 64] & (1 << (pos % 64)) == 0
    }

    fn before_write(&mut self, pos: usize, old: Option<&Entry>) {
        if self.unread(pos) {
            self.skip[pos / 64] |= 1 << (pos % 64);
            if let Some(entry) = old {
                self.saved.push(SnapshotEntry::of(entry));
            }
        }
    }
}

/// The views of the snapshots running over one shard (`Shard::snapshot`; None when there are
/// none, so the write path pays one branch).
#[derive(Default)]
pub struct ShardViews {
    views: Vec<View>,
}

impl ShardViews {
    /// The hook: the slot at `pos`, holding `old`, is about to change.
    pub(super) fn before_write(&mut self, pos: usize, old: Option<&Entry>) {
        for view in &mut self.views {
            view.before_write(pos, old);
        }
    }

    /// Saves every unread entry and closes each view (the shard is about to be emptied or to
    /// take another shard's contents). `entry_at` reads the shard's slots.
    pub(super) fn save_all<'e>(&mut self, entry_at: impl Fn(usize) -> Option<&'e Entry>) {
        for view in &mut self.views {
            for pos in view.cursor..view.end {
                if view.unread(pos) {
                    if let Some(entry) = entry_at(pos) {
                        view.saved.push(SnapshotEntry::of(entry));
                    }
                }
            }
            view.cursor = view.end;
        }
    }

    /// The next chunk of `snapshot`'s view: the unread entries of up to `CHUNK_SLOTS`
    /// positions plus the saved copies. The bool is true when the view is finished (and
    /// removed). None if this shard has no view for `snapshot`.
    pub(super) fn read_chunk<'e>(
        &mut self,
        snapshot: usize,
        entry_at: impl Fn(usize) -> Option<&'e Entry>,
    ) -> Option<(Vec<SnapshotEntry>, bool)> {
        let at = self.views.iter().position(|v| v.snapshot == snapshot)?;
        let view = &mut self.views[at];
        let stop = (view.cursor + CHUNK_SLOTS).min(view.end);
        let mut entries = std::mem::take(&mut view.saved);
        for pos in view.cursor..stop {
            if view.unread(pos) {
                if let Some(entry) = entry_at(pos) {
                    entries.push(SnapshotEntry::of(entry));
                }
            }
        }
        view.cursor = stop;
        let done = stop == view.end;
        if done {
            self.views.swap_remove(at);
        }
        Some((entries, done))
    }

    /// Drops `snapshot`'s view (its reader went away early).
    pub(super) fn end(&mut self, snapshot: usize) {
        self.views.retain(|v| v.snapshot != snapshot);
    }

    pub(super) fn is_empty(&self) -> bool {
        self.views.is_empty()
    }

    fn open(&mut self, snapshot: usize, end: usize) {
        self.views.push(View {
            snapshot,
            cursor: 0,
            end,
            skip: vec![0; end.div_ceil(64)],
            saved: Vec::new(),
        });
    }
}

/// Walks the snapshot shard by shard, in (db, shard) order, a chunk at a time. Dropping it
/// ends the snapshot: that locks the shards it has not finished, so drop it with none held.
pub struct SnapshotReader<'a> {
    ks: &'a Keyspace,
    snapshot: usize,
    /// The shards that were not empty at the instant.
    ids: Vec<ShardId>,
    next: usize,
}

impl Keyspace {
    /// Starts a snapshot. `held` must be every shard of every database, locked by the caller:
    /// the data as it is now is what the reader returns. None if `SNAPSHOTS_MAX` are running.
    pub fn begin_snapshot(&self, held: &mut super::HeldShards<'_>) -> Option<SnapshotReader<'_>> {
        assert_eq!(
            held.len(),
            self.databases() * self.shards_per_db(),
            "a snapshot starts with every shard held"
        );
        let snapshot = {
            let mut in_use = self.snapshots.in_use.lock();
            let free = (0..SNAPSHOTS_MAX).find(|&s| *in_use & (1 << s) == 0)?;
            *in_use |= 1 << free;
            free
        };
        let mut ids = Vec::new();
        for (id, shard) in held.iter_mut() {
            let end = shard.slot_count();
            if end > 0 {
                shard.snapshot_views().open(snapshot, end);
                ids.push(*id);
            }
        }
        Some(SnapshotReader {
            ks: self,
            snapshot,
            ids,
            next: 0,
        })
    }

    /// Snapshots running now.
    pub fn snapshots_running(&self) -> usize {
        self.snapshots.in_use.lock().count_ones() as usize
    }
}

impl Iterator for SnapshotReader<'_> {
    type Item = ShardCopy;

    fn next(&mut self) -> Option<ShardCopy> {
        loop {
            let id = *self.ids.get(self.next)?;
            let chunk = self.ks.lock(id).read_snapshot_chunk(self.snapshot);
            let Some((entries, done)) = chunk else {
                self.next += 1;
                continue;
            };
            if done {
                self.next += 1;
            }
            if !entries.is_empty() {
                return Some(ShardCopy { id, entries });
            }
        }
    }
}

impl Drop for SnapshotReader<'_> {
    fn drop(&mut self) {
        for &id in &self.ids[self.next..] {
            self.ks.lock(id).end_snapshot(self.snapshot);
        }
        *self.ks.snapshots.in_use.lock() &= !(1 << self.snapshot);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keyspace::types::ListValue;
    use crate::keyspace::ValueMut;
    use std::collections::BTreeMap;

    /// What one database held: key -> (value, deadline).
    type DbModel = BTreeMap<Vec<u8>, (Value, Option<u64>)>;

    /// xorshift64*: deterministic, seeded per test case.
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
        }

        fn below(&mut self, n: u64) -> u64 {
            self.next() % n
        }
    }

    const DBS: usize = 3;
    const KEY_NAMES: u64 = 400;

    fn key_name(rng: &mut Rng) -> Vec<u8> {
        format!("key:{}", rng.below(KEY_NAMES)).into_bytes()
    }

    fn shard_id(ks: &Keyspace, db: usize, key: &[u8]) -> (ShardId, u64) {
        let hash = ks.hash(key);
        let shard = ks.shard_of(hash);
        (ShardId { db, shard }, hash)
    }

    fn list_of(rng: &mut Rng) -> Value {
        let mut list = ListValue::default();
        for i in 0..=rng.below(4) {
            list.push_back(format!("e{i}").as_bytes());
        }
        Value::List(Box::new(list))
    }

    /// Every database as it is now, with every shard held (the instant of a snapshot).
    fn model_of(ks: &Keyspace, held: &crate::keyspace::HeldShards<'_>) -> Vec<DbModel> {
        let mut dbs = vec![DbModel::new(); ks.databases()];
        for (id, shard) in held.iter() {
            for pos in 0..shard.slot_count() {
                if let Some(e) = shard.entry_at(pos) {
                    dbs[id.db].insert(e.key().to_vec(), (e.to_value(), e.expire_at_ms()));
                }
            }
        }
        dbs
    }

    /// Starts a snapshot and returns it with the data of its instant.
    fn begin(ks: &Keyspace) -> (SnapshotReader<'_>, Vec<DbModel>) {
        let ids: Vec<ShardId> = ks.all_shards().collect();
        let mut held = ks.lock_sorted(&ids);
        let model = model_of(ks, &held);
        let reader = ks
            .begin_snapshot(&mut held)
            .expect("a snapshot slot is free");
        (reader, model)
    }

    /// Adds one chunk to what a reader returned; every key comes once.
    fn collect(out: &mut [DbModel], copy: ShardCopy) {
        for e in copy.entries {
            let again = out[copy.id.db].insert(e.key.to_vec(), (e.value, e.expire_at_ms));
            assert!(again.is_none(), "key {:?} returned twice", e.key);
        }
    }

    /// One random change of any kind the shard offers, at time `now`.
    fn random_write(ks: &Keyspace, rng: &mut Rng, now: &mut u64) {
        let db = rng.below(DBS as u64) as usize;
        let key = key_name(rng);
        let (id, hash) = shard_id(ks, db, &key);
        let deadline = match rng.below(4) {
            0 => Some(*now + rng.below(50)),
            _ => None,
        };
        match rng.below(16) {
            0..=2 => {
                let value = format!("v{}", rng.next());
                ks.lock(id)
                    .insert_str(hash, &key, value.as_bytes(), deadline, *now);
            }
            3 => {
                let value = list_of(rng);
                ks.lock(id).insert(hash, &key, value, deadline, *now);
            }
            4 | 5 => {
                ks.lock(id).remove(hash, &key, *now);
            }
            6 => {
                ks.lock(id).set_expiry(hash, &key, deadline, *now);
            }
            7 => {
                // Aggregates changed in place; popping the last element deletes the key.
                let pop = rng.below(2) == 0;
                ks.lock(id).modify(hash, &key, *now, |value| {
                    if let ValueMut::List(list) = value {
                        if pop {
                            list.pop_front();
                        } else {
                            list.push_back(b"more");
                        }
                    }
                });
            }
            8 => {
                ks.lock(id).update_value(hash, &key, *now, |value| {
                    if let Value::Str(bytes) = value {
                        *bytes = [&bytes[..], b"+"].concat().into();
                    }
                });
            }
            9 => {
                ks.lock(id).replace_str(hash, &key, b"replaced", *now);
            }
            10 => {
                let value = list_of(rng);
                ks.lock(id).replace_value(hash, &key, value, *now);
            }
            11 => {
                // Time passes: lookups and the sweep expire keys.
                *now += rng.below(20);
                ks.lock(id).get_mut(hash, &key, *now);
                ks.lock(id).sweep_step(rng.below(64) as usize + 1, *now);
            }
            12 => {
                // Eviction removes by slot position.
                let mut shard = ks.lock(id);
                let slots = shard.slot_count();
                if slots > 0 {
                    shard.remove_at(rng.below(slots as u64) as usize);
                }
            }
            13 => rename_across(ks, rng, db, &key, *now),
            14 => {
                // FLUSHDB: every shard of the database held, then cleared.
                let ids: Vec<ShardId> = (0..ks.shards_per_db())
                    .map(|shard| ShardId { db, shard })
                    .collect();
                for (_, mut shard) in ks.lock_sorted(&ids) {
                    shard.clear(*now);
                }
            }
            _ => swapdb(ks, db, rng.below(DBS as u64) as usize),
        }
    }

    /// RENAME to another key of the same database, as generic.rs does it: remove, re-key,
    /// insert, with both shards held.
    fn rename_across(ks: &Keyspace, rng: &mut Rng, db: usize, key: &[u8], now: u64) {
        let to = key_name(rng);
        let (from_id, from_hash) = shard_id(ks, db, key);
        let (to_id, to_hash) = shard_id(ks, db, &to);
        let mut ids = vec![from_id, to_id];
        ids.sort();
        ids.dedup();
        let mut held = ks.lock_sorted(&ids);
        let at = |id: ShardId| held.iter().position(|(i, _)| *i == id).expect("held");
        let (from_at, to_at) = (at(from_id), at(to_id));
        if let Some(entry) = held[from_at].1.remove(from_hash, key, now) {
            let to_shard = &mut held[to_at].1;
            let moved = entry.with_key(&to, to_shard.arena());
            to_shard.insert_entry(to_hash, moved, now);
        }
    }

    /// SWAPDB: every shard of both databases held, contents swapped shard by shard.
    fn swapdb(ks: &Keyspace, a: usize, b: usize) {
        if a == b {
            return;
        }
        let mut ids: Vec<ShardId> = (0..ks.shards_per_db())
            .flat_map(|shard| [ShardId { db: a, shard }, ShardId { db: b, shard }])
            .collect();
        ids.sort();
        let mut held = ks.lock_sorted(&ids);
        for shard in 0..ks.shards_per_db() {
            let ia = held
                .iter()
                .position(|(i, _)| *i == ShardId { db: a, shard });
            let ib = held
                .iter()
                .position(|(i, _)| *i == ShardId { db: b, shard });
            let (ia, ib) = (ia.expect("held"), ib.expect("held"));
            let (lo, hi) = (ia.min(ib), ia.max(ib));
            let (left, right) = held.split_at_mut(hi);
            left[lo].1.swap_contents(&mut right[0].1);
        }
    }

    fn fill(ks: &Keyspace, rng: &mut Rng, keys: u64, now: u64) {
        for _ in 0..keys {
            let db = rng.below(DBS as u64) as usize;
            let key = key_name(rng);
            let (id, hash) = shard_id(ks, db, &key);
            let deadline = (rng.below(5) == 0).then(|| now + rng.below(100));
            if rng.below(4) == 0 {
                let value = list_of(rng);
                ks.lock(id).insert(hash, &key, value, deadline, now);
            } else {
                let value = format!("first{}", rng.next());
                ks.lock(id)
                    .insert_str(hash, &key, value.as_bytes(), deadline, now);
            }
        }
    }

    /// Two snapshots (the second starting part-way through the first) read in chunks,
    /// interleaved with random writes of every kind: each returns exactly its instant's data.
    fn run_model(seed: u64) {
        let mut rng = Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1);
        let ks = Keyspace::new(DBS, 4);
        let mut now = 1_000;
        let keys = 300 + rng.below(600);
        fill(&ks, &mut rng, keys, now);
        let (mut first, first_model) = begin(&ks);
        let mut first_out = vec![DbModel::new(); DBS];
        let mut second: Option<(SnapshotReader<'_>, Vec<DbModel>, Vec<DbModel>)> = None;
        let mut first_done = false;
        let mut second_done = false;
        let writes_per_read = 1 + rng.below(6);
        while !(first_done && second_done) {
            for _ in 0..rng.below(writes_per_read * 2) {
                random_write(&ks, &mut rng, &mut now);
            }
            if second.is_none() && rng.below(8) == 0 {
                let (reader, model) = begin(&ks);
                second = Some((reader, model, vec![DbModel::new(); DBS]));
            }
            if !first_done {
                match first.next() {
                    Some(copy) => collect(&mut first_out, copy),
                    None => first_done = true,
                }
            }
            match &mut second {
                Some((reader, _, out)) if !second_done => match reader.next() {
                    Some(copy) => collect(out, copy),
                    None => second_done = true,
                },
                None if first_done => second_done = true,
                _ => {}
            }
        }
        assert!(
            first_out == first_model,
            "seed {seed}: first snapshot differs"
        );
        if let Some((_, model, out)) = &second {
            assert!(*out == *model, "seed {seed}: second snapshot differs");
        }
        drop(first);
        drop(second);
        assert_eq!(ks.snapshots_running(), 0);
        for id in ks.all_shards() {
            assert!(!ks.lock(id).has_snapshot_views(), "seed {seed}: views left");
        }
    }

    #[test]
    fn readers_return_their_instant_under_random_writes() {
        for seed in 0..400 {
            run_model(seed);
        }
    }

    #[test]
    fn reader_sees_the_instant_not_later_writes() {
        let ks = Keyspace::new(2, 4);
        let put = |db: usize, key: &[u8], value: &[u8]| {
            let (id, hash) = shard_id(&ks, db, key);
            ks.lock(id).insert_str(hash, key, value, None, 0);
        };
        for i in 0..100u32 {
            put(i as usize % 2, format!("k{i}").as_bytes(), b"old");
        }
        let (reader, _) = begin(&ks);
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
        assert_eq!(ks.snapshots_running(), 0);
    }

    /// A shard emptied key by key starts its slab again at position 0: keys added then, at
    /// positions the reader has not reached (holes at the instant included), are not read.
    #[test]
    fn a_shard_emptied_and_refilled_returns_only_its_old_keys() {
        let ks = Keyspace::new(1, 1);
        let id = ShardId { db: 0, shard: 0 };
        let keys: Vec<String> = (0..40).map(|i| format!("old{i}")).collect();
        for key in &keys {
            let hash = ks.hash(key.as_bytes());
            ks.lock(id)
                .insert_str(hash, key.as_bytes(), b"old", None, 0);
        }
        // Holes at the instant: empty positions the reader has not passed.
        for key in keys.iter().skip(1).step_by(2) {
            let hash = ks.hash(key.as_bytes());
            ks.lock(id).remove(hash, key.as_bytes(), 0);
        }
        let (mut reader, model) = begin(&ks);
        let mut out = vec![DbModel::new(); 1];
        collect(&mut out, reader.next().expect("a first chunk"));
        for key in &keys {
            let hash = ks.hash(key.as_bytes());
            ks.lock(id).remove(hash, key.as_bytes(), 0);
        }
        for i in 0..40 {
            let key = format!("new{i}");
            let hash = ks.hash(key.as_bytes());
            ks.lock(id)
                .insert_str(hash, key.as_bytes(), b"new", None, 0);
        }
        for copy in reader {
            collect(&mut out, copy);
        }
        assert!(out == model[..1]);
    }

    /// A reader dropped part-way removes its views: later writes copy nothing.
    #[test]
    fn a_reader_dropped_early_leaves_no_views() {
        let ks = Keyspace::new(DBS, 4);
        let mut rng = Rng(7);
        fill(&ks, &mut rng, 200, 0);
        let (mut reader, _) = begin(&ks);
        assert!(reader.next().is_some());
        drop(reader);
        assert_eq!(ks.snapshots_running(), 0);
        for id in ks.all_shards() {
            assert!(!ks.lock(id).has_snapshot_views());
        }
    }

    /// Beyond `SNAPSHOTS_MAX` running snapshots, another one is refused.
    #[test]
    fn snapshots_beyond_the_limit_are_refused() {
        let ks = Keyspace::new(1, 2);
        let ids: Vec<ShardId> = ks.all_shards().collect();
        let mut held = ks.lock_sorted(&ids);
        let readers: Vec<_> = (0..SNAPSHOTS_MAX)
            .map(|_| ks.begin_snapshot(&mut held).expect("free"))
            .collect();
        assert!(ks.begin_snapshot(&mut held).is_none());
        drop(held);
        drop(readers);
        let mut held = ks.lock_sorted(&ids);
        let again = ks.begin_snapshot(&mut held);
        drop(held);
        assert!(again.is_some());
    }
}
