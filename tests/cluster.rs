//! Emulated cluster mode (`cluster-enabled yes`): one ferrocache node owning all 16384 slots,
//! compared byte for byte with a real redis-server started in cluster mode and given every slot
//! with CLUSTER ADDSLOTSRANGE 0 16383 (the reference a one-node Redis Cluster answers). Node ids
//! and ports differ between the two, so they are replaced by placeholders before comparing;
//! everything else (CROSSSLOT and SELECT errors, KEYSLOT, COUNTKEYSINSLOT, GETKEYSINSLOT, the
//! shapes of SLOTS, SHARDS and NODES) must be identical. redis-py's RedisCluster runs in
//! tests/python/test_cluster.py, the twemproxy recipe in tests/python/test_twemproxy.py.

mod common;
use common::{free_port, RawClient, Server};
use ferrocache::protocol::request::split_args;
use std::process::Command;
use std::time::{Duration, Instant};

/// Both servers announce 127.0.0.1 and the same bus port, so their topology replies differ
/// only by node id and client port.
fn cluster_args(bus: &str) -> Vec<&str> {
    vec![
        "--cluster-enabled",
        "yes",
        "--cluster-announce-ip",
        "127.0.0.1",
        "--cluster-port",
        bus,
    ]
}

/// A redis-server in cluster mode owning every slot, once it reports `cluster_state:ok`.
fn start_redis_cluster(bus: &str) -> Server {
    let mut args = cluster_args(bus);
    args.extend(["--enable-debug-command", "yes"]);
    let redis = Server::start_redis(&args)
        .expect("redis-server is not installed: the test command installs it (see README)");
    let mut c = redis.raw();
    assert_eq!(
        c.cmd_str(&["CLUSTER", "ADDSLOTSRANGE", "0", "16383"]),
        "+OK\r\n"
    );
    let deadline = Instant::now() + Duration::from_secs(20);
    while !c.cmd_str(&["CLUSTER", "INFO"]).contains("cluster_state:ok") {
        assert!(Instant::now() < deadline, "redis-server cluster never ok");
        std::thread::sleep(Duration::from_millis(50));
    }
    redis
}

fn start_ours(extra: &[&str]) -> Server {
    let mut args = vec!["--cluster-enabled", "yes"];
    args.extend_from_slice(extra);
    Server::start(&args)
}

fn myid(c: &mut RawClient) -> String {
    let reply = c.cmd_str(&["CLUSTER", "MYID"]);
    let id = reply.lines().nth(1).expect("bulk").to_string();
    assert_eq!(id.len(), 40, "{reply}");
    assert!(id.bytes().all(|b| b.is_ascii_hexdigit()), "{reply}");
    id
}

/// Replaces what legitimately differs between the two nodes (id, client port) by placeholders.
fn normalize(reply: &[u8], id: &str, port: u16) -> String {
    String::from_utf8_lossy(reply)
        .replace(id, "<node-id>")
        .replace(&format!(":{port}\r\n"), ":<port>\r\n")
        .replace(&format!(":{port}@"), ":<port>@")
}

