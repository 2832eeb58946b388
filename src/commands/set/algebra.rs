//! Set algebra (SINTER, SINTERCARD, SUNION, SDIFF and the STORE forms) and SMOVE.
//!
//! Dispatch holds every key's shard for the whole command, so the result is atomic. Every input
//! is type-checked before any work (one WRONGTYPE fails the command, a missing key is an empty
//! set), as Redis does. Results are built as a `SetValue` with Redis's encoding rules, so an
//! all-integer result is an intset answered in ascending order, like Redis's.

use crate::commands::set::{
    add_members, bulk, collection, limits, read_in, remove_members, SetValue,
};
use crate::commands::set::{CommandResult, Ctx};
use crate::error::CommandError;
use crate::keyspace::Value;
use crate::protocol::Reply;
use crate::pubsub::notify;
use bytes::Bytes;

/// The size of each input set (0 for a missing key), after checking every input's type.
fn input_sizes(ctx: &mut Ctx<'_>, keys: &[Bytes]) -> Result<Vec<usize>, CommandError> {
    keys.iter()
        .map(|k| Ok(read_in::<SetValue>(ctx, k)?.map_or(0, SetValue::len)))
        .collect()
}

/// Members of the set at `key` (none when missing), copied out.
fn members_of(ctx: &mut Ctx<'_>, key: &[u8]) -> Result<Vec<Bytes>, CommandError> {
    let s = collection::peek_in::<SetValue>(ctx, key)?;
    Ok(s.into_iter()
        .flat_map(|s| s.iter().map(|m| Bytes::copy_from_slice(&m)))
        .collect())
}

/// The intersection, in the iteration order of the smallest input; stops at `limit` members
/// (0 = no limit).
fn intersect(ctx: &mut Ctx<'_>, keys: &[Bytes], limit: usize) -> Result<Vec<Bytes>, CommandError> {
    let sizes = input_sizes(ctx, keys)?;
    if sizes.contains(&0) {
        return Ok(Vec::new());
    }
    let mut order: Vec<usize> = (0..keys.len()).collect();
    order.sort_by_key(|&i| sizes[i]);
    let mut result = members_of(ctx, &keys[order[0]])?;
    for &i in &order[1..] {
        let other = collection::peek_in::<SetValue>(ctx, &keys[i])?;
        result.retain(|m| other.is_some_and(|s| s.contains(m)));
        if result.is_empty() {
            break;
        }
    }
    if limit > 0 {
        result.truncate(limit);
    }
    Ok(result)
}

/// The union of the inputs, built with Redis's encoding rules.
fn union(ctx: &mut Ctx<'_>, keys: &[Bytes]) -> Result<SetValue, CommandError> {
    input_sizes(ctx, keys)?;
    let limits = limits(ctx);
    let mut result = SetValue::default();
    for key in keys {
        if let Some(s) = collection::peek_in::<SetValue>(ctx, key)? {
            for m in s.iter() {
                result.add(&m, limits);
            }
        }
    }
    Ok(result)
}

/// The first input minus the others, built with Redis's encoding rules.
fn difference(ctx: &mut Ctx<'_>, keys: &[Bytes]) -> Result<SetValue, CommandError> {
    input_sizes(ctx, keys)?;
    let limits = limits(ctx);
    let mut result = SetValue::default();
    for m in members_of(ctx, &keys[0])? {
        result.add(&m, limits);
    }
    for key in &keys[1..] {
        if result.is_empty() {
            break;
        }
        if let Some(s) = collection::peek_in::<SetValue>(ctx, key)? {
            for m in s.iter() {
                result.remove(&m);
            }
        }
    }
    Ok(result)
}

fn set_reply(members: impl Iterator<Item = Bytes>) -> Reply {
    Reply::Set(members.map(Reply::Bulk).collect())
}

fn value_reply(set: &SetValue) -> Reply {
    Reply::Set(set.iter().map(|m| bulk(&m)).collect())
}

