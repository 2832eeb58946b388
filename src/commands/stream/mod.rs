//! Stream commands: Redis's `stream` group (`t_stream.c`).
//!
//! Each command parses its options with Redis's checks and error texts, runs on one
//! `StreamValue` (see `keyspace::types::stream`) through `commands::collection`, and maps the
//! outcome to a reply, notifications and AOF effects. This file holds the table, the shared
//! plumbing (ID parsing, entry replies) and the entry commands (XADD, XRANGE, XREVRANGE,
//! XLEN, XDEL, Redis 8.2's XDELEX, XTRIM, XSETID); consumer groups (with Redis 8.2's XACKDEL)
//! live in `group.rs`, XREAD/XREADGROUP in `read.rs`, XINFO in `info.rs`.

mod group;
mod info;
mod read;

use crate::command;
use crate::commands::collection::{self, read_in};
use crate::engine::args::{is, parse_i64};
use crate::error::CommandError;
use crate::keyspace::types::stream::{
    Fields, NodeLimits, RefPolicy, StreamId, Trim, DEL_DELETED, DEL_NOT_FOUND,
};
use crate::keyspace::types::StreamValue;
use crate::protocol::Reply;
use crate::pubsub::notify;
use crate::{
    engine::flags::*, engine::CommandResult, engine::CommandSpec, engine::Ctx, engine::KeySpec,
};
use bytes::Bytes;
use std::sync::atomic::Ordering;

/// Adds the complexity line COMMAND DOCS reports.
const fn cx(spec: CommandSpec, complexity: &'static str) -> CommandSpec {
    CommandSpec { complexity, ..spec }
}

const XF: &[&str] = &["stream", "fast"];
const XS: &[&str] = &["stream", "slow"];
const XB: &[&str] = &["stream", "slow", "blocking"];

/// The key of XGROUP and XINFO subcommands.
const SUB_KEY: KeySpec = KeySpec::Range {
    first: 2,
    last: 2,
    step: 1,
};

static XGROUP_SUBCOMMANDS: &[CommandSpec] = &[
    cx(
        command!(
            "create",
            -5,
            WRITE | DENYOOM,
            SUB_KEY,
            XS,
            "stream",
            "5.0.0",
            "Creates a consumer group.",
            group::xgroup_create
        ),
        "O(1)",
    ),
    cx(
        command!(
            "createconsumer",
            5,
            WRITE | DENYOOM,
            SUB_KEY,
            XS,
            "stream",
            "6.2.0",
            "Creates a consumer in a consumer group.",
            group::xgroup_createconsumer
        ),
        "O(1)",
    ),
    cx(
        command!(
            "delconsumer",
            5,
            WRITE,
            SUB_KEY,
            XS,
            "stream",
            "5.0.0",
            "Deletes a consumer from a consumer group.",
            group::xgroup_delconsumer
        ),
        "O(1)",
    ),
    cx(
        command!(
            "destroy",
            4,
            WRITE,
            SUB_KEY,
            XS,
            "stream",
            "5.0.0",
            "Destroys a consumer group.",
            group::xgroup_destroy
        ),
        "O(N) where N is the number of entries in the group's pending entries list (PEL).",
    ),
    cx(
        command!(
            "help",
            2,
            LOADING | STALE,
            KeySpec::None,
            XS,
            "stream",
            "5.0.0",
            "Returns helpful text about the different subcommands.",
            group::xgroup_help
        ),
        "O(1)",
    ),
    cx(
        command!(
            "setid",
            -5,
            WRITE,
            SUB_KEY,
            XS,
            "stream",
            "5.0.0",
            "Sets the last-delivered ID of a consumer group.",
            group::xgroup_setid
        ),
        "O(1)",
    ),
];

