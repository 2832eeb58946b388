//! Sorted-set commands: Redis's `sorted-set` group.
//!
//! Each command parses its options into a typed form, runs on one `ZSetValue` (see
//! `keyspace::types::zset`) through `commands::collection`, and maps the outcome to a reply.
//! This file holds the table, the shared plumbing (scores, replies, store, events) and the
//! single-member commands; ranges live in `range.rs`, ZUNION/ZINTER/ZDIFF in `algebra.rs`,
//! pops and random picks in `pop.rs`.

mod algebra;
mod pop;
mod range;

use crate::command;
use crate::commands::collection::{self, read_in};
use crate::engine::args::{is, parse_double};
use crate::error::CommandError;
use crate::keyspace::types::zset::{Inserted, ListpackLimits};
use crate::keyspace::types::ZSetValue;
use crate::keyspace::{Value, ValueRef};
use crate::protocol::{Protocol, Reply};
use crate::pubsub::notify;
use crate::{
    engine::flags::*, engine::CommandResult, engine::CommandSpec, engine::Ctx, engine::KeySpec,
};
use bytes::Bytes;
use std::sync::atomic::Ordering;

/// Adds the complexity line COMMAND DOCS reports.
const fn cx(spec: CommandSpec, complexity: &'static str) -> CommandSpec {
    CommandSpec { complexity, ..spec }
}

/// ZRANGESTORE's destination and source.
const TWO_KEYS: KeySpec = KeySpec::Range {
    first: 1,
    last: 2,
    step: 1,
};

/// Keys of ZUNION/ZINTER/ZDIFF/ZINTERCARD/ZMPOP: `numkeys` at 1, keys after it.
fn keys_numkeys_at_1(argv: &[Bytes]) -> Vec<(Option<usize>, usize)> {
    crate::engine::keys_after_numkeys(argv, 1)
}

/// Keys of the STORE variants: the destination at 1, `numkeys` at 2, keys after it.
fn keys_store_numkeys(argv: &[Bytes]) -> Vec<(Option<usize>, usize)> {
    let mut keys = vec![(None, 1)];
    keys.extend(crate::engine::keys_after_numkeys(argv, 2));
    keys
}

/// Keys of BZMPOP: timeout at 1, `numkeys` at 2, keys after it.
fn keys_numkeys_at_2(argv: &[Bytes]) -> Vec<(Option<usize>, usize)> {
    crate::engine::keys_after_numkeys(argv, 2)
}

/// Keys of BZPOPMIN/BZPOPMAX: every argument but the first and the last (the timeout).
const BLOCKING_POP_KEYS: KeySpec = KeySpec::Range {
    first: 1,
    last: -2,
    step: 1,
};

const SS: &[&str] = &["sortedset", "slow"];
const SF: &[&str] = &["sortedset", "fast"];

