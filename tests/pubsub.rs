//! Pub/Sub across connections against the real binary: delivery to channel and pattern
//! subscribers, keyspace notifications, RESP3 pushes interleaved with replies, MONITOR lines,
//! cleanup on RESET and disconnect, and a subscriber that stops reading being dropped at the
//! pubsub output-buffer limit. Waits are bounded polls, never timing assertions.

mod common;
use common::{RawClient, Server};
use std::time::{Duration, Instant};

fn bulk(s: &str) -> String {
    format!("${}\r\n{s}\r\n", s.len())
}

fn message(channel: &str, payload: &str) -> String {
    format!(
        "*3\r\n{}{}{}",
        bulk("message"),
        bulk(channel),
        bulk(payload)
    )
}

fn pmessage(pattern: &str, channel: &str, payload: &str) -> String {
    format!(
        "*4\r\n{}{}{}{}",
        bulk("pmessage"),
        bulk(pattern),
        bulk(channel),
        bulk(payload)
    )
}

fn read_str(client: &mut RawClient) -> String {
    String::from_utf8_lossy(&client.read_reply().expect("a frame")).into_owned()
}

/// Polls `check` for up to 10 s.
fn eventually(mut check: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if check() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    false
}

#[test]
fn messages_reach_channel_and_pattern_subscribers() {
    let server = Server::start(&[]);
    let mut sub = server.raw();
    let mut psub = server.raw();
    let mut publisher = server.raw();
    assert_eq!(
        sub.cmd_str(&["SUBSCRIBE", "news", "alerts"]),
        format!("*3\r\n{}{}:1\r\n", bulk("subscribe"), bulk("news"))
    );
    assert_eq!(
        read_str(&mut sub),
        format!("*3\r\n{}{}:2\r\n", bulk("subscribe"), bulk("alerts"))
    );
    psub.cmd(&["PSUBSCRIBE", "n?ws"]);
    assert_eq!(publisher.cmd_str(&["PUBLISH", "news", "hello"]), ":2\r\n");
    assert_eq!(read_str(&mut sub), message("news", "hello"));
    assert_eq!(read_str(&mut psub), pmessage("n?ws", "news", "hello"));
    assert_eq!(publisher.cmd_str(&["PUBLISH", "alerts", "a"]), ":1\r\n");
    assert_eq!(read_str(&mut sub), message("alerts", "a"));
    assert_eq!(publisher.cmd_str(&["PUBLISH", "other", "x"]), ":0\r\n");
    assert_eq!(
        publisher.cmd_str(&["PUBSUB", "NUMSUB", "news", "alerts", "other"]),
        format!(
            "*6\r\n{}:1\r\n{}:1\r\n{}:0\r\n",
            bulk("news"),
            bulk("alerts"),
            bulk("other")
        )
    );
    assert_eq!(publisher.cmd_str(&["PUBSUB", "NUMPAT"]), ":1\r\n");
    // Binary-safe channel and payload.
    sub.cmd(&["SUBSCRIBE", "bin\u{0}"]);
    publisher.send(&[b"PUBLISH", b"bin\x00", b"\x00\xff"]);
    assert_eq!(publisher.read_reply().unwrap(), b":1\r\n");
    assert_eq!(
        sub.read_reply().unwrap(),
        b"*3\r\n$7\r\nmessage\r\n$4\r\nbin\x00\r\n$2\r\n\x00\xff\r\n"
    );
    // Shard channels are a namespace of their own.
    let mut ssub = server.raw();
    ssub.cmd(&["SSUBSCRIBE", "news"]);
    assert_eq!(publisher.cmd_str(&["SPUBLISH", "news", "s"]), ":1\r\n");
    assert_eq!(
        read_str(&mut ssub),
        format!("*3\r\n{}{}{}", bulk("smessage"), bulk("news"), bulk("s"))
    );
    assert_eq!(publisher.cmd_str(&["PUBLISH", "news", "again"]), ":2\r\n");
}

