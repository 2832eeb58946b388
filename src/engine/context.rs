//! What a running command sees: the shared server state, its client's state, the command's
//! clock instant, and the shard locks dispatch took for it.

use crate::engine::client::ClientState;
use crate::error::CommandError;
use crate::keyspace::{HeldShards, Shard, ShardId};
use crate::state::ServerState;

/// The shard locks held for one command (or one whole transaction), sorted by `ShardId`.
pub struct Locks<'a> {
    held: HeldShards<'a>,
    /// An exclusive command (script, EXEC ...) locks each shard when it first touches it and
    /// keeps it to the end; no other command runs meanwhile (see gate.rs).
    lazy: Option<&'a crate::keyspace::Keyspace>,
    /// The hash dispatch computed to choose a key's shard, with the key's address and length
    /// in the request: the command's own lookups of that very argument reuse it instead of
    /// hashing the key again (the request outlives the command, so the address names it).
    known_hash: Option<(usize, usize, u64)>,
}

impl<'a> Locks<'a> {
    pub fn new(held: HeldShards<'a>) -> Locks<'a> {
        Locks {
            held,
            lazy: None,
            known_hash: None,
        }
    }

    pub fn none() -> Locks<'a> {
        Locks::new(HeldShards::new())
    }

    /// Remembers the hash of `key`, an argument of the running request (see `known_hash`).
    pub fn with_key_hash(mut self, key: &[u8], hash: u64) -> Locks<'a> {
        self.known_hash = Some((key.as_ptr() as usize, key.len(), hash));
        self
    }

    /// Starts the lookups of these keys (hashes in database `db`) in the held shards, one stage
    /// of each key at a time, so their cache misses overlap (see `Shard::prefetch_stage`).
    pub fn prefetch(&self, keyspace: &crate::keyspace::Keyspace, db: usize, hashes: &[u64]) {
        for stage in 0..3 {
            for &hash in hashes {
                let id = ShardId {
                    db,
                    shard: keyspace.shard_of(hash),
                };
                if let Ok(i) = self.held.binary_search_by(|(held, _)| held.cmp(&id)) {
                    self.held[i].1.prefetch_stage(hash, stage);
                }
            }
        }
    }

    /// The hash of `key` if it is the argument dispatch hashed.
    #[inline]
    fn known_hash(&self, key: &[u8]) -> Option<u64> {
        match self.known_hash {
            Some((at, len, hash)) if at == key.as_ptr() as usize && len == key.len() => Some(hash),
            _ => None,
        }
    }

    /// Every shard, each locked on first use (only inside the gate's exclusive section).
    pub fn on_first_use(keyspace: &'a crate::keyspace::Keyspace) -> Locks<'a> {
        Locks {
            lazy: Some(keyspace),
            ..Locks::none()
        }
    }

    fn get(&mut self, id: ShardId) -> Option<&mut Shard> {
        let found = if self.held.len() == 1 {
            if self.held[0].0 == id {
                Ok(0)
            } else {
                Err(usize::from(self.held[0].0 < id))
            }
        } else {
            self.held.binary_search_by(|(held, _)| held.cmp(&id))
        };
        let i = match found {
            Ok(i) => i,
            Err(at) => {
                let keyspace = self.lazy?;
                self.held.insert(at, (id, keyspace.lock(id)));
                at
            }
        };
        Some(&mut *self.held[i].1)
    }

    /// A held shard, or `None` when this command does not hold it.
    pub fn shard_mut(&mut self, id: ShardId) -> Option<&mut Shard> {
        self.get(id)
    }

    /// Keys expired in the held shards since their last drain, as (db, key).
    pub fn take_expired(&mut self) -> Vec<(usize, Box<[u8]>)> {
        let mut out = Vec::new();
        for (id, shard) in self.held.iter_mut() {
            out.extend(shard.take_expired().into_iter().map(|key| (id.db, key)));
        }
        out
    }

    pub fn holds(&self, id: ShardId) -> bool {
        self.lazy.is_some()
            || self
                .held
                .binary_search_by(|(held, _)| held.cmp(&id))
                .is_ok()
    }

    /// True when the command holds no shard (an exclusive command counts as holding all).
    pub fn is_empty(&self) -> bool {
        self.held.is_empty() && self.lazy.is_none()
    }

    /// True when no shard is locked yet, even by an exclusive command (which may then lock
    /// shards through the keyspace itself, one at a time).
    pub fn none_locked_yet(&self) -> bool {
        self.held.is_empty()
    }
}

