//! MULTI/EXEC/WATCH over TCP with several clients (the semantics are also in the differential
//! suite, tests/differential/50_transactions.redis).

mod common;
use common::{RawClient, Server};

fn bulk_u64(reply: &[u8]) -> u64 {
    if reply == b"$-1\r\n" {
        return 0;
    }
    String::from_utf8_lossy(reply)
        .lines()
        .nth(1)
        .expect("bulk body")
        .parse()
        .expect("an integer")
}

/// 16 clients each add 100 to a counter by optimistic transactions (WATCH, GET, MULTI, SET,
/// EXEC, retry on a nil EXEC). Any lost update or EXEC that ran despite a concurrent change
/// shows up in the final total.
#[test]
fn watch_retries_never_lose_an_update() {
    const CLIENTS: u64 = 16;
    const INCREMENTS: u64 = 100;
    let server = Server::start(&[]);
    let port = server.port;
    let workers: Vec<_> = (0..CLIENTS)
        .map(|_| {
            std::thread::spawn(move || {
                let mut c = RawClient::connect(port);
                let mut retries = 0u64;
                for _ in 0..INCREMENTS {
                    loop {
                        assert_eq!(c.cmd(&["WATCH", "counter"]), b"+OK\r\n");
                        let current = bulk_u64(&c.cmd(&["GET", "counter"]));
                        assert_eq!(c.cmd(&["MULTI"]), b"+OK\r\n");
                        let next = (current + 1).to_string();
                        assert_eq!(c.cmd(&["SET", "counter", &next]), b"+QUEUED\r\n");
                        match c.cmd(&["EXEC"]).as_slice() {
                            b"*1\r\n+OK\r\n" => break,
                            b"*-1\r\n" => retries += 1,
                            other => {
                                panic!("unexpected EXEC reply {:?}", String::from_utf8_lossy(other))
                            }
                        }
                    }
                }
                retries
            })
        })
        .collect();
    let retries: u64 = workers.into_iter().map(|w| w.join().expect("worker")).sum();
    let mut c = server.raw();
    assert_eq!(bulk_u64(&c.cmd(&["GET", "counter"])), CLIENTS * INCREMENTS);
    // With 16 writers on one key, some EXECs must have been refused; if none were, WATCH
    // would not have been exercised at all.
    assert!(retries > 0, "no EXEC was ever refused");
}

/// EXEC is atomic across shards: a reader never sees half of a transaction that writes two
/// keys (in different shards) to the same value.
#[test]
fn exec_is_atomic_for_other_clients() {
    let server = Server::start(&[]);
    let port = server.port;
    let writer = std::thread::spawn(move || {
        let mut c = RawClient::connect(port);
        for i in 0..2000 {
            let v = i.to_string();
            c.cmd(&["MULTI"]);
            c.cmd(&["SET", "left", &v]);
            c.cmd(&["SET", "right", &v]);
            let reply = c.cmd(&["EXEC"]);
            assert_eq!(reply, b"*2\r\n+OK\r\n+OK\r\n");
        }
    });
    let mut reader = server.raw();
    for _ in 0..2000 {
        let reply = reader.cmd_str(&["MGET", "left", "right"]);
        let parts: Vec<&str> = reply.split("\r\n").collect();
        // *2, then either two nils ($-1, $-1) or two bulks ($n, v, $n, v) that must be equal.
        if parts[1] != "$-1" {
            assert_eq!(parts[2], parts[4], "saw half a transaction: {reply:?}");
        }
    }
    writer.join().expect("writer");
}
