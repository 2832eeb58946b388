//! maxmemory eviction over the keyspace: sample random slots of random shards, keep the best
//! candidates in a small pool (Redis's evict.c idea), evict the best until enough bytes are
//! freed. One shard lock is held at a time and never together with a command's own locks.
//!
//! Scores: higher is evicted first. LRU: idle seconds; LFU: 255 - decayed counter; TTL:
//! nearer deadline; random: a random number.

use super::{access, Entry, Keyspace, Shard, ShardId};

/// The eviction policies of `maxmemory-policy`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Policy {
    NoEviction,
    AllKeysLru,
    VolatileLru,
    AllKeysLfu,
    VolatileLfu,
    AllKeysRandom,
    VolatileRandom,
    VolatileTtl,
}

impl Policy {
    pub fn parse(name: &str) -> Policy {
        match name {
            "allkeys-lru" => Policy::AllKeysLru,
            "volatile-lru" => Policy::VolatileLru,
            "allkeys-lfu" => Policy::AllKeysLfu,
            "volatile-lfu" => Policy::VolatileLfu,
            "allkeys-random" => Policy::AllKeysRandom,
            "volatile-random" => Policy::VolatileRandom,
            "volatile-ttl" => Policy::VolatileTtl,
            _ => Policy::NoEviction,
        }
    }

    fn volatile_only(self) -> bool {
        matches!(
            self,
            Policy::VolatileLru
                | Policy::VolatileLfu
                | Policy::VolatileRandom
                | Policy::VolatileTtl
        )
    }

    /// The entry's eviction score, or None if the policy may not evict it.
    fn score(self, entry: &Entry, now_ms: u64) -> Option<u64> {
        let deadline = entry.expire_at_ms();
        if self.volatile_only() && deadline.is_none() {
            return None;
        }
        Some(match self {
            Policy::NoEviction => return None,
            Policy::AllKeysLru | Policy::VolatileLru => {
                u64::from(access::idle_secs(entry.access(), now_ms))
            }
            Policy::AllKeysLfu | Policy::VolatileLfu => {
                255 - u64::from(access::lfu_decayed(entry.access(), now_ms).min(255))
            }
            Policy::AllKeysRandom | Policy::VolatileRandom => access::random_u64(),
            Policy::VolatileTtl => u64::MAX - deadline.unwrap_or(u64::MAX),
        })
    }
}

/// Candidates kept between rounds (Redis's EVPOOL_SIZE).
pub const POOL_SIZE: usize = 16;
/// Random shards sampled per eviction round.
const SHARDS_PER_ROUND: usize = 4;
/// Random shard picks tried per round before falling back to visiting every shard.
const PICKS_PER_ROUND: usize = 64;

#[derive(Debug)]
struct Candidate {
    score: u64,
    id: ShardId,
    pos: usize,
    key: Box<[u8]>,
}

/// The best candidates seen so far, sorted by ascending score (best last).
#[derive(Debug, Default)]
pub struct Pool {
    items: Vec<Candidate>,
    policy: Option<Policy>,
}

impl Pool {
    pub const fn new() -> Pool {
        Pool {
            items: Vec::new(),
            policy: None,
        }
    }

