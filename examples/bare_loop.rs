//! The floor of the CPU benchmarks: a tokio server that reads RESP requests and answers them
//! with no keyspace, no checks and no bookkeeping. It runs on the same runtime as ferrocache
//! (multi-thread, one worker when pinned to one CPU) and makes the same system calls per
//! request (one read and one write per batch), so what it spends per request is what the
//! kernel and tokio cost on this machine: no server built this way can spend less.
//!
//! GET answers a 100-byte bulk string (the value size of `../shared/bench/bench.sh`), ECHO its
//! argument, every other command `+OK`. `benches/floor.sh` runs it beside ferrocache and redis-server.
//!
//!     cargo run --release --example bare_loop -- 7450

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

fn main() {
    let port: u16 = std::env::args()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .expect("usage: bare_loop PORT");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
            .await
            .expect("bind");
        let mut value = b"$100\r\n".to_vec();
        value.extend_from_slice(&[b'v'; 100]);
        value.extend_from_slice(b"\r\n");
        let value: &'static [u8] = value.leak();
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
                    loop {
                        // Empty inline lines (redis-cli --pipe sends one before its ECHO).
                        while matches!(input.first(), Some(b'\r' | b'\n')) {
                            input.advance(1);
                        }
                        let Some((ask, len)) = request(&input) else {
                            break;
                        };
                        match ask {
                            Ask::Get => output.extend_from_slice(value),
                            Ask::Echo(arg) => {
                                output.extend_from_slice(format!("${}\r\n", arg.len()).as_bytes());
                                output.extend_from_slice(&input[arg]);
                                output.extend_from_slice(b"\r\n");
                            }
                            Ask::Other => output.extend_from_slice(b"+OK\r\n"),
                        }
                        input.advance(len);
                    }
                    if input.len() > 1 << 20 {
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
