//! The slow log: a bounded list of the commands that ran longer than
//! `slowlog-log-slower-than` microseconds, newest first, as Redis's `slowlog.c` keeps it.
//!
//! Entries are built only when a command qualifies, so the per-command cost is one atomic load
//! and a comparison in dispatch. Argument vectors are trimmed like Redis's: at most 32 arguments
//! (the last one saying how many more there were) and 128 bytes per argument.

use crate::protocol::Reply;
use bytes::{Bytes, BytesMut};
use parking_lot::Mutex;
use std::collections::VecDeque;

/// Most arguments kept per entry (Redis's SLOWLOG_ENTRY_MAX_ARGC).
pub const MAX_ARGC: usize = 32;
/// Most bytes kept per argument (Redis's SLOWLOG_ENTRY_MAX_STRING).
pub const MAX_STRING: usize = 128;

/// One logged command.
#[derive(Debug, Clone)]
pub struct Entry {
    pub id: u64,
    /// Unix seconds when the command finished.
    pub time: u64,
    pub duration_us: u64,
    pub argv: Vec<Bytes>,
    /// `ip:port` of the client (`?:0` for commands run by a script).
    pub peer: String,
    pub name: Bytes,
}

impl Entry {
    fn to_reply(&self) -> Reply {
        Reply::Array(vec![
            Reply::Int(self.id as i64),
            Reply::Int(self.time as i64),
            Reply::Int(self.duration_us as i64),
            Reply::Array(self.argv.iter().cloned().map(Reply::Bulk).collect()),
            Reply::bulk(self.peer.clone().into_bytes()),
            Reply::Bulk(self.name.clone()),
        ])
    }
}

#[derive(Default)]
struct Inner {
    /// Newest first.
    entries: VecDeque<Entry>,
    /// Ids keep growing across SLOWLOG RESET, as in Redis.
    next_id: u64,
}

#[derive(Default)]
pub struct SlowLog {
    inner: Mutex<Inner>,
}

/// A command about to be logged; `argv` is trimmed by `push`.
pub struct Record<'a> {
    pub time: u64,
    pub duration_us: u64,
    pub argv: &'a [Bytes],
    /// Argument indexes replaced by `(redacted)` (passwords).
    pub redacted: &'a [usize],
    pub peer: String,
    pub name: Bytes,
}

impl SlowLog {
    /// Adds an entry at the head and drops the oldest beyond `max_len`.
    pub fn push(&self, record: Record<'_>, max_len: usize) {
        let argv = trimmed_argv(record.argv, record.redacted);
        let mut inner = self.inner.lock();
        let id = inner.next_id;
        inner.next_id += 1;
        inner.entries.push_front(Entry {
            id,
            time: record.time,
            duration_us: record.duration_us,
            argv,
            peer: record.peer,
            name: record.name,
        });
        inner.entries.truncate(max_len);
    }

    /// Drops the oldest entries beyond `max_len`.
    pub fn trim(&self, max_len: usize) {
        self.inner.lock().entries.truncate(max_len);
    }

    pub fn len(&self) -> usize {
        self.inner.lock().entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn reset(&self) {
        self.inner.lock().entries.clear();
    }

    /// The newest `count` entries (all of them when `count` is `None`), as SLOWLOG GET replies.
    pub fn newest(&self, count: Option<usize>) -> Vec<Reply> {
        let inner = self.inner.lock();
        let n = count.map_or(inner.entries.len(), |c| c.min(inner.entries.len()));
        inner.entries.iter().take(n).map(Entry::to_reply).collect()
    }

    /// A copy of the newest `count` entries (tests and diagnostics).
    pub fn snapshot(&self, count: usize) -> Vec<Entry> {
        self.inner
            .lock()
            .entries
            .iter()
            .take(count)
            .cloned()
            .collect()
    }
}

/// Redis's trimming: past 32 arguments the 32nd says `... (N more arguments)`; arguments over
/// 128 bytes keep their first 128 bytes followed by `... (N more bytes)`.
pub fn trimmed_argv(argv: &[Bytes], redacted: &[usize]) -> Vec<Bytes> {
    let kept = argv.len().min(MAX_ARGC);
    let mut out = Vec::with_capacity(kept);
    for (i, arg) in argv.iter().take(kept).enumerate() {
        if kept != argv.len() && i == kept - 1 {
            let more = argv.len() - kept + 1;
            out.push(Bytes::from(format!("... ({more} more arguments)")));
        } else if redacted.contains(&i) {
            out.push(Bytes::from_static(b"(redacted)"));
        } else if arg.len() > MAX_STRING {
            let mut s = BytesMut::with_capacity(MAX_STRING + 32);
            s.extend_from_slice(&arg[..MAX_STRING]);
            s.extend_from_slice(format!("... ({} more bytes)", arg.len() - MAX_STRING).as_bytes());
            out.push(s.freeze());
        } else {
            out.push(arg.clone());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(n: usize) -> Vec<Bytes> {
        (0..n).map(|i| Bytes::from(format!("a{i}"))).collect()
    }

    #[test]
    fn keeps_32_arguments_and_counts_the_rest() {
        let out = trimmed_argv(&args(40), &[]);
        assert_eq!(out.len(), 32);
        assert_eq!(out[30], Bytes::from("a30"));
        assert_eq!(out[31], Bytes::from("... (9 more arguments)"));
        // Exactly 32 arguments are kept whole.
        let out = trimmed_argv(&args(32), &[]);
        assert_eq!(out[31], Bytes::from("a31"));
    }

    #[test]
    fn long_arguments_are_cut_at_128_bytes() {
        let long = Bytes::from(vec![b'x'; 200]);
        let out = trimmed_argv(&[Bytes::from("set"), long], &[]);
        assert_eq!(out[1].len(), 128 + "... (72 more bytes)".len());
        assert!(out[1].ends_with(b"... (72 more bytes)"));
        let exact = Bytes::from(vec![b'y'; 128]);
        assert_eq!(trimmed_argv(std::slice::from_ref(&exact), &[])[0], exact);
    }

    #[test]
    fn redacted_arguments_are_hidden() {
        let out = trimmed_argv(&[Bytes::from("auth"), Bytes::from("secret")], &[1]);
        assert_eq!(out[1], Bytes::from("(redacted)"));
    }

    #[test]
    fn bounded_newest_first_ids_survive_reset() {
        let log = SlowLog::default();
        let record = |argv: &'static [Bytes]| Record {
            time: 1,
            duration_us: 5,
            argv,
            redacted: &[],
            peer: "127.0.0.1:1".into(),
            name: Bytes::new(),
        };
        static ARGV: [Bytes; 1] = [Bytes::from_static(b"ping")];
        for _ in 0..5 {
            log.push(record(&ARGV), 3);
        }
        assert_eq!(log.len(), 3);
        let ids: Vec<u64> = log.snapshot(10).iter().map(|e| e.id).collect();
        assert_eq!(ids, vec![4, 3, 2]);
        log.reset();
        assert!(log.is_empty());
        log.push(record(&ARGV), 3);
        assert_eq!(log.snapshot(1)[0].id, 5);
        log.push(record(&ARGV), 0);
        assert!(log.is_empty());
    }
}
