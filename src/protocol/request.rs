//! Request decoding: bytes from the socket -> argv (`Vec<Bytes>`), zero-copy.
//!
//! Redis accepts two request forms: RESP multibulk (`*N\r\n$len\r\narg\r\n...`) and inline
//! commands (`SET k v\r\n`, split like `sdssplitargs`). Both are decoded here with Redis's limits
//! and Redis's exact protocol error texts, which is why this is our own code rather than a generic
//! RESP decoder: the error a client sees for `$blabla`, `*3000000000` or an unauthenticated
//! `*11` is part of the compatibility contract.
//!
//! The decoder is resumable: a large multibulk that arrives in many reads is scanned once, not
//! once per read. Nothing is allocated from a declared length; the argv vector grows with the
//! arguments that actually arrive.

use crate::strconv::parse_i64_strict;
use bytes::{Bytes, BytesMut};

/// Longest inline request or multibulk/bulk header line, as Redis's PROTO_INLINE_MAX_SIZE.
pub const INLINE_BYTES_MAX: usize = 64 * 1024;
/// Largest multibulk argument count Redis accepts from an authenticated client.
pub const MULTIBULK_ARGS_MAX: i64 = i32::MAX as i64;
/// Before AUTH a client may send at most this many arguments (CVE-2021-32675).
pub const UNAUTH_ARGS_MAX: i64 = 10;
/// Before AUTH a bulk may be at most this long.
pub const UNAUTH_BULK_BYTES_MAX: i64 = 16 * 1024;
/// Argv capacity reserved up front, whatever count the header declares.
const ARGV_PREALLOC_MAX: usize = 1024;

/// Limits the decoder enforces; they come from the live config and the client's auth state.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    pub bulk_bytes_max: i64,
    pub authenticated: bool,
}

/// A protocol violation. The text is what Redis replies before closing the connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProtocolError(pub String);

impl ProtocolError {
    fn new(text: &str) -> Self {
        ProtocolError(format!("Protocol error: {text}"))
    }
}

/// Progress through a multibulk request that has not fully arrived yet.
#[derive(Debug, Default)]
struct Pending {
    /// Arguments still expected.
    remaining: usize,
    /// Byte ranges of the arguments decoded so far, relative to the start of the buffer.
    args: Vec<(usize, usize)>,
    /// Offset in the buffer where decoding resumes.
    offset: usize,
    /// Declared length of the bulk whose header was read but whose body has not arrived.
    bulk_len: Option<usize>,
}

/// Decodes requests out of a connection's read buffer.
#[derive(Debug, Default)]
pub struct RequestDecoder {
    pending: Option<Pending>,
    /// Bytes of the line being waited for (an inline request, or a `*`/`$` header) already
    /// searched for its end: a line that arrives a byte per read is scanned once, not once per
    /// read (which cost a second of CPU for a 64 KiB line). Reset whenever a line is consumed.
    scanned: usize,
    /// The argument ranges' vector of the last request, kept for the next one (no allocation
    /// per request for it).
    spare_args: Vec<(usize, usize)>,
    /// Static spellings of a command name (see `share_names`).
    names: Option<&'static [&'static [u8]; 2]>,
    /// Argument vectors of requests that have run, empty, for the next ones (see `recycle`).
    spare_argvs: Vec<Vec<Bytes>>,
}

/// Argument vectors kept for reuse: as many as the look-ahead holds at once (net/lookahead.rs).
const SPARE_ARGVS_MAX: usize = 16;
/// Only small ones (GET, SET, INCR, SETEX ...): a connection keeps at most 16 × 4 argument
/// slots (2 KiB) for them.
const SPARE_ARGV_ARGS_MAX: usize = 4;

/// One decoded request.
#[derive(Debug, PartialEq, Eq)]
pub enum Request {
    Command(Vec<Bytes>),
    /// An empty inline line or a `*0` / `*-N` header: nothing to run, nothing to reply.
    Empty,
}

impl RequestDecoder {
    pub fn new() -> Self {
        Self::default()
    }

    /// True while a multibulk request is partly decoded (its bytes stay in the buffer).
    pub fn in_progress(&self) -> bool {
        self.pending.is_some()
    }

    /// For a multibulk request partly decoded: the bytes of `buf` already parsed (header, whole
    /// arguments, the header of the bulk being read), the total length of the whole arguments
    /// and their count. Redis has moved those into the client's argv (CLIENT LIST `qbuf=`,
    /// `argv-mem=`).
    pub fn parsed(&self) -> (usize, usize, usize) {
        match &self.pending {
            Some(p) => (
                p.offset,
                p.args.iter().map(|(start, end)| end - start).sum(),
                p.args.len(),
            ),
            None => (0, 0, 0),
        }
    }

