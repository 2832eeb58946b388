//! AOF rewrite (BGREWRITEAOF, automatic rewrite, turning AOF on at runtime): a new base written
//! from a consistent snapshot while clients keep being served.
//!
//! 1. With every shard held for an instant, start a snapshot (keyspace/snapshot.rs) and put a
//!    rotation marker in the log: writes after the instant go to a new incr file, which the
//!    manifest names before anything is written to it. A crash from here on still loads the
//!    old base + old incrs + the new incr.
//! 2. A thread writes the snapshot as commands to `temp-rewriteaof-bg-<pid>.aof` and fsyncs it.
//! 3. The temp file becomes `<prefix>.<seq+1>.base.aof`; the manifest switches to the new base
//!    and the incr files from the marker on (written to a temp manifest, fsynced, renamed, the
//!    directory fsynced); the old files become history and are deleted.

use super::layout::{sync_dir, Layout, Rotation};
use super::manifest::{AofFile, FileKind};
use super::reader::encode_command;
use super::unix_ms;
use super::{Aof, Handle, Host};
use crate::config::Config;
use crate::keyspace::snapshot::SnapshotReader;
use crate::keyspace::{ShardId, Value};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

/// Elements per command when a collection is written as commands (Redis's
/// AOF_REWRITE_ITEMS_PER_CMD).
pub const ITEMS_PER_COMMAND: usize = 64;
/// How often the automatic-rewrite rule is checked.
const AUTO_CHECK_EVERY: Duration = Duration::from_millis(100);
/// Wait after a failed rewrite before the automatic rule tries again.
const AUTO_RETRY_AFTER_FAILURE_MS: u64 = 60_000;
/// Buffered bytes before the base writer hands them to the file.
const WRITE_CHUNK_BYTES: usize = 64 * 1024;

pub const IN_PROGRESS: &str = "ERR Background append only file rewriting already in progress";

/// What the rewrite does besides writing a base.
enum Mode {
    /// AOF is on: rotate to a new incr file at the snapshot instant.
    Rewrite,
    /// AOF is being turned on: logging starts at the snapshot instant in this layout's incr.
    Enable(Layout, std::fs::File, u64),
    /// AOF is off (BGREWRITEAOF anyway): write a base and an empty incr, log nothing.
    Offline(Layout),
}

/// Starts a background rewrite (BGREWRITEAOF).
pub fn start(server: Arc<dyn Host>) -> Result<(), String> {
    let h = server.aof_handle();
    let mode = if h.aof.is_on() {
        Mode::Rewrite
    } else {
        Mode::Offline(next_layout(h.config)?)
    };
    spawn(&server, mode)
}

/// Turns AOF on at runtime (CONFIG SET appendonly yes): logging starts now, the manifest names
/// the new files once the first base is written.
pub fn enable(server: Arc<dyn Host>) -> Result<(), String> {
    let h = server.aof_handle();
    if h.aof.is_on() {
        return Ok(());
    }
    h.aof
        .set_policy(super::Fsync::parse(&h.config.get("appendfsync")));
    let layout = next_layout(h.config)?;
    let (file, len) = layout
        .open_incr(&layout.current_incr.name)
        .map_err(|e| format!("Can't open the append-only file: {e}"))?;
    spawn(&server, Mode::Enable(layout, file, len))
}

/// The directory's layout with a new incr file (not yet in the manifest).
fn next_layout(config: &Config) -> Result<Layout, String> {
    let dir = super::load::create_aof_dir(config)?;
    let prefix = config.get("appendfilename");
    let manifest = Layout::read_manifest(&dir, &prefix)
        .ok()
        .flatten()
        .unwrap_or_default();
    let seq = manifest.last_incr_seq() + 1;
    let current_incr = AofFile {
        name: format!("{prefix}.{seq}.incr.aof"),
        seq,
        kind: FileKind::Incr,
    };
    Ok(Layout {
        dir,
        prefix,
        manifest,
        current_incr,
    })
}

