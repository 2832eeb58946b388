//! Scripting commands: EVAL, EVALSHA, EVAL_RO, EVALSHA_RO and the SCRIPT container.
//!
//! Scripts run alone (ALL_SHARDS: the gate's exclusive section), locking each shard on first
//! use, since a script may touch keys it did not declare in KEYS (Odoo's ormcache builds its
//! key names inside the script). The VM, the cache
//! and the run live in `crate::scripting`.

pub mod function;

use crate::engine::help_reply;
use crate::engine::registry::Found;
use crate::error::CommandError;
use crate::protocol::Reply;
use crate::scripting::run::{self, Calls};
use crate::scripting::{Access, Source};
use crate::{
    engine::flags::*, engine::CommandResult, engine::CommandSpec, engine::Ctx, engine::KeySpec,
};
use bytes::Bytes;

/// How a script's `redis.call` reaches the engine: dispatch's nested run, and the OOM state
/// dispatch recorded when the script started (EVAL and FCALL hand it to `scripting::run`).
pub struct Engine;

impl Calls for Engine {
    #[inline]
    fn run_nested(ctx: &mut Ctx<'_>, found: Found, argv: &[Bytes]) -> Reply {
        crate::engine::dispatch::run_nested(ctx, found, argv)
    }

    #[inline]
    fn started_over_memory() -> bool {
        crate::engine::maxmemory::script_oom()
    }
}

const EVAL_FLAGS: crate::engine::Flags = NOSCRIPT
    | SKIP_MONITOR
    | MAY_REPLICATE
    | NO_MANDATORY_KEYS
    | STALE
    | ALL_SHARDS
    | SHOWN_BEFORE_RUNNING;
const EVAL_RO_FLAGS: crate::engine::Flags = NOSCRIPT
    | SKIP_MONITOR
    | NO_MANDATORY_KEYS
    | STALE
    | READONLY
    | ALL_SHARDS
    | SHOWN_BEFORE_RUNNING;

const fn spec(
    name: &'static str,
    flags: crate::engine::Flags,
    since: &'static str,
    summary: &'static str,
    run: crate::engine::CommandFn,
) -> CommandSpec {
    call_spec(
        name,
        flags,
        since,
        summary,
        "Depends on the script that is executed.",
        numkeys_keys,
        run,
    )
}

/// The table entry of a command that runs Lua with `numkeys` keys after its first argument
/// (EVAL and its forms here, FCALL and FCALL_RO in `function`).
pub(super) const fn call_spec(
    name: &'static str,
    flags: crate::engine::Flags,
    since: &'static str,
    summary: &'static str,
    complexity: &'static str,
    keys: crate::engine::KeyFinder,
    run: crate::engine::CommandFn,
) -> CommandSpec {
    CommandSpec {
        name,
        arity: -3,
        flags,
        keys: KeySpec::Custom(keys),
        acl: &["slow", "scripting"],
        group: "scripting",
        summary,
        since,
        complexity,
        run,
        subcommands: &[],
    }
}

const fn sub(
    name: &'static str,
    arity: i32,
    flags: crate::engine::Flags,
    since: &'static str,
    summary: &'static str,
    run: crate::engine::CommandFn,
) -> CommandSpec {
    CommandSpec::subcommand(
        name,
        arity,
        flags,
        "scripting",
        &["slow", "scripting"],
        since,
        summary,
        "",
        run,
    )
}

pub static COMMANDS: &[CommandSpec] = &[
    spec(
        "eval",
        EVAL_FLAGS | SCRIPT_BODY,
        "2.6.0",
        "Executes a server-side Lua script.",
        eval,
    ),
    spec(
        "evalsha",
        EVAL_FLAGS | SCRIPT_SHA,
        "2.6.0",
        "Executes a server-side Lua script by SHA1 digest.",
        evalsha,
    ),
    spec(
        "eval_ro",
        EVAL_RO_FLAGS,
        "7.0.0",
        "Executes a read-only server-side Lua script.",
        eval_ro,
    ),
    spec(
        "evalsha_ro",
        EVAL_RO_FLAGS,
        "7.0.0",
        "Executes a read-only server-side Lua script by SHA1 digest.",
        evalsha_ro,
    ),
    CommandSpec {
        name: "script",
        arity: -2,
        flags: 0,
        keys: KeySpec::None,
        acl: &[],
        group: "scripting",
        summary: "A container for Lua scripts management commands.",
        since: "2.6.0",
        complexity: "Depends on subcommand.",
        run: crate::engine::subcommands_only,
        subcommands: &[
            sub(
                "debug",
                3,
                NOSCRIPT,
                "3.2.0",
                "Sets the debug mode of server-side Lua scripts.",
                debug,
            ),
            sub(
                "exists",
                -3,
                NOSCRIPT,
                "2.6.0",
                "Determines whether server-side Lua scripts exist in the script cache.",
                exists,
            ),
            sub(
                "flush",
                -2,
                NOSCRIPT,
                "2.6.0",
                "Removes all server-side Lua scripts from the script cache.",
                flush,
            ),
            sub(
                "help",
                2,
                LOADING | STALE,
                "5.0.0",
                "Returns helpful text about the different subcommands.",
                help,
            ),
            sub(
                "kill",
                2,
                NOSCRIPT | ALLOW_BUSY,
                "2.6.0",
                "Terminates a server-side Lua script during execution.",
                kill,
            ),
            sub(
                "load",
                3,
                NOSCRIPT | STALE,
                "2.6.0",
                "Loads a server-side Lua script to the script cache.",
                load,
            ),
        ],
    },
];

