//! BITFIELD and BITFIELD_RO: the subcommand grammar (parsed whole before anything runs, errors
//! in argument order as Redis reports them) and the integer arithmetic with Redis's overflow
//! rules (WRAP, SAT, FAIL).

use crate::commands::bitmap::{bit_at, max_bulk_len, parse_bit_offset, read_str, write_bits};
use crate::engine::args::{is, parse_i64};
use crate::error::CommandError;
use crate::protocol::Reply;
use crate::pubsub::notify;
use crate::{engine::CommandResult, engine::Ctx};
use bytes::Bytes;

const TYPE_ERR: &str =
    "ERR Invalid bitfield type. Use something like i16 u8. Note that u64 is not supported but i64 is.";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Overflow {
    Wrap,
    Sat,
    Fail,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OpKind {
    Get,
    Set(i64),
    IncrBy(i64),
}

/// One subcommand: an integer of `bits` bits (signed or not) at bit `offset`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FieldOp {
    pub kind: OpKind,
    pub signed: bool,
    pub bits: u32,
    pub offset: u64,
    pub overflow: Overflow,
}

/// A parsed BITFIELD call.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Plan {
    pub ops: Vec<FieldOp>,
    /// The last bit a SET or INCRBY reaches, if any writes.
    pub highest_write: Option<u64>,
}

/// `i1`..`i64`, `u1`..`u63`, lower case only (the digits are read up to a NUL byte, as
/// Redis's `strlen` does).
pub fn parse_type(arg: &[u8]) -> Result<(bool, u32), CommandError> {
    let err = || CommandError::other(TYPE_ERR);
    let signed = match arg.first() {
        Some(b'i') => true,
        Some(b'u') => false,
        _ => return Err(err()),
    };
    let digits = &arg[1..];
    let digits = &digits[..digits.iter().position(|&b| b == 0).unwrap_or(digits.len())];
    let bits = parse_i64(digits).map_err(|_| err())?;
    if bits < 1 || bits > if signed { 64 } else { 63 } {
        return Err(err());
    }
    Ok((signed, bits as u32))
}

/// Parses the subcommands after the key (`args` = argv[2..]).
pub fn parse(args: &[Bytes], max_bulk: u64) -> Result<Plan, CommandError> {
    let mut plan = Plan::default();
    let mut overflow = Overflow::Wrap;
    let mut j = 0;
    while j < args.len() {
        let rest = args.len() - j - 1;
        let word = &args[j];
        let kind = if is(word, "get") && rest >= 2 {
            0
        } else if is(word, "set") && rest >= 3 {
            1
        } else if is(word, "incrby") && rest >= 3 {
            2
        } else if is(word, "overflow") && rest >= 1 {
            let name = &args[j + 1];
            overflow = if is(name, "wrap") {
                Overflow::Wrap
            } else if is(name, "sat") {
                Overflow::Sat
            } else if is(name, "fail") {
                Overflow::Fail
            } else {
                return Err(CommandError::err("Invalid OVERFLOW type specified"));
            };
            j += 2;
            continue;
        } else {
            return Err(CommandError::Syntax);
        };
        let (signed, bits) = parse_type(&args[j + 1])?;
        let offset = parse_bit_offset(&args[j + 2], bits, max_bulk)?;
        let kind = if kind == 0 {
            OpKind::Get
        } else {
            let last = offset + u64::from(bits) - 1;
            plan.highest_write = Some(plan.highest_write.map_or(last, |h| h.max(last)));
            let value = parse_i64(&args[j + 3])?;
            if kind == 1 {
                OpKind::Set(value)
            } else {
                OpKind::IncrBy(value)
            }
        };
        plan.ops.push(FieldOp {
            kind,
            signed,
            bits,
            offset,
            overflow,
        });
        j += if kind == OpKind::Get { 3 } else { 4 };
    }
    Ok(plan)
}

/// The unsigned integer of `bits` bits at `offset`, most significant first; zeros past the end.
pub fn get_unsigned(bytes: &[u8], offset: u64, bits: u32) -> u64 {
    (0..u64::from(bits)).fold(0, |v, i| v << 1 | u64::from(bit_at(bytes, offset + i)))
}

pub fn get_signed(bytes: &[u8], offset: u64, bits: u32) -> i64 {
    let v = get_unsigned(bytes, offset, bits);
    if bits < 64 && v & (1 << (bits - 1)) != 0 {
        (v | (u64::MAX << bits)) as i64
    } else {
        v as i64
    }
}

