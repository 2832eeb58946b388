//! Connection commands over real sockets: authentication with requirepass, HELLO, RESET, CLIENT
//! REPLY, and CLIENT LIST / KILL seen from two connections. What a single connection can check
//! byte for byte against redis-server lives in tests/differential/4*_connection_*.redis.

mod common;
use common::{RawClient, Server};
use std::io::Read;

/// The text of a CLIENT LIST / CLIENT INFO reply (a bulk string in RESP2).
fn verbatim_text(reply: &[u8]) -> String {
    let text = String::from_utf8_lossy(reply).into_owned();
    assert!(text.starts_with('$'), "not a bulk string: {text:?}");
    let body = text.split_once("\r\n").expect("bulk header").1;
    body.strip_suffix("\r\n").expect("bulk trailer").to_string()
}

fn client_id(c: &mut RawClient) -> u64 {
    let reply = c.cmd_str(&["CLIENT", "ID"]);
    reply
        .trim_start_matches(':')
        .trim()
        .parse()
        .expect("CLIENT ID is an integer")
}

/// True once the server has closed `c` (reads until EOF; a read timeout fails the test).
fn closed_by_server(c: &mut RawClient) -> bool {
    let mut buf = [0u8; 256];
    loop {
        match c.stream.read(&mut buf) {
            Ok(0) => return true,
            Ok(_) => continue,
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return true,
            Err(e) => panic!("connection still open: {e}"),
        }
    }
}

#[test]
fn requirepass_gates_commands_until_auth() {
    let server = Server::start(&["--requirepass", "s3cret"]);
    let mut c = server.raw();
    assert_eq!(
        c.cmd_str(&["GET", "k"]),
        "-NOAUTH Authentication required.\r\n"
    );
    assert_eq!(c.cmd_str(&["PING"]), "-NOAUTH Authentication required.\r\n");
    assert_eq!(
        c.cmd_str(&["AUTH", "wrong"]),
        "-WRONGPASS invalid username-password pair or user is disabled.\r\n"
    );
    assert_eq!(
        c.cmd_str(&["AUTH", "someone", "s3cret"]),
        "-WRONGPASS invalid username-password pair or user is disabled.\r\n"
    );
    assert_eq!(c.cmd_str(&["AUTH", "a", "b", "c"]), "-ERR syntax error\r\n");
    assert_eq!(
        c.cmd_str(&["GET", "k"]),
        "-NOAUTH Authentication required.\r\n"
    );
    assert!(c
        .cmd_str(&["HELLO", "3"])
        .starts_with("-NOAUTH HELLO must be called with the client already authenticated"));
    assert_eq!(c.cmd_str(&["AUTH", "s3cret"]), "+OK\r\n");
    assert_eq!(c.cmd_str(&["GET", "k"]), "$-1\r\n");
    assert_eq!(c.cmd_str(&["AUTH", "default", "s3cret"]), "+OK\r\n");
    // A failed AUTH keeps the client authenticated, as in Redis.
    assert_eq!(
        c.cmd_str(&["AUTH", "nope"]),
        "-WRONGPASS invalid username-password pair or user is disabled.\r\n"
    );
    assert_eq!(c.cmd_str(&["PING"]), "+PONG\r\n");
    // RESET drops the authentication.
    assert_eq!(c.cmd_str(&["RESET"]), "+RESET\r\n");
    assert_eq!(c.cmd_str(&["PING"]), "-NOAUTH Authentication required.\r\n");

    let mut h = server.raw();
    assert_eq!(
        h.cmd_str(&["HELLO", "3", "AUTH", "default", "bad"]),
        "-WRONGPASS invalid username-password pair or user is disabled.\r\n"
    );
    h.resp3 = true;
    let hello = h.cmd_str(&[
        "HELLO", "3", "AUTH", "default", "s3cret", "SETNAME", "worker",
    ]);
    assert!(
        hello.starts_with("%7\r\n$6\r\nserver\r\n$5\r\nredis\r\n$7\r\nversion\r\n"),
        "{hello}"
    );
    assert!(hello.contains("$5\r\nproto\r\n:3\r\n"), "{hello}");
    assert_eq!(h.cmd_str(&["CLIENT", "GETNAME"]), "$6\r\nworker\r\n");
    assert_eq!(h.cmd_str(&["GET", "missing"]), "_\r\n");
}

