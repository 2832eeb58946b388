//! Server commands: DBSIZE FLUSHDB FLUSHALL SWAPDB TIME LASTSAVE SHUTDOWN COMMAND MEMORY DEBUG
//! and AUTH, plus helpers other families share (password and client-name checks).

use super::{flags::*, CommandResult, CommandSpec, Ctx, KeySpec};
use crate::command;
use crate::error::CommandError;
use crate::protocol::Reply;
use bytes::Bytes;

pub static COMMANDS: &[CommandSpec] = &[
    command!("dbsize", 1, READONLY | FAST, KeySpec::None, &["keyspace", "fast"], "server", "1.0.0", "Returns the number of keys in the database.", dbsize),
    command!("flushall", -1, WRITE | ALL_SHARDS, KeySpec::None, &["keyspace", "write", "slow", "dangerous"], "server", "1.0.0", "Removes all keys from all databases.", flushall),
];

fn dbsize(ctx: &mut Ctx<'_>, _argv: &[Bytes]) -> CommandResult {
    let db = ctx.db();
    let mut total = 0;
    ctx.for_each_shard(db, |_, shard| total += shard.len());
    Ok(Reply::Int(total as i64))
}

fn flushall(ctx: &mut Ctx<'_>, _argv: &[Bytes]) -> CommandResult {
    for db in 0..ctx.state.keyspace.databases() {
        ctx.for_each_shard(db, |_, shard| shard.clear());
    }
    ctx.changed += 1;
    Ok(Reply::Ok)
}

/// Checks a username/password pair against `requirepass` (the only user is `default`) and marks
/// the client authenticated. Error texts are Redis's.
pub fn check_password(ctx: &mut Ctx<'_>, user: &[u8], password: &[u8]) -> Result<(), CommandError> {
    let required = ctx.state.config.get("requirepass");
    let ok = user == b"default" && (required.is_empty() || required.as_bytes() == password);
    if !ok {
        return Err(CommandError::other("WRONGPASS invalid username-password pair or user is disabled."));
    }
    ctx.client.authenticated = true;
    Ok(())
}

/// Client names may not contain spaces, newlines or other special characters.
pub fn validate_client_name(name: &[u8]) -> Result<(), CommandError> {
    if name.iter().any(|&c| !(b'!'..=b'~').contains(&c)) {
        return Err(CommandError::err("Client names cannot contain spaces, newlines or special characters."));
    }
    Ok(())
}

static ACTIVE_EXPIRE: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(true);

/// DEBUG SET-ACTIVE-EXPIRE switch, read by the active-expiry task.
pub fn active_expire_enabled() -> bool {
    ACTIVE_EXPIRE.load(std::sync::atomic::Ordering::Relaxed)
}

pub fn set_active_expire(on: bool) {
    ACTIVE_EXPIRE.store(on, std::sync::atomic::Ordering::Relaxed);
}
