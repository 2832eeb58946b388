//! Hashes and sets across connections: keyspace events, the HSCAN/SSCAN guarantee while another
//! client writes, memory accounting of large values, and random picks over the wire.

mod common;

use common::{RawClient, Server};

fn events(sub: &mut RawClient, n: usize) -> Vec<String> {
    (0..n)
        .map(|_| {
            let msg = String::from_utf8(sub.read_reply().unwrap()).unwrap();
            let event = msg.split("__keyevent@0__:").nth(2).unwrap();
            event.split("\r\n").next().unwrap().to_string()
        })
        .collect()
}

#[test]
fn keyspace_events_of_the_families() {
    let server = Server::start(&[]);
    let mut c = server.raw();
    let mut sub = server.raw();
    assert_eq!(
        c.cmd_str(&["CONFIG", "SET", "notify-keyspace-events", "KEA"]),
        "+OK\r\n"
    );
    sub.cmd(&["PSUBSCRIBE", "__keyevent@0__:*"]);
    c.cmd(&["HSET", "h", "a", "1"]);
    c.cmd(&["HSETNX", "h", "a", "2"]); // no change: no event
    c.cmd(&["HINCRBY", "h", "n", "1"]);
    c.cmd(&["HINCRBYFLOAT", "h", "n", "1.5"]);
    c.cmd(&["HDEL", "h", "nosuch"]); // no change: no event
    c.cmd(&["HDEL", "h", "a", "n"]);
    c.cmd(&["SADD", "s", "1", "2"]);
    c.cmd(&["SADD", "s", "1"]); // no change: no event
    c.cmd(&["SREM", "s", "1"]);
    c.cmd(&["SMOVE", "s", "t", "2"]);
    c.cmd(&["SINTERSTORE", "u", "t"]);
    c.cmd(&["SPOP", "u"]);
    assert_eq!(
        events(&mut sub, 13),
        [
            "hset",
            "hincrby",
            "hincrbyfloat",
            "hdel",
            "del",
            "sadd",
            "srem",
            "srem",
            "del",
            "sadd",
            "sinterstore",
            "spop",
            "del",
        ]
    );
}

/// Redis's SCAN guarantee: a field present for the whole iteration is returned, while another
/// client adds and removes many other fields (growing the hash, then emptying most of it).
#[test]
fn hscan_returns_stable_fields_while_another_client_writes() {
    let server = Server::start(&[]);
    let mut scanner = server.raw();
    let mut writer = server.raw();
    for i in 0..2000 {
        writer.cmd(&["HSET", "h", &format!("stable:{i}"), "v"]);
    }
    let mut seen = std::collections::HashSet::new();
    let mut cursor = "0".to_string();
    let mut step = 0;
    loop {
        let reply = scanner.cmd_str(&["HSCAN", "h", &cursor, "COUNT", "25"]);
        let lines: Vec<&str> = reply.split("\r\n").collect();
        cursor = lines[2].to_string();
        for field in lines.iter().skip(5).step_by(4) {
            if field.starts_with("stable:") {
                seen.insert(field.to_string());
            }
        }
        // Churn between steps: 300 new fields, then most of them removed again.
        for i in 0..300 {
            writer.cmd(&["HSET", "h", &format!("tmp:{step}:{i}"), "v"]);
        }
        for i in 0..290 {
            writer.cmd(&["HDEL", "h", &format!("tmp:{step}:{i}")]);
        }
        step += 1;
        if cursor == "0" {
            break;
        }
    }
    assert_eq!(seen.len(), 2000, "every stable field was returned");
}

/// The keyspace's own byte count (values, keys and their overhead), free of allocator caches
/// and client buffers.
fn dataset_bytes(c: &mut RawClient) -> i64 {
    let info = c.cmd_str(&["INFO", "memory"]);
    let line = info
        .lines()
        .find(|l| l.starts_with("used_memory_dataset:"))
        .unwrap();
    line["used_memory_dataset:".len()..].trim().parse().unwrap()
}

#[test]
fn memory_is_accounted_and_returned() {
    let server = Server::start(&[]);
    let mut c = server.raw();
    let before = dataset_bytes(&mut c);
    let mut batch = Vec::new();
    for i in 0..20_000 {
        let field = format!("field:{i}");
        batch.extend(common::encode_command(&[
            b"HSET",
            b"h",
            field.as_bytes(),
            b"value",
        ]));
        batch.extend(common::encode_command(&[b"SADD", b"s", field.as_bytes()]));
    }
    c.send_raw(&batch);
    for _ in 0..40_000 {
        c.read_reply().unwrap();
    }
    let full = dataset_bytes(&mut c);
    assert!(full - before > 20_000 * 40, "grew by {}", full - before);
    let usage: i64 = c
        .cmd_str(&["MEMORY", "USAGE", "h"])
        .trim_start_matches(':')
        .trim()
        .parse()
        .unwrap();
    assert!(usage > 20_000 * 20, "MEMORY USAGE {usage}");
    c.cmd(&["DEL", "h", "s"]);
    let after = dataset_bytes(&mut c);
    assert!(
        after - before < (full - before) / 20,
        "{before} {full} {after}"
    );
}

#[test]
fn random_picks_cover_the_set_over_the_wire() {
    let server = Server::start(&[]);
    let mut c = server.raw();
    for i in 0..200 {
        c.cmd(&["SADD", "s", &format!("m{i}")]);
        c.cmd(&["HSET", "h", &format!("f{i}"), "v"]);
    }
    let reply = c.cmd_str(&["SRANDMEMBER", "s", "-5000"]);
    let distinct: std::collections::HashSet<&str> =
        reply.split("\r\n").filter(|l| l.starts_with('m')).collect();
    assert!(
        distinct.len() > 190,
        "5000 picks saw {} of 200",
        distinct.len()
    );
    let reply = c.cmd_str(&["HRANDFIELD", "h", "150"]);
    let fields: Vec<&str> = reply.split("\r\n").filter(|l| l.starts_with('f')).collect();
    let unique: std::collections::HashSet<&&str> = fields.iter().collect();
    assert_eq!((fields.len(), unique.len()), (150, 150));
    // SPOP empties the set exactly once over many calls.
    let mut popped = std::collections::HashSet::new();
    loop {
        let reply = c.cmd_str(&["SPOP", "s", "7"]);
        let members: Vec<String> = reply
            .split("\r\n")
            .filter(|l| l.starts_with('m'))
            .map(String::from)
            .collect();
        if members.is_empty() {
            break;
        }
        for m in members {
            assert!(popped.insert(m), "a member popped twice");
        }
    }
    assert_eq!(popped.len(), 200);
    assert_eq!(c.cmd_str(&["EXISTS", "s"]), ":0\r\n");
}
