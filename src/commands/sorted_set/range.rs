//! Range commands: ZRANGE (by rank, BYSCORE, BYLEX, REV, LIMIT, WITHSCORES) and its legacy
//! forms, ZRANGESTORE, ZCOUNT, ZLEXCOUNT and ZREMRANGEBY*. Range arguments are parsed with
//! Redis's rules (`zslParseRange`: C's strtod; `zslParseLexRange`: `-`, `+`, `[x`, `(x`)
//! before the key is looked up, so a bad range is an error even on a missing key.

use crate::commands::collection::{self, read_in};
use crate::commands::sorted_set::{members_reply, owned, removed_events, scored_reply, store};
use crate::engine::args::{is, parse_i64};
use crate::error::CommandError;
use crate::keyspace::types::zset::{LexBound, ScoreBound};
use crate::keyspace::types::ZSetValue;
use crate::protocol::Reply;
use crate::{engine::CommandResult, engine::Ctx};
use bytes::Bytes;

const SCORE_RANGE_ERROR: &str = "ERR min or max is not a float";
const LEX_RANGE_ERROR: &str = "ERR min or max not valid string range item";

/// A number as C's `strtod` reads it when only the end pointer is checked (Redis's
/// `zslParseRange`): the text ends at a NUL byte, leading whitespace is skipped, the empty
/// string is 0, `inf`/`infinity` in any case with a sign; NaN is refused.
fn strtod_whole(arg: &[u8]) -> Option<f64> {
    let arg = &arg[..arg.iter().position(|&b| b == 0).unwrap_or(arg.len())];
    if arg.is_empty() {
        return Some(0.0);
    }
    let start = arg.iter().position(|b| !b.is_ascii_whitespace())?;
    if let Some(value) = crate::engine::args::parse_hex_float(&arg[start..]) {
        return Some(value);
    }
    let text = std::str::from_utf8(&arg[start..])
        .ok()?
        .to_ascii_lowercase();
    let (negative, body) = match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, &text[..]),
    };
    let magnitude = match body {
        "inf" | "infinity" => f64::INFINITY,
        _ if body.starts_with(|c: char| c.is_ascii_digit() || c == '.')
            && body
                .bytes()
                .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'-' | b'+')) =>
        {
            body.parse::<f64>().ok()?
        }
        _ => return None,
    };
    Some(if negative { -magnitude } else { magnitude })
}

fn parse_score_bound(arg: &[u8]) -> Option<ScoreBound> {
    let (exclusive, text) = match arg.first() {
        Some(b'(') => (true, &arg[1..]),
        _ => (false, arg),
    };
    strtod_whole(text).map(|value| ScoreBound { value, exclusive })
}

/// A score range `min max`, or `ERR min or max is not a float`.
pub fn parse_score_range(min: &[u8], max: &[u8]) -> Result<(ScoreBound, ScoreBound), CommandError> {
    match (parse_score_bound(min), parse_score_bound(max)) {
        (Some(min), Some(max)) => Ok((min, max)),
        _ => Err(CommandError::other(SCORE_RANGE_ERROR)),
    }
}

fn parse_lex_bound(arg: &[u8]) -> Option<LexBound<'_>> {
    // `+` and `-` are compared as C strings: a NUL right after them ends the word.
    let alone = arg.len() == 1 || arg.get(1) == Some(&0);
    match arg.first()? {
        b'+' if alone => Some(LexBound::Max),
        b'-' if alone => Some(LexBound::Min),
        b'(' => Some(LexBound::Exclusive(&arg[1..])),
        b'[' => Some(LexBound::Inclusive(&arg[1..])),
        _ => None,
    }
}

/// A lexicographic range `min max`, or `ERR min or max not valid string range item`.
pub fn parse_lex_range<'a>(
    min: &'a [u8],
    max: &'a [u8],
) -> Result<(LexBound<'a>, LexBound<'a>), CommandError> {
    match (parse_lex_bound(min), parse_lex_bound(max)) {
        (Some(min), Some(max)) => Ok((min, max)),
        _ => Err(CommandError::other(LEX_RANGE_ERROR)),
    }
}

