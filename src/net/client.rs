//! One connection: read -> decode every complete request -> execute -> encode -> one write per
//! batch. Holds no lock across `.await`; commands run synchronously between reads and writes.

use super::blocked::{wait_blocked, BlockedIo};
use super::input_watch::{Attention, InputWatch, ReadWaker};
use super::io::{write_flush, READ_CHUNK_BYTES};
use crate::clients::ClientInfo;
use crate::engine::client::ReplyMode;
use crate::engine::registry::Known;
use crate::protocol::{Limits, ProtocolError, Reply, Request, RequestDecoder};
use crate::pubsub::Outbox;
use crate::state::ServerState;
use crate::stats::ServerStats;
use crate::{engine::dispatch, engine::flags, engine::ClientState};
use bytes::{Bytes, BytesMut};
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::futures::Notified;

/// Largest extra capacity reserved at once for a big bulk that is still arriving.
const READ_AHEAD_BYTES_MAX: usize = 1024 * 1024;
/// Buffers above this capacity are released when empty, so idle clients stay small.
const IDLE_BUFFER_BYTES_MAX: usize = 64 * 1024;
/// Replies of one batch past this size are written before its next request runs (unless the
/// normal class has an output-buffer limit, which applies to the replies held, as in Redis).
const OUTPUT_FLUSH_BYTES: usize = 256 * 1024;

/// Who a connection is: both ends, its descriptor (CLIENT LIST `fd=`) and its transport.
pub struct Ends {
    pub addr: crate::clients::Peer,
    pub local: crate::clients::Peer,
    pub fd: i64,
    pub transport: crate::clients::Transport,
}

/// Serves one connection until it closes. Generic over the stream, so each transport gets its
/// own copy of the loop (the plaintext one is the same code as before TLS existed).
pub async fn run<S: super::io::Connection>(state: &ServerState, stream: S, ends: Ends) {
    MarkedAsync(Box::pin(serve(state, stream, ends))).await
}

/// Runs a connection future of another protocol (memcached) under the same marking.
pub(super) async fn marked<F: std::future::Future>(f: F) -> F::Output {
    MarkedAsync(Box::pin(f)).await
}

/// Polls a connection future with this thread marked as running a connection task, so debug
/// builds check that nothing in it waits for a shard lock outside a gate section (see
/// keyspace/lock_rules.rs).
struct MarkedAsync<F>(std::pin::Pin<Box<F>>);

