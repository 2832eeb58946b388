//! The replica side: the link to a primary that REPLICAOF (or `replicaof` at start-up) opens.
//!
//! One tokio task per link runs Redis's `syncWithMaster` steps: connect, PING, AUTH with
//! masterauth/masteruser, `REPLCONF listening-port` (and `ip-address`), `REPLCONF capa eof capa
//! psync2`, then `PSYNC <replid> <offset+1>` (or `PSYNC ? -1` with no history). On
//! `+FULLRESYNC` the RDB (`$<len>` or diskless `$EOF:<mark>`) is written to a temporary file in
//! `dir`; then, in the exclusive section, FLUSHALL and FUNCTION FLUSH run, the file is renamed
//! to `dbfilename` (as redis-server with `repl-diskless-load disabled`) and loaded, so clients
//! see the old data set or the new one, never a mix (a newline a second keeps the primary from
//! timing the link out meanwhile). On `+CONTINUE` the data stays. Then each command of the stream runs
//! through dispatch as the primary's client (`ClientState::master`: allowed to write on a
//! read-only replica, sees keys past their deadline as live, replies dropped; SELECT and
//! MULTI/EXEC act as for any client, the way AOF loading replays a file). The offset grows by
//! the bytes of each command applied (not inside MULTI, as Redis's `reploff`); `REPLCONF
//! GETACK` is answered at once and `REPLCONF ACK <offset>` is sent every second.
//!
//! When the link drops, the task reconnects with a backoff (100 ms doubling to 1 s) and offers
//! its replication id and offset for a partial resync. REPLICAOF NO ONE or another primary
//! aborts the task (a new generation), and a promotion shifts the replication id so the old
//! history stays in `replid2`.
//!
//! Chained replication (Redis's PSYNC2): the bytes of each command applied (and of the PINGs,
//! GETACKs and empty lines around them) go into this node's backlog exactly as received, so its
//! own replicas get the primary's stream under the primary's replid and offsets and can later
//! resync partially with any node of the chain. The backlog exists from the first sync on (as
//! on a Redis 7 replica), so a promotion (REPLICAOF NO ONE, or PSYNC ... FAILOVER) continues
//! the history under a new replid with the old one as replid2. A full resync from the primary
//! disconnects this node's replicas (their history is gone) and restarts the backlog; a
//! +CONTINUE under a new replid disconnects them too, so they learn it; a dropped link or a
//! partial resync keeps them.

use super::{Handle, Host, Ids, Replication, Role};
use crate::config::Config;
use crate::engine::ClientState;
use crate::protocol::request::{Limits, Request, RequestDecoder};
use bytes::{Bytes, BytesMut};
use parking_lot::Mutex;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::TcpStream;

/// The link's state, as ROLE names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LinkStatus {
    /// Waiting to (re)connect.
    Connect,
    Connecting,
    Handshake,
    /// Receiving the RDB of a full resync.
    Sync,
    Connected,
}

impl LinkStatus {
    pub fn name(self) -> &'static str {
        match self {
            LinkStatus::Connect => "connect",
            LinkStatus::Connecting => "connecting",
            LinkStatus::Handshake => "handshake",
            LinkStatus::Sync => "sync",
            LinkStatus::Connected => "connected",
        }
    }
}

/// Progress of the RDB transfer of a full resync (INFO's master_sync_* fields).
#[derive(Clone, Debug, Default)]
struct Transfer {
    /// Declared size; None for a diskless (`$EOF:`) transfer.
    total: Option<u64>,
    read: u64,
    last_io_ms: u64,
}

#[derive(Debug)]
struct LinkInner {
    status: LinkStatus,
    /// Bumped by every REPLICAOF: a link task of an older generation stops.
    generation: u64,
    task: Option<tokio::task::AbortHandle>,
    /// Unix ms of the last bytes read from the primary.
    last_io_ms: u64,
    /// Unix ms when the link went down (0: it has not been up since REPLICAOF).
    down_since_ms: u64,
    /// Bytes of the stream read (slave_read_repl_offset); applied bytes are the shared offset.
    read_offset: u64,
    transfer: Option<Transfer>,
    /// Whether this node's replication id and offset describe data worth a partial resync.
    has_history: bool,
}

/// The replica side's state, kept in `Replication`.
#[derive(Debug)]
pub struct Link {
    inner: Mutex<LinkInner>,
}

impl Default for Link {
    fn default() -> Link {
        Link {
            inner: Mutex::new(LinkInner {
                status: LinkStatus::Connect,
                generation: 0,
                task: None,
                last_io_ms: 0,
                down_since_ms: 0,
                read_offset: 0,
                transfer: None,
                has_history: false,
            }),
        }
    }
}

impl Link {
    pub fn status(&self) -> LinkStatus {
        self.inner.lock().status
    }

    /// True while the link is up (commands flagged `stale`-less are refused otherwise when
    /// replica-serve-stale-data is no).
    pub fn is_up(&self) -> bool {
        self.status() == LinkStatus::Connected
    }

