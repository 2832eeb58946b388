//! Bitmap commands: Redis's `bitmap` group (SETBIT GETBIT BITCOUNT BITPOS BITOP BITFIELD
//! BITFIELD_RO).
//!
//! Bitmaps are string values. The writing commands change the string in place through
//! `Shard::modify_str`, which keeps it in a growable buffer with spare room (see
//! `keyspace::entry`), so SETBIT at increasing offsets never copies the whole value per call.
//! BITFIELD's grammar and integer arithmetic are in `field.rs`.

pub mod field;

use crate::command;
use crate::engine::args::{is, parse_i64};
use crate::error::CommandError;
use crate::keyspace::value::grow_string;
use crate::keyspace::{Entry, ValueRef};
use crate::protocol::Reply;
use crate::pubsub::notify;
use crate::{
    engine::flags::*, engine::CommandResult, engine::CommandSpec, engine::Ctx, engine::KeySpec,
};
use bytes::Bytes;
use std::sync::atomic::Ordering;

/// Adds the complexity line COMMAND DOCS reports.
const fn cx(spec: CommandSpec, complexity: &'static str) -> CommandSpec {
    CommandSpec { complexity, ..spec }
}

const BS: &[&str] = &["bitmap", "slow"];
const BF: &[&str] = &["bitmap", "fast"];
const BITOP_KEYS: KeySpec = KeySpec::Range {
    first: 2,
    last: -1,
    step: 1,
};

pub static COMMANDS: &[CommandSpec] = &[
    cx(command!("setbit", 4, WRITE | DENYOOM, KeySpec::one(), BS, "bitmap", "2.2.0", "Sets or clears the bit at offset of the string value. Creates the key if it doesn't exist.", setbit), "O(1)"),
    cx(command!("getbit", 3, READONLY | FAST, KeySpec::one(), BF, "bitmap", "2.2.0", "Returns a bit value by offset.", getbit), "O(1)"),
    cx(command!("bitcount", -2, READONLY, KeySpec::one(), BS, "bitmap", "2.6.0", "Counts the number of set bits (population counting) in a string.", bitcount), "O(N)"),
    cx(command!("bitpos", -3, READONLY, KeySpec::one(), BS, "bitmap", "2.8.7", "Finds the first set (1) or clear (0) bit in a string.", bitpos), "O(N)"),
    cx(command!("bitop", -4, WRITE | DENYOOM, BITOP_KEYS, BS, "bitmap", "2.6.0", "Performs bitwise operations on multiple strings, and stores the result.", bitop), "O(N)"),
    cx(command!("bitfield", -2, WRITE | DENYOOM, KeySpec::one(), BS, "bitmap", "3.2.0", "Performs arbitrary bitfield integer operations on strings.", bitfield), "O(1) for each subcommand specified"),
    cx(command!("bitfield_ro", -2, READONLY | FAST, KeySpec::one(), BF, "bitmap", "6.0.0", "Performs arbitrary read-only bitfield integer operations on strings.", bitfield_ro), "O(1) for each subcommand specified"),
];

const OFFSET_ERR: &str = "ERR bit offset is not an integer or out of range";

/// proto-max-bulk-len, which bounds bit offsets (in bytes) as it bounds strings.
pub(super) fn max_bulk_len(ctx: &Ctx<'_>) -> u64 {
    let max = ctx
        .state
        .config
        .hot
        .proto_max_bulk_len
        .load(Ordering::Relaxed);
    max.max(0) as u64
}

/// Redis's `getBitOffsetFromArgument`: a bit offset, or with `#` (BITFIELD only, `bits > 0`)
/// a field index multiplied by the field width; negative or beyond proto-max-bulk-len bytes is
/// an error.
pub fn parse_bit_offset(arg: &[u8], bits: u32, max_bulk: u64) -> Result<u64, CommandError> {
    let err = || CommandError::other(OFFSET_ERR);
    let hash = bits > 0 && arg.first() == Some(&b'#');
    let digits = if hash { &arg[1..] } else { arg };
    let mut offset = parse_i64(digits).map_err(|_| err())?;
    if hash {
        offset = offset.wrapping_mul(i64::from(bits));
    }
    if offset < 0 || (offset as u64 >> 3) >= max_bulk {
        return Err(err());
    }
    Ok(offset as u64)
}

