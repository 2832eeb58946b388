//! The floor of the CPU benchmarks: a server that reads RESP requests and answers them with no
//! keyspace, no checks and no bookkeeping, in one of two event loops:
//!
//! - `tokio` (the default): the same runtime as ferrocache (multi-thread, one worker when
//!   pinned to one CPU), the same system calls per request (one read and one write per batch).
//!   What it spends is what the kernel and tokio cost on this machine: no tokio server can
//!   spend less.
//! - `epoll`: one thread on mio's poll, each connection's bytes read, answered and written in
//!   the loop itself, with no tasks, wakers or futures; the same system calls as the tokio loop
//!   and redis-server. The gap between the two is what tokio's scheduling and readiness
//!   tracking cost per request.
//!
//! GET answers a 100-byte bulk string (the value size of `../shared/bench/bench.sh`), ECHO its
//! argument, every other command `+OK`. `benches/floor.sh` runs both beside ferrocache and
//! redis-server.
//!
//!     cargo run --release --example bare_loop -- 7450 [tokio|epoll]

use bytes::{Buf, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Reads `<digits>\r\n` at `at`; the number and where the next field starts.
fn number(buf: &[u8], at: usize) -> Option<(usize, usize)> {
    let mut value = 0usize;
    let mut pos = at;
    while let Some(&d) = buf.get(pos) {
        if d == b'\r' {
            return (buf.get(pos + 1) == Some(&b'\n')).then_some((value, pos + 2));
        }
        value = value
            .checked_mul(10)?
            .checked_add(usize::from(d.wrapping_sub(b'0')))?;
        pos += 1;
    }
    None
}

/// What a request asks of the loop.
enum Ask {
    /// GET: the 100-byte value.
    Get,
    /// ECHO: its argument (`redis-cli --pipe`, which loads the benchmark's keys, ends with
    /// one and waits for it).
    Echo(std::ops::Range<usize>),
    /// Anything else: `+OK`.
    Other,
}

/// One whole multibulk request at the start of `buf`: what it asks, and its length. None when
/// it is incomplete or not a multibulk (the loop closes a connection whose input grows past
/// 1 MiB without a request).
fn request(buf: &[u8]) -> Option<(Ask, usize)> {
    if buf.first() != Some(&b'*') {
        return None;
    }
    let (count, mut at) = number(buf, 1)?;
    let mut ask = Ask::Other;
    for i in 0..count {
        if buf.get(at) != Some(&b'$') {
            return None;
        }
        let (len, body) = number(buf, at + 1)?;
        at = body.checked_add(len)?.checked_add(2)?;
        if at > buf.len() {
            return None;
        }
        let arg = &buf[body..body + len];
        ask = match (i, ask) {
            (0, _) if arg.eq_ignore_ascii_case(b"GET") => Ask::Get,
            (0, _) if arg.eq_ignore_ascii_case(b"ECHO") => Ask::Echo(0..0),
            (1, Ask::Echo(_)) => Ask::Echo(body..body + len),
            (_, ask) => ask,
        };
    }
    Some((ask, at))
}

/// Answers every whole request at the start of `input` into `output`; how many bytes they took.
fn answer(input: &[u8], value: &[u8], output: &mut Vec<u8>) -> usize {
    let mut at = 0;
    loop {
        // Empty inline lines (redis-cli --pipe sends one before its ECHO).
        while matches!(input.get(at), Some(b'\r' | b'\n')) {
            at += 1;
        }
        let Some((ask, len)) = request(&input[at..]) else {
            return at;
        };
        match ask {
            Ask::Get => output.extend_from_slice(value),
            Ask::Echo(arg) => {
                let arg = &input[at + arg.start..at + arg.end];
                output.extend_from_slice(format!("${}\r\n", arg.len()).as_bytes());
                output.extend_from_slice(arg);
                output.extend_from_slice(b"\r\n");
            }
            Ask::Other => output.extend_from_slice(b"+OK\r\n"),
        }
        at += len;
    }
}

/// A connection's input larger than this without a whole request closes it.
const INPUT_MAX: usize = 1 << 20;

fn main() {
    let mut args = std::env::args().skip(1);
    let port: u16 = args
        .next()
        .and_then(|p| p.parse().ok())
        .expect("usage: bare_loop PORT [tokio|epoll]");
    let mut value = b"$100\r\n".to_vec();
    value.extend_from_slice(&[b'v'; 100]);
    value.extend_from_slice(b"\r\n");
    let value: &'static [u8] = value.leak();
    match args.next().as_deref() {
        None | Some("tokio") => tokio_loop(port, value),
        Some("epoll") => epoll_loop(port, value),
        Some(other) => panic!("unknown loop {other:?}: tokio or epoll"),
    }
}

fn tokio_loop(port: u16, value: &'static [u8]) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
            .await
            .expect("bind");
        loop {
            let Ok((mut stream, _)) = listener.accept().await else {
                continue;
            };
            let _ = stream.set_nodelay(true);
            tokio::spawn(async move {
                let mut input = BytesMut::with_capacity(16 * 1024);
                let mut output = Vec::with_capacity(16 * 1024);
                loop {
                    match stream.read_buf(&mut input).await {
                        Ok(0) | Err(_) => return,
                        Ok(_) => {}
                    }
                    let used = answer(&input, value, &mut output);
                    input.advance(used);
                    if input.len() > INPUT_MAX {
                        return;
                    }
                    if !output.is_empty() {
                        if stream.write_all(&output).await.is_err() {
                            return;
                        }
                        output.clear();
                    }
                }
            });
        }
    });
}

