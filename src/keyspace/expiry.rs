//! Active expiry: reclaim keys whose deadline passed even if nobody reads them.
//!
//! Lazy expiry (every lookup checks the deadline first, see `Shard::get_mut`) keeps expired keys
//! invisible; this cycle gives their memory back. Redis samples 20 random volatile keys per
//! loop and stops when fewer than 10% were expired, so a large batch of dead keys is reclaimed
//! slowly and unpredictably. We sweep instead: each shard walks its slab in order, in bounded
//! steps, and only when a deadline it has seen has been reached (`Shard::sweep_due`). A pass
//! over a shard therefore finds every expired key, and the time to reclaim N dead keys is N
//! divided by the sweep rate, bounded by the CPU budget: at most `EXPIRE_CYCLE_CPU_PERCENT` of
//! one core, as in Redis. See docs/expiry.md for measurements.

use super::{Keyspace, ShardId};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

thread_local! {
    /// Set while a command of the replication link (the primary's stream) runs on this thread.
    static PRIMARY_VIEW: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// How expired keys are treated: set by the keyspace's owners (the config, the AOF, client
/// tracking, replication, CLIENT PAUSE) and read by every shard of one keyspace.
#[derive(Debug, Default)]
pub struct ExpirySwitches {
    /// While a CLIENT PAUSE is in force (until this unix ms; 0: none), expired keys are not
    /// deleted: reads find them missing and leave them for after the pause (see `crate::pause`).
    deletions_paused_until: AtomicU64,
    /// Shards keep the names of expired keys for `expired` keyspace events (from the
    /// notify-keyspace-events option; off by default so expiry costs nothing extra).
    record_expired_keys: AtomicBool,
    /// ... for the AOF and the replication stream (they log their deletion).
    log_expired_keys: AtomicBool,
    /// ... while a client has CLIENT TRACKING on: expired keys are invalidated.
    tracking_needs_expired_keys: AtomicBool,
    /// Set while this node is a replica: keys do not expire by themselves (the primary sends a
    /// DEL when one of its keys expires). Lookups by ordinary clients see a key past its
    /// deadline as missing without deleting it; the primary's own commands see it as live
    /// (Redis's `expireIfNeeded` on a replica). The active cycle does not run.
    replica_keeps_expired: AtomicBool,
}

impl ExpirySwitches {
    pub fn pause_deletions_until(&self, until_ms: u64) {
        self.deletions_paused_until
            .store(until_ms, Ordering::Release);
    }

    pub fn deletions_paused(&self, now_ms: u64) -> bool {
        self.deletions_paused_until.load(Ordering::Acquire) > now_ms
    }

    pub fn set_expired_keys_recorded(&self, on: bool) {
        self.record_expired_keys.store(on, Ordering::Relaxed);
    }

    pub fn set_expired_keys_logged(&self, on: bool) {
        self.log_expired_keys.store(on, Ordering::Relaxed);
    }

    pub fn set_tracking_needs_expired_keys(&self, on: bool) {
        self.tracking_needs_expired_keys
            .store(on, Ordering::Relaxed);
    }

    pub fn expired_keys_recorded(&self) -> bool {
        self.record_expired_keys.load(Ordering::Relaxed)
            || self.log_expired_keys.load(Ordering::Relaxed)
            || self.tracking_needs_expired_keys.load(Ordering::Relaxed)
    }

    pub fn set_replica_keeps_expired(&self, on: bool) {
        self.replica_keeps_expired.store(on, Ordering::Relaxed);
    }

    pub fn replica_keeps_expired(&self) -> bool {
        self.replica_keeps_expired.load(Ordering::Relaxed)
    }

    /// What a lookup on this thread does with a key past its deadline.
    pub fn past_deadline(&self) -> PastDeadline {
        if !self.replica_keeps_expired() {
            PastDeadline::Expire
        } else if PRIMARY_VIEW.with(|c| c.get()) {
            PastDeadline::Keep
        } else {
            PastDeadline::Hide
        }
    }
}

/// Runs `f` as the primary's stream sees keys on a replica (past deadlines are not expired).
pub fn with_primary_view<R>(on: bool, f: impl FnOnce() -> R) -> R {
    if !on {
        return f();
    }
    let before = PRIMARY_VIEW.with(|c| c.replace(true));
    let result = f();
    PRIMARY_VIEW.with(|c| c.set(before));
    result
}

/// What a lookup does with a key whose deadline has passed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PastDeadline {
    /// Delete it and report it missing (a primary).
    Expire,
    /// Report it missing and keep it (an ordinary client of a replica).
    Hide,
    /// Report it live (the primary's stream on a replica).
    Keep,
}