    fn set_status(&self, generation: u64, status: LinkStatus, now_ms: u64) -> bool {
        let mut inner = self.inner.lock();
        if inner.generation != generation {
            return false;
        }
        if inner.status == LinkStatus::Connected && status != LinkStatus::Connected {
            inner.down_since_ms = now_ms;
        }
        inner.status = status;
        if status != LinkStatus::Sync {
            inner.transfer = None;
        }
        true
    }

    fn current(&self, generation: u64) -> bool {
        self.inner.lock().generation == generation
    }

    fn note_io(&self, bytes: u64, now_ms: u64, stream: bool) {
        let mut inner = self.inner.lock();
        inner.last_io_ms = now_ms;
        if stream {
            inner.read_offset += bytes;
        } else if let Some(t) = inner.transfer.as_mut() {
            t.read += bytes;
            t.last_io_ms = now_ms;
        }
    }
}

/// Why this node cannot replicate as configured, if it cannot: the link is plaintext TCP, so
/// `tls-replication yes` would never reach a primary that expects TLS.
pub fn unsupported(config: &Config) -> Option<&'static str> {
    config
        .get_bool("tls-replication")
        .then_some("'tls-replication yes' is not supported: the link to a primary is plaintext TCP")
}

/// REPLICAOF host port: (re)starts the link. False when already a replica of that primary.
pub fn replicate(server: Arc<dyn Host>, host: &str, port: u16, at_startup: bool) -> bool {
    let state = server.replication_handle();
    let repl = &state.replication;
    let was_primary = match repl.role() {
        Role::Replica { host: h, port: p } if h.eq_ignore_ascii_case(host) && p == port => {
            return false;
        }
        Role::Replica { .. } => false,
        Role::Primary => true,
    };
    let generation = {
        let mut inner = repl.link.inner.lock();
        if let Some(task) = inner.task.take() {
            task.abort();
        }
        inner.generation += 1;
        inner.status = LinkStatus::Connect;
        inner.down_since_ms = 0;
        inner.transfer = None;
        inner.last_io_ms = 0;
        inner.read_offset = repl.offset();
        // A primary offers its own history (Redis's replicationCacheMasterUsingMyself); a node
        // started as a replica has none to offer.
        if was_primary {
            inner.has_history = !at_startup;
        }
        inner.generation
    };
    repl.set_role(Role::Replica {
        host: host.to_string(),
        port,
    });
    // Its replicas, if any, stay (they may continue partially once this node is linked), and
    // now get the new primary's stream as proxied.
    repl.feed.set_proxy(true);
    state.aof.update_expired_keys_logged();
    if was_primary {
        // The new primary's stream starts with a SELECT (Redis's cached master of db -1).
        repl.set_stream_db(0);
    }
    state
        .keyspace
        .tunables
        .expiry
        .set_replica_keeps_expired(true);
    set_config(state, &[host.to_string(), port.to_string()]);
    // A blocked pop served by the primary's writes would change this replica's data.
    state.server.unblock_all(
        "UNBLOCKED force unblock from blocking operation, instance state changed (master -> replica?)",
    );
    tracing::info!("Connecting to MASTER {host}:{port}");
    let task = server
        .clone()
        .spawn_link(generation, host.to_string(), port);
    repl.link.inner.lock().task = Some(task);
    true
}

/// REPLICAOF NO ONE: stops the link and promotes this node (a new replication id; the old one
/// stays valid as replid2 up to the current offset).
pub fn promote(state: Handle) {
    let repl = &state.replication;
    if !repl.is_replica() {
        return;
    }
    {
        let mut inner = repl.link.inner.lock();
        if let Some(task) = inner.task.take() {
            task.abort();
        }
        inner.generation += 1;
        inner.status = LinkStatus::Connect;
        inner.transfer = None;
        inner.has_history = true;
    }
    repl.shift_replid(state.clock.now_ms());
    repl.set_role(Role::Primary);
    // Effects of this node's own writes feed the stream from now on, starting with a SELECT.
    repl.feed.set_proxy(false);
    state.aof.update_expired_keys_logged();
    repl.primary.restart_alone_clock(state.clock.now_ms());
    // Its replicas learn the new replid when they reconnect, and continue from replid2.
    repl.primary.disconnect_all();
    state
        .keyspace
        .tunables
        .expiry
        .set_replica_keeps_expired(false);
    set_config(state, &["no".into(), "one".into()]);
    tracing::info!("MASTER MODE enabled");
}

fn set_config(state: Handle, args: &[String]) {
    if let Some(spec) = crate::config::find_option("replicaof") {
        if let Err(e) = state.config.set(spec, args) {
            tracing::warn!("replicaof not recorded in the configuration: {e}");
        }
    }
}

