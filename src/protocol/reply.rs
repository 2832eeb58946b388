//! Replies: the typed value every command returns, and its RESP2 / RESP3 encoding.
//!
//! Commands build a `Reply` without knowing the connection's protocol; the encoder maps RESP3
//! types down to RESP2 the way Redis does (maps flatten to arrays, doubles become bulk strings,
//! null becomes `$-1` or `*-1`, booleans become integers).

use bytes::{BufMut, Bytes, BytesMut};

/// The protocol a connection speaks, chosen by HELLO.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Protocol {
    #[default]
    Resp2,
    Resp3,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Reply {
    /// `+OK`
    Ok,
    /// `+<text>`
    Status(Bytes),
    /// `-<text>`; the text includes its code (`ERR ...`, `WRONGTYPE ...`).
    Error(Bytes),
    Int(i64),
    Bulk(Bytes),
    /// Null bulk (`$-1` / `_`).
    Nil,
    /// Null array (`*-1` / `_`).
    NilArray,
    Array(Vec<Reply>),
    /// RESP3 map; a flat array of key, value, ... in RESP2.
    Map(Vec<(Reply, Reply)>),
    /// RESP3 set; an array in RESP2.
    Set(Vec<Reply>),
    /// RESP3 double; a bulk string in RESP2.
    Double(f64),
    /// A double printed as Redis's "human" long double (`%.17Lf` without trailing zeros, as
    /// GEOPOS prints coordinates): a RESP3 double, a bulk string in RESP2.
    HumanDouble(f64),
    /// RESP3 boolean; `:1` / `:0` in RESP2.
    Bool(bool),
    /// RESP3 verbatim string (`=<len>\r\ntxt:...`); a bulk string in RESP2.
    Verbatim(Bytes),
    /// RESP3 push frame; an array in RESP2.
    Push(Vec<Reply>),
    /// RESP3 big number (`(<digits>`); a bulk string in RESP2.
    BigNumber(Bytes),
    /// A reply preceded by a RESP3 attribute map (`|<n>` ...); the bare reply in RESP2.
    Attributed(Vec<(Reply, Reply)>, Box<Reply>),
}

impl Reply {
    pub fn error(text: impl Into<String>) -> Reply {
        Reply::Error(Bytes::from(text.into()))
    }

    pub fn status(text: &'static str) -> Reply {
        Reply::Status(Bytes::from_static(text.as_bytes()))
    }

    pub fn bulk(bytes: impl Into<Bytes>) -> Reply {
        Reply::Bulk(bytes.into())
    }

    pub fn bulk_str(text: &str) -> Reply {
        Reply::Bulk(Bytes::copy_from_slice(text.as_bytes()))
    }

    pub fn bulk_static(text: &'static str) -> Reply {
        Reply::Bulk(Bytes::from_static(text.as_bytes()))
    }

    pub fn is_error(&self) -> bool {
        matches!(self, Reply::Error(_))
    }

    /// Appends the encoding of this reply to `out`.
    pub fn encode(&self, protocol: Protocol, out: &mut BytesMut) {
        match self {
            Reply::Ok => out.put_slice(b"+OK\r\n"),
            Reply::Status(s) => line(out, b'+', s),
            Reply::Error(e) => line(out, b'-', e),
            Reply::Int(n) => {
                out.put_u8(b':');
                put_int(out, *n);
                out.put_slice(b"\r\n");
            }
            Reply::Bulk(b) => bulk(out, b),
            Reply::Nil => match protocol {
                Protocol::Resp2 => out.put_slice(b"$-1\r\n"),
                Protocol::Resp3 => out.put_slice(b"_\r\n"),
            },
            Reply::NilArray => match protocol {
                Protocol::Resp2 => out.put_slice(b"*-1\r\n"),
                Protocol::Resp3 => out.put_slice(b"_\r\n"),
            },
            Reply::Array(items) => {
                header(out, b'*', items.len());
                for item in items {
                    item.encode(protocol, out);
                }
            }
            Reply::Set(items) => {
                let tag = if protocol == Protocol::Resp3 {
                    b'~'
                } else {
                    b'*'
                };
                header(out, tag, items.len());
                for item in items {
                    item.encode(protocol, out);
                }
            }
            Reply::Push(items) => {
                let tag = if protocol == Protocol::Resp3 {
                    b'>'
                } else {
                    b'*'
                };
                header(out, tag, items.len());
                for item in items {
                    item.encode(protocol, out);
                }
            }
            Reply::Map(pairs) => {
                match protocol {
                    Protocol::Resp3 => header(out, b'%', pairs.len()),
                    Protocol::Resp2 => header(out, b'*', pairs.len() * 2),
                }
                for (k, v) in pairs {
                    k.encode(protocol, out);
                    v.encode(protocol, out);
                }
            }
            Reply::Double(d) => {
                let text = format_double(*d);
                match protocol {
                    Protocol::Resp3 => line(out, b',', text.as_bytes()),
                    Protocol::Resp2 => bulk(out, text.as_bytes()),
                }
            }
            Reply::HumanDouble(d) => {
                let text = format_human_double(*d);
                match protocol {
                    Protocol::Resp3 => line(out, b',', text.as_bytes()),
                    Protocol::Resp2 => bulk(out, text.as_bytes()),
                }
            }
            Reply::Bool(b) => match protocol {
                Protocol::Resp3 => out.put_slice(if *b { b"#t\r\n" } else { b"#f\r\n" }),
                Protocol::Resp2 => out.put_slice(if *b { b":1\r\n" } else { b":0\r\n" }),
            },
            Reply::Verbatim(text) => match protocol {
                Protocol::Resp3 => {
                    header(out, b'=', text.len() + 4);
                    out.put_slice(b"txt:");
                    out.put_slice(text);
                    out.put_slice(b"\r\n");
                }
                Protocol::Resp2 => bulk(out, text),
            },
            Reply::BigNumber(digits) => match protocol {
                Protocol::Resp3 => line(out, b'(', digits),
                Protocol::Resp2 => bulk(out, digits),
            },
            Reply::Attributed(attributes, reply) => {
                if protocol == Protocol::Resp3 {
                    header(out, b'|', attributes.len());
                    for (k, v) in attributes {
                        k.encode(protocol, out);
                        v.encode(protocol, out);
                    }
                }
                reply.encode(protocol, out);
            }
        }
    }
}

