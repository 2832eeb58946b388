//! Hash commands: Redis's `hash` group.
//!
//! Each command runs on one `HashValue` (see `keyspace::types::hash`) through
//! `commands::collection`, which answers WRONGTYPE, creates a missing key and deletes an emptied
//! one; this file maps outcomes to replies, notifications and AOF effects. Random picks
//! (HRANDFIELD) and HSCAN use the positions of the hash's `CompactMap`.

use crate::command;
use crate::commands::collection::{self, read_in};
use crate::commands::string::long_double::LongDouble;
use crate::engine::args::{is, parse_i64};
use crate::error::CommandError;
use crate::keyspace::types::hash::HashLimits;
use crate::keyspace::types::HashValue;
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

const HF: &[&str] = &["hash", "fast"];
const HS: &[&str] = &["hash", "slow"];

pub static COMMANDS: &[CommandSpec] = &[
    cx(command!("hset", -4, WRITE | DENYOOM | FAST, KeySpec::one(), HF, "hash", "2.0.0", "Creates or modifies the value of a field in a hash.", hset), "O(1) for each field/value pair added, so O(N) to add N field/value pairs when the command is called with multiple field/value pairs."),
    cx(command!("hsetnx", 4, WRITE | DENYOOM | FAST, KeySpec::one(), HF, "hash", "2.0.0", "Sets the value of a field in a hash only when the field doesn't exist.", hsetnx), "O(1)"),
    cx(command!("hmset", -4, WRITE | DENYOOM | FAST, KeySpec::one(), HF, "hash", "2.0.0", "Sets the values of multiple fields.", hmset), "O(N) where N is the number of fields being set."),
    cx(command!("hget", 3, READONLY | FAST, KeySpec::one(), HF, "hash", "2.0.0", "Returns the value of a field in a hash.", hget), "O(1)"),
    cx(command!("hmget", -3, READONLY | FAST, KeySpec::one(), HF, "hash", "2.0.0", "Returns the values of all fields in a hash.", hmget), "O(N) where N is the number of fields being requested."),
    cx(command!("hdel", -3, WRITE | FAST, KeySpec::one(), HF, "hash", "2.0.0", "Deletes one or more fields and their values from a hash. Deletes the hash if no fields remain.", hdel), "O(N) where N is the number of fields to be removed."),
    cx(command!("hexists", 3, READONLY | FAST, KeySpec::one(), HF, "hash", "2.0.0", "Determines whether a field exists in a hash.", hexists), "O(1)"),
    cx(command!("hlen", 2, READONLY | FAST, KeySpec::one(), HF, "hash", "2.0.0", "Returns the number of fields in a hash.", hlen), "O(1)"),
    cx(command!("hstrlen", 3, READONLY | FAST, KeySpec::one(), HF, "hash", "3.2.0", "Returns the length of the value of a field.", hstrlen), "O(1)"),
    cx(command!("hkeys", 2, READONLY, KeySpec::one(), HS, "hash", "2.0.0", "Returns all fields in a hash.", hkeys), "O(N) where N is the size of the hash."),
    cx(command!("hvals", 2, READONLY, KeySpec::one(), HS, "hash", "2.0.0", "Returns all values in a hash.", hvals), "O(N) where N is the size of the hash."),
    cx(command!("hgetall", 2, READONLY, KeySpec::one(), HS, "hash", "2.0.0", "Returns all fields and values in a hash.", hgetall), "O(N) where N is the size of the hash."),
    cx(command!("hincrby", 4, WRITE | DENYOOM | FAST, KeySpec::one(), HF, "hash", "2.0.0", "Increments the integer value of a field in a hash by a number. Uses 0 as initial value if the field doesn't exist.", hincrby), "O(1)"),
    cx(command!("hincrbyfloat", 4, WRITE | DENYOOM | FAST, KeySpec::one(), HF, "hash", "2.6.0", "Increments the floating point value of a field by a number. Uses 0 as initial value if the field doesn't exist.", hincrbyfloat), "O(1)"),
    cx(command!("hrandfield", -2, READONLY, KeySpec::one(), HS, "hash", "6.2.0", "Returns one or more random fields from a hash.", hrandfield), "O(N) where N is the number of fields returned"),
    cx(command!("hscan", -3, READONLY, KeySpec::one(), HS, "hash", "2.8.0", "Iterates over fields and values of a hash.", hscan), "O(1) for every call. O(N) for a complete iteration, including enough command calls for the cursor to return back to 0. N is the number of elements inside the collection."),
];

