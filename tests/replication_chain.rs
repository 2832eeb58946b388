//! Chained replication: a ferrocache replica serving replicas of its own, as Redis 7 does
//! (PSYNC2). redis-server primary -> ferrocache -> redis-server (full sync of every type with
//! TTLs, the live stream, a partial resync after CLIENT KILL, a sub-replica that starts while
//! the stream is in another database), and ferrocache -> ferrocache -> ferrocache (the middle
//! node killed with SIGKILL and restarted on its port, then promoted: its replica continues
//! with +CONTINUE under the new replid).

mod common;

use common::repl::{conn, conn_db, info_field, query, wait_caught_up, wait_for};
use common::{free_port, temp_dir, Server};
use redis::Value;
use std::time::Duration;

/// Every data type, with and without TTLs, in db 0 and db 5.
fn fill(c: &mut redis::Connection, tag: &str) {
    let k = |name: &str| format!("{tag}:{name}");
    let script: Vec<Vec<String>> = vec![
        vec!["SET".into(), k("str"), "hello".into()],
        vec!["SET".into(), k("num"), "42".into()],
        vec![
            "SET".into(),
            k("ttl"),
            "soon".into(),
            "EX".into(),
            "1000".into(),
        ],
        vec![
            "RPUSH".into(),
            k("list"),
            "a".into(),
            "b".into(),
            "1".into(),
        ],
        vec![
            "HSET".into(),
            k("hash"),
            "f1".into(),
            "v1".into(),
            "n".into(),
            "7".into(),
        ],
        vec!["SADD".into(), k("set"), "x".into(), "y".into()],
        vec!["SADD".into(), k("intset"), "1".into(), "2".into()],
        vec![
            "ZADD".into(),
            k("zset"),
            "1".into(),
            "one".into(),
            "2.5".into(),
            "two".into(),
        ],
        vec![
            "XADD".into(),
            k("stream"),
            "1-1".into(),
            "f".into(),
            "v".into(),
        ],
        vec![
            "XGROUP".into(),
            "CREATE".into(),
            k("stream"),
            "grp".into(),
            "0".into(),
        ],
        vec!["PFADD".into(), k("hll"), "a".into(), "b".into()],
        vec!["EXPIRE".into(), k("hash"), "5000".into()],
        vec!["PEXPIRE".into(), k("zset"), "900000".into()],
        vec!["SELECT".into(), "5".into()],
        vec![
            "SET".into(),
            k("in5"),
            "five".into(),
            "PX".into(),
            "800000".into(),
        ],
        vec!["LPUSH".into(), k("list5"), "q".into()],
        vec!["SELECT".into(), "0".into()],
    ];
    for argv in &script {
        let argv: Vec<&str> = argv.iter().map(String::as_str).collect();
        query(c, &argv);
    }
    let mut rpush = redis::cmd("RPUSH");
    rpush.arg(k("biglist"));
    let mut hset = redis::cmd("HSET");
    hset.arg(k("bighash"));
    for i in 0..600 {
        rpush.arg(format!("item-{i}"));
        hset.arg(format!("field-{i}")).arg(i);
    }
    let _: Value = rpush.query(c).unwrap();
    let _: Value = hset.query(c).unwrap();
}

/// Writes the stream carries: counters, expiries, a script, a transaction, other databases.
fn live_writes(c: &mut redis::Connection, tag: &str) {
    let k = |name: &str| format!("{tag}:{name}");
    query(c, &["SET", &k("live"), "1", "EX", "100"]);
    query(c, &["INCRBYFLOAT", &k("float"), "1.5"]);
    query(c, &["LPUSH", &k("list"), "pushed"]);
    query(
        c,
        &[
            "EVAL",
            "redis.call('set', KEYS[1], 'from-script'); return redis.call('incr', KEYS[2])",
            "2",
            &k("script"),
            &k("counter"),
        ],
    );
    let mut pipe = redis::pipe();
    pipe.atomic()
        .cmd("SET")
        .arg(k("tx"))
        .arg("1")
        .cmd("HSET")
        .arg(k("txh"))
        .arg("f")
        .arg("v");
    let _: Value = pipe.query(c).unwrap();
    query(c, &["SELECT", "5"]);
    query(c, &["SET", &k("db5"), "five"]);
    query(c, &["SELECT", "0"]);
    query(c, &["DEL", &k("str")]);
}

