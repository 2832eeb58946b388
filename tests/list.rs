//! Blocking list commands across connections: FIFO service, wake-ups by other clients'
//! pushes (plain, MULTI/EXEC, scripts, LMOVE chains), timeouts, disconnects, CLIENT UNBLOCK.
//! The single-connection semantics are in tests/differential/85-89_list_*.redis.

mod common;
use common::{RawClient, Server};
use std::time::{Duration, Instant};

/// Waits until INFO reports `n` blocked clients, so the next step happens after the waits
/// began (the order of arrival is what the tests check).
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

fn pair(key: &str, value: &str) -> Vec<u8> {
    format!(
        "*2\r\n${}\r\n{key}\r\n${}\r\n{value}\r\n",
        key.len(),
        value.len()
    )
    .into_bytes()
}

#[test]
fn three_blocked_clients_are_served_in_arrival_order() {
    let server = Server::start(&[]);
    let mut admin = server.raw();
    let mut clients = Vec::new();
    for n in 1..=3 {
        clients.push(blocked(server.port, &["BLPOP", "q", "0"]));
        wait_blocked(&mut admin, n);
    }
    assert_eq!(admin.cmd(&["RPUSH", "q", "1", "2", "3"]), b":3\r\n");
    for (client, value) in clients.iter_mut().zip(["1", "2", "3"]) {
        assert_eq!(client.read_reply().unwrap(), pair("q", value));
    }
    wait_blocked(&mut admin, 0);
    assert_eq!(admin.cmd(&["EXISTS", "q"]), b":0\r\n");

    // One element at a time: still the first in line each time.
    let mut clients = Vec::new();
    for n in 1..=3 {
        clients.push(blocked(server.port, &["BRPOP", "q", "other", "0"]));
        wait_blocked(&mut admin, n);
    }
    for (i, client) in clients.iter_mut().enumerate() {
        let value = format!("v{i}");
        admin.cmd(&["LPUSH", "q", &value]);
        assert_eq!(client.read_reply().unwrap(), pair("q", &value));
    }
}

#[test]
fn a_push_by_another_client_wakes_the_waiter_before_the_pusher_goes_on() {
    let server = Server::start(&[]);
    let mut admin = server.raw();
    let mut waiter = blocked(server.port, &["BLPOP", "q", "0"]);
    wait_blocked(&mut admin, 1);
    let list = admin.cmd_str(&["CLIENT", "LIST"]);
    assert!(
        list.contains("flags=b") && list.contains("cmd=blpop"),
        "{list}"
    );
    // Pipelined: the waiter is served right after RPUSH, so the pusher's LPOP finds nothing,
    // as in Redis.
    admin.send(&[b"RPUSH", b"q", b"x"]);
    admin.send(&[b"LPOP", b"q"]);
    assert_eq!(admin.read_reply().unwrap(), b":1\r\n");
    assert_eq!(admin.read_reply().unwrap(), b"$-1\r\n");
    assert_eq!(waiter.read_reply().unwrap(), pair("q", "x"));
    // The waiter's connection goes on with the next command.
    assert_eq!(waiter.cmd(&["PING"]), b"+PONG\r\n");
}

#[test]
fn transactions_and_scripts_wake_waiters_when_they_complete() {
    let server = Server::start(&[]);
    let mut admin = server.raw();
    let mut waiter = blocked(server.port, &["BLPOP", "q", "0"]);
    wait_blocked(&mut admin, 1);
    admin.cmd(&["MULTI"]);
    admin.cmd(&["RPUSH", "q", "a", "b"]);
    admin.cmd(&["LPOP", "q"]);
    assert_eq!(admin.cmd(&["EXEC"]), b"*2\r\n:2\r\n$1\r\na\r\n");
    assert_eq!(waiter.read_reply().unwrap(), pair("q", "b"));

    let mut waiter = blocked(server.port, &["BRPOP", "s", "0"]);
    wait_blocked(&mut admin, 1);
    let script = "redis.call('rpush', KEYS[1], 'x', 'y'); return redis.call('rpop', KEYS[1])";
    assert_eq!(admin.cmd(&["EVAL", script, "1", "s"]), b"$1\r\ny\r\n");
    assert_eq!(waiter.read_reply().unwrap(), pair("s", "x"));
}

#[test]
fn blmove_chain_hands_the_element_on() {
    let server = Server::start(&[]);
    let mut admin = server.raw();
    let mut mover = blocked(server.port, &["BLMOVE", "s1", "s2", "LEFT", "RIGHT", "0"]);
    wait_blocked(&mut admin, 1);
    let mut second = blocked(server.port, &["BRPOPLPUSH", "s2", "s3", "0"]);
    wait_blocked(&mut admin, 2);
    let mut last = blocked(server.port, &["BLPOP", "s3", "0"]);
    wait_blocked(&mut admin, 3);
    assert_eq!(admin.cmd(&["LPUSH", "s1", "v"]), b":1\r\n");
    assert_eq!(mover.read_reply().unwrap(), b"$1\r\nv\r\n");
    assert_eq!(second.read_reply().unwrap(), b"$1\r\nv\r\n");
    assert_eq!(last.read_reply().unwrap(), pair("s3", "v"));
    for key in ["s1", "s2", "s3"] {
        assert_eq!(admin.cmd(&["EXISTS", key]), b":0\r\n");
    }
}

