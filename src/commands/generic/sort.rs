//! SORT and SORT_RO (Redis's `generic` group): sort the elements of a list, set or sorted set
//! numerically or byte-wise, by the elements or by other keys named with a `*` pattern (string
//! keys, or hash fields with `->field`), with LIMIT, GET projections and STORE into a list.
//!
//! BY and GET patterns name keys that are only known once the elements are read, so both
//! commands hold every shard (`ALL_SHARDS`) and are `movablekeys`. As in Redis 7, a user
//! without read access to every key may not use BY with a pattern or GET at all.

use crate::command;
use crate::engine::args::{is, parse_double, parse_i64};
use crate::error::CommandError;
use crate::keyspace::types::ListValue;
use crate::keyspace::{Value, ValueRef};
use crate::protocol::Reply;
use crate::pubsub::notify;
use crate::{
    engine::flags::*, engine::CommandResult, engine::CommandSpec, engine::Ctx, engine::KeySpec,
};
use bytes::Bytes;
use std::cmp::Ordering;

const fn cx(spec: CommandSpec, complexity: &'static str) -> CommandSpec {
    CommandSpec { complexity, ..spec }
}

const CATS: &[&str] = &["set", "sortedset", "list", "slow", "dangerous"];
const CX: &str = "O(N+M*log(M)) where N is the number of elements in the list or set to sort, and M the number of returned elements. When the elements are not sorted, complexity is O(N).";

pub static COMMANDS: &[CommandSpec] = &[
    cx(
        command!(
            "sort",
            -2,
            WRITE | DENYOOM | ALL_SHARDS,
            KeySpec::Custom(sort_keys),
            CATS,
            "generic",
            "1.0.0",
            "Sorts the elements in a list, a set, or a sorted set, optionally storing the result.",
            sort
        ),
        CX,
    ),
    cx(
        command!(
            "sort_ro",
            -2,
            READONLY | ALL_SHARDS,
            KeySpec::Custom(sort_ro_keys),
            CATS,
            "generic",
            "7.0.0",
            "Returns the sorted elements of a list, a set, or a sorted set.",
            sort_ro
        ),
        CX,
    ),
];

/// Redis's `sortGetKeys`: the sorted key, and the last STORE's destination. Options are
/// skipped by their argument counts (LIMIT 2, GET 1, BY 1), anything else by none.
pub fn sort_keys(argv: &[Bytes]) -> Vec<(Option<usize>, usize)> {
    let mut keys = vec![(None, 1)];
    let mut store = None;
    let mut i = 2;
    while i < argv.len() {
        let a = &argv[i];
        if is(a, "limit") {
            i += 2;
        } else if is(a, "get") || is(a, "by") {
            i += 1;
        } else if is(a, "store") && i + 1 < argv.len() {
            store = Some(i + 1);
        }
        i += 1;
    }
    keys.extend(store.map(|i| (None, i)));
    keys.retain(|&(_, i)| i < argv.len());
    keys
}

fn sort_ro_keys(argv: &[Bytes]) -> Vec<(Option<usize>, usize)> {
    if argv.len() > 1 {
        vec![(None, 1)]
    } else {
        Vec::new()
    }
}

/// A parsed SORT call.
#[derive(Debug, Default, PartialEq)]
pub struct SortOptions {
    pub desc: bool,
    pub alpha: bool,
    pub limit: Option<(i64, i64)>,
    pub by: Option<Bytes>,
    /// A BY pattern without `*` was given: keep the elements' own order.
    pub dont_sort: bool,
    pub gets: Vec<Bytes>,
    pub store: Option<Bytes>,
}

/// What the parser needs to know about the caller: SORT_RO takes no STORE, and BY / GET
/// patterns need read access to every key.
pub struct Caller {
    pub readonly: bool,
    pub full_key_access: bool,
    /// Cluster mode: BY patterns and GET are refused (their keys may be in any slot).
    pub cluster: bool,
}

