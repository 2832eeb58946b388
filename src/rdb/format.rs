//! The RDB format's building blocks: opcodes, value types, length and string encodings, and a
//! bounds-checked reader over a byte slice.
//!
//! Lengths: the top two bits of the first byte say how the rest reads. `00` a 6-bit length,
//! `01` a 14-bit length (big endian across two bytes), `0x80` a 32-bit and `0x81` a 64-bit
//! big-endian length, and `11` a special string encoding in the low six bits: 0/1/2 an 8/16/32-bit
//! little-endian integer, 3 an LZF-compressed string (compressed length, original length, data).
//!
//! The reader never allocates from a declared length before checking it against the bytes that
//! are actually left (the decoder CVE class: a payload that claims 2^60 elements must cost an
//! error, not an allocation).

use super::lzf;
pub use super::source::{ByteSource, SliceSource};
use std::borrow::Cow;
use std::marker::PhantomData;

/// The version we write: Redis 7.0's (7.2 writes 11, which 7.0 refuses; 7.2 and 7.4 load 10).
pub const VERSION_WRITTEN: u16 = 10;
/// The newest version we read: Redis 7.4's (12). Files of 11 and 12 differ from 10 only in
/// value types (set listpacks in 11, hash field expiry in 12), each handled or named on load.
pub const VERSION_READ_MAX: u16 = 12;

pub mod opcode {
    pub const FUNCTION2: u8 = 0xF5;
    pub const FUNCTION_PRE_GA: u8 = 0xF6;
    pub const MODULE_AUX: u8 = 0xF7;
    pub const IDLE: u8 = 0xF8;
    pub const FREQ: u8 = 0xF9;
    pub const AUX: u8 = 0xFA;
    pub const RESIZEDB: u8 = 0xFB;
    pub const EXPIRETIME_MS: u8 = 0xFC;
    pub const EXPIRETIME: u8 = 0xFD;
    pub const SELECTDB: u8 = 0xFE;
    pub const EOF: u8 = 0xFF;
}

/// Value type bytes (Redis's RDB_TYPE_*).
pub mod kind {
    pub const STRING: u8 = 0;
    pub const LIST: u8 = 1;
    pub const SET: u8 = 2;
    pub const ZSET: u8 = 3;
    pub const HASH: u8 = 4;
    pub const ZSET_2: u8 = 5;
    pub const MODULE_PRE_GA: u8 = 6;
    pub const MODULE_2: u8 = 7;
    pub const HASH_ZIPMAP: u8 = 9;
    pub const LIST_ZIPLIST: u8 = 10;
    pub const SET_INTSET: u8 = 11;
    pub const ZSET_ZIPLIST: u8 = 12;
    pub const HASH_ZIPLIST: u8 = 13;
    pub const LIST_QUICKLIST: u8 = 14;
    pub const STREAM_LISTPACKS: u8 = 15;
    pub const HASH_LISTPACK: u8 = 16;
    pub const ZSET_LISTPACK: u8 = 17;
    pub const LIST_QUICKLIST_2: u8 = 18;
    pub const STREAM_LISTPACKS_2: u8 = 19;
    pub const SET_LISTPACK: u8 = 20;
    pub const STREAM_LISTPACKS_3: u8 = 21;
    pub const HASH_METADATA_PRE_GA: u8 = 22;
    pub const HASH_LISTPACK_EX_PRE_GA: u8 = 23;
    pub const HASH_METADATA: u8 = 24;
    pub const HASH_LISTPACK_EX: u8 = 25;

