//! Argument parsing helpers with Redis's exact error texts.

use crate::error::CommandError;
use crate::protocol::request::parse_i64_strict;

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
