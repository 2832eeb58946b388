//! Runs memcached requests against the keyspace. Each key is handled under its own shard lock
//! (a multi-key `get` is not atomic, as in memcached), in a `Ctx` so that a write has every
//! side effect a RESP write has; see the module comment of `crate::memcache`.

use super::count;
use super::parse::{MetaCmd, Request, StoreOp, RELATIVE_EXPIRY_MAX};
use crate::engine::context::{Ctx, Locks};
use crate::engine::ClientState;
use crate::keyspace::entry::ItemMeta;
use crate::keyspace::{Entry, ShardId, ValueRef};
use crate::protocol::reply::put_decimal;
use crate::pubsub::notify;
use crate::state::ServerState;
use crate::stats::ServerStats;
use bytes::{BufMut, Bytes, BytesMut};
use std::sync::atomic::Ordering;

/// The memcached release whose protocol this speaks; `version` answers it with our own.
pub const VERSION_LINE: &str = concat!("VERSION 1.6.18-ferrocache-", env!("CARGO_PKG_VERSION"));

/// What the connection does after a request.
#[derive(Debug, PartialEq, Eq)]
pub enum Flow {
    Continue,
    Close,
}

/// One memcached connection's session: the client record its writes run as, and its database.
pub struct Session {
    pub client: ClientState,
    pub db: usize,
    /// The item size limit (`memcached-max-item-size`).
    pub item_max: usize,
}

/// A deadline from memcached's expiry rules: 0 never, negative already expired, up to 30 days
/// relative, beyond that an absolute unix time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Deadline {
    Never,
    At(u64),
    Expired,
}

fn deadline(exptime: i64, now_ms: u64) -> Deadline {
    match exptime {
        0 => Deadline::Never,
        t if t < 0 => Deadline::Expired,
        t if t > RELATIVE_EXPIRY_MAX => {
            let at = t as u64 * 1000;
            if at <= now_ms {
                Deadline::Expired
            } else {
                Deadline::At(at)
            }
        }
        t => Deadline::At(now_ms + t as u64 * 1000),
    }
}

impl Deadline {
    fn ms(self) -> Option<u64> {
        match self {
            Deadline::At(at) => Some(at),
            _ => None,
        }
    }
}

/// Runs one request, appending its reply to `out`.
pub fn execute(
    state: &ServerState,
    session: &mut Session,
    req: Request,
    out: &mut BytesMut,
) -> Flow {
    ServerStats::add(&state.stats.commands_processed, 1);
    match req {
        Request::Reply(line) => {
            if line.starts_with(b"CLIENT_ERROR")
                || line.starts_with(b"SERVER_ERROR")
                || line == b"ERROR\r\n"
            {
                state
                    .stats
                    .record_error(line.split(|&b| b == b' ').next().unwrap_or(line));
            }
            out.extend_from_slice(line);
        }
        Request::Get { cas, touch, keys } => get(state, session, cas, touch, &keys, out),
        Request::Store {
            op,
            key,
            flags,
            exptime,
            cas,
            data,
            noreply,
        } => {
            let reply = store(state, session, op, &key, flags, exptime, cas, &data);
            if !noreply {
                out.extend_from_slice(reply);
            }
        }
        Request::TooLarge { op, key } => {
            // memcached drops the old item so that a failed set leaves no stale value.
            if op == StoreOp::Set && write_refusal(state).is_none() {
                delete(state, session, &key);
            }
            out.extend_from_slice(b"SERVER_ERROR object too large for cache\r\n");
        }
        Request::Delete { key, noreply } => {
            let reply: &[u8] = match write_refusal(state) {
                Some(err) => err,
                None if delete(state, session, &key) => {
                    count(&state.memcache.counters.delete_hits, 1);
                    b"DELETED\r\n"
                }
                None => {
                    count(&state.memcache.counters.delete_misses, 1);
                    b"NOT_FOUND\r\n"
                }
            };
            if !noreply {
                out.extend_from_slice(reply);
            }
        }
        Request::Arith {
            incr,
            key,
            delta,
            noreply,
        } => {
            let mut reply = BytesMut::new();
            match arith(state, session, &key, incr, delta, None) {
                Ok(Some(n)) => {
                    reply.extend_from_slice(n.to_string().as_bytes());
                    reply.extend_from_slice(b"\r\n");
                }
                Ok(None) => reply.extend_from_slice(b"NOT_FOUND\r\n"),
                Err(err) => reply.extend_from_slice(err),
            }
            if !noreply {
                out.extend_from_slice(&reply);
            }
        }
        Request::Touch {
            key,
            exptime,
            noreply,
        } => {
            count(&state.memcache.counters.cmd_touch, 1);
            let reply: &[u8] = match write_refusal(state) {
                Some(err) => err,
                None if touch(state, session, &key, exptime) => {
                    count(&state.memcache.counters.touch_hits, 1);
                    b"TOUCHED\r\n"
                }
                None => {
                    count(&state.memcache.counters.touch_misses, 1);
                    b"NOT_FOUND\r\n"
                }
            };
            if !noreply {
                out.extend_from_slice(reply);
            }
        }
        Request::FlushAll { delay, noreply } => {
            count(&state.memcache.counters.cmd_flush, 1);
            flush_all(state, session, delay);
            if !noreply {
                out.extend_from_slice(b"OK\r\n");
            }
        }
        Request::Version => {
            out.extend_from_slice(VERSION_LINE.as_bytes());
            out.extend_from_slice(b"\r\n");
        }
        Request::Verbosity { noreply } => {
            if !noreply {
                out.extend_from_slice(b"OK\r\n");
            }
        }
        Request::Stats { args } => stats(state, session, &args, out),
        Request::Quit => return Flow::Close,
        Request::MetaNoop => out.extend_from_slice(b"MN\r\n"),
        Request::Meta {
            cmd,
            key,
            flags,
            data,
        } => meta(state, session, cmd, &key, &flags, data, out),
    }
    Flow::Continue
}

