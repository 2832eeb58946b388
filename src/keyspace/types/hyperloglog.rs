//! HyperLogLog values in Redis's own representation, so they move through DUMP/RESTORE, RDB
//! and AOF between ferrocache and redis-server, and PFCOUNT answers the same numbers.
//!
//! A HyperLogLog is a string: a 16-byte header (`HYLL`, the encoding byte, three reserved
//! bytes, the cached cardinality as 8 bytes little endian whose top bit marks it stale) and
//! 16384 6-bit registers (P = 14), either
//!
//! - dense: 12288 bytes, register `i` at bit `6 i`, least significant bit first;
//! - sparse: run-length opcodes, ZERO `00xxxxxx` (1..64 zero registers), XZERO
//!   `01xxxxxx yyyyyyyy` (1..16384 zero registers) and VAL `1vvvvvxx` (1..4 registers of value
//!   1..32). A sparse value turns dense when a register needs a value above 32 or when it would
//!   grow past `hll-sparse-max-bytes`, with the same in-place splits and merges of opcodes as
//!   Redis, so both produce the same bytes.
//!
//! Elements are hashed with MurmurHash64A (seed 0xadc83b19): the low 14 bits pick the register,
//! the run of zeros above them (plus one) is the value. The estimate is Otmar Ertl's improved
//! raw estimator ("New cardinality estimation algorithms for HyperLogLog sketches", 2017),
//! computed in the same order of floating-point operations as Redis.

pub const HEADER_BYTES: usize = 16;
pub const P: u32 = 14;
pub const REGISTERS: usize = 1 << P;
/// Bits of the hash left after the register index.
const Q: u32 = 64 - P;
const BITS: usize = 6;
const REGISTER_MAX: u8 = (1 << BITS) - 1;
pub const DENSE_BYTES: usize = HEADER_BYTES + (REGISTERS * BITS).div_ceil(8);
pub const DENSE: u8 = 0;
pub const SPARSE: u8 = 1;
const SPARSE_VAL_MAX_VALUE: u8 = 32;
const SPARSE_VAL_MAX_LEN: usize = 4;
const SPARSE_ZERO_MAX_LEN: usize = 64;
const SPARSE_XZERO_MAX_LEN: usize = 16384;
const ALPHA_INF: f64 = 0.721_347_520_444_481_7;
const SEED: u64 = 0xadc8_3b19;

/// A value that claims to be a HyperLogLog but whose registers do not add up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Corrupt;

/// MurmurHash64A (Austin Appleby), as Redis uses it: 8-byte little-endian blocks, then the
/// tail bytes, then the final mix.
pub fn murmur64a(data: &[u8], seed: u64) -> u64 {
    const M: u64 = 0xc6a4_a793_5bd1_e995;
    const R: u32 = 47;
    let mut h = seed ^ (data.len() as u64).wrapping_mul(M);
    let mut blocks = data.chunks_exact(8);
    for block in &mut blocks {
        let mut k = u64::from_le_bytes(block.try_into().expect("8 bytes"));
        k = k.wrapping_mul(M);
        k ^= k >> R;
        k = k.wrapping_mul(M);
        h ^= k;
        h = h.wrapping_mul(M);
    }
    let tail = blocks.remainder();
    if !tail.is_empty() {
        for (i, &b) in tail.iter().enumerate() {
            h ^= u64::from(b) << (8 * i);
        }
        h = h.wrapping_mul(M);
    }
    h ^= h >> R;
    h = h.wrapping_mul(M);
    h ^= h >> R;
    h
}

/// The register an element lands in and the value it proposes (1..=Q+1).
pub fn register_of(element: &[u8]) -> (usize, u8) {
    let hash = murmur64a(element, SEED);
    let index = (hash & (REGISTERS as u64 - 1)) as usize;
    let rest = (hash >> P) | (1u64 << Q);
    (index, rest.trailing_zeros() as u8 + 1)
}

