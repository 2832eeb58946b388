//! The memcached text protocol parser: request lines and data blocks, bounded.
//!
//! Behaviour follows memcached 1.6's ASCII protocol (checked byte for byte against the real
//! daemon in tests/memcached.rs): tokens are separated by spaces only, a line ends at `\n`
//! (a `\r` just before it is dropped), command names are case-sensitive, and a request that
//! does not match any command shape is `ERROR`. Limits:
//! - a line without `\n` longer than 2048 bytes closes the connection unless it is a
//!   retrieval (`get`, `gets`, `gat`, `gats`), as memcached does; a retrieval line is bounded
//!   by `LINE_MAX_RETRIEVAL` (memcached has no bound there);
//! - a data block larger than the item size limit is consumed as it arrives without being
//!   buffered (`SERVER_ERROR object too large for cache`);
//! - nothing is allocated from a declared length: the buffer grows with bytes that arrived.

use bytes::{Buf, Bytes, BytesMut};

/// memcached's KEY_MAX_LENGTH.
pub const KEY_MAX: usize = 250;
/// Past this many bytes without a newline, a non-retrieval line closes the connection.
pub const LINE_MAX: usize = 2048;
/// The bound of a retrieval line (about 4000 keys of 250 bytes).
pub const LINE_MAX_RETRIEVAL: usize = 1024 * 1024;
/// memcached's REALTIME_MAXDELTA: larger expiry times are absolute unix times.
pub const RELATIVE_EXPIRY_MAX: i64 = 60 * 60 * 24 * 30;

