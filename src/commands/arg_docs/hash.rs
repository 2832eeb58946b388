//! COMMAND DOCS of the hash commands: each command's arguments in the form
//! `arg_docs` parses (see its module comment), with its history and doc flags. The hash-field
//! expiry commands (Redis 7.4) are declared from redis.io ahead of their implementation.

use crate::commands::arg_docs::Doc;

#[rustfmt::skip]
pub static DOCS: &[Doc] = &[
    Doc::new("hdel", "key:key *field")
        .history(&[("2.4.0", "Accepts multiple `field` arguments.")]),
    Doc::new("hexists", "key:key field"),
    Doc::new("hexpire", "key:key seconds:int ?condition:oneof(NX XX GT LT) FIELDS:fields:block(numfields:int *field)"),
    Doc::new("hexpireat", "key:key unix-time-seconds:time ?condition:oneof(NX XX GT LT) FIELDS:fields:block(numfields:int *field)"),
    Doc::new("hexpiretime", "key:key FIELDS:fields:block(numfields:int *field)"),
    Doc::new("hget", "key:key field"),
    Doc::new("hgetall", "key:key"),
    Doc::new("hgetdel", "key:key FIELDS:fields:block(numfields:int *field)"),
    Doc::new("hgetex", "key:key ?expiration:oneof(EX:seconds:int PX:milliseconds:int EXAT:unix-time-seconds:time PXAT:unix-time-milliseconds:time PERSIST) FIELDS:fields:block(numfields:int *field)"),
    Doc::new("hincrby", "key:key field increment:int"),
    Doc::new("hincrbyfloat", "key:key field increment:dbl"),
    Doc::new("hkeys", "key:key"),
    Doc::new("hlen", "key:key"),
    Doc::new("hmget", "key:key *field"),
    Doc::new("hmset", "key:key *field_value:block(field value)")
        .deprecated("4.0.0", "`HSET` with multiple field-value pairs"),
    Doc::new("hpersist", "key:key FIELDS:fields:block(numfields:int *field)"),
    Doc::new("hpexpire", "key:key milliseconds:int ?condition:oneof(NX XX GT LT) FIELDS:fields:block(numfields:int *field)"),
    Doc::new("hpexpireat", "key:key unix-time-milliseconds:time ?condition:oneof(NX XX GT LT) FIELDS:fields:block(numfields:int *field)"),
    Doc::new("hpexpiretime", "key:key FIELDS:fields:block(numfields:int *field)"),
    Doc::new("hpttl", "key:key FIELDS:fields:block(numfields:int *field)"),
    Doc::new("hrandfield", "key:key ?options:block(count:int ?WITHVALUES)"),
    Doc::new("hscan", "key:key cursor:int ?MATCH:pattern:pat ?COUNT:count:int ?NOVALUES@7.4.0")
        .history(&[("7.4.0", "Added the `NOVALUES` option.")]),
    Doc::new("hset", "key:key *field_value:block(field value)")
        .history(&[("4.0.0", "Accepts multiple `field` and `value` arguments.")]),
    Doc::new("hsetex", "key:key ?condition:oneof(FNX FXX) ?expiration:oneof(EX:seconds:int PX:milliseconds:int EXAT:unix-time-seconds:time PXAT:unix-time-milliseconds:time KEEPTTL) FIELDS:fields:block(numfields:int *data:block(field value))"),
    Doc::new("hsetnx", "key:key field value"),
    Doc::new("hstrlen", "key:key field"),
    Doc::new("httl", "key:key FIELDS:fields:block(numfields:int *field)"),
    Doc::new("hvals", "key:key"),
];
