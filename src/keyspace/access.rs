//! Access tracking for eviction: the 32 `Entry::access` bits hold the last access on a seconds
//! clock (low 24 bits, wrapping like Redis's LRU clock) and a logarithmic LFU counter (high 8
//! bits, Redis's `LFULogIncr` / `LFUDecrAndReturn`). Both are kept whatever the policy, so
//! switching policy at runtime needs no warm-up of the other half.
//!
//! The LFU tunables are atomics of the keyspace's `Tunables`, mirrored from the config, so a
//! shard lookup can stamp an entry without reaching the config.

use std::cell::Cell;
use std::sync::atomic::{AtomicU32, Ordering};

/// Low 24 bits: last access in seconds, wrapping at 2^24 (~194 days).
pub const LRU_CLOCK_MASK: u32 = (1 << 24) - 1;
/// Redis's LFU_INIT_VAL: new keys start here so they are not evicted before a second access.
pub const LFU_INIT_VAL: u32 = 5;

/// lfu-log-factor and lfu-decay-time (Redis's defaults until the config says otherwise).
#[derive(Debug)]
pub struct LfuParams {
    log_factor: AtomicU32,
    decay_minutes: AtomicU32,
}

impl Default for LfuParams {
    fn default() -> Self {
        LfuParams {
            log_factor: AtomicU32::new(10),
            decay_minutes: AtomicU32::new(1),
        }
    }
}

impl LfuParams {
    /// Mirrors lfu-log-factor and lfu-decay-time (called whenever the config changes).
    pub fn set(&self, log_factor: u32, decay_minutes: u32) {
        self.log_factor.store(log_factor, Ordering::Relaxed);
        self.decay_minutes.store(decay_minutes, Ordering::Relaxed);
    }
}

thread_local! {
    /// Set while a command must not alter access bits (CLIENT NO-TOUCH, OBJECT).
    static NO_TOUCH: Cell<bool> = const { Cell::new(false) };
    static RNG: Cell<u64> = Cell::new(seed());
}

fn seed() -> u64 {
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0x9e37_79b9);
    let local = 0u8;
    (t ^ (&local as *const u8 as u64)) | 1
}

/// A fast thread-local pseudo-random number (xorshift64*); not for anything secret.
pub fn random_u64() -> u64 {
    RNG.with(|r| {
        let mut x = r.get();
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        r.set(x);
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    })
}

/// Whether lookups on this thread currently stamp entries.
pub fn touching() -> bool {
    !NO_TOUCH.with(Cell::get)
}

/// Runs `f` with access stamping switched off or on for this thread, restoring it after.
pub fn with_no_touch<R>(no_touch: bool, f: impl FnOnce() -> R) -> R {
    let before = NO_TOUCH.with(|c| c.replace(no_touch));
    let result = f();
    NO_TOUCH.with(|c| c.set(before));
    result
}

pub fn clock_secs(now_ms: u64) -> u32 {
    (now_ms / 1000) as u32 & LRU_CLOCK_MASK
}

/// Seconds since the entry was last stamped (0 for a never-stamped entry).
pub fn idle_secs(access: u32, now_ms: u64) -> u32 {
    let last = access & LRU_CLOCK_MASK;
    if last == 0 {
        return 0;
    }
    clock_secs(now_ms).wrapping_sub(last) & LRU_CLOCK_MASK
}

/// The LFU counter after decay: one step per lfu-decay-time minutes since the last access
/// (Redis's `LFUDecrAndReturn`, using the last-access clock as the decrement time).
pub fn lfu_decayed(lfu: &LfuParams, access: u32, now_ms: u64) -> u32 {
    let counter = access >> 24;
    let decay = lfu.decay_minutes.load(Ordering::Relaxed);
    if decay == 0 || access & LRU_CLOCK_MASK == 0 {
        return counter;
    }
    let periods = idle_secs(access, now_ms) / 60 / decay;
    counter.saturating_sub(periods)
}

/// Redis's `LFULogIncr`: the higher the counter, the less likely an access raises it.
fn lfu_log_incr(lfu: &LfuParams, counter: u32) -> u32 {
    if counter >= 255 {
        return 255;
    }
    let base = counter.saturating_sub(LFU_INIT_VAL) as f64;
    let p = 1.0 / (base * f64::from(lfu.log_factor.load(Ordering::Relaxed)) + 1.0);
    let r = (random_u64() >> 11) as f64 / (1u64 << 53) as f64;
    if r < p {
        counter + 1
    } else {
        counter
    }
}

/// The access bits after one access at `now_ms`: decay, log-increment, restamp the clock.
pub fn touched(lfu: &LfuParams, access: u32, now_ms: u64) -> u32 {
    let counter = lfu_log_incr(lfu, lfu_decayed(lfu, access, now_ms));
    (counter << 24) | clock_secs(now_ms).max(1)
}

/// The access bits of a newly created key (`previous` is the access of a key it replaces).
pub fn fresh(lfu: &LfuParams, previous: Option<u32>, now_ms: u64) -> u32 {
    let counter = previous.map_or(LFU_INIT_VAL, |a| lfu_decayed(lfu, a, now_ms));
    (counter << 24) | clock_secs(now_ms).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counter_grows_logarithmically_and_decays() {
        let now = 10_000_000;
        let mut a = fresh(&LfuParams::default(), None, now);
        assert_eq!(a >> 24, LFU_INIT_VAL);
        for _ in 0..1000 {
            a = touched(&LfuParams::default(), a, now);
        }
        let c = a >> 24;
        assert!(c > LFU_INIT_VAL && c < 255, "counter {c}");
        // Ten idle minutes with lfu-decay-time 1 take ten steps off.
        assert_eq!(
            lfu_decayed(&LfuParams::default(), a, now + 600_000),
            c.saturating_sub(10)
        );
        assert_eq!(idle_secs(a, now + 7_000), 7);
    }

    #[test]
    fn no_touch_is_scoped() {
        assert!(touching());
        with_no_touch(true, || assert!(!touching()));
        assert!(touching());
    }
}