/// Parses the options after the key (`args` = argv[2..]) in Redis's order of checks.
pub fn parse(args: &[Bytes], caller: &Caller) -> Result<SortOptions, CommandError> {
    let mut o = SortOptions::default();
    let mut j = 0;
    while j < args.len() {
        let left = args.len() - j - 1;
        let a = &args[j];
        if is(a, "asc") {
            o.desc = false;
        } else if is(a, "desc") {
            o.desc = true;
        } else if is(a, "alpha") {
            o.alpha = true;
        } else if is(a, "limit") && left >= 2 {
            o.limit = Some((parse_i64(&args[j + 1])?, parse_i64(&args[j + 2])?));
            j += 2;
        } else if !caller.readonly && is(a, "store") && left >= 1 {
            o.store = Some(args[j + 1].clone());
            j += 1;
        } else if is(a, "by") && left >= 1 {
            let pattern = &args[j + 1];
            if !pattern.contains(&b'*') {
                o.dont_sort = true;
            } else if caller.cluster {
                return Err(CommandError::err(
                    "BY option of SORT denied in Cluster mode.",
                ));
            } else if !caller.full_key_access {
                return Err(CommandError::err(
                    "BY option of SORT denied due to insufficient ACL permissions.",
                ));
            }
            o.by = Some(pattern.clone());
            j += 1;
        } else if is(a, "get") && left >= 1 {
            if caller.cluster {
                return Err(CommandError::err(
                    "GET option of SORT denied in Cluster mode.",
                ));
            }
            if !caller.full_key_access {
                return Err(CommandError::err(
                    "GET option of SORT denied due to insufficient ACL permissions.",
                ));
            }
            o.gets.push(args[j + 1].clone());
            j += 1;
        } else {
            return Err(CommandError::Syntax);
        }
        j += 1;
    }
    Ok(o)
}

/// Whether this call may use BY patterns and GET (Redis's
/// `ACLUserCheckCmdWithUnrestrictedKeyAccess`).
fn full_key_access(ctx: &Ctx<'_>, argv: &[Bytes]) -> bool {
    let user = &ctx.client.user;
    if user.is_unrestricted() {
        return true;
    }
    match ctx.state.registry.get(&argv[0]) {
        Some(found) => crate::acl::check::full_read_key_access(&user.rules(), &found, argv),
        None => false,
    }
}

/// Redis's `lookupKeyByPattern`: `#` is the element itself; otherwise the first `*` is replaced
/// by the element and the key read as a string, or with `->field` as a hash field. A pattern
/// without `*` names nothing.
fn lookup_pattern(ctx: &mut Ctx<'_>, pattern: &[u8], element: &[u8]) -> Option<Vec<u8>> {
    if pattern == b"#" {
        return Some(element.to_vec());
    }
    let star = pattern.iter().position(|&b| b == b'*')?;
    let after = &pattern[star + 1..];
    let arrow = after
        .windows(2)
        .position(|w| w == b"->")
        .filter(|&at| at + 2 < after.len());
    let (postfix, field) = match arrow {
        Some(at) => (&after[..at], Some(&after[at + 2..])),
        None => (after, None),
    };
    let mut key = Vec::with_capacity(star + element.len() + postfix.len());
    key.extend_from_slice(&pattern[..star]);
    key.extend_from_slice(element);
    key.extend_from_slice(postfix);
    let now = ctx.now_ms;
    let (shard, hash) = ctx.shard(&key);
    let entry = shard.get_read(hash, &key, now)?;
    match (entry.value(), field) {
        (ValueRef::Str(bytes), None) => Some(bytes.to_vec()),
        // A field past its deadline (Redis 7.4) is missing, even before it is removed.
        (ValueRef::Hash(h), Some(field)) if h.is_field_expired(field, now) => None,
        (ValueRef::Hash(h), Some(field)) => h.get(field).map(<[u8]>::to_vec),
        _ => None,
    }
}

/// A sort weight read as Redis's `strtod` with the whole string consumed: leading white space
/// is allowed, the empty string is 0, NaN and out-of-range values are errors.
fn weight(bytes: &[u8]) -> Option<f64> {
    if bytes.is_empty() {
        return Some(0.0);
    }
    let start = bytes
        .iter()
        .position(|b| !matches!(b, b' ' | b'\t' | b'\n' | b'\x0b' | b'\x0c' | b'\r'))?;
    parse_double(&bytes[start..]).ok().filter(|w| !w.is_nan())
}

struct Item {
    element: Vec<u8>,
    score: f64,
    by: Option<Vec<u8>>,
}

