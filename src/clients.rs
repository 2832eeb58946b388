//! The registry of connected clients, for CLIENT LIST / INFO / KILL and INFO clients.
//!
//! Each connection owns a `ClientInfo` shared with the registry. Fields other connections read
//! (name, db, last command) sit behind a small mutex that only CLIENT LIST and the owner touch.
//! Each also has an `Outbox`: frames other connections push to it (Pub/Sub messages, MONITOR
//! lines, invalidations), bounded by the output-buffer limits.

use crate::config::Config;
use crate::protocol::Protocol;
use bytes::{Bytes, BytesMut};
use parking_lot::Mutex;
use std::collections::{BTreeMap, VecDeque};
use std::fmt::Write;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, AtomicUsize, Ordering};
use std::sync::Arc;
use tokio::sync::Notify;

/// One end of a client connection: an IP address and port, or a unix socket path (printed
/// `/path:0` as Redis does).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Peer {
    Tcp(SocketAddr),
    Unix(Arc<str>),
}

impl Peer {
    /// A loopback address or a unix socket: what protected mode and the `local` value of
    /// enable-debug-command / enable-protected-configs treat as local.
    pub fn is_local(&self) -> bool {
        match self {
            Peer::Tcp(addr) => match addr.ip() {
                std::net::IpAddr::V4(ip) => ip.is_loopback(),
                std::net::IpAddr::V6(ip) => {
                    ip.is_loopback() || ip.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback())
                }
            },
            Peer::Unix(_) => true,
        }
    }
}

impl std::fmt::Display for Peer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Peer::Tcp(addr) => addr.fmt(f),
            Peer::Unix(path) => write!(f, "{path}:0"),
        }
    }
}

/// How a client is connected (CLIENT LIST flag `U`, the metrics endpoint's counts).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    Tcp,
    Tls,
    Unix,
}

#[derive(Debug)]
pub struct ClientInfo {
    pub id: u64,
    pub addr: Peer,
    pub local_addr: Peer,
    pub transport: Transport,
    pub fd: i64,
    pub created_ms: u64,
    pub last_interaction_ms: AtomicU64,
    /// The last command run (CLIENT LIST `cmd=`), written by every dispatch without a lock.
    pub last_cmd: LastCommand,
    pub details: Mutex<ClientDetails>,
    /// Set by CLIENT KILL; the connection task notices and closes.
    pub killed: AtomicBool,
    pub kill_notify: Notify,
    /// The connection's outbox, for messages other connections address to it by id.
    pub outbox: std::sync::OnceLock<std::sync::Weak<Outbox>>,
    /// Input reaching the connection (wake-ups of its socket read) and the count seen when it
    /// last waited for input with nothing left (u64::MAX while it runs what it read): while they
    /// differ, it has input it has not finished. A PUBLISH waits for its receivers'
    /// (pubsub::PubSub::settle_subscribers).
    pub input_arrivals: AtomicU64,
    pub input_idle_at: AtomicU64,
    /// Every input whose arrival was counted up to this number has been read and run.
    pub input_done_through: AtomicU64,
    /// Running a PUBLISH that waits for other subscribers: others do not wait for this one (two
    /// subscribed publishers would wait for each other).
    pub settling: AtomicBool,
}

/// A client's last command name: one pointer store per command, no lock and no copy. It
/// points to a name the command table keeps for the whole process (`Found::name_slot`).
#[derive(Debug, Default)]
pub struct LastCommand(std::sync::atomic::AtomicPtr<&'static str>);

impl LastCommand {
    pub fn set(&self, name: &'static &'static str) {
        let name = std::ptr::from_ref(name).cast_mut();
        if self.0.load(Ordering::Relaxed) != name {
            self.0.store(name, Ordering::Relaxed);
        }
    }

    /// The name last set, if any.
    pub fn get(&self) -> Option<&'static str> {
        let name = self.0.load(Ordering::Relaxed);
        // SAFETY: the pointer is null or came from a `&'static &'static str` in `set`.
        (!name.is_null()).then(|| unsafe { *name })
    }
}

