//! Expiry commands (the expire half of Redis's `generic` group): EXPIRE PEXPIRE EXPIREAT
//! PEXPIREAT with NX/XX/GT/LT, TTL PTTL EXPIRETIME PEXPIRETIME, PERSIST.
//!
//! Deadlines are absolute unix milliseconds. Setting one at or before the command's clock
//! instant deletes the key at once (as Redis does on a master), which counts as a change.
//! Reclaiming keys that expire later is `keyspace::expiry`'s job.

use crate::command;
use crate::engine::args::parse_i64;
use crate::error::CommandError;
use crate::protocol::Reply;
use crate::pubsub::notify;
use crate::{
    engine::flags::*, engine::CommandResult, engine::CommandSpec, engine::Ctx, engine::KeySpec,
};
use bytes::Bytes;

pub static COMMANDS: &[CommandSpec] = &[
    command!(
        "expire",
        -3,
        WRITE | FAST,
        KeySpec::one(),
        &["keyspace", "fast"],
        "generic",
        "1.0.0",
        "Sets the expiration time of a key in seconds.",
        expire
    ),
    command!(
        "pexpire",
        -3,
        WRITE | FAST,
        KeySpec::one(),
        &["keyspace", "fast"],
        "generic",
        "2.6.0",
        "Sets the expiration time of a key in milliseconds.",
        pexpire
    ),
    command!(
        "expireat",
        -3,
        WRITE | FAST,
        KeySpec::one(),
        &["keyspace", "fast"],
        "generic",
        "1.2.0",
        "Sets the expiration time of a key to a Unix timestamp.",
        expireat
    ),
    command!(
        "pexpireat",
        -3,
        WRITE | FAST,
        KeySpec::one(),
        &["keyspace", "fast"],
        "generic",
        "2.6.0",
        "Sets the expiration time of a key to a Unix milliseconds timestamp.",
        pexpireat
    ),
    command!(
        "ttl",
        2,
        READONLY | FAST | NO_TOUCH,
        KeySpec::one(),
        &["keyspace", "fast"],
        "generic",
        "1.0.0",
        "Returns the expiration time in seconds of a key.",
        ttl
    ),
    command!(
        "pttl",
        2,
        READONLY | FAST | NO_TOUCH,
        KeySpec::one(),
        &["keyspace", "fast"],
        "generic",
        "2.6.0",
        "Returns the expiration time in milliseconds of a key.",
        pttl
    ),
    command!(
        "expiretime",
        2,
        READONLY | FAST | NO_TOUCH,
        KeySpec::one(),
        &["keyspace", "fast"],
        "generic",
        "7.0.0",
        "Returns the expiration time of a key as a Unix timestamp.",
        expiretime
    ),
    command!(
        "pexpiretime",
        2,
        READONLY | FAST | NO_TOUCH,
        KeySpec::one(),
        &["keyspace", "fast"],
        "generic",
        "7.0.0",
        "Returns the expiration time of a key as a Unix milliseconds timestamp.",
        pexpiretime
    ),
    command!(
        "persist",
        2,
        WRITE | FAST,
        KeySpec::one(),
        &["keyspace", "fast"],
        "generic",
        "2.2.0",
        "Removes the expiration time of a key.",
        persist
    ),
];

/// Unit of a time argument or reply.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Unit {
    Seconds,
    Millis,
}

/// Whether a time is relative to the command's clock instant or a unix timestamp.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Base {
    Now,
    Epoch,
}

/// NX / XX: a condition on whether the key has a deadline.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum HasDeadline {
    Any,
    Without,
    With,
}

/// GT / LT: a condition comparing the new deadline with the current one (none counts as
/// infinite).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Compare {
    Any,
    Later,
    Earlier,
}

#[derive(Debug, PartialEq, Eq)]
struct Conditions {
    has_deadline: HasDeadline,
    compare: Compare,
}

/// Parses the NX/XX/GT/LT flags after the time argument, with Redis's texts and check order.
fn parse_conditions(argv: &[Bytes]) -> Result<Conditions, CommandError> {
    let (mut nx, mut xx, mut gt, mut lt) = (false, false, false, false);
    for opt in argv.iter().skip(3) {
        match opt.to_ascii_lowercase().as_slice() {
            b"nx" => nx = true,
            b"xx" => xx = true,
            b"gt" => gt = true,
            b"lt" => lt = true,
            _ => {
                return Err(CommandError::err(format!(
                    "Unsupported option {}",
                    String::from_utf8_lossy(opt)
                )))
            }
        }
    }
    if nx && (xx || gt || lt) {
        return Err(CommandError::err(
            "NX and XX, GT or LT options at the same time are not compatible",
        ));
    }
    if gt && lt {
        return Err(CommandError::err(
            "GT and LT options at the same time are not compatible",
        ));
    }
    let has_deadline = if nx {
        HasDeadline::Without
    } else if xx {
        HasDeadline::With
    } else {
        HasDeadline::Any
    };
    let compare = if gt {
        Compare::Later
    } else if lt {
        Compare::Earlier
    } else {
        Compare::Any
    };
    Ok(Conditions {
        has_deadline,
        compare,
    })
}

