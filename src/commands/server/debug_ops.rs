//! The DEBUG subcommands beyond introspection (see `debug.rs` for the command, its access check
//! and the key-level ones): PROTOCOL (one reply of each RESP type, for client test suites),
//! CHANGE-REPL-ID, STRINGMATCH-LEN (the glob matcher's fuzz test).

use crate::engine::args::is;
use crate::error::CommandError;
use crate::protocol::{Protocol, Reply};
use crate::{engine::CommandResult, engine::Ctx};
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
        std::hint::black_box(crate::glob::glob_match(&pattern, &subject, nocase));
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
    if !ctx.locks.none_locked_yet() {
        // Inside EXEC after commands that locked shards: the load would wait for them.
        return Err(CommandError::err(
            "DEBUG RELOAD is not supported inside a transaction that touched keys",
        ));
    }
    if save {
        if crate::rdb::bgsave_running(&state.rdb) {
            return Err(CommandError::err("Background save already in progress"));
        }
        crate::rdb::save_foreground(&state.rdb_handle()).map_err(|_| CommandError::other("ERR"))?;
    }
    let now = ctx.now_ms;
    if flush {
        empty_data(ctx);
    }
    let failed = || CommandError::err("Error trying to load the RDB dump");
    let path = crate::rdb::dump_path(&state.config);
    let (file, len) = crate::rdb::open_for_load(&path).map_err(|_| failed())?;
    let loaded = off_worker(|| {
        if merge {
            crate::rdb::load_stream_merging(&state.keyspace, &state.config, file, len, now)
        } else {
            crate::rdb::load_stream(&state.keyspace, &state.config, file, len, now)
        }
    });
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
    state.pubsub.tracking.flush(state.pubsub_handle());
    let _ = state.scripting.functions.flush();
}

/// DEBUG LOADAOF: with `appendonly yes`, writes what is logged, empties the dataset and
/// replays the AOF files (Redis 7's `loadAppendOnlyFiles`); a file that does not load answers
/// an error (Redis exits then). Without the AOF Redis 7.0.15 exits; here it is an error reply.
pub fn loadaof(ctx: &mut Ctx<'_>) -> CommandResult {
    let state = ctx.state;
    if !ctx.locks.none_locked_yet() {
        return Err(CommandError::err(
            "DEBUG LOADAOF is not supported inside a transaction that touched keys",
        ));
    }
    if !state.aof.is_on() {
        return Err(CommandError::err(
            "DEBUG LOADAOF needs the append-only file: appendonly is no",
        ));
    }
    empty_data(ctx);
    // The wait for the writer and the replay block this thread: tell tokio first, so the
    // worker's other connections move elsewhere (they wait for the exclusive section anyway).
    off_worker(|| {
        crate::aof::load::reload_for_debug(state.aof_handle(), |client, argv| {
            crate::engine::dispatch::execute(state, client, argv)
        })
    })
    .map_err(|e| {
        tracing::warn!("DEBUG LOADAOF: {e}");
        CommandError::err(format!("Error trying to load the AOF files: {e}"))
    })?;
    tracing::warn!("Append Only File loaded by DEBUG LOADAOF");
    Ok(Reply::Ok)
}

// ---- DEBUG DIGEST / DIGEST-VALUE ----
//
// Redis's dataset digest: SHA1 based, order-independent where the type is (keys, set members,
// hash fields, sorted-set members), order-dependent where it is (lists, strings). Test suites
// compare it before and after DEBUG RELOAD, a restart or a replica's sync.

type Digest = [u8; 20];

fn sha1(parts: &[&[u8]]) -> Digest {
    let mut h = sha1_smol::Sha1::new();
    for p in parts {
        h.update(p);
    }
    h.digest().bytes()
}

/// Redis's `xorDigest`: digest ^= SHA1(data).
fn xor_digest(digest: &mut Digest, data: &[u8]) {
    for (d, h) in digest.iter_mut().zip(sha1(&[data])) {
        *d ^= h;
    }
}

/// Redis's `mixDigest`: digest = SHA1(digest ^ SHA1(data)).
fn mix_digest(digest: &mut Digest, data: &[u8]) {
    xor_digest(digest, data);
    *digest = sha1(&[&digest[..]]);
}

/// A score as Redis 7.0 prints it into the digest (`%.17g`).
fn score_text(score: f64) -> String {
    let mut buf = [0u8; 64];
    // SAFETY: the buffer is large enough for any %.17g output and NUL-terminated by snprintf.
    let n = unsafe { libc::snprintf(buf.as_mut_ptr().cast(), buf.len(), c"%.17g".as_ptr(), score) };
    String::from_utf8_lossy(&buf[..(n.max(0) as usize).min(buf.len() - 1)]).into_owned()
}

/// Redis's `xorObjectDigest`: the value's type, contents and whether it has a deadline.
fn object_digest(digest: &mut Digest, entry: &crate::keyspace::Entry) {
    use crate::keyspace::ValueRef;
    let value = entry.value();
    let type_code: u32 = match value {
        ValueRef::Str(_) => 0,
        ValueRef::List(_) => 1,
        ValueRef::Set(_) => 2,
        ValueRef::ZSet(_) => 3,
        ValueRef::Hash(_) => 4,
        ValueRef::Stream(_) => 6,
    };
    mix_digest(digest, &type_code.to_be_bytes());
    match value {
        ValueRef::Str(s) => mix_digest(digest, s),
        ValueRef::List(list) => list.iter().for_each(|e| mix_digest(digest, e)),
        ValueRef::Set(set) => set.iter().for_each(|m| xor_digest(digest, &m)),
        ValueRef::ZSet(zset) => {
            for (member, score) in zset.iter() {
                let mut ele = [0u8; 20];
                mix_digest(&mut ele, member);
                mix_digest(&mut ele, score_text(score).as_bytes());
                xor_digest(digest, &ele);
            }
        }
        ValueRef::Hash(hash) => {
            for (field, v) in hash.iter() {
                let mut ele = [0u8; 20];
                mix_digest(&mut ele, field);
                mix_digest(&mut ele, v);
                xor_digest(digest, &ele);
            }
        }
        // Redis hashes its stream listpacks; here the DUMP payload stands for the stream.
        ValueRef::Stream(_) => mix_digest(digest, &crate::rdb::write::dump_payload(value, false)),
    }
    if entry.expire_at_ms().is_some() {
        xor_digest(digest, b"!!expire!!");
    }
}