/// Cluster-mode script: one command per line, `@resp3` switches both connections, `#` comments.
const SCRIPT: &str = r##"
# Slot function: hash tags, empty tags, nested braces, binary keys
CLUSTER KEYSLOT foo
CLUSTER KEYSLOT {user1000}.following
CLUSTER KEYSLOT {user1000}.followers
CLUSTER KEYSLOT foo{}{bar}
CLUSTER KEYSLOT foo{{bar}}zap
CLUSTER KEYSLOT foo{bar}{zap}
CLUSTER KEYSLOT x}y{z}
CLUSTER KEYSLOT ""
CLUSTER KEYSLOT "\xff\x00{\x01}\x02"
CLUSTER KEYSLOT
CLUSTER KEYSLOT a b
# Per-slot key counts and key listing (slots holding one key: Redis's order is its own)
SET a 1
SET {a}x 2
SET b 3
HSET {b}h f v
CLUSTER COUNTKEYSINSLOT 15495
CLUSTER COUNTKEYSINSLOT 3300
CLUSTER COUNTKEYSINSLOT 0
CLUSTER COUNTKEYSINSLOT 16383
CLUSTER COUNTKEYSINSLOT 16384
CLUSTER COUNTKEYSINSLOT -1
CLUSTER COUNTKEYSINSLOT x
CLUSTER COUNTKEYSINSLOT 99999999999999999999
CLUSTER GETKEYSINSLOT 15495 0
CLUSTER GETKEYSINSLOT 0 10
CLUSTER GETKEYSINSLOT 1 -1
CLUSTER GETKEYSINSLOT 16384 1
CLUSTER GETKEYSINSLOT -1 1
CLUSTER GETKEYSINSLOT x 1
CLUSTER GETKEYSINSLOT 1 x
DEL a
CLUSTER COUNTKEYSINSLOT 15495
CLUSTER GETKEYSINSLOT 15495 10
RENAME {a}x {a}y
CLUSTER COUNTKEYSINSLOT 15495
CLUSTER GETKEYSINSLOT 15495 10
DEL b
CLUSTER COUNTKEYSINSLOT 3300
CLUSTER GETKEYSINSLOT 3300 5
# Multi-key commands across slots
MSET a 1 b 2
MSET {a}1 1 {a}2 2
MSETNX a 1 b 2
MGET a b
MGET {a}1 {a}2
DEL a b
DEL a a
UNLINK a b
EXISTS a b
EXISTS a a
TOUCH a b
SUNIONSTORE a b c
SUNIONSTORE {s}d {s}a {s}b
SINTERCARD 2 a b
RENAME a b
RENAME {a}1 {a}3
LMOVE a b LEFT RIGHT
ZUNIONSTORE d 2 a b
ZUNION 2 a b
PFCOUNT a b
PFMERGE a b
BITOP AND a b c
BLPOP a b 0
XREAD STREAMS a b 0 0
COPY a {a}b DB 1
COPY {a}1 {a}b DB 0
COPY a b
OBJECT ENCODING a
WATCH a b
WATCH {a}1 {a}2
UNWATCH
# Scripts: declared keys, and keys a single call touches
EVAL "return 1" 2 a b
EVAL "return 1" 2 {a}1 {a}2
EVAL "return redis.call('get', KEYS[1])" 2 {a}1 {a}2
EVAL "return redis.call('mget','a','b')" 0
EVAL "return redis.pcall('mget','a','b')" 0
EVAL "return redis.call('get','b')" 1 a
EVAL "redis.call('set','a','1'); return redis.call('set','b','2')" 0
FCALL nofunc 2 a b
EVAL "#!lua flags=no-cluster\nreturn 1" 0
EVAL "#!lua flags=allow-cross-slot-keys\nreturn redis.call('mget','a','b')" 0
FUNCTION LOAD "#!lua name=lib\nredis.register_function{function_name='f', callback=function() return 1 end, flags={'no-cluster'}}"
FCALL f 0
FCALL_RO f 0
FUNCTION FLUSH
# Shard channels hash to slots like keys
SPUBLISH a b
SSUBSCRIBE a b
SSUBSCRIBE {a}1
SUNSUBSCRIBE a b
SUNSUBSCRIBE {a}1
SUNSUBSCRIBE
# Transactions: checked when queued, and across queued commands at EXEC
MULTI
SET a 1
SET b 2
EXEC
EXEC
MULTI
MSET a 1 b 2
SET a 1
EXEC
MULTI
SET {t}a 1
SET {t}b 2
GET {t}a
EXEC
MULTI
PING
SELECT 0
EXEC
MULTI
SELECT 1
EXEC
# One database only
SELECT 1
SELECT 0
SELECT 99
SELECT -1
SELECT x
SELECT 2147483648
SWAPDB 0 1
SWAPDB x 1
MOVE a 1
MOVE a x
# SORT's patterns could name keys of any slot
RPUSH {l}l 3 1 2
SORT {l}l
SORT {l}l BY nosort
SORT {l}l BY w_*
SORT {l}l BY {l}w_*
SORT {l}l GET #
SORT {l}l GET w_*
SORT_RO {l}l BY w_*
# Connection state commands of cluster clients
READONLY
READWRITE
ASKING
READONLY x
# Topology: shapes (ids and ports replaced)
CLUSTER INFO
CLUSTER MYID
CLUSTER MYID x
CLUSTER SLOTS
CLUSTER SHARDS
CLUSTER NODES
CLUSTER LINKS
CLUSTER REPLICAS <myid>
CLUSTER SLAVES <myid>
CLUSTER REPLICAS abc
CLUSTER COUNT-FAILURE-REPORTS abc
CLUSTER COUNT-FAILURE-REPORTS <myid>
CLUSTER HELP
CLUSTER FOO
CLUSTER
CLUSTER ADDSLOTS 5
CLUSTER ADDSLOTS x
CLUSTER ADDSLOTS 16384
CLUSTER ADDSLOTSRANGE 5 1
CLUSTER ADDSLOTSRANGE 1 5
CLUSTER ADDSLOTSRANGE 1 5 7
CLUSTER ADDSLOTSRANGE x 5
INFO cluster
@resp3
CLUSTER INFO
CLUSTER SLOTS
CLUSTER SHARDS
CLUSTER NODES
CLUSTER LINKS
CLUSTER KEYSLOT foo
CLUSTER GETKEYSINSLOT 11562 5
MSET a 1 b 2
EVAL "return redis.pcall('mget','a','b')" 0
SELECT 1
INFO cluster
"##;