impl From<crate::error::CommandError> for Reply {
    fn from(err: crate::error::CommandError) -> Reply {
        match err {
            crate::error::CommandError::Raw(bytes) => Reply::Error(Bytes::from(bytes)),
            other => Reply::Error(Bytes::from(other.to_string())),
        }
    }
}

fn line(out: &mut BytesMut, tag: u8, text: &[u8]) {
    out.reserve(text.len() + 3);
    out.put_u8(tag);
    out.put_slice(text);
    out.put_slice(b"\r\n");
}

fn header(out: &mut BytesMut, tag: u8, len: usize) {
    // Tag, digits and CRLF built on the stack and appended at once.
    let mut buf = [0u8; 24];
    let mut pos = buf.len() - 2;
    buf[pos..].copy_from_slice(b"\r\n");
    pos = write_digits(&mut buf, pos, len as u64);
    pos -= 1;
    buf[pos] = tag;
    out.put_slice(&buf[pos..]);
}

fn bulk(out: &mut BytesMut, body: &[u8]) {
    out.reserve(body.len() + 16);
    header(out, b'$', body.len());
    out.put_slice(body);
    out.put_slice(b"\r\n");
}

/// Appends the decimal digits of `n` (the memcached protocol's numbers use it too).
pub fn put_decimal(out: &mut BytesMut, n: u64) {
    let mut bytes = [0u8; 20];
    let start = write_digits(&mut bytes, 20, n);
    out.put_slice(&bytes[start..]);
}

fn put_int(out: &mut BytesMut, n: i64) {
    let mut buf = itoa_buf(n);
    out.put_slice(buf.as_bytes_mut());
}

/// Small stack buffer for integer formatting without allocating.
struct IntText {
    bytes: [u8; 20],
    start: usize,
}

impl IntText {
    fn as_bytes_mut(&mut self) -> &[u8] {
        &self.bytes[self.start..]
    }
}

/// "00".."99": two digits per division.
const DIGIT_PAIRS: &[u8; 200] = b"0001020304050607080910111213141516171819\
2021222324252627282930313233343536373839\
4041424344454647484950515253545556575859\
6061626364656667686970717273747576777879\
8081828384858687888990919293949596979899";

/// Writes the decimal digits of `v` so that they end just before `end`; returns where they
/// start. `buf[..end]` must have room for them (20 digits at most).
#[inline]
fn write_digits(buf: &mut [u8], end: usize, mut v: u64) -> usize {
    let mut pos = end;
    while v >= 100 {
        let pair = (v % 100) as usize * 2;
        v /= 100;
        pos -= 2;
        buf[pos..pos + 2].copy_from_slice(&DIGIT_PAIRS[pair..pair + 2]);
    }
    if v >= 10 {
        let pair = v as usize * 2;
        pos -= 2;
        buf[pos..pos + 2].copy_from_slice(&DIGIT_PAIRS[pair..pair + 2]);
    } else {
        pos -= 1;
        buf[pos] = b'0' + v as u8;
    }
    pos
}

fn itoa_buf(n: i64) -> IntText {
    let mut bytes = [0u8; 20];
    let mut pos = write_digits(&mut bytes, 20, n.unsigned_abs());
    if n < 0 {
        pos -= 1;
        bytes[pos] = b'-';
    }
    IntText { bytes, start: pos }
}

/// Formats a double as Redis's `LD_STR_HUMAN` long double text: `%.17Lf` (exact, since a
/// double widens to a long double without loss), then trailing zeros and a trailing point
/// removed; `inf` / `-inf`.
pub fn format_human_double(d: f64) -> String {
    if d.is_infinite() {
        return if d > 0.0 { "inf" } else { "-inf" }.to_string();
    }
    if d.is_nan() {
        return "nan".to_string();
    }
    let mut text = format!("{d:.17}");
    while text.ends_with('0') {
        text.pop();
    }
    if text.ends_with('.') {
        text.pop();
    }
    text
}

