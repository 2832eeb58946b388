//! Dispatch: argv -> command lookup, arity and auth checks, shard locking by key spec, run,
//! counters. The one place that applies the generic rules of Redis's `processCommand`.

use crate::engine::context::{Ctx, Locks};
use crate::engine::registry::{CallTally, Found, Known};
use crate::error::CommandError;
use crate::gate::{Pass, Wait};
use crate::keyspace::ShardId;
use crate::protocol::Reply;
use crate::state::ServerState;
use crate::stats::ServerStats;
use crate::{engine::flags, engine::ClientState, engine::CommandSpec, engine::KeySpec};
use bytes::Bytes;
use std::sync::atomic::Ordering;
use std::time::Instant;

/// Runs one request and returns its reply, for callers that are not connection tasks (AOF
/// loading, internal clients, blocked clients served inside a section). A wait is short here:
/// such callers never meet a script (see `try_execute`).
pub fn execute(state: &ServerState, client: &mut ClientState, argv: &[Bytes]) -> Reply {
    debug_assert!(
        crate::keyspace::lock_rules::may_wait_for_shard(),
        "a connection task must use execute_async"
    );
    loop {
        match try_execute(state, client, argv, None) {
            Ok(reply) => return reply,
            Err(Wait::Turn) => std::thread::sleep(std::time::Duration::from_millis(1)),
            Err(Wait::Drain | Wait::Contended) => std::thread::yield_now(),
        }
    }
}

/// Runs one request on a connection task: waits for its turn asynchronously (a script or
/// transaction running, a shard held by a running command), never blocking the worker.
pub async fn execute_async(state: &ServerState, client: &mut ClientState, argv: &[Bytes]) -> Reply {
    execute_found_async(state, client, argv, None).await
}

/// Runs a request now if nothing makes it wait (no CLIENT PAUSE, no script or transaction
/// running, no shard held): the common case, with no future built. `None` when it must wait;
/// nothing has run then, and `execute_found_async` takes it from the start.
pub fn run_now(
    state: &ServerState,
    client: &mut ClientState,
    argv: &[Bytes],
    known: Option<Known>,
) -> Option<Reply> {
    if state.pause.maybe_engaged() {
        return None;
    }
    match crate::keyspace::lock_rules::as_async_task(|| try_execute(state, client, argv, known)) {
        Ok(reply) => Some(reply),
        Err(_) => {
            client.batch_clock.forget();
            None
        }
    }
}

/// `execute_async` of a request whose command the caller already looked up (`known`, a
/// command without subcommands, as the connection's look-ahead finds it).
pub async fn execute_found_async(
    state: &ServerState,
    client: &mut ClientState,
    argv: &[Bytes],
    known: Option<Known>,
) -> Reply {
    // CLIENT PAUSE: a held request awaits its turn, kept until it has run (client_pause.rs).
    // Without a pause no wait is built or polled.
    let _turn = if state.pause.maybe_engaged() {
        client.batch_clock.forget();
        crate::engine::client_pause::wait_unpaused(state, client, argv).await
    } else {
        None
    };
    let mut tries = 0u32;
    loop {
        let tried =
            crate::keyspace::lock_rules::as_async_task(|| try_execute(state, client, argv, known));
        if tried.is_err() {
            client.batch_clock.forget();
        }
        match tried {
            Ok(reply) => return reply,
            Err(Wait::Turn) => state.gate.wait_turn(&state.scripting.busy).await,
            Err(Wait::Drain | Wait::Contended) => {
                // Held by running commands for microseconds; yield first, then nap.
                tries += 1;
                if tries < 64 {
                    tokio::task::yield_now().await;
                } else {
                    tokio::time::sleep(std::time::Duration::from_millis(1)).await;
                }
            }
        }
    }
}