/// The listpack limits in force (they decide the encoding OBJECT ENCODING reports).
fn limits(ctx: &Ctx<'_>) -> HashLimits {
    let hot = &ctx.state.config.hot;
    HashLimits {
        entries: hot.hash_max_listpack_entries.load(Ordering::Relaxed) as usize,
        value_bytes: hot.hash_max_listpack_value.load(Ordering::Relaxed) as usize,
    }
}

fn bulk(bytes: &[u8]) -> Reply {
    Reply::Bulk(Bytes::copy_from_slice(bytes))
}

/// Changes the hash at `key` (created when missing), then raises `event` (after `new` for a
/// created key) and marks the key changed. `f` returns whether it changed anything.
fn change<R>(
    ctx: &mut Ctx<'_>,
    key: &[u8],
    event: &'static str,
    f: impl FnOnce(&mut HashValue) -> Result<(R, bool), CommandError>,
) -> Result<R, CommandError> {
    let db = ctx.db();
    let written = collection::write::<HashValue, _>(ctx, db, key, true, f)?
        .expect("write creates a missing key");
    let (result, changed) = written.result;
    if written.created {
        ctx.notify(notify::NEW, "new", db, key);
    }
    if changed {
        ctx.key_changed(db, key);
        ctx.notify(notify::HASH, event, db, key);
    }
    Ok(result)
}

