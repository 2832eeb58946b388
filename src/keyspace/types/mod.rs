//! The aggregate value types (hash, list, set, sorted set, stream). Each lives boxed behind a pointer
//! in its key's entry and is changed in place through `Shard::modify`; every type keeps its own
//! heap byte count so that accounting stays O(1) per change.

pub mod compact_map;
pub mod geohash;
pub mod hash;
pub mod hyperloglog;
pub mod list;
pub mod set;
pub mod stream;
pub mod zset;

pub use hash::HashValue;
pub use list::ListValue;
pub use set::SetValue;
pub use stream::StreamValue;
pub use zset::ZSetValue;

use super::value::{Value, ValueMut, ValueRef};

/// Typed access to one aggregate type through the `Value` enums, so command code can be
/// written once over `T: Aggregate` (see `commands::collection`).
pub trait Aggregate: Default + Sized {
    /// `None` when the value is of another type (the caller answers WRONGTYPE).
    fn of(value: ValueRef<'_>) -> Option<&Self>;
    fn of_mut(value: ValueMut<'_>) -> Option<&mut Self>;
    fn into_value(self) -> Value;
}

macro_rules! aggregate {
    ($ty:ty, $variant:ident) => {
        impl Aggregate for $ty {
            fn of(value: ValueRef<'_>) -> Option<&Self> {
                match value {
                    ValueRef::$variant(v) => Some(v),
                    _ => None,
                }
            }

            fn of_mut(value: ValueMut<'_>) -> Option<&mut Self> {
                match value {
                    ValueMut::$variant(v) => Some(v),
                    _ => None,
                }
            }

            fn into_value(self) -> Value {
                Value::$variant(Box::new(self))
            }
        }
    };
}

aggregate!(HashValue, Hash);
aggregate!(ListValue, List);
aggregate!(SetValue, Set);
aggregate!(ZSetValue, ZSet);
aggregate!(StreamValue, Stream);
