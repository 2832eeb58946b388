//! Redis Functions against the real binary: libraries persisted in RDB files both ways with
//! redis-server, in the AOF (kill -9, rewrites with and without the RDB preamble), FUNCTION
//! KILL of a busy function, and a library whose load never ends. Waits are bounded polls.

mod common;
use common::{RawClient, Server};
use std::time::{Duration, Instant};

const LIB: &str = "#!lua name=queue\n\
redis.register_function('push', function(keys, args) return redis.call('rpush', keys[1], args[1]) end)\n\
redis.register_function{function_name='size', callback=function(keys) return redis.call('llen', keys[1]) end, flags={'no-writes'}, description='queue length'}";

const LIB2: &str = "#!lua name=other\nredis.register_function('hello', function(keys, args) return 'hello ' .. args[1] end)";

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

fn assert_queue_library(c: &mut RawClient, expected_len: i64) {
    assert_eq!(
        cmd(c, &["FCALL_RO", "size", "1", "q"]),
        format!(":{expected_len}\r\n")
    );
    let listing = cmd(c, &["FUNCTION", "LIST", "LIBRARYNAME", "queue", "WITHCODE"]);
    assert!(listing.contains("queue length"), "{listing}");
    assert!(listing.contains(&LIB[..20]), "{listing}");
}

#[test]
fn libraries_move_through_rdb_files_both_ways_with_redis_server() {
    let Some(redis) = Server::start_redis(&[]) else {
        panic!("redis-server is not installed: the test command installs it (see README)");
    };
    let mut r = redis.raw();
    assert_eq!(cmd(&mut r, &["FUNCTION", "LOAD", LIB]), "$5\r\nqueue\r\n");
    assert_eq!(cmd(&mut r, &["FCALL", "push", "1", "q", "a"]), ":1\r\n");
    assert_eq!(cmd(&mut r, &["SAVE"]), "+OK\r\n");

    // redis-server's file in ferrocache.
    let dir = common::temp_dir("functions-from-redis");
    std::fs::copy(redis.dir.join("dump.rdb"), dir.join("dump.rdb")).unwrap();
    let ours = Server::start_in(dir, &[]);
    let mut c = ours.raw();
    assert_queue_library(&mut c, 1);
    assert_eq!(cmd(&mut c, &["FCALL", "push", "1", "q", "b"]), ":2\r\n");
    assert_eq!(cmd(&mut c, &["FUNCTION", "LOAD", LIB2]), "$5\r\nother\r\n");
    assert_eq!(cmd(&mut c, &["SAVE"]), "+OK\r\n");

    // ferrocache's file in redis-server.
    let dir = common::temp_dir("functions-to-redis");
    std::fs::copy(ours.dir.join("dump.rdb"), dir.join("dump.rdb")).unwrap();
    let dir_arg = dir.to_str().unwrap().to_string();
    let back = Server::start_redis(&["--dir", &dir_arg]).expect("redis-server starts");
    let mut b = back.raw();
    assert_queue_library(&mut b, 2);
    assert_eq!(
        cmd(&mut b, &["FCALL", "hello", "0", "world"]),
        "$11\r\nhello world\r\n"
    );
    // FUNCTION DUMP payloads move both ways too.
    let payload = b.cmd(&["FUNCTION", "DUMP"]);
    let payload =
        &payload[payload.iter().position(|&x| x == b'\n').unwrap() + 1..payload.len() - 2];
    let fresh = Server::start(&[]);
    let mut f = fresh.raw();
    f.send(&[b"FUNCTION", b"RESTORE", payload]);
    assert_eq!(f.read_reply().unwrap(), b"+OK\r\n");
    assert_queue_library(&mut f, 0);
    let ours_payload = f.cmd(&["FUNCTION", "DUMP"]);
    let ours_payload = &ours_payload
        [ours_payload.iter().position(|&x| x == b'\n').unwrap() + 1..ours_payload.len() - 2];
    b.send(&[b"FUNCTION", b"RESTORE", ours_payload, b"REPLACE"]);
    assert_eq!(b.read_reply().unwrap(), b"+OK\r\n");
}

#[test]
fn libraries_survive_kill9_through_the_aof_and_its_rewrites() {
    for preamble in ["yes", "no"] {
        let args = ["--appendonly", "yes", "--aof-use-rdb-preamble", preamble];
        let server = Server::start(&args);
        let mut c = server.raw();
        assert_eq!(cmd(&mut c, &["FUNCTION", "LOAD", LIB]), "$5\r\nqueue\r\n");
        assert_eq!(cmd(&mut c, &["FUNCTION", "LOAD", LIB2]), "$5\r\nother\r\n");
        assert_eq!(cmd(&mut c, &["FCALL", "push", "1", "q", "a"]), ":1\r\n");
        let server = restart(server, &args);
        let mut c = server.raw();
        assert_queue_library(&mut c, 1);
        let info = cmd(&mut c, &["INFO", "memory"]);
        assert!(
            info.contains("number_of_functions:3\r\nnumber_of_libraries:2\r\n"),
            "{info}"
        );
        // A rewrite writes the libraries into the base; later changes go to the new log.
        assert_eq!(
            cmd(&mut c, &["BGREWRITEAOF"]),
            "+Background append only file rewriting started\r\n"
        );
        let deadline = Instant::now() + Duration::from_secs(20);
        while cmd(&mut c, &["INFO", "persistence"]).contains("aof_rewrite_in_progress:1") {
            assert!(Instant::now() < deadline, "the rewrite did not finish");
            std::thread::sleep(Duration::from_millis(20));
        }
        assert_eq!(cmd(&mut c, &["FUNCTION", "DELETE", "other"]), "+OK\r\n");
        assert_eq!(cmd(&mut c, &["FCALL", "push", "1", "q", "b"]), ":2\r\n");
        let server = restart(server, &args);
        let mut c = server.raw();
        assert_queue_library(&mut c, 2);
        assert_eq!(
            cmd(&mut c, &["FCALL", "hello", "0", "x"]),
            "-ERR Function not found\r\n",
            "preamble {preamble}"
        );
    }
}

