//! List commands: Redis's `list` group. Pushes, pops (one element, COUNT, several keys), index
//! and range access, in-place edits (LSET LINSERT LREM LTRIM), LPOS, and moves between lists.
//! The blocking variants (BLPOP ...) are in `blocking.rs`; they share the pop and move
//! operations here and wait through `crate::engine::blocking`.
//!
//! Each command parses its arguments in Redis's order (so the same error wins), runs one
//! typed operation through `collection::write`/`read_in`, then records WATCH/dirty
//! (`key_changed`) and the keyspace events Redis raises, in Redis's order.

mod blocking;

use crate::command;
use crate::commands::collection::{self, read_in};
use crate::engine::args::{is, parse_i64};
use crate::error::CommandError;
use crate::keyspace::types::list::End;
use crate::keyspace::types::{Aggregate, ListValue};
use crate::protocol::Reply;
use crate::pubsub::notify;
use crate::state::ServerState;
use crate::{
    engine::flags::*, engine::CommandResult, engine::CommandSpec, engine::Ctx, engine::KeySpec,
};
use bytes::Bytes;

const fn cx(spec: CommandSpec, complexity: &'static str) -> CommandSpec {
    CommandSpec { complexity, ..spec }
}

const TWO_KEYS: KeySpec = KeySpec::Range {
    first: 1,
    last: 2,
    step: 1,
};
const ALL_BUT_LAST: KeySpec = KeySpec::Range {
    first: 1,
    last: -2,
    step: 1,
};

