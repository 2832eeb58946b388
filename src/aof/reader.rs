//! Reading AOF bodies: RESP arrays of bulk strings, `#TS:` annotation lines between them.
//! Shared by start-up loading and `ferrocache check-aof`; it only frames commands and says where
//! a file stops being valid, it never runs anything.
//!
//! The input is any `BufRead` of known length: a file streamed through a `BufReader` at
//! start-up (memory is the buffer plus one command), or bytes in memory. Lengths are checked
//! against the bytes left before anything is read for them, so a declared length the file
//! cannot hold is a torn tail at once, never an allocation or a read to the end.

use bytes::Bytes;
use std::io::{BufRead, ErrorKind};

/// Largest argument count accepted in a file (a sanity bound; Redis's is INT_MAX).
const ARGS_MAX: u64 = 1 << 30;

/// Longest `*<count>` / `$<len>` line kept to parse: a u64 and CRLF fit well within it.
const NUMBER_LINE_MAX: usize = 32;

/// An argument longer than this is read into memory reserved this much at a time.
const RESERVE_STEP_BYTES: usize = 1 << 20;

/// The buffer start-up reads AOF files through.
pub const WINDOW_BYTES: usize = 256 * 1024;

#[derive(Debug, PartialEq, Eq)]
pub enum Step {
    /// A command and the offset just past it.
    Command(Vec<Bytes>, usize),
    /// An annotation line (`#...\n`) ending at this offset.
    Annotation(usize),
    /// Clean end of file.
    End,
    /// The file ends inside a record that started at this offset.
    Truncated(usize),
    /// Bytes that are not an AOF record at this offset.
    Bad(usize, &'static str),
    /// Reading the file failed at this offset.
    ReadError(usize, String),
}

/// Why a record could not be framed.
enum Stop {
    /// The file ends inside it.
    Torn,
    Bad(&'static str),
    Io(std::io::Error),
}

impl From<std::io::Error> for Stop {
    fn from(e: std::io::Error) -> Stop {
        if e.kind() == ErrorKind::UnexpectedEof {
            Stop::Torn
        } else {
            Stop::Io(e)
        }
    }
}

const BAD_FORMAT: Stop = Stop::Bad("Bad file format");

pub struct Reader<R> {
    src: R,
    pos: usize,
    len: usize,
}

impl<'d> Reader<&'d [u8]> {
    /// A reader over bytes in memory.
    pub fn from_bytes(data: &'d [u8]) -> Reader<&'d [u8]> {
        Reader::new(data, data.len())
    }
}

impl<R: BufRead> Reader<R> {
    /// `len` is the input's length (a file's metadata length).
    pub fn new(src: R, len: usize) -> Reader<R> {
        Reader { src, pos: 0, len }
    }