pub static COMMANDS: &[CommandSpec] = &[
    cx(command!("zadd", -4, WRITE | DENYOOM | FAST, KeySpec::one(), SF, "sorted-set", "1.2.0", "Adds one or more members to a sorted set, or updates their scores. Creates the key if it doesn't exist.", zadd), "O(log(N)) for each item added, where N is the number of elements in the sorted set."),
    cx(command!("zincrby", 4, WRITE | DENYOOM | FAST, KeySpec::one(), SF, "sorted-set", "1.2.0", "Increments the score of a member in a sorted set.", zincrby), "O(log(N)) where N is the number of elements in the sorted set."),
    cx(command!("zrem", -3, WRITE | FAST, KeySpec::one(), SF, "sorted-set", "1.2.0", "Removes one or more members from a sorted set. Deletes the sorted set if all members were removed.", zrem), "O(M*log(N)) with N being the number of elements in the sorted set and M the number of elements to be removed."),
    cx(command!("zscore", 3, READONLY | FAST, KeySpec::one(), SF, "sorted-set", "1.2.0", "Returns the score of a member in a sorted set.", zscore), "O(1)"),
    cx(command!("zmscore", -3, READONLY | FAST, KeySpec::one(), SF, "sorted-set", "6.2.0", "Returns the score of one or more members in a sorted set.", zmscore), "O(N) where N is the number of members being requested."),
    cx(command!("zcard", 2, READONLY | FAST, KeySpec::one(), SF, "sorted-set", "1.2.0", "Returns the number of members in a sorted set.", zcard), "O(1)"),
    cx(command!("zrank", -3, READONLY | FAST, KeySpec::one(), SF, "sorted-set", "2.0.0", "Returns the index of a member in a sorted set ordered by ascending scores.", zrank), "O(log(N))"),
    cx(command!("zrevrank", -3, READONLY | FAST, KeySpec::one(), SF, "sorted-set", "2.0.0", "Returns the index of a member in a sorted set ordered by descending scores.", zrevrank), "O(log(N))"),
    cx(command!("zcount", 4, READONLY | FAST, KeySpec::one(), SF, "sorted-set", "2.0.0", "Returns the count of members in a sorted set that have scores within a range.", range::zcount), "O(log(N)) with N being the number of elements in the sorted set."),
    cx(command!("zlexcount", 4, READONLY | FAST, KeySpec::one(), SF, "sorted-set", "2.8.9", "Returns the number of members in a sorted set within a lexicographical range.", range::zlexcount), "O(log(N)) with N being the number of elements in the sorted set."),
    cx(command!("zrange", -4, READONLY, KeySpec::one(), SS, "sorted-set", "1.2.0", "Returns members in a sorted set within a range of indexes.", range::zrange), "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements returned."),
    cx(command!("zrangestore", -5, WRITE | DENYOOM, TWO_KEYS, SS, "sorted-set", "6.2.0", "Stores a range of members from sorted set in a key.", range::zrangestore), "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements stored into the destination key."),
    cx(command!("zrevrange", -4, READONLY, KeySpec::one(), SS, "sorted-set", "1.2.0", "Returns members in a sorted set within a range of indexes in reverse order.", range::zrevrange), "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements returned."),
    cx(command!("zrangebyscore", -4, READONLY, KeySpec::one(), SS, "sorted-set", "1.0.5", "Returns members in a sorted set within a range of scores.", range::zrangebyscore), "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements being returned. If M is constant (e.g. always asking for the first 10 elements with LIMIT), you can consider it O(log(N))."),
    cx(command!("zrevrangebyscore", -4, READONLY, KeySpec::one(), SS, "sorted-set", "2.2.0", "Returns members in a sorted set within a range of scores in reverse order.", range::zrevrangebyscore), "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements being returned. If M is constant (e.g. always asking for the first 10 elements with LIMIT), you can consider it O(log(N))."),
    cx(command!("zrangebylex", -4, READONLY, KeySpec::one(), SS, "sorted-set", "2.8.9", "Returns members in a sorted set within a lexicographical range.", range::zrangebylex), "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements being returned. If M is constant (e.g. always asking for the first 10 elements with LIMIT), you can consider it O(log(N))."),
    cx(command!("zrevrangebylex", -4, READONLY, KeySpec::one(), SS, "sorted-set", "2.8.9", "Returns members in a sorted set within a lexicographical range in reverse order.", range::zrevrangebylex), "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements being returned. If M is constant (e.g. always asking for the first 10 elements with LIMIT), you can consider it O(log(N))."),
    cx(command!("zremrangebyrank", 4, WRITE, KeySpec::one(), SS, "sorted-set", "2.0.0", "Removes members in a sorted set within a range of indexes. Deletes the sorted set if all members were removed.", range::zremrangebyrank), "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements removed by the operation."),
    cx(command!("zremrangebyscore", 4, WRITE, KeySpec::one(), SS, "sorted-set", "1.2.0", "Removes members in a sorted set within a range of scores. Deletes the sorted set if all members were removed.", range::zremrangebyscore), "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements removed by the operation."),
    cx(command!("zremrangebylex", 4, WRITE, KeySpec::one(), SS, "sorted-set", "2.8.9", "Removes members in a sorted set within a lexicographical range. Deletes the sorted set if all members were removed.", range::zremrangebylex), "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements removed by the operation."),
    cx(command!("zpopmin", -2, WRITE | FAST, KeySpec::one(), SF, "sorted-set", "5.0.0", "Returns the lowest-scoring members from a sorted set after removing them. Deletes the sorted set if the last member was popped.", pop::zpopmin), "O(log(N)*M) with N being the number of elements in the sorted set, and M being the number of elements popped."),
    cx(command!("zpopmax", -2, WRITE | FAST, KeySpec::one(), SF, "sorted-set", "5.0.0", "Returns the highest-scoring members from a sorted set after removing them. Deletes the sorted set if the last member was popped.", pop::zpopmax), "O(log(N)*M) with N being the number of elements in the sorted set, and M being the number of elements popped."),
    cx(command!("zmpop", -4, WRITE, KeySpec::Custom(keys_numkeys_at_1), SS, "sorted-set", "7.0.0", "Returns the highest- or lowest-scoring members from one or more sorted sets after removing them. Deletes the sorted set if the last member was popped.", pop::zmpop), "O(K) + O(M*log(N)) where K is the number of provided keys, N being the number of elements in the sorted set, and M being the number of elements popped."),
    cx(command!("bzpopmin", -3, WRITE | NOSCRIPT | FAST | BLOCKING, BLOCKING_POP_KEYS, SF, "sorted-set", "5.0.0", "Removes and returns the member with the lowest score from one or more sorted sets. Blocks until a member is available otherwise. Deletes the sorted set if the last element was popped.", pop::bzpopmin), "O(log(N)) with N being the number of elements in the sorted set."),
    cx(command!("bzpopmax", -3, WRITE | NOSCRIPT | FAST | BLOCKING, BLOCKING_POP_KEYS, SF, "sorted-set", "5.0.0", "Removes and returns the member with the highest score from one or more sorted sets. Blocks until a member available otherwise.  Deletes the sorted set if the last element was popped.", pop::bzpopmax), "O(log(N)) with N being the number of elements in the sorted set."),
    cx(command!("bzmpop", -5, WRITE | BLOCKING, KeySpec::Custom(keys_numkeys_at_2), SS, "sorted-set", "7.0.0", "Removes and returns a member by score from one or more sorted sets. Blocks until a member is available otherwise. Deletes the sorted set if the last element was popped.", pop::bzmpop), "O(K) + O(M*log(N)) where K is the number of provided keys, N being the number of elements in the sorted set, and M being the number of elements popped."),
    cx(command!("zrandmember", -2, READONLY, KeySpec::one(), SS, "sorted-set", "6.2.0", "Returns one or more random members from a sorted set.", pop::zrandmember), "O(N) where N is the number of members returned"),
    cx(command!("zunion", -3, READONLY, KeySpec::Custom(keys_numkeys_at_1), SS, "sorted-set", "6.2.0", "Returns the union of multiple sorted sets.", algebra::zunion), "O(N)+O(M*log(M)) with N being the sum of the sizes of the input sorted sets, and M being the number of elements in the resulting sorted set."),
    cx(command!("zunionstore", -4, WRITE | DENYOOM, KeySpec::Custom(keys_store_numkeys), SS, "sorted-set", "2.0.0", "Stores the union of multiple sorted sets in a key.", algebra::zunionstore), "O(N)+O(M log(M)) with N being the sum of the sizes of the input sorted sets, and M being the number of elements in the resulting sorted set."),
    cx(command!("zinter", -3, READONLY, KeySpec::Custom(keys_numkeys_at_1), SS, "sorted-set", "6.2.0", "Returns the intersect of multiple sorted sets.", algebra::zinter), "O(N*K)+O(M*log(M)) worst case with N being the smallest input sorted set, K being the number of input sorted sets and M being the number of elements in the resulting sorted set."),
    cx(command!("zinterstore", -4, WRITE | DENYOOM, KeySpec::Custom(keys_store_numkeys), SS, "sorted-set", "2.0.0", "Stores the intersect of multiple sorted sets in a key.", algebra::zinterstore), "O(N*K)+O(M*log(M)) worst case with N being the smallest input sorted set, K being the number of input sorted sets and M being the number of elements in the resulting sorted set."),
    cx(command!("zintercard", -3, READONLY, KeySpec::Custom(keys_numkeys_at_1), SS, "sorted-set", "7.0.0", "Returns the number of members of the intersect of multiple sorted sets.", algebra::zintercard), "O(N*K) worst case with N being the smallest input sorted set, K being the number of input sorted sets."),
    cx(command!("zdiff", -3, READONLY, KeySpec::Custom(keys_numkeys_at_1), SS, "sorted-set", "6.2.0", "Returns the difference between multiple sorted sets.", algebra::zdiff), "O(L + (N-K)log(N)) worst case where L is the total number of elements in all the sets, N is the size of the first set, and K is the size of the result set."),
    cx(command!("zdiffstore", -4, WRITE | DENYOOM, KeySpec::Custom(keys_store_numkeys), SS, "sorted-set", "6.2.0", "Stores the difference of multiple sorted sets in a key.", algebra::zdiffstore), "O(L + (N-K)log(N)) worst case where L is the total number of elements in all the sets, N is the size of the first set, and K is the size of the result set."),
    cx(command!("zscan", -3, READONLY, KeySpec::one(), SS, "sorted-set", "2.8.0", "Iterates over members and scores of a sorted set.", zscan), "O(1) for every call. O(N) for a complete iteration, including enough command calls for the cursor to return back to 0. N is the number of elements inside the collection."),
];

