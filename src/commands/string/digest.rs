//! Redis 8.4's value digests: DIGEST, and the digest side of SET's IFDEQ / IFDNE and DELEX's
//! IFDEQ / IFDNE conditions.
//!
//! A digest is the XXH3 64-bit hash (seed 0) of the string's bytes, shown as 16 lowercase
//! hexadecimal digits, as redis.io documents (`SET key1 "Hello world"` then `DIGEST key1` is
//! `"b6acb9d84a38ff74"`). A client compares a large value by sending 16 bytes instead of the
//! value. A digest argument must be 16 hexadecimal digits in either case; anything else is
//! refused with [`BAD_DIGEST`] rather than silently never matching.

use crate::commands::string::as_str;
use crate::error::CommandError;
use crate::protocol::Reply;
use crate::{engine::CommandResult, engine::Ctx};
use bytes::Bytes;

/// The error for a digest argument that is not 16 hexadecimal digits.
pub const BAD_DIGEST: &str = "The digest must be exactly 16 hexadecimal characters";

/// The XXH3-64 digest of a string value.
pub fn digest_of(value: &[u8]) -> u64 {
    xxhash_rust::xxh3::xxh3_64(value)
}

/// The digest as DIGEST prints it: 16 lowercase hexadecimal digits.
pub fn digest_hex(value: &[u8]) -> String {
    format!("{:016x}", digest_of(value))
}

/// Parses a digest argument of IFDEQ / IFDNE.
pub fn parse_digest(arg: &[u8]) -> Result<u64, CommandError> {
    if arg.len() != 16 || !arg.iter().all(u8::is_ascii_hexdigit) {
        return Err(CommandError::err(BAD_DIGEST));
    }
    let text = std::str::from_utf8(arg).map_err(|_| CommandError::err(BAD_DIGEST))?;
    u64::from_str_radix(text, 16).map_err(|_| CommandError::err(BAD_DIGEST))
}

/// DIGEST key: the value's digest, nil when the key is missing, WRONGTYPE for other types.
pub fn digest(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CommandResult {
    let now = ctx.now_ms;
    let (shard, hash) = ctx.shard(&argv[1]);
    match shard.get_read(hash, &argv[1], now) {
        None => Ok(Reply::Nil),
        Some(entry) => Ok(Reply::Bulk(digest_hex(as_str(entry.value())?).into())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documented_digests() {
        // redis.io's DIGEST example, and other published XXH3-64 values.
        assert_eq!(digest_hex(b"Hello world"), "b6acb9d84a38ff74");
        assert_eq!(digest_hex(b"foo"), "ab6e5f64077e7d8a");
        assert_eq!(digest_hex(b"Hello, World!"), "60415d5f616602aa");
        assert_eq!(
            digest_hex(b"The quick brown fox jumps over the lazy dog"),
            "ce7d19a5418fb365"
        );
        // The empty string is XXH3's documented seed-0 value.
        assert_eq!(digest_hex(b""), "2d06800538d394c2");
        // Long inputs take XXH3's other code paths (129..240 bytes, and striped above).
        let long = vec![b'x'; 100_000];
        assert_eq!(digest_hex(&long).len(), 16);
    }

    #[test]
    fn digest_arguments() {
        assert_eq!(
            parse_digest(b"B6ACB9D84A38FF74").unwrap(),
            0xb6acb9d84a38ff74
        );
        assert_eq!(parse_digest(b"00000000000000ff").unwrap(), 255);
        for bad in [
            &b""[..],
            b"ff",
            b"b6acb9d84a38ff7g",
            b"b6acb9d84a38ff741",
            b"+6acb9d84a38ff74",
        ] {
            assert!(parse_digest(bad).is_err(), "{bad:?}");
        }
    }
}
