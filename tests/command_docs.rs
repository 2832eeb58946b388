//! COMMAND DOCS against redis-server's: for every command both servers have, every field of its
//! docs (summary, since, group, complexity, doc_flags, deprecated_since, replaced_by, history,
//! arguments, and each subcommand's, recursively) must be byte-for-byte Redis's, in RESP2 and
//! RESP3, in the same order, except the deliberate differences of `ALLOWED`. Also: the
//! arguments' key_spec_indexes of every command (those beyond 7.0 too) name its COMMAND INFO key
//! specs, and redis-cli's interactive hints (built from COMMAND DOCS) show the arguments.

mod common;
use common::resp_tree::{call, text, Node};
use common::{RawClient, Server};

/// Deliberate differences: (command, field, why). `*` is every command.
const ALLOWED: &[(&str, &str, &str)] = &[
    (
        "*",
        "summary",
        "summaries are Redis 7.2's wording (7.0.15 words most of them differently)",
    ),
    (
        "zrank",
        "arguments",
        "WITHSCORE, which ferrocache accepts as Redis 7.2 does",
    ),
    ("zrank", "history", "Redis 7.2's entry for WITHSCORE"),
    (
        "zrevrank",
        "arguments",
        "WITHSCORE, which ferrocache accepts as Redis 7.2 does",
    ),
    ("zrevrank", "history", "Redis 7.2's entry for WITHSCORE"),
    (
        "client|kill",
        "arguments",
        "MAXAGE, which ferrocache accepts as Redis 7.4 does",
    ),
    ("client|kill", "history", "Redis 7.4's entry for MAXAGE"),
    (
        "bitop",
        "arguments",
        "a oneof of the operations with DIFF, DIFF1, ANDOR and ONE, which ferrocache accepts as Redis 8.2 does (7.0.15: a string)",
    ),
    (
        "set",
        "arguments",
        "IFEQ, IFNE, IFDEQ and IFDNE (Redis 8.4), which ferrocache accepts",
    ),
    (
        "set",
        "history",
        "Redis 8.4's entry, naming only the IFEQ and IFNE it accepts",
    ),
    ("hscan", "complexity", SCAN_TEXT),
    (
        "hscan",
        "arguments",
        "NOVALUES, which ferrocache accepts as Redis 7.4 does",
    ),
    ("hscan", "history", "Redis 7.4's entry for NOVALUES"),
    ("sscan", "complexity", SCAN_TEXT),
    ("zscan", "complexity", SCAN_TEXT),
    (
        "zrandmember",
        "complexity",
        "Redis 7.2's text (`members returned`; 7.0.15: `elements returned`)",
    ),
];

const SCAN_TEXT: &str = "Redis 7.2's text (7.0.15 ends it with `collection..`)";

thread_local! {
    /// The `ALLOWED` entries that excused a difference (each must, or it is stale).
    static USED: std::cell::RefCell<std::collections::HashSet<usize>> = Default::default();
}

fn allowed(name: &str, field: &str) -> bool {
    let hit = ALLOWED
        .iter()
        .position(|&(n, f, _)| (n == name || n == "*") && f == field);
    if let Some(i) = hit {
        USED.with(|u| u.borrow_mut().insert(i));
    }
    hit.is_some()
}

/// The complete RESP2/RESP3 value at `at`, and where the next one starts.
fn parse(buf: &[u8], at: usize) -> (Node<'_>, usize) {
    common::resp_tree::parse(buf, at).expect("a complete reply")
}

/// A map's (key, value) pairs (RESP3 map or RESP2 flat array), keys as text.
fn pairs<'n, 'a>(node: &'n Node<'a>) -> Vec<(String, &'n Node<'a>)> {
    node.kids
        .chunks(2)
        .map(|kv| (text(&kv[0]), &kv[1]))
        .collect()
}

fn short(node: &Node) -> String {
    let text = String::from_utf8_lossy(node.raw).replace("\r\n", " ");
    if text.len() > 600 {
        format!("{}...", &text[..600])
    } else {
        text
    }
}