    /// A request whose first argument is one of `names`, byte for byte, gets that static copy
    /// as its first argument instead of a view of its frame: no reference count raised and
    /// dropped on the input buffer. The connection hands in its last command's name (clients
    /// mostly repeat their commands).
    pub fn share_names(&mut self, names: &'static [&'static [u8]; 2]) {
        self.names = Some(names);
    }

    /// Takes back a request's argument vector once it has run: the next request decoded in
    /// one pass reuses it instead of allocating one.
    #[inline]
    pub fn recycle(&mut self, mut argv: Vec<Bytes>) {
        if self.spare_argvs.len() < SPARE_ARGVS_MAX && argv.capacity() <= SPARE_ARGV_ARGS_MAX {
            argv.clear();
            self.spare_argvs.push(argv);
        }
    }

    /// Decodes the next complete request from the front of `buf`, removing its bytes.
    /// `Ok(None)` means more bytes are needed.
    pub fn decode(
        &mut self,
        buf: &mut BytesMut,
        limits: Limits,
    ) -> Result<Option<Request>, ProtocolError> {
        if self.pending.is_none() {
            if buf.is_empty() {
                return Ok(None);
            }
            if buf[0] != b'*' {
                return decode_inline(buf, &mut self.scanned);
            }
            if let Some(argv) = decode_whole(
                buf,
                limits,
                &mut self.spare_args,
                self.names,
                &mut self.spare_argvs,
            ) {
                self.scanned = 0;
                return Ok(Some(Request::Command(argv)));
            }
            let Some((count, header_len)) =
                read_line_int(buf, 1, &mut self.scanned, "too big mbulk count string")?
            else {
                return Ok(None);
            };
            self.scanned = 0;
            let count = count.ok_or_else(|| ProtocolError::new("invalid multibulk length"))?;
            if count <= 0 {
                let _ = buf.split_to(header_len);
                return Ok(Some(Request::Empty));
            }
            if count > MULTIBULK_ARGS_MAX {
                return Err(ProtocolError::new("invalid multibulk length"));
            }
            if !limits.authenticated && count > UNAUTH_ARGS_MAX {
                return Err(ProtocolError::new("unauthenticated multibulk length"));
            }
            let mut args = std::mem::take(&mut self.spare_args);
            args.clear();
            args.reserve((count as usize).min(ARGV_PREALLOC_MAX));
            self.pending = Some(Pending {
                remaining: count as usize,
                args,
                offset: header_len,
                bulk_len: None,
            });
        }
        let pending = self.pending.as_mut().expect("pending set above");
        while pending.remaining > 0 {
            let len = match pending.bulk_len {
                Some(len) => len,
                None => {
                    if pending.offset >= buf.len() {
                        return Ok(None);
                    }
                    let tag = buf[pending.offset];
                    if tag != b'$' {
                        let shown = tag as char;
                        self.pending = None;
                        return Err(ProtocolError(format!(
                            "Protocol error: expected '$', got '{shown}'"
                        )));
                    }
                    let Some((len, line_len)) = read_line_int(
                        buf,
                        pending.offset + 1,
                        &mut self.scanned,
                        "too big bulk count string",
                    )?
                    else {
                        return Ok(None);
                    };
                    self.scanned = 0;
                    let len = match len {
                        Some(len) if len >= 0 && len <= limits.bulk_bytes_max => len,
                        _ => return Err(ProtocolError::new("invalid bulk length")),
                    };
                    if !limits.authenticated && len > UNAUTH_BULK_BYTES_MAX {
                        return Err(ProtocolError::new("unauthenticated bulk length"));
                    }
                    pending.offset += line_len;
                    let len = len as usize;
                    pending.bulk_len = Some(len);
                    len
                }
            };
            // The body and its CRLF must be in the buffer.
            let start = pending.offset;
            let end = start + len;
            if buf.len() < end + 2 {
                return Ok(None);
            }
            // Redis does not check the two bytes after a bulk body; it skips them.
            pending.args.push((start, end));
            pending.offset = end + 2;
            pending.bulk_len = None;
            pending.remaining -= 1;
        }
        let pending = self.pending.take().expect("pending set above");
        let frame = buf.split_to(pending.offset).freeze();
        let argv = pending
            .args
            .iter()
            .map(|&(s, e)| frame.slice(s..e))
            .collect();
        if pending.args.capacity() <= ARGV_PREALLOC_MAX {
            self.spare_args = pending.args;
        }
        Ok(Some(Request::Command(argv)))
    }

    /// Bytes the decoder needs in the buffer before another decode can make progress, if known.
    /// Lets the reader size its next read for a large bulk.
    pub fn bytes_wanted(&self) -> Option<usize> {
        let pending = self.pending.as_ref()?;
        pending.bulk_len.map(|len| pending.offset + len + 2)
    }
}

