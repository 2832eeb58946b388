//! REPLICAOF / SLAVEOF and ROLE: the commands of the replica side (replication/replica.rs
//! runs the link).

use crate::command;
use crate::engine::args::parse_i64;
use crate::error::CommandError;
use crate::protocol::Reply;
use crate::{
    engine::flags::*, engine::CommandResult, engine::CommandSpec, engine::Ctx, engine::KeySpec,
};
use bytes::Bytes;

pub static COMMANDS: &[CommandSpec] = &[
    command!(
        "replicaof",
        3,
        ADMIN | NOSCRIPT | STALE | NO_ASYNC_LOADING,
        KeySpec::None,
        &["admin", "slow", "dangerous"],
        "server",
        "5.0.0",
        "Configures a server as replica of another, or promotes it to a master.",
        replicaof
    ),
    command!(
        "slaveof",
        3,
        ADMIN | NOSCRIPT | STALE | NO_ASYNC_LOADING,
        KeySpec::None,
        &["admin", "slow", "dangerous"],
        "server",
        "1.0.0",
        "Sets a Redis server as a replica of another, or promotes it to being a master.",
        replicaof
    ),
    command!(
        "role",
        1,
        NOSCRIPT | LOADING | STALE | FAST,
        KeySpec::None,
        &["admin", "fast", "dangerous"],
        "server",
        "2.8.12",
        "Returns the replication role.",
        role
    ),
];

/// Redis's `replicaofCommand`: `NO ONE` promotes, `host port` (port 0..65535) starts the link.
fn replicaof(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CommandResult {
    let state = ctx.state;
    if state.replication.failover.in_progress() {
        return Err(CommandError::err(
            "REPLICAOF not allowed while failing over.",
        ));
    }
    if argv[1].eq_ignore_ascii_case(b"no") && argv[2].eq_ignore_ascii_case(b"one") {
        if state.replication.is_replica() {
            crate::replication::replica::promote(state.replication_handle());
        }
        return Ok(Reply::Ok);
    }
    let port = parse_i64(&argv[2])
        .ok()
        .and_then(|p| u16::try_from(p).ok())
        .ok_or_else(|| CommandError::err("Invalid master port"))?;
    let Ok(host) = std::str::from_utf8(&argv[1]) else {
        return Err(CommandError::err("Invalid master host"));
    };
    if let Some(why) = crate::replication::replica::unsupported(&state.config) {
        return Err(CommandError::err(why));
    }
    let Some(arc) = state.self_arc() else {
        return Err(CommandError::err("the server is shutting down"));
    };
    if !crate::replication::replica::replicate(arc, host, port, false) {
        return Ok(Reply::status("OK Already connected to specified master"));
    }
    Ok(Reply::Ok)
}

/// ROLE: `master offset [replicas]` or `slave host port state offset`.
fn role(ctx: &mut Ctx<'_>, _argv: &[Bytes]) -> CommandResult {
    let state = ctx.state;
    Ok(
        match crate::replication::replica::role_fields(state.replication_handle()) {
            Some((host, port, link, offset)) => Reply::Array(vec![
                Reply::bulk_static("slave"),
                Reply::Bulk(Bytes::from(host)),
                Reply::Int(i64::from(port)),
                Reply::bulk_static(link),
                Reply::Int(offset),
            ]),
            None => crate::replication::primary::role_reply(state.replication_handle()),
        },
    )
}