/// The listpack limits in force (they decide the encoding name OBJECT ENCODING reports).
pub(crate) fn limits(ctx: &Ctx<'_>) -> ListpackLimits {
    let hot = &ctx.state.config.hot;
    ListpackLimits {
        entries_max: hot.zset_max_listpack_entries.load(Ordering::Relaxed) as usize,
        value_bytes_max: hot.zset_max_listpack_value.load(Ordering::Relaxed) as usize,
    }
}

const NAN_SCORE: &str = "ERR resulting score is not a number (NaN)";

/// Members with scores in a reply: flat `member, score, ...` in RESP2; `[member, score]`
/// pairs with double scores in RESP3 (Redis's WITHSCORES shapes).
fn scored_reply(protocol: Protocol, items: Vec<(Bytes, f64)>) -> Reply {
    match protocol {
        Protocol::Resp2 => Reply::Array(
            items
                .into_iter()
                .flat_map(|(m, s)| [Reply::Bulk(m), Reply::Double(s)])
                .collect(),
        ),
        Protocol::Resp3 => Reply::Array(
            items
                .into_iter()
                .map(|(m, s)| Reply::Array(vec![Reply::Bulk(m), Reply::Double(s)]))
                .collect(),
        ),
    }
}

/// Members without scores.
fn members_reply(items: Vec<(Bytes, f64)>) -> Reply {
    Reply::Array(items.into_iter().map(|(m, _)| Reply::Bulk(m)).collect())
}

