//! ferrocache as a replication primary, followed by a real redis-server 7 replica
//! (`--replicaof 127.0.0.1 <our port>`): full sync of every type with TTLs (diskless and
//! disk-based), the live stream (writes, expiries, EVAL, MULTI, other databases, FLUSHALL), a
//! partial resync after CLIENT KILL TYPE replica, WAIT, ROLE, min-replicas-to-write, a replica
//! killed with SIGKILL and started again, and redis-cli --rdb / --replica.

mod common;

use common::Server;
use redis::Value;
use std::collections::BTreeMap;
use std::process::Command;
use std::time::{Duration, Instant};

fn connect(port: u16) -> redis::Connection {
    redis::Client::open(format!("redis://127.0.0.1:{port}/"))
        .unwrap()
        .get_connection()
        .unwrap()
}

fn redis_replica(primary_port: u16) -> Server {
    Server::start_redis(&[
        "--replicaof",
        "127.0.0.1",
        &primary_port.to_string(),
        "--repl-diskless-load",
        "disabled",
    ])
    .expect("redis-server is installed (tests/run.sh installs it)")
}

fn info_field(con: &mut redis::Connection, section: &str, field: &str) -> Option<String> {
    let text: String = redis::cmd("INFO").arg(section).query(con).unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{field}:")).map(str::to_string))
}

/// Waits (bounded) until `check` holds; false if it never did.
fn eventually(mut check: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        if check() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    false
}

/// Waits until the replica's link is up and it has applied the primary's whole stream.
fn wait_in_sync(primary: &mut redis::Connection, replica: &mut redis::Connection) {
    let synced = eventually(|| {
        let up = info_field(replica, "replication", "master_link_status").as_deref() == Some("up");
        let theirs = info_field(replica, "replication", "master_repl_offset");
        let ours = info_field(primary, "replication", "master_repl_offset");
        up && theirs.is_some() && theirs == ours
    });
    assert!(
        synced,
        "replica never caught up: ours {:?}, replica {:?}",
        info_field(primary, "replication", "master_repl_offset"),
        info_field(replica, "replication", "")
    );
}

/// Every key of database `db` with its type, value (in a canonical order) and absolute
/// deadline.
fn dataset(con: &mut redis::Connection, db: usize) -> BTreeMap<Vec<u8>, (String, Value, i64)> {
    redis::cmd("SELECT").arg(db).query::<()>(con).unwrap();
    let keys: Vec<Vec<u8>> = redis::cmd("KEYS").arg("*").query(con).unwrap();
    let mut out = BTreeMap::new();
    for key in keys {
        let kind: String = redis::cmd("TYPE").arg(&key).query(con).unwrap();
        let value: Value = match kind.as_str() {
            "string" => redis::cmd("GET").arg(&key).query(con).unwrap(),
            "list" => redis::cmd("LRANGE")
                .arg(&key)
                .arg(0)
                .arg(-1)
                .query(con)
                .unwrap(),
            "hash" => {
                let mut pairs: Vec<(Vec<u8>, Vec<u8>)> =
                    redis::cmd("HGETALL").arg(&key).query(con).unwrap();
                pairs.sort();
                Value::Array(
                    pairs
                        .into_iter()
                        .flat_map(|(f, v)| [Value::BulkString(f), Value::BulkString(v)])
                        .collect(),
                )
            }
            "set" => {
                let mut members: Vec<Vec<u8>> =
                    redis::cmd("SMEMBERS").arg(&key).query(con).unwrap();
                members.sort();
                Value::Array(members.into_iter().map(Value::BulkString).collect())
            }
            "zset" => redis::cmd("ZRANGE")
                .arg(&key)
                .arg(0)
                .arg(-1)
                .arg("WITHSCORES")
                .query(con)
                .unwrap(),
            "stream" => {
                let entries: Value = redis::cmd("XRANGE")
                    .arg(&key)
                    .arg("-")
                    .arg("+")
                    .query(con)
                    .unwrap();
                let groups: Value = redis::cmd("XINFO")
                    .arg("GROUPS")
                    .arg(&key)
                    .query(con)
                    .unwrap();
                Value::Array(vec![entries, groups])
            }
            other => panic!("unexpected type {other}"),
        };
        let deadline: i64 = redis::cmd("PEXPIRETIME").arg(&key).query(con).unwrap();
        out.insert(key, (kind, value, deadline));
    }
    redis::cmd("SELECT").arg(0).query::<()>(con).unwrap();
    out
}

fn assert_same_data(primary: &mut redis::Connection, replica: &mut redis::Connection) {
    for db in 0..4 {
        let ours = dataset(primary, db);
        let theirs = dataset(replica, db);
        assert_eq!(ours, theirs, "database {db} differs");
    }
}

