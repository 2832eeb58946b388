//! Key specifications (Redis 7's `key_specs`) of the commands whose keys play different roles:
//! a source and a destination (LMOVE, RENAME, ZUNIONSTORE ...), keys after a `numkeys` argument
//! (LMPOP, SINTERCARD, EVAL, FCALL ...), after a keyword (XREAD's `STREAMS`), shard channels
//! (SPUBLISH), or whose one key's flags are not the default of their command flags (XDEL ...). COMMAND INFO prints them and COMMAND GETKEYSANDFLAGS flags each
//! key by the spec that found it, as Redis's `getKeysUsingKeySpecs`. Every other command has one
//! spec derived from its `KeySpec` range and `key_flags`.
//!
//! The table is declarative data checked against redis-server's own (tests/command_table.rs).

use bytes::Bytes;

/// Where the search for a spec's keys starts.
#[derive(Clone, Copy, Debug)]
pub enum Begin {
    /// At a fixed argument index.
    Index(i32),
    /// After the first `keyword` found from `startfrom` (negative: backwards from the end).
    Keyword {
        keyword: &'static str,
        startfrom: i32,
    },
}

/// How many keys follow the start.
#[derive(Clone, Copy, Debug)]
pub enum Find {
    /// Keys up to `lastkey` past the start (negative: from the end), every `step`; a `limit`
    /// above 1 keeps 1/limit of the remaining arguments.
    Range { lastkey: i32, step: i32, limit: i32 },
    /// The argument at `keynumidx` past the start counts the keys, which begin `firstkey` past
    /// the start, every `step`.
    Keynum {
        keynumidx: i32,
        firstkey: i32,
        step: i32,
    },
}

/// One key specification.
#[derive(Debug)]
pub struct Decl {
    pub notes: Option<&'static str>,
    pub flags: &'static [&'static str],
    pub begin: Begin,
    pub find: Find,
}

/// The declared specs of a command by its full name (`object|encoding`), if it has any here.
pub fn declared(full_name: &str) -> Option<&'static [Decl]> {
    TABLE
        .iter()
        .find(|(name, _)| *name == full_name)
        .map(|(_, specs)| *specs)
}

/// The keys the specs find in `argv`, each with its spec's flags (Redis's
/// `getKeysUsingKeySpecs`). None when a spec does not fit the arguments (a `numkeys` that is not
/// a count, a range past the end): the caller falls back to the command's own key finder.
pub fn keys_by_specs(
    specs: &'static [Decl],
    argv: &[Bytes],
) -> Option<Vec<(usize, &'static [&'static str])>> {
    // An incomplete spec cannot be trusted: Redis asks the command's own key finder instead.
    if specs.iter().any(|s| s.flags.contains(&"incomplete")) {
        return None;
    }
    let mut out = Vec::new();
    for spec in specs {
        if spec.flags.contains(&"not_key") {
            continue;
        }
        let Some(first) = begin(spec.begin, argv) else {
            // A keyword that is absent: this spec has no keys here.
            continue;
        };
        let (first, last, step) = range(spec.find, first, argv)?;
        let argc = argv.len() as i64;
        if last >= argc || last < first || first >= argc {
            return None;
        }
        let mut i = first;
        while i <= last {
            out.push((i as usize, spec.flags));
            i += step.max(1);
        }
    }
    Some(out)
}

/// COMMAND INFO's legacy (first, last, step) and whether the keys are "movablekeys", from the
/// specs as Redis's `populateCommandLegacyRangeSpec`: the leading run of consecutive plain
/// index-and-range specs makes the range; any other spec makes the keys movable.
pub fn legacy_range(specs: &[Decl]) -> ((i32, i32, i32), bool) {
    let mut movable = false;
    let (mut first, mut last, mut prev_last) = (i32::MAX, 0i32, 0i32);
    for spec in specs {
        let (Begin::Index(pos), Find::Range { lastkey, step, .. }) = (spec.begin, spec.find) else {
            movable = true;
            continue;
        };
        if step != 1 || (prev_last != 0 && prev_last != pos - 1) {
            movable = true;
            continue;
        }
        if specs.len() == 1 {
            let last = if lastkey < 0 { lastkey } else { pos + lastkey };
            return ((pos, last, step), false);
        }
        first = first.min(pos);
        let abs = if lastkey >= 0 { lastkey + pos } else { lastkey };
        // A negative (from the end) last key outranks any index, as Redis's unsigned compare.
        if (abs as u32) > (last as u32) {
            last = abs;
        }
        prev_last = last;
    }
    if first == i32::MAX {
        return ((0, 0, 0), true);
    }
    ((first, last, 1), movable)
}

