//! The commands a replica sends its primary (REPLCONF, PSYNC, SYNC) and ROLE. PSYNC and SYNC
//! only decide how the link starts (`replication::primary::psync`) and leave the hand-off in
//! the client state: the connection task then turns into a replica link (`net::replica`).

use crate::command;
use crate::engine::args::{is, parse_i64};
use crate::engine::context::ReplyMode;
use crate::error::CommandError;
use crate::protocol::Reply;
use crate::replication::primary::{self, Handoff};
use crate::{
    engine::flags::*, engine::CommandResult, engine::CommandSpec, engine::Ctx, engine::KeySpec,
};
use bytes::Bytes;

pub static COMMANDS: &[CommandSpec] = &[
    command!(
        "replconf",
        -1,
        ADMIN | NOSCRIPT | LOADING | STALE | ALLOW_BUSY,
        KeySpec::None,
        &["admin", "slow", "dangerous"],
        "server",
        "3.0.0",
        "An internal command for configuring the replication stream.",
        replconf
    ),
    command!(
        "psync",
        -3,
        ADMIN | NOSCRIPT | NO_ASYNC_LOADING | NO_MULTI,
        KeySpec::None,
        &["admin", "slow", "dangerous"],
        "server",
        "2.8.0",
        "An internal command used in replication.",
        psync
    ),
    command!(
        "sync",
        1,
        ADMIN | NOSCRIPT | NO_ASYNC_LOADING | NO_MULTI,
        KeySpec::None,
        &["admin", "slow", "dangerous"],
        "server",
        "1.0.0",
        "An internal command used in replication.",
        sync
    ),
];

/// No reply at all (REPLCONF ACK / GETACK, as Redis): the reply is skipped like CLIENT REPLY
/// SKIP's next one.
fn no_reply(ctx: &mut Ctx<'_>) -> CommandResult {
    if ctx.client.reply_mode == ReplyMode::On {
        ctx.client.reply_mode = ReplyMode::Skipping;
    }
    Ok(Reply::Ok)
}

/// REPLCONF <option> <value> [<option> <value> ...]
fn replconf(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CommandResult {
    if argv.len().is_multiple_of(2) {
        return Err(CommandError::Syntax);
    }
    let mut at = 1;
    while at < argv.len() {
        let (option, value) = (&argv[at], &argv[at + 1]);
        if is(option, "listening-port") {
            let port = parse_i64(value)?;
            ctx.client.repl.listening_port = port as u16;
        } else if is(option, "ip-address") {
            ctx.client.repl.ip_address = Some(String::from_utf8_lossy(value).into_owned());
        } else if is(option, "capa") {
            if is(value, "eof") {
                ctx.client.repl.capa_eof = true;
            } else if is(value, "psync2") {
                ctx.client.repl.capa_psync2 = true;
            }
        } else if is(option, "ack") || is(option, "fack") {
            // Only a replica link acknowledges, and never with a reply; a plain client
            // gets none either (its ACK is read by the link loop, not here).
            return no_reply(ctx);
        } else if is(option, "getack") {
            // Asked of replicas by their primary: nothing to do on a primary.
            return no_reply(ctx);
        } else if is(option, "rdb-only") || is(option, "rdb-filter-only") {
            // Accepted as Redis does; the RDB sent is always the whole dataset.
            if is(option, "rdb-only") {
                let n = parse_i64(value)?;
                if n != 0 && n != 1 {
                    return Err(CommandError::Syntax);
                }
            }
        } else {
            return Err(CommandError::err(format!(
                "Unrecognized REPLCONF option: {}",
                String::from_utf8_lossy(option)
            )));
        }
        at += 2;
    }
    Ok(Reply::Ok)
}

/// PSYNC <replid> <offset>
fn psync(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CommandResult {
    start(ctx, Some((&argv[1], &argv[2])))
}

/// SYNC: the pre-PSYNC protocol, a full sync in the disk-based format with no +FULLRESYNC.
fn sync(ctx: &mut Ctx<'_>, _argv: &[Bytes]) -> CommandResult {
    start(ctx, None)
}

fn start(ctx: &mut Ctx<'_>, psync: Option<(&Bytes, &Bytes)>) -> CommandResult {
    if ctx.client.repl.handoff.is_some() || ctx.client.info.details.lock().replica {
        return Ok(Reply::Ok);
    }
    if ctx.state.replication.is_replica() {
        return Err(CommandError::Other(
            "NOMASTERLINK Can't SYNC while not connected with my master".into(),
        ));
    }
    let state = ctx.state;
    primary::ensure_backlog(state);
    let handoff = match psync {
        Some((replid, offset)) => primary::psync(state, ctx.client.id, replid, offset),
        None => Handoff::Full { psync: false },
    };
    ctx.client.repl.handoff = Some(handoff);
    // Never sent: the connection writes the link's own first line.
    Ok(Reply::Ok)
}
