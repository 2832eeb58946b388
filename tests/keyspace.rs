//! Keyspace commands over TCP against the real binary: SCAN's full-iteration guarantee under
//! concurrent writes, expired keys never surfacing in KEYS/SCAN/EXISTS/RANDOMKEY, and the TTL
//! carried by RENAME/COPY/MOVE (checked as ranges, never exact values).

mod common;
use common::Server;
use std::collections::HashSet;
use std::time::Duration;

fn connect(server: &Server) -> redis::Connection {
    redis::Client::open(server.url())
        .unwrap()
        .get_connection()
        .unwrap()
}

/// Sets `keys` in pipelined batches, with `PX px` if given.
fn set_many(con: &mut redis::Connection, keys: impl Iterator<Item = String>, px: Option<u64>) {
    let keys: Vec<String> = keys.collect();
    for chunk in keys.chunks(1000) {
        let mut pipe = redis::pipe();
        for key in chunk {
            let cmd = pipe.cmd("SET").arg(key).arg("v");
            if let Some(px) = px {
                cmd.arg("PX").arg(px);
            }
            cmd.ignore();
        }
        pipe.query::<()>(con).unwrap();
    }
}

/// A full SCAN iteration; returns every key seen and the number of calls it took.
fn scan_all(con: &mut redis::Connection, extra: &[&str]) -> (Vec<Vec<u8>>, usize) {
    let mut cursor = 0u64;
    let mut seen = Vec::new();
    let mut calls = 0;
    loop {
        let (next, keys): (u64, Vec<Vec<u8>>) = redis::cmd("SCAN")
            .arg(cursor)
            .arg(extra)
            .query(con)
            .unwrap();
        seen.extend(keys);
        calls += 1;
        assert!(calls < 1_000_000, "SCAN does not terminate");
        if next == 0 {
            return (seen, calls);
        }
        cursor = next;
    }
}

fn int(con: &mut redis::Connection, args: &[&str]) -> i64 {
    let mut cmd = redis::cmd(args[0]);
    for a in &args[1..] {
        cmd.arg(*a);
    }
    cmd.query(con).unwrap()
}

#[test]
fn scan_returns_every_key_present_for_the_whole_iteration_under_concurrent_writes() {
    let server = Server::start(&[]);
    let mut con = connect(&server);
    set_many(&mut con, (0..20_000).map(|i| format!("base:{i}")), None);
    set_many(&mut con, (0..5_000).map(|i| format!("victim:{i}")), None);

    // Another client grows the keyspace (well past its size when the scan starts) and frees
    // slots by deleting victims, while this one scans with a small COUNT.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writer = {
        let url = server.url();
        let stop = stop.clone();
        std::thread::spawn(move || {
            let mut con = redis::Client::open(url).unwrap().get_connection().unwrap();
            let mut i = 0u64;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) && i < 200_000 {
                let mut pipe = redis::pipe();
                for j in i..i + 200 {
                    pipe.cmd("SET").arg(format!("new:{j}")).arg("v").ignore();
                    if j < 5_000 {
                        pipe.cmd("DEL").arg(format!("victim:{j}")).ignore();
                    }
                }
                pipe.query::<()>(&mut con).unwrap();
                i += 200;
            }
            i
        })
    };
    // Let the writer get going so growth happens during the scan, not before it.
    std::thread::sleep(Duration::from_millis(20));
    let (seen, calls) = scan_all(&mut con, &["COUNT", "20"]);
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let written = writer.join().unwrap();

    let seen: HashSet<Vec<u8>> = seen.into_iter().collect();
    let missing: Vec<String> = (0..20_000)
        .map(|i| format!("base:{i}"))
        .filter(|k| !seen.contains(k.as_bytes()))
        .collect();
    assert!(
        missing.is_empty(),
        "{} base keys never returned, e.g. {:?}",
        missing.len(),
        &missing[..missing.len().min(5)]
    );
    assert!(seen
        .iter()
        .all(|k| k.starts_with(b"base:") || k.starts_with(b"new:") || k.starts_with(b"victim:")));
    assert!(
        calls > 1 && written > 0,
        "the scan must interleave with writes (calls {calls}, written {written})"
    );
}

