//! Plain TCP RESP connections served on epoll threads (`event-loop epoll`): each request that
//! can run at once is read, run and answered in the loop, with no task, waker or future per
//! request. A connection that must wait (a pause, a busy script or transaction, a blocking
//! command, Pub/Sub, an AOF fsync, a partial write, frames pushed to it) moves to the tokio
//! loop of client.rs with everything it holds, and stays there.

use super::buffers::Published;
use super::client::{Ends, Handed, Resume};
use crate::engine::{dispatch, flags, registry::Known};
use crate::protocol::{Limits, Request};
use crate::state::ServerState;
use crate::stats::ServerStats;
use bytes::{Buf, Bytes};
use mio::{Events, Interest, Poll, Token};
use std::future::Future;
use std::io::{Read, Write};
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll as TaskPoll, Wake, Waker};
use std::time::Duration;

const WAKER: Token = Token(usize::MAX);
/// How often idle connections are checked against `timeout` while it is set.
const IDLE_SWEEP: Duration = Duration::from_secs(1);

/// The epoll threads, one per worker; connections are spread over them in turn.
pub struct EventLoops {
    loops: Vec<Arc<Shared>>,
    next: AtomicUsize,
}

/// What other threads hand one loop: new connections, and connections whose signals fired.
struct Shared {
    incoming: parking_lot::Mutex<Vec<Incoming>>,
    attention: parking_lot::Mutex<Vec<usize>>,
    waker: mio::Waker,
}

struct Incoming {
    stream: std::net::TcpStream,
    ends: Ends,
    slot: Slot,
}

/// What holds a connection's maxclients slot (the listener's), given back when dropped: it
/// travels with the connection, to tokio too when it moves.
pub type Slot = Box<dyn Send>;

/// What ends a connection's wait beside its socket.
enum Signal {
    /// Killed, or the server shuts down.
    Gone,
    /// Frames were pushed to it (tracking invalidations, messages): it moves to tokio.
    Pushed,
}

struct Conn {
    stream: mio::net::TcpStream,
    handed: Handed,
    slot: Slot,
    buffers: Published,
    over_soft_since_ms: AtomicU64,
    /// Kill, shutdown and pushed frames, polled with `waker` (which queues this connection's
    /// token for the loop) once when the connection arrives and again when it fires.
    signals: Pin<Box<dyn Future<Output = Signal> + Send>>,
    waker: Waker,
}

/// How a connection goes on after the loop served it.
enum Next {
    Wait,
    Close,
    Move(Resume),
}

impl EventLoops {
    /// Starts `threads` loops, each entered in `runtime` (commands may spawn tasks).
    pub fn start(
        state: &Arc<ServerState>,
        threads: usize,
        runtime: tokio::runtime::Handle,
    ) -> std::io::Result<EventLoops> {
        let mut loops = Vec::new();
        for i in 0..threads.max(1) {
            let poll = Poll::new()?;
            let shared = Arc::new(Shared {
                incoming: Default::default(),
                attention: Default::default(),
                waker: mio::Waker::new(poll.registry(), WAKER)?,
            });
            let (state, mine, runtime) = (state.clone(), shared.clone(), runtime.clone());
            std::thread::Builder::new()
                .name(format!("event-loop-{i}"))
                .spawn(move || {
                    let _entered = runtime.enter();
                    // Marked as a connection task: nothing here may wait for a shard outside
                    // a gate section (keyspace/lock_rules.rs).
                    crate::keyspace::lock_rules::as_async_task(|| {
                        run(&state, &mine, poll, &runtime)
                    })
                })?;
            loops.push(shared);
        }
        Ok(EventLoops {
            loops,
            next: AtomicUsize::new(0),
        })
    }

    /// Gives an accepted, admitted connection to the next loop.
    pub fn hand(&self, stream: std::net::TcpStream, ends: Ends, slot: Slot) {
        let i = self.next.fetch_add(1, Ordering::Relaxed) % self.loops.len();
        let shared = &self.loops[i];
        shared.incoming.lock().push(Incoming { stream, ends, slot });
        let _ = shared.waker.wake();
    }
}

/// Queues a connection's token for its loop when one of its signals fires.
struct ConnWaker {
    token: usize,
    shared: Arc<Shared>,
}

impl Wake for ConnWaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.shared.attention.lock().push(self.token);
        let _ = self.shared.waker.wake();
    }
}