static XINFO_SUBCOMMANDS: &[CommandSpec] = &[
    cx(
        command!(
            "consumers",
            4,
            READONLY,
            SUB_KEY,
            XS,
            "stream",
            "5.0.0",
            "Returns a list of the consumers in a consumer group.",
            info::xinfo_consumers
        ),
        "O(1)",
    ),
    cx(
        command!(
            "groups",
            3,
            READONLY,
            SUB_KEY,
            XS,
            "stream",
            "5.0.0",
            "Returns a list of the consumer groups of a stream.",
            info::xinfo_groups
        ),
        "O(1)",
    ),
    cx(
        command!(
            "help",
            2,
            LOADING | STALE,
            KeySpec::None,
            XS,
            "stream",
            "5.0.0",
            "Returns helpful text about the different subcommands.",
            info::xinfo_help
        ),
        "O(1)",
    ),
    cx(
        command!(
            "stream",
            -3,
            READONLY,
            SUB_KEY,
            XS,
            "stream",
            "5.0.0",
            "Returns information about a stream.",
            info::xinfo_stream
        ),
        "O(1)",
    ),
];

pub static COMMANDS: &[CommandSpec] = &[
    cx(command!("xadd", -5, WRITE | DENYOOM | FAST, KeySpec::one(), XF, "stream", "5.0.0", "Appends a new message to a stream. Creates the key if it doesn't exist.", xadd), "O(1) when adding a new entry, O(N) when trimming where N being the number of entries evicted."),
    cx(command!("xrange", -4, READONLY, KeySpec::one(), XS, "stream", "5.0.0", "Returns the messages from a stream within a range of IDs.", xrange), "O(N) with N being the number of elements being returned. If N is constant (e.g. always asking for the first 10 elements with COUNT), you can consider it O(1)."),
    cx(command!("xrevrange", -4, READONLY, KeySpec::one(), XS, "stream", "5.0.0", "Returns the messages from a stream within a range of IDs in reverse order.", xrevrange), "O(N) with N being the number of elements returned. If N is constant (e.g. always asking for the first 10 elements with COUNT), you can consider it O(1)."),
    cx(command!("xlen", 2, READONLY | FAST, KeySpec::one(), XF, "stream", "5.0.0", "Return the number of messages in a stream.", xlen), "O(1)"),
    cx(command!("xdelex", -5, WRITE | FAST, KeySpec::one(), XF, "stream", "8.2.0", "Deletes one or multiple entries from the stream.", xdelex), "O(1) for each single item to delete in the stream, regardless of the stream size."),
    cx(command!("xackdel", -6, WRITE | FAST, KeySpec::one(), XF, "stream", "8.2.0", "Acknowledges and conditionally deletes one or multiple entries for a stream consumer group.", group::xackdel), "O(1) for each entry ID processed."),
    cx(command!("xdel", -3, WRITE | FAST, KeySpec::one(), XF, "stream", "5.0.0", "Returns the number of messages after removing them from a stream.", xdel), "O(1) for each single item to delete in the stream, regardless of the stream size."),
    cx(command!("xtrim", -4, WRITE, KeySpec::one(), XS, "stream", "5.0.0", "Deletes messages from the beginning of a stream.", xtrim), "O(N), with N being the number of evicted entries. Constant times are very small however, since entries are organized in macro nodes containing multiple entries that can be released with a single deallocation."),
    cx(command!("xsetid", -3, WRITE | DENYOOM | FAST, KeySpec::one(), XF, "stream", "5.0.0", "An internal command for replicating stream values.", xsetid), "O(1)"),
    cx(command!("xread", -4, READONLY | BLOCKING, KeySpec::Custom(read::keys_xread), XB, "stream", "5.0.0", "Returns messages from multiple streams with IDs greater than the ones requested. Blocks until a message is available otherwise.", read::xread), "For each stream mentioned: O(N) with N being the number of elements being returned, it means that XREAD-ing with a fixed COUNT is O(1). Note that when the BLOCK option is used, XADD will pay O(M) time in order to serve the M clients blocked on the stream getting new data."),
    cx(command!("xreadgroup", -7, WRITE | BLOCKING, KeySpec::Custom(read::keys_xreadgroup), XB, "stream", "5.0.0", "Returns new or historical messages from a stream for a consumer in a group. Blocks until a message is available otherwise.", read::xreadgroup), "For each stream mentioned: O(M) with M being the number of elements returned. If M is constant (e.g. always asking for the first 10 elements with COUNT), you can consider it O(1). On the other side when XREADGROUP blocks, XADD will pay the O(N) time in order to serve the N clients blocked on the stream getting new data."),
    cx(command!("xack", -4, WRITE | FAST, KeySpec::one(), XF, "stream", "5.0.0", "Returns the number of messages that were successfully acknowledged by the consumer group member of a stream.", group::xack), "O(1) for each message ID processed."),
    cx(command!("xpending", -3, READONLY, KeySpec::one(), XS, "stream", "5.0.0", "Returns the information and entries from a stream consumer group's pending entries list.", group::xpending), "O(N) with N being the number of elements returned, so asking for a small fixed number of entries per call is O(1). O(M), where M is the total number of entries scanned when used with the IDLE filter. When the command returns just the summary and the list of consumers is small, it runs in O(1) time; otherwise, an additional O(N) time for iterating every consumer."),
    cx(command!("xclaim", -6, WRITE | FAST, KeySpec::one(), XF, "stream", "5.0.0", "Changes, or acquires, ownership of a message in a consumer group, as if the message was delivered a consumer group member.", group::xclaim), "O(log N) with N being the number of messages in the PEL of the consumer group."),
    cx(command!("xautoclaim", -6, WRITE | FAST, KeySpec::one(), XF, "stream", "6.2.0", "Changes, or acquires, ownership of messages in a consumer group, as if the messages were delivered to as consumer group member.", group::xautoclaim), "O(1) if COUNT is small."),
    CommandSpec {
        name: "xgroup",
        arity: -2,
        flags: 0,
        keys: KeySpec::None,
        acl: &["slow"],
        group: "stream",
        summary: "A container for consumer groups commands.",
        since: "5.0.0",
        complexity: "Depends on subcommand.",
        run: crate::engine::subcommands_only,
        subcommands: XGROUP_SUBCOMMANDS,
    },
    CommandSpec {
        name: "xinfo",
        arity: -2,
        flags: 0,
        keys: KeySpec::None,
        acl: &["slow"],
        group: "stream",
        summary: "A container for stream introspection commands.",
        since: "5.0.0",
        complexity: "Depends on subcommand.",
        run: crate::engine::subcommands_only,
        subcommands: XINFO_SUBCOMMANDS,
    },
];