/// Compares one command's docs map field by field, appending the differences to `report`.
fn compare(name: &str, ours: &Node, theirs: &Node, report: &mut Vec<String>) {
    let (a, b) = (pairs(ours), pairs(theirs));
    let keys = |p: &[(String, &Node)]| p.iter().map(|(k, _)| k.clone()).collect::<Vec<_>>();
    let (ka, kb) = (keys(&a), keys(&b));
    for (field, theirs) in &b {
        let Some((_, ours)) = a.iter().find(|(k, _)| k == field) else {
            if !allowed(name, field) {
                report.push(format!(
                    "{name} {field}: missing here; redis-server: {}",
                    short(theirs)
                ));
            }
            continue;
        };
        if field == "subcommands" {
            let (sa, sb) = (pairs(ours), pairs(theirs));
            for (sub, theirs) in &sb {
                if let Some((_, ours)) = sa.iter().find(|(k, _)| k == sub) {
                    compare(sub, ours, theirs, report);
                }
            }
        } else if ours.raw != theirs.raw && !allowed(name, field) {
            report.push(format!(
                "{name} {field}:\n    ferrocache:   {}\n    redis-server: {}",
                short(ours),
                short(theirs)
            ));
        }
    }
    for field in ka.iter().filter(|k| !kb.contains(k)) {
        if !allowed(name, field) {
            report.push(format!("{name} {field}: only here"));
        }
    }
    let common = |x: &[String], y: &[String]| {
        x.iter()
            .filter(|k| y.contains(k))
            .cloned()
            .collect::<Vec<_>>()
    };
    if common(&ka, &kb) != common(&kb, &ka) {
        report.push(format!("{name}: fields in another order: {ka:?} vs {kb:?}"));
    }
}

fn top_level_names(client: &mut RawClient) -> Vec<String> {
    let reply = call(client, &["COMMAND", "LIST"]);
    let (list, _) = parse(&reply, 0);
    let mut names: Vec<String> = list
        .kids
        .iter()
        .map(text)
        .filter(|n| !n.contains('|'))
        .collect();
    names.sort();
    names
}

#[test]
fn command_docs_match_redis_server() {
    let Some(redis_server) = Server::start_redis(&[]) else {
        panic!("redis-server is not installed: the test command installs it (see README)");
    };
    let ours_server = Server::start(&[]);
    let mut report = Vec::new();
    let mut compared = 0;
    for resp3 in [false, true] {
        let (mut ours, mut theirs) = (ours_server.raw(), redis_server.raw());
        if resp3 {
            for client in [&mut ours, &mut theirs] {
                call(client, &["HELLO", "3"]);
            }
        }
        let their_names = top_level_names(&mut theirs);
        let common: Vec<String> = top_level_names(&mut ours)
            .into_iter()
            .filter(|n| their_names.contains(n))
            .collect();
        assert!(
            common.len() > 150,
            "only {} commands in common",
            common.len()
        );
        for name in &common {
            let (a, b) = (
                call(&mut ours, &["COMMAND", "DOCS", name]),
                call(&mut theirs, &["COMMAND", "DOCS", name]),
            );
            let ((a, _), (b, _)) = (parse(&a, 0), parse(&b, 0));
            assert_eq!((a.kids.len(), b.kids.len()), (2, 2), "COMMAND DOCS {name}");
            let before = report.len();
            compare(name, &a.kids[1], &b.kids[1], &mut report);
            if resp3 && report.len() > before {
                report[before].insert_str(0, "(RESP3) ");
            }
            compared += 1;
        }
    }
    let unused: Vec<_> = USED.with(|u| {
        let used = u.borrow();
        (0..ALLOWED.len())
            .filter(|i| !used.contains(i))
            .map(|i| ALLOWED[i])
            .collect()
    });
    assert!(
        unused.is_empty(),
        "allowed differences that are gone: {unused:?}"
    );
    assert!(
        report.is_empty(),
        "COMMAND DOCS differs ({} of {compared} replies compared):\n{}",
        report.len(),
        report.join("\n")
    );
}

/// For every command ferrocache has (those beyond Redis 7.0 included), the `key_spec_index`es
/// of its arguments are exactly the indexes of its COMMAND INFO key specs, as in Redis (whose
/// shard-channel commands alone have key specs no argument names: their channels).
#[test]
fn key_spec_indexes_match_command_info() {
    const CHANNEL_SPECS: &[&str] = &["spublish", "ssubscribe", "sunsubscribe"];
    let server = Server::start(&[]);
    let mut client = server.raw();
    let reply = call(&mut client, &["COMMAND", "LIST"]);
    let (list, _) = parse(&reply, 0);
    let mut report = Vec::new();
    for name in list.kids.iter().map(text) {
        let info = call(&mut client, &["COMMAND", "INFO", &name]);
        let (info, _) = parse(&info, 0);
        let specs = info.kids[0].kids[8].kids.len();
        let docs = call(&mut client, &["COMMAND", "DOCS", &name]);
        let (docs, _) = parse(&docs, 0);
        let mut indexes = Vec::new();
        if let Some((_, args)) = pairs(&docs.kids[1])
            .into_iter()
            .find(|(k, _)| k == "arguments")
        {
            key_spec_indexes(args, &mut indexes);
        }
        indexes.sort();
        indexes.dedup();
        let expected: Vec<i64> = if CHANNEL_SPECS.contains(&name.as_str()) {
            Vec::new()
        } else {
            (0..specs as i64).collect()
        };
        if indexes != expected {
            report.push(format!(
                "{name}: arguments name key specs {indexes:?}, COMMAND INFO has {specs}"
            ));
        }
    }
    assert!(report.is_empty(), "{}", report.join("\n"));
}