#[derive(Debug, Default, Clone)]
pub struct ClientDetails {
    pub name: Vec<u8>,
    pub lib_name: Vec<u8>,
    pub lib_ver: Vec<u8>,
    pub db: usize,
    pub resp: u8,
    /// Query buffer bytes not parsed into arguments yet, and the buffer's free capacity
    /// (CLIENT LIST `qbuf=`, `qbuf-free=`), published after each batch.
    pub query_buf: usize,
    pub query_buf_free: usize,
    /// Bytes of the arguments held (a multibulk partly arrived, or the command a blocked client
    /// waits in) and their count (`argv-mem=`, and Redis's pointer per argument in `tot-mem=`).
    pub argv_mem: usize,
    pub argc: usize,
    /// Queued commands' arguments: bytes plus a pointer per argument (`multi-mem=`).
    pub multi_mem: usize,
    pub output_buf: usize,
    /// CLIENT NO-EVICT / NO-TOUCH, mirrored here so other connections' CLIENT LIST shows them.
    pub no_evict: bool,
    pub no_touch: bool,
    /// Commands queued since MULTI, or -1 outside a transaction (CLIENT LIST `multi=`).
    pub multi: i64,
    /// Waiting in a blocking command (CLIENT LIST flag `b`).
    pub blocked: bool,
    /// Subscriptions (CLIENT LIST `sub=`, `psub=`, `ssub=`; flag `P` when any) and MONITOR
    /// mode (flag `O`).
    pub sub: usize,
    pub psub: usize,
    pub ssub: usize,
    pub monitor: bool,
    pub user: String,
    /// Connected through the unix socket (CLIENT LIST flag `U`).
    pub unix: bool,
    /// The primary's link on a replica (CLIENT LIST flag `M`, type `master`).
    pub master: bool,
    /// READONLY in cluster mode (CLIENT LIST flag `r`).
    pub readonly: bool,
    /// A replica of this node (CLIENT LIST flag `S`, CLIENT KILL TYPE replica).
    pub replica: bool,
}

impl ClientDetails {
    /// A blocked command ended: it no longer holds its arguments.
    pub fn end_block(&mut self) {
        self.blocked = false;
        self.argv_mem = 0;
        self.argc = 0;
    }

    /// The `flags=` letters of CLIENT LIST, in Redis's order, for the state tracked here.
    pub fn flag_letters(&self) -> String {
        let mut flags = String::new();
        if self.replica {
            flags.push('S');
        }
        if self.monitor {
            flags.push('O');
        }
        if self.master {
            flags.push('M');
        }
        if self.sub + self.psub + self.ssub > 0 {
            flags.push('P');
        }
        if self.multi >= 0 {
            flags.push('x');
        }
        if self.blocked {
            flags.push('b');
        }
        if self.unix {
            flags.push('U');
        }
        if self.readonly {
            flags.push('r');
        }
        if self.no_evict {
            flags.push('e');
        }
        if self.no_touch {
            flags.push('T');
        }
        if flags.is_empty() {
            flags.push('N');
        }
        flags
    }
}

impl ClientInfo {
    pub fn kill(&self) {
        self.killed.store(true, Ordering::Relaxed);
        // Every waiter: the connection's read keeps one armed while a write may wait on
        // another. The permit is for a waiter created after this.
        self.kill_notify.notify_waiters();
        self.kill_notify.notify_one();
    }

    /// The arrival count when input this connection has not finished running exists, None
    /// when it has nothing left.
    pub fn input_pending(&self) -> Option<u64> {
        let arrivals = self.input_arrivals.load(Ordering::Acquire);
        (self.input_idle_at.load(Ordering::Acquire) != arrivals).then_some(arrivals)
    }

    /// True once the input counted up to arrival `seen` has been run, or nothing is left.
    pub fn input_done(&self, seen: u64) -> bool {
        self.input_pending().is_none() || self.input_done_through.load(Ordering::Acquire) >= seen
    }

    pub fn is_killed(&self) -> bool {
        self.killed.load(Ordering::Relaxed)
    }
}

