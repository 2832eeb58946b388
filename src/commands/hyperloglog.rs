//! HyperLogLog commands: Redis's `hyperloglog` group (PFADD PFCOUNT PFMERGE PFDEBUG
//! PFSELFTEST). The representation and its algorithms are in `keyspace::types::hyperloglog`;
//! this file finds and checks the values, changes them in place (`Shard::modify_str`) and maps
//! outcomes to replies, events and AOF effects.

use crate::command;
use crate::engine::args::is;
use crate::error::CommandError;
use crate::keyspace::types::hyperloglog::{self as hll, Corrupt};
use crate::keyspace::{Entry, ValueRef};
use crate::protocol::Reply;
use crate::pubsub::notify;
use crate::{
    engine::flags::*, engine::CommandResult, engine::CommandSpec, engine::Ctx, engine::KeySpec,
};
use bytes::Bytes;

const fn cx(spec: CommandSpec, complexity: &'static str) -> CommandSpec {
    CommandSpec { complexity, ..spec }
}

const PFDEBUG_KEY: KeySpec = KeySpec::Range {
    first: 2,
    last: 2,
    step: 1,
};

pub static COMMANDS: &[CommandSpec] = &[
    cx(command!("pfadd", -2, WRITE | DENYOOM | FAST, KeySpec::one(), &["hyperloglog", "fast"], "hyperloglog", "2.8.9", "Adds elements to a HyperLogLog key. Creates the key if it doesn't exist.", pfadd), "O(1) to add every element."),
    cx(command!("pfcount", -2, READONLY | MAY_REPLICATE, KeySpec::all_from_first(), &["hyperloglog", "slow"], "hyperloglog", "2.8.9", "Returns the approximated cardinality of the set(s) observed by the HyperLogLog key(s).", pfcount), "O(1) with a very small average constant time when called with a single key. O(N) with N being the number of keys, and much bigger constant times, when called with multiple keys."),
    cx(command!("pfmerge", -2, WRITE | DENYOOM, KeySpec::all_from_first(), &["hyperloglog", "slow"], "hyperloglog", "2.8.9", "Merges one or more HyperLogLog values into a single key.", pfmerge), "O(N) to merge N HyperLogLogs, but with high constant times."),
    cx(command!("pfdebug", 3, WRITE | DENYOOM | ADMIN, PFDEBUG_KEY, &["hyperloglog", "admin", "slow", "dangerous"], "hyperloglog", "2.8.9", "Internal commands for debugging HyperLogLog values.", pfdebug), "N/A"),
    cx(command!("pfselftest", 1, ADMIN, KeySpec::None, &["hyperloglog", "admin", "slow", "dangerous"], "hyperloglog", "2.8.9", "An internal command for testing HyperLogLog values.", pfselftest), "N/A"),
];

fn not_hll() -> CommandError {
    CommandError::other("WRONGTYPE Key is not a valid HyperLogLog string value.")
}

fn corrupt(_: Corrupt) -> CommandError {
    CommandError::other("INVALIDOBJ Corrupted HLL object detected")
}

fn sparse_max(ctx: &Ctx<'_>) -> usize {
    usize::try_from(ctx.state.config.get_i64("hll-sparse-max-bytes")).unwrap_or(0)
}

/// Whether `key` exists, failing unless it holds a HyperLogLog. `read` counts a keyspace hit
/// or miss (Redis's `lookupKeyRead`).
fn check_hll(ctx: &mut Ctx<'_>, key: &[u8], read: bool) -> Result<Option<bool>, CommandError> {
    let now = ctx.now_ms;
    let (shard, hash) = ctx.shard(key);
    let entry = if read {
        shard.get_read(hash, key, now)
    } else {
        shard.get_mut(hash, key, now)
    };
    match entry.map(|e| e.value()) {
        None => Ok(None),
        Some(ValueRef::Str(bytes)) if hll::is_hll(bytes) => Ok(Some(bytes[4] == hll::DENSE)),
        Some(ValueRef::Str(_)) => Err(not_hll()),
        Some(_) => Err(CommandError::WrongType),
    }
}

/// Runs `f` on the HyperLogLog at `key` in place (the caller checked it is one).
fn modify<R>(ctx: &mut Ctx<'_>, key: &[u8], f: impl FnOnce(&mut Vec<u8>) -> R) -> R {
    let now = ctx.now_ms;
    let (shard, hash) = ctx.shard(key);
    shard
        .modify_str(hash, key, now, f)
        .flatten()
        .expect("checked to be a HyperLogLog")
}

/// Creates an empty HyperLogLog at `key` (raising `new`).
fn create(ctx: &mut Ctx<'_>, key: &[u8]) {
    let now = ctx.now_ms;
    let (shard, hash) = ctx.shard(key);
    let entry = Entry::new_buf(key, hll::new_sparse(), None, shard.arena());
    shard.insert_entry(hash, entry, now);
    let db = ctx.db();
    ctx.notify(notify::NEW, "new", db, key);
}