pub fn sinter(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CommandResult {
    intersect(ctx, &argv[1..], 0).map(|m| set_reply(m.into_iter()))
}

pub fn sunion(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CommandResult {
    union(ctx, &argv[1..]).map(|s| value_reply(&s))
}

pub fn sdiff(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CommandResult {
    difference(ctx, &argv[1..]).map(|s| value_reply(&s))
}

pub fn sinterstore(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CommandResult {
    let members = intersect(ctx, &argv[2..], 0)?;
    let limits = limits(ctx);
    let mut result = SetValue::default();
    for m in &members {
        result.add(m, limits);
    }
    Ok(store(ctx, &argv[1], result, "sinterstore"))
}

pub fn sunionstore(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CommandResult {
    let result = union(ctx, &argv[2..])?;
    Ok(store(ctx, &argv[1], result, "sunionstore"))
}

pub fn sdiffstore(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CommandResult {
    let result = difference(ctx, &argv[2..])?;
    Ok(store(ctx, &argv[1], result, "sdiffstore"))
}

/// Writes a STORE command's result to `dst` (replacing whatever it held, deadline included)
/// and replies with its size; an empty result deletes `dst` instead (with a `del` event).
fn store(ctx: &mut Ctx<'_>, dst: &[u8], result: SetValue, event: &'static str) -> Reply {
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
    let previous = shard.insert(hash, dst, Value::Set(Box::new(result)), None, now);
    if previous.is_none() {
        ctx.notify(notify::NEW, "new", db, dst);
    }
    ctx.key_changed(db, dst);
    ctx.notify(notify::SET, event, db, dst);
    Reply::Int(len as i64)
}

/// SINTERCARD numkeys key [key ...] [LIMIT limit].
pub fn sintercard(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CommandResult {
    let numkeys_error = || CommandError::err("numkeys should be greater than 0");
    let numkeys = crate::engine::args::parse_i64(&argv[1]).map_err(|_| numkeys_error())?;
    let numkeys = usize::try_from(numkeys)
        .ok()
        .filter(|&n| n > 0)
        .ok_or_else(numkeys_error)?;
    if numkeys > argv.len() - 2 {
        return Err(CommandError::err(
            "Number of keys can't be greater than number of args",
        ));
    }
    let mut limit = 0;
    let mut i = 2 + numkeys;
    while i < argv.len() {
        if crate::engine::args::is(&argv[i], "limit") && i + 1 < argv.len() {
            let negative = || CommandError::err("LIMIT can't be negative");
            let n = crate::engine::args::parse_i64(&argv[i + 1]).map_err(|_| negative())?;
            limit = usize::try_from(n).map_err(|_| negative())?;
            i += 2;
        } else {
            return Err(CommandError::Syntax);
        }
    }
    let members = intersect(ctx, &argv[2..2 + numkeys], limit)?;
    Ok(Reply::Int(members.len() as i64))
}

/// SMOVE source destination member.
pub fn smove(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CommandResult {
    let (src, dst, member) = (&argv[1], &argv[2], &argv[3]);
    let db = ctx.db();
    let Some(from) = collection::peek_in::<SetValue>(ctx, src)? else {
        return Ok(Reply::Int(0));
    };
    let in_source = from.contains(member);
    collection::peek_in::<SetValue>(ctx, dst)?;
    if src == dst {
        return Ok(Reply::Int(in_source as i64));
    }
    if remove_members(ctx, db, src, &[member], "srem")? == 0 {
        return Ok(Reply::Int(0));
    }
    add_members(ctx, db, dst, &[member])?;
    Ok(Reply::Int(1))
}

#[cfg(test)]
mod tests {
    use crate::testing::TestServer;

    #[test]
    fn algebra_on_intsets_is_ordered() {
        let mut t = TestServer::new();
        t.run(&["SADD", "a", "5", "1", "3", "7"]);
        t.run(&["SADD", "b", "3", "5", "9"]);
        assert_eq!(
            t.resp(&["SINTER", "a", "b"]),
            "*2\r\n$1\r\n3\r\n$1\r\n5\r\n"
        );
        assert_eq!(t.resp(&["SDIFF", "a", "b"]), "*2\r\n$1\r\n1\r\n$1\r\n7\r\n");
        assert_eq!(t.resp(&["SUNIONSTORE", "u", "a", "b"]), ":5\r\n");
        assert_eq!(
            t.resp(&["SINTERCARD", "2", "a", "b", "LIMIT", "1"]),
            ":1\r\n"
        );
        assert_eq!(t.resp(&["SINTERSTORE", "u", "a", "missing"]), ":0\r\n");
        assert_eq!(t.resp(&["EXISTS", "u"]), ":0\r\n");
    }

    #[test]
    fn smove_moves_and_deletes_an_emptied_source() {
        let mut t = TestServer::new();
        t.run(&["SADD", "a", "x"]);
        assert_eq!(t.resp(&["SMOVE", "a", "b", "x"]), ":1\r\n");
        assert_eq!(t.resp(&["EXISTS", "a"]), ":0\r\n");
        assert_eq!(t.resp(&["SISMEMBER", "b", "x"]), ":1\r\n");
        assert_eq!(t.resp(&["SMOVE", "a", "b", "x"]), ":0\r\n");
    }
}
