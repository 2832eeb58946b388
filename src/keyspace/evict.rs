//! maxmemory eviction over the keyspace: sample random slots of random shards, keep the best
//! candidates in a small pool (Redis's evict.c idea), evict the best until enough bytes are
//! freed. One shard lock is held at a time and never together with a command's own locks.
//!
//! Scores: higher is evicted first. LRU: idle seconds; LFU: 255 - decayed counter; TTL:
//! nearer deadline; random: a random number.

use super::evict_tiers::{self, Rules};
use super::{access, Entry, Keyspace, Shard, ShardId};

/// The eviction policies of `maxmemory-policy`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
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
    fn score(self, lfu: &access::LfuParams, entry: &Entry, now_ms: u64) -> Option<u64> {
        if self == Policy::NoEviction {
            return None;
        }
        if !self.volatile_only() {
            return Some(self.stamp_score(lfu, entry.access(), now_ms));
        }
        let deadline = entry.expire_at_ms()?;
        Some(match self {
            Policy::VolatileTtl => u64::MAX - deadline,
            _ => self.stamp_score(lfu, entry.access(), now_ms),
        })
    }

    /// The score of a key with access word `stamp` under an LRU, LFU or random policy (whether
    /// a volatile policy may evict the key at all is for `score` to say).
    fn stamp_score(self, lfu: &access::LfuParams, stamp: u32, now_ms: u64) -> u64 {
        match self {
            Policy::AllKeysLru | Policy::VolatileLru => u64::from(access::idle_secs(stamp, now_ms)),
            Policy::AllKeysLfu | Policy::VolatileLfu => {
                255 - u64::from(access::lfu_decayed(lfu, stamp, now_ms).min(255))
            }
            _ => access::random_u64(),
        }
    }
}

/// Candidates kept between rounds (Redis's EVPOOL_SIZE).
pub const POOL_SIZE: usize = 16;
/// Random shards sampled per eviction round of the tier (the general round samples one shard:
/// `maxmemory-samples` keys per eviction, as Redis samples per database).
const SHARDS_PER_ROUND: usize = 4;
/// How long the list of databases holding keys is trusted before it is recounted.
const NONEMPTY_REFRESH_MS: u64 = 100;
/// Random shard picks tried per round before falling back to visiting every shard.
const PICKS_PER_ROUND: usize = 64;
/// Keys evicted between two looks at the clock (Redis checks its time limit every 16).
const KEYS_PER_CLOCK_CHECK: usize = 16;
/// How long the tier is skipped after a full walk found tier keys but none the policy may
/// evict (volatile-* over a tier without TTLs), so each eviction does not walk it again.
const TIER_IDLE_MS: u64 = 100;

/// A key chosen for eviction, named by its slot and the access word it had when scored: the
/// slot still holding an entry with that word when its turn comes is the key, or one that
/// scores exactly the same (Redis looks its pool's keys up by name; a slot and a 4-byte word
/// need neither a key copy per candidate nor a read of every sampled entry).
#[derive(Debug)]
struct Candidate {
    score: u64,
    id: ShardId,
    pos: usize,
    stamp: u32,
}

/// Candidates sorted by ascending score (best last), at most POOL_SIZE.
#[derive(Debug, Default)]
struct Candidates {
    items: Vec<Candidate>,
}