pub const BAD_FORMAT: &[u8] = b"CLIENT_ERROR bad command line format\r\n";
pub const ERROR: &[u8] = b"ERROR\r\n";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StoreOp {
    Set,
    Add,
    Replace,
    Append,
    Prepend,
    Cas,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MetaCmd {
    Get,
    Set,
    Delete,
    Arith,
    Debug,
}

#[derive(Debug, PartialEq, Eq)]
pub enum Request {
    /// get / gets (touch `None`) and gat / gats (touch = the expiry time).
    Get {
        cas: bool,
        touch: Option<i64>,
        keys: Vec<Bytes>,
    },
    Store {
        op: StoreOp,
        key: Bytes,
        flags: u32,
        exptime: i64,
        cas: u64,
        data: Bytes,
        noreply: bool,
    },
    /// A storage request whose data block is over the item size limit (being swallowed).
    TooLarge {
        op: StoreOp,
        key: Bytes,
    },
    Delete {
        key: Bytes,
        noreply: bool,
    },
    Arith {
        incr: bool,
        key: Bytes,
        delta: u64,
        noreply: bool,
    },
    Touch {
        key: Bytes,
        exptime: i64,
        noreply: bool,
    },
    FlushAll {
        delay: i64,
        noreply: bool,
    },
    Version,
    Verbosity {
        noreply: bool,
    },
    Stats {
        args: Vec<Bytes>,
    },
    Quit,
    /// mn: the end-of-pipeline marker.
    MetaNoop,
    Meta {
        cmd: MetaCmd,
        key: Bytes,
        /// Flag tokens: the flag letter and its argument (possibly empty).
        flags: Vec<(u8, Bytes)>,
        data: Option<Bytes>,
    },
    /// A reply decided by the parser alone (an error line).
    Reply(&'static [u8]),
}

/// What `Parser::next` found in the buffer.
#[derive(Debug, PartialEq, Eq)]
pub enum Step {
    /// More bytes are needed.
    Incomplete,
    Request(Request),
    /// The connection must be closed (an overlong line).
    Close,
}

/// A storage command waiting for its data block.
#[derive(Debug)]
struct Pending {
    head: PendingHead,
    /// The block's length including its trailing `\r\n`.
    len: usize,
}

#[derive(Debug)]
enum PendingHead {
    Store {
        op: StoreOp,
        key: Bytes,
        flags: u32,
        exptime: i64,
        cas: u64,
        noreply: bool,
    },
    MetaSet {
        key: Bytes,
        flags: Vec<(u8, Bytes)>,
    },
}

/// Resumable request parser for one connection.
#[derive(Debug, Default)]
pub struct Parser {
    pending: Option<Pending>,
    /// Bytes of an oversized data block still to discard.
    swallow: usize,
}

impl Parser {
    pub fn new() -> Parser {
        Parser::default()
    }

    /// Bytes the parser is known to need before it can return the next request (for read-ahead).
    pub fn bytes_wanted(&self) -> Option<usize> {
        self.pending.as_ref().map(|p| p.len)
    }

    /// Decodes the next request from `buf`, consuming its bytes. `item_max` is the largest
    /// value accepted.
    pub fn next(&mut self, buf: &mut BytesMut, item_max: usize) -> Step {
        if self.swallow > 0 {
            let n = self.swallow.min(buf.len());
            buf.advance(n);
            self.swallow -= n;
            if self.swallow > 0 {
                return Step::Incomplete;
            }
        }
        if let Some(pending) = &self.pending {
            if buf.len() < pending.len {
                return Step::Incomplete;
            }
            let pending = self.pending.take().expect("checked above");
            let block = buf.split_to(pending.len).freeze();
            if !block.ends_with(b"\r\n") {
                return Step::Request(Request::Reply(b"CLIENT_ERROR bad data chunk\r\n"));
            }
            let data = block.slice(..pending.len - 2);
            return Step::Request(match pending.head {
                PendingHead::Store {
                    op,
                    key,
                    flags,
                    exptime,
                    cas,
                    noreply,
                } => Request::Store {
                    op,
                    key,
                    flags,
                    exptime,
                    cas,
                    data,
                    noreply,
                },
                PendingHead::MetaSet { key, flags } => Request::Meta {
                    cmd: MetaCmd::Set,
                    key,
                    flags,
                    data: Some(data),
                },
            });
        }
        let Some(end) = memchr(b'\n', buf) else {
            return if buf.len() > LINE_MAX && !retrieval_prefix(buf)
                || buf.len() > LINE_MAX_RETRIEVAL
            {
                Step::Close
            } else {
                Step::Incomplete
            };
        };
        if end > LINE_MAX_RETRIEVAL || end > LINE_MAX && !retrieval_prefix(buf) {
            return Step::Close;
        }
        let mut line = buf.split_to(end + 1).freeze();
        line.truncate(end);
        if line.ends_with(b"\r") {
            line.truncate(end - 1);
        }
        let request = self.parse_line(line, item_max);
        if self.pending.is_some() {
            // A storage command: the request is complete once its data block is here.
            return self.next(buf, item_max);
        }
        Step::Request(request)
    }

    fn parse_line(&mut self, line: Bytes, item_max: usize) -> Request {
        let tokens = tokenize(&line);
        let Some(name) = tokens.first() else {
            return Request::Reply(ERROR);
        };
        let n = tokens.len();
        let noreply = tokens.last().is_some_and(|t| &t[..] == b"noreply");
        match &name[..] {
            b"get" | b"gets" if n >= 2 => retrieval(&tokens[1..], name.len() == 4, None),
            b"gat" | b"gats" if n >= 2 => {
                let Some(exptime) = parse_i32(&tokens[1]) else {
                    return Request::Reply(b"CLIENT_ERROR invalid exptime argument\r\n");
                };
                retrieval(&tokens[2..], name.len() == 4, Some(exptime))
            }
            b"set" | b"add" | b"replace" | b"append" | b"prepend" if n == 5 || n == 6 => {
                let op = match &name[..] {
                    b"set" => StoreOp::Set,
                    b"add" => StoreOp::Add,
                    b"replace" => StoreOp::Replace,
                    b"append" => StoreOp::Append,
                    _ => StoreOp::Prepend,
                };
                self.storage(op, &tokens, None, n == 6 && noreply, item_max)
            }
            b"cas" if n == 6 || n == 7 => {
                let Some(cas) = parse_u64(&tokens[5]) else {
                    return Request::Reply(BAD_FORMAT);
                };
                self.storage(
                    StoreOp::Cas,
                    &tokens,
                    Some(cas),
                    n == 7 && noreply,
                    item_max,
                )
            }
            b"incr" | b"decr" if n == 3 || n == 4 => {
                if tokens[1].len() > KEY_MAX {
                    return Request::Reply(BAD_FORMAT);
                }
                let Some(delta) = parse_u64(&tokens[2]) else {
                    return Request::Reply(b"CLIENT_ERROR invalid numeric delta argument\r\n");
                };
                Request::Arith {
                    incr: name[0] == b'i',
                    key: tokens[1].clone(),
                    delta,
                    noreply: n == 4 && noreply,
                }
            }
            b"delete" if (2..=4).contains(&n) => {
                if tokens[1].len() > KEY_MAX {
                    return Request::Reply(BAD_FORMAT);
                }
                let hold_zero = n > 2 && &tokens[2][..] == b"0";
                let valid = n == 2 || n == 3 && (hold_zero || noreply) || hold_zero && noreply;
                if !valid {
                    return Request::Reply(
                        b"CLIENT_ERROR bad command line format.  Usage: delete <key> [noreply]\r\n",
                    );
                }
                Request::Delete {
                    key: tokens[1].clone(),
                    noreply: n > 2 && noreply,
                }
            }
            b"touch" if n == 3 || n == 4 => {
                if tokens[1].len() > KEY_MAX {
                    return Request::Reply(BAD_FORMAT);
                }
                let Some(exptime) = parse_i32(&tokens[2]) else {
                    return Request::Reply(b"CLIENT_ERROR invalid exptime argument\r\n");
                };
                Request::Touch {
                    key: tokens[1].clone(),
                    exptime,
                    noreply: n == 4 && noreply,
                }
            }
            b"flush_all" if n <= 3 => {
                let delay = if n == 1 || n == 2 && noreply {
                    0
                } else {
                    match parse_i32(&tokens[1]) {
                        Some(delay) => delay,
                        None => {
                            return Request::Reply(b"CLIENT_ERROR invalid exptime argument\r\n")
                        }
                    }
                };
                Request::FlushAll {
                    delay,
                    noreply: n > 1 && noreply,
                }
            }
            b"version" => Request::Version,
            b"quit" => Request::Quit,
            b"verbosity" if n == 2 || n == 3 => Request::Verbosity {
                noreply: n == 3 && noreply,
            },
            b"stats" => Request::Stats {
                args: tokens[1..].to_vec(),
            },
            b"mn" => Request::MetaNoop,
            b"mg" | b"md" | b"ma" | b"me" if n >= 2 => {
                let cmd = match name[1] {
                    b'g' => MetaCmd::Get,
                    b'd' => MetaCmd::Delete,
                    b'a' => MetaCmd::Arith,
                    _ => MetaCmd::Debug,
                };
                meta(cmd, &tokens)
            }
            b"ms" if n >= 3 => {
                if tokens[1].len() > KEY_MAX {
                    return Request::Reply(BAD_FORMAT);
                }
                let Some(len) = parse_i32(&tokens[2]).filter(|&l| l >= 0) else {
                    return Request::Reply(BAD_FORMAT);
                };
                let flags = match meta_flags(MetaCmd::Set, &tokens[3..]) {
                    Ok(flags) => flags,
                    Err(reply) => return Request::Reply(reply),
                };
                let len = len as usize;
                if len > item_max {
                    self.swallow = len + 2;
                    return Request::TooLarge {
                        op: StoreOp::Set,
                        key: tokens[1].clone(),
                    };
                }
                self.pending = Some(Pending {
                    head: PendingHead::MetaSet {
                        key: tokens[1].clone(),
                        flags,
                    },
                    len: len + 2,
                });
                Request::Reply(b"")
            }
            b"ms" if n == 2 => Request::Reply(BAD_FORMAT),
            b"me" => Request::Reply(BAD_FORMAT),
            _ => Request::Reply(ERROR),
        }
    }

    fn storage(
        &mut self,
        op: StoreOp,
        tokens: &[Bytes],
        cas: Option<u64>,
        noreply: bool,
        item_max: usize,
    ) -> Request {
        if tokens[1].len() > KEY_MAX {
            return Request::Reply(BAD_FORMAT);
        }
        let (Some(flags), Some(exptime), Some(len)) = (
            parse_flags(&tokens[2]),
            parse_i32(&tokens[3]),
            parse_i32(&tokens[4]),
        ) else {
            return Request::Reply(BAD_FORMAT);
        };
        if len < 0 {
            return Request::Reply(BAD_FORMAT);
        }
        let len = len as usize;
        if len > item_max {
            self.swallow = len + 2;
            return Request::TooLarge {
                op,
                key: tokens[1].clone(),
            };
        }
        self.pending = Some(Pending {
            head: PendingHead::Store {
                op,
                key: tokens[1].clone(),
                flags,
                exptime,
                cas: cas.unwrap_or(0),
                noreply,
            },
            len: len + 2,
        });
        // Not a reply: `next` goes on to the data block.
        Request::Reply(b"")
    }
}

/// True if a line (so far) starts with a retrieval command, after at most 100 spaces.
fn retrieval_prefix(buf: &[u8]) -> bool {
    let spaces = buf.iter().take_while(|&&b| b == b' ').count();
    if spaces > 100 {
        return false;
    }
    let rest = &buf[spaces..];
    [&b"get "[..], b"gets ", b"gat ", b"gats "]
        .iter()
        .any(|p| rest.starts_with(p))
}

fn retrieval(keys: &[Bytes], cas: bool, touch: Option<i64>) -> Request {
    if keys.iter().any(|k| k.len() > KEY_MAX) {
        return Request::Reply(BAD_FORMAT);
    }
    Request::Get {
        cas,
        touch,
        keys: keys.to_vec(),
    }
}

/// Flags each meta command accepts (the subset ferrocache implements; see docs/compatibility.md).
fn meta_allowed(cmd: MetaCmd) -> &'static [u8] {
    match cmd {
        MetaCmd::Get => b"cfkOqstvTN",
        MetaCmd::Set => b"cCFkOqTMI",
        MetaCmd::Delete => b"CkOq",
        MetaCmd::Arith => b"cCDJkMNOqtTv",
        MetaCmd::Debug => b"",
    }
}

fn meta_flags(cmd: MetaCmd, tokens: &[Bytes]) -> Result<Vec<(u8, Bytes)>, &'static [u8]> {
    let allowed = meta_allowed(cmd);
    let mut flags = Vec::with_capacity(tokens.len());
    for token in tokens {
        let letter = token[0];
        if !allowed.contains(&letter) {
            return Err(b"CLIENT_ERROR invalid flag\r\n");
        }
        flags.push((letter, token.slice(1..)));
    }
    Ok(flags)
}

