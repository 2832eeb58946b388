//! Consumer groups: XGROUP's subcommands, XACK, XPENDING, XCLAIM and XAUTOCLAIM.
//!
//! XCLAIM and XAUTOCLAIM are logged, as Redis propagates them, as one forced XCLAIM per
//! claimed (or dropped) entry with its absolute delivery time and count, so a replay sets the
//! same pending entries list.

use crate::commands::collection::{self, read_in};
use crate::commands::stream::{entry_reply, parse_interval_id, parse_strict_id, raw_error};
use crate::engine::args::{is, parse_i64};
use crate::error::CommandError;
use crate::keyspace::types::stream::{Consumer, Group, PendingEntry, StreamId, DEL_NOT_FOUND};
use crate::keyspace::types::StreamValue;
use crate::protocol::Reply;
use crate::pubsub::notify;
use crate::{engine::CommandResult, engine::Ctx};
use bytes::Bytes;

static XGROUP_HELP: &[&str] = &[
    "XGROUP <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "CREATE <key> <groupname> <id|$> [option]",
    "    Create a new consumer group. Options are:",
    "    * MKSTREAM",
    "      Create the empty stream if it does not exist.",
    "    * ENTRIESREAD entries_read",
    "      Set the group's entries_read counter (internal use).",
    "CREATECONSUMER <key> <groupname> <consumer>",
    "    Create a new consumer in the specified group.",
    "DELCONSUMER <key> <groupname> <consumer>",
    "    Remove the specified consumer.",
    "DESTROY <key> <groupname>",
    "    Remove the specified group.",
    "SETID <key> <groupname> <id|$> [ENTRIESREAD entries_read]",
    "    Set the current group ID and entries_read counter.",
    "HELP",
    "    Prints this help.",
];

pub(super) fn xgroup_help(_ctx: &mut Ctx<'_>, _argv: &[Bytes]) -> CommandResult {
    Ok(crate::engine::help_reply(XGROUP_HELP))
}

fn subcommand_syntax(sub: &[u8]) -> CommandError {
    raw_error(&[
        b"ERR unknown subcommand or wrong number of arguments for '",
        &sub[..sub.len().min(128)],
        b"'. Try XGROUP HELP.",
    ])
}

/// `-NOGROUP No such key '<key>' or consumer group '<group>'<suffix>`
pub(super) fn no_group(key: &[u8], group: &[u8], suffix: &[u8]) -> CommandError {
    raw_error(&[
        b"NOGROUP No such key '",
        key,
        b"' or consumer group '",
        group,
        b"'",
        suffix,
    ])
}

/// Parses ENTRIESREAD's value: a non-negative count or -1 (unknown).
fn parse_entries_read(arg: &[u8]) -> Result<Option<u64>, CommandError> {
    let n = parse_i64(arg)?;
    if n < 0 && n != -1 {
        return Err(CommandError::err(
            "value for ENTRIESREAD must be positive or -1",
        ));
    }
    Ok((n >= 0).then_some(n as u64))
}

/// The checks every XGROUP subcommand but HELP shares (Redis's `xgroupCommand` prologue):
/// WRONGTYPE, a missing key (unless MKSTREAM), and for `needs_group` a missing group.
fn prologue(
    ctx: &mut Ctx<'_>,
    argv: &[Bytes],
    mkstream: bool,
    needs_group: bool,
) -> Result<bool, CommandError> {
    let key = &argv[2];
    let group = &argv[3];
    let s = read_in::<StreamValue>(ctx, key)?;
    let exists = s.is_some();
    if s.is_none() && !mkstream {
        return Err(CommandError::err(
            "The XGROUP subcommand requires the key to exist. Note that for CREATE you may want to use the MKSTREAM option to create an empty stream automatically.",
        ));
    }
    if needs_group && !s.is_some_and(|s| s.groups.contains_key(&group[..])) {
        return Err(raw_error(&[
            b"NOGROUP No such consumer group '",
            group,
            b"' for key name '",
            key,
            b"'",
        ]));
    }
    Ok(exists)
}

