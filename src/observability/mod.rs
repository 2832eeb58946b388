//! Observability shared by every connection: the slow log and the latency monitor, fed by one
//! hook that dispatch calls after each command (top-level, queued in MULTI, or called by a
//! script), and read by the SLOWLOG and LATENCY commands.
//!
//! The hook is on the hot path: a command faster than both thresholds costs one atomic load and
//! two comparisons; nothing is allocated or locked unless an entry is recorded.

pub mod histogram;
pub mod latency;
pub mod slowlog;

use crate::clients::ClientInfo;
use crate::clock::Clock;
use crate::config::Config;
use crate::engine::flags;
use crate::engine::registry::Found;
use crate::scripting::busy::BusyState;
use bytes::Bytes;
use smallvec::SmallVec;
use std::sync::atomic::Ordering;

#[derive(Default)]
pub struct Observability {
    pub slowlog: slowlog::SlowLog,
    pub latency: latency::LatencyMonitor,
}

/// What the hook reads and writes of the server: the logs, the thresholds in the live config,
/// the clock, and whether a script is running (built by `observability_handle` in state.rs).
#[derive(Clone, Copy)]
pub struct Handle<'a> {
    pub observability: &'a Observability,
    pub config: &'a Config,
    pub clock: &'a Clock,
    pub busy: &'a BusyState,
}

/// How a command was run: directly for a client, or nested in EXEC or a script. Commands a
/// script calls are logged as Redis logs its Lua client's: address `?:0`, no name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Caller {
    Client,
    Nested,
}

/// Called by dispatch after a command ran for `elapsed_us` microseconds.
#[inline]
pub fn after_command(
    state: Handle,
    client: &ClientInfo,
    found: Found,
    argv: &[Bytes],
    elapsed_us: u64,
    caller: Caller,
) {
    let slower_than = state
        .config
        .hot
        .slowlog_slower_than_us
        .load(Ordering::Relaxed);
    let log_it = slower_than >= 0
        && elapsed_us >= slower_than as u64
        && !found.spec.has(flags::SKIP_SLOWLOG);
    // The latency threshold is in milliseconds, so faster commands never need the config read.
    let elapsed_ms = elapsed_us / 1000;
    if elapsed_ms > 0 {
        record_latency(state, found, elapsed_ms);
    }
    if log_it {
        record_slow(state, client, argv, elapsed_us, caller);
    }
}

#[cold]
fn record_latency(state: Handle, found: Found, elapsed_ms: u64) {
    let threshold = state.config.get_i64("latency-monitor-threshold");
    if threshold <= 0 || elapsed_ms < threshold as u64 {
        return;
    }
    let event = if found.spec.has(flags::FAST) {
        "fast-command"
    } else {
        "command"
    };
    let now = state.clock.now_ms() / 1000;
    state
        .observability
        .latency
        .add_sample(event, now, elapsed_ms);
}

#[cold]
fn record_slow(
    state: Handle,
    client: &ClientInfo,
    argv: &[Bytes],
    elapsed_us: u64,
    caller: Caller,
) {
    // A max-len of 0 still counts ids: Redis pushes, then trims to the limit.
    let max_len = slowlog_max_len(state);
    let by_script = caller == Caller::Nested && state.busy.is_running();
    let (peer, name) = match by_script {
        true => ("?:0".to_string(), Bytes::new()),
        false => (
            client.addr.to_string(),
            Bytes::from(client.details.lock().name.clone()),
        ),
    };
    let redacted = redacted_args(argv);
    state.observability.slowlog.push(
        slowlog::Record {
            time: state.clock.now_ms() / 1000,
            duration_us: elapsed_us,
            argv,
            redacted: &redacted,
            peer,
            name,
        },
        max_len,
    );
}

fn slowlog_max_len(state: Handle) -> usize {
    usize::try_from(state.config.get_i64("slowlog-max-len")).unwrap_or(0)
}

/// Redis trims the slow log to `slowlog-max-len` after every command while the log is enabled;
/// we trim when it is read instead, which shows the same contents without a per-command cost.
pub fn trim_slowlog(state: Handle) {
    if state
        .config
        .hot
        .slowlog_slower_than_us
        .load(Ordering::Relaxed)
        >= 0
    {
        state.observability.slowlog.trim(slowlog_max_len(state));
    }
}

/// Options whose CONFIG SET value Redis hides from the slow log.
const SENSITIVE_OPTIONS: &[&str] = &["requirepass", "masterauth", "masteruser"];

/// Indexes of the arguments Redis replaces by `(redacted)`: passwords of AUTH, HELLO AUTH,
/// CONFIG SET of a sensitive option, MIGRATE AUTH/AUTH2 and every rule of ACL SETUSER.
pub fn redacted_args(argv: &[Bytes]) -> SmallVec<[usize; 4]> {
    let is = |i: usize, word: &str| {
        argv.get(i)
            .is_some_and(|a| a.eq_ignore_ascii_case(word.as_bytes()))
    };
    let mut out = SmallVec::new();
    if is(0, "auth") {
        out.extend(1..argv.len());
    } else if is(0, "hello") {
        let mut i = 2;
        while i < argv.len() {
            if is(i, "auth") && i + 2 < argv.len() {
                out.extend([i + 1, i + 2]);
                i += 3;
            } else if is(i, "setname") && i + 1 < argv.len() {
                i += 2;
            } else {
                break;
            }
        }
    } else if is(0, "config") && is(1, "set") {
        let mut i = 2;
        while i + 1 < argv.len() {
            if SENSITIVE_OPTIONS.iter().any(|o| is(i, o)) {
                out.push(i + 1);
            }
            i += 2;
        }
    } else if is(0, "acl") && is(1, "setuser") {
        out.extend(2..argv.len());
    } else if is(0, "migrate") {
        for i in 6..argv.len() {
            if is(i, "auth") {
                out.push(i + 1);
            } else if is(i, "auth2") {
                out.extend([i + 1, i + 2]);
            }
        }
        out.retain(|&mut i| i < argv.len());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn argv(words: &[&str]) -> Vec<Bytes> {
        words
            .iter()
            .map(|w| Bytes::copy_from_slice(w.as_bytes()))
            .collect()
    }

    #[test]
    fn passwords_are_redacted() {
        assert_eq!(redacted_args(&argv(&["AUTH", "pw"])).as_slice(), &[1]);
        assert_eq!(
            redacted_args(&argv(&["auth", "u", "pw"])).as_slice(),
            &[1, 2]
        );
        assert_eq!(
            redacted_args(&argv(&["hello", "3", "SETNAME", "n", "auth", "u", "p"])).as_slice(),
            &[5, 6]
        );
        assert_eq!(
            redacted_args(&argv(&[
                "config",
                "set",
                "maxmemory",
                "1",
                "requirepass",
                "x"
            ]))
            .as_slice(),
            &[5]
        );
        assert!(redacted_args(&argv(&["config", "get", "requirepass"])).is_empty());
        assert!(redacted_args(&argv(&["set", "auth", "x"])).is_empty());
        assert_eq!(
            redacted_args(&argv(&["acl", "setuser", "bob", ">pw"])).as_slice(),
            &[2, 3]
        );
    }
}