/// ROLE's reply fields of a replica: host, port, link state, offset (-1 while the link is not
/// up, as Redis's `server.master ? reploff : -1`).
pub fn role_fields(state: Handle) -> Option<(String, u16, &'static str, i64)> {
    match state.replication.role() {
        Role::Replica { host, port } => {
            let status = state.replication.link.status();
            let offset = if status == LinkStatus::Connected {
                state.replication.offset() as i64
            } else {
                -1
            };
            Some((host, port, status.name(), offset))
        }
        Role::Primary => None,
    }
}

/// INFO replication's replica fields, from `role` to `replica_announced` (Redis 7.0's order).
pub fn info_fields(state: Handle) -> Vec<(&'static str, String)> {
    let Role::Replica { host, port } = state.replication.role() else {
        return vec![("role", "master".into())];
    };
    let now = state.clock.now_ms();
    let inner = state.replication.link.inner.lock();
    let up = inner.status == LinkStatus::Connected;
    let secs = |ms: u64| (now.saturating_sub(ms) / 1000).to_string();
    let mut fields = vec![
        ("role", "slave".to_string()),
        ("master_host", host),
        ("master_port", port.to_string()),
        ("master_link_status", if up { "up" } else { "down" }.into()),
        (
            "master_last_io_seconds_ago",
            if up {
                secs(inner.last_io_ms)
            } else {
                "-1".into()
            },
        ),
        (
            "master_sync_in_progress",
            u8::from(inner.status == LinkStatus::Sync).to_string(),
        ),
        ("slave_read_repl_offset", inner.read_offset.to_string()),
        ("slave_repl_offset", state.replication.offset().to_string()),
    ];
    if let Some(t) = &inner.transfer {
        let total = t.total.map_or(-1, |n| n as i64);
        let left = t.total.map_or(-1, |n| n.saturating_sub(t.read) as i64);
        let perc = match t.total {
            Some(n) if n > 0 => t.read as f64 * 100.0 / n as f64,
            _ => 0.0,
        };
        fields.push(("master_sync_total_bytes", total.to_string()));
        fields.push(("master_sync_read_bytes", t.read.to_string()));
        fields.push(("master_sync_left_bytes", left.to_string()));
        fields.push(("master_sync_perc", format!("{perc:.2}")));
        fields.push(("master_sync_last_io_seconds_ago", secs(t.last_io_ms)));
    }
    if !up {
        let down = if inner.down_since_ms == 0 {
            "-1".to_string()
        } else {
            secs(inner.down_since_ms)
        };
        fields.push(("master_link_down_since_seconds", down));
    }
    drop(inner);
    let flag = |name: &str| u8::from(state.config.get_bool(name)).to_string();
    fields.push(("slave_priority", state.config.get("replica-priority")));
    fields.push(("slave_read_only", flag("replica-read-only")));
    fields.push(("replica_announced", flag("replica-announced")));
    fields
}

/// Redis's READONLY and MASTERDOWN refusals of `processCommand` on a replica, for a command
/// that writes (`writes`) or may not run on stale data (`denies_stale`), from a client that is
/// not the primary's.
pub fn refusal(
    replication: &Replication,
    config: &Config,
    writes: bool,
    denies_stale: bool,
) -> Option<&'static str> {
    if !replication.is_replica() {
        return None;
    }
    if writes && config.get_bool("replica-read-only") {
        return Some("READONLY You can't write against a read only replica.");
    }
    if denies_stale && !replication.link.is_up() && !config.get_bool("replica-serve-stale-data") {
        return Some(
            "MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to 'no'.",
        );
    }
    None
}

/// The stream bytes of one command (or one whole transaction) applied: the offset grows by
/// them, and they go into the backlog as received, for this node's own replicas (Redis's
/// `replicationFeedStreamFromMasterStream`). The primary's client's database is noted with
/// them. Run under `apply_lock` when a command changed the data.
fn applied(replication: &Replication, client: &ClientState, bytes: &mut BytesMut) {
    if !bytes.is_empty() {
        replication.feed.append_raw(bytes);
        bytes.clear();
    }
    replication.set_stream_db(client.db);
}

/// Room made in the read buffer before each read.
const READ_CHUNK_BYTES: usize = 64 * 1024;
const BACKOFF_FIRST: Duration = Duration::from_millis(100);
const BACKOFF_MAX: Duration = Duration::from_secs(1);