/// Redis's `isHLLObjectOrReply` checks: long enough, `HYLL`, a known encoding, and a dense
/// value of exactly the dense size.
pub fn is_hll(bytes: &[u8]) -> bool {
    bytes.len() >= HEADER_BYTES
        && &bytes[..4] == b"HYLL"
        && bytes[4] <= SPARSE
        && (bytes[4] != DENSE || bytes.len() == DENSE_BYTES)
}

/// An empty HyperLogLog: sparse, one XZERO covering every register, cached cardinality 0.
pub fn new_sparse() -> Vec<u8> {
    let mut v = Vec::with_capacity(HEADER_BYTES + 2);
    v.extend_from_slice(b"HYLL");
    v.push(SPARSE);
    v.extend_from_slice(&[0; 11]);
    let mut run = REGISTERS;
    while run > 0 {
        let n = run.min(SPARSE_XZERO_MAX_LEN);
        v.extend_from_slice(&xzero(n));
        run -= n;
    }
    v
}

fn xzero(len: usize) -> [u8; 2] {
    let l = len - 1;
    [0x40 | (l >> 8) as u8, (l & 0xff) as u8]
}

fn zero(len: usize) -> u8 {
    (len - 1) as u8
}

fn val(value: u8, len: usize) -> u8 {
    0x80 | ((value - 1) << 2) | (len - 1) as u8
}

/// One sparse opcode at the start of `ops`: (registers covered, value, opcode bytes). A
/// truncated XZERO reads its missing byte as 0, as Redis reads the string's terminator.
fn opcode(ops: &[u8]) -> (usize, u8, usize) {
    let b = ops[0];
    if b & 0xc0 == 0 {
        (usize::from(b & 0x3f) + 1, 0, 1)
    } else if b & 0xc0 == 0x40 {
        let low = ops.get(1).copied().unwrap_or(0);
        ((usize::from(b & 0x3f) << 8 | usize::from(low)) + 1, 0, 2)
    } else {
        (usize::from(b & 0x3) + 1, ((b >> 2) & 0x1f) + 1, 1)
    }
}

pub fn dense_get(registers: &[u8], i: usize) -> u8 {
    let bit = i * BITS;
    let (byte, shift) = (bit / 8, bit % 8);
    let lo = u16::from(registers[byte]);
    let hi = u16::from(registers.get(byte + 1).copied().unwrap_or(0));
    (((lo | hi << 8) >> shift) as u8) & REGISTER_MAX
}

fn dense_put(registers: &mut [u8], i: usize, value: u8) {
    let bit = i * BITS;
    let (byte, shift) = (bit / 8, bit % 8);
    let word = u16::from(value) << shift;
    let mask = u16::from(REGISTER_MAX) << shift;
    registers[byte] = (registers[byte] & !(mask as u8)) | word as u8;
    if let Some(next) = registers.get_mut(byte + 1) {
        *next = (*next & !((mask >> 8) as u8)) | (word >> 8) as u8;
    }
}

/// Raises dense register `i` to `value`; whether it changed.
fn dense_set(registers: &mut [u8], i: usize, value: u8) -> bool {
    if value > dense_get(registers, i) {
        dense_put(registers, i, value);
        true
    } else {
        false
    }
}

/// Marks the cached cardinality stale.
pub fn invalidate_cache(hll: &mut [u8]) {
    hll[15] |= 0x80;
}

/// The cached cardinality, if valid.
pub fn cached_count(hll: &[u8]) -> Option<u64> {
    (hll[15] & 0x80 == 0).then(|| u64::from_le_bytes(hll[8..16].try_into().expect("8 bytes")))
}

pub fn set_cached_count(hll: &mut [u8], count: u64) {
    hll[8..16].copy_from_slice(&count.to_le_bytes());
}