impl<F: std::future::Future> std::future::Future for MarkedAsync<F> {
    type Output = F::Output;
    fn poll(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<F::Output> {
        let inner = self.0.as_mut();
        crate::keyspace::lock_rules::as_async_task(|| inner.poll(cx))
    }
}

async fn serve<S: super::io::Connection>(state: &ServerState, stream: S, ends: Ends) {
    serve_handed(state, stream, Handed::register(state, ends), None).await
}

/// A connection's state as one loop hands it to another: the epoll loop (event_loop.rs) gives
/// a connection that must wait to this one, which goes on exactly where it stopped.
pub(super) struct Handed {
    pub info: Arc<ClientInfo>,
    pub client: ClientState,
    pub decoder: RequestDecoder,
    pub lookahead: super::lookahead::Lookahead,
    pub input: BytesMut,
    pub output: BytesMut,
    /// How many of the bytes in `output` came from the outbox.
    pub pushed: usize,
}

impl Handed {
    /// A new connection's state, registered in the client list.
    pub fn register(state: &ServerState, ends: Ends) -> Handed {
        let info = state.clients.register_peer(
            ends.addr,
            ends.local,
            ends.transport,
            ends.fd,
            state.clock.now_ms(),
        );
        let mut client = ClientState::new(info.clone());
        client.user = state.acl.default_user();
        client.authenticated = !state.acl.default_needs_auth();
        client.batch_clock.enabled = true;
        client.tally.enabled = true;
        Handed {
            info,
            client,
            decoder: RequestDecoder::new(),
            lookahead: Default::default(),
            input: BytesMut::with_capacity(READ_CHUNK_BYTES),
            output: BytesMut::with_capacity(READ_CHUNK_BYTES),
            pushed: 0,
        }
    }
}

/// Where a handed connection goes on.
pub(super) enum Resume {
    /// Runs what the input and look-ahead hold, then writes the replies.
    Batch,
    /// Finishes a request the other loop ran (its blocking wait, MIGRATE step or PSYNC
    /// hand-off), then as `Batch`.
    Finish(Vec<Bytes>, Reply),
}

/// Serves a connection the epoll loop handed over, from where it stopped.
pub(super) async fn resume<S: super::io::Connection>(
    state: &ServerState,
    stream: S,
    handed: Handed,
    resume: Resume,
) {
    MarkedAsync(Box::pin(serve_handed(state, stream, handed, Some(resume)))).await
}

async fn serve_handed<S: super::io::Connection>(
    state: &ServerState,
    stream: S,
    handed: Handed,
    mut resume: Option<Resume>,
) {
    let info = handed.info.clone();
    // Frames other connections push here (Pub/Sub messages, MONITOR lines).
    let outbox = handed.client.pubsub.outbox.clone();

    // What the read waits on beside the socket, armed once and kept from one read to the
    // next: a waiter registered anew for each read, and unlinked when the read won, cost two
    // locked list updates per signal per request. `ClientInfo::kill` wakes every waiter of
    // `kill_notify`, so the writes' own waiters still see a kill while this one is armed.
    let mut shutdown_signal = state.shutdown.subscribe();
    let shut = shutdown_signal.changed();
    tokio::pin!(shut);
    let killed = info.kill_notify.notified();
    tokio::pin!(killed);
    let pushed_frames = outbox.ready();
    tokio::pin!(pushed_frames);

    let mut conn = Connection::new(state, stream, &info, &outbox, handed);
    loop {
        let finished = match resume.take() {
            None => {
                match conn
                    .wait(shut.as_mut(), killed.as_mut(), pushed_frames.as_mut())
                    .await
                {
                    Woken::Input => {}
                    Woken::Pushed => {
                        pushed_frames.set(outbox.ready());
                        if conn.write_pushed().await {
                            continue;
                        }
                        break;
                    }
                    Woken::Gone => break,
                }
                Step::More
            }
            Some(Resume::Batch) => {
                // Frames pushed while the connection was on the epoll loop (its move may be
                // for them: the loop's waiter took their wake-up, so `outbox.ready()` will not
                // fire for them here) go out with this batch's replies, before them.
                conn.pushed += outbox.drain_into(&mut conn.output);
                Step::More
            }
            Some(Resume::Finish(argv, reply)) => conn.finish_request(argv, reply).await,
        };
        let batch = match finished {
            Step::More => conn.run_batch().await,
            step => step,
        };
        if batch == Step::End || conn.over_query_limit() {
            break;
        }
        conn.buffers
            .publish(&info, &conn.decoder, &conn.input, &conn.output);
        if !conn.write_replies().await {
            break;
        }
        conn.release_idle_input();
        if batch == Step::Close {
            break;
        }
    }
    conn.close().await;
}

/// What woke a connection waiting for input.
enum Woken {
    /// Input was read: run the batch.
    Input,
    /// Other connections pushed frames (Pub/Sub messages, MONITOR lines) to write.
    Pushed,
    /// The peer closed, or the connection was killed, timed out idle or the server shuts down.
    Gone,
}

/// How a connection goes on after a request, or after a batch.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Step {
    /// On to the next request (after a batch: write the replies, then wait for input).
    More,
    /// Write the replies held, then close.
    Close,
    /// Close now, writing nothing more (the connection was handed to replication).
    End,
}

