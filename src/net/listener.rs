//! Listeners: the plaintext TCP, TLS and unix-socket accept loops, maxclients, TCP options,
//! and their rebinding when CONFIG SET changes `port`, `bind`, `tls-port` or `socket-mark-id`.
//!
//! Each listening socket sits in a `Slot` that its accept loop polls under a short lock, so a
//! CONFIG SET (a synchronous command) can close it at once and bind the same port again; if the
//! new configuration cannot be bound, the old one is bound again and the whole CONFIG SET fails.

use super::{client, tls};
use crate::clients::{Peer, Transport};
use crate::config::Config;
use crate::error::ServerError;
use crate::state::ServerState;
use parking_lot::Mutex;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use tokio::io::{AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream, UnixListener, UnixStream};
use tokio::sync::Notify;

/// Connections per transport since start, TLS handshakes that failed, and the TLS and unix
/// clients connected now (the metrics endpoint reports them).
#[derive(Debug, Default)]
pub struct TransportStats {
    pub accepted_tcp: AtomicU64,
    pub accepted_tls: AtomicU64,
    pub accepted_unix: AtomicU64,
    pub tls_handshake_failures: AtomicU64,
    pub connected_tls: AtomicU64,
    pub connected_unix: AtomicU64,
}

/// How long a TLS client may take to complete its handshake.
pub(super) const TLS_HANDSHAKE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// Listening-socket options: `tcp-backlog` and `socket-mark-id` (SO_MARK, 0 = none).
#[derive(Clone, Copy, Debug)]
pub struct SocketOptions {
    pub backlog: u32,
    pub mark: u32,
}

impl SocketOptions {
    pub fn from_config(config: &Config) -> SocketOptions {
        SocketOptions {
            backlog: config.get_i64("tcp-backlog").clamp(0, i32::MAX as i64) as u32,
            mark: config.get_i64("socket-mark-id").clamp(0, u32::MAX as i64) as u32,
        }
    }
}

enum Bound {
    Tcp(TcpListener),
    Unix(UnixListener),
}

enum Accepted {
    Tcp(TcpStream, SocketAddr),
    Unix(UnixStream),
}

/// One listening socket and the accept loop's stop signal.
struct Slot {
    bound: Mutex<Option<Bound>>,
    stop: Notify,
}

impl Slot {
    fn new(bound: Bound) -> Arc<Slot> {
        Arc::new(Slot {
            bound: Mutex::new(Some(bound)),
            stop: Notify::new(),
        })
    }

    /// `None` once closed.
    fn poll_accept(&self, cx: &mut Context<'_>) -> Poll<Option<std::io::Result<Accepted>>> {
        match &*self.bound.lock() {
            None => Poll::Ready(None),
            Some(Bound::Tcp(l)) => l
                .poll_accept(cx)
                .map(|r| Some(r.map(|(s, a)| Accepted::Tcp(s, a)))),
            Some(Bound::Unix(l)) => l
                .poll_accept(cx)
                .map(|r| Some(r.map(|(s, _)| Accepted::Unix(s)))),
        }
    }

    /// Closes the socket now (the port is free when this returns) and ends the accept loop.
    fn close(&self) {
        drop(self.bound.lock().take());
        self.stop.notify_one();
    }

    fn port(&self) -> u16 {
        match &*self.bound.lock() {
            Some(Bound::Tcp(l)) => l.local_addr().map(|a| a.port()).unwrap_or(0),
            _ => 0,
        }
    }
}

/// The server's listening sockets and the TLS context new TLS connections use.
#[derive(Default)]
pub struct Listeners {
    tcp: Mutex<Vec<Arc<Slot>>>,
    tls: Mutex<Vec<Arc<Slot>>>,
    unix: Mutex<Option<(Arc<Slot>, String)>>,
    pub tls_context: tls::TlsContext,
    /// Live connections holding a client slot, for maxclients.
    connected: AtomicUsize,
    /// The epoll threads plain TCP connections are served on (`event-loop epoll`).
    event_loops: std::sync::OnceLock<super::event_loop::EventLoops>,
    pub stats: TransportStats,
}