#[test]
fn hello_switches_protocol_and_reset_restores_defaults() {
    let server = Server::start(&[]);
    let mut c = server.raw();
    let hello = c.cmd_str(&["HELLO"]);
    assert!(hello.starts_with("*14\r\n$6\r\nserver\r\n"), "{hello}");
    assert!(hello.contains("$5\r\nproto\r\n:2\r\n"));
    c.resp3 = true;
    assert!(c
        .cmd_str(&["HELLO", "3", "SETNAME", "n1"])
        .starts_with("%7\r\n"));
    assert_eq!(c.cmd_str(&["GET", "missing"]), "_\r\n");
    assert_eq!(c.cmd_str(&["SELECT", "5"]), "+OK\r\n");
    assert_eq!(
        c.cmd_str(&["CLIENT", "SETINFO", "LIB-NAME", "mylib"]),
        "+OK\r\n"
    );
    assert_eq!(c.cmd_str(&["RESET"]), "+RESET\r\n");
    c.resp3 = false;
    assert_eq!(c.cmd_str(&["GET", "missing"]), "$-1\r\n");
    assert_eq!(c.cmd_str(&["CLIENT", "GETNAME"]), "$-1\r\n");
    let info = verbatim_text(&c.cmd(&["CLIENT", "INFO"]));
    assert!(info.contains(" db=0 "), "{info}");
    assert!(info.contains(" resp=2 "), "{info}");
    // RESET keeps the library name: it still describes the client behind the connection.
    assert!(info.contains(" lib-name=mylib "), "{info}");
}

const CLIENT_LIST_FIELDS: &[&str] = &[
    "id",
    "addr",
    "laddr",
    "fd",
    "name",
    "age",
    "idle",
    "flags",
    "db",
    "sub",
    "psub",
    "ssub",
    "multi",
    "qbuf",
    "qbuf-free",
    "argv-mem",
    "multi-mem",
    "rbs",
    "rbp",
    "obl",
    "oll",
    "omem",
    "tot-mem",
    "events",
    "cmd",
    "user",
    "redir",
    "resp",
    "lib-name",
    "lib-ver",
];

fn fields(line: &str) -> Vec<(String, String)> {
    line.split(' ')
        .map(|f| {
            let (k, v) = f
                .split_once('=')
                .unwrap_or_else(|| panic!("field without '=': {f:?} in {line:?}"));
            (k.to_string(), v.to_string())
        })
        .collect()
}

#[test]
fn client_list_shows_every_connection_in_redis_layout() {
    let server = Server::start(&[]);
    let mut a = server.raw();
    let mut b = server.raw();
    assert_eq!(b.cmd_str(&["CLIENT", "SETNAME", "bob"]), "+OK\r\n");
    assert_eq!(
        b.cmd_str(&["CLIENT", "SETINFO", "lib-name", "redis-py"]),
        "+OK\r\n"
    );
    assert_eq!(
        b.cmd_str(&["CLIENT", "SETINFO", "lib-ver", "5.0.1"]),
        "+OK\r\n"
    );
    assert_eq!(b.cmd_str(&["SELECT", "3"]), "+OK\r\n");
    assert_eq!(b.cmd_str(&["CLIENT", "NO-EVICT", "on"]), "+OK\r\n");
    let b_id = client_id(&mut b);
    let a_id = client_id(&mut a);
    assert_eq!(a.cmd_str(&["MULTI"]), "+OK\r\n");
    assert_eq!(a.cmd_str(&["EXEC"]), "*0\r\n");

    let list = verbatim_text(&a.cmd(&["CLIENT", "LIST"]));
    let lines: Vec<&str> = list.lines().collect();
    assert_eq!(lines.len(), 2, "{list}");
    assert!(list.ends_with('\n'));
    for line in &lines {
        let names: Vec<String> = fields(line).into_iter().map(|(k, _)| k).collect();
        assert_eq!(names, CLIENT_LIST_FIELDS, "{line}");
    }
    let bob = lines
        .iter()
        .find(|l| l.contains("name=bob"))
        .expect("bob listed");
    let bob: std::collections::HashMap<_, _> = fields(bob).into_iter().collect();
    assert_eq!(bob["id"], b_id.to_string());
    assert_eq!(bob["db"], "3");
    assert_eq!(bob["flags"], "e");
    assert_eq!(bob["lib-name"], "redis-py");
    assert_eq!(bob["lib-ver"], "5.0.1");
    assert_eq!(bob["user"], "default");
    assert_eq!(bob["laddr"], format!("127.0.0.1:{}", server.port));
    let me = lines
        .iter()
        .find(|l| l.starts_with(&format!("id={a_id} ")))
        .expect("caller listed");
    assert!(me.contains(" cmd=client|list "), "{me}");
    assert!(me.contains(" flags=N "), "{me}");

    let only_b = verbatim_text(&a.cmd(&[
        "CLIENT",
        "LIST",
        "ID",
        &b_id.to_string(),
        "999999",
        &b_id.to_string(),
    ]));
    assert_eq!(
        only_b.lines().count(),
        2,
        "repeated ids are listed again: {only_b}"
    );
    assert!(only_b.lines().all(|l| l.contains("name=bob")));
    assert_eq!(
        verbatim_text(&a.cmd(&["CLIENT", "LIST", "TYPE", "normal"]))
            .lines()
            .count(),
        2
    );
    assert_eq!(
        verbatim_text(&a.cmd(&["CLIENT", "LIST", "TYPE", "pubsub"])),
        ""
    );
}