/// Runs `f` on the shard holding `key` in the session's database, as a command would: the
/// clock read once, the shard locked, then lazy-expiry events, AOF effects, the dirty counter,
/// keyspace events and clients blocked on the key handled after.
fn on_key<R>(
    state: &ServerState,
    session: &mut Session,
    key: &[u8],
    f: impl FnOnce(&mut Ctx<'_>, usize) -> R,
) -> R {
    let ks = &state.keyspace;
    let db = session.db;
    let id = ShardId {
        db,
        shard: ks.shard_of(ks.hash(key)),
    };
    let now_ms = state.clock.now_ms();
    let mut ctx = Ctx {
        state,
        client: &mut session.client,
        now_ms,
        locks: Locks::new(ks.lock_sorted(&[id])),
        changed: 0,
        effects: Default::default(),
    };
    let result = f(&mut ctx, db);
    after(ctx);
    result
}

/// The steps dispatch takes after a command (see `commands::dispatch::run_checked`).
fn after(mut ctx: Ctx<'_>) {
    let state = ctx.state;
    ctx.drain_expired();
    if !ctx.effects.is_empty() {
        let pos = state.aof.append(&ctx.effects.records);
        ctx.client.aof_wait = ctx.client.aof_wait.max(pos);
    }
    let changed = ctx.changed;
    let client: *mut ClientState = ctx.client;
    drop(ctx);
    // SAFETY: `ctx` held the only reference to the client and has been dropped.
    let client = unsafe { &mut *client };
    if changed > 0 {
        ServerStats::add(&state.stats.dirty, changed);
    }
    if !client.pubsub.events.is_empty() {
        notify::publish_recorded(state.pubsub_handle(), &mut client.pubsub);
    }
    if state.blocking.has_ready() {
        crate::engine::blocking::serve_ready(state);
    }
}

/// The refusal a write gets while the AOF cannot be written or the last background save
/// failed (MISCONF), or memory cannot be freed below maxmemory.
fn write_refusal(state: &ServerState) -> Option<&'static [u8]> {
    if state.aof.write_error().is_some()
        || crate::rdb::refuse_write(&state.rdb, &state.config, true).is_some()
    {
        return Some(b"SERVER_ERROR MISCONF writes are refused while persistence fails\r\n");
    }
    if crate::replication::replica::refusal(&state.replication, &state.config, true, false)
        .is_some()
    {
        return Some(b"SERVER_ERROR READONLY You can't write against a read only replica.\r\n");
    }
    if state.config.hot.maxmemory.load(Ordering::Relaxed) > 0 {
        use crate::engine::maxmemory::{make_room, Pressure};
        if make_room(state, state.clock.now_us(), 0) == Pressure::OutOfMemory {
            return Some(b"SERVER_ERROR out of memory storing object\r\n");
        }
    }
    None
}

/// The string value, flags and CAS unique of a live item (`None` for a missing key or a key
/// of another type).
struct Item {
    value: Bytes,
    meta: Option<ItemMeta>,
    deadline: Option<u64>,
}

fn read_item(ctx: &mut Ctx<'_>, db: usize, key: &[u8], count_read: bool) -> Option<Item> {
    lookup_item(ctx, db, key, count_read, true)
}

/// `read_item` of a write, without a copy of the value (left empty): what a store checks
/// before it replaces the item.
fn item_head(ctx: &mut Ctx<'_>, db: usize, key: &[u8]) -> Option<Item> {
    lookup_item(ctx, db, key, false, false)
}

fn lookup_item(
    ctx: &mut Ctx<'_>,
    db: usize,
    key: &[u8],
    count_read: bool,
    with_value: bool,
) -> Option<Item> {
    let now = ctx.now_ms;
    let (shard, hash) = ctx.shard_in(db, key);
    let entry = if count_read {
        shard.get_read(hash, key, now)?
    } else {
        shard.get_mut(hash, key, now)?
    };
    match entry.value() {
        ValueRef::Str(bytes) => Some(Item {
            value: if with_value {
                Bytes::copy_from_slice(bytes)
            } else {
                Bytes::new()
            },
            meta: entry.meta(),
            deadline: entry.expire_at_ms(),
        }),
        _ => None,
    }
}

/// The item's CAS unique, handing out (and remembering) a fresh one if it has none yet.
fn cas_of(ctx: &mut Ctx<'_>, db: usize, key: &[u8], item: &mut Item) -> u64 {
    if let Some(meta) = item.meta {
        return meta.cas;
    }
    let meta = ItemMeta {
        flags: 0,
        cas: ctx.state.memcache.next_cas(),
    };
    let now = ctx.now_ms;
    let (shard, hash) = ctx.shard_in(db, key);
    shard.set_item_meta(hash, key, meta, now);
    item.meta = Some(meta);
    meta.cas
}

