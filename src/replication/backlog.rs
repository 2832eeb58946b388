//! The replication stream of a primary: one buffer of the bytes sent to every replica, which is
//! also the replication backlog partial resyncs are served from (Redis 7's shared replication
//! buffer).
//!
//! Offsets are Redis's: the byte numbered `o` is the `o`-th byte of the stream since the
//! history began, `end` (master_repl_offset) is the last one, and a replica that has applied
//! up to `o` asks for `o + 1` next (PSYNC's offset).
//!
//! The buffer holds the bytes from the oldest one still needed to `end`: the last
//! `repl-backlog-size` bytes (the backlog proper) and, beyond them, whatever a connected replica
//! has not been sent yet (its output buffer, limited by `client-output-buffer-limit replica`).
//! Effects are appended under the shard locks of the keys they touch, so the stream orders
//! writes per key as they ran; replicas read it from their own position, a chunk at a time, under
//! the buffer's mutex for a copy only.

use bytes::Bytes;
use parking_lot::Mutex;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use tokio::sync::Notify;

/// The most a replica copies out of the buffer per read.
pub const READ_CHUNK_BYTES: usize = 256 * 1024;

pub struct Feed {
    /// A backlog exists: commands record their effects for it.
    active: AtomicBool,
    /// This node is a replica: the stream is its primary's, proxied as received
    /// (`append_raw`); effects of commands run here (the primary's own, or a writable
    /// replica's local writes) are not fed, as Redis's `replicationFeedSlaves` returns at once
    /// on a node that is not a top-level primary.
    proxy: AtomicBool,
    /// master_repl_offset (also advanced by the replica side when it applies its primary's
    /// stream).
    offset: AtomicU64,
    inner: Mutex<Inner>,
    /// Wakes replicas waiting for bytes (only when one waits: see `Inner::sleepers`).
    wake: Notify,
}

struct Inner {
    /// Bytes `first ..= end` (`first = end - data.len() + 1`).
    data: VecDeque<u8>,
    /// repl-backlog-size.
    size: usize,
    /// The database of the last SELECT in the stream (`None`: the next record emits one).
    db: Option<usize>,
    /// The next offset each connected replica needs (client id, offset): kept in the buffer.
    readers: Vec<(u64, u64)>,
    /// Bytes fed since the backlog was created (bounds INFO's histlen).
    fed: u64,
    /// Replicas that found nothing to send and wait for `wake`: an append wakes them, and
    /// appends while none waits cost no wake-up.
    sleepers: usize,
}

impl Default for Feed {
    fn default() -> Self {
        Feed {
            active: AtomicBool::new(false),
            proxy: AtomicBool::new(false),
            offset: AtomicU64::new(0),
            inner: Mutex::new(Inner {
                data: VecDeque::new(),
                size: 1 << 20,
                db: None,
                readers: Vec::new(),
                fed: 0,
                sleepers: 0,
            }),
            wake: Notify::new(),
        }
    }
}

/// INFO replication's backlog fields.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BacklogInfo {
    pub active: bool,
    pub size: usize,
    pub first_byte_offset: u64,
    pub histlen: u64,
}

impl Feed {
    /// True while a backlog exists (effects are recorded for it).
    #[inline]
    pub fn is_active(&self) -> bool {
        self.active.load(Ordering::Relaxed)
    }

    pub fn offset(&self) -> u64 {
        self.offset.load(Ordering::Acquire)
    }

    /// True while commands' effects are appended (a backlog exists and this node is a
    /// top-level primary).
    #[inline]
    pub fn records_effects(&self) -> bool {
        self.is_active() && !self.proxy.load(Ordering::Relaxed)
    }

    /// Switches between a primary's stream (effects appended) and a replica's (its primary's
    /// bytes proxied). Either way the next effect appended starts with a SELECT.
    pub fn set_proxy(&self, on: bool) {
        let mut inner = self.inner.lock();
        self.proxy.store(on, Ordering::Release);
        inner.db = None;
    }

    /// Creates the backlog (the first replica connects), empty, starting after the current
    /// offset. No-op if it exists.
    pub fn activate(&self, size: usize) {
        let mut inner = self.inner.lock();
        if self.is_active() {
            inner.size = size.max(1);
            return;
        }
        inner.data.clear();
        inner.size = size.max(1);
        inner.db = None;
        inner.fed = 0;
        self.active.store(true, Ordering::Release);
    }

    /// Frees the backlog (repl-backlog-ttl passed with no replica).
    pub fn deactivate(&self) {
        let mut inner = self.inner.lock();
        self.active.store(false, Ordering::Release);
        inner.data = VecDeque::new();
        inner.db = None;
        inner.fed = 0;
    }

    /// repl-backlog-size changed.
    pub fn resize(&self, size: usize) {
        let mut inner = self.inner.lock();
        inner.size = size.max(1);
        let end = self.offset();
        trim(&mut inner, end);
    }