/// Ascending ranks `lo..hi` of the members inside a score range (empty when lo >= hi).
fn score_ranks(z: &ZSetValue, min: ScoreBound, max: ScoreBound) -> (usize, usize) {
    let lo = z.rank_from_score(min);
    let hi = z.rank_past_score(max);
    (lo, hi.max(lo))
}

fn lex_ranks(z: &ZSetValue, min: LexBound<'_>, max: LexBound<'_>) -> (usize, usize) {
    let lo = z.rank_from_lex(min);
    let hi = z.rank_past_lex(max);
    (lo, hi.max(lo))
}

/// Ascending ranks `lo..hi` of ZRANGE-style rank arguments (negative counts from the end),
/// clamped like Redis; `None` when the range is empty.
fn rank_range(start: i64, stop: i64, len: usize) -> Option<(usize, usize)> {
    let len = len as i64;
    let mut start = if start < 0 { len + start } else { start };
    let mut stop = if stop < 0 { len + stop } else { stop };
    start = start.max(0);
    if start > stop || start >= len {
        return None;
    }
    stop = stop.min(len - 1);
    Some((start as usize, stop as usize + 1))
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum By {
    Rank,
    Score,
    Lex,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Order {
    Forward,
    Reverse,
}

/// ZRANGE's parsed request.
struct RangeRequest<'a> {
    by: By,
    order: Order,
    /// The range arguments as given, the lower end first (REV's swap already undone).
    min: &'a [u8],
    max: &'a [u8],
    with_scores: bool,
    /// LIMIT offset count (count < 0: no limit).
    limit: Option<(i64, i64)>,
}

/// Where a ZRANGE-family result goes.
enum Output<'a> {
    Reply,
    /// ZRANGESTORE's destination.
    Store(&'a [u8]),
}

/// Parses the options after `key min max` (at `argv[opts_at..]`) as Redis's
/// `zrangeGenericCommand`; `by`/`order` are preset by the legacy commands.
fn parse_request<'a>(
    argv: &'a [Bytes],
    range_at: usize,
    preset_by: Option<By>,
    preset_order: Option<Order>,
    output: &Output<'_>,
) -> Result<RangeRequest<'a>, CommandError> {
    let (mut by, mut order) = (preset_by, preset_order);
    let mut with_scores = false;
    let mut limit = None;
    let mut j = range_at + 2;
    while j < argv.len() {
        let left = argv.len() - j - 1;
        let arg = &argv[j];
        if matches!(output, Output::Reply) && is(arg, "withscores") {
            with_scores = true;
        } else if is(arg, "limit") && left >= 2 {
            limit = Some((parse_i64(&argv[j + 1])?, parse_i64(&argv[j + 2])?));
            j += 2;
        } else if order.is_none() && is(arg, "rev") {
            order = Some(Order::Reverse);
        } else if by.is_none() && is(arg, "bylex") {
            by = Some(By::Lex);
        } else if by.is_none() && is(arg, "byscore") {
            by = Some(By::Score);
        } else {
            return Err(CommandError::Syntax);
        }
        j += 1;
    }
    let by = by.unwrap_or(By::Rank);
    let order = order.unwrap_or(Order::Forward);
    if limit.is_some() && by == By::Rank {
        return Err(CommandError::err(
            "syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX",
        ));
    }
    if with_scores && by == By::Lex {
        return Err(CommandError::err(
            "syntax error, WITHSCORES not supported in combination with BYLEX",
        ));
    }
    let (mut min, mut max) = (&argv[range_at][..], &argv[range_at + 1][..]);
    if order == Order::Reverse && by != By::Rank {
        // Score and lex ranges are given as `max min` in reverse.
        std::mem::swap(&mut min, &mut max);
    }
    Ok(RangeRequest {
        by,
        order,
        min,
        max,
        with_scores,
        limit,
    })
}

