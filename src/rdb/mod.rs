//! RDB snapshots: the dump.rdb file Redis reads and writes, and DUMP/RESTORE payloads.
//!
//! A save takes a point-in-time snapshot of every database, serializes it to
//! `<dir>/temp-<pid>.rdb`, fsyncs it, renames it over `<dir>/<dbfilename>` and fsyncs the
//! directory, so a crash at any moment leaves the previous file whole. SAVE runs it on the
//! calling thread; BGSAVE and the save points on a thread of their own while clients keep
//! being served. Start-up loads the file (unless the AOF is on: then the AOF is the source of
//! truth, as in Redis). See docs/persistence-rdb.md.

pub mod check;
pub mod crc64;
pub mod format;
pub mod lzf;
pub mod read;
pub mod source;
pub mod stream;
pub mod values;
pub mod write;

use crate::clock::Clock;
use crate::config::Config;
use crate::keyspace::{Keyspace, ShardId, Value, ValueRef};
use parking_lot::Mutex;
use read::Event;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock, Weak};
use std::time::{Duration, Instant};

/// Redis's CONFIG_BGSAVE_RETRY_DELAY: after a failed background save, save points wait this
/// long before trying again.
const BGSAVE_RETRY_DELAY_MS: u64 = 5_000;
/// How often the save points are checked (Redis's serverCron runs at hz 10).
const CRON_PERIOD_MS: u64 = 100;
/// The longest BGSAVE waits for its snapshot instant before replying.
const SNAPSHOT_START_WAIT: Duration = Duration::from_secs(30);

/// What saving and loading use of the server, borrowed for one call
/// (the server state's `rdb_handle`).
pub struct Handle<'a> {
    pub keyspace: &'a Keyspace,
    pub config: &'a Config,
    pub clock: &'a Clock,
    pub rdb: &'a RdbState,
    /// The server's count of changes (`stats.dirty`), for save points.
    pub dirty: &'a AtomicU64,
    /// Unix seconds of the last successful save (LASTSAVE).
    pub last_save_unix: &'a AtomicU64,
    /// A snapshot's instant is taken in a shared section, never inside a script or transaction.
    pub gate: &'a crate::gate::Gate,
    /// The Redis Functions libraries, saved in and loaded from the file.
    pub functions: &'a dyn Libraries,
}

/// The Redis Functions libraries as files hold them: their code, saved as is and loaded back
/// (the scripting engine implements it, so persistence does not depend on the Lua engine).
pub trait Libraries: Send + Sync {
    /// Every library's code.
    fn library_codes(&self) -> Vec<bytes::Bytes>;
    /// Loads one library from a file, replacing one of the same name; the library's name.
    fn load_persisted(&self, code: &[u8]) -> Result<String, String>;
}

/// Lends a background save thread the server's parts (the server implements it, so this
/// module does not depend on the server's state).
pub trait Host: Send + Sync {
    fn rdb_handle(&self) -> Handle<'_>;
}

/// Save bookkeeping for INFO persistence, LASTSAVE, save points and MISCONF.
pub struct RdbState {
    /// Held by whichever save is running, so saves never overlap.
    save_lock: Mutex<()>,
    bgsave_in_progress: AtomicBool,
    bgsave_started_unix_ms: AtomicU64,
    last_bgsave_ok: AtomicBool,
    last_bgsave_secs: AtomicI64,
    last_bgsave_try_unix_ms: AtomicU64,
    /// Set by BGSAVE SCHEDULE (or inside MULTI) while another snapshot runs.
    bgsave_scheduled: AtomicBool,
    saves: AtomicU64,
    /// `stats.dirty` at the instant of the last successful save's snapshot.
    dirty_at_save: AtomicU64,
    keys_loaded: AtomicU64,
    keys_expired_on_load: AtomicU64,
    /// Bumped by FLUSHALL: a snapshot taken before it must not be installed.
    pub(crate) flush_epoch: AtomicU64,
    /// The server, for starting background saves from a command (set by `cron_task`).
    server: OnceLock<Weak<dyn Host>>,
    /// DEBUG SET-SKIP-CHECKSUM-VALIDATION: RESTORE and FUNCTION RESTORE accept a payload
    /// whose CRC-64 is wrong.
    pub skip_dump_checksum: AtomicBool,
}

impl Default for RdbState {
    fn default() -> Self {
        RdbState {
            save_lock: Mutex::new(()),
            bgsave_in_progress: AtomicBool::new(false),
            bgsave_started_unix_ms: AtomicU64::new(0),
            last_bgsave_ok: AtomicBool::new(true),
            last_bgsave_secs: AtomicI64::new(-1),
            last_bgsave_try_unix_ms: AtomicU64::new(0),
            bgsave_scheduled: AtomicBool::new(false),
            saves: AtomicU64::new(0),
            dirty_at_save: AtomicU64::new(0),
            keys_loaded: AtomicU64::new(0),
            keys_expired_on_load: AtomicU64::new(0),
            flush_epoch: AtomicU64::new(0),
            server: OnceLock::new(),
            skip_dump_checksum: AtomicBool::new(false),
        }
    }
}

/// The INFO persistence fields this module owns, in Redis's order.
pub fn info_fields(server: &Handle<'_>) -> Vec<(&'static str, String)> {
    let rdb = &server.rdb;
    let now_ms = server.clock.now_ms();
    let running = rdb.bgsave_in_progress.load(Ordering::Relaxed);
    let current = if running {
        (now_ms.saturating_sub(rdb.bgsave_started_unix_ms.load(Ordering::Relaxed)) / 1000) as i64
    } else {
        -1
    };
    let status = if rdb.last_bgsave_ok.load(Ordering::Relaxed) {
        "ok"
    } else {
        "err"
    };
    vec![
        (
            "rdb_changes_since_last_save",
            changes_since_save(server).to_string(),
        ),
        ("rdb_bgsave_in_progress", u8::from(running).to_string()),
        (
            "rdb_last_save_time",
            server.last_save_unix.load(Ordering::Relaxed).to_string(),
        ),
        ("rdb_last_bgsave_status", status.to_string()),
        (
            "rdb_last_bgsave_time_sec",
            rdb.last_bgsave_secs.load(Ordering::Relaxed).to_string(),
        ),
        ("rdb_current_bgsave_time_sec", current.to_string()),
        ("rdb_saves", rdb.saves.load(Ordering::Relaxed).to_string()),
        ("rdb_last_cow_size", "0".to_string()),
        (
            "rdb_last_load_keys_expired",
            rdb.keys_expired_on_load.load(Ordering::Relaxed).to_string(),
        ),
        (
            "rdb_last_load_keys_loaded",
            rdb.keys_loaded.load(Ordering::Relaxed).to_string(),
        ),
    ]
}