/// Runs one request, or says what it must wait for before it can run (nothing has been done
/// then: dispatching it again later is the same as dispatching it once). Inside MULTI, commands
/// are checked and queued.
pub fn try_execute(
    state: &ServerState,
    client: &mut ClientState,
    argv: &[Bytes],
    known: Option<Known>,
) -> Result<Reply, Wait> {
    let key_hash = known.and_then(|k| k.key_hash);
    let resolved = match known.map(|k| k.found) {
        Some(found) if found.spec.subcommands.is_empty() => {
            if found.spec.arity_ok(argv.len()) {
                Ok(found)
            } else {
                Err(CommandError::Arity(found.spec.name.to_string()))
            }
        }
        _ => state.registry.resolve(argv),
    };
    let queues = |spec: &CommandSpec| client.multi.is_some() && !controls_transaction(spec);
    let exclusive =
        matches!(&resolved, Ok(found) if found.spec.has(flags::ALL_SHARDS) && !queues(found.spec));
    let mut pass = state.gate.admit(
        &state.keyspace,
        &state.clock,
        client.id,
        exclusive,
        &state.scripting.busy,
    )?;
    if let Ok(found) = &resolved {
        note_last_command(client, found);
    }
    let reply = match resolved {
        Ok(found) if client.multi.is_some() && !controls_transaction(found.spec) => {
            queue(state, client, found, argv, &pass)
        }
        Ok(found) => run_checked(state, client, found, argv, key_hash, &mut pass)?,
        Err(err) => {
            if let Some(multi) = client.multi.as_mut() {
                multi.aborted = true;
            }
            Reply::from(err)
        }
    };
    if let Reply::Error(text) = &reply {
        state.stats.record_error(text);
    }
    Ok(reply)
}

/// Publishes the client's last command for CLIENT LIST, as Redis sets `lastcmd` before queuing
/// or running (a pointer store, only when the command changes).
fn note_last_command(client: &mut ClientState, found: &Found) {
    client.last_cmd = found.full_name;
    client.info.last_cmd.set(found.name_slot);
}

/// Commands that act on the transaction itself instead of being queued.
fn controls_transaction(spec: &CommandSpec) -> bool {
    spec.has(flags::NOT_QUEUED)
}

/// Queues a command inside MULTI after the checks Redis makes before queuing.
fn queue(
    state: &ServerState,
    client: &mut ClientState,
    found: Found,
    argv: &[Bytes],
    pass: &Pass<'_>,
) -> Reply {
    let refusal = if needs_auth(state, client, found.spec) {
        Some(Reply::error("NOAUTH Authentication required."))
    } else if !client.user.is_unrestricted() && !found.spec.has(flags::NO_AUTH) {
        crate::acl::refusal(&state.acl, state.clock.now_ms(), client, &found, argv)
    } else {
        None
    };
    let refusal = if refusal.is_some() {
        refusal
    } else if crate::cluster::crosses_slots(&state.cluster, client, found.spec, argv) {
        Some(Reply::error(crate::cluster::CROSSSLOT))
    } else if found.spec.has(flags::NO_MULTI) {
        Some(Reply::error("ERR Command not allowed inside a transaction"))
    } else if !pass.is_busy() && out_of_memory(state, argv) {
        // Queuing may take unbounded memory: Redis refuses every command while it cannot evict.
        Some(Reply::from(CommandError::Oom))
    } else if let Some(reply) = crate::rdb::refuse_write(
        &state.rdb,
        &state.config,
        found.spec.has(flags::WRITE | flags::REFUSED_LIKE_WRITE),
    ) {
        Some(reply)
    } else if let Some(text) = replica_refusal(state, client, found.spec, argv) {
        Some(Reply::error(text))
    } else if let Some(err) = found
        .spec
        .has(flags::WRITE)
        .then(|| {
            crate::replication::primary::write_refusal(
                &state.replication,
                &state.config,
                &state.clock,
            )
        })
        .flatten()
    {
        Some(Reply::from(err))
    } else if pass.is_busy() && !found.spec.has(flags::ALLOW_BUSY) {
        // Redis's processCommand refuses before queuing, which flags the transaction.
        Some(Reply::error(state.scripting.busy.busy_text()))
    } else {
        None
    };
    let multi = client
        .multi
        .as_mut()
        .expect("queue is only called inside MULTI");
    if let Some(reply) = refusal {
        found.stats.rejected_calls.fetch_add(1, Ordering::Relaxed);
        multi.aborted = true;
        return reply;
    }
    multi.queued.push((found, argv.to_vec()));
    let mut details = client.info.details.lock();
    details.multi = multi.queued.len() as i64;
    details.multi_mem = crate::engine::client::multi_mem(multi);
    Reply::status("QUEUED")
}

