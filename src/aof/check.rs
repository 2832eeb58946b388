//! `ferrocache check-aof [--fix] <dir>/<appendfilename>.manifest`: redis-check-aof for the
//! multi-part layout. Reports `ok_up_to` for each file; `--fix` cuts a torn tail of the last
//! file (corruption elsewhere is reported, never "fixed" by dropping data).

use super::layout::Layout;
use super::reader::{verify, Outcome};
use bytes::Bytes;
use std::io::Write;
use std::path::Path;

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
    let data = std::fs::read(path).map_err(|e| format!("Cannot open file {name}: {e}"))?;
    if data.starts_with(b"REDIS") {
        // An RDB-format base (aof-use-rdb-preamble yes): checked by the RDB reader.
        return Ok(match crate::rdb::read::verify_file(&data) {
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
    let size = data.len();
    let verdict = verify(Bytes::from(data));
    let line_of = |offset: usize| -> usize {
        std::fs::read(path)
            .map(|d| {
                d[..offset.min(d.len())]
                    .iter()
                    .filter(|&&b| b == b'\n')
                    .count()
                    + 1
            })
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
