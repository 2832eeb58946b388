//! ACL SETUSER GETUSER DELUSER LIST USERS WHOAMI CAT LOG DRYRUN GENPASS LOAD SAVE HELP: the
//! commands over the user table of src/acl. Replies and errors follow Redis 7.2.

use crate::acl::log::Entry;
use crate::engine::args::{is, parse_i64};
use crate::error::CommandError;
use crate::protocol::Reply;
use crate::{
    engine::flags::*, engine::help_reply, engine::CommandResult, engine::CommandSpec, engine::Ctx,
    engine::KeySpec,
};
use bytes::Bytes;

const ACL_FLAGS: crate::engine::Flags = ADMIN | NOSCRIPT | LOADING | STALE;
const INFO_FLAGS: crate::engine::Flags = NOSCRIPT | LOADING | STALE;

const fn sub(
    name: &'static str,
    arity: i32,
    flags: crate::engine::Flags,
    summary: &'static str,
    run: crate::engine::CommandFn,
) -> CommandSpec {
    CommandSpec::subcommand(name, arity, flags, "server", &[], "6.0.0", summary, "", run)
}

pub static COMMANDS: &[CommandSpec] = &[CommandSpec {
    name: "acl",
    arity: -2,
    flags: 0,
    keys: KeySpec::None,
    acl: &[],
    group: "server",
    summary: "A container for Access List Control commands.",
    since: "6.0.0",
    complexity: "Depends on subcommand.",
    run: crate::engine::subcommands_only,
    subcommands: &[
        sub(
            "cat",
            -2,
            INFO_FLAGS,
            "Lists the ACL categories, or the commands inside a category.",
            cat,
        ),
        sub(
            "deluser",
            -3,
            ACL_FLAGS,
            "Deletes ACL users, and terminates their connections.",
            deluser,
        ),
        CommandSpec {
            since: "7.0.0",
            ..sub(
                "dryrun",
                -4,
                ACL_FLAGS,
                "Simulates the execution of a command by a user, without executing the command.",
                dryrun,
            )
        },
        sub(
            "genpass",
            -2,
            INFO_FLAGS,
            "Generates a pseudorandom, secure password that can be used to identify ACL users.",
            genpass,
        ),
        sub(
            "getuser",
            3,
            ACL_FLAGS,
            "Lists the ACL rules of a user.",
            getuser,
        ),
        sub(
            "help",
            2,
            LOADING | STALE,
            "Returns helpful text about the different subcommands.",
            help,
        ),
        sub(
            "list",
            2,
            ACL_FLAGS,
            "Dumps the effective rules in ACL file format.",
            list,
        ),
        sub(
            "load",
            2,
            ACL_FLAGS,
            "Reloads the rules from the configured ACL file.",
            load,
        ),
        sub(
            "log",
            -2,
            ACL_FLAGS,
            "Lists recent security events generated due to ACL rules.",
            log,
        ),
        sub(
            "save",
            2,
            ACL_FLAGS,
            "Saves the effective ACL rules in the configured ACL file.",
            save,
        ),
        sub(
            "setuser",
            -3,
            ACL_FLAGS,
            "Creates and modifies an ACL user and its rules.",
            setuser,
        ),
        sub("users", 2, ACL_FLAGS, "Lists all ACL users.", users),
        sub(
            "whoami",
            2,
            INFO_FLAGS,
            "Returns the authenticated username of the current connection.",
            whoami,
        ),
    ],
}];

/// ACL GENPASS's limit, as Redis's.
const GENPASS_BITS_MAX: i64 = 4096;
const GENPASS_BITS_DEFAULT: i64 = 256;
const LOG_COUNT_DEFAULT: usize = 10;

