//! COMMAND DOCS of the hyperloglog commands: each command's arguments in the form
//! `arg_docs` parses (see its module comment), with its history and doc flags.

use crate::commands::arg_docs::Doc;

#[rustfmt::skip]
pub static DOCS: &[Doc] = &[
    Doc::new("pfadd", "key:key ?*element"),
    Doc::new("pfcount", "*key:key"),
    Doc::new("pfdebug", "subcommand key:key")
        .syscmd(),
    Doc::new("pfmerge", "destkey:key *sourcekey:key#1"),
    Doc::new("pfselftest", "")
        .syscmd(),
];
