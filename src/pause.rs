//! CLIENT PAUSE state: which requests of normal clients wait, until when, and the queue that
//! resumes them in the order they were paused.
//!
//! `CLIENT PAUSE timeout [WRITE|ALL]` keeps the more restrictive mode and the later deadline of
//! the current pause and the new one (Redis's `pauseClients`); CLIENT UNPAUSE ends it at once.
//! FAILOVER holds writes with a pause of its own (no deadline), which CLIENT UNPAUSE leaves in
//! force, as Redis keeps one pause per purpose.
//! Which commands a mode holds is decided by dispatch (`engine::client_pause`) from the
//! command table's flags; this module only keeps the state and the queue.
//!
//! No worker sleeps: a held request awaits (a `Notify` for UNPAUSE or a new pause, a timer for
//! the deadline) in its connection task, like the gate's waits. Every held request first joins a
//! FIFO queue (tokio's fair mutex) and keeps its place until it has been dispatched, so when the
//! pause ends the held requests run one after another in the order they arrived; requests that
//! arrive while the queue is not empty queue behind them. A connection that goes away leaves
//! the queue (its future is dropped with its place).
//!
//! While a pause is in force, keys are neither expired nor evicted: the active cycle and
//! eviction skip their work, and a read finds an expired key missing without deleting it
//! (`ExpirySwitches::pause_deletions_until` of the keyspace attached at start), so the dataset and the write stream stay still,
//! as Redis documents.

use parking_lot::Mutex;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use tokio::sync::Notify;

/// What a pause holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Mode {
    /// Write commands (and those that may replicate: EVAL, PUBLISH, PFCOUNT ...).
    Write,
    /// Every command.
    All,
}

/// The pauses in force, one per purpose (Redis's `pause_purposes`): CLIENT PAUSE's, and
/// FAILOVER's write pause (no deadline: it lasts until the failover ends or is aborted).
/// CLIENT UNPAUSE ends only the first; what is held is what any of them holds.
#[derive(Clone, Copy, Debug, Default)]
struct Slots {
    /// CLIENT PAUSE: its mode and its deadline (unix ms).
    client: Option<(Mode, u64)>,
    /// FAILOVER is waiting for a replica or handing over: writes are held.
    failover: bool,
}

/// FAILOVER's pause has no deadline; this one is far enough.
const NO_DEADLINE: u64 = i64::MAX as u64;

impl Slots {
    /// The pauses in force at `now_ms` (mode, deadline).
    fn in_force(&self, now_ms: u64) -> impl Iterator<Item = (Mode, u64)> {
        let client = self.client.filter(|&(_, until)| until > now_ms);
        let failover = self.failover.then_some((Mode::Write, NO_DEADLINE));
        client.into_iter().chain(failover)
    }

    /// The latest deadline of any pause set (0: none).
    fn until(&self) -> u64 {
        let client = self.client.map_or(0, |(_, until)| until);
        if self.failover {
            NO_DEADLINE
        } else {
            client
        }
    }
}

#[derive(Default)]
pub struct ClientPause {
    /// The pauses set (see `Slots`).
    current: Mutex<Slots>,
    /// The deadline of the pause in force (0 when none): the one-load check of the hot path.
    until_ms: AtomicU64,
    /// Woken on UNPAUSE and on every new pause.
    changed: Notify,
    /// The FIFO of held requests.
    turn: tokio::sync::Mutex<()>,
    /// Requests in the queue (held or about to run): INFO's blocked_clients counts them.
    queued: AtomicUsize,
    /// The keyspace whose expired keys a pause holds still (attached when the state is built).
    keyspace: std::sync::OnceLock<std::sync::Arc<crate::keyspace::Tunables>>,
}

/// A place at the head of the queue, held while the request is dispatched.
pub struct Turn<'a> {
    pause: &'a ClientPause,
    _guard: tokio::sync::MutexGuard<'a, ()>,
}

impl Drop for Turn<'_> {
    fn drop(&mut self) {
        self.pause.queued.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Leaves the count if the wait is dropped before it got its turn.
struct Queued<'a>(&'a ClientPause, bool);

impl Drop for Queued<'_> {
    fn drop(&mut self) {
        if !self.1 {
            self.0.queued.fetch_sub(1, Ordering::AcqRel);
        }
    }
}

impl ClientPause {
    /// The keyspace whose expired keys a pause holds still (done once when the state is built).
    pub fn attach_keyspace(&self, tunables: std::sync::Arc<crate::keyspace::Tunables>) {
        let _ = self.keyspace.set(tunables);
    }

