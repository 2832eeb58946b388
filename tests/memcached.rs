//! The memcached listener against Debian's memcached 1.6 daemon: the same request scripts to
//! both, reply bytes compared (errors included), plus what only ferrocache has: the shared
//! keyspace with RESP, keyspace events, INFO, the limits. CAS uniques and the version string
//! necessarily differ and are compared normalised (see `normalise`).

mod common;

use common::{free_port, RawClient, Server};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Debian's memcached on a free loopback port (TCP only), killed when dropped.
struct Memcached {
    child: Child,
    port: u16,
}

impl Drop for Memcached {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_memcached() -> Memcached {
    let binary = "/usr/bin/memcached";
    assert!(
        std::path::Path::new(binary).exists(),
        "memcached is not installed (tests/run.sh installs it)"
    );
    for _attempt in 0..5 {
        let port = free_port();
        let mut child = Command::new(binary)
            .args([
                "-l",
                "127.0.0.1",
                "-U",
                "0",
                "-p",
                &port.to_string(),
                "-u",
                "root",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start memcached");
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return Memcached { child, port };
            }
            if let Ok(Some(_)) = child.try_wait() {
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = child.kill();
        let _ = child.wait();
    }
    panic!("memcached did not start");
}

/// ferrocache with its memcached listener on a free port; returns the server and that port.
fn start_ferrocache(args: &[&str]) -> (Server, u16) {
    for _attempt in 0..5 {
        let port = free_port();
        let port_arg = port.to_string();
        let mut all = vec!["--memcached-port", port_arg.as_str()];
        all.extend_from_slice(args);
        let server = Server::start(&all);
        if TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return (server, port);
        }
    }
    panic!("ferrocache's memcached listener did not start");
}

/// Sends `script` then `mn` on a fresh connection and reads until the `MN` that answers it
/// (or the server closes the connection).
fn run_script(port: u16, script: &[u8]) -> Vec<u8> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    // Every `mn` line (with or without arguments) is answered `MN`.
    let is_mn = |line: &&[u8]| {
        let first = line.split(|&b| b == b' ').find(|w| !w.is_empty());
        first == Some(b"mn") || first == Some(b"mn\r")
    };
    let marks = script.split(|&b| b == b'\n').filter(is_mn).count() + 1;
    stream.write_all(script).unwrap();
    let _ = stream.write_all(b"mn\r\n");
    let mut out = Vec::new();
    let mut buf = [0u8; 65536];
    let mut seen = 0;
    while seen < marks {
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => {
                out.extend_from_slice(b"<closed>");
                break;
            }
            Ok(n) => {
                // Only the new bytes (and the 3 before them) can complete another marker.
                let from = out.len().saturating_sub(3);
                out.extend_from_slice(&buf[..n]);
                seen += count(&out[from..], b"MN\r\n");
            }
        }
    }
    out
}

fn count(haystack: &[u8], needle: &[u8]) -> usize {
    haystack
        .windows(needle.len())
        .filter(|w| *w == needle)
        .count()
}

/// Replaces what legitimately differs: CAS uniques (`VALUE k f n <cas>`, ` c<cas>` return
/// flags, `cas=`) and the version string.
fn normalise(reply: &[u8]) -> String {
    let text = String::from_utf8_lossy(reply).into_owned();
    let mut out = Vec::new();
    for line in text.split("\r\n") {
        let mut words: Vec<String> = line.split(' ').map(str::to_string).collect();
        match words[0].as_str() {
            "VERSION" => words.truncate(1),
            "VALUE" if words.len() == 5 => words[4] = "<cas>".into(),
            "VA" | "HD" | "EN" | "NF" | "NS" | "EX" => {
                for w in words.iter_mut().skip(1) {
                    if w.starts_with('c') && w[1..].chars().all(|c| c.is_ascii_digit()) {
                        *w = "c<cas>".into();
                    }
                }
            }
            "ME" => {
                for w in words.iter_mut() {
                    if w.starts_with("cas=") {
                        *w = "cas=<cas>".into();
                    }
                }
            }
            _ => {}
        }
        out.push(words.join(" "));
    }
    out.join("\r\n")
}

