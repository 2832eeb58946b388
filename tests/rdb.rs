//! RDB snapshots against Debian's redis-server: files written by each server load in the other
//! with the same keys, values and TTLs; DUMP payloads move both ways; corrupt files refuse to
//! load; SAVE, BGSAVE, LASTSAVE, SHUTDOWN SAVE/NOSAVE, SIGTERM, MISCONF and kill -9 during a
//! background save.

mod common;

use common::Server;
use redis::Connection;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn connect(server: &Server) -> Connection {
    redis::Client::open(server.url())
        .unwrap()
        .get_connection()
        .unwrap()
}

fn run<T: redis::FromRedisValue>(con: &mut Connection, args: &[&[u8]]) -> T {
    let mut cmd = redis::cmd(std::str::from_utf8(args[0]).unwrap());
    for a in &args[1..] {
        cmd.arg(*a);
    }
    cmd.query(con).unwrap()
}

fn temp_dir(tag: &str) -> PathBuf {
    static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("ferrocache-rdb-{}-{tag}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Sixteen databases of strings in every encoding the format has: small and large integers,
/// integer-looking text, empty, binary keys and values, long compressible and incompressible
/// values, and keys with a TTL.
fn fill_strings(con: &mut Connection) {
    for db in 0..16 {
        let _: () = run(con, &[b"SELECT", db.to_string().as_bytes()]);
        let _: () = run(
            con,
            &[
                b"SET",
                format!("k{db}").as_bytes(),
                format!("v{db}").as_bytes(),
            ],
        );
    }
    let _: () = run(con, &[b"SELECT", b"0"]);
    for (k, v) in [
        ("int8", "12"),
        ("int16", "-300"),
        ("int32", "70000"),
        ("int64", "4294967296"),
        ("min", "-9223372036854775808"),
        ("leading-zero", "012"),
        ("plus", "+5"),
        ("empty", ""),
    ] {
        let _: () = run(con, &[b"SET", k.as_bytes(), v.as_bytes()]);
    }
    let _: () = run(con, &[b"SET", b"\x00\xff\r\nbin", b"\x00\x01\x02\xff"]);
    let _: () = run(
        con,
        &[b"SET", b"compressible", "abc".repeat(50_000).as_bytes()],
    );
    let mut x = 0x2545_f491_4f6c_dd1du64;
    let noise: Vec<u8> = (0..200_000)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect();
    let _: () = run(con, &[b"SET", b"noise", &noise]);
    let _: () = run(con, &[b"SET", b"ttl-ms", b"v", b"PX", b"5000000"]);
    let _: () = run(con, &[b"SET", b"ttl-s", b"v", b"EX", b"100000"]);
    let _: () = run(con, &[b"SELECT", b"15"]);
    let _: () = run(con, &[b"SET", b"ttl15", b"x", b"PX", b"7000000"]);
    let _: () = run(con, &[b"SELECT", b"0"]);
}

/// Aggregates that force every encoding Redis 7.0 writes: listpack and quicklist lists (with
/// a plain node for an 10 kB element), intset and hashtable sets, listpack and hashtable
/// hashes, listpack and skiplist sorted sets (with infinite scores). Returns the encoding
/// each key must have in redis-server, checked by `assert_encodings`.
fn fill_aggregates(con: &mut Connection) -> Vec<(&'static str, &'static str)> {
    let big = "e".repeat(10_000);
    let _: () = run(
        con,
        &[
            b"RPUSH",
            b"list:small",
            b"a",
            b"b",
            b"1",
            b"-5",
            b"300",
            b"70000",
            b"5000000000",
            b"",
            b"\x00\xff",
        ],
    );
    let items: Vec<String> = (0..1000).map(|i| format!("item-{i}")).collect();
    let mut cmd = vec![&b"RPUSH"[..], b"list:big"];
    cmd.extend(items.iter().map(|s| s.as_bytes()));
    let _: () = run(con, &cmd);
    let _: () = run(con, &[b"RPUSH", b"list:plain", b"x", big.as_bytes(), b"y"]);
    let _: () = run(
        con,
        &[b"SADD", b"set:int", b"1", b"2", b"-70000", b"5000000000"],
    );
    let _: () = run(con, &[b"SADD", b"set:small", b"a", b"b", b"\x00"]);
    let members: Vec<String> = (0..600).map(|i| format!("m{i}")).collect();
    let mut cmd = vec![&b"SADD"[..], b"set:big"];
    cmd.extend(members.iter().map(|s| s.as_bytes()));
    let _: () = run(con, &cmd);
    let _: () = run(
        con,
        &[
            b"HSET",
            b"hash:small",
            b"f1",
            b"v1",
            b"f2",
            b"2",
            b"f3",
            b"-70000",
        ],
    );
    let fields: Vec<String> = (0..600).map(|i| format!("f{i}")).collect();
    let mut cmd = vec![&b"HSET"[..], b"hash:big"];
    for f in &fields {
        cmd.push(f.as_bytes());
        cmd.push(f.as_bytes());
    }
    let _: () = run(con, &cmd);
    let _: () = run(
        con,
        &[
            b"ZADD",
            b"zset:small",
            b"1",
            b"a",
            b"2.5",
            b"b",
            b"-3",
            b"c",
            b"+inf",
            b"top",
            b"-inf",
            b"bottom",
        ],
    );
    let scores: Vec<String> = (0..600).map(|i| format!("{}", i as f64 / 3.0)).collect();
    let mut cmd = vec![&b"ZADD"[..], b"zset:big"];
    for (i, sc) in scores.iter().enumerate() {
        cmd.push(sc.as_bytes());
        cmd.push(fields[i].as_bytes());
    }
    let _: () = run(con, &cmd);
    let _: () = run(con, &[b"PEXPIRE", b"zset:big", b"9000000"]);
    vec![
        // Redis 7.0 keeps every list in a quicklist (one listpack node when small).
        ("list:small", "quicklist"),
        ("list:big", "quicklist"),
        ("list:plain", "quicklist"),
        ("set:int", "intset"),
        ("set:small", "hashtable"),
        ("set:big", "hashtable"),
        ("hash:small", "listpack"),
        ("hash:big", "hashtable"),
        ("zset:small", "listpack"),
        ("zset:big", "skiplist"),
    ]
}

fn assert_encodings(con: &mut Connection, expected: &[(&str, &str)]) {
    for (key, encoding) in expected {
        let got: String = run(con, &[b"OBJECT", b"ENCODING", key.as_bytes()]);
        assert_eq!(&got, encoding, "{key}");
    }
}

/// What a key holds, in a form both servers can be compared on.
#[derive(Debug, PartialEq)]
struct KeyState {
    kind: String,
    value: Vec<Vec<u8>>,
    pttl: i64,
}

/// Every key of every database with its type, value and PTTL.
fn contents(con: &mut Connection) -> BTreeMap<(u8, Vec<u8>), KeyState> {
    let mut out = BTreeMap::new();
    for db in 0..16u8 {
        let _: () = run(con, &[b"SELECT", db.to_string().as_bytes()]);
        let keys: Vec<Vec<u8>> = run(con, &[b"KEYS", b"*"]);
        for key in keys {
            let kind: String = run(con, &[b"TYPE", &key]);
            let value: Vec<Vec<u8>> = match kind.as_str() {
                "string" => vec![run(con, &[b"GET", &key])],
                "list" => run(con, &[b"LRANGE", &key, b"0", b"-1"]),
                "hash" => sorted(run(con, &[b"HGETALL", &key])),
                "set" => sorted(run(con, &[b"SMEMBERS", &key])),
                "zset" => run(con, &[b"ZRANGE", &key, b"0", b"-1", b"WITHSCORES"]),
                other => panic!("unexpected type {other}"),
            };
            let pttl: i64 = run(con, &[b"PTTL", &key]);
            out.insert((db, key), KeyState { kind, value, pttl });
        }
    }
    let _: () = run(con, &[b"SELECT", b"0"]);
    out
}

fn sorted(mut items: Vec<Vec<u8>>) -> Vec<Vec<u8>> {
    items.sort();
    items
}

/// Same keys, types and values; a TTL on the same keys, and the later reading not above the
/// earlier one (time passes between them, and a restart must never lengthen a TTL).
fn assert_same(
    before: &BTreeMap<(u8, Vec<u8>), KeyState>,
    after: &BTreeMap<(u8, Vec<u8>), KeyState>,
) {
    assert_eq!(
        before.keys().collect::<Vec<_>>(),
        after.keys().collect::<Vec<_>>(),
        "key sets differ"
    );
    for (key, b) in before {
        let a = &after[key];
        assert_eq!(a.kind, b.kind, "{key:?}");
        assert_eq!(a.value, b.value, "{key:?}");
        if b.pttl < 0 {
            assert_eq!(a.pttl, b.pttl, "{key:?}");
        } else {
            assert!(
                a.pttl > 0 && a.pttl <= b.pttl,
                "{key:?}: {} then {}",
                b.pttl,
                a.pttl
            );
        }
    }
}

fn redis_or_skip() -> Option<Server> {
    let server = Server::start_redis(&[]);
    if server.is_none() {
        eprintln!("redis-server is not installed; skipping");
    }
    server
}

/// Starts ferrocache on a copy of `rdb` as its dump.rdb.
fn ferrocache_on(rdb: &Path, args: &[&str]) -> Server {
    let dir = temp_dir("load");
    std::fs::copy(rdb, dir.join("dump.rdb")).unwrap();
    Server::start_in(dir, args)
}

/// Starts redis-server on a copy of `rdb` as its dump.rdb.
fn redis_on(rdb: &Path) -> Server {
    let dir = temp_dir("redis-load");
    std::fs::copy(rdb, dir.join("dump.rdb")).unwrap();
    let dir_arg = dir.to_str().unwrap().to_string();
    let server = Server::start_redis(&["--dir", &dir_arg]).expect("redis-server starts");
    // Its own temp dir is removed on drop; ours goes now that the server has read the file.
    std::thread::sleep(Duration::from_millis(50));
    server
}

#[test]
fn ferrocache_file_loads_in_redis_with_the_same_strings_and_ttls() {
    let Some(_probe) = redis_or_skip() else {
        return;
    };
    let ours = Server::start(&[]);
    let mut con = connect(&ours);
    fill_strings(&mut con);
    let before = contents(&mut con);
    let _: () = run(&mut con, &[b"SAVE"]);
    let redis = redis_on(&ours.dir.join("dump.rdb"));
    let after = contents(&mut connect(&redis));
    assert_same(&before, &after);
}

#[test]
fn redis_file_loads_in_ferrocache_with_the_same_strings_and_ttls() {
    let Some(redis) = redis_or_skip() else { return };
    let mut con = connect(&redis);
    fill_strings(&mut con);
    let before = contents(&mut con);
    let _: () = run(&mut con, &[b"SAVE"]);
    let ours = ferrocache_on(&redis.dir.join("dump.rdb"), &[]);
    let mut con = connect(&ours);
    assert_same(&before, &contents(&mut con));
    let info: String = run(&mut con, &[b"INFO", b"persistence"]);
    assert!(info.contains("rdb_last_load_keys_loaded:30\r\n"), "{info}");
}

#[test]
fn ferrocache_reloads_its_own_file_and_uncompressed_files() {
    for compression in ["yes", "no"] {
        let ours = Server::start(&["--rdbcompression", compression]);
        let mut con = connect(&ours);
        fill_strings(&mut con);
        let before = contents(&mut con);
        let _: () = run(&mut con, &[b"SAVE"]);
        let size = std::fs::metadata(ours.dir.join("dump.rdb")).unwrap().len();
        // The 150 kB compressible value shrinks only with compression on.
        assert_eq!(size < 300_000, compression == "yes", "{size} bytes");
        let again = ferrocache_on(&ours.dir.join("dump.rdb"), &[]);
        assert_same(&before, &contents(&mut connect(&again)));
    }
}

#[test]
fn dump_payloads_move_both_ways() {
    let Some(redis) = redis_or_skip() else { return };
    let ours = Server::start(&[]);
    let (mut r, mut f) = (connect(&redis), connect(&ours));
    for (k, v) in [
        ("a", "1"),
        ("b", "-70000"),
        ("c", "hello"),
        ("d", &"xyz".repeat(1000)),
    ] {
        let _: () = run(&mut r, &[b"SET", k.as_bytes(), v.as_bytes()]);
        let payload: Vec<u8> = run(&mut r, &[b"DUMP", k.as_bytes()]);
        let _: () = run(&mut f, &[b"RESTORE", k.as_bytes(), b"0", &payload]);
        let got: Vec<u8> = run(&mut f, &[b"GET", k.as_bytes()]);
        assert_eq!(got, v.as_bytes());
        let ours_payload: Vec<u8> = run(&mut f, &[b"DUMP", k.as_bytes()]);
        let _: () = run(
            &mut r,
            &[b"RESTORE", format!("{k}2").as_bytes(), b"0", &ours_payload],
        );
        let back: Vec<u8> = run(&mut r, &[b"GET", format!("{k}2").as_bytes()]);
        assert_eq!(back, v.as_bytes());
    }
}

/// Runs the binary expecting it to refuse to start; returns its stderr and stdout.
fn refused_start(dir: &Path) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_ferrocache"))
        .args(["--port", "0", "--bind", "127.0.0.1", "--dir"])
        .arg(dir)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(!out.status.success(), "ferrocache started on a bad file");
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(&out.stdout)
    )
}