/// The link task of one generation (spawned by the server through `Host::spawn_link`).
pub async fn run<S: Host>(server: Arc<S>, generation: u64, host: String, port: u16) {
    let state = server.replication_handle();
    let mut backoff = BACKOFF_FIRST;
    loop {
        if !state.replication.link.current(generation) {
            return;
        }
        let outcome = session(&server, generation, &host, port).await;
        let now = state.clock.now_ms();
        if !state
            .replication
            .link
            .set_status(generation, LinkStatus::Connect, now)
        {
            return;
        }
        match outcome {
            Ok(()) => return,
            Err(Fail::Early(e)) => {
                tracing::warn!("Replication link with MASTER {host}:{port}: {e}");
            }
            Err(Fail::AfterSync(e)) => {
                tracing::warn!("Connection with MASTER {host}:{port} lost: {e}");
                backoff = BACKOFF_FIRST;
            }
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(BACKOFF_MAX);
    }
}

/// Why a session ended: before the link was up, or after.
enum Fail {
    Early(String),
    AfterSync(String),
}

/// The primary's client while it runs commands of the stream; unregistered when the session
/// ends (also when the task is aborted).
struct PrimaryClient<'a> {
    clients: &'a crate::clients::ClientRegistry,
    client: ClientState,
}

impl Drop for PrimaryClient<'_> {
    fn drop(&mut self) {
        self.clients.unregister(self.client.id);
    }
}

struct Conn {
    reader: OwnedReadHalf,
    writer: OwnedWriteHalf,
    buf: BytesMut,
    timeout: Duration,
}

impl Conn {
    async fn send(&mut self, argv: &[&[u8]]) -> Result<(), String> {
        let mut out = format!("*{}\r\n", argv.len()).into_bytes();
        for arg in argv {
            out.extend_from_slice(format!("${}\r\n", arg.len()).as_bytes());
            out.extend_from_slice(arg);
            out.extend_from_slice(b"\r\n");
        }
        tokio::time::timeout(self.timeout, self.writer.write_all(&out))
            .await
            .map_err(|_| "timeout writing to MASTER".to_string())?
            .map_err(|e| format!("error writing to MASTER: {e}"))
    }

    /// Reads more bytes into `buf`; the count read.
    async fn fill(&mut self) -> Result<usize, String> {
        self.buf.reserve(READ_CHUNK_BYTES);
        match tokio::time::timeout(self.timeout, self.reader.read_buf(&mut self.buf)).await {
            Err(_) => Err("timeout: no data nor PING received".into()),
            Ok(Err(e)) => Err(format!("error reading from MASTER: {e}")),
            Ok(Ok(0)) => Err("connection closed by MASTER".into()),
            Ok(Ok(n)) => Ok(n),
        }
    }

    /// The next reply line, skipping the empty lines a primary sends to keep the link alive
    /// while it prepares the RDB.
    async fn line(&mut self) -> Result<String, String> {
        loop {
            if let Some(end) = self.buf.iter().position(|&b| b == b'\n') {
                let line = self.buf.split_to(end + 1);
                let text = String::from_utf8_lossy(&line[..end]);
                let text = text.trim_end_matches('\r');
                if text.is_empty() {
                    continue;
                }
                return Ok(text.to_string());
            }
            if self.buf.len() > 64 * 1024 {
                return Err("reply line too long from MASTER".into());
            }
            self.fill().await?;
        }
    }
}

