//! The command engine: what a command declares (`spec`), the table of them (`registry`), the
//! context a running command sees (`context`), and the rules of Redis's `processCommand` around
//! every call (`dispatch`, `maxmemory`). Command families live in `commands/` and never the
//! other way round: the engine calls them only through the function pointers of their specs.

pub mod args;
pub mod blocking;
pub mod categories;
pub mod client;
pub mod client_pause;
pub mod context;
pub mod dispatch;
pub mod evictor;
pub mod key_flags;
pub mod key_specs;
pub mod maxmemory;
pub mod registry;
mod spec;
pub mod waiters;

pub use client::ClientState;
pub use context::Ctx;
pub use spec::*;