#[test]
fn corrupt_and_truncated_files_refuse_to_start_with_the_offset() {
    let ours = Server::start(&[]);
    let mut con = connect(&ours);
    fill_strings(&mut con);
    let _: () = run(&mut con, &[b"SAVE"]);
    let good = std::fs::read(ours.dir.join("dump.rdb")).unwrap();

    let dir = temp_dir("corrupt");
    let mut flipped = good.clone();
    flipped[good.len() / 2] ^= 0x55;
    std::fs::write(dir.join("dump.rdb"), &flipped).unwrap();
    let text = refused_start(&dir);
    assert!(
        text.contains("wrong RDB checksum") && text.contains("offset"),
        "{text}"
    );

    std::fs::write(dir.join("dump.rdb"), &good[..good.len() - 20]).unwrap();
    let text = refused_start(&dir);
    assert!(
        text.contains("Bad RDB file") && text.contains("offset"),
        "{text}"
    );

    // check-rdb names the problem too, and accepts the sound file.
    let out = Command::new(env!("CARGO_BIN_EXE_ferrocache"))
        .arg("check-rdb")
        .arg(dir.join("dump.rdb"))
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("RDB ERROR DETECTED"));
    let out = Command::new(env!("CARGO_BIN_EXE_ferrocache"))
        .arg("check-rdb")
        .arg(ours.dir.join("dump.rdb"))
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("[info] 30 keys read"), "{text}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// Streams with trimmed and deleted entries, several nodes, groups with pending entries and
/// consumers, and an emptied stream that keeps its group.
fn fill_streams(con: &mut Connection) {
    let script = b"for i=1,250 do redis.call('XADD','big',i..'-'..(i%3),'f',i,'other',string.rep('x',i%7)) end \
        for i=1,250,7 do redis.call('XDEL','big',i..'-'..(i%3)) end \
        redis.call('XADD','big','MAXLEN','240','251-0','a','b') \
        for i=1,5 do redis.call('XADD','small',i..'-1','f'..i,'v') end \
        redis.call('XGROUP','CREATE','big','g1','0') \
        redis.call('XGROUP','CREATE','big','g2','$') \
        redis.call('XREADGROUP','GROUP','g1','alice','COUNT','30','STREAMS','big','>') \
        redis.call('XREADGROUP','GROUP','g1','bob','COUNT','5','STREAMS','big','>') \
        redis.call('XACK','big','g1','20-2','21-0') \
        redis.call('XGROUP','CREATECONSUMER','big','g2','idle') \
        redis.call('XREADGROUP','GROUP','g1','carol','NOACK','COUNT','3','STREAMS','big','>') \
        redis.call('XADD','empty','1-1','f','v') redis.call('XDEL','empty','1-1') \
        redis.call('XGROUP','CREATE','empty','g','0') \
        return 1";
    let _: i64 = run(con, &[b"EVAL", script, b"0"]);
}

