//! Reading AOF bodies: RESP arrays of bulk strings, `#TS:` annotation lines between them.
//! Shared by start-up loading and `ferrocache check-aof`; it only frames commands and says where
//! a file stops being valid, it never runs anything.

use bytes::Bytes;

/// Largest argument count accepted in a file (a sanity bound; Redis's is INT_MAX).
const ARGS_MAX: u64 = 1 << 30;

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
}

pub struct Reader {
    data: Bytes,
    pos: usize,
}

impl Reader {
    pub fn new(data: Bytes) -> Reader {
        Reader { data, pos: 0 }
    }

    pub fn pos(&self) -> usize {
        self.pos
    }

    pub fn next_step(&mut self) -> Step {
        let start = self.pos;
        if start >= self.data.len() {
            return Step::End;
        }
        match self.data[start] {
            b'#' => match self.line_end(start) {
                Some(end) => {
                    self.pos = end;
                    Step::Annotation(end)
                }
                None => Step::Truncated(start),
            },
            b'*' => match self.command(start) {
                Ok((argv, end)) => {
                    self.pos = end;
                    Step::Command(argv, end)
                }
                Err(None) => Step::Truncated(start),
                Err(Some(reason)) => Step::Bad(start, reason),
            },
            _ => Step::Bad(start, "Bad file format"),
        }
    }

    /// Offset just past the `\n` ending the line that starts at `from`.
    fn line_end(&self, from: usize) -> Option<usize> {
        self.data[from..]
            .iter()
            .position(|&b| b == b'\n')
            .map(|i| from + i + 1)
    }

    /// A number line `<prefix><digits>\r\n` at `at`: (value, offset after). `Err(None)` when the
    /// file ends first.
    fn number(&self, at: usize, prefix: u8) -> Result<(u64, usize), Option<&'static str>> {
        let end = self.line_end(at).ok_or(None)?;
        let line = &self.data[at..end];
        if line[0] != prefix {
            return Err(Some("Bad file format"));
        }
        let digits = line[1..]
            .strip_suffix(b"\r\n")
            .ok_or(Some("Bad file format"))?;
        let text = std::str::from_utf8(digits).map_err(|_| Some("Bad file format"))?;
        let n = text.parse::<u64>().map_err(|_| Some("Bad file format"))?;
        Ok((n, end))
    }

    fn command(&self, start: usize) -> Result<(Vec<Bytes>, usize), Option<&'static str>> {
        let (count, mut at) = self.number(start, b'*')?;
        if count == 0 || count > ARGS_MAX {
            return Err(Some("Bad file format"));
        }
        let mut argv = Vec::with_capacity(count.min(1024) as usize);
        for _ in 0..count {
            if at >= self.data.len() {
                return Err(None);
            }
            let (len, body) = self.number(at, b'$')?;
            let len = usize::try_from(len).map_err(|_| Some("Bad file format"))?;
            let end = body.checked_add(len).ok_or(Some("Bad file format"))?;
            if end + 2 > self.data.len() {
                return Err(None);
            }
            if &self.data[end..end + 2] != b"\r\n" {
                return Err(Some("Bad file format"));
            }
            argv.push(self.data.slice(body..end));
            at = end + 2;
        }
        Ok((argv, at))
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
    let mut reader = Reader::new(data);
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
}
