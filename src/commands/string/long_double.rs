//! The x87 80-bit `long double` in software, for INCRBYFLOAT.
//!
//! Redis parses both operands with `strtold`, adds them in extended precision (64-bit significand)
//! and replies with `%.17Lf` minus trailing zeros. Doing the same in `f64` gives different text
//! (`0.1 + 0.2` is `0.30000000000000004` in f64 and `0.3` in Redis), so this module reproduces the
//! extended format exactly: correctly rounded parsing, correctly rounded addition and the exact
//! decimal expansion printf uses, all ties-to-even as on x86-64 Linux.

use std::cmp::Ordering;

/// Exponent of the lowest significand bit of the smallest subnormal (2^-16445).
const EXP_MIN: i64 = -16445;
/// A value needs more than this many bits above 2^0 to overflow (largest finite < 2^16384).
const BITS_MAX: i64 = 16384;
/// `string2ld` refuses inputs of this length or more (`MAX_LONG_DOUBLE_CHARS`).
pub const TEXT_MAX: usize = 5 * 1024;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Class {
    /// `mant * 2^exp`; `mant == 0` is a (signed) zero.
    Finite,
    Inf,
    Nan,
}

/// An extended-precision value: `(-1)^neg * mant * 2^exp` when finite.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LongDouble {
    neg: bool,
    class: Class,
    mant: u64,
    exp: i64,
}

impl LongDouble {
    fn zero(neg: bool) -> LongDouble {
        LongDouble {
            neg,
            class: Class::Finite,
            mant: 0,
            exp: 0,
        }
    }

    fn inf(neg: bool) -> LongDouble {
        LongDouble {
            neg,
            class: Class::Inf,
            mant: 0,
            exp: 0,
        }
    }

    pub fn is_finite(&self) -> bool {
        self.class == Class::Finite
    }

    /// Parses like Redis's `string2ld`: `strtold` over the whole text, refusing leading space,
    /// trailing bytes, NaN, and results that overflow or underflow to zero.
    pub fn parse(text: &[u8]) -> Option<LongDouble> {
        if text.is_empty()
            || text.len() >= TEXT_MAX
            || text[0].is_ascii_whitespace()
            || text[0] == 0x0b
        {
            return None;
        }
        let (neg, body) = match text[0] {
            b'-' => (true, &text[1..]),
            b'+' => (false, &text[1..]),
            _ => (false, text),
        };
        if body.eq_ignore_ascii_case(b"inf") || body.eq_ignore_ascii_case(b"infinity") {
            return Some(LongDouble::inf(neg));
        }
        let value = if body.len() > 2 && body[0] == b'0' && (body[1] | 0x20) == b'x' {
            parse_hex(neg, &body[2..])?
        } else {
            parse_decimal(neg, body)?
        };
        // strtold reports ERANGE for overflow and for underflow to zero; string2ld refuses both.
        if value.class == Class::Inf || value.mant == 0 && !is_zero_text(body) {
            return None;
        }
        Some(value)
    }

    /// The exact sum, rounded once to extended precision.
    pub fn add(self, other: LongDouble) -> LongDouble {
        match (self.class, other.class) {
            (Class::Nan, _) | (_, Class::Nan) => {
                return LongDouble {
                    class: Class::Nan,
                    ..self
                }
            }
            (Class::Inf, Class::Inf) if self.neg != other.neg => {
                return LongDouble {
                    class: Class::Nan,
                    ..self
                }
            }
            (Class::Inf, _) => return self,
            (_, Class::Inf) => return other,
            _ => {}
        }
        if self.mant == 0 && other.mant == 0 {
            return LongDouble::zero(self.neg && other.neg);
        }
        if self.mant == 0 {
            return other;
        }
        if other.mant == 0 {
            return self;
        }
        let e = self.exp.min(other.exp);
        let a = Big::from_u64(self.mant).shl((self.exp - e) as usize);
        let b = Big::from_u64(other.mant).shl((other.exp - e) as usize);
        let (sum, neg) = if self.neg == other.neg {
            (a.add(&b), self.neg)
        } else {
            match a.cmp(&b) {
                Ordering::Equal => return LongDouble::zero(false),
                Ordering::Greater => (a.sub(&b), self.neg),
                Ordering::Less => (b.sub(&a), other.neg),
            }
        };
        round(neg, &sum, e, false)
    }

