//! BGREWRITEAOF: rewrite the append-only file in the background (see aof/rewrite.rs).

use crate::command;
use crate::error::CommandError;
use crate::protocol::Reply;
use crate::{
    engine::flags::*, engine::CommandResult, engine::CommandSpec, engine::Ctx, engine::KeySpec,
};
use bytes::Bytes;

pub static COMMANDS: &[CommandSpec] = &[CommandSpec {
    complexity: "O(1)",
    ..command!(
        "bgrewriteaof",
        1,
        ADMIN | NOSCRIPT | NO_ASYNC_LOADING,
        KeySpec::None,
        &["admin", "slow", "dangerous"],
        "server",
        "1.0.0",
        "Asynchronously rewrites the append-only file to disk.",
        bgrewriteaof
    )
}];

fn bgrewriteaof(ctx: &mut Ctx<'_>, _argv: &[Bytes]) -> CommandResult {
    let Some(state) = ctx.state.self_arc() else {
        return Err(CommandError::err(
            "Background append only file rewriting is not available",
        ));
    };
    crate::aof::rewrite::start(state).map_err(|e| {
        if e.starts_with("ERR ") {
            CommandError::other(e)
        } else {
            CommandError::err(e)
        }
    })?;
    Ok(Reply::status(
        "Background append only file rewriting started",
    ))
}
