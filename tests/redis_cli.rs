//! The real `redis-cli` binary (Debian's 7.0.15, installed with redis-server) against ferrocache
//! in the modes operators use: plain commands, `--scan --pattern`, `--bigkeys`, `--memkeys`,
//! `--stat`, `--latency` / `--latency-history`, `-n` database selection, `--pipe` mass insert,
//! `-a` passwords and `-3` (RESP3). Each test checks that the output names what was created.
//! MONITOR is tested with pub/sub (tests owned there).

mod common;
use common::Server;
use std::io::{BufRead, BufReader, Write};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

fn redis_cli() -> Command {
    let found = Command::new("redis-cli")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        found,
        "redis-cli is not installed (it comes with redis-server, see README)"
    );
    Command::new("redis-cli")
}

/// Runs `redis-cli -p <port> args...` to completion (killed after 30 s).
fn cli(server: &Server, args: &[&str]) -> Output {
    cli_with_input(server, args, b"")
}

fn cli_with_input(server: &Server, args: &[&str], input: &[u8]) -> Output {
    let mut cmd = redis_cli();
    cmd.arg("-p").arg(server.port.to_string()).args(args);
    cmd.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("run redis-cli");
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(input).unwrap();
    drop(stdin);
    wait_bounded(child)
}

fn wait_bounded(mut child: Child) -> Output {
    let deadline = Instant::now() + Duration::from_secs(30);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("redis-cli still running after 30 s");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().unwrap()
}

