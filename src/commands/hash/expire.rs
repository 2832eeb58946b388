//! Hash field expiration (Redis 7.4 and 8.0): HEXPIRE HPEXPIRE HEXPIREAT HPEXPIREAT, HTTL
//! HPTTL HEXPIRETIME HPEXPIRETIME, HPERSIST, HGETDEL, HGETEX and HSETEX.
//!
//! Deadlines live in the hash (`HashValue::set_ttl`, see `keyspace::types::hash`). A field is
//! removed once its deadline has passed: lazily, by `expire_due_fields`, which every hash
//! command runs on its key before anything else (so HGET, HLEN, HGETALL, HRANDFIELD, HSCAN ...
//! never see an expired field), and actively by the shard sweep (`Shard::sweep_step`). Either
//! way the removal raises `hexpired` (and `del` when it emptied the key) and is logged to the
//! AOF as HDEL. Deadlines are logged as HPEXPIREAT with absolute milliseconds.
//!
//! Per-field reply codes (redis.io/commands/hexpire): -2 no such field (or key), 0 the
//! NX/XX/GT/LT condition failed, 1 deadline set, 2 field deleted (deadline not in the future).

use crate::command;
use crate::commands::collection;
use crate::engine::args::{is, parse_i64};
use crate::engine::{flags::*, CommandResult, CommandSpec, Ctx, KeySpec};
use crate::error::CommandError;
use crate::keyspace::types::HashValue;
use crate::keyspace::{ValueMut, ValueRef};
use crate::protocol::Reply;
use crate::pubsub::notify;
use bytes::Bytes;

const fn cx(spec: CommandSpec, complexity: &'static str) -> CommandSpec {
    CommandSpec { complexity, ..spec }
}

const HF: &[&str] = &["hash", "fast"];

pub static COMMANDS: &[CommandSpec] = &[
    cx(command!("hexpire", -6, WRITE | DENYOOM | FAST, KeySpec::one(), HF, "hash", "7.4.0", "Set expiry for hash field using relative time to expire (seconds)", hexpire), "O(N) where N is the number of specified fields"),
    cx(command!("hpexpire", -6, WRITE | DENYOOM | FAST, KeySpec::one(), HF, "hash", "7.4.0", "Set expiry for hash field using relative time to expire (milliseconds)", hpexpire), "O(N) where N is the number of specified fields"),
    cx(command!("hexpireat", -6, WRITE | DENYOOM | FAST, KeySpec::one(), HF, "hash", "7.4.0", "Set expiry for hash field using an absolute Unix timestamp (seconds)", hexpireat), "O(N) where N is the number of specified fields"),
    cx(command!("hpexpireat", -6, WRITE | DENYOOM | FAST, KeySpec::one(), HF, "hash", "7.4.0", "Set expiry for hash field using an absolute Unix timestamp (milliseconds)", hpexpireat), "O(N) where N is the number of specified fields"),
    cx(command!("httl", -5, READONLY | FAST, KeySpec::one(), HF, "hash", "7.4.0", "Returns the TTL in seconds of a hash field.", httl), "O(N) where N is the number of specified fields"),
    cx(command!("hpttl", -5, READONLY | FAST, KeySpec::one(), HF, "hash", "7.4.0", "Returns the TTL in milliseconds of a hash field.", hpttl), "O(N) where N is the number of specified fields"),
    cx(command!("hexpiretime", -5, READONLY | FAST, KeySpec::one(), HF, "hash", "7.4.0", "Returns the expiration time of a hash field as a Unix timestamp, in seconds.", hexpiretime), "O(N) where N is the number of specified fields"),
    cx(command!("hpexpiretime", -5, READONLY | FAST, KeySpec::one(), HF, "hash", "7.4.0", "Returns the expiration time of a hash field as a Unix timestamp, in msec.", hpexpiretime), "O(N) where N is the number of specified fields"),
    cx(command!("hpersist", -5, WRITE | FAST, KeySpec::one(), HF, "hash", "7.4.0", "Removes the expiration time for each specified field", hpersist), "O(N) where N is the number of specified fields"),
    cx(command!("hgetdel", -5, WRITE | FAST, KeySpec::one(), HF, "hash", "8.0.0", "Returns the value of a field and deletes it from the hash.", hgetdel), "O(N) where N is the number of specified fields"),
    cx(command!("hgetex", -5, WRITE | FAST, KeySpec::one(), HF, "hash", "8.0.0", "Get the value of one or more fields of a given hash key, and optionally set their expiration.", hgetex), "O(N) where N is the number of specified fields"),
    cx(command!("hsetex", -6, WRITE | DENYOOM | FAST, KeySpec::one(), HF, "hash", "8.0.0", "Set the value of one or more fields of a given hash key, and optionally set their expiration.", hsetex), "O(N) where N is the number of fields being set."),
];