    /// `%.17Lf` as glibc prints it, then Redis's `LD_STR_HUMAN` trimming: trailing zeros and a
    /// bare point removed, `-0` turned into `0`.
    pub fn to_human(self) -> String {
        debug_assert!(self.is_finite());
        let mut digits = if self.exp >= 0 {
            let mut d = Big::from_u64(self.mant).shl(self.exp as usize).to_decimal();
            d.push_str("00000000000000000");
            d
        } else {
            let scaled = Big::from_u64(self.mant)
                .mul_small(1_000_000_000)
                .mul_small(100_000_000);
            let drop = (-self.exp) as usize;
            let mut q = scaled.shr(drop);
            let half = scaled.bit(drop - 1);
            if half && (scaled.any_below(drop - 1) || q.bit(0)) {
                q = q.add(&Big::from_u64(1));
            }
            q.to_decimal()
        };
        while digits.len() < 18 {
            digits.insert(0, '0');
        }
        let point = digits.len() - 17;
        let mut text = String::with_capacity(digits.len() + 2);
        if self.neg {
            text.push('-');
        }
        text.push_str(&digits[..point]);
        text.push('.');
        text.push_str(&digits[point..]);
        let trimmed = text.trim_end_matches('0').trim_end_matches('.');
        if trimmed == "-0" {
            return "0".to_string();
        }
        trimmed.to_string()
    }
}

fn is_zero_text(body: &[u8]) -> bool {
    let mantissa_end = if body.len() > 2 && body[0] == b'0' && (body[1] | 0x20) == b'x' {
        body.iter()
            .position(|&b| b == b'p' || b == b'P')
            .unwrap_or(body.len())
    } else {
        body.iter()
            .position(|&b| b == b'e' || b == b'E')
            .unwrap_or(body.len())
    };
    let mantissa = &body[..mantissa_end];
    let mantissa = mantissa
        .strip_prefix(b"0x")
        .or_else(|| mantissa.strip_prefix(b"0X"))
        .unwrap_or(mantissa);
    mantissa.iter().all(|&b| b == b'0' || b == b'.')
}

/// Splits `digits[.digits][<marker>[sign]digits]` into (all mantissa digits, digits after the
/// point, exponent). Any other shape is refused, as strtold would stop early.
fn split_number(body: &[u8], is_digit: fn(u8) -> bool, marker: u8) -> Option<(Vec<u8>, i64, i64)> {
    let mut i = 0;
    let mut digits = Vec::new();
    let mut frac = 0i64;
    let mut seen_point = false;
    while i < body.len() {
        let b = body[i];
        if is_digit(b) {
            digits.push(b);
            if seen_point {
                frac += 1;
            }
        } else if b == b'.' && !seen_point {
            seen_point = true;
        } else {
            break;
        }
        i += 1;
    }
    if digits.is_empty() {
        return None;
    }
    let mut exp = 0i64;
    if i < body.len() {
        if body[i] | 0x20 != marker {
            return None;
        }
        i += 1;
        let neg = match body.get(i) {
            Some(b'-') => {
                i += 1;
                true
            }
            Some(b'+') => {
                i += 1;
                false
            }
            _ => false,
        };
        let exp_digits = &body[i..];
        if exp_digits.is_empty() || !exp_digits.iter().all(u8::is_ascii_digit) {
            return None;
        }
        for &d in exp_digits {
            // Saturate: anything this large already over- or underflows.
            exp = (exp * 10 + i64::from(d - b'0')).min(1 << 40);
        }
        if neg {
            exp = -exp;
        }
    }
    Some((digits, frac, exp))
}

