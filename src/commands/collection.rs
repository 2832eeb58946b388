//! Shared plumbing of the aggregate-type commands (hash, list, set, sorted set): typed lookup
//! with WRONGTYPE, and change in place with creation of a missing key and deletion of an
//! emptied one. Replies, notifications and WATCH stay with each command.

use super::context::Ctx;
use crate::error::CommandError;
use crate::keyspace::types::Aggregate;
use crate::keyspace::Shard;

/// Looks `key` up for reading (counts a keyspace hit or miss): `Ok(None)` when missing,
/// WRONGTYPE when it holds another type.
pub fn read<'s, T: Aggregate>(
    shard: &'s mut Shard,
    hash: u64,
    key: &[u8],
    now_ms: u64,
) -> Result<Option<&'s T>, CommandError> {
    match shard.get_read(hash, key, now_ms) {
        None => Ok(None),
        Some(entry) => T::of(entry.value())
            .map(Some)
            .ok_or(CommandError::WrongType),
    }
}

/// Reads `key` in the client's database (see `read`).
pub fn read_in<'c, T: Aggregate>(
    ctx: &'c mut Ctx<'_>,
    key: &[u8],
) -> Result<Option<&'c T>, CommandError> {
    let now = ctx.now_ms;
    let (shard, hash) = ctx.shard(key);
    read(shard, hash, key, now)
}

/// What `write` did to the key besides `f`'s own result.
#[derive(Debug)]
pub struct Written<R> {
    pub result: R,
    /// The key did not exist and was created for this command.
    pub created: bool,
    /// The value was left empty and the key deleted.
    pub deleted: bool,
}

/// Changes `key`'s aggregate of type `T` in place. A missing key is created empty first when
/// `create` is set (and `Ok(None)` is returned otherwise); another type is WRONGTYPE. If `f`
/// leaves the value empty, the key is deleted (also when `f` fails after creating it).
pub fn write<T: Aggregate, R>(
    ctx: &mut Ctx<'_>,
    db: usize,
    key: &[u8],
    create: bool,
    f: impl FnOnce(&mut T) -> Result<R, CommandError>,
) -> Result<Option<Written<R>>, CommandError> {
    let now = ctx.now_ms;
    let (shard, hash) = ctx.shard_in(db, key);
    let created = match shard.get_mut(hash, key, now) {
        Some(entry) => {
            if T::of(entry.value()).is_none() {
                return Err(CommandError::WrongType);
            }
            false
        }
        None if create => {
            shard.insert(hash, key, T::default().into_value(), None, now);
            true
        }
        None => return Ok(None),
    };
    let (result, deleted) = shard
        .modify(hash, key, now, |value| {
            f(T::of_mut(value).expect("type checked above"))
        })
        .expect("key present: checked or created above");
    Ok(Some(Written {
        result: result?,
        created,
        deleted,
    }))
}
