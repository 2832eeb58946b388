//! Configuration against the real binary: CONFIG SET/GET round trips, a config file with
//! command-line overrides, CONFIG REWRITE, and redis-server's fatal start-up errors.

mod common;
use common::{RawClient, Server};
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

fn bulk_pair(name: &str, value: &str) -> Vec<u8> {
    format!(
        "*2\r\n${}\r\n{name}\r\n${}\r\n{value}\r\n",
        name.len(),
        value.len()
    )
    .into_bytes()
}

fn temp_dir(tag: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "ferrocache-config-test-{}-{tag}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Starts the binary with a config file as first argument; returns it and its port.
fn start_with_file(conf: &std::path::Path, extra: &[&str]) -> (Child, u16) {
    let port = common::free_port().to_string();
    let mut child = Command::new(env!("CARGO_BIN_EXE_ferrocache"))
        .arg(conf)
        .args(["--port", &port, "--bind", "127.0.0.1"])
        .args(extra)
        .current_dir(conf.parent().unwrap())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start ferrocache");
    let mut reader = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    while reader.read_line(&mut line).unwrap_or(0) > 0 {
        if let Some(rest) = line.split("Ready to accept connections tcp (port ").nth(1) {
            let port = rest.trim().trim_end_matches(')').parse().unwrap();
            std::thread::spawn(move || std::io::copy(&mut reader, &mut std::io::sink()));
            return (child, port);
        }
        line.clear();
    }
    let _ = child.kill();
    let _ = child.wait();
    panic!("ferrocache did not start");
}

/// Runs the binary expecting it to refuse to start; returns (exit code, stderr).
fn start_failure(args: &[&str]) -> (Option<i32>, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_ferrocache"))
        .args(args)
        .stdout(Stdio::null())
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn config_set_then_get() {
    let server = Server::start(&[]);
    let mut c = server.raw();
    assert_eq!(c.cmd(&["CONFIG", "SET", "maxmemory", "1gb"]), b"+OK\r\n");
    assert_eq!(
        c.cmd(&["CONFIG", "GET", "maxmemory"]),
        bulk_pair("maxmemory", "1073741824")
    );
    assert_eq!(
        c.cmd(&[
            "CONFIG",
            "SET",
            "maxmemory",
            "2mb",
            "maxmemory-policy",
            "allkeys-lru"
        ]),
        b"+OK\r\n"
    );
    let text = c.cmd_str(&["INFO", "memory"]);
    assert!(
        text.contains("\r\nmaxmemory:2097152\r\n")
            && text.contains("\r\nmaxmemory_policy:allkeys-lru\r\n")
    );
    // A failing pair leaves every option of the call unchanged.
    let err = c.cmd_str(&["CONFIG", "SET", "maxmemory", "5mb", "hz", "x"]);
    assert_eq!(err, "-ERR CONFIG SET failed (possibly related to argument 'hz') - argument couldn't be parsed into an integer\r\n");
    assert_eq!(
        c.cmd(&["CONFIG", "GET", "maxmemory"]),
        bulk_pair("maxmemory", "2097152")
    );
    assert_eq!(
        c.cmd_str(&["CONFIG", "REWRITE"]),
        "-ERR The server is running without a config file\r\n"
    );
    c.resp3 = true;
    c.cmd(&["HELLO", "3"]);
    assert_eq!(
        c.cmd(&["CONFIG", "GET", "hz"]),
        b"%1\r\n$2\r\nhz\r\n$2\r\n10\r\n"
    );
}

#[test]
fn config_file_then_command_line_then_rewrite() {
    let dir = temp_dir("file");
    let conf = dir.join("redis.conf");
    std::fs::write(
        &conf,
        "# test settings\nmaxmemory 1mb\nmaxmemory-policy allkeys-lru\nsave 900 1\nsave 300 10\nhash-max-ziplist-entries 64\n",
    )
    .unwrap();
    let (mut child, port) = start_with_file(&conf, &["--maxmemory", "2mb", "--timeout", "30"]);
    let mut c = RawClient::connect(port);
    assert_eq!(
        c.cmd(&["CONFIG", "GET", "maxmemory"]),
        bulk_pair("maxmemory", "2097152")
    );
    assert_eq!(
        c.cmd(&["CONFIG", "GET", "maxmemory-policy"]),
        bulk_pair("maxmemory-policy", "allkeys-lru")
    );
    assert_eq!(
        c.cmd(&["CONFIG", "GET", "save"]),
        bulk_pair("save", "900 1 300 10")
    );
    assert_eq!(
        c.cmd(&["CONFIG", "GET", "hash-max-listpack-entries"]),
        bulk_pair("hash-max-listpack-entries", "64")
    );
    assert_eq!(
        c.cmd(&["CONFIG", "GET", "timeout"]),
        bulk_pair("timeout", "30")
    );
    let info = c.cmd_str(&["INFO", "server"]);
    let canonical = std::fs::canonicalize(&conf).unwrap();
    assert!(
        info.contains(&format!("\r\nconfig_file:{}\r\n", canonical.display())),
        "{info}"
    );

    assert_eq!(
        c.cmd(&[
            "CONFIG",
            "SET",
            "maxmemory-policy",
            "volatile-lru",
            "hz",
            "20"
        ]),
        b"+OK\r\n"
    );
    assert_eq!(c.cmd(&["CONFIG", "REWRITE"]), b"+OK\r\n");
    let text = std::fs::read_to_string(&conf).unwrap();
    assert!(text.starts_with("# test settings\nmaxmemory 2mb\nmaxmemory-policy volatile-lru\nsave 900 1\nsave 300 10\n"), "{text}");
    assert!(text.contains("hash-max-listpack-entries 64\n"), "{text}");
    assert!(
        text.contains("# Generated by CONFIG REWRITE\n")
            && text.contains("\nhz 20\n")
            && text.contains("\ntimeout 30\n"),
        "{text}"
    );
    let _ = child.kill();
    let _ = child.wait();

    // The rewritten file starts a server with the same settings.
    let (mut child, port) = start_with_file(&conf, &[]);
    let mut c = RawClient::connect(port);
    assert_eq!(c.cmd(&["CONFIG", "GET", "hz"]), bulk_pair("hz", "20"));
    assert_eq!(
        c.cmd(&["CONFIG", "GET", "maxmemory"]),
        bulk_pair("maxmemory", "2097152")
    );
    let _ = child.kill();
    let _ = child.wait();
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn bad_configuration_exits_with_redis_message() {
    let dir = temp_dir("bad");
    let conf = dir.join("bad.conf");
    std::fs::write(&conf, "port 7000\nnosuch-directive 1\n").unwrap();
    let (code, stderr) = start_failure(&[conf.to_str().unwrap()]);
    assert_eq!(code, Some(1));
    assert!(
        stderr.contains(
            "\n*** FATAL CONFIG FILE ERROR (Redis 7.4.2) ***\nReading the configuration file, at line 2\n>>> 'nosuch-directive 1'\nBad directive or wrong number of arguments\n"
        ),
        "{stderr}"
    );

    let (code, stderr) = start_failure(&["--port", "abc"]);
    assert_eq!(code, Some(1));
    assert!(
        stderr
            .contains("at line 2\n>>> 'port \"abc\"'\nargument couldn't be parsed into an integer"),
        "{stderr}"
    );

    let (code, stderr) = start_failure(&["--maxmemory", "10xb"]);
    assert_eq!(code, Some(1));
    assert!(
        stderr.contains(">>> 'maxmemory \"10xb\"'\nargument must be a memory value"),
        "{stderr}"
    );

    std::fs::write(&conf, "requirepass \"unbalanced\n").unwrap();
    let (code, stderr) = start_failure(&[conf.to_str().unwrap()]);
    assert_eq!(code, Some(1));
    assert!(
        stderr.contains("Unbalanced quotes in configuration line"),
        "{stderr}"
    );

    let (code, stderr) = start_failure(&[dir.join("missing.conf").to_str().unwrap()]);
    assert_eq!(code, Some(1));
    assert!(
        stderr.contains("Fatal error, can't open config file")
            && stderr.contains("No such file or directory"),
        "{stderr}"
    );
    let _ = std::fs::remove_dir_all(dir);
}

/// The container image's defaults come from FERROCACHE_BASE_CONFIG, below the user's options:
/// `docker run image --maxmemory 256mb` keeps protected-mode off and adds the limit.
#[test]
fn base_config_from_the_environment_sits_below_options() {
    let dir = temp_dir("base");
    let base = dir.join("base.conf");
    std::fs::write(&base, "protected-mode no\nmaxmemory 1mb\nhz 20\n").unwrap();
    let port = common::free_port().to_string();
    let mut child = Command::new(env!("CARGO_BIN_EXE_ferrocache"))
        .env("FERROCACHE_BASE_CONFIG", &base)
        .args([
            "redis-server",
            "--port",
            &port,
            "--bind",
            "127.0.0.1",
            "--maxmemory",
            "256mb",
        ])
        .current_dir(&dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start ferrocache");
    let mut reader = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    let mut port = None;
    while reader.read_line(&mut line).unwrap_or(0) > 0 {
        if let Some(rest) = line.split("Ready to accept connections tcp (port ").nth(1) {
            port = rest.trim().trim_end_matches(')').parse::<u16>().ok();
            break;
        }
        line.clear();
    }
    let port = port.expect("ferrocache started");
    std::thread::spawn(move || std::io::copy(&mut reader, &mut std::io::sink()));
    let mut c = common::RawClient::connect(port);
    let get = |c: &mut common::RawClient, name: &str| c.cmd_str(&["CONFIG", "GET", name]);
    assert!(get(&mut c, "protected-mode").contains("\r\nno\r\n"));
    assert!(get(&mut c, "maxmemory").contains("\r\n268435456\r\n"));
    assert!(get(&mut c, "hz").contains("\r\n20\r\n"));
    let _ = child.kill();
    let _ = child.wait();
}

/// rename-command on the command line, as docker users pass it: "" removes a command, another
/// name replaces it; the errors are redis-server's own.
#[test]
fn rename_command_removes_and_renames_like_redis_server() {
    let args = [
        "--rename-command",
        "FLUSHALL",
        "",
        "--rename-command",
        "CONFIG",
        "cfg",
    ];
    let mut servers = vec![Server::start(&args)];
    servers.extend(Server::start_redis(&args));
    let mut replies = Vec::new();
    for server in &servers {
        let mut c = server.raw();
        let got: Vec<String> = [
            vec!["SET", "k", "v"],
            vec!["FLUSHALL"],
            vec!["CONFIG", "GET", "maxmemory"],
            vec!["CFG", "GET", "maxmemory"],
            vec!["cfg", "SET", "maxmemory-policy", "allkeys-lru"],
            vec!["CFG", "GET", "maxmemory-policy"],
            vec!["GET", "k"],
        ]
        .iter()
        .map(|cmd| c.cmd_str(cmd))
        .collect();
        assert_eq!(
            got[1],
            "-ERR unknown command 'FLUSHALL', with args beginning with: \r\n"
        );
        assert_eq!(got[3], "*2\r\n$9\r\nmaxmemory\r\n$1\r\n0\r\n");
        replies.push(got);
    }
    if replies.len() == 2 {
        assert_eq!(replies[0], replies[1], "ferrocache and redis-server differ");
    }
}

/// `tcp-backlog` is the listen(2) backlog, as in Redis: `ss` reports a listening socket's
/// backlog in its Send-Q column (the kernel caps it at net.core.somaxconn, so a small value).
#[test]
fn tcp_backlog_is_the_listen_backlog() {
    let args = ["--tcp-backlog", "37"];
    let servers = [Some(Server::start(&args)), Server::start_redis(&args)];
    for server in servers.iter().flatten() {
        let out = Command::new("ss")
            .args(["-ltnH", &format!("sport = :{}", server.port)])
            .output()
            .expect("ss (iproute2) is installed by tests/run.sh");
        let text = String::from_utf8_lossy(&out.stdout);
        let send_q: Vec<&str> = text
            .lines()
            .filter_map(|line| line.split_whitespace().nth(2))
            .collect();
        assert_eq!(send_q, ["37"], "port {}: ss said: {text}", server.port);
    }
}

/// `--help` names the binary's other entry points, so they can be found without the docs.
#[test]
fn help_lists_the_other_entry_points() {
    let out = Command::new(env!("CARGO_BIN_EXE_ferrocache"))
        .arg("--help")
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    for entry in [
        "ferrocache ping",
        "ferrocache check-aof",
        "ferrocache check-rdb",
    ] {
        assert!(text.contains(entry), "{entry} missing from --help: {text}");
    }
}

/// An option this server cannot honour (a replica's link over TLS) or a bad `replicaof` stops
/// start-up with a message naming it, instead of running as something else than asked;
/// CONFIG SET refuses it too. rename-command of an unknown command stops start-up with
/// redis-server's own text.
#[test]
fn options_that_cannot_be_honoured_stop_start_up() {
    for (args, expected) in [
        (
            &["--replicaof", "127.0.0.1", "x"][..],
            ">>> 'replicaof \"127.0.0.1\" \"x\"'\nInvalid master port",
        ),
        (
            &["--rename-command", "nosuchcmd", "x"][..],
            ">>> 'rename-command \"nosuchcmd\" \"x\"'\nNo such command in rename-command\n",
        ),
        (
            &["--rename-command", "get", "set"][..],
            "Target command name already exists\n",
        ),
    ] {
        let (code, stderr) = start_failure(args);
        assert_eq!(code, Some(1), "{args:?}: {stderr}");
        assert!(stderr.contains("*** FATAL CONFIG FILE ERROR"), "{stderr}");
        assert!(stderr.contains(expected), "{args:?}: {stderr}");
    }
    // A replica over TLS: the link is plaintext, so start-up stops (a primary may keep the
    // option: it only concerns a replica's link).
    let (code, stderr) = start_failure(&[
        "--tls-replication",
        "yes",
        "--replicaof",
        "127.0.0.1",
        "6380",
    ]);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(
        stderr.contains(
            "'tls-replication yes' is not supported: the link to a primary is plaintext TCP"
        ),
        "{stderr}"
    );
    // Their defaults and `replicaof no one` start as usual.
    let server = Server::start(&[
        "--tls-replication",
        "yes",
        "--replicaof",
        "no",
        "one",
        "--cluster-enabled",
        "no",
        "--min-replicas-to-write",
        "0",
    ]);
    let mut c = server.raw();
    // A write quorum of replicas works (tests/replication_primary.rs): with none connected,
    // writes get Redis's NOREPLICAS error and reads are served.
    assert_eq!(
        c.cmd_str(&["CONFIG", "SET", "min-replicas-to-write", "2"]),
        "+OK\r\n"
    );
    assert_eq!(
        c.cmd_str(&["SET", "k", "v"]),
        "-NOREPLICAS Not enough good replicas to write.\r\n"
    );
    assert_eq!(c.cmd_str(&["GET", "k"]), "$-1\r\n");
    // Writes inside a script are checked one by one, as in Redis (reads still run).
    let reply = c.cmd_str(&["EVAL", "return redis.call('set', 'k', 'v')", "0"]);
    assert!(
        reply.starts_with("-NOREPLICAS Not enough good replicas to write. script: "),
        "{reply}"
    );
    assert_eq!(
        c.cmd_str(&["EVAL", "return redis.call('get', 'k')", "0"]),
        "$-1\r\n"
    );
    assert_eq!(
        c.cmd_str(&["REPLICAOF", "127.0.0.1", "6380"]),
        "-ERR 'tls-replication yes' is not supported: the link to a primary is plaintext TCP\r\n"
    );
    assert_eq!(c.cmd_str(&["ROLE"]), "*3\r\n$6\r\nmaster\r\n:0\r\n*0\r\n");
}

/// Options started with non-default values, so the round trip covers their printed forms.
const ROUND_TRIP_ARGS: &[&str] = &[
    "--save",
    "900 1 300 10",
    "--notify-keyspace-events",
    "KEA",
    "--maxmemory",
    "100mb",
    "--client-output-buffer-limit",
    "normal 1mb 2mb 3 replica 256mb 64mb 60 pubsub 32mb 8mb 60",
    "--oom-score-adj-values",
    "0 200 800",
    "--maxmemory-policy",
    "allkeys-lru",
    "--latency-tracking-info-percentiles",
    "50 99.9",
    "--hz",
    "20",
    "--appendfsync",
    "no",
    "--proto-max-bulk-len",
    "2mb",
    "--masterauth",
    "a b",
    "--replica-announce-ip",
    "1.2.3.4",
];

/// Options only ferrocache has that CONFIG SET refuses: they move listeners or are read when
/// the memcached listener or the event loops start, immutable as Redis's `port`-like options
/// were before 7.0.
const OURS_IMMUTABLE: &[&str] = &[
    "event-loop",
    "memcached-allow-unauthenticated",
    "memcached-db",
    "memcached-max-item-size",
    "memcached-port",
    "memcached-tls",
    "metrics-bind",
    "metrics-port",
];

/// CONFIG GET *, then CONFIG SET of each option to the value it printed: the options each
/// server refuses, and whether the values read back are unchanged.
fn set_every_option_to_itself(con: &mut redis::Connection) -> Vec<String> {
    let flat: Vec<String> = redis::cmd("CONFIG").arg("GET").arg("*").query(con).unwrap();
    let pairs: Vec<(String, String)> = flat
        .chunks(2)
        .map(|p| (p[0].clone(), p[1].clone()))
        .collect();
    let mut refused = Vec::new();
    let mut accepted = redis::cmd("CONFIG");
    accepted.arg("SET");
    for (name, value) in &pairs {
        let set: redis::RedisResult<()> = redis::cmd("CONFIG")
            .arg("SET")
            .arg(name)
            .arg(value)
            .query(con);
        match set {
            Ok(()) => {
                accepted.arg(name).arg(value);
            }
            Err(_) => refused.push(name.clone()),
        }
    }
    // All of them at once, as one CONFIG SET.
    let all: redis::RedisResult<()> = accepted.query(con);
    assert!(all.is_ok(), "one CONFIG SET of every option: {all:?}");
    let again: Vec<String> = redis::cmd("CONFIG").arg("GET").arg("*").query(con).unwrap();
    assert_eq!(again, flat, "values changed by setting them to themselves");
    refused.sort();
    refused
}

#[test]
fn config_get_all_then_set_each_to_itself_as_redis() {
    let Some(redis_server) = Server::start_redis(ROUND_TRIP_ARGS) else {
        panic!("redis-server is not installed: the test command installs it (see README)");
    };
    let ours = Server::start(ROUND_TRIP_ARGS);
    let connect = |s: &Server| {
        redis::Client::open(s.url())
            .unwrap()
            .get_connection()
            .unwrap()
    };
    let (mut a, mut b) = (connect(&ours), connect(&redis_server));
    let names = |con: &mut redis::Connection| -> Vec<String> {
        let flat: Vec<String> = redis::cmd("CONFIG").arg("GET").arg("*").query(con).unwrap();
        flat.into_iter().step_by(2).collect()
    };
    let theirs = names(&mut b);
    let our_refused = set_every_option_to_itself(&mut a);
    let their_refused = set_every_option_to_itself(&mut b);
    let expected: Vec<String> = their_refused
        .iter()
        .filter(|n| names(&mut a).contains(n))
        .cloned()
        .chain(
            OURS_IMMUTABLE
                .iter()
                .filter(|n| !theirs.contains(&n.to_string()))
                .map(|n| n.to_string()),
        )
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    assert_eq!(our_refused, expected);
}

#[test]
fn rdb_key_save_delay_keeps_a_background_save_running() {
    let server = Server::start(&["--save", ""]);
    let mut c = server.raw();
    for i in 0..20 {
        c.cmd(&["SET", &format!("k{i}"), "v"]);
    }
    // 100 ms per key: the save lasts two seconds.
    assert_eq!(
        c.cmd_str(&["CONFIG", "SET", "rdb-key-save-delay", "100000"]),
        "+OK\r\n"
    );
    assert!(c
        .cmd_str(&["BGSAVE"])
        .starts_with("+Background saving started"));
    assert!(c
        .cmd_str(&["INFO", "persistence"])
        .contains("rdb_bgsave_in_progress:1"));
    assert_eq!(
        c.cmd_str(&["BGSAVE"]),
        "-ERR Background save already in progress\r\n"
    );
    assert_eq!(
        c.cmd_str(&["CONFIG", "SET", "rdb-key-save-delay", "0"]),
        "+OK\r\n"
    );
    let done = (0..500).any(|_| {
        std::thread::sleep(std::time::Duration::from_millis(20));
        c.cmd_str(&["INFO", "persistence"])
            .contains("rdb_bgsave_in_progress:0")
    });
    assert!(done, "the save ends once the delay is lifted");
}

#[test]
fn key_load_delay_is_applied_to_every_key_loaded() {
    let dir = temp_dir("key-load-delay");
    {
        let server = Server::start(&[]);
        let mut c = server.raw();
        for i in 0..5 {
            c.cmd(&["SET", &format!("k{i}"), "v"]);
        }
        assert_eq!(c.cmd_str(&["SAVE"]), "+OK\r\n");
        std::fs::copy(server.dir.join("dump.rdb"), dir.join("dump.rdb")).unwrap();
    }
    // A negative delay sleeps now and then; the data loads the same.
    let server = Server::start_in(dir, &["--key-load-delay", "-3"]);
    let mut c = server.raw();
    assert_eq!(c.cmd_str(&["DBSIZE"]), ":5\r\n");
    assert_eq!(
        c.cmd_str(&["CONFIG", "GET", "key-load-delay"]),
        String::from_utf8(bulk_pair("key-load-delay", "-3")).unwrap()
    );
}