fn parse_decimal(neg: bool, body: &[u8]) -> Option<LongDouble> {
    let (digits, frac, exp) = split_number(body, |b| b.is_ascii_digit(), b'e')?;
    let first = digits.iter().position(|&d| d != b'0');
    let Some(first) = first else {
        return Some(LongDouble::zero(neg));
    };
    let last = digits.iter().rposition(|&d| d != b'0').unwrap_or(first);
    let significant = &digits[first..=last];
    // value = D * 10^k with D the significant digits.
    let k = exp - frac + (digits.len() - 1 - last) as i64;
    let magnitude = significant.len() as i64 + k; // value < 10^magnitude
    if magnitude > 4934 {
        return Some(LongDouble::inf(neg));
    }
    if magnitude < -4952 {
        return Some(LongDouble::zero(neg));
    }
    let mut d = Big::default();
    for chunk in significant.chunks(9) {
        let mut part = 0u32;
        for &c in chunk {
            part = part * 10 + u32::from(c - b'0');
        }
        d = d
            .mul_small(10u32.pow(chunk.len() as u32))
            .add(&Big::from_u64(u64::from(part)));
    }
    if k >= 0 {
        return Some(round(neg, &d.mul(&Big::pow10(k as usize)), 0, false));
    }
    let p = Big::pow10((-k) as usize);
    let s = (p.bits() as i64 - d.bits() as i64 + 66).max(0) as usize;
    let (q, inexact) = d.shl(s).div_short_quotient(&p);
    Some(round(neg, &q, -(s as i64), inexact))
}

fn parse_hex(neg: bool, body: &[u8]) -> Option<LongDouble> {
    let (digits, frac, exp) = split_number(body, |b| b.is_ascii_hexdigit(), b'p')?;
    let mut m = Big::default();
    for &c in &digits {
        let v = (c as char).to_digit(16).expect("hex digit checked") as u64;
        m = m.mul_small(16).add(&Big::from_u64(v));
    }
    if m.is_zero() {
        return Some(LongDouble::zero(neg));
    }
    let e = exp - 4 * frac;
    if m.bits() as i64 + e > BITS_MAX + 1 {
        return Some(LongDouble::inf(neg));
    }
    Some(round(neg, &m, e, false))
}

/// Rounds `(-1)^neg * m * 2^e` (plus a sticky bit for nonzero bits below `m`) to the nearest
/// extended value, ties to even, with subnormals and overflow to infinity.
fn round(neg: bool, m: &Big, e: i64, sticky: bool) -> LongDouble {
    let len = m.bits() as i64;
    if len == 0 {
        return LongDouble::zero(neg);
    }
    let mut shift = len - 64;
    if e + shift < EXP_MIN {
        shift = EXP_MIN - e;
    }
    let (mut q, mut exp) = if shift > 0 {
        let drop = shift as usize;
        let mut q = m.shr(drop).low_u128();
        let half = m.bit(drop - 1);
        if half && (sticky || m.any_below(drop - 1) || q & 1 == 1) {
            q += 1;
        }
        (q, e + shift)
    } else {
        (m.low_u128() << (-shift) as u32, e + shift)
    };
    if q == 1u128 << 64 {
        q = 1 << 63;
        exp += 1;
    }
    if q == 0 {
        return LongDouble::zero(neg);
    }
    let q_bits = 128 - i64::from(q.leading_zeros());
    if q_bits + exp > BITS_MAX {
        return LongDouble::inf(neg);
    }
    LongDouble {
        neg,
        class: Class::Finite,
        mant: q as u64,
        exp,
    }
}

/// Just enough of an unsigned big integer (little-endian 32-bit limbs, no trailing zero limbs).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct Big {
    limbs: Vec<u32>,
}

impl Big {
    fn from_u64(v: u64) -> Big {
        let mut b = Big {
            limbs: vec![v as u32, (v >> 32) as u32],
        };
        b.trim();
        b
    }

    fn pow10(k: usize) -> Big {
        let mut p = Big::from_u64(1);
        let mut left = k;
        while left >= 9 {
            p = p.mul_small(1_000_000_000);
            left -= 9;
        }
        p.mul_small(10u32.pow(left as u32))
    }

    fn trim(&mut self) {
        while self.limbs.last() == Some(&0) {
            self.limbs.pop();
        }
    }

    fn is_zero(&self) -> bool {
        self.limbs.is_empty()
    }

    fn bits(&self) -> usize {
        match self.limbs.last() {
            None => 0,
            Some(top) => self.limbs.len() * 32 - top.leading_zeros() as usize,
        }
    }

    fn bit(&self, i: usize) -> bool {
        self.limbs
            .get(i / 32)
            .is_some_and(|l| l >> (i % 32) & 1 == 1)
    }

