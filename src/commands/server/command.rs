//! COMMAND and its subcommands (COUNT, LIST, INFO, DOCS, GETKEYS, GETKEYSANDFLAGS, HELP): the
//! command table rendered the way Redis 7 describes its own.
//!
//! COMMAND INFO entries follow Redis's 10-field layout. ACL categories are the declared ones plus
//! those Redis derives from the flags. Key specs are derived from each command's `KeySpec`
//! (a begin-search index and a find-keys range) or declared in `key_specs` as Redis's; tips are
//! Redis's `command_tips`, from the `TIPS` table.

use crate::engine::categories::categories;
use crate::engine::key_flags::{key_flags, per_key_flags, split_key_specs};
use crate::engine::key_specs::{self, Begin, Find};
use crate::engine::registry::Found;
use crate::error::CommandError;
use crate::protocol::Reply;
use crate::{
    engine::flags, engine::flags::*, engine::CommandResult, engine::CommandSpec, engine::Ctx,
    engine::KeySpec,
};
use bytes::Bytes;

const COMMAND_FLAGS: crate::engine::Flags = LOADING | STALE;
const LOOKUP_N: &str = "O(N) where N is the number of commands to look up";
const ALL_N: &str = "O(N) where N is the total number of Redis commands";

const fn sub(
    name: &'static str,
    arity: i32,
    since: &'static str,
    summary: &'static str,
    complexity: &'static str,
    run: crate::engine::CommandFn,
) -> CommandSpec {
    CommandSpec::subcommand(
        name,
        arity,
        COMMAND_FLAGS,
        "server",
        &["connection"],
        since,
        summary,
        complexity,
        run,
    )
}

pub static COMMANDS: &[CommandSpec] = &[CommandSpec {
    name: "command",
    arity: -1,
    flags: COMMAND_FLAGS,
    keys: KeySpec::None,
    acl: &["connection"],
    group: "server",
    summary: "Returns detailed information about all commands.",
    since: "2.8.13",
    complexity: ALL_N,
    run: command_all,
    subcommands: &[
        sub(
            "count",
            2,
            "2.8.13",
            "Returns a count of commands.",
            "O(1)",
            count,
        ),
        sub(
            "list",
            -2,
            "7.0.0",
            "Returns a list of command names.",
            ALL_N,
            list,
        ),
        sub(
            "info",
            -2,
            "2.8.13",
            "Returns information about one, multiple or all commands.",
            LOOKUP_N,
            info,
        ),
        sub(
            "docs",
            -2,
            "7.0.0",
            "Returns documentary information about one, multiple or all commands.",
            LOOKUP_N,
            docs,
        ),
        sub(
            "getkeys",
            -4,
            "2.8.13",
            "Extracts the key names from an arbitrary command.",
            "O(N) where N is the number of arguments to the command",
            getkeys,
        ),
        sub(
            "getkeysandflags",
            -4,
            "7.0.0",
            "Extracts the key names and access flags for an arbitrary command.",
            "O(N) where N is the number of arguments to the command",
            getkeysandflags,
        ),
        sub(
            "help",
            2,
            "5.0.0",
            "Returns helpful text about the different subcommands.",
            "O(1)",
            help,
        ),
    ],
}];

/// COMMAND INFO's tips (Redis's `command_tips`) by full command name: how a client or proxy
/// should treat the reply (nondeterministic output, how a cluster proxy would fan a command
/// out and merge the replies). Checked against redis-server by tests/command_table.rs.
fn tips(full_name: &str) -> &'static [&'static str] {
    TIPS.iter()
        .find(|(name, _)| *name == full_name)
        .map_or(&[], |(_, tips)| *tips)
}

