//! Blocking stream reads across connections (XREAD / XREADGROUP with BLOCK): wake-ups by
//! other clients' XADD (plain, MULTI/EXEC, scripts), `$`, consumer groups shared by waiters,
//! timeouts, a destroyed group; and the AOF effects of streams replayed after kill -9. Every
//! scenario that Redis 7.0.15 and 7.2 answer alike runs against both servers and compares the
//! raw replies. Single-connection semantics are in tests/differential/10x_stream_*.redis.

mod common;
use common::{RawClient, Server};
use std::time::{Duration, Instant};

fn wait_blocked(admin: &mut RawClient, n: usize) {
    let wanted = format!("blocked_clients:{n}\r");
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let info = admin.cmd_str(&["INFO", "clients"]);
        if info.contains(&wanted) {
            return;
        }
        assert!(Instant::now() < deadline, "never reached {wanted}: {info}");
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn blocked(port: u16, command: &[&str]) -> RawClient {
    let mut c = RawClient::connect(port);
    let args: Vec<&[u8]> = command.iter().map(|a| a.as_bytes()).collect();
    c.send(&args);
    c
}

/// The replies of one scenario, in order.
fn scenario(port: u16) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut admin = RawClient::connect(port);
    admin.cmd(&["FLUSHALL"]);

    // `$` on a missing key, then on a stream with entries: only what comes after.
    let mut w = blocked(port, &["XREAD", "BLOCK", "0", "STREAMS", "s", "$"]);
    wait_blocked(&mut admin, 1);
    out.push(admin.cmd(&["XADD", "s", "1-0", "f", "v"]));
    out.push(w.read_reply().unwrap());
    let mut w = blocked(
        port,
        &["XREAD", "BLOCK", "0", "STREAMS", "other", "s", "$", "$"],
    );
    wait_blocked(&mut admin, 1);
    // A write that adds nothing keeps the wait (and a write to the other key too).
    out.push(admin.cmd(&["XTRIM", "s", "MAXLEN", "5"]));
    out.push(admin.cmd(&["SET", "unrelated", "x"]));
    out.push(admin.cmd(&["XADD", "s", "2-0", "g", "w"]));
    out.push(w.read_reply().unwrap());
    assert_eq!(w.cmd(&["PING"]), b"+PONG\r\n");

    // MULTI/EXEC and scripts wake waiters when they complete.
    let mut w = blocked(
        port,
        &["XREAD", "COUNT", "1", "BLOCK", "0", "STREAMS", "s", "2-0"],
    );
    wait_blocked(&mut admin, 1);
    admin.cmd(&["MULTI"]);
    admin.cmd(&["XADD", "s", "3-0", "a", "1"]);
    admin.cmd(&["XADD", "s", "4-0", "a", "2"]);
    out.push(admin.cmd(&["EXEC"]));
    out.push(w.read_reply().unwrap());
    let mut w = blocked(port, &["XREAD", "BLOCK", "0", "STREAMS", "s", "$"]);
    wait_blocked(&mut admin, 1);
    out.push(admin.cmd(&[
        "EVAL",
        "return redis.call('XADD', KEYS[1], '5-0', 'b', '1')",
        "1",
        "s",
    ]));
    out.push(w.read_reply().unwrap());

    // Two consumers of one group blocked on `>`: each entry goes to one of them, in order.
    admin.cmd(&["XGROUP", "CREATE", "s", "g", "$"]);
    let mut c1 = blocked(
        port,
        &[
            "XREADGROUP",
            "GROUP",
            "g",
            "c1",
            "BLOCK",
            "0",
            "STREAMS",
            "s",
            ">",
        ],
    );
    wait_blocked(&mut admin, 1);
    let mut c2 = blocked(
        port,
        &[
            "XREADGROUP",
            "GROUP",
            "g",
            "c2",
            "BLOCK",
            "0",
            "STREAMS",
            "s",
            ">",
        ],
    );
    wait_blocked(&mut admin, 2);
    out.push(admin.cmd(&["XADD", "s", "6-0", "n", "1"]));
    out.push(c1.read_reply().unwrap());
    wait_blocked(&mut admin, 1);
    out.push(admin.cmd(&["XADD", "s", "7-0", "n", "2"]));
    out.push(c2.read_reply().unwrap());
    out.push(admin.cmd(&["XPENDING", "s", "g"]));
    // NOACK leaves nothing pending.
    let mut c3 = blocked(
        port,
        &[
            "XREADGROUP",
            "GROUP",
            "g",
            "c3",
            "NOACK",
            "BLOCK",
            "0",
            "STREAMS",
            "s",
            ">",
        ],
    );
    wait_blocked(&mut admin, 1);
    out.push(admin.cmd(&["XADD", "s", "8-0", "n", "3"]));
    out.push(c3.read_reply().unwrap());
    out.push(admin.cmd(&["XPENDING", "s", "g"]));

    // Timeouts: a null array, RESP2 and RESP3.
    let mut t = RawClient::connect(port);
    out.push(t.cmd(&["XREAD", "BLOCK", "20", "STREAMS", "s", "$"]));
    out.push(t.cmd(&[
        "XREADGROUP",
        "GROUP",
        "g",
        "c1",
        "BLOCK",
        "20",
        "STREAMS",
        "s",
        ">",
    ]));
    t.resp3 = true;
    t.cmd(&["HELLO", "3"]);
    out.push(t.cmd(&["XREAD", "BLOCK", "20", "STREAMS", "s", "$"]));
    // A RESP3 waiter gets a map.
    let mut w = RawClient::connect(port);
    w.resp3 = true;
    w.cmd(&["HELLO", "3"]);
    w.send(&[b"XREAD", b"BLOCK", b"0", b"STREAMS", b"s", b"$"]);
    wait_blocked(&mut admin, 1);
    out.push(admin.cmd(&["XADD", "s", "9-0", "m", "1"]));
    out.push(w.read_reply().unwrap());
    out
}

