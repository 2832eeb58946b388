//! Connection commands: PING ECHO SELECT QUIT RESET HELLO AUTH. CLIENT lives in `client_cmd.rs`.
//!
//! AUTH and HELLO AUTH check a name and password against the ACL user table (src/acl); the
//! `default` user takes any password while it is `nopass` (no `requirepass`). Authentication
//! state lives in `ClientState`; dispatch refuses commands without the NO_AUTH flag until it is
//! set, while the default user needs a password.

pub mod client;
pub mod tracking;

use crate::command;
use crate::config::REDIS_VERSION;
use crate::engine::args::{is, parse_i64};
use crate::engine::client::ReplyMode;
use crate::error::CommandError;
use crate::protocol::{Protocol, Reply};
use crate::{
    engine::flags::*, engine::CommandResult, engine::CommandSpec, engine::Ctx, engine::KeySpec,
};
use bytes::Bytes;

pub static COMMANDS: &[CommandSpec] = &[
    command!(
        "ping",
        -1,
        FAST | REFUSED_LIKE_WRITE | PONG_WHILE_SUBSCRIBED | ALLOWED_WHILE_SUBSCRIBED,
        KeySpec::None,
        &["connection", "fast"],
        "connection",
        "1.0.0",
        "Returns the server's liveliness response.",
        ping
    ),
    command!(
        "echo",
        2,
        LOADING | STALE | FAST,
        KeySpec::None,
        &["connection", "fast"],
        "connection",
        "1.0.0",
        "Returns the given string.",
        echo
    ),
    command!(
        "select",
        2,
        LOADING | STALE | FAST,
        KeySpec::None,
        &["connection", "fast"],
        "connection",
        "1.0.0",
        "Changes the selected database.",
        select
    ),
    command!(
        "quit",
        -1,
        ALLOW_BUSY
            | NOSCRIPT
            | LOADING
            | STALE
            | FAST
            | NO_AUTH
            | NOT_QUEUED
            | ENDS_TRANSACTION
            | ALLOWED_WHILE_SUBSCRIBED,
        KeySpec::None,
        &["connection", "fast"],
        "connection",
        "1.0.0",
        "Closes the connection.",
        quit
    ),
    command!(
        "reset",
        1,
        NOSCRIPT
            | LOADING
            | STALE
            | FAST
            | NO_AUTH
            | ALLOW_BUSY
            | NOT_QUEUED
            | ENDS_TRANSACTION
            | CHANGES_LISTENING
            | ALLOWED_WHILE_SUBSCRIBED,
        KeySpec::None,
        &["connection", "fast"],
        "connection",
        "6.2.0",
        "Resets the connection.",
        reset
    ),
    command!(
        "hello",
        -1,
        NOSCRIPT | LOADING | STALE | FAST | NO_AUTH | ALLOW_BUSY,
        KeySpec::None,
        &["connection", "fast"],
        "connection",
        "6.0.0",
        "Handshakes with the Redis server.",
        hello
    ),
    command!(
        "auth",
        -2,
        NOSCRIPT | LOADING | STALE | FAST | NO_AUTH | ALLOW_BUSY,
        KeySpec::None,
        &["connection", "fast"],
        "connection",
        "1.0.0",
        "Authenticates the connection.",
        auth
    ),
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
    // Redis reads the index as a C int before checking it against `databases`.
    let n = parse_i64(&argv[1])?;
    if i32::try_from(n).is_err() {
        return Err(CommandError::err(
            "value is out of range, value must between -2147483648 and 2147483647",
        ));
    }
    if ctx.state.cluster.enabled() && n != 0 {
        return Err(CommandError::err("SELECT is not allowed in cluster mode"));
    }
    let db = usize::try_from(n)
        .ok()
        .filter(|&db| db < ctx.state.keyspace.databases())
        .ok_or(CommandError::DbIndex)?;
    set_db(ctx, db);
    Ok(Reply::Ok)
}

fn set_db(ctx: &mut Ctx<'_>, db: usize) {
    ctx.client.db = db;
    ctx.client.info.details.lock().db = db;
}

fn quit(ctx: &mut Ctx<'_>, _argv: &[Bytes]) -> CommandResult {
    ctx.client.close_after_reply = true;
    Ok(Reply::Ok)
}

/// RESET: back to a fresh connection's state, as Redis's `clearClientConnectionState`. The
/// library name and version stay: they still describe the client behind the connection.
fn reset(ctx: &mut Ctx<'_>, _argv: &[Bytes]) -> CommandResult {
    crate::engine::context::reset_client(ctx.state, ctx.client);
    set_db(ctx, 0);
    set_protocol(ctx, Protocol::Resp2);
    set_default_user(ctx);
    ctx.client.reply_mode = ReplyMode::On;
    ctx.client.no_evict = false;
    ctx.client.no_touch = false;
    let mut details = ctx.client.info.details.lock();
    details.name.clear();
    details.no_evict = false;
    details.no_touch = false;
    details.readonly = false;
    details.multi = -1;
    Ok(Reply::status("RESET"))
}