/// Copies (member, score) pairs out of the set for a reply.
fn owned<'a>(items: impl Iterator<Item = (&'a [u8], f64)>) -> Vec<(Bytes, f64)> {
    items.map(|(m, s)| (Bytes::copy_from_slice(m), s)).collect()
}

/// The events of a write that removed members: `event` when something changed, then `del`
/// when the key was emptied.
fn removed_events(
    ctx: &mut Ctx<'_>,
    key: &[u8],
    event: &'static str,
    removed: bool,
    deleted: bool,
) {
    if !removed {
        return;
    }
    let db = ctx.db();
    ctx.key_changed(db, key);
    ctx.notify(notify::ZSET, event, db, key);
    if deleted {
        ctx.notify(notify::GENERIC, "del", db, key);
    }
}

/// Writes a STORE command's result to `dst` (replacing whatever it held, deadline included)
/// and replies with its size; an empty result deletes `dst` instead.
pub(crate) fn store(
    ctx: &mut Ctx<'_>,
    dst: &[u8],
    mut result: ZSetValue,
    event: &'static str,
) -> Reply {
    let db = ctx.db();
    let now = ctx.now_ms;
    let len = result.len();
    let (shard, hash) = ctx.shard_in(db, dst);
    if len == 0 {
        if shard.remove(hash, dst, now).is_some() {
            ctx.key_changed(db, dst);
            ctx.notify(notify::GENERIC, "del", db, dst);
        }
        return Reply::Int(0);
    }
    result.settle_encoding(limits(ctx));
    let (shard, hash) = ctx.shard_in(db, dst);
    shard.insert(hash, dst, Value::ZSet(Box::new(result)), None, now);
    ctx.key_changed(db, dst);
    ctx.notify(notify::ZSET, event, db, dst);
    Reply::Int(len as i64)
}

