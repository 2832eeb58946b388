//! CLIENT PAUSE / UNPAUSE against the real binary with real connections: WRITE holds writes
//! (and may-replicate commands) but not reads, held requests resume in the order they arrived,
//! ALL holds every command (seen through the metrics endpoint, which is not a client), keys
//! neither expire nor are evicted while paused. No timing assertion: held requests are observed
//! through INFO's `blocked_clients` and released with CLIENT UNPAUSE; pauses are far longer
//! than the tests.

mod common;
use common::{RawClient, Server};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

fn cmd(c: &mut RawClient, args: &[&str]) -> String {
    c.cmd_str(args)
}

fn blocked_clients(c: &mut RawClient) -> u64 {
    let info = cmd(c, &["INFO", "clients"]);
    info.lines()
        .find_map(|l| l.strip_prefix("blocked_clients:"))
        .unwrap()
        .trim()
        .parse()
        .unwrap()
}

/// Polls INFO until `n` clients are held (bounded: 10 s).
fn wait_blocked(c: &mut RawClient, n: u64) {
    for _ in 0..2000 {
        if blocked_clients(c) == n {
            return;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    panic!("blocked_clients never reached {n}");
}

fn send(c: &mut RawClient, args: &[&str]) {
    let args: Vec<&[u8]> = args.iter().map(|a| a.as_bytes()).collect();
    c.send(&args);
}

fn read(c: &mut RawClient) -> String {
    String::from_utf8(c.read_reply().expect("a reply")).unwrap()
}

#[test]
fn write_pause_holds_writes_until_unpause() {
    let server = Server::start(&[]);
    let mut admin = server.raw();
    let mut writer = server.raw();
    let mut reader = server.raw();
    assert_eq!(cmd(&mut admin, &["SET", "k", "old"]), "+OK\r\n");
    assert_eq!(
        cmd(&mut admin, &["CLIENT", "PAUSE", "1000000", "WRITE"]),
        "+OK\r\n"
    );
    send(&mut writer, &["SET", "k", "new"]);
    wait_blocked(&mut admin, 1);
    // CLIENT LIST shows it blocked in its command, as redis-server.
    let list = cmd(&mut admin, &["CLIENT", "LIST"]);
    assert!(
        list.lines()
            .any(|l| l.contains(" flags=b ") && l.contains(" cmd=set ")),
        "{list}"
    );
    // Reads run; the held write has not.
    assert_eq!(cmd(&mut reader, &["GET", "k"]), "$3\r\nold\r\n");
    assert_eq!(cmd(&mut reader, &["EVAL_RO", "return 1", "0"]), ":1\r\n");
    assert_eq!(
        cmd(
            &mut reader,
            &["EVAL", "#!lua flags=no-writes\nreturn 2", "0"]
        ),
        ":2\r\n"
    );
    // Errors that need no run answer at once.
    assert_eq!(
        cmd(&mut reader, &["SET", "k"]),
        "-ERR wrong number of arguments for 'set' command\r\n"
    );
    // A user not allowed to write is refused at once, not held.
    assert_eq!(
        cmd(
            &mut admin,
            &["ACL", "SETUSER", "reader", "on", "nopass", "~*", "+get"]
        ),
        "+OK\r\n"
    );
    let mut limited = server.raw();
    assert_eq!(cmd(&mut limited, &["AUTH", "reader", "x"]), "+OK\r\n");
    assert!(cmd(&mut limited, &["SET", "k", "v"]).starts_with("-NOPERM"));
    // PUBLISH and PFCOUNT are held too (may replicate), queued behind the SET.
    let mut publisher = server.raw();
    send(&mut publisher, &["PUBLISH", "ch", "m"]);
    wait_blocked(&mut admin, 2);
    let mut counter = server.raw();
    send(&mut counter, &["PFCOUNT", "hll"]);
    wait_blocked(&mut admin, 3);
    assert_eq!(cmd(&mut admin, &["CLIENT", "UNPAUSE"]), "+OK\r\n");
    assert_eq!(read(&mut writer), "+OK\r\n");
    assert_eq!(read(&mut publisher), ":0\r\n");
    assert_eq!(read(&mut counter), ":0\r\n");
    assert_eq!(cmd(&mut reader, &["GET", "k"]), "$3\r\nnew\r\n");
    assert_eq!(blocked_clients(&mut admin), 0);
}

#[test]
fn held_requests_resume_in_arrival_order() {
    let server = Server::start(&[]);
    let mut admin = server.raw();
    assert_eq!(
        cmd(&mut admin, &["CLIENT", "PAUSE", "1000000", "WRITE"]),
        "+OK\r\n"
    );
    let mut clients: Vec<RawClient> = (0..6).map(|_| server.raw()).collect();
    for (i, c) in clients.iter_mut().enumerate() {
        send(c, &["RPUSH", "order", &i.to_string()]);
        wait_blocked(&mut admin, i as u64 + 1);
    }
    // A transaction that queued a write is held at EXEC ... and its queued write when queued.
    let mut multi = server.raw();
    assert_eq!(cmd(&mut multi, &["MULTI"]), "+OK\r\n");
    send(&mut multi, &["RPUSH", "order", "multi"]);
    wait_blocked(&mut admin, 7);
    assert_eq!(cmd(&mut admin, &["LLEN", "order"]), ":0\r\n");
    assert_eq!(cmd(&mut admin, &["CLIENT", "UNPAUSE"]), "+OK\r\n");
    for (i, c) in clients.iter_mut().enumerate() {
        assert_eq!(read(c), format!(":{}\r\n", i + 1));
    }
    assert_eq!(read(&mut multi), "+QUEUED\r\n");
    assert_eq!(cmd(&mut multi, &["EXEC"]), "*1\r\n:7\r\n");
    assert_eq!(
        cmd(&mut admin, &["LRANGE", "order", "0", "-1"]),
        "*7\r\n$1\r\n0\r\n$1\r\n1\r\n$1\r\n2\r\n$1\r\n3\r\n$1\r\n4\r\n$1\r\n5\r\n$5\r\nmulti\r\n"
    );
}

#[test]
fn keys_do_not_expire_during_a_pause() {
    let server = Server::start(&["--enable-debug-command", "yes"]);
    let mut admin = server.raw();
    // The key and the pause in one transaction: no expiry cycle can run between them.
    assert_eq!(cmd(&mut admin, &["MULTI"]), "+OK\r\n");
    assert_eq!(
        cmd(&mut admin, &["SET", "soon", "v", "PX", "50"]),
        "+QUEUED\r\n"
    );
    assert_eq!(
        cmd(&mut admin, &["CLIENT", "PAUSE", "1000000", "WRITE"]),
        "+QUEUED\r\n"
    );
    assert_eq!(cmd(&mut admin, &["EXEC"]), "*2\r\n+OK\r\n+OK\r\n");
    // Logically gone for readers once its deadline passes (as redis-server 7.0.15) ...
    let mut gone = false;
    for _ in 0..2000 {
        if cmd(&mut admin, &["EXISTS", "soon"]) == ":0\r\n" {
            gone = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    assert!(gone);
    assert_eq!(cmd(&mut admin, &["GET", "soon"]), "$-1\r\n");
    // ... but neither lazily nor actively deleted while paused.
    for _ in 0..5 {
        // Several active-expiry cycles (hz 10) pass.
        std::thread::sleep(Duration::from_millis(120));
        assert_eq!(cmd(&mut admin, &["DBSIZE"]), ":1\r\n");
    }
    let info = cmd(&mut admin, &["INFO", "stats"]);
    assert!(info.contains("expired_keys:0\r\n"), "{info}");
    assert_eq!(cmd(&mut admin, &["CLIENT", "UNPAUSE"]), "+OK\r\n");
    assert_eq!(cmd(&mut admin, &["GET", "soon"]), "$-1\r\n");
    assert_eq!(cmd(&mut admin, &["DBSIZE"]), ":0\r\n");
}

/// No eviction during a pause either (Redis's performEvictions): a dataset over maxmemory is
/// left whole, and commands are not refused with -OOM, until the pause ends; the first command
/// after UNPAUSE evicts.
#[test]
fn keys_are_not_evicted_during_a_pause() {
    let server = Server::start(&["--maxmemory-policy", "allkeys-random"]);
    let mut admin = server.raw();
    let value = "x".repeat(1000);
    for i in 0..2000 {
        assert_eq!(
            cmd(&mut admin, &["SET", &format!("k{i}"), &value]),
            "+OK\r\n"
        );
    }
    assert_eq!(
        cmd(&mut admin, &["CLIENT", "PAUSE", "1000000", "WRITE"]),
        "+OK\r\n"
    );
    // 1 MB is far below what 2000 values of 1 KB hold.
    assert_eq!(
        cmd(&mut admin, &["CONFIG", "SET", "maxmemory", "1mb"]),
        "+OK\r\n"
    );
    for _ in 0..5 {
        assert_eq!(
            cmd(&mut admin, &["GET", "k0"]),
            format!("$1000\r\n{value}\r\n")
        );
        assert_eq!(cmd(&mut admin, &["DBSIZE"]), ":2000\r\n");
        std::thread::sleep(Duration::from_millis(50));
    }
    let info = cmd(&mut admin, &["INFO", "stats"]);
    assert!(info.contains("evicted_keys:0\r\n"), "{info}");
    assert_eq!(cmd(&mut admin, &["CLIENT", "UNPAUSE"]), "+OK\r\n");
    cmd(&mut admin, &["PING"]);
    let left: u64 = cmd(&mut admin, &["DBSIZE"])
        .trim_start_matches(':')
        .trim()
        .parse()
        .unwrap();
    assert!(left < 2000, "nothing evicted after the pause: {left} keys");
}

fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

/// `ferrocache_blocked_clients` from the metrics endpoint (an internal client: never paused).
fn scraped_blocked_clients(port: u16) -> f64 {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let mut response = String::new();
    s.read_to_string(&mut response).unwrap();
    response
        .lines()
        .find_map(|l| l.strip_prefix("ferrocache_blocked_clients "))
        .unwrap()
        .parse()
        .unwrap()
}

/// ALL holds reads too, and CLIENT UNPAUSE itself (as Redis): the held requests are seen
/// through the metrics endpoint, and released in order when the pause ends.
#[test]
fn all_pause_holds_every_command() {
    let port = free_port();
    let server = Server::start(&["--metrics-port", &port.to_string()]);
    let mut admin = server.raw();
    assert_eq!(cmd(&mut admin, &["SET", "k", "v"]), "+OK\r\n");
    // Long enough that the held requests are seen; the test then waits for its end.
    assert_eq!(
        cmd(&mut admin, &["CLIENT", "PAUSE", "4000", "ALL"]),
        "+OK\r\n"
    );
    let mut reader = server.raw();
    send(&mut reader, &["GET", "k"]);
    send(&mut admin, &["CLIENT", "UNPAUSE"]);
    let mut seen = false;
    for _ in 0..2000 {
        if scraped_blocked_clients(port) == 2.0 {
            seen = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    assert!(seen, "the GET and the UNPAUSE were not held");
    assert_eq!(read(&mut reader), "$1\r\nv\r\n");
    assert_eq!(read(&mut admin), "+OK\r\n");
}
