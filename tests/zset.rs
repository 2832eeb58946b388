//! Sorted sets across connections: blocking pops woken by writes from other clients (in
//! arrival order), timeouts, keyspace events, and a large set through the rank paths.

mod common;

use common::{RawClient, Server};
use std::time::{Duration, Instant};

/// Waits until CLIENT LIST shows `n` blocked clients (flag `b`: the command was parked).
fn wait_blocked(c: &mut RawClient, n: usize) {
    let start = Instant::now();
    while c.cmd_str(&["CLIENT", "LIST"]).matches("flags=b").count() != n {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "never saw {n} blocked clients"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn bzpopmin_is_woken_by_zadd_from_another_client() {
    let server = Server::start(&[]);
    let mut waiter = server.raw();
    let mut writer = server.raw();
    waiter.send(&[b"BZPOPMIN", b"z1", b"z2", b"0"]);
    wait_blocked(&mut writer, 1);
    assert_eq!(
        writer.cmd_str(&["ZADD", "z2", "2", "b", "1", "a"]),
        ":2\r\n"
    );
    assert_eq!(
        String::from_utf8(waiter.read_reply().unwrap()).unwrap(),
        "*3\r\n$2\r\nz2\r\n$1\r\na\r\n$1\r\n1\r\n"
    );
    assert_eq!(
        writer.cmd_str(&["ZRANGE", "z2", "0", "-1"]),
        "*1\r\n$1\r\nb\r\n"
    );
    wait_blocked(&mut writer, 0);
}

#[test]
fn blocked_pops_are_served_in_arrival_order() {
    let server = Server::start(&[]);
    let mut first = server.raw();
    let mut second = server.raw();
    let mut writer = server.raw();
    first.send(&[b"BZPOPMAX", b"z", b"0"]);
    wait_blocked(&mut writer, 1);
    second.send(&[b"BZMPOP", b"0", b"1", b"z", b"MAX", b"COUNT", b"5"]);
    wait_blocked(&mut writer, 2);
    assert_eq!(
        writer.cmd_str(&["ZADD", "z", "1", "a", "2", "b", "3", "c"]),
        ":3\r\n"
    );
    assert_eq!(
        String::from_utf8(first.read_reply().unwrap()).unwrap(),
        "*3\r\n$1\r\nz\r\n$1\r\nc\r\n$1\r\n3\r\n"
    );
    assert_eq!(
        String::from_utf8(second.read_reply().unwrap()).unwrap(),
        "*2\r\n$1\r\nz\r\n*2\r\n*2\r\n$1\r\nb\r\n$1\r\n2\r\n*2\r\n$1\r\na\r\n$1\r\n1\r\n"
    );
    assert_eq!(writer.cmd_str(&["EXISTS", "z"]), ":0\r\n");
}

#[test]
fn a_pop_that_times_out_answers_a_null_array_and_a_string_does_not_wake_it() {
    let server = Server::start(&[]);
    let mut waiter = server.raw();
    let mut writer = server.raw();
    waiter.send(&[b"BZPOPMIN", b"k", b"0.3"]);
    wait_blocked(&mut writer, 1);
    assert_eq!(writer.cmd_str(&["SET", "k", "v"]), "+OK\r\n");
    assert_eq!(
        String::from_utf8(waiter.read_reply().unwrap()).unwrap(),
        "*-1\r\n"
    );
    // The connection is usable afterwards.
    assert_eq!(waiter.cmd_str(&["PING"]), "+PONG\r\n");
}

#[test]
fn keyspace_events_of_the_family() {
    let server = Server::start(&[]);
    let mut c = server.raw();
    let mut sub = server.raw();
    assert_eq!(
        c.cmd_str(&["CONFIG", "SET", "notify-keyspace-events", "KEA"]),
        "+OK\r\n"
    );
    sub.cmd(&["PSUBSCRIBE", "__keyevent@0__:*"]);
    c.cmd(&["ZADD", "z", "1", "a", "2", "b"]);
    c.cmd(&["ZADD", "z", "1", "a"]); // no change: no event
    c.cmd(&["ZINCRBY", "z", "1", "a"]);
    c.cmd(&["ZREM", "z", "nosuch"]); // no change: no event
    c.cmd(&["ZPOPMIN", "z"]);
    c.cmd(&["ZUNIONSTORE", "u", "1", "z"]);
    c.cmd(&["ZRANGESTORE", "r", "z", "0", "-1"]);
    c.cmd(&["ZREMRANGEBYSCORE", "u", "-inf", "+inf"]);
    c.cmd(&["ZREM", "z", "b"]);
    let mut events = Vec::new();
    for _ in 0..9 {
        let msg = String::from_utf8(sub.read_reply().unwrap()).unwrap();
        let event = msg.split("__keyevent@0__:").nth(2).unwrap();
        events.push(event.split("\r\n").next().unwrap().to_string());
    }
    assert_eq!(
        events,
        [
            "zadd",
            "zincr",
            "zpopmin",
            "zunionstore",
            "zrangestore",
            "zremrangebyscore",
            "del",
            "zrem",
            "del",
        ]
    );
}

#[test]
fn a_large_set_answers_ranks_and_ranges() {
    let server = Server::start(&[]);
    let mut c = server.raw();
    // 20 000 members with 100 distinct scores, added in one pipelined batch of ZADDs.
    let mut batch = Vec::new();
    for i in 0..20_000u32 {
        let score = (i * 7919 % 100).to_string();
        let member = format!("m{i:05}");
        batch.extend(common::encode_command(&[
            b"ZADD",
            b"big",
            score.as_bytes(),
            member.as_bytes(),
        ]));
    }
    c.send_raw(&batch);
    for _ in 0..20_000 {
        assert_eq!(c.read_reply().unwrap(), b":1\r\n");
    }
    assert_eq!(
        c.cmd_str(&["OBJECT", "ENCODING", "big"]),
        "$8\r\nskiplist\r\n"
    );
    assert_eq!(c.cmd_str(&["ZCARD", "big"]), ":20000\r\n");
    // Each score holds 200 members (7919 is coprime with 100); members sort by name within one.
    assert_eq!(c.cmd_str(&["ZCOUNT", "big", "10", "(20"]), ":2000\r\n");
    let first_of_50 = c.cmd_str(&["ZRANGE", "big", "10000", "10000"]);
    let name = first_of_50.split("\r\n").nth(2).unwrap().to_string();
    assert_eq!(c.cmd_str(&["ZSCORE", "big", &name]), "$2\r\n50\r\n");
    assert_eq!(c.cmd_str(&["ZRANK", "big", &name]), ":10000\r\n");
    assert_eq!(c.cmd_str(&["ZREVRANK", "big", &name]), ":9999\r\n");
    assert_eq!(
        c.cmd_str(&["ZRANGE", "big", "(50", "+inf", "BYSCORE", "LIMIT", "0", "1"]),
        c.cmd_str(&["ZRANGE", "big", "10200", "10200"])
    );
    assert_eq!(
        c.cmd_str(&["ZREMRANGEBYRANK", "big", "0", "9999"]),
        ":10000\r\n"
    );
    assert_eq!(c.cmd_str(&["ZRANK", "big", &name]), ":0\r\n");
    // A full ZSCAN returns every member at least once.
    let mut seen = std::collections::HashSet::new();
    let mut cursor = "0".to_string();
    loop {
        let reply = c.cmd_str(&["ZSCAN", "big", &cursor, "COUNT", "500"]);
        let lines: Vec<&str> = reply.split("\r\n").collect();
        cursor = lines[2].to_string();
        for pair in lines[4..].chunks(4) {
            if pair.len() == 4 {
                seen.insert(pair[1].to_string());
            }
        }
        if cursor == "0" {
            break;
        }
    }
    assert_eq!(seen.len(), 10_000);
}