/// What must survive a save and load: entries, stream counters, groups, pending entries
/// (delivery times zeroed: XPENDING reports them as idle times).
fn stream_state(con: &mut Connection) -> Vec<redis::Value> {
    let mut out = Vec::new();
    for key in [&b"big"[..], b"small", b"empty"] {
        out.push(run(con, &[b"XRANGE", key, b"-", b"+"]));
        out.push(run(con, &[b"XINFO", b"STREAM", key]));
        out.push(run(con, &[b"XINFO", b"GROUPS", key]));
    }
    let zeroed = b"local r = redis.call('XPENDING', unpack(ARGV)) for _, e in ipairs(r) do e[3] = 0 end return r";
    for group in [&b"g1"[..], b"g2"] {
        out.push(run(con, &[b"XPENDING", b"big", group]));
        out.push(run(
            con,
            &[b"EVAL", zeroed, b"0", b"big", group, b"-", b"+", b"1000"],
        ));
        out.push(run(
            con,
            &[
                b"EVAL", zeroed, b"0", b"big", group, b"-", b"+", b"1000", b"bob",
            ],
        ));
    }
    out
}

#[test]
fn streams_move_both_ways_through_rdb_files_and_dump_payloads() {
    let Some(redis) = redis_or_skip() else { return };
    let mut rcon = connect(&redis);
    fill_streams(&mut rcon);
    let expected = stream_state(&mut rcon);
    let _: () = run(&mut rcon, &[b"SAVE"]);

    // redis-server's file loads into ferrocache.
    let ours = ferrocache_on(&redis.dir.join("dump.rdb"), &[]);
    let mut ocon = connect(&ours);
    assert_eq!(stream_state(&mut ocon), expected);

    // ferrocache's file loads into redis-server.
    let _: () = run(&mut ocon, &[b"SAVE"]);
    let back = redis_on(&ours.dir.join("dump.rdb"));
    let mut bcon = connect(&back);
    assert_eq!(stream_state(&mut bcon), expected);

    // DUMP payloads, both ways.
    for key in [&b"big"[..], b"small", b"empty"] {
        let payload: Vec<u8> = run(&mut rcon, &[b"DUMP", key]);
        let _: () = run(&mut ocon, &[b"DEL", key]);
        let _: () = run(&mut ocon, &[b"RESTORE", key, b"0", &payload]);
        let payload: Vec<u8> = run(&mut ocon, &[b"DUMP", key]);
        let _: () = run(&mut bcon, &[b"DEL", key]);
        let _: () = run(&mut bcon, &[b"RESTORE", key, b"0", &payload]);
    }
    assert_eq!(stream_state(&mut ocon), expected);
    assert_eq!(stream_state(&mut bcon), expected);

    // A corrupt node is refused, never a panic.
    let mut payload: Vec<u8> = run(&mut ocon, &[b"DUMP", b"small"]);
    let at = payload.len() / 2;
    payload[at] ^= 0xff;
    let refused: redis::RedisResult<()> = redis::cmd("RESTORE")
        .arg("bad")
        .arg(0)
        .arg(payload)
        .query(&mut ocon);
    assert!(refused.is_err());
    let _: String = run(&mut ocon, &[b"PING"]);
}

