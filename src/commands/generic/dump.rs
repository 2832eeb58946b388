//! DUMP and RESTORE: a key's value as Redis's serialized payload (an RDB value, the 2-byte
//! RDB version and a CRC-64), so keys move between Redis and ferrocache in either direction.
//!
//! RESTORE checks the footer (version and checksum) before it decodes anything, and the
//! decoder checks every declared length against the bytes present before it allocates.

use crate::command;
use crate::engine::args::{is, parse_i64};
use crate::error::CommandError;
use crate::keyspace::Entry;
use crate::protocol::Reply;
use crate::pubsub::notify;
use crate::rdb;
use crate::{
    engine::flags::*, engine::CommandResult, engine::CommandSpec, engine::Ctx, engine::KeySpec,
};
use bytes::Bytes;

pub static COMMANDS: &[CommandSpec] = &[
    command!(
        "dump",
        2,
        READONLY,
        KeySpec::one(),
        &["keyspace", "read", "slow"],
        "generic",
        "2.6.0",
        "Returns a serialized representation of the value stored at a key.",
        dump
    ),
    command!(
        "restore",
        -4,
        WRITE | DENYOOM,
        KeySpec::one(),
        &["keyspace", "write", "slow", "dangerous"],
        "generic",
        "2.6.0",
        "Creates a key from the serialized representation of a value.",
        restore
    ),
    command!(
        "restore-asking",
        -4,
        WRITE | DENYOOM | ASKING,
        KeySpec::one(),
        &["keyspace", "write", "slow", "dangerous"],
        "server",
        "3.0.0",
        "An internal command for migrating keys in a cluster.",
        restore
    ),
];

fn dump(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CommandResult {
    let now_ms = ctx.now_ms;
    let compress = ctx.state.config.get_bool("rdbcompression");
    let (shard, hash) = ctx.shard(&argv[1]);
    Ok(match shard.get_read(hash, &argv[1], now_ms) {
        Some(entry) => Reply::bulk(rdb::write::dump_payload(entry.value(), compress)),
        None => Reply::Nil,
    })
}

/// RESTORE's options after the payload.
#[derive(Default)]
struct RestoreOptions {
    replace: bool,
    absolute_ttl: bool,
    idle_secs: Option<u64>,
    freq: Option<u8>,
}

/// Parses the options as Redis does: IDLETIME and FREQ exclude each other (the second one is
/// a syntax error), and their values are checked as they are met.
fn parse_options(argv: &[Bytes]) -> Result<RestoreOptions, CommandError> {
    let mut opts = RestoreOptions::default();
    let mut i = 4;
    while i < argv.len() {
        let has_value = i + 1 < argv.len();
        let arg = &argv[i];
        if is(arg, "replace") {
            opts.replace = true;
        } else if is(arg, "absttl") {
            opts.absolute_ttl = true;
        } else if is(arg, "idletime") && has_value && opts.freq.is_none() {
            let idle = parse_i64(&argv[i + 1])?;
            if idle < 0 {
                return Err(CommandError::err("Invalid IDLETIME value, must be >= 0"));
            }
            opts.idle_secs = Some(idle as u64);
            i += 1;
        } else if is(arg, "freq") && has_value && opts.idle_secs.is_none() {
            let freq = parse_i64(&argv[i + 1])?;
            if !(0..=255).contains(&freq) {
                return Err(CommandError::err(
                    "Invalid FREQ value, must be >= 0 and <= 255",
                ));
            }
            opts.freq = Some(freq as u8);
            i += 1;
        } else {
            return Err(CommandError::Syntax);
        }
        i += 1;
    }
    Ok(opts)
}

fn restore(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CommandResult {
    let opts = parse_options(argv)?;
    let key = &argv[1];
    let now_ms = ctx.now_ms;
    let db = ctx.db();
    let exists = {
        let (shard, hash) = ctx.shard(key);
        shard.contains(hash, key, now_ms)
    };
    if exists && !opts.replace {
        return Err(CommandError::other(
            "BUSYKEY Target key name already exists.",
        ));
    }
    let ttl = parse_i64(&argv[2])?;
    if ttl < 0 {
        return Err(CommandError::err("Invalid TTL value, must be >= 0"));
    }
    let Some(body) = rdb::read::verify_dump_payload(
        &argv[3],
        ctx.state
            .rdb
            .skip_dump_checksum
            .load(std::sync::atomic::Ordering::Relaxed),
    ) else {
        return Err(CommandError::err(
            "DUMP payload version or checksum are wrong",
        ));
    };
    let bad_format = || CommandError::err("Bad data format");
    let decoded = rdb::read::read_dump_value(body).map_err(|_| bad_format())?;
    if decoded.is_empty_aggregate() {
        return Err(bad_format());
    }
    let limits = rdb::values::Limits::from_config(&ctx.state.config);
    let value = rdb::values::to_value(decoded, &limits).map_err(|_| bad_format())?;
    let deadline = match (ttl, opts.absolute_ttl) {
        (0, _) => None,
        (at, true) => Some(at as u64),
        (after, false) => Some(now_ms.saturating_add(after as u64)),
    };
    let (shard, hash) = ctx.shard(key);
    let deleted = opts.replace && shard.remove(hash, key, now_ms).is_some();
    // A replica keeps what its primary sends, past deadline or not (Redis's checkAlreadyExpired).
    if deadline.is_some_and(|at| at <= now_ms) && !shard.tunables.expiry.replica_keeps_expired() {
        // Already expired: nothing is created; a replaced key is gone (Redis logs a DEL).
        if deleted {
            ctx.key_changed(db, key);
            ctx.notify(notify::GENERIC, "del", db, key);
            ctx.propagate(vec![Bytes::from_static(b"DEL"), key.clone()]);
        }
        return Ok(Reply::Ok);
    }
    let mut entry = Entry::new(key, value, deadline, shard.arena());
    if let Some(access) = rdb::loaded_access(opts.idle_secs, opts.freq, now_ms) {
        entry.set_access(access);
    }
    shard.insert_entry(hash, entry, now_ms);
    ctx.key_changed(db, key);
    ctx.notify(notify::GENERIC, "restore", db, key);
    if let (Some(at), false) = (deadline, opts.absolute_ttl) {
        // The AOF gets the absolute deadline, so replaying later does not extend the TTL.
        let mut effect = argv.to_vec();
        effect[2] = Bytes::from(at.to_string());
        effect.push(Bytes::from_static(b"ABSTTL"));
        ctx.propagate(effect);
    }
    Ok(Reply::Ok)
}
