//! Command families, one module per Redis command group (`string`, `generic`, `server`,
//! `connection`, `sorted_set` ...), each declaring its commands as data (`engine::CommandSpec`)
//! and running them as plain synchronous functions over locked shards. Commands never touch
//! sockets.

pub mod bitmap;
pub mod collection;
pub mod connection;
pub mod generic;
pub mod hash;
pub mod hyperloglog;
pub mod list;
pub mod lock;
pub mod pubsub;
pub mod scripting;
pub mod server;
pub mod set;
pub mod sorted_set;
pub mod stream;
pub mod string;
pub mod transactions;