pub static COMMANDS: &[CommandSpec] = &[
    cx(command!("lpush", -3, WRITE | DENYOOM | FAST, KeySpec::one(), &["list", "fast"], "list", "1.0.0", "Prepends one or more elements to a list. Creates the key if it doesn't exist.", lpush), "O(1) for each element added, so O(N) to add N elements when the command is called with multiple arguments."),
    cx(command!("rpush", -3, WRITE | DENYOOM | FAST, KeySpec::one(), &["list", "fast"], "list", "1.0.0", "Appends one or more elements to a list. Creates the key if it doesn't exist.", rpush), "O(1) for each element added, so O(N) to add N elements when the command is called with multiple arguments."),
    cx(command!("lpushx", -3, WRITE | DENYOOM | FAST, KeySpec::one(), &["list", "fast"], "list", "2.2.0", "Prepends one or more elements to a list only when the list exists.", lpushx), "O(1) for each element added, so O(N) to add N elements when the command is called with multiple arguments."),
    cx(command!("rpushx", -3, WRITE | DENYOOM | FAST, KeySpec::one(), &["list", "fast"], "list", "2.2.0", "Appends an element to a list only when the list exists.", rpushx), "O(1) for each element added, so O(N) to add N elements when the command is called with multiple arguments."),
    cx(command!("lpop", -2, WRITE | FAST, KeySpec::one(), &["list", "fast"], "list", "1.0.0", "Returns the first elements in a list after removing it. Deletes the list if the last element was popped.", lpop), "O(N) where N is the number of elements returned"),
    cx(command!("rpop", -2, WRITE | FAST, KeySpec::one(), &["list", "fast"], "list", "1.0.0", "Returns and removes the last elements of a list. Deletes the list if the last element was popped.", rpop), "O(N) where N is the number of elements returned"),
    cx(command!("llen", 2, READONLY | FAST, KeySpec::one(), &["list", "fast"], "list", "1.0.0", "Returns the length of a list.", llen), "O(1)"),
    cx(command!("lrange", 4, READONLY, KeySpec::one(), &["list", "slow"], "list", "1.0.0", "Returns a range of elements from a list.", lrange), "O(S+N) where S is the distance of start offset from HEAD for small lists, from nearest end (HEAD or TAIL) for large lists; and N is the number of elements in the specified range."),
    cx(command!("lindex", 3, READONLY, KeySpec::one(), &["list", "slow"], "list", "1.0.0", "Returns an element from a list by its index.", lindex), "O(N) where N is the number of elements to traverse to get to the element at index. This makes asking for the first or the last element of the list O(1)."),
    cx(command!("lset", 4, WRITE | DENYOOM, KeySpec::one(), &["list", "slow"], "list", "1.0.0", "Sets the value of an element in a list by its index.", lset), "O(N) where N is the length of the list. Setting either the first or the last element of the list is O(1)."),
    cx(command!("linsert", 5, WRITE | DENYOOM, KeySpec::one(), &["list", "slow"], "list", "2.2.0", "Inserts an element before or after another element in a list.", linsert), "O(N) where N is the number of elements to traverse before seeing the value pivot. This means that inserting somewhere on the left end on the list (head) can be considered O(1) and inserting somewhere on the right end (tail) is O(N)."),
    cx(command!("lrem", 4, WRITE, KeySpec::one(), &["list", "slow"], "list", "1.0.0", "Removes elements from a list. Deletes the list if the last element was removed.", lrem), "O(N+M) where N is the length of the list and M is the number of elements removed."),
    cx(command!("ltrim", 4, WRITE, KeySpec::one(), &["list", "slow"], "list", "1.0.0", "Removes elements from both ends a list. Deletes the list if all elements were trimmed.", ltrim), "O(N) where N is the number of elements to be removed by the operation."),
    cx(command!("lpos", -3, READONLY, KeySpec::one(), &["list", "slow"], "list", "6.0.6", "Returns the index of matching elements in a list.", lpos), "O(N) where N is the number of elements in the list, for the average case. When searching for elements near the head or the tail of the list, or when the MAXLEN option is provided, the command may run in constant time."),
    cx(command!("lmove", 5, WRITE | DENYOOM, TWO_KEYS, &["list", "slow"], "list", "6.2.0", "Returns an element after popping it from one list and pushing it to another. Deletes the list if the last element was moved.", lmove), "O(1)"),
    cx(command!("rpoplpush", 3, WRITE | DENYOOM, TWO_KEYS, &["list", "slow"], "list", "1.2.0", "Returns the last element of a list after removing and pushing it to another list. Deletes the list if the last element was popped.", rpoplpush), "O(1)"),
    cx(command!("lmpop", -4, WRITE, KeySpec::Custom(lmpop_keys), &["list", "slow"], "list", "7.0.0", "Returns multiple elements from a list after removing them. Deletes the list if the last element was popped.", lmpop), "O(N+M) where N is the number of provided keys and M is the number of elements returned."),
    cx(command!("blpop", -3, WRITE | NOSCRIPT | BLOCKING, ALL_BUT_LAST, &["list", "slow", "blocking"], "list", "2.0.0", "Removes and returns the first element in a list. Blocks until an element is available otherwise. Deletes the list if the last element was popped.", blocking::blpop), "O(N) where N is the number of provided keys."),
    cx(command!("brpop", -3, WRITE | NOSCRIPT | BLOCKING, ALL_BUT_LAST, &["list", "slow", "blocking"], "list", "2.0.0", "Removes and returns the last element in a list. Blocks until an element is available otherwise. Deletes the list if the last element was popped.", blocking::brpop), "O(N) where N is the number of provided keys."),
    cx(command!("blmove", 6, WRITE | DENYOOM | NOSCRIPT | BLOCKING, TWO_KEYS, &["list", "slow", "blocking"], "list", "6.2.0", "Pops an element from a list, pushes it to another list and returns it. Blocks until an element is available otherwise. Deletes the list if the last element was moved.", blocking::blmove), "O(1)"),
    cx(command!("brpoplpush", 4, WRITE | DENYOOM | NOSCRIPT | BLOCKING, TWO_KEYS, &["list", "slow", "blocking"], "list", "2.2.0", "Pops an element from a list, pushes it to another list and returns it. Block until an element is available otherwise. Deletes the list if the last element was popped.", blocking::brpoplpush), "O(1)"),
    cx(command!("blmpop", -5, WRITE | BLOCKING, KeySpec::Custom(blmpop_keys), &["list", "slow", "blocking"], "list", "7.0.0", "Pops the first element from one of multiple lists. Blocks until an element is available otherwise. Deletes the list if the last element was popped.", blocking::blmpop), "O(N+M) where N is the number of provided keys and M is the number of elements returned."),
];

