//! The command table against redis-server 7.0.15's: for every command and subcommand both
//! servers have, COMMAND INFO's reply must be byte for byte Redis's, in RESP2 and RESP3: name,
//! arity, flags, first/last/step, ACL categories, tips, key specifications and the subcommands
//! (their entries compared one by one under their own names; the list's order is the order of
//! Redis's hash table, random per process, so only its type and its members are compared). So
//! COMMAND GETKEYSANDFLAGS, client-side key routing and ACL checks agree with Redis.
//!
//! The commands ferrocache has that 7.0.15 lacks are named in `LATER` with the Redis version
//! that added them, the ones 7.0.15 has that ferrocache lacks in `ABSENT`; the few fields where
//! ferrocache follows a later Redis in `KNOWN`. Each list must be exact: an entry that excuses
//! nothing fails the test, so the lists only shrink.

mod common;
use common::{RawClient, Server};
use std::collections::HashSet;

/// Commands and subcommands that redis-server 7.0.15 does not have, with the Redis version that
/// added them (or why ferrocache has them); COMMAND INFO of these is checked by the key spec and
/// docs tests only (tests/command_docs.rs).
const LATER: &[(&str, &str)] = &[
    ("client|no-touch", "Redis 7.2"),
    ("client|setinfo", "Redis 7.2"),
    ("cluster|myshardid", "Redis 7.2"),
    ("waitaof", "Redis 7.2"),
    ("hexpire", "Redis 7.4"),
    ("hexpireat", "Redis 7.4"),
    ("hexpiretime", "Redis 7.4"),
    ("hpersist", "Redis 7.4"),
    ("hpexpire", "Redis 7.4"),
    ("hpexpireat", "Redis 7.4"),
    ("hpexpiretime", "Redis 7.4"),
    ("hpttl", "Redis 7.4"),
    ("httl", "Redis 7.4"),
    ("hgetdel", "Redis 8.0"),
    ("hgetex", "Redis 8.0"),
    ("hsetex", "Redis 8.0"),
    ("xackdel", "Redis 8.2"),
    ("xdelex", "Redis 8.2"),
    ("msetex", "Redis 8.4"),
    ("digest", "Redis 8.4"),
    ("delex", "Redis 8.4"),
    (
        "delifeq",
        "ferrocache's own lock command (docs/compatibility.md, beyond Redis)",
    ),
];

/// Commands redis-server 7.0.15 has that ferrocache does not (docs/compatibility.md says so).
const ABSENT: &[(&str, &str)] = &[];

/// Fields where ferrocache follows the Redis version it reports (7.4) rather than 7.0.15:
/// (command, field, why).
const KNOWN: &[(&str, &str, &str)] = &[
    (
        "zrank",
        "arity",
        "-3: Redis 7.2 added WITHSCORE (7.0.15: 3)",
    ),
    (
        "zrevrank",
        "arity",
        "-3: Redis 7.2 added WITHSCORE (7.0.15: 3)",
    ),
    (
        "publish",
        "flags",
        "may_replicate, as in Redis 7.2's table (7.0.15 holds PUBLISH in a CLIENT PAUSE WRITE all the same)",
    ),
    ("spublish", "flags", "may_replicate, as in Redis 7.2's table"),
    ("eval", "flags", "may_replicate, as in Redis 7.2's table"),
    ("evalsha", "flags", "may_replicate, as in Redis 7.2's table"),
    ("pfcount", "flags", "may_replicate, as in Redis 7.2's table"),
];

const FIELDS: [&str; 10] = [
    "name",
    "arity",
    "flags",
    "first key",
    "last key",
    "step",
    "acl categories",
    "tips",
    "key specs",
    "subcommands",
];

use common::resp_tree::{call, parse, text, Node};

fn names(client: &mut RawClient) -> Vec<String> {
    let reply = call(client, &["COMMAND", "LIST"]);
    let (list, _) = parse(&reply, 0).unwrap();
    let mut names: Vec<String> = list.kids.iter().map(text).collect();
    names.sort();
    names
}

fn short(raw: &[u8]) -> String {
    let text = String::from_utf8_lossy(raw).replace("\r\n", " ");
    if text.len() > 400 {
        format!("{}...", &text[..400])
    } else {
        text
    }
}

