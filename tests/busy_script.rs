//! A script running past busy-reply-threshold (issue 23): the server keeps answering every
//! client as Redis does (allow-busy commands run, the rest get BUSY, in MULTI they flag the
//! transaction), SCRIPT KILL and SHUTDOWN NOSAVE always get through, WATCH taken meanwhile stays
//! correct, and signals are handled as Redis handles them. Most cases run against redis-server
//! too and compare the replies byte for byte.
//!
//! No timing assertions: a command sent while the script runs gets its answer whenever the
//! server gives it, and a wedge fails the test through the client's read timeout. The debug
//! binary also checks that no connection task waits for a shard lock outside a gate section
//! (keyspace/lock_rules.rs), which would panic the connection and fail the read.

mod common;

use common::{RawClient, Server};
use std::time::Duration;

const BUSY: &str =
    "-BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.\r\n";
const LOOP: &str = "while true do end";

/// Spinning servers run one at a time: on a 2-core machine two spinning servers and the test
/// threads would starve each other.
static SPINNING: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn one_at_a_time() -> std::sync::MutexGuard<'static, ()> {
    SPINNING.lock().unwrap_or_else(|e| e.into_inner())
}

fn ferrocache(workers: &str) -> Server {
    Server::start_with_env(
        common::temp_dir("busy"),
        &["--busy-reply-threshold", "100"],
        &[("TOKIO_WORKER_THREADS", workers)],
    )
}

fn redis() -> Server {
    Server::start_redis(&["--busy-reply-threshold", "100"])
        .expect("redis-server is not installed: tests/run.sh installs it")
}

