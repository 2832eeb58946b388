//! MIGRATE against real servers: ferrocache to redis-server 7.0.15 (the target), redis-server
//! to ferrocache (our RESTORE of its payloads), ferrocache to ferrocache; AUTH / AUTH2, COPY,
//! REPLACE, KEYS, TTLs, databases, Redis's error replies, and the cached connection reused.

mod common;
use common::{RawClient, Server};

fn cmd(c: &mut RawClient, args: &[&str]) -> String {
    c.cmd_str(args)
}

fn redis(args: &[&str]) -> Server {
    Server::start_redis(args).expect("redis-server is installed (tests/run.sh installs it)")
}

fn connected_clients(c: &mut RawClient) -> String {
    let info = cmd(c, &["INFO", "clients"]);
    info.lines()
        .find_map(|l| l.strip_prefix("connected_clients:"))
        .unwrap()
        .trim()
        .to_string()
}

#[test]
fn to_redis_server_with_auth_copy_replace_and_keys() {
    let target = redis(&["--requirepass", "pw"]);
    let source = Server::start(&[]);
    let mut s = source.raw();
    let mut t = target.raw();
    assert_eq!(cmd(&mut t, &["AUTH", "pw"]), "+OK\r\n");
    let port = target.port.to_string();
    let migrate = |s: &mut RawClient, rest: &[&str]| {
        let mut args = vec!["MIGRATE", "127.0.0.1", &port];
        args.extend_from_slice(rest);
        cmd(s, &args)
    };
    assert_eq!(cmd(&mut s, &["SET", "k", "v"]), "+OK\r\n");
    assert_eq!(migrate(&mut s, &["nokey", "0", "1000"]), "+NOKEY\r\n");
    assert_eq!(
        migrate(&mut s, &["k", "0", "1000"]),
        "-ERR Target instance replied with error: NOAUTH Authentication required.\r\n"
    );
    assert_eq!(
        migrate(&mut s, &["k", "0", "1000", "AUTH", "bad"]),
        "-ERR Target instance replied with error: WRONGPASS invalid username-password pair or user is disabled.\r\n"
    );
    // COPY keeps the source's key; a second copy meets the target's.
    assert_eq!(
        migrate(&mut s, &["k", "0", "1000", "AUTH", "pw", "COPY"]),
        "+OK\r\n"
    );
    assert_eq!(cmd(&mut s, &["EXISTS", "k"]), ":1\r\n");
    assert_eq!(
        migrate(&mut s, &["k", "0", "1000", "AUTH", "pw", "COPY"]),
        "-ERR Target instance replied with error: BUSYKEY Target key name already exists.\r\n"
    );
    assert_eq!(cmd(&mut s, &["SET", "k", "v2"]), "+OK\r\n");
    assert_eq!(
        migrate(
            &mut s,
            &["k", "0", "1000", "AUTH2", "default", "pw", "REPLACE"]
        ),
        "+OK\r\n"
    );
    assert_eq!(cmd(&mut s, &["EXISTS", "k"]), ":0\r\n");
    assert_eq!(cmd(&mut t, &["GET", "k"]), "$2\r\nv2\r\n");
    // KEYS: several keys of several types, with their TTLs, into another database.
    assert_eq!(cmd(&mut s, &["RPUSH", "l", "a", "b"]), ":2\r\n");
    assert_eq!(cmd(&mut s, &["PEXPIRE", "l", "500000"]), ":1\r\n");
    assert_eq!(cmd(&mut s, &["ZADD", "z", "1", "m"]), ":1\r\n");
    assert_eq!(
        migrate(
            &mut s,
            &["", "5", "1000", "AUTH", "pw", "KEYS", "l", "missing", "z"]
        ),
        "+OK\r\n"
    );
    assert_eq!(cmd(&mut s, &["EXISTS", "l", "z"]), ":0\r\n");
    assert_eq!(cmd(&mut t, &["SELECT", "5"]), "+OK\r\n");
    assert_eq!(
        cmd(&mut t, &["LRANGE", "l", "0", "-1"]),
        "*2\r\n$1\r\na\r\n$1\r\nb\r\n"
    );
    assert_eq!(cmd(&mut t, &["ZSCORE", "z", "m"]), "$1\r\n1\r\n");
    let pttl: i64 = cmd(&mut t, &["PTTL", "l"]).trim()[1..].parse().unwrap();
    assert!(pttl > 400_000 && pttl <= 500_000, "{pttl}");
    // A database the target does not have: its error, and the key stays here.
    assert_eq!(cmd(&mut s, &["SET", "k2", "v"]), "+OK\r\n");
    assert_eq!(
        migrate(&mut s, &["k2", "99", "1000", "AUTH", "pw"]),
        "-ERR Target instance replied with error: ERR DB index is out of range\r\n"
    );
    assert_eq!(cmd(&mut s, &["EXISTS", "k2"]), ":1\r\n");
    // One cached connection served every MIGRATE (the test's own client is the other).
    assert_eq!(connected_clients(&mut t), "2");
    // Argument errors, as Redis.
    assert_eq!(
        migrate(&mut s, &["k2", "0", "1000", "KEYS", "a"]),
        "-ERR When using MIGRATE KEYS option, the key argument must be set to the empty string\r\n"
    );
    assert_eq!(
        migrate(&mut s, &["k2", "0", "x"]),
        "-ERR value is not an integer or out of range\r\n"
    );
    assert_eq!(
        migrate(&mut s, &["k2", "0", "1", "AUTH2", "u"]),
        "-ERR syntax error\r\n"
    );
    assert_eq!(
        migrate(&mut s, &["k2", "0", "1", "FOO"]),
        "-ERR syntax error\r\n"
    );
}

