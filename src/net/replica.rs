//! A connection that became a replica link (PSYNC or SYNC, see replication/primary.rs): the
//! first line (+FULLRESYNC or +CONTINUE), the RDB of a full sync, then the write stream from
//! the replica's offset, while REPLCONF ACKs are read back. The link ends when the socket
//! closes, CLIENT KILL, shutdown, or the replica's pending stream passes
//! `client-output-buffer-limit replica` (hard at once, soft after its seconds), as in Redis.

use super::io::Connection;
use crate::engine::ClientState;
use crate::protocol::{Limits, Request, RequestDecoder};
use crate::replication::backlog::READ_CHUNK_BYTES;
use crate::replication::primary::{self, Handoff, Link, ONLINE, SEND_BULK, WAIT_BGSAVE};
use crate::state::ServerState;
use crate::stats::ServerStats;
use bytes::BytesMut;
use std::sync::atomic::{AtomicU64, AtomicU8, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Serves the link until it ends.
pub async fn serve<S: Connection>(
    state: &ServerState,
    stream: &mut S,
    input: &mut BytesMut,
    client: &mut ClientState,
    handoff: Handoff,
) {
    let Some(server) = state.self_arc() else {
        return;
    };
    let info = client.info.clone();
    let ip = client
        .repl
        .ip_address
        .clone()
        .unwrap_or_else(|| match &info.addr {
            crate::clients::Peer::Tcp(addr) => addr.ip().to_string(),
            crate::clients::Peer::Unix(path) => path.to_string(),
        });
    let link = Arc::new(Link {
        client_id: client.id,
        info: info.clone(),
        ip,
        port: client.repl.listening_port,
        state: AtomicU8::new(WAIT_BGSAVE),
        ack_offset: AtomicU64::new(0),
        ack_ms: AtomicU64::new(state.clock.now_ms()),
        pre_psync: matches!(handoff, Handoff::Full { psync: false }),
    });
    info.details.lock().replica = true;
    let primary = &state.replication.primary;
    primary.add_link(link.clone());
    let mut io = LinkIo {
        state,
        stream,
        input,
        decoder: RequestDecoder::new(),
        link: &link,
        shutdown: state.shutdown.subscribe(),
        acked_once: false,
    };
    let name = format!("{}:{}", link.ip, link.port);
    let outcome = match handoff {
        Handoff::Continue { replid, next } => {
            let line = if client.repl.capa_psync2 {
                format!("+CONTINUE {replid}\r\n")
            } else {
                "+CONTINUE\r\n".to_string()
            };
            link.state.store(ONLINE, Ordering::Relaxed);
            match io.write(line.as_bytes()).await {
                Ok(()) => io.stream_from(next).await,
                Err(e) => Err(e),
            }
        }
        Handoff::Full { psync } => {
            tracing::info!("Replica {name} asks for synchronization");
            let diskless = client.repl.capa_eof && state.config.get_bool("repl-diskless-sync");
            match io.full_sync(server, psync, diskless).await {
                Ok(next) => {
                    tracing::info!("Synchronization with replica {name} succeeded");
                    io.stream_from(next).await
                }
                Err(e) => Err(e),
            }
        }
    };
    if let Err(reason) = outcome {
        tracing::info!("Connection with replica {name} lost ({reason}).");
    }
    primary.remove_link(state.replication_handle(), client.id);
}

struct LinkIo<'a, S> {
    state: &'a ServerState,
    stream: &'a mut S,
    input: &'a mut BytesMut,
    decoder: RequestDecoder,
    link: &'a Arc<Link>,
    shutdown: tokio::sync::watch::Receiver<bool>,
    /// A REPLCONF ACK has arrived (a diskless replica gets the stream only after its first).
    acked_once: bool,
}

type LinkResult<T> = Result<T, String>;

