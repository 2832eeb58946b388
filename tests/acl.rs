//! ACL over real sockets, against ferrocache and redis-server alike where the two agree: a
//! permission matrix (users x commands, OK or NOPERM), AUTH as ACL users, DELUSER and CLIENT KILL
//! USER closing connections, users from `--user` lines and an aclfile (ACL SAVE/LOAD), the
//! pre-authentication limits once the default user has a password, and a brute-force AUTH loop
//! that does not stall another client. Byte-exact single-connection cases live in
//! tests/differential/98_acl_*.redis.

mod common;
use common::{RawClient, Server};
use std::process::{Command, Stdio};

/// Both servers (redis-server only when installed), each with a name for messages.
fn both(args: &[&str]) -> Vec<(&'static str, Server)> {
    let mut servers = vec![("ferrocache", Server::start(args))];
    if let Some(redis) = Server::start_redis(args) {
        servers.push(("redis-server", redis));
    }
    servers
}

fn ok(c: &mut RawClient, args: &[&str]) {
    let reply = c.cmd_str(args);
    assert_eq!(reply, "+OK\r\n", "{args:?}");
}

/// A connection authenticated as `user` with password `pw`.
fn login(server: &Server, user: &str, pw: &str) -> RawClient {
    let mut c = server.raw();
    ok(&mut c, &["AUTH", user, pw]);
    c
}

const USERS: &[(&str, &[&str])] = &[
    ("reader", &["on", ">pw", "~*", "&*", "+@read"]),
    (
        "nodanger",
        &["on", ">pw", "~*", "&*", "+@all", "-@dangerous"],
    ),
    ("sessions", &["on", ">pw", "~session:*", "&*", "+@all"]),
    ("split", &["on", ">pw", "%R~ro:*", "%W~wo:*", "&*", "+@all"]),
    (
        "news",
        &["on", ">pw", "~*", "resetchannels", "&news:*", "+@all"],
    ),
    (
        "narrow",
        &[
            "on",
            ">pw",
            "~*",
            "-@all",
            "+config|get",
            "+client|id",
            "+ping",
            "+select|0",
        ],
    ),
];

/// (command, expected per user in USERS order: true = runs, false = NOPERM).
const MATRIX: &[(&[&str], [bool; 6])] = &[
    (&["GET", "k"], [true, true, false, false, true, false]),
    (&["SET", "k", "v"], [false, true, false, false, true, false]),
    (
        &["GET", "session:1"],
        [true, true, true, false, true, false],
    ),
    (
        &["SET", "session:1", "v"],
        [false, true, true, false, true, false],
    ),
    (
        &["DEL", "session:1"],
        [false, true, true, false, true, false],
    ),
    (&["KEYS", "*"], [true, false, true, true, true, false]),
    (&["FLUSHDB"], [false, false, true, true, true, false]),
    (
        &["CONFIG", "GET", "maxmemory"],
        [false, false, true, true, true, true],
    ),
    (
        &["CONFIG", "SET", "maxmemory", "0"],
        [false, false, true, true, true, false],
    ),
    (&["CLIENT", "ID"], [false, true, true, true, true, true]),
    (&["PING"], [false, true, true, true, true, true]),
    (&["SELECT", "0"], [false, true, true, true, true, true]),
    (&["SELECT", "1"], [false, true, true, true, true, false]),
    (&["GET", "ro:1"], [true, true, false, true, true, false]),
    (
        &["SET", "ro:1", "v"],
        [false, true, false, false, true, false],
    ),
    (&["GET", "wo:1"], [true, true, false, false, true, false]),
    (
        &["SET", "wo:1", "v"],
        [false, true, false, true, true, false],
    ),
    (
        &["SET", "wo:1", "v", "GET"],
        [false, true, false, false, true, false],
    ),
    (&["EXISTS", "wo:1"], [true, true, false, true, true, false]),
    (
        &["APPEND", "wo:1", "v"],
        [false, true, false, true, true, false],
    ),
    (&["INCR", "wo:n"], [false, true, false, false, true, false]),
    (
        &["MGET", "session:1", "k"],
        [true, true, false, false, true, false],
    ),
    (
        &["PUBLISH", "news:1", "x"],
        [false, true, true, true, true, false],
    ),
    (
        &["PUBLISH", "sports", "x"],
        [false, true, true, true, false, false],
    ),
    (
        &["HSET", "session:h", "f", "v"],
        [false, true, true, false, true, false],
    ),
    (
        &["LPUSH", "wo:l", "v"],
        [false, true, false, true, true, false],
    ),
    (
        &["LRANGE", "ro:l", "0", "-1"],
        [true, true, false, true, true, false],
    ),
    // Sources and destinations need different access.
    (
        &["SUNIONSTORE", "wo:d", "ro:a", "ro:b"],
        [false, true, false, true, true, false],
    ),
    (
        &["SUNIONSTORE", "ro:d", "wo:a"],
        [false, true, false, false, true, false],
    ),
    (
        &["ZRANGESTORE", "wo:d", "ro:z", "0", "-1"],
        [false, true, false, true, true, false],
    ),
    (
        &["COPY", "ro:1", "wo:2"],
        [false, true, false, true, true, false],
    ),
    (
        &["RENAME", "ro:1", "wo:2"],
        [false, true, false, false, true, false],
    ),
    (
        &["LMOVE", "ro:l", "wo:l", "LEFT", "RIGHT"],
        [false, true, false, false, true, false],
    ),
    (
        &["SMOVE", "session:s", "session:t", "m"],
        [false, true, true, false, true, false],
    ),
];

