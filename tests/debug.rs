//! DEBUG subcommands against the real binary: CHANGE-REPL-ID (seen in INFO), RELOAD and LOADAOF
//! (the dataset survives a save-and-load round trip; NOSAVE/NOFLUSH/MERGE), the push frame of
//! DEBUG PROTOCOL through a real client.

mod common;
use common::{RawClient, Server};

fn cmd(c: &mut RawClient, args: &[&str]) -> String {
    c.cmd_str(args)
}

fn info_field(c: &mut RawClient, section: &str, field: &str) -> String {
    let info = cmd(c, &["INFO", section]);
    info.lines()
        .find_map(|l| l.strip_prefix(&format!("{field}:")))
        .unwrap_or_else(|| panic!("no {field} in INFO: {info}"))
        .trim()
        .to_string()
}

#[test]
fn change_repl_id_makes_a_new_history() {
    let server = Server::start(&["--enable-debug-command", "yes"]);
    let mut c = server.raw();
    let before = info_field(&mut c, "replication", "master_replid");
    assert_eq!(cmd(&mut c, &["DEBUG", "CHANGE-REPL-ID"]), "+OK\r\n");
    let after = info_field(&mut c, "replication", "master_replid");
    assert_ne!(before, after);
    assert_eq!(after.len(), 40);
    assert!(after.bytes().all(|b| b.is_ascii_hexdigit()));
    assert_eq!(
        info_field(&mut c, "replication", "master_replid2"),
        "0".repeat(40)
    );
    assert_eq!(
        info_field(&mut c, "replication", "second_repl_offset"),
        "-1"
    );
}

#[test]
fn reload_round_trips_the_dataset() {
    let server = Server::start(&["--enable-debug-command", "yes"]);
    let mut c = server.raw();
    assert_eq!(
        cmd(&mut c, &["DEBUG", "RELOAD", "FOO"]),
        "-ERR DEBUG RELOAD only supports the MERGE, NOFLUSH and NOSAVE options.\r\n"
    );
    // NOSAVE with no file: the dataset is emptied and the load fails, as in Redis.
    assert_eq!(cmd(&mut c, &["SET", "gone", "1"]), "+OK\r\n");
    assert_eq!(
        cmd(&mut c, &["DEBUG", "RELOAD", "NOSAVE"]),
        "-ERR Error trying to load the RDB dump\r\n"
    );
    assert_eq!(cmd(&mut c, &["DBSIZE"]), ":0\r\n");
    assert_eq!(cmd(&mut c, &["SET", "s", "v", "EX", "1000"]), "+OK\r\n");
    assert_eq!(cmd(&mut c, &["RPUSH", "l", "a", "b"]), ":2\r\n");
    assert_eq!(cmd(&mut c, &["SELECT", "3"]), "+OK\r\n");
    assert_eq!(cmd(&mut c, &["HSET", "h", "f", "v"]), ":1\r\n");
    assert_eq!(
        cmd(
            &mut c,
            &[
                "FUNCTION",
                "LOAD",
                "#!lua name=lib\nredis.register_function('f', function() return 7 end)"
            ]
        ),
        "$3\r\nlib\r\n"
    );
    let digest = cmd(&mut c, &["DEBUG", "DIGEST"]);
    assert_ne!(digest, format!("+{}\r\n", "0".repeat(40)));
    assert_eq!(cmd(&mut c, &["DEBUG", "RELOAD"]), "+OK\r\n");
    assert_eq!(cmd(&mut c, &["DEBUG", "DIGEST"]), digest);
    assert_eq!(cmd(&mut c, &["HGET", "h", "f"]), "$1\r\nv\r\n");
    assert_eq!(cmd(&mut c, &["FCALL", "f", "0"]), ":7\r\n");
    assert_eq!(cmd(&mut c, &["SELECT", "0"]), "+OK\r\n");
    assert_eq!(
        cmd(&mut c, &["LRANGE", "l", "0", "-1"]),
        "*2\r\n$1\r\na\r\n$1\r\nb\r\n"
    );
    let ttl = cmd(&mut c, &["TTL", "s"]);
    assert!(ttl == ":1000\r\n" || ttl == ":999\r\n", "{ttl}");
    // NOSAVE: the file of the last save replaces what changed since.
    assert_eq!(cmd(&mut c, &["SET", "s", "changed"]), "+OK\r\n");
    assert_eq!(cmd(&mut c, &["SET", "new", "1"]), "+OK\r\n");
    assert_eq!(cmd(&mut c, &["DEBUG", "RELOAD", "NOSAVE"]), "+OK\r\n");
    assert_eq!(cmd(&mut c, &["GET", "s"]), "$1\r\nv\r\n");
    assert_eq!(cmd(&mut c, &["EXISTS", "new"]), ":0\r\n");
    // NOFLUSH MERGE: the file's keys are added to (and replace) what is there.
    assert_eq!(cmd(&mut c, &["SET", "s", "changed"]), "+OK\r\n");
    assert_eq!(cmd(&mut c, &["SET", "new", "1"]), "+OK\r\n");
    assert_eq!(
        cmd(&mut c, &["DEBUG", "RELOAD", "NOSAVE", "NOFLUSH", "MERGE"]),
        "+OK\r\n"
    );
    assert_eq!(cmd(&mut c, &["GET", "s"]), "$1\r\nv\r\n");
    assert_eq!(cmd(&mut c, &["GET", "new"]), "$1\r\n1\r\n");
    assert_eq!(cmd(&mut c, &["FCALL", "f", "0"]), ":7\r\n");
    // Inside a transaction whose commands locked shards, RELOAD is refused (not a deadlock).
    assert_eq!(cmd(&mut c, &["MULTI"]), "+OK\r\n");
    assert_eq!(cmd(&mut c, &["SET", "t", "1"]), "+QUEUED\r\n");
    assert_eq!(cmd(&mut c, &["DEBUG", "RELOAD"]), "+QUEUED\r\n");
    assert_eq!(
        cmd(&mut c, &["EXEC"]),
        "*2\r\n+OK\r\n-ERR DEBUG RELOAD is not supported inside a transaction that touched keys\r\n"
    );
    // NOFLUSH alone meets the library (and keys) already there: the load fails.
    assert_eq!(
        cmd(&mut c, &["DEBUG", "RELOAD", "NOSAVE", "NOFLUSH"]),
        "-ERR Error trying to load the RDB dump\r\n"
    );
}