fn spawn(server: &Arc<dyn Host>, mode: Mode) -> Result<(), String> {
    let stats = &server.aof_handle().aof.stats;
    if stats.rewrite_in_progress.swap(true, Ordering::AcqRel) {
        return Err(IN_PROGRESS.into());
    }
    stats.rewrite_started_ms.store(unix_ms(), Ordering::Relaxed);
    let server = server.clone();
    let spawned = std::thread::Builder::new()
        .name("aof-rewrite".into())
        .spawn(move || {
            let started = std::time::Instant::now();
            let h = server.aof_handle();
            let result = rewrite(h, mode);
            let stats = &h.aof.stats;
            stats
                .last_rewrite_ms
                .store(started.elapsed().as_millis() as u64, Ordering::Relaxed);
            let ok = result.is_ok();
            match result {
                Ok(()) => {
                    stats.last_rewrite_ok.store(true, Ordering::Relaxed);
                    stats.rewrites_failed_in_a_row.store(0, Ordering::Relaxed);
                    tracing::info!("Background AOF rewrite finished successfully");
                }
                Err(e) => {
                    stats.last_rewrite_ok.store(false, Ordering::Relaxed);
                    stats
                        .rewrites_failed_in_a_row
                        .fetch_add(1, Ordering::Relaxed);
                    stats
                        .last_rewrite_failure_ms
                        .store(unix_ms(), Ordering::Relaxed);
                    tracing::warn!("Background AOF rewrite failed: {e}");
                }
            }
            // The end is published before the count: a client that sees `aof_rewrites` move
            // may start the next rewrite at once (Redis changes both in one step).
            stats.rewrite_in_progress.store(false, Ordering::Release);
            if ok {
                stats.rewrites.fetch_add(1, Ordering::Release);
            }
        });
    if let Err(e) = spawned {
        stats.rewrite_in_progress.store(false, Ordering::Release);
        return Err(format!("ERR Can't start the AOF rewrite: {e}"));
    }
    tracing::info!("Background append only file rewriting started");
    Ok(())
}

fn rewrite(h: Handle, mode: Mode) -> Result<(), String> {
    let ks = h.keyspace;
    let ids: Vec<ShardId> = ks.all_shards().collect();
    let (rotated_tx, rotated_rx) = std::sync::mpsc::channel();
    // The instant: every shard held, the snapshot starts and the log switches files. Taken
    // in a shared section, so never in the middle of a script or transaction (those lock
    // shards in any order, which lock_sorted beside them could deadlock with).
    let section = h.gate.shared_blocking();
    let mut held = ks.lock_sorted(&ids);
    let Some(snapshot) = ks.begin_snapshot(&mut held) else {
        return Err("another snapshot is running".into());
    };
    // Functions libraries as of the same instant (FUNCTION LOAD and friends hold every shard).
    let functions = h.functions.library_codes();
    let (offline, dir) = match mode {
        Mode::Rewrite => {
            let mut pipe = h.aof.pipe.lock();
            let at = pipe.end;
            pipe.rotations
                .push_back((at, Rotation { done: rotated_tx }));
            pipe.db = None;
            drop(pipe);
            h.aof.wake.notify_one();
            let dir = h.aof.layout.lock().as_ref().map(|l| l.dir.clone());
            (None, dir)
        }
        Mode::Enable(layout, file, len) => {
            let _ = rotated_tx.send(Ok(layout.current_incr.seq));
            let dir = layout.dir.clone();
            *h.aof.layout.lock() = Some(layout);
            h.aof.start(file, len);
            (None, Some(dir))
        }
        Mode::Offline(layout) => {
            let _ = rotated_tx.send(Ok(layout.current_incr.seq));
            let dir = layout.dir.clone();
            (Some(layout), Some(dir))
        }
    };
    // Before any early return: ending the snapshot locks shards.
    drop(held);
    drop(section);
    let dir = dir.ok_or("AOF is off")?;
    let temp = dir.join(format!("temp-rewriteaof-bg-{}.aof", std::process::id()));
    // aof-use-rdb-preamble (default yes, as in Redis): the base is an RDB file.
    let rdb = h.config.get_bool("aof-use-rdb-preamble");
    let written = if rdb {
        write_rdb_base(h.config, &temp, snapshot, &functions, h.clock.now_ms())
    } else {
        write_base(h.config, &temp, snapshot, &functions, h.clock.now_ms())
    };
    let first_kept = rotated_rx
        .recv()
        .map_err(|_| "the AOF writer stopped".to_string())
        .and_then(|r| r);
    let result = written.and(first_kept).and_then(|first_kept| {
        install(h.aof, offline, &temp, first_kept, rdb).map_err(|e| crate::config::strerror(&e))
    });
    if result.is_err() {
        let _ = std::fs::remove_file(&temp);
    }
    result
}

