//! A RESP2/RESP3 reply as a tree of values that keep the bytes they were sent as, and a call
//! that reads one whole reply: for tests that compare replies with redis-server's value by value
//! (COMMAND INFO, COMMAND DOCS), including the RESP3 types the test client's decoder refuses.

use super::RawClient;

/// A RESP value with the bytes it was sent as.
pub struct Node<'a> {
    pub raw: &'a [u8],
    pub kids: Vec<Node<'a>>,
}

/// Parses the RESP2/RESP3 value at `at`, or None if more bytes are needed.
pub fn parse(buf: &[u8], at: usize) -> Option<(Node<'_>, usize)> {
    let end = at + buf.get(at..)?.windows(2).position(|w| w == b"\r\n")?;
    let header = std::str::from_utf8(&buf[at + 1..end]).unwrap();
    let mut next = end + 2;
    let mut kids = Vec::new();
    match buf[at] {
        b'$' | b'=' | b'!' => {
            let len: i64 = header.parse().unwrap();
            if len >= 0 {
                next += len as usize + 2;
            }
        }
        b'*' | b'~' | b'>' | b'%' => {
            let n: i64 = header.parse().unwrap();
            let n = if buf[at] == b'%' { n * 2 } else { n };
            for _ in 0..n.max(0) {
                let (kid, after) = parse(buf, next)?;
                kids.push(kid);
                next = after;
            }
        }
        _ => {}
    }
    (next <= buf.len()).then(|| {
        (
            Node {
                raw: &buf[at..next],
                kids,
            },
            next,
        )
    })
}

/// A bulk or simple string's text.
pub fn text(node: &Node) -> String {
    let raw = String::from_utf8_lossy(node.raw);
    match raw.find("\r\n") {
        Some(i) if raw.starts_with('$') => raw[i + 2..raw.len() - 2].to_string(),
        Some(i) => raw[1..i].to_string(),
        None => raw.into_owned(),
    }
}

/// Sends a command and reads its whole reply.
pub fn call(client: &mut RawClient, args: &[&str]) -> Vec<u8> {
    use std::io::Read;
    let args: Vec<&[u8]> = args.iter().map(|a| a.as_bytes()).collect();
    client.send(&args);
    let mut buf = Vec::new();
    loop {
        if let Some((_, len)) = parse(&buf, 0) {
            assert_eq!(len, buf.len(), "one reply at a time");
            return buf;
        }
        let mut chunk = [0u8; 65536];
        let n = client.stream.read(&mut chunk).expect("reply");
        assert!(n > 0, "connection closed");
        buf.extend_from_slice(&chunk[..n]);
    }
}
