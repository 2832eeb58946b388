//! A client's state as the engine keeps it between commands (`ClientState`: database,
//! protocol, user, transaction, WATCH, blocking, CLIENT REPLY ...), and what it costs in CLIENT
//! LIST. Plain data: it names no running command and not the server's state, so the state can
//! hold clients (the blocked ones) without depending on the code that runs commands.

use crate::protocol::Protocol;
use bytes::Bytes;
use std::sync::Arc;

/// Per-connection state that commands read and change (SELECT, HELLO, CLIENT SETNAME ...).
#[derive(Debug)]
pub struct ClientState {
    pub id: u64,
    pub db: usize,
    pub protocol: Protocol,
    pub authenticated: bool,
    /// The ACL user this connection runs as.
    pub user: Arc<crate::acl::User>,
    pub info: Arc<crate::clients::ClientInfo>,
    /// Set by QUIT: close after the reply is written.
    pub close_after_reply: bool,
    /// CLIENT REPLY state.
    pub reply_mode: ReplyMode,
    /// CLIENT NO-EVICT / NO-TOUCH switches.
    pub no_evict: bool,
    pub no_touch: bool,
    /// Commands queued since MULTI; `None` outside a transaction.
    pub multi: Option<MultiState>,
    /// Keys this client WATCHes and the flag their shards set when one changes.
    pub watch: WatchState,
    /// Subscriptions, MONITOR mode, the queue other connections push to, pending keyspace events.
    pub pubsub: crate::pubsub::ClientPubSub,
    /// The last command run, as published in `info.details` (compared by address so the
    /// shared copy is only written when it changes).
    pub last_cmd: &'static str,
    /// AOF log position the replies of the current batch must wait for (0: none).
    pub aof_wait: u64,
    /// Blocking commands: the wait a command asked for, and whether it runs nested.
    pub blocking: ClientBlocking,
    /// MIGRATE between its steps (commands/generic/migrate.rs owns the type; the engine only
    /// carries it from the command to the connection task's network step and back).
    pub migrate: Option<Box<dyn std::any::Any + Send + Sync>>,
    /// The query buffer of the batch being run, as read: length and capacity (the running
    /// client's own CLIENT INFO `qbuf=` / `qbuf-free=`: Redis trims it after the batch).
    pub query_batch: (usize, usize),
    /// The primary's client on a replica (replication/replica.rs): writes allowed on a
    /// read-only replica, keys past their deadline still live, no OOM refusal.
    pub master: bool,
    /// Its commands are applied as sent, never refused for cluster slots (Redis's
    /// `mustObeyClient`: AOF loading, a primary's replication stream).
    pub must_obey: bool,
    /// What a replica said in REPLCONF, and the stream PSYNC/SYNC hands the connection to.
    pub repl: crate::replication::primary::ReplConf,
    /// The batch clock (see `BatchClock`): connection tasks only.
    pub batch_clock: BatchClock,
    /// Calls not yet added to the shared counters (see `CallTally`): connection tasks only.
    pub tally: crate::engine::registry::CallTally,
}

/// What a blocking command waits for.
#[derive(Debug, Clone)]
pub struct BlockRequest {
    /// Keys in the client's database, in the command's order.
    pub keys: Vec<Bytes>,
    /// The type name (`list`, `zset`) a ready key must hold for the command to be re-run.
    pub wants: &'static str,
    /// Absolute unix ms on the server clock; `None` waits forever.
    pub deadline_ms: Option<u64>,
    /// The reply on timeout or CLIENT UNBLOCK ... TIMEOUT (null array for BLPOP, null bulk
    /// for BLMOVE).
    pub timeout_reply: crate::protocol::Reply,
    /// The request to re-run instead of the original one (XREAD's `$` replaced by the ID it
    /// stood for when the command first ran); `None` re-runs the request as sent.
    pub rerun: Option<Vec<Bytes>>,
    /// Re-run on any change of a key, whatever it then holds (XREADGROUP: a deleted key or
    /// destroyed group answers an error, as Redis 7.2's re-execution does).
    pub on_any_change: bool,
}

/// A client's blocking state, part of `ClientState`.
#[derive(Debug, Default)]
pub struct ClientBlocking {
    /// Running inside EXEC or a script: blocking commands answer at once.
    pub nested: bool,
    /// Set by `block_on`; the connection task takes it and waits.
    pub request: Option<BlockRequest>,
    /// The blocked command runs again to be served: MONITOR showed it when it arrived.
    pub retrying: bool,
}

