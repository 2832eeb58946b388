//! The commands a replica sends its primary (REPLCONF, PSYNC, SYNC), and FAILOVER. PSYNC and
//! SYNC only decide how the link starts (`replication::primary::psync`) and leave the hand-off
//! in the client state: the connection task then turns into a replica link (`net::replica`).
//! A replica whose link to its own primary is up serves them too (chained replication), and
//! `PSYNC <its replid> <offset> FAILOVER` from its primary promotes it first (the end of the
//! primary's FAILOVER, `replication::failover`).

use crate::command;
use crate::engine::args::{is, parse_i64};
use crate::engine::client::ReplyMode;
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
    command!(
        "failover",
        -1,
        ADMIN | NOSCRIPT | STALE,
        KeySpec::None,
        &["admin", "slow", "dangerous"],
        "server",
        "6.2.0",
        "Starts a coordinated failover from a server to one of its replicas.",
        failover
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

/// PSYNC <replid> <offset> [FAILOVER]
fn psync(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CommandResult {
    if argv.len() > 3 && is(&argv[3], "failover") && !ctx.client.info.details.lock().replica {
        // Redis's syncCommand: the primary failing over to this replica asks it to take over,
        // naming the history they share; the PSYNC then continues it from this node's replid2.
        let state = ctx.state;
        if !state.replication.is_replica() {
            return Err(CommandError::err(
                "PSYNC FAILOVER can't be sent to a master.",
            ));
        }
        if !argv[1].eq_ignore_ascii_case(state.replication.ids().replid.as_bytes()) {
            return Err(CommandError::err(
                "PSYNC FAILOVER replid must match my replid.",
            ));
        }
        tracing::warn!(
            "Failover request received for replid {}.",
            String::from_utf8_lossy(&argv[1])
        );
        crate::replication::replica::promote(state.replication_handle());
        let info = &ctx.client.info;
        tracing::info!(
            "MASTER MODE enabled (failover request from 'id={} addr={}')",
            info.id,
            info.addr
        );
    }
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
    let repl = &ctx.state.replication;
    if repl.failover.in_progress() {
        return Err(CommandError::Other(
            "NOMASTERLINK Can't SYNC while failing over".into(),
        ));
    }
    // A replica serves replicas of its own only while its link is up (it has a history to
    // offer them, and the stream to proxy).
    if repl.is_replica() && !repl.link.is_up() {
        return Err(CommandError::Other(
            "NOMASTERLINK Can't SYNC while not connected with my master".into(),
        ));
    }
    let state = ctx.state;
    // Decided before a missing backlog is created: without one, nothing can continue.
    let handoff = match psync {
        Some((replid, offset)) => {
            primary::psync(state.replication_handle(), ctx.client.id, replid, offset)
        }
        None => Handoff::Full { psync: false },
    };
    primary::ensure_backlog(state.replication_handle());
    ctx.client.repl.handoff = Some(handoff);
    // Never sent: the connection writes the link's own first line.
    Ok(Reply::Ok)
}

/// FAILOVER [TO host port [FORCE]] [ABORT] [TIMEOUT milliseconds]: Redis's argument parsing
/// and texts; the failover itself is `replication::failover`.
fn failover(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CommandResult {
    use crate::replication::failover::{self, Request};
    let state = ctx.state;
    if state.cluster.enabled() {
        return Err(CommandError::err(
            "FAILOVER not allowed in cluster mode. Use CLUSTER FAILOVER command instead.",
        ));
    }
    if argv.len() == 2 && is(&argv[1], "abort") {
        failover::abort_command(state.replication_handle()).map_err(CommandError::err)?;
        return Ok(Reply::Ok);
    }
    let mut request = Request {
        target: None,
        timeout_ms: 0,
        force: false,
    };
    let mut j = 1;
    while j < argv.len() {
        let arg = &argv[j];
        if is(arg, "timeout") && j + 1 < argv.len() && request.timeout_ms == 0 {
            let ms = parse_i64(&argv[j + 1])?;
            if ms <= 0 {
                return Err(CommandError::err("FAILOVER timeout must be greater than 0"));
            }
            request.timeout_ms = ms as u64;
            j += 1;
        } else if is(arg, "to") && j + 2 < argv.len() && request.target.is_none() {
            let port = parse_i64(&argv[j + 2])?;
            let host = String::from_utf8_lossy(&argv[j + 1]).into_owned();
            request.target = Some((host, port));
            j += 2;
        } else if is(arg, "force") && !request.force {
            request.force = true;
        } else {
            return Err(CommandError::Syntax);
        }
        j += 1;
    }
    failover::start(state.replication_handle(), request, ctx.now_ms).map_err(CommandError::err)?;
    Ok(Reply::Ok)
}
