//! Pub/Sub commands: (P|S)SUBSCRIBE, (P|S)UNSUBSCRIBE, PUBLISH, SPUBLISH, PUBSUB and MONITOR.
//!
//! Subscription state lives in the client (`ClientState::pubsub`) and in the server-wide
//! registry (`crate::pubsub`). A (un)subscribe command answers with one frame per channel: the
//! command returns the last one and leaves the others in `frames_before_reply`, which the
//! connection writes just before it. Frames are push frames (`>` in RESP3, arrays in RESP2).

use crate::command;
use crate::engine::client::ReplyMode;
use crate::error::CommandError;
use crate::protocol::Reply;
use crate::pubsub::ChannelKind;
use crate::{
    engine::flags::*, engine::CommandResult, engine::CommandSpec, engine::Ctx, engine::KeySpec,
};
use bytes::Bytes;

const SUB_FLAGS: crate::engine::Flags =
    PUBSUB | NOSCRIPT | LOADING | STALE | ALLOWED_WHILE_SUBSCRIBED | CHANGES_LISTENING;
const INFO_FLAGS: crate::engine::Flags = PUBSUB | LOADING | STALE;

const fn sub(
    name: &'static str,
    arity: i32,
    flags: crate::engine::Flags,
    acl: &'static [&'static str],
    summary: &'static str,
    run: crate::engine::CommandFn,
) -> CommandSpec {
    CommandSpec::subcommand(name, arity, flags, "pubsub", acl, "2.8.0", summary, "", run)
}

pub static COMMANDS: &[CommandSpec] = &[
    command!(
        "subscribe",
        -2,
        SUB_FLAGS,
        KeySpec::None,
        &["pubsub", "slow"],
        "pubsub",
        "2.0.0",
        "Listens for messages published to channels.",
        subscribe
    ),
    command!(
        "unsubscribe",
        -1,
        SUB_FLAGS,
        KeySpec::None,
        &["pubsub", "slow"],
        "pubsub",
        "2.0.0",
        "Stops listening to messages posted to channels.",
        unsubscribe
    ),
    command!(
        "psubscribe",
        -2,
        SUB_FLAGS,
        KeySpec::None,
        &["pubsub", "slow"],
        "pubsub",
        "2.0.0",
        "Listens for messages published to channels that match one or more patterns.",
        psubscribe
    ),
    command!(
        "punsubscribe",
        -1,
        SUB_FLAGS,
        KeySpec::None,
        &["pubsub", "slow"],
        "pubsub",
        "2.0.0",
        "Stops listening to messages published to channels that match one or more patterns.",
        punsubscribe
    ),
    command!(
        "ssubscribe",
        -2,
        SUB_FLAGS,
        KeySpec::None,
        &["pubsub", "slow"],
        "pubsub",
        "7.0.0",
        "Listens for messages published to shard channels.",
        ssubscribe
    ),
    command!(
        "sunsubscribe",
        -1,
        SUB_FLAGS,
        KeySpec::None,
        &["pubsub", "slow"],
        "pubsub",
        "7.0.0",
        "Stops listening to messages posted to shard channels.",
        sunsubscribe
    ),
    command!(
        "publish",
        3,
        PUBSUB | LOADING | STALE | FAST | MAY_REPLICATE | ROUTES_MESSAGES,
        KeySpec::None,
        &["pubsub", "fast"],
        "pubsub",
        "2.0.0",
        "Posts a message to a channel.",
        publish
    ),
    command!(
        "spublish",
        3,
        PUBSUB | LOADING | STALE | FAST | MAY_REPLICATE | ROUTES_MESSAGES,
        KeySpec::None,
        &["pubsub", "fast"],
        "pubsub",
        "7.0.0",
        "Post a message to a shard channel",
        spublish
    ),
    CommandSpec {
        name: "pubsub",
        arity: -2,
        flags: 0,
        keys: KeySpec::None,
        acl: &["slow"],
        group: "pubsub",
        summary: "A container for Pub/Sub commands.",
        since: "2.8.0",
        complexity: "Depends on subcommand.",
        run: crate::engine::subcommands_only,
        subcommands: &[
            sub(
                "channels",
                -2,
                INFO_FLAGS,
                &["pubsub", "slow"],
                "Returns the active channels.",
                channels,
            ),
            sub(
                "numpat",
                2,
                INFO_FLAGS,
                &["pubsub", "slow"],
                "Returns a count of unique pattern subscriptions.",
                numpat,
            ),
            sub(
                "numsub",
                -2,
                INFO_FLAGS,
                &["pubsub", "slow"],
                "Returns a count of subscribers to channels.",
                numsub,
            ),
            CommandSpec {
                since: "7.0.0",
                ..sub(
                    "shardchannels",
                    -2,
                    INFO_FLAGS,
                    &["pubsub", "slow"],
                    "Returns the active shard channels.",
                    shardchannels,
                )
            },
            CommandSpec {
                since: "7.0.0",
                ..sub(
                    "shardnumsub",
                    -2,
                    INFO_FLAGS,
                    &["pubsub", "slow"],
                    "Returns the count of subscribers of shard channels.",
                    shardnumsub,
                )
            },
            CommandSpec {
                since: "6.2.0",
                ..sub(
                    "help",
                    2,
                    LOADING | STALE,
                    &["slow"],
                    "Returns helpful text about the different subcommands.",
                    help,
                )
            },
        ],
    },
    command!(
        "monitor",
        1,
        ADMIN | NOSCRIPT | LOADING | STALE | CHANGES_LISTENING,
        KeySpec::None,
        &["admin", "slow", "dangerous"],
        "server",
        "1.0.0",
        "Listens for all requests received by the server in real-time.",
        monitor
    ),
];