fn changes_since_save(server: &Handle<'_>) -> u64 {
    let dirty = crate::stats::ServerStats::get(server.dirty);
    dirty.saturating_sub(server.rdb.dirty_at_save.load(Ordering::Relaxed))
}

/// `save` as (seconds, changes) pairs; empty when saving is off.
pub fn save_points(config: &Config) -> Vec<(u64, u64)> {
    let words: Vec<u64> = config
        .get("save")
        .split_whitespace()
        .filter_map(|w| w.parse().ok())
        .collect();
    words.chunks_exact(2).map(|p| (p[0], p[1])).collect()
}

/// The MISCONF refusal Redis gives write commands (and PING) after a failed background save
/// while `stop-writes-on-bgsave-error` is on and save points are configured.
#[inline]
pub fn refuse_write(
    rdb: &RdbState,
    config: &Config,
    is_write_or_ping: bool,
) -> Option<crate::protocol::Reply> {
    if !is_write_or_ping || rdb.last_bgsave_ok.load(Ordering::Relaxed) {
        return None;
    }
    misconf(config)
}

#[cold]
fn misconf(config: &Config) -> Option<crate::protocol::Reply> {
    if !config.get_bool("stop-writes-on-bgsave-error") || save_points(config).is_empty() {
        return None;
    }
    Some(crate::protocol::Reply::error(
        "MISCONF Redis is configured to save RDB snapshots, but it's currently unable to persist \
         to disk. Commands that may modify the data set are disabled, because this instance is \
         configured to report errors during writes if RDB snapshotting fails \
         (stop-writes-on-bgsave-error option). Please check the Redis logs for details about the \
         RDB error.",
    ))
}

/// `<dir>/<dbfilename>`.
pub fn dump_path(config: &Config) -> PathBuf {
    Path::new(&config.get("dir")).join(config.get("dbfilename"))
}

/// One database at the snapshot instant, packed so that taking it costs one memcpy per key
/// rather than allocations: each key is a record `[deadline: u64 LE, u64::MAX for none]
/// [key length: u32 LE][key][value length: u64 LE][value]` in one arena. An aggregate is
/// deep-copied aside and its record holds `AGGREGATE` and its index instead of a value.
pub struct DbSnapshot {
    pub db: usize,
    arena: Vec<u8>,
    aggregates: Vec<Value>,
    keys: u64,
    expires: u64,
}

const NO_DEADLINE: u64 = u64::MAX;
const AGGREGATE: u64 = u64::MAX;

impl DbSnapshot {
    fn new(db: usize) -> DbSnapshot {
        DbSnapshot {
            db,
            arena: Vec::new(),
            aggregates: Vec::new(),
            keys: 0,
            expires: 0,
        }
    }

    pub fn len(&self) -> u64 {
        self.keys
    }

    pub fn is_empty(&self) -> bool {
        self.keys == 0
    }

    pub fn expires(&self) -> u64 {
        self.expires
    }

    fn push(&mut self, entry: &crate::keyspace::Entry) {
        let deadline = entry.expire_at_ms();
        self.keys += 1;
        self.expires += u64::from(deadline.is_some());
        let key = entry.key();
        self.arena
            .extend_from_slice(&deadline.unwrap_or(NO_DEADLINE).to_le_bytes());
        self.arena
            .extend_from_slice(&(key.len() as u32).to_le_bytes());
        self.arena.extend_from_slice(key);
        match entry.value() {
            ValueRef::Str(bytes) => {
                self.arena
                    .extend_from_slice(&(bytes.len() as u64).to_le_bytes());
                self.arena.extend_from_slice(bytes);
            }
            _ => {
                self.arena.extend_from_slice(&AGGREGATE.to_le_bytes());
                self.arena
                    .extend_from_slice(&(self.aggregates.len() as u64).to_le_bytes());
                self.aggregates.push(entry.to_value());
            }
        }
    }

    /// Calls `f(key, value, deadline)` for every key, in the order they were taken.
    pub fn for_each<E>(
        &self,
        mut f: impl FnMut(&[u8], ValueRef<'_>, Option<u64>) -> Result<(), E>,
    ) -> Result<(), E> {
        let arena = &self.arena[..];
        let u64_at = |at: usize| u64::from_le_bytes(arena[at..at + 8].try_into().expect("8"));
        let mut at = 0;
        while at < arena.len() {
            let deadline = Some(u64_at(at)).filter(|&d| d != NO_DEADLINE);
            let key_len =
                u32::from_le_bytes(arena[at + 8..at + 12].try_into().expect("4")) as usize;
            let key = &arena[at + 12..at + 12 + key_len];
            at += 12 + key_len;
            let value_len = u64_at(at);
            at += 8;
            if value_len == AGGREGATE {
                let index = u64_at(at) as usize;
                at += 8;
                f(key, self.aggregates[index].as_ref(), deadline)?;
            } else {
                let value = &arena[at..at + value_len as usize];
                at += value_len as usize;
                f(key, ValueRef::Str(value), deadline)?;
            }
        }
        Ok(())
    }
}

/// Every non-empty database at one instant, with what the file's header reports: either the
/// keyspace's copy-on-write snapshot (`stream`), or, when the keyspace runs as many snapshots
/// as it allows (`snapshot::SNAPSHOTS_MAX`), a copy taken under every shard lock (`dbs`).
pub struct Snapshot<'a> {
    pub dbs: Vec<DbSnapshot>,
    stream: Option<Streamed<'a>>,
    pub used_bytes: usize,
    /// `flush_epoch` at the instant: a FLUSHALL after it makes the snapshot obsolete.
    flush_epoch: u64,
}

/// The keyspace's snapshot being read shard by shard, with each database's counts at the
/// instant (for RESIZEDB) and the instant itself (keys already expired then are left out).
struct Streamed<'a> {
    reader: crate::keyspace::snapshot::SnapshotReader<'a>,
    counts: Vec<(u64, u64)>,
    now_ms: u64,
}