fn scripts() -> Vec<Vec<u8>> {
    let long = |n: usize| "a".repeat(n);
    let mut scripts: Vec<Vec<u8>> = CASES.iter().map(|s| s.to_vec()).collect();
    scripts.extend([
        format!("get {}\r\n", long(251)).into_bytes(),
        format!("get {}\r\nget {} x\r\n", long(250), long(250)).into_bytes(),
        format!("set {} 0 0 1\r\nx\r\n", long(251)).into_bytes(),
        // (memcached also drops the replies queued before such a `get` on the same connection;
        // ferrocache does not, see docs/compatibility.md.)
        format!("get a {} a\r\n", long(251)).into_bytes(),
        format!(
            "md\r\nma\r\nms\r\nme\r\nmn x\r\nme {0}\r\nmg {0} v\r\n",
            long(251)
        )
        .into_bytes(),
        format!("delete {0}\r\nincr {0} 1\r\ntouch {0} 1\r\n", long(251)).into_bytes(),
    ]);
    // The item size limit (1 MiB by default for both): over it the block is swallowed and a
    // `set` drops the old value.
    let mut big = b"set a 0 0 1\r\nx\r\nset a 0 0 2000000\r\n".to_vec();
    big.extend(std::iter::repeat_n(b'x', 2_000_000));
    big.extend_from_slice(b"\r\nget a\r\nset b 0 0 1000000\r\n");
    big.extend(std::iter::repeat_n(b'y', 1_000_000));
    big.extend_from_slice(b"\r\nappend b 0 0 100000\r\n");
    big.extend(std::iter::repeat_n(b'z', 100_000));
    big.extend_from_slice(b"\r\nget zz\r\n");
    scripts.push(big);
    let mut meta_big = format!(
        "ms a 2 O1 k\r\nhi\r\nms {} 1\r\nx\r\nms a -1\r\nms a 5000000\r\n",
        "k".repeat(250)
    )
    .into_bytes();
    meta_big.extend(std::iter::repeat_n(b'x', 5_000_000));
    meta_big.extend_from_slice(b"\r\nmg a v\r\n");
    scripts.push(meta_big);
    scripts
}