/// Rewrites a sparse value as dense (header and cached cardinality kept).
pub fn to_dense(hll: &mut Vec<u8>) -> Result<bool, Corrupt> {
    if hll[4] == DENSE {
        return Ok(false);
    }
    let mut dense = vec![0u8; DENSE_BYTES];
    dense[..HEADER_BYTES].copy_from_slice(&hll[..HEADER_BYTES]);
    dense[4] = DENSE;
    let mut idx = 0;
    let mut p = HEADER_BYTES;
    while p < hll.len() {
        let (run, value, len) = opcode(&hll[p..]);
        if value > 0 {
            if idx + run > REGISTERS {
                break;
            }
            for i in idx..idx + run {
                dense_put(&mut dense[HEADER_BYTES..], i, value);
            }
        }
        idx += run;
        p += len;
    }
    if idx != REGISTERS {
        return Err(Corrupt);
    }
    *hll = dense;
    Ok(true)
}

/// Raises register `index` to `count`, in either encoding (Redis's `hllSparseSet` /
/// `hllDenseSet`, promoting to dense as it does). Whether the register changed.
pub fn set_register(
    hll: &mut Vec<u8>,
    index: usize,
    count: u8,
    sparse_max: usize,
) -> Result<bool, Corrupt> {
    if hll[4] == DENSE {
        return Ok(dense_set(&mut hll[HEADER_BYTES..], index, count));
    }
    if count > SPARSE_VAL_MAX_VALUE {
        return promote(hll, index, count);
    }
    // Step 1: the opcode covering `index`.
    let end = hll.len();
    let mut p = HEADER_BYTES;
    let mut first = 0;
    let mut prev = None;
    let mut span = 0;
    let mut oplen = 1;
    while p < end {
        let (run, _, len) = opcode(&hll[p..]);
        span = run;
        oplen = len;
        if index < first + span {
            break;
        }
        prev = Some(p);
        p += len;
        first += span;
    }
    if span == 0 || p >= end {
        return Err(Corrupt);
    }
    let (runlen, value, _) = opcode(&hll[p..]);
    let is_val = value > 0;
    // Step 2: the trivial cases, updated in place.
    if is_val && value >= count {
        return Ok(false);
    }
    if runlen == 1 && (is_val || oplen == 1) {
        hll[p] = val(count, 1);
    } else {
        // The general case: split the opcode in up to three.
        let last = first + span - 1;
        let mut seq: Vec<u8> = Vec::with_capacity(5);
        let zeros = |seq: &mut Vec<u8>, len: usize| {
            if len > SPARSE_ZERO_MAX_LEN {
                seq.extend_from_slice(&xzero(len));
            } else {
                seq.push(zero(len));
            }
        };
        if is_val {
            if index != first {
                seq.push(val(value, index - first));
            }
            seq.push(val(count, 1));
            if index != last {
                seq.push(val(value, last - index));
            }
        } else {
            if index != first {
                zeros(&mut seq, index - first);
            }
            seq.push(val(count, 1));
            if index != last {
                zeros(&mut seq, last - index);
            }
        }
        // Step 3: put the sequence in place of the opcode, or go dense if it would grow past
        // hll-sparse-max-bytes.
        if seq.len() > oplen && hll.len() + seq.len() - oplen > sparse_max {
            return promote(hll, index, count);
        }
        hll.splice(p..p + oplen, seq);
    }
    // Step 4: merge adjacent VAL opcodes of the same value, scanning up to five opcodes from
    // the one before the change.
    let mut p = prev.unwrap_or(HEADER_BYTES);
    let mut scan = 5;
    while p < hll.len() && scan > 0 {
        scan -= 1;
        let b = hll[p];
        if b & 0xc0 == 0x40 {
            p += 2;
            continue;
        }
        if b & 0xc0 == 0 {
            p += 1;
            continue;
        }
        if p + 1 < hll.len() && hll[p + 1] & 0x80 != 0 {
            let (len1, v1, _) = opcode(&hll[p..]);
            let (len2, v2, _) = opcode(&hll[p + 1..]);
            if v1 == v2 && len1 + len2 <= SPARSE_VAL_MAX_LEN {
                hll[p + 1] = val(v1, len1 + len2);
                hll.remove(p);
                continue;
            }
        }
        p += 1;
    }
    invalidate_cache(hll);
    Ok(true)
}

