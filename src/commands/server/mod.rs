//! Server commands: DBSIZE FLUSHDB FLUSHALL SWAPDB TIME LASTSAVE SHUTDOWN, and the replies of a
//! standalone Redis without modules (MODULE). CLUSTER is in `cluster.rs`.
//! MEMORY and DEBUG live in `debug.rs`, CLIENT in `client_cmd.rs`.
//!
//! FLUSHDB, FLUSHALL and SWAPDB run alone (ALL_SHARDS: the gate's exclusive section), so no
//! other command sees a half-flushed database or a swap in progress.

pub mod acl;
pub mod aof;
pub mod command;
pub mod config;
pub mod debug;
mod debug_ops;
pub mod info;
pub mod latency;
pub mod lolwut;
pub mod rdb;
pub mod repl_primary;
pub mod replication;
pub mod slowlog;

use crate::command;
use crate::engine::args::is;
use crate::engine::client::ReplyMode;
use crate::error::CommandError;
use crate::keyspace::watch::KeyState;
use crate::keyspace::{KeyHasher, Shard, ShardId};
use crate::protocol::Reply;
use crate::{
    engine::flags::*, engine::CommandResult, engine::CommandSpec, engine::Ctx, engine::KeySpec,
};
use bytes::Bytes;
use std::sync::atomic::Ordering;

pub static COMMANDS: &[CommandSpec] = &[
    command!(
        "dbsize",
        1,
        READONLY | FAST,
        KeySpec::None,
        &["keyspace", "fast"],
        "server",
        "1.0.0",
        "Returns the number of keys in the database.",
        dbsize
    ),
    command!(
        "flushdb",
        -1,
        WRITE | ALL_SHARDS,
        KeySpec::None,
        &["keyspace", "write", "slow", "dangerous"],
        "server",
        "1.0.0",
        "Remove all keys from the current database.",
        flushdb
    ),
    command!(
        "flushall",
        -1,
        WRITE | ALL_SHARDS,
        KeySpec::None,
        &["keyspace", "write", "slow", "dangerous"],
        "server",
        "1.0.0",
        "Removes all keys from all databases.",
        flushall
    ),
    command!(
        "swapdb",
        3,
        WRITE | FAST | ALL_SHARDS,
        KeySpec::None,
        &["keyspace", "write", "fast", "dangerous"],
        "server",
        "4.0.0",
        "Swaps two Redis databases.",
        swapdb
    ),
    command!(
        "time",
        1,
        LOADING | STALE | FAST,
        KeySpec::None,
        &["fast"],
        "server",
        "2.6.0",
        "Returns the server time.",
        time
    ),
    command!(
        "lastsave",
        1,
        LOADING | STALE | FAST,
        KeySpec::None,
        &["admin", "fast", "dangerous"],
        "server",
        "1.0.0",
        "Returns the Unix timestamp of the last successful save to disk.",
        lastsave
    ),
    command!(
        "shutdown",
        -1,
        ADMIN | NOSCRIPT | LOADING | STALE | NO_MULTI | ALLOW_BUSY,
        KeySpec::None,
        &["admin", "slow", "dangerous"],
        "server",
        "1.0.0",
        "Synchronously saves the database(s) to disk and shuts down the Redis server.",
        shutdown
    ),
    container(
        "module",
        "server",
        "4.0.0",
        "A container for module commands.",
        MODULE_SUBCOMMANDS,
    ),
];

/// A command whose second argument names a subcommand; dispatch resolves those itself.
pub(crate) const fn container(
    name: &'static str,
    group: &'static str,
    since: &'static str,
    summary: &'static str,
    subcommands: &'static [CommandSpec],
) -> CommandSpec {
    CommandSpec {
        name,
        arity: -2,
        flags: 0,
        keys: KeySpec::None,
        acl: &["slow"],
        group,
        summary,
        since,
        complexity: "Depends on subcommand.",
        run: crate::engine::subcommands_only,
        subcommands,
    }
}