#[test]
fn permission_matrix_matches_redis_server() {
    for (name, server) in both(&[]) {
        let mut admin = server.raw();
        for (user, rules) in USERS {
            let mut args = vec!["ACL", "SETUSER", user];
            args.extend_from_slice(rules);
            ok(&mut admin, &args);
        }
        let mut failures = Vec::new();
        for (u, (user, _)) in USERS.iter().enumerate() {
            let mut c = login(&server, user, "pw");
            for (command, expected) in MATRIX {
                let reply = c.cmd_str(command);
                let refused = reply.starts_with("-NOPERM");
                if refused == expected[u] {
                    failures.push(format!("{user} {command:?}: {}", reply.trim_end()));
                }
            }
        }
        assert!(failures.is_empty(), "{name}:\n{}", failures.join("\n"));
    }
}

/// Redis 7.2's NOPERM wording (7.0.15 says "this user has no permissions to ..."; see
/// docs/compatibility.md).
#[test]
fn noperm_texts_are_redis_7_2() {
    let server = Server::start(&[]);
    let mut admin = server.raw();
    ok(
        &mut admin,
        &[
            "ACL",
            "SETUSER",
            "app",
            "on",
            ">pw",
            "~app:*",
            "&app:*",
            "-@all",
            "+get",
            "+publish",
            "+config|get",
            "+multi",
            "+exec",
        ],
    );
    let mut c = login(&server, "app", "pw");
    assert_eq!(
        c.cmd_str(&["SET", "app:1", "v"]),
        "-NOPERM User app has no permissions to run the 'set' command\r\n"
    );
    assert_eq!(
        c.cmd_str(&["CONFIG", "SET", "maxmemory", "0"]),
        "-NOPERM User app has no permissions to run the 'config|set' command\r\n"
    );
    assert_eq!(
        c.cmd_str(&["GET", "other"]),
        "-NOPERM No permissions to access a key\r\n"
    );
    assert_eq!(
        c.cmd_str(&["PUBLISH", "other", "x"]),
        "-NOPERM No permissions to access a channel\r\n"
    );
    assert_eq!(c.cmd_str(&["GET", "app:1"]), "$-1\r\n");
    assert_eq!(
        admin.cmd_str(&["ACL", "DRYRUN", "app", "GET", "other"]),
        "$53\r\nUser app has no permissions to access the 'other' key\r\n"
    );
    // Refused while queuing: the transaction is aborted.
    ok(&mut c, &["MULTI"]);
    assert!(c.cmd_str(&["SET", "app:1", "v"]).starts_with("-NOPERM"));
    assert!(c.cmd_str(&["EXEC"]).starts_with("-EXECABORT"));
    // Allowed when queued, revoked before EXEC.
    ok(&mut c, &["MULTI"]);
    assert_eq!(c.cmd_str(&["GET", "app:1"]), "+QUEUED\r\n");
    ok(&mut admin, &["ACL", "SETUSER", "app", "-get"]);
    assert_eq!(
        c.cmd_str(&["EXEC"]),
        "*1\r\n-NOPERM ACLs rules changed between the moment the transaction was accumulated and the EXEC call. This command is no longer allowed for the following reason: no permission to execute the command or subcommand\r\n"
    );
}

