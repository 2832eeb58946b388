//! Hash field expiration (Redis 7.4's HEXPIRE family, 8.0's HGETDEL/HGETEX/HSETEX) against the
//! real binary: lazy expiry on access (active expiry switched off with DEBUG
//! SET-ACTIVE-EXPIRE), active expiry reclaiming fields nobody reads, keyspace events, the AOF
//! after kill -9, RDB save/load, DUMP/RESTORE, RENAME/COPY. Waits are sleeps past a deadline
//! or bounded polls, never timing assertions. Reply texts are in
//! tests/differential/hash_field_expiry.redis.

mod common;
use common::{RawClient, Server};
use std::path::Path;
use std::time::{Duration, Instant};

fn cmd(c: &mut RawClient, args: &[&str]) -> String {
    c.cmd_str(args)
}

/// A deadline far in the future (2100-01-01), so replies are fixed numbers.
const FAR_MS: &str = "4102444800000";

fn restart(mut old: Server, args: &[&str]) -> Server {
    old.kill9();
    let dir = old.dir.clone();
    // The old handle would delete the directory when dropped.
    std::mem::forget(old);
    Server::start_in(dir, args)
}

/// Subscribes `sub` to the keyspace events of db 0 (after enabling every class but `new`
/// and `miss`, as `KEA` does, on `c`).
fn subscribe_events(c: &mut RawClient, sub: &mut RawClient) {
    assert_eq!(
        cmd(c, &["CONFIG", "SET", "notify-keyspace-events", "KEA"]),
        "+OK\r\n"
    );
    sub.send(&[b"PSUBSCRIBE", b"__keyspace@0__:*"]);
    sub.read_reply().expect("psubscribe reply");
}

/// The next keyspace event as (key, event).
fn next_event(sub: &mut RawClient) -> (String, String) {
    let frame = String::from_utf8_lossy(&sub.read_reply().expect("event")).into_owned();
    let parts: Vec<&str> = frame.split("\r\n").collect();
    // *4 $8 pmessage $len pattern $len channel $len event
    let channel = parts[6];
    let key = channel.trim_start_matches("__keyspace@0__:").to_string();
    (key, parts[8].to_string())
}

#[test]
fn lazy_expiry_hides_fields_and_removes_the_emptied_key() {
    let server = Server::start(&["--enable-debug-command", "yes"]);
    let mut c = server.raw();
    let mut sub = server.raw();
    assert_eq!(cmd(&mut c, &["DEBUG", "SET-ACTIVE-EXPIRE", "0"]), "+OK\r\n");
    subscribe_events(&mut c, &mut sub);
    assert_eq!(cmd(&mut c, &["HSET", "h", "a", "1", "b", "22"]), ":2\r\n");
    assert_eq!(
        cmd(&mut c, &["HPEXPIRE", "h", "20", "FIELDS", "1", "a"]),
        "*1\r\n:1\r\n"
    );
    std::thread::sleep(Duration::from_millis(60));
    // Nothing read the hash yet. SORT's GET reads the field without removing it: missing.
    cmd(&mut c, &["RPUSH", "ids", ""]);
    assert_eq!(
        cmd(
            &mut c,
            &["SORT", "ids", "BY", "nosort", "GET", "h*->a", "GET", "h*->b"]
        ),
        "*2\r\n$-1\r\n$2\r\n22\r\n"
    );
    cmd(&mut c, &["DEL", "ids"]);
    // The hash command below removes the field first.
    assert_eq!(cmd(&mut c, &["HLEN", "h"]), ":1\r\n");
    assert_eq!(cmd(&mut c, &["HEXISTS", "h", "a"]), ":0\r\n");
    assert_eq!(cmd(&mut c, &["HSTRLEN", "h", "a"]), ":0\r\n");
    assert_eq!(
        cmd(&mut c, &["HGETALL", "h"]),
        "*2\r\n$1\r\nb\r\n$2\r\n22\r\n"
    );
    assert_eq!(
        cmd(&mut c, &["HRANDFIELD", "h", "-5"])
            .matches("$1\r\nb")
            .count(),
        5
    );
    assert_eq!(
        cmd(&mut c, &["HTTL", "h", "FIELDS", "2", "a", "b"]),
        "*2\r\n:-2\r\n:-1\r\n"
    );
    // The last field expiring takes the key with it.
    assert_eq!(
        cmd(&mut c, &["HPEXPIRE", "h", "20", "FIELDS", "1", "b"]),
        "*1\r\n:1\r\n"
    );
    std::thread::sleep(Duration::from_millis(60));
    assert_eq!(cmd(&mut c, &["HGET", "h", "b"]), "$-1\r\n");
    assert_eq!(cmd(&mut c, &["EXISTS", "h"]), ":0\r\n");
    let mut events = Vec::new();
    while events.len() < 6 {
        let (key, event) = next_event(&mut sub);
        if key == "h" {
            events.push((key, event));
        }
    }
    let names: Vec<&str> = events.iter().map(|(_, e)| e.as_str()).collect();
    assert_eq!(
        names,
        ["hset", "hexpire", "hexpired", "hexpire", "hexpired", "del"]
    );
}

