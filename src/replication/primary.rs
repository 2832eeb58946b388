//! The primary side of replication: replicas connect as clients, say who they are with
//! REPLCONF, and ask for the stream with PSYNC (or SYNC). What follows is Redis 7's protocol:
//!
//! - A partial resync (`+CONTINUE <replid>`) when the replica names this node's history
//!   (`replid`, or `replid2` up to `second_repl_offset` after a promotion) and the backlog still
//!   holds the bytes from its offset on; the stream continues from there.
//! - Otherwise a full sync: `+FULLRESYNC <replid> <offset>`, an RDB of the data at one instant,
//!   then the stream from that instant's offset. The RDB is written by a thread of its own from
//!   the keyspace's copy-on-write snapshot (as BGSAVE), so no client waits for it: to a file
//!   first and sent as `$<len>\r\n<bytes>` (disk-based), or straight to the socket as
//!   `$EOF:<mark>\r\n<bytes><mark>` when the replica said `capa eof` and `repl-diskless-sync`
//!   is on, after `repl-diskless-sync-delay`.
//!
//! The stream is `backlog::Feed`: the effects commands record (the same records as the AOF's),
//! appended under their shard locks. The snapshot's instant registers the replica as a reader
//! of the stream at the offset of that instant, with every shard held, so the RDB plus the
//! stream after that offset is exactly the data.
//!
//! The socket work (sending, reading REPLCONF ACK) is in `net::replica`; this module keeps the
//! replicas' table (INFO, ROLE, WAIT, min-replicas-to-write) and runs the cron (PINGs, the
//! backlog's TTL, WAIT timeouts).

use super::backlog::Feed;
use super::{Handle, Host, Replication};
use crate::clock::Clock;
use crate::config::Config;
use crate::protocol::Reply;
use parking_lot::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// What a connection said with REPLCONF before PSYNC, and the hand-off PSYNC/SYNC asks for.
#[derive(Debug, Default)]
pub struct ReplConf {
    pub listening_port: u16,
    pub ip_address: Option<String>,
    pub capa_eof: bool,
    pub capa_psync2: bool,
    /// Set by PSYNC/SYNC: the connection becomes a replica link after this command.
    pub handoff: Option<Handoff>,
    /// The stream offset after this client's last write (Redis's `woff`, WAIT's target).
    pub woff: u64,
}

/// How a replica link starts.
#[derive(Debug, Clone)]
pub enum Handoff {
    /// `+CONTINUE <replid>` then the stream from `next` (already registered as a reader).
    Continue { replid: String, next: u64 },
    /// A full sync; `psync` false for the old SYNC (no +FULLRESYNC line, disk-based format).
    Full { psync: bool },
}

/// Link states shown in INFO (`state=`).
pub const WAIT_BGSAVE: u8 = 0;
pub const SEND_BULK: u8 = 1;
pub const ONLINE: u8 = 2;

/// One connected replica.
pub struct Link {
    pub client_id: u64,
    pub info: Arc<crate::clients::ClientInfo>,
    pub ip: String,
    pub port: u16,
    pub state: AtomicU8,
    /// The offset the replica said it has applied (REPLCONF ACK).
    pub ack_offset: AtomicU64,
    /// Unix ms of its last ACK (INFO `lag=`).
    pub ack_ms: AtomicU64,
    /// Came with the old SYNC (redis-cli --replica): sends no ACKs, so never times out.
    pub pre_psync: bool,
}

impl Link {
    fn state_name(&self) -> &'static str {
        match self.state.load(Ordering::Relaxed) {
            WAIT_BGSAVE => "wait_bgsave",
            SEND_BULK => "send_bulk",
            _ => "online",
        }
    }

    fn online(&self) -> bool {
        self.state.load(Ordering::Relaxed) == ONLINE
    }
}

/// A client blocked in WAIT.
struct Waiting {
    client_id: u64,
    /// The stream offset its writes reach.
    target: u64,
    numreplicas: usize,
    since_ms: u64,
}