#[test]
fn blocked_reads_are_woken_as_redis_wakes_them() {
    let ours = Server::start(&[]);
    let got = scenario(ours.port);
    let Some(redis) = Server::start_redis(&[]) else {
        eprintln!("redis-server is not installed; comparing with nothing");
        return;
    };
    let expected = scenario(redis.port);
    for (i, (a, b)) in got.iter().zip(&expected).enumerate() {
        assert_eq!(
            a.escape_ascii().to_string(),
            b.escape_ascii().to_string(),
            "reply {i} differs"
        );
    }
    assert_eq!(got.len(), expected.len());
}

#[test]
fn a_destroyed_group_or_deleted_key_ends_a_group_wait_with_nogroup() {
    // Redis 7.2 re-executes a blocked XREADGROUP when its key changes: a destroyed group or a
    // deleted key answers the command's own -NOGROUP error (7.0.15 words it differently).
    let server = Server::start(&[]);
    let mut admin = server.raw();
    admin.cmd(&["XGROUP", "CREATE", "s", "g", "$", "MKSTREAM"]);
    let mut w = blocked(
        server.port,
        &[
            "XREADGROUP",
            "GROUP",
            "g",
            "c",
            "BLOCK",
            "0",
            "STREAMS",
            "s",
            ">",
        ],
    );
    wait_blocked(&mut admin, 1);
    assert_eq!(admin.cmd(&["XGROUP", "DESTROY", "s", "g"]), b":1\r\n");
    let reply = String::from_utf8(w.read_reply().unwrap()).unwrap();
    assert!(
        reply.starts_with("-NOGROUP No such key 's' or consumer group 'g'"),
        "{reply}"
    );
    wait_blocked(&mut admin, 0);

    admin.cmd(&["XGROUP", "CREATE", "s", "g", "$"]);
    let mut w = blocked(
        server.port,
        &[
            "XREADGROUP",
            "GROUP",
            "g",
            "c",
            "BLOCK",
            "0",
            "STREAMS",
            "s",
            ">",
        ],
    );
    wait_blocked(&mut admin, 1);
    assert_eq!(admin.cmd(&["DEL", "s"]), b":1\r\n");
    let reply = String::from_utf8(w.read_reply().unwrap()).unwrap();
    assert!(reply.starts_with("-NOGROUP"), "{reply}");

    // A plain XREAD keeps waiting through a deletion, and is served by the next XADD.
    let mut w = blocked(server.port, &["XREAD", "BLOCK", "0", "STREAMS", "s", "$"]);
    wait_blocked(&mut admin, 1);
    admin.cmd(&["XADD", "s", "1-0", "f", "v"]);
    assert_eq!(
        w.read_reply().unwrap(),
        b"*1\r\n*2\r\n$1\r\ns\r\n*1\r\n*2\r\n$3\r\n1-0\r\n*2\r\n$1\r\nf\r\n$1\r\nv\r\n"
    );
    let mut w = blocked(server.port, &["XREAD", "BLOCK", "0", "STREAMS", "s", "$"]);
    wait_blocked(&mut admin, 1);
    admin.cmd(&["DEL", "s"]);
    admin.cmd(&["SET", "s", "string"]);
    admin.cmd(&["DEL", "s"]);
    // `$` stood for 1-0: an entry below it does not serve the wait.
    admin.cmd(&["XADD", "s", "0-5", "f", "v"]);
    admin.cmd(&["XADD", "s", "2-5", "f", "v"]);
    assert_eq!(
        w.read_reply().unwrap(),
        b"*1\r\n*2\r\n$1\r\ns\r\n*1\r\n*2\r\n$3\r\n2-5\r\n*2\r\n$1\r\nf\r\n$1\r\nv\r\n"
    );
}