/// Arguments the one-pass decoder (`decode_whole`) takes; longer requests take the general path.
const WHOLE_ARGS_MAX: usize = 32;

/// A short decimal header, `<digits>\r?` at `at`: its value and the offset just past the two
/// bytes after the digits (Redis skips them unchecked). None for anything else: no digits, a
/// leading zero, more than 9 digits, or a line not in the buffer yet.
#[inline]
fn short_header(buf: &[u8], at: usize) -> Option<(usize, usize)> {
    let mut value = 0usize;
    let mut pos = at;
    loop {
        let d = *buf.get(pos)?;
        if !d.is_ascii_digit() {
            break;
        }
        if pos - at == 9 {
            return None;
        }
        value = value * 10 + usize::from(d - b'0');
        pos += 1;
    }
    let digits = pos - at;
    if digits == 0 || (digits > 1 && buf[at] == b'0') || buf[pos] != b'\r' {
        return None;
    }
    // The byte after CR must have arrived too.
    (buf.len() >= pos + 2).then_some((value, pos + 2))
}

/// The one-pass decode of the usual request: a multibulk of 1 to `WHOLE_ARGS_MAX` bulks with
/// plain headers, all of it in `buf`, within the client's limits. Takes its bytes from `buf`
/// and returns its argv; None (`buf` untouched) sends anything else, errors included, to the
/// general path, which reads it the same way and words every error. `ranges` is scratch space
/// (the decoder's spare argument ranges); a first argument equal to one of `names` is taken
/// from it (see `RequestDecoder::share_names`); the argv is one of `spare_argvs` when one is
/// left (see `RequestDecoder::recycle`).
fn decode_whole(
    buf: &mut BytesMut,
    limits: Limits,
    ranges: &mut Vec<(usize, usize)>,
    names: Option<&'static [&'static [u8]; 2]>,
    spare_argvs: &mut Vec<Vec<Bytes>>,
) -> Option<Vec<Bytes>> {
    let (count, mut at) = short_header(buf, 1)?;
    let unauth_args = if limits.authenticated {
        WHOLE_ARGS_MAX
    } else {
        UNAUTH_ARGS_MAX as usize
    };
    if count == 0 || count > WHOLE_ARGS_MAX || count > unauth_args {
        return None;
    }
    let bulk_max = if limits.authenticated {
        limits.bulk_bytes_max
    } else {
        limits.bulk_bytes_max.min(UNAUTH_BULK_BYTES_MAX)
    };
    ranges.clear();
    for _ in 0..count {
        if *buf.get(at)? != b'$' {
            return None;
        }
        let (len, body) = short_header(buf, at + 1)?;
        if len as u64 > bulk_max.max(0) as u64 {
            return None;
        }
        let end = body + len;
        // The body and the two bytes after it (skipped unchecked, as Redis does).
        if buf.len() < end + 2 {
            return None;
        }
        ranges.push((body, end));
        at = end + 2;
    }
    let frame = buf.split_to(at).freeze();
    let mut argv = spare_argvs.pop().unwrap_or_default();
    argv.reserve(count);
    let mut views = &ranges[..count - 1];
    if let (Some(names), Some(&(s, e))) = (names, views.first()) {
        // Both spellings have the name's length; upper case first (what most clients send).
        let sent = &frame[s..e];
        if let Some(name) = names.iter().rev().find(|n| same_short(n, sent)) {
            argv.push(Bytes::from_static(name));
            views = &views[1..];
        }
    }
    argv.extend(views.iter().map(|&(s, e)| frame.slice(s..e)));
    debug_assert_eq!(ranges.len(), count);
    // The last argument takes the frame itself: one reference count fewer to raise and drop.
    let (s, e) = ranges[count - 1];
    let mut last = frame;
    last.truncate(e);
    bytes::Buf::advance(&mut last, s);
    argv.push(last);
    Some(argv)
}

/// Byte equality of two short strings (command names), compared in place: a call of `memcmp`
/// per comparison cost more than the comparison.
#[inline]
pub fn same_short(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x == y)
}

