//! Pub/Sub: the registry of channel, pattern and shard-channel subscriptions and of MONITOR
//! clients, and the fan-out of messages to them.
//!
//! Every connection owns an `Outbox` (`clients::Outbox`, beside its `ClientInfo`): a queue of
//! already-encoded frames other connections push to. PUBLISH looks the subscribers up under a
//! read lock, encodes the message once per protocol and appends the bytes to each subscriber's
//! outbox; the subscriber's own task writes them to its socket. Nobody ever writes to another
//! connection's socket, and no lock is held across a write. Each outbox counts the bytes queued
//! and not yet written: past the pubsub class of `client-output-buffer-limit` its client is
//! disconnected, so a subscriber that stops reading costs a bounded amount of memory and never
//! slows the publisher down.

pub mod monitor;
pub mod notify;
pub mod tracking;

pub use crate::clients::{BufferLimits, Outbox};

use crate::clients::ClientInfo;
use crate::clients::ClientRegistry;
use crate::clock::Clock;
use crate::config::Config;
use crate::error::CommandError;
use crate::glob::glob_match;
use crate::protocol::{Protocol, Reply};
use crate::scripting::busy::BusyState;
use crate::stats::ServerStats;
use crate::{engine::flags, engine::ClientState, engine::CommandSpec};
use bytes::{Bytes, BytesMut};
use hashbrown::{HashMap, HashSet};
use parking_lot::RwLock;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

/// What delivering to other connections reads of the server: the subscriptions, the live
/// config (output buffer limits, notify flags, the tracking table's size), the clock, the
/// counters (disconnections) and the client registry (redirect targets). Built by
/// `pubsub_handle` in state.rs; a few references, copied freely.
#[derive(Clone, Copy)]
pub struct Handle<'a> {
    pub pubsub: &'a PubSub,
    pub config: &'a Config,
    pub clock: &'a Clock,
    pub stats: &'a ServerStats,
    pub clients: &'a ClientRegistry,
}

/// One connection's Pub/Sub state, part of its `ClientState`.
#[derive(Debug)]
pub struct ClientPubSub {
    pub outbox: Arc<Outbox>,
    pub channels: HashSet<Bytes>,
    pub patterns: HashSet<Bytes>,
    pub shard_channels: HashSet<Bytes>,
    pub monitor: bool,
    /// Confirmation frames written before the command's own reply (SUBSCRIBE a b c answers
    /// with one frame per channel; the command returns the last one).
    pub frames_before_reply: Vec<Reply>,
    /// Set by the (P|S)SUBSCRIBE commands: frames queued while the command ran must follow its
    /// confirmations, so the connection must not flush its outbox before the reply.
    pub hold_pushes: bool,
    /// Keyspace events raised by the running command, published after its locks are released.
    pub events: Vec<notify::Event>,
    /// CLIENT TRACKING settings while tracking is on.
    pub tracking: Option<tracking::TrackingMode>,
}

impl ClientPubSub {
    pub fn new(info: Arc<ClientInfo>) -> ClientPubSub {
        let outbox = Arc::new(Outbox::new(info.clone()));
        // Other connections reach this one by id (tracking redirects); weak, so the outbox
        // (which holds the info) and the info do not keep each other alive.
        let _ = info.outbox.set(Arc::downgrade(&outbox));
        ClientPubSub {
            outbox,
            channels: HashSet::new(),
            patterns: HashSet::new(),
            shard_channels: HashSet::new(),
            monitor: false,
            frames_before_reply: Vec::new(),
            hold_pushes: false,
            events: Vec::new(),
            tracking: None,
        }
    }

    /// Channels plus patterns: the count SUBSCRIBE / PSUBSCRIBE replies carry.
    pub fn count(&self) -> usize {
        self.channels.len() + self.patterns.len()
    }

    /// True while any subscription is active (Redis's CLIENT_PUBSUB flag).
    pub fn is_subscribed(&self) -> bool {
        self.count() + self.shard_channels.len() > 0
    }
}

/// Which namespace a channel lives in: SUBSCRIBE/PUBLISH or SSUBSCRIBE/SPUBLISH.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChannelKind {
    Global,
    Shard,
}

type Subscribers = HashMap<u64, Arc<Outbox>>;