/// The members a request selects, in reply order.
fn select(z: &ZSetValue, req: &RangeRequest<'_>, bounds: &Bounds<'_>) -> Vec<(Bytes, f64)> {
    let (lo, hi) = match *bounds {
        Bounds::Rank(start, stop) => {
            let Some((a, b)) = rank_range(start, stop, z.len()) else {
                return Vec::new();
            };
            // In reverse, ranks count from the highest score.
            return match req.order {
                Order::Forward => owned(z.range(a, b)),
                Order::Reverse => owned(z.range_rev(z.len() - b, z.len() - a)),
            };
        }
        Bounds::Score(min, max) => score_ranks(z, min, max),
        Bounds::Lex(min, max) => lex_ranks(z, min, max),
    };
    let (offset, count) = req.limit.unwrap_or((0, -1));
    if offset < 0 {
        return Vec::new();
    }
    let available = (hi - lo).saturating_sub(usize::try_from(offset).unwrap_or(usize::MAX));
    let take = if count < 0 {
        available
    } else {
        available.min(usize::try_from(count).unwrap_or(usize::MAX))
    };
    let skip = usize::try_from(offset).unwrap_or(usize::MAX).min(hi - lo);
    match req.order {
        Order::Forward => owned(z.range(lo + skip, lo + skip + take)),
        Order::Reverse => owned(z.range_rev(hi - skip - take, hi - skip)),
    }
}

/// A request's range, parsed.
enum Bounds<'a> {
    Rank(i64, i64),
    Score(ScoreBound, ScoreBound),
    Lex(LexBound<'a>, LexBound<'a>),
}

fn parse_bounds<'a>(req: &RangeRequest<'a>) -> Result<Bounds<'a>, CommandError> {
    Ok(match req.by {
        By::Rank => Bounds::Rank(parse_i64(req.min)?, parse_i64(req.max)?),
        By::Score => {
            let (min, max) = parse_score_range(req.min, req.max)?;
            Bounds::Score(min, max)
        }
        By::Lex => {
            let (min, max) = parse_lex_range(req.min, req.max)?;
            Bounds::Lex(min, max)
        }
    })
}

/// Redis's `zrangeGenericCommand`: the source key is at `range_at - 1`.
fn range_generic(
    ctx: &mut Ctx<'_>,
    argv: &[Bytes],
    range_at: usize,
    by: Option<By>,
    order: Option<Order>,
    output: Output<'_>,
) -> CommandResult {
    let req = parse_request(argv, range_at, by, order, &output)?;
    let bounds = parse_bounds(&req)?;
    let items = match read_in::<ZSetValue>(ctx, &argv[range_at - 1])? {
        Some(z) => select(z, &req, &bounds),
        None => Vec::new(),
    };
    match output {
        Output::Reply if req.with_scores => Ok(scored_reply(ctx.client.protocol, items)),
        Output::Reply => Ok(members_reply(items)),
        Output::Store(dst) => {
            let limits = crate::commands::sorted_set::limits(ctx);
            let mut result = ZSetValue::default();
            for (member, score) in &items {
                result.insert(member, *score, limits);
            }
            Ok(store(ctx, dst, result, "zrangestore"))
        }
    }
}

