//! `event-loop epoll` (net/event_loop.rs): plain TCP connections served on epoll threads, and
//! each way a connection leaves them for tokio (a blocking command, Pub/Sub, a script, EXEC,
//! a reply too large for the socket) or ends there (CLIENT KILL, the idle timeout, QUIT).
//! The whole suite also runs with the loop on (FERROCACHE_TEST_EVENT_LOOP=epoll in
//! tests/run.sh); these are the moves themselves.

mod common;
use common::{RawClient, Server};
use std::io::Read;
use std::time::{Duration, Instant};

fn epoll_server(extra: &[&str]) -> Server {
    let mut args = vec!["--event-loop", "epoll"];
    args.extend_from_slice(extra);
    Server::start(&args)
}

#[test]
fn the_option_is_reported_and_immutable() {
    let server = epoll_server(&[]);
    let mut c = server.raw();
    assert_eq!(
        c.cmd_str(&["CONFIG", "GET", "event-loop"]),
        "*2\r\n$10\r\nevent-loop\r\n$5\r\nepoll\r\n"
    );
    assert!(c
        .cmd_str(&["CONFIG", "SET", "event-loop", "tokio"])
        .starts_with("-ERR CONFIG SET failed (possibly related to argument 'event-loop') - can't set immutable config"));
}

#[test]
fn requests_and_pipelines_are_answered_in_order() {
    let server = epoll_server(&[]);
    let mut c = server.raw();
    assert_eq!(c.cmd_str(&["SET", "k", "v"]), "+OK\r\n");
    assert_eq!(c.cmd_str(&["GET", "k"]), "$1\r\nv\r\n");
    let mut batch = Vec::new();
    for i in 0..200 {
        batch.extend_from_slice(&common::encode_command(&[b"INCR", b"n"]));
        if i % 50 == 0 {
            batch.extend_from_slice(&common::encode_command(&[b"PING"]));
        }
    }
    c.send_raw(&batch);
    let mut n = 0;
    for i in 0..200 {
        n += 1;
        assert_eq!(c.read_reply().unwrap(), format!(":{n}\r\n").into_bytes());
        if i % 50 == 0 {
            assert_eq!(c.read_reply().unwrap(), b"+PONG\r\n");
        }
    }
    // A protocol error closes the connection after its reply, as on tokio.
    c.send_raw(b"*1\r\n$x\r\n");
    let rest = c.read_to_close();
    assert!(String::from_utf8_lossy(&rest).starts_with("-ERR Protocol error"));
}