/// Writes the low `bits` bits of `value` at `offset` (the bytes must reach that far).
pub fn set_bits(bytes: &mut [u8], offset: u64, bits: u32, value: u64) {
    for i in 0..u64::from(bits) {
        let bit = value >> (u64::from(bits) - 1 - i) & 1 != 0;
        let at = offset + i;
        let mask = 0x80u8 >> (at & 7);
        let byte = &mut bytes[(at >> 3) as usize];
        if bit {
            *byte |= mask;
        } else {
            *byte &= !mask;
        }
    }
}

/// Redis's `checkUnsignedBitfieldOverflow`: whether `value + incr` leaves the `bits`-bit range,
/// and the value WRAP or SAT turns it into.
pub fn unsigned_overflow(value: u64, incr: i64, bits: u32, how: Overflow) -> Option<u64> {
    let max = if bits == 64 {
        u64::MAX
    } else {
        (1u64 << bits) - 1
    };
    let maxincr = max.wrapping_sub(value) as i64;
    let minincr = (value as i64).wrapping_neg();
    let wrap = || value.wrapping_add(incr as u64) & !(u64::MAX.checked_shl(bits).unwrap_or(0));
    if value > max || (incr > 0 && incr > maxincr) {
        Some(match how {
            Overflow::Wrap => wrap(),
            _ => max,
        })
    } else if incr < 0 && incr < minincr {
        Some(match how {
            Overflow::Wrap => wrap(),
            _ => 0,
        })
    } else {
        None
    }
}

/// Redis's `checkSignedBitfieldOverflow`, as `unsigned_overflow` for signed fields.
pub fn signed_overflow(value: i64, incr: i64, bits: u32, how: Overflow) -> Option<i64> {
    let max = if bits == 64 {
        i64::MAX
    } else {
        (1i64 << (bits - 1)) - 1
    };
    let min = -max - 1;
    let maxincr = (max as u64).wrapping_sub(value as u64) as i64;
    let minincr = min.wrapping_sub(value);
    let wrap = || {
        let mut c = (value as u64).wrapping_add(incr as u64);
        if bits < 64 {
            let mask = u64::MAX << bits;
            if c & (1 << (bits - 1)) != 0 {
                c |= mask;
            } else {
                c &= !mask;
            }
        }
        c as i64
    };
    if value > max || (bits != 64 && incr > maxincr) || (value >= 0 && incr > 0 && incr > maxincr) {
        Some(match how {
            Overflow::Wrap => wrap(),
            _ => max,
        })
    } else if value < min
        || (bits != 64 && incr < minincr)
        || (value < 0 && incr < 0 && incr < minincr)
    {
        Some(match how {
            Overflow::Wrap => wrap(),
            _ => min,
        })
    } else {
        None
    }
}

/// Runs one SET or INCRBY on `bytes`: the reply (nil when FAIL refused it) and whether the
/// field's value changed.
fn write_op(bytes: &mut [u8], op: &FieldOp) -> (Reply, bool) {
    let (reply, old, new) = if op.signed {
        let old = get_signed(bytes, op.offset, op.bits);
        let (new, overflow, ret) = match op.kind {
            OpKind::IncrBy(incr) => {
                let o = signed_overflow(old, incr, op.bits, op.overflow);
                let new = o.unwrap_or(old.wrapping_add(incr));
                (new, o.is_some(), new)
            }
            OpKind::Set(v) => {
                let o = signed_overflow(v, 0, op.bits, op.overflow);
                (o.unwrap_or(v), o.is_some(), old)
            }
            OpKind::Get => unreachable!("reads do not write"),
        };
        if overflow && op.overflow == Overflow::Fail {
            return (Reply::Nil, false);
        }
        (Reply::Int(ret), old as u64, new as u64)
    } else {
        let old = get_unsigned(bytes, op.offset, op.bits);
        let (new, overflow, ret) = match op.kind {
            OpKind::IncrBy(incr) => {
                let o = unsigned_overflow(old, incr, op.bits, op.overflow);
                let new = o.unwrap_or(old.wrapping_add(incr as u64));
                (new, o.is_some(), new)
            }
            OpKind::Set(v) => {
                let o = unsigned_overflow(v as u64, 0, op.bits, op.overflow);
                (o.unwrap_or(v as u64), o.is_some(), old)
            }
            OpKind::Get => unreachable!("reads do not write"),
        };
        if overflow && op.overflow == Overflow::Fail {
            return (Reply::Nil, false);
        }
        (Reply::Int(ret as i64), old, new)
    };
    set_bits(bytes, op.offset, op.bits, new);
    (reply, old != new)
}

