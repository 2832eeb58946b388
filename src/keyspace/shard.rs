//! Shard: one lock's worth of a database. A hash index over a slab of entries.
//!
//! Entries live in a slab (`slots`) and never move while they exist; the hash table holds only
//! slot numbers. That gives three things a plain hash map cannot: SCAN cursors that are slot
//! positions (a key present for the whole scan is returned even if the table grows), an active
//! expiry sweep that walks slots in order and so reaches every key in bounded time, and uniform
//! random sampling (RANDOMKEY, eviction) by picking slot numbers.

use super::access;
use super::entry::Entry;
use super::entry_arena::Arena;
use super::index_alloc::IndexAlloc;
use super::snapshot::{ShardViews, SnapshotEntry};
use super::value::{Value, ValueMut, ValueRef};
use super::watch::{KeyState, Watchers};
use hashbrown::HashTable;
use std::hash::BuildHasher;

/// Slots per slab chunk: the slab grows by whole chunks so growth never copies entries.
const CHUNK_SLOTS: usize = 4096;

pub type KeyHasher = foldhash::fast::RandomState;

/// The hash index is split into tables of unequal shares of the keys, so they reach their
/// load limit (7/8) and double at different key counts: the index's size grows in four steps
/// of about 19% per doubling instead of one step of 100%. One table is 44–88% full depending on
/// where the key count falls (5.7–11.4 bytes a key with its 5-byte buckets); four staggered
/// tables stay within 7.3–9.2 bytes a key. Each table is still one probe: the part is chosen
/// from hash bits 32..40, which the tables do not use (they take the low bits, at most 32, for
/// the bucket and the top seven for the tag; the shard is chosen from bits 40 and up,
/// `Keyspace::shard_of`).
const INDEX_PARTS: usize = 4;
/// Where bits 32..40 of the hash (0..256) switch to the next part: shares about proportional
/// to 1, 2^-1/4, 2^-1/2, 2^-3/4 (31.6%, 27.0%, 22.7%, 18.8%).
const INDEX_SPLIT: [u64; INDEX_PARTS - 1] = [81, 150, 208];
/// Each part's share of the keys, out of 256 (for `reserve`).
const INDEX_SHARE: [usize; INDEX_PARTS] = [81, 150 - 81, 208 - 150, 256 - 208];

/// The index table a hash belongs to.
#[inline]
fn index_part(hash: u64) -> usize {
    let r = (hash >> 32) & 0xff;
    usize::from(r >= INDEX_SPLIT[0])
        + usize::from(r >= INDEX_SPLIT[1])
        + usize::from(r >= INDEX_SPLIT[2])
}

fn new_index() -> [HashTable<u32, IndexAlloc>; INDEX_PARTS] {
    std::array::from_fn(|_| HashTable::new_in(IndexAlloc::default()))
}

/// Counters kept per shard and summed when INFO asks (no shared atomic on the hot path).
#[derive(Debug, Default, Clone, Copy)]
pub struct ShardStats {
    pub hits: u64,
    pub misses: u64,
    pub expired: u64,
    pub evicted: u64,
    /// Hash fields removed because their deadline passed (INFO `expired_subkeys`).
    pub expired_subkeys: u64,
}

pub struct Shard {
    /// Slot numbers by key hash, in `INDEX_PARTS` tables (see `index_part`); large tables
    /// are pages of their own (see `index_alloc`).
    index: [HashTable<u32, IndexAlloc>; INDEX_PARTS],
    slots: Vec<Vec<Option<Entry>>>,
    free: Vec<u32>,
    hasher: KeyHasher,
    /// The keyspace's switches and tunables (LFU, expiry, eviction tier, prefix stats).
    pub(crate) tunables: std::sync::Arc<super::Tunables>,
    keys: usize,
    volatile_keys: usize,
    /// Bytes the volatile keys' deadlines take inside their entries (5 or 8 each).
    deadline_bytes: usize,
    used_bytes: usize,
    /// Active-expiry sweep position (0 = no pass in progress).
    sweep_pos: usize,
    /// Earliest instant a key of this shard may expire; no sweep is needed before it.
    next_sweep_at_ms: u64,
    /// Smallest deadline seen among the keys the current pass kept.
    pass_deadline_min_ms: u64,
    /// Clients WATCHing keys of this shard; survives flushes and SWAPDB (it follows the shard).
    pub watchers: Watchers,
    /// Keys expired and not yet handed to `take_expired` (see `note_expired`).
    expired_keys: Vec<Box<[u8]>>,
    /// Keys whose hash has field deadlines (INFO keyspace `subexpiry`).
    field_ttl_keys: usize,
    /// Hash fields the sweep expired, not yet handed to `take_expired_fields`.
    expired_fields: Vec<ExpiredFields>,
    /// Some hash here may have a field deadline (set when one is stored, recomputed by each
    /// full sweep pass); lets the sweep run for field expiry when no key is volatile.
    field_ttls_hint: bool,
    /// A hash with field deadlines was seen by the current sweep pass.
    pass_saw_field_ttls: bool,
    pub stats: ShardStats,
    /// Hits and misses per key prefix (see prefix_stats; nothing counted unless configured).
    pub prefix_stats: super::prefix_stats::PrefixStats,
    /// Slots of keys in the `maxmemory-evict-first` prefix tier (see evict_tiers).
    pub evict_tier: super::evict_tiers::TierSlots,
    /// Running snapshots' views of this shard (snapshot.rs). Every write to a slot passes
    /// `before_slot_write` first; None (one branch) when no snapshot runs.
    snapshot: Option<Box<ShardViews>>,
    /// Keys per hash slot (database 0 in cluster mode, see slot_index); None otherwise.
    slot_counts: Option<std::sync::Arc<super::slot_index::SlotCounts>>,
    /// The slot the last successful `find_slot` returned, beside the top half of its key's
    /// hash: a command looks its key up several times (the read, the write, WATCH), and each
    /// later probe costs one comparison with an entry already in the cache. Never trusted
    /// blindly: the slot's entry must hold the very key (keys are unique in a shard and every
    /// live entry is indexed), so no change of the table needs to reset it.
    found_memo: std::sync::atomic::AtomicU64,
    /// Where this shard's small entries are carved (see entry_arena): its own size classes,
    /// serialised by the shard's lock, so writers on other shards never touch them. Declared
    /// last, so the shard's entries are freed before the arena's handle goes.
    arena: Arena,
}

/// Hash fields removed by the active sweep because their deadline passed.
#[derive(Debug)]
pub struct ExpiredFields {
    pub key: Box<[u8]>,
    pub fields: Vec<Box<[u8]>>,
    /// The hash was left empty and the key deleted.
    pub key_deleted: bool,
}

/// Most fields one sweep visit removes from one hash (the rest wait for the next pass).
const SWEEP_FIELDS_PER_KEY: usize = 1024;

/// True for a hash value with field deadlines.
fn has_field_ttls(entry: &Entry) -> bool {
    matches!(entry.value(), ValueRef::Hash(h) if h.has_field_ttls())
}

