//! SLOWLOG and LATENCY over real connections: the structure of slow log entries (id, time,
//! duration, trimmed and redacted arguments, client address and name), which commands are
//! logged (MULTI/EXEC, scripts), the thresholds and the latency monitor's events.
//! Timing-independent errors and replies are compared with redis-server in
//! tests/differential/80_slowlog_latency.redis.

mod common;
use common::Server;

type Entry = (i64, i64, i64, Vec<Vec<u8>>, String, String);

fn connect(server: &Server) -> redis::Connection {
    redis::Client::open(server.url())
        .unwrap()
        .get_connection()
        .unwrap()
}

fn run(con: &mut redis::Connection, args: &[&str]) -> redis::Value {
    let mut cmd = redis::cmd(args[0]);
    for a in &args[1..] {
        cmd.arg(*a);
    }
    cmd.query(con).unwrap()
}

fn slowlog(con: &mut redis::Connection, count: i64) -> Vec<Entry> {
    redis::cmd("SLOWLOG")
        .arg("GET")
        .arg(count)
        .query(con)
        .unwrap()
}

fn words(argv: &[Vec<u8>]) -> Vec<String> {
    argv.iter()
        .map(|a| String::from_utf8_lossy(a).into_owned())
        .collect()
}

/// The `ip:port` this connection has on the server, from CLIENT INFO.
fn my_addr(con: &mut redis::Connection) -> String {
    let info: String = redis::cmd("CLIENT").arg("INFO").query(con).unwrap();
    info.split(' ')
        .find_map(|f| f.strip_prefix("addr="))
        .unwrap()
        .to_string()
}

#[test]
fn entries_have_redis_fields_newest_first() {
    let server = Server::start(&["--slowlog-log-slower-than", "0"]);
    let mut con = connect(&server);
    run(&mut con, &["CLIENT", "SETNAME", "tester"]);
    run(&mut con, &["SLOWLOG", "RESET"]);
    run(&mut con, &["SET", "foo", "bar"]);
    run(&mut con, &["GET", "foo"]);
    let entries = slowlog(&mut con, 10);
    let addr = my_addr(&mut con);
    // SLOWLOG RESET is logged after it ran; SLOWLOG GET is not in its own reply.
    let argvs: Vec<Vec<String>> = entries.iter().map(|e| words(&e.3)).collect();
    assert_eq!(
        argvs,
        vec![
            vec!["GET", "foo"],
            vec!["SET", "foo", "bar"],
            vec!["SLOWLOG", "RESET"]
        ]
    );
    for (i, (id, time, duration, _, peer, name)) in entries.iter().enumerate() {
        if i > 0 {
            assert_eq!(*id, entries[i - 1].0 - 1, "ids count down, newest first");
        }
        assert!(*time > 1_600_000_000, "unix seconds: {time}");
        assert!(*duration >= 0);
        assert_eq!(*peer, addr);
        assert_eq!(name, "tester");
    }
    // The GET above is now logged too; -1 means everything; 0 nothing.
    assert_eq!(slowlog(&mut con, -1).len(), 5);
    assert!(slowlog(&mut con, 0).is_empty());
    let len: i64 = redis::cmd("SLOWLOG").arg("LEN").query(&mut con).unwrap();
    assert_eq!(len, 7);
}

#[test]
fn default_count_is_ten_and_max_len_bounds_the_log() {
    let server = Server::start(&["--slowlog-log-slower-than", "0", "--slowlog-max-len", "15"]);
    let mut con = connect(&server);
    for i in 0..30 {
        run(&mut con, &["SET", &format!("k{i}"), "v"]);
    }
    assert_eq!(slowlog(&mut con, 10).len(), 10);
    let all = slowlog(&mut con, -1);
    assert_eq!(all.len(), 15);
    assert_eq!(words(&all[0].3), vec!["SLOWLOG", "GET", "10"]);
    run(&mut con, &["CONFIG", "SET", "slowlog-max-len", "3"]);
    let len: i64 = redis::cmd("SLOWLOG").arg("LEN").query(&mut con).unwrap();
    assert_eq!(len, 3);
    // Ids keep counting across RESET.
    let last_id = slowlog(&mut con, 1)[0].0;
    run(&mut con, &["SLOWLOG", "RESET"]);
    let after = slowlog(&mut con, -1);
    assert_eq!(after.len(), 1);
    assert!(after[0].0 > last_id);
}

#[test]
fn thresholds_decide_what_is_logged() {
    let server = Server::start(&["--enable-debug-command", "yes"]);
    let mut con = connect(&server);
    // The default threshold is 10 ms: a 50 ms command is logged, a PING is not.
    run(&mut con, &["SLOWLOG", "RESET"]);
    run(&mut con, &["DEBUG", "SLEEP", "0.05"]);
    let entries = slowlog(&mut con, -1);
    assert_eq!(entries.len(), 1, "{entries:?}");
    assert_eq!(words(&entries[0].3), vec!["DEBUG", "SLEEP", "0.05"]);
    assert!(entries[0].2 >= 50_000, "duration {} us", entries[0].2);
    // -1 disables the log.
    run(
        &mut con,
        &["CONFIG", "SET", "slowlog-log-slower-than", "-1"],
    );
    run(&mut con, &["SLOWLOG", "RESET"]);
    run(&mut con, &["DEBUG", "SLEEP", "0.02"]);
    assert!(slowlog(&mut con, -1).is_empty());
}