/// Runs a command inside another one that already holds every shard lock (EXEC, scripts).
/// Counts it like a top-level call.
pub fn run_nested(ctx: &mut Ctx<'_>, found: Found, argv: &[Bytes]) -> Reply {
    let started = Instant::now();
    // Blocking commands answer at once inside EXEC and scripts.
    let nested = std::mem::replace(&mut ctx.client.blocking.nested, true);
    let result = match write_refusal(ctx.state, found.spec.has(flags::WRITE)) {
        Some(err) => Err(err),
        None => {
            let no_touch = found.spec.spares_stamps(ctx.client.no_touch);
            let aof = &ctx.state.aof;
            crate::keyspace::access::with_no_touch(no_touch, || {
                crate::aof::effects::run_logged(aof, ctx, found.spec, argv, |ctx| {
                    (found.spec.run)(ctx, argv)
                })
            })
        }
    };
    ctx.client.blocking.nested = nested;
    crate::pubsub::after_nested(
        ctx.state.pubsub_handle(),
        &ctx.state.scripting.busy,
        ctx.client,
        found.spec,
        argv,
    );
    let elapsed_us = started.elapsed().as_micros() as u64;
    found.stats.calls.fetch_add(1, Ordering::Relaxed);
    found.stats.usec.fetch_add(elapsed_us, Ordering::Relaxed);
    found.stats.latency.record(elapsed_us);
    ServerStats::add(&ctx.state.stats.commands_processed, 1);
    crate::observability::after_command(
        ctx.state.observability_handle(),
        &ctx.client.info,
        found,
        argv,
        elapsed_us,
        crate::observability::Caller::Nested,
    );
    match result {
        Ok(reply) => reply,
        Err(err) => {
            found.stats.failed_calls.fetch_add(1, Ordering::Relaxed);
            let reply = Reply::from(err);
            if let Reply::Error(text) = &reply {
                ctx.state.stats.record_error(text);
            }
            reply
        }
    }
}