#[test]
fn loadaof_replays_the_log() {
    let server = Server::start(&["--enable-debug-command", "yes"]);
    let mut c = server.raw();
    assert!(cmd(&mut c, &["DEBUG", "LOADAOF"]).starts_with("-ERR DEBUG LOADAOF needs"));
    let server = Server::start(&[
        "--enable-debug-command",
        "yes",
        "--appendonly",
        "yes",
        "--appendfsync",
        "always",
    ]);
    let mut c = server.raw();
    assert_eq!(cmd(&mut c, &["SET", "k", "v", "EX", "1000"]), "+OK\r\n");
    assert_eq!(cmd(&mut c, &["INCRBY", "n", "5"]), ":5\r\n");
    assert_eq!(cmd(&mut c, &["SELECT", "2"]), "+OK\r\n");
    assert_eq!(cmd(&mut c, &["SADD", "s", "a", "b"]), ":2\r\n");
    let digest = cmd(&mut c, &["DEBUG", "DIGEST"]);
    assert_eq!(cmd(&mut c, &["DEBUG", "LOADAOF"]), "+OK\r\n");
    assert_eq!(cmd(&mut c, &["DEBUG", "DIGEST"]), digest);
    assert_eq!(cmd(&mut c, &["SCARD", "s"]), ":2\r\n");
    assert_eq!(cmd(&mut c, &["SELECT", "0"]), "+OK\r\n");
    assert_eq!(cmd(&mut c, &["GET", "n"]), "$1\r\n5\r\n");
    assert_eq!(cmd(&mut c, &["GET", "k"]), "$1\r\nv\r\n");
    // The replay was not logged again: a second reload gives the same dataset.
    assert_eq!(cmd(&mut c, &["DEBUG", "LOADAOF"]), "+OK\r\n");
    assert_eq!(cmd(&mut c, &["GET", "n"]), "$1\r\n5\r\n");
    assert_eq!(cmd(&mut c, &["INCR", "n"]), ":6\r\n");
    assert_eq!(cmd(&mut c, &["DEBUG", "LOADAOF"]), "+OK\r\n");
    assert_eq!(cmd(&mut c, &["GET", "n"]), "$1\r\n6\r\n");
    assert_eq!(cmd(&mut c, &["DBSIZE"]), ":2\r\n");
}