/// HSET / HMSET: sets every pair; the number of new fields.
fn set_pairs(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> Result<i64, CommandError> {
    if argv.len() % 2 == 1 {
        return Err(CommandError::Arity(
            String::from_utf8_lossy(&argv[0]).to_lowercase(),
        ));
    }
    let limits = limits(ctx);
    let pairs = &argv[2..];
    let longest = pairs.iter().map(Bytes::len).max().unwrap_or(0);
    change(ctx, &argv[1], "hset", |h| {
        h.prepare(pairs.len() / 2, longest, limits);
        let added = pairs
            .chunks_exact(2)
            .filter(|p| h.set(&p[0], &p[1], limits))
            .count();
        Ok((added as i64, true))
    })
}

fn hset(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CommandResult {
    set_pairs(ctx, argv).map(Reply::Int)
}

fn hmset(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CommandResult {
    set_pairs(ctx, argv).map(|_| Reply::Ok)
}

fn hsetnx(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CommandResult {
    let limits = limits(ctx);
    let (field, value) = (&argv[2], &argv[3]);
    let added = change(ctx, &argv[1], "hset", |h| {
        if h.contains(field) {
            return Ok((false, false));
        }
        h.prepare(1, field.len().max(value.len()), limits);
        h.set(field, value, limits);
        Ok((true, true))
    })?;
    Ok(Reply::Int(added as i64))
}

fn hget(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CommandResult {
    let h = read_in::<HashValue>(ctx, &argv[1])?;
    Ok(h.and_then(|h| h.get(&argv[2])).map_or(Reply::Nil, bulk))
}

fn hmget(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CommandResult {
    let h = read_in::<HashValue>(ctx, &argv[1])?;
    Ok(Reply::Array(
        argv[2..]
            .iter()
            .map(|f| h.and_then(|h| h.get(f)).map_or(Reply::Nil, bulk))
            .collect(),
    ))
}

fn hdel(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CommandResult {
    let db = ctx.db();
    let key = &argv[1];
    let Some(written) = collection::write::<HashValue, _>(ctx, db, key, false, |h| {
        Ok(argv[2..].iter().filter(|f| h.remove(f)).count())
    })?
    else {
        return Ok(Reply::Int(0));
    };
    if written.result > 0 {
        ctx.key_changed(db, key);
        ctx.notify(notify::HASH, "hdel", db, key);
        if written.deleted {
            ctx.notify(notify::GENERIC, "del", db, key);
        }
    }
    Ok(Reply::Int(written.result as i64))
}

fn hexists(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CommandResult {
    let h = read_in::<HashValue>(ctx, &argv[1])?;
    Ok(Reply::Int(h.is_some_and(|h| h.contains(&argv[2])) as i64))
}

fn hlen(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CommandResult {
    let h = read_in::<HashValue>(ctx, &argv[1])?;
    Ok(Reply::Int(h.map_or(0, HashValue::len) as i64))
}

fn hstrlen(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CommandResult {
    let h = read_in::<HashValue>(ctx, &argv[1])?;
    let len = h.and_then(|h| h.get(&argv[2])).map_or(0, <[u8]>::len);
    Ok(Reply::Int(len as i64))
}

fn hkeys(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CommandResult {
    let h = read_in::<HashValue>(ctx, &argv[1])?;
    Ok(Reply::Array(
        h.into_iter()
            .flat_map(|h| h.iter().map(|(f, _)| bulk(f)))
            .collect(),
    ))
}

fn hvals(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CommandResult {
    let h = read_in::<HashValue>(ctx, &argv[1])?;
    Ok(Reply::Array(
        h.into_iter()
            .flat_map(|h| h.iter().map(|(_, v)| bulk(v)))
            .collect(),
    ))
}

fn hgetall(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CommandResult {
    let h = read_in::<HashValue>(ctx, &argv[1])?;
    Ok(Reply::Map(
        h.into_iter()
            .flat_map(|h| h.iter().map(|(f, v)| (bulk(f), bulk(v))))
            .collect(),
    ))
}

fn hincrby(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CommandResult {
    let by = parse_i64(&argv[3])?;
    let limits = limits(ctx);
    let field = &argv[2];
    let next = change(ctx, &argv[1], "hincrby", |h| {
        let current = match h.get(field) {
            Some(text) => crate::strconv::parse_i64_strict(text)
                .ok_or_else(|| CommandError::err("hash value is not an integer"))?,
            None => 0,
        };
        let next = current.checked_add(by).ok_or(CommandError::Overflow)?;
        h.set(field, next.to_string().as_bytes(), limits);
        Ok((next, true))
    })?;
    Ok(Reply::Int(next))
}

fn hincrbyfloat(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CommandResult {
    let by = LongDouble::parse(&argv[3]).ok_or(CommandError::NotFloat)?;
    if !by.is_finite() {
        return Err(CommandError::err("value is NaN or Infinity"));
    }
    let limits = limits(ctx);
    let field = &argv[2];
    let text = change(ctx, &argv[1], "hincrbyfloat", |h| {
        let current = match h.get(field) {
            Some(text) => LongDouble::parse(text)
                .ok_or_else(|| CommandError::err("hash value is not a float"))?,
            None => LongDouble::parse(b"0").expect("zero parses"),
        };
        let sum = current.add(by);
        if !sum.is_finite() {
            return Err(CommandError::err("increment would produce NaN or Infinity"));
        }
        let text = sum.to_human();
        h.set(field, text.as_bytes(), limits);
        Ok((text, true))
    })?;
    // The AOF records the result, so replay does not depend on float arithmetic.
    ctx.propagate(vec![
        Bytes::from_static(b"HSET"),
        argv[1].clone(),
        field.clone(),
        Bytes::from(text.clone()),
    ]);
    Ok(Reply::Bulk(Bytes::from(text)))
}

/// HRANDFIELD key [count [WITHVALUES]].
fn hrandfield(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CommandResult {
    let Some(count_arg) = argv.get(2) else {
        let h = read_in::<HashValue>(ctx, &argv[1])?;
        let slot = h.and_then(|h| h.map().random_slot(&mut collection::random_below));
        return Ok(match (h, slot) {
            (Some(h), Some(slot)) => bulk(h.at(slot).expect("random slot is live").0),
            _ => Reply::Nil,
        });
    };
    let count = collection::parse_random_count(count_arg)?;
    let with_values = match argv.get(3) {
        None => false,
        Some(arg) if argv.len() == 4 && is(arg, "withvalues") => {
            if !(-i64::MAX / 2..=i64::MAX / 2).contains(&count) {
                return Err(CommandError::err("value is out of range"));
            }
            true
        }
        Some(_) => return Err(CommandError::Syntax),
    };
    let protocol = ctx.client.protocol;
    let Some(h) = read_in::<HashValue>(ctx, &argv[1])? else {
        return Ok(Reply::Array(Vec::new()));
    };
    let map = h.map();
    let slots = if count < 0 {
        (0..count.unsigned_abs())
            .filter_map(|_| map.random_slot(&mut collection::random_below))
            .collect()
    } else {
        let n = usize::try_from(count).unwrap_or(usize::MAX);
        map.random_distinct(n, &mut collection::random_below)
    };
    let pairs = slots.into_iter().filter_map(|s| h.at(s));
    Ok(Reply::Array(match (with_values, protocol) {
        (false, _) => pairs.map(|(f, _)| bulk(f)).collect(),
        (true, Protocol::Resp2) => pairs.flat_map(|(f, v)| [bulk(f), bulk(v)]).collect(),
        (true, Protocol::Resp3) => pairs
            .map(|(f, v)| Reply::Array(vec![bulk(f), bulk(v)]))
            .collect(),
    }))
}

/// HSCAN key cursor [MATCH pattern] [COUNT count]. A `listpack` hash is returned whole with
/// cursor 0, as Redis does; a `hashtable` one is walked by slot position (see `CompactMap`).
fn hscan(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CommandResult {
    let cursor = crate::commands::generic::parse_scan_cursor(&argv[2])?;
    let Some(h) = read_in::<HashValue>(ctx, &argv[1])? else {
        return Ok(collection::scan_reply(0, Vec::new()));
    };
    let opts = collection::parse_scan_options(argv, 3)?;
    let mut items = Vec::new();
    let mut push = |f: &[u8], v: &[u8]| {
        if opts.wants(f) {
            items.push(bulk(f));
            items.push(bulk(v));
        }
    };
    let next = if h.map().is_indexed() {
        h.map().scan(cursor, opts.count, push)
    } else {
        h.iter().for_each(|(f, v)| push(f, v));
        0
    };
    Ok(collection::scan_reply(next, items))
}

#[cfg(test)]
mod tests {
    use crate::testing::TestServer;

    #[test]
    fn hset_hget_hdel_and_key_deletion() {
        let mut t = TestServer::new();
        assert_eq!(t.resp(&["HSET", "h", "a", "1", "b", "2"]), ":2\r\n");
        assert_eq!(t.resp(&["HSET", "h", "a", "3"]), ":0\r\n");
        assert_eq!(t.resp(&["HGET", "h", "a"]), "$1\r\n3\r\n");
        assert_eq!(t.resp(&["HDEL", "h", "a", "b", "c"]), ":2\r\n");
        assert_eq!(t.resp(&["EXISTS", "h"]), ":0\r\n");
    }

    #[test]
    fn hincrbyfloat_is_propagated_as_hset() {
        let mut t = TestServer::new();
        assert_eq!(t.resp(&["HINCRBYFLOAT", "h", "f", "0.1"]), "$3\r\n0.1\r\n");
        assert_eq!(t.resp(&["HINCRBYFLOAT", "h", "f", "0.2"]), "$3\r\n0.3\r\n");
    }

    #[test]
    fn hscan_walks_a_large_hash_completely() {
        let mut t = TestServer::new();
        for i in 0..600 {
            t.run(&["HSET", "h", &format!("f{i}"), "v"]);
        }
        assert_eq!(t.resp(&["OBJECT", "ENCODING", "h"]), "$9\r\nhashtable\r\n");
        let mut cursor = "0".to_string();
        let mut seen = std::collections::HashSet::new();
        loop {
            let reply = t.resp(&["HSCAN", "h", &cursor, "COUNT", "50"]);
            let lines: Vec<&str> = reply.split("\r\n").collect();
            cursor = lines[2].to_string();
            for field in lines
                .iter()
                .skip(5)
                .step_by(4)
                .take_while(|l| !l.is_empty())
            {
                seen.insert(field.to_string());
            }
            if cursor == "0" {
                break;
            }
        }
        assert_eq!(seen.len(), 600);
    }
}
