//! The DEBUG subcommands beyond introspection (see `debug.rs` for the command, its access check
//! and the key-level ones): PROTOCOL (one reply of each RESP type, for client test suites),
//! CHANGE-REPL-ID, STRINGMATCH-LEN (the glob matcher's fuzz test).

use super::args::is;
use super::{CommandResult, Ctx};
use crate::error::CommandError;
use crate::protocol::{Protocol, Reply};
use bytes::Bytes;

/// DEBUG PROTOCOL <type>: the replies of Redis 7's `debugCommand`, byte for byte in RESP2 and
/// RESP3 (tests/differential compares them with redis-server).
pub fn protocol(ctx: &mut Ctx<'_>, name: &[u8]) -> CommandResult {
    let resp3 = ctx.client.protocol == Protocol::Resp3;
    let ints = |n: i64| (0..n).map(Reply::Int).collect::<Vec<_>>();
    Ok(if is(name, "string") {
        Reply::bulk_static("Hello World")
    } else if is(name, "integer") {
        Reply::Int(12345)
    } else if is(name, "double") {
        // Redis's test value, not an approximation of pi.
        #[allow(clippy::approx_constant)]
        Reply::Double(3.141)
    } else if is(name, "bignum") {
        Reply::BigNumber(Bytes::from_static(b"1234567999999999999999999999999999999"))
    } else if is(name, "null") {
        Reply::Nil
    } else if is(name, "array") {
        Reply::Array(ints(3))
    } else if is(name, "set") {
        Reply::Set(ints(3))
    } else if is(name, "map") {
        Reply::Map(
            (0..3)
                .map(|j| (Reply::Int(j), Reply::Bool(j == 1)))
                .collect(),
        )
    } else if is(name, "attrib") {
        Reply::Attributed(
            vec![(
                Reply::bulk_static("key-popularity"),
                Reply::Array(vec![Reply::bulk_static("key:123"), Reply::Int(90)]),
            )],
            Box::new(Reply::bulk_static(
                "Some real reply following the attribute",
            )),
        )
    } else if is(name, "push") {
        if !resp3 {
            return Err(CommandError::err("RESP2 is not supported by this command"));
        }
        ctx.client.pubsub.frames_before_reply.push(Reply::Push(vec![
            Reply::bulk_static("server-cpu-usage"),
            Reply::Int(42),
        ]));
        Reply::bulk_static("Some real reply following the push reply")
    } else if is(name, "verbatim") {
        Reply::Verbatim(Bytes::from_static(b"This is a verbatim\nstring"))
    } else if is(name, "true") {
        Reply::Bool(true)
    } else if is(name, "false") {
        Reply::Bool(false)
    } else {
        return Err(CommandError::err(
            "Wrong protocol type name. Please use one of the following: string|integer|double|bignum|null|array|set|map|attrib|push|verbatim|true|false",
        ));
    })
}

/// DEBUG CHANGE-REPL-ID: a new replication ID and no previous one, as Redis's
/// `changeReplicationId` + `clearReplicationId2` (through the replication module's API).
pub fn change_repl_id(ctx: &mut Ctx<'_>) -> CommandResult {
    let replication = &ctx.state.replication;
    replication.set_ids(crate::replication::Ids {
        replid: crate::replication::new_replid(ctx.now_ms),
        replid2: "0".repeat(40),
        second_replid_offset: -1,
    });
    tracing::warn!("Changing replication IDs after receiving DEBUG change-repl-id");
    Ok(Reply::Ok)
}

/// DEBUG STRINGMATCH-LEN (Redis 7.2; STRINGMATCH-TEST in 7.0's help): matches random patterns
/// against random strings with the keyspace's glob matcher and replies if nothing broke. The
/// matcher has no backtracking blow-up, so the run is bounded: 100 000 pairs of up to 32 bytes.
pub fn stringmatch_len() -> CommandResult {
    const ALPHABET: &[u8] = b"*?[]^-\\ab";
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let mut pattern = Vec::with_capacity(32);
    let mut subject = Vec::with_capacity(32);
    for _ in 0..100_000 {
        pattern.clear();
        subject.clear();
        for _ in 0..next() % 32 {
            pattern.push(ALPHABET[(next() % ALPHABET.len() as u64) as usize]);
        }
        for _ in 0..next() % 32 {
            subject.push(ALPHABET[(next() % ALPHABET.len() as u64) as usize]);
        }
        let nocase = next() & 1 == 1;
        std::hint::black_box(crate::keyspace::glob::glob_match(
            &pattern, &subject, nocase,
        ));
    }
    Ok(Reply::Status(Bytes::from_static(
        b"Apparently Redis did not crash: test passed",
    )))
}

