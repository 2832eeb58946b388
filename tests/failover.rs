//! FAILOVER (Redis 6.2+ planned switchover) in every direction that runs here: ferrocache
//! primary to a ferrocache replica (a redis-server replica then follows through the old
//! primary, a chain), ferrocache primary to a redis-server replica, redis-server primary to a
//! ferrocache replica (redis-server sends us PSYNC ... FAILOVER); then the waiting step with a
//! replica stopped (SIGSTOP): writes held, the errors while in progress, ABORT, TIMEOUT, and
//! FORCE handing over anyway once the replica runs again. The argument errors without
//! replicas are compared with redis-server in tests/differential/48_failover.redis.

mod common;

use common::repl::{conn, info_field, query, wait_caught_up, wait_for};
use common::Server;
use redis::Value;
use std::process::Command;
use std::time::Duration;

/// Waits until `node` is a replica of `port` with its link up.
fn wait_replica_of(node: &mut redis::Connection, port: u16) {
    wait_for("the node to follow its new primary", || {
        info_field(node, "replication", "role") == "slave"
            && info_field(node, "replication", "master_port") == port.to_string()
            && info_field(node, "replication", "master_link_status") == "up"
    });
}

fn fill(c: &mut redis::Connection) {
    for i in 0..200 {
        query(c, &["SET", &format!("k{i}"), &format!("v{i}")]);
    }
    query(c, &["HSET", "h", "a", "1", "b", "2"]);
    query(c, &["ZADD", "z", "1", "one", "2", "two"]);
    query(c, &["SET", "ttl", "x", "EX", "5000"]);
    query(c, &["RPUSH", "l", "a", "b"]);
}

/// Each key with its type, value (canonical order) and deadline, as text.
fn dump(c: &mut redis::Connection) -> Vec<String> {
    let mut keys: Vec<String> = redis::cmd("KEYS").arg("*").query(c).unwrap();
    keys.sort();
    keys.into_iter()
        .map(|k| {
            let kind: String = redis::cmd("TYPE").arg(&k).query(c).unwrap();
            let mut value: Vec<String> = match kind.as_str() {
                "string" => vec![redis::cmd("GET").arg(&k).query(c).unwrap()],
                "list" => redis::cmd("LRANGE")
                    .arg(&k)
                    .arg(0)
                    .arg(-1)
                    .query(c)
                    .unwrap(),
                "hash" => redis::cmd("HGETALL").arg(&k).query(c).unwrap(),
                "zset" => redis::cmd("ZRANGE")
                    .arg(&k)
                    .arg(0)
                    .arg(-1)
                    .arg("WITHSCORES")
                    .query(c)
                    .unwrap(),
                other => panic!("unexpected type {other}"),
            };
            if kind == "hash" {
                value.sort();
            }
            let deadline: i64 = redis::cmd("PEXPIRETIME").arg(&k).query(c).unwrap();
            format!("{k} {kind} {value:?} {deadline}")
        })
        .collect()
}

fn signal(server: &Server, sig: &str) {
    let ok = Command::new("kill")
        .args([sig, &server.pid().to_string()])
        .status()
        .expect("kill runs");
    assert!(ok.success());
}

#[test]
fn ferrocache_fails_over_to_a_ferrocache_replica_and_a_redis_replica_follows_through_the_old_primary(
) {
    let primary = Server::start(&[
        "--repl-diskless-sync-delay",
        "0",
        "--repl-ping-replica-period",
        "1",
    ]);
    let mut p = conn(primary.port);
    fill(&mut p);
    let port = primary.port.to_string();
    let target = Server::start(&["--replicaof", "127.0.0.1", &port]);
    let mut t = conn(target.port);
    let other = Server::start_redis(&["--replicaof", "127.0.0.1", &port]).expect("redis-server");
    let mut o = conn(other.port);
    wait_caught_up(&mut p, &mut t);
    wait_caught_up(&mut p, &mut o);
    assert_eq!(
        info_field(&mut p, "replication", "master_failover_state"),
        "no-failover"
    );
    let old_id = info_field(&mut p, "replication", "master_replid");
    query(&mut p, &["SET", "last-before", "1"]);

    let target_port = target.port.to_string();
    assert_eq!(
        query(&mut p, &["FAILOVER", "TO", "127.0.0.1", &target_port]),
        Value::Okay
    );
    wait_replica_of(&mut p, target.port);
    assert_eq!(info_field(&mut t, "replication", "role"), "master");
    assert_eq!(
        info_field(&mut p, "replication", "master_failover_state"),
        "no-failover"
    );
    // The old primary continued partially from the target (which kept the old history as
    // replid2); the other replica, disconnected when the replid changed, follows the old
    // primary (now a replica itself) with a partial resync too.
    assert_eq!(info_field(&mut t, "stats", "sync_full"), "0");
    assert_eq!(info_field(&mut t, "stats", "sync_partial_ok"), "1");
    assert_eq!(info_field(&mut t, "replication", "master_replid2"), old_id);
    wait_replica_of(&mut o, primary.port);
    wait_for("the chain below the old primary", || {
        info_field(&mut p, "replication", "connected_slaves") == "1"
    });
    query(&mut t, &["SET", "after-failover", "yes"]);
    wait_caught_up(&mut t, &mut p);
    wait_caught_up(&mut t, &mut o);
    assert_eq!(dump(&mut t), dump(&mut p));
    assert_eq!(dump(&mut t), dump(&mut o));
    assert_eq!(
        query(&mut o, &["GET", "last-before"]),
        Value::BulkString(b"1".to_vec())
    );
    assert_eq!(info_field(&mut p, "stats", "sync_full"), "2");
    assert_eq!(
        primary.raw().cmd_str(&["SET", "k", "v"]),
        "-READONLY You can't write against a read only replica.\r\n"
    );
    wait_for("Successful partial resynchronization with master", || {
        other
            .log_text()
            .contains("Successful partial resynchronization with master")
    });
}

