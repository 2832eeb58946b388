//! COMMAND DOCS of the pubsub commands: each command's arguments in the form
//! `arg_docs` parses (see its module comment), with its history and doc flags.

use crate::commands::arg_docs::Doc;

#[rustfmt::skip]
pub static DOCS: &[Doc] = &[
    Doc::new("psubscribe", "*pattern:block(pattern:pat)")
        .complexity("O(N) where N is the number of patterns the client is already subscribed to."),
    Doc::new("publish", "channel message")
        .complexity("O(N+M) where N is the number of clients subscribed to the receiving channel and M is the total number of subscribed patterns (by any client)."),
    Doc::new("pubsub", ""),
    Doc::new("pubsub|channels", "?pattern:pat")
        .complexity("O(N) where N is the number of active channels, and assuming constant time pattern matching (relatively short channels and patterns)"),
    Doc::new("pubsub|help", "")
        .complexity("O(1)"),
    Doc::new("pubsub|numpat", "")
        .complexity("O(1)"),
    Doc::new("pubsub|numsub", "?*channel")
        .complexity("O(N) for the NUMSUB subcommand, where N is the number of requested channels"),
    Doc::new("pubsub|shardchannels", "?pattern:pat")
        .complexity("O(N) where N is the number of active shard channels, and assuming constant time pattern matching (relatively short shard channels)."),
    Doc::new("pubsub|shardnumsub", "?*shardchannel")
        .complexity("O(N) for the SHARDNUMSUB subcommand, where N is the number of requested shard channels"),
    Doc::new("punsubscribe", "?*pattern:pat")
        .complexity("O(N+M) where N is the number of patterns the client is already subscribed and M is the number of total patterns subscribed in the system (by any client)."),
    Doc::new("spublish", "shardchannel message")
        .complexity("O(N) where N is the number of clients subscribed to the receiving shard channel."),
    Doc::new("ssubscribe", "*shardchannel")
        .complexity("O(N) where N is the number of shard channels to subscribe to."),
    Doc::new("subscribe", "*channel")
        .complexity("O(N) where N is the number of channels to subscribe to."),
    Doc::new("sunsubscribe", "?*shardchannel")
        .complexity("O(N) where N is the number of clients already subscribed to a shard channel."),
    Doc::new("unsubscribe", "?*channel")
        .complexity("O(N) where N is the number of clients already subscribed to a channel."),
];
