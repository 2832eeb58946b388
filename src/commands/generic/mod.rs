//! Generic key commands (Redis's `generic` group; expiry is in `expire.rs`, OBJECT in
//! `object.rs`): DEL UNLINK EXISTS TOUCH TYPE KEYS SCAN RANDOMKEY RENAME RENAMENX COPY MOVE,
//! and WAIT / WAITAOF (WAIT counts replica acknowledgements, replication/primary.rs).
//!
//! Commands that iterate the keyspace (KEYS, SCAN, RANDOMKEY) declare no keys and visit one
//! shard at a time, so they never hold more than one shard lock. SCAN cursors name a slab slot
//! (`shard + shards_per_db * slot`): slots never move while their entry lives, so a key present
//! for the whole iteration is returned even if its shard grows meanwhile.

pub mod dump;
pub mod expire;
pub mod migrate;
pub mod object;
pub mod sort;

use crate::command;
use crate::engine::args::{is, parse_i64};
use crate::error::CommandError;
use crate::glob::glob_match;
use crate::keyspace::entry_arena::Arena;
use crate::keyspace::{Entry, Shard, ShardId};
use crate::protocol::Reply;
use crate::pubsub::notify;
use crate::{
    engine::flags::*, engine::CommandResult, engine::CommandSpec, engine::Ctx, engine::KeySpec,
};
use bytes::Bytes;

pub static COMMANDS: &[CommandSpec] = &[
    command!("del", -2, WRITE, KeySpec::all_from_first(), &["keyspace", "slow"], "generic", "1.0.0", "Deletes one or more keys.", del),
    command!("unlink", -2, WRITE | FAST, KeySpec::all_from_first(), &["keyspace", "fast"], "generic", "4.0.0", "Asynchronously deletes one or more keys.", del),
    command!("exists", -2, READONLY | FAST | NO_TOUCH, KeySpec::all_from_first(), &["keyspace", "fast"], "generic", "1.0.0", "Determines whether one or more keys exist.", exists),
    command!("touch", -2, READONLY | FAST | TOUCHES, KeySpec::all_from_first(), &["keyspace", "fast"], "generic", "3.2.1", "Returns the number of existing keys out of those specified after updating the time they were last accessed.", exists),
    command!("type", 2, READONLY | FAST | NO_TOUCH, KeySpec::one(), &["keyspace", "fast"], "generic", "1.0.0", "Determines the type of value stored at a key.", type_cmd),
    command!("keys", 2, READONLY, KeySpec::None, &["keyspace", "slow", "dangerous"], "generic", "1.0.0", "Returns all key names that match a pattern.", keys),
    command!("scan", -2, READONLY, KeySpec::None, &["keyspace", "slow"], "generic", "2.8.0", "Iterates over the key names in the database.", scan),
    command!("randomkey", 1, READONLY, KeySpec::None, &["keyspace", "slow"], "generic", "1.0.0", "Returns a random key name from the database.", randomkey),
    command!("rename", 3, WRITE, KeySpec::Range { first: 1, last: 2, step: 1 }, &["keyspace", "slow"], "generic", "1.0.0", "Renames a key and overwrites the destination.", rename),
    command!("renamenx", 3, WRITE | FAST, KeySpec::Range { first: 1, last: 2, step: 1 }, &["keyspace", "fast"], "generic", "1.0.0", "Renames a key only when the target key name doesn't exist.", renamenx),
    command!("copy", -3, WRITE | DENYOOM, KeySpec::Custom(copy_keys), &["keyspace", "slow"], "generic", "6.2.0", "Copies the value of a key to a new key.", copy),
    command!("move", 3, WRITE | FAST, KeySpec::Custom(move_keys), &["keyspace", "fast"], "generic", "1.0.0", "Moves a key to another database.", move_cmd),
    command!("wait", 3, NOSCRIPT | AWAITS_ACKS, KeySpec::None, &["slow", "connection"], "generic", "3.0.0", "Blocks until the asynchronous replication of all preceding write commands sent by the connection is completed.", wait),
    command!("waitaof", 4, NOSCRIPT | AWAITS_ACKS, KeySpec::None, &["slow", "connection"], "generic", "7.2.0", "Blocks until all of the preceding write commands sent by the connection are written to the append-only file of the master and/or replicas.", waitaof),
];