fn run_checked(
    state: &ServerState,
    client: &mut ClientState,
    found: Found,
    argv: &[Bytes],
    key_hash: Option<u64>,
    pass: &mut Pass<'_>,
) -> Result<Reply, Wait> {
    let spec = found.spec;
    if needs_auth(state, client, spec) {
        found.stats.rejected_calls.fetch_add(1, Ordering::Relaxed);
        return Ok(Reply::error("NOAUTH Authentication required."));
    }
    // One atomic load for a user allowed everything (the default user as shipped).
    if !client.user.is_unrestricted() && !spec.has(flags::NO_AUTH) {
        if let Some(reply) =
            crate::acl::refusal(&state.acl, state.clock.now_ms(), client, &found, argv)
        {
            found.stats.rejected_calls.fetch_add(1, Ordering::Relaxed);
            return Ok(reply);
        }
    }
    if let Some(reply) = cross_slot_refusal(state, client, spec, argv) {
        found.stats.rejected_calls.fetch_add(1, Ordering::Relaxed);
        return Ok(reply);
    }
    // A command that may read the call counters sees this connection's earlier calls in them.
    if !CallTally::tallies(spec) {
        client.tally.flush(&state.stats.commands_processed);
    }
    // One clock read gives the command's instant and the start of its duration (in a
    // pipelined batch, the read that ended the previous command: see `BatchClock`).
    let started_us = client.batch_clock.start(&state.clock);
    // Eviction locks shards one at a time, so it runs before this command locks its own. Redis
    // does not evict while a script is busy either.
    if !pass.is_busy() && !client.master {
        if let Some(reply) = refuse_on_oom(state, client, spec, argv, started_us) {
            found.stats.rejected_calls.fetch_add(1, Ordering::Relaxed);
            return Ok(reply);
        }
    }
    if let Some(reply) = crate::pubsub::refusal(client, spec, found.full_name) {
        found.stats.rejected_calls.fetch_add(1, Ordering::Relaxed);
        return Ok(reply);
    }
    let writes = spec.has(flags::WRITE | flags::REFUSED_LIKE_WRITE)
        || (spec.has(flags::RUNS_QUEUED) && queued_writes(client));
    let refusal = write_refusal(state, writes).or_else(|| {
        (writes && !spec.has(flags::REFUSED_LIKE_WRITE))
            .then(|| {
                crate::replication::primary::write_refusal(
                    &state.replication,
                    &state.config,
                    &state.clock,
                )
            })
            .flatten()
    });
    if let Some(err) = refusal {
        found.stats.rejected_calls.fetch_add(1, Ordering::Relaxed);
        if spec.has(flags::RUNS_QUEUED) {
            // Redis discards the transaction it refuses.
            client.multi = None;
            client.info.details.lock().multi = -1;
        }
        return Ok(Reply::from(err));
    }
    // After a failed background save, writes (and PING) get MISCONF (stop-writes-on-bgsave-error).
    if let Some(reply) = crate::rdb::refuse_write(
        &state.rdb,
        &state.config,
        spec.has(flags::WRITE | flags::REFUSED_LIKE_WRITE),
    ) {
        found.stats.rejected_calls.fetch_add(1, Ordering::Relaxed);
        return Ok(reply);
    }
    // A replica refuses writes (replica-read-only) and, while its link is down, commands not
    // flagged `stale` (replica-serve-stale-data no).
    if let Some(text) = replica_refusal(state, client, spec, argv) {
        found.stats.rejected_calls.fetch_add(1, Ordering::Relaxed);
        if spec.has(flags::RUNS_QUEUED) {
            crate::engine::context::discard_refused(state, client);
            return Ok(Reply::error(format!(
                "EXECABORT Transaction discarded because of: {text}"
            )));
        }
        return Ok(Reply::error(text));
    }
    // Another client's script is past busy-reply-threshold: only allow-busy commands run, and
    // they hold no shard (the script has them all).
    let locks = if pass.is_busy() {
        if !spec.has(flags::ALLOW_BUSY) {
            found.stats.rejected_calls.fetch_add(1, Ordering::Relaxed);
            if spec.has(flags::RUNS_QUEUED) {
                // Redis's execCommandAbort: the transaction is discarded.
                crate::engine::context::discard_refused(state, client);
                return Ok(Reply::error(format!(
                    "EXECABORT Transaction discarded because of: {}",
                    state.scripting.busy.busy_text()
                )));
            }
            return Ok(Reply::error(state.scripting.busy.busy_text()));
        }
        Locks::none()
    } else if spec.has(flags::ALL_SHARDS) {
        // An exclusive command runs alone (see gate.rs): it locks each shard on first use.
        Locks::on_first_use(&state.keyspace)
    } else {
        let mut hashes = KeyHashes::new();
        let (ids, first_hash) = placement(state, client, spec, argv, key_hash, Some(&mut hashes));
        let locks = Locks::new(try_lock_all(state, &ids).ok_or(Wait::Contended)?);
        if hashes.len() > 1 {
            // A multi-key command (MSET, MGET, DEL ...): its keys' lookups are started together,
            // so their cache misses overlap instead of following each other.
            locks.prefetch(&state.keyspace, client.db, &hashes);
        }
        match first_hash {
            Some(hash) => locks.with_key_hash(&argv[1], hash),
            None => locks,
        }
    };
    let mut ctx = Ctx {
        state,
        client,
        now_ms: started_us / 1000,
        locks,
        changed: 0,
        effects: Default::default(),
    };
    crate::pubsub::before_command(state.pubsub_handle(), ctx.client, spec, argv);
    let no_touch = spec.spares_stamps(ctx.client.no_touch);
    let primary_view = ctx.client.master;
    let result = crate::keyspace::expiry::with_primary_view(primary_view, || {
        crate::keyspace::access::with_no_touch(no_touch, || {
            crate::aof::effects::run_logged(&state.aof, &mut ctx, spec, argv, |ctx| {
                (spec.run)(ctx, argv)
            })
        })
    });
    ctx.drain_expired();
    if !ctx.effects.is_empty() {
        // Appended while the command's shard locks are held: the log orders writes per key.
        let pos = state.aof.append(&ctx.effects.records);
        ctx.client.aof_wait = ctx.client.aof_wait.max(pos);
        if state.replication.feed.is_active() {
            // WAIT's target: the stream up to this client's last write.
            ctx.client.repl.woff = state.replication.offset();
        }
    }
    let changed = ctx.changed;
    // The exclusive section ends while its shard locks are still held (watch changes left
    // meanwhile are applied to them).
    pass.finish(&mut ctx.locks);
    drop(ctx);
    let result = crate::pubsub::after_command(state.pubsub_handle(), client, spec, argv, result);
    if client.blocking.request.is_some() {
        // Counted once, when the wait ends (served, timed out or unblocked).
        return Ok(result.unwrap_or_else(Reply::from));
    }
    let elapsed_us = client
        .batch_clock
        .end(&state.clock)
        .saturating_sub(started_us);
    client
        .tally
        .count(found, elapsed_us, &state.stats.commands_processed);
    if changed > 0 {
        ServerStats::add(&state.stats.dirty, changed);
    }
    crate::observability::after_command(
        state.observability_handle(),
        &client.info,
        found,
        argv,
        elapsed_us,
        crate::observability::Caller::Client,
    );
    Ok(match result {
        Ok(reply) => reply,
        Err(err) => {
            found.stats.failed_calls.fetch_add(1, Ordering::Relaxed);
            Reply::from(err)
        }
    })
}

