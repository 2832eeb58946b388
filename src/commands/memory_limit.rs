//! maxmemory enforcement: before a DENYOOM command runs, evict keys by `maxmemory-policy` until
//! used memory is back under `maxmemory`, or refuse the command with -OOM.
//!
//! Used memory is the allocator's allocated bytes, the figure INFO reports as used_memory, so
//! the limit holds for the number clients see. Reading it costs a jemalloc epoch refresh, so it
//! is cached for `REFRESH_US`; bytes freed by eviction are taken off the cached figure at once.

use crate::error::CommandError;
use crate::keyspace::evict::{self, Policy};
use crate::pubsub::notify;
use crate::state::ServerState;
use std::sync::atomic::{AtomicU64, Ordering};

/// How long one allocator reading is trusted.
const REFRESH_US: u64 = 100;

static CACHED_USED: AtomicU64 = AtomicU64::new(0);
static CACHED_AT_US: AtomicU64 = AtomicU64::new(0);

/// Bytes the allocator has handed out (0 if it cannot say).
fn allocated_bytes() -> u64 {
    use tikv_jemalloc_ctl::{epoch, stats};
    let _ = epoch::advance();
    stats::allocated::read().unwrap_or(0) as u64
}

fn used_memory(state: &ServerState, now_us: u64, incoming: u64) -> u64 {
    let at = CACHED_AT_US.load(Ordering::Relaxed);
    // One thread refreshes a stale reading; the others keep using the cached one meanwhile.
    let stale = at == 0 || now_us.saturating_sub(at) >= REFRESH_US;
    if !stale
        || CACHED_AT_US
            .compare_exchange(at, now_us.max(1), Ordering::Relaxed, Ordering::Relaxed)
            .is_err()
    {
        // The command about to run may add about its argument bytes: count them until the
        // next reading, so a burst of writes within one refresh period cannot overshoot.
        return CACHED_USED.fetch_add(incoming, Ordering::Relaxed) + incoming;
    }
    let mut used = allocated_bytes();
    if used == 0 {
        used = state.keyspace.used_bytes() as u64;
    }
    CACHED_USED.store(used, Ordering::Relaxed);
    used
}

/// Makes room under maxmemory (a no-op when it is 0). Err means the command must be refused.
///
/// `incoming` is the command's argument bytes, an estimate of what it may add.
pub fn make_room(state: &ServerState, now_us: u64, incoming: u64) -> Result<(), CommandError> {
    let max = state.config.hot.maxmemory.load(Ordering::Relaxed);
    if max == 0 {
        return Ok(());
    }
    let used = used_memory(state, now_us, incoming);
    if used <= max {
        return Ok(());
    }
    let to_free = used - max;
    let policy = Policy::parse(&state.config.get("maxmemory-policy"));
    let samples = state.config.get_i64("maxmemory-samples").clamp(1, 64) as usize;
    let (freed, gone) = evict::evict_logged(
        &state.keyspace,
        policy,
        samples,
        to_free as usize,
        now_us / 1000,
        &mut |db, key| state.aof.log_deletions(db, &[key.into()]),
    );
    CACHED_USED.fetch_sub(
        (freed as u64).min(CACHED_USED.load(Ordering::Relaxed)),
        Ordering::Relaxed,
    );
    // Published with no shard lock held.
    if notify::enabled(state, notify::EVICTED) {
        for e in &gone {
            state.pubsub.tracking.invalidate(state, &e.key, None);
            notify::publish(state, notify::EVICTED, "evicted", e.db, &e.key);
        }
    }
    if freed as u64 >= to_free {
        Ok(())
    } else {
        Err(CommandError::Oom)
    }
}
