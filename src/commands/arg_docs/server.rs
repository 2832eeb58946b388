//! COMMAND DOCS of the server commands: each command's arguments in the form
//! `arg_docs` parses (see its module comment), with its history and doc flags.

use crate::commands::arg_docs::Doc;

#[rustfmt::skip]
pub static DOCS: &[Doc] = &[
    Doc::new("acl", ""),
    Doc::new("acl|cat", "?categoryname")
        .complexity("O(1) since the categories and commands are a fixed set."),
    Doc::new("acl|deluser", "*username")
        .complexity("O(1) amortized time considering the typical user."),
    Doc::new("acl|dryrun", "username command ?*arg")
        .complexity("O(1)."),
    Doc::new("acl|genpass", "?bits:int")
        .complexity("O(1)"),
    Doc::new("acl|getuser", "username")
        .complexity("O(N). Where N is the number of password, command and pattern rules that the user has.")
        .history(&[("6.2.0", "Added Pub/Sub channel patterns."), ("7.0.0", "Added selectors and changed the format of key and channel patterns from a list to their rule representation.")]),
    Doc::new("acl|help", "")
        .complexity("O(1)"),
    Doc::new("acl|list", "")
        .complexity("O(N). Where N is the number of configured users."),
    Doc::new("acl|load", "")
        .complexity("O(N). Where N is the number of configured users."),
    Doc::new("acl|log", "?operation:oneof(count:int RESET)")
        .complexity("O(N) with N being the number of entries shown."),
    Doc::new("acl|save", "")
        .complexity("O(N). Where N is the number of configured users."),
    Doc::new("acl|setuser", "username ?*rule")
        .complexity("O(N). Where N is the number of rules provided.")
        .history(&[("6.2.0", "Added Pub/Sub channel patterns."), ("7.0.0", "Added selectors and key based permissions.")]),
    Doc::new("acl|users", "")
        .complexity("O(N). Where N is the number of configured users."),
    Doc::new("acl|whoami", "")
        .complexity("O(1)"),
    Doc::new("bgrewriteaof", ""),
    Doc::new("bgsave", "?SCHEDULE@3.2.2")
        .complexity("O(1)")
        .history(&[("3.2.2", "Added the `SCHEDULE` option.")]),
    Doc::new("command", ""),
    Doc::new("command|count", ""),
    Doc::new("command|docs", "?*command-name"),
    Doc::new("command|getkeys", ""),
    Doc::new("command|getkeysandflags", ""),
    Doc::new("command|help", ""),
    Doc::new("command|info", "?*command-name")
        .history(&[("7.0.0", "Allowed to be called with no argument to get info on all commands.")]),
    Doc::new("command|list", "?FILTERBY:filterby:oneof(MODULE:module-name:str ACLCAT:category:str PATTERN:pattern:pat)"),
    Doc::new("config", ""),
    Doc::new("config|get", "*parameter:block(parameter)")
        .history(&[("7.0.0", "Added the ability to pass multiple pattern parameters in one call")]),
    Doc::new("config|help", ""),
    Doc::new("config|resetstat", ""),
    Doc::new("config|rewrite", ""),
    Doc::new("config|set", "*parameter_value:block(parameter value)")
        .history(&[("7.0.0", "Added the ability to set multiple parameters in one call.")]),
    Doc::new("dbsize", "")
        .complexity("O(1)"),
    Doc::new("debug", "")
        .complexity("Depends on subcommand.")
        .syscmd(),
    Doc::new("failover", "?TO:target:block(host port:int ?FORCE) ?ABORT ?TIMEOUT:milliseconds:int")
        .complexity("O(1)"),
    Doc::new("flushall", "?async:oneof(ASYNC@4.0.0 SYNC@6.2.0)")
        .complexity("O(N) where N is the total number of keys in all databases")
        .history(&[("4.0.0", "Added the `ASYNC` flushing mode modifier."), ("6.2.0", "Added the `SYNC` flushing mode modifier.")]),
    Doc::new("flushdb", "?async:oneof(ASYNC@4.0.0 SYNC@6.2.0)")
        .complexity("O(N) where N is the number of keys in the selected database")
        .history(&[("4.0.0", "Added the `ASYNC` flushing mode modifier."), ("6.2.0", "Added the `SYNC` flushing mode modifier.")]),
    Doc::new("info", "?*section")
        .history(&[("7.0.0", "Added support for taking multiple section arguments.")]),
    Doc::new("lastsave", "")
        .complexity("O(1)"),
    Doc::new("latency", ""),
    Doc::new("latency|doctor", ""),
    Doc::new("latency|graph", "event"),
    Doc::new("latency|help", ""),
    Doc::new("latency|histogram", "?*command"),
    Doc::new("latency|history", "event"),
    Doc::new("latency|latest", ""),
    Doc::new("latency|reset", "?*event"),
    Doc::new("lolwut", "?VERSION:version:int"),
    Doc::new("memory", ""),
    Doc::new("memory|doctor", "")
        .complexity("O(1)"),
    Doc::new("memory|help", "")
        .complexity("O(1)"),
    Doc::new("memory|malloc-stats", "")
        .complexity("Depends on how much memory is allocated, could be slow"),
    Doc::new("memory|purge", "")
        .complexity("Depends on how much memory is allocated, could be slow"),
    Doc::new("memory|stats", "")
        .complexity("O(1)"),
    Doc::new("memory|usage", "key:key ?SAMPLES:count:int")
        .complexity("O(N) where N is the number of samples."),
    Doc::new("module", ""),
    Doc::new("module|help", "")
        .complexity("O(1)"),
    Doc::new("module|list", "")
        .complexity("O(N) where N is the number of loaded modules."),
    Doc::new("module|load", "path ?*arg")
        .complexity("O(1)"),
    Doc::new("module|loadex", "path ?*+CONFIG:configs:block(name value) ?*ARGS:args:block(arg)")
        .complexity("O(1)"),
    Doc::new("module|unload", "name")
        .complexity("O(1)"),
    Doc::new("monitor", ""),
    Doc::new("psync", "replicationid offset:int"),
    Doc::new("replconf", "")
        .complexity("O(1)")
        .syscmd(),
    Doc::new("replicaof", "args:oneof(host-port:block(host port:int) no-one:block(NO ONE))")
        .complexity("O(1)"),
    Doc::new("restore-asking", "key:key ttl:int serialized-value ?REPLACE@3.0.0 ?ABSTTL@5.0.0 ?IDLETIME:seconds:int@5.0.0 ?FREQ:frequency:int@5.0.0")
        .complexity("O(1) to create the new key and additional O(N*M) to reconstruct the serialized value, where N is the number of Redis objects composing the value and M their average size. For small string values the time complexity is thus O(1)+O(1*M) where M is small, so simply O(1). However for sorted set values the complexity is O(N*M*log(N)) because inserting values into sorted sets is O(log(N)).")
        .history(&[("3.0.0", "Added the `REPLACE` modifier."), ("5.0.0", "Added the `ABSTTL` modifier."), ("5.0.0", "Added the `IDLETIME` and `FREQ` options.")])
        .syscmd(),
    Doc::new("role", "")
        .complexity("O(1)"),
    Doc::new("save", "")
        .complexity("O(N) where N is the total number of keys in all databases"),
    Doc::new("shutdown", "?nosave_save:oneof(NOSAVE SAVE) ?NOW@7.0.0 ?FORCE@7.0.0 ?ABORT@7.0.0")
        .complexity("O(N) when saving, where N is the total number of keys in all databases when saving data, otherwise O(1)")
        .history(&[("7.0.0", "Added the `NOW`, `FORCE` and `ABORT` modifiers.")]),
    Doc::new("slaveof", "args:oneof(host-port:block(host port:int) no-one:block(NO ONE))")
        .complexity("O(1)")
        .deprecated("5.0.0", "`REPLICAOF`"),
    Doc::new("slowlog", ""),
    Doc::new("slowlog|get", "?count:int")
        .history(&[("4.0.0", "Added client IP address, port and name to the reply.")]),
    Doc::new("slowlog|help", ""),
    Doc::new("slowlog|len", ""),
    Doc::new("slowlog|reset", ""),
    Doc::new("swapdb", "index1:int index2:int")
        .complexity("O(N) where N is the count of clients watching or blocking on keys from both databases."),
    Doc::new("sync", ""),
    Doc::new("time", "")
        .complexity("O(1)"),
];