    /// True if any bit below position `i` is set.
    fn any_below(&self, i: usize) -> bool {
        let whole = (i / 32).min(self.limbs.len());
        if self.limbs[..whole].iter().any(|&l| l != 0) {
            return true;
        }
        let part = i % 32;
        part > 0
            && self
                .limbs
                .get(i / 32)
                .is_some_and(|l| l & ((1u32 << part) - 1) != 0)
    }

    fn low_u128(&self) -> u128 {
        self.limbs
            .iter()
            .take(4)
            .enumerate()
            .fold(0u128, |acc, (i, &l)| acc | u128::from(l) << (32 * i))
    }

    fn shl(&self, n: usize) -> Big {
        if self.is_zero() {
            return Big::default();
        }
        let (whole, part) = (n / 32, n % 32);
        let mut limbs = vec![0u32; whole];
        let mut carry = 0u32;
        for &l in &self.limbs {
            if part == 0 {
                limbs.push(l);
            } else {
                limbs.push(l << part | carry);
                carry = l >> (32 - part);
            }
        }
        limbs.push(carry);
        let mut b = Big { limbs };
        b.trim();
        b
    }

    fn shr(&self, n: usize) -> Big {
        let (whole, part) = (n / 32, n % 32);
        if whole >= self.limbs.len() {
            return Big::default();
        }
        let src = &self.limbs[whole..];
        let mut limbs = Vec::with_capacity(src.len());
        for i in 0..src.len() {
            let hi = src.get(i + 1).copied().unwrap_or(0);
            limbs.push(if part == 0 {
                src[i]
            } else {
                src[i] >> part | hi << (32 - part)
            });
        }
        let mut b = Big { limbs };
        b.trim();
        b
    }

    fn add(&self, other: &Big) -> Big {
        let n = self.limbs.len().max(other.limbs.len());
        let mut limbs = Vec::with_capacity(n + 1);
        let mut carry = 0u64;
        for i in 0..n {
            let s = u64::from(self.limbs.get(i).copied().unwrap_or(0))
                + u64::from(other.limbs.get(i).copied().unwrap_or(0))
                + carry;
            limbs.push(s as u32);
            carry = s >> 32;
        }
        limbs.push(carry as u32);
        let mut b = Big { limbs };
        b.trim();
        b
    }

    /// `self - other`; requires `self >= other`.
    fn sub(&self, other: &Big) -> Big {
        let mut limbs = Vec::with_capacity(self.limbs.len());
        let mut borrow = 0i64;
        for i in 0..self.limbs.len() {
            let mut d = i64::from(self.limbs[i])
                - i64::from(other.limbs.get(i).copied().unwrap_or(0))
                - borrow;
            borrow = 0;
            if d < 0 {
                d += 1 << 32;
                borrow = 1;
            }
            limbs.push(d as u32);
        }
        debug_assert_eq!(borrow, 0);
        let mut b = Big { limbs };
        b.trim();
        b
    }

    fn cmp(&self, other: &Big) -> Ordering {
        self.limbs
            .len()
            .cmp(&other.limbs.len())
            .then_with(|| self.limbs.iter().rev().cmp(other.limbs.iter().rev()))
    }

    fn mul_small(&self, m: u32) -> Big {
        let mut limbs = Vec::with_capacity(self.limbs.len() + 1);
        let mut carry = 0u64;
        for &l in &self.limbs {
            let p = u64::from(l) * u64::from(m) + carry;
            limbs.push(p as u32);
            carry = p >> 32;
        }
        limbs.push(carry as u32);
        let mut b = Big { limbs };
        b.trim();
        b
    }

    fn mul(&self, other: &Big) -> Big {
        let mut limbs = vec![0u32; self.limbs.len() + other.limbs.len()];
        for (i, &a) in self.limbs.iter().enumerate() {
            let mut carry = 0u64;
            for (j, &b) in other.limbs.iter().enumerate() {
                let t = u64::from(limbs[i + j]) + u64::from(a) * u64::from(b) + carry;
                limbs[i + j] = t as u32;
                carry = t >> 32;
            }
            let mut k = i + other.limbs.len();
            while carry > 0 {
                let t = u64::from(limbs[k]) + carry;
                limbs[k] = t as u32;
                carry = t >> 32;
                k += 1;
            }
        }
        let mut b = Big { limbs };
        b.trim();
        b
    }

