//! Networking: the accept loop and the per-connection task.

pub mod client;
pub mod listener;
pub mod memcache;
