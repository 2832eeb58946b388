//! RDB persistence commands: SAVE and BGSAVE [SCHEDULE]. LASTSAVE lives with the other server
//! commands (it only reads a timestamp); the saving itself is in `crate::rdb`.

use crate::command;
use crate::engine::args::is;
use crate::error::CommandError;
use crate::protocol::Reply;
use crate::rdb::{self, BgsaveRefusal};
use crate::{
    engine::flags::*, engine::CommandResult, engine::CommandSpec, engine::Ctx, engine::KeySpec,
};
use bytes::Bytes;

pub static COMMANDS: &[CommandSpec] = &[
    command!(
        "save",
        1,
        ADMIN | NOSCRIPT | NO_ASYNC_LOADING | NO_MULTI,
        KeySpec::None,
        &["admin", "slow", "dangerous"],
        "server",
        "1.0.0",
        "Synchronously saves the database(s) to disk.",
        save
    ),
    command!(
        "bgsave",
        -1,
        ADMIN | NOSCRIPT | NO_ASYNC_LOADING,
        KeySpec::None,
        &["admin", "slow", "dangerous"],
        "server",
        "1.0.0",
        "Asynchronously saves the database(s) to disk.",
        bgsave
    ),
];

/// SAVE: snapshot and write on this thread; other clients keep being served meanwhile (they
/// are not blocked as they would be by Redis's SAVE), and the file is the snapshot's instant.
fn save(ctx: &mut Ctx<'_>, _argv: &[Bytes]) -> CommandResult {
    if rdb::bgsave_running(&ctx.state.rdb) {
        return Err(CommandError::err("Background save already in progress"));
    }
    rdb::save_foreground(&ctx.state.rdb_handle())
        .map(|()| Reply::Ok)
        .map_err(|_| CommandError::other("ERR"))
}

fn bgsave(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CommandResult {
    let schedule = match argv.len() {
        1 => false,
        2 if is(&argv[1], "schedule") => true,
        _ => return Err(CommandError::Syntax),
    };
    if rdb::bgsave_running(&ctx.state.rdb) {
        return Err(CommandError::err("Background save already in progress"));
    }
    // Inside EXEC or a script every shard is held: the snapshot could not be taken until this
    // command returns, so it is scheduled, as Redis does inside a transaction.
    if !ctx.locks.is_empty() {
        rdb::schedule_bgsave(&ctx.state.rdb);
        return Ok(Reply::status("Background saving scheduled"));
    }
    let _ = schedule;
    match rdb::start_bgsave(&ctx.state.rdb_handle()) {
        Ok(()) => Ok(Reply::status("Background saving started")),
        Err(BgsaveRefusal::AlreadyRunning) => {
            Err(CommandError::err("Background save already in progress"))
        }
        Err(BgsaveRefusal::NotAvailable) => Err(CommandError::other("ERR")),
    }
}