impl Conditions {
    /// Whether a new deadline `when` may replace `current` (None: the key has none).
    fn allow(&self, current: Option<i64>, when: i64) -> bool {
        let presence_ok = match self.has_deadline {
            HasDeadline::Any => true,
            HasDeadline::Without => current.is_none(),
            HasDeadline::With => current.is_some(),
        };
        let compare_ok = match (self.compare, current) {
            (Compare::Any, _) => true,
            (Compare::Later, None) => false,
            (Compare::Later, Some(cur)) => when > cur,
            (Compare::Earlier, None) => true,
            (Compare::Earlier, Some(cur)) => when < cur,
        };
        presence_ok && compare_ok
    }
}

/// The absolute deadline in ms for a time argument, with Redis's overflow checks (negative
/// and past times are allowed: they delete the key).
fn absolute_ms(
    arg: &[u8],
    unit: Unit,
    base: Base,
    now_ms: u64,
    cmd: &str,
) -> Result<i64, CommandError> {
    let invalid = || CommandError::InvalidExpire(cmd.to_string());
    let mut when = parse_i64(arg)?;
    if unit == Unit::Seconds {
        when = when.checked_mul(1000).ok_or_else(invalid)?;
    }
    let basetime = match base {
        Base::Now => i64::try_from(now_ms).map_err(|_| invalid())?,
        Base::Epoch => 0,
    };
    when.checked_add(basetime).ok_or_else(invalid)
}

fn expire_generic(
    ctx: &mut Ctx<'_>,
    argv: &[Bytes],
    unit: Unit,
    base: Base,
    cmd: &str,
) -> CommandResult {
    let conditions = parse_conditions(argv)?;
    let now = ctx.now_ms;
    let when = absolute_ms(&argv[2], unit, base, now, cmd)?;
    let db = ctx.db();
    let key = &argv[1];
    // A replica sets a past deadline instead of deleting (Redis's checkAlreadyExpired).
    let keeps = ctx.state.keyspace.tunables.expiry.replica_keeps_expired();
    let (shard, hash) = ctx.shard(key);
    let Some(entry) = shard.get_mut(hash, key, now) else {
        return Ok(Reply::Int(0));
    };
    let current = entry
        .expire_at_ms()
        .map(|d| i64::try_from(d).unwrap_or(i64::MAX));
    if !conditions.allow(current, when) {
        return Ok(Reply::Int(0));
    }
    let event = match u64::try_from(when).ok().filter(|&w| w > now || keeps) {
        None => {
            shard.remove(hash, key, now);
            ctx.propagate(crate::aof::effects::argv(&[b"DEL", key]));
            "del"
        }
        Some(deadline) => {
            shard.set_expiry(hash, key, Some(deadline), now);
            ctx.propagate(crate::aof::effects::argv(&[
                b"PEXPIREAT",
                key,
                deadline.to_string().as_bytes(),
            ]));
            // Redis replies before it announces a new deadline (but after a deletion).
            crate::pubsub::reply_before_events(ctx.client);
            "expire"
        }
    };
    ctx.key_changed(db, key);
    ctx.notify(notify::GENERIC, event, db, key);
    Ok(Reply::Int(1))
}