fn run(
    state: &Arc<ServerState>,
    shared: &Arc<Shared>,
    mut poll: Poll,
    rt: &tokio::runtime::Handle,
) {
    let mut conns: Vec<Option<Conn>> = Vec::new();
    let mut events = Events::with_capacity(1024);
    let mut last_sweep_ms = state.clock.now_ms();
    loop {
        let timeout_secs = state.config.hot.timeout_secs.load(Ordering::Relaxed);
        let sweep = (timeout_secs > 0).then_some(IDLE_SWEEP);
        if let Err(e) = poll.poll(&mut events, sweep) {
            if e.kind() != std::io::ErrorKind::Interrupted {
                tracing::warn!("event loop poll failed: {e}");
            }
            continue;
        }
        for event in events.iter() {
            if event.token() == WAKER {
                let incoming = std::mem::take(&mut *shared.incoming.lock());
                for new in incoming {
                    if let Some((token, next)) = accept(state, shared, &poll, &mut conns, new) {
                        // A kill or shutdown in the instant of the accept: its signal is spent,
                        // so it is acted on now, never polled again.
                        settle(state, &poll, &mut conns, token, next, rt);
                    }
                }
                let fired = std::mem::take(&mut *shared.attention.lock());
                for token in fired {
                    let next = match conns.get_mut(token).and_then(Option::as_mut) {
                        Some(conn) => match poll_signals(conn) {
                            Some(Signal::Gone) => Next::Close,
                            Some(Signal::Pushed) => Next::Move(Resume::Batch),
                            None => Next::Wait,
                        },
                        None => Next::Wait,
                    };
                    settle(state, &poll, &mut conns, token, next, rt);
                }
                continue;
            }
            let token = event.token().0;
            let Some(conn) = conns.get_mut(token).and_then(Option::as_mut) else {
                continue;
            };
            let next = serve(state, conn);
            settle(state, &poll, &mut conns, token, next, rt);
        }
        // At most once per IDLE_SWEEP, not on every wake-up: the sweep visits every connection.
        let now_ms = if timeout_secs > 0 {
            state.clock.now_ms()
        } else {
            0
        };
        if timeout_secs > 0 && now_ms.saturating_sub(last_sweep_ms) >= IDLE_SWEEP.as_millis() as u64
        {
            last_sweep_ms = now_ms;
            for token in 0..conns.len() {
                let idle = conns[token].as_ref().is_some_and(|conn| {
                    let last = conn.handed.info.last_interaction_ms.load(Ordering::Relaxed);
                    now_ms.saturating_sub(last) / 1000 > timeout_secs
                });
                if idle {
                    settle(state, &poll, &mut conns, token, Next::Close, rt);
                }
            }
        }
    }
}

fn accept(
    state: &ServerState,
    shared: &Arc<Shared>,
    poll: &Poll,
    conns: &mut Vec<Option<Conn>>,
    new: Incoming,
) -> Option<(usize, Next)> {
    if new.stream.set_nonblocking(true).is_err() {
        return None;
    }
    let mut stream = mio::net::TcpStream::from_std(new.stream);
    let token = match conns.iter().position(Option::is_none) {
        Some(token) => token,
        None => {
            conns.push(None);
            conns.len() - 1
        }
    };
    if poll
        .registry()
        .register(&mut stream, Token(token), Interest::READABLE)
        .is_err()
    {
        return None;
    }
    let handed = Handed::register(state, new.ends);
    let info = handed.info.clone();
    let outbox = handed.client.pubsub.outbox.clone();
    let mut shutdown = state.shutdown.subscribe();
    let signals = Box::pin(async move {
        tokio::select! {
            biased;
            _ = info.kill_notify.notified() => Signal::Gone,
            _ = shutdown.changed() => Signal::Gone,
            _ = outbox.ready() => Signal::Pushed,
        }
    });
    let waker = Waker::from(Arc::new(ConnWaker {
        token,
        shared: shared.clone(),
    }));
    let mut conn = Conn {
        stream,
        handed,
        slot: new.slot,
        buffers: Default::default(),
        over_soft_since_ms: AtomicU64::new(0),
        signals,
        waker,
    };
    // Armed now: a kill or a push from here on wakes the loop for this connection.
    let next = match poll_signals(&mut conn) {
        Some(Signal::Gone) => Next::Close,
        Some(Signal::Pushed) => Next::Move(Resume::Batch),
        None => Next::Wait,
    };
    conns[token] = Some(conn);
    Some((token, next))
}

fn poll_signals(conn: &mut Conn) -> Option<Signal> {
    let mut cx = Context::from_waker(&conn.waker);
    match conn.signals.as_mut().poll(&mut cx) {
        TaskPoll::Ready(signal) => Some(signal),
        TaskPoll::Pending => None,
    }
}