    /// A name for messages about a type byte.
    pub fn name(kind: u8) -> &'static str {
        match kind {
            STRING => "string",
            LIST | LIST_ZIPLIST | LIST_QUICKLIST | LIST_QUICKLIST_2 => "list",
            SET | SET_INTSET | SET_LISTPACK => "set",
            ZSET | ZSET_2 | ZSET_ZIPLIST | ZSET_LISTPACK => "zset",
            HASH | HASH_ZIPMAP | HASH_ZIPLIST | HASH_LISTPACK => "hash",
            MODULE_PRE_GA | MODULE_2 => "module",
            STREAM_LISTPACKS | STREAM_LISTPACKS_2 | STREAM_LISTPACKS_3 => "stream",
            HASH_METADATA_PRE_GA | HASH_LISTPACK_EX_PRE_GA | HASH_METADATA | HASH_LISTPACK_EX => {
                "hash with field expiration"
            }
            _ => "unknown",
        }
    }
}

const LEN_6BIT: u8 = 0;
const LEN_14BIT: u8 = 1;
const LEN_32BIT: u8 = 0x80;
const LEN_64BIT: u8 = 0x81;
const LEN_ENCVAL: u8 = 3;
const ENC_INT8: u8 = 0;
const ENC_INT16: u8 = 1;
const ENC_INT32: u8 = 2;
const ENC_LZF: u8 = 3;

/// Strings at most this long are never compressed (Redis's threshold).
const COMPRESS_LEN_MIN: usize = 21;

/// Appends a length in the shortest encoding.
pub fn put_len(out: &mut Vec<u8>, len: u64) {
    if len < 1 << 6 {
        out.push(len as u8 | LEN_6BIT << 6);
    } else if len < 1 << 14 {
        out.push((len >> 8) as u8 | LEN_14BIT << 6);
        out.push(len as u8);
    } else if len <= u64::from(u32::MAX) {
        out.push(LEN_32BIT);
        out.extend_from_slice(&(len as u32).to_be_bytes());
    } else {
        out.push(LEN_64BIT);
        out.extend_from_slice(&len.to_be_bytes());
    }
}

/// Appends a string: as an integer when it is the canonical form of one that fits 32 bits,
/// LZF-compressed when `compress` and that saves at least 4 bytes, raw otherwise (Redis's
/// `rdbSaveRawString` choices).
pub fn put_string(out: &mut Vec<u8>, s: &[u8], compress: bool) {
    if s.len() <= 11 {
        if let Some(n) = crate::strconv::parse_i64_strict(s) {
            if put_int(out, n) {
                return;
            }
        }
    }
    if compress && s.len() >= COMPRESS_LEN_MIN {
        if let Some(packed) = lzf::compress(s, s.len() - 4) {
            out.push(LEN_ENCVAL << 6 | ENC_LZF);
            put_len(out, packed.len() as u64);
            put_len(out, s.len() as u64);
            out.extend_from_slice(&packed);
            return;
        }
    }
    put_len(out, s.len() as u64);
    out.extend_from_slice(s);
}

/// Appends an integer encoding if `n` fits 32 bits; false otherwise.
fn put_int(out: &mut Vec<u8>, n: i64) -> bool {
    if let Ok(n) = i8::try_from(n) {
        out.push(LEN_ENCVAL << 6 | ENC_INT8);
        out.push(n as u8);
    } else if let Ok(n) = i16::try_from(n) {
        out.push(LEN_ENCVAL << 6 | ENC_INT16);
        out.extend_from_slice(&n.to_le_bytes());
    } else if let Ok(n) = i32::try_from(n) {
        out.push(LEN_ENCVAL << 6 | ENC_INT32);
        out.extend_from_slice(&n.to_le_bytes());
    } else {
        return false;
    }
    true
}

/// A decoding failure and the offset of the byte where it was found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodeError {
    pub offset: usize,
    pub message: String,
}

impl std::fmt::Display for DecodeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} at offset {}", self.message, self.offset)
    }
}

impl std::error::Error for DecodeError {}

pub type Decoded<T> = Result<T, DecodeError>;

/// A length or a special string encoding, as the first bytes of a length field say.
enum Len {
    Plain(u64),
    Encoded(u8),
}

/// A cursor over RDB bytes from a slice or a stream (see `source`); every read is
/// bounds-checked against the bytes left before anything is allocated for it.
pub struct Reader<'a, S: ByteSource<'a> = SliceSource<'a>> {
    src: S,
    _borrows: PhantomData<&'a [u8]>,
}