/// DEBUG RELOAD [MERGE] [NOFLUSH] [NOSAVE]: saves the RDB (unless NOSAVE), empties the dataset
/// and the Functions libraries (unless NOFLUSH) and loads the file back, as Redis 7.
///
/// DEBUG runs in the gate's exclusive section (the table flags it `ALL_SHARDS`), so no other
/// command sees the dataset half loaded; this command touches no shard through `ctx`, so the
/// save, the flush and the load each lock shards one at a time. NOFLUSH without MERGE fails on
/// a key or library the file also holds, with the load's error reply (Redis stops the server on
/// a key conflict); keys loaded before the conflict stay.
pub fn reload(ctx: &mut Ctx<'_>, options: &[Bytes]) -> CommandResult {
    let (mut merge, mut flush, mut save) = (false, true, true);
    for option in options {
        if is(option, "merge") {
            merge = true;
        } else if is(option, "noflush") {
            flush = false;
        } else if is(option, "nosave") {
            save = false;
        } else {
            return Err(CommandError::err(
                "DEBUG RELOAD only supports the MERGE, NOFLUSH and NOSAVE options.",
            ));
        }
    }
    let state = ctx.state;
    if save {
        if crate::rdb::bgsave_running(state) {
            return Err(CommandError::err("Background save already in progress"));
        }
        crate::rdb::save_foreground(state).map_err(|_| CommandError::other("ERR"))?;
    }
    let now = ctx.now_ms;
    if flush {
        empty_data(ctx);
    }
    let failed = || CommandError::err("Error trying to load the RDB dump");
    let path = crate::rdb::dump_path(state);
    let (file, len) = crate::rdb::open_for_load(&path).map_err(|_| failed())?;
    let loaded = if merge {
        crate::rdb::load_stream_merging(&state.keyspace, &state.config, file, len, now)
    } else {
        crate::rdb::load_stream(&state.keyspace, &state.config, file, len, now)
    };
    let stats = loaded.map_err(|e| {
        tracing::warn!("DEBUG RELOAD: {}: {e}", path.display());
        failed()
    })?;
    for code in &stats.functions {
        if let Err(e) = state.scripting.functions.load(code, merge) {
            tracing::warn!("DEBUG RELOAD: {e:?}");
            return Err(failed());
        }
    }
    tracing::warn!("DB reloaded by DEBUG RELOAD");
    Ok(Reply::Ok)
}

/// Redis's `emptyData`: every database and the Functions libraries, one shard lock at a time
/// (the caller runs in the exclusive section and holds no shard).
fn empty_data(ctx: &mut Ctx<'_>) {
    let state = ctx.state;
    let ks = &state.keyspace;
    for db in 0..ks.databases() {
        for shard in 0..ks.shards_per_db() {
            ks.lock(crate::keyspace::ShardId { db, shard })
                .clear(ctx.now_ms);
        }
    }
    state.pubsub.tracking.flush(state);
    let _ = state.scripting.functions.flush();
}

/// DEBUG LOADAOF: with `appendonly yes`, writes what is logged, empties the dataset and
/// replays the AOF files (Redis 7's `loadAppendOnlyFiles`); a file that does not load answers
/// an error (Redis exits then). Without the AOF Redis 7.0.15 exits; here it is an error reply.
pub fn loadaof(ctx: &mut Ctx<'_>) -> CommandResult {
    let state = ctx.state;
    if !state.aof.is_on() {
        return Err(CommandError::err(
            "DEBUG LOADAOF needs the append-only file: appendonly is no",
        ));
    }
    empty_data(ctx);
    crate::aof::load::reload_for_debug(state).map_err(|e| {
        tracing::warn!("DEBUG LOADAOF: {e}");
        CommandError::err(format!("Error trying to load the AOF files: {e}"))
    })?;
    tracing::warn!("Append Only File loaded by DEBUG LOADAOF");
    Ok(Reply::Ok)
}