fn wait_for(client: &mut RawClient, args: &[&str], prefix: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let reply = cmd(client, args);
        if reply.starts_with(prefix) {
            return reply;
        }
        assert!(
            Instant::now() < deadline,
            "{args:?} still answers {reply:?}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn function_kill_stops_a_busy_function_and_script_kill_does_not() {
    let server = Server::start(&["--busy-reply-threshold", "50"]);
    let mut a = server.raw();
    let mut b = server.raw();
    let spin = "#!lua name=spin\nredis.register_function('spin', function() local i = 0 while true do i = i + 1 end end)";
    assert_eq!(cmd(&mut a, &["FUNCTION", "LOAD", spin]), "$4\r\nspin\r\n");
    a.send(&[b"FCALL", b"spin", b"0"]);
    wait_for(
        &mut b,
        &["PING"],
        "-BUSY Redis is busy running a script. You can only call FUNCTION KILL or SHUTDOWN NOSAVE.",
    );
    assert_eq!(
        cmd(&mut b, &["SCRIPT", "KILL"]),
        "-BUSY Redis is busy running a script. You can only call FUNCTION KILL or SHUTDOWN NOSAVE.\r\n"
    );
    let stats = cmd(&mut b, &["FUNCTION", "STATS"]);
    assert!(
        stats.contains("$4\r\nspin\r\n$7\r\ncommand\r\n*3\r\n$5\r\nFCALL\r\n"),
        "{stats}"
    );
    assert_eq!(cmd(&mut b, &["FUNCTION", "KILL"]), "+OK\r\n");
    assert_eq!(
        String::from_utf8(a.read_reply().unwrap()).unwrap(),
        "-ERR Script killed by user with SCRIPT KILL... script: spin, on @user_function:2.\r\n"
    );
    assert_eq!(cmd(&mut b, &["PING"]), "+PONG\r\n");
    assert_eq!(
        cmd(&mut b, &["FUNCTION", "KILL"]),
        "-NOTBUSY No scripts in execution right now.\r\n"
    );
    // A function that wrote cannot be killed; an EVAL script is not FUNCTION KILL's.
    a.send(&[b"EVAL", b"local i = 0 while true do i = i + 1 end", b"0"]);
    wait_for(&mut b, &["PING"], "-BUSY");
    assert_eq!(
        cmd(&mut b, &["FUNCTION", "KILL"]),
        "-BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.\r\n"
    );
    assert_eq!(cmd(&mut b, &["SCRIPT", "KILL"]), "+OK\r\n");
    assert!(String::from_utf8(a.read_reply().unwrap())
        .unwrap()
        .starts_with("-ERR Script killed by user with SCRIPT KILL..."));
}

#[test]
fn a_library_whose_load_never_ends_times_out() {
    let server = Server::start(&[]);
    let mut c = server.raw();
    let endless = "#!lua name=endless\nlocal i = 0 while true do i = i + 1 end";
    assert_eq!(
        cmd(&mut c, &["FUNCTION", "LOAD", endless]),
        "-ERR Error registering functions: ERR FUNCTION LOAD timeout\r\n"
    );
    assert_eq!(cmd(&mut c, &["FUNCTION", "LIST"]), "*0\r\n");
    assert_eq!(cmd(&mut c, &["FUNCTION", "LOAD", LIB]), "$5\r\nqueue\r\n");
    assert_eq!(cmd(&mut c, &["FCALL", "push", "1", "q", "a"]), ":1\r\n");
}

/// `redis.set_repl`: writes a script runs without REPL_AOF are not logged, so a restart from
/// the AOF does not have them (as in Redis, where they reach neither the AOF nor replicas).
#[test]
fn set_repl_keeps_writes_out_of_the_aof() {
    let args = ["--appendonly", "yes"];
    let server = Server::start(&args);
    let mut c = server.raw();
    let script = "redis.set_repl(redis.REPL_NONE) redis.call('set', 'unlogged', 1) \
                  redis.set_repl(redis.REPL_REPLICA) redis.call('set', 'replica_only', 1) \
                  redis.set_repl(redis.REPL_AOF) redis.call('set', 'aof_only', 1) \
                  redis.set_repl(redis.REPL_ALL) redis.call('set', 'logged', 1) return 1";
    assert_eq!(cmd(&mut c, &["EVAL", script, "0"]), ":1\r\n");
    assert_eq!(cmd(&mut c, &["GET", "unlogged"]), "$1\r\n1\r\n");
    let server = restart(server, &args);
    let mut c = server.raw();
    assert_eq!(
        cmd(
            &mut c,
            &["MGET", "unlogged", "replica_only", "aof_only", "logged"]
        ),
        "*4\r\n$-1\r\n$-1\r\n$1\r\n1\r\n$1\r\n1\r\n"
    );
}