#[test]
fn ferrocache_fails_over_to_a_redis_replica() {
    let primary = Server::start(&["--repl-diskless-sync-delay", "0"]);
    let mut p = conn(primary.port);
    fill(&mut p);
    let replica = Server::start_redis(&["--replicaof", "127.0.0.1", &primary.port.to_string()])
        .expect("redis-server");
    let mut r = conn(replica.port);
    wait_caught_up(&mut p, &mut r);
    // To any replica: the first one caught up.
    assert_eq!(query(&mut p, &["FAILOVER"]), Value::Okay);
    wait_replica_of(&mut p, replica.port);
    assert_eq!(info_field(&mut r, "replication", "role"), "master");
    query(&mut r, &["SET", "from-redis", "1"]);
    wait_caught_up(&mut r, &mut p);
    assert_eq!(dump(&mut r), dump(&mut p));
    assert_eq!(info_field(&mut r, "stats", "sync_partial_ok"), "1");
    let log = replica.log_text();
    assert!(
        log.contains("Failover request received for replid"),
        "{log}"
    );
    wait_for("is synced, failing over.", || {
        primary.log_text().contains("is synced, failing over.")
    });
}

#[test]
fn redis_fails_over_to_a_ferrocache_replica() {
    let primary = Server::start_redis(&["--repl-diskless-sync-delay", "0"]).expect("redis-server");
    let mut p = conn(primary.port);
    fill(&mut p);
    let port = primary.port.to_string();
    let ours = Server::start(&["--replicaof", "127.0.0.1", &port]);
    let mut f = conn(ours.port);
    let other = Server::start_redis(&["--replicaof", "127.0.0.1", &port]).expect("redis-server");
    let mut o = conn(other.port);
    wait_caught_up(&mut p, &mut f);
    wait_caught_up(&mut p, &mut o);
    let old_id = info_field(&mut p, "replication", "master_replid");
    let ours_port = ours.port.to_string();
    assert_eq!(
        query(
            &mut p,
            &[
                "FAILOVER",
                "TO",
                "127.0.0.1",
                &ours_port,
                "TIMEOUT",
                "20000"
            ]
        ),
        Value::Okay
    );
    // redis-server sent PSYNC <replid> <offset> FAILOVER: ferrocache took over and continued
    // the old primary's history partially.
    wait_replica_of(&mut p, ours.port);
    assert_eq!(info_field(&mut f, "replication", "role"), "master");
    assert_eq!(info_field(&mut f, "replication", "master_replid2"), old_id);
    assert_eq!(info_field(&mut f, "stats", "sync_partial_ok"), "1");
    assert_eq!(info_field(&mut f, "stats", "sync_full"), "0");
    wait_for("MASTER MODE enabled (failover request from", || {
        ours.log_text()
            .contains("MASTER MODE enabled (failover request from")
    });
    // The other redis-server replica follows the old primary, now ferrocache's replica.
    wait_replica_of(&mut o, primary.port);
    query(&mut f, &["SET", "from-ferrocache", "1"]);
    query(&mut f, &["HSET", "h", "c", "3"]);
    wait_caught_up(&mut f, &mut p);
    wait_caught_up(&mut f, &mut o);
    assert_eq!(dump(&mut f), dump(&mut p));
    assert_eq!(dump(&mut f), dump(&mut o));
}

