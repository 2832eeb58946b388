//! Stored values. Strings now; the other Redis types join this enum as they arrive.

/// A value held by a key. Stored bytes are copied into their own allocation: keeping a slice of
/// a connection's read buffer would pin the whole buffer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Value {
    Str(Box<[u8]>),
}

impl Value {
    pub fn string(bytes: &[u8]) -> Value {
        Value::Str(bytes.into())
    }

    /// The name TYPE reports and SCAN ... TYPE matches.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Str(_) => "string",
        }
    }

    /// The name OBJECT ENCODING reports, following Redis's rules for strings: `int` for a
    /// canonical integer of at most 20 characters, `embstr` up to 44 bytes, `raw` beyond.
    pub fn encoding_name(&self) -> &'static str {
        match self {
            Value::Str(bytes) => string_encoding(bytes),
        }
    }

    /// Heap bytes this value owns, rounded as an estimate of the allocator's size class.
    pub fn heap_bytes(&self) -> usize {
        match self {
            Value::Str(bytes) => alloc_size(bytes.len()),
        }
    }
}

/// A value borrowed from its entry (see entry.rs: strings live inside the entry's allocation).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ValueRef<'a> {
    Str(&'a [u8]),
}

impl ValueRef<'_> {
    /// The name TYPE reports and SCAN ... TYPE matches.
    pub fn type_name(&self) -> &'static str {
        match self {
            ValueRef::Str(_) => "string",
        }
    }

    /// The name OBJECT ENCODING reports (see `Value::encoding_name`).
    pub fn encoding_name(&self) -> &'static str {
        match self {
            ValueRef::Str(bytes) => string_encoding(bytes),
        }
    }
}

/// Redis's string encodings: `int` for a canonical integer of at most 20 characters, `embstr`
/// up to 44 bytes, `raw` beyond.
fn string_encoding(bytes: &[u8]) -> &'static str {
    if bytes.len() <= 20 && crate::protocol::request::parse_i64_strict(bytes).is_some() {
        "int"
    } else if bytes.len() <= 44 {
        "embstr"
    } else {
        "raw"
    }
}

/// An estimate of what the allocator hands out for a request of `len` bytes (jemalloc's small
/// size classes: 8, 16, 32, 48, 64, 80, ... spaced by a quarter of the power of two).
pub fn alloc_size(len: usize) -> usize {
    if len == 0 {
        return 0;
    }
    if len <= 8 {
        return 8;
    }
    if len <= 16 {
        return 16;
    }
    let pow = usize::BITS - (len - 1).leading_zeros(); // 2^pow >= len
    let spacing = 1usize << (pow - 3).max(3);
    len.div_ceil(spacing) * spacing
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn size_classes() {
        assert_eq!(alloc_size(13), 16);
        assert_eq!(alloc_size(100), 112);
        assert_eq!(alloc_size(113), 128);
        assert_eq!(alloc_size(129), 160);
    }

    #[test]
    fn string_encodings() {
        assert_eq!(Value::string(b"12345").encoding_name(), "int");
        assert_eq!(Value::string(b"012").encoding_name(), "embstr");
        assert_eq!(Value::string(&[b'a'; 45]).encoding_name(), "raw");
    }
}