#[test]
fn the_aof_replays_streams_and_groups_after_kill_9() {
    // The rewrite writes an RDB base with the preamble, commands without it.
    aof_round("yes");
    aof_round("no");
}

fn aof_round(preamble: &str) {
    let args = [
        "--appendonly",
        "yes",
        "--appendfsync",
        "always",
        "--aof-use-rdb-preamble",
        preamble,
    ];
    let mut server = Server::start(&args);
    let mut c = server.raw();
    c.cmd(&["XADD", "s", "*", "f", "1"]);
    c.cmd(&["XADD", "s", "MAXLEN", "~", "1", "*", "f", "2"]);
    c.cmd(&["XADD", "s", "5-*", "f", "3"]);
    c.cmd(&["XGROUP", "CREATE", "s", "g", "0"]);
    c.cmd(&[
        "XREADGROUP",
        "GROUP",
        "g",
        "alice",
        "COUNT",
        "2",
        "STREAMS",
        "s",
        ">",
    ]);
    c.cmd(&["XCLAIM", "s", "g", "bob", "0", "5-0", "RETRYCOUNT", "9"]);
    c.cmd(&["XADD", "s", "6-0", "f", "4"]);
    c.cmd(&[
        "XREADGROUP",
        "GROUP",
        "g",
        "carol",
        "NOACK",
        "STREAMS",
        "s",
        ">",
    ]);
    c.cmd(&["XDEL", "s", "5-0"]);
    c.cmd(&["XAUTOCLAIM", "s", "g", "dave", "0", "0"]);
    c.cmd(&["XGROUP", "CREATECONSUMER", "s", "g", "erin"]);
    // Redis 8.2's XACKDEL and XDELEX, logged as given.
    let id = |reply: Vec<u8>| {
        String::from_utf8(reply)
            .unwrap()
            .split("\r\n")
            .nth(1)
            .unwrap()
            .to_string()
    };
    let seventh = id(c.cmd(&["XADD", "s", "*", "f", "5"]));
    let eighth = id(c.cmd(&["XADD", "s", "*", "f", "6"]));
    c.cmd(&["XREADGROUP", "GROUP", "g", "erin", "STREAMS", "s", ">"]);
    assert_eq!(
        c.cmd(&["XACKDEL", "s", "g", "IDS", "1", &seventh]),
        b"*1\r\n:1\r\n"
    );
    assert_eq!(
        c.cmd(&["XDELEX", "s", "DELREF", "IDS", "1", &eighth]),
        b"*1\r\n:1\r\n"
    );
    c.cmd(&["XADD", "t", "1-1", "a", "b"]);
    c.cmd(&["XTRIM", "t", "MAXLEN", "0"]);
    c.cmd(&[
        "XSETID",
        "t",
        "9-9",
        "ENTRIESADDED",
        "20",
        "MAXDELETEDID",
        "2-2",
    ]);
    let zeroed = "local r = redis.call('XPENDING', unpack(ARGV)) for _, e in ipairs(r) do e[3] = 0 end return r";
    let state = |c: &mut RawClient| {
        vec![
            c.cmd(&["XRANGE", "s", "-", "+"]),
            c.cmd(&["XINFO", "STREAM", "s"]),
            c.cmd(&["XINFO", "GROUPS", "s"]),
            c.cmd(&["XPENDING", "s", "g"]),
            c.cmd(&["EVAL", zeroed, "0", "s", "g", "-", "+", "10"]),
            c.cmd(&["EVAL", "local r = redis.call('XINFO','CONSUMERS','s','g') local o = {} for _, x in ipairs(r) do table.insert(o, x[2]) table.insert(o, x[4]) end return o", "0"]),
            c.cmd(&["XINFO", "STREAM", "t"]),
        ]
    };
    let before = state(&mut c);
    server.kill9();
    let dir = server.dir.clone();
    // The old handle would delete the directory when dropped.
    std::mem::forget(server);
    let mut again = Server::start_in(dir.clone(), &args);
    let mut c = again.raw();
    assert_eq!(state(&mut c), before);
    // And once more through a rewrite.
    assert!(c.cmd_str(&["BGREWRITEAOF"]).starts_with('+'));
    let deadline = Instant::now() + Duration::from_secs(20);
    while c
        .cmd_str(&["INFO", "persistence"])
        .contains("aof_rewrite_in_progress:1")
    {
        assert!(Instant::now() < deadline);
        std::thread::sleep(Duration::from_millis(20));
    }
    again.kill9();
    std::mem::forget(again);
    let third = Server::start_in(dir, &args);
    let mut c = third.raw();
    assert_eq!(state(&mut c), before);
}