/// True if every spec is `not_key` (shard channels): such a command has no keys.
pub fn only_channels(specs: &[Decl]) -> bool {
    specs.iter().all(|s| s.flags.contains(&"not_key"))
}

/// The index of the first key, or None when a keyword is absent.
fn begin(begin: Begin, argv: &[Bytes]) -> Option<i64> {
    let argc = argv.len() as i64;
    match begin {
        Begin::Index(i) => Some(i as i64),
        Begin::Keyword { keyword, startfrom } => {
            let forward = startfrom > 0;
            let (mut i, end) = if forward {
                (startfrom as i64, argc - 1)
            } else {
                (argc + startfrom as i64, 1)
            };
            // The end itself is not searched: a keyword there would have no key after it.
            while i != end && i >= 1 && i < argc {
                if argv[i as usize].eq_ignore_ascii_case(keyword.as_bytes()) {
                    return Some(i + 1);
                }
                i += if forward { 1 } else { -1 };
            }
            None
        }
    }
}

/// (first, last, step) of a spec's keys from its first index; None for a `numkeys` that is not
/// a non-negative count.
fn range(find: Find, first: i64, argv: &[Bytes]) -> Option<(i64, i64, i64)> {
    let argc = argv.len() as i64;
    match find {
        Find::Range {
            lastkey,
            step,
            limit,
        } => {
            let last = if lastkey >= 0 {
                first + lastkey as i64
            } else if limit == 0 {
                argc + lastkey as i64
            } else {
                first + (argc - first) / limit as i64 + lastkey as i64
            };
            Some((first, last, step as i64))
        }
        Find::Keynum {
            keynumidx,
            firstkey,
            step,
        } => {
            let count = argv
                .get(usize::try_from(first + keynumidx as i64).ok()?)
                .and_then(|a| crate::engine::args::parse_i64(a).ok())
                .filter(|&n| n >= 0)?;
            let start = first + firstkey as i64;
            // Every `step`-th argument from the first key (MSETEX's keys are a pair apart).
            let step = (step as i64).max(1);
            Some((start, start + (count - 1) * step, step))
        }
    }
}