#[test]
fn long_commands_are_trimmed_like_redis() {
    let server = Server::start(&["--slowlog-log-slower-than", "0"]);
    let mut con = connect(&server);
    let mut cmd = redis::cmd("MSET");
    for i in 0..20 {
        cmd.arg(format!("key{i}")).arg(i);
    }
    let _: () = cmd.query(&mut con).unwrap();
    let big = "x".repeat(300);
    run(&mut con, &["SET", "big", &big]);
    let entries = slowlog(&mut con, 2);
    let set = words(&entries[0].3);
    assert_eq!(set[2], format!("{}... (172 more bytes)", "x".repeat(128)));
    let mset = words(&entries[1].3);
    assert_eq!(mset.len(), 32);
    assert_eq!(mset[0], "MSET");
    assert_eq!(mset[29], "key14");
    assert_eq!(mset[30], "14");
    assert_eq!(mset[31], "... (10 more arguments)");
}

#[test]
fn passwords_never_reach_the_log() {
    let server = Server::start(&["--slowlog-log-slower-than", "0"]);
    let mut con = connect(&server);
    run(&mut con, &["CONFIG", "SET", "requirepass", "s3cret-pw"]);
    run(&mut con, &["AUTH", "s3cret-pw"]);
    run(&mut con, &["AUTH", "default", "s3cret-pw"]);
    run(&mut con, &["HELLO", "2", "AUTH", "default", "s3cret-pw"]);
    let entries = slowlog(&mut con, -1);
    let all: Vec<Vec<String>> = entries.iter().map(|e| words(&e.3)).collect();
    assert!(
        !format!("{all:?}").contains("s3cret"),
        "password in the slow log: {all:?}"
    );
    assert!(all.contains(&vec!["AUTH".into(), "(redacted)".into()]));
    assert!(all.contains(&vec![
        "HELLO".into(),
        "2".into(),
        "AUTH".into(),
        "(redacted)".into(),
        "(redacted)".into()
    ]));
    assert!(all.contains(&vec![
        "CONFIG".into(),
        "SET".into(),
        "requirepass".into(),
        "(redacted)".into()
    ]));
}

#[test]
fn transactions_log_queued_commands_and_not_exec() {
    let server = Server::start(&["--slowlog-log-slower-than", "0"]);
    let mut con = connect(&server);
    run(&mut con, &["SLOWLOG", "RESET"]);
    let _: () = redis::pipe()
        .atomic()
        .cmd("SET")
        .arg("x")
        .arg("1")
        .ignore()
        .cmd("INCR")
        .arg("x")
        .ignore()
        .query(&mut con)
        .unwrap();
    let names: Vec<String> = slowlog(&mut con, -1)
        .iter()
        .map(|e| words(&e.3)[0].to_ascii_uppercase())
        .collect();
    assert_eq!(names, vec!["INCR", "SET", "MULTI", "SLOWLOG"]);
}

#[test]
fn commands_called_by_scripts_are_logged_as_the_script_client() {
    let server = Server::start(&["--slowlog-log-slower-than", "0"]);
    let mut con = connect(&server);
    run(&mut con, &["CLIENT", "SETNAME", "caller"]);
    run(&mut con, &["SLOWLOG", "RESET"]);
    run(
        &mut con,
        &["EVAL", "return redis.call('set', KEYS[1], 'v')", "1", "k"],
    );
    let entries = slowlog(&mut con, 2);
    assert_eq!(words(&entries[0].3)[0], "EVAL");
    assert_eq!(entries[0].4, my_addr(&mut con));
    assert_eq!(entries[0].5, "caller");
    assert_eq!(words(&entries[1].3), vec!["set", "k", "v"]);
    assert_eq!(entries[1].4, "?:0");
    assert_eq!(entries[1].5, "");
}