/// Largest field deadline Redis accepts (unix ms): its 48-bit expiry field with two bits kept.
pub const FIELD_DEADLINE_MAX_MS: i64 = ((1i64 << 48) - 1) >> 2;

const NO_FIELD: i64 = -2;
const NO_TTL: i64 = -1;
const CONDITION_FAILED: i64 = 0;
const SET: i64 = 1;
const DELETED: i64 = 2;

/// Removes the fields of the hash at `key` whose deadline has passed (lazy field expiry):
/// raises `hexpired` (and `del` when the key is left empty), marks the key changed and logs
/// the removal as HDEL ahead of the running command's own effects. Other types: nothing.
pub fn expire_due_fields(ctx: &mut Ctx<'_>, db: usize, key: &[u8]) {
    // While no hash anywhere has a field deadline, a hash command pays one atomic load here.
    if !crate::keyspace::types::hash::field_ttls_exist() {
        return;
    }
    let now = ctx.now_ms;
    let (shard, hash) = ctx.shard_in(db, key);
    let due = shard
        .get_mut(hash, key, now)
        .is_some_and(|e| matches!(e.value(), ValueRef::Hash(h) if h.has_expired_fields(now)));
    if !due {
        return;
    }
    let Some((gone, deleted)) = shard.modify(hash, key, now, |v| match v {
        ValueMut::Hash(h) => h.remove_expired(now, usize::MAX),
        _ => Vec::new(),
    }) else {
        return;
    };
    shard.stats.expired_subkeys += gone.len() as u64;
    fields_expired(ctx, db, key, &gone, deleted);
}

/// What follows the removal of expired fields from `key`: WATCH, events, the AOF record.
pub fn fields_expired(
    ctx: &mut Ctx<'_>,
    db: usize,
    key: &[u8],
    fields: &[Box<[u8]>],
    deleted: bool,
) {
    if fields.is_empty() {
        return;
    }
    ctx.key_changed(db, key);
    ctx.notify(notify::HASH, "hexpired", db, key);
    if deleted {
        ctx.notify(notify::GENERIC, "del", db, key);
    }
    if ctx.logging() {
        // A side record: it does not replace the running command's own.
        let mut argv = vec![Bytes::from_static(b"HDEL"), Bytes::copy_from_slice(key)];
        argv.extend(fields.iter().map(|f| Bytes::copy_from_slice(f)));
        ctx.effects.records.push((db, argv));
    }
}

/// The hash at `key` for reading, after lazy field expiry.
fn read_hash<'c>(ctx: &'c mut Ctx<'_>, key: &[u8]) -> Result<Option<&'c HashValue>, CommandError> {
    let db = ctx.db();
    expire_due_fields(ctx, db, key);
    collection::read_in::<HashValue>(ctx, key)
}