/// The server-wide registry.
#[derive(Default)]
pub struct PubSub {
    channels: RwLock<HashMap<Bytes, Subscribers>>,
    shard_channels: RwLock<HashMap<Bytes, Subscribers>>,
    patterns: RwLock<HashMap<Bytes, Subscribers>>,
    monitors: RwLock<Subscribers>,
    /// Set while at least one MONITOR client exists, so dispatch can skip formatting lines.
    pub monitoring: AtomicBool,
    /// Subscriptions (channels, shard channels, patterns) server-wide: publishers wait for busy
    /// subscribers only while there are some.
    subscriptions: AtomicUsize,
    /// The connections subscribed to anything: a PUBLISH waits for those with unfinished input.
    subscribed: RwLock<HashMap<u64, Arc<ClientInfo>>>,
    /// CLIENT TRACKING: who holds which keys.
    pub tracking: tracking::Tracking,
}

impl PubSub {
    fn table(&self, kind: ChannelKind) -> &RwLock<HashMap<Bytes, Subscribers>> {
        match kind {
            ChannelKind::Global => &self.channels,
            ChannelKind::Shard => &self.shard_channels,
        }
    }

    pub fn subscribe(&self, kind: ChannelKind, channel: &Bytes, outbox: &Arc<Outbox>) {
        let added = self
            .table(kind)
            .write()
            .entry(channel.clone())
            .or_default()
            .insert(outbox.id(), outbox.clone())
            .is_none();
        self.count_subscription(added, true);
    }

    pub fn unsubscribe(&self, kind: ChannelKind, channel: &[u8], id: u64) {
        let removed = remove_from(&mut self.table(kind).write(), channel, id);
        self.count_subscription(removed, false);
    }

    pub fn psubscribe(&self, pattern: &Bytes, outbox: &Arc<Outbox>) {
        let added = self
            .patterns
            .write()
            .entry(pattern.clone())
            .or_default()
            .insert(outbox.id(), outbox.clone())
            .is_none();
        self.count_subscription(added, true);
    }

    pub fn punsubscribe(&self, pattern: &[u8], id: u64) {
        let removed = remove_from(&mut self.patterns.write(), pattern, id);
        self.count_subscription(removed, false);
    }

    fn count_subscription(&self, changed: bool, added: bool) {
        if changed && added {
            self.subscriptions.fetch_add(1, Ordering::Relaxed);
        } else if changed {
            self.subscriptions.fetch_sub(1, Ordering::Relaxed);
        }
    }

    /// True while any client subscribes to anything.
    pub fn has_subscriptions(&self) -> bool {
        self.subscriptions.load(Ordering::Relaxed) > 0
    }

    /// Keeps `client` in the set of subscribed connections while it subscribes to anything.
    fn note_subscribed(&self, client: &ClientPubSub) {
        let (id, on) = (client.outbox.id(), client.is_subscribed());
        if self.subscribed.read().contains_key(&id) == on {
            return;
        }
        let mut subscribed = self.subscribed.write();
        if on {
            subscribed.insert(id, client.outbox.info().clone());
        } else {
            subscribed.remove(&id);
        }
    }

    /// The subscribed connections other than `publisher` that have input they have not
    /// finished running, each with its arrival count now (`ClientInfo::input_pending`).
    fn busy_subscribers(&self, publisher: u64) -> Vec<(Arc<ClientInfo>, u64)> {
        self.subscribed
            .read()
            .iter()
            .filter(|(id, info)| **id != publisher && !info.settling.load(Ordering::Acquire))
            .filter_map(|(_, info)| info.input_pending().map(|seen| (info.clone(), seen)))
            .collect()
    }

    /// Before a PUBLISH from `publisher` routes a message: waits (yielding) until every
    /// subscribed connection has run the input that had reached it, so a subscription change
    /// that reached the server before the PUBLISH takes effect first, as in Redis's single
    /// event loop (docs/pubsub.md, "Ordering"). A subscriber that keeps sending is waited for
    /// one batch at most; one stuck in a write for `PUBLISH_SETTLE` at most; one running a
    /// PUBLISH that waits too, not at all.
    pub async fn settle_subscribers(&self, publisher: &ClientInfo) {
        if !self.has_subscriptions() {
            return;
        }
        let mut busy = self.busy_subscribers(publisher.id);
        if busy.is_empty() {
            return;
        }
        publisher.settling.store(true, Ordering::Release);
        let deadline = std::time::Instant::now() + PUBLISH_SETTLE;
        loop {
            busy.retain(|(info, seen)| {
                !info.input_done(*seen)
                    && !info.is_killed()
                    && !info.settling.load(Ordering::Acquire)
            });
            if busy.is_empty() || std::time::Instant::now() >= deadline {
                break;
            }
            tokio::task::yield_now().await;
        }
        publisher.settling.store(false, Ordering::Release);
    }