async fn session<S: Host>(
    server: &Arc<S>,
    generation: u64,
    host: &str,
    port: u16,
) -> Result<(), Fail> {
    let state = server.replication_handle();
    let link = &state.replication.link;
    let early = Fail::Early;
    let timeout = Duration::from_secs(state.config.get_i64("repl-timeout").max(1) as u64);
    if let Some(why) = unsupported(state.config) {
        // Set at runtime (CONFIG SET) after the link started: no plaintext link instead.
        return Err(early(why.to_string()));
    }
    link.set_status(generation, LinkStatus::Connecting, state.clock.now_ms());
    let stream = tokio::time::timeout(timeout, TcpStream::connect((host, port)))
        .await
        .map_err(|_| early("timeout connecting to the MASTER".into()))?
        .map_err(|e| early(format!("error connecting to MASTER: {e}")))?;
    let _ = stream.set_nodelay(!state.config.get_bool("repl-disable-tcp-nodelay"));
    let peer = stream.peer_addr().ok();
    let local = stream.local_addr().ok();
    let (reader, writer) = stream.into_split();
    let mut conn = Conn {
        reader,
        writer,
        buf: BytesMut::with_capacity(16 * 1024),
        timeout,
    };
    if !link.set_status(generation, LinkStatus::Handshake, state.clock.now_ms()) {
        return Ok(());
    }
    tracing::info!("MASTER <-> REPLICA sync started");
    handshake(state, &mut conn).await.map_err(early)?;
    let history = link.inner.lock().has_history;
    let (replid, offset) = if history {
        let ids = state.replication.ids();
        (ids.replid, (state.replication.offset() + 1).to_string())
    } else {
        ("?".to_string(), "-1".to_string())
    };
    // A primary handing over (FAILOVER) asks the target to take over with the same PSYNC.
    let failover = super::failover::psync_asks_failover(state);
    let mut psync: Vec<&[u8]> = vec![b"PSYNC", replid.as_bytes(), offset.as_bytes()];
    if failover {
        psync.push(b"FAILOVER");
    }
    conn.send(&psync).await.map_err(early)?;
    let reply = conn.line().await.map_err(early)?;
    let mut words = reply.split(' ');
    let kind = words.next();
    if failover && super::failover::psync_asks_failover(state) {
        match kind {
            // The target took over: the failover is done (Redis's clearFailoverState).
            Some("+FULLRESYNC" | "+CONTINUE") => super::failover::clear(state),
            // A transient refusal: the link tries again, still failing over.
            _ if reply.starts_with("-NOMASTERLINK") || reply.starts_with("-LOADING") => {}
            _ => {
                super::failover::abort(state, "Failover target rejected psync request");
                return Ok(());
            }
        }
    }
    match kind {
        Some("+FULLRESYNC") => {
            let (Some(id), Some(off)) = (words.next(), words.next()) else {
                return Err(early(format!("bad FULLRESYNC reply: {reply}")));
            };
            let off: u64 = off
                .parse()
                .map_err(|_| early(format!("bad FULLRESYNC offset: {reply}")))?;
            if id.len() != 40 {
                return Err(early(format!("bad FULLRESYNC replication id: {reply}")));
            }
            tracing::info!("Full resync from master: {id}:{off}");
            if !link.set_status(generation, LinkStatus::Sync, state.clock.now_ms()) {
                return Ok(());
            }
            let from = Ids {
                replid: id.to_string(),
                replid2: "0".repeat(40),
                second_replid_offset: -1,
            };
            full_sync(server, generation, &mut conn, from, off)
                .await
                .map_err(early)?;
            if !link.current(generation) {
                return Ok(());
            }
            link.inner.lock().read_offset = off;
        }
        Some("+CONTINUE") => {
            tracing::info!("Successful partial resynchronization with master.");
            if let Some(new_id) = words.next().filter(|id| id.len() == 40) {
                let mut ids = state.replication.ids();
                if ids.replid != new_id {
                    // The primary's history changed (a failover): ours continues under its id.
                    tracing::warn!("Master replication ID changed to {new_id}");
                    ids.replid2 = std::mem::replace(&mut ids.replid, new_id.to_string());
                    ids.second_replid_offset = state.replication.offset() as i64 + 1;
                    state.replication.set_ids(ids);
                    // This node's replicas learn it when they reconnect (after the change, so
                    // a full sync starting meanwhile is of the new id).
                    state.replication.primary.disconnect_all();
                }
            }
            if !state.replication.feed.is_active() {
                super::primary::activate_replica_backlog(state);
            }
            link.inner.lock().read_offset = state.replication.offset();
        }
        _ => {
            return Err(early(format!("unexpected reply to PSYNC: {reply}")));
        }
    }
    {
        let mut inner = link.inner.lock();
        if inner.generation != generation {
            return Ok(());
        }
        inner.has_history = true;
        inner.status = LinkStatus::Connected;
        inner.transfer = None;
        inner.last_io_ms = state.clock.now_ms();
        inner.down_since_ms = 0;
    }
    tracing::info!("MASTER <-> REPLICA sync: Finished with success");
    let addr = || "127.0.0.1:0".parse().expect("literal address");
    let info = state.clients.register(
        peer.unwrap_or_else(addr),
        local.unwrap_or_else(addr),
        -1,
        state.clock.now_ms(),
    );
    info.details.lock().master = true;
    let mut client = ClientState::new(info);
    client.master = true;
    client.must_obey = true;
    // The database the stream is in: the RDB's repl-stream-db after a full sync, the previous
    // link's after a partial one.
    client.db = state.replication.stream_db();
    let mut primary = PrimaryClient {
        clients: state.clients,
        client,
    };
    apply_stream(&**server, generation, &mut conn, &mut primary.client)
        .await
        .map_err(Fail::AfterSync)
}

async fn handshake(state: Handle<'_>, conn: &mut Conn) -> Result<(), String> {
    conn.send(&[b"PING"]).await?;
    let pong = conn.line().await?;
    // Redis accepts +PONG or an authentication error here (AUTH comes next).
    if pong.starts_with('-')
        && !pong.starts_with("-NOAUTH")
        && !pong.starts_with("-NOPERM")
        && !pong.starts_with("-ERR operation not permitted")
    {
        return Err(format!("Error reply to PING from master: '{pong}'"));
    }
    let pass = state.config.get("masterauth");
    if !pass.is_empty() {
        let user = state.config.get("masteruser");
        if user.is_empty() {
            conn.send(&[b"AUTH", pass.as_bytes()]).await?;
        } else {
            conn.send(&[b"AUTH", user.as_bytes(), pass.as_bytes()])
                .await?;
        }
        let reply = conn.line().await?;
        if reply.starts_with('-') {
            return Err(format!("Unable to AUTH to MASTER: {reply}"));
        }
    }
    let announced = state.config.get_i64("replica-announce-port");
    let port = if announced != 0 {
        announced
    } else {
        i64::from(state.server.tcp_port())
    };
    conn.send(&[b"REPLCONF", b"listening-port", port.to_string().as_bytes()])
        .await?;
    let reply = conn.line().await?;
    if reply.starts_with('-') {
        tracing::info!(
            "(Non critical) Master does not understand REPLCONF listening-port: {reply}"
        );
    }
    let ip = state.config.get("replica-announce-ip");
    if !ip.is_empty() {
        conn.send(&[b"REPLCONF", b"ip-address", ip.as_bytes()])
            .await?;
        let reply = conn.line().await?;
        if reply.starts_with('-') {
            tracing::info!(
                "(Non critical) Master does not understand REPLCONF ip-address: {reply}"
            );
        }
    }
    conn.send(&[b"REPLCONF", b"capa", b"eof", b"capa", b"psync2"])
        .await?;
    let reply = conn.line().await?;
    if reply.starts_with('-') {
        tracing::info!("(Non critical) Master does not understand REPLCONF capa: {reply}");
    }
    Ok(())
}