pub fn zrange(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CommandResult {
    range_generic(ctx, argv, 2, None, None, Output::Reply)
}

pub fn zrangestore(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CommandResult {
    range_generic(ctx, argv, 3, None, None, Output::Store(&argv[1]))
}

pub fn zrevrange(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CommandResult {
    let (by, order) = (Some(By::Rank), Some(Order::Reverse));
    range_generic(ctx, argv, 2, by, order, Output::Reply)
}

pub fn zrangebyscore(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CommandResult {
    let (by, order) = (Some(By::Score), Some(Order::Forward));
    range_generic(ctx, argv, 2, by, order, Output::Reply)
}

pub fn zrevrangebyscore(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CommandResult {
    let (by, order) = (Some(By::Score), Some(Order::Reverse));
    range_generic(ctx, argv, 2, by, order, Output::Reply)
}

pub fn zrangebylex(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CommandResult {
    let (by, order) = (Some(By::Lex), Some(Order::Forward));
    range_generic(ctx, argv, 2, by, order, Output::Reply)
}

pub fn zrevrangebylex(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CommandResult {
    let (by, order) = (Some(By::Lex), Some(Order::Reverse));
    range_generic(ctx, argv, 2, by, order, Output::Reply)
}

pub fn zcount(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CommandResult {
    let (min, max) = parse_score_range(&argv[2], &argv[3])?;
    let z = read_in::<ZSetValue>(ctx, &argv[1])?;
    Ok(Reply::Int(z.map_or(0, |z| {
        let (lo, hi) = score_ranks(z, min, max);
        (hi - lo) as i64
    })))
}

pub fn zlexcount(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CommandResult {
    let (min, max) = parse_lex_range(&argv[2], &argv[3])?;
    let z = read_in::<ZSetValue>(ctx, &argv[1])?;
    Ok(Reply::Int(z.map_or(0, |z| {
        let (lo, hi) = lex_ranks(z, min, max);
        (hi - lo) as i64
    })))
}

/// ZREMRANGEBY*: removes the ranks `ranks` picks and replies with their number.
fn remove_generic(
    ctx: &mut Ctx<'_>,
    key: &[u8],
    event: &'static str,
    ranks: impl FnOnce(&ZSetValue) -> Option<(usize, usize)>,
) -> CommandResult {
    let db = ctx.db();
    let written = collection::write::<ZSetValue, _>(ctx, db, key, false, |z| {
        Ok(match ranks(z) {
            Some((lo, hi)) => z.remove_range(lo, hi).len(),
            None => 0,
        })
    })?;
    let Some(w) = written else {
        return Ok(Reply::Int(0));
    };
    removed_events(ctx, key, event, w.result > 0, w.deleted);
    Ok(Reply::Int(w.result as i64))
}

pub fn zremrangebyrank(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CommandResult {
    let (start, stop) = (parse_i64(&argv[2])?, parse_i64(&argv[3])?);
    remove_generic(ctx, &argv[1], "zremrangebyrank", |z| {
        rank_range(start, stop, z.len())
    })
}

pub fn zremrangebyscore(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CommandResult {
    let (min, max) = parse_score_range(&argv[2], &argv[3])?;
    remove_generic(ctx, &argv[1], "zremrangebyscore", |z| {
        Some(score_ranks(z, min, max))
    })
}

pub fn zremrangebylex(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CommandResult {
    let (min, max) = parse_lex_range(&argv[2], &argv[3])?;
    remove_generic(ctx, &argv[1], "zremrangebylex", |z| {
        Some(lex_ranks(z, min, max))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn score_bounds_read_like_strtod() {
        let b = |s: &str| parse_score_bound(s.as_bytes());
        assert_eq!(
            b("(1.5").unwrap(),
            ScoreBound {
                value: 1.5,
                exclusive: true
            }
        );
        assert_eq!(b("").unwrap().value, 0.0);
        assert_eq!(b(" 3").unwrap().value, 3.0);
        assert_eq!(b("-inf").unwrap().value, f64::NEG_INFINITY);
        assert_eq!(b("+Infinity").unwrap().value, f64::INFINITY);
        assert!(b("3 ").is_none());
        assert!(b("nan").is_none());
        assert!(b("abc").is_none());
        assert!(b(" ").is_none());
    }

    #[test]
    fn rank_ranges_clamp_like_redis() {
        assert_eq!(rank_range(0, -1, 3), Some((0, 3)));
        assert_eq!(rank_range(-100, 100, 3), Some((0, 3)));
        assert_eq!(rank_range(2, 1, 3), None);
        assert_eq!(rank_range(3, 5, 3), None);
        assert_eq!(rank_range(i64::MIN, i64::MAX, 3), Some((0, 3)));
    }
}