#[derive(Default)]
pub struct Primary {
    links: Mutex<Vec<Arc<Link>>>,
    waits: Mutex<Vec<Waiting>>,
    /// Unix ms since when no replica has been connected (0: some are, or none ever was).
    alone_since_ms: AtomicU64,
    cron_started: AtomicBool,
    pub sync_full: AtomicU64,
    pub sync_partial_ok: AtomicU64,
    pub sync_partial_err: AtomicU64,
    /// Full syncs whose RDB is being produced (INFO rdb_bgsave_in_progress is not touched).
    pub syncs_running: AtomicU64,
}

impl Primary {
    /// Replicas connected now.
    pub fn links(&self) -> Vec<Arc<Link>> {
        self.links.lock().clone()
    }

    pub fn count(&self) -> usize {
        self.links.lock().len()
    }

    pub fn add_link(&self, link: Arc<Link>) {
        self.links.lock().push(link);
        self.alone_since_ms.store(0, Ordering::Relaxed);
    }

    pub fn remove_link(&self, state: Handle, client_id: u64) {
        let mut links = self.links.lock();
        links.retain(|l| l.client_id != client_id);
        if links.is_empty() {
            self.alone_since_ms
                .store(state.clock.now_ms().max(1), Ordering::Relaxed);
        }
        drop(links);
        state.replication.feed.remove_reader(client_id);
        // A WAIT counting this replica gets its answer now rather than at its timeout only
        // if enough others remain; nothing to do otherwise.
    }

    /// A promotion: the backlog's time to live without replicas counts from now (Redis's
    /// `repl_no_slaves_since`), so it is not freed before the replicas come back.
    pub fn restart_alone_clock(&self, now_ms: u64) {
        let links = self.links.lock();
        let since = if links.is_empty() { now_ms.max(1) } else { 0 };
        self.alone_since_ms.store(since, Ordering::Relaxed);
    }

    /// Closes every replica link (Redis's `disconnectSlaves`): they reconnect and resync,
    /// partially when they can.
    pub fn disconnect_all(&self) {
        for link in self.links() {
            link.info.kill();
        }
    }

    /// The replica announced as `host:port` (its address, or the ip-address it gave, and its
    /// listening port), as Redis's `findReplica`.
    pub fn find(&self, host: &str, port: u16) -> Option<Arc<Link>> {
        self.links
            .lock()
            .iter()
            .find(|l| l.ip.eq_ignore_ascii_case(host) && l.port == port)
            .cloned()
    }

    /// Replicas whose ACK reached `offset`.
    pub fn acked(&self, offset: u64) -> usize {
        self.links
            .lock()
            .iter()
            .filter(|l| l.online() && l.ack_offset.load(Ordering::Relaxed) >= offset)
            .count()
    }

    /// Online replicas whose last ACK is at most `max_lag_secs` old (Redis's good replicas).
    pub fn good_replicas(&self, now_ms: u64, max_lag_secs: u64) -> usize {
        self.links
            .lock()
            .iter()
            .filter(|l| {
                l.online()
                    && now_ms.saturating_sub(l.ack_ms.load(Ordering::Relaxed)) / 1000
                        <= max_lag_secs
            })
            .count()
    }

    /// A replica's ACK arrived: WAITs it satisfies are answered, and a FAILOVER waiting for a
    /// replica to catch up looks again.
    pub fn acks_changed(&self, state: Handle) {
        super::failover::update(state);
        let mut waits = self.waits.lock();
        if waits.is_empty() {
            return;
        }
        let now = state.clock.now_ms();
        waits.retain(|w| {
            let count = self.acked(w.target);
            if count >= w.numreplicas
                && state
                    .server
                    .complete_blocked(w.client_id, Reply::Int(count as i64))
            {
                return false;
            }
            keep_waiting(state.clients, w, now)
        });
    }