/// `ERR Invalid stream ID specified as stream command argument`
fn invalid_id() -> CommandError {
    CommandError::err("Invalid stream ID specified as stream command argument")
}

/// An error quoting client bytes (key or group names), as Redis's `addReplyErrorFormat`
/// prints them: newlines become spaces.
fn raw_error(parts: &[&[u8]]) -> CommandError {
    let mut out: Vec<u8> = parts.concat();
    for b in out.iter_mut() {
        if *b == b'\r' || *b == b'\n' {
            *b = b' ';
        }
    }
    CommandError::Raw(out)
}

/// C's `strtoull` after Redis's `string2ll` failed: optional blanks and sign, decimal digits
/// to the end; a minus sign negates modulo 2^64.
fn strtoull(s: &[u8]) -> Option<u64> {
    let mut i = 0;
    while i < s.len() && matches!(s[i], b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c) {
        i += 1;
    }
    let mut neg = false;
    if i < s.len() && (s[i] == b'+' || s[i] == b'-') {
        neg = s[i] == b'-';
        i += 1;
    }
    if i >= s.len() {
        return None;
    }
    let mut n: u64 = 0;
    for &c in &s[i..] {
        if !c.is_ascii_digit() {
            return None;
        }
        n = n.checked_mul(10)?.checked_add(u64::from(c - b'0'))?;
    }
    Some(if neg { n.wrapping_neg() } else { n })
}

/// Redis's `string2ull`.
fn string2ull(s: &[u8]) -> Option<u64> {
    if s.is_empty() {
        return None;
    }
    if let Some(n) = crate::strconv::parse_i64_strict(s) {
        return (n >= 0).then_some(n as u64);
    }
    strtoull(s)
}

/// A parsed ID argument: the ID, and whether its sequence was given (`ms-*` leaves it open).
#[derive(Clone, Copy, Debug)]
struct ParsedId {
    id: StreamId,
    seq_given: bool,
}

