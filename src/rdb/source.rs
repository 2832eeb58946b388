//! Where the RDB decoder gets its bytes: a slice already in memory (DUMP payloads, tests, and
//! `check-rdb` on small inputs) or a file streamed through a fixed window, so a load needs the
//! window, not the file's size, on top of the data it builds.
//!
//! Both know how many bytes are left (a file's length comes from its metadata), which the
//! decoder uses to refuse a declared length or count the data cannot hold before allocating
//! anything for it. Both keep the CRC-64 of the bytes consumed so far, so the file checksum is
//! verified as the bytes pass instead of in a second read.

use super::crc64;
use super::format::{DecodeError, Decoded};
use std::borrow::Cow;
use std::io::Read;

/// The window a file is read through: big enough that reads are few and large, small enough
/// to be noise next to any dataset.
pub const WINDOW_BYTES: usize = 256 * 1024;

/// A value longer than the window is read into memory reserved this much at a time, so a
/// length that the file's size allows but its bytes do not deliver (a file shrinking while it
/// is read) never costs its declared size up front.
const RESERVE_STEP_BYTES: usize = 1 << 20;

/// Sequential bytes for the decoder. `'a` is how long borrowed results live: a slice lends its
/// bytes, a stream hands out owned copies (`'static`).
pub trait ByteSource<'a> {
    /// Bytes consumed so far: the offset of the next byte.
    fn offset(&self) -> usize;
    /// Bytes left before the end of the input.
    fn remaining(&self) -> usize;
    /// The next `n` bytes; the caller has checked `n <= remaining()`.
    fn take(&mut self, n: usize) -> Decoded<Cow<'a, [u8]>>;
    /// Fills `out` with the next bytes; the caller has checked the length.
    fn take_into(&mut self, out: &mut [u8]) -> Decoded<()>;
    /// CRC-64 (Redis's) of every byte consumed so far.
    fn checksum(&mut self) -> u64;
}

/// A source lent to a parse, so its owner can look at it afterwards.
impl<'a, S: ByteSource<'a> + ?Sized> ByteSource<'a> for &mut S {
    fn offset(&self) -> usize {
        (**self).offset()
    }

    fn remaining(&self) -> usize {
        (**self).remaining()
    }

    fn take(&mut self, n: usize) -> Decoded<Cow<'a, [u8]>> {
        (**self).take(n)
    }

    fn take_into(&mut self, out: &mut [u8]) -> Decoded<()> {
        (**self).take_into(out)
    }

    fn checksum(&mut self) -> u64 {
        (**self).checksum()
    }
}

/// A slice in memory.
pub struct SliceSource<'a> {
    buf: &'a [u8],
    pos: usize,
    /// CRC of `buf[..crc_upto]`, brought up to date only when asked.
    crc: u64,
    crc_upto: usize,
}

impl<'a> SliceSource<'a> {
    pub fn new(buf: &'a [u8]) -> SliceSource<'a> {
        SliceSource {
            buf,
            pos: 0,
            crc: 0,
            crc_upto: 0,
        }
    }
}

impl<'a> ByteSource<'a> for SliceSource<'a> {
    fn offset(&self) -> usize {
        self.pos
    }

    fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    fn take(&mut self, n: usize) -> Decoded<Cow<'a, [u8]>> {
        let out = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(Cow::Borrowed(out))
    }

    fn take_into(&mut self, out: &mut [u8]) -> Decoded<()> {
        out.copy_from_slice(&self.buf[self.pos..self.pos + out.len()]);
        self.pos += out.len();
        Ok(())
    }

    fn checksum(&mut self) -> u64 {
        self.crc = crc64::update(self.crc, &self.buf[self.crc_upto..self.pos]);
        self.crc_upto = self.pos;
        self.crc
    }
}

/// A reader (a file) of known length, read through a window of fixed size that never grows.
pub struct StreamSource<R> {
    inner: R,
    window: Box<[u8]>,
    /// Unconsumed bytes are `window[start..end]`.
    start: usize,
    end: usize,
    /// Offset of the next byte to consume, and the input's total length.
    pos: usize,
    len: usize,
    /// CRC of the bytes consumed before `window[crc_from..]`: the window is hashed in bulk
    /// (at a refill, or when asked), not per read, which would cost a call per field.
    crc: u64,
    crc_from: usize,
}