impl crate::gate::HeldShard for Locks<'_> {
    fn held_shard(&mut self, id: ShardId) -> Option<&mut Shard> {
        self.get(id)
    }
}

pub struct Ctx<'a> {
    pub state: &'a ServerState,
    pub client: &'a mut ClientState,
    /// The command's clock instant, read once at dispatch (unix ms).
    pub now_ms: u64,
    pub locks: Locks<'a>,
    /// Keys this command changed, as (db, key); dispatch feeds them to WATCH, notifications and
    /// the `dirty` counter.
    pub changed: u64,
    /// What this command propagates to the AOF (see `propagate` and aof/effects.rs).
    pub effects: crate::aof::Effects,
}

impl<'a> Ctx<'a> {
    pub fn db(&self) -> usize {
        self.client.db
    }

    /// The locked shard holding `key` in database `db`, and the key's hash.
    pub fn shard_in(&mut self, db: usize, key: &[u8]) -> (&mut Shard, u64) {
        let ks = &self.state.keyspace;
        let hash = self.locks.known_hash(key).unwrap_or_else(|| ks.hash(key));
        let id = ShardId {
            db,
            shard: ks.shard_of(hash),
        };
        let shard = self
            .locks
            .get(id)
            .unwrap_or_else(|| panic!("shard {id:?} not locked for this command"));
        (shard, hash)
    }

    /// The locked shard holding `key` in the client's database, and the key's hash.
    pub fn shard(&mut self, key: &[u8]) -> (&mut Shard, u64) {
        let db = self.client.db;
        self.shard_in(db, key)
    }

    /// Runs `f` on every shard of database `db`, one at a time: held shards directly, the others
    /// locked briefly (only when no other lock is held, so no lock-order inversion is possible).
    pub fn for_each_shard(&mut self, db: usize, mut f: impl FnMut(usize, &mut Shard)) {
        let n = self.state.keyspace.shards_per_db();
        for shard in 0..n {
            let id = ShardId { db, shard };
            self.with_shard(id, |s| f(shard, s));
        }
    }

    /// Runs `f` on one shard, held or locked briefly.
    pub fn with_shard<R>(&mut self, id: ShardId, f: impl FnOnce(&mut Shard) -> R) -> R {
        if let Some(shard) = self.locks.get(id) {
            return f(shard);
        }
        assert!(
            self.locks.is_empty(),
            "a command holding locks may only visit held shards"
        );
        let mut guard = self.state.keyspace.lock(id);
        let result = f(&mut guard);
        let expired = guard.take_expired();
        if self.logging() && !expired.is_empty() {
            // Logged before the lock is released, so a later write to the key is logged after.
            let ks = &self.state.keyspace;
            let now = self.now_ms;
            let gone: Vec<Box<[u8]>> = expired
                .iter()
                .filter(|key| guard.type_of_live(ks.hash(key), key, now).is_none())
                .cloned()
                .collect();
            self.state.aof.log_deletions(id.db, &gone);
        }
        drop(guard);
        self.note_expired(id.db, expired);
        result
    }

    /// Records `expired` events for keys a lookup removed (published after the command).
    pub fn note_expired(&mut self, db: usize, keys: Vec<Box<[u8]>>) {
        for key in keys {
            self.state
                .pubsub
                .tracking
                .invalidate(self.state.pubsub_handle(), &key, None);
            self.notify(crate::pubsub::notify::EXPIRED, "expired", db, &key);
        }
    }

    /// Collects the keys lazily expired in the shards this command holds, before it releases
    /// them, and records their `expired` events ahead of the command's own (the lookup that
    /// removed them came first).
    pub fn drain_expired(&mut self) {
        if !self.state.keyspace.tunables.expiry.expired_keys_recorded() {
            return;
        }
        let own = std::mem::take(&mut self.client.pubsub.events);
        let expired: Vec<(usize, Box<[u8]>)> = self.locks.take_expired();
        if self.logging() && !expired.is_empty() {
            // The lookups that removed them came before the command's own effects. A key that
            // is live again was re-created by a write already logged: no DEL for it.
            let now = self.now_ms;
            let gone: Vec<&(usize, Box<[u8]>)> = expired
                .iter()
                .filter(|(db, key)| {
                    let (shard, hash) = self.shard_in(*db, key);
                    shard.type_of_live(hash, key, now).is_none()
                })
                .collect();
            let dels = gone.into_iter().map(|(db, key)| {
                (
                    *db,
                    vec![
                        bytes::Bytes::from_static(b"DEL"),
                        bytes::Bytes::copy_from_slice(key),
                    ],
                )
            });
            let own_records = std::mem::take(&mut self.effects.records);
            self.effects.records.extend(dels);
            self.effects.records.extend(own_records);
        }
        for (db, key) in expired {
            self.state
                .pubsub
                .tracking
                .invalidate(self.state.pubsub_handle(), &key, None);
            self.notify(crate::pubsub::notify::EXPIRED, "expired", db, &key);
        }
        self.client.pubsub.events.extend(own);
    }

