//! The memcached listener (`memcached-port`, off by default): the same `bind` addresses,
//! protected mode and maxclients as the RESP listener; one task per connection reading,
//! parsing every complete request (pipelining), running them and writing once per batch.
//!
//! The memcached text protocol has no authentication, so a connection is served only while
//! the default user needs no password and may run every command on every key, or when
//! `memcached-allow-unauthenticated yes` says memcached clients may bypass the password (they
//! reach database `memcached-db` only); otherwise it gets one `SERVER_ERROR` line and is
//! closed (docs/compatibility.md).
//!
//! With `memcached-tls yes` the listener speaks TLS only, with the server's TLS context (the
//! certificates, CA, `tls-auth-clients` and protocols of `tls-port`, reloaded with them); the
//! connection loop is generic over the stream, so plaintext runs on the bare `TcpStream`.

use super::listener;
use crate::engine::ClientState;
use crate::error::ServerError;
use crate::memcache::count;
use crate::memcache::exec::{self, Flow, Session};
use crate::memcache::parse::{Parser, Request, Step};
use crate::state::ServerState;
use crate::stats::ServerStats;
use bytes::BytesMut;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const READ_CHUNK_BYTES: usize = 16 * 1024;
const READ_AHEAD_BYTES_MAX: usize = 1024 * 1024;
const IDLE_BUFFER_BYTES_MAX: usize = 64 * 1024;
/// Replies past this size are written before the next request of the batch (or the next
/// slice of a multi-key get) runs.
const OUTPUT_FLUSH_BYTES: usize = 256 * 1024;
/// Keys of a multi-key get looked up in one shared section at most (fewer once the replies
/// reach `OUTPUT_FLUSH_BYTES`).
const GET_KEYS_PER_SLICE: usize = 16;

const PROTECTED: &[u8] = b"SERVER_ERROR ferrocache is running in protected mode: memcached connections are only accepted from the loopback interface while the default user has no password\r\n";
const NEEDS_AUTH: &[u8] = b"SERVER_ERROR the memcached protocol has no authentication and the default user requires a password or is restricted by ACL rules (see memcached-allow-unauthenticated)\r\n";

/// Binds `memcached-port` on the `bind` addresses when it is set; returns the bound port.
pub async fn start(
    state: &Arc<ServerState>,
    listeners: &Arc<listener::Listeners>,
) -> Result<Option<u16>, ServerError> {
    let port = state.config.get_i64("memcached-port");
    let tls = state.config.get_bool("memcached-tls");
    if port <= 0 {
        if tls {
            return Err(ServerError::Config(
                "memcached-tls yes needs memcached-port: there is no memcached listener to serve TLS on."
                    .into(),
            ));
        }
        return Ok(None);
    }
    if tls && listeners.tls_context.acceptor().is_none() {
        return Err(ServerError::Config(
            "memcached-tls yes needs the server's TLS context: set tls-cert-file and tls-key-file (and tls-ca-cert-file or tls-ca-cert-dir unless tls-auth-clients is no).".into(),
        ));
    }
    if !tls && state.config.get_i64("port") == 0 && state.config.get_i64("tls-port") != 0 {
        // Not refused: nginx's memcached modules cannot speak TLS, so a TLS-only node may
        // well serve them in plaintext on a loopback or private `bind` on purpose.
        tracing::warn!(
            "WARNING: RESP is served over TLS only (port 0, tls-port {}) but memcached-port {port} is plaintext: memcached clients are neither encrypted nor authenticated. Set memcached-tls yes, or bind to trusted addresses only.",
            state.config.get_i64("tls-port")
        );
    }
    let db = state.config.get_i64("memcached-db");
    if db < 0 || db as usize >= state.keyspace.databases() {
        return Err(ServerError::Config(format!(
            "memcached-db {db} is out of range: the server has {} databases",
            state.keyspace.databases()
        )));
    }
    let bound_listeners = listener::bind_all(
        &state.config.get("bind"),
        port as u16,
        listener::SocketOptions::from_config(&state.config),
    )?;
    let Some(first) = bound_listeners.first() else {
        return Err(ServerError::Config(
            "Failed listening on memcached-port (tcp), aborting.".into(),
        ));
    };
    let bound = first.local_addr()?.port();
    for l in bound_listeners {
        tokio::spawn(accept_loop(state.clone(), listeners.clone(), l));
    }
    Ok(Some(bound))
}

