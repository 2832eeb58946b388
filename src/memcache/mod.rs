//! The memcached text protocol (beyond Redis): an optional listener on `memcached-port`
//! serving the classic commands (get gets gat gats set add replace append prepend cas delete
//! incr decr touch flush_all version verbosity stats quit) and the meta commands (mg ms md ma
//! mn me) over the same keyspace as RESP, in database `memcached-db`.
//!
//! `parse` turns bytes into `Request`s (bounded: line and data-block limits); `exec` runs them
//! against the keyspace API under one shard lock per key, with the same side effects a RESP
//! write has: WATCH and tracking invalidation, keyspace events, AOF effects, eviction before
//! writes, keyspace hit/miss and per-prefix counters. The socket loop is `net::memcache`.
//!
//! # How items are stored
//!
//! An item is a plain string key: RESP `GET` returns exactly the bytes a memcached client
//! stored, and a string written by RESP is an item with flags 0. The client flags and the CAS
//! unique live in the entry's header (`keyspace::entry::ItemMeta`), only when there is
//! something to keep: flags other than 0, or a CAS unique a client has been shown (by `gets`,
//! `gats`, `mg c`, `ms c`...). Any RESP write of the value (SET, APPEND, INCR...) drops them, so
//! the item then has flags 0 and the next `gets` hands out a fresh CAS unique: a `cas` based on
//! the older one answers EXISTS, as it must. Changing only the TTL (EXPIRE, touch, gat) keeps
//! them. CAS uniques come from one server-wide counter. They are not persisted: after a
//! restart from RDB or AOF an item keeps its value and TTL, with flags 0.
//!
//! Keys that hold another type (a RESP hash, list...) look absent to memcached commands.

pub mod exec;
pub mod parse;

use std::sync::atomic::{AtomicU64, Ordering};

/// The memcached protocol's server-wide state: CAS uniques and `stats` counters.
#[derive(Default)]
pub struct Memcache {
    /// The last CAS unique handed out (memcached's `get_cas_id`).
    cas: AtomicU64,
    pub counters: Counters,
}

impl Memcache {
    /// A fresh CAS unique.
    pub fn next_cas(&self) -> u64 {
        self.cas.fetch_add(1, Ordering::Relaxed) + 1
    }
}

/// The counters memcached's `stats` reports (beyond what INFO already counts).
#[derive(Default)]
pub struct Counters {
    pub curr_connections: AtomicU64,
    pub total_connections: AtomicU64,
    pub cmd_get: AtomicU64,
    pub cmd_set: AtomicU64,
    pub cmd_flush: AtomicU64,
    pub cmd_touch: AtomicU64,
    pub get_hits: AtomicU64,
    pub get_misses: AtomicU64,
    pub delete_hits: AtomicU64,
    pub delete_misses: AtomicU64,
    pub incr_hits: AtomicU64,
    pub incr_misses: AtomicU64,
    pub decr_hits: AtomicU64,
    pub decr_misses: AtomicU64,
    pub cas_hits: AtomicU64,
    pub cas_misses: AtomicU64,
    pub cas_badval: AtomicU64,
    pub touch_hits: AtomicU64,
    pub touch_misses: AtomicU64,
    pub total_items: AtomicU64,
    pub bytes_read: AtomicU64,
    pub bytes_written: AtomicU64,
}

pub fn count(counter: &AtomicU64, n: u64) {
    counter.fetch_add(n, Ordering::Relaxed);
}
