//! Append-only file persistence in Redis 7's multi-part layout (see docs/persistence.md).
//!
//! Commands record their *effects* (`Ctx::propagate`, `effects.rs`); at the end of a command,
//! while its shard locks are still held, dispatch appends them to the pipe below, so two writes
//! to one key reach the log in the order they ran. A dedicated writer thread takes the whole pipe
//! at once (group commit), writes it, fsyncs it when the policy is `always`, and publishes the log
//! position replies may now be sent for. A connection awaits that position before it writes the
//! replies of a batch that wrote: with `always` no acknowledged write is only in memory.

pub mod check;
pub mod effects;
pub mod layout;
pub mod load;
pub mod manifest;
pub mod reader;
pub mod rewrite;
mod writer;

use bytes::Bytes;
use parking_lot::{Condvar, Mutex};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, Ordering};
use std::sync::Arc;
use tokio::sync::watch;

pub use effects::Effects;

/// What the AOF's start-up load, rewrites and DEBUG LOADAOF use of the server (built by
/// `aof_handle` in state.rs): the log, the keyspace, the live config, the clock, the gate (a
/// rewrite's instant is taken in a shared section), the Functions libraries (written in a base,
/// loaded from one), the client registry (the replaying client) and the command table (a logged
/// command must exist).
#[derive(Clone, Copy)]
pub struct Handle<'a> {
    pub aof: &'a Arc<Aof>,
    pub keyspace: &'a crate::keyspace::Keyspace,
    pub config: &'a crate::config::Config,
    pub clock: &'a crate::clock::Clock,
    pub gate: &'a crate::gate::Gate,
    pub functions: &'a dyn crate::rdb::Libraries,
    pub clients: &'a crate::clients::ClientRegistry,
    pub registry: &'a crate::engine::registry::Registry,
}

/// Lends a background rewrite the server's parts (the server implements it, so this module
/// does not depend on the server's state).
pub trait Host: Send + Sync {
    fn aof_handle(&self) -> Handle<'_>;
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fsync {
    Always,
    EverySec,
    No,
}

impl Fsync {
    pub fn parse(text: &str) -> Fsync {
        match text {
            "always" => Fsync::Always,
            "no" => Fsync::No,
            _ => Fsync::EverySec,
        }
    }

    fn code(self) -> u8 {
        match self {
            Fsync::Always => 0,
            Fsync::EverySec => 1,
            Fsync::No => 2,
        }
    }

    fn from_code(code: u8) -> Fsync {
        match code {
            0 => Fsync::Always,
            2 => Fsync::No,
            _ => Fsync::EverySec,
        }
    }
}

/// Records appended by commands and not yet taken by the writer.
#[derive(Default)]
pub(crate) struct Pipe {
    pub buf: Vec<u8>,
    /// Log position after `buf`: bytes appended since the server started (the writer takes
    /// `buf` whole, so the batch it takes starts at `end - buf.len()`).
    pub end: u64,
    /// Database of the last SELECT in the stream (`None`: the next record emits one).
    pub db: Option<usize>,
    /// Positions where the writer must switch to a new incr file (rewrite start).
    pub rotations: std::collections::VecDeque<(u64, layout::Rotation)>,
    pub stop: bool,
}

/// INFO persistence counters.
#[derive(Default)]
pub struct AofStats {
    pub current_size: AtomicU64,
    pub base_size: AtomicU64,
    pub rewrite_in_progress: AtomicBool,
    pub rewrite_scheduled: AtomicBool,
    pub rewrites: AtomicU64,
    pub rewrites_failed_in_a_row: AtomicU64,
    pub last_rewrite_ok: AtomicBool,
    pub last_rewrite_ms: AtomicU64,
    pub rewrite_started_ms: AtomicU64,
    /// Unix ms of the last failed rewrite (automatic rewrites back off after a failure).
    pub last_rewrite_failure_ms: AtomicU64,
    pub delayed_fsync: AtomicU64,
    pub pending_fsync: AtomicBool,
    /// Base size recorded at the last rewrite or load (auto-rewrite growth reference).
    pub rewrite_base_size: AtomicU64,
    pub last_load_truncated: AtomicBool,
}

pub struct Aof {
    /// Effects are being logged.
    on: AtomicBool,
    pub(crate) pipe: Mutex<Pipe>,
    pub(crate) wake: Condvar,
    /// Log position up to which replies may go out (written; fsynced with `always`).
    acked: watch::Sender<u64>,
    policy: AtomicU8,
    /// The last write or fsync error (MISCONF while set).
    error: Mutex<Option<String>>,
    failing: AtomicBool,
    pub stats: AofStats,
    /// The files on disk; shared by the writer (rotation) and the rewrite (install).
    pub(crate) layout: Mutex<Option<layout::Layout>>,
    writer: Mutex<Option<writer::Handle>>,
    /// The replication stream: effects are fed to it too while it has a backlog.
    feed: std::sync::OnceLock<Arc<crate::replication::backlog::Feed>>,
    keyspace: std::sync::OnceLock<Arc<crate::keyspace::Tunables>>,
}

impl Default for Aof {
    fn default() -> Self {
        Aof {
            on: AtomicBool::new(false),
            pipe: Mutex::new(Pipe::default()),
            wake: Condvar::new(),
            acked: watch::channel(0).0,
            policy: AtomicU8::new(Fsync::EverySec.code()),
            error: Mutex::new(None),
            failing: AtomicBool::new(false),
            stats: AofStats {
                last_rewrite_ok: AtomicBool::new(true),
                ..Default::default()
            },
            layout: Mutex::new(None),
            writer: Mutex::new(None),
            feed: std::sync::OnceLock::new(),
            keyspace: std::sync::OnceLock::new(),
        }
    }
}

impl Aof {
    /// True while commands' effects are logged.
    #[inline]
    pub fn is_on(&self) -> bool {
        self.on.load(Ordering::Relaxed)
    }