/// Carries out `next` for the connection at `token`: nothing, a close, or a move to tokio.
fn settle(
    state: &Arc<ServerState>,
    poll: &Poll,
    conns: &mut [Option<Conn>],
    token: usize,
    next: Next,
    rt: &tokio::runtime::Handle,
) {
    let resume = match next {
        Next::Wait => return,
        Next::Close => None,
        Next::Move(resume) => Some(resume),
    };
    let Some(mut conn) = conns.get_mut(token).and_then(Option::take) else {
        return;
    };
    let _ = poll.registry().deregister(&mut conn.stream);
    let Some(resume) = resume else {
        close(state, conn);
        return;
    };
    let std_stream = {
        use std::os::fd::{FromRawFd, IntoRawFd};
        let fd = conn.stream.into_raw_fd();
        // SAFETY: the descriptor was just released by the mio stream, which owned it.
        unsafe { std::net::TcpStream::from_raw_fd(fd) }
    };
    let (state, handed, slot) = (state.clone(), conn.handed, conn.slot);
    rt.spawn(async move {
        let _slot = slot;
        match tokio::net::TcpStream::from_std(std_stream) {
            Ok(stream) => super::client::resume(&state, stream, handed, resume).await,
            Err(_) => {
                let mut client = handed.client;
                crate::engine::context::reset_client(&state, &mut client);
                state.clients.unregister(client.id);
            }
        }
    });
}

/// Unlinks the client, then closes its socket (as client.rs's `close`).
fn close(state: &ServerState, mut conn: Conn) {
    crate::engine::context::reset_client(state, &mut conn.handed.client);
    state.clients.unregister(conn.handed.client.id);
    let _ = conn.stream.shutdown(std::net::Shutdown::Write);
}

