//! Accept loop: binds the configured addresses, enforces maxclients, spawns one task per
//! connection.

use super::client;
use crate::error::ServerError;
use crate::state::ServerState;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};

/// Live connection count, for maxclients.
static CONNECTED: AtomicUsize = AtomicUsize::new(0);

pub fn connected_clients() -> usize {
    CONNECTED.load(Ordering::Relaxed)
}

/// Binds every address of the `bind` option on `port`. Addresses prefixed with `-` are optional:
/// failing to bind them is not an error.
pub async fn bind_all(bind: &str, port: u16) -> Result<Vec<TcpListener>, ServerError> {
    let mut listeners = Vec::new();
    for word in bind.split_whitespace() {
        let (optional, addr) = match word.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, word),
        };
        let ip = match addr {
            "*" => "0.0.0.0",
            "::*" => "::",
            other => other,
        };
        let sock: SocketAddr = match format!("{ip}:{port}")
            .parse()
            .or_else(|_| format!("[{ip}]:{port}").parse())
        {
            Ok(sock) => sock,
            Err(_) => {
                return Err(ServerError::Config(format!(
                    "Invalid bind address '{addr}'"
                )))
            }
        };
        match bind_one(sock).await {
            Ok(l) => listeners.push(l),
            Err(e) if optional || (ip == "::" && !listeners.is_empty()) => {
                tracing::debug!("skipping optional bind address {sock}: {e}");
            }
            Err(e) => {
                return Err(ServerError::Config(format!(
                    "Warning: Could not create server TCP listening socket {sock}: {e}"
                )));
            }
        }
    }
    Ok(listeners)
}

async fn bind_one(sock: SocketAddr) -> std::io::Result<TcpListener> {
    let socket = if sock.is_ipv4() {
        tokio::net::TcpSocket::new_v4()?
    } else {
        tokio::net::TcpSocket::new_v6()?
    };
    socket.set_reuseaddr(true)?;
    if sock.is_ipv6() {
        // Let `::` and `0.0.0.0` coexist, as Redis does with IPV6_V6ONLY.
        socket2::SockRef::from(&socket).set_only_v6(true)?;
    }
    socket.bind(sock)?;
    socket.listen(511)
}

/// Accepts connections on `listener` until the server shuts down.
pub async fn accept_loop(state: Arc<ServerState>, listener: TcpListener) {
    let mut shutdown = state.shutdown.subscribe();
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = shutdown.changed() => return,
        };
        let (stream, addr) = match accepted {
            Ok(pair) => pair,
            Err(e) => {
                tracing::warn!("Accepting client connection: {e}");
                tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                continue;
            }
        };
        let state = state.clone();
        tokio::spawn(async move { serve(state, stream, addr).await });
    }
}

async fn serve(state: Arc<ServerState>, mut stream: TcpStream, addr: SocketAddr) {
    crate::stats::ServerStats::add(&state.stats.connections_received, 1);
    let maxclients = state.config.hot.maxclients.load(Ordering::Relaxed) as usize;
    if CONNECTED.fetch_add(1, Ordering::Relaxed) >= maxclients {
        CONNECTED.fetch_sub(1, Ordering::Relaxed);
        crate::stats::ServerStats::add(&state.stats.rejected_connections, 1);
        let _ = stream
            .write_all(b"-ERR max number of clients reached\r\n")
            .await;
        return;
    }
    let _ = stream.set_nodelay(true);
    let keepalive = state.config.get_i64("tcp-keepalive");
    if keepalive > 0 {
        let ka = socket2::TcpKeepalive::new()
            .with_time(std::time::Duration::from_secs(keepalive as u64));
        let _ = socket2::SockRef::from(&stream).set_tcp_keepalive(&ka);
    }
    client::run(&state, stream, addr).await;
    CONNECTED.fetch_sub(1, Ordering::Relaxed);
}