/// Receives the RDB of a full resync into `dbfilename` and loads it in place of the data set.
async fn full_sync<S: Host>(
    server: &Arc<S>,
    generation: u64,
    conn: &mut Conn,
    from: Ids,
    offset: u64,
) -> Result<(), String> {
    let state = server.replication_handle();
    let header = conn.line().await?;
    let Some(spec) = header.strip_prefix('$') else {
        return Err(format!(
            "Bad protocol from MASTER, the first byte is not '$' (we received '{header}')"
        ));
    };
    let mark = match spec.strip_prefix("EOF:") {
        Some(mark) if mark.len() == 40 => Some(mark.as_bytes().to_vec()),
        Some(_) => return Err(format!("bad EOF mark from MASTER: {header}")),
        None => None,
    };
    let total = match &mark {
        Some(_) => None,
        None => Some(
            spec.parse::<u64>()
                .map_err(|_| format!("bad RDB length from MASTER: {header}"))?,
        ),
    };
    let link = &state.replication.link;
    {
        let mut inner = link.inner.lock();
        inner.transfer = Some(Transfer {
            total,
            read: 0,
            last_io_ms: state.clock.now_ms(),
        });
    }
    tracing::info!(
        "MASTER <-> REPLICA sync: receiving {}",
        match total {
            Some(n) => format!("{n} bytes from master to disk"),
            None => "streamed RDB from master with EOF to disk".into(),
        }
    );
    let dir = std::path::PathBuf::from(state.config.get("dir"));
    let temp = dir.join(format!(
        "temp-{}.{}.rdb",
        std::process::id(),
        state.clock.now_ms()
    ));
    let received = receive(state, conn, &temp, total, mark.as_deref()).await;
    if let Err(e) = received {
        let _ = std::fs::remove_file(&temp);
        return Err(e);
    }
    if !link.current(generation) {
        let _ = std::fs::remove_file(&temp);
        return Ok(());
    }
    tracing::info!("MASTER <-> REPLICA sync: Flushing old data");
    let loader = server.clone();
    let mut loading =
        tokio::task::spawn_blocking(move || load(&*loader, generation, &temp, from, offset));
    // A newline a second while loading refreshes the primary's view of this replica (Redis
    // counts it as an ACK), so a long load does not time the link out.
    let mut keepalive = tokio::time::interval(Duration::from_secs(1));
    let loaded = loop {
        tokio::select! {
            loaded = &mut loading => break loaded,
            _ = keepalive.tick() => {
                let _ = tokio::time::timeout(conn.timeout, conn.writer.write_all(b"\n")).await;
            }
        }
    };
    loaded.map_err(|e| format!("loading the RDB failed: {e}"))??;
    if state.aof.is_on() {
        // The AOF logged the flush, not the keys loaded: a rewrite makes it whole again.
        if let Err(e) = crate::aof::rewrite::start(server.clone()) {
            tracing::warn!("AOF rewrite after the MASTER synchronization not started: {e}");
        }
    }
    Ok(())
}