    /// Lays an ack request into the stream for every replica; not while clients are paused
    /// (it would move the offset a FAILOVER waits for), as Redis.
    fn request_acks(&self, state: Handle) {
        if state.pause.freezes_keys(state.clock.now_ms()) {
            return;
        }
        state
            .replication
            .feed
            .append_command(&[b"REPLCONF", b"GETACK", b"*"]);
    }
}

/// A WAIT entry stays until answered; one whose client is gone or no longer blocked (CLIENT
/// UNBLOCK answered it) is dropped (after a second: it may not have parked yet).
fn keep_waiting(clients: &crate::clients::ClientRegistry, w: &Waiting, now_ms: u64) -> bool {
    match clients.get(w.client_id) {
        None => false,
        Some(info) => info.details.lock().blocked || now_ms.saturating_sub(w.since_ms) < 1000,
    }
}

/// Redis's NOREPLICAS refusal: with `min-replicas-to-write` > 0, a primary refuses writes
/// unless that many replicas are online with a lag of at most `min-replicas-max-lag`.
pub fn write_refusal(
    replication: &Replication,
    config: &Config,
    clock: &Clock,
) -> Option<crate::error::CommandError> {
    // Read by every write: the hot copy, not the option table.
    let min = config
        .hot
        .min_replicas_to_write
        .load(std::sync::atomic::Ordering::Relaxed);
    if min <= 0 || replication.is_replica() {
        return None;
    }
    let max_lag = config.get_i64("min-replicas-max-lag");
    if max_lag <= 0 {
        // Redis: a max lag of 0 turns the check off.
        return None;
    }
    let good = replication
        .primary
        .good_replicas(clock.now_ms(), max_lag as u64);
    if good < min as usize {
        return Some(crate::error::CommandError::Other(
            "NOREPLICAS Not enough good replicas to write.".into(),
        ));
    }
    None
}

impl Primary {
    /// WAIT blocks: its client waits for `numreplicas` replicas to acknowledge the stream up to
    /// `target`, answered by `acks_changed`; every replica is asked for an ACK.
    pub fn add_wait(
        &self,
        state: Handle,
        client_id: u64,
        target: u64,
        numreplicas: usize,
        since_ms: u64,
    ) {
        self.waits.lock().push(Waiting {
            client_id,
            target,
            numreplicas,
            since_ms,
        });
        self.request_acks(state);
    }

    /// A WAIT's timeout: its entry leaves; the count of replicas that acknowledged its target
    /// (None when it was answered already).
    pub fn end_wait(&self, client_id: u64) -> Option<usize> {
        let mut waits = self.waits.lock();
        let at = waits.iter().position(|w| w.client_id == client_id)?;
        let w = waits.swap_remove(at);
        drop(waits);
        Some(self.acked(w.target))
    }
}

/// INFO replication for a primary.
pub fn info_fields(state: Handle) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let links = state.replication.primary.links();
    out.push(("connected_slaves".into(), links.len().to_string()));
    let now = state.clock.now_ms();
    for (i, link) in links.iter().enumerate() {
        out.push((
            format!("slave{i}"),
            format!(
                "ip={},port={},state={},offset={},lag={}",
                link.ip,
                link.port,
                link.state_name(),
                link.ack_offset.load(Ordering::Relaxed),
                now.saturating_sub(link.ack_ms.load(Ordering::Relaxed)) / 1000
            ),
        ));
    }
    out
}

/// ROLE's reply for a primary: offset and `[ip, port, acked offset]` per online replica.
pub fn role_reply(state: Handle) -> Reply {
    let replicas = state
        .replication
        .primary
        .links()
        .iter()
        .filter(|l| l.online())
        .map(|l| {
            Reply::Array(vec![
                Reply::bulk(l.ip.clone().into_bytes()),
                Reply::bulk(l.port.to_string().into_bytes()),
                Reply::bulk(
                    l.ack_offset
                        .load(Ordering::Relaxed)
                        .to_string()
                        .into_bytes(),
                ),
            ])
        })
        .collect();
    Reply::Array(vec![
        Reply::bulk_static("master"),
        Reply::Int(state.replication.offset() as i64),
        Reply::Array(replicas),
    ])
}

