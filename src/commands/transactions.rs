//! Transactions: MULTI EXEC DISCARD WATCH UNWATCH.
//!
//! Queuing happens in dispatch (it applies Redis's pre-queue checks). EXEC runs alone (the
//! gate's exclusive section, locking each shard on first use), so no other client observes a
//! partial transaction, whatever keys the queued commands touch. WATCH registers the client's flag in
//! the shards of the watched keys; any change to one of them sets it (see keyspace/watch.rs).

use crate::command;
use crate::engine::client::MultiState;
use crate::error::CommandError;
use crate::keyspace::watch::KeyState;
use crate::keyspace::ShardId;
use crate::protocol::Reply;
use crate::{
    engine::dispatch, engine::flags::*, engine::CommandResult, engine::CommandSpec, engine::Ctx,
    engine::KeySpec,
};
use bytes::Bytes;

pub static COMMANDS: &[CommandSpec] = &[
    command!(
        "multi",
        1,
        NOSCRIPT | LOADING | STALE | FAST | ALLOW_BUSY | NOT_QUEUED,
        KeySpec::None,
        &["transaction", "fast"],
        "transactions",
        "1.2.0",
        "Starts a transaction.",
        multi
    ),
    command!(
        "exec",
        1,
        NOSCRIPT
            | LOADING
            | STALE
            | SKIP_SLOWLOG
            | ALL_SHARDS
            | NOT_QUEUED
            | ENDS_TRANSACTION
            | RUNS_QUEUED,
        KeySpec::None,
        &["transaction", "slow"],
        "transactions",
        "1.2.0",
        "Executes all commands in a transaction.",
        exec
    ),
    command!(
        "discard",
        1,
        NOSCRIPT | LOADING | STALE | FAST | ALLOW_BUSY | NOT_QUEUED | ENDS_TRANSACTION,
        KeySpec::None,
        &["transaction", "fast"],
        "transactions",
        "2.0.0",
        "Discards a transaction.",
        discard
    ),
    command!(
        "watch",
        -2,
        NOSCRIPT | LOADING | STALE | FAST | ALLOW_BUSY | NOT_QUEUED,
        KeySpec::all_from_first(),
        &["transaction", "fast"],
        "transactions",
        "2.2.0",
        "Monitors changes to keys to determine the execution of a transaction.",
        watch
    ),
    command!(
        "unwatch",
        1,
        NOSCRIPT | LOADING | STALE | FAST | ALLOW_BUSY,
        KeySpec::None,
        &["transaction", "fast"],
        "transactions",
        "2.2.0",
        "Forgets about watched keys of a transaction.",
        unwatch
    ),
];

fn multi(ctx: &mut Ctx<'_>, _argv: &[Bytes]) -> CommandResult {
    if ctx.client.multi.is_some() {
        return Err(CommandError::err("MULTI calls can not be nested"));
    }
    ctx.client.multi = Some(MultiState::default());
    ctx.client.info.details.lock().multi = 0;
    Ok(Reply::Ok)
}

fn discard(ctx: &mut Ctx<'_>, _argv: &[Bytes]) -> CommandResult {
    if ctx.client.multi.take().is_none() {
        return Err(CommandError::err("DISCARD without MULTI"));
    }
    ctx.client.info.details.lock().multi = -1;
    unwatch_in(ctx);
    Ok(Reply::Ok)
}

fn exec(ctx: &mut Ctx<'_>, _argv: &[Bytes]) -> CommandResult {
    let Some(multi) = ctx.client.multi.take() else {
        return Err(CommandError::err("EXEC without MULTI"));
    };
    ctx.client.info.details.lock().multi = -1;
    let watched_changed = watched_keys_changed(ctx);
    unwatch_in(ctx);
    if multi.aborted {
        return Err(CommandError::other(
            "EXECABORT Transaction discarded because of previous errors.",
        ));
    }
    if watched_changed {
        return Ok(Reply::NilArray);
    }
    let mut replies = Vec::with_capacity(multi.queued.len());
    for (found, argv) in &multi.queued {
        // Rules may have changed since the command was queued.
        let refused = crate::acl::exec_refusal(
            &ctx.state.acl,
            ctx.state.clock.now_ms(),
            ctx.client,
            found,
            argv,
        );
        replies.push(refused.unwrap_or_else(|| dispatch::run_nested(ctx, *found, argv)));
    }
    Ok(Reply::Array(replies))
}

/// True if a watched key was changed, or has expired since it was watched (Redis's
/// `isWatchedKeyExpired`: a key that was already stale at WATCH does not count). Nothing is
/// deleted here.
fn watched_keys_changed(ctx: &mut Ctx<'_>) -> bool {
    let now = ctx.now_ms;
    let flag = ctx.client.watch.flag.clone();
    if flag.is_set() {
        return true;
    }
    let keys = ctx.client.watch.keys.clone();
    keys.iter().any(|(db, key)| {
        let (shard, hash) = ctx.shard_in(*db, key);
        shard.key_state(hash, key, now) == KeyState::Stale
            && !shard.watchers.is_stale_watch(key, &flag)
    })
}

fn watch(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CommandResult {
    if ctx.client.multi.is_some() {
        return Err(CommandError::err("WATCH inside MULTI is not allowed"));
    }
    let db = ctx.db();
    let flag = ctx.client.watch.flag.clone();
    for key in &argv[1..] {
        if ctx
            .client
            .watch
            .keys
            .iter()
            .any(|(d, k)| *d == db && **k == **key)
        {
            continue;
        }
        // Counted before the watch exists anywhere (shard or deferred list): a write that
        // finds no WATCH listener has no watch to mark.
        ctx.state.writes.add(crate::write_listeners::WATCH, 1);
        let now = ctx.now_ms;
        let ks = &ctx.state.keyspace;
        let hash = ks.hash(key);
        let id = ShardId {
            db,
            shard: ks.shard_of(hash),
        };
        match ctx.locks.shard_mut(id) {
            Some(shard) => {
                let key_state = shard.key_state(hash, key, now);
                shard.watchers.add(key, &flag, key_state)
            }
            // A busy script holds the shard: the watch joins it when the script ends, and a
            // write by the script marks it meanwhile (see gate.rs).
            None => ctx.state.gate.change_watch(
                &ctx.state.keyspace,
                &ctx.state.clock,
                db,
                key,
                &flag,
                true,
            ),
        }
        ctx.client.watch.keys.push((db, key.as_ref().into()));
    }
    Ok(Reply::Ok)
}

fn unwatch(ctx: &mut Ctx<'_>, _argv: &[Bytes]) -> CommandResult {
    unwatch_in(ctx);
    Ok(Reply::Ok)
}

/// Forgets every watched key of the client in the command's context.
fn unwatch_in(ctx: &mut Ctx<'_>) {
    let keys = std::mem::take(&mut ctx.client.watch.keys);
    let flag = ctx.client.watch.flag.clone();
    let ks = &ctx.state.keyspace;
    for (db, key) in &keys {
        let id = ShardId {
            db: *db,
            shard: ks.shard_of(ks.hash(key)),
        };
        match ctx.locks.shard_mut(id) {
            Some(shard) => shard.watchers.remove(key, &flag),
            None => ctx.state.gate.change_watch(
                &ctx.state.keyspace,
                &ctx.state.clock,
                *db,
                key,
                &flag,
                false,
            ),
        }
    }
    ctx.state
        .writes
        .remove(crate::write_listeners::WATCH, keys.len());
    flag.clear();
}