fn setuser(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CommandResult {
    let name = &argv[2];
    if !crate::acl::file::valid_username(name) {
        return Err(CommandError::err(
            "Usernames can't contain spaces or null characters",
        ));
    }
    let env = crate::acl::rule_env(&ctx.state.registry, &ctx.state.config);
    let rules = crate::acl::rules::merge_selector_args(&argv[3..]).map_err(|start| {
        CommandError::err(format!(
            "Unmatched parenthesis in acl selector starting at '{}'.",
            client_text(&argv[3 + start])
        ))
    })?;
    ctx.state
        .acl
        .set_user(name, &rules, &env)
        .map_err(|(i, reason)| {
            // The modifier is printed with %s: up to its first NUL byte.
            let rule = &rules[i];
            let end = rule.iter().position(|&b| b == 0).unwrap_or(rule.len());
            let mut text = b"ERR Error in ACL SETUSER modifier '".to_vec();
            text.extend_from_slice(&rule[..end]);
            text.extend_from_slice(b"': ");
            text.extend_from_slice(reason.0.as_bytes());
            CommandError::Raw(one_line(text))
        })?;
    if let Some(user) = ctx.state.acl.get(name) {
        crate::acl::disconnect_refused_subscribers(
            &ctx.state.clients,
            &ctx.state.pubsub,
            ctx.client,
            &user,
        );
    }
    Ok(Reply::Ok)
}

/// GETUSER: flags, passwords, then the root permissions (commands, keys, channels) and one
/// such map per selector.
fn getuser(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CommandResult {
    let Some(user) = ctx.state.acl.get(&argv[2]) else {
        return Ok(Reply::Nil);
    };
    let rules = user.rules();
    let bulks = |words: Vec<String>| {
        Reply::Array(
            words
                .into_iter()
                .map(|w| Reply::bulk(w.into_bytes()))
                .collect(),
        )
    };
    let flags = rules.flag_names().iter().map(|f| f.to_string()).collect();
    let mut fields = vec![
        (Reply::bulk_static("flags"), bulks(flags)),
        (
            Reply::bulk_static("passwords"),
            bulks(rules.passwords.clone()),
        ),
    ];
    fields.extend(permission_fields(&rules));
    let selectors = rules
        .selectors
        .iter()
        .map(|s| Reply::Map(permission_fields(s)))
        .collect();
    fields.push((Reply::bulk_static("selectors"), Reply::Array(selectors)));
    Ok(Reply::Map(fields))
}

/// `commands`, `keys`, `channels` of the root permissions or of a selector.
fn permission_fields(rules: &crate::acl::rules::UserRules) -> Vec<(Reply, Reply)> {
    vec![
        (
            Reply::bulk_static("commands"),
            Reply::bulk(rules.describe_commands()),
        ),
        (
            Reply::bulk_static("keys"),
            Reply::bulk(rules.describe_keys().join(&b' ')),
        ),
        (
            Reply::bulk_static("channels"),
            Reply::bulk(rules.describe_channels().join(&b' ')),
        ),
    ]
}

fn deluser(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CommandResult {
    if argv[2..].iter().any(|name| name.as_ref() == b"default") {
        return Err(CommandError::err("The 'default' user cannot be removed"));
    }
    let mut removed = 0;
    for name in &argv[2..] {
        if let Some(user) = ctx.state.acl.remove_user(name) {
            crate::acl::disconnect_clients_of(&ctx.state.clients, ctx.client, &user);
            removed += 1;
        }
    }
    Ok(Reply::Int(removed))
}

fn list(ctx: &mut Ctx<'_>, _argv: &[Bytes]) -> CommandResult {
    let lines = crate::acl::file::list_lines(&ctx.state.acl);
    Ok(Reply::Array(lines.into_iter().map(Reply::Bulk).collect()))
}

fn users(ctx: &mut Ctx<'_>, _argv: &[Bytes]) -> CommandResult {
    let users = ctx.state.acl.users();
    Ok(Reply::Array(
        users.iter().map(|u| Reply::bulk(u.name.clone())).collect(),
    ))
}

fn whoami(ctx: &mut Ctx<'_>, _argv: &[Bytes]) -> CommandResult {
    Ok(Reply::bulk(ctx.client.user.name.clone()))
}

/// CAT: every category, or the commands (and `parent|sub` subcommands) in one.
fn cat(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CommandResult {
    use crate::engine::categories::{categories, CATEGORIES};
    match argv.len() {
        2 => Ok(Reply::Array(
            CATEGORIES.iter().map(|c| Reply::bulk_static(c)).collect(),
        )),
        3 => {
            let wanted = String::from_utf8_lossy(&argv[2]).to_ascii_lowercase();
            if !CATEGORIES.contains(&wanted.as_str()) {
                let shown = client_text(&argv[2]);
                let shown: String = shown.chars().take(128).collect();
                return Err(CommandError::err(format!("Unknown category '{shown}'")));
            }
            let mut names: Vec<&str> = ctx
                .state
                .registry
                .all_entries()
                .filter(|f| categories(f.spec).contains(&wanted.as_str()))
                .map(|f| f.full_name)
                .collect();
            names.sort_unstable();
            Ok(Reply::Array(
                names.into_iter().map(Reply::bulk_static).collect(),
            ))
        }
        _ => Err(subcommand_syntax_error(&argv[1])),
    }
}

/// LOG [count | RESET]
fn log(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CommandResult {
    if argv.len() > 3 {
        return Err(subcommand_syntax_error(&argv[1]));
    }
    let count = match argv.get(2) {
        None => LOG_COUNT_DEFAULT,
        Some(arg) if is(arg, "reset") => {
            ctx.state.acl.log.reset();
            return Ok(Reply::Ok);
        }
        Some(arg) => {
            let n = parse_i64(arg)?;
            usize::try_from(n).unwrap_or(0)
        }
    };
    let now_ms = ctx.now_ms;
    let entries = ctx.state.acl.log.newest(count);
    Ok(Reply::Array(
        entries.iter().map(|e| log_entry(e, now_ms)).collect(),
    ))
}

fn log_entry(e: &Entry, now_ms: u64) -> Reply {
    let field = Reply::bulk_static;
    Reply::Map(vec![
        (field("count"), Reply::Int(e.count as i64)),
        (field("reason"), field(e.reason.name())),
        (field("context"), field(e.context.name())),
        (field("object"), Reply::bulk(e.object.clone())),
        (field("username"), Reply::bulk(e.username.clone())),
        (
            field("age-seconds"),
            Reply::Double(now_ms.saturating_sub(e.created_ms) as f64 / 1000.0),
        ),
        (
            field("client-info"),
            Reply::bulk(e.client_info.clone().into_bytes()),
        ),
        (field("entry-id"), Reply::Int(e.entry_id as i64)),
        (field("timestamp-created"), Reply::Int(e.created_ms as i64)),
        (
            field("timestamp-last-updated"),
            Reply::Int(e.updated_ms as i64),
        ),
    ])
}

/// DRYRUN user command [arg ...]: OK, or the reason as a bulk string.
fn dryrun(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CommandResult {
    let Some(user) = ctx.state.acl.get(&argv[2]) else {
        return Err(CommandError::err(format!(
            "User '{}' not found",
            client_text(&argv[2])
        )));
    };
    let call = &argv[3..];
    let found = match ctx.state.registry.resolve(call) {
        Ok(found) => found,
        Err(CommandError::Arity(name)) => return Err(CommandError::Arity(name)),
        Err(_) => {
            return Err(CommandError::err(format!(
                "Command '{}' not found",
                client_text(&call[0])
            )))
        }
    };
    match user.check(&found, call) {
        Ok(()) => Ok(Reply::Ok),
        Err(denied) => Ok(Reply::bulk(
            crate::acl::denied_message(&user, &found, call, denied, true).into_bytes(),
        )),
    }
}

/// GENPASS [bits]: hex from the system's random source, `bits` rounded up to whole digits.
fn genpass(_ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CommandResult {
    if argv.len() > 3 {
        return Err(subcommand_syntax_error(&argv[1]));
    }
    let bits = match argv.get(2) {
        Some(arg) => parse_i64(arg)?,
        None => GENPASS_BITS_DEFAULT,
    };
    if bits <= 0 || bits > GENPASS_BITS_MAX {
        return Err(CommandError::err(format!("ACL GENPASS argument must be the number of bits for the output password, a positive number up to {GENPASS_BITS_MAX}")));
    }
    let digits = (bits as usize).div_ceil(4);
    let mut random = vec![0u8; digits.div_ceil(2)];
    use std::io::Read;
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut random))
        .map_err(|e| CommandError::err(format!("Failed to read random bytes: {e}")))?;
    let mut hex = String::with_capacity(random.len() * 2);
    for byte in random {
        hex.push_str(&format!("{byte:02x}"));
    }
    hex.truncate(digits);
    Ok(Reply::bulk(hex.into_bytes()))
}

/// Client bytes quoted in an error: up to the first NUL (C's %s), on one line.
fn client_text(arg: &[u8]) -> String {
    crate::commands::connection::c_string_lossy(arg).replace(['\r', '\n'], " ")
}

fn one_line(mut text: Vec<u8>) -> Vec<u8> {
    for b in text.iter_mut() {
        if *b == b'\r' || *b == b'\n' {
            *b = b' ';
        }
    }
    text
}

/// Redis's `addReplySubcommandSyntaxError`, naming the subcommand as the client typed it.
fn subcommand_syntax_error(sub: &[u8]) -> CommandError {
    let name: String = client_text(sub).chars().take(128).collect();
    CommandError::err(format!(
        "unknown subcommand or wrong number of arguments for '{name}'. Try ACL HELP."
    ))
}

const NO_ACLFILE: &str = "This Redis instance is not configured to use an ACL file. You may want to specify users via the ACL SETUSER command and then issue a CONFIG REWRITE (assuming you have a Redis configuration file set) in order to store users in the Redis configuration.";

/// LOAD: replaces every user from `aclfile`; connections of users that were replaced close.
fn load(ctx: &mut Ctx<'_>, _argv: &[Bytes]) -> CommandResult {
    let path = ctx.state.config.get("aclfile");
    if path.is_empty() {
        return Err(CommandError::err(NO_ACLFILE));
    }
    let users = crate::acl::file::load(
        &crate::acl::rule_env(&ctx.state.registry, &ctx.state.config),
        &path,
    )
    .map_err(CommandError::err)?;
    let gone = ctx.state.acl.replace_all(users, &ctx.state.registry);
    for user in &gone {
        crate::acl::disconnect_clients_of(&ctx.state.clients, ctx.client, user);
    }
    Ok(Reply::Ok)
}

fn save(ctx: &mut Ctx<'_>, _argv: &[Bytes]) -> CommandResult {
    let path = ctx.state.config.get("aclfile");
    if path.is_empty() {
        return Err(CommandError::err(NO_ACLFILE));
    }
    crate::acl::file::save(&ctx.state.acl, &path).map_err(|e| {
        tracing::warn!("ACL SAVE to {path} failed: {e}");
        CommandError::err(
            "There was an error trying to save the ACLs. Please check the server logs for more information",
        )
    })?;
    Ok(Reply::Ok)
}

fn help(_ctx: &mut Ctx<'_>, _argv: &[Bytes]) -> CommandResult {
    Ok(help_reply(HELP))
}

const HELP: &[&str] = &[
    "ACL <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "CAT [<category>]",
    "    List all commands that belong to <category>, or all command categories",
    "    when no category is specified.",
    "DELUSER <username> [<username> ...]",
    "    Delete a list of users.",
    "DRYRUN <username> <command> [<arg> ...]",
    "    Returns whether the user can execute the given command without executing the command.",
    "GETUSER <username>",
    "    Get the user's details.",
    "GENPASS [<bits>]",
    "    Generate a secure 256-bit user password. The optional `bits` argument can",
    "    be used to specify a different size.",
    "LIST",
    "    Show users details in config file format.",
    "LOAD",
    "    Reload users from the ACL file.",
    "LOG [<count> | RESET]",
    "    Show the ACL log entries.",
    "SAVE",
    "    Save the current config to the ACL file.",
    "SETUSER <username> <attribute> [<attribute> ...]",
    "    Create or modify a user with the specified attributes.",
    "USERS",
    "    List all the registered usernames.",
    "WHOAMI",
    "    Return the current connection username.",
    "HELP",
    "    Prints this help.",
];