impl<S: Connection> LinkIo<'_, S> {
    /// Writes all of `bytes`, unless the link is killed or the server stops meanwhile.
    async fn write(&mut self, bytes: &[u8]) -> LinkResult<()> {
        let info = &self.link.info;
        let written = tokio::select! {
            w = async {
                self.stream.write_all(bytes).await?;
                self.stream.flush().await
            } => w.map_err(|e| e.to_string()),
            _ = info.kill_notify.notified() => Err("killed".into()),
            _ = self.shutdown.changed() => Err("shutdown".into()),
        };
        if info.is_killed() {
            return Err("killed".into());
        }
        written?;
        ServerStats::add(&self.state.stats.net_output_bytes, bytes.len() as u64);
        Ok(())
    }

    /// Waits for `fut`, writing a newline every second meanwhile (Redis's keep-alive for a
    /// replica waiting for its RDB: the replica skips them).
    async fn keepalive<T>(&mut self, fut: impl std::future::Future<Output = T>) -> LinkResult<T> {
        tokio::pin!(fut);
        loop {
            tokio::select! {
                out = &mut fut => return Ok(out),
                _ = tokio::time::sleep(Duration::from_secs(1)) => self.write(b"\n").await?,
            }
        }
    }

    /// A full sync; returns the stream offset the replica continues from.
    async fn full_sync(
        &mut self,
        server: Arc<ServerState>,
        psync: bool,
        diskless: bool,
    ) -> LinkResult<u64> {
        let state = self.state;
        if diskless {
            let delay = state.config.get_i64("repl-diskless-sync-delay").max(0) as u64;
            if delay > 0 {
                self.keepalive(tokio::time::sleep(Duration::from_secs(delay)))
                    .await?;
            }
        }
        let (started_tx, started_rx) = tokio::sync::oneshot::channel();
        let (done_tx, done_rx) = tokio::sync::oneshot::channel();
        let (chunk_tx, mut chunks) = tokio::sync::mpsc::channel(4);
        primary::start_full_sync(
            server,
            self.link.client_id,
            diskless,
            started_tx,
            chunk_tx,
            done_tx,
        );
        let start = self
            .keepalive(started_rx)
            .await?
            .map_err(|_| "the RDB could not start".to_string())?;
        if psync {
            let line = format!("+FULLRESYNC {} {}\r\n", start.replid, start.offset);
            self.write(line.as_bytes()).await?;
        }
        if diskless {
            self.link.state.store(SEND_BULK, Ordering::Relaxed);
            let mark = crate::replication::new_replid(start.offset ^ self.link.client_id);
            self.write(format!("$EOF:{mark}\r\n").as_bytes()).await?;
            while let Some(chunk) = chunks.recv().await {
                self.write(&chunk).await?;
            }
            match done_rx.await {
                Ok(Ok(_)) => {}
                Ok(Err(e)) => return Err(format!("RDB failed: {e}")),
                Err(_) => return Err("RDB thread ended".into()),
            }
            self.write(mark.as_bytes()).await?;
            // Redis starts the stream to a diskless replica at its first ACK (once loaded).
            self.go_online();
            while !self.acked_once {
                self.read_acks().await?;
            }
        } else {
            let len = match self.keepalive(done_rx).await? {
                Ok(Ok(len)) => len,
                Ok(Err(e)) => return Err(format!("RDB failed: {e}")),
                Err(_) => return Err("RDB thread ended".into()),
            };
            self.link.state.store(SEND_BULK, Ordering::Relaxed);
            self.write(format!("${len}\r\n").as_bytes()).await?;
            let mut sent = 0u64;
            while let Some(chunk) = chunks.recv().await {
                self.write(&chunk).await?;
                sent += chunk.len() as u64;
            }
            if sent != len {
                return Err("the RDB file could not be read back".into());
            }
            self.go_online();
        }
        Ok(start.offset + 1)
    }

    /// The replica gets the stream from now on; its lag counts from now.
    fn go_online(&self) {
        self.link
            .ack_ms
            .store(self.state.clock.now_ms(), Ordering::Relaxed);
        self.link.state.store(ONLINE, Ordering::Relaxed);
    }

    /// Reads what the replica sent (REPLCONF ACK) once; errors when it closed.
    async fn read_acks(&mut self) -> LinkResult<()> {
        let info = self.link.info.clone();
        let read = tokio::select! {
            r = self.stream.read_buf(self.input) => r.map_err(|e| e.to_string()),
            _ = info.kill_notify.notified() => Err("killed".into()),
            _ = self.shutdown.changed() => Err("shutdown".into()),
        };
        match read? {
            0 => return Err("closed by the replica".into()),
            n => ServerStats::add(&self.state.stats.net_input_bytes, n as u64),
        }
        self.parse_acks()
    }

    fn parse_acks(&mut self) -> LinkResult<()> {
        let limits = Limits {
            bulk_bytes_max: 1 << 20,
            authenticated: true,
        };
        let mut acked = false;
        loop {
            match self.decoder.decode(self.input, limits) {
                Ok(Some(Request::Command(argv))) => {
                    let ack = argv.len() >= 3
                        && argv[0].eq_ignore_ascii_case(b"replconf")
                        && argv[1].eq_ignore_ascii_case(b"ack");
                    if ack {
                        if let Some(offset) = std::str::from_utf8(&argv[2])
                            .ok()
                            .and_then(|o| o.parse::<u64>().ok())
                        {
                            let link = self.link;
                            link.ack_offset.fetch_max(offset, Ordering::Relaxed);
                            link.ack_ms
                                .store(self.state.clock.now_ms(), Ordering::Relaxed);
                            acked = true;
                        }
                    }
                }
                Ok(Some(Request::Empty)) => {}
                Ok(None) => break,
                Err(e) => return Err(format!("protocol error from replica: {}", e.0)),
            }
        }
        if self.input.len() > 1 << 20 {
            return Err("too much input from the replica".into());
        }
        if acked {
            self.acked_once = true;
            self.state
                .replication
                .primary
                .acks_changed(self.state.replication_handle());
        }
        Ok(())
    }

    /// Sends the stream from offset `next` on, for as long as the link lives.
    async fn stream_from(&mut self, mut next: u64) -> LinkResult<()> {
        let state = self.state;
        let feed = state.replication.feed.clone();
        let id = self.link.client_id;
        let mut out = Vec::with_capacity(READ_CHUNK_BYTES);
        let over_soft_since = AtomicU64::new(0);
        let mut limits = primary::replica_buffer_limits(&state.config);
        let mut limits_read_ms = state.clock.now_ms();
        loop {
            // Everything pending goes out, a chunk at a time.
            loop {
                out.clear();
                let Some(pending) = feed.read(id, &mut next, &mut out, READ_CHUNK_BYTES) else {
                    return Err("its position left the replication buffer".into());
                };
                let now = state.clock.now_ms();
                if now.saturating_sub(limits_read_ms) >= 1000 {
                    limits = primary::replica_buffer_limits(&state.config);
                    limits_read_ms = now;
                }
                let held = pending + out.len() as u64;
                if let Some(which) = limits.exceeded(held, &over_soft_since, now) {
                    ServerStats::add(&state.stats.output_buffer_limit_disconnections, 1);
                    return Err(format!(
                        "closed for overcoming of output buffer limits ({which} limit of the replica class)"
                    ));
                }
                if out.is_empty() {
                    break;
                }
                self.write_watching_limits(&out, next, &limits, &over_soft_since)
                    .await?;
                if pending == 0 {
                    break;
                }
            }
            let info = self.link.info.clone();
            tokio::select! {
                _ = feed.wait_for(next) => {
                    // One turn of the scheduler lets more writes pile up: fewer, larger
                    // writes to the socket under load (Redis writes once per event loop).
                    tokio::task::yield_now().await;
                }
                r = self.stream.read_buf(self.input) => {
                    match r {
                        Ok(0) | Err(_) => return Err("closed by the replica".into()),
                        Ok(n) => ServerStats::add(&state.stats.net_input_bytes, n as u64),
                    }
                    self.parse_acks()?;
                }
                _ = info.kill_notify.notified() => return Err("killed".into()),
                _ = self.shutdown.changed() => return Err("shutdown".into()),
            }
            if info.is_killed() {
                return Err("killed".into());
            }
        }
    }

    /// Writes a chunk of the stream; while the socket does not take it, the bytes still
    /// pending for this replica are checked against its output buffer limits (a write given up
    /// ends the link, so its partial state does not matter).
    async fn write_watching_limits(
        &mut self,
        bytes: &[u8],
        next: u64,
        limits: &crate::pubsub::BufferLimits,
        over_soft_since: &AtomicU64,
    ) -> LinkResult<()> {
        let state = self.state;
        let watch = async {
            loop {
                tokio::time::sleep(Duration::from_millis(100)).await;
                let held = state.replication.feed.offset() + 1 - next + bytes.len() as u64;
                if let Some(which) = limits.exceeded(held, over_soft_since, state.clock.now_ms()) {
                    return which;
                }
            }
        };
        tokio::select! {
            w = self.write(bytes) => w,
            which = watch => {
                ServerStats::add(&state.stats.output_buffer_limit_disconnections, 1);
                Err(format!(
                    "closed for overcoming of output buffer limits ({which} limit of the replica class)"
                ))
            }
        }
    }
}
