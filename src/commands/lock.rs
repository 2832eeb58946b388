//! Native lock primitives beyond Redis 7.2: DELIFEQ (Valkey 9) and DELEX (Redis 8.4 / Valkey
//! 9.2), so a lock holder can release its lock atomically without Lua. DELEX's IFDEQ / IFDNE
//! compare the value's XXH3 digest (`string/digest.rs`). SET's IFEQ / IFNE / IFDEQ / IFDNE
//! conditions (Redis 8.4) are parsed with SET's other options in `string.rs`.
//!
//! A lock is `SET lock <token> NX PX <ms>`; releasing it with a plain DEL could delete a lock
//! that expired and was taken by another client meanwhile, so the release compares the token
//! and deletes in one step under the key's shard lock.

use crate::command;
use crate::commands::string::as_str;
use crate::commands::string::digest::{digest_of, parse_digest};
use crate::engine::args::is;
use crate::error::CommandError;
use crate::protocol::Reply;
use crate::pubsub::notify;
use crate::{
    engine::flags::*, engine::CommandResult, engine::CommandSpec, engine::Ctx, engine::KeySpec,
};
use bytes::Bytes;

pub static COMMANDS: &[CommandSpec] = &[
    CommandSpec {
        complexity: "O(1)",
        ..command!(
            "delifeq",
            3,
            WRITE | FAST,
            KeySpec::one(),
            &["string", "fast"],
            "string",
            "9.0.0",
            "Delete key if value matches string.",
            delifeq
        )
    },
    CommandSpec {
        complexity:
            "O(1) for IFEQ/IFNE, O(N) for IFDEQ/IFDNE where N is the length of the string value.",
        ..command!(
            "delex",
            -2,
            WRITE | FAST,
            KeySpec::one(),
            &["string", "fast"],
            "string",
            "8.4.0",
            "Conditionally removes the specified key based on value or digest comparison.",
            delex
        )
    },
];

/// When DELEX deletes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum DeleteIf<'a> {
    /// No condition: like DEL of one key, whatever its type.
    Always,
    /// IFEQ: the value is exactly this string.
    Equal(&'a [u8]),
    /// IFNE: the value is any other string.
    NotEqual(&'a [u8]),
    /// IFDEQ: the value's digest is this one.
    DigestEqual(u64),
    /// IFDNE: the value's digest is another one.
    DigestNotEqual(u64),
}

fn delifeq(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CommandResult {
    delete_if(ctx, &argv[1], DeleteIf::Equal(&argv[2]))
}

fn delex(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CommandResult {
    let condition = match argv.len() {
        2 => DeleteIf::Always,
        4 if is(&argv[2], "ifeq") => DeleteIf::Equal(&argv[3]),
        4 if is(&argv[2], "ifne") => DeleteIf::NotEqual(&argv[3]),
        4 if is(&argv[2], "ifdeq") => DeleteIf::DigestEqual(parse_digest(&argv[3])?),
        4 if is(&argv[2], "ifdne") => DeleteIf::DigestNotEqual(parse_digest(&argv[3])?),
        _ => return Err(CommandError::Syntax),
    };
    delete_if(ctx, &argv[1], condition)
}

/// Deletes `key` when `condition` holds: `:1` if deleted, `:0` if missing or kept; WRONGTYPE
/// when a condition meets a value that is not a string.
fn delete_if(ctx: &mut Ctx<'_>, key: &[u8], condition: DeleteIf<'_>) -> CommandResult {
    let now = ctx.now_ms;
    let (shard, hash) = ctx.shard(key);
    let Some(entry) = shard.get_mut(hash, key, now) else {
        return Ok(Reply::Int(0));
    };
    let delete = match condition {
        DeleteIf::Always => true,
        DeleteIf::Equal(expected) => as_str(entry.value())? == expected,
        DeleteIf::NotEqual(expected) => as_str(entry.value())? != expected,
        DeleteIf::DigestEqual(d) => digest_of(as_str(entry.value())?) == d,
        DeleteIf::DigestNotEqual(d) => digest_of(as_str(entry.value())?) != d,
    };
    if !delete {
        return Ok(Reply::Int(0));
    }
    shard.remove(hash, key, now);
    let db = ctx.db();
    ctx.key_changed(db, key);
    ctx.propagate(crate::aof::effects::argv(&[b"DEL", key]));
    ctx.notify(notify::GENERIC, "del", db, key);
    Ok(Reply::Int(1))
}