/// PSYNC's decision: a partial resync when the replica's history is ours and the backlog holds
/// its next byte (it is then registered as a reader at once, so nothing is trimmed meanwhile),
/// else a full sync. Creates the backlog when the first replica arrives.
pub fn psync(state: Handle, client_id: u64, replid: &[u8], offset: &[u8]) -> Handoff {
    let feed = &state.replication.feed;
    let primary = &state.replication.primary;
    let next = std::str::from_utf8(offset)
        .ok()
        .and_then(|o| o.parse::<i64>().ok());
    let ids = state.replication.ids();
    if let Some(next) = next.filter(|&n| n > 0) {
        let next = next as u64;
        let ours = replid == ids.replid.as_bytes()
            || (replid == ids.replid2.as_bytes()
                && ids.second_replid_offset > 0
                && next <= ids.second_replid_offset as u64);
        if ours && feed.is_active() && feed.add_reader(client_id, next) {
            primary.sync_partial_ok.fetch_add(1, Ordering::Relaxed);
            tracing::info!(
                "Partial resynchronization request from replica accepted. Sending {} bytes of backlog starting from offset {next}.",
                feed.offset() + 1 - next
            );
            return Handoff::Continue {
                replid: ids.replid,
                next,
            };
        }
        if replid != b"?" {
            primary.sync_partial_err.fetch_add(1, Ordering::Relaxed);
            tracing::info!("Partial resynchronization not accepted: the replica's history or offset is not in the backlog");
        }
    }
    Handoff::Full { psync: true }
}

/// Creates the backlog of a replica after it synchronized with its primary (Redis 7 keeps
/// one on every replica, fed from its primary's stream: its own replicas resync from it, and
/// so does anyone after a promotion).
pub fn activate_replica_backlog(state: Handle) {
    let size = state.config.get_i64("repl-backlog-size").max(1) as usize;
    state.replication.feed.activate(size);
    state.aof.update_expired_keys_logged();
}

/// Creates the backlog if none exists (the first replica) and starts the cron.
pub fn ensure_backlog(state: Handle) {
    let size = state.config.get_i64("repl-backlog-size").max(1) as usize;
    let feed = &state.replication.feed;
    // A replica is arriving: the TTL of a backlog left alone starts again when it goes.
    state
        .replication
        .primary
        .alone_since_ms
        .store(0, Ordering::Relaxed);
    if !feed.is_active() {
        if !state.replication.is_replica() {
            // Created from scratch: no past history is valid any more, so a new replication
            // id and no replid2, as Redis does.
            let mut ids = state.replication.ids();
            ids.replid = super::new_replid(state.clock.now_ms() ^ 0x6261_636b);
            ids.replid2 = "0".repeat(40);
            ids.second_replid_offset = -1;
            state.replication.set_ids(ids);
        }
        feed.activate(size);
        state.aof.update_expired_keys_logged();
        tracing::info!(
            "Replication backlog created, my new replication IDs are '{}' and '{}'",
            state.replication.ids().replid,
            state.replication.ids().replid2
        );
    }
    if let Some(server) = state.server.arc() {
        if !state
            .replication
            .primary
            .cron_started
            .swap(true, Ordering::AcqRel)
        {
            tokio::spawn(cron(server));
        }
    }
}

/// What the full sync thread reports once it has taken the instant.
pub struct SyncStart {
    pub replid: String,
    pub offset: u64,
}

