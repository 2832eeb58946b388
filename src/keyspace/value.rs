//! Stored values: strings (inside their entry's allocation) and the aggregate types (boxed,
//! behind a pointer in the entry, except a set, whose 8-byte handle the entry holds itself;
//! see `types`).

use super::types::{HashValue, ListValue, SetValue, StreamValue, ZSetValue};

/// A value held by a key. Stored bytes are copied into their own allocation: keeping a slice of
/// a connection's read buffer would pin the whole buffer.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Str(Box<[u8]>),
    Hash(Box<HashValue>),
    List(Box<ListValue>),
    Set(Box<SetValue>),
    ZSet(Box<ZSetValue>),
    Stream(Box<StreamValue>),
}

impl Value {
    pub fn string(bytes: &[u8]) -> Value {
        Value::Str(bytes.into())
    }

    pub fn as_ref(&self) -> ValueRef<'_> {
        match self {
            Value::Str(bytes) => ValueRef::Str(bytes),
            Value::Hash(v) => ValueRef::Hash(v),
            Value::List(v) => ValueRef::List(v),
            Value::Set(v) => ValueRef::Set(v),
            Value::ZSet(v) => ValueRef::ZSet(v),
            Value::Stream(v) => ValueRef::Stream(v),
        }
    }

    /// The name TYPE reports and SCAN ... TYPE matches.
    pub fn type_name(&self) -> &'static str {
        self.as_ref().type_name()
    }

    /// The name OBJECT ENCODING reports (see `ValueRef::encoding_name`).
    pub fn encoding_name(&self) -> &'static str {
        self.as_ref().encoding_name()
    }

    /// Heap bytes this value owns, rounded as an estimate of the allocator's size class.
    pub fn heap_bytes(&self) -> usize {
        match self {
            Value::Str(bytes) => alloc_size(bytes.len()),
            other => other.as_ref().collection_bytes(),
        }
    }
}

