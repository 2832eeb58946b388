//! Lock primitives over TCP against the real binary: DELIFEQ, DELEX and SET IFEQ / IFNE / IFDEQ /
//! IFDNE replies, DIGEST, MSETEX (atomic, logged to the AOF), and mutual exclusion of the `SET NX PX` + `DELIFEQ` lock under concurrent clients.

mod common;
use common::{RawClient, Server};

fn cmd(c: &mut RawClient, args: &[&str]) -> String {
    c.cmd_str(args)
}

#[test]
fn delifeq_deletes_only_a_matching_value() {
    let server = Server::start(&[]);
    let mut c = server.raw();
    assert_eq!(cmd(&mut c, &["DELIFEQ", "lock", "t1"]), ":0\r\n");
    assert_eq!(cmd(&mut c, &["SET", "lock", "t1"]), "+OK\r\n");
    assert_eq!(cmd(&mut c, &["DELIFEQ", "lock", "t2"]), ":0\r\n");
    assert_eq!(cmd(&mut c, &["DELIFEQ", "lock", "T1"]), ":0\r\n");
    assert_eq!(cmd(&mut c, &["GET", "lock"]), "$2\r\nt1\r\n");
    assert_eq!(cmd(&mut c, &["DELIFEQ", "lock", "t1"]), ":1\r\n");
    assert_eq!(cmd(&mut c, &["EXISTS", "lock"]), ":0\r\n");
    assert_eq!(cmd(&mut c, &["DELIFEQ", "lock", "t1"]), ":0\r\n");
    // Binary-safe comparison.
    c.send(&[b"SET", b"\x00k", b"\xff\x00v"]);
    assert_eq!(c.read_reply().unwrap(), b"+OK\r\n");
    c.send(&[b"DELIFEQ", b"\x00k", b"\xff\x00"]);
    assert_eq!(c.read_reply().unwrap(), b":0\r\n");
    c.send(&[b"DELIFEQ", b"\x00k", b"\xff\x00v"]);
    assert_eq!(c.read_reply().unwrap(), b":1\r\n");
    assert_eq!(
        cmd(&mut c, &["DELIFEQ", "lock"]),
        "-ERR wrong number of arguments for 'delifeq' command\r\n"
    );
    assert_eq!(
        cmd(&mut c, &["DELIFEQ", "lock", "a", "b"]),
        "-ERR wrong number of arguments for 'delifeq' command\r\n"
    );
}

#[test]
fn delifeq_misses_an_expired_lock() {
    let server = Server::start(&[]);
    let mut c = server.raw();
    assert_eq!(cmd(&mut c, &["SET", "lock", "t1", "PX", "1"]), "+OK\r\n");
    std::thread::sleep(std::time::Duration::from_millis(20));
    assert_eq!(cmd(&mut c, &["DELIFEQ", "lock", "t1"]), ":0\r\n");
}

#[test]
fn delex_conditions() {
    let server = Server::start(&[]);
    let mut c = server.raw();
    assert_eq!(cmd(&mut c, &["DELEX", "k"]), ":0\r\n");
    assert_eq!(cmd(&mut c, &["SET", "k", "v"]), "+OK\r\n");
    assert_eq!(cmd(&mut c, &["DELEX", "k"]), ":1\r\n");
    assert_eq!(cmd(&mut c, &["SET", "k", "v"]), "+OK\r\n");
    assert_eq!(cmd(&mut c, &["DELEX", "k", "IFEQ", "w"]), ":0\r\n");
    assert_eq!(cmd(&mut c, &["DELEX", "k", "IFNE", "v"]), ":0\r\n");
    assert_eq!(cmd(&mut c, &["DELEX", "k", "ifeq", "v"]), ":1\r\n");
    assert_eq!(cmd(&mut c, &["SET", "k", "v"]), "+OK\r\n");
    assert_eq!(cmd(&mut c, &["DELEX", "k", "ifne", "w"]), ":1\r\n");
    assert_eq!(cmd(&mut c, &["DELEX", "k", "IFNE", "w"]), ":0\r\n");
    assert_eq!(cmd(&mut c, &["DELEX", "k", "IFEQ", "w"]), ":0\r\n");
    assert_eq!(
        cmd(&mut c, &["DELEX", "k", "IFEQ"]),
        "-ERR syntax error\r\n"
    );
    assert_eq!(
        cmd(&mut c, &["DELEX", "k", "IFXX", "v"]),
        "-ERR syntax error\r\n"
    );
    assert_eq!(
        cmd(&mut c, &["DELEX", "k", "IFEQ", "v", "IFNE", "w"]),
        "-ERR syntax error\r\n"
    );
    assert_eq!(
        cmd(&mut c, &["DELEX", "k", "IFDEQ", "0123456789abcdef"]),
        ":0\r\n"
    );
    assert_eq!(
        cmd(&mut c, &["DELEX"]),
        "-ERR wrong number of arguments for 'delex' command\r\n"
    );
}