/// Starts the thread that takes the snapshot (registering `client_id` as a reader of the stream
/// at its instant) and writes the RDB into `chunks`: straight away when diskless; else to a temp
/// file first, whose length goes to `done` before its bytes follow. `started` gets the instant's
/// replid/offset; `done` the outcome (and the file's length, disk-based). The channel closes at
/// the end.
pub fn start_full_sync(
    server: Arc<dyn Host>,
    client_id: u64,
    diskless: bool,
    started: tokio::sync::oneshot::Sender<SyncStart>,
    chunks: tokio::sync::mpsc::Sender<Vec<u8>>,
    done: tokio::sync::oneshot::Sender<Result<u64, String>>,
) {
    server
        .replication_handle()
        .replication
        .primary
        .sync_full
        .fetch_add(1, Ordering::Relaxed);
    let spawned = std::thread::Builder::new()
        .name("repl-rdb".into())
        .spawn(move || {
            let state = server.replication_handle();
            let primary = &state.replication.primary;
            primary.syncs_running.fetch_add(1, Ordering::Relaxed);
            full_sync_thread(state, client_id, diskless, started, chunks, done);
            primary.syncs_running.fetch_sub(1, Ordering::Relaxed);
        });
    if spawned.is_err() {
        tracing::warn!("Can't start the replication RDB thread");
    }
}

fn full_sync_thread(
    state: Handle,
    client_id: u64,
    diskless: bool,
    started: tokio::sync::oneshot::Sender<SyncStart>,
    chunks: tokio::sync::mpsc::Sender<Vec<u8>>,
    done: tokio::sync::oneshot::Sender<Result<u64, String>>,
) {
    let feed: &Feed = &state.replication.feed;
    let mut start = None;
    let mut stream_db = 0;
    let snap = {
        // On a replica, the instant falls between two commands of its primary's stream (the
        // offset counts exactly what the data holds).
        let _applying = state.replication.apply_lock.lock();
        // The instant falls in a shared section: never inside a script or transaction.
        let _section = state.gate.shared_blocking();
        crate::rdb::snapshot_with(
            state.keyspace,
            state.clock.now_ms(),
            &state.rdb.flush_epoch,
            || {
                let offset = feed.offset();
                feed.forget_db();
                feed.add_reader(client_id, offset + 1);
                // A primary's stream starts with a SELECT after this instant; a replica's
                // goes on in the database its primary selected.
                if state.replication.is_replica() {
                    stream_db = state.replication.stream_db();
                }
                start = Some(SyncStart {
                    replid: state.replication.ids().replid,
                    offset,
                });
            },
        )
    };
    let start = start.expect("the instant ran");
    let aux = [
        ("repl-stream-db", stream_db.to_string()),
        ("repl-id", start.replid.clone()),
        ("repl-offset", start.offset.to_string()),
    ];
    if started.send(start).is_err() {
        // The link ended before the instant was taken: nothing reads from here.
        feed.remove_reader(client_id);
        return;
    }
    tracing::info!(
        "Starting BGSAVE for SYNC with target: {}",
        if diskless { "replicas sockets" } else { "disk" }
    );
    if diskless {
        let sink = ChunkSink {
            tx: chunks,
            buf: Vec::with_capacity(CHUNK_BYTES),
        };
        let result = crate::rdb::write_to(&state.server.rdb_handle(), snap, sink, &aux)
            .map(|(_, len)| len)
            .map_err(|e| e.to_string());
        let _ = done.send(result);
        return;
    }
    let dir = crate::rdb::dump_path(state.config)
        .parent()
        .map(|p| p.to_path_buf())
        .unwrap_or_else(|| std::path::PathBuf::from("."));
    let path = dir.join(format!("temp-repl-{}-{client_id}.rdb", std::process::id()));
    let written = std::fs::File::create(&path).and_then(|file| {
        let (sink, len) = crate::rdb::write_to(
            &state.server.rdb_handle(),
            snap,
            std::io::BufWriter::with_capacity(1 << 20, file),
            &aux,
        )?;
        sink.into_inner().map_err(|e| e.into_error())?;
        Ok(len)
    });
    let sent = written.and_then(|len| {
        let _ = done.send(Ok(len));
        let mut file = std::fs::File::open(&path)?;
        loop {
            let mut chunk = vec![0u8; CHUNK_BYTES];
            let n = std::io::Read::read(&mut file, &mut chunk)?;
            if n == 0 {
                return Ok(());
            }
            chunk.truncate(n);
            if chunks.blocking_send(chunk).is_err() {
                return Ok(());
            }
        }
    });
    if let Err(e) = sent {
        tracing::warn!("Replication RDB file: {e}");
    }
    let _ = std::fs::remove_file(&path);
}

