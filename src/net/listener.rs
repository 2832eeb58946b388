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

/// Counts a new connection against maxclients; false (and not counted) when the server is
/// full. Every connection admitted is released with `release` when it ends.
pub(super) fn admit(state: &ServerState) -> bool {
    let maxclients = state.config.hot.maxclients.load(Ordering::Relaxed) as usize;
    if CONNECTED.fetch_add(1, Ordering::Relaxed) >= maxclients {
        CONNECTED.fetch_sub(1, Ordering::Relaxed);
        crate::stats::ServerStats::add(&state.stats.rejected_connections, 1);
        return false;
    }
    true
}

pub(super) fn release() {
    CONNECTED.fetch_sub(1, Ordering::Relaxed);
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

/// Redis's reply to a non-local client while protected mode is on and no password is set.
const PROTECTED_MODE_DENIED: &[u8] = b"-DENIED Redis is running in protected mode because protected mode is enabled and no password is set for the default user. In this mode connections are only accepted from the loopback interface. If you want to connect from external computers to Redis you may adopt one of the following solutions: 1) Just disable protected mode sending the command 'CONFIG SET protected-mode no' from the loopback interface by connecting to Redis from the same host the server is running, however MAKE SURE Redis is not publicly accessible from internet if you do so. Use CONFIG REWRITE to make this change permanent. 2) Alternatively you can just disable the protected mode by editing the Redis configuration file, and setting the protected mode option to 'no', and then restarting the server. 3) If you started the server manually just for testing, restart it with the '--protected-mode no' option. 4) Setup a an authentication password for the default user. NOTE: You only need to do one of the above things in order for the server to start accepting connections from the outside.\r\n";

/// Protected mode (on by default, as in Redis): while the default user is `nopass` (even when
/// `off`), only loopback clients (127.0.0.0/8, ::1) may connect.
pub(super) fn refused_by_protected_mode(state: &ServerState, peer: &SocketAddr) -> bool {
    let loopback = match peer.ip() {
        std::net::IpAddr::V4(ip) => ip.is_loopback(),
        std::net::IpAddr::V6(ip) => {
            ip.is_loopback() || ip.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback())
        }
    };
    !loopback && state.acl.default_is_nopass() && state.config.get_bool("protected-mode")
}

async fn serve(state: Arc<ServerState>, mut stream: TcpStream, addr: SocketAddr) {
    crate::stats::ServerStats::add(&state.stats.connections_received, 1);
    if refused_by_protected_mode(&state, &addr) {
        let _ = stream.write_all(PROTECTED_MODE_DENIED).await;
        return;
    }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::Clock;
    use crate::config::Config;

    fn refused(state: &ServerState, peer: &str) -> bool {
        refused_by_protected_mode(state, &peer.parse().expect("socket address"))
    }

    /// Protected mode refuses clients from other addresses only while the default user needs
    /// no password; every loopback form is local, as in Redis.
    #[test]
    fn protected_mode_refuses_non_loopback_peers_without_a_password() {
        let state = ServerState::new(Config::default(), Clock::manual(1_000));
        for local in [
            "127.0.0.1:5000",
            "127.0.0.2:5000",
            "[::1]:5000",
            "[::ffff:127.0.0.1]:5000",
        ] {
            assert!(!refused(&state, local), "{local}");
        }
        for remote in [
            "10.1.2.3:5000",
            "192.168.0.7:5000",
            "[2001:db8::1]:5000",
            "[::ffff:10.0.0.1]:5000",
        ] {
            assert!(refused(&state, remote), "{remote}");
        }
        // A password for the default user lifts it.
        state.acl.apply_requirepass("pw", &state.registry);
        assert!(!refused(&state, "10.1.2.3:5000"));
        state.acl.apply_requirepass("", &state.registry);
        assert!(refused(&state, "10.1.2.3:5000"));
        // A disabled default user that is still nopass keeps it on, as in Redis.
        let env = crate::acl::rule_env(&state);
        let rules = [b"off".to_vec(), b"nopass".to_vec()];
        state
            .acl
            .set_user(b"default", &rules, &env)
            .expect("valid rules");
        assert!(refused(&state, "10.1.2.3:5000"));
        // protected-mode no lifts it too.
        let option = crate::config::find_option("protected-mode").expect("known option");
        state
            .config
            .set(option, &["no".into()])
            .expect("valid value");
        assert!(!refused(&state, "10.1.2.3:5000"));
    }
}
