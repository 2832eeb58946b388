//! The manifest of Redis 7's multi-part AOF: which base, history and incr files make up the log,
//! in load order. Parsing follows redis-server's accept/reject rules exactly (aof.c
//! `aofLoadManifestFromFile`), so a directory is accepted here iff redis-server accepts it.
//!
//! One line per file: `file <name> seq <n> type <b|h|i>`, tokenised like `sdssplitargs` (a name
//! may be quoted), key/value pairs in any order, keys case-insensitive, unknown pairs ignored.

use crate::protocol::request::split_args;

/// Longest manifest line redis-server reads (MANIFEST_MAX_LINE).
const LINE_BYTES_MAX: usize = 1024;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FileKind {
    Base,
    History,
    Incr,
}

impl FileKind {
    fn letter(self) -> char {
        match self {
            FileKind::Base => 'b',
            FileKind::History => 'h',
            FileKind::Incr => 'i',
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AofFile {
    pub name: String,
    pub seq: u64,
    pub kind: FileKind,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Manifest {
    pub base: Option<AofFile>,
    /// Files left from before a rewrite; never loaded, deleted once the new manifest is durable.
    pub history: Vec<AofFile>,
    /// In load order (strictly increasing seq).
    pub incrs: Vec<AofFile>,
}

impl Manifest {
    /// Parses a manifest with redis-server's rules; the error is redis-server's text.
    pub fn parse(text: &[u8]) -> Result<Manifest, String> {
        if text.is_empty() {
            return Err("Found an empty AOF manifest".into());
        }
        let mut manifest = Manifest::default();
        let mut max_incr_seq = 0u64;
        let mut rest = text;
        while !rest.is_empty() {
            let (line, after, has_newline) = match rest.iter().position(|&b| b == b'\n') {
                Some(i) => (&rest[..i], &rest[i + 1..], true),
                None => (rest, &rest[rest.len()..], false),
            };
            rest = after;
            // Like fgets into a 1024-byte buffer: a longer line is cut, and a cut line (or a last
            // line without its newline) is refused before anything else but comments.
            if line.first() == Some(&b'#') {
                continue;
            }
            if !has_newline || line.len() + 1 > LINE_BYTES_MAX {
                return Err("The AOF manifest file contains too long line".into());
            }
            let trimmed = trim(line);
            if trimmed.is_empty() {
                return Err("Invalid AOF manifest file format".into());
            }
            let file = parse_line(trimmed)?;
            match file.kind {
                FileKind::Base => {
                    if manifest.base.is_some() {
                        return Err("Found duplicate base file information".into());
                    }
                    manifest.base = Some(file);
                }
                FileKind::History => manifest.history.push(file),
                FileKind::Incr => {
                    if file.seq <= max_incr_seq {
                        return Err("Found a non-monotonic sequence number".into());
                    }
                    max_incr_seq = file.seq;
                    manifest.incrs.push(file);
                }
            }
        }
        Ok(manifest)
    }

    /// The manifest text: base, then history, then incr files (redis-server's order).
    pub fn format(&self) -> String {
        let mut out = String::new();
        let files = self
            .base
            .iter()
            .chain(self.history.iter())
            .chain(self.incrs.iter());
        for f in files {
            out.push_str(&format!(
                "file {} seq {} type {}\n",
                quote_if_needed(&f.name),
                f.seq,
                f.kind.letter()
            ));
        }
        out
    }

    /// Files loaded at start-up, in order.
    pub fn load_order(&self) -> impl Iterator<Item = &AofFile> {
        self.base.iter().chain(self.incrs.iter())
    }

    pub fn last_incr_seq(&self) -> u64 {
        self.incrs.last().map_or(0, |f| f.seq)
    }

    pub fn base_seq(&self) -> u64 {
        self.base.as_ref().map_or(0, |f| f.seq)
    }
}

fn trim(line: &[u8]) -> &[u8] {
    let is_space = |b: &u8| matches!(b, b' ' | b'\t' | b'\r' | b'\n');
    let start = line.iter().position(|b| !is_space(b)).unwrap_or(line.len());
    let end = line
        .iter()
        .rposition(|b| !is_space(b))
        .map_or(start, |i| i + 1);
    &line[start..end]
}

fn parse_line(line: &[u8]) -> Result<AofFile, String> {
    let invalid = || "Invalid AOF manifest file format".to_string();
    let tokens = split_args(line).ok_or_else(invalid)?;
    // At least the three pairs; more are allowed for forward compatibility.
    if tokens.len() < 6 || tokens.len() % 2 != 0 {
        return Err(invalid());
    }
    let (mut name, mut seq, mut kind) = (None, 0u64, None);
    for pair in tokens.chunks(2) {
        let key = String::from_utf8_lossy(&pair[0]).to_ascii_lowercase();
        match key.as_str() {
            "file" => {
                let value = String::from_utf8_lossy(&pair[1]).into_owned();
                if value.contains('/') {
                    return Err("File can't be a path, just a filename".into());
                }
                name = Some(value);
            }
            "seq" => seq = atoll(&pair[1]),
            "type" => kind = pair[1].first().copied(),
            _ => {}
        }
    }
    let (Some(name), Some(kind)) = (name, kind) else {
        return Err(invalid());
    };
    if seq == 0 || name.is_empty() {
        return Err(invalid());
    }
    let kind = match kind {
        b'b' => FileKind::Base,
        b'h' => FileKind::History,
        b'i' => FileKind::Incr,
        _ => return Err("Unknown AOF file type".into()),
    };
    Ok(AofFile { name, seq, kind })
}

/// C's `atoll`: optional sign and leading digits, 0 when there are none; negative seqs read as 0
/// (redis-server keeps them in a signed field and rejects them as missing).
fn atoll(bytes: &[u8]) -> u64 {
    let text = String::from_utf8_lossy(bytes);
    let text = text.trim_start();
    let (negative, digits) = match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    let end = digits
        .bytes()
        .position(|b| !b.is_ascii_digit())
        .unwrap_or(digits.len());
    let n = digits[..end].parse::<u64>().unwrap_or(0);
    if negative {
        0
    } else {
        n
    }
}

/// Names that need it are written quoted, as redis-server's `sdscatrepr`.
fn quote_if_needed(name: &str) -> String {
    let plain = name
        .bytes()
        .all(|b| b.is_ascii_graphic() && b != b'"' && b != b'\'' && b != b'\\');
    if plain && !name.is_empty() {
        name.to_string()
    } else {
        crate::config::repr(name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn incr(name: &str, seq: u64) -> AofFile {
        AofFile {
            name: name.into(),
            seq,
            kind: FileKind::Incr,
        }
    }

    /// The cases of redis's tests/integration/aof-multi-part.tcl, with redis-server's verdicts.
    #[test]
    fn accept_and_reject_like_redis() {
        let ok = |text: &str| Manifest::parse(text.as_bytes()).unwrap();
        let err = |text: &str| Manifest::parse(text.as_bytes()).unwrap_err();
        let cases: &[(&str, Result<(), &str>)] = &[
            ("", Err("Found an empty AOF manifest")),
            (
                "file appendonly.aof.1.base.aof seq 1 type b\nfile appendonly.aof.1.incr.aof seq 1 type i\n",
                Ok(()),
            ),
            ("file appendonly.aof.1.incr.aof seq 1 type i\n", Ok(())),
            ("# comment only\n", Ok(())),
            (
                "file a.1.base.aof seq 1 type b\n\nfile a.1.incr.aof seq 1 type i\n",
                Err("Invalid AOF manifest file format"),
            ),
            (
                "file a.1.base.aof seq 1 type b\nfile a.2.base.aof seq 2 type b\n",
                Err("Found duplicate base file information"),
            ),
            (
                "file a.2.incr.aof seq 2 type i\nfile a.1.incr.aof seq 1 type i\n",
                Err("Found a non-monotonic sequence number"),
            ),
            (
                "file a.1.incr.aof seq 1 type i\nfile a.1.incr.aof seq 1 type i\n",
                Err("Found a non-monotonic sequence number"),
            ),
            ("file a.1.incr.aof seq 1 type x\n", Err("Unknown AOF file type")),
            ("file a.1.incr.aof seq 1 typo i\n", Err("Invalid AOF manifest file format")),
            ("file a.1.incr.aof seq 1\n", Err("Invalid AOF manifest file format")),
            ("file a.1.incr.aof seq 1 type i extra\n", Err("Invalid AOF manifest file format")),
            ("file a.1.incr.aof seq 0 type i\n", Err("Invalid AOF manifest file format")),
            ("file a.1.incr.aof seq x type i\n", Err("Invalid AOF manifest file format")),
            ("file dir/a.1.incr.aof seq 1 type i\n", Err("File can't be a path, just a filename")),
            ("file a.1.incr.aof seq 1 type i", Err("The AOF manifest file contains too long line")),
            (
                "file a.1.incr.aof seq 1 type i unknown value\n",
                Ok(()),
            ),
            ("FILE a.1.incr.aof SEQ 1 TYPE i\n", Ok(())),
            ("file \"a b.1.incr.aof\" seq 1 type i\n", Ok(())),
            ("file \"unbalanced seq 1 type i\n", Err("Invalid AOF manifest file format")),
            (
                "file a.1.base.aof seq 1 type b\nfile a.1.incr.aof seq 1 type h\nfile a.2.incr.aof seq 2 type i\n",
                Ok(()),
            ),
            (
                "  file a.1.incr.aof seq 1 type i  \r\n",
                Ok(()),
            ),
        ];
        for (text, want) in cases {
            match want {
                Ok(()) => {
                    ok(text);
                }
                Err(reason) => assert_eq!(err(text), *reason, "manifest {text:?}"),
            }
        }
        let long = format!("file {} seq 1 type i\n", "a".repeat(1100));
        assert_eq!(err(&long), "The AOF manifest file contains too long line");
    }

    #[test]
    fn round_trip_and_order() {
        let m = Manifest {
            base: Some(AofFile {
                name: "appendonly.aof.2.base.aof".into(),
                seq: 2,
                kind: FileKind::Base,
            }),
            history: vec![AofFile {
                name: "appendonly.aof.1.incr.aof".into(),
                seq: 1,
                kind: FileKind::History,
            }],
            incrs: vec![
                incr("appendonly.aof.2.incr.aof", 2),
                incr("with space.3.incr.aof", 3),
            ],
        };
        let text = m.format();
        assert_eq!(
            text,
            "file appendonly.aof.2.base.aof seq 2 type b\nfile appendonly.aof.1.incr.aof seq 1 type h\nfile appendonly.aof.2.incr.aof seq 2 type i\nfile \"with space.3.incr.aof\" seq 3 type i\n"
        );
        assert_eq!(Manifest::parse(text.as_bytes()).unwrap(), m);
        let names: Vec<_> = m.load_order().map(|f| f.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "appendonly.aof.2.base.aof",
                "appendonly.aof.2.incr.aof",
                "with space.3.incr.aof"
            ]
        );
    }
}