#[test]
fn rq_style_results_are_written_in_multi_and_read_back() {
    // RQ 1.x/2.x stores each job result with XADD ... MAXLEN ~ 10 * inside a MULTI pipeline
    // with an EXPIRE, and reads the latest with XREVRANGE + - COUNT 1.
    let server = Server::start(&[]);
    let mut c = server.raw();
    for n in 0..15 {
        assert_eq!(c.cmd(&["MULTI"]), b"+OK\r\n");
        let result = format!("payload-{n}");
        let queued = c.cmd(&[
            "XADD",
            "rq:results:job",
            "MAXLEN",
            "~",
            "10",
            "*",
            "type",
            "1",
            "result",
            &result,
        ]);
        assert_eq!(queued, b"+QUEUED\r\n");
        assert_eq!(c.cmd(&["EXPIRE", "rq:results:job", "500"]), b"+QUEUED\r\n");
        let exec = String::from_utf8(c.cmd(&["EXEC"])).unwrap();
        let id = exec.split("\r\n").nth(2).unwrap().to_string();
        assert!(
            exec.starts_with("*2\r\n$") && exec.ends_with(":1\r\n"),
            "{exec}"
        );
        let (ms, seq) = id.split_once('-').unwrap();
        assert!(ms.parse::<u64>().unwrap() > 1_600_000_000_000 && seq.parse::<u64>().is_ok());
        let latest =
            String::from_utf8(c.cmd(&["XREVRANGE", "rq:results:job", "+", "-", "COUNT", "1"]))
                .unwrap();
        assert!(latest.contains(&id) && latest.contains(&result), "{latest}");
    }
    // `~` never trims below 10 and keeps whole nodes: 15 entries in one node stay.
    assert_eq!(c.cmd(&["XLEN", "rq:results:job"]), b":15\r\n");
    let ttl = c.cmd_str(&["TTL", "rq:results:job"]);
    assert!(ttl.starts_with(':') && ttl != ":-1\r\n", "{ttl}");
}

