//! The wire protocol, self-contained: request decoding and reply encoding. Knows nothing of
//! commands or the keyspace.

pub mod reply;
pub mod request;

pub use reply::{Protocol, Reply};
pub use request::{Limits, ProtocolError, Request, RequestDecoder};