/// Reads what the socket holds, runs it and writes the replies.
fn serve(state: &ServerState, conn: &mut Conn) -> Next {
    let mut eof = false;
    let mut read_any = false;
    loop {
        let h = &mut conn.handed;
        super::client::reserve_input(&h.decoder, &mut h.input);
        let room = h.input.capacity() - h.input.len();
        let spare = h.input.spare_capacity_mut();
        // SAFETY: `read` only writes into the buffer and reports how much it wrote.
        let buf = unsafe { std::slice::from_raw_parts_mut(spare.as_mut_ptr().cast::<u8>(), room) };
        match conn.stream.read(buf) {
            Ok(0) => {
                eof = true;
                break;
            }
            Ok(n) => {
                // SAFETY: the read initialised these n bytes.
                unsafe { h.input.set_len(h.input.len() + n) };
                ServerStats::add(&state.stats.net_input_bytes, n as u64);
                read_any = true;
                if n < room {
                    break;
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(_) => return Next::Close,
        }
    }
    // As the tokio loop: a peer that closed is closed without running what it sent last.
    if eof || conn.handed.info.is_killed() {
        return Next::Close;
    }
    if !read_any {
        return Next::Wait;
    }
    let step = run_batch(state, conn);
    if let Next::Move(resume) = step {
        return Next::Move(resume);
    }
    if super::client::over_query_limit(state, &conn.handed.client, &conn.handed.input) {
        return Next::Close;
    }
    let h = &conn.handed;
    conn.buffers
        .publish(&h.info, &h.decoder, &h.input, &h.output);
    if conn.handed.client.aof_wait > 0 {
        if !state.aof.is_acked(conn.handed.client.aof_wait) {
            // The replies wait for the log: the tokio loop waits, then writes them.
            return Next::Move(Resume::Batch);
        }
        conn.handed.client.aof_wait = 0;
    }
    if !conn.handed.output.is_empty() {
        match write_output(state, conn) {
            Some(true) => {}
            Some(false) => return Next::Move(Resume::Batch),
            None => return Next::Close,
        }
        conn.buffers.output_written(&conn.handed.info);
        super::client::release_idle_output(&mut conn.handed.output);
    }
    super::client::release_idle_input(&conn.handed.decoder, &mut conn.handed.input);
    step
}

/// Writes the replies held: `Some(true)` when all went, `Some(false)` when the socket took only
/// part (the rest stays for the tokio loop), `None` when the write failed.
fn write_output(state: &ServerState, conn: &mut Conn) -> Option<bool> {
    let h = &mut conn.handed;
    while !h.output.is_empty() {
        match conn.stream.write(&h.output) {
            Ok(0) => return None,
            Ok(n) => {
                ServerStats::add(&state.stats.net_output_bytes, n as u64);
                h.output.advance(n);
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return Some(false),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(_) => return None,
        }
    }
    h.client
        .pubsub
        .outbox
        .written(std::mem::take(&mut h.pushed));
    h.output.clear();
    Some(true)
}

/// Whether the loop runs a request itself: everything but what may wait or run long (blocking
/// commands, WAIT and WAITAOF, scripts, transactions' EXEC, Pub/Sub, admin commands), as the
/// table declares it.
fn runs_here(state: &ServerState, argv: &[Bytes], known: Option<Known>) -> bool {
    let spec = match known {
        Some(known) => known.found.spec,
        None => match state.registry.resolve(argv) {
            Ok(found) => found.spec,
            // Answered with an error, which needs no wait.
            Err(_) => return true,
        },
    };
    !spec.has(
        flags::BLOCKING
            | flags::ADMIN
            | flags::PUBSUB
            | flags::RUNS_SCRIPT
            | flags::RUNS_QUEUED
            | flags::ROUTES_MESSAGES
            | flags::CHANGES_LISTENING
            | flags::ALL_SHARDS
            | flags::AWAITS_ACKS,
    )
}

/// Runs every complete request in the input, as client.rs's `run_batch` and `run_request`.
fn run_batch(state: &ServerState, conn: &mut Conn) -> Next {
    {
        let h = &mut conn.handed;
        let now_us = state.clock.now_us();
        h.info
            .last_interaction_ms
            .store(now_us / 1000, Ordering::Relaxed);
        h.client.batch_clock.seed(now_us);
        h.client.query_batch = (h.input.len(), h.input.capacity());
    }
    let next = loop {
        match run_one(state, conn) {
            Some(Next::Wait) => {}
            Some(next) => break next,
            None => break Next::Wait,
        }
        if super::client::output_is_large(state, conn.handed.output.len()) {
            // Written before the next request, as the tokio loop does; moved there if the
            // socket does not take it all now.
            conn.handed.client.batch_clock.forget();
            match write_output(state, conn) {
                Some(true) => {}
                Some(false) => break Next::Move(Resume::Batch),
                None => break Next::Close,
            }
        }
    };
    let h = &mut conn.handed;
    if !matches!(next, Next::Move(Resume::Finish(..))) {
        h.client.batch_clock.forget();
    }
    h.client.tally.flush(&state.stats.commands_processed);
    next
}

/// Runs the next request of the input: `None` once it needs more input, `Some(Wait)` to go on.
fn run_one(state: &ServerState, conn: &mut Conn) -> Option<Next> {
    let h = &mut conn.handed;
    let limits = Limits {
        bulk_bytes_max: state.config.hot.proto_max_bulk_len.load(Ordering::Relaxed),
        authenticated: h.client.authenticated || !state.acl.default_needs_auth(),
    };
    let (decoded, known) =
        h.lookahead
            .next(state, h.client.db, &mut h.decoder, &mut h.input, limits);
    let argv = match decoded {
        Ok(Some(Request::Command(argv))) => argv,
        Ok(Some(Request::Empty)) => return Some(Next::Wait),
        Ok(None) => return None,
        Err(err) => {
            super::client::protocol_error(state, &h.client, &mut h.output, &err);
            return Some(Next::Close);
        }
    };
    if !runs_here(state, &argv, known) {
        h.lookahead
            .push_front((Ok(Some(Request::Command(argv))), known));
        return Some(Next::Move(Resume::Batch));
    }
    // Frames pushed before this command go out before its reply.
    h.pushed += h.client.pubsub.outbox.drain_into(&mut h.output);
    let Some(reply) = dispatch::run_now(state, &mut h.client, &argv, known) else {
        // It must wait (a pause, a script, a held shard): nothing ran.
        h.lookahead
            .push_front((Ok(Some(Request::Command(argv))), known));
        return Some(Next::Move(Resume::Batch));
    };
    if h.client.migrate.is_some()
        || h.client.repl.handoff.is_some()
        || h.client.blocking.request.is_some()
    {
        return Some(Next::Move(Resume::Finish(argv, reply)));
    }
    h.decoder.recycle(argv);
    super::client::serve_ready_blocked(state);
    super::client::encode_reply(&mut h.client, &mut h.output, &mut h.pushed, reply);
    let held = h.output.len();
    if super::client::over_output_limit(state, &h.client, &h.info, held, &conn.over_soft_since_ms) {
        return Some(Next::Close);
    }
    if h.client.close_after_reply || h.info.is_killed() {
        return Some(Next::Close);
    }
    Some(Next::Wait)
}
