//! Key access flags (Redis 7's key-spec flags: RO, RW, OW, RM, access, update, insert,
//! delete) of the commands that have no declared key specs in `key_specs`: per command, per
//! call where they vary with the arguments. COMMAND INFO and GETKEYSANDFLAGS print them and ACL
//! key checks (`%R~`, `%W~`) read them.

use crate::engine::flags::*;
use crate::engine::CommandSpec;
use bytes::Bytes;

/// Key-spec access flags (and notes) for commands whose flags cannot be read off the command
/// flags; the others get RO+access (read-only) or RW+update (write).
pub fn key_flags(spec: &CommandSpec) -> (&'static [&'static str], Option<&'static str>) {
    match spec.name {
        "set" => (
            &["RW", "access", "update", "variable_flags"],
            Some("RW and ACCESS due to the optional `GET` argument"),
        ),
        "del" | "unlink" => (&["RM", "delete"], None),
        "exists" | "strlen" | "type" | "ttl" | "pttl" | "expiretime" | "pexpiretime" | "dbsize"
        | "touch" => (&["RO"], None),
        "mset" | "setex" | "psetex" => (&["OW", "update"], None),
        "msetnx" | "setnx" => (&["OW", "insert"], None),
        "getdel" => (&["RW", "access", "delete"], None),
        "append" => (&["RW", "insert"], None),
        "incr" | "decr" | "incrby" | "decrby" | "incrbyfloat" | "getex" | "getset" => {
            (&["RW", "access", "update"], None)
        }
        "expire" | "pexpire" | "expireat" | "pexpireat" | "persist" | "setrange" => {
            (&["RW", "update"], None)
        }
        "setbit" => (&["RW", "access", "update"], None),
        "pfadd" => (&["RW", "insert"], None),
        "pfcount" => (
            &["RW", "access"],
            Some("RW because it may change the internal representation of the key, and propagate to replicas"),
        ),
        "pfdebug" => (&["RW", "access"], None),
        "bitfield" => (
            &["RW", "access", "update", "variable_flags"],
            Some("This command allows both access and modification of the key"),
        ),
        "zcard" => (&["RO"], None),
        "zincrby" => (&["RW", "access", "update"], None),
        "zrem" | "zremrangebyrank" | "zremrangebyscore" | "zremrangebylex" => {
            (&["RW", "delete"], None)
        }
        "zpopmin" | "zpopmax" | "bzpopmin" | "bzpopmax" => (&["RW", "access", "delete"], None),
        "sadd" | "hsetnx" => (&["RW", "insert"], None),
        "srem" | "hdel" => (&["RW", "delete"], None),
        "spop" => (&["RW", "access", "delete"], None),
        "hincrby" | "hincrbyfloat" | "hgetex" => (&["RW", "access", "update"], None),
        "hgetdel" => (&["RW", "access", "delete"], None),
        "sismember" | "scard" | "hexists" | "hlen" | "hstrlen" => (&["RO"], None),
        "lpush" | "rpush" | "lpushx" | "rpushx" | "linsert" => (&["RW", "insert"], None),
        "lpop" | "rpop" | "blpop" | "brpop" => (&["RW", "access", "delete"], None),
        "lrem" | "ltrim" => (&["RW", "delete"], None),
        "llen" => (&["RO"], None),
        _ if spec.has(WRITE) => (&["RW", "update"], None),
        _ if spec.has(READONLY) => (&["RO", "access"], None),
        _ => (&["RO"], None),
    }
}

/// Commands whose keys Redis describes with several index/range key specs (a destination and
/// its sources): (flags, begin index, lastkey) for each.
pub fn split_key_specs(
    spec: &CommandSpec,
) -> Option<&'static [(&'static [&'static str], i32, i32)]> {
    match spec.name {
        "bitop" => Some(&[(&["OW", "update"], 2, 0), (&["RO", "access"], 3, -1)]),
        "pfmerge" => Some(&[
            (&["RW", "access", "insert"], 1, 0),
            (&["RO", "access"], 2, -1),
        ]),
        _ => None,
    }
}

/// The key-spec flags of the `nth` key of a call (`argv` from the command name): what COMMAND
/// GETKEYSANDFLAGS reports and what ACL key checks read.
pub fn key_flags_of_call(
    spec: &CommandSpec,
    argv: &[Bytes],
    nth: usize,
) -> &'static [&'static str] {
    per_key_flags(spec, argv, nth).unwrap_or_else(|| key_flags(spec).0)
}

/// The flags of the `nth` key of a call (`argv` from the command name) when they differ
/// between keys or with the arguments: a destination and its sources, SORT's STORE key,
/// BITFIELD with only GET subcommands (Redis's `bitfieldGetKeys`).
pub fn per_key_flags(
    spec: &CommandSpec,
    argv: &[Bytes],
    nth: usize,
) -> Option<&'static [&'static str]> {
    if let Some(parts) = split_key_specs(spec) {
        return Some(parts[nth.min(1)].0);
    }
    match spec.name {
        "sort" if nth > 0 => Some(&["OW", "update"]),
        "sort" | "sort_ro" => Some(&["RO", "access"]),
        "bitfield" => Some(if bitfield_only_reads(argv) {
            &["RO", "access"]
        } else {
            &["RW", "access", "update"]
        }),
        _ => None,
    }
}

/// Whether a BITFIELD call (`argv` from the command name) only reads, as Redis's
/// `bitfieldGetKeys` decides it for key flags and ACL checks: GET and OVERFLOW only, anything
/// else (including a syntax error) counts as a write.
pub fn bitfield_only_reads(argv: &[Bytes]) -> bool {
    let is = |a: &Bytes, word: &str| a.eq_ignore_ascii_case(word.as_bytes());
    let mut i = 2;
    while i < argv.len() {
        let rest = argv.len() - i - 1;
        let a = &argv[i];
        if is(a, "get") && rest >= 2 {
            i += 3;
        } else if is(a, "overflow") && rest >= 1 {
            i += 2;
        } else {
            return false;
        }
    }
    true
}