/// One connection's stream, buffers, decoder and client state. The signals its reads wait on
/// borrow `info` and `outbox`, so they are pinned in `serve`, which lends both to it.
struct Connection<'a, S> {
    state: &'a ServerState,
    stream: S,
    info: &'a Arc<ClientInfo>,
    outbox: &'a Outbox,
    client: ClientState,
    decoder: RequestDecoder,
    /// Requests of the batch decoded ahead, their keys prefetched (see lookahead.rs).
    lookahead: super::lookahead::Lookahead,
    input: BytesMut,
    output: BytesMut,
    /// How many of the bytes in `output` came from the outbox (released from its limit once
    /// written).
    pushed: usize,
    /// Ends a blocked wait at shutdown (the read's own signal is pinned in `serve`).
    shutdown: tokio::sync::watch::Receiver<bool>,
    /// Since when the replies waiting here have exceeded the normal class's soft limit.
    over_soft_since_ms: AtomicU64,
    /// The buffer sizes CLIENT LIST last saw.
    buffers: super::buffers::Published,
    /// Counts input reaching the socket before this task runs (see input_watch.rs).
    input_waker: ReadWaker,
    /// The waker pushed frames, a kill and shutdown wake the connection with (see `wait`).
    attention: Attention,
    /// Those three have been polled with `attention` since they were armed.
    others_armed: bool,
}

impl<'a, S: super::io::Connection> Connection<'a, S> {
    fn new(
        state: &'a ServerState,
        stream: S,
        info: &'a Arc<ClientInfo>,
        outbox: &'a Outbox,
        handed: Handed,
    ) -> Self {
        let input_waker = ReadWaker::new(info.clone());
        Connection {
            state,
            stream,
            info,
            outbox,
            client: handed.client,
            decoder: handed.decoder,
            lookahead: handed.lookahead,
            input: handed.input,
            output: handed.output,
            pushed: handed.pushed,
            shutdown: state.shutdown.subscribe(),
            over_soft_since_ms: AtomicU64::new(0),
            buffers: Default::default(),
            attention: Attention::new(&input_waker),
            others_armed: false,
            input_waker,
        }
    }

    /// Waits for input, pushed frames, a kill, shutdown or the idle timeout; reads the input.
    async fn wait(
        &mut self,
        shutdown: Pin<&mut impl Future>,
        killed: Pin<&mut Notified<'_>>,
        pushed: Pin<&mut impl Future>,
    ) -> Woken {
        reserve_input(&self.decoder, &mut self.input);
        let timeout_secs = self.state.config.hot.timeout_secs.load(Ordering::Relaxed);
        let client = &self.client;
        let idle = async {
            // Like Redis, subscribers are never closed for idling.
            if timeout_secs == 0 || client.pubsub.is_subscribed() {
                std::future::pending::<()>().await
            } else {
                tokio::time::sleep(Duration::from_secs(timeout_secs)).await
            }
        };
        let attention = &self.attention;
        let armed = &mut self.others_armed;
        let (mut pushed, mut killed, mut shutdown) = (pushed, killed, shutdown);
        // Pushed frames, a kill and shutdown, polled with the attention waker: the first time
        // (which registers their waiters), and then only after one of them has fired.
        let others = std::future::poll_fn(move |_| {
            if !attention.take_fired() && *armed {
                return Poll::Pending;
            }
            let mut cx = std::task::Context::from_waker(attention.waker());
            if pushed.as_mut().poll(&mut cx).is_ready() {
                // The caller arms a new waiter for the next frames.
                *armed = false;
                return Poll::Ready(Woken::Pushed);
            }
            if killed.as_mut().poll(&mut cx).is_ready()
                || shutdown.as_mut().poll(&mut cx).is_ready()
            {
                return Poll::Ready(Woken::Gone);
            }
            *armed = true;
            Poll::Pending
        });
        let read = {
            let reading = self.stream.read_buf(&mut self.input);
            tokio::pin!(reading);
            tokio::select! {
                biased;
                read = InputWatch::new(&self.input_waker, reading.as_mut()) => read,
                woken = others => return woken,
                _ = idle => return Woken::Gone,
            }
        };
        match read {
            Ok(0) | Err(_) => return Woken::Gone,
            Ok(n) => ServerStats::add(&self.state.stats.net_input_bytes, n as u64),
        }
        if self.info.is_killed() {
            return Woken::Gone;
        }
        Woken::Input
    }

