//! OBJECT and its subcommands (ENCODING REFCOUNT IDLETIME FREQ HELP): introspection of one
//! key's stored value, with Redis's replies for what we represent differently.
//!
//! IDLETIME and FREQ read `Entry::access` (low 24 bits: last access on a seconds clock; high 8
//! bits: LFU counter, reported after decay as Redis does), which every lookup stamps (see
//! `keyspace::access`); OBJECT itself looks without stamping.

use crate::command;
use crate::engine::args::parse_i64;
use crate::error::CommandError;
use crate::keyspace::{Entry, ValueRef};
use crate::protocol::Reply;
use crate::{
    engine::flags::*, engine::CommandResult, engine::CommandSpec, engine::Ctx, engine::KeySpec,
};
use bytes::Bytes;

pub static COMMANDS: &[CommandSpec] = &[CommandSpec {
    name: "object",
    arity: -2,
    flags: 0,
    keys: KeySpec::None,
    acl: &["slow"],
    group: "generic",
    summary: "A container for object introspection commands.",
    since: "2.2.3",
    complexity: "Depends on subcommand.",
    run: object_container,
    subcommands: OBJECT_SUBCOMMANDS,
}];

const OBJECT_KEY: KeySpec = KeySpec::Range {
    first: 2,
    last: 2,
    step: 1,
};

static OBJECT_SUBCOMMANDS: &[CommandSpec] = &[
    command!(
        "encoding",
        3,
        READONLY | NO_TOUCH,
        OBJECT_KEY,
        &["keyspace", "slow"],
        "generic",
        "2.2.3",
        "Returns the internal encoding of a Redis object.",
        object_encoding
    ),
    command!(
        "freq",
        3,
        READONLY | NO_TOUCH,
        OBJECT_KEY,
        &["keyspace", "slow"],
        "generic",
        "4.0.0",
        "Returns the logarithmic access frequency counter of a Redis object.",
        object_freq
    ),
    command!(
        "help",
        2,
        LOADING | STALE,
        KeySpec::None,
        &["keyspace", "slow"],
        "generic",
        "6.2.0",
        "Returns helpful text about the different subcommands.",
        object_help
    ),
    command!(
        "idletime",
        3,
        READONLY | NO_TOUCH,
        OBJECT_KEY,
        &["keyspace", "slow"],
        "generic",
        "2.2.3",
        "Returns the time since the last access to a Redis object.",
        object_idletime
    ),
    command!(
        "refcount",
        3,
        READONLY | NO_TOUCH,
        OBJECT_KEY,
        &["keyspace", "slow"],
        "generic",
        "2.2.3",
        "Returns the reference count of a value of a key.",
        object_refcount
    ),
];

/// Integers Redis keeps as shared objects (OBJ_SHARED_INTEGERS); they report this refcount.
const SHARED_INTEGERS: i64 = 10_000;
const SHARED_REFCOUNT: i64 = i32::MAX as i64;

fn object_container(_ctx: &mut Ctx<'_>, _argv: &[Bytes]) -> CommandResult {
    // Dispatch resolves OBJECT's subcommands itself; this runs only if that ever changes.
    Err(CommandError::Arity("object".into()))
}

/// Runs `f` on the entry OBJECT <sub> names, or replies nil.
fn with_object(
    ctx: &mut Ctx<'_>,
    key: &[u8],
    f: impl FnOnce(&Entry) -> CommandResult,
) -> CommandResult {
    let now = ctx.now_ms;
    let (shard, hash) = ctx.shard(key);
    // Without touching: the subcommands are flagged NO_TOUCH (Redis's LOOKUP_NOTOUCH).
    match shard.get_read(hash, key, now) {
        None => Ok(Reply::Nil),
        Some(entry) => f(entry),
    }
}

fn object_encoding(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CommandResult {
    with_object(ctx, &argv[2], |e| Ok(Reply::bulk_static(e.encoding_name())))
}

fn object_refcount(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CommandResult {
    let shares_integers =
        !policy(ctx).evicts_by_access() || ctx.state.config.get_i64("maxmemory") == 0;
    with_object(ctx, &argv[2], |e| {
        let shared = match e.value() {
            ValueRef::Str(bytes) => {
                e.encoding_name() == "int"
                    && parse_i64(bytes).is_ok_and(|n| (0..SHARED_INTEGERS).contains(&n))
            }
            _ => false,
        };
        Ok(Reply::Int(if shared && shares_integers {
            SHARED_REFCOUNT
        } else {
            1
        }))
    })
}

/// The eviction policy's family, which decides what OBJECT IDLETIME / FREQ may report.
#[derive(Clone, Copy, PartialEq, Eq)]
enum PolicyKind {
    Lru,
    Lfu,
    Other,
}

impl PolicyKind {
    fn evicts_by_access(self) -> bool {
        self != PolicyKind::Other
    }
}

fn policy(ctx: &Ctx<'_>) -> PolicyKind {
    let name = ctx.state.config.get("maxmemory-policy");
    if name.ends_with("lfu") {
        PolicyKind::Lfu
    } else if name.ends_with("lru") {
        PolicyKind::Lru
    } else {
        PolicyKind::Other
    }
}

const LFU_NOT_SELECTED: &str = "An LFU maxmemory policy is not selected, access frequency not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust.";
const LFU_SELECTED: &str = "An LFU maxmemory policy is selected, idle time not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust.";

fn object_idletime(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CommandResult {
    let lfu = policy(ctx) == PolicyKind::Lfu;
    let now_ms = ctx.now_ms;
    with_object(ctx, &argv[2], |e| {
        if lfu {
            return Err(CommandError::err(LFU_SELECTED));
        }
        Ok(Reply::Int(i64::from(crate::keyspace::access::idle_secs(
            e.access(),
            now_ms,
        ))))
    })
}

fn object_freq(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CommandResult {
    let lfu = policy(ctx) == PolicyKind::Lfu;
    let now_ms = ctx.now_ms;
    with_object(ctx, &argv[2], |e| {
        if !lfu {
            return Err(CommandError::err(LFU_NOT_SELECTED));
        }
        Ok(Reply::Int(i64::from(crate::keyspace::access::lfu_decayed(
            &ctx.state.keyspace.tunables.lfu,
            e.access(),
            now_ms,
        ))))
    })
}

const OBJECT_HELP: &[&str] = &[
    "OBJECT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "ENCODING <key>",
    "    Return the kind of internal representation used in order to store the value",
    "    associated with a <key>.",
    "FREQ <key>",
    "    Return the access frequency index of the <key>. The returned integer is",
    "    proportional to the logarithm of the recent access frequency of the key.",
    "IDLETIME <key>",
    "    Return the idle time of the <key>, that is the approximated number of",
    "    seconds elapsed since the last access to the key.",
    "REFCOUNT <key>",
    "    Return the number of references of the value associated with the specified",
    "    <key>.",
    "HELP",
    "    Prints this help.",
];

fn object_help(_ctx: &mut Ctx<'_>, _argv: &[Bytes]) -> CommandResult {
    Ok(Reply::Array(
        OBJECT_HELP.iter().copied().map(Reply::status).collect(),
    ))
}