/// Help text as Redis's `addReplyHelp` sends it, as a command result.
pub(crate) fn help_result(lines: &[&'static str]) -> CommandResult {
    Ok(crate::engine::help_reply(lines))
}

fn dbsize(ctx: &mut Ctx<'_>, _argv: &[Bytes]) -> CommandResult {
    let db = ctx.db();
    let mut total = 0;
    ctx.for_each_shard(db, |_, shard| total += shard.len());
    Ok(Reply::Int(total as i64))
}

/// FLUSHDB / FLUSHALL take `ASYNC` or `SYNC`; both free memory before replying here.
fn check_flush_mode(argv: &[Bytes]) -> Result<(), CommandError> {
    match argv {
        [_] => Ok(()),
        [_, mode] if is(mode, "sync") || is(mode, "async") => Ok(()),
        _ => Err(CommandError::Syntax),
    }
}

fn flush_db(ctx: &mut Ctx<'_>, db: usize) {
    let mut removed = 0;
    let now = ctx.now_ms;
    ctx.for_each_shard(db, |_, shard| {
        removed += shard.len() as u64;
        shard.clear(now);
    });
    ctx.changed += removed;
}

fn flushdb(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CommandResult {
    check_flush_mode(argv)?;
    let db = ctx.db();
    flush_db(ctx, db);
    ctx.state.pubsub.tracking.flush(ctx.state.pubsub_handle());
    Ok(Reply::Ok)
}

fn flushall(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CommandResult {
    check_flush_mode(argv)?;
    for db in 0..ctx.state.keyspace.databases() {
        flush_db(ctx, db);
    }
    ctx.state.pubsub.tracking.flush(ctx.state.pubsub_handle());
    // Redis counts a FLUSHALL as a change even on an empty server (it triggers a save).
    ctx.changed += 1;
    crate::rdb::after_flushall(&ctx.state.rdb_handle());
    Ok(Reply::Ok)
}

fn swapdb(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CommandResult {
    if ctx.state.cluster.enabled() {
        return Err(CommandError::err("SWAPDB is not allowed in cluster mode"));
    }
    let parse = |arg: &[u8], what: &str| {
        crate::engine::args::parse_i64(arg)
            .ok()
            .and_then(|n| i32::try_from(n).ok())
            .ok_or_else(|| CommandError::err(format!("invalid {what} DB index")))
    };
    let first = parse(&argv[1], "first")?;
    let second = parse(&argv[2], "second")?;
    let databases = ctx.state.keyspace.databases();
    let in_range = |n: i32| usize::try_from(n).ok().filter(|&n| n < databases);
    let (Some(a), Some(b)) = (in_range(first), in_range(second)) else {
        return Err(CommandError::DbIndex);
    };
    if a != b {
        swap_databases(ctx, a, b);
        ctx.changed += 1;
    }
    Ok(Reply::Ok)
}

/// Swaps the contents of databases `a` and `b` shard by shard (all shards are held). Before the
/// swap, the clients watching a key of either database are marked by the states the key has on
/// both sides, as Redis's `touchAllWatchedKeysInDb` (a key is in the same shard of every
/// database).
fn swap_databases(ctx: &mut Ctx<'_>, a: usize, b: usize) {
    let now = ctx.now_ms;
    // A shard shaped like the others to carry one side's contents during the three-way swap.
    let mut carrier = Shard::new(KeyHasher::default(), ctx.state.keyspace.tunables.clone());
    for shard in 0..ctx.state.keyspace.shards_per_db() {
        let (ida, idb) = (ShardId { db: a, shard }, ShardId { db: b, shard });
        let watched_a = ctx.with_shard(ida, |s| s.watched_keys());
        let watched_b = ctx.with_shard(idb, |s| s.watched_keys());
        if !watched_a.is_empty() || !watched_b.is_empty() {
            // Each side's watched keys as the other side holds them.
            let in_b = ctx.with_shard(idb, |s| states_of(s, watched_a, now));
            let in_a = ctx.with_shard(ida, |s| states_of(s, watched_b, now));
            ctx.with_shard(ida, |s| {
                s.touch_watched_emptied(|k| state_in(&in_b, k), now)
            });
            ctx.with_shard(idb, |s| {
                s.touch_watched_emptied(|k| state_in(&in_a, k), now)
            });
        }
        ctx.with_shard(ida, |s| s.swap_contents(&mut carrier));
        ctx.with_shard(idb, |s| s.swap_contents(&mut carrier));
        ctx.with_shard(ida, |s| s.swap_contents(&mut carrier));
    }
}

type KeyStates = hashbrown::HashMap<Box<[u8]>, KeyState>;

/// The states in `shard` of `keys`.
fn states_of(shard: &Shard, keys: Vec<Box<[u8]>>, now: u64) -> KeyStates {
    keys.into_iter()
        .map(|key| {
            let state = shard.key_state_of(&key, now);
            (key, state)
        })
        .collect()
}

fn state_in(states: &KeyStates, key: &[u8]) -> KeyState {
    states.get(key).copied().unwrap_or(KeyState::Absent)
}

fn time(_ctx: &mut Ctx<'_>, _argv: &[Bytes]) -> CommandResult {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    Ok(Reply::Array(vec![
        Reply::bulk_str(&now.as_secs().to_string()),
        Reply::bulk_str(&now.subsec_micros().to_string()),
    ]))
}

fn lastsave(ctx: &mut Ctx<'_>, _argv: &[Bytes]) -> CommandResult {
    Ok(Reply::Int(
        ctx.state.last_save_unix.load(Ordering::Relaxed) as i64
    ))
}

/// SHUTDOWN [NOSAVE|SAVE] [NOW] [FORCE] [ABORT]. On success nothing is replied: the server
/// stops and the connection closes, as with Redis, whose process exits.
fn shutdown(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CommandResult {
    let (mut save, mut nosave, mut other_flag, mut abort) = (false, false, false, false);
    for arg in &argv[1..] {
        if is(arg, "nosave") {
            nosave = true;
        } else if is(arg, "save") {
            save = true;
        } else if is(arg, "now") || is(arg, "force") {
            other_flag = true;
        } else if is(arg, "abort") {
            abort = true;
        } else {
            return Err(CommandError::Syntax);
        }
    }
    if (abort && (save || nosave || other_flag)) || (save && nosave) {
        return Err(CommandError::Syntax);
    }
    if abort {
        // Shutdown is immediate here, so there is never one in progress to abort.
        return Err(CommandError::err("No shutdown in progress."));
    }
    if !nosave && ctx.state.scripting.busy.is_busy() {
        // The script holds the dataset mid-run: only SHUTDOWN NOSAVE may end it (Redis).
        return Err(CommandError::other(ctx.state.scripting.busy.busy_text()));
    }
    let save_mode = if save {
        crate::rdb::ShutdownSave::Save
    } else if nosave {
        crate::rdb::ShutdownSave::NoSave
    } else {
        crate::rdb::ShutdownSave::Default
    };
    let force = argv[1..].iter().any(|a| is(a, "force"));
    if crate::rdb::save_on_shutdown(&ctx.state.rdb_handle(), save_mode).is_err() && !force {
        return Err(CommandError::err("Errors trying to SHUTDOWN. Check logs."));
    }
    tracing::warn!("User requested shutdown...");
    ctx.client.reply_mode = ReplyMode::Off;
    ctx.client.close_after_reply = true;
    // Stored even when no task is listening yet (send would drop it then).
    ctx.state.shutdown.send_replace(true);
    Ok(Reply::Ok)
}

// ---- MODULE: no module can be loaded ----

static MODULE_SUBCOMMANDS: &[CommandSpec] = &[
    command!(
        "list",
        2,
        ADMIN | NOSCRIPT,
        KeySpec::None,
        &["admin", "slow", "dangerous"],
        "server",
        "4.0.0",
        "Returns all loaded modules.",
        module_list
    ),
    command!(
        "load",
        -3,
        ADMIN | NOSCRIPT | NO_ASYNC_LOADING,
        KeySpec::None,
        &["admin", "slow", "dangerous"],
        "server",
        "4.0.0",
        "Loads a module.",
        module_refused
    ),
    command!(
        "loadex",
        -3,
        ADMIN | NOSCRIPT | NO_ASYNC_LOADING,
        KeySpec::None,
        &["admin", "slow", "dangerous"],
        "server",
        "7.0.0",
        "Loads a module using extended parameters.",
        module_refused
    ),
    command!(
        "unload",
        3,
        ADMIN | NOSCRIPT | NO_ASYNC_LOADING,
        KeySpec::None,
        &["admin", "slow", "dangerous"],
        "server",
        "4.0.0",
        "Unloads a module.",
        module_refused
    ),
    command!(
        "help",
        2,
        LOADING | STALE,
        KeySpec::None,
        &["slow"],
        "server",
        "5.0.0",
        "Returns helpful text about the different subcommands.",
        module_help
    ),
];

fn module_list(_ctx: &mut Ctx<'_>, _argv: &[Bytes]) -> CommandResult {
    Ok(Reply::Array(Vec::new()))
}

fn module_refused(_ctx: &mut Ctx<'_>, _argv: &[Bytes]) -> CommandResult {
    Err(CommandError::err("MODULE command not allowed. If the enable-module-command option is set to \"local\", you can run it from a local connection, otherwise you need to set this option in the configuration file, and then restart the server."))
}

fn module_help(_ctx: &mut Ctx<'_>, _argv: &[Bytes]) -> CommandResult {
    help_result(&[
        "MODULE <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "LIST",
        "    Return a list of loaded modules.",
        "LOAD <path> [<arg> ...]",
        "    Load a module library from <path>, passing to it any optional arguments.",
        "LOADEX <path> [[CONFIG NAME VALUE] [CONFIG NAME VALUE]] [ARGS ...]",
        "    Load a module library from <path>, while passing it module configurations and optional arguments.",
        "UNLOAD <name>",
        "    Unload a module.",
        "HELP",
        "    Prints this help.",
    ])
}