fn sort(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CommandResult {
    run(ctx, argv, false)
}

fn sort_ro(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CommandResult {
    run(ctx, argv, true)
}

fn run(ctx: &mut Ctx<'_>, argv: &[Bytes], readonly: bool) -> CommandResult {
    let caller = Caller {
        readonly,
        full_key_access: full_key_access(ctx, argv),
        cluster: ctx.state.cluster.enabled(),
    };
    let mut o = parse(&argv[2..], &caller)?;
    let now = ctx.now_ms;
    let (shard, hash) = ctx.shard(&argv[1]);
    // The elements in the value's own order; `ordered` for lists and sorted sets.
    let (mut elements, is_set): (Vec<Vec<u8>>, bool) = match shard.get_read(hash, &argv[1], now) {
        None => (Vec::new(), false),
        Some(entry) => match entry.value() {
            ValueRef::List(l) => (l.iter().map(<[u8]>::to_vec).collect(), false),
            ValueRef::Set(s) => (s.iter().map(|m| m.to_vec()).collect(), true),
            ValueRef::ZSet(z) => (z.iter().map(|(m, _)| m.to_vec()).collect(), false),
            _ => return Err(CommandError::WrongType),
        },
    };
    // A set has no order of its own: when storing or inside a script, sort it so the result is
    // deterministic (for replicas and the AOF).
    let in_script = ctx.state.scripting.busy.is_running();
    if o.dont_sort && is_set && (o.store.is_some() || in_script) {
        o.dont_sort = false;
        o.alpha = true;
        o.by = None;
    }
    let len = elements.len() as i64;
    let (limit_start, limit_count) = o.limit.unwrap_or((0, -1));
    let mut start = limit_start.max(0).min(len);
    let count = limit_count.max(-1).min(len);
    let mut end = if count < 0 { len } else { start + count - 1 };
    if start >= len {
        start = len - 1;
        end = len - 2;
    }
    if end >= len {
        end = len - 1;
    }
    if o.dont_sort && !is_set {
        // Lists and sorted sets keep their order (reversed by DESC), cut to the range.
        if o.desc {
            elements.reverse();
        }
        let keep = if end >= start {
            (start as usize)..(end as usize + 1)
        } else {
            0..0
        };
        elements = elements.drain(keep).collect();
        end -= start;
        start = 0;
    }
    let mut items: Vec<Item> = elements
        .into_iter()
        .map(|element| Item {
            element,
            score: 0.0,
            by: None,
        })
        .collect();
    let mut bad_weight = false;
    if !o.dont_sort {
        for item in &mut items {
            let by = match &o.by {
                Some(pattern) => match lookup_pattern(ctx, pattern, &item.element) {
                    Some(v) => v,
                    None => continue,
                },
                None => item.element.clone(),
            };
            if o.alpha {
                if o.by.is_some() {
                    item.by = Some(by);
                }
            } else {
                match weight(&by) {
                    Some(w) => item.score = w,
                    None => bad_weight = true,
                }
            }
        }
        let by_pattern = o.by.is_some();
        let alpha = o.alpha;
        items.sort_by(|a, b| {
            let cmp = if !alpha {
                a.score
                    .partial_cmp(&b.score)
                    .unwrap_or(Ordering::Equal)
                    .then_with(|| a.element.cmp(&b.element))
            } else if by_pattern {
                a.by.cmp(&b.by)
            } else {
                a.element.cmp(&b.element)
            };
            if o.desc {
                cmp.reverse()
            } else {
                cmp
            }
        });
    }
    if bad_weight {
        return Err(CommandError::err(
            "One or more scores can't be converted into double",
        ));
    }
    let range: &[Item] = if end >= start {
        &items[start as usize..=end as usize]
    } else {
        &[]
    };
    // Each element becomes itself, or one value per GET pattern (nil when it names nothing).
    let mut out: Vec<Option<Vec<u8>>> = Vec::new();
    for item in range {
        if o.gets.is_empty() {
            out.push(Some(item.element.clone()));
        }
        for pattern in &o.gets {
            out.push(lookup_pattern(ctx, pattern, &item.element));
        }
    }
    let Some(dest) = o.store else {
        return Ok(Reply::Array(
            out.into_iter()
                .map(|v| v.map_or(Reply::Nil, |v| Reply::Bulk(Bytes::from(v))))
                .collect(),
        ));
    };
    store(ctx, &dest, out)
}

/// STORE: the result replaces `dest` as a list (TTL dropped); an empty result deletes it.
fn store(ctx: &mut Ctx<'_>, dest: &[u8], out: Vec<Option<Vec<u8>>>) -> CommandResult {
    let db = ctx.db();
    let now = ctx.now_ms;
    let len = out.len();
    if len == 0 {
        let (shard, hash) = ctx.shard(dest);
        if shard.remove(hash, dest, now).is_some() {
            ctx.key_changed(db, dest);
            ctx.notify(notify::GENERIC, "del", db, dest);
        }
        return Ok(Reply::Int(0));
    }
    let fill = ctx.state.config.get_i64("list-max-listpack-size");
    let mut list = ListValue::default();
    let bytes = out.iter().map(|v| v.as_ref().map_or(0, Vec::len)).sum();
    list.convert_if_growing(fill, bytes, len);
    for v in &out {
        list.push_back(v.as_deref().unwrap_or_default());
    }
    let (shard, hash) = ctx.shard(dest);
    let old = shard.insert(hash, dest, Value::List(Box::new(list)), None, now);
    if old.is_none() {
        ctx.notify(notify::NEW, "new", db, dest);
    }
    ctx.key_changed(db, dest);
    ctx.notify(notify::LIST, "sortstore", db, dest);
    Ok(Reply::Int(len as i64))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn argv(words: &[&str]) -> Vec<Bytes> {
        words.iter().map(|w| Bytes::from(w.to_string())).collect()
    }

    #[test]
    fn store_key_is_the_last_store() {
        let a = argv(&["sort", "k", "store", "d1", "limit", "0", "1", "store", "d2"]);
        assert_eq!(sort_keys(&a), vec![(None, 1), (None, 8)]);
        let a = argv(&["sort", "k", "get", "store", "by", "x"]);
        assert_eq!(sort_keys(&a), vec![(None, 1)]);
        let a = argv(&["sort", "k", "store"]);
        assert_eq!(sort_keys(&a), vec![(None, 1)]);
    }

    #[test]
    fn weights_as_strtod() {
        assert_eq!(weight(b""), Some(0.0));
        assert_eq!(weight(b"  1.5"), Some(1.5));
        assert_eq!(weight(b"1.5 "), None);
        assert_eq!(weight(b"   "), None);
        assert_eq!(weight(b"nan"), None);
        assert_eq!(weight(b"1e400"), None);
        assert_eq!(weight(b"-inf"), Some(f64::NEG_INFINITY));
    }
}

#[cfg(test)]
mod fuzz {
    use super::*;
    use proptest::prelude::*;

    fn word() -> impl Strategy<Value = Bytes> {
        prop_oneof![
            prop::sample::select(vec![
                "ASC", "desc", "Alpha", "LIMIT", "limit", "BY", "by", "GET", "get", "STORE",
                "store", "#", "w_*", "h_*->f", "nosort", "0", "-1", "3", "x", "",
            ])
            .prop_map(|w| Bytes::from(w.to_string())),
            prop::collection::vec(any::<u8>(), 0..5).prop_map(Bytes::from),
        ]
    }

    proptest! {
        #[test]
        fn arbitrary_words_parse_or_fail_cleanly(
            args in prop::collection::vec(word(), 0..12),
            readonly in any::<bool>(),
            full_key_access in any::<bool>(),
        ) {
            let caller = Caller { readonly, full_key_access, cluster: false };
            if let Ok(o) = parse(&args, &caller) {
                prop_assert!(!(readonly && o.store.is_some()));
                prop_assert!(full_key_access || o.gets.is_empty());
                if let (false, Some(by)) = (full_key_access, &o.by) {
                    prop_assert!(!by.contains(&b'*'));
                }
                prop_assert!(!o.dont_sort || o.by.is_some());
            }
            let mut argv = vec![Bytes::from_static(b"sort"), Bytes::from_static(b"k")];
            argv.extend(args);
            for (_, i) in sort_keys(&argv) {
                prop_assert!(i < argv.len());
            }
        }

        #[test]
        fn rendered_options_parse_back(
            desc in any::<bool>(),
            alpha in any::<bool>(),
            limit in proptest::option::of((any::<i64>(), any::<i64>())),
            gets in prop::collection::vec("[a-z#*>-]{1,6}", 0..3),
            by in proptest::option::of("[a-z*]{1,5}"),
        ) {
            let mut args: Vec<Bytes> = Vec::new();
            let mut push = |w: &str| args.push(Bytes::from(w.to_string()));
            if let Some(by) = &by {
                push("BY");
                push(by);
            }
            if let Some((a, b)) = limit {
                push("LIMIT");
                push(&a.to_string());
                push(&b.to_string());
            }
            for g in &gets {
                push("GET");
                push(g);
            }
            push(if desc { "DESC" } else { "ASC" });
            if alpha {
                push("ALPHA");
            }
            push("STORE");
            push("dst");
            let caller = Caller { readonly: false, full_key_access: true, cluster: false };
            let o = parse(&args, &caller).expect("rendered options parse");
            prop_assert_eq!(o.desc, desc);
            prop_assert_eq!(o.alpha, alpha);
            prop_assert_eq!(o.limit, limit);
            prop_assert_eq!(o.gets.len(), gets.len());
            prop_assert_eq!(o.by.is_some(), by.is_some());
            prop_assert_eq!(o.dont_sort, by.as_ref().is_some_and(|b| !b.contains('*')));
            prop_assert_eq!(o.store.as_deref(), Some(&b"dst"[..]));
        }
    }
}