fn info_field(con: &mut Connection, name: &str) -> String {
    let info: String = run(con, &[b"INFO", b"persistence"]);
    info.lines()
        .find_map(|l| l.strip_prefix(&format!("{name}:")))
        .unwrap_or_else(|| panic!("{name} missing from {info}"))
        .to_string()
}

fn wait_bgsave_done(con: &mut Connection) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while info_field(con, "rdb_bgsave_in_progress") != "0" {
        assert!(Instant::now() < deadline, "BGSAVE did not finish");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn bgsave_is_the_instant_of_the_command_and_updates_lastsave_and_info() {
    let ours = Server::start(&[]);
    let mut con = connect(&ours);
    let _: () = run(&mut con, &[b"SET", b"k", b"before"]);
    assert_eq!(info_field(&mut con, "rdb_changes_since_last_save"), "1");
    let reply: String = run(&mut con, &[b"BGSAVE"]);
    assert_eq!(reply, "Background saving started");
    // Written after the reply: must not be in the file.
    let _: () = run(&mut con, &[b"SET", b"k", b"after"]);
    let _: () = run(&mut con, &[b"SET", b"new", b"x"]);
    wait_bgsave_done(&mut con);
    assert_eq!(info_field(&mut con, "rdb_last_bgsave_status"), "ok");
    assert_eq!(info_field(&mut con, "rdb_saves"), "1");
    assert_eq!(info_field(&mut con, "rdb_changes_since_last_save"), "2");
    let lastsave: i64 = run(&mut con, &[b"LASTSAVE"]);
    assert_eq!(
        lastsave.to_string(),
        info_field(&mut con, "rdb_last_save_time")
    );
    let again = ferrocache_on(&ours.dir.join("dump.rdb"), &[]);
    let mut con2 = connect(&again);
    let v: Vec<u8> = run(&mut con2, &[b"GET", b"k"]);
    assert_eq!(v, b"before");
    let exists: i64 = run(&mut con2, &[b"EXISTS", b"new"]);
    assert_eq!(exists, 0);
    // Syntax of BGSAVE.
    let err = redis::cmd("BGSAVE")
        .arg("NOW")
        .query::<String>(&mut con)
        .unwrap_err();
    assert!(err.to_string().contains("syntax error"), "{err}");
}

fn sigterm(server: &mut Server) {
    let status = Command::new("kill")
        .args(["-TERM", &server.pid().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let deadline = Instant::now() + Duration::from_secs(30);
    while server.child.try_wait().unwrap().is_none() {
        assert!(Instant::now() < deadline, "no exit after SIGTERM");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn sigterm_saves_when_save_points_are_configured_and_not_otherwise() {
    let mut with_points = Server::start(&["--save", "3600 1"]);
    let _: () = run(&mut connect(&with_points), &[b"SET", b"k", b"v"]);
    sigterm(&mut with_points);
    assert!(with_points.dir.join("dump.rdb").exists());

    let mut without = Server::start(&["--save", ""]);
    let _: () = run(&mut connect(&without), &[b"SET", b"k", b"v"]);
    sigterm(&mut without);
    assert!(!without.dir.join("dump.rdb").exists());
}

#[test]
fn shutdown_save_and_nosave() {
    let dir = temp_dir("shutdown");
    let dir_arg = dir.to_str().unwrap().to_string();
    {
        let mut server = Server::start(&["--save", "", "--dir", &dir_arg]);
        let mut raw = server.raw();
        assert_eq!(raw.cmd(&["SET", "k", "v1"]), b"+OK\r\n");
        raw.send(&[b"SHUTDOWN", b"SAVE"]);
        assert!(raw.read_to_close().is_empty());
        server.child.wait().unwrap();
    }
    assert!(dir.join("dump.rdb").exists());
    {
        let server = Server::start(&["--save", "60 1", "--dir", &dir_arg]);
        let mut con = connect(&server);
        let v: Vec<u8> = run(&mut con, &[b"GET", b"k"]);
        assert_eq!(v, b"v1");
        let _: () = run(&mut con, &[b"SET", b"k", b"v2"]);
        let mut raw = server.raw();
        raw.send(&[b"SHUTDOWN", b"NOSAVE"]);
        assert!(raw.read_to_close().is_empty());
        let mut server = server;
        server.child.wait().unwrap();
    }
    let server = Server::start(&["--dir", &dir_arg]);
    let v: Vec<u8> = run(&mut connect(&server), &[b"GET", b"k"]);
    assert_eq!(v, b"v1", "NOSAVE must not have saved");
}

#[test]
fn failed_bgsave_turns_writes_into_misconf_until_a_save_succeeds() {
    let work = temp_dir("misconf");
    let gone = work.join("gone");
    std::fs::create_dir_all(&gone).unwrap();
    let gone_arg = gone.to_str().unwrap().to_string();
    let server = Server::start_in(work.clone(), &["--dir", &gone_arg, "--save", "3600 1"]);
    let mut con = connect(&server);
    let _: () = run(&mut con, &[b"SET", b"k", b"v"]);
    std::fs::remove_dir_all(&gone).unwrap();
    let _: String = run(&mut con, &[b"BGSAVE"]);
    wait_bgsave_done(&mut con);
    assert_eq!(info_field(&mut con, "rdb_last_bgsave_status"), "err");
    let err = redis::cmd("SET")
        .arg("k")
        .arg("w")
        .query::<()>(&mut con)
        .unwrap_err();
    assert!(err.to_string().contains("MISCONF"), "{err}");
    let mut raw = server.raw();
    let reply = raw.cmd(&["SET", "k", "w"]);
    assert!(reply.starts_with(b"-MISCONF Redis is configured to save RDB snapshots, but it's currently unable to persist to disk."));
    let reply = raw.cmd(&["PING"]);
    assert!(reply.starts_with(b"-MISCONF"));
    // Inside MULTI the write is refused when queued and EXEC aborts.
    assert_eq!(raw.cmd(&["MULTI"]), b"+OK\r\n");
    assert!(raw.cmd(&["SET", "k", "w"]).starts_with(b"-MISCONF"));
    assert!(raw.cmd(&["EXEC"]).starts_with(b"-EXECABORT"));
    // Reads are served; with the option off writes come back.
    let v: Vec<u8> = run(&mut con, &[b"GET", b"k"]);
    assert_eq!(v, b"v");
    let _: () = run(
        &mut con,
        &[b"CONFIG", b"SET", b"stop-writes-on-bgsave-error", b"no"],
    );
    let _: () = run(&mut con, &[b"SET", b"k", b"w"]);
    let _: () = run(
        &mut con,
        &[b"CONFIG", b"SET", b"stop-writes-on-bgsave-error", b"yes"],
    );
    // Once the directory is back a save succeeds and clears the error.
    std::fs::create_dir_all(&gone).unwrap();
    let _: () = run(&mut con, &[b"SAVE"]);
    assert_eq!(info_field(&mut con, "rdb_last_bgsave_status"), "ok");
    let _: () = run(&mut con, &[b"SET", b"k", b"x"]);
}

#[test]
fn kill_9_during_bgsave_leaves_the_previous_file_whole() {
    let ours = Server::start(&[]);
    let mut con = connect(&ours);
    let _: () = run(&mut con, &[b"SET", b"generation", b"1"]);
    let _: () = run(&mut con, &[b"SAVE"]);
    let first = std::fs::read(ours.dir.join("dump.rdb")).unwrap();
    // Enough data that the background save is still writing when the kill lands.
    let value = vec![b'v'; 100];
    let mut pipe = redis::pipe();
    for i in 0..100_000 {
        pipe.cmd("SET").arg(format!("key:{i}")).arg(&value).ignore();
    }
    let _: () = pipe.query(&mut con).unwrap();
    let _: () = run(&mut con, &[b"SET", b"generation", b"2"]);
    let _: String = run(&mut con, &[b"BGSAVE"]);
    let mut ours = ours;
    ours.kill9();
    let after = std::fs::read(ours.dir.join("dump.rdb")).unwrap();
    // Either the old file, untouched, or (if the save won the race) a complete new one.
    let again = ferrocache_on(&ours.dir.join("dump.rdb"), &[]);
    let g: Vec<u8> = run(&mut connect(&again), &[b"GET", b"generation"]);
    if after == first {
        assert_eq!(g, b"1");
    } else {
        assert_eq!(g, b"2");
    }
}

/// Copies every key of `from` into `to` by DUMP + RESTORE (with its TTL).
fn copy_by_dump(from: &mut Connection, to: &mut Connection) {
    let keys: Vec<Vec<u8>> = run(from, &[b"KEYS", b"*"]);
    for key in keys {
        let payload: Vec<u8> = run(from, &[b"DUMP", &key]);
        let pttl: i64 = run(from, &[b"PTTL", &key]);
        let ttl = pttl.max(0).to_string();
        let _: () = run(
            to,
            &[b"RESTORE", &key, ttl.as_bytes(), &payload, b"REPLACE"],
        );
    }
}

/// redis-server writes every encoding; ferrocache loads the file, saves its own, and a second
/// redis-server loads that with the same contents. (Compared in redis-server, so the check does
/// not depend on ferrocache's list, set and hash commands.)
#[test]
fn redis_aggregates_in_every_encoding_load_in_ferrocache_and_back() {
    let Some(redis) = redis_or_skip() else { return };
    let mut con = connect(&redis);
    let encodings = fill_aggregates(&mut con);
    assert_encodings(&mut con, &encodings);
    let before = contents(&mut con);
    let _: () = run(&mut con, &[b"SAVE"]);
    let ours = ferrocache_on(&redis.dir.join("dump.rdb"), &[]);
    let mut ours_con = connect(&ours);
    let info: String = run(&mut ours_con, &[b"INFO", b"persistence"]);
    assert!(info.contains("rdb_last_load_keys_loaded:10\r\n"), "{info}");
    let _: () = run(&mut ours_con, &[b"SAVE"]);
    let back = redis_on(&ours.dir.join("dump.rdb"));
    assert_same(&before, &contents(&mut connect(&back)));
}

/// The same through DUMP/RESTORE: redis-server payloads of every encoding restore in
/// ferrocache, and ferrocache's payloads restore in redis-server.
#[test]
fn aggregate_dump_payloads_move_both_ways() {
    let Some(redis) = redis_or_skip() else { return };
    let mut con = connect(&redis);
    fill_aggregates(&mut con);
    let before = contents(&mut con);
    let ours = Server::start(&[]);
    let mut ours_con = connect(&ours);
    copy_by_dump(&mut con, &mut ours_con);
    let _: () = run(&mut con, &[b"FLUSHALL"]);
    copy_by_dump(&mut ours_con, &mut con);
    assert_same(&before, &contents(&mut con));
}

/// Mutated payloads over the wire: every reply is OK or one of RESTORE's errors, and the
/// server keeps serving.
#[test]
fn fuzzed_restore_payloads_get_errors_not_crashes() {
    let ours = Server::start(&[]);
    let mut con = connect(&ours);
    let _: () = run(&mut con, &[b"SET", b"s", "abc".repeat(100).as_bytes()]);
    let _: () = run(&mut con, &[b"ZADD", b"z", b"1", b"a", b"2", b"b"]);
    let seeds: Vec<Vec<u8>> = ["s", "z"]
        .iter()
        .map(|k| run(&mut con, &[b"DUMP", k.as_bytes()]))
        .collect();
    let mut raw = ours.raw();
    let mut x = 0x2545_f491_4f6c_dd1du64;
    let mut rand = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    for round in 0..500 {
        let mut payload = seeds[round % seeds.len()].clone();
        let at = (rand() as usize) % payload.len();
        payload[at] = rand() as u8;
        raw.send(&[b"RESTORE", b"fuzz", b"0", &payload, b"REPLACE"]);
        let reply = raw.read_reply().expect("server answers");
        let text = String::from_utf8_lossy(&reply);
        assert!(
            text == "+OK\r\n"
                || text.starts_with("-ERR DUMP payload version or checksum are wrong")
                || text.starts_with("-ERR Bad data format"),
            "{text}"
        );
    }
    assert_eq!(raw.cmd(&["PING"]), b"+PONG\r\n");
}

/// With save points, FLUSHALL saves the empty dataset at once (as Redis), so a restart does not
/// bring the flushed keys back; without save points it leaves the file alone.
#[test]
fn flushall_saves_the_empty_dataset_when_save_points_are_configured() {
    for (points, survives) in [("3600 1", false), ("", true)] {
        let dir = temp_dir("flushall");
        let dir_arg = dir.to_str().unwrap().to_string();
        {
            let server = Server::start(&["--dir", &dir_arg, "--save", points]);
            let mut con = connect(&server);
            let _: () = run(&mut con, &[b"SET", b"k", b"v"]);
            let _: () = run(&mut con, &[b"SAVE"]);
            let _: () = run(&mut con, &[b"FLUSHALL"]);
        }
        let server = Server::start(&["--dir", &dir_arg, "--save", ""]);
        let exists: i64 = run(&mut connect(&server), &[b"EXISTS", b"k"]);
        assert_eq!(exists == 1, survives, "save {points:?}");
    }
}

/// A BGSAVE on a full disk (a small tmpfs, mounted as root; skipped otherwise): the status is
/// `err`, writes get MISCONF (stop-writes-on-bgsave-error), reads work, no temp file stays and
/// the previous dump.rdb is untouched; with room again, a BGSAVE succeeds and writes come back.
#[test]
fn bgsave_on_a_full_disk_fails_cleanly_and_recovers() {
    let Some(disk) = common::Tmpfs::mount(temp_dir("rdb-diskfull"), "256k") else {
        return;
    };
    let (home, data) = (disk.home.clone(), disk.data.clone());
    let data_arg = data.display().to_string();
    let server = Server::start_in(home.clone(), &["--dir", &data_arg, "--save", "3600 1"]);
    let mut con = connect(&server);
    let _: () = run(&mut con, &[b"SET", b"small", b"first"]);
    let _: String = run(&mut con, &[b"BGSAVE"]);
    wait_bgsave_done(&mut con);
    assert_eq!(info_field(&mut con, "rdb_last_bgsave_status"), "ok");
    let first_dump = std::fs::read(data.join("dump.rdb")).unwrap();
    // Incompressible values, about 1 MB: four times the tmpfs.
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    for i in 0..256 {
        let value: Vec<u8> = (0..4096)
            .map(|_| {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                seed as u8
            })
            .collect();
        let _: () = run(&mut con, &[b"SET", format!("big{i}").as_bytes(), &value]);
    }
    let _: String = run(&mut con, &[b"BGSAVE"]);
    wait_bgsave_done(&mut con);
    assert_eq!(info_field(&mut con, "rdb_last_bgsave_status"), "err");
    let err = redis::cmd("SET")
        .arg("k")
        .arg("v")
        .query::<()>(&mut con)
        .unwrap_err();
    assert!(err.to_string().contains("MISCONF"), "{err}");
    let small: String = run(&mut con, &[b"GET", b"small"]);
    assert_eq!(small, "first", "reads keep working");
    assert_eq!(std::fs::read(data.join("dump.rdb")).unwrap(), first_dump);
    let leftovers: Vec<String> = std::fs::read_dir(&data)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n != "dump.rdb")
        .collect();
    assert!(leftovers.is_empty(), "temp files left: {leftovers:?}");
    // Room again.
    disk.grow("16m");
    let _: String = run(&mut con, &[b"BGSAVE"]);
    wait_bgsave_done(&mut con);
    assert_eq!(info_field(&mut con, "rdb_last_bgsave_status"), "ok");
    let _: () = run(&mut con, &[b"SET", b"k", b"v"]);
    drop(server);
}

/// What the BGSAVE test writes before the save: strings (every tenth with a TTL), lists and
/// hashes in database 0, strings in databases 2 and 3 (which the writers flush and swap).
/// Returns (db, key) -> (type, value, has a TTL).
type Expected = BTreeMap<(u8, Vec<u8>), (&'static str, Vec<Vec<u8>>, bool)>;

fn fill_before_save(con: &mut Connection) -> Expected {
    let mut expected = Expected::new();
    for db in [0u8, 2, 3] {
        let _: () = run(con, &[b"SELECT", db.to_string().as_bytes()]);
        let strings = if db == 0 { 60_000 } else { 10_000 };
        let mut pipe = redis::pipe();
        for i in 0..strings {
            let (key, value) = (format!("key:{i}"), format!("pre:{db}:{i}"));
            pipe.cmd("SET").arg(&key).arg(&value).ignore();
            if i % 10 == 0 {
                pipe.cmd("EXPIRE").arg(&key).arg(3600).ignore();
            }
            expected.insert(
                (db, key.into_bytes()),
                ("string", vec![value.into_bytes()], i % 10 == 0),
            );
        }
        if db == 0 {
            for i in 0..2_000 {
                let list = format!("list:{i}");
                pipe.cmd("RPUSH").arg(&list).arg("a").arg(i).ignore();
                let items = vec![b"a".to_vec(), i.to_string().into_bytes()];
                expected.insert((0, list.into_bytes()), ("list", items, false));
                let hash = format!("hash:{i}");
                pipe.cmd("HSET").arg(&hash).arg("f").arg(i).ignore();
                let fields = vec![b"f".to_vec(), i.to_string().into_bytes()];
                expected.insert((0, hash.into_bytes()), ("hash", fields, false));
            }
        }
        let _: () = pipe.query(con).unwrap();
    }
    let _: () = run(con, &[b"SELECT", b"0"]);
    let _: () = run(con, &[b"SET", b"marker", b"before"]);
    expected.insert(
        (0, b"marker".to_vec()),
        ("string", vec![b"before".to_vec()], false),
    );
    expected
}

/// One writer's round of 64 pipelined changes of every kind, all after the save's instant.
fn write_after_save(con: &mut Connection, writer: u64, round: u64) {
    let mut x = (writer + 1) * 0x9e37_79b9 + round * 7919;
    let mut pick = |n: u64| {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x % n
    };
    let mut pipe = redis::pipe();
    pipe.cmd("SELECT").arg(0).ignore();
    for step in 0..64u64 {
        let key = format!("key:{}", pick(60_000));
        let aggregate = pick(2_000);
        let after = format!("post:{writer}:{round}:{step}");
        match step % 10 {
            0 | 1 => pipe.cmd("SET").arg(&key).arg(&after).ignore(),
            2 => pipe.cmd("DEL").arg(&key).ignore(),
            3 => pipe
                .cmd("SET")
                .arg(format!("new:{writer}:{round}:{step}"))
                .arg(1)
                .ignore(),
            4 => pipe
                .cmd("RPUSH")
                .arg(format!("list:{aggregate}"))
                .arg(&after)
                .ignore(),
            5 => pipe
                .cmd("HSET")
                .arg(format!("hash:{aggregate}"))
                .arg("f")
                .arg(&after)
                .ignore(),
            6 => pipe.cmd("EXPIRE").arg(&key).arg(1000).ignore(),
            7 => pipe
                .cmd("RENAME")
                .arg(&key)
                .arg(format!("moved:{after}"))
                .ignore(),
            8 => pipe
                .cmd("LPOP")
                .arg(format!("list:{aggregate}"))
                .arg(10)
                .ignore(),
            _ => pipe.cmd("APPEND").arg(&key).arg("+").ignore(),
        };
    }
    if writer == 0 {
        match round % 3 {
            0 => pipe.cmd("SWAPDB").arg(2).arg(3).ignore(),
            1 => pipe.cmd("SELECT").arg(2).ignore().cmd("FLUSHDB").ignore(),
            _ => pipe
                .cmd("SELECT")
                .arg(3)
                .ignore()
                .cmd("SET")
                .arg("key:1")
                .arg("x")
                .ignore(),
        };
    }
    pipe.cmd("SELECT").arg(0).ignore();
    pipe.cmd("SET")
        .arg("marker")
        .arg(format!("after:{writer}"))
        .ignore();
    // RENAME of a key another writer deleted fails; that is part of the load.
    let _ = pipe.query::<()>(con);
}

/// Every key the server holds, in the shape of `Expected` (pipelined reads per database).
fn loaded_contents(con: &mut Connection) -> Expected {
    let mut out = Expected::new();
    for db in 0..16u8 {
        let _: () = run(con, &[b"SELECT", db.to_string().as_bytes()]);
        let keys: Vec<Vec<u8>> = run(con, &[b"KEYS", b"*"]);
        let mut types = redis::pipe();
        for key in &keys {
            types.cmd("TYPE").arg(key).cmd("PTTL").arg(key);
        }
        let kinds: Vec<(String, i64)> = types.query(con).unwrap();
        let mut values = redis::pipe();
        for (key, (kind, _)) in keys.iter().zip(&kinds) {
            match kind.as_str() {
                "string" => values.cmd("GET").arg(key),
                "list" => values.cmd("LRANGE").arg(key).arg(0).arg(-1),
                "hash" => values.cmd("HGETALL").arg(key),
                other => panic!("unexpected type {other}"),
            };
        }
        let raw: Vec<redis::Value> = values.query(con).unwrap();
        for ((key, (kind, pttl)), value) in keys.into_iter().zip(kinds).zip(raw) {
            let value: Vec<Vec<u8>> = match value {
                redis::Value::BulkString(bytes) => vec![bytes],
                other => redis::from_redis_value(&other).unwrap(),
            };
            let kind = match kind.as_str() {
                "string" => "string",
                "list" => "list",
                _ => "hash",
            };
            out.insert((db, key), (kind, value, pttl > 0));
        }
    }
    out
}

/// Runs `start`, then 8 connections writing (`write_after_save`) until `wait` returns.
fn eight_writers_during(ours: &Server, start: impl FnOnce(), wait: impl FnOnce()) {
    let go = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writers: Vec<_> = (0..8u64)
        .map(|writer| {
            let mut con = connect(ours);
            let (go, stop) = (go.clone(), stop.clone());
            std::thread::spawn(move || {
                while !go.load(std::sync::atomic::Ordering::Acquire) {
                    std::hint::spin_loop();
                }
                let mut round = 0;
                loop {
                    write_after_save(&mut con, writer, round);
                    round += 1;
                    if stop.load(std::sync::atomic::Ordering::Acquire) {
                        return round;
                    }
                }
            })
        })
        .collect();
    start();
    go.store(true, std::sync::atomic::Ordering::Release);
    wait();
    stop.store(true, std::sync::atomic::Ordering::Release);
    let rounds: u64 = writers.into_iter().map(|w| w.join().unwrap()).sum();
    eprintln!("{rounds} rounds of 64 writes during and after the save");
}

fn bgsave_started(con: &mut Connection) {
    let reply: String = run(con, &[b"BGSAVE"]);
    assert_eq!(reply, "Background saving started");
}

/// The dump.rdb in `dir`, loaded in redis-server (ferrocache if it is missing), holds exactly
/// `expected`.
fn assert_dump_holds(dir: &Path, expected: &Expected) {
    let dump = dir.join("dump.rdb");
    let loaded = match Server::start_redis(&[]) {
        Some(_probe) => loaded_contents(&mut connect(&redis_on(&dump))),
        None => loaded_contents(&mut connect(&ferrocache_on(&dump, &[]))),
    };
    assert_eq!(loaded.len(), expected.len(), "number of keys");
    for (key, want) in expected {
        assert_eq!(loaded.get(key), Some(want), "{key:?}");
    }
}

/// BGSAVE while 8 connections overwrite, delete, add, expire, rename and change aggregates in
/// place (and flush and swap other databases): the file holds exactly the data of the instant
/// BGSAVE replied, checked by loading it in redis-server (ferrocache if it is missing).
#[test]
fn bgsave_under_eight_writers_holds_exactly_the_instant() {
    let ours = Server::start(&[]);
    let mut con = connect(&ours);
    let expected = fill_before_save(&mut con);
    let mut control = connect(&ours);
    eight_writers_during(
        &ours,
        || bgsave_started(&mut con),
        || wait_bgsave_done(&mut control),
    );
    assert_eq!(info_field(&mut con, "rdb_last_bgsave_status"), "ok");
    assert_dump_holds(&ours.dir, &expected);
}

/// A BGSAVE while an AOF rewrite runs takes its own snapshot (no copy under every lock): under
/// the same 8 writers, the dump holds exactly its instant, and the rewritten AOF (base +
/// incr, appendfsync always) restarts with exactly what the server held at the end.
#[test]
fn bgsave_during_an_aof_rewrite_both_hold_their_data() {
    let args = ["--appendonly", "yes", "--appendfsync", "always"];
    let ours = Server::start(&args);
    let mut con = connect(&ours);
    let expected = fill_before_save(&mut con);
    let mut control = connect(&ours);
    eight_writers_during(
        &ours,
        || {
            let _: String = run(&mut con, &[b"BGREWRITEAOF"]);
            bgsave_started(&mut con);
        },
        || {
            wait_bgsave_done(&mut control);
            let deadline = Instant::now() + Duration::from_secs(60);
            while info_field(&mut control, "aof_rewrite_in_progress") != "0" {
                assert!(Instant::now() < deadline, "the rewrite did not finish");
                std::thread::sleep(Duration::from_millis(20));
            }
        },
    );
    assert_eq!(info_field(&mut con, "rdb_last_bgsave_status"), "ok");
    assert_eq!(info_field(&mut con, "aof_last_bgrewrite_status"), "ok");
    assert_dump_holds(&ours.dir, &expected);
    let live = loaded_contents(&mut con);
    let mut ours = ours;
    ours.kill9();
    let dir = ours.dir.clone();
    // The old handle would delete the directory when dropped.
    std::mem::forget(ours);
    std::fs::remove_file(dir.join("dump.rdb")).unwrap();
    let again = Server::start_in(dir, &args);
    assert!(
        loaded_contents(&mut connect(&again)) == live,
        "AOF restart differs"
    );
}
