//! Shared plumbing of the aggregate-type commands (hash, list, set, sorted set): typed lookup
//! with WRONGTYPE, and change in place with creation of a missing key and deletion of an
//! emptied one. Replies, notifications and WATCH stay with each command.

use crate::engine::context::Ctx;
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

/// The options of HSCAN, SSCAN and ZSCAN after the cursor: COUNT (at least 1) and MATCH.
pub struct ScanOptions<'a> {
    pub count: usize,
    pub pattern: Option<&'a [u8]>,
}

impl ScanOptions<'_> {
    /// True when `item` matches the MATCH pattern (or there is none).
    pub fn wants(&self, item: &[u8]) -> bool {
        self.pattern
            .is_none_or(|p| crate::glob::glob_match(p, item, false))
    }
}

/// Parses `[MATCH pattern] [COUNT count]` from `argv[from..]` with Redis's errors.
pub fn parse_scan_options(
    argv: &[bytes::Bytes],
    from: usize,
) -> Result<ScanOptions<'_>, CommandError> {
    use crate::engine::args::{is, parse_i64};
    let mut opts = ScanOptions {
        count: 10,
        pattern: None,
    };
    let mut i = from;
    while i < argv.len() {
        let Some(value) = argv.get(i + 1) else {
            return Err(CommandError::Syntax);
        };
        if is(&argv[i], "count") {
            let n = parse_i64(value)?;
            if n < 1 {
                return Err(CommandError::Syntax);
            }
            opts.count = usize::try_from(n).unwrap_or(usize::MAX);
        } else if is(&argv[i], "match") {
            opts.pattern = (&value[..] != b"*").then_some(&value[..]);
        } else {
            return Err(CommandError::Syntax);
        }
        i += 2;
    }
    Ok(opts)
}

/// A SCAN-family reply: the next cursor and the items.
pub fn scan_reply(cursor: u64, items: Vec<crate::protocol::Reply>) -> crate::protocol::Reply {
    use crate::protocol::Reply;
    Reply::Array(vec![
        Reply::Bulk(bytes::Bytes::from(cursor.to_string())),
        Reply::Array(items),
    ])
}

/// Most picks a negative random count (SRANDMEMBER, HRANDFIELD) may ask for: Redis would build
/// a reply of any size in its output buffer until memory runs out; we refuse instead.
pub const RANDOM_REPEATS_MAX: u64 = 1 << 24;

/// A random-pick count (SRANDMEMBER, HRANDFIELD): Redis's range check, and our cap on repeats.
pub fn parse_random_count(arg: &[u8]) -> Result<i64, CommandError> {
    let count = crate::engine::args::parse_i64(arg)?;
    if count == i64::MIN {
        return Err(CommandError::err(format!(
            "value is out of range, value must between {} and {}",
            -i64::MAX,
            i64::MAX
        )));
    }
    if count < 0 && count.unsigned_abs() > RANDOM_REPEATS_MAX {
        return Err(CommandError::err("value is out of range"));
    }
    Ok(count)
}

/// A random number below `n` (at least 1), for random picks.
pub fn random_below(n: usize) -> usize {
    (crate::keyspace::access::random_u64() % n.max(1) as u64) as usize
}

/// Looks `key` up in the client's database without counting a keyspace hit or miss (a second
/// look at a key the command already read): `Ok(None)` when missing, WRONGTYPE for another type.
pub fn peek_in<'c, T: Aggregate>(
    ctx: &'c mut Ctx<'_>,
    key: &[u8],
) -> Result<Option<&'c T>, CommandError> {
    let now = ctx.now_ms;
    let (shard, hash) = ctx.shard(key);
    match shard.get_mut(hash, key, now) {
        None => Ok(None),
        Some(entry) => T::of(entry.value())
            .map(Some)
            .ok_or(CommandError::WrongType),
    }
}