#[test]
fn scan_count_and_filters() {
    let server = Server::start(&[]);
    let mut con = connect(&server);
    set_many(&mut con, (0..1000).map(|i| format!("user:{i}")), None);
    set_many(&mut con, (0..1000).map(|i| format!("item:{i}")), None);

    let (users, _) = scan_all(&mut con, &["MATCH", "user:*", "COUNT", "50"]);
    let users: HashSet<Vec<u8>> = users.into_iter().collect();
    assert_eq!(users.len(), 1000);
    assert!(users.iter().all(|k| k.starts_with(b"user:")));

    let (strings, _) = scan_all(&mut con, &["TYPE", "string"]);
    assert_eq!(strings.into_iter().collect::<HashSet<_>>().len(), 2000);
    let (lists, _) = scan_all(&mut con, &["TYPE", "list"]);
    assert!(lists.is_empty());

    // COUNT bounds the work per call: COUNT 1 returns at most one key, COUNT 5000 all of them.
    let (next, keys): (u64, Vec<Vec<u8>>) = redis::cmd("SCAN")
        .arg(0)
        .arg("COUNT")
        .arg(1)
        .query(&mut con)
        .unwrap();
    assert!(keys.len() <= 1 && next != 0);
    let (next, keys): (u64, Vec<Vec<u8>>) = redis::cmd("SCAN")
        .arg(0)
        .arg("COUNT")
        .arg(5000)
        .query(&mut con)
        .unwrap();
    assert_eq!((next, keys.len()), (0, 2000));

    // A cursor past the end finishes the iteration instead of failing.
    let (next, _): (u64, Vec<Vec<u8>>) = redis::cmd("SCAN").arg(u64::MAX).query(&mut con).unwrap();
    assert_eq!(next, 0);
}

#[test]
fn keys_scan_exists_randomkey_never_return_expired_keys() {
    let server = Server::start(&[]);
    let mut con = connect(&server);
    set_many(&mut con, (0..2000).map(|i| format!("short:{i}")), Some(1));
    set_many(&mut con, (0..3).map(|i| format!("live:{i}")), None);
    std::thread::sleep(Duration::from_millis(10));

    let keys: Vec<Vec<u8>> = redis::cmd("KEYS").arg("*").query(&mut con).unwrap();
    let mut keys: Vec<String> = keys
        .into_iter()
        .map(|k| String::from_utf8(k).unwrap())
        .collect();
    keys.sort();
    assert_eq!(keys, ["live:0", "live:1", "live:2"]);

    let (seen, _) = scan_all(&mut con, &["COUNT", "7"]);
    assert!(
        seen.iter().all(|k| k.starts_with(b"live:")),
        "SCAN returned an expired key"
    );
    assert_eq!(seen.into_iter().collect::<HashSet<_>>().len(), 3);

    assert_eq!(
        int(
            &mut con,
            &["EXISTS", "short:0", "short:1", "short:1999", "live:0"]
        ),
        1
    );
    let mut randoms = HashSet::new();
    for _ in 0..200 {
        let key: Vec<u8> = redis::cmd("RANDOMKEY").query(&mut con).unwrap();
        assert!(
            key.starts_with(b"live:"),
            "RANDOMKEY returned {:?}",
            String::from_utf8_lossy(&key)
        );
        randoms.insert(key);
    }
    assert_eq!(randoms.len(), 3, "RANDOMKEY should reach every key");
}

#[test]
fn randomkey_on_empty_and_expired_only_databases() {
    let server = Server::start(&[]);
    let mut con = connect(&server);
    let none: Option<Vec<u8>> = redis::cmd("RANDOMKEY").query(&mut con).unwrap();
    assert!(none.is_none());
    set_many(&mut con, (0..100).map(|i| format!("short:{i}")), Some(1));
    std::thread::sleep(Duration::from_millis(10));
    let none: Option<Vec<u8>> = redis::cmd("RANDOMKEY").query(&mut con).unwrap();
    assert!(none.is_none());
}

#[test]
fn rename_copy_move_keep_the_deadline() {
    let server = Server::start(&[]);
    let mut con = connect(&server);
    let _: () = redis::cmd("SET")
        .arg("k")
        .arg("v")
        .arg("EX")
        .arg(100)
        .query(&mut con)
        .unwrap();
    let ttl = int(&mut con, &["TTL", "k"]);
    assert!(0 < ttl && ttl <= 100, "ttl {ttl}");
    let pttl = int(&mut con, &["PTTL", "k"]);
    assert!(0 < pttl && pttl <= 100_000, "pttl {pttl}");

    let _: () = redis::cmd("RENAME")
        .arg("k")
        .arg("r")
        .query(&mut con)
        .unwrap();
    let ttl = int(&mut con, &["TTL", "r"]);
    assert!(0 < ttl && ttl <= 100, "ttl after RENAME {ttl}");

    assert_eq!(int(&mut con, &["COPY", "r", "c"]), 1);
    let ttl = int(&mut con, &["TTL", "c"]);
    assert!(0 < ttl && ttl <= 100, "ttl after COPY {ttl}");
    assert_eq!(int(&mut con, &["COPY", "r", "c", "DB", "5"]), 1);

    assert_eq!(int(&mut con, &["MOVE", "c", "3"]), 1);
    let _: () = redis::cmd("SELECT").arg(3).query(&mut con).unwrap();
    let ttl = int(&mut con, &["TTL", "c"]);
    assert!(0 < ttl && ttl <= 100, "ttl after MOVE {ttl}");
    let _: () = redis::cmd("SELECT").arg(5).query(&mut con).unwrap();
    let ttl = int(&mut con, &["TTL", "c"]);
    assert!(0 < ttl && ttl <= 100, "ttl after COPY DB {ttl}");
}