fn promote(hll: &mut Vec<u8>, index: usize, count: u8) -> Result<bool, Corrupt> {
    to_dense(hll)?;
    dense_set(&mut hll[HEADER_BYTES..], index, count);
    Ok(true)
}

/// PFADD of one element: whether a register changed.
pub fn add(hll: &mut Vec<u8>, element: &[u8], sparse_max: usize) -> Result<bool, Corrupt> {
    let (index, count) = register_of(element);
    set_register(hll, index, count, sparse_max)
}

/// Raises `max[i]` to each register of `hll` (PFCOUNT of several keys, PFMERGE).
pub fn merge_into(max: &mut [u8], hll: &[u8]) -> Result<(), Corrupt> {
    let registers = &hll[HEADER_BYTES..];
    if hll[4] == DENSE {
        // Four 6-bit registers in every three bytes.
        for (group, m) in registers.chunks_exact(3).zip(max.chunks_exact_mut(4)) {
            let word = u32::from(group[0]) | u32::from(group[1]) << 8 | u32::from(group[2]) << 16;
            for (k, m) in m.iter_mut().enumerate() {
                *m = (*m).max((word >> (6 * k)) as u8 & REGISTER_MAX);
            }
        }
        return Ok(());
    }
    let mut i = 0;
    let mut p = 0;
    while p < registers.len() {
        let (run, value, len) = opcode(&registers[p..]);
        if value > 0 {
            if i + run > REGISTERS {
                break;
            }
            for m in &mut max[i..i + run] {
                *m = (*m).max(value);
            }
        }
        i += run;
        p += len;
    }
    if i == REGISTERS {
        Ok(())
    } else {
        Err(Corrupt)
    }
}

/// The histogram of register values of a value (a sparse one that does not cover exactly
/// every register is corrupt).
fn histogram(hll: &[u8]) -> Result<[u32; 64], Corrupt> {
    let mut h = [0u32; 64];
    let registers = &hll[HEADER_BYTES..];
    if hll[4] == DENSE {
        for group in registers.chunks_exact(3) {
            let word = u32::from(group[0]) | u32::from(group[1]) << 8 | u32::from(group[2]) << 16;
            for k in 0..4 {
                h[((word >> (6 * k)) & 63) as usize] += 1;
            }
        }
        return Ok(h);
    }
    let mut idx = 0;
    let mut p = 0;
    while p < registers.len() {
        let (run, value, len) = opcode(&registers[p..]);
        idx += run;
        h[usize::from(value)] += run as u32;
        p += len;
    }
    if idx == REGISTERS {
        Ok(h)
    } else {
        Err(Corrupt)
    }
}

/// The histogram of raw registers (one byte each), as PFCOUNT's union uses.
pub fn raw_histogram(registers: &[u8]) -> [u32; 64] {
    let mut h = [0u32; 64];
    for &r in registers {
        h[usize::from(r & 63)] += 1;
    }
    h
}

fn sigma(mut x: f64) -> f64 {
    if x == 1.0 {
        return f64::INFINITY;
    }
    let mut y = 1.0;
    let mut z = x;
    loop {
        x *= x;
        let before = z;
        z += x * y;
        y += y;
        if before == z {
            return z;
        }
    }
}

fn tau(mut x: f64) -> f64 {
    if x == 0.0 || x == 1.0 {
        return 0.0;
    }
    let mut y = 1.0;
    let mut z = 1.0 - x;
    loop {
        x = x.sqrt();
        let before = z;
        y *= 0.5;
        z -= (1.0 - x).powf(2.0) * y;
        if before == z {
            return z / 3.0;
        }
    }
}

/// The cardinality estimate from a register histogram.
pub fn estimate(h: &[u32; 64]) -> u64 {
    let m = REGISTERS as f64;
    let q = Q as usize;
    let mut z = m * tau((m - f64::from(h[q + 1])) / m);
    for j in (1..=q).rev() {
        z += f64::from(h[j]);
        z *= 0.5;
    }
    z += m * sigma(f64::from(h[0]) / m);
    (ALPHA_INF * m * m / z).round() as u64
}

