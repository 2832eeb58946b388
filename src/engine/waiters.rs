//! The registry of clients blocked on keys (`ServerState::blocking`): FIFO waiters per
//! (db, key), the keys made ready by writes, and the parked clients' states. How blocking
//! commands use it, and in which order waiters are served: `engine::blocking`.
//!
//! Lock order: shard locks, then the registry mutex, then a waiter's slot mutex. Nothing here
//! takes a shard lock while holding the registry or a slot.

use crate::clock::Clock;
use crate::engine::client::{BlockRequest, ClientState};
use crate::keyspace::{Keyspace, ShardId};
use crate::protocol::Reply;
use crate::stats::ServerStats;
use bytes::Bytes;
use hashbrown::HashMap;
use parking_lot::Mutex;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use tokio::sync::Notify;

/// One parked client.
pub struct Waiter {
    pub client_id: u64,
    db: usize,
    request: BlockRequest,
    argv: Vec<Bytes>,
    slot: Mutex<Slot>,
    wake: Notify,
}

struct Slot {
    phase: Phase,
    /// The parked client's state while it waits; taken by whoever runs its command.
    client: Option<ClientState>,
}

enum Phase {
    Waiting,
    /// Another connection is running the waiter's command right now.
    Serving,
    /// Served, unblocked or timed out: the reply the waiter's connection sends.
    Done(Reply),
}

impl Waiter {
    pub fn deadline_ms(&self) -> Option<u64> {
        self.request.deadline_ms
    }

    /// Resolves when the waiter may have been served (a stored permit: no lost wake-up).
    pub async fn woken(&self) {
        self.wake.notified().await
    }

    fn claim(&self) -> Option<ClientState> {
        let mut slot = self.slot.lock();
        if !matches!(slot.phase, Phase::Waiting) {
            return None;
        }
        slot.phase = Phase::Serving;
        slot.client.take()
    }

    fn put_back(&self, client: ClientState) {
        let mut slot = self.slot.lock();
        slot.client = Some(client);
        slot.phase = Phase::Waiting;
        drop(slot);
        // A deadline or disconnect noticed while serving is re-checked by the waiter.
        self.wake.notify_one();
    }

    fn finish(&self, client: ClientState, reply: Reply) {
        let mut slot = self.slot.lock();
        slot.client = Some(client);
        slot.phase = Phase::Done(reply);
        drop(slot);
        self.wake.notify_one();
    }
}

/// How a waiter's wait ended.
pub enum Settled {
    /// Still waiting (or being served right now): keep awaiting.
    Pending,
    /// The client state back, and the reply to send.
    Done(Box<ClientState>, Reply),
}

/// Why the waiting connection stopped waiting on its own.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ending {
    /// Only a wake-up: keep waiting unless served.
    None,
    TimedOut,
    Disconnected,
}

type KeyQueues = HashMap<Box<[u8]>, VecDeque<Arc<Waiter>>>;

#[derive(Default)]
struct Registry {
    /// Per database: key -> waiters in arrival order.
    by_key: HashMap<usize, KeyQueues>,
    by_client: HashMap<u64, Arc<Waiter>>,
    /// Keys with waiters written since the last `serve_ready`, in signal order.
    ready: VecDeque<(usize, Box<[u8]>)>,
}

/// The blocked-client registry of the server (`ServerState::blocking`).
#[derive(Default)]
pub struct Blocking {
    registry: Mutex<Registry>,
    /// Parked clients: the write path's fast check.
    waiting: AtomicUsize,
    has_ready: AtomicBool,
    /// The server's write listeners: `BLOCKED` counts the parked clients (`waiting`).
    listeners: Arc<crate::write_listeners::WriteListeners>,
}

impl Blocking {
    /// Reports parked clients to `listeners` (done once, when the server state is built).
    pub fn attach_listeners(&mut self, listeners: Arc<crate::write_listeners::WriteListeners>) {
        self.listeners = listeners;
    }

    /// Clients blocked now (INFO `blocked_clients`).
    pub fn blocked_clients(&self) -> usize {
        self.waiting.load(Ordering::Relaxed)
    }

    /// Distinct keys clients block on (INFO `total_blocking_keys`) and blocked clients with a
    /// deadline (`clients_in_timeout_table`).
    pub fn counts(&self) -> (usize, usize) {
        let reg = self.registry.lock();
        let keys = reg.by_key.values().map(|m| m.len()).sum();
        let timed = reg
            .by_client
            .values()
            .filter(|w| w.request.deadline_ms.is_some())
            .count();
        (keys, timed)
    }

    /// Called for every key a command changes: a key some client waits on becomes ready.
    pub fn signal(&self, db: usize, key: &[u8]) {
        if self.waiting.load(Ordering::Relaxed) == 0 {
            return;
        }
        let mut reg = self.registry.lock();
        let watched = reg.by_key.get(&db).is_some_and(|m| m.contains_key(key));
        if watched && !reg.ready.iter().any(|(d, k)| *d == db && **k == *key) {
            reg.ready.push_back((db, key.into()));
            self.has_ready.store(true, Ordering::Release);
        }
    }

