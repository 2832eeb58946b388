//! Errors: `CommandError` carries the exact reply text Redis sends; `ServerError` is for start-up,
//! configuration and I/O failures that never reach a client.

use std::fmt;

/// An error reply. `Display` gives the full text after the `-`, code included.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CommandError {
    /// `ERR syntax error`
    Syntax,
    /// `ERR value is not an integer or out of range`
    NotInteger,
    /// `ERR value is not a valid float`
    NotFloat,
    /// `WRONGTYPE Operation against a key holding the wrong kind of value`
    WrongType,
    /// `ERR no such key`
    NoSuchKey,
    /// `ERR wrong number of arguments for '<name>' command`
    Arity(String),
    /// `ERR increment or decrement would overflow`
    Overflow,
    /// `ERR invalid expire time in '<name>' command`
    InvalidExpire(String),
    /// `ERR DB index is out of range`
    DbIndex,
    /// `OOM command not allowed when used memory > 'maxmemory'.`
    Oom,
    /// Any other text, given in full (code included).
    Other(String),
    /// Text that must reach the client byte for byte even when it is not UTF-8 (it quotes
    /// client input, as the unknown-command error does).
    Raw(Vec<u8>),
}

impl CommandError {
    pub fn other(text: impl Into<String>) -> Self {
        CommandError::Other(text.into())
    }

    /// `ERR <text>`
    pub fn err(text: impl fmt::Display) -> Self {
        CommandError::Other(format!("ERR {text}"))
    }
}

impl fmt::Display for CommandError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CommandError::Syntax => f.write_str("ERR syntax error"),
            CommandError::NotInteger => f.write_str("ERR value is not an integer or out of range"),
            CommandError::NotFloat => f.write_str("ERR value is not a valid float"),
            CommandError::WrongType => {
                f.write_str("WRONGTYPE Operation against a key holding the wrong kind of value")
            }
            CommandError::NoSuchKey => f.write_str("ERR no such key"),
            CommandError::Arity(name) => {
                write!(f, "ERR wrong number of arguments for '{name}' command")
            }
            CommandError::Overflow => f.write_str("ERR increment or decrement would overflow"),
            CommandError::InvalidExpire(name) => {
                write!(f, "ERR invalid expire time in '{name}' command")
            }
            CommandError::DbIndex => f.write_str("ERR DB index is out of range"),
            CommandError::Oom => {
                f.write_str("OOM command not allowed when used memory > 'maxmemory'.")
            }
            CommandError::Other(text) => f.write_str(text),
            CommandError::Raw(bytes) => f.write_str(&String::from_utf8_lossy(bytes)),
        }
    }
}

impl std::error::Error for CommandError {}

/// Failures outside the request path: configuration, binding, persistence I/O.
#[derive(Debug)]
pub enum ServerError {
    Config(String),
    Io(std::io::Error),
}

impl fmt::Display for ServerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ServerError::Config(text) => f.write_str(text),
            ServerError::Io(err) => write!(f, "{err}"),
        }
    }
}

impl std::error::Error for ServerError {}

impl From<std::io::Error> for ServerError {
    fn from(err: std::io::Error) -> Self {
        ServerError::Io(err)
    }
}
