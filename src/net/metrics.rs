//! The optional Prometheus endpoint (beyond Redis): `GET /metrics` on `metrics-port` (0, the
//! default, turns it off) answers the text exposition format with every numeric INFO field,
//! the keyspace per database, per-command calls and latency histograms, and the per-prefix
//! hit ratios.
//!
//! The HTTP side is deliberately minimal, one fixed resource with `Connection: close`, no
//! keep-alive, no chunking, no request body, which is all a Prometheus scraper needs; the
//! request head is bounded in size and time. The figures come from running INFO through
//! dispatch as an internal client, so they are exactly what `redis-cli INFO` shows.

use crate::engine::ClientState;
use crate::protocol::Reply;
use bytes::Bytes;
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// What the endpoint reads of the server: the live config, the command table (per-command
/// figures), the keyspace (per-prefix figures), the gate, the client registry and the clock
/// (the internal client), the listeners' counters.
#[derive(Clone, Copy)]
pub struct Handle<'a> {
    pub config: &'a crate::config::Config,
    pub registry: &'a crate::engine::registry::Registry,
    pub keyspace: &'a crate::keyspace::Keyspace,
    pub gate: &'a crate::gate::Gate,
    pub clients: &'a crate::clients::ClientRegistry,
    pub clock: &'a crate::clock::Clock,
    pub transport: &'a super::listener::TransportStats,
}

/// The server as the endpoint uses it (implemented in server.rs): its parts, and INFO run
/// through dispatch.
pub trait Host: Send + Sync + 'static {
    fn metrics_handle(&self) -> Handle<'_>;
    /// Runs one command as `client` (dispatch's `execute`).
    fn execute(&self, client: &mut ClientState, argv: &[Bytes]) -> Reply;
}

const MAX_REQUEST_HEAD: usize = 8 * 1024;
const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);

/// Binds the endpoint when `metrics-port` is set; returns the bound port.
pub async fn start(server: Arc<dyn Host>) -> std::io::Result<Option<u16>> {
    let config = server.metrics_handle().config;
    let port = config.get_i64("metrics-port");
    if port <= 0 {
        return Ok(None);
    }
    let bind = config.get("metrics-bind");
    let listener = TcpListener::bind((bind.as_str(), port as u16)).await?;
    let bound = listener.local_addr()?.port();
    tokio::spawn(accept_loop(server.clone(), listener));
    Ok(Some(bound))
}