    /// Appends one unit of effects (a command's records, several wrapped in MULTI/EXEC), with a
    /// SELECT whenever the database changes. Called under the shard locks of the keys.
    pub fn append(&self, records: &[(usize, Vec<Bytes>)], wrap: bool) {
        // Checked before the lock: with the AOF on and no backlog, writers never meet here.
        if records.is_empty() || !self.records_effects() {
            return;
        }
        let mut bytes = Vec::new();
        let mut inner = self.inner.lock();
        if !self.records_effects() {
            return;
        }
        let mut db = inner.db;
        let mut select = |out: &mut Vec<u8>, want: usize| {
            if db != Some(want) {
                let n = want.to_string();
                crate::aof::reader::encode_command(out, &[b"SELECT".as_slice(), n.as_bytes()]);
                db = Some(want);
            }
        };
        if wrap {
            select(&mut bytes, records[0].0);
            crate::aof::reader::encode_command(&mut bytes, &[b"MULTI"]);
        }
        for (record_db, argv) in records {
            select(&mut bytes, *record_db);
            crate::aof::reader::encode_command(&mut bytes, argv);
        }
        if wrap {
            crate::aof::reader::encode_command(&mut bytes, &[b"EXEC"]);
        }
        inner.db = db;
        self.push_locked(&mut inner, &bytes);
    }

    /// Appends a command outside any database (PING, REPLCONF GETACK), as Redis feeds them.
    pub fn append_command(&self, argv: &[&[u8]]) {
        let mut bytes = Vec::new();
        crate::aof::reader::encode_command(&mut bytes, argv);
        let mut inner = self.inner.lock();
        if self.records_effects() {
            self.push_locked(&mut inner, &bytes);
        }
    }

    /// Appends bytes of a stream received from this node's own primary (the replica side
    /// applies them and keeps them for its own replicas and for a later promotion). Advances
    /// the offset even when no backlog exists.
    pub fn append_raw(&self, bytes: &[u8]) {
        let mut inner = self.inner.lock();
        if self.is_active() {
            self.push_locked(&mut inner, bytes);
        } else {
            self.offset.fetch_add(bytes.len() as u64, Ordering::AcqRel);
        }
    }

    /// Sets the offset (the replica side after a full sync from its primary): the backlog, if
    /// any, restarts empty there, and the next record emits a SELECT.
    pub fn reset_offset(&self, offset: u64) {
        let mut inner = self.inner.lock();
        inner.data.clear();
        inner.fed = 0;
        inner.db = None;
        for reader in &mut inner.readers {
            reader.1 = offset + 1;
        }
        self.offset.store(offset, Ordering::Release);
        self.wake_sleepers(&mut inner);
    }

    /// Advances the offset with no bytes kept (the replica side, when it keeps no backlog).
    pub fn add_offset(&self, bytes: u64) -> u64 {
        let _inner = self.inner.lock();
        self.offset.fetch_add(bytes, Ordering::AcqRel) + bytes
    }

    fn push_locked(&self, inner: &mut Inner, bytes: &[u8]) {
        inner.data.extend(bytes);
        inner.fed += bytes.len() as u64;
        let end = self.offset.fetch_add(bytes.len() as u64, Ordering::AcqRel) + bytes.len() as u64;
        trim(inner, end);
        self.wake_sleepers(inner);
    }

    fn wake_sleepers(&self, inner: &mut Inner) {
        if inner.sleepers > 0 {
            inner.sleepers = 0;
            self.wake.notify_waiters();
        }
    }

    /// Resolves once the stream has bytes from `next` on (at once if it has). Registered under
    /// the buffer's lock, so an append after the check always wakes it.
    pub async fn wait_for(&self, next: u64) {
        let notified = self.wake.notified();
        let mut notified = std::pin::pin!(notified);
        {
            let mut inner = self.inner.lock();
            if self.offset() + 1 > next {
                return;
            }
            notified.as_mut().enable();
            inner.sleepers += 1;
        }
        notified.await;
    }

    /// The next SELECT is written again (a snapshot's instant: a replica that starts from it
    /// must learn the database of the next record).
    pub fn forget_db(&self) {
        self.inner.lock().db = None;
    }

    /// Registers a replica that needs the stream from `next` on. False if those bytes are gone
    /// (a partial resync is then impossible).
    pub fn add_reader(&self, id: u64, next: u64) -> bool {
        let mut inner = self.inner.lock();
        let end = self.offset();
        let first = end + 1 - inner.data.len() as u64;
        if !self.is_active() || next < first || next > end + 1 {
            return false;
        }
        inner.readers.retain(|r| r.0 != id);
        inner.readers.push((id, next));
        true
    }

    pub fn remove_reader(&self, id: u64) {
        let mut inner = self.inner.lock();
        inner.readers.retain(|r| r.0 != id);
        let end = self.offset();
        trim(&mut inner, end);
    }

