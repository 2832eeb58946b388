//! SLOWLOG GET / LEN / RESET / HELP: Redis's container command over the slow log that
//! `observability` fills after each command (see src/observability/slowlog.rs).

use crate::engine::help_reply;
use crate::error::CommandError;
use crate::protocol::Reply;
use crate::{
    engine::flags::*, engine::CommandResult, engine::CommandSpec, engine::Ctx, engine::KeySpec,
};
use bytes::Bytes;

const SLOWLOG_FLAGS: crate::engine::Flags = ADMIN | LOADING | STALE;

const fn sub(
    name: &'static str,
    arity: i32,
    flags: crate::engine::Flags,
    since: &'static str,
    summary: &'static str,
    complexity: &'static str,
    run: crate::engine::CommandFn,
) -> CommandSpec {
    CommandSpec::subcommand(
        name,
        arity,
        flags,
        "server",
        &[],
        since,
        summary,
        complexity,
        run,
    )
}

pub static COMMANDS: &[CommandSpec] = &[CommandSpec {
    name: "slowlog",
    arity: -2,
    flags: 0,
    keys: KeySpec::None,
    acl: &[],
    group: "server",
    summary: "A container for slow log commands.",
    since: "2.2.12",
    complexity: "Depends on subcommand.",
    run: crate::engine::subcommands_only,
    subcommands: &[
        sub(
            "get",
            -2,
            SLOWLOG_FLAGS,
            "2.2.12",
            "Returns the slow log's entries.",
            "O(N) where N is the number of entries returned",
            get,
        ),
        sub(
            "len",
            2,
            SLOWLOG_FLAGS,
            "2.2.12",
            "Returns the number of entries in the slow log.",
            "O(1)",
            len,
        ),
        sub(
            "reset",
            2,
            SLOWLOG_FLAGS,
            "2.2.12",
            "Clears all entries from the slow log.",
            "O(N) where N is the number of entries in the slowlog",
            reset,
        ),
        sub(
            "help",
            2,
            LOADING | STALE,
            "6.2.0",
            "Show helpful text about the different subcommands",
            "O(1)",
            help,
        ),
    ],
}];

/// SLOWLOG GET [count]: the newest `count` entries (10 by default, -1 for all).
fn get(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CommandResult {
    if argv.len() > 3 {
        return Err(CommandError::err(format!(
            "unknown subcommand or wrong number of arguments for '{}'. Try SLOWLOG HELP.",
            String::from_utf8_lossy(&argv[1])
        )));
    }
    let count = match argv.get(2) {
        None => Some(10),
        Some(arg) => {
            let n = crate::engine::args::parse_i64(arg)
                .ok()
                .filter(|&n| n >= -1)
                .ok_or_else(|| CommandError::err("count should be greater than or equal to -1"))?;
            // Counts past the log's length just return everything.
            (n >= 0).then(|| usize::try_from(n).unwrap_or(usize::MAX))
        }
    };
    crate::observability::trim_slowlog(ctx.state.observability_handle());
    Ok(Reply::Array(ctx.state.observability.slowlog.newest(count)))
}

fn len(ctx: &mut Ctx<'_>, _argv: &[Bytes]) -> CommandResult {
    crate::observability::trim_slowlog(ctx.state.observability_handle());
    Ok(Reply::Int(ctx.state.observability.slowlog.len() as i64))
}

fn reset(ctx: &mut Ctx<'_>, _argv: &[Bytes]) -> CommandResult {
    ctx.state.observability.slowlog.reset();
    Ok(Reply::Ok)
}

const HELP: &[&str] = &[
    "SLOWLOG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "GET [<count>]",
    "    Return top <count> entries from the slowlog (default: 10, -1 mean all).",
    "    Entries are made of:",
    "    id, timestamp, time in microseconds, arguments array, client IP and port,",
    "    client name",
    "LEN",
    "    Return the length of the slowlog.",
    "RESET",
    "    Reset the slowlog.",
    "HELP",
    "    Prints this help.",
];

fn help(_ctx: &mut Ctx<'_>, _argv: &[Bytes]) -> CommandResult {
    Ok(help_reply(HELP))
}
