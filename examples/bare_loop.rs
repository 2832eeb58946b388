//! The floor of the CPU benchmarks: a tokio server that reads RESP requests and answers them
//! with no keyspace, no checks and no bookkeeping. It runs on the same runtime as ferrocache
//! (multi-thread, one worker when pinned to one CPU) and makes the same system calls per
//! request (one read and one write per batch), so what it spends per request is what the
//! kernel and tokio cost on this machine: no server built this way can spend less.
//!
//! GET answers a 100-byte bulk string (the value size of `../shared/bench/bench.sh`), every
//! other command `+OK`. `benches/floor.sh` runs it beside ferrocache and redis-server.
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
        value = value.checked_mul(10)?.checked_add(usize::from(d.wrapping_sub(b'0')))?;
        pos += 1;
    }
    None
}

/// One whole multibulk request at the start of `buf`: whether it is a GET, and its length.
/// None when it is incomplete or not a multibulk (the loop closes a connection whose input
/// grows past 1 MiB without a request).
fn request(buf: &[u8]) -> Option<(bool, usize)> {
    if buf.first() != Some(&b'*') {
        return None;
    }
    let (count, mut at) = number(buf, 1)?;
    let mut is_get = false;
    for i in 0..count {
        if buf.get(at) != Some(&b'$') {
            return None;
        }
        let (len, body) = number(buf, at + 1)?;
        at = body.checked_add(len)?.checked_add(2)?;
        if at > buf.len() {
            return None;
        }
        if i == 0 {
            is_get = buf[body..body + len].eq_ignore_ascii_case(b"GET");
        }
    }
    Some((is_get, at))
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
                    while let Some((is_get, len)) = request(&input) {
                        output.extend_from_slice(if is_get { value } else { b"+OK\r\n" });
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