    /// Ids of clients subscribed to a channel, shard channel or pattern that `allowed` refuses
    /// (`allowed(name, is_pattern)`): ACL SETUSER closes them when it takes a channel away.
    pub fn subscribers_refused(&self, allowed: impl Fn(&[u8], bool) -> bool) -> Vec<u64> {
        let mut ids = Vec::new();
        for (table, is_pattern) in [
            (&self.channels, false),
            (&self.shard_channels, false),
            (&self.patterns, true),
        ] {
            for (name, subscribers) in table.read().iter() {
                if !allowed(name, is_pattern) {
                    ids.extend(subscribers.keys().copied());
                }
            }
        }
        ids
    }

    /// Delivers `message` to the subscribers of `channel` (and, for global channels, of every
    /// matching pattern). Returns the number of deliveries, as PUBLISH replies.
    pub fn publish(&self, to: Handle, kind: ChannelKind, channel: &[u8], message: &[u8]) -> i64 {
        let limits = BufferLimits::pubsub(to.config);
        let now_ms = to.clock.now_ms();
        let mut receivers = 0i64;
        {
            let table = self.table(kind).read();
            if let Some(subscribers) = table.get(channel) {
                let kind_name: &'static str = match kind {
                    ChannelKind::Global => "message",
                    ChannelKind::Shard => "smessage",
                };
                let mut frames = Frames::new(|| {
                    vec![
                        Reply::bulk_static(kind_name),
                        Reply::bulk(Bytes::copy_from_slice(channel)),
                        Reply::bulk(Bytes::copy_from_slice(message)),
                    ]
                });
                for outbox in subscribers.values() {
                    outbox.push(frames.get(outbox.protocol()), limits, now_ms, to.stats);
                    receivers += 1;
                }
            }
        }
        if kind == ChannelKind::Shard {
            return receivers;
        }
        let patterns = self.patterns.read();
        for (pattern, subscribers) in patterns.iter() {
            if !glob_match(pattern, channel, false) {
                continue;
            }
            let mut frames = Frames::new(|| {
                vec![
                    Reply::bulk_static("pmessage"),
                    Reply::bulk(pattern.clone()),
                    Reply::bulk(Bytes::copy_from_slice(channel)),
                    Reply::bulk(Bytes::copy_from_slice(message)),
                ]
            });
            for outbox in subscribers.values() {
                outbox.push(frames.get(outbox.protocol()), limits, now_ms, to.stats);
                receivers += 1;
            }
        }
        receivers
    }

    /// Active channels (with at least one subscriber) matching `pattern`, if given.
    pub fn channel_names(&self, kind: ChannelKind, pattern: Option<&[u8]>) -> Vec<Bytes> {
        self.table(kind)
            .read()
            .keys()
            .filter(|c| pattern.is_none_or(|p| glob_match(p, c, false)))
            .cloned()
            .collect()
    }

    pub fn subscriber_count(&self, kind: ChannelKind, channel: &[u8]) -> usize {
        self.table(kind).read().get(channel).map_or(0, |s| s.len())
    }

    /// PUBSUB NUMPAT: the number of distinct patterns subscribed to.
    pub fn pattern_count(&self) -> usize {
        self.patterns.read().len()
    }

    pub fn add_monitor(&self, outbox: &Arc<Outbox>) {
        let mut monitors = self.monitors.write();
        monitors.insert(outbox.id(), outbox.clone());
        self.monitoring.store(true, Ordering::Relaxed);
    }

    pub fn remove_monitor(&self, id: u64) {
        let mut monitors = self.monitors.write();
        monitors.remove(&id);
        self.monitoring
            .store(!monitors.is_empty(), Ordering::Relaxed);
    }

    /// Pushes one MONITOR line (already a complete `+...\r\n` status frame) to every monitor.
    pub fn feed_monitors(&self, to: Handle, line: Bytes) {
        let limits = BufferLimits::pubsub(to.config);
        let now_ms = to.clock.now_ms();
        for outbox in self.monitors.read().values() {
            outbox.push(line.clone(), limits, now_ms, to.stats);
        }
    }
}

/// Removes one subscriber; true if it was there.
fn remove_from(table: &mut HashMap<Bytes, Subscribers>, name: &[u8], id: u64) -> bool {
    let Some(subscribers) = table.get_mut(name) else {
        return false;
    };
    let removed = subscribers.remove(&id).is_some();
    if subscribers.is_empty() {
        table.remove(name);
    }
    removed
}