impl Snapshot<'_> {
    /// The snapshot of an empty server (what FLUSHALL leaves).
    fn empty(flush_epoch: u64) -> Snapshot<'static> {
        Snapshot {
            dbs: Vec::new(),
            stream: None,
            used_bytes: 0,
            flush_epoch,
        }
    }
}

/// A point-in-time view of every non-empty database: every shard is held at once (the same
/// instant a transaction sees) while the keyspace's copy-on-write snapshot starts. Only when
/// no snapshot slot is free are the entries copied under those locks instead (clients then
/// wait for the copy, not for the disk; see docs/persistence-rdb.md).
pub fn snapshot<'a>(ks: &'a Keyspace, now_ms: u64, flush_epoch: &AtomicU64) -> Snapshot<'a> {
    snapshot_with(ks, now_ms, flush_epoch, || {})
}

/// `snapshot`, calling `at_instant` while every shard is held (a full sync reads the
/// replication offset there: the stream after it holds exactly the writes the snapshot lacks).
pub fn snapshot_with<'a>(
    ks: &'a Keyspace,
    now_ms: u64,
    flush_epoch: &AtomicU64,
    at_instant: impl FnOnce(),
) -> Snapshot<'a> {
    let ids: Vec<ShardId> = ks.all_shards().collect();
    let mut held = ks.lock_sorted(&ids);
    at_instant();
    // FLUSHALL bumps the epoch while it holds every shard, so this read is of the instant.
    let epoch = flush_epoch.load(Ordering::Acquire);
    let mut counts = vec![(0u64, 0u64); ks.databases()];
    for (id, shard) in held.iter() {
        counts[id.db].0 += shard.len() as u64;
        counts[id.db].1 += shard.volatile_len() as u64;
    }
    let used: usize = held.iter().map(|(_, shard)| shard.used_bytes()).sum();
    if let Some(reader) = ks.begin_snapshot(&mut held) {
        drop(held);
        return Snapshot {
            dbs: Vec::new(),
            stream: Some(Streamed {
                reader,
                counts,
                now_ms,
            }),
            used_bytes: used,
            flush_epoch: epoch,
        };
    }
    let mut used_bytes = 0;
    let mut dbs: Vec<DbSnapshot> = Vec::new();
    for (id, shard) in held.iter() {
        used_bytes += shard.used_bytes();
        if dbs.last().is_none_or(|d| d.db != id.db) {
            dbs.push(DbSnapshot::new(id.db));
        }
        let db = dbs.last_mut().expect("pushed above");
        db.arena.reserve(shard.used_bytes());
        for pos in 0..shard.slot_count() {
            let Some(entry) = shard.entry_at(pos) else {
                continue;
            };
            if !entry.is_expired(now_ms) {
                db.push(entry);
            }
        }
    }
    drop(held);
    dbs.retain(|d| !d.is_empty());
    Snapshot {
        dbs,
        stream: None,
        used_bytes,
        flush_epoch: epoch,
    }
}

/// Why a save did not replace the file.
#[derive(Debug)]
enum SaveError {
    Io(String),
    /// A FLUSHALL ran after the snapshot's instant: writing it would bring flushed keys back.
    Obsolete,
}

/// Writes a snapshot to `path` through a temp file in the same directory: write, fsync,
/// rename, fsync the directory. On error the temp file is removed and `path` is untouched.
/// `still_wanted` is asked just before the rename; when it says no, nothing replaces `path`.
pub fn write_file(
    server: &Handle<'_>,
    snap: Snapshot<'_>,
    path: &Path,
    still_wanted: impl Fn() -> bool,
) -> std::io::Result<u64> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let temp = dir.join(format!("temp-{}.rdb", std::process::id()));
    let result = write_temp(server, snap, &temp).and_then(|len| {
        if !still_wanted() {
            return Err(std::io::Error::from(std::io::ErrorKind::Interrupted));
        }
        std::fs::rename(&temp, path)?;
        std::fs::File::open(dir)?.sync_all()?;
        Ok(len)
    });
    if result.is_err() {
        let _ = std::fs::remove_file(&temp);
    }
    result
}

fn write_temp(server: &Handle<'_>, snap: Snapshot<'_>, temp: &Path) -> std::io::Result<u64> {
    let file = std::fs::File::create(temp)?;
    let (sink, len) = write_to(
        server,
        snap,
        std::io::BufWriter::with_capacity(1 << 20, file),
        &[],
    )?;
    let file = sink.into_inner().map_err(|e| e.into_error())?;
    file.sync_all()?;
    Ok(len)
}

/// Writes a whole RDB file of `snap` to `sink` (a file, or a replica's socket for a diskless
/// full sync), with `extra_aux` after Redis's AUX fields. Returns the sink and the length.
pub fn write_to<W: std::io::Write>(
    server: &Handle<'_>,
    snap: Snapshot<'_>,
    sink: W,
    extra_aux: &[(&str, String)],
) -> std::io::Result<(W, u64)> {
    let now_secs = server.clock.now_ms() / 1000;
    let mut aux = vec![
        ("redis-ver", crate::config::REDIS_VERSION.to_string()),
        ("redis-bits", "64".to_string()),
        ("ctime", now_secs.to_string()),
        ("used-mem", snap.used_bytes.to_string()),
    ];
    aux.extend(extra_aux.iter().cloned());
    aux.push(("aof-base", "0".to_string()));
    let mut w = write::FileWriter::begin(
        sink,
        server.config.get_bool("rdbcompression"),
        server.config.get_bool("rdbchecksum"),
        &aux,
    )?;
    for code in server.functions.library_codes() {
        w.function(&code)?;
    }
    write_body(&mut w, snap, &server.config.hot.rdb_key_save_delay)?;
    w.finish()
}