    /// CLIENT PAUSE: the more restrictive mode and the later deadline win.
    pub fn pause(&self, mode: Mode, until_ms: u64, now_ms: u64) {
        self.update(|slots| {
            slots.client = Some(match slots.client {
                Some((old_mode, old_until)) if old_until > now_ms => {
                    (old_mode.max(mode), old_until.max(until_ms))
                }
                _ => (mode, until_ms),
            });
        });
    }

    /// CLIENT UNPAUSE (FAILOVER's pause, if any, stays).
    pub fn unpause(&self) {
        self.update(|slots| slots.client = None);
    }

    /// FAILOVER's write pause, set when it starts and cleared when it ends or is aborted.
    pub fn set_failover(&self, on: bool) {
        self.update(|slots| slots.failover = on);
    }

    fn update(&self, change: impl FnOnce(&mut Slots)) {
        let mut current = self.current.lock();
        change(&mut current);
        let until = current.until();
        self.until_ms.store(until, Ordering::Release);
        if let Some(keys) = self.keyspace.get() {
            keys.expiry.pause_deletions_until(until);
        }
        drop(current);
        self.changed.notify_waiters();
    }

    /// The most restrictive mode in force at `now_ms`, if any.
    pub fn mode(&self, now_ms: u64) -> Option<Mode> {
        if self.until_ms.load(Ordering::Acquire) <= now_ms {
            return None;
        }
        self.current
            .lock()
            .in_force(now_ms)
            .map(|(mode, _)| mode)
            .max()
    }

    /// Two loads, no clock read: false when no pause was set since the last one ended and no
    /// request is queued (the hot path of every request).
    pub fn maybe_engaged(&self) -> bool {
        self.until_ms.load(Ordering::Acquire) != 0 || self.queued.load(Ordering::Acquire) != 0
    }

    /// Forgets a pause whose deadline has passed, so `maybe_engaged` is false again.
    pub fn clear_expired(&self, now_ms: u64) {
        let mut current = self.current.lock();
        if current.client.is_some_and(|(_, until)| until <= now_ms) {
            current.client = None;
            self.until_ms.store(current.until(), Ordering::Release);
        }
    }

    /// True when a request must look closer: a pause may be in force or requests are queued.
    pub fn engaged(&self, now_ms: u64) -> bool {
        self.until_ms.load(Ordering::Acquire) > now_ms || self.queued.load(Ordering::Acquire) > 0
    }

    /// True while keys must be neither expired nor evicted.
    pub fn freezes_keys(&self, now_ms: u64) -> bool {
        self.until_ms.load(Ordering::Acquire) > now_ms
    }

    /// Requests waiting in the queue (INFO blocked_clients).
    pub fn queued(&self) -> usize {
        self.queued.load(Ordering::Acquire)
    }

    /// Joins the queue and waits until this request is first in it and `holds` no longer says
    /// the pause in force holds it. `now_ms` reads the clock. The returned turn is kept until
    /// the request has been dispatched.
    pub async fn wait_turn(
        &self,
        now_ms: impl Fn() -> u64,
        holds: impl Fn(Mode) -> bool,
    ) -> Turn<'_> {
        self.queued.fetch_add(1, Ordering::AcqRel);
        let mut queued = Queued(self, false);
        let guard = self.turn.lock().await;
        loop {
            let changed = self.changed.notified();
            tokio::pin!(changed);
            // Registered before the state is read: an UNPAUSE after the read wakes it.
            changed.as_mut().enable();
            let now = now_ms();
            // Held until every pause that holds it has ended.
            let until = self
                .current
                .lock()
                .in_force(now)
                .filter(|&(mode, _)| holds(mode))
                .map(|(_, until)| until)
                .max();
            let Some(until) = until else { break };
            tokio::select! {
                _ = changed => {}
                _ = tokio::time::sleep(std::time::Duration::from_millis(until - now)) => {}
            }
        }
        queued.1 = true;
        Turn {
            pause: self,
            _guard: guard,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failover_pause_outlives_client_pause_and_unpause() {
        let pause = ClientPause::default();
        pause.pause(Mode::All, 2_000, 1_000);
        pause.set_failover(true);
        assert_eq!(pause.mode(1_500), Some(Mode::All));
        // CLIENT PAUSE ALL ends: FAILOVER's write pause stays.
        assert_eq!(pause.mode(2_500), Some(Mode::Write));
        pause.clear_expired(2_500);
        assert!(pause.freezes_keys(2_500));
        // CLIENT UNPAUSE does not end it either.
        pause.pause(Mode::All, 9_000, 3_000);
        pause.unpause();
        assert_eq!(pause.mode(3_000), Some(Mode::Write));
        pause.set_failover(false);
        assert_eq!(pause.mode(3_000), None);
        assert!(!pause.freezes_keys(3_000));
        assert!(!pause.maybe_engaged());
    }
}