#[test]
fn set_ifeq_ifne() {
    let server = Server::start(&[]);
    let mut c = server.raw();
    // IFEQ needs the key to exist with that value; IFNE writes when missing or different.
    assert_eq!(cmd(&mut c, &["SET", "k", "v1", "IFEQ", "v0"]), "$-1\r\n");
    assert_eq!(cmd(&mut c, &["EXISTS", "k"]), ":0\r\n");
    assert_eq!(cmd(&mut c, &["SET", "k", "v1", "IFNE", "v0"]), "+OK\r\n");
    assert_eq!(cmd(&mut c, &["SET", "k", "v2", "IFNE", "v1"]), "$-1\r\n");
    assert_eq!(cmd(&mut c, &["SET", "k", "v2", "IFEQ", "v1"]), "+OK\r\n");
    assert_eq!(cmd(&mut c, &["GET", "k"]), "$2\r\nv2\r\n");
    // GET replies with the old value whether or not the condition held.
    assert_eq!(
        cmd(&mut c, &["SET", "k", "v3", "IFEQ", "nope", "GET"]),
        "$2\r\nv2\r\n"
    );
    assert_eq!(
        cmd(&mut c, &["SET", "k", "v3", "GET", "IFEQ", "v2"]),
        "$2\r\nv2\r\n"
    );
    assert_eq!(cmd(&mut c, &["GET", "k"]), "$2\r\nv3\r\n");
    assert_eq!(
        cmd(&mut c, &["SET", "missing", "x", "IFNE", "y", "GET"]),
        "$-1\r\n"
    );
    assert_eq!(cmd(&mut c, &["GET", "missing"]), "$1\r\nx\r\n");
    // Expiry options combine: a lock refresh that keeps the token.
    assert_eq!(
        cmd(&mut c, &["SET", "k", "v3", "IFEQ", "v3", "EX", "100"]),
        "+OK\r\n"
    );
    assert_eq!(cmd(&mut c, &["TTL", "k"]), ":100\r\n");
    assert_eq!(
        cmd(&mut c, &["SET", "k", "v4", "IFEQ", "v3", "KEEPTTL"]),
        "+OK\r\n"
    );
    assert_eq!(cmd(&mut c, &["TTL", "k"]), ":100\r\n");
    assert_eq!(
        cmd(
            &mut c,
            &["SET", "k", "v5", "IFNE", "zz", "PXAT", "4000000000000"]
        ),
        "+OK\r\n"
    );
    assert_eq!(cmd(&mut c, &["PEXPIRETIME", "k"]), ":4000000000000\r\n");
    assert_eq!(cmd(&mut c, &["SET", "k", "v6", "IFNE", "v6"]), "+OK\r\n");
    assert_eq!(cmd(&mut c, &["TTL", "k"]), ":-1\r\n");
    // Conditions exclude each other and NX / XX.
    for bad in [
        &["SET", "k", "v", "NX", "IFEQ", "a"][..],
        &["SET", "k", "v", "IFEQ", "a", "XX"],
        &["SET", "k", "v", "IFEQ", "a", "IFNE", "b"],
        &["SET", "k", "v", "IFNE", "a", "NX"],
        &["SET", "k", "v", "IFEQ"],
        &["SET", "k", "v", "IFNE"],
        &["SET", "k", "v", "IFEQ", "a", "EX", "1", "PX", "1"],
    ] {
        assert_eq!(cmd(&mut c, bad), "-ERR syntax error\r\n", "{bad:?}");
    }
    assert_eq!(
        cmd(&mut c, &["SET", "k", "v", "IFEQ", "v6", "EX", "0"]),
        "-ERR invalid expire time in 'set' command\r\n"
    );
    assert_eq!(cmd(&mut c, &["GET", "k"]), "$2\r\nv6\r\n");
}