#[test]
fn waiting_for_a_stopped_replica_holds_writes_until_abort_timeout_or_force() {
    let primary = Server::start(&["--repl-diskless-sync-delay", "0"]);
    let mut p = conn(primary.port);
    fill(&mut p);
    let replica = Server::start(&["--replicaof", "127.0.0.1", &primary.port.to_string()]);
    let mut r = conn(replica.port);
    wait_caught_up(&mut p, &mut r);
    let replica_port = replica.port.to_string();

    // Errors with a replica connected (the differential script covers those without).
    let mut raw = primary.raw();
    let not_a_replica = "-ERR FAILOVER target HOST and PORT is not a replica.\r\n";
    assert_eq!(
        raw.cmd_str(&["FAILOVER", "TO", "127.0.0.1", "1"]),
        not_a_replica
    );
    assert_eq!(
        raw.cmd_str(&["FAILOVER", "TO", "127.0.0.2", &replica_port]),
        not_a_replica
    );
    assert_eq!(
        raw.cmd_str(&["FAILOVER", "TO", "127.0.0.1", "99999999"]),
        not_a_replica
    );
    let force =
        "-ERR FAILOVER with force option requires both a timeout and target HOST and IP.\r\n";
    assert_eq!(raw.cmd_str(&["FAILOVER", "FORCE", "TIMEOUT", "100"]), force);
    assert_eq!(
        raw.cmd_str(&["FAILOVER", "TO", "127.0.0.1", &replica_port, "FORCE"]),
        force
    );
    assert_eq!(
        replica.raw().cmd_str(&["FAILOVER"]),
        "-ERR FAILOVER is not valid when server is a replica.\r\n"
    );

    // The replica stopped: it acknowledges nothing more, and the failover waits.
    signal(&replica, "-STOP");
    query(&mut p, &["SET", "unacked", "1"]);
    assert_eq!(
        query(&mut p, &["FAILOVER", "TIMEOUT", "60000"]),
        Value::Okay
    );
    assert_eq!(
        info_field(&mut p, "replication", "master_failover_state"),
        "waiting-for-sync"
    );
    assert_eq!(
        raw.cmd_str(&["FAILOVER"]),
        "-ERR FAILOVER already in progress.\r\n"
    );
    assert_eq!(
        raw.cmd_str(&["REPLICAOF", "NO", "ONE"]),
        "-ERR REPLICAOF not allowed while failing over.\r\n"
    );
    assert_eq!(
        raw.cmd_str(&["PSYNC", "?", "-1"]),
        "-NOMASTERLINK Can't SYNC while failing over\r\n"
    );
    // Reads are served; a write waits for the failover to end.
    assert_eq!(raw.cmd_str(&["GET", "unacked"]), "$1\r\n1\r\n");
    let mut writer = primary.raw();
    writer.send(&[b"SET", b"held", b"1"]);
    let (tx, rx) = std::sync::mpsc::channel();
    let reader = std::thread::spawn(move || {
        let _ = tx.send(writer.read_reply());
    });
    assert!(
        rx.recv_timeout(Duration::from_millis(300)).is_err(),
        "the write is held"
    );
    assert_eq!(raw.cmd_str(&["FAILOVER", "ABORT"]), "+OK\r\n");
    let reply = rx.recv_timeout(Duration::from_secs(10)).expect("released");
    assert_eq!(reply.as_deref(), Some(&b"+OK\r\n"[..]));
    reader.join().unwrap();
    assert_eq!(
        info_field(&mut p, "replication", "master_failover_state"),
        "no-failover"
    );
    assert_eq!(
        raw.cmd_str(&["FAILOVER", "ABORT"]),
        "-ERR No failover in progress.\r\n"
    );
    wait_for(
        "FAILOVER to any replica aborted: Failover manually aborted",
        || {
            primary
                .log_text()
                .contains("FAILOVER to any replica aborted: Failover manually aborted")
        },
    );

    // TIMEOUT: the failover gives up by itself; this node stays the primary.
    assert_eq!(raw.cmd_str(&["FAILOVER", "TIMEOUT", "300"]), "+OK\r\n");
    wait_for("the timeout", || {
        info_field(&mut p, "replication", "master_failover_state") == "no-failover"
    });
    assert_eq!(info_field(&mut p, "replication", "role"), "master");
    wait_for("aborted: Replica never caught up before timeout", || {
        primary
            .log_text()
            .contains("aborted: Replica never caught up before timeout")
    });
    query(&mut p, &["SET", "writable", "again"]);

    // FORCE: past the timeout this node hands over anyway, and waits (failover in progress)
    // until the target answers its PSYNC ... FAILOVER.
    assert_eq!(
        raw.cmd_str(&[
            "FAILOVER",
            "TO",
            "127.0.0.1",
            &replica_port,
            "TIMEOUT",
            "300",
            "FORCE"
        ]),
        "+OK\r\n"
    );
    wait_for("the forced handover", || {
        info_field(&mut p, "replication", "master_failover_state") == "failover-in-progress"
    });
    assert_eq!(info_field(&mut p, "replication", "role"), "slave");
    signal(&replica, "-CONT");
    wait_replica_of(&mut p, replica.port);
    assert_eq!(info_field(&mut r, "replication", "role"), "master");
    assert_eq!(
        info_field(&mut p, "replication", "master_failover_state"),
        "no-failover"
    );
    query(&mut r, &["SET", "after-force", "1"]);
    wait_caught_up(&mut r, &mut p);
    assert_eq!(dump(&mut r), dump(&mut p));
}