#[rustfmt::skip]
static TIPS: &[(&str, &[&str])] = &[
    ("client|info", &["nondeterministic_output"]),
    ("client|list", &["nondeterministic_output"]),
    ("cluster|bumpepoch", &["nondeterministic_output"]),
    ("cluster|count-failure-reports", &["nondeterministic_output"]),
    ("cluster|getkeysinslot", &["nondeterministic_output"]),
    ("cluster|info", &["nondeterministic_output"]),
    ("cluster|links", &["nondeterministic_output"]),
    ("cluster|nodes", &["nondeterministic_output"]),
    ("cluster|replicas", &["nondeterministic_output"]),
    ("cluster|shards", &["nondeterministic_output"]),
    ("cluster|slaves", &["nondeterministic_output"]),
    ("cluster|slots", &["nondeterministic_output"]),
    ("command", &["nondeterministic_output_order"]),
    ("command|docs", &["nondeterministic_output_order"]),
    ("command|info", &["nondeterministic_output_order"]),
    ("command|list", &["nondeterministic_output_order"]),
    ("config|set", &["request_policy:all_nodes", "response_policy:all_succeeded"]),
    ("dbsize", &["request_policy:all_shards", "response_policy:agg_sum"]),
    ("del", &["request_policy:multi_shard", "response_policy:agg_sum"]),
    ("dump", &["nondeterministic_output"]),
    ("exists", &["request_policy:multi_shard", "response_policy:agg_sum"]),
    ("flushall", &["request_policy:all_shards", "response_policy:all_succeeded"]),
    ("flushdb", &["request_policy:all_shards", "response_policy:all_succeeded"]),
    ("function|delete", &["request_policy:all_shards", "response_policy:all_succeeded"]),
    ("function|flush", &["request_policy:all_shards", "response_policy:all_succeeded"]),
    ("function|kill", &["request_policy:all_shards", "response_policy:one_succeeded"]),
    ("function|load", &["request_policy:all_shards", "response_policy:all_succeeded"]),
    ("function|list", &["nondeterministic_output_order"]),
    ("function|restore", &["request_policy:all_shards", "response_policy:all_succeeded"]),
    ("function|stats", &["nondeterministic_output", "request_policy:all_shards", "response_policy:special"]),
    ("hgetall", &["nondeterministic_output_order"]),
    ("hkeys", &["nondeterministic_output_order"]),
    ("hrandfield", &["nondeterministic_output"]),
    ("hscan", &["nondeterministic_output"]),
    ("hvals", &["nondeterministic_output_order"]),
    ("info", &["nondeterministic_output", "request_policy:all_shards", "response_policy:special"]),
    ("keys", &["request_policy:all_shards", "nondeterministic_output_order"]),
    ("lastsave", &["nondeterministic_output"]),
    ("latency|doctor", &["nondeterministic_output", "request_policy:all_nodes", "response_policy:special"]),
    ("latency|graph", &["nondeterministic_output", "request_policy:all_nodes", "response_policy:special"]),
    ("latency|histogram", &["nondeterministic_output", "request_policy:all_nodes", "response_policy:special"]),
    ("latency|history", &["nondeterministic_output", "request_policy:all_nodes", "response_policy:special"]),
    ("latency|latest", &["nondeterministic_output", "request_policy:all_nodes", "response_policy:special"]),
    ("latency|reset", &["request_policy:all_nodes", "response_policy:all_succeeded"]),
    ("memory|doctor", &["nondeterministic_output", "request_policy:all_shards", "response_policy:special"]),
    ("memory|malloc-stats", &["nondeterministic_output", "request_policy:all_shards", "response_policy:special"]),
    ("memory|purge", &["request_policy:all_shards", "response_policy:all_succeeded"]),
    ("memory|stats", &["nondeterministic_output", "request_policy:all_shards", "response_policy:special"]),
    ("mget", &["request_policy:multi_shard"]),
    ("migrate", &["nondeterministic_output"]),
    ("module|list", &["nondeterministic_output_order"]),
    ("mset", &["request_policy:multi_shard", "response_policy:all_succeeded"]),
    ("msetnx", &["request_policy:multi_shard", "response_policy:agg_min"]),
    ("object|encoding", &["nondeterministic_output"]),
    ("object|freq", &["nondeterministic_output"]),
    ("object|idletime", &["nondeterministic_output"]),
    ("object|refcount", &["nondeterministic_output"]),
    ("ping", &["request_policy:all_shards", "response_policy:all_succeeded"]),
    ("pttl", &["nondeterministic_output"]),
    ("randomkey", &["request_policy:all_shards", "nondeterministic_output"]),
    ("scan", &["nondeterministic_output", "request_policy:special"]),
    ("script|exists", &["request_policy:all_shards", "response_policy:agg_logical_and"]),
    ("script|flush", &["request_policy:all_nodes", "response_policy:all_succeeded"]),
    ("script|kill", &["request_policy:all_shards", "response_policy:one_succeeded"]),
    ("script|load", &["request_policy:all_nodes", "response_policy:all_succeeded"]),
    ("sdiff", &["nondeterministic_output_order"]),
    ("sinter", &["nondeterministic_output_order"]),
    ("slowlog|get", &["request_policy:all_nodes", "nondeterministic_output"]),
    ("slowlog|len", &["request_policy:all_nodes", "response_policy:agg_sum", "nondeterministic_output"]),
    ("slowlog|reset", &["request_policy:all_nodes", "response_policy:all_succeeded"]),
    ("smembers", &["nondeterministic_output_order"]),
    ("spop", &["nondeterministic_output"]),
    ("srandmember", &["nondeterministic_output"]),
    ("sscan", &["nondeterministic_output"]),
    ("sunion", &["nondeterministic_output_order"]),
    ("time", &["nondeterministic_output"]),
    ("touch", &["request_policy:multi_shard", "response_policy:agg_sum"]),
    ("ttl", &["nondeterministic_output"]),
    ("unlink", &["request_policy:multi_shard", "response_policy:agg_sum"]),
    ("wait", &["request_policy:all_shards", "response_policy:agg_min"]),
    ("waitaof", &["request_policy:all_shards", "response_policy:agg_min"]),
    ("xadd", &["nondeterministic_output"]),
    ("xautoclaim", &["nondeterministic_output"]),
    ("xclaim", &["nondeterministic_output"]),
    ("xinfo|consumers", &["nondeterministic_output"]),
    ("xpending", &["nondeterministic_output"]),
    ("xtrim", &["nondeterministic_output"]),
    ("zrandmember", &["nondeterministic_output"]),
    ("zscan", &["nondeterministic_output"]),
];