/// Waits for the server process to exit (a generous limit, so a server that ignores its
/// shutdown fails the test instead of hanging it).
fn wait_exit(server: &mut Server) -> std::process::ExitStatus {
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(status) = server.child.try_wait().expect("wait") {
            return status;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the server did not exit"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn reply(client: &mut RawClient) -> String {
    String::from_utf8_lossy(
        &client
            .read_reply()
            .expect("a reply, not a closed connection"),
    )
    .into_owned()
}

/// Starts `script` on a new client and returns once the server answers another client BUSY
/// (a command sent before the threshold waits for it, so the first PING usually says BUSY).
fn start_busy(port: u16, script: &str, keys: &[&str]) -> RawClient {
    let mut runner = RawClient::connect(port);
    let numkeys = keys.len().to_string();
    let mut argv: Vec<&[u8]> = vec![b"EVAL", script.as_bytes(), numkeys.as_bytes()];
    argv.extend(keys.iter().map(|k| k.as_bytes()));
    runner.send(&argv);
    let mut probe = RawClient::connect(port);
    for _ in 0..1000 {
        let answer = probe.cmd_str(&["PING"]);
        if answer == BUSY {
            return runner;
        }
        assert_eq!(answer, "+PONG\r\n");
        std::thread::sleep(Duration::from_millis(5));
    }
    panic!("the script never made the server BUSY");
}

/// Issue 23's five steps, then the watcher's transaction; returns every reply.
fn five_steps(port: u16) -> Vec<String> {
    let mut c = RawClient::connect(port);
    let mut out = vec![c.cmd_str(&["SET", "foo", "0"])];
    let mut a = start_busy(port, LOOP, &[]);
    let mut b = RawClient::connect(port);
    out.push(b.cmd_str(&["WATCH", "foo"]));
    out.push(c.cmd_str(&["PING"]));
    out.push(c.cmd_str(&["SCRIPT", "KILL"]));
    out.push(reply(&mut a));
    // The script wrote nothing: the watch taken while it ran does not fail EXEC.
    out.push(b.cmd_str(&["MULTI"]));
    out.push(b.cmd_str(&["SET", "foo", "1"]));
    out.push(b.cmd_str(&["EXEC"]));
    out.push(c.cmd_str(&["GET", "foo"]));
    out.push(a.cmd_str(&["PING"]));
    out
}

#[test]
fn five_steps_of_issue_23_answer_as_redis_with_one_and_two_workers() {
    let _one = one_at_a_time();
    let expected = {
        let redis = redis();
        five_steps(redis.port)
    };
    assert_eq!(expected[1], "+OK\r\n");
    assert_eq!(expected[2], BUSY);
    for workers in ["1", "2"] {
        let server = ferrocache(workers);
        assert_eq!(five_steps(server.port), expected, "{workers} worker(s)");
    }
}

/// WATCH taken while a script is busy; the script then writes one of the watched keys.
fn watch_then_script_writes(port: u16) -> Vec<String> {
    let mut out = Vec::new();
    let mut setup = RawClient::connect(port);
    out.push(setup.cmd_str(&["MSET", "foo", "0", "bar", "0"]));
    // Busy for a while (CPU time), then writes foo.
    let script = "local function now() local t = redis.call('time') \
                  return tonumber(t[1]) + tonumber(t[2]) / 1e6 end \
                  local t = now() while now() - t < 1.5 do end \
                  redis.call('set', KEYS[1], 'script') return 1";
    let mut a = start_busy(port, script, &["foo"]);
    let mut on_foo = RawClient::connect(port);
    let mut on_bar = RawClient::connect(port);
    out.push(on_foo.cmd_str(&["WATCH", "foo"]));
    out.push(on_bar.cmd_str(&["WATCH", "bar"]));
    // Still busy: the watches were taken while the script ran.
    out.push(setup.cmd_str(&["PING"]));
    out.push(reply(&mut a));
    for client in [&mut on_foo, &mut on_bar] {
        out.push(client.cmd_str(&["MULTI"]));
        out.push(client.cmd_str(&["SET", "foo", "client"]));
        out.push(client.cmd_str(&["EXEC"]));
    }
    out.push(setup.cmd_str(&["GET", "foo"]));
    out
}

#[test]
fn a_watch_taken_during_a_busy_script_fails_exec_if_the_script_writes_the_key() {
    let _one = one_at_a_time();
    let expected = {
        let redis = redis();
        watch_then_script_writes(redis.port)
    };
    assert_eq!(
        expected[3], BUSY,
        "the watches must be taken while the script runs"
    );
    assert_eq!(expected[7], "*-1\r\n");
    let server = ferrocache("2");
    assert_eq!(watch_then_script_writes(server.port), expected);
}

/// MULTI against a busy script, on one RESP2 and one RESP3 connection.
fn multi_while_busy(port: u16) -> Vec<String> {
    let mut out = Vec::new();
    let mut a = start_busy(port, LOOP, &[]);
    let mut resp3 = RawClient::connect(port);
    resp3.send(&[b"HELLO", b"3"]);
    resp3.resp3 = true;
    resp3.read_reply().expect("HELLO");
    let mut b = RawClient::connect(port);
    for client in [&mut b, &mut resp3] {
        for cmd in [
            &["MULTI"][..],
            &["SET", "k", "v"],
            &["PING"],
            &["WATCH", "k"],
            &["NOSUCHCOMMAND"],
            &["SCRIPT", "KILL", "extra"],
            &["EXEC"],
            &["GET", "k"],
            &["EXEC"],
            &["DISCARD"],
            &["MULTI"],
            &["MULTI"],
            &["DISCARD"],
            &["MULTI"],
            &["EXEC"],
            &["UNWATCH"],
            &["SHUTDOWN"],
            &["SHUTDOWN", "ABORT"],
            &["FUNCTION", "KILL"],
            &["CLIENT", "ID"],
            &["EVAL", "return 1", "0"],
        ] {
            out.push(client.cmd_str(cmd));
        }
    }
    out.push(b.cmd_str(&["SCRIPT", "KILL"]));
    out.push(reply(&mut a));
    out.push(b.cmd_str(&["MULTI"]));
    out.push(b.cmd_str(&["SET", "k", "v"]));
    out.push(b.cmd_str(&["EXEC"]));
    out
}

#[test]
fn multi_during_a_busy_script_is_flagged_and_exec_aborts_as_in_redis() {
    let _one = one_at_a_time();
    let expected = {
        let redis = redis();
        multi_while_busy(redis.port)
    };
    let server = ferrocache("2");
    let ours = multi_while_busy(server.port);
    assert_eq!(ours.len(), expected.len());
    for (i, (o, r)) in ours.iter().zip(&expected).enumerate() {
        assert_eq!(o, r, "reply {i}");
    }
}

/// Every command of the command table (with subcommands), with arguments of a valid count.
fn command_table(port: u16) -> Vec<(Vec<String>, bool)> {
    use redis::Value;
    let client = redis::Client::open(format!("redis://127.0.0.1:{port}/")).unwrap();
    let mut con = client.get_connection().unwrap();
    let table: Value = redis::cmd("COMMAND").query(&mut con).unwrap();
    fn text(v: &Value) -> String {
        match v {
            Value::BulkString(b) => String::from_utf8_lossy(b).into_owned(),
            Value::SimpleString(s) => s.clone(),
            Value::Okay => "OK".into(),
            other => format!("{other:?}"),
        }
    }
    fn walk(entry: &Value, out: &mut Vec<(Vec<String>, bool)>) {
        let Value::Array(fields) = entry else { return };
        let name = text(&fields[0]);
        let Value::Int(arity) = fields[1] else { return };
        let allow_busy = match &fields[2] {
            Value::Array(flags) | Value::Set(flags) => {
                flags.iter().any(|f| text(f) == "allow_busy")
            }
            _ => false,
        };
        let subs = match fields.get(9) {
            Some(Value::Array(subs)) if !subs.is_empty() => subs.clone(),
            _ => Vec::new(),
        };
        if !subs.is_empty() {
            for sub in &subs {
                walk(sub, out);
            }
            return;
        }
        let mut argv: Vec<String> = name.split('|').map(str::to_string).collect();
        let wanted = arity.unsigned_abs() as usize;
        while argv.len() < wanted {
            argv.push("k".into());
        }
        out.push((argv, allow_busy));
    }
    let Value::Array(entries) = table else {
        panic!("COMMAND: {table:?}")
    };
    let mut out = Vec::new();
    for entry in &entries {
        walk(entry, &mut out);
    }
    out.sort();
    assert!(out.len() > 200, "{} commands", out.len());
    out
}

/// A small dataset and a fingerprint of it (every key with its DUMP).
fn fingerprint(client: &mut RawClient) -> Vec<String> {
    let keys = client.cmd_str(&["KEYS", "*"]);
    let mut keys: Vec<String> = keys
        .split("\r\n")
        .filter(|l| !l.is_empty() && !l.starts_with('*') && !l.starts_with('$'))
        .map(str::to_string)
        .collect();
    keys.sort();
    let mut out = Vec::new();
    for key in keys {
        out.push(format!("{key} {}", client.cmd_str(&["DUMP", &key])));
    }
    out
}

fn fill(client: &mut RawClient) {
    for cmd in [
        &["SET", "s", "1"][..],
        &["RPUSH", "l", "a", "b"],
        &["HSET", "h", "f", "v"],
        &["SADD", "st", "a", "b"],
        &["ZADD", "z", "1", "m"],
        &["SET", "k", "v"],
    ] {
        client.cmd_str(cmd);
    }
}

/// Sends every command of the table while `script` is busy: from a plain client, inside MULTI,
/// and from a subscribed client; allow-busy commands each from their own client. Checks each
/// answer and returns the clients still open (plain, multi, subscribed).
fn sweep(
    port: u16,
    table: &[(Vec<String>, bool)],
    mut subscribed: RawClient,
) -> (RawClient, RawClient, RawClient) {
    let mut plain = RawClient::connect(port);
    let mut multi = RawClient::connect(port);
    assert_eq!(multi.cmd_str(&["MULTI"]), "+OK\r\n");
    let sent: Vec<&Vec<String>> = table
        .iter()
        .filter(|(argv, allow)| !allow && argv[0] != "exec")
        .map(|(argv, _)| argv)
        .collect();
    for argv in &sent {
        let args: Vec<&[u8]> = argv.iter().map(|a| a.as_bytes()).collect();
        plain.send(&args);
        multi.send(&args);
        subscribed.send(&args);
    }
    for argv in &sent {
        let answer = reply(&mut plain);
        assert_eq!(answer, BUSY, "{argv:?}");
        let answer = reply(&mut multi);
        assert!(
            answer == BUSY || answer == "-ERR Command not allowed inside a transaction\r\n",
            "{argv:?} in MULTI: {answer:?}"
        );
        let answer = reply(&mut subscribed);
        assert!(
            answer == BUSY || answer.starts_with("-ERR Can't execute '"),
            "{argv:?} subscribed: {answer:?}"
        );
    }
    for (argv, allow) in table {
        if !allow || argv.starts_with(&["script".to_string(), "kill".to_string()]) {
            continue;
        }
        let args: Vec<&str> = argv.iter().map(String::as_str).collect();
        let mut own = RawClient::connect(port);
        own.send(&args.iter().map(|a| a.as_bytes()).collect::<Vec<_>>());
        let answer = own.read_reply();
        if argv[0] == "quit" {
            assert_eq!(answer.as_deref(), Some(&b"+OK\r\n"[..]));
        } else {
            let answer = String::from_utf8_lossy(&answer.expect("an answer")).into_owned();
            // SHUTDOWN without NOSAVE and FUNCTION KILL (an EVAL script runs) answer BUSY
            // themselves, as in Redis.
            assert!(
                answer != BUSY || argv[0] == "shutdown" || argv[..] == ["function", "kill"],
                "{argv:?}: {answer:?}"
            );
            // The connection still answers (not wedged behind the script).
            assert!(!own.cmd_str(&["PING"]).is_empty());
        }
    }
    (plain, multi, subscribed)
}

#[test]
fn every_command_answers_while_a_script_loops_and_script_kill_restores_the_state() {
    let _one = one_at_a_time();
    let server = ferrocache("2");
    let table = command_table(server.port);
    let mut setup = server.raw();
    fill(&mut setup);
    let before = fingerprint(&mut setup);
    // Subscribed before the script starts (SUBSCRIBE itself is refused while it is busy).
    let mut subscriber = server.raw();
    subscriber.cmd_str(&["SUBSCRIBE", "ch"]);
    let mut a = start_busy(server.port, LOOP, &[]);
    let (mut plain, mut multi, mut subscriber) = sweep(server.port, &table, subscriber);
    let mut watcher = server.raw();
    assert_eq!(watcher.cmd_str(&["WATCH", "s"]), "+OK\r\n");
    assert_eq!(plain.cmd_str(&["PING"]), BUSY);
    assert_eq!(setup.cmd_str(&["SCRIPT", "KILL"]), "+OK\r\n");
    assert!(reply(&mut a).starts_with("-ERR Script killed by user with SCRIPT KILL..."));
    // Every client gets its normal replies again and nothing changed.
    assert_eq!(plain.cmd_str(&["PING"]), "+PONG\r\n");
    assert_eq!(
        multi.cmd_str(&["EXEC"]),
        "-EXECABORT Transaction discarded because of previous errors.\r\n"
    );
    assert_eq!(
        subscriber.cmd_str(&["PING"]),
        "*2\r\n$4\r\npong\r\n$0\r\n\r\n"
    );
    assert_eq!(watcher.cmd_str(&["MULTI"]), "+OK\r\n");
    assert_eq!(watcher.cmd_str(&["GET", "s"]), "+QUEUED\r\n");
    assert_eq!(watcher.cmd_str(&["EXEC"]), "*1\r\n$1\r\n1\r\n");
    assert_eq!(fingerprint(&mut setup), before);
    assert_eq!(a.cmd_str(&["PING"]), "+PONG\r\n");
}

#[test]
fn a_script_that_wrote_only_yields_to_shutdown_nosave() {
    let _one = one_at_a_time();
    let mut server = ferrocache("1");
    let table = command_table(server.port);
    let mut setup = server.raw();
    fill(&mut setup);
    let mut subscriber = server.raw();
    subscriber.cmd_str(&["SUBSCRIBE", "ch"]);
    let mut a = start_busy(
        server.port,
        "redis.call('set', 'w', '1') while true do end",
        &[],
    );
    let (mut plain, _multi, _subscriber) = sweep(server.port, &table, subscriber);
    assert!(setup
        .cmd_str(&["SCRIPT", "KILL"])
        .starts_with("-UNKILLABLE Sorry the script already executed write commands"));
    assert_eq!(setup.cmd_str(&["SHUTDOWN"]), BUSY);
    assert_eq!(plain.cmd_str(&["PING"]), BUSY);
    setup.send(&[b"SHUTDOWN", b"NOSAVE"]);
    let status = wait_exit(&mut server);
    assert!(status.success(), "{status:?}");
    // The script's client is disconnected without a reply, like everyone else.
    assert!(a.read_reply().is_none());
}

#[test]
fn sigterm_during_a_busy_script_shuts_down_once_the_script_is_killed() {
    let _one = one_at_a_time();
    let mut server = ferrocache("2");
    let mut a = start_busy(server.port, LOOP, &[]);
    let pid = server.pid().to_string();
    let kill = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap();
    assert!(kill.success());
    // Redis keeps answering (BUSY) until the script ends, then runs the scheduled shutdown.
    let mut other = server.raw();
    assert_eq!(other.cmd_str(&["PING"]), BUSY);
    assert_eq!(other.cmd_str(&["SCRIPT", "KILL"]), "+OK\r\n");
    let status = wait_exit(&mut server);
    assert!(status.success(), "{status:?}");
    let _ = a.read_reply();
    assert!(server
        .log_text()
        .contains("Received SIGTERM scheduling shutdown"));
}

#[test]
fn a_second_sigint_during_an_unkillable_script_exits_at_once() {
    let _one = one_at_a_time();
    let mut server = ferrocache("2");
    let _a = start_busy(
        server.port,
        "redis.call('set', 'w', '1') while true do end",
        &[],
    );
    let pid = server.pid().to_string();
    let sigint = || {
        std::process::Command::new("kill")
            .args(["-INT", &pid])
            .status()
            .unwrap()
    };
    assert!(sigint().success());
    let mut other = server.raw();
    assert_eq!(other.cmd_str(&["PING"]), BUSY);
    // Two signals sent back to back may be delivered as one: send the second once the first
    // was handled.
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while !server
        .log_text()
        .contains("Received SIGINT scheduling shutdown")
    {
        assert!(std::time::Instant::now() < deadline, "SIGINT not handled");
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(sigint().success());
    let status = wait_exit(&mut server);
    assert_eq!(status.code(), Some(1), "{status:?}");
}