/// Copies the RDB payload into `path`: `total` bytes, or up to the EOF mark.
async fn receive(
    state: Handle<'_>,
    conn: &mut Conn,
    path: &std::path::Path,
    total: Option<u64>,
    mark: Option<&[u8]>,
) -> Result<(), String> {
    let link = &state.replication.link;
    use std::io::Write;
    // Page-cache writes, off the worker's other tasks (block_in_place).
    let disk = |f: &mut dyn FnMut() -> std::io::Result<()>| tokio::task::block_in_place(f);
    let mut file = std::fs::File::create(path).map_err(|e| {
        format!("Opening the temp file needed for MASTER <-> REPLICA synchronization: {e}")
    })?;
    let write_err =
        |e: std::io::Error| format!("Write error writing to the DB file {}: {e}", path.display());
    match (total, mark) {
        (Some(total), _) => {
            let mut left = total;
            while left > 0 {
                if conn.buf.is_empty() {
                    conn.fill().await?;
                }
                let take = (conn.buf.len() as u64).min(left) as usize;
                let chunk = conn.buf.split_to(take);
                disk(&mut || file.write_all(&chunk)).map_err(write_err)?;
                left -= take as u64;
                link.note_io(take as u64, state.clock.now_ms(), false);
            }
        }
        (None, Some(mark)) => {
            // Everything but the last `mark.len()` bytes is written as it arrives; the
            // transfer ends when the bytes received end with the mark.
            let mut tail: Vec<u8> = Vec::new();
            loop {
                if conn.buf.is_empty() {
                    conn.fill().await?;
                }
                let chunk = conn.buf.split();
                link.note_io(chunk.len() as u64, state.clock.now_ms(), false);
                tail.extend_from_slice(&chunk);
                if tail.ends_with(mark) {
                    tail.truncate(tail.len() - mark.len());
                    disk(&mut || file.write_all(&tail)).map_err(write_err)?;
                    break;
                }
                if tail.len() > mark.len() {
                    let keep = tail.split_off(tail.len() - mark.len());
                    disk(&mut || file.write_all(&tail)).map_err(write_err)?;
                    tail = keep;
                }
            }
        }
        (None, None) => return Err("no RDB length nor EOF mark".into()),
    }
    disk(&mut || file.sync_all()).map_err(write_err)?;
    Ok(())
}