/// The fields of the newest ACL LOG entry, as name -> value text.
fn newest_log_entry(c: &mut RawClient) -> Vec<(String, String)> {
    let reply = c.cmd_str(&["ACL", "LOG", "1"]);
    let lines: Vec<&str> = reply.split("\r\n").collect();
    let mut fields = Vec::new();
    let mut i = 2; // "*1", "*20"
    while i + 1 < lines.len() {
        let take = |j: usize| -> (String, usize) {
            let line = lines[j];
            if line.starts_with('$') {
                (lines[j + 1].to_string(), j + 2)
            } else {
                (line[1..].to_string(), j + 1)
            }
        };
        let (name, next) = take(i);
        if next >= lines.len() {
            break;
        }
        let (value, next) = take(next);
        fields.push((name, value));
        i = next;
    }
    fields
}

fn field<'a>(fields: &'a [(String, String)], name: &str) -> &'a str {
    fields
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
        .unwrap_or_else(|| panic!("no field {name} in {fields:?}"))
}

#[test]
fn acl_log_records_refusals_and_failed_auth() {
    for (name, server) in both(&[]) {
        let mut admin = server.raw();
        ok(
            &mut admin,
            &["ACL", "SETUSER", "app", "on", ">pw", "~app:*", "+@all"],
        );
        let mut c = login(&server, "app", "pw");
        assert!(
            c.cmd_str(&["GET", "secret"]).starts_with("-NOPERM"),
            "{name}"
        );
        let entry = newest_log_entry(&mut admin);
        assert_eq!(field(&entry, "count"), "1", "{name}");
        assert_eq!(field(&entry, "reason"), "key", "{name}");
        assert_eq!(field(&entry, "context"), "toplevel", "{name}");
        assert_eq!(field(&entry, "object"), "secret", "{name}");
        assert_eq!(field(&entry, "username"), "app", "{name}");
        assert!(field(&entry, "client-info").contains("user=app"), "{name}");
        for _ in 0..3 {
            assert!(c
                .cmd_str(&["AUTH", "app", "wrong"])
                .starts_with("-WRONGPASS"));
        }
        let entry = newest_log_entry(&mut admin);
        assert_eq!(
            field(&entry, "count"),
            "3",
            "{name}: repeated failures share one entry"
        );
        assert_eq!(field(&entry, "reason"), "auth", "{name}");
        assert_eq!(field(&entry, "object"), "AUTH", "{name}");
        if name == "ferrocache" {
            // Redis 7.2 adds these three fields.
            for extra in ["entry-id", "timestamp-created", "timestamp-last-updated"] {
                field(&entry, extra);
            }
        }
        if name == "ferrocache" {
            // Redis 7.2's INFO stats counters (7.0.15 has none).
            let stats = admin.cmd_str(&["INFO", "stats"]);
            for counter in [
                "acl_access_denied_key:1\r\n",
                "acl_access_denied_auth:3\r\n",
                "acl_access_denied_cmd:0\r\n",
            ] {
                assert!(stats.contains(counter), "{name}: {counter} in {stats}");
            }
        }
        ok(&mut admin, &["ACL", "LOG", "RESET"]);
        assert_eq!(admin.cmd_str(&["ACL", "LOG"]), "*0\r\n", "{name}");
    }
}