/// Redis's `streamGenericParseIDOrReply`: `-`, `+` (unless `strict`), `ms`, `ms-seq`, and
/// `ms-*` when `allow_open_seq`.
fn parse_id_generic(
    arg: &[u8],
    missing_seq: u64,
    strict: bool,
    allow_open_seq: bool,
) -> Result<ParsedId, CommandError> {
    if arg.len() > 127 {
        return Err(invalid_id());
    }
    // C string semantics: stop at the first NUL.
    let arg = arg.split(|&b| b == 0).next().unwrap_or(&[]);
    if arg == b"-" || arg == b"+" {
        if strict {
            return Err(invalid_id());
        }
        let id = if arg == b"-" {
            StreamId::ZERO
        } else {
            StreamId::MAX
        };
        return Ok(ParsedId {
            id,
            seq_given: true,
        });
    }
    let (ms_part, seq_part) = match arg.iter().position(|&b| b == b'-') {
        Some(dash) => (&arg[..dash], Some(&arg[dash + 1..])),
        None => (arg, None),
    };
    let ms = string2ull(ms_part).ok_or_else(invalid_id)?;
    let (seq, seq_given) = match seq_part {
        Some(b"*") if allow_open_seq => (0, false),
        Some(p) => (string2ull(p).ok_or_else(invalid_id)?, true),
        None => (missing_seq, true),
    };
    Ok(ParsedId {
        id: StreamId::new(ms, seq),
        seq_given,
    })
}

/// `streamParseStrictIDOrReply` (no `-`/`+`).
fn parse_strict_id(arg: &[u8], missing_seq: u64) -> Result<StreamId, CommandError> {
    Ok(parse_id_generic(arg, missing_seq, true, false)?.id)
}

/// `streamParseIDOrReply` (`-`/`+` allowed).
fn parse_id(arg: &[u8], missing_seq: u64) -> Result<StreamId, CommandError> {
    Ok(parse_id_generic(arg, missing_seq, false, false)?.id)
}

/// A range bound: `(id` is exclusive (strict form), otherwise `streamParseIDOrReply`.
fn parse_interval_id(arg: &[u8], missing_seq: u64) -> Result<(StreamId, bool), CommandError> {
    if arg.len() > 1 && arg[0] == b'(' {
        Ok((parse_strict_id(&arg[1..], missing_seq)?, true))
    } else {
        Ok((parse_id(arg, missing_seq)?, false))
    }
}

/// One entry as a reply: `[id, [field, value, ...]]`.
fn entry_reply(id: StreamId, fields: &Fields<'_>) -> Reply {
    let mut flat = Vec::with_capacity(fields.len() * 2);
    for (f, v) in fields {
        flat.push(Reply::Bulk(Bytes::copy_from_slice(f)));
        flat.push(Reply::Bulk(Bytes::copy_from_slice(v)));
    }
    Reply::Array(vec![Reply::Bulk(id.to_bytes()), Reply::Array(flat)])
}

