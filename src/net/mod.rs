//! Networking: the listeners (TCP, TLS, unix socket), the TLS context, the per-connection
//! task, the memcached front end's connections and the metrics endpoint.

mod blocked;
mod buffers;
pub mod client;
pub mod event_loop;
mod input_watch;
pub mod io;
pub mod listener;
pub mod lookahead;
pub mod memcache;
pub mod metrics;
pub mod replica;
pub mod tls;
