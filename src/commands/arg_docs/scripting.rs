//! COMMAND DOCS of the scripting commands: each command's arguments in the form
//! `arg_docs` parses (see its module comment), with its history and doc flags.

use crate::commands::arg_docs::Doc;

#[rustfmt::skip]
pub static DOCS: &[Doc] = &[
    Doc::new("eval", "script numkeys:int ?*key:key ?*arg"),
    Doc::new("eval_ro", "script numkeys:int ?*key:key ?*arg"),
    Doc::new("evalsha", "sha1 numkeys:int ?*key:key ?*arg"),
    Doc::new("evalsha_ro", "sha1 numkeys:int ?*key:key ?*arg"),
    Doc::new("fcall", "function numkeys:int ?*key:key ?*arg"),
    Doc::new("fcall_ro", "function numkeys:int ?*key:key ?*arg"),
    Doc::new("function", ""),
    Doc::new("function|delete", "library-name"),
    Doc::new("function|dump", ""),
    Doc::new("function|flush", "?async:oneof(ASYNC SYNC)"),
    Doc::new("function|help", ""),
    Doc::new("function|kill", ""),
    Doc::new("function|list", "?LIBRARYNAME:library-name-pattern:str ?WITHCODE"),
    Doc::new("function|load", "?REPLACE function-code"),
    Doc::new("function|restore", "serialized-value ?policy:oneof(FLUSH APPEND REPLACE)"),
    Doc::new("function|stats", ""),
    Doc::new("script", ""),
    Doc::new("script|debug", "mode:oneof(YES SYNC NO)")
        .complexity("O(1)"),
    Doc::new("script|exists", "*sha1")
        .complexity("O(N) with N being the number of scripts to check (so checking a single script is an O(1) operation)."),
    Doc::new("script|flush", "?async:oneof@6.2.0(ASYNC SYNC)")
        .complexity("O(N) with N being the number of scripts in cache")
        .history(&[("6.2.0", "Added the `ASYNC` and `SYNC` flushing mode modifiers.")]),
    Doc::new("script|help", "")
        .complexity("O(1)"),
    Doc::new("script|kill", "")
        .complexity("O(1)"),
    Doc::new("script|load", "script")
        .complexity("O(N) with N being the length in bytes of the script body."),
];