    /// Copies up to `max` bytes from `next` on into `out` and advances the reader; returns the
    /// bytes still pending after the copy, or None if `next` is no longer in the buffer.
    pub fn read(&self, id: u64, next: &mut u64, out: &mut Vec<u8>, max: usize) -> Option<u64> {
        let mut inner = self.inner.lock();
        let end = self.offset();
        let first = end + 1 - inner.data.len() as u64;
        if *next < first {
            return None;
        }
        let from = (*next - first) as usize;
        let to = inner.data.len().min(from + max);
        let (a, b) = inner.data.as_slices();
        if from < a.len() {
            out.extend_from_slice(&a[from..to.min(a.len())]);
        }
        if to > a.len() {
            out.extend_from_slice(&b[from.saturating_sub(a.len())..to - a.len()]);
        }
        *next += (to - from) as u64;
        if let Some(reader) = inner.readers.iter_mut().find(|r| r.0 == id) {
            reader.1 = *next;
        }
        trim(&mut inner, end);
        Some(end + 1 - *next)
    }

    /// Whether a partial resync from `next` can be served (the bytes from there are held).
    pub fn can_continue_from(&self, next: u64) -> bool {
        let inner = self.inner.lock();
        let end = self.offset();
        let first = end + 1 - inner.data.len() as u64;
        self.is_active() && next >= first && next <= end + 1
    }

    pub fn info(&self) -> BacklogInfo {
        let inner = self.inner.lock();
        let end = self.offset();
        let active = self.is_active();
        let histlen = if active {
            (inner.data.len() as u64)
                .min(inner.size as u64)
                .min(inner.fed)
        } else {
            0
        };
        BacklogInfo {
            active,
            size: inner.size,
            first_byte_offset: if active { end + 1 - histlen } else { 0 },
            histlen,
        }
    }

    /// Bytes held by the buffer (INFO mem_total_replication_buffers).
    pub fn held_bytes(&self) -> usize {
        self.inner.lock().data.len()
    }
}

/// Drops bytes no longer needed: older than the backlog's size and already sent to every
/// replica.
fn trim(inner: &mut Inner, end: u64) {
    let first = end + 1 - inner.data.len() as u64;
    let backlog_from = (end + 1).saturating_sub(inner.size as u64);
    let keep_from = inner
        .readers
        .iter()
        .map(|r| r.1)
        .fold(backlog_from, u64::min)
        .max(first);
    let drop = (keep_from - first) as usize;
    // Trimmed in steps, so a steady stream does not move the ring's head on every append.
    if drop > 0 && (drop >= 16 * 1024 || drop * 8 >= inner.size) {
        inner.data.drain(..drop);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn argv(parts: &[&str]) -> Vec<Bytes> {
        parts
            .iter()
            .map(|p| Bytes::copy_from_slice(p.as_bytes()))
            .collect()
    }

    #[test]
    fn selects_wraps_and_counts_the_offset() {
        let feed = Feed::default();
        feed.append(&[(0, argv(&["SET", "a", "1"]))], false);
        assert_eq!(feed.offset(), 0, "nothing is fed without a backlog");
        feed.activate(100);
        let mut next = 1;
        assert!(feed.add_reader(7, next));
        feed.append(&[(0, argv(&["SET", "a", "1"]))], false);
        feed.append(&[(1, argv(&["DEL", "a"])), (1, argv(&["DEL", "b"]))], true);
        let mut out = Vec::new();
        assert_eq!(feed.read(7, &mut next, &mut out, 1 << 20), Some(0));
        let text = String::from_utf8(out.clone()).unwrap();
        assert!(text.starts_with("*2\r\n$6\r\nSELECT\r\n$1\r\n0\r\n*3\r\n$3\r\nSET"));
        assert!(text.contains("SELECT\r\n$1\r\n1\r\n*1\r\n$5\r\nMULTI"));
        assert!(text.ends_with("*1\r\n$4\r\nEXEC\r\n"));
        assert_eq!(feed.offset(), out.len() as u64);
        assert_eq!(next, feed.offset() + 1);
    }

    #[test]
    fn keeps_the_backlog_and_what_readers_still_need() {
        let feed = Feed::default();
        feed.activate(64 * 1024);
        let big = "x".repeat(10_000);
        assert!(feed.add_reader(1, 1));
        for _ in 0..20 {
            feed.append(&[(0, argv(&["SET", "k", &big]))], false);
        }
        // The reader has read nothing: everything is kept.
        assert!(feed.can_continue_from(1));
        let mut next = 1;
        let mut out = Vec::new();
        while feed.read(1, &mut next, &mut out, 4096).unwrap() > 0 {}
        assert_eq!(out.len() as u64, feed.offset());
        feed.remove_reader(1);
        feed.append(&[(0, argv(&["SET", "k", "v"]))], false);
        assert!(!feed.can_continue_from(1));
        let info = feed.info();
        assert!(info.histlen <= 64 * 1024 && info.histlen > 32 * 1024);
        assert!(feed.can_continue_from(info.first_byte_offset));
        assert_eq!(info.first_byte_offset + info.histlen, feed.offset() + 1);
    }
}