#[test]
fn latency_monitor_records_slow_commands() {
    let server = Server::start(&["--enable-debug-command", "yes"]);
    let mut con = connect(&server);
    // Disabled (threshold 0): nothing is recorded.
    run(&mut con, &["DEBUG", "SLEEP", "0.02"]);
    let latest: Vec<(String, i64, i64, i64)> =
        redis::cmd("LATENCY").arg("LATEST").query(&mut con).unwrap();
    assert!(latest.is_empty());
    run(
        &mut con,
        &["CONFIG", "SET", "latency-monitor-threshold", "10"],
    );
    run(&mut con, &["DEBUG", "SLEEP", "0.05"]);
    run(&mut con, &["PING"]);
    let latest: Vec<(String, i64, i64, i64)> =
        redis::cmd("LATENCY").arg("LATEST").query(&mut con).unwrap();
    assert_eq!(latest.len(), 1, "{latest:?}");
    let (event, time, last, max) = &latest[0];
    assert_eq!(event, "command");
    assert!(*time > 1_600_000_000);
    assert!(*last >= 50 && *max >= *last, "{latest:?}");
    let history: Vec<(i64, i64)> = redis::cmd("LATENCY")
        .arg("HISTORY")
        .arg("command")
        .query(&mut con)
        .unwrap();
    assert_eq!(history.len(), 1);
    assert_eq!(history[0], (*time, *last));
    let graph: String = redis::cmd("LATENCY")
        .arg("GRAPH")
        .arg("command")
        .query(&mut con)
        .unwrap();
    assert!(graph.starts_with(&format!("command - high {last} ms, low {last} ms")));
    let doctor: String = redis::cmd("LATENCY").arg("DOCTOR").query(&mut con).unwrap();
    assert!(doctor.contains("1. command: 1 latency spikes"), "{doctor}");
    assert!(doctor.contains("Check your Slow Log"), "{doctor}");
    let reset: i64 = redis::cmd("LATENCY").arg("RESET").query(&mut con).unwrap();
    assert_eq!(reset, 1);
    let latest: Vec<(String, i64, i64, i64)> =
        redis::cmd("LATENCY").arg("LATEST").query(&mut con).unwrap();
    assert!(latest.is_empty());
}

#[test]
fn resp3_replies_have_the_same_shapes() {
    let server = Server::start(&["--slowlog-log-slower-than", "0"]);
    let mut c = server.raw();
    c.resp3 = true;
    c.cmd(&["HELLO", "3"]);
    c.cmd(&["SLOWLOG", "RESET"]);
    let reply = c.cmd_str(&["SLOWLOG", "GET", "1"]);
    assert!(
        reply.starts_with("*1\r\n*6\r\n:"),
        "an array of 6-element arrays: {reply:?}"
    );
    assert!(reply.contains("*2\r\n$7\r\nSLOWLOG\r\n$5\r\nRESET\r\n"));
    let doctor = c.cmd_str(&["LATENCY", "DOCTOR"]);
    assert!(doctor.starts_with('='), "verbatim string: {doctor:?}");
}

#[test]
fn latency_histogram_and_latencystats_report_every_call() {
    let server = Server::start(&[]);
    let mut con = connect(&server);
    for _ in 0..5 {
        run(&mut con, &["SET", "k", "v"]);
    }
    run(&mut con, &["CONFIG", "GET", "maxmemory"]);
    // {set: {calls, histogram_usec: {bound: cumulative}}}, RESP2 flattening of the maps.
    let reply = run(&mut con, &["LATENCY", "HISTOGRAM", "set", "config", "get"]);
    let redis::Value::Array(top) = reply else {
        panic!("array: {reply:?}")
    };
    let names: Vec<String> = top
        .iter()
        .step_by(2)
        .map(|v| redis::from_redis_value(v).unwrap())
        .collect();
    assert_eq!(names, ["set", "config|get"], "{top:?}");
    let detail: Vec<redis::Value> = redis::from_redis_value(&top[1]).unwrap();
    assert_eq!(
        redis::from_redis_value::<String>(&detail[0]).unwrap(),
        "calls"
    );
    assert_eq!(redis::from_redis_value::<i64>(&detail[1]).unwrap(), 5);
    assert_eq!(
        redis::from_redis_value::<String>(&detail[2]).unwrap(),
        "histogram_usec"
    );
    let buckets: Vec<i64> = redis::from_redis_value(&detail[3]).unwrap();
    let bounds: Vec<i64> = buckets.iter().step_by(2).copied().collect();
    let cumulative: Vec<i64> = buckets.iter().skip(1).step_by(2).copied().collect();
    assert!(bounds.windows(2).all(|w| w[0] < w[1]), "{buckets:?}");
    assert!(cumulative.windows(2).all(|w| w[0] < w[1]), "{buckets:?}");
    assert_eq!(cumulative.last(), Some(&5), "{buckets:?}");
    let info: String = redis::cmd("INFO")
        .arg("latencystats")
        .query(&mut con)
        .unwrap();
    let set_line = info
        .lines()
        .find(|l| l.starts_with("latency_percentiles_usec_set:"))
        .unwrap_or_else(|| panic!("{info}"));
    let fields: Vec<&str> = set_line.split_once(':').unwrap().1.split(',').collect();
    assert_eq!(fields.len(), 3, "{set_line}");
    for (field, name) in fields.iter().zip(["p50=", "p99=", "p99.9="]) {
        let value: f64 = field.strip_prefix(name).unwrap().parse().unwrap();
        assert!(value >= 1.0, "{set_line}");
    }
    run(&mut con, &["CONFIG", "RESETSTAT"]);
    let reply = run(&mut con, &["LATENCY", "HISTOGRAM", "set"]);
    assert_eq!(reply, redis::Value::Array(vec![]));
}