fn get(
    state: &ServerState,
    session: &mut Session,
    with_cas: bool,
    touch: Option<i64>,
    keys: &[Bytes],
    out: &mut BytesMut,
) {
    if let Some(err) = get_refusal(state, touch) {
        out.extend_from_slice(err);
        return;
    }
    get_values(state, session, with_cas, touch, keys, usize::MAX, out);
    out.extend_from_slice(b"END\r\n");
}

/// The refusal of a gat / gats (a write) while writes are refused.
pub fn get_refusal(state: &ServerState, touch: Option<i64>) -> Option<&'static [u8]> {
    touch.and_then(|_| write_refusal(state))
}

/// The `VALUE` lines of a retrieval for `keys`, without the final `END`, stopping after the
/// key that takes `out` to `flush_at` bytes or more; returns how many keys it answered. The
/// connection calls it again for the rest after writing, so a `get` of many large values is
/// never held whole in memory.
pub fn get_values(
    state: &ServerState,
    session: &mut Session,
    with_cas: bool,
    touch: Option<i64>,
    keys: &[Bytes],
    flush_at: usize,
    out: &mut BytesMut,
) -> usize {
    for (answered, key) in keys.iter().enumerate() {
        if out.len() >= flush_at {
            return answered;
        }
        count(&state.memcache.counters.cmd_get, 1);
        if touch.is_some() {
            count(&state.memcache.counters.cmd_touch, 1);
        }
        let found = on_key(state, session, key, |ctx, db| {
            let mut item = read_item(ctx, db, key, true)?;
            let cas = with_cas.then(|| cas_of(ctx, db, key, &mut item));
            if let Some(exptime) = touch {
                set_deadline(ctx, db, key, deadline(exptime, ctx.now_ms));
            }
            Some((item, cas))
        });
        let Some((item, cas)) = found else {
            count(&state.memcache.counters.get_misses, 1);
            if touch.is_some() {
                count(&state.memcache.counters.touch_misses, 1);
            }
            continue;
        };
        count(&state.memcache.counters.get_hits, 1);
        if touch.is_some() {
            count(&state.memcache.counters.touch_hits, 1);
        }
        let flags = item.meta.map_or(0, |m| m.flags);
        out.extend_from_slice(b"VALUE ");
        out.extend_from_slice(key);
        out.extend_from_slice(b" ");
        put_decimal(out, u64::from(flags));
        out.extend_from_slice(b" ");
        put_decimal(out, item.value.len() as u64);
        if let Some(cas) = cas {
            out.extend_from_slice(b" ");
            put_decimal(out, cas);
        }
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(&item.value);
        out.extend_from_slice(b"\r\n");
    }
    keys.len()
}

/// Changes a live key's TTL (touch, gat, mg T); an expired deadline deletes it.
fn set_deadline(ctx: &mut Ctx<'_>, db: usize, key: &[u8], at: Deadline) -> bool {
    let now = ctx.now_ms;
    let (shard, hash) = ctx.shard_in(db, key);
    let found = match at {
        Deadline::Expired => shard.remove(hash, key, now).is_some(),
        _ => shard.set_expiry(hash, key, at.ms(), now),
    };
    if !found {
        return false;
    }
    ctx.key_changed(db, key);
    match at {
        Deadline::Expired => {
            ctx.propagate_in(
                db,
                vec![Bytes::from_static(b"DEL"), Bytes::copy_from_slice(key)],
            );
            ctx.notify(notify::GENERIC, "del", db, key);
        }
        Deadline::Never => {
            ctx.propagate_in(
                db,
                vec![Bytes::from_static(b"PERSIST"), Bytes::copy_from_slice(key)],
            );
            ctx.notify(notify::GENERIC, "persist", db, key);
        }
        Deadline::At(ms) => {
            ctx.propagate_in(
                db,
                vec![
                    Bytes::from_static(b"PEXPIREAT"),
                    Bytes::copy_from_slice(key),
                    Bytes::from(ms.to_string()),
                ],
            );
            ctx.notify(notify::GENERIC, "expire", db, key);
        }
    }
    true
}

fn touch(state: &ServerState, session: &mut Session, key: &[u8], exptime: i64) -> bool {
    on_key(state, session, key, |ctx, db| {
        let live = item_head(ctx, db, key).is_some();
        live && set_deadline(ctx, db, key, deadline(exptime, ctx.now_ms))
    })
}

fn delete(state: &ServerState, session: &mut Session, key: &[u8]) -> bool {
    on_key(state, session, key, |ctx, db| remove(ctx, db, key))
}

fn remove(ctx: &mut Ctx<'_>, db: usize, key: &[u8]) -> bool {
    let now = ctx.now_ms;
    let (shard, hash) = ctx.shard_in(db, key);
    if shard.remove(hash, key, now).is_none() {
        return false;
    }
    ctx.key_changed(db, key);
    ctx.propagate_in(
        db,
        vec![Bytes::from_static(b"DEL"), Bytes::copy_from_slice(key)],
    );
    ctx.notify(notify::GENERIC, "del", db, key);
    true
}

