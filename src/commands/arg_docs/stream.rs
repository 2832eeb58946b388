//! COMMAND DOCS of the stream commands: each command's arguments in the form
//! `arg_docs` parses (see its module comment), with its history and doc flags.

use crate::commands::arg_docs::Doc;

#[rustfmt::skip]
pub static DOCS: &[Doc] = &[
    Doc::new("xack", "key:key group *id"),
    Doc::new("xackdel", "key:key group ?condition:oneof(KEEPREF DELREF ACKED) IDS:ids:block(numids:int *id)"),
    Doc::new("xadd", "key:key ?NOMKSTREAM@6.2.0 ?trim:block(strategy:oneof(MAXLEN MINID@6.2.0) ?operator:oneof('=':equal:tok '~':approximately:tok) threshold ?LIMIT:count:int@6.2.0) id_or_auto:oneof('*':auto_id:tok id) *field_value:block(field value)")
        .history(&[("6.2.0", "Added the `NOMKSTREAM` option, `MINID` trimming strategy and the `LIMIT` option."), ("7.0.0", "Added support for the `<ms>-*` explicit ID form.")]),
    Doc::new("xautoclaim", "key:key group consumer min-idle-time start ?COUNT:count:int ?JUSTID")
        .history(&[("7.0.0", "Added an element to the reply array, containing deleted entries the command cleared from the PEL")]),
    Doc::new("xclaim", "key:key group consumer min-idle-time *id ?IDLE:ms:int ?TIME:unix-time-milliseconds:time ?RETRYCOUNT:count:int ?FORCE ?JUSTID ?LASTID:id:str"),
    Doc::new("xdel", "key:key *id"),
    Doc::new("xdelex", "key:key ?condition:oneof(KEEPREF DELREF ACKED) IDS:ids:block(numids:int *id)"),
    Doc::new("xgroup", ""),
    Doc::new("xgroup|create", "key:key groupname id:oneof(id '$':new_id:tok) ?MKSTREAM ?ENTRIESREAD:entries_read:int")
        .history(&[("7.0.0", "Added the `entries_read` named argument.")]),
    Doc::new("xgroup|createconsumer", "key:key groupname consumername"),
    Doc::new("xgroup|delconsumer", "key:key groupname consumername"),
    Doc::new("xgroup|destroy", "key:key groupname"),
    Doc::new("xgroup|help", ""),
    Doc::new("xgroup|setid", "key:key groupname id:oneof(id '$':new_id:tok) ?ENTRIESREAD:entries_read:int")
        .history(&[("7.0.0", "Added the optional `entries_read` argument.")]),
    Doc::new("xinfo", ""),
    Doc::new("xinfo|consumers", "key:key groupname"),
    Doc::new("xinfo|groups", "key:key")
        .history(&[("7.0.0", "Added the `entries-read` and `lag` fields")]),
    Doc::new("xinfo|help", ""),
    Doc::new("xinfo|stream", "key:key ?FULL:full:block(?COUNT:count:int)")
        .history(&[("6.0.0", "Added the `FULL` modifier."), ("7.0.0", "Added the `max-deleted-entry-id`, `entries-added`, `recorded-first-entry-id`, `entries-read` and `lag` fields")]),
    Doc::new("xlen", "key:key"),
    Doc::new("xpending", "key:key group ?filters:block(?IDLE:min-idle-time:int@6.2.0 start end count:int ?consumer)")
        .history(&[("6.2.0", "Added the `IDLE` option and exclusive range intervals.")]),
    Doc::new("xrange", "key:key start end ?COUNT:count:int")
        .history(&[("6.2.0", "Added exclusive ranges.")]),
    Doc::new("xread", "?COUNT:count:int ?BLOCK:milliseconds:int STREAMS:streams:block(*key:key *id)"),
    Doc::new("xreadgroup", "GROUP:group_consumer:block(group consumer) ?COUNT:count:int ?BLOCK:milliseconds:int ?NOACK STREAMS:streams:block(*key:key *id)"),
    Doc::new("xrevrange", "key:key end start ?COUNT:count:int")
        .history(&[("6.2.0", "Added exclusive ranges.")]),
    Doc::new("xsetid", "key:key last-id ?ENTRIESADDED:entries_added:int@7.0.0 ?MAXDELETEDID:max_deleted_entry_id:str@7.0.0")
        .history(&[("7.0.0", "Added the `entries_added` and `max_deleted_entry_id` arguments.")]),
    Doc::new("xtrim", "key:key trim:block(strategy:oneof(MAXLEN MINID@6.2.0) ?operator:oneof('=':equal:tok '~':approximately:tok) threshold ?LIMIT:count:int@6.2.0)")
        .history(&[("6.2.0", "Added the `MINID` trimming strategy and the `LIMIT` option.")]),
];