#[test]
fn users_authenticate_and_show_in_client_list() {
    for (name, server) in both(&[]) {
        let mut admin = server.raw();
        ok(
            &mut admin,
            &["ACL", "SETUSER", "alice", "on", ">a1", ">a2", "~*", "+@all"],
        );
        ok(
            &mut admin,
            &["ACL", "SETUSER", "bob", "off", ">b1", "~*", "+@all"],
        );
        let mut c = server.raw();
        assert_eq!(
            c.cmd_str(&["AUTH", "alice", "nope"]),
            "-WRONGPASS invalid username-password pair or user is disabled.\r\n",
            "{name}"
        );
        assert!(
            c.cmd_str(&["AUTH", "bob", "b1"]).starts_with("-WRONGPASS"),
            "{name}: disabled user"
        );
        assert!(
            c.cmd_str(&["AUTH", "nobody", "x"])
                .starts_with("-WRONGPASS"),
            "{name}"
        );
        ok(&mut c, &["AUTH", "alice", "a2"]);
        assert_eq!(c.cmd_str(&["ACL", "WHOAMI"]), "$5\r\nalice\r\n", "{name}");
        assert!(
            c.cmd_str(&["CLIENT", "INFO"]).contains(" user=alice "),
            "{name}"
        );
        let mut h = server.raw();
        let hello = h.cmd_str(&["HELLO", "2", "AUTH", "alice", "a1"]);
        assert!(hello.starts_with("*14\r\n"), "{name}: {hello}");
        assert_eq!(h.cmd_str(&["ACL", "WHOAMI"]), "$5\r\nalice\r\n", "{name}");
        // RESET goes back to the default user.
        assert_eq!(h.cmd_str(&["RESET"]), "+RESET\r\n");
        assert_eq!(h.cmd_str(&["ACL", "WHOAMI"]), "$7\r\ndefault\r\n", "{name}");
        // A user switched off keeps its open connections.
        ok(&mut admin, &["ACL", "SETUSER", "alice", "off"]);
        assert_eq!(c.cmd_str(&["PING"]), "+PONG\r\n", "{name}");
    }
}

#[test]
fn deluser_and_client_kill_user_close_connections() {
    for (name, server) in both(&[]) {
        let mut admin = server.raw();
        ok(
            &mut admin,
            &["ACL", "SETUSER", "temp", "on", ">pw", "~*", "+@all"],
        );
        let mut a = login(&server, "temp", "pw");
        let mut b = login(&server, "temp", "pw");
        assert_eq!(
            admin.cmd_str(&["CLIENT", "KILL", "USER", "temp"]),
            ":2\r\n",
            "{name}"
        );
        assert!(
            a.read_reply().is_none(),
            "{name}: killed by CLIENT KILL USER"
        );
        assert!(b.read_reply().is_none(), "{name}");
        assert_eq!(
            admin.cmd_str(&["CLIENT", "KILL", "USER", "ghost"]),
            "-ERR No such user 'ghost'\r\n",
            "{name}"
        );
        let mut c = login(&server, "temp", "pw");
        assert_eq!(
            admin.cmd_str(&["ACL", "DELUSER", "temp"]),
            ":1\r\n",
            "{name}"
        );
        assert!(c.read_reply().is_none(), "{name}: closed by ACL DELUSER");
        assert_eq!(admin.cmd_str(&["PING"]), "+PONG\r\n", "{name}");
    }
}