/// KEYS of an EVAL-like command: `numkeys` arguments after it (for COMMAND GETKEYS; dispatch
/// locks every shard for scripts anyway).
fn numkeys_keys(argv: &[Bytes]) -> Vec<(Option<usize>, usize)> {
    let Some(n) = argv
        .get(2)
        .and_then(|a| crate::engine::args::parse_i64(a).ok())
    else {
        return Vec::new();
    };
    let available = argv.len().saturating_sub(3);
    let n = usize::try_from(n).unwrap_or(0).min(available);
    (3..3 + n).map(|i| (None, i)).collect()
}

fn eval(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CommandResult {
    run::eval::<Engine>(ctx, argv, Source::Body, Access::ReadWrite)
}

fn evalsha(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CommandResult {
    run::eval::<Engine>(ctx, argv, Source::Sha, Access::ReadWrite)
}

fn eval_ro(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CommandResult {
    run::eval::<Engine>(ctx, argv, Source::Body, Access::ReadOnly)
}

fn evalsha_ro(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CommandResult {
    run::eval::<Engine>(ctx, argv, Source::Sha, Access::ReadOnly)
}

fn load(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CommandResult {
    let sha = ctx.state.scripting.load(&argv[2])?;
    Ok(Reply::bulk(sha))
}

fn exists(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CommandResult {
    let mut out = Vec::with_capacity(argv.len() - 2);
    for sha in &argv[2..] {
        out.push(Reply::Int(ctx.state.scripting.exists(sha)? as i64));
    }
    Ok(Reply::Array(out))
}

/// SCRIPT FLUSH [ASYNC|SYNC]: both modes flush at once (the VM is dropped in place).
fn flush(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CommandResult {
    let mode_ok = match &argv[2..] {
        [] => true,
        [mode] => mode.eq_ignore_ascii_case(b"sync") || mode.eq_ignore_ascii_case(b"async"),
        _ => false,
    };
    if !mode_ok {
        return Err(CommandError::err(
            "SCRIPT FLUSH only support SYNC|ASYNC option",
        ));
    }
    ctx.state.scripting.flush()?;
    Ok(Reply::Ok)
}

fn kill(ctx: &mut Ctx<'_>, _argv: &[Bytes]) -> CommandResult {
    match ctx.state.scripting.busy.request_kill() {
        Ok(()) => Ok(Reply::Ok),
        Err(refusal) => Err(CommandError::other(refusal.text())),
    }
}

/// SCRIPT DEBUG: only NO is accepted; the Lua debugger is not implemented.
fn debug(_ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CommandResult {
    let mode = &argv[2];
    if mode.eq_ignore_ascii_case(b"no") {
        Ok(Reply::Ok)
    } else if mode.eq_ignore_ascii_case(b"yes") || mode.eq_ignore_ascii_case(b"sync") {
        Err(CommandError::err(
            "SCRIPT DEBUG is not supported by this server",
        ))
    } else {
        Err(CommandError::err("Use SCRIPT DEBUG YES/SYNC/NO"))
    }
}

const HELP: &[&str] = &[
    "SCRIPT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "DEBUG (YES|SYNC|NO)",
    "    Set the debug mode for subsequent scripts executed.",
    "EXISTS <sha1> [<sha1> ...]",
    "    Return information about the existence of the scripts in the script cache.",
    "FLUSH [ASYNC|SYNC]",
    "    Flush the Lua scripts cache. Very dangerous on replicas.",
    "    When called without the optional mode argument, the behavior is determined by the",
    "    lazyfree-lazy-user-flush configuration directive. Valid modes are:",
    "    * ASYNC: Asynchronously flush the scripts cache.",
    "    * SYNC: Synchronously flush the scripts cache.",
    "KILL",
    "    Kill the currently executing Lua script.",
    "LOAD <script>",
    "    Load a script into the scripts cache without executing it.",
    "HELP",
    "    Prints this help.",
];

fn help(_ctx: &mut Ctx<'_>, _argv: &[Bytes]) -> CommandResult {
    Ok(help_reply(HELP))
}
