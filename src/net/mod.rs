//! Networking: the listeners (TCP, TLS, unix socket), the TLS context and the per-connection
//! task.

pub mod client;
pub mod listener;
pub mod lookahead;
pub mod memcache;
pub mod tls;