/// Reads `<int>\r\n` starting at `from` (just after the type byte). Returns the parsed value
/// (`None` if it is not a valid integer) and the line length counted from the start of the
/// type byte, or `Ok(None)` when the line is not complete yet.
#[allow(clippy::type_complexity)]
/// `scanned` counts the bytes of the window already searched without finding a CR; it is
/// advanced here and must be reset by the caller once the line is consumed.
fn read_line_int(
    buf: &[u8],
    from: usize,
    scanned: &mut usize,
    too_big: &str,
) -> Result<Option<(Option<i64>, usize)>, ProtocolError> {
    let window = &buf[from..];
    // The usual header, read in one pass: up to 18 digits (no overflow), no leading zero
    // unless the number is 0, then CR and one more byte. Anything else takes the general path.
    let mut value: i64 = 0;
    let mut digits = 0;
    while digits < 18 {
        match window.get(digits) {
            Some(&d @ b'0'..=b'9') => {
                value = value * 10 + i64::from(d - b'0');
                digits += 1;
            }
            _ => break,
        }
    }
    if digits > 0
        && window.get(digits) == Some(&b'\r')
        && window.len() >= digits + 2
        && (digits == 1 || window[0] != b'0')
    {
        *scanned = digits;
        return Ok(Some((Some(value), digits + 2 + 1)));
    }
    let start = (*scanned).min(window.len());
    let Some(cr) = memchr_cr(&window[start..]).map(|i| start + i) else {
        *scanned = window.len();
        if window.len() > INLINE_BYTES_MAX {
            return Err(ProtocolError::new(too_big));
        }
        return Ok(None);
    };
    *scanned = cr;
    if cr > INLINE_BYTES_MAX {
        return Err(ProtocolError::new(too_big));
    }
    if window.len() < cr + 2 {
        return Ok(None);
    }
    let value = parse_i64_strict(&window[..cr]);
    // `from` counts the type byte; the returned length is relative to from - 1.
    Ok(Some((value, cr + 2 + 1)))
}

fn memchr_cr(window: &[u8]) -> Option<usize> {
    window.iter().position(|&b| b == b'\r')
}

/// Decodes one inline request (a line of space-separated, optionally quoted words).
///
/// Redis finds the end of an inline line with `strchr`, which stops at a NUL byte: a NUL before
/// the newline hides it, so the request stays incomplete until the buffer passes the inline limit
/// and the connection is closed with "too big inline request". The same here, byte for byte.
///
/// `scanned` is how much of the buffer is known to hold neither a newline nor a NUL (see
/// `RequestDecoder::scanned`); a NUL stays where it is found, so the search stops there again.
fn decode_inline(
    buf: &mut BytesMut,
    scanned: &mut usize,
) -> Result<Option<Request>, ProtocolError> {
    let start = (*scanned).min(buf.len());
    let end = buf[start..]
        .iter()
        .position(|&b| b == b'\n' || b == 0)
        .map(|i| start + i);
    *scanned = end.unwrap_or(buf.len());
    let Some(nl) = end.filter(|&i| buf[i] == b'\n') else {
        if buf.len() > INLINE_BYTES_MAX {
            return Err(ProtocolError::new("too big inline request"));
        }
        return Ok(None);
    };
    *scanned = 0;
    if nl > INLINE_BYTES_MAX {
        return Err(ProtocolError::new("too big inline request"));
    }
    let line = buf.split_to(nl + 1);
    let mut body = &line[..nl];
    if body.last() == Some(&b'\r') {
        body = &body[..body.len() - 1];
    }
    let argv =
        split_args(body).ok_or_else(|| ProtocolError::new("unbalanced quotes in request"))?;
    if argv.is_empty() {
        return Ok(Some(Request::Empty));
    }
    Ok(Some(Request::Command(
        argv.into_iter().map(Bytes::from).collect(),
    )))
}