    /// Writes the frames pushed while no request ran; false when the connection is to close.
    async fn write_pushed(&mut self) -> bool {
        let n = self.outbox.drain_into(&mut self.output);
        if n == 0 {
            return true;
        }
        self.pushed += n;
        // A kill (output buffer limit) interrupts a stuck write.
        self.write_output().await && !self.info.is_killed()
    }

    /// Runs every complete request in the input (`Step::More` once it needs more input).
    async fn run_batch(&mut self) -> Step {
        // One clock read: the interaction time and the start of the batch's first command.
        let now_us = self.state.clock.now_us();
        self.info
            .last_interaction_ms
            .store(now_us / 1000, Ordering::Relaxed);
        self.client.batch_clock.seed(now_us);
        self.client.query_batch = (self.input.len(), self.input.capacity());
        let step = loop {
            let limits = Limits {
                bulk_bytes_max: self
                    .state
                    .config
                    .hot
                    .proto_max_bulk_len
                    .load(Ordering::Relaxed),
                authenticated: self.client.authenticated || !self.state.acl.default_needs_auth(),
            };
            let (decoded, known) = self.lookahead.next(
                self.state,
                self.client.db,
                &mut self.decoder,
                &mut self.input,
                limits,
            );
            match decoded {
                Ok(Some(Request::Command(argv))) => match self.run_request(argv, known).await {
                    Step::More => {}
                    step => break step,
                },
                Ok(Some(Request::Empty)) => {}
                Ok(None) => break Step::More,
                Err(err) => {
                    self.protocol_error(&err);
                    break Step::Close;
                }
            }
        };
        if step != Step::End {
            self.client.batch_clock.forget();
        }
        // Before the replies go out (see `CallTally`).
        self.client
            .tally
            .flush(&self.state.stats.commands_processed);
        step
    }

    /// Runs one request and encodes its reply, with what must happen around it. The rare
    /// steps that wait (settling before a PUBLISH, MIGRATE's exchange, the PSYNC hand-off,
    /// blocking, a mid-batch write) are boxed: their futures would otherwise make this one,
    /// built for every request of a batch, as large as the largest of them.
    async fn run_request(&mut self, argv: Vec<Bytes>, known: Option<Known>) -> Step {
        let state = self.state;
        if state.pubsub.has_subscriptions() && self.client.multi.is_none() {
            self.client.batch_clock.forget();
            Box::pin(settle_before_publish(state, &self.client, &argv)).await;
        }
        // Frames pushed before this command go out before its reply.
        self.pushed += self.outbox.drain_into(&mut self.output);
        // Boxed, the wait: a request that runs at once builds no future for it.
        let reply = match dispatch::run_now(state, &mut self.client, &argv, known) {
            Some(reply) => reply,
            None => {
                Box::pin(dispatch::execute_found_async(
                    state,
                    &mut self.client,
                    &argv,
                    known,
                ))
                .await
            }
        };
        if self.client.migrate.is_some()
            || self.client.repl.handoff.is_some()
            || self.client.blocking.request.is_some()
        {
            return Box::pin(self.finish_request(argv, reply)).await;
        }
        // The usual case, with no future beyond this one's.
        self.decoder.recycle(argv);
        match self.encode_step(reply) {
            Some(step) => step,
            None => Box::pin(self.flush_then_step()).await,
        }
    }