/// A value borrowed from its entry (see entry.rs: strings live inside the entry's allocation).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum ValueRef<'a> {
    Str(&'a [u8]),
    Hash(&'a HashValue),
    List(&'a ListValue),
    Set(&'a SetValue),
    ZSet(&'a ZSetValue),
    Stream(&'a StreamValue),
}

impl ValueRef<'_> {
    /// The name TYPE reports and SCAN ... TYPE matches.
    pub fn type_name(&self) -> &'static str {
        match self {
            ValueRef::Str(_) => "string",
            ValueRef::Hash(_) => "hash",
            ValueRef::List(_) => "list",
            ValueRef::Set(_) => "set",
            ValueRef::ZSet(_) => "zset",
            ValueRef::Stream(_) => "stream",
        }
    }

    /// The name OBJECT ENCODING reports: Redis's string rules (see `string_encoding`), and
    /// each aggregate type's own answer.
    pub fn encoding_name(&self) -> &'static str {
        match self {
            ValueRef::Str(bytes) => string_encoding(bytes),
            ValueRef::Hash(v) => v.encoding_name(),
            ValueRef::List(v) => v.encoding_name(),
            ValueRef::Set(v) => v.encoding_name(),
            ValueRef::ZSet(v) => v.encoding_name(),
            ValueRef::Stream(v) => v.encoding_name(),
        }
    }

    /// Heap bytes an aggregate value owns, including its box; 0 for strings (they live in the
    /// entry's allocation).
    pub fn collection_bytes(&self) -> usize {
        match self {
            ValueRef::Str(_) => 0,
            ValueRef::Hash(v) => alloc_size(std::mem::size_of::<HashValue>()) + v.heap_bytes(),
            ValueRef::List(v) => alloc_size(std::mem::size_of::<ListValue>()) + v.heap_bytes(),
            // A set's handle lives in its entry's value part, not in a box.
            ValueRef::Set(v) => v.heap_bytes(),
            ValueRef::ZSet(v) => alloc_size(std::mem::size_of::<ZSetValue>()) + v.heap_bytes(),
            ValueRef::Stream(v) => alloc_size(std::mem::size_of::<StreamValue>()) + v.heap_bytes(),
        }
    }
}

/// An aggregate value borrowed for change in place (through `Shard::modify`, which re-accounts
/// its size afterwards). Strings are rebuilt, not changed in place, so they appear read-only.
#[derive(Debug)]
pub enum ValueMut<'a> {
    Str(&'a [u8]),
    Hash(&'a mut HashValue),
    List(&'a mut ListValue),
    Set(&'a mut SetValue),
    ZSet(&'a mut ZSetValue),
    Stream(&'a mut StreamValue),
}

impl ValueMut<'_> {
    /// True for an aggregate that holds no element (Redis deletes such keys).
    pub fn is_empty_collection(&self) -> bool {
        match self {
            ValueMut::Str(_) => false,
            ValueMut::Hash(v) => v.is_empty(),
            ValueMut::List(v) => v.is_empty(),
            ValueMut::Set(v) => v.is_empty(),
            ValueMut::ZSet(v) => v.is_empty(),
            // An emptied stream stays, as in Redis.
            ValueMut::Stream(_) => false,
        }
    }
}

/// Grows a string changed in place to `len` bytes, zero-filled, keeping spare room as Redis's
/// sds does (twice the length below 1 MiB, then 1 MiB more), so growth is amortised.
pub fn grow_string(buf: &mut Vec<u8>, len: usize) {
    if len <= buf.len() {
        return;
    }
    if len > buf.capacity() {
        const MAX_PREALLOC: usize = 1 << 20;
        let room = if len < MAX_PREALLOC {
            len * 2
        } else {
            len + MAX_PREALLOC
        };
        // Take the whole size class the allocator hands out anyway (sds uses it too).
        buf.reserve_exact(alloc_size(room) - buf.len());
    }
    buf.resize(len, 0);
}

/// Redis's string encodings: `int` for a canonical integer of at most 20 characters, `embstr`
/// up to 44 bytes, `raw` beyond.
fn string_encoding(bytes: &[u8]) -> &'static str {
    if bytes.len() <= 20 && crate::strconv::parse_i64_strict(bytes).is_some() {
        "int"
    } else if bytes.len() <= 44 {
        "embstr"
    } else {
        "raw"
    }
}

/// What the allocator hands out for a request of `len` bytes: jemalloc's size classes (8, then
/// multiples of 16 up to 128, then four classes per doubling), as `alloc_counter` counts them.
pub fn alloc_size(len: usize) -> usize {
    if len == 0 {
        return 0;
    }
    crate::alloc_counter::usable_size(
        &std::alloc::Layout::from_size_align(len, 1).expect("a size below isize::MAX"),
    )
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
        // No 24- or 40-byte classes: 16-byte spacing up to 128.
        assert_eq!(alloc_size(17), 32);
        assert_eq!(alloc_size(40), 48);
        assert_eq!(alloc_size(257), 320);
    }

    #[test]
    fn small_collections_box_into_32_bytes() {
        // The box behind an entry's value pointer is part of every small hash and sorted set:
        // keep it in jemalloc's 32-byte class (a hash's 24-byte map and its field-TTL pointer:
        // see hash.rs's `sizes`). A set has no box (see set.rs).
        assert!(std::mem::size_of::<HashValue>() <= 32);
        assert_eq!(
            std::mem::size_of::<SetValue>(),
            8,
            "a set is its entry's 8-byte handle"
        );
        assert!(std::mem::size_of::<ZSetValue>() <= 32);
    }

    #[test]
    fn string_encodings() {
        assert_eq!(Value::string(b"12345").encoding_name(), "int");
        assert_eq!(Value::string(b"012").encoding_name(), "embstr");
        assert_eq!(Value::string(&[b'a'; 45]).encoding_name(), "raw");
    }
}