/// Writes every key of a snapshot, database by database, sleeping `delay` (rdb-key-save-delay,
/// read for each key) after each.
fn write_body<W: std::io::Write>(
    w: &mut write::FileWriter<W>,
    snap: Snapshot<'_>,
    delay: &AtomicI64,
) -> std::io::Result<()> {
    for db in &snap.dbs {
        w.select_db(db.db, db.len(), db.expires())?;
        db.for_each(|key, value, deadline| {
            debug_delay(delay.load(Ordering::Relaxed));
            w.key(key, value, deadline)
        })?;
    }
    if let Some(stream) = snap.stream {
        let mut current_db = None;
        for copy in stream.reader {
            let db = copy.id.db;
            for e in copy.entries {
                if e.expire_at_ms.is_some_and(|at| at < stream.now_ms) {
                    continue;
                }
                if current_db != Some(db) {
                    let (keys, expires) = stream.counts[db];
                    w.select_db(db, keys, expires)?;
                    current_db = Some(db);
                }
                debug_delay(delay.load(Ordering::Relaxed));
                w.key(&e.key, e.value.as_ref(), e.expire_at_ms)?;
            }
        }
    }
    Ok(())
}

/// Takes a snapshot and writes it (the body of SAVE, BGSAVE and the shutdown save). Updates
/// LASTSAVE and the change counter on success.
fn save_with(
    server: &Handle<'_>,
    snap: Snapshot<'_>,
    dirty_at_snapshot: u64,
) -> Result<u64, SaveError> {
    let path = dump_path(server.config);
    let epoch = snap.flush_epoch;
    let still_wanted = || server.rdb.flush_epoch.load(Ordering::Acquire) == epoch;
    match write_file(server, snap, &path, still_wanted) {
        Ok(len) => {
            let rdb = &server.rdb;
            rdb.dirty_at_save
                .store(dirty_at_snapshot, Ordering::Relaxed);
            rdb.saves.fetch_add(1, Ordering::Relaxed);
            rdb.last_bgsave_ok.store(true, Ordering::Relaxed);
            server
                .last_save_unix
                .store(server.clock.now_ms() / 1000, Ordering::Relaxed);
            Ok(len)
        }
        Err(e) if e.kind() == std::io::ErrorKind::Interrupted => Err(SaveError::Obsolete),
        Err(e) => Err(SaveError::Io(format!(
            "Failed opening the temp RDB file or writing {}: {e}",
            path.display()
        ))),
    }
}

/// What FLUSHALL does for the RDB, as Redis: with save points configured, the (now empty)
/// dataset is saved at once, so a restart does not bring flushed keys back; a background save
/// in progress is made obsolete (its file is not installed). Called with every shard held, so
/// it never takes shard locks; if a save holds the save lock, an empty save is scheduled.
pub fn after_flushall(server: &Handle<'_>) {
    let epoch = server.rdb.flush_epoch.fetch_add(1, Ordering::AcqRel) + 1;
    if save_points(server.config).is_empty() {
        return;
    }
    let Some(_one_at_a_time) = server.rdb.save_lock.try_lock() else {
        schedule_bgsave(server.rdb);
        return;
    };
    let dirty = crate::stats::ServerStats::get(server.dirty);
    match save_with(server, Snapshot::empty(epoch), dirty) {
        Ok(_) => tracing::info!("DB saved on disk (FLUSHALL)"),
        Err(e) => tracing::warn!("Saving the flushed dataset failed: {e:?}"),
    }
}

/// SAVE: a synchronous save on the calling thread (waits for a background save to finish).
pub fn save_foreground(server: &Handle<'_>) -> Result<(), String> {
    let _one_at_a_time = server.rdb.save_lock.lock();
    let started = Instant::now();
    let dirty = crate::stats::ServerStats::get(server.dirty);
    // The instant is taken in a shared section: never inside a script or transaction.
    let section = server.gate.shared_blocking();
    let snap = snapshot(
        server.keyspace,
        server.clock.now_ms(),
        &server.rdb.flush_epoch,
    );
    drop(section);
    match save_with(server, snap, dirty) {
        Ok(_) => {
            tracing::info!(
                "DB saved on disk ({:.3} s)",
                started.elapsed().as_secs_f64()
            );
            Ok(())
        }
        // Only FLUSHALL makes a snapshot obsolete, and it saved the empty dataset itself.
        Err(SaveError::Obsolete) => Ok(()),
        Err(SaveError::Io(e)) => {
            tracing::warn!("{e}");
            Err(e)
        }
    }
}

/// Why a background save did not start.
#[derive(Debug, PartialEq, Eq)]
pub enum BgsaveRefusal {
    AlreadyRunning,
    /// The server handle is missing (in-process tests without `cron_task`).
    NotAvailable,
}

/// BGSAVE: starts a save on its own thread. Returns once the snapshot instant is taken, so
/// writes acknowledged after the reply are not in the file, as with Redis's fork.
pub fn start_bgsave(server: &Handle<'_>) -> Result<(), BgsaveRefusal> {
    let host = server
        .rdb
        .server
        .get()
        .and_then(Weak::upgrade)
        .ok_or(BgsaveRefusal::NotAvailable)?;
    // See below: the cover for the save thread's instant.
    let section = server.gate.shared_blocking();
    if server.rdb.bgsave_in_progress.swap(true, Ordering::AcqRel) {
        return Err(BgsaveRefusal::AlreadyRunning);
    }
    let now_ms = server.clock.now_ms();
    server
        .rdb
        .bgsave_started_unix_ms
        .store(now_ms, Ordering::Relaxed);
    server
        .rdb
        .last_bgsave_try_unix_ms
        .store(now_ms, Ordering::Relaxed);
    let (instant_taken, wait_instant) = std::sync::mpsc::sync_channel::<()>(1);
    // The instant must not fall inside a script or transaction. This thread holds a gate
    // section while it waits (a BGSAVE command's own, or one entered above), which covers the
    // save thread's instant; the save thread enters a section itself only if that cover was
    // withdrawn (the wait timed out). It cannot enter one while we wait: an exclusive command
    // may be waiting for our section to end.
    let covered = Arc::new(parking_lot::Mutex::new(true));
    let cover = covered.clone();
    let spawned = std::thread::Builder::new()
        .name("rdb-bgsave".into())
        .spawn(move || bgsave_thread(&host.rdb_handle(), instant_taken, &cover));
    if spawned.is_err() {
        server
            .rdb
            .bgsave_in_progress
            .store(false, Ordering::Release);
        server.rdb.last_bgsave_ok.store(false, Ordering::Relaxed);
        return Err(BgsaveRefusal::NotAvailable);
    }
    if wait_instant.recv_timeout(SNAPSHOT_START_WAIT).is_err() {
        *covered.lock() = false;
    }
    drop(section);
    Ok(())
}