/// Cluster mode: -CROSSSLOT for a command whose keys are in different slots, or an EXEC whose
/// queued commands' keys are (the transaction is discarded), as Redis's `processCommand`.
fn cross_slot_refusal(
    state: &ServerState,
    client: &mut ClientState,
    spec: &CommandSpec,
    argv: &[Bytes],
) -> Option<Reply> {
    if !state.cluster.enabled() {
        return None;
    }
    if spec.has(flags::RUNS_QUEUED) {
        if !crate::cluster::transaction_crosses_slots(&state.cluster, client) {
            return None;
        }
        crate::engine::context::discard_refused(state, client);
    } else if !crate::cluster::crosses_slots(&state.cluster, client, spec, argv) {
        return None;
    }
    Some(Reply::error(crate::cluster::CROSSSLOT))
}

/// Takes the shard locks `ids` (sorted, unique) if all are free now, else none: a command never
/// waits for a shard on a worker thread (the holder may be running on this very thread's
/// queue); it is dispatched again instead.
fn try_lock_all<'a>(
    state: &'a ServerState,
    ids: &[ShardId],
) -> Option<crate::keyspace::HeldShards<'a>> {
    let mut held = crate::keyspace::HeldShards::new();
    for &id in ids {
        held.push((id, state.keyspace.try_lock(id)?));
    }
    Some(held)
}