fn entries_reply(entries: &[(StreamId, Fields<'_>)]) -> Reply {
    Reply::Array(entries.iter().map(|(id, f)| entry_reply(*id, f)).collect())
}

/// The node limits in force.
fn limits(ctx: &Ctx<'_>) -> NodeLimits {
    let hot = &ctx.state.config.hot;
    NodeLimits {
        entries: hot.stream_node_max_entries.load(Ordering::Relaxed),
        bytes: hot.stream_node_max_bytes.load(Ordering::Relaxed),
    }
}

/// The trimming options of XADD and XTRIM.
#[derive(Default)]
struct TrimArgs {
    trim: Option<Trim>,
    approx: bool,
    limit: u64,
    nomkstream: bool,
    /// XADD's ID argument position and value (`None` for `*`).
    id_at: usize,
    id: Option<ParsedId>,
}

/// Redis's `streamParseAddOrTrimArgsOrReply`.
fn parse_add_or_trim(
    argv: &[Bytes],
    xadd: bool,
    node_entries: u64,
) -> Result<TrimArgs, CommandError> {
    let mut a = TrimArgs::default();
    let mut limit_given = false;
    let mut limit: i64 = 0;
    let mut i = 2;
    while i < argv.len() {
        let more = argv.len() - 1 - i;
        let opt = &argv[i][..];
        if xadd && opt == b"*" {
            break;
        } else if (is(opt, "maxlen") || is(opt, "minid")) && more > 0 {
            if a.trim.is_some() {
                return Err(CommandError::err(
                    "syntax error, MAXLEN and MINID options at the same time are not compatible",
                ));
            }
            a.approx = false;
            let next = &argv[i + 1][..];
            if more >= 2 && next == b"~" {
                a.approx = true;
                i += 1;
            } else if more >= 2 && next == b"=" {
                i += 1;
            }
            if is(opt, "maxlen") {
                let n = parse_i64(&argv[i + 1])?;
                if n < 0 {
                    return Err(CommandError::err("The MAXLEN argument must be >= 0."));
                }
                a.trim = Some(Trim::MaxLen(n as u64));
            } else {
                a.trim = Some(Trim::MinId(parse_strict_id(&argv[i + 1], 0)?));
            }
            i += 1;
        } else if is(opt, "limit") && more > 0 {
            limit = parse_i64(&argv[i + 1])?;
            if limit < 0 {
                return Err(CommandError::err("The LIMIT argument must be >= 0."));
            }
            limit_given = true;
            i += 1;
        } else if xadd && is(opt, "nomkstream") {
            a.nomkstream = true;
        } else if xadd {
            a.id = Some(parse_id_generic(opt, 0, true, true)?);
            break;
        } else {
            return Err(CommandError::Syntax);
        }
        i += 1;
    }
    a.id_at = i;
    if limit != 0 && a.trim.is_none() {
        return Err(CommandError::err(
            "syntax error, LIMIT cannot be used without specifying a trimming strategy",
        ));
    }
    if !xadd && a.trim.is_none() {
        return Err(CommandError::err(
            "syntax error, XTRIM must be called with a trimming strategy",
        ));
    }
    if limit_given {
        if !a.approx {
            return Err(CommandError::err(
                "syntax error, LIMIT cannot be used without the special ~ option",
            ));
        }
        a.limit = limit as u64;
    } else if a.approx {
        let l = node_entries.saturating_mul(100);
        a.limit = if l == 0 || l > 10_000 { 10_000 } else { l };
    }
    Ok(a)
}

/// The trim arguments as logged after an approximate trim: exact, with the threshold that
/// reproduces the result (the length left, or the first ID left), and no LIMIT.
fn exact_trim_args(s: &StreamValue, trim: Trim) -> [Bytes; 3] {
    match trim {
        Trim::MaxLen(_) => [
            Bytes::from_static(b"MAXLEN"),
            Bytes::from_static(b"="),
            Bytes::from(s.len().to_string()),
        ],
        Trim::MinId(_) => [
            Bytes::from_static(b"MINID"),
            Bytes::from_static(b"="),
            s.first_id().to_bytes(),
        ],
    }
}

const TOP_ITEM: &str =
    "The ID specified in XADD is equal or smaller than the target stream top item";

fn xadd(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CommandResult {
    let lim = limits(ctx);
    let a = parse_add_or_trim(argv, true, lim.entries)?;
    let field_at = a.id_at + 1;
    let nfields = argv.len().saturating_sub(field_at);
    if nfields < 2 || nfields % 2 == 1 {
        return Err(CommandError::Arity("xadd".into()));
    }
    if let Some(p) = a.id {
        if p.seq_given && p.id.is_zero() {
            return Err(CommandError::err(
                "The ID specified in XADD must be greater than 0-0",
            ));
        }
    }
    let key = &argv[1];
    let db = ctx.db();
    let now = ctx.now_ms;
    let fields: Vec<(&[u8], &[u8])> = argv[field_at..]
        .chunks(2)
        .map(|p| (&p[0][..], &p[1][..]))
        .collect();
    let logging = ctx.logging();
    let written = collection::write::<StreamValue, _>(ctx, db, key, !a.nomkstream, |s| {
        if s.last_id == StreamId::MAX {
            return Err(CommandError::err(
                "The stream has exhausted the last possible ID, unable to add more items",
            ));
        }
        let id = match a.id {
            Some(p) if p.seq_given => p.id,
            Some(p) => s
                .next_id(now, Some(p.id.ms))
                .map_err(|_| CommandError::err(TOP_ITEM))?,
            None => s
                .next_id(now, None)
                .map_err(|_| CommandError::err(TOP_ITEM))?,
        };
        s.append(id, &fields, lim)
            .map_err(|_| CommandError::err(TOP_ITEM))?;
        let trimmed = match a.trim {
            Some(t) => s.trim(t, a.approx, a.limit),
            None => 0,
        };
        let log_trim = (a.approx && logging)
            .then(|| exact_trim_args(s, a.trim.expect("approx implies a strategy")));
        Ok((id, trimmed, log_trim))
    })?;
    let Some(w) = written else {
        return Ok(Reply::Nil);
    };
    let (id, trimmed, log_trim) = w.result;
    if w.created {
        ctx.notify(notify::NEW, "new", db, key);
    }
    ctx.key_changed(db, key);
    ctx.notify(notify::STREAM, "xadd", db, key);
    if a.trim.is_some() && trimmed > 0 {
        ctx.notify(notify::STREAM, "xtrim", db, key);
    }
    let id_complete = a.id.is_some_and(|p| p.seq_given);
    if logging && (!id_complete || log_trim.is_some()) {
        let mut out = vec![Bytes::from_static(b"XADD"), key.clone()];
        if a.nomkstream {
            out.push(Bytes::from_static(b"NOMKSTREAM"));
        }
        if let Some(t) = log_trim {
            out.extend(t);
        } else if let Some(t) = a.trim {
            match t {
                Trim::MaxLen(n) => out.extend([
                    Bytes::from_static(b"MAXLEN"),
                    Bytes::from_static(b"="),
                    Bytes::from(n.to_string()),
                ]),
                Trim::MinId(m) => out.extend([
                    Bytes::from_static(b"MINID"),
                    Bytes::from_static(b"="),
                    m.to_bytes(),
                ]),
            }
        }
        out.push(id.to_bytes());
        out.extend(argv[field_at..].iter().cloned());
        ctx.propagate(out);
    }
    Ok(Reply::Bulk(id.to_bytes()))
}

fn xtrim(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CommandResult {
    let key = &argv[1];
    if read_in::<StreamValue>(ctx, key)?.is_none() {
        return Ok(Reply::Int(0));
    }
    let lim = limits(ctx);
    let a = parse_add_or_trim(argv, false, lim.entries)?;
    let trim = a.trim.expect("XTRIM requires a strategy");
    let db = ctx.db();
    let logging = ctx.logging();
    let w = collection::write::<StreamValue, _>(ctx, db, key, false, |s| {
        let n = s.trim(trim, a.approx, a.limit);
        Ok((n, (a.approx && logging).then(|| exact_trim_args(s, trim))))
    })?
    .expect("checked above");
    let (n, log_trim) = w.result;
    if n > 0 {
        ctx.key_changed(db, key);
        ctx.notify(notify::STREAM, "xtrim", db, key);
        if let Some(t) = log_trim {
            let mut out = vec![Bytes::from_static(b"XTRIM"), key.clone()];
            out.extend(t);
            ctx.propagate(out);
        }
    } else {
        ctx.propagate_nothing();
    }
    Ok(Reply::Int(n as i64))
}

fn xrange(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CommandResult {
    range_command(ctx, argv, false)
}

fn xrevrange(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CommandResult {
    range_command(ctx, argv, true)
}

fn range_command(ctx: &mut Ctx<'_>, argv: &[Bytes], rev: bool) -> CommandResult {
    let (start_arg, end_arg) = if rev {
        (&argv[3], &argv[2])
    } else {
        (&argv[2], &argv[3])
    };
    let (mut start, start_ex) = parse_interval_id(start_arg, 0)?;
    if start_ex {
        start = start
            .incr()
            .ok_or_else(|| CommandError::err("invalid start ID for the interval"))?;
    }
    let (mut end, end_ex) = parse_interval_id(end_arg, u64::MAX)?;
    if end_ex {
        end = end
            .decr()
            .ok_or_else(|| CommandError::err("invalid end ID for the interval"))?;
    }
    let mut count: i64 = -1;
    let mut j = 4;
    while j < argv.len() {
        if is(&argv[j], "count") && j + 1 < argv.len() {
            count = parse_i64(&argv[j + 1])?.max(0);
            j += 2;
        } else {
            return Err(CommandError::Syntax);
        }
    }
    let Some(s) = read_in::<StreamValue>(ctx, &argv[1])? else {
        return Ok(Reply::Array(Vec::new()));
    };
    if count == 0 {
        return Ok(Reply::NilArray);
    }
    let n = if count < 0 { 0 } else { count as usize };
    Ok(entries_reply(&s.range(start, end, n, rev)))
}

fn xlen(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CommandResult {
    Ok(Reply::Int(
        read_in::<StreamValue>(ctx, &argv[1])?.map_or(0, |s| s.len() as i64),
    ))
}

fn xdel(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CommandResult {
    let key = &argv[1];
    if read_in::<StreamValue>(ctx, key)?.is_none() {
        return Ok(Reply::Int(0));
    }
    let ids = argv[2..]
        .iter()
        .map(|a| parse_strict_id(a, 0))
        .collect::<Result<Vec<_>, _>>()?;
    let db = ctx.db();
    let w = collection::write::<StreamValue, _>(ctx, db, key, false, |s| {
        Ok(ids.iter().filter(|id| s.delete(**id)).count())
    })?
    .expect("checked above");
    if w.result > 0 {
        ctx.key_changed(db, key);
        ctx.notify(notify::STREAM, "xdel", db, key);
    }
    Ok(Reply::Int(w.result as i64))
}

/// Parses XDELEX / XACKDEL's `[KEEPREF | DELREF | ACKED] IDS numids id [id ...]` from
/// `argv[from..]` (the IDS block may come before the policy, as Redis 8.2 allows).
fn parse_ref_ids(argv: &[Bytes], from: usize) -> Result<(RefPolicy, Vec<StreamId>), CommandError> {
    let mut policy = None;
    let mut ids: Option<Vec<StreamId>> = None;
    let mut i = from;
    while i < argv.len() {
        let a = &argv[i];
        if is(a, "ids") && i + 1 < argv.len() && ids.is_none() {
            let n = parse_i64(&argv[i + 1])
                .ok()
                .filter(|n| *n > 0)
                .ok_or_else(|| CommandError::err("Number of IDs must be a positive integer"))?;
            let rest = (argv.len() - i - 2) as u64;
            if n as u64 > rest {
                return Err(CommandError::err(
                    "The `numids` parameter must match the number of arguments",
                ));
            }
            let n = n as usize;
            ids = Some(
                argv[i + 2..i + 2 + n]
                    .iter()
                    .map(|a| parse_strict_id(a, 0))
                    .collect::<Result<_, _>>()?,
            );
            i += 2 + n;
            continue;
        }
        let p = if is(a, "keepref") {
            RefPolicy::KeepRef
        } else if is(a, "delref") {
            RefPolicy::DelRef
        } else if is(a, "acked") {
            RefPolicy::Acked
        } else {
            return Err(CommandError::Syntax);
        };
        if policy.replace(p).is_some() {
            return Err(CommandError::Syntax);
        }
        i += 1;
    }
    let ids = ids.ok_or(CommandError::Syntax)?;
    Ok((policy.unwrap_or(RefPolicy::KeepRef), ids))
}

/// The per-ID code array of XDELEX / XACKDEL.
fn codes_reply(codes: &[i64]) -> Reply {
    Reply::Array(codes.iter().map(|c| Reply::Int(*c)).collect())
}

/// XDELEX (Redis 8.2): XDEL with a reference policy and one code per ID.
fn xdelex(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CommandResult {
    let key = &argv[1];
    let (policy, ids) = parse_ref_ids(argv, 2)?;
    if read_in::<StreamValue>(ctx, key)?.is_none() {
        ctx.propagate_nothing();
        return Ok(codes_reply(&vec![DEL_NOT_FOUND; ids.len()]));
    }
    let db = ctx.db();
    let w = collection::write::<StreamValue, _>(ctx, db, key, false, |s| {
        let pending_before: usize = s.groups.values().map(|g| g.pel.len()).sum();
        let codes: Vec<i64> = ids.iter().map(|id| s.delete_with(*id, policy)).collect();
        let pending_after: usize = s.groups.values().map(|g| g.pel.len()).sum();
        Ok((codes, pending_after != pending_before))
    })?
    .expect("checked above");
    let (codes, refs_dropped) = w.result;
    if codes.contains(&DEL_DELETED) {
        ctx.key_changed(db, key);
        ctx.notify(notify::STREAM, "xdel", db, key);
        ctx.propagate(argv.to_vec());
    } else if refs_dropped {
        ctx.propagate(argv.to_vec());
    } else {
        ctx.propagate_nothing();
    }
    Ok(codes_reply(&codes))
}

fn xsetid(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CommandResult {
    let id = parse_strict_id(&argv[2], 0)?;
    let mut entries_added: Option<u64> = None;
    let mut max_xdel = StreamId::ZERO;
    let mut i = 3;
    while i < argv.len() {
        let more = argv.len() - 1 - i;
        if is(&argv[i], "entriesadded") && more > 0 {
            let n = parse_i64(&argv[i + 1])?;
            if n < 0 {
                return Err(CommandError::err("entries_added must be positive"));
            }
            entries_added = Some(n as u64);
            i += 2;
        } else if is(&argv[i], "maxdeletedid") && more > 0 {
            max_xdel = parse_strict_id(&argv[i + 1], 0)?;
            if id < max_xdel {
                return Err(CommandError::err(
                    "The ID specified in XSETID is smaller than the provided max_deleted_entry_id",
                ));
            }
            i += 2;
        } else {
            return Err(CommandError::Syntax);
        }
    }
    let key = &argv[1];
    let db = ctx.db();
    collection::write::<StreamValue, _>(ctx, db, key, false, |s| {
        if id < s.max_deleted {
            return Err(CommandError::err(
                "The ID specified in XSETID is smaller than current max_deleted_entry_id",
            ));
        }
        if !s.is_empty() {
            if id < s.last_valid_id() {
                return Err(CommandError::err(
                    "The ID specified in XSETID is smaller than the target stream top item",
                ));
            }
            if entries_added.is_some_and(|n| s.len() > n) {
                return Err(CommandError::err(
                    "The entries_added specified in XSETID is smaller than the target stream length",
                ));
            }
        }
        s.last_id = id;
        if let Some(n) = entries_added {
            s.entries_added = n;
        }
        if !max_xdel.is_zero() {
            s.max_deleted = max_xdel;
        }
        Ok(())
    })?
    .ok_or(CommandError::NoSuchKey)?;
    // Logged as requested, but no WATCH or tracking touch (as Redis 7.0.15).
    ctx.changed += 1;
    ctx.notify(notify::STREAM, "xsetid", db, key);
    Ok(Reply::Ok)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn id_parsing() {
        let p =
            |s: &str| parse_id_generic(s.as_bytes(), 0, true, true).map(|p| (p.id, p.seq_given));
        assert_eq!(p("5").unwrap(), (StreamId::new(5, 0), true));
        assert_eq!(p("5-*").unwrap(), (StreamId::new(5, 0), false));
        assert_eq!(p("5-3").unwrap(), (StreamId::new(5, 3), true));
        assert_eq!(p("18446744073709551615-1").unwrap().0.ms, u64::MAX);
        assert!(p("-").is_err());
        assert!(p("-1").is_err());
        assert!(p("a-1").is_err());
        assert!(p("1-").is_err());
        assert!(p("18446744073709551616").is_err());
        assert_eq!(p("01").unwrap().0, StreamId::new(1, 0));
    }
}
