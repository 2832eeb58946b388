//! String commands: Redis's `string` group (GET SET and their variants, counters, ranges, LCS).
//!
//! Each command parses its options into a typed form, runs one shard operation and maps the
//! outcome to a reply. SET's option grammar also carries the IFEQ / IFNE / IFDEQ / IFDNE conditions
//! of Redis 8.4 (see `lock.rs`), since they are SET options; digests are in `string/digest.rs`,
//! MSETEX in `string/msetex.rs`. Counters live in `string/counter.rs`,
//! INCRBYFLOAT's extended-precision arithmetic in `string/long_double.rs`, LCS in `string/lcs.rs`.

mod counter;
pub(crate) mod digest;
mod lcs;
pub(crate) mod long_double;
mod msetex;

use crate::command;
use crate::engine::args::{is, parse_i64};
use crate::error::CommandError;
use crate::keyspace::value::grow_string;
use crate::keyspace::{Entry, Value, ValueRef};
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

const MSET_KEYS: KeySpec = KeySpec::Range {
    first: 1,
    last: -1,
    step: 2,
};
const MSETEX_KEYS: KeySpec = KeySpec::Custom(msetex::keys);
const LCS_KEYS: KeySpec = KeySpec::Range {
    first: 1,
    last: 2,
    step: 1,
};