/// Each key of a database with its type, value and whether it has a TTL.
fn dataset(c: &mut redis::Connection, db: i64) -> Vec<String> {
    query(c, &["SELECT", &db.to_string()]);
    let mut keys: Vec<String> = redis::cmd("KEYS").arg("*").query(c).unwrap();
    keys.sort();
    let mut out = Vec::new();
    for key in keys {
        let kind: String = redis::cmd("TYPE").arg(&key).query(c).unwrap();
        let value = match kind.as_str() {
            "string" => query(c, &["GET", &key]),
            "list" => query(c, &["LRANGE", &key, "0", "-1"]),
            "hash" => {
                let mut v: Vec<String> = redis::cmd("HGETALL").arg(&key).query(c).unwrap();
                let mut pairs: Vec<String> = v.chunks(2).map(|p| p.join("=")).collect();
                pairs.sort();
                v.clear();
                Value::Array(
                    pairs
                        .into_iter()
                        .map(|p| Value::BulkString(p.into()))
                        .collect(),
                )
            }
            "set" => {
                let mut v: Vec<String> = redis::cmd("SMEMBERS").arg(&key).query(c).unwrap();
                v.sort();
                Value::Array(v.into_iter().map(|p| Value::BulkString(p.into())).collect())
            }
            "zset" => query(c, &["ZRANGE", &key, "0", "-1", "WITHSCORES"]),
            "stream" => Value::Array(vec![
                query(c, &["XRANGE", &key, "-", "+"]),
                query(c, &["XINFO", "GROUPS", &key]),
            ]),
            _ => query(c, &["DUMP", &key]),
        };
        let deadline: i64 = redis::cmd("PEXPIRETIME").arg(&key).query(c).unwrap();
        out.push(format!("{key} {kind} {value:?} deadline={deadline}"));
    }
    query(c, &["SELECT", "0"]);
    out
}

fn same_data(a: &mut redis::Connection, b: &mut redis::Connection) {
    for db in [0, 5] {
        let want = dataset(a, db);
        assert!(!want.is_empty(), "db {db} holds data");
        assert_eq!(dataset(b, db), want, "db {db}");
    }
}

fn redis_replica_of(port: u16) -> Server {
    Server::start_redis(&[
        "--replicaof",
        "127.0.0.1",
        &port.to_string(),
        "--repl-diskless-load",
        "disabled",
    ])
    .expect("redis-server is installed")
}