/// Splits a line into arguments with the quoting rules of Redis's `sdssplitargs`: words are
/// separated by whitespace; "double quotes" understand \n \r \t \b \a \\ \" and \xHH;
/// 'single quotes' understand only \'; a closing quote must be followed by a space or the end.
/// Returns `None` for unbalanced quotes.
///
/// `sdssplitargs` reads a C string, so a NUL byte ends the line: everything after it is ignored
/// (`PING\0junk` is `PING`, a line that starts with NUL is empty), and whitespace is C's
/// `isspace` (which, unlike `u8::is_ascii_whitespace`, includes vertical tab). Every pass of the
/// loops below consumes at least one byte, so no input can make it spin.
pub fn split_args(line: &[u8]) -> Option<Vec<Vec<u8>>> {
    let line = match line.iter().position(|&b| b == 0) {
        Some(nul) => &line[..nul],
        None => line,
    };
    let mut args = Vec::new();
    let mut i = 0;
    let n = line.len();
    loop {
        while i < n && c_isspace(line[i]) {
            i += 1;
        }
        if i >= n {
            return Some(args);
        }
        let mut current = Vec::new();
        let mut in_double = false;
        let mut in_single = false;
        loop {
            if in_double {
                if i >= n {
                    return None;
                }
                let c = line[i];
                if c == b'\\'
                    && i + 3 < n
                    && line[i + 1] == b'x'
                    && is_hex(line[i + 2])
                    && is_hex(line[i + 3])
                {
                    current.push(hex_val(line[i + 2]) * 16 + hex_val(line[i + 3]));
                    i += 3;
                } else if c == b'\\' && i + 1 < n {
                    i += 1;
                    current.push(match line[i] {
                        b'n' => b'\n',
                        b'r' => b'\r',
                        b't' => b'\t',
                        b'b' => 0x08,
                        b'a' => 0x07,
                        other => other,
                    });
                } else if c == b'"' {
                    if i + 1 < n && !c_isspace(line[i + 1]) {
                        return None;
                    }

                    i += 1;
                    break;
                } else {
                    current.push(c);
                }
            } else if in_single {
                if i >= n {
                    return None;
                }
                let c = line[i];
                if c == b'\\' && i + 1 < n && line[i + 1] == b'\'' {
                    i += 1;
                    current.push(b'\'');
                } else if c == b'\'' {
                    if i + 1 < n && !c_isspace(line[i + 1]) {
                        return None;
                    }

                    i += 1;
                    break;
                } else {
                    current.push(c);
                }
            } else {
                if i >= n {
                    break;
                }
                match line[i] {
                    b' ' | b'\n' | b'\r' | b'\t' => break,
                    b'"' => in_double = true,
                    b'\'' => in_single = true,
                    c => current.push(c),
                }
            }
            i += 1;
        }
        args.push(current);
    }
}

/// C's `isspace` in the "C" locale: space, \t, \n, \v, \f, \r.
fn c_isspace(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r')
}

fn is_hex(c: u8) -> bool {
    c.is_ascii_hexdigit()
}

