//! `ferrocache check-rdb <file>`: what an RDB file holds, or where it is broken (in the
//! manner of redis-check-rdb).

use super::format::Decoded;
use super::read::{self, Event, FileSummary};
use std::collections::BTreeMap;
use std::fmt::Write;
use std::io::{Read, Seek};

/// Per-database counts found in a file.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct DbCounts {
    pub keys: u64,
    pub expires: u64,
    /// Keys by type name.
    pub types: BTreeMap<&'static str, u64>,
}

/// The report of a check: the text to print and whether the file is sound.
pub struct Report {
    pub text: String,
    pub ok: bool,
}

/// Checks a file's bytes in memory; `name` is only used in the text.
pub fn check(name: &str, data: &[u8], now_ms: u64) -> Report {
    check_with(name, now_ms, |visit| read::parse_file(data, visit))
}

/// Checks a file streamed from disk (`len` bytes), as a load reads it.
pub fn check_stream<R: Read + Seek>(name: &str, file: R, len: usize, now_ms: u64) -> Report {
    check_with(name, now_ms, |visit| {
        read::parse_stream(file, len, super::source::WINDOW_BYTES, visit)
    })
}

/// The report of a parse: `parse` runs the parser with the visitor it is given.
fn check_with<'a>(
    name: &str,
    now_ms: u64,
    parse: impl FnOnce(&mut dyn FnMut(Event<'a>) -> Result<(), String>) -> Decoded<FileSummary>,
) -> Report {
    let mut text = String::new();
    let _ = writeln!(text, "[offset 0] Checking RDB file {name}");
    let mut dbs: BTreeMap<usize, DbCounts> = BTreeMap::new();
    let mut already_expired = 0u64;
    let limits = super::values::Limits::from_config(&crate::config::Config::default());
    let result = parse(&mut |event| {
        match event {
            Event::Aux(key, value) => {
                let _ = writeln!(
                    text,
                    "[aux] {} = '{}'",
                    String::from_utf8_lossy(&key),
                    String::from_utf8_lossy(&value)
                );
            }
            Event::Function(code) => {
                let first_line = code.split(|&b| b == b'\n').next().unwrap_or_default();
                let _ = writeln!(text, "[function] {}", String::from_utf8_lossy(first_line));
            }
            Event::SelectDb(db) => {
                let _ = writeln!(text, "[db] Selecting DB ID {db}");
            }
            Event::ResizeDb { .. } => {}
            Event::Key(record) => {
                let counts = dbs.entry(record.db).or_default();
                counts.keys += 1;
                if let Some(at) = record.expire_at_ms {
                    counts.expires += 1;
                    if at < now_ms {
                        already_expired += 1;
                    }
                }
                *counts.types.entry(record.value.type_name()).or_default() += 1;
                // Build the value as a load would, so a value a load refuses (a duplicate
                // member or field) fails the check too, as redis-check-rdb's deep check does.
                if !record.value.is_empty_aggregate() {
                    super::values::to_value(record.value, &limits).map_err(|e| {
                        format!("key '{}': {e}", String::from_utf8_lossy(&record.key))
                    })?;
                }
            }
        }
        Ok(())
    });
    match result {
        Ok(summary) => {
            let _ = writeln!(text, "[info] RDB version {}", summary.version);
            for (db, counts) in &dbs {
                let types: Vec<String> = counts
                    .types
                    .iter()
                    .map(|(t, n)| format!("{t}={n}"))
                    .collect();
                let _ = writeln!(
                    text,
                    "[info] db{db}: {} keys, {} with an expiry ({})",
                    counts.keys,
                    counts.expires,
                    types.join(", ")
                );
            }
            let total: u64 = dbs.values().map(|c| c.keys).sum();
            let _ = writeln!(text, "[info] {total} keys read");
            let _ = writeln!(text, "[info] {already_expired} already expired");
            let checksum = match summary.checksum_ok {
                Some(_) => "checksum OK",
                None => "no checksum (written with rdbchecksum no)",
            };
            let _ = writeln!(text, "[info] {} bytes, {checksum}", summary.bytes);
            let _ = writeln!(text, "\\o/ RDB looks OK! \\o/");
            Report { text, ok: true }
        }
        Err(e) => {
            let _ = writeln!(text, "--- RDB ERROR DETECTED ---");
            let _ = writeln!(text, "[offset {}] {}", e.offset, e.message);
            let _ = writeln!(
                text,
                "[info] {} keys read before the error",
                dbs.values().map(|c| c.keys).sum::<u64>()
            );
            Report { text, ok: false }
        }
    }
}

/// Runs the subcommand: prints the report, returns the process exit code.
pub fn run(path: &str) -> i32 {
    let (file, len) = match super::open_for_load(std::path::Path::new(path)) {
        Ok(opened) => opened,
        Err(e) => {
            eprintln!("Cannot read {path}: {e}");
            return 1;
        }
    };
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0);
    let report = check_stream(path, file, len, now_ms);
    print!("{}", report.text);
    i32::from(!report.ok)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rdb::format::{self, kind, opcode};

    /// A file holding one hash whose pairs are given; checksum 0 (written without one).
    fn file_with_hash(pairs: &[(&[u8], &[u8])]) -> Vec<u8> {
        let mut out = b"REDIS0010".to_vec();
        out.extend_from_slice(&[opcode::SELECTDB, 0, kind::HASH]);
        format::put_string(&mut out, b"h", false);
        format::put_len(&mut out, pairs.len() as u64);
        for (f, v) in pairs {
            format::put_string(&mut out, f, false);
            format::put_string(&mut out, v, false);
        }
        out.push(opcode::EOF);
        out.extend_from_slice(&0u64.to_le_bytes());
        out
    }

    // Found by the rdb fuzz target: the check passed a file the loader refuses.
    #[test]
    fn a_value_a_load_refuses_fails_the_check() {
        let sound = check("t.rdb", &file_with_hash(&[(b"f", b"1"), (b"g", b"2")]), 0);
        assert!(sound.ok, "{}", sound.text);
        let dup = check("t.rdb", &file_with_hash(&[(b"f", b"1"), (b"f", b"2")]), 0);
        assert!(!dup.ok, "{}", dup.text);
        assert!(
            dup.text.contains("key 'h': duplicate hash field"),
            "{}",
            dup.text
        );
    }
}
