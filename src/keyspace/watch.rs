//! WATCH bookkeeping: which clients watch which keys of a shard.
//!
//! A client that WATCHes keys owns one `WatchFlag`; the shard that holds each key keeps a
//! reference to it. Any change to a watched key — a write, a deletion, an expiry, a flush —
//! sets the flag, and EXEC refuses to run when it is set (Redis's CLIENT_DIRTY_CAS). The map is
//! empty unless someone watches, so the write path pays one `is_empty` branch.

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

#[derive(Default)]
pub struct Watchers {
    by_key: HashMap<Box<[u8]>, Vec<Arc<WatchFlag>>>,
}

impl Watchers {
    pub fn is_empty(&self) -> bool {
        self.by_key.is_empty()
    }

    pub fn add(&mut self, key: &[u8], flag: &Arc<WatchFlag>) {
        if !self.by_key.contains_key(key) {
            self.by_key.insert(key.into(), Vec::new());
        }
        let list = self.by_key.get_mut(key).expect("inserted above");
        if !list.iter().any(|f| Arc::ptr_eq(f, flag)) {
            list.push(flag.clone());
        }
    }

    pub fn remove(&mut self, key: &[u8], flag: &Arc<WatchFlag>) {
        if let Some(list) = self.by_key.get_mut(key) {
            list.retain(|f| !Arc::ptr_eq(f, flag));
            if list.is_empty() {
                self.by_key.remove(key);
            }
        }
    }

    /// Marks every client watching `key`.
    pub fn touch(&self, key: &[u8]) {
        if let Some(list) = self.by_key.get(key) {
            list.iter().for_each(|f| f.set());
        }
    }

    /// Marks every client watching any key for which `exists` is true (flushes and SWAPDB).
    pub fn touch_where(&self, mut exists: impl FnMut(&[u8]) -> bool) {
        for (key, list) in &self.by_key {
            if exists(key) {
                list.iter().for_each(|f| f.set());
            }
        }
    }
}