#[test]
fn writes_clear_deadlines_and_hexpire_zero_deletes() {
    let server = Server::start(&[]);
    let mut c = server.raw();
    let mut sub = server.raw();
    subscribe_events(&mut c, &mut sub);
    cmd(&mut c, &["HSET", "h", "a", "1", "b", "2", "n", "5"]);
    cmd(
        &mut c,
        &["HPEXPIREAT", "h", FAR_MS, "FIELDS", "3", "a", "b", "n"],
    );
    assert_eq!(
        cmd(&mut c, &["OBJECT", "ENCODING", "h"]),
        "$10\r\nlistpackex\r\n"
    );
    // HSET replaces the field (deadline dropped, field moved last as in a 7.4 listpackex);
    // HINCRBY changes it in place (deadline kept).
    cmd(&mut c, &["HSET", "h", "a", "9"]);
    cmd(&mut c, &["HINCRBY", "h", "n", "1"]);
    assert_eq!(
        cmd(&mut c, &["HPEXPIRETIME", "h", "FIELDS", "3", "a", "b", "n"]),
        format!("*3\r\n:-1\r\n:{FAR_MS}\r\n:{FAR_MS}\r\n")
    );
    assert_eq!(
        cmd(&mut c, &["HKEYS", "h"]),
        "*3\r\n$1\r\nb\r\n$1\r\nn\r\n$1\r\na\r\n"
    );
    assert_eq!(
        cmd(&mut c, &["HEXPIRE", "h", "0", "FIELDS", "1", "b"]),
        "*1\r\n:2\r\n"
    );
    assert_eq!(cmd(&mut c, &["HLEN", "h"]), ":2\r\n");
    let names: Vec<String> = (0..5).map(|_| next_event(&mut sub).1).collect();
    assert_eq!(names, ["hset", "hexpire", "hset", "hincrby", "hexpired"]);
    // A hash past hash-max-listpack-entries is a hashtable, deadlines or not.
    for i in 0..600 {
        cmd(&mut c, &["HSET", "big", &format!("f{i}"), "v"]);
    }
    cmd(&mut c, &["HEXPIRE", "big", "100", "FIELDS", "1", "f1"]);
    assert_eq!(
        cmd(&mut c, &["OBJECT", "ENCODING", "big"]),
        "$9\r\nhashtable\r\n"
    );
}