/// Runs SCRIPT on fresh connections to both servers; returns the differences.
fn run_script(ours: &Server, redis: &Server) -> Vec<String> {
    let (mut o, mut r) = (ours.raw(), redis.raw());
    let (our_id, redis_id) = (myid(&mut o), myid(&mut r));
    let mut diffs = Vec::new();
    for (no, line) in SCRIPT.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let mut replies = Vec::new();
        for (c, id, port) in [
            (&mut o, &our_id, ours.port),
            (&mut r, &redis_id, redis.port),
        ] {
            let text = line.replace("<myid>", id);
            let words = if text == "@resp3" {
                c.resp3 = true;
                vec![b"HELLO".to_vec(), b"3".to_vec()]
            } else {
                split_args(text.as_bytes()).expect("balanced quotes")
            };
            let args: Vec<&[u8]> = words.iter().map(|w| w.as_slice()).collect();
            c.send(&args);
            let reply = c.read_reply().expect("reply");
            replies.push(if text == "@resp3" {
                // HELLO carries versions and client ids; its `mode` must say cluster.
                assert!(
                    String::from_utf8_lossy(&reply).contains("$4\r\nmode\r\n$7\r\ncluster\r\n"),
                    "{}",
                    String::from_utf8_lossy(&reply)
                );
                String::new()
            } else {
                normalize(&reply, id, port)
            });
        }
        if replies[0] != replies[1] {
            diffs.push(format!(
                "line {}: {line}\n    ferrocache:   {:?}\n    redis-server: {:?}",
                no + 1,
                replies[0],
                replies[1]
            ));
        }
    }
    diffs
}

#[test]
fn cluster_mode_matches_a_one_node_redis_cluster() {
    let bus = free_port().to_string();
    let redis = start_redis_cluster(&bus);
    let mut args = cluster_args(&bus);
    args.extend(["--enable-debug-command", "yes"]);
    let ours = Server::start(&args);
    let diffs = run_script(&ours, &redis);
    assert!(
        diffs.is_empty(),
        "{} replies differ from redis-server in cluster mode:\n{}",
        diffs.len(),
        diffs.join("\n")
    );
}

#[test]
fn cluster_commands_answer_disabled_without_cluster_mode() {
    let server = Server::start(&[]);
    let mut c = server.raw();
    for cmd in [
        &["CLUSTER", "SLOTS"][..],
        &["CLUSTER", "KEYSLOT", "a"],
        &["CLUSTER", "HELP"],
        &["READONLY"],
        &["READWRITE"],
        &["ASKING"],
    ] {
        assert_eq!(
            c.cmd_str(cmd),
            "-ERR This instance has cluster support disabled\r\n",
            "{cmd:?}"
        );
    }
    // Multi-key commands and other databases work as usual.
    assert_eq!(c.cmd_str(&["MSET", "a", "1", "b", "2"]), "+OK\r\n");
    assert_eq!(c.cmd_str(&["SELECT", "1"]), "+OK\r\n");
    assert_eq!(
        c.cmd_str(&["INFO", "cluster"]),
        "$30\r\n# Cluster\r\ncluster_enabled:0\r\n\r\n"
    );
}

