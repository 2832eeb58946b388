//! ferrocache as a replica of a real redis-server 7.0: full resync (disk and diskless), the
//! live command stream, read-only refusals (compared byte for byte with a redis-server
//! replica), REPLICAOF at runtime and NO ONE, masterauth, the primary killed and restarted,
//! ferrocache killed and restarted, and a partial resync after a dropped link.

mod common;

use common::repl::{conn, info_field, link_up, query, wait_caught_up, wait_for};
use common::{temp_dir, Server};
use redis::Value;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

fn conn_auth(port: u16, pass: &str) -> redis::Connection {
    redis::Client::open(format!("redis://:{pass}@127.0.0.1:{port}/"))
        .unwrap()
        .get_connection()
        .unwrap()
}

/// Starts redis-server 7.0 as the primary (diskless or disk-based full syncs, no delay).
fn start_primary(diskless: bool, extra: &[&str]) -> Server {
    let mut args = vec![
        "--repl-diskless-sync",
        if diskless { "yes" } else { "no" },
        "--repl-diskless-sync-delay",
        "0",
        "--enable-debug-command",
        "yes",
    ];
    args.extend_from_slice(extra);
    Server::start_redis(&args).expect("redis-server is installed")
}

/// redis-server on a given port and dir (a primary restarted where it was).
fn start_redis_at(port: u16, dir: &Path) -> std::process::Child {
    let child = Command::new("/usr/bin/redis-server")
        .args([
            "--port",
            &port.to_string(),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
        ])
        .args(["--appendonly", "no", "--repl-diskless-sync-delay", "0"])
        .arg("--logfile")
        .arg(dir.join("redis-restarted.log"))
        .arg("--dir")
        .arg(dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start redis-server");
    wait_for("the restarted primary to listen", || {
        std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
    });
    child
}

fn replica_of(primary: &Server, extra: &[&str]) -> Server {
    let port = primary.port.to_string();
    let mut args = vec!["--replicaof", "127.0.0.1", port.as_str()];
    args.extend_from_slice(extra);
    Server::start(&args)
}

/// Every data type, with and without TTLs, in db 0 and db 5.
fn fill(c: &mut redis::Connection) {
    let script: &[&[&str]] = &[
        &["SET", "str", "hello"],
        &["SET", "num", "42"],
        &["SET", "ttl:str", "soon", "EX", "1000"],
        &["RPUSH", "list", "a", "b", "c", "1", "2"],
        &["HSET", "hash", "f1", "v1", "f2", "v2", "n", "7"],
        &["SADD", "set", "x", "y", "z"],
        &["SADD", "intset", "1", "2", "3", "100"],
        &["ZADD", "zset", "1", "one", "2.5", "two", "-3", "three"],
        &["XADD", "stream", "1-1", "f", "v"],
        &["XADD", "stream", "2-1", "f", "w", "g", "x"],
        &["XGROUP", "CREATE", "stream", "grp", "0"],
        &["PFADD", "hll", "a", "b", "c", "d"],
        &["SETBIT", "bits", "77", "1"],
        &["EXPIRE", "hash", "5000"],
        &["PEXPIRE", "zset", "900000"],
        &["SELECT", "5"],
        &["SET", "in5", "five"],
        &["LPUSH", "list5", "q"],
        &["SELECT", "0"],
    ];
    for argv in script {
        let mut cmd = redis::cmd(argv[0]);
        for a in &argv[1..] {
            cmd.arg(*a);
        }
        let _: Value = cmd.query(c).unwrap();
    }
    // A long list and a big hash, past the compact encodings.
    let mut rpush = redis::cmd("RPUSH");
    rpush.arg("biglist");
    let mut hset = redis::cmd("HSET");
    hset.arg("bighash");
    for i in 0..600 {
        rpush.arg(format!("item-{i}"));
        hset.arg(format!("field-{i}")).arg(i);
    }
    let _: Value = rpush.query(c).unwrap();
    let _: Value = hset.query(c).unwrap();
}

/// What a database holds, as comparable text: each key with its type, a canonical form of
/// its value and whether it has a TTL.
fn dataset(c: &mut redis::Connection, db: i64) -> Vec<String> {
    let _: () = redis::cmd("SELECT").arg(db).query(c).unwrap();
    let mut keys: Vec<String> = redis::cmd("KEYS").arg("*").query(c).unwrap();
    keys.sort();
    let mut out = Vec::new();
    for key in keys {
        let kind: String = redis::cmd("TYPE").arg(&key).query(c).unwrap();
        let value: Vec<String> = match kind.as_str() {
            "string" => {
                let v: Vec<u8> = redis::cmd("GET").arg(&key).query(c).unwrap();
                vec![format!("{v:?}")]
            }
            "list" => redis::cmd("LRANGE")
                .arg(&key)
                .arg(0)
                .arg(-1)
                .query(c)
                .unwrap(),
            "hash" => {
                let mut v: Vec<String> = redis::cmd("HGETALL").arg(&key).query(c).unwrap();
                let mut pairs: Vec<String> = v.chunks(2).map(|p| p.join("=")).collect();
                pairs.sort();
                v.clear();
                pairs
            }
            "set" => {
                let mut v: Vec<String> = redis::cmd("SMEMBERS").arg(&key).query(c).unwrap();
                v.sort();
                v
            }
            "zset" => redis::cmd("ZRANGE")
                .arg(&key)
                .arg(0)
                .arg(-1)
                .arg("WITHSCORES")
                .query(c)
                .unwrap(),
            "stream" => {
                let v: Value = redis::cmd("XRANGE")
                    .arg(&key)
                    .arg("-")
                    .arg("+")
                    .query(c)
                    .unwrap();
                let groups: Value = redis::cmd("XINFO")
                    .arg("GROUPS")
                    .arg(&key)
                    .query(c)
                    .unwrap();
                vec![
                    format!("{v:?}"),
                    format!("{}", matches!(groups, Value::Array(ref g) if g.len() == 1)),
                ]
            }
            other => vec![other.to_string()],
        };
        let pttl: i64 = redis::cmd("PTTL").arg(&key).query(c).unwrap();
        out.push(format!("{key} {kind} {value:?} ttl={}", pttl > 0));
    }
    let _: () = redis::cmd("SELECT").arg(0).query(c).unwrap();
    out
}

fn same_data(primary: &mut redis::Connection, replica: &mut redis::Connection) {
    for db in [0, 5] {
        let want = dataset(primary, db);
        assert!(!want.is_empty() || db != 0, "the primary holds data");
        assert_eq!(dataset(replica, db), want, "db {db}");
    }
}

/// Full resync of every data type with TTLs, from a disk-based and a diskless primary, then
/// the live stream: writes, EXPIRE, INCR, a script, MULTI, other databases, a key expired on
/// the primary (a DEL in the stream), FLUSHALL.
#[test]
fn full_resync_and_live_stream() {
    for diskless in [false, true] {
        let primary = start_primary(diskless, &[]);
        let mut p = conn(primary.port);
        fill(&mut p);
        let library = |name: &str| {
            format!("#!lua name={name}\nredis.register_function{{function_name='{name}f', callback=function() return '{name}' end, flags={{'no-writes'}}}}")
        };
        query(&mut p, &["FUNCTION", "LOAD", &library("before")]);
        let replica = replica_of(&primary, &[]);
        let mut r = conn(replica.port);
        wait_caught_up(&mut p, &mut r);
        same_data(&mut p, &mut r);
        // Functions: in the RDB of the full resync, then in the stream.
        query(&mut p, &["FUNCTION", "LOAD", &library("after")]);
        wait_caught_up(&mut p, &mut r);
        for name in ["before", "after"] {
            let got: String = redis::cmd("FCALL_RO")
                .arg(format!("{name}f"))
                .arg(0)
                .query(&mut r)
                .unwrap();
            assert_eq!(got, name);
        }
        assert_eq!(
            info_field(&mut p, "stats", "sync_full"),
            "1",
            "diskless {diskless}"
        );
        assert_eq!(
            info_field(&mut r, "replication", "master_replid"),
            info_field(&mut p, "replication", "master_replid")
        );

        for argv in [
            &["SET", "live", "1"][..],
            &["INCR", "num"],
            &["INCRBYFLOAT", "flt", "1.5"],
            &["EXPIRE", "live", "1000"],
            &["SET", "relative", "v", "PX", "500000"],
            &[
                "EVAL",
                "redis.call('SET', KEYS[1], ARGV[1]); return redis.call('INCR', KEYS[2])",
                "2",
                "scripted",
                "num",
                "val",
            ],
            &["LPUSH", "list", "pushed"],
            &["HDEL", "hash", "f1"],
            &["ZINCRBY", "zset", "10", "one"],
            &["XADD", "stream", "3-1", "a", "b"],
            &["SPOP", "set"],
        ] {
            query(&mut p, argv);
        }
        // A transaction, and another database on the same connection.
        let (a, b): (i64, i64) = redis::pipe()
            .atomic()
            .cmd("INCR")
            .arg("tx")
            .cmd("INCRBY")
            .arg("tx")
            .arg(10)
            .query(&mut p)
            .unwrap();
        assert_eq!((a, b), (1, 11));
        query(&mut p, &["SELECT", "5"]);
        query(&mut p, &["SET", "in5", "changed"]);
        query(&mut p, &["SELECT", "0"]);
        wait_caught_up(&mut p, &mut r);
        same_data(&mut p, &mut r);
        let ttl: i64 = redis::cmd("PTTL").arg("relative").query(&mut r).unwrap();
        assert!(ttl > 0 && ttl <= 500_000, "{ttl}");

        // A key past its deadline stays on the replica (hidden from reads) until the primary
        // deletes it; the primary's DEL then removes it.
        query(&mut p, &["DEBUG", "SET-ACTIVE-EXPIRE", "0"]);
        query(&mut p, &["SET", "short", "v", "PX", "50"]);
        wait_caught_up(&mut p, &mut r);
        let size = |c: &mut redis::Connection| -> i64 { redis::cmd("DBSIZE").query(c).unwrap() };
        let with_short = size(&mut r);
        wait_for("the short key's deadline to pass on the replica", || {
            redis::cmd("EXISTS")
                .arg("short")
                .query::<i64>(&mut r)
                .unwrap()
                == 0
        });
        assert_eq!(size(&mut r), with_short, "the replica deleted a key itself");
        let gone: Option<String> = redis::cmd("GET").arg("short").query(&mut p).unwrap();
        assert_eq!(gone, None);
        wait_caught_up(&mut p, &mut r);
        assert_eq!(size(&mut r), with_short - 1);
        assert_eq!(size(&mut r), size(&mut p));

        query(&mut p, &["FLUSHALL"]);
        wait_caught_up(&mut p, &mut r);
        assert_eq!(size(&mut r), 0);
    }
}

/// What one connection sees on a replica: READONLY for writes (also inside MULTI, and
/// EXECABORT), reads served, ROLE's shape; compared byte for byte with a redis-server replica
/// of the same primary, in RESP2 and RESP3.
#[test]
fn read_only_replica_matches_redis() {
    let primary = start_primary(true, &[]);
    let mut p = conn(primary.port);
    query(&mut p, &["SET", "k", "v"]);
    let ours = replica_of(&primary, &[]);
    let port = primary.port.to_string();
    let theirs = Server::start_redis(&["--replicaof", "127.0.0.1", &port]).expect("redis-server");
    for server in [&ours, &theirs] {
        let mut c = conn(server.port);
        wait_caught_up(&mut p, &mut c);
    }
    let cases: &[&[&str]] = &[
        &["SET", "k", "other"],
        &["DEL", "k"],
        &["GET", "k"],
        &["INCR", "n"],
        &["EVAL", "return redis.call('GET', KEYS[1])", "1", "k"],
        &["EVAL", "return redis.call('SET', 'k', 'v')", "0"],
        &["EVAL", "return redis.pcall('SET', 'k', 'v')", "0"],
        &["EVAL", "#!lua\nreturn redis.call('SET', 'k', 'v')", "0"],
        &[
            "EVAL",
            "#!lua flags=no-writes\nreturn redis.call('GET', 'k')",
            "0",
        ],
        &["EVAL_RO", "return redis.call('SET', 'k', 'v')", "0"],
        &[
            "FUNCTION",
            "LOAD",
            "#!lua name=lib\nredis.register_function('f', function() return 1 end)",
        ],
        &["MULTI"],
        &["GET", "k"],
        &["SET", "x", "y"],
        &["EXEC"],
        &["MULTI"],
        &["GET", "k"],
        &["EXEC"],
        &["WAIT", "0", "0"],
        &["WAIT", "1", "x"],
        &["REPLICAOF", "127.0.0.1", "notaport"],
        &["REPLICAOF", "127.0.0.1", "70000"],
        &["REPLICAOF", "127.0.0.1", &port],
        &["SLAVEOF", "127.0.0.1", &port],
        &["CONFIG", "SET", "replicaof", "no one"],
    ];
    for resp3 in [false, true] {
        let mut a = ours.raw();
        let mut b = theirs.raw();
        if resp3 {
            a.resp3 = true;
            b.resp3 = true;
            // HELLO's reply differs in the version and id fields only; its role is compared.
            let role = |reply: Vec<u8>| {
                let text = String::from_utf8_lossy(&reply).into_owned();
                text.split_once("role\r\n").map(|(_, r)| r.to_string())
            };
            assert_eq!(role(a.cmd(&["HELLO", "3"])), role(b.cmd(&["HELLO", "3"])));
        }
        for argv in cases {
            assert_eq!(a.cmd_str(argv), b.cmd_str(argv), "{argv:?} resp3={resp3}");
        }
    }
    let mut a = ours.raw();
    assert_eq!(
        a.cmd_str(&["CONFIG", "GET", "replicaof"]),
        format!(
            "*2\r\n$9\r\nreplicaof\r\n${}\r\n127.0.0.1 {port}\r\n",
            10 + port.len()
        )
    );
    let role = a.cmd_str(&["ROLE"]);
    assert!(
        role.starts_with(&format!(
            "*5\r\n$5\r\nslave\r\n$9\r\n127.0.0.1\r\n:{port}\r\n$9\r\nconnected\r\n:"
        )),
        "{role}"
    );
    // INFO replication: the same fields in the same order as a redis-server replica's.
    let names = |port: u16| -> Vec<String> {
        let text: String = redis::cmd("INFO")
            .arg("replication")
            .query(&mut conn(port))
            .unwrap();
        text.lines()
            .filter_map(|l| l.split_once(':').map(|(n, _)| n.to_string()))
            .collect()
    };
    assert_eq!(names(ours.port), names(theirs.port));
    assert!(names(ours.port).contains(&"slave_read_repl_offset".to_string()));
    let mut r = conn(ours.port);
    // replica-read-only no: a client may write to the replica.
    query(&mut r, &["CONFIG", "SET", "replica-read-only", "no"]);
    query(&mut r, &["SET", "local", "1"]);
    assert_eq!(info_field(&mut r, "replication", "slave_read_only"), "0");
}

/// REPLICAOF at runtime replaces a primary's data with the primary's; REPLICAOF NO ONE
/// promotes (new replication id, the old one kept as replid2) and writes are accepted again.
#[test]
fn replicaof_at_runtime_and_promotion() {
    let primary = start_primary(false, &[]);
    let mut p = conn(primary.port);
    fill(&mut p);
    let node = Server::start(&[]);
    let mut r = conn(node.port);
    query(&mut r, &["SET", "mine", "gone after the sync"]);
    // A client blocked on the node when it becomes a replica is unblocked with Redis's error
    // (served later, its pop would change the replica's data).
    let mut blocked = node.raw();
    blocked.send(&[b"BLPOP", b"list", b"0"]);
    wait_for("the client to block", || {
        info_field(&mut r, "clients", "blocked_clients") == "1"
    });
    let port = primary.port.to_string();
    assert_eq!(
        query(&mut r, &["REPLICAOF", "127.0.0.1", &port]),
        Value::Okay
    );
    assert_eq!(
        String::from_utf8_lossy(&blocked.read_reply().unwrap()),
        "-UNBLOCKED force unblock from blocking operation, instance state changed (master -> replica?)\r\n"
    );
    wait_caught_up(&mut p, &mut r);
    same_data(&mut p, &mut r);
    query(&mut p, &["SET", "after", "1"]);
    wait_caught_up(&mut p, &mut r);
    let primary_id = info_field(&mut p, "replication", "master_replid");
    let offset = info_field(&mut r, "replication", "master_repl_offset");
    assert_eq!(query(&mut r, &["REPLICAOF", "NO", "ONE"]), Value::Okay);
    assert_eq!(info_field(&mut r, "replication", "role"), "master");
    assert_eq!(
        info_field(&mut r, "replication", "master_replid2"),
        primary_id
    );
    assert_ne!(
        info_field(&mut r, "replication", "master_replid"),
        primary_id
    );
    assert_eq!(
        info_field(&mut r, "replication", "second_repl_offset"),
        (offset.parse::<u64>().unwrap() + 1).to_string()
    );
    query(&mut r, &["SET", "promoted", "yes"]);
    let got: String = redis::cmd("GET").arg("after").query(&mut r).unwrap();
    assert_eq!(got, "1");
    // Writes on the old primary no longer arrive.
    query(&mut p, &["SET", "after", "2"]);
    std::thread::sleep(Duration::from_millis(200));
    let got: String = redis::cmd("GET").arg("after").query(&mut r).unwrap();
    assert_eq!(got, "1");
    let mut raw = node.raw();
    assert_eq!(
        raw.cmd_str(&["ROLE"]),
        format!(
            "*3\r\n$6\r\nmaster\r\n:{}\r\n*0\r\n",
            info_field(&mut r, "replication", "master_repl_offset")
        )
    );
}

/// masterauth (and masteruser) authenticate the link to a primary with requirepass / ACL users.
#[test]
fn masterauth_authenticates_the_link() {
    let primary = start_primary(true, &["--requirepass", "s3cret"]);
    let mut p = conn_auth(primary.port, "s3cret");
    query(&mut p, &["SET", "k", "v"]);
    query(
        &mut p,
        &[
            "ACL",
            "SETUSER",
            "repl",
            "on",
            ">replpass",
            "+psync",
            "+replconf",
            "+ping",
        ],
    );
    let replica = replica_of(&primary, &["--masterauth", "s3cret"]);
    let mut r = conn(replica.port);
    wait_caught_up(&mut p, &mut r);
    let got: String = redis::cmd("GET").arg("k").query(&mut r).unwrap();
    assert_eq!(got, "v");
    let user = replica_of(
        &primary,
        &["--masteruser", "repl", "--masterauth", "replpass"],
    );
    let mut u = conn(user.port);
    wait_caught_up(&mut p, &mut u);
    // A wrong password: the link stays down and the log says why.
    let wrong = replica_of(&primary, &["--masterauth", "nope"]);
    wait_for("the AUTH failure in the log", || {
        wrong.log_text().contains("Unable to AUTH to MASTER")
    });
    let mut w = conn(wrong.port);
    assert_eq!(
        info_field(&mut w, "replication", "master_link_status"),
        "down"
    );
}

/// The primary killed with SIGKILL: the link goes down (MASTERDOWN with
/// replica-serve-stale-data no) and comes back when it restarts; ferrocache killed and
/// restarted with the same configuration resyncs in full.
#[test]
fn links_survive_kill_9_of_either_side() {
    let mut primary = start_primary(true, &[]);
    let port = primary.port;
    let mut p = conn(port);
    query(&mut p, &["SET", "before", "1"]);
    let dir = temp_dir("replica-restart");
    let port_s = port.to_string();
    let args = ["--replicaof", "127.0.0.1", port_s.as_str(), "--save", ""];
    let mut replica = Server::start_in(dir.clone(), &args);
    let mut r = conn(replica.port);
    wait_caught_up(&mut p, &mut r);
    query(&mut r, &["CONFIG", "SET", "replica-serve-stale-data", "no"]);

    primary.kill9();
    wait_for("the link to go down", || !link_up(&mut r));
    let mut raw = replica.raw();
    assert_eq!(
        raw.cmd_str(&["GET", "before"]),
        "-MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to 'no'.\r\n"
    );
    assert!(raw
        .cmd_str(&["INFO", "replication"])
        .contains("master_link_status:down"));
    let role = raw.cmd_str(&["ROLE"]);
    assert!(role.ends_with(":-1\r\n"), "{role}");
    let down: i64 = info_field(&mut r, "replication", "master_link_down_since_seconds")
        .parse()
        .unwrap();
    assert!(down >= 0);

    let mut restarted = start_redis_at(port, &primary.dir);
    let mut p = conn(port);
    query(&mut p, &["SET", "after-restart", "2"]);
    wait_caught_up(&mut p, &mut r);
    assert_eq!(raw.cmd_str(&["GET", "after-restart"]), "$1\r\n2\r\n");
    // The restarted primary is empty apart from the new key: so is the replica.
    assert_eq!(raw.cmd_str(&["DBSIZE"]), ":1\r\n");

    replica.kill9();
    let replica = Server::start_in(dir, &args);
    let mut r = conn(replica.port);
    wait_caught_up(&mut p, &mut r);
    assert_eq!(info_field(&mut p, "stats", "sync_full"), "2");
    let got: String = redis::cmd("GET")
        .arg("after-restart")
        .query(&mut r)
        .unwrap();
    assert_eq!(got, "2");
    let _ = restarted.kill();
    let _ = restarted.wait();
}

/// A link the primary drops (CLIENT KILL TYPE replica) resumes with a partial resync: the
/// writes made meanwhile arrive from the primary's backlog.
#[test]
fn partial_resync_after_a_dropped_link() {
    let primary = start_primary(true, &[]);
    let mut p = conn(primary.port);
    fill(&mut p);
    let replica = replica_of(&primary, &["--replica-announce-port", "4242"]);
    let mut r = conn(replica.port);
    wait_caught_up(&mut p, &mut r);
    let replicas = info_field(&mut p, "replication", "slave0");
    assert!(replicas.contains("port=4242"), "{replicas}");
    let listed: String = redis::cmd("CLIENT")
        .arg("LIST")
        .arg("TYPE")
        .arg("master")
        .query(&mut r)
        .unwrap();
    assert!(listed.contains(" flags=M "), "{listed}");
    // Dropped by the replica (CLIENT KILL TYPE master), then by the primary (TYPE replica).
    for (side, kind) in [("replica", "master"), ("primary", "replica")] {
        let ok_before = info_field(&mut p, "stats", "sync_partial_ok");
        let c = if side == "replica" { &mut r } else { &mut p };
        let killed: i64 = redis::cmd("CLIENT")
            .arg("KILL")
            .arg("TYPE")
            .arg(kind)
            .query(c)
            .unwrap();
        assert_eq!(killed, 1, "{side}");
        for i in 0..50 {
            query(&mut p, &["SET", &format!("while-down-{side}-{i}"), "x"]);
        }
        wait_for("a partial resync", || {
            info_field(&mut p, "stats", "sync_partial_ok") != ok_before
        });
    }
    wait_caught_up(&mut p, &mut r);
    assert_eq!(info_field(&mut p, "stats", "sync_full"), "1");
    same_data(&mut p, &mut r);
    assert_eq!(
        redis::cmd("DBSIZE").query::<i64>(&mut r).unwrap(),
        redis::cmd("DBSIZE").query::<i64>(&mut p).unwrap()
    );
}

/// A primary that stops answering (SIGSTOP) is dropped after repl-timeout seconds without data;
/// the link comes back once it runs again.
#[test]
fn a_silent_primary_times_out() {
    let primary = start_primary(true, &["--repl-ping-replica-period", "1"]);
    let mut p = conn(primary.port);
    query(&mut p, &["SET", "k", "v"]);
    let replica = replica_of(&primary, &["--repl-timeout", "2"]);
    let mut r = conn(replica.port);
    wait_caught_up(&mut p, &mut r);
    let signal = |sig: &str| {
        let status = Command::new("kill")
            .args([sig, &primary.pid().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
    };
    signal("-STOP");
    wait_for("the link to time out", || !link_up(&mut r));
    signal("-CONT");
    wait_for("the link to come back", || link_up(&mut r));
    assert!(
        replica.log_text().contains("timeout"),
        "{}",
        replica.log_text()
    );
}

/// A full resync whose load outlasts the primary's repl-timeout keeps its link: the replica
/// sends a newline a second while it loads (Redis counts it as an ACK).
#[test]
fn a_long_load_keeps_the_link() {
    let primary = start_primary(false, &["--repl-timeout", "1"]);
    let mut p = conn(primary.port);
    for i in 0..40 {
        query(&mut p, &["SET", &format!("k{i}"), "v"]);
    }
    // 40 keys at 75 ms each: a 3 s load.
    let replica = replica_of(&primary, &["--key-load-delay", "75000"]);
    let mut r = conn(replica.port);
    wait_caught_up(&mut p, &mut r);
    query(&mut p, &["SET", "after", "1"]);
    wait_caught_up(&mut p, &mut r);
    assert_eq!(info_field(&mut p, "stats", "sync_full"), "1");
    assert_eq!(info_field(&mut p, "stats", "sync_partial_ok"), "0");
    let log = replica.log_text();
    assert!(!log.contains("lost"), "{log}");
}

/// A failover between redis-servers: the primary's replica is promoted and ferrocache follows
/// it with a partial resync (PSYNC2: `+CONTINUE <new id>`), taking the new replication id and
/// keeping the old one as replid2.
#[test]
fn follows_a_promoted_replica_with_a_partial_resync() {
    let primary = start_primary(true, &[]);
    let mut p = conn(primary.port);
    fill(&mut p);
    let port = primary.port.to_string();
    let other = Server::start_redis(&["--replicaof", "127.0.0.1", &port]).expect("redis-server");
    let mut o = conn(other.port);
    let ours = replica_of(&primary, &[]);
    let mut r = conn(ours.port);
    wait_caught_up(&mut p, &mut o);
    wait_caught_up(&mut p, &mut r);
    let old_id = info_field(&mut p, "replication", "master_replid");
    query(&mut o, &["REPLICAOF", "NO", "ONE"]);
    query(&mut o, &["SET", "after-failover", "1"]);
    let other_port = other.port.to_string();
    query(&mut r, &["REPLICAOF", "127.0.0.1", &other_port]);
    wait_caught_up(&mut o, &mut r);
    assert_eq!(info_field(&mut o, "stats", "sync_partial_ok"), "1");
    assert_eq!(info_field(&mut o, "stats", "sync_full"), "0");
    assert_eq!(
        info_field(&mut r, "replication", "master_replid"),
        info_field(&mut o, "replication", "master_replid")
    );
    assert_eq!(info_field(&mut r, "replication", "master_replid2"), old_id);
    let got: String = redis::cmd("GET")
        .arg("after-failover")
        .query(&mut r)
        .unwrap();
    assert_eq!(got, "1");
    same_data(&mut o, &mut r);
}
