//! Replication: the node's role and replication ids, shared by the primary side (the write
//! stream, the backlog and PSYNC for connected replicas) and the replica side (the link to a
//! primary started by REPLICAOF). Both sides read and change the role only through this state.
//! A replica runs both: its own replicas are served from its primary's stream (chained
//! replication). FAILOVER (failover.rs) hands the primary role to a replica.

pub mod backlog;
pub mod failover;
pub mod primary;
pub mod replica;

use crate::engine::ClientState;
use crate::protocol::Reply;
use bytes::Bytes;
use parking_lot::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

/// What replication reads and changes of the server (built by `replication_handle` in
/// state.rs): the role, ids and stream; the live config; the clock; the AOF (expired keys kept
/// for logging); the pause (FAILOVER's write pause); the client registry (the primary's
/// client, WAIT); the keyspace, the gate, the script BUSY state and the RDB bookkeeping (a
/// snapshot's instant, a full resync's load); the Functions libraries; the shutdown signal;
/// and the server, for what replication calls back into (`Host`).
#[derive(Clone, Copy)]
pub struct Handle<'a> {
    pub replication: &'a Replication,
    pub config: &'a crate::config::Config,
    pub clock: &'a crate::clock::Clock,
    pub aof: &'a crate::aof::Aof,
    pub pause: &'a crate::pause::ClientPause,
    pub clients: &'a crate::clients::ClientRegistry,
    pub keyspace: &'a crate::keyspace::Keyspace,
    pub gate: &'a crate::gate::Gate,
    pub busy: &'a crate::scripting::busy::BusyState,
    pub rdb: &'a crate::rdb::RdbState,
    pub functions: &'a dyn crate::rdb::Libraries,
    pub shutdown: &'a tokio::sync::watch::Sender<bool>,
    pub server: &'a dyn Host,
}

/// A replica's wait for its turn under CLIENT PAUSE; the turn is kept until the command ran.
pub type PauseWait<'a, 'b> = std::pin::Pin<
    Box<dyn std::future::Future<Output = Option<crate::pause::Turn<'a>>> + Send + 'b>,
>;

/// The server as replication calls back into it (implemented in state.rs, so this module
/// depends neither on the server's state nor on dispatch): tasks and threads that outlive a
/// command hold it as an `Arc`; the link task is spawned by the server as `replica::run` for
/// its own type, so the stream's commands run without dynamic calls.
pub trait Host: crate::rdb::Host + crate::aof::Host + 'static {
    fn replication_handle(&self) -> Handle<'_>;
    /// The server's own `Arc` (None before it runs).
    fn arc(&self) -> Option<Arc<dyn Host>>;
    /// The TCP port this node listens on (REPLCONF listening-port).
    fn tcp_port(&self) -> u16;
    /// Spawns the link task to a primary (`replica::run`).
    fn spawn_link(
        self: Arc<Self>,
        generation: u64,
        host: String,
        port: u16,
    ) -> tokio::task::AbortHandle;
    /// Runs one command as `client` now (dispatch's `execute`).
    fn execute(&self, client: &mut ClientState, argv: &[Bytes]) -> Reply;
    /// One attempt at a command (dispatch's `try_execute`): its reply, or what it waits for.
    fn try_execute(
        &self,
        client: &mut ClientState,
        argv: &[Bytes],
    ) -> Result<Reply, crate::gate::Wait>;
    /// Waits while CLIENT PAUSE holds this request (`engine::client_pause::wait_unpaused`).
    /// Asked only while a pause may be engaged (`ClientPause::maybe_engaged`), so the boxed
    /// wait costs nothing otherwise.
    fn wait_unpaused<'a: 'b, 'b>(
        &'a self,
        client: &'b ClientState,
        argv: &'b [Bytes],
    ) -> PauseWait<'a, 'b>;
    /// Enters the gate's exclusive section as client `client_id`, waiting on this thread
    /// behind scripts and other commands.
    fn exclusive_section(&self, client_id: u64) -> crate::gate::Pass<'_>;
    /// Answers every client blocked on keys with `text` (a replica's writes come from its
    /// primary only).
    fn unblock_all(&self, text: &'static str) -> usize;
    /// Answers the blocked client `id` with `reply` (WAIT); false if it was not blocked.
    fn complete_blocked(&self, id: u64, reply: Reply) -> bool;
}

/// What this node is: a primary, or a replica of `host:port`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Role {
    Primary,
    Replica { host: String, port: u16 },
}