fn hex(digest: &Digest) -> String {
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// DEBUG DIGEST: the digest of every database (40 zeros when empty).
pub fn dataset_digest(ctx: &mut Ctx<'_>) -> CommandResult {
    let now = ctx.now_ms;
    let (databases, shards) = (
        ctx.state.keyspace.databases(),
        ctx.state.keyspace.shards_per_db(),
    );
    let mut total = [0u8; 20];
    for db in 0..databases {
        let mut keys = 0;
        ctx.for_each_shard(db, |_, shard| keys += shard.len());
        if keys == 0 {
            continue;
        }
        mix_digest(&mut total, &(db as u32).to_be_bytes());
        for shard in 0..shards {
            ctx.with_shard(crate::keyspace::ShardId { db, shard }, |shard| {
                for pos in 0..shard.slot_count() {
                    let Some(entry) = shard.entry_at(pos) else {
                        continue;
                    };
                    if entry.is_expired(now) {
                        continue;
                    }
                    let mut digest = [0u8; 20];
                    mix_digest(&mut digest, entry.key());
                    object_digest(&mut digest, entry);
                    xor_digest(&mut total, &digest);
                }
            });
        }
    }
    Ok(Reply::Status(hex(&total).into()))
}

/// DEBUG DIGEST-VALUE key [key ...]: each value's digest (40 zeros for a missing key).
pub fn value_digests(ctx: &mut Ctx<'_>, keys: &[Bytes]) -> CommandResult {
    let now = ctx.now_ms;
    let db = ctx.db();
    let ks = &ctx.state.keyspace;
    let mut out = Vec::with_capacity(keys.len());
    for key in keys {
        let hash = ks.hash(key);
        let id = crate::keyspace::ShardId {
            db,
            shard: ks.shard_of(hash),
        };
        let mut digest = [0u8; 20];
        ctx.with_shard(id, |shard| {
            if let Some(entry) = shard.get_mut(hash, key, now) {
                object_digest(&mut digest, entry);
            }
        });
        out.push(Reply::Status(hex(&digest).into()));
    }
    Ok(Reply::Array(out))
}

/// Redis's `getPositiveLongFromObjectOrReply`: an integer >= 0.
fn positive(arg: &[u8]) -> Result<u64, CommandError> {
    match crate::engine::args::parse_i64(arg) {
        Ok(n) if n >= 0 => Ok(n as u64),
        _ => Err(CommandError::err("value is out of range, must be positive")),
    }
}

/// DEBUG POPULATE count [prefix] [size]: string keys `<prefix>:<n>` (prefix `key`) holding
/// `value:<n>` (cut or zero-padded to `size` bytes when given), skipping keys that exist; not
/// logged, as Redis does not propagate them. With maxmemory set it stops once over the limit
/// (Redis fills on), so a large count cannot take unbounded memory past it.
pub fn populate(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CommandResult {
    let count = positive(&argv[2])?;
    let prefix: &[u8] = argv.get(3).map_or(b"key", |p| &p[..]);
    let size = match argv.get(4) {
        Some(arg) => Some(positive(arg)?),
        None => None,
    };
    let max_len = ctx
        .state
        .config
        .hot
        .proto_max_bulk_len
        .load(std::sync::atomic::Ordering::Relaxed)
        .max(0) as u64;
    if size.is_some_and(|s| s > max_len) {
        return Err(CommandError::err(
            "string exceeds maximum allowed size (proto-max-bulk-len)",
        ));
    }
    let maxmemory = ctx
        .state
        .config
        .hot
        .maxmemory
        .load(std::sync::atomic::Ordering::Relaxed);
    let now = ctx.now_ms;
    let db = ctx.db();
    let mut key = Vec::with_capacity(prefix.len() + 21);
    for n in 0..count {
        // The allocator's figure: summing the shards would lock the ones this command holds.
        if maxmemory > 0
            && n % 1024 == 0
            && crate::commands::server::info::allocator_stats().0 > maxmemory
        {
            return Err(CommandError::Oom);
        }
        key.clear();
        key.extend_from_slice(prefix);
        key.extend_from_slice(format!(":{n}").as_bytes());
        let (shard, hash) = ctx.shard(&key);
        if shard.contains(hash, &key, now) {
            continue;
        }
        let text = format!("value:{n}");
        let value = match size {
            None => text.into_bytes(),
            Some(size) => {
                let mut v = vec![0u8; size as usize];
                let k = text.len().min(v.len());
                v[..k].copy_from_slice(&text.as_bytes()[..k]);
                v
            }
        };
        shard.insert_str(hash, &key, &value, None, now);
        ctx.key_changed(db, &key);
    }
    ctx.propagate_nothing();
    Ok(Reply::Ok)
}

/// Runs blocking work (disk, a bounded wait) inside `block_in_place` on a multi-thread runtime.
fn off_worker<R>(f: impl FnOnce() -> R) -> R {
    match tokio::runtime::Handle::try_current() {
        Ok(handle) if handle.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => {
            tokio::task::block_in_place(f)
        }
        _ => f(),
    }
}
