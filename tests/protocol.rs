//! Raw protocol behaviour over TCP against the real binary: framing, pipelining, hostile input.

mod common;
use common::Server;

#[test]
fn ping_inline_and_multibulk() {
    let server = Server::start(&[]);
    let mut c = server.raw();
    c.send_raw(b"PING\r\n");
    assert_eq!(c.read_reply().unwrap(), b"+PONG\r\n");
    assert_eq!(c.cmd(&["PING", "hi"]), b"$2\r\nhi\r\n");
}

#[test]
fn pipelined_replies_arrive_in_order() {
    let server = Server::start(&[]);
    let mut c = server.raw();
    let mut batch = Vec::new();
    for i in 0..100 {
        batch.extend(common::encode_command(&[
            b"SET",
            format!("k{i}").as_bytes(),
            format!("{i}").as_bytes(),
        ]));
        batch.extend(common::encode_command(&[
            b"GET",
            format!("k{i}").as_bytes(),
        ]));
    }
    c.send_raw(&batch);
    for i in 0..100 {
        assert_eq!(c.read_reply().unwrap(), b"+OK\r\n");
        let v = format!("{i}");
        assert_eq!(
            c.read_reply().unwrap(),
            format!("${}\r\n{v}\r\n", v.len()).into_bytes()
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Hostile input, compared byte for byte with redis-server.
//
// Each case is written over a fresh raw TCP connection to both servers; everything each server
// sends back until it closes the connection is compared. Cases that should not close the
// connection end with QUIT, so "closed after exactly these bytes" is what is asserted every time.
// After each case a new connection must still get PONG: hostile input kills one client, never the
// server.
// ---------------------------------------------------------------------------------------------

use std::io::{Read, Write};
use std::net::{Shutdown, TcpStream};
use std::time::Duration;

/// How long a connection may stay silent before we decide the server will not close it.
const SILENCE_TIMEOUT: Duration = Duration::from_secs(10);

/// One hostile exchange: the bytes to send, how to cut them into writes, and whether to end with
/// QUIT (for input after which the connection must stay usable).
struct Case {
    name: &'static str,
    input: Vec<u8>,
    write_bytes: usize,
    end: End,
}

#[derive(Clone, Copy, PartialEq)]
enum End {
    /// Append QUIT: the server must still be reading commands on this connection.
    Quit,
    /// The server must close the connection by itself.
    ServerCloses,
}

/// What came back: every byte until close, and whether the server did close.
#[derive(PartialEq, Debug)]
struct Outcome {
    bytes: Vec<u8>,
    closed: bool,
}

fn case(name: &'static str, input: impl Into<Vec<u8>>, end: End) -> Case {
    Case {
        name,
        input: input.into(),
        write_bytes: usize::MAX,
        end,
    }
}

fn chunked(name: &'static str, input: Vec<u8>, write_bytes: usize, end: End) -> Case {
    Case {
        name,
        input,
        write_bytes,
        end,
    }
}

fn cmd(args: &[&[u8]]) -> Vec<u8> {
    common::encode_command(args)
}

/// Sends a case to `port` while a second thread reads, so a server that closes mid-write is
/// observed, and a large reply never deadlocks against a large request.
fn exchange(port: u16, c: &Case) -> Outcome {
    let stream = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    stream.set_nodelay(true).unwrap();
    stream.set_read_timeout(Some(SILENCE_TIMEOUT)).unwrap();
    let mut reader = stream.try_clone().unwrap();
    let read_thread = std::thread::spawn(move || {
        let mut bytes = Vec::new();
        let mut chunk = vec![0u8; 64 * 1024];
        loop {
            match reader.read(&mut chunk) {
                Ok(0) => {
                    return Outcome {
                        bytes,
                        closed: true,
                    }
                }
                Ok(n) => bytes.extend_from_slice(&chunk[..n]),
                // A reset after the server closed with our bytes unread is a close too.
                Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {
                    return Outcome {
                        bytes,
                        closed: true,
                    }
                }
                Err(_) => {
                    return Outcome {
                        bytes,
                        closed: false,
                    }
                }
            }
        }
    });
    let mut writer = &stream;
    let mut input = c.input.clone();
    if c.end == End::Quit {
        input.extend(cmd(&[b"QUIT"]));
    }
    for piece in input.chunks(c.write_bytes.max(1)) {
        // The server may close before everything is written; that is what some cases test.
        if writer.write_all(piece).is_err() {
            break;
        }
    }
    let outcome = read_thread.join().unwrap();
    let _ = stream.shutdown(Shutdown::Both);
    outcome
}

fn assert_still_serving(port: u16, who: &str, after: &str) {
    let mut c = common::RawClient::connect(port);
    c.send_raw(b"PING\r\n");
    // +PONG, or -NOAUTH when a password is required: any reply means the server is alive.
    let reply = c.read_reply().unwrap_or_default();
    assert!(
        reply == b"+PONG\r\n" || reply.starts_with(b"-NOAUTH"),
        "{who} stopped serving after case {after}"
    );
}

/// The bytes around the first difference, escaped (replies can be megabytes long).
fn show_difference(ours: &[u8], theirs: &[u8]) -> (String, String) {
    const CONTEXT_BYTES: usize = 120;
    let first = ours
        .iter()
        .zip(theirs)
        .position(|(a, b)| a != b)
        .unwrap_or(ours.len().min(theirs.len()));
    let from = first.saturating_sub(CONTEXT_BYTES);
    let show = |bytes: &[u8]| {
        let to = bytes.len().min(first + CONTEXT_BYTES);
        let prefix = if from > 0 {
            format!("[{from} equal bytes]...")
        } else {
            String::new()
        };
        let suffix = if to < bytes.len() {
            format!("...[{} bytes in all]", bytes.len())
        } else {
            String::new()
        };
        format!("{prefix}{}{suffix}", bytes[from..to].escape_ascii())
    };
    (show(ours), show(theirs))
}

/// Runs every case against ferrocache and redis-server started with the same extra arguments;
/// panics with one report listing every case whose outcome differs.
fn run_against_both(args: &[&str], cases: &[Case]) {
    let redis =
        Server::start_redis(args).expect("redis-server is not installed: tests/run.sh installs it");
    let ours = Server::start(args);
    let mut report = String::new();
    for c in cases {
        let expected = exchange(redis.port, c);
        let got = exchange(ours.port, c);
        assert!(
            expected.closed,
            "case {}: redis-server did not close the connection (the case itself is wrong)",
            c.name
        );
        if got != expected {
            let (ours_shown, theirs_shown) = show_difference(&got.bytes, &expected.bytes);
            report.push_str(&format!(
                "case {}:\n    ferrocache   (closed: {}): {}\n    redis-server (closed: {}): {}\n",
                c.name, got.closed, ours_shown, expected.closed, theirs_shown
            ));
        }
        assert_still_serving(redis.port, "redis-server", c.name);
        assert_still_serving(ours.port, "ferrocache", c.name);
    }
    assert!(
        report.is_empty(),
        "ferrocache differs from redis-server:\n{report}"
    );
}

/// `len` bytes of a deterministic pattern that contains no `\n` (so it never ends an inline line).
fn garbage(len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| [0u8, 0xff, b'*', b'$', b'\r', b'x', 0x7f][i % 7])
        .collect()
}

fn hostile_cases() -> Vec<Case> {
    use End::{Quit, ServerCloses};
    let mut cases = vec![
        case("huge multibulk count", "*3000000000\r\n", ServerCloses),
        case(
            "negative multibulk count is ignored",
            "*-10\r\n*1\r\n$4\r\nPING\r\n",
            Quit,
        ),
        case(
            "zero multibulk count is ignored",
            "*0\r\n*1\r\n$4\r\nPING\r\n",
            Quit,
        ),
        case("non-numeric multibulk count", "*abc\r\n", ServerCloses),
        case("negative bulk length", "*1\r\n$-5\r\n", ServerCloses),
        case("inline $-5 is a command name", "$-5\r\n", Quit),
        case(
            "bulk length over proto-max-bulk-len",
            "*1\r\n$2000000000\r\n",
            ServerCloses,
        ),
        case("non-numeric bulk length", "*1\r\n$blabla\r\n", ServerCloses),
        case("missing $ before a bulk", "*1\r\nfoo\r\n", ServerCloses),
        case(
            "unbalanced double quote inline",
            "SET \"k v\r\n",
            ServerCloses,
        ),
        case(
            "unbalanced single quote inline",
            "SET 'k v\r\n",
            ServerCloses,
        ),
        case(
            "closing quote followed by a letter",
            "SET \"k\"v x\r\n",
            ServerCloses,
        ),
        case(
            "inline with quotes and escapes",
            "ECHO \"a\\x00\\r\\nb\"\r\n",
            Quit,
        ),
        case("empty inline lines are ignored", "\r\n\n\r\nPING\r\n", Quit),
        case("inline with LF only", "PING\nPING x\n", Quit),
        case("empty command name", "*1\r\n$0\r\n\r\n", Quit),
        chunked(
            "request split byte by byte",
            cmd(&[b"ECHO", b"split"]),
            1,
            Quit,
        ),
    ];
    let mut long_inline = b"SET k ".to_vec();
    long_inline.extend(vec![b'a'; 70 * 1024]);
    cases.push(chunked(
        "inline over 64 KiB without newline",
        long_inline,
        16 * 1024,
        ServerCloses,
    ));
    let mut bulk_count = b"*1\r\n$".to_vec();
    bulk_count.extend(vec![b'1'; 70 * 1024]);
    cases.push(chunked(
        "bulk count line over 64 KiB",
        bulk_count,
        16 * 1024,
        ServerCloses,
    ));
    let mut mbulk_count = b"*".to_vec();
    mbulk_count.extend(vec![b'1'; 70 * 1024]);
    cases.push(chunked(
        "multibulk count line over 64 KiB",
        mbulk_count,
        16 * 1024,
        ServerCloses,
    ));
    let mut nul_garbage = b"\x00".to_vec();
    nul_garbage.extend(garbage(200 * 1024));
    cases.push(chunked(
        "NUL then garbage in 1 KiB writes",
        nul_garbage,
        1024,
        ServerCloses,
    ));

    let big: Vec<u8> = (0..1024 * 1024).map(|i| (i % 251) as u8).collect();
    let mut big_round_trip = cmd(&[b"SET", b"big", &big]);
    big_round_trip.extend(cmd(&[b"GET", b"big"]));
    big_round_trip.extend(cmd(&[b"EXISTS", b"big", b"big"]));
    big_round_trip.extend(cmd(&[b"DEL", b"big"]));
    cases.push(chunked(
        "1 MiB value in 1000-byte writes",
        big_round_trip,
        1000,
        Quit,
    ));

    let key = b"k\r\n\x00\xff*1\r\n$";
    let value = b"\r\n$-1\r\n\x00*2\r\n:1\r\n\r\n";
    let mut binary = cmd(&[b"SET", key, value]);
    binary.extend(cmd(&[b"GET", key]));
    binary.extend(cmd(&[b"EXISTS", key, b"k"]));
    binary.extend(cmd(&[b"DEL", key]));
    binary.extend(cmd(&[b"GET", key]));
    cases.push(case("binary key and value with CRLF and NUL", binary, Quit));

    let mut pipeline = Vec::new();
    for i in 0..5000 {
        let k = format!("key:{i}");
        pipeline.extend(cmd(&[
            b"SET",
            k.as_bytes(),
            format!("value {i}").as_bytes(),
        ]));
        pipeline.extend(cmd(&[b"GET", k.as_bytes()]));
    }
    cases.push(case(
        "10,000 pipelined commands in one write",
        pipeline,
        Quit,
    ));

    let mut many = cmd(&[b"SET", b"k:7", b"x"]);
    many.extend(cmd(&[b"SET", b"k:99999", b"x"]));
    let keys: Vec<Vec<u8>> = (0..100_000)
        .map(|i| format!("k:{i}").into_bytes())
        .collect();
    let mut argv: Vec<&[u8]> = vec![b"DEL"];
    argv.extend(keys.iter().map(|k| k.as_slice()));
    many.extend(cmd(&argv));
    cases.push(case("DEL with 100,000 keys", many, Quit));
    cases
}

#[test]
fn hostile_input_matches_redis_server() {
    run_against_both(&[], &hostile_cases());
}

#[test]
fn query_buffer_limit_closes_only_that_client() {
    // 2 MiB of a 3 MB bulk: the query buffer passes the 1 MiB limit before the bulk completes.
    let mut partial = b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$3000000\r\n".to_vec();
    partial.extend(vec![b'v'; 2 * 1024 * 1024]);
    let cases = [
        chunked(
            "2 MiB of a partial bulk over a 1mb query buffer limit",
            partial,
            64 * 1024,
            End::ServerCloses,
        ),
        case(
            "small commands are still fine",
            cmd(&[b"SET", b"k", b"v"]),
            End::Quit,
        ),
    ];
    run_against_both(&["--client-query-buffer-limit", "1mb"], &cases);
}

#[test]
fn unauthenticated_clients_get_small_limits() {
    let cases = [
        case("unauthenticated *11", "*11\r\n", End::ServerCloses),
        case(
            "unauthenticated $20000",
            "*2\r\n$4\r\nAUTH\r\n$20000\r\n",
            End::ServerCloses,
        ),
        case(
            "unauthenticated *10 is a normal NOAUTH",
            cmd(&[b"GET", b"a", b"b", b"c", b"d", b"e", b"f", b"g", b"h", b"i"]),
            End::Quit,
        ),
        case(
            "unauthenticated 16 KiB bulk is a normal NOAUTH",
            cmd(&[b"GET", &[b'k'; 16 * 1024]]),
            End::Quit,
        ),
    ];
    run_against_both(&["--requirepass", "pw"], &cases);
}

/// Redis formats each argument of the unknown-command error with C's `%.*s`: an argument is cut
/// at its first NUL byte and other bytes are copied raw (`\xff` stays one byte).
#[test]
fn unknown_command_error_quotes_binary_args_like_redis() {
    let input = cmd(&[b"NOPE\r\n", b"a\r\nb\x00c", b"\xff"]);
    run_against_both(
        &[],
        &[case("unknown command with binary args", input, End::Quit)],
    );
}

/// Every byte value inside and around an inline word, as its own request line, compared with
/// redis-server byte for byte. A NUL once made the inline splitter loop forever (100% CPU, memory
/// growing without bound, no other client served); `sdssplitargs` ends the line at a NUL.
#[test]
fn every_byte_in_and_around_an_inline_word_matches_redis_server() {
    let mut cases = Vec::new();
    for b in 0..=255u8 {
        let lines: [Vec<u8>; 5] = [
            vec![b],
            [b"PING".as_slice(), &[b]].concat(),
            [&[b], b"PING".as_slice()].concat(),
            [b"PI".as_slice(), &[b], b"NG"].concat(),
            [b"ECHO a".as_slice(), &[b], b"b"].concat(),
        ];
        for line in lines {
            // A line ending in CR is also a CRLF line; keep each case one line.
            let mut input = line;
            input.extend_from_slice(b"\r\n");
            let name = format!("inline line {:?}", input.escape_ascii().to_string());
            let name: &'static str = Box::leak(name.into_boxed_str());
            if b == 0 {
                // A NUL hides the newline from Redis's strchr: the line waits for more bytes
                // until the inline limit closes the connection.
                input.extend(vec![b'a'; 70 * 1024]);
                cases.push(chunked(name, input, 16 * 1024, End::ServerCloses));
            } else {
                cases.push(case(name, input, End::Quit));
            }
        }
    }
    run_against_both(&[], &cases);
}

/// The hang's shape: a hostile inline line left on an open connection (no QUIT) must not stop
/// another connection from being served, with or without a password, and the hostile connection
/// itself still answers (or is closed) afterwards.
#[test]
fn hostile_inline_bytes_never_stall_other_clients() {
    for args in [&[][..], &["--requirepass", "pw"][..]] {
        let server = Server::start(args);
        for b in 0..=255u8 {
            for line in [
                vec![b, b'\r', b'\n'],
                vec![b'P', b'I', b'N', b'G', b, b'\r', b'\n'],
                vec![b, b'P', b'I', b'N', b'G', b, b'\r', b'\n'],
            ] {
                let mut hostile = common::RawClient::connect(server.port);
                hostile.send_raw(&line);
                assert_still_serving(server.port, "ferrocache", &format!("{line:?}"));
                // The hostile connection still makes progress: 70 KiB without a newline pass the
                // inline limit whatever the line did, so the server must close it.
                let _ = hostile.stream.write_all(&vec![b'a'; 70 * 1024]);
                let mut chunk = [0u8; 4096];
                loop {
                    match hostile.stream.read(&mut chunk) {
                        Ok(0) => break,
                        Ok(_) => {}
                        Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => break,
                        Err(e) => panic!("connection that sent {line:?} was never closed: {e}"),
                    }
                }
            }
        }
    }
}

/// A pipelined batch of key commands is decoded ahead of running it (net/lookahead.rs): the
/// replies, their order, a protocol error ending the batch, and requests decoded only once an
/// earlier one changed the limits (AUTH) must be exactly what redis-server answers when it
/// decodes one request at a time.
#[test]
fn pipelined_key_commands_decoded_ahead_answer_like_redis() {
    let mut batch = Vec::new();
    for i in 0..40u32 {
        let key = format!("k{}", i % 7);
        let key = key.as_bytes();
        batch.extend(match i % 5 {
            0 => cmd(&[b"SET", key, b"v"]),
            1 => cmd(&[b"GET", key]),
            2 => cmd(&[b"INCR", b"n"]),
            3 => cmd(&[b"MSET", key, b"1", b"other", b"2"]),
            _ => cmd(&[b"DEL", key, b"missing"]),
        });
        if i == 17 {
            batch.extend(cmd(&[b"GET", b"a", b"b"])); // arity error in the middle
            batch.extend(b"\r\n"); // an empty inline line
        }
    }
    let mut then_garbage = batch.clone();
    then_garbage.extend(b"*2\r\n$3\r\nGET\r\n$x\r\n");
    then_garbage.extend(cmd(&[b"GET", b"k1"]));
    run_against_both(
        &[],
        &[
            case("pipelined key commands", batch, End::Quit),
            case(
                "pipelined key commands, then a protocol error",
                then_garbage,
                End::ServerCloses,
            ),
        ],
    );
    // Unauthenticated, a 16 KiB key is refused by the pre-auth limit only before AUTH: the
    // requests after AUTH must be decoded after it ran.
    let big_key = vec![b'k'; 20 * 1024];
    let mut auth = Vec::new();
    auth.extend(cmd(&[b"GET", b"a"]));
    auth.extend(cmd(&[b"GET", b"b"]));
    auth.extend(cmd(&[b"AUTH", b"pw"]));
    auth.extend(cmd(&[b"SET", &big_key, b"v"]));
    auth.extend(cmd(&[b"STRLEN", &big_key]));
    run_against_both(
        &["--requirepass", "pw"],
        &[case(
            "pipelined GETs, AUTH, then a 20 KiB key",
            auth,
            End::Quit,
        )],
    );
}