/// The longest a PUBLISH waits for a receiver that does not finish its input (stuck writing
/// replies to a peer that does not read them).
const PUBLISH_SETTLE: std::time::Duration = std::time::Duration::from_millis(50);

/// One message encoded lazily, at most once per protocol.
struct Frames<F: Fn() -> Vec<Reply>> {
    build: F,
    encoded: [Option<Bytes>; 2],
}

impl<F: Fn() -> Vec<Reply>> Frames<F> {
    fn new(build: F) -> Self {
        Frames {
            build,
            encoded: [None, None],
        }
    }

    fn get(&mut self, protocol: Protocol) -> Bytes {
        let slot = usize::from(protocol == Protocol::Resp3);
        self.encoded[slot]
            .get_or_insert_with(|| {
                let mut out = BytesMut::new();
                Reply::Push((self.build)()).encode(protocol, &mut out);
                out.freeze()
            })
            .clone()
    }
}

/// CLIENT TRACKING (default mode): remembers the keys a read-only command of a tracking client
/// looked at, so a later change of one of them sends the client an invalidation.
fn remember_reads(to: Handle, client: &ClientPubSub, spec: &CommandSpec, argv: &[Bytes]) {
    let Some(mode) = &client.tracking else {
        return;
    };
    if !spec.has(flags::READONLY) || !mode.remembers() {
        return;
    }
    let keys = spec.keys.key_indexes(argv);
    to.pubsub.tracking.remember(
        to,
        client.outbox.id(),
        keys.iter().map(|&(_, i)| &argv[i][..]),
    );
}

/// The outbox of connection `id`, if it is still connected.
fn outbox_of(clients: &ClientRegistry, id: u64) -> Option<Arc<Outbox>> {
    clients.get(id)?.outbox.get()?.upgrade()
}

/// True if connection `id` has a subscription (Redis's CLIENT_PUBSUB flag).
fn is_subscriber(clients: &ClientRegistry, id: u64) -> bool {
    clients.get(id).is_some_and(|info| {
        let d = info.details.lock();
        d.sub + d.psub + d.ssub > 0
    })
}

/// Drops every subscription, the MONITOR registration and the tracking of a client (RESET,
/// disconnect).
pub fn forget_client(
    pubsub: &PubSub,
    expiry: &crate::keyspace::expiry::ExpirySwitches,
    client: &mut ClientPubSub,
) {
    let id = client.outbox.id();
    if client.tracking.take().is_some() {
        pubsub.tracking.disable(expiry, id);
    }
    for channel in client.channels.drain() {
        pubsub.unsubscribe(ChannelKind::Global, &channel, id);
    }
    for channel in client.shard_channels.drain() {
        pubsub.unsubscribe(ChannelKind::Shard, &channel, id);
    }
    for pattern in client.patterns.drain() {
        pubsub.punsubscribe(&pattern, id);
    }
    if std::mem::take(&mut client.monitor) {
        pubsub.remove_monitor(id);
    }
    client.frames_before_reply.clear();
    client.events.clear();
    pubsub.note_subscribed(client);
}

/// Dispatch's checks for subscribed and MONITOR clients, before a command runs: in RESP2 a
/// subscribed client may only run the (un)subscribe commands, PING, QUIT and RESET; a MONITOR
/// client is a replica to Redis and may not touch the keyspace.
#[inline]
pub fn refusal(client: &ClientState, spec: &CommandSpec, full_name: &str) -> Option<Reply> {
    let ps = &client.pubsub;
    if !ps.monitor && !ps.is_subscribed() {
        return None;
    }
    listener_refusal(client, spec, full_name)
}

#[cold]
fn listener_refusal(client: &ClientState, spec: &CommandSpec, full_name: &str) -> Option<Reply> {
    let ps = &client.pubsub;
    if !spec.has(flags::ALLOWED_WHILE_SUBSCRIBED)
        && client.protocol == Protocol::Resp2
        && ps.is_subscribed()
    {
        return Some(Reply::error(format!(
            "ERR Can't execute '{full_name}': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context"
        )));
    }
    if ps.monitor && spec.flags & (flags::WRITE | flags::READONLY | flags::MAY_REPLICATE) != 0 {
        return Some(Reply::error("ERR Replica can't interact with the keyspace"));
    }
    None
}