pub(super) fn xgroup_create(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CommandResult {
    let mut mkstream = false;
    let mut entries_read = None;
    let mut i = 5;
    while i < argv.len() {
        if is(&argv[i], "mkstream") {
            mkstream = true;
            i += 1;
        } else if is(&argv[i], "entriesread") && i + 1 < argv.len() {
            entries_read = parse_entries_read(&argv[i + 1])?;
            i += 2;
        } else {
            return Err(subcommand_syntax(&argv[1]));
        }
    }
    prologue(ctx, argv, mkstream, false)?;
    if argv.len() > 8 {
        return Err(subcommand_syntax(&argv[1]));
    }
    let dollar = &argv[4][..] == b"$";
    let id = if dollar {
        None
    } else {
        Some(parse_strict_id(&argv[4], 0)?)
    };
    let key = &argv[2];
    let name: Box<[u8]> = argv[3][..].into();
    let db = ctx.db();
    let w = collection::write::<StreamValue, _>(ctx, db, key, true, |s| {
        if s.groups.contains_key(&name) {
            return Ok(false);
        }
        let id = id.unwrap_or(s.last_id);
        s.groups.insert(name, Group::new(id, entries_read));
        Ok(true)
    })?
    .expect("created when missing");
    if w.created {
        ctx.notify(notify::NEW, "new", db, key);
        ctx.key_changed(db, key);
    }
    if !w.result {
        return Err(CommandError::other(
            "BUSYGROUP Consumer Group name already exists",
        ));
    }
    // Logged as requested, but no WATCH or tracking touch: Redis does not signal it.
    ctx.changed += 1;
    ctx.notify(notify::STREAM, "xgroup-create", db, key);
    Ok(Reply::Ok)
}

pub(super) fn xgroup_setid(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CommandResult {
    prologue(ctx, argv, false, true)?;
    if argv.len() != 5 && argv.len() != 7 {
        return Err(subcommand_syntax(&argv[1]));
    }
    let dollar = &argv[4][..] == b"$";
    let id = if dollar {
        None
    } else {
        Some(crate::commands::stream::parse_id(&argv[4], 0)?)
    };
    let mut entries_read = None;
    if argv.len() == 7 {
        if !is(&argv[5], "entriesread") {
            return Err(subcommand_syntax(&argv[1]));
        }
        entries_read = parse_entries_read(&argv[6])?;
    }
    let key = &argv[2];
    let db = ctx.db();
    collection::write::<StreamValue, _>(ctx, db, key, false, |s| {
        let last = s.last_id;
        let g = s.groups.get_mut(&argv[3][..]).expect("checked above");
        g.last_id = id.unwrap_or(last);
        g.entries_read = entries_read;
        Ok(())
    })?;
    // Logged as requested, but no WATCH or tracking touch: Redis does not signal it.
    ctx.changed += 1;
    ctx.notify(notify::STREAM, "xgroup-setid", db, key);
    Ok(Reply::Ok)
}

pub(super) fn xgroup_destroy(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CommandResult {
    prologue(ctx, argv, false, false)?;
    let key = &argv[2];
    let db = ctx.db();
    let w = collection::write::<StreamValue, _>(ctx, db, key, false, |s| {
        Ok(s.groups.remove(&argv[3][..]).is_some())
    })?
    .expect("checked above");
    if !w.result {
        return Ok(Reply::Int(0));
    }
    // Logged as requested and its waiters re-run (they answer -NOGROUP), but no WATCH or
    // tracking touch: Redis only signals the key as ready.
    ctx.changed += 1;
    ctx.state.blocking.signal(db, key);
    ctx.notify(notify::STREAM, "xgroup-destroy", db, key);
    Ok(Reply::Int(1))
}

pub(super) fn xgroup_createconsumer(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CommandResult {
    prologue(ctx, argv, false, true)?;
    let key = &argv[2];
    let db = ctx.db();
    let now = ctx.now_ms;
    let w = collection::write::<StreamValue, _>(ctx, db, key, false, |s| {
        let g = s.groups.get_mut(&argv[3][..]).expect("checked above");
        if g.consumers.contains_key(&argv[4][..]) {
            return Ok(false);
        }
        g.consumers.insert(argv[4][..].into(), Consumer::new(now));
        Ok(true)
    })?
    .expect("checked above");
    if !w.result {
        ctx.propagate_nothing();
        return Ok(Reply::Int(0));
    }
    // Logged as requested, but no WATCH or tracking touch: Redis does not signal it.
    ctx.changed += 1;
    ctx.notify(notify::STREAM, "xgroup-createconsumer", db, key);
    Ok(Reply::Int(1))
}

pub(super) fn xgroup_delconsumer(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CommandResult {
    prologue(ctx, argv, false, true)?;
    let key = &argv[2];
    let db = ctx.db();
    let w = collection::write::<StreamValue, _>(ctx, db, key, false, |s| {
        let g = s.groups.get_mut(&argv[3][..]).expect("checked above");
        let Some(c) = g.consumers.remove(&argv[4][..]) else {
            return Ok(None);
        };
        for id in &c.pel {
            g.pel.remove(id);
        }
        Ok(Some(c.pel.len()))
    })?
    .expect("checked above");
    let Some(pending) = w.result else {
        ctx.propagate_nothing();
        return Ok(Reply::Int(0));
    };
    // Logged as requested, but no WATCH or tracking touch: Redis does not signal it.
    ctx.changed += 1;
    ctx.notify(notify::STREAM, "xgroup-delconsumer", db, key);
    Ok(Reply::Int(pending as i64))
}

pub(super) fn xack(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CommandResult {
    let key = &argv[1];
    let has_group = match read_in::<StreamValue>(ctx, key)? {
        None => false,
        Some(s) => s.groups.contains_key(&argv[2][..]),
    };
    if !has_group {
        return Ok(Reply::Int(0));
    }
    let ids = argv[3..]
        .iter()
        .map(|a| parse_strict_id(a, 0))
        .collect::<Result<Vec<_>, _>>()?;
    let db = ctx.db();
    let w = collection::write::<StreamValue, _>(ctx, db, key, false, |s| {
        let g = s.groups.get_mut(&argv[2][..]).expect("checked above");
        Ok(ids.iter().filter(|id| g.ack(**id)).count())
    })?
    .expect("checked above");
    if w.result > 0 {
        ctx.propagate(argv.to_vec());
    } else {
        ctx.propagate_nothing();
    }
    Ok(Reply::Int(w.result as i64))
}

/// XACKDEL (Redis 8.2): XACK, then XDELEX's delete of each acknowledged ID.
pub(super) fn xackdel(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CommandResult {
    let key = &argv[1];
    let (policy, ids) = crate::commands::stream::parse_ref_ids(argv, 3)?;
    let has_group = match read_in::<StreamValue>(ctx, key)? {
        None => false,
        Some(s) => s.groups.contains_key(&argv[2][..]),
    };
    if !has_group {
        ctx.propagate_nothing();
        return Ok(crate::commands::stream::codes_reply(&vec![
            DEL_NOT_FOUND;
            ids.len()
        ]));
    }
    let db = ctx.db();
    let w = collection::write::<StreamValue, _>(ctx, db, key, false, |s| {
        let len_before = s.len();
        let codes: Vec<i64> = ids
            .iter()
            .map(|id| s.ack_delete_with(&argv[2], *id, policy))
            .collect();
        Ok((codes, s.len() != len_before))
    })?
    .expect("checked above");
    let (codes, deleted) = w.result;
    if deleted {
        ctx.key_changed(db, key);
        ctx.notify(notify::STREAM, "xdel", db, key);
    }
    if codes.iter().any(|c| *c != DEL_NOT_FOUND) {
        ctx.propagate(argv.to_vec());
    } else {
        ctx.propagate_nothing();
    }
    Ok(crate::commands::stream::codes_reply(&codes))
}

pub(super) fn xpending(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CommandResult {
    let justinfo = argv.len() == 3;
    if argv.len() != 3 && !(6..=9).contains(&argv.len()) {
        return Err(CommandError::Syntax);
    }
    let mut start = StreamId::ZERO;
    let mut end = StreamId::MAX;
    let mut count: i64 = 0;
    let mut min_idle: i64 = 0;
    let mut consumer: Option<&Bytes> = None;
    if argv.len() >= 6 {
        let mut at = 3;
        if is(&argv[3], "idle") {
            min_idle = parse_i64(&argv[4])?;
            if argv.len() < 8 {
                return Err(CommandError::Syntax);
            }
            at += 2;
        }
        count = parse_i64(&argv[at + 2])?.max(0);
        let (s, ex) = parse_interval_id(&argv[at], 0)?;
        start = if ex {
            s.incr()
                .ok_or_else(|| CommandError::err("invalid start ID for the interval"))?
        } else {
            s
        };
        let (e, ex) = parse_interval_id(&argv[at + 1], u64::MAX)?;
        end = if ex {
            e.decr()
                .ok_or_else(|| CommandError::err("invalid end ID for the interval"))?
        } else {
            e
        };
        consumer = argv.get(at + 3);
    }
    let key = &argv[1];
    let now = ctx.now_ms;
    let s = read_in::<StreamValue>(ctx, key)?;
    let Some(g) = s.and_then(|s| s.groups.get(&argv[2][..])) else {
        return Err(no_group(key, &argv[2], b""));
    };
    if justinfo {
        if g.pel.is_empty() {
            return Ok(Reply::Array(vec![
                Reply::Int(0),
                Reply::Nil,
                Reply::Nil,
                Reply::NilArray,
            ]));
        }
        let first = *g.pel.keys().next().expect("not empty");
        let last = *g.pel.keys().next_back().expect("not empty");
        let per: Vec<Reply> = g
            .consumers
            .iter()
            .filter(|(_, c)| !c.pel.is_empty())
            .map(|(n, c)| {
                Reply::Array(vec![
                    Reply::Bulk(Bytes::copy_from_slice(n)),
                    Reply::Bulk(Bytes::from(c.pel.len().to_string())),
                ])
            })
            .collect();
        return Ok(Reply::Array(vec![
            Reply::Int(g.pel.len() as i64),
            Reply::Bulk(first.to_bytes()),
            Reply::Bulk(last.to_bytes()),
            Reply::Array(per),
        ]));
    }
    let ids: Box<dyn Iterator<Item = StreamId>> = match consumer {
        Some(name) => match g.consumers.get(&name[..]) {
            None => return Ok(Reply::Array(Vec::new())),
            Some(c) => Box::new(c.pel.range(start..).copied()),
        },
        None => Box::new(g.pel.range(start..).map(|(id, _)| *id)),
    };
    let mut out = Vec::new();
    if start <= end {
        for id in ids {
            if count == 0 || id > end {
                break;
            }
            let Some(p) = g.pel.get(&id) else { continue };
            let idle = now as i64 - p.delivery_time as i64;
            if min_idle != 0 && idle < min_idle {
                continue;
            }
            count -= 1;
            out.push(Reply::Array(vec![
                Reply::Bulk(id.to_bytes()),
                Reply::Bulk(Bytes::copy_from_slice(&p.consumer)),
                Reply::Int(idle.max(0)),
                Reply::Int(p.delivery_count as i64),
            ]));
        }
    }
    Ok(Reply::Array(out))
}

/// The XCLAIM Redis propagates for one pending entry (Redis's `streamPropagateXCLAIM`).
fn xclaim_effect(
    key: &Bytes,
    group: &Bytes,
    id: StreamId,
    p: &PendingEntry,
    last: StreamId,
) -> Vec<Bytes> {
    vec![
        Bytes::from_static(b"XCLAIM"),
        key.clone(),
        group.clone(),
        Bytes::copy_from_slice(&p.consumer),
        Bytes::from_static(b"0"),
        id.to_bytes(),
        Bytes::from_static(b"TIME"),
        Bytes::from(p.delivery_time.to_string()),
        Bytes::from_static(b"RETRYCOUNT"),
        Bytes::from(p.delivery_count.to_string()),
        Bytes::from_static(b"FORCE"),
        Bytes::from_static(b"JUSTID"),
        Bytes::from_static(b"LASTID"),
        last.to_bytes(),
    ]
}

/// `XGROUP SETID key group last ENTRIESREAD n`, Redis's `streamPropagateGroupID`.
pub(super) fn setid_effect(key: &Bytes, group: &Bytes, g: &Group) -> Vec<Bytes> {
    vec![
        Bytes::from_static(b"XGROUP"),
        Bytes::from_static(b"SETID"),
        key.clone(),
        group.clone(),
        g.last_id.to_bytes(),
        Bytes::from_static(b"ENTRIESREAD"),
        Bytes::from(g.entries_read.map_or(-1, |n| n as i64).to_string()),
    ]
}

/// Gives `id`'s pending entry to `consumer` (created when missing; the flag reports it).
fn assign(g: &mut Group, id: StreamId, consumer: &[u8], now: u64, created: &mut bool) {
    if !g.consumers.contains_key(consumer) {
        g.consumers.insert(consumer.into(), Consumer::new(now));
        *created = true;
    }
    let p = g.pel.get_mut(&id).expect("pending");
    if &p.consumer[..] != consumer {
        if let Some(old) = g.consumers.get_mut(&p.consumer) {
            old.pel.remove(&id);
        }
        p.consumer = consumer.into();
    }
    let c = g.consumers.get_mut(consumer).expect("created above");
    c.pel.insert(id);
    c.seen_time = now;
    c.active_time = now as i64;
}

/// Creates `consumer` when missing and sets its seen-time: Redis 7.2's XCLAIM and XAUTOCLAIM
/// count every attempt as an interaction.
fn touch_consumer(g: &mut Group, consumer: &[u8], now: u64, created: &mut bool) {
    if !g.consumers.contains_key(consumer) {
        g.consumers.insert(consumer.into(), Consumer::new(now));
        *created = true;
    }
    g.consumers.get_mut(consumer).expect("present").seen_time = now;
}

/// `XGROUP CREATECONSUMER key group consumer`, logged before the other effects of a command
/// that created the consumer.
fn createconsumer_effect(key: &Bytes, group: &Bytes, consumer: &Bytes) -> Vec<Bytes> {
    vec![
        Bytes::from_static(b"XGROUP"),
        Bytes::from_static(b"CREATECONSUMER"),
        key.clone(),
        group.clone(),
        consumer.clone(),
    ]
}

/// Drops `id`'s pending entry (its stream entry is gone).
fn drop_pending(g: &mut Group, id: StreamId) -> Option<PendingEntry> {
    let p = g.pel.remove(&id)?;
    if let Some(c) = g.consumers.get_mut(&p.consumer) {
        c.pel.remove(&id);
    }
    Some(p)
}

pub(super) fn xclaim(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CommandResult {
    let key = &argv[1];
    let gname = &argv[2];
    let has_group = match read_in::<StreamValue>(ctx, key)? {
        None => false,
        Some(s) => s.groups.contains_key(&gname[..]),
    };
    if !has_group {
        return Err(no_group(key, gname, b""));
    }
    let min_idle = parse_i64(&argv[4])
        .map_err(|_| CommandError::err("Invalid min-idle-time argument for XCLAIM"))?
        .max(0);
    let mut j = 5;
    let mut ids = Vec::new();
    while j < argv.len() {
        match parse_strict_id(&argv[j], 0) {
            Ok(id) => ids.push(id),
            Err(_) => break,
        }
        j += 1;
    }
    let now = ctx.now_ms as i64;
    let mut force = false;
    let mut justid = false;
    let mut delivery: i64 = -1;
    let mut retry: i64 = -1;
    let mut last_id = StreamId::ZERO;
    while j < argv.len() {
        let more = argv.len() - 1 - j;
        let opt = &argv[j];
        if is(opt, "force") {
            force = true;
        } else if is(opt, "justid") {
            justid = true;
        } else if is(opt, "idle") && more > 0 {
            j += 1;
            let n = parse_i64(&argv[j])
                .map_err(|_| CommandError::err("Invalid IDLE option argument for XCLAIM"))?;
            delivery = now.wrapping_sub(n);
        } else if is(opt, "time") && more > 0 {
            j += 1;
            delivery = parse_i64(&argv[j])
                .map_err(|_| CommandError::err("Invalid TIME option argument for XCLAIM"))?;
        } else if is(opt, "retrycount") && more > 0 {
            j += 1;
            retry = parse_i64(&argv[j])
                .map_err(|_| CommandError::err("Invalid RETRYCOUNT option argument for XCLAIM"))?;
        } else if is(opt, "lastid") && more > 0 {
            j += 1;
            last_id = parse_strict_id(&argv[j], 0)?;
        } else {
            return Err(raw_error(&[b"ERR Unrecognized XCLAIM option '", opt, b"'"]));
        }
        j += 1;
    }
    if delivery < 0 || delivery > now {
        delivery = now;
    }
    let delivery = delivery as u64;
    let consumer = &argv[3];
    let db = ctx.db();
    let logging = ctx.logging();
    let w = collection::write::<StreamValue, _>(ctx, db, key, false, |s| {
        let mut replies = Vec::new();
        let mut effects = Vec::new();
        let mut created = false;
        let mut last_moved = false;
        let exists: Vec<bool> = ids.iter().map(|id| s.contains(*id)).collect();
        {
            let g = s.groups.get_mut(&gname[..]).expect("checked above");
            if last_id > g.last_id {
                g.last_id = last_id;
                last_moved = true;
            }
            touch_consumer(g, consumer, now as u64, &mut created);
            for (id, exists) in ids.iter().zip(exists) {
                if !exists {
                    if let Some(p) = drop_pending(g, *id) {
                        if logging {
                            effects.push(xclaim_effect(key, gname, *id, &p, g.last_id));
                        }
                    }
                    continue;
                }
                let mut fresh = false;
                if force && !g.pel.contains_key(id) {
                    g.pel.insert(
                        *id,
                        PendingEntry {
                            consumer: Box::from(&b""[..]),
                            delivery_time: now as u64,
                            delivery_count: 1,
                        },
                    );
                    fresh = true;
                }
                let Some(p) = g.pel.get(id) else { continue };
                if !fresh && min_idle > 0 && (now - p.delivery_time as i64) < min_idle {
                    continue;
                }
                assign(g, *id, consumer, now as u64, &mut created);
                let p = g.pel.get_mut(id).expect("pending");
                p.delivery_time = delivery;
                if retry >= 0 {
                    p.delivery_count = retry as u64;
                } else if !justid {
                    p.delivery_count += 1;
                }
                replies.push(*id);
                if logging {
                    effects.push(xclaim_effect(key, gname, *id, p, g.last_id));
                }
            }
            if last_moved && effects.is_empty() && logging {
                effects.push(setid_effect(key, gname, g));
            }
        }
        let replies: Vec<Reply> = replies
            .into_iter()
            .map(|id| {
                if justid {
                    Reply::Bulk(id.to_bytes())
                } else {
                    let e = s.range(id, id, 1, false);
                    entry_reply(id, &e[0].1)
                }
            })
            .collect();
        Ok((replies, effects, created))
    })?
    .expect("checked above");
    let (replies, effects, created) = w.result;
    if created {
        ctx.notify(notify::STREAM, "xgroup-createconsumer", db, key);
        if logging {
            ctx.propagate(createconsumer_effect(key, gname, consumer));
        }
    }
    if effects.is_empty() {
        ctx.propagate_nothing();
    }
    for e in effects {
        ctx.propagate(e);
    }
    Ok(Reply::Array(replies))
}

pub(super) fn xautoclaim(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CommandResult {
    let key = &argv[1];
    let gname = &argv[2];
    let min_idle = parse_i64(&argv[4])
        .map_err(|_| CommandError::err("Invalid min-idle-time argument for XAUTOCLAIM"))?
        .max(0);
    let (mut start, ex) = parse_interval_id(&argv[5], 0)?;
    if ex {
        start = start
            .incr()
            .ok_or_else(|| CommandError::err("invalid start ID for the interval"))?;
    }
    let mut count: i64 = 100;
    let mut justid = false;
    let mut j = 6;
    while j < argv.len() {
        let more = argv.len() - 1 - j;
        if is(&argv[j], "count") && more > 0 {
            let max = i64::MAX / 16;
            count = match parse_i64(&argv[j + 1]) {
                Ok(n) if (1..=max).contains(&n) => n,
                _ => return Err(CommandError::err("COUNT must be > 0")),
            };
            j += 1;
        } else if is(&argv[j], "justid") {
            justid = true;
        } else {
            return Err(CommandError::Syntax);
        }
        j += 1;
    }
    let has_group = match read_in::<StreamValue>(ctx, key)? {
        None => false,
        Some(s) => s.groups.contains_key(&gname[..]),
    };
    if !has_group {
        return Err(no_group(key, gname, b""));
    }
    let now = ctx.now_ms;
    let consumer = &argv[3];
    let db = ctx.db();
    let logging = ctx.logging();
    let w = collection::write::<StreamValue, _>(ctx, db, key, false, |s| {
        let mut attempts = count.saturating_mul(10);
        let mut claimed = Vec::new();
        let mut deleted = Vec::new();
        let mut effects = Vec::new();
        let mut created = false;
        let mut cursor = Some(start);
        touch_consumer(
            s.groups.get_mut(&gname[..]).expect("checked above"),
            consumer,
            now,
            &mut created,
        );
        loop {
            if attempts == 0 || count == 0 {
                break;
            }
            attempts -= 1;
            let Some(from) = cursor else { break };
            let Some((&id, _)) = s.groups[&gname[..]].pel.range(from..).next() else {
                cursor = None;
                break;
            };
            cursor = id.incr();
            let exists = s.contains(id);
            let g = s.groups.get_mut(&gname[..]).expect("checked above");
            if !exists {
                if let Some(p) = drop_pending(g, id) {
                    if logging {
                        effects.push(xclaim_effect(key, gname, id, &p, g.last_id));
                    }
                }
                deleted.push(id);
                count -= 1;
                continue;
            }
            let p = &g.pel[&id];
            if min_idle > 0 && (now as i64 - p.delivery_time as i64) < min_idle {
                continue;
            }
            assign(g, id, consumer, now, &mut created);
            let p = g.pel.get_mut(&id).expect("pending");
            p.delivery_time = now;
            if !justid {
                p.delivery_count += 1;
            }
            claimed.push(id);
            count -= 1;
            if logging {
                effects.push(xclaim_effect(key, gname, id, p, g.last_id));
            }
        }
        let g = &s.groups[&gname[..]];
        let next = cursor
            .and_then(|c| g.pel.range(c..).next().map(|(id, _)| *id))
            .unwrap_or(StreamId::ZERO);
        let claimed: Vec<Reply> = claimed
            .into_iter()
            .map(|id| {
                if justid {
                    Reply::Bulk(id.to_bytes())
                } else {
                    let e = s.range(id, id, 1, false);
                    entry_reply(id, &e[0].1)
                }
            })
            .collect();
        Ok((next, claimed, deleted, effects, created))
    })?
    .expect("checked above");
    let (next, claimed, deleted, effects, created) = w.result;
    if created {
        ctx.notify(notify::STREAM, "xgroup-createconsumer", db, key);
        if logging {
            ctx.propagate(createconsumer_effect(key, gname, consumer));
        }
    }
    if effects.is_empty() {
        ctx.propagate_nothing();
    }
    for e in effects {
        ctx.propagate(e);
    }
    Ok(Reply::Array(vec![
        Reply::Bulk(next.to_bytes()),
        Reply::Array(claimed),
        Reply::Array(
            deleted
                .into_iter()
                .map(|id| Reply::Bulk(id.to_bytes()))
                .collect(),
        ),
    ]))
}