/// Stores `value` under `key` with `meta` (kept only when it says something) and a deadline,
/// with the events and AOF effect of a SET.
fn put(
    ctx: &mut Ctx<'_>,
    db: usize,
    key: &[u8],
    value: &[u8],
    meta: Option<ItemMeta>,
    at: Deadline,
    event: &'static str,
) {
    if at == Deadline::Expired {
        // Stored already expired: the item is gone.
        remove(ctx, db, key);
        return;
    }
    let now = ctx.now_ms;
    let deadline = at.ms();
    let (shard, hash) = ctx.shard_in(db, key);
    let entry = match meta {
        Some(meta) => Entry::new_item(key, value, deadline, meta, shard.arena()),
        None => Entry::new_str(key, value, deadline, shard.arena()),
    };
    let created = shard.insert_entry(hash, entry, now).is_none();
    ctx.key_changed(db, key);
    count(&ctx.state.memcache.counters.total_items, 1);
    if ctx.logging() {
        let mut argv = vec![
            Bytes::from_static(b"SET"),
            Bytes::copy_from_slice(key),
            Bytes::copy_from_slice(value),
        ];
        if let Some(ms) = deadline {
            argv.push(Bytes::from_static(b"PXAT"));
            argv.push(Bytes::from(ms.to_string()));
        }
        ctx.propagate_in(db, argv);
    }
    if created {
        ctx.notify(notify::NEW, "new", db, key);
    }
    ctx.notify(notify::STRING, event, db, key);
    if deadline.is_some() {
        ctx.notify(notify::GENERIC, "expire", db, key);
    }
}

/// A number from incr/decr, the item's CAS unique (0: none), its deadline, and whether the
/// item was created (ma N).
type Counted = (u64, u64, Option<u64>, bool);

/// The outcome of a storage command, as the classic protocol words it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Stored {
    Done,
    Refused,
    Exists,
    NotFound,
}

#[allow(clippy::too_many_arguments)]
fn store(
    state: &ServerState,
    session: &mut Session,
    op: StoreOp,
    key: &[u8],
    flags: u32,
    exptime: i64,
    cas: u64,
    data: &[u8],
) -> &'static [u8] {
    count(&state.memcache.counters.cmd_set, 1);
    if let Some(err) = write_refusal(state) {
        return err;
    }
    let item_max = session.item_max;
    let (outcome, _) = on_key(state, session, key, |ctx, db| {
        store_in(
            ctx,
            db,
            op,
            key,
            flags,
            exptime,
            Some(cas),
            data,
            item_max,
            false,
        )
    });
    match outcome {
        Stored::Done => b"STORED\r\n",
        Stored::Refused => b"NOT_STORED\r\n",
        Stored::Exists => b"EXISTS\r\n",
        Stored::NotFound => b"NOT_FOUND\r\n",
    }
}

/// The storage rules shared by the classic commands and `ms`. `cas` is the unique to compare
/// (0 or `None`: no comparison, except that `cas` itself always compares). Returns the outcome
/// and the new CAS unique when one was assigned (`want_cas`).
#[allow(clippy::too_many_arguments)]
fn store_in(
    ctx: &mut Ctx<'_>,
    db: usize,
    op: StoreOp,
    key: &[u8],
    flags: u32,
    exptime: i64,
    cas: Option<u64>,
    data: &[u8],
    item_max: usize,
    want_cas: bool,
) -> (Stored, u64) {
    // Only append and prepend use the old value.
    let existing = if matches!(op, StoreOp::Append | StoreOp::Prepend) {
        read_item(ctx, db, key, false)
    } else {
        item_head(ctx, db, key)
    };
    // A key of another type is no item, but add must not replace it.
    let occupied = op == StoreOp::Add
        && (existing.is_some() || {
            let now = ctx.now_ms;
            let (shard, hash) = ctx.shard_in(db, key);
            shard.contains(hash, key, now)
        });
    let compare = match (op, cas) {
        (StoreOp::Cas, c) => c,
        (_, Some(c)) if c != 0 => Some(c),
        _ => None,
    };
    if let Some(expected) = compare {
        let Some(item) = &existing else {
            count(&ctx.state.memcache.counters.cas_misses, 1);
            return (Stored::NotFound, 0);
        };
        if item.meta.map(|m| m.cas) != Some(expected) {
            count(&ctx.state.memcache.counters.cas_badval, 1);
            return (Stored::Exists, 0);
        }
        count(&ctx.state.memcache.counters.cas_hits, 1);
    }
    let at = deadline(exptime, ctx.now_ms);
    let fresh_cas = if want_cas || flags != 0 {
        ctx.state.memcache.next_cas()
    } else {
        0
    };
    let meta = (fresh_cas != 0).then_some(ItemMeta {
        flags,
        cas: fresh_cas,
    });
    match op {
        StoreOp::Set | StoreOp::Cas => put(ctx, db, key, data, meta, at, "set"),
        StoreOp::Add if occupied => return (Stored::Refused, 0),
        StoreOp::Replace if existing.is_none() => return (Stored::Refused, 0),
        StoreOp::Add | StoreOp::Replace => put(ctx, db, key, data, meta, at, "set"),
        StoreOp::Append | StoreOp::Prepend => {
            let Some(item) = existing else {
                return (Stored::Refused, 0);
            };
            if item.value.len() + data.len() > item_max {
                // memcached cannot allocate the joined item: NOT_STORED.
                return (Stored::Refused, 0);
            }
            let mut value = Vec::with_capacity(item.value.len() + data.len());
            if op == StoreOp::Append {
                value.extend_from_slice(&item.value);
                value.extend_from_slice(data);
            } else {
                value.extend_from_slice(data);
                value.extend_from_slice(&item.value);
            }
            // The item keeps its flags and TTL; it gets a new CAS unique if it had one.
            let old_flags = item.meta.map_or(0, |m| m.flags);
            let keep = item.meta.is_some() || want_cas;
            let cas = if keep {
                ctx.state.memcache.next_cas()
            } else {
                0
            };
            let meta = keep.then_some(ItemMeta {
                flags: old_flags,
                cas,
            });
            let at = item.deadline.map_or(Deadline::Never, Deadline::At);
            let event = if op == StoreOp::Append {
                "append"
            } else {
                "set"
            };
            put(ctx, db, key, &value, meta, at, event);
            return (Stored::Done, cas);
        }
    }
    (Stored::Done, fresh_cas)
}