/// Fails with WRONGTYPE when `key` holds something other than a sorted set or a set (the
/// inputs ZUNION and friends accept), without counting a keyspace hit or miss.
fn check_input_type(ctx: &mut Ctx<'_>, key: &[u8]) -> Result<(), CommandError> {
    let now = ctx.now_ms;
    let (shard, hash) = ctx.shard(key);
    match shard.get_mut(hash, key, now).map(|e| e.value()) {
        None | Some(ValueRef::ZSet(_)) | Some(ValueRef::Set(_)) => Ok(()),
        Some(_) => Err(CommandError::WrongType),
    }
}

/// ZADD's condition on the member's presence.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Presence {
    Any,
    /// NX: only add new members.
    Absent,
    /// XX: only update existing members.
    Present,
}

/// ZADD's condition on how the score moves (GT / LT).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Direction {
    Any,
    Greater,
    Less,
}

/// What the score argument means.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ScoreMode {
    Set,
    /// INCR / ZINCRBY: add to the current score.
    Increment,
}

/// ZADD's reply count.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Counted {
    Added,
    /// CH: added and updated.
    Changed,
}

#[derive(Clone, Copy, Debug)]
struct AddOptions {
    presence: Presence,
    direction: Direction,
    mode: ScoreMode,
    counted: Counted,
}

/// Parses ZADD's leading options; returns them and the index of the first score.
fn parse_add_options(argv: &[Bytes]) -> Result<(AddOptions, usize), CommandError> {
    let mut opts = AddOptions {
        presence: Presence::Any,
        direction: Direction::Any,
        mode: ScoreMode::Set,
        counted: Counted::Added,
    };
    let (mut nx, mut xx, mut gt, mut lt) = (false, false, false, false);
    let mut i = 2;
    while let Some(arg) = argv.get(i) {
        match () {
            _ if is(arg, "nx") => nx = true,
            _ if is(arg, "xx") => xx = true,
            _ if is(arg, "gt") => gt = true,
            _ if is(arg, "lt") => lt = true,
            _ if is(arg, "ch") => opts.counted = Counted::Changed,
            _ if is(arg, "incr") => opts.mode = ScoreMode::Increment,
            _ => break,
        }
        i += 1;
    }
    let elements = argv.len() - i;
    if elements == 0 || !elements.is_multiple_of(2) {
        return Err(CommandError::Syntax);
    }
    if nx && xx {
        return Err(CommandError::err(
            "XX and NX options at the same time are not compatible",
        ));
    }
    if (nx && (gt || lt)) || (gt && lt) {
        return Err(CommandError::err(
            "GT, LT, and/or NX options at the same time are not compatible",
        ));
    }
    if opts.mode == ScoreMode::Increment && elements > 2 {
        return Err(CommandError::err(
            "INCR option supports a single increment-element pair",
        ));
    }
    opts.presence = match (nx, xx) {
        (true, _) => Presence::Absent,
        (_, true) => Presence::Present,
        _ => Presence::Any,
    };
    opts.direction = match (gt, lt) {
        (true, _) => Direction::Greater,
        (_, true) => Direction::Less,
        _ => Direction::Any,
    };
    Ok((opts, i))
}