/// The per-slot counters follow every way a key comes and goes: overwrite, expiry (lazy and
/// active), eviction-free deletes, RENAME, FLUSHALL, and data loaded at start-up.
#[test]
fn countkeysinslot_follows_the_keyspace() {
    let dir = common::temp_dir("cluster-counts");
    let mut server = Server::start_in(
        dir.clone(),
        &["--cluster-enabled", "yes", "--appendonly", "yes"],
    );
    let mut c = server.raw();
    let count = |c: &mut RawClient, slot: &str| c.cmd_str(&["CLUSTER", "COUNTKEYSINSLOT", slot]);
    // 15495 is the slot of `a` and of every `{a}...` key.
    for i in 0..50 {
        let key = format!("{{a}}{i}");
        assert_eq!(c.cmd_str(&["SET", &key, "v"]), "+OK\r\n");
        assert_eq!(c.cmd_str(&["SET", &key, "w"]), "+OK\r\n");
    }
    assert_eq!(count(&mut c, "15495"), ":50\r\n");
    assert_eq!(c.cmd_str(&["SET", "{a}x", "v", "PX", "1"]), "+OK\r\n");
    std::thread::sleep(Duration::from_millis(20));
    assert_eq!(c.cmd_str(&["GET", "{a}x"]), "$-1\r\n");
    assert_eq!(count(&mut c, "15495"), ":50\r\n");
    assert_eq!(c.cmd_str(&["RENAME", "{a}0", "{a}renamed"]), "+OK\r\n");
    assert_eq!(c.cmd_str(&["DEL", "{a}1", "{a}2"]), ":2\r\n");
    assert_eq!(count(&mut c, "15495"), ":48\r\n");
    let keys = c.cmd_str(&["CLUSTER", "GETKEYSINSLOT", "15495", "1000"]);
    assert!(keys.starts_with("*48\r\n"), "{keys}");
    assert!(keys.contains("{a}renamed"), "{keys}");
    let three = c.cmd_str(&["CLUSTER", "GETKEYSINSLOT", "15495", "3"]);
    assert!(three.starts_with("*3\r\n"), "{three}");
    // A script writing to two slots one call at a time is allowed (Redis 7.0), and logged to
    // the AOF as one MULTI/EXEC that the restart below must replay despite the slots.
    assert_eq!(
        c.cmd_str(&[
            "EVAL",
            "redis.call('set','a','1'); return redis.call('set','b','2')",
            "0"
        ]),
        "+OK\r\n"
    );
    assert_eq!(count(&mut c, "15495"), ":49\r\n");
    assert_eq!(count(&mut c, "3300"), ":1\r\n");
    server.kill9();
    let server = Server::start_in(dir, &["--cluster-enabled", "yes", "--appendonly", "yes"]);
    let mut c = server.raw();
    assert_eq!(c.cmd_str(&["GET", "b"]), "$1\r\n2\r\n");
    assert_eq!(count(&mut c, "15495"), ":49\r\n");
    assert_eq!(count(&mut c, "3300"), ":1\r\n");
    assert_eq!(c.cmd_str(&["FLUSHALL"]), "+OK\r\n");
    assert_eq!(count(&mut c, "15495"), ":0\r\n");
    assert_eq!(
        c.cmd_str(&["CLUSTER", "GETKEYSINSLOT", "15495", "10"]),
        "*0\r\n"
    );
}