fn bgsave_thread(
    server: &Handle<'_>,
    instant_taken: std::sync::mpsc::SyncSender<()>,
    covered: &parking_lot::Mutex<bool>,
) {
    let _one_at_a_time = server.rdb.save_lock.lock();
    let started = Instant::now();
    let dirty = crate::stats::ServerStats::get(server.dirty);
    let cover = covered.lock();
    let (cover, section) = if *cover {
        (Some(cover), None)
    } else {
        drop(cover);
        (None, server.gate.shared_blocking())
    };
    let snap = snapshot(
        server.keyspace,
        server.clock.now_ms(),
        &server.rdb.flush_epoch,
    );
    drop(section);
    drop(cover);
    let _ = instant_taken.send(());
    tracing::info!("Background saving started");
    let result = save_with(server, snap, dirty);
    let rdb = &server.rdb;
    rdb.last_bgsave_secs
        .store(started.elapsed().as_secs() as i64, Ordering::Relaxed);
    match result {
        Ok(_) => tracing::info!("Background saving terminated with success"),
        // Redis kills its child on FLUSHALL without counting an error; so do we.
        Err(SaveError::Obsolete) => {
            tracing::warn!("Background saving discarded: FLUSHALL ran meanwhile")
        }
        Err(SaveError::Io(e)) => {
            tracing::warn!("{e}");
            tracing::warn!("Background saving error");
            rdb.last_bgsave_ok.store(false, Ordering::Relaxed);
        }
    }
    rdb.bgsave_in_progress.store(false, Ordering::Release);
}

/// True while a background save runs.
pub fn bgsave_running(rdb: &RdbState) -> bool {
    rdb.bgsave_in_progress.load(Ordering::Acquire)
}

/// Asks for a background save to start as soon as none is running (BGSAVE SCHEDULE).
pub fn schedule_bgsave(rdb: &RdbState) {
    rdb.bgsave_scheduled.store(true, Ordering::Relaxed);
}

/// serverCron's part for RDB: runs scheduled background saves and the save points
/// ("save <seconds> <changes>": save when at least `changes` writes happened and `seconds`
/// passed since the last successful save; after a failure, retry no sooner than 5 s).
pub async fn cron_task(host: Arc<dyn Host>) {
    let _ = host.rdb_handle().rdb.server.set(Arc::downgrade(&host));
    let mut tick = tokio::time::interval(Duration::from_millis(CRON_PERIOD_MS));
    loop {
        tick.tick().await;
        let due = {
            let server = host.rdb_handle();
            !bgsave_running(server.rdb)
                && (server.rdb.bgsave_scheduled.swap(false, Ordering::Relaxed)
                    || save_point_reached(&server))
        };
        if due {
            let host = host.clone();
            let _ = tokio::task::spawn_blocking(move || start_bgsave(&host.rdb_handle())).await;
        }
    }
}

fn save_point_reached(server: &Handle<'_>) -> bool {
    let changes = changes_since_save(server);
    if changes == 0 {
        return false;
    }
    let now_ms = server.clock.now_ms();
    let since_save_secs =
        (now_ms / 1000).saturating_sub(server.last_save_unix.load(Ordering::Relaxed));
    let rdb = &server.rdb;
    let retry_ok = rdb.last_bgsave_ok.load(Ordering::Relaxed)
        || now_ms.saturating_sub(rdb.last_bgsave_try_unix_ms.load(Ordering::Relaxed))
            > BGSAVE_RETRY_DELAY_MS;
    retry_ok
        && save_points(server.config)
            .iter()
            .any(|&(secs, min_changes)| changes >= min_changes && since_save_secs >= secs)
}

/// Whether a shutdown saves: SHUTDOWN SAVE always, NOSAVE never, otherwise when save points
/// are configured (Redis's rule for SHUTDOWN and SIGTERM).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShutdownSave {
    Default,
    Save,
    NoSave,
}

/// The save a shutdown makes, if any. An error means the shutdown must not proceed (unless
/// forced), as Redis's "Error trying to save the DB, can't exit".
pub fn save_on_shutdown(server: &Handle<'_>, mode: ShutdownSave) -> Result<(), String> {
    let wanted = match mode {
        ShutdownSave::Save => true,
        ShutdownSave::NoSave => false,
        ShutdownSave::Default => !save_points(server.config).is_empty(),
    };
    if !wanted {
        return Ok(());
    }
    tracing::warn!("Saving the final RDB snapshot before exiting.");
    save_foreground(server).inspect_err(|_| {
        tracing::warn!("Error trying to save the DB, can't exit.");
    })
}

/// What a load did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct LoadStats {
    pub keys_loaded: u64,
    pub keys_expired: u64,
    pub empty_keys_skipped: u64,
    /// The Redis Functions libraries the file holds (their code), for the caller to load.
    pub functions: Vec<Vec<u8>>,
    /// The `repl-stream-db` AUX field: the database a replication stream that follows the
    /// file continues in (a full sync from a replica: its primary's stream goes on there).
    pub repl_stream_db: Option<usize>,
}

/// Loads a whole file's bytes, already in memory, into the keyspace. Keys already expired at
/// `now_ms` are skipped (and counted), as a Redis master does. Stops at the first error with
/// its offset.
pub fn load_bytes(
    ks: &Keyspace,
    config: &crate::config::Config,
    data: &[u8],
    now_ms: u64,
) -> Result<LoadStats, format::DecodeError> {
    let mut loader = KeyLoader::new(ks, config, now_ms, data.len());
    read::parse_file(data, |event| loader.apply(event))?;
    Ok(loader.stats)
}

/// Loads a file streamed through a window of `source::WINDOW_BYTES` (`len` is its length), as
/// `load_bytes` does: the checksum is verified in a first pass, before any key is inserted.
pub fn load_stream<R: std::io::Read + std::io::Seek>(
    ks: &Keyspace,
    config: &crate::config::Config,
    file: R,
    len: usize,
    now_ms: u64,
) -> Result<LoadStats, format::DecodeError> {
    load_stream_through(ks, config, file, len, source::WINDOW_BYTES, now_ms)
}

