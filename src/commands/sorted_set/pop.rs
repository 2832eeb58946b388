//! ZPOPMIN, ZPOPMAX, ZMPOP, ZRANDMEMBER (Redis's `genericZpopCommand` and
//! `zrandmemberWithCountCommand`) and the blocking BZPOPMIN, BZPOPMAX, BZMPOP on top of
//! `crate::engine::blocking`: they pop like the others when a key can serve, and wait otherwise.

use crate::commands::collection::{self, read_in};
use crate::commands::sorted_set::{owned, removed_events, scored_reply};
use crate::engine::args::{is, parse_i64};
use crate::engine::blocking::{block_on, parse_timeout};
use crate::engine::client::BlockRequest;
use crate::error::CommandError;
use crate::keyspace::types::zset::PopEnd;
use crate::keyspace::types::ZSetValue;
use crate::protocol::{Protocol, Reply};
use crate::{engine::CommandResult, engine::Ctx};
use bytes::Bytes;

/// Redis's `getPositiveLongFromObjectOrReply` without a custom message.
fn parse_positive(arg: &[u8]) -> Result<i64, CommandError> {
    match parse_i64(arg) {
        Ok(n) if n >= 0 => Ok(n),
        _ => Err(CommandError::err("value is out of range, must be positive")),
    }
}

/// Redis's `getRangeLongFromObjectOrReply(1, LONG_MAX, msg)`: a non-integer or a value below 1
/// both answer `msg`.
fn parse_at_least_one(arg: &[u8], msg: &str) -> Result<usize, CommandError> {
    match parse_i64(arg) {
        Ok(n) if n >= 1 => Ok(usize::try_from(n).unwrap_or(usize::MAX)),
        _ => Err(CommandError::err(msg)),
    }
}

fn event_of(end: PopEnd) -> &'static str {
    match end {
        PopEnd::Min => "zpopmin",
        PopEnd::Max => "zpopmax",
    }
}

/// The key popped from and its members with scores, in pop order.
pub(super) type Popped = (Bytes, Vec<(Bytes, f64)>);

/// Pops up to `count` members from the first of `keys` holding a sorted set; `None` when none
/// does. Raises the events; WRONGTYPE on the first key of another type met before a candidate.
pub(super) fn pop_first_ready(
    ctx: &mut Ctx<'_>,
    keys: &[Bytes],
    end: PopEnd,
    count: usize,
) -> Result<Option<Popped>, CommandError> {
    let db = ctx.db();
    for key in keys {
        let written =
            collection::write::<ZSetValue, _>(ctx, db, key, false, |z| Ok(z.pop(count, end)))?;
        let Some(w) = written else {
            continue;
        };
        removed_events(ctx, key, event_of(end), !w.result.is_empty(), w.deleted);
        let popped = w
            .result
            .into_iter()
            .map(|(m, s)| (Bytes::from(m), s))
            .collect();
        return Ok(Some((key.clone(), popped)));
    }
    Ok(None)
}