/// The estimate of one value (without its cache).
pub fn count(hll: &[u8]) -> Result<u64, Corrupt> {
    Ok(estimate(&histogram(hll)?))
}

/// PFDEBUG DECODE: the sparse opcodes as `z:len`, `Z:len`, `v:value,len`.
pub fn decode(hll: &[u8]) -> String {
    let mut out = Vec::new();
    let mut p = HEADER_BYTES;
    while p < hll.len() {
        let b = hll[p];
        let (run, value, len) = opcode(&hll[p..]);
        out.push(if b & 0xc0 == 0 {
            format!("z:{run}")
        } else if b & 0xc0 == 0x40 {
            format!("Z:{run}")
        } else {
            format!("v:{value},{run}")
        });
        p += len;
    }
    out.join(" ")
}

/// PFSELFTEST: register packing round trips, and sparse and dense values built from the same
/// elements agree register by register and in their estimate, which stays within the expected
/// error.
pub fn self_test() -> Result<(), String> {
    let mut registers = vec![0u8; DENSE_BYTES - HEADER_BYTES];
    let mut seed: u64 = 0x2545_f491;
    let mut expect = vec![0u8; REGISTERS];
    for _ in 0..1000 {
        seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
        let (i, v) = (
            (seed >> 20) as usize % REGISTERS,
            (seed >> 40) as u8 & REGISTER_MAX,
        );
        dense_put(&mut registers, i, v);
        expect[i] = v;
    }
    for (i, &v) in expect.iter().enumerate() {
        if dense_get(&registers, i) != v {
            return Err(format!("TESTFAILED Register error at index {i}"));
        }
    }
    let mut sparse = new_sparse();
    let mut dense = new_sparse();
    to_dense(&mut dense).map_err(|_| "TESTFAILED dense conversion".to_string())?;
    for n in 0..20_000u32 {
        let element = n.to_le_bytes();
        add(&mut sparse, &element, 3000).map_err(|_| "TESTFAILED sparse add".to_string())?;
        add(&mut dense, &element, 3000).map_err(|_| "TESTFAILED dense add".to_string())?;
        if n % 1000 == 999 {
            let (a, b) = (count(&sparse), count(&dense));
            if a != b {
                return Err(format!("TESTFAILED sparse and dense differ at {n}"));
            }
            let estimate = b.unwrap_or(0) as f64;
            let error = (estimate - f64::from(n + 1)).abs() / f64::from(n + 1);
            if error > 5.0 * 1.04 / (REGISTERS as f64).sqrt() {
                return Err(format!(
                    "TESTFAILED Too big error. card:{} abserr:{error}",
                    n + 1
                ));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_value_is_redis_s() {
        let v = new_sparse();
        assert_eq!(v, b"HYLL\x01\0\0\0\0\0\0\0\0\0\0\0\x7f\xff");
        assert_eq!(count(&v), Ok(0));
        assert_eq!(decode(&v), "Z:16384");
    }

    #[test]
    fn grouped_register_reads_match_single_reads() {
        let mut hll = new_sparse();
        to_dense(&mut hll).unwrap();
        for n in 0..3000u32 {
            add(&mut hll, &n.to_be_bytes(), 3000).unwrap();
        }
        let mut max = vec![0u8; REGISTERS];
        merge_into(&mut max, &hll).unwrap();
        let single: Vec<u8> = (0..REGISTERS)
            .map(|i| dense_get(&hll[HEADER_BYTES..], i))
            .collect();
        assert_eq!(max, single);
        assert_eq!(histogram(&hll).unwrap(), raw_histogram(&single));
    }

    #[test]
    fn self_test_passes() {
        self_test().unwrap();
    }

    #[test]
    fn murmur_is_stable() {
        // Tail lengths 0..8 and a full block all reach the final mix.
        let hashes: Vec<u64> = (0..10)
            .map(|n| murmur64a(&b"abcdefghij"[..n], SEED))
            .collect();
        let mut unique = hashes.clone();
        unique.sort_unstable();
        unique.dedup();
        assert_eq!(unique.len(), hashes.len());
    }
}