    /// True when `serve_ready` has work (checked after every command).
    pub fn has_ready(&self) -> bool {
        self.has_ready.load(Ordering::Acquire)
    }

    /// Parks `client` until one of the request's keys serves it. Registers the waiter first,
    /// then checks the keys once more, so a push between the command and the registration is
    /// not missed.
    pub fn park(
        &self,
        keyspace: &Keyspace,
        clock: &Clock,
        client: ClientState,
        mut request: BlockRequest,
        argv: Vec<Bytes>,
    ) -> Arc<Waiter> {
        let argv = request.rerun.take().unwrap_or(argv);
        let db = client.db;
        {
            let mut details = client.info.details.lock();
            details.blocked = true;
            details.argv_mem = crate::engine::client::argv_mem(&argv);
            details.argc = argv.len();
        }
        let waiter = Arc::new(Waiter {
            client_id: client.id,
            db,
            request,
            argv,
            slot: Mutex::new(Slot {
                phase: Phase::Waiting,
                client: Some(client),
            }),
            wake: Notify::new(),
        });
        {
            let mut reg = self.registry.lock();
            let queues = reg.by_key.entry(db).or_default();
            for key in &waiter.request.keys {
                let queue = queues.entry(key.as_ref().into()).or_default();
                // A key named twice (BLPOP k k 0) queues the client once.
                if !queue.iter().any(|w| Arc::ptr_eq(w, &waiter)) {
                    queue.push_back(waiter.clone());
                }
            }
            reg.by_client.insert(waiter.client_id, waiter.clone());
            self.waiting.fetch_add(1, Ordering::Relaxed);
            // Under the registry's lock, before the keys are checked again below.
            self.listeners.add(crate::write_listeners::BLOCKED, 1);
        }
        for key in &waiter.request.keys {
            if key_holds(keyspace, clock, db, key, waiter.request.wants) {
                self.signal(db, key);
            }
        }
        waiter
    }

    /// Serves the waiters of every ready key (see `engine::blocking`): each waiter's command is
    /// run again by `run` with its own client state. Runs on the connection that made the keys
    /// ready, after its command, holding no lock.
    pub fn serve_ready(
        &self,
        keyspace: &Keyspace,
        clock: &Clock,
        mut run: impl FnMut(&mut ClientState, &[Bytes]) -> Reply,
    ) {
        while let Some((db, key)) = self.next_ready() {
            for waiter in self.waiters_on(db, &key) {
                if !waiter.request.on_any_change
                    && !key_holds(keyspace, clock, db, &key, waiter.request.wants)
                {
                    continue;
                }
                let Some(mut client) = waiter.claim() else {
                    continue;
                };
                client.blocking.retrying = true;
                let reply = run(&mut client, &waiter.argv);
                client.blocking.retrying = false;
                if client.blocking.request.take().is_some() {
                    waiter.put_back(client);
                    continue;
                }
                self.remove(&waiter);
                waiter.finish(client, reply);
            }
        }
    }

    /// Ends a wait from the waiter's side: served, or (on a deadline or disconnect) removed
    /// with the timeout reply. A waiter being served right now stays pending until served.
    pub fn settle(&self, counts: Counts<'_>, waiter: &Arc<Waiter>, ending: Ending) -> Settled {
        let mut reg = self.registry.lock();
        let mut slot = waiter.slot.lock();
        match std::mem::replace(&mut slot.phase, Phase::Waiting) {
            Phase::Done(reply) => {
                let client = slot
                    .client
                    .take()
                    .expect("a finished waiter holds its client");
                client.info.details.lock().end_block();
                Settled::Done(Box::new(client), reply)
            }
            Phase::Waiting if ending != Ending::None => {
                let client = slot
                    .client
                    .take()
                    .expect("a waiting waiter holds its client");
                // A tombstone, so no server claims it once the slot is released.
                slot.phase = Phase::Done(Reply::Nil);
                drop(slot);
                self.remove_locked(&mut reg, waiter);
                client.info.details.lock().end_block();
                let reply = waiter.request.timeout_reply.clone();
                counts.unserved(&waiter.argv, &reply);
                Settled::Done(Box::new(client), reply)
            }
            other => {
                slot.phase = other;
                Settled::Pending
            }
        }
    }

    /// Ends client `id`'s wait with `reply`: a wait on something else than keys (WAIT's
    /// replica acknowledgements). False if it is not blocked.
    pub fn complete(&self, counts: Counts<'_>, id: u64, reply: Reply) -> bool {
        self.end_wait(counts, id, |_| reply)
    }

    /// CLIENT UNBLOCK: ends client `id`'s wait with its timeout reply, or with Redis's
    /// UNBLOCKED error. False if it is not blocked.
    pub fn unblock(&self, counts: Counts<'_>, id: u64, with_error: bool) -> bool {
        self.end_wait(counts, id, |waiter| {
            if with_error {
                Reply::error("UNBLOCKED client unblocked via CLIENT UNBLOCK")
            } else {
                waiter.request.timeout_reply.clone()
            }
        })
    }