fn read_op(bytes: &[u8], op: &FieldOp) -> Reply {
    if op.signed {
        Reply::Int(get_signed(bytes, op.offset, op.bits))
    } else {
        Reply::Int(get_unsigned(bytes, op.offset, op.bits) as i64)
    }
}

pub fn run(ctx: &mut Ctx<'_>, argv: &[Bytes], readonly: bool) -> CommandResult {
    let plan = parse(&argv[2..], max_bulk_len(ctx))?;
    let key = &argv[1];
    let Some(highest) = plan.highest_write else {
        let replies = read_str(ctx, key, |bytes| {
            let bytes = bytes.unwrap_or_default();
            plan.ops.iter().map(|op| read_op(bytes, op)).collect()
        })?;
        return Ok(Reply::Array(replies));
    };
    if readonly {
        return Err(CommandError::err(
            "BITFIELD_RO only supports the GET subcommand",
        ));
    }
    let len = (highest >> 3) as usize + 1;
    let written = write_bits(ctx, key, len, |bytes| {
        let (mut applied, mut changed) = (0, 0);
        let mut replies = Vec::with_capacity(plan.ops.len());
        for op in &plan.ops {
            if op.kind == OpKind::Get {
                replies.push(read_op(bytes, op));
                continue;
            }
            let (reply, did_change) = write_op(bytes, op);
            if reply != Reply::Nil {
                applied += 1;
                changed += usize::from(did_change);
            }
            replies.push(reply);
        }
        (replies, applied, changed)
    })?;
    let (replies, applied, changed) = written.result;
    // A created or grown string counts every applied write as a change (Redis's `dirty`).
    let changes = if written.grown { applied } else { changed };
    if changes > 0 {
        let db = ctx.db();
        ctx.key_changed(db, key);
        ctx.notify(notify::STRING, "setbit", db, key);
        // Redis builds BITFIELD's reply while it runs the operations and raises the event
        // last, so the caller's own event frames follow the reply.
        ctx.client.pubsub.hold_pushes = true;
    }
    Ok(Reply::Array(replies))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overflow_rules() {
        assert_eq!(unsigned_overflow(250, 10, 8, Overflow::Wrap), Some(4));
        assert_eq!(unsigned_overflow(250, 10, 8, Overflow::Sat), Some(255));
        assert_eq!(unsigned_overflow(5, -10, 8, Overflow::Sat), Some(0));
        assert_eq!(unsigned_overflow(5, -10, 8, Overflow::Wrap), Some(251));
        assert_eq!(unsigned_overflow(5, 10, 8, Overflow::Wrap), None);
        // A negative SET value is huge as unsigned: SAT saturates it to the maximum.
        assert_eq!(unsigned_overflow(u64::MAX, 0, 8, Overflow::Sat), Some(255));
        assert_eq!(signed_overflow(120, 10, 8, Overflow::Wrap), Some(-126));
        assert_eq!(signed_overflow(120, 10, 8, Overflow::Sat), Some(127));
        assert_eq!(signed_overflow(-120, -10, 8, Overflow::Sat), Some(-128));
        assert_eq!(
            signed_overflow(i64::MAX, 1, 64, Overflow::Wrap),
            Some(i64::MIN)
        );
        assert_eq!(
            signed_overflow(i64::MIN, -1, 64, Overflow::Sat),
            Some(i64::MIN)
        );
        assert_eq!(
            signed_overflow(3, 4, 4, Overflow::Fail),
            Some(7).filter(|_| false)
        );
        assert_eq!(signed_overflow(3, 5, 4, Overflow::Fail), Some(7));
    }

    #[test]
    fn fields_round_trip() {
        let mut bytes = vec![0u8; 10];
        set_bits(&mut bytes, 5, 13, 0x1abc);
        assert_eq!(get_unsigned(&bytes, 5, 13), 0x1abc);
        set_bits(&mut bytes, 9, 64, (-5i64) as u64);
        assert_eq!(get_signed(&bytes, 9, 64), -5);
        set_bits(&mut bytes, 0, 4, 0b1001);
        assert_eq!(get_signed(&bytes, 0, 4), -7);
        assert_eq!(get_unsigned(&[0xff], 4, 8), 0xf0);
    }
}