    /// `self / d` by shift-and-subtract, for quotients of a few dozen bits (parsing scales the
    /// dividend so the quotient has about 66). Returns the quotient and whether it was inexact.
    fn div_short_quotient(&self, d: &Big) -> (Big, bool) {
        let q_bits = (self.bits() + 1).saturating_sub(d.bits());
        let mut rem = self.clone();
        let mut q = Big::default();
        for i in (0..q_bits).rev() {
            let t = d.shl(i);
            if rem.cmp(&t) != Ordering::Less {
                rem = rem.sub(&t);
                q = q.add(&Big::from_u64(1).shl(i));
            }
        }
        (q, !rem.is_zero())
    }

    fn div_small(&self, d: u32) -> (Big, u32) {
        let mut limbs = vec![0u32; self.limbs.len()];
        let mut rem = 0u64;
        for i in (0..self.limbs.len()).rev() {
            let cur = rem << 32 | u64::from(self.limbs[i]);
            limbs[i] = (cur / u64::from(d)) as u32;
            rem = cur % u64::from(d);
        }
        let mut b = Big { limbs };
        b.trim();
        (b, rem as u32)
    }

    fn to_decimal(&self) -> String {
        if self.is_zero() {
            return "0".to_string();
        }
        let mut parts = Vec::new();
        let mut cur = self.clone();
        while !cur.is_zero() {
            let (q, r) = cur.div_small(1_000_000_000);
            parts.push(r);
            cur = q;
        }
        let mut text = parts.pop().expect("nonzero has a part").to_string();
        for p in parts.iter().rev() {
            text.push_str(&format!("{p:09}"));
        }
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sum(a: &str, b: &str) -> String {
        let a = LongDouble::parse(a.as_bytes()).unwrap();
        let b = LongDouble::parse(b.as_bytes()).unwrap();
        a.add(b).to_human()
    }

    #[test]
    fn matches_redis_replies() {
        // Replies captured from redis-server 7.0.15 on x86-64.
        assert_eq!(sum("0.1", "0.2"), "0.3");
        assert_eq!(sum("10.5", "0.1"), "10.6");
        assert_eq!(sum("0", "3.0e3"), "3000");
        assert_eq!(sum("0", "5.0e3"), "5000");
        assert_eq!(sum("1e-20", "-2e-20"), "0");
        assert_eq!(sum("0", "0x1p-3"), "0.125");
        assert_eq!(sum("1.", "-.5e1"), "-4");
        assert_eq!(
            sum("0", "1.7976931348623157e308"),
            "179769313486231569995921046774104434048386446944329178485314420765176628523124396354701868608387085564428793419425520689308708363451136055357897278026477617073498977686288394835618163294045594434929537447290627480669417384648879122776218333598953852832103282504751611691208117720159985926376802466863339536384"
        );
    }

    #[test]
    fn huge_exponent_prints_every_digit() {
        let text = sum("0.3", "1e4000");
        assert!(text.starts_with(
            "9999999999999999999965463873099623784932492583506957631301508333043261943306342355"
        ));
        assert!(text.ends_with("206648276349901340672"));
        assert_eq!(text.len(), 4000);
    }

    #[test]
    fn refuses_what_string2ld_refuses() {
        for bad in [
            "", " 1", "1 ", ".", "1e", "1e+", "nan", "-nan", "1e-5000", "1e5000", "1_0", "0x",
            "abc", "1.2.3",
        ] {
            assert!(LongDouble::parse(bad.as_bytes()).is_none(), "{bad:?}");
        }
        for good in [
            "1.",
            ".5",
            "-0",
            "+1",
            "inf",
            "-Infinity",
            "0x10",
            "0X1.8p1",
            "1E3",
            "0e999999",
        ] {
            assert!(LongDouble::parse(good.as_bytes()).is_some(), "{good:?}");
        }
        assert!(!LongDouble::parse(b"inf")
            .unwrap()
            .add(LongDouble::parse(b"1").unwrap())
            .is_finite());
    }
}
