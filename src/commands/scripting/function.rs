//! Redis Functions commands: FUNCTION LOAD / DELETE / FLUSH / LIST / DUMP / RESTORE / STATS /
//! KILL / HELP, FCALL and FCALL_RO. The libraries, their VM and the calls live in
//! `crate::scripting::functions`; a call runs on EVAL's run path under every shard lock.
//! The commands that change the libraries hold every shard too (ALL_SHARDS), so they are
//! ordered with snapshots and AOF rewrites like any write.

use crate::engine::help_reply;
use crate::error::CommandError;
use crate::protocol::Reply;
use crate::scripting::functions::RestorePolicy;
use crate::{
    engine::flags::*, engine::CommandResult, engine::CommandSpec, engine::Ctx, engine::KeySpec,
};
use bytes::Bytes;

fn is(arg: &[u8], word: &str) -> bool {
    arg.eq_ignore_ascii_case(word.as_bytes())
}

const fn fcall_spec(
    name: &'static str,
    flags: crate::engine::Flags,
    summary: &'static str,
    run: crate::engine::CommandFn,
) -> CommandSpec {
    crate::commands::scripting::call_spec(
        name,
        flags,
        "7.0.0",
        summary,
        "Depends on the function that is executed.",
        numkeys_keys,
        run,
    )
}

const fn sub(
    name: &'static str,
    arity: i32,
    flags: crate::engine::Flags,
    acl: &'static [&'static str],
    summary: &'static str,
    complexity: &'static str,
    run: crate::engine::CommandFn,
) -> CommandSpec {
    CommandSpec::subcommand(
        name,
        arity,
        flags,
        "scripting",
        acl,
        "7.0.0",
        summary,
        complexity,
        run,
    )
}

const FCALL_FLAGS: crate::engine::Flags =
    NOSCRIPT | SKIP_MONITOR | NO_MANDATORY_KEYS | STALE | ALL_SHARDS | SHOWN_BEFORE_RUNNING;
const FCALL_RO_FLAGS: crate::engine::Flags = NOSCRIPT
    | SKIP_MONITOR
    | NO_MANDATORY_KEYS
    | STALE
    | READONLY
    | ALL_SHARDS
    | SHOWN_BEFORE_RUNNING;

pub static COMMANDS: &[CommandSpec] = &[
    fcall_spec(
        "fcall",
        FCALL_FLAGS | SCRIPT_FUNCTION,
        "Invokes a function.",
        fcall,
    ),
    fcall_spec(
        "fcall_ro",
        FCALL_RO_FLAGS,
        "Invokes a read-only function.",
        fcall_ro,
    ),
    CommandSpec {
        name: "function",
        arity: -2,
        flags: 0,
        keys: KeySpec::None,
        acl: &["slow"],
        group: "scripting",
        summary: "A container for function commands.",
        since: "7.0.0",
        complexity: "Depends on subcommand.",
        run: crate::engine::subcommands_only,
        subcommands: &[
            sub(
                "delete",
                3,
                WRITE | NOSCRIPT | ALL_SHARDS,
                &["write", "slow", "scripting"],
                "Deletes a library and its functions.",
                "O(1)",
                delete,
            ),
            sub(
                "dump",
                2,
                NOSCRIPT,
                &["slow", "scripting"],
                "Dumps all libraries into a serialized binary payload.",
                "O(N) where N is the number of functions",
                dump,
            ),
            sub(
                "flush",
                -2,
                WRITE | NOSCRIPT | ALL_SHARDS,
                &["write", "slow", "scripting"],
                "Deletes all libraries and functions.",
                "O(N) where N is the number of functions deleted",
                flush,
            ),
            sub(
                "help",
                2,
                LOADING | STALE,
                &["slow", "scripting"],
                "Returns helpful text about the different subcommands.",
                "O(1)",
                help,
            ),
            sub(
                "kill",
                2,
                NOSCRIPT | ALLOW_BUSY,
                &["slow", "scripting"],
                "Terminates a function during execution.",
                "O(1)",
                kill,
            ),
            sub(
                "list",
                -2,
                NOSCRIPT,
                &["slow", "scripting"],
                "Returns information about all libraries.",
                "O(N) where N is the number of functions",
                list,
            ),
            sub(
                "load",
                -3,
                WRITE | DENYOOM | NOSCRIPT | ALL_SHARDS,
                &["write", "slow", "scripting"],
                "Creates a library.",
                "O(1) (considering compilation time is redundant)",
                load,
            ),
            sub(
                "restore",
                -3,
                WRITE | DENYOOM | NOSCRIPT | ALL_SHARDS,
                &["write", "slow", "scripting"],
                "Restores all libraries from a payload.",
                "O(N) where N is the number of functions on the payload",
                restore,
            ),
            sub(
                "stats",
                2,
                NOSCRIPT | ALLOW_BUSY,
                &["slow", "scripting"],
                "Returns information about a function during execution.",
                "O(1)",
                stats,
            ),
        ],
    },
];

/// FCALL's keys: `numkeys` arguments after it.
fn numkeys_keys(argv: &[Bytes]) -> Vec<(Option<usize>, usize)> {
    crate::engine::keys_after_numkeys(argv, 2)
}

