//! The gate: who may run beside whom, and how connections wait for their turn without
//! blocking a tokio worker.
//!
//! Ordinary commands run in *shared* sections, many at once on different workers; each holds
//! only the shard locks of its keys, for the length of one command. Commands flagged
//! `ALL_SHARDS` (EVAL and friends, EXEC, FLUSHALL ...) run in the *exclusive* section: no
//! shared section exists beside them, so they lock each shard they touch when they first touch
//! it and keep it to the end (the only other holders are background steps that hold one shard
//! for a bounded time; anything that needs several shards at once, such as a snapshot's
//! instant, enters a section first). A script may run forever, so nothing may ever wait for it
//! on a worker thread:
//!
//! - A command that finds the gate held by another client is not run: `admit` answers
//!   `Wait::Turn` and the connection task awaits `wait_turn` (the holder's release, or the
//!   moment the running script turns BUSY), then dispatches it again. Before the threshold this
//!   is Redis's behaviour too (the script's server reads nothing).
//! - Once the running script is past `busy-reply-threshold`, `admit` answers `Pass::Busy`:
//!   dispatch answers BUSY, or runs an `allow-busy` command without any shard lock (WATCH,
//!   UNWATCH, DISCARD and RESET leave their watch changes here for the holder to apply).
//! - The exclusive holder first raises its flag (new shared sections stop entering), then
//!   waits, again by re-dispatching, until the shared sections inside drain (`Wait::Drain`;
//!   they are ordinary commands, so this takes microseconds).
//!
//! Entering a shared section costs one atomic add on a per-thread stripe and one load of the
//! owner word (a Dekker pair with the writer's owner store and stripe reads, both SeqCst).

use crate::clock::Clock;
use crate::keyspace::lock_rules;
use crate::keyspace::watch::WatchFlag;
use crate::keyspace::Keyspace;
use crate::keyspace::ShardId;
use crate::scripting::busy::BusyState;
use parking_lot::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;
use std::time::Duration;

const STRIPES: usize = 16;
/// Set in the owner word so that client id 0 (internal clients) still marks an owner.
const OWNED: u64 = 1 << 63;
/// How often a waiting connection looks again when the holder has not started a script yet.
const TURN_POLL: Duration = Duration::from_millis(2);

#[repr(align(128))]
#[derive(Default)]
struct Stripe(AtomicUsize);

/// Why a command cannot run yet; the connection task waits and dispatches it again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wait {
    /// Another client holds the gate exclusively and its script (if any) is not BUSY yet.
    Turn,
    /// This client holds the gate exclusively; shared sections are still draining.
    Drain,
    /// A shard lock this command needs is held by a running command: try again.
    Contended,
}

/// A watch change left for the exclusive holder, which holds the shard it needs.
enum WatchOp {
    Add(usize, Box<[u8]>, Arc<WatchFlag>),
    Remove(usize, Box<[u8]>, Arc<WatchFlag>),
}

#[derive(Default)]
pub struct Gate {
    /// `OWNED | client id` of the exclusive holder; 0 when none.
    owner: AtomicU64,
    readers: [Stripe; STRIPES],
    released: tokio::sync::Notify,
    deferred: Mutex<Vec<WatchOp>>,
    has_deferred: AtomicBool,
}

/// How a command was let through.
pub enum Pass<'a> {
    Shared(SharedGuard<'a>),
    Exclusive(ExclusiveGuard<'a>),
    /// Inside a section this thread already holds (blocked clients served after a command).
    Nested,
    /// Another client's script is past its BUSY threshold: only allow-busy commands run, and
    /// without shard locks.
    Busy,
}

impl Pass<'_> {
    pub fn is_busy(&self) -> bool {
        matches!(self, Pass::Busy)
    }

    /// Ends the exclusive section's hold of the owner word while the command still holds its
    /// shard locks: the watch changes left meanwhile are applied to them first.
    pub fn finish<H: HeldShard>(&mut self, locks: &mut H) {
        if let Pass::Exclusive(guard) = self {
            guard.finish(Some(locks));
        }
    }
}

/// The shards a finishing exclusive command holds (its `Locks`).
pub trait HeldShard {
    fn held_shard(&mut self, id: ShardId) -> Option<&mut crate::keyspace::Shard>;
}

/// No shard held (an exclusive section ending before its command locked any).
struct NoShards;

impl HeldShard for NoShards {
    fn held_shard(&mut self, _id: ShardId) -> Option<&mut crate::keyspace::Shard> {
        None
    }
}