/// Redis's maxmemory step of `processCommand`: evicts before every command while over the limit,
/// then refuses with -OOM, if eviction could not help, a DENYOOM command (EXEC of a transaction
/// holding one, a script whose shebang does not allow OOM) and, inside MULTI, any command but
/// EXEC, DISCARD, QUIT and RESET.
fn refuse_on_oom(
    state: &ServerState,
    client: &mut ClientState,
    spec: &CommandSpec,
    argv: &[Bytes],
    now_us: u64,
) -> Option<Reply> {
    use crate::engine::maxmemory::{self, Pressure};
    if state.config.hot.maxmemory.load(Ordering::Relaxed) == 0 {
        maxmemory::set_script_oom(false);
        return None;
    }
    let denies = denies_oom(state, client, spec, argv);
    let incoming = if denies {
        argv.iter().map(|a| a.len() as u64 + 16).sum()
    } else {
        0
    };
    let oom = maxmemory::make_room(state, now_us, incoming) == Pressure::OutOfMemory;
    if spec.has(flags::RUNS_SCRIPT | flags::RUNS_QUEUED) {
        maxmemory::set_script_oom(oom);
    }
    let in_multi = client.multi.is_some();
    if !oom || !(denies || in_multi && !spec.has(flags::ENDS_TRANSACTION)) {
        return None;
    }
    if spec.has(flags::RUNS_QUEUED) {
        crate::engine::context::discard_refused(state, client);
        return Some(Reply::error(
            "EXECABORT Transaction discarded because of: OOM command not allowed when used memory > 'maxmemory'.",
        ));
    }
    if let Some(multi) = client.multi.as_mut() {
        multi.aborted = true;
    }
    Some(Reply::from(CommandError::Oom))
}

/// Whether a command is refused when memory cannot be freed (Redis's `is_denyoom_command`).
fn denies_oom(
    state: &ServerState,
    client: &ClientState,
    spec: &CommandSpec,
    argv: &[Bytes],
) -> bool {
    if spec.has(flags::DENYOOM) {
        return true;
    }
    if spec.has(flags::RUNS_QUEUED) {
        return client.multi.as_ref().is_some_and(|m| {
            m.queued.iter().any(|(f, argv)| {
                f.spec.has(flags::DENYOOM) || script_denies_oom(state, f.spec, argv)
            })
        });
    }
    script_denies_oom(state, spec, argv)
}

/// EVAL / EVALSHA / FCALL of a script whose shebang (or library) makes it DENYOOM.
fn script_denies_oom(state: &ServerState, spec: &CommandSpec, argv: &[Bytes]) -> bool {
    let Some(arg) = argv.get(1) else {
        return false;
    };
    if spec.has(flags::SCRIPT_BODY) {
        crate::scripting::ScriptOomFlags::of(arg).denies_oom
    } else if spec.has(flags::SCRIPT_SHA) {
        state.scripting.oom_flags(arg).denies_oom
    } else if spec.has(flags::SCRIPT_FUNCTION) {
        state.scripting.functions.oom_flags(arg).denies_oom
    } else {
        false
    }
}

/// The OOM check of a command queued inside MULTI (which is refused while memory cannot be
/// freed, whatever the command).
fn out_of_memory(state: &ServerState, argv: &[Bytes]) -> bool {
    use crate::engine::maxmemory::{self, Pressure};
    if state.config.hot.maxmemory.load(Ordering::Relaxed) == 0 {
        return false;
    }
    let incoming = argv.iter().map(|a| a.len() as u64 + 16).sum();
    maxmemory::make_room(state, state.clock.now_us(), incoming) == Pressure::OutOfMemory
}

/// Redis's `authRequired`: not authenticated while the default user needs a password.
fn needs_auth(state: &ServerState, client: &ClientState, spec: &CommandSpec) -> bool {
    !client.authenticated && !spec.has(flags::NO_AUTH) && state.acl.default_needs_auth()
}

/// Redis's MISCONF refusal while the AOF cannot be written: write commands (and PING, as
/// Redis's `processCommand` does) are refused, reads are served.
fn write_refusal(state: &ServerState, writes: bool) -> Option<CommandError> {
    if !writes {
        return None;
    }
    state.aof.write_error().map(CommandError::Other)
}