#[test]
fn lock_release_is_seen_by_watch() {
    let server = Server::start(&[]);
    let mut a = server.raw();
    let mut b = server.raw();
    assert_eq!(cmd(&mut a, &["SET", "lock", "t"]), "+OK\r\n");
    assert_eq!(cmd(&mut a, &["WATCH", "lock"]), "+OK\r\n");
    assert_eq!(cmd(&mut b, &["DELIFEQ", "lock", "other"]), ":0\r\n");
    assert_eq!(cmd(&mut a, &["MULTI"]), "+OK\r\n");
    assert_eq!(cmd(&mut a, &["GET", "lock"]), "+QUEUED\r\n");
    assert_eq!(cmd(&mut a, &["EXEC"]), "*1\r\n$1\r\nt\r\n");
    assert_eq!(cmd(&mut a, &["WATCH", "lock"]), "+OK\r\n");
    assert_eq!(cmd(&mut b, &["DELIFEQ", "lock", "t"]), ":1\r\n");
    assert_eq!(cmd(&mut a, &["MULTI"]), "+OK\r\n");
    assert_eq!(cmd(&mut a, &["GET", "lock"]), "+QUEUED\r\n");
    assert_eq!(cmd(&mut a, &["EXEC"]), "*-1\r\n");
}

/// How a holder gives the lock back.
#[derive(Clone, Copy)]
enum Release {
    /// `DELIFEQ lock token` (native).
    DelIfEq,
    /// redis-py's release script through EVALSHA (the Lua way every Redis client uses).
    Script,
}

const RELEASE_SCRIPT: &str = "local token = redis.call('get', KEYS[1]) if not token or token ~= ARGV[1] then return 0 end redis.call('del', KEYS[1]) return 1";

/// 32 clients take one lock 200 times each (`SET lock token NX PX 5000`). While holding it, each
/// increments a counter with a separate GET then SET, and logs its holding interval as seen from
/// the client (from the acquire reply to the release request, so inside the server-side
/// interval). Any two overlapping intervals, or a lost update, mean mutual exclusion failed.
fn mutual_exclusion(release: Release) {
    const THREADS: usize = 32;
    const ROUNDS: usize = 200;
    let server = Server::start(&[]);
    let port = server.port;
    let sha = {
        let mut c = server.raw();
        let reply = c.cmd_str(&["SCRIPT", "LOAD", RELEASE_SCRIPT]);
        reply.lines().nth(1).expect("sha").to_string()
    };
    let epoch = std::time::Instant::now();
    let workers: Vec<_> = (0..THREADS)
        .map(|t| {
            let sha = sha.clone();
            std::thread::spawn(move || {
                let mut c = RawClient::connect(port);
                let mut intervals = Vec::with_capacity(ROUNDS);
                for round in 0..ROUNDS {
                    let token = format!("client-{t}-round-{round}");
                    while cmd(&mut c, &["SET", "lock", &token, "NX", "PX", "5000"]) != "+OK\r\n" {
                        std::thread::yield_now();
                    }
                    let acquired = epoch.elapsed();
                    let reply = c.cmd(&["GET", "counter"]);
                    let current: u64 = match reply.as_slice() {
                        b"$-1\r\n" => 0,
                        bulk => String::from_utf8_lossy(bulk)
                            .lines()
                            .nth(1)
                            .expect("bulk body")
                            .parse()
                            .expect("counter is an integer"),
                    };
                    let next = (current + 1).to_string();
                    assert_eq!(cmd(&mut c, &["SET", "counter", &next]), "+OK\r\n");
                    let released = epoch.elapsed();
                    let reply = match release {
                        Release::DelIfEq => cmd(&mut c, &["DELIFEQ", "lock", &token]),
                        Release::Script => cmd(&mut c, &["EVALSHA", &sha, "1", "lock", &token]),
                    };
                    assert_eq!(reply, ":1\r\n", "the holder must still own its lock");
                    intervals.push((acquired, released));
                }
                intervals
            })
        })
        .collect();
    let mut intervals: Vec<_> = workers
        .into_iter()
        .flat_map(|w| w.join().expect("worker panicked"))
        .collect();
    intervals.sort();
    for pair in intervals.windows(2) {
        assert!(
            pair[0].1 <= pair[1].0,
            "two holders overlapped: {:?} and {:?}",
            pair[0],
            pair[1]
        );
    }
    let mut c = server.raw();
    let total = (THREADS * ROUNDS).to_string();
    assert_eq!(
        cmd(&mut c, &["GET", "counter"]),
        format!("${}\r\n{total}\r\n", total.len())
    );
    assert_eq!(cmd(&mut c, &["EXISTS", "lock"]), ":0\r\n");
}

