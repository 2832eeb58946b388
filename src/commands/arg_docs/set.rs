//! COMMAND DOCS of the set commands: each command's arguments in the form
//! `arg_docs` parses (see its module comment), with its history and doc flags.

use crate::commands::arg_docs::Doc;

#[rustfmt::skip]
pub static DOCS: &[Doc] = &[
    Doc::new("sadd", "key:key *member")
        .history(&[("2.4.0", "Accepts multiple `member` arguments.")]),
    Doc::new("scard", "key:key"),
    Doc::new("sdiff", "*key:key"),
    Doc::new("sdiffstore", "destination:key *key:key#1"),
    Doc::new("sinter", "*key:key"),
    Doc::new("sintercard", "numkeys:int *key:key ?LIMIT:limit:int"),
    Doc::new("sinterstore", "destination:key *key:key#1"),
    Doc::new("sismember", "key:key member"),
    Doc::new("smembers", "key:key"),
    Doc::new("smismember", "key:key *member"),
    Doc::new("smove", "source:key destination:key#1 member"),
    Doc::new("spop", "key:key ?count:int@3.2.0")
        .history(&[("3.2.0", "Added the `count` argument.")]),
    Doc::new("srandmember", "key:key ?count:int@2.6.0")
        .history(&[("2.6.0", "Added the optional `count` argument.")]),
    Doc::new("srem", "key:key *member")
        .history(&[("2.4.0", "Accepts multiple `member` arguments.")]),
    Doc::new("sscan", "key:key cursor:int ?MATCH:pattern:pat ?COUNT:count:int"),
    Doc::new("sunion", "*key:key"),
    Doc::new("sunionstore", "destination:key *key:key#1"),
];