/// `FIELDS numfields field ...` starting at `argv[at]` (the FIELDS word), with the fields taking
/// every remaining argument times `per_field`.
fn fields_block(argv: &[Bytes], at: usize, per_field: usize) -> Result<&[Bytes], CommandError> {
    if !argv.get(at).is_some_and(|a| is(a, "fields")) {
        return Err(CommandError::err(
            "Mandatory argument FIELDS is missing or not at the right position",
        ));
    }
    let n = argv
        .get(at + 1)
        .and_then(|a| parse_i64(a).ok())
        .filter(|n| *n > 0)
        .ok_or_else(|| CommandError::err("Parameter `numFields` should be greater than 0"))?;
    let rest = &argv[(at + 2).min(argv.len())..];
    if u64::try_from(n).ok() != Some((rest.len() / per_field) as u64)
        || !rest.len().is_multiple_of(per_field)
    {
        return Err(CommandError::err(
            "The `numfields` parameter must match the number of arguments",
        ));
    }
    Ok(rest)
}

fn codes(codes: Vec<i64>) -> Reply {
    Reply::Array(codes.into_iter().map(Reply::Int).collect())
}

fn name_of(argv: &[Bytes]) -> String {
    String::from_utf8_lossy(&argv[0]).to_lowercase()
}

#[derive(Clone, Copy, PartialEq)]
enum Cond {
    Always,
    Nx,
    Xx,
    Gt,
    Lt,
}

impl Cond {
    fn allows(self, current: Option<u64>, new: u64) -> bool {
        match (self, current) {
            (Cond::Always, _) => true,
            (Cond::Nx, c) => c.is_none(),
            (Cond::Xx, c) => c.is_some(),
            // No deadline counts as an infinite one.
            (Cond::Gt, None) => false,
            (Cond::Gt, Some(c)) => new > c,
            (Cond::Lt, None) => true,
            (Cond::Lt, Some(c)) => new < c,
        }
    }
}

/// Applies `deadline` to `fields` of the hash at `key` under `cond`: the per-field codes, the
/// fields given the deadline and the fields deleted (deadline not after `now`), and whether the
/// key was left empty.
struct Applied {
    codes: Vec<i64>,
    set: Vec<Bytes>,
    deleted: Vec<Bytes>,
    key_deleted: bool,
}

fn apply_deadline(
    ctx: &mut Ctx<'_>,
    key: &[u8],
    fields: &[Bytes],
    deadline: u64,
    cond: Cond,
) -> Result<Option<Applied>, CommandError> {
    let db = ctx.db();
    let now = ctx.now_ms;
    let written = collection::write::<HashValue, _>(ctx, db, key, false, |h| {
        let mut applied = Applied {
            codes: Vec::with_capacity(fields.len()),
            set: Vec::new(),
            deleted: Vec::new(),
            key_deleted: false,
        };
        for f in fields {
            if !h.contains(f) {
                applied.codes.push(NO_FIELD);
            } else if !cond.allows(h.ttl_of(f), deadline) {
                applied.codes.push(CONDITION_FAILED);
            } else if deadline <= now {
                h.remove(f);
                applied.deleted.push(f.clone());
                applied.codes.push(DELETED);
            } else {
                h.set_ttl(f, deadline);
                applied.set.push(f.clone());
                applied.codes.push(SET);
            }
        }
        Ok(applied)
    })?;
    Ok(written.map(|w| Applied {
        key_deleted: w.deleted,
        ..w.result
    }))
}