fn meta(cmd: MetaCmd, tokens: &[Bytes]) -> Request {
    if tokens[1].len() > KEY_MAX {
        return Request::Reply(BAD_FORMAT);
    }
    let flags = match meta_flags(cmd, &tokens[2..]) {
        Ok(flags) => flags,
        Err(reply) => return Request::Reply(reply),
    };
    Request::Meta {
        cmd,
        key: tokens[1].clone(),
        flags,
        data: None,
    }
}

/// A line's tokens: every command but a many-key get fits without a heap allocation.
type Tokens = smallvec::SmallVec<[Bytes; 8]>;

/// Splits a line on spaces, dropping empty tokens (memcached's `tokenize_command`).
fn tokenize(line: &Bytes) -> Tokens {
    let mut tokens = Tokens::new();
    let mut start = None;
    for (i, &b) in line.iter().enumerate() {
        match (b == b' ', start) {
            (true, Some(s)) => {
                tokens.push(line.slice(s..i));
                start = None;
            }
            (false, None) => start = Some(i),
            _ => {}
        }
    }
    if let Some(s) = start {
        tokens.push(line.slice(s..));
    }
    tokens
}

fn memchr(needle: u8, haystack: &[u8]) -> Option<usize> {
    haystack.iter().position(|&b| b == needle)
}

