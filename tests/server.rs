//! Server commands and limits over real sockets: SHUTDOWN ends the process, SWAPDB is atomic,
//! maxclients and the idle timeout close connections, DEBUG is refused unless enabled, MEMORY
//! reports on real keys. Byte-for-byte checks against redis-server live in
//! tests/differential/4*_server_*.redis.

mod common;
use common::{RawClient, Server};
use std::io::Read;
use std::time::{Duration, Instant};

/// True once the server has closed `c`; a read timeout (20 s) fails the test.
fn closed_by_server(c: &mut RawClient) -> bool {
    let mut buf = [0u8; 256];
    loop {
        match c.stream.read(&mut buf) {
            Ok(0) => return true,
            Ok(_) => continue,
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return true,
            Err(e) => panic!("connection still open: {e}"),
        }
    }
}

#[test]
fn shutdown_stops_the_process_without_a_reply() {
    let mut server = Server::start(&[]);
    let mut c = server.raw();
    assert_eq!(
        c.cmd_str(&["SHUTDOWN", "ABORT"]),
        "-ERR No shutdown in progress.\r\n"
    );
    assert_eq!(
        c.cmd_str(&["SHUTDOWN", "NOSAVE", "SAVE"]),
        "-ERR syntax error\r\n"
    );
    c.send(&[b"SHUTDOWN", b"NOSAVE"]);
    assert_eq!(c.read_to_close(), b"", "SHUTDOWN sends no reply");
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(status) = server.child.try_wait().unwrap() {
            assert!(status.success(), "exit status {status}");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "ferrocache still running 20 s after SHUTDOWN"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Another client never sees half of a swap: keys spread over many shards always come from the
/// same database.
#[test]
fn swapdb_is_atomic() {
    let server = Server::start(&[]);
    let mut setup = server.raw();
    let keys: Vec<String> = (0..32).map(|i| format!("key:{i}")).collect();
    for (db, value) in [("0", "zero"), ("1", "one")] {
        assert_eq!(setup.cmd_str(&["SELECT", db]), "+OK\r\n");
        for k in &keys {
            assert_eq!(setup.cmd_str(&["SET", k, value]), "+OK\r\n");
        }
    }
    let port = server.port;
    let swapper = std::thread::spawn(move || {
        let mut c = RawClient::connect(port);
        for _ in 0..2000 {
            assert_eq!(c.cmd_str(&["SWAPDB", "0", "1"]), "+OK\r\n");
        }
    });
    let mut reader = server.raw();
    let mut mget: Vec<&str> = vec!["MGET"];
    mget.extend(keys.iter().map(String::as_str));
    let mut seen_one = false;
    let mut seen_zero = false;
    while !swapper.is_finished() {
        let reply = reader.cmd_str(&mget);
        let zeros = reply.matches("zero").count();
        let ones = reply.matches("$3\r\none").count();
        assert!(
            zeros == keys.len() || ones == keys.len(),
            "mixed databases: {reply}"
        );
        seen_zero |= zeros > 0;
        seen_one |= ones > 0;
        let size = reader.cmd_str(&["DBSIZE"]);
        assert_eq!(size, format!(":{}\r\n", keys.len()));
    }
    swapper.join().unwrap();
    assert!(seen_zero || seen_one);
    // 2000 swaps: back where we started.
    assert_eq!(reader.cmd_str(&["GET", "key:0"]), "$4\r\nzero\r\n");
}

#[test]
fn swapdb_and_flushdb_invalidate_watches() {
    let server = Server::start(&[]);
    let mut c = server.raw();
    let mut other = server.raw();
    assert_eq!(c.cmd_str(&["SET", "w", "1"]), "+OK\r\n");
    assert_eq!(c.cmd_str(&["WATCH", "w"]), "+OK\r\n");
    assert_eq!(other.cmd_str(&["SWAPDB", "0", "1"]), "+OK\r\n");
    assert_eq!(c.cmd_str(&["MULTI"]), "+OK\r\n");
    assert_eq!(c.cmd_str(&["GET", "w"]), "+QUEUED\r\n");
    assert_eq!(c.cmd_str(&["EXEC"]), "*-1\r\n");

    assert_eq!(c.cmd_str(&["SET", "w", "1"]), "+OK\r\n");
    assert_eq!(c.cmd_str(&["WATCH", "w"]), "+OK\r\n");
    assert_eq!(other.cmd_str(&["FLUSHDB"]), "+OK\r\n");
    assert_eq!(c.cmd_str(&["MULTI"]), "+OK\r\n");
    assert_eq!(c.cmd_str(&["EXEC"]), "*-1\r\n");
}

#[test]
fn maxclients_refuses_extra_connections() {
    let server = Server::start(&["--maxclients", "2"]);
    let mut a = server.raw();
    let mut b = server.raw();
    assert_eq!(a.cmd_str(&["PING"]), "+PONG\r\n");
    assert_eq!(b.cmd_str(&["PING"]), "+PONG\r\n");
    let mut c = server.raw();
    assert_eq!(c.read_to_close(), b"-ERR max number of clients reached\r\n");
    drop(b);
    // The freed slot is reusable once the server notices the close.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let mut d = server.raw();
        d.send(&[b"PING"]);
        match d.read_reply() {
            Some(r) if r == b"+PONG\r\n" => break,
            Some(r) => assert_eq!(r, b"-ERR max number of clients reached\r\n"),
            None => {}
        }
        assert!(Instant::now() < deadline, "slot never freed");
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(a.cmd_str(&["PING"]), "+PONG\r\n");
}

#[test]
fn idle_timeout_closes_connections() {
    let server = Server::start(&["--timeout", "1"]);
    let mut c = server.raw();
    assert_eq!(c.cmd_str(&["PING"]), "+PONG\r\n");
    assert!(closed_by_server(&mut c));
}

#[test]
fn debug_is_refused_unless_enabled() {
    let refused = "-ERR DEBUG command not allowed. If the enable-debug-command option is set to \"local\", you can run it from a local connection, otherwise you need to set this option in the configuration file, and then restart the server.\r\n";
    let server = Server::start(&[]);
    let mut c = server.raw();
    assert_eq!(c.cmd_str(&["DEBUG", "SLEEP", "0"]), refused);
    assert_eq!(c.cmd_str(&["DEBUG", "HELP"]), refused);
    assert_eq!(
        c.cmd_str(&["DEBUG"]),
        "-ERR wrong number of arguments for 'debug' command\r\n"
    );

    let local = Server::start(&["--enable-debug-command", "local"]);
    let mut c = local.raw();
    assert_eq!(c.cmd_str(&["DEBUG", "SLEEP", "0"]), "+OK\r\n");
    assert_eq!(c.cmd_str(&["SET", "k", "hello"]), "+OK\r\n");
    let object = c.cmd_str(&["DEBUG", "OBJECT", "k"]);
    assert!(object.starts_with("+Value at:0x"), "{object}");
    assert!(
        object.contains(" refcount:1 encoding:embstr serializedlength:6 lru:"),
        "{object}"
    );
    assert_eq!(
        c.cmd_str(&["DEBUG", "OBJECT", "nokey"]),
        "-ERR no such key\r\n"
    );
}

#[test]
fn debug_set_active_expire_stops_background_expiry() {
    let server = Server::start(&["--enable-debug-command", "yes", "--hz", "100"]);
    let mut c = server.raw();
    assert_eq!(c.cmd_str(&["DEBUG", "SET-ACTIVE-EXPIRE", "0"]), "+OK\r\n");
    assert_eq!(c.cmd_str(&["SET", "k", "v", "PX", "1"]), "+OK\r\n");
    std::thread::sleep(Duration::from_millis(300));
    // Only a lookup could have removed it, and DBSIZE looks nothing up.
    assert_eq!(c.cmd_str(&["DBSIZE"]), ":1\r\n");
    assert_eq!(c.cmd_str(&["DEBUG", "SET-ACTIVE-EXPIRE", "1"]), "+OK\r\n");
    let deadline = Instant::now() + Duration::from_secs(20);
    while c.cmd_str(&["DBSIZE"]) != ":0\r\n" {
        assert!(
            Instant::now() < deadline,
            "active expiry never removed the key"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn memory_usage_and_stats_report_keys() {
    let server = Server::start(&[]);
    let mut c = server.raw();
    assert_eq!(c.cmd_str(&["MEMORY", "USAGE", "k"]), "$-1\r\n");
    let big = "x".repeat(1000);
    assert_eq!(c.cmd_str(&["SET", "k", &big]), "+OK\r\n");
    let usage: i64 = c
        .cmd_str(&["MEMORY", "USAGE", "k", "SAMPLES", "0"])
        .trim_start_matches(':')
        .trim()
        .parse()
        .unwrap();
    assert!((1000..2000).contains(&usage), "usage {usage}");
    assert_eq!(c.cmd_str(&["SELECT", "2"]), "+OK\r\n");
    assert_eq!(c.cmd_str(&["SET", "other", "v"]), "+OK\r\n");
    c.resp3 = true;
    assert!(c.cmd_str(&["HELLO", "3"]).starts_with("%7"));
    let stats = c.cmd_str(&["MEMORY", "STATS"]);
    assert!(stats.starts_with('%'), "{stats}");
    assert!(stats.contains("$10\r\nkeys.count\r\n:2\r\n"), "{stats}");
    assert!(
        stats.contains("$4\r\ndb.0\r\n%3\r\n$23\r\noverhead.hashtable.main\r\n"),
        "{stats}"
    );
    assert!(stats.contains("$4\r\ndb.2\r\n"), "{stats}");
    // Start-up memory is the allocator's figure when the server became ready: non-zero.
    assert!(
        !stats.contains("$17\r\nstartup.allocated\r\n:0\r\n"),
        "{stats}"
    );
    assert_eq!(c.cmd_str(&["MEMORY", "PURGE"]), "+OK\r\n");
    assert!(!stats.contains("$4\r\ndb.1\r\n"), "{stats}");
    for field in [
        "peak.allocated",
        "total.allocated",
        "dataset.bytes",
        "overhead.total",
        "keys.bytes-per-key",
        "fragmentation",
    ] {
        assert!(
            stats.contains(&format!("\r\n{field}\r\n")),
            "{field} missing: {stats}"
        );
    }
    let doctor = c.cmd_str(&["MEMORY", "DOCTOR"]);
    assert!(
        doctor.starts_with('=') && doctor.contains("txt:Hi Sam"),
        "{doctor}"
    );
}

#[test]
fn time_and_lastsave_are_current() {
    let server = Server::start(&[]);
    let mut c = server.raw();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let time = c.cmd_str(&["TIME"]);
    let parts: Vec<&str> = time.split("\r\n").collect();
    assert_eq!(parts[0], "*2", "{time}");
    let secs: i64 = parts[2].parse().unwrap();
    let micros: i64 = parts[4].parse().unwrap();
    assert!((secs - now).abs() <= 5, "{time}");
    assert!((0..1_000_000).contains(&micros));
    let lastsave: i64 = c
        .cmd_str(&["LASTSAVE"])
        .trim_start_matches(':')
        .trim()
        .parse()
        .unwrap();
    assert!(lastsave <= now + 5 && lastsave > now - 3600, "{lastsave}");
}

/// Runs `ferrocache ping <args>` (the container health check) and returns (exit code, stdout+stderr).
fn health_check(args: &[&str], env: &[(&str, &str)]) -> (i32, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_ferrocache"))
        .arg("ping")
        .args(args)
        .env_remove("REDISCLI_AUTH")
        .envs(env.iter().copied())
        .output()
        .expect("run ferrocache ping");
    let text =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    (out.status.code().unwrap_or(-1), text)
}

#[test]
fn ping_subcommand_is_a_health_check() {
    let server = Server::start(&[]);
    let port = server.port.to_string();
    let (code, text) = health_check(&["-p", &port], &[]);
    assert_eq!((code, text.trim()), (0, "PONG"));

    // With a password set: failing without it, passing with -a or REDISCLI_AUTH.
    let mut c = server.raw();
    assert_eq!(
        c.cmd_str(&["CONFIG", "SET", "requirepass", "s3cret"]),
        "+OK\r\n"
    );
    let (code, text) = health_check(&["-p", &port], &[]);
    assert_eq!(code, 1);
    assert!(text.contains("NOAUTH"), "{text}");
    assert_eq!(health_check(&["-p", &port, "-a", "s3cret"], &[]).0, 0);
    assert_eq!(
        health_check(&["-p", &port], &[("REDISCLI_AUTH", "s3cret")]).0,
        0
    );
    let (code, text) = health_check(&["-p", &port, "-a", "wrong"], &[]);
    assert_eq!(code, 1);
    assert!(text.contains("WRONGPASS"), "{text}");

    // Nothing listening: a failure, not a hang.
    drop(c);
    drop(server);
    assert_eq!(health_check(&["-p", &port], &[]).0, 1);
    assert_eq!(health_check(&["-p", "notaport"], &[]).0, 1);
}

/// LOLWUT's shape, version line aside: line count, width of each art line, the captions.
fn lolwut_shape(text: &str) -> (usize, Vec<usize>, Vec<String>) {
    let lines: Vec<&str> = text.lines().collect();
    let widths = lines
        .iter()
        .filter(|l| !l.is_empty() && (!l.is_ascii() || l.starts_with('\x1b')))
        .map(|l| match l.starts_with('\x1b') {
            true => l.matches("m \x1b[0m").count(),
            false => l.chars().count(),
        })
        .collect();
    let captions = lines
        .iter()
        .filter(|l| l.is_ascii() && !l.starts_with('\x1b'))
        .map(|l| l.split("Redis ver. ").next().unwrap_or("").to_string())
        .collect();
    (lines.len(), widths, captions)
}

#[test]
fn lolwut_has_redis_shape_for_each_version() {
    let Some(redis) = Server::start_redis(&[]) else {
        return;
    };
    let ours = Server::start(&[]);
    let connect = |s: &Server| {
        redis::Client::open(s.url())
            .unwrap()
            .get_connection()
            .unwrap()
    };
    let (mut theirs, mut mine) = (connect(&redis), connect(&ours));
    for args in [
        vec!["LOLWUT"],
        vec!["LOLWUT", "VERSION", "7"],
        vec!["LOLWUT", "VERSION", "5"],
        vec!["LOLWUT", "version", "5", "20", "3", "2"],
        vec!["LOLWUT", "VERSION", "5", "0"],
        vec!["LOLWUT", "VERSION", "5", "1", "1", "1", "extra"],
        vec!["LOLWUT", "VERSION", "6"],
        vec!["LOLWUT", "VERSION", "6", "7", "3"],
        vec!["LOLWUT", "VERSION", "6", "-5", "1"],
    ] {
        let text = |con: &mut redis::Connection| -> String {
            let mut cmd = redis::cmd(args[0]);
            cmd.arg(&args[1..]);
            cmd.query(con).unwrap()
        };
        let (a, b) = (text(&mut theirs), text(&mut mine));
        assert_eq!(lolwut_shape(&a), lolwut_shape(&b), "{args:?}");
        assert!(a.ends_with("Redis ver. 7.0.15\n"), "{args:?}");
        let version = ferrocache::config::REDIS_VERSION;
        assert!(b.ends_with(&format!("Redis ver. {version}\n")), "{args:?}");
    }
}