fn fill(con: &mut redis::Connection, tag: &str) {
    let q = |args: &[&str]| {
        let mut cmd = redis::cmd(args[0]);
        for a in &args[1..] {
            cmd.arg(*a);
        }
        cmd
    };
    let k = |name: &str| format!("{tag}:{name}");
    for (i, args) in [
        vec!["SET", &k("str"), "hello"],
        vec!["SET", &k("int"), "12345"],
        vec!["SET", &k("ttl"), "soon", "EX", "1000"],
        vec!["RPUSH", &k("list"), "a", "b", "c", "d"],
        vec!["HSET", &k("hash"), "f1", "v1", "f2", "v2"],
        vec!["SADD", &k("set"), "x", "y", "z"],
        vec!["SADD", &k("intset"), "1", "2", "3"],
        vec!["ZADD", &k("zset"), "1.5", "a", "2", "b", "-3", "c"],
        vec!["XADD", &k("stream"), "1-1", "field", "value"],
        vec!["XADD", &k("stream"), "2-1", "field", "value2"],
        vec!["XGROUP", "CREATE", &k("stream"), "g1", "0"],
        vec!["PFADD", &k("hll"), "a", "b", "c", "d"],
        vec!["PEXPIRE", &k("hash"), "5000000"],
    ]
    .iter()
    .enumerate()
    {
        q(args)
            .query::<Value>(con)
            .unwrap_or_else(|e| panic!("{i}: {args:?}: {e}"));
    }
    // A big list and hash, beyond the small encodings.
    let mut pipe = redis::pipe();
    for i in 0..300 {
        pipe.cmd("RPUSH")
            .arg(k("biglist"))
            .arg(format!("element-{i}"));
        pipe.cmd("HSET")
            .arg(k("bighash"))
            .arg(format!("f{i}"))
            .arg(i);
        pipe.cmd("ZADD")
            .arg(k("bigzset"))
            .arg(i)
            .arg(format!("m{i}"));
    }
    pipe.query::<()>(con).unwrap();
    redis::cmd("SELECT").arg(2).query::<()>(con).unwrap();
    redis::cmd("SET")
        .arg(k("in-db2"))
        .arg("two")
        .query::<()>(con)
        .unwrap();
    redis::cmd("SELECT").arg(0).query::<()>(con).unwrap();
}

/// Writes of every kind the stream carries as effects.
fn live_writes(con: &mut redis::Connection) {
    let run = |con: &mut redis::Connection, args: &[&str]| -> Value {
        let mut cmd = redis::cmd(args[0]);
        for a in &args[1..] {
            cmd.arg(*a);
        }
        cmd.query(con).unwrap_or_else(|e| panic!("{args:?}: {e}"))
    };
    run(con, &["SET", "live:a", "1", "EX", "100"]);
    run(con, &["INCRBYFLOAT", "live:f", "1.5"]);
    run(con, &["EXPIRE", "live:f", "500"]);
    run(con, &["LPUSH", "live:list", "x", "y"]);
    run(con, &["SPOP", "live:set-none"]);
    run(con, &["SADD", "live:set", "a", "b", "c", "d"]);
    run(con, &["SPOP", "live:set"]);
    run(
        con,
        &[
            "EVAL",
            "redis.call('set', KEYS[1], 'from-script'); redis.call('incr', KEYS[2]); return 1",
            "2",
            "live:script",
            "live:counter",
        ],
    );
    let mut pipe = redis::pipe();
    pipe.atomic()
        .cmd("SET")
        .arg("live:tx1")
        .arg("1")
        .cmd("HSET")
        .arg("live:txh")
        .arg("f")
        .arg("v");
    pipe.query::<Value>(con).unwrap();
    run(con, &["SELECT", "3"]);
    run(con, &["SET", "live:db3", "three"]);
    run(con, &["MOVE", "live:db3", "1"]);
    run(con, &["SELECT", "0"]);
    // A key that expires: the primary's lookup deletes it and the replica gets the DEL.
    run(con, &["SET", "live:short", "v", "PX", "30"]);
    std::thread::sleep(Duration::from_millis(60));
    assert_eq!(run(con, &["GET", "live:short"]), Value::Nil);
    run(con, &["XADD", "live:stream", "*", "f", "v"]);
    run(con, &["DEL", "live:list"]);
}

