//! AOF persistence against the real binary and real files: effects in the log, kill -9 under
//! concurrent writers (always, everysec), simulated power loss, torn tails, corruption, manifest
//! refusals, rewrite under load and a crash during it, disk full, check-aof, and interoperability
//! with redis-server in both directions.

mod common;
use common::{RawClient, Server};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

const AOF_DIR: &str = "appendonlydir";

fn cmd(c: &mut RawClient, args: &[&str]) -> String {
    c.cmd_str(args)
}

/// Kills `old` with SIGKILL and starts a new server on the same directory.
fn restart(mut old: Server, args: &[&str]) -> Server {
    old.kill9();
    let dir = old.dir.clone();
    // The old handle would delete the directory when dropped.
    std::mem::forget(old);
    Server::start_in(dir, args)
}

fn incr_path(dir: &Path, seq: u64) -> PathBuf {
    dir.join(AOF_DIR)
        .join(format!("appendonly.aof.{seq}.incr.aof"))
}

fn info_field(c: &mut RawClient, field: &str) -> String {
    let info = cmd(c, &["INFO", "persistence"]);
    info.lines()
        .find_map(|l| l.strip_prefix(&format!("{field}:")))
        .unwrap_or_else(|| panic!("no {field} in INFO: {info}"))
        .trim()
        .to_string()
}

/// Runs ferrocache on `dir` expecting it to refuse to start; returns its output.
fn start_fails(dir: &Path, args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_ferrocache"))
        .args(["--port", "0", "--bind", "127.0.0.1", "--dir"])
        .arg(dir)
        .args(["--appendonly", "yes"])
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run ferrocache");
    assert!(!out.status.success(), "ferrocache started on a bad AOF");
    let mut text = String::from_utf8_lossy(&out.stdout).into_owned();
    text.push_str(&String::from_utf8_lossy(&out.stderr));
    text
}