#[test]
fn io_errors_are_redis_texts() {
    let source = Server::start(&[]);
    let mut s = source.raw();
    assert_eq!(cmd(&mut s, &["SET", "k", "v"]), "+OK\r\n");
    // Nothing listens there: refused, reported as the write that failed (as redis-server).
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port().to_string()
    };
    assert_eq!(
        cmd(&mut s, &["MIGRATE", "127.0.0.1", &closed, "k", "0", "1000"]),
        "-IOERR error or timeout writing to target instance\r\n"
    );
    // A listener that never answers: the read times out.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let silent_port = silent.local_addr().unwrap().port().to_string();
    assert_eq!(
        cmd(
            &mut s,
            &["MIGRATE", "127.0.0.1", &silent_port, "k", "0", "200"]
        ),
        "-IOERR error or timeout reading to target instance\r\n"
    );
    assert_eq!(cmd(&mut s, &["EXISTS", "k"]), ":1\r\n");
    drop(silent);
}

#[test]
fn from_redis_server_and_between_ferrocaches() {
    let source = redis(&[]);
    let middle = Server::start(&[]);
    let target = Server::start(&[]);
    let mut r = source.raw();
    let mut m = middle.raw();
    let mut t = target.raw();
    assert_eq!(cmd(&mut r, &["HSET", "h", "f", "1", "g", "2"]), ":2\r\n");
    assert_eq!(cmd(&mut r, &["PEXPIRE", "h", "500000"]), ":1\r\n");
    assert_eq!(cmd(&mut r, &["SADD", "s", "x", "y"]), ":2\r\n");
    assert_eq!(cmd(&mut r, &["SET", "n", "12345"]), "+OK\r\n");
    let mport = middle.port.to_string();
    assert_eq!(
        cmd(
            &mut r,
            &[
                "MIGRATE",
                "127.0.0.1",
                &mport,
                "",
                "3",
                "1000",
                "KEYS",
                "h",
                "s",
                "n"
            ]
        ),
        "+OK\r\n"
    );
    assert_eq!(cmd(&mut r, &["DBSIZE"]), ":0\r\n");
    assert_eq!(cmd(&mut m, &["SELECT", "3"]), "+OK\r\n");
    assert_eq!(cmd(&mut m, &["HGET", "h", "g"]), "$1\r\n2\r\n");
    assert_eq!(cmd(&mut m, &["SCARD", "s"]), ":2\r\n");
    assert_eq!(cmd(&mut m, &["GET", "n"]), "$5\r\n12345\r\n");
    let pttl: i64 = cmd(&mut m, &["PTTL", "h"]).trim()[1..].parse().unwrap();
    assert!(pttl > 400_000 && pttl <= 500_000, "{pttl}");
    // ferrocache to ferrocache, then back to redis-server.
    let tport = target.port.to_string();
    assert_eq!(
        cmd(&mut m, &["MIGRATE", "127.0.0.1", &tport, "h", "0", "1000"]),
        "+OK\r\n"
    );
    assert_eq!(cmd(&mut m, &["EXISTS", "h"]), ":0\r\n");
    assert_eq!(cmd(&mut t, &["HGET", "h", "f"]), "$1\r\n1\r\n");
    let rport = source.port.to_string();
    assert_eq!(
        cmd(
            &mut m,
            &["MIGRATE", "127.0.0.1", &rport, "s", "0", "1000", "COPY"]
        ),
        "+OK\r\n"
    );
    assert_eq!(cmd(&mut m, &["SCARD", "s"]), ":2\r\n");
    assert_eq!(
        cmd(&mut r, &["SMEMBERS", "s"]).len(),
        "*2\r\n$1\r\nx\r\n$1\r\ny\r\n".len()
    );
}