/// What ZADD did to the set.
#[derive(Debug, Default)]
struct AddOutcome {
    added: i64,
    updated: i64,
    /// Elements not skipped by NX/XX/GT/LT, and the last one's resulting score (INCR's reply).
    processed: i64,
    last_score: f64,
}

/// Redis's `zsetAdd` for each pair, in order. A NaN result stops with an error; the pairs
/// before it stay applied.
fn add_pairs(
    z: &mut ZSetValue,
    pairs: &[(f64, &[u8])],
    opts: AddOptions,
    limits: ListpackLimits,
    out: &mut AddOutcome,
) -> Result<(), CommandError> {
    for &(score, member) in pairs {
        let new_score = match z.score(member) {
            Some(current) => {
                if opts.presence == Presence::Absent {
                    continue;
                }
                let new = match opts.mode {
                    ScoreMode::Increment => current + score,
                    ScoreMode::Set => score,
                };
                if new.is_nan() {
                    return Err(CommandError::other(NAN_SCORE));
                }
                let skip = match opts.direction {
                    Direction::Greater => new <= current,
                    Direction::Less => new >= current,
                    Direction::Any => false,
                };
                if skip {
                    continue;
                }
                if z.insert(member, new, limits) == Inserted::Updated {
                    out.updated += 1;
                }
                new
            }
            None => {
                if opts.presence == Presence::Present {
                    continue;
                }
                z.insert(member, score, limits);
                out.added += 1;
                score
            }
        };
        out.processed += 1;
        out.last_score = new_score;
    }
    Ok(())
}