    pub fn len(&self) -> usize {
        self.items.len()
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    fn offer(&mut self, score: u64, id: ShardId, pos: usize, entry: &Entry) {
        if self.items.len() == POOL_SIZE && self.items[0].score >= score {
            return;
        }
        if self
            .items
            .iter()
            .any(|c| c.id == id && c.pos == pos && c.key[..] == *entry.key())
        {
            return;
        }
        let at = self.items.partition_point(|c| c.score <= score);
        self.items.insert(
            at,
            Candidate {
                score,
                id,
                pos,
                key: entry.key().into(),
            },
        );
        if self.items.len() > POOL_SIZE {
            self.items.remove(0);
        }
    }

    fn pop_best(&mut self) -> Option<Candidate> {
        self.items.pop()
    }
}

/// Offers up to `samples` random entries of one shard to the pool.
pub fn sample_shard(
    shard: &Shard,
    id: ShardId,
    policy: Policy,
    samples: usize,
    now_ms: u64,
    pool: &mut Pool,
) {
    let slots = shard.slot_count();
    if slots == 0 || (policy.volatile_only() && shard.volatile_len() == 0) {
        return;
    }
    let mut seen = 0;
    for _ in 0..samples.saturating_mul(4) {
        if seen == samples {
            break;
        }
        let pos = (access::random_u64() % slots as u64) as usize;
        let Some(entry) = shard.entry_at(pos) else {
            continue;
        };
        seen += 1;
        if let Some(score) = policy.score(entry, now_ms) {
            pool.offer(score, id, pos, entry);
        }
    }
}

/// A key removed by eviction, for `evicted` notifications.
pub struct Evicted {
    pub db: usize,
    pub key: Box<[u8]>,
}

/// Fills the pool: a few random non-empty shards, or every shard if random picks find none.
fn fill(ks: &Keyspace, policy: Policy, samples: usize, now_ms: u64, pool: &mut Pool) {
    let total = ks.databases() * ks.shards_per_db();
    let mut sampled = 0;
    for _ in 0..PICKS_PER_ROUND {
        let n = (access::random_u64() % total as u64) as usize;
        let id = ShardId {
            db: n / ks.shards_per_db(),
            shard: n % ks.shards_per_db(),
        };
        let shard = ks.lock(id);
        if shard.is_empty() {
            continue;
        }
        sample_shard(&shard, id, policy, samples, now_ms, pool);
        sampled += 1;
        if sampled == SHARDS_PER_ROUND {
            break;
        }
    }
    if pool.is_empty() {
        // Random picks found nothing: walk the slots in order, so that "nothing to evict" is a
        // definite answer (sampling can miss the last few candidates of a mostly-empty slab).
        for id in ks.all_shards() {
            let shard = ks.lock(id);
            if policy.volatile_only() && shard.volatile_len() == 0 {
                continue;
            }
            for pos in 0..shard.slot_count() {
                if let Some(entry) = shard.entry_at(pos) {
                    if let Some(score) = policy.score(entry, now_ms) {
                        pool.offer(score, id, pos, entry);
                    }
                }
            }
            drop(shard);
            if pool.len() >= samples {
                return;
            }
        }
    }
}

/// Evicts keys by `policy` until `to_free` bytes of the keyspace's accounting are released or
/// nothing is evictable. Returns the bytes freed and the keys removed.
pub fn evict(
    ks: &Keyspace,
    policy: Policy,
    samples: usize,
    to_free: usize,
    now_ms: u64,
) -> (usize, Vec<Evicted>) {
    evict_logged(ks, policy, samples, to_free, now_ms, &mut |_, _| {})
}

/// `evict`, calling `log(db, key)` for each removed key while its shard is still held (the AOF
/// logs the deletion there, so it is ordered before any later write to the key).
pub fn evict_logged(
    ks: &Keyspace,
    policy: Policy,
    samples: usize,
    to_free: usize,
    now_ms: u64,
    log: &mut dyn FnMut(usize, &[u8]),
) -> (usize, Vec<Evicted>) {
    let mut freed = 0;
    let mut evicted = Vec::new();
    if policy == Policy::NoEviction {
        return (0, evicted);
    }
    let mut pool = ks.evict_pool.lock();
    if pool.policy != Some(policy) {
        pool.items.clear();
        pool.policy = Some(policy);
    }
    while freed < to_free {
        fill(ks, policy, samples.max(1), now_ms, &mut pool);
        let Some(best) = pool.pop_best() else {
            break;
        };
        let mut shard = ks.lock(best.id);
        let still_there = shard
            .entry_at(best.pos)
            .is_some_and(|e| *e.key() == best.key[..] && policy.score(e, now_ms).is_some());
        if !still_there {
            continue;
        }
        let before = shard.used_bytes();
        if shard.remove_at(best.pos).is_some() {
            shard.stats.evicted += 1;
            freed += before.saturating_sub(shard.used_bytes()).max(1);
            log(best.id.db, &best.key);
            evicted.push(Evicted {
                db: best.id.db,
                key: best.key,
            });
        }
    }
    (freed, evicted)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keyspace::Value;

    fn filled(ks: &Keyspace, n: u32, ttl: impl Fn(u32) -> Option<u64>, now_ms: u64) {
        for i in 0..n {
            let key = format!("k{i}");
            let hash = ks.hash(key.as_bytes());
            let id = ShardId {
                db: 0,
                shard: ks.shard_of(hash),
            };
            ks.lock(id)
                .insert(hash, key.as_bytes(), Value::string(b"v"), ttl(i), now_ms);
        }
    }

    #[test]
    fn pool_keeps_the_best_sorted() {
        let mut pool = Pool::new();
        let id = ShardId { db: 0, shard: 0 };
        for i in 0..40u64 {
            let e = Entry::new_str(format!("k{i}").as_bytes(), b"v", None);
            pool.offer((i * 7) % 40, id, i as usize, &e);
        }
        assert_eq!(pool.len(), POOL_SIZE);
        let scores: Vec<u64> = pool.items.iter().map(|c| c.score).collect();
        assert!(scores.windows(2).all(|w| w[0] <= w[1]));
        assert_eq!(pool.pop_best().map(|c| c.score), Some(39));
    }

    #[test]
    fn volatile_policies_spare_persistent_keys() {
        let ks = Keyspace::new(2, 4);
        filled(&ks, 200, |i| (i % 2 == 0).then_some(1_000_000), 1000);
        let (_, gone) = evict(&ks, Policy::VolatileRandom, 5, usize::MAX, 1000);
        assert_eq!(gone.len(), 100);
        assert_eq!(ks.db_len(0), 100);
        assert_eq!(ks.db_volatile_len(0), 0);
        assert_eq!(ks.stats().evicted, 100);
    }

    #[test]
    fn volatile_ttl_takes_nearest_deadline_first() {
        let ks = Keyspace::new(1, 4);
        filled(&ks, 100, |i| Some(10_000 + u64::from(i)), 1000);
        let (_, gone) = evict(&ks, Policy::VolatileTtl, 64, 1, 1000);
        assert_eq!(gone.len(), 1);
        // 64 samples over 100 keys: the victim is among the nearest deadlines.
        let n: u32 = std::str::from_utf8(&gone[0].key[1..])
            .unwrap()
            .parse()
            .unwrap();
        assert!(n < 40, "evicted k{n}");
    }

    #[test]
    fn noeviction_and_allkeys() {
        let ks = Keyspace::new(1, 4);
        filled(&ks, 50, |_| None, 1000);
        assert_eq!(evict(&ks, Policy::NoEviction, 5, 1, 1000).1.len(), 0);
        assert_eq!(evict(&ks, Policy::VolatileLru, 5, 1, 1000).1.len(), 0);
        let (freed, gone) = evict(&ks, Policy::AllKeysLru, 5, usize::MAX, 1000);
        assert_eq!(gone.len(), 50);
        assert!(freed > 0);
        assert!(ks.db_len(0) == 0);
    }

    #[test]
    fn lru_prefers_idle_keys() {
        let ks = Keyspace::new(1, 1);
        filled(&ks, 20, |_| None, 1_000);
        // Touch every key but k0 much later.
        let later = 100_000;
        for i in 1..20 {
            let key = format!("k{i}");
            let hash = ks.hash(key.as_bytes());
            ks.lock(ShardId { db: 0, shard: 0 })
                .get_read(hash, key.as_bytes(), later);
        }
        let (_, gone) = evict(&ks, Policy::AllKeysLru, 64, 1, later);
        assert_eq!(&gone[0].key[..], b"k0");
    }
}