pub fn zpopmin(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CommandResult {
    pop_command(ctx, argv, PopEnd::Min)
}

pub fn zpopmax(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CommandResult {
    pop_command(ctx, argv, PopEnd::Max)
}

/// ZPOPMIN / ZPOPMAX key [count].
fn pop_command(ctx: &mut Ctx<'_>, argv: &[Bytes], end: PopEnd) -> CommandResult {
    if argv.len() > 3 {
        return Err(CommandError::Syntax);
    }
    let count = argv.get(2).map(|c| parse_positive(c)).transpose()?;
    let key = &argv[1..2];
    if count == Some(0) {
        // Still a lookup, for WRONGTYPE.
        read_in::<ZSetValue>(ctx, &key[0])?;
        return Ok(Reply::Array(Vec::new()));
    }
    let n = count.map_or(1, |c| usize::try_from(c).unwrap_or(usize::MAX));
    let popped = match pop_first_ready(ctx, key, end, n)? {
        Some((_, popped)) => popped,
        None => Vec::new(),
    };
    Ok(match count {
        // Without a count, one flat [member, score] in both protocols.
        None => scored_reply(Protocol::Resp2, popped),
        Some(_) => scored_reply(ctx.client.protocol, popped),
    })
}

/// ZMPOP / BZMPOP's `key... MIN|MAX [COUNT n]` after `numkeys` at `numkeys_at`.
pub(super) struct MultiPop<'a> {
    pub keys: &'a [Bytes],
    pub end: PopEnd,
    pub count: usize,
}

pub(super) fn parse_multi_pop(
    argv: &[Bytes],
    numkeys_at: usize,
) -> Result<MultiPop<'_>, CommandError> {
    let n = parse_at_least_one(&argv[numkeys_at], "numkeys should be greater than 0")?;
    let where_at = (numkeys_at + 1).saturating_add(n);
    let Some(which) = argv.get(where_at) else {
        return Err(CommandError::Syntax);
    };
    let end = match () {
        _ if is(which, "min") => PopEnd::Min,
        _ if is(which, "max") => PopEnd::Max,
        _ => return Err(CommandError::Syntax),
    };
    let mut count = None;
    let mut j = where_at + 1;
    while j < argv.len() {
        if count.is_none() && is(&argv[j], "count") && j + 1 < argv.len() {
            count = Some(parse_at_least_one(
                &argv[j + 1],
                "count should be greater than 0",
            )?);
            j += 2;
        } else {
            return Err(CommandError::Syntax);
        }
    }
    Ok(MultiPop {
        keys: &argv[numkeys_at + 1..where_at],
        end,
        count: count.unwrap_or(1),
    })
}

/// `[key, [[member, score], ...]]`, the shape of ZMPOP and BZMPOP in both protocols.
pub(super) fn multi_pop_reply(key: Bytes, popped: Vec<(Bytes, f64)>) -> Reply {
    Reply::Array(vec![
        Reply::Bulk(key),
        scored_reply(Protocol::Resp3, popped),
    ])
}

/// The AOF form of a pop: ZPOPMIN/ZPOPMAX key count (what Redis propagates for ZMPOP and the
/// blocking pops).
pub(super) fn propagate_pop(ctx: &mut Ctx<'_>, key: &Bytes, end: PopEnd, count: usize) {
    let name = match end {
        PopEnd::Min => "ZPOPMIN",
        PopEnd::Max => "ZPOPMAX",
    };
    ctx.propagate(vec![
        Bytes::from_static(name.as_bytes()),
        key.clone(),
        Bytes::from(count.to_string()),
    ]);
}