impl Listeners {
    /// The port of the plaintext listener (0 when there is none).
    pub fn tcp_port(&self) -> u16 {
        self.tcp.lock().first().map_or(0, |slot| slot.port())
    }

    pub fn tls_port(&self) -> u16 {
        self.tls.lock().first().map_or(0, |slot| slot.port())
    }

    /// Closes every listening socket; removes the unix socket's file as Redis does on exit.
    pub fn close_all(&self) {
        for slot in self.tcp.lock().drain(..).chain(self.tls.lock().drain(..)) {
            slot.close();
        }
        if let Some((slot, path)) = self.unix.lock().take() {
            slot.close();
            let _ = std::fs::remove_file(path);
        }
    }
}

/// Binds every listener the configuration asks for and starts their accept loops: `port` (0:
/// none), `tls-port` (0: none) on the `bind` addresses, and `unixsocket`. Fails like
/// redis-server: a TLS configuration that does not load, an address that cannot be bound, or
/// nothing to listen on.
pub fn start(state: &Arc<ServerState>, listeners: &Arc<Listeners>) -> Result<(), ServerError> {
    let config = &state.config;
    if config.get("event-loop") == "epoll" && listeners.event_loops.get().is_none() {
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
        let loops =
            super::event_loop::EventLoops::start(state, threads, tokio::runtime::Handle::current())
                .map_err(|e| ServerError::Config(format!("event-loop epoll: {e}")))?;
        let _ = listeners.event_loops.set(loops);
    }
    if tls::wanted(config) {
        let context = tls::build(config).map_err(|reason| {
            // Without tls-port the context is wanted for the memcached listener alone.
            let why = if config.get_i64("tls-port") == 0 {
                "\nmemcached-tls yes needs the server's TLS context: tls-cert-file, tls-key-file and, unless tls-auth-clients is no, tls-ca-cert-file or tls-ca-cert-dir."
            } else {
                ""
            };
            ServerError::Config(format!(
                "{reason}{why}\nFailed to configure TLS. Check logs for more info."
            ))
        })?;
        listeners.tls_context.install(Some(context));
    }
    let options = SocketOptions::from_config(config);
    let bind = config.get("bind");
    let port = config.get_i64("port") as u16;
    let tls_port = config.get_i64("tls-port") as u16;
    let unix_path = config.get("unixsocket");
    if port == 0 && tls_port == 0 && unix_path.is_empty() {
        return Err(ServerError::Config(
            "Configured to not listen anywhere, exiting.".into(),
        ));
    }
    if port != 0 {
        let bound = bind_all(&bind, port, options)?;
        if bound.is_empty() {
            return Err(ServerError::Config(
                "Failed listening on port (tcp), aborting.".into(),
            ));
        }
        *listeners.tcp.lock() = spawn_all(state, listeners, bound, Transport::Tcp);
    }
    if tls_port != 0 {
        let bound = bind_all(&bind, tls_port, options)?;
        if bound.is_empty() {
            return Err(ServerError::Config(
                "Failed listening on port (tls), aborting.".into(),
            ));
        }
        *listeners.tls.lock() = spawn_all(state, listeners, bound, Transport::Tls);
    }
    if !unix_path.is_empty() {
        let perm = u32::from_str_radix(&config.get("unixsocketperm"), 8).unwrap_or(0);
        let bound = bind_unix(&unix_path, perm)
            .map_err(|e| ServerError::Config(format!("Failed opening Unix socket: bind: {e}")))?;
        let slot = Slot::new(Bound::Unix(bound));
        tokio::spawn(accept_loop(
            state.clone(),
            listeners.clone(),
            slot.clone(),
            Transport::Unix,
        ));
        *listeners.unix.lock() = Some((slot, unix_path));
    }
    state
        .bound_port
        .store(listeners.tcp_port() as u64, Ordering::Relaxed);
    Ok(())
}