/// The bit at `offset` (most significant bit of each byte first); 0 beyond the string.
pub fn bit_at(bytes: &[u8], offset: u64) -> bool {
    let byte = (offset >> 3) as usize;
    bytes
        .get(byte)
        .is_some_and(|b| b & (0x80 >> (offset & 7)) != 0)
}

/// What a bit-writing command returned, and whether it created the key or grew its string
/// (Redis then counts the call as a change even if no bit flipped).
pub(super) struct Written<R> {
    pub result: R,
    pub grown: bool,
}

/// Runs `f` on the string at `key` grown (zero-filled) to at least `len` bytes; a missing key
/// is created. Redis's `lookupStringForBitCommand`.
pub(super) fn write_bits<R>(
    ctx: &mut Ctx<'_>,
    key: &[u8],
    len: usize,
    f: impl FnOnce(&mut [u8]) -> R,
) -> Result<Written<R>, CommandError> {
    let now = ctx.now_ms;
    let (shard, hash) = ctx.shard(key);
    let mut f = Some(f);
    let found = shard.modify_str(hash, key, now, |buf| {
        let grown = buf.len() < len;
        grow_string(buf, len);
        (f.take().expect("called once")(buf), grown)
    });
    match found {
        Some(Some((result, grown))) => Ok(Written { result, grown }),
        Some(None) => Err(CommandError::WrongType),
        None => {
            // A new string has exactly the length asked, as Redis's `sdsnewlen`.
            let mut buf = vec![0u8; len];
            let result = f.take().expect("not called")(&mut buf);
            let entry = Entry::new_buf(key, buf, None, shard.arena());
            shard.insert_entry(hash, entry, now);
            let db = ctx.db();
            ctx.notify(notify::NEW, "new", db, key);
            Ok(Written {
                result,
                grown: true,
            })
        }
    }
}

/// Reads the string at `key` (hit/miss counted); `None` when missing, WRONGTYPE for others.
pub(super) fn read_str<R>(
    ctx: &mut Ctx<'_>,
    key: &[u8],
    f: impl FnOnce(Option<&[u8]>) -> R,
) -> Result<R, CommandError> {
    let now = ctx.now_ms;
    let (shard, hash) = ctx.shard(key);
    match shard.get_read(hash, key, now) {
        None => Ok(f(None)),
        Some(entry) => match entry.value() {
            ValueRef::Str(bytes) => Ok(f(Some(bytes))),
            _ => Err(CommandError::WrongType),
        },
    }
}