/// The earliest field deadline of a hash value (None for other types and hashes without).
fn field_deadline(entry: &Entry) -> Option<u64> {
    match entry.value() {
        ValueRef::Hash(h) => h.min_field_deadline(),
        _ => None,
    }
}

/// The entry at slot `pos` of a slab, if any.
fn entry_in(slots: &[Vec<Option<Entry>>], pos: usize) -> Option<&Entry> {
    slots
        .get(pos / CHUNK_SLOTS)?
        .get(pos % CHUNK_SLOTS)?
        .as_ref()
}

impl Shard {
    pub fn new(hasher: KeyHasher, tunables: std::sync::Arc<super::Tunables>) -> Shard {
        Shard {
            index: new_index(),
            slots: Vec::new(),
            free: Vec::new(),
            hasher,
            tunables,
            keys: 0,
            volatile_keys: 0,
            deadline_bytes: 0,
            used_bytes: 0,
            sweep_pos: 0,
            next_sweep_at_ms: u64::MAX,
            pass_deadline_min_ms: u64::MAX,
            watchers: Watchers::default(),
            expired_keys: Vec::new(),
            field_ttl_keys: 0,
            expired_fields: Vec::new(),
            field_ttls_hint: false,
            pass_saw_field_ttls: false,
            stats: ShardStats::default(),
            prefix_stats: Default::default(),
            evict_tier: Default::default(),
            snapshot: None,
            slot_counts: None,
            found_memo: Default::default(),
            arena: Arena::new(),
        }
    }

    /// Counts this shard's keys per hash slot in `counts` from now on (cluster mode, database 0).
    pub fn index_slots(&mut self, counts: std::sync::Arc<super::slot_index::SlotCounts>) {
        self.slot_counts = Some(counts);
        self.count_slots(true);
    }

    pub fn len(&self) -> usize {
        self.keys
    }

    pub fn is_empty(&self) -> bool {
        self.keys == 0
    }

    /// Keys with a deadline.
    pub fn volatile_len(&self) -> usize {
        self.volatile_keys
    }

    /// Bytes the deadlines of volatile keys take (inside their entries: there is no separate
    /// expires table).
    pub fn deadline_bytes(&self) -> usize {
        self.deadline_bytes
    }

    /// Bytes of keys, values and per-entry overhead held by this shard.
    pub fn used_bytes(&self) -> usize {
        self.used_bytes + self.index_capacity() * 5
    }

    /// Keys the index's tables hold before they grow.
    fn index_capacity(&self) -> usize {
        self.index.iter().map(HashTable::capacity).sum()
    }

    /// Number of slot positions (a SCAN / sweep walks `0..slot_count()`).
    pub fn slot_count(&self) -> usize {
        match self.slots.last() {
            None => 0,
            Some(last) => (self.slots.len() - 1) * CHUNK_SLOTS + last.len(),
        }
    }

    fn slot(&self, id: u32) -> &Option<Entry> {
        let id = id as usize;
        &self.slots[id / CHUNK_SLOTS][id % CHUNK_SLOTS]
    }

    fn slot_mut(&mut self, id: u32) -> &mut Option<Entry> {
        let id = id as usize;
        &mut self.slots[id / CHUNK_SLOTS][id % CHUNK_SLOTS]
    }

    /// The entry at slot `pos`, if any, without expiring it.
    pub fn entry_at(&self, pos: usize) -> Option<&Entry> {
        entry_in(&self.slots, pos)
    }

    /// The access word of the entry at slot `pos` (0: no entry there). It lives in the entry
    /// only (a separate array of stamps beside the slab cost 4 bytes a key).
    pub fn stamp_at(&self, pos: usize) -> u32 {
        self.entry_at(pos).map_or(0, Entry::access)
    }

    /// Starts loading slot `pos` into the cache (see `Entry::prefetch`).
    pub fn prefetch_slot(&self, pos: usize) {
        if let Some(slot) = self
            .slots
            .get(pos / CHUNK_SLOTS)
            .and_then(|chunk| chunk.get(pos % CHUNK_SLOTS))
        {
            super::entry::prefetch(slot);
        }
    }

    /// The entry in slot `id`, stamped as accessed now (unless the running command asked not
    /// to be: CLIENT NO-TOUCH, OBJECT).
    fn touched_entry(&mut self, id: u32, now_ms: u64) -> Option<&mut Entry> {
        self.touched_entry_in(id, now_ms).map(|(entry, _)| entry)
    }

    /// `touched_entry`, with the shard's arena for rebuilding it.
    fn touched_entry_in(&mut self, id: u32, now_ms: u64) -> Option<(&mut Entry, &Arena)> {
        let id = id as usize;
        let (chunk, at) = (id / CHUNK_SLOTS, id % CHUNK_SLOTS);
        let entry = self.slots[chunk][at].as_mut()?;
        if access::touching() {
            let before = entry.access();
            let stamp = access::touched(&self.tunables.lfu, before, now_ms);
            // A key read again within the same second usually keeps its stamp: no store then,
            // so reads of hot keys do not dirty the entry.
            if stamp != before {
                entry.set_access(stamp);
            }
        }
        Some((entry, &self.arena))
    }

    /// The shard's entry arena: entries built to be inserted here are carved from it.
    pub fn arena(&self) -> &Arena {
        &self.arena
    }

    /// The snapshot hook: called before anything changes, replaces or removes the slot at
    /// `pos` (or fills it): a running snapshot that has not read it yet keeps the old entry.
    #[inline]
    fn before_slot_write(&mut self, pos: u32) {
        if let Some(views) = self.snapshot.as_deref_mut() {
            views.before_write(pos as usize, entry_in(&self.slots, pos as usize));
        }
    }

    /// Before the whole contents go (flush, SWAPDB): running snapshots keep what they have not
    /// read.
    fn before_contents_change(&mut self) {
        if let Some(views) = self.snapshot.as_deref_mut() {
            let slots = &self.slots;
            views.save_all(|pos| entry_in(slots, pos));
        }
    }

    /// This shard's snapshot views, created if none (`Keyspace::begin_snapshot`).
    pub(super) fn snapshot_views(&mut self) -> &mut ShardViews {
        self.snapshot.get_or_insert_with(Default::default)
    }

    /// The next chunk of a snapshot's view of this shard (see `ShardViews::read_chunk`).
    pub(super) fn read_snapshot_chunk(
        &mut self,
        snapshot: usize,
    ) -> Option<(Vec<SnapshotEntry>, bool)> {
        let views = self.snapshot.as_deref_mut()?;
        let slots = &self.slots;
        let chunk = views.read_chunk(snapshot, |pos| entry_in(slots, pos));
        if views.is_empty() {
            self.snapshot = None;
        }
        chunk
    }

    #[cfg(test)]
    pub(super) fn has_snapshot_views(&self) -> bool {
        self.snapshot.is_some()
    }