/// Sees the keys a sweep step removed, `(db, keys)`, while their shard is held.
pub type ExpiredLog<'a> = dyn FnMut(usize, &[Box<[u8]>]) + 'a;

/// Sees the hash fields a sweep step removed, `(db, fields)`: `log` while their shard is held
/// (the AOF logs them as HDEL there), `after` once it is released (events).
pub struct FieldHooks<'a> {
    pub log: &'a mut dyn FnMut(usize, &[super::shard::ExpiredFields]),
    pub after: &'a mut dyn FnMut(usize, Vec<super::shard::ExpiredFields>),
}

/// Slots visited per shard lock acquisition; keeps each lock hold in the tens of microseconds.
pub const SWEEP_SLOTS_PER_STEP: usize = 1024;
/// Share of one core the cycle may use, as Redis's ACTIVE_EXPIRE_CYCLE_SLOW_TIME_PERC.
pub const EXPIRE_CYCLE_CPU_PERCENT: u64 = 25;

/// The CPU time one cycle may spend when cycles run `hz` times per second.
pub fn cycle_budget(hz: u32) -> Duration {
    let period_us = 1_000_000 / u64::from(hz.max(1));
    Duration::from_micros(period_us * EXPIRE_CYCLE_CPU_PERCENT / 100)
}

/// Runs one active-expiry cycle over every due shard until `budget` is spent. Returns the
/// number of keys removed. Shards are visited round-robin starting at `*next_shard`, which is
/// advanced so the following cycle continues where this one stopped.
/// `on_expired(db, keys)` receives the names of removed keys (when recorded) after the shard's
/// lock is released; `log_expired(db, keys)` sees them before, while the shard is still held
/// (the AOF logs their deletion there, ordered before any later write to the same key).
pub fn run_cycle(
    ks: &Keyspace,
    next_shard: &mut usize,
    now_ms: u64,
    budget: Duration,
    log_expired: &mut ExpiredLog<'_>,
    on_expired: &mut dyn FnMut(usize, Vec<Box<[u8]>>),
    fields: FieldHooks<'_>,
) -> usize {
    let started = Instant::now();
    let ids: Vec<ShardId> = ks.all_shards().collect();
    let mut removed = 0;
    let mut idle_visits = 0;
    while idle_visits < ids.len() && started.elapsed() < budget {
        let id = ids[*next_shard % ids.len()];
        let mut shard = ks.lock(id);
        let mut pass_unfinished = false;
        if shard.sweep_due(now_ms) {
            removed += shard.sweep_step(SWEEP_SLOTS_PER_STEP, now_ms);
            idle_visits = 0;
            pass_unfinished = shard.sweep_due(now_ms);
        } else {
            idle_visits += 1;
        }
        let expired = shard.take_expired();
        if !expired.is_empty() {
            log_expired(id.db, &expired);
        }
        let expired_fields = shard.take_expired_fields();
        if !expired_fields.is_empty() {
            (fields.log)(id.db, &expired_fields);
        }
        drop(shard);
        if !expired.is_empty() {
            on_expired(id.db, expired);
        }
        if !expired_fields.is_empty() {
            (fields.after)(id.db, expired_fields);
        }
        if !pass_unfinished {
            *next_shard = (*next_shard + 1) % ids.len();
        }
    }
    removed
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keyspace::Value;

    #[test]
    fn cycle_reclaims_all_expired_keys() {
        let ks = Keyspace::new(2, 4);
        for i in 0..5000u32 {
            let key = i.to_be_bytes();
            let hash = ks.hash(&key);
            let id = ShardId {
                db: (i % 2) as usize,
                shard: ks.shard_of(hash),
            };
            let deadline = if i % 5 == 0 { None } else { Some(1000) };
            ks.lock(id)
                .insert(hash, &key, Value::string(b"v"), deadline, 0);
        }
        let mut next = 0;
        let removed = run_cycle(
            &ks,
            &mut next,
            2000,
            Duration::from_secs(5),
            &mut |_, _| {},
            &mut |_, _| {},
            FieldHooks {
                log: &mut |_, _| {},
                after: &mut |_, _| {},
            },
        );
        assert_eq!(removed, 4000);
        assert_eq!(ks.db_len(0) + ks.db_len(1), 1000);
        assert_eq!(
            run_cycle(
                &ks,
                &mut next,
                2000,
                Duration::from_secs(5),
                &mut |_, _| {},
                &mut |_, _| {},
                FieldHooks {
                    log: &mut |_, _| {},
                    after: &mut |_, _| {},
                },
            ),
            0
        );
    }
}

