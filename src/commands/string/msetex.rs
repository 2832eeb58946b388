//! MSETEX (Redis 8.4): MSET with one condition over all keys and one expiration for all of them.
//!
//! `MSETEX numkeys key value [key value ...] [NX | XX] [EX s | PX ms | EXAT s | PXAT ms |
//! KEEPTTL]`. Dispatch locks the shards of every key (the key finder below), so the check and
//! the writes are one atomic step as redis.io documents: NX writes only if none of the keys
//! exists, XX only if all exist; the reply is 1 when the keys were set and 0 when the condition
//! kept them all unchanged. Without an expiration the keys lose any deadline they had (as
//! MSET); KEEPTTL keeps each key's own.
//!
//! Argument checks (texts where redis.io gives none follow Redis's usual ones): `numkeys` not an
//! integer in 1..=INT_MAX is `ERR invalid numkeys value`; fewer pairs than `numkeys` is the
//! command's arity error; unknown or conflicting options are `ERR syntax error`; a bad
//! expiration is `ERR invalid expire time in 'msetex' command`, checked once the options are
//! parsed (a repeated option's last value wins, as in SET).
//!
//! Logged as `MSETEX numkeys pairs...` plus `PXAT <deadline>` or `KEEPTTL`, without the
//! condition (it held when the command ran).

use crate::commands::string::{ExpireKind, Expiry};
use crate::engine::args::{is, parse_i64};
use crate::error::CommandError;
use crate::protocol::Reply;
use crate::pubsub::notify;
use crate::{engine::CommandResult, engine::Ctx};
use bytes::Bytes;

/// MSETEX's condition over the whole group of keys.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Group {
    Always,
    NoneExist,
    AllExist,
}

/// `numkeys` as Redis reads it: an integer from 1 to INT_MAX.
fn numkeys(arg: &[u8]) -> Result<usize, CommandError> {
    match parse_i64(arg) {
        Ok(n) if (1..=i64::from(i32::MAX)).contains(&n) => Ok(n as usize),
        _ => Err(CommandError::err("invalid numkeys value")),
    }
}

/// The key positions (2, 4, ...) when `numkeys` is valid and its pairs are all there.
pub fn keys(argv: &[Bytes]) -> Vec<(Option<usize>, usize)> {
    match argv.get(1).map(|a| numkeys(a)) {
        Some(Ok(n)) if n <= argv.len().saturating_sub(2) / 2 => {
            (0..n).map(|i| (None, 2 + 2 * i)).collect()
        }
        _ => Vec::new(),
    }
}

pub fn msetex(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CommandResult {
    let n = numkeys(&argv[1])?;
    if n > (argv.len() - 2) / 2 {
        return Err(CommandError::Arity("msetex".into()));
    }
    let pairs = &argv[2..2 + 2 * n];
    let mut group = Group::Always;
    let mut keep_ttl = false;
    let mut expire: Option<(ExpireKind, &[u8])> = None;
    let mut i = 2 + 2 * n;
    while i < argv.len() {
        let arg = &argv[i][..];
        let next = argv.get(i + 1).map(|b| &b[..]);
        if is(arg, "nx") && group != Group::AllExist {
            group = Group::NoneExist;
        } else if is(arg, "xx") && group != Group::NoneExist {
            group = Group::AllExist;
        } else if is(arg, "keepttl") && expire.is_none() {
            keep_ttl = true;
        } else if let (Some(kind), Some(value)) = (ExpireKind::from_keyword(arg), next) {
            if keep_ttl || expire.is_some_and(|(k, _)| k != kind) {
                return Err(CommandError::Syntax);
            }
            expire = Some((kind, value));
            i += 1;
        } else {
            return Err(CommandError::Syntax);
        }
        i += 1;
    }
    let now = ctx.now_ms;
    let expiry = match expire {
        Some((kind, arg)) => Expiry::At(kind.deadline(arg, now, "msetex")?),
        None if keep_ttl => Expiry::Keep,
        None => Expiry::Clear,
    };
    if group != Group::Always {
        let want = group == Group::AllExist;
        for pair in pairs.chunks_exact(2) {
            let (shard, hash) = ctx.shard(&pair[0]);
            if shard.contains(hash, &pair[0], now) != want {
                return Ok(Reply::Int(0));
            }
        }
    }
    let db = ctx.db();
    for pair in pairs.chunks_exact(2) {
        let (shard, hash) = ctx.shard(&pair[0]);
        let deadline = match expiry {
            Expiry::Clear => None,
            Expiry::At(at) => Some(at),
            Expiry::Keep => shard
                .get_mut(hash, &pair[0], now)
                .and_then(|entry| entry.expire_at_ms()),
        };
        let created = shard.insert_str(hash, &pair[0], &pair[1], deadline, now);
        ctx.key_changed(db, &pair[0]);
        if created {
            ctx.notify(notify::NEW, "new", db, &pair[0]);
        }
        ctx.notify(notify::STRING, "set", db, &pair[0]);
        if matches!(expiry, Expiry::At(_)) {
            ctx.notify(notify::GENERIC, "expire", db, &pair[0]);
        }
    }
    if ctx.logging() {
        let mut effect = Vec::with_capacity(pairs.len() + 4);
        effect.push(Bytes::from_static(b"MSETEX"));
        effect.push(Bytes::from(n.to_string()));
        effect.extend(pairs.iter().cloned());
        match expiry {
            Expiry::Clear => {}
            Expiry::Keep => effect.push(Bytes::from_static(b"KEEPTTL")),
            Expiry::At(at) => {
                effect.push(Bytes::from_static(b"PXAT"));
                effect.push(Bytes::from(at.to_string()));
            }
        }
        ctx.propagate(effect);
    }
    Ok(Reply::Int(1))
}