fn fresh_dir(tag: &str) -> PathBuf {
    static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let n = N.fetch_add(1, Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("ferrocache-aof-{}-{tag}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join(AOF_DIR)).unwrap();
    dir
}

fn encode(cmds: &[&[&str]]) -> Vec<u8> {
    let mut out = Vec::new();
    for c in cmds {
        let args: Vec<&[u8]> = c.iter().map(|a| a.as_bytes()).collect();
        out.extend(common::encode_command(&args));
    }
    out
}

/// Writes a one-incr AOF directory by hand.
fn write_aof_dir(dir: &Path, incr: &[u8]) {
    let d = dir.join(AOF_DIR);
    std::fs::write(d.join("appendonly.aof.1.base.aof"), b"").unwrap();
    std::fs::write(d.join("appendonly.aof.1.incr.aof"), incr).unwrap();
    std::fs::write(
        d.join("appendonly.aof.manifest"),
        "file appendonly.aof.1.base.aof seq 1 type b\nfile appendonly.aof.1.incr.aof seq 1 type i\n",
    )
    .unwrap();
}

#[test]
fn effects_are_logged_with_absolute_times_and_survive_restart() {
    let args = ["--appendonly", "yes", "--appendfsync", "always"];
    let server = Server::start(&args);
    let mut c = server.raw();
    assert_eq!(cmd(&mut c, &["SET", "s", "v", "EX", "1000"]), "+OK\r\n");
    assert_eq!(cmd(&mut c, &["SETEX", "sx", "1000", "v"]), "+OK\r\n");
    assert_eq!(cmd(&mut c, &["SET", "plain", "1"]), "+OK\r\n");
    assert_eq!(cmd(&mut c, &["EXPIRE", "plain", "500"]), ":1\r\n");
    assert_eq!(cmd(&mut c, &["INCRBYFLOAT", "f", "1.25"]), "$4\r\n1.25\r\n");
    assert_eq!(cmd(&mut c, &["SET", "gone", "x"]), "+OK\r\n");
    assert_eq!(cmd(&mut c, &["GETDEL", "gone"]), "$1\r\nx\r\n");
    assert_eq!(cmd(&mut c, &["SET", "nx", "1", "NX"]), "+OK\r\n");
    assert_eq!(cmd(&mut c, &["SET", "nx", "2", "NX"]), "$-1\r\n");
    let ttl_before: i64 = cmd(&mut c, &["PTTL", "s"])[1..].trim().parse().unwrap();
    // A transaction and a script with several writes: wrapped in MULTI/EXEC.
    assert_eq!(cmd(&mut c, &["MULTI"]), "+OK\r\n");
    assert_eq!(cmd(&mut c, &["SELECT", "2"]), "+QUEUED\r\n");
    assert_eq!(cmd(&mut c, &["SET", "t", "1"]), "+QUEUED\r\n");
    assert_eq!(cmd(&mut c, &["INCR", "t"]), "+QUEUED\r\n");
    cmd(&mut c, &["EXEC"]);
    assert_eq!(
        cmd(
            &mut c,
            &[
                "EVAL",
                "redis.call('set', KEYS[1], 'a'); redis.call('append', KEYS[1], 'b'); return 1",
                "1",
                "lua"
            ]
        ),
        ":1\r\n"
    );
    let log = std::fs::read(incr_path(&server.dir, 1)).unwrap();
    let text = String::from_utf8_lossy(&log);
    for absent in [
        "\r\nEX\r\n",
        "SETEX",
        "EXPIRE\r\n",
        "INCRBYFLOAT",
        "GETDEL",
        "EVAL",
    ] {
        assert!(!text.contains(absent), "{absent} in the log:\n{text}");
    }
    for present in [
        "PXAT",
        "PEXPIREAT",
        "KEEPTTL",
        "MULTI",
        "EXEC",
        "SELECT\r\n$1\r\n2",
    ] {
        assert!(
            text.contains(present),
            "{present} missing from the log:\n{text}"
        );
    }
    // The failed SET NX changed nothing and is not logged.
    assert_eq!(text.matches("\r\nnx\r\n").count(), 1);

    let server = restart(server, &args);
    let mut c = server.raw();
    assert_eq!(cmd(&mut c, &["GET", "s"]), "$1\r\nv\r\n");
    let ttl_after: i64 = cmd(&mut c, &["PTTL", "s"])[1..].trim().parse().unwrap();
    assert!(
        ttl_after <= ttl_before && ttl_after > 990_000,
        "ttl {ttl_before} then {ttl_after}"
    );
    assert_eq!(cmd(&mut c, &["GET", "f"]), "$4\r\n1.25\r\n");
    assert_eq!(cmd(&mut c, &["EXISTS", "gone"]), ":0\r\n");
    assert_eq!(cmd(&mut c, &["GET", "nx"]), "$1\r\n1\r\n");
    assert_eq!(cmd(&mut c, &["SELECT", "2"]), "+OK\r\n");
    assert_eq!(cmd(&mut c, &["GET", "lua"]), "$2\r\nab\r\n");
    assert_eq!(cmd(&mut c, &["GET", "t"]), "$1\r\n2\r\n");
}

#[test]
fn expired_keys_are_logged_as_del() {
    let args = ["--appendonly", "yes"];
    let server = Server::start(&args);
    let mut c = server.raw();
    assert_eq!(cmd(&mut c, &["SET", "lazy", "1", "PX", "30"]), "+OK\r\n");
    assert_eq!(cmd(&mut c, &["SET", "active", "1", "PX", "30"]), "+OK\r\n");
    std::thread::sleep(Duration::from_millis(60));
    assert_eq!(cmd(&mut c, &["GET", "lazy"]), "$-1\r\n");
    let deadline = Instant::now() + Duration::from_secs(5);
    let del_of = |key: &str| format!("*2\r\n$3\r\nDEL\r\n${}\r\n{key}\r\n", key.len());
    loop {
        let text = String::from_utf8_lossy(&std::fs::read(incr_path(&server.dir, 1)).unwrap())
            .into_owned();
        if text.contains(&del_of("lazy")) && text.contains(&del_of("active")) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no DEL for expired keys:\n{text}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Writers SET `w{t}:{i}` in sequence and record the last acknowledged i; after SIGKILL and a
/// restart every acknowledged key must exist. `after_kill` may damage the files first.
fn kill9_round(policy: &str, writers: usize, after_kill: impl Fn(&Path)) {
    let args = ["--appendonly", "yes", "--appendfsync", policy];
    let server = Server::start(&args);
    let port = server.port;
    let stop = Arc::new(AtomicBool::new(false));
    let handles: Vec<_> = (0..writers)
        .map(|t| {
            let stop = stop.clone();
            std::thread::spawn(move || {
                let mut c = RawClient::connect(port);
                let mut acked = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    let key = format!("w{t}:{}", acked + 1);
                    c.send(&[b"SET", key.as_bytes(), b"v"]);
                    match c.read_reply() {
                        Some(r) if r == b"+OK\r\n" => acked += 1,
                        _ => break,
                    }
                }
                acked
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(600));
    let mut server = server;
    server.kill9();
    stop.store(true, Ordering::Relaxed);
    let acked: Vec<u64> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    assert!(acked.iter().sum::<u64>() > 0, "no write was acknowledged");
    after_kill(&server.dir);
    let server = restart(server, &args);
    let mut c = server.raw();
    for (t, &n) in acked.iter().enumerate() {
        for i in 1..=n {
            let key = format!("w{t}:{i}");
            c.send(&[b"EXISTS", key.as_bytes()]);
            assert_eq!(
                c.read_reply().unwrap(),
                b":1\r\n",
                "acknowledged {key} lost ({policy}; writer acked {n})"
            );
        }
    }
}

#[test]
fn kill9_loses_no_acknowledged_write_always() {
    for _round in 0..2 {
        kill9_round("always", 16, |_| {});
    }
}

#[test]
fn kill9_loses_no_acknowledged_write_everysec() {
    for _round in 0..2 {
        kill9_round("everysec", 16, |_| {});
    }
}

/// Power loss with `always`: everything after the last fsync is dropped (the writer records
/// the fsynced length when FERROCACHE_AOF_SYNC_TRACE is set), then replay.
#[test]
fn power_loss_loses_no_acknowledged_write_always() {
    std::env::set_var("FERROCACHE_AOF_SYNC_TRACE", "1");
    kill9_round("always", 16, |dir| {
        let incr = incr_path(dir, 1);
        let synced: u64 =
            std::fs::read_to_string(dir.join(AOF_DIR).join("appendonly.aof.1.incr.aof.synced"))
                .expect("the writer recorded an fsync")
                .trim()
                .parse()
                .unwrap();
        let len = std::fs::metadata(&incr).unwrap().len();
        assert!(synced <= len);
        let f = std::fs::OpenOptions::new().write(true).open(&incr).unwrap();
        f.set_len(synced).unwrap();
    });
}

#[test]
fn torn_tail_is_cut_at_every_byte_of_the_last_records() {
    let head = encode(&[&["SELECT", "0"], &["SET", "a", "1"], &["SET", "b", "2"]]);
    let tail = encode(&[
        &["SET", "c", "3"],
        &["MULTI"],
        &["SET", "d", "4"],
        &["EXEC"],
    ]);
    let mut full = head.clone();
    full.extend(&tail);
    let dir = fresh_dir("torn");
    // Every cut inside the tail: the server starts with the records before the cut.
    let c_end = head.len() + encode(&[&["SET", "c", "3"]]).len();
    for cut in head.len() + 1..full.len() {
        write_aof_dir(&dir, &full[..cut]);
        let server = Server::start_in(dir.clone(), &["--appendonly", "yes"]);
        let mut c = server.raw();
        assert_eq!(cmd(&mut c, &["GET", "b"]), "$1\r\n2\r\n", "cut {cut}");
        let want_c = if cut >= c_end {
            "$1\r\n3\r\n"
        } else {
            "$-1\r\n"
        };
        assert_eq!(cmd(&mut c, &["GET", "c"]), want_c, "cut {cut}");
        // An unfinished MULTI is reverted: d only with its EXEC.
        assert_eq!(cmd(&mut c, &["GET", "d"]), "$-1\r\n", "cut {cut}");
        let len = std::fs::metadata(incr_path(&dir, 1)).unwrap().len() as usize;
        // The torn tail was cut away (at the last whole record before it, MULTI included).
        assert!(
            len == head.len() || len == c_end,
            "cut {cut}: file cut to {len}"
        );
        let mut server = server;
        server.kill9();
        std::mem::forget(server);
    }
    // With aof-load-truncated no, a torn tail refuses to start.
    write_aof_dir(&dir, &full[..full.len() - 3]);
    let out = start_fails(&dir, &["--aof-load-truncated", "no"]);
    assert!(out.contains("Unexpected end of file"), "{out}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn corruption_in_the_middle_refuses_to_start_naming_file_and_offset() {
    let dir = fresh_dir("corrupt");
    let head = encode(&[&["SET", "a", "1"]]);
    let mut data = head.clone();
    data.extend_from_slice(b"garbage\r\n");
    data.extend(encode(&[&["SET", "b", "2"]]));
    write_aof_dir(&dir, &data);
    let out = start_fails(&dir, &[]);
    assert!(
        out.contains("appendonly.aof.1.incr.aof")
            && out.contains(&format!("offset {}", head.len())),
        "{out}"
    );
    // A truncated file that is not the last one is fatal too.
    let d = dir.join(AOF_DIR);
    std::fs::write(d.join("appendonly.aof.1.incr.aof"), &head[..head.len() - 2]).unwrap();
    std::fs::write(
        d.join("appendonly.aof.2.incr.aof"),
        encode(&[&["SET", "b", "2"]]),
    )
    .unwrap();
    std::fs::write(
        d.join("appendonly.aof.manifest"),
        "file appendonly.aof.1.base.aof seq 1 type b\nfile appendonly.aof.1.incr.aof seq 1 type i\nfile appendonly.aof.2.incr.aof seq 2 type i\n",
    )
    .unwrap();
    let out = start_fails(&dir, &[]);
    assert!(out.contains("not the last file"), "{out}");
    // Manifest refusals carry redis-server's reasons.
    for (manifest, reason) in [
        ("", "Found an empty AOF manifest"),
        (
            "file appendonly.aof.1.incr.aof seq 1 type x\n",
            "Unknown AOF file type",
        ),
        (
            "file appendonly.aof.9.incr.aof seq 9 type i\n",
            "doesn't exist",
        ),
    ] {
        std::fs::write(d.join("appendonly.aof.manifest"), manifest).unwrap();
        let out = start_fails(&dir, &[]);
        assert!(out.contains(reason), "{manifest:?}: {out}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn check_aof_reports_and_fixes_a_torn_tail() {
    let dir = fresh_dir("check");
    let good = encode(&[&["SET", "a", "1"]]);
    let mut torn = good.clone();
    torn.extend_from_slice(&encode(&[&["SET", "b", "2"]])[..10]);
    write_aof_dir(&dir, &torn);
    let manifest = dir.join(AOF_DIR).join("appendonly.aof.manifest");
    let run = |fix: bool| {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_ferrocache"));
        cmd.arg("check-aof");
        if fix {
            cmd.arg("--fix");
        }
        let out = cmd.arg(&manifest).output().unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
        )
    };
    let (ok, out) = run(false);
    assert!(
        !ok && out.contains(&format!("ok_up_to={}", good.len())),
        "{out}"
    );
    let (ok, out) = run(true);
    assert!(ok && out.contains("Successfully truncated"), "{out}");
    let (ok, out) = run(false);
    assert!(
        ok && out.contains("All AOF files and manifest are valid"),
        "{out}"
    );
    assert_eq!(
        std::fs::metadata(incr_path(&dir, 1)).unwrap().len() as usize,
        good.len()
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// redis-server accepts connections while it loads (and answers -LOADING): wait for the end.
fn wait_loaded(c: &mut RawClient) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while info_field(c, "loading") != "0" {
        assert!(Instant::now() < deadline, "still loading");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A key's value as comparable text: strings as the GET reply, collections as their elements
/// (sorted where the order is not part of the value).
fn value_text(c: &mut RawClient, key: &str) -> String {
    let elements = |reply: String| -> Vec<String> {
        reply
            .split("\r\n")
            .skip(1)
            .filter(|l| !l.starts_with('$') && !l.is_empty())
            .map(String::from)
            .collect()
    };
    match cmd(c, &["TYPE", key]).as_str() {
        "+list\r\n" => format!("list {:?}", elements(cmd(c, &["LRANGE", key, "0", "-1"]))),
        "+set\r\n" => {
            let mut members = elements(cmd(c, &["SMEMBERS", key]));
            members.sort();
            format!("set {members:?}")
        }
        "+hash\r\n" => {
            let flat = elements(cmd(c, &["HGETALL", key]));
            let mut pairs: Vec<_> = flat.chunks(2).map(|p| p.join("=")).collect();
            pairs.sort();
            format!("hash {pairs:?}")
        }
        "+zset\r\n" => format!(
            "zset {:?}",
            elements(cmd(c, &["ZRANGE", key, "0", "-1", "WITHSCORES"]))
        ),
        _ => cmd(c, &["GET", key]),
    }
}

/// Keys, values and PTTLs (rounded to seconds) of db 0 and 1, for comparing two servers.
fn dump(c: &mut RawClient) -> Vec<String> {
    let mut out = Vec::new();
    for db in ["0", "1"] {
        cmd(c, &["SELECT", db]);
        let keys = cmd(c, &["KEYS", "*"]);
        let mut names: Vec<String> = keys
            .split("\r\n")
            .skip(1)
            .filter(|l| !l.starts_with('$') && !l.is_empty())
            .map(String::from)
            .collect();
        names.sort();
        for k in names {
            let v = value_text(c, &k);
            let ttl: i64 = cmd(c, &["PTTL", &k])[1..].trim().parse().unwrap();
            let ttl = if ttl < 0 { ttl } else { (ttl + 5000) / 10_000 };
            out.push(format!("{db} {k} {v:?} {ttl}"));
        }
    }
    cmd(c, &["SELECT", "0"]);
    out
}

fn fill_for_interop(c: &mut RawClient) {
    cmd(c, &["SET", "plain", "v"]);
    cmd(c, &["SET", "ttl", "v", "EX", "1000"]);
    cmd(c, &["SET", "bin", "a\r\nb"]);
    cmd(c, &["INCRBYFLOAT", "float", "2.5"]);
    cmd(c, &["SET", "gone", "1"]);
    cmd(c, &["DEL", "gone"]);
    cmd(c, &["SELECT", "1"]);
    cmd(c, &["SET", "db1", "x", "PX", "2000000"]);
    cmd(c, &["SELECT", "0"]);
    cmd(c, &["RPUSH", "list", "a", "b", "c"]);
    cmd(c, &["LPOP", "list"]);
    cmd(c, &["SADD", "set", "x", "y", "z"]);
    cmd(c, &["SREM", "set", "y"]);
    cmd(c, &["HSET", "hash", "f", "1", "g", "2"]);
    cmd(c, &["HINCRBY", "hash", "f", "5"]);
    cmd(c, &["ZADD", "zset", "1.5", "m", "2", "n"]);
    cmd(c, &["ZINCRBY", "zset", "1", "m"]);
    cmd(c, &["PEXPIRE", "zset", "3000000"]);
    cmd(c, &["MULTI"]);
    cmd(c, &["INCR", "counter"]);
    cmd(c, &["INCR", "counter"]);
    cmd(c, &["EXEC"]);
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), to.join(entry.file_name())).unwrap();
    }
}

#[test]
fn redis_server_loads_our_directory_and_we_load_its() {
    let redis_args = ["--appendonly", "yes", "--aof-use-rdb-preamble", "no"];
    // Ours -> redis-server (after a rewrite, so both a rewritten base and an incr are read).
    let ours = Server::start(&["--appendonly", "yes"]);
    let mut c = ours.raw();
    fill_for_interop(&mut c);
    assert!(cmd(&mut c, &["BGREWRITEAOF"]).starts_with("+Background append only file rewriting"));
    let deadline = Instant::now() + Duration::from_secs(10);
    while info_field(&mut c, "aof_rewrite_in_progress") != "0"
        || info_field(&mut c, "aof_rewrites") != "1"
    {
        assert!(Instant::now() < deadline, "rewrite did not finish");
        std::thread::sleep(Duration::from_millis(20));
    }
    cmd(&mut c, &["SET", "after-rewrite", "1"]);
    // aof-use-rdb-preamble defaults to yes, as in Redis: the rewritten base is an RDB file.
    let manifest =
        std::fs::read_to_string(ours.dir.join(AOF_DIR).join("appendonly.aof.manifest")).unwrap();
    assert!(
        manifest.contains("appendonly.aof.2.base.rdb seq 2 type b"),
        "{manifest}"
    );
    let expected = dump(&mut c);
    let Some(redis) = Server::start_redis(&redis_args) else {
        eprintln!("redis-server not installed: interoperability not checked");
        return;
    };
    let mut redis = redis;
    let rdir = redis.dir.clone();
    redis.kill9();
    std::mem::forget(redis);
    let _ = std::fs::remove_dir_all(rdir.join(AOF_DIR));
    copy_dir(&ours.dir.join(AOF_DIR), &rdir.join(AOF_DIR));
    let mut args: Vec<&str> = redis_args.to_vec();
    let rdir_text = rdir.display().to_string();
    args.extend(["--dir", &rdir_text]);
    let redis = Server::start_redis(&args).expect("redis-server restarts");
    let mut r = redis.raw();
    wait_loaded(&mut r);
    assert_eq!(
        dump(&mut r),
        expected,
        "redis-server loaded different data: {}",
        redis.log_text()
    );

    // redis-server -> ours.
    let redis_log = Server::start_redis(&redis_args).unwrap();
    let mut r = redis_log.raw();
    fill_for_interop(&mut r);
    let expected = dump(&mut r);
    let mut redis_log = redis_log;
    let src = redis_log.dir.join(AOF_DIR);
    let dir = fresh_dir("from-redis");
    let _ = std::fs::remove_dir_all(dir.join(AOF_DIR));
    r.send(&[b"SHUTDOWN", b"NOSAVE"]);
    let _ = r.read_reply();
    let _ = redis_log.child.wait();
    copy_dir(&src, &dir.join(AOF_DIR));
    let loaded = Server::start_in(dir, &["--appendonly", "yes"]);
    let mut c = loaded.raw();
    assert_eq!(dump(&mut c), expected, "we loaded different data");
}

/// redis-server's default layout (aof-use-rdb-preamble yes): after its rewrite the base is an
/// RDB file, followed by an incr; ferrocache loads both. Our own bases are RDB by default too,
/// and the test above has redis-server load them.
#[test]
fn we_load_redis_servers_rdb_preamble_base() {
    let Some(redis) = Server::start_redis(&["--appendonly", "yes"]) else {
        eprintln!("redis-server not installed: interoperability not checked");
        return;
    };
    let mut r = redis.raw();
    fill_for_interop(&mut r);
    assert!(cmd(&mut r, &["BGREWRITEAOF"]).starts_with("+Background append only file rewriting"));
    let deadline = Instant::now() + Duration::from_secs(10);
    while info_field(&mut r, "aof_rewrite_in_progress") != "0"
        || info_field(&mut r, "aof_rewrites") != "1"
    {
        assert!(
            Instant::now() < deadline,
            "redis-server's rewrite did not finish"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    cmd(&mut r, &["SET", "after-rewrite", "in the incr"]);
    cmd(&mut r, &["HSET", "h-after", "f", "v"]);
    let expected = dump(&mut r);
    let mut redis = redis;
    let src = redis.dir.join(AOF_DIR);
    let bases: Vec<String> = std::fs::read_dir(&src)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains(".base."))
        .collect();
    assert!(
        bases.iter().any(|n| n.ends_with(".base.rdb")),
        "redis-server wrote no RDB base: {bases:?}"
    );
    r.send(&[b"SHUTDOWN", b"NOSAVE"]);
    let _ = r.read_reply();
    let _ = redis.child.wait();
    let dir = fresh_dir("from-redis-rdb-base");
    let _ = std::fs::remove_dir_all(dir.join(AOF_DIR));
    copy_dir(&src, &dir.join(AOF_DIR));
    let check = Command::new(env!("CARGO_BIN_EXE_ferrocache"))
        .arg("check-aof")
        .arg(dir.join(AOF_DIR).join("appendonly.aof.manifest"))
        .output()
        .unwrap();
    let report = String::from_utf8_lossy(&check.stdout).into_owned();
    assert!(
        check.status.success()
            && report.contains("RDB preamble of appendonly.aof.2.base.rdb is OK"),
        "{report}"
    );
    let loaded = Server::start_in(dir, &["--appendonly", "yes"]);
    let mut c = loaded.raw();
    assert_eq!(dump(&mut c), expected, "we loaded different data");
}

#[test]
fn rewrite_under_load_then_crash_during_rewrite() {
    let args = ["--appendonly", "yes", "--appendfsync", "everysec"];
    let server = Server::start(&args);
    let mut c = server.raw();
    // Enough data that the rewrite takes a while.
    let mut batch = Vec::new();
    for i in 0..200_000 {
        batch.extend(common::encode_command(&[
            b"SET",
            format!("bulk:{i}").as_bytes(),
            b"0123456789",
        ]));
        if i % 5000 == 4999 {
            c.send_raw(&batch);
            batch.clear();
            for _ in 0..5000 {
                c.read_reply().unwrap();
            }
        }
    }
    let port = server.port;
    let stop = Arc::new(AtomicBool::new(false));
    let writers: Vec<_> = (0..4)
        .map(|t| {
            let stop = stop.clone();
            std::thread::spawn(move || {
                let mut c = RawClient::connect(port);
                let mut acked = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    c.send(&[b"INCR", format!("counter:{t}").as_bytes()]);
                    match c.read_reply() {
                        Some(r) if r.starts_with(b":") => acked += 1,
                        _ => break,
                    }
                }
                acked
            })
        })
        .collect();
    // First a rewrite that completes under load: the data must be intact after restart.
    std::thread::sleep(Duration::from_millis(100));
    assert!(cmd(&mut c, &["BGREWRITEAOF"]).starts_with("+Background"));
    let deadline = Instant::now() + Duration::from_secs(30);
    while info_field(&mut c, "aof_rewrites") != "1" {
        assert!(Instant::now() < deadline, "rewrite did not finish");
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(info_field(&mut c, "aof_last_bgrewrite_status"), "ok");
    // Then a second rewrite, killed while it runs.
    assert!(cmd(&mut c, &["BGREWRITEAOF"]).starts_with("+Background"));
    let mut server = server;
    server.kill9();
    stop.store(true, Ordering::Relaxed);
    let acked: Vec<u64> = writers.into_iter().map(|h| h.join().unwrap()).collect();
    let server = restart(server, &args);
    let mut c = server.raw();
    assert_eq!(cmd(&mut c, &["DBSIZE"]), ":200004\r\n");
    for (t, n) in acked.iter().enumerate() {
        let got: u64 = cmd(&mut c, &["GET", &format!("counter:{t}")])
            .lines()
            .nth(1)
            .unwrap()
            .parse()
            .unwrap();
        // Acknowledged increments are all there (one more may have been applied, not acked).
        assert!(got == *n || got == n + 1, "counter:{t} = {got}, acked {n}");
    }
    assert_eq!(
        cmd(&mut c, &["GET", "bulk:199999"]),
        "$10\r\n0123456789\r\n"
    );
    // No temp files or stale bases linger once a later rewrite completes.
    assert!(cmd(&mut c, &["BGREWRITEAOF"]).starts_with("+Background"));
    let deadline = Instant::now() + Duration::from_secs(30);
    while info_field(&mut c, "aof_rewrites") != "1" {
        assert!(Instant::now() < deadline, "rewrite did not finish");
        std::thread::sleep(Duration::from_millis(20));
    }
    let names: Vec<String> = std::fs::read_dir(server.dir.join(AOF_DIR))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| !n.ends_with(".synced"))
        .collect();
    assert_eq!(names.len(), 3, "{names:?}");
}

#[test]
fn config_set_appendonly_yes_writes_the_current_data() {
    let server = Server::start(&[]);
    let mut c = server.raw();
    cmd(&mut c, &["SET", "before", "1"]);
    assert_eq!(
        cmd(&mut c, &["CONFIG", "SET", "appendonly", "yes"]),
        "+OK\r\n"
    );
    cmd(&mut c, &["SET", "after", "2"]);
    let deadline = Instant::now() + Duration::from_secs(10);
    while info_field(&mut c, "aof_rewrites") != "1" {
        assert!(Instant::now() < deadline, "initial rewrite did not finish");
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(info_field(&mut c, "aof_enabled"), "1");
    assert_eq!(
        cmd(&mut c, &["CONFIG", "GET", "appendonly"]),
        "*2\r\n$10\r\nappendonly\r\n$3\r\nyes\r\n"
    );
    let server = restart(server, &["--appendonly", "yes"]);
    let mut c = server.raw();
    assert_eq!(
        cmd(&mut c, &["MGET", "before", "after"]),
        "*2\r\n$1\r\n1\r\n$1\r\n2\r\n"
    );
}

/// Disk full on a small tmpfs (needs root to mount; skipped otherwise): writes get MISCONF,
/// reads keep working, writes come back once there is room, and the log has no torn record.
#[test]
fn disk_full_refuses_writes_until_there_is_room() {
    let Some(disk) = common::Tmpfs::mount(fresh_dir("diskfull"), "512k") else {
        return;
    };
    let (home, data) = (disk.home.clone(), disk.data.clone());
    let data_text = data.display().to_string();
    let args = [
        "--appendonly",
        "yes",
        "--appendfsync",
        "everysec",
        "--dir",
        &data_text,
    ];
    let mut server = Server::start_in(home.clone(), &args);
    let mut c = server.raw();
    let value = "x".repeat(1000);
    let mut refused = None;
    for i in 0..2000 {
        let reply = cmd(&mut c, &["SET", &format!("k{i}"), &value]);
        if reply != "+OK\r\n" {
            refused = Some((i, reply));
            break;
        }
    }
    let (i, reply) = refused.expect("the disk never filled");
    assert_eq!(
        reply,
        "-MISCONF Errors writing to the AOF file: No space left on device\r\n"
    );
    assert_eq!(cmd(&mut c, &["GET", "k0"]).len(), 1000 + 9);
    assert_eq!(cmd(&mut c, &["DEL", "k0"]), reply, "DEL is a write too");
    assert_eq!(info_field(&mut c, "aof_last_write_status"), "err");
    // Room again: the writer's retry succeeds and writes come back by themselves.
    disk.grow("8m");
    let deadline = Instant::now() + Duration::from_secs(10);
    while cmd(&mut c, &["SET", "back", "1"]) != "+OK\r\n" {
        assert!(Instant::now() < deadline, "writes did not come back");
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(info_field(&mut c, "aof_last_write_status"), "ok");
    server.kill9();
    // Every record in the log is whole, and what was acknowledged is there.
    let server2 = Server::start_in(home.clone(), &args);
    let mut c = server2.raw();
    assert_eq!(cmd(&mut c, &["GET", "back"]), "$1\r\n1\r\n");
    assert_eq!(cmd(&mut c, &["EXISTS", &format!("k{}", i - 1)]), ":1\r\n");
    let check = Command::new(env!("CARGO_BIN_EXE_ferrocache"))
        .arg("check-aof")
        .arg(data.join(AOF_DIR).join("appendonly.aof.manifest"))
        .output()
        .unwrap();
    assert!(
        check.status.success(),
        "{}",
        String::from_utf8_lossy(&check.stdout)
    );
    std::mem::forget(server);
    let mut server2 = server2;
    server2.kill9();
    std::mem::forget(server2);
}
