//! COMMAND DOCS of the transactions commands: each command's arguments in the form
//! `arg_docs` parses (see its module comment), with its history and doc flags.

use crate::commands::arg_docs::Doc;

#[rustfmt::skip]
pub static DOCS: &[Doc] = &[
    Doc::new("discard", "")
        .complexity("O(N), when N is the number of queued commands"),
    Doc::new("exec", "")
        .complexity("Depends on commands in the transaction"),
    Doc::new("multi", "")
        .complexity("O(1)"),
    Doc::new("unwatch", "")
        .complexity("O(1)"),
    Doc::new("watch", "*key:key")
        .complexity("O(1) for every key."),
];