pub fn zmpop(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CommandResult {
    let req = parse_multi_pop(argv, 1)?;
    match pop_first_ready(ctx, req.keys, req.end, req.count)? {
        Some((key, popped)) => {
            propagate_pop(ctx, &key, req.end, popped.len());
            Ok(multi_pop_reply(key, popped))
        }
        None => Ok(Reply::NilArray),
    }
}

/// ZRANDMEMBER key [count [WITHSCORES]].
pub fn zrandmember(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CommandResult {
    let Some(count_arg) = argv.get(2) else {
        let z = read_in::<ZSetValue>(ctx, &argv[1])?;
        return Ok(match z.and_then(|z| z.random()) {
            Some((member, _)) => Reply::Bulk(Bytes::copy_from_slice(member)),
            None => Reply::Nil,
        });
    };
    let count = parse_i64(count_arg)?;
    if count == i64::MIN {
        return Err(CommandError::err(format!(
            "value is out of range, value must between {} and {}",
            -i64::MAX,
            i64::MAX
        )));
    }
    let with_scores = match argv.get(3) {
        None => false,
        Some(arg) if argv.len() == 4 && is(arg, "withscores") => {
            if !(-i64::MAX / 2..=i64::MAX / 2).contains(&count) {
                return Err(CommandError::err("value is out of range"));
            }
            true
        }
        Some(_) => return Err(CommandError::Syntax),
    };
    let protocol = ctx.client.protocol;
    let Some(z) = read_in::<ZSetValue>(ctx, &argv[1])? else {
        return Ok(Reply::Array(Vec::new()));
    };
    let picked = random_members(z, count);
    Ok(if with_scores {
        scored_reply(protocol, picked)
    } else {
        crate::commands::sorted_set::members_reply(picked)
    })
}

/// `count` random members: distinct ones (at most the set's size) for a positive count,
/// `|count|` independent picks for a negative one.
fn random_members(z: &ZSetValue, count: i64) -> Vec<(Bytes, f64)> {
    let len = z.len();
    if count < 0 {
        let n = count.unsigned_abs() as usize;
        return (0..n)
            .filter_map(|_| z.random())
            .map(|(m, s)| (Bytes::copy_from_slice(m), s))
            .collect();
    }
    let n = count as usize;
    if n >= len {
        // The whole set, in the order Redis walks its listpack here: highest first.
        return owned(z.range_rev(0, len));
    }
    let random_below =
        |bound: usize| (crate::keyspace::access::random_u64() % bound as u64) as usize;
    if n * 3 > len {
        // A large share of the set: choose the ranks by a partial Fisher-Yates shuffle, then
        // read them in one ordered pass.
        let mut ranks: Vec<usize> = (0..len).collect();
        for i in 0..n {
            let j = i + random_below(len - i);
            ranks.swap(i, j);
        }
        ranks.truncate(n);
        ranks.sort_unstable();
        let mut wanted = ranks.into_iter().peekable();
        return z
            .iter()
            .enumerate()
            .filter(|(rank, _)| wanted.next_if_eq(rank).is_some())
            .map(|(_, (m, s))| (Bytes::copy_from_slice(m), s))
            .collect();
    }
    // A small sample: random slots, repeats rejected.
    let mut seen = hashbrown::HashSet::with_capacity(n);
    let mut out = Vec::with_capacity(n);
    while out.len() < n {
        let Some(slot) = z.random_slot() else {
            break;
        };
        if seen.insert(slot) {
            let (m, s) = z.at_slot(slot).expect("random_slot holds a member");
            out.push((Bytes::copy_from_slice(m), s));
        }
    }
    out
}

pub fn bzpopmin(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CommandResult {
    blocking_pop(ctx, argv, PopEnd::Min)
}

pub fn bzpopmax(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CommandResult {
    blocking_pop(ctx, argv, PopEnd::Max)
}

/// BZPOPMIN / BZPOPMAX key... timeout: `[key, member, score]` from the first non-empty key,
/// or a wait on all of them (see `crate::engine::blocking`). Logged as ZPOPMIN / ZPOPMAX.
fn blocking_pop(ctx: &mut Ctx<'_>, argv: &[Bytes], end: PopEnd) -> CommandResult {
    let deadline_ms = parse_timeout(&argv[argv.len() - 1], ctx.now_ms)?;
    let keys = &argv[1..argv.len() - 1];
    if let Some((key, mut popped)) = pop_first_ready(ctx, keys, end, 1)? {
        if let Some((member, score)) = popped.pop() {
            propagate_pop(ctx, &key, end, 1);
            return Ok(Reply::Array(vec![
                Reply::Bulk(key),
                Reply::Bulk(member),
                Reply::Double(score),
            ]));
        }
    }
    wait_on(ctx, keys, deadline_ms)
}

/// BZMPOP timeout numkeys key... MIN|MAX [COUNT n].
pub fn bzmpop(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CommandResult {
    let deadline_ms = parse_timeout(&argv[1], ctx.now_ms)?;
    let req = parse_multi_pop(argv, 2)?;
    match pop_first_ready(ctx, req.keys, req.end, req.count)? {
        Some((key, popped)) => {
            propagate_pop(ctx, &key, req.end, popped.len());
            Ok(multi_pop_reply(key, popped))
        }
        None => wait_on(ctx, req.keys, deadline_ms),
    }
}

/// Blocks on `keys` until one holds a sorted set (a null array on timeout, and at once inside
/// MULTI or a script).
fn wait_on(ctx: &mut Ctx<'_>, keys: &[Bytes], deadline_ms: Option<u64>) -> CommandResult {
    block_on(
        ctx,
        BlockRequest {
            keys: keys.to_vec(),
            wants: "zset",
            deadline_ms,
            timeout_reply: Reply::NilArray,
            rerun: None,
            on_any_change: false,
        },
    )
}
