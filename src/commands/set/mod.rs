//! Set commands: Redis's `set` group.
//!
//! Each command runs on `SetValue`s (see `keyspace::types::set`) through `commands::collection`,
//! which answers WRONGTYPE, creates a missing key and deletes an emptied one; this file maps
//! outcomes to replies, notifications and AOF effects. The single-key commands live here,
//! SPOP/SRANDMEMBER in `random.rs`, SMOVE and the algebra (SINTER, SUNION, SDIFF, their STORE
//! forms, SINTERCARD) in `algebra.rs`.

mod algebra;
mod random;

use crate::command;
use crate::commands::collection::{self, read_in};
use crate::error::CommandError;
use crate::keyspace::types::set::SetLimits;
use crate::keyspace::types::SetValue;
use crate::protocol::Reply;
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

const SF: &[&str] = &["set", "fast"];
const SS: &[&str] = &["set", "slow"];
const TWO_KEYS: KeySpec = KeySpec::Range {
    first: 1,
    last: 2,
    step: 1,
};

/// Keys of SINTERCARD: `numkeys` at 1, keys after it.
fn keys_numkeys_at_1(argv: &[Bytes]) -> Vec<(Option<usize>, usize)> {
    crate::engine::keys_after_numkeys(argv, 1)
}

pub static COMMANDS: &[CommandSpec] = &[
    cx(command!("sadd", -3, WRITE | DENYOOM | FAST, KeySpec::one(), SF, "set", "1.0.0", "Adds one or more members to a set. Creates the key if it doesn't exist.", sadd), "O(1) for each element added, so O(N) to add N elements when the command is called with multiple arguments."),
    cx(command!("srem", -3, WRITE | FAST, KeySpec::one(), SF, "set", "1.0.0", "Removes one or more members from a set. Deletes the set if the last member was removed.", srem), "O(N) where N is the number of members to be removed."),
    cx(command!("sismember", 3, READONLY | FAST, KeySpec::one(), SF, "set", "1.0.0", "Determines whether a member belongs to a set.", sismember), "O(1)"),
    cx(command!("smismember", -3, READONLY | FAST, KeySpec::one(), SF, "set", "6.2.0", "Determines whether multiple members belong to a set.", smismember), "O(N) where N is the number of elements being checked for membership"),
    cx(command!("smembers", 2, READONLY, KeySpec::one(), SS, "set", "1.0.0", "Returns all members of a set.", smembers), "O(N) where N is the set cardinality."),
    cx(command!("scard", 2, READONLY | FAST, KeySpec::one(), SF, "set", "1.0.0", "Returns the number of members in a set.", scard), "O(1)"),
    cx(command!("spop", -2, WRITE | FAST, KeySpec::one(), SF, "set", "1.0.0", "Returns one or more random members from a set after removing them. Deletes the set if the last member was popped.", random::spop), "Without the count argument O(1), otherwise O(N) where N is the value of the passed count."),
    cx(command!("srandmember", -2, READONLY, KeySpec::one(), SS, "set", "1.0.0", "Get one or multiple random members from a set", random::srandmember), "Without the count argument O(1), otherwise O(N) where N is the absolute value of the passed count."),
    cx(command!("smove", 4, WRITE | FAST, TWO_KEYS, SF, "set", "1.0.0", "Moves a member from one set to another.", algebra::smove), "O(1)"),
    cx(command!("sinter", -2, READONLY, KeySpec::all_from_first(), SS, "set", "1.0.0", "Returns the intersect of multiple sets.", algebra::sinter), "O(N*M) worst case where N is the cardinality of the smallest set and M is the number of sets."),
    cx(command!("sintercard", -3, READONLY, KeySpec::Custom(keys_numkeys_at_1), SS, "set", "7.0.0", "Returns the number of members of the intersect of multiple sets.", algebra::sintercard), "O(N*M) worst case where N is the cardinality of the smallest set and M is the number of sets."),
    cx(command!("sinterstore", -3, WRITE | DENYOOM, KeySpec::all_from_first(), SS, "set", "1.0.0", "Stores the intersect of multiple sets in a key.", algebra::sinterstore), "O(N*M) worst case where N is the cardinality of the smallest set and M is the number of sets."),
    cx(command!("sunion", -2, READONLY, KeySpec::all_from_first(), SS, "set", "1.0.0", "Returns the union of multiple sets.", algebra::sunion), "O(N) where N is the total number of elements in all given sets."),
    cx(command!("sunionstore", -3, WRITE | DENYOOM, KeySpec::all_from_first(), SS, "set", "1.0.0", "Stores the union of multiple sets in a key.", algebra::sunionstore), "O(N) where N is the total number of elements in all given sets."),
    cx(command!("sdiff", -2, READONLY, KeySpec::all_from_first(), SS, "set", "1.0.0", "Returns the difference of multiple sets.", algebra::sdiff), "O(N) where N is the total number of elements in all given sets."),
    cx(command!("sdiffstore", -3, WRITE | DENYOOM, KeySpec::all_from_first(), SS, "set", "1.0.0", "Stores the difference of multiple sets in a key.", algebra::sdiffstore), "O(N) where N is the total number of elements in all given sets."),
    cx(command!("sscan", -3, READONLY, KeySpec::one(), SS, "set", "2.8.0", "Iterates over members of a set.", sscan), "O(1) for every call. O(N) for a complete iteration, including enough command calls for the cursor to return back to 0. N is the number of elements inside the collection."),
];

/// The encoding thresholds in force (they decide the encoding OBJECT ENCODING reports).
fn limits(ctx: &Ctx<'_>) -> SetLimits {
    let hot = &ctx.state.config.hot;
    SetLimits {
        intset_entries: hot.set_max_intset_entries.load(Ordering::Relaxed) as usize,
        listpack_entries: hot.set_max_listpack_entries.load(Ordering::Relaxed) as usize,
        listpack_value: hot.set_max_listpack_value.load(Ordering::Relaxed) as usize,
    }
}