pub static COMMANDS: &[CommandSpec] = &[
    cx(command!("get", 2, READONLY | FAST, KeySpec::one(), &["string", "fast"], "string", "1.0.0", "Returns the string value of a key.", get), "O(1)"),
    cx(command!("set", -3, WRITE | DENYOOM, KeySpec::one(), &["string", "slow"], "string", "1.0.0", "Sets the string value of a key, ignoring its type. The key is created if it doesn't exist.", set), "O(1)"),
    cx(command!("setnx", 3, WRITE | DENYOOM | FAST, KeySpec::one(), &["string", "fast"], "string", "1.0.0", "Set the string value of a key only when the key doesn't exist.", setnx), "O(1)"),
    cx(command!("setex", 4, WRITE | DENYOOM, KeySpec::one(), &["string", "slow"], "string", "2.0.0", "Sets the string value and expiration time of a key. Creates the key if it doesn't exist.", setex), "O(1)"),
    cx(command!("psetex", 4, WRITE | DENYOOM, KeySpec::one(), &["string", "slow"], "string", "2.6.0", "Sets both string value and expiration time in milliseconds of a key. The key is created if it doesn't exist.", psetex), "O(1)"),
    cx(command!("getset", 3, WRITE | DENYOOM | FAST, KeySpec::one(), &["string", "fast"], "string", "1.0.0", "Returns the previous string value of a key after setting it to a new value.", getset), "O(1)"),
    cx(command!("getdel", 2, WRITE | FAST, KeySpec::one(), &["string", "fast"], "string", "6.2.0", "Returns the string value of a key after deleting the key.", getdel), "O(1)"),
    cx(command!("getex", -2, WRITE | FAST, KeySpec::one(), &["string", "fast"], "string", "6.2.0", "Returns the string value of a key after setting its expiration time.", getex), "O(1)"),
    cx(command!("mget", -2, READONLY | FAST, KeySpec::all_from_first(), &["string", "fast"], "string", "1.0.0", "Atomically returns the string values of one or more keys.", mget), "O(N) where N is the number of keys to retrieve."),
    cx(command!("mset", -3, WRITE | DENYOOM, MSET_KEYS, &["string", "slow"], "string", "1.0.1", "Atomically creates or modifies the string values of one or more keys.", mset), "O(N) where N is the number of keys to set."),
    cx(command!("msetnx", -3, WRITE | DENYOOM, MSET_KEYS, &["string", "slow"], "string", "1.0.1", "Atomically modifies the string values of one or more keys only when all keys don't exist.", msetnx), "O(N) where N is the number of keys to set."),
    cx(command!("msetex", -4, WRITE | DENYOOM, MSETEX_KEYS, &["string", "slow"], "string", "8.4.0", "Atomically sets multiple string keys with a shared expiration in a single operation. Supports flexible argument parsing where condition and expiration flags can appear in any order.", msetex::msetex), "O(N) where N is the number of keys to set."),
    cx(command!("digest", 2, READONLY | FAST, KeySpec::one(), &["string", "fast"], "string", "8.4.0", "Returns the XXH3 hash of a string value.", digest::digest), "O(N) where N is the length of the string value."),
    cx(command!("append", 3, WRITE | DENYOOM | FAST, KeySpec::one(), &["string", "fast"], "string", "2.0.0", "Appends a string to the value of a key. Creates the key if it doesn't exist.", append), "O(1). The amortized time complexity is O(1) assuming the appended value is small and the already present value is of any size, since the dynamic string library used by Redis will double the free space available on every reallocation."),
    cx(command!("strlen", 2, READONLY | FAST, KeySpec::one(), &["string", "fast"], "string", "2.2.0", "Returns the length of a string value.", strlen), "O(1)"),
    cx(command!("incr", 2, WRITE | DENYOOM | FAST, KeySpec::one(), &["string", "fast"], "string", "1.0.0", "Increments the integer value of a key by one. Uses 0 as initial value if the key doesn't exist.", counter::incr), "O(1)"),
    cx(command!("decr", 2, WRITE | DENYOOM | FAST, KeySpec::one(), &["string", "fast"], "string", "1.0.0", "Decrements the integer value of a key by one. Uses 0 as initial value if the key doesn't exist.", counter::decr), "O(1)"),
    cx(command!("incrby", 3, WRITE | DENYOOM | FAST, KeySpec::one(), &["string", "fast"], "string", "1.0.0", "Increments the integer value of a key by a number. Uses 0 as initial value if the key doesn't exist.", counter::incrby), "O(1)"),
    cx(command!("decrby", 3, WRITE | DENYOOM | FAST, KeySpec::one(), &["string", "fast"], "string", "1.0.0", "Decrements a number from the integer value of a key. Uses 0 as initial value if the key doesn't exist.", counter::decrby), "O(1)"),
    cx(command!("incrbyfloat", 3, WRITE | DENYOOM | FAST, KeySpec::one(), &["string", "fast"], "string", "2.6.0", "Increment the floating point value of a key by a number. Uses 0 as initial value if the key doesn't exist.", counter::incrbyfloat), "O(1)"),
    cx(command!("getrange", 4, READONLY, KeySpec::one(), &["string", "slow"], "string", "2.4.0", "Returns a substring of the string stored at a key.", getrange), "O(N) where N is the length of the returned string. The complexity is ultimately determined by the returned length, but because creating a substring from an existing string is very cheap, it can be considered O(1) for small strings."),
    cx(command!("setrange", 4, WRITE | DENYOOM, KeySpec::one(), &["string", "slow"], "string", "2.2.0", "Overwrites a part of a string value with another by an offset. Creates the key if it doesn't exist.", setrange), "O(1), not counting the time taken to copy the new string in place. Usually, this string is very small so the amortized complexity is O(1). Otherwise, complexity is O(M) with M being the length of the value argument."),
    cx(command!("substr", 4, READONLY, KeySpec::one(), &["string", "slow"], "string", "1.0.0", "Returns a substring from a string value.", getrange), "O(N) where N is the length of the returned string. The complexity is ultimately determined by the returned length, but because creating a substring from an existing string is very cheap, it can be considered O(1) for small strings."),
    cx(command!("lcs", -3, READONLY, LCS_KEYS, &["string", "slow"], "string", "7.0.0", "Finds the longest common substring.", lcs::lcs), "O(N*M) where N and M are the lengths of s1 and s2, respectively"),
];