#[test]
fn redis_primary_ferrocache_middle_redis_subreplica() {
    let primary = Server::start_redis(&["--repl-diskless-sync-delay", "0"]).expect("redis-server");
    let mut p = conn(primary.port);
    fill(&mut p, "before");
    let top_port = primary.port.to_string();
    let middle = Server::start(&[
        "--replicaof",
        "127.0.0.1",
        &top_port,
        "--repl-diskless-sync-delay",
        "0",
    ]);
    let mut m = conn(middle.port);
    wait_caught_up(&mut p, &mut m);
    let sub = redis_replica_of(middle.port);
    let mut s = conn(sub.port);
    wait_caught_up(&mut p, &mut s);
    same_data(&mut p, &mut s);
    // The stream and offsets are the primary's, down the chain.
    assert_eq!(
        info_field(&mut s, "replication", "master_replid"),
        info_field(&mut p, "replication", "master_replid")
    );
    assert_eq!(
        info_field(&mut m, "replication", "repl_backlog_active"),
        "1"
    );

    live_writes(&mut p, "live");
    wait_caught_up(&mut p, &mut s);
    same_data(&mut p, &mut s);
    same_data(&mut p, &mut m);

    // The middle lists its replica; ROLE is a replica's (as redis-server's: no replicas in it).
    assert_eq!(info_field(&mut m, "replication", "connected_slaves"), "1");
    let line = info_field(&mut m, "replication", "slave0");
    assert!(
        line.starts_with(&format!(
            "ip=127.0.0.1,port={},state=online,offset=",
            sub.port
        )),
        "{line}"
    );
    let Value::Array(role) = query(&mut m, &["ROLE"]) else {
        panic!("ROLE is an array")
    };
    assert_eq!(role.len(), 5, "{role:?}");
    assert_eq!(role[0], Value::BulkString(b"slave".to_vec()));
    assert_eq!(role[3], Value::BulkString(b"connected".to_vec()));

    // A dropped link to the sub-replica: it continues from the middle's backlog.
    assert_eq!(
        query(&mut m, &["CLIENT", "KILL", "TYPE", "replica"]),
        Value::Int(1)
    );
    query(&mut p, &["SET", "after-kill", "x"]);
    wait_for("the partial resync", || {
        info_field(&mut m, "stats", "sync_partial_ok") == "1"
    });
    wait_caught_up(&mut p, &mut s);
    same_data(&mut p, &mut s);
    assert_eq!(info_field(&mut m, "stats", "sync_full"), "1");
    wait_for("Successful partial resynchronization with master", || {
        sub.log_text()
            .contains("Successful partial resynchronization with master")
    });

    // A second sub-replica that syncs while the primary's stream is in db 5: the stream goes
    // on without a SELECT, so its snapshot names db 5 as repl-stream-db.
    let mut p5 = conn_db(primary.port, 5);
    query(&mut p5, &["SET", "in-db5-before", "1"]);
    wait_caught_up(&mut p, &mut m);
    let sub2 = redis_replica_of(middle.port);
    let mut s2 = conn(sub2.port);
    wait_caught_up(&mut p, &mut s2);
    query(&mut p5, &["SET", "in-db5-after", "2"]);
    query(&mut p5, &["INCR", "in-db5-counter"]);
    wait_caught_up(&mut p, &mut s2);
    let mut s2_5 = conn_db(sub2.port, 5);
    assert_eq!(
        query(&mut s2_5, &["MGET", "in-db5-after", "in-db5-counter"]),
        Value::Array(vec![
            Value::BulkString(b"2".to_vec()),
            Value::BulkString(b"1".to_vec())
        ])
    );
    same_data(&mut p, &mut s2);
    assert_eq!(info_field(&mut m, "replication", "connected_slaves"), "2");

    // The middle node moved to another primary (another history): its full resync drops its
    // replicas, which then resync in full from its new data.
    let other = Server::start_redis(&["--repl-diskless-sync-delay", "0"]).expect("redis-server");
    let mut q = conn(other.port);
    fill(&mut q, "other");
    let other_port = other.port.to_string();
    query(&mut m, &["REPLICAOF", "127.0.0.1", &other_port]);
    wait_caught_up(&mut q, &mut s);
    wait_caught_up(&mut q, &mut s2);
    let other_id = info_field(&mut q, "replication", "master_replid");
    for sub in [&mut s, &mut s2] {
        assert_eq!(info_field(sub, "replication", "master_replid"), other_id);
        same_data(&mut q, sub);
    }
    assert_eq!(info_field(&mut m, "stats", "sync_full"), "4");
}