/// `load_stream` with a window of `window_bytes`.
pub fn load_stream_through<R: std::io::Read + std::io::Seek>(
    ks: &Keyspace,
    config: &crate::config::Config,
    file: R,
    len: usize,
    window_bytes: usize,
    now_ms: u64,
) -> Result<LoadStats, format::DecodeError> {
    let mut loader = KeyLoader::new(ks, config, now_ms, len);
    read::parse_stream(file, len, window_bytes, |event| loader.apply(event))?;
    Ok(loader.stats)
}

/// `load_stream` into a dataset that may hold some of the file's keys already: the file's
/// version replaces them (DEBUG RELOAD NOFLUSH MERGE).
pub fn load_stream_merging<R: std::io::Read + std::io::Seek>(
    ks: &Keyspace,
    config: &crate::config::Config,
    file: R,
    len: usize,
    now_ms: u64,
) -> Result<LoadStats, format::DecodeError> {
    let mut loader = KeyLoader::new(ks, config, now_ms, len);
    loader.merge = true;
    read::parse_stream(file, len, source::WINDOW_BYTES, |event| loader.apply(event))?;
    Ok(loader.stats)
}

/// Opens a file for `load_stream`: the file and its length.
/// (The source reads whole windows itself, so no `BufReader` in between.)
pub fn open_for_load(path: &Path) -> std::io::Result<(std::fs::File, usize)> {
    let file = std::fs::File::open(path)?;
    let len = usize::try_from(file.metadata()?.len()).unwrap_or(usize::MAX);
    Ok((file, len))
}

/// Redis's `debugDelay`, for rdb-key-save-delay and key-load-delay: sleeps `usec` microseconds;
/// a negative -N sleeps one microsecond for one call in N on average (short delays without a
/// system call per key).
pub fn debug_delay(usec: i64) {
    let usec = match usec {
        0 => return,
        n if n < 0 => {
            thread_local! {
                static STATE: std::cell::Cell<u64> = const { std::cell::Cell::new(0x9E37_79B9_7F4A_7C15) };
            }
            // xorshift64: a cheap draw, seeded per thread.
            let draw = STATE.with(|s| {
                let mut x = s.get();
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                s.set(x);
                x
            });
            if !draw.is_multiple_of(n.unsigned_abs()) {
                return;
            }
            1
        }
        n => n as u64,
    };
    std::thread::sleep(std::time::Duration::from_micros(usec));
}

/// Inserts the keys of a parse into the keyspace.
struct KeyLoader<'k> {
    ks: &'k Keyspace,
    /// key-load-delay, read for each key.
    delay: &'k AtomicI64,
    limits: values::Limits,
    now_ms: u64,
    file_bytes: usize,
    db: usize,
    stats: LoadStats,
    /// A key already in memory is replaced instead of failing the load (DEBUG RELOAD MERGE).
    merge: bool,
}

impl<'k> KeyLoader<'k> {
    fn new(
        ks: &'k Keyspace,
        config: &'k crate::config::Config,
        now_ms: u64,
        file_bytes: usize,
    ) -> KeyLoader<'k> {
        KeyLoader {
            ks,
            delay: &config.hot.key_load_delay,
            limits: values::Limits::from_config(config),
            now_ms,
            file_bytes,
            db: 0,
            stats: LoadStats::default(),
            merge: false,
        }
    }

    fn apply(&mut self, event: Event<'_>) -> Result<(), String> {
        let ks = self.ks;
        let record = match event {
            Event::Key(record) => {
                debug_delay(self.delay.load(Ordering::Relaxed));
                record
            }
            Event::SelectDb(n) => {
                self.db = n;
                return Ok(());
            }
            Event::ResizeDb { keys, .. } => {
                reserve_db(ks, self.db, keys, self.file_bytes);
                return Ok(());
            }
            Event::Aux(key, value) => {
                if key.as_ref() == b"repl-stream-db" {
                    self.stats.repl_stream_db = std::str::from_utf8(&value)
                        .ok()
                        .and_then(|v| v.parse().ok());
                }
                return Ok(());
            }
            Event::Function(code) => {
                self.stats.functions.push(code.into_owned());
                return Ok(());
            }
        };
        if record.db >= ks.databases() {
            return Err(format!(
                "key in database {} but only {} databases are configured (raise `databases`)",
                record.db,
                ks.databases()
            ));
        }
        if record.expire_at_ms.is_some_and(|at| at < self.now_ms) {
            self.stats.keys_expired += 1;
            return Ok(());
        }
        if record.value.is_empty_aggregate() {
            self.stats.empty_keys_skipped += 1;
            return Ok(());
        }
        let value = values::to_value(record.value, &self.limits)
            .map_err(|e| format!("key '{}': {e}", String::from_utf8_lossy(&record.key)))?;
        let hash = ks.hash(&record.key);
        let id = ShardId {
            db: record.db,
            shard: ks.shard_of(hash),
        };
        let mut shard = ks.lock(id);
        let mut entry =
            crate::keyspace::Entry::new(&record.key, value, record.expire_at_ms, shard.arena());
        if let Some(access) = loaded_access(record.idle_secs, record.freq, self.now_ms) {
            entry.set_access(access);
        }
        if shard.insert_entry(hash, entry, self.now_ms).is_some() && !self.merge {
            return Err(format!(
                "duplicate key '{}'",
                String::from_utf8_lossy(&record.key)
            ));
        }
        self.stats.keys_loaded += 1;
        Ok(())
    }
}

/// Sizes a database's shard tables for `keys` keys spread evenly (RESIZEDB's hint), so a load
/// does not rehash as it grows. The hint comes from the file, so it is capped by what the file
/// can hold: every key takes at least 4 bytes (type, key length, key, value length).
fn reserve_db(ks: &Keyspace, db: usize, keys: u64, file_bytes: usize) {
    if db >= ks.databases() {
        return;
    }
    let keys = keys.min(file_bytes as u64 / 4) as usize;
    let per_shard = keys.div_ceil(ks.shards_per_db());
    for shard in 0..ks.shards_per_db() {
        ks.lock(ShardId { db, shard }).reserve(per_shard);
    }
}

