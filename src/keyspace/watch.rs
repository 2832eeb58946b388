//! WATCH bookkeeping: which clients watch which keys of a shard.
//!
//! A client that WATCHes keys owns one `WatchFlag`; the shard that holds each key keeps a
//! reference to it. Any change to a watched key — a write, a deletion, an expiry, a flush —
//! sets the flag, and EXEC refuses to run when it is set (Redis's CLIENT_DIRTY_CAS). The map is
//! empty unless someone watches, so the write path pays one `is_empty` branch.
//!
//! Logically expired keys follow Redis 7: a key already past its deadline (but not yet deleted)
//! when WATCHed is watched as *stale*; deleting it (lazily, by active expiry, FLUSHDB or SWAPDB)
//! is no change, since it did not exist logically before either. A key alive at WATCH whose
//! deadline passes before EXEC fails the EXEC, deleted or not.

use hashbrown::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// Set when a watched key changed; shared by a client and the shards it watches.
#[derive(Debug, Default)]
pub struct WatchFlag(AtomicBool);

impl WatchFlag {
    pub fn set(&self) {
        self.0.store(true, Ordering::Relaxed);
    }

    pub fn is_set(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }

    pub fn clear(&self) {
        self.0.store(false, Ordering::Relaxed);
    }
}

/// What a database holds under a key, expired or not (Redis's `dictFind` and `keyIsExpired`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyState {
    Absent,
    Live,
    /// Past its deadline but not deleted yet.
    Stale,
}

/// One client's watch of one key. `stale` is Redis's `watchedKey.expired`: the key was already
/// past its deadline (but not deleted) when WATCHed, so deleting it changes nothing logically.
struct Watch {
    flag: Arc<WatchFlag>,
    stale: bool,
}

#[derive(Default)]
pub struct Watchers {
    by_key: HashMap<Box<[u8]>, Vec<Watch>>,
}

impl Watchers {
    pub fn is_empty(&self) -> bool {
        self.by_key.is_empty()
    }

    /// Registers a watch; `state` is the key's state now (a stale key is watched as stale).
    pub fn add(&mut self, key: &[u8], flag: &Arc<WatchFlag>, state: KeyState) {
        if !self.by_key.contains_key(key) {
            self.by_key.insert(key.into(), Vec::new());
        }
        let list = self.by_key.get_mut(key).expect("inserted above");
        if !list.iter().any(|w| Arc::ptr_eq(&w.flag, flag)) {
            list.push(Watch {
                flag: flag.clone(),
                stale: state == KeyState::Stale,
            });
        }
    }

    pub fn remove(&mut self, key: &[u8], flag: &Arc<WatchFlag>) {
        if let Some(list) = self.by_key.get_mut(key) {
            list.retain(|w| !Arc::ptr_eq(&w.flag, flag));
            if list.is_empty() {
                self.by_key.remove(key);
            }
        }
    }

    /// True if `flag`'s client watched `key` while it was stale and it has not been deleted
    /// since (EXEC does not count such a key's expiry as a change).
    pub fn is_stale_watch(&self, key: &[u8], flag: &Arc<WatchFlag>) -> bool {
        self.by_key
            .get(key)
            .is_some_and(|list| list.iter().any(|w| w.stale && Arc::ptr_eq(&w.flag, flag)))
    }

    /// Marks every client watching `key`, which was just written or deleted (Redis's
    /// `touchWatchedKey`). `exists` tells whether the key is still stored: a key watched while
    /// stale that is now gone was deleted without a logical change, so that watch only forgets
    /// it was stale.
    pub fn touch(&mut self, key: &[u8], exists: bool) {
        if let Some(list) = self.by_key.get_mut(key) {
            for w in list {
                if w.stale && !exists {
                    w.stale = false;
                } else {
                    w.flag.set();
                }
            }
        }
    }

    /// The database is emptied (flush) or its contents replaced (SWAPDB), as Redis's
    /// `touchAllWatchedKeysInDb`: `here` is each watched key's state before, `replaced` its
    /// state in the contents that take their place (`Absent` for a flush).
    pub fn touch_emptied(
        &mut self,
        mut here: impl FnMut(&[u8]) -> KeyState,
        mut replaced: impl FnMut(&[u8]) -> KeyState,
    ) {
        for (key, list) in &mut self.by_key {
            let (before, after) = (here(key), replaced(key));
            if before == KeyState::Absent && after == KeyState::Absent {
                continue;
            }
            for w in list.iter_mut() {
                if w.stale {
                    match after {
                        // The stale key is gone: no logical change.
                        KeyState::Absent => {
                            w.stale = false;
                            continue;
                        }
                        // Expired before, expired after.
                        KeyState::Stale => continue,
                        KeyState::Live => {}
                    }
                } else if before == KeyState::Absent && after == KeyState::Stale {
                    // A missing key replaced by an expired one.
                    w.stale = true;
                    continue;
                }
                w.flag.set();
            }
        }
    }

    /// The keys watched here.
    pub fn keys(&self) -> impl Iterator<Item = &[u8]> {
        self.by_key.keys().map(|k| &**k)
    }
}
