//! CLIENT and its subcommands: identity (ID SETNAME GETNAME SETINFO), introspection (LIST INFO
//! TRACKINGINFO GETREDIR), control of other connections (KILL PAUSE UNPAUSE UNBLOCK) and of
//! this one (REPLY NO-EVICT NO-TOUCH).
//!
//! Other connections are seen through the client registry (`clients.rs`): each connection
//! mirrors what CLIENT LIST shows into its `ClientDetails`. The calling client's own line is
//! built from its live `ClientState`, which is more precise (current command, MULTI state).

use crate::clients::ClientInfo;
use crate::command;
use crate::commands::connection::tracking::{caching, getredir, tracking, trackinginfo};
use crate::commands::connection::{c_string_lossy, is_valid_client_attr, validate_client_name};
use crate::commands::server::{container, help_result};
use crate::engine::args::{is, parse_i64};
use crate::engine::client::ReplyMode;
use crate::error::CommandError;
use crate::protocol::Reply;
use crate::{
    engine::flags::*, engine::CommandResult, engine::CommandSpec, engine::Ctx, engine::KeySpec,
};
use bytes::Bytes;

pub static COMMANDS: &[CommandSpec] = &[container(
    "client",
    "connection",
    "2.4.0",
    "A container for client connection commands.",
    SUBCOMMANDS,
)];

const CONN: &[&str] = &["connection", "slow"];
const CONN_ADMIN: &[&str] = &["admin", "connection", "slow", "dangerous"];
/// Every subcommand keeps a pending CLIENT CACHING answer for the next other command.
const BASE: crate::engine::Flags = NOSCRIPT | LOADING | STALE | KEEPS_CACHING;

static SUBCOMMANDS: &[CommandSpec] = &[
    command!(
        "caching",
        3,
        BASE,
        KeySpec::None,
        CONN,
        "connection",
        "6.0.0",
        "Instructs the server whether to track the keys in the next request.",
        caching
    ),
    command!(
        "getname",
        2,
        BASE,
        KeySpec::None,
        CONN,
        "connection",
        "2.6.9",
        "Returns the name of the connection.",
        getname
    ),
    command!(
        "getredir",
        2,
        BASE,
        KeySpec::None,
        CONN,
        "connection",
        "6.0.0",
        "Returns the client ID to which the connection's tracking notifications are redirected.",
        getredir
    ),
    command!(
        "help",
        2,
        LOADING | STALE,
        KeySpec::None,
        CONN,
        "connection",
        "5.0.0",
        "Returns helpful text about the different subcommands.",
        help
    ),
    command!(
        "id",
        2,
        BASE,
        KeySpec::None,
        CONN,
        "connection",
        "5.0.0",
        "Returns the unique client ID of the connection.",
        id
    ),
    command!(
        "info",
        2,
        BASE,
        KeySpec::None,
        CONN,
        "connection",
        "6.2.0",
        "Returns information about the connection.",
        info
    ),
    command!(
        "kill",
        -3,
        ADMIN | BASE,
        KeySpec::None,
        CONN_ADMIN,
        "connection",
        "2.4.0",
        "Terminates open connections.",
        kill
    ),
    command!(
        "list",
        -2,
        ADMIN | BASE,
        KeySpec::None,
        CONN_ADMIN,
        "connection",
        "2.4.0",
        "Lists open connections.",
        list
    ),
    command!(
        "no-evict",
        3,
        ADMIN | BASE,
        KeySpec::None,
        CONN_ADMIN,
        "connection",
        "7.0.0",
        "Sets the client eviction mode of the connection.",
        no_evict
    ),
    command!(
        "no-touch",
        3,
        BASE,
        KeySpec::None,
        CONN,
        "connection",
        "7.2.0",
        "Controls whether commands sent by the client affect the LRU/LFU of accessed keys.",
        no_touch
    ),
    command!(
        "pause",
        -3,
        ADMIN | BASE,
        KeySpec::None,
        CONN_ADMIN,
        "connection",
        "2.9.50",
        "Suspends commands processing.",
        pause
    ),
    command!(
        "reply",
        3,
        BASE,
        KeySpec::None,
        CONN,
        "connection",
        "3.2.0",
        "Instructs the server whether to reply to commands.",
        reply
    ),
    command!(
        "setinfo",
        4,
        BASE,
        KeySpec::None,
        CONN,
        "connection",
        "7.2.0",
        "Sets information specific to the client or connection.",
        setinfo
    ),
    command!(
        "setname",
        3,
        BASE,
        KeySpec::None,
        CONN,
        "connection",
        "2.6.9",
        "Sets the connection name.",
        setname
    ),
    command!(
        "tracking",
        -3,
        BASE,
        KeySpec::None,
        CONN,
        "connection",
        "6.0.0",
        "Controls server-assisted client-side caching for the connection.",
        tracking
    ),
    command!(
        "trackinginfo",
        2,
        BASE,
        KeySpec::None,
        CONN,
        "connection",
        "6.2.0",
        "Returns information about server-assisted client-side caching for the connection.",
        trackinginfo
    ),
    command!(
        "unblock",
        -3,
        ADMIN | BASE,
        KeySpec::None,
        CONN_ADMIN,
        "connection",
        "5.0.0",
        "Unblocks a client blocked by a blocking command from a different connection.",
        unblock
    ),
    command!(
        "unpause",
        2,
        ADMIN | BASE,
        KeySpec::None,
        CONN_ADMIN,
        "connection",
        "6.2.0",
        "Resumes processing commands from paused clients.",
        unpause
    ),
];