/// Reads one RESP command (array of bulk strings) from a stream: its arguments.
fn read_command(r: &mut std::io::BufReader<std::net::TcpStream>) -> Vec<Vec<u8>> {
    use std::io::{BufRead, Read};
    let mut line = String::new();
    r.read_line(&mut line).unwrap();
    let n: usize = line.trim()[1..].parse().unwrap();
    (0..n)
        .map(|_| {
            let mut len = String::new();
            r.read_line(&mut len).unwrap();
            let len: usize = len.trim()[1..].parse().unwrap();
            let mut arg = vec![0; len + 2];
            r.read_exact(&mut arg).unwrap();
            arg.truncate(len);
            arg
        })
        .collect()
}

/// The network step holds no lock: while the target has not answered, other clients write the
/// key being migrated, and MIGRATE then keeps it (it no longer holds the value sent).
#[test]
fn a_key_written_during_the_transfer_is_kept() {
    use std::io::Write;
    let source = Server::start(&[]);
    let mut s = source.raw();
    assert_eq!(cmd(&mut s, &["SET", "k", "old"]), "+OK\r\n");
    assert_eq!(cmd(&mut s, &["SET", "other", "x"]), "+OK\r\n");
    // A target that answers SELECT, then waits for the test before answering the RESTOREs.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port().to_string();
    let (restoring, got_restore) = std::sync::mpsc::channel();
    let (answer, may_answer) = std::sync::mpsc::channel::<()>();
    let target = std::thread::spawn(move || {
        let (stream, _) = listener.accept().unwrap();
        let mut w = stream.try_clone().unwrap();
        let mut r = std::io::BufReader::new(stream);
        assert_eq!(read_command(&mut r)[0], b"SELECT");
        w.write_all(b"+OK\r\n").unwrap();
        let keys: Vec<Vec<u8>> = (0..2)
            .map(|_| {
                let restore = read_command(&mut r);
                assert_eq!(restore[0], b"RESTORE");
                restore[1].clone()
            })
            .collect();
        restoring.send(keys).unwrap();
        may_answer.recv().unwrap();
        w.write_all(b"+OK\r\n+OK\r\n").unwrap();
    });
    let migrating = std::thread::spawn({
        let port_n = source.port;
        move || {
            let mut c = RawClient::connect(port_n);
            cmd(
                &mut c,
                &[
                    "MIGRATE",
                    "127.0.0.1",
                    &port,
                    "",
                    "0",
                    "20000",
                    "KEYS",
                    "k",
                    "other",
                ],
            )
        }
    });
    let keys = got_restore.recv().unwrap();
    assert_eq!(keys, vec![b"k".to_vec(), b"other".to_vec()]);
    // MIGRATE is waiting on the network: the keys are not locked.
    assert_eq!(cmd(&mut s, &["SET", "k", "new"]), "+OK\r\n");
    answer.send(()).unwrap();
    assert_eq!(migrating.join().unwrap(), "+OK\r\n");
    target.join().unwrap();
    // `other` held what was sent: deleted. `k` changed meanwhile: kept, with its new value.
    assert_eq!(cmd(&mut s, &["EXISTS", "other"]), ":0\r\n");
    assert_eq!(cmd(&mut s, &["GET", "k"]), "$3\r\nnew\r\n");
}
