//! Server-assisted client-side caching (CLIENT TRACKING): which clients hold which keys, and
//! the invalidation messages sent when those keys change, expire, are evicted or flushed.
//!
//! Default mode remembers the keys a tracking client read (the table maps key names, in any
//! database, to client ids, as Redis's does) and forgets a key once its invalidation is sent.
//! BCAST mode remembers nothing: every change of a key under one of the client's prefixes is
//! sent. Messages go to the client itself in RESP3 (`>2 invalidate [keys]`), or to the client
//! it redirects to: a RESP3 push, or for a RESP2 subscriber the `message` frame of the
//! `__redis__:invalidate` channel. With no client tracking, a write pays one relaxed atomic load.

use super::{BufferLimits, Handle, Outbox};
use crate::keyspace::expiry::ExpirySwitches;
use crate::protocol::{Protocol, Reply};
use bytes::{Bytes, BytesMut};
use parking_lot::{Mutex, RwLock};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

const INVALIDATE_CHANNEL: &str = "__redis__:invalidate";

/// A connection's tracking settings (CLIENT TRACKING ON ...), kept with its other pub/sub state.
#[derive(Debug, Clone, Default)]
pub struct TrackingMode {
    /// Client id invalidations go to; 0 = this connection.
    pub redirect: u64,
    pub bcast: bool,
    pub optin: bool,
    pub optout: bool,
    pub noloop: bool,
    pub prefixes: Vec<Bytes>,
    /// CLIENT CACHING yes|no given for the next command.
    pub caching: bool,
}

impl TrackingMode {
    /// Whether the keys of the command now ending are remembered (OPTIN needs CLIENT CACHING
    /// yes before it, OPTOUT skips after CLIENT CACHING no).
    pub fn remembers(&self) -> bool {
        !self.bcast
            && if self.optin {
                self.caching
            } else if self.optout {
                !self.caching
            } else {
                true
            }
    }
}

/// What the server keeps for a tracking client, to reach it from other connections.
#[derive(Debug)]
struct Tracker {
    outbox: Arc<Outbox>,
    redirect: u64,
    noloop: bool,
    broken_redirect: AtomicBool,
    /// The client's own command invalidated a key it tracks: the message must follow that
    /// command's reply (Redis 7 defers it the same way).
    own_write_invalidated: AtomicBool,
}

/// INFO's tracking figures.
#[derive(Debug, Default, Clone, Copy)]
pub struct TrackingFigures {
    pub clients: usize,
    /// Keys in the table, and (key, client) pairs in it.
    pub keys: usize,
    pub items: usize,
    /// Distinct BCAST prefixes.
    pub prefixes: usize,
}

#[derive(Debug, Default)]
pub struct Tracking {
    /// Clients with tracking on: writes skip all the work below when it is 0.
    active: AtomicUsize,
    trackers: RwLock<HashMap<u64, Arc<Tracker>>>,
    /// Key name -> ids of the clients that read it (default mode).
    table: Mutex<HashMap<Box<[u8]>, Vec<u64>>>,
    /// BCAST registrations: (prefix, client id).
    prefixes: RwLock<Vec<(Bytes, u64)>>,
    /// The server's write listeners: `TRACKING` counts the clients with tracking on.
    listeners: Arc<crate::write_listeners::WriteListeners>,
}

impl Tracking {
    /// Reports tracking clients to `listeners` (done once, when the server state is built).
    pub fn attach_listeners(&mut self, listeners: Arc<crate::write_listeners::WriteListeners>) {
        self.listeners = listeners;
    }

    pub fn figures(&self) -> TrackingFigures {
        let (keys, items) = {
            let table = self.table.lock();
            (table.len(), table.values().map(Vec::len).sum())
        };
        let mut prefixes: Vec<Bytes> = self
            .prefixes
            .read()
            .iter()
            .map(|(p, _)| p.clone())
            .collect();
        prefixes.sort_unstable();
        prefixes.dedup();
        TrackingFigures {
            clients: self.active.load(Ordering::Relaxed),
            keys,
            items,
            prefixes: prefixes.len(),
        }
    }

    pub fn is_active(&self) -> bool {
        self.active.load(Ordering::Relaxed) > 0
    }

    /// Turns tracking on (or updates it) for a client.
    /// `expiry`: the keyspace's switches (expired keys are recorded while anyone tracks).
    pub fn enable(&self, expiry: &ExpirySwitches, outbox: &Arc<Outbox>, mode: &TrackingMode) {
        let id = outbox.id();
        let tracker = Arc::new(Tracker {
            outbox: outbox.clone(),
            redirect: mode.redirect,
            noloop: mode.noloop,
            broken_redirect: AtomicBool::new(false),
            own_write_invalidated: AtomicBool::new(false),
        });
        if self.trackers.write().insert(id, tracker).is_none() {
            self.listeners.add(crate::write_listeners::TRACKING, 1);
            if self.active.fetch_add(1, Ordering::Relaxed) == 0 {
                expiry.set_tracking_needs_expired_keys(true);
            }
        }
        let mut prefixes = self.prefixes.write();
        prefixes.retain(|(_, owner)| *owner != id);
        prefixes.extend(mode.prefixes.iter().map(|p| (p.clone(), id)));
    }

    /// Turns tracking off for a client; its ids left in the key table are dropped lazily.
    pub fn disable(&self, expiry: &ExpirySwitches, id: u64) {
        if self.trackers.write().remove(&id).is_some() {
            self.listeners.remove(crate::write_listeners::TRACKING, 1);
            if self.active.fetch_sub(1, Ordering::Relaxed) == 1 {
                expiry.set_tracking_needs_expired_keys(false);
            }
            self.prefixes.write().retain(|(_, owner)| *owner != id);
        }
    }

