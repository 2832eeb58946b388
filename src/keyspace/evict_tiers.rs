//! Eviction tiers (beyond Redis): `maxmemory-evict-first` lists databases (`db<N>`) and key
//! prefixes whose keys are evicted before any other key is considered, so a cache (`db1`,
//! `ormcache:`) absorbs memory pressure while sessions in the same server survive. The policy
//! still orders keys inside the tier.
//!
//! Finding tier keys must not depend on luck when they are a small part of a big keyspace:
//! - a database tier needs nothing extra: every slot of its shards is a tier key;
//! - prefix tiers are tracked per shard by `TierSlots`: the slot numbers of the shard's keys
//!   that start with a tier prefix, kept on insert (one relaxed atomic load when no prefix is
//!   configured) and cleaned lazily: a slot whose key went away is dropped when a sample meets it,
//!   and the list is compacted when it holds twice as many slots as live tier keys. A global
//!   counter of tier-key inserts lets eviction skip the prefix tier after a complete walk found
//!   it empty, until some tier key is stored again.
//!
//! The rules carry a generation; a shard whose list was built under other rules ignores inserts
//! and is rebuilt by a scan of its slots the next time eviction samples it.

use super::{Entry, Shard};
use parking_lot::RwLock;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

/// The parsed value of `maxmemory-evict-first`.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Rules {
    /// Databases whose every key is in the tier.
    pub dbs: Vec<usize>,
    /// Key prefixes (in any database) whose keys are in the tier.
    pub prefixes: Vec<Box<[u8]>>,
}

impl Rules {
    /// Words `db<N>` name databases; any other word is a key prefix.
    pub fn parse(value: &str) -> Rules {
        let mut rules = Rules::default();
        for word in value.split(' ').filter(|w| !w.is_empty()) {
            match word
                .strip_prefix("db")
                .filter(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
                .and_then(|n| n.parse::<usize>().ok())
            {
                Some(db) => {
                    if !rules.dbs.contains(&db) {
                        rules.dbs.push(db);
                    }
                }
                None => rules.prefixes.push(word.as_bytes().into()),
            }
        }
        rules
    }

    pub fn is_empty(&self) -> bool {
        self.dbs.is_empty() && self.prefixes.is_empty()
    }

    pub fn has_db(&self, db: usize) -> bool {
        self.dbs.contains(&db)
    }

    pub fn prefix_match(&self, key: &[u8]) -> bool {
        self.prefixes.iter().any(|p| key.starts_with(p))
    }

    /// Whether a key of database `db` is in the tier.
    pub fn contains(&self, db: usize, key: &[u8]) -> bool {
        self.has_db(db) || self.prefix_match(key)
    }
}

/// The tier in force (maxmemory-evict-first) and its counters: one per keyspace, shared by
/// its shards.
#[derive(Debug)]
pub struct TierConfig {
    generation: AtomicU64,
    rules: RwLock<Option<Arc<Rules>>>,
    /// True while some prefix is configured: the only thing inserts look at otherwise.
    prefixes_active: AtomicBool,
    /// Prefix-tier keys stored so far (only ever grows; see `inserts`).
    inserts: AtomicU64,
    /// Keys evicted from the tier (INFO `evicted_keys_tier_first`).
    evicted: AtomicU64,
}

impl Default for TierConfig {
    fn default() -> Self {
        TierConfig {
            generation: AtomicU64::new(1),
            rules: RwLock::new(None),
            prefixes_active: AtomicBool::new(false),
            inserts: AtomicU64::new(0),
            evicted: AtomicU64::new(0),
        }
    }
}

impl TierConfig {
    /// Sets the rules from the option's value (called whenever the configuration changes).
    pub fn configure(&self, value: &str) {
        let rules = Rules::parse(value);
        let mut current = self.rules.write();
        if current.as_deref().unwrap_or(&Rules::default()) == &rules {
            return;
        }
        self.prefixes_active
            .store(!rules.prefixes.is_empty(), Ordering::Release);
        *current = (!rules.is_empty()).then(|| Arc::new(rules));
        // Every shard's list is stale from here on: eviction rebuilds them.
        self.generation.fetch_add(1, Ordering::AcqRel);
    }

    /// The rules in force and their generation, or None when no tier is configured.
    pub fn current(&self) -> Option<(Arc<Rules>, u64)> {
        let rules = self.rules.read();
        let generation = self.generation.load(Ordering::Acquire);
        rules.clone().map(|r| (r, generation))
    }

    /// How many prefix-tier keys have been stored: if it has not changed since a walk found
    /// the tier empty, the tier is still empty.
    pub fn inserts(&self) -> u64 {
        self.inserts.load(Ordering::Acquire)
    }

    pub fn note_evicted(&self) {
        self.evicted.fetch_add(1, Ordering::Relaxed);
    }

    pub fn evicted(&self) -> u64 {
        self.evicted.load(Ordering::Relaxed)
    }