/// incr/decr: `Ok(None)` for a missing key. `autovivify` (ma N): create a missing key with
/// this initial value and TTL instead.
fn arith(
    state: &ServerState,
    session: &mut Session,
    key: &[u8],
    incr: bool,
    delta: u64,
    autovivify: Option<(u64, i64)>,
) -> Result<Option<u64>, &'static [u8]> {
    if let Some(err) = write_refusal(state) {
        return Err(err);
    }
    let result = on_key(state, session, key, |ctx, db| {
        arith_in(ctx, db, key, incr, delta, autovivify)
    });
    let (hits, misses) = if incr {
        (
            &state.memcache.counters.incr_hits,
            &state.memcache.counters.incr_misses,
        )
    } else {
        (
            &state.memcache.counters.decr_hits,
            &state.memcache.counters.decr_misses,
        )
    };
    match result {
        Ok(Some(_)) => count(hits, 1),
        Ok(None) => count(misses, 1),
        Err(_) => {}
    }
    result.map(|r| r.map(|(n, _, _, _)| n))
}

const NON_NUMERIC: &[u8] = b"CLIENT_ERROR cannot increment or decrement non-numeric value\r\n";

/// Returns the new number and the item's CAS unique (0 when it has none).
fn arith_in(
    ctx: &mut Ctx<'_>,
    db: usize,
    key: &[u8],
    incr: bool,
    delta: u64,
    autovivify: Option<(u64, i64)>,
) -> Result<Option<Counted>, &'static [u8]> {
    let Some(item) = read_item(ctx, db, key, false) else {
        let Some((initial, exptime)) = autovivify else {
            return Ok(None);
        };
        let at = deadline(exptime, ctx.now_ms);
        put(
            ctx,
            db,
            key,
            initial.to_string().as_bytes(),
            None,
            at,
            "set",
        );
        return Ok(Some((initial, 0, at.ms(), true)));
    };
    // memcached's safe_strtoull: leading whitespace, digits, then nothing but whitespace.
    let text = &item.value[..];
    let lead = text.iter().take_while(|b| b.is_ascii_whitespace()).count();
    let digits = text[lead..]
        .iter()
        .take_while(|b| b.is_ascii_digit())
        .count();
    if digits == 0
        || text[lead + digits..]
            .iter()
            .any(|b| !b.is_ascii_whitespace())
    {
        return Err(NON_NUMERIC);
    }
    let Some(current) = std::str::from_utf8(&text[lead..lead + digits])
        .ok()
        .and_then(|s| s.parse::<u64>().ok())
    else {
        return Err(NON_NUMERIC);
    };
    let n = if incr {
        current.wrapping_add(delta)
    } else {
        current.saturating_sub(delta)
    };
    // memcached rewrites the number in place when it fits, padding with spaces.
    let mut value = n.to_string().into_bytes();
    if value.len() < text.len() {
        value.resize(text.len(), b' ');
    }
    let cas = item.meta.map_or(0, |_| ctx.state.memcache.next_cas());
    let meta = item.meta.map(|m| ItemMeta {
        flags: m.flags,
        cas,
    });
    let now = ctx.now_ms;
    let (shard, hash) = ctx.shard_in(db, key);
    let entry = match meta {
        Some(meta) => Entry::new_item(key, &value, item.deadline, meta, shard.arena()),
        None => Entry::new_str(key, &value, item.deadline, shard.arena()),
    };
    shard.insert_entry(hash, entry, now);
    ctx.key_changed(db, key);
    if ctx.logging() {
        let mut argv = vec![
            Bytes::from_static(b"SET"),
            Bytes::copy_from_slice(key),
            Bytes::from(value),
        ];
        if let Some(ms) = item.deadline {
            argv.push(Bytes::from_static(b"PXAT"));
            argv.push(Bytes::from(ms.to_string()));
        }
        ctx.propagate_in(db, argv);
    }
    let event = if incr { "incrby" } else { "decrby" };
    ctx.notify(notify::STRING, event, db, key);
    Ok(Some((n, cas, item.deadline, false)))
}

