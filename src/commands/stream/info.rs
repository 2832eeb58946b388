//! XINFO STREAM [FULL [COUNT n]], GROUPS, CONSUMERS and HELP (Redis 7.2's fields).

use crate::commands::collection::read_in;
use crate::commands::stream::{entry_reply, raw_error};
use crate::engine::args::{is, parse_i64};
use crate::error::CommandError;
use crate::keyspace::types::stream::{Group, StreamId};
use crate::keyspace::types::StreamValue;
use crate::protocol::Reply;
use crate::{engine::CommandResult, engine::Ctx};
use bytes::Bytes;

static XINFO_HELP: &[&str] = &[
    "XINFO <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "CONSUMERS <key> <groupname>",
    "    Show consumers of <groupname>.",
    "GROUPS <key>",
    "    Show the stream consumer groups.",
    "STREAM <key> [FULL [COUNT <count>]",
    "    Show information about the stream.",
    "HELP",
    "    Prints this help.",
];

pub(super) fn xinfo_help(_ctx: &mut Ctx<'_>, _argv: &[Bytes]) -> CommandResult {
    Ok(crate::engine::help_reply(XINFO_HELP))
}

fn field(name: &'static str) -> Reply {
    Reply::bulk_static(name)
}

fn id_bulk(id: StreamId) -> Reply {
    Reply::Bulk(id.to_bytes())
}

fn opt_int(n: Option<u64>) -> Reply {
    n.map_or(Reply::Nil, |n| Reply::Int(n as i64))
}

fn lookup<'c>(ctx: &'c mut Ctx<'_>, key: &[u8]) -> Result<&'c StreamValue, CommandError> {
    read_in::<StreamValue>(ctx, key)?.ok_or(CommandError::NoSuchKey)
}

fn subcommand_syntax(sub: &[u8]) -> CommandError {
    raw_error(&[
        b"ERR unknown subcommand or wrong number of arguments for '",
        &sub[..sub.len().min(128)],
        b"'. Try XINFO HELP.",
    ])
}