    /// True while commands' effects are recorded: for the AOF, or for the replication stream
    /// (a backlog exists, even with `appendonly no`).
    #[inline]
    pub fn recording(&self) -> bool {
        self.is_on() || self.feed.get().is_some_and(|f| f.records_effects())
    }

    /// The keyspace whose expired keys this log records (done once when the server state is
    /// built).
    pub fn attach_keyspace(&self, tunables: Arc<crate::keyspace::Tunables>) {
        let _ = self.keyspace.set(tunables);
    }

    fn set_expired_keys_logged(&self, on: bool) {
        if let Some(t) = self.keyspace.get() {
            t.expiry.set_expired_keys_logged(on);
        }
    }

    /// Connects the replication stream (done once when the server state is built).
    pub fn attach_feed(&self, feed: Arc<crate::replication::backlog::Feed>) {
        let _ = self.feed.set(feed);
    }

    /// Keys removed by expiry are kept for logging while either consumer records effects.
    pub fn update_expired_keys_logged(&self) {
        self.set_expired_keys_logged(self.recording());
    }

    pub fn policy(&self) -> Fsync {
        Fsync::from_code(self.policy.load(Ordering::Relaxed))
    }

    pub fn set_policy(&self, policy: Fsync) {
        self.policy.store(policy.code(), Ordering::Relaxed);
    }

    /// `MISCONF ...` while the log cannot be written (writes are refused, reads served).
    pub fn write_error(&self) -> Option<String> {
        if !self.failing.load(Ordering::Relaxed) {
            return None;
        }
        self.error
            .lock()
            .as_ref()
            .map(|reason| format!("MISCONF Errors writing to the AOF file: {reason}"))
    }

    pub(crate) fn set_error(&self, reason: Option<String>) {
        let mut error = self.error.lock();
        match (&*error, &reason) {
            (None, Some(r)) => tracing::warn!("Error writing to the AOF file: {r}"),
            (Some(_), None) => {
                tracing::warn!("AOF write error looks solved, Redis can write again.")
            }
            _ => {}
        }
        self.failing.store(reason.is_some(), Ordering::Relaxed);
        *error = reason;
    }

    /// Appends one unit of records (a command's effects) and returns the log position after
    /// it. Several records are wrapped in MULTI/EXEC so a replay applies all or none of them.
    /// Callers hold the shard locks of the keys involved, which orders the log per key.
    /// Returns 0 when the AOF is off (the records went to the replication stream only).
    pub fn append(&self, records: &[(usize, Vec<Bytes>)]) -> u64 {
        if let Some(feed) = self.feed.get() {
            feed.append(records, records.len() > 1);
        }
        if !self.is_on() {
            return 0;
        }
        let mut pipe = self.pipe.lock();
        let before = pipe.buf.len();
        let wrap = records.len() > 1;
        if wrap {
            select_db(&mut pipe, records[0].0);
            reader::encode_command(&mut pipe.buf, &[b"MULTI"]);
        }
        for (db, argv) in records {
            select_db(&mut pipe, *db);
            reader::encode_command(&mut pipe.buf, argv);
        }
        if wrap {
            reader::encode_command(&mut pipe.buf, &[b"EXEC"]);
        }
        pipe.end += (pipe.buf.len() - before) as u64;
        let end = pipe.end;
        drop(pipe);
        self.wake.notify_one();
        end
    }

    /// Logs the deletion of keys that expired or were evicted, under their shard's lock.
    pub fn log_deletions(&self, db: usize, keys: &[Box<[u8]>]) {
        if keys.is_empty() || !self.recording() {
            return;
        }
        let records: Vec<(usize, Vec<Bytes>)> = keys
            .iter()
            .map(|k| {
                (
                    db,
                    vec![Bytes::from_static(b"DEL"), Bytes::copy_from_slice(k)],
                )
            })
            .collect();
        self.append_records(&records);
    }