fn spawn_all(
    state: &Arc<ServerState>,
    listeners: &Arc<Listeners>,
    bound: Vec<TcpListener>,
    transport: Transport,
) -> Vec<Arc<Slot>> {
    bound
        .into_iter()
        .map(|l| {
            let slot = Slot::new(Bound::Tcp(l));
            tokio::spawn(accept_loop(
                state.clone(),
                listeners.clone(),
                slot.clone(),
                transport,
            ));
            slot
        })
        .collect()
}

/// Binds the unix socket: an old socket file at `path` is removed first, as Redis does, and
/// `perm` (unixsocketperm, octal; 0 leaves the umask's) is applied to the new one.
fn bind_unix(path: &str, perm: u32) -> Result<UnixListener, String> {
    let _ = std::fs::remove_file(path);
    let listener = UnixListener::bind(path).map_err(|e| crate::config::strerror(&e))?;
    if perm != 0 {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(perm))
            .map_err(|e| format!("chmod: {}", crate::config::strerror(&e)))?;
    }
    Ok(listener)
}

/// CONFIG SET's way to the listeners (`ServerState::apply_listener_config`): the server's
/// listeners, which `server::run` made and hands in.
pub struct ConfigRebind(pub Arc<Listeners>);

impl crate::state::ListenerConfig for ConfigRebind {
    fn apply(
        &self,
        state: &ServerState,
        changed: &[(&'static str, String)],
    ) -> Result<(), (&'static str, &'static str)> {
        apply_config(state, &self.0, changed)
    }
}

/// Applies a CONFIG SET that changed listener options, after the new values are stored.
/// `changed` holds each changed option with its previous value. On failure the old listeners
/// and TLS context are kept (bound again when they were closed) and the result names the
/// option to blame with Redis's reason; the caller restores the previous values.
fn apply_config(
    state: &ServerState,
    listeners: &Arc<Listeners>,
    changed: &[(&'static str, String)],
) -> Result<(), (&'static str, &'static str)> {
    let names: Vec<&'static str> = changed.iter().map(|(name, _)| *name).collect();
    let has = |n: &str| names.contains(&n);
    let rebind_tcp = has("port") || has("bind") || has("socket-mark-id");
    let rebind_tls = has("tls-port") || has("bind") || has("socket-mark-id");
    let reload = names.iter().any(|n| tls::is_context_option(n))
        || (has("tls-port") && listeners.tls_context.acceptor().is_none());
    if !rebind_tcp && !rebind_tls && !reload {
        return Ok(());
    }
    let Some(arc) = state.self_arc() else {
        return Ok(()); // no server running (unit tests): nothing is bound
    };
    let config = &state.config;
    // A new TLS context first: nothing is closed if it does not load.
    let mut context = None;
    if reload && tls::wanted(config) {
        match tls::build(config) {
            Ok(built) => context = Some(built),
            Err(reason) => {
                let blamed = names
                    .iter()
                    .find(|n| tls::is_context_option(n))
                    .or(names.iter().find(|n| **n == "tls-port"))
                    .copied()
                    .unwrap_or("tls-port");
                tracing::warn!("{reason}");
                tracing::warn!("Failed applying new configuration. Possibly related to new {blamed} setting. Restoring previous settings.");
                return Err((
                    blamed,
                    "Unable to update TLS configuration. Check server logs.",
                ));
            }
        }
    }
    let old = |name: &str| -> String {
        changed
            .iter()
            .find(|(n, _)| *n == name)
            .map_or_else(|| config.get(name), |(_, v)| v.clone())
    };
    let old_options = SocketOptions {
        mark: old("socket-mark-id").parse().unwrap_or(0),
        ..SocketOptions::from_config(config)
    };
    let options = SocketOptions::from_config(config);
    let bind = config.get("bind");
    let mut groups = Vec::new();
    if rebind_tcp {
        groups.push((
            &listeners.tcp,
            Transport::Tcp,
            "port",
            config.get_i64("port") as u16,
            old("port").parse::<u16>().unwrap_or(0),
        ));
    }
    if rebind_tls {
        groups.push((
            &listeners.tls,
            Transport::Tls,
            "tls-port",
            config.get_i64("tls-port") as u16,
            old("tls-port").parse::<u16>().unwrap_or(0),
        ));
    }
    // Close the affected listeners, bind the new ones; on any failure close what was bound and
    // bind the old configuration again.
    for (slots, _, _, _, _) in &groups {
        for slot in slots.lock().drain(..) {
            slot.close();
        }
    }
    let mut failure = None;
    let mut bound_groups = Vec::new();
    for (slots, transport, port_name, port, _) in &groups {
        if *port == 0 {
            bound_groups.push((*slots, *transport, Vec::new()));
            continue;
        }
        match bind_all(&bind, *port, options) {
            Ok(bound) if !bound.is_empty() => bound_groups.push((*slots, *transport, bound)),
            Ok(_) | Err(_) => {
                let blamed = if has(port_name) {
                    *port_name
                } else if has("bind") {
                    "bind"
                } else {
                    "socket-mark-id"
                };
                failure = Some(blamed);
                break;
            }
        }
    }
    if let Some(blamed) = failure {
        drop(bound_groups);
        let old_bind = old("bind");
        for (slots, transport, _, _, old_port) in &groups {
            if *old_port == 0 {
                continue;
            }
            match bind_all(&old_bind, *old_port, old_options) {
                Ok(bound) => *slots.lock() = spawn_all(&arc, listeners, bound, *transport),
                Err(e) => tracing::warn!("Restoring the previous listeners: {e}"),
            }
        }
        state
            .bound_port
            .store(listeners.tcp_port() as u64, Ordering::Relaxed);
        tracing::warn!("Failed applying new configuration. Possibly related to new {blamed} setting. Restoring previous settings.");
        let reason = match blamed {
            "bind" => "Failed to bind to specified addresses.",
            "socket-mark-id" => "Unable to set socket mark. Check server logs.",
            _ => "Unable to listen on this port. Check server logs.",
        };
        return Err((blamed, reason));
    }
    for (slots, transport, bound) in bound_groups {
        *slots.lock() = spawn_all(&arc, listeners, bound, transport);
    }
    if let Some(context) = context {
        listeners.tls_context.install(Some(context));
    }
    state
        .bound_port
        .store(listeners.tcp_port() as u64, Ordering::Relaxed);
    Ok(())
}

/// Binds every address of the `bind` option on `port`. Addresses prefixed with `-` are optional:
/// failing to bind them is not an error.
pub fn bind_all(
    bind: &str,
    port: u16,
    options: SocketOptions,
) -> Result<Vec<TcpListener>, ServerError> {
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
        match bind_one(sock, options) {
            Ok(l) => listeners.push(l),
            Err(e) if optional || (ip == "::" && !listeners.is_empty()) => {
                tracing::debug!("skipping optional bind address {sock}: {e}");
            }
            Err(e) => {
                tracing::warn!(
                    "Warning: Could not create server TCP listening socket {sock}: bind: {}",
                    crate::config::strerror(&e)
                );
                return Err(ServerError::Config(format!(
                    "Warning: Could not create server TCP listening socket {sock}: {e}"
                )));
            }
        }
    }
    Ok(listeners)
}

fn bind_one(sock: SocketAddr, options: SocketOptions) -> std::io::Result<TcpListener> {
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
    if options.mark != 0 {
        socket2::SockRef::from(&socket).set_mark(options.mark)?;
    }
    socket.bind(sock)?;
    socket.listen(options.backlog)
}

/// Accepts connections on `slot` until it is closed or the server shuts down.
async fn accept_loop(
    state: Arc<ServerState>,
    listeners: Arc<Listeners>,
    slot: Arc<Slot>,
    transport: Transport,
) {
    let mut shutdown = state.shutdown.subscribe();
    loop {
        let accepted = tokio::select! {
            accepted = std::future::poll_fn(|cx| slot.poll_accept(cx)) => accepted,
            _ = slot.stop.notified() => return,
            _ = shutdown.changed() => return,
        };
        let accepted = match accepted {
            None => return,
            Some(Ok(accepted)) => accepted,
            Some(Err(e)) => {
                tracing::warn!("Accepting client connection: {e}");
                tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                continue;
            }
        };
        let state = state.clone();
        let listeners = listeners.clone();
        match accepted {
            Accepted::Tcp(stream, addr) => {
                tokio::spawn(
                    async move { serve_tcp(state, listeners, stream, addr, transport).await },
                );
            }
            Accepted::Unix(stream) => {
                tokio::spawn(async move { serve_unix(state, listeners, stream).await });
            }
        }
    }
}

/// Redis's reply to a non-local client while protected mode is on and no password is set.
const PROTECTED_MODE_DENIED: &[u8] = b"-DENIED Redis is running in protected mode because protected mode is enabled and no password is set for the default user. In this mode connections are only accepted from the loopback interface. If you want to connect from external computers to Redis you may adopt one of the following solutions: 1) Just disable protected mode sending the command 'CONFIG SET protected-mode no' from the loopback interface by connecting to Redis from the same host the server is running, however MAKE SURE Redis is not publicly accessible from internet if you do so. Use CONFIG REWRITE to make this change permanent. 2) Alternatively you can just disable the protected mode by editing the Redis configuration file, and setting the protected mode option to 'no', and then restarting the server. 3) If you started the server manually just for testing, restart it with the '--protected-mode no' option. 4) Setup a an authentication password for the default user. NOTE: You only need to do one of the above things in order for the server to start accepting connections from the outside.\r\n";

/// Protected mode (on by default, as in Redis): while the default user is `nopass` (even when
/// `off`), only loopback clients (127.0.0.0/8, ::1) may connect.
pub(super) fn refused_by_protected_mode(state: &ServerState, peer: &SocketAddr) -> bool {
    !Peer::Tcp(*peer).is_local()
        && state.acl.default_is_nopass()
        && state.config.get_bool("protected-mode")
}

/// Counts the connection and refuses it past maxclients (with Redis's error line); the guard
/// gives the slot back when the connection ends.
async fn admit<'a, S: AsyncWrite + Unpin>(
    state: &ServerState,
    listeners: &'a Listeners,
    stream: &mut S,
) -> Option<Admitted<'a>> {
    let admitted = reserve(state, listeners);
    if admitted.is_none() {
        let _ = stream
            .write_all(b"-ERR max number of clients reached\r\n")
            .await;
        let _ = stream.flush().await;
    }
    admitted
}

/// Takes a client slot, or counts a rejected connection past maxclients.
pub(super) fn reserve<'a>(state: &ServerState, listeners: &'a Listeners) -> Option<Admitted<'a>> {
    let maxclients = state.config.hot.maxclients.load(Ordering::Relaxed) as usize;
    let connected = &listeners.connected;
    if connected.fetch_add(1, Ordering::Relaxed) >= maxclients {
        connected.fetch_sub(1, Ordering::Relaxed);
        crate::stats::ServerStats::add(&state.stats.rejected_connections, 1);
        return None;
    }
    Some(Admitted(connected))
}