/// Replaces the data set with the RDB received at `temp`, in the exclusive section (no command
/// runs meanwhile; they wait their turn as behind a long script): FLUSHALL, FUNCTION FLUSH, the
/// file renamed to `dbfilename` (after the flush, whose save would replace it), then loaded;
/// then the primary's replid and offset (`from`, `offset`) become this node's, with a new
/// backlog. This node's own replicas are disconnected first: they resync from the new data.
fn load<S: Host>(
    server: &S,
    generation: u64,
    temp: &std::path::Path,
    from: Ids,
    offset: u64,
) -> Result<(), String> {
    let state = server.replication_handle();
    let addr = "127.0.0.1:0".parse().expect("literal address");
    let info = state.clients.register(addr, addr, -1, state.clock.now_ms());
    let mut client = ClientState::new(info);
    client.master = true;
    client.must_obey = true;
    let mut loader = PrimaryClient {
        clients: state.clients,
        client,
    };
    // No snapshot of this node is taken for a replica of its own until the new data and its
    // offset are in place.
    let _applying = state.replication.apply_lock.lock();
    let _pass = server.exclusive_section(loader.client.id);
    if !state.replication.link.current(generation) {
        // REPLICAOF changed meanwhile: this transfer is no longer wanted.
        let _ = std::fs::remove_file(temp);
        return Ok(());
    }
    // Redis's replicationAttachToNewMaster: this node's replicas must resync with it.
    state.replication.primary.disconnect_all();
    // Until the load completes, the history this node had is gone: a retry syncs in full.
    state.replication.link.inner.lock().has_history = false;
    let flushes: [&[Bytes]; 2] = [
        &[Bytes::from_static(b"FLUSHALL")],
        &[
            Bytes::from_static(b"FUNCTION"),
            Bytes::from_static(b"FLUSH"),
        ],
    ];
    for argv in flushes {
        let reply = server.execute(&mut loader.client, argv);
        if let crate::protocol::Reply::Error(text) = reply {
            let _ = std::fs::remove_file(temp);
            return Err(format!(
                "flushing before the load failed: {}",
                String::from_utf8_lossy(&text)
            ));
        }
    }
    let path = crate::rdb::dump_path(state.config);
    if let Err(e) = std::fs::rename(temp, &path) {
        let _ = std::fs::remove_file(temp);
        return Err(format!(
            "Failed trying to rename the temp DB into {} in MASTER <-> REPLICA synchronization: {e}",
            path.display()
        ));
    }
    tracing::info!("MASTER <-> REPLICA sync: Loading DB in memory");
    let (file, len) =
        crate::rdb::open_for_load(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    let stats = crate::rdb::load_stream(
        state.keyspace,
        state.config,
        file,
        len,
        state.clock.now_ms(),
    )
    .map_err(|e| format!("Failed trying to load the MASTER synchronization DB from disk: {e}"))?;
    crate::rdb::load_functions(state.functions, &stats.functions)?;
    tracing::info!(
        "Done loading RDB, keys loaded: {}, keys expired: {}.",
        stats.keys_loaded,
        stats.keys_expired
    );
    // The primary's history is now this node's; the backlog restarts empty at its offset.
    let repl = &state.replication;
    repl.set_ids(from);
    super::primary::activate_replica_backlog(state);
    repl.set_offset(offset);
    repl.set_stream_db(stats.repl_stream_db.unwrap_or(0));
    Ok(())
}

/// Applies the command stream until the link drops (Err) or this generation ends (Ok).
async fn apply_stream<S: Host>(
    server: &S,
    generation: u64,
    conn: &mut Conn,
    client: &mut ClientState,
) -> Result<(), String> {
    let state = server.replication_handle();
    let link = &state.replication.link;
    let limits = Limits {
        bulk_bytes_max: i64::MAX,
        authenticated: true,
    };
    let mut decoder = RequestDecoder::new();
    // The bytes of `conn.buf` as received, ahead of the decoder: what each request took from
    // the buffer is taken from here too, to be counted and proxied as it came.
    let mut raw = BytesMut::from(&conn.buf[..]);
    // Bytes of requests decoded and not counted yet (a transaction's, until its EXEC).
    let mut pending = BytesMut::new();
    let mut ack = tokio::time::interval(Duration::from_secs(1));
    ack.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    // The first ACK at once: a diskless transfer puts this replica online on it.
    send_ack(state, conn).await?;
    // Bytes already in the buffer after the RDB count as read stream bytes.
    link.note_io(conn.buf.len() as u64, state.clock.now_ms(), true);
    loop {
        loop {
            let request = decoder
                .decode(&mut conn.buf, limits)
                .map_err(|e| format!("{} from MASTER", e.0))?;
            let used = raw.len() - conn.buf.len();
            pending.extend_from_slice(&raw.split_to(used));
            let Some(request) = request else { break };
            if !link.current(generation) {
                return Ok(());
            }
            match request {
                Request::Command(argv) if argv[0].eq_ignore_ascii_case(b"replconf") => {
                    // The replication protocol's own requests, answered by the link (the ACK
                    // is of the bytes before this one, as Redis's).
                    if argv
                        .get(1)
                        .is_some_and(|a| a.eq_ignore_ascii_case(b"getack"))
                    {
                        send_ack(state, conn).await?;
                    }
                }
                Request::Command(argv) => {
                    apply_command(server, client, &argv, &mut pending).await;
                    continue;
                }
                Request::Empty => {}
            }
            if client.multi.is_none() {
                applied(state.replication, client, &mut pending);
            }
        }
        if client.info.is_killed() {
            return Err("killed by CLIENT KILL".into());
        }
        tokio::select! {
            _ = client.info.kill_notify.notified() => {}
            read = conn.fill() => {
                let n = read?;
                raw.extend_from_slice(&conn.buf[conn.buf.len() - n..]);
                link.note_io(n as u64, state.clock.now_ms(), true);
            }
            _ = ack.tick() => {
                let idle_ms = state.clock.now_ms().saturating_sub(link.inner.lock().last_io_ms);
                if idle_ms > conn.timeout.as_millis() as u64 {
                    return Err("MASTER timeout: no data nor PING received...".into());
                }
                send_ack(state, conn).await?;
            }
        }
    }
}

/// Runs one command of the stream as the primary's client (waiting as `execute_async` does
/// for a pause, the gate or a shard), and counts its bytes (`pending`) once it ran, outside a
/// transaction, under `apply_lock`: a snapshot for this node's replicas is of the data before
/// the command and its offset, or after both.
async fn apply_command<S: Host>(
    server: &S,
    client: &mut ClientState,
    argv: &[Bytes],
    pending: &mut BytesMut,
) {
    let state = server.replication_handle();
    let _turn = match state.pause.maybe_engaged() {
        true => server.wait_unpaused(client, argv).await,
        false => None,
    };
    let mut tries = 0u32;
    let reply = loop {
        let outcome = {
            // Never waited for on a worker: a full sync may hold it while it waits for the gate
            // (behind a long script).
            match state.replication.apply_lock.try_lock() {
                Some(_applying) => {
                    let outcome = crate::keyspace::lock_rules::as_async_task(|| {
                        server.try_execute(client, argv)
                    });
                    if outcome.is_ok() && client.multi.is_none() {
                        applied(state.replication, client, pending);
                    }
                    outcome
                }
                None => Err(crate::gate::Wait::Contended),
            }
        };
        match outcome {
            Ok(reply) => break reply,
            Err(crate::gate::Wait::Turn) => state.gate.wait_turn(state.busy).await,
            Err(_) => {
                // Held by running commands for microseconds; yield first, then nap.
                tries += 1;
                if tries < 64 {
                    tokio::task::yield_now().await;
                } else {
                    tokio::time::sleep(Duration::from_millis(1)).await;
                }
            }
        }
    };
    if let crate::protocol::Reply::Error(text) = &reply {
        tracing::warn!(
            "== CRITICAL == This replica is sending an error to its master: '{}' after processing the command '{}'",
            String::from_utf8_lossy(text),
            String::from_utf8_lossy(&argv[0])
        );
    }
}

async fn send_ack(state: Handle<'_>, conn: &mut Conn) -> Result<(), String> {
    let offset = state.replication.offset().to_string();
    conn.send(&[b"REPLCONF", b"ACK", offset.as_bytes()]).await
}