    /// Logs hash fields the active sweep expired, as one HDEL per hash.
    pub fn log_field_deletions(&self, db: usize, gone: &[crate::keyspace::shard::ExpiredFields]) {
        if gone.is_empty() || !self.recording() {
            return;
        }
        let records: Vec<(usize, Vec<Bytes>)> = gone
            .iter()
            .map(|g| {
                let mut argv = vec![Bytes::from_static(b"HDEL"), Bytes::copy_from_slice(&g.key)];
                argv.extend(g.fields.iter().map(|f| Bytes::copy_from_slice(f)));
                (db, argv)
            })
            .collect();
        self.append_records(&records);
    }

    /// Deletions made outside a command: to the replication stream and, when on, the log.
    fn append_records(&self, records: &[(usize, Vec<Bytes>)]) {
        if let Some(feed) = self.feed.get() {
            feed.append(records, false);
        }
        if !self.is_on() {
            return;
        }
        let mut pipe = self.pipe.lock();
        let before = pipe.buf.len();
        for (db, argv) in records {
            select_db(&mut pipe, *db);
            reader::encode_command(&mut pipe.buf, argv);
        }
        pipe.end += (pipe.buf.len() - before) as u64;
        drop(pipe);
        self.wake.notify_one();
    }

    /// Whether the log already holds everything up to `pos` (as `wait_acked` would find it).
    pub fn is_acked(&self, pos: u64) -> bool {
        *self.acked.borrow() >= pos
    }

    /// Waits until replies for writes up to log position `pos` may be sent.
    pub async fn wait_acked(&self, pos: u64) {
        if *self.acked.borrow() >= pos {
            return;
        }
        let mut rx = self.acked.subscribe();
        let _ = rx.wait_for(|&acked| acked >= pos).await;
    }

    pub(crate) fn publish_acked(&self, pos: u64) {
        self.acked.send_if_modified(|acked| {
            if pos > *acked {
                *acked = pos;
                true
            } else {
                false
            }
        });
    }

    /// Bytes appended and not yet taken by the writer (INFO aof_buffer_length).
    pub fn buffered_bytes(&self) -> usize {
        self.pipe.lock().buf.len()
    }

    /// Stops logging: the writer writes and fsyncs what it has, then exits.
    pub fn stop(&self) {
        let handle = self.writer.lock().take();
        self.on.store(false, Ordering::Relaxed);
        self.update_expired_keys_logged();
        if let Some(handle) = handle {
            handle.stop(self);
        }
        // A command that saw logging on just before it went off may have appended after the
        // writer's last turn: its reply must not wait forever.
        let mut pipe = self.pipe.lock();
        pipe.buf.clear();
        // A rewrite waiting for a rotation the writer will never make learns it failed.
        pipe.rotations.clear();
        let end = pipe.end;
        drop(pipe);
        self.publish_acked(end);
    }

    /// Starts the writer on an open layout and turns logging on.
    pub(crate) fn start(self: &Arc<Self>, file: std::fs::File, file_len: u64) {
        {
            let mut pipe = self.pipe.lock();
            pipe.stop = false;
            pipe.db = None;
        }
        let handle = writer::spawn(self.clone(), file, file_len);
        *self.writer.lock() = Some(handle);
        self.set_expired_keys_logged(true);
        self.on.store(true, Ordering::Relaxed);
    }
}

fn select_db(pipe: &mut Pipe, db: usize) {
    if pipe.db != Some(db) {
        let n = db.to_string();
        reader::encode_command(&mut pipe.buf, &[b"SELECT".as_slice(), n.as_bytes()]);
        pipe.db = Some(db);
    }
}

/// Unix milliseconds now (for rewrite timing in INFO).
pub(crate) fn unix_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// Applies a CONFIG SET of an AOF option: `appendonly` starts (with a rewrite of the current
/// data, as Redis) or stops logging; `appendfsync` switches the policy at once.
/// `server` is the server a rewrite runs against (None: not running, nothing starts or stops).
pub fn config_changed(
    aof: &Aof,
    config: &crate::config::Config,
    server: impl FnOnce() -> Option<Arc<dyn Host>>,
    name: &str,
) -> Result<(), String> {
    match name {
        "appendfsync" => {
            aof.set_policy(Fsync::parse(&config.get("appendfsync")));
            Ok(())
        }
        "appendonly" => {
            let Some(server) = server() else {
                return Ok(());
            };
            if config.get_bool("appendonly") {
                rewrite::enable(server)
            } else {
                aof.stop();
                *aof.layout.lock() = None;
                Ok(())
            }
        }
        _ => Ok(()),
    }
}