/// A maxclients slot, given back when dropped.
pub(super) struct Admitted<'a>(&'a AtomicUsize);

impl Drop for Admitted<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

impl Admitted<'_> {
    /// The same slot, held without a borrow of the listeners (a connection that leaves this
    /// task for the epoll loop takes it along).
    fn owned(self, listeners: &Arc<Listeners>) -> OwnedSlot {
        std::mem::forget(self);
        OwnedSlot(listeners.clone())
    }
}

/// A maxclients slot held by a connection on the epoll loop, given back when dropped.
struct OwnedSlot(Arc<Listeners>);

impl Drop for OwnedSlot {
    fn drop(&mut self) {
        self.0.connected.fetch_sub(1, Ordering::Relaxed);
    }
}

async fn serve_tcp(
    state: Arc<ServerState>,
    listeners: Arc<Listeners>,
    mut stream: TcpStream,
    addr: SocketAddr,
    transport: Transport,
) {
    crate::stats::ServerStats::add(&state.stats.connections_received, 1);
    let counter = match transport {
        Transport::Tls => &listeners.stats.accepted_tls,
        _ => &listeners.stats.accepted_tcp,
    };
    counter.fetch_add(1, Ordering::Relaxed);
    let denied = refused_by_protected_mode(&state, &addr);
    if denied && transport == Transport::Tcp {
        let _ = stream.write_all(PROTECTED_MODE_DENIED).await;
        return;
    }
    let _ = stream.set_nodelay(true);
    let keepalive = state.config.get_i64("tcp-keepalive");
    if keepalive > 0 {
        let ka = socket2::TcpKeepalive::new()
            .with_time(std::time::Duration::from_secs(keepalive as u64));
        let _ = socket2::SockRef::from(&stream).set_tcp_keepalive(&ka);
    }
    let local = stream.local_addr().unwrap_or(addr);
    let fd = {
        use std::os::fd::AsRawFd;
        stream.as_raw_fd() as i64
    };
    let ends = client::Ends {
        addr: Peer::Tcp(addr),
        local: Peer::Tcp(local),
        fd,
        transport,
    };
    if transport == Transport::Tcp {
        let Some(admitted) = admit(&state, &listeners, &mut stream).await else {
            return;
        };
        if let Some(loops) = listeners.event_loops.get() {
            if let Ok(std_stream) = stream.into_std() {
                loops.hand(std_stream, ends, Box::new(admitted.owned(&listeners)));
            }
            return;
        }
        let _admitted = admitted;
        client::run(&state, stream, ends).await;
        return;
    }
    // TLS: the context of the moment; a handshake that fails or stalls closes the connection.
    let Some(acceptor) = listeners.tls_context.acceptor() else {
        return;
    };
    // The client's slot is taken before the handshake, so handshakes in flight count toward
    // maxclients; past it the connection is closed before any TLS work.
    let Some(_admitted) = reserve(&state, &listeners) else {
        return;
    };
    let handshake = tokio::time::timeout(TLS_HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await;
    let mut stream = match handshake {
        Ok(Ok(stream)) => stream,
        Ok(Err(e)) => {
            listeners
                .stats
                .tls_handshake_failures
                .fetch_add(1, Ordering::Relaxed);
            tracing::debug!("Error accepting a client connection: {e} (addr={addr} laddr={local})");
            return;
        }
        Err(_) => {
            listeners
                .stats
                .tls_handshake_failures
                .fetch_add(1, Ordering::Relaxed);
            tracing::debug!("TLS handshake timed out (addr={addr})");
            return;
        }
    };
    if denied {
        // Over TLS the refusal is sent once the handshake is done, as Redis does.
        let _ = stream.write_all(PROTECTED_MODE_DENIED).await;
        let _ = stream.shutdown().await;
        return;
    }
    listeners
        .stats
        .connected_tls
        .fetch_add(1, Ordering::Relaxed);
    client::run(&state, stream, ends).await;
    listeners
        .stats
        .connected_tls
        .fetch_sub(1, Ordering::Relaxed);
}

/// A unix-socket client: local, so protected mode never refuses it (as in Redis).
async fn serve_unix(state: Arc<ServerState>, listeners: Arc<Listeners>, mut stream: UnixStream) {
    crate::stats::ServerStats::add(&state.stats.connections_received, 1);
    listeners
        .stats
        .accepted_unix
        .fetch_add(1, Ordering::Relaxed);
    let path: Arc<str> = match &*listeners.unix.lock() {
        Some((_, path)) => path.as_str().into(),
        None => "".into(),
    };
    let fd = {
        use std::os::fd::AsRawFd;
        stream.as_raw_fd() as i64
    };
    let ends = client::Ends {
        addr: Peer::Unix(path.clone()),
        local: Peer::Unix(path),
        fd,
        transport: Transport::Unix,
    };
    let Some(_admitted) = admit(&state, &listeners, &mut stream).await else {
        return;
    };
    listeners
        .stats
        .connected_unix
        .fetch_add(1, Ordering::Relaxed);
    client::run(&state, stream, ends).await;
    listeners
        .stats
        .connected_unix
        .fetch_sub(1, Ordering::Relaxed);
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
        let state = ServerState::new(
            Config::default(),
            Clock::manual(1_000),
            crate::commands::TABLES,
        );
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
        let env = crate::acl::rule_env(&state.registry, &state.config);
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