#[test]
fn client_kill_by_id_address_and_skipme() {
    let server = Server::start(&[]);
    let mut a = server.raw();
    let mut b = server.raw();
    let mut c = server.raw();
    let b_id = client_id(&mut b);
    let a_id = client_id(&mut a);

    assert_eq!(
        a.cmd_str(&["CLIENT", "KILL", "ID", &b_id.to_string()]),
        ":1\r\n"
    );
    assert!(closed_by_server(&mut b));
    assert_eq!(
        a.cmd_str(&["CLIENT", "KILL", "ID", &b_id.to_string()]),
        ":0\r\n"
    );
    let list = verbatim_text(&a.cmd(&["CLIENT", "LIST"]));
    assert!(!list.contains(&format!("id={b_id} ")), "{list}");

    // Old form, by the peer address CLIENT LIST shows. A round trip first: a connection the
    // server has not accepted yet is not a client it can find.
    assert_eq!(c.cmd_str(&["PING"]), "+PONG\r\n");
    let c_addr = c.stream.local_addr().unwrap().to_string();
    assert_eq!(a.cmd_str(&["CLIENT", "KILL", &c_addr]), "+OK\r\n");
    assert!(closed_by_server(&mut c));
    assert_eq!(
        a.cmd_str(&["CLIENT", "KILL", &c_addr]),
        "-ERR No such client\r\n"
    );

    // SKIPME defaults to yes; with no, the caller gets its reply and then is closed.
    assert_eq!(
        a.cmd_str(&["CLIENT", "KILL", "ID", &a_id.to_string()]),
        ":0\r\n"
    );
    assert_eq!(a.cmd_str(&["CLIENT", "KILL", "TYPE", "normal"]), ":0\r\n");
    assert_eq!(
        a.cmd_str(&["CLIENT", "KILL", "ID", &a_id.to_string(), "SKIPME", "no"]),
        ":1\r\n"
    );
    assert!(closed_by_server(&mut a));

    // Every normal client but the caller.
    let mut d = server.raw();
    let mut e = server.raw();
    assert_eq!(e.cmd_str(&["PING"]), "+PONG\r\n");
    assert_eq!(
        d.cmd_str(&["CLIENT", "KILL", "TYPE", "normal", "USER", "default"]),
        ":1\r\n"
    );
    assert!(closed_by_server(&mut e));
    assert_eq!(d.cmd_str(&["PING"]), "+PONG\r\n");
}

#[test]
fn client_reply_off_and_skip_suppress_replies() {
    let server = Server::start(&[]);
    let mut c = server.raw();
    // OFF: no reply for OFF itself nor what follows, until ON (which replies).
    c.send(&[b"CLIENT", b"REPLY", b"OFF"]);
    c.send(&[b"SET", b"a", b"1"]);
    c.send(&[b"GET", b"a"]);
    c.send(&[b"NOSUCHCOMMAND"]);
    c.send(&[b"CLIENT", b"REPLY", b"SKIP"]);
    c.send(&[b"CLIENT", b"REPLY", b"ON"]);
    assert_eq!(c.read_reply().unwrap(), b"+OK\r\n");
    assert_eq!(c.cmd_str(&["GET", "a"]), "$1\r\n1\r\n");
    // SKIP: no reply for SKIP itself and the next command only.
    c.send(&[b"CLIENT", b"REPLY", b"SKIP"]);
    c.send(&[b"SET", b"b", b"2"]);
    c.send(&[b"GET", b"b"]);
    assert_eq!(c.read_reply().unwrap(), b"$1\r\n2\r\n");
    // RESET turns replies back on.
    c.send(&[b"CLIENT", b"REPLY", b"OFF"]);
    c.send(&[b"RESET"]);
    assert_eq!(c.read_reply().unwrap(), b"+RESET\r\n");
    assert_eq!(c.cmd_str(&["PING"]), "+PONG\r\n");
}