/// flush_all: empties the session's database now, or after `delay` (memcached's expiry rules).
fn flush_all(state: &ServerState, session: &mut Session, delay: i64) {
    let now_ms = state.clock.now_ms();
    match deadline(delay, now_ms) {
        Deadline::Never | Deadline::Expired => flush_db(state, &mut session.client, session.db),
        Deadline::At(at) => {
            let Some(shared) = state.self_arc() else {
                return flush_db(state, &mut session.client, session.db);
            };
            let db = session.db;
            let info = session.client.info.clone();
            tokio::spawn(async move {
                tokio::time::sleep(std::time::Duration::from_millis(at - now_ms)).await;
                let mut client = ClientState::new(info);
                flush_db(&shared, &mut client, db);
            });
        }
    }
}

fn flush_db(state: &ServerState, client: &mut ClientState, db: usize) {
    let mut ctx = Ctx {
        state,
        client,
        now_ms: state.clock.now_ms(),
        locks: Locks::none(),
        changed: 0,
        effects: Default::default(),
    };
    let mut removed = 0;
    let now = ctx.now_ms;
    ctx.for_each_shard(db, |_, shard| {
        removed += shard.len() as u64;
        shard.clear(now);
    });
    ctx.changed += removed;
    ctx.propagate_in(db, vec![Bytes::from_static(b"FLUSHDB")]);
    state.pubsub.tracking.flush(state.pubsub_handle());
    after(ctx);
}

fn stat(out: &mut BytesMut, name: &str, value: impl std::fmt::Display) {
    out.extend_from_slice(format!("STAT {name} {value}\r\n").as_bytes());
}

/// `stats`: the general statistics clients read (the items and sizes of the session's
/// database, memory from maxmemory); `stats reset` clears the counters.
fn stats(state: &ServerState, session: &Session, args: &[Bytes], out: &mut BytesMut) {
    match args.first().map(|a| &a[..]) {
        None => {}
        Some(b"reset") => {
            let c = &state.memcache.counters;
            for counter in [
                &c.total_connections,
                &c.cmd_get,
                &c.cmd_set,
                &c.cmd_flush,
                &c.cmd_touch,
                &c.get_hits,
                &c.get_misses,
                &c.delete_hits,
                &c.delete_misses,
                &c.incr_hits,
                &c.incr_misses,
                &c.decr_hits,
                &c.decr_misses,
                &c.cas_hits,
                &c.cas_misses,
                &c.cas_badval,
                &c.touch_hits,
                &c.touch_misses,
                &c.total_items,
                &c.bytes_read,
                &c.bytes_written,
            ] {
                counter.store(0, Ordering::Relaxed);
            }
            out.extend_from_slice(b"RESET\r\n");
            return;
        }
        Some(b"settings" | b"items" | b"slabs" | b"sizes" | b"conns") => {
            out.extend_from_slice(b"END\r\n");
            return;
        }
        Some(_) => {
            out.extend_from_slice(b"ERROR\r\n");
            return;
        }
    }
    let c = &state.memcache.counters;
    let get = |a: &std::sync::atomic::AtomicU64| a.load(Ordering::Relaxed);
    let now_ms = state.clock.now_ms();
    stat(out, "pid", std::process::id());
    stat(out, "uptime", state.started.elapsed().as_secs());
    stat(out, "time", now_ms / 1000);
    stat(out, "version", &VERSION_LINE["VERSION ".len()..]);
    stat(out, "pointer_size", usize::BITS);
    stat(out, "curr_connections", get(&c.curr_connections));
    stat(out, "total_connections", get(&c.total_connections));
    stat(out, "cmd_get", get(&c.cmd_get));
    stat(out, "cmd_set", get(&c.cmd_set));
    stat(out, "cmd_flush", get(&c.cmd_flush));
    stat(out, "cmd_touch", get(&c.cmd_touch));
    stat(out, "get_hits", get(&c.get_hits));
    stat(out, "get_misses", get(&c.get_misses));
    stat(out, "delete_misses", get(&c.delete_misses));
    stat(out, "delete_hits", get(&c.delete_hits));
    stat(out, "incr_misses", get(&c.incr_misses));
    stat(out, "incr_hits", get(&c.incr_hits));
    stat(out, "decr_misses", get(&c.decr_misses));
    stat(out, "decr_hits", get(&c.decr_hits));
    stat(out, "cas_misses", get(&c.cas_misses));
    stat(out, "cas_hits", get(&c.cas_hits));
    stat(out, "cas_badval", get(&c.cas_badval));
    stat(out, "touch_hits", get(&c.touch_hits));
    stat(out, "touch_misses", get(&c.touch_misses));
    stat(out, "bytes_read", get(&c.bytes_read));
    stat(out, "bytes_written", get(&c.bytes_written));
    stat(
        out,
        "limit_maxbytes",
        state.config.hot.maxmemory.load(Ordering::Relaxed),
    );
    stat(
        out,
        "threads",
        std::thread::available_parallelism().map_or(1, |n| n.get()),
    );
    stat(out, "bytes", state.keyspace.used_bytes());
    stat(out, "curr_items", state.keyspace.db_len(session.db));
    stat(out, "total_items", get(&c.total_items));
    stat(out, "expired_unfetched", 0);
    stat(out, "evictions", state.keyspace.stats().evicted);
    out.extend_from_slice(b"END\r\n");
}