#[test]
fn unsubscribe_all_answers_one_frame_per_channel() {
    let server = Server::start(&[]);
    let mut sub = server.raw();
    sub.cmd(&["SUBSCRIBE", "a", "b", "c"]);
    read_str(&mut sub);
    read_str(&mut sub);
    sub.cmd(&["PSUBSCRIBE", "p*"]);
    let mut names = Vec::new();
    let mut counts = Vec::new();
    sub.send(&[b"UNSUBSCRIBE"]);
    for _ in 0..3 {
        let frame = read_str(&mut sub);
        let lines: Vec<&str> = frame.split("\r\n").collect();
        assert_eq!(lines[2], "unsubscribe");
        names.push(lines[4].to_string());
        counts.push(lines[5].to_string());
    }
    names.sort();
    assert_eq!(names, ["a", "b", "c"]);
    // The pattern still counts.
    assert_eq!(counts, [":3", ":2", ":1"]);
    assert_eq!(
        sub.cmd_str(&["GET", "k"]),
        "-ERR Can't execute 'get': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context\r\n"
    );
    assert_eq!(
        sub.cmd_str(&["PUNSUBSCRIBE"]),
        format!("*3\r\n{}{}:0\r\n", bulk("punsubscribe"), bulk("p*"))
    );
    assert_eq!(sub.cmd_str(&["GET", "k"]), "$-1\r\n");
}

#[test]
fn reset_and_disconnect_drop_subscriptions() {
    let server = Server::start(&[]);
    let mut admin = server.raw();
    let mut sub = server.raw();
    sub.cmd(&["SUBSCRIBE", "c"]);
    sub.cmd(&["PSUBSCRIBE", "c*"]);
    assert_eq!(admin.cmd_str(&["PUBLISH", "c", "x"]), ":2\r\n");
    assert_eq!(read_str(&mut sub), message("c", "x"));
    assert_eq!(read_str(&mut sub), pmessage("c*", "c", "x"));
    assert_eq!(sub.cmd_str(&["RESET"]), "+RESET\r\n");
    assert_eq!(admin.cmd_str(&["PUBLISH", "c", "x"]), ":0\r\n");
    assert_eq!(admin.cmd_str(&["PUBSUB", "NUMPAT"]), ":0\r\n");
    assert_eq!(sub.cmd_str(&["GET", "k"]), "$-1\r\n");
    sub.cmd(&["SUBSCRIBE", "c"]);
    drop(sub);
    assert!(eventually(
        || admin.cmd_str(&["PUBLISH", "c", "x"]) == ":0\r\n"
    ));
    assert_eq!(
        admin.cmd_str(&["PUBSUB", "CHANNELS"]),
        "*0\r\n",
        "the channel is gone with its last subscriber"
    );
}

#[test]
fn resp3_pushes_arrive_between_replies() {
    let server = Server::start(&[]);
    let mut sub = server.raw();
    let mut publisher = server.raw();
    sub.resp3 = true;
    sub.cmd(&["HELLO", "3"]);
    assert_eq!(
        sub.cmd_str(&["SUBSCRIBE", "c"]),
        format!(">3\r\n{}{}:1\r\n", bulk("subscribe"), bulk("c"))
    );
    publisher.cmd(&["SET", "k", "v"]);
    for i in 0..50 {
        assert_eq!(
            publisher.cmd_str(&["PUBLISH", "c", &i.to_string()]),
            ":1\r\n"
        );
        // The message may arrive before or after the GET's reply; both must be intact.
        sub.send(&[b"GET", b"k"]);
        let mut got_reply = false;
        let mut got_push = false;
        while !(got_reply && got_push) {
            let frame = read_str(&mut sub);
            if frame.starts_with('>') {
                assert_eq!(
                    frame,
                    format!(
                        ">3\r\n{}{}{}",
                        bulk("message"),
                        bulk("c"),
                        bulk(&i.to_string())
                    )
                );
                got_push = true;
            } else {
                assert_eq!(frame, bulk("v"));
                got_reply = true;
            }
        }
    }
}