#[test]
fn set_nx_px_and_delifeq_give_mutual_exclusion() {
    mutual_exclusion(Release::DelIfEq);
}

#[test]
fn set_nx_px_and_script_release_give_mutual_exclusion() {
    mutual_exclusion(Release::Script);
}

/// A compare-and-set loop on digests (redis.io's optimistic-locking pattern): read the value,
/// write with IFDEQ of its digest; several clients incrementing a counter this way lose no update.
#[test]
fn digest_compare_and_set_loses_no_update() {
    let server = Server::start(&[]);
    let mut c = server.raw();
    assert_eq!(cmd(&mut c, &["SET", "n", "0"]), "+OK\r\n");
    let port = server.port;
    let workers: Vec<_> = (0..4)
        .map(|_| {
            std::thread::spawn(move || {
                let mut c = RawClient::connect(port);
                let mut done = 0;
                let mut attempts = 0;
                while done < 50 && attempts < 100_000 {
                    attempts += 1;
                    let value = cmd(&mut c, &["GET", "n"]);
                    let n: i64 = value.lines().nth(1).unwrap().parse().unwrap();
                    // The digest of the value read, computed here (XXH3-64, as DIGEST).
                    let digest = format!(
                        "{:016x}",
                        xxhash_rust::xxh3::xxh3_64(n.to_string().as_bytes())
                    );
                    let next = (n + 1).to_string();
                    if cmd(&mut c, &["SET", "n", &next, "IFDEQ", &digest]) == "+OK\r\n" {
                        done += 1;
                    }
                }
                done
            })
        })
        .collect();
    let total: i64 = workers.into_iter().map(|w| w.join().unwrap()).sum();
    assert_eq!(total, 200);
    let digest = format!("{:016x}", xxhash_rust::xxh3::xxh3_64(b"200"));
    assert_eq!(
        cmd(&mut c, &["DIGEST", "n"]),
        format!("$16\r\n{digest}\r\n")
    );
    assert_eq!(cmd(&mut c, &["GET", "n"]), "$3\r\n200\r\n");
}

#[test]
fn msetex_is_logged_with_absolute_deadlines() {
    let args = ["--appendonly", "yes", "--appendfsync", "always"];
    let mut server = Server::start(&args);
    let mut c = server.raw();
    assert_eq!(
        cmd(&mut c, &["MSETEX", "2", "a", "1", "b", "2", "EX", "1000"]),
        ":1\r\n"
    );
    assert_eq!(cmd(&mut c, &["SET", "c", "x", "PX", "500000"]), "+OK\r\n");
    assert_eq!(
        cmd(&mut c, &["MSETEX", "2", "c", "3", "d", "4", "KEEPTTL"]),
        ":1\r\n"
    );
    assert_eq!(
        cmd(&mut c, &["MSETEX", "2", "a", "9", "e", "9", "NX"]),
        ":0\r\n"
    );
    let before: Vec<String> = ["a", "b", "c", "d"]
        .iter()
        .map(|k| cmd(&mut c, &["PEXPIRETIME", k]))
        .collect();
    server.kill9();
    let dir = server.dir.clone();
    std::mem::forget(server);
    let server = Server::start_in(dir, &args);
    let mut c = server.raw();
    assert_eq!(
        cmd(&mut c, &["MGET", "a", "b", "c", "d", "e"]),
        "*5\r\n$1\r\n1\r\n$1\r\n2\r\n$1\r\n3\r\n$1\r\n4\r\n$-1\r\n"
    );
    let after: Vec<String> = ["a", "b", "c", "d"]
        .iter()
        .map(|k| cmd(&mut c, &["PEXPIRETIME", k]))
        .collect();
    assert_eq!(before, after);
    assert_eq!(after[3], ":-1\r\n");
}