const CHUNK_BYTES: usize = 256 * 1024;

/// An `io::Write` that hands the RDB to the replica's connection in chunks (bounded channel:
/// the thread waits while the socket is slow, so memory stays bounded).
struct ChunkSink {
    tx: tokio::sync::mpsc::Sender<Vec<u8>>,
    buf: Vec<u8>,
}

impl std::io::Write for ChunkSink {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.buf.extend_from_slice(data);
        if self.buf.len() >= CHUNK_BYTES {
            self.flush()?;
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let chunk = std::mem::replace(&mut self.buf, Vec::with_capacity(CHUNK_BYTES));
        self.tx
            .blocking_send(chunk)
            .map_err(|_| std::io::Error::from(std::io::ErrorKind::BrokenPipe))
    }
}

/// The replica class of `client-output-buffer-limit`: (hard, soft, soft seconds).
pub fn replica_buffer_limits(config: &Config) -> crate::pubsub::BufferLimits {
    let text = config.get("client-output-buffer-limit");
    let words: Vec<&str> = text.split_whitespace().collect();
    let mut limits = crate::pubsub::BufferLimits {
        hard_bytes: 256 << 20,
        soft_bytes: 64 << 20,
        soft_secs: 60,
    };
    for at in (0..words.len()).step_by(4) {
        if matches!(words[at], "slave" | "replica") && at + 3 < words.len() {
            limits.hard_bytes = words[at + 1].parse().unwrap_or(limits.hard_bytes);
            limits.soft_bytes = words[at + 2].parse().unwrap_or(limits.soft_bytes);
            limits.soft_secs = words[at + 3].parse().unwrap_or(limits.soft_secs);
        }
    }
    limits
}

