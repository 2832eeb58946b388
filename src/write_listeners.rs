//! Who reacts to a write: one word, kept current by every subsystem that does, so a command
//! that changes a key while nobody listens pays one load and one branch for all of them.
//!
//! A write's record is what `engine::Ctx` collects while the command runs (the keys it changed,
//! the AOF / replication records of `aof::Effects`, its keyspace events); dispatch and
//! `Ctx::key_changed` hand that record to the listeners this word names. Each kind counts its
//! registrations (a client blocked on keys, a client with CLIENT TRACKING on, a WATCHed key)
//! and its bit is set while its count is above zero. A kind registers before its first
//! effect can be missed (under the shard lock a writer takes, or before a deferred watch is
//! queued), so a writer that reads the bit clear has nothing to tell it.
//!
//! The other reactions already cost one branch on their own state and do not need a bit:
//! keyspace events (`notify-keyspace-events`, read by `Ctx::notify`), the AOF and replication
//! stream (`Aof::recording`, one check in `aof::effects::run_logged`), MONITOR
//! (`PubSub::monitoring`), latency and slowlog (thresholds read after the command).

use parking_lot::Mutex;
use std::sync::atomic::{AtomicU32, Ordering};

/// Clients blocked on keys (engine/blocking.rs): a write may make one ready.
pub const BLOCKED: u32 = 1 << 0;
/// Clients with CLIENT TRACKING on (pubsub/tracking.rs): a write invalidates their keys.
pub const TRACKING: u32 = 1 << 1;
/// WATCHed keys (commands/transactions.rs, gate.rs's deferred watches): a write marks them.
pub const WATCH: u32 = 1 << 2;

const KINDS: usize = 3;

/// The word and the counts behind it (`ServerState::writes`).
#[derive(Debug, Default)]
pub struct WriteListeners {
    word: AtomicU32,
    /// Registrations per kind; changed under this lock so the word never lags a count.
    counts: Mutex<[usize; KINDS]>,
}

impl WriteListeners {
    /// The kinds listening now: 0 when nobody is.
    #[inline]
    pub fn word(&self) -> u32 {
        // SeqCst: ordered with the flags the listeners themselves set (a deferred watch's).
        self.word.load(Ordering::SeqCst)
    }

    /// `n` more registrations of `kind` (one of the bits above).
    pub fn add(&self, kind: u32, n: usize) {
        if n == 0 {
            return;
        }
        let mut counts = self.counts.lock();
        counts[Self::index(kind)] += n;
        self.publish(&counts);
    }

    /// `n` fewer registrations of `kind`.
    pub fn remove(&self, kind: u32, n: usize) {
        if n == 0 {
            return;
        }
        let mut counts = self.counts.lock();
        let count = &mut counts[Self::index(kind)];
        debug_assert!(*count >= n, "more listeners removed than added");
        *count = count.saturating_sub(n);
        self.publish(&counts);
    }

    fn publish(&self, counts: &[usize; KINDS]) {
        let word = counts
            .iter()
            .enumerate()
            .filter(|(_, &n)| n > 0)
            .fold(0, |word, (i, _)| word | 1 << i);
        self.word.store(word, Ordering::SeqCst);
    }

    fn index(kind: u32) -> usize {
        debug_assert!(kind.is_power_of_two() && (kind.trailing_zeros() as usize) < KINDS);
        kind.trailing_zeros() as usize
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bit_is_set_while_its_count_is_above_zero() {
        let l = WriteListeners::default();
        assert_eq!(l.word(), 0);
        l.add(WATCH, 2);
        l.add(BLOCKED, 1);
        assert_eq!(l.word(), WATCH | BLOCKED);
        l.remove(WATCH, 1);
        assert_eq!(l.word(), WATCH | BLOCKED);
        l.remove(WATCH, 1);
        assert_eq!(l.word(), BLOCKED);
        l.remove(BLOCKED, 1);
        l.add(TRACKING, 0);
        assert_eq!(l.word(), 0);
    }
}