#[test]
fn expire_sets_deadlines_relative_to_now() {
    let server = Server::start(&[]);
    let mut con = connect(&server);
    let now_s = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let _: () = redis::cmd("SET").arg("k").arg("v").query(&mut con).unwrap();
    assert_eq!(int(&mut con, &["EXPIRE", "k", "604800"]), 1);
    let ttl = int(&mut con, &["TTL", "k"]);
    assert!(604_700 < ttl && ttl <= 604_800, "ttl {ttl}");
    let at = int(&mut con, &["EXPIRETIME", "k"]);
    assert!(
        now_s + 604_700 < at && at <= now_s + 604_802,
        "expiretime {at}"
    );
    assert_eq!(int(&mut con, &["PEXPIRE", "k", "5000", "LT"]), 1);
    let pttl = int(&mut con, &["PTTL", "k"]);
    assert!(0 < pttl && pttl <= 5000, "pttl {pttl}");
    assert_eq!(int(&mut con, &["PEXPIRE", "k", "6000", "LT"]), 0);
    assert_eq!(int(&mut con, &["PEXPIRE", "k", "6000", "GT"]), 1);
    let pttl = int(&mut con, &["PTTL", "k"]);
    assert!(5000 < pttl && pttl <= 6000, "pttl {pttl}");
}

#[test]
fn globs_give_up_past_redis_star_nesting_limit() {
    // Redis 7.2.6+ stops following `*` nesting after 1000 levels: `*?` 50,000 times against a
    // 50,000-byte key is no match (a plain glob would match it), and the answer comes at once.
    let server = Server::start(&[]);
    let mut con = connect(&server);
    let key = "x".repeat(50_000);
    let deep = "*?".repeat(50_000);
    let _: () = redis::cmd("SET")
        .arg(&key)
        .arg("v")
        .query(&mut con)
        .unwrap();
    let keys: Vec<Vec<u8>> = redis::cmd("KEYS").arg(&deep).query(&mut con).unwrap();
    assert!(keys.is_empty());
    let (matched, _) = scan_all(&mut con, &["MATCH", &deep]);
    assert!(matched.is_empty());
    let mut sub = connect(&server);
    let _: () = redis::cmd("PSUBSCRIBE")
        .arg(&deep)
        .query(&mut sub)
        .unwrap_or(());
    assert_eq!(int(&mut con, &["PUBLISH", &key, "m"]), 0);
    // At the limit (1000 nested stars) the same key still matches.
    let shallow = format!("{}*", "*?".repeat(1000));
    let keys: Vec<Vec<u8>> = redis::cmd("KEYS").arg(&shallow).query(&mut con).unwrap();
    assert_eq!(keys, vec![key.clone().into_bytes()]);
    let _: () = redis::cmd("PSUBSCRIBE")
        .arg(&shallow)
        .query(&mut sub)
        .unwrap_or(());
    assert_eq!(int(&mut con, &["PUBLISH", &key, "m"]), 1);
}

#[test]
fn wait_and_waitaof_on_a_primary_without_replicas() {
    // appendfsync always: a reply goes out after its fsync, so the local count is 1 at once.
    let server = Server::start(&["--appendonly", "yes", "--appendfsync", "always"]);
    let mut con = connect(&server);
    let _: () = redis::cmd("SET").arg("k").arg("v").query(&mut con).unwrap();
    let acks: Vec<i64> = redis::cmd("WAITAOF")
        .arg(1)
        .arg(0)
        .arg(0)
        .query(&mut con)
        .unwrap();
    assert_eq!(acks, vec![1, 0]);
    // A replica that never comes: the timeout ends the wait with the counts reached.
    let acks: Vec<i64> = redis::cmd("WAITAOF")
        .arg(1)
        .arg(1)
        .arg(10)
        .query(&mut con)
        .unwrap();
    assert_eq!(acks, vec![1, 0]);
    // WAIT 1 0 blocks forever without holding a worker: other clients are served, and
    // CLIENT UNBLOCK ends it with the count reached.
    let mut waiting = connect(&server);
    let id: i64 = redis::cmd("CLIENT").arg("ID").query(&mut waiting).unwrap();
    let handle = std::thread::spawn(move || -> i64 {
        redis::cmd("WAIT")
            .arg(1)
            .arg(0)
            .query(&mut waiting)
            .unwrap()
    });
    let mut unblocked = 0;
    for _ in 0..500 {
        assert_eq!(int(&mut con, &["EXISTS", "k"]), 1);
        unblocked = int(&mut con, &["CLIENT", "UNBLOCK", &id.to_string()]);
        if unblocked == 1 {
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(unblocked, 1);
    assert_eq!(handle.join().unwrap(), 0);
    // appendfsync everysec: no fsync position is tracked, so numlocal 1 is refused.
    let _: () = redis::cmd("CONFIG")
        .arg("SET")
        .arg("appendfsync")
        .arg("everysec")
        .query(&mut con)
        .unwrap();
    let err = redis::cmd("WAITAOF")
        .arg(1)
        .arg(0)
        .arg(0)
        .query::<Vec<i64>>(&mut con)
        .unwrap_err();
    assert!(err.to_string().contains("appendfsync always"), "{err}");
}
