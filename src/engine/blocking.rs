//! Blocking commands (BLPOP, BRPOP, BLMOVE, BLMPOP, BZPOPMIN ...): the registry of clients
//! waiting on keys, and the serving of them after a write, in Redis's order (blocked.c).
//!
//! 1. A blocking command runs like any other. When a key can serve it, it replies. When none
//!    can, it returns `block_on(ctx, request)`: at top level that records a "wait on these
//!    keys" request in its client state; inside MULTI/EXEC or a script it answers the timeout
//!    reply at once (Redis never blocks there). Dispatch does not count a call that blocked.
//! 2. The connection task (`net::client`) sees the request, parks its whole `ClientState` in a
//!    `Waiter` queued FIFO under each (db, key), and awaits: a wake-up, its deadline (server
//!    clock), its socket closing or CLIENT KILL. No lock is held while it waits.
//! 3. Every write goes through `Ctx::key_changed`, which calls `Blocking::signal` (the registry
//!    is `engine::waiters`, which the server state holds): a key with
//!    waiters becomes ready (one relaxed atomic load when nobody waits). After a command,
//!    transaction or script completes, the connection that ran it calls `serve_ready`. For each
//!    ready key, the waiters on it are tried in arrival order while the key holds the type they
//!    wait for: the waiter's own command is run again, with its own `ClientState`, through
//!    `dispatch::execute` (so stats, notifications and AOF effects are its own). If it replies,
//!    the waiter leaves every queue and its task is woken with the reply; if it would block
//!    again, it keeps its place. A served BLMOVE's push makes its destination ready in turn.
//! 4. A deadline, a disconnect or CLIENT UNBLOCK removes the waiter (`settle`, `unblock`).
//!
//! Plugging in a new blocking command (BZPOPMIN as an example):
//! - flag it `BLOCKING` in its family's table; parse the timeout with `parse_timeout`;
//! - try to serve (pop from the first non-empty key); if served, `ctx.propagate` the
//!   non-blocking equivalent (ZPOPMIN) for the AOF and reply;
//! - otherwise `return block_on(ctx, BlockRequest { keys, wants: "zset", deadline_ms,
//!   timeout_reply: Reply::NilArray })`.
//!
//!   Writes to zsets already call `ctx.key_changed`, which is all the wake-up needs.
//! - a command whose re-run must differ from its request (XREAD's `$`) gives the request to
//!   re-run in `rerun`; one that must also answer when its key goes away or changes type
//!   (XREADGROUP's -NOGROUP) sets `on_any_change`, and is then tried on every change.
//!
//! The registry itself (waiters, ready keys, parked client states) is `engine::waiters`.

use crate::engine::client::BlockRequest;
use crate::error::CommandError;
use crate::protocol::Reply;
use crate::state::ServerState;
use crate::{engine::dispatch, engine::CommandResult, engine::Ctx};

/// Ends a blocking command that found nothing to serve: records the wait at top level, or
/// answers the timeout reply inside MULTI/EXEC or a script.
pub fn block_on(ctx: &mut Ctx<'_>, request: BlockRequest) -> CommandResult {
    if !may_block(ctx) {
        return Ok(request.timeout_reply);
    }
    ctx.client.blocking.request = Some(request);
    // Never sent: the connection waits and replies with what serves it.
    Ok(Reply::NilArray)
}

/// False inside MULTI/EXEC and scripts, where a blocking command answers at once (for a reply
/// that differs from its timeout reply, as BLMOVE's null bulk).
pub fn may_block(ctx: &Ctx<'_>) -> bool {
    !ctx.client.blocking.nested && ctx.client.multi.is_none()
}

/// Serves the waiters of every ready key (`waiters::Blocking::serve_ready`), each waiter's
/// command run again through `dispatch::execute`. Runs on the connection that made the keys
/// ready, after its command, holding no lock.
pub fn serve_ready(state: &ServerState) {
    state
        .blocking
        .serve_ready(&state.keyspace, &state.clock, |client, argv| {
            dispatch::execute(state, client, argv)
        });
}

/// Parses a blocking timeout in seconds (fractions allowed, 0 = forever) into an absolute
/// deadline, with Redis's `getTimeoutFromObjectOrReply` errors and rounding (up to the ms).
pub fn parse_timeout(arg: &[u8], now_ms: u64) -> Result<Option<u64>, CommandError> {
    let secs = crate::engine::args::parse_f64_opt(arg)
        .ok_or_else(|| CommandError::err("timeout is not a float or out of range"))?;
    let ms = (secs * 1000.0).ceil();
    if ms > i64::MAX as f64 {
        return Err(CommandError::err("timeout is out of range"));
    }
    if ms < 0.0 {
        return Err(CommandError::err("timeout is negative"));
    }
    let ms = ms as i64;
    if ms == 0 {
        return Ok(None);
    }
    if ms > i64::MAX - now_ms as i64 {
        return Err(CommandError::err("timeout is out of range"));
    }
    Ok(Some(now_ms + ms as u64))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timeouts() {
        assert_eq!(parse_timeout(b"0", 1000).unwrap(), None);
        assert_eq!(parse_timeout(b"0.0001", 1000).unwrap(), Some(1001));
        assert_eq!(parse_timeout(b"1.5", 1000).unwrap(), Some(2500));
        // ceil(-0.1 ms) is 0: Redis blocks forever, as here.
        assert_eq!(parse_timeout(b"-0.0001", 1000).unwrap(), None);
        assert!(parse_timeout(b"-1", 1000).is_err());
        assert!(parse_timeout(b"abc", 1000).is_err());
        assert!(parse_timeout(b"inf", 1000).is_err());
        assert!(parse_timeout(b"nan", 1000).is_err());
        assert!(parse_timeout(b"9223372036854775", 1000).is_err());
    }
}
