//! ACL LOG: the most recent refusals (command, key, channel) and failed AUTHs, newest first, at
//! most `acllog-max-len`. A refusal equal to a recent one (same reason, context, object and
//! user, within a minute) is counted on that entry instead of adding one, as Redis does, so a
//! brute-force AUTH loop costs one entry.

use parking_lot::Mutex;
use std::collections::VecDeque;

/// Entries this close in time with the same fields are merged.
const GROUPING_WINDOW_MS: u64 = 60_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    Command,
    Key,
    Channel,
    Auth,
}

impl Reason {
    pub fn name(self) -> &'static str {
        match self {
            Reason::Command => "command",
            Reason::Key => "key",
            Reason::Channel => "channel",
            Reason::Auth => "auth",
        }
    }
}

/// Where the refused call ran.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Context {
    TopLevel,
    Multi,
    Lua,
}

impl Context {
    pub fn name(self) -> &'static str {
        match self {
            Context::TopLevel => "toplevel",
            Context::Multi => "multi",
            Context::Lua => "lua",
        }
    }
}

#[derive(Debug, Clone)]
pub struct Entry {
    pub count: u64,
    pub reason: Reason,
    pub context: Context,
    pub object: Vec<u8>,
    pub username: Vec<u8>,
    pub client_info: String,
    pub entry_id: u64,
    pub created_ms: u64,
    pub updated_ms: u64,
}

#[derive(Default)]
pub struct AclLog {
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    entries: VecDeque<Entry>,
    next_id: u64,
}

/// What is being logged; the client line is only built when a new entry is needed.
pub struct Refusal<'a> {
    pub reason: Reason,
    pub context: Context,
    pub object: &'a [u8],
    pub username: &'a [u8],
}

impl AclLog {
    pub fn add(
        &self,
        refusal: Refusal<'_>,
        now_ms: u64,
        max_len: usize,
        client_info: impl FnOnce() -> String,
    ) {
        let mut inner = self.inner.lock();
        let same = inner.entries.iter().position(|e| {
            e.reason == refusal.reason
                && e.context == refusal.context
                && e.object == refusal.object
                && e.username == refusal.username
                && now_ms.saturating_sub(e.created_ms) < GROUPING_WINDOW_MS
        });
        if let Some(at) = same {
            let mut entry = inner.entries.remove(at).expect("position is in range");
            entry.count += 1;
            entry.updated_ms = now_ms;
            entry.client_info = client_info();
            inner.entries.push_front(entry);
            return;
        }
        let entry_id = inner.next_id;
        inner.next_id += 1;
        inner.entries.push_front(Entry {
            count: 1,
            reason: refusal.reason,
            context: refusal.context,
            object: refusal.object.to_vec(),
            username: refusal.username.to_vec(),
            client_info: client_info(),
            entry_id,
            created_ms: now_ms,
            updated_ms: now_ms,
        });
        inner.entries.truncate(max_len);
    }

    /// The newest `count` entries.
    pub fn newest(&self, count: usize) -> Vec<Entry> {
        self.inner
            .lock()
            .entries
            .iter()
            .take(count)
            .cloned()
            .collect()
    }

    /// ACL LOG RESET: entry ids keep counting, as in Redis.
    pub fn reset(&self) {
        self.inner.lock().entries.clear();
    }

    /// Drops the oldest entries beyond a lowered `acllog-max-len`.
    pub fn trim(&self, max_len: usize) {
        self.inner.lock().entries.truncate(max_len);
    }
}