fn setbit(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CommandResult {
    let offset = parse_bit_offset(&argv[2], 0, max_bulk_len(ctx))?;
    let bit_err = || CommandError::other("ERR bit is not an integer or out of range");
    let on = match parse_i64(&argv[3]) {
        Ok(0) => false,
        Ok(1) => true,
        _ => return Err(bit_err()),
    };
    let key = &argv[1];
    let byte = (offset >> 3) as usize;
    let mask = 0x80u8 >> (offset & 7);
    let written = write_bits(ctx, key, byte + 1, |bytes| {
        let was = bytes[byte] & mask != 0;
        if on {
            bytes[byte] |= mask;
        } else {
            bytes[byte] &= !mask;
        }
        was
    })?;
    let was = written.result;
    if written.grown || was != on {
        let db = ctx.db();
        ctx.key_changed(db, key);
        ctx.notify(notify::STRING, "setbit", db, key);
    }
    Ok(Reply::Int(i64::from(was)))
}

fn getbit(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CommandResult {
    let offset = parse_bit_offset(&argv[2], 0, max_bulk_len(ctx))?;
    let bit = read_str(ctx, &argv[1], |bytes| {
        bytes.is_some_and(|b| bit_at(b, offset))
    })?;
    Ok(Reply::Int(i64::from(bit)))
}

/// A BITCOUNT / BITPOS range resolved against a string of `len` bytes: inclusive bit
/// positions, or `None` when empty.
fn resolve_range(start: i64, end: i64, len: usize, in_bits: bool) -> Option<(u64, u64)> {
    let total = if in_bits { len as i64 * 8 } else { len as i64 };
    let fix = |i: i64| if i < 0 { (total + i).max(0) } else { i };
    let (start, end) = (fix(start), fix(end).min(total - 1));
    if start > end {
        return None;
    }
    let (start, end) = (start as u64, end as u64);
    Some(if in_bits {
        (start, end)
    } else {
        (start * 8, end * 8 + 7)
    })
}

/// Set bits in the inclusive bit range.
pub fn count_bits(bytes: &[u8], first: u64, last: u64) -> u64 {
    let (fb, lb) = ((first >> 3) as usize, (last >> 3) as usize);
    let span = &bytes[fb..=lb];
    let mut count: u64 = 0;
    let mut chunks = span.chunks_exact(8);
    for c in &mut chunks {
        count += u64::from(u64::from_ne_bytes(c.try_into().expect("8 bytes")).count_ones());
    }
    for b in chunks.remainder() {
        count += u64::from(b.count_ones());
    }
    let head = bytes[fb] & !(0xffu8 >> (first & 7));
    let tail = bytes[lb] & tail_mask(last);
    count - u64::from(head.count_ones()) - u64::from(tail.count_ones())
}

/// The bits of the last byte after bit `last` (they are not in the range).
fn tail_mask(last: u64) -> u8 {
    ((1u16 << (7 - (last & 7))) - 1) as u8
}

/// Parses `BYTE | BIT` (the unit of a BITCOUNT / BITPOS range).
fn parse_unit(arg: &[u8]) -> Result<bool, CommandError> {
    if is(arg, "bit") {
        Ok(true)
    } else if is(arg, "byte") {
        Ok(false)
    } else {
        Err(CommandError::Syntax)
    }
}

fn bitcount(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CommandResult {
    let range = match argv.len() {
        2 => None,
        4 | 5 => {
            let start = parse_i64(&argv[2])?;
            let end = parse_i64(&argv[3])?;
            let in_bits = match argv.get(4) {
                Some(unit) => parse_unit(unit)?,
                None => false,
            };
            Some((start, end, in_bits))
        }
        _ => return Err(CommandError::Syntax),
    };
    let count = read_str(ctx, &argv[1], |bytes| {
        let Some(bytes) = bytes else { return 0 };
        let (start, end, in_bits) = range.unwrap_or((0, -1, false));
        if start < 0 && end < 0 && start > end {
            return 0;
        }
        match resolve_range(start, end, bytes.len(), in_bits) {
            Some((first, last)) => count_bits(bytes, first, last),
            None => 0,
        }
    })?;
    Ok(Reply::Int(count as i64))
}

/// The first bit equal to `bit` in the inclusive bit range, if any.
pub fn find_bit(bytes: &[u8], bit: bool, first: u64, last: u64) -> Option<u64> {
    let skip = if bit { 0x00u8 } else { 0xff };
    let mut pos = first;
    while pos <= last {
        if pos & 7 == 0 && pos + 7 <= last {
            let byte = bytes[(pos >> 3) as usize];
            if byte == skip {
                pos += 8;
                continue;
            }
            let lead = if bit {
                byte.leading_zeros()
            } else {
                byte.leading_ones()
            };
            return Some(pos + u64::from(lead));
        }
        if bit_at(bytes, pos) == bit {
            return Some(pos);
        }
        pos += 1;
    }
    None
}

fn bitpos(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CommandResult {
    let bit = match parse_i64(&argv[2])? {
        0 => false,
        1 => true,
        _ => return Err(CommandError::err("The bit argument must be 1 or 0.")),
    };
    let (start, end, in_bits) = match argv.len() {
        3 => (0, None, false),
        4..=6 => {
            let start = parse_i64(&argv[3])?;
            let in_bits = match argv.get(5) {
                Some(unit) => parse_unit(unit)?,
                None => false,
            };
            let end = match argv.get(4) {
                Some(end) => Some(parse_i64(end)?),
                None => None,
            };
            (start, end, in_bits)
        }
        _ => return Err(CommandError::Syntax),
    };
    let pos = read_str(ctx, &argv[1], |bytes| {
        let Some(bytes) = bytes else {
            // A missing key is an endless run of zeros.
            return if bit { -1 } else { 0 };
        };
        let Some((first, last)) = resolve_range(start, end.unwrap_or(-1), bytes.len(), in_bits)
        else {
            return -1;
        };
        match find_bit(bytes, bit, first, last) {
            Some(pos) => pos as i64,
            // Looking for a clear bit with no end given: the zeros after the string count.
            None if !bit && end.is_none() => (last + 1) as i64,
            None => -1,
        }
    })?;
    Ok(Reply::Int(pos))
}

/// BITOP's operations: Redis 2.6's four and Redis 8.2's DIFF, DIFF1, ANDOR and ONE.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BitOp {
    And,
    Or,
    Xor,
    Not,
    /// Bits of the first source set in none of the others.
    Diff,
    /// Bits set in one or more of the others and not in the first.
    Diff1,
    /// Bits of the first source set in one or more of the others.
    AndOr,
    /// Bits set in exactly one source.
    One,
}

impl BitOp {
    pub fn parse(word: &[u8]) -> Option<BitOp> {
        const NAMES: &[(&str, BitOp)] = &[
            ("and", BitOp::And),
            ("or", BitOp::Or),
            ("xor", BitOp::Xor),
            ("not", BitOp::Not),
            ("diff", BitOp::Diff),
            ("diff1", BitOp::Diff1),
            ("andor", BitOp::AndOr),
            ("one", BitOp::One),
        ];
        NAMES.iter().find(|(n, _)| is(word, n)).map(|&(_, op)| op)
    }

    /// Combines `sources` (shorter ones read as zeros past their end) into `len` bytes.
    pub fn apply(self, sources: &[&[u8]], len: usize) -> Vec<u8> {
        let mut c = Combiner::new(self, len);
        for s in sources {
            c.add(s);
        }
        c.finish()
    }
}

/// BITOP's result built one source at a time, so no source is copied: at most two buffers of
/// the result's length exist, whatever the number of sources.
pub struct Combiner {
    op: BitOp,
    /// The result so far (for ONE: the bits seen once or more).
    out: Vec<u8>,
    /// DIFF, DIFF1, ANDOR: the OR of the sources after the first; ONE: bits seen twice or more.
    others: Vec<u8>,
    first: bool,
}

impl Combiner {
    pub fn new(op: BitOp, len: usize) -> Combiner {
        let others = match op {
            BitOp::Diff | BitOp::Diff1 | BitOp::AndOr | BitOp::One => vec![0u8; len],
            _ => Vec::new(),
        };
        Combiner {
            op,
            out: vec![0u8; len],
            others,
            first: true,
        }
    }

    pub fn add(&mut self, src: &[u8]) {
        let src = &src[..src.len().min(self.out.len())];
        if std::mem::take(&mut self.first) {
            self.out[..src.len()].copy_from_slice(src);
            return;
        }
        let pairs = self.out.iter_mut().zip(src);
        match self.op {
            BitOp::And => {
                pairs.for_each(|(a, b)| *a &= b);
                let at = src.len();
                self.out[at..].fill(0);
            }
            BitOp::Or => pairs.for_each(|(a, b)| *a |= b),
            BitOp::Xor => pairs.for_each(|(a, b)| *a ^= b),
            BitOp::Not => {}
            BitOp::Diff | BitOp::Diff1 | BitOp::AndOr => {
                self.others.iter_mut().zip(src).for_each(|(a, b)| *a |= b)
            }
            BitOp::One => {
                for ((once, b), twice) in pairs.zip(self.others.iter_mut()) {
                    *twice |= *once & b;
                    *once |= b;
                }
            }
        }
    }

    pub fn finish(mut self) -> Vec<u8> {
        let others = &self.others;
        match self.op {
            BitOp::Not => self.out.iter_mut().for_each(|a| *a = !*a),
            BitOp::Diff => self.out.iter_mut().zip(others).for_each(|(a, o)| *a &= !o),
            BitOp::Diff1 => self
                .out
                .iter_mut()
                .zip(others)
                .for_each(|(a, o)| *a = !*a & o),
            BitOp::AndOr => self.out.iter_mut().zip(others).for_each(|(a, o)| *a &= o),
            BitOp::One => self.out.iter_mut().zip(others).for_each(|(a, t)| *a &= !t),
            _ => {}
        }
        self.out
    }
}

fn bitop(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CommandResult {
    let op = BitOp::parse(&argv[1]).ok_or(CommandError::Syntax)?;
    if op == BitOp::Not && argv.len() != 4 {
        return Err(CommandError::err(
            "BITOP NOT must be called with a single source key.",
        ));
    }
    if matches!(op, BitOp::Diff | BitOp::Diff1 | BitOp::AndOr) && argv.len() < 5 {
        let name = String::from_utf8_lossy(&argv[1]).to_ascii_uppercase();
        return Err(CommandError::err(format!(
            "BITOP {name} must be called with at least two source keys."
        )));
    }
    // Every source is looked up (and its type checked) before anything is computed; then each
    // is folded into the result in place, never copied.
    let mut len = 0;
    for key in &argv[3..] {
        len = len.max(read_str(ctx, key, |b| b.map_or(0, <[u8]>::len))?);
    }
    let mut combiner = (len > 0).then(|| Combiner::new(op, len));
    if let Some(c) = combiner.as_mut() {
        let now = ctx.now_ms;
        for key in &argv[3..] {
            let (shard, hash) = ctx.shard(key);
            match shard.get_mut(hash, key, now).map(|e| e.value()) {
                Some(ValueRef::Str(bytes)) => c.add(bytes),
                _ => c.add(&[]),
            }
        }
    }
    let dest = &argv[2];
    let db = ctx.db();
    let now = ctx.now_ms;
    if let Some(combiner) = combiner {
        let result = combiner.finish();
        let (shard, hash) = ctx.shard(dest);
        let entry = Entry::new_buf(dest, result, None, shard.arena());
        let old = shard.insert_entry(hash, entry, now);
        if old.is_none() {
            ctx.notify(notify::NEW, "new", db, dest);
        }
        ctx.key_changed(db, dest);
        ctx.notify(notify::STRING, "set", db, dest);
    } else {
        let (shard, hash) = ctx.shard(dest);
        if shard.remove(hash, dest, now).is_some() {
            ctx.key_changed(db, dest);
            ctx.notify(notify::GENERIC, "del", db, dest);
        }
    }
    Ok(Reply::Int(len as i64))
}

fn bitfield(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CommandResult {
    field::run(ctx, argv, false)
}

fn bitfield_ro(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CommandResult {
    field::run(ctx, argv, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn naive_count(bytes: &[u8], first: u64, last: u64) -> u64 {
        (first..=last).filter(|&p| bit_at(bytes, p)).count() as u64
    }

    #[test]
    fn count_and_find_match_a_bit_by_bit_walk() {
        let bytes: Vec<u8> = (0..40u32)
            .map(|i| (i.wrapping_mul(97) ^ 0x5a) as u8)
            .collect();
        let bits = bytes.len() as u64 * 8;
        for first in (0..bits).step_by(3) {
            for last in (first..bits).step_by(5) {
                assert_eq!(
                    count_bits(&bytes, first, last),
                    naive_count(&bytes, first, last)
                );
                for bit in [false, true] {
                    let naive = (first..=last).find(|&p| bit_at(&bytes, p) == bit);
                    assert_eq!(find_bit(&bytes, bit, first, last), naive);
                }
            }
        }
    }

    #[test]
    fn redis_8_2_operations_follow_their_definitions() {
        let x: &[u8] = &[0b1111_0000, 0xff];
        let y1: &[u8] = &[0b1100_1100];
        let y2: &[u8] = &[0b1010_1010, 0x0f, 0x01];
        let srcs = [x, y1, y2];
        // DIFF: X and none of the Ys.
        assert_eq!(BitOp::Diff.apply(&srcs, 3), vec![0b0001_0000, 0xf0, 0x00]);
        // DIFF1: one or more Ys and not X.
        assert_eq!(BitOp::Diff1.apply(&srcs, 3), vec![0b0000_1110, 0x00, 0x01]);
        // ANDOR: X and one or more Ys.
        assert_eq!(BitOp::AndOr.apply(&srcs, 3), vec![0b1110_0000, 0x0f, 0x00]);
        // ONE: exactly one source.
        assert_eq!(BitOp::One.apply(&srcs, 3), vec![0b0001_0110, 0xf0, 0x01]);
        assert_eq!(BitOp::One.apply(&[x], 2), x.to_vec());
        assert_eq!(BitOp::Not.apply(&[x], 2), vec![0x0f, 0x00]);
        assert_eq!(BitOp::parse(b"AndOr"), Some(BitOp::AndOr));
        assert_eq!(BitOp::parse(b"diff2"), None);
    }

    #[test]
    fn operations_match_their_per_bit_definitions() {
        let ops = [
            BitOp::And,
            BitOp::Or,
            BitOp::Xor,
            BitOp::Not,
            BitOp::Diff,
            BitOp::Diff1,
            BitOp::AndOr,
            BitOp::One,
        ];
        let mut seed = 0x1234_5678u64;
        let mut next = || {
            seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
            (seed >> 33) as usize
        };
        for _ in 0..200 {
            let n = 1 + next() % 4;
            let sources: Vec<Vec<u8>> = (0..n)
                .map(|_| (0..next() % 7).map(|_| next() as u8).collect())
                .collect();
            let refs: Vec<&[u8]> = sources.iter().map(Vec::as_slice).collect();
            let len = refs.iter().map(|s| s.len()).max().unwrap();
            for op in ops {
                let refs = if op == BitOp::Not {
                    &refs[..1]
                } else {
                    &refs[..]
                };
                let len = if op == BitOp::Not { refs[0].len() } else { len };
                let got = op.apply(refs, len);
                for bit in 0..len as u64 * 8 {
                    let bits: Vec<bool> = refs.iter().map(|s| bit_at(s, bit)).collect();
                    let others = bits[1..].iter().any(|&b| b);
                    let want = match op {
                        BitOp::And => bits.iter().all(|&b| b),
                        BitOp::Or => bits.iter().any(|&b| b),
                        BitOp::Xor => bits.iter().filter(|&&b| b).count() % 2 == 1,
                        BitOp::Not => !bits[0],
                        BitOp::Diff => bits[0] && !others,
                        BitOp::Diff1 => !bits[0] && others,
                        BitOp::AndOr => bits[0] && others,
                        BitOp::One => bits.iter().filter(|&&b| b).count() == 1,
                    };
                    assert_eq!(bit_at(&got, bit), want, "{op:?} {refs:?} bit {bit}");
                }
            }
        }
    }

    #[test]
    fn offsets() {
        assert_eq!(parse_bit_offset(b"#3", 8, 1 << 29).unwrap(), 24);
        assert!(parse_bit_offset(b"#3", 0, 1 << 29).is_err());
        assert!(parse_bit_offset(b"-1", 0, 1 << 29).is_err());
        assert!(parse_bit_offset(b"4294967296", 0, 1 << 29).is_err());
        assert_eq!(
            parse_bit_offset(b"4294967295", 0, 1 << 29).unwrap(),
            4294967295
        );
    }
}