fn statuses_bulk(words: &[&'static str]) -> Vec<Reply> {
    words.iter().map(|w| Reply::bulk_static(w)).collect()
}

fn statuses(words: &[&'static str]) -> Vec<Reply> {
    words.iter().map(|w| Reply::status(w)).collect()
}

fn key_str(text: &'static str) -> Reply {
    Reply::bulk_static(text)
}

/// SORT's key specs: the sorted key, then the keys BY/GET and STORE name, which Redis marks
/// `unknown` (found by parsing).
fn sort_key_specs(readonly: bool) -> Vec<Reply> {
    let mut specs = vec![
        range_key_spec(&["RO", "access"], None, 1, 0, 1),
        unknown_key_spec(
            "For the optional BY/GET keyword. It is marked 'unknown' because the key names derive from the content of the key we sort",
            &["RO", "access"],
        ),
    ];
    if !readonly {
        specs.push(unknown_key_spec(
            "For the optional STORE keyword. It is marked 'unknown' because the keyword can appear anywhere in the argument array",
            &["OW", "update"],
        ));
    }
    specs
}

fn unknown_key_spec(notes: &'static str, flags: &'static [&'static str]) -> Reply {
    let unknown = || {
        Reply::Map(vec![
            (key_str("type"), key_str("unknown")),
            (key_str("spec"), Reply::Map(Vec::new())),
        ])
    };
    Reply::Map(vec![
        (key_str("notes"), Reply::bulk_static(notes)),
        (key_str("flags"), Reply::Set(statuses(flags))),
        (key_str("begin_search"), unknown()),
        (key_str("find_keys"), unknown()),
    ])
}

fn key_specs(full_name: &str, spec: &CommandSpec) -> Vec<Reply> {
    if let Some(decls) = key_specs::declared(full_name) {
        return decls.iter().map(declared_key_spec).collect();
    }
    match spec.name {
        "sort" => return sort_key_specs(false),
        "sort_ro" => return sort_key_specs(true),
        _ => {}
    }
    if let Some(parts) = split_key_specs(spec) {
        return parts
            .iter()
            .map(|&(flags, first, lastkey)| range_key_spec(flags, None, first, lastkey, 1))
            .collect();
    }
    let KeySpec::Range { first, last, step } = spec.keys else {
        return Vec::new();
    };
    let (flags, notes) = key_flags(spec);
    let lastkey = if last < 0 { last } else { last - first };
    vec![range_key_spec(flags, notes, first, lastkey, step)]
}

/// One key spec with an index begin-search and a range find-keys.
fn range_key_spec(
    flags: &'static [&'static str],
    notes: Option<&'static str>,
    first: i32,
    lastkey: i32,
    step: i32,
) -> Reply {
    key_spec_map(
        notes,
        flags,
        Begin::Index(first),
        Find::Range {
            lastkey,
            step,
            limit: 0,
        },
    )
}

fn declared_key_spec(decl: &key_specs::Decl) -> Reply {
    key_spec_map(decl.notes, decl.flags, decl.begin, decl.find)
}

fn key_spec_map(
    notes: Option<&'static str>,
    flags: &'static [&'static str],
    begin: Begin,
    find: Find,
) -> Reply {
    let int = |n: i32| Reply::Int(n as i64);
    let mut fields = Vec::new();
    if let Some(notes) = notes {
        fields.push((key_str("notes"), Reply::bulk_static(notes)));
    }
    fields.push((key_str("flags"), Reply::Set(statuses(flags))));
    let (kind, spec) = match begin {
        Begin::Index(index) => ("index", vec![(key_str("index"), int(index))]),
        Begin::Keyword { keyword, startfrom } => (
            "keyword",
            vec![
                (key_str("keyword"), Reply::bulk_static(keyword)),
                (key_str("startfrom"), int(startfrom)),
            ],
        ),
    };
    fields.push((
        key_str("begin_search"),
        Reply::Map(vec![
            (key_str("type"), key_str(kind)),
            (key_str("spec"), Reply::Map(spec)),
        ]),
    ));
    let (kind, spec) = match find {
        Find::Range {
            lastkey,
            step,
            limit,
        } => (
            "range",
            vec![
                (key_str("lastkey"), int(lastkey)),
                (key_str("keystep"), int(step)),
                (key_str("limit"), int(limit)),
            ],
        ),
        Find::Keynum {
            keynumidx,
            firstkey,
            step,
        } => (
            "keynum",
            vec![
                (key_str("keynumidx"), int(keynumidx)),
                (key_str("firstkey"), int(firstkey)),
                (key_str("keystep"), int(step)),
            ],
        ),
    };
    fields.push((
        key_str("find_keys"),
        Reply::Map(vec![
            (key_str("type"), key_str(kind)),
            (key_str("spec"), Reply::Map(spec)),
        ]),
    ));
    Reply::Map(fields)
}

/// Commands whose keys we find with a function (an optional DB argument, a subcommand) but
/// whose keys Redis describes with a fixed range, so they are not "movablekeys" there.
fn legacy_range_of_custom(spec: &CommandSpec) -> Option<(i32, i32, i32)> {
    match spec.name {
        "copy" => Some((1, 2, 1)),
        "sort" | "sort_ro" => Some((1, 1, 1)),
        "move" => Some((1, 1, 1)),
        "debug" => Some((0, 0, 0)),
        _ => None,
    }
}

/// One COMMAND INFO entry: name, arity, flags, first/last/step, categories, tips, key specs,
/// subcommands.
pub fn command_info(full_name: &str, spec: &'static CommandSpec) -> Reply {
    let mut flag_names: Vec<&'static str> = flags::NAMES
        .iter()
        .filter(|(bit, _)| spec.has(*bit))
        .map(|(_, n)| *n)
        .collect();
    let declared = key_specs::declared(full_name).map(key_specs::legacy_range);
    let custom = legacy_range_of_custom(spec).map(|r| (r, spec.name.starts_with("sort")));
    let (first, last, step) = match declared.or(custom) {
        Some((range, movable)) => {
            // SORT's BY/GET and STORE keys are found by parsing, so Redis flags it movable too.
            if movable {
                flag_names.push("movablekeys");
            }
            range
        }
        None => {
            if matches!(spec.keys, KeySpec::Custom(_)) {
                flag_names.push("movablekeys");
            }
            spec.keys.legacy_range()
        }
    };
    let cats = categories(spec)
        .into_iter()
        .map(|c| Reply::Status(Bytes::from(format!("@{c}"))))
        .collect();
    let subs = spec
        .subcommands
        .iter()
        .map(|s| command_info(&format!("{}|{}", spec.name, s.name), s))
        .collect();
    Reply::Array(vec![
        Reply::bulk_str(full_name),
        Reply::Int(spec.arity as i64),
        Reply::Set(statuses(&flag_names)),
        Reply::Int(first as i64),
        Reply::Int(last as i64),
        Reply::Int(step as i64),
        Reply::Set(cats),
        Reply::Set(statuses_bulk(tips(full_name))),
        Reply::Set(key_specs(full_name, spec)),
        // Redis answers an empty set when there are no subcommands, else an array.
        if spec.subcommands.is_empty() {
            Reply::Set(subs)
        } else {
            Reply::Array(subs)
        },
    ])
}

/// One COMMAND DOCS entry: the table row's summary, since, group and complexity, then what
/// `arg_docs` declares for `full_name` (doc flags, deprecation, history, arguments), then the
/// subcommands.
fn command_docs(full_name: &str, spec: &'static CommandSpec) -> Reply {
    let mut fields = vec![
        (key_str("summary"), Reply::bulk_static(spec.summary)),
        (key_str("since"), Reply::bulk_static(spec.since)),
        (key_str("group"), Reply::bulk_static(spec.group)),
    ];
    let complexity = match spec.complexity {
        "" => crate::commands::arg_docs::complexity(full_name),
        declared => declared,
    };
    if !complexity.is_empty() {
        fields.push((key_str("complexity"), Reply::bulk_static(complexity)));
    }
    fields.extend(crate::commands::arg_docs::doc_fields(full_name));
    if !spec.subcommands.is_empty() {
        let subs = spec
            .subcommands
            .iter()
            .map(|s| {
                let full = format!("{}|{}", spec.name, s.name);
                let docs = command_docs(&full, s);
                (Reply::bulk(full.into_bytes()), docs)
            })
            .collect();
        fields.push((key_str("subcommands"), Reply::Map(subs)));
    }
    Reply::Map(fields)
}

/// Looks a command up by its name as COMMAND INFO/DOCS take it: `get` or `config|get`.
fn lookup(ctx: &Ctx<'_>, name: &[u8]) -> Option<(String, Found)> {
    let registry = &ctx.state.registry;
    match name.iter().position(|&b| b == b'|') {
        None => registry.get(name).map(|f| (f.spec.name.to_string(), f)),
        Some(bar) => {
            let parent = registry.get(&name[..bar])?;
            let found = registry.get_sub(parent.spec, &name[bar + 1..])?;
            Some((found.full_name.to_string(), found))
        }
    }
}

/// Every top-level command, sorted by the name it is reachable under.
fn all_commands(ctx: &Ctx<'_>) -> Vec<(String, Found)> {
    let mut all: Vec<(String, Found)> = ctx
        .state
        .registry
        .all()
        .map(|(n, f)| (n.to_string(), f))
        .collect();
    all.sort_by(|a, b| a.0.cmp(&b.0));
    all
}

fn command_all(ctx: &mut Ctx<'_>, _argv: &[Bytes]) -> CommandResult {
    Ok(Reply::Array(
        all_commands(ctx)
            .into_iter()
            .map(|(_, f)| command_info(f.spec.name, f.spec))
            .collect(),
    ))
}

fn count(ctx: &mut Ctx<'_>, _argv: &[Bytes]) -> CommandResult {
    Ok(Reply::Int(ctx.state.registry.len() as i64))
}

/// COMMAND LIST [FILTERBY MODULE name | ACLCAT category | PATTERN pattern]: names in lower case,
/// subcommands as `parent|sub`.
fn list(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CommandResult {
    enum Filter<'a> {
        All,
        Module,
        AclCat(String),
        Pattern(&'a [u8]),
    }
    let filter = match argv.len() {
        2 => Filter::All,
        5 if argv[2].eq_ignore_ascii_case(b"filterby") => {
            match argv[3].to_ascii_lowercase().as_slice() {
                b"module" => Filter::Module,
                b"aclcat" => Filter::AclCat(String::from_utf8_lossy(&argv[4]).to_ascii_lowercase()),
                b"pattern" => Filter::Pattern(&argv[4]),
                _ => return Err(CommandError::Syntax),
            }
        }
        _ => return Err(CommandError::Syntax),
    };
    let mut names = Vec::new();
    for (name, found) in all_commands(ctx) {
        let entries = std::iter::once((name.clone(), found.spec)).chain(
            found
                .spec
                .subcommands
                .iter()
                .map(|s| (format!("{name}|{}", s.name), s)),
        );
        for (full, spec) in entries {
            let keep = match &filter {
                Filter::All => true,
                Filter::Module => false,
                Filter::AclCat(cat) => categories(spec).contains(&cat.as_str()),
                Filter::Pattern(p) => crate::glob::glob_match(p, full.as_bytes(), true),
            };
            if keep {
                names.push(Reply::bulk(full.into_bytes()));
            }
        }
    }
    Ok(Reply::Array(names))
}

/// COMMAND INFO [name ...]: nil for unknown names; every command when none are given.
fn info(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CommandResult {
    if argv.len() == 2 {
        return command_all(ctx, argv);
    }
    let entries = argv[2..].iter().map(|name| match lookup(ctx, name) {
        Some((full, found)) => command_info(&full, found.spec),
        None => Reply::Nil,
    });
    Ok(Reply::Array(entries.collect()))
}

/// COMMAND DOCS [name ...]: a map of name to documentation; unknown names are left out.
fn docs(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CommandResult {
    let found: Vec<(String, Found)> = if argv.len() == 2 {
        all_commands(ctx)
    } else {
        argv[2..].iter().filter_map(|n| lookup(ctx, n)).collect()
    };
    Ok(Reply::Map(
        found
            .into_iter()
            .map(|(name, f)| {
                let docs = command_docs(f.full_name, f.spec);
                (Reply::bulk(name.into_bytes()), docs)
            })
            .collect(),
    ))
}

/// The keys of the command in `argv[2..]` with their flags, with Redis's checks in Redis's
/// order.
#[allow(clippy::type_complexity)]
fn keys_of<'a>(
    ctx: &Ctx<'_>,
    argv: &'a [Bytes],
) -> Result<
    (
        &'static CommandSpec,
        Vec<(&'a Bytes, &'static [&'static str])>,
    ),
    CommandError,
> {
    let cmd = &argv[2..];
    let registry = &ctx.state.registry;
    let mut found = registry
        .get(&cmd[0])
        .ok_or_else(|| CommandError::err("Invalid command specified"))?;
    let mut full_name = found.spec.name.to_string();
    if !found.spec.subcommands.is_empty() && cmd.len() >= 2 {
        found = registry
            .get_sub(found.spec, &cmd[1])
            .ok_or_else(|| CommandError::err("Invalid command specified"))?;
        full_name = format!("{full_name}|{}", found.spec.name);
    }
    let spec = found.spec;
    let declared = key_specs::declared(&full_name);
    let no_keys = match declared {
        Some(decls) => key_specs::only_channels(decls),
        None => matches!(spec.keys, KeySpec::None),
    };
    if no_keys {
        return Err(CommandError::err("The command has no key arguments"));
    }
    if !spec.arity_ok(cmd.len()) {
        return Err(CommandError::err(
            "Invalid number of arguments specified for command",
        ));
    }
    let keys: Vec<(&Bytes, &'static [&'static str])> = match declared {
        // Arguments that do not fit the specs (a bad `numkeys`) have no keys, as Redis's own
        // key finders of these commands answer.
        Some(decls) => match key_specs::keys_by_specs(decls, cmd) {
            Some(keys) => keys.into_iter().map(|(i, f)| (&cmd[i], f)).collect(),
            // Incomplete specs (MIGRATE's KEYS): the command's own key finder, with the first
            // spec's flags, as Redis's getkeys_proc.
            None if decls.iter().any(|d| d.flags.contains(&"incomplete")) => spec
                .keys
                .key_indexes(cmd)
                .into_iter()
                .map(|(_, i)| (&cmd[i], decls[0].flags))
                .collect(),
            None => Vec::new(),
        },
        None => {
            let flags = key_flags(spec).0;
            spec.keys
                .key_indexes(cmd)
                .into_iter()
                .map(|(_, i)| (&cmd[i], flags))
                .collect()
        }
    };
    if keys.is_empty() && !spec.has(NO_MANDATORY_KEYS) {
        return Err(CommandError::err("Invalid arguments specified for command"));
    }
    Ok((spec, keys))
}

fn getkeys(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CommandResult {
    let (_, keys) = keys_of(ctx, argv)?;
    Ok(Reply::Array(
        keys.into_iter()
            .map(|(k, _)| Reply::Bulk(k.clone()))
            .collect(),
    ))
}

fn getkeysandflags(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CommandResult {
    let (spec, keys) = keys_of(ctx, argv)?;
    // SET's key flags vary: only its GET option reads the old value.
    let set_flags: Option<&'static [&'static str]> = (spec.name == "set").then(|| {
        let get = argv[5..].iter().any(|a| a.eq_ignore_ascii_case(b"get"));
        if get {
            &["RW", "access", "update"][..]
        } else {
            &["OW", "update"][..]
        }
    });
    Ok(Reply::Array(
        keys.into_iter()
            .enumerate()
            .map(|(nth, (k, flags))| {
                let flags = set_flags
                    .or_else(|| per_key_flags(spec, &argv[2..], nth))
                    .unwrap_or(flags);
                Reply::Array(vec![Reply::Bulk(k.clone()), Reply::Set(statuses(flags))])
            })
            .collect(),
    ))
}

const HELP: &[&str] = &[
    "COMMAND <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "(no subcommand)",
    "    Return details about all Redis commands.",
    "COUNT",
    "    Return the total number of commands in this Redis server.",
    "LIST",
    "    Return a list of all commands in this Redis server.",
    "INFO [<command-name> ...]",
    "    Return details about multiple Redis commands.",
    "    If no command names are given, documentation details for all",
    "    commands are returned.",
    "DOCS [<command-name> ...]",
    "    Return documentation details about multiple Redis commands.",
    "    If no command names are given, documentation details for all",
    "    commands are returned.",
    "GETKEYS <full-command>",
    "    Return the keys from a full Redis command.",
    "GETKEYSANDFLAGS <full-command>",
    "    Return the keys and the access flags from a full Redis command.",
    "HELP",
    "    Prints this help.",
];

fn help(_ctx: &mut Ctx<'_>, _argv: &[Bytes]) -> CommandResult {
    Ok(crate::engine::help_reply(HELP))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn find(name: &str) -> &'static CommandSpec {
        crate::commands::string::COMMANDS
            .iter()
            .chain(crate::commands::generic::COMMANDS)
            .find(|s| s.name == name)
            .unwrap()
    }

    #[test]
    fn categories_follow_redis_rules() {
        assert_eq!(categories(find("get")), vec!["read", "string", "fast"]);
        assert_eq!(categories(find("set")), vec!["write", "string", "slow"]);
        assert_eq!(categories(find("del")), vec!["keyspace", "write", "slow"]);
        assert_eq!(categories(&COMMANDS[0]), vec!["slow", "connection"]);
    }

    #[test]
    fn key_spec_of_a_range() {
        let Reply::Map(fields) = &key_specs("exists", find("exists"))[0] else {
            panic!("not a map")
        };
        let Reply::Map(find_keys) = &fields[2].1 else {
            panic!("not a map")
        };
        let Reply::Map(spec) = &find_keys[1].1 else {
            panic!("not a map")
        };
        assert_eq!(spec[0].1, Reply::Int(-1));
    }
}