fn hex_val(c: u8) -> u8 {
    match c {
        b'0'..=b'9' => c - b'0',
        b'a'..=b'f' => c - b'a' + 10,
        _ => c - b'A' + 10,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const AUTHED: Limits = Limits {
        bulk_bytes_max: 512 * 1024 * 1024,
        authenticated: true,
    };

    fn decode_all(input: &[u8]) -> Vec<Result<Request, ProtocolError>> {
        decode_all_with(input, AUTHED)
    }

    /// Decodes `input`, all of it in the buffer at once, until the decoder waits or fails.
    fn decode_all_with(input: &[u8], limits: Limits) -> Vec<Result<Request, ProtocolError>> {
        let mut buf = BytesMut::from(input);
        let mut dec = RequestDecoder::new();
        let mut out = Vec::new();
        loop {
            match dec.decode(&mut buf, limits) {
                Ok(Some(r)) => out.push(Ok(r)),
                Ok(None) => break,
                Err(e) => {
                    out.push(Err(e));
                    break;
                }
            }
        }
        out
    }

    /// Decodes `input` fed a byte at a time (the general, resumable path: a request is never
    /// whole when its decode starts) with `limits`, until the decoder waits or fails.
    fn decode_bytewise(input: &[u8], limits: Limits) -> Vec<Result<Request, ProtocolError>> {
        let mut buf = BytesMut::new();
        let mut dec = RequestDecoder::new();
        let mut out = Vec::new();
        for &b in input {
            buf.extend_from_slice(&[b]);
            loop {
                match dec.decode(&mut buf, limits) {
                    Ok(Some(r)) => out.push(Ok(r)),
                    Ok(None) => break,
                    Err(e) => {
                        out.push(Err(e));
                        return out;
                    }
                }
            }
        }
        out
    }

    #[test]
    fn a_repeated_command_name_is_taken_from_the_shared_spelling() {
        static NAMES: [&[u8]; 2] = [b"get", b"GET"];
        let mut decoder = RequestDecoder::new();
        decoder.share_names(&NAMES);
        let mut buf = BytesMut::from(
            &b"*2\r\n$3\r\nGET\r\n$1\r\nk\r\n*2\r\n$3\r\nGeT\r\n$1\r\nk\r\n*1\r\n$3\r\nget\r\n"[..],
        );
        let mut argvs = Vec::new();
        while let Ok(Some(Request::Command(argv))) = decoder.decode(&mut buf, AUTHED) {
            argvs.push(argv);
        }
        assert_eq!(argvs.len(), 3);
        // Shared: the static copy itself.
        assert_eq!(
            argvs[0],
            vec![Bytes::from_static(b"GET"), Bytes::from_static(b"k")]
        );
        assert_eq!(argvs[0][0].as_ptr(), NAMES[1].as_ptr());
        // Another spelling: a view of the request, as sent.
        assert_eq!(&argvs[1][0][..], b"GeT");
        assert_ne!(argvs[1][0].as_ptr(), NAMES[0].as_ptr());
        assert_ne!(argvs[1][0].as_ptr(), NAMES[1].as_ptr());
        // The last argument is the frame itself, even when it is the name.
        assert_eq!(&argvs[2][0][..], b"get");
        assert!(buf.is_empty());
    }

    #[test]
    fn recycled_argument_vectors_are_reused_only_when_small() {
        let mut decoder = RequestDecoder::new();
        let mut buf = BytesMut::from(&b"*2\r\n$3\r\nGET\r\n$1\r\nk\r\n"[..]);
        let Ok(Some(Request::Command(argv))) = decoder.decode(&mut buf, AUTHED) else {
            panic!("decoded");
        };
        let kept = argv.as_ptr();
        decoder.recycle(argv);
        buf.extend_from_slice(b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n");
        let Ok(Some(Request::Command(argv))) = decoder.decode(&mut buf, AUTHED) else {
            panic!("decoded");
        };
        assert_eq!(argv.as_ptr(), kept);
        assert_eq!(argv, [&b"SET"[..], b"k", b"v"]);
        // A large one is not kept.
        decoder.recycle(vec![Bytes::new(); SPARE_ARGV_ARGS_MAX + 1]);
        assert!(decoder.spare_argvs.is_empty());
        for _ in 0..SPARE_ARGVS_MAX + 4 {
            decoder.recycle(Vec::with_capacity(2));
        }
        assert_eq!(decoder.spare_argvs.len(), SPARE_ARGVS_MAX);
    }

    #[test]
    fn one_pass_decode_matches_the_general_path() {
        let unauth = Limits {
            bulk_bytes_max: 512 * 1024 * 1024,
            authenticated: false,
        };
        let small = Limits {
            bulk_bytes_max: 4,
            authenticated: true,
        };
        let mut inputs: Vec<Vec<u8>> = [
            &b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$5\r\nvalue\r\n"[..],
            b"*1\r\n$0\r\n\r\n",
            b"*1\r\n$4\r\nPING\rX*1\r\n$4\r\nPING\r\n",
            b"*01\r\n$4\r\nPING\r\n",
            b"*1\r\n$04\r\nPING\r\n",
            b"*1\r\n$00\r\n\r\n",
            b"*0\r\n*-1\r\n*1\r\n$-1\r\n",
            b"*1\r\n$1234567890\r\n",
            b"*1\r\n$99999999999999999999\r\n",
            b"*2\r\n$3\r\nGET\r\n+1\r\n",
            b"*1\r\n$5\r\nhello\r\n*1\r\n$5\r\nhel",
            b"*1 \r\n$4\r\nPING\r\n",
            b"*1\r\n$4 \r\nPING\r\n",
            b"*1\n$4\r\nPING\r\n",
            b"*11\r\n",
        ]
        .iter()
        .map(|s| s.to_vec())
        .collect();
        // Every argument count around the one-pass limit, and past the unauthenticated one.
        for n in [9, 10, 11, 31, 32, 33, 40] {
            let mut req = format!("*{n}\r\n").into_bytes();
            for i in 0..n {
                let arg = format!("a{i}");
                req.extend_from_slice(format!("${}\r\n{arg}\r\n", arg.len()).as_bytes());
            }
            inputs.push(req);
        }
        // A bulk longer than the unauthenticated limit.
        let big = "x".repeat(UNAUTH_BULK_BYTES_MAX as usize + 1);
        inputs.push(format!("*1\r\n${}\r\n{big}\r\n", big.len()).into_bytes());
        for input in &inputs {
            for limits in [AUTHED, unauth, small] {
                assert_eq!(
                    decode_all_with(input, limits),
                    decode_bytewise(input, limits),
                    "{:?} with {limits:?}",
                    String::from_utf8_lossy(input)
                );
            }
        }
    }

    fn cmd(parts: &[&str]) -> Request {
        Request::Command(
            parts
                .iter()
                .map(|p| Bytes::copy_from_slice(p.as_bytes()))
                .collect(),
        )
    }

    #[test]
    fn header_lines_read_as_the_strict_integer_parse_reads_them() {
        let lines: &[&[u8]] = &[
            b"0",
            b"7",
            b"10",
            b"99",
            b"100",
            b"12345",
            b"00",
            b"01",
            b"-1",
            b"+1",
            b"1a",
            b"123456789012345678",
            b"1234567890123456789",
            b"9223372036854775807",
            b"9223372036854775808",
            b"",
            b" 1",
        ];
        for line in lines {
            for tail in [&b"\r\n"[..], b"\r", b"\rX", b""] {
                let mut buf = b"$".to_vec();
                buf.extend_from_slice(line);
                buf.extend_from_slice(tail);
                let mut scanned = 0;
                let got = read_line_int(&buf, 1, &mut scanned, "too big");
                let cr = line.len();
                let expected = if tail.len() >= 2 {
                    Ok(Some((crate::strconv::parse_i64_strict(line), cr + 3)))
                } else {
                    Ok(None)
                };
                assert_eq!(got, expected, "line {:?} tail {:?}", line, tail);
            }
        }
    }

    #[test]
    fn multibulk_and_pipelining() {
        let out = decode_all(b"*1\r\n$4\r\nPING\r\n*2\r\n$3\r\nGET\r\n$1\r\nk\r\n");
        assert_eq!(out, vec![Ok(cmd(&["PING"])), Ok(cmd(&["GET", "k"]))]);
    }

    #[test]
    fn byte_by_byte_arrival_resumes() {
        let input = b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$5\r\nhello\r\n";
        let mut buf = BytesMut::new();
        let mut dec = RequestDecoder::new();
        let mut got = None;
        for &b in input.iter() {
            buf.extend_from_slice(&[b]);
            if let Some(r) = dec.decode(&mut buf, AUTHED).unwrap() {
                got = Some(r);
            }
        }
        assert_eq!(got, Some(cmd(&["SET", "k", "hello"])));
        assert!(buf.is_empty());
    }

    // Found by the request fuzz target (64 KiB inputs in 1-byte chunks): a line that arrived a
    // byte per read was searched from its start on every read, a second of CPU for one 64 KiB
    // line. The search now resumes where the last one stopped.
    #[test]
    fn a_trickled_line_is_searched_once() {
        for (prefix, header) in [(&b"SET k "[..], false), (b"*1\r\n$", true)] {
            let mut buf = BytesMut::new();
            let mut dec = RequestDecoder::new();
            buf.extend_from_slice(prefix);
            assert_eq!(dec.decode(&mut buf, AUTHED).unwrap(), None);
            let line_start = if header { prefix.len() } else { 0 };
            for _ in 0..1000 {
                buf.extend_from_slice(if header { b"1" } else { b"v" });
                assert_eq!(dec.decode(&mut buf, AUTHED).unwrap(), None);
                // Everything that arrived is known to hold no line end.
                assert_eq!(dec.scanned, buf.len() - line_start);
            }
            if header {
                buf.extend_from_slice(b"\r\n");
                assert_eq!(
                    dec.decode(&mut buf, AUTHED),
                    Err(ProtocolError::new("invalid bulk length"))
                );
            } else {
                buf.extend_from_slice(b"\r");
                assert_eq!(dec.decode(&mut buf, AUTHED).unwrap(), None);
                buf.extend_from_slice(b"\nPING\r\n");
                let value = "v".repeat(1000);
                assert_eq!(
                    dec.decode(&mut buf, AUTHED).unwrap(),
                    Some(cmd(&["SET", "k", &value]))
                );
                assert_eq!(dec.scanned, 0);
                assert_eq!(dec.decode(&mut buf, AUTHED).unwrap(), Some(cmd(&["PING"])));
            }
        }
    }

    #[test]
    fn hostile_lengths_get_redis_texts() {
        let err = |input: &[u8]| match decode_all(input).pop() {
            Some(Err(e)) => e.0,
            other => panic!("expected error, got {other:?}"),
        };
        assert_eq!(
            err(b"*3000000000\r\n"),
            "Protocol error: invalid multibulk length"
        );
        assert_eq!(
            err(b"*1\r\n$blabla\r\n"),
            "Protocol error: invalid bulk length"
        );
        assert_eq!(err(b"*1\r\n$-5\r\n"), "Protocol error: invalid bulk length");
        assert_eq!(
            err(b"*1\r\n$2000000000\r\n"),
            "Protocol error: invalid bulk length"
        );
        assert_eq!(
            err(b"*1\r\nfoo\r\n"),
            "Protocol error: expected '$', got 'f'"
        );
        assert_eq!(err(b"*abc\r\n"), "Protocol error: invalid multibulk length");
        assert_eq!(
            err(b"SET \"k v\r\n"),
            "Protocol error: unbalanced quotes in request"
        );
    }

    #[test]
    fn negative_multibulk_is_ignored() {
        assert_eq!(
            decode_all(b"*-10\r\n*1\r\n$4\r\nPING\r\n"),
            vec![Ok(Request::Empty), Ok(cmd(&["PING"]))]
        );
    }

    #[test]
    fn declared_length_is_not_preallocated() {
        let mut buf = BytesMut::from(&b"*1000000\r\n$4\r\nPING\r\n"[..]);
        let mut dec = RequestDecoder::new();
        assert_eq!(dec.decode(&mut buf, AUTHED).unwrap(), None);
        assert!(dec.pending.as_ref().unwrap().args.capacity() <= ARGV_PREALLOC_MAX);
    }

    #[test]
    fn unauthenticated_limits() {
        let limits = Limits {
            authenticated: false,
            ..AUTHED
        };
        let mut dec = RequestDecoder::new();
        let mut buf = BytesMut::from(&b"*11\r\n"[..]);
        assert_eq!(
            dec.decode(&mut buf, limits).unwrap_err().0,
            "Protocol error: unauthenticated multibulk length"
        );
        let mut dec = RequestDecoder::new();
        let mut buf = BytesMut::from(&b"*1\r\n$20000\r\n"[..]);
        assert_eq!(
            dec.decode(&mut buf, limits).unwrap_err().0,
            "Protocol error: unauthenticated bulk length"
        );
    }

    #[test]
    fn inline_quoting() {
        assert_eq!(
            decode_all(b"set \"a b\" 'c\\'d' \"\\x41\\n\"\r\n"),
            vec![Ok(Request::Command(vec![
                Bytes::from_static(b"set"),
                Bytes::from_static(b"a b"),
                Bytes::from_static(b"c'd"),
                Bytes::from_static(b"A\n"),
            ]))]
        );
        assert_eq!(decode_all(b"\r\n"), vec![Ok(Request::Empty)]);
    }

    #[test]
    fn inline_nul_ends_the_line_as_in_sdssplitargs() {
        // A NUL hides the newline (Redis's strchr): the request waits for more bytes...
        assert_eq!(decode_all(b"\x00\r\n"), vec![]);
        assert_eq!(decode_all(b"PING\x00\r\nPING\r\n"), vec![]);
        // ...until the inline limit is passed.
        let mut big = b"PING\x00\r\n".to_vec();
        big.extend(vec![b'a'; INLINE_BYTES_MAX]);
        assert_eq!(
            decode_all(&big).pop().unwrap().unwrap_err().0,
            "Protocol error: too big inline request"
        );
        // sdssplitargs itself (config and ACL files) ends a line at a NUL.
        assert_eq!(split_args(b"PING\x00 x y"), Some(vec![b"PING".to_vec()]));
        assert_eq!(split_args(b"\x00PING"), Some(vec![]));
        assert_eq!(split_args(b"ECHO \"a\x00b\""), None);
        assert_eq!(decode_all(b"\x0bPING\r\n"), vec![Ok(cmd(&["PING"]))]);
        assert_eq!(decode_all(b"PING\x0b\r\n"), vec![Ok(cmd(&["PING\x0b"]))]);
    }

    #[test]
    fn split_args_terminates_on_every_byte() {
        for b in 0..=255u8 {
            for line in [
                vec![b],
                vec![b, b'a'],
                vec![b'a', b],
                vec![b'a', b, b'b'],
                vec![b'"', b, b'"'],
                vec![b'\'', b, b'\''],
                vec![b'"', b'\\', b],
            ] {
                if let Some(args) = split_args(&line) {
                    assert!(args.len() <= line.len(), "{line:?} -> {args:?}");
                }
            }
        }
    }

    #[test]
    fn inline_too_big() {
        let big = vec![b'a'; INLINE_BYTES_MAX + 10];
        assert_eq!(
            decode_all(&big).pop().unwrap().unwrap_err().0,
            "Protocol error: too big inline request"
        );
    }

    #[test]
    fn strict_integers() {
        assert_eq!(parse_i64_strict(b"-9223372036854775808"), Some(i64::MIN));
        assert_eq!(parse_i64_strict(b"9223372036854775808"), None);
        assert_eq!(parse_i64_strict(b"+1"), None);
        assert_eq!(parse_i64_strict(b"01"), None);
        assert_eq!(parse_i64_strict(b"-0"), None);
        assert_eq!(parse_i64_strict(b"0"), Some(0));
    }
}
