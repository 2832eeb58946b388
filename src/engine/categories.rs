//! ACL categories of commands (Redis's `ACL CAT`): the ones a spec declares plus those Redis
//! implies from its flags. Read by ACL rules (`+@category`), ACL CAT and COMMAND INFO/LIST.

use crate::engine::flags::*;
use crate::engine::CommandSpec;

/// ACL categories in the order Redis prints them.
pub const CATEGORIES: &[&str] = &[
    "keyspace",
    "read",
    "write",
    "set",
    "sortedset",
    "list",
    "hash",
    "string",
    "bitmap",
    "hyperloglog",
    "geo",
    "stream",
    "pubsub",
    "admin",
    "fast",
    "slow",
    "blocking",
    "dangerous",
    "connection",
    "transaction",
    "scripting",
];

/// A command's ACL categories: declared ones plus those Redis implies from its flags.
pub fn categories(spec: &CommandSpec) -> Vec<&'static str> {
    let declared = |c: &str| spec.acl.contains(&c);
    let fast = declared("fast") || spec.has(FAST);
    CATEGORIES
        .iter()
        .copied()
        .filter(|&c| {
            declared(c)
                || match c {
                    "write" => spec.has(WRITE),
                    "read" => spec.has(READONLY) && !declared("scripting"),
                    "admin" | "dangerous" => spec.has(ADMIN),
                    "pubsub" => spec.has(PUBSUB),
                    "fast" => fast,
                    "blocking" => spec.has(BLOCKING),
                    "slow" => !fast,
                    _ => false,
                }
        })
        .collect()
}