async fn accept_loop(
    state: Arc<ServerState>,
    listeners: Arc<listener::Listeners>,
    listener: TcpListener,
) {
    let mut shutdown = state.shutdown.subscribe();
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = shutdown.changed() => return,
        };
        match accepted {
            Ok((stream, addr)) => {
                let state = state.clone();
                let listeners = listeners.clone();
                tokio::spawn(async move { serve(state, listeners, stream, addr).await });
            }
            Err(e) => {
                tracing::warn!("Accepting memcached connection: {e}");
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
    }
}

/// Whether memcached clients are refused: a password or ACL rule would apply to them and the
/// operator has not allowed unauthenticated memcached access.
fn refused_for_auth(state: &ServerState) -> bool {
    (state.acl.default_needs_auth() || !state.acl.default_user().is_unrestricted())
        && !state.config.get_bool("memcached-allow-unauthenticated")
}

/// The two ends of an accepted connection, read before a TLS handshake takes the socket.
struct Ends {
    addr: SocketAddr,
    local: SocketAddr,
    fd: i64,
}

async fn serve(
    state: Arc<ServerState>,
    listeners: Arc<listener::Listeners>,
    stream: TcpStream,
    addr: SocketAddr,
) {
    ServerStats::add(&state.stats.connections_received, 1);
    let _ = stream.set_nodelay(true);
    let ends = Ends {
        addr,
        local: stream.local_addr().unwrap_or(addr),
        fd: {
            use std::os::fd::AsRawFd;
            stream.as_raw_fd() as i64
        },
    };
    if !state.config.get_bool("memcached-tls") {
        admit(&state, &listeners, stream, ends, None).await;
        return;
    }
    // TLS: the context of the moment (CONFIG SET of tls-* reloads it); the client's slot is
    // taken before the handshake, so handshakes in flight count toward maxclients.
    let Some(acceptor) = listeners.tls_context.acceptor() else {
        return;
    };
    let Some(slot) = listener::reserve(&state, &listeners) else {
        return;
    };
    let handshake =
        tokio::time::timeout(listener::TLS_HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await;
    match handshake {
        Ok(Ok(stream)) => admit(&state, &listeners, stream, ends, Some(slot)).await,
        Ok(Err(e)) => {
            tracing::debug!("Error accepting a memcached TLS connection: {e} (addr={addr})")
        }
        Err(_) => tracing::debug!("memcached TLS handshake timed out (addr={addr})"),
    }
}

/// Protected mode, authentication and maxclients (over TLS, once the handshake is done), then
/// the connection loop.
async fn admit<S: AsyncRead + AsyncWrite + Unpin>(
    state: &ServerState,
    listeners: &listener::Listeners,
    mut stream: S,
    ends: Ends,
    slot: Option<listener::Admitted<'_>>,
) {
    let refusal = if listener::refused_by_protected_mode(state, &ends.addr) {
        Some(PROTECTED)
    } else if refused_for_auth(state) {
        Some(NEEDS_AUTH)
    } else {
        None
    };
    if let Some(line) = refusal {
        let _ = stream.write_all(line).await;
        let _ = stream.shutdown().await;
        return;
    }
    let Some(_slot) = slot.or_else(|| listener::reserve(state, listeners)) else {
        let _ = stream
            .write_all(b"SERVER_ERROR Too many open connections\r\n")
            .await;
        let _ = stream.shutdown().await;
        return;
    };
    count(&state.memcache.counters.curr_connections, 1);
    count(&state.memcache.counters.total_connections, 1);
    super::client::marked(run(state, stream, ends)).await;
    state
        .memcache
        .counters
        .curr_connections
        .fetch_sub(1, Ordering::Relaxed);
}

/// Requests run in the gate's shared sections, so a busy script makes them wait without
/// blocking a worker (see gate.rs); the whole loop is marked as a connection task for the
/// debug check that nothing here waits for a shard outside a section.
async fn run<S: AsyncRead + AsyncWrite + Unpin>(state: &ServerState, mut stream: S, ends: Ends) {
    let info = state
        .clients
        .register(ends.addr, ends.local, ends.fd, state.clock.now_ms());
    info.last_cmd.set(&"memcached");
    let mut client = ClientState::new(info.clone());
    client.user = state.acl.default_user();
    let mut session = Session {
        client,
        db: state.config.get_i64("memcached-db") as usize,
        item_max: state.config.get_i64("memcached-max-item-size") as usize,
    };
    // Made once, not per read: a kill or shutdown after this point wakes them, and a read that
    // finds input at once (polled first) leaves them unpolled, so no waiter is linked into and
    // out of their lists per request.
    let mut shutdown = state.shutdown.subscribe();
    let shut = shutdown.changed();
    tokio::pin!(shut);
    let killed = info.kill_notify.notified();
    tokio::pin!(killed);
    let mut parser = Parser::new();
    let mut input = BytesMut::with_capacity(READ_CHUNK_BYTES);
    let mut output = BytesMut::with_capacity(READ_CHUNK_BYTES);
    'conn: loop {
        if input.capacity() - input.len() < READ_CHUNK_BYTES / 2 {
            let wanted = parser
                .bytes_wanted()
                .unwrap_or(0)
                .saturating_sub(input.len());
            input.reserve(wanted.clamp(READ_CHUNK_BYTES, READ_AHEAD_BYTES_MAX));
        }
        let timeout_secs = state.config.hot.timeout_secs.load(Ordering::Relaxed);
        let idle = async {
            if timeout_secs == 0 {
                std::future::pending::<()>().await
            } else {
                tokio::time::sleep(Duration::from_secs(timeout_secs)).await
            }
        };
        let read = tokio::select! {
            biased;
            read = stream.read_buf(&mut input) => read,
            _ = killed.as_mut() => break 'conn,
            _ = shut.as_mut() => break 'conn,
            _ = idle => break 'conn,
        };
        match read {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                ServerStats::add(&state.stats.net_input_bytes, n as u64);
                count(&state.memcache.counters.bytes_read, n as u64);
            }
        }
        if info.is_killed() || refused_for_auth(state) {
            break;
        }
        info.last_interaction_ms
            .store(state.clock.now_ms(), Ordering::Relaxed);
        let mut close = false;
        loop {
            match parser.next(&mut input, session.item_max) {
                Step::Incomplete => break,
                Step::Close => {
                    close = true;
                    break;
                }
                Step::Request(Request::Get { cas, touch, keys }) => {
                    // A slice of keys at a time, written when the replies grow large.
                    ServerStats::add(&state.stats.commands_processed, 1);
                    if let Some(err) = exec::get_refusal(state, touch) {
                        output.extend_from_slice(err);
                        continue;
                    }
                    let mut rest = &keys[..];
                    while !rest.is_empty() {
                        let slice = &rest[..rest.len().min(GET_KEYS_PER_SLICE)];
                        let answered = {
                            // A shared section per slice, entered without blocking the worker
                            // (a script may hold every shard); never held across a write.
                            let _section = state.gate.shared().await;
                            exec::get_values(
                                state,
                                &mut session,
                                cas,
                                touch,
                                slice,
                                OUTPUT_FLUSH_BYTES,
                                &mut output,
                            )
                        };
                        rest = &rest[answered..];
                        if output.len() >= OUTPUT_FLUSH_BYTES
                            && !flush(state, &mut session, &mut stream, &mut output).await
                        {
                            break 'conn;
                        }
                    }
                    output.extend_from_slice(b"END\r\n");
                }
                Step::Request(request) => {
                    let flow = {
                        let _section = state.gate.shared().await;
                        exec::execute(state, &mut session, request, &mut output)
                    };
                    if flow == Flow::Close {
                        close = true;
                        break;
                    }
                    if output.len() >= OUTPUT_FLUSH_BYTES
                        && !flush(state, &mut session, &mut stream, &mut output).await
                    {
                        break 'conn;
                    }
                }
            }
        }
        if !flush(state, &mut session, &mut stream, &mut output).await {
            break;
        }
        if output.capacity() > IDLE_BUFFER_BYTES_MAX {
            output = BytesMut::with_capacity(READ_CHUNK_BYTES);
        }
        if input.is_empty() && input.capacity() > IDLE_BUFFER_BYTES_MAX {
            input = BytesMut::with_capacity(READ_CHUNK_BYTES);
        }
        if close {
            break;
        }
    }
    let _ = stream.shutdown().await;
    state.clients.unregister(session.client.id);
}

/// Writes the replies gathered so far, once the AOF holds the writes they answer.
async fn flush<S: AsyncWrite + Unpin>(
    state: &ServerState,
    session: &mut Session,
    stream: &mut S,
    output: &mut BytesMut,
) -> bool {
    if session.client.aof_wait > 0 {
        state
            .aof
            .wait_acked(std::mem::take(&mut session.client.aof_wait))
            .await;
    }
    if output.is_empty() {
        return true;
    }
    let info = &session.client.info;
    let written = tokio::select! {
        // The write first: one that completes at once leaves the kill waiter unpolled, never
        // linked into its list. The flush is a no-op on plaintext; over TLS it sends the
        // buffered records.
        biased;
        written = async { stream.write_all(output).await?; stream.flush().await } => written.is_ok(),
        _ = info.kill_notify.notified() => false,
    };
    if written {
        ServerStats::add(&state.stats.net_output_bytes, output.len() as u64);
        count(&state.memcache.counters.bytes_written, output.len() as u64);
        output.clear();
    }
    written
}