#[derive(Default)]
pub struct ClientRegistry {
    next_id: AtomicU64,
    clients: Mutex<BTreeMap<u64, Arc<ClientInfo>>>,
}

impl ClientRegistry {
    /// Registers a TCP client (also the internal clients: AOF loading, the metrics endpoint).
    pub fn register(
        &self,
        addr: SocketAddr,
        local_addr: SocketAddr,
        fd: i64,
        now_ms: u64,
    ) -> Arc<ClientInfo> {
        self.register_peer(
            Peer::Tcp(addr),
            Peer::Tcp(local_addr),
            Transport::Tcp,
            fd,
            now_ms,
        )
    }

    pub fn register_peer(
        &self,
        addr: Peer,
        local_addr: Peer,
        transport: Transport,
        fd: i64,
        now_ms: u64,
    ) -> Arc<ClientInfo> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed) + 1;
        let info = Arc::new(ClientInfo {
            id,
            addr,
            local_addr,
            transport,
            fd,
            created_ms: now_ms,
            last_interaction_ms: AtomicU64::new(now_ms),
            last_cmd: LastCommand::default(),
            details: Mutex::new(ClientDetails {
                resp: 2,
                user: "default".into(),
                multi: -1,
                unix: transport == Transport::Unix,
                ..Default::default()
            }),
            killed: AtomicBool::new(false),
            kill_notify: Notify::new(),
            outbox: std::sync::OnceLock::new(),
            input_arrivals: AtomicU64::new(0),
            input_idle_at: AtomicU64::new(0),
            input_done_through: AtomicU64::new(0),
            settling: AtomicBool::new(false),
        });
        self.clients.lock().insert(id, info.clone());
        info
    }

    pub fn unregister(&self, id: u64) {
        self.clients.lock().remove(&id);
    }

    pub fn len(&self) -> usize {
        self.clients.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn snapshot(&self) -> Vec<Arc<ClientInfo>> {
        self.clients.lock().values().cloned().collect()
    }

    /// Clients matching `filter`, in id order (CLIENT LIST / KILL).
    pub fn matching(&self, mut filter: impl FnMut(&ClientInfo) -> bool) -> Vec<Arc<ClientInfo>> {
        self.clients
            .lock()
            .values()
            .filter(|c| filter(c))
            .cloned()
            .collect()
    }

    pub fn get(&self, id: u64) -> Option<Arc<ClientInfo>> {
        self.clients.lock().get(&id).cloned()
    }
}

/// Reply buffer size a connection keeps (net/client.rs READ_CHUNK_BYTES), reported as `rbs=`
/// and, as the peak Redis starts from, `rbp=`.
const READ_BUFFER_BYTES: usize = 16 * 1024;

/// The fixed part of a client's memory in `tot-mem=` (Redis counts its `client` struct).
const CLIENT_STRUCT_BYTES: usize = 1024;

/// One queued command's record in `tot-mem=` (Redis's `multiCmd`).
const QUEUED_COMMAND_BYTES: usize = 24;

/// What the calling connection knows of itself ahead of its shared record (which is published
/// after each batch): CLIENT LIST / CLIENT INFO and ACL LOG describe the caller from this.
pub struct OwnView<'a> {
    /// The command running, with its subcommand (`cmd=`).
    pub cmd: &'a str,
    /// Commands queued since MULTI and their arguments' bytes (`multi=`, `multi-mem=`).
    pub multi: Option<(usize, usize)>,
    pub no_evict: bool,
    pub no_touch: bool,
    /// The batch being run: bytes parsed and the buffer's capacity (`qbuf=`, `qbuf-free=`).
    pub query_batch: (usize, usize),
    /// The running command's arguments: bytes and count (`argv-mem=`, `tot-mem=`).
    pub argv_mem: usize,
    pub argc: usize,
}

