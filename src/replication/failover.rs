//! FAILOVER (Redis 6.2+): a planned switchover from this primary to one of its replicas,
//! without Sentinel and without losing acknowledged writes, as Redis 7 runs it:
//!
//! 1. FAILOVER holds clients' writes (the write pause of `crate::pause`, beside CLIENT
//!    PAUSE's) so the stream stops growing, and waits (`waiting-for-sync`) for the target
//!    replica (`TO host port`), or any replica, to acknowledge the whole stream (REPLCONF ACK
//!    equal to master_repl_offset). The check runs on every ACK and every 100 ms.
//! 2. This node then turns itself into a replica of that one (`failover-in-progress`) and
//!    sends it `PSYNC <our replid> <our offset + 1> FAILOVER`, which makes the target promote
//!    itself (REPLICAOF NO ONE: a new replid, ours kept as its replid2) and answer
//!    `+CONTINUE <new replid>`. Our other replicas are then disconnected (the replid changed)
//!    and come back to us, now a replica too: a chain, continuing partially.
//! 3. +CONTINUE or +FULLRESYNC ends the failover (writes resume, and meet READONLY); any other
//!    reply aborts it: this node becomes a primary again.
//!
//! `TIMEOUT ms` aborts step 1 after that long (with `FORCE` and `TO`, the switchover happens
//! anyway); `FAILOVER ABORT` aborts at any step. INFO's `master_failover_state` shows the
//! step. The receiving side (a replica promoting itself on PSYNC ... FAILOVER) is in
//! `commands/server/repl_primary.rs`.

use super::{replica, Handle};
use parking_lot::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

/// The steps INFO names.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Phase {
    #[default]
    None,
    WaitForSync,
    InProgress,
}

impl Phase {
    pub fn name(self) -> &'static str {
        match self {
            Phase::None => "no-failover",
            Phase::WaitForSync => "waiting-for-sync",
            Phase::InProgress => "failover-in-progress",
        }
    }
}

#[derive(Default)]
struct Inner {
    phase: Phase,
    /// TO host port, or the replica found caught up.
    target: Option<(String, u16)>,
    /// Unix ms when waiting-for-sync times out (0: never).
    end_ms: u64,
    force: bool,
}

#[derive(Default)]
pub struct Failover {
    inner: Mutex<Inner>,
    /// A failover is under way (the cheap check of the cron and of every ACK).
    active: AtomicBool,
}

impl Failover {
    pub fn phase(&self) -> Phase {
        if !self.active.load(Ordering::Acquire) {
            return Phase::None;
        }
        self.inner.lock().phase
    }

    pub fn in_progress(&self) -> bool {
        self.phase() != Phase::None
    }
}

/// FAILOVER's arguments once parsed.
pub struct Request {
    /// TO host port (the port as given: any integer, matched against replicas' ports).
    pub target: Option<(String, i64)>,
    pub timeout_ms: u64,
    pub force: bool,
}

/// FAILOVER [TO host port [FORCE]] [TIMEOUT ms] after its arguments parsed: Redis's checks in
/// Redis's order, then the write pause and waiting-for-sync. The error is the reply's text.
pub fn start(state: Handle, request: Request, now_ms: u64) -> Result<(), &'static str> {
    let repl = &state.replication;
    if repl.failover.in_progress() {
        return Err("FAILOVER already in progress.");
    }
    if repl.is_replica() {
        return Err("FAILOVER is not valid when server is a replica.");
    }
    if repl.primary.count() == 0 {
        return Err("FAILOVER requires connected replicas.");
    }
    if request.force && (request.timeout_ms == 0 || request.target.is_none()) {
        return Err("FAILOVER with force option requires both a timeout and target HOST and IP.");
    }
    let mut target = None;
    if let Some((host, port)) = &request.target {
        let found = u16::try_from(*port)
            .ok()
            .and_then(|port| repl.primary.find(host, port));
        let Some(link) = found else {
            return Err("FAILOVER target HOST and PORT is not a replica.");
        };
        if link.state.load(Ordering::Relaxed) != super::primary::ONLINE {
            return Err("FAILOVER target replica is not online.");
        }
        tracing::info!("FAILOVER requested to {host}:{port}.");
        target = Some((host.clone(), link.port));
    } else {
        tracing::info!("FAILOVER requested to any replica.");
    }
    {
        let mut inner = repl.failover.inner.lock();
        *inner = Inner {
            phase: Phase::WaitForSync,
            target,
            end_ms: if request.timeout_ms > 0 {
                now_ms.saturating_add(request.timeout_ms)
            } else {
                0
            },
            force: request.force,
        };
        repl.failover.active.store(true, Ordering::Release);
    }
    state.pause.set_failover(true);
    Ok(())
}