    /// Drops a snapshot's view of this shard (its reader stopped early).
    pub(super) fn end_snapshot(&mut self, snapshot: usize) {
        if let Some(views) = self.snapshot.as_deref_mut() {
            views.end(snapshot);
            if views.is_empty() {
                self.snapshot = None;
            }
        }
    }

    fn find_slot(&self, hash: u64, key: &[u8]) -> Option<u32> {
        use std::sync::atomic::Ordering::Relaxed;
        let memo = self.found_memo.load(Relaxed);
        if memo >> 32 == hash >> 32 {
            let id = memo as u32;
            if entry_in(&self.slots, id as usize).is_some_and(|e| e.key() == key) {
                return Some(id);
            }
        }
        let table = &self.index[index_part(hash)];
        if let Some((_, bucket)) = super::index_alloc::probe_lines(table, hash) {
            // Start loading the probed bucket while the probe reads its control bytes: the two
            // misses overlap instead of following each other.
            super::entry::prefetch(bucket);
        }
        let slots = &self.slots;
        let id = *table.find(hash, |&id| {
            let id = id as usize;
            slots[id / CHUNK_SLOTS][id % CHUNK_SLOTS]
                .as_ref()
                .is_some_and(|e| e.key() == key)
        })?;
        self.found_memo
            .store(((hash >> 32) << 32) | u64::from(id), Relaxed);
        Some(id)
    }

    /// The slot of a live key: deletes the key first if its deadline has passed (lazy expiry,
    /// counted in `stats.expired`).
    fn live_slot(&mut self, hash: u64, key: &[u8], now_ms: u64) -> Option<u32> {
        let id = self.find_slot(hash, key)?;
        if self.slot(id).as_ref().is_some_and(|e| e.is_expired(now_ms)) {
            if self.tunables.expiry.deletions_paused(now_ms) {
                // CLIENT PAUSE: missing for the reader, deleted after the pause.
                return None;
            }
            match self.tunables.expiry.past_deadline() {
                super::expiry::PastDeadline::Expire => {}
                super::expiry::PastDeadline::Hide => return None,
                super::expiry::PastDeadline::Keep => return Some(id),
            }
            let entry = self.remove_slot(hash, id);
            self.note_expired(entry.key());
            return None;
        }
        Some(id)
    }

    /// Looks a key up, deleting it first if its deadline has passed (lazy expiry, counted in
    /// `stats.expired`). Does not count hits or misses; `peek` callers decide. The entry is for
    /// reading and access bits: its value and deadline change only through the methods below,
    /// which run the snapshot hook first.
    pub fn get_mut(&mut self, hash: u64, key: &[u8], now_ms: u64) -> Option<&mut Entry> {
        let id = self.live_slot(hash, key, now_ms)?;
        self.touched_entry(id, now_ms)
    }

    /// Looks a key up for reading: expires it if due, and counts a keyspace hit or miss.
    pub fn get_read(&mut self, hash: u64, key: &[u8], now_ms: u64) -> Option<&mut Entry> {
        let found = self.live_slot(hash, key, now_ms);
        self.prefix_stats
            .record(&self.tunables.prefixes, key, found.is_some());
        match found {
            Some(id) => {
                self.stats.hits += 1;
                self.touched_entry(id, now_ms)
            }
            None => {
                self.stats.misses += 1;
                None
            }
        }
    }

