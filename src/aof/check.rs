//! `ferrocache check-aof [--fix] <dir>/<appendfilename>.manifest`: redis-check-aof for the
//! multi-part layout. Reports `ok_up_to` for each file; `--fix` cuts a torn tail of the last
//! file (corruption elsewhere is reported, never "fixed" by dropping data).

use super::layout::Layout;
use super::reader::{verify_stream, Outcome, Reader, WINDOW_BYTES};
use crate::rdb::source::{self as rdb_source, StreamSource};
use std::io::{BufReader, Read, Write};
use std::path::Path;

/// The line number (1-based) of byte `offset`: newlines before it, counted in pieces.
fn lines_before(file: std::fs::File, offset: usize) -> std::io::Result<usize> {
    let mut newlines = 0;
    let mut left = offset;
    let mut reader = BufReader::with_capacity(WINDOW_BYTES, file);
    let mut piece = vec![0u8; 64 * 1024];
    while left > 0 {
        let want = left.min(piece.len());
        let n = reader.read(&mut piece[..want])?;
        if n == 0 {
            break;
        }
        newlines += piece[..n].iter().filter(|&&b| b == b'\n').count();
        left -= n;
    }
    Ok(newlines + 1)
}

/// Runs the check; returns the process exit code.
pub fn run(args: &[String], out: &mut dyn Write) -> i32 {
    let (fix, path) = match args {
        [flag, path] if flag == "--fix" => (true, path),
        [path] => (false, path),
        _ => {
            let _ = writeln!(
                out,
                "Usage: ferrocache check-aof [--fix] <file.manifest|file.aof>"
            );
            return 1;
        }
    };
    match check(Path::new(path), fix, out) {
        Ok(true) => 0,
        Ok(false) => 1,
        Err(e) => {
            let _ = writeln!(out, "{e}");
            1
        }
    }
}

fn check(path: &Path, fix: bool, out: &mut dyn Write) -> Result<bool, String> {
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .ok_or("Invalid file name")?;
    let Some(prefix) = name.strip_suffix(".manifest") else {
        // A single AOF file.
        return check_file(path, name, true, fix, out);
    };
    let dir = path.parent().unwrap_or(Path::new("."));
    let _ = writeln!(out, "Start checking Multi Part AOF");
    let manifest = Layout::read_manifest(dir, prefix)?
        .ok_or_else(|| format!("Cannot open file: {}", path.display()))?;
    let files: Vec<_> = manifest.load_order().collect();
    for (i, f) in files.iter().enumerate() {
        let last = i + 1 == files.len();
        if !check_file(&dir.join(&f.name), &f.name, last, fix, out)? {
            return Ok(false);
        }
    }
    let _ = writeln!(out, "All AOF files and manifest are valid");
    Ok(true)
}

/// Checks one file; true when valid (or fixed).
fn check_file(
    path: &Path,
    name: &str,
    last: bool,
    fix: bool,
    out: &mut dyn Write,
) -> Result<bool, String> {
    // Streamed through bounded buffers, like the start-up load: a large file is not read whole.
    let open = || std::fs::File::open(path).map_err(|e| format!("Cannot open file {name}: {e}"));
    let file = open()?;
    let size = file
        .metadata()
        .map_err(|e| format!("Cannot stat file {name}: {e}"))?
        .len() as usize;
    let mut head = [0u8; 5];
    let is_rdb = (&file).read_exact(&mut head).is_ok() && &head == b"REDIS";
    if is_rdb {
        // An RDB-format base (aof-use-rdb-preamble yes): checked by the RDB reader.
        let source = StreamSource::new(open()?, size, rdb_source::WINDOW_BYTES);
        return Ok(match crate::rdb::read::verify_source(source) {
            Ok(_) => {
                let _ = writeln!(out, "RDB preamble of {name} is OK");
                true
            }
            Err(e) => {
                let _ = writeln!(
                    out,
                    "RDB preamble of {name} is corrupt at offset {}: {}",
                    e.offset, e.message
                );
                false
            }
        });
    }
    let reader = Reader::new(BufReader::with_capacity(WINDOW_BYTES, open()?), size);
    let verdict = verify_stream(reader);
    let line_of = |offset: usize| -> usize {
        open()
            .and_then(|f| lines_before(f, offset).map_err(|e| e.to_string()))
            .unwrap_or(0)
    };
    let _ = writeln!(
        out,
        "AOF analyzed: filename={name}, size={size}, ok_up_to={}, ok_up_to_line={}, diff={}",
        verdict.ok_up_to,
        line_of(verdict.ok_up_to),
        size - verdict.ok_up_to
    );
    match verdict.outcome {
        Outcome::Valid => {
            let _ = writeln!(out, "AOF {name} is valid");
            Ok(true)
        }
        Outcome::Bad(at, reason) => {
            let _ = writeln!(
                out,
                "AOF {name} format error at offset {at} (line {}): {reason}. Not fixable by truncation.",
                line_of(at)
            );
            Ok(false)
        }
        Outcome::Truncated if !last => {
            let _ = writeln!(
                out,
                "AOF {name} is truncated but is not the last file: not fixable by truncation."
            );
            Ok(false)
        }
        Outcome::Truncated if !fix => {
            let _ = writeln!(
                out,
                "AOF {name} is not valid. Use the --fix option to try fixing it."
            );
            Ok(false)
        }
        Outcome::Truncated => {
            let file = std::fs::OpenOptions::new()
                .write(true)
                .open(path)
                .map_err(|e| format!("Cannot open file {name}: {e}"))?;
            file.set_len(verdict.ok_up_to as u64)
                .and_then(|_| file.sync_all())
                .map_err(|e| format!("Failed to truncate AOF {name}: {e}"))?;
            let _ = writeln!(out, "Successfully truncated AOF {name}");
            Ok(true)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_file(tag: &str, data: &[u8]) -> std::path::PathBuf {
        let path =
            std::env::temp_dir().join(format!("ferrocache-check-{}-{tag}", std::process::id()));
        std::fs::write(&path, data).unwrap();
        path
    }

    #[test]
    fn line_numbers_are_counted_across_pieces() {
        // 300k lines: more than one 64 KiB piece and one buffer window.
        let data = b"x\n".repeat(300_000);
        let path = temp_file("lines", &data);
        let line = |offset| lines_before(std::fs::File::open(&path).unwrap(), offset).unwrap();
        assert_eq!(line(0), 1);
        assert_eq!(line(1), 1);
        assert_eq!(line(2), 2);
        assert_eq!(line(200_001), 100_001);
        assert_eq!(line(data.len() + 10), 300_001);
        std::fs::remove_file(&path).unwrap();
    }

    #[test]
    fn a_format_error_names_offset_and_line() {
        let path = temp_file("bad", b"*1\r\n$4\r\nPING\r\nxyz\r\n");
        let mut out = Vec::new();
        let ok = check_file(&path, "bad.aof", true, false, &mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(!ok, "{text}");
        assert!(
            text.contains("ok_up_to=14, ok_up_to_line=4, diff=5"),
            "{text}"
        );
        assert!(
            text.contains("format error at offset 14 (line 4)"),
            "{text}"
        );
        std::fs::remove_file(&path).unwrap();
    }
}