const CASES: &[&[u8]] = &[
    b"get\r\n",
    b"set a 0 0 1\r\nxy\r\nget a\r\n",
    b"set a 0 0 -1\r\nx\r\n",
    b"set a 0 0 abc\r\nx\r\n",
    b"set a 4294967296 0 1\r\nx\r\nget a\r\n",
    b"set a -1 0 1\r\nx\r\n",
    b"set a 0 0 1 noreply\r\nx\r\nget a\r\n",
    b"set a 0 0\r\nx\r\n",
    b"set a 0 0 1 2 3\r\nx\r\n",
    b"set a 0 0 1\r\nx\r\ndelete a 0\r\ndelete a 5\r\ndelete a noreply\r\ndelete a\r\n",
    b"set n 0 0 2\r\n10\r\ndecr n 1\r\nget n\r\nincr n 18446744073709551615\r\nincr n x\r\nincr zz 1\r\nset s 0 0 1\r\nx\r\nincr s 1\r\n",
    b"set a 0 0 1\r\nx\r\ntouch a x\r\ntouch nokey 10\r\ngat x a\r\ngat 10\r\nverbosity\r\nverbosity 1\r\nverbosity 1 noreply\r\nversion\r\nflush_all x\r\nflush_all 0\r\nflush_all noreply\r\nbogus\r\n\r\n",
    b"stats foo\r\nstats reset\r\n",
    b"set a 4294967297 0 1\r\nx\r\ngets a\r\nset a 0 0 1 foo\r\nx\r\nincr a 1 foo\r\ngat\r\ntouch a\r\nflush_all 0 noreply extra\r\nversion x\r\nquit x\r\nverbosity x\r\n",
    b"set a 0 0 1\r\nx\r\nget a a a a a a a a a a a a a a a a a a a a a a a a a a a a a a \r\n",
    b"set b 0 0 3\r\nabc\r\nappend b 5 0 2\r\nde\r\nprepend b 0 0 1\r\nz\r\nget b\r\nappend nob 0 0 1\r\nx\r\nreplace nob 0 0 1\r\nx\r\nadd b 0 0 1\r\nx\r\n",
    b"set b 7 0 1\r\nx\r\ngets b\r\ncas b 0 0 1 999\r\nx\r\ncas nob 0 0 1 1\r\nx\r\ncas b 0 0 1\r\nx\r\ncas b 0 0 1 abc\r\nx\r\n",
    b"set t 0 -1 1\r\nx\r\nget t\r\nadd t 0 0 1\r\ny\r\nget t\r\n",
    b"GET a\r\n",
    b"set a 0 0 1\r\nx\r\nget a\n",
    b"set k\t0 0 1\r\nx\r\nget k\t0\r\n",
    b"set a 0 0 1\r\nx\r\nmn\r\nmg a v f t k s\r\nmg nokey v\r\nmg nokey v q\r\nmn\r\n",
    b"ms m 2 T60 F5\r\nhi\r\nmg m v f t\r\nms m 2 MA\r\nyo\r\nmg m v\r\nmd m q\r\nmd m\r\nma cnt\r\nma cnt N0 J10 v\r\nma cnt v D5 MD\r\n",
    b"mg\r\nms m\r\nmg a zz\r\nms m abc\r\nxx\r\n",
    b"ms k 2 T-1\r\nhi\r\nmg k v\r\nms k 2 I\r\nhi\r\nms k S2\r\nhi\r\nmg k k v O123 q\r\nmg k O123 k\r\nmd k O9 k\r\nmg k O9\r\nmn\r\n",
    b"ma nokey N60 J5\r\nma nokey\r\nset s 0 0 1\r\nx\r\nma s\r\nms c 2 c\r\n10\r\nmg c c\r\nms c 2 C999\r\n11\r\nms c 2 ME\r\n11\r\nms c 2 MR\r\n11\r\nms nn 2 MR\r\n11\r\n",
    b"set a 0 0 1\r\nx\r\nms a 1 MX\r\ny\r\nma a MX\r\nmg a Tx\r\nms a 1 Fx\r\ny\r\nma a Dx\r\n",
    b"set a 0 0 1\r\nx\r\nincr a 1\r\nset big 0 0 25\r\n1234567890123456789012345\r\nincr big 1\r\nset e 0 0 0\r\n\r\nincr e 1\r\nset w 0 0 3\r\n 12\r\nincr w 1\r\nget w\r\n",
    b"quit\r\nget a\r\n",
    b"set n 0 0 1\r\n5\r\nincr n 1 noreply\r\ndecr n 1 noreply\r\nget n\r\ntouch n 0 noreply\r\nflush_all 0 noreply\r\nget n\r\n",
    b"set a 1 0 1\r\nx\r\nreplace a 2 0 1\r\ny\r\ngets a\r\nprepend a 9 0 1\r\nz\r\nget a\r\nadd b 3 0 1 noreply\r\nq\r\nget a b\r\n",
    b"cas a 0 0 1 1 noreply\r\nx\r\nset a 0 0 1\r\nx\r\ntouch a 100\r\ngat 0 a\r\ngats 100 a nokey\r\n",
    b"ms k 3 c F9 T0\r\nabc\r\nmg k c f v s\r\nma k\r\nms n 1\r\n7\r\nma n D3 v t\r\nma n MD D100 v\r\nmd k C1 q\r\nmd nokey q\r\nmg k k\r\n",
    b"incr\r\ndecr a\r\ntouch\r\ndelete\r\ncas a 0 0 1\r\nappend a 0 0\r\n",
    b"set a 0 0 1\r\r\nx\r\nget a\r\n",
    b"set a 0 0 1\nx\r\nget a\n",
    b"set a 0 0 1\r\nx\nget a\r\n",
    b"  get   a  \r\n",
    b"mg nokey k O5 v\r\nmd nokey k O5\r\nma nokey k O5\r\nmg nokey q k\r\nmn\r\n",
    b"set a 0 0 1\r\nx\r\nmg a T100 t v\r\nmg a t\r\ngat -1 a\r\nget a\r\n",
    b"set a 0 0 2\r\n10\r\nma a q\r\nma a q v\r\nmg a v\r\nma a MI D5 O1 k\r\n",
    b"ms a 2 MP\r\nxx\r\nms a 2 ME\r\nxx\r\nms a 2 ME\r\nyy\r\nms a 2 MP\r\nzz\r\nmg a v\r\nms a 2 MR q\r\nqq\r\nmg a v\r\n",
    b"set a 0 0 1\r\nx\r\nmd a C1\r\nmg a c\r\n",
    b"ms a 2 T0 F4294967295\r\nhi\r\nmg a f\r\nms a 2 F4294967296\r\nhi\r\nmg a f\r\nms a 2 T-1 q\r\nhi\r\nmg a v\r\n",
    b"set a 0 0 1\r\nx\r\nappend a 0 0 1 noreply\r\ny\r\nprepend a 0 0 1 noreply\r\nz\r\nget a\r\nreplace zz 0 0 1 noreply\r\nx\r\nget zz\r\n",
    b"set a 0 2592000 1\r\nx\r\nget a\r\nset a 0 2592001 1\r\nx\r\nget a\r\nset a 0 1000000000 1\r\nx\r\nget a\r\nset a 0 2000000000 1\r\nx\r\nget a\r\n",
    b"set a 0 0 1\r\nx\r\ntouch a -1\r\nget a\r\nset b 0 0 1\r\nx\r\ngats -1 b\r\nget b\r\n",
    b"set a 0 0 20\r\n18446744073709551615\r\nincr a 1\r\nget a\r\ndecr a 5\r\nget a\r\nset b 0 0 20\r\n18446744073709551616\r\nincr b 1\r\n",
    b"verbosity 1 2\r\nverbosity 1 2 3\r\nflush_all 1 2\r\nflush_all -1\r\nversion\r\n",
    b"set a 0 0 1\r\nx\r\nset a 0 0 1\r\nxget a\r\n",
    b"get a b c d e f g h i j k l m n o p q r s t u v w x y z 1 2 3 4 5 6 7 8 9\r\n",
    b"set a 00 +0 0001\r\nx\r\nget a\r\nincr a +1\r\nset n 0 0 1\r\n1\r\nincr n +1\r\nincr n 01\r\n",
    b"ma zz q\r\nma zz q N0\r\nmn\r\nms a 1 MR q\r\nx\r\nmn\r\nms a 1 q\r\nx\r\nms a 1 C1 q\r\ny\r\nmd a q\r\nmd a q\r\nmn\r\n",
];