/// Appends a meta reply's return flags, in the order the request gave them.
fn meta_flags_out(
    out: &mut BytesMut,
    flags: &[(u8, Bytes)],
    key: &[u8],
    item: Option<(&[u8], u32, u64, Option<u64>)>,
    now_ms: u64,
) {
    for (letter, arg) in flags {
        match (letter, item) {
            (b'O', _) => {
                out.put_u8(b' ');
                out.put_u8(b'O');
                out.extend_from_slice(arg);
            }
            (b'k', _) => {
                out.extend_from_slice(b" k");
                out.extend_from_slice(key);
            }
            (b'c', Some((_, _, cas, _))) => out.extend_from_slice(format!(" c{cas}").as_bytes()),
            (b'f', Some((_, flags, _, _))) => {
                out.extend_from_slice(format!(" f{flags}").as_bytes())
            }
            (b's', Some((value, _, _, _))) => {
                out.extend_from_slice(format!(" s{}", value.len()).as_bytes())
            }
            (b't', Some((_, _, _, deadline))) => {
                let ttl =
                    deadline.map_or(-1, |at| (at.saturating_sub(now_ms)).div_ceil(1000) as i64);
                out.extend_from_slice(format!(" t{ttl}").as_bytes());
            }
            _ => {}
        }
    }
}

fn flag(flags: &[(u8, Bytes)], letter: u8) -> Option<&[u8]> {
    flags
        .iter()
        .find(|(l, _)| *l == letter)
        .map(|(_, a)| &a[..])
}

const INVALID_FLAG: &[u8] = b"CLIENT_ERROR bad token in command line format\r\n";

