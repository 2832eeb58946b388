//! COMMAND DOCS of the list commands: each command's arguments in the form
//! `arg_docs` parses (see its module comment), with its history and doc flags.

use crate::commands::arg_docs::Doc;

#[rustfmt::skip]
pub static DOCS: &[Doc] = &[
    Doc::new("blmove", "source:key destination:key#1 wherefrom:oneof(LEFT RIGHT) whereto:oneof(LEFT RIGHT) timeout:dbl"),
    Doc::new("blmpop", "timeout:dbl numkeys:int *key:key where:oneof(LEFT RIGHT) ?COUNT:count:int"),
    Doc::new("blpop", "*key:key timeout:dbl")
        .history(&[("6.0.0", "`timeout` is interpreted as a double instead of an integer.")]),
    Doc::new("brpop", "*key:key timeout:dbl")
        .history(&[("6.0.0", "`timeout` is interpreted as a double instead of an integer.")]),
    Doc::new("brpoplpush", "source:key destination:key#1 timeout:dbl")
        .history(&[("6.0.0", "`timeout` is interpreted as a double instead of an integer.")])
        .deprecated("6.2.0", "`BLMOVE` with the `RIGHT` and `LEFT` arguments"),
    Doc::new("lindex", "key:key index:int"),
    Doc::new("linsert", "key:key where:oneof(BEFORE AFTER) pivot element"),
    Doc::new("llen", "key:key"),
    Doc::new("lmove", "source:key destination:key#1 wherefrom:oneof(LEFT RIGHT) whereto:oneof(LEFT RIGHT)"),
    Doc::new("lmpop", "numkeys:int *key:key where:oneof(LEFT RIGHT) ?COUNT:count:int"),
    Doc::new("lpop", "key:key ?count:int@6.2.0")
        .history(&[("6.2.0", "Added the `count` argument.")]),
    Doc::new("lpos", "key:key element ?RANK:rank:int ?COUNT:num-matches:int ?MAXLEN:len:int"),
    Doc::new("lpush", "key:key *element")
        .history(&[("2.4.0", "Accepts multiple `element` arguments.")]),
    Doc::new("lpushx", "key:key *element")
        .history(&[("4.0.0", "Accepts multiple `element` arguments.")]),
    Doc::new("lrange", "key:key start:int stop:int"),
    Doc::new("lrem", "key:key count:int element"),
    Doc::new("lset", "key:key index:int element"),
    Doc::new("ltrim", "key:key start:int stop:int"),
    Doc::new("rpop", "key:key ?count:int@6.2.0")
        .history(&[("6.2.0", "Added the `count` argument.")]),
    Doc::new("rpoplpush", "source:key destination:key#1")
        .deprecated("6.2.0", "`LMOVE` with the `RIGHT` and `LEFT` arguments"),
    Doc::new("rpush", "key:key *element")
        .history(&[("2.4.0", "Accepts multiple `element` arguments.")]),
    Doc::new("rpushx", "key:key *element")
        .history(&[("4.0.0", "Accepts multiple `element` arguments.")]),
];