/// Events, WATCH and the AOF records of an `apply_deadline`.
fn after_deadline(ctx: &mut Ctx<'_>, key: &Bytes, deadline: u64, applied: &Applied) {
    let db = ctx.db();
    if applied.set.is_empty() && applied.deleted.is_empty() {
        ctx.propagate_nothing();
        return;
    }
    ctx.key_changed(db, key);
    if !applied.set.is_empty() {
        ctx.notify(notify::HASH, "hexpire", db, key);
        let mut argv = vec![
            Bytes::from_static(b"HPEXPIREAT"),
            key.clone(),
            Bytes::from(deadline.to_string()),
            Bytes::from_static(b"FIELDS"),
            Bytes::from(applied.set.len().to_string()),
        ];
        argv.extend(applied.set.iter().cloned());
        ctx.propagate(argv);
    }
    if !applied.deleted.is_empty() {
        ctx.notify(notify::HASH, "hexpired", db, key);
        let mut argv = vec![Bytes::from_static(b"HDEL"), key.clone()];
        argv.extend(applied.deleted.iter().cloned());
        ctx.propagate(argv);
        if applied.key_deleted {
            ctx.notify(notify::GENERIC, "del", db, key);
        }
    }
}

/// HEXPIRE / HPEXPIRE / HEXPIREAT / HPEXPIREAT key time [NX|XX|GT|LT] FIELDS numfields field...
fn expire_generic(
    ctx: &mut Ctx<'_>,
    argv: &[Bytes],
    seconds: bool,
    absolute: bool,
) -> CommandResult {
    let key = &argv[1];
    let exists = read_hash(ctx, key)?.is_some();
    let mut time = parse_i64(&argv[2])?;
    if time < 0 {
        return Err(CommandError::err("invalid expire time, must be >= 0"));
    }
    if seconds {
        if time > FIELD_DEADLINE_MAX_MS / 1000 {
            return Err(CommandError::InvalidExpire(name_of(argv)));
        }
        time *= 1000;
    }
    let base = if absolute { 0 } else { ctx.now_ms as i64 };
    if time > FIELD_DEADLINE_MAX_MS - base {
        return Err(CommandError::InvalidExpire(name_of(argv)));
    }
    let deadline = (time + base) as u64;
    let (cond, fields_at) = match &argv[3] {
        a if is(a, "nx") => (Cond::Nx, 4),
        a if is(a, "xx") => (Cond::Xx, 4),
        a if is(a, "gt") => (Cond::Gt, 4),
        a if is(a, "lt") => (Cond::Lt, 4),
        _ => (Cond::Always, 3),
    };
    let fields = fields_block(argv, fields_at, 1)?;
    if !exists {
        ctx.propagate_nothing();
        return Ok(codes(vec![NO_FIELD; fields.len()]));
    }
    let applied = apply_deadline(ctx, key, fields, deadline, cond)?.expect("key checked above");
    after_deadline(ctx, key, deadline, &applied);
    Ok(codes(applied.codes))
}