fn set_protocol(ctx: &mut Ctx<'_>, protocol: Protocol) {
    ctx.client.protocol = protocol;
    // What other connections' Pub/Sub messages and keyspace events to this one are framed as.
    ctx.client.pubsub.outbox.set_protocol(protocol);
    ctx.client.info.details.lock().resp = match protocol {
        Protocol::Resp2 => 2,
        Protocol::Resp3 => 3,
    };
}

/// HELLO [protover [AUTH username password] [SETNAME clientname]]
fn hello(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CommandResult {
    let mut protocol = None;
    if argv.len() >= 2 {
        let version = parse_i64(&argv[1])
            .map_err(|_| CommandError::err("Protocol version is not an integer or out of range"))?;
        protocol = Some(match version {
            2 => Protocol::Resp2,
            3 => Protocol::Resp3,
            _ => return Err(CommandError::other("NOPROTO unsupported protocol version")),
        });
    }
    let mut credentials = None;
    let mut name = None;
    let mut i = 2;
    while i < argv.len() {
        let more = argv.len() - i - 1;
        if is(&argv[i], "auth") && more >= 2 {
            credentials = Some((&argv[i + 1], &argv[i + 2]));
            i += 3;
        } else if is(&argv[i], "setname") && more >= 1 {
            // Redis validates the name while parsing, before authenticating.
            validate_client_name(&argv[i + 1])?;
            name = Some(&argv[i + 1]);
            i += 2;
        } else {
            return Err(CommandError::err(format!(
                "Syntax error in HELLO option '{}'",
                c_string_lossy(&argv[i])
            )));
        }
    }
    if let Some((user, password)) = credentials {
        authenticate(ctx, user, password)?;
    }
    if !ctx.client.authenticated {
        return Err(CommandError::other("NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO <proto> AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time"));
    }
    if let Some(name) = name {
        ctx.client.info.details.lock().name = name.to_vec();
    }
    if let Some(protocol) = protocol {
        set_protocol(ctx, protocol);
    }
    let proto_num = match ctx.client.protocol {
        Protocol::Resp2 => 2,
        Protocol::Resp3 => 3,
    };
    Ok(Reply::Map(vec![
        (Reply::bulk_static("server"), Reply::bulk_static("redis")),
        (
            Reply::bulk_static("version"),
            Reply::bulk_static(REDIS_VERSION),
        ),
        (Reply::bulk_static("proto"), Reply::Int(proto_num)),
        (Reply::bulk_static("id"), Reply::Int(ctx.client.id as i64)),
        (
            Reply::bulk_static("mode"),
            Reply::bulk_static(if ctx.state.cluster.enabled() {
                "cluster"
            } else {
                "standalone"
            }),
        ),
        (
            Reply::bulk_static("role"),
            Reply::bulk_static(if ctx.state.replication.is_replica() {
                "replica"
            } else {
                "master"
            }),
        ),
        (Reply::bulk_static("modules"), Reply::Array(vec![])),
    ]))
}

/// AUTH [username] password
fn auth(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CommandResult {
    let (user, password): (&[u8], &[u8]) = match argv.len() {
        2 => {
            if !ctx.state.acl.default_needs_auth() {
                return Err(CommandError::err("AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?"));
            }
            (b"default", &argv[1])
        }
        3 => (&argv[1], &argv[2]),
        _ => return Err(CommandError::Syntax),
    };
    authenticate(ctx, user, password)?;
    Ok(Reply::Ok)
}

/// Checks a username/password pair against the ACL users and makes the client run as that
/// user. A failed attempt leaves the client's state as it was and is written to the ACL LOG,
/// as in Redis.
fn authenticate(ctx: &mut Ctx<'_>, user: &[u8], password: &[u8]) -> Result<(), CommandError> {
    let Some(found) = ctx.state.acl.authenticate(user, password) else {
        crate::acl::log_auth_failure(&ctx.state.acl, ctx.state.clock.now_ms(), ctx.client, user);
        return Err(CommandError::other(
            "WRONGPASS invalid username-password pair or user is disabled.",
        ));
    };
    ctx.client.info.details.lock().user = found.name_lossy();
    ctx.client.user = found;
    ctx.client.authenticated = true;
    Ok(())
}

/// Back to the `default` user, authenticated only while it needs no password (RESET, a new
/// connection).
fn set_default_user(ctx: &mut Ctx<'_>) {
    ctx.client.user = ctx.state.acl.default_user();
    ctx.client.authenticated = !ctx.state.acl.default_needs_auth();
    ctx.client.info.details.lock().user = "default".into();
}

/// Client names, library names and versions are shown space-separated in CLIENT LIST, so only
/// printable ASCII without spaces is allowed (Redis's `validateClientAttr`).
pub fn is_valid_client_attr(value: &[u8]) -> bool {
    value.iter().all(|c| (b'!'..=b'~').contains(c))
}

pub fn validate_client_name(name: &[u8]) -> Result<(), CommandError> {
    if !is_valid_client_attr(name) {
        return Err(CommandError::err(
            "Client names cannot contain spaces, newlines or special characters.",
        ));
    }
    Ok(())
}

/// An argument as Redis prints it with `%s`: up to its first NUL byte.
pub fn c_string_lossy(arg: &[u8]) -> String {
    let end = arg.iter().position(|&b| b == 0).unwrap_or(arg.len());
    String::from_utf8_lossy(&arg[..end]).into_owned()
}