/// SET's condition on the key's current state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Condition<'a> {
    Always,
    /// NX
    IfAbsent,
    /// XX
    IfPresent,
    /// IFEQ: the key exists and holds exactly this string.
    IfEqual(&'a [u8]),
    /// IFNE: the key is missing or holds anything else.
    IfNotEqual(&'a [u8]),
    /// IFDEQ: the key exists and its value's digest is this one.
    IfDigestEqual(u64),
    /// IFDNE: the key is missing or its value's digest is another one.
    IfDigestNotEqual(u64),
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

/// The unit and base of an expire argument.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExpireKind {
    /// EX: seconds from now.
    Seconds,
    /// PX: milliseconds from now.
    Millis,
    /// EXAT: unix seconds.
    UnixSeconds,
    /// PXAT: unix milliseconds.
    UnixMillis,
}

impl ExpireKind {
    fn from_keyword(arg: &[u8]) -> Option<ExpireKind> {
        match arg.len() {
            2 if is(arg, "ex") => Some(ExpireKind::Seconds),
            2 if is(arg, "px") => Some(ExpireKind::Millis),
            4 if is(arg, "exat") => Some(ExpireKind::UnixSeconds),
            4 if is(arg, "pxat") => Some(ExpireKind::UnixMillis),
            _ => None,
        }
    }

    fn is_absolute(self) -> bool {
        matches!(self, ExpireKind::UnixSeconds | ExpireKind::UnixMillis)
    }

    /// Converts the argument to an absolute deadline with the checks and error texts of Redis's
    /// `getExpireMillisecondsOrReply`.
    pub fn deadline(self, arg: &[u8], now_ms: u64, cmd: &str) -> Result<u64, CommandError> {
        let (unit_ms, absolute) = match self {
            ExpireKind::Seconds => (1000, false),
            ExpireKind::Millis => (1, false),
            ExpireKind::UnixSeconds => (1000, true),
            ExpireKind::UnixMillis => (1, true),
        };
        deadline_from(arg, unit_ms, absolute, now_ms, cmd)
    }
}

/// An expire option as given: validated only once parsing is over, like Redis (a later EX
/// replaces an earlier one without the earlier being checked).
#[derive(Clone, Copy, Debug)]
struct ExpireArg<'a> {
    kind: ExpireKind,
    arg: &'a [u8],
}

/// Which command an extended-option list belongs to (Redis's `COMMAND_SET` / `COMMAND_GET`).
#[derive(Clone, Copy, PartialEq, Eq)]
enum OptionsOf {
    Set,
    Getex,
}

/// Whether SET replies with the previous value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ReplyWith {
    Status,
    OldValue,
}

struct ExtendedOptions<'a> {
    condition: Condition<'a>,
    keep_ttl: bool,
    persist: bool,
    expire: Option<ExpireArg<'a>>,
    reply: ReplyWith,
}

/// Reads a stored string value for a command; WRONGTYPE for other types.
pub fn as_str(value: ValueRef<'_>) -> Result<&[u8], CommandError> {
    match value {
        ValueRef::Str(bytes) => Ok(bytes),
        _ => Err(CommandError::WrongType),
    }
}

/// Reads an owned string value (inside `Shard::update_value`); WRONGTYPE for other types.
pub fn owned_str(value: &Value) -> Result<&[u8], CommandError> {
    match value {
        Value::Str(bytes) => Ok(bytes),
        _ => Err(CommandError::WrongType),
    }
}

/// The string buffer of a value, for in-place edits; WRONGTYPE for other types.
fn as_str_mut(value: &mut Value) -> Result<&mut Box<[u8]>, CommandError> {
    match value {
        Value::Str(bytes) => Ok(bytes),
        _ => Err(CommandError::WrongType),
    }
}

/// proto-max-bulk-len: the largest string a command may build.
fn max_string_len(ctx: &Ctx<'_>) -> u64 {
    ctx.state
        .config
        .hot
        .proto_max_bulk_len
        .load(Ordering::Relaxed)
        .max(0) as u64
}

/// Redis's `checkStringLength`: `existing + added` must fit proto-max-bulk-len.
fn check_string_length(existing: u64, added: u64, max: u64) -> Result<(), CommandError> {
    match existing.checked_add(added) {
        Some(total) if total <= max => Ok(()),
        _ => Err(CommandError::err(
            "string exceeds maximum allowed size (proto-max-bulk-len)",
        )),
    }
}