#[test]
fn replies_match_memcached_byte_for_byte() {
    let memcached = start_memcached();
    let (_server, port) = start_ferrocache(&[]);
    let mut failures = Vec::new();
    for script in scripts() {
        for p in [memcached.port, port] {
            run_script(p, b"flush_all\r\n");
        }
        let expected = normalise(&run_script(memcached.port, &script));
        let got = normalise(&run_script(port, &script));
        if expected != got {
            failures.push(format!(
                "script {:?}\n  memcached:  {:?}\n  ferrocache: {:?}",
                String::from_utf8_lossy(&script[..script.len().min(200)]),
                &expected[..expected.len().min(600)],
                &got[..got.len().min(600)]
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// One memcached connection's replies to `script` (read until the `mn` marker).
fn mc(port: u16, script: &str) -> String {
    let reply = run_script(port, script.as_bytes());
    String::from_utf8_lossy(&reply[..reply.len() - b"MN\r\n".len()]).into_owned()
}

/// Items and RESP keys are one keyspace: each side sees the other's writes and deletes, RESP
/// GET returns the exact bytes, flags survive only memcached writes, and a RESP write makes an
/// older CAS unique stale.
#[test]
fn items_share_the_resp_keyspace() {
    let (server, port) = start_ferrocache(&["--notify-keyspace-events", "KA"]);
    let mut resp = server.raw();
    assert_eq!(mc(port, "set page 42 0 5\r\nhello\r\n"), "STORED\r\n");
    assert_eq!(resp.cmd(&["GET", "page"]), b"$5\r\nhello\r\n");
    assert_eq!(resp.cmd(&["TTL", "page"]), b":-1\r\n");
    assert_eq!(
        mc(port, "get page\r\n"),
        "VALUE page 42 5\r\nhello\r\nEND\r\n"
    );
    assert_eq!(resp.cmd(&["SET", "page", "bye"]), b"+OK\r\n");
    assert_eq!(mc(port, "get page\r\n"), "VALUE page 0 3\r\nbye\r\nEND\r\n");
    assert_eq!(resp.cmd(&["DEL", "page"]), b":1\r\n");
    assert_eq!(mc(port, "get page\r\n"), "END\r\n");

    // A relative TTL is seen by RESP; touch changes it; an absolute one too.
    assert_eq!(mc(port, "set t 0 100 1\r\nx\r\n"), "STORED\r\n");
    assert_eq!(resp.cmd(&["TTL", "t"]), b":100\r\n");
    assert_eq!(mc(port, "touch t 0\r\n"), "TOUCHED\r\n");
    assert_eq!(resp.cmd(&["TTL", "t"]), b":-1\r\n");
    assert_eq!(mc(port, "touch t 2000000000\r\n"), "TOUCHED\r\n");
    assert_eq!(
        resp.cmd(&["EXPIRETIME", "t"]),
        b":2000000000\r\n",
        "an expiry beyond 30 days is a unix time"
    );

    // CAS: a RESP write in between makes the unique stale.
    let reply = mc(port, "gets page2\r\nset page2 0 0 1\r\na\r\ngets page2\r\n");
    let cas: u64 = reply
        .lines()
        .find(|l| l.starts_with("VALUE"))
        .and_then(|l| l.split(' ').nth(4))
        .and_then(|c| c.parse().ok())
        .expect("a CAS unique");
    assert_eq!(resp.cmd(&["SET", "page2", "b"]), b"+OK\r\n");
    assert_eq!(
        mc(port, &format!("cas page2 0 0 1 {cas}\r\nc\r\n")),
        "EXISTS\r\n"
    );
    let reply = mc(port, "gets page2\r\n");
    let cas2: u64 = reply
        .split(' ')
        .nth(4)
        .unwrap()
        .trim_end_matches(|c: char| !c.is_ascii_digit())
        .split('\r')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert_ne!(cas, cas2);
    assert_eq!(
        mc(
            port,
            &format!("cas page2 0 0 1 {cas2}\r\nc\r\nget page2\r\n")
        ),
        "STORED\r\nVALUE page2 0 1\r\nc\r\nEND\r\n"
    );

    // incr on a RESP counter, INCR on a memcached one.
    assert_eq!(resp.cmd(&["SET", "n", "41"]), b"+OK\r\n");
    assert_eq!(mc(port, "incr n 1\r\n"), "42\r\n");
    assert_eq!(resp.cmd(&["INCR", "n"]), b":43\r\n");
    // A key of another type looks absent and is not overwritten by add.
    assert_eq!(resp.cmd(&["HSET", "h", "f", "v"]), b":1\r\n");
    assert_eq!(
        mc(port, "get h\r\nincr h 1\r\nadd h 0 0 1\r\nx\r\n"),
        "END\r\nNOT_FOUND\r\nNOT_STORED\r\n"
    );
    assert_eq!(resp.cmd(&["TYPE", "h"]), b"+hash\r\n");

    // Hits and misses are the keyspace's.
    let info = resp.cmd_str(&["INFO", "stats"]);
    assert!(info.contains("keyspace_hits:"), "{info}");
    let hits = |info: &str| -> u64 {
        info.lines()
            .find_map(|l| l.strip_prefix("keyspace_hits:"))
            .unwrap()
            .trim()
            .parse()
            .unwrap()
    };
    let before = hits(&info);
    mc(port, "get n\r\n");
    assert_eq!(hits(&resp.cmd_str(&["INFO", "stats"])), before + 1);
}

/// A memcached write raises the keyspace events of the equivalent RESP write.
#[test]
fn memcached_writes_raise_keyspace_events() {
    let (server, port) = start_ferrocache(&["--notify-keyspace-events", "KEA"]);
    let mut sub = server.raw();
    sub.send(&[b"PSUBSCRIBE", b"__keyevent@0__:*"]);
    sub.read_reply().unwrap();
    mc(port, "set k 0 10 1\r\nx\r\ndelete k\r\n");
    let mut events = Vec::new();
    for _ in 0..3 {
        let msg = String::from_utf8_lossy(&sub.read_reply().unwrap()).into_owned();
        // pmessage, pattern, channel (which names the event), key.
        events.push(msg.lines().nth(6).unwrap_or_default().to_string());
    }
    assert_eq!(
        events,
        [
            "__keyevent@0__:set",
            "__keyevent@0__:expire",
            "__keyevent@0__:del"
        ]
    );
}

/// `memcached-db` picks the database; flush_all empties only that one.
#[test]
fn memcached_db_option_and_flush_all() {
    let (server, port) = start_ferrocache(&["--memcached-db", "3"]);
    let mut resp = server.raw();
    resp.cmd(&["SET", "db0", "x"]);
    mc(port, "set k 0 0 1\r\nx\r\n");
    resp.cmd(&["SELECT", "3"]);
    assert_eq!(resp.cmd(&["GET", "k"]), b"$1\r\nx\r\n");
    assert_eq!(mc(port, "flush_all\r\n"), "OK\r\n");
    assert_eq!(resp.cmd(&["DBSIZE"]), b":0\r\n");
    resp.cmd(&["SELECT", "0"]);
    assert_eq!(resp.cmd(&["DBSIZE"]), b":1\r\n");
}

/// The memcached protocol has no authentication: with a password set, connections are refused
/// with a clear line instead of bypassing it.
#[test]
fn refused_while_a_password_is_required() {
    let (_server, port) = start_ferrocache(&["--requirepass", "secret"]);
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let _ = stream.write_all(b"get k\r\n");
    let mut reply = Vec::new();
    let _ = stream.read_to_end(&mut reply);
    let reply = String::from_utf8_lossy(&reply);
    assert!(
        reply.starts_with("SERVER_ERROR") && reply.contains("password"),
        "{reply}"
    );
}

/// `stats` carries the fields clients read, named as memcached names them.
#[test]
fn stats_fields_are_memcached_fields() {
    let memcached = start_memcached();
    let (_server, port) = start_ferrocache(&[]);
    let names = |port: u16| -> Vec<String> {
        mc(port, "stats\r\n")
            .lines()
            .filter_map(|l| l.strip_prefix("STAT "))
            .map(|l| l.split(' ').next().unwrap().to_string())
            .collect()
    };
    let theirs = names(memcached.port);
    let ours = names(port);
    for wanted in [
        "pid",
        "uptime",
        "version",
        "curr_connections",
        "cmd_get",
        "cmd_set",
        "get_hits",
        "get_misses",
        "curr_items",
        "bytes",
        "limit_maxbytes",
        "evictions",
    ] {
        assert!(ours.iter().any(|n| n == wanted), "missing {wanted}");
    }
    for name in &ours {
        assert!(
            theirs.contains(name),
            "{name} is not a memcached stats field"
        );
    }
    let _ = RawClient::connect;
}

/// maxmemory applies to memcached writes: with noeviction they are refused with memcached's
/// out-of-memory line; with allkeys-lru items are evicted like any key.
#[test]
fn maxmemory_applies_to_items() {
    let value = "v".repeat(10_000);
    let fill = |port: u16| -> String {
        let mut script = String::new();
        for i in 0..400 {
            script.push_str(&format!("set item:{i} 0 0 {}\r\n{value}\r\n", value.len()));
        }
        mc(port, &script)
    };
    let (_server, port) =
        start_ferrocache(&["--maxmemory", "2mb", "--maxmemory-policy", "noeviction"]);
    let replies = fill(port);
    assert!(replies.starts_with("STORED\r\n"), "{}", &replies[..40]);
    assert!(
        replies.contains("SERVER_ERROR out of memory storing object\r\n"),
        "4 MB of items under a 2 MB noeviction limit"
    );
    let (server, port) =
        start_ferrocache(&["--maxmemory", "2mb", "--maxmemory-policy", "allkeys-lru"]);
    assert_eq!(fill(port), "STORED\r\n".repeat(400));
    let info = server.raw().cmd_str(&["INFO", "stats"]);
    let evicted: u64 = info
        .lines()
        .find_map(|l| l.strip_prefix("evicted_keys:"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert!(evicted > 0, "{info}");
    let stats = mc(port, "stats\r\n");
    assert!(
        stats.contains(&format!("STAT evictions {evicted}\r\n")),
        "{stats}"
    );
}

/// Items written over memcached are in the AOF as their effects: after a kill -9 and a
/// restart, the value and the TTL are back (flags are not persisted: docs/compatibility.md).
#[test]
fn items_survive_a_restart_through_the_aof() {
    let dir = common::temp_dir("mc-aof");
    let port = free_port();
    let port_arg = port.to_string();
    let args = [
        "--appendonly",
        "yes",
        "--appendfsync",
        "always",
        "--memcached-port",
        port_arg.as_str(),
    ];
    let mut server = Server::start_in(dir.clone(), &args);
    assert_eq!(
        mc(port, "set page 5 1000 5\r\nhello\r\nappend page 0 0 1\r\n!\r\nset n 0 0 1\r\n9\r\nincr n 1\r\nset gone 0 0 1\r\nx\r\ndelete gone\r\n"),
        "STORED\r\nSTORED\r\nSTORED\r\n10\r\nSTORED\r\nDELETED\r\n"
    );
    server.kill9();
    let server = Server::start_in(dir, &args);
    let mut resp = server.raw();
    assert_eq!(resp.cmd(&["GET", "page"]), b"$6\r\nhello!\r\n");
    let ttl = resp.cmd_str(&["TTL", "page"]);
    assert!(ttl.starts_with(':') && ttl != ":-1\r\n", "{ttl}");
    assert_eq!(resp.cmd(&["GET", "n"]), b"$2\r\n10\r\n");
    assert_eq!(resp.cmd(&["EXISTS", "gone"]), b":0\r\n");
}

/// Per-prefix hit ratios count memcached reads.
#[test]
fn prefix_statistics_count_memcached_reads() {
    let (server, port) = start_ferrocache(&["--keyspace-stats-prefixes", "rc:"]);
    mc(
        port,
        "get rc:a\r\nset rc:a 0 0 1\r\nx\r\nget rc:a\r\nmg rc:a v\r\n",
    );
    let text = server.raw().cmd_str(&["INFO", "prefixstats"]);
    assert!(text.contains("prefix=rc:,hits=2,misses=1,"), "{text}");
}

/// A get of many large values is written as it is produced, a quarter megabyte of replies at a
/// time: the server's peak memory (about 28 MB for a debug build holding one 1 MB value) stays
/// far below the 100 MB of replies.
#[test]
fn large_multi_get_is_streamed() {
    let (server, port) = start_ferrocache(&[]);
    let value = "v".repeat(1_000_000);
    assert_eq!(
        mc(port, &format!("set big 0 0 {}\r\n{value}\r\n", value.len())),
        "STORED\r\n"
    );
    let mut script = String::from("get");
    for _ in 0..100 {
        script.push_str(" big");
    }
    script.push_str("\r\n");
    let reply = run_script(port, script.as_bytes());
    assert_eq!(count(&reply, b"VALUE big 0 1000000\r\n"), 100);
    assert!(reply.ends_with(b"END\r\nMN\r\n"));
    let status = std::fs::read_to_string(format!("/proc/{}/status", server.pid())).unwrap();
    let peak_kb: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap();
    assert!(
        peak_kb < 40_000,
        "peak RSS {peak_kb} kB for 100 MB of replies"
    );
}
