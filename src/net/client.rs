//! One connection: read -> decode every complete request -> execute -> encode -> one write per
//! batch. Holds no lock across `.await`; commands run synchronously between reads and writes.

use crate::commands::context::ReplyMode;
use crate::commands::{dispatch, ClientState};
use crate::protocol::{Limits, Request, RequestDecoder};
use crate::state::ServerState;
use crate::stats::ServerStats;
use bytes::BytesMut;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Read buffer capacity kept between reads, as Redis's PROTO_IOBUF_LEN.
const READ_CHUNK_BYTES: usize = 16 * 1024;
/// Largest extra capacity reserved at once for a big bulk that is still arriving.
const READ_AHEAD_BYTES_MAX: usize = 1024 * 1024;
/// Buffers above this capacity are released when empty, so idle clients stay small.
const IDLE_BUFFER_BYTES_MAX: usize = 64 * 1024;

pub async fn run(state: &ServerState, mut stream: TcpStream, addr: SocketAddr) {
    let local = stream.local_addr().unwrap_or(addr);
    let fd = {
        use std::os::fd::AsRawFd;
        stream.as_raw_fd() as i64
    };
    let info = state
        .clients
        .register(addr, local, fd, state.clock.now_ms());
    let mut client = ClientState::new(info.clone());
    client.authenticated = !state.config.hot.requirepass_set.load(Ordering::Relaxed);
    let mut shutdown = state.shutdown.subscribe();
    let mut decoder = RequestDecoder::new();
    let mut input = BytesMut::with_capacity(READ_CHUNK_BYTES);
    let mut output = BytesMut::with_capacity(READ_CHUNK_BYTES);

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
            if timeout_secs == 0 {
                std::future::pending::<()>().await
            } else {
                tokio::time::sleep(Duration::from_secs(timeout_secs)).await
            }
        };
        let read = tokio::select! {
            read = stream.read_buf(&mut input) => read,
            _ = info.kill_notify.notified() => break 'conn,
            _ = shutdown.changed() => break 'conn,
            _ = idle => break 'conn,
        };
        match read {
            Ok(0) | Err(_) => break,
            Ok(n) => ServerStats::add(&state.stats.net_input_bytes, n as u64),
        }
        if info.is_killed() {
            break;
        }
        info.last_interaction_ms
            .store(state.clock.now_ms(), Ordering::Relaxed);
        let mut close = false;
        loop {
            let limits = Limits {
                bulk_bytes_max: state.config.hot.proto_max_bulk_len.load(Ordering::Relaxed),
                authenticated: client.authenticated,
            };
            match decoder.decode(&mut input, limits) {
                Ok(Some(Request::Command(argv))) => {
                    let reply = dispatch::execute(state, &mut client, &argv);
                    match client.reply_mode {
                        ReplyMode::On => reply.encode(client.protocol, &mut output),
                        ReplyMode::Off => {}
                        ReplyMode::SkipNext => client.reply_mode = ReplyMode::Skipping,
                        ReplyMode::Skipping => client.reply_mode = ReplyMode::On,
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
            break;
        }
        if !output.is_empty() {
            if stream.write_all(&output).await.is_err() {
                break;
            }
            ServerStats::add(&state.stats.net_output_bytes, output.len() as u64);
            output.clear();
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
    let _ = stream.shutdown().await;
    crate::commands::transactions::reset_client(state, &mut client);
    state.clients.unregister(client.id);
}