/// For commands whose reply Redis writes before they change the key (GETSET, GETDEL, GETEX,
/// SET ... GET): the connection must write the reply before the keyspace events they raise.
pub fn reply_before_events(client: &mut ClientState) {
    client.pubsub.hold_pushes = true;
}

/// True for commands MONITOR shows (Redis hides admin commands and those flagged skip_monitor).
fn monitored(spec: &CommandSpec) -> bool {
    spec.flags & (flags::ADMIN | flags::SKIP_MONITOR) == 0
}

/// Scripts are shown before the commands they run; everything else once it has run.
fn shown_before_running(spec: &CommandSpec) -> bool {
    spec.has(flags::SHOWN_BEFORE_RUNNING)
}

/// Dispatch's hook before a top-level command runs.
#[inline]
pub fn before_command(to: Handle, client: &ClientState, spec: &CommandSpec, argv: &[Bytes]) {
    // Scripts carry skip_monitor but Redis shows the call itself, before what it runs.
    if shown_before_running(spec) && spec.flags & flags::ADMIN == 0 {
        monitor::feed(
            to,
            client.db,
            monitor::Source::Client(&client.info.addr),
            argv,
        );
    }
}

/// Dispatch's hook after a top-level command ran and released its locks: publishes its keyspace
/// events, feeds MONITOR, and gives PING its subscribed-mode shape.
/// Mirrors the subscription counts and MONITOR mode into the shared client details, for other
/// connections' CLIENT LIST (`sub=`, `psub=`, `ssub=`, flags `P` and `O`).
fn publish_subscription_counts(client: &ClientState) {
    let p = &client.pubsub;
    let mut details = client.info.details.lock();
    details.sub = p.channels.len();
    details.psub = p.patterns.len();
    details.ssub = p.shard_channels.len();
    details.monitor = p.monitor;
}

#[inline]
pub fn after_command(
    to: Handle,
    client: &mut ClientState,
    spec: &CommandSpec,
    argv: &[Bytes],
    result: Result<Reply, CommandError>,
) -> Result<Reply, CommandError> {
    if !client.pubsub.events.is_empty() {
        notify::publish_recorded(to, &mut client.pubsub);
    }
    if client.pubsub.tracking.is_some() && result.is_ok() {
        remember_reads(to, &client.pubsub, spec, argv);
    }
    if let Some(mode) = client.pubsub.tracking.as_mut() {
        // CLIENT CACHING applies to the next command other than a CLIENT subcommand (Redis
        // keeps the flag across its `clientCommand`).
        mode.caching &= spec.has(flags::KEEPS_CACHING);
        if to.pubsub.tracking.take_own_write_invalidated(client.id) {
            client.pubsub.hold_pushes = true;
        }
    }
    if spec.has(crate::engine::flags::CHANGES_LISTENING) {
        publish_subscription_counts(client);
        to.pubsub.note_subscribed(&client.pubsub);
    }
    // A blocked command is shown once, when it arrives (Redis 7), not again when served.
    if monitored(spec) && !shown_before_running(spec) && !client.blocking.retrying {
        monitor::feed(
            to,
            client.db,
            monitor::Source::Client(&client.info.addr),
            argv,
        );
    }
    if client.pubsub.monitor {
        // A monitor sees its own command after the reply: Redis feeds monitors after the call.
        client.pubsub.hold_pushes = true;
    }
    if spec.has(crate::engine::flags::PONG_WHILE_SUBSCRIBED)
        && client.protocol == Protocol::Resp2
        && client.pubsub.is_subscribed()
    {
        let payload = match result {
            Ok(Reply::Bulk(text)) => text,
            Ok(_) => Bytes::new(),
            Err(err) => return Err(err),
        };
        return Ok(Reply::Array(vec![
            Reply::bulk_static("pong"),
            Reply::Bulk(payload),
        ]));
    }
    result
}

/// Dispatch's hook after a nested command (inside EXEC or a script) ran; `busy` says whether a
/// script runs it (MONITOR shows it as `lua`).
#[inline]
pub fn after_nested(
    to: Handle,
    busy: &BusyState,
    client: &ClientState,
    spec: &CommandSpec,
    argv: &[Bytes],
) {
    remember_reads(to, &client.pubsub, spec, argv);
    if monitored(spec) {
        let source = if busy.is_running() {
            monitor::Source::Lua
        } else {
            monitor::Source::Client(&client.info.addr)
        };
        monitor::feed(to, client.db, source, argv);
    }
}