/// C's `strtol` family as memcached's `safe_strto*` use them: optional leading spaces and
/// sign, decimal digits, then only whitespace.
/// A magnitude past u64 is None: neither caller accepts one (a signed 32-bit number, or an
/// unsigned 64-bit one).
fn parse_number(token: &[u8]) -> Option<(bool, u64)> {
    let s = token;
    let (negative, digits) = match s.first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let count = digits.iter().take_while(|b| b.is_ascii_digit()).count();
    if count == 0 || digits[count..].iter().any(|b| !b.is_ascii_whitespace()) {
        return None;
    }
    let mut n: u64 = 0;
    for &d in &digits[..count] {
        n = n.checked_mul(10)?.checked_add(u64::from(d - b'0'))?;
    }
    Some((negative, n))
}

/// A 32-bit signed number (exptime, lengths).
pub fn parse_i32(token: &[u8]) -> Option<i64> {
    let (negative, n) = parse_number(token)?;
    let n = i64::try_from(n).ok()?;
    let n = if negative { -n } else { n };
    (i64::from(i32::MIN)..=i64::from(i32::MAX))
        .contains(&n)
        .then_some(n)
}

/// An unsigned 64-bit number (deltas, CAS uniques); a sign is refused.
pub fn parse_u64(token: &[u8]) -> Option<u64> {
    match parse_number(token)? {
        (false, n) => Some(n),
        (true, _) => None,
    }
}