/// WAIT's and WAITAOF's timeout: integer milliseconds (0 = forever), Redis's errors.
fn wait_deadline(ctx: &Ctx<'_>, arg: &[u8]) -> Result<Option<u64>, CommandError> {
    let ms = parse_i64(arg)
        .map_err(|_| CommandError::err("timeout is not an integer or out of range"))?;
    if ms < 0 {
        return Err(CommandError::err("timeout is negative"));
    }
    if ms == 0 {
        return Ok(None);
    }
    if ms > i64::MAX - ctx.now_ms as i64 {
        return Err(CommandError::err("timeout is out of range"));
    }
    Ok(Some(ctx.now_ms + ms as u64))
}

/// Answers `reply` at once when nothing is awaited or the client may not block (MULTI), and
/// otherwise blocks (on no key) until the deadline, then answers it: a primary without
/// replicas never gets more acknowledgements than it has now.
fn wait_for_nothing(
    ctx: &mut Ctx<'_>,
    satisfied: bool,
    deadline_ms: Option<u64>,
    reply: Reply,
) -> CommandResult {
    if satisfied {
        return Ok(reply);
    }
    crate::engine::blocking::block_on(
        ctx,
        crate::engine::client::BlockRequest {
            keys: Vec::new(),
            wants: "",
            deadline_ms,
            timeout_reply: reply,
            rerun: None,
            on_any_change: false,
        },
    )
}