/// The keyspace events of the stream commands, as a subscriber on another connection sees
/// them (names and keys, in order).
fn events(port: u16) -> Vec<Vec<u8>> {
    let mut admin = RawClient::connect(port);
    admin.cmd(&["FLUSHALL"]);
    admin.cmd(&["CONFIG", "SET", "notify-keyspace-events", "KEA"]);
    let mut sub = RawClient::connect(port);
    sub.cmd(&["PSUBSCRIBE", "__keyevent@0__:*"]);
    let script: &[&[&str]] = &[
        &["XADD", "n", "1-0", "f", "v"],
        &["XADD", "n", "MAXLEN", "1", "2-0", "f", "v"],
        &["XTRIM", "n", "MAXLEN", "0"],
        &["XTRIM", "n", "MAXLEN", "0"],
        &["XADD", "n", "4-0", "f", "v"],
        &["XDEL", "n", "4-0", "9-9"],
        &["XDEL", "n", "9-9"],
        &["XSETID", "n", "10-0"],
        &["XGROUP", "CREATE", "n", "g", "$"],
        &["XGROUP", "CREATE", "m", "g", "$", "MKSTREAM"],
        &["XGROUP", "CREATECONSUMER", "n", "g", "c"],
        &["XGROUP", "CREATECONSUMER", "n", "g", "c"],
        &["XADD", "n", "11-0", "f", "v"],
        &["XREADGROUP", "GROUP", "g", "d", "STREAMS", "n", ">"],
        &["XCLAIM", "n", "g", "c", "0", "11-0", "JUSTID"],
        &["XACK", "n", "g", "11-0"],
        &["XGROUP", "DELCONSUMER", "n", "g", "c"],
        &["XGROUP", "DELCONSUMER", "n", "g", "zz"],
        &["XGROUP", "SETID", "n", "g", "0"],
        &["XGROUP", "DESTROY", "n", "g"],
        &["XGROUP", "DESTROY", "n", "g"],
        &["DEL", "n", "m"],
    ];
    for command in script {
        admin.cmd(command);
    }
    // A marker closes the sequence.
    admin.cmd(&["SET", "endmarker", "x"]);
    let mut out = Vec::new();
    loop {
        let frame = sub.read_reply().unwrap();
        let done = frame.windows(9).any(|w| w == b"endmarker");
        out.push(frame);
        if done {
            break;
        }
    }
    admin.cmd(&["CONFIG", "SET", "notify-keyspace-events", ""]);
    out
}

#[test]
fn stream_commands_raise_redis_keyspace_events() {
    let ours = Server::start(&[]);
    let got = events(ours.port);
    assert!(got.len() > 10);
    let Some(redis) = Server::start_redis(&[]) else {
        eprintln!("redis-server is not installed; comparing with nothing");
        return;
    };
    let expected = events(redis.port);
    let show = |v: &[Vec<u8>]| {
        v.iter()
            .map(|f| f.escape_ascii().to_string())
            .collect::<Vec<_>>()
    };
    assert_eq!(show(&got), show(&expected));
}

