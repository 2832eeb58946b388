//! One connection: read -> decode every complete request -> execute -> encode -> one write per
//! batch. Holds no lock across `.await`; commands run synchronously between reads and writes.

use super::blocked::{wait_blocked, BlockedIo};
use super::input_watch::{InputWaker, InputWatch};
use crate::engine::context::ReplyMode;
use crate::protocol::{Limits, Reply, Request, RequestDecoder};
use crate::state::ServerState;
use crate::stats::ServerStats;
use crate::{engine::dispatch, engine::flags, engine::ClientState};
use bytes::{Bytes, BytesMut};
use std::sync::atomic::Ordering;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Read buffer capacity kept between reads, as Redis's PROTO_IOBUF_LEN.
const READ_CHUNK_BYTES: usize = 16 * 1024;
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
pub async fn run<S: super::listener::Connection>(state: &ServerState, stream: S, ends: Ends) {
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

async fn serve<S: super::listener::Connection>(state: &ServerState, mut stream: S, ends: Ends) {
    let info = state.clients.register_peer(
        ends.addr,
        ends.local,
        ends.transport,
        ends.fd,
        state.clock.now_ms(),
    );
    let addr = info.addr.clone();
    let mut client = ClientState::new(info.clone());
    client.user = state.acl.default_user();
    client.authenticated = !state.acl.default_needs_auth();
    client.batch_clock.enabled = true;
    let mut shutdown = state.shutdown.subscribe();
    let mut decoder = RequestDecoder::new();
    // Requests of the batch decoded ahead, their keys prefetched (see lookahead.rs).
    let mut lookahead = super::lookahead::Lookahead::default();
    let mut input = BytesMut::with_capacity(READ_CHUNK_BYTES);
    let mut output = BytesMut::with_capacity(READ_CHUNK_BYTES);
    let mut reported_buffers = (0usize, 0usize, 0usize, 0usize, 0usize);
    // Frames other connections push here (Pub/Sub messages, MONITOR lines), and how many of
    // the bytes in `output` came from it (released from its limit once written).
    let outbox = client.pubsub.outbox.clone();
    let mut pushed = 0usize;
    // Since when the replies waiting here have exceeded the normal class's soft limit.
    let over_soft_since_ms = std::sync::atomic::AtomicU64::new(0);
    // Counts input reaching the socket before this task runs (see InputWatch).
    let input_waker = InputWaker::new(info.clone());

    // What the read waits on beside the socket, armed once and kept from one read to the
    // next: a waiter registered anew for each read, and unlinked when the read won, cost two
    // locked list updates per signal per request. `ClientInfo::kill` wakes every waiter of
    // `kill_notify`, so the writes' own waiters below still see a kill while this one is armed.
    let mut shutdown_signal = state.shutdown.subscribe();
    let shut = shutdown_signal.changed();
    tokio::pin!(shut);
    let killed = info.kill_notify.notified();
    tokio::pin!(killed);
    let pushed_frames = outbox.ready();
    tokio::pin!(pushed_frames);

    'conn: loop {
        if input.capacity() - input.len() < READ_CHUNK_BYTES / 2 {
            let wanted = decoder
                .bytes_wanted()
                .unwrap_or(0)
                .saturating_sub(input.len());
            input.reserve(wanted.clamp(READ_CHUNK_BYTES, READ_AHEAD_BYTES_MAX));
        }
        let timeout_secs = state.config.hot.timeout_secs.load(Ordering::Relaxed);
        let idle = async {
            // Like Redis, subscribers are never closed for idling.
            if timeout_secs == 0 || client.pubsub.is_subscribed() {
                std::future::pending::<()>().await
            } else {
                tokio::time::sleep(Duration::from_secs(timeout_secs)).await
            }
        };
        let read = {
            let reading = stream.read_buf(&mut input);
            tokio::pin!(reading);
            tokio::select! {
                biased;
                read = InputWatch::new(&input_waker, reading.as_mut()) => Some(read),
                _ = &mut pushed_frames => None,
                _ = &mut killed => break 'conn,
                _ = &mut shut => break 'conn,
                _ = idle => break 'conn,
            }
        };
        let Some(read) = read else {
            pushed_frames.set(outbox.ready());
            // Only pushed frames to write; a kill (output buffer limit) interrupts a stuck write.
            let n = outbox.drain_into(&mut output);
            if n > 0 {
                let written = tokio::select! {
                    written = write_flush(&mut stream, &output) => written.is_ok(),
                    _ = info.kill_notify.notified() => false,
                };
                if !written || info.is_killed() {
                    break;
                }
                ServerStats::add(&state.stats.net_output_bytes, output.len() as u64);
                outbox.written(n);
                output.clear();
            }
            continue;
        };
        match read {
            Ok(0) | Err(_) => break,
            Ok(n) => ServerStats::add(&state.stats.net_input_bytes, n as u64),
        }
        if info.is_killed() {
            break;
        }
        // One clock read: the interaction time and the start of the batch's first command.
        let now_us = state.clock.now_us();
        info.last_interaction_ms
            .store(now_us / 1000, Ordering::Relaxed);
        client.batch_clock.seed(now_us);
        client.query_batch = (input.len(), input.capacity());
        let mut close = false;
        loop {
            let limits = Limits {
                bulk_bytes_max: state.config.hot.proto_max_bulk_len.load(Ordering::Relaxed),
                authenticated: client.authenticated || !state.acl.default_needs_auth(),
            };
            let (decoded, known) =
                lookahead.next(state, client.db, &mut decoder, &mut input, limits);
            match decoded {
                Ok(Some(Request::Command(argv))) => {
                    if state.pubsub.has_subscriptions() && client.multi.is_none() {
                        client.batch_clock.forget();
                        settle_before_publish(state, &client, &argv).await;
                    }
                    // Frames pushed before this command go out before its reply.
                    pushed += outbox.drain_into(&mut output);
                    let mut reply =
                        dispatch::execute_found_async(state, &mut client, &argv, known).await;
                    if client.migrate.is_some() {
                        client.batch_clock.forget();
                        // MIGRATE's network step, with no lock held (commands/generic/migrate.rs).
                        if let Some(done) =
                            crate::commands::generic::migrate::complete(state, &mut client, &argv)
                                .await
                        {
                            reply = done;
                        }
                    }
                    if let Some(handoff) = client.repl.handoff.take() {
                        client.batch_clock = Default::default();
                        // PSYNC / SYNC: earlier replies go out, then the connection is a
                        // replica link until it ends (net/replica.rs).
                        if client.aof_wait > 0 {
                            state
                                .aof
                                .wait_acked(std::mem::take(&mut client.aof_wait))
                                .await;
                        }
                        if output.is_empty() || write_flush(&mut stream, &output).await.is_ok() {
                            output.clear();
                            super::replica::serve(
                                state,
                                &mut stream,
                                &mut input,
                                &mut client,
                                handoff,
                            )
                            .await;
                        }
                        break 'conn;
                    }
                    if let Some(request) = client.blocking.request.take() {
                        client.batch_clock.forget();
                        if client.aof_wait > 0 {
                            // The replies flushed before blocking include earlier writes.
                            state
                                .aof
                                .wait_acked(std::mem::take(&mut client.aof_wait))
                                .await;
                        }
                        let mut io = BlockedIo {
                            stream: &mut stream,
                            input: &mut input,
                            output: &mut output,
                            shutdown: &mut shutdown,
                        };
                        pushed = io.flush(state, &outbox, pushed).await;
                        let served = wait_blocked(state, &mut client, request, argv, &mut io).await;
                        // Served (maybe by another connection) at some earlier instant.
                        client.batch_clock.forget();
                        match served {
                            Some(served) => reply = served,
                            None => {
                                close = true;
                                break;
                            }
                        }
                    }
                    // Clients blocked on keys this command wrote are served before the next
                    // command runs, as Redis does after each call. While another client holds
                    // the exclusive section they stay ready: that client serves them after it.
                    if state.blocking.has_ready() {
                        if let Some(_section) = state.gate.try_shared() {
                            state.blocking.serve_ready(state);
                        }
                    }
                    if !std::mem::take(&mut client.pubsub.hold_pushes) {
                        // Messages the command itself raised (PUBLISH to a channel this client
                        // listens to, keyspace events) precede its reply, as in Redis.
                        pushed += outbox.drain_into(&mut output);
                    }
                    let frames = std::mem::take(&mut client.pubsub.frames_before_reply);
                    // Push frames (subscribe confirmations) are not replies: CLIENT REPLY
                    // OFF / SKIP silence only the rest, as Redis's CLIENT_PUSHING.
                    for frame in frames {
                        frame.encode(client.protocol, &mut output);
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
                        reply.encode(client.protocol, &mut output)
                    }
                    if !client.pubsub.is_subscribed() {
                        if let Some(limit) = crate::engine::maxmemory::output_limit_reached(
                            state,
                            output.len(),
                            &over_soft_since_ms,
                        ) {
                            tracing::warn!(
                                "Client id={} addr={addr} closed for overcoming of output buffer limits ({limit} limit of the normal class).",
                                client.id
                            );
                            crate::stats::ServerStats::add(
                                &state.stats.output_buffer_limit_disconnections,
                                1,
                            );
                            close = true;
                            break;
                        }
                    }
                    if output.len() >= OUTPUT_FLUSH_BYTES
                        && crate::engine::maxmemory::replies_unlimited(state)
                    {
                        // Write before the next request: a pipelined flood of big replies
                        // is not held in one buffer that doubles as it grows.
                        client.batch_clock.forget();
                        if client.aof_wait > 0 {
                            state
                                .aof
                                .wait_acked(std::mem::take(&mut client.aof_wait))
                                .await;
                        }
                        let written = tokio::select! {
                            written = write_flush(&mut stream, &output) => written.is_ok(),
                            _ = info.kill_notify.notified() => false,
                        };
                        if !written {
                            close = true;
                            break;
                        }
                        ServerStats::add(&state.stats.net_output_bytes, output.len() as u64);
                        outbox.written(std::mem::take(&mut pushed));
                        output.clear();
                    }
                    if client.close_after_reply || info.is_killed() {
                        close = true;
                        break;
                    }
                }
                Ok(Some(Request::Empty)) => {}
                Ok(None) => break,
                Err(err) => {
                    output.extend_from_slice(b"-ERR ");
                    output.extend_from_slice(err.0.as_bytes());
                    output.extend_from_slice(b"\r\n");
                    state.stats.record_error(b"ERR");
                    tracing::debug!(
                        "Protocol error ({}) from client: id={} addr={addr}",
                        err.0,
                        client.id
                    );
                    close = true;
                    break;
                }
            }
        }
        client.batch_clock.forget();
        let query_limit = state
            .config
            .hot
            .client_query_buffer_limit
            .load(Ordering::Relaxed) as usize;
        if input.len() > query_limit {
            tracing::warn!(
                "Closing client that reached max query buffer length: id={} addr={addr}",
                client.id
            );
            crate::stats::ServerStats::add(&state.stats.query_buffer_limit_disconnections, 1);
            break;
        }
        // Published for CLIENT LIST before the replies go out, only when they change: the
        // unparsed part of the query buffer and its free room, the arguments of a request
        // partly arrived, and output a write this big may leave pending (smaller writes go out
        // at once; Redis too has written them when another client looks).
        let (parsed, argv_mem, argc) = decoder.parsed();
        let pending_output = if output.len() >= READ_CHUNK_BYTES {
            output.len()
        } else {
            0
        };
        let buffers = (
            input.len() - parsed,
            input.capacity() - input.len(),
            argv_mem,
            argc,
            pending_output,
        );
        // The free room moves with every request consumed: republished per KiB, not per batch.
        let coarse = |b: (usize, usize, usize, usize, usize)| (b.0, b.1 / 1024, b.2, b.3, b.4);
        if coarse(buffers) != coarse(reported_buffers) {
            reported_buffers = buffers;
            let mut details = info.details.lock();
            details.query_buf = buffers.0;
            details.query_buf_free = buffers.1;
            details.argv_mem = buffers.2;
            details.argc = buffers.3;
            details.output_buf = buffers.4;
        }
        if client.aof_wait > 0 {
            // Replies of writes go out once the log holds them (fsynced, with `always`).
            state
                .aof
                .wait_acked(std::mem::take(&mut client.aof_wait))
                .await;
        }
        if !output.is_empty() {
            let written = tokio::select! {
                written = write_flush(&mut stream, &output) => written.is_ok(),
                _ = info.kill_notify.notified() => false,
            };
            if !written {
                break;
            }
            ServerStats::add(&state.stats.net_output_bytes, output.len() as u64);
            outbox.written(std::mem::take(&mut pushed));
            output.clear();
            if reported_buffers.4 > 0 {
                reported_buffers.4 = 0;
                info.details.lock().output_buf = 0;
            }
            if output.capacity() > IDLE_BUFFER_BYTES_MAX {
                output = BytesMut::with_capacity(READ_CHUNK_BYTES);
            }
        }
        if input.is_empty() && input.capacity() > IDLE_BUFFER_BYTES_MAX && !decoder.in_progress() {
            input = BytesMut::with_capacity(READ_CHUNK_BYTES);
        }
        if close {
            break;
        }
    }
    // Never waits for a script: watches are left for the exclusive holder if need be.
    crate::engine::context::reset_client(state, &mut client);
    // Gone from CLIENT LIST and CLIENT KILL before the peer sees its socket close, as in
    // Redis, where freeClient unlinks the client before closing its connection.
    state.clients.unregister(client.id);
    let _ = stream.shutdown().await;
}

/// Writes `bytes` and flushes: a no-op for plain sockets, the records still held for TLS.
pub(super) async fn write_flush<S: super::listener::Connection>(
    stream: &mut S,
    bytes: &[u8],
) -> std::io::Result<()> {
    stream.write_all(bytes).await?;
    stream.flush().await
}

/// A command that routes Pub/Sub messages (PUBLISH, SPUBLISH) first lets its receivers finish
/// the input they already have, so their subscription changes that reached the server before
/// it take effect first (docs/pubsub.md, "Ordering").
async fn settle_before_publish(state: &ServerState, client: &ClientState, argv: &[Bytes]) {
    let Ok(found) = dispatch::resolve(state, argv) else {
        return;
    };
    if found.spec.has(flags::ROUTES_MESSAGES) {
        state.pubsub.settle_subscribers(&client.info).await;
    }
}