/// Formats a double as Redis 7.2 does in replies: the shortest text that reads back to the same
/// value, `inf` / `-inf`, and exponent notation (`1e+21`) for very large or small magnitudes,
/// like `%.17g` with the shortest digits.
pub fn format_double(d: f64) -> String {
    if d.is_nan() {
        return "nan".to_string();
    }
    if d.is_infinite() {
        return if d > 0.0 { "inf".into() } else { "-inf".into() };
    }
    if d == 0.0 {
        return if d.is_sign_negative() {
            "-0".into()
        } else {
            "0".into()
        };
    }
    if d.fract() == 0.0 && d.abs() < 1e15 {
        // Integral scores (the common case in sorted sets) print as plain integers.
        return (d as i64).to_string();
    }
    // Shortest round-trip digits from Rust's formatter in exponent form, then laid out as %g.
    let exp_form = format!("{d:e}");
    let (mantissa, exp) = exp_form
        .split_once('e')
        .expect("{:e} always has an exponent");
    let exp: i32 = exp.parse().expect("exponent is an integer");
    let negative = mantissa.starts_with('-');
    let digits: String = mantissa.chars().filter(|c| c.is_ascii_digit()).collect();
    let mut text = String::new();
    if negative {
        text.push('-');
    }
    if !(-4..17).contains(&exp) {
        text.push_str(&digits[..1]);
        if digits.len() > 1 {
            text.push('.');
            text.push_str(&digits[1..]);
        }
        text.push('e');
        text.push(if exp < 0 { '-' } else { '+' });
        text.push_str(&format!("{:02}", exp.abs()));
    } else if exp < 0 {
        text.push_str("0.");
        for _ in 0..(-exp - 1) {
            text.push('0');
        }
        text.push_str(&digits);
    } else {
        let int_len = exp as usize + 1;
        if digits.len() <= int_len {
            text.push_str(&digits);
            for _ in digits.len()..int_len {
                text.push('0');
            }
        } else {
            text.push_str(&digits[..int_len]);
            text.push('.');
            text.push_str(&digits[int_len..]);
        }
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn enc(r: Reply, p: Protocol) -> Vec<u8> {
        let mut out = BytesMut::new();
        r.encode(p, &mut out);
        out.to_vec()
    }

    #[test]
    fn integers_and_lengths_match_decimal_formatting() {
        let mut n: i64 = 1;
        let mut samples = vec![0, i64::MAX, i64::MIN, i64::MIN + 1];
        while let Some(next) = n.checked_mul(7) {
            samples.extend([n, -n, n - 1, n + 1, 1 - n]);
            n = next;
        }
        samples.extend(0..=1000);
        for v in samples {
            assert_eq!(
                enc(Reply::Int(v), Protocol::Resp2),
                format!(":{v}\r\n").as_bytes()
            );
        }
        for len in [0usize, 1, 9, 10, 99, 100, 101, 999, 1000, 65536, 1 << 40] {
            let mut out = BytesMut::new();
            header(&mut out, b'$', len);
            assert_eq!(&out[..], format!("${len}\r\n").as_bytes());
        }
    }

    #[test]
    fn resp2_and_resp3_framing() {
        assert_eq!(enc(Reply::Nil, Protocol::Resp2), b"$-1\r\n");
        assert_eq!(enc(Reply::Nil, Protocol::Resp3), b"_\r\n");
        assert_eq!(enc(Reply::Int(-42), Protocol::Resp2), b":-42\r\n");
        assert_eq!(
            enc(Reply::Int(i64::MIN), Protocol::Resp2),
            b":-9223372036854775808\r\n"
        );
        let map = Reply::Map(vec![(Reply::bulk_static("a"), Reply::Int(1))]);
        assert_eq!(
            enc(map.clone(), Protocol::Resp2),
            b"*2\r\n$1\r\na\r\n:1\r\n"
        );
        assert_eq!(enc(map, Protocol::Resp3), b"%1\r\n$1\r\na\r\n:1\r\n");
        assert_eq!(enc(Reply::Double(1.5), Protocol::Resp3), b",1.5\r\n");
        assert_eq!(enc(Reply::Double(1.5), Protocol::Resp2), b"$3\r\n1.5\r\n");
    }

    #[test]
    fn doubles_like_redis() {
        assert_eq!(format_double(1.1), "1.1");
        assert_eq!(format_double(3.0), "3");
        assert_eq!(format_double(1e21), "1e+21");
        assert_eq!(format_double(1e16), "10000000000000000");
        assert_eq!(format_double(0.0001), "0.0001");
        assert_eq!(format_double(0.00001), "1e-05");
        assert_eq!(format_double(-2.5), "-2.5");
        assert_eq!(format_double(f64::INFINITY), "inf");
    }
}