pub struct SharedGuard<'a> {
    gate: &'a Gate,
    stripe: usize,
}

impl Drop for SharedGuard<'_> {
    fn drop(&mut self) {
        self.gate.readers[self.stripe].0.fetch_sub(1, SeqCst);
        lock_rules::leave_section();
    }
}

pub struct ExclusiveGuard<'a> {
    gate: &'a Gate,
    /// Where the watch changes left meanwhile are applied, and their instant.
    keyspace: &'a Keyspace,
    clock: &'a Clock,
    finished: bool,
}

impl ExclusiveGuard<'_> {
    fn finish<H: HeldShard>(&mut self, locks: Option<&mut H>) {
        if self.finished {
            return;
        }
        self.finished = true;
        let gate = self.gate;
        let mut deferred = gate.deferred.lock();
        let mut locks = locks;
        for op in deferred.drain(..) {
            let (db, key) = match &op {
                WatchOp::Add(db, key, _) | WatchOp::Remove(db, key, _) => (*db, key),
            };
            let ks = self.keyspace;
            let id = ShardId {
                db,
                shard: ks.shard_of(ks.hash(key)),
            };
            let now = self.clock.now_ms();
            let apply = |shard: &mut crate::keyspace::Shard| match &op {
                WatchOp::Add(_, key, flag) => {
                    // The key's state when the watch joins, not when WATCH was sent (the
                    // script held the shard then).
                    let key_state = shard.key_state_of(key, now);
                    shard.watchers.add(key, flag, key_state)
                }
                WatchOp::Remove(_, key, flag) => shard.watchers.remove(key, flag),
            };
            match locks.as_deref_mut().and_then(|l| l.held_shard(id)) {
                Some(shard) => apply(shard),
                None => apply(&mut ks.lock(id)),
            }
        }
        gate.has_deferred.store(false, SeqCst);
        // Under the deferred list's lock: a watch change either joined the list above or sees
        // no owner and applies itself.
        gate.owner.store(0, SeqCst);
        drop(deferred);
    }
}

impl Drop for ExclusiveGuard<'_> {
    fn drop(&mut self) {
        self.finish(None::<&mut NoShards>);
        lock_rules::leave_section();
        self.gate.released.notify_waiters();
    }
}

fn stripe() -> usize {
    use std::cell::Cell;
    // Threads are process-wide, so is the counter that spreads them over the stripes.
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    thread_local! {
        static STRIPE: Cell<usize> = const { Cell::new(usize::MAX) };
    }
    STRIPE.with(|s| {
        if s.get() == usize::MAX {
            s.set(NEXT.fetch_add(1, SeqCst) % STRIPES);
        }
        s.get()
    })
}

