//! COMMAND DOCS of the connection commands: each command's arguments in the form
//! `arg_docs` parses (see its module comment), with its history and doc flags.

use crate::commands::arg_docs::Doc;

#[rustfmt::skip]
pub static DOCS: &[Doc] = &[
    Doc::new("auth", "?username@6.0.0 password")
        .complexity("O(N) where N is the number of passwords defined for the user")
        .history(&[("6.0.0", "Added ACL style (username and password).")]),
    Doc::new("client", ""),
    Doc::new("client|caching", "mode:oneof(YES NO)")
        .complexity("O(1)"),
    Doc::new("client|getname", "")
        .complexity("O(1)"),
    Doc::new("client|getredir", "")
        .complexity("O(1)"),
    Doc::new("client|help", "")
        .complexity("O(1)"),
    Doc::new("client|id", "")
        .complexity("O(1)"),
    Doc::new("client|info", "")
        .complexity("O(1)"),
    Doc::new("client|kill", "filter:oneof('ip:port':str!2.8.12 *new-format:oneof(?ID:client-id:int@2.8.12 ?TYPE:normal_master_slave_pubsub:oneof@2.8.12(NORMAL MASTER@3.2.0 SLAVE REPLICA@5.0.0 PUBSUB) ?USER:username:str ?ADDR:'ip:port':str ?LADDR:'ip:port':str@6.2.0 ?SKIPME:'yes/no':str ?MAXAGE:maxage:int@7.4.0))")
        .complexity("O(N) where N is the number of client connections")
        .history(&[("2.8.12", "Added new filter format."), ("2.8.12", "`ID` option."), ("3.2.0", "Added `master` type in for `TYPE` option."), ("5.0.0", "Replaced `slave` `TYPE` with `replica`. `slave` still supported for backward compatibility."), ("6.2.0", "`LADDR` option."), ("7.4.0", "`MAXAGE` option.")]),
    Doc::new("client|list", "?TYPE:normal_master_replica_pubsub:oneof@5.0.0(NORMAL MASTER REPLICA PUBSUB) ?ID:id:block@6.2.0(*client-id:int)")
        .complexity("O(N) where N is the number of client connections")
        .history(&[("2.8.12", "Added unique client `id` field."), ("5.0.0", "Added optional `TYPE` filter."), ("6.0.0", "Added `user` field."), ("6.2.0", "Added `argv-mem`, `tot-mem`, `laddr` and `redir` fields and the optional `ID` filter."), ("7.0.0", "Added `resp`, `multi-mem`, `rbs` and `rbp` fields."), ("7.0.3", "Added `ssub` field.")]),
    Doc::new("client|no-evict", "enabled:oneof(ON OFF)")
        .complexity("O(1)"),
    Doc::new("client|no-touch", "enabled:oneof(ON OFF)")
        .complexity("O(1)"),
    Doc::new("client|pause", "timeout:int ?mode:oneof@6.2.0(WRITE ALL)")
        .complexity("O(1)")
        .history(&[("6.2.0", "`CLIENT PAUSE WRITE` mode added along with the `mode` option.")]),
    Doc::new("client|reply", "on_off_skip:oneof(ON OFF SKIP)")
        .complexity("O(1)"),
    Doc::new("client|setinfo", "attr:oneof(lib-name:libname:str lib-ver:libver:str)")
        .complexity("O(1)"),
    Doc::new("client|setname", "connection-name")
        .complexity("O(1)"),
    Doc::new("client|tracking", "status:oneof(ON OFF) ?REDIRECT:client-id:int ?*+PREFIX:prefix:str ?BCAST ?OPTIN ?OPTOUT ?NOLOOP")
        .complexity("O(1). Some options may introduce additional complexity."),
    Doc::new("client|trackinginfo", "")
        .complexity("O(1)"),
    Doc::new("client|unblock", "client-id:int ?timeout_error:oneof(TIMEOUT ERROR)")
        .complexity("O(log N) where N is the number of client connections"),
    Doc::new("client|unpause", "")
        .complexity("O(N) Where N is the number of paused clients"),
    Doc::new("echo", "message")
        .complexity("O(1)"),
    Doc::new("hello", "?arguments:block(protover:int ?AUTH:username_password:block(username password) ?SETNAME:clientname:str)")
        .complexity("O(1)")
        .history(&[("6.2.0", "`protover` made optional; when called without arguments the command reports the current connection's context.")]),
    Doc::new("ping", "?message")
        .complexity("O(1)"),
    Doc::new("quit", "")
        .complexity("O(1)"),
    Doc::new("reset", "")
        .complexity("O(1)"),
    Doc::new("select", "index:int")
        .complexity("O(1)"),
];