/// Redis's READONLY / MASTERDOWN refusals on a replica (never for the primary's own client).
/// EXEC writes when a queued command does, and denies stale data when one does.
fn replica_refusal(
    state: &ServerState,
    client: &ClientState,
    spec: &CommandSpec,
    argv: &[Bytes],
) -> Option<&'static str> {
    // Most nodes are primaries: one load, before anything about the command is worked out.
    if client.master || !state.replication.is_replica() {
        return None;
    }
    let queued = |f: &dyn Fn(&CommandSpec) -> bool| {
        spec.has(flags::RUNS_QUEUED)
            && client
                .multi
                .as_ref()
                .is_some_and(|m| m.queued.iter().any(|(q, _)| f(q.spec)))
    };
    // A script or function that declares flags without `no-writes` writes (Redis 7).
    let script_writes = || {
        crate::engine::maxmemory::script_flags_of_call(state, spec, argv).is_some_and(|f| f.writes)
    };
    let writes = spec.has(flags::WRITE) || queued(&|q| q.has(flags::WRITE)) || script_writes();
    let denies_stale = !spec.has(flags::STALE) || queued(&|q| !q.has(flags::STALE));
    crate::replication::replica::refusal(&state.replication, &state.config, writes, denies_stale)
}

fn queued_writes(client: &ClientState) -> bool {
    client
        .multi
        .as_ref()
        .is_some_and(|m| m.queued.iter().any(|(f, _)| f.spec.has(flags::WRITE)))
}

pub type ShardIds = smallvec::SmallVec<[ShardId; 4]>;

/// The shards a command must hold, sorted and unique.
pub fn shards_for(
    state: &ServerState,
    client: &ClientState,
    spec: &CommandSpec,
    argv: &[Bytes],
) -> ShardIds {
    placement(state, client, spec, argv, None, None).0
}

/// Hashes of a multi-key command's keys, at fixed positions, for `Locks::prefetch`.
type KeyHashes = smallvec::SmallVec<[u64; 16]>;

/// `shards_for`, and the hash of `argv[1]` when it is the command's only key (the command's
/// lookups of it reuse the hash: see `Locks::with_key_hash`); `key_hash`, when given, is that
/// hash, computed by the connection's look-ahead. With `hashes`, the hashes of the keys at
/// fixed positions (MSET, MGET, DEL ...) are also kept there, up to its inline room.
fn placement(
    state: &ServerState,
    client: &ClientState,
    spec: &CommandSpec,
    argv: &[Bytes],
    key_hash: Option<u64>,
    mut hashes: Option<&mut KeyHashes>,
) -> (ShardIds, Option<u64>) {
    if spec.has(flags::ALL_SHARDS) {
        return (state.keyspace.all_shards().collect(), None);
    }
    let ks = &state.keyspace;
    if let KeySpec::Range {
        first: 1, last: 1, ..
    } = spec.keys
    {
        // The common single-key case, without building the index list.
        let mut ids = ShardIds::new();
        let mut first_hash = None;
        if let Some(key) = argv.get(1) {
            let hash = key_hash.unwrap_or_else(|| ks.hash(key));
            first_hash = Some(hash);
            ids.push(ShardId {
                db: client.db,
                shard: ks.shard_of(hash),
            });
        }
        return (ids, first_hash);
    }
    let mut ids: ShardIds = if let KeySpec::Range { first, last, step } = spec.keys {
        // Fixed positions (MSET, DEL, EXISTS ...): walked in place, no index list built.
        let n = argv.len() as i32;
        let last = if last < 0 { n + last } else { last.min(n - 1) };
        let mut ids = ShardIds::new();
        let mut i = first;
        while i <= last && i < n && step > 0 {
            let hash = match key_hash {
                Some(hash) if i == 1 => hash,
                _ => ks.hash(&argv[i as usize]),
            };
            if let Some(hashes) = hashes.as_deref_mut() {
                if hashes.len() < hashes.inline_size() {
                    hashes.push(hash);
                }
            }
            ids.push(ShardId {
                db: client.db,
                shard: ks.shard_of(hash),
            });
            i += step;
        }
        ids
    } else {
        spec.keys
            .key_indexes(argv)
            .into_iter()
            // A key spec may name a database the command will reject (MOVE k 99): lock nothing there.
            .filter(|&(db, _)| db.is_none_or(|db| db < ks.databases()))
            .map(|(db, i)| ShardId {
                db: db.unwrap_or(client.db),
                shard: ks.shard_of(ks.hash(&argv[i])),
            })
            .collect()
    };
    if ids.len() > 1 {
        ids.sort_unstable();
        ids.dedup();
    }
    (ids, None)
}