/// The replication ids (INFO replication's master_replid, master_replid2, second_repl_offset).
#[derive(Clone, Debug)]
pub struct Ids {
    /// The id of the history this node's data follows (40 hex characters).
    pub replid: String,
    /// The previous history's id after a role change, so partial resyncs of it still work.
    pub replid2: String,
    /// Up to where `replid2`'s history is shared (-1: none).
    pub second_replid_offset: i64,
}

pub struct Replication {
    role: Mutex<Role>,
    /// Mirrors `role` being a replica: read by every command (dispatch's READONLY check), so
    /// one relaxed load instead of the role's lock. Written only with the lock held.
    replica: std::sync::atomic::AtomicBool,
    ids: Mutex<Ids>,
    /// The replica side's link to its primary (replica.rs).
    pub link: replica::Link,
    /// The write stream and its backlog; holds master_repl_offset (bytes of the stream this
    /// node has produced or applied).
    pub feed: Arc<backlog::Feed>,
    /// Connected replicas, full syncs, WAIT (the primary side; on a replica, its own
    /// replicas: chained replication).
    pub primary: primary::Primary,
    /// FAILOVER's state (failover.rs).
    pub failover: failover::Failover,
    /// Held by the replica side while a command of its primary's stream runs and its bytes
    /// are counted, and by a full sync while it takes its snapshot's instant: the snapshot of a
    /// replica then holds exactly the stream up to the offset it is stamped with. Taken before
    /// the gate and never by a command: the full sync and the load of a full resync (threads)
    /// wait for it; the link task only tries it (a snapshot may hold it while it waits for the
    /// gate behind a script), and never waits while holding it.
    pub apply_lock: Mutex<()>,
    /// The database the primary's stream has selected (the primary's client's), as of the
    /// offset: the `repl-stream-db` of a snapshot taken on a replica, since the stream proxied
    /// to its own replicas goes on without a SELECT.
    stream_db: AtomicUsize,
}

impl Replication {
    pub fn new(seed: u64) -> Replication {
        Replication {
            role: Mutex::new(Role::Primary),
            replica: std::sync::atomic::AtomicBool::new(false),
            ids: Mutex::new(Ids {
                replid: new_replid(seed),
                replid2: "0".repeat(40),
                second_replid_offset: -1,
            }),
            link: replica::Link::default(),
            feed: Arc::default(),
            primary: primary::Primary::default(),
            failover: failover::Failover::default(),
            apply_lock: Mutex::new(()),
            stream_db: AtomicUsize::new(0),
        }
    }

    pub fn role(&self) -> Role {
        self.role.lock().clone()
    }

    pub fn set_role(&self, role: Role) {
        let mut held = self.role.lock();
        self.replica.store(
            matches!(role, Role::Replica { .. }),
            std::sync::atomic::Ordering::Release,
        );
        *held = role;
    }

    pub fn is_replica(&self) -> bool {
        self.replica.load(std::sync::atomic::Ordering::Acquire)
    }

    pub fn ids(&self) -> Ids {
        self.ids.lock().clone()
    }

    pub fn set_ids(&self, ids: Ids) {
        *self.ids.lock() = ids;
    }

    /// A new history: the current id becomes replid2 (valid up to the current offset), as on
    /// a promotion (REPLICAOF NO ONE) in Redis.
    pub fn shift_replid(&self, seed: u64) {
        let offset = self.offset();
        let mut ids = self.ids.lock();
        ids.replid2 = std::mem::replace(&mut ids.replid, new_replid(seed));
        ids.second_replid_offset = offset as i64 + 1;
    }

    pub fn offset(&self) -> u64 {
        self.feed.offset()
    }

    pub fn stream_db(&self) -> usize {
        self.stream_db.load(Ordering::Acquire)
    }

    pub fn set_stream_db(&self, db: usize) {
        self.stream_db.store(db, Ordering::Release)
    }

    /// Sets master_repl_offset (after a full sync from a primary): the backlog, if any,
    /// restarts empty at that offset.
    pub fn set_offset(&self, offset: u64) {
        self.feed.reset_offset(offset)
    }

    /// Advances master_repl_offset by bytes applied without keeping them (a replica side that
    /// wants them kept for its own replicas calls `feed.append_raw` instead).
    pub fn add_offset(&self, bytes: u64) -> u64 {
        self.feed.add_offset(bytes)
    }
}

/// 40 random-looking hex characters.
pub fn new_replid(seed: u64) -> String {
    use std::hash::BuildHasher;
    let state = foldhash::fast::RandomState::default();
    let mut out = String::with_capacity(40);
    let mut i = 0u64;
    while out.len() < 40 {
        let h = state.hash_one((seed, i, std::process::id(), "replid"));
        out.push_str(&format!("{h:016x}"));
        i += 1;
    }
    out.truncate(40);
    out
}
