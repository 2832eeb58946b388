//! Generic key commands (Redis's `generic` group): DEL EXISTS TYPE KEYS SCAN RENAME and the
//! expiry family (EXPIRE TTL PERSIST ...).

use super::{flags::*, CommandResult, CommandSpec, Ctx, KeySpec};
use crate::command;
use crate::protocol::Reply;
use bytes::Bytes;

pub static COMMANDS: &[CommandSpec] = &[
    command!("del", -2, WRITE, KeySpec::all_from_first(), &["keyspace", "slow"], "generic", "1.0.0", "Deletes one or more keys.", del),
    command!("exists", -2, READONLY | FAST, KeySpec::all_from_first(), &["keyspace", "fast"], "generic", "1.0.0", "Determines whether one or more keys exist.", exists),
];

fn del(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CommandResult {
    let now = ctx.now_ms;
    let db = ctx.db();
    let mut removed = 0;
    for key in &argv[1..] {
        let (shard, hash) = ctx.shard(key);
        if shard.remove(hash, key, now).is_some() {
            removed += 1;
            ctx.key_changed(db, key);
        }
    }
    Ok(Reply::Int(removed))
}

fn exists(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CommandResult {
    let now = ctx.now_ms;
    let mut count = 0;
    for key in &argv[1..] {
        let (shard, hash) = ctx.shard(key);
        if shard.contains(hash, key, now) {
            count += 1;
        }
    }
    Ok(Reply::Int(count))
}