#[test]
fn active_expiry_removes_fields_nobody_reads() {
    let server = Server::start(&[]);
    let mut c = server.raw();
    let mut sub = server.raw();
    subscribe_events(&mut c, &mut sub);
    cmd(&mut c, &["HSET", "gone", "only", "1"]);
    cmd(&mut c, &["HSET", "kept", "short", "1", "long", "2"]);
    cmd(&mut c, &["HPEXPIRE", "gone", "30", "FIELDS", "1", "only"]);
    cmd(&mut c, &["HPEXPIRE", "kept", "30", "FIELDS", "1", "short"]);
    for _ in 0..4 {
        next_event(&mut sub); // hset and hexpire of each
    }
    // No command reads either hash: the sweep alone removes the fields (events say so).
    let mut seen = Vec::new();
    while seen.len() < 3 {
        seen.push(next_event(&mut sub));
    }
    seen.sort();
    assert_eq!(
        seen,
        [
            ("gone".to_string(), "del".to_string()),
            ("gone".to_string(), "hexpired".to_string()),
            ("kept".to_string(), "hexpired".to_string()),
        ]
    );
    assert_eq!(cmd(&mut c, &["DBSIZE"]), ":1\r\n");
    assert_eq!(cmd(&mut c, &["HKEYS", "kept"]), "*1\r\n$4\r\nlong\r\n");
    // INFO (Redis 7.4's fields): two fields expired; no hash has a deadline left.
    let info = cmd(&mut c, &["INFO"]);
    assert!(info.contains("\r\nexpired_subkeys:2\r\n"), "{info}");
    assert!(
        info.contains("db0:keys=1,expires=0,avg_ttl=0,subexpiry=0"),
        "{info}"
    );
    cmd(
        &mut c,
        &["HPEXPIREAT", "kept", FAR_MS, "FIELDS", "1", "long"],
    );
    let info = cmd(&mut c, &["INFO", "keyspace"]);
    assert!(
        info.contains("db0:keys=1,expires=0,avg_ttl=0,subexpiry=1"),
        "{info}"
    );
}

#[test]
fn deadlines_survive_aof_replay_after_kill9() {
    let args = [
        "--appendonly",
        "yes",
        "--appendfsync",
        "always",
        "--aof-use-rdb-preamble",
        "no",
        "--enable-debug-command",
        "yes",
    ];
    let server = Server::start(&args);
    let mut c = server.raw();
    cmd(&mut c, &["DEBUG", "SET-ACTIVE-EXPIRE", "0"]);
    cmd(
        &mut c,
        &["HSET", "h", "a", "1", "b", "2", "c", "3", "d", "4"],
    );
    cmd(&mut c, &["HEXPIRE", "h", "1000", "FIELDS", "1", "a"]);
    cmd(
        &mut c,
        &["HPEXPIREAT", "h", FAR_MS, "FIELDS", "2", "b", "c"],
    );
    cmd(&mut c, &["HPERSIST", "h", "FIELDS", "1", "c"]);
    cmd(&mut c, &["HPEXPIRE", "h", "20", "FIELDS", "1", "d"]);
    assert_eq!(
        cmd(
            &mut c,
            &["HSETEX", "s", "EX", "500", "FIELDS", "1", "x", "1"]
        ),
        ":1\r\n"
    );
    cmd(&mut c, &["HSET", "f", "x", "1"]);
    cmd(&mut c, &["HPEXPIREAT", "f", FAR_MS, "FIELDS", "1", "x"]);
    assert_eq!(
        cmd(&mut c, &["HINCRBYFLOAT", "f", "x", "0.5"]),
        "$3\r\n1.5\r\n"
    );
    cmd(&mut c, &["HSET", "g", "p", "1", "q", "2"]);
    cmd(&mut c, &["HGETDEL", "g", "FIELDS", "1", "p"]);
    let a_at = cmd(&mut c, &["HPEXPIRETIME", "h", "FIELDS", "1", "a"]);
    let x_at = cmd(&mut c, &["HPEXPIRETIME", "s", "FIELDS", "1", "x"]);
    std::thread::sleep(Duration::from_millis(60));
    // This read expires `d` lazily: the log gets an HDEL for it.
    assert_eq!(cmd(&mut c, &["HLEN", "h"]), ":3\r\n");
    let log = std::fs::read_dir(server.dir.join("appendonlydir"))
        .unwrap()
        .map(|e| std::fs::read(e.unwrap().path()).unwrap())
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .collect::<String>();
    // Relative times are logged as absolute ones.
    assert!(
        !log.contains("HEXPIRE\r\n") && !log.contains("HPEXPIRE\r\n"),
        "{log}"
    );
    assert!(log.contains("HPEXPIREAT"), "{log}");
    assert!(
        log.contains("$4\r\nHDEL\r\n$1\r\nh\r\n$1\r\nd\r\n"),
        "{log}"
    );
    let server = restart(server, &args);
    let mut c = server.raw();
    assert_eq!(
        cmd(&mut c, &["HPEXPIRETIME", "h", "FIELDS", "1", "a"]),
        a_at
    );
    assert_eq!(
        cmd(&mut c, &["HPEXPIRETIME", "h", "FIELDS", "3", "b", "c", "d"]),
        format!("*3\r\n:{FAR_MS}\r\n:-1\r\n:-2\r\n")
    );
    assert_eq!(
        cmd(&mut c, &["HPEXPIRETIME", "s", "FIELDS", "1", "x"]),
        x_at
    );
    assert_eq!(cmd(&mut c, &["HKEYS", "g"]), "*1\r\n$1\r\nq\r\n");
    // HINCRBYFLOAT is logged as HSET, followed by the deadline it kept.
    assert_eq!(
        cmd(&mut c, &["HPEXPIRETIME", "f", "FIELDS", "1", "x"]),
        format!("*1\r\n:{FAR_MS}\r\n")
    );
    assert_eq!(cmd(&mut c, &["HGET", "f", "x"]), "$3\r\n1.5\r\n");
    // A rewrite writes the deadlines too (HSET then HPEXPIREAT per field).
    assert!(cmd(&mut c, &["BGREWRITEAOF"]).starts_with('+'));
    let deadline = Instant::now() + Duration::from_secs(20);
    while cmd(&mut c, &["INFO", "persistence"]).contains("aof_rewrite_in_progress:1") {
        assert!(Instant::now() < deadline, "rewrite did not finish");
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(100));
    let server = restart(server, &args);
    let mut c = server.raw();
    assert_eq!(
        cmd(&mut c, &["HPEXPIRETIME", "h", "FIELDS", "1", "a"]),
        a_at
    );
    assert_eq!(
        cmd(&mut c, &["HPEXPIRETIME", "h", "FIELDS", "2", "b", "c"]),
        format!("*2\r\n:{FAR_MS}\r\n:-1\r\n")
    );
}