#[test]
fn redis_replica_follows_a_diskless_full_sync_the_stream_and_a_partial_resync() {
    let primary = Server::start(&[
        "--repl-diskless-sync",
        "yes",
        "--repl-diskless-sync-delay",
        "0",
        "--repl-ping-replica-period",
        "1",
    ]);
    let mut p = connect(primary.port);
    fill(&mut p, "before");
    assert_eq!(
        info_field(&mut p, "replication", "repl_backlog_active").as_deref(),
        Some("0"),
        "no backlog before the first replica"
    );

    let replica = redis_replica(primary.port);
    let mut r = connect(replica.port);
    wait_in_sync(&mut p, &mut r);
    assert_same_data(&mut p, &mut r);
    assert!(
        replica
            .log_text()
            .contains("receiving streamed RDB from master with EOF"),
        "diskless: {}",
        replica.log_text()
    );

    // The stream: effects of every kind, other databases, then FLUSHALL and writes after it.
    live_writes(&mut p);
    wait_in_sync(&mut p, &mut r);
    assert_same_data(&mut p, &mut r);
    let dbsize = |c: &mut redis::Connection| -> i64 { redis::cmd("DBSIZE").query(c).unwrap() };
    assert_eq!(
        dbsize(&mut p),
        dbsize(&mut r),
        "expired key deleted on both"
    );
    // A key nobody reads again: the primary's active expiry removes it and the replica, which
    // never expires keys itself, drops it on the DEL that follows.
    redis::cmd("SET")
        .arg("live:unread")
        .arg("v")
        .arg("PX")
        .arg(1000)
        .query::<()>(&mut p)
        .unwrap();
    let before = dbsize(&mut p);
    assert!(eventually(
        || dbsize(&mut p) == before - 1 && dbsize(&mut r) == before - 1
    ));
    redis::cmd("FLUSHALL").query::<()>(&mut p).unwrap();
    fill(&mut p, "after-flush");
    wait_in_sync(&mut p, &mut r);
    assert_same_data(&mut p, &mut r);

    // WAIT counts the replica once it acknowledged; ROLE and CLIENT LIST show it.
    redis::cmd("SET")
        .arg("w")
        .arg("1")
        .query::<()>(&mut p)
        .unwrap();
    let acked: i64 = redis::cmd("WAIT").arg(1).arg(5000).query(&mut p).unwrap();
    assert_eq!(acked, 1);
    let acked: i64 = redis::cmd("WAIT").arg(2).arg(200).query(&mut p).unwrap();
    assert_eq!(acked, 1, "the count at the timeout");
    // A client that wrote nothing has nothing to wait for.
    let mut idle = connect(primary.port);
    let acked: i64 = redis::cmd("WAIT").arg(1).arg(0).query(&mut idle).unwrap();
    assert_eq!(acked, 1);
    let role: Value = redis::cmd("ROLE").query(&mut p).unwrap();
    let Value::Array(role) = role else {
        panic!("{role:?}")
    };
    assert_eq!(role[0], Value::BulkString(b"master".to_vec()));
    let replica_port = replica.port.to_string().into_bytes();
    assert!(
        matches!(&role[2], Value::Array(r) if matches!(&r[0], Value::Array(x) if x[1] == Value::BulkString(replica_port.clone()))),
        "{role:?}"
    );
    let list: String = redis::cmd("CLIENT")
        .arg("LIST")
        .arg("TYPE")
        .arg("replica")
        .query(&mut p)
        .unwrap();
    assert_eq!(list.lines().count(), 1, "{list}");
    assert!(list.contains("flags=S"), "{list}");
    let line = info_field(&mut p, "replication", "slave0").unwrap();
    assert!(
        line.starts_with(&format!(
            "ip=127.0.0.1,port={},state=online,offset=",
            replica.port
        )),
        "{line}"
    );
    assert_eq!(
        info_field(&mut p, "replication", "repl_backlog_active").as_deref(),
        Some("1")
    );

    // A short disconnect: the replica continues from the backlog (+CONTINUE).
    let killed: i64 = redis::cmd("CLIENT")
        .arg("KILL")
        .arg("TYPE")
        .arg("replica")
        .query(&mut p)
        .unwrap();
    assert_eq!(killed, 1);
    redis::cmd("SET")
        .arg("after-kill")
        .arg("x")
        .query::<()>(&mut p)
        .unwrap();
    assert!(eventually(|| info_field(
        &mut p,
        "stats",
        "sync_partial_ok"
    )
    .as_deref()
        == Some("1")));
    wait_in_sync(&mut p, &mut r);
    assert_same_data(&mut p, &mut r);
    assert_eq!(
        info_field(&mut p, "stats", "sync_full").as_deref(),
        Some("1")
    );
    assert!(replica
        .log_text()
        .contains("Successful partial resynchronization with master"));

    // min-replicas-to-write: one good replica is enough for 1, not for 2.
    redis::cmd("CONFIG")
        .arg("SET")
        .arg("min-replicas-to-write")
        .arg(1)
        .query::<()>(&mut p)
        .unwrap();
    redis::cmd("SET")
        .arg("q")
        .arg("1")
        .query::<()>(&mut p)
        .unwrap();
    redis::cmd("CONFIG")
        .arg("SET")
        .arg("min-replicas-to-write")
        .arg(2)
        .query::<()>(&mut p)
        .unwrap();
    let err = redis::cmd("SET")
        .arg("q")
        .arg("2")
        .query::<()>(&mut p)
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("Not enough good replicas to write"),
        "{err}"
    );
}