#[test]
fn populate_stops_at_maxmemory() {
    let server = Server::start(&["--enable-debug-command", "yes"]);
    let mut c = server.raw();
    assert_eq!(
        cmd(&mut c, &["DEBUG", "POPULATE", "1000", "k", "16"]),
        "+OK\r\n"
    );
    assert_eq!(cmd(&mut c, &["DBSIZE"]), ":1000\r\n");
    assert_eq!(cmd(&mut c, &["STRLEN", "k:999"]), ":16\r\n");
    let used: u64 = info_field(&mut c, "memory", "used_memory").parse().unwrap();
    let limit = (used + 8 * 1024 * 1024).to_string();
    assert_eq!(
        cmd(&mut c, &["CONFIG", "SET", "maxmemory", &limit]),
        "+OK\r\n"
    );
    // Ten million keys would take far more than 8 MB more: it stops with OOM.
    assert!(cmd(&mut c, &["DEBUG", "POPULATE", "10000000", "big", "64"]).starts_with("-OOM"));
    let keys: u64 = cmd(&mut c, &["DBSIZE"]).trim()[1..].parse().unwrap();
    assert!(keys > 1000 && keys < 1_000_000, "{keys}");
}

#[test]
fn pause_cron_stops_active_expiry() {
    let server = Server::start(&["--enable-debug-command", "yes"]);
    let mut c = server.raw();
    assert_eq!(cmd(&mut c, &["DEBUG", "PAUSE-CRON", "1"]), "+OK\r\n");
    assert_eq!(cmd(&mut c, &["SET", "k", "v", "PX", "5"]), "+OK\r\n");
    for _ in 0..5 {
        // Several cycles' worth (hz 10): the expired key is not reclaimed.
        std::thread::sleep(std::time::Duration::from_millis(120));
        assert_eq!(cmd(&mut c, &["DBSIZE"]), ":1\r\n");
    }
    assert_eq!(cmd(&mut c, &["DEBUG", "PAUSE-CRON", "0"]), "+OK\r\n");
    let mut reclaimed = false;
    for _ in 0..1000 {
        if cmd(&mut c, &["DBSIZE"]) == ":0\r\n" {
            reclaimed = true;
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    assert!(reclaimed);
}

/// DEBUG HELP lists exactly what DEBUG runs: each subcommand it names, called with arguments
/// of the shape its synopsis gives, is known (whatever it then answers), and Redis's
/// subcommands ferrocache leaves out answer Redis's unknown-subcommand text.
#[test]
fn every_subcommand_debug_help_lists_is_known() {
    let server = Server::start(&["--enable-debug-command", "yes"]);
    let mut c = server.raw();
    c.cmd(&["SET", "k", "v"]);
    let help = cmd(&mut c, &["DEBUG", "HELP"]);
    let lines: Vec<&str> = help
        .split("\r\n")
        .filter(|l| l.starts_with('+'))
        .map(|l| &l[1..])
        .collect();
    assert!(lines[0].starts_with("DEBUG <subcommand>"), "{help}");
    let mut names = Vec::new();
    for line in lines.iter().skip(1).filter(|l| !l.starts_with(' ')) {
        let mut words = line.split_whitespace();
        let name = words.next().unwrap();
        names.push(name.to_string());
        // Mandatory arguments only: the words outside [...].
        let mut depth = 0;
        let mut args = vec!["DEBUG".to_string(), name.to_string()];
        for w in words {
            if w.starts_with('[') {
                depth += w.matches('[').count();
            }
            if depth == 0 {
                args.push(
                    match w {
                        "<0|1>" => "1",
                        "<key>" => "k",
                        "<type>" => "string",
                        "<seconds>" | "<size>" | "<count>" => "0",
                        _ => "x",
                    }
                    .to_string(),
                );
            }
            depth -= w.matches(']').count().min(depth);
        }
        let argv: Vec<&str> = args.iter().map(String::as_str).collect();
        let reply = cmd(&mut c, &argv);
        assert!(
            !reply.contains("unknown subcommand"),
            "DEBUG HELP lists {line:?}, but {argv:?} answers {reply:?}"
        );
    }
    for name in [
        "CHANGE-REPL-ID",
        "LOADAOF",
        "PROTOCOL",
        "QUICKLIST-PACKED-THRESHOLD",
        "RELOAD",
        "SET-ACTIVE-EXPIRE",
        "SLEEP",
        "STRINGMATCH-LEN",
    ] {
        assert!(names.iter().any(|n| n == name), "{name} not in {names:?}");
    }
    for name in ["SEGFAULT", "PANIC", "RESTART", "LISTPACK", "HTSTATS"] {
        assert_eq!(
            cmd(&mut c, &["DEBUG", name]),
            format!(
                "-ERR unknown subcommand or wrong number of arguments for '{name}'. Try DEBUG HELP.\r\n"
            )
        );
    }
}