#[cfg(test)]
mod fuzz {
    use super::*;
    use proptest::prelude::*;

    const MAX_BULK: u64 = 512 * 1024 * 1024;

    /// Words BITFIELD knows and near misses, plus arbitrary bytes.
    fn word() -> impl Strategy<Value = Bytes> {
        prop_oneof![
            prop::sample::select(vec![
                "GET",
                "set",
                "IncrBy",
                "OVERFLOW",
                "wrap",
                "SAT",
                "fail",
                "i8",
                "u63",
                "u64",
                "i64",
                "i65",
                "i0",
                "I8",
                "#3",
                "#-1",
                "#",
                "0",
                "-1",
                "7",
                "4294967295",
                "4294967296",
                "9223372036854775807",
                "-9223372036854775808",
                "x",
                "",
            ])
            .prop_map(|w| Bytes::from(w.to_string())),
            prop::collection::vec(any::<u8>(), 0..6).prop_map(Bytes::from),
        ]
    }

    fn render(op: &FieldOp, out: &mut Vec<Bytes>) {
        out.push(Bytes::from_static(b"OVERFLOW"));
        out.push(Bytes::from(format!("{:?}", op.overflow)));
        let ty = format!("{}{}", if op.signed { "i" } else { "u" }, op.bits);
        let (name, value) = match op.kind {
            OpKind::Get => ("GET", None),
            OpKind::Set(v) => ("SET", Some(v)),
            OpKind::IncrBy(v) => ("INCRBY", Some(v)),
        };
        out.push(Bytes::from(name));
        out.push(Bytes::from(ty));
        out.push(Bytes::from(op.offset.to_string()));
        if let Some(v) = value {
            out.push(Bytes::from(v.to_string()));
        }
    }

    fn op() -> impl Strategy<Value = FieldOp> {
        (
            0..3u8,
            any::<i64>(),
            any::<bool>(),
            1..=64u32,
            0..MAX_BULK * 8,
            0..3u8,
        )
            .prop_map(|(k, v, signed, bits, offset, o)| FieldOp {
                kind: [OpKind::Get, OpKind::Set(v), OpKind::IncrBy(v)][k as usize],
                signed: signed || bits == 64,
                bits,
                offset,
                overflow: [Overflow::Wrap, Overflow::Sat, Overflow::Fail][o as usize],
            })
    }

    proptest! {
        #[test]
        fn arbitrary_words_parse_or_fail_cleanly(args in prop::collection::vec(word(), 0..12)) {
            if let Ok(plan) = parse(&args, MAX_BULK) {
                prop_assert!(plan.ops.len() * 3 <= args.len());
                for op in &plan.ops {
                    let widest = if op.signed { 64 } else { 63 };
                    prop_assert!(op.bits >= 1 && op.bits <= widest);
                    prop_assert!(op.offset >> 3 < MAX_BULK);
                }
                let writes = plan.ops.iter().any(|op| op.kind != OpKind::Get);
                prop_assert_eq!(plan.highest_write.is_some(), writes);
            }
        }

        #[test]
        fn rendered_plans_parse_back(ops in prop::collection::vec(op(), 0..6)) {
            let mut args = Vec::new();
            for op in &ops {
                render(op, &mut args);
            }
            let plan = parse(&args, MAX_BULK).expect("a rendered plan parses");
            prop_assert_eq!(&plan.ops, &ops);
            let highest = ops
                .iter()
                .filter(|op| op.kind != OpKind::Get)
                .map(|op| op.offset + u64::from(op.bits) - 1)
                .max();
            prop_assert_eq!(plan.highest_write, highest);
        }

        #[test]
        fn fields_read_back_what_was_written(
            offset in 0..200u64, bits in 1..=64u32, value in any::<u64>()
        ) {
            let mut bytes = vec![0u8; 40];
            set_bits(&mut bytes, offset, bits, value);
            let mask = if bits == 64 { u64::MAX } else { (1 << bits) - 1 };
            prop_assert_eq!(get_unsigned(&bytes, offset, bits), value & mask);
        }
    }
}
