//! maxmemory enforcement, as Redis's `performEvictions`: before every command, while used
//! memory is over `maxmemory`, evict keys by `maxmemory-policy` for at most the time
//! `maxmemory-eviction-tenacity` allows; if the limit is still not reached, a background thread
//! continues (Redis's eviction timer proc). Dispatch refuses DENYOOM commands with -OOM only when
//! nothing more can be evicted.
//!
//! Used memory is the bytes the program holds, counted by the global allocator
//! (`alloc_counter`, Redis's zmalloc counter) and reported by INFO as used_memory, so the limit
//! holds for the number clients see; it includes client query and output buffers, as Redis
//! counts them. Reading it is one atomic load.

use crate::engine::evictor::{Background, Evictor};
use crate::keyspace::evict::{self, Policy, Request};
use crate::pubsub::notify;
use crate::scripting::ScriptOomFlags;
use crate::state::ServerState;
use std::cell::Cell;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

/// How often the background thread looks at memory when nothing woke it (Redis's cron).
const BACKGROUND_CHECK: Duration = Duration::from_millis(100);
/// Pause between two time-limited background steps (Redis runs one per event-loop turn).
const BACKGROUND_PAUSE: Duration = Duration::from_micros(100);

/// Bytes in use: the counting allocator's figure, or the keyspace's accounting where that
/// allocator is not installed (the library's own tests).
fn used_memory(state: &ServerState) -> u64 {
    crate::alloc_counter::held_bytes().unwrap_or_else(|| state.keyspace.used_bytes() as u64)
}

/// Bytes freed past the limit when keys are evicted, so that evictions come in batches (see
/// `evict::Request::slack`): a thousandth of maxmemory, at most 64 KiB. Redis frees exactly
/// what is over; the difference is at most 0.1% fewer keys held.
fn batch_slack(max: u64) -> usize {
    (max / 1000).min(64 << 10) as usize
}

/// Redis's `evictionTimeLimitUs`: tenacity 0..10 gives 0..500 µs linearly, then 15% more per
/// step (about 2 minutes at 99), and 100 means no limit.
pub fn time_limit_us(tenacity: i64) -> Option<u64> {
    match tenacity {
        t if t <= 10 => Some(50 * t.max(0) as u64),
        t if t < 100 => Some((500.0 * 1.15f64.powi(t as i32 - 10)) as u64),
        _ => None,
    }
}

/// The result of one eviction attempt (Redis's EVICT_OK / EVICT_RUNNING / EVICT_FAIL).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pressure {
    /// Under the limit (or no limit).
    Fine,
    /// Still over, but the time limit stopped eviction and the background thread continues.
    Evicting,
    /// Over the limit with nothing (more) the policy may evict.
    OutOfMemory,
}

/// Evicts while used memory is over maxmemory, for at most the tenacity time limit.
/// `incoming` estimates what the command about to run may add (its argument bytes).
pub fn make_room(state: &ServerState, now_us: u64, incoming: u64) -> Pressure {
    let max = state.config.hot.maxmemory.load(Ordering::Relaxed);
    if max == 0 {
        note_over(&state.evictor, false, now_us);
        return Pressure::Fine;
    }
    // A replica leaves eviction to its primary (whose DELs arrive in the stream), as Redis
    // with replica-ignore-maxmemory yes.
    if state.replication.is_replica() && state.config.get_bool("replica-ignore-maxmemory") {
        return Pressure::Fine;
    }
    // The command about to run may add about its argument bytes: room for them is made first.
    let used = used_memory(state) + incoming;
    note_over(&state.evictor, used > max, now_us);
    if used <= max {
        return Pressure::Fine;
    }
    // No eviction while CLIENT PAUSE holds the dataset still (Redis's performEvictions).
    if state.pause.freezes_keys(now_us / 1000) {
        return Pressure::Fine;
    }
    // From the hot config: by name, three lookups cost as much as the sampling itself.
    let hot = &state.config.hot;
    let tenacity = hot.maxmemory_eviction_tenacity.load(Ordering::Relaxed);
    let deadline = time_limit_us(tenacity).map(|us| Instant::now() + Duration::from_micros(us));
    let request = Request {
        policy: Policy::parse(crate::config::maxmemory_policy_name(
            hot.maxmemory_policy.load(Ordering::Relaxed),
        )),
        samples: hot.maxmemory_samples.load(Ordering::Relaxed) as usize,
        to_free: (used - max) as usize,
        slack: batch_slack(max),
        now_ms: now_us / 1000,
        deadline,
    };
    let outcome = evict::evict_logged(&state.keyspace, &request, &mut |db, key| {
        state.aof.log_deletions(db, &[key.into()])
    });
    // Published with no shard lock held.
    let events = notify::enabled(&state.config, notify::EVICTED);
    let to = state.pubsub_handle();
    for e in &outcome.evicted {
        state.pubsub.tracking.invalidate(to, &e.key, None);
        if events {
            notify::publish(to, notify::EVICTED, "evicted", e.db, &e.key);
        }
    }
    if outcome.timed_out {
        wake_background(state);
        Pressure::Evicting
    } else if outcome.freed >= request.to_free {
        Pressure::Fine
    } else {
        Pressure::OutOfMemory
    }
}

fn note_over(e: &Evictor, over: bool, now_us: u64) {
    let since = e.over_since_us.load(Ordering::Relaxed);
    if over && since == 0 {
        let _ = e.over_since_us.compare_exchange(
            0,
            now_us.max(1),
            Ordering::Relaxed,
            Ordering::Relaxed,
        );
    } else if !over
        && since != 0
        && e.over_since_us
            .compare_exchange(since, 0, Ordering::Relaxed, Ordering::Relaxed)
            .is_ok()
    {
        e.over_total_us
            .fetch_add(now_us.saturating_sub(since), Ordering::Relaxed);
    }
}