impl Candidates {
    fn offer(&mut self, score: u64, id: ShardId, pos: usize, stamp: u32) {
        if self.items.len() == POOL_SIZE && self.items[0].score >= score {
            return;
        }
        if let Some(i) = self.items.iter().position(|c| c.id == id && c.pos == pos) {
            if self.items[i].stamp == stamp {
                return;
            }
            // The slot's key was touched (or replaced) since: its old score is stale.
            self.items.remove(i);
        }
        let at = self.items.partition_point(|c| c.score <= score);
        self.items.insert(
            at,
            Candidate {
                score,
                id,
                pos,
                stamp,
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

/// The best candidates seen so far, kept between evictions as Redis keeps its pool: one set
/// for the `maxmemory-evict-first` tier, one for every key.
#[derive(Debug, Default)]
pub struct Pool {
    general: Candidates,
    tier: Candidates,
    policy: Option<Policy>,
    /// The tier rules generation the tier candidates were chosen under.
    tier_generation: u64,
    /// Until when the tier is skipped (see TIER_IDLE_MS).
    tier_idle_until_ms: u64,
    /// `evict_tiers::inserts()` when a complete walk last found the prefix tier empty.
    prefix_empty_at: Option<u64>,
    /// Databases that held keys when last counted, so random shard picks skip the empty ones
    /// (with one database in use, 15 of 16 random picks would lock an empty shard).
    nonempty_dbs: Vec<usize>,
    nonempty_counted_at_ms: Option<u64>,
    /// Average bytes freed per victim in the last batch (0: no batch yet), to size the next.
    bytes_per_victim: usize,
}

impl Pool {
    pub const fn new() -> Pool {
        Pool {
            general: Candidates { items: Vec::new() },
            tier: Candidates { items: Vec::new() },
            policy: None,
            tier_generation: 0,
            tier_idle_until_ms: 0,
            prefix_empty_at: None,
            nonempty_dbs: Vec::new(),
            nonempty_counted_at_ms: None,
            bytes_per_victim: 0,
        }
    }

    /// The databases holding keys, recounted when the last count is older than
    /// NONEMPTY_REFRESH_MS (or the clock went back).
    fn count_nonempty_dbs(&mut self, ks: &Keyspace, now_ms: u64) {
        let fresh = self
            .nonempty_counted_at_ms
            .is_some_and(|at| now_ms >= at && now_ms - at < NONEMPTY_REFRESH_MS);
        if !fresh {
            self.nonempty_dbs.clear();
            self.nonempty_dbs
                .extend((0..ks.databases()).filter(|&db| ks.db_len(db) > 0));
            self.nonempty_counted_at_ms = Some(now_ms);
        }
    }

    pub fn len(&self) -> usize {
        self.general.items.len()
    }

    pub fn is_empty(&self) -> bool {
        self.general.items.is_empty()
    }
}

/// A uniform random slot position below `slots` (a multiply instead of a division).
fn random_pos(slots: usize) -> usize {
    ((u128::from(access::random_u64()) * slots as u128) >> 64) as usize
}

/// A uniform random shard of the databases `dbs` (not empty).
fn random_shard(dbs: &[usize], per_db: usize) -> ShardId {
    let n = random_pos(dbs.len() * per_db);
    ShardId {
        db: dbs[n / per_db],
        shard: n % per_db,
    }
}

/// Offers up to `samples` random entries of one shard to the candidates. All-keys policies
/// score from each entry's access word; volatile ones also read its deadline.
fn sample_shard(
    shard: &Shard,
    id: ShardId,
    policy: Policy,
    samples: usize,
    now_ms: u64,
    into: &mut Candidates,
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
        let pos = random_pos(slots);
        if policy.volatile_only() {
            let Some(entry) = shard.entry_at(pos) else {
                continue;
            };
            seen += 1;
            if let Some(score) = policy.score(&shard.tunables.lfu, entry, now_ms) {
                into.offer(score, id, pos, entry.access());
            }
        } else {
            // 0 is an empty slot (or a key never stamped, which the conclusive walk still finds).
            let stamp = shard.stamp_at(pos);
            if stamp == 0 {
                continue;
            }
            seen += 1;
            into.offer(
                policy.stamp_score(&shard.tunables.lfu, stamp, now_ms),
                id,
                pos,
                stamp,
            );
        }
    }
}

/// Offers every entry of a shard (the conclusive walk).
fn offer_all(shard: &Shard, id: ShardId, policy: Policy, now_ms: u64, into: &mut Candidates) {
    if policy.volatile_only() && shard.volatile_len() == 0 {
        return;
    }
    for pos in 0..shard.slot_count() {
        if let Some(entry) = shard.entry_at(pos) {
            if let Some(score) = policy.score(&shard.tunables.lfu, entry, now_ms) {
                into.offer(score, id, pos, entry.access());
            }
        }
    }
}

/// A key removed by eviction, for `evicted` notifications.
pub struct Evicted {
    pub db: usize,
    pub key: Box<[u8]>,
}

/// Fills the candidates with `samples` random keys of one random non-empty shard of a database
/// that holds keys, or with every shard's keys if random picks find none.
fn fill(
    ks: &Keyspace,
    dbs: &[usize],
    policy: Policy,
    samples: usize,
    now_ms: u64,
    into: &mut Candidates,
) {
    if !dbs.is_empty() {
        for _ in 0..PICKS_PER_ROUND {
            let id = random_shard(dbs, ks.shards_per_db());
            let shard = ks.lock(id);
            if shard.is_empty() {
                continue;
            }
            sample_shard(&shard, id, policy, samples, now_ms, into);
            break;
        }
    }
    if into.items.is_empty() {
        // Random picks found nothing: walk the slots in order, so that "nothing to evict" is a
        // definite answer (sampling can miss the last few candidates of a mostly-empty slab,
        // and the list of databases may be up to NONEMPTY_REFRESH_MS old).
        for id in ks.all_shards() {
            offer_all(&ks.lock(id), id, policy, now_ms, into);
            if into.items.len() >= samples {
                return;
            }
        }
    }
}

/// Offers up to `samples` random keys of one shard's prefix-tier list.
fn sample_tier_slots(
    shard: &mut Shard,
    id: ShardId,
    rules: &Rules,
    policy: Policy,
    samples: usize,
    now_ms: u64,
    into: &mut Candidates,
) {
    for _ in 0..samples {
        let Some(pos) = evict_tiers::random_slot(shard, rules, samples) else {
            return;
        };
        let entry = shard.entry_at(pos).expect("random_slot checked it");
        if let Some(score) = policy.score(&shard.tunables.lfu, entry, now_ms) {
            into.offer(score, id, pos, entry.access());
        }
    }
}

/// Fills the tier candidates: random shards of the tier databases and random keys of the
/// shards' prefix lists; if that finds nothing, every tier key is visited, so that "the tier
/// is empty" is a definite answer. Returns whether the tier holds any key (evictable or not).
fn fill_tier(
    ks: &Keyspace,
    rules: &Rules,
    policy: Policy,
    samples: usize,
    now_ms: u64,
    into: &mut Candidates,
    prefix_empty_at: &mut Option<u64>,
) -> bool {
    let per_db = ks.shards_per_db();
    let dbs: Vec<usize> = rules
        .dbs
        .iter()
        .copied()
        .filter(|&db| db < ks.databases())
        .collect();
    let inserts = ks.tunables.tiers.inserts();
    let prefixes = !rules.prefixes.is_empty() && *prefix_empty_at != Some(inserts);
    if dbs.is_empty() && !prefixes {
        return false;
    }
    // With prefixes any shard may hold tier keys; otherwise only the tier databases' shards.
    let choices = if prefixes {
        ks.databases() * per_db
    } else {
        dbs.len() * per_db
    };
    let mut sampled = 0;
    for _ in 0..PICKS_PER_ROUND {
        let n = (access::random_u64() % choices as u64) as usize;
        let id = ShardId {
            db: if prefixes {
                n / per_db
            } else {
                dbs[n / per_db]
            },
            shard: n % per_db,
        };
        let mut shard = ks.lock(id);
        if rules.has_db(id.db) {
            if shard.is_empty() {
                continue;
            }
            sample_shard(&shard, id, policy, samples, now_ms, into);
        } else if shard.evict_tier.live(&shard.tunables.tiers) > 0 {
            sample_tier_slots(&mut shard, id, rules, policy, samples, now_ms, into);
        } else {
            continue;
        }
        sampled += 1;
        if sampled == SHARDS_PER_ROUND {
            break;
        }
    }
    if !into.items.is_empty() {
        return true;
    }
    let mut holds = sampled > 0;
    for &db in &dbs {
        for shard in 0..per_db {
            let id = ShardId { db, shard };
            let shard = ks.lock(id);
            holds |= !shard.is_empty();
            offer_all(&shard, id, policy, now_ms, into);
            if into.items.len() >= samples {
                return true;
            }
        }
    }
    if prefixes {
        let live = walk_prefix_tier(ks, rules, policy, samples, now_ms, into);
        if live == 0 {
            *prefix_empty_at = Some(inserts);
        }
        holds |= live > 0;
    }
    holds
}

/// Offers the prefix-tier keys of every shard in order, until `samples` candidates are found.
/// Returns the tier keys it met.
fn walk_prefix_tier(
    ks: &Keyspace,
    rules: &Rules,
    policy: Policy,
    samples: usize,
    now_ms: u64,
    into: &mut Candidates,
) -> usize {
    let mut live = 0;
    for id in ks.all_shards() {
        if rules.has_db(id.db) {
            continue;
        }
        let mut shard = ks.lock(id);
        if shard.evict_tier.live(&shard.tunables.tiers) == 0 {
            continue;
        }
        live += shard.evict_tier.live(&shard.tunables.tiers);
        for pos in evict_tiers::all_slots(&mut shard, rules) {
            let entry = shard.entry_at(pos).expect("all_slots checked it");
            if let Some(score) = policy.score(&shard.tunables.lfu, entry, now_ms) {
                into.offer(score, id, pos, entry.access());
            }
        }
        if into.items.len() >= samples {
            break;
        }
    }
    live
}

/// Rebuilds every shard's prefix-tier list after the rules changed.
fn refresh_tier_lists(ks: &Keyspace, rules: &Rules, generation: u64) {
    if rules.prefixes.is_empty() {
        return;
    }
    for id in ks.all_shards() {
        evict_tiers::refresh(&mut ks.lock(id), rules, generation);
    }
}

/// What one eviction call did.
#[derive(Default)]
pub struct Outcome {
    /// Bytes of the keyspace's accounting released.
    pub freed: usize,
    /// The keys removed, for `evicted` notifications.
    pub evicted: Vec<Evicted>,
    /// The time limit ended the call before `to_free` was reached (more may be evictable).
    pub timed_out: bool,
}

/// What to evict and how long to try.
pub struct Request {
    pub policy: Policy,
    pub samples: usize,
    /// Bytes of the keyspace's accounting to release.
    pub to_free: usize,
    /// Bytes to release past `to_free` when victims are chosen among every key: evictions then
    /// come in batches, whose memory reads overlap and which take each shard's lock once,
    /// instead of one key per write. Not freeing them is no failure.
    pub slack: usize,
    pub now_ms: u64,
    /// Stop (with `timed_out`) once this instant has passed; None: no limit.
    pub deadline: Option<std::time::Instant>,
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
    let request = Request {
        policy,
        samples,
        to_free,
        slack: 0,
        now_ms,
        deadline: None,
    };
    let outcome = evict_logged(ks, &request, &mut |_, _| {});
    (outcome.freed, outcome.evicted)
}

/// The next victim of the `maxmemory-evict-first` tier, if the tier is configured and has one.
fn tier_victim(
    ks: &Keyspace,
    pool: &mut Pool,
    rules: &Rules,
    request: &Request,
) -> Option<Candidate> {
    let now_ms = request.now_ms;
    if now_ms < pool.tier_idle_until_ms {
        return None;
    }
    let holds = fill_tier(
        ks,
        rules,
        request.policy,
        request.samples.max(1),
        now_ms,
        &mut pool.tier,
        &mut pool.prefix_empty_at,
    );
    let best = pool.tier.pop_best();
    if best.is_none() && holds {
        // Tier keys exist but the policy may evict none of them.
        pool.tier_idle_until_ms = now_ms + TIER_IDLE_MS;
    }
    best
}

/// Chooses up to `want` victims among every key, one sampling round of `maxmemory-samples`
/// keys and one pool pop each, as Redis does per eviction. The rounds' shards are drawn first;
/// each shard drawn is locked once for all its rounds. (Prefetching the rounds' stamps as well
/// measured no gain: the sampling loop's independent reads already overlap.)
fn general_victims(
    ks: &Keyspace,
    pool: &mut Pool,
    request: &Request,
    want: usize,
) -> Vec<Candidate> {
    let (policy, samples, now_ms) = (request.policy, request.samples.max(1), request.now_ms);
    pool.count_nonempty_dbs(ks, now_ms);
    let mut victims = Vec::with_capacity(want);
    let dbs = &pool.nonempty_dbs;
    let picks_wanted = if dbs.is_empty() { 0 } else { want };
    let mut picks: Vec<ShardId> = (0..picks_wanted)
        .map(|_| random_shard(dbs, ks.shards_per_db()))
        .collect();
    picks.sort_unstable();
    for same_shard in picks.chunk_by(|a, b| a == b) {
        let id = same_shard[0];
        let shard = ks.lock(id);
        if shard.is_empty() {
            continue;
        }
        for _ in 0..same_shard.len() {
            sample_shard(&shard, id, policy, samples, now_ms, &mut pool.general);
            if let Some(best) = pool.general.pop_best() {
                victims.push(best);
            }
        }
    }
    // Rounds whose shard was empty: one at a time, with `fill`'s conclusive walk.
    while victims.len() < want {
        fill(
            ks,
            &pool.nonempty_dbs,
            policy,
            samples,
            now_ms,
            &mut pool.general,
        );
        match pool.general.pop_best() {
            Some(best) => victims.push(best),
            None => break,
        }
    }
    victims
}

/// What removing victims needs besides the victims: the request, the tier rules (to count tier
/// evictions and re-check tier victims), and the AOF logger.
struct Remover<'a> {
    ks: &'a Keyspace,
    request: &'a Request,
    rules: Option<&'a Rules>,
    log: &'a mut dyn FnMut(usize, &[u8]),
}

impl Remover<'_> {
    /// Removes the victim in slot `victim.pos` of the held shard if it is still the key (or one
    /// scoring the same) and the policy may still evict it. Returns the bytes freed.
    fn remove(
        &mut self,
        shard: &mut Shard,
        victim: &Candidate,
        from_tier: bool,
        outcome: &mut Outcome,
    ) -> usize {
        let (policy, now_ms, db) = (self.request.policy, self.request.now_ms, victim.id.db);
        let rules = self.rules;
        let still_there = shard.entry_at(victim.pos).is_some_and(|e| {
            e.access() == victim.stamp
                && policy.score(&shard.tunables.lfu, e, now_ms).is_some()
                && (!from_tier || rules.is_some_and(|r| r.contains(db, e.key())))
        });
        if !still_there {
            return 0;
        }
        let before = shard.used_bytes();
        let Some(entry) = shard.remove_at(victim.pos) else {
            return 0;
        };
        shard.stats.evicted += 1;
        let freed = before.saturating_sub(shard.used_bytes()).max(1);
        (self.log)(db, entry.key());
        if rules.is_some_and(|r| r.contains(db, entry.key())) {
            self.ks.tunables.tiers.note_evicted();
        }
        outcome.evicted.push(Evicted {
            db,
            key: entry.key().into(),
        });
        outcome.freed += freed;
        freed
    }

    fn out_of_time(&self, outcome: &Outcome) -> bool {
        outcome.evicted.len().is_multiple_of(KEYS_PER_CLOCK_CHECK)
            && self
                .request
                .deadline
                .is_some_and(|d| std::time::Instant::now() >= d)
    }

    /// Removes a batch of victims shard by shard, one lock each, until `outcome.freed` reaches
    /// `target`. The slots, then the entries of a shard's victims are prefetched before any is
    /// removed, so their cache misses overlap instead of queueing one victim after another.
    /// Returns false when the time limit stopped it.
    fn remove_batch(
        &mut self,
        victims: &mut [Candidate],
        target: usize,
        outcome: &mut Outcome,
    ) -> bool {
        victims.sort_unstable_by_key(|v| (v.id, v.pos));
        for group in victims.chunk_by(|a, b| a.id == b.id) {
            let mut shard = self.ks.lock(group[0].id);
            for v in group {
                shard.prefetch_slot(v.pos);
            }
            for v in group {
                if let Some(entry) = shard.entry_at(v.pos) {
                    entry.prefetch();
                }
            }
            for (i, v) in group.iter().enumerate() {
                if outcome.freed >= target {
                    return true;
                }
                // A victim chosen twice in one batch: the first removal took it.
                if i > 0 && group[i - 1].pos == v.pos {
                    continue;
                }
                if self.remove(&mut shard, v, false, outcome) > 0 && self.out_of_time(outcome) {
                    return false;
                }
            }
        }
        true
    }
}

/// Victims per batch at most: a batch holds each shard's lock for its victims only.
const MAX_BATCH: usize = 64;

/// `evict`, calling `log(db, key)` for each removed key while its shard is still held (the AOF
/// logs the deletion there, so it is ordered before any later write to the key).
pub fn evict_logged(
    ks: &Keyspace,
    request: &Request,
    log: &mut dyn FnMut(usize, &[u8]),
) -> Outcome {
    let mut outcome = Outcome::default();
    let policy = request.policy;
    if policy == Policy::NoEviction {
        return outcome;
    }
    let mut pool = ks.evict_pool.lock();
    if pool.policy != Some(policy) {
        *pool = Pool::new();
        pool.policy = Some(policy);
    }
    let tier = ks.tunables.tiers.current();
    if let Some((rules, generation)) = &tier {
        if pool.tier_generation != *generation {
            pool.tier = Candidates::default();
            pool.tier_generation = *generation;
            pool.tier_idle_until_ms = 0;
            pool.prefix_empty_at = None;
            refresh_tier_lists(ks, rules, *generation);
        }
    }
    let rules = tier.as_ref().map(|(r, _)| &**r);
    let mut remover = Remover {
        ks,
        request,
        rules,
        log,
    };
    let target = request.to_free.saturating_add(request.slack);
    while outcome.freed < request.to_free {
        if let Some(victim) = rules.and_then(|r| tier_victim(ks, &mut pool, r, request)) {
            let mut shard = ks.lock(victim.id);
            if remover.remove(&mut shard, &victim, true, &mut outcome) > 0 {
                drop(shard);
                if remover.out_of_time(&outcome) {
                    outcome.timed_out = outcome.freed < request.to_free;
                    break;
                }
            }
            continue;
        }
        // Every key: as many victims as the bytes still wanted need, at the size the last
        // batch's keys had (one victim while that is unknown).
        let wanted = target - outcome.freed;
        let want = match pool.bytes_per_victim {
            0 => 1,
            per => wanted.div_ceil(per).clamp(1, MAX_BATCH),
        };
        let mut victims = general_victims(ks, &mut pool, request, want);
        if victims.is_empty() {
            break;
        }
        let (freed, evicted) = (outcome.freed, outcome.evicted.len());
        let in_time = remover.remove_batch(&mut victims, target, &mut outcome);
        if outcome.evicted.len() > evicted {
            pool.bytes_per_victim = (outcome.freed - freed) / (outcome.evicted.len() - evicted);
        }
        if !in_time {
            outcome.timed_out = outcome.freed < request.to_free;
            break;
        }
    }
    outcome
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
    fn every_policy_name_parses_to_its_own_policy() {
        let mut seen = Vec::new();
        for name in [
            "noeviction",
            "allkeys-lru",
            "volatile-lru",
            "allkeys-lfu",
            "volatile-lfu",
            "allkeys-random",
            "volatile-random",
            "volatile-ttl",
        ] {
            let policy = Policy::parse(name);
            assert!(!seen.contains(&policy), "{name}");
            seen.push(policy);
        }
        assert_ne!(Policy::parse("allkeys-lru"), Policy::NoEviction);
    }

    #[test]
    fn pool_keeps_the_best_sorted() {
        let mut pool = Candidates::default();
        let id = ShardId { db: 0, shard: 0 };
        let arena = crate::keyspace::entry_arena::Arena::new();
        for i in 0..40u64 {
            let e = Entry::new_str(format!("k{i}").as_bytes(), b"v", None, &arena);
            pool.offer((i * 7) % 40, id, i as usize, e.access());
        }
        assert_eq!(pool.items.len(), POOL_SIZE);
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
        // Samples are drawn with replacement: 64 draws over 20 keys miss k0 3.7% of the time,
        // 1000 draws practically never, so the test is about the choice, not the draw.
        let (_, gone) = evict(&ks, Policy::AllKeysLru, 1000, 1, later);
        assert_eq!(&gone[0].key[..], b"k0");
    }

    #[test]
    fn tier_keys_go_first() {
        let ks = Keyspace::new(2, 4);
        let put = |db: usize, key: &str| {
            let hash = ks.hash(key.as_bytes());
            let id = ShardId {
                db,
                shard: ks.shard_of(hash),
            };
            ks.lock(id)
                .insert(hash, key.as_bytes(), Value::string(b"v"), None, 1000);
        };
        for i in 0..100 {
            put(0, &format!("session:{i}"));
        }
        ks.tunables.tiers.configure("db1 tiercache:");
        for i in 0..40 {
            put(0, &format!("tiercache:{i}"));
            put(1, &format!("c{i}"));
        }
        let before = ks.tunables.tiers.evicted();
        for n in 0..80 {
            let (_, gone) = evict(&ks, Policy::AllKeysRandom, 5, 1, 1000);
            let victim = &gone[0];
            assert!(
                victim.db == 1 || victim.key.starts_with(b"tiercache:"),
                "eviction {n} took a key outside the tier"
            );
        }
        assert!(ks.tunables.tiers.evicted() - before >= 80);
        let (_, gone) = evict(&ks, Policy::AllKeysRandom, 5, 1, 1000);
        assert!(gone[0].key.starts_with(b"session:"));
    }
}