    /// True once after a command of client `id` invalidated a key it tracks itself.
    pub fn take_own_write_invalidated(&self, id: u64) -> bool {
        self.trackers
            .read()
            .get(&id)
            .is_some_and(|t| t.own_write_invalidated.swap(false, Ordering::Relaxed))
    }

    pub fn has_broken_redirect(&self, id: u64) -> bool {
        self.trackers
            .read()
            .get(&id)
            .is_some_and(|t| t.broken_redirect.load(Ordering::Relaxed))
    }

    /// Remembers that client `id` read `keys` (default mode), within tracking-table-max-keys:
    /// beyond it, other keys are invalidated and forgotten as Redis does.
    pub fn remember<'k>(&self, to: Handle, id: u64, keys: impl Iterator<Item = &'k [u8]>) {
        let max = to.config.get_i64("tracking-table-max-keys").max(0) as usize;
        let mut evicted = Vec::new();
        {
            let mut table = self.table.lock();
            for key in keys {
                match table.get_mut(key) {
                    Some(ids) => {
                        if !ids.contains(&id) {
                            ids.push(id);
                        }
                    }
                    None => {
                        table.insert(key.into(), vec![id]);
                    }
                }
            }
            while max > 0 && table.len() > max {
                let Some(victim) = table.keys().next().cloned() else {
                    break;
                };
                if let Some(ids) = table.remove(&victim) {
                    evicted.push((victim, ids));
                }
            }
        }
        for (key, ids) in evicted {
            self.send_to(to, &ids, Some(&key), None);
        }
    }

    /// `key` changed (written, deleted, expired or evicted) by client `origin` (None: the
    /// server): tells the clients that read it and the BCAST clients whose prefix it has.
    pub fn invalidate(&self, to: Handle, key: &[u8], origin: Option<u64>) {
        if !self.is_active() {
            return;
        }
        let readers = self.table.lock().remove(key).unwrap_or_default();
        let mut ids = readers;
        for (prefix, id) in self.prefixes.read().iter() {
            if key.starts_with(prefix) && !ids.contains(id) {
                ids.push(*id);
            }
        }
        self.send_to(to, &ids, Some(key), origin);
    }

    /// FLUSHALL / FLUSHDB: a null invalidation to every tracking client; the table empties.
    pub fn flush(&self, to: Handle) {
        if !self.is_active() {
            return;
        }
        self.table.lock().clear();
        let ids: Vec<u64> = self.trackers.read().keys().copied().collect();
        self.send_to(to, &ids, None, None);
    }

    fn send_to(&self, to: Handle, ids: &[u64], key: Option<&[u8]>, origin: Option<u64>) {
        let trackers: Vec<Arc<Tracker>> = {
            let all = self.trackers.read();
            ids.iter().filter_map(|id| all.get(id).cloned()).collect()
        };
        for tracker in trackers {
            if origin == Some(tracker.outbox.id()) {
                if tracker.noloop {
                    continue;
                }
                tracker.own_write_invalidated.store(true, Ordering::Relaxed);
            }
            deliver(to, &tracker, key);
        }
    }
}

fn encode(frame: Reply, protocol: Protocol) -> Bytes {
    let mut out = BytesMut::new();
    frame.encode(protocol, &mut out);
    out.freeze()
}

/// Sends one invalidation for `key` (None: everything) where the tracker's settings say.
fn deliver(to: Handle, tracker: &Tracker, key: Option<&[u8]>) {
    let limits = BufferLimits::pubsub(to.config);
    let now_ms = to.clock.now_ms();
    let keys = match key {
        Some(key) => Reply::Array(vec![Reply::bulk(Bytes::copy_from_slice(key))]),
        None => Reply::Nil,
    };
    let (target, redirected) = if tracker.redirect == 0 {
        (tracker.outbox.clone(), false)
    } else {
        match super::outbox_of(to.clients, tracker.redirect) {
            Some(target) => (target, true),
            None => {
                tracker.broken_redirect.store(true, Ordering::Relaxed);
                if tracker.outbox.protocol() == Protocol::Resp3 {
                    let frame = Reply::Push(vec![
                        Reply::bulk_static("tracking-redir-broken"),
                        Reply::Int(tracker.redirect as i64),
                    ]);
                    tracker
                        .outbox
                        .push(encode(frame, Protocol::Resp3), limits, now_ms, to.stats);
                }
                return;
            }
        }
    };
    let protocol = target.protocol();
    let frame = if protocol == Protocol::Resp3 {
        Reply::Push(vec![Reply::bulk_static("invalidate"), keys])
    } else if redirected && super::is_subscriber(to.clients, target.id()) {
        Reply::Push(vec![
            Reply::bulk_static("message"),
            Reply::bulk_static(INVALIDATE_CHANNEL),
            keys,
        ])
    } else {
        // RESP2 without a redirect has no way to carry a message on the same connection.
        return;
    };
    target.push(encode(frame, protocol), limits, now_ms, to.stats);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn which_commands_are_remembered() {
        let mut mode = TrackingMode::default();
        assert!(mode.remembers());
        mode.optin = true;
        assert!(!mode.remembers());
        mode.caching = true;
        assert!(mode.remembers());
        let optout = TrackingMode {
            optout: true,
            caching: true,
            ..Default::default()
        };
        assert!(!optout.remembers());
        let bcast = TrackingMode {
            bcast: true,
            ..Default::default()
        };
        assert!(!bcast.remembers());
    }
}