    /// The type name of a live key, without expiring, touching or counting it (whether a key
    /// can serve the clients blocked on it).
    pub fn type_of_live(&self, hash: u64, key: &[u8], now_ms: u64) -> Option<&'static str> {
        let entry = self.slot(self.find_slot(hash, key)?).as_ref()?;
        (!entry.is_expired(now_ms)).then(|| entry.value().type_name())
    }

    /// True if the key exists and is not expired (expires it if due).
    pub fn contains(&mut self, hash: u64, key: &[u8], now_ms: u64) -> bool {
        self.get_mut(hash, key, now_ms).is_some()
    }

    /// `get_mut` for a change of the entry's value or deadline: runs the snapshot hook first.
    fn get_mut_for_write(
        &mut self,
        hash: u64,
        key: &[u8],
        now_ms: u64,
    ) -> Option<(&mut Entry, &Arena)> {
        let id = self.live_slot(hash, key, now_ms)?;
        self.before_slot_write(id);
        self.touched_entry_in(id, now_ms)
    }

    /// Inserts or replaces a key's value and deadline. Returns the previous entry if there was
    /// a live one.
    pub fn insert(
        &mut self,
        hash: u64,
        key: &[u8],
        value: Value,
        expire_at_ms: Option<u64>,
        now_ms: u64,
    ) -> Option<Entry> {
        let entry = Entry::new(key, value, expire_at_ms, &self.arena);
        self.insert_entry(hash, entry, now_ms)
    }

    /// Inserts or replaces a string value (the SET path: one allocation, no intermediate copy).
    ///
    /// Returns true when the key was created (no live entry was there). A live string of the
    /// same length, with a deadline of the same form or none as before, is overwritten in its
    /// own allocation (`overwrite_str_at`): the common SET and MSET over a cache key that keeps
    /// its size allocate and free nothing.
    pub fn insert_str(
        &mut self,
        hash: u64,
        key: &[u8],
        value: &[u8],
        expire_at_ms: Option<u64>,
        now_ms: u64,
    ) -> bool {
        match self.find_slot(hash, key) {
            Some(id) => {
                if self.overwrite_str_at(id, key, value, expire_at_ms, now_ms) {
                    return false;
                }
                let entry = Entry::new_str(key, value, expire_at_ms, &self.arena);
                self.replace_at(id, entry, now_ms).is_none()
            }
            None => {
                self.insert_absent(
                    hash,
                    Entry::new_str(key, value, expire_at_ms, &self.arena),
                    now_ms,
                );
                true
            }
        }
    }

    /// Overwrites the live string at slot `id` with `value` and `deadline` in place when its
    /// layout allows it (`Entry::fits_str`): what `replace_at` does, without a new allocation.
    /// False, changing nothing, when it does not fit or the entry has expired (then the caller
    /// replaces it, which counts the expiry).
    fn overwrite_str_at(
        &mut self,
        id: u32,
        key: &[u8],
        value: &[u8],
        deadline: Option<u64>,
        now_ms: u64,
    ) -> bool {
        let Some(entry) = self.slot(id).as_ref() else {
            return false;
        };
        if !entry.fits_str(value.len(), deadline) || entry.is_expired(now_ms) {
            return false;
        }
        let access = access::fresh(&self.tunables.lfu, Some(entry.access()), now_ms);
        self.before_slot_write(id);
        if !self.watchers.is_empty() {
            self.watchers.touch(key, false);
        }
        // Same key, same size, same deadline presence: the byte count, the volatile count,
        // the eviction tier and the slot counters stay as they are.
        let entry = self.slot_mut(id).as_mut().expect("checked above");
        entry.set_access(access);
        entry.overwrite_str(value, deadline);
        if let Some(deadline) = deadline {
            self.note_deadline(deadline);
        }
        true
    }

    /// Makes room in the index for `additional` more keys at once (a bulk load that knows its
    /// size, such as an RDB file's RESIZEDB), instead of rehashing as it grows.
    pub fn reserve(&mut self, additional: usize) {
        let slots = &self.slots;
        let hasher = &self.hasher;
        for (table, share) in self.index.iter_mut().zip(INDEX_SHARE) {
            table.reserve(additional * share / 256 + 1, |&other| {
                let other = other as usize;
                let e = slots[other / CHUNK_SLOTS][other % CHUNK_SLOTS]
                    .as_ref()
                    .expect("indexed slot holds an entry");
                hasher.hash_one(e.key())
            });
        }
    }

    /// Inserts a prepared entry, replacing any live entry under the same key.
    pub fn insert_entry(&mut self, hash: u64, entry: Entry, now_ms: u64) -> Option<Entry> {
        if let Some(id) = self.find_slot(hash, entry.key()) {
            return self.replace_at(id, entry, now_ms);
        }
        self.insert_absent(hash, entry, now_ms);
        None
    }

    /// `insert_entry` of a key the index does not hold.
    fn insert_absent(&mut self, hash: u64, mut entry: Entry, now_ms: u64) {
        if entry.access() == 0 {
            entry.set_access(access::fresh(&self.tunables.lfu, None, now_ms));
        }
        self.used_bytes += entry.memory_bytes();
        if let Some(deadline) = entry.expire_at_ms() {
            self.volatile_keys += 1;
            self.deadline_bytes += entry.deadline_bytes();
            self.note_deadline(deadline);
        }
        if let Some(deadline) = field_deadline(&entry) {
            self.note_field_deadline(deadline);
            self.field_ttl_keys += 1;
        }
        let id = match self.free.pop() {
            Some(id) => {
                self.before_slot_write(id);
                *self.slot_mut(id) = Some(entry);
                id
            }
            None => {
                let id = self.slot_count() as u32;
                self.before_slot_write(id);
                if self.slots.last().is_none_or(|c| c.len() == CHUNK_SLOTS) {
                    // Whole from the start: growing by doubling would leave the smaller
                    // buffers freed behind it (pages the allocator keeps).
                    self.slots.push(Vec::with_capacity(CHUNK_SLOTS));
                }
                self.slots
                    .last_mut()
                    .expect("pushed above")
                    .push(Some(entry));
                id
            }
        };
        let slots = &self.slots;
        let hasher = &self.hasher;
        self.index[index_part(hash)].insert_unique(hash, id, |&other| {
            let other = other as usize;
            let e = slots[other / CHUNK_SLOTS][other % CHUNK_SLOTS]
                .as_ref()
                .expect("indexed slot holds an entry");
            hasher.hash_one(e.key())
        });
        self.keys += 1;
        if let Some(counts) = &self.slot_counts {
            // A replaced entry was counted out by `remove` above.
            counts.added(self.slot(id).as_ref().expect("just stored").key());
        }
        super::evict_tiers::note_insert(self, id);
    }

    /// `insert_entry` over a key already indexed at slot `id`: the new entry takes the old
    /// one's slot, so the index is neither probed again nor changed. Everything else is what
    /// removing the old entry and inserting the new one does (watchers, tiers, counts, an
    /// expired old entry counted as expired and not returned).
    fn replace_at(&mut self, id: u32, mut entry: Entry, now_ms: u64) -> Option<Entry> {
        self.before_slot_write(id);
        let old = self
            .slot_mut(id)
            .take()
            .expect("indexed slot holds an entry");
        if !self.watchers.is_empty() {
            self.watchers.touch(old.key(), false);
        }
        self.evict_tier.note_remove(&self.tunables.tiers, old.key());
        self.used_bytes -= old.memory_bytes();
        if old.expire_at_ms().is_some() {
            self.volatile_keys -= 1;
            self.deadline_bytes -= old.deadline_bytes();
        }
        let old = if old.is_expired(now_ms) {
            self.note_expired(old.key());
            None
        } else {
            Some(old)
        };
        if entry.access() == 0 {
            entry.set_access(access::fresh(
                &self.tunables.lfu,
                old.as_ref().map(Entry::access),
                now_ms,
            ));
        }
        self.used_bytes += entry.memory_bytes();
        if let Some(deadline) = entry.expire_at_ms() {
            self.volatile_keys += 1;
            self.deadline_bytes += entry.deadline_bytes();
            self.note_deadline(deadline);
        }
        *self.slot_mut(id) = Some(entry);
        super::evict_tiers::note_insert(self, id);
        old
    }

    /// Removes a key (expired or not) and returns its entry if it was live.
    pub fn remove(&mut self, hash: u64, key: &[u8], now_ms: u64) -> Option<Entry> {
        let id = self.find_slot(hash, key)?;
        let entry = self.remove_slot(hash, id);
        if entry.is_expired(now_ms)
            && self.tunables.expiry.past_deadline() != super::expiry::PastDeadline::Keep
        {
            self.note_expired(entry.key());
            return None;
        }
        Some(entry)
    }

    fn remove_slot(&mut self, hash: u64, id: u32) -> Entry {
        self.before_slot_write(id);
        if let Ok(found) = self.index[index_part(hash)].find_entry(hash, |&other| other == id) {
            found.remove();
        }
        let entry = self
            .slot_mut(id)
            .take()
            .expect("indexed slot holds an entry");
        if !self.watchers.is_empty() {
            self.watchers.touch(entry.key(), false);
        }
        self.free.push(id);
        self.evict_tier
            .note_remove(&self.tunables.tiers, entry.key());
        self.keys -= 1;
        if let Some(counts) = &self.slot_counts {
            counts.removed(entry.key());
        }
        self.used_bytes -= entry.memory_bytes();
        if entry.expire_at_ms().is_some() {
            self.volatile_keys -= 1;
            self.deadline_bytes -= entry.deadline_bytes();
        }
        if has_field_ttls(&entry) {
            self.field_ttl_keys -= 1;
        }
        if self.keys == 0 {
            self.reset_storage();
        }
        entry
    }

    /// Removes the entry at slot `pos` (used by sweeps and eviction, which find keys by slot).
    pub fn remove_at(&mut self, pos: usize) -> Option<Entry> {
        let hash = self.hasher.hash_one(self.entry_at(pos)?.key());
        Some(self.remove_slot(hash, pos as u32))
    }

    /// Changes a live entry's deadline, keeping the volatile count right.
    pub fn set_expiry(
        &mut self,
        hash: u64,
        key: &[u8],
        deadline: Option<u64>,
        now_ms: u64,
    ) -> bool {
        let Some((entry, arena)) = self.get_mut_for_write(hash, key, now_ms) else {
            return false;
        };
        let was = entry.expire_at_ms().is_some();
        let before = entry.memory_bytes();
        let width_before = entry.deadline_bytes();
        entry.set_expire_at_ms(deadline, arena);
        let after = entry.memory_bytes();
        let width_after = entry.deadline_bytes();
        self.deadline_bytes = self.deadline_bytes + width_after - width_before;
        self.used_bytes = self.used_bytes + after - before;
        let is = deadline.is_some();
        if let Some(deadline) = deadline {
            self.note_deadline(deadline);
        }
        match (was, is) {
            (false, true) => self.volatile_keys += 1,
            (true, false) => self.volatile_keys -= 1,
            _ => {}
        }
        true
    }

    /// Replaces the value of a live key in place, keeping its deadline; accounts the size change.
    pub fn replace_value(&mut self, hash: u64, key: &[u8], value: Value, now_ms: u64) -> bool {
        let Some((entry, arena)) = self.get_mut_for_write(hash, key, now_ms) else {
            return false;
        };
        let before = entry.memory_bytes();
        let had = has_field_ttls(entry);
        *entry = entry.with_value(value, arena);
        let after = entry.memory_bytes();
        let (has, due) = (has_field_ttls(entry), field_deadline(entry));
        self.used_bytes = self.used_bytes + after - before;
        self.field_ttls_changed(had, has, due);
        true
    }

    /// Replaces the string value of a live key, keeping its deadline and access bits.
    pub fn replace_str(&mut self, hash: u64, key: &[u8], value: &[u8], now_ms: u64) -> bool {
        let Some((entry, arena)) = self.get_mut_for_write(hash, key, now_ms) else {
            return false;
        };
        let deadline = entry.expire_at_ms();
        if entry.fits_str(value.len(), deadline) {
            // INCR over a number of the same width: in place, nothing allocated.
            entry.overwrite_str(value, deadline);
            return true;
        }
        let before = entry.memory_bytes();
        *entry = entry.with_str(value, arena);
        let after = entry.memory_bytes();
        self.used_bytes = self.used_bytes + after - before;
        true
    }

    /// Sets a live entry's memcached metadata (flags, CAS unique), keeping its value, deadline
    /// and access bits; accounts the size change.
    pub fn set_item_meta(
        &mut self,
        hash: u64,
        key: &[u8],
        meta: super::entry::ItemMeta,
        now_ms: u64,
    ) -> bool {
        let Some((entry, arena)) = self.get_mut_for_write(hash, key, now_ms) else {
            return false;
        };
        let before = entry.memory_bytes();
        entry.set_meta(meta, arena);
        let after = entry.memory_bytes();
        self.used_bytes = self.used_bytes + after - before;
        true
    }

    /// Runs `f` on a live key's value in place, re-accounts its size, and deletes the key when
    /// an aggregate is left empty (Redis never keeps an empty hash, list, set or sorted set).
    /// Returns `f`'s result and whether the key was deleted.
    pub fn modify<R>(
        &mut self,
        hash: u64,
        key: &[u8],
        now_ms: u64,
        f: impl FnOnce(ValueMut<'_>) -> R,
    ) -> Option<(R, bool)> {
        let id = self.live_slot(hash, key, now_ms)?;
        self.before_slot_write(id);
        let entry = self.touched_entry(id, now_ms)?;
        let before = entry.memory_bytes();
        let had = has_field_ttls(entry);
        let result = f(entry.value_mut());
        let after = entry.memory_bytes();
        let emptied = entry.value_mut().is_empty_collection();
        let (has, due) = (has_field_ttls(entry), field_deadline(entry));
        self.used_bytes = self.used_bytes + after - before;
        // Counted as the value is now; `remove_slot` then uncounts what it removes.
        self.field_ttls_changed(had, has, due);
        if emptied {
            self.remove_slot(hash, id);
        }
        Some((result, emptied))
    }

    /// Runs `f` on a live string value in place, in its growable buffer (see `Entry`), and
    /// re-accounts its size. `None` when the key is missing, `Some(None)` when it holds another
    /// type (nothing is touched then).
    pub fn modify_str<R>(
        &mut self,
        hash: u64,
        key: &[u8],
        now_ms: u64,
        f: impl FnOnce(&mut Vec<u8>) -> R,
    ) -> Option<Option<R>> {
        let id = self.live_slot(hash, key, now_ms)?;
        if !matches!(self.slot(id).as_ref()?.value(), ValueRef::Str(_)) {
            self.touched_entry(id, now_ms)?;
            return Some(None);
        }
        self.before_slot_write(id);
        let (entry, arena) = self.touched_entry_in(id, now_ms)?;
        let before = entry.memory_bytes();
        let result = f(entry.str_buf_mut(arena)?);
        let after = entry.memory_bytes();
        self.used_bytes = self.used_bytes + after - before;
        Some(Some(result))
    }

    /// Runs `f` on an owned copy of a live value, stores the result back (keeping deadline
    /// and access bits) and re-accounts its size. For read-modify-write commands (INCR,
    /// APPEND); the copy is what a value stored inside its entry costs.
    pub fn update_value<R>(
        &mut self,
        hash: u64,
        key: &[u8],
        now_ms: u64,
        f: impl FnOnce(&mut Value) -> R,
    ) -> Option<R> {
        let (entry, arena) = self.get_mut_for_write(hash, key, now_ms)?;
        let mut value = entry.to_value();
        let result = f(&mut value);
        let before = entry.memory_bytes();
        let had = has_field_ttls(entry);
        *entry = entry.with_value(value, arena);
        let after = entry.memory_bytes();
        let (has, due) = (has_field_ttls(entry), field_deadline(entry));
        self.used_bytes = self.used_bytes + after - before;
        self.field_ttls_changed(had, has, due);
        Some(result)
    }

    /// Removes every key, marking the watchers of keys that existed.
    pub fn clear(&mut self, now_ms: u64) {
        self.touch_watched_emptied(|_| KeyState::Absent, now_ms);
        self.before_contents_change();
        self.count_slots(false);
        self.reset_storage();
    }

    /// What is stored under `key`, without expiring or touching it.
    pub fn key_state(&self, hash: u64, key: &[u8], now_ms: u64) -> KeyState {
        match self
            .find_slot(hash, key)
            .and_then(|id| self.slot(id).as_ref())
        {
            None => KeyState::Absent,
            Some(e) if e.is_expired(now_ms) => KeyState::Stale,
            Some(_) => KeyState::Live,
        }
    }

    /// `key_state` computing the key's hash.
    pub fn key_state_of(&self, key: &[u8], now_ms: u64) -> KeyState {
        self.key_state(self.hasher.hash_one(key), key, now_ms)
    }

    /// The keys watched here (the other side of a SWAPDB looks them up).
    pub fn watched_keys(&self) -> Vec<Box<[u8]>> {
        self.watchers.keys().map(Into::into).collect()
    }

    /// Marks the watchers of this shard's keys before its contents are dropped (flush) or
    /// replaced by contents in which each key's state is `replaced(key)` (SWAPDB).
    pub fn touch_watched_emptied(&mut self, replaced: impl FnMut(&[u8]) -> KeyState, now_ms: u64) {
        if self.watchers.is_empty() {
            return;
        }
        let mut watchers = std::mem::take(&mut self.watchers);
        watchers.touch_emptied(|key| self.key_state_of(key, now_ms), replaced);
        self.watchers = watchers;
    }

    /// Marks the clients watching `key` (called for every write).
    pub fn touch_watched(&mut self, hash: u64, key: &[u8]) {
        if !self.watchers.is_empty() {
            let exists = self.find_slot(hash, key).is_some();
            self.watchers.touch(key, exists);
        }
    }

    fn reset_storage(&mut self) {
        self.evict_tier.clear();
        self.index = new_index();
        self.slots = Vec::new();
        self.free = Vec::new();
        self.keys = 0;
        self.volatile_keys = 0;
        self.deadline_bytes = 0;
        self.field_ttl_keys = 0;
        self.field_ttls_hint = false;
        self.pass_saw_field_ttls = false;
        self.used_bytes = 0;
        self.sweep_pos = 0;
        self.next_sweep_at_ms = u64::MAX;
        self.pass_deadline_min_ms = u64::MAX;
    }

    /// Counts a key removed because its deadline passed and, while `expired` events are wanted,
    /// keeps its name for `take_expired`.
    fn note_expired(&mut self, key: &[u8]) {
        self.stats.expired += 1;
        if self.tunables.expiry.expired_keys_recorded() {
            self.expired_keys.push(key.into());
        }
    }

    /// Names of the keys expired since the last call (only recorded while `expired` keyspace
    /// events are enabled). The caller publishes them once it has released the shard lock.
    pub fn take_expired(&mut self) -> Vec<Box<[u8]>> {
        std::mem::take(&mut self.expired_keys)
    }

    fn note_deadline(&mut self, deadline_ms: u64) {
        self.next_sweep_at_ms = self.next_sweep_at_ms.min(deadline_ms);
    }

    /// Keeps `field_ttl_keys` and the sweep's mark right after a value changed in place.
    fn field_ttls_changed(&mut self, had: bool, has: bool, due: Option<u64>) {
        match (had, has) {
            (false, true) => self.field_ttl_keys += 1,
            (true, false) => self.field_ttl_keys -= 1,
            _ => {}
        }
        if let Some(deadline) = due {
            self.note_field_deadline(deadline);
        }
    }

    /// Keys whose hash has field deadlines (INFO keyspace `subexpiry`).
    pub fn field_ttl_len(&self) -> usize {
        self.field_ttl_keys
    }

    fn note_field_deadline(&mut self, deadline_ms: u64) {
        self.field_ttls_hint = true;
        self.pass_saw_field_ttls = true;
        self.note_deadline(deadline_ms);
    }

    /// Hash fields the sweep expired since the last call. The caller logs them (HDEL) while
    /// it holds the shard and raises their events after.
    pub fn take_expired_fields(&mut self) -> Vec<ExpiredFields> {
        std::mem::take(&mut self.expired_fields)
    }

    /// Removes the expired fields (at most `max`) of the hash at slot `pos`, deleting the key
    /// when it is left empty; records them for `take_expired_fields`. The number removed.
    fn expire_fields_at(&mut self, pos: usize, now_ms: u64, max: usize) -> usize {
        self.before_slot_write(pos as u32);
        let Some(Some(entry)) = self
            .slots
            .get_mut(pos / CHUNK_SLOTS)
            .map(|c| &mut c[pos % CHUNK_SLOTS])
        else {
            return 0;
        };
        let before = entry.memory_bytes();
        if !has_field_ttls(entry) {
            return 0;
        }
        let fields = match entry.value_mut() {
            ValueMut::Hash(h) => h.remove_expired(now_ms, max),
            _ => return 0,
        };
        let after = entry.memory_bytes();
        let emptied = entry.value_mut().is_empty_collection();
        let has = has_field_ttls(entry);
        let key: Box<[u8]> = entry.key().into();
        self.used_bytes = self.used_bytes + after - before;
        self.stats.expired_subkeys += fields.len() as u64;
        self.field_ttls_changed(true, has, None);
        if emptied {
            self.remove_at(pos);
        } else if !self.watchers.is_empty() {
            self.watchers.touch(&key, false);
        }
        let removed = fields.len();
        self.expired_fields.push(ExpiredFields {
            key,
            fields,
            key_deleted: emptied,
        });
        removed
    }

    /// True when the active-expiry sweep has work here: a pass is under way, or some deadline
    /// noted since the last pass has been reached.
    pub fn sweep_due(&self, now_ms: u64) -> bool {
        self.sweep_pos != 0
            || ((self.volatile_keys > 0 || self.field_ttls_hint) && self.next_sweep_at_ms < now_ms)
    }

    /// One bounded step of the active-expiry sweep: visits up to `slots_max` slots from the
    /// current position, deleting expired entries (counted in `stats.expired`). Returns the
    /// number of keys removed. A pass that reaches the end records the earliest deadline left,
    /// so the next pass starts only when a key can actually have expired.
    pub fn sweep_step(&mut self, slots_max: usize, now_ms: u64) -> usize {
        if self.sweep_pos == 0 {
            self.next_sweep_at_ms = u64::MAX;
            self.pass_deadline_min_ms = u64::MAX;
            self.pass_saw_field_ttls = false;
        }
        let end = self.slot_count();
        let stop = self.sweep_pos.saturating_add(slots_max).min(end);
        let mut removed = 0;
        for pos in self.sweep_pos..stop {
            let Some(entry) = self.entry_at(pos) else {
                continue;
            };
            let key_deadline = entry.expire_at_ms();
            if self.field_ttls_hint && key_deadline.is_none_or(|at| at >= now_ms) {
                if let Some(first) = field_deadline(entry) {
                    if first < now_ms {
                        self.expire_fields_at(pos, now_ms, SWEEP_FIELDS_PER_KEY);
                    }
                    match self.entry_at(pos).and_then(field_deadline) {
                        Some(next) => {
                            self.pass_saw_field_ttls = true;
                            self.pass_deadline_min_ms = self.pass_deadline_min_ms.min(next);
                        }
                        None if self.keys == 0 => break,
                        None => {}
                    }
                }
            }
            let Some(entry) = self.entry_at(pos) else {
                continue;
            };
            let Some(deadline) = entry.expire_at_ms() else {
                continue;
            };
            if deadline < now_ms {
                if let Some(entry) = self.remove_at(pos) {
                    self.note_expired(entry.key());
                }
                removed += 1;
                if self.keys == 0 {
                    break;
                }
            } else {
                self.pass_deadline_min_ms = self.pass_deadline_min_ms.min(deadline);
            }
        }
        if self.keys == 0 || stop >= end {
            self.sweep_pos = 0;
            self.field_ttls_hint = self.pass_saw_field_ttls;
            self.next_sweep_at_ms = self.next_sweep_at_ms.min(self.pass_deadline_min_ms);
        } else {
            self.sweep_pos = stop;
        }
        removed
    }

    /// One stage of prefetching a key's lookup ahead of the command that will do it (see
    /// `Keyspace::prefetch_keys`). Stage 0 reads nothing: it starts loading the index's control
    /// bytes and the first probed bucket, whose addresses follow from the hash
    /// (`index_alloc::probe_lines`); stage 1 reads them and starts loading the slab slot, stage
    /// 2 reads the slot and starts loading the entry. Run over a whole batch of keys one stage
    /// at a time, the cache misses of different keys overlap instead of following each other.
    /// Only hints: nothing is changed, and a wrong candidate costs one wasted load.
    #[inline]
    pub fn prefetch_stage(&self, hash: u64, stage: u8) {
        let table = &self.index[index_part(hash)];
        if stage == 0 {
            // Reads nothing: the control bytes' and the bucket's addresses follow from the hash.
            if let Some((ctrl, bucket)) = super::index_alloc::probe_lines(table, hash) {
                super::entry::prefetch(ctrl);
                super::entry::prefetch(bucket);
            }
            return;
        }
        let Some(id) = table.iter_hash(hash).next() else {
            return;
        };
        match stage {
            1 => {
                let id = *id as usize;
                if let Some(slot) = self
                    .slots
                    .get(id / CHUNK_SLOTS)
                    .and_then(|chunk| chunk.get(id % CHUNK_SLOTS))
                {
                    super::entry::prefetch(slot);
                }
            }
            _ => {
                if let Some(entry) = entry_in(&self.slots, *id as usize) {
                    entry.prefetch_two_lines();
                }
            }
        }
    }

    /// Swaps the whole contents of two shards (SWAPDB); statistics stay with their shard.
    pub fn swap_contents(&mut self, other: &mut Shard) {
        self.before_contents_change();
        other.before_contents_change();
        // Slot counters stay with their shard (database 0 in cluster mode): the keys that
        // leave are counted out, the keys that arrive counted in.
        let recount = self.slot_counts.is_some() || other.slot_counts.is_some();
        if recount {
            self.count_slots(false);
            other.count_slots(false);
        }
        std::mem::swap(&mut self.index, &mut other.index);
        std::mem::swap(&mut self.slots, &mut other.slots);
        std::mem::swap(&mut self.free, &mut other.free);
        std::mem::swap(&mut self.keys, &mut other.keys);
        std::mem::swap(&mut self.volatile_keys, &mut other.volatile_keys);
        std::mem::swap(&mut self.deadline_bytes, &mut other.deadline_bytes);
        std::mem::swap(&mut self.field_ttl_keys, &mut other.field_ttl_keys);
        std::mem::swap(&mut self.field_ttls_hint, &mut other.field_ttls_hint);
        std::mem::swap(
            &mut self.pass_saw_field_ttls,
            &mut other.pass_saw_field_ttls,
        );
        std::mem::swap(&mut self.used_bytes, &mut other.used_bytes);
        // The arenas follow their cells (either way would be safe: a cell is freed to the
        // arena its chunk names), so the entries' later frees stay with their shard's lock.
        std::mem::swap(&mut self.arena, &mut other.arena);
        std::mem::swap(&mut self.hasher, &mut other.hasher);
        std::mem::swap(&mut self.evict_tier, &mut other.evict_tier);
        std::mem::swap(&mut self.sweep_pos, &mut other.sweep_pos);
        std::mem::swap(&mut self.next_sweep_at_ms, &mut other.next_sweep_at_ms);
        std::mem::swap(
            &mut self.pass_deadline_min_ms,
            &mut other.pass_deadline_min_ms,
        );
        if recount {
            self.count_slots(true);
            other.count_slots(true);
        }
    }

    /// Adds (or takes away) every key of this shard to (from) its slot counters, if it has any.
    fn count_slots(&self, add: bool) {
        let Some(counts) = &self.slot_counts else {
            return;
        };
        for pos in 0..self.slot_count() {
            if let Some(entry) = entry_in(&self.slots, pos) {
                if add {
                    counts.added(entry.key());
                } else {
                    counts.removed(entry.key());
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keyspace::value::ValueRef;

    fn shard() -> (Shard, KeyHasher) {
        let h = KeyHasher::default();
        (Shard::new(h.clone(), Default::default()), h)
    }

    #[test]
    fn strings_changed_in_place_keep_their_deadline_and_accounting() {
        let (mut s, h) = shard();
        let k = b"bits";
        let hash = h.hash_one(&k[..]);
        s.insert_str(hash, k, b"abc", Some(1_000), 0);
        let before = s.used_bytes();
        let grown = s.modify_str(hash, k, 0, |buf| {
            crate::keyspace::value::grow_string(buf, 100_000);
            buf[99_999] = 7;
            buf.len()
        });
        assert_eq!(grown, Some(Some(100_000)));
        let entry = s.get_mut(hash, k, 0).unwrap();
        assert_eq!(entry.expire_at_ms(), Some(1_000));
        assert_eq!(entry.encoding_name(), "raw");
        let ValueRef::Str(bytes) = entry.value() else {
            panic!("a string")
        };
        assert_eq!(
            (&bytes[..3], bytes[99_999], bytes.len()),
            (&b"abc"[..], 7, 100_000)
        );
        let counted = entry.memory_bytes();
        assert!(s.used_bytes() >= before + 100_000);
        // Another type is refused without being touched; a missing key is None.
        s.insert(
            h.hash_one(&b"h"[..]),
            b"h",
            Value::Hash(Box::default()),
            None,
            0,
        );
        assert_eq!(
            s.modify_str(h.hash_one(&b"h"[..]), b"h", 0, |_| ()),
            Some(None)
        );
        assert_eq!(s.modify_str(h.hash_one(&b"no"[..]), b"no", 0, |_| ()), None);
        // Removing the key gives every byte back.
        let all = s.used_bytes();
        s.remove(hash, k, 0);
        assert_eq!(all - s.used_bytes(), counted);
    }

    #[test]
    fn insert_get_remove() {
        let (mut s, h) = shard();
        let k = b"key";
        let hash = h.hash_one(&k[..]);
        assert!(s.insert(hash, k, Value::string(b"v"), None, 0).is_none());
        assert_eq!(s.get_mut(hash, k, 0).unwrap().value(), ValueRef::Str(b"v"));
        assert!(s.insert(hash, k, Value::string(b"w"), None, 0).is_some());
        assert_eq!(s.len(), 1);
        assert!(s.remove(hash, k, 0).is_some());
        assert!(s.is_empty());
        assert_eq!(s.used_bytes(), 0);
    }

    #[test]
    fn lazy_expiry_on_lookup() {
        let (mut s, h) = shard();
        let hash = h.hash_one(&b"k"[..]);
        s.insert(hash, b"k", Value::string(b"v"), Some(100), 0);
        assert!(s.get_mut(hash, b"k", 100).is_some());
        assert!(s.get_mut(hash, b"k", 101).is_none());
        assert_eq!(s.stats.expired, 1);
        assert_eq!(s.len(), 0);
    }

    #[test]
    fn sweep_reaches_every_slot() {
        let (mut s, h) = shard();
        for i in 0..10_000u32 {
            let k = i.to_be_bytes();
            s.insert(h.hash_one(&k[..]), &k, Value::string(b"v"), Some(10), 0);
        }
        assert!(!s.sweep_due(10));
        assert!(s.sweep_due(11));
        let mut removed = 0;
        loop {
            removed += s.sweep_step(1000, 11);
            if !s.sweep_due(11) {
                break;
            }
        }
        assert_eq!(removed, 10_000);
        assert!(s.is_empty());
    }

    #[test]
    fn slots_are_stable_across_growth() {
        let (mut s, h) = shard();
        let first = b"first";
        s.insert(h.hash_one(&first[..]), first, Value::string(b"v"), None, 0);
        for i in 0..(CHUNK_SLOTS as u32 * 3) {
            let k = i.to_le_bytes();
            s.insert(h.hash_one(&k[..]), &k, Value::string(b"v"), None, 0);
        }
        assert_eq!(s.entry_at(0).unwrap().key(), first);
    }

    #[test]
    fn overwrite_reuses_the_slot_and_keeps_the_counts() {
        let (mut s, h) = shard();
        let hash = h.hash_one(&b"k"[..]);
        s.insert_str(hash, b"k", b"v", Some(100), 0);
        let pos = (0..s.slot_count())
            .find(|&p| s.entry_at(p).is_some())
            .unwrap();
        // A live key: the old entry comes back, the slot and the counts stay.
        let old = s
            .insert_entry(
                hash,
                Entry::new_str(b"k", b"longer value", None, &Arena::new()),
                50,
            )
            .unwrap();
        assert_eq!(old.value(), ValueRef::Str(b"v"));
        assert_eq!(s.entry_at(pos).unwrap().key(), b"k");
        assert_eq!((s.len(), s.volatile_len()), (1, 0));
        let only = Entry::new_str(b"k", b"longer value", None, &Arena::new()).memory_bytes();
        assert_eq!(s.used_bytes(), only + s.index_capacity() * 5);
        // An expired key replaced: not returned, counted as expired.
        s.insert_str(hash, b"k", b"v", Some(100), 60);
        assert!(s.insert_str(hash, b"k", b"w", Some(300), 200));
        assert_eq!(s.stats.expired, 1);
        assert_eq!((s.len(), s.volatile_len()), (1, 1));
        // A deadline in 1970 takes the wide form (8 bytes); one in 2026 the narrow (5).
        assert_eq!(s.deadline_bytes(), 8);
        s.insert_str(hash, b"k", b"w", Some(1_780_000_000_000), 200);
        assert_eq!(s.deadline_bytes(), 5);
        s.remove(hash, b"k", 200);
        assert_eq!(s.deadline_bytes(), 0);
    }

    #[test]
    fn a_string_of_the_same_layout_is_overwritten_in_place() {
        let (mut s, h) = shard();
        let hash = h.hash_one(&b"k"[..]);
        assert!(s.insert_str(hash, b"k", b"abc", Some(1_000), 0));
        let at = s.entry_at(0).unwrap().key().as_ptr();
        let used = s.used_bytes();
        // Same length, a deadline of the same width: same allocation, new bytes and deadline.
        assert!(!s.insert_str(hash, b"k", b"xyz", Some(2_000), 10));
        let e = s.entry_at(0).unwrap();
        assert_eq!(e.key().as_ptr(), at);
        assert_eq!(
            (e.value(), e.expire_at_ms()),
            (ValueRef::Str(b"xyz"), Some(2_000))
        );
        assert_eq!((s.used_bytes(), s.len(), s.volatile_len()), (used, 1, 1));
        // Another length, or the deadline dropped: a new entry, counts kept right.
        assert!(!s.insert_str(hash, b"k", b"xyz", None, 20));
        assert_eq!(s.volatile_len(), 0);
        assert_eq!(s.entry_at(0).unwrap().expire_at_ms(), None);
        assert!(!s.insert_str(hash, b"k", b"four", None, 30));
        assert_eq!(s.entry_at(0).unwrap().value(), ValueRef::Str(b"four"));
        // A same-length value over an expired key creates it, and counts the expiry.
        assert!(!s.insert_str(hash, b"k", b"wxyz", Some(100), 40));
        assert!(s.insert_str(hash, b"k", b"abcd", Some(900), 200));
        assert_eq!(s.stats.expired, 1);
        // A wide deadline (past 2054) over a narrow one of the same length is rebuilt.
        let wide = 1u64 << 62;
        assert!(!s.insert_str(hash, b"k", b"efgh", Some(wide), 300));
        assert_eq!(s.entry_at(0).unwrap().expire_at_ms(), Some(wide));
        // A memcached item's metadata goes with any new value, as with a rebuilt entry.
        let meta = super::super::entry::ItemMeta { flags: 7, cas: 9 };
        assert!(s.set_item_meta(hash, b"k", meta, 300));
        assert!(!s.insert_str(hash, b"k", b"ijkl", None, 400));
        assert_eq!(s.entry_at(0).unwrap().meta(), None);
        // INCR's replace of a number of the same width, in place, deadline kept.
        assert!(!s.insert_str(hash, b"k", b"10", Some(5_000), 500));
        let at = s.entry_at(0).unwrap().key().as_ptr();
        assert!(s.replace_str(hash, b"k", b"11", 600));
        let e = s.entry_at(0).unwrap();
        assert_eq!(e.key().as_ptr(), at);
        assert_eq!(
            (e.value(), e.expire_at_ms()),
            (ValueRef::Str(b"11"), Some(5_000))
        );
    }

    #[test]
    fn a_remembered_slot_is_checked_against_the_key() {
        let (mut s, h) = shard();
        let (a, b) = (&b"a"[..], &b"b"[..]);
        s.insert_str(h.hash_one(a), a, b"1", None, 0);
        assert!(s.get_mut(h.hash_one(a), a, 0).is_some());
        // "a" goes and "b" takes its slot: a lookup of "a" must not find "b" there.
        s.remove(h.hash_one(a), a, 0);
        s.insert_str(h.hash_one(b), b, b"2", None, 0);
        s.insert_str(h.hash_one(&b"c"[..]), b"c", b"3", None, 0);
        assert!(s.get_mut(h.hash_one(a), a, 0).is_none());
        assert_eq!(
            s.get_mut(h.hash_one(b), b, 0).unwrap().value(),
            ValueRef::Str(b"2")
        );
        // A forged hash with the remembered top half still needs the very key.
        let forged = (h.hash_one(b) & !0xffff_ffff) | 1;
        assert!(s.get_mut(forged, a, 0).is_none());
    }
}
