//! String commands: GET SET and the rest of Redis's `string` group.
//!
//! Each command parses its options into a typed form, runs one shard operation and maps the
//! outcome to a reply.

use super::args::{is, parse_i64};
use super::{flags::*, CommandResult, CommandSpec, Ctx, KeySpec};
use crate::command;
use crate::error::CommandError;
use crate::keyspace::Value;
use crate::protocol::Reply;
use bytes::Bytes;

pub static COMMANDS: &[CommandSpec] = &[
    command!("get", 2, READONLY | FAST, KeySpec::one(), &["string", "fast"], "string", "1.0.0", "Returns the string value of a key.", get),
    command!("set", -3, WRITE | DENYOOM, KeySpec::one(), &["string", "slow"], "string", "1.0.0", "Sets the string value of a key, ignoring its type. The key is created if it doesn't exist.", set),
];

/// SET's existence condition.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Condition {
    Always,
    IfAbsent,
    IfPresent,
}

/// What happens to the key's deadline.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Expiry {
    /// Remove any deadline (plain SET).
    Clear,
    /// Keep the current deadline (KEEPTTL).
    Keep,
    /// Absolute unix milliseconds.
    At(u64),
}

#[derive(Debug)]
struct SetOptions {
    condition: Condition,
    expiry: Expiry,
    get: bool,
}

/// Reads a string value for a command; WRONGTYPE for other types.
pub fn as_str(value: &Value) -> Result<&[u8], CommandError> {
    match value {
        Value::Str(bytes) => Ok(bytes),
    }
}

fn get(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CommandResult {
    let now = ctx.now_ms;
    let (shard, hash) = ctx.shard(&argv[1]);
    match shard.get_read(hash, &argv[1], now) {
        None => Ok(Reply::Nil),
        Some(entry) => Ok(Reply::Bulk(Bytes::copy_from_slice(as_str(&entry.value)?))),
    }
}

/// Converts a relative or absolute expire argument to an absolute deadline in ms, with the
/// checks and error texts of Redis's `getExpireMillisecondsOrReply`.
pub fn deadline_from(arg: &[u8], unit_ms: u64, absolute: bool, now_ms: u64, cmd: &str) -> Result<u64, CommandError> {
    let n = parse_i64(arg)?;
    if n <= 0 {
        return Err(CommandError::InvalidExpire(cmd.to_string()));
    }
    let ms = (n as u64).checked_mul(unit_ms).filter(|&ms| ms <= i64::MAX as u64).ok_or_else(|| CommandError::InvalidExpire(cmd.to_string()))?;
    if absolute {
        return Ok(ms);
    }
    let at = ms.checked_add(now_ms).filter(|&at| at <= i64::MAX as u64).ok_or_else(|| CommandError::InvalidExpire(cmd.to_string()))?;
    Ok(at)
}

fn parse_set_options(argv: &[Bytes], now_ms: u64) -> Result<SetOptions, CommandError> {
    let mut opts = SetOptions { condition: Condition::Always, expiry: Expiry::Clear, get: false };
    let mut expiry_given = false;
    let mut i = 3;
    while i < argv.len() {
        let arg = &argv[i];
        let next = argv.get(i + 1);
        if is(arg, "nx") && opts.condition != Condition::IfPresent {
            opts.condition = Condition::IfAbsent;
        } else if is(arg, "xx") && opts.condition != Condition::IfAbsent {
            opts.condition = Condition::IfPresent;
        } else if is(arg, "get") {
            opts.get = true;
        } else if is(arg, "keepttl") && !expiry_given {
            opts.expiry = Expiry::Keep;
            expiry_given = true;
        } else if !expiry_given && next.is_some() && (is(arg, "ex") || is(arg, "px") || is(arg, "exat") || is(arg, "pxat")) {
            let (unit, absolute) = match () {
                _ if is(arg, "ex") => (1000, false),
                _ if is(arg, "px") => (1, false),
                _ if is(arg, "exat") => (1000, true),
                _ => (1, true),
            };
            opts.expiry = Expiry::At(deadline_from(next.expect("checked"), unit, absolute, now_ms, "set")?);
            expiry_given = true;
            i += 1;
        } else {
            return Err(CommandError::Syntax);
        }
        i += 1;
    }
    Ok(opts)
}

fn set(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CommandResult {
    let now = ctx.now_ms;
    let opts = parse_set_options(argv, now)?;
    let (key, value) = (&argv[1], &argv[2]);
    let (shard, hash) = ctx.shard(key);
    let existing = shard.get_mut(hash, key, now);
    let old_value = match (&existing, opts.get) {
        (Some(entry), true) => Some(Bytes::copy_from_slice(as_str(&entry.value)?)),
        _ => None,
    };
    let exists = existing.is_some();
    let old_deadline = existing.and_then(|e| e.expire_at_ms());
    let blocked = match opts.condition {
        Condition::Always => false,
        Condition::IfAbsent => exists,
        Condition::IfPresent => !exists,
    };
    if !blocked {
        let deadline = match opts.expiry {
            Expiry::Clear => None,
            Expiry::Keep => old_deadline,
            Expiry::At(at) => Some(at),
        };
        shard.insert(hash, key, Value::string(value), deadline, now);
        ctx.key_changed(ctx.db(), key);
    }
    match (opts.get, blocked) {
        (true, _) => Ok(old_value.map_or(Reply::Nil, Reply::Bulk)),
        (false, true) => Ok(Reply::Nil),
        (false, false) => Ok(Reply::Ok),
    }
}