/// One CLIENT LIST line, fields and order as Redis 7.2's `catClientInfoString`. `own` is given
/// when `client` is the caller: its `cmd=` is the command it runs and its query buffer the batch
/// it runs, as Redis trims it only after.
pub fn client_line(client: &ClientInfo, own: Option<&OwnView<'_>>, now_ms: u64) -> String {
    let mut details = client.details.lock().clone();
    let cmd = match own {
        Some(own) => {
            details.multi = own.multi.map_or(-1, |(queued, _)| queued as i64);
            details.multi_mem = own.multi.map_or(0, |(_, mem)| mem);
            details.no_evict = own.no_evict;
            details.no_touch = own.no_touch;
            (details.query_buf, details.query_buf_free) =
                (own.query_batch.0, own.query_batch.1 - own.query_batch.0);
            details.argv_mem = own.argv_mem;
            details.argc = own.argc;
            details.output_buf = 0;
            own.cmd.to_string()
        }
        None => client.last_cmd.get().unwrap_or("NULL").to_string(),
    };
    if details.multi <= 0 {
        details.multi_mem = 0;
    }
    let queued = details.multi.max(0) as usize;
    let age_s = now_ms.saturating_sub(client.created_ms) / 1000;
    let idle_s = now_ms.saturating_sub(client.last_interaction_ms.load(Ordering::Relaxed)) / 1000;
    // Redis's getClientMemoryUsage over our buffers: output pending, the query buffer's
    // allocation, the client record with its reply buffer, the arguments held with a pointer
    // each, the transaction's commands.
    let tot_mem = details.output_buf
        + details.query_buf
        + details.query_buf_free
        + CLIENT_STRUCT_BYTES
        + READ_BUFFER_BYTES
        + details.argv_mem
        + details.argc * std::mem::size_of::<usize>()
        + details.multi_mem
        + queued * QUEUED_COMMAND_BYTES;
    let events = if details.output_buf > 0 { "rw" } else { "r" };
    let mut line = String::with_capacity(320);
    let _ = write!(
        line,
        "id={} addr={} laddr={} fd={} name={} age={age_s} idle={idle_s} flags={} db={} sub={} psub={} ssub={} multi={} qbuf={} qbuf-free={} argv-mem={} multi-mem={} rbs={READ_BUFFER_BYTES} rbp={READ_BUFFER_BYTES} obl=0 oll=0 omem={} tot-mem={tot_mem} events={events} cmd={cmd} user={} redir=-1 resp={} lib-name={} lib-ver={}",
        client.id,
        client.addr,
        client.local_addr,
        client.fd,
        String::from_utf8_lossy(&details.name),
        details.flag_letters(),
        details.db,
        details.sub,
        details.psub,
        details.ssub,
        details.multi,
        details.query_buf,
        details.query_buf_free,
        details.argv_mem,
        details.multi_mem,
        details.output_buf,
        details.user,
        details.resp,
        String::from_utf8_lossy(&details.lib_name),
        String::from_utf8_lossy(&details.lib_ver),
    );
    line
}

/// Frames pushed to one connection by others (messages, MONITOR lines), with the byte count the
/// output-buffer limit is checked against.
#[derive(Debug)]
pub struct Outbox {
    info: Arc<ClientInfo>,
    queue: Mutex<VecDeque<Bytes>>,
    /// Bytes queued plus bytes taken by the connection task and not yet written.
    pending_bytes: AtomicUsize,
    /// Unix ms since when the soft limit has been exceeded without a break (0: it is not).
    over_soft_since_ms: AtomicU64,
    closed: AtomicBool,
    ready: Notify,
    /// The protocol of the connection (0 = RESP2, 1 = RESP3), for choosing the frame encoding.
    protocol: AtomicU8,
}

/// The limits of the `pubsub` client class, read from the live config.
#[derive(Clone, Copy, Debug)]
pub struct BufferLimits {
    pub hard_bytes: u64,
    pub soft_bytes: u64,
    pub soft_secs: u64,
}

impl BufferLimits {
    pub fn pubsub(config: &Config) -> BufferLimits {
        Self::of_class(&config.hot.pubsub_obuf_limits)
    }

    /// The limits of the `normal` client class.
    pub fn normal(config: &Config) -> BufferLimits {
        Self::of_class(&config.hot.normal_obuf_limits)
    }