fn zadd(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CommandResult {
    let (opts, first) = parse_add_options(argv)?;
    let mut pairs = Vec::with_capacity((argv.len() - first) / 2);
    for pair in argv[first..].chunks_exact(2) {
        pairs.push((parse_double(&pair[0])?, &pair[1][..]));
    }
    add_generic(ctx, &argv[1], &pairs, opts)
}

fn zincrby(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CommandResult {
    let increment = parse_double(&argv[2])?;
    let opts = AddOptions {
        presence: Presence::Any,
        direction: Direction::Any,
        mode: ScoreMode::Increment,
        counted: Counted::Added,
    };
    add_generic(ctx, &argv[1], &[(increment, &argv[3][..])], opts)
}

/// ZADD with only NX / XX / CH, for GEOADD (which Redis runs as a ZADD of the encoded
/// positions): the same changes, events and reply.
pub(crate) fn add_plain(
    ctx: &mut Ctx<'_>,
    key: &[u8],
    pairs: &[(f64, &[u8])],
    nx: bool,
    xx: bool,
    ch: bool,
) -> CommandResult {
    let opts = AddOptions {
        presence: match (nx, xx) {
            (true, _) => Presence::Absent,
            (_, true) => Presence::Present,
            _ => Presence::Any,
        },
        direction: Direction::Any,
        mode: ScoreMode::Set,
        counted: if ch { Counted::Changed } else { Counted::Added },
    };
    add_generic(ctx, key, pairs, opts)
}

fn add_generic(
    ctx: &mut Ctx<'_>,
    key: &[u8],
    pairs: &[(f64, &[u8])],
    opts: AddOptions,
) -> CommandResult {
    let limits = limits(ctx);
    let db = ctx.db();
    let create = opts.presence != Presence::Present;
    let mut out = AddOutcome::default();
    let result = collection::write::<ZSetValue, _>(ctx, db, key, create, |z| {
        add_pairs(z, pairs, opts, limits, &mut out)
    });
    if out.added + out.updated > 0 {
        ctx.key_changed(db, key);
        let event = match opts.mode {
            ScoreMode::Increment => "zincr",
            ScoreMode::Set => "zadd",
        };
        ctx.notify(notify::ZSET, event, db, key);
        // Redis replies first and raises the event after, so the caller's own event frame
        // follows the reply.
        ctx.client.pubsub.hold_pushes = true;
    }
    result?;
    Ok(match (opts.mode, opts.counted) {
        (ScoreMode::Increment, _) if out.processed > 0 => Reply::Double(out.last_score),
        (ScoreMode::Increment, _) => Reply::Nil,
        (ScoreMode::Set, Counted::Added) => Reply::Int(out.added),
        (ScoreMode::Set, Counted::Changed) => Reply::Int(out.added + out.updated),
    })
}

fn zrem(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CommandResult {
    let db = ctx.db();
    let key = &argv[1];
    let written = collection::write::<ZSetValue, _>(ctx, db, key, false, |z| {
        Ok(argv[2..].iter().filter(|m| z.remove(m).is_some()).count())
    })?;
    let Some(w) = written else {
        return Ok(Reply::Int(0));
    };
    removed_events(ctx, key, "zrem", w.result > 0, w.deleted);
    Ok(Reply::Int(w.result as i64))
}

fn zscore(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CommandResult {
    let z = read_in::<ZSetValue>(ctx, &argv[1])?;
    Ok(match z.and_then(|z| z.score(&argv[2])) {
        Some(score) => Reply::Double(score),
        None => Reply::Nil,
    })
}

fn zmscore(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CommandResult {
    let z = read_in::<ZSetValue>(ctx, &argv[1])?;
    Ok(Reply::Array(
        argv[2..]
            .iter()
            .map(|m| match z.and_then(|z| z.score(m)) {
                Some(score) => Reply::Double(score),
                None => Reply::Nil,
            })
            .collect(),
    ))
}

fn zcard(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CommandResult {
    let z = read_in::<ZSetValue>(ctx, &argv[1])?;
    Ok(Reply::Int(z.map_or(0, |z| z.len() as i64)))
}

/// Which way ZRANK counts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum RankOrder {
    Ascending,
    Descending,
}

fn zrank(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CommandResult {
    rank_generic(ctx, argv, RankOrder::Ascending)
}

fn zrevrank(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CommandResult {
    rank_generic(ctx, argv, RankOrder::Descending)
}

/// ZRANK / ZREVRANK key member [WITHSCORE] (WITHSCORE is Redis 7.2).
fn rank_generic(ctx: &mut Ctx<'_>, argv: &[Bytes], order: RankOrder) -> CommandResult {
    if argv.len() > 4 {
        return Err(CommandError::Arity(crate::engine::args::lower(&argv[0])));
    }
    let with_score = match argv.get(3) {
        None => false,
        Some(arg) if is(arg, "withscore") => true,
        Some(_) => return Err(CommandError::Syntax),
    };
    let z = read_in::<ZSetValue>(ctx, &argv[1])?;
    let Some((rank, score)) = z.and_then(|z| {
        z.rank(&argv[2]).map(|(rank, score)| match order {
            RankOrder::Ascending => (rank, score),
            RankOrder::Descending => (z.len() - 1 - rank, score),
        })
    }) else {
        return Ok(if with_score {
            Reply::NilArray
        } else {
            Reply::Nil
        });
    };
    Ok(if with_score {
        Reply::Array(vec![Reply::Int(rank as i64), Reply::Double(score)])
    } else {
        Reply::Int(rank as i64)
    })
}

/// ZSCAN key cursor [MATCH pattern] [COUNT count]. The cursor is a slab slot number, so a
/// member present for a whole iteration is returned at least once. A set small enough for
/// Redis's listpack encoding is returned whole with cursor 0, as Redis does.
fn zscan(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CommandResult {
    let cursor = crate::commands::generic::parse_scan_cursor(&argv[2])?;
    let mut count = 10usize;
    let mut pattern = None;
    let mut i = 3;
    while i < argv.len() {
        let Some(value) = argv.get(i + 1) else {
            return Err(CommandError::Syntax);
        };
        if is(&argv[i], "count") {
            let n = crate::engine::args::parse_i64(value)?;
            if n < 1 {
                return Err(CommandError::Syntax);
            }
            count = usize::try_from(n).unwrap_or(usize::MAX);
        } else if is(&argv[i], "match") {
            pattern = Some(&value[..]);
        } else {
            return Err(CommandError::Syntax);
        }
        i += 2;
    }
    let Some(z) = read_in::<ZSetValue>(ctx, &argv[1])? else {
        return Ok(scan_reply(0, Vec::new()));
    };
    let wanted = |m: &[u8]| pattern.is_none_or(|p| crate::glob::glob_match(p, m, false));
    let mut items = Vec::new();
    let mut push = |member: &[u8], score: f64| {
        if wanted(member) {
            items.push(Reply::Bulk(Bytes::copy_from_slice(member)));
            let text = crate::protocol::reply::format_double(score);
            items.push(Reply::Bulk(Bytes::from(text)));
        }
    };
    if z.encoding_name() == "listpack" || z.is_packed() {
        z.iter().for_each(|(member, score)| push(member, score));
        return Ok(scan_reply(0, items));
    }
    let end = z.slot_count();
    let mut pos = usize::try_from(cursor).unwrap_or(usize::MAX);
    let (mut seen, mut visited) = (0, 0);
    // Bound the slots visited per call, like Redis's empty-bucket limit.
    let visits_max = count.saturating_mul(10);
    while pos < end && seen < count && visited < visits_max {
        if let Some((member, score)) = z.at_slot(pos) {
            seen += 1;
            push(member, score);
        }
        visited += 1;
        pos += 1;
    }
    let next = if pos >= end { 0 } else { pos as u64 };
    Ok(scan_reply(next, items))
}

fn scan_reply(cursor: u64, items: Vec<Reply>) -> Reply {
    Reply::Array(vec![
        Reply::Bulk(Bytes::from(cursor.to_string())),
        Reply::Array(items),
    ])
}

#[cfg(test)]
mod tests {
    use crate::testing::TestServer;

    #[test]
    fn zadd_options_and_replies() {
        let mut t = TestServer::new();
        assert_eq!(t.resp(&["ZADD", "z", "1", "a", "2", "b"]), ":2\r\n");
        assert_eq!(t.resp(&["ZADD", "z", "CH", "3", "a", "4", "c"]), ":2\r\n");
        assert_eq!(t.resp(&["ZADD", "z", "GT", "1", "a"]), ":0\r\n");
        assert_eq!(t.resp(&["ZADD", "z", "INCR", "1.5", "a"]), "$3\r\n4.5\r\n");
        assert_eq!(t.resp(&["ZADD", "z", "XX", "INCR", "1", "nope"]), "$-1\r\n");
        assert_eq!(t.resp(&["ZADD", "z", "INCR", "inf", "a"]), "$3\r\ninf\r\n");
        assert_eq!(
            t.resp(&["ZINCRBY", "z", "-inf", "a"]),
            "-ERR resulting score is not a number (NaN)\r\n"
        );
        assert_eq!(t.resp(&["ZSCORE", "z", "a"]), "$3\r\ninf\r\n");
        assert_eq!(t.resp(&["ZRANK", "z", "b"]), ":0\r\n");
        assert_eq!(t.resp(&["ZREVRANK", "z", "b"]), ":2\r\n");
        assert_eq!(t.resp(&["ZREM", "z", "a", "b", "c"]), ":3\r\n");
        assert_eq!(t.resp(&["EXISTS", "z"]), ":0\r\n");
    }

    #[test]
    fn zadd_xx_on_missing_key_creates_nothing() {
        let mut t = TestServer::new();
        assert_eq!(t.resp(&["ZADD", "z", "XX", "1", "a"]), ":0\r\n");
        assert_eq!(t.resp(&["EXISTS", "z"]), ":0\r\n");
    }
}