const HELP: &[&str] = &[
    "PUBSUB <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "CHANNELS [<pattern>]",
    "    Return the currently active channels matching a <pattern> (default: '*').",
    "NUMPAT",
    "    Return number of subscriptions to patterns.",
    "NUMSUB [<channel> ...]",
    "    Return the number of subscribers for the specified channels, excluding",
    "    pattern subscriptions(default: no channels).",
    "SHARDCHANNELS [<pattern>]",
    "    Return the currently active shard level channels matching a <pattern> (default: '*').",
    "SHARDNUMSUB [<shardchannel> ...]",
    "    Return the number of subscribers for the specified shard level channel(s)",
    "HELP",
    "    Prints this help.",
];

/// Which subscription set a (un)subscribe command works on.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Target {
    Channels,
    Patterns,
    ShardChannels,
}

impl Target {
    fn names(self) -> (&'static str, &'static str) {
        match self {
            Target::Channels => ("subscribe", "unsubscribe"),
            Target::Patterns => ("psubscribe", "punsubscribe"),
            Target::ShardChannels => ("ssubscribe", "sunsubscribe"),
        }
    }

    /// The count a confirmation frame carries: shard channels are counted on their own.
    fn count(self, ctx: &Ctx<'_>) -> i64 {
        let ps = &ctx.client.pubsub;
        match self {
            Target::ShardChannels => ps.shard_channels.len() as i64,
            _ => ps.count() as i64,
        }
    }
}

fn frame(kind: &'static str, name: Reply, count: i64) -> Reply {
    Reply::Push(vec![Reply::bulk_static(kind), name, Reply::Int(count)])
}

/// Returns the last frame and queues the others to be written before it.
fn answer(ctx: &mut Ctx<'_>, mut frames: Vec<Reply>) -> CommandResult {
    let last = frames.pop().expect("at least one confirmation frame");
    ctx.client.pubsub.frames_before_reply.extend(frames);
    ctx.client.pubsub.outbox.set_protocol(ctx.client.protocol);
    Ok(last)
}

fn subscribe_to(ctx: &mut Ctx<'_>, argv: &[Bytes], target: Target) -> CommandResult {
    let (kind, _) = target.names();
    let mut frames = Vec::with_capacity(argv.len() - 1);
    let registry = &ctx.state.pubsub;
    for name in &argv[1..] {
        let ps = &mut ctx.client.pubsub;
        let outbox = ps.outbox.clone();
        let added = match target {
            Target::Channels => ps.channels.insert(name.clone()),
            Target::Patterns => ps.patterns.insert(name.clone()),
            Target::ShardChannels => ps.shard_channels.insert(name.clone()),
        };
        if added {
            match target {
                Target::Channels => registry.subscribe(ChannelKind::Global, name, &outbox),
                Target::Patterns => registry.psubscribe(name, &outbox),
                Target::ShardChannels => registry.subscribe(ChannelKind::Shard, name, &outbox),
            }
        }
        frames.push(frame(kind, Reply::Bulk(name.clone()), target.count(ctx)));
    }
    // Messages raised while this ran must follow the confirmations.
    ctx.client.pubsub.hold_pushes = true;
    answer(ctx, frames)
}