fn lmpop_keys(argv: &[Bytes]) -> Vec<(Option<usize>, usize)> {
    numkeys_keys(argv, 1)
}

fn blmpop_keys(argv: &[Bytes]) -> Vec<(Option<usize>, usize)> {
    numkeys_keys(argv, 2)
}

/// The keys of `[B]LMPOP ... numkeys key [key ...] LEFT|RIGHT`: none unless the count and the
/// direction after the keys are both there (the command refuses otherwise, touching nothing).
fn numkeys_keys(argv: &[Bytes], numkeys_index: usize) -> Vec<(Option<usize>, usize)> {
    match mpop_keys_range(argv, numkeys_index) {
        Ok(range) => range.map(|i| (None, i)).collect(),
        Err(_) => Vec::new(),
    }
}

fn mpop_keys_range(
    argv: &[Bytes],
    numkeys_index: usize,
) -> Result<std::ops::Range<usize>, CommandError> {
    let numkeys = parse_i64(&argv[numkeys_index])
        .ok()
        .filter(|&n| n >= 1)
        .ok_or_else(|| CommandError::err("numkeys should be greater than 0"))?;
    let first = numkeys_index + 1;
    let direction = usize::try_from(numkeys)
        .ok()
        .and_then(|n| first.checked_add(n))
        .filter(|&i| i < argv.len())
        .ok_or(CommandError::Syntax)?;
    Ok(first..direction)
}

/// `[B]LMPOP`'s arguments after the name (and timeout): keys, end, count.
struct MpopArgs {
    keys: std::ops::Range<usize>,
    end: End,
    count: usize,
}

fn parse_mpop(argv: &[Bytes], numkeys_index: usize) -> Result<MpopArgs, CommandError> {
    let keys = mpop_keys_range(argv, numkeys_index)?;
    let end = parse_end(&argv[keys.end])?;
    let mut count = None;
    let mut i = keys.end + 1;
    while i < argv.len() {
        if count.is_none() && is(&argv[i], "count") && i + 1 < argv.len() {
            let n = parse_i64(&argv[i + 1])
                .ok()
                .filter(|&n| n >= 1)
                .ok_or_else(|| CommandError::err("count should be greater than 0"))?;
            count = Some(n as usize);
            i += 2;
        } else {
            return Err(CommandError::Syntax);
        }
    }
    Ok(MpopArgs {
        keys,
        end,
        count: count.unwrap_or(1),
    })
}

fn parse_end(arg: &[u8]) -> Result<End, CommandError> {
    if is(arg, "left") {
        Ok(End::Head)
    } else if is(arg, "right") {
        Ok(End::Tail)
    } else {
        Err(CommandError::Syntax)
    }
}

fn push_event(end: End) -> &'static str {
    match end {
        End::Head => "lpush",
        End::Tail => "rpush",
    }
}

fn pop_event(end: End) -> &'static str {
    match end {
        End::Head => "lpop",
        End::Tail => "rpop",
    }
}

fn pop_command(end: End) -> Bytes {
    Bytes::from_static(match end {
        End::Head => b"LPOP",
        End::Tail => b"RPOP",
    })
}

/// `list-max-listpack-size`, for the encoding rules: read only when a conversion is possible
/// (the option lives behind the config lock).
fn fill(state: &ServerState) -> impl Fn() -> i64 + Copy + '_ {
    move || state.config.get_i64("list-max-listpack-size")
}