    /// What follows a request's run when it asked for a MIGRATE step, a hand-off or a wait,
    /// then its reply.
    async fn finish_request(&mut self, argv: Vec<Bytes>, mut reply: Reply) -> Step {
        let state = self.state;
        if self.client.migrate.is_some() {
            self.client.batch_clock.forget();
            // MIGRATE's network step, with no lock held, then the dispatch that deletes what
            // was sent (commands/generic/migrate.rs).
            use crate::commands::generic::migrate::{self, Exchanged};
            match Box::pin(migrate::network_step(&mut self.client)).await {
                Some(Exchanged::Reply(done)) => reply = done,
                Some(Exchanged::DispatchAgain) => {
                    reply = Box::pin(dispatch::execute_async(state, &mut self.client, &argv)).await;
                    migrate::finish(&mut self.client);
                }
                None => {}
            }
        }
        if let Some(handoff) = self.client.repl.handoff.take() {
            Box::pin(self.hand_off(handoff)).await;
            return Step::End;
        }
        if let Some(request) = self.client.blocking.request.take() {
            match Box::pin(self.block(request, argv)).await {
                Some(served) => reply = served,
                None => return Step::Close,
            }
        } else {
            self.decoder.recycle(argv);
        }
        match self.encode_step(reply) {
            Some(step) => step,
            None => Box::pin(self.flush_then_step()).await,
        }
    }

    /// Encodes a request's reply and says how the connection goes on; `None` when the replies
    /// held are large enough to write before the next request (`flush_then_step`).
    fn encode_step(&mut self, reply: Reply) -> Option<Step> {
        serve_ready_blocked(self.state);
        self.encode_reply(reply);
        if self.over_output_limit() {
            return Some(Step::Close);
        }
        if self.output_is_large() {
            return None;
        }
        Some(self.close_or_more())
    }

    /// Writes the replies held mid-batch, then as `encode_step`.
    async fn flush_then_step(&mut self) -> Step {
        if !self.flush().await {
            return Step::Close;
        }
        self.close_or_more()
    }

    fn close_or_more(&self) -> Step {
        if self.client.close_after_reply || self.info.is_killed() {
            Step::Close
        } else {
            Step::More
        }
    }

    /// PSYNC / SYNC: earlier replies go out, then the connection is a replica link until it
    /// ends (net/replica.rs).
    async fn hand_off(&mut self, handoff: crate::replication::primary::Handoff) {
        self.client.batch_clock = Default::default();
        self.wait_aof().await;
        if self.output.is_empty() || write_flush(&mut self.stream, &self.output).await.is_ok() {
            self.output.clear();
            super::replica::serve(
                self.state,
                &mut self.stream,
                &mut self.input,
                &mut self.client,
                handoff,
            )
            .await;
        }
    }

    /// Writes the replies so far, then parks the client until its blocking command is served
    /// (`None`: the connection is to close; see blocked.rs).
    async fn block(
        &mut self,
        request: crate::engine::client::BlockRequest,
        argv: Vec<Bytes>,
    ) -> Option<Reply> {
        self.client.batch_clock.forget();
        self.client
            .tally
            .flush(&self.state.stats.commands_processed);
        // The replies flushed before blocking include earlier writes.
        self.wait_aof().await;
        let mut io = BlockedIo {
            stream: &mut self.stream,
            input: &mut self.input,
            output: &mut self.output,
            shutdown: &mut self.shutdown,
        };
        self.pushed = io.flush(self.state, self.outbox, self.pushed).await;
        let served = wait_blocked(self.state, &mut self.client, request, argv, &mut io).await;
        // Served (maybe by another connection) at some earlier instant.
        self.client.batch_clock.forget();
        served
    }

    /// Encodes a reply after the frames its command pushed, as CLIENT REPLY lets it.
    fn encode_reply(&mut self, reply: Reply) {
        encode_reply(&mut self.client, &mut self.output, &mut self.pushed, reply)
    }

    /// Whether the replies held pass the normal class's output buffer limit.
    fn over_output_limit(&self) -> bool {
        over_output_limit(
            self.state,
            &self.client,
            self.info,
            self.output.len(),
            &self.over_soft_since_ms,
        )
    }

    fn output_is_large(&self) -> bool {
        output_is_large(self.state, self.output.len())
    }

    /// Writes the replies of the batch so far, mid-batch; false if the write failed.
    async fn flush(&mut self) -> bool {
        self.client.batch_clock.forget();
        self.wait_aof().await;
        self.write_output().await
    }