fn install(
    aof: &Aof,
    offline: Option<Layout>,
    temp: &Path,
    first_kept: u64,
    rdb: bool,
) -> std::io::Result<()> {
    let mut guard;
    let mut local;
    let layout = match offline {
        Some(layout) => {
            local = layout;
            let (_file, _) = local.open_incr(&local.current_incr.name)?;
            &mut local
        }
        None => {
            guard = aof.layout.lock();
            guard
                .as_mut()
                .ok_or_else(|| std::io::Error::other("AOF was turned off"))?
        }
    };
    layout.install_base(temp, first_kept, rdb)?;
    let (base, total) = layout.sizes();
    let stats = &aof.stats;
    stats.base_size.store(base, Ordering::Relaxed);
    stats.current_size.store(total, Ordering::Relaxed);
    stats.rewrite_base_size.store(total, Ordering::Relaxed);
    Ok(())
}

/// Writes the snapshot as an RDB file (the base Redis writes with aof-use-rdb-preamble yes),
/// then fsyncs the file and its directory.
fn write_rdb_base(
    config: &Config,
    path: &PathBuf,
    snapshot: SnapshotReader<'_>,
    functions: &[bytes::Bytes],
    now_ms: u64,
) -> Result<(), String> {
    let io = |e: std::io::Error| crate::config::strerror(&e);
    let file = std::fs::File::create(path).map_err(io)?;
    let aux = [
        ("redis-ver", crate::config::REDIS_VERSION.to_string()),
        ("redis-bits", "64".to_string()),
        ("ctime", (now_ms / 1000).to_string()),
        ("aof-base", "1".to_string()),
    ];
    let mut w = crate::rdb::write::FileWriter::begin(
        std::io::BufWriter::with_capacity(WRITE_CHUNK_BYTES, file),
        config.get_bool("rdbcompression"),
        config.get_bool("rdbchecksum"),
        &aux,
    )
    .map_err(io)?;
    for code in functions {
        w.function(code).map_err(io)?;
    }
    let mut db = None;
    for copy in snapshot {
        for entry in copy.entries {
            if entry.expire_at_ms.is_some_and(|at| at <= now_ms) {
                continue;
            }
            if db != Some(copy.id.db) {
                w.select_db(copy.id.db, 0, 0).map_err(io)?;
                db = Some(copy.id.db);
            }
            crate::rdb::debug_delay(config.hot.rdb_key_save_delay.load(Ordering::Relaxed));
            w.key(&entry.key, entry.value.as_ref(), entry.expire_at_ms)
                .map_err(io)?;
        }
    }
    let (sink, _) = w.finish().map_err(io)?;
    let file = sink.into_inner().map_err(|e| io(e.into_error()))?;
    file.sync_all().map_err(io)?;
    if let Some(dir) = path.parent() {
        sync_dir(dir).map_err(io)?;
    }
    Ok(())
}

