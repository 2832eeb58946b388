//! COMMAND DOCS of the string commands: each command's arguments in the form
//! `arg_docs` parses (see its module comment), with its history and doc flags. SET's IFEQ/IFNE
//! and DELEX follow Redis 8.4's pages without the digest forms (IFDEQ/IFDNE), which ferrocache
//! does not take.

use crate::commands::arg_docs::Doc;

#[rustfmt::skip]
pub static DOCS: &[Doc] = &[
    Doc::new("append", "key:key value"),
    Doc::new("decr", "key:key"),
    Doc::new("decrby", "key:key decrement:int"),
    Doc::new("delex", "key:key ?condition:oneof(IFEQ:ifeq-value:str IFNE:ifne-value:str IFDEQ:ifdeq-digest:str IFDNE:ifdne-digest:str)"),
    Doc::new("digest", "key:key"),
    Doc::new("delifeq", "key:key value"),
    Doc::new("get", "key:key"),
    Doc::new("getdel", "key:key"),
    Doc::new("getex", "key:key ?expiration:oneof(EX:seconds:int PX:milliseconds:int EXAT:unix-time-seconds:time PXAT:unix-time-milliseconds:time PERSIST)"),
    Doc::new("getrange", "key:key start:int end:int"),
    Doc::new("getset", "key:key value")
        .deprecated("6.2.0", "`SET` with the `!GET` argument"),
    Doc::new("incr", "key:key"),
    Doc::new("incrby", "key:key increment:int"),
    Doc::new("incrbyfloat", "key:key increment:dbl"),
    Doc::new("lcs", "key1:key key2:key ?LEN ?IDX ?MINMATCHLEN:len:int ?WITHMATCHLEN"),
    Doc::new("mget", "*key:key"),
    Doc::new("mset", "*key_value:block(key:key value)"),
    Doc::new("msetex", "numkeys:int *data:block(key:key value) ?condition:oneof(NX XX) ?expiration:oneof(EX:seconds:int PX:milliseconds:int EXAT:unix-time-seconds:time PXAT:unix-time-milliseconds:time KEEPTTL)"),
    Doc::new("msetnx", "*key_value:block(key:key value)"),
    Doc::new("psetex", "key:key milliseconds:int value"),
    Doc::new("set", "key:key value ?condition:oneof@2.6.12(NX XX IFEQ:ifeq-value:str@8.4.0 IFNE:ifne-value:str@8.4.0 IFDEQ:ifdeq-digest:str@8.4.0 IFDNE:ifdne-digest:str@8.4.0) ?GET@6.2.0 ?expiration:oneof(EX:seconds:int@2.6.12 PX:milliseconds:int@2.6.12 EXAT:unix-time-seconds:time@6.2.0 PXAT:unix-time-milliseconds:time@6.2.0 KEEPTTL@6.0.0)")
        .history(&[("2.6.12", "Added the `EX`, `PX`, `NX` and `XX` options."), ("6.0.0", "Added the `KEEPTTL` option."), ("6.2.0", "Added the `GET`, `EXAT` and `PXAT` option."), ("7.0.0", "Allowed the `NX` and `GET` options to be used together."), ("8.4.0", "Added 'IFEQ', 'IFNE' options.")]),
    Doc::new("setex", "key:key seconds:int value"),
    Doc::new("setnx", "key:key value"),
    Doc::new("setrange", "key:key offset:int value"),
    Doc::new("strlen", "key:key"),
    Doc::new("substr", "key:key start:int end:int")
        .deprecated("2.0.0", "`GETRANGE`"),
];