#[rustfmt::skip]
static TABLE: &[(&str, &[Decl])] = &[
    ("blmove", &[
        Decl { notes: None, flags: &["RW", "access", "delete"], begin: Begin::Index(1), find: Find::Range { lastkey: 0, step: 1, limit: 0 } },
        Decl { notes: None, flags: &["RW", "insert"], begin: Begin::Index(2), find: Find::Range { lastkey: 0, step: 1, limit: 0 } },
    ]),
    ("blmpop", &[
        Decl { notes: None, flags: &["RW", "access", "delete"], begin: Begin::Index(2), find: Find::Keynum { keynumidx: 0, firstkey: 1, step: 1 } },
    ]),
    ("brpoplpush", &[
        Decl { notes: None, flags: &["RW", "access", "delete"], begin: Begin::Index(1), find: Find::Range { lastkey: 0, step: 1, limit: 0 } },
        Decl { notes: None, flags: &["RW", "insert"], begin: Begin::Index(2), find: Find::Range { lastkey: 0, step: 1, limit: 0 } },
    ]),
    ("bzmpop", &[
        Decl { notes: None, flags: &["RW", "access", "delete"], begin: Begin::Index(2), find: Find::Keynum { keynumidx: 0, firstkey: 1, step: 1 } },
    ]),
    ("copy", &[
        Decl { notes: None, flags: &["RO", "access"], begin: Begin::Index(1), find: Find::Range { lastkey: 0, step: 1, limit: 0 } },
        Decl { notes: None, flags: &["OW", "update"], begin: Begin::Index(2), find: Find::Range { lastkey: 0, step: 1, limit: 0 } },
    ]),
    ("eval", &[
        Decl { notes: Some("We cannot tell how the keys will be used so we assume the worst, RW and UPDATE"), flags: &["RW", "access", "update"], begin: Begin::Index(2), find: Find::Keynum { keynumidx: 0, firstkey: 1, step: 1 } },
    ]),
    ("eval_ro", &[
        Decl { notes: Some("We cannot tell how the keys will be used so we assume the worst, RO and ACCESS"), flags: &["RO", "access"], begin: Begin::Index(2), find: Find::Keynum { keynumidx: 0, firstkey: 1, step: 1 } },
    ]),
    ("evalsha", &[
        Decl { notes: None, flags: &["RW", "access", "update"], begin: Begin::Index(2), find: Find::Keynum { keynumidx: 0, firstkey: 1, step: 1 } },
    ]),
    ("evalsha_ro", &[
        Decl { notes: None, flags: &["RO", "access"], begin: Begin::Index(2), find: Find::Keynum { keynumidx: 0, firstkey: 1, step: 1 } },
    ]),
    ("fcall", &[
        Decl { notes: Some("We cannot tell how the keys will be used so we assume the worst, RW and UPDATE"), flags: &["RW", "access", "update"], begin: Begin::Index(2), find: Find::Keynum { keynumidx: 0, firstkey: 1, step: 1 } },
    ]),
    ("fcall_ro", &[
        Decl { notes: Some("We cannot tell how the keys will be used so we assume the worst, RO and ACCESS"), flags: &["RO", "access"], begin: Begin::Index(2), find: Find::Keynum { keynumidx: 0, firstkey: 1, step: 1 } },
    ]),
    ("expiretime", &[
        Decl { notes: None, flags: &["RO", "access"], begin: Begin::Index(1), find: Find::Range { lastkey: 0, step: 1, limit: 0 } },
    ]),
    ("georadius", &[
        Decl { notes: None, flags: &["RO", "access"], begin: Begin::Index(1), find: Find::Range { lastkey: 0, step: 1, limit: 0 } },
        Decl { notes: None, flags: &["OW", "update"], begin: Begin::Keyword { keyword: "STORE", startfrom: 6 }, find: Find::Range { lastkey: 0, step: 1, limit: 0 } },
        Decl { notes: None, flags: &["OW", "update"], begin: Begin::Keyword { keyword: "STOREDIST", startfrom: 6 }, find: Find::Range { lastkey: 0, step: 1, limit: 0 } },
    ]),
    ("georadiusbymember", &[
        Decl { notes: None, flags: &["RO", "access"], begin: Begin::Index(1), find: Find::Range { lastkey: 0, step: 1, limit: 0 } },
        Decl { notes: None, flags: &["OW", "update"], begin: Begin::Keyword { keyword: "STORE", startfrom: 5 }, find: Find::Range { lastkey: 0, step: 1, limit: 0 } },
        Decl { notes: None, flags: &["OW", "update"], begin: Begin::Keyword { keyword: "STOREDIST", startfrom: 5 }, find: Find::Range { lastkey: 0, step: 1, limit: 0 } },
    ]),
    ("geosearchstore", &[
        Decl { notes: None, flags: &["OW", "update"], begin: Begin::Index(1), find: Find::Range { lastkey: 0, step: 1, limit: 0 } },
        Decl { notes: None, flags: &["RO", "access"], begin: Begin::Index(2), find: Find::Range { lastkey: 0, step: 1, limit: 0 } },
    ]),
    ("getex", &[
        Decl { notes: Some("RW and UPDATE because it changes the TTL"), flags: &["RW", "access", "update"], begin: Begin::Index(1), find: Find::Range { lastkey: 0, step: 1, limit: 0 } },
    ]),
    ("lmove", &[
        Decl { notes: None, flags: &["RW", "access", "delete"], begin: Begin::Index(1), find: Find::Range { lastkey: 0, step: 1, limit: 0 } },
        Decl { notes: None, flags: &["RW", "insert"], begin: Begin::Index(2), find: Find::Range { lastkey: 0, step: 1, limit: 0 } },
    ]),
    ("lmpop", &[
        Decl { notes: None, flags: &["RW", "access", "delete"], begin: Begin::Index(1), find: Find::Keynum { keynumidx: 0, firstkey: 1, step: 1 } },
    ]),
    ("memory|usage", &[
        Decl { notes: None, flags: &["RO"], begin: Begin::Index(2), find: Find::Range { lastkey: 0, step: 1, limit: 0 } },
    ]),
    ("msetex", &[
        Decl { notes: None, flags: &["OW", "update"], begin: Begin::Index(1), find: Find::Keynum { keynumidx: 0, firstkey: 1, step: 2 } },
    ]),
    ("migrate", &[
        Decl { notes: None, flags: &["RW", "access", "delete"], begin: Begin::Index(3), find: Find::Range { lastkey: 0, step: 1, limit: 0 } },
        Decl { notes: None, flags: &["RW", "access", "delete", "incomplete"], begin: Begin::Keyword { keyword: "KEYS", startfrom: -2 }, find: Find::Range { lastkey: -1, step: 1, limit: 0 } },
    ]),
    ("move", &[
        Decl { notes: None, flags: &["RW", "access", "update"], begin: Begin::Index(1), find: Find::Range { lastkey: 0, step: 1, limit: 0 } },
    ]),
    ("object|encoding", &[
        Decl { notes: None, flags: &["RO"], begin: Begin::Index(2), find: Find::Range { lastkey: 0, step: 1, limit: 0 } },
    ]),
    ("object|freq", &[
        Decl { notes: None, flags: &["RO"], begin: Begin::Index(2), find: Find::Range { lastkey: 0, step: 1, limit: 0 } },
    ]),
    ("object|idletime", &[
        Decl { notes: None, flags: &["RO"], begin: Begin::Index(2), find: Find::Range { lastkey: 0, step: 1, limit: 0 } },
    ]),
    ("object|refcount", &[
        Decl { notes: None, flags: &["RO"], begin: Begin::Index(2), find: Find::Range { lastkey: 0, step: 1, limit: 0 } },
    ]),
    ("pexpiretime", &[
        Decl { notes: None, flags: &["RO", "access"], begin: Begin::Index(1), find: Find::Range { lastkey: 0, step: 1, limit: 0 } },
    ]),
    ("pttl", &[
        Decl { notes: None, flags: &["RO", "access"], begin: Begin::Index(1), find: Find::Range { lastkey: 0, step: 1, limit: 0 } },
    ]),
    ("rename", &[
        Decl { notes: None, flags: &["RW", "access", "delete"], begin: Begin::Index(1), find: Find::Range { lastkey: 0, step: 1, limit: 0 } },
        Decl { notes: None, flags: &["OW", "update"], begin: Begin::Index(2), find: Find::Range { lastkey: 0, step: 1, limit: 0 } },
    ]),
    ("renamenx", &[
        Decl { notes: None, flags: &["RW", "access", "delete"], begin: Begin::Index(1), find: Find::Range { lastkey: 0, step: 1, limit: 0 } },
        Decl { notes: None, flags: &["OW", "insert"], begin: Begin::Index(2), find: Find::Range { lastkey: 0, step: 1, limit: 0 } },
    ]),
    ("restore", &[
        Decl { notes: None, flags: &["OW", "update"], begin: Begin::Index(1), find: Find::Range { lastkey: 0, step: 1, limit: 0 } },
    ]),
    ("restore-asking", &[
        Decl { notes: None, flags: &["OW", "update"], begin: Begin::Index(1), find: Find::Range { lastkey: 0, step: 1, limit: 0 } },
    ]),
    ("rpoplpush", &[
        Decl { notes: None, flags: &["RW", "access", "delete"], begin: Begin::Index(1), find: Find::Range { lastkey: 0, step: 1, limit: 0 } },
        Decl { notes: None, flags: &["RW", "insert"], begin: Begin::Index(2), find: Find::Range { lastkey: 0, step: 1, limit: 0 } },
    ]),
    ("sdiffstore", &[
        Decl { notes: None, flags: &["OW", "update"], begin: Begin::Index(1), find: Find::Range { lastkey: 0, step: 1, limit: 0 } },
        Decl { notes: None, flags: &["RO", "access"], begin: Begin::Index(2), find: Find::Range { lastkey: -1, step: 1, limit: 0 } },
    ]),
    ("sintercard", &[
        Decl { notes: None, flags: &["RO", "access"], begin: Begin::Index(1), find: Find::Keynum { keynumidx: 0, firstkey: 1, step: 1 } },
    ]),
    ("sinterstore", &[
        Decl { notes: None, flags: &["RW", "update"], begin: Begin::Index(1), find: Find::Range { lastkey: 0, step: 1, limit: 0 } },
        Decl { notes: None, flags: &["RO", "access"], begin: Begin::Index(2), find: Find::Range { lastkey: -1, step: 1, limit: 0 } },
    ]),
    ("smove", &[
        Decl { notes: None, flags: &["RW", "access", "delete"], begin: Begin::Index(1), find: Find::Range { lastkey: 0, step: 1, limit: 0 } },
        Decl { notes: None, flags: &["RW", "insert"], begin: Begin::Index(2), find: Find::Range { lastkey: 0, step: 1, limit: 0 } },
    ]),
    ("spublish", &[
        Decl { notes: None, flags: &["not_key"], begin: Begin::Index(1), find: Find::Range { lastkey: 0, step: 1, limit: 0 } },
    ]),
    ("ssubscribe", &[
        Decl { notes: None, flags: &["not_key"], begin: Begin::Index(1), find: Find::Range { lastkey: -1, step: 1, limit: 0 } },
    ]),
    ("sunionstore", &[
        Decl { notes: None, flags: &["OW", "update"], begin: Begin::Index(1), find: Find::Range { lastkey: 0, step: 1, limit: 0 } },
        Decl { notes: None, flags: &["RO", "access"], begin: Begin::Index(2), find: Find::Range { lastkey: -1, step: 1, limit: 0 } },
    ]),
    ("sunsubscribe", &[
        Decl { notes: None, flags: &["not_key"], begin: Begin::Index(1), find: Find::Range { lastkey: -1, step: 1, limit: 0 } },
    ]),
    ("ttl", &[
        Decl { notes: None, flags: &["RO", "access"], begin: Begin::Index(1), find: Find::Range { lastkey: 0, step: 1, limit: 0 } },
    ]),
    ("xackdel", &[
        Decl { notes: None, flags: &["RW", "update", "delete"], begin: Begin::Index(1), find: Find::Range { lastkey: 0, step: 1, limit: 0 } },
    ]),
    ("xadd", &[
        Decl { notes: Some("UPDATE instead of INSERT because of the optional trimming feature"), flags: &["RW", "update"], begin: Begin::Index(1), find: Find::Range { lastkey: 0, step: 1, limit: 0 } },
    ]),
    ("xautoclaim", &[
        Decl { notes: None, flags: &["RW", "delete"], begin: Begin::Index(1), find: Find::Range { lastkey: 0, step: 1, limit: 0 } },
    ]),
    ("xdel", &[
        Decl { notes: None, flags: &["RW", "delete"], begin: Begin::Index(1), find: Find::Range { lastkey: 0, step: 1, limit: 0 } },
    ]),
    ("xdelex", &[
        Decl { notes: None, flags: &["RW", "delete"], begin: Begin::Index(1), find: Find::Range { lastkey: 0, step: 1, limit: 0 } },
    ]),
    ("xgroup|create", &[
        Decl { notes: None, flags: &["RW", "insert"], begin: Begin::Index(2), find: Find::Range { lastkey: 0, step: 1, limit: 0 } },
    ]),
    ("xgroup|createconsumer", &[
        Decl { notes: None, flags: &["RW", "insert"], begin: Begin::Index(2), find: Find::Range { lastkey: 0, step: 1, limit: 0 } },
    ]),
    ("xgroup|delconsumer", &[
        Decl { notes: None, flags: &["RW", "delete"], begin: Begin::Index(2), find: Find::Range { lastkey: 0, step: 1, limit: 0 } },
    ]),
    ("xgroup|destroy", &[
        Decl { notes: None, flags: &["RW", "delete"], begin: Begin::Index(2), find: Find::Range { lastkey: 0, step: 1, limit: 0 } },
    ]),
    ("xlen", &[
        Decl { notes: None, flags: &["RO"], begin: Begin::Index(1), find: Find::Range { lastkey: 0, step: 1, limit: 0 } },
    ]),
    ("xread", &[
        Decl { notes: None, flags: &["RO", "access"], begin: Begin::Keyword { keyword: "STREAMS", startfrom: 1 }, find: Find::Range { lastkey: -1, step: 1, limit: 2 } },
    ]),
    ("xreadgroup", &[
        Decl { notes: None, flags: &["RO", "access"], begin: Begin::Keyword { keyword: "STREAMS", startfrom: 4 }, find: Find::Range { lastkey: -1, step: 1, limit: 2 } },
    ]),
    ("xtrim", &[
        Decl { notes: None, flags: &["RW", "delete"], begin: Begin::Index(1), find: Find::Range { lastkey: 0, step: 1, limit: 0 } },
    ]),
    ("zdiff", &[
        Decl { notes: None, flags: &["RO", "access"], begin: Begin::Index(1), find: Find::Keynum { keynumidx: 0, firstkey: 1, step: 1 } },
    ]),
    ("zdiffstore", &[
        Decl { notes: None, flags: &["OW", "update"], begin: Begin::Index(1), find: Find::Range { lastkey: 0, step: 1, limit: 0 } },
        Decl { notes: None, flags: &["RO", "access"], begin: Begin::Index(2), find: Find::Keynum { keynumidx: 0, firstkey: 1, step: 1 } },
    ]),
    ("zinter", &[
        Decl { notes: None, flags: &["RO", "access"], begin: Begin::Index(1), find: Find::Keynum { keynumidx: 0, firstkey: 1, step: 1 } },
    ]),
    ("zintercard", &[
        Decl { notes: None, flags: &["RO", "access"], begin: Begin::Index(1), find: Find::Keynum { keynumidx: 0, firstkey: 1, step: 1 } },
    ]),
    ("zinterstore", &[
        Decl { notes: None, flags: &["OW", "update"], begin: Begin::Index(1), find: Find::Range { lastkey: 0, step: 1, limit: 0 } },
        Decl { notes: None, flags: &["RO", "access"], begin: Begin::Index(2), find: Find::Keynum { keynumidx: 0, firstkey: 1, step: 1 } },
    ]),
    ("zmpop", &[
        Decl { notes: None, flags: &["RW", "access", "delete"], begin: Begin::Index(1), find: Find::Keynum { keynumidx: 0, firstkey: 1, step: 1 } },
    ]),
    ("zrangestore", &[
        Decl { notes: None, flags: &["OW", "update"], begin: Begin::Index(1), find: Find::Range { lastkey: 0, step: 1, limit: 0 } },
        Decl { notes: None, flags: &["RO", "access"], begin: Begin::Index(2), find: Find::Range { lastkey: 0, step: 1, limit: 0 } },
    ]),
    ("zunion", &[
        Decl { notes: None, flags: &["RO", "access"], begin: Begin::Index(1), find: Find::Keynum { keynumidx: 0, firstkey: 1, step: 1 } },
    ]),
    ("zunionstore", &[
        Decl { notes: None, flags: &["OW", "update"], begin: Begin::Index(1), find: Find::Range { lastkey: 0, step: 1, limit: 0 } },
        Decl { notes: None, flags: &["RO", "access"], begin: Begin::Index(2), find: Find::Keynum { keynumidx: 0, firstkey: 1, step: 1 } },
    ]),
];