#[test]
fn disk_based_full_sync_and_a_replica_killed_and_back() {
    let primary = Server::start(&["--repl-diskless-sync", "no"]);
    let mut p = connect(primary.port);
    fill(&mut p, "disk");
    let mut replica = redis_replica(primary.port);
    let mut r = connect(replica.port);
    wait_in_sync(&mut p, &mut r);
    assert_same_data(&mut p, &mut r);
    assert!(
        replica.log_text().contains("bytes from master to disk"),
        "disk-based: {}",
        replica.log_text()
    );

    // kill -9 of the replica: the primary drops the link and keeps serving; a new replica
    // process gets a full sync of what was written meanwhile.
    replica.kill9();
    assert!(eventually(|| info_field(
        &mut p,
        "replication",
        "connected_slaves"
    )
    .as_deref()
        == Some("0")));
    live_writes(&mut p);
    let replica = redis_replica(primary.port);
    let mut r = connect(replica.port);
    wait_in_sync(&mut p, &mut r);
    assert_same_data(&mut p, &mut r);
    assert_eq!(
        info_field(&mut p, "stats", "sync_full").as_deref(),
        Some("2")
    );
}

#[test]
fn redis_cli_rdb_and_replica_modes() {
    let primary = Server::start(&["--repl-diskless-sync-delay", "0"]);
    let mut p = connect(primary.port);
    fill(&mut p, "cli");
    let file = primary.dir.join("from-cli.rdb");
    let out = Command::new("redis-cli")
        .args(["-p", &primary.port.to_string(), "--rdb"])
        .arg(&file)
        .output()
        .expect("redis-cli runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let check = Command::new("redis-check-rdb")
        .arg(&file)
        .output()
        .expect("redis-check-rdb runs");
    let report = String::from_utf8_lossy(&check.stdout);
    assert!(check.status.success(), "{report}");
    assert!(report.contains("keys read"), "{report}");

    // The file loads into redis-server with the same data.
    let copy_dir = common::temp_dir("cli-rdb");
    std::fs::copy(&file, copy_dir.join("dump.rdb")).unwrap();
    let loaded = Server::start_redis(&[
        "--dir",
        copy_dir.to_str().unwrap(),
        "--dbfilename",
        "dump.rdb",
    ])
    .expect("redis-server starts");
    let mut l = connect(loaded.port);
    assert!(eventually(|| info_field(&mut l, "persistence", "loading")
        .as_deref()
        == Some("0")));
    assert_same_data(&mut p, &mut l);

    // --replica prints the stream after its RDB.
    // Unbuffered (stdbuf), as the child is killed rather than left to exit.
    let mut child = Command::new("stdbuf")
        .args([
            "-o0",
            "redis-cli",
            "-p",
            &primary.port.to_string(),
            "--replica",
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let printed = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
    let reader = {
        let printed = printed.clone();
        let mut stdout = child.stdout.take().unwrap();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = std::io::Read::read(&mut stdout, &mut buf) {
                if n == 0 {
                    break;
                }
                printed
                    .lock()
                    .unwrap()
                    .push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        })
    };
    // Written until it shows up: the first writes may come before the link streams (they
    // are then in the RDB).
    let seen = eventually(|| {
        redis::cmd("SET")
            .arg("seen-by-cli")
            .arg("yes")
            .query::<()>(&mut p)
            .unwrap();
        printed.lock().unwrap().contains("\"seen-by-cli\"")
    });
    let _ = child.kill();
    let _ = child.wait();
    let _ = reader.join();
    assert!(seen, "{}", printed.lock().unwrap());
}

#[test]
fn a_replica_over_its_output_buffer_limit_is_disconnected() {
    let primary = Server::start(&[
        "--repl-diskless-sync-delay",
        "0",
        "--client-output-buffer-limit",
        "replica 65536 0 0",
    ]);
    let mut p = connect(primary.port);
    let replica = redis_replica(primary.port);
    let mut r = connect(replica.port);
    wait_in_sync(&mut p, &mut r);
    // One write bigger than the hard limit: the link is closed, as Redis does.
    redis::cmd("SET")
        .arg("big")
        .arg(vec![b'x'; 200_000])
        .query::<()>(&mut p)
        .unwrap();
    assert!(
        eventually(|| primary.log_text().contains(
            "closed for overcoming of output buffer limits (hard limit of the replica class)"
        )),
        "{}",
        primary.log_text()
    );
    let disconnections: u64 =
        info_field(&mut p, "stats", "client_output_buffer_limit_disconnections")
            .unwrap()
            .parse()
            .unwrap();
    assert!(disconnections >= 1);
}