/// FAILOVER ABORT.
pub fn abort_command(state: Handle) -> Result<(), &'static str> {
    if !state.replication.failover.in_progress() {
        return Err("No failover in progress.");
    }
    abort(state, "Failover manually aborted");
    Ok(())
}

/// Whether the failover waiting for a replica has a deadline (Redis then sends no PING while
/// writes are held).
pub fn has_deadline(state: Handle) -> bool {
    let failover = &state.replication.failover;
    failover.active.load(Ordering::Acquire) && failover.inner.lock().end_ms != 0
}

/// Redis's `abortFailover`: a node already demoted becomes a primary again (a new replid);
/// writes resume.
pub fn abort(state: Handle, why: &str) {
    let failover = &state.replication.failover;
    let (phase, target) = {
        let inner = failover.inner.lock();
        (inner.phase, inner.target.clone())
    };
    if phase == Phase::None {
        return;
    }
    match &target {
        Some((host, port)) => tracing::info!("FAILOVER to {host}:{port} aborted: {why}"),
        None => tracing::info!("FAILOVER to any replica aborted: {why}"),
    }
    if phase == Phase::InProgress {
        replica::promote(state);
    }
    clear(state);
}

/// Redis's `clearFailoverState`: no failover, writes resume.
pub fn clear(state: Handle) {
    let failover = &state.replication.failover;
    *failover.inner.lock() = Inner::default();
    failover.active.store(false, Ordering::Release);
    state.pause.set_failover(false);
}

/// Redis's `updateFailoverStatus`, on every ACK and every 100 ms while waiting for sync: the
/// timeout (abort, or with FORCE the switchover), else the switchover once the target (or
/// the first replica found) has acknowledged the whole stream.
pub fn update(state: Handle) {
    let failover = &state.replication.failover;
    if !failover.active.load(Ordering::Acquire) {
        return;
    }
    let mut inner = failover.inner.lock();
    if inner.phase != Phase::WaitForSync {
        return;
    }
    let now = state.clock.now_ms();
    if inner.end_ms != 0 && inner.end_ms <= now {
        if inner.force {
            if let Some((host, port)) = inner.target.clone() {
                tracing::info!("FAILOVER to {host}:{port} time out exceeded, failing over.");
                inner.phase = Phase::InProgress;
                drop(inner);
                demote(state, &host, port);
                return;
            }
        }
        drop(inner);
        abort(state, "Replica never caught up before timeout");
        return;
    }
    let offset = state.replication.offset();
    let primary = &state.replication.primary;
    let caught_up = match &inner.target {
        Some((host, port)) => primary.find(host, *port),
        None => primary.links().into_iter().find(|l| {
            l.state.load(Ordering::Relaxed) == super::primary::ONLINE
                && l.ack_offset.load(Ordering::Relaxed) == offset
        }),
    }
    .filter(|l| l.ack_offset.load(Ordering::Relaxed) == offset);
    let Some(link) = caught_up else { return };
    let (host, port) = (link.ip.clone(), link.port);
    inner.target = Some((host.clone(), port));
    inner.phase = Phase::InProgress;
    drop(inner);
    tracing::info!("Failover target {host}:{port} is synced, failing over.");
    demote(state, &host, port);
}

/// This node becomes a replica of the target; its link sends PSYNC ... FAILOVER.
fn demote(state: Handle, host: &str, port: u16) {
    match state.server.arc() {
        Some(server) => {
            replica::replicate(server, host, port, false);
        }
        None => abort(state, "the server is shutting down"),
    }
}

/// Whether the PSYNC this node's link sends now carries FAILOVER.
pub fn psync_asks_failover(state: Handle) -> bool {
    state.replication.failover.phase() == Phase::InProgress
}
