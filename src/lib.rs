//! ferrocache: a Redis-compatible in-memory cache server.
//!
//! Data flows one way: socket (`net`) -> frame (`protocol`) -> command (`commands`) -> shard
//! (`keyspace`) -> reply. `keyspace` knows nothing of sockets, RESP or tokio; commands are
//! synchronous functions returning `Reply`; `server` wires the pieces together.
//! See docs/ARCHITECTURE.md.

pub mod acl;
pub mod alloc_counter;
pub mod aof;
pub mod clients;
pub mod clock;
pub mod cluster;
pub mod commands;
pub mod compat;
pub mod config;
pub mod engine;
pub mod error;
#[doc(hidden)]
pub mod fuzz_api;
pub mod gate;
pub mod glob;
pub mod healthcheck;
pub mod keyspace;
pub mod memcache;
pub mod net;
pub mod observability;
pub mod pause;
pub mod protocol;
pub mod pubsub;
pub mod rdb;
pub mod replication;
pub mod scripting;
pub mod server;
pub mod state;
pub mod stats;
pub mod strconv;
#[cfg(test)]
pub mod testing;
pub mod write_listeners;