/// INFO stats `total_eviction_exceeded_time` and `current_eviction_exceeded_time`, in ms.
pub fn exceeded_time_ms(state: &ServerState, now_us: u64) -> (u64, u64) {
    let e = &state.evictor;
    let since = e.over_since_us.load(Ordering::Relaxed);
    let current = if since == 0 {
        0
    } else {
        now_us.saturating_sub(since)
    };
    (
        (e.over_total_us.load(Ordering::Relaxed) + current) / 1000,
        current / 1000,
    )
}

/// CONFIG RESETSTAT.
pub fn reset_stats(state: &ServerState) {
    state.evictor.over_total_us.store(0, Ordering::Relaxed);
}

/// `client-output-buffer-limit` of the normal class against the replies a connection holds
/// (a batch's replies wait in one buffer until it is written). Returns the limit reached.
pub fn output_limit_reached(
    state: &ServerState,
    pending: usize,
    over_soft_since_ms: &AtomicU64,
) -> Option<&'static str> {
    if replies_unlimited(state) {
        return None;
    }
    crate::pubsub::BufferLimits::normal(&state.config).exceeded(
        pending as u64,
        over_soft_since_ms,
        state.clock.now_ms(),
    )
}

/// True when the normal class has no output-buffer limit (the default).
pub fn replies_unlimited(state: &ServerState) -> bool {
    let limits = crate::pubsub::BufferLimits::normal(&state.config);
    limits.hard_bytes == 0 && limits.soft_bytes == 0
}

thread_local! {
    /// Whether memory was over the limit when the running EVAL/EXEC started (Redis's
    /// `script_oom`): a script's first write is refused then.
    static SCRIPT_OOM: Cell<bool> = const { Cell::new(false) };
}

pub fn set_script_oom(oom: bool) {
    SCRIPT_OOM.with(|c| c.set(oom));
}

pub fn script_oom() -> bool {
    SCRIPT_OOM.with(Cell::get)
}

/// The shebang flags of the script a call runs (EVAL's body, EVALSHA's cached script, FCALL's
/// function), from the command's declared SCRIPT_* flag; None for other commands.
pub fn script_flags_of_call(
    state: &crate::state::ServerState,
    spec: &crate::engine::CommandSpec,
    argv: &[bytes::Bytes],
) -> Option<ScriptOomFlags> {
    use crate::engine::flags;
    let arg = argv.get(1)?;
    if spec.has(flags::SCRIPT_BODY) {
        Some(ScriptOomFlags::of(arg))
    } else if spec.has(flags::SCRIPT_SHA) {
        Some(state.scripting.oom_flags(arg))
    } else if spec.has(flags::SCRIPT_FUNCTION) {
        Some(state.scripting.functions.oom_flags(arg))
    } else {
        None
    }
}

/// Wakes (starting it if needed) the background eviction thread.
pub fn wake_background(state: &ServerState) {
    let background = &state.evictor.background;
    if !background.started.swap(true, Ordering::AcqRel) {
        let Some(arc) = state.self_arc() else {
            // No server around this state (unit tests): nothing to run in the background.
            background.started.store(false, Ordering::Release);
            return;
        };
        let weak = Arc::downgrade(&arc);
        let waker = background.clone();
        let spawned = std::thread::Builder::new()
            .name("evictor".into())
            .spawn(move || background_loop(weak, waker));
        if spawned.is_err() {
            background.started.store(false, Ordering::Release);
            return;
        }
    }
    *background.wake.lock() = true;
    background.signal.notify_one();
}

/// The configuration changed: a lower maxmemory is reached without waiting for a command.
pub fn config_changed(state: &ServerState) {
    if state.config.hot.maxmemory.load(Ordering::Relaxed) != 0 {
        wake_background(state);
    }
}

/// Holds the server only while it evicts, so the thread ends with the server.
fn background_loop(state: Weak<ServerState>, background: Arc<Background>) {
    // This thread only frees what others allocated: a thread cache would park the freed
    // entries here for good (it is flushed as its own thread allocates, which this one hardly
    // does), resident and unusable by the threads that write.
    // SAFETY: `thread.tcache.enabled` is a bool control of the calling thread.
    let _ = unsafe { tikv_jemalloc_ctl::raw::write(b"thread.tcache.enabled\0", false) };
    loop {
        {
            let mut woken = background.wake.lock();
            if !*woken {
                background.signal.wait_for(&mut woken, BACKGROUND_CHECK);
            }
            *woken = false;
        }
        let Some(state) = state.upgrade() else {
            return;
        };
        // Evict in time-limited steps; between them clients run (and evict for themselves).
        // Each step runs in a shared section: never beside a script or transaction.
        loop {
            let Some(section) = state.gate.try_shared() else {
                std::thread::sleep(BACKGROUND_PAUSE);
                continue;
            };
            let pressure = make_room(&state, state.clock.now_us(), 0);
            drop(section);
            if pressure != Pressure::Evicting {
                break;
            }
            std::thread::sleep(BACKGROUND_PAUSE);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tenacity_time_limits_follow_redis() {
        assert_eq!(time_limit_us(0), Some(0));
        assert_eq!(time_limit_us(10), Some(500));
        assert_eq!(time_limit_us(11), Some(575));
        assert!(time_limit_us(99).unwrap() > 100_000_000);
        assert_eq!(time_limit_us(100), None);
    }
}
