//! LZF, the compression Redis applies to long strings in RDB files (liblzf's format).
//!
//! A compressed stream is a sequence of chunks, each opened by a control byte:
//! - `000LLLLL`: a literal run of L+1 bytes (1..=32) follows;
//! - `LLLooooo oooooooo` with L in 1..=6: copy L+2 bytes from `offset + 1` bytes back, where
//!   the offset is the 13 bits `ooooo oooooooo`;
//! - `111ooooo EEEEEEEE oooooooo`: the same with length 7 + E + 2 (up to 264).
//!
//! The compressor is a plain greedy matcher over a hash of the next three bytes; its output
//! need not match liblzf byte for byte, only decode to the same input.

/// Longest back reference: 7 + 255 + 2 bytes.
const MATCH_LEN_MAX: usize = 264;
/// Farthest back reference: 13 bits of offset, plus one.
const MATCH_DISTANCE_MAX: usize = 1 << 13;
const LITERAL_RUN_MAX: usize = 32;
/// The match table has 2^bits slots: enough for the input, at most 2^14 (liblzf's size), so
/// a short string does not pay for clearing a large table.
const HASH_BITS_MIN: u32 = 6;
const HASH_BITS_MAX: u32 = 14;

/// Output bytes a stream of `compressed_len` bytes can expand to at most: a 3-byte back
/// reference yields 264 bytes. Used to refuse a declared length before allocating it.
pub fn expansion_max(compressed_len: usize) -> usize {
    compressed_len.saturating_mul(MATCH_LEN_MAX / 3 + 1)
}

/// Decompresses `input` into exactly `out_len` bytes; None if the stream is malformed or does
/// not produce exactly `out_len` bytes. `out_len` must already be checked against
/// `expansion_max(input.len())` by the caller.
pub fn decompress(input: &[u8], out_len: usize) -> Option<Vec<u8>> {
    if out_len > expansion_max(input.len()) {
        return None;
    }
    let mut out = Vec::with_capacity(out_len);
    let mut i = 0;
    while i < input.len() {
        let ctrl = input[i] as usize;
        i += 1;
        if ctrl < 32 {
            let run = ctrl + 1;
            let literal = input.get(i..i + run)?;
            if out.len() + run > out_len {
                return None;
            }
            out.extend_from_slice(literal);
            i += run;
            continue;
        }
        let mut len = ctrl >> 5;
        if len == 7 {
            len += *input.get(i)? as usize;
            i += 1;
        }
        len += 2;
        let distance = ((ctrl & 0x1f) << 8) + *input.get(i)? as usize + 1;
        i += 1;
        if distance > out.len() || out.len() + len > out_len {
            return None;
        }
        // A reference may overlap the bytes it produces (a run): the output from `start` is
        // periodic with period `distance`, so copying whole periods from `start` doubles the
        // available source each step instead of going byte by byte.
        let start = out.len() - distance;
        let mut copied = 0;
        while copied < len {
            let chunk = (len - copied).min(out.len() - start);
            out.extend_from_within(start..start + chunk);
            copied += chunk;
        }
    }
    (out.len() == out_len).then_some(out)
}

fn hash3(bytes: &[u8], bits: u32) -> usize {
    let v = u32::from(bytes[0]) << 16 | u32::from(bytes[1]) << 8 | u32::from(bytes[2]);
    (v.wrapping_mul(2_654_435_761) >> (32 - bits)) as usize
}

/// Compresses `input`; None when the result would exceed `out_max` bytes (then the caller
/// stores the string uncompressed, as Redis does).
pub fn compress(input: &[u8], out_max: usize) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(out_max.min(input.len()));
    let bits = (usize::BITS - input.len().leading_zeros()).clamp(HASH_BITS_MIN, HASH_BITS_MAX);
    let mut table = vec![usize::MAX; 1 << bits];
    let mut literal_from = 0;
    let mut i = 0;
    while i + 2 < input.len() {
        let h = hash3(&input[i..], bits);
        let candidate = table[h];
        table[h] = i;
        let usable = candidate != usize::MAX
            && i - candidate <= MATCH_DISTANCE_MAX
            && input[candidate..candidate + 3] == input[i..i + 3];
        if !usable {
            i += 1;
            continue;
        }
        let limit = (input.len() - i).min(MATCH_LEN_MAX);
        let mut len = 3;
        while len < limit && input[candidate + len] == input[i + len] {
            len += 1;
        }
        push_literals(&mut out, &input[literal_from..i]);
        let distance = i - candidate - 1;
        let code = len - 2;
        if code < 7 {
            out.push((code << 5 | distance >> 8) as u8);
        } else {
            out.push((7 << 5 | distance >> 8) as u8);
            out.push((code - 7) as u8);
        }
        out.push((distance & 0xff) as u8);
        i += len;
        literal_from = i;
        if out.len() > out_max {
            return None;
        }
    }
    push_literals(&mut out, &input[literal_from..]);
    (out.len() <= out_max).then_some(out)
}

fn push_literals(out: &mut Vec<u8>, mut literals: &[u8]) {
    while !literals.is_empty() {
        let run = literals.len().min(LITERAL_RUN_MAX);
        out.push((run - 1) as u8);
        out.extend_from_slice(&literals[..run]);
        literals = &literals[run..];
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(data: &[u8]) {
        let packed = compress(data, data.len() + data.len() / 32 + 2).expect("fits");
        assert_eq!(decompress(&packed, data.len()).as_deref(), Some(data));
    }

    #[test]
    fn round_trips() {
        round_trip(b"");
        round_trip(b"a");
        round_trip(&[b'x'; 10_000]);
        round_trip(b"abcabcabcabcabcabcabcabc hello hello hello hello");
        let noise: Vec<u8> = (0..5000u32)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
            .collect();
        round_trip(&noise);
        let mixed: Vec<u8> = (0..20_000u32)
            .map(|i| (i % 251) as u8 ^ (i / 97) as u8)
            .collect();
        round_trip(&mixed);
    }

    #[test]
    fn repetitive_input_shrinks_and_noise_does_not_fit() {
        assert!(compress(&[b'a'; 1000], 100).is_some());
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        let noise: Vec<u8> = (0..1000)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                (x >> 24) as u8
            })
            .collect();
        assert!(compress(&noise, 996).is_none());
    }

    #[test]
    fn malformed_streams_are_refused() {
        assert_eq!(decompress(&[0x20, 0x00], 3), None); // reference before any output
        assert_eq!(decompress(&[0x05, b'a'], 6), None); // literal run cut short
        assert_eq!(decompress(&[0x00, b'a'], 2), None); // wrong total length
        assert_eq!(decompress(&[0x00, b'a'], usize::MAX), None); // length beyond expansion
        assert_eq!(
            decompress(&[0x00, b'a', 0x20, 0x00], 4).as_deref(),
            Some(&b"aaaa"[..])
        );
    }
}