fn unsubscribe_from(ctx: &mut Ctx<'_>, argv: &[Bytes], target: Target) -> CommandResult {
    let (_, kind) = target.names();
    let names: Vec<Bytes> = if argv.len() > 1 {
        argv[1..].to_vec()
    } else {
        let ps = &ctx.client.pubsub;
        match target {
            Target::Channels => ps.channels.iter().cloned().collect(),
            Target::Patterns => ps.patterns.iter().cloned().collect(),
            Target::ShardChannels => ps.shard_channels.iter().cloned().collect(),
        }
    };
    if names.is_empty() {
        return answer(ctx, vec![frame(kind, Reply::Nil, target.count(ctx))]);
    }
    let registry = &ctx.state.pubsub;
    let mut frames = Vec::with_capacity(names.len());
    for name in names {
        let ps = &mut ctx.client.pubsub;
        let id = ps.outbox.id();
        let removed = match target {
            Target::Channels => ps.channels.remove(&name),
            Target::Patterns => ps.patterns.remove(&name),
            Target::ShardChannels => ps.shard_channels.remove(&name),
        };
        if removed {
            match target {
                Target::Channels => registry.unsubscribe(ChannelKind::Global, &name, id),
                Target::Patterns => registry.punsubscribe(&name, id),
                Target::ShardChannels => registry.unsubscribe(ChannelKind::Shard, &name, id),
            }
        }
        frames.push(frame(kind, Reply::Bulk(name), target.count(ctx)));
    }
    answer(ctx, frames)
}

fn subscribe(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CommandResult {
    subscribe_to(ctx, argv, Target::Channels)
}

fn psubscribe(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CommandResult {
    subscribe_to(ctx, argv, Target::Patterns)
}

fn ssubscribe(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CommandResult {
    subscribe_to(ctx, argv, Target::ShardChannels)
}

fn unsubscribe(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CommandResult {
    unsubscribe_from(ctx, argv, Target::Channels)
}

fn punsubscribe(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CommandResult {
    unsubscribe_from(ctx, argv, Target::Patterns)
}

fn sunsubscribe(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CommandResult {
    unsubscribe_from(ctx, argv, Target::ShardChannels)
}

fn publish(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CommandResult {
    let n = ctx.state.pubsub.publish(
        ctx.state.pubsub_handle(),
        ChannelKind::Global,
        &argv[1],
        &argv[2],
    );
    Ok(Reply::Int(n))
}

fn spublish(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CommandResult {
    let n = ctx.state.pubsub.publish(
        ctx.state.pubsub_handle(),
        ChannelKind::Shard,
        &argv[1],
        &argv[2],
    );
    Ok(Reply::Int(n))
}

fn names_reply(mut names: Vec<Bytes>) -> Reply {
    names.sort();
    Reply::Array(names.into_iter().map(Reply::Bulk).collect())
}

fn channels(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CommandResult {
    list_channels(ctx, argv, ChannelKind::Global)
}

fn shardchannels(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CommandResult {
    list_channels(ctx, argv, ChannelKind::Shard)
}

fn list_channels(ctx: &mut Ctx<'_>, argv: &[Bytes], kind: ChannelKind) -> CommandResult {
    if argv.len() > 3 {
        // Redis's `addReplySubcommandSyntaxError`, with the subcommand as the client typed it.
        let typed = &argv[1][..argv[1].len().min(128)];
        return Err(CommandError::err(format!(
            "unknown subcommand or wrong number of arguments for '{}'. Try PUBSUB HELP.",
            String::from_utf8_lossy(typed)
        )));
    }
    let pattern = argv.get(2).map(|p| p.as_ref());
    Ok(names_reply(ctx.state.pubsub.channel_names(kind, pattern)))
}

fn numsub(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CommandResult {
    count_subscribers(ctx, argv, ChannelKind::Global)
}

fn shardnumsub(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CommandResult {
    count_subscribers(ctx, argv, ChannelKind::Shard)
}

fn count_subscribers(ctx: &mut Ctx<'_>, argv: &[Bytes], kind: ChannelKind) -> CommandResult {
    let mut out = Vec::with_capacity((argv.len() - 2) * 2);
    for channel in &argv[2..] {
        let n = ctx.state.pubsub.subscriber_count(kind, channel);
        out.push(Reply::Bulk(channel.clone()));
        out.push(Reply::Int(n as i64));
    }
    Ok(Reply::Array(out))
}

fn numpat(ctx: &mut Ctx<'_>, _argv: &[Bytes]) -> CommandResult {
    Ok(Reply::Int(ctx.state.pubsub.pattern_count() as i64))
}

fn help(_ctx: &mut Ctx<'_>, _argv: &[Bytes]) -> CommandResult {
    Ok(crate::engine::help_reply(HELP))
}

/// MONITOR: from now on, every command the server runs is pushed to this connection.
fn monitor(ctx: &mut Ctx<'_>, _argv: &[Bytes]) -> CommandResult {
    let ps = &mut ctx.client.pubsub;
    if ps.monitor {
        // Redis ignores a repeated MONITOR without replying.
        if ctx.client.reply_mode == ReplyMode::On {
            ctx.client.reply_mode = ReplyMode::Skipping;
        }
        return Ok(Reply::Ok);
    }
    ps.monitor = true;
    ps.outbox.set_protocol(ctx.client.protocol);
    ctx.state.pubsub.add_monitor(&ps.outbox);
    Ok(Reply::Ok)
}