impl Gate {
    /// Lets a command in, or says what it must wait for. `who` is the client id; `exclusive`
    /// asks for the exclusive section.
    pub fn admit<'a>(
        &'a self,
        keyspace: &'a Keyspace,
        clock: &'a Clock,
        who: u64,
        exclusive: bool,
        busy: &BusyState,
    ) -> Result<Pass<'a>, Wait> {
        if lock_rules::in_section() {
            return Ok(Pass::Nested);
        }
        let me = OWNED | who;
        let owner = self.owner.load(SeqCst);
        if owner != 0 && owner != me {
            return if busy.is_busy() {
                Ok(Pass::Busy)
            } else {
                Err(Wait::Turn)
            };
        }
        if exclusive {
            if owner == 0 && self.owner.compare_exchange(0, me, SeqCst, SeqCst).is_err() {
                return Err(Wait::Turn);
            }
            if self.readers.iter().any(|s| s.0.load(SeqCst) != 0) {
                return Err(Wait::Drain);
            }
            lock_rules::enter_section();
            return Ok(Pass::Exclusive(ExclusiveGuard {
                gate: self,
                keyspace,
                clock,
                finished: false,
            }));
        }
        if owner == me {
            // Never left behind by dispatch; undone rather than trusted.
            self.owner.store(0, SeqCst);
            self.released.notify_waiters();
        }
        match self.try_shared() {
            Some(guard) => Ok(Pass::Shared(guard)),
            None if busy.is_busy() => Ok(Pass::Busy),
            None => Err(Wait::Turn),
        }
    }

    /// Enters a shared section unless a client holds (or is taking) the exclusive one.
    pub fn try_shared(&self) -> Option<SharedGuard<'_>> {
        let stripe = stripe();
        self.readers[stripe].0.fetch_add(1, SeqCst);
        if self.owner.load(SeqCst) != 0 {
            self.readers[stripe].0.fetch_sub(1, SeqCst);
            return None;
        }
        lock_rules::enter_section();
        Some(SharedGuard { gate: self, stripe })
    }

    /// Enters a shared section from a thread that is not a connection task (a background save
    /// or rewrite taking its snapshot instant), sleeping until no exclusive section runs. None
    /// when this thread is inside a section already.
    pub fn shared_blocking(&self) -> Option<SharedGuard<'_>> {
        if lock_rules::in_section() {
            return None;
        }
        loop {
            if let Some(guard) = self.try_shared() {
                return Some(guard);
            }
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    /// Enters a shared section, waiting asynchronously for the exclusive holder to leave.
    pub async fn shared(&self) -> SharedGuard<'_> {
        // No exclusive holder is the usual case: entered without a waiter, whose registration
        // and removal take the notifier's lock twice.
        if let Some(guard) = self.try_shared() {
            return guard;
        }
        loop {
            let notified = self.released.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if let Some(guard) = self.try_shared() {
                return guard;
            }
            tokio::select! {
                _ = notified => {}
                _ = tokio::time::sleep(TURN_POLL) => {}
            }
        }
    }

    /// True while some client holds (or is taking) the exclusive section.
    pub fn is_held(&self) -> bool {
        self.owner.load(SeqCst) != 0
    }

    /// Waits, without blocking the worker, until the exclusive holder leaves or its script
    /// turns BUSY.
    pub async fn wait_turn(&self, busy: &BusyState) {
        loop {
            let notified = self.released.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if !self.is_held() || busy.is_busy() {
                return;
            }
            let nap = busy
                .until_busy()
                .unwrap_or(TURN_POLL)
                .max(Duration::from_millis(1));
            tokio::select! {
                _ = notified => return,
                _ = tokio::time::sleep(nap.min(TURN_POLL * 50)) => {}
            }
        }
    }

    /// Waits until no client holds the exclusive section (a signal's shutdown waits for the
    /// running script to end, as Redis's does).
    pub async fn wait_idle(&self) {
        loop {
            let notified = self.released.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if !self.is_held() {
                return;
            }
            tokio::select! {
                _ = notified => {}
                _ = tokio::time::sleep(TURN_POLL * 50) => {}
            }
        }
    }

    /// Registers or removes a watch on a shard this thread does not hold: applied now inside a
    /// shared section, or left for the exclusive holder (which holds every shard) to apply
    /// before it leaves. Never waits for a shard the holder has.
    pub fn change_watch(
        &self,
        keyspace: &Keyspace,
        clock: &Clock,
        db: usize,
        key: &[u8],
        flag: &Arc<WatchFlag>,
        add: bool,
    ) {
        loop {
            if !lock_rules::in_section() {
                let mut deferred = self.deferred.lock();
                if self.is_held() {
                    if add {
                        deferred.push(WatchOp::Add(db, key.into(), flag.clone()));
                    } else {
                        deferred.retain(|op| {
                            !matches!(op, WatchOp::Add(d, k, f)
                                if *d == db && **k == *key && Arc::ptr_eq(f, flag))
                        });
                        deferred.push(WatchOp::Remove(db, key.into(), flag.clone()));
                    }
                    self.has_deferred.store(true, SeqCst);
                    return;
                }
            }
            let _section = if lock_rules::in_section() {
                None
            } else {
                match self.try_shared() {
                    Some(guard) => Some(guard),
                    None => {
                        std::thread::yield_now();
                        continue;
                    }
                }
            };
            let ks = keyspace;
            let id = ShardId {
                db,
                shard: ks.shard_of(ks.hash(key)),
            };
            let mut shard = ks.lock(id);
            if add {
                let key_state = shard.key_state_of(key, clock.now_ms());
                shard.watchers.add(key, flag, key_state);
            } else {
                shard.watchers.remove(key, flag);
            }
            return;
        }
    }

    /// A key changed under the exclusive section: clients that WATCHed it meanwhile (their
    /// watch not yet in the shard) are marked too.
    pub fn touch_deferred(&self, db: usize, key: &[u8]) {
        if !self.has_deferred.load(SeqCst) {
            return;
        }
        for op in self.deferred.lock().iter() {
            if let WatchOp::Add(d, k, flag) = op {
                if *d == db && **k == *key {
                    flag.set();
                }
            }
        }
    }
}