/// Writes every key of the snapshot as commands, then fsyncs the file and its directory.
fn write_base(
    config: &Config,
    path: &PathBuf,
    snapshot: SnapshotReader<'_>,
    functions: &[bytes::Bytes],
    now_ms: u64,
) -> Result<(), String> {
    let delay = &config.hot.rdb_key_save_delay;
    let io = |e: std::io::Error| crate::config::strerror(&e);
    let mut file = std::fs::File::create(path).map_err(io)?;
    let mut buf = Vec::with_capacity(WRITE_CHUNK_BYTES * 2);
    // Functions first, as Redis writes them.
    for code in functions {
        encode_command(&mut buf, &[b"FUNCTION".as_slice(), b"LOAD", code]);
    }
    let mut db = None;
    for copy in snapshot {
        for entry in copy.entries {
            if entry.expire_at_ms.is_some_and(|at| at <= now_ms) {
                continue;
            }
            if db != Some(copy.id.db) {
                let n = copy.id.db.to_string();
                encode_command(&mut buf, &[b"SELECT".as_slice(), n.as_bytes()]);
                db = Some(copy.id.db);
            }
            crate::rdb::debug_delay(delay.load(Ordering::Relaxed));
            value_commands(&mut buf, &entry.key, &entry.value)?;
            if let Some(at) = entry.expire_at_ms {
                let at = at.to_string();
                encode_command(
                    &mut buf,
                    &[b"PEXPIREAT".as_slice(), &entry.key, at.as_bytes()],
                );
            }
            if buf.len() >= WRITE_CHUNK_BYTES {
                file.write_all(&buf).map_err(io)?;
                buf.clear();
            }
        }
    }
    file.write_all(&buf).map_err(io)?;
    file.sync_all().map_err(io)?;
    if let Some(dir) = path.parent() {
        sync_dir(dir).map_err(io)?;
    }
    Ok(())
}

/// The commands that rebuild one value: one match arm per type. Collections are written
/// ITEMS_PER_COMMAND elements per command, as redis-server rewrites them.
pub fn value_commands(out: &mut Vec<u8>, key: &[u8], value: &Value) -> Result<(), String> {
    use std::borrow::Cow;
    match value {
        Value::Str(bytes) => encode_command(out, &[b"SET".as_slice(), key, bytes]),
        Value::List(list) => chunked(out, b"RPUSH", key, list.iter().map(|v| [Cow::Borrowed(v)])),
        Value::Set(set) => chunked(out, b"SADD", key, set.iter().map(|m| [m.into_cow()])),
        Value::Hash(hash) => {
            chunked(
                out,
                b"HSET",
                key,
                hash.iter()
                    .map(|(f, v)| [Cow::Borrowed(f), Cow::Borrowed(v)]),
            );
            // Field deadlines (Redis 7.4), absolute; one already past deletes its field on
            // replay.
            for (field, at) in hash.field_deadlines() {
                let at = at.to_string();
                encode_command(
                    out,
                    &[
                        b"HPEXPIREAT".as_slice(),
                        key,
                        at.as_bytes(),
                        b"FIELDS",
                        b"1",
                        field,
                    ],
                );
            }
        }
        Value::ZSet(zset) => chunked(
            out,
            b"ZADD",
            key,
            zset.iter().map(|(member, score)| {
                let score = crate::protocol::reply::format_double(score).into_bytes();
                [Cow::Owned(score), Cow::Borrowed(member)]
            }),
        ),
        Value::Stream(stream) => stream_commands(out, key, stream),
    }
    Ok(())
}