fn key_spec_indexes(args: &Node, out: &mut Vec<i64>) {
    for arg in &args.kids {
        for (field, value) in pairs(arg) {
            match field.as_str() {
                "key_spec_index" => out.push(text(value).parse().unwrap()),
                "arguments" => key_spec_indexes(value, out),
                _ => {}
            }
        }
    }
}

/// COMMAND DOCS of several commands at once, and of none: one map, unknown names left out.
#[test]
fn command_docs_of_several_commands() {
    let server = Server::start(&[]);
    let mut client = server.raw();
    let reply = call(
        &mut client,
        &["COMMAND", "DOCS", "get", "nosuch", "config|get"],
    );
    let (map, _) = parse(&reply, 0);
    let names: Vec<String> = pairs(&map).into_iter().map(|(k, _)| k).collect();
    assert_eq!(names, ["get", "config|get"]);
    let reply = call(&mut client, &["COMMAND", "DOCS"]);
    let (map, _) = parse(&reply, 0);
    let count = client.cmd_str(&["COMMAND", "COUNT"]);
    assert_eq!(format!(":{}\r\n", map.kids.len() / 2), count);
}

/// redis-cli's interactive mode builds its hints from COMMAND DOCS: typed into a terminal
/// (a pseudo-terminal here), `zadd z` gets Redis's hint for the rest of ZADD's arguments, and
/// nothing is printed about the docs.
#[test]
fn redis_cli_hints_come_from_the_docs() {
    use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
    let server = Server::start(&[]);
    let (mut master, mut slave) = (0, 0);
    let size = libc::winsize {
        ws_row: 24,
        ws_col: 250,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: openpty writes two descriptors we then own; the other pointers are null or valid.
    let rc = unsafe {
        libc::openpty(
            &mut master,
            &mut slave,
            std::ptr::null_mut(),
            std::ptr::null(),
            &size,
        )
    };
    assert_eq!(rc, 0, "openpty");
    // SAFETY: both descriptors are open and owned by nothing else.
    let (master, slave) = unsafe { (OwnedFd::from_raw_fd(master), OwnedFd::from_raw_fd(slave)) };
    let history = common::temp_dir("cli").join("history");
    let mut cli = std::process::Command::new("redis-cli")
        .args(["-p", &server.port.to_string()])
        .env("REDISCLI_HISTFILE", &history)
        .env("TERM", "xterm")
        .stdin(slave.try_clone().unwrap())
        .stdout(slave.try_clone().unwrap())
        .stderr(slave)
        .spawn()
        .expect("redis-cli is installed by tests/run.sh");
    let fd = master.as_raw_fd();
    let mut screen = Vec::new();
    let mut typed = false;
    let want = "key [NX|XX] [GT|LT] [CH] [INCR] score member [score member ...]";
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while std::time::Instant::now() < deadline {
        let mut poll = libc::pollfd {
            fd,
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one valid pollfd.
        let ready = unsafe { libc::poll(&mut poll, 1, 100) };
        if ready == 1 {
            let mut buf = [0u8; 4096];
            // SAFETY: reads into a buffer of the length given.
            let n = unsafe { libc::read(fd, buf.as_mut_ptr().cast(), buf.len()) };
            if n <= 0 {
                break;
            }
            let chunk = &buf[..n as usize];
            // A terminal answers linenoise's cursor-position queries.
            for _ in chunk.windows(4).filter(|w| w == b"\x1b[6n") {
                write_all(fd, b"\x1b[1;1R");
            }
            screen.extend_from_slice(chunk);
        }
        let text = String::from_utf8_lossy(&screen);
        if !typed && text.contains("> ") {
            write_all(fd, b"zadd z");
            typed = true;
        }
        if typed && text.contains(want) {
            break;
        }
    }
    let _ = cli.kill();
    let _ = cli.wait();
    let text = String::from_utf8_lossy(&screen);
    assert!(
        text.contains(want),
        "no ZADD hint in redis-cli's screen: {text:?}"
    );
    assert!(
        !text.to_ascii_lowercase().contains("warning"),
        "redis-cli warned: {text:?}"
    );
}

fn write_all(fd: i32, bytes: &[u8]) {
    // SAFETY: writes from a buffer of the length given.
    let n = unsafe { libc::write(fd, bytes.as_ptr().cast(), bytes.len()) };
    assert_eq!(n, bytes.len() as isize, "write to the terminal");
}