fn stdout(out: &Output) -> String {
    assert!(
        out.status.success(),
        "redis-cli failed: {}\nstdout: {}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Starts a never-ending mode (`--stat`, `--latency-history`) with line-buffered output and
/// returns the first `n` lines, then kills it.
fn first_lines(server: &Server, args: &[&str], n: usize) -> Vec<String> {
    let mut child = Command::new("stdbuf")
        .arg("-oL")
        .arg("redis-cli")
        .arg("-p")
        .arg(server.port.to_string())
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("run stdbuf redis-cli");
    let (tx, rx) = std::sync::mpsc::channel();
    let out = child.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(out).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut lines = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    while lines.len() < n {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(line) => lines.push(line),
            Err(_) => break,
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(lines.len(), n, "redis-cli {args:?} printed only {lines:?}");
    lines
}

fn fill(server: &Server, keys: &[(&str, usize)]) {
    let mut c = server.raw();
    for (key, size) in keys {
        let value = "x".repeat(*size);
        assert_eq!(c.cmd_str(&["SET", key, &value]), "+OK\r\n");
    }
}

#[test]
fn plain_commands_and_database_selection() {
    let server = Server::start(&[]);
    assert_eq!(stdout(&cli(&server, &["ping"])), "PONG\n");
    assert_eq!(stdout(&cli(&server, &["-n", "1", "set", "k", "v"])), "OK\n");
    assert_eq!(stdout(&cli(&server, &["-n", "1", "get", "k"])), "v\n");
    assert_eq!(stdout(&cli(&server, &["-n", "0", "get", "k"])), "\n");
    assert_eq!(stdout(&cli(&server, &["-n", "1", "dbsize"])), "1\n");
    assert_eq!(stdout(&cli(&server, &["dbsize"])), "0\n");
    // Without a tty, redis-cli prints an error's text and a blank line (as with redis-server).
    let out = stdout(&cli(&server, &["-n", "1", "incr", "k"]));
    assert_eq!(out, "ERR value is not an integer or out of range\n\n");
    // Interactive-style formatting, as a terminal user sees it.
    let out = stdout(&cli(&server, &["--no-raw", "-n", "1", "get", "k"]));
    assert_eq!(out, "\"v\"\n");
}

#[test]
fn scan_with_a_pattern_returns_exactly_the_matching_keys() {
    let server = Server::start(&[]);
    let mut c = server.raw();
    let mut expected: Vec<String> = (0..60).map(|i| format!("session:{i}")).collect();
    for key in &expected {
        c.cmd(&["SET", key, "{}"]);
    }
    for key in [
        "ormcache:1",
        "ormcache:2",
        "session",
        "xsession:1",
        "Session:1",
    ] {
        c.cmd(&["SET", key, "v"]);
    }
    expected.sort();
    let out = stdout(&cli(&server, &["--scan", "--pattern", "session:*"]));
    let mut keys: Vec<String> = out.lines().map(str::to_string).collect();
    keys.sort();
    assert_eq!(keys, expected);
}

#[test]
fn bigkeys_and_memkeys_name_the_biggest_string() {
    let server = Server::start(&[]);
    fill(
        &server,
        &[
            ("session:a", 300),
            ("session:b", 1200),
            ("big:one", 5000),
            ("ormcache:x", 40),
        ],
    );
    let out = stdout(&cli(&server, &["--bigkeys"]));
    assert!(out.contains("Sampled 4 keys in the keyspace!"), "{out}");
    assert!(
        out.contains("Biggest string found '\"big:one\"' has 5000 bytes"),
        "{out}"
    );
    assert!(out.contains("4 strings with 6540 bytes"), "{out}");
    let out = stdout(&cli(&server, &["--memkeys"]));
    assert!(out.contains("Sampled 4 keys in the keyspace!"), "{out}");
    assert!(
        out.contains("Biggest string found '\"big:one\"' has "),
        "{out}"
    );
    assert!(out.contains("4 strings with "), "{out}");
}

#[test]
fn stat_shows_the_key_count() {
    let server = Server::start(&[]);
    fill(
        &server,
        &[
            ("a", 1),
            ("b", 1),
            ("c", 1),
            ("d", 1),
            ("e", 1),
            ("f", 1),
            ("g", 1),
        ],
    );
    let lines = first_lines(&server, &["--stat", "-i", "0.1"], 5);
    assert!(lines[0].starts_with("------- data ------"), "{lines:?}");
    assert!(lines[1].starts_with("keys       mem      clients blocked requests"));
    for line in &lines[2..] {
        let cols: Vec<&str> = line.split_whitespace().collect();
        assert_eq!(cols[0], "7", "keys column: {line:?}");
        assert!(
            cols[1].ends_with(['K', 'M', 'G', 'B']),
            "mem column: {line:?}"
        );
        assert_eq!(cols[2], "1", "clients column: {line:?}");
    }
}

#[test]
fn latency_modes_report_samples() {
    let server = Server::start(&[]);
    // --raw prints "min max avg samples" once after the interval, then exits.
    let out = stdout(&cli(&server, &["--latency", "--raw", "-i", "0.3"]));
    let fields: Vec<&str> = out.split_whitespace().collect();
    assert_eq!(fields.len(), 4, "{out:?}");
    let samples: u64 = fields[3].parse().unwrap();
    assert!(samples > 0, "{out:?}");
    let min: u64 = fields[0].parse().unwrap();
    let max: u64 = fields[1].parse().unwrap();
    assert!(min <= max, "{out:?}");
    // Each line redraws "min: .., max: .., avg: .. (N samples)" and ends with the range.
    let lines = first_lines(&server, &["--no-raw", "--latency-history", "-i", "1"], 1);
    let tail = &lines[0][lines[0].len().saturating_sub(80)..];
    assert!(
        tail.contains(" samples) -- ") && tail.ends_with(" seconds range"),
        "{tail:?}"
    );
}

#[test]
fn pipe_mass_insert() {
    let server = Server::start(&[]);
    let mut input = Vec::new();
    for i in 0..2000 {
        let key = format!("mass:{i}");
        let value = format!("value-{i}");
        input.extend_from_slice(
            format!(
                "*3\r\n$3\r\nSET\r\n${}\r\n{key}\r\n${}\r\n{value}\r\n",
                key.len(),
                value.len()
            )
            .as_bytes(),
        );
    }
    // One failing command is counted as an error, not fatal.
    input.extend_from_slice(b"*2\r\n$4\r\nINCR\r\n$6\r\nmass:0\r\n");
    // redis-cli exits with status 1 when a reply was an error.
    let result = cli_with_input(&server, &["--pipe"], &input);
    let out = String::from_utf8_lossy(&result.stdout);
    assert!(out.contains("errors: 1, replies: 2001"), "{out}");
    assert_eq!(result.status.code(), Some(1));
    let err = String::from_utf8_lossy(&result.stderr);
    assert_eq!(err, "ERR value is not an integer or out of range\n");
    assert_eq!(stdout(&cli(&server, &["dbsize"])), "2000\n");
    assert_eq!(stdout(&cli(&server, &["get", "mass:1999"])), "value-1999\n");
}

#[test]
fn resp3_output() {
    let server = Server::start(&["--maxmemory", "64mb"]);
    let out = stdout(&cli(
        &server,
        &["-3", "--no-raw", "config", "get", "maxmemory"],
    ));
    assert_eq!(out, "1# \"maxmemory\" => \"67108864\"\n");
    let out = stdout(&cli(&server, &["-3", "--no-raw", "hello", "3"]));
    assert!(out.contains("\"proto\" => (integer) 3"), "{out}");
    let out = stdout(&cli(&server, &["-3", "--no-raw", "exists", "nokey"]));
    assert_eq!(out, "(integer) 0\n");
    let out = stdout(&cli(&server, &["-3", "--no-raw", "get", "nokey"]));
    assert_eq!(out, "(nil)\n");
}

#[test]
fn password_from_the_command_line() {
    let server = Server::start(&["--requirepass", "s3cret"]);
    let out = stdout(&cli(&server, &["ping"]));
    assert_eq!(out, "NOAUTH Authentication required.\n\n");
    let out = stdout(&cli(
        &server,
        &["-a", "s3cret", "--no-auth-warning", "ping"],
    ));
    assert_eq!(out, "PONG\n");
    let out = stdout(&cli(
        &server,
        &[
            "--user",
            "default",
            "--pass",
            "s3cret",
            "--no-auth-warning",
            "ping",
        ],
    ));
    assert_eq!(out, "PONG\n");
    let out = stdout(&cli(&server, &["-a", "wrong", "--no-auth-warning", "ping"]));
    assert!(out.contains("NOAUTH") || out.contains("WRONGPASS"), "{out}");
}