/// The commands that rebuild a stream, as Redis's `rewriteStreamObject`: one XADD per entry
/// (or, for an empty stream, an XADD trimmed away at once), XSETID with the counters, then
/// per group XGROUP CREATE, an XCLAIM per pending entry and XGROUP CREATECONSUMER for the
/// consumers without pending entries.
fn stream_commands(out: &mut Vec<u8>, key: &[u8], s: &crate::keyspace::types::StreamValue) {
    let id = |id: crate::keyspace::types::stream::StreamId| id.to_bytes().to_vec();
    if s.is_empty() {
        let last = id(s.last_id);
        encode_command(
            out,
            &[b"XADD".as_slice(), key, b"MAXLEN", b"0", &last, b"x", b"y"],
        );
    } else {
        for (_, _, entries) in s.blocks() {
            for (eid, fields) in entries {
                let eid = id(eid);
                let mut argv: Vec<&[u8]> = vec![b"XADD", key, &eid];
                for (f, v) in &fields {
                    argv.push(f);
                    argv.push(v);
                }
                encode_command(out, &argv);
            }
        }
    }
    let last = id(s.last_id);
    let added = s.entries_added.to_string();
    let maxdel = id(s.max_deleted);
    encode_command(
        out,
        &[
            b"XSETID".as_slice(),
            key,
            &last,
            b"ENTRIESADDED",
            added.as_bytes(),
            b"MAXDELETEDID",
            &maxdel,
        ],
    );
    for (name, g) in &s.groups {
        let gl = id(g.last_id);
        let read = g.entries_read.map_or(-1, |n| n as i64).to_string();
        encode_command(
            out,
            &[
                b"XGROUP".as_slice(),
                b"CREATE",
                key,
                name,
                &gl,
                b"ENTRIESREAD",
                read.as_bytes(),
            ],
        );
        for (pid, p) in &g.pel {
            let pid = id(*pid);
            let time = p.delivery_time.to_string();
            let count = p.delivery_count.to_string();
            encode_command(
                out,
                &[
                    b"XCLAIM".as_slice(),
                    key,
                    name,
                    &p.consumer,
                    b"0",
                    &pid,
                    b"TIME",
                    time.as_bytes(),
                    b"RETRYCOUNT",
                    count.as_bytes(),
                    b"JUSTID",
                    b"FORCE",
                ],
            );
        }
        for (cname, c) in &g.consumers {
            if c.pel.is_empty() {
                encode_command(
                    out,
                    &[b"XGROUP".as_slice(), b"CREATECONSUMER", key, name, cname],
                );
            }
        }
    }
}

/// Writes `<cmd> key element...` commands of at most ITEMS_PER_COMMAND elements each (an
/// element is one argument, or a pair such as field and value).
fn chunked<'a, const N: usize>(
    out: &mut Vec<u8>,
    cmd: &[u8],
    key: &[u8],
    elements: impl Iterator<Item = [std::borrow::Cow<'a, [u8]>; N]>,
) {
    let mut argv: Vec<std::borrow::Cow<'_, [u8]>> = vec![cmd.into(), key.into()];
    let mut count = 0;
    for element in elements {
        argv.extend(element);
        count += 1;
        if count == ITEMS_PER_COMMAND {
            encode_command(out, &argv);
            argv.truncate(2);
            count = 0;
        }
    }
    if count > 0 {
        encode_command(out, &argv);
    }
}

/// Redis's automatic rewrite: when the log has grown by auto-aof-rewrite-percentage since the
/// last rewrite (or load) and is over auto-aof-rewrite-min-size.
pub async fn auto_rewrite_task(server: Arc<dyn Host>) {
    let mut tick = tokio::time::interval(AUTO_CHECK_EVERY);
    loop {
        tick.tick().await;
        let h = server.aof_handle();
        let aof = h.aof;
        if !aof.is_on() || aof.stats.rewrite_in_progress.load(Ordering::Acquire) {
            continue;
        }
        let percentage = h.config.get_i64("auto-aof-rewrite-percentage");
        let min_size = h.config.get_i64("auto-aof-rewrite-min-size").max(0) as u64;
        if percentage <= 0 {
            continue;
        }
        let current = aof.stats.current_size.load(Ordering::Relaxed);
        let base = aof.stats.rewrite_base_size.load(Ordering::Relaxed).max(1);
        if current <= min_size || current <= base {
            continue;
        }
        // After a failure (disk full...), retry at most once a minute, as Redis.
        let failed_at = aof.stats.last_rewrite_failure_ms.load(Ordering::Relaxed);
        if aof.stats.rewrites_failed_in_a_row.load(Ordering::Relaxed) > 0
            && unix_ms().saturating_sub(failed_at) < AUTO_RETRY_AFTER_FAILURE_MS
        {
            continue;
        }
        let growth = (current - base) * 100 / base;
        if growth >= percentage as u64 {
            tracing::info!("Starting automatic rewriting of AOF on {growth}% growth");
            let _ = start(server.clone());
        }
    }
}