    /// Writes `output` (a kill interrupts a stuck write), counts it and empties it, releasing
    /// the pushed frames in it from the outbox's limit; false if the write failed.
    async fn write_output(&mut self) -> bool {
        // Biased, the write first: a write that completes at once (the usual case) leaves the
        // kill waiter unpolled, so it is never linked into the waiter list (a lock) only to be
        // unlinked (another) when dropped.
        let written = tokio::select! {
            biased;
            written = write_flush(&mut self.stream, &self.output) => written.is_ok(),
            _ = self.info.kill_notify.notified() => false,
        };
        if !written {
            return false;
        }
        ServerStats::add(&self.state.stats.net_output_bytes, self.output.len() as u64);
        self.outbox.written(std::mem::take(&mut self.pushed));
        self.output.clear();
        true
    }

    /// Waits until the append-only log holds the writes whose replies are to go out.
    async fn wait_aof(&mut self) {
        if self.client.aof_wait > 0 {
            self.state
                .aof
                .wait_acked(std::mem::take(&mut self.client.aof_wait))
                .await;
        }
    }

    fn protocol_error(&mut self, err: &ProtocolError) {
        protocol_error(self.state, &self.client, &mut self.output, err)
    }

    fn over_query_limit(&self) -> bool {
        over_query_limit(self.state, &self.client, &self.input)
    }

    /// Writes the batch's replies once the log holds its writes; false if the write failed.
    async fn write_replies(&mut self) -> bool {
        // Replies of writes go out once the log holds them (fsynced, with `always`).
        self.wait_aof().await;
        if self.output.is_empty() {
            return true;
        }
        if !self.write_output().await {
            return false;
        }
        self.buffers.output_written(self.info);
        release_idle_output(&mut self.output);
        true
    }

    /// Lets a big input buffer go once it is empty, so idle clients stay small.
    fn release_idle_input(&mut self) {
        release_idle_input(&self.decoder, &mut self.input);
    }

    /// Unlinks the client and closes the socket.
    async fn close(mut self) {
        // Never waits for a script: watches are left for the exclusive holder if need be.
        crate::engine::context::reset_client(self.state, &mut self.client);
        // Gone from CLIENT LIST and CLIENT KILL before the peer sees its socket close, as in
        // Redis, where freeClient unlinks the client before closing its connection.
        self.state.clients.unregister(self.client.id);
        let _ = self.stream.shutdown().await;
    }
}

/// Clients blocked on keys the last command wrote are served before the next command runs,
/// as Redis does after each call. While another client holds the exclusive section they stay
/// ready: that client serves them after it.
pub(super) fn serve_ready_blocked(state: &ServerState) {
    if state.blocking.has_ready() {
        if let Some(_section) = state.gate.try_shared() {
            crate::engine::blocking::serve_ready(state);
        }
    }
}

/// A command that routes Pub/Sub messages (PUBLISH, SPUBLISH) first lets its receivers finish
/// the input they already have, so their subscription changes that reached the server before
/// it take effect first (docs/pubsub.md, "Ordering").
async fn settle_before_publish(state: &ServerState, client: &ClientState, argv: &[Bytes]) {
    let Ok(found) = state.registry.resolve(argv) else {
        return;
    };
    if found.spec.has(flags::ROUTES_MESSAGES) {
        state.pubsub.settle_subscribers(&client.info).await;
    }
}

/// Makes room for the next read: a chunk, or what a big bulk still arriving needs (bounded).
pub(super) fn reserve_input(decoder: &RequestDecoder, input: &mut BytesMut) {
    if input.capacity() - input.len() < READ_CHUNK_BYTES / 2 {
        let wanted = decoder
            .bytes_wanted()
            .unwrap_or(0)
            .saturating_sub(input.len());
        input.reserve(wanted.clamp(READ_CHUNK_BYTES, READ_AHEAD_BYTES_MAX));
    }
}