#[test]
fn requirepass_is_the_default_users_password() {
    for (name, server) in both(&["--requirepass", "s3cret"]) {
        let mut c = server.raw();
        assert_eq!(
            c.cmd_str(&["PING"]),
            "-NOAUTH Authentication required.\r\n",
            "{name}"
        );
        ok(&mut c, &["AUTH", "default", "s3cret"]);
        let user = c.cmd_str(&["ACL", "GETUSER", "default"]);
        // sha256("s3cret")
        assert!(
            user.contains("1ec1c26b50d5d3c58d9583181af8076655fe00756bf7285940ba3670f99fcba0"),
            "{name}: {user}"
        );
        // An empty requirepass makes the default user nopass again: new connections run.
        ok(&mut c, &["CONFIG", "SET", "requirepass", ""]);
        assert_eq!(server.raw().cmd_str(&["PING"]), "+PONG\r\n", "{name}");
        // A password set with ACL SETUSER gates new connections like requirepass.
        ok(
            &mut c,
            &["ACL", "SETUSER", "default", "resetpass", ">other"],
        );
        let mut d = server.raw();
        assert_eq!(
            d.cmd_str(&["PING"]),
            "-NOAUTH Authentication required.\r\n",
            "{name}"
        );
        ok(&mut d, &["AUTH", "other"]);
        ok(&mut c, &["ACL", "SETUSER", "default", "nopass"]);
    }
}

/// Before AUTH: at most 10 arguments and 16 KiB per bulk, else Redis's protocol error and a
/// closed connection; also when the password came from ACL SETUSER rather than requirepass.
#[test]
fn unauthenticated_limits_follow_the_default_user() {
    for (name, server) in both(&[]) {
        let mut admin = server.raw();
        ok(&mut admin, &["ACL", "SETUSER", "default", ">pw"]);
        ok(
            &mut admin,
            &["ACL", "SETUSER", "default", "resetpass", ">pw"],
        );
        let mut c = server.raw();
        c.send_raw(b"*11\r\n");
        assert_eq!(
            String::from_utf8_lossy(&c.read_to_close()),
            "-ERR Protocol error: unauthenticated multibulk length\r\n",
            "{name}"
        );
        let mut c = server.raw();
        c.send_raw(b"*2\r\n$4\r\nECHO\r\n$20000\r\n");
        assert_eq!(
            String::from_utf8_lossy(&c.read_to_close()),
            "-ERR Protocol error: unauthenticated bulk length\r\n",
            "{name}"
        );
        let mut c = server.raw();
        let ten: Vec<&str> = ["DEL"]
            .into_iter()
            .chain(std::iter::repeat_n("k", 9))
            .collect();
        assert_eq!(
            c.cmd_str(&ten),
            "-NOAUTH Authentication required.\r\n",
            "{name}"
        );
        ok(&mut c, &["AUTH", "pw"]);
        let eleven: Vec<&str> = ["DEL"]
            .into_iter()
            .chain(std::iter::repeat_n("k", 10))
            .collect();
        assert_eq!(c.cmd_str(&eleven), ":0\r\n", "{name}: no limit after AUTH");
        ok(&mut c, &["ACL", "SETUSER", "default", "nopass"]);
    }
}

/// One connection failing AUTH in a loop does not keep another from being served.
#[test]
fn brute_force_auth_does_not_stall_other_clients() {
    let server = Server::start(&["--requirepass", "right"]);
    let port = server.port;
    let attacker = std::thread::spawn(move || {
        let mut c = RawClient::connect(port);
        let mut batch = Vec::new();
        for _ in 0..200 {
            batch.extend_from_slice(&common::encode_command(&[b"AUTH", b"wrong"]));
        }
        for _ in 0..10 {
            c.send_raw(&batch);
            for _ in 0..200 {
                let reply = c.read_reply().expect("reply");
                assert!(reply.starts_with(b"-WRONGPASS"));
            }
        }
    });
    let mut user = server.raw();
    ok(&mut user, &["AUTH", "right"]);
    for i in 0..300 {
        let value = i.to_string();
        ok(&mut user, &["SET", "k", &value]);
        assert_eq!(
            user.cmd_str(&["GET", "k"]),
            format!("${}\r\n{value}\r\n", value.len())
        );
    }
    attacker.join().expect("attacker thread");
    let log = user.cmd_str(&["ACL", "LOG"]);
    assert!(log.starts_with("*1\r\n"), "one grouped entry: {log}");
    assert!(log.contains(":2000\r\n"), "{log}");
}