fn get(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CommandResult {
    let now = ctx.now_ms;
    let (shard, hash) = ctx.shard(&argv[1]);
    match shard.get_read(hash, &argv[1], now) {
        None => Ok(Reply::Nil),
        Some(entry) => Ok(Reply::Bulk(Bytes::copy_from_slice(as_str(entry.value())?))),
    }
}

/// Converts a relative or absolute expire argument to an absolute deadline in ms, with the
/// checks and error texts of Redis's `getExpireMillisecondsOrReply`.
pub fn deadline_from(
    arg: &[u8],
    unit_ms: u64,
    absolute: bool,
    now_ms: u64,
    cmd: &str,
) -> Result<u64, CommandError> {
    let n = parse_i64(arg)?;
    if n <= 0 {
        return Err(CommandError::InvalidExpire(cmd.to_string()));
    }
    let ms = (n as u64)
        .checked_mul(unit_ms)
        .filter(|&ms| ms <= i64::MAX as u64)
        .ok_or_else(|| CommandError::InvalidExpire(cmd.to_string()))?;
    if absolute {
        return Ok(ms);
    }
    let at = ms
        .checked_add(now_ms)
        .filter(|&at| at <= i64::MAX as u64)
        .ok_or_else(|| CommandError::InvalidExpire(cmd.to_string()))?;
    Ok(at)
}

/// Redis's `parseExtendedStringArgumentsOrReply`, plus IFEQ / IFNE for SET. The same keyword may
/// repeat (the last value wins); conflicting ones are a syntax error.
fn parse_extended(
    argv: &[Bytes],
    first: usize,
    of: OptionsOf,
) -> Result<ExtendedOptions<'_>, CommandError> {
    let mut opts = ExtendedOptions {
        condition: Condition::Always,
        keep_ttl: false,
        persist: false,
        expire: None,
        reply: ReplyWith::Status,
    };
    let mut i = first;
    while i < argv.len() {
        let arg = &argv[i][..];
        let next = argv.get(i + 1).map(|b| &b[..]);
        let is_set = of == OptionsOf::Set;
        let cond = opts.condition;
        if is_set && is(arg, "nx") && matches!(cond, Condition::Always | Condition::IfAbsent) {
            opts.condition = Condition::IfAbsent;
        } else if is_set
            && is(arg, "xx")
            && matches!(cond, Condition::Always | Condition::IfPresent)
        {
            opts.condition = Condition::IfPresent;
        } else if is_set
            && is(arg, "ifeq")
            && next.is_some()
            && matches!(cond, Condition::Always | Condition::IfEqual(_))
        {
            opts.condition = Condition::IfEqual(next.unwrap_or_default());
            i += 1;
        } else if is_set
            && is(arg, "ifne")
            && next.is_some()
            && matches!(cond, Condition::Always | Condition::IfNotEqual(_))
        {
            opts.condition = Condition::IfNotEqual(next.unwrap_or_default());
            i += 1;
        } else if is_set
            && is(arg, "ifdeq")
            && next.is_some()
            && matches!(cond, Condition::Always | Condition::IfDigestEqual(_))
        {
            opts.condition =
                Condition::IfDigestEqual(digest::parse_digest(next.unwrap_or_default())?);
            i += 1;
        } else if is_set
            && is(arg, "ifdne")
            && next.is_some()
            && matches!(cond, Condition::Always | Condition::IfDigestNotEqual(_))
        {
            opts.condition =
                Condition::IfDigestNotEqual(digest::parse_digest(next.unwrap_or_default())?);
            i += 1;
        } else if is_set && is(arg, "get") {
            opts.reply = ReplyWith::OldValue;
        } else if is_set && is(arg, "keepttl") && !opts.persist && opts.expire.is_none() {
            opts.keep_ttl = true;
        } else if !is_set && is(arg, "persist") && opts.expire.is_none() {
            opts.persist = true;
        } else if let (Some(kind), Some(value)) = (ExpireKind::from_keyword(arg), next) {
            let other_kind = opts.expire.is_some_and(|e| e.kind != kind);
            if opts.keep_ttl || opts.persist || other_kind {
                return Err(CommandError::Syntax);
            }
            opts.expire = Some(ExpireArg { kind, arg: value });
            i += 1;
        } else {
            return Err(CommandError::Syntax);
        }
        i += 1;
    }
    Ok(opts)
}

/// Whether `condition` lets SET write, given the key's current string (None when missing).
fn condition_holds(condition: Condition<'_>, current: Option<&[u8]>) -> bool {
    match condition {
        Condition::Always => true,
        Condition::IfAbsent => current.is_none(),
        Condition::IfPresent => current.is_some(),
        Condition::IfEqual(v) => current == Some(v),
        Condition::IfNotEqual(v) => current != Some(v),
        Condition::IfDigestEqual(d) => current.is_some_and(|c| digest::digest_of(c) == d),
        Condition::IfDigestNotEqual(d) => current.is_none_or(|c| digest::digest_of(c) != d),
    }
}

