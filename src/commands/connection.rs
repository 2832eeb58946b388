//! Connection commands: PING ECHO SELECT QUIT RESET HELLO AUTH and CLIENT.

use super::args::is;
use super::{flags::*, CommandResult, CommandSpec, Ctx, KeySpec};
use crate::command;
use crate::config::REDIS_VERSION;
use crate::error::CommandError;
use crate::protocol::{Protocol, Reply};
use bytes::Bytes;

pub static COMMANDS: &[CommandSpec] = &[
    command!("ping", -1, FAST, KeySpec::None, &["connection", "fast"], "connection", "1.0.0", "Returns the server's liveliness response.", ping),
    command!("echo", 2, FAST, KeySpec::None, &["connection", "fast"], "connection", "1.0.0", "Returns the given string.", echo),
    command!("select", 2, LOADING | STALE | FAST, KeySpec::None, &["connection", "fast"], "connection", "1.0.0", "Changes the selected database.", select),
    command!("quit", -1, ALLOW_BUSY | NOSCRIPT | LOADING | STALE | FAST | NO_AUTH, KeySpec::None, &["connection", "fast"], "connection", "1.0.0", "Closes the connection.", quit),
    command!("hello", -1, NOSCRIPT | LOADING | STALE | FAST | NO_AUTH | ALLOW_BUSY, KeySpec::None, &["connection", "fast"], "connection", "6.0.0", "Handshakes with the Redis server.", hello),
];

fn ping(_ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CommandResult {
    match argv.len() {
        1 => Ok(Reply::status("PONG")),
        2 => Ok(Reply::Bulk(argv[1].clone())),
        _ => Err(CommandError::Arity("ping".into())),
    }
}

fn echo(_ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CommandResult {
    Ok(Reply::Bulk(argv[1].clone()))
}

fn select(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CommandResult {
    let db = ctx.parse_db_index(&argv[1])?;
    ctx.client.db = db;
    ctx.client.info.details.lock().db = db;
    Ok(Reply::Ok)
}

fn quit(ctx: &mut Ctx<'_>, _argv: &[Bytes]) -> CommandResult {
    ctx.client.close_after_reply = true;
    Ok(Reply::Ok)
}

/// HELLO [protover [AUTH username password] [SETNAME clientname]]
fn hello(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CommandResult {
    let mut protocol = ctx.client.protocol;
    if argv.len() >= 2 {
        let version = super::args::parse_i64(&argv[1]).map_err(|_| CommandError::err("Protocol version is not an integer or out of range"))?;
        protocol = match version {
            2 => Protocol::Resp2,
            3 => Protocol::Resp3,
            _ => return Err(CommandError::other("NOPROTO unsupported protocol version")),
        };
    }
    let mut i = 2;
    let mut name = None;
    while i < argv.len() {
        let more = argv.len() - i - 1;
        if is(&argv[i], "auth") && more >= 2 {
            super::server::check_password(ctx, &argv[i + 1], &argv[i + 2])?;
            i += 3;
        } else if is(&argv[i], "setname") && more >= 1 {
            name = Some(argv[i + 1].clone());
            i += 2;
        } else {
            return Err(CommandError::err(format!("Syntax error in HELLO option '{}'", String::from_utf8_lossy(&argv[i]))));
        }
    }
    if !ctx.client.authenticated {
        return Err(CommandError::other("NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO <proto> AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time"));
    }
    if let Some(name) = name {
        super::server::validate_client_name(&name)?;
        ctx.client.info.details.lock().name = name.to_vec();
    }
    ctx.client.protocol = protocol;
    ctx.client.info.details.lock().resp = if protocol == Protocol::Resp3 { 3 } else { 2 };
    let proto_num = if protocol == Protocol::Resp3 { 3 } else { 2 };
    Ok(Reply::Map(vec![
        (Reply::bulk_static("server"), Reply::bulk_static("redis")),
        (Reply::bulk_static("version"), Reply::bulk_static(REDIS_VERSION)),
        (Reply::bulk_static("proto"), Reply::Int(proto_num)),
        (Reply::bulk_static("id"), Reply::Int(ctx.client.id as i64)),
        (Reply::bulk_static("mode"), Reply::bulk_static("standalone")),
        (Reply::bulk_static("role"), Reply::bulk_static("master")),
        (Reply::bulk_static("modules"), Reply::Array(vec![])),
    ]))
}
