//! Decoded values into keyspace values: each aggregate is built through its type's own
//! insertion methods, so it gets the encoding (listpack, intset, hashtable, quicklist,
//! skiplist) its config limits give it, and a duplicate member — which no sound file holds —
//! is refused rather than silently merged.

use super::read::RdbValue;
use crate::config::Config;
use crate::keyspace::types::hash::HashLimits;
use crate::keyspace::types::set::SetLimits;
use crate::keyspace::types::zset::{Inserted, ListpackLimits};
use crate::keyspace::types::{HashValue, ListValue, SetValue, ZSetValue};
use crate::keyspace::Value;

/// The encoding limits of the config, read once per load or RESTORE.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    hash: HashLimits,
    set: SetLimits,
    zset: ListpackLimits,
    list_fill: i64,
}

impl Limits {
    pub fn from_config(config: &Config) -> Limits {
        let size = |name: &str| config.get_i64(name).max(0) as usize;
        Limits {
            hash: HashLimits {
                entries: size("hash-max-listpack-entries"),
                value_bytes: size("hash-max-listpack-value"),
            },
            set: SetLimits {
                intset_entries: size("set-max-intset-entries"),
                listpack_entries: size("set-max-listpack-entries"),
                listpack_value: size("set-max-listpack-value"),
            },
            zset: ListpackLimits {
                entries_max: size("zset-max-listpack-entries"),
                value_bytes_max: size("zset-max-listpack-value"),
            },
            list_fill: config.get_i64("list-max-listpack-size"),
        }
    }
}

/// Converts a decoded value; the error names what is wrong.
pub fn to_value(value: RdbValue, limits: &Limits) -> Result<Value, String> {
    Ok(match value {
        RdbValue::Str(bytes) => Value::Str(bytes.into_boxed_slice()),
        RdbValue::List(items) => {
            let mut list = ListValue::default();
            let bytes = items.iter().map(Vec::len).sum();
            list.convert_if_growing(limits.list_fill, bytes, items.len());
            for item in &items {
                list.push_back(item);
            }
            Value::List(Box::new(list))
        }
        RdbValue::Set(members) => {
            let mut set = SetValue::default();
            if let Some(first) = members.first() {
                set.start(first, members.len(), limits.set);
            }
            for member in &members {
                if !set.add(member, limits.set) {
                    return Err("duplicate set member".into());
                }
            }
            Value::Set(Box::new(set))
        }
        RdbValue::Hash(pairs) => {
            let mut hash = HashValue::default();
            let longest = pairs
                .iter()
                .map(|(f, v)| f.len().max(v.len()))
                .max()
                .unwrap_or(0);
            hash.prepare(pairs.len(), longest, limits.hash);
            for (field, value) in &pairs {
                if !hash.set(field, value, limits.hash) {
                    return Err("duplicate hash field".into());
                }
            }
            Value::Hash(Box::new(hash))
        }
        RdbValue::HashTtl(fields) => {
            let mut hash = HashValue::default();
            let longest = fields
                .iter()
                .map(|(f, v, _)| f.len().max(v.len()))
                .max()
                .unwrap_or(0);
            hash.prepare(fields.len(), longest, limits.hash);
            for (field, value, deadline) in &fields {
                if !hash.set(field, value, limits.hash) {
                    return Err("duplicate hash field".into());
                }
                // Redis keeps field deadlines in 48 bits; anything beyond is corrupt.
                if *deadline >= 1 << 48 {
                    return Err("hash field deadline out of range".into());
                }
                if *deadline != 0 {
                    hash.set_ttl(field, *deadline);
                }
            }
            Value::Hash(Box::new(hash))
        }
        RdbValue::Stream(stream) => Value::Stream(stream),
        RdbValue::ZSet(members) => {
            let longest = members.iter().map(|(m, _)| m.len()).max().unwrap_or(0);
            let mut zset = ZSetValue::with_hint(members.len(), longest, limits.zset);
            for (member, score) in &members {
                if zset.insert(member, *score, limits.zset) != Inserted::Added {
                    return Err("duplicate sorted set member".into());
                }
            }
            Value::ZSet(Box::new(zset))
        }
    })
}