fn rdb_version(dir: &Path) -> String {
    let bytes = std::fs::read(dir.join("dump.rdb")).unwrap();
    String::from_utf8_lossy(&bytes[..9]).into_owned()
}

#[test]
fn deadlines_survive_rdb_save_and_load() {
    let server = Server::start(&[]);
    let mut c = server.raw();
    cmd(&mut c, &["SET", "plain", "v"]);
    assert_eq!(cmd(&mut c, &["SAVE"]), "+OK\r\n");
    // Without field deadlines the file stays readable by redis-server 7.0.
    assert_eq!(rdb_version(&server.dir), "REDIS0010");
    cmd(&mut c, &["HSET", "h", "a", "1", "b", "2", "c", "3"]);
    cmd(&mut c, &["HPEXPIREAT", "h", FAR_MS, "FIELDS", "1", "a"]);
    cmd(
        &mut c,
        &["HPEXPIREAT", "h", "4102444900000", "FIELDS", "1", "b"],
    );
    for i in 0..600 {
        cmd(&mut c, &["HSET", "big", &format!("f{i}"), "v"]);
    }
    cmd(&mut c, &["HPEXPIREAT", "big", FAR_MS, "FIELDS", "1", "f7"]);
    assert_eq!(cmd(&mut c, &["SAVE"]), "+OK\r\n");
    assert_eq!(rdb_version(&server.dir), "REDIS0012");
    let server = restart(server, &[]);
    let mut c = server.raw();
    assert_eq!(
        cmd(&mut c, &["HPEXPIRETIME", "h", "FIELDS", "3", "a", "b", "c"]),
        format!("*3\r\n:{FAR_MS}\r\n:4102444900000\r\n:-1\r\n")
    );
    assert_eq!(cmd(&mut c, &["HLEN", "big"]), ":600\r\n");
    assert_eq!(
        cmd(&mut c, &["HPEXPIRETIME", "big", "FIELDS", "2", "f7", "f8"]),
        format!("*2\r\n:{FAR_MS}\r\n:-1\r\n")
    );
    assert_eq!(cmd(&mut c, &["GET", "plain"]), "$1\r\nv\r\n");
    // Once no hash has a deadline, files are version 10 again.
    cmd(&mut c, &["DEL", "h", "big"]);
    assert_eq!(cmd(&mut c, &["SAVE"]), "+OK\r\n");
    assert_eq!(rdb_version(&server.dir), "REDIS0010");
}