/// Access bits from a file's IDLE / FREQ opcodes (RESTORE's IDLETIME / FREQ too).
pub fn loaded_access(idle_secs: Option<u64>, freq: Option<u8>, now_ms: u64) -> Option<u32> {
    use crate::keyspace::access;
    if idle_secs.is_none() && freq.is_none() {
        return None;
    }
    let counter = freq.map_or(access::LFU_INIT_VAL, u32::from);
    let clock = match idle_secs {
        Some(idle) => {
            let now = access::clock_secs(now_ms);
            let idle = (idle.min(u64::from(access::LRU_CLOCK_MASK))) as u32;
            now.wrapping_sub(idle) & access::LRU_CLOCK_MASK
        }
        None => access::clock_secs(now_ms),
    };
    Some(counter << 24 | clock.max(1))
}

/// Start-up: loads `<dir>/<dbfilename>` when it exists and the AOF is off. A file that does
/// not decode stops the start with its path and the offset of the problem.
/// Loads the Functions libraries a file held (RDB or an AOF's RDB preamble).
pub fn load_functions(functions: &dyn Libraries, codes: &[Vec<u8>]) -> Result<(), String> {
    for code in codes {
        functions
            .load_persisted(code)
            .map_err(|e| format!("a function library failed to load: {e}"))?;
    }
    Ok(())
}