/// The node id is kept in cluster-config-file (Redis's nodes.conf format) across restarts.
#[test]
fn node_id_survives_restarts() {
    let dir = common::temp_dir("cluster-id");
    let mut first = Server::start_in(dir.clone(), &["--cluster-enabled", "yes"]);
    let id = myid(&mut first.raw());
    let conf = std::fs::read_to_string(dir.join("nodes.conf")).expect("nodes.conf written");
    let line = conf.lines().next().unwrap();
    assert!(line.starts_with(&format!("{id} ")), "{conf}");
    assert!(
        line.ends_with(" myself,master - 0 0 0 connected 0-16383"),
        "{conf}"
    );
    first.kill9();
    let second = Server::start_in(dir.clone(), &["--cluster-enabled", "yes"]);
    assert_eq!(myid(&mut second.raw()), id);
    drop(second);
    // A file without this node's line stops start-up, as a corrupted nodes.conf does in Redis.
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("broken.conf"), "garbage\n").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_ferrocache"))
        .args([
            "--port",
            &free_port().to_string(),
            "--bind",
            "127.0.0.1",
            "--cluster-enabled",
            "yes",
            "--cluster-config-file",
            "broken.conf",
            "--dir",
        ])
        .arg(&dir)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let text =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    assert!(text.contains("corrupted cluster config file"), "{text}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// cluster-announce-* options are what CLUSTER SLOTS, SHARDS and NODES tell clients.
#[test]
fn announced_address_is_used_in_topology_replies() {
    let server = start_ours(&[
        "--cluster-announce-ip",
        "10.1.2.3",
        "--cluster-announce-port",
        "7000",
        "--cluster-announce-bus-port",
        "17001",
    ]);
    let mut c = server.raw();
    let id = myid(&mut c);
    assert_eq!(
        c.cmd_str(&["CLUSTER", "SLOTS"]),
        format!(
            "*1\r\n*3\r\n:0\r\n:16383\r\n*4\r\n$8\r\n10.1.2.3\r\n:7000\r\n$40\r\n{id}\r\n*0\r\n"
        )
    );
    let nodes = c.cmd_str(&["CLUSTER", "NODES"]);
    assert!(
        nodes.contains(&format!(
            "{id} 10.1.2.3:7000@17001 myself,master - 0 0 0 connected 0-16383\n"
        )),
        "{nodes}"
    );
    // Without an announced address, the address the client reached the node by.
    assert_eq!(
        c.cmd_str(&["CONFIG", "SET", "cluster-announce-ip", ""]),
        "+OK\r\n"
    );
    assert_eq!(
        c.cmd_str(&["CONFIG", "SET", "cluster-announce-hostname", "cache-1"]),
        "+OK\r\n"
    );
    assert_eq!(
        c.cmd_str(&["CLUSTER", "SLOTS"]),
        format!("*1\r\n*3\r\n:0\r\n:16383\r\n*4\r\n$9\r\n127.0.0.1\r\n:7000\r\n$40\r\n{id}\r\n*2\r\n$8\r\nhostname\r\n$7\r\ncache-1\r\n")
    );
    assert_eq!(
        c.cmd_str(&[
            "CONFIG",
            "SET",
            "cluster-preferred-endpoint-type",
            "hostname"
        ]),
        "+OK\r\n"
    );
    assert!(c
        .cmd_str(&["CLUSTER", "SLOTS"])
        .contains("*4\r\n$7\r\ncache-1\r\n:7000\r\n"));
    assert!(c
        .cmd_str(&["CLUSTER", "NODES"])
        .contains(" 127.0.0.1:7000@17001,cache-1 myself,master "));
    // MYSHARDID (Redis 7.2): one shard, named the same way across calls.
    let shard = c.cmd_str(&["CLUSTER", "MYSHARDID"]);
    assert!(shard.starts_with("$40\r\n"), "{shard}");
    assert_eq!(c.cmd_str(&["CLUSTER", "MYSHARDID"]), shard);
}

/// READONLY shows as flag `r` in CLIENT LIST until READWRITE or RESET, as in Redis.
#[test]
fn readonly_flag_in_client_list() {
    let server = start_ours(&[]);
    let mut c = server.raw();
    let flags = |c: &mut RawClient| {
        let info = c.cmd_str(&["CLIENT", "INFO"]);
        info.split(' ')
            .find_map(|f| f.strip_prefix("flags="))
            .unwrap()
            .to_string()
    };
    assert_eq!(c.cmd_str(&["READONLY"]), "+OK\r\n");
    assert_eq!(flags(&mut c), "r");
    assert_eq!(c.cmd_str(&["READWRITE"]), "+OK\r\n");
    assert_eq!(flags(&mut c), "N");
    assert_eq!(c.cmd_str(&["READONLY"]), "+OK\r\n");
    assert_eq!(c.cmd_str(&["RESET"]), "+RESET\r\n");
    assert_eq!(flags(&mut c), "N");
    assert_eq!(c.cmd_str(&["ASKING"]), "+OK\r\n");
    assert_eq!(flags(&mut c), "N");
}

/// redis-cli in cluster mode (-c): it reads the slot map and sends each key to its node,
/// which here is always this one (no redirection to follow).
#[test]
fn redis_cli_cluster_mode_sets_and_gets() {
    let server = start_ours(&[]);
    let port = server.port.to_string();
    let cli = |args: &[&str]| {
        let out = Command::new("redis-cli")
            .args(["-c", "-h", "127.0.0.1", "-p", &port])
            .args(args)
            .output()
            .expect("redis-cli is installed with redis-server (tests/run.sh)");
        assert!(out.status.success(), "{args:?}");
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    for i in 0..20 {
        let key = format!("key:{i}");
        assert_eq!(cli(&["SET", &key, &i.to_string()]), "OK\n");
        assert_eq!(cli(&["GET", &key]), format!("{i}\n"));
    }
    assert_eq!(
        cli(&["MSET", "a", "1", "b", "2"]),
        "CROSSSLOT Keys in request don't hash to the same slot\n\n"
    );
    assert_eq!(cli(&["MSET", "{u}a", "1", "{u}b", "2"]), "OK\n");
    assert_eq!(cli(&["CLUSTER", "COUNTKEYSINSLOT", "11826"]), "2\n");
    assert_eq!(cli(&["DBSIZE"]), "22\n");
    // --cluster check reads the topology the way cluster tooling does.
    let out = Command::new("redis-cli")
        .args(["--cluster", "check", &format!("127.0.0.1:{port}")])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("[OK] All 16384 slots covered."), "{text}");
}
