//! Hash slots, as the Redis Cluster specification defines them: `CRC16(key) mod 16384`, where
//! only the part between the first `{` and the next `}` is hashed when that part is not empty
//! (a hash tag), so related keys can be made to share a slot.
//!
//! The CRC is CRC-16/XMODEM (the specification's "CCITT" variant): polynomial 0x1021, initial
//! value 0, bits not reflected, no final XOR. Its check value is `CRC16("123456789") = 0x31C3`.

/// Number of hash slots.
pub const SLOTS: usize = 16384;

/// The CRC of every byte value, computed at compile time from the polynomial.
const TABLE: [u16; 256] = {
    let mut table = [0u16; 256];
    let mut byte = 0;
    while byte < 256 {
        let mut crc = (byte as u16) << 8;
        let mut bit = 0;
        while bit < 8 {
            crc = if crc & 0x8000 != 0 {
                (crc << 1) ^ 0x1021
            } else {
                crc << 1
            };
            bit += 1;
        }
        table[byte] = crc;
        byte += 1;
    }
    table
};

/// CRC-16/XMODEM of `bytes`.
pub fn crc16(bytes: &[u8]) -> u16 {
    bytes.iter().fold(0u16, |crc, &b| {
        (crc << 8) ^ TABLE[usize::from((crc >> 8) as u8 ^ b)]
    })
}

/// The part of `key` that is hashed: the bytes between the first `{` and the first `}` after
/// it when there are any, else the whole key (`{}` or an unclosed `{` hash the whole key).
pub fn hashed_part(key: &[u8]) -> &[u8] {
    if let Some(open) = key.iter().position(|&b| b == b'{') {
        if let Some(len) = key[open + 1..].iter().position(|&b| b == b'}') {
            if len > 0 {
                return &key[open + 1..open + 1 + len];
            }
        }
    }
    key
}

/// The hash slot of a key (0..16384).
pub fn key_slot(key: &[u8]) -> u16 {
    crc16(hashed_part(key)) & (SLOTS as u16 - 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc_check_value_of_the_specification() {
        assert_eq!(crc16(b"123456789"), 0x31C3);
        assert_eq!(crc16(b""), 0);
    }

    #[test]
    fn slots_match_redis_server() {
        // Values answered by redis-server 7.0.15's CLUSTER KEYSLOT.
        assert_eq!(key_slot(b"foo"), 12182);
        assert_eq!(key_slot(b"{user1000}.following"), 3443);
        assert_eq!(key_slot(b"{user1000}.followers"), 3443);
        assert_eq!(key_slot(b"foo{}{bar}"), 8363);
        assert_eq!(key_slot(b"foo{{bar}}zap"), 4015);
        assert_eq!(key_slot(b"a"), 15495);
        assert_eq!(key_slot(b"{a}x"), 15495);
    }

    #[test]
    fn hash_tags() {
        assert_eq!(hashed_part(b"{a}b"), b"a");
        assert_eq!(hashed_part(b"x{}y"), b"x{}y");
        assert_eq!(hashed_part(b"x{y"), b"x{y");
        assert_eq!(hashed_part(b"x}y{z}"), b"z");
        assert_eq!(hashed_part(b"{{a}}"), b"{a");
        assert_eq!(hashed_part(b""), b"");
    }
}