pub fn load_at_startup(server: &Handle<'_>) -> Result<(), String> {
    if server.config.get_bool("appendonly") {
        return Ok(());
    }
    let path = dump_path(server.config);
    let (file, len) = match open_for_load(&path) {
        Ok(opened) => opened,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => {
            return Err(format!(
                "Error reading the RDB file {}: {e}",
                path.display()
            ))
        }
    };
    let started = Instant::now();
    let now_ms = server.clock.now_ms();
    let stats = load_stream(server.keyspace, server.config, file, len, now_ms).map_err(|e| {
        format!(
            "Bad RDB file {}: {e}. ferrocache refuses to start rather than load it partly; \
             `ferrocache check-rdb {}` reports what the file holds.",
            path.display(),
            path.display()
        )
    })?;
    load_functions(server.functions, &stats.functions)
        .map_err(|e| format!("Bad RDB file {}: {e}", path.display()))?;
    server
        .rdb
        .keys_loaded
        .store(stats.keys_loaded, Ordering::Relaxed);
    server
        .rdb
        .keys_expired_on_load
        .store(stats.keys_expired, Ordering::Relaxed);
    if stats.empty_keys_skipped > 0 {
        tracing::warn!(
            "Done loading RDB, {} empty keys skipped",
            stats.empty_keys_skipped
        );
    }
    tracing::info!(
        "Done loading RDB, keys loaded: {}, keys expired: {}.",
        stats.keys_loaded,
        stats.keys_expired
    );
    tracing::info!(
        "DB loaded from disk: {:.3} seconds",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use format::{kind, opcode, put_len, put_string};
    use source::ByteSource;

    /// A ziplist of short strings (and 0..=12 as 4-bit immediates), as Redis 6 wrote them.
    fn ziplist(items: &[&[u8]]) -> Vec<u8> {
        let mut zl = vec![0u8; 10];
        let mut prev_len = 0usize;
        for item in items {
            let start = zl.len();
            zl.push(prev_len as u8);
            match std::str::from_utf8(item)
                .ok()
                .and_then(|s| s.parse::<u8>().ok())
            {
                Some(n) if n <= 12 => zl.push(0xf1 + n),
                _ => {
                    zl.push(item.len() as u8);
                    zl.extend_from_slice(item);
                }
            }
            prev_len = zl.len() - start;
        }
        zl.push(0xff);
        let total = zl.len() as u32;
        zl[0..4].copy_from_slice(&total.to_le_bytes());
        zl[8..10].copy_from_slice(&(items.len() as u16).to_le_bytes());
        zl
    }

    /// A Redis 6 style file (RDB 9) with ziplist-encoded aggregates and a quicklist of ziplists.
    fn redis6_file() -> Vec<u8> {
        let mut f = b"REDIS0009".to_vec();
        f.push(opcode::AUX);
        put_string(&mut f, b"redis-ver", false);
        put_string(&mut f, b"6.2.14", false);
        f.push(opcode::SELECTDB);
        put_len(&mut f, 0);
        let key = |f: &mut Vec<u8>, k: u8, name: &[u8], blob: Vec<u8>| {
            f.push(k);
            put_string(f, name, false);
            put_len(f, blob.len() as u64);
            f.extend_from_slice(&blob);
        };
        f.push(kind::LIST_QUICKLIST);
        put_string(&mut f, b"list", false);
        put_len(&mut f, 2);
        for node in [ziplist(&[b"a", b"b"]), ziplist(&[b"3"])] {
            put_len(&mut f, node.len() as u64);
            f.extend_from_slice(&node);
        }
        key(
            &mut f,
            kind::HASH_ZIPLIST,
            b"hash",
            ziplist(&[b"f", b"v", b"g", b"7"]),
        );
        key(
            &mut f,
            kind::ZSET_ZIPLIST,
            b"zset",
            ziplist(&[b"m", b"1", b"n", b"2.5"]),
        );
        let mut intset = 2u32.to_le_bytes().to_vec();
        intset.extend_from_slice(&2u32.to_le_bytes());
        intset.extend_from_slice(&(-4i16).to_le_bytes());
        intset.extend_from_slice(&9i16.to_le_bytes());
        key(&mut f, kind::SET_INTSET, b"set", intset);
        f.push(opcode::EXPIRETIME_MS);
        f.extend_from_slice(&5_000u64.to_le_bytes());
        f.push(kind::STRING);
        put_string(&mut f, b"gone", false);
        put_string(&mut f, b"x", false);
        f.push(opcode::EOF);
        let crc = crc64::update(0, &f);
        f.extend_from_slice(&crc.to_le_bytes());
        f
    }

    #[test]
    fn a_redis_6_file_with_ziplists_loads() {
        let ks = Keyspace::new(16, 4);
        let stats = load_bytes(&ks, &Config::default(), &redis6_file(), 10_000).unwrap();
        assert_eq!((stats.keys_loaded, stats.keys_expired), (4, 1));
        let get = |key: &[u8]| {
            let hash = ks.hash(key);
            let mut shard = ks.lock(ShardId {
                db: 0,
                shard: ks.shard_of(hash),
            });
            shard.get_mut(hash, key, 10_000).map(|e| e.to_value())
        };
        let Some(Value::List(list)) = get(b"list") else {
            panic!("list missing")
        };
        let items: Vec<&[u8]> = list.iter().collect();
        assert_eq!(items, [&b"a"[..], b"b", b"3"]);
        let Some(Value::Hash(hash)) = get(b"hash") else {
            panic!("hash missing")
        };
        assert_eq!(hash.get(b"g"), Some(&b"7"[..]));
        let Some(Value::ZSet(zset)) = get(b"zset") else {
            panic!("zset missing")
        };
        assert_eq!(zset.score(b"n"), Some(2.5));
        let Some(Value::Set(set)) = get(b"set") else {
            panic!("set missing")
        };
        assert!(set.contains(b"-4") && set.contains(b"9"));
        assert!(get(b"gone").is_none());
        // Written back in plain encodings, the file loads again with the same values.
        let mut out = Vec::new();
        let mut w = write::FileWriter::begin(&mut out, true, true, &[]).unwrap();
        write_body(
            &mut w,
            snapshot(&ks, 10_000, &AtomicU64::new(0)),
            &AtomicI64::new(0),
        )
        .unwrap();
        w.finish().unwrap();
        let again = Keyspace::new(16, 4);
        let stats = load_bytes(&again, &Config::default(), &out, 10_000).unwrap();
        assert_eq!(stats.keys_loaded, 4);
    }

    /// While as many snapshots run as the keyspace allows, a save copies under the locks
    /// instead, and both forms write the same keys.
    #[test]
    fn a_save_with_every_snapshot_taken_copies_under_the_locks() {
        let ks = Keyspace::new(16, 4);
        load_bytes(&ks, &Config::default(), &redis6_file(), 10_000).unwrap();
        let write = |snap: Snapshot<'_>| {
            let mut out = Vec::new();
            let mut w = write::FileWriter::begin(&mut out, false, true, &[]).unwrap();
            write_body(&mut w, snap, &AtomicI64::new(0)).unwrap();
            w.finish().unwrap();
            out
        };
        let streamed = write(snapshot(&ks, 10_000, &AtomicU64::new(0)));
        let ids: Vec<ShardId> = ks.all_shards().collect();
        let mut held = ks.lock_sorted(&ids);
        let others: Vec<_> = (0..crate::keyspace::snapshot::SNAPSHOTS_MAX)
            .map(|_| {
                ks.begin_snapshot(&mut held)
                    .expect("a snapshot slot is free")
            })
            .collect();
        drop(held);
        let snap = snapshot(&ks, 10_000, &AtomicU64::new(0));
        assert!(snap.stream.is_none() && !snap.dbs.is_empty());
        let copied = write(snap);
        drop(others);
        for file in [streamed, copied] {
            let again = Keyspace::new(16, 4);
            let stats = load_bytes(&again, &Config::default(), &file, 10_000).unwrap();
            assert_eq!(stats.keys_loaded, 4);
        }
    }

    #[test]
    fn every_truncation_of_a_file_is_an_error() {
        let file = redis6_file();
        for cut in 0..file.len() {
            let ks = Keyspace::new(16, 4);
            assert!(load_bytes(&ks, &Config::default(), &file[..cut], 0).is_err());
        }
    }

    /// A dump of `keys` strings of `value_bytes` each (every value distinct), version 10.
    fn big_dump(keys: usize, value_bytes: usize) -> Vec<u8> {
        let mut f = b"REDIS0010".to_vec();
        f.extend_from_slice(&[opcode::SELECTDB, 0]);
        let mut value = vec![b'v'; value_bytes];
        for i in 0..keys {
            value[..8].copy_from_slice(&(i as u64).to_le_bytes());
            f.push(kind::STRING);
            put_string(&mut f, format!("key:{i}").as_bytes(), false);
            put_string(&mut f, &value, false);
        }
        f.push(opcode::EOF);
        let crc = crc64::update(0, &f);
        f.extend_from_slice(&crc.to_le_bytes());
        f
    }

    #[test]
    fn a_dump_far_bigger_than_the_window_streams_through_it() {
        // 64 MB of values through a 64 KiB window; values of 80 KiB straddle window edges.
        const WINDOW: usize = 64 * 1024;
        let dir = std::env::temp_dir().join(format!("fc-rdb-stream-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("dump.rdb");
        let keys = 820;
        std::fs::write(&path, big_dump(keys, 80 * 1024)).unwrap();
        let (file, len) = open_for_load(&path).unwrap();
        assert!(len > 64 << 20);

        let ks = Keyspace::new(16, 4);
        let stats = load_stream_through(&ks, &Config::default(), file, len, WINDOW, 0).unwrap();
        assert_eq!(stats.keys_loaded, keys as u64);
        let get = |ks: &Keyspace, key: &[u8]| {
            let hash = ks.hash(key);
            let mut shard = ks.lock(ShardId {
                db: 0,
                shard: ks.shard_of(hash),
            });
            shard.get_mut(hash, key, 0).map(|e| e.to_value())
        };
        let Some(Value::Str(v)) = get(&ks, b"key:819") else {
            panic!("last key missing")
        };
        assert_eq!(v.len(), 80 * 1024);
        assert_eq!(&v[..8], &819u64.to_le_bytes());

        // The source's window never grows, whatever the sizes it hands out.
        let (file, len) = open_for_load(&path).unwrap();
        let mut src = source::StreamSource::new(file, len, WINDOW);
        let mut value_bytes = 0;
        read::parse_source(&mut src, |event| {
            if let Event::Key(k) = event {
                if let read::RdbValue::Str(v) = k.value {
                    value_bytes += v.len();
                }
            }
            Ok(())
        })
        .unwrap();
        assert_eq!(value_bytes, keys * 80 * 1024);
        assert_eq!(src.window_capacity(), WINDOW);
        assert_eq!(src.offset(), len);

        // A corrupt byte anywhere is refused before any key is inserted.
        let mut data = std::fs::read(&path).unwrap();
        data[len / 2] ^= 1;
        std::fs::write(&path, &data).unwrap();
        let (file, len) = open_for_load(&path).unwrap();
        let fresh = Keyspace::new(16, 4);
        let err =
            load_stream_through(&fresh, &Config::default(), file, len, WINDOW, 0).unwrap_err();
        assert!(err.message.contains("wrong RDB checksum"), "{err}");
        assert_eq!(err.offset, len - 8);
        assert!(get(&fresh, b"key:0").is_none());
        assert_eq!(fresh.db_len(0), 0);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