    /// Ends client `id`'s wait, if it is still waiting, with the reply `reply_of` gives for its
    /// waiter; false if it is not blocked.
    fn end_wait(
        &self,
        counts: Counts<'_>,
        id: u64,
        reply_of: impl FnOnce(&Waiter) -> Reply,
    ) -> bool {
        let mut reg = self.registry.lock();
        let Some(waiter) = reg.by_client.get(&id).cloned() else {
            return false;
        };
        let reply = reply_of(&waiter);
        {
            let mut slot = waiter.slot.lock();
            if !matches!(slot.phase, Phase::Waiting) {
                return false;
            }
            counts.unserved(&waiter.argv, &reply);
            slot.phase = Phase::Done(reply);
        }
        self.remove_locked(&mut reg, &waiter);
        drop(reg);
        waiter.wake.notify_one();
        true
    }

    /// Ends every wait with the error `text` (a node becoming a replica, as Redis's
    /// `disconnectAllBlockedClients`: a waiter served later would change the replica's data).
    /// The number of clients unblocked.
    pub fn unblock_all(&self, counts: Counts<'_>, text: &'static str) -> usize {
        let ids: Vec<u64> = self.registry.lock().by_client.keys().copied().collect();
        let mut count = 0;
        for id in ids {
            let mut reg = self.registry.lock();
            let Some(waiter) = reg.by_client.get(&id).cloned() else {
                continue;
            };
            let reply = Reply::error(text);
            {
                let mut slot = waiter.slot.lock();
                if !matches!(slot.phase, Phase::Waiting) {
                    continue;
                }
                counts.unserved(&waiter.argv, &reply);
                slot.phase = Phase::Done(reply);
            }
            self.remove_locked(&mut reg, &waiter);
            drop(reg);
            waiter.wake.notify_one();
            count += 1;
        }
        count
    }

    fn next_ready(&self) -> Option<(usize, Box<[u8]>)> {
        let mut reg = self.registry.lock();
        let next = reg.ready.pop_front();
        if reg.ready.is_empty() {
            self.has_ready.store(false, Ordering::Release);
        }
        next
    }

    fn waiters_on(&self, db: usize, key: &[u8]) -> Vec<Arc<Waiter>> {
        let reg = self.registry.lock();
        reg.by_key
            .get(&db)
            .and_then(|m| m.get(key))
            .map(|q| q.iter().cloned().collect())
            .unwrap_or_default()
    }

    fn remove(&self, waiter: &Arc<Waiter>) {
        let mut reg = self.registry.lock();
        self.remove_locked(&mut reg, waiter);
    }

    fn remove_locked(&self, reg: &mut Registry, waiter: &Arc<Waiter>) {
        if reg.by_client.remove(&waiter.client_id).is_none() {
            return;
        }
        self.waiting.fetch_sub(1, Ordering::Relaxed);
        self.listeners.remove(crate::write_listeners::BLOCKED, 1);
        let Some(queues) = reg.by_key.get_mut(&waiter.db) else {
            return;
        };
        for key in &waiter.request.keys {
            if let Some(queue) = queues.get_mut(key.as_ref()) {
                queue.retain(|w| !Arc::ptr_eq(w, waiter));
                if queue.is_empty() {
                    queues.remove(key.as_ref());
                }
            }
        }
        if queues.is_empty() {
            reg.by_key.remove(&waiter.db);
        }
    }
}

/// What counts a blocked call that ended without being served (timeout, CLIENT UNBLOCK), as
/// Redis's `updateStatsOnUnblock`: dispatch skipped it when it blocked.
#[derive(Clone, Copy)]
pub struct Counts<'a> {
    pub registry: &'a crate::engine::registry::Registry,
    pub stats: &'a ServerStats,
}

impl Counts<'_> {
    fn unserved(&self, argv: &[Bytes], reply: &Reply) {
        let Ok(found) = self.registry.resolve(argv) else {
            return;
        };
        found.stats.calls.fetch_add(1, Ordering::Relaxed);
        ServerStats::add(&self.stats.commands_processed, 1);
        if let Reply::Error(text) = reply {
            found.stats.failed_calls.fetch_add(1, Ordering::Relaxed);
            self.stats.record_error(text);
        }
    }
}

/// True if `key` in `db` is live and holds a value of type `wants`. Takes the key's shard lock
/// briefly; never counts a hit, expires or touches the key.
fn key_holds(ks: &Keyspace, clock: &Clock, db: usize, key: &[u8], wants: &str) -> bool {
    let hash = ks.hash(key);
    let id = ShardId {
        db,
        shard: ks.shard_of(hash),
    };
    let now = clock.now_ms();
    ks.lock(id).type_of_live(hash, key, now) == Some(wants)
}