#[test]
fn quit_replies_then_closes() {
    let server = Server::start(&[]);
    let mut c = server.raw();
    assert_eq!(c.cmd_str(&["QUIT"]), "+OK\r\n");
    assert!(closed_by_server(&mut c));
}

#[test]
fn client_list_shows_other_clients_last_command_and_multi() {
    let server = common::Server::start(&[]);
    let mut a = server.raw();
    let mut b = server.raw();
    assert_eq!(a.cmd(&["CLIENT", "SETNAME", "watcher"]), b"+OK\r\n");
    assert_eq!(b.cmd(&["CLIENT", "SETNAME", "worker"]), b"+OK\r\n");
    b.cmd(&["SET", "k", "v"]);
    b.cmd(&["MULTI"]);
    b.cmd(&["GET", "k"]);
    b.cmd(&["GET", "k"]);
    let list = a.cmd_str(&["CLIENT", "LIST"]);
    let worker = list
        .lines()
        .find(|l| l.contains("name=worker"))
        .expect("worker listed");
    assert!(worker.contains(" multi=2 "), "{worker}");
    assert!(worker.contains(" cmd=get "), "{worker}");
    assert!(worker.contains("flags=x"), "{worker}");
    b.cmd(&["EXEC"]);
    let list = a.cmd_str(&["CLIENT", "LIST"]);
    let worker = list
        .lines()
        .find(|l| l.contains("name=worker"))
        .expect("worker listed");
    assert!(worker.contains(" multi=-1 "), "{worker}");
    assert!(worker.contains(" cmd=exec "), "{worker}");
}

/// Fields of one CLIENT LIST / CLIENT INFO line that depend only on what the client sent.
const BUFFER_FIELDS: &[&str] = &[
    "qbuf",
    "argv-mem",
    "multi",
    "multi-mem",
    "omem",
    "events",
    "cmd",
];

fn buffer_fields(line: &str) -> String {
    let mut out: Vec<String> = line
        .split(' ')
        .filter(|kv| BUFFER_FIELDS.contains(&kv.split('=').next().unwrap_or("")))
        .map(String::from)
        .collect();
    // Allocation-dependent, but never zero while a query buffer exists.
    let free = line
        .split(' ')
        .find_map(|kv| kv.strip_prefix("qbuf-free="))
        .expect("qbuf-free");
    out.push(format!("qbuf-free-positive={}", free != "0"));
    out.join(" ")
}

/// CLIENT LIST lines of a client seen by another one: idle, inside MULTI, blocked, with a
/// request partly arrived; and its own CLIENT INFO.
fn buffer_scenario(port: u16) -> Vec<String> {
    let mut observer = RawClient::connect(port);
    let mut look = |id: u64| {
        let line = verbatim_text(&observer.cmd(&["CLIENT", "LIST", "ID", &id.to_string()]));
        buffer_fields(&line)
    };
    let mut out = Vec::new();
    let mut a = RawClient::connect(port);
    let a_id = client_id(&mut a);
    out.push(look(a_id));
    out.push(buffer_fields(&verbatim_text(&a.cmd(&["CLIENT", "INFO"]))));
    a.cmd(&["MULTI"]);
    a.cmd(&["SET", "a", "b"]);
    a.cmd(&["MSET", "a", "1", "bb", "2"]);
    a.cmd(&["PING"]);
    out.push(look(a_id));
    a.cmd(&["DISCARD"]);
    out.push(look(a_id));
    a.send(&[b"BLPOP", b"list", b"0"]);
    let flags_blocked = |line: &str| line.contains("flags=b ");
    let blocked = (0..500).any(|_| {
        std::thread::sleep(std::time::Duration::from_millis(10));
        let mut o = RawClient::connect(port);
        flags_blocked(&verbatim_text(&o.cmd(&[
            "CLIENT",
            "LIST",
            "ID",
            &a_id.to_string(),
        ])))
    });
    assert!(blocked, "BLPOP blocks");
    out.push(look(a_id));
    let mut b = RawClient::connect(port);
    let b_id = client_id(&mut b);
    b.send_raw(b"*3\r\n$3\r\nSET\r\n$1\r\na\r\n$5\r\nab");
    // The partial request is published once read; poll until it shows.
    let mut seen = String::new();
    for _ in 0..500 {
        seen = look(b_id);
        if seen.contains("argv-mem=4") {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    out.push(seen);
    out
}

#[test]
fn client_list_buffer_fields_as_redis() {
    let redis = Server::start_redis(&[]).expect("redis-server is not installed");
    let ours = Server::start(&[]);
    assert_eq!(buffer_scenario(ours.port), buffer_scenario(redis.port));
}