#[test]
fn keyspace_events_for_set_del_expire_and_expired() {
    let server = Server::start(&[]);
    let mut admin = server.raw();
    assert_eq!(
        admin.cmd_str(&["CONFIG", "SET", "notify-keyspace-events", "KEA"]),
        "+OK\r\n"
    );
    let mut sub = server.raw();
    sub.cmd(&["PSUBSCRIBE", "__keyevent@0__:*"]);
    let mut space = server.raw();
    space.cmd(&["SUBSCRIBE", "__keyspace@0__:k"]);
    let event = |name: &str, key: &str| {
        pmessage("__keyevent@0__:*", &format!("__keyevent@0__:{name}"), key)
    };
    admin.cmd(&["SET", "k", "v"]);
    assert_eq!(read_str(&mut sub), event("set", "k"));
    assert_eq!(read_str(&mut space), message("__keyspace@0__:k", "set"));
    admin.cmd(&["EXPIRE", "k", "100"]);
    assert_eq!(read_str(&mut sub), event("expire", "k"));
    assert_eq!(read_str(&mut space), message("__keyspace@0__:k", "expire"));
    admin.cmd(&["DEL", "k"]);
    assert_eq!(read_str(&mut sub), event("del", "k"));
    assert_eq!(read_str(&mut space), message("__keyspace@0__:k", "del"));
    // Classes filter: only generic events now.
    admin.cmd(&["CONFIG", "SET", "notify-keyspace-events", "Eg"]);
    admin.cmd(&["SET", "k", "v"]);
    admin.cmd(&["DEL", "k"]);
    assert_eq!(read_str(&mut sub), event("del", "k"));
    // Other databases publish on their own channels.
    admin.cmd(&["CONFIG", "SET", "notify-keyspace-events", "KEA"]);
    sub.cmd(&["PSUBSCRIBE", "__keyevent@5__:*"]);
    admin.cmd(&["SELECT", "5"]);
    admin.cmd(&["SET", "x", "1"]);
    assert_eq!(
        read_str(&mut sub),
        pmessage("__keyevent@5__:*", "__keyevent@5__:set", "x")
    );
}

/// `expired` fires when a key is actually removed: lazily by a lookup, or by the active cycle.
#[test]
fn expired_event_when_a_key_is_removed() {
    let server = Server::start(&[]);
    let mut admin = server.raw();
    admin.cmd(&["CONFIG", "SET", "notify-keyspace-events", "Ex"]);
    let mut sub = server.raw();
    sub.cmd(&["SUBSCRIBE", "__keyevent@0__:expired"]);
    admin.cmd(&["SET", "lazy", "v", "PX", "1"]);
    admin.cmd(&["SET", "active", "v", "PX", "1"]);
    std::thread::sleep(Duration::from_millis(20));
    admin.cmd(&["GET", "lazy"]);
    let mut keys = vec![read_str(&mut sub), read_str(&mut sub)];
    keys.sort();
    assert_eq!(
        keys,
        // Sorted as encoded frames: "$4\r\nlazy" before "$6\r\nactive".
        [
            message("__keyevent@0__:expired", "lazy"),
            message("__keyevent@0__:expired", "active")
        ]
    );
}

#[test]
fn monitor_shows_commands_from_every_client() {
    let server = Server::start(&[]);
    let mut monitor = server.raw();
    assert_eq!(monitor.cmd_str(&["MONITOR"]), "+OK\r\n");
    let mut client = server.raw();
    client.send(&[b"SET", b"k", b"a\x00\xff\"\\\n"]);
    client.read_reply();
    client.cmd(&["SELECT", "2"]);
    client.cmd(&["MULTI"]);
    client.cmd(&["INCR", "n"]);
    client.cmd(&["EXEC"]);
    client.cmd(&["EVAL", "return redis.call('get', KEYS[1])", "1", "n"]);
    client.cmd(&["AUTH", "secret"]);
    client.cmd(&["CONFIG", "GET", "maxmemory"]);
    client.cmd(&["NOSUCHCOMMAND"]);
    client.cmd(&["PING"]);
    let expected = [
        r#""SET" "k" "a\x00\xff\"\\\n""#,
        r#""SELECT" "2""#,
        r#""MULTI""#,
        r#""INCR" "n""#,
        r#""EXEC""#,
        r#""EVAL" "return redis.call('get', KEYS[1])" "1" "n""#,
        r#""get" "n""#,
        r#""AUTH" "(redacted)""#,
        r#""PING""#,
    ];
    for (i, want) in expected.iter().enumerate() {
        let line = read_str(&mut monitor);
        let line = line.strip_suffix("\r\n").expect("a status line");
        let (stamp, rest) = line.split_once(' ').expect("timestamp");
        assert!(stamp.starts_with('+') && stamp.contains('.'), "{line}");
        let (origin, args) = rest.split_once("] ").expect("origin");
        let db = if i == 0 { "0" } else { "2" };
        if *want == r#""get" "n""# {
            assert_eq!(origin, format!("[{db} lua"));
        } else {
            assert!(origin.starts_with(&format!("[{db} 127.0.0.1:")), "{line}");
        }
        assert_eq!(args, *want);
    }
    // A monitor is a replica to Redis: it may not touch the keyspace.
    assert_eq!(
        monitor.cmd_str(&["GET", "k"]),
        "-ERR Replica can't interact with the keyspace\r\n"
    );
}