fn set(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CommandResult {
    let now = ctx.now_ms;
    let opts = parse_extended(argv, 3, OptionsOf::Set)?;
    let expiry = match opts.expire {
        Some(e) => Expiry::At(e.kind.deadline(e.arg, now, "set")?),
        None if opts.keep_ttl => Expiry::Keep,
        None => Expiry::Clear,
    };
    if opts.reply == ReplyWith::OldValue {
        crate::pubsub::reply_before_events(ctx.client);
    }
    let (key, value) = (&argv[1], &argv[2]);
    let (shard, hash) = ctx.shard(key);
    // A plain SET (no GET, no condition, no KEEPTTL) needs nothing of the old entry:
    // `insert_str`'s one probe finds it, and expires it if it is due, as the lookup would.
    let plain = opts.reply == ReplyWith::Status
        && !opts.keep_ttl
        && matches!(opts.condition, Condition::Always);
    // SET ... GET reads the key like GET does (it counts as a keyspace hit or miss).
    let existing = match opts.reply {
        _ if plain => None,
        ReplyWith::OldValue => shard.get_read(hash, key, now),
        ReplyWith::Status => shard.get_mut(hash, key, now),
    };
    let (old_value, old_deadline, allowed) = match existing {
        None => (None, None, condition_holds(opts.condition, None)),
        Some(entry) => {
            // Only GET and the value conditions look at the old value, and so its type.
            let needs_value = opts.reply == ReplyWith::OldValue
                || matches!(
                    opts.condition,
                    Condition::IfEqual(_)
                        | Condition::IfNotEqual(_)
                        | Condition::IfDigestEqual(_)
                        | Condition::IfDigestNotEqual(_)
                );
            let current = if needs_value {
                Some(as_str(entry.value())?)
            } else {
                None
            };
            let allowed = match current {
                Some(current) => condition_holds(opts.condition, Some(current)),
                None => condition_holds(opts.condition, Some(&[])),
            };
            let old = match opts.reply {
                ReplyWith::OldValue => current.map(Bytes::copy_from_slice),
                ReplyWith::Status => None,
            };
            (old, entry.expire_at_ms(), allowed)
        }
    };
    if allowed {
        let deadline = match expiry {
            Expiry::Clear => None,
            Expiry::Keep => old_deadline,
            Expiry::At(at) => Some(at),
        };
        let created = shard.insert_str(hash, key, value, deadline, now);
        let db = ctx.db();
        ctx.key_changed(db, key);
        if ctx.logging() && argv.len() > 3 {
            // The effect, not the request: relative times (EX, PX), KEEPTTL and the IFEQ-style
            // conditions become plain SET with the resulting absolute deadline. A plain
            // `SET k v` is its own effect and is logged as requested.
            ctx.propagate(set_effect(key, value, deadline));
        }
        if created {
            ctx.notify(notify::NEW, "new", db, key);
        }
        ctx.notify(notify::STRING, "set", db, key);
        if matches!(expiry, Expiry::At(_)) {
            ctx.notify(notify::GENERIC, "expire", db, key);
        }
    }
    match (opts.reply, allowed) {
        (ReplyWith::OldValue, _) => Ok(old_value.map_or(Reply::Nil, Reply::Bulk)),
        (ReplyWith::Status, false) => Ok(Reply::Nil),
        (ReplyWith::Status, true) => Ok(Reply::Ok),
    }
}

/// `SET key value [PXAT deadline]`: what a write of a whole string value logs.
pub fn set_effect(key: &[u8], value: &[u8], deadline: Option<u64>) -> Vec<Bytes> {
    match deadline {
        None => crate::aof::effects::argv(&[b"SET", key, value]),
        Some(at) => {
            crate::aof::effects::argv(&[b"SET", key, value, b"PXAT", at.to_string().as_bytes()])
        }
    }
}

fn setnx(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CommandResult {
    let now = ctx.now_ms;
    let key = &argv[1];
    let (shard, hash) = ctx.shard(key);
    if shard.contains(hash, key, now) {
        return Ok(Reply::Int(0));
    }
    shard.insert_str(hash, key, &argv[2], None, now);
    let db = ctx.db();
    ctx.key_changed(db, key);
    ctx.notify(notify::NEW, "new", db, key);
    ctx.notify(notify::STRING, "set", db, key);
    Ok(Reply::Int(1))
}

/// SETEX / PSETEX: `key expire value`.
fn set_with_expire(
    ctx: &mut Ctx<'_>,
    argv: &[Bytes],
    kind: ExpireKind,
    cmd: &str,
) -> CommandResult {
    let now = ctx.now_ms;
    let deadline = kind.deadline(&argv[2], now, cmd)?;
    let key = &argv[1];
    let (shard, hash) = ctx.shard(key);
    let created = shard.insert_str(hash, key, &argv[3], Some(deadline), now);
    let db = ctx.db();
    ctx.key_changed(db, key);
    if ctx.logging() {
        ctx.propagate(set_effect(key, &argv[3], Some(deadline)));
    }
    if created {
        ctx.notify(notify::NEW, "new", db, key);
    }
    ctx.notify(notify::STRING, "set", db, key);
    ctx.notify(notify::GENERIC, "expire", db, key);
    Ok(Reply::Ok)
}

fn setex(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CommandResult {
    set_with_expire(ctx, argv, ExpireKind::Seconds, "setex")
}

fn psetex(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CommandResult {
    set_with_expire(ctx, argv, ExpireKind::Millis, "psetex")
}

fn getset(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CommandResult {
    crate::pubsub::reply_before_events(ctx.client);
    let now = ctx.now_ms;
    let key = &argv[1];
    let (shard, hash) = ctx.shard(key);
    let old = match shard.get_read(hash, key, now) {
        None => None,
        Some(entry) => Some(Bytes::copy_from_slice(as_str(entry.value())?)),
    };
    let created = shard.insert_str(hash, key, &argv[2], None, now);
    let db = ctx.db();
    ctx.key_changed(db, key);
    if created {
        ctx.notify(notify::NEW, "new", db, key);
    }
    ctx.notify(notify::STRING, "set", db, key);
    Ok(old.map_or(Reply::Nil, Reply::Bulk))
}

fn getdel(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CommandResult {
    let now = ctx.now_ms;
    let key = &argv[1];
    let (shard, hash) = ctx.shard(key);
    let value = match shard.get_read(hash, key, now) {
        None => return Ok(Reply::Nil),
        Some(entry) => Bytes::copy_from_slice(as_str(entry.value())?),
    };
    shard.remove(hash, key, now);
    crate::pubsub::reply_before_events(ctx.client);
    let db = ctx.db();
    ctx.key_changed(db, key);
    ctx.propagate(crate::aof::effects::argv(&[b"DEL", key]));
    ctx.notify(notify::GENERIC, "del", db, key);
    Ok(Reply::Bulk(value))
}

fn getex(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CommandResult {
    let now = ctx.now_ms;
    let opts = parse_extended(argv, 2, OptionsOf::Getex)?;
    let key = &argv[1];
    let (shard, hash) = ctx.shard(key);
    let (value, had_deadline) = match shard.get_read(hash, key, now) {
        None => return Ok(Reply::Nil),
        Some(entry) => (
            Bytes::copy_from_slice(as_str(entry.value())?),
            entry.expire_at_ms().is_some(),
        ),
    };
    // Redis validates the expire argument only once the key is known to exist.
    let mut effect: Option<Vec<Bytes>> = None;
    let event = match opts.expire {
        Some(e) => {
            let deadline = e.kind.deadline(e.arg, now, "getex")?;
            if e.kind.is_absolute()
                && deadline <= now
                && !shard.tunables.expiry.replica_keeps_expired()
            {
                shard.remove(hash, key, now);
                effect = Some(crate::aof::effects::argv(&[b"DEL", key]));
                Some("del")
            } else {
                shard.set_expiry(hash, key, Some(deadline), now);
                effect = Some(crate::aof::effects::argv(&[
                    b"PEXPIREAT",
                    key,
                    deadline.to_string().as_bytes(),
                ]));
                Some("expire")
            }
        }
        None if opts.persist && had_deadline => {
            effect = Some(crate::aof::effects::argv(&[b"PERSIST", key]));
            shard.set_expiry(hash, key, None, now).then_some("persist")
        }
        None => None,
    };
    if let Some(effect) = effect.filter(|_| event.is_some()) {
        ctx.propagate(effect);
    }
    if let Some(event) = event {
        crate::pubsub::reply_before_events(ctx.client);
        let db = ctx.db();
        ctx.key_changed(db, key);
        ctx.notify(notify::GENERIC, event, db, key);
    }
    Ok(Reply::Bulk(value))
}

fn mget(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CommandResult {
    let now = ctx.now_ms;
    let mut out = Vec::with_capacity(argv.len() - 1);
    for key in &argv[1..] {
        let (shard, hash) = ctx.shard(key);
        let reply = match shard.get_read(hash, key, now) {
            Some(entry) => match as_str(entry.value()) {
                Ok(bytes) => Reply::Bulk(Bytes::copy_from_slice(bytes)),
                Err(_) => Reply::Nil,
            },
            None => Reply::Nil,
        };
        out.push(reply);
    }
    Ok(Reply::Array(out))
}

/// Whether MSETNX refuses when a key exists.
#[derive(Clone, Copy, PartialEq, Eq)]
enum MsetMode {
    Always,
    OnlyIfNoneExist,
}

fn mset_generic(ctx: &mut Ctx<'_>, argv: &[Bytes], mode: MsetMode) -> CommandResult {
    if argv.len().is_multiple_of(2) {
        return Err(CommandError::Arity(
            if mode == MsetMode::Always {
                "mset"
            } else {
                "msetnx"
            }
            .to_string(),
        ));
    }
    let now = ctx.now_ms;
    if mode == MsetMode::OnlyIfNoneExist {
        for pair in argv[1..].chunks_exact(2) {
            let (shard, hash) = ctx.shard(&pair[0]);
            if shard.contains(hash, &pair[0], now) {
                return Ok(Reply::Int(0));
            }
        }
    }
    let db = ctx.db();
    for pair in argv[1..].chunks_exact(2) {
        let (shard, hash) = ctx.shard(&pair[0]);
        let created = shard.insert_str(hash, &pair[0], &pair[1], None, now);
        ctx.key_changed(db, &pair[0]);
        if created {
            ctx.notify(notify::NEW, "new", db, &pair[0]);
        }
        ctx.notify(notify::STRING, "set", db, &pair[0]);
    }
    Ok(match mode {
        MsetMode::Always => Reply::Ok,
        MsetMode::OnlyIfNoneExist => Reply::Int(1),
    })
}

fn mset(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CommandResult {
    mset_generic(ctx, argv, MsetMode::Always)
}

fn msetnx(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CommandResult {
    mset_generic(ctx, argv, MsetMode::OnlyIfNoneExist)
}

/// The length of the string at `key` without counting a hit or miss (Redis's
/// `lookupKeyWrite`): `None` when missing, WRONGTYPE for another type.
fn string_len_for_write(ctx: &mut Ctx<'_>, key: &[u8]) -> Result<Option<usize>, CommandError> {
    let now = ctx.now_ms;
    let (shard, hash) = ctx.shard(key);
    match shard.get_mut(hash, key, now).map(|e| e.value()) {
        None => Ok(None),
        Some(ValueRef::Str(bytes)) => Ok(Some(bytes.len())),
        Some(_) => Err(CommandError::WrongType),
    }
}

/// APPEND changes the string in place, in its growable buffer (amortised O(1) per call, as
/// Redis's sds; the value reports `raw` afterwards, as in Redis).
fn append(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CommandResult {
    let now = ctx.now_ms;
    let max = max_string_len(ctx);
    let (key, tail) = (&argv[1], &argv[2]);
    let existing = string_len_for_write(ctx, key)?;
    let (shard, hash) = ctx.shard(key);
    let len = match existing {
        Some(len) => {
            check_string_length(len as u64, tail.len() as u64, max)?;
            shard
                .modify_str(hash, key, now, |buf| {
                    let at = buf.len();
                    grow_string(buf, at + tail.len());
                    buf[at..].copy_from_slice(tail);
                    buf.len()
                })
                .flatten()
                .expect("checked to be a string")
        }
        None => {
            // A new key takes the argument as is, even empty (Redis creates an empty string).
            shard.insert_str(hash, key, tail, None, now);
            ctx.notify(notify::NEW, "new", ctx.client.db, key);
            tail.len()
        }
    };
    let db = ctx.db();
    ctx.key_changed(db, key);
    ctx.notify(notify::STRING, "append", db, key);
    Ok(Reply::Int(len as i64))
}

fn strlen(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CommandResult {
    let now = ctx.now_ms;
    let (shard, hash) = ctx.shard(&argv[1]);
    match shard.get_read(hash, &argv[1], now) {
        None => Ok(Reply::Int(0)),
        Some(entry) => Ok(Reply::Int(as_str(entry.value())?.len() as i64)),
    }
}

/// GETRANGE and SUBSTR: inclusive byte range, negative indexes from the end, clamped.
fn getrange(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CommandResult {
    let start = parse_i64(&argv[2])?;
    let end = parse_i64(&argv[3])?;
    let now = ctx.now_ms;
    let (shard, hash) = ctx.shard(&argv[1]);
    let empty = Reply::Bulk(Bytes::new());
    let Some(entry) = shard.get_read(hash, &argv[1], now) else {
        return Ok(empty);
    };
    let bytes = as_str(entry.value())?;
    if start < 0 && end < 0 && start > end {
        return Ok(empty);
    }
    let len = bytes.len() as i64;
    let from_end = |i: i64| if i < 0 { (len + i).max(0) } else { i };
    let (start, end) = (from_end(start), from_end(end).min(len - 1));
    if len == 0 || start > end {
        return Ok(empty);
    }
    Ok(Reply::Bulk(Bytes::copy_from_slice(
        &bytes[start as usize..=end as usize],
    )))
}

/// SETRANGE changes the string in place like APPEND; a new key is created in a growable
/// buffer (`raw`, as Redis's `sdsnewlen`).
fn setrange(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CommandResult {
    let offset = parse_i64(&argv[2])?;
    if offset < 0 {
        return Err(CommandError::err("offset is out of range"));
    }
    let offset = offset as u64;
    let now = ctx.now_ms;
    let max = max_string_len(ctx);
    let (key, patch) = (&argv[1], &argv[3]);
    let existing = string_len_for_write(ctx, key)?;
    if patch.is_empty() {
        // Nothing to write: the length as it is, and a missing key stays missing.
        return Ok(Reply::Int(existing.unwrap_or(0) as i64));
    }
    check_string_length(offset, patch.len() as u64, max)?;
    let (start, end) = (offset as usize, offset as usize + patch.len());
    let write = |buf: &mut Vec<u8>| {
        grow_string(buf, end);
        buf[start..end].copy_from_slice(patch);
        buf.len()
    };
    let (shard, hash) = ctx.shard(key);
    let len = if existing.is_some() {
        shard
            .modify_str(hash, key, now, write)
            .flatten()
            .expect("checked to be a string")
    } else {
        let mut fresh = vec![0u8; end];
        fresh[start..end].copy_from_slice(patch);
        let len = fresh.len();
        let entry = Entry::new_buf(key, fresh, None, shard.arena());
        shard.insert_entry(hash, entry, now);
        ctx.notify(notify::NEW, "new", ctx.client.db, key);
        len
    };
    let db = ctx.db();
    ctx.key_changed(db, key);
    ctx.notify(notify::STRING, "setrange", db, key);
    Ok(Reply::Int(len as i64))
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
    fn extended_options_follow_redis_flag_rules() {
        let ok = |words: &[&str]| parse_extended(&argv(words), 3, OptionsOf::Set).is_ok();
        assert!(ok(&["set", "k", "v", "EX", "10", "EX", "20"]));
        assert!(ok(&[
            "set", "k", "v", "KEEPTTL", "KEEPTTL", "NX", "NX", "GET"
        ]));
        assert!(ok(&["set", "k", "v", "IFEQ", "a", "GET", "PX", "5"]));
        assert!(!ok(&["set", "k", "v", "EX", "10", "PX", "10"]));
        assert!(!ok(&["set", "k", "v", "NX", "XX"]));
        assert!(!ok(&["set", "k", "v", "NX", "IFEQ", "a"]));
        assert!(!ok(&["set", "k", "v", "IFEQ", "a", "IFNE", "b"]));
        assert!(!ok(&["set", "k", "v", "IFEQ"]));
        assert!(!ok(&["set", "k", "v", "PERSIST"]));
        let getex = |words: &[&str]| parse_extended(&argv(words), 2, OptionsOf::Getex).is_ok();
        assert!(getex(&["getex", "k", "PERSIST", "PERSIST"]));
        assert!(!getex(&["getex", "k", "EX", "1", "PERSIST"]));
        assert!(!getex(&["getex", "k", "NX"]));
        assert!(!getex(&["getex", "k", "KEEPTTL"]));
    }

    #[test]
    fn string_length_cap_checks_overflow() {
        assert!(check_string_length(10, 5, 15).is_ok());
        assert!(check_string_length(10, 6, 15).is_err());
        assert!(check_string_length(u64::MAX, 1, u64::MAX).is_err());
    }
}
