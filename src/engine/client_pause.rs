//! Which requests CLIENT PAUSE holds, and the wait of a connection task for its turn (the
//! state and the resume queue are `crate::pause`).
//!
//! ALL holds every command; WRITE holds the commands flagged `WRITE` or `MAY_REPLICATE` (EVAL,
//! EVALSHA, FCALL, PUBLISH, SPUBLISH, PFCOUNT ..., as redis.io documents) except scripts that
//! declare `no-writes` (as redis-server 7.0.15 does), and EXEC of a transaction that queued one. Inside MULTI a command is held when it is queued, by its own
//! flags, as in Redis. A request that does not resolve (unknown command, wrong arity) is
//! answered at once. Only connection tasks wait (`dispatch::execute_async`); AOF loading and
//! internal callers are never paused.

use crate::pause::{Mode, Turn};
use crate::state::ServerState;
use crate::{engine::flags, engine::ClientState};
use bytes::Bytes;

const PAUSED_BY_WRITE: crate::engine::Flags = flags::WRITE | flags::MAY_REPLICATE;

/// Waits while the pause in force holds this request, or while earlier held requests have not
/// run yet. The turn returned is kept until the request has been dispatched, so held requests
/// run in the order they arrived. None (at once) when no pause is engaged.
pub async fn wait_unpaused<'a>(
    state: &'a ServerState,
    client: &ClientState,
    argv: &[Bytes],
) -> Option<Turn<'a>> {
    if !state.pause.maybe_engaged() {
        return None;
    }
    let now = state.clock.now_ms();
    if !state.pause.engaged(now) {
        state.pause.clear_expired(now);
        return None;
    }
    let found = state.registry.resolve(argv).ok()?;
    let spec = found.spec;
    // NOAUTH is answered at once, as Redis checks authentication before the pause ...
    if !client.authenticated && !spec.has(flags::NO_AUTH) && state.acl.default_needs_auth() {
        return None;
    }
    // So is NOPERM (dispatch refuses it, and logs it, at once).
    if !client.user.is_unrestricted()
        && !spec.has(flags::NO_AUTH)
        && client.user.check(&found, argv).is_err()
    {
        return None;
    }
    let writes = if spec.has(flags::RUNS_QUEUED) {
        client.multi.as_ref().is_some_and(|m| {
            m.queued
                .iter()
                .any(|(f, argv)| paused_by_write(state, f.spec, argv))
        })
    } else {
        paused_by_write(state, spec, argv)
    };
    let holds = move |mode: Mode| mode == Mode::All || writes;
    match state.pause.mode(now) {
        // Not held by the pause in force: runs now, beside the held ones.
        Some(mode) if !holds(mode) => None,
        // Held, or the pause just ended and held requests still wait to run: queue.
        _ => {
            // CLIENT LIST shows a held client blocked (`b`) in its command, as Redis.
            let info = client.info.clone();
            info.last_cmd.set(found.name_slot);
            {
                let mut details = info.details.lock();
                details.blocked = true;
                details.argv_mem = crate::engine::client::argv_mem(argv);
                details.argc = argv.len();
            }
            let turn = state.pause.wait_turn(|| state.clock.now_ms(), holds).await;
            info.details.lock().end_block();
            Some(turn)
        }
    }
}

/// Whether WRITE mode holds this command: its flags, except a script whose shebang (or
/// function flags) declares `no-writes`, which Redis 7 lets run during a write pause.
fn paused_by_write(state: &ServerState, spec: &crate::engine::CommandSpec, argv: &[Bytes]) -> bool {
    if !spec.has(PAUSED_BY_WRITE) {
        return false;
    }
    match crate::engine::maxmemory::script_flags_of_call(state, spec, argv) {
        Some(script) => !script.no_writes,
        None => true,
    }
}
