//! A connection parked on a blocking command (BLPOP, XREAD BLOCK, WAIT, ...): the replies
//! before it go out, then it waits until served, timed out, unblocked or gone.

use crate::engine::ClientState;
use crate::state::ServerState;
use crate::stats::ServerStats;
use bytes::BytesMut;
use std::sync::atomic::Ordering;
use std::time::Duration;
use tokio::io::AsyncReadExt;

/// What a blocked connection still watches: its socket (a close ends the wait), the input it
/// keeps buffering, the output written before it blocks, and the shutdown signal.
pub(super) struct BlockedIo<'a, S> {
    pub(super) stream: &'a mut S,
    pub(super) input: &'a mut BytesMut,
    pub(super) output: &'a mut BytesMut,
    pub(super) shutdown: &'a mut tokio::sync::watch::Receiver<bool>,
}

impl<S: super::io::Connection> BlockedIo<'_, S> {
    /// Writes the replies of the commands before the blocking one, as Redis does before it
    /// sleeps. Returns the pushed-frame count still unwritten (0, or `pushed` on failure: the
    /// wait then notices the closed socket).
    pub(super) async fn flush(
        &mut self,
        state: &ServerState,
        outbox: &crate::pubsub::Outbox,
        pushed: usize,
    ) -> usize {
        if self.output.is_empty() {
            return pushed;
        }
        if super::io::write_flush(self.stream, self.output)
            .await
            .is_err()
        {
            return pushed;
        }
        ServerStats::add(&state.stats.net_output_bytes, self.output.len() as u64);
        outbox.written(pushed);
        self.output.clear();
        0
    }
}

/// Parks the client (see `crate::engine::blocking`) until its command is served, its deadline passes,
/// CLIENT UNBLOCK ends it, or the connection goes away (`None`: close it). Holds no lock while
/// awaiting.
pub(super) async fn wait_blocked<S: super::io::Connection>(
    state: &ServerState,
    client: &mut ClientState,
    request: crate::engine::client::BlockRequest,
    argv: Vec<bytes::Bytes>,
    io: &mut BlockedIo<'_, S>,
) -> Option<crate::protocol::Reply> {
    use crate::engine::waiters::{Counts, Ending, Settled};
    let info = client.info.clone();
    // Input that arrives while blocked waits in the buffer: publishers need not wait for it.
    info.input_idle_at.store(
        info.input_arrivals.load(Ordering::Acquire),
        Ordering::Release,
    );
    let parked = std::mem::replace(client, ClientState::new(info.clone()));
    let waiter = {
        // Parking looks at the keys: inside a shared section, awaited if a script runs.
        let _section = state.gate.shared().await;
        let waiter = state
            .blocking
            .park(&state.keyspace, &state.clock, parked, request, argv);
        // The registration's own check may have found data already.
        if state.blocking.has_ready() {
            crate::engine::blocking::serve_ready(state);
        }
        waiter
    };
    let query_limit = state
        .config
        .hot
        .client_query_buffer_limit
        .load(Ordering::Relaxed) as usize;
    let counts = Counts {
        registry: &state.registry,
        stats: &state.stats,
    };
    loop {
        let sleep_ms = waiter
            .deadline_ms()
            .map(|deadline| deadline.saturating_sub(state.clock.now_ms()));
        let timer = async {
            match sleep_ms {
                Some(ms) => tokio::time::sleep(Duration::from_millis(ms)).await,
                None => std::future::pending::<()>().await,
            }
        };
        let ending = tokio::select! {
            _ = waiter.woken() => Ending::None,
            _ = timer => Ending::TimedOut,
            read = io.stream.read_buf(io.input) => match read {
                // Input that arrives while blocked waits in the buffer, as in Redis.
                Ok(n) if n > 0 && io.input.len() <= query_limit => {
                    ServerStats::add(&state.stats.net_input_bytes, n as u64);
                    Ending::None
                }
                _ => Ending::Disconnected,
            },
            _ = info.kill_notify.notified() => Ending::Disconnected,
            _ = io.shutdown.changed() => Ending::Disconnected,
        };
        if let Settled::Done(parked, reply) = state.blocking.settle(counts, &waiter, ending) {
            *client = *parked;
            return (ending != Ending::Disconnected && !info.is_killed()).then_some(reply);
        }
    }
}