    pub fn pos(&self) -> usize {
        self.pos
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn next_step(&mut self) -> Step {
        let start = self.pos;
        let first = match self.peek() {
            Ok(Some(b)) => b,
            Ok(None) => return Step::End,
            Err(e) => return Step::ReadError(start, e.to_string()),
        };
        let framed = match first {
            b'#' => self.skip_line().map(|()| Step::Annotation(self.pos)),
            b'*' => self.command().map(|argv| Step::Command(argv, self.pos)),
            _ => Err(BAD_FORMAT),
        };
        match framed {
            Ok(step) => step,
            Err(Stop::Torn) => Step::Truncated(start),
            Err(Stop::Bad(reason)) => Step::Bad(start, reason),
            Err(Stop::Io(e)) => Step::ReadError(self.pos, e.to_string()),
        }
    }

    fn peek(&mut self) -> std::io::Result<Option<u8>> {
        loop {
            match self.src.fill_buf() {
                Ok(buf) => return Ok(buf.first().copied()),
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
        }
    }

    fn consume(&mut self, n: usize) {
        self.src.consume(n);
        self.pos += n;
    }

    /// Consumes through the next `\n`, keeping at most `keep.len()` bytes of the line in
    /// `keep`; returns the line's length. Torn when the file ends first.
    fn line(&mut self, keep: &mut [u8]) -> Result<usize, Stop> {
        let mut line_len = 0;
        loop {
            let buf = match self.src.fill_buf() {
                Ok(buf) => buf,
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(e) => return Err(e.into()),
            };
            if buf.is_empty() {
                return Err(Stop::Torn);
            }
            let (n, done) = match buf.iter().position(|&b| b == b'\n') {
                Some(i) => (i + 1, true),
                None => (buf.len(), false),
            };
            if line_len < keep.len() {
                let kept = n.min(keep.len() - line_len);
                keep[line_len..line_len + kept].copy_from_slice(&buf[..kept]);
            }
            line_len += n;
            self.consume(n);
            if done {
                return Ok(line_len);
            }
        }
    }

    fn skip_line(&mut self) -> Result<(), Stop> {
        self.line(&mut []).map(drop)
    }

    /// A number line `<prefix><digits>\r\n`.
    fn number(&mut self, prefix: u8) -> Result<u64, Stop> {
        let mut keep = [0u8; NUMBER_LINE_MAX];
        let line_len = self.line(&mut keep)?;
        if keep[0] != prefix || line_len > NUMBER_LINE_MAX {
            return Err(BAD_FORMAT);
        }
        let digits = keep[1..line_len].strip_suffix(b"\r\n").ok_or(BAD_FORMAT)?;
        let text = std::str::from_utf8(digits).map_err(|_| BAD_FORMAT)?;
        text.parse::<u64>().map_err(|_| BAD_FORMAT)
    }

    fn command(&mut self) -> Result<Vec<Bytes>, Stop> {
        let count = self.number(b'*')?;
        if count == 0 || count > ARGS_MAX {
            return Err(BAD_FORMAT);
        }
        let mut argv = Vec::with_capacity(count.min(1024) as usize);
        for _ in 0..count {
            let len = self.number(b'$')?;
            let len = usize::try_from(len).map_err(|_| BAD_FORMAT)?;
            let end = self.pos.checked_add(len).ok_or(BAD_FORMAT)?;
            if end.saturating_add(2) > self.len {
                return Err(Stop::Torn);
            }
            argv.push(self.bulk_body(len)?);
            let mut crlf = [0u8; 2];
            self.read_exact(&mut crlf)?;
            if &crlf != b"\r\n" {
                return Err(BAD_FORMAT);
            }
        }
        Ok(argv)
    }

    /// `len` bytes, read into memory reserved in steps.
    fn bulk_body(&mut self, len: usize) -> Result<Bytes, Stop> {
        let mut body = Vec::with_capacity(len.min(RESERVE_STEP_BYTES));
        while body.len() < len {
            let filled = body.len();
            body.resize(filled + (len - filled).min(RESERVE_STEP_BYTES), 0);
            self.read_exact(&mut body[filled..])?;
        }
        Ok(Bytes::from(body))
    }

    fn read_exact(&mut self, out: &mut [u8]) -> Result<(), Stop> {
        self.src.read_exact(out)?;
        self.pos += out.len();
        Ok(())
    }
}

/// Where a whole file stops being valid, as `redis-check-aof` reports it.
#[derive(Debug, PartialEq, Eq)]
pub struct Verdict {
    /// Bytes of complete records (an unfinished MULTI at the end is not complete).
    pub ok_up_to: usize,
    pub commands: usize,
    pub outcome: Outcome,
}

#[derive(Debug, PartialEq, Eq)]
pub enum Outcome {
    Valid,
    /// The file ends inside a record, or inside a MULTI without its EXEC.
    Truncated,
    Bad(usize, &'static str),
}

/// Frames every record of `data` without running anything.
pub fn verify(data: Bytes) -> Verdict {
    verify_stream(Reader::from_bytes(&data))
}

/// Frames every record a reader delivers without running anything.
pub fn verify_stream<R: BufRead>(mut reader: Reader<R>) -> Verdict {
    let mut commands = 0;
    let mut valid_end = 0;
    let mut multi_start: Option<usize> = None;
    loop {
        let before = reader.pos();
        match reader.next_step() {
            Step::Command(argv, end) => {
                commands += 1;
                if argv[0].eq_ignore_ascii_case(b"multi") {
                    multi_start = Some(before);
                } else if argv[0].eq_ignore_ascii_case(b"exec") {
                    multi_start = None;
                }
                if multi_start.is_none() {
                    valid_end = end;
                }
            }
            Step::Annotation(end) => {
                if multi_start.is_none() {
                    valid_end = end;
                }
            }
            Step::End => {
                let outcome = if multi_start.is_some() {
                    Outcome::Truncated
                } else {
                    Outcome::Valid
                };
                return Verdict {
                    ok_up_to: valid_end,
                    commands,
                    outcome,
                };
            }
            Step::Truncated(_) => {
                return Verdict {
                    ok_up_to: valid_end,
                    commands,
                    outcome: Outcome::Truncated,
                }
            }
            Step::Bad(at, reason) => {
                return Verdict {
                    ok_up_to: valid_end,
                    commands,
                    outcome: Outcome::Bad(at, reason),
                }
            }
            Step::ReadError(at, _) => {
                return Verdict {
                    ok_up_to: valid_end,
                    commands,
                    outcome: Outcome::Bad(at, "Read error"),
                }
            }
        }
    }
}

/// Appends one command as a RESP array of bulk strings.
pub fn encode_command<A: AsRef<[u8]>>(out: &mut Vec<u8>, argv: &[A]) {
    out.push(b'*');
    push_decimal(out, argv.len() as u64);
    out.extend_from_slice(b"\r\n");
    for arg in argv {
        let arg = arg.as_ref();
        out.push(b'$');
        push_decimal(out, arg.len() as u64);
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(arg);
        out.extend_from_slice(b"\r\n");
    }
}

fn push_decimal(out: &mut Vec<u8>, mut n: u64) {
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[i..]);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(cmds: &[&[&str]]) -> Vec<u8> {
        let mut out = Vec::new();
        for c in cmds {
            encode_command(&mut out, c);
        }
        out
    }

    #[test]
    fn frames_commands_and_annotations() {
        let mut data = b"#TS:1700000000\r\n".to_vec();
        data.extend(file(&[&["SELECT", "0"], &["SET", "k", "v"]]));
        let v = verify(Bytes::from(data.clone()));
        assert_eq!(v.outcome, Outcome::Valid);
        assert_eq!(v.commands, 2);
        assert_eq!(v.ok_up_to, data.len());
    }

    #[test]
    fn every_cut_of_the_last_record_is_a_truncation_at_its_start() {
        let head = file(&[&["SET", "a", "1"]]);
        let mut data = head.clone();
        data.extend(file(&[&["SET", "b", "22"]]));
        for cut in head.len() + 1..data.len() {
            let v = verify(Bytes::copy_from_slice(&data[..cut]));
            assert_eq!(v.outcome, Outcome::Truncated, "cut at {cut}");
            assert_eq!(v.ok_up_to, head.len());
        }
    }

    #[test]
    fn unfinished_multi_is_truncated_before_multi() {
        let head = file(&[&["SET", "a", "1"]]);
        let mut data = head.clone();
        data.extend(file(&[&["MULTI"], &["SET", "b", "2"]]));
        let v = verify(Bytes::from(data));
        assert_eq!(v.outcome, Outcome::Truncated);
        assert_eq!(v.ok_up_to, head.len());
    }

    #[test]
    fn garbage_is_bad_format_with_offset() {
        let mut data = file(&[&["SET", "a", "1"]]);
        let at = data.len();
        data.extend_from_slice(b"xyz\r\n");
        data.extend(file(&[&["SET", "b", "2"]]));
        assert_eq!(
            verify(Bytes::from(data)).outcome,
            Outcome::Bad(at, "Bad file format")
        );
        let bad_len = b"*1\r\n$3\r\nabcd\r\n".to_vec();
        assert!(matches!(
            verify(Bytes::from(bad_len)).outcome,
            Outcome::Bad(0, _)
        ));
    }

    /// Frames through a buffer of `capacity` bytes, as start-up reads a file.
    fn verify_buffered(data: &[u8], capacity: usize) -> Verdict {
        let buffered = std::io::BufReader::with_capacity(capacity, data);
        verify_stream(Reader::new(buffered, data.len()))
    }

    #[test]
    fn a_small_buffer_frames_every_cut_as_memory_does() {
        let mut data = b"#TS:1700000000\r\n".to_vec();
        data.extend(file(&[
            &["SET", "k", &"v".repeat(100)],
            &["MULTI"],
            &["INCR", "n"],
        ]));
        data.extend(file(&[&["EXEC"], &["DEL", "k"]]));
        data.extend_from_slice(b"*2\r\n$3\r\nGET\r\n$99999999999\r\nx");
        for cut in 0..=data.len() {
            for capacity in [1, 3, 16] {
                assert_eq!(
                    verify_buffered(&data[..cut], capacity),
                    verify(Bytes::copy_from_slice(&data[..cut])),
                    "cut {cut}, buffer {capacity}"
                );
            }
        }
        let v = verify_buffered(&data, 5);
        assert_eq!(v.outcome, Outcome::Truncated);
        assert_eq!(v.commands, 5);
    }

    #[test]
    fn an_overlong_number_line_is_bad_unless_the_file_ends_in_it() {
        let mut data = b"*2".to_vec();
        data.extend(std::iter::repeat_n(b'1', 100));
        assert_eq!(verify_buffered(&data, 8).outcome, Outcome::Truncated);
        data.extend_from_slice(b"\r\n");
        assert_eq!(
            verify_buffered(&data, 8).outcome,
            Outcome::Bad(0, "Bad file format")
        );
    }
}
