//! LCS: the longest common subsequence of two strings, by Redis's dynamic-programming table and
//! the same backtracking walk, so IDX ranges come out in Redis's order (from the ends backwards).

use crate::commands::string::as_str;
use crate::engine::args::{is, parse_i64};
use crate::error::CommandError;
use crate::protocol::Reply;
use crate::{engine::CommandResult, engine::Ctx};
use bytes::Bytes;
use std::sync::atomic::Ordering;

/// What LCS replies with.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Output {
    Subsequence,
    Length,
    Ranges,
}

/// Whether IDX ranges carry their length.
#[derive(Clone, Copy, PartialEq, Eq)]
enum MatchLen {
    Omit,
    Include,
}

pub fn lcs(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CommandResult {
    let a = read_string(ctx, &argv[1]);
    let b = read_string(ctx, &argv[2]);
    let (Ok(a), Ok(b)) = (a, b) else {
        return Err(CommandError::err(
            "The specified keys must contain string values",
        ));
    };
    let mut want_len = false;
    let mut want_idx = false;
    let mut match_len = MatchLen::Omit;
    let mut min_len = 0u64;
    let mut i = 3;
    while i < argv.len() {
        let opt = &argv[i];
        if is(opt, "idx") {
            want_idx = true;
        } else if is(opt, "len") {
            want_len = true;
        } else if is(opt, "withmatchlen") {
            match_len = MatchLen::Include;
        } else if is(opt, "minmatchlen") && i + 1 < argv.len() {
            min_len = parse_i64(&argv[i + 1])?.max(0) as u64;
            i += 1;
        } else {
            return Err(CommandError::Syntax);
        }
        i += 1;
    }
    if want_len && want_idx {
        return Err(CommandError::err(
            "If you want both the length and indexes, please just use IDX.",
        ));
    }
    if a.len() >= u32::MAX as usize - 1 || b.len() >= u32::MAX as usize - 1 {
        return Err(CommandError::err("String too long for LCS"));
    }
    // The table is transient memory Redis bounds by proto-max-bulk-len.
    let cells = (a.len() as u64 + 1).checked_mul(b.len() as u64 + 1);
    let limit = ctx
        .state
        .config
        .hot
        .proto_max_bulk_len
        .load(Ordering::Relaxed)
        .max(0) as u64;
    match cells.and_then(|c| c.checked_mul(4)) {
        Some(bytes) if bytes <= limit => {}
        Some(_) => {
            return Err(CommandError::err(
                "Insufficient memory, transient memory for LCS exceeds proto-max-bulk-len",
            ))
        }
        None => {
            return Err(CommandError::err(
                "Insufficient memory, failed allocating transient memory for LCS",
            ))
        }
    }
    let output = match (want_idx, want_len) {
        (true, _) => Output::Ranges,
        (false, true) => Output::Length,
        (false, false) => Output::Subsequence,
    };
    compute(&a, &b, output, min_len, match_len).ok_or_else(|| {
        CommandError::err("Insufficient memory, failed allocating transient memory for LCS")
    })
}

/// The key's string, empty when missing; `Err` for another type.
fn read_string(ctx: &mut Ctx<'_>, key: &[u8]) -> Result<Vec<u8>, CommandError> {
    let now = ctx.now_ms;
    let (shard, hash) = ctx.shard(key);
    match shard.get_read(hash, key, now) {
        None => Ok(Vec::new()),
        Some(entry) => Ok(as_str(entry.value())?.to_vec()),
    }
}

/// The reply, or `None` when the table cannot be allocated.
fn compute(a: &[u8], b: &[u8], output: Output, min_len: u64, match_len: MatchLen) -> Option<Reply> {
    let (alen, blen) = (a.len(), b.len());
    let width = blen + 1;
    let cells = (alen + 1).checked_mul(width)?;
    let mut table: Vec<u32> = Vec::new();
    table.try_reserve_exact(cells).ok()?;
    table.resize(cells, 0);
    for i in 1..=alen {
        for j in 1..=blen {
            table[i * width + j] = if a[i - 1] == b[j - 1] {
                table[(i - 1) * width + j - 1] + 1
            } else {
                table[(i - 1) * width + j].max(table[i * width + j - 1])
            };
        }
    }
    let total = table[alen * width + blen];
    if output == Output::Length {
        return Some(Reply::Int(i64::from(total)));
    }
    let mut result = vec![0u8; total as usize];
    let mut ranges = Vec::new();
    // `a_start == alen` means no range is open.
    let (mut a_start, mut a_end, mut b_start, mut b_end) = (alen, 0usize, 0usize, 0usize);
    let (mut i, mut j, mut idx) = (alen, blen, total as usize);
    while i > 0 && j > 0 {
        let mut emit = false;
        if a[i - 1] == b[j - 1] {
            result[idx - 1] = a[i - 1];
            if a_start == alen {
                (a_start, a_end, b_start, b_end) = (i - 1, i - 1, j - 1, j - 1);
            } else if a_start == i && b_start == j {
                a_start -= 1;
                b_start -= 1;
            } else {
                emit = true;
            }
            if a_start == 0 || b_start == 0 {
                emit = true;
            }
            idx -= 1;
            i -= 1;
            j -= 1;
        } else {
            if table[(i - 1) * width + j] > table[i * width + j - 1] {
                i -= 1;
            } else {
                j -= 1;
            }
            if a_start != alen {
                emit = true;
            }
        }
        if emit {
            let len = (a_end - a_start + 1) as u64;
            if min_len == 0 || len >= min_len {
                let pair = |s: usize, e: usize| {
                    Reply::Array(vec![Reply::Int(s as i64), Reply::Int(e as i64)])
                };
                let mut range = vec![pair(a_start, a_end), pair(b_start, b_end)];
                if match_len == MatchLen::Include {
                    range.push(Reply::Int(len as i64));
                }
                ranges.push(Reply::Array(range));
            }
            a_start = alen;
        }
    }
    Some(match output {
        Output::Ranges => Reply::Map(vec![
            (Reply::bulk_static("matches"), Reply::Array(ranges)),
            (Reply::bulk_static("len"), Reply::Int(i64::from(total))),
        ]),
        _ => Reply::Bulk(Bytes::from(result)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redis_io_example() {
        let a = b"ohmytext";
        let b = b"mynewtext";
        assert_eq!(
            compute(a, b, Output::Subsequence, 0, MatchLen::Omit).unwrap(),
            Reply::Bulk(Bytes::from_static(b"mytext"))
        );
        assert_eq!(
            compute(a, b, Output::Length, 0, MatchLen::Omit).unwrap(),
            Reply::Int(6)
        );
        let Some(Reply::Map(pairs)) = compute(a, b, Output::Ranges, 4, MatchLen::Include) else {
            panic!()
        };
        let pair = |s, e| Reply::Array(vec![Reply::Int(s), Reply::Int(e)]);
        assert_eq!(
            pairs[0].1,
            Reply::Array(vec![Reply::Array(vec![
                pair(4, 7),
                pair(5, 8),
                Reply::Int(4)
            ])])
        );
        assert_eq!(pairs[1].1, Reply::Int(6));
    }
}