#[test]
fn ferrocache_chain_survives_kill_9_of_the_middle_and_its_promotion() {
    let primary = Server::start(&[
        "--repl-diskless-sync-delay",
        "0",
        "--repl-ping-replica-period",
        "1",
    ]);
    let mut p = conn(primary.port);
    fill(&mut p, "before");
    let top_port = primary.port.to_string();
    let middle_args = [
        "--replicaof",
        "127.0.0.1",
        top_port.as_str(),
        "--repl-diskless-sync-delay",
        "0",
        "--repl-diskless-sync",
        "no",
    ];
    let middle_dir = temp_dir("middle");
    let (mut middle, middle_port) = loop {
        let port = free_port();
        if let Some(server) = Server::start_at(middle_dir.clone(), port, &middle_args) {
            break (server, port);
        }
    };
    let sub = Server::start(&["--replicaof", "127.0.0.1", &middle_port.to_string()]);
    let mut s = conn(sub.port);
    wait_caught_up(&mut p, &mut s);
    same_data(&mut p, &mut s);
    live_writes(&mut p, "live");
    wait_caught_up(&mut p, &mut s);
    same_data(&mut p, &mut s);
    wait_for("the middle's log of its replica's sync", || {
        middle.log_text().contains("Synchronization with replica")
    });

    // The middle killed with SIGKILL: the sub-replica waits (NOMASTERLINK while the middle
    // syncs), then follows it again once restarted on its port.
    middle.kill9();
    query(&mut p, &["SET", "while-middle-down", "1"]);
    live_writes(&mut p, "down");
    let _restarted = loop {
        if let Some(server) = Server::start_at(middle_dir.clone(), middle_port, &middle_args) {
            break server;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let mut m = conn(middle_port);
    wait_caught_up(&mut p, &mut s);
    same_data(&mut p, &mut s);
    same_data(&mut p, &mut m);

    // The middle promoted: its replica continues partially under the new replid (the old one
    // is its replid2), and follows the middle's own writes.
    let old_id = info_field(&mut p, "replication", "master_replid");
    let full_before = info_field(&mut m, "stats", "sync_full");
    let partial_before: u64 = info_field(&mut m, "stats", "sync_partial_ok")
        .parse()
        .unwrap();
    query(&mut m, &["REPLICAOF", "NO", "ONE"]);
    query(&mut m, &["SET", "after-promotion", "yes"]);
    wait_caught_up(&mut m, &mut s);
    assert_eq!(info_field(&mut m, "stats", "sync_full"), full_before);
    let partial_after: u64 = info_field(&mut m, "stats", "sync_partial_ok")
        .parse()
        .unwrap();
    assert_eq!(partial_after, partial_before + 1);
    assert_eq!(info_field(&mut s, "replication", "master_replid2"), old_id);
    assert_eq!(
        info_field(&mut s, "replication", "master_replid"),
        info_field(&mut m, "replication", "master_replid")
    );
    assert_eq!(
        query(&mut s, &["GET", "after-promotion"]),
        Value::BulkString(b"yes".to_vec())
    );
    same_data(&mut m, &mut s);
    wait_for("Successful partial resynchronization with master", || {
        sub.log_text()
            .contains("Successful partial resynchronization with master")
    });
}

/// A sub-replica whose full sync from the middle node happens while the primary's stream runs
/// (counters in two databases): the middle's snapshot holds exactly the commands before the
/// offset it names, so no INCR is lost or applied twice down the chain.
#[test]
fn a_sub_replica_syncing_under_writes_gets_each_write_once() {
    let primary = Server::start_redis(&["--repl-diskless-sync-delay", "0"]).expect("redis-server");
    let top_port = primary.port.to_string();
    let middle = Server::start(&[
        "--replicaof",
        "127.0.0.1",
        &top_port,
        "--repl-diskless-sync-delay",
        "0",
    ]);
    let mut p = conn(primary.port);
    let mut m = conn(middle.port);
    query(&mut p, &["SET", "seed", "1"]);
    wait_caught_up(&mut p, &mut m);
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writer = {
        let port = primary.port;
        let stop = stop.clone();
        std::thread::spawn(move || {
            let mut c = conn(port);
            // Bounded: at most 2000 batches, until the sub-replicas are linked.
            for batch in 0..2000 {
                if stop.load(std::sync::atomic::Ordering::Relaxed) {
                    break;
                }
                let mut pipe = redis::pipe();
                for i in 0..100 {
                    pipe.cmd("SELECT")
                        .arg(if i % 2 == 0 { 0 } else { 3 })
                        .ignore();
                    pipe.cmd("INCR").arg(format!("counter:{}", i % 7)).ignore();
                    pipe.cmd("RPUSH").arg("log").arg(batch * 100 + i).ignore();
                }
                pipe.cmd("SELECT").arg(3).ignore();
                let _: () = pipe.query(&mut c).unwrap();
            }
        })
    };
    // Sub-replicas start while the writes run: one ferrocache, one redis-server.
    let middle_port = middle.port.to_string();
    let ours = Server::start(&["--replicaof", "127.0.0.1", &middle_port]);
    let theirs = redis_replica_of(middle.port);
    let mut o = conn(ours.port);
    let mut t = conn(theirs.port);
    wait_for("both sub-replicas linked", || {
        writer.is_finished()
            || (info_field(&mut o, "replication", "master_link_status") == "up"
                && info_field(&mut t, "replication", "master_link_status") == "up")
    });
    std::thread::sleep(Duration::from_millis(100));
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    writer.join().unwrap();
    wait_caught_up(&mut p, &mut o);
    wait_caught_up(&mut p, &mut t);
    assert_eq!(info_field(&mut m, "stats", "sync_full"), "2");
    for db in [0, 3] {
        let want = dataset(&mut p, db);
        assert!(!want.is_empty());
        assert_eq!(dataset(&mut o, db), want, "ferrocache sub-replica, db {db}");
        assert_eq!(
            dataset(&mut t, db),
            want,
            "redis-server sub-replica, db {db}"
        );
    }
}

/// A replica whose link is down refuses replicas of its own with Redis's text, byte for byte
/// as a redis-server replica in the same state; PSYNC ... FAILOVER with another replid is
/// refused, and with its own replid promotes it (then it serves the sync).
#[test]
fn a_replica_without_its_link_answers_as_redis() {
    let nowhere = free_port().to_string();
    let ours = Server::start(&["--replicaof", "127.0.0.1", &nowhere]);
    let theirs =
        Server::start_redis(&["--replicaof", "127.0.0.1", &nowhere]).expect("redis-server");
    for server in [&ours, &theirs] {
        let mut raw = server.raw();
        for argv in [
            &["PSYNC", "?", "-1"][..],
            &["SYNC"],
            &["PSYNC", "0123", "5"],
        ] {
            assert_eq!(
                raw.cmd_str(argv),
                "-NOMASTERLINK Can't SYNC while not connected with my master\r\n",
                "{argv:?} on port {}",
                server.port
            );
        }
        assert_eq!(
            raw.cmd_str(&["PSYNC", "0123", "5", "FAILOVER"]),
            "-ERR PSYNC FAILOVER replid must match my replid.\r\n"
        );
    }
    let mut c = conn(ours.port);
    let replid = info_field(&mut c, "replication", "master_replid");
    let mut raw = ours.raw();
    raw.send(&[b"PSYNC", replid.as_bytes(), b"1", b"FAILOVER"]);
    let mut first = Vec::new();
    while !first.ends_with(b"\r\n") {
        let mut byte = [0u8; 1];
        std::io::Read::read_exact(&mut raw.stream, &mut byte).unwrap();
        first.push(byte[0]);
    }
    // Promoted; never synced, it has no backlog: a full sync, under a new history (Redis's
    // changeReplicationId when the backlog is created).
    let line = String::from_utf8_lossy(&first);
    assert_eq!(info_field(&mut c, "replication", "role"), "master");
    let new_id = info_field(&mut c, "replication", "master_replid");
    assert_ne!(new_id, replid);
    assert!(
        line.starts_with(&format!("+FULLRESYNC {new_id} ")),
        "{line}"
    );
}