/// One epoll connection: its socket and the input not yet answered.
struct EpollConn {
    stream: mio::net::TcpStream,
    input: Vec<u8>,
    held: usize,
}

fn epoll_loop(port: u16, value: &'static [u8]) {
    use mio::{Events, Interest, Poll, Token};
    use std::io::{Read, Write};
    const LISTENER: Token = Token(usize::MAX);
    let mut poll = Poll::new().expect("epoll");
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    let mut listener = mio::net::TcpListener::bind(addr).expect("bind");
    poll.registry()
        .register(&mut listener, LISTENER, Interest::READABLE)
        .expect("register");
    let mut conns: Vec<Option<EpollConn>> = Vec::new();
    let mut output = Vec::with_capacity(16 * 1024);
    let mut events = Events::with_capacity(1024);
    loop {
        if poll.poll(&mut events, None).is_err() {
            continue;
        }
        for event in events.iter() {
            if event.token() == LISTENER {
                while let Ok((mut stream, _)) = listener.accept() {
                    let _ = stream.set_nodelay(true);
                    let slot = match conns.iter().position(Option::is_none) {
                        Some(slot) => slot,
                        None => {
                            conns.push(None);
                            conns.len() - 1
                        }
                    };
                    if poll
                        .registry()
                        .register(&mut stream, Token(slot), Interest::READABLE)
                        .is_ok()
                    {
                        conns[slot] = Some(EpollConn {
                            stream,
                            input: vec![0; 16 * 1024],
                            held: 0,
                        });
                    }
                }
                continue;
            }
            let slot = event.token().0;
            let Some(conn) = conns[slot].as_mut() else {
                continue;
            };
            // Edge-triggered: read until the socket is drained (a read that does not fill the
            // buffer has taken everything, as tokio assumes too).
            let open = loop {
                if conn.held == conn.input.len() {
                    if conn.input.len() >= INPUT_MAX {
                        break false;
                    }
                    conn.input.resize(conn.input.len() * 2, 0);
                }
                let room = conn.input.len() - conn.held;
                let n = match conn.stream.read(&mut conn.input[conn.held..]) {
                    Ok(0) => break false,
                    Ok(n) => n,
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break true,
                    Err(_) => break false,
                };
                conn.held += n;
                let used = answer(&conn.input[..conn.held], value, &mut output);
                conn.input.copy_within(used..conn.held, 0);
                conn.held -= used;
                // A benchmark's replies fit the socket buffer; a write that does not finish
                // closes the connection instead of waiting for writability.
                if !output.is_empty() && conn.stream.write_all(&output).is_err() {
                    break false;
                }
                output.clear();
                if n < room {
                    break true;
                }
            };
            if !open {
                if let Some(mut conn) = conns[slot].take() {
                    let _ = poll.registry().deregister(&mut conn.stream);
                }
            }
        }
    }
}
