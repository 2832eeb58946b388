//! MONITOR lines: `+<unix.micros> [<db> <addr>] "cmd" "arg" ...`, quoted as Redis's
//! `sdscatrepr`, with AUTH and HELLO credentials redacted. Lines go to the monitors' outboxes,
//! bounded like Pub/Sub messages.

use bytes::{BufMut, Bytes, BytesMut};
use std::sync::atomic::Ordering;

/// Where a monitored command came from.
#[derive(Clone, Copy, Debug)]
pub enum Source<'a> {
    /// A client's command, shown as `[<db> ip:port]` (`[<db> unix:/path]` on the unix socket).
    Client(&'a crate::clients::Peer),
    /// A command run by a script (`redis.call`), shown as `[<db> lua]`.
    Lua,
}

/// Feeds one executed command to every MONITOR client, if there is any.
pub fn feed(to: super::Handle, db: usize, source: Source, argv: &[Bytes]) {
    if !to.pubsub.monitoring.load(Ordering::Relaxed) {
        return;
    }
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let line = format_line(now.as_secs(), now.subsec_micros(), db, source, argv);
    to.pubsub.feed_monitors(to, line);
}

pub fn format_line(secs: u64, micros: u32, db: usize, source: Source, argv: &[Bytes]) -> Bytes {
    let mut out = BytesMut::with_capacity(64);
    let origin = match source {
        Source::Client(crate::clients::Peer::Unix(path)) => format!("unix:{path}"),
        Source::Client(addr) => addr.to_string(),
        Source::Lua => "lua".to_string(),
    };
    out.put_slice(format!("+{secs}.{micros:06} [{db} {origin}]").as_bytes());
    let redacted = redacted_from(argv);
    for (i, arg) in argv.iter().enumerate() {
        out.put_u8(b' ');
        if i >= redacted.0 && i < redacted.1 {
            out.put_slice(b"\"(redacted)\"");
        } else {
            repr(arg, &mut out);
        }
    }
    out.put_slice(b"\r\n");
    out.freeze()
}

/// The range of argument indexes Redis hides: everything after AUTH, and the credentials that
/// follow HELLO's AUTH option.
fn redacted_from(argv: &[Bytes]) -> (usize, usize) {
    let Some(name) = argv.first() else {
        return (0, 0);
    };
    if name.eq_ignore_ascii_case(b"auth") {
        return (1, argv.len());
    }
    if name.eq_ignore_ascii_case(b"hello") {
        if let Some(at) = argv
            .iter()
            .skip(2)
            .position(|a| a.eq_ignore_ascii_case(b"auth"))
        {
            let at = at + 2;
            return (at + 1, (at + 3).min(argv.len()));
        }
    }
    (0, 0)
}

/// Redis's `sdscatrepr`: a double-quoted string with C escapes and `\xHH` for the rest.
pub fn repr(arg: &[u8], out: &mut BytesMut) {
    out.put_u8(b'"');
    for &b in arg {
        match b {
            b'\\' => out.put_slice(b"\\\\"),
            b'"' => out.put_slice(b"\\\""),
            b'\n' => out.put_slice(b"\\n"),
            b'\r' => out.put_slice(b"\\r"),
            b'\t' => out.put_slice(b"\\t"),
            0x07 => out.put_slice(b"\\a"),
            0x08 => out.put_slice(b"\\b"),
            0x20..=0x7e => out.put_u8(b),
            _ => out.put_slice(format!("\\x{b:02x}").as_bytes()),
        }
    }
    out.put_u8(b'"');
}

#[cfg(test)]
mod tests {
    use super::*;

    fn argv(words: &[&[u8]]) -> Vec<Bytes> {
        words.iter().map(|w| Bytes::copy_from_slice(w)).collect()
    }

    #[test]
    fn quotes_like_sdscatrepr() {
        let addr: std::net::SocketAddr = "127.0.0.1:51990".parse().unwrap();
        let line = format_line(
            1795434776,
            18209,
            0,
            Source::Client(&crate::clients::Peer::Tcp(addr)),
            &argv(&[
                b"SET",
                b"k",
                "a\x00\u{ff}\"\\\n\r\t\x07\x08 \u{e9}".as_bytes(),
            ]),
        );
        assert_eq!(
            &line[..],
            b"+1795434776.018209 [0 127.0.0.1:51990] \"SET\" \"k\" \"a\\x00\\xc3\\xbf\\\"\\\\\\n\\r\\t\\a\\b \\xc3\\xa9\"\r\n"
        );
    }

    #[test]
    fn redacts_credentials() {
        let line = format_line(1, 2, 3, Source::Lua, &argv(&[b"AUTH", b"u", b"p"]));
        assert_eq!(
            &line[..],
            b"+1.000002 [3 lua] \"AUTH\" \"(redacted)\" \"(redacted)\"\r\n"
        );
        let line = format_line(
            1,
            2,
            3,
            Source::Lua,
            &argv(&[b"HELLO", b"3", b"AUTH", b"u", b"p", b"SETNAME", b"n"]),
        );
        assert_eq!(
            &line[..],
            b"+1.000002 [3 lua] \"HELLO\" \"3\" \"AUTH\" \"(redacted)\" \"(redacted)\" \"SETNAME\" \"n\"\r\n"
        );
    }
}