#[cfg(test)]
mod field_tests {
    use super::*;
    use crate::keyspace::shard::ExpiredFields;
    use crate::keyspace::types::hash::HashLimits;
    use crate::keyspace::types::HashValue;
    use crate::keyspace::{Value, ValueRef};

    const LIMITS: HashLimits = HashLimits {
        entries: 128,
        value_bytes: 64,
    };

    fn hash_with(fields: &[(&str, Option<u64>)]) -> Value {
        let mut h = HashValue::default();
        for (f, at) in fields {
            h.set(f.as_bytes(), b"v", LIMITS);
            if let Some(at) = at {
                h.set_ttl(f.as_bytes(), *at);
            }
        }
        Value::Hash(Box::new(h))
    }

    #[test]
    fn the_sweep_expires_hash_fields_and_counts_hashes_with_deadlines() {
        let ks = Keyspace::new(1, 1);
        let id = ShardId { db: 0, shard: 0 };
        let put = |key: &[u8], v: Value| {
            let hash = ks.hash(key);
            ks.lock(id).insert(hash, key, v, None, 0);
        };
        put(b"gone", hash_with(&[("a", Some(100))]));
        put(
            b"kept",
            hash_with(&[("a", Some(100)), ("b", None), ("c", Some(5000))]),
        );
        put(b"plain", hash_with(&[("a", None)]));
        assert_eq!(ks.lock(id).field_ttl_len(), 2);
        let mut logged: Vec<(Box<[u8]>, usize, bool)> = Vec::new();
        let mut after = 0;
        let mut next = 0;
        run_cycle(
            &ks,
            &mut next,
            1000,
            Duration::from_secs(5),
            &mut |_, _| {},
            &mut |_, _| {},
            FieldHooks {
                log: &mut |_, gone: &[ExpiredFields]| {
                    logged.extend(
                        gone.iter()
                            .map(|g| (g.key.clone(), g.fields.len(), g.key_deleted)),
                    )
                },
                after: &mut |_, gone| after += gone.len(),
            },
        );
        logged.sort();
        assert_eq!(
            logged,
            [
                (Box::from(&b"gone"[..]), 1, true),
                (Box::from(&b"kept"[..]), 1, false)
            ]
        );
        assert_eq!(after, 2);
        let mut shard = ks.lock(id);
        assert_eq!(shard.len(), 2);
        assert_eq!(shard.field_ttl_len(), 1);
        assert_eq!(shard.stats.expired_subkeys, 2);
        let hash = ks.hash(b"kept");
        let entry = shard.get_mut(hash, b"kept", 1000).unwrap();
        let ValueRef::Hash(h) = entry.value() else {
            panic!("a hash")
        };
        assert_eq!(h.len(), 2);
        assert_eq!(h.min_field_deadline(), Some(5000));
        // Nothing is due before 5000: the shard is not swept in between.
        assert!(!shard.sweep_due(4000));
        assert!(shard.sweep_due(5001));
    }
}