#[test]
fn a_blocking_command_moves_and_is_served() {
    let server = epoll_server(&[]);
    let mut waiter = server.raw();
    waiter.send(&[b"BLPOP", b"q", b"0"]);
    let mut pusher = server.raw();
    // The waiter is blocked once CLIENT LIST shows it so.
    let deadline = Instant::now() + Duration::from_secs(20);
    while !pusher.cmd_str(&["CLIENT", "LIST"]).contains("cmd=blpop") {
        assert!(Instant::now() < deadline, "BLPOP never blocked");
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(pusher.cmd_str(&["LPUSH", "q", "job"]), ":1\r\n");
    assert_eq!(
        waiter.read_reply().unwrap(),
        b"*2\r\n$1\r\nq\r\n$3\r\njob\r\n"
    );
    // The moved connection goes on serving.
    assert_eq!(waiter.cmd_str(&["GET", "q"]), "$-1\r\n");
}

#[test]
fn pipelined_requests_behind_a_move_run_once_in_order() {
    let server = epoll_server(&[]);
    let mut c = server.raw();
    let mut batch = Vec::new();
    batch.extend_from_slice(&common::encode_command(&[b"INCR", b"a"]));
    batch.extend_from_slice(&common::encode_command(&[
        b"EVAL",
        b"return redis.call('INCR', KEYS[1])",
        b"1",
        b"a",
    ]));
    batch.extend_from_slice(&common::encode_command(&[b"INCR", b"a"]));
    batch.extend_from_slice(&common::encode_command(&[b"MULTI"]));
    batch.extend_from_slice(&common::encode_command(&[b"INCR", b"a"]));
    batch.extend_from_slice(&common::encode_command(&[b"EXEC"]));
    batch.extend_from_slice(&common::encode_command(&[b"GET", b"a"]));
    c.send_raw(&batch);
    let replies: Vec<String> = (0..7)
        .map(|_| String::from_utf8(c.read_reply().unwrap()).unwrap())
        .collect();
    assert_eq!(
        replies,
        [
            ":1\r\n",
            ":2\r\n",
            ":3\r\n",
            "+OK\r\n",
            "+QUEUED\r\n",
            "*1\r\n:4\r\n",
            "$1\r\n4\r\n"
        ]
    );
}

#[test]
fn a_subscriber_moves_and_gets_messages() {
    let server = epoll_server(&[]);
    let mut sub = server.raw();
    assert_eq!(
        sub.cmd_str(&["SUBSCRIBE", "news"]),
        "*3\r\n$9\r\nsubscribe\r\n$4\r\nnews\r\n:1\r\n"
    );
    let mut publisher = server.raw();
    assert_eq!(publisher.cmd_str(&["PUBLISH", "news", "hi"]), ":1\r\n");
    assert_eq!(
        sub.read_reply().unwrap(),
        b"*3\r\n$7\r\nmessage\r\n$4\r\nnews\r\n$2\r\nhi\r\n"
    );
}

#[test]
fn client_kill_closes_an_idle_connection_on_the_loop() {
    let server = epoll_server(&[]);
    let mut victim = server.raw();
    let id = victim.cmd_str(&["CLIENT", "ID"]);
    let id = id.trim_start_matches(':').trim().to_string();
    let mut admin = server.raw();
    assert_eq!(admin.cmd_str(&["CLIENT", "KILL", "ID", &id]), ":1\r\n");
    // Closed without a request from it (end of stream, not the read timeout): the kill
    // reached the loop.
    let mut byte = [0u8; 1];
    assert!(matches!(victim.stream.read(&mut byte), Ok(0)), "not closed");
    assert!(!admin
        .cmd_str(&["CLIENT", "LIST"])
        .contains(&format!("id={id} ")));
}

#[test]
fn an_idle_connection_times_out() {
    let server = epoll_server(&["--timeout", "1"]);
    let mut idle = server.raw();
    assert_eq!(idle.cmd_str(&["PING"]), "+PONG\r\n");
    idle.stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let mut byte = [0u8; 1];
    assert!(matches!(idle.stream.read(&mut byte), Ok(0)), "not closed");
}

#[test]
fn a_reply_larger_than_the_socket_takes_is_written_whole() {
    let server = epoll_server(&[]);
    let mut c = server.raw();
    let value = "x".repeat(8 << 20);
    assert_eq!(c.cmd_str(&["SET", "big", &value]), "+OK\r\n");
    // Three big replies asked at once: the loop's write stops part way and the rest goes out
    // from tokio, in order, followed by the next request's reply.
    let mut batch = Vec::new();
    for _ in 0..3 {
        batch.extend_from_slice(&common::encode_command(&[b"GET", b"big"]));
    }
    batch.extend_from_slice(&common::encode_command(&[b"STRLEN", b"big"]));
    c.send_raw(&batch);
    std::thread::sleep(Duration::from_millis(200));
    let expected = format!("${}\r\n{value}\r\n", value.len()).into_bytes();
    for _ in 0..3 {
        assert!(c.read_reply().unwrap() == expected);
    }
    assert_eq!(
        c.read_reply().unwrap(),
        format!(":{}\r\n", value.len()).into_bytes()
    );
}

/// A client admitted once the slots of closed connections are back (they come back when the
/// server has seen the close, a moment after the client's).
fn admitted(port: u16) -> RawClient {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let mut c = RawClient::connect(port);
        if c.cmd_str(&["PING"]) == "+PONG\r\n" {
            return c;
        }
        assert!(Instant::now() < deadline, "slots not given back");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn maxclients_slots_come_back_when_loop_connections_close() {
    let server = epoll_server(&["--maxclients", "2"]);
    for _ in 0..5 {
        let a = admitted(server.port);
        let b = admitted(server.port);
        let mut third = RawClient::connect(server.port);
        assert_eq!(
            third.read_to_close(),
            b"-ERR max number of clients reached\r\n"
        );
        drop((a, b));
    }
}

#[test]
fn a_tracking_client_moves_when_an_invalidation_is_pushed_and_gets_it() {
    let server = epoll_server(&[]);
    let mut reader = server.raw();
    reader.resp3 = true;
    assert!(reader.cmd_str(&["HELLO", "3"]).starts_with('%'));
    assert_eq!(reader.cmd_str(&["CLIENT", "TRACKING", "on"]), "+OK\r\n");
    assert_eq!(reader.cmd_str(&["GET", "page"]), "_\r\n");
    let mut writer = server.raw();
    assert_eq!(writer.cmd_str(&["SET", "page", "v2"]), "+OK\r\n");
    // Pushed while the reader is idle on the loop: it moves and the frame is written.
    assert_eq!(
        reader.read_reply().unwrap(),
        b">2\r\n$10\r\ninvalidate\r\n*1\r\n$4\r\npage\r\n"
    );
    assert_eq!(reader.cmd_str(&["GET", "page"]), "$2\r\nv2\r\n");
}