/// The arguments of a MONITOR line.
fn monitor_args(monitor: &mut RawClient) -> String {
    let line = read_str(monitor);
    let (_, args) = line.split_once("] ").expect("a monitor line");
    args.trim_end().to_string()
}

#[test]
fn monitor_shows_a_blocked_command_once_when_it_arrives() {
    let server = Server::start(&[]);
    let mut monitor = server.raw();
    assert_eq!(monitor.cmd_str(&["MONITOR"]), "+OK\r\n");
    let mut blocked = server.raw();
    blocked.send(&[b"BLPOP", b"list", b"0"]);
    // Shown when it arrives, before anything serves it.
    assert_eq!(monitor_args(&mut monitor), r#""BLPOP" "list" "0""#);
    let mut writer = server.raw();
    writer.cmd(&["RPUSH", "list", "x"]);
    assert_eq!(read_str(&mut blocked), "*2\r\n$4\r\nlist\r\n$1\r\nx\r\n");
    writer.cmd(&["PING"]);
    // The command that served it, then the next command: the BLPOP is not shown again.
    assert_eq!(monitor_args(&mut monitor), r#""RPUSH" "list" "x""#);
    assert_eq!(monitor_args(&mut monitor), r#""PING""#);
}

#[test]
fn subscription_changes_sent_before_a_publish_take_effect_first() {
    // A subscriber sends (P)SUBSCRIBE / (P)UNSUBSCRIBE without waiting for the confirmation;
    // another client publishes once those bytes were sent. As in Redis's single event loop, the
    // change reaches the server first and applies first: the publish counts the new state.
    // (The guarantee covers connections already subscribed to something: docs/pubsub.md.)
    let server = Server::start(&[]);
    let mut sub = server.raw();
    assert!(sub.cmd_str(&["SUBSCRIBE", "other"]).contains("subscribe"));
    let mut publisher = server.raw();
    let publish = |p: &mut RawClient| p.cmd_str(&["PUBLISH", "news.1", "m"]);
    for round in 0..150 {
        sub.send(&[b"PSUBSCRIBE", b"news.*"]);
        assert_eq!(
            publish(&mut publisher),
            ":1\r\n",
            "round {round}: subscribe first"
        );
        assert!(read_str(&mut sub).contains("psubscribe"));
        assert!(read_str(&mut sub).contains("pmessage"));
        sub.send(&[b"PUNSUBSCRIBE", b"news.*"]);
        assert_eq!(
            publish(&mut publisher),
            ":0\r\n",
            "round {round}: unsubscribe first"
        );
        assert!(read_str(&mut sub).contains("punsubscribe"));
        sub.send(&[b"SUBSCRIBE", b"news.1"]);
        assert_eq!(
            publish(&mut publisher),
            ":1\r\n",
            "round {round}: subscribe first"
        );
        assert!(read_str(&mut sub).contains("subscribe"));
        assert!(read_str(&mut sub).contains("message"));
        sub.send(&[b"UNSUBSCRIBE", b"news.1"]);
        assert_eq!(
            publish(&mut publisher),
            ":0\r\n",
            "round {round}: unsubscribe first"
        );
        assert!(read_str(&mut sub).contains("unsubscribe"));
    }
}

#[test]
fn slow_subscriber_is_dropped_at_the_output_buffer_limit() {
    let server = Server::start(&[]);
    let mut publisher = server.raw();
    assert_eq!(
        publisher.cmd_str(&[
            "CONFIG",
            "SET",
            "client-output-buffer-limit",
            "pubsub 1mb 512kb 60"
        ]),
        "+OK\r\n"
    );
    let mut slow = server.raw();
    slow.cmd(&["CLIENT", "SETNAME", "slowpoke"]);
    slow.cmd(&["SUBSCRIBE", "firehose"]);
    let mut fast = server.raw();
    fast.cmd(&["SUBSCRIBE", "firehose"]);
    // The slow subscriber never reads again. Publish 1 KB messages until it is dropped: the
    // socket buffers absorb a few MB, then the limit must trip; 64 MB is far beyond both.
    let payload = "x".repeat(1024);
    let batch = 100;
    let mut dropped = false;
    let mut fast_received = 0usize;
    for _ in 0..(64 * 1024 / batch) {
        let mut pipeline = Vec::new();
        for _ in 0..batch {
            pipeline.extend(common::encode_command(&[
                b"PUBLISH",
                b"firehose",
                payload.as_bytes(),
            ]));
        }
        publisher.send_raw(&pipeline);
        for _ in 0..batch {
            let reply = publisher.read_reply().expect("publisher is unaffected");
            assert!(reply == b":2\r\n" || reply == b":1\r\n", "{reply:?}");
        }
        // Keep the fast subscriber drained, as a well-behaved client would.
        for _ in 0..batch {
            assert!(read_str(&mut fast).ends_with(&format!("{}\r\n", payload)));
            fast_received += 1;
        }
        let list = publisher.cmd_str(&["CLIENT", "LIST"]);
        if !list.contains("name=slowpoke") {
            dropped = true;
            break;
        }
    }
    assert!(dropped, "the slow subscriber was never disconnected");
    assert!(fast_received > 0);
    assert_eq!(
        publisher.cmd_str(&["PUBLISH", "firehose", "after"]),
        ":1\r\n"
    );
    assert_eq!(read_str(&mut fast), message("firehose", "after"));
    assert_eq!(publisher.cmd_str(&["PING"]), "+PONG\r\n");
    assert!(
        eventually(|| server
            .log_text()
            .contains("overcoming of output buffer limits")),
        "the disconnection is logged"
    );
}

/// CLIENT LIST as another connection sees a subscriber and a monitor, on both servers.
#[test]
fn client_list_shows_subscription_counts_and_flags() {
    let field = |line: &str, name: &str| -> String {
        line.split(' ')
            .find_map(|f| f.strip_prefix(&format!("{name}=")))
            .unwrap()
            .to_string()
    };
    let mut servers = vec![Server::start(&[])];
    servers.extend(Server::start_redis(&[]));
    for server in &servers {
        let mut sub = server.raw();
        sub.cmd(&["CLIENT", "SETNAME", "sub"]);
        sub.send(&[b"SUBSCRIBE", b"a", b"b"]);
        read_str(&mut sub);
        read_str(&mut sub);
        sub.send(&[b"PSUBSCRIBE", b"p*"]);
        read_str(&mut sub);
        let mut mon = server.raw();
        mon.cmd(&["CLIENT", "SETNAME", "mon"]);
        assert_eq!(mon.cmd_str(&["MONITOR"]), "+OK\r\n");
        let mut other = server.raw();
        let list = other.cmd_str(&["CLIENT", "LIST"]);
        let line_of = |name: &str| {
            list.lines()
                .find(|l| l.contains(&format!(" name={name} ")))
                .unwrap_or_else(|| panic!("{list}"))
                .to_string()
        };
        let s = line_of("sub");
        assert_eq!(
            (
                field(&s, "flags"),
                field(&s, "sub"),
                field(&s, "psub"),
                field(&s, "ssub")
            ),
            ("P".into(), "2".into(), "1".into(), "0".into()),
            "{s}"
        );
        assert_eq!(field(&line_of("mon"), "flags"), "O", "{list}");
        sub.send(&[b"UNSUBSCRIBE", b"a"]);
        read_str(&mut sub);
        let list = other.cmd_str(&["CLIENT", "LIST"]);
        let s = list.lines().find(|l| l.contains(" name=sub ")).unwrap();
        assert_eq!(field(s, "sub"), "1", "{s}");
    }
}