impl<'a> Reader<'a, SliceSource<'a>> {
    pub fn new(buf: &'a [u8]) -> Reader<'a, SliceSource<'a>> {
        Reader::from_source(SliceSource::new(buf))
    }
}

impl<'a, S: ByteSource<'a>> Reader<'a, S> {
    pub fn from_source(src: S) -> Reader<'a, S> {
        Reader {
            src,
            _borrows: PhantomData,
        }
    }

    pub fn offset(&self) -> usize {
        self.src.offset()
    }

    pub fn remaining(&self) -> usize {
        self.src.remaining()
    }

    /// CRC-64 of every byte read so far.
    pub fn checksum(&mut self) -> u64 {
        self.src.checksum()
    }

    /// An error at the current offset.
    pub fn error<T>(&self, message: impl Into<String>) -> Decoded<T> {
        self.error_at(self.offset(), message)
    }

    pub fn error_at<T>(&self, offset: usize, message: impl Into<String>) -> Decoded<T> {
        Err(DecodeError {
            offset,
            message: message.into(),
        })
    }

    fn check_left(&self, n: usize) -> Decoded<()> {
        if n > self.remaining() {
            return self.error(format!(
                "unexpected end of data (need {n} bytes, {} left)",
                self.remaining()
            ));
        }
        Ok(())
    }

    pub fn take(&mut self, n: usize) -> Decoded<Cow<'a, [u8]>> {
        self.check_left(n)?;
        self.src.take(n)
    }

    /// The next `N` bytes, copied without allocating.
    pub fn array<const N: usize>(&mut self) -> Decoded<[u8; N]> {
        self.check_left(N)?;
        let mut out = [0u8; N];
        self.src.take_into(&mut out)?;
        Ok(out)
    }

    /// Fills `out` with the next bytes, copied without allocating.
    pub fn fill(&mut self, out: &mut [u8]) -> Decoded<()> {
        self.check_left(out.len())?;
        self.src.take_into(out)
    }

    pub fn u8(&mut self) -> Decoded<u8> {
        Ok(self.array::<1>()?[0])
    }

    pub fn u32_le(&mut self) -> Decoded<u32> {
        Ok(u32::from_le_bytes(self.array()?))
    }

    pub fn u64_le(&mut self) -> Decoded<u64> {
        Ok(u64::from_le_bytes(self.array()?))
    }

    pub fn f64_le(&mut self) -> Decoded<f64> {
        Ok(f64::from_bits(self.u64_le()?))
    }

    fn len_or_encoding(&mut self) -> Decoded<Len> {
        let first = self.u8()?;
        Ok(match first >> 6 {
            0 => Len::Plain(u64::from(first & 0x3f)),
            1 => Len::Plain(u64::from(first & 0x3f) << 8 | u64::from(self.u8()?)),
            3 => Len::Encoded(first & 0x3f),
            _ if first == LEN_32BIT => Len::Plain(u64::from(u32::from_be_bytes(self.array()?))),
            _ if first == LEN_64BIT => Len::Plain(u64::from_be_bytes(self.array()?)),
            _ => {
                return self.error_at(
                    self.offset() - 1,
                    format!("unknown length encoding {first:#x}"),
                )
            }
        })
    }

    /// A plain length (not a special string encoding).
    pub fn length(&mut self) -> Decoded<u64> {
        let at = self.offset();
        match self.len_or_encoding()? {
            Len::Plain(n) => Ok(n),
            Len::Encoded(_) => self.error_at(at, "string encoding where a length was expected"),
        }
    }

    /// A count of things that each take at least `bytes_each` bytes: refused when the data
    /// left cannot hold that many, so callers may reserve `count` slots.
    pub fn count(&mut self, bytes_each: usize) -> Decoded<usize> {
        let at = self.offset();
        let n = self.length()?;
        if n > (self.remaining() / bytes_each.max(1)) as u64 {
            return self.error_at(at, format!("count {n} exceeds the data left"));
        }
        Ok(n as usize)
    }

    /// A string in any of its encodings, borrowed when stored raw.
    pub fn string(&mut self) -> Decoded<Cow<'a, [u8]>> {
        let at = self.offset();
        match self.len_or_encoding()? {
            Len::Plain(n) => {
                let n = usize::try_from(n).or_else(|_| self.error_at(at, "string too long"))?;
                self.take(n)
            }
            Len::Encoded(ENC_INT8) => Ok(owned_int(i64::from(self.u8()? as i8))),
            Len::Encoded(ENC_INT16) => Ok(owned_int(i64::from(i16::from_le_bytes(self.array()?)))),
            Len::Encoded(ENC_INT32) => Ok(owned_int(i64::from(i32::from_le_bytes(self.array()?)))),
            Len::Encoded(ENC_LZF) => self.lzf_string(at),
            Len::Encoded(other) => self.error_at(at, format!("unknown string encoding {other}")),
        }
    }

    fn lzf_string(&mut self, at: usize) -> Decoded<Cow<'a, [u8]>> {
        let packed_len = self.length()?;
        let plain_len = self.length()?;
        let packed_len =
            usize::try_from(packed_len).or_else(|_| self.error_at(at, "string too long"))?;
        let packed = self.take(packed_len)?;
        if plain_len > lzf::expansion_max(packed.len()) as u64 {
            return self.error_at(at, "LZF length exceeds what the data can expand to");
        }
        match lzf::decompress(&packed, plain_len as usize) {
            Some(plain) => Ok(Cow::Owned(plain)),
            None => self.error_at(at, "invalid LZF data"),
        }
    }
}