fn bulk(bytes: &[u8]) -> Reply {
    Reply::Bulk(Bytes::copy_from_slice(bytes))
}

/// Adds `members` to the set at `db`/`key` (created when missing, with Redis's choice of
/// encoding for that many members); raises `new` and `sadd`. The number added.
fn add_members(
    ctx: &mut Ctx<'_>,
    db: usize,
    key: &[u8],
    members: &[impl AsRef<[u8]>],
) -> Result<usize, CommandError> {
    let limits = limits(ctx);
    let written = collection::write::<SetValue, _>(ctx, db, key, true, |s| {
        match (s.is_empty(), members.first()) {
            (true, Some(first)) => s.start(first.as_ref(), members.len(), limits),
            _ => s.prepare(members.len(), limits),
        }
        Ok(members.iter().filter(|m| s.add(m.as_ref(), limits)).count())
    })?
    .expect("write creates a missing key");
    if written.created {
        ctx.notify(notify::NEW, "new", db, key);
    }
    if written.result > 0 {
        ctx.key_changed(db, key);
        ctx.notify(notify::SET, "sadd", db, key);
    }
    Ok(written.result)
}

fn sadd(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CommandResult {
    let db = ctx.db();
    add_members(ctx, db, &argv[1], &argv[2..]).map(|n| Reply::Int(n as i64))
}

/// Removes `members` from the set at `db`/`key`; raises `event` and `del` when emptied. The
/// number removed.
fn remove_members(
    ctx: &mut Ctx<'_>,
    db: usize,
    key: &[u8],
    members: &[impl AsRef<[u8]>],
    event: &'static str,
) -> Result<usize, CommandError> {
    let Some(written) = collection::write::<SetValue, _>(ctx, db, key, false, |s| {
        Ok(members.iter().filter(|m| s.remove(m.as_ref())).count())
    })?
    else {
        return Ok(0);
    };
    if written.result > 0 {
        ctx.key_changed(db, key);
        ctx.notify(notify::SET, event, db, key);
        if written.deleted {
            ctx.notify(notify::GENERIC, "del", db, key);
        }
    }
    Ok(written.result)
}

fn srem(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CommandResult {
    let db = ctx.db();
    remove_members(ctx, db, &argv[1], &argv[2..], "srem").map(|n| Reply::Int(n as i64))
}

fn sismember(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CommandResult {
    let s = read_in::<SetValue>(ctx, &argv[1])?;
    Ok(Reply::Int(s.is_some_and(|s| s.contains(&argv[2])) as i64))
}

fn smismember(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CommandResult {
    let s = read_in::<SetValue>(ctx, &argv[1])?;
    Ok(Reply::Array(
        argv[2..]
            .iter()
            .map(|m| Reply::Int(s.is_some_and(|s| s.contains(m)) as i64))
            .collect(),
    ))
}

fn smembers(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CommandResult {
    let s = read_in::<SetValue>(ctx, &argv[1])?;
    Ok(Reply::Set(
        s.into_iter()
            .flat_map(|s| s.iter().map(|m| bulk(&m)))
            .collect(),
    ))
}

fn scard(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CommandResult {
    let s = read_in::<SetValue>(ctx, &argv[1])?;
    Ok(Reply::Int(s.map_or(0, SetValue::len) as i64))
}

/// SSCAN key cursor [MATCH pattern] [COUNT count]. An `intset` or `listpack` set is returned
/// whole with cursor 0, as Redis does; a `hashtable` one is walked by slot position.
fn sscan(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CommandResult {
    let cursor = crate::commands::generic::parse_scan_cursor(&argv[2])?;
    let Some(s) = read_in::<SetValue>(ctx, &argv[1])? else {
        return Ok(collection::scan_reply(0, Vec::new()));
    };
    let opts = collection::parse_scan_options(argv, 3)?;
    let mut items = Vec::new();
    let mut push = |m: &[u8]| {
        if opts.wants(m) {
            items.push(bulk(m));
        }
    };
    let next = s.scan(cursor, opts.count, &mut push);
    Ok(collection::scan_reply(next, items))
}

#[cfg(test)]
mod tests {
    use crate::testing::TestServer;

    #[test]
    fn sadd_srem_and_key_deletion() {
        let mut t = TestServer::new();
        assert_eq!(t.resp(&["SADD", "s", "b", "a", "b"]), ":2\r\n");
        assert_eq!(t.resp(&["SCARD", "s"]), ":2\r\n");
        assert_eq!(t.resp(&["SREM", "s", "a", "b", "c"]), ":2\r\n");
        assert_eq!(t.resp(&["EXISTS", "s"]), ":0\r\n");
    }

    #[test]
    fn encodings_follow_redis_72() {
        let mut t = TestServer::new();
        t.run(&["SADD", "s", "3", "1", "2"]);
        assert_eq!(t.resp(&["OBJECT", "ENCODING", "s"]), "$6\r\nintset\r\n");
        assert_eq!(
            t.resp(&["SMEMBERS", "s"]),
            "*3\r\n$1\r\n1\r\n$1\r\n2\r\n$1\r\n3\r\n"
        );
        t.run(&["SADD", "s", "x"]);
        assert_eq!(t.resp(&["OBJECT", "ENCODING", "s"]), "$8\r\nlistpack\r\n");
        for i in 0..200 {
            t.run(&["SADD", "s", &format!("m{i}")]);
        }
        assert_eq!(t.resp(&["OBJECT", "ENCODING", "s"]), "$9\r\nhashtable\r\n");
    }
}