#[test]
fn user_lines_and_aclfile() {
    // `user` lines given as options, as in redis.conf.
    for (name, server) in both(&["--user", "app", "on", ">pw", "~app:*", "+@all"]) {
        let mut admin = server.raw();
        let list = admin.cmd_str(&["ACL", "LIST"]);
        assert!(
            list.contains("user app on #30c952fab122c3f9759f02a6d95c3758b246b4fee239957b2d4fee46e26170c4 ~app:* resetchannels +@all"),
            "{name}: {list}"
        );
        let mut c = login(&server, "app", "pw");
        assert!(
            c.cmd_str(&["GET", "other"]).starts_with("-NOPERM"),
            "{name}"
        );
    }
    // An aclfile: SAVE writes ACL LIST lines, LOAD reads them back.
    for name in ["ferrocache", "redis-server"] {
        let path = common::temp_dir("aclfile").join("users.acl");
        std::fs::write(&path, "user reader on >pw ~* +@read\n").unwrap();
        let path_arg = path.to_str().unwrap();
        let server = if name == "ferrocache" {
            Server::start(&["--aclfile", path_arg])
        } else {
            match Server::start_redis(&["--aclfile", path_arg]) {
                Some(server) => server,
                None => continue,
            }
        };
        let mut admin = server.raw();
        assert_eq!(
            admin.cmd_str(&["ACL", "USERS"]),
            "*2\r\n$7\r\ndefault\r\n$6\r\nreader\r\n",
            "{name}"
        );
        ok(
            &mut admin,
            &["ACL", "SETUSER", "writer", "on", ">pw", "~w:*", "+set"],
        );
        ok(&mut admin, &["ACL", "SAVE"]);
        let saved = std::fs::read_to_string(&path).unwrap();
        assert!(saved.contains("user writer on #30c952fab122c3f9759f02a6d95c3758b246b4fee239957b2d4fee46e26170c4 ~w:* resetchannels -@all +set\n"), "{name}: {saved}");
        let mut w = login(&server, "writer", "pw");
        std::fs::write(&path, "user reader on >pw ~* +@read\n").unwrap();
        ok(&mut admin, &["ACL", "LOAD"]);
        assert!(
            w.read_reply().is_none(),
            "{name}: a removed user's connection closes"
        );
        assert_eq!(
            admin.cmd_str(&["ACL", "USERS"]),
            "*2\r\n$7\r\ndefault\r\n$6\r\nreader\r\n",
            "{name}"
        );
        std::fs::write(&path, "user reader on >pw ~* +@nosuch\n").unwrap();
        let err = admin.cmd_str(&["ACL", "LOAD"]);
        assert!(err.starts_with("-ERR "), "{name}: {err}");
        assert!(err.contains(":1: Error in applying operation '+@nosuch': Unknown command or category name in ACL."), "{name}: {err}");
        assert_eq!(
            admin.cmd_str(&["ACL", "USERS"]),
            "*2\r\n$7\r\ndefault\r\n$6\r\nreader\r\n",
            "{name}: unchanged after a failed LOAD"
        );
    }
}