fn hexpire(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CommandResult {
    expire_generic(ctx, argv, true, false)
}

fn hpexpire(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CommandResult {
    expire_generic(ctx, argv, false, false)
}

fn hexpireat(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CommandResult {
    expire_generic(ctx, argv, true, true)
}

fn hpexpireat(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CommandResult {
    expire_generic(ctx, argv, false, true)
}

/// HTTL / HPTTL / HEXPIRETIME / HPEXPIRETIME key FIELDS numfields field ...
fn ttl_generic(ctx: &mut Ctx<'_>, argv: &[Bytes], seconds: bool, absolute: bool) -> CommandResult {
    let now = ctx.now_ms;
    let fields = fields_block(argv, 2, 1)?;
    let Some(h) = read_hash(ctx, &argv[1])? else {
        return Ok(codes(vec![NO_FIELD; fields.len()]));
    };
    Ok(codes(
        fields
            .iter()
            .map(|f| match (h.contains(f), h.ttl_of(f)) {
                (false, _) => NO_FIELD,
                (true, None) => NO_TTL,
                (true, Some(at)) => {
                    let ms = if absolute { at } else { at.saturating_sub(now) } as i64;
                    if seconds {
                        (ms + 999) / 1000
                    } else {
                        ms
                    }
                }
            })
            .collect(),
    ))
}

fn httl(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CommandResult {
    ttl_generic(ctx, argv, true, false)
}

fn hpttl(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CommandResult {
    ttl_generic(ctx, argv, false, false)
}

fn hexpiretime(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CommandResult {
    ttl_generic(ctx, argv, true, true)
}

fn hpexpiretime(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CommandResult {
    ttl_generic(ctx, argv, false, true)
}

/// HPERSIST key FIELDS numfields field ...: -2 no field, -1 no deadline, 1 deadline removed.
fn hpersist(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CommandResult {
    let key = &argv[1];
    let exists = read_hash(ctx, key)?.is_some();
    let fields = fields_block(argv, 2, 1)?;
    if !exists {
        ctx.propagate_nothing();
        return Ok(codes(vec![NO_FIELD; fields.len()]));
    }
    let db = ctx.db();
    let w = collection::write::<HashValue, _>(ctx, db, key, false, |h| {
        Ok(fields
            .iter()
            .map(|f| match (h.contains(f), h.persist(f)) {
                (false, _) => NO_FIELD,
                (true, false) => NO_TTL,
                (true, true) => SET,
            })
            .collect::<Vec<i64>>())
    })?
    .expect("key checked above");
    let persisted: Vec<Bytes> = fields
        .iter()
        .zip(&w.result)
        .filter(|(_, c)| **c == SET)
        .map(|(f, _)| f.clone())
        .collect();
    if persisted.is_empty() {
        ctx.propagate_nothing();
    } else {
        ctx.key_changed(db, key);
        ctx.notify(notify::HASH, "hpersist", db, key);
        let mut argv = vec![
            Bytes::from_static(b"HPERSIST"),
            key.clone(),
            Bytes::from_static(b"FIELDS"),
            Bytes::from(persisted.len().to_string()),
        ];
        argv.extend(persisted);
        ctx.propagate(argv);
    }
    Ok(codes(w.result))
}

/// HGETDEL key FIELDS numfields field ...: the values (nil when missing), the fields deleted.
fn hgetdel(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CommandResult {
    let key = &argv[1];
    let exists = read_hash(ctx, key)?.is_some();
    let fields = fields_block(argv, 2, 1)?;
    if !exists {
        ctx.propagate_nothing();
        return Ok(Reply::Array(vec![Reply::Nil; fields.len()]));
    }
    let db = ctx.db();
    let w = collection::write::<HashValue, _>(ctx, db, key, false, |h| {
        let mut removed = Vec::new();
        let values: Vec<Reply> = fields
            .iter()
            .map(|f| match h.get(f).map(Bytes::copy_from_slice) {
                Some(v) => {
                    h.remove(f);
                    removed.push(f.clone());
                    Reply::Bulk(v)
                }
                None => Reply::Nil,
            })
            .collect();
        Ok((values, removed))
    })?
    .expect("key checked above");
    let (values, removed) = w.result;
    if removed.is_empty() {
        ctx.propagate_nothing();
    } else {
        ctx.key_changed(db, key);
        ctx.notify(notify::HASH, "hgetdel", db, key);
        if w.deleted {
            ctx.notify(notify::GENERIC, "del", db, key);
        }
        let mut argv = vec![Bytes::from_static(b"HDEL"), key.clone()];
        argv.extend(removed);
        ctx.propagate(argv);
    }
    Ok(Reply::Array(values))
}

/// The expiry option of HGETEX / HSETEX.
#[derive(Clone, Copy, PartialEq)]
enum ExpiryOpt {
    None,
    At(u64),
    Persist,
    KeepTtl,
}

/// Parses EX/PX/EXAT/PXAT `value` into an absolute deadline, with `cmd`'s expire-time error.
fn deadline_of(ctx: &Ctx<'_>, word: &[u8], value: &[u8], cmd: &str) -> Result<u64, CommandError> {
    let n = parse_i64(value)?;
    let invalid = || CommandError::InvalidExpire(cmd.to_string());
    if n <= 0 {
        return Err(invalid());
    }
    let seconds = is(word, "ex") || is(word, "exat");
    let ms = if seconds {
        if n > FIELD_DEADLINE_MAX_MS / 1000 {
            return Err(invalid());
        }
        n * 1000
    } else {
        n
    };
    let base = if is(word, "ex") || is(word, "px") {
        ctx.now_ms as i64
    } else {
        0
    };
    if ms > FIELD_DEADLINE_MAX_MS - base {
        return Err(invalid());
    }
    Ok((ms + base) as u64)
}

/// Parses `[options] FIELDS numfields ...` from `argv[2..]`: the expiry option, the FNX/FXX
/// flag (HSETEX) and the fields block.
fn parse_ex_options<'a>(
    ctx: &Ctx<'_>,
    argv: &'a [Bytes],
    setex: bool,
) -> Result<(ExpiryOpt, Cond, &'a [Bytes]), CommandError> {
    let cmd = name_of(argv);
    let mut expiry = ExpiryOpt::None;
    let mut cond = Cond::Always;
    let mut i = 2;
    while i < argv.len() {
        let a = &argv[i];
        if is(a, "fields") {
            let fields = fields_block(argv, i, if setex { 2 } else { 1 })?;
            return Ok((expiry, cond, fields));
        }
        let word = [&b"ex"[..], b"px", b"exat", b"pxat"]
            .into_iter()
            .find(|w| a.eq_ignore_ascii_case(w));
        if let Some(word) = word {
            if expiry != ExpiryOpt::None {
                return Err(CommandError::Syntax);
            }
            let value = argv.get(i + 1).ok_or(CommandError::Syntax)?;
            expiry = ExpiryOpt::At(deadline_of(ctx, word, value, &cmd)?);
            i += 2;
            continue;
        }
        if !setex && is(a, "persist") && expiry == ExpiryOpt::None {
            expiry = ExpiryOpt::Persist;
        } else if setex && is(a, "keepttl") && expiry == ExpiryOpt::None {
            expiry = ExpiryOpt::KeepTtl;
        } else if setex && is(a, "fnx") && cond == Cond::Always {
            cond = Cond::Nx;
        } else if setex && is(a, "fxx") && cond == Cond::Always {
            cond = Cond::Xx;
        } else {
            return Err(CommandError::Syntax);
        }
        i += 1;
    }
    Err(CommandError::err(
        "Mandatory argument FIELDS is missing or not at the right position",
    ))
}

/// HGETEX key [EX s | PX ms | EXAT ts | PXAT ms-ts | PERSIST] FIELDS numfields field ...
fn hgetex(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CommandResult {
    let key = &argv[1];
    let exists = read_hash(ctx, key)?.is_some();
    let (expiry, _, fields) = parse_ex_options(ctx, argv, false)?;
    if !exists {
        ctx.propagate_nothing();
        return Ok(Reply::Array(vec![Reply::Nil; fields.len()]));
    }
    let values: Vec<Reply> = {
        let h = collection::peek_in::<HashValue>(ctx, key)?.expect("key checked above");
        fields
            .iter()
            .map(|f| {
                h.get(f)
                    .map_or(Reply::Nil, |v| Reply::Bulk(Bytes::copy_from_slice(v)))
            })
            .collect()
    };
    match expiry {
        ExpiryOpt::At(deadline) => {
            let applied = apply_deadline(ctx, key, fields, deadline, Cond::Always)?
                .expect("key checked above");
            after_deadline(ctx, key, deadline, &applied);
        }
        ExpiryOpt::Persist => {
            let db = ctx.db();
            let w = collection::write::<HashValue, _>(ctx, db, key, false, |h| {
                Ok(fields
                    .iter()
                    .filter(|f| h.persist(f))
                    .cloned()
                    .collect::<Vec<Bytes>>())
            })?
            .expect("key checked above");
            if w.result.is_empty() {
                ctx.propagate_nothing();
            } else {
                ctx.key_changed(db, key);
                ctx.notify(notify::HASH, "hpersist", db, key);
                let mut argv = vec![
                    Bytes::from_static(b"HPERSIST"),
                    key.clone(),
                    Bytes::from_static(b"FIELDS"),
                    Bytes::from(w.result.len().to_string()),
                ];
                argv.extend(w.result);
                ctx.propagate(argv);
            }
        }
        ExpiryOpt::None | ExpiryOpt::KeepTtl => ctx.propagate_nothing(),
    }
    Ok(Reply::Array(values))
}

/// HSETEX key [FNX | FXX] [EX s | PX ms | EXAT ts | PXAT ms-ts | KEEPTTL] FIELDS numfields
/// field value ...: 1 when every field was set, 0 when the FNX/FXX condition kept them all.
fn hsetex(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CommandResult {
    let key = &argv[1];
    let db = ctx.db();
    expire_due_fields(ctx, db, key);
    let (expiry, cond, pairs) = parse_ex_options(ctx, argv, true)?;
    let exists = collection::read_in::<HashValue>(ctx, key)?.is_some();
    let limits = crate::commands::hash::limits(ctx);
    let now = ctx.now_ms;
    let longest = pairs.iter().map(Bytes::len).max().unwrap_or(0);
    let w = collection::write::<HashValue, _>(ctx, db, key, true, |h| {
        let ok = match cond {
            Cond::Nx => pairs.chunks_exact(2).all(|p| !h.contains(&p[0])),
            Cond::Xx => pairs.chunks_exact(2).all(|p| h.contains(&p[0])),
            _ => true,
        };
        if !ok {
            return Ok(false);
        }
        h.prepare(pairs.len() / 2, longest, limits);
        for p in pairs.chunks_exact(2) {
            let keep = (expiry == ExpiryOpt::KeepTtl)
                .then(|| h.ttl_of(&p[0]))
                .flatten();
            h.set(&p[0], &p[1], limits);
            match expiry {
                ExpiryOpt::At(at) if at <= now => {
                    h.remove(&p[0]);
                }
                ExpiryOpt::At(at) => h.set_ttl(&p[0], at),
                _ => {
                    if let Some(at) = keep {
                        h.set_ttl(&p[0], at);
                    }
                }
            }
        }
        Ok(true)
    })?
    .expect("write creates a missing key");
    if !w.result {
        ctx.propagate_nothing();
        return Ok(Reply::Int(0));
    }
    if !exists && !w.deleted {
        ctx.notify(notify::NEW, "new", db, key);
    }
    ctx.key_changed(db, key);
    ctx.notify(notify::HASH, "hset", db, key);
    if let ExpiryOpt::At(at) = expiry {
        let fields: Vec<Bytes> = pairs.chunks_exact(2).map(|p| p[0].clone()).collect();
        if at <= now {
            ctx.notify(notify::HASH, "hexpired", db, key);
            if w.deleted {
                ctx.notify(notify::GENERIC, "del", db, key);
            }
            let mut argv = vec![Bytes::from_static(b"HDEL"), key.clone()];
            argv.extend(fields);
            ctx.propagate(argv);
        } else {
            ctx.notify(notify::HASH, "hexpire", db, key);
            let mut out = vec![Bytes::from_static(b"HSETEX"), key.clone()];
            match cond {
                Cond::Nx => out.push(Bytes::from_static(b"FNX")),
                Cond::Xx => out.push(Bytes::from_static(b"FXX")),
                _ => {}
            }
            out.push(Bytes::from_static(b"PXAT"));
            out.push(Bytes::from(at.to_string()));
            out.push(Bytes::from_static(b"FIELDS"));
            out.push(Bytes::from((pairs.len() / 2).to_string()));
            out.extend(pairs.iter().cloned());
            ctx.propagate(out);
        }
    }
    Ok(Reply::Int(1))
}
