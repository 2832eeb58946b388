//! XREAD and XREADGROUP (Redis's `xreadCommand`), blocking on `crate::engine::blocking`.
//!
//! A read that finds nothing and has BLOCK waits on its keys. Its request is re-run when one
//! of them changes in any way (as Redis 7.2 re-executes a blocked stream read), with `$`
//! replaced by the ID it stood for when the command first ran, so only entries added after
//! that are served; a group destroyed or a key deleted meanwhile answers the same error a
//! fresh call would (-NOGROUP).

use crate::commands::collection::{self, read_in};
use crate::commands::stream::group::setid_effect;
use crate::commands::stream::{entry_reply, parse_strict_id, raw_error};
use crate::engine::args::{is, parse_i64};
use crate::engine::blocking::block_on;
use crate::engine::client::BlockRequest;
use crate::error::CommandError;
use crate::keyspace::types::stream::{Consumer, PendingEntry, StreamId};
use crate::keyspace::types::StreamValue;
use crate::protocol::{Protocol, Reply};
use crate::pubsub::notify;
use crate::{engine::CommandResult, engine::Ctx};
use bytes::Bytes;

/// Keys of XREAD/XREADGROUP: the first half of the arguments after STREAMS (Redis's
/// `xreadGetKeys`).
fn stream_keys(argv: &[Bytes]) -> Vec<(Option<usize>, usize)> {
    let mut pos = None;
    let mut i = 1;
    while i < argv.len() {
        let a = &argv[i];
        if is(a, "block") || is(a, "count") {
            i += 1;
        } else if is(a, "group") {
            i += 2;
        } else if is(a, "noack") {
        } else if is(a, "streams") {
            pos = Some(i);
            break;
        } else {
            break;
        }
        i += 1;
    }
    let Some(pos) = pos else {
        return Vec::new();
    };
    let num = argv.len().saturating_sub(pos + 1);
    if num == 0 || !num.is_multiple_of(2) {
        return Vec::new();
    }
    (pos + 1..pos + 1 + num / 2).map(|i| (None, i)).collect()
}

pub(super) fn keys_xread(argv: &[Bytes]) -> Vec<(Option<usize>, usize)> {
    stream_keys(argv)
}

pub(super) fn keys_xreadgroup(argv: &[Bytes]) -> Vec<(Option<usize>, usize)> {
    stream_keys(argv)
}