#[test]
fn a_timeout_answers_nil_and_a_type_change_keeps_the_wait() {
    let server = Server::start(&[]);
    let mut c = server.raw();
    assert_eq!(c.cmd(&["BLPOP", "q", "0.05"]), b"*-1\r\n");
    assert_eq!(
        c.cmd(&["BLMOVE", "q", "d", "LEFT", "LEFT", "0.01"]),
        b"*-1\r\n"
    );
    assert_eq!(c.cmd(&["BLMPOP", "0.01", "1", "q", "LEFT"]), b"*-1\r\n");

    let mut admin = server.raw();
    let mut waiter = blocked(server.port, &["BLPOP", "q", "0"]);
    wait_blocked(&mut admin, 1);
    admin.cmd(&["SET", "q", "string"]);
    admin.cmd(&["DEL", "q"]);
    admin.cmd(&["SADD", "q", "member"]);
    admin.cmd(&["DEL", "q"]);
    wait_blocked(&mut admin, 1);
    admin.cmd(&["RPUSH", "q", "finally"]);
    assert_eq!(waiter.read_reply().unwrap(), pair("q", "finally"));
    wait_blocked(&mut admin, 0);
}

#[test]
fn a_disconnected_waiter_is_forgotten() {
    let server = Server::start(&[]);
    let mut admin = server.raw();
    let waiter = blocked(server.port, &["BLPOP", "q", "0"]);
    let other = blocked(server.port, &["BLPOP", "q", "r", "0"]);
    wait_blocked(&mut admin, 2);
    drop(waiter);
    drop(other);
    wait_blocked(&mut admin, 0);
    let info = admin.cmd_str(&["INFO", "clients"]);
    assert!(info.contains("total_blocking_keys:0\r"), "{info}");
    // Nobody takes the element any more.
    assert_eq!(admin.cmd(&["RPUSH", "q", "kept"]), b":1\r\n");
    assert_eq!(admin.cmd(&["LLEN", "q"]), b":1\r\n");
}

#[test]
fn client_unblock_ends_a_wait() {
    let server = Server::start(&[]);
    let mut admin = server.raw();
    let mut waiter = server.raw();
    let id = waiter.cmd_str(&["CLIENT", "ID"]);
    let id = id.trim_start_matches(':').trim().to_string();
    assert_eq!(admin.cmd(&["CLIENT", "UNBLOCK", &id]), b":0\r\n");

    waiter.send(&[b"BLPOP", b"q", b"0"]);
    wait_blocked(&mut admin, 1);
    assert_eq!(admin.cmd(&["CLIENT", "UNBLOCK", &id]), b":1\r\n");
    assert_eq!(waiter.read_reply().unwrap(), b"*-1\r\n");

    waiter.send(&[b"BLMOVE", b"q", b"d", b"LEFT", b"LEFT", b"0"]);
    wait_blocked(&mut admin, 1);
    assert_eq!(admin.cmd(&["CLIENT", "UNBLOCK", &id, "ERROR"]), b":1\r\n");
    assert_eq!(
        waiter.read_reply().unwrap(),
        b"-UNBLOCKED client unblocked via CLIENT UNBLOCK\r\n"
    );
    wait_blocked(&mut admin, 0);
    assert_eq!(waiter.cmd(&["PING"]), b"+PONG\r\n");
}

#[test]
fn keyspace_events_of_pops_and_moves() {
    let server = Server::start(&["--notify-keyspace-events", "KEgl"]);
    let mut sub = server.raw();
    sub.cmd(&["PSUBSCRIBE", "__keyevent@0__:*"]);
    let mut c = server.raw();
    c.cmd(&["RPUSH", "src", "a"]);
    c.cmd(&["LMOVE", "src", "dst", "LEFT", "RIGHT"]);
    c.cmd(&["BLPOP", "dst", "0"]);
    let mut events = Vec::new();
    for _ in 0..6 {
        let frame = String::from_utf8(sub.read_reply().unwrap()).unwrap();
        let lines: Vec<&str> = frame.lines().collect();
        events.push(format!("{} {}", lines[6], lines[8]));
    }
    let expected = [
        "__keyevent@0__:rpush src",
        "__keyevent@0__:rpush dst",
        "__keyevent@0__:lpop src",
        "__keyevent@0__:del src",
        "__keyevent@0__:lpop dst",
        "__keyevent@0__:del dst",
    ];
    assert_eq!(events, expected);
}