fn fcall(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CommandResult {
    crate::scripting::run::fcall::<super::Engine>(ctx, argv, false)
}

fn fcall_ro(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CommandResult {
    crate::scripting::run::fcall::<super::Engine>(ctx, argv, true)
}

/// FUNCTION LOAD [REPLACE] code.
fn load(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CommandResult {
    let (code, options) = argv[2..].split_last().expect("arity -3");
    let mut replace = false;
    for option in options {
        if is(option, "replace") {
            replace = true;
        } else {
            return Err(CommandError::err(format!(
                "Unknown option given: {}",
                String::from_utf8_lossy(option)
            )));
        }
    }
    let name = ctx.state.scripting.functions.load(code, replace)?;
    ctx.changed += 1;
    Ok(Reply::bulk(name))
}

fn delete(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CommandResult {
    ctx.state.scripting.functions.delete(&argv[2])?;
    ctx.changed += 1;
    Ok(Reply::Ok)
}

/// FUNCTION FLUSH [ASYNC|SYNC]: both modes flush at once.
fn flush(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CommandResult {
    match argv {
        [_, _] => {}
        [_, _, mode] if is(mode, "sync") || is(mode, "async") => {}
        [_, _, _] => {
            return Err(CommandError::err(
                "FUNCTION FLUSH only supports SYNC|ASYNC option",
            ))
        }
        _ => {
            return Err(CommandError::err(format!(
                "unknown subcommand or wrong number of arguments for '{}'. Try FUNCTION HELP.",
                crate::commands::connection::c_string_lossy(&argv[1])
            )))
        }
    }
    ctx.state.scripting.functions.flush()?;
    ctx.changed += 1;
    Ok(Reply::Ok)
}

/// FUNCTION LIST [LIBRARYNAME pattern] [WITHCODE].
fn list(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CommandResult {
    let (mut pattern, mut with_code) = (None, false);
    let mut i = 2;
    while i < argv.len() {
        let arg = &argv[i];
        if !with_code && is(arg, "withcode") {
            with_code = true;
        } else if pattern.is_none() && is(arg, "libraryname") {
            if i + 1 >= argv.len() {
                return Err(CommandError::err("library name argument was not given"));
            }
            pattern = Some(&argv[i + 1][..]);
            i += 1;
        } else {
            return Err(CommandError::err(format!(
                "Unknown argument {}",
                crate::commands::connection::c_string_lossy(arg)
            )));
        }
        i += 1;
    }
    ctx.state.scripting.functions.list(pattern, with_code)
}

fn dump(ctx: &mut Ctx<'_>, _argv: &[Bytes]) -> CommandResult {
    Ok(Reply::Bulk(Bytes::from(
        ctx.state.scripting.functions.dump(),
    )))
}

/// FUNCTION RESTORE payload [FLUSH|APPEND|REPLACE].
fn restore(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CommandResult {
    let policy = match &argv[3..] {
        [] => RestorePolicy::Append,
        [p] if is(p, "append") => RestorePolicy::Append,
        [p] if is(p, "replace") => RestorePolicy::Replace,
        [p] if is(p, "flush") => RestorePolicy::Flush,
        _ => {
            return Err(CommandError::err(
                "Wrong restore policy given, value should be either FLUSH, APPEND or REPLACE.",
            ))
        }
    };
    let skip_checksum = ctx
        .state
        .rdb
        .skip_dump_checksum
        .load(std::sync::atomic::Ordering::Relaxed);
    ctx.state
        .scripting
        .functions
        .restore(&argv[2], policy, skip_checksum)?;
    ctx.changed += 1;
    Ok(Reply::Ok)
}

fn stats(ctx: &mut Ctx<'_>, _argv: &[Bytes]) -> CommandResult {
    Ok(ctx.state.scripting.functions.stats())
}

fn kill(ctx: &mut Ctx<'_>, _argv: &[Bytes]) -> CommandResult {
    match ctx.state.scripting.functions.kill() {
        Ok(()) => Ok(Reply::Ok),
        Err(refusal) => Err(CommandError::other(refusal.text())),
    }
}

fn help(_ctx: &mut Ctx<'_>, _argv: &[Bytes]) -> CommandResult {
    Ok(help_reply(FUNCTION_HELP))
}

const FUNCTION_HELP: &[&str] = &[
    "FUNCTION <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "LOAD [REPLACE] <FUNCTION CODE>",
    "    Create a new library with the given library name and code.",
    "DELETE <LIBRARY NAME>",
    "    Delete the given library.",
    "LIST [LIBRARYNAME PATTERN] [WITHCODE]",
    "    Return general information on all the libraries:",
    "    * Library name",
    "    * The engine used to run the Library",
    "    * Library description",
    "    * Functions list",
    "    * Library code (if WITHCODE is given)",
    "    It also possible to get only function that matches a pattern using LIBRARYNAME argument.",
    "STATS",
    "    Return information about the current function running:",
    "    * Function name",
    "    * Command used to run the function",
    "    * Duration in MS that the function is running",
    "    If no function is running, return nil",
    "    In addition, returns a list of available engines.",
    "KILL",
    "    Kill the current running function.",
    "FLUSH [ASYNC|SYNC]",
    "    Delete all the libraries.",
    "    When called without the optional mode argument, the behavior is determined by the",
    "    lazyfree-lazy-user-flush configuration directive. Valid modes are:",
    "    * ASYNC: Asynchronously flush the libraries.",
    "    * SYNC: Synchronously flush the libraries.",
    "DUMP",
    "    Return a serialized payload representing the current libraries, can be restored using FUNCTION RESTORE command",
    "RESTORE <PAYLOAD> [FLUSH|APPEND|REPLACE]",
    "    Restore the libraries represented by the given payload, it is possible to give a restore policy to",
    "    control how to handle existing libraries (default APPEND):",
    "    * FLUSH: delete all existing libraries.",
    "    * APPEND: appends the restored libraries to the existing libraries. On collision, abort.",
    "    * REPLACE: appends the restored libraries to the existing libraries, On collision, replace the old",
    "      libraries with the new libraries (notice that even on this option there is a chance of failure",
    "      in case of functions name collision with another library).",
    "HELP",
    "    Prints this help.",
];