/// replicationCron's primary part, every 100 ms: a PING into the stream every
/// `repl-ping-replica-period` seconds while replicas are connected, WAIT entries whose client
/// went away dropped, and the backlog freed `repl-backlog-ttl` seconds after the last replica
/// left (with a new replication id, as Redis, so nobody resyncs partially from a gap).
async fn cron(server: Arc<dyn Host>) {
    let state = server.replication_handle();
    let mut tick = tokio::time::interval(Duration::from_millis(100));
    let mut last_ping_ms = state.clock.now_ms();
    let mut shutdown = state.shutdown.subscribe();
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = shutdown.changed() => return,
        }
        let now = state.clock.now_ms();
        let primary = &state.replication.primary;
        let feed = &state.replication.feed;
        // A replica's own replicas get its primary's PINGs, proxied with the stream.
        let top = !state.replication.is_replica();
        let period_ms = state.config.get_i64("repl-ping-replica-period").max(1) as u64 * 1000;
        if top && primary.count() > 0 && now.saturating_sub(last_ping_ms) >= period_ms {
            // Not while a FAILOVER with a timeout holds writes (Redis's check): a PING would
            // move the offset its replica must reach.
            if !(super::failover::has_deadline(state) && state.pause.freezes_keys(now)) {
                feed.append_command(&[b"PING"]);
            }
            last_ping_ms = now;
        }
        {
            let mut waits = primary.waits.lock();
            waits.retain(|w| keep_waiting(state.clients, w, now));
        }
        let size = state.config.get_i64("repl-backlog-size").max(1) as usize;
        if feed.is_active() && feed.info().size != size {
            feed.resize(size);
        }
        // Redis's repl-timeout on the primary side: an online replica silent for that long is
        // disconnected.
        let timeout_ms = state.config.get_i64("repl-timeout").max(1) as u64 * 1000;
        for link in primary.links() {
            if link.online()
                && !link.pre_psync
                && now.saturating_sub(link.ack_ms.load(Ordering::Relaxed)) > timeout_ms
            {
                tracing::warn!(
                    "Disconnecting timedout replica (streaming sync): {}:{}",
                    link.ip,
                    link.port
                );
                link.info.kill();
            }
        }
        let ttl_secs = state.config.get_i64("repl-backlog-ttl");
        let alone = primary.alone_since_ms.load(Ordering::Relaxed);
        if top
            && feed.is_active()
            && ttl_secs > 0
            && alone > 0
            && primary.count() == 0
            && now.saturating_sub(alone) / 1000 >= ttl_secs as u64
        {
            feed.deactivate();
            state.aof.update_expired_keys_logged();
            let mut ids = state.replication.ids();
            ids.replid = super::new_replid(now);
            ids.replid2 = "0".repeat(40);
            ids.second_replid_offset = -1;
            state.replication.set_ids(ids);
            primary.alone_since_ms.store(0, Ordering::Relaxed);
            tracing::info!(
                "Replication backlog freed after {ttl_secs} seconds without connected replicas."
            );
        }
        super::failover::update(state);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::Clock;
    use crate::config::Config;
    use crate::state::ServerState;
    use bytes::Bytes;

    fn write(state: &ServerState, key: &str) {
        state.aof.append(&[(
            0,
            vec![
                Bytes::from_static(b"SET"),
                Bytes::copy_from_slice(key.as_bytes()),
                Bytes::from_static(b"v"),
            ],
        )]);
    }

    fn is_continue(h: &Handoff) -> bool {
        matches!(h, Handoff::Continue { .. })
    }

    #[test]
    fn psync_continues_our_history_and_replid2_up_to_the_switch() {
        let state = ServerState::new(
            Config::default(),
            Clock::manual(1_000),
            crate::commands::TABLES,
        );
        let repl = &state.replication;
        // No backlog yet: the first replica gets a full sync, which creates it (with a new
        // replid: no past history is valid).
        let before = repl.ids();
        assert!(!is_continue(&psync(
            state.replication_handle(),
            1,
            before.replid.as_bytes(),
            b"1"
        )));
        ensure_backlog(state.replication_handle());
        let ids = repl.ids();
        assert_ne!(ids.replid, before.replid);
        write(&state, "a");
        let after_a = repl.offset();
        assert!(after_a > 0);
        let h = psync(state.replication_handle(), 2, ids.replid.as_bytes(), b"1");
        assert!(is_continue(&h), "the whole history is in the backlog");
        let h = psync(
            state.replication_handle(),
            3,
            ids.replid.as_bytes(),
            (after_a + 1).to_string().as_bytes(),
        );
        assert!(is_continue(&h), "nothing to send yet is fine");
        let h = psync(
            state.replication_handle(),
            4,
            ids.replid.as_bytes(),
            (after_a + 2).to_string().as_bytes(),
        );
        assert!(!is_continue(&h), "an offset beyond ours");
        assert!(!is_continue(&psync(
            state.replication_handle(),
            5,
            b"?",
            b"-1"
        )));
        assert!(!is_continue(&psync(
            state.replication_handle(),
            6,
            b"0123",
            b"1"
        )));
        // A new history (a promotion): the old id still continues up to where they split.
        repl.shift_replid(7);
        write(&state, "b");
        let new = repl.ids();
        assert_eq!(new.replid2, ids.replid);
        assert_eq!(new.second_replid_offset, after_a as i64 + 1);
        let at_switch = (after_a + 1).to_string();
        assert!(is_continue(&psync(
            state.replication_handle(),
            7,
            ids.replid.as_bytes(),
            at_switch.as_bytes()
        )));
        let past = (repl.offset() + 1).to_string();
        assert!(!is_continue(&psync(
            state.replication_handle(),
            8,
            ids.replid.as_bytes(),
            past.as_bytes()
        )));
        assert!(is_continue(&psync(
            state.replication_handle(),
            9,
            new.replid.as_bytes(),
            past.as_bytes()
        )));
        assert_eq!(
            state
                .replication
                .primary
                .sync_partial_ok
                .load(Ordering::Relaxed),
            4
        );
    }
}
