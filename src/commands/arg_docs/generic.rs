//! COMMAND DOCS of the generic commands: each command's arguments in the form
//! `arg_docs` parses (see its module comment), with its history and doc flags.

use crate::commands::arg_docs::Doc;

#[rustfmt::skip]
pub static DOCS: &[Doc] = &[
    Doc::new("copy", "source:key destination:key#1 ?DB:destination-db:int ?REPLACE")
        .complexity("O(N) worst case for collections, where N is the number of nested items. O(1) for string values."),
    Doc::new("del", "*key:key")
        .complexity("O(N) where N is the number of keys that will be removed. When a key to remove holds a value other than a string, the individual complexity for this key is O(M) where M is the number of elements in the list, set, sorted set or hash. Removing a single key that holds a string value is O(1)."),
    Doc::new("dump", "key:key")
        .complexity("O(1) to access the key and additional O(N*M) to serialize it, where N is the number of Redis objects composing the value and M their average size. For small string values the time complexity is thus O(1)+O(1*M) where M is small, so simply O(1)."),
    Doc::new("exists", "*key:key")
        .complexity("O(N) where N is the number of keys to check.")
        .history(&[("3.0.3", "Accepts multiple `key` arguments.")]),
    Doc::new("expire", "key:key seconds:int ?condition:oneof@7.0.0(NX XX GT LT)")
        .complexity("O(1)")
        .history(&[("7.0.0", "Added options: `NX`, `XX`, `GT` and `LT`.")]),
    Doc::new("expireat", "key:key unix-time-seconds:time ?condition:oneof@7.0.0(NX XX GT LT)")
        .complexity("O(1)")
        .history(&[("7.0.0", "Added options: `NX`, `XX`, `GT` and `LT`.")]),
    Doc::new("expiretime", "key:key")
        .complexity("O(1)"),
    Doc::new("keys", "pattern:pat")
        .complexity("O(N) with N being the number of keys in the database, under the assumption that the key names in the database and the given pattern have limited length."),
    Doc::new("migrate", "host port:int key_or_empty_string:oneof(key:key '':empty_string:tok) destination-db:int timeout:int ?COPY@3.0.0 ?REPLACE@3.0.0 ?authentication:oneof(?AUTH:password:str@4.0.7 ?AUTH2:username_password:block@6.0.0(username password)) ?*KEYS:key:key#1@3.0.6")
        .history(&[("3.0.0", "Added the `COPY` and `REPLACE` options."), ("3.0.6", "Added the `KEYS` option."), ("4.0.7", "Added the `AUTH` option."), ("6.0.0", "Added the `AUTH2` option.")]),
    Doc::new("move", "key:key db:int")
        .complexity("O(1)"),
    Doc::new("object", ""),
    Doc::new("object|encoding", "key:key")
        .complexity("O(1)"),
    Doc::new("object|freq", "key:key")
        .complexity("O(1)"),
    Doc::new("object|help", "")
        .complexity("O(1)"),
    Doc::new("object|idletime", "key:key")
        .complexity("O(1)"),
    Doc::new("object|refcount", "key:key")
        .complexity("O(1)"),
    Doc::new("persist", "key:key")
        .complexity("O(1)"),
    Doc::new("pexpire", "key:key milliseconds:int ?condition:oneof@7.0.0(NX XX GT LT)")
        .complexity("O(1)")
        .history(&[("7.0.0", "Added options: `NX`, `XX`, `GT` and `LT`.")]),
    Doc::new("pexpireat", "key:key unix-time-milliseconds:time ?condition:oneof@7.0.0(NX XX GT LT)")
        .complexity("O(1)")
        .history(&[("7.0.0", "Added options: `NX`, `XX`, `GT` and `LT`.")]),
    Doc::new("pexpiretime", "key:key")
        .complexity("O(1)"),
    Doc::new("pttl", "key:key")
        .complexity("O(1)")
        .history(&[("2.8.0", "Added the -2 reply.")]),
    Doc::new("randomkey", "")
        .complexity("O(1)"),
    Doc::new("rename", "key:key newkey:key#1")
        .complexity("O(1)"),
    Doc::new("renamenx", "key:key newkey:key#1")
        .complexity("O(1)")
        .history(&[("3.2.0", "The command no longer returns an error when source and destination names are the same.")]),
    Doc::new("restore", "key:key ttl:int serialized-value ?REPLACE@3.0.0 ?ABSTTL@5.0.0 ?IDLETIME:seconds:int@5.0.0 ?FREQ:frequency:int@5.0.0")
        .complexity("O(1) to create the new key and additional O(N*M) to reconstruct the serialized value, where N is the number of Redis objects composing the value and M their average size. For small string values the time complexity is thus O(1)+O(1*M) where M is small, so simply O(1). However for sorted set values the complexity is O(N*M*log(N)) because inserting values into sorted sets is O(log(N)).")
        .history(&[("3.0.0", "Added the `REPLACE` modifier."), ("5.0.0", "Added the `ABSTTL` modifier."), ("5.0.0", "Added the `IDLETIME` and `FREQ` options.")]),
    Doc::new("scan", "cursor:int ?MATCH:pattern:pat ?COUNT:count:int ?TYPE:type:str@6.0.0")
        .complexity("O(1) for every call. O(N) for a complete iteration, including enough command calls for the cursor to return back to 0. N is the number of elements inside the collection.")
        .history(&[("6.0.0", "Added the `TYPE` subcommand.")]),
    Doc::new("sort", "key:key ?BY:pattern:pat#1 ?LIMIT:offset_count:block(offset:int count:int) ?*+GET:pattern:pat#1 ?order:oneof(ASC DESC) ?ALPHA:sorting:tok ?STORE:destination:key#2"),
    Doc::new("sort_ro", "key:key ?BY:pattern:pat#1 ?LIMIT:offset_count:block(offset:int count:int) ?*+GET:pattern:pat#1 ?order:oneof(ASC DESC) ?ALPHA:sorting:tok"),
    Doc::new("touch", "*key:key")
        .complexity("O(N) where N is the number of keys that will be touched."),
    Doc::new("ttl", "key:key")
        .complexity("O(1)")
        .history(&[("2.8.0", "Added the -2 reply.")]),
    Doc::new("type", "key:key")
        .complexity("O(1)"),
    Doc::new("unlink", "*key:key")
        .complexity("O(1) for each key removed regardless of its size. Then the command does O(N) work in a different thread in order to reclaim memory, where N is the number of allocations the deleted objects where composed of."),
    Doc::new("wait", "numreplicas:int timeout:int")
        .complexity("O(1)"),
    Doc::new("waitaof", "numlocal:int numreplicas:int timeout:int")
        .complexity("O(1)"),
];
