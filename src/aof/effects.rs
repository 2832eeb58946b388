//! What a command propagates to the AOF: its effects, not its request.
//!
//! The rule (Redis's): a write command that changed something (`Ctx::changed` grew) is logged
//! as requested. A command whose request would not replay to the same state says what to log
//! instead with `Ctx::propagate` (relative times become absolute ones, INCRBYFLOAT becomes SET,
//! SPOP becomes SREM, ...); once it has called `propagate`, its request is not logged. Nested
//! commands (MULTI/EXEC, scripts) each follow the rule, and a top-level command whose effects
//! are several records is logged wrapped in MULTI/EXEC, so a replay applies all or nothing.
//! Lazily expired keys found by a command are logged as DEL before its own effects.

use crate::engine::{flags, CommandResult, CommandSpec, Ctx};
use bytes::Bytes;

/// Effects collected while a top-level command runs (dispatch appends them to the log before
/// it releases the command's shard locks).
#[derive(Debug, Default)]
pub struct Effects {
    /// (database, argv) in the order they happened.
    pub records: Vec<(usize, Vec<Bytes>)>,
    /// The running (possibly nested) command called `Ctx::propagate`.
    pub declared: bool,
}

impl Effects {
    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }
}

/// Runs one command (top-level or nested) and records its effects by the rule above, while
/// `aof` records effects (`Aof::recording`).
pub fn run_logged(
    aof: &super::Aof,
    ctx: &mut Ctx<'_>,
    spec: &CommandSpec,
    argv: &[Bytes],
    run: impl FnOnce(&mut Ctx<'_>) -> CommandResult,
) -> CommandResult {
    if !aof.recording() {
        return run(ctx);
    }
    let changed_before = ctx.changed;
    let outer_declared = std::mem::replace(&mut ctx.effects.declared, false);
    let db = ctx.client.db;
    let result = run(ctx);
    if !ctx.effects.declared && spec.has(flags::WRITE) && ctx.changed > changed_before {
        ctx.effects.records.push((db, argv.to_vec()));
    }
    ctx.effects.declared = outer_declared;
    result
}

/// Builds an argv from static words and byte arguments.
pub fn argv(parts: &[&[u8]]) -> Vec<Bytes> {
    parts.iter().map(|p| Bytes::copy_from_slice(p)).collect()
}