    fn of_class([hard, soft, secs]: &[AtomicU64; 3]) -> BufferLimits {
        BufferLimits {
            hard_bytes: hard.load(Ordering::Relaxed),
            soft_bytes: soft.load(Ordering::Relaxed),
            soft_secs: secs.load(Ordering::Relaxed),
        }
    }

    /// Redis's `checkClientOutputBufferLimits`: the hard limit at once, the soft limit when it
    /// has been exceeded continuously for longer than the soft seconds. Returns which limit.
    pub fn exceeded(
        &self,
        total: u64,
        over_soft_since_ms: &AtomicU64,
        now_ms: u64,
    ) -> Option<&'static str> {
        if self.hard_bytes > 0 && total >= self.hard_bytes {
            return Some("hard");
        }
        if self.soft_bytes > 0 && total >= self.soft_bytes {
            let since = over_soft_since_ms.load(Ordering::Relaxed);
            if since == 0 {
                over_soft_since_ms.store(now_ms.max(1), Ordering::Relaxed);
            } else if now_ms.saturating_sub(since) > self.soft_secs.saturating_mul(1000) {
                return Some("soft");
            }
        } else {
            over_soft_since_ms.store(0, Ordering::Relaxed);
        }
        None
    }
}

impl Outbox {
    pub fn new(info: Arc<ClientInfo>) -> Outbox {
        Outbox {
            info,
            queue: Mutex::new(VecDeque::new()),
            pending_bytes: AtomicUsize::new(0),
            over_soft_since_ms: AtomicU64::new(0),
            closed: AtomicBool::new(false),
            ready: Notify::new(),
            protocol: AtomicU8::new(0),
        }
    }

    pub fn id(&self) -> u64 {
        self.info.id
    }

    /// The connection's shared details.
    pub fn info(&self) -> &Arc<ClientInfo> {
        &self.info
    }

    pub fn protocol(&self) -> Protocol {
        match self.protocol.load(Ordering::Relaxed) {
            0 => Protocol::Resp2,
            _ => Protocol::Resp3,
        }
    }

    pub fn set_protocol(&self, protocol: Protocol) {
        self.protocol
            .store(u8::from(protocol == Protocol::Resp3), Ordering::Relaxed);
    }

    /// Bytes waiting to be written (CLIENT LIST `omem`-like figure).
    pub fn pending_bytes(&self) -> usize {
        self.pending_bytes.load(Ordering::Relaxed)
    }

    /// Queues one frame. Returns false when the client is (now) over its limits and is being
    /// disconnected; the frame is dropped then.
    /// A close counts in `stats`' `output_buffer_limit_disconnections`.
    pub fn push(
        &self,
        frame: Bytes,
        limits: BufferLimits,
        now_ms: u64,
        stats: &crate::stats::ServerStats,
    ) -> bool {
        if self.closed.load(Ordering::Relaxed) {
            return false;
        }
        let len = frame.len();
        let total = (self.pending_bytes.fetch_add(len, Ordering::Relaxed) + len) as u64;
        if let Some(reason) = self.over_limit(total, limits, now_ms) {
            self.pending_bytes.fetch_sub(len, Ordering::Relaxed);
            if self.close(reason) {
                crate::stats::ServerStats::add(&stats.output_buffer_limit_disconnections, 1);
            }
            return false;
        }
        self.queue.lock().push_back(frame);
        self.ready.notify_one();
        true
    }