pub(super) fn xread(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CommandResult {
    read_command(ctx, argv, false)
}

pub(super) fn xreadgroup(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CommandResult {
    read_command(ctx, argv, true)
}

/// What one key's ID argument asks for.
#[derive(Clone, Copy)]
enum Want {
    /// Entries after this ID.
    After(StreamId),
    /// XREADGROUP's `>`: entries never delivered to the group.
    New,
    /// XREADGROUP with an ID: the consumer's pending entries after this ID.
    History(StreamId),
}

fn read_command(ctx: &mut Ctx<'_>, argv: &[Bytes], group_read: bool) -> CommandResult {
    let mut timeout: Option<i64> = None;
    let mut count: usize = 0;
    let mut streams_at = 0;
    let mut noack = false;
    let mut group: Option<(&Bytes, &Bytes)> = None;
    let mut i = 1;
    while i < argv.len() {
        let more = argv.len() - 1 - i;
        let o = &argv[i];
        if is(o, "block") && more > 0 {
            if ctx.client.blocking.nested && ctx.state.scripting.busy.is_running() {
                return Err(crate::commands::stream::raw_error(&[
                    b"ERR ",
                    &argv[0],
                    b" command is not allowed with BLOCK option from scripts",
                ]));
            }
            i += 1;
            let ms = parse_i64(&argv[i])
                .map_err(|_| CommandError::err("timeout is not an integer or out of range"))?;
            if ms < 0 {
                return Err(CommandError::err("timeout is negative"));
            }
            if ms > 0 && ms > i64::MAX - ctx.now_ms as i64 {
                return Err(CommandError::err("timeout is out of range"));
            }
            timeout = Some(ms);
        } else if is(o, "count") && more > 0 {
            i += 1;
            count = parse_i64(&argv[i])?.max(0) as usize;
        } else if is(o, "streams") && more > 0 {
            streams_at = i + 1;
            if !(argv.len() - streams_at).is_multiple_of(2) {
                // Redis 7.2's text (7.0 always says XREAD and '$').
                let (name, symbol) = if group_read {
                    ("xreadgroup", '>')
                } else {
                    ("xread", '$')
                };
                return Err(CommandError::err(format!(
                    "Unbalanced '{name}' list of streams: for each stream key an ID or '{symbol}' must be specified."
                )));
            }
            break;
        } else if is(o, "group") && more >= 2 {
            if !group_read {
                return Err(CommandError::err(
                    "The GROUP option is only supported by XREADGROUP. You called XREAD instead.",
                ));
            }
            group = Some((&argv[i + 1], &argv[i + 2]));
            i += 2;
        } else if is(o, "noack") {
            if !group_read {
                return Err(CommandError::err(
                    "The NOACK option is only supported by XREADGROUP. You called XREAD instead.",
                ));
            }
            noack = true;
        } else {
            return Err(CommandError::Syntax);
        }
        i += 1;
    }
    if streams_at == 0 {
        return Err(CommandError::Syntax);
    }
    if group_read && group.is_none() {
        return Err(CommandError::err("Missing GROUP option for XREADGROUP"));
    }
    let n = (argv.len() - streams_at) / 2;
    // Dispatch locked the keys `stream_keys` found; a request they disagree on is malformed.
    if stream_keys(argv).first().map(|k| k.1) != Some(streams_at) {
        return Err(CommandError::Syntax);
    }
    let keys = &argv[streams_at..streams_at + n];
    let id_args = &argv[streams_at + n..];
    let mut wants = Vec::with_capacity(n);
    // Where `$` stood, for the re-run of a blocked read.
    let mut resolved: Vec<Option<StreamId>> = vec![None; n];
    for (k, (key, arg)) in keys.iter().zip(id_args).enumerate() {
        let s = read_in::<StreamValue>(ctx, key)?;
        if let Some((gname, _)) = group {
            if !s.is_some_and(|s| s.groups.contains_key(&gname[..])) {
                return Err(raw_error(&[
                    b"NOGROUP No such key '",
                    key,
                    b"' or consumer group '",
                    gname,
                    b"' in XREADGROUP with GROUP option",
                ]));
            }
        }
        let arg = &arg[..];
        if arg == b"$" {
            if group_read {
                return Err(CommandError::err("The $ ID is meaningless in the context of XREADGROUP: you want to read the history of this consumer by specifying a proper ID, or use the > ID to get new messages. The $ ID would just return an empty result set."));
            }
            let id = s.map_or(StreamId::ZERO, |s| s.last_id);
            resolved[k] = Some(id);
            wants.push(Want::After(id));
        } else if arg == b">" {
            if !group_read {
                return Err(CommandError::err("The > ID can be specified only when calling XREADGROUP using the GROUP <group> <consumer> option."));
            }
            wants.push(Want::New);
        } else {
            let id = parse_strict_id(arg, 0)?;
            wants.push(if group_read {
                Want::History(id)
            } else {
                Want::After(id)
            });
        }
    }
    let mut served: Vec<(Bytes, Reply)> = Vec::new();
    for (key, want) in keys.iter().zip(&wants) {
        let item = match group {
            None => read_plain(ctx, key, *want, count)?,
            Some((gname, consumer)) => read_group(ctx, key, gname, consumer, *want, count, noack)?,
        };
        if let Some(entries) = item {
            served.push((key.clone(), entries));
        }
    }
    if !served.is_empty() {
        return Ok(match ctx.client.protocol {
            Protocol::Resp2 => Reply::Array(
                served
                    .into_iter()
                    .map(|(k, e)| Reply::Array(vec![Reply::Bulk(k), e]))
                    .collect(),
            ),
            Protocol::Resp3 => Reply::Map(
                served
                    .into_iter()
                    .map(|(k, e)| (Reply::Bulk(k), e))
                    .collect(),
            ),
        });
    }
    let Some(ms) = timeout else {
        return Ok(Reply::NilArray);
    };
    let mut rerun = argv.to_vec();
    for (k, id) in resolved.iter().enumerate() {
        if let Some(id) = id {
            rerun[streams_at + n + k] = id.to_bytes();
        }
    }
    block_on(
        ctx,
        BlockRequest {
            keys: keys.to_vec(),
            wants: "stream",
            deadline_ms: (ms > 0).then(|| ctx.now_ms + ms as u64),
            timeout_reply: Reply::NilArray,
            rerun: Some(rerun),
            on_any_change: group.is_some(),
        },
    )
}

/// XREAD on one key: the entries after the ID, or `None` when there are none.
fn read_plain(
    ctx: &mut Ctx<'_>,
    key: &[u8],
    want: Want,
    count: usize,
) -> Result<Option<Reply>, CommandError> {
    let Want::After(after) = want else {
        unreachable!("XREAD wants entries after an ID")
    };
    let Some(s) = read_in::<StreamValue>(ctx, key)? else {
        return Ok(None);
    };
    if s.is_empty() || s.last_valid_id() <= after {
        return Ok(None);
    }
    let Some(start) = after.incr() else {
        return Ok(None);
    };
    let entries = s.range(start, StreamId::MAX, count, false);
    Ok(Some(crate::commands::stream::entries_reply(&entries)))
}

/// XREADGROUP on one key (the group is known to exist).
#[allow(clippy::too_many_arguments)]
fn read_group(
    ctx: &mut Ctx<'_>,
    key: &Bytes,
    gname: &Bytes,
    consumer: &Bytes,
    want: Want,
    count: usize,
    noack: bool,
) -> Result<Option<Reply>, CommandError> {
    let db = ctx.db();
    let now = ctx.now_ms;
    let logging = ctx.logging();
    let w = collection::write::<StreamValue, _>(ctx, db, key, false, |s| {
        // Redis 7.2: every attempt creates the consumer and sets its seen-time, served or
        // not (7.0.15 creates it only when the read is served).
        let mut created = false;
        {
            let g = s.groups.get_mut(&gname[..]).expect("checked by the caller");
            if !g.consumers.contains_key(&consumer[..]) {
                g.consumers.insert(consumer[..].into(), Consumer::new(now));
                created = true;
            }
            g.consumers
                .get_mut(&consumer[..])
                .expect("present")
                .seen_time = now;
        }
        let mut effects = Vec::new();
        let reply = match want {
            Want::History(after) => {
                let g = &s.groups[&gname[..]];
                let c = &g.consumers[&consumer[..]];
                let from = after.incr().unwrap_or(StreamId::MAX);
                let ids: Vec<StreamId> = c
                    .pel
                    .range(from..)
                    .take(if count == 0 { usize::MAX } else { count })
                    .copied()
                    .collect();
                let mut out = Vec::with_capacity(ids.len());
                let mut delivered = Vec::new();
                for id in ids {
                    let e = s.range(id, id, 1, false);
                    match e.first() {
                        Some((id, fields)) => {
                            out.push(entry_reply(*id, fields));
                            delivered.push(*id);
                        }
                        None => out.push(Reply::Array(vec![
                            Reply::Bulk(id.to_bytes()),
                            Reply::NilArray,
                        ])),
                    }
                }
                let g = s.groups.get_mut(&gname[..]).expect("present");
                for id in delivered {
                    if let Some(p) = g.pel.get_mut(&id) {
                        p.delivery_time = now;
                        p.delivery_count += 1;
                    }
                }
                Some(Reply::Array(out))
            }
            Want::New | Want::After(_) => {
                let last = s.groups[&gname[..]].last_id;
                let has_new = !s.is_empty() && s.last_valid_id() > last;
                if !has_new {
                    None
                } else {
                    let start = last.incr().unwrap_or(StreamId::MAX);
                    let entries: Vec<(StreamId, Vec<(Bytes, Bytes)>)> = s
                        .range(start, StreamId::MAX, count, false)
                        .into_iter()
                        .map(|(id, f)| {
                            (
                                id,
                                f.into_iter()
                                    .map(|(a, b)| {
                                        (Bytes::copy_from_slice(a), Bytes::copy_from_slice(b))
                                    })
                                    .collect(),
                            )
                        })
                        .collect();
                    let mut out = Vec::with_capacity(entries.len());
                    for (id, fields) in &entries {
                        s.advance_group(gname, *id);
                        let g = s.groups.get_mut(&gname[..]).expect("present");
                        if !noack {
                            if let Some(old) = g.pel.get(id) {
                                let prev = old.consumer.clone();
                                if let Some(pc) = g.consumers.get_mut(&prev) {
                                    pc.pel.remove(id);
                                }
                            }
                            g.pel.insert(
                                *id,
                                PendingEntry {
                                    consumer: consumer[..].into(),
                                    delivery_time: now,
                                    delivery_count: 1,
                                },
                            );
                            let c = g.consumers.get_mut(&consumer[..]).expect("present");
                            c.pel.insert(*id);
                            c.active_time = now as i64;
                            if logging {
                                effects.push(vec![
                                    Bytes::from_static(b"XCLAIM"),
                                    key.clone(),
                                    gname.clone(),
                                    consumer.clone(),
                                    Bytes::from_static(b"0"),
                                    id.to_bytes(),
                                    Bytes::from_static(b"TIME"),
                                    Bytes::from(now.to_string()),
                                    Bytes::from_static(b"RETRYCOUNT"),
                                    Bytes::from_static(b"1"),
                                    Bytes::from_static(b"FORCE"),
                                    Bytes::from_static(b"JUSTID"),
                                    Bytes::from_static(b"LASTID"),
                                    id.to_bytes(),
                                ]);
                            }
                        }
                        let flat = fields
                            .iter()
                            .flat_map(|(f, v)| [Reply::Bulk(f.clone()), Reply::Bulk(v.clone())])
                            .collect();
                        out.push(Reply::Array(vec![
                            Reply::Bulk(id.to_bytes()),
                            Reply::Array(flat),
                        ]));
                    }
                    if logging {
                        effects.push(setid_effect(key, gname, &s.groups[&gname[..]]));
                    }
                    Some(Reply::Array(out))
                }
            }
        };
        Ok((reply, effects, created))
    })?
    .expect("checked by the caller");
    let (reply, effects, created) = w.result;
    if created {
        ctx.notify(notify::STREAM, "xgroup-createconsumer", db, key);
        if logging {
            ctx.propagate(vec![
                Bytes::from_static(b"XGROUP"),
                Bytes::from_static(b"CREATECONSUMER"),
                key.clone(),
                gname.clone(),
                consumer.clone(),
            ]);
        }
    }
    if effects.is_empty() && !created {
        ctx.propagate_nothing();
    }
    for e in effects {
        ctx.propagate(e);
    }
    Ok(reply)
}