#[test]
fn command_info_matches_redis_server_for_every_command() {
    let Some(redis_server) = Server::start_redis(&[]) else {
        panic!("redis-server is not installed: the test command installs it (see README)");
    };
    let ours_server = Server::start(&[]);
    let mut report = Vec::new();
    let mut used_known = HashSet::new();
    let mut compared = 0;
    for resp3 in [false, true] {
        let proto = if resp3 { "RESP3" } else { "RESP2" };
        let (mut ours, mut theirs) = (ours_server.raw(), redis_server.raw());
        if resp3 {
            for client in [&mut ours, &mut theirs] {
                call(client, &["HELLO", "3"]);
            }
        }
        let (our_names, their_names) = (names(&mut ours), names(&mut theirs));
        let only_ours: Vec<&String> = our_names
            .iter()
            .filter(|n| !their_names.contains(n))
            .collect();
        let only_theirs: Vec<&String> = their_names
            .iter()
            .filter(|n| !our_names.contains(n))
            .collect();
        let mut later: Vec<&str> = LATER.iter().map(|(n, _)| *n).collect();
        later.sort();
        let mut absent: Vec<&str> = ABSENT.iter().map(|(n, _)| *n).collect();
        absent.sort();
        assert_eq!(
            only_ours, later,
            "{proto}: commands ferrocache has and redis-server 7.0.15 lacks (LATER)"
        );
        assert_eq!(
            only_theirs, absent,
            "{proto}: commands redis-server 7.0.15 has and ferrocache lacks (ABSENT)"
        );
        for name in our_names.iter().filter(|n| their_names.contains(n)) {
            let (a, b) = (
                call(&mut ours, &["COMMAND", "INFO", name]),
                call(&mut theirs, &["COMMAND", "INFO", name]),
            );
            compared += 1;
            if a == b {
                continue;
            }
            let ((a, _), (b, _)) = (parse(&a, 0).unwrap(), parse(&b, 0).unwrap());
            let (a, b) = (&a.kids[0], &b.kids[0]);
            if a.kids.len() != 10 || b.kids.len() != 10 {
                report.push(format!(
                    "{proto} {name}: {} vs {}",
                    short(a.raw),
                    short(b.raw)
                ));
                continue;
            }
            for (i, field) in FIELDS.iter().enumerate() {
                let (x, y) = (&a.kids[i], &b.kids[i]);
                if *field == "subcommands" {
                    // Same container type and members (each entry is compared under its own
                    // name); the subcommands Redis added after 7.0.15 are in LATER.
                    let member_names = |n: &Node| {
                        let mut v: Vec<String> = n
                            .kids
                            .iter()
                            .map(|e| text(&e.kids[0]))
                            .filter(|s| !later.contains(&s.as_str()))
                            .collect();
                        v.sort();
                        v
                    };
                    if x.raw[0] != y.raw[0] || member_names(x) != member_names(y) {
                        report.push(format!(
                            "{proto} {name} subcommands: {} {:?} vs {} {:?}",
                            x.raw[0] as char,
                            member_names(x),
                            y.raw[0] as char,
                            member_names(y)
                        ));
                    }
                    continue;
                }
                if x.raw == y.raw {
                    continue;
                }
                if let Some(k) = KNOWN.iter().position(|(n, f, _)| n == name && f == field) {
                    used_known.insert(k);
                    continue;
                }
                report.push(format!(
                    "{proto} {name} {field}:\n    ferrocache:   {}\n    redis-server: {}",
                    short(x.raw),
                    short(y.raw)
                ));
            }
        }
    }
    let stale: Vec<_> = (0..KNOWN.len())
        .filter(|k| !used_known.contains(k))
        .map(|k| KNOWN[k])
        .collect();
    assert!(
        stale.is_empty(),
        "KNOWN differences that are gone: {stale:?}"
    );
    assert!(
        compared > 2 * 350,
        "only {compared} COMMAND INFO replies compared"
    );
    assert!(
        report.is_empty(),
        "COMMAND INFO differs ({} of {compared} replies):\n{}",
        report.len(),
        report.join("\n")
    );
}

/// COMMAND INFO of several names at once: one entry per name in order, a null for an unknown
/// one, as redis-server.
#[test]
fn command_info_of_several_names_matches_redis_server() {
    let Some(redis_server) = Server::start_redis(&[]) else {
        panic!("redis-server is not installed: the test command installs it (see README)");
    };
    let ours_server = Server::start(&[]);
    for resp3 in [false, true] {
        let (mut ours, mut theirs) = (ours_server.raw(), redis_server.raw());
        if resp3 {
            for client in [&mut ours, &mut theirs] {
                call(client, &["HELLO", "3"]);
            }
        }
        let args = [
            "COMMAND",
            "INFO",
            "smove",
            "nosuch",
            "LMOVE",
            "zunionstore",
            "sort",
            "config|get",
            "bitfield_ro",
            "georadius",
            "xread",
            "migrate",
            "object|freq",
        ];
        assert_eq!(
            String::from_utf8_lossy(&call(&mut ours, &args)),
            String::from_utf8_lossy(&call(&mut theirs, &args)),
            "resp3: {resp3}"
        );
    }
}