/// One clock read serves as the end of one command and the start of the next in a pipelined
/// batch (and the read that follows a socket read as the start of the batch's first command),
/// so a command costs one clock read, not two. The connection loop turns it on and clears the
/// carried instant at every `.await` between commands: an instant handed on is never older
/// than the synchronous work between two commands of one batch (encoding a reply, decoding the
/// next request), well under the clock's millisecond resolution for expiry. Other callers
/// (AOF loading, blocked clients served elsewhere, scripts) never carry one: each of their
/// commands reads the clock itself.
#[derive(Debug, Default)]
pub struct BatchClock {
    /// Set by the connection task that owns this client.
    pub enabled: bool,
    /// The instant (unix us) the next command may take as its start; 0 = read the clock.
    pub carried_us: u64,
}

impl BatchClock {
    /// The start of a command: the carried instant, or a fresh read.
    #[inline]
    pub fn start(&mut self, clock: &crate::clock::Clock) -> u64 {
        match std::mem::take(&mut self.carried_us) {
            0 => clock.now_us(),
            at => at,
        }
    }

    /// The end of a command, read now and carried to the next command of the batch.
    #[inline]
    pub fn end(&mut self, clock: &crate::clock::Clock) -> u64 {
        let now = clock.now_us();
        if self.enabled {
            self.carried_us = now;
        }
        now
    }

    /// Before an `.await` between commands: the next command reads the clock.
    #[inline]
    pub fn forget(&mut self) {
        self.carried_us = 0;
    }

    /// After a socket read: the instant read for it starts the batch's first command.
    #[inline]
    pub fn seed(&mut self, now_us: u64) {
        if self.enabled {
            self.carried_us = now_us;
        }
    }
}

/// A transaction being queued.
#[derive(Debug, Default)]
pub struct MultiState {
    pub queued: Vec<(crate::engine::registry::Found, Vec<bytes::Bytes>)>,
    /// A command was refused while queuing: EXEC must answer EXECABORT.
    pub aborted: bool,
}

#[derive(Debug, Default)]
pub struct WatchState {
    pub flag: Arc<crate::keyspace::watch::WatchFlag>,
    /// (db, key) pairs being watched.
    pub keys: Vec<(usize, Box<[u8]>)>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplyMode {
    On,
    Off,
    /// Skip the reply of the next command only.
    SkipNext,
    /// Skipping the current command's reply (SKIP was given by the previous command).
    Skipping,
}

impl ClientState {
    /// This client as CLIENT LIST describes the caller, running `cmd` with `argv`.
    pub fn own_view<'a>(&self, cmd: &'a str, argv: &[bytes::Bytes]) -> crate::clients::OwnView<'a> {
        crate::clients::OwnView {
            cmd,
            multi: self.multi.as_ref().map(|m| (m.queued.len(), multi_mem(m))),
            no_evict: self.no_evict,
            no_touch: self.no_touch,
            query_batch: self.query_batch,
            argv_mem: argv_mem(argv),
            argc: argv.len(),
        }
    }

    pub fn new(info: Arc<crate::clients::ClientInfo>) -> ClientState {
        let pubsub = crate::pubsub::ClientPubSub::new(info.clone());
        ClientState {
            id: info.id,
            db: 0,
            protocol: Protocol::Resp2,
            authenticated: true,
            user: crate::acl::internal_user(),
            info,
            close_after_reply: false,
            reply_mode: ReplyMode::On,
            no_evict: false,
            no_touch: false,
            multi: None,
            watch: WatchState::default(),
            pubsub,
            last_cmd: "",
            aof_wait: 0,
            blocking: Default::default(),
            migrate: None,
            query_batch: (0, 0),
            master: false,
            must_obey: false,
            repl: Default::default(),
            batch_clock: BatchClock::default(),
            tally: Default::default(),
        }
    }
}

/// CLIENT LIST `multi-mem=` of a transaction: the queued arguments' bytes plus a pointer per
/// argument, as Redis's `mstate.argv_len_sums`.
pub fn multi_mem(multi: &MultiState) -> usize {
    multi
        .queued
        .iter()
        .map(|(_, argv)| argv_mem(argv) + argv.len() * std::mem::size_of::<usize>())
        .sum()
}

/// The bytes of a command's arguments (Redis's `argv_len_sum`, CLIENT LIST `argv-mem=`).
pub fn argv_mem(argv: &[Bytes]) -> usize {
    argv.iter().map(|a| a.len()).sum()
}
