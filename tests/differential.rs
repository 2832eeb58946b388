//! Differential suite: every script in tests/differential/*.redis runs against ferrocache and
//! Debian's redis-server; the raw reply bytes of every command must be identical.
//!
//! Script format, one command per line (words split like redis-cli / redis.conf, so quotes and
//! \xHH escapes work). `#` starts a comment line. Directives:
//!   `@resp3` / `@resp2`   switch both connections with HELLO (its reply is compared too)
//!   `@sleep <ms>`         wait (used sparingly, for expiry)
//!   `@ours <reply>`       the next command's reply from ferrocache must equal <reply> (an
//!                         escaped string such as `+OK\r\n`) and redis-server's is not compared:
//!                         ONLY for documented differences between Redis 7.0.15 (the oracle
//!                         here) and Redis 7.2 (our target), or for commands beyond Redis 7.2
//!                         as redis.io documents them; the line must say why in a comment
//!                         right above it.
//!   `@noreply <command>`  send the command and read nothing (CLIENT REPLY OFF / SKIP, or a
//!                         command whose reply is silenced); any frame either server sends
//!                         anyway is read, and compared, by the next command.
//!   `@read`               read one more frame from both (a second push of one command).
//! Each script starts on fresh connections after FLUSHALL, in RESP2, and ends with a PING whose
//! reply is awaited (after any frame still queued), so every request ran before the next script.

mod common;
use common::{RawClient, Server};
use ferrocache::protocol::request::split_args;

struct Mismatch {
    location: String,
    command: String,
    ours: String,
    redis: String,
}

fn show(bytes: &[u8]) -> String {
    bytes.escape_ascii().to_string()
}

fn unescape(text: &str) -> Vec<u8> {
    split_args(format!("\"{text}\"").as_bytes())
        .and_then(|mut v| v.pop())
        .unwrap_or_default()
}

fn run_script(
    name: &str,
    text: &str,
    ours: &mut RawClient,
    redis: &mut RawClient,
    mismatches: &mut Vec<Mismatch>,
) -> usize {
    let mut expected_ours: Option<Vec<u8>> = None;
    let mut commands = 0;
    for (no, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let location = format!("{name}:{}", no + 1);
        if let Some(rest) = line.strip_prefix("@sleep ") {
            std::thread::sleep(std::time::Duration::from_millis(
                rest.trim().parse().unwrap(),
            ));
            continue;
        }
        if let Some(rest) = line.strip_prefix("@ours ") {
            expected_ours = Some(unescape(rest.trim()));
            continue;
        }
        if let Some(rest) = line.strip_prefix("@noreply ") {
            let words = split_args(rest.as_bytes())
                .unwrap_or_else(|| panic!("{location}: unbalanced quotes"));
            let args: Vec<&[u8]> = words.iter().map(|w| w.as_slice()).collect();
            ours.send(&args);
            redis.send(&args);
            continue;
        }
        let words: Vec<Vec<u8>> = match line {
            "@resp3" => vec![b"HELLO".to_vec(), b"3".to_vec()],
            "@resp2" => vec![b"HELLO".to_vec(), b"2".to_vec()],
            "@read" => Vec::new(),
            _ => split_args(line.as_bytes())
                .unwrap_or_else(|| panic!("{location}: unbalanced quotes")),
        };
        let args: Vec<&[u8]> = words.iter().map(|w| w.as_slice()).collect();
        if line == "@resp3" || line == "@resp2" {
            ours.resp3 = line == "@resp3";
            redis.resp3 = line == "@resp3";
        }
        if line != "@read" {
            ours.send(&args);
            redis.send(&args);
        }
        let mut our_reply = ours
            .read_reply()
            .unwrap_or_else(|| panic!("{location}: ferrocache closed the connection on {line}"));
        let mut redis_reply = redis
            .read_reply()
            .unwrap_or_else(|| panic!("{location}: redis-server closed the connection on {line}"));
        if line == "@resp3" || line == "@resp2" {
            // HELLO's map carries server name, version and client id: compare its shape only.
            our_reply.truncate(4);
            redis_reply.truncate(4);
        }
        commands += 1;
        match expected_ours.take() {
            Some(expected) => {
                if our_reply != expected {
                    mismatches.push(Mismatch {
                        location,
                        command: line.into(),
                        ours: show(&our_reply),
                        redis: format!("(@ours) {}", show(&expected)),
                    });
                }
            }
            None => {
                if our_reply != redis_reply {
                    mismatches.push(Mismatch {
                        location,
                        command: line.into(),
                        ours: show(&our_reply),
                        redis: show(&redis_reply),
                    });
                }
            }
        }
    }
    commands
}

/// Waits until a server has run every request of a script before its connection is dropped:
/// sends a PING carrying a marker (allowed in every connection mode) and reads frames until its
/// reply comes back (or the script closed the connection). A script that leaves frames unread
/// (event pushes its PINGs do not drain) would otherwise close a socket with unread data, which
/// resets the connection, and a server may then never run the script's last requests (such as
/// the CONFIG SET that puts notify-keyspace-events back for the next scripts).
fn settle(c: &mut RawClient) {
    const MARKER: &[u8] = b"end-of-script-9f1c";
    c.send(&[b"PING", MARKER]);
    for _ in 0..100_000 {
        match c.read_reply() {
            None => return,
            Some(frame) if frame.windows(MARKER.len()).any(|w| w == MARKER) => return,
            Some(_) => {}
        }
    }
    panic!("no reply to the end-of-script PING");
}

#[test]
fn scripts_match_redis_server() {
    let Some(redis_server) = Server::start_redis(&["--enable-debug-command", "yes"]) else {
        panic!("redis-server is not installed: the test command installs it (see README)");
    };
    let ours_server = Server::start(&["--enable-debug-command", "yes"]);
    let mut scripts: Vec<_> =
        std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/differential"))
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "redis"))
            .collect();
    scripts.sort();
    assert!(!scripts.is_empty());
    let filter = std::env::var("DIFF_FILTER").unwrap_or_default();
    let mut mismatches = Vec::new();
    let mut total = 0;
    for path in scripts {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if !name.contains(&filter) {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        let mut ours = ours_server.raw();
        let mut redis = redis_server.raw();
        for c in [&mut ours, &mut redis] {
            assert_eq!(c.cmd(&["FLUSHALL"]), b"+OK\r\n");
        }
        total += run_script(&name, &text, &mut ours, &mut redis, &mut mismatches);
        settle(&mut ours);
        settle(&mut redis);
    }
    if !mismatches.is_empty() {
        let mut report = format!(
            "{} of {total} commands differ from redis-server:\n",
            mismatches.len()
        );
        for m in &mismatches {
            report.push_str(&format!(
                "{}: {}\n    ferrocache:   {}\n    redis-server: {}\n",
                m.location, m.command, m.ours, m.redis
            ));
        }
        panic!("{report}");
    }
    eprintln!("differential: {total} commands identical");
}
