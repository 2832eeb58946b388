//! Argument parsing helpers with Redis's exact error texts.

use crate::error::CommandError;
use crate::strconv::parse_i64_strict;

/// An integer argument (`ERR value is not an integer or out of range`).
pub fn parse_i64(arg: &[u8]) -> Result<i64, CommandError> {
    parse_i64_strict(arg).ok_or(CommandError::NotInteger)
}

/// A non-negative integer that fits `usize`.
pub fn parse_usize(arg: &[u8]) -> Result<usize, CommandError> {
    let n = parse_i64(arg)?;
    usize::try_from(n).map_err(|_| CommandError::NotInteger)
}

/// A float as Redis's `getLongDoubleFromObject` / `strtold` reads it: leading/trailing spaces
/// and NaN are rejected; `inf`, `+inf`, `-inf` are accepted.
pub fn parse_f64(arg: &[u8]) -> Result<f64, CommandError> {
    parse_f64_opt(arg).ok_or(CommandError::NotFloat)
}

/// A double as Redis's `getDoubleFromObject` / `strtod` reads it (scores, weights): like
/// `parse_f64`, and a finite number that overflows to infinity or underflows to zero is an
/// error (strtod's ERANGE) (`ERR value is not a valid float`).
pub fn parse_double(arg: &[u8]) -> Result<f64, CommandError> {
    if let Some(value) = parse_hex_float(arg) {
        return Ok(value);
    }
    let value = parse_f64(arg)?;
    let text = arg.to_ascii_lowercase();
    let written_inf = text.ends_with(b"inf") || text.ends_with(b"infinity");
    let mantissa = text.split(|&b| b == b'e').next().unwrap_or_default();
    let nonzero_digits = mantissa.iter().any(|b| (b'1'..=b'9').contains(b));
    if (value.is_infinite() && !written_inf) || (value == 0.0 && nonzero_digits) {
        return Err(CommandError::NotFloat);
    }
    Ok(value)
}

/// A C99 hexadecimal float as strtod reads it (`0x10`, `-0X1.8p3`): the whole argument, no
/// spaces; `None` for anything else.
pub fn parse_hex_float(arg: &[u8]) -> Option<f64> {
    let (negative, rest) = match arg.first()? {
        b'-' => (true, &arg[1..]),
        b'+' => (false, &arg[1..]),
        _ => (false, arg),
    };
    let rest = rest
        .strip_prefix(b"0x")
        .or_else(|| rest.strip_prefix(b"0X"))?;
    let (digits, exponent) = match rest.iter().position(|&b| b == b'p' || b == b'P') {
        Some(at) => (&rest[..at], Some(&rest[at + 1..])),
        None => (rest, None),
    };
    let (int_part, frac_part) = match digits.iter().position(|&b| b == b'.') {
        Some(at) => (&digits[..at], &digits[at + 1..]),
        None => (digits, &digits[digits.len()..]),
    };
    if int_part.is_empty() && frac_part.is_empty() {
        return None;
    }
    let mut value = 0f64;
    for &b in int_part {
        value = value * 16.0 + f64::from((b as char).to_digit(16)?);
    }
    let mut scale = 1.0 / 16.0;
    for &b in frac_part {
        value += f64::from((b as char).to_digit(16)?) * scale;
        scale /= 16.0;
    }
    if let Some(exp) = exponent {
        let exp: i32 = std::str::from_utf8(exp).ok()?.parse().ok()?;
        value *= 2f64.powi(exp);
    }
    if value.is_infinite() {
        return None;
    }
    Some(if negative { -value } else { value })
}

pub fn parse_f64_opt(arg: &[u8]) -> Option<f64> {
    let text = std::str::from_utf8(arg).ok()?;
    if text.is_empty()
        || text.starts_with(char::is_whitespace)
        || text.ends_with(char::is_whitespace)
    {
        return None;
    }
    let lower = text.to_ascii_lowercase();
    let value = match lower.as_str() {
        "inf" | "+inf" | "infinity" | "+infinity" => f64::INFINITY,
        "-inf" | "-infinity" => f64::NEG_INFINITY,
        _ => {
            // Rust's parser accepts forms strtold rejects ("1_0" no, but "infinity" handled above);
            // reject anything that is not a plain decimal or hex-free number.
            if !lower
                .bytes()
                .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'-' | b'+'))
            {
                return None;
            }
            lower.parse::<f64>().ok()?
        }
    };
    if value.is_nan() {
        return None;
    }
    Some(value)
}

/// Case-insensitive comparison of an argument with an ASCII keyword.
pub fn is(arg: &[u8], keyword: &str) -> bool {
    arg.eq_ignore_ascii_case(keyword.as_bytes())
}

/// Lower-cased copy of an argument, for error messages and table lookups.
pub fn lower(arg: &[u8]) -> String {
    String::from_utf8_lossy(arg).to_ascii_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floats() {
        assert_eq!(parse_f64(b"1.5").unwrap(), 1.5);
        assert_eq!(parse_f64(b"-inf").unwrap(), f64::NEG_INFINITY);
        assert_eq!(parse_f64(b"1e3").unwrap(), 1000.0);
        assert!(parse_f64(b"nan").is_err());
        assert!(parse_f64(b" 1").is_err());
        assert!(parse_f64(b"abc").is_err());
        assert!(parse_f64(b"").is_err());
    }
}