    fn over_limit(&self, total: u64, limits: BufferLimits, now_ms: u64) -> Option<&'static str> {
        limits.exceeded(total, &self.over_soft_since_ms, now_ms)
    }

    /// Closes the client for `limit`; false when it was already closed.
    fn close(&self, limit: &str) -> bool {
        if self.closed.swap(true, Ordering::Relaxed) {
            return false;
        }
        let dropped: usize = {
            let mut queue = self.queue.lock();
            let n = queue.iter().map(|f| f.len()).sum();
            queue.clear();
            queue.shrink_to_fit();
            n
        };
        self.pending_bytes.fetch_sub(dropped, Ordering::Relaxed);
        tracing::warn!(
            "Client id={} addr={} scheduled to be closed ASAP for overcoming of output buffer limits ({limit} limit of the pubsub class).",
            self.info.id,
            self.info.addr
        );
        self.info.kill();
        self.ready.notify_one();
        true
    }

    /// Waits until frames may be waiting.
    pub async fn ready(&self) {
        self.ready.notified().await
    }

    /// Moves every queued frame to `out`; returns their size, to pass to `written` once `out`
    /// has reached the socket.
    #[inline]
    pub fn drain_into(&self, out: &mut BytesMut) -> usize {
        // Every frame is counted in `pending_bytes` before it is queued (`push`): nothing
        // counted, nothing queued, and no lock taken (the connection asks before and after
        // every command).
        if self.pending_bytes.load(Ordering::Acquire) == 0 {
            return 0;
        }
        self.drain_queued(out)
    }

    #[cold]
    fn drain_queued(&self, out: &mut BytesMut) -> usize {
        let mut queue = self.queue.lock();
        let mut n = 0;
        for frame in queue.drain(..) {
            n += frame.len();
            out.extend_from_slice(&frame);
        }
        n
    }

    /// Records that `n` drained bytes were written.
    pub fn written(&self, n: usize) {
        if n > 0 {
            self.pending_bytes.fetch_sub(n, Ordering::Relaxed);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(id: u64) -> Arc<ClientInfo> {
        let addr: std::net::SocketAddr = "127.0.0.1:1".parse().unwrap();
        let registry = crate::clients::ClientRegistry::default();
        let mut info = registry.register(addr, addr, 0, 0);
        for _ in 1..id {
            info = registry.register(addr, addr, 0, 0);
        }
        info
    }

    #[test]
    fn hard_limit_closes_and_bounds_the_queue() {
        let stats = crate::stats::ServerStats::default();
        let outbox = Outbox::new(info(1));
        let limits = BufferLimits {
            hard_bytes: 1000,
            soft_bytes: 0,
            soft_secs: 0,
        };
        let frame = Bytes::from(vec![b'x'; 300]);
        assert!(outbox.push(frame.clone(), limits, 1, &stats));
        assert!(outbox.push(frame.clone(), limits, 1, &stats));
        assert!(outbox.push(frame.clone(), limits, 1, &stats));
        assert!(!outbox.push(frame.clone(), limits, 1, &stats));
        assert!(outbox.info.is_killed());
        assert_eq!(outbox.pending_bytes(), 0);
        assert!(!outbox.push(frame, limits, 1, &stats));
        // One close, counted once however many pushes it refuses.
        assert_eq!(
            stats
                .output_buffer_limit_disconnections
                .load(Ordering::Relaxed),
            1
        );
    }

    #[test]
    fn soft_limit_needs_to_last() {
        let stats = crate::stats::ServerStats::default();
        let outbox = Outbox::new(info(1));
        let limits = BufferLimits {
            hard_bytes: 0,
            soft_bytes: 100,
            soft_secs: 2,
        };
        let frame = Bytes::from(vec![b'x'; 150]);
        assert!(outbox.push(frame.clone(), limits, 1_000, &stats));
        assert!(outbox.push(frame.clone(), limits, 2_500, &stats));
        assert!(outbox.push(frame.clone(), limits, 3_000, &stats));
        assert!(!outbox.push(frame, limits, 3_001, &stats));
    }

    #[test]
    fn soft_timer_resets_below_the_limit() {
        let stats = crate::stats::ServerStats::default();
        let outbox = Outbox::new(info(1));
        let limits = BufferLimits {
            hard_bytes: 0,
            soft_bytes: 100,
            soft_secs: 1,
        };
        let frame = Bytes::from(vec![b'x'; 150]);
        assert!(outbox.push(frame.clone(), limits, 1_000, &stats));
        let mut out = BytesMut::new();
        let n = outbox.drain_into(&mut out);
        outbox.written(n);
        assert!(outbox.push(Bytes::from_static(b"ab"), limits, 1_500, &stats));
        assert!(outbox.push(frame, limits, 5_000, &stats));
        assert!(!outbox.info.is_killed());
    }
}