async fn accept_loop(server: Arc<dyn Host>, listener: TcpListener) {
    loop {
        match listener.accept().await {
            Ok((stream, peer)) => {
                let server = server.clone();
                tokio::spawn(async move {
                    let _ =
                        tokio::time::timeout(REQUEST_TIMEOUT, serve(&*server, stream, peer)).await;
                });
            }
            Err(e) => {
                tracing::warn!("metrics endpoint: accept failed: {e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}

async fn serve(server: &dyn Host, mut stream: TcpStream, peer: SocketAddr) -> std::io::Result<()> {
    let mut head = Vec::with_capacity(1024);
    let mut buf = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        if head.len() > MAX_REQUEST_HEAD {
            respond(&mut stream, "431 Request Header Fields Too Large", "").await?;
            // Read what the client still sends (until it closes or the request timeout), so
            // closing with unread input does not reset the connection before it reads the
            // answer.
            while stream.read(&mut buf).await? > 0 {}
            return Ok(());
        }
        let n = stream.read(&mut buf).await?;
        if n == 0 {
            return Ok(());
        }
        head.extend_from_slice(&buf[..n]);
    }
    let request_line = head.split(|&b| b == b'\r').next().unwrap_or_default();
    let mut words = request_line.split(|&b| b == b' ');
    let (method, path) = (
        words.next().unwrap_or_default(),
        words.next().unwrap_or_default(),
    );
    if method != b"GET" {
        return respond(&mut stream, "405 Method Not Allowed", "").await;
    }
    if path != b"/metrics" && path != b"/" {
        return respond(&mut stream, "404 Not Found", "").await;
    }
    let local = stream.local_addr()?;
    let body = {
        // Waits (asynchronously) for a running script or transaction to end, like any client.
        let _section = server.metrics_handle().gate.shared().await;
        render(server, peer, local)
    };
    respond(&mut stream, "200 OK", &body).await
}

async fn respond(stream: &mut TcpStream, status: &str, body: &str) -> std::io::Result<()> {
    let head = format!(
        "HTTP/1.1 {status}\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).await?;
    stream.write_all(body.as_bytes()).await?;
    stream.shutdown().await
}

/// INFO everything, run as an internal client.
fn info_text(server: &dyn Host, peer: SocketAddr, local: SocketAddr) -> String {
    let state = server.metrics_handle();
    let now = state.clock.now_ms();
    let info = state.clients.register(peer, local, -1, now);
    let mut client = ClientState::new(info);
    let argv = [
        Bytes::from_static(b"INFO"),
        Bytes::from_static(b"everything"),
    ];
    let reply = server.execute(&mut client, &argv);
    state.clients.unregister(client.id);
    match reply {
        Reply::Verbatim(text) | Reply::Bulk(text) => String::from_utf8_lossy(&text).into_owned(),
        _ => String::new(),
    }
}

/// Escapes a label value (backslash, quote, newline) for the exposition format.
fn label(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// The whole exposition text.
pub fn render(server: &dyn Host, peer: SocketAddr, local: SocketAddr) -> String {
    let mut out = String::new();
    let info = info_text(server, peer, local);
    let state = server.metrics_handle();
    for line in info.lines() {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        if let Some(db) = name.strip_prefix("db").filter(|d| d.parse::<u32>().is_ok()) {
            keyspace_metrics(&mut out, db, value);
        } else if value.parse::<f64>().is_ok()
            && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
        {
            let _ = writeln!(
                out,
                "# TYPE ferrocache_{name} gauge\nferrocache_{name} {value}"
            );
        }
    }
    command_metrics(state, &mut out);
    prefix_metrics(state, &mut out);
    transport_metrics(state, &mut out);
    out
}

/// Connections per transport (plaintext TCP, TLS, unix socket) and failed TLS handshakes.
fn transport_metrics(state: Handle, out: &mut String) {
    let t = state.transport;
    let load = |c: &std::sync::atomic::AtomicU64| c.load(std::sync::atomic::Ordering::Relaxed);
    out.push_str("# TYPE ferrocache_connections_received_total counter\n");
    for (transport, n) in [
        ("tcp", load(&t.accepted_tcp)),
        ("tls", load(&t.accepted_tls)),
        ("unix", load(&t.accepted_unix)),
    ] {
        let _ = writeln!(
            out,
            "ferrocache_connections_received_total{{transport=\"{transport}\"}} {n}"
        );
    }
    let _ = writeln!(
        out,
        "# TYPE ferrocache_tls_handshake_failures_total counter\nferrocache_tls_handshake_failures_total {}\n# TYPE ferrocache_connected_clients_by_transport gauge\nferrocache_connected_clients_by_transport{{transport=\"tls\"}} {}\nferrocache_connected_clients_by_transport{{transport=\"unix\"}} {}",
        load(&t.tls_handshake_failures),
        load(&t.connected_tls),
        load(&t.connected_unix),
    );
}

fn keyspace_metrics(out: &mut String, db: &str, value: &str) {
    for field in value.split(',') {
        if let Some((name, n)) = field.split_once('=') {
            let _ = writeln!(out, "ferrocache_db_{name}{{db=\"{db}\"}} {n}");
        }
    }
}

fn command_metrics(state: Handle, out: &mut String) {
    let mut called: Vec<_> = state
        .registry
        .all_entries()
        .filter(|f| f.stats.latency.total() > 0)
        .collect();
    called.sort_unstable_by_key(|f| f.full_name);
    out.push_str("# TYPE ferrocache_command_duration_seconds histogram\n");
    for f in &called {
        let cmd = label(f.full_name);
        let mut cumulative = 0;
        let buckets = f.stats.latency.buckets();
        let last = buckets.len() - 1;
        for (i, (bound_us, n)) in buckets.into_iter().enumerate() {
            cumulative += n;
            // The last step also holds every slower call: only +Inf may claim those.
            if i < last {
                let _ = writeln!(
                    out,
                    "ferrocache_command_duration_seconds_bucket{{cmd=\"{cmd}\",le=\"{}\"}} {cumulative}",
                    bound_us as f64 / 1e6
                );
            }
        }
        let _ = writeln!(
            out,
            "ferrocache_command_duration_seconds_bucket{{cmd=\"{cmd}\",le=\"+Inf\"}} {cumulative}"
        );
        let usec = f.stats.usec.load(std::sync::atomic::Ordering::Relaxed);
        let _ = writeln!(
            out,
            "ferrocache_command_duration_seconds_sum{{cmd=\"{cmd}\"}} {}\nferrocache_command_duration_seconds_count{{cmd=\"{cmd}\"}} {cumulative}",
            usec as f64 / 1e6
        );
    }
    out.push_str("# TYPE ferrocache_command_calls_total counter\n");
    for f in &called {
        let load = |c: &std::sync::atomic::AtomicU64| c.load(std::sync::atomic::Ordering::Relaxed);
        let _ = writeln!(
            out,
            "ferrocache_command_calls_total{{cmd=\"{}\"}} {}\nferrocache_command_failed_calls_total{{cmd=\"{0}\"}} {}\nferrocache_command_rejected_calls_total{{cmd=\"{0}\"}} {}",
            label(f.full_name),
            load(&f.stats.calls),
            load(&f.stats.failed_calls),
            load(&f.stats.rejected_calls),
        );
    }
}

fn prefix_metrics(state: Handle, out: &mut String) {
    let groups = state.keyspace.prefix_stats();
    if groups.is_empty() {
        return;
    }
    out.push_str("# TYPE ferrocache_prefix_hits_total counter\n# TYPE ferrocache_prefix_misses_total counter\n# TYPE ferrocache_prefix_hit_ratio gauge\n");
    for (group, hits, misses) in groups {
        let prefix = label(&String::from_utf8_lossy(&group));
        let ratio = if hits + misses == 0 {
            0.0
        } else {
            hits as f64 / (hits + misses) as f64
        };
        let _ = writeln!(
            out,
            "ferrocache_prefix_hits_total{{prefix=\"{prefix}\"}} {hits}\nferrocache_prefix_misses_total{{prefix=\"{prefix}\"}} {misses}\nferrocache_prefix_hit_ratio{{prefix=\"{prefix}\"}} {ratio}"
        );
    }
}
