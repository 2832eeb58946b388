//! CLIENT PAUSE state: which requests of normal clients wait, until when, and the queue that
//! resumes them in the order they were paused.
//!
//! `CLIENT PAUSE timeout [WRITE|ALL]` keeps the more restrictive mode and the later deadline of
//! the current pause and the new one (Redis's `pauseClients`); CLIENT UNPAUSE ends it at once.
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
//! (`keyspace::expiry::pause_deletions_until`), so the dataset and the write stream stay still,
//! as Redis documents.

use crate::keyspace::expiry::ExpirySwitches;
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

#[derive(Default)]
pub struct ClientPause {
    /// The pause in force: its mode and its deadline (unix ms). None when not paused.
    current: Mutex<Option<(Mode, u64)>>,
    /// The deadline of the pause in force (0 when none): the one-load check of the hot path.
    until_ms: AtomicU64,
    /// Woken on UNPAUSE and on every new pause.
    changed: Notify,
    /// The FIFO of held requests.
    turn: tokio::sync::Mutex<()>,
    /// Requests in the queue (held or about to run): INFO's blocked_clients counts them.
    queued: AtomicUsize,
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
    /// CLIENT PAUSE: the more restrictive mode and the later deadline win.
    /// `keys`: the keyspace's switches, which hold expired keys still while the pause lasts.
    pub fn pause(&self, keys: &ExpirySwitches, mode: Mode, until_ms: u64, now_ms: u64) {
        let mut current = self.current.lock();
        let merged = match *current {
            Some((old_mode, old_until)) if old_until > now_ms => {
                (old_mode.max(mode), old_until.max(until_ms))
            }
            _ => (mode, until_ms),
        };
        *current = Some(merged);
        self.until_ms.store(merged.1, Ordering::Release);
        keys.pause_deletions_until(merged.1);
        drop(current);
        self.changed.notify_waiters();
    }

    /// CLIENT UNPAUSE.
    pub fn unpause(&self, keys: &ExpirySwitches) {
        *self.current.lock() = None;
        self.until_ms.store(0, Ordering::Release);
        keys.pause_deletions_until(0);
        self.changed.notify_waiters();
    }

    /// The mode in force at `now_ms`, if any.
    pub fn mode(&self, now_ms: u64) -> Option<Mode> {
        if self.until_ms.load(Ordering::Acquire) <= now_ms {
            return None;
        }
        match *self.current.lock() {
            Some((mode, until)) if until > now_ms => Some(mode),
            _ => None,
        }
    }

    /// Two loads, no clock read: false when no pause was set since the last one ended and no
    /// request is queued (the hot path of every request).
    pub fn maybe_engaged(&self) -> bool {
        self.until_ms.load(Ordering::Acquire) != 0 || self.queued.load(Ordering::Acquire) != 0
    }

    /// Forgets a pause whose deadline has passed, so `maybe_engaged` is false again.
    pub fn clear_expired(&self, now_ms: u64) {
        let mut current = self.current.lock();
        if current.is_some_and(|(_, until)| until <= now_ms) {
            *current = None;
            self.until_ms.store(0, Ordering::Release);
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
            let until = match *self.current.lock() {
                Some((mode, until)) if until > now && holds(mode) => until,
                _ => break,
            };
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