#[test]
fn aclfile_and_user_lines_together_refuse_to_start() {
    let dir = common::temp_dir("aclboth");
    let acl = dir.join("users.acl");
    std::fs::write(&acl, "").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_ferrocache"))
        .args([
            "--port",
            "0",
            "--aclfile",
            acl.to_str().unwrap(),
            "--user",
            "app",
            "on",
        ])
        .current_dir(&dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .output()
        .expect("run ferrocache");
    assert!(!out.status.success());
    let text =
        String::from_utf8_lossy(&out.stderr).into_owned() + &String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("Configuring Redis with users defined in redis.conf and at the same setting an ACL file path is invalid."),
        "{text}"
    );
}

/// Taking a channel away from a user closes that user's connections subscribed to it; a
/// subscriber whose channels stay allowed keeps its connection.
#[test]
fn revoked_channels_close_their_subscribers() {
    for (name, server) in both(&[]) {
        let mut admin = server.raw();
        ok(
            &mut admin,
            &[
                "ACL",
                "SETUSER",
                "sub",
                "on",
                ">pw",
                "~*",
                "resetchannels",
                "&news:*",
                "&sports",
                "+@all",
            ],
        );
        let mut news = login(&server, "sub", "pw");
        assert!(
            news.cmd_str(&["SUBSCRIBE", "news:1"]).starts_with("*3\r\n"),
            "{name}"
        );
        let mut pattern = login(&server, "sub", "pw");
        assert!(
            pattern
                .cmd_str(&["PSUBSCRIBE", "news:*"])
                .starts_with("*3\r\n"),
            "{name}"
        );
        let mut sports = login(&server, "sub", "pw");
        assert!(
            sports
                .cmd_str(&["SUBSCRIBE", "sports"])
                .starts_with("*3\r\n"),
            "{name}"
        );
        ok(
            &mut admin,
            &["ACL", "SETUSER", "sub", "resetchannels", "&sports"],
        );
        assert!(
            news.read_reply().is_none(),
            "{name}: news:1 subscriber closed"
        );
        assert!(
            pattern.read_reply().is_none(),
            "{name}: news:* subscriber closed"
        );
        assert_eq!(
            admin.cmd_str(&["PUBLISH", "sports", "goal"]),
            ":1\r\n",
            "{name}"
        );
        let message = sports.read_reply().expect("sports subscriber still open");
        assert_eq!(
            String::from_utf8_lossy(&message),
            "*3\r\n$7\r\nmessage\r\n$6\r\nsports\r\n$4\r\ngoal\r\n",
            "{name}"
        );
    }
}

/// `--user "alice on >pw"` is one argument, so a user name holding spaces: redis-server and
/// ferrocache both refuse to start with "Spaces not allowed in ACL usernames".
#[test]
fn a_user_name_with_spaces_refuses_to_start() {
    let mut programs = vec![env!("CARGO_BIN_EXE_ferrocache")];
    if Command::new("redis-server")
        .arg("--version")
        .output()
        .is_ok()
    {
        programs.push("redis-server");
    }
    for program in programs {
        let dir = common::temp_dir("aclspaces");
        let port = common::free_port().to_string();
        let log = dir.join("out.log");
        let mut child = Command::new(program)
            .args(["--port", &port, "--bind", "127.0.0.1", "--save", ""])
            .args(["--user", "alice on >pw"])
            .current_dir(&dir)
            .stdout(std::fs::File::create(&log).unwrap())
            .stderr(std::fs::File::create(dir.join("err.log")).unwrap())
            .spawn()
            .expect("run the server");
        // A server that wrongly starts is stopped after 10 s instead of hanging the test.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        let status = loop {
            if let Some(status) = child.try_wait().unwrap() {
                break Some(status);
            }
            if std::time::Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        };
        let text = std::fs::read_to_string(&log).unwrap()
            + &std::fs::read_to_string(dir.join("err.log")).unwrap();
        assert!(
            status.is_some_and(|s| !s.success()),
            "{program} started: {text}"
        );
        assert!(
            text.contains("Spaces not allowed in ACL usernames"),
            "{program}: {text}"
        );
    }
}