fn expire(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CommandResult {
    expire_generic(ctx, argv, Unit::Seconds, Base::Now, "expire")
}

fn pexpire(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CommandResult {
    expire_generic(ctx, argv, Unit::Millis, Base::Now, "pexpire")
}

fn expireat(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CommandResult {
    expire_generic(ctx, argv, Unit::Seconds, Base::Epoch, "expireat")
}

fn pexpireat(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CommandResult {
    expire_generic(ctx, argv, Unit::Millis, Base::Epoch, "pexpireat")
}

/// TTL family: -2 for a missing key, -1 without a deadline, else the remaining time (Base::Now)
/// or the deadline (Base::Epoch), seconds rounded to nearest as Redis does.
fn ttl_generic(ctx: &mut Ctx<'_>, argv: &[Bytes], unit: Unit, base: Base) -> CommandResult {
    let now = ctx.now_ms;
    let (shard, hash) = ctx.shard(&argv[1]);
    let Some(entry) = shard.get_read(hash, &argv[1], now) else {
        return Ok(Reply::Int(-2));
    };
    let Some(deadline) = entry.expire_at_ms() else {
        return Ok(Reply::Int(-1));
    };
    let deadline = i64::try_from(deadline).unwrap_or(i64::MAX);
    let ms = match base {
        Base::Now => deadline
            .saturating_sub(i64::try_from(now).unwrap_or(i64::MAX))
            .max(0),
        Base::Epoch => deadline.max(0),
    };
    Ok(Reply::Int(match unit {
        Unit::Millis => ms,
        // Rounded to nearest; Redis answers 9223372036854776 for a deadline of i64::MAX ms.
        Unit::Seconds => ((i128::from(ms) + 500) / 1000) as i64,
    }))
}

fn ttl(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CommandResult {
    ttl_generic(ctx, argv, Unit::Seconds, Base::Now)
}

fn pttl(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CommandResult {
    ttl_generic(ctx, argv, Unit::Millis, Base::Now)
}

fn expiretime(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CommandResult {
    ttl_generic(ctx, argv, Unit::Seconds, Base::Epoch)
}

fn pexpiretime(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CommandResult {
    ttl_generic(ctx, argv, Unit::Millis, Base::Epoch)
}

fn persist(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CommandResult {
    let now = ctx.now_ms;
    let db = ctx.db();
    let key = &argv[1];
    let (shard, hash) = ctx.shard(key);
    let has_deadline = shard
        .get_mut(hash, key, now)
        .is_some_and(|e| e.expire_at_ms().is_some());
    if !has_deadline {
        return Ok(Reply::Int(0));
    }
    shard.set_expiry(hash, key, None, now);
    ctx.key_changed(db, key);
    ctx.notify(notify::GENERIC, "persist", db, key);
    Ok(Reply::Int(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn argv(words: &[&str]) -> Vec<Bytes> {
        words
            .iter()
            .map(|w| Bytes::copy_from_slice(w.as_bytes()))
            .collect()
    }

    #[test]
    fn condition_flags_and_conflicts() {
        let ok = |w: &[&str]| parse_conditions(&argv(w)).unwrap();
        assert_eq!(
            ok(&["expire", "k", "1", "xx", "GT"]),
            Conditions {
                has_deadline: HasDeadline::With,
                compare: Compare::Later
            }
        );
        assert_eq!(
            ok(&["expire", "k", "1", "nx", "nx"]).has_deadline,
            HasDeadline::Without
        );
        let err = |w: &[&str]| parse_conditions(&argv(w)).unwrap_err().to_string();
        assert_eq!(
            err(&["expire", "k", "1", "nx", "lt"]),
            "ERR NX and XX, GT or LT options at the same time are not compatible"
        );
        assert_eq!(
            err(&["expire", "k", "1", "gt", "lt"]),
            "ERR GT and LT options at the same time are not compatible"
        );
        assert_eq!(
            err(&["expire", "k", "1", "gt", "foo"]),
            "ERR Unsupported option foo"
        );
    }

    #[test]
    fn gt_lt_treat_no_deadline_as_infinite() {
        let gt = Conditions {
            has_deadline: HasDeadline::Any,
            compare: Compare::Later,
        };
        let lt = Conditions {
            has_deadline: HasDeadline::Any,
            compare: Compare::Earlier,
        };
        assert!(!gt.allow(None, 5));
        assert!(lt.allow(None, 5));
        assert!(gt.allow(Some(4), 5) && !gt.allow(Some(5), 5));
        assert!(lt.allow(Some(6), 5) && !lt.allow(Some(5), 5));
    }

    #[test]
    fn overflow_checks() {
        assert!(absolute_ms(
            b"9223372036854775807",
            Unit::Seconds,
            Base::Now,
            1,
            "expire"
        )
        .is_err());
        assert!(absolute_ms(
            b"9223372036854775807",
            Unit::Millis,
            Base::Now,
            1,
            "pexpire"
        )
        .is_err());
        assert_eq!(
            absolute_ms(
                b"9223372036854775807",
                Unit::Millis,
                Base::Epoch,
                1,
                "pexpireat"
            )
            .unwrap(),
            i64::MAX
        );
        assert_eq!(
            absolute_ms(b"-5", Unit::Seconds, Base::Now, 10_000, "expire").unwrap(),
            5_000
        );
        assert!(matches!(
            absolute_ms(b"x", Unit::Seconds, Base::Now, 1, "expire"),
            Err(CommandError::NotInteger)
        ));
    }
}