#[test]
fn consumers_report_redis_7_2_seen_and_active_times() {
    // XINFO CONSUMERS' `inactive` and XINFO STREAM FULL's `active-time` are Redis 7.2 fields
    // (7.0.15 has neither), so they are checked here rather than against redis-server.
    let server = Server::start(&[]);
    let mut c = server.raw();
    c.cmd(&["XADD", "s", "1-1", "f", "v"]);
    c.cmd(&["XGROUP", "CREATE", "s", "g", "$"]);
    c.cmd(&["XGROUP", "CREATECONSUMER", "s", "g", "idle"]);
    // An attempt that finds nothing creates the consumer without making it active.
    c.cmd(&["XREADGROUP", "GROUP", "g", "tried", "STREAMS", "s", ">"]);
    c.cmd(&["XADD", "s", "2-2", "f", "v"]);
    c.cmd(&["XREADGROUP", "GROUP", "g", "reader", "STREAMS", "s", ">"]);
    let info = c.cmd_str(&["XINFO", "CONSUMERS", "s", "g"]);
    let fields: Vec<&str> = info.split("\r\n").collect();
    let value_after = |name: &str, field: &str| -> String {
        let at = fields.iter().position(|l| *l == name).unwrap();
        let f = fields[at..].iter().position(|l| *l == field).unwrap() + at;
        fields[f + 1].to_string()
    };
    assert_eq!(value_after("idle", "inactive"), ":-1");
    assert_eq!(value_after("tried", "inactive"), ":-1");
    let inactive = value_after("reader", "inactive");
    assert!(inactive.starts_with(':') && inactive != ":-1", "{info}");
    assert_eq!(value_after("reader", "pending"), ":1");
    let full = c.cmd_str(&["XINFO", "STREAM", "s", "FULL"]);
    assert!(
        full.contains("active-time") && full.contains("seen-time"),
        "{full}"
    );
}

/// Redis 8.2's XDELEX and XACKDEL (beyond redis-server 7.0.15): a deletion touches WATCH and
/// raises `xdel`; a code-2 or -1 only call does neither.
#[test]
fn xdelex_and_xackdel_signal_watch_and_raise_xdel() {
    let server = Server::start(&[]);
    let mut c = server.raw();
    let mut other = server.raw();
    c.cmd(&["XADD", "s", "1-0", "f", "v"]);
    c.cmd(&["XADD", "s", "2-0", "f", "v"]);
    c.cmd(&["XGROUP", "CREATE", "s", "g", "0"]);
    c.cmd(&[
        "XREADGROUP",
        "GROUP",
        "g",
        "a",
        "COUNT",
        "1",
        "STREAMS",
        "s",
        ">",
    ]);
    c.cmd(&["CONFIG", "SET", "notify-keyspace-events", "KEA"]);
    let mut sub = server.raw();
    sub.cmd(&["SUBSCRIBE", "__keyevent@0__:xdel"]);
    // ACKED keeps 1-0 (pending) and 2-0 (not read by g): no change, EXEC runs.
    c.cmd(&["WATCH", "s"]);
    assert_eq!(
        other.cmd(&["XDELEX", "s", "ACKED", "IDS", "2", "1-0", "2-0"]),
        b"*2\r\n:2\r\n:2\r\n"
    );
    c.cmd(&["MULTI"]);
    c.cmd(&["PING"]);
    assert_eq!(c.cmd(&["EXEC"]), b"*1\r\n+PONG\r\n");
    // XACKDEL deleting 1-0 fails a watcher's EXEC.
    c.cmd(&["WATCH", "s"]);
    assert_eq!(
        other.cmd(&["XACKDEL", "s", "g", "IDS", "1", "1-0"]),
        b"*1\r\n:1\r\n"
    );
    c.cmd(&["MULTI"]);
    c.cmd(&["PING"]);
    assert_eq!(c.cmd(&["EXEC"]), b"*-1\r\n");
    // XDELEX deleting 2-0 likewise.
    c.cmd(&["WATCH", "s"]);
    assert_eq!(
        other.cmd(&["XDELEX", "s", "IDS", "1", "2-0"]),
        b"*1\r\n:1\r\n"
    );
    c.cmd(&["MULTI"]);
    c.cmd(&["PING"]);
    assert_eq!(c.cmd(&["EXEC"]), b"*-1\r\n");
    assert_eq!(c.cmd(&["XLEN", "s"]), b":0\r\n");
    // Exactly two xdel events for `s`, then the marker deletion of `z`.
    c.cmd(&["XADD", "z", "3-0", "f", "v"]);
    c.cmd(&["XDEL", "z", "3-0"]);
    for key in ["s", "s", "z"] {
        let frame = sub.read_reply().unwrap();
        let tail = format!("$1\r\n{key}\r\n");
        assert!(frame.ends_with(tail.as_bytes()), "{}", frame.escape_ascii());
    }
}