/// Whether `key` holds a list, without counting a keyspace hit or miss (Redis's
/// `lookupKeyWrite`): WRONGTYPE for another type.
fn list_exists(ctx: &mut Ctx<'_>, db: usize, key: &[u8]) -> Result<bool, CommandError> {
    let now = ctx.now_ms;
    let (shard, hash) = ctx.shard_in(db, key);
    match shard.get_mut(hash, key, now) {
        None => Ok(false),
        Some(entry) => ListValue::of(entry.value())
            .map(|_| true)
            .ok_or(CommandError::WrongType),
    }
}

/// Redis's index normalisation: negative counts from the tail.
fn normalize(index: i64, len: usize) -> Option<usize> {
    let index = if index < 0 {
        index.checked_add(len as i64)?
    } else {
        index
    };
    (index >= 0 && (index as usize) < len).then_some(index as usize)
}

/// LRANGE/LTRIM bounds: `Some((start, stop))` inclusive and valid, or `None` for empty.
fn range_bounds(start: i64, stop: i64, len: usize) -> Option<(usize, usize)> {
    let len = len as i64;
    let start = if start < 0 {
        (len + start).max(0)
    } else {
        start
    };
    let stop = if stop < 0 { len + stop } else { stop };
    if start > stop || start >= len {
        return None;
    }
    Some((start as usize, stop.min(len - 1) as usize))
}