impl<R: Read> StreamSource<R> {
    /// `len` is the input's length in bytes (a file's metadata length).
    pub fn new(inner: R, len: usize, window_bytes: usize) -> StreamSource<R> {
        StreamSource {
            inner,
            window: vec![0; window_bytes.max(16)].into_boxed_slice(),
            start: 0,
            end: 0,
            pos: 0,
            len,
            crc: 0,
            crc_from: 0,
        }
    }

    /// The window's size: what the source holds besides the values it hands out.
    pub fn window_capacity(&self) -> usize {
        self.window.len()
    }

    /// Reads more of the input into an empty window; an error when the input ends before the
    /// length it was opened with.
    fn refill(&mut self) -> Decoded<()> {
        debug_assert_eq!(self.start, self.end);
        self.hash_consumed();
        let read = loop {
            match self.inner.read(&mut self.window) {
                Ok(n) => break n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(self.io_error(e.to_string())),
            }
        };
        if read == 0 {
            return Err(self.io_error("the file ended before its length (was it truncated?)"));
        }
        self.start = 0;
        self.end = read;
        self.crc_from = 0;
        Ok(())
    }

    /// Brings the CRC up to the consumed bytes of the window.
    fn hash_consumed(&mut self) {
        self.crc = crc64::update(self.crc, &self.window[self.crc_from..self.start]);
        self.crc_from = self.start;
    }

    fn io_error(&self, message: impl std::fmt::Display) -> DecodeError {
        DecodeError {
            offset: self.pos,
            message: format!("read error: {message}"),
        }
    }

    /// Moves up to `out.len()` buffered bytes into `out`, refilling when the window is empty.
    fn copy_some(&mut self, out: &mut [u8]) -> Decoded<usize> {
        if self.start == self.end {
            self.refill()?;
        }
        let n = out.len().min(self.end - self.start);
        out[..n].copy_from_slice(&self.window[self.start..self.start + n]);
        self.start += n;
        self.pos += n;
        Ok(n)
    }
}

impl<R: Read> ByteSource<'static> for StreamSource<R> {
    fn offset(&self) -> usize {
        self.pos
    }

    fn remaining(&self) -> usize {
        self.len.saturating_sub(self.pos)
    }

    fn take(&mut self, n: usize) -> Decoded<Cow<'static, [u8]>> {
        if n <= self.end - self.start {
            // Most fields: already in the window.
            let out = self.window[self.start..self.start + n].to_vec();
            self.start += n;
            self.pos += n;
            return Ok(Cow::Owned(out));
        }
        let mut out = Vec::with_capacity(n.min(RESERVE_STEP_BYTES));
        while out.len() < n {
            let filled = out.len();
            let step = (n - filled).min(RESERVE_STEP_BYTES);
            out.resize(filled + step, 0);
            let mut at = filled;
            while at < out.len() {
                at += self.copy_some(&mut out[at..])?;
            }
        }
        Ok(Cow::Owned(out))
    }

    fn take_into(&mut self, out: &mut [u8]) -> Decoded<()> {
        let mut at = 0;
        while at < out.len() {
            at += self.copy_some(&mut out[at..])?;
        }
        Ok(())
    }

    fn checksum(&mut self) -> u64 {
        self.hash_consumed();
        self.crc
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stream_hands_out_the_same_bytes_and_checksum_as_a_slice() {
        let data: Vec<u8> = (0..10_000u32).map(|i| (i * 7 + i / 13) as u8).collect();
        let mut slice = SliceSource::new(&data);
        let mut stream = StreamSource::new(&data[..], data.len(), 64);
        for n in [0usize, 1, 63, 64, 65, 1000, 3, 8000, 804] {
            assert_eq!(slice.take(n).unwrap(), stream.take(n).unwrap(), "take {n}");
            assert_eq!(slice.offset(), stream.offset());
            assert_eq!(slice.remaining(), stream.remaining());
            assert_eq!(slice.checksum(), stream.checksum());
        }
        assert_eq!(stream.remaining(), 0);
        assert_eq!(stream.checksum(), crc64::update(0, &data));
        assert_eq!(stream.window_capacity(), 64);
    }

    #[test]
    fn a_stream_shorter_than_its_declared_length_is_an_error_at_its_end() {
        let data = [1u8; 100];
        let mut stream = StreamSource::new(&data[..], 1000, 32);
        let err = stream.take(500).unwrap_err();
        assert_eq!(err.offset, 100);
        assert!(err.message.contains("ended before"));
    }
}
