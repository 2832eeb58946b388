//! Which threads may wait for a shard lock, checked in debug builds.
//!
//! A connection task runs on a tokio worker thread. Such a thread may wait for a shard lock
//! only inside a gate section (see `gate`): there every other holder of a shard lock
//! is a command that is running, never one that waits or loops (a script holds the gate
//! exclusively, so no section exists beside it). Outside a section (a command answered while a
//! script is busy, the connection's own bookkeeping) a worker must not wait for a shard at all,
//! because the holder may be a script that never ends; that wait is what once wedged the whole
//! server. Threads that are not running a connection task (the blocking pool, the AOF writer,
//! background cycles) may wait for shards: their holders are commands or bounded steps.
//!
//! The marks are thread-locals set by the code that enters each state; `Keyspace::lock` checks
//! them in debug builds, so every integration test that reaches a forbidden wait fails loudly.
//! This module is plain std: the keyspace still knows nothing of tokio.

use std::cell::Cell;

thread_local! {
    /// Set while this thread polls a connection task (an async worker serving clients).
    static ASYNC_TASK: Cell<bool> = const { Cell::new(false) };
    /// Gate sections (shared or exclusive) this thread is inside.
    static SECTIONS: Cell<u32> = const { Cell::new(0) };
}

/// True if this thread may wait for a shard lock now.
pub fn may_wait_for_shard() -> bool {
    !ASYNC_TASK.with(Cell::get) || SECTIONS.with(Cell::get) > 0
}

/// True inside a gate section on this thread.
pub fn in_section() -> bool {
    SECTIONS.with(Cell::get) > 0
}

/// Marks this thread as inside one more gate section.
pub fn enter_section() {
    SECTIONS.with(|s| s.set(s.get() + 1));
}

/// Marks the end of a gate section entered on this thread.
pub fn leave_section() {
    SECTIONS.with(|s| s.set(s.get().saturating_sub(1)));
}

/// Runs `f` marked as polling an async connection task; returns what it returns.
pub fn as_async_task<R>(f: impl FnOnce() -> R) -> R {
    /// Restores the mark even if `f` panics (tokio catches a task's panic on this thread).
    struct Restore(bool);
    impl Drop for Restore {
        fn drop(&mut self) {
            ASYNC_TASK.with(|a| a.set(self.0));
        }
    }
    let _restore = Restore(ASYNC_TASK.with(|a| a.replace(true)));
    f()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_allowed_only_off_tasks_or_in_sections() {
        assert!(may_wait_for_shard());
        as_async_task(|| {
            assert!(!may_wait_for_shard());
            enter_section();
            assert!(may_wait_for_shard());
            leave_section();
            assert!(!may_wait_for_shard());
        });
        assert!(may_wait_for_shard());
    }

    /// The guard itself: a connection task that would wait for a shard outside a section
    /// panics in debug builds (the build every test runs).
    #[test]
    #[cfg(debug_assertions)]
    #[should_panic(expected = "outside a gate section")]
    fn a_connection_task_locking_a_shard_outside_a_section_panics() {
        let keyspace = crate::keyspace::Keyspace::new(1, 1);
        as_async_task(|| {
            let _shard = keyspace.lock(crate::keyspace::ShardId { db: 0, shard: 0 });
        });
    }
}