pub(super) fn xinfo_stream(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CommandResult {
    let key = &argv[2];
    let now = ctx.now_ms;
    let s = lookup(ctx, key)?;
    let opts = &argv[3..];
    let mut count: i64 = 10;
    let full = !opts.is_empty();
    if full {
        if opts.len() != 1 && opts.len() != 3 {
            return Err(subcommand_syntax(&argv[1]));
        }
        if !is(&opts[0], "full") {
            return Err(subcommand_syntax(&argv[1]));
        }
        if opts.len() == 3 {
            if !is(&opts[1], "count") {
                return Err(subcommand_syntax(&argv[1]));
            }
            count = parse_i64(&opts[2])?;
            if count < 0 {
                count = 10;
            }
        }
    }
    let mut m = vec![
        (field("length"), Reply::Int(s.len() as i64)),
        (field("radix-tree-keys"), Reply::Int(s.block_count() as i64)),
        (
            field("radix-tree-nodes"),
            Reply::Int(s.radix_nodes() as i64),
        ),
        (field("last-generated-id"), id_bulk(s.last_id)),
        (field("max-deleted-entry-id"), id_bulk(s.max_deleted)),
        (field("entries-added"), Reply::Int(s.entries_added as i64)),
        (field("recorded-first-entry-id"), id_bulk(s.first_id())),
    ];
    if !full {
        m.push((field("groups"), Reply::Int(s.groups.len() as i64)));
        let first = s.range(StreamId::ZERO, StreamId::MAX, 1, false);
        let last = s.range(StreamId::ZERO, StreamId::MAX, 1, true);
        m.push((
            field("first-entry"),
            first
                .first()
                .map_or(Reply::Nil, |(id, f)| entry_reply(*id, f)),
        ));
        m.push((
            field("last-entry"),
            last.first()
                .map_or(Reply::Nil, |(id, f)| entry_reply(*id, f)),
        ));
        return Ok(Reply::Map(m));
    }
    let entries = s.range(StreamId::ZERO, StreamId::MAX, count as usize, false);
    m.push((
        field("entries"),
        crate::commands::stream::entries_reply(&entries),
    ));
    let groups = s
        .groups
        .iter()
        .map(|(name, g)| full_group(s, name, g, count as usize, now))
        .collect();
    m.push((field("groups"), Reply::Array(groups)));
    Ok(Reply::Map(m))
}

fn full_group(s: &StreamValue, name: &[u8], g: &Group, count: usize, _now: u64) -> Reply {
    let limit = if count == 0 { usize::MAX } else { count };
    let pending = g
        .pel
        .iter()
        .take(limit)
        .map(|(id, p)| {
            Reply::Array(vec![
                id_bulk(*id),
                Reply::Bulk(Bytes::copy_from_slice(&p.consumer)),
                Reply::Int(p.delivery_time as i64),
                Reply::Int(p.delivery_count as i64),
            ])
        })
        .collect();
    let consumers = g
        .consumers
        .iter()
        .map(|(cname, c)| {
            let pending = c
                .pel
                .iter()
                .take(limit)
                .filter_map(|id| {
                    let p = g.pel.get(id)?;
                    Some(Reply::Array(vec![
                        id_bulk(*id),
                        Reply::Int(p.delivery_time as i64),
                        Reply::Int(p.delivery_count as i64),
                    ]))
                })
                .collect();
            Reply::Map(vec![
                (field("name"), Reply::Bulk(Bytes::copy_from_slice(cname))),
                (field("seen-time"), Reply::Int(c.seen_time as i64)),
                (field("active-time"), Reply::Int(c.active_time)),
                (field("pel-count"), Reply::Int(c.pel.len() as i64)),
                (field("pending"), Reply::Array(pending)),
            ])
        })
        .collect();
    Reply::Map(vec![
        (field("name"), Reply::Bulk(Bytes::copy_from_slice(name))),
        (field("last-delivered-id"), id_bulk(g.last_id)),
        (field("entries-read"), opt_int(g.entries_read)),
        (field("lag"), opt_int(s.lag(g))),
        (field("pel-count"), Reply::Int(g.pel.len() as i64)),
        (field("pending"), Reply::Array(pending)),
        (field("consumers"), Reply::Array(consumers)),
    ])
}

pub(super) fn xinfo_groups(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CommandResult {
    let s = lookup(ctx, &argv[2])?;
    let groups = s
        .groups
        .iter()
        .map(|(name, g)| {
            Reply::Map(vec![
                (field("name"), Reply::Bulk(Bytes::copy_from_slice(name))),
                (field("consumers"), Reply::Int(g.consumers.len() as i64)),
                (field("pending"), Reply::Int(g.pel.len() as i64)),
                (field("last-delivered-id"), id_bulk(g.last_id)),
                (field("entries-read"), opt_int(g.entries_read)),
                (field("lag"), opt_int(s.lag(g))),
            ])
        })
        .collect();
    Ok(Reply::Array(groups))
}

pub(super) fn xinfo_consumers(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CommandResult {
    let key = &argv[2];
    let now = ctx.now_ms as i64;
    let s = lookup(ctx, key)?;
    let Some(g) = s.groups.get(&argv[3][..]) else {
        return Err(raw_error(&[
            b"NOGROUP No such consumer group '",
            &argv[3],
            b"' for key name '",
            key,
            b"'",
        ]));
    };
    let consumers = g
        .consumers
        .iter()
        .map(|(name, c)| {
            let idle = (now - c.seen_time as i64).max(0);
            let inactive = if c.active_time < 0 {
                -1
            } else {
                (now - c.active_time).max(0)
            };
            Reply::Map(vec![
                (field("name"), Reply::Bulk(Bytes::copy_from_slice(name))),
                (field("pending"), Reply::Int(c.pel.len() as i64)),
                (field("idle"), Reply::Int(idle)),
                (field("inactive"), Reply::Int(inactive)),
            ])
        })
        .collect();
    Ok(Reply::Array(consumers))
}