fn meta(
    state: &ServerState,
    session: &mut Session,
    cmd: MetaCmd,
    key: &[u8],
    flags: &[(u8, Bytes)],
    data: Option<Bytes>,
    out: &mut BytesMut,
) {
    let quiet = flag(flags, b'q').is_some();
    let number = |letter: u8| -> Result<Option<i64>, ()> {
        match flag(flags, letter) {
            None => Ok(None),
            Some(arg) => super::parse::parse_i32(arg).map(Some).ok_or(()),
        }
    };
    let unsigned = |letter: u8| -> Result<Option<u64>, ()> {
        match flag(flags, letter) {
            None => Ok(None),
            Some(arg) => super::parse::parse_u64(arg).map(Some).ok_or(()),
        }
    };
    match cmd {
        MetaCmd::Get => {
            let Ok(touch) = number(b'T') else {
                return out.extend_from_slice(INVALID_FLAG);
            };
            if touch.is_some() {
                if let Some(err) = write_refusal(state) {
                    return out.extend_from_slice(err);
                }
            }
            let want_cas = flag(flags, b'c').is_some();
            count(&state.memcache.counters.cmd_get, 1);
            let now_ms = state.clock.now_ms();
            let found = on_key(state, session, key, |ctx, db| {
                let mut item = read_item(ctx, db, key, true)?;
                let cas = if want_cas {
                    cas_of(ctx, db, key, &mut item)
                } else {
                    0
                };
                if let Some(exptime) = touch {
                    let at = deadline(exptime, ctx.now_ms);
                    set_deadline(ctx, db, key, at);
                    item.deadline = at.ms();
                }
                Some((item, cas))
            });
            let Some((item, cas)) = found else {
                count(&state.memcache.counters.get_misses, 1);
                if !quiet {
                    out.extend_from_slice(b"EN");
                    meta_flags_out(out, flags, key, None, now_ms);
                    out.extend_from_slice(b"\r\n");
                }
                return;
            };
            count(&state.memcache.counters.get_hits, 1);
            let mc_flags = item.meta.map_or(0, |m| m.flags);
            let with_value = flag(flags, b'v').is_some();
            if with_value {
                out.extend_from_slice(format!("VA {}", item.value.len()).as_bytes());
            } else {
                out.extend_from_slice(b"HD");
            }
            let view = Some((&item.value[..], mc_flags, cas, item.deadline));
            meta_flags_out(out, flags, key, view, now_ms);
            out.extend_from_slice(b"\r\n");
            if with_value {
                out.extend_from_slice(&item.value);
                out.extend_from_slice(b"\r\n");
            }
        }
        MetaCmd::Set => {
            let data = data.unwrap_or_default();
            let (Ok(ttl), Ok(mc_flags), Ok(compare)) =
                (number(b'T'), unsigned(b'F'), unsigned(b'C'))
            else {
                return out.extend_from_slice(super::parse::BAD_FORMAT);
            };
            let op = match flag(flags, b'M').and_then(|m| m.first()) {
                None | Some(b'S' | b's') => StoreOp::Set,
                Some(b'E' | b'e') => StoreOp::Add,
                Some(b'A' | b'a') => StoreOp::Append,
                Some(b'P' | b'p') => StoreOp::Prepend,
                Some(b'R' | b'r') => StoreOp::Replace,
                Some(_) => {
                    return out.extend_from_slice(b"CLIENT_ERROR invalid mode for ms M token\r\n")
                }
            };
            count(&state.memcache.counters.cmd_set, 1);
            if let Some(err) = write_refusal(state) {
                return out.extend_from_slice(err);
            }
            let want_cas = flag(flags, b'c').is_some();
            let item_max = session.item_max;
            let (outcome, cas) = on_key(state, session, key, |ctx, db| {
                store_in(
                    ctx,
                    db,
                    op,
                    key,
                    mc_flags.unwrap_or(0) as u32,
                    ttl.unwrap_or(0),
                    compare,
                    &data,
                    item_max,
                    want_cas,
                )
            });
            let code: &[u8] = match outcome {
                Stored::Done if quiet => return,
                Stored::Done => b"HD",
                Stored::Refused => b"NS",
                Stored::Exists => b"EX",
                Stored::NotFound => b"NF",
            };
            out.extend_from_slice(code);
            let view = (outcome == Stored::Done).then_some((&data[..], 0, cas, None));
            let shown: Vec<(u8, Bytes)> = flags
                .iter()
                .filter(|(l, _)| matches!(l, b'O' | b'k' | b'c'))
                .cloned()
                .collect();
            meta_flags_out(out, &shown, key, view, 0);
            out.extend_from_slice(b"\r\n");
        }
        MetaCmd::Delete => {
            let Ok(compare) = unsigned(b'C') else {
                return out.extend_from_slice(INVALID_FLAG);
            };
            if let Some(err) = write_refusal(state) {
                return out.extend_from_slice(err);
            }
            let code: &[u8] = on_key(state, session, key, |ctx, db| {
                let Some(item) = read_item(ctx, db, key, false) else {
                    return b"NF";
                };
                if compare.is_some_and(|c| item.meta.map(|m| m.cas) != Some(c)) {
                    return b"EX";
                }
                remove(ctx, db, key);
                b"HD"
            });
            if quiet && code == b"HD" {
                return;
            }
            out.extend_from_slice(code);
            meta_flags_out(out, flags, key, None, 0);
            out.extend_from_slice(b"\r\n");
        }
        MetaCmd::Arith => {
            let (Ok(vivify_ttl), Ok(initial), Ok(delta)) =
                (number(b'N'), unsigned(b'J'), unsigned(b'D'))
            else {
                return out.extend_from_slice(b"CLIENT_ERROR invalid or duplicate flag\r\n");
            };
            let incr = match flag(flags, b'M').and_then(|m| m.first()) {
                None | Some(b'I' | b'i' | b'+') => true,
                Some(b'D' | b'd' | b'-') => false,
                Some(_) => {
                    return out.extend_from_slice(b"CLIENT_ERROR invalid mode for ma M token\r\n")
                }
            };
            let autovivify = vivify_ttl.map(|ttl| (initial.unwrap_or(0), ttl));
            if let Some(err) = write_refusal(state) {
                return out.extend_from_slice(err);
            }
            let result = on_key(state, session, key, |ctx, db| {
                arith_in(ctx, db, key, incr, delta.unwrap_or(1), autovivify)
            });
            let now_ms = state.clock.now_ms();
            match result {
                Err(err) => out.extend_from_slice(err),
                Ok(None) => {
                    out.extend_from_slice(b"NF");
                    meta_flags_out(out, flags, key, None, now_ms);
                    out.extend_from_slice(b"\r\n");
                }
                Ok(Some((n, cas, deadline, created))) => {
                    let text = n.to_string();
                    let with_value = flag(flags, b'v').is_some();
                    // memcached's q hides the answer about an existing counter, not about one
                    // it has just created.
                    if quiet && !created {
                        return;
                    }
                    if with_value {
                        out.extend_from_slice(format!("VA {}", text.len()).as_bytes());
                    } else {
                        out.extend_from_slice(b"HD");
                    }
                    let view = Some((text.as_bytes(), 0, cas, deadline));
                    let shown: Vec<(u8, Bytes)> = flags
                        .iter()
                        .filter(|(l, _)| matches!(l, b'O' | b'k' | b'c' | b't'))
                        .cloned()
                        .collect();
                    meta_flags_out(out, &shown, key, view, now_ms);
                    out.extend_from_slice(b"\r\n");
                    if with_value {
                        out.extend_from_slice(text.as_bytes());
                        out.extend_from_slice(b"\r\n");
                    }
                }
            }
        }
        MetaCmd::Debug => {
            let found = on_key(state, session, key, |ctx, db| {
                let mut item = read_item(ctx, db, key, false)?;
                let cas = cas_of(ctx, db, key, &mut item);
                Some((item, cas, ctx.now_ms))
            });
            match found {
                None => out.extend_from_slice(b"EN\r\n"),
                Some((item, cas, now_ms)) => {
                    let exp = item
                        .deadline
                        .map_or(-1, |at| (at.saturating_sub(now_ms) / 1000) as i64);
                    out.extend_from_slice(b"ME ");
                    out.extend_from_slice(key);
                    out.extend_from_slice(
                        format!(
                            " exp={exp} la=0 cas={cas} fetch=no cls=1 size={}\r\n",
                            item.value.len()
                        )
                        .as_bytes(),
                    );
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expiry_rules() {
        let now = 1_700_000_000_000;
        assert_eq!(deadline(0, now), Deadline::Never);
        assert_eq!(deadline(-1, now), Deadline::Expired);
        assert_eq!(deadline(10, now), Deadline::At(now + 10_000));
        assert_eq!(
            deadline(RELATIVE_EXPIRY_MAX, now),
            Deadline::At(now + RELATIVE_EXPIRY_MAX as u64 * 1000)
        );
        assert_eq!(deadline(RELATIVE_EXPIRY_MAX + 1, now), Deadline::Expired);
        assert_eq!(
            deadline(1_800_000_000, now),
            Deadline::At(1_800_000_000_000)
        );
    }
}