    /// Records that a key was changed (Redis's `signalModifiedKey` + `server.dirty++`): wakes
    /// clients blocked on it, invalidates it for tracking clients, marks the clients WATCHing
    /// it. One branch when none of them exists (see write_listeners.rs).
    #[inline]
    pub fn key_changed(&mut self, db: usize, key: &[u8]) {
        self.changed += 1;
        let listening = self.state.writes.word();
        if listening != 0 {
            self.tell_listeners(listening, db, key);
        }
    }

    #[inline(never)]
    fn tell_listeners(&mut self, listening: u32, db: usize, key: &[u8]) {
        use crate::write_listeners::{BLOCKED, TRACKING, WATCH};
        if listening & BLOCKED != 0 {
            self.state.blocking.signal(db, key);
        }
        if listening & TRACKING != 0 {
            let origin = self.client.id;
            self.state
                .pubsub
                .tracking
                .invalidate(self.state.pubsub_handle(), key, Some(origin));
        }
        if listening & WATCH != 0 {
            let (shard, hash) = self.shard_in(db, key);
            shard.touch_watched(hash, key);
            // Watches taken while a script held every shard are not in the shard yet.
            self.state.gate.touch_deferred(db, key);
        }
    }

    /// Raises a keyspace notification (Redis's `notifyKeyspaceEvent`); dispatch publishes it
    /// after the command has released its shard locks. `class` is a `pubsub::notify` constant.
    pub fn notify(&mut self, class: u32, event: &'static str, db: usize, key: &[u8]) {
        crate::pubsub::notify::record(
            &self.state.config,
            &mut self.client.pubsub,
            class,
            event,
            db,
            key,
        );
    }

    /// True while effects are logged: commands build `propagate` arguments only then.
    pub fn logging(&self) -> bool {
        self.state.aof.recording()
    }

    /// Says what this command logs to the AOF instead of its request (may be called several
    /// times; each call adds one record in the client's current database). A write command
    /// that calls it is logged only as what it propagated; see aof/effects.rs.
    pub fn propagate(&mut self, argv: Vec<bytes::Bytes>) {
        let db = self.client.db;
        self.propagate_in(db, argv);
    }

    /// `propagate` for a record in another database (MOVE-like commands).
    pub fn propagate_in(&mut self, db: usize, argv: Vec<bytes::Bytes>) {
        self.effects.declared = true;
        if self.logging() {
            self.effects.records.push((db, argv));
        }
    }

    /// Logs nothing for this command even if it changed something.
    pub fn propagate_nothing(&mut self) {
        self.effects.declared = true;
    }

    /// Parses a database index argument, with Redis's error texts.
    pub fn parse_db_index(&self, arg: &[u8]) -> Result<usize, CommandError> {
        let n = crate::engine::args::parse_i64(arg)
            .map_err(|_| CommandError::err("value is not an integer or out of range"))?;
        if n < 0 || n as usize >= self.state.keyspace.databases() {
            return Err(CommandError::DbIndex);
        }
        Ok(n as usize)
    }
}

/// Drops a client's transaction and watches outside any command (disconnect, RESET).
pub fn reset_client(state: &ServerState, client: &mut ClientState) {
    crate::pubsub::forget_client(
        &state.pubsub,
        &state.keyspace.tunables.expiry,
        &mut client.pubsub,
    );
    discard_refused(state, client);
}

/// Drops the transaction and the watches of a client whose EXEC was refused before it ran
/// (Redis's `discardTransaction`).
pub fn discard_refused(state: &ServerState, client: &mut ClientState) {
    client.multi = None;
    client.info.details.lock().multi = -1;
    let flag = client.watch.flag.clone();
    let keys = std::mem::take(&mut client.watch.keys);
    let watched = keys.len();
    for (db, key) in keys {
        // Never waits for a shard a script holds (the removal is left to it then).
        state
            .gate
            .change_watch(&state.keyspace, &state.clock, db, &key, &flag, false);
    }
    state.writes.remove(crate::write_listeners::WATCH, watched);
    flag.clear();
}
