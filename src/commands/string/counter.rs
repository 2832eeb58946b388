//! Counters on string values: INCR DECR INCRBY DECRBY (64-bit integers with overflow checks) and
//! INCRBYFLOAT (extended precision, formatted as Redis does). The key's deadline is kept.

use crate::commands::string::long_double::LongDouble;
use crate::commands::string::{as_str, as_str_mut};
use crate::engine::args::parse_i64;
use crate::error::CommandError;
use crate::protocol::Reply;
use crate::pubsub::notify;
use crate::{engine::CommandResult, engine::Ctx};
use bytes::Bytes;

pub fn incr(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CommandResult {
    add_integer(ctx, &argv[1], 1)
}

pub fn decr(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CommandResult {
    add_integer(ctx, &argv[1], -1)
}

pub fn incrby(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CommandResult {
    let by = parse_i64(&argv[2])?;
    add_integer(ctx, &argv[1], by)
}

pub fn decrby(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CommandResult {
    let by = parse_i64(&argv[2])?;
    let negated = by
        .checked_neg()
        .ok_or_else(|| CommandError::err("decrement would overflow"))?;
    add_integer(ctx, &argv[1], negated)
}

/// Decimal text of an integer, written into `buf` (no heap round trip through `String`).
fn int_text(n: i64, buf: &mut [u8; 20]) -> &[u8] {
    let mut pos = buf.len();
    let mut v = n.unsigned_abs();
    loop {
        pos -= 1;
        buf[pos] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    if n < 0 {
        // i64::MIN has 19 digits: there is always room for the sign.
        pos -= 1;
        buf[pos] = b'-';
    }
    &buf[pos..]
}

/// Reads the counter in place and stores the new text with one allocation (the entry rebuilt
/// once, its deadline and access bits kept), instead of copying the old value out and back.
fn add_integer(ctx: &mut Ctx<'_>, key: &[u8], by: i64) -> CommandResult {
    let now = ctx.now_ms;
    let (shard, hash) = ctx.shard(key);
    let current = match shard.get_mut(hash, key, now) {
        Some(entry) => Some(parse_i64(as_str(entry.value())?)?),
        None => None,
    };
    let mut buf = [0u8; 20];
    let next = match current {
        Some(current) => {
            let next = current.checked_add(by).ok_or(CommandError::Overflow)?;
            shard.replace_str(hash, key, int_text(next, &mut buf), now);
            next
        }
        None => {
            shard.insert_str(hash, key, int_text(by, &mut buf), None, now);
            ctx.notify(notify::NEW, "new", ctx.client.db, key);
            by
        }
    };
    let db = ctx.db();
    ctx.key_changed(db, key);
    ctx.notify(notify::STRING, "incrby", db, key);
    Ok(Reply::Int(next))
}

pub fn incrbyfloat(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CommandResult {
    let now = ctx.now_ms;
    let key = &argv[1];
    let (shard, hash) = ctx.shard(key);
    let current = match shard.get_mut(hash, key, now) {
        Some(entry) => {
            Some(LongDouble::parse(as_str(entry.value())?).ok_or(CommandError::NotFloat)?)
        }
        None => None,
    };
    let by = LongDouble::parse(&argv[2]).ok_or(CommandError::NotFloat)?;
    let sum = match current {
        Some(current) => current.add(by),
        None => LongDouble::parse(b"0").expect("zero parses").add(by),
    };
    if !sum.is_finite() {
        return Err(CommandError::err("increment would produce NaN or Infinity"));
    }
    let text = sum.to_human();
    let stored = shard.update_value(hash, key, now, |value| {
        if let Ok(bytes) = as_str_mut(value) {
            *bytes = text.as_bytes().into();
        }
    });
    if stored.is_none() {
        shard.insert_str(hash, key, text.as_bytes(), None, now);
        ctx.notify(notify::NEW, "new", ctx.client.db, key);
    }
    let db = ctx.db();
    ctx.key_changed(db, key);
    // Replayed as the value it produced: float formatting must not decide the result twice.
    ctx.propagate(crate::aof::effects::argv(&[
        b"SET",
        key,
        text.as_bytes(),
        b"KEEPTTL",
    ]));
    ctx.notify(notify::STRING, "incrbyfloat", db, key);
    Ok(Reply::Bulk(Bytes::from(text)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integer_text() {
        for n in [0, 7, -7, 1234567890, i64::MAX, i64::MIN] {
            let mut buf = [0u8; 20];
            assert_eq!(int_text(n, &mut buf), n.to_string().as_bytes());
        }
    }
}