fn id(ctx: &mut Ctx<'_>, _argv: &[Bytes]) -> CommandResult {
    Ok(Reply::Int(ctx.client.id as i64))
}

fn setname(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CommandResult {
    validate_client_name(&argv[2])?;
    ctx.client.info.details.lock().name = argv[2].to_vec();
    Ok(Reply::Ok)
}

fn getname(ctx: &mut Ctx<'_>, _argv: &[Bytes]) -> CommandResult {
    let name = ctx.client.info.details.lock().name.clone();
    Ok(if name.is_empty() {
        Reply::Nil
    } else {
        Reply::Bulk(name.into())
    })
}

/// CLIENT SETINFO LIB-NAME|LIB-VER value (Redis 7.2).
fn setinfo(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CommandResult {
    let (attr, value) = (&argv[2], &argv[3]);
    let lib_name = if is(attr, "lib-name") {
        true
    } else if is(attr, "lib-ver") {
        false
    } else {
        return Err(CommandError::err(format!(
            "Unrecognized option '{}'",
            c_string_lossy(attr)
        )));
    };
    if !is_valid_client_attr(value) {
        return Err(CommandError::err(format!(
            "{} cannot contain spaces, newlines or special characters.",
            c_string_lossy(attr)
        )));
    }
    let mut details = ctx.client.info.details.lock();
    let field = if lib_name {
        &mut details.lib_name
    } else {
        &mut details.lib_ver
    };
    *field = value.to_vec();
    Ok(Reply::Ok)
}

fn info(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CommandResult {
    let mut text = client_line(ctx, &ctx.client.info.clone(), "client|info", argv);
    text.push('\n');
    Ok(Reply::Verbatim(text.into()))
}

/// CLIENT LIST [TYPE type] [ID id ...]
fn list(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CommandResult {
    let clients: Vec<std::sync::Arc<ClientInfo>> = if argv.len() == 4 && is(&argv[2], "type") {
        let kind = client_type(&argv[3])?;
        ctx.state
            .clients
            .matching(|c| !c.is_killed() && kind == type_of(c))
    } else if argv.len() > 3 && is(&argv[2], "id") {
        let mut found = Vec::new();
        for arg in &argv[3..] {
            let id = parse_i64(arg).map_err(|_| CommandError::err("Invalid client ID"))?;
            // Redis lists the clients in argument order, repeats included.
            if let Some(client) = u64::try_from(id)
                .ok()
                .and_then(|id| ctx.state.clients.get(id))
                .filter(|c| !c.is_killed())
            {
                found.push(client);
            }
        }
        found
    } else if argv.len() == 2 {
        ctx.state.clients.matching(|c| !c.is_killed())
    } else {
        return Err(CommandError::Syntax);
    };
    let mut text = String::new();
    for client in &clients {
        text.push_str(&client_line(ctx, client, "client|list", argv));
        text.push('\n');
    }
    Ok(Reply::Verbatim(text.into()))
}

/// Client classes of CLIENT LIST TYPE / KILL TYPE.
#[derive(Clone, Copy, PartialEq, Eq)]
enum ClientType {
    Normal,
    Replica,
    Master,
    PubSub,
}

/// Redis's `getClientType` for the classes tracked here: `master` for the primary's link on a
/// replica, `replica` for a replica of this node, `normal` for the others (pub/sub connections
/// are counted as normal here).
fn type_of(client: &ClientInfo) -> ClientType {
    let details = client.details.lock();
    if details.master {
        ClientType::Master
    } else if details.replica {
        ClientType::Replica
    } else {
        ClientType::Normal
    }
}

fn client_type(arg: &[u8]) -> Result<ClientType, CommandError> {
    let kind = match arg.to_ascii_lowercase().as_slice() {
        b"normal" => ClientType::Normal,
        b"slave" | b"replica" => ClientType::Replica,
        b"master" => ClientType::Master,
        b"pubsub" => ClientType::PubSub,
        _ => {
            return Err(CommandError::err(format!(
                "Unknown client type '{}'",
                c_string_lossy(arg)
            )))
        }
    };
    Ok(kind)
}

/// One CLIENT LIST line (`clients::client_line`); the calling client is described from its
/// own state, running `own_cmd` with `own_argv`.
fn client_line(ctx: &Ctx<'_>, client: &ClientInfo, own_cmd: &str, own_argv: &[Bytes]) -> String {
    let own = ctx.client.own_view(own_cmd, own_argv);
    crate::clients::client_line(
        client,
        (client.id == ctx.client.id).then_some(&own),
        ctx.now_ms,
    )
}

/// Filters of CLIENT KILL's new form; every given one must match.
#[derive(Default)]
struct KillFilter {
    id: Option<u64>,
    addr: Option<String>,
    laddr: Option<String>,
    kind: Option<ClientType>,
    skip_me: bool,
    max_age_s: Option<u64>,
    user: Option<String>,
}

/// CLIENT KILL ip:port | CLIENT KILL <filter> <value> ...
fn kill(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CommandResult {
    let old_form = argv.len() == 3;
    let filter = if old_form {
        // The old form may kill the calling client too.
        KillFilter {
            addr: Some(String::from_utf8_lossy(&argv[2]).into_owned()),
            skip_me: false,
            ..Default::default()
        }
    } else {
        parse_kill_filter(&argv[2..])?
    };
    if let Some(user) = &filter.user {
        if ctx.state.acl.get(user.as_bytes()).is_none() {
            return Err(CommandError::err(format!(
                "No such user '{}'",
                c_string_lossy(user.as_bytes())
            )));
        }
    }
    let me = ctx.client.id;
    let now_ms = ctx.now_ms;
    let victims = ctx.state.clients.matching(|c| {
        !c.is_killed()
            && filter
                .addr
                .as_ref()
                .is_none_or(|a| *a == c.addr.to_string())
            && filter
                .laddr
                .as_ref()
                .is_none_or(|a| *a == c.local_addr.to_string())
            && filter.kind.is_none_or(|k| k == type_of(c))
            && filter.id.is_none_or(|id| id == c.id)
            && filter
                .user
                .as_ref()
                .is_none_or(|u| *u == c.details.lock().user)
            && !(filter.skip_me && c.id == me)
            && filter
                .max_age_s
                .is_none_or(|max| now_ms.saturating_sub(c.created_ms) / 1000 >= max)
    });
    for victim in &victims {
        if victim.id == me {
            // Closed after this reply is written.
            ctx.client.close_after_reply = true;
        } else {
            victim.kill();
        }
    }
    if old_form {
        if victims.is_empty() {
            return Err(CommandError::err("No such client"));
        }
        return Ok(Reply::Ok);
    }
    Ok(Reply::Int(victims.len() as i64))
}

/// Options are read pair by pair, so an error in an early pair wins over a dangling last word.
fn parse_kill_filter(args: &[Bytes]) -> Result<KillFilter, CommandError> {
    let mut filter = KillFilter {
        skip_me: true,
        ..Default::default()
    };
    for pair in args.chunks(2) {
        let [option, value] = pair else {
            return Err(CommandError::Syntax);
        };
        if is(option, "id") {
            let id = parse_i64(value)
                .ok()
                .filter(|&n| n >= 1)
                .ok_or_else(|| CommandError::err("client-id should be greater than 0"))?;
            filter.id = Some(id as u64);
        } else if is(option, "type") {
            filter.kind = Some(client_type(value)?);
        } else if is(option, "addr") {
            filter.addr = Some(String::from_utf8_lossy(value).into_owned());
        } else if is(option, "laddr") {
            filter.laddr = Some(String::from_utf8_lossy(value).into_owned());
        } else if is(option, "user") {
            filter.user = Some(String::from_utf8_lossy(value).into_owned());
        } else if is(option, "skipme") {
            filter.skip_me = if is(value, "yes") {
                true
            } else if is(value, "no") {
                false
            } else {
                return Err(CommandError::Syntax);
            };
        } else if is(option, "maxage") {
            // Redis 7.4's filter: clients connected for at least that many seconds.
            let age = parse_i64(value)
                .map_err(|_| CommandError::err("maxage is not an integer or out of range"))?;
            filter.max_age_s = Some(
                u64::try_from(age)
                    .map_err(|_| CommandError::err("maxage is not an integer or out of range"))?,
            );
        } else {
            return Err(CommandError::Syntax);
        }
    }
    Ok(filter)
}

fn parse_on_off(arg: &[u8]) -> Result<bool, CommandError> {
    if is(arg, "on") {
        Ok(true)
    } else if is(arg, "off") {
        Ok(false)
    } else {
        Err(CommandError::Syntax)
    }
}

fn no_evict(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CommandResult {
    let on = parse_on_off(&argv[2])?;
    ctx.client.no_evict = on;
    ctx.client.info.details.lock().no_evict = on;
    Ok(Reply::Ok)
}

fn no_touch(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CommandResult {
    let on = parse_on_off(&argv[2])?;
    ctx.client.no_touch = on;
    ctx.client.info.details.lock().no_touch = on;
    Ok(Reply::Ok)
}

/// CLIENT REPLY ON|OFF|SKIP. The connection loop applies `ReplyMode` after each command: OFF
/// and SKIP suppress their own reply, SKIP also the next command's.
fn reply(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CommandResult {
    let mode = &argv[2];
    if is(mode, "on") {
        ctx.client.reply_mode = ReplyMode::On;
    } else if is(mode, "off") {
        ctx.client.reply_mode = ReplyMode::Off;
    } else if is(mode, "skip") {
        if ctx.client.reply_mode != ReplyMode::Off {
            ctx.client.reply_mode = ReplyMode::SkipNext;
        }
    } else {
        return Err(CommandError::Syntax);
    }
    Ok(Reply::Ok)
}

/// CLIENT PAUSE timeout [WRITE|ALL] (ms; ALL by default): see `crate::pause` and
/// `client_pause.rs` for what waits and how.
fn pause(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CommandResult {
    if argv.len() > 4 {
        return Err(CommandError::err(
            "unknown subcommand or wrong number of arguments for 'PAUSE'. Try CLIENT HELP.",
        ));
    }
    let mode = match argv.get(3) {
        None => crate::pause::Mode::All,
        Some(mode) if is(mode, "all") => crate::pause::Mode::All,
        Some(mode) if is(mode, "write") => crate::pause::Mode::Write,
        Some(_) => return Err(CommandError::err("CLIENT PAUSE mode must be WRITE or ALL")),
    };
    let timeout = parse_i64(&argv[2])
        .map_err(|_| CommandError::err("timeout is not an integer or out of range"))?;
    if timeout < 0 {
        return Err(CommandError::err("timeout is negative"));
    }
    let now = ctx.now_ms;
    let until = now.saturating_add(timeout as u64).min(i64::MAX as u64);
    ctx.state.pause.pause(mode, until, now);
    Ok(Reply::Ok)
}

fn unpause(ctx: &mut Ctx<'_>, _argv: &[Bytes]) -> CommandResult {
    ctx.state.pause.unpause();
    Ok(Reply::Ok)
}

/// CLIENT UNBLOCK id [TIMEOUT|ERROR]: ends a blocked client's wait with its timeout reply or
/// the UNBLOCKED error; 1 if it was blocked.
fn unblock(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CommandResult {
    if argv.len() > 4 {
        return Err(CommandError::err(
            "unknown subcommand or wrong number of arguments for 'UNBLOCK'. Try CLIENT HELP.",
        ));
    }
    if let Some(reason) = argv.get(3) {
        if !is(reason, "timeout") && !is(reason, "error") {
            return Err(CommandError::err(
                "CLIENT UNBLOCK reason should be TIMEOUT or ERROR",
            ));
        }
    }
    let id = parse_i64(&argv[2])?;
    let with_error = argv.get(3).is_some_and(|reason| is(reason, "error"));
    let unblocked = u64::try_from(id).is_ok_and(|id| {
        ctx.state
            .blocking
            .unblock(ctx.state.blocked_counts(), id, with_error)
    });
    Ok(Reply::Int(i64::from(unblocked)))
}

fn help(_ctx: &mut Ctx<'_>, _argv: &[Bytes]) -> CommandResult {
    help_result(CLIENT_HELP)
}

const CLIENT_HELP: &[&str] = &[
    "CLIENT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "CACHING (YES|NO)",
    "    Enable/disable tracking of the keys for next command in OPTIN/OPTOUT modes.",
    "GETREDIR",
    "    Return the client ID we are redirecting to when tracking is enabled.",
    "GETNAME",
    "    Return the name of the current connection.",
    "ID",
    "    Return the ID of the current connection.",
    "INFO",
    "    Return information about the current client connection.",
    "KILL <ip:port>",
    "    Kill connection made from <ip:port>.",
    "KILL <option> <value> [<option> <value> [...]]",
    "    Kill connections. Options are:",
    "    * ADDR (<ip:port>|<unixsocket>:0)",
    "      Kill connections made from the specified address",
    "    * LADDR (<ip:port>|<unixsocket>:0)",
    "      Kill connections made to specified local address",
    "    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
    "      Kill connections by type.",
    "    * USER <username>",
    "      Kill connections authenticated by <username>.",
    "    * SKIPME (YES|NO)",
    "      Skip killing current connection (default: yes).",
    "LIST [options ...]",
    "    Return information about client connections. Options:",
    "    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
    "      Return clients of specified type.",
    "UNPAUSE",
    "    Stop the current client pause, resuming traffic.",
    "PAUSE <timeout> [WRITE|ALL]",
    "    Suspend all, or just write, clients for <timeout> milliseconds.",
    "REPLY (ON|OFF|SKIP)",
    "    Control the replies sent to the current connection.",
    "SETNAME <name>",
    "    Assign the name <name> to the current connection.",
    "SETINFO <option> <value>",
    "    Set client meta attr. Options are:",
    "    * LIB-NAME: the client lib name.",
    "    * LIB-VER: the client lib version.",
    "UNBLOCK <clientid> [TIMEOUT|ERROR]",
    "    Unblock the specified blocked client.",
    "TRACKING (ON|OFF) [REDIRECT <id>] [BCAST] [PREFIX <prefix> [...]]",
    "         [OPTIN] [OPTOUT] [NOLOOP]",
    "    Control server assisted client side caching.",
    "TRACKINGINFO",
    "    Report tracking status for the current connection.",
    "NO-EVICT (ON|OFF)",
    "    Protect current client connection from eviction.",
    "NO-TOUCH (ON|OFF)",
    "    Will not touch LRU/LFU stats when this mode is on.",
    "HELP",
    "    Prints this help.",
];