fn owned_int(n: i64) -> Cow<'static, [u8]> {
    Cow::Owned(n.to_string().into_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lengths_round_trip_in_their_shortest_form() {
        for (n, size) in [
            (0u64, 1),
            (63, 1),
            (64, 2),
            (16383, 2),
            (16384, 5),
            (u64::from(u32::MAX), 5),
            (1 << 40, 9),
        ] {
            let mut out = Vec::new();
            put_len(&mut out, n);
            assert_eq!(out.len(), size, "{n}");
            assert_eq!(Reader::new(&out).length().unwrap(), n);
        }
    }

    #[test]
    fn strings_pick_redis_encodings() {
        let enc = |s: &[u8]| {
            let mut out = Vec::new();
            put_string(&mut out, s, true);
            out
        };
        assert_eq!(enc(b"12"), [0xc0, 12]);
        assert_eq!(enc(b"-300"), [0xc1, 0xd4, 0xfe]);
        assert_eq!(enc(b"70000"), [0xc2, 0x70, 0x11, 0x01, 0x00]);
        assert_eq!(enc(b"012"), [3, b'0', b'1', b'2']);
        assert_eq!(enc(b"4294967296"), b"\x0a4294967296");
        let long = [b'a'; 100];
        assert_eq!(enc(&long)[0], 0xc3);
        for s in [&b"12"[..], b"-300", b"012", b"", &long, b"-2147483648"] {
            assert_eq!(&*Reader::new(&enc(s)).string().unwrap(), s);
        }
    }

    #[test]
    fn declared_sizes_beyond_the_data_are_refused() {
        // A 64-bit count of 2^60 with two bytes left.
        let mut data = vec![LEN_64BIT];
        data.extend_from_slice(&(1u64 << 60).to_be_bytes());
        data.extend_from_slice(b"ab");
        assert!(Reader::new(&data).count(1).is_err());
        assert!(Reader::new(&data).string().is_err());
        // An LZF string claiming a gigabyte from three bytes.
        let mut lzf = vec![0xc3, 3];
        put_len(&mut lzf, 1 << 30);
        lzf.extend_from_slice(&[0, b'a', 0]);
        let err = Reader::new(&lzf).string().unwrap_err();
        assert_eq!(err.offset, 0);
    }
}