/// WAIT numreplicas timeout: the count of replicas that acknowledged the stream up to this
/// client's writes (replication/primary.rs).
fn wait(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CommandResult {
    if ctx.state.replication.is_replica() {
        return Err(CommandError::err("WAIT cannot be used with replica instances. Please also note that since Redis 4.0 if a replica is configured to be writable (which is not the default) writes to replicas are just local and are not propagated."));
    }
    let numreplicas = parse_i64(&argv[1])?;
    let deadline_ms = wait_deadline(ctx, &argv[2])?;
    if ctx.state.replication.is_replica() {
        return Err(CommandError::err(
            "WAIT cannot be used with replica instances. Please also note that since Redis 4.0 if a replica is configured to be writable (which is not the default) writes to replicas are just local and are not propagated.",
        ));
    }
    wait_for_replicas(ctx, numreplicas, deadline_ms)
}

/// Answers at once when enough replicas acknowledged the stream up to this client's last write
/// (or none is asked for), else blocks until they do or the timeout passes (the count then is
/// the reply), asking every replica for an ACK.
fn wait_for_replicas(
    ctx: &mut Ctx<'_>,
    numreplicas: i64,
    deadline_ms: Option<u64>,
) -> CommandResult {
    let state = ctx.state;
    let primary = &state.replication.primary;
    let target = ctx.client.repl.woff;
    let count = primary.acked(target);
    if numreplicas <= 0 || count as i64 >= numreplicas || !crate::engine::blocking::may_block(ctx) {
        return Ok(Reply::Int(count as i64));
    }
    let Some(server) = state.self_arc() else {
        return Ok(Reply::Int(count as i64));
    };
    primary.add_wait(
        state.replication_handle(),
        ctx.client.id,
        target,
        numreplicas as usize,
        ctx.now_ms,
    );
    if let Some(deadline) = deadline_ms {
        let id = ctx.client.id;
        let sleep_ms = deadline.saturating_sub(ctx.now_ms);
        tokio::spawn(async move {
            tokio::time::sleep(std::time::Duration::from_millis(sleep_ms)).await;
            if let Some(count) = server.replication.primary.end_wait(id) {
                server
                    .blocking
                    .complete(server.blocked_counts(), id, Reply::Int(count as i64));
            }
        });
    }
    crate::engine::blocking::block_on(
        ctx,
        crate::engine::client::BlockRequest {
            keys: Vec::new(),
            wants: "",
            deadline_ms: None,
            timeout_reply: Reply::Int(count as i64),
            rerun: None,
            on_any_change: false,
        },
    )
}

/// WAITAOF numlocal numreplicas timeout (Redis 7.2): `[local fsyncs, replica fsyncs]`.
/// The reply of a command goes out only once its effects are in the AOF as far as
/// `appendfsync` asks; with `always` that is the fsync, so the client's earlier writes are
/// fsynced whenever this reply is sent and the local count is 1 at once.
fn waitaof(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CommandResult {
    let numlocal = parse_i64(&argv[1])?;
    if !(0..=1).contains(&numlocal) {
        return Err(CommandError::err(
            "value is out of range, value must between 0 and 1",
        ));
    }
    let numreplicas = parse_i64(&argv[2])?;
    if numreplicas < 0 {
        return Err(CommandError::err("value is out of range, must be positive"));
    }
    let deadline_ms = wait_deadline(ctx, &argv[3])?;
    let aof = &ctx.state.aof;
    if numlocal > 0 && !aof.is_on() {
        return Err(CommandError::err(
            "WAITAOF cannot be used when numlocal is set but appendonly is disabled.",
        ));
    }
    if numlocal > 0 && aof.policy() != crate::aof::Fsync::Always {
        // No fsync position is tracked for `everysec` / `no` yet: refuse rather than guess.
        return Err(CommandError::err(
            "WAITAOF numlocal 1 needs appendfsync always on this server",
        ));
    }
    let local = i64::from(aof.is_on() && aof.policy() == crate::aof::Fsync::Always);
    let reply = Reply::Array(vec![Reply::Int(local), Reply::Int(0)]);
    wait_for_nothing(ctx, numreplicas == 0, deadline_ms, reply)
}

/// Slots SCAN visits under one lock acquisition; a large COUNT is split into several holds.
const SCAN_SLOTS_PER_LOCK: usize = 1024;
/// SCAN visits at most COUNT times this many slots per call (Redis's `maxiterations`).
const SCAN_VISITS_PER_COUNT: usize = 10;
/// RANDOMKEY: random slot probes in the chosen shard before a linear walk.
const RANDOM_PROBES_MAX: usize = 64;
/// RANDOMKEY: shards tried at random before walking every shard in order.
const RANDOM_SHARD_TRIES_MAX: usize = 8;

fn del(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CommandResult {
    let now = ctx.now_ms;
    let db = ctx.db();
    let mut removed = 0;
    for key in &argv[1..] {
        let (shard, hash) = ctx.shard(key);
        if shard.remove(hash, key, now).is_some() {
            removed += 1;
            ctx.key_changed(db, key);
            ctx.notify(notify::GENERIC, "del", db, key);
        }
    }
    Ok(Reply::Int(removed))
}

/// EXISTS and TOUCH: both count the live keys among the arguments (repeats count again).
fn exists(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CommandResult {
    let now = ctx.now_ms;
    let mut count = 0;
    for key in &argv[1..] {
        let (shard, hash) = ctx.shard(key);
        if shard.get_read(hash, key, now).is_some() {
            count += 1;
        }
    }
    Ok(Reply::Int(count))
}

fn type_cmd(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CommandResult {
    let now = ctx.now_ms;
    let (shard, hash) = ctx.shard(&argv[1]);
    let name = shard
        .get_read(hash, &argv[1], now)
        .map_or("none", |e| e.value().type_name());
    Ok(Reply::status(name))
}

/// Glob filter shared by KEYS and SCAN; `*` alone matches everything and is skipped.
struct Pattern<'a>(Option<&'a [u8]>);

impl<'a> Pattern<'a> {
    fn new(pattern: &'a [u8]) -> Pattern<'a> {
        Pattern((pattern != b"*").then_some(pattern))
    }

    fn matches(&self, key: &[u8]) -> bool {
        self.0.is_none_or(|p| glob_match(p, key, false))
    }
}

fn keys(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CommandResult {
    let now = ctx.now_ms;
    let db = ctx.db();
    let pattern = Pattern::new(&argv[1]);
    let mut out = Vec::new();
    ctx.for_each_shard(db, |_, shard| {
        for pos in 0..shard.slot_count() {
            // Expired keys are skipped, not deleted (as Redis 7.2's KEYS does).
            let Some(entry) = shard.entry_at(pos) else {
                continue;
            };
            if !entry.is_expired(now) && pattern.matches(entry.key()) {
                out.push(Reply::Bulk(Bytes::copy_from_slice(entry.key())));
            }
        }
    });
    Ok(Reply::Array(out))
}

struct ScanOptions<'a> {
    count: usize,
    pattern: Pattern<'a>,
    type_name: Option<&'a [u8]>,
}

/// Parses a SCAN cursor the way Redis's `strtoul`-based parser does: optional sign, decimal
/// digits, no leading space, nothing after (C string: stops at a NUL byte); a negative value
/// wraps; the empty string is cursor 0.
pub(crate) fn parse_scan_cursor(arg: &[u8]) -> Result<u64, CommandError> {
    let invalid = || CommandError::err("invalid cursor");
    let arg = &arg[..arg.iter().position(|&b| b == 0).unwrap_or(arg.len())];
    let Some(&first) = arg.first() else {
        return Ok(0);
    };
    if matches!(first, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r') {
        return Err(invalid());
    }
    let (negative, digits) = match first {
        b'-' => (true, &arg[1..]),
        b'+' => (false, &arg[1..]),
        _ => (false, arg),
    };
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return Err(invalid());
    }
    let mut value: u64 = 0;
    for &d in digits {
        value = value
            .checked_mul(10)
            .and_then(|v| v.checked_add(u64::from(d - b'0')))
            .ok_or_else(invalid)?;
    }
    Ok(if negative {
        value.wrapping_neg()
    } else {
        value
    })
}

fn parse_scan_options(argv: &[Bytes]) -> Result<ScanOptions<'_>, CommandError> {
    let mut opts = ScanOptions {
        count: 10,
        pattern: Pattern(None),
        type_name: None,
    };
    let mut i = 2;
    while i < argv.len() {
        let Some(value) = argv.get(i + 1) else {
            return Err(CommandError::Syntax);
        };
        if is(&argv[i], "count") {
            let count = parse_i64(value)?;
            if count < 1 {
                return Err(CommandError::Syntax);
            }
            opts.count = usize::try_from(count).unwrap_or(usize::MAX);
        } else if is(&argv[i], "match") {
            opts.pattern = Pattern::new(value);
        } else if is(&argv[i], "type") {
            // Redis 7.2 accepts unknown type names (they match nothing).
            opts.type_name = Some(value);
        } else {
            return Err(CommandError::Syntax);
        }
        i += 2;
    }
    Ok(opts)
}

/// Progress of one SCAN call.
struct ScanState {
    /// Live entries seen (before MATCH/TYPE filtering), as Redis counts toward COUNT.
    sampled: usize,
    visited: usize,
    keys: Vec<Reply>,
}

/// Visits up to `slots_max` slots of `shard` from `pos`; returns the next position, or `None`
/// when the shard's end was reached. Expired entries met on the way are deleted.
fn scan_shard(
    shard: &mut Shard,
    pos: usize,
    slots_max: usize,
    opts: &ScanOptions<'_>,
    count: usize,
    now_ms: u64,
    state: &mut ScanState,
) -> Option<usize> {
    let end = shard.slot_count();
    let mut pos = pos;
    let mut expired = Vec::new();
    let stop = pos.saturating_add(slots_max).min(end);
    while pos < stop && state.sampled < count {
        if let Some(entry) = shard.entry_at(pos) {
            state.sampled += 1;
            if entry.is_expired(now_ms) {
                // A replica keeps keys past their deadline until the primary deletes them.
                if shard.tunables.expiry.past_deadline()
                    == crate::keyspace::expiry::PastDeadline::Expire
                {
                    expired.push(pos);
                }
            } else if scan_wants(entry, opts) {
                state
                    .keys
                    .push(Reply::Bulk(Bytes::copy_from_slice(entry.key())));
            }
        }
        state.visited += 1;
        pos += 1;
    }
    for at in expired {
        if shard.remove_at(at).is_some() {
            shard.stats.expired += 1;
        }
    }
    (pos < end).then_some(pos)
}

fn scan_wants(entry: &Entry, opts: &ScanOptions<'_>) -> bool {
    opts.type_name
        .is_none_or(|t| t.eq_ignore_ascii_case(entry.value().type_name().as_bytes()))
        && opts.pattern.matches(entry.key())
}

fn scan(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CommandResult {
    let cursor = parse_scan_cursor(&argv[1])?;
    let opts = parse_scan_options(argv)?;
    let now = ctx.now_ms;
    let db = ctx.db();
    let shards = ctx.state.keyspace.shards_per_db();
    let shards_u64 = shards as u64;
    let mut shard = (cursor % shards_u64) as usize;
    let mut pos = usize::try_from(cursor / shards_u64).unwrap_or(usize::MAX);
    let visits_max = opts.count.saturating_mul(SCAN_VISITS_PER_COUNT);
    let mut state = ScanState {
        sampled: 0,
        visited: 0,
        keys: Vec::new(),
    };
    while shard < shards {
        let spent = state.sampled >= opts.count || state.visited >= visits_max;
        let slots_max = SCAN_SLOTS_PER_LOCK.min(visits_max - state.visited.min(visits_max));
        // With the budget spent, still step over shards with nothing left, so that a scan whose
        // remaining shards are empty ends with cursor 0 (as Redis's does on a small table).
        let next = ctx.with_shard(ShardId { db, shard }, |s| match spent {
            true => (pos < s.slot_count()).then_some(pos),
            false => scan_shard(s, pos, slots_max, &opts, opts.count, now, &mut state),
        });
        match next {
            Some(next) if spent => {
                pos = next;
                break;
            }
            Some(next) => pos = next,
            None => {
                shard += 1;
                pos = 0;
            }
        }
    }
    let next_cursor = if shard >= shards {
        0
    } else {
        // Positions are slab slots (< 2^32) and shard counts are small: this cannot overflow.
        (pos as u64)
            .saturating_mul(shards_u64)
            .saturating_add(shard as u64)
    };
    Ok(Reply::Array(vec![
        Reply::Bulk(Bytes::from(next_cursor.to_string())),
        Reply::Array(state.keys),
    ]))
}

/// A small xorshift generator seeded per call; RANDOMKEY needs spread, not cryptography.
struct Rng(u64);

impl Rng {
    fn new(now_ms: u64) -> Rng {
        use std::hash::BuildHasher;
        use std::sync::atomic::{AtomicU64, Ordering};
        static CALLS: AtomicU64 = AtomicU64::new(0);
        let seed = foldhash::fast::RandomState::default()
            .hash_one((now_ms, CALLS.fetch_add(1, Ordering::Relaxed)));
        Rng(seed | 1)
    }

    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % n.max(1) as u64) as usize
    }
}

/// A live key of `shard` picked at random: random probes first, then a walk from a random slot.
fn random_key_in(shard: &Shard, rng: &mut Rng, now_ms: u64) -> Option<Bytes> {
    let slots = shard.slot_count();
    if shard.is_empty() || slots == 0 {
        return None;
    }
    let live = |pos: usize| {
        shard
            .entry_at(pos)
            .filter(|e| !e.is_expired(now_ms))
            .map(|e| Bytes::copy_from_slice(e.key()))
    };
    for _ in 0..RANDOM_PROBES_MAX {
        if let Some(key) = live(rng.below(slots)) {
            return Some(key);
        }
    }
    let start = rng.below(slots);
    (0..slots).find_map(|i| live((start + i) % slots))
}

fn randomkey(ctx: &mut Ctx<'_>, _argv: &[Bytes]) -> CommandResult {
    let now = ctx.now_ms;
    let db = ctx.db();
    let mut rng = Rng::new(now);
    let mut lens = Vec::new();
    ctx.for_each_shard(db, |_, shard| lens.push(shard.len()));
    let total: usize = lens.iter().sum();
    if total == 0 {
        return Ok(Reply::Nil);
    }
    // Pick shards weighted by their key counts so every key is about equally likely.
    for _ in 0..RANDOM_SHARD_TRIES_MAX {
        let mut target = rng.below(total);
        let shard = lens.iter().position(|&len| {
            if target < len {
                return true;
            }
            target -= len;
            false
        });
        let Some(shard) = shard else { break };
        if let Some(key) =
            ctx.with_shard(ShardId { db, shard }, |s| random_key_in(s, &mut rng, now))
        {
            return Ok(Reply::Bulk(key));
        }
    }
    let mut found = None;
    ctx.for_each_shard(db, |_, s| {
        if found.is_none() {
            found = random_key_in(s, &mut rng, now);
        }
    });
    Ok(found.map_or(Reply::Nil, Reply::Bulk))
}

/// Whether RENAMENX may replace an existing destination.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Overwrite {
    Allowed,
    Refused,
}

fn rename(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CommandResult {
    rename_generic(ctx, argv, Overwrite::Allowed)
}

fn renamenx(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CommandResult {
    rename_generic(ctx, argv, Overwrite::Refused)
}

fn rename_generic(ctx: &mut Ctx<'_>, argv: &[Bytes], overwrite: Overwrite) -> CommandResult {
    let now = ctx.now_ms;
    let db = ctx.db();
    let (src, dst) = (&argv[1], &argv[2]);
    let (shard, hash) = ctx.shard(src);
    if shard.get_mut(hash, src, now).is_none() {
        return Err(CommandError::NoSuchKey);
    }
    let done = match overwrite {
        Overwrite::Allowed => Reply::Ok,
        Overwrite::Refused => Reply::Int(1),
    };
    if src == dst {
        return Ok(if overwrite == Overwrite::Refused {
            Reply::Int(0)
        } else {
            done
        });
    }
    let (dst_shard, dst_hash) = ctx.shard(dst);
    if overwrite == Overwrite::Refused && dst_shard.contains(dst_hash, dst, now) {
        return Ok(Reply::Int(0));
    }
    let (shard, hash) = ctx.shard(src);
    let Some(entry) = shard.remove(hash, src, now) else {
        return Err(CommandError::NoSuchKey);
    };
    let (dst_shard, dst_hash) = ctx.shard(dst);
    let moved = rekeyed(entry, dst, dst_shard.arena());
    let created = dst_shard.insert_entry(dst_hash, moved, now).is_none();
    ctx.key_changed(db, src);
    ctx.key_changed(db, dst);
    ctx.notify(notify::GENERIC, "rename_from", db, src);
    if created {
        ctx.notify(notify::NEW, "new", db, dst);
    }
    ctx.notify(notify::GENERIC, "rename_to", db, dst);
    Ok(done)
}

/// The same value, deadline and access metadata under another key name, in the destination
/// shard's arena.
fn rekeyed(entry: Entry, key: &[u8], arena: &Arena) -> Entry {
    entry.with_key(key, arena)
}

/// A database argument as Redis's `getIntFromObjectOrReply` reads it (32-bit), then checked
/// against the configured number of databases.
fn parse_db(ctx: &Ctx<'_>, arg: &[u8]) -> Result<usize, CommandError> {
    let n = parse_i64(arg)?;
    let n = i32::try_from(n).map_err(|_| {
        CommandError::err("value is out of range, value must between -2147483648 and 2147483647")
    })?;
    usize::try_from(n)
        .ok()
        .filter(|&db| db < ctx.state.keyspace.databases())
        .ok_or(CommandError::DbIndex)
}

/// A database argument for key specs: `None` if unusable (the command then replies the error).
fn db_arg(arg: &[u8]) -> Option<usize> {
    let n = i32::try_from(parse_i64(arg).ok()?).ok()?;
    usize::try_from(n).ok()
}

fn move_keys(argv: &[Bytes]) -> Vec<(Option<usize>, usize)> {
    let mut keys = vec![(None, 1)];
    if let Some(db) = argv.get(2).and_then(|a| db_arg(a)) {
        keys.push((Some(db), 1));
    }
    keys
}

fn copy_keys(argv: &[Bytes]) -> Vec<(Option<usize>, usize)> {
    match parse_copy_options(argv, |a| db_arg(a).ok_or(())) {
        Ok((dst_db, _)) => vec![(None, 1), (dst_db, 2)],
        Err(_) => vec![(None, 1)],
    }
}

fn sameobject() -> CommandError {
    CommandError::err("source and destination objects are the same")
}

fn move_cmd(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CommandResult {
    if ctx.state.cluster.enabled() {
        return Err(CommandError::err("MOVE is not allowed in cluster mode"));
    }
    let now = ctx.now_ms;
    let src_db = ctx.db();
    let key = &argv[1];
    let dst_db = parse_db(ctx, &argv[2])?;
    if dst_db == src_db {
        return Err(sameobject());
    }
    let (shard, hash) = ctx.shard_in(src_db, key);
    if shard.get_mut(hash, key, now).is_none() {
        return Ok(Reply::Int(0));
    }
    let (dst_shard, dst_hash) = ctx.shard_in(dst_db, key);
    if dst_shard.contains(dst_hash, key, now) {
        return Ok(Reply::Int(0));
    }
    let (shard, hash) = ctx.shard_in(src_db, key);
    let Some(entry) = shard.remove(hash, key, now) else {
        return Ok(Reply::Int(0));
    };
    let (dst_shard, dst_hash) = ctx.shard_in(dst_db, key);
    dst_shard.insert_entry(dst_hash, entry, now);
    ctx.key_changed(src_db, key);
    ctx.key_changed(dst_db, key);
    ctx.notify(notify::GENERIC, "move_from", src_db, key);
    ctx.notify(notify::NEW, "new", dst_db, key);
    ctx.notify(notify::GENERIC, "move_to", dst_db, key);
    Ok(Reply::Int(1))
}

/// Whether COPY may replace an existing destination.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Replace {
    Yes,
    No,
}

/// COPY's options, parsed in Redis's order (a bad DB fails before later options are read).
/// `db` turns a DB argument into a database index or an error.
fn parse_copy_options<E>(
    argv: &[Bytes],
    db: impl Fn(&[u8]) -> Result<usize, E>,
) -> Result<(Option<usize>, Replace), Option<E>> {
    let mut dst_db = None;
    let mut replace = Replace::No;
    let mut j = 3;
    while j < argv.len() {
        if is(&argv[j], "replace") {
            replace = Replace::Yes;
        } else if is(&argv[j], "db") && j + 1 < argv.len() {
            dst_db = Some(db(&argv[j + 1]).map_err(Some)?);
            j += 1;
        } else {
            return Err(None);
        }
        j += 1;
    }
    Ok((dst_db, replace))
}

fn copy(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CommandResult {
    let now = ctx.now_ms;
    let src_db = ctx.db();
    let (dst_db, replace) = {
        let ctx_ref = &*ctx;
        parse_copy_options(argv, |arg| parse_db(ctx_ref, arg))
            .map_err(|e| e.unwrap_or(CommandError::Syntax))?
    };
    let dst_db = dst_db.unwrap_or(src_db);
    if ctx.state.cluster.enabled() && dst_db != src_db {
        return Err(CommandError::err(
            "Copying to another database is not allowed in cluster mode",
        ));
    }
    let (src, dst) = (&argv[1], &argv[2]);
    if src_db == dst_db && src == dst {
        return Err(sameobject());
    }
    let (shard, hash) = ctx.shard_in(src_db, src);
    let Some(entry) = shard.get_read(hash, src, now) else {
        return Ok(Reply::Int(0));
    };
    let (value, deadline) = (entry.to_value(), entry.expire_at_ms());
    let (dst_shard, dst_hash) = ctx.shard_in(dst_db, dst);
    if replace == Replace::No && dst_shard.contains(dst_hash, dst, now) {
        return Ok(Reply::Int(0));
    }
    let created = dst_shard
        .insert(dst_hash, dst, value, deadline, now)
        .is_none();
    ctx.key_changed(dst_db, dst);
    if created {
        ctx.notify(notify::NEW, "new", dst_db, dst);
    }
    ctx.notify(notify::GENERIC, "copy_to", dst_db, dst);
    Ok(Reply::Int(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scan_cursor_parses_like_strtoul() {
        assert_eq!(parse_scan_cursor(b"0").unwrap(), 0);
        assert_eq!(parse_scan_cursor(b"").unwrap(), 0);
        assert_eq!(parse_scan_cursor(b"+7").unwrap(), 7);
        assert_eq!(parse_scan_cursor(b"-1").unwrap(), u64::MAX);
        assert_eq!(
            parse_scan_cursor(b"18446744073709551615").unwrap(),
            u64::MAX
        );
        assert_eq!(parse_scan_cursor(b"5\x00junk").unwrap(), 5);
        for bad in [
            &b"18446744073709551616"[..],
            b" 1",
            b"1 ",
            b"abc",
            b"-",
            b"+",
            b"0x10",
        ] {
            assert!(parse_scan_cursor(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn db_args_for_key_specs() {
        assert_eq!(db_arg(b"3"), Some(3));
        assert_eq!(db_arg(b"-1"), None);
        assert_eq!(db_arg(b"4294967296"), None);
        assert_eq!(db_arg(b"x"), None);
        let argv: Vec<Bytes> = ["copy", "a", "b", "replace", "db", "2"]
            .iter()
            .map(|s| Bytes::from(*s))
            .collect();
        assert_eq!(copy_keys(&argv), vec![(None, 1), (Some(2), 2)]);
        let argv: Vec<Bytes> = ["copy", "a", "b", "db"]
            .iter()
            .map(|s| Bytes::from(*s))
            .collect();
        assert_eq!(copy_keys(&argv), vec![(None, 1)]);
    }

    #[test]
    fn rng_stays_in_range() {
        let mut rng = Rng::new(1);
        assert!((0..1000).all(|_| rng.below(7) < 7));
        assert_eq!(rng.below(0), 0);
    }
}