/// Encodes a reply after the frames its command pushed, as CLIENT REPLY lets it.
pub(super) fn encode_reply(
    client: &mut ClientState,
    output: &mut BytesMut,
    pushed: &mut usize,
    reply: Reply,
) {
    if !std::mem::take(&mut client.pubsub.hold_pushes) {
        // Messages the command itself raised (PUBLISH to a channel this client
        // listens to, keyspace events) precede its reply, as in Redis.
        *pushed += client.pubsub.outbox.drain_into(output);
    }
    let frames = std::mem::take(&mut client.pubsub.frames_before_reply);
    // Push frames (subscribe confirmations) are not replies: CLIENT REPLY
    // OFF / SKIP silence only the rest, as Redis's CLIENT_PUSHING.
    for frame in frames {
        frame.encode(client.protocol, output);
    }
    let is_push = matches!(reply, Reply::Push(_));
    let replying = match client.reply_mode {
        ReplyMode::On => true,
        ReplyMode::Off => false,
        ReplyMode::SkipNext => {
            client.reply_mode = ReplyMode::Skipping;
            false
        }
        ReplyMode::Skipping => {
            client.reply_mode = ReplyMode::On;
            false
        }
    };
    if replying || is_push {
        reply.encode(client.protocol, output)
    }
}

/// Whether the replies held pass the normal class's output buffer limit (logged and counted:
/// the connection closes).
pub(super) fn over_output_limit(
    state: &ServerState,
    client: &ClientState,
    info: &ClientInfo,
    held: usize,
    over_soft_since_ms: &AtomicU64,
) -> bool {
    if client.pubsub.is_subscribed() {
        return false;
    }
    let Some(limit) =
        crate::engine::maxmemory::output_limit_reached(state, held, over_soft_since_ms)
    else {
        return false;
    };
    tracing::warn!(
        "Client id={} addr={} closed for overcoming of output buffer limits ({limit} limit of the normal class).",
        client.id,
        info.addr
    );
    ServerStats::add(&state.stats.output_buffer_limit_disconnections, 1);
    true
}

/// True once the replies of the batch so far are big enough to write before the next
/// request: a pipelined flood of big replies is not held in one buffer that doubles as it
/// grows.
pub(super) fn output_is_large(state: &ServerState, held: usize) -> bool {
    held >= OUTPUT_FLUSH_BYTES && crate::engine::maxmemory::replies_unlimited(state)
}

/// Answers a request that does not decode; the connection then closes.
pub(super) fn protocol_error(
    state: &ServerState,
    client: &ClientState,
    output: &mut BytesMut,
    err: &ProtocolError,
) {
    output.extend_from_slice(b"-ERR ");
    output.extend_from_slice(err.0.as_bytes());
    output.extend_from_slice(b"\r\n");
    state.stats.record_error(b"ERR");
    tracing::debug!(
        "Protocol error ({}) from client: id={} addr={}",
        err.0,
        client.id,
        client.info.addr
    );
}

/// Whether the input still held passes client-query-buffer-limit (logged and counted: the
/// connection closes).
pub(super) fn over_query_limit(
    state: &ServerState,
    client: &ClientState,
    input: &BytesMut,
) -> bool {
    let query_limit = state
        .config
        .hot
        .client_query_buffer_limit
        .load(Ordering::Relaxed) as usize;
    if input.len() <= query_limit {
        return false;
    }
    tracing::warn!(
        "Closing client that reached max query buffer length: id={} addr={}",
        client.id,
        client.info.addr
    );
    ServerStats::add(&state.stats.query_buffer_limit_disconnections, 1);
    true
}

/// Lets a big input buffer go once it is empty, so idle clients stay small.
pub(super) fn release_idle_input(decoder: &RequestDecoder, input: &mut BytesMut) {
    if input.is_empty() && input.capacity() > IDLE_BUFFER_BYTES_MAX && !decoder.in_progress() {
        *input = BytesMut::with_capacity(READ_CHUNK_BYTES);
    }
}

/// Lets a big output buffer go once written.
pub(super) fn release_idle_output(output: &mut BytesMut) {
    if output.capacity() > IDLE_BUFFER_BYTES_MAX {
        *output = BytesMut::with_capacity(READ_CHUNK_BYTES);
    }
}