/// Client flags: an unsigned number, kept modulo 2^32 as memcached 1.6 does.
fn parse_flags(token: &[u8]) -> Option<u32> {
    parse_u64(token).map(|n| n as u32)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_all(input: &[u8]) -> Vec<Step> {
        let mut parser = Parser::new();
        let mut buf = BytesMut::from(input);
        let mut out = Vec::new();
        loop {
            match parser.next(&mut buf, 1024) {
                Step::Incomplete => return out,
                Step::Close => {
                    out.push(Step::Close);
                    return out;
                }
                step => out.push(step),
            }
        }
    }

    #[test]
    fn storage_waits_for_its_block_and_checks_the_terminator() {
        let steps = parse_all(b"set k 5 10 3 noreply\r\nabc\r\nset k 0 0 1\r\nxy\r\n");
        // The 3-byte block is `xy\r`; the `\n` left is an empty line (memcached: ERROR).
        assert_eq!(steps.len(), 3);
        assert_eq!(steps[2], Step::Request(Request::Reply(ERROR)));
        assert_eq!(
            steps[0],
            Step::Request(Request::Store {
                op: StoreOp::Set,
                key: Bytes::from_static(b"k"),
                flags: 5,
                exptime: 10,
                cas: 0,
                data: Bytes::from_static(b"abc"),
                noreply: true,
            })
        );
        assert_eq!(
            steps[1],
            Step::Request(Request::Reply(b"CLIENT_ERROR bad data chunk\r\n"))
        );
    }

    #[test]
    fn oversized_blocks_are_swallowed_not_buffered() {
        let mut parser = Parser::new();
        let mut buf = BytesMut::from(&b"set k 0 0 5000\r\n"[..]);
        assert!(matches!(
            parser.next(&mut buf, 1024),
            Step::Request(Request::TooLarge { .. })
        ));
        buf.extend_from_slice(&[b'x'; 3000]);
        assert_eq!(parser.next(&mut buf, 1024), Step::Incomplete);
        assert!(buf.is_empty());
        buf.extend_from_slice(&[b'x'; 2000]);
        buf.extend_from_slice(b"\r\nversion\r\n");
        assert_eq!(parser.next(&mut buf, 1024), Step::Request(Request::Version));
    }

    #[test]
    fn long_lines_close_unless_retrievals() {
        assert_eq!(parse_all(&[b'x'; LINE_MAX + 1]), vec![Step::Close]);
        let mut get = b"get ".to_vec();
        get.extend_from_slice(&[b'k'; LINE_MAX * 2]);
        assert_eq!(parse_all(&get), vec![]);
        get.extend_from_slice(&vec![b'k'; LINE_MAX_RETRIEVAL]);
        assert_eq!(parse_all(&get), vec![Step::Close]);
    }

    #[test]
    fn numbers_follow_strtol() {
        assert_eq!(parse_i32(b"-1"), Some(-1));
        assert_eq!(parse_i32(b"2147483648"), None);
        assert_eq!(parse_i32(b"1x"), None);
        assert_eq!(parse_u64(b"18446744073709551615"), Some(u64::MAX));
        assert_eq!(parse_u64(b"18446744073709551616"), None);
        assert_eq!(parse_u64(b"-1"), None);
        assert_eq!(parse_flags(b"4294967297"), Some(1));
    }
}