fn lpush(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CommandResult {
    push(ctx, argv, End::Head, true)
}

fn rpush(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CommandResult {
    push(ctx, argv, End::Tail, true)
}

fn lpushx(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CommandResult {
    push(ctx, argv, End::Head, false)
}

fn rpushx(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CommandResult {
    push(ctx, argv, End::Tail, false)
}

fn push(ctx: &mut Ctx<'_>, argv: &[Bytes], end: End, create: bool) -> CommandResult {
    let (key, elements) = (&argv[1], &argv[2..]);
    let db = ctx.db();
    let fill = fill(ctx.state);
    let added_bytes = elements.iter().map(|e| e.len()).sum();
    let written = collection::write(ctx, db, key, create, |list: &mut ListValue| {
        list.convert_if_growing_with(fill, added_bytes, elements.len());
        for element in elements {
            list.push(end, element);
        }
        Ok(list.len())
    })?;
    let Some(written) = written else {
        return Ok(Reply::Int(0));
    };
    ctx.key_changed(db, key);
    ctx.notify(notify::LIST, push_event(end), db, key);
    Ok(Reply::Int(written.result as i64))
}

/// Pops up to `count` elements from one end of `key` (`None` when it does not exist), with
/// the events, WATCH marks and encoding rules of Redis's pops.
fn pop_elements(
    ctx: &mut Ctx<'_>,
    key: &[u8],
    end: End,
    count: usize,
) -> Result<Option<Vec<Bytes>>, CommandError> {
    let db = ctx.db();
    let fill = fill(ctx.state);
    let written = collection::write(ctx, db, key, false, |list: &mut ListValue| {
        let n = count.min(list.len());
        let popped: Vec<Bytes> = (0..n).filter_map(|_| list.pop(end)).collect();
        list.convert_if_shrunk_with(fill);
        Ok(popped)
    })?;
    let Some(written) = written else {
        return Ok(None);
    };
    ctx.notify(notify::LIST, pop_event(end), db, key);
    if written.deleted {
        ctx.notify(notify::GENERIC, "del", db, key);
    }
    ctx.key_changed(db, key);
    Ok(Some(written.result))
}

fn lpop(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CommandResult {
    pop(ctx, argv, End::Head)
}

fn rpop(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CommandResult {
    pop(ctx, argv, End::Tail)
}

fn pop(ctx: &mut Ctx<'_>, argv: &[Bytes], end: End) -> CommandResult {
    if argv.len() > 3 {
        return Err(CommandError::Arity(crate::engine::args::lower(&argv[0])));
    }
    let count = match argv.get(2) {
        Some(arg) => Some(
            parse_i64(arg)
                .ok()
                .filter(|&n| n >= 0)
                .ok_or_else(|| CommandError::err("value is out of range, must be positive"))?
                as usize,
        ),
        None => None,
    };
    let key = &argv[1];
    if count == Some(0) {
        let db = ctx.db();
        return Ok(match list_exists(ctx, db, key)? {
            true => Reply::Array(Vec::new()),
            false => Reply::NilArray,
        });
    }
    let popped = pop_elements(ctx, key, end, count.unwrap_or(1))?;
    Ok(match (popped, count) {
        (None, None) => Reply::Nil,
        (None, Some(_)) => Reply::NilArray,
        (Some(mut popped), None) => Reply::Bulk(popped.remove(0)),
        (Some(popped), Some(_)) => Reply::Array(popped.into_iter().map(Reply::Bulk).collect()),
    })
}

fn llen(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CommandResult {
    let len = read_in::<ListValue>(ctx, &argv[1])?.map_or(0, |l| l.len());
    Ok(Reply::Int(len as i64))
}

fn lrange(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CommandResult {
    let start = parse_i64(&argv[2])?;
    let stop = parse_i64(&argv[3])?;
    let Some(list) = read_in::<ListValue>(ctx, &argv[1])? else {
        return Ok(Reply::Array(Vec::new()));
    };
    let Some((start, stop)) = range_bounds(start, stop, list.len()) else {
        return Ok(Reply::Array(Vec::new()));
    };
    let elements = list
        .range(start, stop)
        .map(|e| Reply::Bulk(Bytes::copy_from_slice(e)))
        .collect();
    Ok(Reply::Array(elements))
}

fn lindex(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CommandResult {
    let Some(list) = read_in::<ListValue>(ctx, &argv[1])? else {
        return Ok(Reply::Nil);
    };
    let index = parse_i64(&argv[2])?;
    Ok(normalize(index, list.len())
        .and_then(|i| list.get(i))
        .map_or(Reply::Nil, |e| Reply::Bulk(Bytes::copy_from_slice(e))))
}

fn lset(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CommandResult {
    let (key, element) = (&argv[1], &argv[3]);
    let db = ctx.db();
    if !list_exists(ctx, db, key)? {
        return Err(CommandError::err("no such key"));
    }
    let index = parse_i64(&argv[2])?;
    let fill = fill(ctx.state);
    let written = collection::write(ctx, db, key, false, |list: &mut ListValue| {
        let i =
            normalize(index, list.len()).ok_or_else(|| CommandError::err("index out of range"))?;
        list.convert_if_growing_with(fill, element.len(), 1);
        list.set(i, element);
        list.convert_if_shrunk_with(fill);
        Ok(())
    })?;
    if written.is_some() {
        ctx.key_changed(db, key);
        ctx.notify(notify::LIST, "lset", db, key);
    }
    Ok(Reply::Ok)
}

fn linsert(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CommandResult {
    let after = if is(&argv[2], "after") {
        true
    } else if is(&argv[2], "before") {
        false
    } else {
        return Err(CommandError::Syntax);
    };
    let (key, pivot, element) = (&argv[1], &argv[3], &argv[4]);
    let db = ctx.db();
    let fill = fill(ctx.state);
    let written = collection::write(ctx, db, key, false, |list: &mut ListValue| {
        list.convert_if_growing_with(fill, element.len(), 1);
        let Some(at) = list.iter().position(|e| e == pivot.as_ref()) else {
            return Ok(None);
        };
        list.insert(at + usize::from(after), element);
        Ok(Some(list.len()))
    })?;
    match written.map(|w| w.result) {
        None => Ok(Reply::Int(0)),
        Some(None) => Ok(Reply::Int(-1)),
        Some(Some(len)) => {
            ctx.key_changed(db, key);
            ctx.notify(notify::LIST, "linsert", db, key);
            Ok(Reply::Int(len as i64))
        }
    }
}

fn lrem(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CommandResult {
    let (key, element) = (&argv[1], &argv[3]);
    let count = parse_i64(&argv[2])?;
    let db = ctx.db();
    let fill = fill(ctx.state);
    let written = collection::write(ctx, db, key, false, |list: &mut ListValue| {
        let matches = list.iter().filter(|e| *e == element.as_ref()).count();
        let limit = if count == 0 {
            matches
        } else {
            (count.unsigned_abs() as usize).min(matches)
        };
        // Counting from the tail removes the last `limit` matches.
        let first_removed = if count < 0 { matches - limit } else { 0 };
        let mut seen = 0;
        if limit > 0 {
            list.retain(|_, e| {
                if e != element.as_ref() {
                    return true;
                }
                seen += 1;
                !(seen > first_removed && seen <= first_removed + limit)
            });
            list.convert_if_shrunk_with(fill);
        }
        Ok(limit)
    })?;
    let Some(written) = written else {
        return Ok(Reply::Int(0));
    };
    if written.result > 0 {
        ctx.key_changed(db, key);
        ctx.notify(notify::LIST, "lrem", db, key);
        if written.deleted {
            ctx.notify(notify::GENERIC, "del", db, key);
        }
    }
    Ok(Reply::Int(written.result as i64))
}

fn ltrim(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CommandResult {
    let key = &argv[1];
    let start = parse_i64(&argv[2])?;
    let stop = parse_i64(&argv[3])?;
    let db = ctx.db();
    let fill = fill(ctx.state);
    let written = collection::write(ctx, db, key, false, |list: &mut ListValue| {
        let len = list.len();
        let (head, tail) = match range_bounds(start, stop, len) {
            Some((start, stop)) => (start, len - stop - 1),
            None => (len, 0),
        };
        list.drop_end(End::Head, head);
        list.drop_end(End::Tail, tail);
        list.convert_if_shrunk_with(fill);
        Ok(())
    })?;
    if let Some(written) = written {
        ctx.notify(notify::LIST, "ltrim", db, key);
        if written.deleted {
            ctx.notify(notify::GENERIC, "del", db, key);
        }
        ctx.key_changed(db, key);
    }
    Ok(Reply::Ok)
}

fn lpos(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CommandResult {
    let mut rank: i64 = 1;
    let mut count: Option<usize> = None;
    let mut maxlen: usize = 0;
    let mut i = 3;
    while i < argv.len() {
        let has_value = i + 1 < argv.len();
        if is(&argv[i], "rank") && has_value {
            rank = parse_i64(&argv[i + 1])?;
            if rank == i64::MIN {
                return Err(CommandError::err(
                    "value is out of range, value must between -9223372036854775807 and 9223372036854775807",
                ));
            }
            if rank == 0 {
                return Err(CommandError::err("RANK can't be zero: use 1 to start from the first match, 2 from the second ... or use negative to start from the end of the list"));
            }
        } else if is(&argv[i], "count") && has_value {
            count = Some(non_negative(&argv[i + 1], "COUNT can't be negative")?);
        } else if is(&argv[i], "maxlen") && has_value {
            maxlen = non_negative(&argv[i + 1], "MAXLEN can't be negative")?;
        } else {
            return Err(CommandError::Syntax);
        }
        i += 2;
    }
    let element = &argv[2];
    let Some(list) = read_in::<ListValue>(ctx, &argv[1])? else {
        return Ok(match count {
            Some(_) => Reply::Array(Vec::new()),
            None => Reply::Nil,
        });
    };
    let len = list.len();
    let from_tail = rank < 0;
    let skip = rank.unsigned_abs() as usize - 1;
    let scan = if maxlen == 0 { len } else { maxlen.min(len) };
    let positions = |(i, e): (usize, &[u8])| {
        (e == element.as_ref()).then_some(if from_tail { len - 1 - i } else { i })
    };
    let wanted = match count {
        Some(0) => usize::MAX,
        Some(n) => n,
        None => 1,
    };
    let found: Vec<usize> = if from_tail {
        list.iter()
            .rev()
            .take(scan)
            .enumerate()
            .filter_map(positions)
            .skip(skip)
            .take(wanted)
            .collect()
    } else {
        list.iter()
            .take(scan)
            .enumerate()
            .filter_map(positions)
            .skip(skip)
            .take(wanted)
            .collect()
    };
    Ok(match count {
        Some(_) => Reply::Array(found.into_iter().map(|p| Reply::Int(p as i64)).collect()),
        None => found.first().map_or(Reply::Nil, |&p| Reply::Int(p as i64)),
    })
}

/// A non-negative integer option; both a parse failure and a negative value get `message`.
fn non_negative(arg: &[u8], message: &str) -> Result<usize, CommandError> {
    parse_i64(arg)
        .ok()
        .filter(|&n| n >= 0)
        .map(|n| n as usize)
        .ok_or_else(|| CommandError::err(message))
}

fn lmove(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CommandResult {
    let from = parse_end(&argv[3])?;
    let to = parse_end(&argv[4])?;
    Ok(move_element(ctx, &argv[1], &argv[2], from, to)?.map_or(Reply::Nil, Reply::Bulk))
}

fn rpoplpush(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CommandResult {
    Ok(
        move_element(ctx, &argv[1], &argv[2], End::Tail, End::Head)?
            .map_or(Reply::Nil, Reply::Bulk),
    )
}

/// LMOVE's operation: pops from `src`, pushes to `dst` (created if missing). `None` when `src`
/// does not exist; WRONGTYPE for either key holding another type (`dst` is only checked when
/// there is something to move). Events in Redis's order: the push, then the pop.
fn move_element(
    ctx: &mut Ctx<'_>,
    src: &[u8],
    dst: &[u8],
    from: End,
    to: End,
) -> Result<Option<Bytes>, CommandError> {
    let db = ctx.db();
    if !list_exists(ctx, db, src)? {
        return Ok(None);
    }
    list_exists(ctx, db, dst)?;
    let fill = fill(ctx.state);
    let (element, src_deleted) = if src == dst {
        let written = collection::write(ctx, db, src, false, |list: &mut ListValue| {
            let element = list.pop(from).expect("a stored list is never empty");
            list.convert_if_growing_with(fill, element.len(), 1);
            list.push(to, &element);
            Ok(element)
        })?;
        (written.expect("checked above").result, false)
    } else {
        let written = collection::write(ctx, db, src, false, |list: &mut ListValue| {
            let element = list.pop(from).expect("a stored list is never empty");
            list.convert_if_shrunk_with(fill);
            Ok(element)
        })?
        .expect("checked above");
        collection::write(ctx, db, dst, true, |list: &mut ListValue| {
            list.convert_if_growing_with(fill, written.result.len(), 1);
            list.push(to, &written.result);
            Ok(())
        })?;
        (written.result, written.deleted)
    };
    ctx.key_changed(db, dst);
    ctx.notify(notify::LIST, push_event(to), db, dst);
    ctx.notify(notify::LIST, pop_event(from), db, src);
    if src_deleted {
        ctx.notify(notify::GENERIC, "del", db, src);
    }
    ctx.key_changed(db, src);
    Ok(Some(element))
}

fn lmpop(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CommandResult {
    let args = parse_mpop(argv, 1)?;
    Ok(mpop(ctx, argv, &args)?.unwrap_or(Reply::NilArray))
}

/// Pops from the first of the keys that holds a list: `[key, [elements]]`, propagated as
/// LPOP/RPOP key count. `None` when every key is missing.
fn mpop(ctx: &mut Ctx<'_>, argv: &[Bytes], args: &MpopArgs) -> Result<Option<Reply>, CommandError> {
    for key in &argv[args.keys.clone()] {
        let Some(popped) = pop_elements(ctx, key, args.end, args.count)? else {
            continue;
        };
        let count = Bytes::from(args.count.to_string());
        ctx.propagate(vec![pop_command(args.end), key.clone(), count]);
        let elements = popped.into_iter().map(Reply::Bulk).collect();
        return Ok(Some(Reply::Array(vec![
            Reply::Bulk(key.clone()),
            Reply::Array(elements),
        ])));
    }
    Ok(None)
}