#[test]
fn dump_restore_rename_and_copy_keep_deadlines() {
    let server = Server::start(&[]);
    let mut c = server.raw();
    cmd(&mut c, &["HSET", "h", "a", "1", "b", "2"]);
    cmd(&mut c, &["HPEXPIREAT", "h", FAR_MS, "FIELDS", "1", "a"]);
    let mut bin = server.raw();
    bin.send(&[b"DUMP", b"h"]);
    let frame = bin.read_reply().unwrap();
    let start = frame.iter().position(|&b| b == b'\n').unwrap() + 1;
    let payload = &frame[start..frame.len() - 2];
    // RDB_TYPE_HASH_LISTPACK_EX (a listpackex hash), version 12 in the footer.
    assert_eq!(payload[0], 25);
    assert_eq!(&payload[payload.len() - 10..payload.len() - 8], &[12, 0]);
    bin.send(&[b"RESTORE", b"h2", b"0", payload]);
    assert_eq!(bin.read_reply().unwrap(), b"+OK\r\n");
    let want = format!("*2\r\n:{FAR_MS}\r\n:-1\r\n");
    assert_eq!(
        cmd(&mut c, &["HPEXPIRETIME", "h2", "FIELDS", "2", "a", "b"]),
        want
    );
    assert_eq!(cmd(&mut c, &["COPY", "h2", "h3"]), ":1\r\n");
    assert_eq!(cmd(&mut c, &["RENAME", "h", "h4"]), "+OK\r\n");
    for key in ["h3", "h4"] {
        assert_eq!(
            cmd(&mut c, &["HPEXPIRETIME", key, "FIELDS", "2", "a", "b"]),
            want
        );
    }
    // Deadlines on the copy are its own.
    cmd(&mut c, &["HPERSIST", "h3", "FIELDS", "1", "a"]);
    assert_eq!(
        cmd(&mut c, &["HPEXPIRETIME", "h2", "FIELDS", "2", "a", "b"]),
        want
    );
    // A hash without deadlines still dumps as Redis 7.0 reads it.
    cmd(&mut c, &["HSET", "p", "a", "1"]);
    bin.send(&[b"DUMP", b"p"]);
    let frame = bin.read_reply().unwrap();
    let start = frame.iter().position(|&b| b == b'\n').unwrap() + 1;
    let payload = &frame[start..frame.len() - 2];
    assert_eq!(payload[0], 4);
    assert_eq!(&payload[payload.len() - 10..payload.len() - 8], &[10, 0]);
}

#[test]
fn memory_usage_counts_field_deadlines() {
    let server = Server::start(&[]);
    let mut c = server.raw();
    cmd(&mut c, &["HSET", "p", "a", "1", "b", "2"]);
    cmd(&mut c, &["HSET", "t", "a", "1", "b", "2"]);
    let plain = cmd(&mut c, &["MEMORY", "USAGE", "p"]);
    cmd(&mut c, &["HPEXPIREAT", "t", FAR_MS, "FIELDS", "1", "a"]);
    let with = cmd(&mut c, &["MEMORY", "USAGE", "t"]);
    let n = |s: &str| s.trim_start_matches(':').trim().parse::<i64>().unwrap();
    assert!(n(&with) > n(&plain), "{with} vs {plain}");
}