#[cfg(test)]
mod properties {
    use super::*;
    use proptest::prelude::*;

    /// Bytes that look like memcached traffic often enough to reach every state: command
    /// words, numbers, spaces, line ends, and arbitrary bytes.
    fn traffic() -> impl Strategy<Value = Vec<u8>> {
        let piece = prop_oneof![
            Just(b"get ".to_vec()),
            Just(b"gets ".to_vec()),
            Just(b"gat 1 ".to_vec()),
            Just(b"set k 0 0 ".to_vec()),
            Just(b"cas k 1 2 3 ".to_vec()),
            Just(b"append k 0 0 ".to_vec()),
            Just(b"incr k ".to_vec()),
            Just(b"delete k ".to_vec()),
            Just(b"touch k ".to_vec()),
            Just(b"flush_all ".to_vec()),
            Just(b"ms k ".to_vec()),
            Just(b"mg k v c f T".to_vec()),
            Just(b"ma k N0 J".to_vec()),
            Just(b"noreply".to_vec()),
            Just(b"\r\n".to_vec()),
            Just(b"\n".to_vec()),
            Just(b" ".to_vec()),
            (0u32..3000).prop_map(|n| n.to_string().into_bytes()),
            Just(b"-1".to_vec()),
            Just(b"99999999999999999999".to_vec()),
            proptest::collection::vec(any::<u8>(), 0..40),
            Just(vec![b'a'; 300]),
        ];
        proptest::collection::vec(piece, 0..40).prop_map(|v| v.concat())
    }

    /// Parses `input` delivered in reads cut at `cuts`; returns the steps (Incomplete left
    /// out) and the largest buffer the parser was left holding.
    fn parse_in_reads(input: &[u8], cuts: &[usize], item_max: usize) -> (Vec<Step>, usize) {
        let mut parser = Parser::new();
        let mut buf = BytesMut::new();
        let mut steps = Vec::new();
        let mut held = 0;
        let mut at = 0;
        let mut ends: Vec<usize> = cuts.iter().map(|c| c % (input.len() + 1)).collect();
        ends.push(input.len());
        ends.sort_unstable();
        for end in ends {
            buf.extend_from_slice(&input[at..end.max(at)]);
            at = end.max(at);
            loop {
                match parser.next(&mut buf, item_max) {
                    Step::Incomplete => break,
                    Step::Close => {
                        steps.push(Step::Close);
                        return (steps, held);
                    }
                    step => steps.push(step),
                }
            }
            held = held.max(buf.len());
        }
        (steps, held)
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 500, ..ProptestConfig::default() })]

        /// Any bytes, in any reads: no panic, the same requests as when they arrive at once,
        /// and never more held than a line or data block may take.
        #[test]
        fn any_bytes_in_any_reads(input in traffic(), cuts in proptest::collection::vec(any::<usize>(), 0..8)) {
            let item_max = 2048;
            let (whole, _) = parse_in_reads(&input, &[], item_max);
            let (split, held) = parse_in_reads(&input, &cuts, item_max);
            prop_assert_eq!(whole, split);
            prop_assert!(held <= LINE_MAX_RETRIEVAL.max(item_max + 2));
        }
    }
}