fn pfadd(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CommandResult {
    let key = &argv[1];
    let mut updated = 0;
    let dense = match check_hll(ctx, key, false)? {
        Some(dense) => dense,
        None => {
            create(ctx, key);
            updated += 1;
            false
        }
    };
    // The option is read only when it can matter (the config store takes a lock).
    let max = if dense { 0 } else { sparse_max(ctx) };
    let created = updated > 0;
    let changed = modify(ctx, key, |value| -> Result<usize, Corrupt> {
        let mut changed = 0;
        for element in &argv[2..] {
            changed += usize::from(hll::add(value, element, max)?);
        }
        if created || changed > 0 {
            hll::invalidate_cache(value);
        }
        Ok(changed)
    });
    updated += changed.map_err(corrupt)?;
    if updated > 0 {
        let db = ctx.db();
        ctx.key_changed(db, key);
        ctx.notify(notify::STRING, "pfadd", db, key);
    }
    Ok(Reply::Int(i64::from(updated > 0)))
}

fn pfcount(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CommandResult {
    if argv.len() > 2 {
        // The cardinality of the union, from the maximum of every register.
        let mut max = vec![0u8; hll::REGISTERS];
        for key in &argv[1..] {
            merge_key(ctx, key, &mut max)?;
        }
        return Ok(Reply::Int(hll::estimate(&hll::raw_histogram(&max)) as i64));
    }
    let key = &argv[1];
    if check_hll(ctx, key, true)?.is_none() {
        return Ok(Reply::Int(0));
    }
    let (count, computed) = modify(ctx, key, |value| -> Result<(u64, bool), Corrupt> {
        if let Some(cached) = hll::cached_count(value) {
            return Ok((cached, false));
        }
        let count = hll::count(value)?;
        hll::set_cached_count(value, count);
        Ok((count, true))
    })
    .map_err(corrupt)?;
    if computed {
        // The cache is part of the value: replicas and the AOF see the same bytes.
        let db = ctx.db();
        ctx.key_changed(db, key);
        ctx.propagate(argv.to_vec());
    }
    Ok(Reply::Int(count as i64))
}

/// Raises `max` to the registers of the HyperLogLog at `key` (a missing key is empty);
/// whether it is dense.
fn merge_key(ctx: &mut Ctx<'_>, key: &[u8], max: &mut [u8]) -> Result<bool, CommandError> {
    let now = ctx.now_ms;
    let (shard, hash) = ctx.shard(key);
    match shard.get_read(hash, key, now).map(|e| e.value()) {
        None => Ok(false),
        Some(ValueRef::Str(bytes)) if hll::is_hll(bytes) => {
            hll::merge_into(max, bytes).map_err(corrupt)?;
            Ok(bytes[4] == hll::DENSE)
        }
        Some(ValueRef::Str(_)) => Err(not_hll()),
        Some(_) => Err(CommandError::WrongType),
    }
}

fn pfmerge(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CommandResult {
    let mut max = vec![0u8; hll::REGISTERS];
    let mut use_dense = false;
    for key in &argv[1..] {
        use_dense |= merge_key(ctx, key, &mut max)?;
    }
    let dest = &argv[1];
    if check_hll(ctx, dest, false)?.is_none() {
        create(ctx, dest);
    }
    let limit = sparse_max(ctx);
    modify(ctx, dest, |value| -> Result<(), Corrupt> {
        if use_dense {
            hll::to_dense(value)?;
        }
        for (i, &m) in max.iter().enumerate() {
            if m > 0 {
                hll::set_register(value, i, m, limit)?;
            }
        }
        hll::invalidate_cache(value);
        Ok(())
    })
    .map_err(corrupt)?;
    let db = ctx.db();
    ctx.key_changed(db, dest);
    // A merge is a mass add: Redis raises `pfadd` for it.
    ctx.notify(notify::STRING, "pfadd", db, dest);
    Ok(Reply::Ok)
}

fn pfdebug(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CommandResult {
    let (sub, key) = (&argv[1], &argv[2]);
    let Some(dense) = check_hll(ctx, key, false)? else {
        return Err(CommandError::err("The specified key does not exist"));
    };
    if is(sub, "getreg") || is(sub, "todense") {
        let converted = modify(ctx, key, hll::to_dense).map_err(corrupt)?;
        if converted {
            // The encoding changed: logged so the AOF keeps the same bytes.
            let db = ctx.db();
            ctx.key_changed(db, key);
        }
        if is(sub, "todense") {
            return Ok(Reply::Int(i64::from(converted)));
        }
        let registers = modify(ctx, key, |value| {
            (0..hll::REGISTERS)
                .map(|i| Reply::Int(i64::from(hll::dense_get(&value[hll::HEADER_BYTES..], i))))
                .collect()
        });
        return Ok(Reply::Array(registers));
    }
    if is(sub, "decode") {
        if dense {
            return Err(CommandError::err("HLL encoding is not sparse"));
        }
        let text = modify(ctx, key, |value| hll::decode(value));
        return Ok(Reply::Bulk(Bytes::from(text)));
    }
    if is(sub, "encoding") {
        return Ok(Reply::status(if dense { "dense" } else { "sparse" }));
    }
    let mut text = b"ERR Unknown PFDEBUG subcommand '".to_vec();
    text.extend_from_slice(sub);
    text.push(b'\'');
    Err(CommandError::Raw(text))
}

fn pfselftest(_ctx: &mut Ctx<'_>, _argv: &[Bytes]) -> CommandResult {
    match hll::self_test() {
        Ok(()) => Ok(Reply::Ok),
        Err(text) => Err(CommandError::other(text)),
    }
}