    /// CONFIG RESETSTAT.
    pub fn reset_stats(&self) {
        self.evicted.store(0, Ordering::Relaxed);
    }
}

/// One shard's prefix-tier keys: slot numbers (possibly stale or repeated, see the module
/// comment) and the live count.
#[derive(Debug, Default)]
pub struct TierSlots {
    /// The rules generation the list was built under (0: never built).
    generation: u64,
    slots: Vec<u32>,
    live: usize,
}

impl TierSlots {
    fn is_current(&self, config: &TierConfig) -> bool {
        self.generation != 0 && self.generation == config.generation.load(Ordering::Acquire)
    }

    /// A key was removed from the shard.
    #[inline]
    pub fn note_remove(&mut self, config: &TierConfig, key: &[u8]) {
        if config.prefixes_active.load(Ordering::Relaxed) {
            self.remove_slow(config, key);
        }
    }

    #[cold]
    fn remove_slow(&mut self, config: &TierConfig, key: &[u8]) {
        if !self.is_current(config) {
            return;
        }
        let matched = config
            .rules
            .read()
            .as_ref()
            .is_some_and(|r| r.prefix_match(key));
        if matched {
            self.live = self.live.saturating_sub(1);
        }
    }

    /// The shard emptied itself in one go (flush, last key gone).
    pub fn clear(&mut self) {
        self.slots = Vec::new();
        self.live = 0;
    }

    pub fn live(&self, config: &TierConfig) -> usize {
        if self.is_current(config) {
            self.live
        } else {
            0
        }
    }
}

/// A key was stored at slot `id` of `shard` (called by `Shard::insert_entry`).
#[inline]
pub fn note_insert(shard: &mut Shard, id: u32) {
    if shard.tunables.tiers.prefixes_active.load(Ordering::Relaxed) {
        insert_slow(shard, id);
    }
}

#[cold]
fn insert_slow(shard: &mut Shard, id: u32) {
    let tunables = shard.tunables.clone();
    let config = &tunables.tiers;
    if !shard.evict_tier.is_current(config) {
        return;
    }
    let matched = {
        let rules = config.rules.read();
        let key = shard.entry_at(id as usize).map(Entry::key);
        matches!((rules.as_ref(), key), (Some(r), Some(k)) if r.prefix_match(k))
    };
    if !matched {
        return;
    }
    let tier = &mut shard.evict_tier;
    tier.slots.push(id);
    tier.live += 1;
    config.inserts.fetch_add(1, Ordering::Release);
    if tier.slots.len() > 2 * tier.live + 64 {
        if let Some(rules) = config.rules.read().clone() {
            compact(shard, &rules);
        }
    }
}

/// Rebuilds a stale list by a scan of the shard's slots (after the rules changed).
pub fn refresh(shard: &mut Shard, rules: &Rules, generation: u64) {
    if shard.evict_tier.generation == generation {
        return;
    }
    let slots: Vec<u32> = (0..shard.slot_count())
        .filter(|&pos| {
            shard
                .entry_at(pos)
                .is_some_and(|e| rules.prefix_match(e.key()))
        })
        .map(|pos| pos as u32)
        .collect();
    let live = slots.len();
    if live > 0 {
        shard.tunables.tiers.inserts.fetch_add(1, Ordering::Release);
    }
    shard.evict_tier = TierSlots {
        generation,
        slots,
        live,
    };
}

/// A random slot from the shard's list that still holds a tier key; stale slots met on the way
/// are dropped. None when the list is empty (or only `tries` stale slots were met).
pub fn random_slot(shard: &mut Shard, rules: &Rules, tries: usize) -> Option<usize> {
    for _ in 0..tries {
        let len = shard.evict_tier.slots.len();
        if len == 0 {
            return None;
        }
        let at = (super::access::random_u64() % len as u64) as usize;
        let pos = shard.evict_tier.slots[at] as usize;
        if shard
            .entry_at(pos)
            .is_some_and(|e| rules.prefix_match(e.key()))
        {
            return Some(pos);
        }
        shard.evict_tier.slots.swap_remove(at);
    }
    None
}

/// Every slot of the list that holds a tier key (the conclusive walk when sampling finds none).
pub fn all_slots(shard: &mut Shard, rules: &Rules) -> Vec<usize> {
    compact(shard, rules);
    shard.evict_tier.slots.iter().map(|&p| p as usize).collect()
}

/// Drops slots that no longer hold a tier key, and repeats.
fn compact(shard: &mut Shard, rules: &Rules) {
    let mut tier = std::mem::take(&mut shard.evict_tier);
    tier.slots.sort_unstable();
    tier.slots.dedup();
    tier.slots.retain(|&pos| {
        shard
            .entry_at(pos as usize)
            .is_some_and(|e| rules.prefix_match(e.key()))
    });
    shard.evict_tier = tier;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_databases_and_prefixes() {
        let rules = Rules::parse("db1 ormcache:  db12 dbx db db1");
        assert_eq!(rules.dbs, vec![1, 12]);
        assert_eq!(
            rules.prefixes,
            vec![
                b"ormcache:".as_slice().into(),
                b"dbx".as_slice().into(),
                b"db".as_slice().into()
            ]
        );
        assert!(rules.contains(1, b"session:1"));
        assert!(rules.contains(0, b"ormcache:x"));
        assert!(!rules.contains(0, b"session:1"));
        assert!(Rules::parse("").is_empty());
    }
}
