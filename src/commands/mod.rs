//! Command families, one module per Redis command group (`string`, `generic`, `server`,
//! `connection`, `sorted_set` ...), each declaring its commands as data (`engine::CommandSpec`)
//! and running them as plain synchronous functions over locked shards. Commands never touch
//! sockets.

pub mod arg_docs;
pub mod bitmap;
pub mod cluster;
pub mod collection;
pub mod connection;
pub mod generic;
pub mod geo;
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

/// Every family's table, in COMMAND LIST order: what the registry is built from.
pub static TABLES: &[crate::engine::registry::Table] = &[
    string::COMMANDS,
    generic::COMMANDS,
    generic::expire::COMMANDS,
    generic::object::COMMANDS,
    server::COMMANDS,
    cluster::COMMANDS,
    server::lolwut::COMMANDS,
    server::replication::COMMANDS,
    connection::COMMANDS,
    connection::client::COMMANDS,
    server::debug::COMMANDS,
    server::config::COMMANDS,
    server::aof::COMMANDS,
    server::info::COMMANDS,
    server::command::COMMANDS,
    lock::COMMANDS,
    server::rdb::COMMANDS,
    server::repl_primary::COMMANDS,
    generic::dump::COMMANDS,
    generic::migrate::COMMANDS,
    transactions::COMMANDS,
    scripting::COMMANDS,
    scripting::function::COMMANDS,
    server::slowlog::COMMANDS,
    server::latency::COMMANDS,
    pubsub::COMMANDS,
    list::COMMANDS,
    sorted_set::COMMANDS,
    geo::COMMANDS,
    hash::COMMANDS,
    hash::expire::COMMANDS,
    set::COMMANDS,
    stream::COMMANDS,
    server::acl::COMMANDS,
    bitmap::COMMANDS,
    generic::sort::COMMANDS,
    hyperloglog::COMMANDS,
];

/// Every command of every family, in COMMAND LIST order.
pub fn all() -> impl Iterator<Item = &'static crate::engine::CommandSpec> {
    TABLES.iter().flat_map(|t| t.iter())
}
